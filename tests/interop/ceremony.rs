//! python-tuf's ngclient follows a root chain written by `airlock ceremony`
//! through three rotations (index key rotated with a window, then revoked;
//! custodians replaced; the threshold raised and lowered), and refuses the
//! chain once one required signature is taken out of an intermediate root.
//! `airlock root verify` must agree with it both times.

use crate::support::{self, run_py, run_py_at};
use airlock_core::client::meta_file_for;
use airlock_core::hash::sha256_hex;
use airlock_core::metadata::{Role, Snapshot, TargetFile, Targets, TimestampRole};
use airlock_core::{Metadata, Timestamp};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output, Stdio};

const AIRLOCK: &str = env!("CARGO_BIN_EXE_airlock");
const EXPIRES: &str = "2099-01-01T00:00:00Z";
/// When the finished root chain and repository are read.
const READ_AT: &str = "2026-04-02T00:00:00Z";
const TARGET: &[u8] = b"hello from an airlock registry\n";

/// Runs `airlock ARGS` in `dir`, with no `AIRLOCK_*` variable from the
/// caller's environment and a cheap scrypt work factor for new key files.
fn airlock(dir: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(AIRLOCK);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("AIRLOCK_") {
            cmd.env_remove(&k);
        }
    }
    cmd.current_dir(dir)
        .args(args)
        .env("AIRLOCK_INSECURE_TEST_SCRYPT_LOG_N", "10")
        .stdin(Stdio::null())
        .output()
        .expect("run airlock")
}

