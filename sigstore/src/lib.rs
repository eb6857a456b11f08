//! Offline verification of Sigstore bundles for airlock.
//!
//! One entry point, [`verify`]: a Sigstore bundle (protobuf-specs JSON, media types
//! v0.1 to v0.3, a message signature or a DSSE envelope holding an in-toto statement),
//! the artifact (its bytes or its SHA-256 digest), a Sigstore `trusted_root.json` chosen
//! by the caller, and an [`IdentityPolicy`]. Nothing is fetched, ever: every key,
//! certificate authority and log comes from the given trusted root.
//!
//! The checks themselves are those of the `sigstore-verify` crate (sigstore-rust), which
//! follows the Sigstore client specification: the leaf certificate chains to a Fulcio CA
//! of the trusted root valid at the signing time (the Rekor entry's integrated time, or an
//! RFC 3161 timestamp), its SCT verifies against a CT log of the trusted root, the Rekor
//! entry's inclusion proof and signed checkpoint verify against a log of the trusted root,
//! the entry describes this bundle, and the signature covers exactly the artifact (or the
//! DSSE statement names the artifact's digest as a subject). This crate adds the identity
//! policy (exact issuer; exact or glob SAN), typed errors with one variant per check, and a
//! crypto provider on the RustCrypto crates so that no C code is built.
//!
//! This is a separate crate rather than a module of `airlock-core` because its dependency
//! tree (X.509, CMS, webpki, jiff, tracing) is large and only publish, accept and import
//! need it; see `README.md` beside this crate.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod provider;

use sigstore_verify::bundle::Error as BundleError;
use sigstore_verify::types::{Bundle, Sha256Hash, SignatureContent, VerificationMaterialContent};
use sigstore_verify::{CertificateError, Error as LibError, TransparencyLogError};
use time::OffsetDateTime;

/// The bundle media types accepted (protobuf-specs bundle v0.1, v0.2 and both spellings of v0.3).
pub const SUPPORTED_MEDIA_TYPES: [&str; 4] = [
    "application/vnd.dev.sigstore.bundle+json;version=0.1",
    "application/vnd.dev.sigstore.bundle+json;version=0.2",
    "application/vnd.dev.sigstore.bundle+json;version=0.3",
    "application/vnd.dev.sigstore.bundle.v0.3+json",
];

/// The trusted root of Sigstore's public-good instance as shipped inside `sigstore-trust-root`
/// 0.15.1 (a snapshot of `https://tuf-repo-cdn.sigstore.dev`, never refreshed).
///
/// Only for the conformance client, whose protocol means "public good" when no trusted root
/// is given. airlock itself never falls back to it: the importer's side chooses the root.
pub const PUBLIC_GOOD_TRUSTED_ROOT_SNAPSHOT: &str =
    sigstore_verify::trust_root::SIGSTORE_PRODUCTION_TRUSTED_ROOT;

/// The artifact a bundle is verified against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArtifactRef<'a> {
    /// The artifact's bytes.
    Bytes(&'a [u8]),
    /// The artifact's SHA-256 digest, when the bytes are not at hand (or too large to hold).
    ///
    /// Enough for every bundle Sigstore's public instance writes (ECDSA P-256 with
    /// SHA-256, or DSSE); a bundle whose signature scheme needs the whole message
    /// (Ed25519 message signatures) is refused with [`SigstoreError::Unsupported`].
    Sha256([u8; 32]),
}

/// How the certificate's subject alternative name (SAN) must look.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SanPattern {
    /// The SAN equals this string (an e-mail address or a URI), byte for byte.
    Exact(String),
    /// The SAN matches this pattern, in which each `*` stands for any run of characters
    /// that contains no `/` (possibly empty); every other character matches itself.
    /// `https://github.com/acme/tool/.github/workflows/release.yml@refs/tags/*` matches
    /// any tag of that workflow without a `/` in its name.
    Glob(String),
}

