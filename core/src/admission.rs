//! The one admission decision: whether verified metadata may become what an
//! offline mirror serves, given what the mirror already trusts, its pins and
//! its policy.
//!
//! [`admit`] is pure: it takes the update the TUF workflow verified (root
//! chain, timestamp, snapshot and every reachable targets role), the
//! mirror's previous trusted state, and what the mirror already holds, and
//! returns the next trusted state or an [`AdmissionError`] naming the rule
//! that refused. `mirror import`, `mirror verify`, `airlock-import verify`
//! and `airlock-import import` all decide through it; nothing else holds a
//! trust rule. The rules are listed, with the keys an attacker would need to
//! break each, in docs/THREAT-MODEL.md ("Admission rules").

use crate::client::{Trusted, Verified};
use crate::log::LogError;
use crate::metadata::{Delegations, Metadata, MetadataError, Root, Snapshot, Targets, TimestampRole};
use crate::paths::TargetPath;
use crate::pins::Pins;
use crate::policy::{Policy, PolicyRefusal};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// One delegation as the mirror compares it: identified by who delegates
/// and the delegated name, compared whole.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Delegation {
    /// The delegating role (`targets` for top-level delegations).
    pub delegator: String,
    /// The delegated role's name.
    pub name: String,
    /// Its index in the delegator's ordered list (search priority).
    pub position: usize,
    /// The delegated keys by decoded material ([`crate::PublicKey::material_id`]), sorted.
    pub keys: Vec<String>,
    /// How many of them must sign.
    pub threshold: u64,
    /// Whether the search stops at this role when it matches.
    pub terminating: bool,
    /// Path patterns, as listed.
    pub paths: Option<Vec<String>>,
    /// Path hash prefixes, as listed.
    pub path_hash_prefixes: Option<Vec<String>>,
}

impl Delegation {
    /// Every delegation `delegator` makes, in its order.
    pub fn of(delegator: &str, d: &Delegations) -> Vec<Delegation> {
        d.roles
            .iter()
            .enumerate()
            .map(|(position, r)| {
                let mut keys: Vec<String> =
                    r.keyids.iter().filter_map(|id| d.keys.get(id)).map(|k| k.material_id()).collect();
                keys.sort();
                keys.dedup();
                Delegation {
                    delegator: delegator.to_owned(),
                    name: r.name.clone(),
                    position,
                    keys,
                    threshold: r.threshold,
                    terminating: r.terminating,
                    paths: r.paths.clone(),
                    path_hash_prefixes: r.path_hash_prefixes.clone(),
                }
            })
            .collect()
    }

    fn id(&self) -> (String, String) {
        (self.delegator.clone(), self.name.clone())
    }
}

/// What changed in one delegation between the trusted state and an update.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DelegationChange {
    /// The delegating role.
    pub delegator: String,
    /// The delegated role.
    pub name: String,
    /// `added`, `removed` or `changed`.
    pub change: &'static str,
    /// The delegator's version that made the change.
    pub by_version: u64,
}

/// The mirror's trusted state for one repository, parsed strictly.
#[derive(Debug, Clone)]
pub struct TrustedState {
    /// The newest trusted root.
    pub root: Verified<Root>,
    /// The trusted timestamp.
    pub timestamp: Verified<TimestampRole>,
    /// The trusted snapshot.
    pub snapshot: Verified<Snapshot>,
    /// Every delegation of the served roles.
    pub delegations: Vec<Delegation>,
}

/// Why a stored trusted state cannot be used. Nothing may be decided on a
/// state that does not read: a fallback to "no state" would turn off the
/// rollback and history rules.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    /// Some state files are present and others missing.
    #[error("incomplete trusted state: {0} is missing")]
    Incomplete(&'static str),
    /// A state file does not parse.
    #[error("trusted state {file}: {detail}")]
    Unreadable {
        /// The file.
        file: &'static str,
        /// Why.
        detail: String,
    },
}

