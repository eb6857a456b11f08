//! `airlock witness init|cosign|status`: an offline witness of registry
//! logs (docs/FORMAT.md 10.5).

use crate::exit::{refused, usage};
use crate::secrets::{
    ask, check_new_passphrase, key_error, key_file_options, load_signer, source, NewKeyPassphraseArgs,
    PassphraseArgs,
};
use airlock_bundles::bundle::{companion_checkpoint_path, read_companion_checkpoint};
use airlock_bundles::witness::{Witness, WitnessError, KEY_FILE, PUB_FILE};
use airlock_core::log::{log_keys, merge_signatures, verify_checkpoint_with_keys, LogProof, SignedNote};
use airlock_core::text::for_terminal as safe;
use airlock_core::Signer;
use airlock_keyceremony::{generate, write_key_file, write_public_key_file, PassphraseRequest};
use anyhow::Result;
use clap::{Args, Subcommand};
use serde_json::json;
use std::path::PathBuf;

/// Witness commands.
#[derive(Subcommand)]
pub enum WitnessCommand {
    /// Make a witness: an encrypted key and an empty record of logs seen.
    Init(InitArgs),
    /// Cosign a bundle's checkpoint (or a checkpoint file) if it extends
    /// the tree this witness cosigned last; refuse a split view.
    Cosign(CosignArgs),
    /// Show the witness's key and every log it has seen, with split views.
    Status(StatusArgs),
}

/// Arguments of `witness init`.
#[derive(Args)]
pub struct InitArgs {
    /// A new directory for the witness.
    pub dir: PathBuf,
    /// The witness's name in its cosignatures (e.g. witness.example/alice).
    #[arg(long)]
    pub name: String,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub passphrase: NewKeyPassphraseArgs,
}

/// Arguments of `witness cosign`.
#[derive(Args)]
pub struct CosignArgs {
    /// A bundle (file, base name, index or every volume), or a checkpoint file.
    #[arg(required = true, num_args = 1..)]
    pub input: Vec<PathBuf>,
    /// The witness directory.
    #[arg(long)]
    pub witness: PathBuf,
    /// For a bundle: the pins directory, or the registry's pinned root file.
    #[arg(long)]
    pub pins: Option<PathBuf>,
    /// For a checkpoint file: a proof file (log/proof.json, `airlock log
    /// prove`) with the consistency proof from the tree the witness saw.
    #[arg(long)]
    pub proof: Option<PathBuf>,
    /// Check and cosign at this instant (YYYY-MM-DDTHH:MM:SSZ) instead of now.
    #[arg(long)]
    pub at: Option<String>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub passphrase: PassphraseArgs,
}

/// Arguments of `witness status`.
#[derive(Args)]
pub struct StatusArgs {
    /// The witness directory.
    pub dir: PathBuf,
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs a witness command.
pub fn run(cmd: WitnessCommand) -> Result<()> {
    match cmd {
        WitnessCommand::Init(a) => init(a),
        WitnessCommand::Cosign(a) => cosign(a),
        WitnessCommand::Status(a) => status(a),
    }
}

fn witness_error(e: WitnessError) -> anyhow::Error {
    match e {
        WitnessError::Io { .. } => anyhow::anyhow!("{e}"),
        WitnessError::NotAWitness { .. } | WitnessError::BadName(_) => usage(e.to_string()),
        other => refused(other.to_string()),
    }
}

fn init(a: InitArgs) -> Result<()> {
    if a.dir.exists() && std::fs::read_dir(&a.dir).map(|mut d| d.next().is_some()).unwrap_or(true) {
        return Err(usage(format!("{}: exists and is not an empty directory", a.dir.display())));
    }
    // Checked before a passphrase is asked for or anything is written.
    if a.name.is_empty() || a.name.chars().any(|c| c.is_whitespace() || c == '+') {
        return Err(witness_error(WitnessError::BadName(a.name)));
    }
    std::fs::create_dir_all(&a.dir).map_err(|e| anyhow::anyhow!("{}: {e}", a.dir.display()))?;
    let (key_path, pub_path) = (a.dir.join(KEY_FILE), a.dir.join(PUB_FILE));
    let result = (|| {
        let mut src = source(&a.passphrase.source())?;
        let pass = ask(src.as_mut(), &PassphraseRequest::new_key(key_path.display().to_string()))?;
        check_new_passphrase(
            &pass,
            &key_path.display().to_string(),
            a.passphrase.allow_weak_passphrase,
            &[&a.name],
        )?;
        let signer = generate().map_err(key_error)?;
        write_key_file(&key_path, &signer, &pass, &key_file_options()?).map_err(key_error)?;
        write_public_key_file(&pub_path, signer.public_key()).map_err(key_error)?;
        let public = signer.signing_key().verifying_key().to_bytes();
        Witness::init(&a.dir, &a.name, &public).map_err(witness_error)?;
        Ok::<_, anyhow::Error>(public)
    })();
    let public = match result {
        Ok(p) => p,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&a.dir);
            return Err(e);
        }
    };
    if a.json {
        let j = json!({
            "format": "airlock-witness-init-v1",
            "dir": a.dir.display().to_string(),
            "name": a.name,
            "public": hex::encode(public),
            "key_file": key_path.display().to_string(),
            "public_file": pub_path.display().to_string(),
        });
        println!("{}", serde_json::to_string_pretty(&j)?);
        return Ok(());
    }
    println!("witness {} in {}", safe(&a.name), a.dir.display());
    println!("wrote {} (encrypted, mode 0600) and {}", key_path.display(), pub_path.display());
    println!("for an import policy that counts this witness:\n");
    println!("[[witness]]\nname = \"{}\"\nkey = \"{}\"", a.name, hex::encode(public));
    Ok(())
}

