//! Building root version 1 and proposing the next root version.
//!
//! Pure functions over root values: no files, no prompts. Custodians' keys
//! sign root and top-level targets (namespace ownership), with the same
//! keys and threshold, so that only offline keys decide who may publish in
//! a namespace; the registry's online index key signs only snapshot and
//! timestamp. Rotating the index key keeps the old key listed but marked
//! retiring until a deadline, so there is always exactly one active index key.

use airlock_core::extension::{ExpiryDays, RootExtension};
use airlock_core::metadata::{RoleKeys, Root, TOP_LEVEL_ROLES};
use airlock_core::{registry_identity, KeyId, Metadata, PublicKey, Timestamp};
use std::collections::{BTreeMap, BTreeSet};

/// The roles the online index key signs.
pub const INDEX_ROLES: [&str; 2] = ["snapshot", "timestamp"];

/// The roles the custodians' offline keys sign, with one threshold.
pub const CUSTODIAN_ROLES: [&str; 2] = ["root", "targets"];

pub use airlock_core::metadata::SPEC_VERSION;

const DAY: i64 = 86_400;

/// Why a root could not be built or changed as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RotationError {
    /// The threshold is 0 or larger than the number of keys.
    #[error("threshold {threshold} is impossible with {keys} root key(s)")]
    BadThreshold {
        /// The threshold asked for.
        threshold: u64,
        /// The number of root keys.
        keys: usize,
    },
    /// Two custodians share a name, or a key is added twice.
    #[error("custodian {0:?} is listed twice")]
    DuplicateCustodian(String),
    /// A change names a custodian or key the root does not have.
    #[error("no custodian or key {0:?} in the current root")]
    UnknownCustodian(String),
    /// The change would leave other than exactly one active index key.
    #[error("the index key {0} is not in the current root")]
    UnknownIndexKey(KeyId),
    /// The new index key is already in the root.
    #[error("key {0} is already in the root")]
    KeyAlreadyPresent(KeyId),
    /// A rotation while another is still in its window.
    #[error("key {0} is still retiring; finish that rotation first")]
    RotationInProgress(KeyId),
    /// A deadline not after the time of the proposal.
    #[error("the retiring deadline {deadline} is not after now ({now})")]
    DeadlineInPast {
        /// The deadline.
        deadline: Timestamp,
        /// The time of the proposal.
        now: Timestamp,
    },
    /// The root was not made by an airlock ceremony.
    #[error(transparent)]
    Extension(#[from] airlock_core::extension::ExtensionError),
}

/// Who and what a first root is made of.
pub struct InitialRoot {
    /// The registry's human name.
    pub registry: String,
    /// Custodians by name with their public keys, in ceremony order.
    pub custodians: Vec<(String, PublicKey)>,
    /// How many custodians must sign each root.
    pub threshold: u64,
    /// The registry's index key.
    pub index_key: PublicKey,
    /// Expiry periods.
    pub expiry_days: ExpiryDays,
    /// A rehearsal with throwaway keys.
    pub rehearsal: bool,
}

/// Builds root version 1.
pub fn initial_root(init: &InitialRoot, now: Timestamp) -> Result<Root, RotationError> {
    let mut names = BTreeSet::new();
    let mut keys = BTreeMap::new();
    let mut custodians = BTreeMap::new();
    for (name, key) in &init.custodians {
        if !names.insert(name.as_str()) || keys.insert(key.key_id(), key.clone()).is_some() {
            return Err(RotationError::DuplicateCustodian(name.clone()));
        }
        custodians.insert(key.key_id(), name.clone());
    }
    check_threshold(init.threshold, keys.len())?;
    let root_ids: Vec<KeyId> = init.custodians.iter().map(|(_, k)| k.key_id()).collect();
    let index_id = init.index_key.key_id();
    if keys.contains_key(&index_id) {
        return Err(RotationError::KeyAlreadyPresent(index_id));
    }
    keys.insert(index_id.clone(), init.index_key.clone());
    let mut roles = BTreeMap::new();
    for r in CUSTODIAN_ROLES {
        roles.insert(r.to_owned(), role(root_ids.clone(), init.threshold));
    }
    for r in INDEX_ROLES {
        roles.insert(r.to_owned(), role(vec![index_id.clone()], 1));
    }
    let mut root = Root {
        type_: "root".into(),
        spec_version: SPEC_VERSION.into(),
        consistent_snapshot: Some(true),
        version: 1,
        expires: now.plus_secs(init.expiry_days.root as i64 * DAY),
        keys,
        roles,
        extra: BTreeMap::new(),
    };
    RootExtension {
        registry: init.registry.clone(),
        identity: None,
        custodians,
        rehearsal: init.rehearsal,
        expiry_days: init.expiry_days,
        extra: BTreeMap::new(),
    }
    .store(&mut root);
    Ok(root)
}

fn role(keyids: Vec<KeyId>, threshold: u64) -> RoleKeys {
    RoleKeys { keyids, threshold, retiring: BTreeMap::new(), extra: BTreeMap::new() }
}