impl SanPattern {
    /// Whether `san` satisfies this pattern.
    pub fn matches(&self, san: &str) -> bool {
        match self {
            SanPattern::Exact(expected) => expected == san,
            SanPattern::Glob(pattern) => glob_matches(pattern.as_bytes(), san.as_bytes()),
        }
    }
}

impl std::fmt::Display for SanPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SanPattern::Exact(s) => f.write_str(s),
            SanPattern::Glob(s) => write!(f, "{s} (pattern)"),
        }
    }
}

/// `*` matches any run of bytes without `/`; everything else matches itself.
fn glob_matches(pattern: &[u8], text: &[u8]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some((b'*', rest)) => {
            // Try every length of the run the star absorbs, stopping at the first `/`.
            let run = text.iter().position(|&b| b == b'/').unwrap_or(text.len());
            (0..=run).any(|n| glob_matches(rest, &text[n..]))
        }
        Some((&c, rest)) => text.first() == Some(&c) && glob_matches(rest, &text[1..]),
    }
}

/// Who must have signed: the OIDC issuer recorded in the Fulcio certificate, and its SAN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityPolicy {
    /// The certificate's OIDC issuer must equal this exactly, e.g.
    /// `https://token.actions.githubusercontent.com`.
    pub issuer: String,
    /// The certificate's SAN must match this.
    pub san: SanPattern,
}

impl IdentityPolicy {
    /// A policy naming one exact issuer and one exact SAN.
    pub fn exact(issuer: impl Into<String>, san: impl Into<String>) -> Self {
        IdentityPolicy { issuer: issuer.into(), san: SanPattern::Exact(san.into()) }
    }

    /// A policy naming one exact issuer and a SAN pattern (see [`SanPattern::Glob`]).
    pub fn glob(issuer: impl Into<String>, san_pattern: impl Into<String>) -> Self {
        IdentityPolicy { issuer: issuer.into(), san: SanPattern::Glob(san_pattern.into()) }
    }

    /// Checks a verified bundle's certificate identity against this policy.
    pub fn check(&self, v: &VerifiedSigstore) -> Result<(), SigstoreError> {
        if v.issuer != self.issuer || v.san.is_empty() || !self.san.matches(&v.san) {
            return Err(SigstoreError::IdentityMismatch {
                expected_issuer: self.issuer.clone(),
                expected_san: self.san.to_string(),
                found_issuer: v.issuer.clone(),
                found_san: v.san.clone(),
            });
        }
        Ok(())
    }
}

/// What was signed in the bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignedContent {
    /// A signature over the artifact's bytes (hashedrekord entry).
    MessageSignature,
    /// A DSSE envelope holding an in-toto statement that names the artifact as a subject.
    DsseInToto,
}

/// The checks that ran and passed. [`verify`] only returns when each of them holds;
/// the record is there so that callers can show (and audit) what was established.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChecksRun {
    /// The leaf certificate chains to a Fulcio CA of the trusted root, has the
    /// code-signing usage, and was valid at every verified signing time.
    pub certificate_chain: bool,
    /// The certificate's embedded SCT verifies against a CT log of the trusted root.
    pub sct: bool,
    /// The Rekor entry's inclusion proof and signed checkpoint (or, for entries that
    /// have none, inclusion promise) verify against a log of the trusted root, and the
    /// entry describes this bundle.
    pub tlog: bool,
    /// The signature covers the artifact (or the DSSE statement names its digest).
    pub signature: bool,
    /// The certificate's issuer and SAN satisfy the [`IdentityPolicy`].
    pub identity: bool,
    /// How many authenticated signing times were used (integrated times and RFC 3161 timestamps).
    pub verified_timestamps: usize,
}

