//! airlock-core: the pure verification core of airlock.
//!
//! Canonical JSON, keys and signatures, TUF metadata types and the
//! threshold check. No file system, terminal or clock: every function takes
//! bytes and values (including `now`) and returns a verdict or a typed reason.
//!
//! Section numbers cited in this crate refer to The Update Framework
//! specification, version 1.0.33.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod admission;
pub mod archive;
pub mod attestation;
pub mod bundle;
pub mod canonical;
pub mod client;
pub mod extension;
pub mod hash;
pub mod identity;
pub mod keys;
pub mod log;
pub mod metadata;
pub mod paths;
pub mod pins;
pub mod policy;
pub mod provenance;
pub mod rootchain;
pub mod target;
pub mod text;
pub mod threshold;
pub mod time;
pub mod volume_auth;

pub use canonical::{parse_strict, to_canonical_bytes, to_log_line, CanonicalError, JsonError};
pub use keys::{Ed25519Signer, KeyError, KeyId, PublicKey, SignatureError, Signer, SignerError};
pub use metadata::{Metadata, MetadataError};
pub use rootchain::{registry_identity, RootChainError, RootStep};
pub use threshold::{Authorization, ThresholdError, ThresholdReport};
pub use time::Timestamp;
