//! `airlock mirror init|import|verify|status|log`.

use crate::exit::{refused, usage};
use crate::rules::{read_pins_dir, read_policy};
use airlock_bundles::mirror::{trusted_state, verify_mirror, Importer, Mirror, MirrorError};
use airlock_core::text::for_terminal as safe;
use airlock_keyceremony::transcript;
use anyhow::Result;
use clap::{Args, Subcommand};
use serde_json::json;
use std::path::PathBuf;

/// Mirror commands.
#[derive(Subcommand)]
pub enum MirrorCommand {
    /// Create an offline mirror with its pins (and policy).
    Init(InitArgs),
    /// Verify bundles and import them, each as one crash-safe transaction.
    Import(ImportArgs),
    /// Re-check every file and signature of the mirror; report all problems.
    Verify(DirArgs),
    /// Versions and expiry of what the mirror holds, warning before it expires.
    Status(StatusArgs),
    /// The audit log of every import attempt.
    Log(DirArgs),
}

/// Arguments of `mirror init`.
#[derive(Args)]
pub struct InitArgs {
    /// The mirror directory to create.
    pub dir: PathBuf,
    /// The pins directory: map.json and <repo>/root.json.
    #[arg(long)]
    pub pins: PathBuf,
    /// The import policy (TOML).
    #[arg(long)]
    pub policy: Option<PathBuf>,
}

/// Arguments of `mirror import`.
#[derive(Args)]
pub struct ImportArgs {
    /// The mirror directory.
    pub dir: PathBuf,
    /// Bundle files (or volume base names), imported in order.
    #[arg(required = true)]
    pub bundles: Vec<PathBuf>,
    /// Wait up to this many seconds for another command's lock on the
    /// mirror (default: refuse at once, exit 2).
    #[arg(long, value_name = "SECONDS", default_value_t = 0)]
    pub wait: u64,
    /// The time of the import (YYYY-MM-DDTHH:MM:SSZ) instead of now.
    #[arg(long)]
    pub at: Option<String>,
    /// Print reports as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `mirror status`.
#[derive(Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub mirror: DirArgs,
    /// Warn when a repository's metadata expires within this many days.
    #[arg(long, value_name = "DAYS", default_value_t = 7)]
    pub warn_days: u32,
}

/// Arguments naming a mirror.
#[derive(Args)]
pub struct DirArgs {
    /// The mirror directory.
    pub dir: PathBuf,
    /// The time of the check (YYYY-MM-DDTHH:MM:SSZ) instead of now.
    #[arg(long)]
    pub at: Option<String>,
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs a mirror command.
pub fn run(cmd: MirrorCommand) -> Result<()> {
    match cmd {
        MirrorCommand::Init(a) => init(a),
        MirrorCommand::Import(a) => import(a),
        MirrorCommand::Verify(a) => verify(a),
        MirrorCommand::Status(a) => status(a),
        MirrorCommand::Log(a) => log(a),
    }
}

/// Maps a mirror error to its exit code.
pub fn mirror_error(e: MirrorError) -> anyhow::Error {
    match e {
        MirrorError::Locked { .. } | MirrorError::Layout(_) => usage(e.to_string()),
        e if e.is_refusal() => refused(e.to_string()),
        e => anyhow::anyhow!(e.to_string()),
    }
}

fn open(dir: &std::path::Path) -> Result<(Mirror, Importer)> {
    let m = Mirror::open(dir).map_err(mirror_error)?;
    let (pins, _) = read_pins_dir(&m.pins_dir())?;
    let policy_path = m.policy_path();
    let (policy, _) = read_policy(policy_path.exists().then_some(policy_path.as_path()))?;
    Ok((m, Importer { pins, policy }))
}

fn init(a: InitArgs) -> Result<()> {
    let (pins, files) = read_pins_dir(&a.pins)?;
    let (_, policy) = read_policy(a.policy.as_deref())?;
    Mirror::init(&a.dir, &files, policy.as_deref()).map_err(mirror_error)?;
    println!("mirror created at {}", a.dir.display());
    print!("{}", pins.describe());
    Ok(())
}

fn import(a: ImportArgs) -> Result<()> {
    let (m, rules) = open(&a.dir)?;
    let now = super::now_or(a.at.as_deref())?;
    crate::rules::import_all(&m, &rules, &a.bundles, now, a.wait, a.json)
}

fn verify(a: DirArgs) -> Result<()> {
    let now = super::now_or(a.at.as_deref())?;
    let (m, rules) = open(&a.dir)?;
    let found = verify_mirror(&m, &rules, rules.policy.effective_now(now)).map_err(mirror_error)?;
    let (expired, damage): (Vec<_>, Vec<_>) = found.iter().partition(|p| p.expired);
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "format": "airlock-mirror-verify-v2",
                "verified": found.is_empty(),
                "intact": damage.is_empty(),
                "expired": !expired.is_empty(),
                "problems": found,
            }))?
        );
    } else {
        for p in &damage {
            println!("PROBLEM  {}: {}", safe(&p.repo), safe(&p.problem));
        }
        for p in &expired {
            println!("EXPIRED  {}: {}", safe(&p.repo), safe(&p.problem));
        }
        match (damage.is_empty(), expired.is_empty()) {
            (true, true) => println!(
                "mirror verified: every repository, file and signature checks out; the audit log chain is intact"
            ),
            (true, false) => println!(
                "mirror intact, but EXPIRED: every file and signature checks out as of expiry; TUF clients refuse it until a fresher bundle is imported"
            ),
            _ => {}
        }
    }
    // Damage is a refusal (exit 1); expiry alone is reported, not a failure.
    if damage.is_empty() {
        Ok(())
    } else {
        Err(refused(format!("{}: {} problem(s) found", a.dir.display(), damage.len())))
    }
}

