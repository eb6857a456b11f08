//! The log in a bundle: the registry's checkpoint, verified with the keys
//! root lists for it, and `log/proof.json`, the inclusion proof of every
//! role version the bundle carries plus consistency proofs from earlier
//! tree sizes (docs/FORMAT.md 10).

use super::merkle::{leaf_hash, verify_consistency, verify_inclusion, Hash, ProofError};
use super::note::{note_key_id, verify_note, Checkpoint, NoteError, SignedNote};
use super::tree::Tree;
use crate::metadata::Root;
use crate::threshold::Authorization;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// The `format` of `log/proof.json`.
pub const PROOF_FORMAT: &str = "airlock-log-proof-v1";
/// The largest checkpoint note a reader takes (bytes).
pub const MAX_CHECKPOINT_BYTES: u64 = 64 << 10;

/// The log origin of the registry with this identity: the first line of
/// its checkpoints and the key name of the log's note signatures.
pub fn origin(identity: &str) -> String {
    format!("airlock/{identity}")
}

/// The leaf data for one role version (docs/FORMAT.md 10.1).
pub fn entry_leaf(role: &str, version: u64, role_sha256: &str) -> Vec<u8> {
    format!("airlock-log-entry/v1\n{role}\n{version}\n{role_sha256}\n").into_bytes()
}

/// Why the log in a bundle, or a log's history, was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogError {
    /// The checkpoint is not a signed note by the log, or not a checkpoint.
    #[error("checkpoint: {0}")]
    Checkpoint(#[from] NoteError),
    /// Too few of root's log keys signed the checkpoint.
    #[error("checkpoint of {origin} needs {required} signature(s) by the log keys root lists (the timestamp role's), found {found}")]
    CheckpointUnsigned {
        /// The log.
        origin: String,
        /// The timestamp role's threshold.
        required: u64,
        /// Valid signatures by distinct log keys.
        found: u64,
    },
    /// `log/proof.json` is not valid.
    #[error("log/proof.json: {0}")]
    MalformedProof(String),
    /// The proof is for another tree than the checkpoint's.
    #[error("log/proof.json is for a tree of {proof} entries, the checkpoint for {checkpoint}")]
    TreeMismatch {
        /// The proof's size.
        proof: u64,
        /// The checkpoint's size.
        checkpoint: u64,
    },
    /// A role version the bundle carries has no inclusion proof.
    #[error("no inclusion proof for {role} version {version} in the log")]
    MissingInclusion {
        /// The role.
        role: String,
        /// Its version.
        version: u64,
    },
    /// An inclusion proof did not verify.
    #[error(
        "the inclusion proof of {role} version {version} does not verify against the checkpoint: {source}"
    )]
    BadInclusion {
        /// The role.
        role: String,
        /// Its version.
        version: u64,
        /// Why.
        source: ProofError,
    },
    /// The proof lists a role version the bundle does not carry.
    #[error("log/proof.json proves {role} version {version}, which the bundle does not carry")]
    UnexpectedInclusion {
        /// The role.
        role: String,
        /// Its version.
        version: u64,
    },
    /// The new checkpoint is smaller than one already seen.
    #[error("split view or rollback: the log shrank: a checkpoint of {new} entries after one of {old}")]
    Shrunk {
        /// The size already seen.
        old: u64,
        /// The new size.
        new: u64,
    },
    /// Two trees that cannot both be true.
    #[error("split view: the log's tree of {new} entries does not extend the tree of {old} entries seen before ({detail})")]
    SplitView {
        /// The size already seen.
        old: u64,
        /// The new size.
        new: u64,
        /// What did not connect.
        detail: String,
    },
    /// No consistency proof from the size the receiver last saw.
    #[error("no consistency proof from the tree of {old} entries seen before to {new} (make the bundle with --since-checkpoint {old})")]
    NoConsistencyProof {
        /// The size already seen.
        old: u64,
        /// The new size.
        new: u64,
    },
}

/// One inclusion proof.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Inclusion {
    /// The role (`root`, `targets` or a publisher's role name).
    pub role: String,
    /// Its version.
    pub version: u64,
    /// SHA-256 of the role file's exact bytes, hex.
    pub sha256: String,
    /// The leaf index.
    pub index: u64,
    /// The audit path, leaf to root, hex.
    pub path: Vec<String>,
}

/// One consistency proof.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Consistency {
    /// The older tree size it proves from.
    pub from_size: u64,
    /// The proof hashes, hex.
    pub path: Vec<String>,
}

