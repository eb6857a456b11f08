//! The witness: its directory, its lock, and what it cosigns, refuses and
//! records.

use super::*;
use airlock_core::log::{entry_leaf, origin, sign_note, verify_cosignatures, LogProof, Tree};
use airlock_core::Ed25519Signer;

const NAME: &str = "w1.example";
/// The witness's key.
const WITNESS: u8 = 31;
/// The log's key.
const LOG: u8 = 10;

fn key(seed: u8) -> Ed25519Signer {
    Ed25519Signer::new(ed25519_dalek::SigningKey::from_bytes(&[seed; 32]))
}

fn public(seed: u8) -> [u8; 32] {
    key(seed).signing_key().verifying_key().to_bytes()
}

fn now() -> Timestamp {
    Timestamp::parse("2026-06-01T00:00:00Z").unwrap()
}

fn log_keys() -> (Vec<[u8; 32]>, u64) {
    (vec![public(LOG)], 1)
}

/// A log of `n` leaves; `fork` changes leaf 1 (another history).
fn tree(n: u64, fork: bool) -> Tree {
    let mut t = Tree::new();
    for i in 0..n {
        let n = if fork && i == 1 { 999 } else { i + 1 };
        t.push(&entry_leaf("acme", i + 1, &format!("{n:064x}")));
    }
    t
}

/// The checkpoint of `t`, its note signed by the log, and consistency
/// proofs from `since`.
fn offer(t: &Tree, since: &[u64]) -> (SignedNote, Checkpoint, Vec<Consistency>) {
    let cp = Checkpoint { origin: origin("example"), size: t.size(), root: t.root(), extensions: Vec::new() };
    let note = sign_note(&cp.to_text(), &cp.origin, &key(LOG)).unwrap();
    (note, cp, LogProof::build(t, &[], since).unwrap().consistency)
}

fn witness() -> (tempfile::TempDir, Witness) {
    let tmp = tempfile::tempdir().unwrap();
    Witness::init(tmp.path(), NAME, &public(WITNESS)).unwrap();
    let w = Witness::open(tmp.path()).unwrap();
    (tmp, w)
}

fn cosign_tree(w: &Witness, t: &Tree, since: &[u64], at: Timestamp) -> Result<SignedNote, WitnessError> {
    let (note, cp, consistency) = offer(t, since);
    w.cosign(&note, &cp, &consistency, &log_keys(), &key(WITNESS), at)
}

fn state(w: &Witness) -> LogState {
    w.log(&origin("example")).unwrap().expect("the witness keeps the log")
}

fn verifies(note: &SignedNote) {
    assert_eq!(verify_cosignatures(note, &[(NAME.to_owned(), public(WITNESS))], 1).unwrap(), 1);
}

#[test]
fn init_writes_the_config_and_refuses_bad_names() {
    let (tmp, w) = witness();
    assert_eq!(
        w.config(),
        &WitnessConfig {
            format: WITNESS_FORMAT.into(),
            name: NAME.into(),
            public: hex::encode(public(WITNESS))
        }
    );
    assert!(tmp.path().join(LOGS_DIR).is_dir());
    assert!(w.logs().unwrap().is_empty());
    for bad in ["", "w 1", "w+1", "w\t1", "w1\n"] {
        let d = tempfile::tempdir().unwrap();
        assert!(
            matches!(Witness::init(d.path(), bad, &public(WITNESS)), Err(WitnessError::BadName(n)) if n == bad),
            "{bad:?}"
        );
        assert!(!d.path().join(CONFIG_FILE).exists(), "{bad:?}: nothing written");
        assert!(matches!(Witness::open(d.path()), Err(WitnessError::NotAWitness { .. })));
    }
}

