//! The registry repository writer (docs/FORMAT.md, "Registry layout").
//!
//! A registry directory `REG` holds a consistent-snapshot TUF repository
//! that any static web server can serve (`REG/metadata/`, `REG/targets/`)
//! and, outside it, the registry's own state (`REG/registry/`). Publishers
//! own terminating delegated targets roles named after them; the registry
//! verifies each submission completely before it writes anything, then
//! countersigns by pinning the role's exact hash and version in a new
//! snapshot, signed with the active index key.
//!
//! Every write takes the lock `REG/registry/lock` and publishes new files
//! first and `timestamp.json` last, by atomic rename: a crash at any point
//! leaves the previous timestamp, so clients see the old repository until
//! the new one is complete. Nothing here prompts or reads the clock: `now`
//! is passed in.

mod bins;
mod error;
mod fsio;
mod log;
mod ownership;
mod state;
mod submission;
mod transport;
mod verify;

pub use bins::{bin_publisher, BinLayout, MAX_BINS, MIN_BINS};
pub use error::{ErrorKind, IndexKeyProblem, RegistryError};
pub use log::{HistoryRecord, LogEntry, RegistryLog, CHECKPOINT_FILE, HISTORY_FILE, LEAVES_FILE, LOG_DIR};
pub use ownership::{describe as describe_targets_change, table as delegation_table};
pub use ownership::{OwnershipChange, TargetsDraft, DRAFT_FORMAT};
pub use state::{AcceptRecord, Accepted, PublisherState, State, STATE_FORMAT};
pub use submission::{publish, ArtifactSpec, PublishReport, PublishRequest, SignedRole};
pub use transport::DirTransport;
pub use verify::{status, verify, CountStatus, Problem, PublisherStatus, RoleStatus, Status, VerifyReport};

use airlock_core::archive::ArchivePath;
use airlock_core::attestation::SigstoreRef;
use airlock_core::client::meta_file_for;
use airlock_core::extension::TIMESTAMP_ISSUED;
use airlock_core::extension::{ExpiryDays, RootExtension};
use airlock_core::hash::sha256_hex;
use airlock_core::metadata::{
    DelegatedRole, Delegations, Role, Root, Snapshot, Targets, TimestampRole, TOP_LEVEL_ROLES,
};
use airlock_core::paths::TargetPath;
use airlock_core::rootchain::{trust_first_root, update_root, verify_chain};
use airlock_core::{registry_identity, Authorization, KeyId, Metadata, PublicKey, Signer, Timestamp};
use airlock_keyceremony::rotation::INDEX_ROLES;
use fsio::{copy_verified, read_own, sync_filesystem, write_atomic, CopyError, Lock};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The served metadata directory, relative to the registry.
pub const METADATA_DIR: &str = "metadata";
/// The served targets directory, relative to the registry.
pub const TARGETS_DIR: &str = "targets";
/// The registry's own directory, not served.
pub const STATE_DIR: &str = "registry";
/// The state file in [`STATE_DIR`].
pub const STATE_FILE: &str = "state.json";
/// The acceptance record in [`STATE_DIR`].
pub const LOG_FILE: &str = "accepted.jsonl";
/// The writer lock in [`STATE_DIR`].
pub const LOCK_FILE: &str = "lock";
/// Where `accept` stages artifacts, in [`STATE_DIR`]; removed when done.
pub const STAGING_DIR: &str = "staging";
/// The Sigstore trusted root the registry checks publisher provenance
/// against, in `REG/registry/` (optional).
pub const SIGSTORE_ROOT_FILE: &str = "sigstore-trusted-root.json";
/// Longest publisher name.
pub const MAX_NAME_LEN: usize = 64;

const DAY: i64 = 86_400;

/// The longest courier trip `refresh_for_trip` signs for: a year.
pub const MAX_TRIP_DAYS: u32 = 366;

/// Checks a publisher (delegated role) name: `[a-z0-9][a-z0-9_-]*`, at most
/// [`MAX_NAME_LEN`] bytes, not a top-level role name, and not the name of a
/// hash bin (`NAME-bin-` and 1 to 4 hex digits), which would collide with
/// another publisher's bin.
pub fn check_publisher_name(name: &str) -> Result<(), RegistryError> {
    let ok = name.len() <= MAX_NAME_LEN
        && name.bytes().next().is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && !TOP_LEVEL_ROLES.contains(&name)
        && bins::bin_publisher(name).is_none();
    if ok {
        Ok(())
    } else {
        Err(RegistryError::BadPublisherName { name: name.to_owned() })
    }
}

/// Where a target is stored under consistent snapshots, relative to the
/// registry: `targets/<dir of path>/<sha256>.<basename>`.
pub fn target_store_path(target: &str, sha256: &str) -> String {
    match target.rsplit_once('/') {
        Some((dir, base)) => format!("{TARGETS_DIR}/{dir}/{sha256}.{base}"),
        None => format!("{TARGETS_DIR}/{sha256}.{target}"),
    }
}

/// The signed sha256 of a target, if it is 64 hex digits.
pub(crate) fn sha256_of(file: &airlock_core::metadata::TargetFile) -> Option<String> {
    let h = file.hashes.get("sha256")?;
    (h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit())).then(|| h.to_ascii_lowercase())
}

fn check_namespace(pattern: &str) -> Result<(), RegistryError> {
    let bad =
        |reason: &str| RegistryError::BadNamespace { pattern: pattern.to_owned(), reason: reason.into() };
    if pattern.is_empty() || pattern.len() > 512 {
        return Err(bad("must be 1 to 512 bytes"));
    }
    if pattern.starts_with('/') {
        return Err(bad("target paths are relative; drop the leading /"));
    }
    for seg in pattern.split('/') {
        if seg.is_empty() || seg == "." || seg == ".." {
            return Err(bad("empty, . and .. segments never match a stored target"));
        }
    }
    if pattern.chars().any(|c| c == '\\' || c.is_control()) {
        return Err(bad("backslashes and control characters are not allowed"));
    }
    Ok(())
}

/// Root files `N.root.json` in `dir`, by version.
pub fn list_root_files(dir: &Path) -> Result<Vec<(u64, PathBuf)>, RegistryError> {
    let rd = fs::read_dir(dir).map_err(|e| RegistryError::io(dir, e))?;
    let mut out = Vec::new();
    for entry in rd {
        let entry = entry.map_err(|e| RegistryError::io(dir, e))?;
        let Ok(name) = entry.file_name().into_string() else { continue };
        if let Some(n) = name.strip_suffix(".root.json").and_then(|n| n.parse::<u64>().ok()) {
            out.push((n, entry.path()));
        }
    }
    out.sort();
    Ok(out)
}

/// What `init` did.
#[derive(Debug, Clone, Serialize)]
pub struct InitReport {
    /// The registry's name.
    pub registry: String,
    /// The registry identity.
    pub identity: String,
    /// The newest root version copied.
    pub root_version: u64,
    /// The index key that signed.
    pub index_key: KeyId,
}

/// New versions written by a change.
#[derive(Debug, Clone, Serialize)]
pub struct ChangeReport {
    /// New top-level targets version, if it changed.
    pub targets_version: Option<u64>,
    /// New snapshot version.
    pub snapshot_version: u64,
    /// New timestamp version.
    pub timestamp_version: u64,
    /// Root versions added (by `update_root`).
    pub roots_added: Vec<u64>,
}

/// One role file an acceptance published.
#[derive(Debug, Clone, Serialize)]
pub struct AcceptedRole {
    /// The role: the publisher's, or one of its hash bins.
    pub role: String,
    /// Its accepted version.
    pub version: u64,
    /// SHA-256 of the role file.
    pub sha256: String,
    /// Targets it lists.
    pub targets: usize,
}

