//! Admission tests over repositories built in memory and verified by the
//! real client: every `Trusted` here is what `Client` accepted at `NOW`.

use super::*;
use crate::client::{meta_file_for, Client, Limits, UpdateError};
use crate::extension::TIMESTAMP_ISSUED;
use crate::hash::sha256_hex;
use crate::keys::testing::{p256_key, p256_secret, P256Signer};
use crate::keys::{Ed25519Signer, PublicKey, Signer};
use crate::metadata::{DelegatedRole, Role, RoleKeys, TargetFile, TOP_LEVEL_ROLES};
use serde_json::json;

const NOW: &str = "2026-06-01T00:00:00Z";
const FAR: &str = "2030-01-01T00:00:00Z";
/// The custodian: signs root and top-level targets (offline).
const ROOT_KEY: u8 = 1;
/// The registry's online index key (K1): signs snapshot and timestamp.
const INDEX_KEY: u8 = 2;
/// Publisher of `acme/*`.
const PUB_A: u8 = 3;
/// Publisher of `beta/*`.
const PUB_B: u8 = 4;
/// The index key after a rotation (K2).
const INDEX_KEY2: u8 = 5;
/// acme's key after a key change.
const PUB_A2: u8 = 6;
/// Publisher of `gamma/*`.
const PUB_G: u8 = 8;
/// Keys of the other pinned repository.
const OTHER_KEY: u8 = 9;
/// Scalar of the P-256 index key.
const P256_SEED: u8 = 20;

use crate::time::testing::t;

fn ed(seed: u8) -> Ed25519Signer {
    Ed25519Signer::new(ed25519_dalek::SigningKey::from_bytes(&[seed; 32]))
}

fn key(seed: u8) -> PublicKey {
    ed(seed).public_key().clone()
}

fn sign_by<R: Role>(r: R, signers: &[&dyn Signer]) -> Vec<u8> {
    let mut md = Metadata::new(r).unwrap();
    for s in signers {
        md.sign(*s).unwrap();
    }
    md.to_bytes()
}

fn sign<R: Role>(r: R, seeds: &[u8]) -> Vec<u8> {
    let signers: Vec<Ed25519Signer> = seeds.iter().map(|&s| ed(s)).collect();
    let refs: Vec<&dyn Signer> = signers.iter().map(|s| s as &dyn Signer).collect();
    sign_by(r, &refs)
}

fn role_keys(keys: &[PublicKey]) -> RoleKeys {
    RoleKeys {
        keyids: keys.iter().map(PublicKey::key_id).collect(),
        threshold: 1,
        retiring: Default::default(),
        extra: Default::default(),
    }
}

/// Root `version`: the custodian holds root; `targets` and `online`
/// (snapshot and timestamp) are listed as given, threshold 1 each.
fn root_of(version: u64, targets: &[PublicKey], online: &[PublicKey]) -> Root {
    let custodian = key(ROOT_KEY);
    let keys =
        std::iter::once(&custodian).chain(targets).chain(online).map(|k| (k.key_id(), k.clone())).collect();
    let roles = TOP_LEVEL_ROLES
        .iter()
        .map(|&n| {
            let listed = match n {
                "root" => role_keys(std::slice::from_ref(&custodian)),
                "targets" => role_keys(targets),
                _ => role_keys(online),
            };
            (n.to_owned(), listed)
        })
        .collect();
    Root {
        type_: "root".into(),
        spec_version: "1.0.31".into(),
        consistent_snapshot: Some(true),
        version,
        expires: t(FAR),
        keys,
        roles,
        extra: Default::default(),
    }
}

/// The usual root: the custodian signs targets, `index` signs snapshot and timestamp.
fn standard_root(version: u64, index: u8) -> Root {
    root_of(version, &[key(ROOT_KEY)], &[key(index)])
}

fn target(bytes: &[u8]) -> TargetFile {
    TargetFile {
        length: bytes.len() as u64,
        hashes: [("sha256".to_owned(), sha256_hex(bytes))].into_iter().collect(),
        custom: None,
        extra: Default::default(),
    }
}

/// One delegation entry: role name, its key, its paths, terminating.
type Entry<'a> = (&'a str, PublicKey, &'a [&'a str], bool);

