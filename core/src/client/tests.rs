//! Client workflow tests over an in-memory repository.

use super::*;
use crate::keys::Signer;
use crate::metadata::{DelegatedRole, Delegations, RoleKeys, TOP_LEVEL_ROLES};

use crate::keys::testing::ed25519_signer as signer;

use crate::time::testing::t;

const NOW: &str = "2026-06-01T00:00:00Z";
const FAR: &str = "2030-01-01T00:00:00Z";
const ROOT_KEY: u8 = 1;
const INDEX_KEY: u8 = 2;
const PUB_A: u8 = 3;
const PUB_B: u8 = 4;

fn sign<R: Role>(r: R, seeds: &[u8]) -> Vec<u8> {
    let mut md = Metadata::new(r).unwrap();
    for &s in seeds {
        md.sign(&signer(s)).unwrap();
    }
    md.to_bytes()
}

fn root(version: u64, index: u8, expires: &str) -> Root {
    let mut keys = BTreeMap::new();
    for s in [ROOT_KEY, index] {
        keys.insert(signer(s).key_id(), signer(s).public_key().clone());
    }
    let role = |s: u8| RoleKeys {
        keyids: vec![signer(s).key_id()],
        threshold: 1,
        retiring: Default::default(),
        extra: Default::default(),
    };
    Root {
        type_: "root".into(),
        spec_version: "1.0.31".into(),
        consistent_snapshot: Some(true),
        version,
        expires: t(expires),
        keys,
        roles: TOP_LEVEL_ROLES
            .iter()
            .map(|n| (n.to_string(), role(if *n == "root" { ROOT_KEY } else { index })))
            .collect(),
        extra: Default::default(),
    }
}

fn delegation(name: &str, seed: u8, paths: &[&str], terminating: bool) -> DelegatedRole {
    DelegatedRole {
        name: name.into(),
        keyids: vec![signer(seed).key_id()],
        threshold: 1,
        terminating,
        paths: Some(paths.iter().map(|s| s.to_string()).collect()),
        path_hash_prefixes: None,
        extra: Default::default(),
    }
}

fn target(bytes: &[u8]) -> TargetFile {
    TargetFile {
        length: bytes.len() as u64,
        hashes: [("sha256".to_owned(), sha256_hex(bytes))].into_iter().collect(),
        custom: None,
        extra: Default::default(),
    }
}

/// A repository: root v1, top-level targets delegating `acme/*` to A
/// (terminating) and `*/*` to B, with A signing `acme/tool` and B `other/x`.
struct Repo {
    files: BTreeMap<String, Vec<u8>>,
    version: u64,
    roles: BTreeMap<String, Vec<u8>>,
    role_versions: BTreeMap<String, u64>,
}

impl Repo {
    fn new() -> Self {
        let mut r = Repo {
            files: BTreeMap::new(),
            version: 0,
            roles: BTreeMap::new(),
            role_versions: BTreeMap::new(),
        };
        r.files.insert("1.root.json".into(), sign(root(1, INDEX_KEY, FAR), &[ROOT_KEY]));
        let mut top = Targets::new(1, t(FAR));
        let keys =
            [PUB_A, PUB_B].iter().map(|&s| (signer(s).key_id(), signer(s).public_key().clone())).collect();
        top.delegations = Some(Delegations {
            keys,
            roles: vec![delegation("a", PUB_A, &["acme/*"], true), delegation("b", PUB_B, &["*/*"], false)],
            extra: Default::default(),
        });
        r.put_role("targets", top, &[INDEX_KEY]);
        let mut a = Targets::new(1, t(FAR));
        a.targets.insert("acme/tool".into(), target(b"tool"));
        r.put_role("a", a, &[PUB_A]);
        let mut b = Targets::new(1, t(FAR));
        b.targets.insert("other/x".into(), target(b"x"));
        b.targets.insert("acme/shadow".into(), target(b"shadow"));
        r.put_role("b", b, &[PUB_B]);
        r.publish(t(FAR), t(FAR));
        r
    }

