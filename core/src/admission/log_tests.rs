//! `admit_log`: every refusal from the input that triggers it.

use super::*;
use crate::log::{cosign, entry_leaf, origin, sign_note, Tree};
use crate::time::Timestamp;

const ID: &str = "example";

use crate::keys::testing::ed25519_signer as signer;

fn public_hex(seed: u8) -> String {
    hex::encode(signer(seed).signing_key().verifying_key().to_bytes())
}

fn now() -> Timestamp {
    Timestamp::parse("2026-06-01T00:00:00Z").unwrap()
}

/// A log of `n` leaves; `fork` changes the bytes of leaf 1 (another history).
fn tree(n: u64, fork: bool) -> Tree {
    let mut t = Tree::new();
    for i in 0..n {
        let sha = if fork && i == 1 { format!("{:064x}", 999) } else { format!("{:064x}", i + 1) };
        t.push(&entry_leaf("acme", i + 1, &sha));
    }
    t
}

fn checkpoint_of(t: &Tree, identity: &str) -> Checkpoint {
    Checkpoint { origin: origin(identity), size: t.size(), root: t.root(), extensions: Vec::new() }
}

/// The log's note of `cp`, signed by the index key (seed 10).
fn note_of(cp: &Checkpoint) -> SignedNote {
    sign_note(&cp.to_text(), &cp.origin, &signer(10)).unwrap()
}

/// `note` with witness `name` (key `seed`) cosigning.
fn cosigned(note: &SignedNote, name: &str, seed: u8) -> SignedNote {
    let mut n = note.clone();
    cosign(&mut n, name, &signer(seed), now()).unwrap();
    n
}

/// What a bundle of `t` carries: checkpoint, note, proofs from `since`.
struct Bundle {
    checkpoint: Checkpoint,
    note: SignedNote,
    proof: LogProof,
}

impl Bundle {
    fn of(t: &Tree, since: &[u64]) -> Bundle {
        let checkpoint = checkpoint_of(t, ID);
        let note = note_of(&checkpoint);
        Bundle { checkpoint, note, proof: LogProof::build(t, &[], since).unwrap() }
    }

    fn offered(&self) -> OfferedLog<'_> {
        OfferedLog { checkpoint: &self.checkpoint, note: &self.note, proof: &self.proof }
    }
}

fn policy(text: &str) -> Policy {
    Policy::from_toml(text).unwrap()
}

/// Witnesses w1 (seed 31) and w2 (seed 32), `required` of them.
fn witness_policy(required: u64) -> Policy {
    policy(&format!(
        "required_witnesses = {required}\n\
         [[witness]]\nname = \"w1\"\nkey = \"{}\"\n\
         [[witness]]\nname = \"w2\"\nkey = \"{}\"\n",
        public_hex(31),
        public_hex(32)
    ))
}

fn no_log_policy() -> Policy {
    policy("require_log = false")
}

fn log_required(r: Result<Option<SignedNote>, AdmissionError>, why: &str) {
    match r {
        Err(e @ AdmissionError::LogRequired { .. }) => {
            assert_eq!(e.rule(), "log");
            let AdmissionError::LogRequired { why: got } = e else { unreachable!() };
            assert!(got.contains(why), "{got:?} does not say {why:?}");
        }
        other => panic!("expected LogRequired ({why}), got {other:?}"),
    }
}

// ---- no log in the bundle ----

#[test]
fn no_log_after_a_stored_checkpoint_is_refused() {
    let prior = note_of(&checkpoint_of(&tree(4, false), ID));
    // Even where the policy does not ask for a log.
    log_required(
        admit_log(Some(&prior), None, &[], &no_log_policy()),
        "checkpoint of this repository's log (4 entries)",
    );
    log_required(admit_log(Some(&prior), None, &[], &Policy::default()), "(4 entries)");
}

#[test]
fn no_log_where_witnesses_are_required_is_refused() {
    let p = policy(&format!(
        "require_log = false\nrequired_witnesses = 1\n[[witness]]\nname = \"w1\"\nkey = \"{}\"\n",
        public_hex(31)
    ));
    assert!(!p.require_log());
    log_required(admit_log(None, None, &[], &p), "requires 1 witness cosignature(s)");
}

#[test]
fn no_log_under_the_default_policy_is_refused() {
    log_required(admit_log(None, None, &[], &Policy::default()), "require_log");
    log_required(admit_log(None, None, &[], &policy("")), "require_log");
    log_required(admit_log(None, None, &[], &policy("require_log = true")), "require_log");
}

