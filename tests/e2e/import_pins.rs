//! `airlock-import`: pins compiled in at build time, none taken at run time.
//!
//! The binary cargo builds for the test suite has no pins (no
//! `AIRLOCK_PINS_DIR`), and must refuse to do anything but say so. A second
//! build with pins takes minutes, so it runs only with `AIRLOCK_SLOW_TESTS=1`
//! or `CI=true`; it uses its own target directory, `target/pinned-import`,
//! kept between runs so that the build is incremental.

use crate::support::{t, Run, Sandbox, FAR, NOW};
use airlock_core::client::meta_file_for;
use airlock_core::hash::sha256_hex;
use airlock_core::metadata::{RoleKeys, Root, Snapshot, TargetFile, Targets, TimestampRole, TOP_LEVEL_ROLES};
use airlock_core::{registry_identity, Ed25519Signer, Metadata, Signer};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const PREFIX: &str = "airlock-import: error:";

/// Runs `bin ARGS` in `dir` with every `AIRLOCK_*` variable removed.
fn run(bin: &Path, dir: &Path, args: &[&str]) -> Run {
    let mut cmd = Command::new(bin);
    cmd.args(args).current_dir(dir).stdin(Stdio::null());
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("AIRLOCK_") {
            cmd.env_remove(&k);
        }
    }
    let out = cmd.output().expect("run airlock-import");
    Run {
        args: args.iter().map(|a| a.to_string()).collect(),
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Asserts exit `code` and a single error line, the last on stderr, that
/// mentions every needle.
#[track_caller]
fn fails(r: &Run, code: i32, needles: &[&str]) {
    assert_eq!(r.code, code, "{r:?}");
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "expected one stderr line: {r:?}");
    assert!(lines[0].starts_with(PREFIX), "{r:?}");
    for n in needles {
        assert!(lines[0].contains(n), "error line does not mention {n:?}: {r:?}");
    }
}

#[test]
fn unpinned_build_refuses_everything_and_takes_no_runtime_pins() {
    if option_env!("AIRLOCK_PINS_DIR").is_some() {
        eprintln!("SKIPPED: this test binary was built with AIRLOCK_PINS_DIR set");
        return;
    }
    let sb = Sandbox::empty();
    let bin = Path::new(env!("CARGO_BIN_EXE_airlock-import"));
    sb.write("map.json", "{}");
    fails(&run(bin, sb.root(), &["pins"]), 2, &["no pins compiled in", "AIRLOCK_PINS_DIR="]);
    fails(&run(bin, sb.root(), &["verify", "x.tar"]), 2, &["no pins compiled in"]);
    fails(&run(bin, sb.root(), &["import", "m", "x.tar"]), 2, &["no pins compiled in"]);
    fails(&run(bin, sb.root(), &["--pins", ".", "pins"]), 2, &["--pins"]);
    fails(&run(bin, sb.root(), &["verify", "--pins", "map.json", "x.tar"]), 2, &["--pins"]);
    fails(&run(bin, sb.root(), &["import", "--pins", "map.json", "m", "x.tar"]), 2, &["--pins"]);
    let help = run(bin, sb.root(), &["--help"]);
    assert_eq!(help.code, 0);
    assert!(!help.stdout.contains("--pins"), "{help:?}");
}

fn signer(seed: u8) -> Ed25519Signer {
    Ed25519Signer::new(ed25519_dalek::SigningKey::from_bytes(&[seed; 32]))
}

fn sign<R: airlock_core::metadata::Role>(r: R, seed: u8) -> Vec<u8> {
    let mut md = Metadata::new(r).expect("valid metadata");
    md.sign(&signer(seed)).expect("sign");
    md.to_bytes()
}

/// Root version 1: root key `root_seed`, every other role key `index_seed`.
fn root_v1(root_seed: u8, index_seed: u8) -> Vec<u8> {
    let mut keys = BTreeMap::new();
    for s in [root_seed, index_seed] {
        keys.insert(signer(s).key_id(), signer(s).public_key().clone());
    }
    let role = |s: u8| RoleKeys {
        keyids: vec![signer(s).key_id()],
        threshold: 1,
        retiring: BTreeMap::new(),
        extra: BTreeMap::new(),
    };
    let root = Root {
        type_: "root".into(),
        spec_version: "1.0.31".into(),
        consistent_snapshot: Some(true),
        version: 1,
        expires: t(FAR),
        keys,
        roles: TOP_LEVEL_ROLES
            .iter()
            .map(|n| (n.to_string(), role(if *n == "root" { root_seed } else { index_seed })))
            .collect(),
        extra: BTreeMap::new(),
    };
    sign(root, root_seed)
}

/// A one-version registry tree: top-level targets signs `files` itself.
fn registry(dir: &Path, root: &[u8], index_seed: u8, files: &[(&str, &[u8])]) {
    std::fs::create_dir_all(dir.join("metadata")).expect("mkdir");
    std::fs::write(dir.join("metadata/1.root.json"), root).expect("write root");
    let mut targets = Targets::new(1, t(FAR));
    for (path, bytes) in files {
        let sha = sha256_hex(bytes);
        let (d, name) = path.rsplit_once('/').expect("namespaced path");
        let p = dir.join(format!("targets/{d}/{sha}.{name}"));
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(&p, bytes).expect("write target");
        targets.targets.insert(
            path.to_string(),
            TargetFile {
                length: bytes.len() as u64,
                hashes: [("sha256".to_owned(), sha)].into_iter().collect(),
                custom: None,
                extra: BTreeMap::new(),
            },
        );
    }
    let targets = sign(targets, index_seed);
    std::fs::write(dir.join("metadata/1.targets.json"), &targets).expect("write targets");
    let meta = [("targets.json".to_owned(), meta_file_for(&targets, 1))].into_iter().collect();
    let snapshot = sign(Snapshot::new(1, t(FAR), meta), index_seed);
    std::fs::write(dir.join("metadata/1.snapshot.json"), &snapshot).expect("write snapshot");
    let ts = sign(TimestampRole::new(1, t(FAR), meta_file_for(&snapshot, 1)), index_seed);
    std::fs::write(dir.join("metadata/timestamp.json"), ts).expect("write timestamp");
}

