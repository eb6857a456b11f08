//! Root rotation (specification section 5.3): each new root version must be
//! signed by a threshold of the trusted root's root keys and a threshold of
//! its own, and carry exactly the next version number. Intermediate roots
//! may have expired; only the newest must be current.

use crate::hash::sha256_hex;
use crate::metadata::{Metadata, Role, Root};
use crate::threshold::{Authorization, ThresholdError, ThresholdReport};
use crate::time::Timestamp;
use serde::Serialize;

/// Why a root chain was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RootChainError {
    /// The first root is not the one the registry identity names.
    #[error("root version 1 does not match the registry identity: expected {expected}, found {found}")]
    IdentityMismatch {
        /// The identity pinned.
        expected: String,
        /// The identity of the root given.
        found: String,
    },
    /// The trusted starting point is not version 1 where identity demands it.
    #[error("the registry identity names root version 1, but the chain starts at version {0}")]
    NotVersionOne(u64),
    /// A root is not exactly the next version (5.3.5).
    #[error("root version {found} does not follow version {trusted}")]
    VersionNotNext {
        /// The trusted version.
        trusted: u64,
        /// The version offered.
        found: u64,
    },
    /// Too few of the trusted root's keys signed the new root (5.3.4).
    #[error(
        "root version {version} is not signed by a threshold of version {trusted}'s root keys: {source}"
    )]
    PreviousThreshold {
        /// The new version.
        version: u64,
        /// The trusted version.
        trusted: u64,
        /// The count.
        source: ThresholdError,
    },
    /// Too few of the new root's own keys signed it (5.3.4).
    #[error("root version {version} is not signed by a threshold of its own root keys: {source}")]
    OwnThreshold {
        /// The new version.
        version: u64,
        /// The count.
        source: ThresholdError,
    },
    /// The newest root has expired (5.3.10).
    #[error("root version {version} expired at {expires} (checked at {now})")]
    Expired {
        /// The newest version.
        version: u64,
        /// Its expiry.
        expires: Timestamp,
        /// The time of the check.
        now: Timestamp,
    },
}

/// What one step of the chain showed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RootStep {
    /// The version accepted by this step.
    pub version: u64,
    /// Its expiry.
    pub expires: Timestamp,
    /// The signatures counted against the previous root's keys (none for the first root).
    pub by_previous: Option<ThresholdReport>,
    /// The signatures counted against its own keys.
    pub by_self: ThresholdReport,
}

/// The registry identity: SHA-256 of root version 1's canonical `signed` bytes.
pub fn registry_identity(root_v1: &Metadata<Root>) -> String {
    sha256_hex(&root_v1.payload())
}

/// Checks that `first` is the root version 1 an identity names and that it
/// meets its own threshold.
pub fn trust_first_root(
    identity: &str,
    first: &Metadata<Root>,
    now: Timestamp,
) -> Result<RootStep, RootChainError> {
    if first.signed().version != 1 {
        return Err(RootChainError::NotVersionOne(first.signed().version));
    }
    let found = registry_identity(first);
    if !found.eq_ignore_ascii_case(identity) {
        return Err(RootChainError::IdentityMismatch { expected: identity.to_owned(), found });
    }
    let by_self = own_threshold(first, now)?;
    Ok(RootStep { version: 1, expires: first.signed().expires(), by_previous: None, by_self })
}

fn own_threshold(root: &Metadata<Root>, now: Timestamp) -> Result<ThresholdReport, RootChainError> {
    let version = root.signed().version;
    let auth = Authorization::top_level(root.signed(), "root")
        .map_err(|source| RootChainError::OwnThreshold { version, source })?;
    auth.verify(root.signatures(), &root.payload(), now)
        .map_err(|source| RootChainError::OwnThreshold { version, source })
}

/// One rotation step: `candidate` replaces `trusted` if it is the next
/// version and both thresholds hold. Expiry is not checked here.
pub fn update_root(
    trusted: &Metadata<Root>,
    candidate: &Metadata<Root>,
    now: Timestamp,
) -> Result<RootStep, RootChainError> {
    let (tv, cv) = (trusted.signed().version, candidate.signed().version);
    let payload = candidate.payload();
    let prev = Authorization::top_level(trusted.signed(), "root")
        .map_err(|source| RootChainError::PreviousThreshold { version: cv, trusted: tv, source })?;
    let by_previous = prev
        .verify(candidate.signatures(), &payload, now)
        .map_err(|source| RootChainError::PreviousThreshold { version: cv, trusted: tv, source })?;
    let by_self = own_threshold(candidate, now)?;
    // The version is checked after the signatures, as the specification
    // orders it, so an unsigned file cannot probe our state.
    if cv != tv + 1 {
        return Err(RootChainError::VersionNotNext { trusted: tv, found: cv });
    }
    Ok(RootStep {
        version: cv,
        expires: candidate.signed().expires(),
        by_previous: Some(by_previous),
        by_self,
    })
}

/// Walks `newer` (in order) from `trusted`, then checks the newest root has
/// not expired at `now`. Returns the newest root and one step per root.
pub fn verify_chain(
    trusted: Metadata<Root>,
    newer: impl IntoIterator<Item = Metadata<Root>>,
    now: Timestamp,
) -> Result<(Metadata<Root>, Vec<RootStep>), RootChainError> {
    let mut current = trusted;
    let mut steps = Vec::new();
    for candidate in newer {
        steps.push(update_root(&current, &candidate, now)?);
        current = candidate;
    }
    let (version, expires) = (current.signed().version, current.signed().expires());
    if expires <= now {
        return Err(RootChainError::Expired { version, expires, now });
    }
    Ok((current, steps))
}

#[cfg(test)]
mod tests;
