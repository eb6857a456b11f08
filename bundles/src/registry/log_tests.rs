//! `REG/log/`: reading, appending, proving, and every refusal of a log
//! whose files are not what the registry wrote.

use super::*;
use crate::registry::Registry;
use airlock_core::log::{verify_checkpoint_with_keys, verify_note, Checkpoint, SignedNote};
use airlock_core::metadata::Targets;
use airlock_core::{Ed25519Signer, Metadata, Timestamp};
use airlock_keyceremony::rotation::{initial_root, InitialRoot};

const ID: &str = "example";

fn key(seed: u8) -> Ed25519Signer {
    Ed25519Signer::new(ed25519_dalek::SigningKey::from_bytes(&[seed; 32]))
}

fn public(seed: u8) -> [u8; 32] {
    key(seed).signing_key().verifying_key().to_bytes()
}

fn now() -> Timestamp {
    Timestamp::parse("2026-06-01T00:00:00Z").unwrap()
}

fn sha(n: u64) -> String {
    format!("{n:064x}")
}

fn entry(role: &str, version: u64, n: u64) -> LogEntry {
    LogEntry { role: role.into(), version, sha256: sha(n) }
}

fn leaves_path(reg: &Path) -> PathBuf {
    reg.join(LOG_DIR).join(LEAVES_FILE)
}

fn history_path(reg: &Path) -> PathBuf {
    reg.join(LOG_DIR).join(HISTORY_FILE)
}

/// A temporary registry directory with the log holding `entries` after
/// snapshot 1.
fn logged(entries: Vec<LogEntry>) -> (tempfile::TempDir, RegistryLog) {
    let tmp = tempfile::tempdir().unwrap();
    let mut log = RegistryLog::open(tmp.path()).unwrap();
    log.sync(ID, entries, 1, &key(10)).unwrap();
    (tmp, log)
}

fn write_leaves(reg: &Path, text: &[u8]) {
    fs::create_dir_all(reg.join(LOG_DIR)).unwrap();
    fs::write(leaves_path(reg), text).unwrap();
}

fn corrupt_at(r: Result<RegistryLog, RegistryError>, file: &Path, says: &str) {
    match r {
        Err(RegistryError::Corrupt { path, detail }) => {
            assert_eq!(path, file);
            assert!(detail.contains(says), "{detail:?} does not say {says:?}");
        }
        other => panic!("expected Corrupt ({says}), got {other:?}"),
    }
}

/// The checkpoint note on disk, verified with the index key (seed 10).
fn checkpoint_on_disk(log: &RegistryLog) -> Checkpoint {
    let bytes = log.checkpoint_bytes().unwrap().expect("a checkpoint");
    verify_checkpoint_with_keys(&bytes, &origin(ID), &(vec![public(10)], 1)).unwrap().0
}

#[test]
fn an_absent_log_is_empty() {
    let tmp = tempfile::tempdir().unwrap();
    let log = RegistryLog::open(tmp.path()).unwrap();
    assert!(log.entries().is_empty());
    assert_eq!(log.tree().size(), 0);
    assert_eq!(log.checkpoint_bytes().unwrap(), None);
    assert_eq!(log.index_of("root", 1), None);
    assert_eq!(log.size_at_snapshot(1), None);
    assert!(log.recent_sizes(64).is_empty());
    // Opening writes nothing.
    assert!(!tmp.path().join(LOG_DIR).exists());
}

#[test]
fn sync_appends_leaves_signs_a_checkpoint_and_records_history() {
    let (tmp, log) = logged(vec![entry("root", 1, 1), entry("targets", 1, 2), entry("acme", 1, 3)]);
    assert_eq!(
        fs::read_to_string(leaves_path(tmp.path())).unwrap(),
        format!("root 1 {}\ntargets 1 {}\nacme 1 {}\n", sha(1), sha(2), sha(3))
    );
    assert_eq!(
        fs::read_to_string(history_path(tmp.path())).unwrap(),
        "{\"snapshot_version\":1,\"size\":3}\n"
    );
    let cp = checkpoint_on_disk(&log);
    assert_eq!((cp.size, cp.root), (3, log.tree().root()));
    assert_eq!(log.index_of("acme", 1), Some(2));
    // What is on disk reads back as the same log.
    let again = RegistryLog::open(tmp.path()).unwrap();
    assert_eq!(again.entries(), log.entries());
    assert_eq!(again.tree().root(), log.tree().root());
    assert_eq!(again.size_at_snapshot(1), Some(3));
    let mut tree = Tree::new();
    for (r, v, s) in [("root", 1, 1), ("targets", 1, 2), ("acme", 1, 3)] {
        tree.push(&entry_leaf(r, v, &sha(s)));
    }
    assert_eq!(again.tree().root(), tree.root());
}