/// A targets role `version` delegating, in order, as `entries` say.
fn delegating(version: u64, entries: &[Entry<'_>]) -> Targets {
    let mut md = Targets::new(version, t(FAR));
    md.delegations = Some(Delegations {
        keys: entries.iter().map(|(_, k, _, _)| (k.key_id(), k.clone())).collect(),
        roles: entries
            .iter()
            .map(|(name, k, paths, terminating)| DelegatedRole {
                name: (*name).into(),
                keyids: vec![k.key_id()],
                threshold: 1,
                terminating: *terminating,
                paths: Some(paths.iter().map(|p| p.to_string()).collect()),
                path_hash_prefixes: None,
                extra: Default::default(),
            })
            .collect(),
        extra: Default::default(),
    });
    md
}

/// Top-level targets: `acme/*` to A and `beta/*` to B, both terminating.
fn standard_top(version: u64) -> Targets {
    delegating(version, &[("acme", key(PUB_A), &["acme/*"], true), ("beta", key(PUB_B), &["beta/*"], true)])
}

/// A publisher role `version` listing `targets` (path, content).
fn publisher(version: u64, targets: &[(&str, &[u8])]) -> Targets {
    let mut md = Targets::new(version, t(FAR));
    for (path, bytes) in targets {
        md.targets.insert((*path).into(), target(bytes));
    }
    md
}

/// A repository as a registry serves it: files by name, as `Client` fetches them.
struct Repo {
    files: BTreeMap<String, Vec<u8>>,
    /// The current version and bytes of each targets role.
    roles: BTreeMap<String, (u64, Vec<u8>)>,
    /// Who signs snapshot and timestamp.
    index: Vec<Box<dyn Signer>>,
    /// The timestamp's `x-airlock-issued`, when set.
    issued: Option<String>,
}

impl Repo {
    /// Root version 1 (signed by the custodian) and nothing else yet.
    fn bare(root: Root, index: Vec<Box<dyn Signer>>) -> Self {
        let mut files = BTreeMap::new();
        files.insert("1.root.json".into(), sign(root, &[ROOT_KEY]));
        Repo { files, roles: BTreeMap::new(), index, issued: None }
    }

    /// `root`, the standard top-level targets, acme listing `acme/tool`
    /// and beta listing `beta/lib`, published as snapshot and timestamp 1.
    fn standard(root: Root, index: Vec<Box<dyn Signer>>) -> Self {
        let mut r = Repo::bare(root, index);
        r.put("targets", standard_top(1), &[ROOT_KEY]);
        r.put("acme", publisher(1, &[("acme/tool", b"tool")]), &[PUB_A]);
        r.put("beta", publisher(1, &[("beta/lib", b"lib")]), &[PUB_B]);
        r.publish(1, 1);
        r
    }

    fn new() -> Self {
        Repo::standard(standard_root(1, INDEX_KEY), vec![Box::new(ed(INDEX_KEY))])
    }

    fn put(&mut self, name: &str, md: Targets, seeds: &[u8]) {
        let v = md.version;
        self.put_bytes(name, v, sign(md, seeds));
    }

    fn put_by(&mut self, name: &str, md: Targets, signers: &[&dyn Signer]) {
        let v = md.version;
        self.put_bytes(name, v, sign_by(md, signers));
    }

    fn put_bytes(&mut self, name: &str, version: u64, bytes: Vec<u8>) {
        self.files.insert(format!("{version}.{name}.json"), bytes.clone());
        self.roles.insert(name.into(), (version, bytes));
    }

    /// Signs a snapshot listing every role, and a timestamp naming it.
    fn publish(&mut self, snapshot: u64, timestamp: u64) {
        let index: Vec<&dyn Signer> = self.index.iter().map(|s| s.as_ref()).collect();
        let meta = self.roles.iter().map(|(n, (v, b))| (format!("{n}.json"), meta_file_for(b, *v))).collect();
        let snap = sign_by(Snapshot::new(snapshot, t(FAR), meta), &index);
        let mut ts = TimestampRole::new(timestamp, t(FAR), meta_file_for(&snap, snapshot));
        if let Some(issued) = &self.issued {
            ts.extra.insert(TIMESTAMP_ISSUED.into(), json!(issued));
        }
        self.files.insert(format!("{snapshot}.snapshot.json"), snap);
        self.files.insert("timestamp.json".into(), sign_by(ts, &index));
    }

    /// Adds root version `root.version`, signed by the custodian (who holds
    /// root in every version, so both the old and the new threshold hold).
    fn rotate_root(&mut self, root: Root) {
        let name = format!("{}.root.json", root.version);
        self.files.insert(name, sign(root, &[ROOT_KEY]));
    }

    /// What the client trusts after a refresh at `NOW` from root version 1,
    /// with every reachable role the snapshot lists loaded.
    fn trusted(&self) -> Trusted {
        let root = self.files["1.root.json"].clone();
        let mut files = self.files.clone();
        let mut c = Client::new(&root, &mut files, t(NOW), Limits::default()).unwrap();
        c.refresh().unwrap();
        load_reachable(&mut c);
        c.into_trusted()
    }
}

/// Loads each role reachable from top-level targets that the snapshot
/// lists, once, through the first delegator met (as the mirror does).
fn load_reachable(c: &mut Client<'_, BTreeMap<String, Vec<u8>>>) {
    let mut queue = vec!["targets".to_owned()];
    let mut seen = BTreeSet::from(["targets".to_owned()]);
    while let Some(parent) = queue.pop() {
        let children: Vec<String> = c.trusted().targets[&parent]
            .signed()
            .delegations
            .iter()
            .flat_map(|d| d.roles.iter().map(|r| r.name.clone()))
            .collect();
        for child in children {
            let listed = c
                .trusted()
                .snapshot
                .as_ref()
                .is_some_and(|s| s.signed().meta.contains_key(&format!("{child}.json")));
            if listed && seen.insert(child.clone()) {
                c.update_targets(&child, Some(&parent)).unwrap();
                queue.push(child);
            }
        }
    }
}

/// Every target the loaded roles list, with its SHA-256: what a full bundle carries.
fn carried(t: &Trusted) -> BTreeSet<(String, String)> {
    t.targets
        .values()
        .flat_map(|md| md.signed().targets.iter())
        .filter_map(|(p, f)| f.hashes.get("sha256").map(|h| (p.clone(), h.into_owned())))
        .collect()
}

/// Pins of two repositories, `reg` (the one under test) and `other`, with
/// one terminating mapping per (paths, repository).
fn pins(mapping: &[(&[&str], &str)]) -> Pins {
    let mapping: Vec<serde_json::Value> = mapping
        .iter()
        .map(|(paths, repo)| json!({"paths": paths, "repositories": [repo], "terminating": true, "threshold": 1}))
        .collect();
    let map = json!({"repositories": {"reg": [], "other": []}, "mapping": mapping});
    let roots = BTreeMap::from([
        ("reg".to_owned(), sign(standard_root(1, INDEX_KEY), &[ROOT_KEY])),
        ("other".to_owned(), sign(root_of(1, &[key(OTHER_KEY)], &[key(OTHER_KEY)]), &[ROOT_KEY])),
    ]);
    Pins::from_parts(&serde_json::to_vec(&map).unwrap(), roots).unwrap()
}

/// One admission decision, with everything carried, nothing held, pins
/// giving every namespace to `reg`, the default policy, as an import.
struct Case<'a> {
    trusted: &'a Trusted,
    carried: BTreeSet<(String, String)>,
    base: Option<u64>,
    prior: Option<&'a TrustedState>,
    held: &'a dyn Holdings,
    pins: Pins,
    policy: Policy,
    purpose: Purpose,
}

impl<'a> Case<'a> {
    fn new(trusted: &'a Trusted) -> Self {
        Case {
            trusted,
            carried: carried(trusted),
            base: None,
            prior: None,
            held: &NothingHeld,
            pins: pins(&[(&["*/*"], "reg")]),
            policy: Policy::default(),
            purpose: Purpose::Import,
        }
    }

    fn after(trusted: &'a Trusted, prior: &'a TrustedState) -> Self {
        Case { prior: Some(prior), ..Case::new(trusted) }
    }

    fn admit(&self) -> Result<Admitted, AdmissionError> {
        let update =
            Update { verified: self.trusted, carried: &self.carried, base_snapshot_version: self.base };
        let rules = Rules { repo: "reg", pins: &self.pins, policy: &self.policy, now: t(NOW) };
        admit(&update, self.prior, self.held, &rules, self.purpose)
    }
}

/// The state a fresh mirror keeps after admitting `t`, read back from its files.
fn state(t: &Trusted) -> TrustedState {
    let admitted = Case::new(t).admit().expect("the prior state must itself be admissible");
    let delegations = TrustedState::delegations_bytes(&admitted.delegations);
    TrustedState::from_files(
        Some(&t.root.bytes),
        Some(&t.timestamp.as_ref().unwrap().bytes),
        Some(&t.snapshot.as_ref().unwrap().bytes),
        Some(&delegations),
    )
    .unwrap()
    .unwrap()
}

