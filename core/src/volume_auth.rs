//! The signed volume index (docs/FORMAT.md 7.5): what lets one disc of a
//! split bundle be authenticated alone, with nothing but the disc and the
//! importer's pinned root.
//!
//! A volume index lists each volume's length and SHA-256. Signed, it also
//! carries every root version of the registry, from version 1, so that a
//! reader holding any pinned root version can walk the chain to the newest
//! root itself, and the signatures of that root's `timestamp` role (the
//! registry's online index key) over the index. A disc whose bytes match a
//! signed, authenticated index entry is then the registry's own, before
//! any other disc is read.

use crate::bundle::VolumeIndex;
use crate::canonical::to_canonical_bytes;
use crate::metadata::{Metadata, Root, Signature};
use crate::rootchain::{registry_identity, verify_chain, RootChainError};
use crate::threshold::{Authorization, ThresholdError};
use crate::{Signer, SignerError, Timestamp};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What the signatures are made over, before the canonical JSON of the
/// index: a volume index signature can never be taken for a metadata,
/// checkpoint or ceremony signature by the same key, or the other way round.
pub const INDEX_SIGNING_CONTEXT: &str = "airlock-volume-index-v1\n";

/// The role of the newest root whose keys sign a volume index: the
/// registry's online index key, which signs every trip's timestamp.
pub const INDEX_SIGNING_ROLE: &str = "timestamp";

/// The `authentication` member of a signed volume index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VolumeAuth {
    /// The registry identity (SHA-256 of root version 1's signed bytes, hex).
    pub registry: String,
    /// The snapshot version the bundle carries.
    pub snapshot_version: u64,
    /// When the carried timestamp expires: the index authenticates only
    /// before, so an old disc does not stay "the registry's" for ever.
    pub expires: Timestamp,
    /// Every root file of the registry, version 1 first, each the exact
    /// bytes of `N.root.json` in standard base64.
    pub roots: Vec<String>,
    /// Signatures of the newest root's `timestamp` role over
    /// [`signing_payload`].
    pub signatures: Vec<Signature>,
}

