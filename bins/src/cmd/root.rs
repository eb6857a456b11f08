//! `airlock root verify`: walk a root chain as a TUF client would.

use crate::exit::{refused, usage};
use crate::io::read_input;
use airlock_core::extension::RootExtension;
use airlock_core::metadata::Root;
use airlock_core::rootchain::{trust_first_root, update_root, RootStep};
use airlock_core::text::for_terminal as safe;
use airlock_core::{registry_identity, Metadata, RootChainError};
use anyhow::Result;
use clap::{Args, Subcommand};
use serde_json::json;
use std::path::{Path, PathBuf};

/// Root chain commands.
#[derive(Subcommand)]
pub enum RootCommand {
    /// Verify a chain of root versions from a trusted start to the newest.
    Verify(VerifyArgs),
}

/// Arguments of `root verify`.
#[derive(Args)]
pub struct VerifyArgs {
    /// Root files in version order, or a directory holding N.root.json files.
    #[arg(required = true)]
    pub roots: Vec<PathBuf>,
    /// Trust this root file as the starting point (it is not checked).
    #[arg(long, conflicts_with = "identity")]
    pub trusted: Option<PathBuf>,
    /// Trust root version 1 whose canonical signed bytes hash to this registry identity.
    #[arg(long)]
    pub identity: Option<String>,
    /// Check at this instant (YYYY-MM-DDTHH:MM:SSZ) instead of now.
    #[arg(long)]
    pub at: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs a root command.
pub fn run(cmd: RootCommand) -> Result<()> {
    match cmd {
        RootCommand::Verify(a) => verify(a),
    }
}

/// Loads a root file; a malformed one is refused (exit 1).
pub fn load_root(path: &Path) -> Result<Metadata<Root>> {
    Metadata::<Root>::from_bytes(&read_input(path)?).map_err(|e| refused(format!("{}: {e}", path.display())))
}

/// Expands directories into their `N.root.json` files in version order.
pub fn root_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found: Vec<(u64, PathBuf)> = std::fs::read_dir(p)?
                .filter_map(|e| e.ok())
                .filter_map(|e| {
                    let name = e.file_name().into_string().ok()?;
                    let n: u64 = name.strip_suffix(".root.json")?.parse().ok()?;
                    Some((n, e.path()))
                })
                .collect();
            found.sort();
            out.extend(found.into_iter().map(|(_, p)| p));
        } else {
            out.push(p.clone());
        }
    }
    if out.is_empty() {
        return Err(usage("no root files given"));
    }
    Ok(out)
}

fn verify(a: VerifyArgs) -> Result<()> {
    let now = super::now_or(a.at.as_deref())?;
    let files = root_files(&a.roots)?;
    let mut roots = Vec::new();
    for f in &files {
        roots.push((f.clone(), load_root(f)?));
    }
    let roots_seen: Vec<Metadata<Root>> = roots.iter().map(|(_, r)| r.clone()).collect();
    let mut steps: Vec<(PathBuf, RootStep)> = Vec::new();
    let mut iter = roots.into_iter();
    let (mut current_path, mut current) = match (&a.trusted, &a.identity) {
        (Some(t), None) => (t.clone(), load_root(t)?),
        (None, Some(id)) => {
            let (p, first) = iter.next().ok_or_else(|| usage("no root files given"))?;
            let step =
                trust_first_root(id, &first, now).map_err(|e| refused(format!("{}: {e}", p.display())))?;
            steps.push((p.clone(), step));
            (p, first)
        }
        _ => return Err(usage("say where trust starts: --trusted ROOT or --identity HEX")),
    };
    let mut failure = None;
    for (path, candidate) in iter {
        if a.trusted.is_some() && candidate.signed().version <= current.signed().version && steps.is_empty() {
            // The trusted file may also be listed among the chain; skip it and older ones.
            if candidate.payload() == current.payload()
                || candidate.signed().version < current.signed().version
            {
                continue;
            }
        }
        match update_root(&current, &candidate, now) {
            Ok(step) => {
                steps.push((path.clone(), step));
                current = candidate;
                current_path = path;
            }
            Err(e) => {
                failure = Some(refused(format!("{}: {e}", path.display())));
                break;
            }
        }
    }
    let newest = current.signed();
    let expired = failure.is_none() && newest.expires <= now;
    if expired {
        let e = RootChainError::Expired { version: newest.version, expires: newest.expires, now };
        failure = Some(refused(format!("{}: {e}", current_path.display())));
    }
    let ext = RootExtension::of(newest).ok();
    let identity = ext
        .as_ref()
        .and_then(|e| e.identity.clone())
        .or_else(|| (newest.version == 1).then(|| registry_identity(&current)));
    if a.json {
        let versions: Vec<_> =
            steps.iter().map(|(p, s)| json!({"file": p.display().to_string(), "step": s})).collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "format": "airlock-root-verify-v1",
                "checked_at": now.to_string(),
                "registry": ext.as_ref().map(|e| e.registry.clone()),
                "identity": identity,
                "rehearsal": ext.as_ref().is_some_and(|e| e.rehearsal),
                "newest_version": newest.version,
                "newest_expires": newest.expires.to_string(),
                "steps": versions,
                "keys": newest.roles.iter().map(|(r, k)| (r.clone(), json!({"keyids": k.keyids, "threshold": k.threshold, "retiring": k.retiring}))).collect::<serde_json::Map<_, _>>(),
                "verified": failure.is_none(),
                "error": failure.as_ref().map(|e| e.to_string()),
            }))?
        );
    } else {
        if ext.as_ref().is_some_and(|e| e.rehearsal) {
            println!("REHEARSAL ROOT: made with throwaway keys; not for real use");
        }
        let names = airlock_core::extension::custodian_names(roots_seen.iter().map(|r| r.signed()));
        for (p, s) in &steps {
            let name = |id: &airlock_core::KeyId| {
                names.get(id).map(|n| format!(" ({})", safe(n))).unwrap_or_default()
            };
            println!("root version {} ({}), expires {}", s.version, p.display(), s.expires);
            if let Some(prev) = &s.by_previous {
                println!(
                    "  signed by {} previous root key(s); {} required",
                    prev.counted.len(),
                    prev.threshold
                );
            }
            println!(
                "  signed by {} of its own root key(s); {} required:",
                s.by_self.counted.len(),
                s.by_self.threshold
            );
            for k in &s.by_self.counted {
                println!("    {}{}", k.grouped(), name(k));
            }
            // Every role's keys and threshold in this version, as custodians
            // compare them with their ceremony record.
            if let Some(r) = roots_seen.iter().map(|r| r.signed()).find(|r| r.version == s.version) {
                for role in airlock_core::metadata::TOP_LEVEL_ROLES {
                    let Some(keys) = r.role(role) else { continue };
                    println!("  {role}: threshold {} of {} key(s)", keys.threshold, keys.keyids.len());
                    for k in &keys.keyids {
                        let retiring =
                            keys.retiring.get(k).map(|d| format!(", retiring at {d}")).unwrap_or_default();
                        println!("    {}{}{retiring}", k.grouped(), name(k));
                    }
                }
            }
        }
        if let Some(id) = &identity {
            println!("registry identity: {}", safe(&airlock_core::keys::group4(id)));
            println!("read aloud:        {}", airlock_core::identity::words(id).unwrap_or_default());
        }
        match &failure {
            None => println!(
                "root chain verified: newest version {} valid until {}",
                newest.version, newest.expires
            ),
            Some(e) => println!("root chain REFUSED: {}", safe(&e.to_string())),
        }
    }
    failure.map_or(Ok(()), Err)
}