/// A role file of a submission that passed its checks.
struct CheckedRole {
    name: String,
    md: Metadata<Targets>,
    bytes: Vec<u8>,
}

/// What `accept` did.
#[derive(Debug, Clone, Serialize)]
pub struct AcceptReport {
    /// The targets whose Sigstore bundles verified against the registry's
    /// trusted root, with the identity each names.
    pub sigstore: Vec<SigstoreAccepted>,
    /// The publisher role.
    pub role: String,
    /// Its version: accepted now, or the published one when only bins were
    /// offered.
    pub version: u64,
    /// SHA-256 of that role file.
    pub sha256: String,
    /// Targets new or changed in this acceptance.
    pub targets_added: Vec<String>,
    /// Targets the accepted role files list in all (without bins: the
    /// role's every target).
    pub targets_total: usize,
    /// How many hash bins the publisher publishes in (0: none).
    pub bins: u32,
    /// Every role file accepted, the publisher's role first if offered.
    pub roles: Vec<AcceptedRole>,
    /// The sequence number of the last record this acceptance appended
    /// (one per role file).
    pub seq: u64,
    /// New snapshot version.
    pub snapshot_version: u64,
    /// New timestamp version.
    pub timestamp_version: u64,
}

/// A publisher to add.
#[derive(Debug, Clone)]
pub struct NewPublisher {
    /// Its name, which is its role name.
    pub name: String,
    /// Its public keys.
    pub keys: Vec<PublicKey>,
    /// Namespace patterns (TUF globs).
    pub namespaces: Vec<String>,
    /// How many of its keys must sign.
    pub threshold: u64,
    /// Allow namespaces overlapping another publisher's.
    pub allow_overlap: bool,
}

/// One current publisher, as `publisher list` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct PublisherInfo {
    /// Name.
    pub name: String,
    /// Namespace patterns.
    pub namespaces: Vec<String>,
    /// Key ids.
    pub keyids: Vec<KeyId>,
    /// Threshold.
    pub threshold: u64,
    /// The last accepted version, if any.
    pub accepted_version: Option<u64>,
}

/// A target whose Sigstore bundle verified at acceptance.
#[derive(Debug, Clone, Serialize)]
pub struct SigstoreAccepted {
    /// The target.
    pub target: String,
    /// The certificate's OIDC issuer.
    pub issuer: String,
    /// The certificate's SAN (the CI workflow identity).
    pub san: String,
}

/// A targets role as published: parsed, and its exact bytes.
pub type RoleFile = (Metadata<Targets>, Vec<u8>);

/// Files a change publishes: artifacts, then metadata, then the timestamp.
#[derive(Default)]
struct Pending {
    artifacts: Vec<(PathBuf, PathBuf)>,
    files: Vec<(String, Vec<u8>)>,
    timestamp: Vec<u8>,
    after: Vec<(String, Vec<u8>)>,
    targets_version: Option<u64>,
    snapshot_version: u64,
    timestamp_version: u64,
}

/// Removes the staging directory when dropped.
struct Staging(PathBuf);

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A registry opened from disk.
#[derive(Debug)]
pub struct Registry {
    dir: PathBuf,
    roots: Vec<Metadata<Root>>,
    state: State,
    timestamp: Metadata<TimestampRole>,
    snapshot: Metadata<Snapshot>,
    targets: Metadata<Targets>,
    /// The Sigstore trusted root publisher provenance is checked against.
    sigstore_root: Option<Vec<u8>>,
    _lock: Option<Lock>,
}

/// The test hook called before each publishing step; see `Registry::commit`.
pub(crate) type Hook<'a> = &'a mut dyn FnMut(&str) -> std::io::Result<()>;

impl Registry {
    /// Creates a registry in `dir` (absent or an empty directory) from the
    /// root files of a ceremony (`(path, bytes)`, any order) and the first
    /// top-level targets the custodians signed (`targets`): the chain must
    /// run from version 1 without gaps and verify at `now`; no root may be a
    /// rehearsal; the newest root must keep the index key away from
    /// targets; `targets` must meet that root's targets threshold; `signer`
    /// must be the active index key.
    pub fn init(
        dir: &Path,
        roots: Vec<(PathBuf, Vec<u8>)>,
        targets: (PathBuf, Vec<u8>),
        signer: &dyn Signer,
        now: Timestamp,
    ) -> Result<InitReport, RegistryError> {
        let existed = match fs::symlink_metadata(dir) {
            Ok(m) if m.is_dir() => {
                let mut rd = fs::read_dir(dir).map_err(|e| RegistryError::io(dir, e))?;
                if rd.next().is_some() {
                    return Err(RegistryError::NotEmpty { path: dir.into() });
                }
                true
            }
            Ok(_) => return Err(RegistryError::NotEmpty { path: dir.into() }),
            Err(_) => false,
        };
        let mut parsed = Vec::new();
        for (path, bytes) in roots {
            let md = Metadata::<Root>::from_bytes(&bytes)
                .map_err(|source| RegistryError::RootFile { path: path.clone(), source })?;
            parsed.push((md, bytes));
        }
        parsed.sort_by_key(|(m, _)| m.signed().version);
        let versions: Vec<u64> = parsed.iter().map(|(m, _)| m.signed().version).collect();
        if versions.is_empty() {
            return Err(RegistryError::NoRoots { dir: dir.into(), detail: "no root files given".into() });
        }
        if versions.iter().enumerate().any(|(i, v)| *v != i as u64 + 1) {
            return Err(RegistryError::NoRoots {
                dir: dir.into(),
                detail: format!("root versions must run 1, 2, 3, ... without gaps; found {versions:?}"),
            });
        }
        let first = parsed[0].0.clone();
        trust_first_root(&registry_identity(&first), &first, now).map_err(RegistryError::RootChain)?;
        verify_chain(first.clone(), parsed[1..].iter().map(|(m, _)| m.clone()), now)
            .map_err(RegistryError::RootChain)?;
        let mut name = String::new();
        for (md, _) in &parsed {
            let version = md.signed().version;
            let ext = RootExtension::of(md.signed())
                .map_err(|source| RegistryError::NotAirlockRoot { version, source })?;
            if ext.rehearsal {
                return Err(RegistryError::Rehearsal { version });
            }
            name = ext.registry;
        }
        let roots: Vec<Metadata<Root>> = parsed.iter().map(|(m, _)| m.clone()).collect();
        let newest = roots[roots.len() - 1].signed();
        if newest.consistent_snapshot != Some(true) {
            return Err(RegistryError::NotConsistent { version: newest.version });
        }
        check_index_key(&roots, &signer.key_id())?;
        check_log_key(signer)?;
        let identity = registry_identity(&first);
        let days = expiry_days(newest)?;

        // Check and sign everything before writing anything.
        let (targets_path, targets_bytes) = targets;
        let targets_md = Metadata::<Targets>::from_bytes(&targets_bytes)
            .map_err(|source| RegistryError::MalformedRole { role: "targets".into(), source })?;
        check_offline_targets(newest)?;
        check_targets(newest, &targets_md, now)?;
        let tv = targets_md.signed().version;
        let _ = targets_path;
        let meta = [("targets.json".to_owned(), meta_file_for(&targets_bytes, tv))].into_iter().collect();
        let snapshot = Snapshot::new(1, now.plus_secs(days.snapshot as i64 * DAY), meta);
        let (_, snapshot_bytes) = sign_role(newest, snapshot, "snapshot", signer, now)?;
        let mut ts = TimestampRole::new(
            1,
            now.plus_secs(days.timestamp as i64 * DAY),
            meta_file_for(&snapshot_bytes, 1),
        );
        ts.extra.insert(TIMESTAMP_ISSUED.into(), serde_json::Value::String(now.to_string()));
        let (_, ts_bytes) = sign_role(newest, ts, "timestamp", signer, now)?;
        let state = State {
            format: STATE_FORMAT.into(),
            registry: name.clone(),
            identity: identity.clone(),
            created_at: now,
            publishers: BTreeMap::new(),
            acceptances: 0,
            bins: BTreeMap::new(),
        };

        let result = (|| {
            let md = dir.join(METADATA_DIR);
            let st = dir.join(STATE_DIR);
            for d in [&md, &dir.join(TARGETS_DIR), &st] {
                fs::create_dir_all(d).map_err(|e| RegistryError::io(d, e))?;
            }
            let _lock = Lock::acquire(st.join(LOCK_FILE))?;
            for (m, bytes) in &parsed {
                write_atomic(&md.join(format!("{}.root.json", m.signed().version)), bytes)?;
            }
            write_atomic(&md.join(format!("{tv}.targets.json")), &targets_bytes)?;
            write_atomic(&md.join("1.snapshot.json"), &snapshot_bytes)?;
            write_atomic(&md.join("timestamp.json"), &ts_bytes)?;
            write_atomic(&md.join("root.json"), &parsed[parsed.len() - 1].1)?;
            write_atomic(&st.join(LOG_FILE), b"")?;
            write_atomic(&st.join(STATE_FILE), &state_bytes(&state))?;
            Self::load(dir, None)?.sync_log(signer)
        })();
        if let Err(e) = result {
            if existed {
                for d in [METADATA_DIR, TARGETS_DIR, STATE_DIR, LOG_DIR] {
                    let _ = fs::remove_dir_all(dir.join(d));
                }
            } else {
                let _ = fs::remove_dir_all(dir);
            }
            return Err(e);
        }
        Ok(InitReport {
            registry: name,
            identity,
            root_version: versions.len() as u64,
            index_key: signer.key_id(),
        })
    }