#[test]
fn sync_of_what_is_logged_adds_nothing_and_keeps_the_checkpoint() {
    let (tmp, mut log) = logged(vec![entry("root", 1, 1), entry("targets", 1, 2)]);
    let cp_before = log.checkpoint_bytes().unwrap().unwrap();
    let leaves_before = fs::read(leaves_path(tmp.path())).unwrap();
    log.sync(ID, vec![entry("root", 1, 1), entry("targets", 1, 2)], 1, &key(10)).unwrap();
    assert_eq!(fs::read(leaves_path(tmp.path())).unwrap(), leaves_before);
    assert_eq!(log.checkpoint_bytes().unwrap().unwrap(), cp_before);
    // One record per snapshot version and size.
    assert_eq!(fs::read_to_string(history_path(tmp.path())).unwrap().lines().count(), 1);
    // A checkpoint gone is signed again.
    fs::remove_file(tmp.path().join(LOG_DIR).join(CHECKPOINT_FILE)).unwrap();
    log.sync(ID, vec![], 2, &key(10)).unwrap();
    assert_eq!(checkpoint_on_disk(&log).size, 2);
    assert_eq!(log.size_at_snapshot(2), Some(2));
}

#[test]
fn sync_refuses_other_bytes_for_a_logged_version() {
    let (tmp, mut log) = logged(vec![entry("acme", 1, 1)]);
    let err = log.sync(ID, vec![entry("acme", 1, 9)], 2, &key(10)).unwrap_err();
    let RegistryError::Corrupt { path, detail } = err else { panic!("{err:?}") };
    assert_eq!(path, tmp.path().join(LOG_DIR));
    assert!(detail.contains("acme version 1 on disk differs"), "{detail}");
    assert_eq!(RegistryLog::open(tmp.path()).unwrap().entries(), [entry("acme", 1, 1)]);
}

#[test]
fn a_torn_last_line_is_ignored_then_cut_off_by_the_next_append() {
    let tmp = tempfile::tempdir().unwrap();
    let good = format!("root 1 {}\nacme 1 {}\n", sha(1), sha(2));
    // A crash cut the third line short (it would not even parse).
    write_leaves(tmp.path(), format!("{good}acme 2 {}", &sha(3)[..10]).as_bytes());
    fs::write(history_path(tmp.path()), "{\"snapshot_version\":1,\"size\":2}\n{\"snapshot_ver").unwrap();
    let mut log = RegistryLog::open(tmp.path()).unwrap();
    assert_eq!(log.entries(), [entry("root", 1, 1), entry("acme", 1, 2)]);
    assert_eq!(log.size_at_snapshot(1), Some(2));
    log.sync(ID, vec![entry("acme", 2, 3)], 2, &key(10)).unwrap();
    assert_eq!(fs::read_to_string(leaves_path(tmp.path())).unwrap(), format!("{good}acme 2 {}\n", sha(3)));
    assert_eq!(
        fs::read_to_string(history_path(tmp.path())).unwrap(),
        "{\"snapshot_version\":1,\"size\":2}\n{\"snapshot_version\":2,\"size\":3}\n"
    );
    let again = RegistryLog::open(tmp.path()).unwrap();
    assert_eq!(again.entries(), [entry("root", 1, 1), entry("acme", 1, 2), entry("acme", 2, 3)]);
    // A file that is one torn line is an empty log.
    write_leaves(tmp.path(), b"root 1 abc");
    assert!(RegistryLog::open(tmp.path()).unwrap().entries().is_empty());
}

