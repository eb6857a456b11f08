//! What every ceremony step shares: the air-gap check, the transcript, and
//! the paper record.

use crate::cmd::root::{load_root, root_files};
use crate::exit::{refused, usage};
use airlock_core::extension::RootExtension;
use airlock_core::keys::group4;
use airlock_core::{registry_identity, KeyId, Timestamp};
use airlock_keyceremony::airgap::{check_offline, AirgapError};
use airlock_keyceremony::transcript;
use anyhow::Result;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// Whether a ceremony step runs with `--json`: its human lines then go to
/// stderr, and stdout carries the one JSON object only.
static JSON_STEP: AtomicBool = AtomicBool::new(false);

/// Sends the human lines of this run's ceremony step to stderr (`--json`).
pub fn set_json(json: bool) {
    JSON_STEP.store(json, Ordering::Relaxed);
}

/// A human line of a ceremony step (the `println!` of `ceremony` and
/// `ownership`): stdout, or stderr under `--json`, where the custodian
/// still reads the review and the read-back.
pub fn human(args: std::fmt::Arguments<'_>, newline: bool) {
    if JSON_STEP.load(Ordering::Relaxed) {
        if newline {
            eprintln!("{args}");
        } else {
            eprint!("{args}");
        }
    } else {
        crate::exit::out(args, newline);
    }
}

/// Prints a step's JSON object on stdout (the only thing there).
pub fn print_json(j: &serde_json::Value) -> Result<()> {
    crate::exit::out(format_args!("{}", serde_json::to_string_pretty(j)?), true);
    Ok(())
}

/// Refuses to run while a network interface other than loopback is up,
/// unless the custodian said `--allow-online` (which the transcript records).
pub fn check_airgap(allow_online: bool) -> Result<()> {
    match check_offline(Path::new("/sys/class/net")) {
        Ok(()) => Ok(()),
        Err(AirgapError::Online { interfaces }) if allow_online => {
            eprintln!("airlock: warning: network interfaces up ({}); continuing because of --allow-online", interfaces.join(", "));
            Ok(())
        }
        Err(AirgapError::Online { interfaces }) => Err(usage(format!(
            "network interfaces are up ({}): ceremonies run offline; unplug the network or pass --allow-online",
            interfaces.join(", ")
        ))),
        Err(e) if allow_online => {
            eprintln!("airlock: warning: {e}; continuing because of --allow-online");
            Ok(())
        }
        Err(e) => Err(usage(format!("{e}; pass --allow-online to run without the check"))),
    }
}

/// Whether `id` is an index key of `root` (it signs snapshot or timestamp).
pub fn is_index_key(root: &airlock_core::metadata::Root, id: &KeyId) -> bool {
    ["snapshot", "timestamp"].iter().any(|r| root.role(r).is_some_and(|k| k.keyids.contains(id)))
}

/// One step to record.
pub struct StepLog {
    /// The transcript file.
    pub transcript: PathBuf,
    /// The step's name.
    pub step: &'static str,
    /// When it ran.
    pub now: Timestamp,
    /// A rehearsal.
    pub rehearsal: bool,
    /// The air-gap check was overridden.
    pub allow_online: bool,
    /// Keys involved.
    pub key_ids: Vec<KeyId>,
    /// Files written (hashed into the record).
    pub files: Vec<PathBuf>,
    /// Step-specific facts.
    pub details: serde_json::Value,
}

impl StepLog {
    /// The same record with the files under `from` named under `to` (after
    /// a staging directory was renamed into place).
    pub fn rebase(mut self, from: &Path, to: &Path) -> Self {
        for f in &mut self.files {
            if let Ok(rest) = f.strip_prefix(from) {
                *f = to.join(rest);
            }
        }
        self
    }
}

/// Appends a record of `log` to its transcript.
pub fn transcript_step(log: StepLog) -> Result<()> {
    record_step(log).map(|_| ())
}

/// [`transcript_step`], returning the record appended (its `seq` goes into
/// a step's JSON).
pub fn record_step(log: StepLog) -> Result<transcript::Record> {
    let shown = log.transcript.clone();
    transcript_step_shown(log, &shown)
}

