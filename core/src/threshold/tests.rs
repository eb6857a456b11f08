use super::*;
use crate::keys::testing::{p256_key, p256_secret, P256Signer};
use crate::keys::{SignatureError, Signer};
use crate::metadata::{DelegatedRole, Delegations, Metadata, Role, RoleKeys, Root, Targets};

use crate::keys::testing::ed25519_signer as signer;

use crate::time::testing::t;

fn targets() -> Targets {
    Targets {
        type_: "targets".into(),
        spec_version: "1.0.31".into(),
        version: 1,
        expires: t("2030-01-01T00:00:00Z"),
        targets: Default::default(),
        delegations: None,
        extra: Default::default(),
    }
}

/// A root whose `targets` role lists `keys` (by seed) with `threshold`.
fn root_with(keys: &[u8], threshold: u64) -> Root {
    let mut all = BTreeMap::new();
    let mut ids = Vec::new();
    for &seed in keys {
        let pk = signer(seed).public_key().clone();
        ids.push(pk.key_id());
        all.insert(pk.key_id(), pk);
    }
    let role = RoleKeys { keyids: ids, threshold, retiring: Default::default(), extra: Default::default() };
    Root {
        type_: "root".into(),
        spec_version: "1.0.31".into(),
        consistent_snapshot: Some(true),
        version: 1,
        expires: t("2030-01-01T00:00:00Z"),
        keys: all,
        roles: ["root", "targets", "snapshot", "timestamp"]
            .into_iter()
            .map(|n| (n.to_owned(), role.clone()))
            .collect(),
        extra: Default::default(),
    }
}

fn signed_by(seeds: &[u8]) -> Metadata<Targets> {
    let mut md = Metadata::new(targets()).unwrap();
    for &s in seeds {
        md.sign(&signer(s)).unwrap();
    }
    md
}

const NOW: &str = "2026-06-01T00:00:00Z";

#[test]
fn threshold_met_and_not_met() {
    let root = root_with(&[1, 2, 3], 2);
    let auth = Authorization::top_level(&root, "targets").unwrap();
    let md = signed_by(&[1, 3]);
    let r = auth.verify(md.signatures(), &md.payload(), t(NOW)).unwrap();
    assert_eq!(r.counted.len(), 2);
    let md = signed_by(&[1]);
    assert!(matches!(
        auth.verify(md.signatures(), &md.payload(), t(NOW)),
        Err(ThresholdError::NotMet { required: 2, counted: 1, .. })
    ));
}

#[test]
fn duplicate_signature_by_one_key_counts_once() {
    let root = root_with(&[1, 2], 2);
    let auth = Authorization::top_level(&root, "targets").unwrap();
    let md = signed_by(&[1]);
    // The parser refuses a repeated key id, so repeat it behind the parser's back.
    let mut sigs = md.signatures().to_vec();
    sigs.push(sigs[0].clone());
    let r = auth.count(&sigs, &md.payload(), t(NOW));
    assert_eq!(r.counted.len(), 1);
    assert!(!r.met());
}

#[test]
fn one_key_under_two_ids_counts_once() {
    let mut root = root_with(&[1, 2], 2);
    let pk = signer(1).public_key().clone();
    let alias = KeyId("ab".repeat(32));
    root.keys.insert(alias.clone(), pk);
    root.roles.get_mut("targets").unwrap().keyids = vec![signer(1).key_id(), alias.clone()];
    let auth = Authorization::top_level(&root, "targets").unwrap();
    let md = signed_by(&[1]);
    let mut sigs = md.signatures().to_vec();
    sigs.push(Signature { keyid: alias.clone(), ..sigs[0].clone() });
    let r = auth.count(&sigs, &md.payload(), t(NOW));
    assert_eq!(r.counted.len(), 1);
    assert_eq!(r.duplicate, vec![alias]);
    assert!(!r.met());
}

#[test]
fn signature_by_unauthorised_key_does_not_count() {
    let root = root_with(&[1, 2], 2);
    let auth = Authorization::top_level(&root, "targets").unwrap();
    let md = signed_by(&[1, 9]);
    let r = auth.count(md.signatures(), &md.payload(), t(NOW));
    assert_eq!(r.counted, vec![signer(1).key_id()]);
    assert_eq!(r.unauthorised, vec![signer(9).key_id()]);
    assert!(!r.met());
}

#[test]
fn invalid_signature_among_valid_is_reported_and_not_counted() {
    let root = root_with(&[1, 2, 3], 2);
    let auth = Authorization::top_level(&root, "targets").unwrap();
    let md = signed_by(&[1, 2, 3]);
    let mut sigs = md.signatures().to_vec();
    // Corrupt key 2's signature.
    let mut bytes = hex::decode(&sigs[1].sig).unwrap();
    bytes[0] ^= 1;
    sigs[1].sig = hex::encode(bytes);
    let r = auth.count(&sigs, &md.payload(), t(NOW));
    assert_eq!(r.counted, vec![signer(1).key_id(), signer(3).key_id()]);
    assert_eq!(r.invalid.len(), 1);
    assert_eq!(r.invalid[0].0, signer(2).key_id());
    // The report names the role and says why the signature was refused.
    assert_eq!(r.role, "targets");
    assert_eq!(r.invalid[0].1, SignatureError::Invalid.to_string());
    assert!(r.met());
}

