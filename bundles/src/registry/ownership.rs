//! Namespace ownership: drafts of the next top-level targets.
//!
//! Top-level targets delegates namespaces to publishers and lists their
//! keys. It is signed by a threshold of the offline keys root lists for the
//! `targets` role (the custodians), never by the online index key, so that a
//! leaked index key cannot change who may sign a namespace. Every change is
//! a draft: the registry proposes it ([`propose`]), the custodians review
//! [`describe`] and sign, and the registry publishes it once the threshold
//! is met (`Registry::finalize_targets`). docs/FORMAT.md, "Targets draft".

use super::{check_namespace, check_publisher_name, RegistryError};
use airlock_core::metadata::{DelegatedRole, Delegations, Targets};
use airlock_core::paths::patterns_overlap;
use airlock_core::{KeyId, Metadata, PublicKey, Timestamp};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;

/// The `format` member of a targets draft file.
pub const DRAFT_FORMAT: &str = "airlock-targets-draft-v1";

/// A proposed next top-level targets, with the version it replaces so a
/// reviewer sees the change and not only the result.
#[derive(Debug, Clone)]
pub struct TargetsDraft {
    /// The current top-level targets (none when proposing the first).
    pub base: Option<Metadata<Targets>>,
    /// The proposed next version, with the signatures collected so far.
    pub proposed: Metadata<Targets>,
}

impl TargetsDraft {
    /// Whether `bytes` look like a targets draft (for commands that take
    /// root drafts and targets drafts alike).
    pub fn is_draft(bytes: &[u8]) -> bool {
        serde_json::from_slice::<Value>(bytes)
            .is_ok_and(|v| v.get("format").and_then(Value::as_str) == Some(DRAFT_FORMAT))
    }

    /// Parses a draft file; `path` names it in errors.
    pub fn from_bytes(path: &Path, bytes: &[u8]) -> Result<Self, RegistryError> {
        let bad = |detail: String| RegistryError::BadDraft { path: path.into(), detail };
        let v: Value = airlock_core::parse_strict(bytes).map_err(|e| bad(e.to_string()))?;
        if v.get("format").and_then(Value::as_str) != Some(DRAFT_FORMAT) {
            return Err(bad(format!("not a targets draft (format is not {DRAFT_FORMAT:?})")));
        }
        let parse = |v: &Value, what: &str| {
            let bytes = serde_json::to_vec(v).map_err(|e| bad(format!("{what}: {e}")))?;
            Metadata::<Targets>::from_bytes(&bytes).map_err(|e| bad(format!("{what}: {e}")))
        };
        let base = match v.get("base") {
            None | Some(Value::Null) => None,
            Some(b) => Some(parse(b, "base")?),
        };
        let proposed = parse(v.get("proposed").ok_or_else(|| bad("no proposed member".into()))?, "proposed")?;
        if let Some(b) = &base {
            if b.signed().version + 1 != proposed.signed().version {
                return Err(bad(format!(
                    "base is version {} but the proposal is version {}",
                    b.signed().version,
                    proposed.signed().version
                )));
            }
        }
        Ok(TargetsDraft { base, proposed })
    }

    /// The draft file's bytes (pretty JSON; signatures cover only the
    /// canonical form of `proposed.signed`).
    pub fn to_bytes(&self) -> Vec<u8> {
        let value =
            |m: &Metadata<Targets>| serde_json::from_slice::<Value>(&m.to_bytes()).unwrap_or(Value::Null);
        let doc = json!({
            "format": DRAFT_FORMAT,
            "base": self.base.as_ref().map(value),
            "proposed": value(&self.proposed),
        });
        let mut out = serde_json::to_vec_pretty(&doc).unwrap_or_default();
        out.push(b'\n');
        out
    }
}

/// One change to namespace ownership.
#[derive(Debug, Clone)]
pub enum OwnershipChange {
    /// Delegate namespaces to a new publisher.
    Add(super::NewPublisher),
    /// Remove a publisher's delegation.
    Remove(String),
    /// Replace a publisher's keys (and threshold).
    Rekey {
        /// The publisher.
        name: String,
        /// Its new keys.
        keys: Vec<PublicKey>,
        /// How many must sign.
        threshold: u64,
    },
    /// No change: a new version with renewed expiry.
    Renew,
}

