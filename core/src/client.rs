//! The TUF client workflow (specification section 5), synchronous, over an
//! abstract transport. One `now` is used for every expiry check of an update.
//!
//! The order of checks follows the specification's numbered steps, cited at
//! the lines that implement them. Deviation: none known.

use crate::hash::sha256_hex;
use crate::metadata::{
    MetaFile, Metadata, MetadataError, Role, Root, Signature, Snapshot, TargetFile, Targets, TimestampRole,
};
use crate::paths::TargetPath;
use crate::rootchain::{update_root, RootChainError};
use crate::target::TargetVerifier;
use crate::threshold::{Authorization, ThresholdError};
use crate::time::Timestamp;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Why a transport could not deliver a file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// The source held more bytes than allowed.
    #[error("more than {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: u64,
    },
    /// Reading failed.
    #[error("{0}")]
    Io(String),
}

/// Where metadata comes from: a directory, a bundle, a web server.
pub trait Transport {
    /// Fetches metadata file `name` (e.g. `3.root.json`, `timestamp.json`),
    /// reading at most `max_len` bytes. `Ok(None)` when it does not exist.
    ///
    /// For a delegated role, `name` is `ROLE.json` or `VERSION.ROLE.json`
    /// with the role name as the delegating metadata spells it; a transport
    /// that cannot map every name to a location unambiguously says so
    /// through [`Transport::supports_role_name`].
    fn fetch_metadata(&mut self, name: &str, max_len: u64) -> Result<Option<Vec<u8>>, TransportError>;

    /// Whether the metadata of a delegated role called `role` can be fetched
    /// through this transport. The default, [`safe_role_name`], suits
    /// transports that use the name as a file name as it is; a transport
    /// that escapes names (HTTP with percent-encoding) accepts every name.
    fn supports_role_name(&self, role: &str) -> bool {
        safe_role_name(role)
    }
}

/// Upper bounds against endless data and endless delegation graphs.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Root versions fetched in one update.
    pub max_root_rotations: u64,
    /// Bytes of a root file.
    pub root_max: u64,
    /// Bytes of timestamp.json.
    pub timestamp_max: u64,
    /// Bytes of a snapshot when timestamp does not give its length.
    pub snapshot_max: u64,
    /// Bytes of a targets role when snapshot does not give its length.
    pub targets_max: u64,
    /// Delegated roles visited in one target search.
    pub max_delegations: usize,
}

impl Default for Limits {
    /// python-tuf's defaults.
    fn default() -> Self {
        Limits {
            max_root_rotations: 256,
            root_max: 512_000,
            timestamp_max: 16_384,
            snapshot_max: 2_000_000,
            targets_max: 5_000_000,
            max_delegations: 32,
        }
    }
}

/// Why an update was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpdateError {
    /// The transport failed.
    #[error("{name}: {source}")]
    Transport {
        /// The file.
        name: String,
        /// What happened.
        source: TransportError,
    },
    /// A required file does not exist.
    #[error("{0}: not found")]
    NotFound(String),
    /// A file does not parse or validate.
    #[error("{name}: {source}")]
    Metadata {
        /// The file.
        name: String,
        /// Why.
        source: MetadataError,
    },
    /// Too few valid signatures.
    #[error("{name}: {source}")]
    Threshold {
        /// The file.
        name: String,
        /// The count.
        source: ThresholdError,
    },
    /// A root update failed.
    #[error("{name}: {source}")]
    Root {
        /// The file.
        name: String,
        /// Why.
        source: RootChainError,
    },
    /// A version went backwards.
    #[error("rollback of {role}: trusted version {trusted}, offered {found}")]
    Rollback {
        /// The role.
        role: String,
        /// The trusted version.
        trusted: u64,
        /// The version offered.
        found: u64,
    },
    /// A version differs from the one its parent metadata names.
    #[error("{role} is version {found}, but {by} names version {expected}")]
    VersionMismatch {
        /// The role.
        role: String,
        /// The metadata naming it.
        by: &'static str,
        /// The version named.
        expected: u64,
        /// The version found.
        found: u64,
    },
    /// A file's length or hash differs from what its parent metadata says.
    #[error("{name}: {detail}")]
    HashMismatch {
        /// The file.
        name: String,
        /// What differs.
        detail: String,
    },
    /// Metadata has expired.
    #[error("{role} expired at {expires} (checked at {now})")]
    Expired {
        /// The role.
        role: String,
        /// Its expiry.
        expires: Timestamp,
        /// The time of the update.
        now: Timestamp,
    },
    /// Snapshot does not list a role it must list.
    #[error("snapshot does not list {0}")]
    MissingRole(String),
    /// A role name that the transport cannot fetch safely (one that is not
    /// usable as a file name, for transports that use it as one).
    #[error("role name {0:?} is not safe as a file name")]
    UnsafeRoleName(String),
    /// The workflow was called out of order.
    #[error("{0} is not loaded yet")]
    NotLoaded(&'static str),
}

