//! Why an import or a mirror command failed.

use crate::bundle::BundleError;

/// Why an import was refused or a mirror command failed.
#[derive(Debug, thiserror::Error)]
pub enum MirrorError {
    /// The bundle did not verify.
    #[error(transparent)]
    Bundle(#[from] BundleError),
    /// No pinned repository has the bundle's registry identity.
    #[error("no pinned repository has registry identity {0}")]
    NotPinned(String),
    /// The bundle is not newer than what the mirror holds.
    #[error("snapshot version {found} is not newer than the mirror's {trusted} (replay or rollback)")]
    NotNewer {
        /// The mirror's snapshot version.
        trusted: u64,
        /// The bundle's.
        found: u64,
    },
    /// A delta bundle built on another snapshot than the mirror's.
    #[error("delta bundle builds on snapshot version {base}, the mirror has {trusted}")]
    DeltaBaseMismatch {
        /// The delta's base.
        base: u64,
        /// The mirror's snapshot version (0: none).
        trusted: u64,
    },
    /// A delta omits a role the mirror does not hold at the signed version.
    #[error("delta omits role {role} version {version}, which the mirror does not hold")]
    DeltaRoleMissing {
        /// The role.
        role: String,
        /// The version the new snapshot names.
        version: u64,
    },
    /// A publisher delegation's keys changed since the mirror first trusted it.
    #[error("the keys or threshold of delegated role {0} changed since the mirror first trusted it; accept explicitly with --accept-key-change {0}")]
    DelegationChanged(String),
    /// A new delegation claims a namespace an already trusted role holds.
    #[error("delegated role {role} claims a namespace that {owner} already holds")]
    NamespaceClaimed {
        /// The new role.
        role: String,
        /// The role the mirror already trusts for that namespace.
        owner: String,
    },
    /// A role or file already published reappears with other content.
    #[error("{role} version {version} was already published with other content (history rewritten)")]
    HistoryRewritten {
        /// The role (or file).
        role: String,
        /// Its version.
        version: u64,
    },
    /// Freshness policy.
    #[error("policy {0}")]
    Policy(String),
    /// Another import holds the lock.
    #[error("the mirror is locked by another import (pid {pid}); if none is running, remove {path}")]
    Locked {
        /// The holder.
        pid: String,
        /// The lock file.
        path: String,
    },
    /// The directory is not a mirror or is damaged.
    #[error("{0}")]
    Layout(String),
    /// Reading or writing failed.
    #[error("{0}")]
    Io(String),
}

impl MirrorError {
    /// Whether this is a refusal of the input (exit 1) rather than an
    /// operational problem.
    pub fn is_refusal(&self) -> bool {
        !matches!(self, MirrorError::Io(_) | MirrorError::Layout(_) | MirrorError::Locked { .. })
            && !matches!(self, MirrorError::Bundle(BundleError::Io(_)))
    }
}

pub(crate) fn io(what: &std::path::Path, e: std::io::Error) -> MirrorError {
    MirrorError::Io(format!("{}: {e}", what.display()))
}
