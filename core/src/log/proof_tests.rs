//! Every refusal of `log/proof.json` and of a registry checkpoint, each
//! from the bad input that triggers it.

use super::*;
use crate::keys::{KeyId, PublicKey, Signer};
use crate::log::note::{sign_note, NoteSignature};
use crate::metadata::RoleKeys;
use std::collections::BTreeMap;

const ID: &str = "example";

use crate::keys::testing::ed25519_signer as signer;

fn public(seed: u8) -> [u8; 32] {
    signer(seed).signing_key().verifying_key().to_bytes()
}

use crate::time::testing::t;

fn now() -> Timestamp {
    t("2026-06-01T00:00:00Z")
}

/// A lowercase hex SHA-256-shaped string for entry `n`.
fn sha(n: u64) -> String {
    format!("{n:064x}")
}

/// The entries `(role, version, sha)` of a log of `n` leaves.
fn entries(n: u64) -> Vec<(String, u64, String)> {
    (0..n).map(|i| (format!("role{}", i % 3), i / 3 + 1, sha(i + 1))).collect()
}

fn tree_of(entries: &[(String, u64, String)]) -> Tree {
    let mut tree = Tree::new();
    for (r, v, s) in entries {
        tree.push(&entry_leaf(r, *v, s));
    }
    tree
}

fn checkpoint(tree: &Tree) -> Checkpoint {
    Checkpoint { origin: origin(ID), size: tree.size(), root: tree.root(), extensions: Vec::new() }
}

/// The checkpoint of `tree` signed as the log by each of `seeds`.
fn signed(cp: &Checkpoint, seeds: &[u8]) -> SignedNote {
    let mut note = SignedNote { text: cp.to_text(), signatures: Vec::new() };
    for &s in seeds {
        note.signatures.extend(sign_note(&cp.to_text(), &cp.origin, &signer(s)).unwrap().signatures);
    }
    note
}

/// Proves the entries at `indices` of `all` in their tree.
fn proof_for(all: &[(String, u64, String)], indices: &[u64], since: &[u64]) -> (Tree, LogProof) {
    let tree = tree_of(all);
    let picked: Vec<_> = indices
        .iter()
        .map(|&i| {
            let (r, v, s) = &all[i as usize];
            (i, r.clone(), *v, s.clone())
        })
        .collect();
    let proof = LogProof::build(&tree, &picked, since).unwrap();
    (tree, proof)
}

fn carried(all: &[(String, u64, String)], indices: &[u64]) -> Vec<(String, u64, String)> {
    indices.iter().map(|&i| all[i as usize].clone()).collect()
}

fn bad_inclusion(role: &str, version: u64, source: ProofError) -> LogError {
    LogError::BadInclusion { role: role.into(), version, source }
}

// ---- origin, leaves, build, parse ----

#[test]
fn origin_and_leaf_are_as_documented() {
    assert_eq!(origin("reg.example"), "airlock/reg.example");
    assert_eq!(
        entry_leaf("acme", 3, &sha(1)),
        format!("airlock-log-entry/v1\nacme\n3\n{}\n", sha(1)).into_bytes()
    );
}

#[test]
fn build_sorts_inclusions_and_keeps_only_useful_sizes() {
    let all = entries(7);
    let (tree, proof) = proof_for(&all, &[5, 0, 3], &[0, 3, 3, 1, 7, 9]);
    assert_eq!(proof.format, PROOF_FORMAT);
    assert_eq!(proof.size, 7);
    let indices: Vec<u64> = proof.inclusion.iter().map(|i| i.index).collect();
    assert_eq!(indices, [0, 3, 5]);
    assert_eq!(proof.inclusion[1].role, all[3].0);
    assert_eq!(proof.inclusion[1].version, all[3].1);
    assert_eq!(proof.inclusion[1].sha256, all[3].2);
    assert_eq!(
        proof.inclusion[1].path,
        tree.inclusion_proof(3).unwrap().iter().map(hex::encode).collect::<Vec<_>>()
    );
    // 0 and the tree's own size need no proof, larger sizes cannot have one;
    // duplicates are proved once, by ascending size.
    let sizes: Vec<u64> = proof.consistency.iter().map(|c| c.from_size).collect();
    assert_eq!(sizes, [1, 3]);
    assert_eq!(
        proof.consistency[1].path,
        tree.consistency_proof(3).unwrap().iter().map(hex::encode).collect::<Vec<_>>()
    );
    proof.verify_inclusion(&checkpoint(&tree), &carried(&all, &[0, 3, 5])).unwrap();
}

