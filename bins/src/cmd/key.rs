//! `airlock key generate|show`.

use crate::exit::usage;
use crate::io::{ensure_absent, read_input};
use crate::secrets::{ask, key_error, key_file_options, source, PassphraseArgs};
use airlock_core::{PublicKey, Signer};
use airlock_keyceremony::{
    classify_key_file, decrypt_key_file, generate, write_key_file, write_public_key_file, KeyFileKind,
    PassphraseRequest,
};
use anyhow::Result;
use clap::{Args, Subcommand};
use serde_json::json;
use std::path::PathBuf;

/// Key commands.
#[derive(Subcommand)]
pub enum KeyCommand {
    /// Generate an Ed25519 key: NAME.key (age-encrypted PKCS#8) and NAME.pub (PEM).
    Generate(GenerateArgs),
    /// Show a key's id, type and public key; works on .pub and .key files.
    Show(ShowArgs),
}

/// Arguments of `key generate`.
#[derive(Args)]
pub struct GenerateArgs {
    /// Output name: writes NAME.key and NAME.pub; neither may exist.
    #[arg(long, value_name = "NAME")]
    pub out: PathBuf,
    #[command(flatten)]
    pub passphrase: PassphraseArgs,
}

/// Arguments of `key show`.
#[derive(Args)]
pub struct ShowArgs {
    /// A public key (PEM) or encrypted private key file.
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
    }
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
    // Refuse before asking anything, so nothing is half-written.
    ensure_absent(&key_path)?;
    ensure_absent(&pub_path)?;
    let mut src = source(&a.passphrase)?;
    let pass = ask(src.as_mut(), &PassphraseRequest::new_key(key_path.display().to_string()))?;
    let opts = key_file_options()?;
    let signer = generate().map_err(key_error)?;
    write_key_file(&key_path, &signer, &pass, &opts).map_err(key_error)?;
    if let Err(e) = write_public_key_file(&pub_path, signer.public_key()) {
        let _ = std::fs::remove_file(&key_path);
        return Err(key_error(e));
    }
    let id = signer.key_id();
    println!("{id}");
    eprintln!("wrote {} (encrypted, mode 0600) and {}", key_path.display(), pub_path.display());
    eprintln!("key id: {}", id.grouped());
    Ok(())
}

fn show(a: ShowArgs) -> Result<()> {
    let bytes = read_input(&a.file)?;
    let (kind, key): (&str, PublicKey) = match classify_key_file(&bytes) {
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
    };
    let id = key.key_id();
    let pem = key.to_spki_pem().map_err(|e| usage(format!("{}: {e}", a.file.display())))?;
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "file": a.file.display().to_string(),
                "kind": kind,
                "keyid": id,
                "keytype": key.keytype,
                "scheme": key.scheme,
                "public": key.keyval.public,
                "public_pem": pem,
            }))?
        );
    } else {
        println!("file:    {} ({kind})", a.file.display());
        println!("key id:  {}", id.grouped());
        println!("type:    {} / {}", key.keytype, key.scheme);
        println!("public:  {}", key.keyval.public);
        print!("{pem}");
    }
    Ok(())
}