impl TrustedState {
    /// The first instant the trusted metadata stops being valid, and the
    /// role whose expiry that is (of root, snapshot and timestamp): what a
    /// mirror serving this state warns about and reports as expired.
    pub fn earliest_expiry(&self) -> (Timestamp, &'static str) {
        [
            (self.timestamp.signed().expires, "timestamp"),
            (self.snapshot.signed().expires, "snapshot"),
            (self.root.signed().expires, "root"),
        ]
        .into_iter()
        .min()
        .unwrap_or((self.root.signed().expires, "root"))
    }

    /// Parses the stored files; `Ok(None)` when there are none (a fresh
    /// mirror). Any other combination, or any file that does not parse,
    /// is an error.
    pub fn from_files(
        root: Option<&[u8]>,
        timestamp: Option<&[u8]>,
        snapshot: Option<&[u8]>,
        delegations: Option<&[u8]>,
    ) -> Result<Option<Self>, StateError> {
        if root.is_none() && timestamp.is_none() && snapshot.is_none() && delegations.is_none() {
            return Ok(None);
        }
        fn parse<T: crate::metadata::Role>(
            file: &'static str,
            bytes: Option<&[u8]>,
        ) -> Result<Verified<T>, StateError> {
            let bytes = bytes.ok_or(StateError::Incomplete(file))?;
            let metadata = Metadata::<T>::from_bytes(bytes)
                .map_err(|e: MetadataError| StateError::Unreadable { file, detail: e.to_string() })?;
            Ok(Verified { metadata, bytes: std::sync::Arc::new(bytes.to_vec()) })
        }
        let delegations = delegations.ok_or(StateError::Incomplete("delegations.json"))?;
        let delegations: Vec<Delegation> = serde_json::from_slice(delegations)
            .map_err(|e| StateError::Unreadable { file: "delegations.json", detail: e.to_string() })?;
        Ok(Some(TrustedState {
            root: parse("root.json", root)?,
            timestamp: parse("timestamp.json", timestamp)?,
            snapshot: parse("snapshot.json", snapshot)?,
            delegations,
        }))
    }

    /// The bytes of `delegations.json` for `delegations`.
    pub fn delegations_bytes(delegations: &[Delegation]) -> Vec<u8> {
        let mut out = serde_json::to_vec_pretty(delegations).unwrap_or_default();
        out.push(b'\n');
        out
    }
}

/// What the mirror already holds and keeps serving.
pub trait Holdings {
    /// Whether the served tree holds target `path` with this SHA-256.
    fn holds_target(&self, path: &str, sha256: &str) -> bool;
}

/// The targets whose bytes arrive with an update.
pub trait Carried {
    /// Whether the update carries target `path` with this SHA-256
    /// (lowercase hex, as the admission asks).
    fn carries(&self, path: &str, sha256: &str) -> bool;
}

/// A set of (path, SHA-256) pairs: the pair must be in it as asked.
impl Carried for BTreeSet<(String, String)> {
    fn carries(&self, path: &str, sha256: &str) -> bool {
        self.contains(&(path.to_owned(), sha256.to_owned()))
    }
}

/// A mirror that holds nothing (a fresh mirror, or a check without one).
pub struct NothingHeld;

impl Holdings for NothingHeld {
    fn holds_target(&self, _: &str, _: &str) -> bool {
        false
    }
}

/// Why the decision is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Importing a bundle: every rule, including freshness and "newer".
    Import,
    /// Re-checking what a mirror already serves (`mirror verify`): the
    /// served tree must still be admissible, but it is not new.
    Reverify,
}

/// The verified update and what it carries.
pub struct Update<'a> {
    /// The TUF workflow's result: the newest root, timestamp, snapshot and
    /// every targets role reachable from top-level targets.
    pub verified: &'a Trusted,
    /// Targets whose bytes arrive with the update.
    pub carried: &'a dyn Carried,
    /// For a delta bundle, the snapshot version it builds on.
    pub base_snapshot_version: Option<u64>,
}