    /// Opens a registry for reading, without the lock.
    pub fn open(dir: &Path) -> Result<Self, RegistryError> {
        Self::load(dir, None)
    }

    /// Opens a registry for writing: takes the lock (refusing if another
    /// writer holds it), removes a stale staging area, and brings the state
    /// up to date after an interrupted acceptance.
    pub fn open_for_writing(dir: &Path, now: Timestamp) -> Result<Self, RegistryError> {
        let st = dir.join(STATE_DIR);
        if !st.join(STATE_FILE).is_file() {
            return Err(RegistryError::NotARegistry {
                path: dir.into(),
                detail: format!("no {STATE_DIR}/{STATE_FILE}"),
            });
        }
        let lock = Lock::acquire(st.join(LOCK_FILE))?;
        let staging = st.join(STAGING_DIR);
        if staging.exists() {
            fs::remove_dir_all(&staging).map_err(|e| RegistryError::io(&staging, e))?;
        }
        let mut reg = Self::load(dir, Some(lock))?;
        reg.reconcile(now)?;
        Ok(reg)
    }

    fn load(dir: &Path, lock: Option<Lock>) -> Result<Self, RegistryError> {
        let st = dir.join(STATE_DIR).join(STATE_FILE);
        if !st.is_file() {
            return Err(RegistryError::NotARegistry {
                path: dir.into(),
                detail: format!("no {STATE_DIR}/{STATE_FILE}"),
            });
        }
        let state: State = serde_json::from_slice(&read_own(&st)?)
            .map_err(|e| RegistryError::Corrupt { path: st.clone(), detail: e.to_string() })?;
        let md = dir.join(METADATA_DIR);
        let files = list_root_files(&md)?;
        if files.is_empty() || files.iter().enumerate().any(|(i, (v, _))| *v != i as u64 + 1) {
            return Err(RegistryError::Corrupt {
                path: md,
                detail: "root files must run 1.root.json, 2.root.json, ... without gaps".into(),
            });
        }
        let mut roots = Vec::new();
        for (_, p) in &files {
            roots.push(parse_own::<Root>(p)?);
        }
        let timestamp = parse_own::<TimestampRole>(&md.join("timestamp.json"))?;
        let sv = timestamp.signed().snapshot_meta().map_or(0, |m| m.version);
        let snapshot = parse_own::<Snapshot>(&md.join(format!("{sv}.snapshot.json")))?;
        let tv = snapshot.signed().meta.get("targets.json").map_or(0, |m| m.version);
        let targets = parse_own::<Targets>(&md.join(format!("{tv}.targets.json")))?;
        let sigstore_path = dir.join(STATE_DIR).join(SIGSTORE_ROOT_FILE);
        let sigstore_root = match fs::read(&sigstore_path) {
            Ok(b) => Some(b),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(RegistryError::io(&sigstore_path, e)),
        };
        Ok(Registry {
            dir: dir.into(),
            roots,
            state,
            timestamp,
            snapshot,
            targets,
            sigstore_root,
            _lock: lock,
        })
    }

    /// Checks publisher provenance against this Sigstore trusted root
    /// (instead of `REG/registry/sigstore-trusted-root.json`, if any).
    pub fn set_sigstore_root(&mut self, trusted_root_json: Vec<u8>) {
        self.sigstore_root = Some(trusted_root_json);
    }

    /// The registry directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The registry's state.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// Every root version, oldest first.
    pub fn roots(&self) -> &[Metadata<Root>] {
        &self.roots
    }

    /// The newest root.
    pub fn newest_root(&self) -> &Root {
        self.roots[self.roots.len() - 1].signed()
    }

