//! `airlock-import`: pins compiled in at build time, none taken at run time.
//!
//! The binary cargo builds for the test suite has no pins (no
//! `AIRLOCK_PINS_DIR`), and must refuse to do anything but say so. The
//! threat-table world's build with its pins compiled in (`pinned.rs`, built
//! on every run) shows what it prints, that it takes no pins at run time, and
//! that it follows a publisher key rotation the custodians signed.

use crate::pinned::run;
use crate::support::{assert_served_targets_download, change_ownership, Run, Sandbox};
use crate::threats::World;
use airlock_core::{registry_identity, Metadata};
use std::path::Path;

const PREFIX: &str = "airlock-import: error:";
const AT: &str = "2026-11-23T12:00:00Z";

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

#[test]
fn pinned_build_prints_its_pins_verifies_and_takes_no_runtime_pins() {
    let w = World::new();
    let bin = w.importer.clone();
    // What it has compiled in, as an operator compares it with a ceremony record.
    let pins = run(&bin, w.sb.root(), &["pins"]);
    assert_eq!(pins.code, 0, "{pins:?}");
    let root = w.sb.read("ceremony/1.root.json");
    let id = registry_identity(&Metadata::from_bytes(&root).expect("root"));
    assert!(pins.stdout.contains(&airlock_core::identity::grouped(&id)), "{pins:?}");
    assert!(pins.stdout.contains(&airlock_core::identity::words(&id).expect("words")), "{pins:?}");
    assert!(
        pins.stdout.contains("mapping 0: acme/*, beta/* -> example (terminating, threshold 1)"),
        "{pins:?}"
    );

    // Run-time pins do not exist.
    fails(&run(&bin, w.sb.root(), &["--pins", "pins", "pins"]), 2, &["--pins"]);
    fails(&run(&bin, w.sb.root(), &["verify", "--pins", "pins", "b1.tar"]), 2, &["--pins"]);

    // The world's first bundle, judged as a fresh mirror would.
    let ok = run(&bin, w.sb.root(), &["verify", "b1.tar", "--at", AT, "--json"]);
    assert_eq!(ok.code, 0, "{ok:?}");
    let report: serde_json::Value = serde_json::from_str(&ok.stdout).expect("JSON report");
    assert_eq!(report["verified"], true);
    assert_eq!(report["against"], "fresh mirror");
    assert_eq!(report["repository"], "example");
    assert_eq!(report["served_targets"], 2);
    let paths: Vec<&str> =
        report["targets"].as_array().unwrap().iter().map(|t| t["path"].as_str().unwrap()).collect();
    assert_eq!(paths, ["acme/tool-1.0.tar.gz", "beta/lib.txt"]);
    // Against the mirror that imported it already, it is a replay.
    fails(
        &run(&bin, w.sb.root(), &["verify", "b1.tar", "--mirror", "mirror", "--at", AT]),
        1,
        &["rule newer"],
    );
    // A mirror made for other pins is refused.
    w.sb.write("pins2-map.json", "{}");
    std::fs::create_dir_all(w.sb.path("pins2/example")).unwrap();
    std::fs::copy(w.sb.path("pins/example/root.json"), w.sb.path("pins2/example/root.json")).unwrap();
    w.sb.write("pins2/map.json", r#"{"repositories": {"example": []}, "mapping": [{"paths": ["acme/*"], "repositories": ["example"], "terminating": true, "threshold": 1}]}"#);
    w.sb.run(&["mirror", "init", "other-mirror", "--pins", "pins2"]).ok();
    fails(&run(&bin, w.sb.root(), &["import", "other-mirror", "b1.tar", "--at", AT]), 2, &["other pins"]);
}

#[test]
fn pinned_build_follows_a_publisher_key_rotation_the_custodians_signed() {
    let w = World::new();
    let env = [("AIRLOCK_PASSPHRASE", crate::support::PASSPHRASE)];
    w.sb.run_env(&["key", "generate", "--out", "acme2"], &env).ok();
    let rekey = ["registry", "publisher", "rekey", "acme", "--public-key", "acme2.pub", "--repo", "reg"];
    change_ownership(&w.sb, &rekey, "ceremony", &["alice"], "reg", AT);
    w.sb.write("tool2", b"acme tool 2.0 under the new key\n");
    let current = crate::threats::latest_role(&w.sb.path("reg/metadata"), "acme").unwrap();
    for (key, sub) in [("acme.key", "sub-old"), ("acme2.key", "sub-new")] {
        w.sb.run_env(
            &[
                "publish",
                "--role",
                "acme",
                "--key",
                key,
                "--current",
                &current,
                "--artifact",
                "tool2=acme/tool-2.0.tar.gz",
                "--out",
                sub,
                "--at",
                AT,
            ],
            &env,
        )
        .ok();
    }
    // The retired key's release is refused by the registry...
    let idx = ["--repo", "reg", "--key", "ceremony/keys/index.key", "--at", AT];
    w.sb.run_env(&[&["registry", "accept", "sub-old"][..], &idx].concat(), &env).fails(1).mentions(&["acme"]);
    // ... and the new key's is accepted, bundled and imported by the pinned importer.
    w.sb.run_env(&[&["registry", "accept", "sub-new"][..], &idx].concat(), &env).ok();
    w.sb.run(&["bundle", "create", "--repo", "reg", "--out", "b2.tar", "--at", AT]).ok();
    let v = run(&w.importer, w.sb.root(), &["verify", "b2.tar", "--mirror", "mirror", "--at", AT]);
    assert_eq!(v.code, 0, "{v:?}");
    let i = run(&w.importer, w.sb.root(), &["import", "mirror", "b2.tar", "--at", AT]);
    assert_eq!(i.code, 0, "{i:?}");
    assert!(i.stdout.contains("delegation targets -> acme changed"), "{i:?}");
    assert_served_targets_download(
        &w.sb.path("mirror/served/example"),
        &w.sb.path("pins/example/root.json"),
        AT,
    );
}
