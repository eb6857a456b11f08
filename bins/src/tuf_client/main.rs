//! `airlock-tuf-client`: airlock's TUF client (the workflow in
//! `airlock_core::client`) behind the command line of the TUF conformance
//! suite (`theupdateframework/tuf-conformance`, `CLIENT-CLI.md`):
//!
//! ```text
//! airlock-tuf-client --metadata-dir D init ROOT
//! airlock-tuf-client --metadata-dir D --metadata-url U refresh
//! airlock-tuf-client --metadata-dir D --metadata-url U --target-name T [--target-name T2 ...] \
//!     --target-base-url TU --target-dir TD download
//! ```
//!
//! Exit 0 on success, 1 on any failure (usage errors included). Trusted
//! metadata lives in `D` under unversioned names as the exact bytes received;
//! each file is written as soon as its role is accepted, so a later failure
//! leaves what was verified so far (the newest root included). The clock is
//! the system clock. Targets are stored in `TD` under their percent-encoded
//! path, and a stored copy that still matches its signed length and hashes
//! is not downloaded again. See docs/CONFORMANCE.md.

#![forbid(unsafe_code)]

mod http;
mod store;

use airlock_core::client::{Client, Limits, Transport, UpdateError};
use airlock_core::metadata::TargetFile;
use airlock_core::Timestamp;
use clap::{Parser, Subcommand};
use http::{quote, with_trailing_slash, DownloadError, Http, HttpTransport};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};
use store::{MetadataDir, TargetDir};

/// TUF client for the conformance suite's command-line protocol.
#[derive(Parser)]
#[command(name = "airlock-tuf-client", version, about, disable_help_subcommand = true)]
struct Cli {
    /// Directory of trusted metadata (read and written).
    #[arg(long, value_name = "DIR")]
    metadata_dir: PathBuf,
    /// Base URL of the repository's metadata.
    #[arg(long, value_name = "URL")]
    metadata_url: Option<String>,
    /// Target path to download; repeat for several, processed in order.
    #[arg(long = "target-name", value_name = "PATH")]
    target_names: Vec<String>,
    /// Base URL of the repository's targets.
    #[arg(long, value_name = "URL")]
    target_base_url: Option<String>,
    /// Directory to store verified targets in.
    #[arg(long, value_name = "DIR")]
    target_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Trust ROOT: copy it into the metadata directory (no checks, no network).
    Init {
        /// The initial trusted root metadata file.
        trusted_root: PathBuf,
    },
    /// Update the top-level metadata (root, timestamp, snapshot, targets).
    Refresh,
    /// Refresh, then download and verify each --target-name.
    Download,
}

/// A failure, already phrased for the operator.
struct Failure(String);

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure(e.to_string())
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            let _ = e.print();
            return ExitCode::FAILURE;
        }
    };
    let result = match &cli.command {
        Command::Init { trusted_root } => init(&cli.metadata_dir, trusted_root),
        Command::Refresh => refresh(&cli),
        Command::Download => download(&cli),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(msg)) => {
            eprintln!("airlock-tuf-client: error: {msg}");
            ExitCode::FAILURE
        }
    }
}

fn log(msg: impl std::fmt::Display) {
    eprintln!("airlock-tuf-client: {msg}");
}

fn init(metadata_dir: &Path, trusted_root: &Path) -> Result<(), Failure> {
    let bytes = std::fs::read(trusted_root).map_err(|e| format!("{}: {e}", trusted_root.display()))?;
    MetadataDir::new(metadata_dir).write("root", &bytes)?;
    log(format!("initialised {} with {}", metadata_dir.display(), trusted_root.display()));
    Ok(())
}

fn required<'a, T: ?Sized>(value: Option<&'a T>, flag: &str) -> Result<&'a T, Failure> {
    value.ok_or_else(|| Failure(format!("{flag} is required for this command")))
}