    /// The current timestamp.
    pub fn timestamp(&self) -> &Metadata<TimestampRole> {
        &self.timestamp
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> &Metadata<Snapshot> {
        &self.snapshot
    }

    /// The current top-level targets.
    pub fn targets(&self) -> &Metadata<Targets> {
        &self.targets
    }

    /// The current publishers (delegations of top-level targets).
    pub fn publishers(&self) -> Vec<PublisherInfo> {
        let roles = self.targets.signed().delegations.as_ref().map(|d| d.roles.clone()).unwrap_or_default();
        roles
            .into_iter()
            .map(|r| PublisherInfo {
                accepted_version: self.last_accepted(&r.name),
                namespaces: r.paths.clone().unwrap_or_default(),
                keyids: r.keyids,
                threshold: r.threshold,
                name: r.name,
            })
            .collect()
    }

    /// The last accepted version of `role`: the newer of what the snapshot
    /// pins and what the state records.
    pub fn last_accepted(&self, role: &str) -> Option<u64> {
        let pinned = self.snapshot.signed().meta.get(&format!("{role}.json")).map(|m| m.version);
        pinned.max(self.recorded(role))
    }

    /// The current signed bytes and metadata of a publisher role, if pinned.
    pub fn publisher_role(&self, role: &str) -> Result<Option<RoleFile>, RegistryError> {
        let Some(meta) = self.snapshot.signed().meta.get(&format!("{role}.json")) else { return Ok(None) };
        let path = self.dir.join(METADATA_DIR).join(format!("{}.{role}.json", meta.version));
        let bytes = read_own(&path)?;
        let md = Metadata::<Targets>::from_bytes(&bytes)
            .map_err(|e| RegistryError::Corrupt { path, detail: e.to_string() })?;
        Ok(Some((md, bytes)))
    }

    fn days(&self) -> Result<ExpiryDays, RegistryError> {
        expiry_days(self.newest_root())
    }

    fn delegations(&self) -> Option<&Delegations> {
        self.targets.signed().delegations.as_ref()
    }

    /// A draft of the next top-level targets with `change` applied, for the
    /// custodians to review and sign. Writes nothing.
    pub fn propose_targets(
        &self,
        change: &OwnershipChange,
        now: Timestamp,
    ) -> Result<TargetsDraft, RegistryError> {
        let days = self.days()?;
        let next =
            ownership::propose(self.targets.signed(), change, now.plus_secs(days.targets as i64 * DAY))?;
        Ok(TargetsDraft { base: Some(self.targets.clone()), proposed: Metadata::new(next)? })
    }

    /// Publishes a targets draft the custodians signed: it must be the next
    /// version, meet the newest root's targets threshold at `now` and not
    /// have expired. The index key countersigns it with a new snapshot and
    /// timestamp.
    pub fn finalize_targets(
        &mut self,
        draft: &TargetsDraft,
        signer: &dyn Signer,
        now: Timestamp,
    ) -> Result<ChangeReport, RegistryError> {
        let next = self.targets.signed().version + 1;
        let proposed = &draft.proposed;
        if proposed.signed().version != next {
            return Err(RegistryError::StaleDraft { draft: proposed.signed().version, next });
        }
        check_offline_targets(self.newest_root())?;
        check_targets(self.newest_root(), proposed, now)?;
        check_index_key(&self.roots, &signer.key_id())?;
        // What the proposal tool checks, checked again on what was signed:
        // a hand-edited draft gets no further than one proposed here.
        for r in proposed.signed().delegations.iter().flat_map(|d| d.roles.iter()) {
            check_publisher_name(&r.name)?;
            for n in r.paths.iter().flatten() {
                check_namespace(n)?;
            }
        }
        let old = self.targets.signed().clone();
        let bytes = proposed.to_bytes();
        let pending = self.resign(Some((next, bytes)), Vec::new(), signer, now, None)?;
        let report = self.publish_pending(pending, signer, &mut |_| Ok(()))?;
        self.note_publishers(&old, now)?;
        Ok(report)
    }

    /// Brings the state's publisher records in line with the delegations
    /// of the newly published targets.
    fn note_publishers(&mut self, old: &Targets, now: Timestamp) -> Result<(), RegistryError> {
        let new = self.targets.signed().delegations.as_ref().map(|d| d.roles.clone()).unwrap_or_default();
        for r in &new {
            let accepted = self.state.publishers.get(&r.name).and_then(|s| s.accepted.clone());
            let added_at = self
                .state
                .publishers
                .get(&r.name)
                .filter(|s| s.removed_at.is_none())
                .map_or(now, |s| s.added_at);
            self.state
                .publishers
                .insert(r.name.clone(), PublisherState { added_at, accepted, ..delegation_state(r, now) });
        }
        for r in old.delegations.iter().flat_map(|d| d.roles.iter()) {
            if !new.iter().any(|n| n.name == r.name) {
                if let Some(p) = self.state.publishers.get_mut(&r.name) {
                    p.removed_at = Some(now);
                }
            }
        }
        self.save_state()
    }

    /// Re-signs snapshot and timestamp with new versions and expiry, their
    /// content unchanged. Top-level targets is the custodians' to renew
    /// (a `Renew` draft); refreshing refuses once it has expired, since
    /// clients would refuse the repository anyway.
    pub fn refresh(&mut self, signer: &dyn Signer, now: Timestamp) -> Result<ChangeReport, RegistryError> {
        self.refresh_for_trip(signer, now, None)
    }

    /// [`Registry::refresh`], with snapshot and timestamp valid for
    /// `trip_days` (when given) instead of the root's periods: for a bundle
    /// that must stay importable through a long courier trip. At most
    /// [`MAX_TRIP_DAYS`].
    pub fn refresh_for_trip(
        &mut self,
        signer: &dyn Signer,
        now: Timestamp,
        trip_days: Option<u32>,
    ) -> Result<ChangeReport, RegistryError> {
        check_index_key(&self.roots, &signer.key_id())?;
        let t = self.targets.signed();
        if t.expires <= now {
            return Err(RegistryError::TargetsExpired { version: t.version, expires: t.expires, now });
        }
        if let Some(d) = trip_days.filter(|d| *d == 0 || *d > MAX_TRIP_DAYS) {
            return Err(RegistryError::NothingToDo(format!(
                "a trip of {d} day(s): give 1 to {MAX_TRIP_DAYS} days"
            )));
        }
        let pending = self.resign(None, Vec::new(), signer, now, trip_days)?;
        self.publish_pending(pending, signer, &mut |_| Ok(()))
    }

    /// Takes in new root versions from a ceremony (`(path, bytes)`, any
    /// order; versions the registry has must be byte-identical), verifies
    /// each against its predecessor, and re-signs snapshot and timestamp
    /// with the new root's active index key. Top-level targets must meet
    /// the new root's targets threshold: the current one, or `targets`, a
    /// draft the custodians signed for the new root (needed when the new
    /// root changes the targets keys, as when it first moves them offline).
    pub fn update_root(
        &mut self,
        roots: Vec<(PathBuf, Vec<u8>)>,
        targets: Option<&TargetsDraft>,
        signer: &dyn Signer,
        now: Timestamp,
    ) -> Result<ChangeReport, RegistryError> {
        let have = self.roots.len() as u64;
        let mut new = Vec::new();
        for (path, bytes) in roots {
            let md = Metadata::<Root>::from_bytes(&bytes)
                .map_err(|source| RegistryError::RootFile { path: path.clone(), source })?;
            let v = md.signed().version;
            if v <= have {
                let ours = &self.roots[(v - 1) as usize];
                if ours.payload() != md.payload() {
                    return Err(RegistryError::Corrupt {
                        path,
                        detail: format!("differs from the registry's root version {v}"),
                    });
                }
            } else {
                new.push((md, bytes));
            }
        }
        if new.is_empty() {
            return Err(RegistryError::NothingToDo(format!("no root newer than version {have}")));
        }
        new.sort_by_key(|(m, _)| m.signed().version);
        let mut current = self.roots[self.roots.len() - 1].clone();
        let mut roots = self.roots.clone();
        for (md, _) in &new {
            update_root(&current, md, now).map_err(RegistryError::RootChain)?;
            let version = md.signed().version;
            let ext = RootExtension::of(md.signed())
                .map_err(|source| RegistryError::NotAirlockRoot { version, source })?;
            if ext.rehearsal {
                return Err(RegistryError::Rehearsal { version });
            }
            if md.signed().consistent_snapshot != Some(true) {
                return Err(RegistryError::NotConsistent { version });
            }
            current = md.clone();
            roots.push(md.clone());
        }
        verify_chain(current.clone(), [], now).map_err(RegistryError::RootChain)?;
        check_index_key(&roots, &signer.key_id())?;
        check_offline_targets(current.signed())?;
        let new_targets = match targets {
            Some(d) => {
                let next = self.targets.signed().version + 1;
                if d.proposed.signed().version != next {
                    return Err(RegistryError::StaleDraft { draft: d.proposed.signed().version, next });
                }
                check_targets(current.signed(), &d.proposed, now)?;
                Some((next, d.proposed.to_bytes()))
            }
            None => {
                check_targets(current.signed(), &self.targets, now)?;
                None
            }
        };
        let old_targets = self.targets.signed().clone();
        let old_roots = std::mem::replace(&mut self.roots, roots);
        let resigned = self.resign(new_targets, Vec::new(), signer, now, None);
        let mut pending = match resigned {
            Ok(p) => p,
            Err(e) => {
                self.roots = old_roots;
                return Err(e);
            }
        };
        let mut root_files: Vec<(String, Vec<u8>)> =
            new.iter().map(|(m, b)| (format!("{}.root.json", m.signed().version), b.clone())).collect();
        root_files.append(&mut pending.files);
        pending.files = root_files;
        if let Some((_, b)) = new.last() {
            pending.after.push(("root.json".into(), b.clone()));
        }
        match self.publish_pending(pending, signer, &mut |_| Ok(())) {
            Ok(mut r) => {
                r.roots_added = new.iter().map(|(m, _)| m.signed().version).collect();
                self.note_publishers(&old_targets, now)?;
                Ok(r)
            }
            Err(e) => {
                self.roots = old_roots;
                Err(e)
            }
        }
    }

    /// Verifies a publisher's submission and, only if every check passes,
    /// publishes it: artifacts under their hash-prefixed names, the role,
    /// a new snapshot pinning it, a new timestamp. See docs/FORMAT.md.
    pub fn accept(
        &mut self,
        submission: &Path,
        signer: &dyn Signer,
        now: Timestamp,
    ) -> Result<AcceptReport, RegistryError> {
        self.accept_with_hook(submission, signer, now, &mut |_| Ok(()))
    }

    pub(crate) fn accept_with_hook(
        &mut self,
        submission: &Path,
        signer: &dyn Signer,
        now: Timestamp,
        hook: Hook<'_>,
    ) -> Result<AcceptReport, RegistryError> {
        let scan = submission::scan(submission)?;
        let role = scan.publisher.clone();
        // 1. A publisher of this registry.
        let delegation = self
            .delegations()
            .filter(|_| check_publisher_name(&role).is_ok())
            .and_then(|d| d.role(&role).map(|r| (d.clone(), r.clone())));
        let Some((owner, delegation)) = delegation else {
            return Err(RegistryError::UnknownPublisher { role });
        };
        let published = self.publisher_role(&role)?;
        let published_count = published
            .as_ref()
            .and_then(|(m, _)| m.signed().delegations.as_ref())
            .map_or(0, |d| d.roles.len() as u32);
        // The publisher's role (2-4 below), submitted or as published, and
        // the hash-bin layout it delegates to, if any.
        let layout_of = |md: &Metadata<Targets>| -> Result<Option<BinLayout>, RegistryError> {
            let Some(d) = &md.signed().delegations else { return Ok(None) };
            let bad = |detail: String| RegistryError::BinLayout { role: role.clone(), detail };
            if !md.signed().targets.is_empty() {
                return Err(bad("a role with hash bins lists its targets in them, not itself".into()));
            }
            BinLayout::of(&role, d, &owner, &delegation).map(Some).map_err(bad)
        };
        let mut checked = Vec::new();
        let (top, top_bytes, layout) = match scan.roles.get(&role) {
            Some(bytes) => {
                let md =
                    self.check_role(&role, bytes, (&owner, &delegation), &delegation, None, now, layout_of)?;
                let layout = layout_of(&md)?;
                checked.push(CheckedRole { name: role.clone(), md: md.clone(), bytes: bytes.clone() });
                (md, bytes.clone(), layout)
            }
            None => {
                let Some((md, bytes)) = published.clone() else {
                    return Err(RegistryError::BadSubmission {
                        path: submission.into(),
                        detail: format!(
                            "no {role}.json, and the registry has published no role {role} to add bins to"
                        ),
                    });
                };
                let layout = layout_of(&md)?;
                (md, bytes, layout)
            }
        };
        let count = layout.map_or(0, BinLayout::count);
        if published_count != 0 && published_count != count {
            return Err(RegistryError::BinLayoutChanged { role, from: published_count, to: count });
        }
        // Each bin offered: delegated by the role, and checked as a role is,
        // its targets also inside the bin's own hash prefixes.
        let top_delegations = top.signed().delegations.clone().unwrap_or_else(|| Delegations {
            keys: BTreeMap::new(),
            roles: Vec::new(),
            extra: BTreeMap::new(),
        });
        let bins: BTreeMap<&str, &DelegatedRole> =
            top_delegations.roles.iter().map(|r| (r.name.as_str(), r)).collect();
        for (name, bytes) in scan.roles.iter().filter(|(n, _)| **n != role) {
            let Some(bin) = bins.get(name.as_str()) else {
                return Err(RegistryError::NotABin { role, bin: name.clone() });
            };
            let no_delegation = |md: &Metadata<Targets>| match md.signed().delegations {
                Some(_) => Err(RegistryError::Delegates { role: name.clone() }),
                None => Ok(None),
            };
            let md = self.check_role(
                name,
                bytes,
                (&top_delegations, bin),
                &delegation,
                Some(bin),
                now,
                no_delegation,
            )?;
            checked.push(CheckedRole { name: name.clone(), md, bytes: bytes.clone() });
        }
        // Every bin a new role delegates to is offered, or published and
        // still signed as the new role requires.
        if scan.roles.contains_key(&role) {
            let same_keys = published.as_ref().and_then(|(m, _)| m.signed().delegations.as_ref())
                == top.signed().delegations.as_ref();
            for bin in top_delegations.roles.iter().filter(|b| !scan.roles.contains_key(&b.name)) {
                let missing = |detail: &str| RegistryError::BinMissing {
                    role: role.clone(),
                    bin: bin.name.clone(),
                    detail: detail.into(),
                };
                let Some((md, _)) = self.publisher_role(&bin.name)? else {
                    return Err(missing("is neither in the submission nor published"));
                };
                if !same_keys
                    && Authorization::delegated(&top_delegations, bin)
                        .verify(md.signatures(), &md.payload(), now)
                        .is_err()
                {
                    return Err(missing(
                        "as published is not signed as the new role requires: re-sign it in this submission",
                    ));
                }
            }
        }
        // 5. Every artifact present with the signed length and hash, copied
        //    into the staging area as it is checked (one read). A target is
        //    unchanged if the role (or, for a bin, the bin or the role it
        //    was split from) already listed it so.
        let top_previous = published.as_ref().map(|(m, _)| m.signed().targets.clone()).unwrap_or_default();
        let staging_dir = self.dir.join(STATE_DIR).join(STAGING_DIR);
        fs::create_dir_all(&staging_dir).map_err(|e| RegistryError::io(&staging_dir, e))?;
        let _staging = Staging(staging_dir.clone());
        let mut artifacts = Vec::new();
        let mut added: Vec<Vec<String>> = Vec::new();
        for c in &checked {
            let own_previous = match c.name == role {
                true => BTreeMap::new(),
                false => {
                    self.publisher_role(&c.name)?.map(|(m, _)| m.signed().targets.clone()).unwrap_or_default()
                }
            };
            let mut role_added = Vec::new();
            for (path, file) in &c.md.signed().targets {
                let sha = sha256_of(file).unwrap_or_default();
                let dest = self.dir.join(target_store_path(path, &sha));
                let unchanged = own_previous
                    .get(path)
                    .or_else(|| top_previous.get(path))
                    .is_some_and(|p| p.length == file.length && p.hashes == file.hashes);
                if !unchanged {
                    role_added.push(path.clone());
                }
                match scan.files.get(path) {
                    Some(src) => {
                        let staged = staging_dir.join(artifacts.len().to_string());
                        copy_verified(src, &staged, file).map_err(|e| match e {
                            CopyError::Mismatch(source) => RegistryError::ArtifactMismatch {
                                role: c.name.clone(),
                                target: path.clone(),
                                source,
                            },
                            CopyError::Io(e) => e,
                        })?;
                        artifacts.push((staged, dest));
                    }
                    None if unchanged && dest.is_file() => {}
                    None => {
                        return Err(RegistryError::ArtifactMissing {
                            role: c.name.clone(),
                            target: path.clone(),
                        })
                    }
                }
            }
            added.push(role_added);
        }
        // 5b. Sigstore provenance: each bundle a target names is listed by
        //     this publisher with the hash it names, and verifies for the
        //     target's bytes.
        let listed = |path: &str| -> Result<Option<String>, RegistryError> {
            if let Some(f) = checked.iter().find_map(|c| c.md.signed().targets.get(path)) {
                return Ok(sha256_of(f));
            }
            let Some(l) = layout else { return Ok(None) };
            let bin = l.bin_name(&role, l.index_of(TargetPath::new(path).hash()));
            Ok(self.publisher_role(&bin)?.and_then(|(m, _)| m.signed().targets.get(path).and_then(sha256_of)))
        };
        let mut sigstore = Vec::new();
        for c in &checked {
            sigstore.extend(self.check_sigstore(&c.name, c.md.signed(), &scan, &artifacts, &listed)?);
        }
        // 6. Nothing in the submission the roles do not sign.
        let signed_paths: std::collections::HashSet<&str> =
            checked.iter().flat_map(|c| c.md.signed().targets.keys().map(String::as_str)).collect();
        if let Some(extra) = scan.extra_entries(|p| signed_paths.contains(p)).into_iter().next() {
            return Err(RegistryError::ExtraFile { role, path: extra });
        }
        // 7. Only the active index key countersigns.
        check_index_key(&self.roots, &signer.key_id())?;

        let roles =
            checked.iter().map(|c| (c.name.clone(), c.md.signed().version, c.bytes.clone())).collect();
        let mut pending = self.resign(None, roles, signer, now, None)?;
        pending.artifacts = artifacts;
        let report = self.publish_pending(pending, signer, hook)?;
        crate::fault::point("registry-published");
        let first_seq = self.state.acceptances + 1;
        let mut records = Vec::new();
        let mut accepted = Vec::new();
        for (i, (c, targets_added)) in checked.iter().zip(added).enumerate() {
            let sha256 = sha256_hex(&c.bytes);
            accepted.push(AcceptedRole {
                role: c.name.clone(),
                version: c.md.signed().version,
                sha256: sha256.clone(),
                targets: c.md.signed().targets.len(),
            });
            records.push(AcceptRecord {
                seq: first_seq + i as u64,
                at: now,
                role: c.name.clone(),
                version: c.md.signed().version,
                sha256,
                length: c.bytes.len() as u64,
                targets_added,
                snapshot_version: report.snapshot_version,
                timestamp_version: report.timestamp_version,
                index_key: signer.key_id(),
                recovered: false,
            });
        }
        let targets_added: Vec<String> =
            records.iter().flat_map(|r| r.targets_added.iter().cloned()).collect();
        let seq = first_seq + records.len() as u64 - 1;
        self.record(records, delegation_state(&delegation, now))?;
        Ok(AcceptReport {
            sigstore,
            role,
            version: top.signed().version,
            sha256: sha256_hex(&top_bytes),
            targets_added,
            targets_total: accepted.iter().map(|a| a.targets).sum(),
            bins: count,
            roles: accepted,
            seq,
            snapshot_version: report.snapshot_version,
            timestamp_version: report.timestamp_version,
        })
    }

    /// Checks one offered role file, in this order: it parses; a threshold
    /// of the keys `delegated` names (under `delegator`) signed it; its own
    /// delegations pass `delegations`; every target is at a safe path,
    /// inside the publisher's namespaces (`publisher`), inside `bin`'s hash
    /// prefixes if it is a bin, with a SHA-256; its version is newer than
    /// the last accepted; it has not expired.
    #[allow(clippy::too_many_arguments)]
    fn check_role(
        &self,
        name: &str,
        bytes: &[u8],
        (delegator, delegated): (&Delegations, &DelegatedRole),
        publisher: &DelegatedRole,
        bin: Option<&DelegatedRole>,
        now: Timestamp,
        delegations: impl Fn(&Metadata<Targets>) -> Result<Option<BinLayout>, RegistryError>,
    ) -> Result<Metadata<Targets>, RegistryError> {
        let role = name.to_owned();
        let md = Metadata::<Targets>::from_bytes(bytes)
            .map_err(|source| RegistryError::MalformedRole { role: role.clone(), source })?;
        Authorization::delegated(delegator, delegated)
            .verify(md.signatures(), &md.payload(), now)
            .map_err(|source| RegistryError::Signature { role: role.clone(), source })?;
        delegations(&md)?;
        let signed = md.signed();
        for (path, file) in &signed.targets {
            if let Err(e) = ArchivePath::new(path) {
                return Err(RegistryError::BadTargetPath {
                    role,
                    target: path.clone(),
                    reason: e.to_string(),
                });
            }
            let query = TargetPath::new(path);
            if !query.covered_by(publisher) {
                return Err(RegistryError::OutsideNamespace {
                    role,
                    target: path.clone(),
                    namespaces: publisher.paths.clone().unwrap_or_default(),
                });
            }
            if let Some(bin) = bin.filter(|b| !query.covered_by(b)) {
                return Err(RegistryError::OutsideBin {
                    bin: bin.name.clone(),
                    target: path.clone(),
                    hash_prefix: query.hash()[..4].to_owned(),
                });
            }
            if sha256_of(file).is_none() {
                return Err(RegistryError::NoSha256 { role, target: path.clone() });
            }
        }
        if let Some(accepted) = self.last_accepted(name) {
            if signed.version <= accepted {
                return Err(RegistryError::VersionNotGreater { role, version: signed.version, accepted });
            }
        }
        if signed.expires <= now {
            return Err(RegistryError::RoleExpired { role, expires: signed.expires, now });
        }
        Ok(md)
    }

    /// The Sigstore checks of an acceptance (FORMAT.md 9.5): returns what
    /// verified, as `(target, issuer, SAN)`. Without a trusted root the
    /// bundles are only checked to be the ones the role binds, and left to
    /// the importer, whose policy checks them in any case.
    fn check_sigstore(
        &self,
        role: &str,
        signed: &Targets,
        scan: &submission::Scan,
        artifacts: &[(PathBuf, PathBuf)],
        listed: &dyn Fn(&str) -> Result<Option<String>, RegistryError>,
    ) -> Result<Vec<SigstoreAccepted>, RegistryError> {
        let mut out = Vec::new();
        for (target, file) in &signed.targets {
            let refuse = |reason: String| RegistryError::Sigstore {
                role: role.to_owned(),
                target: target.clone(),
                reason,
            };
            let Some(r) = SigstoreRef::of_target(file).map_err(|e| refuse(e.to_string()))? else { continue };
            if listed(&r.bundle)?.as_deref() != Some(r.sha256.as_str()) {
                return Err(refuse(format!(
                    "its Sigstore bundle {} is not listed by the publisher with SHA-256 {}",
                    r.bundle, r.sha256
                )));
            }
            let Some(root) = &self.sigstore_root else { continue };
            // The bundle's bytes: in the submission (already checked against
            // the role while staged), or the registry's copy if unchanged.
            let dest = self.dir.join(target_store_path(&r.bundle, &r.sha256));
            let path = scan
                .files
                .get(&r.bundle)
                .and_then(|_| artifacts.iter().find(|(_, d)| *d == dest).map(|(s, _)| s.clone()))
                .unwrap_or(dest);
            let bytes = fs::read(&path).map_err(|e| RegistryError::io(&path, e))?;
            let digest: [u8; 32] = hex::decode(sha256_of(file).unwrap_or_default())
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| refuse("no SHA-256".into()))?;
            let v = airlock_sigstore::verify_any_identity(
                &bytes,
                airlock_sigstore::ArtifactRef::Sha256(digest),
                root,
            )
            .map_err(|e| refuse(e.to_string()))?;
            out.push(SigstoreAccepted { target: target.clone(), issuer: v.issuer, san: v.san });
        }
        Ok(out)
    }