fn status(args: StatusArgs) -> Result<()> {
    let a = args.mirror;
    let now = super::now_or(a.at.as_deref())?;
    let (m, _) = open(&a.dir)?;
    let mut repos = Vec::new();
    for repo in m.repos().map_err(mirror_error)? {
        // Read strictly: a state that does not read is an error, never "empty".
        let Some(s) = trusted_state(&m, &repo).map_err(mirror_error)? else { continue };
        let (root, ts, snap) =
            (Some(&s.root.metadata), Some(&s.timestamp.metadata), Some(&s.snapshot.metadata));
        let (expires, role) = s.earliest_expiry();
        let left = expires.unix() - now.unix();
        let state = if left <= 0 {
            "expired"
        } else if left <= i64::from(args.warn_days) * 86_400 {
            "expiring"
        } else {
            "fresh"
        };
        let (log_size, log_root) = match m.state(&repo).map_err(mirror_error)?.checkpoint {
            Some(b) => match airlock_core::log::SignedNote::parse(&b)
                .ok()
                .and_then(|n| airlock_core::log::Checkpoint::parse(&n.text).ok())
            {
                Some(cp) => (Some(cp.size), Some(hex::encode(cp.root))),
                None => return Err(anyhow::anyhow!("{}: the stored log checkpoint does not read", repo)),
            },
            None => (None, None),
        };
        let split_views = split_views_refused(&m, &repo)?;
        repos.push(json!({
            "log_size": log_size,
            "log_root": log_root,
            "split_views_refused": split_views,
            "expires": expires.to_string(),
            "expiring_role": role,
            "seconds_left": left.max(0),
            "state": state,
            "repo": repo,
            "root_version": root.as_ref().map(|r| r.signed().version),
            "root_expires": root.as_ref().map(|r| r.signed().expires.to_string()),
            "timestamp_version": ts.as_ref().map(|t| t.signed().version),
            "timestamp_expires": ts.as_ref().map(|t| t.signed().expires.to_string()),
            "snapshot_version": snap.as_ref().map(|t| t.signed().version),
            "roles": snap.as_ref().map(|t| t.signed().meta.len()),
        }));
    }
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "format": "airlock-mirror-status-v2",
                "mirror": a.dir.display().to_string(),
                "checked_at": now.to_string(),
                "warn_days": args.warn_days,
                "repositories": repos
            }))?
        );
    } else {
        println!("mirror {}", a.dir.display());
        if repos.is_empty() {
            println!("  nothing imported yet");
        }
        for r in &repos {
            let name = r["repo"].as_str().unwrap_or_default();
            println!(
                "  {}: root v{}, snapshot v{}, timestamp v{}; valid until {} ({} expires first)",
                name,
                r["root_version"],
                r["snapshot_version"],
                r["timestamp_version"],
                r["expires"].as_str().unwrap_or("-"),
                r["expiring_role"].as_str().unwrap_or("-"),
            );
            match r["log_size"].as_u64() {
                Some(n) => println!("  {name}: log checkpoint of {n} entries"),
                None => println!("  {name}: no log checkpoint"),
            }
            if let Some(n) = r["split_views_refused"].as_u64().filter(|n| *n > 0) {
                println!("  SPLIT VIEW: {n} bundle(s) of {name} refused whose log forks from the one imported (mirror log)");
            }
            let days = r["seconds_left"].as_i64().unwrap_or(0) as f64 / 86_400.0;
            match r["state"].as_str() {
                Some("expired") => println!(
                    "  EXPIRED: {name} expired at {}; clients inside refuse it until a fresher bundle is imported",
                    r["expires"].as_str().unwrap_or("-")
                ),
                Some("expiring") => println!(
                    "  WARNING: {name} expires in {days:.1} day(s); import a fresher bundle before {}",
                    r["expires"].as_str().unwrap_or("-")
                ),
                _ => {}
            }
        }
    }
    Ok(())
}

