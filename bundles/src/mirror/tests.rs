//! Mirror tests over the bundle test repository, with simple rules.

use super::*;
use crate::bundle::testrepo::{signer, t, target_file, Repo, ACME, FAR, INDEX, NOW};
use crate::bundle::{create_bundle, BundleError, BundleOptions};
use airlock_core::metadata::{DelegatedRole, Metadata, TargetFile, Targets};
use airlock_core::{registry_identity, Signer, Timestamp};
use std::collections::BTreeMap;
use std::path::Path;

struct Rules {
    identity: String,
    root: Vec<u8>,
    deny: Option<String>,
}

impl ImportRules for Rules {
    fn repository(&self, identity: &str) -> Option<String> {
        (identity == self.identity).then(|| "reg".to_owned())
    }
    fn pinned_root(&self, _: &str) -> Option<Vec<u8>> {
        Some(self.root.clone())
    }
    fn approve_target(&self, _: &str, target: &str, _: &TargetFile, _: &str) -> Result<(), String> {
        match &self.deny {
            Some(d) if target.starts_with(d.as_str()) => {
                Err(format!("namespace {d} is not pinned to this registry"))
            }
            _ => Ok(()),
        }
    }
    fn check_freshness(&self, _: Option<Timestamp>, _: Timestamp) -> Result<(), String> {
        Ok(())
    }
}

fn rules(repo: &Repo) -> Rules {
    let root = repo.root();
    let identity = registry_identity(&Metadata::from_bytes(&root).unwrap());
    Rules { identity, root, deny: None }
}

fn bundle(repo: &Repo, since: Option<u64>) -> Vec<u8> {
    let o = BundleOptions { gzip: false, namespaces: vec![], since_snapshot: since, created: t(NOW) };
    create_bundle(&repo.dir, &o, Vec::new()).unwrap().1
}

/// Every file under `dir` with its bytes, for "nothing changed" checks
/// (the audit log excluded: refusals are meant to be logged).
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file() && !e.path().ends_with("audit.jsonl"))
        .map(|e| {
            (e.path().strip_prefix(dir).unwrap().display().to_string(), std::fs::read(e.path()).unwrap())
        })
        .collect()
}

fn setup() -> (tempfile::TempDir, Repo, Mirror) {
    let d = tempfile::tempdir().unwrap();
    let repo = Repo::new(&d.path().join("reg"));
    let m = Mirror::init(&d.path().join("mirror"), &[], None).unwrap();
    (d, repo, m)
}

fn import(m: &Mirror, bytes: &[u8], r: &Rules) -> Result<ImportReport, MirrorError> {
    import_bundle(m, &mut &bytes[..], "test.tar", r, t(NOW), &[])
}

fn audit_steps(m: &Mirror) -> Vec<String> {
    airlock_keyceremony::transcript::read(&m.audit_path()).unwrap().into_iter().map(|r| r.step).collect()
}

#[test]
fn import_publishes_and_verifies() {
    let (_d, repo, m) = setup();
    let r = rules(&repo);
    let report = import(&m, &bundle(&repo, None), &r).unwrap();
    assert_eq!(report.snapshot_to, 1);
    assert_eq!(report.targets.len(), 2);
    assert!(m.served("reg").join("metadata/timestamp.json").exists());
    assert!(verify_mirror(&m, &|_| Some(r.root.clone()), t(NOW)).unwrap().is_empty());
    assert_eq!(audit_steps(&m), vec!["import accepted"]);
    assert!(!m.journal_path().exists());
    assert_eq!(std::fs::read_dir(m.staging()).unwrap().count(), 0);
}

#[test]
fn replay_and_rollback_are_refused_and_change_nothing() {
    let (_d, mut repo, m) = setup();
    let r = rules(&repo);
    let old = bundle(&repo, None);
    import(&m, &old, &r).unwrap();
    let before = tree(m.dir());
    assert!(matches!(import(&m, &old, &r), Err(MirrorError::NotNewer { trusted: 1, found: 1 })));
    assert_eq!(tree(m.dir()), before);
    repo.publish("acme", ACME, 2, &[("acme/tool-2.0.tar.gz", b"two".as_slice())]);
    repo.snapshot();
    import(&m, &bundle(&repo, None), &r).unwrap();
    let before = tree(m.dir());
    let e = import(&m, &old, &r).unwrap_err();
    assert!(matches!(e, MirrorError::Bundle(BundleError::Update(_))), "{e:?}");
    assert_eq!(tree(m.dir()), before);
    assert_eq!(
        audit_steps(&m),
        vec!["import accepted", "import refused", "import accepted", "import refused"]
    );
}

#[test]
fn unpinned_registry_and_unpinned_namespace_are_refused() {
    let (_d, repo, m) = setup();
    let mut r = rules(&repo);
    r.identity = "0".repeat(64);
    assert!(matches!(import(&m, &bundle(&repo, None), &r), Err(MirrorError::NotPinned(_))));
    let mut r = rules(&repo);
    r.deny = Some("beta/".into());
    let before = tree(m.dir());
    let e = import(&m, &bundle(&repo, None), &r).unwrap_err();
    assert!(
        matches!(&e, MirrorError::Bundle(BundleError::Refused { target, .. }) if target == "beta/lib.txt"),
        "{e:?}"
    );
    assert_eq!(tree(m.dir()), before);
}

