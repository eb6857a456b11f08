//! Metadata of a type known only after reading its `_type`.

use super::{Metadata, MetadataError, Role, Root, Signature, Snapshot, Targets, TimestampRole};
use crate::canonical::parse_strict;
use crate::time::Timestamp;
use serde_json::Value;

/// Metadata of any of the four role types.
#[derive(Debug, Clone)]
pub enum AnyMetadata {
    /// Root metadata.
    Root(Metadata<Root>),
    /// Top-level or delegated targets metadata.
    Targets(Metadata<Targets>),
    /// Snapshot metadata.
    Snapshot(Metadata<Snapshot>),
    /// Timestamp metadata.
    Timestamp(Metadata<TimestampRole>),
}

macro_rules! each {
    ($self:expr, $md:ident => $e:expr) => {
        match $self {
            AnyMetadata::Root($md) => $e,
            AnyMetadata::Targets($md) => $e,
            AnyMetadata::Snapshot($md) => $e,
            AnyMetadata::Timestamp($md) => $e,
        }
    };
}

impl AnyMetadata {
    /// Parses metadata of whichever type its `_type` names.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, MetadataError> {
        let doc = parse_strict(bytes).map_err(|e| MetadataError::Json(e.0))?;
        let ty = doc.get("signed").and_then(|s| s.get("_type")).and_then(Value::as_str).unwrap_or("");
        Ok(match ty {
            "root" => AnyMetadata::Root(Metadata::from_bytes(bytes)?),
            "targets" => AnyMetadata::Targets(Metadata::from_bytes(bytes)?),
            "snapshot" => AnyMetadata::Snapshot(Metadata::from_bytes(bytes)?),
            "timestamp" => AnyMetadata::Timestamp(Metadata::from_bytes(bytes)?),
            other => {
                return Err(MetadataError::WrongType {
                    expected: "root, targets, snapshot or timestamp",
                    found: other.to_owned(),
                })
            }
        })
    }

    /// The `_type` value.
    pub fn type_name(&self) -> &'static str {
        match self {
            AnyMetadata::Root(_) => Root::TYPE,
            AnyMetadata::Targets(_) => Targets::TYPE,
            AnyMetadata::Snapshot(_) => Snapshot::TYPE,
            AnyMetadata::Timestamp(_) => TimestampRole::TYPE,
        }
    }

    /// The metadata version.
    pub fn version(&self) -> u64 {
        each!(self, m => m.signed().version())
    }

    /// The expiry.
    pub fn expires(&self) -> Timestamp {
        each!(self, m => m.signed().expires())
    }

    /// The signatures.
    pub fn signatures(&self) -> &[Signature] {
        each!(self, m => m.signatures())
    }

    /// The bytes signatures cover.
    pub fn payload(&self) -> Vec<u8> {
        each!(self, m => m.payload())
    }

    /// Signs with `signer`, replacing its earlier signature.
    pub fn sign(&mut self, signer: &dyn crate::keys::Signer) -> Result<(), crate::keys::SignerError> {
        each!(self, m => m.sign(signer))
    }

    /// The file bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        each!(self, m => m.to_bytes())
    }
}
