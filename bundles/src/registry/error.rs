//! Every reason a registry operation can fail, one variant per check, so
//! that tests assert the exact reason and the command line maps each to its
//! exit code through [`RegistryError::kind`].

use airlock_core::extension::ExtensionError;
use airlock_core::provenance::ProvenanceError;
use airlock_core::target::TargetError;
use airlock_core::{KeyId, MetadataError, RootChainError, SignerError, ThresholdError, Timestamp};
use std::fmt;
use std::path::PathBuf;

/// How a failure is classed, which decides the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A check refused the input (exit 1).
    Refused,
    /// The operator's input or configuration is wrong (exit 2).
    Config,
    /// Reading or writing failed, or a bug (exit 3).
    Io,
}

/// Why the index key given may not sign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexKeyProblem {
    /// It is marked retiring in the newest root: only the active key signs.
    Retiring {
        /// When its signatures stop counting.
        deadline: Timestamp,
    },
    /// An earlier root listed it; the newest does not.
    Revoked {
        /// The first root version without it.
        in_root_version: u64,
    },
    /// No root of this registry ever listed it.
    NotListed,
}

impl fmt::Display for IndexKeyProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IndexKeyProblem::Retiring { deadline } => {
                write!(f, "is retiring (deadline {deadline}); only the active index key may sign")
            }
            IndexKeyProblem::Revoked { in_root_version } => {
                write!(f, "was revoked in root version {in_root_version}; only the active index key may sign")
            }
            IndexKeyProblem::NotListed => f.write_str("is not an index key of this registry"),
        }
    }
}