/// The result of a successful [`verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedSigstore {
    /// The bundle's media type, as written in the bundle.
    pub media_type: String,
    /// What was signed.
    pub content: SignedContent,
    /// The certificate's OIDC issuer.
    pub issuer: String,
    /// The certificate's SAN (an e-mail address or a URI).
    pub san: String,
    /// The Rekor entry's integrated time, when the entry has one (Rekor v1); Rekor v2
    /// entries rely on RFC 3161 timestamps instead.
    pub integrated_time: Option<OffsetDateTime>,
    /// The index of the entry in its Rekor log.
    pub log_index: u64,
    /// The checks that ran.
    pub checks: ChecksRun,
}

/// Why a bundle was refused: one variant per check.
///
/// The strings carry sigstore-verify's detail for people to read, not to match on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigstoreError {
    /// The bundle is not valid JSON, or not a well-formed Sigstore bundle.
    #[error("malformed Sigstore bundle: {0}")]
    BundleMalformed(String),
    /// The bundle's media type is not one of [`SUPPORTED_MEDIA_TYPES`].
    #[error("unsupported Sigstore bundle media type {0:?}")]
    UnsupportedMediaType(String),
    /// The bundle is well formed but uses something this verifier does not (a managed
    /// key instead of a certificate, a DSSE payload other than in-toto, a digest for a
    /// scheme that needs the bytes, ...).
    #[error("unsupported Sigstore bundle: {0}")]
    Unsupported(String),
    /// The trusted root is not valid JSON or cannot be used.
    #[error("unusable Sigstore trusted root: {0}")]
    TrustedRoot(String),
    /// The certificate does not chain to a Fulcio CA listed in the trusted root (or is
    /// malformed, or lacks the code-signing usage).
    #[error("certificate chain: {0}")]
    CertificateChain(String),
    /// The signing time lies outside the certificate's validity, or outside the validity
    /// of every Fulcio CA of the trusted root.
    #[error("certificate validity: {0}")]
    CertificateValidity(String),
    /// The certificate's SCT is missing or does not verify.
    #[error("signed certificate timestamp: {0}")]
    Sct(String),
    /// The Rekor inclusion proof does not lead to the checkpoint's root hash.
    #[error("transparency log inclusion proof: {0}")]
    InclusionProof(String),
    /// The Rekor checkpoint is malformed or not signed by a log of the trusted root.
    #[error("transparency log checkpoint: {0}")]
    Checkpoint(String),
    /// Any other transparency log check: an unknown log, a bad inclusion promise, an
    /// entry that does not describe this bundle, an integrated time in the future.
    #[error("transparency log entry: {0}")]
    TlogEntry(String),
    /// An RFC 3161 timestamp does not verify, or no trusted signing time exists.
    #[error("timestamp: {0}")]
    Timestamp(String),
    /// The signature does not verify over the artifact's bytes (or the DSSE payload).
    #[error("signature: {0}")]
    Signature(String),
    /// The bundle is for other bytes: its message digest, or the DSSE statement's
    /// subject digests, do not match the artifact.
    #[error("artifact mismatch: {0}")]
    ArtifactMismatch(String),
    /// Everything verified, but the certificate names another signer.
    #[error(
        "identity mismatch: expected issuer {expected_issuer} and SAN {expected_san}, \
         found issuer {found_issuer} and SAN {found_san}"
    )]
    IdentityMismatch {
        /// The issuer the policy requires.
        expected_issuer: String,
        /// The SAN (or pattern) the policy requires.
        expected_san: String,
        /// The certificate's issuer (empty if it has none).
        found_issuer: String,
        /// The certificate's SAN (empty if it has none).
        found_san: String,
    },
}