/// [`record_step`], naming the transcript `shown` in the message: where
/// it will be once a staging directory is renamed into place.
pub fn transcript_step_shown(log: StepLog, shown: &Path) -> Result<transcript::Record> {
    let base = match log.transcript.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut files = Vec::new();
    for f in &log.files {
        files.push(
            transcript::file_entry(&base, f)
                .map_err(|e| anyhow::anyhow!("{}: {e}", log.transcript.display()))?,
        );
    }
    let entry = transcript::NewRecord {
        time: log.now,
        step: log.step.to_owned(),
        rehearsal: log.rehearsal,
        allow_online: log.allow_online,
        key_ids: log.key_ids.iter().map(|k| k.0.clone()).collect(),
        files,
        details: log.details,
    };
    let rec = transcript::append(&log.transcript, entry)
        .map_err(|e| refused(format!("{}: {e}", log.transcript.display())))?;
    eprintln!("transcript: record {} appended to {}", rec.seq, shown.display());
    Ok(rec)
}

/// Where a step's record went, for its JSON: the transcript `file` and the
/// record's `seq`.
pub fn transcript_json(file: &Path, rec: &transcript::Record) -> serde_json::Value {
    serde_json::json!({"file": file.display().to_string(), "seq": rec.seq})
}

/// The files a step wrote, each `path` and `sha256` (lowercase hex), for
/// its JSON.
pub fn files_json(files: &[PathBuf]) -> Result<serde_json::Value> {
    let mut v = Vec::new();
    for f in files {
        let bytes = std::fs::read(f).map_err(|e| anyhow::anyhow!("{}: {e}", f.display()))?;
        v.push(serde_json::json!({"path": f.display().to_string(), "sha256": airlock_core::hash::sha256_hex(&bytes)}));
    }
    Ok(serde_json::Value::Array(v))
}

/// The transcript that travels with a draft: `DRAFT.transcript.jsonl`
/// beside it. Steps taken on the draft wherever it is (`sign`, `payload`,
/// `add-signature`, on a custodian's own machine) record there, and the
/// file goes on the stick with the draft; finalize merges it into the
/// ceremony's transcript ([`merge_travelling`]).
pub fn travelling_transcript(draft: &Path) -> PathBuf {
    let mut s = draft.as_os_str().to_owned();
    s.push(".transcript.jsonl");
    PathBuf::from(s)
}

/// Appends the records of `draft`'s travelling transcript (if there is
/// one) to the transcript `into`, each as a record of its own with the
/// original time, step, keys, files and details, plus `travelled`: the
/// original record's `seq` and the SHA-256 of its line, so the merged
/// record can be matched with the travelling one. The travelling
/// transcript must verify first. Files are renamed relative to `into`'s
/// directory (a draft outside it lists none; `travelled` keeps them).
/// Returns how many records were merged.
pub fn merge_travelling(draft: &Path, into: &Path) -> Result<usize> {
    let path = travelling_transcript(draft);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(anyhow::anyhow!("{}: {e}", path.display())),
    };
    let records = transcript::parse(&bytes).map_err(|e| refused(format!("{}: {e}", path.display())))?;
    let from_dir = draft.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let into_dir = into.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
    for (r, line) in records.iter().zip(lines) {
        let files: Vec<transcript::FileEntry> = r
            .files
            .iter()
            .filter_map(|f| {
                let abs = from_dir.join(&f.path);
                let rel = relative_to(&abs, into_dir)?;
                Some(transcript::FileEntry { path: rel, sha256: f.sha256.clone() })
            })
            .collect();
        let mut details = serde_json::Value::Object(r.details.clone());
        details["travelled"] = serde_json::json!({
            "transcript": path.display().to_string(),
            "seq": r.seq,
            "line_sha256": airlock_core::hash::sha256_hex(line),
            "files": r.files.iter().map(|f| serde_json::json!({"path": f.path, "sha256": f.sha256})).collect::<Vec<_>>(),
        });
        let entry = transcript::NewRecord {
            time: r.time,
            step: r.step.clone(),
            rehearsal: r.rehearsal,
            allow_online: r.allow_online,
            key_ids: r.key_ids.clone(),
            files,
            details,
        };
        transcript::append(into, entry).map_err(|e| refused(format!("{}: {e}", into.display())))?;
    }
    if !records.is_empty() {
        eprintln!(
            "transcript: {} record(s) from {} merged into {}",
            records.len(),
            path.display(),
            into.display()
        );
    }
    Ok(records.len())
}

