//! `airlock log`: transparency logs seen from outside. `verify-checkpoint`
//! checks any C2SP signed-note checkpoint (a log's signed tree head, such
//! as one of Go's checksum database) with the log's verifier key.

use crate::exit::{refused, usage};
use crate::io::read_input;
use airlock_bundles::registry::{Registry, RegistryLog};
use airlock_core::log::{Checkpoint, NoteError, SignatureCheck, SignatureStatus, SignedNote, VerifierKey};
use airlock_core::text::for_terminal;
use airlock_core::Timestamp;
use anyhow::Result;
use clap::{Args, Subcommand};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// The transparency log: verify checkpoints, audit a registry's log.
#[derive(Subcommand)]
pub enum LogCommand {
    /// Verify any C2SP checkpoint with its log's verifier key.
    ///
    /// A checkpoint is a transparency log's signed tree head as a C2SP
    /// signed note, for example one of Go's checksum database
    /// (sum.golang.org). Prints its origin, tree size, root hash (base64 and
    /// hex), extension lines and which signatures verified. Exit 1 when it
    /// is refused (a signature by a given key does not verify, the log's
    /// key did not sign it, the file is no checkpoint, the origin differs).
    VerifyCheckpoint(VerifyCheckpointArgs),
    /// Recompute a registry's whole log from its leaves and check it: every
    /// leaf's role file has the logged bytes, and the newest checkpoint is
    /// signed by the log key root lists and names the recomputed tree.
    Audit(AuditArgs),
    /// Write the consistency proof of a registry's log from an earlier tree
    /// size (a witness's last checkpoint), for `witness cosign CHECKPOINT --proof`.
    Prove(ProveArgs),
}