    /// Appends acceptances to the log and the state (log first: recovery
    /// after a crash in between finds them there). `fallback` is the state
    /// of a publisher the state does not know yet.
    fn record(&mut self, recs: Vec<AcceptRecord>, fallback: PublisherState) -> Result<(), RegistryError> {
        let log = self.dir.join(STATE_DIR).join(LOG_FILE);
        let mut lines = Vec::new();
        for rec in &recs {
            serde_json::to_writer(&mut lines, rec).map_err(|e| RegistryError::Internal(e.to_string()))?;
            lines.push(b'\n');
        }
        let mut f = fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&log)
            .map_err(|e| RegistryError::io(&log, e))?;
        f.write_all(&lines).and_then(|_| f.sync_all()).map_err(|e| RegistryError::io(&log, e))?;
        crate::fault::point("registry-logged");
        for rec in recs {
            let accepted = Accepted {
                version: rec.version,
                sha256: rec.sha256,
                length: rec.length,
                at: rec.at,
                seq: rec.seq,
            };
            self.set_accepted(rec.role, accepted, &fallback);
            self.state.acceptances = self.state.acceptances.max(rec.seq);
        }
        self.save_state()
    }

    /// The version of `role` the state records as accepted.
    fn recorded(&self, role: &str) -> Option<u64> {
        match bins::bin_publisher(role) {
            Some(_) => self.state.bins.get(role).map(|a| a.version),
            None => self.state.publishers.get(role).and_then(|p| p.accepted.as_ref()).map(|a| a.version),
        }
    }

    fn set_accepted(&mut self, role: String, accepted: Accepted, fallback: &PublisherState) {
        if bins::bin_publisher(&role).is_some() {
            self.state.bins.insert(role, accepted);
        } else {
            self.state.publishers.entry(role).or_insert_with(|| fallback.clone()).accepted = Some(accepted);
        }
    }

    /// After a crash between publishing a timestamp and recording the
    /// acceptance, the snapshot pins a role version the state lacks: record
    /// it (from the log if it got there, else as a recovered record).
    fn reconcile(&mut self, now: Timestamp) -> Result<(), RegistryError> {
        let mut behind = Vec::new();
        for (file, meta) in &self.snapshot.signed().meta {
            let Some(role) = file.strip_suffix(".json").filter(|r| *r != "targets") else { continue };
            if self.recorded(role).is_none_or(|v| v < meta.version) {
                behind.push((role.to_owned(), meta.clone()));
            }
        }
        if behind.is_empty() {
            return Ok(());
        }
        let log = self.dir.join(STATE_DIR).join(LOG_FILE);
        let text = fs::read_to_string(&log).map_err(|e| RegistryError::io(&log, e))?;
        let records: Vec<AcceptRecord> = text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
        for (role, meta) in behind {
            let fallback = self
                .delegations()
                .and_then(|d| d.role(&role))
                .map(|r| delegation_state(r, now))
                .unwrap_or_else(|| PublisherState {
                    namespaces: Vec::new(),
                    keyids: Vec::new(),
                    threshold: 1,
                    added_at: now,
                    removed_at: Some(now),
                    accepted: None,
                });
            let sha = meta.hashes.as_ref().and_then(|h| h.get("sha256")).cloned().unwrap_or_default();
            if let Some(rec) = records.iter().find(|r| r.role == role && r.version == meta.version) {
                let accepted = Accepted {
                    version: rec.version,
                    sha256: rec.sha256.clone(),
                    length: rec.length,
                    at: rec.at,
                    seq: rec.seq,
                };
                self.set_accepted(role.clone(), accepted, &fallback);
                self.state.acceptances = self.state.acceptances.max(rec.seq);
                self.save_state()?;
            } else {
                let seq = self.state.acceptances.max(records.last().map_or(0, |r| r.seq)) + 1;
                let rec = AcceptRecord {
                    seq,
                    at: now,
                    role: role.clone(),
                    version: meta.version,
                    sha256: sha,
                    length: meta.length.unwrap_or(0),
                    targets_added: Vec::new(),
                    snapshot_version: self.snapshot.signed().version,
                    timestamp_version: self.timestamp.signed().version,
                    index_key: self
                        .timestamp
                        .signatures()
                        .first()
                        .map(|s| s.keyid.clone())
                        .unwrap_or(KeyId(String::new())),
                    recovered: true,
                };
                self.record(vec![rec], fallback)?;
            }
        }
        Ok(())
    }

    /// Appends to the log every published role version it lacks and signs
    /// a checkpoint over it with `signer` (docs/FORMAT.md 10.2). Every
    /// change runs this after it is published, so a change that a crash
    /// kept out of the log is logged by the next one.
    pub fn sync_log(&self, signer: &dyn Signer) -> Result<(), RegistryError> {
        let mut log = RegistryLog::open(&self.dir)?;
        let current: BTreeMap<String, u64> = self
            .snapshot
            .signed()
            .meta
            .iter()
            .filter_map(|(file, m)| Some((file.strip_suffix(".json")?.to_owned(), m.version)))
            .collect();
        let published = log::published_entries(&self.dir, self.roots.len() as u64, &current, &log)?;
        log.sync(&self.state.identity, published, self.snapshot.signed().version, signer)
    }

    fn save_state(&self) -> Result<(), RegistryError> {
        write_atomic(&self.dir.join(STATE_DIR).join(STATE_FILE), &state_bytes(&self.state))
    }

    /// Signs new top-level metadata over `targets` if given (the custodians'
    /// signed bytes at their version) and `roles` (publisher role bytes at
    /// their versions): a snapshot over everything and a timestamp over it.
    fn resign(
        &self,
        targets: Option<(u64, Vec<u8>)>,
        roles: Vec<(String, u64, Vec<u8>)>,
        signer: &dyn Signer,
        now: Timestamp,
        trip_days: Option<u32>,
    ) -> Result<Pending, RegistryError> {
        check_log_key(signer)?;
        let mut days = self.days()?;
        if let Some(d) = trip_days {
            (days.snapshot, days.timestamp) = (d, d);
        }
        let root = self.newest_root();
        let mut pending = Pending::default();
        let mut meta = self.snapshot.signed().meta.clone();
        if let Some((v, bytes)) = targets {
            meta.insert("targets.json".into(), meta_file_for(&bytes, v));
            pending.files.push((format!("{v}.targets.json"), bytes));
            pending.targets_version = Some(v);
        }
        for (role, v, bytes) in roles {
            meta.insert(format!("{role}.json"), meta_file_for(&bytes, v));
            pending.files.push((format!("{v}.{role}.json"), bytes));
        }
        let sv = self.snapshot.signed().version + 1;
        let snapshot = Snapshot::new(sv, now.plus_secs(days.snapshot as i64 * DAY), meta);
        let (_, snapshot_bytes) = sign_role(root, snapshot, "snapshot", signer, now)?;
        let tv = self.timestamp.signed().version + 1;
        let mut ts = TimestampRole::new(
            tv,
            now.plus_secs(days.timestamp as i64 * DAY),
            meta_file_for(&snapshot_bytes, sv),
        );
        ts.extra.insert(TIMESTAMP_ISSUED.into(), serde_json::Value::String(now.to_string()));
        let (_, ts_bytes) = sign_role(root, ts, "timestamp", signer, now)?;
        pending.files.push((format!("{sv}.snapshot.json"), snapshot_bytes));
        pending.timestamp = ts_bytes;
        pending.snapshot_version = sv;
        pending.timestamp_version = tv;
        Ok(pending)
    }

    /// Publishes: artifacts, then metadata files, then `timestamp.json` by
    /// atomic rename (the commit point), then files that follow it. A
    /// failure before the commit point removes what this call created.
    /// `hook` is called with the name of each step before it (tests inject
    /// failures there).
    fn publish_pending(
        &mut self,
        p: Pending,
        signer: &dyn Signer,
        hook: Hook<'_>,
    ) -> Result<ChangeReport, RegistryError> {
        let md = self.dir.join(METADATA_DIR);
        let mut created: Vec<PathBuf> = Vec::new();
        let mut created_dirs: Vec<PathBuf> = Vec::new();
        let hooked = |hook: Hook<'_>, step: &str| {
            // Crash points `registry-artifact`, `registry-<file>`, `registry-timestamp.json`.
            crate::fault::point(&format!("registry-{step}"));
            hook(step).map_err(|e| RegistryError::io(step, e))
        };
        let result = (|| {
            for (staged, dest) in &p.artifacts {
                hooked(hook, "artifact")?;
                if dest.symlink_metadata().is_ok() {
                    continue;
                }
                let parent = dest.parent().unwrap_or(&self.dir).to_path_buf();
                let mut missing = Vec::new();
                let mut d = parent.as_path();
                while !d.exists() {
                    missing.push(d.to_path_buf());
                    match d.parent() {
                        Some(up) => d = up,
                        None => break,
                    }
                }
                for m in missing.into_iter().rev() {
                    fs::create_dir(&m).map_err(|e| RegistryError::io(&m, e))?;
                    created_dirs.push(m);
                }
                fs::rename(staged, dest).map_err(|e| RegistryError::io(dest, e))?;
                created.push(dest.clone());
            }
            // Every artifact (staged bytes and renames) durable before the
            // metadata that names it.
            if !created.is_empty() {
                sync_filesystem(&self.dir)?;
            }
            for (name, bytes) in &p.files {
                hooked(hook, name)?;
                let path = md.join(name);
                let existed = path.exists();
                write_atomic(&path, bytes)?;
                if !existed {
                    created.push(path);
                }
            }
            hooked(hook, "timestamp.json")?;
            write_atomic(&md.join("timestamp.json"), &p.timestamp)
        })();
        if let Err(e) = result {
            for f in created.iter().rev() {
                let _ = fs::remove_file(f);
            }
            for d in created_dirs.iter().rev() {
                let _ = fs::remove_dir(d);
            }
            return Err(e);
        }
        for (name, bytes) in &p.after {
            write_atomic(&md.join(name), bytes)?;
        }
        // Reload what was published, so the next change builds on it.
        let fresh = Self::load(&self.dir, None)?;
        self.timestamp = fresh.timestamp;
        self.snapshot = fresh.snapshot;
        self.targets = fresh.targets;
        self.roots = fresh.roots;
        crate::fault::point("registry-log");
        self.sync_log(signer)?;
        Ok(ChangeReport {
            targets_version: p.targets_version,
            snapshot_version: p.snapshot_version,
            timestamp_version: p.timestamp_version,
            roots_added: Vec::new(),
        })
    }
}