/// `path` relative to `dir`, `/`-separated, when it lies under `dir`.
fn relative_to(path: &Path, dir: &Path) -> Option<String> {
    let canon = |p: &Path| std::fs::canonicalize(p).ok();
    let (p, d) = (canon(path.parent()?)?.join(path.file_name()?), canon(dir)?);
    let rest = p.strip_prefix(&d).ok()?;
    Some(
        rest.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect::<Vec<_>>().join("/"),
    )
}

/// `ceremony transcript verify`.
pub fn verify_transcript(path: &Path, base: Option<&Path>, json: bool) -> Result<()> {
    let base = base.map(Path::to_path_buf).unwrap_or_else(|| match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    });
    let result = transcript::verify(path, &base);
    if json {
        let j = match &result {
            Ok(r) => {
                serde_json::json!({"format": "airlock-transcript-verify-v1", "transcript": path.display().to_string(), "verified": true, "records": r.records})
            }
            Err(e) => {
                serde_json::json!({"format": "airlock-transcript-verify-v1", "transcript": path.display().to_string(), "verified": false, "error": e.to_string()})
            }
        };
        println!("{}", serde_json::to_string_pretty(&j)?);
    }
    let report = result.map_err(|e| refused(format!("{}: {e}", path.display())))?;
    if json {
        return Ok(());
    }
    println!(
        "{}: {} record(s), hash chain intact, every listed file matches",
        path.display(),
        report.records
    );
    Ok(())
}

/// `ceremony record --json`: the same record as one JSON object, names and
/// key ids exact; a transcript that does not verify is reported in it
/// (`verified: false`, `error`) and exits 1.
fn record_json(
    dir: &Path,
    roots: &[airlock_core::Metadata<airlock_core::metadata::Root>],
    identity: &str,
) -> Result<()> {
    let ext = roots.first().and_then(|r| RootExtension::of(r.signed()).ok());
    let names = airlock_core::extension::custodian_names(roots.iter().map(|r| r.signed()));
    let tpath = dir.join("transcript.jsonl");
    let verified = transcript::verify(&tpath, dir);
    let versions: Vec<serde_json::Value> = roots
        .iter()
        .map(|r| {
            let s = r.signed();
            let name = |id: &KeyId| {
                names.get(id).cloned().or_else(|| is_index_key(s, id).then(|| "index".to_owned()))
            };
            let roles: serde_json::Map<String, serde_json::Value> = s
                .roles
                .iter()
                .map(|(role, keys)| {
                    let ks: Vec<serde_json::Value> = keys
                        .keyids
                        .iter()
                        .map(|k| serde_json::json!({"keyid": k, "name": name(k), "retiring": keys.retiring.get(k)}))
                        .collect();
                    (role.clone(), serde_json::json!({"threshold": keys.threshold, "keys": ks}))
                })
                .collect();
            let signed_by: Vec<serde_json::Value> = r
                .signatures()
                .iter()
                .map(|sig| serde_json::json!({"keyid": sig.keyid, "name": name(&sig.keyid)}))
                .collect();
            serde_json::json!({"version": s.version, "expires": s.expires, "roles": roles, "signed_by": signed_by})
        })
        .collect();
    let transcript = match &verified {
        Ok(r) => {
            serde_json::json!({"file": tpath.display().to_string(), "verified": true, "records": r.records, "head": r.head})
        }
        Err(e) => {
            serde_json::json!({"file": tpath.display().to_string(), "verified": false, "error": e.to_string()})
        }
    };
    print_json(&serde_json::json!({
        "format": "airlock-ceremony-record-v1",
        "dir": dir.display().to_string(),
        "registry": ext.as_ref().map(|e| e.registry.clone()),
        "identity": identity,
        "rehearsal": ext.as_ref().is_some_and(|e| e.rehearsal),
        "roots": versions,
        "transcript": transcript,
    }))?;
    match verified {
        Ok(_) => Ok(()),
        Err(e) => Err(refused(format!("{}: the transcript does not verify: {e}", tpath.display()))),
    }
}