    fn put_role(&mut self, name: &str, md: Targets, seeds: &[u8]) {
        let v = md.version;
        let bytes = sign(md, seeds);
        self.files.insert(format!("{v}.{name}.json"), bytes.clone());
        self.roles.insert(name.into(), bytes);
        self.role_versions.insert(name.into(), v);
    }

    fn publish(&mut self, snap_expires: Timestamp, ts_expires: Timestamp) {
        self.version += 1;
        let meta = self
            .roles
            .iter()
            .map(|(n, b)| (format!("{n}.json"), meta_file_for(b, self.role_versions[n])))
            .collect();
        let snap = sign(Snapshot::new(self.version, snap_expires, meta), &[INDEX_KEY]);
        self.files.insert(format!("{}.snapshot.json", self.version), snap.clone());
        let ts = sign(
            TimestampRole::new(self.version, ts_expires, meta_file_for(&snap, self.version)),
            &[INDEX_KEY],
        );
        self.files.insert("timestamp.json".into(), ts);
    }

    fn root1(&self) -> Vec<u8> {
        self.files["1.root.json"].clone()
    }
}

fn refresh(files: &mut BTreeMap<String, Vec<u8>>, root: &[u8], now: &str) -> Result<Trusted, UpdateError> {
    let mut c = Client::new(root, files, t(now), Limits::default())?;
    c.refresh()?;
    Ok(c.into_trusted())
}

#[test]
fn full_update_and_delegation_search() {
    let mut repo = Repo::new();
    let root = repo.root1();
    let mut c = Client::new(&root, &mut repo.files, t(NOW), Limits::default()).unwrap();
    c.refresh().unwrap();
    assert_eq!(c.target_info("acme/tool").unwrap().unwrap().role, "a");
    assert_eq!(c.target_info("other/x").unwrap().unwrap().role, "b");
    // `a` is terminating for acme/*, so b's claim on acme/shadow is never consulted.
    assert_eq!(c.target_info("acme/shadow").unwrap(), None);
    assert_eq!(c.target_info("nowhere").unwrap(), None);
}

#[test]
fn timestamp_rollback_refused() {
    let mut repo = Repo::new();
    let old_ts = repo.files["timestamp.json"].clone();
    repo.publish(t(FAR), t(FAR));
    let trusted = refresh(&mut repo.files.clone(), &repo.root1(), NOW).unwrap();
    let mut files = repo.files.clone();
    files.insert("timestamp.json".into(), old_ts);
    let root = repo.root1();
    let mut c = Client::new(&root, &mut files, t(NOW), Limits::default())
        .unwrap()
        .with_previous(Some(&trusted.timestamp.unwrap().bytes), None);
    assert_eq!(
        c.refresh().unwrap_err(),
        UpdateError::Rollback { role: "timestamp".into(), trusted: 2, found: 1 }
    );
}

#[test]
fn expired_timestamp_and_snapshot_refused() {
    let mut repo = Repo::new();
    repo.publish(t(FAR), t("2026-01-01T00:00:00Z"));
    assert!(
        matches!(refresh(&mut repo.files.clone(), &repo.root1(), NOW), Err(UpdateError::Expired { role, .. }) if role == "timestamp")
    );
    repo.publish(t("2026-01-01T00:00:00Z"), t(FAR));
    assert!(
        matches!(refresh(&mut repo.files.clone(), &repo.root1(), NOW), Err(UpdateError::Expired { role, .. }) if role == "snapshot")
    );
}

#[test]
fn snapshot_hash_mismatch_refused() {
    let mut repo = Repo::new();
    let name = "1.snapshot.json".to_string();
    let mut bytes = repo.files[&name].clone();
    let n = bytes.len();
    bytes[n - 2] = b' ';
    repo.files.insert(name, bytes);
    assert!(matches!(
        refresh(&mut repo.files.clone(), &repo.root1(), NOW),
        Err(UpdateError::HashMismatch { .. })
    ));
}