/// Arguments of `log audit`.
#[derive(Args)]
pub struct AuditArgs {
    /// The registry directory.
    pub repo: PathBuf,
    /// Check at this instant (YYYY-MM-DDTHH:MM:SSZ) instead of now.
    #[arg(long)]
    pub at: Option<String>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `log prove`.
#[derive(Args)]
pub struct ProveArgs {
    /// The registry directory.
    pub repo: PathBuf,
    /// The earlier tree size to prove consistency from.
    #[arg(long = "since-checkpoint", value_name = "SIZE")]
    pub since: u64,
    /// The proof file to write.
    #[arg(long)]
    pub out: PathBuf,
}

/// Runs a log command.
pub fn run(cmd: LogCommand) -> Result<()> {
    match cmd {
        LogCommand::VerifyCheckpoint(a) => verify_checkpoint(a),
        LogCommand::Audit(a) => audit(a),
        LogCommand::Prove(a) => prove(a),
    }
}

/// The largest checkpoint file read: far above any real one (a few hundred
/// bytes, a few kilobytes with many cosignatures).
const MAX_CHECKPOINT_FILE: u64 = 1 << 20;

/// Arguments of `log verify-checkpoint`.
#[derive(Args)]
pub struct VerifyCheckpointArgs {
    /// The checkpoint: a signed note whose text is origin, tree size, base64
    /// root hash and any extension lines.
    pub file: PathBuf,
    /// The log's verifier key, `<name>+<8 hex digits key id>+<base64 key>`
    /// as C2SP and Go's GOSUMDB write it (for example
    /// sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8).
    /// A value starting with @ names a file holding the key instead
    /// (@PATH; white space around the key is ignored).
    #[arg(long, value_name = "VERIFIER_KEY")]
    pub key: String,
    /// A witness's verifier key (a tlog-cosignature key, type 0x04, or an
    /// Ed25519 note key), or @PATH; may be given more than once. A
    /// signature by it need not be there, but if it is, it must verify.
    #[arg(long = "witness", value_name = "VERIFIER_KEY")]
    pub witnesses: Vec<String>,
    /// Refuse the checkpoint unless its origin line is exactly this.
    #[arg(long)]
    pub origin: Option<String>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Reads a verifier key given as a flag value: the key itself, or `@PATH`.
fn load_key(flag: &str, value: &str) -> Result<VerifierKey> {
    let (text, from) = match value.strip_prefix('@') {
        Some(path) => {
            let bytes = read_input(Path::new(path))?;
            let text = String::from_utf8(bytes)
                .map_err(|_| usage(format!("{flag} @{path}: the file is not UTF-8 text")))?;
            (text.trim().to_owned(), format!("{flag} @{path}"))
        }
        None => (value.to_owned(), flag.to_owned()),
    };
    VerifierKey::parse(&text).map_err(|e| usage(format!("{from}: not a verifier key: {e}")))
}

fn key_label(name: &str, key_id: u32) -> String {
    format!("{name}+{key_id:08x}")
}

/// The time of a cosignature as RFC 3339, or the raw number past year 9999.
fn cosigned_at(time: u64) -> String {
    match i64::try_from(time) {
        Ok(t) if t < 253_402_300_800 => Timestamp::from_unix(t).to_string(),
        _ => format!("{time} seconds after 1970"),
    }
}

fn signature_json(c: &SignatureCheck, log: &VerifierKey) -> Value {
    let role = match c.status {
        SignatureStatus::UnknownKey => Value::Null,
        _ if c.name == log.name && c.key_id == log.key_id() => json!("log"),
        _ => json!("witness"),
    };
    let (status, time) = match &c.status {
        SignatureStatus::Verified => ("verified", Value::Null),
        SignatureStatus::Cosigned { time } => ("cosigned", json!(cosigned_at(*time))),
        SignatureStatus::UnknownKey => ("unknown key", Value::Null),
    };
    json!({
        "name": c.name,
        "key_id": format!("{:08x}", c.key_id),
        "status": status,
        "role": role,
        "time": time,
    })
}

fn verify_checkpoint(a: VerifyCheckpointArgs) -> Result<()> {
    let log_key = load_key("--key", &a.key)?;
    if log_key.kind != airlock_core::log::VerifierKind::Ed25519 {
        return Err(usage(format!(
            "--key: {} is a witness cosignature key (type 0x04), not a log's key; give it with --witness",
            key_label(&log_key.name, log_key.key_id())
        )));
    }
    let witnesses = a.witnesses.iter().map(|w| load_key("--witness", w)).collect::<Result<Vec<_>>>()?;
    for (i, w) in witnesses.iter().enumerate() {
        let same = |k: &VerifierKey| k.name == w.name && k.key_id() == w.key_id();
        if same(&log_key) || witnesses[..i].iter().any(same) {
            return Err(usage(format!("--witness: key {} given twice", key_label(&w.name, w.key_id()))));
        }
    }
    let file = a.file.display().to_string();
    let too_large = std::fs::metadata(&a.file).ok().map(|m| m.len()).filter(|len| *len > MAX_CHECKPOINT_FILE);
    let bytes = if too_large.is_some() { Vec::new() } else { read_input(&a.file)? };
    let result = match too_large {
        Some(len) => Err(format!("{len} bytes is too large for a checkpoint")),
        None => Checkpoint::open(&bytes, &log_key, &witnesses)
            .and_then(|(cp, _, checks)| match &a.origin {
                Some(o) if *o != cp.origin => {
                    Err(NoteError::WrongOrigin { expected: o.clone(), found: cp.origin.clone() })
                }
                _ => Ok((cp, checks)),
            })
            .map_err(|e| explain(&e, &bytes)),
    };
    let (cp, checks) = match result {
        Ok(ok) => ok,
        Err(reason) => {
            if a.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&json!({
                        "format": "airlock-log-verify-checkpoint-v1",
                        "file": file,
                        "key": log_key.to_string(),
                        "verified": false,
                        "error": reason,
                    }))?
                );
            }
            return Err(refused(format!("{file}: {reason}")));
        }
    };
    // The body's third line is the root hash in base64, as to_text writes it.
    let root_b64 = cp.to_text().lines().nth(2).unwrap_or_default().to_owned();
    let root_hex = hex::encode(cp.root);
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "format": "airlock-log-verify-checkpoint-v1",
                "file": file,
                "key": log_key.to_string(),
                "verified": true,
                "origin": cp.origin,
                "size": cp.size,
                "root_hash": root_hex,
                "root_hash_base64": root_b64,
                "extensions": cp.extensions,
                "signatures": checks.iter().map(|c| signature_json(c, &log_key)).collect::<Vec<_>>(),
            }))?
        );
        return Ok(());
    }
    println!("{}: checkpoint verified", for_terminal(&file));
    println!("  origin      {}", for_terminal(&cp.origin));
    println!("  tree size   {}", cp.size);
    println!("  root hash   {root_b64} (base64)");
    println!("              {root_hex} (hex)");
    for e in &cp.extensions {
        println!("  extension   {}", for_terminal(e));
    }
    println!("  signatures:");
    for c in &checks {
        let label = for_terminal(&key_label(&c.name, c.key_id)).into_owned();
        match &c.status {
            SignatureStatus::Verified if c.name == log_key.name && c.key_id == log_key.key_id() => {
                println!("    verified      {label} (the log's key)")
            }
            SignatureStatus::Verified => println!("    verified      {label} (witness)"),
            SignatureStatus::Cosigned { time } => {
                println!("    cosigned      {label} (witness, at {})", cosigned_at(*time))
            }
            SignatureStatus::UnknownKey => println!("    not checked   {label} (no key given for it)"),
        }
    }
    Ok(())
}