/// Keys by id, deduplicated by decoded material (two encodings of one key
/// are one key), in the order given.
fn key_set(keys: &[PublicKey]) -> (BTreeMap<KeyId, PublicKey>, Vec<KeyId>) {
    let mut by_id = BTreeMap::new();
    let mut ids = Vec::new();
    let mut seen = Vec::new();
    for k in keys {
        let m = k.material_id();
        if seen.contains(&m) {
            continue;
        }
        seen.push(m);
        let id = k.key_id();
        by_id.insert(id.clone(), k.clone());
        ids.push(id);
    }
    (by_id, ids)
}

fn check_threshold(threshold: u64, keys: usize) -> Result<(), RegistryError> {
    if threshold == 0 || threshold > keys as u64 {
        return Err(RegistryError::BadThreshold { threshold, keys });
    }
    Ok(())
}

/// The next top-level targets after `current` with `change` applied,
/// version + 1, expiring at `expires`. Keys no delegation uses are dropped.
pub fn propose(
    current: &Targets,
    change: &OwnershipChange,
    expires: Timestamp,
) -> Result<Targets, RegistryError> {
    let mut next = current.clone();
    next.version = current.version + 1;
    next.expires = expires;
    next.spec_version = airlock_core::metadata::SPEC_VERSION.into();
    let d = next.delegations.get_or_insert_with(|| Delegations {
        keys: BTreeMap::new(),
        roles: Vec::new(),
        extra: BTreeMap::new(),
    });
    match change {
        OwnershipChange::Add(p) => {
            check_publisher_name(&p.name)?;
            if d.role(&p.name).is_some() {
                return Err(RegistryError::PublisherExists { name: p.name.clone() });
            }
            let (keys, keyids) = key_set(&p.keys);
            check_threshold(p.threshold, keyids.len())?;
            if p.namespaces.is_empty() {
                return Err(RegistryError::BadNamespace {
                    pattern: String::new(),
                    reason: "give at least one namespace".into(),
                });
            }
            let mut namespaces: Vec<String> = Vec::new();
            for n in &p.namespaces {
                check_namespace(n)?;
                if !namespaces.contains(n) {
                    namespaces.push(n.clone());
                }
            }
            if !p.allow_overlap {
                for other in &d.roles {
                    for pattern in &namespaces {
                        for op in other.paths.iter().flatten() {
                            if patterns_overlap(pattern, op) {
                                return Err(RegistryError::NamespaceOverlap {
                                    name: p.name.clone(),
                                    pattern: pattern.clone(),
                                    other: other.name.clone(),
                                    other_pattern: op.clone(),
                                });
                            }
                        }
                    }
                }
            }
            d.keys.extend(keys);
            d.roles.push(DelegatedRole {
                name: p.name.clone(),
                keyids,
                threshold: p.threshold,
                terminating: true,
                paths: Some(namespaces),
                path_hash_prefixes: None,
                extra: BTreeMap::new(),
            });
        }
        OwnershipChange::Remove(name) => {
            if d.role(name).is_none() {
                return Err(RegistryError::NoSuchPublisher { name: name.clone() });
            }
            d.roles.retain(|r| r.name != *name);
        }
        OwnershipChange::Rekey { name, keys, threshold } => {
            let (keys, keyids) = key_set(keys);
            check_threshold(*threshold, keyids.len())?;
            let role = d
                .roles
                .iter_mut()
                .find(|r| r.name == *name)
                .ok_or_else(|| RegistryError::NoSuchPublisher { name: name.clone() })?;
            role.keyids = keyids;
            role.threshold = *threshold;
            d.keys.extend(keys);
        }
        OwnershipChange::Renew => {}
    }
    let used: Vec<KeyId> = d.roles.iter().flat_map(|r| r.keyids.iter().cloned()).collect();
    d.keys.retain(|k, _| used.contains(k));
    if d.roles.is_empty() {
        next.delegations = None;
    }
    Ok(next)
}

fn keys_of(d: &Delegations, r: &DelegatedRole) -> Vec<String> {
    r.keyids
        .iter()
        .map(|id| {
            d.keys.get(id).map_or_else(|| format!("MISSING key {}", id.short()), PublicKey::fingerprint)
        })
        .collect()
}

