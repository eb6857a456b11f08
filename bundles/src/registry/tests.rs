use super::*;
use airlock_core::provenance::Provenance;
use airlock_core::{Ed25519Signer, ThresholdError};
use airlock_keyceremony::rotation::{initial_root, propose, Change, InitialRoot};

fn key(seed: u8) -> Ed25519Signer {
    Ed25519Signer::new(ed25519_dalek::SigningKey::from_bytes(&[seed; 32]))
}

fn t(s: &str) -> Timestamp {
    Timestamp::parse(s).unwrap()
}

const NOW: &str = "2026-06-01T00:00:00Z";

fn now() -> Timestamp {
    t(NOW)
}

/// Custodians 1 and 2 (threshold 2), index key 10, publishers acme (20) and beta (21).
struct Fixture {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    reg: PathBuf,
    custodians: Vec<Ed25519Signer>,
    index: Ed25519Signer,
    roots: Vec<(PathBuf, Vec<u8>)>,
}

fn root_v1(custodians: &[Ed25519Signer], index: &Ed25519Signer, rehearsal: bool) -> Vec<u8> {
    let init = InitialRoot {
        registry: "example".into(),
        custodians: custodians
            .iter()
            .enumerate()
            .map(|(i, k)| (format!("c{i}"), k.public_key().clone()))
            .collect(),
        threshold: 2,
        index_key: index.public_key().clone(),
        expiry_days: Default::default(),
        rehearsal,
    };
    let mut md = Metadata::new(initial_root(&init, now()).unwrap()).unwrap();
    for c in custodians {
        md.sign(c).unwrap();
    }
    md.to_bytes()
}

/// The first top-level targets, signed by `custodians`.
fn targets_v1(custodians: &[Ed25519Signer]) -> Vec<u8> {
    let mut md = Metadata::new(Targets::new(1, now().plus_secs(365 * DAY))).unwrap();
    for c in custodians {
        md.sign(c).unwrap();
    }
    md.to_bytes()
}

impl Fixture {
    fn targets1(&self) -> (PathBuf, Vec<u8>) {
        (self.dir.join("1.targets.json"), targets_v1(&self.custodians))
    }

    /// Proposes `change`, has every custodian sign it, and publishes it.
    fn change(&self, change: &OwnershipChange) -> Result<ChangeReport, RegistryError> {
        let mut reg = self.open();
        let mut draft = reg.propose_targets(change, now())?;
        for c in &self.custodians {
            draft.proposed.sign(c).unwrap();
        }
        reg.finalize_targets(&draft, &self.index, now())
    }

    fn new() -> Fixture {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let custodians = vec![key(1), key(2)];
        let index = key(10);
        let roots = vec![(dir.join("1.root.json"), root_v1(&custodians, &index, false))];
        let reg = dir.join("reg");
        let t1 = (dir.join("1.targets.json"), targets_v1(&custodians));
        Registry::init(&reg, roots.clone(), t1, &index, now()).unwrap();
        Fixture { _tmp: tmp, dir, reg, custodians, index, roots }
    }

    fn with_publishers() -> Fixture {
        let f = Fixture::new();
        f.add("acme", 20, &["acme/*"]).unwrap();
        f.add("beta", 21, &["beta/*", "beta/*/*"]).unwrap();
        f
    }

    fn open(&self) -> Registry {
        Registry::open_for_writing(&self.reg, now()).unwrap()
    }

    fn add(&self, name: &str, seed: u8, ns: &[&str]) -> Result<ChangeReport, RegistryError> {
        let p = NewPublisher {
            name: name.into(),
            keys: vec![key(seed).public_key().clone()],
            namespaces: ns.iter().map(|s| s.to_string()).collect(),
            threshold: 1,
            allow_overlap: false,
        };
        self.change(&OwnershipChange::Add(p))
    }

