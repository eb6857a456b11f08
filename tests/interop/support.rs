//! Shared helpers for the interop tests: finding Python and other tools,
//! the skip-or-fail rule, and running the scripts in `tests/interop/py/`.
//!
//! The rule: a test that needs a tool asks for it through [`python`] or
//! [`require_tool`]. If the tool is missing, the helper panics when `CI=true`
//! (an interop test may never be skipped in CI) and otherwise prints
//! `SKIPPED: <test>: <reason>` to stderr and returns `None`, so the test
//! returns early:
//!
//! ```ignore
//! let Some(py) = support::python() else { return };
//! ```

// Not every test uses every helper; they are here for the interop tests to come.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

/// Environment variable naming the Python interpreter (a venv with the pinned
/// requirements) that runs the scripts in `tests/interop/py/`.
pub const PYTHON_ENV: &str = "AIRLOCK_INTEROP_PYTHON";

/// The instant at which tests read metadata that `make_repo.py` and
/// `make_signed.py` write with a fixed expiry (2099-01-01), for programs that
/// take their time from the system clock (see `common/fixed_clock.rs`).
pub const READ_AT: &str = "2026-06-01T00:00:00Z";

/// Python modules every interop script relies on.
const PYTHON_MODULES: &str = "import tuf, securesystemslib, cryptography, urllib3";

/// True when running in CI (`CI=true`, as CI services set it).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

/// Applies the skip rule for a missing tool: panics in CI, otherwise prints a
/// `SKIPPED:` line naming the current test and returns `None`.
pub fn skip<T>(reason: &str) -> Option<T> {
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("interop test");
    if in_ci() {
        panic!("{test}: {reason}; interop tests may not be skipped when CI=true");
    }
    // Written to the process's stderr directly rather than with `eprintln!`,
    // which the test harness captures and shows only for failing tests.
    let _ = writeln!(std::io::stderr(), "SKIPPED: {test}: {reason}");
    None
}

/// The interpreter from `AIRLOCK_INTEROP_PYTHON`, checked once to exist and to
/// import the pinned packages. `None` (after [`skip`]) if it is not usable.
pub fn python() -> Option<PathBuf> {
    static CHECKED: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let checked = CHECKED.get_or_init(|| {
        let Some(raw) = std::env::var_os(PYTHON_ENV).filter(|v| !v.is_empty()) else {
            return Err(format!("{PYTHON_ENV} is not set (run scripts/test, which sets it up)"));
        };
        let path = PathBuf::from(raw);
        let out = Command::new(&path)
            .args(["-c", PYTHON_MODULES])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("{PYTHON_ENV}={} cannot be run: {e}", path.display()))?;
        if !out.status.success() {
            return Err(format!(
                "{PYTHON_ENV}={} cannot import the pinned packages: {}",
                path.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(path)
    });
    match checked {
        Ok(path) => Some(path.clone()),
        Err(reason) => skip(reason),
    }
}

/// Finds an executable `name` on `PATH`. `None` (after [`skip`]) if missing.
pub fn require_tool(name: &str) -> Option<PathBuf> {
    match find_on_path(name) {
        Some(path) => Some(path),
        None => skip(&format!("required tool `{name}` is not on PATH")),
    }
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(name)).find(|candidate| {
        candidate.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    })
}

/// The repository's top directory.
pub fn repo_root() -> PathBuf {
    // This test target belongs to the `bins` package.
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("bins has a parent directory").to_path_buf()
}

/// `tests/data/<name>` in the repository.
pub fn data_dir(name: &str) -> PathBuf {
    repo_root().join("tests").join("data").join(name)
}

/// `tests/interop/py/<name>`, which must exist.
pub fn py_script(name: &str) -> PathBuf {
    let path = repo_root().join("tests").join("interop").join("py").join(name);
    assert!(path.is_file(), "no interop script {}", path.display());
    path
}

/// What a Python script did.
#[derive(Debug)]
pub struct PyRun {
    pub success: bool,
    /// Exit code, `None` if killed by a signal.
    pub code: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl PyRun {
    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    pub fn stderr_str(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
    /// Panics with both output streams unless the script exited 0.
    pub fn assert_success(&self, what: &str) -> &Self {
        assert!(
            self.success,
            "{what}: exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.code,
            self.stdout_str(),
            self.stderr_str()
        );
        self
    }
}

impl From<Output> for PyRun {
    fn from(out: Output) -> Self {
        PyRun {
            success: out.status.success(),
            code: out.status.code(),
            stdout: out.stdout,
            stderr: out.stderr,
        }
    }
}

/// Runs `tests/interop/py/<script>` with `args` under `python`, feeding
/// `stdin` (empty input if `None`), and waits for it.
pub fn run_py<I, S>(python: &Path, script: &str, args: I, stdin: Option<&[u8]>) -> PyRun
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    run_script(Command::new(python), script, args, stdin)
}

/// [`run_py`] with the script's clock at `at` (`YYYY-MM-DDTHH:MM:SSZ`): for
/// scripts that check expiry against the system time, such as
/// `ngclient_fetch.py`, reading metadata the test made at that instant.
pub fn run_py_at<I, S>(python: &Path, at: &str, script: &str, args: I) -> PyRun
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    run_script(crate::fixed_clock::command_at(at, python), script, args, None)
}

/// Runs `cmd` (a Python interpreter, possibly wrapped) on `script`.
fn run_script<I, S>(mut cmd: Command, script: &str, args: I, stdin: Option<&[u8]>) -> PyRun
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let script_path = py_script(script);
    // -I: isolated mode, so nothing from the user's environment or the
    // current directory leaks into the reference implementation.
    cmd.arg("-I").arg(&script_path).args(args);
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {:?}: {e}", cmd.get_program()));
    let mut child_stdin = child.stdin.take().expect("stdin is piped");
    let input = stdin.unwrap_or_default().to_vec();
    // Write from another thread so a script that prints a lot before reading
    // everything cannot deadlock against us.
    let writer = std::thread::spawn(move || {
        // A script may exit without reading its input; that is not our error.
        let _ = child_stdin.write_all(&input);
    });
    let out = child.wait_with_output().unwrap_or_else(|e| panic!("waiting for {script}: {e}"));
    writer.join().expect("stdin writer thread");
    out.into()
}

/// Files in `dir` whose name ends in `.json`, sorted by name.
pub fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.extension() == Some(OsStr::new("json")) && p.is_file())
        .collect();
    files.sort();
    files
}

/// Shows bytes for a failure message: printable ASCII as is, the rest escaped.
pub fn show_bytes(bytes: &[u8]) -> String {
    bytes.escape_ascii().to_string()
}