/// Verified metadata with the exact bytes it was read from.
#[derive(Debug, Clone)]
pub struct Verified<T> {
    /// The parsed metadata. For a targets role the client keeps it without
    /// the canonical bytes of `signed` ([`Metadata::from_shared_checked`]):
    /// they are rebuilt from `bytes` when asked for.
    pub metadata: Metadata<T>,
    /// The bytes as received, for storing; shared with `metadata`, which
    /// rebuilds its payload from them.
    pub bytes: Arc<Vec<u8>>,
}

impl<T: Role> Verified<T> {
    /// The signed content.
    pub fn signed(&self) -> &T {
        self.metadata.signed()
    }
}

/// Metadata the client trusts, after an update.
#[derive(Debug, Clone)]
pub struct Trusted {
    /// The newest verified root.
    pub root: Verified<Root>,
    /// Root versions newly accepted in this update, oldest first.
    pub new_roots: Vec<Verified<Root>>,
    /// The verified timestamp.
    pub timestamp: Option<Verified<TimestampRole>>,
    /// The verified snapshot.
    pub snapshot: Option<Verified<Snapshot>>,
    /// Verified targets roles by name.
    pub targets: BTreeMap<String, Verified<Targets>>,
}

impl Trusted {
    /// The first instant at which some trusted role has expired, and that
    /// role: from then on a client refuses this metadata (a bundle made
    /// from it stops being importable; a mirror serving it goes stale).
    pub fn earliest_expiry(&self) -> (Timestamp, String) {
        let mut all = vec![(self.root.signed().expires, "root".to_owned())];
        all.extend(self.timestamp.iter().map(|t| (t.signed().expires, "timestamp".to_owned())));
        all.extend(self.snapshot.iter().map(|t| (t.signed().expires, "snapshot".to_owned())));
        all.extend(self.targets.iter().map(|(role, t)| (t.signed().expires, role.clone())));
        all.into_iter().min().unwrap_or((self.root.signed().expires, "root".to_owned()))
    }
}

/// A target found by the delegation search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetMatch {
    /// The signed description.
    pub file: TargetFile,
    /// The role that signs it, after `targets` and any delegators.
    pub role: String,
}

/// The client: trusted state, a transport, and the time of this update.
pub struct Client<'a, T: Transport + ?Sized> {
    transport: &'a mut T,
    trusted: Trusted,
    now: Timestamp,
    limits: Limits,
    /// Previously trusted targets metadata by role name, used instead of a
    /// download while it still verifies against the current snapshot.
    cached: BTreeMap<String, Vec<u8>>,
    /// (role, delegator) pairs already verified in this update. Within one
    /// client a loaded role, its delegator and `now` never change, so one
    /// check per pair is enough; without this a search per target would
    /// re-verify every role on its path (quadratic in the target count).
    verified_pairs: BTreeSet<(String, String)>,
}

fn parse<R: Role>(name: &str, bytes: &[u8]) -> Result<Metadata<R>, UpdateError> {
    Metadata::from_bytes(bytes).map_err(|source| UpdateError::Metadata { name: name.to_owned(), source })
}

fn check_expiry<R: Role>(role: &str, md: &Metadata<R>, now: Timestamp) -> Result<(), UpdateError> {
    let expires = md.signed().expires();
    if expires <= now {
        return Err(UpdateError::Expired { role: role.to_owned(), expires, now });
    }
    Ok(())
}