#[test]
fn open_refuses_what_is_not_a_witness() {
    let tmp = tempfile::tempdir().unwrap();
    let err = Witness::open(tmp.path()).unwrap_err();
    assert!(
        matches!(&err, WitnessError::NotAWitness { detail, .. } if detail.contains("airlock witness init"))
    );
    fs::write(tmp.path().join(CONFIG_FILE), "{\"format\":\"other\",\"name\":\"w\",\"public\":\"00\"}")
        .unwrap();
    let err = Witness::open(tmp.path()).unwrap_err();
    assert!(
        matches!(&err, WitnessError::NotAWitness { detail, .. } if detail.contains(WITNESS_FORMAT)),
        "{err}"
    );
    fs::write(
        tmp.path().join(CONFIG_FILE),
        format!("{{\"format\":\"{WITNESS_FORMAT}\",\"name\":\"w 1\",\"public\":\"00\"}}"),
    )
    .unwrap();
    assert!(matches!(Witness::open(tmp.path()), Err(WitnessError::NotAWitness { .. })));
}

#[test]
fn the_lock_refuses_a_second_open() {
    let (tmp, w) = witness();
    let err = Witness::open(tmp.path()).unwrap_err();
    assert!(
        matches!(&err, WitnessError::NotAWitness { detail, .. } if detail.contains("another witness command")),
        "{err}"
    );
    drop(w);
    Witness::open(tmp.path()).unwrap();
}

#[test]
fn cosign_refuses_another_signers_key() {
    let (_tmp, w) = witness();
    let (note, cp, consistency) = offer(&tree(3, false), &[]);
    let err = w.cosign(&note, &cp, &consistency, &log_keys(), &key(32), now()).unwrap_err();
    assert!(
        matches!(&err, WitnessError::WrongKey { expected } if *expected == hex::encode(public(WITNESS))),
        "{err}"
    );
    assert_eq!(w.log(&cp.origin).unwrap(), None, "nothing recorded");
}

#[test]
fn a_first_cosign_records_the_log() {
    let (_tmp, w) = witness();
    let t = tree(3, false);
    let out = cosign_tree(&w, &t, &[], now()).unwrap();
    verifies(&out);
    assert_eq!(out.signatures.len(), 2, "the log's signature and the cosignature");
    let s = state(&w);
    assert_eq!(
        s,
        LogState {
            format: LOG_STATE_FORMAT.into(),
            origin: origin("example"),
            size: 3,
            root: hex::encode(t.root()),
            checkpoint: String::from_utf8(out.to_bytes()).unwrap(),
            log_keys: vec![hex::encode(public(LOG))],
            threshold: 1,
            cosigned_at: now(),
            split_views: Vec::new(),
        }
    );
    assert_eq!(s.keys(), log_keys());
    assert_eq!(w.logs().unwrap(), vec![s]);
    // The same checkpoint again: cosigned again, one cosignature line only.
    let again = cosign_tree(&w, &t, &[], now().plus_secs(60)).unwrap();
    assert_eq!(again.signatures.len(), 2);
    let (note, cp, _) = offer(&t, &[]);
    let twice = w.cosign(&out, &cp, &[], &log_keys(), &key(WITNESS), now().plus_secs(120)).unwrap();
    assert_eq!(twice.signatures.len(), 2, "its own earlier cosignature is replaced");
    assert_eq!(twice.signatures[0], note.signatures[0]);
    verifies(&twice);
}

