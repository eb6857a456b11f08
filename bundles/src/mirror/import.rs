//! One import: verify into staging, then publish through a journal.

use super::bundle_hash::BundleHash;
use super::error::{io, MirrorError};
use super::layout::{crash_point, sync_dir, sync_filesystem, write_atomic_with, Mirror, STATE_FILES};
use super::verify::ServedTarget;
use crate::bundle::{
    verify_bundle_from, ArtifactSink, BundleError, CarriedArtifacts, TrustedStart, VerifiedBundle,
    VerifyOptions,
};
use airlock_core::admission::{
    admit, admit_log, Admitted, Carried, Holdings, NothingHeld, OfferedLog, Purpose, Rules, TrustedState,
    Update,
};
use airlock_core::attestation::{MAX_SIGSTORE_BUNDLE, SIGSTORE_SUFFIX};
use airlock_core::bundle::BundleManifest;
use airlock_core::client::Trusted;
use airlock_core::log::SignedNote;
use airlock_core::metadata::TargetFile;
use airlock_core::pins::Pins;
use airlock_core::policy::Policy;
use airlock_core::Timestamp;
use airlock_keyceremony::transcript;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// The importer's side: namespace pins and import policy. Every decision
/// made with them is `airlock_core::admission::admit`.
#[derive(Debug, Clone)]
pub struct Importer {
    /// Which registry may provide which namespace.
    pub pins: Pins,
    /// What else the importer demands.
    pub policy: Policy,
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
    /// Targets the served metadata lists after the import.
    pub served_targets: usize,
    /// Delegations added, removed or changed (each signed by its delegator).
    pub delegation_changes: Vec<airlock_core::admission::DelegationChange>,
    /// Fast-forward recoveries (versions that went down after a key revocation).
    pub recoveries: Vec<airlock_core::admission::Recovery>,
}

#[derive(Serialize, Deserialize)]
struct Journal {
    id: String,
    time: Timestamp,
    moves: Vec<(String, String)>,
    audit: Value,
}

/// Targets the mirror serves for one repository, by content address.
pub(crate) struct Served(pub(crate) PathBuf);

impl Holdings for Served {
    fn holds_target(&self, path: &str, sha256: &str) -> bool {
        self.0.join(crate::registry::target_store_path(path, sha256)).is_file()
    }
}

/// The repository a bundle's manifest selected and the mirror's trusted
/// state for it; shared by the selector and the sink.
#[derive(Default)]
struct Chosen {
    repo: String,
    prior: Option<TrustedState>,
}

type Shared<T> = Rc<RefCell<T>>;

/// Reads the trusted state of `repo`: `Ok(None)` before its first import;
/// an error (never "no state") when it does not read.
pub fn trusted_state(mirror: &Mirror, repo: &str) -> Result<Option<TrustedState>, MirrorError> {
    let s = mirror.state(repo)?;
    let state = TrustedState::from_files(
        s.root.as_deref(),
        s.timestamp.as_deref(),
        s.snapshot.as_deref(),
        s.delegations.as_deref(),
    )
    .map_err(|e| MirrorError::State(format!("{}: {e}", mirror.state_dir(repo).display())))?;
    // No state is a fresh repository only if nothing is served for it: a
    // lost state must not turn off the rollback and history rules.
    if state.is_none() && mirror.served(repo).exists() {
        return Err(MirrorError::State(format!(
            "{}: no trusted state, but the mirror serves {}: the trusted state was lost",
            mirror.state_dir(repo).display(),
            mirror.served(repo).display()
        )));
    }
    Ok(state)
}

/// The targets a bundle carries, found by path: (path, signed description)
/// borrowed from the trusted metadata, sorted by path, not a set of owned
/// (path, SHA-256) copies (13 MB at 100,000 artifacts, at the import's
/// peak; docs/BENCHMARKS.md).
pub(super) struct CarriedTargets<'a> {
    by_path: Vec<(&'a str, &'a TargetFile)>,
}