#[test]
fn no_log_is_admitted_where_none_is_required() {
    assert_eq!(admit_log(None, None, &[], &no_log_policy()), Ok(None));
}

// ---- a log in the bundle ----

#[test]
fn a_first_log_is_stored_as_carried() {
    let b = Bundle::of(&tree(3, false), &[]);
    assert_eq!(admit_log(None, Some(b.offered()), &[], &Policy::default()), Ok(Some(b.note.clone())));
    assert_eq!(admit_log(None, Some(b.offered()), &[], &no_log_policy()), Ok(Some(b.note.clone())));
}

#[test]
fn a_log_that_extends_the_stored_one_is_admitted() {
    let prior = note_of(&checkpoint_of(&tree(3, false), ID));
    let b = Bundle::of(&tree(7, false), &[3]);
    assert_eq!(admit_log(Some(&prior), Some(b.offered()), &[], &Policy::default()), Ok(Some(b.note.clone())));
    // The same checkpoint again.
    let same = Bundle::of(&tree(3, false), &[]);
    assert_eq!(
        admit_log(Some(&prior), Some(same.offered()), &[], &Policy::default()),
        Ok(Some(prior.clone()))
    );
}

#[test]
fn a_log_with_another_origin_is_a_split_view() {
    let prior = note_of(&checkpoint_of(&tree(3, false), "other"));
    let b = Bundle::of(&tree(5, false), &[3]);
    let err = admit_log(Some(&prior), Some(b.offered()), &[], &Policy::default()).unwrap_err();
    assert_eq!(err.rule(), "split-view");
    let AdmissionError::Log(LogError::SplitView { old: 3, new: 5, detail }) = &err else { panic!("{err:?}") };
    assert!(detail.contains("airlock/other") && detail.contains("airlock/example"), "{detail}");
}

#[test]
fn a_log_that_does_not_extend_the_stored_one_is_a_split_view() {
    let prior = note_of(&checkpoint_of(&tree(3, false), ID));
    // A forked history, with a consistency proof of its own.
    let fork = Bundle::of(&tree(6, true), &[3]);
    let err = admit_log(Some(&prior), Some(fork.offered()), &[], &Policy::default()).unwrap_err();
    assert!(matches!(err, AdmissionError::Log(LogError::SplitView { old: 3, new: 6, .. })), "{err:?}");
    assert_eq!(err.rule(), "split-view");
    assert!(err.to_string().starts_with("rule split-view: "), "{err}");
    // One size, two roots.
    let same_size = Bundle::of(&tree(3, true), &[]);
    let err = admit_log(Some(&prior), Some(same_size.offered()), &[], &Policy::default()).unwrap_err();
    assert!(matches!(err, AdmissionError::Log(LogError::SplitView { old: 3, new: 3, .. })), "{err:?}");
    assert_eq!(err.rule(), "split-view");
    // A smaller log.
    let shrunk = Bundle::of(&tree(2, false), &[]);
    let err = admit_log(Some(&prior), Some(shrunk.offered()), &[], &Policy::default()).unwrap_err();
    assert_eq!(err, AdmissionError::Log(LogError::Shrunk { old: 3, new: 2 }));
    assert_eq!(err.rule(), "split-view");
}

#[test]
fn a_larger_log_without_a_proof_from_the_stored_size_is_refused() {
    let prior = note_of(&checkpoint_of(&tree(3, false), ID));
    let b = Bundle::of(&tree(6, false), &[2, 4]);
    let err = admit_log(Some(&prior), Some(b.offered()), &[], &Policy::default()).unwrap_err();
    assert_eq!(err, AdmissionError::Log(LogError::NoConsistencyProof { old: 3, new: 6 }));
    assert_eq!(err.rule(), "log");
}

#[test]
fn a_stored_checkpoint_that_does_not_parse_is_refused() {
    let prior = SignedNote { text: "not a checkpoint\n".into(), signatures: Vec::new() };
    let b = Bundle::of(&tree(3, false), &[]);
    let err = admit_log(Some(&prior), Some(b.offered()), &[], &Policy::default()).unwrap_err();
    assert!(matches!(err, AdmissionError::Log(LogError::Checkpoint(_))), "{err:?}");
}

// ---- cosignatures ----

