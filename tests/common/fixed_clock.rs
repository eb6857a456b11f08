//! Running a program whose clock the test does not control (python-tuf, any
//! TUF client that reads the system time) at the instant the test made its
//! metadata at, through Debian's `faketime`. Shared by the e2e and interop
//! test targets (included with `#[path]`).
//!
//! A test that builds metadata with `--at T` and then lets a client read it
//! with the real clock passes only until that metadata expires, a day later
//! for a timestamp. Read at `T`, it passes on any day, including under the
//! shifted clock of `scripts/test`'s second pass.

use std::ffi::OsStr;
use std::process::Command;

/// A command that runs `program` with its wall clock starting at `at`
/// (`YYYY-MM-DDTHH:MM:SSZ`, as `--at` takes it) and running on from there.
/// Arguments and environment are added by the caller as usual.
pub fn command_at(at: &str, program: impl AsRef<OsStr>) -> Command {
    let mut cmd = Command::new(faketime());
    // `@` starts the clock at the instant and lets it run; monotonic clocks
    // (time-outs) stay real; TZ=UTC because faketime reads the instant in the
    // local time zone.
    cmd.arg("--exclude-monotonic")
        .arg("-f")
        .arg(format!("@{}", faketime_instant(at)))
        .arg(program)
        .env("TZ", "UTC");
    cmd
}

/// `2026-11-23T12:00:00Z` as faketime writes it: `2026-11-23 12:00:00`.
fn faketime_instant(at: &str) -> String {
    // The date format's own parser decides what a valid instant is.
    if let Err(e) = airlock_core::Timestamp::parse(at) {
        panic!("{e}");
    }
    format!("{} {}", &at[..10], &at[11..19])
}

/// The `faketime` command; `scripts/test` installs it.
fn faketime() -> std::path::PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("faketime"))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!("faketime is not on PATH; scripts/test installs it (Debian package faketime)")
        })
}
