//! `registry verify`: the whole repository checked from its first root as
//! a client would, every problem reported; `registry status`: versions,
//! expiries, publishers and counts.

use super::bins::BinLayout;
use super::error::RegistryError;
use super::fsio::{check_file, read_capped, CappedRead, CopyError, METADATA_MAX};
use super::state::State;
use super::transport::DirTransport;
use super::{list_root_files, sha256_of, target_store_path, Registry, METADATA_DIR, STATE_DIR, STATE_FILE};
use airlock_core::archive::ArchivePath;
use airlock_core::client::{Client, Limits};
use airlock_core::extension::RootExtension;
use airlock_core::metadata::DelegatedRole;
use airlock_core::metadata::{MetaFile, Role, Root, Snapshot, Targets, TimestampRole};
use airlock_core::paths::TargetPath;
use airlock_core::rootchain::{trust_first_root, update_root};
use airlock_core::target::TargetVerifier;
use airlock_core::{registry_identity, Authorization, KeyId, Metadata, Timestamp};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

/// One problem `verify` found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// What it concerns: a metadata file, `role ROLE, target PATH`, or `state`.
    pub subject: String,
    /// What is wrong.
    pub detail: String,
}

/// What `verify` found.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    /// The instant checked at.
    pub checked_at: Timestamp,
    /// The newest root version found.
    pub root_version: Option<u64>,
    /// The timestamp version.
    pub timestamp_version: Option<u64>,
    /// The snapshot version.
    pub snapshot_version: Option<u64>,
    /// Targets roles checked (top-level and delegated).
    pub roles_checked: usize,
    /// Target files checked (hash and length).
    pub targets_checked: usize,
    /// Publishers delegated to that have no accepted role yet.
    pub publishers_pending: Vec<String>,
    /// Publishers whose newest acceptance is served but not yet recorded in
    /// the registry's state (a writer stopped in between); the next writer
    /// records it.
    pub state_behind: Vec<String>,
    /// Every problem found; empty when the repository verifies.
    pub problems: Vec<Problem>,
}

impl VerifyReport {
    /// Whether the repository verified.
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

struct Walk<'a> {
    md: &'a Path,
    now: Timestamp,
    problems: Vec<Problem>,
}

impl Walk<'_> {
    fn problem(&mut self, subject: impl Into<String>, detail: impl std::fmt::Display) {
        self.problems.push(Problem { subject: subject.into(), detail: detail.to_string() });
    }

    fn read(&mut self, name: &str) -> Option<Vec<u8>> {
        match read_capped(&self.md.join(name), METADATA_MAX) {
            Ok(CappedRead::Bytes(b)) => Some(b),
            Ok(CappedRead::Missing) => {
                self.problem(format!("metadata/{name}"), "missing");
                None
            }
            Ok(CappedRead::TooLarge) => {
                self.problem(format!("metadata/{name}"), format!("larger than {METADATA_MAX} bytes"));
                None
            }
            Err(e) => {
                self.problem(format!("metadata/{name}"), e);
                None
            }
        }
    }

    fn parse<T: Role>(&mut self, name: &str, bytes: &[u8]) -> Option<Metadata<T>> {
        match Metadata::<T>::from_bytes(bytes) {
            Ok(m) => Some(m),
            Err(e) => {
                self.problem(format!("metadata/{name}"), e);
                None
            }
        }
    }

    fn expiry<T: Role>(&mut self, name: &str, md: &Metadata<T>) {
        let expires = md.signed().expires();
        if expires <= self.now {
            self.problem(
                format!("metadata/{name}"),
                format!("expired at {expires} (checked at {})", self.now),
            );
        }
    }

    fn meta_file(&mut self, name: &str, meta: &MetaFile, bytes: &[u8]) {
        if let Some(len) = meta.length {
            if bytes.len() as u64 != len {
                self.problem(
                    format!("metadata/{name}"),
                    format!("length {} differs from the recorded {len}", bytes.len()),
                );
                return;
            }
        }
        if let Some(hashes) = &meta.hashes {
            let file = airlock_core::metadata::TargetFile {
                length: bytes.len() as u64,
                hashes: hashes.clone().into(),
                custom: None,
                extra: BTreeMap::new(),
            };
            if let Err(e) = TargetVerifier::check_bytes(&file, bytes) {
                self.problem(format!("metadata/{name}"), e);
            }
        }
    }

    fn top_sig<T: Role>(&mut self, root: &Root, role: &str, name: &str, md: &Metadata<T>) {
        let r = Authorization::top_level(root, role)
            .and_then(|a| a.verify(md.signatures(), &md.payload(), self.now));
        if let Err(e) = r {
            self.problem(format!("metadata/{name}"), e);
        }
    }
}