#[test]
fn targets_signed_by_wrong_key_refused() {
    let mut repo = Repo::new();
    repo.put_role("targets", Targets::new(2, t(FAR)), &[PUB_A]);
    repo.publish(t(FAR), t(FAR));
    assert!(matches!(
        refresh(&mut repo.files.clone(), &repo.root1(), NOW),
        Err(UpdateError::Threshold { .. })
    ));
}

#[test]
fn delegated_role_signed_by_other_publisher_refused() {
    let mut repo = Repo::new();
    let mut a = Targets::new(2, t(FAR));
    a.targets.insert("acme/evil".into(), target(b"evil"));
    repo.put_role("a", a, &[PUB_B]);
    repo.publish(t(FAR), t(FAR));
    let root = repo.root1();
    let mut c = Client::new(&root, &mut repo.files, t(NOW), Limits::default()).unwrap();
    c.refresh().unwrap();
    assert!(matches!(c.target_info("acme/evil"), Err(UpdateError::Threshold { .. })));
}

#[test]
fn targets_version_must_match_snapshot() {
    let mut repo = Repo::new();
    // Snapshot says targets v1 but the file under that name claims v5.
    let mut top = Targets::new(5, t(FAR));
    top.delegations = None;
    let bytes = sign(top, &[INDEX_KEY]);
    repo.files.insert("1.targets.json".into(), bytes.clone());
    repo.roles.insert("targets".into(), bytes);
    repo.publish(t(FAR), t(FAR));
    assert!(matches!(
        refresh(&mut repo.files.clone(), &repo.root1(), NOW),
        Err(UpdateError::VersionMismatch { expected: 1, found: 5, .. })
    ));
}

#[test]
fn snapshot_rollback_of_a_role_refused() {
    let mut repo = Repo::new();
    let mut a = Targets::new(2, t(FAR));
    a.targets.insert("acme/tool".into(), target(b"tool2"));
    repo.put_role("a", a, &[PUB_A]);
    repo.publish(t(FAR), t(FAR));
    let trusted = refresh(&mut repo.files.clone(), &repo.root1(), NOW).unwrap();
    // A later snapshot that points `a` back at version 1.
    repo.role_versions.insert("a".into(), 1);
    let a1 = repo.files["1.a.json"].clone();
    repo.roles.insert("a".into(), a1);
    repo.publish(t(FAR), t(FAR));
    let root = repo.root1();
    let mut c = Client::new(&root, &mut repo.files, t(NOW), Limits::default()).unwrap().with_previous(
        Some(&trusted.timestamp.as_ref().unwrap().bytes),
        Some(&trusted.snapshot.as_ref().unwrap().bytes),
    );
    assert_eq!(
        c.refresh().unwrap_err(),
        UpdateError::Rollback { role: "a.json".into(), trusted: 2, found: 1 }
    );
}

#[test]
fn root_rotation_and_fast_forward_recovery() {
    let mut repo = Repo::new();
    // Pretend a leaked index key fast-forwarded the timestamp to version 99.
    let ff =
        sign(TimestampRole::new(99, t(FAR), meta_file_for(&repo.files["1.snapshot.json"], 1)), &[INDEX_KEY]);
    // The custodians rotate the index key to 9 in root v2.
    repo.files.insert("2.root.json".into(), sign(root(2, 9, FAR), &[ROOT_KEY]));
    let mut files = repo.files.clone();
    let meta = repo
        .roles
        .iter()
        .map(|(n, b)| (format!("{n}.json"), meta_file_for(b, repo.role_versions[n])))
        .collect();
    // Re-sign top-level targets with the new key so targets verifies too.
    let mut top: Metadata<Targets> = Metadata::from_bytes(&repo.roles["targets"]).unwrap();
    top.remove_signature(&signer(INDEX_KEY).key_id());
    top.sign(&signer(9)).unwrap();
    files.insert("1.targets.json".into(), top.to_bytes());
    let mut meta: BTreeMap<String, MetaFile> = meta;
    meta.insert("targets.json".into(), meta_file_for(&top.to_bytes(), 1));
    let snap = sign(Snapshot::new(2, t(FAR), meta), &[9]);
    files.insert("2.snapshot.json".into(), snap.clone());
    files.insert("timestamp.json".into(), sign(TimestampRole::new(1, t(FAR), meta_file_for(&snap, 2)), &[9]));
    let root1 = repo.root1();
    let mut c =
        Client::new(&root1, &mut files, t(NOW), Limits::default()).unwrap().with_previous(Some(&ff), None);
    c.refresh().unwrap();
    assert_eq!(c.trusted().root.signed().version, 2);
    assert_eq!(c.trusted().timestamp.as_ref().unwrap().signed().version, 1);
}