/// The importer's side: which repository this is, its pins and its policy.
pub struct Rules<'a> {
    /// The pinned repository the update is for.
    pub repo: &'a str,
    /// The namespace pins.
    pub pins: &'a Pins,
    /// The import policy.
    pub policy: &'a Policy,
    /// The time of the decision (freshness is checked against it).
    pub now: Timestamp,
}

/// A fast-forward recovery: versions went down because the keys that
/// signed the higher ones were revoked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Recovery {
    /// `timestamp` or `snapshot`.
    pub role: String,
    /// The version the mirror trusted.
    pub from: u64,
    /// The version it trusts now.
    pub to: u64,
    /// Key ids that signed the higher version and are no longer listed.
    pub revoked: Vec<String>,
}

/// An admitted update: the next trusted state and what it changes.
#[derive(Debug, Clone)]
pub struct Admitted {
    /// Every delegation of the served roles after the update.
    pub delegations: Vec<Delegation>,
    /// Delegations added, removed or changed, each authorised by its
    /// delegator's new signed version.
    pub changes: Vec<DelegationChange>,
    /// Fast-forward recoveries made.
    pub recoveries: Vec<Recovery>,
    /// Targets the served metadata lists after the update.
    pub served_targets: usize,
}

/// Why an update is not admitted. Each variant is one rule; [`rule`](Self::rule)
/// gives its name, which every message starts with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdmissionError {
    /// A key that signs snapshot or timestamp (the registry's online index
    /// key) may also sign top-level targets or a delegated role: that key
    /// alone could then decide who owns a namespace.
    #[error("rule offline-targets: {role} may be signed by key {key}, which also signs {online}: namespace ownership must be signed by offline keys only")]
    OnlineKeySignsTargets {
        /// The targets role (`targets`, or a delegated role).
        role: String,
        /// The key (material or key id).
        key: String,
        /// The online role that lists it.
        online: &'static str,
    },
    /// A version went below the trusted one.
    #[error("rule no-rollback: {role} version {found} is older than the trusted version {trusted}")]
    Rollback {
        /// The role.
        role: String,
        /// The trusted version.
        trusted: u64,
        /// The version offered.
        found: u64,
    },
    /// The snapshot is not newer than the trusted one.
    #[error("rule newer: snapshot version {found} is not newer than the mirror's {trusted} (replay)")]
    NotNewer {
        /// The trusted version.
        trusted: u64,
        /// The version offered.
        found: u64,
    },
    /// One version of a role with two different contents.
    #[error(
        "rule history: {role} version {version} was already trusted with other content (history rewritten)"
    )]
    HistoryRewritten {
        /// The role.
        role: String,
        /// Its version.
        version: u64,
    },
    /// A role the trusted snapshot lists is missing from the new one.
    #[error("rule no-rollback: the new snapshot drops {role}, which the mirror serves")]
    RoleDropped {
        /// The role.
        role: String,
    },
    /// A delta built on another snapshot than the mirror's.
    #[error("rule delta-base: the delta builds on snapshot version {base}, the mirror has {trusted}")]
    DeltaBase {
        /// The delta's base.
        base: u64,
        /// The mirror's snapshot version (0: none).
        trusted: u64,
    },
    /// A delegation changed without its delegator being re-signed.
    #[error("rule delegation: {delegator} -> {name} {change} but {delegator} was not re-signed (version {version} unchanged)")]
    DelegationUnauthorised {
        /// The delegating role.
        delegator: String,
        /// The delegated role.
        name: String,
        /// What changed.
        change: &'static str,
        /// The delegator's unchanged version.
        version: u64,
    },
    /// A role reachable from top-level targets would not be served.
    #[error("rule complete-metadata: role {role} (delegated by {delegator}) is in the snapshot but neither carried nor held by the mirror at version {version}")]
    RoleNotServed {
        /// The role.
        role: String,
        /// Who delegates it.
        delegator: String,
        /// The version the snapshot names.
        version: u64,
    },
    /// A listed target that a TUF client could not download.
    #[error(
        "rule complete-metadata: target {target} (role {role}) is neither carried nor held by the mirror"
    )]
    TargetNotServed {
        /// The target path.
        target: String,
        /// The role listing it.
        role: String,
    },
    /// A target listed by a role that the delegation search does not give
    /// it to (outside its paths, or shadowed by an earlier role).
    #[error("rule delegation: role {role} lists {target}, but the delegation search gives that path to {resolved}")]
    TargetNotDelegated {
        /// The target path.
        target: String,
        /// The role listing it.
        role: String,
        /// What the search finds instead.
        resolved: String,
    },
    /// A role reached through a delegator whose keys did not sign it.
    #[error("rule delegation: role {role} is not signed as {delegator} delegates it: {detail}")]
    DelegatedSignature {
        /// The role.
        role: String,
        /// The delegator it does not verify through.
        delegator: String,
        /// The threshold report.
        detail: String,
    },
    /// A target without a SHA-256.
    #[error("rule complete-metadata: target {target} (role {role}) has no sha256 hash")]
    NoSha256 {
        /// The target path.
        target: String,
        /// The role listing it.
        role: String,
    },
    /// A target in top-level targets, signed by no publisher.
    #[error("rule publisher-signed: target {target} is listed in top-level targets, not by a publisher")]
    TopLevelTarget {
        /// The target path.
        target: String,
    },
    /// The namespace pins refuse a target.
    #[error("rule namespace-pins: target {target}: {detail}")]
    Pins {
        /// The target path.
        target: String,
        /// Why.
        detail: String,
    },
    /// The import policy refuses.
    #[error("rule policy {}: {}{}", .0.rule, .0.target.as_ref().map(|t| format!("target {t}: ")).unwrap_or_default(), .0.detail)]
    Policy(PolicyRefusal),
    /// The bundle carries no transparency log where one is required.
    #[error("rule log: the bundle carries no transparency log, but {why}")]
    LogRequired {
        /// Why one is required.
        why: String,
    },
    /// The log does not extend what the mirror saw before (a split view,
    /// a shrunk log) or its proofs are missing.
    #[error("rule {}: {}", log_rule(.0), .0)]
    Log(LogError),
    /// A cosigned checkpoint given beside the bundle is for another checkpoint.
    #[error("rule log: the cosigned checkpoint given with the bundle is not the bundle's checkpoint")]
    CosignedOtherCheckpoint,
}

