//! Root metadata (specification section 4.3).

use super::validate::{check_threshold, check_unique_keyids};
use super::{MetadataError, Role};
use crate::keys::{KeyId, PublicKey};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// The four top-level roles every root must define.
pub const TOP_LEVEL_ROLES: [&str; 4] = ["root", "targets", "snapshot", "timestamp"];

/// Name of the airlock extension member in a role that lists retiring keys
/// and their deadlines (see docs/FORMAT.md, "Transition window").
pub const RETIRING_FIELD: &str = "x-airlock-retiring";

/// Root metadata: the keys and thresholds of the top-level roles.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Root {
    /// Always `root`.
    #[serde(rename = "_type")]
    pub type_: String,
    /// The TUF specification version.
    pub spec_version: String,
    /// Whether targets and metadata are stored under hash- and version-prefixed names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consistent_snapshot: Option<bool>,
    /// The metadata version.
    pub version: u64,
    /// Expiry.
    pub expires: Timestamp,
    /// Every key any top-level role uses, by id.
    pub keys: BTreeMap<KeyId, PublicKey>,
    /// The top-level roles' keys and thresholds.
    pub roles: BTreeMap<String, RoleKeys>,
    /// Members we do not interpret.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// A role's key ids and threshold, plus the airlock transition window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleKeys {
    /// The keys that may sign for the role.
    pub keyids: Vec<KeyId>,
    /// How many distinct keys must sign.
    pub threshold: u64,
    /// Keys on their way out, with the instant from which their signatures
    /// no longer count. Other TUF clients ignore this member.
    #[serde(rename = "x-airlock-retiring", default, skip_serializing_if = "BTreeMap::is_empty")]
    pub retiring: BTreeMap<KeyId, Timestamp>,
    /// Members we do not interpret.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

impl Role for Root {
    const TYPE: &'static str = "root";

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
        if let Some(roles) = signed.get("roles").and_then(Value::as_object) {
            for (name, role) in roles {
                check_threshold(name, role)?;
            }
        }
        Ok(())
    }

    fn validate(&self) -> Result<(), MetadataError> {
        for name in TOP_LEVEL_ROLES {
            if !self.roles.contains_key(name) {
                return Err(MetadataError::MissingRole(name.to_owned()));
            }
        }
        for (name, role) in &self.roles {
            check_unique_keyids(name, &role.keyids)?;
            for k in role.keyids.iter().chain(role.retiring.keys()) {
                if !self.keys.contains_key(k) {
                    return Err(MetadataError::UndefinedKey { role: name.clone(), keyid: k.clone() });
                }
            }
            for k in role.retiring.keys() {
                if !role.keyids.contains(k) {
                    return Err(MetadataError::Schema(format!(
                        "role {name:?} marks key {k} retiring but does not list it"
                    )));
                }
            }
        }
        Ok(())
    }
}

impl Root {
    /// The keys and threshold of a top-level role.
    pub fn role(&self, name: &str) -> Option<&RoleKeys> {
        self.roles.get(name)
    }
}