/// The system clock, as the conformance suite (and faketime) expects.
fn now() -> Result<Timestamp, Failure> {
    let secs =
        SystemTime::now().duration_since(UNIX_EPOCH).map_err(|_| "the clock is before 1970")?.as_secs();
    Ok(Timestamp::from_unix(i64::try_from(secs).map_err(|_| "the clock is out of range")?))
}

/// What a run starts from: the stored metadata.
struct Local {
    store: MetadataDir,
    root: Vec<u8>,
    timestamp: Option<Vec<u8>>,
    snapshot: Option<Vec<u8>>,
    targets: BTreeMap<String, Vec<u8>>,
}

impl Local {
    fn load(dir: &Path, limits: &Limits) -> Result<Self, Failure> {
        let store = MetadataDir::new(dir);
        let root = store
            .read("root", limits.root_max)?
            .ok_or_else(|| format!("{}: no trusted root.json (run init first)", dir.display()))?;
        let timestamp = store.read("timestamp", limits.timestamp_max)?;
        let snapshot = store.read("snapshot", limits.snapshot_max)?;
        let targets = store.targets_roles(limits.targets_max)?;
        Ok(Local { store, root, timestamp, snapshot, targets })
    }
}

fn context(step: &str) -> impl Fn(UpdateError) -> Failure + '_ {
    move |e| Failure(format!("{step}: {e}"))
}

/// Runs the top-level update, storing each role as soon as it is accepted.
fn update_top_level<T: Transport + ?Sized>(
    client: &mut Client<'_, T>,
    store: &MetadataDir,
) -> Result<(), Failure> {
    // 5.3: roots. A failure after some new versions were accepted still
    // leaves the newest accepted root stored.
    let result = client.update_root();
    let trusted = client.trusted();
    if let Some(newest) = trusted.new_roots.last() {
        store.write("root", &newest.bytes)?;
        log(format!("root v{} accepted", newest.signed().version));
    }
    // 5.3.11: timestamp and snapshot no longer trusted (keys rotated, or
    // the stored copies do not verify) are deleted.
    if trusted.timestamp.is_none() && store.remove("timestamp")? {
        log("stored timestamp dropped");
    }
    if trusted.snapshot.is_none() && store.remove("snapshot")? {
        log("stored snapshot dropped");
    }
    result.map_err(context("root"))?;

    client.update_timestamp().map_err(context("timestamp"))?;
    if let Some(ts) = &client.trusted().timestamp {
        if store.write("timestamp", &ts.bytes)? {
            log(format!("timestamp v{} accepted", ts.signed().version));
        }
    }
    client.update_snapshot().map_err(context("snapshot"))?;
    if let Some(snap) = &client.trusted().snapshot {
        if store.write("snapshot", &snap.bytes)? {
            log(format!("snapshot v{} accepted", snap.signed().version));
        }
    }
    client.update_targets("targets", None).map_err(context("targets"))?;
    store_targets_roles(client, store)?;
    Ok(())
}

/// Stores every targets role verified so far that is not stored yet.
fn store_targets_roles<T: Transport + ?Sized>(
    client: &Client<'_, T>,
    store: &MetadataDir,
) -> Result<(), Failure> {
    for (role, md) in &client.trusted().targets {
        if store.write(role, &md.bytes)? {
            // Delegated role names come from the repository: escaped for the terminal.
            log(format!("{} v{} accepted", role.escape_debug(), md.signed().version));
        }
    }
    Ok(())
}

fn refresh(cli: &Cli) -> Result<(), Failure> {
    let url = required(cli.metadata_url.as_deref(), "--metadata-url")?;
    let limits = Limits::default();
    let local = Local::load(&cli.metadata_dir, &limits)?;
    let mut transport = HttpTransport::new(Http::new(), url);
    let mut client = Client::new(&local.root, &mut transport, now()?, limits)
        .map_err(context("trusted root"))?
        .with_previous(local.timestamp.as_deref(), local.snapshot.as_deref())
        .with_cached_targets(local.targets);
    update_top_level(&mut client, &local.store)?;
    log("refresh complete");
    Ok(())
}

