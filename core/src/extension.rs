//! airlock's own member of root metadata, `x-airlock`.
//!
//! It sits inside the signed root, so custodian names, the rehearsal flag
//! and the registry identity are covered by the custodians' signatures.
//! Other TUF clients ignore it (they keep unknown members).

use crate::keys::KeyId;
use crate::metadata::Root;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// Member of timestamp's `signed` object holding when the registry signed
/// it, so an importer's policy can bound metadata age (docs/PINS.md).
pub const TIMESTAMP_ISSUED: &str = "x-airlock-issued";

/// The member name in root's `signed` object.
pub const ROOT_EXTENSION: &str = "x-airlock";

/// What airlock records in root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootExtension {
    /// The registry's human name.
    pub registry: String,
    /// The registry identity (absent in root version 1, which defines it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    /// Custodian name by root key id.
    pub custodians: BTreeMap<KeyId, String>,
    /// A rehearsal root: made with throwaway keys, never to initialise a
    /// registry or a mirror.
    #[serde(default)]
    pub rehearsal: bool,
    /// Expiry periods in days that signing tools apply per role.
    pub expiry_days: ExpiryDays,
    /// Members we do not interpret.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// Expiry periods, in days, per top-level role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpiryDays {
    /// Root.
    pub root: u32,
    /// Top-level and delegated targets.
    pub targets: u32,
    /// Snapshot.
    pub snapshot: u32,
    /// Timestamp.
    pub timestamp: u32,
}

impl Default for ExpiryDays {
    /// Suited to a monthly courier: a bundle made at T still imports after
    /// a trip of up to a month (timestamp 31 days), and the mirror it fed
    /// goes stale a month after its last import, not a day. The price is
    /// the freeze window: whoever can withhold bundles can keep a mirror on
    /// old metadata for up to the timestamp period. Registries with a
    /// faster courier set shorter periods in the ceremony file;
    /// `bundle create --expires DAYS` re-signs for one long trip.
    fn default() -> Self {
        ExpiryDays { root: 365, targets: 120, snapshot: 45, timestamp: 31 }
    }
}

/// Why the extension could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtensionError {
    /// The root has no `x-airlock` member: it was not made by an airlock ceremony.
    #[error("root has no x-airlock member; it was not made by an airlock ceremony")]
    Missing,
    /// The member is malformed.
    #[error("malformed x-airlock member: {0}")]
    Malformed(String),
}

impl RootExtension {
    /// Reads the extension from a root.
    pub fn of(root: &Root) -> Result<Self, ExtensionError> {
        let v = root.extra.get(ROOT_EXTENSION).ok_or(ExtensionError::Missing)?;
        serde_json::from_value(v.clone()).map_err(|e| ExtensionError::Malformed(e.to_string()))
    }

    /// Writes the extension into a root.
    pub fn store(&self, root: &mut Root) {
        if let Ok(v) = serde_json::to_value(self) {
            root.extra.insert(ROOT_EXTENSION.to_owned(), v);
        }
    }

    /// A custodian's name, or a placeholder for a key without one.
    pub fn name_of(&self, keyid: &KeyId) -> String {
        self.custodians.get(keyid).cloned().unwrap_or_else(|| "(unnamed)".to_owned())
    }
}

/// Custodian names from every root given (later roots win), so a custodian
/// who left is still named where their signature appears.
pub fn custodian_names<'a>(roots: impl IntoIterator<Item = &'a Root>) -> BTreeMap<KeyId, String> {
    let mut names = BTreeMap::new();
    for r in roots {
        if let Ok(ext) = RootExtension::of(r) {
            names.extend(ext.custodians);
        }
    }
    names
}
