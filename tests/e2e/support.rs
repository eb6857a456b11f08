//! Running the `airlock` binary in a scratch directory and judging what it did.
//!
//! Every run happens in the sandbox directory as working directory, with
//! stdin closed (so no prompt can wait for input), every `AIRLOCK_*`
//! variable of the calling environment removed, and the insecure scrypt
//! knob set so that key files are quick to write and read. Paths given to
//! the binary are relative to the sandbox, which keeps its messages short
//! and lets tests look for file names in them.

// Not every test module uses every helper.
#![allow(dead_code)]

use airlock_core::hash::sha256_hex;
use airlock_core::metadata::{RoleKeys, Root, TargetFile, Targets, TOP_LEVEL_ROLES};
use airlock_core::{KeyId, Metadata, PublicKey, Timestamp};
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The passphrase every fixture key is encrypted to.
pub const PASSPHRASE: &str = "correct horse battery staple";
/// The file in each sandbox that holds [`PASSPHRASE`] (with a trailing newline).
pub const PASS_FILE: &str = "pass.txt";
/// The instant tests check at, unless they say otherwise.
pub const NOW: &str = "2026-06-01T00:00:00Z";
/// An expiry comfortably after [`NOW`].
pub const FAR: &str = "2030-01-01T00:00:00Z";

/// The scrypt knob: log2 of the work factor for key files the binary writes.
const SCRYPT_ENV: &str = "AIRLOCK_INSECURE_TEST_SCRYPT_LOG_N";

/// What one run of the binary did.
#[derive(Debug)]
pub struct Run {
    /// The command line, for failure messages.
    pub args: Vec<String>,
    /// The exit code.
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    fn describe(&self) -> String {
        format!(
            "airlock {}\n--- exit code {} ---\n--- stdout ---\n{}--- stderr ---\n{}",
            self.args.join(" "),
            self.code,
            self.stdout,
            self.stderr
        )
    }

    /// Asserts exit 0.
    #[track_caller]
    pub fn ok(&self) -> &Self {
        assert_eq!(self.code, 0, "expected success:\n{}", self.describe());
        assert!(
            !self.stderr.lines().any(|l| l.starts_with("airlock: error:")),
            "success with an error line:\n{}",
            self.describe()
        );
        self
    }

    /// Asserts the exit code and that stderr carries exactly one line
    /// `airlock: error: ...`, as its last line. The only other lines allowed
    /// are `airlock: warning:` lines (the insecure scrypt knob the tests set
    /// makes the binary warn before some failures).
    #[track_caller]
    pub fn fails(&self, code: i32) -> &Self {
        assert_eq!(self.code, code, "wrong exit code:\n{}", self.describe());
        let lines: Vec<&str> = self.stderr.lines().collect();
        let errors = lines.iter().filter(|l| l.starts_with("airlock: error:")).count();
        assert_eq!(errors, 1, "expected exactly one error line:\n{}", self.describe());
        assert!(
            lines.last().is_some_and(|l| l.starts_with("airlock: error:")),
            "the error line is not the last line:\n{}",
            self.describe()
        );
        for l in &lines {
            assert!(
                l.starts_with("airlock: error:") || l.starts_with("airlock: warning:"),
                "unexpected stderr line {l:?}:\n{}",
                self.describe()
            );
        }
        self
    }

    /// Asserts the error line contains every one of `needles`.
    #[track_caller]
    pub fn mentions(&self, needles: &[&str]) -> &Self {
        let line = self.error_line();
        for n in needles {
            assert!(line.contains(n), "error line does not mention {n:?}:\n{}", self.describe());
        }
        self
    }

    /// The `airlock: error:` line (empty if there is none).
    pub fn error_line(&self) -> &str {
        self.stderr.lines().find(|l| l.starts_with("airlock: error:")).unwrap_or("")
    }

    /// Standard output parsed as JSON.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.describe()))
    }
}

/// A generated key: its base name in the sandbox (`NAME.key`, `NAME.pub`),
/// the id the binary printed and the public key read back from `NAME.pub`.
#[derive(Debug, Clone)]
pub struct Key {
    /// The base name.
    pub name: String,
    /// The key id printed by `key generate`.
    pub id: KeyId,
    /// The public key from the `.pub` file.
    pub public: PublicKey,
}

impl Key {
    /// `NAME.key`.
    pub fn key_file(&self) -> String {
        format!("{}.key", self.name)
    }
    /// `NAME.pub`.
    pub fn pub_file(&self) -> String {
        format!("{}.pub", self.name)
    }
}

