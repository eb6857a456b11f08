//! Checks made on the raw JSON before it is mapped to types, so that a bad
//! version or threshold gets its own reason rather than a generic schema error.

use super::MetadataError;
use serde_json::Value;

/// `version` must be an integer >= 1 (spec section 4.2 and following).
pub(super) fn check_version(signed: &Value) -> Result<(), MetadataError> {
    match signed.get("version") {
        Some(v) if v.as_u64().is_some_and(|n| n >= 1) => Ok(()),
        Some(v) => Err(MetadataError::BadVersion { found: v.to_string() }),
        None => Err(MetadataError::Schema("missing member \"version\"".into())),
    }
}

/// A `threshold` member must be an integer >= 1.
pub(super) fn check_threshold(role: &str, obj: &Value) -> Result<(), MetadataError> {
    match obj.get("threshold") {
        Some(v) if v.as_u64().is_some_and(|n| n >= 1) => Ok(()),
        Some(v) => Err(MetadataError::BadThreshold { role: role.to_owned(), found: v.to_string() }),
        None => Err(MetadataError::Schema(format!("role {role:?} has no threshold"))),
    }
}

/// `spec_version` must be `1.x` or `1.x.y` with numeric parts, as python-tuf demands.
pub(super) fn check_spec_version(spec: &str) -> Result<(), MetadataError> {
    let parts: Vec<&str> = spec.split('.').collect();
    let numeric = parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    if (parts.len() == 2 || parts.len() == 3) && numeric && parts[0] == "1" {
        Ok(())
    } else {
        Err(MetadataError::UnsupportedSpecVersion(spec.to_owned()))
    }
}

/// Refuses a key id listed twice in one role.
pub(super) fn check_unique_keyids<'a>(
    role: &str,
    keyids: impl IntoIterator<Item = &'a crate::keys::KeyId>,
) -> Result<(), MetadataError> {
    let mut seen = std::collections::BTreeSet::new();
    for k in keyids {
        if !seen.insert(k) {
            return Err(MetadataError::DuplicateKeyInRole { role: role.to_owned(), keyid: k.clone() });
        }
    }
    Ok(())
}
