//! File reading and writing with the error messages and codes airlock promises.

use crate::exit::usage;
use anyhow::{Context, Result};
use std::io::Write;
use std::path::Path;

/// Reads an input file the operator named; a missing file is a usage error.
pub fn read_input(path: &Path) -> Result<Vec<u8>> {
    match std::fs::read(path) {
        Ok(b) => Ok(b),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(usage(format!("{}: no such file", path.display())))
        }
        Err(e) => Err(e).with_context(|| format!("{}: cannot read", path.display())),
    }
}

/// Refuses to go on if `path` exists, before any work is done.
pub fn ensure_absent(path: &Path) -> Result<()> {
    if path.symlink_metadata().is_ok() {
        return Err(usage(format!("{}: already exists; refusing to overwrite", path.display())));
    }
    Ok(())
}

/// Writes `bytes` to `path` atomically: a temporary file in the same
/// directory, fsynced, then renamed over the target, then the directory fsynced.
/// A crash leaves either the old file or the new one. The file keeps its
/// mode, or gets 0644 if new: metadata is public.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).map(|m| m.permissions().mode() & 0o7777).unwrap_or(0o644);
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("{}: cannot create a temporary file", dir.display()))?;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(mode))
        .and_then(|_| tmp.write_all(bytes))
        .and_then(|_| tmp.as_file().sync_all())
        .with_context(|| format!("{}: write failed", path.display()))?;
    tmp.persist(path).map_err(|e| e.error).with_context(|| format!("{}: cannot replace", path.display()))?;
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("{}: fsync failed", dir.display()))?;
    Ok(())
}

/// Writes a new file that must not exist yet.
pub fn write_new(path: &Path, bytes: &[u8]) -> Result<()> {
    ensure_absent(path)?;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .with_context(|| format!("{}: cannot create", path.display()))?;
    f.write_all(bytes).and_then(|_| f.sync_all()).with_context(|| format!("{}: write failed", path.display()))
}