#[test]
fn unsafe_role_names_refused() {
    let mut repo = Repo::new();
    let mut top = Targets::new(2, t(FAR));
    top.delegations = Some(Delegations {
        keys: [(signer(PUB_A).key_id(), signer(PUB_A).public_key().clone())].into_iter().collect(),
        roles: vec![delegation("../evil", PUB_A, &["*"], false)],
        extra: Default::default(),
    });
    repo.put_role("targets", top, &[INDEX_KEY]);
    repo.publish(t(FAR), t(FAR));
    let root = repo.root1();
    let mut c = Client::new(&root, &mut repo.files, t(NOW), Limits::default()).unwrap();
    c.refresh().unwrap();
    assert_eq!(c.target_info("x").unwrap_err(), UpdateError::UnsafeRoleName("../evil".into()));
}

#[test]
fn endless_data_is_capped() {
    let mut repo = Repo::new();
    repo.files.insert("timestamp.json".into(), vec![b' '; 20_000]);
    assert!(matches!(
        refresh(&mut repo.files.clone(), &repo.root1(), NOW),
        Err(UpdateError::Transport { source: TransportError::TooLarge { .. }, .. })
    ));
}

#[test]
fn target_verifier_checks_length_and_hash() {
    let f = target(b"hello");
    TargetVerifier::check_bytes(&f, b"hello").unwrap();
    assert!(matches!(
        TargetVerifier::check_bytes(&f, b"hellO"),
        Err(crate::target::TargetError::HashMismatch { .. })
    ));
    assert!(matches!(
        TargetVerifier::check_bytes(&f, b"hello!"),
        Err(crate::target::TargetError::TooLong { .. })
    ));
    assert!(matches!(
        TargetVerifier::check_bytes(&f, b"hell"),
        Err(crate::target::TargetError::WrongLength { .. })
    ));
}

/// A transport over a map that records every name asked for.
struct Recording {
    files: BTreeMap<String, Vec<u8>>,
    requests: Vec<String>,
    any_role_name: bool,
}

impl Recording {
    fn new(files: BTreeMap<String, Vec<u8>>) -> Self {
        Recording { files, requests: Vec::new(), any_role_name: false }
    }
}

impl Transport for Recording {
    fn fetch_metadata(&mut self, name: &str, max_len: u64) -> Result<Option<Vec<u8>>, TransportError> {
        self.requests.push(name.to_owned());
        self.files.fetch_metadata(name, max_len)
    }
    fn supports_role_name(&self, role: &str) -> bool {
        self.any_role_name || safe_role_name(role)
    }
}

/// Top-level targets delegates `team-a/*` to `pa` and `team-b/*` to `pb`;
/// both delegate their paths to the same role `rel`, but with different
/// keys, and `rel` is signed only by the key `pa` names.
fn diamond() -> Repo {
    const PA: u8 = 5;
    const PB: u8 = 6;
    const REL_BY_A: u8 = 7;
    const REL_BY_B: u8 = 8;
    let mut repo = Repo::new();
    let keys =
        |seeds: &[u8]| seeds.iter().map(|&s| (signer(s).key_id(), signer(s).public_key().clone())).collect();
    let mut top = Targets::new(2, t(FAR));
    top.delegations = Some(Delegations {
        keys: keys(&[PA, PB]),
        roles: vec![delegation("pa", PA, &["team-a/*"], false), delegation("pb", PB, &["team-b/*"], false)],
        extra: Default::default(),
    });
    repo.put_role("targets", top, &[INDEX_KEY]);
    for (name, seed, rel_key, pattern) in [("pa", PA, REL_BY_A, "team-a/*"), ("pb", PB, REL_BY_B, "team-b/*")]
    {
        let mut md = Targets::new(1, t(FAR));
        md.delegations = Some(Delegations {
            keys: keys(&[rel_key]),
            roles: vec![delegation("rel", rel_key, &[pattern], false)],
            extra: Default::default(),
        });
        repo.put_role(name, md, &[seed]);
    }
    let mut rel = Targets::new(1, t(FAR));
    rel.targets.insert("team-a/x".into(), target(b"trusted"));
    rel.targets.insert("team-b/x".into(), target(b"malicious"));
    repo.put_role("rel", rel, &[REL_BY_A]);
    repo.publish(t(FAR), t(FAR));
    repo
}