#[test]
fn build_refuses_an_index_outside_the_tree() {
    let tree = tree_of(&entries(3));
    assert_eq!(
        LogProof::build(&tree, &[(3, "role0".into(), 2, sha(4))], &[]),
        Err(ProofError::IndexOutOfRange { index: 3, size: 3 })
    );
}

#[test]
fn parse_round_trips_the_canonical_bytes() {
    let all = entries(6);
    let (_, proof) = proof_for(&all, &[1, 4], &[2]);
    let bytes = proof.to_bytes();
    assert_eq!(bytes.last(), Some(&b'\n'));
    assert_eq!(LogProof::parse(&bytes).unwrap(), proof);
    // Canonical: keys sorted, no spaces.
    let text = String::from_utf8(bytes).unwrap();
    assert!(text.starts_with("{\"consistency\":[{\"from_size\":2,"), "{text}");
}

#[test]
fn parse_refuses_another_format() {
    let all = entries(2);
    let (_, mut proof) = proof_for(&all, &[0], &[]);
    proof.format = "airlock-log-proof-v2".into();
    let err = LogProof::parse(&proof.to_bytes()).unwrap_err();
    assert!(matches!(&err, LogError::MalformedProof(m) if m.contains("airlock-log-proof-v2")), "{err:?}");
}

#[test]
fn parse_refuses_unknown_fields_at_every_level() {
    let all = entries(4);
    let (_, proof) = proof_for(&all, &[1], &[2]);
    let good: serde_json::Value = serde_json::from_slice(&proof.to_bytes()).unwrap();
    LogProof::parse(&serde_json::to_vec(&good).unwrap()).unwrap();
    let mut top = good.clone();
    top["extra"] = serde_json::json!(1);
    let mut inc = good.clone();
    inc["inclusion"][0]["leaf"] = serde_json::json!("x");
    let mut cons = good.clone();
    cons["consistency"][0]["to_size"] = serde_json::json!(4);
    for (what, v) in [("top", top), ("inclusion", inc), ("consistency", cons)] {
        let err = LogProof::parse(&serde_json::to_vec(&v).unwrap()).unwrap_err();
        assert!(
            matches!(&err, LogError::MalformedProof(m) if m.contains("unknown field")),
            "{what}: {err:?}"
        );
    }
    for bad in [&b"not json"[..], b"{}", b"[]", b""] {
        assert!(matches!(LogProof::parse(bad), Err(LogError::MalformedProof(_))), "{bad:?}");
    }
}

#[test]
fn hashes_must_be_64_lowercase_hex_digits() {
    let all = entries(5);
    let (tree, proof) = proof_for(&all, &[2], &[]);
    let cp = checkpoint(&tree);
    let c = carried(&all, &[2]);
    let good = proof.inclusion[0].path[0].clone();
    assert!(good.bytes().any(|b| b.is_ascii_alphabetic()), "the hash has a letter to uppercase");
    for bad in [good.to_uppercase(), good[..62].to_owned(), format!("{good}00"), format!("{}zz", &good[..62])]
    {
        let mut p = proof.clone();
        p.inclusion[0].path[0] = bad.clone();
        // Parsing the file takes any string; the hashes are read when used.
        let p = LogProof::parse(&p.to_bytes()).unwrap();
        let err = p.verify_inclusion(&cp, &c).unwrap_err();
        assert!(
            matches!(&err, LogError::MalformedProof(m) if m.contains("64 lowercase hex digits")),
            "{bad}: {err:?}"
        );
    }
    // The same rule for consistency proofs.
    let old = tree_of(&all[..3]);
    let (_, proof) = proof_for(&all, &[], &[3]);
    let mut p = proof.clone();
    p.consistency[0].path[0] = p.consistency[0].path[0].to_uppercase();
    assert!(matches!(p.verify_extends((3, &old.root()), &cp), Err(LogError::MalformedProof(_))));
    proof.verify_extends((3, &old.root()), &cp).unwrap();
}

// ---- verify_inclusion ----

