//! Helpers for the hash-bin benchmark (scripts/bench-bins, docs/BENCHMARKS.md,
//! issue 17 item 3):
//!
//! ```text
//! cargo run --release -p airlock-bundles --example bench_bins -- artifacts DIR START COUNT
//! cargo run --release -p airlock-bundles --example bench_bins -- verify METADATA_DIR ROOT AT
//! ```
//!
//! `artifacts` writes COUNT tiny distinct files `DIR/pNNNNNNN` (N = START to
//! START + COUNT - 1, seven digits), each holding its number in decimal, for
//! `airlock publish --artifact-dir DIR=acme`.
//!
//! `verify` checks every piece of metadata in METADATA_DIR (a registry's
//! `metadata/`) as a TUF client does, through
//! [`airlock_core::client::Client`] over
//! [`airlock_bundles::registry::DirTransport`]: starting from the trusted
//! root file ROOT at instant AT (`YYYY-MM-DDTHH:MM:SSZ`), the root chain,
//! timestamp, snapshot, top-level targets and then every targets role the
//! snapshot lists that a delegation reaches (each publisher's role, each of
//! its hash bins), each through its delegator: signatures and threshold,
//! length and SHA-256 and version from the snapshot, expiry. It prints the
//! number of roles and targets verified and exits non-zero on the first
//! failure, or when the snapshot lists a role no delegation reaches.

use airlock_bundles::mirror::load_reachable;
use airlock_bundles::registry::DirTransport;
use airlock_core::client::{Client, Limits};
use airlock_core::Timestamp;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

type Error = Box<dyn std::error::Error>;

const USAGE: &str = "usage: bench_bins artifacts DIR START COUNT | bench_bins verify METADATA_DIR ROOT AT";

/// Writes `DIR/pNNNNNNN` for N in `start..start + count`.
fn artifacts(dir: &Path, start: u64, count: u64) -> Result<(), Error> {
    std::fs::create_dir_all(dir)?;
    let end = start
        .checked_add(count)
        .filter(|&e| e <= 10_000_000)
        .ok_or("START + COUNT must be at most 10000000")?;
    for i in start..end {
        std::fs::write(dir.join(format!("p{i:07}")), i.to_string())?;
    }
    println!("wrote {count} artifacts p{start:07} to p{:07} in {}", end.saturating_sub(1), dir.display());
    Ok(())
}

/// Verifies all of `metadata` from `root` at `now`; prints what it counted.
fn verify(metadata: &Path, root: &Path, now: Timestamp) -> Result<(), Error> {
    let started = Instant::now();
    let root_bytes = std::fs::read(root).map_err(|e| format!("{}: {e}", root.display()))?;
    let mut transport = DirTransport::new(metadata);
    let mut client = Client::new(&root_bytes, &mut transport, now, Limits::default())?;
    client.refresh()?;
    let reached = load_reachable(&mut client)?;
    let trusted = client.into_trusted();
    let snapshot = trusted.snapshot.as_ref().ok_or("no snapshot loaded")?;
    let unreached: Vec<&String> = snapshot
        .signed()
        .meta
        .keys()
        .filter(|file| file.strip_suffix(".json").is_none_or(|role| !reached.contains(role)))
        .collect();
    if !unreached.is_empty() {
        return Err(format!(
            "the snapshot lists {} role(s) no delegation reaches: {unreached:?}",
            unreached.len()
        )
        .into());
    }
    let targets: usize = trusted.targets.values().map(|t| t.signed().targets.len()).sum();
    let bytes: usize = trusted.targets.values().map(|t| t.bytes.len()).sum();
    println!(
        "verified root v{}, timestamp, snapshot v{}, {} targets roles ({} bytes), {targets} targets in {:.3} s",
        trusted.root.signed().version,
        snapshot.signed().version,
        trusted.targets.len(),
        bytes,
        started.elapsed().as_secs_f64(),
    );
    Ok(())
}

fn number(what: &str, s: &str) -> Result<u64, Error> {
    Ok(s.parse().map_err(|e| format!("{what} {s:?}: {e}"))?)
}

fn run() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [mode, dir, start, count] if mode == "artifacts" => {
            artifacts(&PathBuf::from(dir), number("START", start)?, number("COUNT", count)?)
        }
        [mode, metadata, root, at] if mode == "verify" => {
            verify(&PathBuf::from(metadata), &PathBuf::from(root), Timestamp::parse(at)?)
        }
        _ => Err(USAGE.into()),
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench_bins: {e}");
            ExitCode::FAILURE
        }
    }
}