fn check_threshold(threshold: u64, keys: usize) -> Result<(), RotationError> {
    if threshold == 0 || threshold > keys as u64 {
        return Err(RotationError::BadThreshold { threshold, keys });
    }
    Ok(())
}

/// One change to make in the next root version.
#[derive(Debug, Clone)]
pub enum Change {
    /// Add a custodian's root key.
    AddCustodian {
        /// The custodian's name.
        name: String,
        /// Their public key.
        key: PublicKey,
    },
    /// Remove a custodian (by name or key id) at once.
    RemoveCustodian(String),
    /// Set the root threshold.
    SetThreshold(u64),
    /// Rotate the index key: the new key becomes active, the old one retires
    /// at the deadline.
    RotateIndex {
        /// The new index key.
        new_key: PublicKey,
        /// When the old key's signatures stop counting.
        deadline: Timestamp,
    },
    /// Revoke every index key at once (the active one and any retiring),
    /// with no window, replacing them with one new key.
    RevokeIndex {
        /// The replacement index key.
        new_key: PublicKey,
    },
    /// Set the root's expiry.
    SetExpires(Timestamp),
}

/// The next root version: `current` with `changes` applied, version + 1,
/// expiry renewed by the root period unless set, and index keys whose
/// window has closed by `now` dropped.
pub fn propose(current: &Metadata<Root>, changes: &[Change], now: Timestamp) -> Result<Root, RotationError> {
    let identity = (current.signed().version == 1).then(|| registry_identity(current));
    let current = current.signed();
    let mut next = current.clone();
    let mut ext = RootExtension::of(current)?;
    next.version = current.version + 1;
    next.expires = now.plus_secs(ext.expiry_days.root as i64 * DAY);
    // Root version 1 defines the identity; later versions carry it so a
    // draft for another registry is recognised at once.
    if ext.identity.is_none() {
        ext.identity = identity;
    }
    drop_closed_windows(&mut next, now);
    for change in changes {
        apply(&mut next, &mut ext, change, now)?;
    }
    let root_keys = next.roles.get("root").map_or(0, |r| r.keyids.len());
    check_threshold(next.roles.get("root").map_or(0, |r| r.threshold), root_keys)?;
    // Top-level targets follows the custodians: the same keys and threshold
    // as root. This also moves a root made before namespace ownership was
    // signed offline (targets signed by the index key) to the custodians.
    let custodians = next.roles.get("root").cloned().unwrap_or_else(|| role(Vec::new(), 1));
    next.roles.insert("targets".to_owned(), role(custodians.keyids, custodians.threshold));
    remove_unused_keys(&mut next);
    ext.custodians.retain(|id, _| next.keys.contains_key(id));
    ext.store(&mut next);
    Ok(next)
}

fn apply(
    next: &mut Root,
    ext: &mut RootExtension,
    change: &Change,
    now: Timestamp,
) -> Result<(), RotationError> {
    match change {
        Change::AddCustodian { name, key } => {
            let id = key.key_id();
            if next.keys.contains_key(&id) {
                return Err(RotationError::KeyAlreadyPresent(id));
            }
            if ext.custodians.values().any(|n| n == name) {
                return Err(RotationError::DuplicateCustodian(name.clone()));
            }
            next.keys.insert(id.clone(), key.clone());
            root_role(next).keyids.push(id.clone());
            ext.custodians.insert(id, name.clone());
        }
        Change::RemoveCustodian(who) => {
            let id = ext
                .custodians
                .iter()
                .find(|(id, n)| *n == who || id.0 == *who)
                .map(|(id, _)| id.clone())
                .or_else(|| root_role(next).keyids.iter().find(|id| id.0 == *who).cloned())
                .ok_or_else(|| RotationError::UnknownCustodian(who.clone()))?;
            root_role(next).keyids.retain(|k| *k != id);
            ext.custodians.remove(&id);
        }
        Change::SetThreshold(t) => root_role(next).threshold = *t,
        Change::RotateIndex { new_key, deadline } => {
            if *deadline <= now {
                return Err(RotationError::DeadlineInPast { deadline: *deadline, now });
            }
            let old = active_index_key(next)?;
            add_index_key(next, new_key)?;
            for r in INDEX_ROLES {
                if let Some(role) = next.roles.get_mut(r) {
                    role.retiring.insert(old.clone(), *deadline);
                }
            }
        }
        Change::RevokeIndex { new_key } => {
            // An emergency: every earlier index key goes at once, the
            // active one and any still in a transition window.
            let old: Vec<KeyId> = next.roles.get("timestamp").map(|r| r.keyids.clone()).unwrap_or_default();
            add_index_key(next, new_key)?;
            for r in INDEX_ROLES {
                if let Some(role) = next.roles.get_mut(r) {
                    role.keyids.retain(|k| !old.contains(k));
                    role.retiring.clear();
                }
            }
        }
        Change::SetExpires(t) => next.expires = *t,
    }
    Ok(())
}

fn root_role(root: &mut Root) -> &mut RoleKeys {
    root.roles.entry("root".to_owned()).or_insert_with(|| role(Vec::new(), 1))
}