/// `split-view` for a log that forked or shrank, `log` for the rest.
fn log_rule(e: &LogError) -> &'static str {
    match e {
        LogError::SplitView { .. } | LogError::Shrunk { .. } => "split-view",
        _ => "log",
    }
}

impl AdmissionError {
    /// The rule's name, as docs/THREAT-MODEL.md lists it.
    pub fn rule(&self) -> &'static str {
        match self {
            AdmissionError::OnlineKeySignsTargets { .. } => "offline-targets",
            AdmissionError::Rollback { .. } | AdmissionError::RoleDropped { .. } => "no-rollback",
            AdmissionError::NotNewer { .. } => "newer",
            AdmissionError::HistoryRewritten { .. } => "history",
            AdmissionError::DeltaBase { .. } => "delta-base",
            AdmissionError::DelegationUnauthorised { .. }
            | AdmissionError::TargetNotDelegated { .. }
            | AdmissionError::DelegatedSignature { .. } => "delegation",
            AdmissionError::RoleNotServed { .. }
            | AdmissionError::TargetNotServed { .. }
            | AdmissionError::NoSha256 { .. } => "complete-metadata",
            AdmissionError::TopLevelTarget { .. } => "publisher-signed",
            AdmissionError::Pins { .. } => "namespace-pins",
            AdmissionError::Policy(_) => "policy",
            AdmissionError::Log(e) => log_rule(e),
            AdmissionError::LogRequired { .. } | AdmissionError::CosignedOtherCheckpoint => "log",
        }
    }
}

