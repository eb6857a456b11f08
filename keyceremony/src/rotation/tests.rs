use super::*;
use airlock_core::{Ed25519Signer, Signer};

fn key(seed: u8) -> PublicKey {
    Ed25519Signer::new(ed25519_dalek::SigningKey::from_bytes(&[seed; 32])).public_key().clone()
}

fn t(s: &str) -> Timestamp {
    Timestamp::parse(s).unwrap()
}

fn v1() -> Metadata<Root> {
    Metadata::new(v1_root()).unwrap()
}

fn v1_root() -> Root {
    initial_root(
        &InitialRoot {
            registry: "example".into(),
            custodians: vec![("alice".into(), key(1)), ("bob".into(), key(2)), ("carol".into(), key(3))],
            threshold: 2,
            index_key: key(10),
            expiry_days: ExpiryDays::default(),
            rehearsal: false,
        },
        t("2026-01-01T00:00:00Z"),
    )
    .unwrap()
}

#[test]
fn initial_root_shape() {
    let r = v1_root();
    assert_eq!(r.version, 1);
    assert_eq!(r.roles["root"].threshold, 2);
    // The custodians hold namespace ownership; the index key only snapshot and timestamp.
    assert_eq!(r.roles["targets"].keyids, r.roles["root"].keyids);
    assert_eq!(r.roles["targets"].threshold, 2);
    assert_eq!(r.roles["timestamp"].keyids, vec![key(10).key_id()]);
    assert_eq!(r.roles["snapshot"].keyids, vec![key(10).key_id()]);
    assert_eq!(RootExtension::of(&r).unwrap().custodians.len(), 3);
    assert_eq!(r.expires, t("2027-01-01T00:00:00Z"));
}

#[test]
fn impossible_thresholds_refused() {
    let mut init = InitialRoot {
        registry: "x".into(),
        custodians: vec![("a".into(), key(1))],
        threshold: 2,
        index_key: key(10),
        expiry_days: ExpiryDays::default(),
        rehearsal: false,
    };
    assert!(matches!(
        initial_root(&init, t("2026-01-01T00:00:00Z")),
        Err(RotationError::BadThreshold { .. })
    ));
    init.threshold = 1;
    init.custodians.push(("a".into(), key(2)));
    assert!(matches!(
        initial_root(&init, t("2026-01-01T00:00:00Z")),
        Err(RotationError::DuplicateCustodian(_))
    ));
}

#[test]
fn rotate_index_marks_old_key_retiring_then_drops_it() {
    let now = t("2026-02-01T00:00:00Z");
    let deadline = t("2026-03-01T00:00:00Z");
    let r2 = propose(&v1(), &[Change::RotateIndex { new_key: key(11), deadline }], now).unwrap();
    assert_eq!(r2.version, 2);
    assert_eq!(r2.roles["snapshot"].retiring.get(&key(10).key_id()), Some(&deadline));
    assert_eq!(signing_index_keys(&r2), vec![key(11).key_id()]);
    assert!(RootExtension::of(&r2).unwrap().identity.is_some());
    // A second rotation inside the window is refused.
    let err = propose(
        &Metadata::new(r2.clone()).unwrap(),
        &[Change::RotateIndex { new_key: key(12), deadline: t("2026-04-01T00:00:00Z") }],
        now,
    )
    .unwrap_err();
    assert_eq!(err, RotationError::RotationInProgress(key(10).key_id()));
    // After the deadline the next root drops the old key entirely.
    let r3 = propose(&Metadata::new(r2.clone()).unwrap(), &[], t("2026-03-02T00:00:00Z")).unwrap();
    assert_eq!(r3.roles["timestamp"].keyids, vec![key(11).key_id()]);
    assert!(!r3.keys.contains_key(&key(10).key_id()));
}

#[test]
fn revoke_removes_at_once() {
    let r2 = propose(&v1(), &[Change::RevokeIndex { new_key: key(11) }], t("2026-02-01T00:00:00Z")).unwrap();
    assert_eq!(r2.roles["timestamp"].keyids, vec![key(11).key_id()]);
    assert!(r2.roles["timestamp"].retiring.is_empty());
    assert!(!r2.keys.contains_key(&key(10).key_id()));
}

#[test]
fn custodian_changes_and_threshold_checks() {
    let now = t("2026-02-01T00:00:00Z");
    let r2 = propose(
        &v1(),
        &[
            Change::RemoveCustodian("carol".into()),
            Change::AddCustodian { name: "dave".into(), key: key(4) },
            Change::SetThreshold(1),
        ],
        now,
    )
    .unwrap();
    let ext = RootExtension::of(&r2).unwrap();
    assert_eq!(
        ext.custodians.values().cloned().collect::<BTreeSet<_>>(),
        ["alice", "bob", "dave"].map(String::from).into()
    );
    assert_eq!(r2.roles["root"].threshold, 1);
    let lines = describe_changes(&v1_root(), &r2);
    assert!(lines.iter().any(|l| l.contains("ADD key") && l.contains("dave")), "{lines:?}");
    assert!(lines.iter().any(|l| l.contains("REMOVE key") && l.contains("carol")), "{lines:?}");
    assert!(lines.iter().any(|l| l.contains("threshold 2 -> 1")), "{lines:?}");
    assert_eq!(
        propose(&v1(), &[Change::SetThreshold(4)], now).unwrap_err(),
        RotationError::BadThreshold { threshold: 4, keys: 3 }
    );
    assert_eq!(
        propose(&v1(), &[Change::RemoveCustodian("mallory".into())], now).unwrap_err(),
        RotationError::UnknownCustodian("mallory".into())
    );
}

#[test]
fn revoke_during_a_window_removes_every_earlier_index_key() {
    let now = t("2026-02-01T00:00:00Z");
    let r2 =
        propose(&v1(), &[Change::RotateIndex { new_key: key(11), deadline: t("2026-03-01T00:00:00Z") }], now)
            .unwrap();
    let r3 = propose(&Metadata::new(r2).unwrap(), &[Change::RevokeIndex { new_key: key(12) }], now).unwrap();
    for r in INDEX_ROLES {
        assert_eq!(r3.roles[r].keyids, vec![key(12).key_id()]);
        assert!(r3.roles[r].retiring.is_empty());
    }
    assert!(!r3.keys.contains_key(&key(10).key_id()) && !r3.keys.contains_key(&key(11).key_id()));
}

#[test]
fn every_proposal_gives_targets_to_the_custodians() {
    // A root made before namespace ownership was signed offline: the index
    // key signs targets.
    let mut old = v1_root();
    old.roles.insert("targets".into(), old.roles["timestamp"].clone());
    let next =
        propose(&Metadata::new(old).unwrap(), &[Change::SetThreshold(3)], t("2026-02-01T00:00:00Z")).unwrap();
    assert_eq!(next.roles["targets"].keyids, next.roles["root"].keyids);
    assert_eq!(next.roles["targets"].threshold, 3);
    assert!(!next.roles["targets"].keyids.contains(&key(10).key_id()));
    let lines = describe_changes(&v1_root(), &next).join("\n");
    assert!(lines.contains("targets: threshold 2 -> 3"), "{lines}");
}