/// The refusal, after checking it names `rule` and its message starts with it.
fn refused(result: Result<Admitted, AdmissionError>, rule: &str) -> AdmissionError {
    let e = match result {
        Ok(a) => panic!("expected a refusal by rule {rule}, got {a:?}"),
        Err(e) => e,
    };
    assert_eq!(e.rule(), rule, "{e}");
    assert!(e.to_string().starts_with(&format!("rule {rule}")), "{e}");
    e
}

struct Held(BTreeSet<(String, String)>);

impl Holdings for Held {
    fn holds_target(&self, path: &str, sha256: &str) -> bool {
        self.0.contains(&(path.to_owned(), sha256.to_owned()))
    }
}

fn sha(bytes: &[u8]) -> String {
    sha256_hex(bytes)
}

#[test]
fn a_verified_update_is_admitted_on_a_fresh_mirror() {
    let t = Repo::new().trusted();
    let a = Case::new(&t).admit().unwrap();
    assert_eq!(a.served_targets, 2);
    assert!(a.changes.is_empty(), "{:?}", a.changes);
    assert!(a.recoveries.is_empty(), "{:?}", a.recoveries);
    let ids: Vec<(&str, &str, usize)> =
        a.delegations.iter().map(|d| (d.delegator.as_str(), d.name.as_str(), d.position)).collect();
    assert_eq!(ids, [("targets", "acme", 0), ("targets", "beta", 1)]);
    assert_eq!(a.delegations[0].keys, [key(PUB_A).material_id()]);
    assert!(a.delegations[0].terminating);
    assert_eq!(a.delegations[1].paths, Some(vec!["beta/*".to_owned()]));
}

// offline-targets

#[test]
fn offline_targets_refuses_the_index_key_on_top_level_targets() {
    let root = root_of(1, &[key(ROOT_KEY), key(INDEX_KEY)], &[key(INDEX_KEY)]);
    let t = Repo::standard(root, vec![Box::new(ed(INDEX_KEY))]).trusted();
    let e = refused(Case::new(&t).admit(), "offline-targets");
    let index = key(INDEX_KEY).key_id().0;
    assert!(
        matches!(&e, AdmissionError::OnlineKeySignsTargets { role, key, online: "snapshot" | "timestamp" }
            if role == "targets" && *key == index),
        "{e:?}"
    );
}

#[test]
fn offline_targets_compares_key_material_not_key_ids() {
    // One P-256 key, written compressed for snapshot and timestamp and
    // uncompressed (under another keytype spelling) for targets.
    let secret = p256_secret(P256_SEED);
    let compressed = p256_key(&secret, "ecdsa", true);
    let uncompressed = p256_key(&secret, "ecdsa-sha2-nistp256", false);
    assert_ne!(compressed.key_id(), uncompressed.key_id());
    assert_eq!(compressed.material_id(), uncompressed.material_id());
    let index = || -> Vec<Box<dyn Signer>> { vec![Box::new(P256Signer::new(&secret, compressed.clone()))] };

    let root = root_of(1, &[key(ROOT_KEY), uncompressed.clone()], std::slice::from_ref(&compressed));
    let t = Repo::standard(root, index()).trusted();
    let e = refused(Case::new(&t).admit(), "offline-targets");
    assert!(
        matches!(&e, AdmissionError::OnlineKeySignsTargets { role, key, online: "snapshot" | "timestamp" }
            if role == "targets" && *key == uncompressed.key_id().0),
        "{e:?}"
    );

    // The same for a delegation to the index key under its other id.
    let root = root_of(1, &[key(ROOT_KEY)], std::slice::from_ref(&compressed));
    let mut repo = Repo::bare(root, index());
    repo.put(
        "targets",
        delegating(
            1,
            &[("acme", uncompressed.clone(), &["acme/*"], true), ("beta", key(PUB_B), &["beta/*"], true)],
        ),
        &[ROOT_KEY],
    );
    let acme_signer = P256Signer::new(&secret, uncompressed.clone());
    repo.put_by("acme", publisher(1, &[("acme/tool", b"tool")]), &[&acme_signer]);
    repo.put("beta", publisher(1, &[("beta/lib", b"lib")]), &[PUB_B]);
    repo.publish(1, 1);
    let t = repo.trusted();
    assert!(t.targets.contains_key("acme"));
    let e = refused(Case::new(&t).admit(), "offline-targets");
    assert!(
        matches!(&e, AdmissionError::OnlineKeySignsTargets { role, key, .. }
            if role.starts_with("acme") && *key == uncompressed.key_id().0),
        "{e:?}"
    );
}

#[test]
fn offline_targets_refuses_a_publisher_role_held_by_the_index_key() {
    let mut repo = Repo::bare(standard_root(1, INDEX_KEY), vec![Box::new(ed(INDEX_KEY))]);
    repo.put(
        "targets",
        delegating(
            1,
            &[("acme", key(INDEX_KEY), &["acme/*"], true), ("beta", key(PUB_B), &["beta/*"], true)],
        ),
        &[ROOT_KEY],
    );
    repo.put("acme", publisher(1, &[("acme/tool", b"tool")]), &[INDEX_KEY]);
    repo.put("beta", publisher(1, &[("beta/lib", b"lib")]), &[PUB_B]);
    repo.publish(1, 1);
    let t = repo.trusted();
    let e = refused(Case::new(&t).admit(), "offline-targets");
    let index = key(INDEX_KEY).key_id().0;
    assert!(
        matches!(&e, AdmissionError::OnlineKeySignsTargets { role, key, online: "snapshot" | "timestamp" }
            if role == "acme (delegated by targets)" && *key == index),
        "{e:?}"
    );
}

// delta-base

#[test]
fn delta_base_must_be_the_mirrors_snapshot() {
    let mut repo = Repo::new();
    let t1 = repo.trusted();
    let fresh = Case { base: Some(3), ..Case::new(&t1) };
    let e = refused(fresh.admit(), "delta-base");
    assert!(matches!(e, AdmissionError::DeltaBase { base: 3, trusted: 0 }), "{e:?}");

    let prior = state(&t1);
    repo.publish(2, 2);
    let t2 = repo.trusted();
    let on_its_base = Case { base: Some(1), ..Case::after(&t2, &prior) };
    on_its_base.admit().unwrap();
    let elsewhere = Case { base: Some(2), ..Case::after(&t2, &prior) };
    let e = refused(elsewhere.admit(), "delta-base");
    assert!(matches!(e, AdmissionError::DeltaBase { base: 2, trusted: 1 }), "{e:?}");
}

// newer

