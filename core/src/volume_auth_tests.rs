use super::*;
use crate::bundle::{Volume, VOLUMES_FORMAT};
use crate::metadata::RoleKeys;

use crate::keys::testing::ed25519_signer as signer;

use crate::time::testing::t;

const NOW: &str = "2026-06-01T00:00:00Z";
const FAR: &str = "2030-01-01T00:00:00Z";
/// The expiry of the timestamp the indexes below go with.
const TRIP_ENDS: &str = "2026-07-01T00:00:00Z";

/// Root `version`: root keys `root_seed`, timestamp key `index_seed`, signed by `signers`.
fn root(version: u64, root_seed: u8, index_seed: u8, expires: &str, signers: &[u8]) -> Metadata<Root> {
    let role = |seed: u8| RoleKeys {
        keyids: vec![signer(seed).key_id()],
        threshold: 1,
        retiring: Default::default(),
        extra: Default::default(),
    };
    let keys =
        [root_seed, index_seed].into_iter().map(|s| (signer(s).key_id(), signer(s).public_key().clone()));
    let r = Root {
        type_: "root".into(),
        spec_version: "1.0.31".into(),
        consistent_snapshot: Some(true),
        version,
        expires: t(expires),
        keys: keys.collect(),
        roles: crate::metadata::TOP_LEVEL_ROLES
            .iter()
            .map(|n| (n.to_string(), if *n == "root" { role(root_seed) } else { role(index_seed) }))
            .collect(),
        extra: Default::default(),
    };
    let mut md = Metadata::new(r).unwrap();
    for &s in signers {
        md.sign(&signer(s)).unwrap();
    }
    md
}

/// Roots 1 (root key 1, index key 10) and 2 (root key 2, index key 20).
fn chain() -> Vec<Metadata<Root>> {
    vec![root(1, 1, 10, FAR, &[1]), root(2, 2, 20, FAR, &[1, 2])]
}

/// A two-volume index carrying `roots`, signed by `signers`.
fn signed_index(roots: &[Metadata<Root>], signers: &[u8]) -> VolumeIndex {
    let volume = |i: u8| Volume { name: format!("b.00{i}"), length: 10, sha256: hex::encode([i; 32]) };
    let files: Vec<Vec<u8>> = roots.iter().map(|r| r.to_bytes()).collect();
    let mut index = VolumeIndex {
        format: VOLUMES_FORMAT.into(),
        total_length: 20,
        bundle_sha256: hex::encode([9u8; 32]),
        volumes: vec![volume(0), volume(1)],
        authentication: Some(unsigned_auth(&registry_identity(&roots[0]), 7, t(TRIP_ENDS), &files)),
    };
    for &s in signers {
        let sig = sign_index(&index, &signer(s)).unwrap();
        index.authentication.as_mut().unwrap().signatures.push(sig);
    }
    index
}

#[test]
fn an_index_signed_by_the_newest_index_key_authenticates_from_any_pinned_version() {
    let roots = chain();
    let index = signed_index(&roots, &[20]);
    for pinned in &roots {
        let who = authenticate_index(&index, pinned, t(NOW)).unwrap();
        let registry = registry_identity(&roots[0]);
        assert_eq!(
            who,
            IndexAuthority { registry, snapshot_version: 7, root_version: 2, expires: t(TRIP_ENDS) }
        );
    }
    // It survives its own serialization: the payload is the canonical form.
    let bytes = serde_json::to_vec_pretty(&index).unwrap();
    let again = VolumeIndex::from_bytes(&bytes).unwrap();
    authenticate_index(&again, &roots[0], t(NOW)).unwrap();
}

#[test]
fn an_unsigned_index_is_named_unsigned() {
    let roots = chain();
    let mut index = signed_index(&roots, &[20]);
    index.authentication = None;
    assert_eq!(authenticate_index(&index, &roots[0], t(NOW)), Err(VolumeAuthError::Unsigned));
}

#[test]
fn a_changed_volume_entry_breaks_the_signature() {
    let roots = chain();
    let mut index = signed_index(&roots, &[20]);
    index.volumes[1].sha256 = hex::encode([7u8; 32]);
    let err = authenticate_index(&index, &roots[0], t(NOW)).unwrap_err();
    assert!(matches!(err, VolumeAuthError::Signature(ThresholdError::NotMet { .. })), "{err:?}");
    // Nor may the signature move to another snapshot version.
    let mut index = signed_index(&roots, &[20]);
    index.authentication.as_mut().unwrap().snapshot_version = 8;
    assert!(matches!(authenticate_index(&index, &roots[0], t(NOW)), Err(VolumeAuthError::Signature(_))));
}