    /// Publishes `files` (target path, bytes) as `role` signed by `seed`,
    /// on top of `current` (a role file), into a new submission directory.
    fn submit(&self, role: &str, seed: u8, current: Option<&Path>, files: &[(&str, &[u8])]) -> PathBuf {
        self.submit_with(role, seed, current, files, &Provenance::default())
    }

    fn submit_with(
        &self,
        role: &str,
        seed: u8,
        current: Option<&Path>,
        files: &[(&str, &[u8])],
        prov: &Provenance,
    ) -> PathBuf {
        let n = fs::read_dir(&self.dir).unwrap().count();
        let src = self.dir.join(format!("src{n}"));
        fs::create_dir(&src).unwrap();
        let mut specs = Vec::new();
        for (i, (target, bytes)) in files.iter().enumerate() {
            let p = src.join(i.to_string());
            fs::write(&p, bytes).unwrap();
            specs.push(ArtifactSpec { source: p, target: target.to_string(), sigstore: None });
        }
        let cur = current.map(|p| (p.to_path_buf(), fs::read(p).unwrap()));
        let out = self.dir.join(format!("sub{n}"));
        let req = PublishRequest {
            role,
            current: cur.as_ref().map(|(p, b)| (p.as_path(), b.as_slice())),
            current_bins: &BTreeMap::new(),
            bins: None,
            artifacts: &specs,
            provenance: prov,
            expires: now().plus_secs(90 * DAY),
            now: now(),
        };
        publish(&req, &key(seed), &out).unwrap();
        out
    }

    fn accept(&self, sub: &Path) -> Result<AcceptReport, RegistryError> {
        self.open().accept(sub, &self.index, now())
    }

    fn tree(&self) -> String {
        tree_hash(&self.reg)
    }

    fn verify_ok(&self) -> VerifyReport {
        let r = verify(&self.reg, now());
        assert!(r.ok(), "{:#?}", r.problems);
        r
    }
}

fn tree_hash(dir: &Path) -> String {
    fn walk(base: &Path, dir: &Path, acc: &mut Vec<u8>) {
        let mut entries: Vec<PathBuf> = fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
        entries.sort();
        for p in entries {
            acc.extend_from_slice(p.strip_prefix(base).unwrap().to_string_lossy().as_bytes());
            acc.push(0);
            if p.is_dir() {
                walk(base, &p, acc);
            } else {
                acc.extend_from_slice(&fs::read(&p).unwrap());
            }
            acc.push(0);
        }
    }
    let mut acc = Vec::new();
    walk(dir, dir, &mut acc);
    sha256_hex(&acc)
}

fn role_file(f: &Fixture, sub: &Path, role: &str) -> PathBuf {
    let p = sub.join(format!("{role}.json"));
    assert!(p.is_file());
    let _ = f;
    p
}

#[test]
fn init_writes_a_repository_that_verifies() {
    let f = Fixture::new();
    for p in [
        "metadata/1.root.json",
        "metadata/root.json",
        "metadata/timestamp.json",
        "metadata/1.snapshot.json",
        "metadata/1.targets.json",
        "registry/state.json",
        "registry/accepted.jsonl",
    ] {
        assert!(f.reg.join(p).is_file(), "{p}");
    }
    // The lock file stays; what counts is the kernel lock on it, now free.
    crate::filelock::FileLock::take(&f.reg.join("registry/lock"), std::time::Duration::ZERO).unwrap();
    let r = f.verify_ok();
    assert_eq!((r.root_version, r.timestamp_version, r.snapshot_version), (Some(1), Some(1), Some(1)));
    let s = status(&f.reg, now()).unwrap();
    assert_eq!(s.registry, "example");
    assert_eq!(s.soonest.unwrap().role, "timestamp");
}

