//! `airlock-import verify BUNDLE`: the bundle's signatures from the pinned
//! root of the registry it names, then every target against the pins.

use crate::exit::{refused, usage};
use crate::rules::PinnedRules;
use airlock_bundles::bundle::{
    open_volumes, verify_bundle_from, ArtifactSink, BundleError, TrustedStart, VerifyOptions,
};
use airlock_bundles::mirror::ImportRules;
use airlock_core::bundle::BundleManifest;
use airlock_core::metadata::TargetFile;
use airlock_core::Timestamp;
use anyhow::Result;
use serde_json::json;
use std::cell::RefCell;
use std::path::Path;

/// Approves each target by the rules before any artifact byte is read;
/// keeps no artifact bytes.
struct Approver<'a> {
    rules: &'a PinnedRules,
    repo: &'a RefCell<Option<String>>,
}

impl ArtifactSink for Approver<'_> {
    fn approve(&mut self, target: &str, info: &TargetFile, role: &str) -> Result<(), String> {
        let repo = self.repo.borrow().clone().ok_or("no pinned registry chosen")?;
        self.rules.approve_target(&repo, target, info, role)
    }
    fn begin(&mut self, _: &str, _: &TargetFile) -> std::io::Result<()> {
        Ok(())
    }
    fn write(&mut self, _: &[u8]) -> std::io::Result<()> {
        Ok(())
    }
    fn finish(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn not_pinned(registry: &str) -> BundleError {
    BundleError::Refused {
        target: "bundle".into(),
        reason: format!("registry {registry} is not pinned in this importer"),
    }
}

/// Verifies `bundle` at `now`, printing a report (JSON with `json`).
pub fn run(rules: &PinnedRules, bundle: &Path, now: Timestamp, json: bool) -> Result<()> {
    let input = open_volumes(bundle).map_err(|e| usage(format!("{}: {e}", bundle.display())))?;
    let chosen: RefCell<Option<String>> = RefCell::new(None);
    let mut select = |m: &BundleManifest| -> Result<TrustedStart, BundleError> {
        let repo = rules.repository(&m.registry).ok_or_else(|| not_pinned(&m.registry))?;
        let root = rules.pinned_root(&repo).ok_or_else(|| not_pinned(&m.registry))?;
        *chosen.borrow_mut() = Some(repo);
        Ok(TrustedStart { root, timestamp: None, snapshot: None })
    };
    let mut sink = Approver { rules, repo: &chosen };
    let opts = VerifyOptions::at(rules.effective_now(now));
    // Reading failures (exit 3) are told apart from refusals (exit 1).
    let result = verify_bundle_from(input, &mut select, &opts, &mut sink)
        .map_err(|e| (matches!(e, BundleError::Io(_)), e.to_string()));
    let repo = chosen.borrow().clone().unwrap_or_default();
    // Every verified target once more against the pins, naming the mapping.
    let result = result.and_then(|v| {
        let mut mapped = Vec::new();
        for (path, info, role) in v.targets() {
            let mapping = rules.pins.authorize(path, &repo).map_err(|e| (false, e.to_string()))?;
            rules.policy.check_target(path, info).map_err(|e| (false, e.to_string()))?;
            mapped.push(json!({"path": path, "length": info.length, "role": role, "mapping": mapping}));
        }
        Ok((v, mapped))
    });
    match result {
        Ok((v, mapped)) => {
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&json!({
                        "bundle": bundle.display().to_string(),
                        "verified": true,
                        "checked_at": now.to_string(),
                        "repository": repo,
                        "registry": v.manifest().registry,
                        "snapshot_version": v.manifest().snapshot_version,
                        "base_snapshot_version": v.manifest().base_snapshot_version,
                        "omitted_roles": v.manifest().omitted_roles,
                        "checks": v.checks(),
                        "targets": mapped,
                    }))?
                );
            } else {
                for c in v.checks() {
                    println!("ok  {:<24} {}", c.check, c.detail);
                }
                println!("ok  {:<24} every target's namespace is pinned to repository {repo}", "pins");
                println!(
                    "bundle verified: {} artifact(s) from repository {repo} (registry {})",
                    v.targets().len(),
                    airlock_core::identity::grouped(&v.manifest().registry)
                );
            }
            Ok(())
        }
        Err((io, e)) => {
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&json!({
                        "bundle": bundle.display().to_string(),
                        "verified": false,
                        "checked_at": now.to_string(),
                        "repository": chosen.borrow().clone(),
                        "error": e,
                    }))?
                );
            }
            let message = format!("{}: {e}", bundle.display());
            Err(if io { anyhow::anyhow!(message) } else { refused(message) })
        }
    }
}