#[test]
fn retiring_key_counts_until_its_deadline() {
    let mut root = root_with(&[1, 2], 1);
    let deadline = t("2026-06-01T00:00:00Z");
    root.roles.get_mut("targets").unwrap().retiring.insert(signer(1).key_id(), deadline);
    let auth = Authorization::top_level(&root, "targets").unwrap();
    let md = signed_by(&[1]);
    assert!(auth.verify(md.signatures(), &md.payload(), deadline.plus_secs(-1)).is_ok());
    let err = auth.verify(md.signatures(), &md.payload(), deadline.plus_secs(1)).unwrap_err();
    let ThresholdError::NotMet { report, .. } = err else { panic!() };
    assert_eq!(report.retired, vec![signer(1).key_id()]);
    // The new key keeps verifying after the deadline.
    let md = signed_by(&[2]);
    assert!(auth.verify(md.signatures(), &md.payload(), deadline.plus_secs(1)).is_ok());
}

#[test]
fn same_rules_for_delegated_roles() {
    let k1 = signer(1).public_key().clone();
    let k2 = signer(2).public_key().clone();
    let d = Delegations {
        keys: [(k1.key_id(), k1.clone()), (k2.key_id(), k2.clone())].into_iter().collect(),
        roles: vec![DelegatedRole {
            name: "acme".into(),
            keyids: vec![k1.key_id(), k2.key_id()],
            threshold: 2,
            terminating: true,
            paths: Some(vec!["acme/*".into()]),
            path_hash_prefixes: None,
            extra: Default::default(),
        }],
        extra: Default::default(),
    };
    let auth = Authorization::delegated(&d, &d.roles[0]);
    let md = signed_by(&[1]);
    let mut sigs = md.signatures().to_vec();
    sigs.push(sigs[0].clone());
    assert!(!auth.count(&sigs, &md.payload(), t(NOW)).met());
    let md = signed_by(&[1, 2]);
    assert!(auth.verify(md.signatures(), &md.payload(), t(NOW)).is_ok());
    let _ = targets().version();
}

/// A root whose `targets` role lists `keys` under their own ids with `threshold`.
fn root_listing(keys: &[&PublicKey], threshold: u64) -> Root {
    let mut root = root_with(&[], threshold);
    for k in keys {
        root.keys.insert(k.key_id(), (*k).clone());
    }
    root.roles.get_mut("targets").unwrap().keyids = keys.iter().map(|k| k.key_id()).collect();
    root
}

/// Two key objects for one P-256 key, each listed under its own id with
/// threshold 2 and each making a valid signature: one key, counted once.
fn one_p256_key_written_twice_counts_once(secret: &p256::SecretKey, a: PublicKey, b: PublicKey) {
    assert_ne!(a.key_id(), b.key_id());
    let root = root_listing(&[&a, &b], 2);
    let auth = Authorization::top_level(&root, "targets").unwrap();
    let mut md = Metadata::new(targets()).unwrap();
    md.sign(&P256Signer::new(secret, a.clone())).unwrap();
    md.sign(&P256Signer::new(secret, b.clone())).unwrap();
    assert_eq!(md.signatures().len(), 2);
    let err = auth.verify(md.signatures(), &md.payload(), t(NOW)).unwrap_err();
    let ThresholdError::NotMet { required, counted, report, .. } = err else { panic!("{err:?}") };
    assert_eq!((required, counted), (2, 1));
    assert_eq!(report.counted, vec![a.key_id()]);
    assert_eq!(report.duplicate, vec![b.key_id()]);
    assert!(report.invalid.is_empty() && report.unauthorised.is_empty());
    // A second, really different key does meet the threshold.
    let other = p256_secret(8);
    let c = p256_key(&other, "ecdsa", false);
    let root = root_listing(&[&a, &c], 2);
    let auth = Authorization::top_level(&root, "targets").unwrap();
    let mut md = Metadata::new(targets()).unwrap();
    md.sign(&P256Signer::new(secret, a)).unwrap();
    md.sign(&P256Signer::new(&other, c)).unwrap();
    assert_eq!(auth.verify(md.signatures(), &md.payload(), t(NOW)).unwrap().counted.len(), 2);
}

#[test]
fn one_p256_key_compressed_and_uncompressed_counts_once() {
    let secret = p256_secret(4);
    one_p256_key_written_twice_counts_once(
        &secret,
        p256_key(&secret, "ecdsa", true),
        p256_key(&secret, "ecdsa", false),
    );
}

#[test]
fn one_p256_key_under_both_keytype_spellings_counts_once() {
    let secret = p256_secret(4);
    one_p256_key_written_twice_counts_once(
        &secret,
        p256_key(&secret, "ecdsa", false),
        p256_key(&secret, "ecdsa-sha2-nistp256", false),
    );
    one_p256_key_written_twice_counts_once(
        &secret,
        p256_key(&secret, "ecdsa", true),
        p256_key(&secret, "ecdsa-sha2-nistp256", false),
    );
}
