//! One import: verify into staging, then publish through a journal.

use super::error::{io, MirrorError};
use super::layout::{crash_point, sync_dir, write_atomic, Mirror, STATE_FILES};
use crate::bundle::{verify_bundle_from, ArtifactSink, BundleError, TrustedStart, VerifyOptions};
use airlock_core::bundle::BundleManifest;
use airlock_core::client::Trusted;
use airlock_core::metadata::TargetFile;
use airlock_core::Timestamp;
use airlock_keyceremony::transcript;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// What the importer's pins and policy decide. Implemented by the binary
/// over `airlock_core::pins::Pins` and `airlock_core::policy::Policy`.
pub trait ImportRules {
    /// The pinned repository whose registry identity is `identity`.
    fn repository(&self, identity: &str) -> Option<String>;
    /// The pinned root of `repo`.
    fn pinned_root(&self, repo: &str) -> Option<Vec<u8>>;
    /// Whether `repo` may provide `target` (namespace pins) and policy allows it.
    fn approve_target(&self, repo: &str, target: &str, info: &TargetFile, role: &str) -> Result<(), String>;
    /// Freshness policy on the timestamp's signed issue time.
    fn check_freshness(&self, issued: Option<Timestamp>, now: Timestamp) -> Result<(), String>;
    /// The time expiry is checked against (now less the clock-skew allowance).
    fn effective_now(&self, now: Timestamp) -> Timestamp {
        now
    }
}

/// What an accepted import changed.
#[derive(Debug, Clone, Serialize)]
pub struct ImportReport {
    /// The pinned repository.
    pub repo: String,
    /// SHA-256 of the bundle bytes.
    pub bundle_sha256: String,
    /// The snapshot version before (none on a first import).
    pub snapshot_from: Option<u64>,
    /// The snapshot version now.
    pub snapshot_to: u64,
    /// Root versions newly trusted.
    pub new_roots: Vec<u64>,
    /// Targets imported.
    pub targets: Vec<String>,
    /// Roles the bundle left out.
    pub omitted_roles: Vec<String>,
}

#[derive(Serialize, Deserialize)]
struct Journal {
    id: String,
    time: Timestamp,
    moves: Vec<(String, String)>,
    audit: Value,
}

struct Hashing<'a> {
    inner: &'a mut dyn Read,
    hash: Sha256,
    len: u64,
}

impl Read for Hashing<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }
}

/// The key material a delegation trusts: what must not change silently.
fn delegations_of(trusted: &Trusted) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for md in trusted.targets.values() {
        for d in md.signed().delegations.iter() {
            for r in &d.roles {
                let mut keys: Vec<String> = r
                    .keyids
                    .iter()
                    .filter_map(|id| d.keys.get(id))
                    .map(|k| k.material_id().replace('\0', " "))
                    .collect();
                keys.sort();
                let paths = r.paths.clone().unwrap_or_default();
                out.insert(r.name.clone(), json!({"keys": keys, "threshold": r.threshold, "paths": paths}));
            }
        }
    }
    out
}

/// The repository a bundle's manifest selected, and its snapshot version
/// before the import; shared by the selector and the sink.
type Chosen = Rc<RefCell<Option<(String, Option<u64>)>>>;

struct Sink<'a> {
    mirror: &'a Mirror,
    rules: &'a dyn ImportRules,
    staging: PathBuf,
    now: Timestamp,
    accept_key_change: &'a [String],
    /// The repository and its previous snapshot version, set by the
    /// selector once the manifest names the registry.
    chosen: Chosen,
    failure: RefCell<Option<MirrorError>>,
    delegations: Option<BTreeMap<String, Value>>,
    current: Option<(File, PathBuf)>,
}

impl Sink<'_> {
    fn fail(&self, e: MirrorError) -> String {
        let s = e.to_string();
        *self.failure.borrow_mut() = Some(e);
        s
    }

    fn repo(&self) -> String {
        self.chosen.borrow().as_ref().map(|c| c.0.clone()).unwrap_or_default()
    }

    fn previous_snapshot(&self) -> Option<u64> {
        self.chosen.borrow().as_ref().and_then(|c| c.1)
    }
}