/// Checks bytes against the length and hashes a parent recorded.
fn check_meta_file(name: &str, meta: &MetaFile, bytes: &[u8]) -> Result<(), UpdateError> {
    if let Some(len) = meta.length {
        if bytes.len() as u64 != len {
            return Err(UpdateError::HashMismatch {
                name: name.to_owned(),
                detail: format!("length {} differs from the recorded {len}", bytes.len()),
            });
        }
    }
    if let Some(hashes) = &meta.hashes {
        let file = TargetFile {
            length: bytes.len() as u64,
            hashes: hashes.clone().into(),
            custom: None,
            extra: Default::default(),
        };
        TargetVerifier::check_bytes(&file, bytes)
            .map_err(|e| UpdateError::HashMismatch { name: name.to_owned(), detail: e.to_string() })?;
    }
    Ok(())
}

/// Whether a role name can be used in a file name without escaping.
pub fn safe_role_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

impl<'a, T: Transport + ?Sized> Client<'a, T> {
    /// Starts from a trusted root (5.2): it must meet its own threshold.
    /// Its expiry is not checked here; an update checks the newest root.
    pub fn new(
        root_bytes: &[u8],
        transport: &'a mut T,
        now: Timestamp,
        limits: Limits,
    ) -> Result<Self, UpdateError> {
        let name = "trusted root";
        let root: Metadata<Root> = parse(name, root_bytes)?;
        let auth = Authorization::top_level(root.signed(), "root")
            .map_err(|source| UpdateError::Threshold { name: name.into(), source })?;
        auth.verify(root.signatures(), &root.payload_bytes(), now)
            .map_err(|source| UpdateError::Threshold { name: name.into(), source })?;
        let root = Verified { metadata: root, bytes: Arc::new(root_bytes.to_vec()) };
        let trusted = Trusted {
            root,
            new_roots: Vec::new(),
            timestamp: None,
            snapshot: None,
            targets: BTreeMap::new(),
        };
        Ok(Client {
            transport,
            trusted,
            now,
            limits,
            cached: BTreeMap::new(),
            verified_pairs: BTreeSet::new(),
        })
    }

    /// Adds previously trusted timestamp and snapshot (for rollback checks).
    /// They are verified with the current root's keys; ones that no longer
    /// verify are dropped, as python-tuf does.
    pub fn with_previous(mut self, timestamp: Option<&[u8]>, snapshot: Option<&[u8]>) -> Self {
        if let Some(b) = timestamp {
            if let Ok(md) = self.verify_top::<TimestampRole>("timestamp", "timestamp.json", b) {
                self.trusted.timestamp = Some(Verified { metadata: md, bytes: Arc::new(b.to_vec()) });
            }
        }
        if let Some(b) = snapshot {
            if let Ok(md) = self.verify_top::<Snapshot>("snapshot", "snapshot.json", b) {
                self.trusted.snapshot = Some(Verified { metadata: md, bytes: Arc::new(b.to_vec()) });
            }
        }
        self
    }

    /// Adds previously trusted targets metadata, by role name (`targets`
    /// for the top-level role), as a client keeps it between updates. Each
    /// copy is used instead of a download only if it passes every check a
    /// download would (length and hashes and version from the snapshot,
    /// signatures of the delegating role, expiry); otherwise the role is
    /// downloaded as usual. Nothing is checked here.
    pub fn with_cached_targets(mut self, cached: BTreeMap<String, Vec<u8>>) -> Self {
        self.cached = cached;
        self
    }

    /// The trusted state.
    pub fn trusted(&self) -> &Trusted {
        &self.trusted
    }

    /// Gives up the client and keeps the trusted state.
    pub fn into_trusted(self) -> Trusted {
        self.trusted
    }

    fn consistent(&self) -> bool {
        self.trusted.root.signed().consistent_snapshot.unwrap_or(false)
    }

    fn fetch(&mut self, name: &str, max: u64) -> Result<Vec<u8>, UpdateError> {
        match self.transport.fetch_metadata(name, max) {
            Ok(Some(b)) => Ok(b),
            Ok(None) => Err(UpdateError::NotFound(name.to_owned())),
            Err(source) => Err(UpdateError::Transport { name: name.to_owned(), source }),
        }
    }

