//! airlock's keys and signatures against independent implementations:
//! python-tuf verifies what airlock signs, airlock verifies what python-tuf
//! signs (Ed25519, ECDSA P-256, RSA-PSS), and `age` + `openssl` alone recover
//! an airlock private key file.

use crate::support::{self, run_py};
use airlock_core::metadata::{RoleKeys, Root, Targets, TOP_LEVEL_ROLES};
use airlock_core::{Metadata, PublicKey, Timestamp};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output, Stdio};

const AIRLOCK: &str = env!("CARGO_BIN_EXE_airlock");

fn airlock(dir: &Path, args: &[&str]) -> Output {
    Command::new(AIRLOCK)
        .current_dir(dir)
        .args(args)
        .env("AIRLOCK_INSECURE_TEST_SCRYPT_LOG_N", "10")
        .env_remove("AIRLOCK_PASSPHRASE")
        .stdin(Stdio::null())
        .output()
        .expect("run airlock")
}

fn ok(out: Output, what: &str) -> Output {
    assert!(
        out.status.success(),
        "{what}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn generate(dir: &Path, name: &str) -> PublicKey {
    ok(airlock(dir, &["key", "generate", "--out", name, "--passphrase-file", "pass"]), "key generate");
    PublicKey::from_spki_pem(&std::fs::read_to_string(dir.join(format!("{name}.pub"))).unwrap()).unwrap()
}

fn t(s: &str) -> Timestamp {
    Timestamp::parse(s).unwrap()
}

#[test]
fn python_tuf_verifies_metadata_signed_by_airlock() {
    let Some(py) = support::python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("pass"), "interop passphrase for an airlock test key\n").unwrap();
    let root_key = generate(d, "root");
    let targets_key = generate(d, "targets");
    let mut keys = BTreeMap::new();
    keys.insert(root_key.key_id(), root_key.clone());
    keys.insert(targets_key.key_id(), targets_key.clone());
    let roles = TOP_LEVEL_ROLES
        .iter()
        .map(|r| {
            let k = if *r == "root" { &root_key } else { &targets_key };
            (
                r.to_string(),
                RoleKeys {
                    keyids: vec![k.key_id()],
                    threshold: 1,
                    retiring: Default::default(),
                    extra: Default::default(),
                },
            )
        })
        .collect();
    let root = Root {
        type_: "root".into(),
        spec_version: "1.0.31".into(),
        consistent_snapshot: Some(true),
        version: 1,
        expires: t("2099-01-01T00:00:00Z"),
        keys,
        roles,
        extra: Default::default(),
    };
    std::fs::write(d.join("root.json"), Metadata::new(root).unwrap().to_bytes()).unwrap();
    let mut targets = Targets::new(1, t("2099-01-01T00:00:00Z"));
    targets.extra.insert("x-unknown".into(), serde_json::json!({"kept": ["é", "\"q\""]}));
    std::fs::write(d.join("targets.json"), Metadata::new(targets).unwrap().to_bytes()).unwrap();
    for (file, key) in [("root.json", "root.key"), ("targets.json", "targets.key")] {
        ok(
            airlock(
                d,
                &["metadata", "sign", file, "--key", key, "--root", "root.json", "--passphrase-file", "pass"],
            ),
            "metadata sign",
        );
    }
    let p = |f: &str| d.join(f).to_str().unwrap().to_owned();
    run_py(&py, "verify_delegate.py", [p("root.json"), "root".into(), p("root.json")], None)
        .assert_success("root");
    run_py(&py, "verify_delegate.py", [p("root.json"), "targets".into(), p("targets.json")], None)
        .assert_success("targets");
    // And python-tuf refuses it once a signed byte changes.
    let text = std::fs::read_to_string(d.join("targets.json")).unwrap().replace("\"kept\"", "\"KEPT\"");
    std::fs::write(d.join("tampered.json"), text).unwrap();
    assert_eq!(
        run_py(&py, "verify_delegate.py", [p("root.json"), "targets".into(), p("tampered.json")], None).code,
        Some(1)
    );
}

#[test]
fn airlock_verifies_metadata_signed_by_python_tuf() {
    let Some(py) = support::python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    run_py(&py, "make_signed.py", [d.to_str().unwrap()], None).assert_success("make_signed.py");
    let verify = |file: &str, root: &str| {
        airlock(d, &["metadata", "verify", file, "--root", root, "--at", "2030-01-01T00:00:00Z"])
    };
    // Ed25519 + ECDSA P-256, threshold 2.
    ok(verify("targets.json", "root.json"), "targets.json (ed25519 + ecdsa)");
    ok(verify("root.json", "root.json"), "root.json");
    // RSA-PSS.
    ok(verify("targets-rsa.json", "root-rsa.json"), "targets-rsa.json");
    ok(verify("root-rsa.json", "root-rsa.json"), "root-rsa.json");
    // Below threshold: refused with exit 1.
    let out = verify("targets-one-sig.json", "root.json");
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn age_and_openssl_recover_the_private_key() {
    let (Some(_), Some(_), Some(_)) =
        (support::require_tool("age"), support::require_tool("openssl"), support::require_tool("script"))
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("pass"), "recover me with age and openssl alone\n").unwrap();
    generate(d, "custodian");
    // age reads passphrases only from a terminal; `script` gives it one and
    // forwards our stdin to it.
    let mut child = Command::new("script")
        .current_dir(d)
        .args(["-qec", "age -d custodian.key | openssl pkey -pubout -out recovered.pub", "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run script");
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"recover me with age and openssl alone\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "age/openssl: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        std::fs::read_to_string(d.join("recovered.pub")).unwrap(),
        std::fs::read_to_string(d.join("custodian.pub")).unwrap()
    );
}
