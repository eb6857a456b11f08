//! Generation provenance: the documented object a publisher puts in each
//! target's `custom` member (docs/FORMAT.md, "Generation provenance").
//!
//! ```json
//! "custom": {"airlock": {"provenance": {
//!   "ai_generated": true, "tool": "codegen", "model": "m-1",
//!   "reviewed_by": "alice", "reviewed_at": "2026-06-01T00:00:00Z",
//!   "attributes": {"ticket": "REL-42"}}}}
//! ```
//!
//! It sits inside the publisher-signed role, so it is covered by the
//! publisher's signature. Reading is strict: unknown members, wrong types
//! and a review time without a reviewer are refused, so that an importer's
//! policy never decides on a misspelt or half-written record.

use crate::metadata::TargetFile;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// The member of `custom` airlock owns.
pub const CUSTOM_MEMBER: &str = "airlock";
/// The member of `custom.airlock` holding the provenance object.
pub const PROVENANCE_MEMBER: &str = "provenance";
/// Longest `tool`, `model`, `reviewed_by`, attribute name or value, in bytes.
pub const MAX_FIELD_LEN: usize = 256;
/// Most attributes one target may carry.
pub const MAX_ATTRIBUTES: usize = 64;

/// How a target was made and who reviewed it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provenance {
    /// Whether the artifact was generated (wholly or partly) by an AI system.
    pub ai_generated: bool,
    /// The generating tool, if any.
    #[serde(default)]
    pub tool: Option<String>,
    /// The model, if any.
    #[serde(default)]
    pub model: Option<String>,
    /// Who reviewed the artifact, if anyone.
    #[serde(default)]
    pub reviewed_by: Option<String>,
    /// When it was reviewed; only with `reviewed_by`.
    #[serde(default)]
    pub reviewed_at: Option<Timestamp>,
    /// Free attributes, name to value.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
}

/// Why a provenance object was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProvenanceError {
    /// The object does not have the documented shape (a wrong type, an
    /// unknown member, a bad date, `custom.airlock` not an object).
    #[error("malformed provenance: {0}")]
    Malformed(String),
    /// A review time without a reviewer.
    #[error("provenance gives reviewed_at without reviewed_by")]
    ReviewedAtWithoutReviewer,
    /// A string member that is empty, too long or holds a control character.
    #[error("provenance {field} must be 1 to {MAX_FIELD_LEN} bytes without control characters")]
    BadField {
        /// The member (or `attributes`).
        field: &'static str,
    },
    /// More than [`MAX_ATTRIBUTES`] attributes.
    #[error("provenance has more than {MAX_ATTRIBUTES} attributes")]
    TooManyAttributes,
}

fn field_ok(s: &str) -> bool {
    !s.is_empty() && s.len() <= MAX_FIELD_LEN && !s.chars().any(char::is_control)
}

impl Provenance {
    /// Checks the rules the schema cannot express.
    pub fn validate(&self) -> Result<(), ProvenanceError> {
        for (field, v) in [("tool", &self.tool), ("model", &self.model), ("reviewed_by", &self.reviewed_by)] {
            if v.as_deref().is_some_and(|s| !field_ok(s)) {
                return Err(ProvenanceError::BadField { field });
            }
        }
        if self.reviewed_at.is_some() && self.reviewed_by.is_none() {
            return Err(ProvenanceError::ReviewedAtWithoutReviewer);
        }
        if self.attributes.len() > MAX_ATTRIBUTES {
            return Err(ProvenanceError::TooManyAttributes);
        }
        if self.attributes.iter().any(|(k, v)| !field_ok(k) || !field_ok(v)) {
            return Err(ProvenanceError::BadField { field: "attributes" });
        }
        Ok(())
    }

    /// Whether a review is recorded.
    pub fn reviewed(&self) -> bool {
        self.reviewed_by.is_some()
    }

    /// The provenance object as JSON (every member written, absent ones as null).
    pub fn to_value(&self) -> Value {
        serde_json::json!({
            "ai_generated": self.ai_generated,
            "tool": self.tool,
            "model": self.model,
            "reviewed_by": self.reviewed_by,
            "reviewed_at": self.reviewed_at.map(|t| t.to_string()),
            "attributes": self.attributes,
        })
    }

    /// Parses and validates a provenance object.
    pub fn from_value(v: &Value) -> Result<Self, ProvenanceError> {
        let p: Provenance =
            serde_json::from_value(v.clone()).map_err(|e| ProvenanceError::Malformed(e.to_string()))?;
        p.validate()?;
        Ok(p)
    }