#[test]
fn a_tree_that_does_not_extend_is_refused_and_recorded_as_a_split_view() {
    let (_tmp, w) = witness();
    cosign_tree(&w, &tree(3, false), &[], now()).unwrap();
    let before = state(&w);
    // A forked log of 5, with a consistency proof of its own from 3.
    let later = now().plus_secs(3600);
    let (note, cp, consistency) = offer(&tree(5, true), &[3]);
    let err = w.cosign(&note, &cp, &consistency, &log_keys(), &key(WITNESS), later).unwrap_err();
    assert!(matches!(&err, WitnessError::Refused(LogError::SplitView { old: 3, new: 5, .. })), "{err}");
    let s = state(&w);
    assert_eq!(
        (s.size, &s.root, &s.checkpoint),
        (3, &before.root, &before.checkpoint),
        "the tree seen stays"
    );
    assert_eq!(s.split_views.len(), 1);
    let sv = &s.split_views[0];
    assert_eq!(sv.at, later);
    assert_eq!((sv.seen_size, &sv.seen_root), (3, &before.root));
    assert_eq!(sv.offered, String::from_utf8(note.to_bytes()).unwrap(), "the log-signed evidence");
    assert_eq!(sv.detail, err.to_string().trim_start_matches("refused to cosign: "));
    // One size, two roots: a second split view, kept after the first.
    let (note, cp, _) = offer(&tree(3, true), &[]);
    let err = w.cosign(&note, &cp, &[], &log_keys(), &key(WITNESS), later).unwrap_err();
    assert!(matches!(&err, WitnessError::Refused(LogError::SplitView { old: 3, new: 3, .. })), "{err}");
    assert_eq!(state(&w).split_views.len(), 2);
}

#[test]
fn a_shrunk_tree_is_refused_and_recorded() {
    let (_tmp, w) = witness();
    cosign_tree(&w, &tree(4, false), &[], now()).unwrap();
    let err = cosign_tree(&w, &tree(2, false), &[], now()).unwrap_err();
    assert!(matches!(&err, WitnessError::Refused(LogError::Shrunk { old: 4, new: 2 })), "{err}");
    let s = state(&w);
    assert_eq!(s.size, 4);
    assert_eq!(s.split_views.len(), 1);
    assert_eq!(s.split_views[0].seen_size, 4);
    assert!(s.split_views[0].offered.starts_with("airlock/example\n2\n"), "{}", s.split_views[0].offered);
}

#[test]
fn growth_without_a_proof_is_refused_but_is_no_split_view() {
    let (_tmp, w) = witness();
    cosign_tree(&w, &tree(3, false), &[], now()).unwrap();
    let before = state(&w);
    // Proofs from other sizes than the one the witness saw.
    let err = cosign_tree(&w, &tree(6, false), &[2, 4], now()).unwrap_err();
    assert!(matches!(&err, WitnessError::Refused(LogError::NoConsistencyProof { old: 3, new: 6 })), "{err}");
    assert_eq!(state(&w), before, "nothing recorded");
}

#[test]
fn growth_with_a_good_proof_is_cosigned_and_recorded() {
    let (_tmp, w) = witness();
    cosign_tree(&w, &tree(3, false), &[], now()).unwrap();
    // A split view first, to see that it is kept.
    cosign_tree(&w, &tree(3, true), &[], now()).unwrap_err();
    let later = now().plus_secs(86_400);
    let t = tree(7, false);
    let out = cosign_tree(&w, &t, &[1, 3, 5], later).unwrap();
    verifies(&out);
    let s = state(&w);
    assert_eq!((s.size, s.root.clone(), s.cosigned_at), (7, hex::encode(t.root()), later));
    assert_eq!(s.checkpoint, String::from_utf8(out.to_bytes()).unwrap());
    assert_eq!(s.split_views.len(), 1, "the earlier split view is kept");
    // And from there on, 7 is the size a proof must start from.
    let err = cosign_tree(&w, &tree(9, false), &[3], later).unwrap_err();
    assert!(matches!(&err, WitnessError::Refused(LogError::NoConsistencyProof { old: 7, new: 9 })), "{err}");
    cosign_tree(&w, &tree(9, false), &[7], later).unwrap();
    assert_eq!(state(&w).size, 9);
}

#[test]
fn a_state_with_a_bad_root_is_refused() {
    let (_tmp, w) = witness();
    cosign_tree(&w, &tree(3, false), &[], now()).unwrap();
    let mut s = state(&w);
    s.root = "zz".into();
    w.save(&s).unwrap();
    let err = cosign_tree(&w, &tree(4, false), &[3], now()).unwrap_err();
    assert!(matches!(&err, WitnessError::NotAWitness { detail, .. } if detail == "bad root"), "{err}");
}
