//! `airlock-tuf-client` against a repository written by python-tuf
//! (`py/make_repo.py`: consistent snapshots, root rotated to v2, a target in
//! a subdirectory with a space in its name), served over HTTP on 127.0.0.1
//! by Python's `http.server` on an ephemeral port.

use crate::http_server::Server;
use crate::support::{self, run_py};
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

const CLIENT: &str = env!("CARGO_BIN_EXE_airlock-tuf-client");

/// Runs the client with `args`, without any proxy from the environment, on
/// a clock at [`support::READ_AT`]: it checks expiry against the system time,
/// and make_repo.py's metadata expires in 2099.
fn client(args: &[&str]) -> Output {
    let mut cmd = crate::fixed_clock::command_at(support::READ_AT, CLIENT);
    for var in ["http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"] {
        cmd.env_remove(var);
    }
    cmd.args(args).stdin(Stdio::null()).output().expect("run airlock-tuf-client")
}

fn show(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn s(p: &Path) -> &str {
    p.to_str().expect("temporary paths are UTF-8")
}

/// A python-tuf repository being served, and a client's directories.
struct Setup {
    _tmp: tempfile::TempDir,
    repo: PathBuf,
    metadata: PathBuf,
    targets: PathBuf,
    server: Server,
}

impl Setup {
    fn new(python: &Path) -> Setup {
        let tmp = tempfile::tempdir().expect("tempdir");
        let repo = tmp.path().join("repo");
        run_py(python, "make_repo.py", [s(&repo)], None).assert_success("make_repo.py");
        let server = Server::start(python, &repo);
        let metadata = tmp.path().join("client/metadata");
        let targets = tmp.path().join("client/targets");
        std::fs::create_dir_all(&metadata).expect("mkdir");
        std::fs::create_dir_all(&targets).expect("mkdir");
        let init = client(&["--metadata-dir", s(&metadata), "init", s(&repo.join("root.json"))]);
        assert_eq!(init.status.code(), Some(0), "init: {}", show(&init));
        Setup { _tmp: tmp, repo, metadata, targets, server }
    }

    fn metadata_url(&self) -> String {
        format!("{}/metadata/", self.server.url)
    }

    fn refresh(&self) -> Output {
        client(&["--metadata-dir", s(&self.metadata), "--metadata-url", &self.metadata_url(), "refresh"])
    }

    fn download(&self, names: &[&str]) -> Output {
        let base = format!("{}/targets/", self.server.url);
        let murl = self.metadata_url();
        let mut args = vec!["--metadata-dir", s(&self.metadata), "--metadata-url", &murl];
        for n in names {
            args.extend(["--target-name", n]);
        }
        args.extend(["--target-base-url", &base, "--target-dir", s(&self.targets), "download"]);
        client(&args)
    }

    fn stored(&self, name: &str) -> Option<Vec<u8>> {
        std::fs::read(self.targets.join(name)).ok()
    }
}

#[test]
fn updates_from_python_tuf_repository_and_downloads_targets() {
    let Some(py) = support::python() else { return };
    let setup = Setup::new(&py);

    let refresh = setup.refresh();
    assert_eq!(refresh.status.code(), Some(0), "refresh: {}", show(&refresh));
    // The trusted metadata is exactly what the repository served, root v2 included.
    let meta = setup.repo.join("metadata");
    for (local, served) in [
        ("root.json", "2.root.json"),
        ("timestamp.json", "timestamp.json"),
        ("snapshot.json", "1.snapshot.json"),
        ("targets.json", "1.targets.json"),
    ] {
        let got = std::fs::read(setup.metadata.join(local)).unwrap_or_default();
        let want = std::fs::read(meta.join(served)).expect("served file");
        assert!(got == want, "{local} differs from the served {served}");
    }

    let dl = setup.download(&["hello.txt", "dir/nested file.txt"]);
    assert_eq!(dl.status.code(), Some(0), "download: {}", show(&dl));
    assert_eq!(setup.stored("hello.txt").as_deref(), Some(&b"hello\n"[..]));
    assert_eq!(setup.stored("dir%2Fnested%20file.txt").as_deref(), Some(&b"nested \xe2\x9c\x93\n"[..]));

    // A second download finds the stored copy current.
    let again = setup.download(&["hello.txt"]);
    assert_eq!(again.status.code(), Some(0), "download again: {}", show(&again));
    assert!(String::from_utf8_lossy(&again.stderr).contains("current"), "{}", show(&again));

    // A target the repository does not sign is an error.
    let missing = setup.download(&["absent.txt"]);
    assert_eq!(missing.status.code(), Some(1), "{}", show(&missing));
}

#[test]
fn refuses_a_tampered_target_and_stores_nothing() {
    let Some(py) = support::python() else { return };
    let setup = Setup::new(&py);
    // Same length, other bytes, under the consistent-snapshot name.
    let stored = std::fs::read_dir(setup.repo.join("targets"))
        .expect("list targets")
        .map(|e| e.expect("entry").path())
        .find(|p| p.to_string_lossy().ends_with(".hello.txt"))
        .expect("hello.txt is in the repository");
    std::fs::write(&stored, b"HELLO\n").expect("tamper");

    let dl = setup.download(&["hello.txt"]);
    assert_eq!(dl.status.code(), Some(1), "a tampered target was accepted: {}", show(&dl));
    let stderr = String::from_utf8_lossy(&dl.stderr);
    assert!(stderr.contains("hello.txt") && stderr.contains("sha256"), "{}", show(&dl));
    let left: Vec<_> = std::fs::read_dir(&setup.targets).expect("list").collect();
    assert!(left.is_empty(), "something was stored: {left:?}");

    // Longer than signed: refused as well.
    std::fs::write(&stored, b"hello\n and then some").expect("tamper");
    let dl = setup.download(&["hello.txt"]);
    assert_eq!(dl.status.code(), Some(1), "{}", show(&dl));
    assert!(setup.stored("hello.txt").is_none());
}
