//! Why a bundle was refused, one variant per failed check.

use airlock_core::archive::PathError;
use airlock_core::bundle::ManifestError;
use airlock_core::client::UpdateError;
use airlock_core::target::TargetError;

/// Why a bundle could not be written or was refused.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// The first entry is not the manifest.
    #[error("the first entry must be airlock-bundle.json, found {0}")]
    ManifestNotFirst(String),
    /// The manifest does not parse.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// An entry path that could escape or is not canonical.
    #[error("entry {path:?}: {source}")]
    UnsafePath {
        /// The raw path.
        path: String,
        /// Why.
        source: PathError,
    },
    /// A link, device, FIFO, directory, or PAX/GNU extension header.
    #[error("entry {path}: {kind} entries are not allowed")]
    ForbiddenEntryType {
        /// The entry's path.
        path: String,
        /// The tar entry type.
        kind: String,
    },
    /// An entry the manifest does not list.
    #[error("entry {0} is not listed in the manifest")]
    NotInManifest(String),
    /// An entry that appears twice.
    #[error("entry {0} appears twice")]
    DuplicateEntry(String),
    /// An entry out of the manifest's order.
    #[error("entry {found} is out of order: expected {expected}")]
    OutOfOrder {
        /// What the manifest lists next.
        expected: String,
        /// What the archive holds.
        found: String,
    },
    /// An entry whose size differs from the manifest's.
    #[error("entry {path} is {found} bytes, the manifest lists {listed}")]
    SizeMismatch {
        /// The entry.
        path: String,
        /// The manifest's length.
        listed: u64,
        /// The header's size.
        found: u64,
    },
    /// An entry whose SHA-256 differs from the manifest's.
    #[error("entry {path}: SHA-256 differs from the manifest")]
    HashMismatch {
        /// The entry.
        path: String,
    },
    /// Metadata after the first artifact: the reader verifies all metadata first.
    #[error("metadata entry {0} comes after artifacts")]
    MetadataAfterTargets(String),
    /// The metadata did not verify.
    #[error("metadata: {0}")]
    Update(#[from] UpdateError),
    /// The manifest names another registry than the pinned one.
    #[error("bundle is for registry {found}, the pinned root is registry {expected}")]
    RegistryMismatch {
        /// The pinned identity.
        expected: String,
        /// The manifest's identity.
        found: String,
    },
    /// The manifest's claims differ from the verified metadata.
    #[error("manifest claims {claim}, the signed metadata says {actual}")]
    ManifestClaim {
        /// What the manifest says.
        claim: String,
        /// What verified metadata says.
        actual: String,
    },
    /// A root entry that does not belong to the pinned root's chain.
    #[error("root {0} does not chain to the pinned root")]
    RootNotInChain(String),
    /// A metadata file that no signed metadata accounts for.
    #[error("metadata entry {0} is not accounted for by signed metadata")]
    UnaccountedMetadata(String),
    /// A timestamp or snapshot file whose version the client already
    /// trusted, with other bytes than the copy it trusts.
    #[error("metadata entry {0} differs from the copy of the same version already trusted")]
    NotTheVerifiedCopy(String),
    /// A role the snapshot lists is neither carried nor declared omitted.
    #[error("role {0} is listed in the snapshot but neither carried nor declared omitted")]
    RoleMissing(String),
    /// An artifact no verified role signs.
    #[error("artifact {0} is not signed by any role the pins trust for it")]
    TargetNotSigned(String),
    /// An artifact name not of the form `targets/<dir>/<sha256>.<name>`.
    #[error("artifact entry {0} is not named <sha256>.<name>")]
    BadTargetName(String),
    /// An artifact whose bytes differ from its signed length or hash.
    #[error("artifact {path}: {source}")]
    TargetMismatch {
        /// The entry.
        path: String,
        /// Why.
        source: TargetError,
    },
    /// The importer's pins or policy refused a target (checked before any
    /// artifact byte is read).
    #[error("{target}: {reason}")]
    Refused {
        /// The target path.
        target: String,
        /// The rule and why.
        reason: String,
    },
    /// SHA256SUMS differs from what the manifest implies.
    #[error("SHA256SUMS does not match the entries")]
    SumsMismatch,
    /// The archive ended before every listed entry.
    #[error("archive is truncated: missing {0}")]
    Truncated(String),
    /// Non-zero bytes after the end of the archive.
    #[error("trailing data after the end of the archive")]
    TrailingData,
    /// The (decompressed) stream is longer than the manifest allows.
    #[error("archive expands past the size its manifest allows ({limit} bytes)")]
    TooLarge {
        /// The limit.
        limit: u64,
    },
    /// A signed volume index does not authenticate against the pinned root.
    #[error("volume index: {0}")]
    VolumeIndex(#[from] airlock_core::volume_auth::VolumeAuthError),
    /// A split bundle's volume is missing, swapped or damaged.
    #[error("volume {name}: {detail}")]
    Volume {
        /// The volume's file name.
        name: String,
        /// What is wrong.
        detail: String,
    },
    /// The tar structure is damaged.
    #[error("malformed archive: {0}")]
    Malformed(String),
    /// Reading or writing failed.
    #[error("{0}")]
    Io(String),
    /// The transparency log the bundle carries does not verify.
    #[error("log: {0}")]
    Log(#[from] airlock_core::log::LogError),
}
