//! `airlock-import`: the isolated side's importer, with its pins compiled in.
//!
//! Build it with `AIRLOCK_PINS_DIR=DIR cargo build --release --bin
//! airlock-import` (docs/PINS.md). It has no option to read pins at run
//! time, so whoever runs it cannot change which registries it trusts for
//! which namespaces. Thin by design: parsing arguments and printing live
//! here; every check lives in the libraries.

#![forbid(unsafe_code)]

// First, so that its `println!` and `print!` reach every module below.
#[macro_use]
#[path = "../exit.rs"]
mod exit;
mod compiled;
#[path = "../cmd/docs.rs"]
mod docs;
// Shared with `airlock`; this binary only reads bundles, never writes one.
#[allow(dead_code)]
#[path = "../progress.rs"]
mod progress;
// Shared with `airlock mirror`. Here the pins-directory reader only reads a
// mirror's stored pins, to check they are the compiled-in ones.
#[path = "../rules.rs"]
mod rules;
mod selfcheck;
mod verify;

use airlock_bundles::mirror::{Importer, Mirror};
use airlock_core::policy::Policy;
use airlock_core::Timestamp;
use anyhow::Result;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// What a binary built without pins says, and how to build one with them.
const NO_PINS: &str =
    "no pins compiled in; build with AIRLOCK_PINS_DIR=DIR cargo build --release --bin airlock-import";

/// Verify and import air-gap bundles against pins compiled into this binary.
#[derive(Parser)]
#[command(name = "airlock-import", version = airlock_keyceremony::BUILD, disable_help_subcommand = true)]
struct Cli {
    /// No progress bars (they are shown only when stderr is a terminal).
    #[arg(long, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the pins compiled into this binary: each registry's identity
    /// (hex in groups of four, and words to read aloud) and each mapping.
    Pins,
    /// Verify a bundle against the compiled-in pins, writing nothing.
    Verify(VerifyArgs),
    /// Import bundles into an offline mirror.
    Import(ImportArgs),
    /// Verify a newer airlock carried in a bundle (a target of the pinned
    /// registry) against the compiled-in pins, and write its verified bytes.
    SelfCheck(SelfCheckArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(docs::CompletionsArgs),
    /// Write man pages for every command.
    Man(docs::ManArgs),
}

/// Arguments of `verify`.
#[derive(Args)]
struct VerifyArgs {
    /// The bundle file, or the base name (or .volumes.json index) of its volumes.
    bundle: PathBuf,
    /// Judge the bundle against this mirror's trusted state (read only)
    /// instead of a fresh mirror's.
    #[arg(long)]
    mirror: Option<PathBuf>,
    /// Check at this instant (YYYY-MM-DDTHH:MM:SSZ) instead of now.
    #[arg(long)]
    at: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// Arguments of `import`.
#[derive(Args)]
struct ImportArgs {
    /// The mirror directory.
    mirror: PathBuf,
    /// The bundles (files, or base names of volumes), imported in order.
    #[arg(required = true)]
    bundles: Vec<PathBuf>,
    /// Wait up to this many seconds for another command's lock on the
    /// mirror (default: refuse at once, exit 2).
    #[arg(long, value_name = "SECONDS", default_value_t = 0)]
    wait: u64,
    /// Check at this instant (YYYY-MM-DDTHH:MM:SSZ) instead of now.
    #[arg(long)]
    at: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// Arguments of `self-check`.
#[derive(Args)]
struct SelfCheckArgs {
    /// The bundle file, or the base name (or .volumes.json index) of its volumes.
    bundle: PathBuf,
    /// The target to check, e.g. airlock/1.2.0/airlock_1.2.0_amd64.deb.
    #[arg(long)]
    target: String,
    /// Where to write its verified bytes (must not exist).
    #[arg(long)]
    out: PathBuf,
    /// Check at this instant (YYYY-MM-DDTHH:MM:SSZ) instead of now.
    #[arg(long)]
    at: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// `--at`, or the system clock.
fn now_or(at: Option<&str>) -> Result<Timestamp> {
    match at {
        Some(s) => Timestamp::parse(s).map_err(|e| exit::usage(format!("--at: {e}"))),
        None => {
            let secs = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0);
            Ok(Timestamp::from_unix(secs))
        }
    }
}

/// The compiled-in pins and the default policy, or why not.
fn importer() -> Result<Importer> {
    let (source, pins) = compiled::load().ok_or_else(|| exit::usage(NO_PINS))?;
    let pins =
        pins.map_err(|e| exit::usage(format!("the pins compiled in from {source} are invalid: {e}")))?;
    Ok(Importer { pins, policy: Policy::default() })
}

/// Opens `dir` as a mirror made for the compiled-in pins, and takes its policy.
fn open_mirror(dir: &std::path::Path, importer: &mut Importer) -> Result<Mirror> {
    let mirror = Mirror::open(dir).map_err(|e| exit::usage(e.to_string()))?;
    let (stored, _) = rules::read_pins_dir(&mirror.pins_dir())?;
    if stored.describe() != importer.pins.describe() {
        return Err(exit::usage(format!(
            "{}: the mirror was initialised with other pins than the ones compiled into this binary",
            dir.display()
        )));
    }
    let policy = mirror.policy_path();
    importer.policy = rules::read_policy(policy.exists().then_some(policy.as_path()))?.0;
    Ok(mirror)
}

fn run(cmd: Command) -> Result<()> {
    match cmd {
        Command::Completions(a) => docs::completions::<Cli>(a),
        Command::Man(a) => docs::man::<Cli>(a),
        Command::Pins => {
            let r = importer()?;
            print!("{}", r.pins.describe());
            Ok(())
        }
        Command::Verify(a) => {
            let mut r = importer()?;
            let now = now_or(a.at.as_deref())?;
            let mirror = match &a.mirror {
                Some(d) => Some(open_mirror(d, &mut r)?),
                None => None,
            };
            verify::run(&r, mirror.as_ref(), &a.bundle, now, a.json)
        }
        Command::SelfCheck(a) => {
            let r = importer()?;
            let now = now_or(a.at.as_deref())?;
            selfcheck::run(&r, &a.bundle, &a.target, &a.out, now, a.json)
        }
        Command::Import(a) => {
            let mut r = importer()?;
            let now = now_or(a.at.as_deref())?;
            let mirror = open_mirror(&a.mirror, &mut r)?;
            rules::import_all(&mirror, &r, &a.bundles, now, a.wait, a.json)
        }
    }
}

fn main() -> ExitCode {
    let cli: Cli = match exit::parse_args("airlock-import") {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    progress::set_quiet(cli.quiet);
    exit::finish("airlock-import", run(cli.command))
}