impl<'a> CarriedTargets<'a> {
    pub(super) fn new(carried: impl Iterator<Item = (&'a str, &'a TargetFile, &'a str)>) -> Self {
        // Sized once, by the iterator's bound (the number of artifacts).
        let mut by_path = Vec::with_capacity(carried.size_hint().1.unwrap_or(0));
        by_path.extend(carried.map(|(t, f, _)| (t, f)));
        // Unstable: no scratch buffer, and the order of equal paths does
        // not matter to `carries`.
        by_path.sort_unstable_by_key(|&(t, _)| t);
        CarriedTargets { by_path }
    }
}

impl Carried for CarriedTargets<'_> {
    fn carries(&self, path: &str, sha256: &str) -> bool {
        let first = self.by_path.partition_point(|&(t, _)| t < path);
        self.by_path[first..].iter().take_while(|&&(t, _)| t == path).any(|(_, f)| {
            // Matched as the set of lowercased hashes matched: a missing
            // sha256 counts as "", and only ASCII letters fold.
            let listed = f.hashes.get("sha256").unwrap_or_default();
            listed.len() == sha256.len()
                && listed.bytes().zip(sha256.bytes()).all(|(l, s)| l.to_ascii_lowercase() == s)
        })
    }
}

struct Sink<'a> {
    mirror: Option<&'a Mirror>,
    importer: &'a Importer,
    staging: Option<PathBuf>,
    now: Timestamp,
    chosen: Shared<Chosen>,
    failure: RefCell<Option<MirrorError>>,
    admitted: Option<Admitted>,
    current: Option<(File, PathBuf)>,
    /// Sigstore bundles carried (targets ending in `.sigstore.json`), kept
    /// in memory for the provenance check after the stream verified.
    sigstore: BTreeMap<String, Vec<u8>>,
    capturing: Option<(String, Vec<u8>)>,
}

impl ArtifactSink for Sink<'_> {
    fn verified_metadata(
        &mut self,
        manifest: &BundleManifest,
        trusted: &Trusted,
        carried: &CarriedArtifacts<'_>,
    ) -> Result<(), String> {
        let chosen = self.chosen.borrow();
        let carried = CarriedTargets::new(carried.iter());
        let update = Update {
            verified: trusted,
            carried: &carried,
            base_snapshot_version: manifest.base_snapshot_version,
        };
        let rules = Rules {
            repo: &chosen.repo,
            pins: &self.importer.pins,
            policy: &self.importer.policy,
            now: self.now,
        };
        let held: Box<dyn Holdings> = match self.mirror {
            Some(m) => Box::new(Served(m.served(&chosen.repo))),
            None => Box::new(NothingHeld),
        };
        match admit(&update, chosen.prior.as_ref(), held.as_ref(), &rules, Purpose::Import) {
            Ok(a) => {
                self.admitted = Some(a);
                Ok(())
            }
            Err(e) => {
                let s = e.to_string();
                *self.failure.borrow_mut() = Some(MirrorError::Admission(e));
                Err(s)
            }
        }
    }

    fn begin(&mut self, target: &str, info: &TargetFile) -> io::Result<()> {
        // Kept only when a policy rule may need them (docs/PINS.md §4.2).
        let wanted = !self.importer.policy.sigstore_rules().is_empty();
        if wanted && target.ends_with(SIGSTORE_SUFFIX) && info.length <= MAX_SIGSTORE_BUNDLE {
            self.capturing = Some((target.to_owned(), Vec::new()));
        }
        let Some(staging) = &self.staging else { return Ok(()) };
        let sha = info.hashes.get("sha256").unwrap_or_default();
        let rel = crate::registry::target_store_path(target, &sha);
        let path = staging.join("served").join(rel);
        if let Some(p) = path.parent() {
            fs::create_dir_all(p)?;
        }
        self.current = Some((File::create(&path)?, path));
        Ok(())
    }

    fn write(&mut self, chunk: &[u8]) -> io::Result<()> {
        if let Some((_, buf)) = &mut self.capturing {
            buf.extend_from_slice(chunk);
        }
        match &mut self.current {
            Some((f, _)) => f.write_all(chunk),
            None if self.staging.is_none() => Ok(()),
            None => Err(io::Error::other("no artifact open")),
        }
    }

    fn finish_waits_for_verdict(&self) -> bool {
        // Nothing staged is used or published before `verify_bundle_from`
        // returns, which it does only once every artifact's verdict is in
        // (staging is removed on a refusal): the reader may read the next
        // artifact while a second core finishes hashing this one.
        false
    }

    fn finish(&mut self) -> io::Result<()> {
        if let Some((t, buf)) = self.capturing.take() {
            self.sigstore.insert(t, buf);
        }
        // Made durable all at once before the journal (`import_bundle`), not
        // one fsync per artifact.
        self.current = None;
        Ok(())
    }
}

