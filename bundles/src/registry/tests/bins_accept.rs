//! Publishing and accepting with hash bins (FORMAT.md 5.6): each refusal
//! built as its own bad submission and named by its exact reason.

use super::*;

impl Fixture {
    /// Publishes `files` as `role` signed by `seed`, on top of what the
    /// registry now publishes for the role and its bins (or as a first
    /// release), asking for `bins` hash bins.
    fn submit_binned(
        &self,
        role: &str,
        seed: u8,
        bins: Option<u32>,
        files: &[(&str, &[u8])],
    ) -> (PathBuf, PublishReport) {
        self.submit_binned_at(now(), role, seed, bins, files)
    }

    /// As `submit_binned`, signing at `at` for 90 days.
    fn submit_binned_at(
        &self,
        at: Timestamp,
        role: &str,
        seed: u8,
        bins: Option<u32>,
        files: &[(&str, &[u8])],
    ) -> (PathBuf, PublishReport) {
        let reg = Registry::open(&self.reg).unwrap();
        let current = reg.publisher_role(role).unwrap();
        let mut current_bins = BTreeMap::new();
        for b in
            current.iter().flat_map(|(md, _)| md.signed().delegations.iter().flat_map(|d| d.roles.clone()))
        {
            if let Some((_, bytes)) = reg.publisher_role(&b.name).unwrap() {
                current_bins.insert(b.name.clone(), (PathBuf::from(&b.name), bytes));
            }
        }
        let n = fs::read_dir(&self.dir).unwrap().count();
        let src = self.dir.join(format!("src{n}"));
        fs::create_dir(&src).unwrap();
        let specs: Vec<ArtifactSpec> = files
            .iter()
            .enumerate()
            .map(|(i, (target, bytes))| {
                let p = src.join(i.to_string());
                fs::write(&p, bytes).unwrap();
                ArtifactSpec { source: p, target: target.to_string(), sigstore: None }
            })
            .collect();
        let out = self.dir.join(format!("sub{n}"));
        let prov = Provenance::default();
        let req = PublishRequest {
            role,
            current: current.as_ref().map(|(_, b)| (Path::new("current.json"), b.as_slice())),
            current_bins: &current_bins,
            bins,
            artifacts: &specs,
            provenance: &prov,
            expires: at.plus_secs(90 * DAY),
            now: at,
        };
        let r = publish(&req, &key(seed), &out).unwrap();
        (out, r)
    }
}

fn role_md(sub: &Path, role: &str) -> Metadata<Targets> {
    Metadata::from_bytes(&fs::read(sub.join(format!("{role}.json"))).unwrap()).unwrap()
}

fn write_role(sub: &Path, role: &str, t: Targets, seed: u8) {
    let mut md = Metadata::new(t).unwrap();
    md.sign(&key(seed)).unwrap();
    fs::write(sub.join(format!("{role}.json")), md.to_bytes()).unwrap();
}

/// The bin of `path` in a layout of `n` for acme.
fn bin_of(n: u32, path: &str) -> String {
    let l = BinLayout::new(n).unwrap();
    l.bin_name("acme", l.index_of(TargetPath::new(path).hash()))
}

