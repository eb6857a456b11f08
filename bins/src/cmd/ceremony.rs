//! `airlock ceremony ...`: the custodians' commands.
//!
//! Every step shows what is about to be signed in human terms, asks the
//! custodian to confirm a short hash of the exact payload, checks each new
//! signature at once, and appends a record to the ceremony transcript.

use crate::cmd::root::load_root;
use crate::exit::{refused, usage};
use crate::io::{ensure_absent, read_input, write_atomic, write_new};
use crate::secrets::{
    ask, check_new_passphrase, key_error, key_file_options, load_signer, source, PassphraseArgs,
};
use crate::steps::{
    check_airgap, files_json, merge_travelling, print_json, record_step, transcript_json,
    transcript_step_shown, travelling_transcript, StepLog,
};
use airlock_core::extension::{ExpiryDays, RootExtension};
use airlock_core::hash::sha256_hex;
use airlock_core::keys::group4;
use airlock_core::metadata::{Root, Signature, Targets};
use airlock_core::text::for_terminal as safe;
use airlock_core::{registry_identity, Authorization, KeyId, Metadata, PublicKey, Signer, Timestamp};
use airlock_keyceremony::rotation::{describe_changes, initial_root, propose, Change, InitialRoot};
use airlock_keyceremony::{
    generate, write_key_file, write_public_key_file, FilePassphrase, PassphraseRequest,
};
use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// A ceremony step's human lines go through `steps::human`: stdout, or
/// stderr under `--json` (stdout then carries the one JSON object only).
macro_rules! println {
    () => { $crate::steps::human(format_args!(""), true) };
    ($($arg:tt)*) => { $crate::steps::human(format_args!($($arg)*), true) };
}

/// Ceremony commands.
#[derive(Subcommand)]
pub enum CeremonyCommand {
    /// Create root version 1: custodian keys, the index key, every signature.
    Init(InitArgs),
    /// Write an unsigned draft of the next root version.
    Propose(ProposeArgs),
    /// Review a draft and sign it with one custodian key.
    Sign(SignArgs),
    /// Write the exact bytes to sign, for signing outside airlock.
    Payload(PayloadArgs),
    /// Add a detached signature made outside airlock, after checking it.
    AddSignature(AddSignatureArgs),
    /// Accept a fully signed draft as the next root version.
    Finalize(FinalizeArgs),
    /// Check a ceremony transcript.
    #[command(subcommand)]
    Transcript(TranscriptCommand),
    /// Print a one-page Markdown record of a ceremony directory.
    Record(RecordArgs),
}

/// Options every ceremony step takes (and `key split`, `key combine`).
#[derive(Args, Clone)]
pub struct Common {
    /// Run even though a network interface is up (recorded in the transcript).
    #[arg(long)]
    pub allow_online: bool,
    /// The time of the step (YYYY-MM-DDTHH:MM:SSZ) instead of the clock.
    #[arg(long)]
    pub at: Option<String>,
    /// The transcript to append to (default: transcript.jsonl beside the
    /// output, in the ceremony directory for init; for sign, payload and
    /// add-signature, DRAFT.transcript.jsonl, which travels with the draft).
    #[arg(long)]
    pub transcript: Option<PathBuf>,
}

/// Arguments of `ceremony init`.
#[derive(Args)]
pub struct InitArgs {
    /// A ceremony file (TOML); flags below override nothing and may replace it.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// The registry's name.
    #[arg(long)]
    pub registry: Option<String>,
    /// A custodian: NAME=FILE.pub with the public key they made on their own
    /// machine, or NAME alone to generate the key here (rehearsals); repeat,
    /// in order.
    #[arg(long = "custodian", value_name = "NAME[=PUB]")]
    pub custodians: Vec<String>,
    /// How many custodians must sign each root.
    #[arg(long)]
    pub threshold: Option<u64>,
    /// The registry's index key as a PEM public key; generated here if absent.
    #[arg(long)]
    pub index_key: Option<PathBuf>,
    /// The ceremony directory to create (new or empty). `--out` is an
    /// older spelling.
    #[arg(long = "out-dir", alias = "out", value_name = "DIR")]
    pub out: PathBuf,
    /// A directory holding one passphrase file per custodian (and `index`).
    #[arg(long)]
    pub passphrase_dir: Option<PathBuf>,
    /// A rehearsal: throwaway keys, marked in the root and every record
    /// (weak passphrases are then only warned about).
    #[arg(long)]
    pub rehearsal: bool,
    /// Accept weak passphrases for the new keys (tests; a rehearsal does).
    #[arg(long)]
    pub allow_weak_passphrase: bool,
    /// Print the result as one JSON object (docs/JSON.md); the human lines go to stderr.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub common: Common,
}

/// The ceremony file.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct CeremonyFile {
    registry: Option<String>,
    threshold: Option<u64>,
    #[serde(default)]
    custodians: Vec<String>,
    index_key: Option<PathBuf>,
    expiry_days: Option<ExpiryDays>,
}

/// Arguments of `ceremony propose`.
#[derive(Args)]
pub struct ProposeArgs {
    /// The current root.
    #[arg(long)]
    pub root: PathBuf,
    /// Where to write the draft.
    #[arg(long)]
    pub out: PathBuf,
    /// Add a custodian: NAME=PUBLIC_KEY.pem (repeatable).
    #[arg(long = "add-custodian", value_name = "NAME=PUB")]
    pub add: Vec<String>,
    /// Remove a custodian by name or key id (repeatable).
    #[arg(long = "remove-custodian", value_name = "WHO")]
    pub remove: Vec<String>,
    /// The new root threshold.
    #[arg(long)]
    pub threshold: Option<u64>,
    /// Rotate the index key to this PEM public key, with a transition window.
    #[arg(long, value_name = "PUB", conflicts_with = "revoke_index")]
    pub rotate_index: Option<PathBuf>,
    /// Days the old index key keeps verifying after a rotation.
    #[arg(long, default_value_t = 14)]
    pub window_days: u32,
    /// Revoke the index key at once (no window), replacing it with this key.
    #[arg(long, value_name = "PUB")]
    pub revoke_index: Option<PathBuf>,
    /// The root's new expiry (default: now plus the root period).
    #[arg(long)]
    pub expires: Option<String>,
    /// Print the result as one JSON object (docs/JSON.md); the human lines go to stderr.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub common: Common,
}

/// Arguments of `ceremony sign`.
#[derive(Args)]
pub struct SignArgs {
    /// The draft; it is updated in place.
    pub draft: PathBuf,
    /// The current root (for a targets draft: the root whose targets keys
    /// sign it). Not given for a root version 1 draft, which has none.
    #[arg(long)]
    pub root: Option<PathBuf>,
    /// The custodian's encrypted key file.
    #[arg(long)]
    pub key: PathBuf,
    /// The payload hash shown, typed back to confirm (instead of a prompt).
    #[arg(long)]
    pub confirm: Option<String>,
    /// Remove signatures already on the draft that no longer verify (made
    /// over an earlier version of it) instead of refusing to sign.
    #[arg(long)]
    pub remove_stale: bool,
    /// Print the result as one JSON object (docs/JSON.md); the human lines go to stderr.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub passphrase: PassphraseArgs,
    #[command(flatten)]
    pub common: Common,
}