fn delegation_state(r: &DelegatedRole, now: Timestamp) -> PublisherState {
    PublisherState {
        namespaces: r.paths.clone().unwrap_or_default(),
        keyids: r.keyids.clone(),
        threshold: r.threshold,
        added_at: now,
        removed_at: None,
        accepted: None,
    }
}

fn state_bytes(state: &State) -> Vec<u8> {
    let mut out = serde_json::to_vec_pretty(state).unwrap_or_default();
    out.push(b'\n');
    out
}

fn parse_own<T: Role>(path: &Path) -> Result<Metadata<T>, RegistryError> {
    let bytes = read_own(path)?;
    Metadata::from_bytes(&bytes)
        .map_err(|e| RegistryError::Corrupt { path: path.into(), detail: e.to_string() })
}

fn expiry_days(root: &Root) -> Result<ExpiryDays, RegistryError> {
    RootExtension::of(root)
        .map(|e| e.expiry_days)
        .map_err(|source| RegistryError::NotAirlockRoot { version: root.version, source })
}

/// Signs `signed` as top-level role `role` and checks the signature against
/// `root` at once, so a wrong key never produces a file.
fn sign_role<T: Role>(
    root: &Root,
    signed: T,
    role: &str,
    signer: &dyn Signer,
    now: Timestamp,
) -> Result<(Metadata<T>, Vec<u8>), RegistryError> {
    let mut md = Metadata::new(signed)?;
    md.sign(signer)?;
    Authorization::top_level(root, role)
        .and_then(|a| a.verify(md.signatures(), &md.payload(), now))
        .map_err(|e| RegistryError::Internal(format!("the new {role} signature does not verify: {e}")))?;
    let bytes = md.to_bytes();
    Ok((md, bytes))
}

