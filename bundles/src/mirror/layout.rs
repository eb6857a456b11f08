//! Where everything lives in a mirror directory, and the small file
//! operations every step needs (atomic replace, fsync of directories).

use super::error::{io, MirrorError};
use super::lock::Lock;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

/// A mirror directory:
///
/// ```text
/// DIR/served/<repo>/metadata/   consistent-snapshot TUF metadata (served)
/// DIR/served/<repo>/targets/    targets under <dir>/<sha256>.<name> (served)
/// DIR/state/pins/               map.json and <repo>/root.json, copied at init
/// DIR/state/policy.toml         import policy (optional)
/// DIR/state/repos/<repo>/       trusted root.json, timestamp.json, snapshot.json, delegations.json
/// DIR/state/audit.jsonl         hash-chained log of every import attempt
/// DIR/state/journal.json        present only while an import publishes
/// DIR/state/lock                the writer lock (a kernel lock on this file)
/// DIR/staging/<id>/             an import's verified files before publishing
/// ```
#[derive(Debug, Clone)]
pub struct Mirror {
    dir: PathBuf,
}

/// The importer's trusted state for one repository.
#[derive(Debug, Clone, Default)]
pub struct RepoState {
    /// The newest trusted root.
    pub root: Option<Vec<u8>>,
    /// The trusted timestamp.
    pub timestamp: Option<Vec<u8>>,
    /// The trusted snapshot.
    pub snapshot: Option<Vec<u8>>,
    /// Delegated roles' key ids and thresholds as first trusted.
    pub delegations: Option<Vec<u8>>,
    /// The last log checkpoint imported (a signed note, with cosignatures).
    pub checkpoint: Option<Vec<u8>>,
}

/// The state files, in the order an import replaces them.
pub(crate) const STATE_FILES: [&str; 5] =
    ["checkpoint", "root.json", "timestamp.json", "snapshot.json", "delegations.json"];

impl Mirror {
    /// Creates a mirror at `dir` (absent or empty) with pins copied from
    /// `pins_dir` (`map.json` and `<repo>/root.json` for each repository it
    /// names) and an optional policy file.
    pub fn init(dir: &Path, pins: &[(String, Vec<u8>)], policy: Option<&[u8]>) -> Result<Self, MirrorError> {
        if dir.exists() && fs::read_dir(dir).map(|mut d| d.next().is_some()).unwrap_or(true) {
            return Err(MirrorError::Layout(format!("{}: already exists and is not empty", dir.display())));
        }
        let m = Mirror { dir: dir.to_path_buf() };
        for d in [m.dir.join("served"), m.pins_dir(), m.dir.join("state/repos"), m.dir.join("staging")] {
            fs::create_dir_all(&d).map_err(|e| io(&d, e))?;
        }
        for (rel, bytes) in pins {
            let p = m.pins_dir().join(rel);
            if let Some(parent) = p.parent() {
                fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
            }
            write_atomic(&p, bytes)?;
        }
        if let Some(p) = policy {
            write_atomic(&m.policy_path(), p)?;
        }
        write_atomic(&m.dir.join("state/format"), b"airlock-mirror-v1\n")?;
        Ok(m)
    }

    /// Opens an existing mirror.
    pub fn open(dir: &Path) -> Result<Self, MirrorError> {
        let m = Mirror { dir: dir.to_path_buf() };
        match fs::read_to_string(m.dir.join("state/format")) {
            Ok(s) if s.trim() == "airlock-mirror-v1" => Ok(m),
            _ => Err(MirrorError::Layout(format!(
                "{}: not an airlock mirror (run airlock mirror init)",
                dir.display()
            ))),
        }
    }

    /// The mirror directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
    /// The copied pins.
    pub fn pins_dir(&self) -> PathBuf {
        self.dir.join("state/pins")
    }
    /// The policy file (may not exist).
    pub fn policy_path(&self) -> PathBuf {
        self.dir.join("state/policy.toml")
    }
    /// The audit log.
    pub fn audit_path(&self) -> PathBuf {
        self.dir.join("state/audit.jsonl")
    }
    /// The served tree of `repo`.
    pub fn served(&self, repo: &str) -> PathBuf {
        self.dir.join("served").join(repo)
    }
    /// The trusted state directory of `repo`.
    pub fn state_dir(&self, repo: &str) -> PathBuf {
        self.dir.join("state/repos").join(repo)
    }
    pub(crate) fn journal_path(&self) -> PathBuf {
        self.dir.join("state/journal.json")
    }
    pub(crate) fn staging(&self) -> PathBuf {
        self.dir.join("staging")
    }
    pub(crate) fn lock(&self, wait: std::time::Duration) -> Result<Lock, MirrorError> {
        Lock::take(&self.dir.join("state/lock"), wait)
    }

    /// Repositories the mirror has state for or serves.
    pub fn repos(&self) -> Result<Vec<String>, MirrorError> {
        let mut out = Vec::new();
        for d in [self.dir.join("state/repos"), self.dir.join("served")] {
            for e in fs::read_dir(&d).map_err(|e| io(&d, e))? {
                let e = e.map_err(|e| io(&d, e))?;
                if let Ok(name) = e.file_name().into_string() {
                    out.push(name);
                }
            }
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// The trusted state of `repo` (empty before its first import).
    pub fn state(&self, repo: &str) -> Result<RepoState, MirrorError> {
        let d = self.state_dir(repo);
        let read = |name: &str| -> Result<Option<Vec<u8>>, MirrorError> {
            match fs::read(d.join(name)) {
                Ok(b) => Ok(Some(b)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(io(&d.join(name), e)),
            }
        };
        Ok(RepoState {
            root: read("root.json")?,
            timestamp: read("timestamp.json")?,
            snapshot: read("snapshot.json")?,
            delegations: read("delegations.json")?,
            checkpoint: read("checkpoint")?,
        })
    }
}

/// Writes `bytes` to `path` by a fsynced temporary file and a rename, then
/// fsyncs the directory.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), MirrorError> {
    write_atomic_with(path, |w| w.write_all(bytes))
}

/// [`write_atomic`] of what `fill` writes, through a buffer: a large file
/// (an import's journal) is never held whole in memory.
pub(crate) fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), MirrorError> {
    let dir = path.parent().ok_or_else(|| MirrorError::Io(format!("{}: no parent", path.display())))?;
    let tmp = dir.join(format!(".tmp-{}", std::process::id()));
    let written = File::create(&tmp)
        .and_then(|f| {
            let mut w = std::io::BufWriter::new(f);
            fill(&mut w)?;
            w.into_inner().map_err(std::io::IntoInnerError::into_error)?.sync_all()
        })
        .map_err(|e| io(&tmp, e))
        .and_then(|()| fs::rename(&tmp, path).map_err(|e| io(path, e)));
    if written.is_err() {
        // A full disk must not leave a stray file behind.
        let _ = fs::remove_file(&tmp);
    }
    written?;
    sync_dir(dir)
}

/// Flushes the whole file system `path` is on (`syncfs(2)`): every file
/// written and every rename made on it, durable at once.
pub(crate) fn sync_filesystem(path: &Path) -> Result<(), MirrorError> {
    let f = File::open(path).map_err(|e| io(path, e))?;
    rustix::fs::syncfs(&f).map_err(|e| io(path, e.into()))
}

/// fsyncs a directory so renames in it are durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), MirrorError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(|e| io(dir, e))
}

/// A crash point of an import ([`crate::fault`]): `staged`, `journal`,
/// `move-<n>`, `state`, `audit`.
pub(crate) fn crash_point(name: &str) {
    crate::fault::point(name);
}
