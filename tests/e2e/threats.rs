//! The design's threat table, one test per row, through the binaries:
//! build the attack, run the import, assert the reason, and assert that the
//! mirror's served tree and trusted state are byte-for-byte unchanged and
//! that the audit log recorded the refusal.
//!
//! Every verdict is given three times and must agree: by `airlock mirror
//! import`, and by an `airlock-import` built with the world's pins compiled
//! in, both `verify --mirror` (writing nothing) and `import`. The world is
//! made once (keys, ceremony, registries, pins, a mirror that imported the
//! first bundle, and the pinned build) and copied for each test.

use crate::support::{
    assert_served_targets_download, change_ownership, copy_dir, ngclient_fetch, show, tree_hash, Sandbox,
    PASSPHRASE,
};
use airlock_core::archive::ArchivePath;
use airlock_core::bundle::{sha256sums, BundleManifest, EntryKind, MANIFEST_PATH, SUMS_PATH};
use airlock_core::hash::sha256_hex;
use std::io::Read;
use std::path::PathBuf;
use std::sync::OnceLock;

const AT: &str = "2026-11-23T12:00:00Z";

/// A ceremony, a registry with publishers acme and beta, one release each,
/// pins for the registry, and a mirror that imported the first bundle.
pub(crate) struct World {
    pub(crate) sb: Sandbox,
    /// `airlock-import` with this world's pins compiled in.
    pub(crate) importer: PathBuf,
}

/// The world every test starts from, made once per test run.
struct Template {
    sb: Sandbox,
    /// Holds the copy of the pinned importer.
    _bin: Sandbox,
    importer: PathBuf,
}

static TEMPLATE: OnceLock<Template> = OnceLock::new();

impl World {
    /// A copy of the template world.
    pub(crate) fn new() -> Self {
        let t = TEMPLATE.get_or_init(|| {
            let w = World::build();
            // A copy of its own: another test run may rebuild the shared
            // target directory with other pins meanwhile.
            let bin = Sandbox::empty();
            let importer = bin.path("airlock-import");
            std::fs::copy(crate::pinned::build_pinned(&w.sb.path("pins")), &importer).unwrap();
            Template { sb: w.sb, _bin: bin, importer }
        });
        let sb = Sandbox::empty();
        copy_dir(t.sb.root(), sb.root());
        World { sb, importer: t.importer.clone() }
    }

    /// Runs the pinned `airlock-import ARGS` in the world.
    pub(crate) fn import_tool(&self, args: &[&str]) -> crate::support::Run {
        crate::pinned::run(&self.importer, self.sb.root(), args)
    }

    /// Imports `bundle` (expecting success) through `airlock-import verify
    /// --mirror`, then `airlock mirror import`, then checks that python-tuf
    /// downloads every target the mirror serves.
    pub(crate) fn import_ok(&self, bundle: &str) {
        let v = self.import_tool(&["verify", bundle, "--mirror", "mirror", "--at", AT]);
        assert_eq!(v.code, 0, "airlock-import verify refused what the import accepts: {v:?}");
        self.ok(&["mirror", "import", "mirror", bundle, "--at", AT]);
        assert_served_targets_download(
            &self.sb.path("mirror/served/example"),
            &self.sb.path("pins/example/root.json"),
            AT,
        );
    }

    fn run(&self, args: &[&str]) -> crate::support::Run {
        self.sb.run_env(args, &[("AIRLOCK_PASSPHRASE", PASSPHRASE)])
    }

    pub(crate) fn ok(&self, args: &[&str]) {
        self.run(args).ok();
    }