#[test]
fn newer_refuses_a_replayed_snapshot_on_import_but_not_on_reverify() {
    let t = Repo::new().trusted();
    let prior = state(&t);
    let e = refused(Case::after(&t, &prior).admit(), "newer");
    assert!(matches!(e, AdmissionError::NotNewer { trusted: 1, found: 1 }), "{e:?}");

    let reverify = Case { purpose: Purpose::Reverify, ..Case::after(&t, &prior) };
    let a = reverify.admit().unwrap();
    assert!(a.changes.is_empty() && a.recoveries.is_empty());
    assert_eq!(a.served_targets, 2);
}

// no-rollback

#[test]
fn no_rollback_of_the_snapshot() {
    let mut repo = Repo::new();
    repo.publish(3, 3);
    let prior = state(&repo.trusted());
    repo.publish(2, 4);
    let t = repo.trusted();
    let e = refused(Case::after(&t, &prior).admit(), "no-rollback");
    assert!(
        matches!(&e, AdmissionError::Rollback { role, trusted: 3, found: 2 } if role == "snapshot"),
        "{e:?}"
    );
}

#[test]
fn no_rollback_of_the_timestamp() {
    let mut repo = Repo::new();
    repo.publish(3, 3);
    let prior = state(&repo.trusted());
    repo.publish(4, 2);
    let t = repo.trusted();
    let e = refused(Case::after(&t, &prior).admit(), "no-rollback");
    assert!(
        matches!(&e, AdmissionError::Rollback { role, trusted: 3, found: 2 } if role == "timestamp"),
        "{e:?}"
    );
}

#[test]
fn no_rollback_of_a_publisher_role() {
    let mut repo = Repo::new();
    repo.put("acme", publisher(2, &[("acme/tool", b"tool2")]), &[PUB_A]);
    repo.publish(2, 2);
    let prior = state(&repo.trusted());
    // acme's own (validly signed) version 1 again, in a newer snapshot.
    repo.put("acme", publisher(1, &[("acme/tool", b"tool")]), &[PUB_A]);
    repo.publish(3, 3);
    let t = repo.trusted();
    let e = refused(Case::after(&t, &prior).admit(), "no-rollback");
    assert!(matches!(&e, AdmissionError::Rollback { role, trusted: 2, found: 1 } if role == "acme"), "{e:?}");
}

#[test]
fn no_rollback_of_root() {
    let mut repo = Repo::new();
    repo.rotate_root(standard_root(2, INDEX_KEY));
    repo.publish(2, 2);
    let t2 = repo.trusted();
    assert_eq!(t2.root.signed().version, 2);
    let prior = state(&t2);
    repo.files.remove("2.root.json");
    repo.publish(3, 3);
    let t = repo.trusted();
    let e = refused(Case::after(&t, &prior).admit(), "no-rollback");
    assert!(matches!(&e, AdmissionError::Rollback { role, trusted: 2, found: 1 } if role == "root"), "{e:?}");
}

#[test]
fn no_rollback_refuses_a_role_dropped_from_the_snapshot() {
    let mut repo = Repo::new();
    let prior = state(&repo.trusted());
    repo.roles.remove("beta");
    repo.publish(2, 2);
    let t = repo.trusted();
    assert!(!t.snapshot.as_ref().unwrap().signed().meta.contains_key("beta.json"));
    let e = refused(Case::after(&t, &prior).admit(), "no-rollback");
    assert!(matches!(&e, AdmissionError::RoleDropped { role } if role == "beta"), "{e:?}");
}

// fast-forward recovery

/// A repository whose snapshot and timestamp were fast-forwarded to version
/// 10 with K1, the trusted state of a mirror that took them, and the
/// repository after root version 2 (`root2`) put K2 in charge and published
/// snapshot `snapshot` and timestamp `timestamp` with K2.
fn fast_forwarded(root2: Root, snapshot: u64, timestamp: u64) -> (TrustedState, Trusted) {
    let mut repo = Repo::new();
    repo.publish(10, 10);
    let t10 = repo.trusted();
    let prior = state(&t10);
    repo.rotate_root(root2);
    repo.index = vec![Box::new(ed(INDEX_KEY2))];
    repo.publish(snapshot, timestamp);
    let t = repo.trusted();
    assert_eq!(t.root.signed().version, 2);
    (prior, t)
}

#[test]
fn fast_forward_recovery_after_the_index_key_is_revoked() {
    let (prior, t) = fast_forwarded(standard_root(2, INDEX_KEY2), 2, 2);
    let a = Case::after(&t, &prior).admit().unwrap();
    let k1 = key(INDEX_KEY).key_id().0;
    let mut recoveries = a.recoveries.clone();
    recoveries.sort_by(|a, b| a.role.cmp(&b.role));
    assert_eq!(
        recoveries,
        [
            Recovery { role: "snapshot".into(), from: 10, to: 2, revoked: vec![k1.clone()] },
            Recovery { role: "timestamp".into(), from: 10, to: 2, revoked: vec![k1] },
        ]
    );
    assert!(a.changes.is_empty());
}

/// After the index key is revoked, versions that go on up are no recovery:
/// nothing is recorded.
#[test]
fn a_revoked_key_makes_no_recovery_of_versions_that_go_up() {
    let (prior, t) = fast_forwarded(standard_root(2, INDEX_KEY2), 11, 12);
    let a = Case::after(&t, &prior).admit().unwrap();
    assert!(a.recoveries.is_empty(), "{:?}", a.recoveries);
}

/// The trusted snapshot re-signed by the new key (same content, same
/// version) after a revocation is a replay, not a recovery.
#[test]
fn the_same_snapshot_re_signed_after_a_revocation_is_a_replay() {
    let (prior, t) = fast_forwarded(standard_root(2, INDEX_KEY2), 10, 11);
    let e = refused(Case::after(&t, &prior).admit(), "newer");
    assert!(matches!(e, AdmissionError::NotNewer { trusted: 10, found: 10 }), "{e:?}");
}

/// A revoked key's snapshot replaced by other content at the same version:
/// a recovery, recorded (from and to equal), not history rewritten.
#[test]
fn a_revoked_keys_snapshot_replaced_at_the_same_version_is_a_recorded_recovery() {
    let mut repo = Repo::new();
    repo.publish(10, 10);
    let prior = state(&repo.trusted());
    repo.rotate_root(standard_root(2, INDEX_KEY2));
    repo.index = vec![Box::new(ed(INDEX_KEY2))];
    repo.put("acme", publisher(2, &[("acme/tool", b"tool2")]), &[PUB_A]);
    repo.publish(10, 11);
    let t = repo.trusted();
    let a = Case::after(&t, &prior).admit().unwrap();
    let snap: Vec<_> = a.recoveries.iter().filter(|r| r.role == "snapshot").collect();
    assert_eq!(snap.len(), 1, "{:?}", a.recoveries);
    assert_eq!((snap[0].from, snap[0].to), (10, 10));
}

