//! The bundle manifest and volume index (docs/FORMAT.md, "Bundles").
//!
//! The manifest is the first entry of every bundle: it lists every other
//! entry in archive order with its length and SHA-256. It carries no
//! signature of its own and is never trusted for content: every entry it
//! lists is also covered by signed metadata (roots by the root chain,
//! timestamp by its signatures, snapshot and targets roles by the hashes
//! that sign them in, targets by their roles, log files by the signed
//! checkpoint), and a reader checks each entry against both. What the
//! manifest adds is the plan of the stream: a reader refuses any entry it
//! does not list, lists twice, or that differs from what it lists, before
//! reading that entry's bytes beyond its listed length.

use crate::archive::ArchivePath;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// Archive name of the manifest, always the first entry.
pub const MANIFEST_PATH: &str = "airlock-bundle.json";

/// The registry's checkpoint in a bundle (docs/FORMAT.md 10.3).
pub const LOG_CHECKPOINT_PATH: &str = "log/checkpoint";
/// The log proofs in a bundle (docs/FORMAT.md 10.3).
pub const LOG_PROOF_PATH: &str = "log/proof.json";

/// Archive name of the checksum list, always the last entry.
pub const SUMS_PATH: &str = "SHA256SUMS";

/// The `format` of manifests this version writes and reads.
pub const BUNDLE_FORMAT: &str = "airlock-bundle-v1";

/// What kind of file an entry is, which decides where it is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    /// TUF metadata under `metadata/`.
    Metadata,
    /// Transparency log material under `log/`.
    Log,
    /// A target file under `targets/`.
    Target,
    /// The `SHA256SUMS` file.
    Sums,
}

/// One archive entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestEntry {
    /// Where it is in the archive.
    pub path: ArchivePath,
    /// What it is.
    pub kind: EntryKind,
    /// Exact length in bytes.
    pub length: u64,
    /// Lowercase hex SHA-256.
    pub sha256: String,
}

/// A bundle manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BundleManifest {
    /// Always [`BUNDLE_FORMAT`].
    pub format: String,
    /// The registry identity (SHA-256 of root version 1's canonical signed bytes).
    pub registry: String,
    /// When the bundle was made.
    pub created: Timestamp,
    /// The snapshot version the bundle carries.
    pub snapshot_version: u64,
    /// For a delta bundle: the snapshot version it builds on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_snapshot_version: Option<u64>,
    /// For a selective bundle: the namespace patterns it carries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespaces: Option<Vec<String>>,
    /// Delegated roles left out (selection or delta): not an error when absent.
    #[serde(default)]
    pub omitted_roles: Vec<String>,
    /// Every other entry, in archive order.
    pub entries: Vec<ManifestEntry>,
    /// Members we do not interpret.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// Why a manifest was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    /// Not JSON of the manifest's shape.
    #[error("malformed bundle manifest: {0}")]
    Malformed(String),
    /// A format this version does not read.
    #[error("unknown bundle format {0:?}")]
    UnknownFormat(String),
    /// One path listed twice, or the manifest listing itself.
    #[error("bundle manifest lists {0} twice")]
    DuplicateEntry(String),
}

impl BundleManifest {
    /// Parses and checks a manifest.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ManifestError> {
        let v = crate::canonical::parse_strict(bytes).map_err(|e| ManifestError::Malformed(e.0))?;
        let m: BundleManifest =
            serde_json::from_value(v).map_err(|e| ManifestError::Malformed(e.to_string()))?;
        if m.format != BUNDLE_FORMAT {
            return Err(ManifestError::UnknownFormat(m.format));
        }
        let mut seen = std::collections::BTreeSet::new();
        seen.insert(MANIFEST_PATH);
        for e in &m.entries {
            if !seen.insert(e.path.as_str()) {
                return Err(ManifestError::DuplicateEntry(e.path.to_string()));
            }
        }
        Ok(m)
    }

    /// The manifest's bytes: canonical JSON (control characters escaped)
    /// and a newline, so equal manifests are equal bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let v = serde_json::to_value(self).unwrap_or(Value::Null);
        // Canonical JSON with control characters escaped: the manifest is
        // not signed, and must read back whatever text it carries.
        let mut out = crate::canonical::to_log_line(&v).unwrap_or_default();
        out.push(b'\n');
        out
    }
}

/// The `SHA256SUMS` text for `entries`, in the format `sha256sum -c` reads:
/// `<hex>  <path>`, one per line, in archive order. It lists every entry but
/// itself and the manifest (which lists it: one of the two must be left out
/// of the other, and the manifest is never trusted for content anyway).
pub fn sha256sums(entries: &[ManifestEntry]) -> String {
    let mut s = String::new();
    for e in entries.iter().filter(|e| e.kind != EntryKind::Sums) {
        s.push_str(&format!("{}  {}\n", e.sha256, e.path));
    }
    s
}

/// One volume of a split bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Volume {
    /// File name, e.g. `bundle.tar.000`.
    pub name: String,
    /// Length in bytes.
    pub length: u64,
    /// Lowercase hex SHA-256 of the volume.
    pub sha256: String,
}

/// The index of a split bundle, written beside the volumes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VolumeIndex {
    /// Always `airlock-volumes-v1`.
    pub format: String,
    /// Length of the whole bundle.
    pub total_length: u64,
    /// SHA-256 of the whole bundle.
    pub bundle_sha256: String,
    /// The volumes in order.
    pub volumes: Vec<Volume>,
}

/// The `format` of volume indexes.
pub const VOLUMES_FORMAT: &str = "airlock-volumes-v1";

impl VolumeIndex {
    /// Parses a volume index (`BASE.volumes.json`): its format must be
    /// [`VOLUMES_FORMAT`] and every volume name a plain file name.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ManifestError> {
        let value = crate::canonical::parse_strict(bytes).map_err(|e| ManifestError::Malformed(e.0))?;
        let index: VolumeIndex =
            serde_json::from_value(value).map_err(|e| ManifestError::Malformed(e.to_string()))?;
        if index.format != VOLUMES_FORMAT {
            return Err(ManifestError::UnknownFormat(index.format));
        }
        let plain = |n: &str| !n.is_empty() && !n.contains(['/', '\\', '\0']) && !n.starts_with('.');
        if let Some(v) = index.volumes.iter().find(|v| !plain(&v.name)) {
            return Err(ManifestError::Malformed(format!(
                "volume name {:?} is not a plain file name",
                v.name
            )));
        }
        Ok(index)
    }
}