#[test]
fn a_loaded_role_is_verified_again_against_each_delegator() {
    let mut repo = diamond();
    let root = repo.root1();
    let mut c = Client::new(&root, &mut repo.files, t(NOW), Limits::default()).unwrap();
    c.refresh().unwrap();
    // Through pa, rel carries pa's key: the target is found.
    assert_eq!(c.target_info("team-a/x").unwrap().unwrap().role, "rel");
    // Through pb the same (already loaded) rel lacks pb's key for it.
    assert!(
        matches!(c.target_info("team-b/x"), Err(UpdateError::Threshold { ref name, .. }) if name == "rel.json"),
        "rel must be checked against pb's delegation"
    );
}

#[test]
fn cached_targets_are_used_only_while_they_still_verify() {
    let repo = Repo::new();
    let root = repo.root1();
    let mut first = Recording::new(repo.files.clone());
    let mut c = Client::new(&root, &mut first, t(NOW), Limits::default()).unwrap();
    c.refresh().unwrap();
    c.target_info("acme/tool").unwrap().unwrap();
    let trusted = c.into_trusted();
    let cache: BTreeMap<String, Vec<u8>> =
        trusted.targets.iter().map(|(n, v)| (n.clone(), v.bytes.to_vec())).collect();
    assert_eq!(cache.keys().collect::<Vec<_>>(), ["a", "targets"]);

    // Same repository: the cached copies are used, nothing but the root probe,
    // timestamp and snapshot is fetched.
    let mut again = Recording::new(repo.files.clone());
    let mut c =
        Client::new(&root, &mut again, t(NOW), Limits::default()).unwrap().with_cached_targets(cache.clone());
    c.refresh().unwrap();
    assert_eq!(c.target_info("acme/tool").unwrap().unwrap().role, "a");
    assert_eq!(again.requests, ["2.root.json", "timestamp.json", "1.snapshot.json"]);

    // A cached copy that no longer verifies (here: tampered, so its
    // signature fails) is ignored and the role is downloaded.
    let mut bad = cache.clone();
    let text = String::from_utf8(bad["a"].clone()).unwrap().replace("acme/tool", "acme/tooX");
    bad.insert("a".into(), text.into_bytes());
    let mut fresh = Recording::new(repo.files.clone());
    let mut c = Client::new(&root, &mut fresh, t(NOW), Limits::default()).unwrap().with_cached_targets(bad);
    c.refresh().unwrap();
    assert_eq!(c.target_info("acme/tool").unwrap().unwrap().role, "a");
    assert_eq!(*c.trusted().targets["a"].bytes, repo.files["1.a.json"]);
    assert_eq!(fresh.requests.last().map(String::as_str), Some("1.a.json"));

    // After a new version of `a`, the cached v1 is stale and v2 is fetched.
    let mut repo = repo;
    let mut a = Targets::new(2, t(FAR));
    a.targets.insert("acme/tool".into(), target(b"tool2"));
    repo.put_role("a", a, &[PUB_A]);
    repo.publish(t(FAR), t(FAR));
    let mut newer = Recording::new(repo.files.clone());
    let mut c = Client::new(&root, &mut newer, t(NOW), Limits::default()).unwrap().with_cached_targets(cache);
    c.refresh().unwrap();
    assert_eq!(c.target_info("acme/tool").unwrap().unwrap().file, target(b"tool2"));
    assert_eq!(newer.requests.last().map(String::as_str), Some("2.a.json"));
}

