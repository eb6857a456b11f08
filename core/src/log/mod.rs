//! The transparency log: an append-only Merkle tree (RFC 6962 hashing, RFC
//! 9162 proof verification) over every publisher role version the registry
//! accepted, with checkpoints in the C2SP signed-note / tlog-checkpoint
//! format and optional witness cosignatures (C2SP tlog-cosignature).

mod merkle;
mod note;
mod proof;
mod tree;

pub use merkle::{
    consistency_proof, inclusion_proof, leaf_hash, root_hash, verify_consistency, verify_inclusion, Hash,
    ProofError,
};
pub use note::{
    check_signatures, format_cosignature_verifier_key, format_verifier_key, SignatureCheck, SignatureStatus,
    VerifierKey, VerifierKeyError, VerifierKind,
};
pub use note::{
    cosign, cosignature_key_id, note_key_id, sign_note, verify_cosignatures, verify_note, Checkpoint,
    NoteError, NoteSignature, SignedNote,
};
pub use proof::{
    check_extends, entry_leaf, log_keys, merge_signatures, origin, verify_checkpoint,
    verify_checkpoint_with_keys, Consistency, Inclusion, LogError, LogProof, MAX_CHECKPOINT_BYTES,
    PROOF_FORMAT,
};
pub use tree::Tree;