#[test]
fn fast_forward_recovery_never_excuses_a_publisher_role_going_back() {
    let mut repo = Repo::new();
    repo.put("acme", publisher(2, &[("acme/tool", b"tool2")]), &[PUB_A]);
    repo.publish(10, 10);
    let prior = state(&repo.trusted());
    repo.rotate_root(standard_root(2, INDEX_KEY2));
    repo.index = vec![Box::new(ed(INDEX_KEY2))];
    repo.put("acme", publisher(1, &[("acme/tool", b"tool")]), &[PUB_A]);
    repo.publish(2, 2);
    let t = repo.trusted();
    let e = refused(Case::after(&t, &prior).admit(), "no-rollback");
    assert!(matches!(&e, AdmissionError::Rollback { role, trusted: 2, found: 1 } if role == "acme"), "{e:?}");
}

#[test]
fn no_fast_forward_recovery_while_the_old_index_key_is_only_retiring() {
    // Root v2 adds K2 but keeps K1 listed, retiring at a deadline still ahead.
    let mut root2 = root_of(2, &[key(ROOT_KEY)], &[key(INDEX_KEY), key(INDEX_KEY2)]);
    for role in ["snapshot", "timestamp"] {
        let r = root2.roles.get_mut(role).unwrap();
        assert!(r.keyids.contains(&key(INDEX_KEY).key_id()));
        r.retiring.insert(key(INDEX_KEY).key_id(), t("2027-01-01T00:00:00Z"));
    }
    let (prior, t) = fast_forwarded(root2.clone(), 2, 2);
    let e = refused(Case::after(&t, &prior).admit(), "no-rollback");
    assert!(
        matches!(&e, AdmissionError::Rollback { role, trusted: 10, found: 2 } if role == "timestamp"),
        "{e:?}"
    );
    // With the timestamp moving on, the snapshot alone is refused too.
    let (prior, t) = fast_forwarded(root2, 2, 11);
    let e = refused(Case::after(&t, &prior).admit(), "no-rollback");
    assert!(
        matches!(&e, AdmissionError::Rollback { role, trusted: 10, found: 2 } if role == "snapshot"),
        "{e:?}"
    );
}

/// A leaked index key can also list, in the snapshot it fast-forwards, a
/// role that nothing delegates to (so nothing verifies it). Once the key is
/// revoked, that entry must not block the recovery: no publisher or
/// offline key ever signed it; otherwise RoleDropped (or Rollback) for the
/// ghost entry would keep the mirror from ever recovering.
#[test]
fn fast_forward_recovery_is_not_blocked_by_roles_only_the_revoked_key_listed() {
    let mut repo = Repo::new();
    repo.roles.insert("ghost".into(), (99, b"never published".to_vec()));
    repo.publish(10, 10);
    let t10 = repo.trusted();
    assert!(!t10.targets.contains_key("ghost"));
    let prior = state(&t10);
    repo.rotate_root(standard_root(2, INDEX_KEY2));
    repo.index = vec![Box::new(ed(INDEX_KEY2))];
    repo.roles.remove("ghost");
    repo.publish(2, 2);
    let t = repo.trusted();
    let a = Case::after(&t, &prior).admit().unwrap();
    let mut roles: Vec<&str> = a.recoveries.iter().map(|r| r.role.as_str()).collect();
    roles.sort();
    assert_eq!(roles, ["snapshot", "timestamp"]);
}

// history

#[test]
fn history_refuses_a_snapshot_version_with_other_content() {
    let mut repo = Repo::new();
    repo.publish(3, 3);
    let prior = state(&repo.trusted());
    repo.put("acme", publisher(2, &[("acme/tool", b"tool2")]), &[PUB_A]);
    repo.publish(3, 4);
    let t = repo.trusted();
    let e = refused(Case::after(&t, &prior).admit(), "history");
    assert!(
        matches!(&e, AdmissionError::HistoryRewritten { role, version: 3 } if role == "snapshot"),
        "{e:?}"
    );
}

#[test]
fn history_refuses_a_timestamp_version_with_other_content() {
    let mut repo = Repo::new();
    repo.publish(3, 3);
    let prior = state(&repo.trusted());
    repo.publish(4, 3);
    let t = repo.trusted();
    let e = refused(Case::after(&t, &prior).admit(), "history");
    assert!(
        matches!(&e, AdmissionError::HistoryRewritten { role, version: 3 } if role == "timestamp"),
        "{e:?}"
    );
}

#[test]
fn history_refuses_a_role_version_with_other_content() {
    let mut repo = Repo::new();
    let prior = state(&repo.trusted());
    // acme version 1 again, validly signed, but listing other bytes.
    repo.put("acme", publisher(1, &[("acme/tool", b"tool, rewritten")]), &[PUB_A]);
    repo.publish(2, 2);
    let t = repo.trusted();
    let e = refused(Case::after(&t, &prior).admit(), "history");
    assert!(matches!(&e, AdmissionError::HistoryRewritten { role, version: 1 } if role == "acme"), "{e:?}");
}

// delegation

#[test]
fn delegation_changes_need_a_new_version_of_the_delegator() {
    let mut repo = Repo::new();
    let trusted = state(&repo.trusted());
    repo.publish(2, 2);
    let t = repo.trusted();
    // The update is unchanged apart from snapshot and timestamp: admitted.
    Case::after(&t, &trusted).admit().unwrap();

    // A mirror whose record of the delegations differs from what the same
    // top-level targets version (1 in both snapshots) says.
    let acme = |d: &[Delegation]| -> usize { d.iter().position(|d| d.name == "acme").unwrap() };
    let mut changed = trusted.clone();
    let i = acme(&changed.delegations);
    changed.delegations[i].keys = vec![key(PUB_A2).material_id()];
    let mut added = trusted.clone();
    let i = acme(&added.delegations);
    added.delegations.remove(i);
    let mut removed = trusted.clone();
    removed.delegations.push(Delegation {
        name: "ghost".into(),
        position: 2,
        ..removed.delegations[0].clone()
    });
    for (prior, name, change) in
        [(&changed, "acme", "changed"), (&added, "acme", "added"), (&removed, "ghost", "removed")]
    {
        let e = refused(Case::after(&t, prior).admit(), "delegation");
        assert!(
            matches!(&e, AdmissionError::DelegationUnauthorised { delegator, name: n, change: c, version: 1 }
                if delegator == "targets" && n == name && *c == change),
            "{e:?}"
        );
    }
}

