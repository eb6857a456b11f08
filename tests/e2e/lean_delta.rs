//! Lean deltas: a delta carries only the metadata that changed and the
//! artifacts its base did not have; the mirror supplies the rest, each
//! checked byte for byte, and a mirror that lacks one refuses the delta.
//! The artifacts are 64 KiB: the delta still carries the changed role,
//! which lists all 1,001 targets (about half a megabyte of metadata; with
//! hash bins it carries one bin instead: tests/e2e/hash_bins.rs).

use crate::exit_codes::world;
use crate::registry_cli::{accept, delta_since, snapshot_version, AT};
use crate::support::{tree_hash, PASSPHRASE};

#[test]
fn a_delta_adding_one_artifact_to_a_thousand_is_under_one_percent_and_imports() {
    let sb = world();
    let env = [("AIRLOCK_PASSPHRASE", PASSPHRASE)];
    std::fs::create_dir_all(sb.path("art")).unwrap();
    let mut args: Vec<String> =
        ["publish", "--role", "acme", "--key", "acme.key", "--out-dir", "big", "--at", AT]
            .iter()
            .map(|s| s.to_string())
            .collect();
    args.extend(["--current".into(), "reg/metadata/1.acme.json".into()]);
    for i in 0..1000 {
        let mut bytes = vec![0u8; 64 * 1024];
        bytes[..8].copy_from_slice(&(i as u64).to_le_bytes());
        sb.write(&format!("art/{i}"), &bytes);
        args.push("--artifact".into());
        args.push(format!("art/{i}=acme/file-{i:04}"));
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    sb.run_env(&refs, &env).ok();
    accept(&sb, "big").ok();
    sb.run(&["bundle", "create", "--repo", "reg", "--out", "full.tar", "--at", AT]).ok();
    let snapshot = snapshot_version(&sb);
    for m in ["m", "m2"] {
        sb.run(&["mirror", "init", m, "--pins", "pins"]).ok();
        sb.run(&["mirror", "import", m, "full.tar", "--at", AT]).ok();
    }

    // One more artifact.
    sb.write("new.bin", b"the one new artifact\n");
    sb.run_env(
        &[
            "publish",
            "--role",
            "acme",
            "--key",
            "acme.key",
            "--current",
            "reg/metadata/2.acme.json",
            "--artifact",
            "new.bin=acme/new",
            "--out",
            "one",
            "--at",
            AT,
        ],
        &env,
    )
    .ok();
    accept(&sb, "one").ok();
    let made = delta_since(&sb, &snapshot, "delta.tar");
    assert_eq!(made.json()["artifacts"], 1, "a lean delta carries only the new artifact");
    let (full, delta) = (sb.read("full.tar").len(), sb.read("delta.tar").len());
    assert!(delta * 100 < full, "delta {delta} bytes is not under 1% of the full bundle's {full}");
    // The figure docs/BENCHMARKS.md records ("Lean deltas").
    eprintln!("lean delta: full bundle {full} bytes, delta {delta} bytes");

    sb.run(&["mirror", "import", "m", "delta.tar", "--at", AT]).ok();
    sb.run(&["mirror", "verify", "m", "--at", AT]).ok();
    let served = std::fs::read_dir(sb.path("m/served/example/targets/acme")).unwrap().count();
    assert_eq!(served, 1002, "1,000 from the base, acme/x from the fixture, and the new one");

    // A mirror that lost one of the base artifacts refuses the delta, unchanged.
    let lost = std::fs::read_dir(sb.path("m2/served/example/targets/acme"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".file-0500"))
        .expect("file-0500 is served");
    std::fs::remove_file(&lost).unwrap();
    let before = tree_hash(&sb.path("m2/served"));
    sb.run(&["mirror", "import", "m2", "delta.tar", "--at", AT]).fails(1).mentions(&[
        "rule complete-metadata",
        "acme/file-0500",
        "neither carried nor held",
    ]);
    assert_eq!(tree_hash(&sb.path("m2/served")), before);
    // A damaged copy is refused the same way.
    std::fs::copy(sb.path("new.bin"), &lost).unwrap();
    let before = tree_hash(&sb.path("m2/served"));
    sb.run(&["mirror", "import", "m2", "delta.tar", "--at", AT]).fails(1).mentions(&[
        "acme/file-0500",
        "listed but not carried",
        "the mirror's copy differs",
    ]);
    assert_eq!(tree_hash(&sb.path("m2/served")), before);
}