#[test]
fn verify_inclusion_refuses_a_proof_for_another_tree_size() {
    let all = entries(6);
    let (_, proof) = proof_for(&all, &[0, 1], &[]);
    let smaller = tree_of(&all[..5]);
    assert_eq!(
        proof.verify_inclusion(&checkpoint(&smaller), &carried(&all, &[0, 1])),
        Err(LogError::TreeMismatch { proof: 6, checkpoint: 5 })
    );
}

#[test]
fn verify_inclusion_refuses_a_proof_of_a_role_version_not_carried() {
    let all = entries(6);
    let (tree, proof) = proof_for(&all, &[0, 4], &[]);
    let (r, v, _) = &all[4];
    assert_eq!(
        proof.verify_inclusion(&checkpoint(&tree), &carried(&all, &[0])),
        Err(LogError::UnexpectedInclusion { role: r.clone(), version: *v })
    );
}

#[test]
fn verify_inclusion_refuses_a_role_version_proved_twice() {
    let all = entries(6);
    let (tree, mut proof) = proof_for(&all, &[2], &[]);
    proof.inclusion.push(proof.inclusion[0].clone());
    let (r, v, _) = &all[2];
    assert_eq!(
        proof.verify_inclusion(&checkpoint(&tree), &carried(&all, &[2])),
        Err(LogError::UnexpectedInclusion { role: r.clone(), version: *v })
    );
}

#[test]
fn verify_inclusion_refuses_a_carried_role_version_without_proof() {
    let all = entries(6);
    let (tree, proof) = proof_for(&all, &[1, 3], &[]);
    let (r, v, _) = &all[5];
    assert_eq!(
        proof.verify_inclusion(&checkpoint(&tree), &carried(&all, &[1, 3, 5])),
        Err(LogError::MissingInclusion { role: r.clone(), version: *v })
    );
    // A proof with no inclusion at all, for a bundle carrying something.
    let (_, empty) = proof_for(&all, &[], &[]);
    assert!(matches!(
        empty.verify_inclusion(&checkpoint(&tree), &carried(&all, &[0])),
        Err(LogError::MissingInclusion { .. })
    ));
}

#[test]
fn verify_inclusion_refuses_a_proof_naming_other_bytes() {
    let all = entries(6);
    let (tree, proof) = proof_for(&all, &[3], &[]);
    let cp = checkpoint(&tree);
    let (r, v, _) = all[3].clone();
    // The proof says other bytes than the bundle carries, though the bytes
    // the bundle carries are in the tree at that index.
    let mut p = proof.clone();
    p.inclusion[0].sha256 = sha(99);
    assert_eq!(
        p.verify_inclusion(&cp, &carried(&all, &[3])),
        Err(bad_inclusion(&r, v, ProofError::RootMismatch))
    );
    // The bundle carries other bytes than the log recorded: proof and
    // bundle agree, the tree does not.
    let mut p = proof.clone();
    p.inclusion[0].sha256 = sha(99);
    assert_eq!(
        p.verify_inclusion(&cp, &[(r.clone(), v, sha(99))]),
        Err(bad_inclusion(&r, v, ProofError::RootMismatch))
    );
    proof.verify_inclusion(&cp, &carried(&all, &[3])).unwrap();
}

#[test]
fn verify_inclusion_refuses_a_wrong_index_or_path() {
    let all = entries(7);
    let (tree, proof) = proof_for(&all, &[4], &[]);
    let cp = checkpoint(&tree);
    let c = carried(&all, &[4]);
    let (r, v, _) = all[4].clone();
    let mut p = proof.clone();
    p.inclusion[0].index = 5;
    assert_eq!(p.verify_inclusion(&cp, &c), Err(bad_inclusion(&r, v, ProofError::RootMismatch)));
    let mut p = proof.clone();
    p.inclusion[0].index = 7;
    assert_eq!(
        p.verify_inclusion(&cp, &c),
        Err(bad_inclusion(&r, v, ProofError::IndexOutOfRange { index: 7, size: 7 }))
    );
    let mut p = proof.clone();
    let mut h = hex::decode(&p.inclusion[0].path[1]).unwrap();
    h[0] ^= 1;
    p.inclusion[0].path[1] = hex::encode(h);
    assert_eq!(p.verify_inclusion(&cp, &c), Err(bad_inclusion(&r, v, ProofError::RootMismatch)));
    let mut p = proof.clone();
    p.inclusion[0].path.pop();
    assert_eq!(p.verify_inclusion(&cp, &c), Err(bad_inclusion(&r, v, ProofError::WrongLength)));
    let mut p = proof.clone();
    p.inclusion[0].path.push(sha(1));
    assert_eq!(p.verify_inclusion(&cp, &c), Err(bad_inclusion(&r, v, ProofError::WrongLength)));
    // Another tree's root of the same size.
    let mut other = all.clone();
    other[0].2 = sha(77);
    assert_eq!(
        proof.verify_inclusion(&checkpoint(&tree_of(&other)), &c),
        Err(bad_inclusion(&r, v, ProofError::RootMismatch))
    );
    proof.verify_inclusion(&cp, &c).unwrap();
}

