//! Air-gap bundles: a deterministic tar archive (optionally gzip, optionally
//! split into volumes) carrying everything needed to verify a registry's
//! consistent snapshot, and a one-pass streaming reader that verifies it
//! before any artifact byte is trusted. See docs/FORMAT.md, "Bundles".

mod error;
mod inspect;
mod logcheck;
mod parallel_hash;
mod reader;
mod tarfmt;
mod volumes;
mod writer;

pub use error::BundleError;
pub use inspect::{inspect_bundle, Inspection};
pub use logcheck::{carried_role_versions, companion_checkpoint_path, read_companion_checkpoint, BundleLog};
pub use reader::{
    verify_bundle, verify_bundle_from, ArtifactSink, CarriedArtifacts, Check, NoSink, TrustedStart,
    VerifiedBundle, VerifyOptions,
};
pub use volumes::{
    authenticate_volume_index, check_volume, index_of_volume, index_path, open_volumes, read_volume_index,
    split_into_volumes, volume_path, VolumeCheck, VolumeFault, VolumeReader, VolumeWriter, BUNDLE_FILE_MODE,
    MAX_INDEX_BYTES,
};
pub use writer::{create_bundle, BundleOptions, BundlePlan, RECENT_CHECKPOINTS};

#[cfg(test)]
pub(crate) mod testrepo;
#[cfg(test)]
mod tests;