    /// The provenance in a target's `custom` member: `Ok(None)` when there is
    /// none (no `custom`, or no `airlock.provenance` in it).
    pub fn from_custom(custom: Option<&Value>) -> Result<Option<Self>, ProvenanceError> {
        let Some(custom) = custom else { return Ok(None) };
        let Some(ours) = custom.get(CUSTOM_MEMBER) else { return Ok(None) };
        let Value::Object(ours) = ours else {
            return Err(ProvenanceError::Malformed(format!("custom.{CUSTOM_MEMBER} is not an object")));
        };
        ours.get(PROVENANCE_MEMBER).map(Self::from_value).transpose()
    }

    /// The provenance of a target file (see [`Provenance::from_custom`]).
    pub fn of_target(file: &TargetFile) -> Result<Option<Self>, ProvenanceError> {
        Self::from_custom(file.custom.as_deref())
    }

    /// Puts this provenance into `custom`, keeping every other member there.
    pub fn store_in(&self, custom: &mut Option<Box<Value>>) {
        ours_in(custom).insert(PROVENANCE_MEMBER.to_owned(), self.to_value());
    }
}

/// The `airlock` object in a target's `custom`, made (replacing anything
/// there that is not an object) when missing; every other member is kept.
pub(crate) fn ours_in(custom: &mut Option<Box<Value>>) -> &mut serde_json::Map<String, Value> {
    let custom = custom.get_or_insert_with(|| Box::new(Value::Object(Default::default())));
    let ours = object(custom).entry(CUSTOM_MEMBER).or_insert(Value::Null);
    object(ours)
}

/// `value` as an object, made an empty one first if it is anything else.
fn object(value: &mut Value) -> &mut serde_json::Map<String, Value> {
    if !value.is_object() {
        *value = Value::Object(Default::default());
    }
    let Value::Object(map) = value else { unreachable!("made an object above") };
    map
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> Provenance {
        Provenance {
            ai_generated: true,
            tool: Some("codegen".into()),
            model: Some("m-1".into()),
            reviewed_by: Some("alice".into()),
            reviewed_at: Some(Timestamp::parse("2026-06-01T00:00:00Z").unwrap()),
            attributes: [("ticket".to_owned(), "REL-42".to_owned())].into_iter().collect(),
        }
    }

    #[test]
    fn round_trip_through_custom() {
        let mut custom = Some(Box::new(json!({"other": 1})));
        sample().store_in(&mut custom);
        let c = custom.unwrap();
        assert_eq!(c["other"], 1);
        assert_eq!(c["airlock"]["provenance"]["reviewed_at"], "2026-06-01T00:00:00Z");
        assert_eq!(Provenance::from_custom(Some(&*c)).unwrap(), Some(sample()));
        let mut none = None;
        Provenance::default().store_in(&mut none);
        assert_eq!(
            none.unwrap()["airlock"]["provenance"],
            json!({"ai_generated": false, "tool": null, "model": null, "reviewed_by": null,
                   "reviewed_at": null, "attributes": {}})
        );
    }

    #[test]
    fn absent_is_none() {
        assert_eq!(Provenance::from_custom(None).unwrap(), None);
        assert_eq!(Provenance::from_custom(Some(&json!({"x": 1}))).unwrap(), None);
        assert_eq!(Provenance::from_custom(Some(&json!({"airlock": {}}))).unwrap(), None);
    }

    #[test]
    fn refusals() {
        let bad = |v: Value| Provenance::from_custom(Some(&json!({"airlock": {"provenance": v}})));
        assert!(matches!(bad(json!({"tool": "x"})), Err(ProvenanceError::Malformed(_))));
        assert!(matches!(bad(json!({"ai_generated": "yes"})), Err(ProvenanceError::Malformed(_))));
        assert!(matches!(bad(json!({"ai_generated": true, "extra": 1})), Err(ProvenanceError::Malformed(_))));
        assert!(matches!(
            bad(json!({"ai_generated": true, "reviewed_at": "2026-06-01"})),
            Err(ProvenanceError::Malformed(_))
        ));
        assert_eq!(
            bad(json!({"ai_generated": true, "reviewed_at": "2026-06-01T00:00:00Z"})),
            Err(ProvenanceError::ReviewedAtWithoutReviewer)
        );
        assert_eq!(
            bad(json!({"ai_generated": true, "tool": ""})),
            Err(ProvenanceError::BadField { field: "tool" })
        );
        assert_eq!(
            bad(json!({"ai_generated": true, "attributes": {"a": "b\nc"}})),
            Err(ProvenanceError::BadField { field: "attributes" })
        );
        assert!(matches!(
            Provenance::from_custom(Some(&json!({"airlock": 3}))),
            Err(ProvenanceError::Malformed(_))
        ));
        assert!(bad(json!({"ai_generated": false})).unwrap().is_some());
    }
}