fn download(cli: &Cli) -> Result<(), Failure> {
    let url = required(cli.metadata_url.as_deref(), "--metadata-url")?;
    let base = with_trailing_slash(required(cli.target_base_url.as_deref(), "--target-base-url")?);
    let target_dir = TargetDir::new(required(cli.target_dir.as_deref(), "--target-dir")?);
    if cli.target_names.is_empty() {
        return Err(Failure("--target-name is required for download".into()));
    }
    let limits = Limits::default();
    let local = Local::load(&cli.metadata_dir, &limits)?;
    let http = Http::new();
    let mut transport = HttpTransport::new(http.clone(), url);
    let mut client = Client::new(&local.root, &mut transport, now()?, limits)
        .map_err(context("trusted root"))?
        .with_previous(local.timestamp.as_deref(), local.snapshot.as_deref())
        .with_cached_targets(local.targets);
    update_top_level(&mut client, &local.store)?;
    let consistent = client.trusted().root.signed().consistent_snapshot.unwrap_or(false);
    for name in &cli.target_names {
        let found = client.target_info(name);
        // Delegated roles verified during the search are kept even if it failed.
        store_targets_roles(&client, &local.store)?;
        let found = found.map_err(context(name))?;
        let found = found.ok_or_else(|| format!("{name}: no such target in the repository"))?;
        if target_dir.is_current(name, &found.file) {
            log(format!("{name}: stored copy is current (signed by {})", found.role));
            continue;
        }
        let url = target_url(&base, name, &found.file, consistent)?;
        let path = target_dir
            .store(name, |out| http.download_target(&url, &found.file, out))
            .map_err(|e: DownloadError| format!("{name}: {e}"))?;
        log(format!("{name}: downloaded and verified (signed by {}) to {}", found.role, path.display()));
    }
    Ok(())
}

/// The URL of a target: its directory and file name percent-encoded, and
/// with consistent snapshots the file name prefixed with one of its signed
/// hashes (`dir/<hash>.name`), preferring SHA-256.
fn target_url(base: &str, path: &str, file: &TargetFile, consistent: bool) -> Result<String, Failure> {
    if path.is_empty() || path.split('/').any(|seg| seg == "." || seg == "..") {
        return Err(Failure(format!("{path:?}: not a usable target path")));
    }
    let (dir, name) = match path.rsplit_once('/') {
        Some((dir, name)) => (Some(dir), name),
        None => (None, path),
    };
    let name = if consistent {
        let hash = ["sha256", "sha512"]
            .iter()
            .find_map(|alg| file.hashes.get(*alg))
            .or_else(|| file.hashes.values().next())
            .ok_or_else(|| format!("{path}: no hash is signed for it"))?;
        format!("{hash}.{name}")
    } else {
        name.to_owned()
    };
    Ok(match dir {
        Some(dir) => format!("{base}{}/{}", quote(dir, b"/"), quote(&name, b"")),
        None => format!("{base}{}", quote(&name, b"")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(hashes: &[(&str, &str)]) -> TargetFile {
        TargetFile {
            length: 1,
            hashes: hashes.iter().map(|(a, h)| (a.to_string(), h.to_string())).collect(),
            custom: None,
            extra: Default::default(),
        }
    }

    #[test]
    fn target_urls() {
        let f = file(&[("sha512", "bb"), ("sha256", "aa")]);
        assert_eq!(target_url("http://h/t/", "a.txt", &f, true).ok(), Some("http://h/t/aa.a.txt".into()));
        assert_eq!(target_url("http://h/t/", "a.txt", &f, false).ok(), Some("http://h/t/a.txt".into()));
        assert_eq!(
            target_url("http://h/t/", "dir/sub/nested file.txt", &f, true).ok(),
            Some("http://h/t/dir/sub/aa.nested%20file.txt".into())
        );
        let only512 = file(&[("sha512", "bb")]);
        assert_eq!(target_url("b/", "x", &only512, true).ok(), Some("b/bb.x".into()));
        for bad in ["", "..", "a/../b", "./x"] {
            assert!(target_url("b/", bad, &f, true).is_err(), "{bad:?}");
        }
    }
}