    fn verify_top<R: Role>(&self, role: &str, name: &str, bytes: &[u8]) -> Result<Metadata<R>, UpdateError> {
        let md: Metadata<R> = parse(name, bytes)?;
        let auth = Authorization::top_level(self.trusted.root.signed(), role)
            .map_err(|source| UpdateError::Threshold { name: name.into(), source })?;
        auth.verify(md.signatures(), &md.payload_bytes(), self.now)
            .map_err(|source| UpdateError::Threshold { name: name.into(), source })?;
        Ok(md)
    }

    /// Runs root, timestamp, snapshot and top-level targets (5.3 to 5.6).
    pub fn refresh(&mut self) -> Result<(), UpdateError> {
        self.update_root()?;
        self.update_timestamp()?;
        self.update_snapshot()?;
        self.update_targets("targets", None)?;
        Ok(())
    }

    /// 5.3: follows root versions until the next one is absent.
    pub fn update_root(&mut self) -> Result<(), UpdateError> {
        for _ in 0..self.limits.max_root_rotations {
            let next = self.trusted.root.signed().version + 1;
            let name = format!("{next}.root.json");
            let bytes = match self.transport.fetch_metadata(&name, self.limits.root_max) {
                Ok(Some(b)) => b,
                Ok(None) => break,
                Err(source) => return Err(UpdateError::Transport { name, source }),
            };
            let new: Metadata<Root> = parse(&name, &bytes)?;
            // 5.3.4 and 5.3.5: thresholds of old and new, exact next version.
            update_root(&self.trusted.root.metadata, &new, self.now)
                .map_err(|source| UpdateError::Root { name: name.clone(), source })?;
            // 5.3.11: after a timestamp or snapshot key rotation, forget the
            // old timestamp and snapshot so a fast-forward attack can be undone.
            let old = self.trusted.root.signed();
            if old.role("timestamp") != new.signed().role("timestamp") {
                self.trusted.timestamp = None;
            }
            if old.role("snapshot") != new.signed().role("snapshot") {
                self.trusted.snapshot = None;
                self.trusted.timestamp = None;
            }
            let v = Verified { metadata: new, bytes: Arc::new(bytes) };
            self.trusted.new_roots.push(v.clone());
            self.trusted.root = v;
        }
        // 5.3.10: the newest root must not have expired.
        check_expiry("root", &self.trusted.root.metadata, self.now)
    }

    /// 5.4: the timestamp.
    pub fn update_timestamp(&mut self) -> Result<(), UpdateError> {
        let name = "timestamp.json";
        let bytes = self.fetch(name, self.limits.timestamp_max)?;
        // 5.4.2: signatures.
        let new: Metadata<TimestampRole> = self.verify_top("timestamp", name, &bytes)?;
        if let Some(old) = &self.trusted.timestamp {
            let (ov, nv) = (old.signed().version, new.signed().version);
            // 5.4.3.1: no rollback of the timestamp.
            if nv < ov {
                return Err(UpdateError::Rollback { role: "timestamp".into(), trusted: ov, found: nv });
            }
            // 5.4.3.2: no rollback of the snapshot version it names.
            let (os, ns) = (snapshot_version(old.signed()), snapshot_version(new.signed()));
            if ns < os {
                return Err(UpdateError::Rollback { role: "snapshot".into(), trusted: os, found: ns });
            }
            if nv == ov {
                // Nothing new; keep what we have, but it must still be fresh.
                return check_expiry("timestamp", &old.metadata, self.now);
            }
        }
        // 5.4.4: expiry.
        check_expiry("timestamp", &new, self.now)?;
        self.trusted.timestamp = Some(Verified { metadata: new, bytes: Arc::new(bytes) });
        Ok(())
    }

