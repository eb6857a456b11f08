//! `airlock key generate|show`.

use crate::exit::refused;
use crate::exit::usage;
use crate::io::{ensure_absent, read_input, write_new};
use crate::secrets::{
    ask, ask_pin, check_new_passphrase, key_error, key_file_options, load_key_file, source, token_error,
    NewKeyPassphraseArgs, PassphraseArgs,
};
use crate::steps::{check_airgap, transcript_step, StepLog};
use airlock_core::text::for_terminal;
use airlock_core::{PublicKey, Signer};
use airlock_keyceremony::shares::{self, ShareError};
use airlock_keyceremony::token::{self, TokenAlgorithm, TokenUri};
use airlock_keyceremony::{
    classify_key_file, decrypt_key_file, generate, write_key_file, write_public_key_file, KeyFileKind,
    PassphraseRequest,
};
use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use serde_json::json;
use std::path::{Path, PathBuf};

/// Key commands.
#[derive(Subcommand)]
pub enum KeyCommand {
    /// Generate an Ed25519 key: NAME.key (age-encrypted PKCS#8) and NAME.pub (PEM).
    Generate(GenerateArgs),
    /// Show a key's id, type and public key; works on .pub and .key files.
    Show(ShowArgs),
    /// Split a private key into Shamir shares, each encrypted to one age recipient.
    Split(SplitArgs),
    /// Restore a private key from enough Shamir shares.
    Combine(CombineArgs),
}

/// Arguments of `key split`.
#[derive(Args)]
pub struct SplitArgs {
    /// The encrypted private key file to back up.
    pub key: PathBuf,
    /// How many shares to make (n).
    #[arg(long)]
    pub shares: u8,
    /// How many shares restore the key (k).
    #[arg(long)]
    pub threshold: u8,
    /// One age X25519 recipient (age1...) per share, in share order.
    #[arg(long = "recipient", required = true)]
    pub recipients: Vec<String>,
    /// A new directory for share-1.age ... share-N.age.
    #[arg(long)]
    pub out_dir: PathBuf,
    #[command(flatten)]
    pub passphrase: PassphraseArgs,
    #[command(flatten)]
    pub common: super::ceremony::Common,
}

/// Arguments of `key combine`.
#[derive(Args)]
pub struct CombineArgs {
    /// Share files: age-encrypted (decrypted with --age-identity) or plain share JSON.
    #[arg(required = true)]
    pub shares: Vec<PathBuf>,
    /// An age identity file able to decrypt some of the shares (repeatable).
    /// `--identity` is an older spelling (a registry identity is another thing).
    #[arg(long = "age-identity", alias = "identity", value_name = "FILE")]
    pub identities: Vec<PathBuf>,
    /// Output name: writes NAME.key (encrypted with a new passphrase) and NAME.pub.
    #[arg(long, value_name = "NAME")]
    pub out: PathBuf,
    #[command(flatten)]
    pub passphrase: NewKeyPassphraseArgs,
    #[command(flatten)]
    pub common: super::ceremony::Common,
}

/// Arguments of `key generate`.
#[derive(Args)]
pub struct GenerateArgs {
    /// Output name: writes NAME.key and NAME.pub; neither may exist (with
    /// --token, only NAME.pub).
    #[arg(long, value_name = "NAME")]
    pub out: PathBuf,
    /// Generate the key inside a PKCS#11 token instead, under this URI
    /// (`pkcs11:token=LABEL;object=KEYNAME?module-path=MODULE.so`); the
    /// private key is never extractable, and the PIN is asked for like a
    /// passphrase.
    #[arg(long, value_name = "PKCS11_URI")]
    pub token: Option<String>,
    /// The token key's algorithm: p256 (every token) or ed25519.
    #[arg(long, value_enum, default_value = "p256", requires = "token")]
    pub algorithm: TokenKeyAlgorithm,
    /// Print the new key as JSON (docs/JSON.md) instead of its id.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub passphrase: NewKeyPassphraseArgs,
}

/// The algorithms `key generate --token` offers.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum TokenKeyAlgorithm {
    /// ECDSA P-256 with SHA-256.
    P256,
    /// Ed25519, where the token supports it.
    Ed25519,
}