/// Checks that `keyid` is the active index key of the newest of `roots`:
/// listed (and not retiring) for snapshot and timestamp. Says
/// whether a refused key is retiring, was revoked, or never was an index key.
pub fn check_index_key(roots: &[Metadata<Root>], keyid: &KeyId) -> Result<(), RegistryError> {
    let Some(newest) = roots.last() else {
        return Err(RegistryError::Internal("no root".into()));
    };
    let newest = newest.signed();
    let refuse = |problem| Err(RegistryError::IndexKey { keyid: keyid.clone(), problem });
    let active =
        |r: &str| newest.role(r).is_some_and(|k| k.keyids.contains(keyid) && !k.retiring.contains_key(keyid));
    if airlock_keyceremony::rotation::signing_index_keys(newest).contains(keyid)
        && active("snapshot")
        && active("timestamp")
    {
        return Ok(());
    }
    for r in INDEX_ROLES {
        if let Some(deadline) = newest.role(r).and_then(|k| k.retiring.get(keyid)) {
            return refuse(IndexKeyProblem::Retiring { deadline: *deadline });
        }
    }
    let listed =
        |root: &Root| INDEX_ROLES.iter().any(|r| root.role(r).is_some_and(|k| k.keyids.contains(keyid)));
    let mut was_listed = false;
    for md in roots {
        if listed(md.signed()) {
            was_listed = true;
        } else if was_listed {
            return refuse(IndexKeyProblem::Revoked { in_root_version: md.signed().version });
        }
    }
    refuse(IndexKeyProblem::NotListed)
}