/// Why a volume index was not authenticated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VolumeAuthError {
    /// The index carries no `authentication`.
    #[error("the volume index is not signed (made without --key)")]
    Unsigned,
    /// A carried root is not base64 or not root metadata.
    #[error("carried root {position} is not a root file: {detail}")]
    BadRoot {
        /// Its position in `roots`, from 1.
        position: usize,
        /// What is wrong.
        detail: String,
    },
    /// The carried roots are not versions 1, 2, … in order.
    #[error("carried root {position} is version {found}, expected {expected}")]
    RootOrder {
        /// Its position in `roots`, from 1.
        position: usize,
        /// The version it has.
        found: u64,
        /// The version it should have.
        expected: u64,
    },
    /// The carried root version 1 is not the registry the index names.
    #[error("the carried root version 1 is registry {found}, but the index names {named}")]
    Registry {
        /// The identity the index names.
        named: String,
        /// The identity of its root version 1.
        found: String,
    },
    /// The pinned root is not among the carried roots.
    #[error("the pinned root (version {version}) is not among the roots the index carries: another registry, or a pin newer than the bundle")]
    NotPinned {
        /// The pinned root's version.
        version: u64,
    },
    /// The chain of carried roots, or the newest of them, fails.
    #[error("root chain: {0}")]
    Chain(#[from] RootChainError),
    /// The index's own expiry (its bundle's timestamp's) has passed.
    #[error("the index expired at {expires} (checked at {now}), with its bundle's timestamp")]
    Expired {
        /// When it expired.
        expires: Timestamp,
        /// The time of the check.
        now: Timestamp,
    },
    /// Too few of the newest root's index keys signed the index.
    #[error("signature: {0}")]
    Signature(#[from] ThresholdError),
    /// The index cannot be put in canonical form.
    #[error("cannot encode the index: {0}")]
    Encoding(String),
}

/// Why a volume index could not be signed.
#[derive(Debug, thiserror::Error)]
pub enum SignIndexError {
    /// The signer failed.
    #[error("signing the volume index: {0}")]
    Signer(#[from] SignerError),
    /// The index cannot be put in canonical form.
    #[error("cannot encode the volume index: {0}")]
    Encoding(String),
}

/// Who an authenticated index is from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexAuthority {
    /// The registry identity.
    pub registry: String,
    /// The snapshot version the bundle carries.
    pub snapshot_version: u64,
    /// The newest root version, whose index keys signed.
    pub root_version: u64,
    /// Until when the index authenticates.
    pub expires: Timestamp,
}

/// The bytes signed: [`INDEX_SIGNING_CONTEXT`], then the canonical JSON of
/// `index` with `authentication.signatures` removed.
pub fn signing_payload(index: &VolumeIndex) -> Result<Vec<u8>, String> {
    let mut value = serde_json::to_value(index).map_err(|e| e.to_string())?;
    if let Some(auth) = value.get_mut("authentication").and_then(|a| a.as_object_mut()) {
        auth.remove("signatures");
    }
    let mut payload = INDEX_SIGNING_CONTEXT.as_bytes().to_vec();
    payload.extend(to_canonical_bytes(&value).map_err(|e| e.to_string())?);
    Ok(payload)
}

/// What a signer puts in an index before signing it: the registry, its
/// snapshot version, its timestamp's expiry and its root files (version 1
/// first), no signatures.
pub fn unsigned_auth<R: AsRef<[u8]>>(
    registry: &str,
    snapshot_version: u64,
    expires: Timestamp,
    root_files: &[R],
) -> VolumeAuth {
    VolumeAuth {
        registry: registry.to_owned(),
        snapshot_version,
        expires,
        roots: root_files.iter().map(|r| B64.encode(r)).collect(),
        signatures: Vec::new(),
    }
}

/// Signs `index` (whose `authentication` [`unsigned_auth`] made) with
/// `signer`: the signature over [`signing_payload`] to add to
/// `authentication.signatures`.
pub fn sign_index(index: &VolumeIndex, signer: &dyn Signer) -> Result<Signature, SignIndexError> {
    let payload = signing_payload(index).map_err(SignIndexError::Encoding)?;
    let sig = signer.sign(&payload)?;
    Ok(Signature { keyid: signer.key_id(), sig: hex::encode(sig), extra: BTreeMap::new() })
}

/// Authenticates a signed index against a pinned root: the carried roots
/// are versions 1, 2, … of the registry the index names, each signed by a
/// threshold of its predecessor's root keys and its own (so the pinned
/// root, which must be one of them, vouches for those before it as well
/// as after), the newest is current at `now`, the index has not expired,
/// and a threshold of the newest root's [`INDEX_SIGNING_ROLE`] keys signed
/// [`signing_payload`].
pub fn authenticate_index(
    index: &VolumeIndex,
    pinned: &Metadata<Root>,
    now: Timestamp,
) -> Result<IndexAuthority, VolumeAuthError> {
    let auth = index.authentication.as_ref().ok_or(VolumeAuthError::Unsigned)?;
    let payload = signing_payload(index).map_err(VolumeAuthError::Encoding)?;
    let mut roots = Vec::with_capacity(auth.roots.len());
    for (i, text) in auth.roots.iter().enumerate() {
        let bad = |detail: String| VolumeAuthError::BadRoot { position: i + 1, detail };
        let bytes = B64.decode(text).map_err(|e| bad(e.to_string()))?;
        let root = Metadata::<Root>::from_bytes(&bytes).map_err(|e| bad(e.to_string()))?;
        let expected = i as u64 + 1;
        if root.signed().version != expected {
            return Err(VolumeAuthError::RootOrder {
                position: i + 1,
                found: root.signed().version,
                expected,
            });
        }
        roots.push(root);
    }
    let version = pinned.signed().version;
    let pinned_at = usize::try_from(version).ok().and_then(|v| v.checked_sub(1));
    let carries_pin = pinned_at.and_then(|i| roots.get(i)).is_some_and(|r| r.payload() == pinned.payload());
    let mut chain = roots.into_iter();
    let first = chain.next().ok_or(VolumeAuthError::BadRoot { position: 1, detail: "no roots".into() })?;
    let found = registry_identity(&first);
    if !found.eq_ignore_ascii_case(&auth.registry) {
        return Err(VolumeAuthError::Registry { named: auth.registry.clone(), found });
    }
    if !carries_pin {
        return Err(VolumeAuthError::NotPinned { version });
    }
    let (newest, _) = verify_chain(first, chain, now)?;
    Authorization::top_level(newest.signed(), INDEX_SIGNING_ROLE)?.verify(&auth.signatures, &payload, now)?;
    // Only an authentic index is said to have expired.
    if now >= auth.expires {
        return Err(VolumeAuthError::Expired { expires: auth.expires, now });
    }
    Ok(IndexAuthority {
        registry: found,
        snapshot_version: auth.snapshot_version,
        root_version: newest.signed().version,
        expires: auth.expires,
    })
}

#[cfg(test)]
#[path = "volume_auth_tests.rs"]
mod tests;