/// Decides whether `update` may become what the mirror serves for
/// `rules.repo`, after `prior` (`None`: nothing trusted yet). Rules, in the
/// order they are checked:
///
/// 1. offline-targets: no key of snapshot or timestamp may sign top-level
///    targets or any delegated role (by decoded key material).
/// 2. delta-base, newer, no-rollback, history: against the trusted state;
///    snapshot may go down only in a fast-forward recovery, when every key
///    that signed the trusted snapshot is no longer listed for snapshot
///    (revoked, not retiring) in the new root; timestamp likewise, or when
///    the snapshot recovers (a timestamp names a snapshot, TUF 5.3.11).
///    Role versions never go down (roles are signed by their own keys),
///    except for roles the revoked snapshot listed that no verified
///    delegation reached.
/// 3. delegation: each delegation is identified by (delegator, name) and
///    compared whole; every difference must come with a new signed version
///    of its delegator.
/// 4. complete-metadata, delegation, publisher-signed, namespace-pins,
///    policy: every role reachable from top-level targets is verified,
///    served, and verifies through every delegator that reaches it; every
///    target it lists is given to it by the delegation search, carried or
///    held, signed by a publisher, allowed by the pins and by the policy.
/// 5. policy freshness (imports only).
pub fn admit(
    update: &Update<'_>,
    prior: Option<&TrustedState>,
    held: &dyn Holdings,
    rules: &Rules<'_>,
    purpose: Purpose,
) -> Result<Admitted, AdmissionError> {
    let v = update.verified;
    let root = v.root.signed();
    check_offline_targets(root, v)?;
    let snapshot = v.snapshot.as_ref().map(|s| &s.metadata);
    let timestamp = v.timestamp.as_ref().map(|t| &t.metadata);
    let (Some(snapshot), Some(timestamp)) = (snapshot, timestamp) else {
        // The TUF workflow loads both before any targets role; an update
        // without them carries nothing to serve.
        return Err(AdmissionError::RoleNotServed {
            role: "snapshot".into(),
            delegator: "timestamp".into(),
            version: 0,
        });
    };
    if let Some(base) = update.base_snapshot_version {
        let have = prior.map_or(0, |p| p.snapshot.signed().version);
        if base != have {
            return Err(AdmissionError::DeltaBase { base, trusted: have });
        }
    }
    let mut recoveries = Vec::new();
    if let Some(p) = prior {
        recoveries = check_versions(p, root, timestamp, snapshot, purpose)?;
    }
    let delegations = delegations_of(v);
    let changes = match prior {
        Some(p) => compare_delegations(p, v, &delegations)?,
        None => Vec::new(),
    };
    let served_targets = check_served(update, held, rules)?;
    if purpose == Purpose::Import {
        let issued = timestamp
            .signed()
            .extra
            .get(crate::extension::TIMESTAMP_ISSUED)
            .and_then(serde_json::Value::as_str)
            .and_then(|s| Timestamp::parse(s).ok());
        rules.policy.check_age(issued, rules.now).map_err(AdmissionError::Policy)?;
    }
    Ok(Admitted { delegations, changes, recoveries, served_targets })
}

/// Key materials of a top-level role, retiring keys included.
fn role_materials(root: &Root, role: &str) -> BTreeMap<String, String> {
    root.role(role)
        .into_iter()
        .flat_map(|r| r.keyids.iter())
        .filter_map(|id| root.keys.get(id).map(|k| (k.material_id(), id.0.clone())))
        .collect()
}

/// Key materials of snapshot and timestamp (the online index key), with
/// the first role that lists each.
fn online_materials(root: &Root) -> BTreeMap<String, &'static str> {
    let mut online = BTreeMap::new();
    for role in ["snapshot", "timestamp"] {
        for m in role_materials(root, role).into_keys() {
            online.entry(m).or_insert(role);
        }
    }
    online
}

/// Refuses a root whose `targets` role lists a key (by decoded material)
/// that snapshot or timestamp also lists: that online key alone could then
/// sign namespace ownership.
pub fn check_root_offline_targets(root: &Root) -> Result<(), AdmissionError> {
    let online = online_materials(root);
    for (m, id) in role_materials(root, "targets") {
        if let Some(r) = online.get(&m) {
            return Err(AdmissionError::OnlineKeySignsTargets { role: "targets".into(), key: id, online: r });
        }
    }
    Ok(())
}