#[test]
fn the_transport_decides_which_role_names_it_can_fetch() {
    let mut repo = Repo::new();
    let mut top = Targets::new(2, t(FAR));
    top.delegations = Some(Delegations {
        keys: [(signer(PUB_A).key_id(), signer(PUB_A).public_key().clone())].into_iter().collect(),
        roles: vec![delegation("../odd?", PUB_A, &["*"], false)],
        extra: Default::default(),
    });
    repo.put_role("targets", top, &[INDEX_KEY]);
    let mut odd = Targets::new(1, t(FAR));
    odd.targets.insert("x".into(), target(b"x"));
    repo.put_role("../odd?", odd, &[PUB_A]);
    repo.publish(t(FAR), t(FAR));
    let root = repo.root1();
    // A transport that escapes names fetches the role under its own name.
    let mut escaping = Recording::new(repo.files.clone());
    escaping.any_role_name = true;
    let mut c = Client::new(&root, &mut escaping, t(NOW), Limits::default()).unwrap();
    c.refresh().unwrap();
    assert_eq!(c.target_info("x").unwrap().unwrap().role, "../odd?");
    assert_eq!(escaping.requests.last().map(String::as_str), Some("1.../odd?.json"));
    // The default refuses it before asking the transport.
    let mut plain = Recording::new(repo.files.clone());
    let mut c = Client::new(&root, &mut plain, t(NOW), Limits::default()).unwrap();
    c.refresh().unwrap();
    assert_eq!(c.target_info("x").unwrap_err(), UpdateError::UnsafeRoleName("../odd?".into()));
    assert!(!plain.requests.iter().any(|r| r.contains("odd")));
}

/// Root `version` as [`root`] makes it, but with top-level role `role`
/// moved to the key of `seed`.
fn root_moving(version: u64, role: &str, seed: u8) -> Root {
    let mut r = root(version, INDEX_KEY, FAR);
    r.keys.insert(signer(seed).key_id(), signer(seed).public_key().clone());
    r.roles.get_mut(role).unwrap().keyids = vec![signer(seed).key_id()];
    r
}

#[test]
fn without_consistent_snapshots_metadata_is_fetched_under_plain_names() {
    let repo = Repo::new();
    let mut r = root(1, INDEX_KEY, FAR);
    r.consistent_snapshot = Some(false);
    let root = sign(r, &[ROOT_KEY]);
    let files = [
        ("timestamp.json", repo.files["timestamp.json"].clone()),
        ("snapshot.json", repo.files["1.snapshot.json"].clone()),
        ("targets.json", repo.files["1.targets.json"].clone()),
    ]
    .into_iter()
    .map(|(n, b)| (n.to_owned(), b))
    .collect();
    let mut plain = Recording::new(files);
    let mut c = Client::new(&root, &mut plain, t(NOW), Limits::default()).unwrap();
    c.refresh().unwrap();
    assert_eq!(plain.requests, ["2.root.json", "timestamp.json", "snapshot.json", "targets.json"]);
}

#[test]
fn a_root_update_that_keeps_the_index_keys_keeps_the_trusted_timestamp() {
    let mut repo = Repo::new();
    let old_ts = repo.files["timestamp.json"].clone();
    repo.publish(t(FAR), t(FAR));
    let trusted = refresh(&mut repo.files.clone(), &repo.root1(), NOW).unwrap();
    // Root v2 changes nothing but its version; timestamp and snapshot keys stay.
    repo.files.insert("2.root.json".into(), sign(root(2, INDEX_KEY, FAR), &[ROOT_KEY]));
    repo.files.insert("timestamp.json".into(), old_ts);
    let root = repo.root1();
    let mut c = Client::new(&root, &mut repo.files, t(NOW), Limits::default())
        .unwrap()
        .with_previous(Some(&trusted.timestamp.unwrap().bytes), None);
    // The trusted timestamp v2 is still there to refuse the replayed v1.
    assert_eq!(
        c.refresh().unwrap_err(),
        UpdateError::Rollback { role: "timestamp".into(), trusted: 2, found: 1 }
    );
}