/// Arguments of `ceremony payload`.
#[derive(Args)]
pub struct PayloadArgs {
    /// The draft.
    pub draft: PathBuf,
    /// Where to write the canonical bytes (must not exist).
    #[arg(long)]
    pub out: PathBuf,
    /// Print the result as one JSON object (docs/JSON.md); the human lines go to stderr.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub common: Common,
}

/// Arguments of `ceremony add-signature`.
#[derive(Args)]
pub struct AddSignatureArgs {
    /// The draft; it is updated in place.
    pub draft: PathBuf,
    /// The current root (for a targets draft: the root whose targets keys
    /// sign it). Not given for a root version 1 draft, which has none.
    #[arg(long)]
    pub root: Option<PathBuf>,
    /// The key id that made the signature (copied from `ceremony sign` output, never typed).
    #[arg(long)]
    pub keyid: String,
    /// The signature: raw bytes or hex text.
    #[arg(long)]
    pub signature: PathBuf,
    /// Print the result as one JSON object (docs/JSON.md); the human lines go to stderr.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub common: Common,
}

/// Arguments of `ceremony finalize`.
#[derive(Args)]
pub struct FinalizeArgs {
    /// The signed draft.
    pub draft: PathBuf,
    /// The current root (for a targets draft: the root whose targets keys
    /// sign it). Not given for a root version 1 draft, which has none.
    #[arg(long)]
    pub root: Option<PathBuf>,
    /// Where to write the accepted root (conventionally N.root.json).
    #[arg(long)]
    pub out: PathBuf,
    /// For root version 1: the first top-level targets draft the
    /// custodians signed (written as 1.targets.json beside the root).
    #[arg(long)]
    pub targets: Option<PathBuf>,
    /// Print the result as one JSON object (docs/JSON.md); the human lines go to stderr.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub common: Common,
}

/// Transcript commands.
#[derive(Subcommand)]
pub enum TranscriptCommand {
    /// Check the hash chain and that listed files are unchanged.
    Verify(TranscriptVerifyArgs),
}