#[test]
fn init_refusals() {
    let f = Fixture::new();
    // Not empty.
    assert!(matches!(
        Registry::init(&f.reg, f.roots.clone(), f.targets1(), &f.index, now()),
        Err(RegistryError::NotEmpty { .. })
    ));
    // A rehearsal root.
    let rehearsal = vec![(f.dir.join("r.json"), root_v1(&f.custodians, &f.index, true))];
    let reg2 = f.dir.join("reg2");
    assert!(matches!(
        Registry::init(&reg2, rehearsal, f.targets1(), &f.index, now()),
        Err(RegistryError::Rehearsal { version: 1 })
    ));
    assert!(!reg2.exists());
    // A key that is no index key.
    let err = Registry::init(&reg2, f.roots.clone(), f.targets1(), &key(99), now()).unwrap_err();
    assert!(matches!(err, RegistryError::IndexKey { problem: IndexKeyProblem::NotListed, .. }), "{err}");
    // A root signed by one custodian only.
    let mut md = Metadata::<Root>::from_bytes(&f.roots[0].1).unwrap();
    md.remove_signature(&f.custodians[1].key_id());
    let err = Registry::init(&reg2, vec![(f.dir.join("x"), md.to_bytes())], f.targets1(), &f.index, now())
        .unwrap_err();
    assert!(matches!(err, RegistryError::RootChain(_)), "{err}");
    // Expired at the time given.
    let err = Registry::init(&reg2, f.roots.clone(), f.targets1(), &f.index, t("2030-01-01T00:00:00Z"))
        .unwrap_err();
    assert!(matches!(err, RegistryError::RootChain(_)), "{err}");
    assert!(!reg2.exists());
    // A first targets signed by the index key, not the custodians.
    let mut by_index = Metadata::new(Targets::new(1, now().plus_secs(365 * DAY))).unwrap();
    by_index.sign(&f.index).unwrap();
    let err = Registry::init(&reg2, f.roots.clone(), (f.dir.join("t"), by_index.to_bytes()), &f.index, now())
        .unwrap_err();
    assert!(matches!(err, RegistryError::TargetsSignature { version: 1, .. }), "{err}");
    assert!(!reg2.exists());
}

#[test]
fn the_index_key_alone_cannot_change_namespace_ownership() {
    let f = Fixture::with_publishers();
    let mut reg = f.open();
    let p = NewPublisher {
        name: "mallory".into(),
        keys: vec![key(66).public_key().clone()],
        namespaces: vec!["acme/*".into()],
        threshold: 1,
        allow_overlap: true,
    };
    let mut draft = reg.propose_targets(&OwnershipChange::Add(p), now()).unwrap();
    draft.proposed.sign(&f.index).unwrap();
    draft.proposed.sign(&f.custodians[0]).unwrap();
    let err = reg.finalize_targets(&draft, &f.index, now()).unwrap_err();
    assert!(
        matches!(
            &err,
            RegistryError::TargetsSignature { source: ThresholdError::NotMet { counted: 1, .. }, .. }
        ),
        "{err}"
    );
    drop(reg);
    // A draft made before another change was published is stale.
    let old = f.open().propose_targets(&OwnershipChange::Renew, now()).unwrap();
    f.change(&OwnershipChange::Renew).unwrap();
    let mut old = old;
    for c in &f.custodians {
        old.proposed.sign(c).unwrap();
    }
    let err = f.open().finalize_targets(&old, &f.index, now()).unwrap_err();
    assert!(matches!(err, RegistryError::StaleDraft { .. }), "{err}");
    f.verify_ok();
}

#[test]
fn a_publisher_rekey_replaces_its_keys() {
    let f = Fixture::with_publishers();
    let change = OwnershipChange::Rekey {
        name: "acme".into(),
        keys: vec![key(30).public_key().clone()],
        threshold: 1,
    };
    f.change(&change).unwrap();
    let sub = f.submit("acme", 20, None, &[("acme/x", b"x")]);
    refused(&f, &sub, |e| matches!(e, RegistryError::Signature { .. }));
    let sub = f.submit("acme", 30, None, &[("acme/x", b"x")]);
    f.accept(&sub).unwrap();
    let acme = f.open().publishers().into_iter().find(|p| p.name == "acme").unwrap();
    assert_eq!(acme.keyids, vec![key(30).key_id()]);
    f.verify_ok();
}