#[test]
fn a_key_change_signed_by_the_custodian_is_admitted() {
    let mut repo = Repo::new();
    let prior = state(&repo.trusted());
    repo.put(
        "targets",
        delegating(2, &[("acme", key(PUB_A2), &["acme/*"], true), ("beta", key(PUB_B), &["beta/*"], true)]),
        &[ROOT_KEY],
    );
    repo.put("acme", publisher(2, &[("acme/tool", b"tool")]), &[PUB_A2]);
    repo.publish(2, 2);
    let t = repo.trusted();
    let a = Case::after(&t, &prior).admit().unwrap();
    assert_eq!(
        a.changes,
        [DelegationChange {
            delegator: "targets".into(),
            name: "acme".into(),
            change: "changed",
            by_version: 2
        }]
    );
    let acme = a.delegations.iter().find(|d| d.name == "acme").unwrap();
    assert_eq!(acme.keys, [key(PUB_A2).material_id()]);
}

#[test]
fn added_and_removed_publishers_are_reported() {
    let mut repo = Repo::new();
    let prior = state(&repo.trusted());
    // beta's delegation goes (its role stays in the snapshot, unreachable);
    // gamma's comes.
    repo.put(
        "targets",
        delegating(2, &[("acme", key(PUB_A), &["acme/*"], true), ("gamma", key(PUB_G), &["gamma/*"], true)]),
        &[ROOT_KEY],
    );
    repo.put("gamma", publisher(1, &[("gamma/x", b"x")]), &[PUB_G]);
    repo.publish(2, 2);
    let t = repo.trusted();
    assert!(!t.targets.contains_key("beta"));
    let a = Case::after(&t, &prior).admit().unwrap();
    let changes: Vec<(&str, &str, &str, u64)> =
        a.changes.iter().map(|c| (c.delegator.as_str(), c.name.as_str(), c.change, c.by_version)).collect();
    assert_eq!(changes, [("targets", "beta", "removed", 2), ("targets", "gamma", "added", 2)]);
    assert_eq!(a.served_targets, 2);
}

// complete-metadata

#[test]
fn complete_metadata_needs_every_reachable_role() {
    let repo = Repo::new();
    let mut partial = repo.trusted();
    partial.targets.remove("beta");
    let e = refused(Case::new(&partial).admit(), "complete-metadata");
    assert!(
        matches!(&e, AdmissionError::RoleNotServed { role, delegator, version: 1 }
            if role == "beta" && delegator == "targets"),
        "{e:?}"
    );

    // An update without a snapshot serves nothing.
    let root = repo.files["1.root.json"].clone();
    let mut files = repo.files.clone();
    let mut c = Client::new(&root, &mut files, t(NOW), Limits::default()).unwrap();
    c.update_root().unwrap();
    c.update_timestamp().unwrap();
    let no_snapshot = c.into_trusted();
    let e = refused(Case::new(&no_snapshot).admit(), "complete-metadata");
    assert!(matches!(&e, AdmissionError::RoleNotServed { role, .. } if role == "snapshot"), "{e:?}");
}

#[test]
fn a_delegation_to_a_role_never_published_needs_nothing() {
    let mut repo = Repo::new();
    repo.put(
        "targets",
        delegating(
            2,
            &[
                ("acme", key(PUB_A), &["acme/*"], true),
                ("beta", key(PUB_B), &["beta/*"], true),
                ("gamma", key(PUB_G), &["gamma/*"], true),
            ],
        ),
        &[ROOT_KEY],
    );
    repo.publish(2, 2);
    let t = repo.trusted();
    assert!(!t.targets.contains_key("gamma"));
    assert_eq!(Case::new(&t).admit().unwrap().served_targets, 2);
}

#[test]
fn complete_metadata_needs_every_target_carried_or_held() {
    let t = Repo::new().trusted();
    let nothing = Case { carried: BTreeSet::new(), ..Case::new(&t) };
    let e = refused(nothing.admit(), "complete-metadata");
    assert!(
        matches!(&e, AdmissionError::TargetNotServed { target, role } if target == "acme/tool" && role == "acme"),
        "{e:?}"
    );

    // Carried with other bytes is not carried.
    let mut wrong = carried(&t);
    wrong.remove(&("acme/tool".to_owned(), sha(b"tool")));
    wrong.insert(("acme/tool".to_owned(), sha(b"other")));
    let e = refused(Case { carried: wrong, ..Case::new(&t) }.admit(), "complete-metadata");
    assert!(matches!(&e, AdmissionError::TargetNotServed { target, .. } if target == "acme/tool"), "{e:?}");

    // Held by the mirror: enough.
    let all = Held(carried(&t));
    let held = Case { carried: BTreeSet::new(), held: &all, ..Case::new(&t) };
    assert_eq!(held.admit().unwrap().served_targets, 2);

    // Part carried, part held.
    let beta = Held(BTreeSet::from([("beta/lib".to_owned(), sha(b"lib"))]));
    let acme_only = BTreeSet::from([("acme/tool".to_owned(), sha(b"tool"))]);
    let mixed = Case { carried: acme_only.clone(), held: &beta, ..Case::new(&t) };
    assert_eq!(mixed.admit().unwrap().served_targets, 2);
    let e = refused(Case { carried: acme_only, ..Case::new(&t) }.admit(), "complete-metadata");
    assert!(
        matches!(&e, AdmissionError::TargetNotServed { target, role } if target == "beta/lib" && role == "beta"),
        "{e:?}"
    );

    // Held with other bytes is not held.
    let stale =
        Held(BTreeSet::from([("acme/tool".to_owned(), sha(b"old")), ("beta/lib".to_owned(), sha(b"lib"))]));
    let e = refused(
        Case { carried: BTreeSet::new(), held: &stale, ..Case::new(&t) }.admit(),
        "complete-metadata",
    );
    assert!(matches!(&e, AdmissionError::TargetNotServed { target, .. } if target == "acme/tool"), "{e:?}");
}

#[test]
fn complete_metadata_needs_a_sha256_for_every_target() {
    let mut repo = Repo::new();
    let mut acme = Targets::new(2, t(FAR));
    let mut file = target(b"tool");
    file.hashes = [("sha512".to_owned(), "ab".repeat(64))].into_iter().collect();
    acme.targets.insert("acme/tool".into(), file);
    repo.put("acme", acme, &[PUB_A]);
    repo.publish(2, 2);
    let t = repo.trusted();
    let e = refused(Case::new(&t).admit(), "complete-metadata");
    assert!(
        matches!(&e, AdmissionError::NoSha256 { target, role } if target == "acme/tool" && role == "acme"),
        "{e:?}"
    );
}

// delegation search