/// A bundle that verified and was admitted, before anything is published.
pub struct Checked {
    /// The verified bundle.
    pub bundle: VerifiedBundle,
    /// The admission decision.
    pub admitted: Admitted,
    /// The pinned repository.
    pub repo: String,
    /// The mirror's snapshot version before.
    pub previous: Option<u64>,
    /// The log checkpoint to store (with the cosignatures collected), if the bundle had a log.
    pub checkpoint: Option<SignedNote>,
}

/// Verifies a bundle and decides its admission against `mirror`'s trusted
/// state (or, with `None`, against a fresh mirror), streaming artifacts into
/// `staging` when given. Writes nothing else. Also returns the pinned
/// repository the manifest named, if it got that far (for the audit log).
fn check(
    mirror: Option<&Mirror>,
    input: &mut dyn Read,
    importer: &Importer,
    cosigned: &[SignedNote],
    now: Timestamp,
    staging: Option<PathBuf>,
) -> (Result<Checked, MirrorError>, Option<String>) {
    let chosen: Shared<Chosen> = Rc::new(RefCell::new(Chosen::default()));
    let select_failure: Shared<Option<MirrorError>> = Rc::new(RefCell::new(None));
    let mut select = |m: &BundleManifest| -> Result<TrustedStart, BundleError> {
        let refuse = |e: MirrorError| {
            let reason = e.to_string();
            *select_failure.borrow_mut() = Some(e);
            BundleError::Refused { target: "bundle".into(), reason }
        };
        let repo = importer
            .pins
            .repository_for_identity(&m.registry)
            .map(str::to_owned)
            .ok_or_else(|| refuse(MirrorError::NotPinned(m.registry.clone())))?;
        let pinned = importer
            .pins
            .root(&repo)
            .map(<[u8]>::to_vec)
            .ok_or_else(|| refuse(MirrorError::NotPinned(m.registry.clone())))?;
        let prior = match mirror {
            Some(mm) => trusted_state(mm, &repo).map_err(refuse)?,
            None => None,
        };
        let mut start = TrustedStart { root: pinned, ..TrustedStart::default() };
        if let (Some(p), Some(mm)) = (&prior, mirror) {
            start.root = p.root.bytes.to_vec();
            start.timestamp = Some(p.timestamp.bytes.to_vec());
            start.snapshot = Some(p.snapshot.bytes.to_vec());
            // Roles the bundle leaves out must be served from what the
            // mirror holds, so they are verified with the rest.
            for role in &m.omitted_roles {
                let Some(meta) = p.snapshot.signed().meta.get(&format!("{role}.json")) else { continue };
                let name = format!("{}.{role}.json", meta.version);
                let path = mm.served(&repo).join("metadata").join(&name);
                match fs::read(&path) {
                    Ok(b) => {
                        start.held_roles.insert(name, b);
                    }
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(refuse(io(&path, e))),
                }
            }
        }
        *chosen.borrow_mut() = Chosen { repo, prior };
        Ok(start)
    };
    let mut sink = Sink {
        mirror,
        importer,
        staging,
        now,
        chosen: chosen.clone(),
        failure: RefCell::new(None),
        admitted: None,
        current: None,
        sigstore: BTreeMap::new(),
        capturing: None,
    };
    let opts = VerifyOptions::at(importer.policy.effective_now(now));
    let result = verify_bundle_from(input, &mut select, &opts, &mut sink);
    let failure = sink.failure.borrow_mut().take().or_else(|| select_failure.borrow_mut().take());
    let sigstore = std::mem::take(&mut sink.sigstore);
    let c = chosen.borrow();
    let repo = (!c.repo.is_empty()).then(|| c.repo.clone());
    let checked = match (result, sink.admitted.take()) {
        (Ok(bundle), Some(admitted)) => Ok(Checked {
            bundle,
            admitted,
            repo: c.repo.clone(),
            previous: c.prior.as_ref().map(|p| p.snapshot.signed().version),
            checkpoint: None,
        }),
        (Ok(_), None) => Err(MirrorError::Io("admission was not decided".into())),
        (Err(e), _) => Err(failure.unwrap_or(MirrorError::Bundle(e))),
    };
    let checked = checked.and_then(|mut c| {
        base_artifacts_present(mirror, &c)?;
        c.checkpoint = log_admitted(mirror, &c, importer, cosigned)?;
        super::sigstore::admitted(mirror, &c, importer, &sigstore)?;
        Ok(c)
    });
    (checked, repo)
}