#[test]
fn rotating_only_the_timestamp_key_forgets_the_trusted_timestamp() {
    let mut repo = Repo::new();
    // A leaked timestamp key fast-forwarded the timestamp to version 99.
    let ff =
        sign(TimestampRole::new(99, t(FAR), meta_file_for(&repo.files["1.snapshot.json"], 1)), &[INDEX_KEY]);
    // Root v2 moves the timestamp role alone to key 9; snapshot keeps its key.
    repo.files.insert("2.root.json".into(), sign(root_moving(2, "timestamp", 9), &[ROOT_KEY]));
    let ts = TimestampRole::new(1, t(FAR), meta_file_for(&repo.files["1.snapshot.json"], 1));
    repo.files.insert("timestamp.json".into(), sign(ts, &[9]));
    let root = repo.root1();
    let mut c = Client::new(&root, &mut repo.files, t(NOW), Limits::default())
        .unwrap()
        .with_previous(Some(&ff), None);
    assert_eq!(c.refresh(), Ok(()));
}

#[test]
fn rotating_only_the_snapshot_key_forgets_the_trusted_timestamp_and_snapshot() {
    let mut repo = Repo::new();
    // A leaked index key fast-forwarded timestamp and snapshot to version 99,
    // the snapshot naming every role at version 99.
    let ff_meta = repo.roles.iter().map(|(n, b)| (format!("{n}.json"), meta_file_for(b, 99))).collect();
    let ff_snap = sign(Snapshot::new(99, t(FAR), ff_meta), &[INDEX_KEY]);
    let ff_ts = sign(TimestampRole::new(99, t(FAR), meta_file_for(&ff_snap, 99)), &[INDEX_KEY]);
    // Root v2 moves the snapshot role alone to key 9; timestamp keeps its key.
    repo.files.insert("2.root.json".into(), sign(root_moving(2, "snapshot", 9), &[ROOT_KEY]));
    let meta = repo
        .roles
        .iter()
        .map(|(n, b)| (format!("{n}.json"), meta_file_for(b, repo.role_versions[n])))
        .collect();
    let snap = sign(Snapshot::new(2, t(FAR), meta), &[9]);
    repo.files.insert("2.snapshot.json".into(), snap.clone());
    let ts = TimestampRole::new(1, t(FAR), meta_file_for(&snap, 2));
    repo.files.insert("timestamp.json".into(), sign(ts, &[INDEX_KEY]));
    let root = repo.root1();
    let mut c = Client::new(&root, &mut repo.files, t(NOW), Limits::default())
        .unwrap()
        .with_previous(Some(&ff_ts), Some(&ff_snap));
    assert_eq!(c.refresh(), Ok(()));
}

#[test]
fn a_timestamp_with_the_same_version_is_kept_not_rolled_back() {
    let mut repo = Repo::new();
    let trusted = refresh(&mut repo.files.clone(), &repo.root1(), NOW).unwrap();
    let root = repo.root1();
    let mut c = Client::new(&root, &mut repo.files, t(NOW), Limits::default())
        .unwrap()
        .with_previous(Some(&trusted.timestamp.unwrap().bytes), None);
    assert_eq!(c.refresh(), Ok(()));
}

#[test]
fn a_new_timestamp_naming_the_same_snapshot_version_is_accepted() {
    let mut repo = Repo::new();
    let trusted = refresh(&mut repo.files.clone(), &repo.root1(), NOW).unwrap();
    // Timestamp v2 only renews the timestamp: it names snapshot v1 again.
    let ts = TimestampRole::new(2, t(FAR), meta_file_for(&repo.files["1.snapshot.json"], 1));
    repo.files.insert("timestamp.json".into(), sign(ts, &[INDEX_KEY]));
    let root = repo.root1();
    let mut c = Client::new(&root, &mut repo.files, t(NOW), Limits::default())
        .unwrap()
        .with_previous(Some(&trusted.timestamp.unwrap().bytes), None);
    assert_eq!(c.refresh(), Ok(()));
}

