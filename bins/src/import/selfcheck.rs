//! `airlock-import self-check BUNDLE --target TARGET --out FILE`: airlock
//! carried across by airlock (docs/RELEASE.md). A newer airlock (its .deb
//! or static binary) travels as a target of the pinned registry, under the
//! namespace the custodians reserve for it; this checks the bundle exactly
//! as `verify` does (the compiled-in pins decide which registry may sign
//! that namespace), then writes the target's verified bytes to FILE, so
//! the operator installs exactly what the pinned registry signed.

use crate::exit::{refused, usage};
use airlock_bundles::bundle::{verify_bundle, ArtifactSink, VerifyOptions};
use airlock_bundles::mirror::{check_bundle, Importer};
use airlock_core::metadata::TargetFile;
use airlock_core::text::for_terminal as safe;
use airlock_core::Timestamp;
use anyhow::Result;
use serde_json::json;
use std::io::{self, Write};
use std::path::Path;

/// Writes one target's bytes, as the reader verifies them, into a file.
struct Extract {
    target: String,
    file: tempfile::NamedTempFile,
    active: bool,
    done: bool,
}

impl ArtifactSink for Extract {
    fn begin(&mut self, target: &str, _: &TargetFile) -> io::Result<()> {
        self.active = target == self.target;
        Ok(())
    }
    fn write(&mut self, chunk: &[u8]) -> io::Result<()> {
        if self.active {
            self.file.write_all(chunk)?;
        }
        Ok(())
    }
    fn finish(&mut self) -> io::Result<()> {
        if self.active {
            self.file.as_file().sync_all()?;
            self.done = true;
            self.active = false;
        }
        Ok(())
    }
}

/// Checks `bundle` with the compiled-in pins and writes `target`'s verified
/// bytes to `out` (which must not exist).
pub fn run(
    importer: &Importer,
    bundle: &Path,
    target: &str,
    out: &Path,
    now: Timestamp,
    json: bool,
) -> Result<()> {
    if out.symlink_metadata().is_ok() {
        return Err(usage(format!("{}: already exists; refusing to overwrite", out.display())));
    }
    // 1. The import decision of a fresh mirror: signatures from the pinned
    //    root, and the pins' say on which registry may sign this namespace.
    let cosigned = crate::rules::companion(bundle)?;
    let mut input = crate::progress::open_bundle(bundle, "verifying")
        .map_err(|e| usage(format!("{}: {e}", bundle.display())))?;
    let checked = check_bundle(None, &mut input, importer, &cosigned, now)
        .map_err(|e| refused(format!("{}: {e}", bundle.display())))?;
    let Some((_, info, role)) = checked.bundle.targets().into_iter().find(|(t, _, _)| *t == target) else {
        return Err(refused(format!(
            "{}: the bundle carries no target {} signed by the pinned registry",
            bundle.display(),
            safe(target)
        )));
    };
    let sha256 = info.hashes.get("sha256").unwrap_or_default().into_owned();
    let (length, role) = (info.length, role.to_owned());
    let repo = checked.repo.clone();
    drop(checked);
    // 2. Read it again, keeping that target's bytes as they verify.
    let root = importer.pins.root(&repo).ok_or_else(|| refused(format!("{repo}: not pinned")))?;
    let dir = match out.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let file = tempfile::Builder::new()
        .prefix(".airlock-self-check-")
        .tempfile_in(dir)
        .map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
    let mut sink = Extract { target: target.to_owned(), file, active: false, done: false };
    let input = crate::progress::open_bundle(bundle, "extracting")
        .map_err(|e| usage(format!("{}: {e}", bundle.display())))?;
    verify_bundle(input, root, &VerifyOptions::at(importer.policy.effective_now(now)), &mut sink)
        .map_err(|e| refused(format!("{}: {e}", bundle.display())))?;
    if !sink.done {
        return Err(refused(format!(
            "{}: {} was not in the bundle the second time",
            bundle.display(),
            safe(target)
        )));
    }
    sink.file.persist_noclobber(out).map_err(|e| anyhow::anyhow!("{}: {}", out.display(), e.error))?;
    if json {
        let j = json!({
            "format": "airlock-import-self-check-v1",
            "bundle": bundle.display().to_string(),
            "target": target,
            "sha256": sha256,
            "length": length,
            "role": role,
            "repository": repo,
            "out": out.display().to_string(),
        });
        println!("{}", serde_json::to_string_pretty(&j)?);
    } else {
        println!(
            "verified {}: {} bytes, SHA-256 {}, signed by role {} of pinned repository {}; wrote {}",
            safe(target),
            length,
            sha256,
            safe(&role),
            safe(&repo),
            out.display()
        );
    }
    Ok(())
}