/// Arguments of `ceremony transcript verify`.
#[derive(Args)]
pub struct TranscriptVerifyArgs {
    /// The transcript file.
    pub transcript: PathBuf,
    /// The directory file paths are relative to (default: the transcript's).
    #[arg(long)]
    pub base: Option<PathBuf>,
    /// Print the result as JSON (docs/JSON.md).
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `ceremony record`.
#[derive(Args)]
pub struct RecordArgs {
    /// The ceremony directory (N.root.json files and transcript.jsonl).
    pub dir: PathBuf,
    /// Print the record as one JSON object (docs/JSON.md) instead of Markdown.
    #[arg(long)]
    pub json: bool,
}

/// Runs a ceremony command.
pub fn run(cmd: CeremonyCommand) -> Result<()> {
    let json = match &cmd {
        CeremonyCommand::Init(a) => a.json,
        CeremonyCommand::Propose(a) => a.json,
        CeremonyCommand::Sign(a) => a.json,
        CeremonyCommand::Payload(a) => a.json,
        CeremonyCommand::AddSignature(a) => a.json,
        CeremonyCommand::Finalize(a) => a.json,
        CeremonyCommand::Transcript(_) | CeremonyCommand::Record(_) => false,
    };
    crate::steps::set_json(json);
    let (format, facts) = match cmd {
        CeremonyCommand::Init(a) => ("init", init(a)?),
        CeremonyCommand::Propose(a) => ("propose", propose_cmd(a)?),
        CeremonyCommand::Sign(a) => ("sign", sign(a)?),
        CeremonyCommand::Payload(a) => ("payload", payload(a)?),
        CeremonyCommand::AddSignature(a) => ("add-signature", add_signature(a)?),
        CeremonyCommand::Finalize(a) => ("finalize", finalize(a)?),
        CeremonyCommand::Transcript(TranscriptCommand::Verify(a)) => {
            return crate::steps::verify_transcript(&a.transcript, a.base.as_deref(), a.json)
        }
        CeremonyCommand::Record(a) => return crate::steps::record(&a.dir, a.json),
    };
    if !json {
        return Ok(());
    }
    let mut j = json!({"format": format!("airlock-ceremony-{format}-v1")});
    if let (Some(j), Value::Object(facts)) = (j.as_object_mut(), facts) {
        j.extend(facts);
    }
    print_json(&j)
}

/// The signatures on a draft counted against `root`'s keys for `role`, for
/// a step's JSON: the threshold report (`counted`, `threshold`, ...), the
/// root version whose keys count, and whether the threshold is `met`.
pub(crate) fn threshold_json(
    root: &Root,
    role: &str,
    signatures: &[Signature],
    payload: &[u8],
    now: Timestamp,
) -> Result<Value> {
    let report = Authorization::top_level(root, role)
        .map_err(|e| refused(format!("root version {}: {e}", root.version)))?
        .count(signatures, payload, now);
    let mut j = serde_json::to_value(&report)?;
    j["root_version"] = root.version.into();
    j["met"] = report.met().into();
    Ok(j)
}

pub(crate) fn dir_of(p: &Path) -> PathBuf {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

pub(crate) fn banner(rehearsal: bool) {
    if rehearsal {
        println!("*** REHEARSAL: throwaway keys; this root can never initialise a registry or mirror ***");
    }
}

/// The payload read-back a custodian confirms: the first 128 bits of the
/// payload's SHA-256 as 32 hex digits in groups of four (a second payload
/// with the same read-back costs about 2^64 work even by a birthday search).
pub(crate) fn short_hash(payload: &[u8]) -> String {
    group4(&sha256_hex(payload)[..32])
}

/// The same 128 bits as twelve BIP-39 words, to read aloud.
fn payload_words(payload: &[u8]) -> String {
    airlock_core::identity::words(&sha256_hex(payload)).unwrap_or_default()
}

/// Shows the read-back of `payload` (hex and words) and has the custodian
/// type either back (or give it with `--confirm`).
pub(crate) fn read_back(confirm: Option<&str>, payload: &[u8]) -> Result<()> {
    let hash = short_hash(payload);
    println!("payload hash: {hash}");
    println!("read aloud:   {}", payload_words(payload));
    confirm_hash(confirm, payload)
}

fn init(a: InitArgs) -> Result<Value> {
    let now = super::now_or(a.common.at.as_deref())?;
    check_airgap(a.common.allow_online)?;
    let file: CeremonyFile = match &a.config {
        Some(p) => {
            let text = String::from_utf8(read_input(p)?)
                .map_err(|_| usage(format!("{}: not UTF-8", p.display())))?;
            toml::from_str(&text).map_err(|e| usage(format!("{}: {}", p.display(), e.message())))?
        }
        None => CeremonyFile::default(),
    };
    // A flag and the ceremony file never silently override each other.
    if let Some(p) = &a.config {
        let both = [
            ("--registry", "registry", a.registry.is_some() && file.registry.is_some()),
            ("--custodian", "custodians", !a.custodians.is_empty() && !file.custodians.is_empty()),
            ("--threshold", "threshold", a.threshold.is_some() && file.threshold.is_some()),
            ("--index-key", "index_key", a.index_key.is_some() && file.index_key.is_some()),
        ];
        if let Some((flag, key, _)) = both.iter().find(|(_, _, set)| *set) {
            return Err(usage(format!(
                "{flag} and `{key}` in {} are both given; give one of them",
                p.display()
            )));
        }
    }
    let registry = a
        .registry
        .clone()
        .or(file.registry)
        .ok_or_else(|| usage("no registry name: --registry or `registry` in the ceremony file"))?;
    if registry.is_empty() || registry.chars().any(|c| c.is_control()) {
        return Err(usage(format!(
            "registry name {registry:?} must be non-empty text without control characters"
        )));
    }
    let specs = if a.custodians.is_empty() { file.custodians } else { a.custodians.clone() };
    if specs.is_empty() {
        return Err(usage("no custodians: --custodian NAME (repeat) or `custodians` in the ceremony file"));
    }
    // NAME=FILE.pub: a custodian who made their key on their own machine
    // (or token) and brings only the public half.
    let brought: Vec<Option<PathBuf>> =
        specs.iter().map(|c| c.split_once('=').map(|(_, p)| p.into())).collect();
    let custodians: Vec<String> =
        specs.iter().map(|c| c.split_once('=').map_or(c.as_str(), |(n, _)| n).to_owned()).collect();
    let byo = brought.iter().any(Option::is_some);
    if byo && brought.iter().any(Option::is_none) {
        return Err(usage(
            "give every custodian as NAME=FILE.pub, or none (a rehearsal may generate all keys here)",
        ));
    }
    let mut unique = std::collections::BTreeSet::new();
    for c in &custodians {
        if !unique.insert(c.as_str()) {
            return Err(usage(format!("custodian {c:?} is named twice")));
        }
        if c.is_empty()
            || c == "index"
            || !c.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
        {
            return Err(usage(format!(
                "custodian name {c:?} must be letters, digits, - or _ (and not \"index\")"
            )));
        }
    }
    let threshold = a
        .threshold
        .or(file.threshold)
        .ok_or_else(|| usage("no threshold: --threshold M or `threshold` in the ceremony file"))?;
    let index_pub = a.index_key.clone().or(file.index_key);
    let expiry_days = file.expiry_days.unwrap_or_default();
    if threshold == 0 || threshold > custodians.len() as u64 {
        return Err(usage(format!(
            "threshold {threshold} is impossible with {} custodian(s)",
            custodians.len()
        )));
    }
    let index_key = match &index_pub {
        Some(p) => Some(read_public(p)?),
        None => None,
    };
    let public_keys: Vec<(String, PublicKey)> = if byo {
        if index_key.is_none() {
            return Err(usage("custodians brought their own keys: the registry operator brings the index key too (--index-key FILE.pub)"));
        }
        let mut v = Vec::new();
        for (n, p) in custodians.iter().zip(brought.iter().flatten()) {
            v.push((n.clone(), read_public(p)?));
        }
        v
    } else {
        Vec::new()
    };
    // Refuse before any key is generated, so a failed init leaves nothing.
    if a.out.exists() && std::fs::read_dir(&a.out).map(|mut d| d.next().is_some()).unwrap_or(true) {
        return Err(usage(format!("{}: already exists and is not empty", a.out.display())));
    }
    banner(a.rehearsal);
    // Everything is written into a staging directory beside the output and
    // renamed into place at the end: an interruption at any moment leaves
    // the output absent (or empty) or complete, never half a ceremony.
    let name =
        a.out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "ceremony".into());
    let stage = dir_of(&a.out).join(format!(".{name}.partial-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&stage);
    let made = if byo {
        let index_key = index_key.context("index key checked above")?;
        init_drafts(&a, &stage, registry, public_keys, threshold, index_key, expiry_days, now)
    } else {
        eprintln!(
            "airlock: warning: every key is generated on this machine: right for a rehearsal; at a real ceremony each custodian brings a public key made on their own machine (--custodian NAME=FILE.pub)"
        );
        init_into(&a, &stage, registry, custodians, threshold, index_key, expiry_days, now)
    };
    let result = made.and_then(|(log, facts)| {
        // The default transcript is part of the ceremony directory; one
        // elsewhere is written once the ceremony is in place.
        let custom = a.common.transcript.is_some();
        let shown = a.out.join(log.transcript.strip_prefix(&stage).unwrap_or(&log.transcript));
        let (log, rec) =
            if custom { (Some(log), None) } else { (None, Some(transcript_step_shown(log, &shown)?)) };
        std::fs::rename(&stage, &a.out)
            .with_context(|| format!("{}: cannot move the finished ceremony into place", a.out.display()))?;
        let (file, rec) = match (log, rec) {
            (Some(l), _) => (l.transcript.clone(), record_step(l.rebase(&stage, &a.out))?),
            (None, Some(rec)) => (shown, rec),
            (None, None) => unreachable!("a record is made in one of the two places"),
        };
        Ok((facts, file, rec))
    });
    let (mut facts, file, rec) = match result {
        Ok(r) => r,
        Err(e) => {
            // A failed ceremony leaves nothing behind, not even half the keys.
            let _ = std::fs::remove_dir_all(&stage);
            return Err(e);
        }
    };
    facts["out"] = a.out.display().to_string().into();
    facts["files"] = files_json(&files_under(&a.out)?)?;
    facts["transcript"] = transcript_json(&file, &rec);
    Ok(facts)
}

/// Every file under `dir`, at any depth, in sorted order.
fn files_under(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .and_then(|d| d.map(|e| e.map(|e| e.path())).collect())
        .with_context(|| format!("{}: cannot list", dir.display()))?;
    entries.sort();
    for p in entries {
        if p.is_dir() {
            out.extend(files_under(&p)?);
        } else {
            out.push(p);
        }
    }
    Ok(out)
}

/// Writes the drafts of a first ceremony whose custodians brought their own
/// public keys into `dir`: `draft-1.json` (root version 1, unsigned),
/// `draft-1.targets.json` (the first top-level targets, unsigned) and
/// `identity.txt` (the identity is the hash of root version 1's signed
/// content, fixed before anyone signs). Each custodian signs both on their
/// own machine (`ceremony sign`); `ceremony finalize draft-1.json --targets
/// draft-1.targets.json --out DIR/1.root.json` then writes both.
#[allow(clippy::too_many_arguments)]
fn init_drafts(
    a: &InitArgs,
    dir: &Path,
    registry: String,
    custodians: Vec<(String, PublicKey)>,
    threshold: u64,
    index_key: PublicKey,
    expiry_days: ExpiryDays,
    now: Timestamp,
) -> Result<(StepLog, Value)> {
    std::fs::create_dir_all(dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    let names: Vec<String> = custodians.iter().map(|(n, _)| n.clone()).collect();
    let custodian_ids: Vec<Value> =
        custodians.iter().map(|(n, k)| json!({"name": n, "keyid": k.key_id()})).collect();
    let index_keyid = index_key.key_id();
    let root = initial_root(
        &InitialRoot {
            registry: registry.clone(),
            custodians,
            threshold,
            index_key,
            expiry_days,
            rehearsal: a.rehearsal,
        },
        now,
    )
    .map_err(|e| usage(e.to_string()))?;
    let draft = Metadata::new(root).map_err(|e| anyhow::anyhow!("building root: {e}"))?;
    let identity = registry_identity(&draft);
    let targets = Metadata::new(Targets::new(1, now.plus_secs(expiry_days.targets as i64 * 86_400)))
        .map_err(|e| anyhow::anyhow!("building targets: {e}"))?;
    let targets = airlock_bundles::registry::TargetsDraft { base: None, proposed: targets };
    let (root_path, targets_path, id_path) =
        (dir.join("draft-1.json"), dir.join("draft-1.targets.json"), dir.join("identity.txt"));
    write_new(&root_path, &draft.to_bytes())?;
    write_new(&targets_path, &targets.to_bytes())?;
    write_new(&id_path, format!("{identity}\n").as_bytes())?;
    for line in describe_changes(&no_root(draft.signed()), draft.signed()) {
        println!("  {}", safe(&line));
    }
    println!(
        "wrote {} (root version 1, to be signed by every custodian)",
        a.out.join("draft-1.json").display()
    );
    println!(
        "wrote {} (the first top-level targets, to be signed too)",
        a.out.join("draft-1.targets.json").display()
    );
    println!("root version 1 payload hash {}", short_hash(&draft.payload()));
    println!("first targets payload hash {}", short_hash(&targets.proposed.payload()));
    println!("registry identity: {}", group4(&identity));
    println!("read aloud:        {}", airlock_core::identity::words(&identity).unwrap_or_default());
    let facts = json!({
        "registry": registry,
        "identity": identity,
        "rehearsal": a.rehearsal,
        "keys": "brought",
        "root_version": 1,
        "root_expires": draft.signed().expires,
        "threshold": threshold,
        "custodians": custodian_ids,
        "index_keyid": index_keyid,
        "root_payload_sha256": sha256_hex(&draft.payload()),
        "targets_payload_sha256": sha256_hex(&targets.proposed.payload()),
        "signed_by": Vec::<KeyId>::new(),
    });
    let log = StepLog {
        transcript: a.common.transcript.clone().unwrap_or_else(|| dir.join("transcript.jsonl")),
        step: "ceremony init",
        now,
        rehearsal: a.rehearsal,
        allow_online: a.common.allow_online,
        key_ids: draft.signed().keys.keys().cloned().collect(),
        files: vec![root_path, targets_path, id_path],
        details: serde_json::json!({"registry": registry, "identity": identity, "threshold": threshold, "custodians": names, "keys": "brought by the custodians"}),
    };
    Ok((log, facts))
}

/// Writes a first ceremony into `dir` and returns its transcript record
/// (files named under `dir`), for the caller to log once it is in place.
#[allow(clippy::too_many_arguments)]
fn init_into(
    a: &InitArgs,
    dir: &Path,
    registry: String,
    custodians: Vec<String>,
    threshold: u64,
    index_key: Option<PublicKey>,
    expiry_days: ExpiryDays,
    now: Timestamp,
) -> Result<(StepLog, Value)> {
    let opts = key_file_options()?;
    let keys_dir = dir.join("keys");
    std::fs::create_dir_all(&keys_dir).with_context(|| format!("{}: cannot create", keys_dir.display()))?;
    let mut general =
        if a.passphrase_dir.is_none() { Some(source(&PassphraseArgs::default())?) } else { None };
    let mut signers = Vec::new();
    let mut written = Vec::new();
    let mut names: Vec<String> = custodians.clone();
    if index_key.is_none() {
        names.push("index".to_owned());
    }
    for name in &names {
        let request = PassphraseRequest::new_key(format!("{name}'s new key")).for_custodian(name.clone());
        let pass = match (&a.passphrase_dir, general.as_mut()) {
            (Some(d), _) => ask(&mut FilePassphrase::new(d.join(name)), &request)?,
            (None, Some(src)) => ask(src.as_mut(), &request)?,
            (None, None) => unreachable!("a passphrase source is always chosen"),
        };
        // A rehearsal's throwaway keys may have throwaway passphrases.
        let allow_weak = a.allow_weak_passphrase || a.rehearsal;
        check_new_passphrase(&pass, &format!("{name}'s passphrase"), allow_weak, &[name, &registry])?;
        let signer = generate().map_err(key_error)?;
        let (kp, pp) = (keys_dir.join(format!("{name}.key")), keys_dir.join(format!("{name}.pub")));
        write_key_file(&kp, &signer, &pass, &opts).map_err(key_error)?;
        write_public_key_file(&pp, signer.public_key()).map_err(key_error)?;
        println!("generated {name}'s key {}", signer.key_id().grouped());
        // Only public files go into the transcript: custodians carry their
        // private key files away, and those are encrypted anyway.
        written.push(pp);
        signers.push((name.clone(), signer));
    }
    // A generated index key signs root version 1 too, as every key that
    // enters root does; an existing one (`index_key` in the ceremony file)
    // is not here to sign, so it proves itself at `registry init`.
    let (index_key, index_signer) = match index_key {
        Some(k) => {
            eprintln!(
                "airlock: warning: the existing index key {} does not sign root version 1; it first proves it is held at `registry init`",
                k.key_id().short()
            );
            (k, None)
        }
        None => {
            let (_, s) = signers.pop().context("index key missing")?;
            (s.public_key().clone(), Some(s))
        }
    };
    let root = initial_root(
        &InitialRoot {
            registry: registry.clone(),
            custodians: signers.iter().map(|(n, s)| (n.clone(), s.public_key().clone())).collect(),
            threshold,
            index_key: index_key.clone(),
            expiry_days,
            rehearsal: a.rehearsal,
        },
        now,
    )
    .map_err(|e| usage(e.to_string()))?;
    let mut md = Metadata::new(root).map_err(|e| anyhow::anyhow!("building root: {e}"))?;
    println!("root version 1 payload hash: {}", short_hash(&md.payload()));
    let index_signs = index_signer.as_ref().map(|s| ("the index key", s));
    for (name, s) in signers.iter().map(|(n, s)| (n.as_str(), s)).chain(index_signs) {
        md.sign(s).map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
        println!("signed by {name} ({})", s.key_id().short());
    }
    let identity = registry_identity(&md);
    // The first top-level targets delegates nothing yet; the custodians
    // sign it now, since only their offline keys may sign namespace ownership.
    let mut targets = Metadata::new(Targets::new(1, now.plus_secs(expiry_days.targets as i64 * 86_400)))
        .map_err(|e| anyhow::anyhow!("building targets: {e}"))?;
    for (name, s) in &signers {
        targets.sign(s).map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
    }
    let root_path = dir.join("1.root.json");
    write_new(&root_path, &md.to_bytes())?;
    let targets_path = dir.join("1.targets.json");
    write_new(&targets_path, &targets.to_bytes())?;
    written.push(targets_path.clone());
    println!(
        "wrote {} (no publishers yet; signed by every custodian)",
        a.out.join("1.targets.json").display()
    );
    let id_path = dir.join("identity.txt");
    write_new(&id_path, format!("{identity}\n").as_bytes())?;
    written.push(root_path.clone());
    written.push(id_path);
    println!("wrote {}", a.out.join("1.root.json").display());
    println!("index key: {}", index_key.key_id().grouped());
    println!("registry identity: {}", group4(&identity));
    println!("read aloud:        {}", airlock_core::identity::words(&identity).unwrap_or_default());
    let keyids: Vec<KeyId> = md.signed().keys.keys().cloned().collect();
    let facts = json!({
        "registry": registry,
        "identity": identity,
        "rehearsal": a.rehearsal,
        "keys": "generated",
        "root_version": 1,
        "root_expires": md.signed().expires,
        "threshold": threshold,
        "custodians": signers.iter().map(|(n, s)| json!({"name": n, "keyid": s.key_id()})).collect::<Vec<_>>(),
        "index_keyid": index_key.key_id(),
        "root_payload_sha256": sha256_hex(&md.payload()),
        "targets_payload_sha256": sha256_hex(&targets.payload()),
        "signed_by": md.signatures().iter().map(|s| &s.keyid).collect::<Vec<_>>(),
    });
    let log = StepLog {
        transcript: a.common.transcript.clone().unwrap_or_else(|| dir.join("transcript.jsonl")),
        step: "ceremony init",
        now,
        rehearsal: a.rehearsal,
        allow_online: a.common.allow_online,
        key_ids: keyids,
        files: written,
        details: serde_json::json!({"registry": registry, "identity": identity, "threshold": threshold, "custodians": custodians}),
    };
    Ok((log, facts))
}

fn read_public(p: &Path) -> Result<PublicKey> {
    let text =
        String::from_utf8(read_input(p)?).map_err(|_| usage(format!("{}: not a PEM file", p.display())))?;
    PublicKey::from_spki_pem(&text).map_err(|e| usage(format!("{}: {e}", p.display())))
}

/// The registry identity a root belongs to.
fn identity_of(root: &Metadata<Root>) -> Result<String> {
    if root.signed().version == 1 {
        return Ok(registry_identity(root));
    }
    let ext = RootExtension::of(root.signed()).map_err(|e| refused(e.to_string()))?;
    ext.identity.ok_or_else(|| refused("root carries no registry identity"))
}

fn propose_cmd(a: ProposeArgs) -> Result<Value> {
    let now = super::now_or(a.common.at.as_deref())?;
    check_airgap(a.common.allow_online)?;
    let current = load_root(&a.root)?;
    ensure_absent(&a.out)?;
    let mut changes = Vec::new();
    for spec in &a.add {
        let (name, path) = spec
            .split_once('=')
            .ok_or_else(|| usage(format!("--add-custodian {spec:?}: expected NAME=PUB")))?;
        changes.push(Change::AddCustodian { name: name.to_owned(), key: read_public(Path::new(path))? });
    }
    for who in &a.remove {
        changes.push(Change::RemoveCustodian(who.clone()));
    }
    if let Some(t) = a.threshold {
        changes.push(Change::SetThreshold(t));
    }
    if let Some(p) = &a.rotate_index {
        let deadline = now.plus_secs(i64::from(a.window_days) * 86_400);
        changes.push(Change::RotateIndex { new_key: read_public(p)?, deadline });
    }
    if let Some(p) = &a.revoke_index {
        changes.push(Change::RevokeIndex { new_key: read_public(p)? });
    }
    if let Some(e) = &a.expires {
        changes.push(Change::SetExpires(Timestamp::parse(e).map_err(|e| usage(format!("--expires: {e}")))?));
    }
    let next = propose(&current, &changes, now).map_err(|e| usage(format!("{}: {e}", a.root.display())))?;
    let draft = Metadata::new(next).map_err(|e| anyhow::anyhow!("building draft: {e}"))?;
    let ext = RootExtension::of(draft.signed()).map_err(|e| usage(e.to_string()))?;
    banner(ext.rehearsal);
    for line in describe_changes(current.signed(), draft.signed()) {
        println!("  {}", safe(&line));
    }
    write_new(&a.out, &draft.to_bytes())?;
    println!(
        "wrote draft {} (root version {}), payload hash {}",
        a.out.display(),
        draft.signed().version,
        short_hash(&draft.payload())
    );
    let changes = describe_changes(current.signed(), draft.signed());
    let transcript = a.common.transcript.unwrap_or_else(|| dir_of(&a.out).join("transcript.jsonl"));
    let rec = record_step(StepLog {
        transcript: transcript.clone(),
        step: "ceremony propose",
        now,
        rehearsal: ext.rehearsal,
        allow_online: a.common.allow_online,
        key_ids: Vec::new(),
        files: vec![a.out.clone()],
        details: serde_json::json!({"version": draft.signed().version, "changes": changes}),
    })?;
    Ok(json!({
        "draft": a.out.display().to_string(),
        "registry": ext.registry,
        "identity": identity_of(&draft)?,
        "rehearsal": ext.rehearsal,
        "previous_version": current.signed().version,
        "version": draft.signed().version,
        "expires": draft.signed().expires,
        "changes": changes,
        "payload_sha256": sha256_hex(&draft.payload()),
        "files": files_json(std::slice::from_ref(&a.out))?,
        "transcript": transcript_json(&transcript, &rec),
    }))
}

/// Loads the current root and a draft, and checks the draft belongs after
/// it. Without a current root the draft must be root version 1 (custodians
/// who brought their own keys sign it before it exists); its "current root"
/// is then an empty one, so every key in it counts as new.
fn load_pair(root: Option<&Path>, draft: &Path) -> Result<(Root, Option<Metadata<Root>>, Metadata<Root>)> {
    let d = load_root(draft)?;
    let Some(root) = root else {
        if d.signed().version != 1 {
            return Err(usage(format!(
                "{}: root version {} needs --root, the current root",
                draft.display(),
                d.signed().version
            )));
        }
        return Ok((no_root(d.signed()), None, d));
    };
    let current = load_root(root)?;
    let (cid, did) =
        (identity_of(&current)?, identity_of(&d).map_err(|e| refused(format!("{}: {e}", draft.display())))?);
    if cid != did {
        return Err(refused(format!(
            "{}: draft is for registry {} but the current root is registry {}",
            draft.display(),
            &did[..16],
            &cid[..16]
        )));
    }
    if d.signed().version != current.signed().version + 1 {
        return Err(refused(format!(
            "{}: draft is root version {}, but the next version after {} is {}",
            draft.display(),
            d.signed().version,
            root.display(),
            current.signed().version + 1
        )));
    }
    Ok((current.signed().clone(), Some(current), d))
}

/// The empty root before version 1: no keys, no roles, `draft`'s extension.
fn no_root(draft: &Root) -> Root {
    let mut r = draft.clone();
    r.version = 0;
    r.keys.clear();
    r.roles.clear();
    r
}

/// The key a draft signature must verify with: a root key of the current
/// root or of the draft.
fn root_signing_key(current: &Root, draft: &Root, id: &KeyId) -> Option<PublicKey> {
    [current, draft]
        .into_iter()
        .find(|r| r.role("root").is_some_and(|k| k.keyids.contains(id)))
        .and_then(|r| r.keys.get(id).cloned())
        .or_else(|| new_key_ids(current, draft).contains(id).then(|| draft.keys.get(id).cloned()).flatten())
}

/// The keys `draft` lists in some role that `current` lists in none: the
/// keys this version brings in (custodians' and index keys alike), each
/// of which must sign it to show that someone holds it.
fn new_key_ids(current: &Root, draft: &Root) -> Vec<KeyId> {
    let listed = |r: &Root| -> std::collections::BTreeSet<KeyId> {
        r.roles.values().flat_map(|k| k.keyids.iter().cloned()).collect()
    };
    let before = listed(current);
    listed(draft).into_iter().filter(|id| !before.contains(id)).collect()
}

/// Who holds key `id` of `root`, as a review names them: a custodian by
/// name, or the index key.
fn holder(root: &Root, id: &KeyId) -> Option<String> {
    let names = airlock_core::extension::custodian_names([root]);
    names
        .get(id)
        .map(|n| safe(n).into_owned())
        .or_else(|| crate::steps::is_index_key(root, id).then(|| "the index key".to_owned()))
}

/// Asks the custodian to type back the read-back shown, as hex or as the
/// words (or takes `--confirm`), refusing on any difference.
pub(crate) fn confirm_hash(confirm: Option<&str>, payload: &[u8]) -> Result<()> {
    let typed = match confirm {
        Some(c) => c.to_owned(),
        None if std::io::stdin().is_terminal() => {
            eprint!("type the payload hash (or its words) to sign: ");
            let mut line = String::new();
            std::io::stdin().read_line(&mut line)?;
            line
        }
        None => return Err(usage("confirm the payload hash: --confirm HASH (no terminal to ask at)")),
    };
    let hex: String = typed.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_lowercase();
    let words = typed.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase();
    if hex != short_hash(payload).replace(' ', "") && words != payload_words(payload) {
        return Err(usage(format!(
            "confirmation {:?} does not match the payload hash {}; nothing signed",
            typed.trim(),
            short_hash(payload)
        )));
    }
    Ok(())
}

fn sign(a: SignArgs) -> Result<Value> {
    if is_targets_draft(&a.draft)? {
        return super::ownership::sign(a);
    }
    let now = super::now_or(a.common.at.as_deref())?;
    check_airgap(a.common.allow_online)?;
    let (before, current, mut draft) = load_pair(a.root.as_deref(), &a.draft)?;
    let ext = RootExtension::of(draft.signed()).map_err(|e| refused(e.to_string()))?;
    banner(ext.rehearsal);
    // Names in a draft are whoever wrote it: rendered for the terminal.
    // Version 1 is the identity (its payload's hash); later versions carry it.
    let identity = identity_of(&draft).unwrap_or_default();
    println!(
        "registry {} (identity {})",
        safe(&ext.registry),
        safe(&group4(identity.get(..16).unwrap_or(&identity)))
    );
    println!("changes from root version {} to {}:", before.version, draft.signed().version);
    for line in describe_changes(&before, draft.signed()) {
        println!("  {}", safe(&line));
    }
    let names = airlock_core::extension::custodian_names([&before, draft.signed()]);
    let stale = stale_signatures(draft.signatures(), &draft.payload(), |id| {
        root_signing_key(&before, draft.signed(), id)
    });
    let removed = stale.clone();
    drop_stale(&mut draft, stale, &a.draft, a.remove_stale, |id| names.get(id).cloned())?;
    let payload = draft.payload();
    read_back(a.confirm.as_deref(), &payload)?;
    let signer = load_signer(&a.key, &a.passphrase)?;
    let id = signer.key_id();
    let key = root_signing_key(&before, draft.signed(), &id).ok_or_else(|| {
        usage(format!(
            "{}: key {} is not a root key of the current root or the draft",
            a.key.display(),
            id.short()
        ))
    })?;
    draft.sign(signer.as_ref()).map_err(|e| anyhow::anyhow!("{}: {e}", a.key.display()))?;
    let sig = draft.signatures().iter().find(|s| s.keyid == id).map(|s| s.sig.clone()).unwrap_or_default();
    key.verify(&payload, &sig).map_err(|e| anyhow::anyhow!("the new signature does not verify: {e}"))?;
    write_atomic(&a.draft, &draft.to_bytes())?;
    let who = holder(draft.signed(), &id).or_else(|| holder(&before, &id));
    println!("signed by {} ({}); signature checked", who.as_deref().unwrap_or("(unnamed)"), id.grouped());
    println!("signatures now: {}", draft.signatures().len());
    let transcript = a.common.transcript.unwrap_or_else(|| travelling_transcript(&a.draft));
    let rec = record_step(StepLog {
        transcript: transcript.clone(),
        step: "ceremony sign",
        now,
        rehearsal: ext.rehearsal,
        allow_online: a.common.allow_online,
        key_ids: vec![id.clone()],
        files: vec![a.draft.clone()],
        details: serde_json::json!({"version": draft.signed().version, "payload_sha256": sha256_hex(&payload)}),
    })?;
    let mut facts = root_draft_facts(&a.draft, &before, current.is_some(), &draft, now)?;
    facts["keyid"] = json!(id);
    facts["signer"] = json!(who_exact(draft.signed(), &id).or_else(|| who_exact(&before, &id)));
    facts["removed_stale"] = json!(removed);
    facts["transcript"] = transcript_json(&transcript, &rec);
    Ok(facts)
}

/// Who holds key `id` of `root` as the root names them (exact, for JSON):
/// a custodian's name, or `index` for the index key.
fn who_exact(root: &Root, id: &KeyId) -> Option<String> {
    airlock_core::extension::custodian_names([root])
        .get(id)
        .cloned()
        .or_else(|| crate::steps::is_index_key(root, id).then(|| "index".to_owned()))
}

/// What a signing step's JSON says of a root draft: its registry, version,
/// payload hash, the signatures on it counted against the current root's
/// and its own root keys, the new keys yet to sign it, and whether
/// `finalize` would now accept it (`complete`).
fn root_draft_facts(
    path: &Path,
    before: &Root,
    has_current: bool,
    draft: &Metadata<Root>,
    now: Timestamp,
) -> Result<Value> {
    let payload = draft.payload();
    let ext = RootExtension::of(draft.signed()).map_err(|e| refused(e.to_string()))?;
    let mut thresholds = Vec::new();
    if has_current {
        thresholds.push(threshold_json(before, "root", draft.signatures(), &payload, now)?);
    }
    thresholds.push(threshold_json(draft.signed(), "root", draft.signatures(), &payload, now)?);
    let unsigned = new_keys_unsigned_ids(before, draft);
    let complete = unsigned.is_empty() && thresholds.iter().all(|t| t["met"] == true);
    Ok(json!({
        "draft": path.display().to_string(),
        "kind": "root",
        "registry": ext.registry,
        "identity": identity_of(draft).ok(),
        "rehearsal": ext.rehearsal,
        "version": draft.signed().version,
        "payload_sha256": sha256_hex(&payload),
        "signatures": draft.signatures().len(),
        "thresholds": thresholds,
        "new_keys_unsigned": unsigned,
        "complete": complete,
    }))
}

/// Signatures on a draft that do not verify over its payload with the key
/// `key_of` names for their key id: made over an earlier version of the
/// draft (it changed after they were made), or by a key that may not sign.
pub(crate) fn stale_signatures(
    signatures: &[Signature],
    payload: &[u8],
    key_of: impl Fn(&KeyId) -> Option<PublicKey>,
) -> Vec<KeyId> {
    signatures
        .iter()
        .filter(|s| key_of(&s.keyid).is_none_or(|k| k.verify(payload, &s.sig).is_err()))
        .map(|s| s.keyid.clone())
        .collect()
}

/// Names each stale signature; removes them with `remove`, else refuses
/// to sign a draft that carries them (exit 1).
pub(crate) fn drop_stale<T: airlock_core::metadata::Role>(
    md: &mut Metadata<T>,
    stale: Vec<KeyId>,
    draft: &Path,
    remove: bool,
    name_of: impl Fn(&KeyId) -> Option<String>,
) -> Result<()> {
    if stale.is_empty() {
        return Ok(());
    }
    let who = |id: &KeyId| name_of(id).map_or_else(|| id.grouped(), |n| format!("{n} ({})", id.short()));
    for id in &stale {
        println!(
            "STALE signature by {}: it does not verify over this draft (made before the draft changed?)",
            who(id)
        );
    }
    if !remove {
        return Err(refused(format!(
            "{}: carries {} stale signature(s), by {}; nothing signed (ask the proposer why the draft changed; --remove-stale removes them)",
            draft.display(),
            stale.len(),
            stale.iter().map(who).collect::<Vec<_>>().join(", ")
        )));
    }
    for id in &stale {
        md.remove_signature(id);
        println!("removed the stale signature by {}", who(id));
    }
    Ok(())
}

/// The keys `draft` brings in (see [`new_key_ids`]) without a valid
/// signature by them on the draft, named as a review names them.
fn new_keys_unsigned(current: &Root, draft: &Metadata<Root>) -> Vec<String> {
    new_keys_unsigned_ids(current, draft)
        .into_iter()
        .map(|id| holder(draft.signed(), &id).map_or_else(|| id.short(), |n| format!("{n} ({})", id.short())))
        .collect()
}

/// The key ids of [`new_keys_unsigned`].
fn new_keys_unsigned_ids(current: &Root, draft: &Metadata<Root>) -> Vec<KeyId> {
    let payload = draft.payload();
    let signed = |id: &KeyId, key: &PublicKey| {
        draft.signatures().iter().any(|s| s.keyid == *id && key.verify(&payload, &s.sig).is_ok())
    };
    new_key_ids(current, draft.signed())
        .into_iter()
        .filter(|id| draft.signed().keys.get(id).is_none_or(|k| !signed(id, k)))
        .collect()
}

/// A `--keyid` in any form airlock prints: the 64 hex digits, grouped in
/// fours or not, or the short form (the first 16), resolved among `known`
/// key ids; an ambiguous or unknown prefix is refused, never guessed.
pub(crate) fn keyid_arg<'a>(s: &str, known: impl IntoIterator<Item = &'a KeyId>) -> Result<KeyId> {
    let typed: String = s.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_lowercase();
    let mut matches: Vec<&KeyId> = known.into_iter().filter(|k| k.0.starts_with(&typed)).collect();
    matches.sort();
    matches.dedup();
    match (typed.len(), matches.as_slice()) {
        (0..16, _) => Err(usage(format!("--keyid {s:?}: give at least the 16 hex digits airlock prints"))),
        (_, [one]) => Ok((*one).clone()),
        (_, []) => Ok(KeyId(typed)),
        _ => Err(usage(format!("--keyid {s:?} matches {} keys; give more digits", matches.len()))),
    }
}

/// A detached signature file: hex text, or the raw signature bytes.
pub(crate) fn read_signature(path: &Path) -> Result<String> {
    let raw = read_input(path)?;
    let text = std::str::from_utf8(&raw)
        .ok()
        .map(str::trim)
        .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_hexdigit()));
    Ok(match text {
        Some(t) => t.to_ascii_lowercase(),
        None => hex::encode(&raw),
    })
}

/// Whether `path` holds a targets draft rather than a root draft.
fn is_targets_draft(path: &Path) -> Result<bool> {
    Ok(airlock_bundles::registry::TargetsDraft::is_draft(&read_input(path)?))
}

fn payload(a: PayloadArgs) -> Result<Value> {
    let now = super::now_or(a.common.at.as_deref())?;
    check_airgap(a.common.allow_online)?;
    let (kind, version, payload) = if is_targets_draft(&a.draft)? {
        let d = super::ownership::load_draft(&a.draft)?;
        ("targets", d.proposed.signed().version, d.proposed.payload())
    } else {
        let d = load_root(&a.draft)?;
        ("root", d.signed().version, d.payload())
    };
    write_new(&a.out, &payload)?;
    println!("wrote {} ({} bytes), payload hash {}", a.out.display(), payload.len(), short_hash(&payload));
    // Bytes taken out to be signed elsewhere are part of the ceremony's record.
    let transcript = a.common.transcript.unwrap_or_else(|| travelling_transcript(&a.draft));
    let rec = record_step(StepLog {
        transcript: transcript.clone(),
        step: "ceremony payload",
        now,
        rehearsal: false,
        allow_online: a.common.allow_online,
        key_ids: Vec::new(),
        // The bytes may go anywhere (a stick for the signing machine): their
        // hash identifies them, not a path under the ceremony directory.
        files: Vec::new(),
        details: serde_json::json!({
            "draft": a.draft.display().to_string(),
            "out": a.out.display().to_string(),
            "payload_sha256": sha256_hex(&payload),
        }),
    })?;
    Ok(json!({
        "draft": a.draft.display().to_string(),
        "kind": kind,
        "version": version,
        "out": a.out.display().to_string(),
        "length": payload.len(),
        "payload_sha256": sha256_hex(&payload),
        "transcript": transcript_json(&transcript, &rec),
    }))
}

fn add_signature(a: AddSignatureArgs) -> Result<Value> {
    if is_targets_draft(&a.draft)? {
        return super::ownership::add_signature(a);
    }
    let now = super::now_or(a.common.at.as_deref())?;
    check_airgap(a.common.allow_online)?;
    let (before, current, mut draft) = load_pair(a.root.as_deref(), &a.draft)?;
    let id = keyid_arg(&a.keyid, before.keys.keys().chain(draft.signed().keys.keys()))?;
    let key = root_signing_key(&before, draft.signed(), &id).ok_or_else(|| {
        usage(format!("key {} is not a root key of the current root or the draft", id.short()))
    })?;
    let sig_hex = read_signature(&a.signature)?;
    key.verify(&draft.payload(), &sig_hex).map_err(|e| {
        refused(format!(
            "{}: signature by {} over {}: {e}",
            a.signature.display(),
            id.short(),
            a.draft.display()
        ))
    })?;
    draft.add_signature(Signature { keyid: id.clone(), sig: sig_hex, extra: BTreeMap::new() });
    write_atomic(&a.draft, &draft.to_bytes())?;
    println!("added signature by {}; signature checked", id.grouped());
    let rehearsal = RootExtension::of(draft.signed()).is_ok_and(|e| e.rehearsal);
    let transcript = a.common.transcript.unwrap_or_else(|| travelling_transcript(&a.draft));
    let rec = record_step(StepLog {
        transcript: transcript.clone(),
        step: "ceremony add-signature",
        now,
        rehearsal,
        allow_online: a.common.allow_online,
        key_ids: vec![id.clone()],
        files: vec![a.draft.clone()],
        details: serde_json::json!({"version": draft.signed().version}),
    })?;
    let mut facts = root_draft_facts(&a.draft, &before, current.is_some(), &draft, now)?;
    facts["keyid"] = json!(id);
    facts["signer"] = json!(who_exact(draft.signed(), &id).or_else(|| who_exact(&before, &id)));
    facts["signature_file"] = a.signature.display().to_string().into();
    facts["transcript"] = transcript_json(&transcript, &rec);
    Ok(facts)
}

fn finalize(a: FinalizeArgs) -> Result<Value> {
    if is_targets_draft(&a.draft)? {
        return Err(usage(format!(
            "{}: a targets draft is published by the registry: airlock registry targets finalize {} --repo REG --key INDEX.key",
            a.draft.display(),
            a.draft.display()
        )));
    }
    let now = super::now_or(a.common.at.as_deref())?;
    check_airgap(a.common.allow_online)?;
    let (before, current, draft) = load_pair(a.root.as_deref(), &a.draft)?;
    ensure_absent(&a.out)?;
    // A key id that is not its key's hash, or one whose material changed,
    // is a key swapped behind a familiar id: never accepted, however many
    // signed (airlock writes neither; re-propose the change instead).
    let problems = airlock_keyceremony::rotation::key_id_problems(&before, draft.signed());
    if !problems.is_empty() {
        return Err(refused(format!("{}: {}", a.draft.display(), problems.join("; "))));
    }
    let first = current.is_none();
    let step = match &current {
        None => airlock_core::rootchain::trust_first_root(&registry_identity(&draft), &draft, now),
        Some(current) => airlock_core::rootchain::update_root(current, &draft, now),
    }
    .map_err(|e| refused(format!("{}: {e}", a.draft.display())))?;
    // Proof of possession: every custodian key the draft brings in must have
    // signed it, so no root ever names a key nobody showed they hold.
    let missing = new_keys_unsigned(&before, &draft);
    if !missing.is_empty() {
        return Err(refused(format!(
            "{}: new key(s) of {} did not sign the version that adds them; each key's holder signs it (ceremony sign) before finalize",
            a.draft.display(),
            missing.join(", ")
        )));
    }
    if draft.signed().expires <= now {
        return Err(refused(format!(
            "{}: expires {} which is not after now",
            a.draft.display(),
            draft.signed().expires
        )));
    }
    let ext = RootExtension::of(draft.signed()).map_err(|e| refused(e.to_string()))?;
    banner(ext.rehearsal);
    // Root version 1 comes with the first top-level targets the same
    // custodians signed; both are checked before either is written.
    let mut files = vec![a.out.clone()];
    let targets = match (&a.targets, first) {
        (Some(t), true) => {
            let d = super::ownership::load_draft(t)?;
            let p = &d.proposed;
            if d.base.is_some() || p.signed().version != 1 {
                return Err(usage(format!("{}: not a first (version 1) targets draft", t.display())));
            }
            airlock_core::Authorization::top_level(draft.signed(), "targets")
                .and_then(|auth| auth.verify(p.signatures(), &p.payload(), now))
                .map_err(|e| refused(format!("{}: {e}", t.display())))?;
            if p.signed().expires <= now {
                return Err(refused(format!(
                    "{}: expires {}, not after now",
                    t.display(),
                    p.signed().expires
                )));
            }
            let out = dir_of(&a.out).join("1.targets.json");
            ensure_absent(&out)?;
            Some((out, p.to_bytes()))
        }
        (Some(t), false) => {
            return Err(usage(format!(
                "{}: --targets goes with root version 1; later targets drafts are published by the registry",
                t.display()
            )))
        }
        (None, _) => None,
    };
    write_new(&a.out, &draft.to_bytes())?;
    if let Some((out, bytes)) = &targets {
        write_new(out, bytes)?;
        println!("wrote {} (the first top-level targets)", out.display());
        files.push(out.clone());
    }
    println!(
        "root version {} accepted: {}{} own root signature(s) ({} required)",
        step.version,
        step.by_previous
            .as_ref()
            .map(|r| format!("{} previous root signature(s) ({} required), ", r.counted.len(), r.threshold))
            .unwrap_or_default(),
        step.by_self.counted.len(),
        step.by_self.threshold
    );
    println!("wrote {}", a.out.display());
    // The signing steps that travelled with the draft join the ceremony's
    // transcript, then this step.
    let transcript = a.common.transcript.unwrap_or_else(|| dir_of(&a.out).join("transcript.jsonl"));
    let mut merged = merge_travelling(&a.draft, &transcript)?;
    if let Some(t) = &a.targets {
        merged += merge_travelling(t, &transcript)?;
    }
    let rec = record_step(StepLog {
        transcript: transcript.clone(),
        step: "ceremony finalize",
        now,
        rehearsal: ext.rehearsal,
        allow_online: a.common.allow_online,
        key_ids: step.by_self.counted.clone(),
        files: files.clone(),
        details: serde_json::json!({"version": step.version}),
    })?;
    Ok(json!({
        "draft": a.draft.display().to_string(),
        "out": a.out.display().to_string(),
        "targets_file": targets.as_ref().map(|(p, _)| p.display().to_string()),
        "registry": ext.registry,
        "identity": identity_of(&draft)?,
        "rehearsal": ext.rehearsal,
        "version": step.version,
        "expires": step.expires,
        "step": step,
        "files": files_json(&files)?,
        "merged_records": merged,
        "transcript": transcript_json(&transcript, &rec),
    }))
}