fn add_index_key(next: &mut Root, key: &PublicKey) -> Result<(), RotationError> {
    let id = key.key_id();
    if next.keys.contains_key(&id) {
        return Err(RotationError::KeyAlreadyPresent(id));
    }
    next.keys.insert(id.clone(), key.clone());
    for r in INDEX_ROLES {
        if let Some(role) = next.roles.get_mut(r) {
            role.keyids.push(id.clone());
        }
    }
    Ok(())
}

/// The one index key that is not retiring.
pub fn active_index_key(root: &Root) -> Result<KeyId, RotationError> {
    let role =
        root.roles.get("timestamp").ok_or_else(|| RotationError::UnknownCustodian("timestamp".into()))?;
    if let Some((id, _)) = role.retiring.iter().next() {
        return Err(RotationError::RotationInProgress(id.clone()));
    }
    role.keyids.first().cloned().ok_or_else(|| RotationError::UnknownCustodian("index key".into()))
}

/// Index keys signing is allowed with: listed and not retiring.
pub fn signing_index_keys(root: &Root) -> Vec<KeyId> {
    root.roles
        .get("timestamp")
        .map(|r| r.keyids.iter().filter(|k| !r.retiring.contains_key(*k)).cloned().collect())
        .unwrap_or_default()
}

fn drop_closed_windows(next: &mut Root, now: Timestamp) {
    for r in INDEX_ROLES {
        if let Some(role) = next.roles.get_mut(r) {
            let closed: Vec<KeyId> =
                role.retiring.iter().filter(|(_, d)| **d <= now).map(|(k, _)| k.clone()).collect();
            for k in closed {
                role.retiring.remove(&k);
                role.keyids.retain(|x| *x != k);
            }
        }
    }
}

fn remove_unused_keys(root: &mut Root) {
    let used: BTreeSet<KeyId> = root.roles.values().flat_map(|r| r.keyids.iter().cloned()).collect();
    root.keys.retain(|k, _| used.contains(k));
}

/// What is wrong with the key ids of `new` (against `old`): a key id that
/// is not the SHA-256 of its key object as TUF defines it, and a key id
/// that `old` lists with other key material. airlock never writes either;
/// a draft that has one was edited to swap a key behind a familiar id.
pub fn key_id_problems(old: &Root, new: &Root) -> Vec<String> {
    let mut out = Vec::new();
    for (id, key) in &new.keys {
        if key.key_id() != *id {
            out.push(format!(
                "key id {} is NOT the hash of its key (its TUF key id is {})",
                id.grouped(),
                key.key_id().grouped()
            ));
        }
        if let Some(before) = old.keys.get(id) {
            if before.material_id() != key.material_id() {
                out.push(format!("key id {}: the KEY MATERIAL CHANGED under the same id", id.grouped()));
            }
        }
    }
    out
}

/// The difference between two roots, in lines a custodian can check; any
/// key id problem ([`key_id_problems`]) comes first, marked `!!`.
pub fn describe_changes(old: &Root, new: &Root) -> Vec<String> {
    let problems: Vec<String> = key_id_problems(old, new).into_iter().map(|p| format!("!! {p}")).collect();
    let oe = RootExtension::of(old).ok();
    let ne = RootExtension::of(new).ok();
    let name = |id: &KeyId| {
        ne.as_ref()
            .and_then(|e| e.custodians.get(id))
            .or_else(|| oe.as_ref().and_then(|e| e.custodians.get(id)))
            .cloned()
            .unwrap_or_else(|| "index key".to_owned())
    };
    let mut out = vec![format!("version: {} -> {}", old.version, new.version)];
    if old.expires != new.expires {
        out.push(format!("root expires: {} -> {}", old.expires, new.expires));
    }
    for r in TOP_LEVEL_ROLES {
        let (o, n) = (old.roles.get(r), new.roles.get(r));
        let empty = Vec::new();
        let oids = o.map_or(&empty, |x| &x.keyids);
        let nids = n.map_or(&empty, |x| &x.keyids);
        for id in nids.iter().filter(|k| !oids.contains(k)) {
            let fp = new.keys.get(id).map(|k| format!(" {}", k.fingerprint())).unwrap_or_default();
            out.push(format!("{r}: ADD key {} ({}){fp}", id.grouped(), name(id)));
        }
        for id in oids.iter().filter(|k| !nids.contains(k)) {
            out.push(format!("{r}: REMOVE key {} ({})", id.grouped(), name(id)));
        }
        let (ot, nt) = (o.map_or(0, |x| x.threshold), n.map_or(0, |x| x.threshold));
        if ot != nt {
            out.push(format!("{r}: threshold {ot} -> {nt} (of {} keys)", nids.len()));
        }
        if let Some(n) = n {
            for (id, deadline) in &n.retiring {
                if o.and_then(|o| o.retiring.get(id)) != Some(deadline) {
                    out.push(format!("{r}: key {} RETIRING, stops verifying at {deadline}", id.grouped()));
                }
            }
        }
    }
    if out.len() == 1 || (out.len() == 2 && old.expires != new.expires) {
        out.push("no key or threshold changes".to_owned());
    }
    let mut all = problems;
    all.extend(out);
    all
}

#[cfg(test)]
mod tests;