fn cosign(a: CosignArgs) -> Result<()> {
    let now = super::now_or(a.at.as_deref())?;
    let witness = Witness::open(&a.witness).map_err(witness_error)?;
    let first = &a.input[0];
    // A checkpoint is a small text file; anything else is read as a bundle.
    let as_note = match a.input.as_slice() {
        [one]
            if std::fs::metadata(one)
                .map(|m| m.len() <= airlock_core::log::MAX_CHECKPOINT_BYTES)
                .unwrap_or(false) =>
        {
            std::fs::read(one).ok().and_then(|b| SignedNote::parse(&b).ok().map(|n| (b, n)))
        }
        _ => None,
    };
    let (note, cp, consistency, keys, out) = match as_note {
        Some((bytes, note)) => {
            let cp = airlock_core::log::Checkpoint::parse(&note.text)
                .map_err(|e| refused(format!("{}: {e}", first.display())))?;
            let state = witness
                .log(&cp.origin)
                .map_err(witness_error)?
                .ok_or_else(|| witness_error(WitnessError::UnknownLog(cp.origin.clone())))?;
            let keys = state.keys();
            let (cp, note) = verify_checkpoint_with_keys(&bytes, &cp.origin, &keys)
                .map_err(|e| refused(format!("{}: {e}", first.display())))?;
            let consistency = match &a.proof {
                Some(p) => {
                    LogProof::parse(&crate::io::read_input(p)?)
                        .map_err(|e| refused(format!("{}: {e}", p.display())))?
                        .consistency
                }
                None => Vec::new(),
            };
            (note, cp, consistency, keys, first.clone())
        }
        None => {
            let pins = a
                .pins
                .as_ref()
                .ok_or_else(|| usage("cosigning a bundle needs --pins (the registry's pinned root)"))?;
            let (bundle, result) = super::bundle::verify_paths(&a.input, pins, now)?;
            let v = result.map_err(|e| super::bundle::bundle_error(&bundle, e))?;
            let log = v.log().ok_or_else(|| {
                refused(format!("{}: the bundle carries no transparency log", bundle.display()))
            })?;
            let mut note = log.note.clone();
            if let Some(extra) =
                read_companion_checkpoint(&bundle).map_err(|e| super::bundle::bundle_error(&bundle, e))?
            {
                note = merge_signatures(&note, &extra).ok_or_else(|| {
                    refused(format!(
                        "{}: not this bundle's checkpoint",
                        companion_checkpoint_path(&bundle).display()
                    ))
                })?;
            }
            let keys = log_keys(v.trusted().root.signed(), now);
            (
                note,
                log.checkpoint.clone(),
                log.proof.consistency.clone(),
                keys,
                companion_checkpoint_path(&bundle),
            )
        }
    };
    let signer = load_signer(&a.witness.join(KEY_FILE), &a.passphrase)?;
    let cosigned =
        witness.cosign(&note, &cp, &consistency, &keys, signer.as_ref(), now).map_err(witness_error)?;
    crate::io::write_atomic(&out, &cosigned.to_bytes())?;
    if a.json {
        let j = json!({
            "format": "airlock-witness-cosign-v1",
            "origin": cp.origin,
            "size": cp.size,
            "root": hex::encode(cp.root),
            "witness": witness.config().name,
            "checkpoint_file": out.display().to_string(),
            "cosigned_at": now.to_string(),
        });
        println!("{}", serde_json::to_string_pretty(&j)?);
    } else {
        println!(
            "cosigned {} at size {} as {}; wrote {}",
            safe(&cp.origin),
            cp.size,
            safe(&witness.config().name),
            out.display()
        );
    }
    Ok(())
}

fn status(a: StatusArgs) -> Result<()> {
    let witness = Witness::open(&a.dir).map_err(witness_error)?;
    let logs = witness.logs().map_err(witness_error)?;
    if a.json {
        let j = json!({
            "format": "airlock-witness-status-v1",
            "name": witness.config().name,
            "public": witness.config().public,
            "logs": logs.iter().map(|l| json!({
                "origin": l.origin, "size": l.size, "root": l.root, "cosigned_at": l.cosigned_at.to_string(),
                "split_views": l.split_views,
            })).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&j)?);
        return Ok(());
    }
    println!("witness {} (key {})", safe(&witness.config().name), witness.config().public);
    if logs.is_empty() {
        println!("no log seen yet");
    }
    for l in &logs {
        println!("log {}: size {}, cosigned at {}", safe(&l.origin), l.size, l.cosigned_at);
        for s in &l.split_views {
            println!("  SPLIT VIEW refused at {}: {}", s.at, safe(&s.detail));
        }
    }
    Ok(())
}
