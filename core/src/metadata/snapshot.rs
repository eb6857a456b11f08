//! Snapshot and timestamp metadata (specification sections 4.4 and 4.6).

use super::{MetadataError, Role};
use crate::time::Timestamp as Instant;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// What snapshot records of a targets role, and timestamp of snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetaFile {
    /// The version of the referenced metadata.
    pub version: u64,
    /// Its length in bytes, when recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length: Option<u64>,
    /// Its hashes by algorithm name, when recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hashes: Option<BTreeMap<String, String>>,
    /// Members we do not interpret.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

fn check_meta_versions(signed: &Value) -> Result<(), MetadataError> {
    if let Some(meta) = signed.get("meta").and_then(Value::as_object) {
        for (name, m) in meta {
            if m.get("version").and_then(Value::as_u64).is_none_or(|v| v < 1) {
                return Err(MetadataError::BadVersion {
                    found: format!("{} for {name}", m.get("version").unwrap_or(&Value::Null)),
                });
            }
        }
    }
    Ok(())
}

/// Snapshot metadata: the version (and hash) of every targets role.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Always `snapshot`.
    #[serde(rename = "_type")]
    pub type_: String,
    /// The TUF specification version.
    pub spec_version: String,
    /// The metadata version.
    pub version: u64,
    /// Expiry.
    pub expires: Instant,
    /// `ROLE.json` -> what was pinned of it.
    pub meta: BTreeMap<String, MetaFile>,
    /// Members we do not interpret.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

impl Role for Snapshot {
    const TYPE: &'static str = "snapshot";
    fn version(&self) -> u64 {
        self.version
    }
    fn expires(&self) -> Instant {
        self.expires
    }
    fn spec_version(&self) -> &str {
        &self.spec_version
    }
    fn validate_raw(signed: &Value) -> Result<(), MetadataError> {
        check_meta_versions(signed)
    }
}

/// Timestamp metadata: the version (and hash) of the current snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timestamp {
    /// Always `timestamp`.
    #[serde(rename = "_type")]
    pub type_: String,
    /// The TUF specification version.
    pub spec_version: String,
    /// The metadata version.
    pub version: u64,
    /// Expiry.
    pub expires: Instant,
    /// Exactly one entry, `snapshot.json`.
    pub meta: BTreeMap<String, MetaFile>,
    /// Members we do not interpret.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

impl Timestamp {
    /// The snapshot record.
    pub fn snapshot_meta(&self) -> Option<&MetaFile> {
        self.meta.get("snapshot.json")
    }
}

impl Role for Timestamp {
    const TYPE: &'static str = "timestamp";
    fn version(&self) -> u64 {
        self.version
    }
    fn expires(&self) -> Instant {
        self.expires
    }
    fn spec_version(&self) -> &str {
        &self.spec_version
    }
    fn validate_raw(signed: &Value) -> Result<(), MetadataError> {
        check_meta_versions(signed)
    }
    fn validate(&self) -> Result<(), MetadataError> {
        if self.meta.len() != 1 || self.snapshot_meta().is_none() {
            return Err(MetadataError::Schema("timestamp meta must hold exactly snapshot.json".into()));
        }
        Ok(())
    }
}

impl Snapshot {
    /// Snapshot metadata over `meta`.
    pub fn new(version: u64, expires: Instant, meta: BTreeMap<String, MetaFile>) -> Self {
        Snapshot {
            type_: "snapshot".into(),
            spec_version: super::SPEC_VERSION.into(),
            version,
            expires,
            meta,
            extra: BTreeMap::new(),
        }
    }
}

impl Timestamp {
    /// Timestamp metadata naming `snapshot`.
    pub fn new(version: u64, expires: Instant, snapshot: MetaFile) -> Self {
        Timestamp {
            type_: "timestamp".into(),
            spec_version: super::SPEC_VERSION.into(),
            version,
            expires,
            meta: [("snapshot.json".to_owned(), snapshot)].into_iter().collect(),
            extra: BTreeMap::new(),
        }
    }
}
