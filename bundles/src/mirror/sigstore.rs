//! Publisher provenance on import (docs/FORMAT.md 9.5, docs/PINS.md §4.2):
//! each carried target that a `[[sigstore]]` rule of the policy matches is
//! checked against the Sigstore trusted root in the pins, for the identity
//! the rule names. Runs after the bundle verified, before anything is
//! published; a refusal leaves the mirror unchanged.

use super::error::{io, MirrorError};
use super::import::{Checked, Importer};
use super::layout::Mirror;
use airlock_core::attestation::SigstoreRef;
use airlock_core::policy::SigstoreMode;
use airlock_sigstore::{ArtifactRef, IdentityPolicy};
use std::collections::{BTreeMap, BTreeSet};

/// The rule's identity as the verifier takes it: a SAN with `*` is a
/// pattern (`*` matching a run of characters without `/`).
fn identity(issuer: &str, san: &str) -> IdentityPolicy {
    if san.contains('*') {
        IdentityPolicy::glob(issuer, san)
    } else {
        IdentityPolicy::exact(issuer, san)
    }
}

/// Checks the Sigstore rules for every target `c` carries; `captured` are
/// the carried Sigstore bundles' bytes (verified against their signed
/// hashes as they streamed).
pub(super) fn admitted(
    mirror: Option<&Mirror>,
    c: &Checked,
    importer: &Importer,
    captured: &BTreeMap<String, Vec<u8>>,
) -> Result<(), MirrorError> {
    let policy = &importer.policy;
    if policy.sigstore_rules().is_empty() {
        return Ok(());
    }
    let roles = &c.bundle.trusted().targets;
    // A Sigstore bundle is an attestation of another target, not an
    // artifact the rules apply to.
    // Keyed by publisher: a publisher's hash bins name each other's.
    let owner = |role: &str| crate::registry::bin_publisher(role).unwrap_or(role).to_owned();
    let mut bundles: BTreeSet<(String, String)> = BTreeSet::new();
    for (role, md) in roles {
        for file in md.signed().targets.values() {
            if let Ok(Some(r)) = SigstoreRef::of_target(file) {
                bundles.insert((owner(role), r.bundle));
            }
        }
    }
    for (target, info, role) in c.bundle.targets() {
        if bundles.contains(&(owner(role), target.to_owned())) {
            continue;
        }
        let Some(rule) = policy.sigstore_rule(target) else { continue };
        let refuse = |detail: String| MirrorError::Sigstore { target: target.to_owned(), detail };
        if rule.mode == SigstoreMode::Ignore {
            continue;
        }
        let Some(r) = SigstoreRef::of_target(info).map_err(|e| refuse(e.to_string()))? else {
            if rule.mode == SigstoreMode::Require {
                return Err(refuse(format!(
                    "carries no Sigstore bundle; the policy requires one by issuer {} and SAN {}",
                    rule.issuer, rule.san
                )));
            }
            continue;
        };
        // The bundle must be the one the publisher signed for this target:
        // listed by the same role or, for a publisher with hash bins, by
        // the sibling bin its own path hashes to (FORMAT.md 9.6).
        let publisher = crate::registry::bin_publisher(role);
        let listed = roles.get(role).and_then(|md| md.signed().targets.get(&r.bundle)).or_else(|| {
            let publisher = publisher?;
            roles
                .iter()
                .filter(|(name, _)| crate::registry::bin_publisher(name) == Some(publisher))
                .find_map(|(_, md)| md.signed().targets.get(&r.bundle))
        });
        let listed_sha = listed.and_then(|f| f.hashes.get("sha256")).map(|h| h.to_ascii_lowercase());
        if listed_sha.as_deref() != Some(r.sha256.as_str()) {
            return Err(refuse(format!(
                "its Sigstore bundle {} is not listed by role {role} with the SHA-256 it names",
                r.bundle
            )));
        }
        let bytes = match captured.get(&r.bundle) {
            Some(b) => b.clone(),
            None => served_bundle(mirror, &c.repo, &r).map_err(refuse)?,
        };
        let root = importer.pins.sigstore_root().ok_or_else(|| {
            refuse("no Sigstore trusted root is pinned (pins/sigstore/trusted_root.json)".into())
        })?;
        let digest: [u8; 32] = info
            .hashes
            .get("sha256")
            .and_then(|h| hex::decode(h.as_bytes()).ok())
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| refuse("no SHA-256".into()))?;
        airlock_sigstore::verify(
            &bytes,
            ArtifactRef::Sha256(digest),
            root,
            &identity(&rule.issuer, &rule.san),
        )
        .map_err(|e| refuse(e.to_string()))?;
    }
    Ok(())
}

/// A Sigstore bundle a lean delta did not carry: the mirror's served copy,
/// checked against the SHA-256 the role names.
fn served_bundle(mirror: Option<&Mirror>, repo: &str, r: &SigstoreRef) -> Result<Vec<u8>, String> {
    let Some(m) = mirror else {
        return Err(format!("its Sigstore bundle {} is not in the bundle", r.bundle));
    };
    let path = m.served(repo).join(crate::registry::target_store_path(&r.bundle, &r.sha256));
    let bytes = std::fs::read(&path).map_err(|e| io(&path, e).to_string())?;
    if airlock_core::hash::sha256_hex(&bytes) != r.sha256 {
        return Err(format!("the mirror's copy of its Sigstore bundle {} differs", r.bundle));
    }
    Ok(bytes)
}
