//! Bundle writer and reader tests: determinism, verification, and one test
//! per hostile-archive case, each asserting the typed reason.

use super::testrepo::{signer, t, Repo, ACME, NOW};
use super::*;
use airlock_core::archive::ArchivePath;
use airlock_core::bundle::{sha256sums, BundleManifest, EntryKind, ManifestEntry, MANIFEST_PATH, SUMS_PATH};
use airlock_core::hash::sha256_hex;
use std::io::Read;

fn opts() -> BundleOptions {
    BundleOptions {
        gzip: false,
        namespaces: vec![],
        since_snapshot: None,
        created: t(NOW),
        since_checkpoints: vec![],
    }
}

fn make(repo: &Repo, o: &BundleOptions) -> Vec<u8> {
    create_bundle(&repo.dir, o, Vec::new()).unwrap().1
}

fn verify(bytes: &[u8], root: &[u8]) -> Result<VerifiedBundle, BundleError> {
    verify_bundle(bytes, root, &VerifyOptions::at(t(NOW)), &mut NoSink)
}

fn setup() -> (tempfile::TempDir, Repo) {
    let dir = tempfile::tempdir().unwrap();
    let repo = Repo::new(&dir.path().join("reg"));
    (dir, repo)
}

/// The entries of a bundle: (path, data) in order, manifest included.
fn entries(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut a = tar::Archive::new(bytes);
    a.entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let p = String::from_utf8(e.path_bytes().to_vec()).unwrap();
            let mut d = Vec::new();
            e.read_to_end(&mut d).unwrap();
            (p, d)
        })
        .collect()
}

fn kind_of(path: &str) -> EntryKind {
    if path.starts_with("metadata/") {
        EntryKind::Metadata
    } else if path == SUMS_PATH {
        EntryKind::Sums
    } else {
        EntryKind::Target
    }
}

/// Rebuilds an archive from entries (manifest and sums excluded), with a
/// manifest and SHA256SUMS that agree with them, so the only defect left is
/// the one a test put in.
fn rebuild_with(base: &BundleManifest, files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut m = base.clone();
    m.entries = files
        .iter()
        .map(|(p, d)| ManifestEntry {
            path: ArchivePath::new(p).unwrap(),
            kind: kind_of(p),
            length: d.len() as u64,
            sha256: sha256_hex(d),
        })
        .collect();
    let sums = sha256sums(&m.entries).into_bytes();
    m.entries.push(ManifestEntry {
        path: ArchivePath::new(SUMS_PATH).unwrap(),
        kind: EntryKind::Sums,
        length: sums.len() as u64,
        sha256: sha256_hex(&sums),
    });
    let mut all = vec![(MANIFEST_PATH.to_owned(), m.to_bytes())];
    all.extend(files.iter().cloned());
    all.push((SUMS_PATH.to_owned(), sums));
    raw_tar(&all)
}

