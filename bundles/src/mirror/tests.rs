//! Mirror tests over the bundle test repository, with simple rules.

use super::*;
use crate::bundle::testrepo::{signer, t, target_file, Repo, ACME, FAR, INDEX, NOW, ROOT};
use crate::bundle::{create_bundle, BundleError, BundleOptions};
use airlock_core::admission::AdmissionError;
use airlock_core::metadata::{DelegatedRole, Metadata, Targets};
use airlock_core::pins::Pins;
use airlock_core::policy::Policy;
use airlock_core::Signer;
use std::collections::BTreeMap;
use std::path::Path;

/// Pins binding `namespaces` to the test repository (as "reg"), and a policy.
fn importer_for(root: &[u8], namespaces: &[&str], policy: &str) -> Importer {
    let map = serde_json::json!({
        "repositories": {"reg": ["dvd://reg"]},
        "mapping": [{"paths": namespaces, "repositories": ["reg"], "terminating": true, "threshold": 1}],
    });
    let roots = [("reg".to_owned(), root.to_vec())].into_iter().collect();
    let pins = Pins::from_parts(&serde_json::to_vec(&map).unwrap(), roots).unwrap();
    // The test repository keeps no transparency log.
    Importer { pins, policy: Policy::from_toml(&format!("require_log = false\n{policy}")).unwrap() }
}

fn rules(repo: &Repo) -> Importer {
    importer_for(&repo.root(), &["acme/*", "beta/*"], "")
}

fn bundle(repo: &Repo, since: Option<u64>) -> Vec<u8> {
    let o = BundleOptions {
        gzip: false,
        namespaces: vec![],
        since_snapshot: since,
        created: t(NOW),
        since_checkpoints: vec![],
    };
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

fn import(m: &Mirror, bytes: &[u8], r: &Importer) -> Result<ImportReport, MirrorError> {
    import_bundle(m, &mut &bytes[..], "test.tar", r, &[], t(NOW), std::time::Duration::ZERO)
}

fn rule_of(e: &MirrorError) -> &'static str {
    match e {
        MirrorError::Admission(a) => a.rule(),
        _ => "not an admission refusal",
    }
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
    assert!(verify_mirror(&m, &r, t(NOW)).unwrap().is_empty());
    assert_eq!(audit_steps(&m), vec!["import accepted"]);
    assert!(!m.journal_path().exists());
    assert_eq!(std::fs::read_dir(m.staging()).unwrap().count(), 0);
}

#[test]
fn the_audit_record_names_the_bundle_by_its_sha256_and_length() {
    let (_d, repo, m) = setup();
    let r = rules(&repo);
    let bytes = bundle(&repo, None);
    let report = import(&m, &bytes, &r).unwrap();
    let want = airlock_core::hash::sha256_hex(&bytes);
    assert_eq!(report.bundle_sha256, want);
    let records = airlock_keyceremony::transcript::read(&m.audit_path()).unwrap();
    let details = &records.last().unwrap().details;
    assert_eq!(details["bundle_sha256"], serde_json::json!(want));
    assert_eq!(details["bytes_read"], serde_json::json!(bytes.len()));
}