#[test]
fn a_first_release_with_bins_signs_every_bin_and_a_later_one_only_the_bin_that_changes() {
    let f = Fixture::with_publishers();
    let (sub, p) = f.submit_binned("acme", 20, Some(16), &[("acme/a", b"a"), ("acme/b", b"b")]);
    assert_eq!((p.bins, p.signed.len(), p.targets_total), (16, 17, 2));
    let r = f.accept(&sub).unwrap();
    assert_eq!((r.bins, r.roles.len(), r.targets_total), (16, 17, 2));
    assert_eq!(r.roles[0].role, "acme");
    let reg = f.open();
    let meta = &reg.snapshot().signed().meta;
    assert_eq!(meta.keys().filter(|k| k.starts_with("acme-bin-")).count(), 16);
    assert_eq!(reg.state().bins.len(), 16);
    drop(reg);
    f.verify_ok();

    let (sub, p) = f.submit_binned("acme", 20, None, &[("acme/c", b"c")]);
    let bin = bin_of(16, "acme/c");
    assert_eq!(p.signed.iter().map(|s| s.role.as_str()).collect::<Vec<_>>(), [bin.as_str()]);
    assert_eq!((p.version, p.targets_total), (1, 3));
    assert!(!sub.join("acme.json").exists());
    let r = f.accept(&sub).unwrap();
    assert_eq!((r.version, r.targets_added.clone(), r.roles.len()), (1, vec!["acme/c".to_owned()], 1));
    assert_eq!(f.open().last_accepted(&bin), Some(2));
    let report = f.verify_ok();
    assert_eq!(report.targets_checked, 3);
    // The acceptance log holds a record per role file, the bins' too.
    let log = fs::read_to_string(f.reg.join("registry/accepted.jsonl")).unwrap();
    assert_eq!(log.lines().count(), 18);
}

#[test]
fn a_release_without_bins_moves_into_bins_keeping_its_artifacts() {
    let f = Fixture::with_publishers();
    let a1 = f.submit("acme", 20, None, &[("acme/old", b"old")]);
    f.accept(&a1).unwrap();
    let (sub, p) = f.submit_binned("acme", 20, Some(4), &[("acme/new", b"new")]);
    assert_eq!((p.version, p.targets_total), (2, 2));
    // The old artifact is not shipped again: the registry already has it.
    assert!(!sub.join("targets/acme/old").exists());
    let r = f.accept(&sub).unwrap();
    assert_eq!(r.targets_added, ["acme/new"]);
    f.verify_ok();
    // The layout may not change once chosen.
    let n = fs::read_dir(&f.dir).unwrap().count();
    let out = f.dir.join(format!("x{n}"));
    let reg = Registry::open(&f.reg).unwrap();
    let (_, cur) = reg.publisher_role("acme").unwrap().unwrap();
    let src = f.dir.join("x-src");
    fs::write(&src, b"z").unwrap();
    let specs = [ArtifactSpec { source: src, target: "acme/z".into(), sigstore: None }];
    let none = BTreeMap::new();
    let req = PublishRequest {
        role: "acme",
        current: Some((Path::new("c.json"), &cur)),
        current_bins: &none,
        bins: Some(8),
        artifacts: &specs,
        provenance: &Provenance::default(),
        expires: now().plus_secs(DAY),
        now: now(),
    };
    assert!(matches!(
        publish(&req, &key(20), &out),
        Err(RegistryError::BinLayoutChanged { from: 4, to: 8, .. })
    ));
    // Nor can the current bins be left out.
    let req = PublishRequest { bins: None, ..req };
    assert!(matches!(publish(&req, &key(20), &out), Err(RegistryError::BinMissing { .. })));
    assert!(!out.exists());
}

