//! The registry's own state, outside the served tree: `REG/registry/state.json`
//! and the append-only acceptance record `REG/registry/accepted.jsonl`
//! (docs/FORMAT.md, "Registry state files").

use airlock_core::{KeyId, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The `format` member of `state.json`.
pub const STATE_FORMAT: &str = "airlock-registry-state-v1";

/// `REG/registry/state.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    /// Always [`STATE_FORMAT`].
    pub format: String,
    /// The registry's human name (from root's `x-airlock`).
    pub registry: String,
    /// The registry identity: SHA-256 of root version 1's canonical signed bytes.
    pub identity: String,
    /// When `registry init` ran.
    pub created_at: Timestamp,
    /// Every publisher ever added, by name (removed ones are kept, marked).
    pub publishers: BTreeMap<String, PublisherState>,
    /// How many acceptances `accepted.jsonl` records.
    pub acceptances: u64,
    /// The last accepted version of every publisher's hash bin, by bin role.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub bins: BTreeMap<String, Accepted>,
}

/// What the registry keeps of one publisher.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublisherState {
    /// The namespace patterns delegated to it.
    pub namespaces: Vec<String>,
    /// The ids of its keys.
    pub keyids: Vec<KeyId>,
    /// How many of them must sign.
    pub threshold: u64,
    /// When it was (last) added.
    pub added_at: Timestamp,
    /// When it was removed, if it was.
    #[serde(default)]
    pub removed_at: Option<Timestamp>,
    /// Its last accepted role version.
    #[serde(default)]
    pub accepted: Option<Accepted>,
}

/// The last accepted version of a publisher role or hash bin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Accepted {
    /// The role version.
    pub version: u64,
    /// SHA-256 of the role file's exact bytes.
    pub sha256: String,
    /// Length of the role file in bytes.
    pub length: u64,
    /// When it was accepted.
    pub at: Timestamp,
    /// Its sequence number in `accepted.jsonl` (from 1).
    pub seq: u64,
}

/// One line of `accepted.jsonl`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcceptRecord {
    /// Sequence number, from 1, without gaps.
    pub seq: u64,
    /// When it was accepted.
    pub at: Timestamp,
    /// The role: a publisher's, or one of its hash bins.
    pub role: String,
    /// The role version.
    pub version: u64,
    /// SHA-256 of the role file's exact bytes.
    pub sha256: String,
    /// Length of the role file.
    pub length: u64,
    /// Target paths new or changed in this version.
    pub targets_added: Vec<String>,
    /// The snapshot version that first pins it.
    pub snapshot_version: u64,
    /// The timestamp version that first names that snapshot.
    pub timestamp_version: u64,
    /// The index key that countersigned.
    pub index_key: KeyId,
    /// True when written by recovery after a crash between publishing the
    /// timestamp and recording the acceptance (`targets_added` is then empty).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub recovered: bool,
}