    /// 5.5: the snapshot named by the timestamp.
    pub fn update_snapshot(&mut self) -> Result<(), UpdateError> {
        let ts = self.trusted.timestamp.as_ref().ok_or(UpdateError::NotLoaded("timestamp"))?;
        let meta = ts
            .signed()
            .snapshot_meta()
            .cloned()
            .ok_or_else(|| UpdateError::MissingRole("snapshot.json".into()))?;
        if let Some(old) = &self.trusted.snapshot {
            if old.signed().version == meta.version
                && check_meta_file("snapshot.json", &meta, &old.bytes).is_ok()
            {
                return check_expiry("snapshot", &old.metadata, self.now);
            }
        }
        let name = if self.consistent() {
            format!("{}.snapshot.json", meta.version)
        } else {
            "snapshot.json".to_owned()
        };
        let bytes = self.fetch(&name, meta.length.unwrap_or(self.limits.snapshot_max))?;
        // 5.5.2: length and hashes from the timestamp.
        check_meta_file(&name, &meta, &bytes)?;
        // 5.5.3: signatures.
        let new: Metadata<Snapshot> = self.verify_top("snapshot", &name, &bytes)?;
        // 5.5.4: the version the timestamp names.
        if new.signed().version != meta.version {
            return Err(UpdateError::VersionMismatch {
                role: "snapshot".into(),
                by: "timestamp",
                expected: meta.version,
                found: new.signed().version,
            });
        }
        // 5.5.5: no targets role removed or rolled back.
        if let Some(old) = &self.trusted.snapshot {
            for (role, m) in &old.signed().meta {
                let Some(n) = new.signed().meta.get(role) else {
                    return Err(UpdateError::MissingRole(role.clone()));
                };
                if n.version < m.version {
                    return Err(UpdateError::Rollback {
                        role: role.clone(),
                        trusted: m.version,
                        found: n.version,
                    });
                }
            }
        }
        // 5.5.6: expiry.
        check_expiry("snapshot", &new, self.now)?;
        self.trusted.snapshot = Some(Verified { metadata: new, bytes: Arc::new(bytes) });
        self.trusted.targets.clear();
        self.verified_pairs.clear();
        Ok(())
    }

    /// 5.6: the targets role `role`, delegated by `parent` (None for top-level).
    ///
    /// A role already loaded in this update (reached before through another
    /// delegator) is not fetched again, but its signatures are checked again
    /// against the keys and threshold that `parent` delegates to it: a role
    /// gets no authority from an earlier delegation path.
    pub fn update_targets(&mut self, role: &str, parent: Option<&str>) -> Result<(), UpdateError> {
        let file = format!("{role}.json");
        if let Some(loaded) = self.trusted.targets.get(role) {
            if let Some(p) = parent {
                let pair = (role.to_owned(), p.to_owned());
                if !self.verified_pairs.contains(&pair) {
                    let md = &loaded.metadata;
                    self.verify_delegated(p, role, &file, md.signatures(), &md.payload_bytes())?;
                    self.verified_pairs.insert(pair);
                }
            }
            return Ok(());
        }
        if !self.transport.supports_role_name(role) {
            return Err(UpdateError::UnsafeRoleName(role.to_owned()));
        }
        let snap = self.trusted.snapshot.as_ref().ok_or(UpdateError::NotLoaded("snapshot"))?;
        let meta =
            snap.signed().meta.get(&file).cloned().ok_or_else(|| UpdateError::MissingRole(file.clone()))?;
        // A copy kept from an earlier update, if it is still the one the
        // snapshot names and still verifies, saves the download.
        if let Some(bytes) = self.cached.get(role) {
            let bytes = Arc::new(bytes.clone());
            if let Ok(md) = self.check_targets(role, parent, &file, &meta, &bytes) {
                self.trusted.targets.insert(role.to_owned(), Verified { metadata: md, bytes });
                self.note_verified(role, parent);
                return Ok(());
            }
        }
        let name = if self.consistent() { format!("{}.{file}", meta.version) } else { file };
        let bytes = Arc::new(self.fetch(&name, meta.length.unwrap_or(self.limits.targets_max))?);
        let new = self.check_targets(role, parent, &name, &meta, &bytes)?;
        self.trusted.targets.insert(role.to_owned(), Verified { metadata: new, bytes });
        self.note_verified(role, parent);
        Ok(())
    }

    fn note_verified(&mut self, role: &str, parent: Option<&str>) {
        if let Some(p) = parent {
            self.verified_pairs.insert((role.to_owned(), p.to_owned()));
        }
    }