fn check_offline_targets(root: &Root, v: &Trusted) -> Result<(), AdmissionError> {
    check_root_offline_targets(root)?;
    let online = online_materials(root);
    for (delegator, md) in &v.targets {
        let Some(d) = &md.signed().delegations else { continue };
        for r in &d.roles {
            for id in &r.keyids {
                let Some(k) = d.keys.get(id) else { continue };
                if let Some(on) = online.get(&k.material_id()) {
                    return Err(AdmissionError::OnlineKeySignsTargets {
                        role: format!("{} (delegated by {delegator})", r.name),
                        key: id.0.clone(),
                        online: on,
                    });
                }
            }
        }
    }
    Ok(())
}

/// Materials of the keys whose valid signatures count on `md` under `root`'s `role`.
fn signers<T: crate::metadata::Role>(root: &Root, role: &str, md: &Metadata<T>) -> Vec<(String, String)> {
    let Ok(auth) = crate::threshold::Authorization::top_level(root, role) else { return Vec::new() };
    // Deadlines do not matter here, only who signed: counted at the epoch,
    // before every retiring deadline.
    let report = auth.count(md.signatures(), &md.payload_bytes(), Timestamp::from_unix(0));
    report
        .counted
        .iter()
        .filter_map(|id| root.keys.get(id).map(|k| (k.material_id(), id.0.clone())))
        .collect()
}

/// Whether every key that signed the trusted `role` is gone from the new
/// root's `role` (revoked; a retiring key is still listed). Returns the
/// revoked key ids, or `None` when any signer is still listed.
fn revoked(new_root: &Root, role: &str, trusted: &[(String, String)]) -> Option<Vec<String>> {
    let listed = role_materials(new_root, role);
    if trusted.is_empty() || trusted.iter().any(|(m, _)| listed.contains_key(m)) {
        return None;
    }
    Some(trusted.iter().map(|(_, id)| id.clone()).collect())
}

fn check_versions(
    p: &TrustedState,
    root: &Root,
    timestamp: &Metadata<TimestampRole>,
    snapshot: &Metadata<Snapshot>,
    purpose: Purpose,
) -> Result<Vec<Recovery>, AdmissionError> {
    let old_root = p.root.signed();
    if root.version < old_root.version {
        return Err(AdmissionError::Rollback {
            role: "root".into(),
            trusted: old_root.version,
            found: root.version,
        });
    }
    let snap_signers = signers(old_root, "snapshot", &p.snapshot.metadata);
    let ts_signers = signers(old_root, "timestamp", &p.timestamp.metadata);
    let snapshot_revoked = revoked(root, "snapshot", &snap_signers);
    let timestamp_revoked = revoked(root, "timestamp", &ts_signers).or_else(|| snapshot_revoked.clone());
    let mut recoveries = Vec::new();
    let (ot, nt) = (p.timestamp.signed().version, timestamp.signed().version);
    let same_timestamp = p.timestamp.metadata.payload_bytes() == timestamp.payload_bytes();
    if nt < ot || (nt == ot && !same_timestamp) {
        match &timestamp_revoked {
            Some(keys) => recoveries.push(Recovery {
                role: "timestamp".into(),
                from: ot,
                to: nt,
                revoked: keys.clone(),
            }),
            None if nt < ot => {
                return Err(AdmissionError::Rollback { role: "timestamp".into(), trusted: ot, found: nt })
            }
            None => return Err(AdmissionError::HistoryRewritten { role: "timestamp".into(), version: nt }),
        }
    }
    let (os, ns) = (p.snapshot.signed().version, snapshot.signed().version);
    let same_snapshot = p.snapshot.metadata.payload_bytes() == snapshot.payload_bytes();
    let recovering = snapshot_revoked.is_some() && (ns < os || (ns == os && !same_snapshot));
    if recovering {
        recoveries.push(Recovery {
            role: "snapshot".into(),
            from: os,
            to: ns,
            revoked: snapshot_revoked.clone().unwrap_or_default(),
        });
    } else if ns < os {
        return Err(AdmissionError::Rollback { role: "snapshot".into(), trusted: os, found: ns });
    } else if ns == os && !same_snapshot {
        return Err(AdmissionError::HistoryRewritten { role: "snapshot".into(), version: ns });
    } else if ns == os && purpose == Purpose::Import {
        return Err(AdmissionError::NotNewer { trusted: os, found: ns });
    }
    // Roles are signed by their own (offline or publisher) keys, so a
    // revoked snapshot key never excuses a role going back. But in a
    // recovery, entries of the revoked key's snapshot that no verified
    // delegation reached (a role listed and never checked) vouch for
    // nothing; as TUF forgets that snapshot (5.3.11), so does this check.
    let verified_role = |role: &str| role == "targets" || p.delegations.iter().any(|d| d.name == role);
    for (file, m) in &p.snapshot.signed().meta {
        let role = file.trim_end_matches(".json");
        if recovering && !verified_role(role) {
            continue;
        }
        let Some(n) = snapshot.signed().meta.get(file) else {
            return Err(AdmissionError::RoleDropped { role: role.to_owned() });
        };
        if n.version < m.version {
            return Err(AdmissionError::Rollback {
                role: role.to_owned(),
                trusted: m.version,
                found: n.version,
            });
        }
        if n.version == m.version && n.hashes.is_some() && m.hashes.is_some() && n.hashes != m.hashes {
            return Err(AdmissionError::HistoryRewritten { role: role.to_owned(), version: m.version });
        }
    }
    Ok(recoveries)
}

