//! The signed envelope `{"signatures": [...], "signed": {...}}`.

use super::validate::{check_spec_version, check_version};
use super::MetadataError;
use crate::canonical::{parse_canonical, parse_strict, to_canonical_bytes};
use crate::keys::{KeyId, Signer, SignerError};
use crate::time::Timestamp;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// One signature in an envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature {
    /// The id of the key that made it.
    pub keyid: KeyId,
    /// The signature bytes, lowercase hex.
    pub sig: String,
    /// Members we do not interpret.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// What every role type shares.
pub trait Role: Serialize + DeserializeOwned + Clone {
    /// The `_type` value: `root`, `targets`, `snapshot` or `timestamp`.
    const TYPE: &'static str;
    /// The metadata version.
    fn version(&self) -> u64;
    /// When the metadata stops being trusted.
    fn expires(&self) -> Timestamp;
    /// The `spec_version` string.
    fn spec_version(&self) -> &str;
    /// Checks made on the raw `signed` object before typing it.
    fn validate_raw(_signed: &Value) -> Result<(), MetadataError> {
        Ok(())
    }
    /// Checks made on the typed object (cross-references between members).
    fn validate(&self) -> Result<(), MetadataError> {
        Ok(())
    }
}

/// A signed metadata document of role type `T`.
///
/// The `signed` object is kept exactly as read, as its canonical form:
/// the bytes signatures are made and checked over. (Not as a JSON tree: a
/// `Value` costs several times the bytes, which for a targets role of many
/// thousand targets dominated a verifier's memory; see docs/BENCHMARKS.md,
/// "Memory".) Replacing the signed content through [`Metadata::set_signed`]
/// drops every signature, since none can still hold.
#[derive(Debug, Clone)]
pub struct Metadata<T> {
    signatures: Vec<Signature>,
    signed: T,
    payload: Box<[u8]>,
    extra: serde_json::Map<String, Value>,
}

impl<T: Role> Metadata<T> {
    /// Unsigned metadata around `signed`, after validating it.
    pub fn new(signed: T) -> Result<Self, MetadataError> {
        let signed_value = serde_json::to_value(&signed).map_err(|e| MetadataError::Schema(e.to_string()))?;
        Self::check_signed(&signed_value)?;
        signed.validate()?;
        // Refuse now what could never be signed.
        let payload = to_canonical_bytes(&signed_value)?.into_boxed_slice();
        Ok(Metadata { signatures: Vec::new(), signed, payload, extra: Default::default() })
    }

    /// Parses and validates a metadata file of type `T`.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, MetadataError> {
        let doc = parse_strict(bytes).map_err(|e| MetadataError::Json(e.0))?;
        let Value::Object(mut doc) = doc else {
            return Err(MetadataError::NotAnEnvelope("top level is not an object".into()));
        };
        let signed_value = doc
            .remove("signed")
            .ok_or_else(|| MetadataError::NotAnEnvelope("no \"signed\" member".into()))?;
        let sigs = doc
            .remove("signatures")
            .ok_or_else(|| MetadataError::NotAnEnvelope("no \"signatures\" member".into()))?;
        let signatures: Vec<Signature> =
            serde_json::from_value(sigs).map_err(|e| MetadataError::Schema(format!("signatures: {e}")))?;
        let mut seen = BTreeSet::new();
        for s in &signatures {
            if !seen.insert(&s.keyid) {
                return Err(MetadataError::DuplicateSignature(s.keyid.clone()));
            }
        }
        Self::check_signed(&signed_value)?;
        // Encoded before the tree is consumed by the typing below, but the
        // errors still come in their old order: schema, then canonical.
        let payload = to_canonical_bytes(&signed_value);
        let signed: T =
            serde_json::from_value(signed_value).map_err(|e| MetadataError::Schema(e.to_string()))?;
        signed.validate()?;
        let payload = payload?.into_boxed_slice();
        Ok(Metadata { signatures, signed, payload, extra: doc })
    }

    fn check_signed(signed: &Value) -> Result<(), MetadataError> {
        if !signed.is_object() {
            return Err(MetadataError::NotAnEnvelope("\"signed\" is not an object".into()));
        }
        match signed.get("_type").and_then(Value::as_str) {
            Some(t) if t == T::TYPE => {}
            other => {
                return Err(MetadataError::WrongType {
                    expected: T::TYPE,
                    found: other.map_or_else(|| "(none)".to_owned(), str::to_owned),
                })
            }
        }
        check_version(signed)?;
        match signed.get("spec_version").and_then(Value::as_str) {
            Some(s) => check_spec_version(s)?,
            None => return Err(MetadataError::Schema("missing member \"spec_version\"".into())),
        }
        T::validate_raw(signed)
    }

    /// The typed signed content.
    pub fn signed(&self) -> &T {
        &self.signed
    }

    /// The signed content exactly as read, rebuilt from its canonical form.
    pub fn signed_value(&self) -> Value {
        // The payload was written by `to_canonical_bytes`, so it reads back.
        parse_canonical(&self.payload).unwrap_or(Value::Null)
    }

    /// The signatures, in file order.
    pub fn signatures(&self) -> &[Signature] {
        &self.signatures
    }

    /// The exact bytes signatures cover: canonical JSON of `signed`.
    pub fn payload(&self) -> Vec<u8> {
        self.payload.to_vec()
    }

    /// [`Metadata::payload`] without a copy.
    pub fn payload_bytes(&self) -> &[u8] {
        &self.payload
    }

    /// Replaces the signed content and drops all signatures.
    pub fn set_signed(&mut self, signed: T) -> Result<(), MetadataError> {
        *self = Self::new(signed)?;
        Ok(())
    }

    /// Signs the payload, replacing any earlier signature by the same key.
    pub fn sign(&mut self, signer: &dyn Signer) -> Result<(), SignerError> {
        let sig = signer.sign(&self.payload())?;
        self.add_signature(Signature {
            keyid: signer.key_id(),
            sig: hex::encode(sig),
            extra: BTreeMap::new(),
        });
        Ok(())
    }

    /// Adds a signature, replacing any earlier one under the same key id.
    /// It is not checked here; thresholds are checked by the verifier.
    pub fn add_signature(&mut self, signature: Signature) {
        self.signatures.retain(|s| s.keyid != signature.keyid);
        self.signatures.push(signature);
    }

    /// Removes the signature by `keyid`, if any.
    pub fn remove_signature(&mut self, keyid: &KeyId) {
        self.signatures.retain(|s| &s.keyid != keyid);
    }

    /// The file bytes: sorted keys, two-space indent, final newline.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut doc = self.extra.clone();
        doc.insert("signatures".into(), serde_json::to_value(&self.signatures).unwrap_or(Value::Null));
        doc.insert("signed".into(), self.signed_value());
        let mut out = serde_json::to_vec_pretty(&sorted(Value::Object(doc))).unwrap_or_default();
        out.push(b'\n');
        out
    }
}

/// Rebuilds objects with sorted keys, whatever map order serde_json was built with.
fn sorted(v: Value) -> Value {
    match v {
        Value::Object(m) => {
            let sorted: BTreeMap<String, Value> = m.into_iter().map(|(k, v)| (k, sorted(v))).collect();
            Value::Object(sorted.into_iter().collect())
        }
        Value::Array(a) => Value::Array(a.into_iter().map(sorted).collect()),
        other => other,
    }
}