    /// 5.6.2 to 5.6.5 for the bytes of targets role `role` read from `name`.
    fn check_targets(
        &self,
        role: &str,
        parent: Option<&str>,
        name: &str,
        meta: &MetaFile,
        bytes: &Arc<Vec<u8>>,
    ) -> Result<Metadata<Targets>, UpdateError> {
        // 5.6.2: length and hashes from the snapshot.
        check_meta_file(name, meta, bytes)?;
        // 5.6.3: signatures by the delegating role's keys, checked over the
        // canonical bytes as the parse makes them, so that they are not
        // kept (the role keeps its file, which they are rebuilt from); the
        // outcome counts only once the file parses, as before.
        let (new, signed) =
            Metadata::<Targets>::from_shared_checked(Arc::clone(bytes), |signatures, payload| match parent {
                None => {
                    let threshold = |source| UpdateError::Threshold { name: name.to_owned(), source };
                    Authorization::top_level(self.trusted.root.signed(), "targets")
                        .map_err(threshold)?
                        .verify(signatures, payload, self.now)
                        .map_err(threshold)?;
                    Ok(())
                }
                Some(p) => self.verify_delegated(p, role, name, signatures, payload),
            })
            .map_err(|source| UpdateError::Metadata { name: name.to_owned(), source })?;
        signed?;
        // 5.6.4: the version the snapshot names.
        if new.signed().version != meta.version {
            return Err(UpdateError::VersionMismatch {
                role: role.to_owned(),
                by: "snapshot",
                expected: meta.version,
                found: new.signed().version,
            });
        }
        // 5.6.5: expiry.
        check_expiry(role, &new, self.now)?;
        Ok(new)
    }

    /// Checks `signatures` over `payload` (of role `role`) against the keys
    /// and threshold `parent` delegates `role` to.
    fn verify_delegated(
        &self,
        parent: &str,
        role: &str,
        name: &str,
        signatures: &[Signature],
        payload: &[u8],
    ) -> Result<(), UpdateError> {
        let missing = || UpdateError::MissingRole(format!("{role}.json"));
        let delegator = self.trusted.targets.get(parent).ok_or(UpdateError::NotLoaded("delegating role"))?;
        let d = delegator.signed().delegations.as_ref().ok_or_else(missing)?;
        let r = d.role(role).ok_or_else(missing)?;
        Authorization::delegated(d, r)
            .verify(signatures, payload, self.now)
            .map_err(|source| UpdateError::Threshold { name: name.to_owned(), source })?;
        Ok(())
    }

    /// 5.6.7: preorder depth-first search of the delegations for `path`,
    /// loading delegated roles as needed. A terminating role whose patterns
    /// match ends the search of every other branch.
    pub fn target_info(&mut self, path: &str) -> Result<Option<TargetMatch>, UpdateError> {
        let mut stack: Vec<(String, Option<String>)> = vec![("targets".to_owned(), None)];
        let mut visited = BTreeSet::new();
        let query = TargetPath::new(path);
        while let Some((role, parent)) = stack.pop() {
            if visited.len() > self.limits.max_delegations {
                break;
            }
            if !visited.insert((role.clone(), parent.clone())) {
                continue;
            }
            self.update_targets(&role, parent.as_deref())?;
            let md = &self.trusted.targets[&role];
            if let Some(file) = md.signed().targets.get(path) {
                return Ok(Some(TargetMatch { file: file.clone(), role }));
            }
            if let Some(d) = &md.signed().delegations {
                let mut children = Vec::new();
                for child in &d.roles {
                    if query.covered_by(child) {
                        children.push((child.name.clone(), Some(role.clone())));
                        if child.terminating {
                            stack.clear();
                            break;
                        }
                    }
                }
                children.reverse();
                stack.extend(children);
            }
        }
        Ok(None)
    }
}

fn snapshot_version(ts: &TimestampRole) -> u64 {
    ts.snapshot_meta().map_or(0, |m| m.version)
}

/// A record of what snapshot says of a role, for writers.
pub fn meta_file_for(bytes: &[u8], version: u64) -> MetaFile {
    MetaFile {
        version,
        length: Some(bytes.len() as u64),
        hashes: Some([("sha256".to_owned(), sha256_hex(bytes))].into_iter().collect()),
        extra: Default::default(),
    }
}

/// A transport over an in-memory map of file name to bytes.
impl Transport for BTreeMap<String, Vec<u8>> {
    fn fetch_metadata(&mut self, name: &str, max_len: u64) -> Result<Option<Vec<u8>>, TransportError> {
        match self.get(name) {
            Some(b) if b.len() as u64 > max_len => Err(TransportError::TooLarge { limit: max_len }),
            Some(b) => Ok(Some(b.clone())),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests;