/// A scratch directory the binary runs in; removed when dropped.
pub struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    /// An empty sandbox.
    pub fn empty() -> Self {
        Sandbox { dir: tempfile::Builder::new().prefix("airlock-e2e-").tempdir().expect("temp dir") }
    }

    /// A sandbox holding [`PASS_FILE`].
    pub fn new() -> Self {
        let sb = Self::empty();
        sb.write(PASS_FILE, format!("{PASSPHRASE}\n"));
        sb
    }

    /// The sandbox directory.
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// A path inside the sandbox.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Writes a file inside the sandbox.
    pub fn write(&self, rel: &str, bytes: impl AsRef<[u8]>) {
        std::fs::write(self.path(rel), bytes).unwrap_or_else(|e| panic!("write {rel}: {e}"));
    }

    /// Reads a file inside the sandbox.
    pub fn read(&self, rel: &str) -> Vec<u8> {
        std::fs::read(self.path(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
    }

    /// Reads a file inside the sandbox as text.
    pub fn read_string(&self, rel: &str) -> String {
        String::from_utf8(self.read(rel)).unwrap_or_else(|e| panic!("{rel} is not UTF-8: {e}"))
    }

    /// Whether a file exists in the sandbox.
    pub fn exists(&self, rel: &str) -> bool {
        self.path(rel).symlink_metadata().is_ok()
    }

    /// Runs `airlock ARGS` with the default test environment.
    pub fn run<S: AsRef<OsStr>>(&self, args: &[S]) -> Run {
        self.run_env(args, &[])
    }

    /// Runs `airlock ARGS` with the default test environment plus `env`.
    pub fn run_env<S: AsRef<OsStr>>(&self, args: &[S], env: &[(&str, &str)]) -> Run {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_airlock"));
        cmd.args(args).current_dir(self.root()).stdin(Stdio::null());
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("AIRLOCK_") {
                cmd.env_remove(&k);
            }
        }
        cmd.env_remove("AIRLOCK_PASSPHRASE");
        // A build environment's SOURCE_DATE_EPOCH would fix bundle times.
        cmd.env_remove("SOURCE_DATE_EPOCH");
        cmd.env(SCRYPT_ENV, "10");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("run the airlock binary");
        Run {
            args: args.iter().map(|a| a.as_ref().to_string_lossy().into_owned()).collect(),
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// `airlock key generate --out NAME --passphrase-file pass.txt`; checks
    /// it succeeded and returns the key.
    #[track_caller]
    pub fn generate_key(&self, name: &str) -> Key {
        let run = self.run(&["key", "generate", "--out", name, "--passphrase-file", PASS_FILE]);
        run.ok();
        let id = KeyId(run.stdout.trim().to_owned());
        let public = PublicKey::from_spki_pem(&self.read_string(&format!("{name}.pub")))
            .unwrap_or_else(|e| panic!("{name}.pub: {e}"));
        assert_eq!(public.key_id(), id, "printed key id is not the id of {name}.pub");
        Key { name: name.to_owned(), id, public }
    }

    /// `airlock metadata sign FILE --key KEY.key --root ROOT --passphrase-file pass.txt`.
    pub fn sign(&self, file: &str, key: &Key, root: &str) -> Run {
        self.run(&[
            "metadata",
            "sign",
            file,
            "--key",
            &key.key_file(),
            "--root",
            root,
            "--passphrase-file",
            PASS_FILE,
        ])
    }

    /// `airlock metadata verify FILE --root ROOT --at NOW --json`.
    pub fn verify_json(&self, file: &str, root: &str) -> Run {
        self.run(&["metadata", "verify", file, "--root", root, "--at", NOW, "--json"])
    }

    /// A digest of every entry under the sandbox: relative path, kind,
    /// permission bits and contents, in sorted order. Equal digests mean no
    /// file was created, removed, changed or re-moded.
    pub fn tree_hash(&self) -> String {
        tree_hash(self.root())
    }

    /// The sorted relative paths of every entry in the sandbox.
    pub fn listing(&self) -> Vec<String> {
        let mut out = Vec::new();
        walk(self.root(), self.root(), &mut |rel, _| out.push(rel.to_owned()));
        out
    }
}

fn walk(base: &Path, dir: &Path, f: &mut dyn FnMut(&str, &Path)) {
    let mut entries: Vec<PathBuf> =
        std::fs::read_dir(dir).expect("read dir").map(|e| e.expect("dir entry").path()).collect();
    entries.sort();
    for p in entries {
        let rel = p.strip_prefix(base).expect("under base").to_string_lossy().into_owned();
        f(&rel, &p);
        if p.symlink_metadata().expect("stat").is_dir() {
            walk(base, &p, f);
        }
    }
}

/// See [`Sandbox::tree_hash`].
/// Copies a directory tree (files and directories only).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let (src, dst) = (e.path(), to.join(e.file_name()));
        if e.file_type().unwrap().is_dir() {
            copy_dir(&src, &dst);
        } else {
            std::fs::copy(&src, &dst).unwrap();
        }
    }
}