#[test]
fn a_cosigned_note_of_another_checkpoint_is_refused() {
    let b = Bundle::of(&tree(3, false), &[]);
    let other = cosigned(&note_of(&checkpoint_of(&tree(4, false), ID)), "w1", 31);
    let err = admit_log(None, Some(b.offered()), &[other], &Policy::default()).unwrap_err();
    assert_eq!(err, AdmissionError::CosignedOtherCheckpoint);
    assert_eq!(err.rule(), "log");
    // One good companion does not excuse a bad one.
    let good = cosigned(&b.note, "w1", 31);
    let bad = cosigned(&note_of(&checkpoint_of(&tree(3, true), ID)), "w2", 32);
    assert_eq!(
        admit_log(None, Some(b.offered()), &[good, bad], &witness_policy(1)),
        Err(AdmissionError::CosignedOtherCheckpoint)
    );
}

fn witnesses_refused(r: Result<Option<SignedNote>, AdmissionError>, found: usize, required: usize) {
    let err = r.unwrap_err();
    assert_eq!(err.rule(), "policy");
    let AdmissionError::Policy(refusal) = &err else { panic!("{err:?}") };
    assert_eq!(refusal.rule, "required_witnesses");
    assert_eq!(refusal.target, None);
    assert!(
        refusal.detail.contains(&format!("{found} of the required {required} witness cosignatures")),
        "{}",
        refusal.detail
    );
}

#[test]
fn too_few_witness_cosignatures_are_refused() {
    let b = Bundle::of(&tree(3, false), &[]);
    witnesses_refused(admit_log(None, Some(b.offered()), &[], &witness_policy(1)), 0, 1);
    // A cosignature by a witness the policy does not list does not count.
    let by_stranger = cosigned(&b.note, "w9", 39);
    witnesses_refused(admit_log(None, Some(b.offered()), &[by_stranger], &witness_policy(1)), 0, 1);
    // Nor one under a listed name by another key.
    let wrong_key = cosigned(&b.note, "w1", 39);
    witnesses_refused(admit_log(None, Some(b.offered()), &[wrong_key], &witness_policy(1)), 0, 1);
    // Two of one witness are one.
    let w1 = cosigned(&b.note, "w1", 31);
    let mut later = b.note.clone();
    cosign(&mut later, "w1", &signer(31), now().plus_secs(60)).unwrap();
    witnesses_refused(admit_log(None, Some(b.offered()), &[w1, later], &witness_policy(2)), 1, 2);
}

#[test]
fn witnesses_count_on_the_bundle_note_and_the_companion_notes() {
    let t = tree(3, false);
    let mut b = Bundle::of(&t, &[]);
    let plain = b.note.clone();
    b.note = cosigned(&plain, "w1", 31);
    // The bundle's own cosignature alone: one of two.
    witnesses_refused(admit_log(None, Some(b.offered()), &[], &witness_policy(2)), 1, 2);
    assert_eq!(admit_log(None, Some(b.offered()), &[], &witness_policy(1)), Ok(Some(b.note.clone())));
    // A companion note adds the second.
    let w2 = cosigned(&plain, "w2", 32);
    let stored =
        admit_log(None, Some(b.offered()), std::slice::from_ref(&w2), &witness_policy(2)).unwrap().unwrap();
    assert_eq!(stored.text, plain.text);
    assert_eq!(stored.signatures.len(), 3, "log signature, w1 and w2");
    assert_eq!(stored.signatures[..2], b.note.signatures[..]);
    assert_eq!(stored.signatures[2], w2.signatures[1]);
    // Both from companions, none in the bundle.
    let plain_bundle = Bundle::of(&t, &[]);
    let w1 = cosigned(&plain, "w1", 31);
    let stored = admit_log(None, Some(plain_bundle.offered()), &[w1, w2.clone()], &witness_policy(2))
        .unwrap()
        .unwrap();
    assert_eq!(stored.signatures.len(), 3);
    // A companion that repeats the bundle's cosignature adds nothing.
    witnesses_refused(
        admit_log(None, Some(b.offered()), std::slice::from_ref(&b.note), &witness_policy(2)),
        1,
        2,
    );
}

#[test]
fn a_bad_cosignature_by_a_listed_witness_is_refused() {
    let b = Bundle::of(&tree(3, false), &[]);
    let mut forged = cosigned(&b.note, "w1", 31);
    let last = forged.signatures.len() - 1;
    forged.signatures[last].signature[20] ^= 1;
    let err = admit_log(None, Some(b.offered()), &[forged, cosigned(&b.note, "w2", 32)], &witness_policy(1))
        .unwrap_err();
    let AdmissionError::Policy(refusal) = &err else { panic!("{err:?}") };
    assert_eq!(refusal.rule, "required_witnesses");
    assert!(refusal.detail.contains("signature by w1 does not verify"), "{}", refusal.detail);
}