#[test]
fn only_the_newest_roots_index_key_signs() {
    let roots = chain();
    // The old index key (10), or a root key, is not the newest root's index key.
    for seed in [10, 1, 2] {
        let index = signed_index(&roots, &[seed]);
        let err = authenticate_index(&index, &roots[0], t(NOW)).unwrap_err();
        assert!(matches!(err, VolumeAuthError::Signature(_)), "{seed}: {err:?}");
    }
}

#[test]
fn a_pin_of_another_registry_or_a_newer_root_is_not_among_the_carried_roots() {
    let roots = chain();
    let index = signed_index(&roots, &[20]);
    let other = root(1, 3, 30, FAR, &[3]);
    assert_eq!(authenticate_index(&index, &other, t(NOW)), Err(VolumeAuthError::NotPinned { version: 1 }));
    let newer = root(3, 2, 20, FAR, &[2]);
    assert_eq!(authenticate_index(&index, &newer, t(NOW)), Err(VolumeAuthError::NotPinned { version: 3 }));
}

#[test]
fn carried_roots_must_be_one_two_three_of_the_named_registry() {
    let roots = chain();
    let index = signed_index(&[roots[1].clone(), roots[0].clone()], &[20]);
    assert_eq!(
        authenticate_index(&index, &roots[0], t(NOW)),
        Err(VolumeAuthError::RootOrder { position: 1, found: 2, expected: 1 })
    );
    let mut index = signed_index(&roots, &[20]);
    index.authentication.as_mut().unwrap().registry = "00".repeat(32);
    assert!(matches!(authenticate_index(&index, &roots[0], t(NOW)), Err(VolumeAuthError::Registry { .. })));
    let mut index = signed_index(&roots, &[20]);
    index.authentication.as_mut().unwrap().roots[1] = "not base64!".into();
    assert!(matches!(
        authenticate_index(&index, &roots[0], t(NOW)),
        Err(VolumeAuthError::BadRoot { position: 2, .. })
    ));
    let mut index = signed_index(&roots, &[20]);
    index.authentication.as_mut().unwrap().roots.clear();
    assert!(matches!(
        authenticate_index(&index, &roots[0], t(NOW)),
        Err(VolumeAuthError::BadRoot { position: 1, .. })
    ));
}

#[test]
fn a_forged_root_in_the_chain_or_an_expired_newest_root_is_refused() {
    let roots = chain();
    // Root 2 signed only by its own key, not by root 1's.
    let forged = vec![roots[0].clone(), root(2, 2, 20, FAR, &[2])];
    let index = signed_index(&forged, &[20]);
    assert!(matches!(
        authenticate_index(&index, &roots[0], t(NOW)),
        Err(VolumeAuthError::Chain(RootChainError::PreviousThreshold { version: 2, .. }))
    ));
    let stale = vec![roots[0].clone(), root(2, 2, 20, "2026-05-01T00:00:00Z", &[1, 2])];
    let index = signed_index(&stale, &[20]);
    assert!(matches!(
        authenticate_index(&index, &roots[0], t(NOW)),
        Err(VolumeAuthError::Chain(RootChainError::Expired { version: 2, .. }))
    ));
}

#[test]
fn the_payload_starts_with_the_context_and_leaves_out_only_the_signatures() {
    let roots = chain();
    let signed = signed_index(&roots, &[20]);
    let unsigned = signed_index(&roots, &[]);
    let payload = signing_payload(&signed).unwrap();
    assert!(payload.starts_with(INDEX_SIGNING_CONTEXT.as_bytes()));
    assert_eq!(payload, signing_payload(&unsigned).unwrap());
    assert!(!String::from_utf8(payload).unwrap().contains("signatures"));
}

#[test]
fn an_index_authenticates_only_until_its_timestamp_expires() {
    let roots = chain();
    let index = signed_index(&roots, &[20]);
    authenticate_index(&index, &roots[0], t("2026-06-30T23:59:59Z")).unwrap();
    assert_eq!(
        authenticate_index(&index, &roots[0], t(TRIP_ENDS)),
        Err(VolumeAuthError::Expired { expires: t(TRIP_ENDS), now: t(TRIP_ENDS) })
    );
    // A forged index is refused for its signature, not said to have expired.
    let forged = signed_index(&roots, &[10]);
    assert!(matches!(
        authenticate_index(&forged, &roots[0], t(TRIP_ENDS)),
        Err(VolumeAuthError::Signature(_))
    ));
}

#[test]
fn roots_before_the_pinned_one_must_chain_to_it() {
    let roots = chain();
    // Another registry's root 1 in front of the real root 2, the index naming
    // that other registry: root 2 is not signed by its keys.
    let other = root(1, 3, 30, FAR, &[3]);
    let index = signed_index(&[other, roots[1].clone()], &[20]);
    assert!(matches!(
        authenticate_index(&index, &roots[1], t(NOW)),
        Err(VolumeAuthError::Chain(RootChainError::PreviousThreshold { version: 2, .. }))
    ));
}