/// Checks the repository in `dir` at `now`: the root chain from version 1
/// (pinned by the identity in the state file), timestamp, snapshot, every
/// targets role it pins (hashes, lengths, versions, signatures by the
/// delegating keys, expiry, namespaces) and every target file of every
/// current role (length and sha256, streamed). Every problem is reported.
/// When the walk finds none, the core TUF client also runs over the
/// directory, and finds every target through the delegation search.
pub fn verify(dir: &Path, now: Timestamp) -> VerifyReport {
    let md_dir = dir.join(METADATA_DIR);
    let mut w = Walk { md: &md_dir, now, problems: Vec::new() };
    let mut report = VerifyReport {
        checked_at: now,
        root_version: None,
        timestamp_version: None,
        snapshot_version: None,
        roles_checked: 0,
        targets_checked: 0,
        publishers_pending: Vec::new(),
        state_behind: Vec::new(),
        problems: Vec::new(),
    };
    let state_path = dir.join(STATE_DIR).join(STATE_FILE);
    let state: Option<State> = match read_capped(&state_path, METADATA_MAX) {
        Ok(CappedRead::Bytes(b)) => match serde_json::from_slice(&b) {
            Ok(s) => Some(s),
            Err(e) => {
                w.problem("registry/state.json", e);
                None
            }
        },
        _ => {
            w.problem("registry/state.json", "missing or unreadable");
            None
        }
    };

    // Roots.
    let files = match list_root_files(&md_dir) {
        Ok(f) => f,
        Err(e) => {
            w.problem("metadata/", e);
            Vec::new()
        }
    };
    if files.is_empty() || files[0].0 != 1 {
        w.problem("metadata/1.root.json", "missing: the chain must start at root version 1");
        report.problems = w.problems;
        return report;
    }
    let mut root: Option<(Metadata<Root>, Vec<u8>)> = None;
    let mut root1 = Vec::new();
    for (i, (v, _)) in files.iter().enumerate() {
        let name = format!("{v}.root.json");
        if *v != i as u64 + 1 {
            w.problem(format!("metadata/{name}"), format!("root versions skip from {i} to {v}"));
            break;
        }
        let Some(bytes) = w.read(&name) else { break };
        let Some(md) = w.parse::<Root>(&name, &bytes) else { break };
        match &root {
            None => {
                let identity = state.as_ref().map_or_else(|| registry_identity(&md), |s| s.identity.clone());
                if let Err(e) = trust_first_root(&identity, &md, now) {
                    w.problem(format!("metadata/{name}"), e);
                }
                root1 = bytes.clone();
            }
            Some((prev, _)) => {
                if let Err(e) = update_root(prev, &md, now) {
                    w.problem(format!("metadata/{name}"), e);
                }
            }
        }
        root = Some((md, bytes));
    }
    let Some((root, root_bytes)) = root else {
        report.problems = w.problems;
        return report;
    };
    let root_name = format!("{}.root.json", root.signed().version);
    report.root_version = Some(root.signed().version);
    w.expiry(&root_name, &root);
    if let Err(e) = super::check_offline_targets(root.signed()) {
        w.problem(format!("metadata/{root_name}"), e);
    }
    match RootExtension::of(root.signed()) {
        Ok(ext) if ext.rehearsal => w.problem(format!("metadata/{root_name}"), "a rehearsal root"),
        Ok(_) => {}
        Err(e) => w.problem(format!("metadata/{root_name}"), e),
    }
    match w.read("root.json") {
        Some(b) if b == root_bytes => {}
        Some(_) => w.problem("metadata/root.json", format!("differs from the newest root, {root_name}")),
        None => {}
    }
    let root_signed = root.signed().clone();

    // Timestamp and snapshot.
    let timestamp = w.read("timestamp.json").and_then(|b| w.parse::<TimestampRole>("timestamp.json", &b));
    let mut snapshot: Option<Metadata<Snapshot>> = None;
    if let Some(ts) = &timestamp {
        report.timestamp_version = Some(ts.signed().version);
        w.top_sig(&root_signed, "timestamp", "timestamp.json", ts);
        w.expiry("timestamp.json", ts);
        if let Some(meta) = ts.signed().snapshot_meta().cloned() {
            let name = format!("{}.snapshot.json", meta.version);
            if let Some(bytes) = w.read(&name) {
                w.meta_file(&name, &meta, &bytes);
                if let Some(s) = w.parse::<Snapshot>(&name, &bytes) {
                    w.top_sig(&root_signed, "snapshot", &name, &s);
                    w.expiry(&name, &s);
                    if s.signed().version != meta.version {
                        w.problem(
                            format!("metadata/{name}"),
                            format!("is version {}, timestamp names {}", s.signed().version, meta.version),
                        );
                    }
                    snapshot = Some(s);
                }
            }
        }
    }
    let Some(snapshot) = snapshot else {
        report.problems = w.problems;
        return report;
    };
    report.snapshot_version = Some(snapshot.signed().version);

    // Targets roles.
    let mut roles: BTreeMap<String, (Metadata<Targets>, Vec<u8>)> = BTreeMap::new();
    let load = |w: &mut Walk<'_>, role: &str| -> Option<(Metadata<Targets>, Vec<u8>)> {
        let file = format!("{role}.json");
        let Some(meta) = snapshot.signed().meta.get(&file) else {
            w.problem("metadata/snapshot", format!("does not list {file}"));
            return None;
        };
        let name = format!("{}.{file}", meta.version);
        let bytes = w.read(&name)?;
        w.meta_file(&name, meta, &bytes);
        let md = w.parse::<Targets>(&name, &bytes)?;
        if md.signed().version != meta.version {
            w.problem(
                format!("metadata/{name}"),
                format!("is version {}, snapshot names {}", md.signed().version, meta.version),
            );
        }
        w.expiry(&name, &md);
        Some((md, bytes))
    };
    let top = load(&mut w, "targets");
    if let Some((t, _)) = &top {
        let name = format!("{}.targets.json", t.signed().version);
        w.top_sig(&root_signed, "targets", &name, t);
        report.roles_checked += 1;
        let delegations = t.signed().delegations.clone();
        for r in delegations.iter().flat_map(|d| d.roles.iter()) {
            let file = format!("{}.json", r.name);
            if !snapshot.signed().meta.contains_key(&file) {
                report.publishers_pending.push(r.name.clone());
                continue;
            }
            let Some((md, bytes)) = load(&mut w, &r.name) else { continue };
            report.roles_checked += 1;
            let name = format!("{}.{file}", md.signed().version);
            if let Some(d) = &delegations {
                if let Err(e) = Authorization::delegated(d, r).verify(md.signatures(), &md.payload(), now) {
                    w.problem(format!("metadata/{name}"), e);
                }
            }
            let outside = |w: &mut Walk<'_>,
                           role: &str,
                           md: &Metadata<Targets>,
                           bin: Option<&DelegatedRole>| {
                for path in md.signed().targets.keys() {
                    let q = TargetPath::new(path);
                    if ArchivePath::new(path).is_err() || !q.covered_by(r) {
                        w.problem(
                            format!("role {role}, target {path}"),
                            format!("outside the namespaces {:?}", r.paths.clone().unwrap_or_default()),
                        );
                    } else if bin.is_some_and(|b| !q.covered_by(b)) {
                        w.problem(format!("role {role}, target {path}"), "outside the bin's hash prefixes");
                    }
                }
            };
            outside(&mut w, &r.name, &md, None);
            // A publisher role delegates only to its own hash bins, each
            // signed as the role says, listing only paths of its prefixes.
            if let (Some(bins), Some(d)) = (md.signed().delegations.clone(), &delegations) {
                if let Err(e) = BinLayout::of(&r.name, &bins, d, r) {
                    w.problem(format!("metadata/{name}"), format!("not a valid hash-bin layout: {e}"));
                }
                for b in &bins.roles {
                    if !snapshot.signed().meta.contains_key(&format!("{}.json", b.name)) {
                        w.problem(
                            format!("metadata/{name}"),
                            format!("delegates to bin {}, which is not published", b.name),
                        );
                        continue;
                    }
                    let Some((bin_md, bin_bytes)) = load(&mut w, &b.name) else { continue };
                    report.roles_checked += 1;
                    let bin_name = format!("{}.{}.json", bin_md.signed().version, b.name);
                    if let Err(e) =
                        Authorization::delegated(&bins, b).verify(bin_md.signatures(), &bin_md.payload(), now)
                    {
                        w.problem(format!("metadata/{bin_name}"), e);
                    }
                    if bin_md.signed().delegations.is_some() {
                        w.problem(format!("metadata/{bin_name}"), "a hash bin may not delegate");
                    }
                    outside(&mut w, &b.name, &bin_md, Some(b));
                    roles.insert(b.name.clone(), (bin_md, bin_bytes));
                }
            }
            roles.insert(r.name.clone(), (md, bytes));
        }
    }
    if let Some(t) = top {
        roles.insert("targets".into(), t);
    }

    // Target files.
    for (role, (md, _)) in &roles {
        for (path, file) in &md.signed().targets {
            let subject = format!("role {role}, target {path}");
            let Some(sha) = sha256_of(file) else {
                w.problem(subject, "no sha256 hash");
                continue;
            };
            if ArchivePath::new(path).is_err() {
                w.problem(subject, "not a safe relative path");
                continue;
            }
            report.targets_checked += 1;
            let stored = dir.join(target_store_path(path, &sha));
            match check_file(&stored, file) {
                Ok(()) => {}
                Err(CopyError::Mismatch(e)) => {
                    w.problem(subject, format!("{}: {e}", target_store_path(path, &sha)))
                }
                Err(CopyError::Io(e)) => w.problem(subject, e),
            }
        }
    }

    // The registry's state against what is served.
    if let Some(state) = &state {
        if registry_identity(&match Metadata::<Root>::from_bytes(&root1) {
            Ok(m) => m,
            Err(_) => root.clone(),
        }) != state.identity
        {
            w.problem("registry/state.json", "identity differs from that of metadata/1.root.json");
        }
        let accepted = state
            .publishers
            .iter()
            .map(|(name, p)| (name, p.accepted.as_ref()))
            .chain(state.bins.iter().map(|(name, a)| (name, Some(a))));
        for (name, accepted) in accepted {
            let pinned = snapshot.signed().meta.get(&format!("{name}.json"));
            match (accepted, pinned) {
                // A state one step behind the snapshot is a writer that
                // stopped after publishing and before recording (a crash):
                // the served repository is whole, and the next writer
                // records the acceptance (`reconcile`). Not a problem.
                (Some(a), Some(m)) if a.version < m.version => {
                    report.state_behind.push(name.clone());
                }
                (None, Some(_)) => report.state_behind.push(name.clone()),
                (Some(a), Some(m)) => {
                    let sha = m.hashes.as_ref().and_then(|h| h.get("sha256"));
                    if a.version != m.version || sha != Some(&a.sha256) {
                        w.problem(
                            "registry/state.json",
                            format!(
                                "records {name} version {} but the snapshot pins version {}{}",
                                a.version,
                                m.version,
                                if a.version == m.version { " with another hash" } else { "" }
                            ),
                        );
                    }
                }
                (Some(a), None) => w.problem(
                    "registry/state.json",
                    format!("records {name} version {} but the snapshot does not pin it", a.version),
                ),
                (None, None) => {}
            }
        }
    }

    // As a client would: only meaningful when the walk found nothing.
    if w.problems.is_empty() {
        let mut transport = DirTransport::new(&md_dir);
        let client = Client::new(&root1, &mut transport, now, Limits::default());
        match client {
            Err(e) => w.problem("client", e),
            Ok(mut client) => match client.refresh() {
                Err(e) => w.problem("client", e),
                Ok(()) => {
                    for (role, (md, _)) in &roles {
                        for (path, file) in &md.signed().targets {
                            match client.target_info(path) {
                                Ok(Some(m)) if m.role == *role && m.file == *file => {}
                                Ok(Some(m)) => w.problem(
                                    format!("role {role}, target {path}"),
                                    format!("a client finds it in role {} instead", m.role),
                                ),
                                Ok(None) => w.problem(
                                    format!("role {role}, target {path}"),
                                    "a client does not find it through the delegations",
                                ),
                                Err(e) => w.problem(format!("role {role}, target {path}"), e),
                            }
                        }
                    }
                }
            },
        }
    }
    report.problems = w.problems;
    report
}