impl ArtifactSink for Sink<'_> {
    fn verified_metadata(&mut self, manifest: &BundleManifest, trusted: &Trusted) -> Result<(), String> {
        let repo = self.repo();
        let new_version = trusted.snapshot.as_ref().map_or(0, |s| s.signed().version);
        // TUF 5.3.11 fast-forward recovery: when the new root chain rotated
        // the snapshot or timestamp keys, versions signed by the old keys
        // (perhaps inflated by a leaked key) no longer bind. The client has
        // already forgotten them; the mirror's own checks must too.
        let old_root = self
            .mirror
            .state(&repo)
            .ok()
            .and_then(|s| s.root)
            .and_then(|b| airlock_core::Metadata::<airlock_core::metadata::Root>::from_bytes(&b).ok());
        let rotated = old_root.is_some_and(|o| {
            ["snapshot", "timestamp"].iter().any(|r| o.signed().role(r) != trusted.root.signed().role(r))
        });
        if let Some(old) = self.previous_snapshot().filter(|_| !rotated) {
            if new_version <= old {
                return Err(self.fail(MirrorError::NotNewer { trusted: old, found: new_version }));
            }
        }
        if let Some(base) = manifest.base_snapshot_version {
            let have = self.previous_snapshot().unwrap_or(0);
            if base != have {
                return Err(self.fail(MirrorError::DeltaBaseMismatch { base, trusted: have }));
            }
            // A delta leaves unchanged roles out: the mirror must hold them
            // at exactly the version and hash the new snapshot signs.
            let snap = trusted.snapshot.as_ref().map(|s| s.signed().meta.clone()).unwrap_or_default();
            for (file, meta) in snap {
                let role = file.trim_end_matches(".json");
                if trusted.targets.contains_key(role) {
                    continue;
                }
                let path = self.mirror.served(&repo).join(format!("metadata/{}.{file}", meta.version));
                let ok = fs::read(&path).is_ok_and(|b| {
                    meta.hashes
                        .as_ref()
                        .and_then(|h| h.get("sha256"))
                        .is_none_or(|h| *h == airlock_core::hash::sha256_hex(&b))
                });
                if !ok {
                    return Err(self.fail(MirrorError::DeltaRoleMissing {
                        role: role.to_owned(),
                        version: meta.version,
                    }));
                }
            }
        }
        let new = delegations_of(trusted);
        let old: BTreeMap<String, Value> = self
            .mirror
            .state(&repo)
            .ok()
            .and_then(|s| s.delegations)
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        let key_part = |v: &Value| (v.get("keys").cloned(), v.get("threshold").cloned());
        let paths_of = |v: &Value| -> Vec<String> {
            v.get("paths")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|p| p.as_str().map(str::to_owned))
                .collect()
        };
        for (role, entry) in &new {
            if self.accept_key_change.contains(role) {
                continue;
            }
            match old.get(role) {
                Some(o) if key_part(o) != key_part(entry) => {
                    return Err(self.fail(MirrorError::DelegationChanged(role.clone())));
                }
                Some(_) => {}
                // A new delegation may not claim a namespace a trusted one holds.
                None => {
                    for (other, o) in &old {
                        let clash = paths_of(entry)
                            .iter()
                            .any(|p| paths_of(o).iter().any(|q| airlock_core::paths::patterns_overlap(p, q)));
                        if clash && other != role {
                            return Err(self.fail(MirrorError::NamespaceClaimed {
                                role: role.clone(),
                                owner: other.clone(),
                            }));
                        }
                    }
                }
            }
        }
        // A role at the same version must be the same bytes: a registry may
        // not rewrite what it already published.
        let old_snapshot =
            self.mirror.state(&repo).ok().and_then(|s| s.snapshot).and_then(|b| {
                airlock_core::Metadata::<airlock_core::metadata::Snapshot>::from_bytes(&b).ok()
            });
        if let (Some(old_snap), Some(new_snap), false) = (old_snapshot, trusted.snapshot.as_ref(), rotated) {
            for (file, m) in &old_snap.signed().meta {
                if let Some(n) = new_snap.signed().meta.get(file) {
                    if n.version == m.version
                        && n.hashes.is_some()
                        && m.hashes.is_some()
                        && n.hashes != m.hashes
                    {
                        return Err(self.fail(MirrorError::HistoryRewritten {
                            role: file.trim_end_matches(".json").to_owned(),
                            version: m.version,
                        }));
                    }
                }
            }
        }
        let mut merged = old;
        merged.extend(new);
        self.delegations = Some(merged);
        let issued = trusted
            .timestamp
            .as_ref()
            .and_then(|t| {
                t.signed()
                    .extra
                    .get(airlock_core::extension::TIMESTAMP_ISSUED)
                    .and_then(Value::as_str)
                    .map(Timestamp::parse)
            })
            .and_then(Result::ok);
        if let Err(rule) = self.rules.check_freshness(issued, self.now) {
            return Err(self.fail(MirrorError::Policy(rule)));
        }
        Ok(())
    }

    fn approve(&mut self, target: &str, info: &TargetFile, role: &str) -> Result<(), String> {
        if role == "targets" {
            return Err("signed only by the registry's top-level targets, not by a publisher".into());
        }
        self.rules.approve_target(&self.repo(), target, info, role)
    }

    fn begin(&mut self, target: &str, info: &TargetFile) -> io::Result<()> {
        let sha = info.hashes.get("sha256").cloned().unwrap_or_default();
        let rel = crate::registry::target_store_path(target, &sha);
        let path = self.staging.join("served").join(rel);
        if let Some(p) = path.parent() {
            fs::create_dir_all(p)?;
        }
        self.current = Some((File::create(&path)?, path));
        Ok(())
    }

    fn write(&mut self, chunk: &[u8]) -> io::Result<()> {
        match &mut self.current {
            Some((f, _)) => f.write_all(chunk),
            None => Err(io::Error::other("no artifact open")),
        }
    }

    fn finish(&mut self) -> io::Result<()> {
        match self.current.take() {
            Some((f, _)) => f.sync_all(),
            None => Ok(()),
        }
    }
}