/// Why a registry operation failed.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    // ---- submissions (exit 1) ----
    /// The submission directory is not of the documented form.
    #[error("submission {path}: {detail}")]
    BadSubmission {
        /// The submission or the offending entry.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// The role names no publisher of this registry.
    #[error("role {role}: no publisher of that name in this registry")]
    UnknownPublisher {
        /// The role name (from `ROLE.json`).
        role: String,
    },
    /// The role file is not valid targets metadata.
    #[error("role {role}: {source}")]
    MalformedRole {
        /// The role.
        role: String,
        /// Why.
        source: MetadataError,
    },
    /// Too few valid signatures by the keys the delegation names.
    #[error("role {role}: publisher signature refused: {source}")]
    Signature {
        /// The role.
        role: String,
        /// The count.
        source: ThresholdError,
    },
    /// A role delegates where it may not: a hash bin, or a publisher role
    /// whose delegations are not a hash-bin layout.
    #[error("role {role}: a publisher role may not delegate, except to its own hash bins")]
    Delegates {
        /// The role.
        role: String,
    },
    /// A publisher role's delegations are not exactly the hash-bin layout
    /// they claim (FORMAT.md 5.6), or its count of bins is not allowed.
    #[error("role {role}: not a valid hash-bin layout: {detail}")]
    BinLayout {
        /// The publisher role.
        role: String,
        /// The first way it differs.
        detail: String,
    },
    /// A publisher's bin count differs from the one it publishes under.
    #[error("role {role}: publishes in {from} hash bins; changing to {to} is not supported")]
    BinLayoutChanged {
        /// The publisher role.
        role: String,
        /// The current count (0: no bins).
        from: u32,
        /// The count asked for or offered (0: no bins).
        to: u32,
    },
    /// A bin role the publisher role does not delegate to.
    #[error("role {bin}: not a hash bin of publisher {role} as published or submitted")]
    NotABin {
        /// The publisher role.
        role: String,
        /// The bin role offered.
        bin: String,
    },
    /// A bin the publisher role delegates to is neither published nor in
    /// the submission (clients would find the bin's targets nowhere), or a
    /// published bin does not verify under the new publisher role.
    #[error("role {role}: hash bin {bin} {detail}")]
    BinMissing {
        /// The publisher role.
        role: String,
        /// The bin.
        bin: String,
        /// What is missing.
        detail: String,
    },
    /// A target listed by a bin whose hash prefixes do not cover it.
    #[error("role {bin}, target {target:?}: SHA-256 of the path starts {hash_prefix:?}, outside this bin's prefixes")]
    OutsideBin {
        /// The bin role.
        bin: String,
        /// The target path.
        target: String,
        /// The first digits of SHA-256 of the path.
        hash_prefix: String,
    },
    /// A target path that is not a safe relative path.
    #[error("role {role}, target {target:?}: bad target path: {reason}")]
    BadTargetPath {
        /// The role.
        role: String,
        /// The target path.
        target: String,
        /// Why.
        reason: String,
    },
    /// A target outside the publisher's namespaces (dependency confusion at the source).
    #[error("role {role}, target {target:?}: outside the publisher's namespaces {namespaces:?}")]
    OutsideNamespace {
        /// The role.
        role: String,
        /// The target path.
        target: String,
        /// The delegation's patterns.
        namespaces: Vec<String>,
    },
    /// A version not greater than the last accepted one.
    #[error("role {role}: version {version} is not greater than the last accepted version {accepted}")]
    VersionNotGreater {
        /// The role.
        role: String,
        /// The version offered.
        version: u64,
        /// The last version accepted.
        accepted: u64,
    },
    /// The role has expired.
    #[error("role {role}: expired at {expires} (checked at {now})")]
    RoleExpired {
        /// The role.
        role: String,
        /// Its expiry.
        expires: Timestamp,
        /// The time of the check.
        now: Timestamp,
    },
    /// A target with no usable sha256 hash (stored names are hash-prefixed).
    #[error("role {role}, target {target:?}: no sha256 hash (64 hex digits) is signed for it")]
    NoSha256 {
        /// The role.
        role: String,
        /// The target path.
        target: String,
    },
    /// A target that is neither in the submission nor carried over unchanged.
    #[error("role {role}, target {target:?}: artifact missing from the submission")]
    ArtifactMissing {
        /// The role.
        role: String,
        /// The target path.
        target: String,
    },
    /// An artifact whose bytes differ from the signed length or hash.
    #[error("role {role}, target {target:?}: artifact differs from the signed role: {source}")]
    ArtifactMismatch {
        /// The role.
        role: String,
        /// The target path.
        target: String,
        /// What differs.
        source: TargetError,
    },
    /// A file in the submission that the signed role does not list.
    #[error("role {role}: {path} in the submission is not a target of the signed role")]
    ExtraFile {
        /// The role.
        role: String,
        /// The entry, relative to the submission.
        path: String,
    },
    /// The index key may not sign: retiring, revoked or unknown.
    #[error("index key {} {problem}", keyid.short())]
    IndexKey {
        /// The key's id.
        keyid: KeyId,
        /// Why it may not sign.
        problem: IndexKeyProblem,
    },

    // ---- roots (exit 1) ----
    /// A root file does not parse.
    #[error("{path}: {source}")]
    RootFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: MetadataError,
    },
    /// The root chain does not verify.
    #[error("root chain refused: {0}")]
    RootChain(#[source] RootChainError),
    /// The root was not made by an airlock ceremony.
    #[error("root version {version}: {source}")]
    NotAirlockRoot {
        /// The root version.
        version: u64,
        /// Why.
        source: ExtensionError,
    },
    /// A rehearsal root may never initialise a registry.
    #[error(
        "root version {version} is a REHEARSAL root (throwaway keys); it can never be used for a registry"
    )]
    Rehearsal {
        /// The root version.
        version: u64,
    },
    /// A root without consistent snapshots, which this layout requires.
    #[error("root version {version} does not set consistent_snapshot; the registry layout requires it")]
    NotConsistent {
        /// The root version.
        version: u64,
    },
    /// Two publishers would claim overlapping namespaces.
    #[error(
        "namespace {pattern:?} of {name} overlaps {other_pattern:?} of publisher {other}; give --allow-overlap to allow it"
    )]
    NamespaceOverlap {
        /// The publisher being added.
        name: String,
        /// Its pattern.
        pattern: String,
        /// The publisher already there.
        other: String,
        /// That publisher's pattern.
        other_pattern: String,
    },
    /// The repository's own files are missing or inconsistent.
    #[error("{path}: {detail}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },

    // ---- configuration (exit 2) ----
    /// A targets draft is not of the documented form.
    #[error("targets draft {path}: {detail}")]
    BadDraft {
        /// The draft.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// A targets draft was made on another top-level targets version than
    /// the registry's current one.
    #[error("the targets draft is version {draft}, but the registry's next targets version is {next}; propose it again")]
    StaleDraft {
        /// The draft's version.
        draft: u64,
        /// The version the registry needs.
        next: u64,
    },
    /// Top-level targets (namespace ownership) is not signed by a threshold
    /// of the offline keys root lists for it.
    #[error("top-level targets version {version}: {source}")]
    TargetsSignature {
        /// Its version.
        version: u64,
        /// The count.
        source: ThresholdError,
    },
    /// The root lets an online index key sign top-level targets.
    #[error("root version {version} lets the index key {keyid} sign top-level targets; namespace ownership must be signed offline: rotate root first (airlock ceremony propose moves targets to the custodians)")]
    OnlineTargetsKey {
        /// The root version.
        version: u64,
        /// The key.
        keyid: KeyId,
    },
    /// Top-level targets has expired or expires at once.
    #[error("top-level targets version {version} expires {expires}, not after now ({now}); have the custodians sign a renewal (registry targets propose)")]
    TargetsExpired {
        /// Its version.
        version: u64,
        /// Its expiry.
        expires: Timestamp,
        /// The time of the check.
        now: Timestamp,
    },
    /// Another writer holds the lock.
    #[error("another airlock command is writing this registry (it holds the lock on {path}); try again when it has finished")]
    Locked {
        /// The lock file.
        path: PathBuf,
    },
    /// `init` into a directory that is not empty.
    #[error("{path}: exists and is not an empty directory")]
    NotEmpty {
        /// The directory.
        path: PathBuf,
    },
    /// Not a registry directory.
    #[error("{path}: not an airlock registry ({detail})")]
    NotARegistry {
        /// The directory.
        path: PathBuf,
        /// What is missing.
        detail: String,
    },
    /// No root files where some were expected.
    #[error("{dir}: {detail}")]
    NoRoots {
        /// The directory.
        dir: PathBuf,
        /// What is missing.
        detail: String,
    },
    /// A publisher name that is not `[a-z0-9][a-z0-9_-]*` or is a top-level role name.
    #[error(
        "bad publisher name {name:?}: use lowercase letters, digits, - and _ (not a top-level role name, nor NAME-bin-HEX, which names a hash bin)"
    )]
    BadPublisherName {
        /// The name.
        name: String,
    },
    /// A publisher of that name exists.
    #[error("publisher {name} already exists")]
    PublisherExists {
        /// The name.
        name: String,
    },
    /// No publisher of that name.
    #[error("no publisher {name} in this registry")]
    NoSuchPublisher {
        /// The name.
        name: String,
    },
    /// A namespace pattern that cannot be used.
    #[error("bad namespace {pattern:?}: {reason}")]
    BadNamespace {
        /// The pattern.
        pattern: String,
        /// Why.
        reason: String,
    },
    /// A threshold of 0 or more than the number of keys.
    #[error("threshold {threshold} is impossible with {keys} key(s)")]
    BadThreshold {
        /// The threshold.
        threshold: u64,
        /// The number of keys.
        keys: usize,
    },
    /// A bad artifact argument of `publish`.
    #[error("artifact {target:?}: {reason}")]
    BadArtifact {
        /// The target path.
        target: String,
        /// Why.
        reason: String,
    },
    /// The publisher's previous role does not parse.
    #[error("{path}: {source}")]
    PreviousRole {
        /// The file.
        path: PathBuf,
        /// Why.
        source: MetadataError,
    },
    /// An output that must not exist does.
    #[error("{path}: already exists; refusing to overwrite")]
    OutputExists {
        /// The path.
        path: PathBuf,
    },
    /// A provenance object that breaks the schema.
    #[error(transparent)]
    Provenance(#[from] ProvenanceError),
    /// Nothing to do.
    #[error("{0}")]
    NothingToDo(String),

    // ---- I/O and internal (exit 3) ----
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What happened.
        source: std::io::Error,
    },
    /// The signer failed.
    #[error("signing failed: {0}")]
    Signer(#[from] SignerError),
    /// A target's Sigstore provenance does not verify.
    #[error("role {role}: target {target}: Sigstore: {reason}")]
    Sigstore {
        /// The role.
        role: String,
        /// The target.
        target: String,
        /// Why.
        reason: String,
    },
    /// The index key cannot sign the log's checkpoints (note signatures are Ed25519).
    #[error("the index key cannot sign log checkpoints: {0} (the log key, the index key, must be Ed25519)")]
    LogKey(String),
    /// A bug: metadata we built does not validate or verify.
    #[error("internal error: {0}")]
    Internal(String),
}