/// Verifies a Sigstore bundle offline; see the crate documentation for the checks.
///
/// `bundle_json` is the bundle (`*.sigstore.json`), `trusted_root_json` a Sigstore
/// `trusted_root.json` (protobuf-specs `TrustedRoot`). Only certificate-based
/// (keyless) bundles are accepted. The identity policy is checked last, after every
/// cryptographic check has passed, so an [`SigstoreError::IdentityMismatch`] always
/// reports a certificate that is otherwise valid.
pub fn verify(
    bundle_json: &[u8],
    artifact: ArtifactRef<'_>,
    trusted_root_json: &[u8],
    policy: &IdentityPolicy,
) -> Result<VerifiedSigstore, SigstoreError> {
    let mut v = verify_any_identity(bundle_json, artifact, trusted_root_json)?;
    policy.check(&v)?;
    v.checks.identity = true;
    Ok(v)
}

/// [`verify`] without the identity policy: every cryptographic check
/// (certificate chain to a Fulcio CA valid at signing time, SCT, the
/// transparency log entry, its inclusion proof and checkpoint, the
/// signature over the artifact) runs, and the certificate's issuer and SAN
/// are reported for the caller's policy (`checks.identity` is false). A
/// registry uses this: who may sign is the importer's policy.
pub fn verify_any_identity(
    bundle_json: &[u8],
    artifact: ArtifactRef<'_>,
    trusted_root_json: &[u8],
) -> Result<VerifiedSigstore, SigstoreError> {
    provider::install();

    let bundle_text = std::str::from_utf8(bundle_json)
        .map_err(|e| SigstoreError::BundleMalformed(format!("not UTF-8: {e}")))?;
    let value: serde_json::Value =
        serde_json::from_str(bundle_text).map_err(|e| SigstoreError::BundleMalformed(e.to_string()))?;
    let media_type = match value.get("mediaType") {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(_) => return Err(SigstoreError::BundleMalformed("mediaType is not a string".into())),
        None => return Err(SigstoreError::BundleMalformed("no mediaType".into())),
    };
    if !SUPPORTED_MEDIA_TYPES.contains(&media_type.as_str()) {
        return Err(SigstoreError::UnsupportedMediaType(media_type));
    }
    drop(value);
    let bundle = Bundle::from_json(bundle_text).map_err(|e| SigstoreError::BundleMalformed(e.to_string()))?;
    match &bundle.verification_material.content {
        VerificationMaterialContent::PublicKey(_) => {
            return Err(SigstoreError::Unsupported(
                "the bundle is signed with a managed key, not a Fulcio certificate".into(),
            ))
        }
        VerificationMaterialContent::X509CertificateChain { certificates } if certificates.is_empty() => {
            return Err(SigstoreError::BundleMalformed("empty certificate chain".into()))
        }
        _ => {}
    }
    let content = match &bundle.content {
        SignatureContent::MessageSignature(_) => SignedContent::MessageSignature,
        SignatureContent::DsseEnvelope(_) => SignedContent::DsseInToto,
        #[allow(unreachable_patterns)]
        _ => return Err(SigstoreError::Unsupported("unknown signature content".into())),
    };
    let log_index = match bundle.verification_material.tlog_entries.as_slice() {
        [entry] => entry.log_index.get(),
        [] => return Err(SigstoreError::BundleMalformed("no transparency log entry".into())),
        _ => return Err(SigstoreError::BundleMalformed("more than one transparency log entry".into())),
    };

    let root_text = std::str::from_utf8(trusted_root_json)
        .map_err(|e| SigstoreError::TrustedRoot(format!("not UTF-8: {e}")))?;
    let root = sigstore_verify::trust_root::TrustedRoot::from_json(root_text)
        .map_err(|e| SigstoreError::TrustedRoot(e.to_string()))?;
    let verifier = sigstore_verify::Verifier::new(&root).map_err(map_error)?;

    // Identity is checked below, by us, so that glob patterns work and a mismatch
    // reports both claims; the library still runs every other check.
    let lib_policy = sigstore_verify::VerificationPolicy::any_identity();
    let result = match artifact {
        ArtifactRef::Bytes(bytes) => verifier.verify(bytes, &bundle, &lib_policy),
        ArtifactRef::Sha256(digest) => verifier.verify(Sha256Hash::new(digest), &bundle, &lib_policy),
    }
    .map_err(map_error)?;

    // The policy above asks for every check; refuse rather than trust a result that
    // says otherwise.
    if !result.certificate_verified() || !result.sct_verified() || !result.tlog_verified() {
        return Err(SigstoreError::Unsupported(format!(
            "verification skipped a check (certificate {}, SCT {}, log {})",
            result.certificate_verified(),
            result.sct_verified(),
            result.tlog_verified()
        )));
    }

    let found_issuer = result.issuer().unwrap_or_default().to_string();
    let found_san = result.identity().map(|s| s.as_str().to_string()).unwrap_or_default();

    let integrated_time = match result.integrated_time() {
        Some(t) => Some(
            OffsetDateTime::from_unix_timestamp(t.as_second())
                .map_err(|e| SigstoreError::TlogEntry(format!("integrated time out of range: {e}")))?,
        ),
        None => None,
    };
    Ok(VerifiedSigstore {
        media_type,
        content,
        issuer: found_issuer,
        san: found_san,
        integrated_time,
        log_index,
        checks: ChecksRun {
            certificate_chain: true,
            sct: true,
            tlog: true,
            signature: true,
            identity: false,
            verified_timestamps: result.verified_timestamps().len(),
        },
    })
}

