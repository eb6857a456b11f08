//! The mirror lock: one writer at a time. A lock left by a process that no
//! longer runs (a crash) is taken over, since the journal makes recovery safe.

use super::error::{io, MirrorError};
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Held while a command may change the mirror; released on drop.
pub struct Lock {
    path: PathBuf,
}

impl Lock {
    /// Takes the lock at `path`.
    pub fn take(path: &Path) -> Result<Self, MirrorError> {
        for _ in 0..2 {
            match OpenOptions::new().write(true).create_new(true).open(path) {
                Ok(mut f) => {
                    writeln!(f, "{}", std::process::id())
                        .and_then(|_| f.sync_all())
                        .map_err(|e| io(path, e))?;
                    return Ok(Lock { path: path.to_path_buf() });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let pid = fs::read_to_string(path).unwrap_or_default().trim().to_owned();
                    let alive = !pid.is_empty() && Path::new("/proc").join(&pid).exists();
                    if alive {
                        return Err(MirrorError::Locked { pid, path: path.display().to_string() });
                    }
                    // The holder is gone: a crashed import. Take over.
                    fs::remove_file(path).map_err(|e| io(path, e))?;
                }
                Err(e) => return Err(io(path, e)),
            }
        }
        Err(MirrorError::Locked { pid: "unknown".into(), path: path.display().to_string() })
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}