impl RegistryError {
    /// The class of the failure.
    pub fn kind(&self) -> ErrorKind {
        use RegistryError::*;
        match self {
            BadSubmission { .. }
            | UnknownPublisher { .. }
            | MalformedRole { .. }
            | Signature { .. }
            | Delegates { .. }
            | BinLayout { .. }
            | BinLayoutChanged { .. }
            | NotABin { .. }
            | BinMissing { .. }
            | OutsideBin { .. }
            | BadTargetPath { .. }
            | OutsideNamespace { .. }
            | VersionNotGreater { .. }
            | RoleExpired { .. }
            | NoSha256 { .. }
            | ArtifactMissing { .. }
            | ArtifactMismatch { .. }
            | ExtraFile { .. }
            | Sigstore { .. }
            | IndexKey { .. }
            | RootFile { .. }
            | RootChain(_)
            | NotAirlockRoot { .. }
            | Rehearsal { .. }
            | NotConsistent { .. }
            | NamespaceOverlap { .. }
            | StaleDraft { .. }
            | TargetsSignature { .. }
            | OnlineTargetsKey { .. }
            | TargetsExpired { .. }
            | Corrupt { .. } => ErrorKind::Refused,
            Locked { .. }
            | NotEmpty { .. }
            | NotARegistry { .. }
            | NoRoots { .. }
            | BadPublisherName { .. }
            | PublisherExists { .. }
            | NoSuchPublisher { .. }
            | BadNamespace { .. }
            | BadThreshold { .. }
            | BadArtifact { .. }
            | PreviousRole { .. }
            | OutputExists { .. }
            | BadDraft { .. }
            | Provenance(_)
            | LogKey(_)
            | NothingToDo(_) => ErrorKind::Config,
            Io { .. } | Signer(_) | Internal(_) => ErrorKind::Io,
        }
    }

    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        RegistryError::Io { path: path.into(), source }
    }
}

impl From<MetadataError> for RegistryError {
    fn from(e: MetadataError) -> Self {
        RegistryError::Internal(e.to_string())
    }
}