/// The refusal, with the keys that did sign when the expected one did not.
fn explain(e: &NoteError, bytes: &[u8]) -> String {
    if let NoteError::Unsigned(_) = e {
        if let Ok(note) = SignedNote::parse(bytes) {
            let by: Vec<String> = note.signatures.iter().map(|s| key_label(&s.name, s.key_id)).collect();
            return format!("{e} (the key given with --key); it is signed by {}", by.join(", "));
        }
    }
    e.to_string()
}

fn open_log(repo: &Path) -> Result<(airlock_bundles::registry::Registry, RegistryLog)> {
    let reg = Registry::open(repo).map_err(super::registry::registry_error)?;
    let log = RegistryLog::open(repo).map_err(super::registry::registry_error)?;
    Ok((reg, log))
}

fn audit(a: AuditArgs) -> Result<()> {
    let now = super::now_or(a.at.as_deref())?;
    let (reg, log) = open_log(&a.repo)?;
    let mut problems: Vec<String> = Vec::new();
    for e in log.entries() {
        let file = a.repo.join("metadata").join(format!("{}.{}.json", e.version, e.role));
        match std::fs::read(&file) {
            Ok(b) if airlock_core::hash::sha256_hex(&b) == e.sha256 => {}
            Ok(_) => problems.push(format!("{}: differs from the bytes the log recorded", file.display())),
            Err(err) => problems.push(format!("{}: {err}", file.display())),
        }
    }
    let root = log.tree().root();
    match log.checkpoint_bytes().map_err(super::registry::registry_error)? {
        None => problems.push("no checkpoint".into()),
        Some(b) => {
            match airlock_core::log::verify_checkpoint(&b, &reg.state().identity, reg.newest_root(), now) {
                Ok((cp, _)) if cp.size == log.tree().size() && cp.root == root => {}
                Ok((cp, _)) => problems.push(format!(
                "the checkpoint names a tree of {} entries that is not the one the leaves give ({} entries)",
                cp.size,
                log.tree().size()
            )),
                Err(e) => problems.push(format!("checkpoint: {e}")),
            }
        }
    }
    if a.json {
        let j = json!({
            "format": "airlock-log-audit-v1",
            "repo": a.repo.display().to_string(),
            "checked_at": now.to_string(),
            "origin": airlock_core::log::origin(&reg.state().identity),
            "size": log.tree().size(),
            "root": hex::encode(root),
            "verified": problems.is_empty(),
            "problems": problems,
        });
        println!("{}", serde_json::to_string_pretty(&j)?);
    } else {
        for p in &problems {
            println!("problem: {}", for_terminal(p));
        }
    }
    if let Some(first) = problems.first() {
        return Err(refused(format!(
            "{}: log: {} (and {} more)",
            a.repo.display(),
            for_terminal(first),
            problems.len() - 1
        )));
    }
    if !a.json {
        println!(
            "log verified: {} entries, root {}; every leaf matches its role file and the checkpoint is signed by the log key",
            log.tree().size(),
            hex::encode(root)
        );
    }
    Ok(())
}

fn prove(a: ProveArgs) -> Result<()> {
    let (_, log) = open_log(&a.repo)?;
    if a.since == 0 || a.since > log.tree().size() {
        return Err(usage(format!(
            "--since-checkpoint {}: give a size from 1 to the log's {}",
            a.since,
            log.tree().size()
        )));
    }
    let proof = log.prove(&[], &[a.since]).map_err(super::registry::registry_error)?;
    crate::io::write_new(&a.out, &proof.to_bytes())?;
    println!("wrote {}: consistency of {} entries with {}", a.out.display(), log.tree().size(), a.since);
    Ok(())
}