/// A role's version and expiry.
#[derive(Debug, Clone, Serialize)]
pub struct RoleStatus {
    /// The role.
    pub role: String,
    /// Its version.
    pub version: u64,
    /// Its expiry.
    pub expires: Timestamp,
    /// Whether it has expired at the time of the status.
    pub expired: bool,
}

/// A publisher in `status`.
#[derive(Debug, Clone, Serialize)]
pub struct PublisherStatus {
    /// Its name.
    pub name: String,
    /// Its namespaces.
    pub namespaces: Vec<String>,
    /// Its key ids.
    pub keyids: Vec<KeyId>,
    /// Its threshold.
    pub threshold: u64,
    /// Its accepted role, if any.
    pub role: Option<RoleStatus>,
    /// Targets in its role and its hash bins.
    pub targets: usize,
    /// Their total length in bytes.
    pub target_bytes: u64,
    /// How many hash bins it publishes in (0: none).
    pub bins: usize,
    /// When its last version was accepted.
    pub last_accepted_at: Option<Timestamp>,
}

/// Counts in `status`.
#[derive(Debug, Clone, Serialize)]
pub struct CountStatus {
    /// Root versions.
    pub root_versions: usize,
    /// Current publishers.
    pub publishers: usize,
    /// Targets of all current publishers.
    pub targets: usize,
    /// Their total length in bytes.
    pub target_bytes: u64,
    /// Acceptances recorded.
    pub acceptances: u64,
}