/// `log/proof.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogProof {
    /// [`PROOF_FORMAT`].
    pub format: String,
    /// The tree size the proofs are for (the checkpoint's).
    pub size: u64,
    /// One inclusion proof per carried role version, in leaf order.
    pub inclusion: Vec<Inclusion>,
    /// Consistency proofs from earlier sizes, by ascending size.
    pub consistency: Vec<Consistency>,
}

fn hex_hashes(path: &[Hash]) -> Vec<String> {
    path.iter().map(hex::encode).collect()
}

fn parse_hashes(path: &[String]) -> Result<Vec<Hash>, LogError> {
    path.iter()
        .map(|h| {
            hex::decode(h)
                .ok()
                .and_then(|b| Hash::try_from(b.as_slice()).ok())
                .filter(|_| h.len() == 64 && h.bytes().all(|c| !c.is_ascii_uppercase()))
                .ok_or_else(|| LogError::MalformedProof(format!("{h:?} is not 64 lowercase hex digits")))
        })
        .collect()
}

impl LogProof {
    /// Proves `entries` (leaf index, role, version, sha256) in `tree`, and
    /// `tree` consistent with each of `since` (sizes not above its own).
    pub fn build(
        tree: &Tree,
        entries: &[(u64, String, u64, String)],
        since: &[u64],
    ) -> Result<Self, ProofError> {
        let mut inclusion = Vec::new();
        for (index, role, version, sha256) in entries {
            inclusion.push(Inclusion {
                role: role.clone(),
                version: *version,
                sha256: sha256.clone(),
                index: *index,
                path: hex_hashes(&tree.inclusion_proof(*index)?),
            });
        }
        inclusion.sort_by_key(|i| i.index);
        let sizes: BTreeSet<u64> = since.iter().copied().filter(|s| *s > 0 && *s < tree.size()).collect();
        let mut consistency = Vec::new();
        for from_size in sizes {
            consistency
                .push(Consistency { from_size, path: hex_hashes(&tree.consistency_proof(from_size)?) });
        }
        Ok(LogProof { format: PROOF_FORMAT.into(), size: tree.size(), inclusion, consistency })
    }

    /// Parses `log/proof.json`.
    pub fn parse(bytes: &[u8]) -> Result<Self, LogError> {
        let p: LogProof =
            serde_json::from_slice(bytes).map_err(|e| LogError::MalformedProof(e.to_string()))?;
        if p.format != PROOF_FORMAT {
            return Err(LogError::MalformedProof(format!("format {:?} is not {PROOF_FORMAT:?}", p.format)));
        }
        Ok(p)
    }

    /// The canonical bytes of this proof.
    pub fn to_bytes(&self) -> Vec<u8> {
        let v = serde_json::to_value(self).unwrap_or_default();
        let mut out = crate::canonical::to_canonical_bytes(&v).unwrap_or_default();
        out.push(b'\n');
        out
    }

    /// Checks that every role version in `carried` ((role, version,
    /// sha256 of its exact bytes), each once) is in the checkpoint's tree,
    /// and that the proof lists nothing else.
    pub fn verify_inclusion(
        &self,
        checkpoint: &Checkpoint,
        carried: &[(String, u64, String)],
    ) -> Result<(), LogError> {
        if self.size != checkpoint.size {
            return Err(LogError::TreeMismatch { proof: self.size, checkpoint: checkpoint.size });
        }
        // By (role, version), each taken once: a map, so that a bundle
        // carrying many role versions is checked in O(n log n).
        let mut wanted: BTreeMap<(&str, u64), &str> =
            carried.iter().map(|(r, v, sha)| ((r.as_str(), *v), sha.as_str())).collect();
        for inc in &self.inclusion {
            let Some(sha) = wanted.remove(&(inc.role.as_str(), inc.version)) else {
                return Err(LogError::UnexpectedInclusion { role: inc.role.clone(), version: inc.version });
            };
            let bad =
                |source| LogError::BadInclusion { role: inc.role.clone(), version: inc.version, source };
            if sha != inc.sha256 {
                return Err(bad(ProofError::RootMismatch));
            }
            let leaf = leaf_hash(&entry_leaf(&inc.role, inc.version, sha));
            verify_inclusion(&leaf, inc.index, checkpoint.size, &parse_hashes(&inc.path)?, &checkpoint.root)
                .map_err(bad)?;
        }
        if let Some(((role, version), _)) = wanted.into_iter().next() {
            return Err(LogError::MissingInclusion { role: role.to_owned(), version });
        }
        Ok(())
    }

