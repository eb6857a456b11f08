//! The Python helper scripts, run against python-tuf itself, so that tests
//! built on them can trust their verdicts (and their exit codes).

use crate::support::{self, run_py, run_py_at};
use std::path::Path;

fn arg(p: &Path) -> &str {
    p.to_str().expect("temporary paths are UTF-8")
}

#[test]
fn make_signed_and_verify_delegate_agree() {
    let Some(py) = support::python() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    run_py(&py, "make_signed.py", [arg(d)], None).assert_success("make_signed.py");

    let verify = |root: &str, role: &str, md: &str| {
        run_py(&py, "verify_delegate.py", [arg(&d.join(root)), role, arg(&d.join(md))], None)
    };
    for (root, role, md) in [
        ("root.json", "root", "root.json"),
        ("root.json", "targets", "targets.json"),
        ("root-rsa.json", "root", "root-rsa.json"),
        ("root-rsa.json", "targets", "targets-rsa.json"),
    ] {
        verify(root, role, md).assert_success(&format!("verify_delegate {root} {role} {md}"));
    }
    for (root, role, md, why) in [
        ("root.json", "targets", "targets-one-sig.json", "signed by 1/2"),
        ("root.json", "targets", "targets-rsa.json", "signed by 0/2"),
        ("root-rsa.json", "targets", "targets.json", "signed by 0/1"),
        ("root.json", "snapshot", "targets.json", "expected snapshot"),
        ("root.json", "no-such-role", "targets.json", "not found"),
    ] {
        let run = verify(root, role, md);
        assert_eq!(run.code, Some(1), "verify_delegate {root} {role} {md}: {run:?}");
        assert!(run.stderr_str().contains(why), "verify_delegate {root} {role} {md}: {}", run.stderr_str());
    }

    // A changed `signed` breaks every signature.
    let text = std::fs::read_to_string(d.join("targets.json")).expect("read targets.json");
    let tampered = text.replacen("\"version\": 1", "\"version\": 2", 1);
    assert_ne!(text, tampered, "targets.json has no version to tamper with");
    std::fs::write(d.join("tampered.json"), tampered).expect("write");
    assert_eq!(verify("root.json", "targets", "tampered.json").code, Some(1));

    assert_eq!(run_py(&py, "verify_delegate.py", ["only-one-arg"], None).code, Some(2));
}

#[test]
fn ngclient_fetch_reports_success_and_failure() {
    let Some(py) = support::python() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = dir.path().join("repo");
    run_py(&py, "make_repo.py", [arg(&repo)], None).assert_success("make_repo.py");

    let fetch = |work: &str, targets: &[&str]| {
        let mut args = vec![
            format!("file://{}", arg(&repo.join("metadata"))),
            format!("file://{}", arg(&repo.join("targets"))),
            arg(&repo.join("root.json")).to_owned(),
            arg(&dir.path().join(work)).to_owned(),
        ];
        args.extend(targets.iter().map(|t| t.to_string()));
        // make_repo.py signs metadata that expires in 2099; read it at a fixed
        // instant so that the test does not end with that year.
        run_py_at(&py, support::READ_AT, "ngclient_fetch.py", args)
    };

    let ok = fetch("w1", &["hello.txt", "dir/nested file.txt"]);
    ok.assert_success("ngclient_fetch.py on a good repository");
    assert!(ok.stdout_str().contains("root v2"), "the root chain was not followed: {}", ok.stdout_str());
    assert_eq!(std::fs::read(dir.path().join("w1/targets/hello.txt")).expect("downloaded"), b"hello\n");

    let missing = fetch("w2", &["hello.txt", "absent.txt"]);
    assert_eq!(missing.code, Some(1), "{missing:?}");
    assert!(missing.stderr_str().contains("absent.txt"), "{}", missing.stderr_str());

    // Tamper with the stored artifact (consistent snapshot: <sha256>.hello.txt).
    let stored = std::fs::read_dir(repo.join("targets"))
        .expect("list targets")
        .map(|e| e.expect("entry").path())
        .find(|p| p.to_string_lossy().ends_with(".hello.txt"))
        .expect("hello.txt is stored");
    std::fs::write(&stored, b"HELLO\n").expect("tamper");
    let bad = fetch("w3", &["hello.txt"]);
    assert_eq!(bad.code, Some(1), "{bad:?}");
    assert!(bad.stderr_str().contains("hello.txt"), "{}", bad.stderr_str());
}

#[test]
fn canonical_raw_mode_reads_stdin() {
    let Some(py) = support::python() else { return };
    let input = "{\"b\": [1, \"\\u00e9\\n\"], \"a\": {\"\\\"\": null}}";
    let run = run_py(&py, "canonical.py", ["--raw", "-"], Some(input.as_bytes()));
    run.assert_success("canonical.py --raw -");
    assert_eq!(run.stdout_str(), "{\"a\":{\"\\\"\":null},\"b\":[1,\"é\n\"]}");

    let float = run_py(&py, "canonical.py", ["--raw", "-"], Some(b"[1.5]"));
    assert_eq!(float.code, Some(1), "{float:?}");
}
