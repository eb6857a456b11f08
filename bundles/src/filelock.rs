//! Writer locks the kernel holds: an advisory lock (`flock`) on an open
//! file. The lock ends when its holder's file is closed, however the holder
//! ends (a crash, `SIGKILL`), so no lock is ever stale and no pid file is
//! ever read. The lock file itself stays in place: removing it would let a
//! second process lock a new file of the same name while the first still
//! holds the old one.

use std::fs::{File, OpenOptions, TryLockError};
use std::io;
use std::path::Path;
use std::time::{Duration, Instant};

/// How often a waiting writer tries again.
const POLL: Duration = Duration::from_millis(20);

/// An exclusive lock on a file; released when dropped.
#[derive(Debug)]
pub struct FileLock {
    _file: File,
}

/// Why a lock was not taken.
#[derive(Debug)]
pub enum LockError {
    /// Another process held it for longer than we were willing to wait.
    Held,
    /// The lock file could not be opened or locked.
    Io(io::Error),
}

impl FileLock {
    /// Takes the exclusive lock on `path` (created if absent), waiting up
    /// to `wait` for another holder to let go.
    pub fn take(path: &Path, wait: Duration) -> Result<FileLock, LockError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(LockError::Io)?;
        let deadline = Instant::now() + wait;
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(FileLock { _file: file }),
                Err(TryLockError::WouldBlock) if Instant::now() < deadline => std::thread::sleep(POLL),
                Err(TryLockError::WouldBlock) => return Err(LockError::Held),
                Err(TryLockError::Error(e)) => return Err(LockError::Io(e)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_taker_is_refused_until_the_first_lets_go() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("lock");
        let first = FileLock::take(&p, Duration::ZERO).unwrap();
        assert!(matches!(FileLock::take(&p, Duration::ZERO), Err(LockError::Held)));
        drop(first);
        let _again = FileLock::take(&p, Duration::ZERO).unwrap();
        assert!(p.exists(), "the lock file stays in place");
    }
}