/// `ceremony record`: a one-page Markdown summary for the paper archive.
pub fn record(dir: &Path, json: bool) -> Result<()> {
    let files = root_files(&[dir.to_path_buf()])?;
    let mut roots = Vec::new();
    for f in &files {
        roots.push(load_root(f)?);
    }
    let first = roots.first().ok_or_else(|| usage(format!("{}: no N.root.json files", dir.display())))?;
    let identity = if first.signed().version == 1 {
        registry_identity(first)
    } else {
        RootExtension::of(first.signed()).ok().and_then(|e| e.identity).unwrap_or_default()
    };
    if json {
        return record_json(dir, &roots, &identity);
    }
    let ext = RootExtension::of(first.signed()).ok();
    let mut out = String::new();
    let registry =
        airlock_core::text::for_terminal(ext.as_ref().map_or("(unnamed)", |e| e.registry.as_str()))
            .into_owned();
    out.push_str(&format!("# Ceremony record: registry {registry}\n\n"));
    if ext.as_ref().is_some_and(|e| e.rehearsal) {
        out.push_str("**REHEARSAL: throwaway keys; not for real use.**\n\n");
    }
    out.push_str(&format!(
        "Registry identity:\n\n    {}\n\nRead aloud:\n\n    {}\n\n",
        group4(&identity),
        airlock_core::identity::words(&identity).unwrap_or_default()
    ));
    let names = airlock_core::extension::custodian_names(roots.iter().map(|r| r.signed()));
    for r in &roots {
        let s = r.signed();
        let name = |id: &KeyId| match names.get(id) {
            Some(n) => airlock_core::text::for_terminal(n).into_owned(),
            // A new index key signs the version that brings it in.
            None if is_index_key(s, id) => "the index key".to_owned(),
            None => "(unnamed)".to_owned(),
        };
        out.push_str(&format!("## Root version {} (expires {})\n\n", s.version, s.expires));
        for (role, keys) in &s.roles {
            out.push_str(&format!("- **{role}**: threshold {} of {}\n", keys.threshold, keys.keyids.len()));
            for k in &keys.keyids {
                let retiring = keys.retiring.get(k).map(|d| format!(", retiring at {d}")).unwrap_or_default();
                let who = if role == "root" { format!(" — {}", name(k)) } else { String::new() };
                out.push_str(&format!("  - `{}`{who}{retiring}\n", group4(&k.0)));
            }
        }
        out.push_str("\nSigned by:\n\n");
        for sig in r.signatures() {
            out.push_str(&format!("- `{}` — {}\n", group4(&sig.keyid.0), name(&sig.keyid)));
        }
        out.push('\n');
    }
    // Truncating a transcript leaves a valid shorter chain; the head on
    // paper is what shows that nothing was cut off.
    let tpath = dir.join("transcript.jsonl");
    let failure = match transcript::verify(&tpath, dir) {
        Ok(report) => {
            out.push_str(&format!(
                "Transcript: {} record(s), head `{}`\n",
                report.records,
                group4(&report.head)
            ));
            None
        }
        Err(e) => {
            // On paper as loudly as on the terminal: a record printed from
            // a ceremony whose transcript does not verify is not one.
            let e = airlock_core::text::for_terminal(&e.to_string()).into_owned();
            out.push_str(&format!("**TRANSCRIPT DOES NOT VERIFY: {e}**\n"));
            Some(e)
        }
    };
    print!("{out}");
    match failure {
        None => Ok(()),
        Some(e) => Err(refused(format!("{}: the transcript does not verify: {e}", tpath.display()))),
    }
}