#[test]
fn a_newer_timestamp_naming_an_older_snapshot_is_a_rollback() {
    let mut repo = Repo::new();
    repo.publish(t(FAR), t(FAR));
    let trusted = refresh(&mut repo.files.clone(), &repo.root1(), NOW).unwrap();
    // Timestamp v3 goes forward but names snapshot v1 (still on the server).
    let ts = TimestampRole::new(3, t(FAR), meta_file_for(&repo.files["1.snapshot.json"], 1));
    repo.files.insert("timestamp.json".into(), sign(ts, &[INDEX_KEY]));
    let root = repo.root1();
    let mut c = Client::new(&root, &mut repo.files, t(NOW), Limits::default())
        .unwrap()
        .with_previous(Some(&trusted.timestamp.unwrap().bytes), None);
    assert_eq!(
        c.refresh().unwrap_err(),
        UpdateError::Rollback { role: "snapshot".into(), trusted: 2, found: 1 }
    );
}

#[test]
fn a_trusted_snapshot_the_timestamp_still_names_is_not_downloaded_again() {
    let repo = Repo::new();
    let root = repo.root1();
    let trusted = refresh(&mut repo.files.clone(), &root, NOW).unwrap();
    let mut again = Recording::new(repo.files.clone());
    let mut c = Client::new(&root, &mut again, t(NOW), Limits::default()).unwrap().with_previous(
        Some(&trusted.timestamp.as_ref().unwrap().bytes),
        Some(&trusted.snapshot.as_ref().unwrap().bytes),
    );
    c.refresh().unwrap();
    assert_eq!(again.requests, ["2.root.json", "timestamp.json", "1.targets.json"]);
}

#[test]
fn a_trusted_snapshot_of_the_same_version_but_other_bytes_is_replaced() {
    let mut repo = Repo::new();
    // A validly signed snapshot v1 that differs from the published one
    // (here only in its expiry): the timestamp's hashes do not match it.
    let meta = repo
        .roles
        .iter()
        .map(|(n, b)| (format!("{n}.json"), meta_file_for(b, repo.role_versions[n])))
        .collect();
    let other = sign(Snapshot::new(1, t("2029-01-01T00:00:00Z"), meta), &[INDEX_KEY]);
    let published = repo.files["1.snapshot.json"].clone();
    assert_ne!(other, published);
    let root = repo.root1();
    let mut c = Client::new(&root, &mut repo.files, t(NOW), Limits::default())
        .unwrap()
        .with_previous(None, Some(&other));
    c.refresh().unwrap();
    assert_eq!(*c.into_trusted().snapshot.unwrap().bytes, published);
}

#[test]
fn a_snapshot_that_keeps_role_versions_is_not_a_rollback() {
    let mut repo = Repo::new();
    let trusted = refresh(&mut repo.files.clone(), &repo.root1(), NOW).unwrap();
    // Snapshot v2 lists every role at the version snapshot v1 listed.
    repo.publish(t(FAR), t(FAR));
    let root = repo.root1();
    let mut c = Client::new(&root, &mut repo.files, t(NOW), Limits::default()).unwrap().with_previous(
        Some(&trusted.timestamp.as_ref().unwrap().bytes),
        Some(&trusted.snapshot.as_ref().unwrap().bytes),
    );
    assert_eq!(c.refresh(), Ok(()));
}

#[test]
fn a_search_visits_max_delegations_delegated_roles_beyond_top_level_targets() {
    let repo = Repo::new();
    let root = repo.root1();
    let search = |max_delegations: usize| {
        let mut files = repo.files.clone();
        let limits = Limits { max_delegations, ..Limits::default() };
        let mut c = Client::new(&root, &mut files, t(NOW), limits).unwrap();
        c.refresh().unwrap();
        c.target_info("acme/tool").unwrap().map(|m| m.role)
    };
    // `acme/tool` needs top-level targets plus one delegated role, `a`.
    assert_eq!((search(0), search(1)), (None, Some("a".to_owned())));
}
