//! Where passphrases come from, and loading keys with them.
//!
//! Never from argv: a file (`--passphrase-file`), the `AIRLOCK_PASSPHRASE`
//! environment variable for automation, or a prompt at the terminal.

use crate::exit::usage;
use airlock_core::{Ed25519Signer, Signer};
use airlock_keyceremony::token::{TokenError, TokenSigner, TokenUri};
use airlock_keyceremony::{
    read_key_file, EnvPassphrase, FilePassphrase, KeyFileError, KeyFileOptions, PassphraseRequest,
    PassphraseSource, PromptPassphrase, SecretPassphrase,
};
use anyhow::Result;
use clap::Args;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// The passphrase options of a command that opens a key.
#[derive(Args, Clone, Default)]
pub struct PassphraseArgs {
    /// Read the passphrase from this file (one trailing newline is ignored).
    /// Otherwise AIRLOCK_PASSPHRASE, otherwise a prompt.
    #[arg(long, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
    /// Accepted so that older scripts keep working, and ignored: a weak
    /// passphrase matters only where a key is made (`NewKeyPassphraseArgs`).
    #[arg(long = "allow-weak-passphrase", hide = true)]
    pub ignored_allow_weak_passphrase: bool,
}

/// The passphrase options of a command that makes a key: where its
/// passphrase comes from, and whether a weak one is accepted.
#[derive(Args, Clone, Default)]
pub struct NewKeyPassphraseArgs {
    /// Read the passphrase from this file (one trailing newline is ignored).
    /// Otherwise AIRLOCK_PASSPHRASE, otherwise a prompt.
    #[arg(long, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
    /// Accept a weak passphrase for the new key (rehearsals and tests only;
    /// a real key's passphrase must be hard to guess).
    #[arg(long)]
    pub allow_weak_passphrase: bool,
}

impl NewKeyPassphraseArgs {
    /// Where the passphrase (or a token PIN) comes from.
    pub fn source(&self) -> PassphraseArgs {
        PassphraseArgs { passphrase_file: self.passphrase_file.clone(), ignored_allow_weak_passphrase: false }
    }
}

/// The source the options and environment select.
pub fn source(args: &PassphraseArgs) -> Result<Box<dyn PassphraseSource>> {
    if let Some(f) = &args.passphrase_file {
        return Ok(Box::new(FilePassphrase::new(f)));
    }
    let env = EnvPassphrase::new();
    if env.is_set() {
        if EnvPassphrase::on_terminal() {
            eprintln!(
                "airlock: warning: using the passphrase from {} at a terminal; it may be visible to other processes",
                env.var()
            );
        }
        return Ok(Box::new(env));
    }
    if !std::io::stdin().is_terminal() {
        return Err(usage("a passphrase is needed: give --passphrase-file FILE or set AIRLOCK_PASSPHRASE"));
    }
    Ok(Box::new(PromptPassphrase::new()))
}

/// Checks the passphrase of a new key (`what`) for strength, counting
/// `context` (names an attacker knows) against it; a weak one is refused
/// (exit 2) unless `allow_weak`, when it is only warned about.
pub fn check_new_passphrase(
    pass: &SecretPassphrase,
    what: &str,
    allow_weak: bool,
    context: &[&str],
) -> Result<()> {
    match pass.check_strength(context) {
        Ok(()) => Ok(()),
        Err(e) if allow_weak => {
            eprintln!("airlock: warning: {what}: {e}; accepted because of --allow-weak-passphrase");
            Ok(())
        }
        Err(e) => Err(usage(format!("{what}: {e} (a rehearsal may pass --allow-weak-passphrase)"))),
    }
}

/// Asks `src` for a passphrase, turning failures into usage errors.
pub fn ask(src: &mut dyn PassphraseSource, request: &PassphraseRequest) -> Result<SecretPassphrase> {
    src.passphrase(request).map_err(|e| usage(e.to_string()))
}

/// Opens the signing key `key` names: an encrypted key file, or a key in
/// a PKCS#11 token when it is a `pkcs11:` URI (its PIN is asked for like
/// a passphrase).
pub fn load_signer(key: &Path, args: &PassphraseArgs) -> Result<Box<dyn Signer>> {
    if let Some(uri) = key.to_str().filter(|k| TokenUri::is_uri(k)) {
        let uri = TokenUri::parse(uri).map_err(token_error)?;
        let pin = ask_pin(&uri, args)?;
        return Ok(Box::new(TokenSigner::open(&uri, &pin).map_err(token_error)?));
    }
    Ok(load_key_file(key, args)?)
}

/// Decrypts the key file at `path` (never a token: for the commands that
/// need the private key itself, like `key split`).
pub fn load_key_file(path: &Path, args: &PassphraseArgs) -> Result<Box<Ed25519Signer>> {
    if path.to_str().is_some_and(TokenUri::is_uri) {
        return Err(usage("a key in a token never leaves it: this command needs an encrypted key file"));
    }
    let mut src = source(args)?;
    let pass = ask(src.as_mut(), &PassphraseRequest::unlock(path.display().to_string()))?;
    Ok(Box::new(read_key_file(path, &pass).map_err(key_error)?))
}

/// Asks for the user PIN of the token `uri` names, from the same sources
/// as a passphrase.
pub fn ask_pin(uri: &TokenUri, args: &PassphraseArgs) -> Result<SecretPassphrase> {
    let mut src = source(args)?;
    ask(src.as_mut(), &PassphraseRequest::token_pin(uri.describe()))
}

/// Token problems: a missing module, token or key, a refused URI or a
/// wrong PIN are the operator's to fix (exit 2); a failing token is exit 3.
pub fn token_error(e: TokenError) -> anyhow::Error {
    match e {
        TokenError::Pkcs11 { .. } | TokenError::BadSignature(_) => anyhow::Error::new(e),
        other => usage(other.to_string()),
    }
}

/// Key file problems are the operator's to fix (exit 2), except I/O (exit 3).
pub fn key_error(e: KeyFileError) -> anyhow::Error {
    match e {
        KeyFileError::Io { ref source, ref path } if source.kind() == std::io::ErrorKind::NotFound => {
            usage(format!("{}: no such file", path.display()))
        }
        KeyFileError::Io { .. } | KeyFileError::Randomness(_) => anyhow::Error::new(e),
        other => usage(other.to_string()),
    }
}

/// The scrypt options, warning when the insecure test knob is on.
pub fn key_file_options() -> Result<KeyFileOptions> {
    let (opts, insecure) = KeyFileOptions::from_env().map_err(key_error)?;
    if insecure {
        eprintln!(
            "airlock: warning: AIRLOCK_INSECURE_TEST_SCRYPT_LOG_N is set: key files get a weak work factor ({})",
            opts.scrypt_log_n
        );
    }
    Ok(opts)
}