/// Imports one bundle into the mirror. On refusal nothing in the served
/// tree or the trusted state changes, and the refusal is logged.
pub fn import_bundle(
    mirror: &Mirror,
    input: &mut dyn Read,
    label: &str,
    rules: &dyn ImportRules,
    now: Timestamp,
    accept_key_change: &[String],
) -> Result<ImportReport, MirrorError> {
    let _lock = mirror.lock()?;
    recover_locked(mirror)?;
    // Unique under the lock: the audit record this import will become.
    let seq = transcript::read(&mirror.audit_path()).map_or(0, |r| r.len()) + 1;
    let id = format!("import-{seq}");
    let staging = mirror.staging().join(&id);
    fs::create_dir_all(&staging).map_err(|e| io(&staging, e))?;
    let mut hashing = Hashing { inner: input, hash: Sha256::new(), len: 0 };
    let chosen: Chosen = Rc::new(RefCell::new(None));
    let mut sink = Sink {
        mirror,
        rules,
        staging: staging.clone(),
        now,
        accept_key_change,
        chosen: chosen.clone(),
        failure: RefCell::new(None),
        delegations: None,
        current: None,
    };
    let select_chosen = chosen.clone();
    let select_failure: Rc<RefCell<Option<MirrorError>>> = Rc::new(RefCell::new(None));
    let failure_after = select_failure.clone();
    let mut select = |m: &BundleManifest| -> Result<TrustedStart, BundleError> {
        let refuse = |e: MirrorError| {
            let reason = e.to_string();
            *select_failure.borrow_mut() = Some(e);
            BundleError::Refused { target: "bundle".into(), reason }
        };
        let repo = rules
            .repository(&m.registry)
            .ok_or_else(|| refuse(MirrorError::NotPinned(m.registry.clone())))?;
        let state = mirror.state(&repo).map_err(refuse)?;
        let pinned =
            rules.pinned_root(&repo).ok_or_else(|| refuse(MirrorError::NotPinned(m.registry.clone())))?;
        let prev = state
            .snapshot
            .as_deref()
            .and_then(|b| airlock_core::Metadata::<airlock_core::metadata::Snapshot>::from_bytes(b).ok())
            .map(|s| s.signed().version);
        *select_chosen.borrow_mut() = Some((repo, prev));
        Ok(TrustedStart {
            root: state.root.unwrap_or(pinned),
            timestamp: state.timestamp,
            snapshot: state.snapshot,
        })
    };
    let opts = VerifyOptions::at(rules.effective_now(now));
    let result = verify_bundle_from(&mut hashing, &mut select, &opts, &mut sink);
    let bundle_sha256 = hex::encode(hashing.hash.clone().finalize());
    let bytes_read = hashing.len;
    let (repo, previous) = chosen.borrow().clone().unwrap_or_default();
    let mut audit = json!({
        "import_id": id, "bundle": label, "bundle_sha256": bundle_sha256, "bytes_read": bytes_read, "repo": repo,
    });
    let verified = match result {
        Ok(v) => v,
        Err(e) => {
            let err = sink
                .failure
                .borrow_mut()
                .take()
                .or_else(|| failure_after.borrow_mut().take())
                .unwrap_or(MirrorError::Bundle(e));
            let _ = fs::remove_dir_all(&staging);
            audit["result"] = json!("refused");
            audit["reason"] = json!(err.to_string());
            append_audit(mirror, now, "import refused", audit)?;
            return Err(err);
        }
    };
    // Stage the metadata and the new trusted state next to the artifacts.
    let served_meta = staging.join("served/metadata");
    fs::create_dir_all(&served_meta).map_err(|e| io(&served_meta, e))?;
    for (path, bytes) in verified.metadata_files() {
        if let Some(name) = path.strip_prefix("metadata/") {
            write_plain(&served_meta.join(name), bytes)?;
        }
    }
    let trusted = verified.trusted();
    let state_dir = staging.join("state");
    fs::create_dir_all(&state_dir).map_err(|e| io(&state_dir, e))?;
    let delegations =
        serde_json::to_vec_pretty(&sink.delegations.clone().unwrap_or_default()).unwrap_or_default();
    let state_bytes: [(&str, &[u8]); 4] = [
        ("root.json", &trusted.root.bytes),
        ("timestamp.json", trusted.timestamp.as_ref().map_or(&[][..], |t| &t.bytes)),
        ("snapshot.json", trusted.snapshot.as_ref().map_or(&[][..], |s| &s.bytes)),
        ("delegations.json", &delegations),
    ];
    for (name, bytes) in state_bytes {
        write_plain(&state_dir.join(name), bytes)?;
    }
    crash_point("staged");
    let report = ImportReport {
        repo: repo.clone(),
        bundle_sha256: bundle_sha256.clone(),
        snapshot_from: previous,
        snapshot_to: trusted.snapshot.as_ref().map_or(0, |s| s.signed().version),
        new_roots: trusted.new_roots.iter().map(|r| r.signed().version).collect(),
        targets: verified.targets().iter().map(|(t, _, _)| t.clone()).collect(),
        omitted_roles: verified.manifest().omitted_roles.clone(),
    };
    audit["result"] = json!("accepted");
    audit["snapshot_from"] = json!(report.snapshot_from);
    audit["snapshot_to"] = json!(report.snapshot_to);
    audit["targets"] = json!(report.targets);
    let moves = plan_moves(mirror, &staging, &repo)?;
    // Served files are content-addressed or versioned: only timestamp.json
    // and the trusted state are replaced in place. Anything else already
    // there with other bytes would be history rewritten.
    for (from, to) in &moves {
        let replaceable = to.ends_with("/timestamp.json") || to.starts_with("state/");
        let dst = mirror.dir().join(to);
        if !replaceable && dst.exists() && fs::read(&dst).ok() != fs::read(mirror.dir().join(from)).ok() {
            let _ = fs::remove_dir_all(&staging);
            let err = MirrorError::HistoryRewritten { role: to.clone(), version: 0 };
            audit["result"] = json!("refused");
            audit["reason"] = json!(err.to_string());
            append_audit(mirror, now, "import refused", audit)?;
            return Err(err);
        }
    }
    let journal = Journal { id: id.clone(), time: now, moves, audit };
    write_atomic(&mirror.journal_path(), &serde_json::to_vec_pretty(&journal).unwrap_or_default())?;
    crash_point("journal");
    apply(mirror, &journal)?;
    Ok(report)
}