// ---- check_extends, verify_extends ----

fn consistency(tree: &Tree, from: u64) -> Consistency {
    Consistency {
        from_size: from,
        path: tree.consistency_proof(from).unwrap().iter().map(hex::encode).collect(),
    }
}

#[test]
fn check_extends_refuses_a_shrunk_log() {
    let all = entries(5);
    let (old, new) = (tree_of(&all), tree_of(&all[..3]));
    assert_eq!(
        check_extends((5, &old.root()), &checkpoint(&new), None),
        Err(LogError::Shrunk { old: 5, new: 3 })
    );
}

#[test]
fn check_extends_refuses_two_roots_for_one_size() {
    let all = entries(5);
    let mut fork = all.clone();
    fork[4].2 = sha(50);
    let (a, b) = (tree_of(&all), tree_of(&fork));
    let err = check_extends((5, &a.root()), &checkpoint(&b), None).unwrap_err();
    assert!(
        matches!(&err, LogError::SplitView { old: 5, new: 5, detail } if detail.contains("two different root hashes")),
        "{err:?}"
    );
    // The same tree again is fine, with or without a proof.
    check_extends((5, &a.root()), &checkpoint(&a), None).unwrap();
    check_extends((5, &a.root()), &checkpoint(&a), Some(&Consistency { from_size: 5, path: vec![] }))
        .unwrap();
}

#[test]
fn check_extends_takes_anything_after_the_empty_tree() {
    let tree = tree_of(&entries(4));
    check_extends((0, &[7; 32]), &checkpoint(&tree), None).unwrap();
    check_extends((0, &[7; 32]), &checkpoint(&Tree::new()), None).unwrap();
}

#[test]
fn check_extends_needs_a_consistency_proof_to_grow() {
    let all = entries(6);
    let (old, new) = (tree_of(&all[..3]), tree_of(&all));
    assert_eq!(
        check_extends((3, &old.root()), &checkpoint(&new), None),
        Err(LogError::NoConsistencyProof { old: 3, new: 6 })
    );
    check_extends((3, &old.root()), &checkpoint(&new), Some(&consistency(&new, 3))).unwrap();
}

#[test]
fn check_extends_refuses_a_proof_that_does_not_connect() {
    let all = entries(6);
    let (old, new) = (tree_of(&all[..3]), tree_of(&all));
    let cp = checkpoint(&new);
    let split = |r: Result<(), LogError>| {
        assert!(
            matches!(&r, Err(LogError::SplitView { old: 3, new: 6, detail }) if detail.contains("consistency proof")),
            "{r:?}"
        )
    };
    // A forked history: the tree of 3 seen before is not a prefix of the new one.
    let mut fork = all.clone();
    fork[1].2 = sha(40);
    let forked = tree_of(&fork);
    split(check_extends((3, &old.root()), &checkpoint(&forked), Some(&consistency(&forked, 3))));
    // A tampered proof, an empty one, a proof from another size.
    let mut tampered = consistency(&new, 3);
    tampered.path[0] = sha(1);
    split(check_extends((3, &old.root()), &cp, Some(&tampered)));
    split(check_extends((3, &old.root()), &cp, Some(&Consistency { from_size: 3, path: vec![] })));
    split(check_extends((3, &old.root()), &cp, Some(&consistency(&new, 2))));
}