/// How many imports of `repo` the audit log records as refused by rule split-view.
fn split_views_refused(m: &Mirror, repo: &str) -> Result<u64> {
    let scan = match std::fs::read(m.audit_path()) {
        Ok(b) => transcript::scan(&b),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(anyhow::anyhow!("{}: {e}", m.audit_path().display())),
    };
    Ok(scan
        .records
        .iter()
        .filter(|r| {
            r.details.get("repo").and_then(|v| v.as_str()) == Some(repo)
                && r.details.get("rule").and_then(|v| v.as_str()) == Some("split-view")
        })
        .count() as u64)
}

fn log(a: DirArgs) -> Result<()> {
    let m = Mirror::open(&a.dir).map_err(mirror_error)?;
    let scan = match std::fs::read(m.audit_path()) {
        Ok(b) => transcript::scan(&b),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => transcript::Scan::default(),
        Err(e) => return Err(anyhow::anyhow!("{}: {e}", m.audit_path().display())),
    };
    let records = &scan.records;
    let damage: Vec<String> = scan.damage.iter().map(ToString::to_string).collect();
    let intact = damage.is_empty();
    if a.json {
        let out: Vec<_> = records
            .iter()
            .map(|r| json!({"seq": r.seq, "time": r.time.to_string(), "step": r.step, "details": r.details}))
            .collect();
        let chain = if intact { "intact" } else { "damaged" };
        println!(
            "{}",
            serde_json::to_string_pretty(
                &json!({"format": "airlock-mirror-log-v1", "records": out, "chain": chain, "damage": damage})
            )?
        );
    } else {
        for r in records {
            let d = &r.details;
            let text = |k: &str| d.get(k).and_then(|v| v.as_str()).map(|s| safe(s).into_owned());
            println!(
                "{:>4} {} {:<16} {} {}",
                r.seq,
                r.time,
                safe(&r.step),
                text("bundle").unwrap_or_default(),
                text("reason").map(|s| format!("({s})")).unwrap_or_default()
            );
        }
        for d in &damage {
            println!("DAMAGED  {}", safe(d));
        }
        println!("{} record(s); hash chain {}", records.len(), if intact { "intact" } else { "DAMAGED" });
    }
    if !intact {
        return Err(refused(format!(
            "{}: {} damaged line(s); see docs/FORMAT.md (audit log) for repair",
            m.audit_path().display(),
            damage.len()
        )));
    }
    Ok(())
}
