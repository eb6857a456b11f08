//! `airlock-import` built with pins compiled in, as an operator builds it.
//!
//! A build takes a minute or two, so it uses its own target directory,
//! `target/pinned-import`, kept between runs so that a build is incremental,
//! and each test run builds once (the threat-table world's pins).

use crate::support::Run;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Runs `bin ARGS` in `dir` with every `AIRLOCK_*` variable removed.
pub fn run(bin: &Path, dir: &Path, args: &[&str]) -> Run {
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

/// Builds `airlock-import` with `pins` compiled in; returns the binary.
pub fn build_pinned(pins: &Path) -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf();
    let target = workspace.join("target/pinned-import");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args(["build", "--offline", "--locked", "--bin", "airlock-import"])
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