#[test]
fn bin_refusals_each_name_their_reason() {
    let f = Fixture::with_publishers();
    let (sub, _) = f.submit_binned("acme", 20, Some(4), &[("acme/a", b"a")]);
    f.accept(&sub).unwrap();
    let before = f.tree();
    let bin_a = bin_of(4, "acme/a");
    let other_bin = BinLayout::new(4)
        .map(|l| (0..4).map(|i| l.bin_name("acme", i)).find(|b| *b != bin_a).unwrap())
        .unwrap();
    let next = || f.submit_binned("acme", 20, None, &[("acme/a2", b"a2")]).0;
    let refused = |sub: &Path| f.accept(sub).unwrap_err();

    // A target in a bin whose prefixes do not cover it.
    let s = next();
    let real = bin_of(4, "acme/a2");
    let wrong = if real == bin_a { other_bin.clone() } else { bin_a.clone() };
    let mut t = role_md(&s, &real).signed().clone();
    let mut w = f.open().publisher_role(&wrong).unwrap().unwrap().0.signed().clone();
    w.version += 1;
    w.targets.insert("acme/a2".into(), t.targets.remove("acme/a2").unwrap());
    fs::remove_file(s.join(format!("{real}.json"))).unwrap();
    write_role(&s, &wrong, w, 20);
    assert!(
        matches!(refused(&s), RegistryError::OutsideBin { bin, target, .. } if bin == wrong && target == "acme/a2")
    );

    // A bin the role does not delegate to.
    let s = next();
    fs::rename(s.join(format!("{real}.json")), s.join("acme-bin-ff.json")).unwrap();
    assert!(matches!(refused(&s), RegistryError::NotABin { bin, .. } if bin == "acme-bin-ff"));

    // A bin signed by a key that is not the publisher's.
    let s = next();
    let t = role_md(&s, &real).signed().clone();
    write_role(&s, &real, t, 21);
    assert!(matches!(refused(&s), RegistryError::Signature { role, .. } if role == real));

    // A bin that delegates further.
    let s = next();
    let mut t = role_md(&s, &real).signed().clone();
    t.delegations = role_md(&sub, "acme").signed().delegations.clone();
    write_role(&s, &real, t, 20);
    assert!(matches!(refused(&s), RegistryError::Delegates { role } if role == real));

    // A bin target outside the publisher's namespace (in the right bin).
    let s = next();
    let mut t = role_md(&s, &real).signed().clone();
    let file = t.targets["acme/a2"].clone();
    let outside = (0..).map(|i| format!("beta/x{i}")).find(|p| bin_of(4, p) == real).unwrap();
    t.targets.insert(outside.clone(), file);
    write_role(&s, &real, t, 20);
    assert!(matches!(refused(&s), RegistryError::OutsideNamespace { target, .. } if target == outside));

    // A bin version that does not rise.
    let s = next();
    let mut t = role_md(&s, &real).signed().clone();
    t.version = 1;
    write_role(&s, &real, t, 20);
    assert!(matches!(refused(&s), RegistryError::VersionNotGreater { role, .. } if role == real));

    // A role whose bins are another key's: not the layout of the publisher.
    let s = next();
    let mut top = role_md(&sub, "acme").signed().clone();
    top.version = 2;
    let d = top.delegations.as_mut().unwrap();
    let k = key(21).public_key().clone();
    d.keys = [(k.key_id(), k.clone())].into();
    for r in &mut d.roles {
        r.keyids = vec![k.key_id()];
    }
    write_role(&s, "acme", top, 20);
    assert!(matches!(refused(&s), RegistryError::BinLayout { role, .. } if role == "acme"));

    // A role that delegates one of its bins' prefixes to another bin.
    let s = next();
    let mut top = role_md(&sub, "acme").signed().clone();
    top.version = 2;
    top.delegations.as_mut().unwrap().roles[1].path_hash_prefixes = Some(vec!["0".into()]);
    write_role(&s, "acme", top, 20);
    assert!(matches!(refused(&s), RegistryError::BinLayout { .. }));

    // A role with bins that lists a target itself.
    let s = next();
    let mut top = role_md(&sub, "acme").signed().clone();
    top.version = 2;
    top.targets.insert("acme/a2".into(), role_md(&s, &real).signed().targets["acme/a2"].clone());
    write_role(&s, "acme", top, 20);
    assert!(
        matches!(refused(&s), RegistryError::BinLayout { detail, .. } if detail.contains("lists its targets"))
    );

    // A new layout with more bins.
    let s = next();
    let mut top = role_md(&sub, "acme").signed().clone();
    top.version = 2;
    let reg = f.open();
    let dl = reg.targets().signed().delegations.clone().unwrap();
    top.delegations = Some(BinLayout::new(8).unwrap().delegations("acme", &dl, dl.role("acme").unwrap()));
    drop(reg);
    write_role(&s, "acme", top, 20);
    assert!(matches!(refused(&s), RegistryError::BinLayoutChanged { from: 4, to: 8, .. }));

    // Role files of two publishers in one submission.
    let s = next();
    fs::copy(s.join(format!("{real}.json")), s.join("beta-bin-0.json")).unwrap();
    assert!(matches!(refused(&s), RegistryError::BadSubmission { .. }));

    assert_eq!(f.tree(), before, "a refused submission changes nothing");
}