fn raw_tar(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (p, d) in files {
        let mut h = tar::Header::new_ustar();
        set_name(&mut h, p);
        h.set_size(d.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_cksum();
        b.append(&h, &d[..]).unwrap();
    }
    b.into_inner().unwrap()
}

/// Writes a name into the header without the tar crate's own checks.
fn set_name(h: &mut tar::Header, p: &str) {
    let u = h.as_ustar_mut().unwrap();
    u.name = [0; 100];
    u.name[..p.len()].copy_from_slice(p.as_bytes());
}

fn split(bytes: &[u8]) -> (BundleManifest, Vec<(String, Vec<u8>)>) {
    let mut e = entries(bytes);
    let manifest = BundleManifest::from_bytes(&e.remove(0).1).unwrap();
    e.pop();
    (manifest, e)
}

#[test]
fn same_repository_gives_identical_bytes() {
    let (_d, repo) = setup();
    assert_eq!(make(&repo, &opts()), make(&repo, &opts()));
    let gz = BundleOptions { gzip: true, ..opts() };
    let a = make(&repo, &gz);
    assert_eq!(a, make(&repo, &gz));
    assert_eq!(&a[..2], &[0x1f, 0x8b]);
}

#[test]
fn a_good_bundle_verifies_plain_and_gzip() {
    let (_d, repo) = setup();
    for gzip in [false, true] {
        let b = make(&repo, &BundleOptions { gzip, ..opts() });
        let v = verify(&b, &repo.root()).unwrap();
        assert_eq!(v.targets().len(), 2);
        assert_eq!(v.manifest().snapshot_version, 1);
    }
}

#[test]
fn metadata_precedes_artifacts_and_manifest_is_first() {
    let (_d, repo) = setup();
    let e = entries(&make(&repo, &opts()));
    assert_eq!(e[0].0, MANIFEST_PATH);
    let first_target = e.iter().position(|(p, _)| p.starts_with("targets/")).unwrap();
    assert!(e[first_target..].iter().all(|(p, _)| !p.starts_with("metadata/")));
    assert_eq!(e.last().unwrap().0, SUMS_PATH);
}

#[test]
fn registry_not_pinned_is_refused() {
    let (_d, repo) = setup();
    let b = make(&repo, &opts());
    let mut other = airlock_core::Metadata::new(super::testrepo::root_v1(9)).unwrap();
    other.sign(&signer(1)).unwrap();
    assert!(matches!(verify(&b, &other.to_bytes()), Err(BundleError::RegistryMismatch { .. })));
}

#[test]
fn one_changed_artifact_byte_is_refused() {
    let (_d, repo) = setup();
    let (m, mut files) = split(&make(&repo, &opts()));
    let i = files.iter().position(|(p, _)| p.starts_with("targets/acme")).unwrap();
    files[i].1[0] ^= 1;
    // The manifest agrees with the changed bytes; the signed role does not.
    assert!(matches!(
        verify(&rebuild_with(&m, &files), &repo.root()),
        Err(BundleError::TargetMismatch { .. })
    ));
}

#[test]
fn metadata_mixed_from_two_snapshots_is_refused() {
    let (_d, mut repo) = setup();
    let old = make(&repo, &opts());
    repo.publish("acme", ACME, 2, &[("acme/tool-2.0.tar.gz", b"two".as_slice())]);
    repo.snapshot();
    let (m, mut files) = split(&old);
    // New timestamp, old snapshot.
    let ts = std::fs::read(repo.dir.join("metadata/timestamp.json")).unwrap();
    let i = files.iter().position(|(p, _)| p == "metadata/timestamp.json").unwrap();
    files[i].1 = ts;
    assert!(matches!(verify(&rebuild_with(&m, &files), &repo.root()), Err(BundleError::Update(_))));
}

fn hostile(repo: &Repo, f: impl FnOnce(&mut Vec<(String, Vec<u8>)>)) -> Result<VerifiedBundle, BundleError> {
    let (m, mut files) = split(&make(repo, &opts()));
    f(&mut files);
    verify(&rebuild_with(&m, &files), &repo.root())
}

#[test]
fn absolute_and_traversal_paths_are_refused() {
    let (_d, repo) = setup();
    for bad in ["/etc/passwd", "../escape", "targets/../../x", "a//b"] {
        // A manifest cannot even list such a path.
        let (m, _) = split(&make(&repo, &opts()));
        let text = String::from_utf8(m.to_bytes()).unwrap().replacen("metadata/1.root.json", bad, 1);
        assert!(matches!(
            BundleManifest::from_bytes(text.as_bytes()),
            Err(airlock_core::bundle::ManifestError::Malformed(_))
        ));
        // As a raw entry, the path check fires before anything else.
        let (m, files) = split(&make(&repo, &opts()));
        let mut all = vec![(MANIFEST_PATH.to_owned(), m.to_bytes()), (bad.to_owned(), b"x".to_vec())];
        all.extend(files);
        let r = verify(&raw_tar(&all), &repo.root());
        assert!(matches!(r, Err(BundleError::UnsafePath { .. })), "{bad}: {r:?}");
    }
}

fn with_special(
    repo: &Repo,
    kind: tar::EntryType,
    extra: impl Fn(&mut tar::Header),
) -> Result<VerifiedBundle, BundleError> {
    let bytes = make(repo, &opts());
    let e = entries(&bytes);
    let mut b = tar::Builder::new(Vec::new());
    for (i, (p, d)) in e.iter().enumerate() {
        if i == 2 {
            let mut h = tar::Header::new_ustar();
            set_name(&mut h, "metadata/evil");
            h.set_size(0);
            h.set_entry_type(kind);
            extra(&mut h);
            h.set_cksum();
            b.append(&h, &[][..]).unwrap();
        }
        let mut h = tar::Header::new_ustar();
        set_name(&mut h, p);
        h.set_size(d.len() as u64);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_cksum();
        b.append(&h, &d[..]).unwrap();
    }
    verify(&b.into_inner().unwrap(), &repo.root())
}

#[test]
fn links_devices_fifos_directories_and_extension_headers_are_refused() {
    let (_d, repo) = setup();
    for kind in [
        tar::EntryType::Symlink,
        tar::EntryType::Link,
        tar::EntryType::Char,
        tar::EntryType::Block,
        tar::EntryType::Fifo,
        tar::EntryType::Directory,
        tar::EntryType::GNULongName,
        tar::EntryType::XGlobalHeader,
    ] {
        let r = with_special(&repo, kind, |h| {
            let _ = h.set_link_name("metadata/1.root.json");
        });
        assert!(matches!(r, Err(BundleError::ForbiddenEntryType { .. })), "{kind:?}: {r:?}");
    }
}

#[test]
fn pax_header_renaming_an_entry_is_refused() {
    let (_d, repo) = setup();
    let e = entries(&make(&repo, &opts()));
    let mut b = tar::Builder::new(Vec::new());
    for (i, (p, d)) in e.iter().enumerate() {
        if i == 1 {
            // A PAX header that would rename the next entry onto root 1.
            let rec = b"30 path=metadata/1.root.json\n";
            let mut h = tar::Header::new_ustar();
            set_name(&mut h, "PaxHeaders/x");
            h.set_size(rec.len() as u64);
            h.set_entry_type(tar::EntryType::XHeader);
            h.set_cksum();
            b.append(&h, &rec[..]).unwrap();
        }
        let mut h = tar::Header::new_ustar();
        set_name(&mut h, p);
        h.set_size(d.len() as u64);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_cksum();
        b.append(&h, &d[..]).unwrap();
    }
    let r = verify(&b.into_inner().unwrap(), &repo.root());
    assert!(matches!(r, Err(BundleError::ForbiddenEntryType { .. })), "{r:?}");
}

#[test]
fn duplicate_unlisted_reordered_and_oversized_entries_are_refused() {
    let (_d, repo) = setup();
    let bytes = make(&repo, &opts());
    let all = entries(&bytes);
    // Duplicate: the same entry twice in the archive.
    let mut dup = all.clone();
    dup.insert(2, all[1].clone());
    assert!(matches!(verify(&raw_tar(&dup), &repo.root()), Err(BundleError::DuplicateEntry(_))));
    // Not in the manifest.
    let mut extra = all.clone();
    extra.insert(2, ("metadata/extra.json".into(), b"{}".to_vec()));
    assert!(matches!(verify(&raw_tar(&extra), &repo.root()), Err(BundleError::NotInManifest(_))));
    // Reordered.
    let mut swapped = all.clone();
    swapped.swap(1, 2);
    assert!(matches!(verify(&raw_tar(&swapped), &repo.root()), Err(BundleError::OutOfOrder { .. })));
    // Longer than listed.
    let mut long = all.clone();
    let i = long.iter().position(|(p, _)| p.starts_with("targets/")).unwrap();
    long[i].1.push(b'!');
    assert!(matches!(verify(&raw_tar(&long), &repo.root()), Err(BundleError::SizeMismatch { .. })));
    // Manifest not first.
    let mut late = all.clone();
    late.swap(0, 1);
    assert!(matches!(verify(&raw_tar(&late), &repo.root()), Err(BundleError::ManifestNotFirst(_))));
}

#[test]
fn metadata_after_artifacts_is_refused() {
    let (_d, repo) = setup();
    let r = hostile(&repo, |f| {
        let i = f.iter().position(|(p, _)| p == "metadata/timestamp.json").unwrap();
        let ts = f.remove(i);
        f.push(ts);
    });
    assert!(matches!(r, Err(BundleError::MetadataAfterTargets(_))), "{r:?}");
}

#[test]
fn unaccounted_metadata_and_missing_roles_are_refused() {
    let (_d, repo) = setup();
    let r = hostile(&repo, |f| f.insert(1, ("metadata/9.root.json".into(), b"{}".to_vec())));
    assert!(matches!(r, Err(BundleError::UnaccountedMetadata(_))), "{r:?}");
    let r = hostile(&repo, |f| f.retain(|(p, _)| !p.contains("beta")));
    assert!(matches!(r, Err(BundleError::RoleMissing(role)) if role == "beta"));
}

#[test]
fn trailing_data_and_truncation_are_refused() {
    let (_d, repo) = setup();
    let mut b = make(&repo, &opts());
    let good = b.clone();
    b.extend_from_slice(b"garbage");
    assert!(matches!(verify(&b, &repo.root()), Err(BundleError::TrailingData)));
    let cut = &good[..good.len() / 2];
    let r = verify(cut, &repo.root());
    assert!(matches!(r, Err(BundleError::Truncated(_)) | Err(BundleError::Malformed(_))), "{r:?}");
    // gzip with data after the compressed stream.
    let mut gz = make(&repo, &BundleOptions { gzip: true, ..opts() });
    gz.extend_from_slice(b"more");
    assert!(matches!(verify(&gz, &repo.root()), Err(BundleError::TrailingData)));
}

#[test]
fn decompression_past_the_signed_sizes_is_refused() {
    let (_d, repo) = setup();
    // A valid bundle followed, inside the gzip stream, by 64 MiB of zeros:
    // tar treats zeros as end padding, so only the size cap stops it.
    let mut plain = make(&repo, &opts());
    plain.extend(std::iter::repeat_n(0u8, 64 << 20));
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    std::io::Write::write_all(&mut enc, &plain).unwrap();
    let bomb = enc.finish().unwrap();
    assert!(bomb.len() < 200_000);
    assert!(matches!(verify(&bomb, &repo.root()), Err(BundleError::TooLarge { .. })));
}

#[test]
fn namespace_selection_omits_other_roles() {
    let (_d, repo) = setup();
    let b = make(&repo, &BundleOptions { namespaces: vec!["acme/*".into()], ..opts() });
    let v = verify(&b, &repo.root()).unwrap();
    assert_eq!(v.manifest().omitted_roles, vec!["beta".to_owned()]);
    assert_eq!(v.targets().len(), 1);
}

#[test]
fn delta_carries_only_what_changed() {
    let (_d, mut repo) = setup();
    repo.publish("acme", ACME, 2, &[("acme/tool-2.0.tar.gz", b"two".as_slice())]);
    repo.snapshot();
    let b = make(&repo, &BundleOptions { since_snapshot: Some(1), ..opts() });
    let v = verify(&b, &repo.root()).unwrap();
    assert_eq!(v.manifest().base_snapshot_version, Some(1));
    assert_eq!(v.manifest().omitted_roles, vec!["beta".to_owned()]);
    // acme v2 carries both its targets; beta's artifact is not carried.
    assert!(v.targets().iter().all(|(t, _, _)| t.starts_with("acme/")));
}

#[test]
fn volumes_verify_and_a_swapped_or_missing_volume_is_named() {
    let (d, repo) = setup();
    let bundle = d.path().join("b.tar");
    std::fs::write(&bundle, make(&repo, &opts())).unwrap();
    let base = d.path().join("vol/b.tar");
    std::fs::create_dir_all(base.parent().unwrap()).unwrap();
    let idx = split_into_volumes(&bundle, &base, 4096).unwrap();
    assert!(idx.volumes.len() >= 3);
    let r = open_volumes(&base).unwrap();
    verify_bundle(r, &repo.root(), &VerifyOptions::at(t(NOW)), &mut NoSink).unwrap();
    // Swap volumes 001 and 002.
    let (a, b) = (volume_path(&base, 1), volume_path(&base, 2));
    let tmp = d.path().join("swap");
    std::fs::rename(&a, &tmp).unwrap();
    std::fs::rename(&b, &a).unwrap();
    std::fs::rename(&tmp, &b).unwrap();
    let r =
        verify_bundle(open_volumes(&base).unwrap(), &repo.root(), &VerifyOptions::at(t(NOW)), &mut NoSink);
    assert!(matches!(&r, Err(BundleError::Volume { name, .. }) if name == "b.tar.001"), "{r:?}");
    // A missing volume cannot be read: an I/O failure, still named.
    std::fs::remove_file(&a).unwrap();
    let r =
        verify_bundle(open_volumes(&base).unwrap(), &repo.root(), &VerifyOptions::at(t(NOW)), &mut NoSink);
    assert!(matches!(&r, Err(BundleError::Io(m)) if m.starts_with("volume b.tar.001: cannot open")), "{r:?}");
}

#[test]
fn a_volume_index_over_the_cap_is_refused_unread() {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("big.volumes.json");
    let f = std::fs::File::create(&path).unwrap();
    f.set_len(MAX_INDEX_BYTES + 1).unwrap();
    let r = read_volume_index(&path);
    assert!(
        matches!(&r, Err(BundleError::Malformed(m)) if m.ends_with("a volume index larger than 16777216 bytes")),
        "{r:?}"
    );
    assert!(matches!(open_volumes(&path), Err(BundleError::Malformed(_))));
}

/// Where each entry's data lies in a plain archive: covered by a hash or
/// signature. The manifest is not: it is never trusted for content, and its
/// informational members (such as `created`) are unauthenticated.
fn covered_ranges(bytes: &[u8]) -> Vec<std::ops::Range<usize>> {
    let mut a = tar::Archive::new(bytes);
    a.entries()
        .unwrap()
        .skip(1)
        .map(|e| {
            let e = e.unwrap();
            let start = e.raw_file_position() as usize;
            start..start + e.size() as usize
        })
        .collect()
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
    #[test]
    fn flipping_any_byte_never_panics_and_covered_bytes_never_pass(pos in 0usize..100_000, bit in 0u8..8) {
        let (_d, repo) = setup();
        let good = make(&repo, &opts());
        let pos = pos % good.len();
        let mut bad = good.clone();
        bad[pos] ^= 1 << bit;
        let covered = covered_ranges(&good).iter().any(|r| r.contains(&pos));
        let result = verify(&bad, &repo.root());
        if covered {
            proptest::prop_assert!(result.is_err(), "flip at {} inside an entry passed", pos);
        }
    }
}

fn verify_with(bytes: &[u8], root: &[u8], o: &VerifyOptions) -> Result<VerifiedBundle, BundleError> {
    verify_bundle(bytes, root, o, &mut NoSink)
}

/// A root version 2 signed by the root key, expiring at `expires`.
fn root_v2(expires: &str) -> Vec<u8> {
    let mut r = super::testrepo::root_v1(super::testrepo::INDEX);
    r.version = 2;
    r.expires = t(expires);
    let mut md = airlock_core::Metadata::new(r).unwrap();
    md.sign(&signer(super::testrepo::ROOT)).unwrap();
    md.to_bytes()
}

fn identity(root: &[u8]) -> String {
    airlock_core::registry_identity(&airlock_core::Metadata::from_bytes(root).unwrap())
}

#[test]
fn the_report_lists_every_check_once_in_order() {
    let (_d, repo) = setup();
    let b = make(&repo, &opts());
    let n = split(&b).0.entries.len();
    let v = verify(&b, &repo.root()).unwrap();
    let got: Vec<(&str, &str)> = v.checks().iter().map(|c| (c.check.as_str(), c.detail.as_str())).collect();
    let manifest = format!("{n} entries, snapshot version 1");
    let ts = format!("snapshot version 1, signatures, hashes, versions and expiry at {}", t(NOW));
    assert_eq!(
        got,
        vec![
            ("manifest", manifest.as_str()),
            ("root chain", "pinned version 1 to version 1"),
            ("timestamp and snapshot", ts.as_str()),
            ("targets roles", "3 verified, 0 omitted"),
            ("SHA256SUMS", "matches every entry"),
            ("artifacts", "2 verified against their signed hashes"),
            ("end of archive", "nothing after the last entry"),
        ]
    );
}

#[test]
fn a_bundle_without_artifacts_verifies_its_metadata_at_the_sums() {
    let (_d, repo) = setup();
    let b = make(&repo, &BundleOptions { namespaces: vec!["nothing/*".into()], ..opts() });
    let (m, _) = split(&b);
    assert!(m.entries.iter().all(|e| e.kind != EntryKind::Target));
    let v = verify(&b, &repo.root()).unwrap();
    assert!(v.targets().is_empty());
    let names: Vec<&str> = v.checks().iter().map(|c| c.check.as_str()).collect();
    assert_eq!(
        names,
        [
            "manifest",
            "root chain",
            "timestamp and snapshot",
            "targets roles",
            "SHA256SUMS",
            "artifacts",
            "end of archive"
        ]
    );
    assert_eq!(v.checks()[3].detail, "1 verified, 2 omitted");
}

#[test]
fn the_metadata_budget_is_exact() {
    let (_d, repo) = setup();
    let b = make(&repo, &opts());
    let (m, _) = split(&b);
    let total: u64 = m
        .entries
        .iter()
        .filter(|e| matches!(e.kind, EntryKind::Metadata | EntryKind::Log))
        .map(|e| e.length)
        .sum();
    let at = |max_metadata| VerifyOptions { max_metadata, ..VerifyOptions::at(t(NOW)) };
    verify_with(&b, &repo.root(), &at(total)).unwrap();
    let r = verify_with(&b, &repo.root(), &at(total - 1));
    assert!(matches!(r, Err(BundleError::TooLarge { limit }) if limit == total - 1), "{r:?}");
}

#[test]
fn the_manifest_limit_is_exact() {
    let (_d, repo) = setup();
    let b = make(&repo, &opts());
    let size = entries(&b)[0].1.len() as u64;
    // Large enough that its tar record spans several blocks.
    assert!(size > 1024, "{size}");
    let at = |max_manifest| VerifyOptions { max_manifest, ..VerifyOptions::at(t(NOW)) };
    verify_with(&b, &repo.root(), &at(size)).unwrap();
    let r = verify_with(&b, &repo.root(), &at(size - 1));
    assert!(matches!(r, Err(BundleError::TooLarge { limit }) if limit == size - 1), "{r:?}");
}

#[test]
fn a_timestamp_or_snapshot_of_a_trusted_version_must_be_the_trusted_copy() {
    let (_d, repo) = setup();
    let good = make(&repo, &opts());
    let (m, files) = split(&good);
    let bytes_of = |name: &str| files.iter().find(|(p, _)| p == name).unwrap().1.clone();
    let start = TrustedStart {
        root: repo.root(),
        timestamp: Some(bytes_of("metadata/timestamp.json")),
        snapshot: Some(bytes_of("metadata/1.snapshot.json")),
        ..TrustedStart::default()
    };
    let from =
        |b: &[u8]| verify_bundle_from(b, &mut |_| Ok(start.clone()), &VerifyOptions::at(t(NOW)), &mut NoSink);
    // The same files as those trusted: served as they are.
    let v = from(&good).unwrap();
    assert_eq!(v.metadata_files()["metadata/timestamp.json"], &bytes_of("metadata/timestamp.json")[..]);
    // The same signed content in other bytes (indented): the signatures
    // still verify, the version is the trusted one, so the client keeps its
    // copy; the bundle's bytes must not be served as if verified.
    for name in ["metadata/timestamp.json", "metadata/1.snapshot.json"] {
        let mut changed = files.clone();
        let entry = changed.iter_mut().find(|(p, _)| p == name).unwrap();
        let value: serde_json::Value = serde_json::from_slice(&entry.1).unwrap();
        entry.1 = serde_json::to_vec_pretty(&value).unwrap();
        let r = from(&rebuild_with(&m, &changed));
        assert!(matches!(&r, Err(BundleError::NotTheVerifiedCopy(p)) if p == name), "{name}: {r:?}");
    }
}

#[test]
fn entry_lengths_that_add_up_past_u64_are_refused_not_wrapped() {
    let (_d, repo) = setup();
    let b = make(&repo, &opts());
    let mut all = entries(&b);
    let mut m: serde_json::Value = serde_json::from_slice(&all[0].1).unwrap();
    // Two lengths each near 2^63: a wrapping sum would set a small cap.
    for i in [0, 1] {
        m["entries"][i]["length"] = serde_json::json!(u64::MAX / 2 + 1);
    }
    all[0].1 = serde_json::to_vec(&m).unwrap();
    let r = verify(&raw_tar(&all), &repo.root());
    assert!(
        matches!(&r, Err(BundleError::Malformed(m)) if m == "the manifest's entry lengths add up to more than 2^64 bytes"),
        "{r:?}"
    );
}

#[test]
fn the_stream_may_run_exactly_to_its_cap_and_no_further() {
    let (_d, repo) = setup();
    let (mut m, files) = split(&make(&repo, &opts()));
    // Pad the manifest (an uninterpreted member) until the archive ends just
    // past a 10240-byte record, where every term of the cap shows.
    let mut pad = 0;
    let good = loop {
        m.extra.insert("pad".into(), serde_json::Value::String("x".repeat(pad)));
        let b = rebuild_with(&m, &files);
        if (1..=2048).contains(&(b.len() % 10240)) {
            break b;
        }
        pad += 64;
    };
    // The archive is the manifest's entries, their headers and the end marker:
    // the cap is that rounded up to a record, plus one record.
    let cap = good.len().div_ceil(10240) * 10240 + 10240;
    let mut at_cap = good.clone();
    at_cap.resize(cap, 0);
    verify(&at_cap, &repo.root()).unwrap();
    let mut past = good;
    past.resize(cap + 1, 0);
    let r = verify(&past, &repo.root());
    assert!(matches!(r, Err(BundleError::TooLarge { limit }) if limit == cap as u64), "{r:?}");
}

#[test]
fn sums_planned_before_the_last_entry_is_refused() {
    let (_d, repo) = setup();
    let (mut m, files) = split(&make(&repo, &opts()));
    let listed = |(p, d): &(String, Vec<u8>)| ManifestEntry {
        path: ArchivePath::new(p).unwrap(),
        kind: kind_of(p),
        length: d.len() as u64,
        sha256: sha256_hex(d),
    };
    m.entries = files.iter().map(listed).collect();
    let sums = sha256sums(&m.entries).into_bytes();
    // SHA256SUMS planned (and placed) between the metadata and the artifacts.
    let first_target = files.iter().position(|(p, _)| p.starts_with("targets/")).unwrap();
    let mut all = files.clone();
    all.insert(first_target, (SUMS_PATH.to_owned(), sums));
    m.entries = all.iter().map(listed).collect();
    all.insert(0, (MANIFEST_PATH.to_owned(), m.to_bytes()));
    let r = verify(&raw_tar(&all), &repo.root());
    assert!(
        matches!(&r, Err(BundleError::OutOfOrder { expected, found })
            if expected == "SHA256SUMS last" && found == SUMS_PATH),
        "{r:?}"
    );
}

#[test]
fn a_plan_without_sha256sums_is_refused() {
    let (_d, repo) = setup();
    let (mut m, files) = split(&make(&repo, &opts()));
    // The same bundle with SHA256SUMS taken out of the plan and the archive.
    let files: Vec<_> = files.into_iter().filter(|(p, _)| p != SUMS_PATH).collect();
    m.entries.retain(|e| e.kind != EntryKind::Sums);
    let last = m.entries.last().unwrap().path.to_string();
    let mut all = files.clone();
    all.insert(0, (MANIFEST_PATH.to_owned(), m.to_bytes()));
    let r = verify(&raw_tar(&all), &repo.root());
    assert!(
        matches!(&r, Err(BundleError::OutOfOrder { expected, found })
            if expected == "SHA256SUMS last" && *found == last),
        "{r:?}"
    );
}

#[test]
fn another_pinned_root_one_is_named_by_both_identities() {
    let (_d, repo) = setup();
    let b = make(&repo, &opts());
    let mut other = airlock_core::Metadata::new(super::testrepo::root_v1(9)).unwrap();
    other.sign(&signer(1)).unwrap();
    let other = other.to_bytes();
    let r = verify(&b, &other);
    assert!(
        matches!(&r, Err(BundleError::RegistryMismatch { expected, found })
            if *expected == identity(&other) && *found == identity(&repo.root())),
        "{r:?}"
    );
}

#[test]
fn a_bundle_without_root_one_verifies_against_its_registry() {
    let (_d, repo) = setup();
    let r = hostile(&repo, |f| f.retain(|(p, _)| p != "metadata/1.root.json"));
    let v = r.unwrap();
    assert!(!v.metadata_files().contains_key("metadata/1.root.json"));
}

#[test]
fn a_bundle_without_root_one_for_another_registry_is_refused() {
    let (_d, repo) = setup();
    let (mut m, mut files) = split(&make(&repo, &opts()));
    files.retain(|(p, _)| p != "metadata/1.root.json");
    m.registry = "0".repeat(64);
    let r = verify(&rebuild_with(&m, &files), &repo.root());
    assert!(
        matches!(&r, Err(BundleError::RegistryMismatch { expected, found })
            if *expected == identity(&repo.root()) && *found == "0".repeat(64)),
        "{r:?}"
    );
}

#[test]
fn a_pinned_root_two_verifies_a_bundle_carrying_roots_one_and_two() {
    let (_d, repo) = setup();
    let v2 = root_v2(super::testrepo::FAR);
    std::fs::write(repo.dir.join("metadata/2.root.json"), &v2).unwrap();
    let b = make(&repo, &opts());
    let v = verify(&b, &v2).unwrap();
    assert!(v.metadata_files().contains_key("metadata/1.root.json"));
    assert_eq!(v.checks()[1].detail, "pinned version 2 to version 2");
}

#[test]
fn older_roots_without_the_pinned_one_are_refused() {
    let (_d, repo) = setup();
    let v2 = root_v2(super::testrepo::FAR);
    std::fs::write(repo.dir.join("metadata/2.root.json"), &v2).unwrap();
    let (m, mut files) = split(&make(&repo, &opts()));
    // Without 2.root.json nothing vouches for the 1.root.json carried.
    files.retain(|(p, _)| p != "metadata/2.root.json");
    let r = verify(&rebuild_with(&m, &files), &v2);
    assert!(matches!(&r, Err(BundleError::RootNotInChain(n)) if n == "1.root.json"), "{r:?}");
}

#[test]
fn a_root_two_other_than_the_pinned_one_is_refused() {
    let (_d, repo) = setup();
    std::fs::write(repo.dir.join("metadata/2.root.json"), root_v2(super::testrepo::FAR)).unwrap();
    let b = make(&repo, &opts());
    let pinned = root_v2("2029-01-01T00:00:00Z");
    let r = verify(&b, &pinned);
    assert!(
        matches!(&r, Err(BundleError::RegistryMismatch { expected, found })
            if expected == "the pinned root" && found == "another root version 2"),
        "{r:?}"
    );
}

#[test]
fn a_tar_header_cut_short_is_malformed() {
    let (_d, repo) = setup();
    let b = make(&repo, &opts());
    // Into the header that follows the manifest.
    let manifest = entries(&b)[0].1.len();
    let cut = &b[..512 + manifest.div_ceil(512) * 512 + 100];
    let r = verify(cut, &repo.root());
    assert!(matches!(&r, Err(BundleError::Malformed(m)) if m == "failed to read entire block"), "{r:?}");
}

#[test]
fn a_gzip_stream_cut_short_is_truncated() {
    let (_d, repo) = setup();
    let gz = make(&repo, &BundleOptions { gzip: true, ..opts() });
    let r = verify(&gz[..gz.len() / 2], &repo.root());
    assert!(matches!(&r, Err(BundleError::Truncated(m)) if m == "the rest of the archive"), "{r:?}");
}

#[test]
fn a_corrupt_deflate_stream_is_malformed() {
    // A gzip header, then a deflate block of the reserved type.
    let mut bad = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    bad.extend([0xff; 64]);
    let (_d, repo) = setup();
    let r = verify(&bad, &repo.root());
    assert!(matches!(&r, Err(BundleError::Malformed(m)) if m == "corrupt deflate stream"), "{r:?}");
}

/// Refuses what it is told to, and records what it saw.
#[derive(Default)]
struct Picky {
    refuse_metadata: bool,
    refuse: Option<String>,
    approved: Vec<String>,
    begun: Vec<String>,
}

impl ArtifactSink for Picky {
    fn verified_metadata(
        &mut self,
        _: &BundleManifest,
        _: &airlock_core::client::Trusted,
        carried: &crate::bundle::CarriedArtifacts<'_>,
    ) -> Result<(), String> {
        assert_eq!(carried.len(), 2);
        assert_eq!(carried.iter().count(), 2);
        if self.refuse_metadata {
            return Err("stale mirror".into());
        }
        Ok(())
    }
    fn approve(
        &mut self,
        target: &str,
        _: &airlock_core::metadata::TargetFile,
        role: &str,
    ) -> Result<(), String> {
        self.approved.push(format!("{role}:{target}"));
        if self.refuse.as_deref() == Some(target) {
            return Err("not pinned".into());
        }
        Ok(())
    }
    fn begin(&mut self, target: &str, _: &airlock_core::metadata::TargetFile) -> std::io::Result<()> {
        self.begun.push(target.into());
        Ok(())
    }
    fn write(&mut self, _: &[u8]) -> std::io::Result<()> {
        Ok(())
    }
    fn finish(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn the_sink_approves_every_target_before_any_artifact_byte() {
    let (_d, repo) = setup();
    let b = make(&repo, &opts());
    let o = VerifyOptions::at(t(NOW));
    let mut sink = Picky::default();
    verify_bundle(&b[..], &repo.root(), &o, &mut sink).unwrap();
    assert_eq!(sink.approved, ["acme:acme/tool-1.0.tar.gz", "beta:beta/lib.txt"]);
    assert_eq!(sink.begun, ["acme/tool-1.0.tar.gz", "beta/lib.txt"]);

    let mut sink = Picky { refuse: Some("beta/lib.txt".into()), ..Picky::default() };
    let r = verify_bundle(&b[..], &repo.root(), &o, &mut sink);
    assert!(
        matches!(&r, Err(BundleError::Refused { target, reason })
            if target == "beta/lib.txt" && reason == "not pinned"),
        "{r:?}"
    );
    assert!(sink.begun.is_empty());

    let mut sink = Picky { refuse_metadata: true, ..Picky::default() };
    let r = verify_bundle(&b[..], &repo.root(), &o, &mut sink);
    assert!(
        matches!(&r, Err(BundleError::Refused { target, reason })
            if target == "metadata" && reason == "stale mirror"),
        "{r:?}"
    );
    assert!(sink.approved.is_empty() && sink.begun.is_empty());
}

#[test]
fn artifact_names_not_of_the_form_sha256_dot_name_are_refused() {
    let (_d, repo) = setup();
    let (_, files) = split(&make(&repo, &opts()));
    let (path, _) = files.iter().find(|(p, _)| p.starts_with("targets/acme/")).unwrap();
    let (dir, file) = path.rsplit_once('/').unwrap();
    let (sha, name) = file.split_once('.').unwrap();
    let renamed = [
        format!("{dir}/{}.{name}", sha.to_ascii_uppercase()),
        format!("{dir}/{}.{name}", &sha[1..]),
        format!("{dir}/{}g.{name}", &sha[1..]),
        format!("{dir}/{sha}."),
        format!("{dir}/{sha}"),
        format!("other/{sha}.{name}"),
    ];
    for bad in renamed {
        let r = hostile(&repo, |f| {
            let i = f.iter().position(|(p, _)| p == path).unwrap();
            f[i].0 = bad.clone();
        });
        assert!(matches!(&r, Err(BundleError::BadTargetName(p)) if *p == bad), "{bad}: {r:?}");
    }
}

#[test]
fn an_archive_that_ends_early_names_the_first_missing_entry() {
    let (_d, repo) = setup();
    let all = entries(&make(&repo, &opts()));
    let first_target = all.iter().position(|(p, _)| p.starts_with("targets/")).unwrap();
    // After the manifest, amid the metadata, amid the artifacts, before SHA256SUMS.
    for k in [1, 2, first_target + 1, all.len() - 1] {
        // A well-formed archive (with its end marker) that stops after k entries.
        let r = verify(&raw_tar(&all[..k]), &repo.root());
        assert!(matches!(&r, Err(BundleError::Truncated(p)) if *p == all[k].0), "{k}: {r:?}");
    }
    let r = verify(&raw_tar(&[]), &repo.root());
    assert!(matches!(&r, Err(BundleError::Truncated(p)) if p == MANIFEST_PATH), "{r:?}");
}

/// `each_target` gives what `targets` lists, in the same order, and
/// `into_target_paths` their paths.
#[test]
fn each_target_is_targets_one_at_a_time() {
    let (_d, repo) = setup();
    let v = verify(&make(&repo, &opts()), &repo.root()).unwrap();
    assert_eq!(v.targets().len(), 2);
    assert_eq!(v.each_target().collect::<Vec<_>>(), v.targets());
    let paths: Vec<String> = v.targets().iter().map(|(t, _, _)| (*t).to_owned()).collect();
    assert_eq!(v.into_target_paths(), paths);
}

/// Records the sink calls; waits for each verdict before `finish` or not.
struct Recording {
    waits: bool,
    events: Vec<String>,
}

impl ArtifactSink for Recording {
    fn begin(&mut self, target: &str, _: &airlock_core::metadata::TargetFile) -> std::io::Result<()> {
        self.events.push(format!("begin {target}"));
        Ok(())
    }
    fn write(&mut self, _: &[u8]) -> std::io::Result<()> {
        Ok(())
    }
    fn finish(&mut self) -> std::io::Result<()> {
        self.events.push("finish".into());
        Ok(())
    }
    fn finish_waits_for_verdict(&self) -> bool {
        self.waits
    }
}

/// A bundle's manifest and its other entries (path, data) in order.
type Split = (BundleManifest, Vec<(String, Vec<u8>)>);

/// A repository with three artifacts long enough to be hashed on the
/// second thread (`parallel_hash`); its bundle, split; and which of the
/// entries are those three.
fn big_bundle() -> (tempfile::TempDir, Repo, Split, Vec<usize>) {
    let (d, mut repo) = setup();
    let big = |seed: u8| {
        (0..300_000u32).map(|i| (i as u8).wrapping_mul(seed) ^ (i >> 9) as u8).collect::<Vec<u8>>()
    };
    let (a, b, c) = (big(3), big(5), big(7));
    repo.publish("acme", ACME, 2, &[("acme/a.bin", &a[..]), ("acme/b.bin", &b[..]), ("acme/c.bin", &c[..])]);
    repo.snapshot();
    let (m, files) = split(&make(&repo, &opts()));
    let bigs = (0..files.len()).filter(|&i| files[i].1.len() == 300_000).collect::<Vec<_>>();
    assert_eq!(bigs.len(), 3);
    (d, repo, (m, files), bigs)
}

#[test]
fn big_artifacts_verify_whether_the_sink_waits_or_not() {
    let (_d, repo, (m, files), _) = big_bundle();
    let b = rebuild_with(&m, &files);
    for waits in [true, false] {
        let mut sink = Recording { waits, events: Vec::new() };
        let v = verify_bundle(&b[..], &repo.root(), &VerifyOptions::at(t(NOW)), &mut sink).unwrap();
        assert_eq!(v.targets().len(), 5);
        // Each artifact begun, then finished, in stream order.
        assert_eq!(sink.events.len(), 10);
        assert!(sink.events.chunks(2).all(|p| p[0].starts_with("begin ") && p[1] == "finish"));
    }
}

#[test]
fn a_changed_byte_in_any_big_artifact_is_refused_naming_it() {
    let (_d, repo, (m, files), bigs) = big_bundle();
    for &k in &bigs {
        let mut changed = files.clone();
        changed[k].1[150_000] ^= 1;
        let b = rebuild_with(&m, &changed);
        for waits in [true, false] {
            let mut sink = Recording { waits, events: Vec::new() };
            let r = verify_bundle(&b[..], &repo.root(), &VerifyOptions::at(t(NOW)), &mut sink);
            assert!(
                matches!(&r, Err(BundleError::TargetMismatch { path, source: airlock_core::target::TargetError::HashMismatch { .. } }) if *path == files[k].0),
                "{k}, waits {waits}: {r:?}"
            );
            if waits {
                // The bad artifact was never finished.
                assert!(sink.events.last().unwrap().starts_with("begin "), "{:?}", sink.events);
            }
        }
    }
}

#[test]
fn a_failed_big_artifact_is_reported_before_a_later_one_and_a_cut_stream() {
    let (_d, repo, (m, files), bigs) = big_bundle();
    let mut changed = files.clone();
    changed[bigs[0]].1[0] ^= 1;
    changed[bigs[2]].1[0] ^= 1;
    let b = rebuild_with(&m, &changed);
    // Cut in the middle of the last big artifact.
    let mut at = 0;
    for (p, d) in entries(&b) {
        if p == files[bigs[2]].0 {
            break;
        }
        at += 512 + d.len().div_ceil(512) * 512;
    }
    for bytes in [&b[..], &b[..at + 512 + 100_000]] {
        for waits in [true, false] {
            let mut sink = Recording { waits, events: Vec::new() };
            let r = verify_bundle(bytes, &repo.root(), &VerifyOptions::at(t(NOW)), &mut sink);
            assert!(
                matches!(&r, Err(BundleError::TargetMismatch { path, .. }) if *path == files[bigs[0]].0),
                "waits {waits}, {} bytes: {r:?}",
                bytes.len()
            );
        }
    }
}