#[test]
fn publishers_and_overlap() {
    let f = Fixture::with_publishers();
    let err = f.add("gamma", 22, &["acme/tool*"]).unwrap_err();
    assert!(matches!(err, RegistryError::NamespaceOverlap { ref other, .. } if other == "acme"), "{err}");
    assert!(matches!(f.add("acme", 22, &["x/*"]), Err(RegistryError::PublisherExists { .. })));
    assert!(matches!(f.add("Bad", 22, &["x/*"]), Err(RegistryError::BadPublisherName { .. })));
    assert!(matches!(f.add("snapshot", 22, &["x/*"]), Err(RegistryError::BadPublisherName { .. })));
    assert!(matches!(f.add("gamma", 22, &["../*"]), Err(RegistryError::BadNamespace { .. })));
    let p = NewPublisher {
        name: "gamma".into(),
        keys: vec![key(22).public_key().clone()],
        namespaces: vec!["acme/tool*".into()],
        threshold: 2,
        allow_overlap: true,
    };
    assert!(matches!(
        f.change(&OwnershipChange::Add(p.clone())),
        Err(RegistryError::BadThreshold { threshold: 2, keys: 1 })
    ));
    let p = NewPublisher { threshold: 1, ..p };
    f.change(&OwnershipChange::Add(p)).unwrap();
    let names: Vec<String> = f.open().publishers().into_iter().map(|p| p.name).collect();
    assert_eq!(names, ["acme", "beta", "gamma"]);
    f.verify_ok();
}

#[test]
fn accept_twice_for_two_publishers_then_verify() {
    let f = Fixture::with_publishers();
    let prov = Provenance { ai_generated: true, tool: Some("gen".into()), ..Default::default() };
    let a1 = f.submit_with("acme", 20, None, &[("acme/tool-1.0.tar.gz", b"tool one")], &prov);
    let r = f.accept(&a1).unwrap();
    assert_eq!((r.version, r.seq), (1, 1));
    assert_eq!(r.targets_added, ["acme/tool-1.0.tar.gz"]);
    let b1 = f.submit("beta", 21, None, &[("beta/lib/x.so", b"lib x")]);
    f.accept(&b1).unwrap();
    let a2 =
        f.submit("acme", 20, Some(&role_file(&f, &a1, "acme")), &[("acme/tool-2.0.tar.gz", b"tool two")]);
    let r = f.accept(&a2).unwrap();
    assert_eq!((r.version, r.targets_total), (2, 2));
    assert_eq!(r.targets_added, ["acme/tool-2.0.tar.gz"]);
    let b2 = f.submit("beta", 21, Some(&role_file(&f, &b1, "beta")), &[("beta/y", b"y")]);
    f.accept(&b2).unwrap();
    let report = f.verify_ok();
    assert_eq!(report.targets_checked, 4);
    assert_eq!(report.roles_checked, 3);
    let sha = sha256_hex(b"tool one");
    assert!(f.reg.join(format!("targets/acme/{sha}.tool-1.0.tar.gz")).is_file());
    let log = fs::read_to_string(f.reg.join("registry/accepted.jsonl")).unwrap();
    assert_eq!(log.lines().count(), 4);
    let reg = f.open();
    assert_eq!(reg.state().acceptances, 4);
    assert_eq!(reg.last_accepted("acme"), Some(2));
    let (role, _) = reg.publisher_role("acme").unwrap().unwrap();
    let p = Provenance::of_target(&role.signed().targets["acme/tool-1.0.tar.gz"]).unwrap().unwrap();
    assert_eq!(p, prov);
    drop(reg);
    let s = status(&f.reg, now()).unwrap();
    assert_eq!((s.counts.publishers, s.counts.targets, s.counts.acceptances), (2, 4, 4));
}