fn show(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[track_caller]
fn ok(dir: &Path, args: &[&str]) -> String {
    let out = airlock(dir, args);
    assert_eq!(out.status.code(), Some(0), "airlock {}: {}", args.join(" "), show(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().expect("temporary paths are UTF-8")
}

/// The key file of a custodian: made by init in `c/keys/`, or later at the top.
fn key_file(dir: &Path, name: &str) -> String {
    let in_ceremony = format!("c/keys/{name}.key");
    if dir.join(&in_ceremony).exists() {
        in_ceremony
    } else {
        format!("{name}.key")
    }
}

/// Proposes root version `from + 1` at `at`, has `signers` sign it, and
/// finalizes it as `c/N.root.json`.
#[track_caller]
fn rotate(dir: &Path, from: u64, at: &str, changes: &[&str], signers: &[&str]) {
    let root = format!("c/{from}.root.json");
    let draft = format!("c/draft-{}.json", from + 1);
    let mut args =
        vec!["ceremony", "propose", "--root", &root, "--out", &draft, "--at", at, "--allow-online"];
    args.extend_from_slice(changes);
    let out = ok(dir, &args);
    let hash = out.rsplit("payload hash").next().unwrap().trim().to_owned();
    for name in signers {
        let (key, pass) = (key_file(dir, name), format!("pp/{name}"));
        ok(
            dir,
            &[
                "ceremony",
                "sign",
                &draft,
                "--root",
                &root,
                "--key",
                &key,
                "--passphrase-file",
                &pass,
                "--confirm",
                &hash,
                "--at",
                at,
                "--allow-online",
            ],
        );
    }
    let next = format!("c/{}.root.json", from + 1);
    ok(dir, &["ceremony", "finalize", &draft, "--root", &root, "--out", &next, "--at", at, "--allow-online"]);
}

/// Writes `signed` unsigned as `path` and signs it with each of `signers`
/// (key base names) as authorised by root version 4; returns the bytes.
fn write_signed<T: Role>(dir: &Path, path: &str, signed: T, signers: &[&str]) -> Vec<u8> {
    let md = Metadata::new(signed).expect("valid metadata");
    std::fs::write(dir.join(path), md.to_bytes()).expect("write metadata");
    for name in signers {
        let (key, pass) = (key_file(dir, name), format!("pp/{name}"));
        ok(
            dir,
            &["metadata", "sign", path, "--key", &key, "--root", "c/4.root.json", "--passphrase-file", &pass],
        );
    }
    std::fs::read(dir.join(path)).expect("read signed metadata")
}

fn signature_count(path: &Path) -> usize {
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    v["signatures"].as_array().unwrap().len()
}

#[test]
fn ngclient_follows_an_airlock_root_chain_through_three_rotations() {
    let Some(py) = support::python() else { return };
    let tmp = tempfile::tempdir().expect("tempdir");
    let d = tmp.path();
    std::fs::create_dir(d.join("pp")).unwrap();
    let names = ["alice", "bob", "carol", "dave", "erin", "frank", "index", "index2", "index3"];
    for n in names {
        std::fs::write(d.join("pp").join(n), format!("passphrase of {n}\n")).unwrap();
    }

    // Root version 1: alice, bob and carol, 2 of 3, and a new index key.
    ok(
        d,
        &[
            "ceremony",
            "init",
            "--registry",
            "interop",
            "--custodian",
            "alice",
            "--custodian",
            "bob",
            "--custodian",
            "carol",
            "--threshold",
            "2",
            "--out",
            "c",
            "--passphrase-dir",
            "pp",
            "--at",
            "2026-01-01T00:00:00Z",
            "--allow-online",
        ],
    );
    for n in ["dave", "erin", "frank", "index2", "index3"] {
        ok(d, &["key", "generate", "--out", n, "--passphrase-file", &format!("pp/{n}")]);
    }
    // v2: the index key rotates with a 7-day window; dave replaces carol.
    rotate(
        d,
        1,
        "2026-02-01T00:00:00Z",
        &[
            "--rotate-index",
            "index2.pub",
            "--window-days",
            "7",
            "--add-custodian",
            "dave=dave.pub",
            "--remove-custodian",
            "carol",
        ],
        // The new index key signs the version that brings it in, as every new key must.
        &["alice", "carol", "dave", "index2"],
    );
    // v3, after the window: the old index key is dropped; erin replaces
    // alice and the threshold rises to 3 of 3. Signed by exactly the three
    // keys it needs, so every one of those signatures is required.
    rotate(
        d,
        2,
        "2026-03-01T00:00:00Z",
        &["--add-custodian", "erin=erin.pub", "--remove-custodian", "alice", "--threshold", "3"],
        &["bob", "dave", "erin"],
    );
    // v4: the index key is revoked at once; frank replaces bob, 2 of 3.
    rotate(
        d,
        3,
        "2026-04-01T00:00:00Z",
        &[
            "--revoke-index",
            "index3.pub",
            "--add-custodian",
            "frank=frank.pub",
            "--remove-custodian",
            "bob",
            "--threshold",
            "2",
            "--expires",
            EXPIRES,
        ],
        // frank signs the version that brings him in, as every new custodian must.
        &["bob", "dave", "erin", "frank", "index3"],
    );
    assert_eq!(signature_count(&d.join("c/3.root.json")), 3);

    // A minimal consistent-snapshot repository signed by the final index key.
    let meta = d.join("repo/metadata");
    let targets_dir = d.join("repo/targets");
    std::fs::create_dir_all(&meta).unwrap();
    std::fs::create_dir_all(&targets_dir).unwrap();
    for v in 1..=4 {
        std::fs::copy(d.join(format!("c/{v}.root.json")), meta.join(format!("{v}.root.json"))).unwrap();
    }
    std::fs::write(targets_dir.join(format!("{}.hello.txt", sha256_hex(TARGET))), TARGET).unwrap();
    let expires = Timestamp::parse(EXPIRES).unwrap();
    let mut targets = Targets::new(1, expires);
    targets.targets.insert(
        "hello.txt".to_owned(),
        TargetFile {
            length: TARGET.len() as u64,
            hashes: [("sha256".to_owned(), sha256_hex(TARGET))].into_iter().collect(),
            custom: None,
            extra: BTreeMap::new(),
        },
    );
    // Top-level targets is the custodians' (2 of dave, erin, frank); the
    // index key signs only snapshot and timestamp.
    let targets_bytes = write_signed(d, "repo/metadata/1.targets.json", targets, &["dave", "frank"]);
    let snapshot = Snapshot::new(
        1,
        expires,
        [("targets.json".to_owned(), meta_file_for(&targets_bytes, 1))].into_iter().collect(),
    );
    let snapshot_bytes = write_signed(d, "repo/metadata/1.snapshot.json", snapshot, &["index3"]);
    write_signed(
        d,
        "repo/metadata/timestamp.json",
        TimestampRole::new(1, expires, meta_file_for(&snapshot_bytes, 1)),
        &["index3"],
    );

    // The repository is read at READ_AT, after the last rotation.
    let fetch = |work: &str| {
        run_py_at(
            &py,
            READ_AT,
            "ngclient_fetch.py",
            [
                format!("file://{}", s(&meta)),
                format!("file://{}", s(&targets_dir)),
                s(&d.join("c/1.root.json")).to_owned(),
                s(&d.join(work)).to_owned(),
                "hello.txt".to_owned(),
            ],
        )
    };
    let root_verify = || {
        let identity = std::fs::read_to_string(d.join("c/identity.txt")).unwrap();
        airlock(d, &["root", "verify", "repo/metadata", "--identity", identity.trim(), "--at", READ_AT])
    };

    // Python's own verdict on each step, for a precise failure message.
    for v in 1..4 {
        let (old, new) = (meta.join(format!("{v}.root.json")), meta.join(format!("{}.root.json", v + 1)));
        run_py(&py, "verify_delegate.py", [s(&old), "root", s(&new)], None)
            .assert_success(&format!("python-tuf: root v{} signed by v{v}'s keys", v + 1));
        run_py(&py, "verify_delegate.py", [s(&new), "root", s(&new)], None)
            .assert_success(&format!("python-tuf: root v{} signed by its own keys", v + 1));
    }

    let good = fetch("w1");
    good.assert_success("ngclient_fetch.py on the airlock repository");
    assert!(good.stdout_str().contains("root v4"), "ngclient did not reach root v4: {}", good.stdout_str());
    assert_eq!(std::fs::read(d.join("w1/targets/hello.txt")).expect("downloaded"), TARGET);
    let run = root_verify();
    assert_eq!(run.status.code(), Some(0), "airlock root verify: {}", show(&run));

    // Take erin's signature (one of the three v3 needs) out of 3.root.json.
    let erin = airlock_core::PublicKey::from_spki_pem(&std::fs::read_to_string(d.join("erin.pub")).unwrap())
        .unwrap()
        .key_id()
        .0;
    let path = meta.join("3.root.json");
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let sigs = v["signatures"].as_array_mut().unwrap();
    let before = sigs.len();
    sigs.retain(|s| s["keyid"] != erin.as_str());
    assert_eq!(sigs.len(), before - 1, "erin did not sign 3.root.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&v).unwrap()).unwrap();

    let py_step = run_py(&py, "verify_delegate.py", [s(&path), "root", s(&path)], None);
    assert_eq!(py_step.code, Some(1), "python-tuf accepted root v3 without erin: {py_step:?}");
    let bad = fetch("w2");
    assert_eq!(bad.code, Some(1), "ngclient accepted the chain without a required signature: {bad:?}");
    let why = bad.stderr_str();
    assert!(why.contains("FAILED refresh") && why.contains("root was signed by 2/3 keys"), "{why}");
    assert!(!d.join("w2/targets/hello.txt").exists(), "ngclient downloaded from a refused chain");
    let run = root_verify();
    assert_eq!(run.status.code(), Some(1), "airlock root verify accepted the chain: {}", show(&run));
    assert!(String::from_utf8_lossy(&run.stderr).contains("3.root.json"), "{}", show(&run));
}
