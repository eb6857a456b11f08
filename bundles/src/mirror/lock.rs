//! The mirror lock: one writer at a time, held by the kernel
//! ([`crate::filelock`]), so a crashed import never leaves a lock behind;
//! the journal makes the next command's recovery safe.

use super::error::{io, MirrorError};
use crate::filelock::{FileLock, LockError};
use std::path::Path;
use std::time::Duration;

/// Held while a command may change the mirror; released on drop.
#[derive(Debug)]
pub struct Lock(#[allow(dead_code)] FileLock);

impl Lock {
    /// Takes the lock at `path`, waiting up to `wait` for another writer.
    pub fn take(path: &Path, wait: Duration) -> Result<Self, MirrorError> {
        match FileLock::take(path, wait) {
            Ok(l) => Ok(Lock(l)),
            Err(LockError::Held) => {
                Err(MirrorError::Locked { path: path.display().to_string(), waited: wait.as_secs() })
            }
            Err(LockError::Io(e)) => Err(io(path, e)),
        }
    }
}