#[test]
fn verify_extends_uses_the_proof_from_exactly_the_old_size() {
    let all = entries(9);
    let (tree, proof) = proof_for(&all, &[], &[2, 5]);
    let cp = checkpoint(&tree);
    proof.verify_extends((5, &tree.root_at(5).unwrap()), &cp).unwrap();
    proof.verify_extends((2, &tree.root_at(2).unwrap()), &cp).unwrap();
    assert_eq!(
        proof.verify_extends((4, &tree.root_at(4).unwrap()), &cp),
        Err(LogError::NoConsistencyProof { old: 4, new: 9 })
    );
    assert!(matches!(
        proof.verify_extends((5, &tree.root_at(4).unwrap()), &cp),
        Err(LogError::SplitView { old: 5, new: 9, .. })
    ));
    assert_eq!(proof.verify_extends((10, &[0; 32]), &cp), Err(LogError::Shrunk { old: 10, new: 9 }));
}

// ---- checkpoints ----

fn keys(seeds: &[u8], threshold: u64) -> (Vec<[u8; 32]>, u64) {
    (seeds.iter().map(|&s| public(s)).collect(), threshold)
}

fn cp5() -> Checkpoint {
    checkpoint(&tree_of(&entries(5)))
}

fn unsigned(required: u64, found: u64) -> LogError {
    LogError::CheckpointUnsigned { origin: origin(ID), required, found }
}

#[test]
fn checkpoint_by_a_log_key_verifies() {
    let note = signed(&cp5(), &[1]);
    let (cp, got) = verify_checkpoint_with_keys(&note.to_bytes(), &origin(ID), &keys(&[1], 1)).unwrap();
    assert_eq!(cp, cp5());
    assert_eq!(got, note);
}

#[test]
fn checkpoint_without_a_log_signature_is_refused() {
    let bytes = signed(&cp5(), &[2]).to_bytes();
    assert_eq!(verify_checkpoint_with_keys(&bytes, &origin(ID), &keys(&[1], 1)), Err(unsigned(1, 0)));
    // A threshold of 0 still needs one signature.
    assert_eq!(verify_checkpoint_with_keys(&bytes, &origin(ID), &keys(&[1], 0)), Err(unsigned(1, 0)));
    assert_eq!(verify_checkpoint_with_keys(&bytes, &origin(ID), &keys(&[], 0)), Err(unsigned(1, 0)));
    // The log key's signature under another name is not the log's.
    let mut other = SignedNote { text: cp5().to_text(), signatures: Vec::new() };
    other.signatures = sign_note(&other.text, "airlock/other", &signer(1)).unwrap().signatures;
    assert_eq!(
        verify_checkpoint_with_keys(&other.to_bytes(), &origin(ID), &keys(&[1], 1)),
        Err(unsigned(1, 0))
    );
}

#[test]
fn a_bad_signature_by_another_key_is_ignored() {
    let mut note = signed(&cp5(), &[1, 2]);
    note.signatures[1].signature[0] ^= 1;
    // And a line by a key nobody knows, with garbage.
    note.signatures.push(NoteSignature { name: "someone".into(), key_id: 7, signature: vec![1, 2, 3] });
    let (cp, _) = verify_checkpoint_with_keys(&note.to_bytes(), &origin(ID), &keys(&[1], 1)).unwrap();
    assert_eq!(cp, cp5());
}

#[test]
fn a_bad_signature_by_a_log_key_refuses_the_checkpoint() {
    let mut note = signed(&cp5(), &[1, 2]);
    note.signatures[0].signature[0] ^= 1;
    // Key 2's good signature alone would meet the threshold.
    assert_eq!(
        verify_checkpoint_with_keys(&note.to_bytes(), &origin(ID), &keys(&[1, 2], 1)),
        Err(LogError::Checkpoint(NoteError::BadSignature(origin(ID))))
    );
    // A tampered body fails every log signature.
    let good = String::from_utf8(signed(&cp5(), &[1]).to_bytes()).unwrap();
    let tampered = good.replacen("\n5\n", "\n6\n", 1);
    assert_ne!(tampered, good);
    assert_eq!(
        verify_checkpoint_with_keys(tampered.as_bytes(), &origin(ID), &keys(&[1], 1)),
        Err(LogError::Checkpoint(NoteError::BadSignature(origin(ID))))
    );
}