#[test]
fn a_malformed_leaf_line_is_corrupt() {
    let tmp = tempfile::tempdir().unwrap();
    let first = format!("root 1 {}\n", sha(1));
    let bad_lines = [
        format!("acme 1 {}", &sha(2)[..63]),
        format!("acme 1 {}0", sha(2)),
        format!("acme 1 {}", sha(2).replace('0', "A")),
        format!("acme 1 {}", sha(2).replace('0', "g")),
        format!("acme 0 {}", sha(2)),
        format!("acme 01 {}", sha(2)),
        format!("acme x {}", sha(2)),
        format!("acme -1 {}", sha(2)),
        format!("acme 99999999999999999999 {}", sha(2)),
        format!("Acme 1 {}", sha(2)),
        format!("ac/me 1 {}", sha(2)),
        format!(" 1 {}", sha(2)),
        format!("acme 1 {} extra", sha(2)),
        format!("acme  1 {}", sha(2)),
        "acme 1".to_owned(),
        String::new(),
    ];
    for bad in bad_lines {
        write_leaves(tmp.path(), format!("{first}{bad}\n").as_bytes());
        corrupt_at(RegistryLog::open(tmp.path()), &leaves_path(tmp.path()), "line 2");
    }
    write_leaves(tmp.path(), b"root 1 \xff\n");
    corrupt_at(RegistryLog::open(tmp.path()), &leaves_path(tmp.path()), "not UTF-8");
}

#[test]
fn a_role_version_logged_twice_is_corrupt() {
    let tmp = tempfile::tempdir().unwrap();
    write_leaves(tmp.path(), format!("acme 1 {}\nroot 1 {}\nacme 1 {}\n", sha(1), sha(2), sha(3)).as_bytes());
    corrupt_at(
        RegistryLog::open(tmp.path()),
        &leaves_path(tmp.path()),
        "line 3: acme version 1 is logged twice",
    );
    // Even with the same bytes.
    write_leaves(tmp.path(), format!("acme 1 {}\nacme 1 {}\n", sha(1), sha(1)).as_bytes());
    corrupt_at(RegistryLog::open(tmp.path()), &leaves_path(tmp.path()), "logged twice");
}

#[test]
fn a_malformed_history_line_is_corrupt() {
    let (tmp, _) = logged(vec![entry("root", 1, 1)]);
    for bad in
        [&b"not json\n"[..], b"{\"snapshot_version\":1,\"size\":1,\"x\":2}\n", b"{\"size\":1}\n", b"\xff\n"]
    {
        fs::write(history_path(tmp.path()), bad).unwrap();
        corrupt_at(RegistryLog::open(tmp.path()), &history_path(tmp.path()), "");
    }
}

#[test]
fn prove_refuses_role_versions_not_logged_or_logged_with_other_bytes() {
    let (tmp, log) = logged(vec![entry("root", 1, 1), entry("acme", 1, 2), entry("acme", 2, 3)]);
    let err = log.prove(&[("acme".into(), 3, sha(4))], &[]).unwrap_err();
    let RegistryError::Corrupt { path, detail } = &err else { panic!("{err:?}") };
    assert_eq!(path, &tmp.path().join(LOG_DIR));
    assert!(detail.contains("acme version 3 is not in the log"), "{detail}");
    let err = log.prove(&[("acme".into(), 1, sha(2)), ("acme".into(), 2, sha(9))], &[]).unwrap_err();
    let RegistryError::Corrupt { detail, .. } = &err else { panic!("{err:?}") };
    assert!(detail.contains("other bytes for acme version 2"), "{detail}");
    // What is logged proves, against the checkpoint on disk.
    let carried = vec![("acme".to_owned(), 2, sha(3)), ("root".to_owned(), 1, sha(1))];
    let proof = log.prove(&carried, &[1, 3]).unwrap();
    let cp = checkpoint_on_disk(&log);
    proof.verify_inclusion(&cp, &carried).unwrap();
    proof.verify_extends((1, &log.tree().root_at(1).unwrap()), &cp).unwrap();
    assert_eq!(proof.consistency.len(), 1, "none from the current size");
}

