//! The log a bundle carries (docs/FORMAT.md 10.3): the checkpoint verified
//! with the log keys of the newest verified root, and an inclusion proof
//! for every role version carried. Consistency with what a receiver saw
//! before is the receiver's check (mirror, witness): only it knows that.

use super::error::BundleError;
use airlock_core::bundle::{LOG_CHECKPOINT_PATH, LOG_PROOF_PATH};
use airlock_core::hash::sha256_hex;
use airlock_core::log::{
    verify_checkpoint, Checkpoint, LogError, LogProof, SignedNote, MAX_CHECKPOINT_BYTES,
};
use airlock_core::metadata::Root;
use airlock_core::Timestamp;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

/// The verified log of a bundle.
#[derive(Debug, Clone)]
pub struct BundleLog {
    /// The checkpoint's body.
    pub checkpoint: Checkpoint,
    /// The checkpoint as a signed note (with any cosignatures it carried).
    pub note: SignedNote,
    /// The proofs.
    pub proof: LogProof,
}

/// The role versions carried among `metadata` (archive path to bytes):
/// every `metadata/N.root.json` and `metadata/V.ROLE.json` except snapshots.
pub fn carried_role_versions(metadata: &BTreeMap<&str, &[u8]>) -> Vec<(String, u64, String)> {
    metadata
        .iter()
        .filter_map(|(path, bytes)| {
            let name = path.strip_prefix("metadata/")?.strip_suffix(".json")?;
            let (v, role) = name.split_once('.')?;
            let version: u64 = v.parse().ok()?;
            (role != "snapshot").then(|| (role.to_owned(), version, sha256_hex(bytes)))
        })
        .collect()
}

/// Verifies the log entries among `metadata`, if the bundle has them.
pub(super) fn verify_log(
    metadata: &BTreeMap<&str, &[u8]>,
    identity: &str,
    root: &Root,
    now: Timestamp,
) -> Result<Option<BundleLog>, BundleError> {
    let (cp, proof) = (metadata.get(LOG_CHECKPOINT_PATH), metadata.get(LOG_PROOF_PATH));
    let (cp, proof) = match (cp, proof) {
        (None, None) => return Ok(None),
        (Some(c), Some(p)) => (c, p),
        (Some(_), None) => return Err(BundleError::Log(LogError::MalformedProof("missing".into()))),
        (None, Some(_)) => {
            return Err(BundleError::Log(LogError::Checkpoint(airlock_core::log::NoteError::Malformed(
                "log/checkpoint is missing".into(),
            ))))
        }
    };
    let (checkpoint, note) = verify_checkpoint(cp, identity, root, now)?;
    let proof = LogProof::parse(proof)?;
    proof.verify_inclusion(&checkpoint, &carried_role_versions(metadata))?;
    Ok(Some(BundleLog { checkpoint, note, proof }))
}

/// Where the witness cosignatures collected for a bundle are kept: beside
/// it, `FILE.checkpoint` for the bundle `FILE` (or its volume index
/// `FILE.volumes.json`). The bundle's bytes never change after it is made;
/// this file holds its checkpoint with the cosignatures added on the way.
pub fn companion_checkpoint_path(bundle: &Path) -> PathBuf {
    let name = bundle.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let base = name.strip_suffix(".volumes.json").unwrap_or(&name);
    bundle.with_file_name(format!("{base}.checkpoint"))
}

/// Reads the companion checkpoint of `bundle`, if there is one.
pub fn read_companion_checkpoint(bundle: &Path) -> Result<Option<SignedNote>, BundleError> {
    let path = companion_checkpoint_path(bundle);
    let bytes = match std::fs::File::open(&path) {
        Ok(f) => {
            let mut b = Vec::new();
            f.take(MAX_CHECKPOINT_BYTES + 1)
                .read_to_end(&mut b)
                .map_err(|e| BundleError::Io(format!("{}: {e}", path.display())))?;
            b
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(BundleError::Io(format!("{}: {e}", path.display()))),
    };
    if bytes.len() as u64 > MAX_CHECKPOINT_BYTES {
        return Err(BundleError::Io(format!("{}: larger than {MAX_CHECKPOINT_BYTES} bytes", path.display())));
    }
    SignedNote::parse(&bytes).map(Some).map_err(|e| BundleError::Log(LogError::Checkpoint(e)))
}