    fn build() -> Self {
        let w = World { sb: Sandbox::new(), importer: PathBuf::new() };
        w.registry("example", "ceremony", "reg");
        for (name, ns) in [("acme", "acme/*"), ("beta", "beta/*")] {
            w.publisher("reg", "ceremony", name, ns, &[]);
        }
        w.release("reg", "ceremony", "acme", "acme/tool-1.0.tar.gz", b"acme tool 1.0\n");
        w.release("reg", "ceremony", "beta", "beta/lib.txt", b"beta lib\n");
        std::fs::create_dir_all(w.sb.path("pins")).unwrap();
        w.sb.write("pins/map.json", r#"{"repositories": {"example": ["dvd://example"], "other": ["dvd://other"]}, "mapping": [{"paths": ["acme/*", "beta/*"], "repositories": ["example"], "terminating": true, "threshold": 1}, {"paths": ["other/*"], "repositories": ["other"], "terminating": true, "threshold": 1}]}"#);
        std::fs::create_dir_all(w.sb.path("pins/example")).unwrap();
        std::fs::copy(w.sb.path("ceremony/1.root.json"), w.sb.path("pins/example/root.json")).unwrap();
        w.registry("other", "other-ceremony", "other");
        std::fs::create_dir_all(w.sb.path("pins/other")).unwrap();
        std::fs::copy(w.sb.path("other-ceremony/1.root.json"), w.sb.path("pins/other/root.json")).unwrap();
        w.ok(&["mirror", "init", "mirror", "--pins", "pins"]);
        w.bundle("reg", "b1.tar");
        w.ok(&["mirror", "import", "mirror", "b1.tar", "--at", AT]);
        assert_served_targets_download(
            &w.sb.path("mirror/served/example"),
            &w.sb.path("pins/example/root.json"),
            AT,
        );
        w
    }

    fn registry(&self, name: &str, ceremony: &str, repo: &str) {
        self.ok(&[
            "ceremony",
            "init",
            "--registry",
            name,
            "--custodian",
            "alice",
            "--threshold",
            "1",
            "--out",
            ceremony,
            "--allow-online",
            "--at",
            AT,
        ]);
        self.ok(&[
            "registry",
            "init",
            repo,
            "--root-dir",
            ceremony,
            "--key",
            &format!("{ceremony}/keys/index.key"),
            "--at",
            AT,
        ]);
    }

    pub(crate) fn publisher(&self, repo: &str, ceremony: &str, name: &str, ns: &str, extra: &[&str]) {
        if !self.sb.exists(&format!("{name}.key")) {
            self.ok(&["key", "generate", "--out", name]);
        }
        let pubf = format!("{name}.pub");
        let mut args = vec![
            "registry",
            "publisher",
            "add",
            name,
            "--public-key",
            &pubf,
            "--namespace",
            ns,
            "--repo",
            repo,
        ];
        args.extend_from_slice(extra);
        change_ownership(&self.sb, &args, ceremony, &["alice"], repo, AT);
    }

    pub(crate) fn release(&self, repo: &str, ceremony: &str, role: &str, target: &str, bytes: &[u8]) {
        let file = format!("art-{}", sha256_hex(bytes));
        self.sb.write(&file, bytes);
        let sub = format!("sub-{}", sha256_hex(format!("{repo}{role}{target}").as_bytes()));
        let current = format!("{repo}/metadata");
        let mut args: Vec<String> = [
            "publish",
            "--role",
            role,
            "--key",
            &format!("{role}.key"),
            "--artifact",
            &format!("{file}={target}"),
            "--out",
            &sub,
            "--at",
            AT,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        // Carry the previous release when there is one.
        if let Some(prev) = latest_role(&self.sb.path(&current), role) {
            args.push("--current".into());
            args.push(prev);
        }
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        self.ok(&argv);
        self.ok(&[
            "registry",
            "accept",
            &sub,
            "--repo",
            repo,
            "--key",
            &format!("{ceremony}/keys/index.key"),
            "--at",
            AT,
        ]);
    }

    pub(crate) fn bundle(&self, repo: &str, out: &str) {
        self.ok(&["bundle", "create", "--repo", repo, "--out", out, "--at", AT]);
    }

    /// Hash of everything the mirror serves and trusts (not the audit log).
    pub(crate) fn mirror_state(&self) -> (String, String) {
        (tree_hash(&self.sb.path("mirror/served")), tree_hash(&self.sb.path("mirror/state/repos")))
    }

    fn audit_steps(&self) -> usize {
        std::fs::read_to_string(self.sb.path("mirror/state/audit.jsonl")).unwrap_or_default().lines().count()
    }

    /// Imports `bundle` expecting a refusal mentioning `needle`; asserts
    /// nothing changed and the refusal was logged.
    #[track_caller]
    pub(crate) fn refused(&self, bundle: &str, needle: &str, extra: &[&str]) {
        let before = self.mirror_state();
        let logged = self.audit_steps();
        let mut args = vec!["mirror", "import", "mirror", bundle];
        args.extend_from_slice(extra);
        if !extra.contains(&"--at") {
            args.extend_from_slice(&["--at", AT]);
        }
        let refusal = self.run(&args);
        refusal.fails(1).mentions(&[needle]);
        let reason = refusal.error_line().trim_start_matches("airlock: error: ").to_owned();
        // The pinned importer gives the same verdict, verifying and importing.
        let mut tool_args = vec!["verify", bundle, "--mirror", "mirror"];
        tool_args.extend_from_slice(&args[4..]);
        let v = self.import_tool(&tool_args);
        assert_eq!(v.code, 1, "airlock-import verify: {v:?}");
        let v_reason = v.stderr.trim().trim_start_matches("airlock-import: error: ").to_owned();
        assert!(reason.starts_with(&v_reason), "verify says {v_reason:?}, import says {reason:?}");
        let mut tool_args = vec!["import", "mirror", bundle];
        tool_args.extend_from_slice(&args[4..]);
        let i = self.import_tool(&tool_args);
        assert_eq!(i.code, 1, "airlock-import import: {i:?}");
        assert_eq!(i.stderr.trim().trim_start_matches("airlock-import: error: "), reason);
        assert_eq!(self.mirror_state(), before, "the mirror changed");
        assert_eq!(self.audit_steps(), logged + 2, "the refusals were not logged");
        let last = std::fs::read_to_string(self.sb.path("mirror/state/audit.jsonl")).unwrap();
        assert!(last.lines().last().unwrap().contains("import refused"));
        self.run(&["mirror", "verify", "mirror", "--at", AT]).ok();
    }
}

/// The newest `N.role.json` in a metadata directory.
pub(crate) fn latest_role(meta: &std::path::Path, role: &str) -> Option<String> {
    let mut best: Option<(u64, String)> = None;
    for e in std::fs::read_dir(meta).ok()?.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(v) = name.strip_suffix(&format!(".{role}.json")).and_then(|v| v.parse::<u64>().ok()) {
            if best.as_ref().is_none_or(|(b, _)| v > *b) {
                best = Some((v, e.path().display().to_string()));
            }
        }
    }
    best.map(|(_, p)| p)
}

/// A plain bundle's entries, (path, bytes), in order.
fn entries_of(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
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

/// Rewrites a plain bundle's entries with `edit`, then fixes the manifest
/// and SHA256SUMS to agree, so only the signed checks can catch the change.
pub(crate) fn rewrite(bytes: &[u8], edit: impl FnMut(&str, &mut Vec<u8>)) -> Vec<u8> {
    rewrite_keeping(bytes, |_| true, edit)
}

/// [`rewrite`], dropping the entries `keep` refuses from the archive and
/// the manifest.
pub(crate) fn rewrite_keeping(
    bytes: &[u8],
    keep: impl Fn(&str) -> bool,
    mut edit: impl FnMut(&str, &mut Vec<u8>),
) -> Vec<u8> {
    let mut entries = entries_of(bytes);
    entries.retain(|(p, _)| p == MANIFEST_PATH || p == SUMS_PATH || keep(p));
    for (p, d) in entries.iter_mut() {
        if p != MANIFEST_PATH && p != SUMS_PATH {
            edit(p, d);
        }
    }
    let mut m = BundleManifest::from_bytes(&entries[0].1).unwrap();
    m.entries.retain(|e| e.kind == EntryKind::Sums || keep(e.path));
    let mut listed = m.entries.to_vec();
    for e in listed.iter_mut() {
        if let Some((_, d)) = entries.iter().find(|(p, _)| p == e.path.as_str()) {
            e.length = d.len() as u64;
            e.sha256 = sha256_hex(d);
        }
    }
    m.entries = listed.iter().cloned().collect();
    let sums = sha256sums(&m.entries).into_bytes();
    if let Some(s) = listed.iter_mut().find(|e| e.kind == EntryKind::Sums) {
        s.length = sums.len() as u64;
        s.sha256 = sha256_hex(&sums);
    }
    m.entries = listed.into_iter().collect();
    entries[0].1 = m.to_bytes();
    let n = entries.len();
    entries[n - 1].1 = sums;
    let mut b = tar::Builder::new(Vec::new());
    for (p, d) in &entries {
        let mut h = tar::Header::new_ustar();
        h.set_path(ArchivePath::new(p).unwrap().as_str()).unwrap();
        h.set_size(d.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append(&h, &d[..]).unwrap();
    }
    b.into_inner().unwrap()
}

fn new_release(w: &World) {
    w.release("reg", "ceremony", "acme", "acme/tool-2.0.tar.gz", b"acme tool 2.0\n");
    w.bundle("reg", "b2.tar");
}

#[test]
fn altered_artifact_in_transit() {
    let w = World::new();
    new_release(&w);
    let b = rewrite(&w.sb.read("b2.tar"), |p, d| {
        if p.ends_with(".tool-2.0.tar.gz") {
            d[0] ^= 1;
        }
    });
    w.sb.write("bad.tar", b);
    w.refused("bad.tar", "differs", &[]);
}

#[test]
fn altered_index_in_transit() {
    let w = World::new();
    new_release(&w);
    let b = rewrite(&w.sb.read("b2.tar"), |p, d| {
        if p == "metadata/timestamp.json" {
            let s =
                String::from_utf8(d.clone()).unwrap().replacen("\"expires\": \"20", "\"expires\": \"21", 1);
            *d = s.into_bytes();
        }
    });
    w.sb.write("bad.tar", b);
    w.refused("bad.tar", "timestamp", &[]);
}

#[test]
fn compromised_mirror_or_cache_serves_other_bytes() {
    let w = World::new();
    new_release(&w);
    // The cache swaps the artifact for other bytes of another length.
    let b = rewrite(&w.sb.read("b2.tar"), |p, d| {
        if p.ends_with(".tool-2.0.tar.gz") {
            *d = b"#!/bin/sh\necho owned\n".to_vec();
        }
    });
    w.sb.write("bad.tar", b);
    w.refused("bad.tar", "signed length", &[]);
}

/// The registry's side of a key it holds trying to change namespace
/// ownership: the draft is written, but nothing the index key can sign gets
/// it published, and the registry is unchanged. (Forged bundles that carry
/// such a change to a mirror are in tests/e2e/ownership.rs.)
#[track_caller]
fn ownership_change_needs_custodians(w: &World, propose: &[&str]) {
    let before = tree_hash(&w.sb.path("reg"));
    let mut args = propose.to_vec();
    args.extend_from_slice(&["--repo", "reg", "--out", "steal.json", "--at", AT]);
    w.ok(&args);
    // The index key is no targets key: it cannot even sign the draft.
    w.run(&[
        "ceremony",
        "sign",
        "steal.json",
        "--root",
        "ceremony/1.root.json",
        "--key",
        "ceremony/keys/index.key",
        "--confirm",
        "0000",
        "--allow-online",
        "--at",
        AT,
    ])
    .fails(2);
    w.run(&[
        "registry",
        "targets",
        "finalize",
        "steal.json",
        "--repo",
        "reg",
        "--key",
        "ceremony/keys/index.key",
        "--at",
        AT,
    ])
    .fails(1)
    .mentions(&["role \"targets\" needs 1 valid signature"]);
    assert_eq!(tree_hash(&w.sb.path("reg")), before, "the registry changed");
}

#[test]
fn registry_signing_key_leaked_cannot_swap_publisher_keys() {
    let w = World::new();
    w.ok(&["key", "generate", "--out", "evil"]);
    ownership_change_needs_custodians(
        &w,
        &["registry", "publisher", "rekey", "acme", "--public-key", "evil.pub"],
    );
}

#[test]
fn rogue_registry_operator_cannot_shadow_a_namespace() {
    let w = World::new();
    w.ok(&["key", "generate", "--out", "rogue"]);
    ownership_change_needs_custodians(
        &w,
        &[
            "registry",
            "publisher",
            "add",
            "rogue",
            "--key",
            "rogue.pub",
            "--namespace",
            "acme/*",
            "--allow-overlap",
        ],
    );
}

#[test]
fn publisher_account_taken_over_without_the_key() {
    let w = World::new();
    new_release(&w);
    // The attacker re-signs acme's role with a key of their own.
    w.ok(&["key", "generate", "--out", "thief"]);
    let bytes = w.sb.read("b2.tar");
    let b = rewrite(&bytes, |p, d| {
        if p.ends_with(".acme.json") {
            let mut v: serde_json::Value = serde_json::from_slice(d).unwrap();
            v["signatures"] = serde_json::json!([{"keyid": "00".repeat(32), "sig": "00".repeat(64)}]);
            *d = serde_json::to_vec(&v).unwrap();
        }
    });
    w.sb.write("bad.tar", b);
    w.refused("bad.tar", "acme", &[]);
}

#[test]
fn bit_rot_in_storage() {
    let w = World::new();
    new_release(&w);
    let mut b = w.sb.read("b2.tar");
    // Flip a bit inside the snapshot metadata entry's data.
    let mut a = tar::Archive::new(&b[..]);
    let pos = a
        .entries()
        .unwrap()
        .map(|e| e.unwrap())
        .find(|e| String::from_utf8_lossy(&e.path_bytes()).ends_with(".snapshot.json"))
        .map(|e| e.raw_file_position() as usize + 40)
        .unwrap();
    b[pos] ^= 0x04;
    w.sb.write("rot.tar", b);
    w.refused("rot.tar", "snapshot", &[]);
}

#[test]
fn history_rewritten_after_the_fact() {
    let w = World::new();
    // The registry (holding the index key) republishes acme version 1 with
    // other bytes and signs a newer snapshot and timestamp that pin them.
    copy_dir(&w.sb.path("reg"), &w.sb.path("hist"));
    let meta = w.sb.path("hist/metadata");
    let acme1 = latest_role(&meta, "acme").unwrap();
    let mut role: serde_json::Value = serde_json::from_slice(&std::fs::read(&acme1).unwrap()).unwrap();
    role["x-rewritten"] = serde_json::json!(true); // outside `signed`: acme's signature still holds
    let role_bytes = serde_json::to_vec_pretty(&role).unwrap();
    std::fs::write(&acme1, &role_bytes).unwrap();
    let ts: serde_json::Value =
        serde_json::from_slice(&std::fs::read(meta.join("timestamp.json")).unwrap()).unwrap();
    let v = ts["signed"]["meta"]["snapshot.json"]["version"].as_u64().unwrap();
    let mut snap: serde_json::Value =
        serde_json::from_slice(&std::fs::read(meta.join(format!("{v}.snapshot.json"))).unwrap()).unwrap();
    snap["signatures"] = serde_json::json!([]);
    snap["signed"]["version"] = serde_json::json!(v + 1);
    snap["signed"]["meta"]["acme.json"]["length"] = serde_json::json!(role_bytes.len());
    snap["signed"]["meta"]["acme.json"]["hashes"] = serde_json::json!({"sha256": sha256_hex(&role_bytes)});
    let snap_name = format!("hist/metadata/{}.snapshot.json", v + 1);
    w.sb.write(&snap_name, serde_json::to_vec_pretty(&snap).unwrap());
    w.ok(&[
        "metadata",
        "sign",
        &snap_name,
        "--key",
        "ceremony/keys/index.key",
        "--root",
        "ceremony/1.root.json",
    ]);
    let snap_bytes = w.sb.read(&snap_name);
    let mut ts = ts;
    ts["signatures"] = serde_json::json!([]);
    ts["signed"]["version"] = serde_json::json!(ts["signed"]["version"].as_u64().unwrap() + 1);
    ts["signed"]["meta"]["snapshot.json"] = serde_json::json!({"version": v + 1, "length": snap_bytes.len(), "hashes": {"sha256": sha256_hex(&snap_bytes)}});
    w.sb.write("hist/metadata/timestamp.json", serde_json::to_vec_pretty(&ts).unwrap());
    w.ok(&[
        "metadata",
        "sign",
        "hist/metadata/timestamp.json",
        "--key",
        "ceremony/keys/index.key",
        "--root",
        "ceremony/1.root.json",
    ]);
    // The operator drops the registry's log, which would give the rewrite
    // away (a mirror that holds a checkpoint also refuses a bundle without
    // one: transparency.rs); the history rule refuses it first.
    std::fs::remove_dir_all(w.sb.path("hist/log")).unwrap();
    w.bundle("hist", "hist.tar");
    w.refused("hist.tar", "history rewritten", &[]);
}

#[test]
fn dependency_confusion_same_name_other_registry() {
    let w = World::new();
    w.publisher("other", "other-ceremony", "mallory", "acme/*", &[]);
    w.release("other", "other-ceremony", "mallory", "acme/tool-1.0.tar.gz", b"confused\n");
    w.bundle("other", "other.tar");
    w.refused("other.tar", "acme/tool-1.0.tar.gz", &[]);
}

#[test]
fn rollback_to_an_older_bundle() {
    let w = World::new();
    new_release(&w);
    w.import_ok("b2.tar");
    w.refused("b1.tar", "rollback", &[]);
}

#[test]
fn freeze_with_stale_metadata() {
    let w = World::new();
    new_release(&w);
    w.refused("b2.tar", "expired", &["--at", "2030-01-01T00:00:00Z"]);
}

#[test]
fn mix_and_match_of_metadata_and_files() {
    let w = World::new();
    new_release(&w);
    let old_snapshot: Vec<(String, Vec<u8>)> =
        entries_of(&w.sb.read("b1.tar")).into_iter().filter(|(p, _)| p.ends_with(".snapshot.json")).collect();
    // New timestamp, the old snapshot's bytes under the new snapshot's name.
    let b = rewrite(&w.sb.read("b2.tar"), |p, d| {
        if p.ends_with(".snapshot.json") {
            *d = old_snapshot[0].1.clone();
        }
    });
    w.sb.write("mix.tar", b);
    w.refused("mix.tar", "snapshot", &[]);
}

#[test]
fn endless_data_and_hostile_archives() {
    let w = World::new();
    new_release(&w);
    let mut b = w.sb.read("b2.tar");
    b.extend(std::iter::repeat_n(0u8, 4 << 20));
    b.extend_from_slice(b"tail");
    w.sb.write("long.tar", b);
    w.refused("long.tar", "expands past", &[]);
    // A traversal entry slipped in ahead of the metadata.
    let good = w.sb.read("b2.tar");
    let mut out = tar::Builder::new(Vec::new());
    let mut a = tar::Archive::new(&good[..]);
    for (i, e) in a.entries().unwrap().enumerate() {
        let mut e = e.unwrap();
        let mut d = Vec::new();
        e.read_to_end(&mut d).unwrap();
        if i == 1 {
            let mut h = tar::Header::new_ustar();
            let name = b"../../etc/cron.d/x";
            h.as_ustar_mut().unwrap().name[..name.len()].copy_from_slice(name);
            h.set_size(1);
            h.set_cksum();
            out.append(&h, &b"x"[..]).unwrap();
        }
        let mut h = e.header().clone();
        h.set_cksum();
        out.append(&h, &d[..]).unwrap();
    }
    w.sb.write("evil.tar", out.into_inner().unwrap());
    w.refused("evil.tar", "..", &[]);
}

#[test]
fn python_tuf_updates_from_the_mirror_over_http() {
    let Some(py) = crate::support::python() else { return };
    let w = World::new();
    let served = w.sb.path("mirror/served/example");
    let server = crate::http_server::Server::start(&py, &served);
    let root = w.sb.path("pins/example/root.json");
    let targets = ["acme/tool-1.0.tar.gz", "beta/lib.txt"];
    // The world was made at AT, so the client reads it at AT.
    let fetch = |work: &str| ngclient_fetch(&py, AT, &server.url, &root, &w.sb.path(work), &targets);
    let out = fetch("client1");
    assert!(out.status.success(), "{}", show(&out));
    // A target changed on the mirror's disk is refused by the client.
    let dir = served.join("targets/acme");
    let f = std::fs::read_dir(&dir).unwrap().next().unwrap().unwrap().path();
    std::fs::write(&f, b"tampered on disk\n").unwrap();
    let out = fetch("client2");
    assert!(!out.status.success(), "ngclient accepted a tampered target");
}

#[test]
fn a_crash_at_any_point_of_an_import_leaves_the_old_or_the_new_state() {
    if !crate::support::fault_injection() {
        return;
    }
    let w = World::new();
    new_release(&w);
    let old = w.mirror_state();
    copy_dir(&w.sb.path("mirror"), &w.sb.path("pristine"));
    w.import_ok("b2.tar");
    let new = w.mirror_state();
    assert_ne!(old, new);
    let state = |dir: &str| {
        (
            tree_hash(&w.sb.path(&format!("{dir}/served"))),
            tree_hash(&w.sb.path(&format!("{dir}/state/repos"))),
        )
    };
    let mut points: Vec<String> =
        ["staged", "journal", "state", "audit"].iter().map(|s| s.to_string()).collect();
    points.extend((0..40).map(|i| format!("move-{i}")));
    let mut crashed = 0;
    for (i, point) in points.iter().enumerate() {
        let dir = format!("m{i}");
        copy_dir(&w.sb.path("pristine"), &w.sb.path(&dir));
        let run = w
            .sb
            .run_env(&["mirror", "import", &dir, "b2.tar", "--at", AT], &[("AIRLOCK_TEST_KILL_AT", point)]);
        if run.code != 0 {
            crashed += 1;
        }
        // Whatever happened, a later command finds the old or the new state.
        w.run(&["mirror", "verify", &dir, "--at", AT]).ok();
        let s = state(&dir);
        assert!(s == old || s == new, "after a crash at {point}: neither the old nor the new state");
        std::fs::remove_dir_all(w.sb.path(&dir)).unwrap();
    }
    assert!(crashed >= 8, "only {crashed} crash points were reached");
}

/// Signs `rel` in place with the (leaked) index key after setting its
/// version and clearing its signatures; returns the new bytes.
fn resign(w: &World, rel: &str, edit: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
    let mut v: serde_json::Value = serde_json::from_slice(&w.sb.read(rel)).unwrap();
    v["signatures"] = serde_json::json!([]);
    edit(&mut v);
    w.sb.write(rel, serde_json::to_vec_pretty(&v).unwrap());
    w.ok(&["metadata", "sign", rel, "--key", "ceremony/keys/index.key", "--root", "ceremony/1.root.json"]);
    w.sb.read(rel)
}

#[test]
fn fast_forward_by_a_leaked_key_is_undone_by_rotation() {
    let w = World::new();
    // The attacker holding the index key inflates snapshot and timestamp to 1000.
    copy_dir(&w.sb.path("reg"), &w.sb.path("ff"));
    let ts: serde_json::Value = serde_json::from_slice(&w.sb.read("ff/metadata/timestamp.json")).unwrap();
    let v = ts["signed"]["meta"]["snapshot.json"]["version"].as_u64().unwrap();
    std::fs::copy(
        w.sb.path(&format!("ff/metadata/{v}.snapshot.json")),
        w.sb.path("ff/metadata/1000.snapshot.json"),
    )
    .unwrap();
    let snap =
        resign(&w, "ff/metadata/1000.snapshot.json", |s| s["signed"]["version"] = serde_json::json!(1000));
    resign(&w, "ff/metadata/timestamp.json", |t| {
        t["signed"]["version"] = serde_json::json!(1000);
        t["signed"]["meta"]["snapshot.json"] = serde_json::json!({"version": 1000, "length": snap.len(), "hashes": {"sha256": sha256_hex(&snap)}});
    });
    w.bundle("ff", "ff.tar");
    w.import_ok("ff.tar");
    // Now the registry's honest next version is refused as a rollback from 1000.
    w.release("reg", "ceremony", "beta", "beta/lib2.txt", b"lib2\n");
    w.bundle("reg", "honest.tar");
    w.refused("honest.tar", "rollback", &[]);
    // The custodians revoke the leaked key; the registry re-signs with the new one.
    w.ok(&["key", "generate", "--out", "index2"]);
    w.ok(&[
        "ceremony",
        "propose",
        "--root",
        "ceremony/1.root.json",
        "--out",
        "ceremony/draft-2.json",
        "--revoke-index",
        "index2.pub",
        "--allow-online",
        "--at",
        AT,
    ]);
    let out = w.run(&[
        "ceremony",
        "payload",
        "ceremony/draft-2.json",
        "--out",
        "p.bin",
        "--allow-online",
        "--at",
        AT,
    ]);
    let hash = out.stdout.rsplit("payload hash ").next().unwrap().trim().to_owned();
    for key in ["ceremony/keys/alice.key", "index2.key"] {
        w.ok(&[
            "ceremony",
            "sign",
            "ceremony/draft-2.json",
            "--root",
            "ceremony/1.root.json",
            "--key",
            key,
            "--confirm",
            &hash,
            "--allow-online",
            "--at",
            AT,
        ]);
    }
    w.ok(&[
        "ceremony",
        "finalize",
        "ceremony/draft-2.json",
        "--root",
        "ceremony/1.root.json",
        "--out",
        "ceremony/2.root.json",
        "--allow-online",
        "--at",
        AT,
    ]);
    w.ok(&[
        "registry",
        "update-root",
        "--root-dir",
        "ceremony",
        "--repo",
        "reg",
        "--key",
        "index2.key",
        "--at",
        AT,
    ]);
    w.bundle("reg", "recovered.tar");
    w.import_ok("recovered.tar");
    w.ok(&["mirror", "verify", "mirror", "--at", AT]);
    let log = w.sb.read_string("mirror/state/audit.jsonl");
    assert!(
        log.lines().last().unwrap().contains("fast_forward_recovery"),
        "the recovery is not in the audit log"
    );
}

#[test]
fn gnu_tar_and_sha256sum_read_a_bundle() {
    let w = World::new();
    w.run(&["bundle", "create", "--repo", "reg", "--out", "again.tar", "--at", AT]).ok();
    assert_eq!(w.sb.read("b1.tar"), w.sb.read("again.tar"), "bundles of one state differ");
    let list = std::process::Command::new("tar").arg("-tf").arg(w.sb.path("b1.tar")).output().unwrap();
    assert!(list.status.success());
    assert!(String::from_utf8_lossy(&list.stdout).lines().next() == Some("airlock-bundle.json"));
    std::fs::create_dir_all(w.sb.path("x")).unwrap();
    let x = std::process::Command::new("tar")
        .arg("-xf")
        .arg(w.sb.path("b1.tar"))
        .arg("-C")
        .arg(w.sb.path("x"))
        .status()
        .unwrap();
    assert!(x.success());
    let sums = std::process::Command::new("sha256sum")
        .args(["-c", "--quiet", "SHA256SUMS"])
        .current_dir(w.sb.path("x"))
        .status()
        .unwrap();
    assert!(sums.success(), "sha256sum -c failed on the extracted bundle");
}

#[test]
fn freshness_policy_bounds_metadata_age_by_the_signed_issue_time() {
    let w = World::new();
    w.sb.write("fresh.toml", "max_metadata_age = \"1h\"\nclock_skew = \"5m\"\n");
    w.ok(&["mirror", "init", "m2", "--pins", "pins", "--policy", "fresh.toml"]);
    // Thirty minutes after the registry signed: fresh enough.
    w.ok(&["mirror", "import", "m2", "b1.tar", "--at", "2026-11-23T12:30:00Z"]);
    assert_served_targets_download(&w.sb.path("m2/served/example"), &w.sb.path("pins/example/root.json"), AT);
    // Two hours after: the timestamp has not expired, but policy refuses it.
    w.ok(&["mirror", "init", "m3", "--pins", "pins", "--policy", "fresh.toml"]);
    w.run(&["mirror", "import", "m3", "b1.tar", "--at", "2026-11-23T14:00:00Z"])
        .fails(1)
        .mentions(&["max_metadata_age"]);
}