#[test]
fn recent_sizes_are_distinct_newest_first_and_below_the_current_size() {
    let tmp = tempfile::tempdir().unwrap();
    let mut log = RegistryLog::open(tmp.path()).unwrap();
    let signer = key(10);
    log.sync(ID, vec![entry("root", 1, 1)], 1, &signer).unwrap();
    log.sync(ID, vec![entry("acme", 1, 2), entry("acme", 2, 3)], 2, &signer).unwrap();
    log.sync(ID, vec![], 3, &signer).unwrap();
    log.sync(ID, vec![entry("acme", 3, 4), entry("acme", 4, 5)], 4, &signer).unwrap();
    log.sync(ID, vec![], 5, &signer).unwrap();
    assert_eq!(log.tree().size(), 5);
    assert_eq!(log.recent_sizes(64), [3, 1]);
    assert_eq!(log.recent_sizes(1), [3]);
    assert_eq!(log.recent_sizes(0), Vec::<u64>::new().as_slice(), "asks for none, gets none");
    for (snapshot, size) in [(1, Some(1)), (2, Some(3)), (3, Some(3)), (4, Some(5)), (5, Some(5)), (6, None)]
    {
        assert_eq!(log.size_at_snapshot(snapshot), size, "snapshot {snapshot}");
    }
    let again = RegistryLog::open(tmp.path()).unwrap();
    let history: Vec<(u64, u64)> = fs::read_to_string(history_path(tmp.path()))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<HistoryRecord>(l).unwrap())
        .map(|h| (h.snapshot_version, h.size))
        .collect();
    assert_eq!(history, [(1, 1), (2, 3), (3, 3), (4, 5), (5, 5)]);
    assert_eq!(again.recent_sizes(64), [3, 1]);
    // A snapshot version published again at a larger size: the newest record counts.
    log.sync(ID, vec![entry("acme", 5, 6)], 5, &signer).unwrap();
    assert_eq!(log.size_at_snapshot(5), Some(6));
    assert_eq!(log.recent_sizes(64), [5, 3, 1]);
}

#[test]
fn a_new_registry_logs_its_first_root_and_targets() {
    let tmp = tempfile::tempdir().unwrap();
    let custodians = [key(1), key(2)];
    let index = key(10);
    let init = InitialRoot {
        registry: ID.into(),
        custodians: custodians
            .iter()
            .enumerate()
            .map(|(i, k)| (format!("c{i}"), k.public_key().clone()))
            .collect(),
        threshold: 2,
        index_key: index.public_key().clone(),
        expiry_days: Default::default(),
        rehearsal: false,
    };
    let mut root = Metadata::new(initial_root(&init, now()).unwrap()).unwrap();
    let mut targets = Metadata::new(Targets::new(1, now().plus_secs(365 * 86_400))).unwrap();
    for c in &custodians {
        root.sign(c).unwrap();
        targets.sign(c).unwrap();
    }
    let reg = tmp.path().join("reg");
    Registry::init(
        &reg,
        vec![(tmp.path().join("1.root.json"), root.to_bytes())],
        (tmp.path().join("1.targets.json"), targets.to_bytes()),
        &index,
        now(),
    )
    .unwrap();
    let log = RegistryLog::open(&reg).unwrap();
    let md = reg.join(METADATA_DIR);
    assert_eq!(
        log.entries(),
        [
            LogEntry {
                role: "root".into(),
                version: 1,
                sha256: sha256_hex(&fs::read(md.join("1.root.json")).unwrap())
            },
            LogEntry {
                role: "targets".into(),
                version: 1,
                sha256: sha256_hex(&fs::read(md.join("1.targets.json")).unwrap())
            },
        ]
    );
    assert_eq!(log.size_at_snapshot(1), Some(2));
    // The checkpoint is signed by the index key under the registry's origin.
    let note = SignedNote::parse(&log.checkpoint_bytes().unwrap().unwrap()).unwrap();
    let cp = Checkpoint::parse(&note.text).unwrap();
    assert!(cp.origin.starts_with("airlock/"), "{}", cp.origin);
    assert_eq!((cp.size, cp.root), (2, log.tree().root()));
    verify_note(&note, &cp.origin, &public(10)).unwrap();
}
