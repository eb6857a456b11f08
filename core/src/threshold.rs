//! The one threshold check, used for root, top-level and delegated roles.
//!
//! A role is satisfied when at least `threshold` distinct authorised keys
//! made valid signatures over the payload. "Distinct" is by key material, so
//! one key listed under two ids counts once; a key that signed twice counts
//! once; a signature by a key outside the role never counts; a retiring key
//! counts only before its deadline.

use crate::keys::{KeyId, PublicKey};
use crate::metadata::{DelegatedRole, Delegations, Root, Signature};
use crate::time::Timestamp;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Who may sign for one role: its keys, threshold and retiring deadlines.
#[derive(Debug, Clone)]
pub struct Authorization<'a> {
    /// The role's name, for reports.
    pub role: String,
    /// The authorised keys by the ids the metadata lists them under.
    pub keys: Vec<(&'a KeyId, &'a PublicKey)>,
    /// How many distinct keys must sign.
    pub threshold: u64,
    /// Deadlines of retiring keys; a signature counts only while `now` is before it.
    pub retiring: BTreeMap<KeyId, Timestamp>,
}

/// Why a role's signatures fell short.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ThresholdError {
    /// Fewer distinct authorised keys signed validly than the threshold.
    #[error("role {role:?} needs {required} valid signature(s) from its keys, found {counted}")]
    NotMet {
        /// The role.
        role: String,
        /// Its threshold.
        required: u64,
        /// Distinct keys that signed validly.
        counted: u64,
        /// What each signature came to.
        report: Box<ThresholdReport>,
    },
    /// The role is not defined where its keys should be.
    #[error("role {0:?} is not defined")]
    UnknownRole(String),
}

/// What became of each signature on a document.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ThresholdReport {
    /// The role.
    pub role: String,
    /// Its threshold.
    pub threshold: u64,
    /// Authorised keys whose signature verified and counted.
    pub counted: Vec<KeyId>,
    /// Authorised keys whose signature did not verify, with the reason.
    pub invalid: Vec<(KeyId, String)>,
    /// Signatures by keys the role does not authorise.
    pub unauthorised: Vec<KeyId>,
    /// Valid signatures by a key already counted (same key under another id).
    pub duplicate: Vec<KeyId>,
    /// Valid signatures by a retiring key past its deadline.
    pub retired: Vec<KeyId>,
}

impl ThresholdReport {
    /// Whether the threshold was met.
    pub fn met(&self) -> bool {
        self.counted.len() as u64 >= self.threshold
    }
}

impl<'a> Authorization<'a> {
    /// The authorisation of top-level role `name` in `root`.
    pub fn top_level(root: &'a Root, name: &str) -> Result<Self, ThresholdError> {
        let role = root.role(name).ok_or_else(|| ThresholdError::UnknownRole(name.to_owned()))?;
        let keys = role.keyids.iter().filter_map(|id| root.keys.get_key_value(id)).collect();
        Ok(Authorization {
            role: name.to_owned(),
            keys,
            threshold: role.threshold,
            retiring: role.retiring.clone(),
        })
    }

    /// The authorisation of a delegated role.
    pub fn delegated(delegations: &'a Delegations, role: &DelegatedRole) -> Self {
        let keys = role.keyids.iter().filter_map(|id| delegations.keys.get_key_value(id)).collect();
        Authorization { role: role.name.clone(), keys, threshold: role.threshold, retiring: BTreeMap::new() }
    }

    /// Counts the signatures over `payload` and reports on each.
    pub fn count(&self, signatures: &[Signature], payload: &[u8], now: Timestamp) -> ThresholdReport {
        let mut report =
            ThresholdReport { role: self.role.clone(), threshold: self.threshold, ..Default::default() };
        let mut counted_material = BTreeSet::new();
        for sig in signatures {
            let Some((_, key)) = self.keys.iter().find(|(id, _)| **id == sig.keyid) else {
                report.unauthorised.push(sig.keyid.clone());
                continue;
            };
            match key.verify(payload, &sig.sig) {
                Err(e) => report.invalid.push((sig.keyid.clone(), e.to_string())),
                Ok(()) => {
                    if self.retiring.get(&sig.keyid).is_some_and(|deadline| now >= *deadline) {
                        report.retired.push(sig.keyid.clone());
                    } else if counted_material.insert(key.material_id()) {
                        report.counted.push(sig.keyid.clone());
                    } else {
                        report.duplicate.push(sig.keyid.clone());
                    }
                }
            }
        }
        report
    }

    /// Counts the signatures and fails unless the threshold is met.
    pub fn verify(
        &self,
        signatures: &[Signature],
        payload: &[u8],
        now: Timestamp,
    ) -> Result<ThresholdReport, ThresholdError> {
        let report = self.count(signatures, payload, now);
        if report.met() {
            Ok(report)
        } else {
            Err(ThresholdError::NotMet {
                role: self.role.clone(),
                required: self.threshold,
                counted: report.counted.len() as u64,
                report: Box::new(report),
            })
        }
    }
}

#[cfg(test)]
mod tests;
