use super::*;
use crate::keys::Signer;
use crate::metadata::RoleKeys;
use std::collections::BTreeMap;

use crate::keys::testing::ed25519_signer as signer;

use crate::time::testing::t;

const NOW: &str = "2026-06-01T00:00:00Z";

/// Root `version` whose root role is `seeds` with `threshold`, signed by `signers`.
fn root(version: u64, seeds: &[u8], threshold: u64, expires: &str, signers: &[u8]) -> Metadata<Root> {
    let mut keys = BTreeMap::new();
    let mut ids = Vec::new();
    for &s in seeds {
        let pk = signer(s).public_key().clone();
        ids.push(pk.key_id());
        keys.insert(pk.key_id(), pk);
    }
    let role = RoleKeys { keyids: ids, threshold, retiring: Default::default(), extra: Default::default() };
    let r = Root {
        type_: "root".into(),
        spec_version: "1.0.31".into(),
        consistent_snapshot: Some(true),
        version,
        expires: t(expires),
        keys,
        roles: crate::metadata::TOP_LEVEL_ROLES.iter().map(|n| (n.to_string(), role.clone())).collect(),
        extra: Default::default(),
    };
    let mut md = Metadata::new(r).unwrap();
    for &s in signers {
        md.sign(&signer(s)).unwrap();
    }
    md
}

const FAR: &str = "2030-01-01T00:00:00Z";
const PAST: &str = "2026-01-01T00:00:00Z";

#[test]
fn key_swap_one_of_one() {
    let r1 = root(1, &[1], 1, FAR, &[1]);
    let r2 = root(2, &[2], 1, FAR, &[1, 2]);
    let (newest, steps) = verify_chain(r1, [r2], t(NOW)).unwrap();
    assert_eq!(newest.signed().version, 2);
    assert_eq!(steps.len(), 1);
}

#[test]
fn refused_without_old_threshold() {
    let r1 = root(1, &[1, 2, 3], 2, FAR, &[1, 2]);
    let r2 = root(2, &[4, 5, 6], 2, FAR, &[1, 4, 5]);
    let err = verify_chain(r1, [r2], t(NOW)).unwrap_err();
    assert!(matches!(err, RootChainError::PreviousThreshold { version: 2, trusted: 1, .. }));
}

#[test]
fn refused_without_new_threshold() {
    let r1 = root(1, &[1, 2, 3], 2, FAR, &[1, 2]);
    let r2 = root(2, &[4, 5, 6], 2, FAR, &[1, 2, 4]);
    let err = verify_chain(r1, [r2], t(NOW)).unwrap_err();
    assert!(matches!(err, RootChainError::OwnThreshold { version: 2, .. }));
}

#[test]
fn refused_on_version_gap_or_repeat() {
    let r1 = root(1, &[1], 1, FAR, &[1]);
    let r3 = root(3, &[1], 1, FAR, &[1]);
    assert_eq!(
        verify_chain(r1.clone(), [r3], t(NOW)).unwrap_err(),
        RootChainError::VersionNotNext { trusted: 1, found: 3 }
    );
    let again = root(1, &[1], 1, FAR, &[1]);
    assert_eq!(
        verify_chain(r1, [again], t(NOW)).unwrap_err(),
        RootChainError::VersionNotNext { trusted: 1, found: 1 }
    );
}

#[test]
fn expired_intermediate_accepted_expired_newest_refused() {
    let r1 = root(1, &[1], 1, PAST, &[1]);
    let r2 = root(2, &[1], 1, PAST, &[1]);
    let r3 = root(3, &[1], 1, FAR, &[1]);
    verify_chain(r1.clone(), [r2.clone(), r3], t(NOW)).unwrap();
    assert!(matches!(
        verify_chain(r1, [r2], t(NOW)).unwrap_err(),
        RootChainError::Expired { version: 2, .. }
    ));
}

#[test]
fn identity_pins_root_one() {
    let r1 = root(1, &[1], 1, FAR, &[1]);
    let id = registry_identity(&r1);
    trust_first_root(&id, &r1, t(NOW)).unwrap();
    let other = root(1, &[2], 1, FAR, &[2]);
    assert!(matches!(trust_first_root(&id, &other, t(NOW)), Err(RootChainError::IdentityMismatch { .. })));
    let unsigned = root(1, &[1], 1, FAR, &[]);
    assert!(matches!(trust_first_root(&id, &unsigned, t(NOW)), Err(RootChainError::OwnThreshold { .. })));
}

#[test]
fn three_of_five_partial_rotation_and_threshold_changes() {
    let r1 = root(1, &[1, 2, 3, 4, 5], 3, FAR, &[1, 2, 3]);
    // Replace two custodians, threshold stays 3: old 3 of {1..5}, new 3 of {1,2,3,6,7}.
    let r2 = root(2, &[1, 2, 3, 6, 7], 3, FAR, &[1, 2, 4, 6, 7]);
    // Raise threshold to 4.
    let r3 = root(3, &[1, 2, 3, 6, 7], 4, FAR, &[1, 2, 3, 6]);
    // Lower it to 2 with a full rotation: needs 4 of the old, 2 of the new.
    let r4 = root(4, &[8, 9], 2, FAR, &[1, 2, 3, 6, 8, 9]);
    let (newest, steps) = verify_chain(r1, [r2, r3, r4], t(NOW)).unwrap();
    assert_eq!(newest.signed().version, 4);
    assert_eq!(steps.len(), 3);
    // Lowering with only 3 old signatures fails once threshold is 4.
    let r3 = root(3, &[1, 2, 3, 6, 7], 4, FAR, &[1, 2, 3, 6]);
    let bad = root(4, &[8, 9], 2, FAR, &[1, 2, 3, 8, 9]);
    assert!(matches!(verify_chain(r3, [bad], t(NOW)).unwrap_err(), RootChainError::PreviousThreshold { .. }));
}
