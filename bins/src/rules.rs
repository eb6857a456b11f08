//! The importer's rules from pins and policy, shared by `airlock mirror`
//! and `airlock-import`.

use crate::exit::{refused, usage};
use airlock_bundles::bundle::open_volumes;
use airlock_bundles::mirror::{import_bundle, ImportRules, Mirror, MirrorError};
use airlock_core::metadata::TargetFile;
use airlock_core::pins::Pins;
use airlock_core::policy::Policy;
use airlock_core::Timestamp;
use anyhow::Result;
use serde_json::json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Pins decide which registry may provide which namespace; the policy
/// decides what else is demanded.
pub struct PinnedRules {
    /// The namespace pins.
    pub pins: Pins,
    /// The import policy (the default allows everything pins allow).
    pub policy: Policy,
}

/// Files of a pins directory: (relative path, bytes).
pub type PinFiles = Vec<(String, Vec<u8>)>;

/// Reads a pins directory: `map.json` and `<repo>/root.json` per repository.
/// Returns the validated pins and the files.
pub fn read_pins_dir(dir: &Path) -> Result<(Pins, PinFiles)> {
    let map_path = dir.join("map.json");
    let map = std::fs::read(&map_path).map_err(|e| usage(format!("{}: {e}", map_path.display())))?;
    let names = Pins::repository_names(&map).map_err(|e| usage(format!("{}: {e}", map_path.display())))?;
    let mut roots = BTreeMap::new();
    let mut files = vec![("map.json".to_owned(), map.clone())];
    for name in names {
        let p = dir.join(&name).join("root.json");
        let bytes = std::fs::read(&p).map_err(|e| usage(format!("{}: {e}", p.display())))?;
        files.push((format!("{name}/root.json"), bytes.clone()));
        roots.insert(name, bytes);
    }
    let pins = Pins::from_parts(&map, roots).map_err(|e| usage(format!("{}: {e}", dir.display())))?;
    Ok((pins, files))
}

/// Reads a policy file, or the default policy when there is none.
pub fn read_policy(path: Option<&Path>) -> Result<(Policy, Option<Vec<u8>>)> {
    match path {
        None => Ok((Policy::from_toml("").map_err(|e| usage(e.to_string()))?, None)),
        Some(p) => {
            let bytes = std::fs::read(p).map_err(|e| usage(format!("{}: {e}", p.display())))?;
            let text =
                String::from_utf8(bytes.clone()).map_err(|_| usage(format!("{}: not UTF-8", p.display())))?;
            let policy = Policy::from_toml(&text).map_err(|e| usage(format!("{}: {e}", p.display())))?;
            Ok((policy, Some(bytes)))
        }
    }
}

impl ImportRules for PinnedRules {
    fn repository(&self, identity: &str) -> Option<String> {
        self.pins.repository_for_identity(identity).map(str::to_owned)
    }

    fn pinned_root(&self, repo: &str) -> Option<Vec<u8>> {
        self.pins.root(repo).map(<[u8]>::to_vec)
    }

    fn approve_target(&self, repo: &str, target: &str, info: &TargetFile, _role: &str) -> Result<(), String> {
        self.pins.authorize(target, repo).map_err(|e| format!("namespace pins: {e}"))?;
        self.policy.check_target(target, info).map_err(|r| format!("policy {}: {}", r.rule, r.detail))
    }

    fn check_freshness(&self, issued: Option<Timestamp>, now: Timestamp) -> Result<(), String> {
        self.policy.check_age(issued, now).map_err(|r| format!("{}: {}", r.rule, r.detail))
    }

    fn effective_now(&self, now: Timestamp) -> Timestamp {
        self.policy.effective_now(now)
    }
}

/// Imports bundles in order with `rules`, printing a report for each and
/// stopping at the first refusal. Shared by `airlock mirror import` and
/// `airlock-import import`.
pub fn import_all(
    mirror: &Mirror,
    rules: &PinnedRules,
    bundles: &[PathBuf],
    now: Timestamp,
    accept_key_change: &[String],
    json: bool,
) -> Result<()> {
    for b in bundles {
        let mut input = open_volumes(b).map_err(|e| usage(format!("{}: {e}", b.display())))?;
        match import_bundle(mirror, &mut input, &b.display().to_string(), rules, now, accept_key_change) {
            Ok(r) => {
                if json {
                    println!(
                        "{}",
                        serde_json::to_string_pretty(
                            &json!({"bundle": b.display().to_string(), "imported": true, "report": r})
                        )?
                    );
                } else {
                    println!(
                        "imported {} into {}: snapshot {} -> {}, {} target(s)",
                        b.display(),
                        r.repo,
                        r.snapshot_from.map_or("none".to_owned(), |v| v.to_string()),
                        r.snapshot_to,
                        r.targets.len()
                    );
                    if !r.new_roots.is_empty() {
                        println!("  new root version(s): {:?}", r.new_roots);
                    }
                    if !r.omitted_roles.is_empty() {
                        println!("  roles not carried: {}", r.omitted_roles.join(", "));
                    }
                }
            }
            Err(e) => {
                if json {
                    println!(
                        "{}",
                        serde_json::to_string_pretty(
                            &json!({"bundle": b.display().to_string(), "imported": false, "error": e.to_string()})
                        )?
                    );
                }
                let refusal = e.is_refusal();
                let msg = format!("{}: {e}; the mirror is unchanged", b.display());
                return Err(match e {
                    MirrorError::Locked { .. } | MirrorError::Layout(_) => usage(msg),
                    _ if refusal => refused(msg),
                    _ => anyhow::anyhow!(msg),
                });
            }
        }
    }
    Ok(())
}
