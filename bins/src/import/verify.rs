//! `airlock-import verify BUNDLE [--mirror DIR]`: the same decision
//! `airlock-import import` makes (`airlock_bundles::mirror::check_bundle`,
//! which ends in `airlock_core::admission::admit`), writing nothing. Without
//! `--mirror` the bundle is judged as a fresh mirror would judge it.

use crate::exit::{refused, usage};
use airlock_bundles::mirror::{check_bundle, Importer, Mirror, MirrorError};
use airlock_core::text::for_terminal as safe;
use airlock_core::Timestamp;
use anyhow::Result;
use serde_json::json;
use std::path::Path;

/// Verifies `bundle` at `now` against `mirror` (or a fresh one), printing a
/// report (JSON with `json`).
pub fn run(
    importer: &Importer,
    mirror: Option<&Mirror>,
    bundle: &Path,
    now: Timestamp,
    json: bool,
) -> Result<()> {
    let mut input = crate::progress::open_bundle(bundle, "verifying")
        .map_err(|e| usage(format!("{}: {e}", bundle.display())))?;
    let cosigned = crate::rules::companion(bundle)?;
    match check_bundle(mirror, &mut input, importer, &cosigned, now) {
        Ok(c) => {
            let v = &c.bundle;
            let mut mapped = Vec::new();
            for (path, info, role) in v.targets() {
                let mapping = importer.pins.authorize(path, &c.repo).ok();
                mapped.push(json!({"path": path, "length": info.length, "role": role, "mapping": mapping}));
            }
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&json!({
                        "format": "airlock-import-verify-v1",
                        "bundle": bundle.display().to_string(),
                        "verified": true,
                        "checked_at": now.to_string(),
                        "against": if mirror.is_some() { "mirror" } else { "fresh mirror" },
                        "repository": c.repo,
                        "registry": v.manifest().registry,
                        "snapshot_version": v.manifest().snapshot_version,
                        "base_snapshot_version": v.manifest().base_snapshot_version,
                        "omitted_roles": v.manifest().omitted_roles,
                        "checks": v.checks(),
                        "served_targets": c.admitted.served_targets,
                        "delegation_changes": c.admitted.changes,
                        "recoveries": c.admitted.recoveries,
                        "targets": mapped,
                    }))?
                );
            } else {
                for ch in v.checks() {
                    println!("ok  {:<24} {}", ch.check, safe(&ch.detail));
                }
                println!(
                    "ok  {:<24} every rule holds against {}; {} target(s) would be served",
                    "admission",
                    if mirror.is_some() { "the mirror's trusted state" } else { "a fresh mirror" },
                    c.admitted.served_targets
                );
                println!(
                    "bundle verified: {} artifact(s) from repository {} (registry {})",
                    v.targets().len(),
                    c.repo,
                    airlock_core::identity::grouped(&v.manifest().registry)
                );
            }
            Ok(())
        }
        Err(e) => {
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&json!({
                        "format": "airlock-import-verify-v1",
                        "bundle": bundle.display().to_string(),
                        "verified": false,
                        "checked_at": now.to_string(),
                        "error": e.to_string(),
                    }))?
                );
            }
            let message = format!("{}: {e}", bundle.display());
            Err(match e {
                MirrorError::Locked { .. } | MirrorError::Layout(_) => usage(message),
                e if e.is_refusal() => refused(message),
                _ => anyhow::anyhow!(message),
            })
        }
    }
}