fn write_plain(path: &Path, bytes: &[u8]) -> Result<(), MirrorError> {
    let mut f = File::create(path).map_err(|e| io(path, e))?;
    f.write_all(bytes).and_then(|_| f.sync_all()).map_err(|e| io(path, e))
}

/// Every staged file's rename, in publishing order: targets, roots,
/// targets roles, snapshot, `timestamp.json`, then the trusted state.
fn plan_moves(mirror: &Mirror, staging: &Path, repo: &str) -> Result<Vec<(String, String)>, MirrorError> {
    let rel =
        |p: &Path| p.strip_prefix(mirror.dir()).map(|r| r.to_string_lossy().into_owned()).unwrap_or_default();
    let mut targets = Vec::new();
    let served_targets = staging.join("served/targets");
    if served_targets.is_dir() {
        for e in walkdir::WalkDir::new(&served_targets).sort_by_file_name() {
            let e = e.map_err(|e| MirrorError::Io(e.to_string()))?;
            if e.file_type().is_file() {
                let sub = e.path().strip_prefix(&served_targets).unwrap_or(e.path());
                targets.push((rel(e.path()), rel(&mirror.served(repo).join("targets").join(sub))));
            }
        }
    }
    let mut meta: Vec<(u8, String, String)> = Vec::new();
    let served_meta = staging.join("served/metadata");
    for e in fs::read_dir(&served_meta).map_err(|e| io(&served_meta, e))? {
        let e = e.map_err(|e| io(&served_meta, e))?;
        let name = e.file_name().to_string_lossy().into_owned();
        let rank = if name.ends_with(".root.json") {
            0
        } else if name == "timestamp.json" {
            3
        } else if name.ends_with(".snapshot.json") {
            2
        } else {
            1
        };
        meta.push((rank, rel(&e.path()), rel(&mirror.served(repo).join("metadata").join(&name))));
    }
    meta.sort();
    let mut moves = targets;
    moves.extend(meta.into_iter().map(|(_, a, b)| (a, b)));
    for name in STATE_FILES {
        moves.push((rel(&staging.join("state").join(name)), rel(&mirror.state_dir(repo).join(name))));
    }
    Ok(moves)
}