fn slow_tests_enabled() -> bool {
    std::env::var("AIRLOCK_SLOW_TESTS").is_ok_and(|v| v == "1")
        || std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Builds `airlock-import` with `pins` compiled in; returns the binary.
fn build_pinned(pins: &Path) -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf();
    let target = workspace.join("target/pinned-import");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args(["build", "--offline", "--bin", "airlock-import"])
        .current_dir(&workspace)
        .env("AIRLOCK_PINS_DIR", pins)
        .env("CARGO_TARGET_DIR", &target)
        // The compiler runs on the real clock: under the shifted-clock pass
        // of scripts/test, rustc with libfaketime preloaded deadlocks.
        .env_remove("LD_PRELOAD")
        .env_remove("FAKETIME")
        .stdin(Stdio::null())
        .output()
        .expect("run cargo build");
    assert!(out.status.success(), "pinned build failed:\n{}", String::from_utf8_lossy(&out.stderr));
    target.join("debug/airlock-import")
}

#[test]
fn pinned_build_prints_its_pins_verifies_and_refuses_other_registries_namespaces() {
    if !slow_tests_enabled() {
        eprintln!(
            "SKIPPED: building a pinned airlock-import takes minutes; set AIRLOCK_SLOW_TESTS=1 to run it"
        );
        return;
    }
    let sb = Sandbox::empty();
    let main_root = root_v1(1, 2);
    let other_root = root_v1(3, 4);
    for (name, root) in [("main", &main_root), ("other", &other_root)] {
        std::fs::create_dir_all(sb.path(&format!("pins/{name}"))).expect("mkdir");
        sb.write(&format!("pins/{name}/root.json"), root);
    }
    sb.write(
        "pins/map.json",
        serde_json::to_vec_pretty(&serde_json::json!({
            "repositories": {"main": [], "other": []},
            "mapping": [
                {"paths": ["acme/*"], "repositories": ["main"], "terminating": true, "threshold": 1},
                {"paths": ["beta/*"], "repositories": ["other"], "terminating": true, "threshold": 1},
            ],
        }))
        .expect("encode"),
    );
    let bin = build_pinned(&sb.path("pins"));

    // What it has compiled in, as an operator compares it with a ceremony record.
    let pins = run(&bin, sb.root(), &["pins"]);
    assert_eq!(pins.code, 0, "{pins:?}");
    let id = registry_identity(&Metadata::from_bytes(&main_root).expect("root"));
    assert!(pins.stdout.contains(&airlock_core::identity::grouped(&id)), "{pins:?}");
    assert!(pins.stdout.contains(&airlock_core::identity::words(&id).expect("words")), "{pins:?}");
    assert!(pins.stdout.contains("mapping 0: acme/* -> main (terminating, threshold 1)"), "{pins:?}");

    // Run-time pins do not exist.
    fails(&run(&bin, sb.root(), &["--pins", "pins", "pins"]), 2, &["--pins"]);
    fails(&run(&bin, sb.root(), &["verify", "--pins", "pins", "x.tar"]), 2, &["--pins"]);

    // A bundle of the main registry's own namespace verifies.
    registry(
        &sb.path("repo"),
        &main_root,
        2,
        &[("acme/tool-1.0.tar.gz", b"acme tool"), ("beta/lib.txt", b"not main's to give")],
    );
    sb.run(&[
        "bundle",
        "create",
        "--repo",
        "repo",
        "--out",
        "acme.tar",
        "--namespace",
        "acme/*",
        "--at",
        NOW,
    ])
    .ok();
    let ok = run(&bin, sb.root(), &["verify", "acme.tar", "--at", NOW, "--json"]);
    assert_eq!(ok.code, 0, "{ok:?}");
    let report: serde_json::Value = serde_json::from_str(&ok.stdout).expect("JSON report");
    assert_eq!(report["verified"], true);
    assert_eq!(report["repository"], "main");
    assert_eq!(report["targets"][0]["path"], "acme/tool-1.0.tar.gz");
    assert_eq!(report["targets"][0]["mapping"], 0);

    // Dependency confusion: main signed beta/lib.txt, but beta/* is pinned to other.
    sb.run(&["bundle", "create", "--repo", "repo", "--out", "all.tar", "--at", NOW]).ok();
    let refused = run(&bin, sb.root(), &["verify", "all.tar", "--at", NOW]);
    fails(&refused, 1, &["beta/lib.txt", "\"main\"", "other"]);
    assert!(!refused.stdout.contains("bundle verified"), "{refused:?}");

    // A registry pinned for nothing at all.
    registry(&sb.path("stranger"), &root_v1(5, 6), 6, &[("acme/tool-1.0.tar.gz", b"impostor")]);
    sb.run(&["bundle", "create", "--repo", "stranger", "--out", "stranger.tar", "--at", NOW]).ok();
    fails(&run(&bin, sb.root(), &["verify", "stranger.tar", "--at", NOW]), 1, &["not pinned"]);
}
