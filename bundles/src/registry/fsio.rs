//! File system primitives of the registry writer: atomic replacement,
//! capped reads, the writer lock, and copying an artifact while checking it.

use super::error::RegistryError;
use crate::filelock::{FileLock, LockError};
use airlock_core::metadata::TargetFile;
use airlock_core::target::{TargetError, TargetVerifier};
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// Largest metadata file the registry reads (a role with many targets).
pub const METADATA_MAX: u64 = 64 << 20;

/// Writes `bytes` to `path` atomically: a temporary file in the same
/// directory, fsynced, renamed over the target, then the directory fsynced.
/// A crash leaves the old file or the new one. Mode 0644.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), RegistryError> {
    use std::os::unix::fs::PermissionsExt;
    let io = |e| RegistryError::io(path, e);
    let dir = parent(path);
    let mut tmp = tempfile::Builder::new().prefix(".tmp-").tempfile_in(dir).map_err(io)?;
    tmp.as_file().set_permissions(fs::Permissions::from_mode(0o644)).map_err(io)?;
    tmp.write_all(bytes).and_then(|_| tmp.as_file().sync_all()).map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    sync_dir(dir)
}

/// Flushes the whole file system `path` is on (`syncfs(2)`): every file
/// written and every rename made there, durable at once. One call replaces
/// an fsync per artifact, which on a release of 100,000 artifacts is most
/// of the time spent.
pub fn sync_filesystem(path: &Path) -> Result<(), RegistryError> {
    let f = File::open(path).map_err(|e| RegistryError::io(path, e))?;
    rustix::fs::syncfs(&f).map_err(|e| RegistryError::io(path, e.into()))
}

/// Fsyncs a directory so a rename in it is durable.
pub fn sync_dir(dir: &Path) -> Result<(), RegistryError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(|e| RegistryError::io(dir, e))
}

fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// Reads `path` if it holds at most `max` bytes, reading no more than
/// `max + 1` bytes whatever its size.
pub fn read_capped(path: &Path, max: u64) -> std::io::Result<CappedRead> {
    let f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(CappedRead::Missing),
        Err(e) => return Err(e),
    };
    if !f.metadata()?.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    let mut buf = Vec::new();
    f.take(max.saturating_add(1)).read_to_end(&mut buf)?;
    if buf.len() as u64 > max {
        return Ok(CappedRead::TooLarge);
    }
    Ok(CappedRead::Bytes(buf))
}

/// What [`read_capped`] found.
#[derive(Debug)]
pub enum CappedRead {
    /// The file's bytes.
    Bytes(Vec<u8>),
    /// No such file.
    Missing,
    /// Longer than the cap.
    TooLarge,
}

/// Reads one of the registry's own files, which must exist.
pub fn read_own(path: &Path) -> Result<Vec<u8>, RegistryError> {
    match read_capped(path, METADATA_MAX) {
        Ok(CappedRead::Bytes(b)) => Ok(b),
        Ok(CappedRead::Missing) => {
            Err(RegistryError::Corrupt { path: path.into(), detail: "missing".into() })
        }
        Ok(CappedRead::TooLarge) => Err(RegistryError::Corrupt {
            path: path.into(),
            detail: format!("larger than {METADATA_MAX} bytes"),
        }),
        Err(e) => Err(RegistryError::io(path, e)),
    }
}

/// The registry's writer lock, held by the kernel ([`crate::filelock`]):
/// a crashed writer (even one killed) leaves no lock behind.
#[derive(Debug)]
pub struct Lock(#[allow(dead_code)] FileLock);

impl Lock {
    /// Takes the lock or refuses at once with [`RegistryError::Locked`].
    pub fn acquire(path: PathBuf) -> Result<Lock, RegistryError> {
        match FileLock::take(&path, std::time::Duration::ZERO) {
            Ok(l) => Ok(Lock(l)),
            Err(LockError::Held) => Err(RegistryError::Locked { path }),
            Err(LockError::Io(e)) => Err(RegistryError::io(&path, e)),
        }
    }
}

/// Why an artifact could not be copied.
#[derive(Debug)]
pub enum CopyError {
    /// The bytes are not what the role signs.
    Mismatch(TargetError),
    /// Reading or writing failed.
    Io(RegistryError),
}

/// Copies `src` to a new file `dst` while checking it against `file`
/// (length and hashes), reading it once. `dst` is not fsynced: the caller
/// makes a batch durable with [`sync_filesystem`]. On any failure it is
/// removed.
pub fn copy_verified(src: &Path, dst: &Path, file: &TargetFile) -> Result<(), CopyError> {
    let result = copy_inner(src, dst, file);
    if result.is_err() {
        let _ = fs::remove_file(dst);
    }
    result
}

fn copy_inner(src: &Path, dst: &Path, file: &TargetFile) -> Result<(), CopyError> {
    let mut verifier = TargetVerifier::new(file).map_err(CopyError::Mismatch)?;
    let mut input = File::open(src).map_err(|e| CopyError::Io(RegistryError::io(src, e)))?;
    let out_err = |e| CopyError::Io(RegistryError::io(dst, e));
    let mut out = OpenOptions::new().write(true).create_new(true).open(dst).map_err(out_err)?;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = input.read(&mut buf).map_err(|e| CopyError::Io(RegistryError::io(src, e)))?;
        if n == 0 {
            break;
        }
        verifier.update(&buf[..n]).map_err(CopyError::Mismatch)?;
        out.write_all(&buf[..n]).map_err(out_err)?;
    }
    verifier.finish().map_err(CopyError::Mismatch)
}

/// Streams `path` through a verifier for `file`.
pub fn check_file(path: &Path, file: &TargetFile) -> Result<(), CopyError> {
    let mut verifier = TargetVerifier::new(file).map_err(CopyError::Mismatch)?;
    let mut input = File::open(path).map_err(|e| CopyError::Io(RegistryError::io(path, e)))?;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = input.read(&mut buf).map_err(|e| CopyError::Io(RegistryError::io(path, e)))?;
        if n == 0 {
            break;
        }
        verifier.update(&buf[..n]).map_err(CopyError::Mismatch)?;
    }
    verifier.finish().map_err(CopyError::Mismatch)
}
