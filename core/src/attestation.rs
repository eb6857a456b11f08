//! Publisher provenance from Sigstore, as the publisher's role records it
//! (docs/FORMAT.md 9.5): a target's `custom.airlock.sigstore` names the
//! target holding its Sigstore bundle and that bundle's SHA-256, so the
//! publisher's signature binds the bundle and nobody can swap it later.
//!
//! ```json
//! "custom": {"airlock": {"sigstore": {
//!   "bundle": "acme/tool-1.0.tar.gz.sigstore.json", "sha256": "<hex>"}}}
//! ```

use crate::metadata::TargetFile;
use crate::provenance::CUSTOM_MEMBER;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The member of `custom.airlock` holding the reference.
pub const SIGSTORE_MEMBER: &str = "sigstore";
/// The suffix of a Sigstore bundle's target path.
pub const SIGSTORE_SUFFIX: &str = ".sigstore.json";
/// The largest Sigstore bundle read (bytes): real ones are a few kilobytes.
pub const MAX_SIGSTORE_BUNDLE: u64 = 1 << 20;

/// Why a target's Sigstore reference was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttestationError {
    /// `custom.airlock.sigstore` is not of the documented shape.
    #[error("malformed custom.airlock.sigstore: {0}")]
    Malformed(String),
}

/// A target's Sigstore bundle: the target that holds it and its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SigstoreRef {
    /// The target path of the bundle (conventionally the target's path
    /// followed by [`SIGSTORE_SUFFIX`]), listed in the same role.
    pub bundle: String,
    /// Lowercase hex SHA-256 of the bundle's bytes.
    pub sha256: String,
}

/// The target path [`SigstoreRef::bundle`] conventionally has for `target`.
pub fn sigstore_target(target: &str) -> String {
    format!("{target}{SIGSTORE_SUFFIX}")
}

impl SigstoreRef {
    /// The reference in a target's `custom`, if any; read strictly.
    pub fn of_target(file: &TargetFile) -> Result<Option<Self>, AttestationError> {
        let Some(ours) = file.custom.as_ref().and_then(|c| c.get(CUSTOM_MEMBER)) else { return Ok(None) };
        let Some(v) = ours.get(SIGSTORE_MEMBER) else { return Ok(None) };
        let r: SigstoreRef =
            serde_json::from_value(v.clone()).map_err(|e| AttestationError::Malformed(e.to_string()))?;
        if r.sha256.len() != 64 || !r.sha256.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(AttestationError::Malformed(format!(
                "sha256 {:?} is not 64 lowercase hex digits",
                r.sha256
            )));
        }
        if !r.bundle.ends_with(SIGSTORE_SUFFIX) {
            return Err(AttestationError::Malformed(format!(
                "bundle {:?} does not end in {SIGSTORE_SUFFIX}",
                r.bundle
            )));
        }
        Ok(Some(r))
    }

    /// Puts this reference into `custom`, keeping every other member there.
    pub fn store_in(&self, custom: &mut Option<Box<Value>>) {
        crate::provenance::ours_in(custom).insert(
            SIGSTORE_MEMBER.to_owned(),
            serde_json::json!({"bundle": self.bundle, "sha256": self.sha256}),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn file(custom: Value) -> TargetFile {
        serde_json::from_value(json!({"length": 1, "hashes": {"sha256": "00"}, "custom": custom})).unwrap()
    }

    #[test]
    fn round_trip_and_strict_reading() {
        let r = SigstoreRef { bundle: sigstore_target("acme/a.txt"), sha256: "ab".repeat(32) };
        let mut custom =
            Some(Box::new(json!({"airlock": {"provenance": {"ai_generated": false}}, "other": 1})));
        r.store_in(&mut custom);
        let f = file(*custom.clone().unwrap());
        assert_eq!(SigstoreRef::of_target(&f).unwrap(), Some(r));
        assert_eq!(custom.unwrap()["other"], 1, "other members kept");
        assert_eq!(SigstoreRef::of_target(&file(json!({"airlock": {}}))).unwrap(), None);
        for bad in [
            json!({"bundle": "a.sigstore.json"}),
            json!({"bundle": "a.sigstore.json", "sha256": "AB".repeat(32)}),
            json!({"bundle": "a.json", "sha256": "ab".repeat(32)}),
            json!({"bundle": "a.sigstore.json", "sha256": "ab".repeat(32), "extra": 1}),
        ] {
            let e = SigstoreRef::of_target(&file(json!({"airlock": {"sigstore": bad}}))).unwrap_err();
            assert!(matches!(e, AttestationError::Malformed(_)), "{bad}");
        }
    }
}