/// Asserts `accept` refuses with `check` and the tree is unchanged.
fn refused(f: &Fixture, sub: &Path, check: impl Fn(&RegistryError) -> bool) -> RegistryError {
    let before = f.tree();
    let err = f.accept(sub).unwrap_err();
    assert!(check(&err), "unexpected reason: {err:?}");
    assert_eq!(err.kind(), ErrorKind::Refused);
    assert_eq!(before, f.tree(), "repository changed by a refused submission");
    err
}

#[test]
fn refuses_unknown_publisher() {
    let f = Fixture::with_publishers();
    let sub = f.submit("gamma", 20, None, &[("acme/x", b"x")]);
    refused(&f, &sub, |e| matches!(e, RegistryError::UnknownPublisher { role } if role == "gamma"));
}

#[test]
fn refuses_bad_signature_and_edited_provenance() {
    let f = Fixture::with_publishers();
    let sub = f.submit("acme", 21, None, &[("acme/x", b"x")]);
    refused(&f, &sub, |e| matches!(e, RegistryError::Signature { role, .. } if role == "acme"));
    let sub = f.submit("acme", 20, None, &[("acme/x", b"x")]);
    let p = sub.join("acme.json");
    let mut v: serde_json::Value = serde_json::from_slice(&fs::read(&p).unwrap()).unwrap();
    v["signed"]["targets"]["acme/x"]["custom"]["airlock"]["provenance"]["ai_generated"] = true.into();
    fs::write(&p, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    refused(&f, &sub, |e| matches!(e, RegistryError::Signature { .. }));
}

#[test]
fn refuses_target_outside_namespace() {
    let f = Fixture::with_publishers();
    let sub = f.submit("acme", 20, None, &[("acme/ok", b"1"), ("beta/evil", b"2")]);
    let e = refused(
        &f,
        &sub,
        |e| matches!(e, RegistryError::OutsideNamespace { target, .. } if target == "beta/evil"),
    );
    assert!(e.to_string().contains("role acme, target \"beta/evil\""), "{e}");
    let sub = f.submit("acme", 20, None, &[("acme/sub/deep", b"1")]);
    refused(&f, &sub, |e| matches!(e, RegistryError::OutsideNamespace { .. }));
    let sub = f.submit("acme", 20, None, &[("acme/x", b"1")]);
    let p = sub.join("acme.json");
    let mut md = Metadata::<Targets>::from_bytes(&fs::read(&p).unwrap()).unwrap();
    let mut s = md.signed().clone();
    let file = s.targets.remove("acme/x").unwrap();
    s.targets.insert("acme/..".into(), file);
    md.set_signed(s).unwrap();
    md.sign(&key(20)).unwrap();
    fs::write(&p, md.to_bytes()).unwrap();
    refused(&f, &sub, |e| matches!(e, RegistryError::BadTargetPath { .. }));
}

#[test]
fn refuses_version_not_greater() {
    let f = Fixture::with_publishers();
    let sub = f.submit("acme", 20, None, &[("acme/x", b"x")]);
    f.accept(&sub).unwrap();
    refused(&f, &sub, |e| matches!(e, RegistryError::VersionNotGreater { version: 1, accepted: 1, .. }));
    let again = f.submit("acme", 20, None, &[("acme/y", b"y")]);
    refused(&f, &again, |e| matches!(e, RegistryError::VersionNotGreater { .. }));
}

#[test]
fn refuses_changed_missing_and_extra_artifacts() {
    let f = Fixture::with_publishers();
    let sub = f.submit("acme", 20, None, &[("acme/x", b"xxxx"), ("acme/y", b"yy")]);
    fs::write(sub.join("targets/acme/x"), b"xxxY").unwrap();
    refused(
        &f,
        &sub,
        |e| matches!(e, RegistryError::ArtifactMismatch { target, source: TargetError::HashMismatch { .. }, .. } if target == "acme/x"),
    );
    fs::write(sub.join("targets/acme/x"), b"xxxx and more").unwrap();
    refused(&f, &sub, |e| {
        matches!(e, RegistryError::ArtifactMismatch { source: TargetError::TooLong { .. }, .. })
    });
    fs::write(sub.join("targets/acme/x"), b"xxxx").unwrap();
    fs::remove_file(sub.join("targets/acme/y")).unwrap();
    refused(&f, &sub, |e| matches!(e, RegistryError::ArtifactMissing { target, .. } if target == "acme/y"));
    fs::write(sub.join("targets/acme/y"), b"yy").unwrap();
    fs::write(sub.join("targets/acme/z"), b"zz").unwrap();
    refused(&f, &sub, |e| matches!(e, RegistryError::ExtraFile { path, .. } if path == "targets/acme/z"));
    fs::remove_file(sub.join("targets/acme/z")).unwrap();
    fs::write(sub.join("README"), b"hi").unwrap();
    refused(&f, &sub, |e| matches!(e, RegistryError::ExtraFile { path, .. } if path == "README"));
    fs::remove_file(sub.join("README")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", sub.join("targets/acme/w")).unwrap();
    refused(&f, &sub, |e| matches!(e, RegistryError::ExtraFile { path, .. } if path == "targets/acme/w"));
    fs::remove_file(sub.join("targets/acme/w")).unwrap();
    f.accept(&sub).unwrap();
}

#[test]
fn carried_over_targets_need_no_bytes_but_changed_ones_do() {
    let f = Fixture::with_publishers();
    let s1 = f.submit("acme", 20, None, &[("acme/x", b"x1")]);
    f.accept(&s1).unwrap();
    let s2 = f.submit("acme", 20, Some(&s1.join("acme.json")), &[("acme/y", b"y")]);
    assert!(!s2.join("targets/acme/x").exists());
    f.accept(&s2).unwrap();
    // A role that changes x's hash without shipping the new bytes.
    let s3 = f.submit("acme", 20, Some(&s2.join("acme.json")), &[("acme/x", b"x2")]);
    fs::remove_file(s3.join("targets/acme/x")).unwrap();
    refused(&f, &s3, |e| matches!(e, RegistryError::ArtifactMissing { target, .. } if target == "acme/x"));
    f.verify_ok();
}

#[test]
fn refuses_retiring_and_revoked_index_keys() {
    for revoke in [false, true] {
        let f = Fixture::with_publishers();
        let new_index = key(11);
        let v1 = Metadata::<Root>::from_bytes(&f.roots[0].1).unwrap();
        let change = if revoke {
            Change::RevokeIndex { new_key: new_index.public_key().clone() }
        } else {
            Change::RotateIndex {
                new_key: new_index.public_key().clone(),
                deadline: t("2026-07-01T00:00:00Z"),
            }
        };
        let mut v2 = Metadata::new(propose(&v1, &[change], now()).unwrap()).unwrap();
        for c in &f.custodians {
            v2.sign(c).unwrap();
        }
        let roots = vec![f.roots[0].clone(), (f.dir.join("2.root.json"), v2.to_bytes())];
        // The old key may not take the new root in.
        let err = f.open().update_root(roots.clone(), None, &f.index, now()).unwrap_err();
        assert!(matches!(err, RegistryError::IndexKey { .. }), "{err}");
        let r = f.open().update_root(roots, None, &new_index, now()).unwrap();
        assert_eq!(r.roots_added, [2]);
        f.verify_ok();
        let sub = f.submit("acme", 20, None, &[("acme/x", b"x")]);
        let e = refused(&f, &sub, |e| match e {
            RegistryError::IndexKey { problem: IndexKeyProblem::Retiring { .. }, .. } => !revoke,
            RegistryError::IndexKey { problem: IndexKeyProblem::Revoked { in_root_version: 2 }, .. } => {
                revoke
            }
            _ => false,
        });
        assert!(e.to_string().contains(&f.index.key_id().short()), "{e}");
        f.open().accept(&sub, &new_index, now()).unwrap();
        f.verify_ok();
    }
}

#[test]
fn a_second_writer_is_refused() {
    let f = Fixture::new();
    let first = f.open();
    let err = Registry::open_for_writing(&f.reg, now()).unwrap_err();
    assert!(matches!(err, RegistryError::Locked { .. }));
    assert_eq!(err.kind(), ErrorKind::Config);
    drop(first);
    f.open();
}

#[test]
fn a_failure_at_any_step_leaves_the_old_repository() {
    let f = Fixture::with_publishers();
    let s1 = f.submit("beta", 21, None, &[("beta/x", b"x1")]);
    f.accept(&s1).unwrap();
    let sub = f.submit("beta", 21, Some(&s1.join("beta.json")), &[("beta/new/y", b"y"), ("beta/z", b"z")]);
    let steps = ["artifact", "2.beta.json", "5.snapshot.json", "timestamp.json"];
    for (i, step) in steps.iter().enumerate() {
        let before = f.tree();
        let mut calls = 0;
        let mut hook = |s: &str| {
            calls += 1;
            if s == *step && (i != 0 || calls == 2) {
                Err(std::io::Error::other("injected"))
            } else {
                Ok(())
            }
        };
        let err = f.open().accept_with_hook(&sub, &f.index, now(), &mut hook).unwrap_err();
        assert!(matches!(err, RegistryError::Io { .. }), "{err}");
        assert_eq!(before, f.tree(), "step {step}");
        let r = f.verify_ok();
        assert_eq!(r.snapshot_version, Some(4));
    }
    f.accept(&sub).unwrap();
    assert_eq!(f.verify_ok().snapshot_version, Some(5));
}

#[test]
fn a_crash_after_the_timestamp_is_recovered() {
    let f = Fixture::with_publishers();
    let state = fs::read(f.reg.join("registry/state.json")).unwrap();
    let log = fs::read(f.reg.join("registry/accepted.jsonl")).unwrap();
    let sub = f.submit("acme", 20, None, &[("acme/x", b"x")]);
    f.accept(&sub).unwrap();
    // As if the process died after publishing timestamp.json.
    fs::write(f.reg.join("registry/state.json"), &state).unwrap();
    fs::write(f.reg.join("registry/accepted.jsonl"), &log).unwrap();
    // The served repository is whole: verify passes and names the state as
    // one acceptance behind, which the next writer records.
    let r = verify(&f.reg, now());
    assert!(r.ok(), "{:?}", r.problems);
    assert_eq!(r.state_behind, ["acme"]);
    let reg = f.open();
    assert_eq!(reg.state().publishers["acme"].accepted.as_ref().map(|a| a.version), Some(1));
    drop(reg);
    f.verify_ok();
    let text = fs::read_to_string(f.reg.join("registry/accepted.jsonl")).unwrap();
    assert!(text.contains("\"recovered\":true"), "{text}");
    // A lock file left by a crash holds nothing: the kernel released it.
    fs::write(f.reg.join("registry/lock"), "pid 1").unwrap();
    f.open();
}

#[test]
fn verify_reports_every_problem() {
    let f = Fixture::with_publishers();
    let a = f.submit("acme", 20, None, &[("acme/x", b"xx"), ("acme/y", b"yy")]);
    f.accept(&a).unwrap();
    let b = f.submit("beta", 21, None, &[("beta/z", b"zz")]);
    f.accept(&b).unwrap();
    for (path, bytes) in [("acme/x", b"xx"), ("beta/z", b"zz")] {
        let (dir, base) = path.split_once('/').unwrap();
        let p = f.reg.join(format!("targets/{dir}/{}.{base}", sha256_hex(bytes)));
        fs::write(p, b"XX").unwrap();
    }
    fs::remove_file(f.reg.join(format!("targets/acme/{}.y", sha256_hex(b"yy")))).unwrap();
    let r = verify(&f.reg, now());
    let subjects: Vec<&str> = r.problems.iter().map(|p| p.subject.as_str()).collect();
    assert_eq!(
        subjects,
        ["role acme, target acme/x", "role acme, target acme/y", "role beta, target beta/z"]
    );
    // Expired metadata is reported too, with the rest.
    // (The default timestamp period is 31 days.)
    let r = verify(&f.reg, t("2026-07-10T00:00:00Z"));
    assert!(r.problems.iter().any(|p| p.subject == "metadata/timestamp.json"), "{:#?}", r.problems);
    assert_eq!(r.problems.iter().filter(|p| p.subject.starts_with("role ")).count(), 3);
}

#[test]
fn remove_refresh_and_readd() {
    let f = Fixture::with_publishers();
    let a = f.submit("acme", 20, None, &[("acme/x", b"x")]);
    f.accept(&a).unwrap();
    let r = f.change(&OwnershipChange::Remove("acme".into())).unwrap();
    assert!(r.targets_version.is_some());
    let reg = f.open();
    assert!(reg.snapshot().signed().meta.contains_key("acme.json"), "snapshot must keep the role");
    assert_eq!(reg.publishers().len(), 1);
    drop(reg);
    f.verify_ok();
    let before = f.open().targets().signed().clone();
    let later = t("2026-06-01T20:00:00Z");
    let r = Registry::open_for_writing(&f.reg, later).unwrap().refresh(&f.index, later).unwrap();
    assert_eq!(r.targets_version, None);
    assert_eq!(&before, f.open().targets().signed());
    assert!(verify(&f.reg, t("2026-06-02T10:00:00Z")).ok());
    // Re-added, the publisher continues from its last accepted version.
    f.add("acme", 22, &["acme/*"]).unwrap();
    let again = f.submit("acme", 22, None, &[("acme/x", b"x")]);
    refused(&f, &again, |e| matches!(e, RegistryError::VersionNotGreater { .. }));
    let next = f.submit("acme", 22, Some(&a.join("acme.json")), &[("acme/w", b"w")]);
    f.accept(&next).unwrap();
    f.verify_ok();
}

#[test]
fn publish_refusals() {
    let f = Fixture::new();
    let src = f.dir.join("a");
    fs::write(&src, b"a").unwrap();
    let specs = [ArtifactSpec { source: src.clone(), target: "acme/../x".into(), sigstore: None }];
    let prov = Provenance::default();
    let none = BTreeMap::new();
    let req = PublishRequest {
        role: "acme",
        current: None,
        current_bins: &none,
        bins: None,
        artifacts: &specs,
        provenance: &prov,
        expires: now(),
        now: now(),
    };
    let out = f.dir.join("out");
    assert!(matches!(publish(&req, &key(20), &out), Err(RegistryError::BadArtifact { .. })));
    let bad = Provenance { reviewed_at: Some(now()), ..Default::default() };
    let specs = [ArtifactSpec { source: src, target: "acme/x".into(), sigstore: None }];
    let req = PublishRequest { provenance: &bad, artifacts: &specs, ..req };
    assert!(matches!(publish(&req, &key(20), &out), Err(RegistryError::Provenance(_))));
    assert!(!out.exists());
    fs::create_dir(&out).unwrap();
    let req = PublishRequest { provenance: &prov, ..req };
    assert!(matches!(publish(&req, &key(20), &out), Err(RegistryError::OutputExists { .. })));
}

#[test]
fn dir_transport_caps_and_refuses_paths() {
    use airlock_core::client::{Transport, TransportError};
    let f = Fixture::new();
    let mut t = DirTransport::new(f.reg.join("metadata"));
    assert!(t.fetch_metadata("1.root.json", 1 << 20).unwrap().is_some());
    assert!(t.fetch_metadata("9.root.json", 1 << 20).unwrap().is_none());
    assert_eq!(t.fetch_metadata("1.root.json", 10), Err(TransportError::TooLarge { limit: 10 }));
    assert!(t.fetch_metadata("../registry/state.json", 1 << 20).is_err());
}

use airlock_core::target::TargetError;

mod bins_accept;
