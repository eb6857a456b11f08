//! Targets metadata and delegations (specification section 4.5).

use super::validate::{check_threshold, check_unique_keyids};
use super::{MetadataError, Role};
use crate::keys::{KeyId, PublicKey};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Targets metadata: target files and delegations to other roles.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Targets {
    /// Always `targets`.
    #[serde(rename = "_type")]
    pub type_: String,
    /// The TUF specification version.
    pub spec_version: String,
    /// The metadata version.
    pub version: u64,
    /// Expiry.
    pub expires: Timestamp,
    /// Target path -> its length, hashes and custom data.
    pub targets: BTreeMap<String, TargetFile>,
    /// Roles this one delegates to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delegations: Option<Delegations>,
    /// Members we do not interpret.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// One target file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetFile {
    /// Exact length in bytes.
    pub length: u64,
    /// Hashes by algorithm name (we write `sha256`).
    pub hashes: BTreeMap<String, String>,
    /// Application data; airlock puts generation provenance here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom: Option<Value>,
    /// Members we do not interpret.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// Keys and ordered roles a targets role delegates to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delegations {
    /// Keys of the delegated roles, by id.
    pub keys: BTreeMap<KeyId, PublicKey>,
    /// Delegated roles in priority order.
    pub roles: Vec<DelegatedRole>,
    /// Members we do not interpret.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// One delegation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DelegatedRole {
    /// The role name; its metadata is `NAME.json`.
    pub name: String,
    /// Keys that may sign for it.
    pub keyids: Vec<KeyId>,
    /// How many distinct keys must sign.
    pub threshold: u64,
    /// Whether the search stops at this role when its patterns match.
    pub terminating: bool,
    /// Glob patterns of target paths it may sign for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paths: Option<Vec<String>>,
    /// Hex prefixes of SHA-256(target path) it may sign for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_hash_prefixes: Option<Vec<String>>,
    /// Members we do not interpret.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

impl Role for Targets {
    const TYPE: &'static str = "targets";
    const RAW_MEMBERS: Option<&'static [&'static str]> = Some(&["delegations"]);
    fn version(&self) -> u64 {
        self.version
    }
    fn expires(&self) -> Timestamp {
        self.expires
    }
    fn spec_version(&self) -> &str {
        &self.spec_version
    }

    fn validate_raw(signed: &Value) -> Result<(), MetadataError> {
        let roles = signed.get("delegations").and_then(|d| d.get("roles")).and_then(Value::as_array);
        for role in roles.into_iter().flatten() {
            let name = role.get("name").and_then(Value::as_str).unwrap_or("(unnamed)");
            check_threshold(name, role)?;
        }
        Ok(())
    }

    fn validate(&self) -> Result<(), MetadataError> {
        let Some(d) = &self.delegations else { return Ok(()) };
        let mut names = BTreeSet::new();
        for role in &d.roles {
            // As python-tuf: a delegated role may not be called like a
            // top-level role, whose metadata it would then stand in for.
            if role.name.is_empty() || super::TOP_LEVEL_ROLES.contains(&role.name.as_str()) {
                return Err(MetadataError::Schema(format!(
                    "delegated role name {:?} is empty or a top-level role name",
                    role.name
                )));
            }
            if !names.insert(role.name.as_str()) {
                return Err(MetadataError::DuplicateDelegatedRole(role.name.clone()));
            }
            if role.paths.is_some() == role.path_hash_prefixes.is_some() {
                return Err(MetadataError::PathsXorPrefixes(role.name.clone()));
            }
            check_unique_keyids(&role.name, &role.keyids)?;
            for k in &role.keyids {
                if !d.keys.contains_key(k) {
                    return Err(MetadataError::UndefinedKey { role: role.name.clone(), keyid: k.clone() });
                }
            }
        }
        Ok(())
    }
}

impl Delegations {
    /// The delegated role called `name`.
    pub fn role(&self, name: &str) -> Option<&DelegatedRole> {
        self.roles.iter().find(|r| r.name == name)
    }
}

impl Targets {
    /// Empty targets metadata with no delegations.
    pub fn new(version: u64, expires: Timestamp) -> Self {
        Targets {
            type_: "targets".into(),
            spec_version: super::SPEC_VERSION.into(),
            version,
            expires,
            targets: BTreeMap::new(),
            delegations: None,
            extra: BTreeMap::new(),
        }
    }
}