fn scope(r: &DelegatedRole) -> String {
    let mut parts = Vec::new();
    if let Some(p) = &r.paths {
        parts.push(format!("namespaces {}", p.join(", ")));
    }
    if let Some(h) = &r.path_hash_prefixes {
        parts.push(format!("path hash prefixes {}", h.join(", ")));
    }
    if parts.is_empty() {
        parts.push("no paths (signs for nothing)".into());
    }
    parts.join("; ")
}

/// Every delegation of `t`, in search order, one line each with its keys.
pub fn table(t: &Targets) -> Vec<String> {
    let Some(d) = &t.delegations else { return vec!["no publishers".into()] };
    let mut out = Vec::new();
    for (i, r) in d.roles.iter().enumerate() {
        out.push(format!(
            "{}. {}: {}; {} of {} key(s){}",
            i + 1,
            r.name,
            scope(r),
            r.threshold,
            r.keyids.len(),
            if r.terminating { "" } else { "; NOT terminating" }
        ));
        for k in keys_of(d, r) {
            out.push(format!("     {k}"));
        }
    }
    out
}

/// What changes from `base` to `new`, in lines a custodian can check:
/// publishers added and removed, their namespaces, keys (by fingerprint),
/// thresholds, order and terminating flags.
pub fn describe(base: Option<&Targets>, new: &Targets) -> Vec<String> {
    let mut out = Vec::new();
    out.push(match base {
        Some(b) => format!("top-level targets version: {} -> {}", b.version, new.version),
        None => format!("top-level targets version {} (no earlier version given)", new.version),
    });
    if let Some(b) = base {
        if b.expires != new.expires {
            out.push(format!("expires: {} -> {}", b.expires, new.expires));
        }
    } else {
        out.push(format!("expires: {}", new.expires));
    }
    let empty = Delegations { keys: BTreeMap::new(), roles: Vec::new(), extra: BTreeMap::new() };
    let od = base.and_then(|b| b.delegations.as_ref()).unwrap_or(&empty);
    let nd = new.delegations.as_ref().unwrap_or(&empty);
    let position = |d: &Delegations, name: &str| d.roles.iter().position(|r| r.name == name);
    for (i, r) in nd.roles.iter().enumerate() {
        let Some(o) = od.role(&r.name) else {
            out.push(format!(
                "ADD publisher {} at position {}: {}; {} of {} key(s){}",
                r.name,
                i + 1,
                scope(r),
                r.threshold,
                r.keyids.len(),
                if r.terminating { "" } else { "; NOT terminating" }
            ));
            for k in keys_of(nd, r) {
                out.push(format!("    key {k}"));
            }
            continue;
        };
        let (ok, nk) = (keys_of(od, o), keys_of(nd, r));
        for k in nk.iter().filter(|k| !ok.contains(k)) {
            out.push(format!("publisher {}: ADD key {k}", r.name));
        }
        for k in ok.iter().filter(|k| !nk.contains(k)) {
            out.push(format!("publisher {}: REMOVE key {k}", r.name));
        }
        if o.threshold != r.threshold {
            out.push(format!("publisher {}: threshold {} -> {}", r.name, o.threshold, r.threshold));
        }
        if scope(o) != scope(r) {
            out.push(format!("publisher {}: {} -> {}", r.name, scope(o), scope(r)));
        }
        if o.terminating != r.terminating {
            out.push(format!("publisher {}: terminating {} -> {}", r.name, o.terminating, r.terminating));
        }
        if position(od, &r.name) != Some(i) {
            out.push(format!(
                "publisher {}: search position {} -> {}",
                r.name,
                position(od, &r.name).map_or(0, |p| p + 1),
                i + 1
            ));
        }
    }
    for o in &od.roles {
        if nd.role(&o.name).is_none() {
            out.push(format!("REMOVE publisher {} ({})", o.name, scope(o)));
        }
    }
    for t in new.targets.keys() {
        if base.is_none_or(|b| !b.targets.contains_key(t)) {
            out.push(format!("top-level target {t} (importers refuse targets no publisher signs)"));
        }
    }
    if out.len() <= 2 {
        out.push("no change to publishers, namespaces or keys".into());
    }
    out
}

#[cfg(test)]
mod tests;