#[test]
fn replay_and_rollback_are_refused_and_change_nothing() {
    let (_d, mut repo, m) = setup();
    let r = rules(&repo);
    let old = bundle(&repo, None);
    import(&m, &old, &r).unwrap();
    let before = tree(m.dir());
    assert!(matches!(
        import(&m, &old, &r),
        Err(MirrorError::Admission(AdmissionError::NotNewer { trusted: 1, found: 1 }))
    ));
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
    let (d, repo, m) = setup();
    let other = Repo::new_with_index(&d.path().join("other"), 7);
    let r = importer_for(&other.root(), &["acme/*", "beta/*"], "");
    assert!(matches!(import(&m, &bundle(&repo, None), &r), Err(MirrorError::NotPinned(_))));
    let r = importer_for(&repo.root(), &["acme/*"], "");
    let before = tree(m.dir());
    let e = import(&m, &bundle(&repo, None), &r).unwrap_err();
    assert!(
        matches!(&e, MirrorError::Admission(AdmissionError::Pins { target, .. }) if target == "beta/lib.txt"),
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
    assert!(matches!(
        import(&m, &delta, &r),
        Err(MirrorError::Admission(AdmissionError::DeltaBase { base: 1, trusted: 0 }))
    ));
    // After importing snapshot 1 in full, it does.
    let d2 = tempfile::tempdir().unwrap();
    let repo1 = Repo::new(&d2.path().join("reg"));
    import(&m, &bundle(&repo1, None), &r).unwrap();
    let report = import(&m, &delta, &r).unwrap();
    assert_eq!(report.snapshot_to, 2);
    assert!(verify_mirror(&m, &r, t(NOW)).unwrap().is_empty());
}

/// Top-level targets re-delegating acme/* to key 9, signed by `by`, with
/// acme's next version (signed by 9) replacing its artifact.
fn rekey_acme(repo: &mut Repo, by: u8) {
    let mut top = Metadata::<Targets>::from_bytes(&repo.roles["targets"].1).unwrap().signed().clone();
    top.version = 2;
    let d = top.delegations.as_mut().unwrap();
    d.keys.insert(signer(9).key_id(), signer(9).public_key().clone());
    let acme: &mut DelegatedRole = d.roles.iter_mut().find(|r| r.name == "acme").unwrap();
    acme.keyids = vec![signer(9).key_id()];
    repo.put_role("targets", top, by);
    let mut next = Targets::new(2, t(FAR));
    next.targets.insert("acme/tool-1.0.tar.gz".into(), target_file(b"new"));
    repo.put_role("acme", next, 9);
    let p = repo.dir.join(format!("targets/acme/{}.tool-1.0.tar.gz", airlock_core::hash::sha256_hex(b"new")));
    std::fs::write(p, b"new").unwrap();
    repo.snapshot();
}

#[test]
fn the_index_key_alone_cannot_change_a_publishers_keys() {
    let (_d, mut repo, m) = setup();
    let r = rules(&repo);
    import(&m, &bundle(&repo, None), &r).unwrap();
    rekey_acme(&mut repo, INDEX);
    let before = tree(m.dir());
    let e = import(&m, &bundle(&repo, None), &r).unwrap_err();
    assert!(matches!(&e, MirrorError::Bundle(BundleError::Update(_))), "{e:?}");
    assert!(e.to_string().contains("role \"targets\" needs 1 valid signature"), "{e}");
    assert_eq!(tree(m.dir()), before);
}

#[test]
fn a_publisher_key_change_signed_offline_is_imported_and_recorded() {
    let (_d, mut repo, m) = setup();
    let r = rules(&repo);
    import(&m, &bundle(&repo, None), &r).unwrap();
    rekey_acme(&mut repo, ROOT);
    let report = import(&m, &bundle(&repo, None), &r).unwrap();
    let changed: Vec<_> = report.delegation_changes.iter().map(|c| (c.name.as_str(), c.change)).collect();
    assert_eq!(changed, vec![("acme", "changed")]);
    assert!(verify_mirror(&m, &r, t(NOW)).unwrap().is_empty());
}

#[test]
fn an_online_key_that_may_sign_targets_is_refused_even_on_a_fresh_mirror() {
    let d = tempfile::tempdir().unwrap();
    let repo = Repo::new_with_targets_signer(&d.path().join("reg"), INDEX);
    let m = Mirror::init(&d.path().join("mirror"), &[], None).unwrap();
    let e = import(&m, &bundle(&repo, None), &rules(&repo)).unwrap_err();
    assert_eq!(rule_of(&e), "offline-targets", "{e}");
}

#[test]
fn targets_signed_only_by_top_level_targets_are_refused() {
    let (_d, mut repo, m) = setup();
    let r = rules(&repo);
    let mut top = Metadata::<Targets>::from_bytes(&repo.roles["targets"].1).unwrap().signed().clone();
    top.version = 2;
    top.targets.insert("acme/injected".into(), target_file(b"x"));
    repo.put_role("targets", top, ROOT);
    let p = repo.dir.join(format!("targets/acme/{}.injected", airlock_core::hash::sha256_hex(b"x")));
    std::fs::write(p, b"x").unwrap();
    repo.snapshot();
    let e = import(&m, &bundle(&repo, None), &r).unwrap_err();
    assert!(
        matches!(&e, MirrorError::Admission(AdmissionError::TopLevelTarget { target }) if target == "acme/injected"),
        "{e:?}"
    );
}

#[test]
fn a_held_lock_refuses_a_second_import_and_a_lock_file_alone_does_not() {
    let (_d, repo, m) = setup();
    let held = m.lock(std::time::Duration::ZERO).unwrap();
    let e = import(&m, &bundle(&repo, None), &rules(&repo)).unwrap_err();
    assert!(matches!(e, MirrorError::Locked { waited: 0, .. }), "{e:?}");
    assert!(!e.is_refusal());
    drop(held);
    // What a lock file says (a pid, anything) means nothing: only the
    // kernel's lock on it counts, and a dead holder holds none.
    std::fs::write(m.dir().join("state/lock"), format!("{}\n", std::process::id())).unwrap();
    import(&m, &bundle(&repo, None), &rules(&repo)).unwrap();
}

#[test]
fn a_delegation_shadowing_a_trusted_namespace_breaks_served_metadata_and_is_refused() {
    let (_d, mut repo, m) = setup();
    let r = rules(&repo);
    import(&m, &bundle(&repo, None), &r).unwrap();
    // Even signed by the custodians: a new role for acme/* ahead of acme
    // gives the search acme's paths, so acme's own listing is unreachable.
    let mut top = Metadata::<Targets>::from_bytes(&repo.roles["targets"].1).unwrap().signed().clone();
    top.version = 2;
    let d = top.delegations.as_mut().unwrap();
    d.keys.insert(signer(9).key_id(), signer(9).public_key().clone());
    let mut shadow = d.roles.iter().find(|r| r.name == "acme").unwrap().clone();
    shadow.name = "shadow".into();
    shadow.keyids = vec![signer(9).key_id()];
    d.roles.insert(0, shadow);
    repo.put_role("targets", top, ROOT);
    let mut evil = Targets::new(1, t(FAR));
    evil.targets.insert("acme/evil".into(), target_file(b"evil"));
    repo.put_role("shadow", evil, 9);
    let p = repo.dir.join(format!("targets/acme/{}.evil", airlock_core::hash::sha256_hex(b"evil")));
    std::fs::write(p, b"evil").unwrap();
    repo.snapshot();
    let before = tree(m.dir());
    let e = import(&m, &bundle(&repo, None), &r).unwrap_err();
    // The carried artifact no longer resolves to the role that lists it.
    assert!(
        matches!(&e, MirrorError::Bundle(BundleError::TargetNotSigned(t)) if t == "acme/tool-1.0.tar.gz"),
        "{e:?}"
    );
    assert_eq!(tree(m.dir()), before);
}

#[test]
fn an_unreadable_trusted_state_refuses_everything() {
    let (_d, mut repo, m) = setup();
    let r = rules(&repo);
    import(&m, &bundle(&repo, None), &r).unwrap();
    std::fs::write(m.state_dir("reg").join("delegations.json"), b"{not json").unwrap();
    repo.publish("acme", ACME, 2, &[("acme/tool-2.0.tar.gz", b"two".as_slice())]);
    repo.snapshot();
    let before = tree(m.dir());
    let e = import(&m, &bundle(&repo, None), &r).unwrap_err();
    assert!(matches!(&e, MirrorError::State(_)), "{e:?}");
    assert!(!e.is_refusal());
    assert_eq!(tree(m.dir()), before);
    std::fs::remove_file(m.state_dir("reg").join("snapshot.json")).unwrap();
    assert!(matches!(import(&m, &bundle(&repo, None), &r), Err(MirrorError::State(_))));
}

/// The import's lookup of carried targets answers as the set of
/// (path, lowercased SHA-256) it replaced, a missing sha256 being "".
#[test]
fn carried_targets_answer_as_the_set_did() {
    use airlock_core::admission::Carried;
    use std::collections::BTreeSet;
    let file = |sha: Option<&str>| {
        let mut f = target_file(b"x");
        f.hashes = Default::default();
        if let Some(h) = sha {
            f.hashes.insert("sha256".into(), h.into());
        }
        f
    };
    let (upper, lower) = ("AB".repeat(32), "ab".repeat(32));
    let files = [file(Some(&upper)), file(Some(&"cd".repeat(32))), file(None), file(Some("é"))];
    let list = [
        ("acme/b", &files[0], "acme"),
        ("acme/a", &files[1], "acme"),
        ("acme/a", &files[0], "acme"),
        ("acme/c", &files[2], "acme"),
        ("acme/d", &files[3], "acme"),
    ];
    let set: BTreeSet<(String, String)> = list
        .iter()
        .map(|(t, f, _)| {
            ((*t).to_owned(), f.hashes.get("sha256").map(|h| h.to_ascii_lowercase()).unwrap_or_default())
        })
        .collect();
    let index = import::CarriedTargets::new(list.iter().copied());
    for path in ["acme/a", "acme/b", "acme/c", "acme/d", "acme/e", "", "acme"] {
        for sha in [&upper, &lower, &"cd".repeat(32), &"CD".repeat(32), "", "é", "É"] {
            assert_eq!(index.carries(path, sha), set.carries(path, sha), "{path} {sha}");
        }
    }
    assert!(
        index.carries("acme/a", &lower) && index.carries("acme/c", "") && !index.carries("acme/b", &upper)
    );
}

/// The journal is written as it is serialized: the file holds exactly what
/// `fill` wrote, and a failing `fill` leaves neither file nor temporary.
#[test]
fn write_atomic_with_writes_what_fill_writes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.json");
    let value = serde_json::json!({"moves": [["a", "b"], ["c", "d"]], "id": "x"});
    layout::write_atomic_with(&path, |w| {
        serde_json::to_writer_pretty(w, &value).map_err(std::io::Error::from)
    })
    .unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), serde_json::to_vec_pretty(&value).unwrap());
    let other = dir.path().join("other.json");
    let failed = layout::write_atomic_with(&other, |w| {
        w.write_all(b"partial")?;
        Err(std::io::Error::other("disk full"))
    });
    assert!(failed.is_err());
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, ["journal.json"]);
}