/// Performs a journal's renames, appends its audit record, and clears it.
/// Safe to repeat after a crash at any point.
fn apply(mirror: &Mirror, journal: &Journal) -> Result<(), MirrorError> {
    for (i, (from, to)) in journal.moves.iter().enumerate() {
        let (src, dst) = (mirror.dir().join(from), mirror.dir().join(to));
        if src.exists() {
            let parent =
                dst.parent().ok_or_else(|| MirrorError::Io(format!("{}: no parent", dst.display())))?;
            fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
            fs::rename(&src, &dst).map_err(|e| io(&dst, e))?;
            sync_dir(parent)?;
        } else if !dst.exists() {
            return Err(MirrorError::Layout(format!(
                "journal {}: neither {from} nor {to} exists",
                journal.id
            )));
        }
        crash_point(&format!("move-{i}"));
    }
    crash_point("state");
    let logged = transcript::read(&mirror.audit_path())
        .ok()
        .and_then(|r| r.last().and_then(|l| l.details.get("import_id").cloned()))
        .is_some_and(|v| v == json!(journal.id));
    if !logged {
        append_audit(mirror, journal.time, "import accepted", journal.audit.clone())?;
    }
    crash_point("audit");
    fs::remove_file(mirror.journal_path()).map_err(|e| io(&mirror.journal_path(), e))?;
    sync_dir(&mirror.dir().join("state"))?;
    let _ = fs::remove_dir_all(mirror.staging().join(&journal.id));
    Ok(())
}

fn append_audit(mirror: &Mirror, now: Timestamp, step: &str, details: Value) -> Result<(), MirrorError> {
    let rec = transcript::NewRecord {
        time: now,
        step: step.to_owned(),
        rehearsal: false,
        allow_online: false,
        key_ids: Vec::new(),
        files: Vec::new(),
        details,
    };
    transcript::append(&mirror.audit_path(), rec)
        .map(|_| ())
        .map_err(|e| MirrorError::Io(format!("audit log: {e}")))
}

/// Finishes an import interrupted after its journal was written, and
/// discards staging left by one interrupted before.
pub fn recover(mirror: &Mirror) -> Result<(), MirrorError> {
    let _lock = mirror.lock()?;
    recover_locked(mirror)
}

fn recover_locked(mirror: &Mirror) -> Result<(), MirrorError> {
    match fs::read(mirror.journal_path()) {
        Ok(bytes) => {
            let journal: Journal = serde_json::from_slice(&bytes)
                .map_err(|e| MirrorError::Layout(format!("{}: {e}", mirror.journal_path().display())))?;
            apply(mirror, &journal)?;
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(&mirror.journal_path(), e)),
    }
    // Staging without a journal belongs to an import that never reached
    // publishing: nothing of it was used.
    if let Ok(entries) = fs::read_dir(mirror.staging()) {
        for e in entries.flatten() {
            let _ = fs::remove_dir_all(e.path());
        }
    }
    Ok(())
}