/// A bundle carries the artifacts it lists; a lean delta leaves out those
/// its base already had. Every target that a role carried in this bundle
/// lists and the bundle does not carry must already be served by the
/// mirror, byte for byte, or the mirror would serve metadata naming files
/// it lacks. Roles the bundle does not carry were checked when they came.
fn base_artifacts_present(mirror: Option<&Mirror>, c: &Checked) -> Result<(), MirrorError> {
    // A sorted list, not a set: a set's nodes cost more with many artifacts.
    let mut carried: Vec<&str> = c.bundle.each_target().map(|(t, _, _)| t).collect();
    carried.sort_unstable();
    let files = c.bundle.metadata_files();
    for (role, md) in &c.bundle.trusted().targets {
        if !files.contains_key(format!("metadata/{}.{role}.json", md.signed().version).as_str()) {
            continue;
        }
        for (target, info) in &md.signed().targets {
            if carried.binary_search(&target.as_str()).is_ok() {
                continue;
            }
            let missing = |why: &str| MirrorError::BaseArtifactMissing {
                target: target.clone(),
                role: role.clone(),
                why: why.to_owned(),
            };
            let Some(m) = mirror else { return Err(missing("the bundle does not carry it")) };
            match super::verify::check_served_target(&m.served(&c.repo), target, info) {
                Ok(()) => {}
                Err(ServedTarget::Missing) => {
                    return Err(missing("neither the bundle nor the mirror has it"))
                }
                Err(ServedTarget::Unreadable(path, e)) => return Err(io(&path, e)),
                Err(ServedTarget::Differs(e)) => {
                    return Err(missing(&format!("the mirror's copy differs: {e}")))
                }
            }
        }
    }
    Ok(())
}

/// The log part of the admission: the bundle's log must extend the
/// checkpoint the mirror stored and carry the policy's witnesses.
fn log_admitted(
    mirror: Option<&Mirror>,
    c: &Checked,
    importer: &Importer,
    cosigned: &[SignedNote],
) -> Result<Option<SignedNote>, MirrorError> {
    let prior = match mirror {
        Some(m) => match m.state(&c.repo)?.checkpoint {
            Some(b) => Some(SignedNote::parse(&b).map_err(|e| {
                MirrorError::State(format!("{}: {e}", m.state_dir(&c.repo).join("checkpoint").display()))
            })?),
            None => None,
        },
        None => None,
    };
    let offered =
        c.bundle.log().map(|l| OfferedLog { checkpoint: &l.checkpoint, note: &l.note, proof: &l.proof });
    Ok(admit_log(prior.as_ref(), offered, cosigned, &importer.policy)?)
}

/// Verifies a bundle and decides whether `mirror` (or, with `None`, a fresh
/// mirror) would import it, writing nothing: the same decision
/// [`import_bundle`] makes.
pub fn check_bundle(
    mirror: Option<&Mirror>,
    input: &mut dyn Read,
    importer: &Importer,
    cosigned: &[SignedNote],
    now: Timestamp,
) -> Result<Checked, MirrorError> {
    check(mirror, input, importer, cosigned, now, None).0
}