/// Every delegation of every loaded role, sorted by (delegator, name).
fn delegations_of(v: &Trusted) -> Vec<Delegation> {
    let mut out: Vec<Delegation> = v
        .targets
        .iter()
        .filter_map(|(name, md)| md.signed().delegations.as_ref().map(|d| Delegation::of(name, d)))
        .flatten()
        .collect();
    out.sort_by_key(Delegation::id);
    out
}

fn compare_delegations(
    p: &TrustedState,
    v: &Trusted,
    new: &[Delegation],
) -> Result<Vec<DelegationChange>, AdmissionError> {
    let old: BTreeMap<(String, String), &Delegation> = p.delegations.iter().map(|d| (d.id(), d)).collect();
    let new_map: BTreeMap<(String, String), &Delegation> = new.iter().map(|d| (d.id(), d)).collect();
    let snapshot = v.snapshot.as_ref().map(|s| s.signed().meta.clone()).unwrap_or_default();
    let mut changes = Vec::new();
    let ids: BTreeSet<&(String, String)> = old.keys().chain(new_map.keys()).collect();
    for id in ids {
        let change = match (old.get(id), new_map.get(id)) {
            (Some(o), Some(n)) if o == n => continue,
            (Some(_), Some(_)) => "changed",
            (None, Some(_)) => "added",
            (Some(_), None) => "removed",
            (None, None) => continue,
        };
        let delegator = &id.0;
        // A delegator that is no longer reachable takes its delegations
        // with it; the change is the one that cut it off.
        let Some(md) = v.targets.get(delegator) else { continue };
        let file = format!("{delegator}.json");
        let old_version = p.snapshot.signed().meta.get(&file).map(|m| m.version);
        let new_version = snapshot.get(&file).map_or(md.signed().version, |m| m.version);
        if old_version.is_some_and(|o| new_version <= o) {
            return Err(AdmissionError::DelegationUnauthorised {
                delegator: delegator.clone(),
                name: id.1.clone(),
                change,
                version: new_version,
            });
        }
        changes.push(DelegationChange {
            delegator: delegator.clone(),
            name: id.1.clone(),
            change,
            by_version: new_version,
        });
    }
    Ok(changes)
}

