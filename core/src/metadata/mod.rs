//! TUF metadata (specification section 4): the signed envelope and the four
//! top-level role types.
//!
//! Parsing keeps every member we do not interpret and signatures are checked
//! over the canonical form of the `signed` object exactly as it was read, so
//! a file written by another tool verifies after we load it.

mod any;
mod envelope;
mod root;
mod snapshot;
mod targets;
mod validate;

pub use any::AnyMetadata;
pub use envelope::{Metadata, Role, Signature};
pub use root::{RoleKeys, Root, RETIRING_FIELD, TOP_LEVEL_ROLES};
pub use snapshot::{MetaFile, Snapshot, Timestamp as TimestampRole};
pub use targets::{DelegatedRole, Delegations, Hashes, TargetFile, Targets};

use crate::keys::KeyId;

/// The TUF specification version airlock writes.
pub const SPEC_VERSION: &str = "1.0.31";

/// Why bytes are not valid metadata of the expected kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    /// Not JSON, or JSON with a duplicate object key.
    #[error("not valid JSON: {0}")]
    Json(String),
    /// The document lacks the `signed`/`signatures` envelope.
    #[error("not a signed metadata envelope: {0}")]
    NotAnEnvelope(String),
    /// `_type` names another role type.
    #[error("wrong metadata type: expected {expected:?}, found {found:?}")]
    WrongType {
        /// The type the caller asked for.
        expected: &'static str,
        /// The `_type` in the document.
        found: String,
    },
    /// A version that is not an integer of at least 1.
    #[error("version must be an integer of at least 1, found {found}")]
    BadVersion {
        /// The value as written.
        found: String,
    },
    /// A threshold that is not an integer of at least 1.
    #[error("threshold of role {role:?} must be an integer of at least 1, found {found}")]
    BadThreshold {
        /// The role whose threshold it is.
        role: String,
        /// The value as written.
        found: String,
    },
    /// A `spec_version` whose major version is not 1.
    #[error("unsupported spec_version {0:?}")]
    UnsupportedSpecVersion(String),
    /// Two signatures name the same key id.
    #[error("key {0} appears twice in signatures")]
    DuplicateSignature(KeyId),
    /// A role lists a key id that the key map lacks.
    #[error("role {role:?} lists key {keyid} which is not defined")]
    UndefinedKey {
        /// The role.
        role: String,
        /// The missing key id.
        keyid: KeyId,
    },
    /// A role lists one key id twice.
    #[error("role {role:?} lists key {keyid} twice")]
    DuplicateKeyInRole {
        /// The role.
        role: String,
        /// The repeated key id.
        keyid: KeyId,
    },
    /// Root lacks one of the four top-level roles.
    #[error("root does not define role {0:?}")]
    MissingRole(String),
    /// A delegated role sets both `paths` and `path_hash_prefixes`, or neither.
    #[error("delegated role {0:?} must set exactly one of paths and path_hash_prefixes")]
    PathsXorPrefixes(String),
    /// Two delegated roles share a name.
    #[error("delegated role {0:?} appears twice")]
    DuplicateDelegatedRole(String),
    /// A member has the wrong type or form (a bad date, a string for a number).
    #[error("malformed metadata: {0}")]
    Schema(String),
    /// The signed object cannot be written as canonical JSON.
    #[error(transparent)]
    Canonical(#[from] crate::canonical::CanonicalError),
}

#[cfg(test)]
mod tests;