/// Refuses a root that lets an index key (snapshot or timestamp, by
/// decoded material) sign top-level targets: the admission rule
/// offline-targets, applied before the registry signs anything.
/// The index key also signs the log's checkpoints, which are Ed25519 note
/// signatures: refused before anything is published, not after.
fn check_log_key(signer: &dyn Signer) -> Result<(), RegistryError> {
    signer.public_key().ed25519_verifying_key().map(|_| ()).map_err(|e| RegistryError::LogKey(e.to_string()))
}

fn check_offline_targets(root: &Root) -> Result<(), RegistryError> {
    airlock_core::admission::check_root_offline_targets(root).map_err(|e| match e {
        airlock_core::admission::AdmissionError::OnlineKeySignsTargets { key, .. } => {
            RegistryError::OnlineTargetsKey { version: root.version, keyid: KeyId(key) }
        }
        other => RegistryError::Internal(other.to_string()),
    })
}

/// Checks top-level targets against `root`: a threshold of its targets
/// keys signed it, and it has not expired at `now`.
fn check_targets(root: &Root, md: &Metadata<Targets>, now: Timestamp) -> Result<(), RegistryError> {
    let version = md.signed().version;
    Authorization::top_level(root, "targets")
        .and_then(|a| a.verify(md.signatures(), &md.payload(), now))
        .map_err(|source| RegistryError::TargetsSignature { version, source })?;
    let expires = md.signed().expires;
    if expires <= now {
        return Err(RegistryError::TargetsExpired { version, expires, now });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