/// Where the delegation search (TUF 5.6.7) finds `path` among `roles`:
/// the first role that lists it, or why there is none.
fn resolve(roles: &BTreeMap<String, Verified<Targets>>, path: &str) -> Result<String, String> {
    let mut stack: Vec<String> = vec!["targets".to_owned()];
    let mut visited = BTreeSet::new();
    let query = TargetPath::new(path);
    while let Some(role) = stack.pop() {
        if !visited.insert(role.clone()) {
            continue;
        }
        let Some(md) = roles.get(&role) else {
            return Err(format!("role {role}, which is not served"));
        };
        if md.signed().targets.contains_key(path) {
            return Ok(role);
        }
        if let Some(d) = &md.signed().delegations {
            let mut children = Vec::new();
            for child in &d.roles {
                if query.covered_by(child) {
                    children.push(child.name.clone());
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
    Err("no role".into())
}

fn check_served(
    update: &Update<'_>,
    held: &dyn Holdings,
    rules: &Rules<'_>,
) -> Result<usize, AdmissionError> {
    let v = update.verified;
    let snapshot = v.snapshot.as_ref().map(|s| s.signed().meta.clone()).unwrap_or_default();
    // Every role reachable from top-level targets must be loaded (verified
    // from the bundle or from what the mirror holds).
    let mut queue = vec!["targets".to_owned()];
    let mut seen = BTreeSet::from(["targets".to_owned()]);
    while let Some(parent) = queue.pop() {
        let Some(md) = v.targets.get(&parent) else { continue };
        for child in md.signed().delegations.iter().flat_map(|d| d.roles.iter()) {
            if child.name == "targets" {
                continue;
            }
            // A delegation to a role that never published is not served and
            // lists nothing; clients find nothing there.
            let Some(meta) = snapshot.get(&format!("{}.json", child.name)) else { continue };
            let Some(loaded) = v.targets.get(&child.name) else {
                return Err(AdmissionError::RoleNotServed {
                    role: child.name.clone(),
                    delegator: parent.clone(),
                    version: meta.version,
                });
            };
            // A role reached through several delegators must verify against
            // each: a client's search may reach it through any of them.
            let d = md.signed().delegations.as_ref().ok_or_else(|| AdmissionError::RoleNotServed {
                role: child.name.clone(),
                delegator: parent.clone(),
                version: meta.version,
            })?;
            crate::threshold::Authorization::delegated(d, child)
                .verify(loaded.metadata.signatures(), &loaded.metadata.payload_bytes(), rules.now)
                .map_err(|e| AdmissionError::DelegatedSignature {
                    role: child.name.clone(),
                    delegator: parent.clone(),
                    detail: e.to_string(),
                })?;
            if !seen.insert(child.name.clone()) {
                continue;
            }
            queue.push(child.name.clone());
        }
    }
    let mut count = 0;
    for (role, md) in &v.targets {
        for (target, file) in &md.signed().targets {
            if role == "targets" {
                return Err(AdmissionError::TopLevelTarget { target: target.clone() });
            }
            match resolve(&v.targets, target) {
                Ok(r) if &r == role => {}
                Ok(r) => {
                    return Err(AdmissionError::TargetNotDelegated {
                        target: target.clone(),
                        role: role.clone(),
                        resolved: format!("role {r}"),
                    })
                }
                Err(r) => {
                    return Err(AdmissionError::TargetNotDelegated {
                        target: target.clone(),
                        role: role.clone(),
                        resolved: r,
                    })
                }
            }
            let Some(sha) = file.hashes.get("sha256").map(|h| h.to_ascii_lowercase()) else {
                return Err(AdmissionError::NoSha256 { target: target.clone(), role: role.clone() });
            };
            if !update.carried.carries(target, &sha) && !held.holds_target(target, &sha) {
                return Err(AdmissionError::TargetNotServed { target: target.clone(), role: role.clone() });
            }
            rules
                .pins
                .authorize(target, rules.repo)
                .map_err(|e| AdmissionError::Pins { target: target.clone(), detail: e.to_string() })?;
            rules.policy.check_target(target, file).map_err(AdmissionError::Policy)?;
            count += 1;
        }
    }
    Ok(count)
}

mod log;
pub use log::{admit_log, OfferedLog};

#[cfg(test)]
mod tests;