#[test]
fn threshold_two_needs_two_distinct_log_keys() {
    let one = signed(&cp5(), &[1]);
    assert_eq!(
        verify_checkpoint_with_keys(&one.to_bytes(), &origin(ID), &keys(&[1, 2], 2)),
        Err(unsigned(2, 1))
    );
    // The same signature line twice is one key.
    let mut twice = one.clone();
    twice.signatures.push(twice.signatures[0].clone());
    assert_eq!(
        verify_checkpoint_with_keys(&twice.to_bytes(), &origin(ID), &keys(&[1, 2], 2)),
        Err(unsigned(2, 1))
    );
    // One key listed twice is one key.
    assert_eq!(
        verify_checkpoint_with_keys(&one.to_bytes(), &origin(ID), &keys(&[1, 1], 2)),
        Err(unsigned(2, 1))
    );
    let both = signed(&cp5(), &[1, 2]);
    verify_checkpoint_with_keys(&both.to_bytes(), &origin(ID), &keys(&[1, 2], 2)).unwrap();
}

#[test]
fn checkpoint_of_another_log_is_refused() {
    let other = Checkpoint { origin: origin("other"), ..cp5() };
    // Signed under this log's name, but the body names another log.
    let mut note = SignedNote { text: other.to_text(), signatures: Vec::new() };
    note.signatures = sign_note(&note.text, &origin(ID), &signer(1)).unwrap().signatures;
    assert_eq!(
        verify_checkpoint_with_keys(&note.to_bytes(), &origin(ID), &keys(&[1], 1)),
        Err(LogError::Checkpoint(NoteError::WrongOrigin { expected: origin(ID), found: origin("other") }))
    );
}

#[test]
fn malformed_notes_and_bodies_are_refused() {
    assert!(matches!(
        verify_checkpoint_with_keys(b"no signatures\n", &origin(ID), &keys(&[1], 1)),
        Err(LogError::Checkpoint(NoteError::Malformed(_)))
    ));
    let text = format!("{}\n05\nAAAA\n", origin(ID));
    let note = SignedNote {
        text: text.clone(),
        signatures: sign_note(&text, &origin(ID), &signer(1)).unwrap().signatures,
    };
    assert!(matches!(
        verify_checkpoint_with_keys(&note.to_bytes(), &origin(ID), &keys(&[1], 1)),
        Err(LogError::Checkpoint(NoteError::MalformedCheckpoint(_)))
    ));
}

/// A root whose timestamp role lists `seeds` with `threshold`.
fn root(seeds: &[u8], threshold: u64) -> Root {
    let mut keys = BTreeMap::new();
    let mut ids = Vec::new();
    for &s in seeds {
        let pk = signer(s).public_key().clone();
        ids.push(pk.key_id());
        keys.insert(pk.key_id(), pk);
    }
    let role = |keyids: Vec<KeyId>, threshold| RoleKeys {
        keyids,
        threshold,
        retiring: Default::default(),
        extra: Default::default(),
    };
    // Root, targets and snapshot are by key 99, never a log key.
    let offline = signer(99).public_key().clone();
    keys.insert(offline.key_id(), offline.clone());
    Root {
        type_: "root".into(),
        spec_version: "1.0.31".into(),
        consistent_snapshot: Some(true),
        version: 1,
        expires: t("2030-01-01T00:00:00Z"),
        keys,
        roles: [
            ("root", role(vec![offline.key_id()], 1)),
            ("targets", role(vec![offline.key_id()], 1)),
            ("snapshot", role(vec![offline.key_id()], 1)),
            ("timestamp", role(ids, threshold)),
        ]
        .into_iter()
        .map(|(n, r)| (n.to_owned(), r))
        .collect(),
        extra: Default::default(),
    }
}

#[test]
fn log_keys_are_the_timestamp_roles() {
    let r = root(&[1, 2], 2);
    let (mut got, threshold) = log_keys(&r, now());
    got.sort();
    let mut want = vec![public(1), public(2)];
    want.sort();
    assert_eq!((got, threshold), (want, 2));
    // Not the other roles' keys: key 99 signs root, targets and snapshot.
    let bytes = signed(&cp5(), &[99]).to_bytes();
    assert_eq!(verify_checkpoint(&bytes, ID, &root(&[1], 1), now()), Err(unsigned(1, 0)));
    // A root with no timestamp role has no log key.
    let mut none = root(&[1], 1);
    none.roles.remove("timestamp");
    assert_eq!(log_keys(&none, now()), (Vec::new(), 1));
    let bytes = signed(&cp5(), &[1]).to_bytes();
    assert_eq!(verify_checkpoint(&bytes, ID, &none, now()), Err(unsigned(1, 0)));
    // A threshold of 0 is read as 1.
    assert_eq!(log_keys(&root(&[1], 0), now()).1, 1);
}