pub fn tree_hash(dir: &Path) -> String {
    let mut acc = Vec::new();
    walk(dir, dir, &mut |rel, p| {
        let meta = p.symlink_metadata().expect("stat");
        let kind = if meta.is_dir() {
            "d"
        } else if meta.file_type().is_symlink() {
            "l"
        } else {
            "f"
        };
        acc.extend_from_slice(
            format!("{rel}\0{kind}\0{:o}\0", meta.permissions().mode() & 0o7777).as_bytes(),
        );
        let content = if meta.is_file() {
            std::fs::read(p).expect("read")
        } else if meta.file_type().is_symlink() {
            std::fs::read_link(p).expect("readlink").to_string_lossy().into_owned().into_bytes()
        } else {
            Vec::new()
        };
        acc.extend_from_slice(airlock_core::hash::sha256_hex(&content).as_bytes());
        acc.push(b'\n');
    });
    airlock_core::hash::sha256_hex(&acc)
}

/// Parses `YYYY-MM-DDTHH:MM:SSZ`.
pub fn t(s: &str) -> Timestamp {
    Timestamp::parse(s).expect("test date")
}

/// The keys and threshold of one role.
pub fn role(keys: &[&Key], threshold: u64) -> RoleKeys {
    RoleKeys {
        keyids: keys.iter().map(|k| k.id.clone()).collect(),
        threshold,
        retiring: BTreeMap::new(),
        extra: BTreeMap::new(),
    }
}

/// Root metadata `version` expiring at `expires` with the given roles;
/// roles not named get `fallback`.
pub fn root_with(version: u64, expires: &str, roles: &[(&str, &[&Key], u64)], fallback: &[&Key]) -> Root {
    let mut keys = BTreeMap::new();
    let mut role_map = BTreeMap::new();
    for name in TOP_LEVEL_ROLES {
        let (members, threshold) = roles
            .iter()
            .find(|(n, _, _)| *n == name)
            .map(|(_, ks, th)| (ks.to_vec(), *th))
            .unwrap_or_else(|| (fallback.to_vec(), 1));
        for k in &members {
            keys.insert(k.id.clone(), k.public.clone());
        }
        role_map.insert(name.to_owned(), role(&members, threshold));
    }
    Root {
        type_: "root".into(),
        spec_version: "1.0.31".into(),
        consistent_snapshot: Some(true),
        version,
        expires: t(expires),
        keys,
        roles: role_map,
        extra: BTreeMap::new(),
    }
}

/// Root metadata whose every role is `keys` with threshold 1.
pub fn root_all(version: u64, expires: &str, keys: &[&Key]) -> Root {
    root_with(version, expires, &[], keys)
}

/// Top-level targets metadata with one target file.
pub fn targets(version: u64, expires: &str) -> Targets {
    let file = TargetFile {
        length: 5,
        hashes: [(
            "sha256".to_owned(),
            // sha256("hello")
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824".to_owned(),
        )]
        .into_iter()
        .collect(),
        custom: None,
        extra: BTreeMap::new(),
    };
    Targets {
        type_: "targets".into(),
        spec_version: "1.0.31".into(),
        version,
        expires: t(expires),
        targets: [("hello.txt".to_owned(), file)].into_iter().collect(),
        delegations: None,
        extra: BTreeMap::new(),
    }
}

/// Writes `signed` unsigned to `rel` in the sandbox.
pub fn write_unsigned<T: airlock_core::metadata::Role>(sb: &Sandbox, rel: &str, signed: T) {
    let md = Metadata::new(signed).expect("valid metadata");
    sb.write(rel, md.to_bytes());
}

/// Edits a metadata file as JSON and writes it back pretty-printed.
pub fn edit_json(sb: &Sandbox, rel: &str, f: impl FnOnce(&mut serde_json::Value)) {
    let mut v: serde_json::Value = serde_json::from_slice(&sb.read(rel)).expect("JSON");
    f(&mut v);
    sb.write(rel, serde_json::to_vec_pretty(&v).expect("encode"));
}