#[test]
fn delegation_refuses_a_target_outside_the_roles_paths() {
    let mut repo = Repo::new();
    repo.put("acme", publisher(2, &[("acme/tool", b"tool"), ("other/x", b"x")]), &[PUB_A]);
    repo.publish(2, 2);
    let t = repo.trusted();
    let e = refused(Case::new(&t).admit(), "delegation");
    assert!(
        matches!(&e, AdmissionError::TargetNotDelegated { target, role, .. } if target == "other/x" && role == "acme"),
        "{e:?}"
    );

    // In another publisher's namespace: the search names that publisher.
    repo.put("acme", publisher(3, &[("acme/tool", b"tool"), ("beta/lib", b"lib")]), &[PUB_A]);
    repo.publish(3, 3);
    let t = repo.trusted();
    let e = refused(Case::new(&t).admit(), "delegation");
    assert!(
        matches!(&e, AdmissionError::TargetNotDelegated { target, role, resolved }
            if target == "beta/lib" && role == "acme" && resolved == "role beta"),
        "{e:?}"
    );
}

#[test]
fn delegation_refuses_a_target_shadowed_by_an_earlier_terminating_role() {
    let mut repo = Repo::new();
    // beta may sign for acme/* too, but acme comes first and terminates.
    repo.put(
        "targets",
        delegating(
            2,
            &[("acme", key(PUB_A), &["acme/*"], true), ("beta", key(PUB_B), &["beta/*", "acme/*"], true)],
        ),
        &[ROOT_KEY],
    );
    repo.put("beta", publisher(2, &[("beta/lib", b"lib"), ("acme/tool", b"impostor")]), &[PUB_B]);
    repo.publish(2, 2);
    let t = repo.trusted();
    let e = refused(Case::new(&t).admit(), "delegation");
    assert!(
        matches!(&e, AdmissionError::TargetNotDelegated { target, role, resolved }
            if target == "acme/tool" && role == "beta" && resolved == "role acme"),
        "{e:?}"
    );
}

#[test]
fn a_terminating_role_ends_the_search_even_when_it_lists_nothing() {
    // beta lists acme/extra, which acme (earlier, covering acme/*) does not.
    let build = |acme_terminates: bool| {
        let mut repo = Repo::new();
        repo.put(
            "targets",
            delegating(
                2,
                &[
                    ("acme", key(PUB_A), &["acme/*"], acme_terminates),
                    ("beta", key(PUB_B), &["beta/*", "acme/*"], true),
                ],
            ),
            &[ROOT_KEY],
        );
        repo.put("beta", publisher(2, &[("beta/lib", b"lib"), ("acme/extra", b"extra")]), &[PUB_B]);
        repo.publish(2, 2);
        repo.trusted()
    };
    let t = build(false);
    assert_eq!(Case::new(&t).admit().unwrap().served_targets, 3);
    let t = build(true);
    let e = refused(Case::new(&t).admit(), "delegation");
    assert!(
        matches!(&e, AdmissionError::TargetNotDelegated { target, role, .. } if target == "acme/extra" && role == "beta"),
        "{e:?}"
    );
}

/// Top-level targets delegates `team-b/*` to `pb` and `team-a/*` to `pa`;
/// each delegates its namespace to a role both call `rel`, with different
/// keys, and `rel` is signed only by the key `pa` names. The mirror's
/// loader loads each role once, here `rel` through `pa`; admission must
/// still check `rel` against `pb`'s delegation, or `team-b/x` would be
/// served through `pb` although `pb`'s key for `rel` never signed it.
#[test]
fn delegation_search_checks_a_role_against_each_delegator() {
    const PA: u8 = 10;
    const PB: u8 = 11;
    const REL_BY_A: u8 = 12;
    const REL_BY_B: u8 = 13;
    let mut repo = Repo::bare(standard_root(1, INDEX_KEY), vec![Box::new(ed(INDEX_KEY))]);
    repo.put(
        "targets",
        delegating(1, &[("pb", key(PB), &["team-b/*"], true), ("pa", key(PA), &["team-a/*"], true)]),
        &[ROOT_KEY],
    );
    repo.put("pa", delegating(1, &[("rel", key(REL_BY_A), &["team-a/*"], false)]), &[PA]);
    repo.put("pb", delegating(1, &[("rel", key(REL_BY_B), &["team-b/*"], false)]), &[PB]);
    repo.put("rel", publisher(1, &[("team-a/x", b"trusted"), ("team-b/x", b"malicious")]), &[REL_BY_A]);
    repo.publish(1, 1);
    let loaded = repo.trusted();
    assert!(loaded.targets.contains_key("rel"));

    // The client refuses rel through pb, as a TUF client searching team-b/x does.
    let root = repo.files["1.root.json"].clone();
    let mut files = repo.files.clone();
    let mut c = Client::new(&root, &mut files, t(NOW), Limits::default()).unwrap();
    c.refresh().unwrap();
    c.update_targets("pb", Some("targets")).unwrap();
    assert!(matches!(c.update_targets("rel", Some("pb")), Err(UpdateError::Threshold { .. })));
    assert!(matches!(c.target_info("team-b/x"), Err(UpdateError::Threshold { .. })));

    let e = refused(Case::new(&loaded).admit(), "delegation");
    assert!(
        matches!(&e, AdmissionError::DelegatedSignature { role, delegator, .. } if role == "rel" && delegator == "pb"),
        "{e:?}"
    );
}

// publisher-signed

#[test]
fn publisher_signed_refuses_a_target_in_top_level_targets() {
    let mut repo = Repo::new();
    let mut top = standard_top(2);
    top.targets.insert("acme/direct".into(), target(b"direct"));
    repo.put("targets", top, &[ROOT_KEY]);
    repo.publish(2, 2);
    let t = repo.trusted();
    let e = refused(Case::new(&t).admit(), "publisher-signed");
    assert!(matches!(&e, AdmissionError::TopLevelTarget { target } if target == "acme/direct"), "{e:?}");
}

// namespace-pins

#[test]
fn namespace_pins_refuse_a_namespace_pinned_to_another_repository() {
    let t = Repo::new().trusted();
    let acme_only = Case { pins: pins(&[(&["acme/*"], "reg"), (&["beta/*"], "other")]), ..Case::new(&t) };
    let e = refused(acme_only.admit(), "namespace-pins");
    assert!(
        matches!(&e, AdmissionError::Pins { target, detail } if target == "beta/lib" && detail.contains("other")),
        "{e:?}"
    );
    let unmapped = Case { pins: pins(&[(&["acme/*"], "reg")]), ..Case::new(&t) };
    let e = refused(unmapped.admit(), "namespace-pins");
    assert!(matches!(&e, AdmissionError::Pins { target, .. } if target == "beta/lib"), "{e:?}");
}