#[test]
fn delta_applies_only_to_its_base() {
    let (_d, mut repo, m) = setup();
    let r = rules(&repo);
    repo.publish("acme", ACME, 2, &[("acme/tool-2.0.tar.gz", b"two".as_slice())]);
    repo.snapshot();
    // The mirror is empty: a delta since snapshot 1 does not apply.
    let delta = bundle(&repo, Some(1));
    assert!(matches!(import(&m, &delta, &r), Err(MirrorError::DeltaBaseMismatch { base: 1, trusted: 0 })));
    // After importing snapshot 1 in full, it does.
    let d2 = tempfile::tempdir().unwrap();
    let repo1 = Repo::new(&d2.path().join("reg"));
    import(&m, &bundle(&repo1, None), &r).unwrap();
    let report = import(&m, &delta, &r).unwrap();
    assert_eq!(report.snapshot_to, 2);
    assert!(verify_mirror(&m, &|_| Some(r.root.clone()), t(NOW)).unwrap().is_empty());
}

#[test]
fn changed_publisher_keys_are_refused_unless_accepted() {
    let (_d, mut repo, m) = setup();
    let r = rules(&repo);
    import(&m, &bundle(&repo, None), &r).unwrap();
    // A leaked index key re-delegates acme/* to the attacker's key 9.
    let mut top = Metadata::<Targets>::from_bytes(&repo.roles["targets"].1).unwrap().signed().clone();
    top.version = 2;
    let d = top.delegations.as_mut().unwrap();
    d.keys.insert(signer(9).key_id(), signer(9).public_key().clone());
    let acme: &mut DelegatedRole = d.roles.iter_mut().find(|r| r.name == "acme").unwrap();
    acme.keyids = vec![signer(9).key_id()];
    repo.put_role("targets", top, INDEX);
    let mut evil = Targets::new(2, t(FAR));
    evil.targets.insert("acme/tool-1.0.tar.gz".into(), target_file(b"evil"));
    repo.put_role("acme", evil, 9);
    let p =
        repo.dir.join(format!("targets/acme/{}.tool-1.0.tar.gz", airlock_core::hash::sha256_hex(b"evil")));
    std::fs::write(p, b"evil").unwrap();
    repo.snapshot();
    let before = tree(m.dir());
    let b = bundle(&repo, None);
    assert!(matches!(import(&m, &b, &r), Err(MirrorError::DelegationChanged(role)) if role == "acme"));
    assert_eq!(tree(m.dir()), before);
    import_bundle(&m, &mut &b[..], "b", &r, t(NOW), &["acme".to_owned()]).unwrap();
}

#[test]
fn targets_signed_only_by_top_level_targets_are_refused() {
    let (_d, mut repo, m) = setup();
    let r = rules(&repo);
    let mut top = Metadata::<Targets>::from_bytes(&repo.roles["targets"].1).unwrap().signed().clone();
    top.version = 2;
    top.targets.insert("acme/injected".into(), target_file(b"x"));
    repo.put_role("targets", top, INDEX);
    let p = repo.dir.join(format!("targets/acme/{}.injected", airlock_core::hash::sha256_hex(b"x")));
    std::fs::write(p, b"x").unwrap();
    repo.snapshot();
    let e = import(&m, &bundle(&repo, None), &r).unwrap_err();
    assert!(
        matches!(&e, MirrorError::Bundle(BundleError::Refused { target, .. }) if target == "acme/injected"),
        "{e:?}"
    );
}

#[test]
fn a_live_lock_refuses_a_second_import() {
    let (_d, repo, m) = setup();
    std::fs::write(m.dir().join("state/lock"), format!("{}\n", std::process::id())).unwrap();
    assert!(matches!(import(&m, &bundle(&repo, None), &rules(&repo)), Err(MirrorError::Locked { .. })));
    // A lock left by a process that is gone is taken over.
    std::fs::write(m.dir().join("state/lock"), "999999999\n").unwrap();
    import(&m, &bundle(&repo, None), &rules(&repo)).unwrap();
}

#[test]
fn a_new_delegation_claiming_a_trusted_namespace_is_refused() {
    let (_d, mut repo, m) = setup();
    let r = rules(&repo);
    import(&m, &bundle(&repo, None), &r).unwrap();
    // The operator puts a new role for acme/* ahead of acme, so the search
    // reaches it first: only the mirror's record of acme/* stops it.
    let mut top = Metadata::<Targets>::from_bytes(&repo.roles["targets"].1).unwrap().signed().clone();
    top.version = 2;
    let d = top.delegations.as_mut().unwrap();
    d.keys.insert(signer(9).key_id(), signer(9).public_key().clone());
    let mut shadow = d.roles.iter().find(|r| r.name == "acme").unwrap().clone();
    shadow.name = "shadow".into();
    shadow.keyids = vec![signer(9).key_id()];
    d.roles.insert(0, shadow);
    repo.put_role("targets", top, INDEX);
    let mut evil = Targets::new(1, t(FAR));
    evil.targets.insert("acme/evil".into(), target_file(b"evil"));
    // Copying acme's own target in, so every path still resolves.
    evil.targets.insert("acme/tool-1.0.tar.gz".into(), target_file(b"acme tool one"));
    repo.put_role("shadow", evil, 9);
    let p = repo.dir.join(format!("targets/acme/{}.evil", airlock_core::hash::sha256_hex(b"evil")));
    std::fs::write(p, b"evil").unwrap();
    repo.snapshot();
    let before = tree(m.dir());
    let e = import(&m, &bundle(&repo, None), &r).unwrap_err();
    assert!(
        matches!(&e, MirrorError::NamespaceClaimed { role, owner } if role == "shadow" && owner == "acme"),
        "{e:?}"
    );
    assert_eq!(tree(m.dir()), before);
}
