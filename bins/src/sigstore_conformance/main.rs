//! `airlock-sigstore-conformance`: `airlock_sigstore::verify` behind the client command line
//! of the Sigstore conformance suite (`sigstore/sigstore-conformance`, `docs/cli_protocol.md`):
//!
//! ```text
//! airlock-sigstore-conformance verify-bundle --bundle B --certificate-identity I \
//!     --certificate-oidc-issuer O [--trusted-root R] FILE_OR_DIGEST
//! ```
//!
//! `FILE_OR_DIGEST` is a digest when it is `sha256:` and 64 hex digits and no file of that
//! name exists; otherwise a path. Without `--trusted-root` the public-good root snapshot
//! shipped in `sigstore-trust-root` is used (the protocol's default instance); nothing is
//! ever fetched. Not supported, exit 2: `sign-bundle` (airlock never signs with Sigstore),
//! `--key` (managed-key bundles: airlock's policy names identities), `--staging`.
//! Exit 0 when the bundle verifies, 1 when it is refused, 2 on usage errors and unsupported
//! requests. The reason goes to stderr; the verified identity to stdout. See
//! docs/CONFORMANCE.md.

#![forbid(unsafe_code)]

use airlock_sigstore::{verify, ArtifactRef, IdentityPolicy, PUBLIC_GOOD_TRUSTED_ROOT_SNAPSHOT};
use std::path::Path;
use std::process::ExitCode;

const NAME: &str = "airlock-sigstore-conformance";

/// The parsed `verify-bundle` request.
struct VerifyArgs {
    bundle: String,
    identity: String,
    issuer: String,
    trusted_root: Option<String>,
    artifact: String,
}

enum Failure {
    Usage(String),
    Refused(String),
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Refused(why)) => {
            eprintln!("{NAME}: refused: {why}");
            ExitCode::from(1)
        }
        Err(Failure::Usage(why)) => {
            eprintln!("{NAME}: {why}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &[String]) -> Result<(), Failure> {
    match args.first().map(String::as_str) {
        Some("verify-bundle") => verify_bundle(parse_verify(&args[1..])?),
        Some("sign-bundle") => {
            Err(Failure::Usage("sign-bundle is not supported: airlock only verifies".into()))
        }
        Some(other) => Err(Failure::Usage(format!("unknown subcommand {other:?}"))),
        None => Err(Failure::Usage(
            "usage: verify-bundle --bundle B --certificate-identity I \
             --certificate-oidc-issuer O [--trusted-root R] FILE_OR_DIGEST"
                .into(),
        )),
    }
}

fn parse_verify(args: &[String]) -> Result<VerifyArgs, Failure> {
    let (mut bundle, mut identity, mut issuer, mut trusted_root, mut artifact) =
        (None, None, None, None, None);
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value =
            |name: &str| it.next().cloned().ok_or_else(|| Failure::Usage(format!("{name} needs a value")));
        match arg.as_str() {
            "--bundle" => bundle = Some(value(arg)?),
            "--certificate-identity" => identity = Some(value(arg)?),
            "--certificate-oidc-issuer" => issuer = Some(value(arg)?),
            "--trusted-root" => trusted_root = Some(value(arg)?),
            "--key" => {
                return Err(Failure::Usage(
                    "--key (managed-key bundles) is not supported: airlock's policy names a signer identity"
                        .into(),
                ))
            }
            "--staging" => {
                return Err(Failure::Usage("--staging is not supported: verification is offline".into()))
            }
            flag if flag.starts_with("--") => return Err(Failure::Usage(format!("unknown option {flag}"))),
            positional if artifact.is_none() => artifact = Some(positional.to_string()),
            extra => return Err(Failure::Usage(format!("unexpected argument {extra:?}"))),
        }
    }
    let missing = |name: &str| Failure::Usage(format!("{name} is required"));
    Ok(VerifyArgs {
        bundle: bundle.ok_or_else(|| missing("--bundle"))?,
        identity: identity.ok_or_else(|| missing("--certificate-identity"))?,
        issuer: issuer.ok_or_else(|| missing("--certificate-oidc-issuer"))?,
        trusted_root,
        artifact: artifact.ok_or_else(|| missing("FILE_OR_DIGEST"))?,
    })
}

/// `sha256:<64 hex>` that is not a file on disk, per the protocol.
fn parse_digest(arg: &str) -> Option<[u8; 32]> {
    let hex_part = arg.strip_prefix("sha256:")?;
    if hex_part.len() != 64 || Path::new(arg).exists() {
        return None;
    }
    let mut digest = [0u8; 32];
    hex::decode_to_slice(hex_part, &mut digest).ok()?;
    Some(digest)
}

fn read(path: &str, what: &str) -> Result<Vec<u8>, Failure> {
    std::fs::read(path).map_err(|e| Failure::Usage(format!("cannot read {what} {path}: {e}")))
}

fn verify_bundle(args: VerifyArgs) -> Result<(), Failure> {
    let bundle = read(&args.bundle, "bundle")?;
    let root = match &args.trusted_root {
        Some(path) => read(path, "trusted root")?,
        None => PUBLIC_GOOD_TRUSTED_ROOT_SNAPSHOT.as_bytes().to_vec(),
    };
    let bytes;
    let artifact = match parse_digest(&args.artifact) {
        Some(digest) => ArtifactRef::Sha256(digest),
        None => {
            bytes = read(&args.artifact, "artifact")?;
            ArtifactRef::Bytes(&bytes)
        }
    };
    let policy = IdentityPolicy::exact(args.issuer, args.identity);
    let verified = verify(&bundle, artifact, &root, &policy).map_err(|e| Failure::Refused(e.to_string()))?;
    println!(
        "OK: {} signed by {} (issuer {}), log index {}",
        args.artifact, verified.san, verified.issuer, verified.log_index
    );
    Ok(())
}