/// Sorts sigstore-verify's errors into our one-variant-per-check errors.
fn map_error(e: LibError) -> SigstoreError {
    let detail = e.to_string();
    match e {
        LibError::IdentityMismatch { .. } | LibError::IssuerMismatch { .. } => {
            // The library is never given an identity policy; keep the detail anyway.
            SigstoreError::Unsupported(detail)
        }
        LibError::SignatureInvalid(_) => SigstoreError::Signature(detail),
        LibError::ArtifactMismatch(_) => SigstoreError::ArtifactMismatch(detail),
        LibError::UnsupportedArtifact(_) | LibError::UnsupportedBundle(_) => {
            SigstoreError::Unsupported(detail)
        }
        LibError::Certificate(c) => match c {
            CertificateError::NoValidAuthority { .. }
            | CertificateError::NotYetValid { .. }
            | CertificateError::Expired { .. } => SigstoreError::CertificateValidity(detail),
            CertificateError::Sct(_) => SigstoreError::Sct(detail),
            // webpki reports a leaf outside its validity at the signing time as a chain
            // error; only its debug name tells it apart.
            CertificateError::ChainInvalid(ref why)
                if why.contains("CertExpired") || why.contains("CertNotValidYet") =>
            {
                SigstoreError::CertificateValidity(detail)
            }
            _ => SigstoreError::CertificateChain(detail),
        },
        LibError::TransparencyLog(t) => match t {
            TransparencyLogError::InclusionProof(_) => SigstoreError::InclusionProof(detail),
            TransparencyLogError::Checkpoint(_) => SigstoreError::Checkpoint(detail),
            _ => SigstoreError::TlogEntry(detail),
        },
        LibError::Timestamp(_) => SigstoreError::Timestamp(detail),
        LibError::Bundle(
            BundleError::CheckpointRootMismatch
            | BundleError::MissingInclusionProof(_)
            | BundleError::LogIndexOutOfRange { .. },
        ) => SigstoreError::InclusionProof(detail),
        LibError::Bundle(BundleError::MissingCheckpoint) => SigstoreError::Checkpoint(detail),
        LibError::InvalidBundle(_) | LibError::Bundle(_) | LibError::Types(_) => {
            SigstoreError::BundleMalformed(detail)
        }
        LibError::InvalidTrustRoot(_) | LibError::TrustRoot(_) | LibError::TrustedCertificate(_) => {
            SigstoreError::TrustedRoot(detail)
        }
        LibError::Crypto(_) => SigstoreError::Signature(detail),
        _ => SigstoreError::BundleMalformed(detail),
    }
}

#[cfg(test)]
mod tests;
