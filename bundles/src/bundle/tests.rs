//! Bundle writer and reader tests: determinism, verification, and one test
//! per hostile-archive case, each asserting the typed reason.

use super::testrepo::{signer, t, Repo, ACME, NOW};
use super::*;
use airlock_core::archive::ArchivePath;
use airlock_core::bundle::{sha256sums, BundleManifest, EntryKind, ManifestEntry, MANIFEST_PATH, SUMS_PATH};
use airlock_core::hash::sha256_hex;
use std::io::Read;

fn opts() -> BundleOptions {
    BundleOptions { gzip: false, namespaces: vec![], since_snapshot: None, created: t(NOW) }
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