    /// Checks that the checkpoint's tree extends the tree `old` (size, root)
    /// seen before: the same tree, or a larger one with a consistency proof
    /// from exactly `old`'s size that connects.
    pub fn verify_extends(&self, old: (u64, &Hash), checkpoint: &Checkpoint) -> Result<(), LogError> {
        check_extends(old, checkpoint, self.consistency.iter().find(|c| c.from_size == old.0))
    }
}

/// [`LogProof::verify_extends`] with the proof (if any) from `old`'s size.
pub fn check_extends(
    old: (u64, &Hash),
    new: &Checkpoint,
    proof: Option<&Consistency>,
) -> Result<(), LogError> {
    let (old_size, old_root) = old;
    if new.size < old_size {
        return Err(LogError::Shrunk { old: old_size, new: new.size });
    }
    if old_size == 0 {
        return Ok(());
    }
    if new.size == old_size {
        if new.root != *old_root {
            return Err(LogError::SplitView {
                old: old_size,
                new: new.size,
                detail: "two different root hashes for one size".into(),
            });
        }
        return Ok(());
    }
    let Some(proof) = proof else {
        return Err(LogError::NoConsistencyProof { old: old_size, new: new.size });
    };
    verify_consistency(old_size, new.size, old_root, &new.root, &parse_hashes(&proof.path)?).map_err(|e| {
        LogError::SplitView { old: old_size, new: new.size, detail: format!("the consistency proof: {e}") }
    })
}

/// The Ed25519 keys root lists for the log, with the threshold: the
/// timestamp role's (the index key), retiring keys only before their deadline.
pub fn log_keys(root: &Root, now: Timestamp) -> (Vec<[u8; 32]>, u64) {
    let Ok(auth) = Authorization::top_level(root, "timestamp") else { return (Vec::new(), 1) };
    let keys = auth
        .keys
        .iter()
        .filter(|(id, _)| auth.retiring.get(*id).is_none_or(|deadline| now < *deadline))
        .filter_map(|(_, k)| k.ed25519_verifying_key().ok().map(|vk| vk.to_bytes()))
        .collect();
    (keys, auth.threshold.max(1))
}

/// Verifies a registry checkpoint: a signed note whose text is a checkpoint
/// of `origin(identity)`, signed under that name by at least the
/// timestamp threshold of distinct keys that `root` lists for the log.
pub fn verify_checkpoint(
    bytes: &[u8],
    identity: &str,
    root: &Root,
    now: Timestamp,
) -> Result<(Checkpoint, SignedNote), LogError> {
    verify_checkpoint_with_keys(bytes, &origin(identity), &log_keys(root, now))
}

/// Verifies a checkpoint of log `origin` signed under that name by at
/// least `threshold` of `keys` (Ed25519 public keys). A signature line by
/// one of them that does not verify fails the note.
pub fn verify_checkpoint_with_keys(
    bytes: &[u8],
    origin: &str,
    (keys, threshold): &(Vec<[u8; 32]>, u64),
) -> Result<(Checkpoint, SignedNote), LogError> {
    let note = SignedNote::parse(bytes)?;
    let mut found = 0;
    // One key listed twice (e.g. under two key ids) counts once.
    let distinct: BTreeSet<&[u8; 32]> = keys.iter().collect();
    for key in distinct {
        let id = note_key_id(origin, key);
        if note.signatures.iter().any(|s| s.name == origin && s.key_id == id) {
            verify_note(&note, origin, key)?;
            found += 1;
        }
    }
    let required = (*threshold).max(1);
    if found < required {
        return Err(LogError::CheckpointUnsigned { origin: origin.to_owned(), required, found });
    }
    let cp = Checkpoint::parse(&note.text)?;
    if cp.origin != origin {
        return Err(LogError::Checkpoint(NoteError::WrongOrigin {
            expected: origin.to_owned(),
            found: cp.origin,
        }));
    }
    Ok((cp, note))
}

/// Adds the signature lines of `extra`, a note with the same text, that
/// `note` lacks (cosignatures collected on another copy); `None` if the
/// texts differ.
pub fn merge_signatures(note: &SignedNote, extra: &SignedNote) -> Option<SignedNote> {
    if note.text != extra.text {
        return None;
    }
    let mut out = note.clone();
    for s in &extra.signatures {
        if !out.signatures.contains(s) {
            out.signatures.push(s.clone());
        }
    }
    Some(out)
}

#[cfg(test)]
#[path = "proof_tests.rs"]
mod tests;