#[test]
fn a_first_release_missing_a_bin_is_refused_and_a_bin_name_is_no_publisher_name() {
    let f = Fixture::with_publishers();
    let (sub, _) = f.submit_binned("acme", 20, Some(4), &[("acme/a", b"a")]);
    let empty =
        (0..4).map(|i| BinLayout::new(4).unwrap().bin_name("acme", i)).find(|b| *b != bin_of(4, "acme/a"));
    let empty = empty.unwrap();
    fs::remove_file(sub.join(format!("{empty}.json"))).unwrap();
    assert!(matches!(f.accept(&sub), Err(RegistryError::BinMissing { bin, .. }) if bin == empty));
    assert!(matches!(f.add("acme-bin-00", 22, &["x/*"]), Err(RegistryError::BadPublisherName { .. })));
    f.add("acme-binary", 22, &["x/*"]).unwrap();
}

#[test]
fn after_a_rekey_the_role_and_every_bin_are_signed_again() {
    let f = Fixture::with_publishers();
    let (sub, _) = f.submit_binned("acme", 20, Some(4), &[("acme/a", b"a")]);
    f.accept(&sub).unwrap();
    f.change(&OwnershipChange::Rekey {
        name: "acme".into(),
        keys: vec![key(30).public_key().clone()],
        threshold: 1,
    })
    .unwrap();
    // The published role names the old key: bins alone are refused.
    let (bins_only, p) = f.submit_binned("acme", 30, None, &[("acme/b", b"b")]);
    assert_eq!(p.signed.len(), 5, "the rekeyed publisher re-signs the role and every bin");
    let s = f.dir.join("only-role");
    fs::create_dir(&s).unwrap();
    fs::copy(bins_only.join("acme.json"), s.join("acme.json")).unwrap();
    assert!(matches!(
        f.accept(&s),
        Err(RegistryError::BinMissing { detail, .. }) if detail.contains("re-sign")
    ));
    f.accept(&bins_only).unwrap();
    f.verify_ok();
}

#[test]
fn a_bin_accepted_but_not_recorded_is_recorded_from_the_log() {
    let f = Fixture::with_publishers();
    let (sub, _) = f.submit_binned("acme", 20, Some(2), &[("acme/a", b"a")]);
    f.accept(&sub).unwrap();
    let state_path = f.reg.join("registry/state.json");
    let mut state: State = serde_json::from_slice(&fs::read(&state_path).unwrap()).unwrap();
    let recorded = state.bins.clone();
    state.bins.clear();
    fs::write(&state_path, serde_json::to_vec(&state).unwrap()).unwrap();
    assert_eq!(f.open().state().bins, recorded);
}

#[test]
fn bins_and_the_role_are_re_signed_only_once_within_half_a_period_of_expiry() {
    let f = Fixture::with_publishers();
    let (sub, _) = f.submit_binned("acme", 20, Some(4), &[("acme/a", b"a")]);
    f.accept(&sub).unwrap();
    // 10 days on, 80 of 90 days are left: only the bin of the new artifact.
    let (_, p) = f.submit_binned_at(now().plus_secs(10 * DAY), "acme", 20, None, &[("acme/b", b"b")]);
    assert_eq!(p.signed.iter().map(|s| s.role.clone()).collect::<Vec<_>>(), [bin_of(4, "acme/b")]);
    // 50 days on, 40 are left, less than half of the new 90: every bin and the role.
    let (_, p) = f.submit_binned_at(now().plus_secs(50 * DAY), "acme", 20, None, &[("acme/b", b"b")]);
    assert_eq!(p.signed.len(), 5);
    assert_eq!(p.signed[0].role, "acme");
}