/// The key ids of a metadata file's signatures, in file order.
pub fn signature_ids(sb: &Sandbox, rel: &str) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_slice(&sb.read(rel)).expect("JSON");
    v["signatures"]
        .as_array()
        .expect("signatures array")
        .iter()
        .map(|s| s["keyid"].as_str().expect("keyid").to_owned())
        .collect()
}

/// The `counted` key ids of a `metadata verify --json` report.
pub fn counted(report: &serde_json::Value) -> Vec<String> {
    report["signatures"]["counted"]
        .as_array()
        .expect("counted array")
        .iter()
        .map(|k| k.as_str().expect("key id").to_owned())
        .collect()
}

/// The key ids of `keys`, as strings in the given order.
pub fn ids(keys: &[&Key]) -> Vec<String> {
    keys.iter().map(|k| k.id.0.clone()).collect()
}

/// The interop Python (`AIRLOCK_INTEROP_PYTHON`, which `scripts/test` sets),
/// or `None` (a skip) outside CI; in CI a missing Python fails the test.
pub fn python() -> Option<PathBuf> {
    match std::env::var_os("AIRLOCK_INTEROP_PYTHON") {
        Some(p) => Some(p.into()),
        None if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("AIRLOCK_INTEROP_PYTHON is not set in CI")
        }
        None => {
            eprintln!("SKIPPED: AIRLOCK_INTEROP_PYTHON is not set (run scripts/test)");
            None
        }
    }
}

/// Runs python-tuf's ngclient (`tests/interop/py/ngclient_fetch.py`) against
/// the repository served at `base_url` (`/metadata`, `/targets`), trusting
/// `root`, keeping its state in `work`, and downloading `targets`, with the
/// client's clock at `at`: the instant the test made the metadata at.
pub fn ngclient_fetch(
    python: &Path,
    at: &str,
    base_url: &str,
    root: &Path,
    work: &Path,
    targets: &[&str],
) -> std::process::Output {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/interop/py/ngclient_fetch.py");
    crate::fixed_clock::command_at(at, python)
        .arg("-I")
        .arg(script)
        .arg(format!("{base_url}/metadata"))
        .arg(format!("{base_url}/targets"))
        .arg(root)
        .arg(work)
        .args(targets)
        .env("NO_PROXY", "*")
        .stdin(Stdio::null())
        .output()
        .expect("run ngclient_fetch.py")
}

/// An `Output` as text, for failure messages.
pub fn show(out: &std::process::Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A namespace-ownership change as custodians make it, with
/// `AIRLOCK_PASSPHRASE` set to [`PASSPHRASE`]: `propose` (a `registry
/// publisher add|remove|rekey` or `registry targets propose` command line,
/// without `--out` and `--at`) writes a draft; each of `custodians` signs it
/// offline with `CEREMONY/keys/NAME.key` against the newest root of
/// `ceremony`; the registry `repo` publishes it with the ceremony's index key.
#[track_caller]
pub fn change_ownership(
    sb: &Sandbox,
    propose: &[&str],
    ceremony: &str,
    custodians: &[&str],
    repo: &str,
    at: &str,
) {
    let env = [("AIRLOCK_PASSPHRASE", PASSPHRASE)];
    let draft = format!("draft-{}.json", &sha256_hex(propose.join(" ").as_bytes())[..12]);
    let _ = std::fs::remove_file(sb.path(&draft));
    let out = sb.run_env(&[propose, &["--out", &draft, "--at", at]].concat(), &env);
    out.ok();
    let hash = out
        .stdout
        .lines()
        .find_map(|l| l.split_once("payload hash ").map(|(_, h)| h.trim().to_owned()))
        .expect("the proposal prints its payload hash");
    let root = newest_root(&sb.path(ceremony));
    for who in custodians {
        let key = format!("{ceremony}/keys/{who}.key");
        sb.run_env(
            &[
                "ceremony",
                "sign",
                &draft,
                "--root",
                &root,
                "--key",
                &key,
                "--confirm",
                &hash,
                "--allow-online",
                "--at",
                at,
            ],
            &env,
        )
        .ok();
    }
    let index = format!("{ceremony}/keys/index.key");
    sb.run_env(
        &["registry", "targets", "finalize", &draft, "--repo", repo, "--key", &index, "--at", at],
        &env,
    )
    .ok();
}

/// The path of the newest `N.root.json` in `dir`.
pub fn newest_root(dir: &Path) -> String {
    let mut best = (0u64, String::new());
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(v) = name.strip_suffix(".root.json").and_then(|v| v.parse::<u64>().ok()) {
            if v > best.0 {
                best = (v, e.path().display().to_string());
            }
        }
    }
    best.1
}