/// Imports one bundle into the mirror, waiting up to `wait` for another
/// writer's lock. On refusal nothing in the served tree or the trusted state
/// changes, and the refusal is logged.
pub fn import_bundle(
    mirror: &Mirror,
    input: &mut dyn Read,
    label: &str,
    importer: &Importer,
    cosigned: &[SignedNote],
    now: Timestamp,
    wait: std::time::Duration,
) -> Result<ImportReport, MirrorError> {
    let _lock = mirror.lock(wait)?;
    recover_locked(mirror)?;
    let id = attempt_id();
    let staging = mirror.staging().join(&id);
    fs::create_dir_all(&staging).map_err(|e| io(&staging, e))?;
    let mut hashing = BundleHash::new(input);
    let (result, chosen_repo) =
        check(Some(mirror), &mut hashing, importer, cosigned, now, Some(staging.clone()));
    let (bundle_sha256, bytes_read) = hashing.finish().map_err(|e| {
        let _ = fs::remove_dir_all(&staging);
        MirrorError::Io(format!("{label}: {e}"))
    })?;
    let mut audit = json!({
        "import_id": id, "bundle": label, "bundle_sha256": bundle_sha256, "bytes_read": bytes_read,
        "repo": chosen_repo.unwrap_or_default(),
    });
    let checked = match result {
        Ok(c) => c,
        Err(err) => {
            let _ = fs::remove_dir_all(&staging);
            audit["result"] = json!("refused");
            audit["reason"] = json!(err.to_string());
            if let Some(rule) = err.rule() {
                audit["rule"] = json!(rule);
            }
            append_audit(mirror, now, "import refused", audit)?;
            return Err(err);
        }
    };
    let Checked { bundle: verified, admitted, repo, previous, checkpoint } = checked;
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
    let delegations = TrustedState::delegations_bytes(&admitted.delegations);
    let state_bytes: [(&str, &[u8]); 4] = [
        ("root.json", &trusted.root.bytes),
        ("timestamp.json", trusted.timestamp.as_ref().map_or(&[][..], |t| &t.bytes)),
        ("snapshot.json", trusted.snapshot.as_ref().map_or(&[][..], |s| &s.bytes)),
        ("delegations.json", &delegations),
    ];
    for (name, bytes) in state_bytes {
        write_plain(&state_dir.join(name), bytes)?;
    }
    if let Some(note) = &checkpoint {
        write_plain(&state_dir.join("checkpoint"), &note.to_bytes())?;
    }
    // Everything staged (artifacts, metadata, the trusted state and their
    // directories) made durable by one flush of the mirror's file system
    // (staging is inside the mirror) before the journal that publishes it:
    // an fsync per file was most of an import's time (docs/BENCHMARKS.md).
    sync_filesystem(&staging)?;
    crash_point("staged");
    let snapshot_to = trusted.snapshot.as_ref().map_or(0, |s| s.signed().version);
    let new_roots = trusted.new_roots.iter().map(|r| r.signed().version).collect();
    let omitted_roles = verified.manifest().omitted_roles.clone();
    // Publishing needs none of the verified metadata: free it (most of the
    // import's memory, with many artifacts) before the journal lists a move
    // per artifact, and the roles' bytes before the report copies every
    // target path (docs/BENCHMARKS.md, "Memory").
    let targets = verified.into_target_paths();
    let report = ImportReport {
        repo: repo.clone(),
        bundle_sha256: bundle_sha256.clone(),
        snapshot_from: previous,
        snapshot_to,
        new_roots,
        targets,
        omitted_roles,
        served_targets: admitted.served_targets,
        delegation_changes: admitted.changes.clone(),
        recoveries: admitted.recoveries.clone(),
    };
    audit["result"] = json!("accepted");
    audit["snapshot_from"] = json!(report.snapshot_from);
    audit["snapshot_to"] = json!(report.snapshot_to);
    audit["targets"] = json!(report.targets);
    if !report.delegation_changes.is_empty() {
        audit["delegation_changes"] = json!(report.delegation_changes);
    }
    if !report.recoveries.is_empty() {
        // TUF fast-forward recovery: versions went down because the keys
        // that signed the higher ones were revoked. Recorded for review.
        audit["fast_forward_recovery"] = json!(report.recoveries);
    }
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
    // Written as it is serialized: the text (two paths per artifact) was
    // the import's largest allocation after the verified metadata was freed.
    write_atomic_with(&mirror.journal_path(), |w| {
        serde_json::to_writer_pretty(w, &journal).map_err(io::Error::from)
    })?;
    crash_point("journal");
    apply(mirror, journal)?;
    Ok(report)
}