/// What `status` shows.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// The registry's name.
    pub registry: String,
    /// The registry identity.
    pub identity: String,
    /// The instant of the status.
    pub at: Timestamp,
    /// Root, targets, snapshot and timestamp.
    pub roles: Vec<RoleStatus>,
    /// Current publishers.
    pub publishers: Vec<PublisherStatus>,
    /// Counts.
    pub counts: CountStatus,
    /// The role that expires first (publisher roles included).
    pub soonest: Option<RoleStatus>,
}

/// The status of the registry in `dir` at `now` (no signature checks: that
/// is `verify`).
pub fn status(dir: &Path, now: Timestamp) -> Result<Status, RegistryError> {
    let reg = Registry::open(dir)?;
    let rs = |role: &str, version: u64, expires: Timestamp| RoleStatus {
        role: role.to_owned(),
        version,
        expires,
        expired: expires <= now,
    };
    let root = reg.newest_root();
    let mut roles = vec![
        rs("root", root.version, root.expires),
        rs("targets", reg.targets().signed().version, reg.targets().signed().expires),
        rs("snapshot", reg.snapshot().signed().version, reg.snapshot().signed().expires),
        rs("timestamp", reg.timestamp().signed().version, reg.timestamp().signed().expires),
    ];
    let mut publishers = Vec::new();
    let mut bin_roles = Vec::new();
    for p in reg.publishers() {
        let role = reg.publisher_role(&p.name)?;
        let (role_status, mut targets, mut bytes) = match &role {
            Some((md, _)) => (
                Some(rs(&p.name, md.signed().version, md.signed().expires)),
                md.signed().targets.len(),
                md.signed().targets.values().map(|t| t.length).sum(),
            ),
            None => (None, 0, 0),
        };
        let bins: Vec<String> = role
            .iter()
            .flat_map(|(md, _)| {
                md.signed().delegations.iter().flat_map(|d| d.roles.iter().map(|r| r.name.clone()))
            })
            .collect();
        for bin in &bins {
            if let Some((md, _)) = reg.publisher_role(bin)? {
                targets += md.signed().targets.len();
                bytes += md.signed().targets.values().map(|t| t.length).sum::<u64>();
                bin_roles.push(rs(bin, md.signed().version, md.signed().expires));
            }
        }
        let last = reg.state().publishers.get(&p.name).and_then(|s| s.accepted.as_ref()).map(|a| a.at);
        publishers.push(PublisherStatus {
            name: p.name,
            namespaces: p.namespaces,
            keyids: p.keyids,
            threshold: p.threshold,
            role: role_status,
            targets,
            target_bytes: bytes,
            bins: bins.len(),
            last_accepted_at: last,
        });
    }
    let counts = CountStatus {
        root_versions: reg.roots().len(),
        publishers: publishers.len(),
        targets: publishers.iter().map(|p| p.targets).sum(),
        target_bytes: publishers.iter().map(|p| p.target_bytes).sum(),
        acceptances: reg.state().acceptances,
    };
    roles.extend(publishers.iter().filter_map(|p| p.role.clone()));
    roles.extend(bin_roles);
    let soonest = roles.iter().min_by_key(|r| r.expires).cloned();
    roles.truncate(4);
    Ok(Status {
        registry: reg.state().registry.clone(),
        identity: reg.state().identity.clone(),
        at: now,
        roles,
        publishers,
        counts,
        soonest,
    })
}