/// Arguments of `key show`.
#[derive(Args)]
pub struct ShowArgs {
    /// A public key (PEM), an encrypted private key file, or a `pkcs11:`
    /// URI naming a key in a token.
    pub file: PathBuf,
    #[command(flatten)]
    pub passphrase: PassphraseArgs,
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs a key command.
pub fn run(cmd: KeyCommand) -> Result<()> {
    match cmd {
        KeyCommand::Generate(a) => generate_key(a),
        KeyCommand::Show(a) => show(a),
        KeyCommand::Split(a) => split(a),
        KeyCommand::Combine(a) => combine(a),
    }
}

fn share_error(e: ShareError) -> anyhow::Error {
    match e {
        // The operator gave too little or the wrong thing: usage (exit 2).
        // Shares that disagree or do not restore the key are refused (exit 1).
        ShareError::InvalidRecipient { .. }
        | ShareError::InvalidIdentity { .. }
        | ShareError::NoIdentity
        | ShareError::NoShares
        | ShareError::TooFewShares { .. }
        | ShareError::ThresholdTooSmall { .. }
        | ShareError::ThresholdAboveShares { .. } => usage(e.to_string()),
        other => refused(other.to_string()),
    }
}

fn split(a: SplitArgs) -> Result<()> {
    let now = super::now_or(a.common.at.as_deref())?;
    // A private key in the clear in memory: offline only, like a ceremony.
    check_airgap(a.common.allow_online)?;
    if a.recipients.len() != usize::from(a.shares) {
        return Err(usage(format!(
            "--shares {} needs exactly that many --recipient, got {}",
            a.shares,
            a.recipients.len()
        )));
    }
    if a.out_dir.exists() && std::fs::read_dir(&a.out_dir).map(|mut d| d.next().is_some()).unwrap_or(true) {
        return Err(usage(format!("{}: already exists and is not empty", a.out_dir.display())));
    }
    let signer = load_key_file(&a.key, &a.passphrase)?;
    let envelopes =
        shares::split(signer.signing_key().as_bytes(), a.threshold, a.shares).map_err(share_error)?;
    // Encrypt every share before writing any, so a bad recipient leaves nothing behind.
    let mut sealed = Vec::new();
    for (env, recipient) in envelopes.iter().zip(&a.recipients) {
        sealed.push(shares::encrypt_share(env, recipient).map_err(share_error)?);
    }
    std::fs::create_dir_all(&a.out_dir).with_context(|| format!("{}: cannot create", a.out_dir.display()))?;
    for (i, bytes) in sealed.iter().enumerate() {
        write_new(&a.out_dir.join(format!("share-{}.age", i + 1)), bytes)?;
    }
    let first = envelopes.first().map(|e| e.split_id.clone()).unwrap_or_default();
    println!(
        "split key {} into {} shares, any {} restore it",
        signer.key_id().grouped(),
        a.shares,
        a.threshold
    );
    println!("split id: {first}");
    println!("wrote {}/share-1.age ... share-{}.age", a.out_dir.display(), a.shares);
    transcript_step(StepLog {
        // Beside the share directory, not in it: the shares go their ways.
        transcript: a
            .common
            .transcript
            .unwrap_or_else(|| super::ceremony::dir_of(&a.out_dir).join("transcript.jsonl")),
        step: "key split",
        now,
        rehearsal: false,
        allow_online: a.common.allow_online,
        key_ids: vec![signer.key_id()],
        files: (1..=a.shares).map(|i| a.out_dir.join(format!("share-{i}.age"))).collect(),
        details: json!({"split_id": first, "threshold": a.threshold, "shares": a.shares}),
    })
}

fn combine(a: CombineArgs) -> Result<()> {
    let now = super::now_or(a.common.at.as_deref())?;
    check_airgap(a.common.allow_online)?;
    let (key_path, pub_path) = (with_ext(&a.out, ".key"), with_ext(&a.out, ".pub"));
    ensure_absent(&key_path)?;
    ensure_absent(&pub_path)?;
    let mut identities = String::new();
    for p in &a.identities {
        let bytes = read_input(p)?;
        identities.push_str(
            &String::from_utf8(bytes)
                .map_err(|_| usage(format!("{}: not an age identity file", p.display())))?,
        );
        identities.push('\n');
    }
    let mut envelopes = Vec::new();
    for p in &a.shares {
        let bytes = read_input(p)?;
        let env = if bytes.trim_ascii_start().starts_with(b"{") {
            shares::ShareEnvelope::from_json(&bytes)
        } else {
            shares::decrypt_share_with_identity_file(&bytes, &identities)
        };
        envelopes.push(env.map_err(|e| share_error(e).context(p.display().to_string()))?);
    }
    let secret = shares::combine(&envelopes).map_err(share_error)?;
    let signer = airlock_core::Ed25519Signer::new(ed25519_dalek::SigningKey::from_bytes(&secret));
    let mut src = source(&a.passphrase.source())?;
    let pass = ask(src.as_mut(), &PassphraseRequest::new_key(key_path.display().to_string()))?;
    check_new_passphrase(&pass, &key_path.display().to_string(), a.passphrase.allow_weak_passphrase, &[])?;
    let opts = key_file_options()?;
    write_key_file(&key_path, &signer, &pass, &opts).map_err(key_error)?;
    if let Err(e) = write_public_key_file(&pub_path, signer.public_key()) {
        let _ = std::fs::remove_file(&key_path);
        return Err(key_error(e));
    }
    println!("{}", signer.key_id());
    eprintln!(
        "restored key {} from {} shares; its public key matches the one recorded in the shares",
        signer.key_id().grouped(),
        envelopes.len()
    );
    transcript_step(StepLog {
        transcript: a
            .common
            .transcript
            .unwrap_or_else(|| super::ceremony::dir_of(&pub_path).join("transcript.jsonl")),
        step: "key combine",
        now,
        rehearsal: false,
        allow_online: a.common.allow_online,
        key_ids: vec![signer.key_id()],
        files: vec![pub_path.clone()],
        details: json!({"split_id": envelopes.first().map(|e| e.split_id.clone()), "shares_used": envelopes.len()}),
    })
}

fn with_ext(base: &std::path::Path, ext: &str) -> PathBuf {
    let mut s = base.as_os_str().to_owned();
    s.push(ext);
    PathBuf::from(s)
}

fn generate_key(a: GenerateArgs) -> Result<()> {
    let name_ok = a.out.file_name().is_some_and(|n| !n.is_empty())
        && !a.out.as_os_str().to_string_lossy().ends_with('/');
    if !name_ok {
        return Err(usage(format!(
            "--out {:?}: give a file name such as keys/alice, not a directory",
            a.out.display().to_string()
        )));
    }
    let (key_path, pub_path) = (with_ext(&a.out, ".key"), with_ext(&a.out, ".pub"));
    if let Some(uri) = &a.token {
        return generate_in_token(uri, a.algorithm, &pub_path, &a.passphrase.source(), a.json);
    }
    // Refuse before asking anything, so nothing is half-written.
    ensure_absent(&key_path)?;
    ensure_absent(&pub_path)?;
    let mut src = source(&a.passphrase.source())?;
    let pass = ask(src.as_mut(), &PassphraseRequest::new_key(key_path.display().to_string()))?;
    let name = a.out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    check_new_passphrase(
        &pass,
        &key_path.display().to_string(),
        a.passphrase.allow_weak_passphrase,
        &[&name],
    )?;
    let opts = key_file_options()?;
    let signer = generate().map_err(key_error)?;
    write_key_file(&key_path, &signer, &pass, &opts).map_err(key_error)?;
    if let Err(e) = write_public_key_file(&pub_path, signer.public_key()) {
        let _ = std::fs::remove_file(&key_path);
        return Err(key_error(e));
    }
    let id = signer.key_id();
    print_new_key(signer.public_key(), Some(&key_path), &pub_path, a.json)?;
    eprintln!("wrote {} (encrypted, mode 0600) and {}", key_path.display(), pub_path.display());
    eprintln!("key id: {}", id.grouped());
    Ok(())
}

/// `key generate --token`: the key pair is made inside the token, and
/// only the public half is written.
/// What `key generate` prints on stdout: the key id, or with `--json` the
/// key (`airlock-key-generate-v1`).
fn print_new_key(key: &PublicKey, key_file: Option<&Path>, pub_file: &Path, json: bool) -> Result<()> {
    if json {
        let j = json!({
            "format": "airlock-key-generate-v1",
            "keyid": key.key_id(),
            "keytype": key.keytype,
            "scheme": key.scheme,
            "fingerprint": key.fingerprint(),
            "key_file": key_file.map(|p| p.display().to_string()),
            "public_file": pub_file.display().to_string(),
        });
        println!("{}", serde_json::to_string_pretty(&j)?);
    } else {
        println!("{}", key.key_id());
    }
    Ok(())
}

fn generate_in_token(
    uri: &str,
    algorithm: TokenKeyAlgorithm,
    pub_path: &Path,
    args: &PassphraseArgs,
    json: bool,
) -> Result<()> {
    let uri = TokenUri::parse(uri).map_err(token_error)?;
    ensure_absent(pub_path)?;
    let pin = ask_pin(&uri, args)?;
    let algorithm = match algorithm {
        TokenKeyAlgorithm::P256 => TokenAlgorithm::EcdsaP256,
        TokenKeyAlgorithm::Ed25519 => TokenAlgorithm::Ed25519,
    };
    let public = token::generate(&uri, &pin, algorithm).map_err(token_error)?;
    write_public_key_file(pub_path, &public).map_err(key_error)?;
    let id = public.key_id();
    print_new_key(&public, None, pub_path, json)?;
    eprintln!("generated {}; wrote {}", for_terminal(&uri.describe()), pub_path.display());
    eprintln!("key id: {}", id.grouped());
    Ok(())
}

fn show(a: ShowArgs) -> Result<()> {
    let token_uri = a.file.to_str().filter(|f| TokenUri::is_uri(f));
    let (kind, key): (&str, PublicKey) = match token_uri {
        Some(uri) => (
            "key in a PKCS#11 token",
            token::public_key(&TokenUri::parse(uri).map_err(token_error)?).map_err(token_error)?,
        ),
        None => show_file(&a)?,
    };
    let id = key.key_id();
    let pem = key.to_spki_pem().map_err(|e| usage(format!("{}: {e}", a.file.display())))?;
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "format": "airlock-key-show-v1",
                "file": a.file.display().to_string(),
                "kind": kind,
                "keyid": id,
                "keytype": key.keytype,
                "scheme": key.scheme,
                "public": key.keyval.public,
                "public_pem": pem,
                "fingerprint": key.fingerprint(),
            }))?
        );
    } else {
        println!("file:    {} ({kind})", a.file.display());
        println!("key id:  {}", id.grouped());
        println!("type:    {} / {}", key.keytype, key.scheme);
        // What a custodian reviewing a namespace-ownership change compares.
        println!("fingerprint: {}", key.fingerprint());
        println!("public:  {}", key.keyval.public);
        print!("{pem}");
    }
    Ok(())
}