// policy

#[test]
fn policy_deny_namespaces_refuses() {
    let t = Repo::new().trusted();
    let deny = Case { policy: Policy::from_toml("deny_namespaces = [\"beta/*\"]").unwrap(), ..Case::new(&t) };
    let e = refused(deny.admit(), "policy");
    assert!(
        matches!(&e, AdmissionError::Policy(PolicyRefusal { rule: "deny_namespaces", target: Some(target), .. })
            if target == "beta/lib"),
        "{e:?}"
    );
}

#[test]
fn policy_ai_generated_refuses() {
    let mut repo = Repo::new();
    let mut acme = publisher(2, &[("acme/tool", b"tool")]);
    let mut generated = target(b"generated");
    generated.custom =
        Some(Box::new(json!({"airlock": {"provenance": {"ai_generated": true, "tool": "codegen"}}})));
    acme.targets.insert("acme/gen".into(), generated);
    repo.put("acme", acme, &[PUB_A]);
    repo.publish(2, 2);
    let t = repo.trusted();
    Case::new(&t).admit().unwrap();
    let deny = Case { policy: Policy::from_toml("ai_generated = \"deny\"").unwrap(), ..Case::new(&t) };
    let e = refused(deny.admit(), "policy");
    assert!(
        matches!(&e, AdmissionError::Policy(PolicyRefusal { rule: "ai_generated", target: Some(target), .. })
            if target == "acme/gen"),
        "{e:?}"
    );
}

#[test]
fn policy_max_metadata_age_applies_to_imports_only() {
    let policy = || Policy::from_toml("max_metadata_age = \"7d\"").unwrap();
    let at = |issued: Option<&str>| {
        let mut repo = Repo::new();
        repo.issued = issued.map(str::to_owned);
        repo.publish(2, 2);
        repo.trusted()
    };

    let stale = at(Some("2026-01-01T00:00:00Z"));
    let e = refused(Case { policy: policy(), ..Case::new(&stale) }.admit(), "policy");
    assert!(
        matches!(&e, AdmissionError::Policy(PolicyRefusal { rule: "max_metadata_age", target: None, .. })),
        "{e:?}"
    );
    Case { policy: policy(), purpose: Purpose::Reverify, ..Case::new(&stale) }.admit().unwrap();

    // Issued a day before NOW: within the age.
    let fresh = at(Some("2026-05-31T00:00:00Z"));
    Case { policy: policy(), ..Case::new(&fresh) }.admit().unwrap();

    // No issue time: the age cannot be checked.
    let unknown = at(None);
    let e = refused(Case { policy: policy(), ..Case::new(&unknown) }.admit(), "policy");
    assert!(matches!(&e, AdmissionError::Policy(PolicyRefusal { rule: "max_metadata_age", .. })), "{e:?}");
    Case::new(&unknown).admit().unwrap();

    // Issued after NOW by more than the clock skew.
    let future = at(Some("2026-06-02T00:00:00Z"));
    let e = refused(Case::new(&future).admit(), "policy");
    assert!(matches!(&e, AdmissionError::Policy(PolicyRefusal { rule: "clock_skew", .. })), "{e:?}");
}

// TrustedState::from_files

#[test]
fn trusted_state_reads_strictly() {
    let t = Repo::new().trusted();
    let root = t.root.bytes.clone();
    let ts = t.timestamp.as_ref().unwrap().bytes.clone();
    let snap = t.snapshot.as_ref().unwrap().bytes.clone();
    let delegations = TrustedState::delegations_bytes(&delegations_of(&t));

    assert!(TrustedState::from_files(None, None, None, None).unwrap().is_none());

    let s =
        TrustedState::from_files(Some(&root), Some(&ts), Some(&snap), Some(&delegations)).unwrap().unwrap();
    assert_eq!(s.delegations, delegations_of(&t));
    assert_eq!(s.snapshot.signed().version, 1);
    assert_eq!(s.root.bytes, root);

    let files = [&root, &ts, &snap, &delegations];
    let names = ["root.json", "timestamp.json", "snapshot.json", "delegations.json"];
    for (missing, &name) in names.iter().enumerate() {
        let f: Vec<Option<&[u8]>> =
            files.iter().enumerate().map(|(i, b)| (i != missing).then_some(b.as_slice())).collect();
        assert_eq!(
            TrustedState::from_files(f[0], f[1], f[2], f[3]).unwrap_err(),
            StateError::Incomplete(name)
        );
    }

    // Any mix of present and missing files is incomplete, not "fresh".
    for present in 1u8..15 {
        let f: Vec<Option<&[u8]>> = files
            .iter()
            .enumerate()
            .map(|(i, b)| (present & (1 << i) != 0).then_some(b.as_slice()))
            .collect();
        assert!(
            matches!(TrustedState::from_files(f[0], f[1], f[2], f[3]), Err(StateError::Incomplete(_))),
            "files present: {present:04b}"
        );
    }

    for (garbled, name) in names.iter().enumerate() {
        let f: Vec<&[u8]> = files
            .iter()
            .enumerate()
            .map(|(i, b)| if i == garbled { b"{not json".as_slice() } else { b.as_slice() })
            .collect();
        let e = TrustedState::from_files(Some(f[0]), Some(f[1]), Some(f[2]), Some(f[3])).unwrap_err();
        assert!(matches!(&e, StateError::Unreadable { file, .. } if file == name), "{e:?}");
    }

    // A snapshot where the timestamp belongs.
    let e = TrustedState::from_files(Some(&root), Some(&snap), Some(&snap), Some(&delegations)).unwrap_err();
    assert!(matches!(&e, StateError::Unreadable { file: "timestamp.json", .. }), "{e:?}");

    // The old format: delegations keyed by role name.
    let old = serde_json::to_vec(&json!({
        "acme": {"keys": [key(PUB_A).material_id()], "threshold": 1, "terminating": true, "paths": ["acme/*"]}
    }))
    .unwrap();
    let e = TrustedState::from_files(Some(&root), Some(&ts), Some(&snap), Some(&old)).unwrap_err();
    assert!(matches!(&e, StateError::Unreadable { file: "delegations.json", .. }), "{e:?}");

    // An unknown member in a delegation.
    let mut extra: serde_json::Value = serde_json::from_slice(&delegations).unwrap();
    extra[0]["owner"] = json!("acme");
    let e = TrustedState::from_files(
        Some(&root),
        Some(&ts),
        Some(&snap),
        Some(&serde_json::to_vec(&extra).unwrap()),
    )
    .unwrap_err();
    assert!(matches!(&e, StateError::Unreadable { file: "delegations.json", .. }), "{e:?}");
}