/// After an accepted import: python-tuf's ngclient, trusting `root` and
/// reading at `at`, downloads and verifies every target that the served
/// metadata under `served` (a mirror's `served/<repo>`) lists in any
/// targets role the served snapshot names. Skips outside CI without Python.
#[track_caller]
pub fn assert_served_targets_download(served: &Path, root: &Path, at: &str) {
    let Some(py) = python() else { return };
    let meta = served.join("metadata");
    let read = |name: &str| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(meta.join(name)).unwrap_or_else(|e| panic!("{name}: {e}")))
            .unwrap()
    };
    let ts = read("timestamp.json");
    let sv = ts["signed"]["meta"]["snapshot.json"]["version"].as_u64().unwrap();
    let snap = read(&format!("{sv}.snapshot.json"));
    let mut targets = Vec::new();
    for (file, m) in snap["signed"]["meta"].as_object().unwrap() {
        let name = format!("{}.{file}", m["version"]);
        if !meta.join(&name).exists() {
            continue; // a role no delegation reaches is not served
        }
        targets.extend(read(&name)["signed"]["targets"].as_object().unwrap().keys().cloned());
    }
    let work = tempfile::tempdir().unwrap();
    let url = format!("file://{}", served.display());
    let refs: Vec<&str> = targets.iter().map(String::as_str).collect();
    let out = ngclient_fetch(&py, at, &url, root, work.path(), &refs);
    assert!(
        out.status.success(),
        "python-tuf could not download every served target {refs:?}:\n{}",
        show(&out)
    );
}

/// Whether the binaries under test have crash points (the `fault-injection`
/// feature, which `scripts/test` turns on). Outside CI a build without
/// them skips the kill tests with a message; in CI it fails them.
pub fn fault_injection() -> bool {
    if cfg!(feature = "fault-injection") {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "the kill tests need --features airlock-cli/fault-injection (scripts/test passes it)"
    );
    eprintln!("SKIPPED: built without the fault-injection feature (run scripts/test)");
    false
}

/// The path of `name` on PATH. Missing, it fails the test under `CI=true`
/// (tests may not be skipped there) and is otherwise skipped with a message.
pub fn require_tool(name: &str) -> Option<std::path::PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let found = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(name))
            .find(|c| c.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0))
    });
    if found.is_none() {
        let thread = std::thread::current();
        let test = thread.name().unwrap_or("e2e test");
        let ci = std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1");
        if ci {
            panic!("{test}: required tool `{name}` is not on PATH; tests may not be skipped when CI=true");
        }
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), "SKIPPED: {test}: required tool `{name}` is not on PATH");
    }
    found
}

/// Where Debian and Ubuntu install SoftHSM2's PKCS#11 module.
const SOFTHSM_MODULES: &[&str] =
    &["/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so"];

/// A SoftHSM2 token labelled `label`, its store in the sandbox directory
/// `dir`, user PIN the test passphrase: returns the `SOFTHSM2_CONF` path
/// and the PKCS#11 module's path. `None` (skipped, or failed under CI) when
/// SoftHSM2 is not installed.
pub fn softhsm_token(sb: &Sandbox, dir: &str, label: &str) -> Option<(PathBuf, String)> {
    let util = require_tool("softhsm2-util")?;
    let module = SOFTHSM_MODULES
        .iter()
        .find(|m| Path::new(m).is_file())
        .unwrap_or_else(|| panic!("softhsm2-util is installed but no module at {SOFTHSM_MODULES:?}"));
    std::fs::create_dir_all(sb.path(&format!("{dir}/tokens"))).unwrap();
    let conf = sb.path(&format!("{dir}/softhsm2.conf"));
    let store = sb.path(&format!("{dir}/tokens"));
    std::fs::write(
        &conf,
        format!("directories.tokendir = {}\nobjectstore.backend = file\n", store.display()),
    )
    .unwrap();
    let out = Command::new(util)
        .args(["--init-token", "--free", "--label", label, "--pin", PASSPHRASE, "--so-pin", "so-pin-1234"])
        .env("SOFTHSM2_CONF", &conf)
        .output()
        .unwrap();
    assert!(out.status.success(), "softhsm2-util: {}", String::from_utf8_lossy(&out.stderr));
    Some((conf, module.to_string()))
}