/// Writes a staged file; [`import_bundle`] makes it durable with the rest.
fn write_plain(path: &Path, bytes: &[u8]) -> Result<(), MirrorError> {
    fs::write(path, bytes).map_err(|e| io(path, e))
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
        let staged = staging.join("state").join(name);
        // No log, no checkpoint: only a policy with require_log = false
        // admits that, and only before the first checkpoint.
        if name == "checkpoint" && !staged.exists() {
            continue;
        }
        moves.push((rel(&staged), rel(&mirror.state_dir(repo).join(name))));
    }
    Ok(moves)
}

/// Performs a journal's renames, appends its audit record, and clears it.
/// Safe to repeat after a crash at any point.
fn apply(mirror: &Mirror, journal: Journal) -> Result<(), MirrorError> {
    let Journal { id, time, moves, audit } = journal;
    // Artifacts come first and are content-addressed: their renames are
    // made durable together, by one flush of the file system before the
    // first metadata rename, and each metadata rename on its own, so that
    // no metadata is ever durable before the artifacts it lists.
    let mut unflushed = false;
    for (i, (from, to)) in moves.iter().enumerate() {
        let (src, dst) = (mirror.dir().join(from), mirror.dir().join(to));
        let artifact = from.contains("/served/targets/");
        if unflushed && !artifact {
            sync_filesystem(mirror.dir())?;
            unflushed = false;
        }
        if src.exists() {
            let parent =
                dst.parent().ok_or_else(|| MirrorError::Io(format!("{}: no parent", dst.display())))?;
            fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
            fs::rename(&src, &dst).map_err(|e| io(&dst, e))?;
            if artifact {
                unflushed = true;
            } else {
                sync_dir(parent)?;
            }
        } else if !dst.exists() {
            return Err(MirrorError::Layout(format!("journal {id}: neither {from} nor {to} exists")));
        }
        crash_point(&format!("move-{i}"));
    }
    if unflushed {
        sync_filesystem(mirror.dir())?;
    }
    // Two paths per artifact, not needed for the audit record: freed first.
    drop(moves);
    crash_point("state");
    let logged = fs::read(mirror.audit_path())
        .ok()
        .and_then(|b| transcript::scan(&b).records.last().and_then(|l| l.details.get("import_id").cloned()))
        .is_some_and(|v| v == json!(id));
    if !logged {
        // Moved, not cloned: with many artifacts the record is large.
        append_audit(mirror, time, "import accepted", audit)?;
    }
    crash_point("audit");
    fs::remove_file(mirror.journal_path()).map_err(|e| io(&mirror.journal_path(), e))?;
    sync_dir(&mirror.dir().join("state"))?;
    let _ = fs::remove_dir_all(mirror.staging().join(&id));
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
    // A damaged earlier line never stops the log (or the import) going on.
    transcript::append_to_log(&mirror.audit_path(), rec)
        .map(|_| ())
        .map_err(|e| MirrorError::Io(format!("audit log: {e}")))
}

/// Finishes an import interrupted after its journal was written, and
/// discards staging left by one interrupted before.
pub fn recover(mirror: &Mirror) -> Result<(), MirrorError> {
    let _lock = mirror.lock(std::time::Duration::ZERO)?;
    recover_locked(mirror)
}

/// A name no other import attempt has: its staging directory and journal
/// id. Time and process id, with a counter for attempts in one process.
fn attempt_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNT: AtomicU64 = AtomicU64::new(0);
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    format!("import-{nanos:x}-{}-{}", std::process::id(), COUNT.fetch_add(1, Ordering::Relaxed))
}

fn recover_locked(mirror: &Mirror) -> Result<(), MirrorError> {
    match fs::read(mirror.journal_path()) {
        Ok(bytes) => {
            let journal: Journal = serde_json::from_slice(&bytes)
                .map_err(|e| MirrorError::Layout(format!("{}: {e}", mirror.journal_path().display())))?;
            apply(mirror, journal)?;
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