/// What `key show` reads from a key file: its kind and public key.
fn show_file(a: &ShowArgs) -> Result<(&'static str, PublicKey)> {
    let bytes = read_input(&a.file)?;
    Ok(match classify_key_file(&bytes) {
        KeyFileKind::PublicPem => {
            let text =
                std::str::from_utf8(&bytes).map_err(|_| usage(format!("{}: not text", a.file.display())))?;
            let key =
                PublicKey::from_spki_pem(text).map_err(|e| usage(format!("{}: {e}", a.file.display())))?;
            ("public key file", key)
        }
        KeyFileKind::EncryptedPrivate => {
            let mut src = source(&a.passphrase)?;
            let pass = ask(src.as_mut(), &PassphraseRequest::unlock(a.file.display().to_string()))?;
            let signer = decrypt_key_file(&bytes, &a.file, &pass).map_err(key_error)?;
            ("encrypted private key file", signer.public_key().clone())
        }
        KeyFileKind::PlaintextPrivatePem => {
            return Err(usage(format!(
                "{}: holds an UNENCRYPTED private key; refusing to use it",
                a.file.display()
            )))
        }
        KeyFileKind::Unknown => {
            return Err(usage(format!(
                "{}: neither a PEM public key nor an age-encrypted key file",
                a.file.display()
            )))
        }
    })
}