#[test]
fn verify_checkpoint_checks_the_identitys_origin() {
    let bytes = signed(&cp5(), &[1]).to_bytes();
    let (cp, _) = verify_checkpoint(&bytes, ID, &root(&[1], 1), now()).unwrap();
    assert_eq!(cp, cp5());
    // Another identity's log: its name signs nothing here.
    assert_eq!(
        verify_checkpoint(&bytes, "other", &root(&[1], 1), now()),
        Err(LogError::CheckpointUnsigned { origin: origin("other"), required: 1, found: 0 })
    );
}

#[test]
fn a_retiring_log_key_counts_only_before_its_deadline() {
    let mut r = root(&[1, 2], 1);
    let deadline = t("2026-06-01T00:00:00Z");
    r.roles.get_mut("timestamp").unwrap().retiring.insert(signer(1).key_id(), deadline);
    let by_old = signed(&cp5(), &[1]).to_bytes();
    verify_checkpoint(&by_old, ID, &r, deadline.plus_secs(-1)).unwrap();
    assert_eq!(log_keys(&r, deadline).0, vec![public(2)]);
    assert_eq!(verify_checkpoint(&by_old, ID, &r, deadline), Err(unsigned(1, 0)));
    assert_eq!(verify_checkpoint(&by_old, ID, &r, deadline.plus_secs(1)), Err(unsigned(1, 0)));
    // After the deadline a bad signature by the retired key is no log
    // key's, so it is ignored; the new key's signature counts.
    let mut note = signed(&cp5(), &[1, 2]);
    note.signatures[0].signature[0] ^= 1;
    verify_checkpoint(&note.to_bytes(), ID, &r, deadline.plus_secs(1)).unwrap();
    // Before the deadline it is a log key's, and fails the checkpoint.
    assert_eq!(
        verify_checkpoint(&note.to_bytes(), ID, &r, deadline.plus_secs(-1)),
        Err(LogError::Checkpoint(NoteError::BadSignature(origin(ID))))
    );
}

#[test]
fn one_key_under_two_key_ids_is_one_log_key() {
    // The timestamp role lists key 1 twice: once as created, once with its
    // hex in capitals (another key id, the same key).
    let mut r = root(&[1], 2);
    let pk = signer(1).public_key().clone();
    let mut upper = pk.clone();
    upper.keyval.public = upper.keyval.public.to_uppercase();
    assert_ne!(upper.key_id(), pk.key_id());
    assert_eq!(upper.material_id(), pk.material_id());
    r.keys.insert(upper.key_id(), upper.clone());
    r.roles.get_mut("timestamp").unwrap().keyids.push(upper.key_id());
    let bytes = signed(&cp5(), &[1]).to_bytes();
    assert_eq!(verify_checkpoint(&bytes, ID, &r, now()), Err(unsigned(2, 1)));
    // Also with an arbitrary key id naming an ed25519 key object.
    let mut r = root(&[1], 2);
    r.keys.insert(KeyId("any".into()), PublicKey::ed25519(&public(1)));
    r.roles.get_mut("timestamp").unwrap().keyids.push(KeyId("any".into()));
    assert_eq!(verify_checkpoint(&bytes, ID, &r, now()), Err(unsigned(2, 1)));
}

// ---- merge_signatures ----

#[test]
fn merge_signatures_adds_only_missing_lines_of_the_same_text() {
    let a = signed(&cp5(), &[1]);
    let b = signed(&cp5(), &[2, 1]);
    let merged = merge_signatures(&a, &b).unwrap();
    assert_eq!(merged.text, a.text);
    assert_eq!(merged.signatures, vec![a.signatures[0].clone(), b.signatures[0].clone()]);
    assert_eq!(merge_signatures(&merged, &b).unwrap(), merged);
    assert_eq!(merge_signatures(&a, &a).unwrap(), a);
    let other = signed(&Checkpoint { size: 4, ..cp5() }, &[2]);
    assert_eq!(merge_signatures(&a, &other), None);
}
