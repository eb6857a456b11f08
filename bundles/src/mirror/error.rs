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
    /// The admission decision refused the update.
    #[error(transparent)]
    Admission(#[from] airlock_core::admission::AdmissionError),
    /// The trusted state cannot be read; nothing is decided on it.
    #[error("{0}")]
    State(String),
    /// A role or file already published reappears with other content.
    #[error("{role} version {version} was already published with other content (history rewritten)")]
    HistoryRewritten {
        /// The role (or file).
        role: String,
        /// Its version.
        version: u64,
    },
    /// A delta leaves out an artifact its base had, and the mirror does not
    /// hold it intact (it was imported from another base, or damaged).
    #[error("target {target} (role {role}) is listed but not carried: {why}; import a full bundle or a delta from the mirror's snapshot")]
    BaseArtifactMissing {
        /// The target path.
        target: String,
        /// The role that lists it.
        role: String,
        /// What is wrong.
        why: String,
    },
    /// A target's Sigstore provenance does not meet the policy's rule.
    #[error("rule sigstore: target {target}: {detail}")]
    Sigstore {
        /// The target.
        target: String,
        /// What failed: the check, or the expected and found identity.
        detail: String,
    },
    /// Another command holds the mirror's lock.
    #[error("another airlock command is writing this mirror (it holds the lock on {path}); waited {waited}s: try again when it has finished (imports take --wait SECONDS)")]
    Locked {
        /// The lock file.
        path: String,
        /// How long this command waited.
        waited: u64,
    },
    /// The directory is not a mirror or is damaged.
    #[error("{0}")]
    Layout(String),
    /// Reading or writing failed.
    #[error("{0}")]
    Io(String),
}

impl MirrorError {
    /// The rule that refused, for the audit log: an admission rule or `sigstore`.
    pub fn rule(&self) -> Option<&'static str> {
        match self {
            MirrorError::Admission(a) => Some(a.rule()),
            MirrorError::Sigstore { .. } => Some("sigstore"),
            _ => None,
        }
    }

    /// Whether this is a refusal of the input (exit 1) rather than an
    /// operational problem.
    pub fn is_refusal(&self) -> bool {
        !matches!(
            self,
            MirrorError::Io(_) | MirrorError::Layout(_) | MirrorError::Locked { .. } | MirrorError::State(_)
        ) && !matches!(self, MirrorError::Bundle(BundleError::Io(_)))
    }
}

pub(crate) fn io(what: &std::path::Path, e: std::io::Error) -> MirrorError {
    MirrorError::Io(format!("{}: {e}", what.display()))
}
