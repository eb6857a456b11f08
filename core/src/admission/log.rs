//! The log part of the admission decision (docs/FORMAT.md 10.4): a
//! repository's history may only grow. The mirror keeps the last checkpoint
//! it accepted; a new one must extend it (a consistency proof that
//! connects), carry the policy's witness cosignatures, and a repository
//! that once came with a log never comes without one again.

use super::AdmissionError;
use crate::log::{merge_signatures, Checkpoint, LogError, LogProof, SignedNote};
use crate::policy::Policy;

/// The log a verified bundle carried: checkpoint, its note, the proofs.
#[derive(Debug, Clone, Copy)]
pub struct OfferedLog<'a> {
    /// The checkpoint body.
    pub checkpoint: &'a Checkpoint,
    /// The signed note (log signature and any cosignatures it carried).
    pub note: &'a SignedNote,
    /// The proofs.
    pub proof: &'a LogProof,
}

/// Decides whether the log offered with an update may replace `prior`,
/// the checkpoint note the mirror stored last (if any). `cosigned` are
/// notes carrying witness cosignatures collected after the bundle was made
/// (its `.checkpoint` companion file): each must have exactly the
/// checkpoint's text, and their signature lines are added to it. Returns
/// the checkpoint note to store.
pub fn admit_log(
    prior: Option<&SignedNote>,
    offered: Option<OfferedLog<'_>>,
    cosigned: &[SignedNote],
    policy: &Policy,
) -> Result<Option<SignedNote>, AdmissionError> {
    let Some(offered) = offered else {
        if let Some(p) = prior {
            let size = Checkpoint::parse(&p.text).map_or(0, |c| c.size);
            return Err(AdmissionError::LogRequired {
                why: format!("the mirror holds a checkpoint of this repository's log ({size} entries)"),
            });
        }
        if policy.required_witnesses() > 0 {
            return Err(AdmissionError::LogRequired {
                why: format!("the policy requires {} witness cosignature(s)", policy.required_witnesses()),
            });
        }
        if policy.require_log() {
            return Err(AdmissionError::LogRequired {
                why: "the policy requires a log (require_log)".into(),
            });
        }
        return Ok(None);
    };
    if let Some(p) = prior {
        let old = Checkpoint::parse(&p.text).map_err(|e| AdmissionError::Log(LogError::Checkpoint(e)))?;
        if old.origin != offered.checkpoint.origin {
            return Err(AdmissionError::Log(LogError::SplitView {
                old: old.size,
                new: offered.checkpoint.size,
                detail: format!("origin {:?} after {:?}", offered.checkpoint.origin, old.origin),
            }));
        }
        offered
            .proof
            .verify_extends((old.size, &old.root), offered.checkpoint)
            .map_err(AdmissionError::Log)?;
    }
    let mut note = offered.note.clone();
    for c in cosigned {
        note = merge_signatures(&note, c).ok_or(AdmissionError::CosignedOtherCheckpoint)?;
    }
    policy.check_witnesses(&note).map_err(AdmissionError::Policy)?;
    Ok(Some(note))
}

#[cfg(test)]
#[path = "log_tests.rs"]
mod tests;
