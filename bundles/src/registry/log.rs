//! The registry's transparency log, `REG/log/` (docs/FORMAT.md 10.2): one
//! leaf per published root, top-level targets and publisher role version,
//! appended after each change is published, and a checkpoint signed by the
//! active index key (the log key root lists).

use super::fsio::{read_own, write_atomic};
use super::{RegistryError, METADATA_DIR};
use airlock_core::hash::sha256_hex;
use airlock_core::log::{entry_leaf, origin, sign_note, Checkpoint, LogProof, SignedNote, Tree};
use airlock_core::Signer;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The log directory inside the registry.
pub const LOG_DIR: &str = "log";
/// One line per leaf: `ROLE VERSION SHA256`.
pub const LEAVES_FILE: &str = "leaves";
/// The newest signed checkpoint.
pub const CHECKPOINT_FILE: &str = "checkpoint";
/// One JSON line per snapshot version: the tree size it was published with.
pub const HISTORY_FILE: &str = "history.jsonl";

/// One leaf: a role version and the SHA-256 of its exact bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// `root`, `targets` or a publisher's role name.
    pub role: String,
    /// The role version.
    pub version: u64,
    /// Lowercase hex SHA-256 of the role file's bytes.
    pub sha256: String,
}

/// One line of `history.jsonl`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryRecord {
    /// A snapshot version the registry published.
    pub snapshot_version: u64,
    /// The log's size when it did.
    pub size: u64,
}

/// The registry's log, read from `REG/log/`.
#[derive(Debug, Clone)]
pub struct RegistryLog {
    dir: PathBuf,
    entries: Vec<LogEntry>,
    index: BTreeMap<(String, u64), u64>,
    tree: Tree,
    history: Vec<HistoryRecord>,
}

fn corrupt(path: &Path, detail: impl Into<String>) -> RegistryError {
    RegistryError::Corrupt { path: path.into(), detail: detail.into() }
}

impl RegistryLog {
    /// Reads the log of the registry at `reg` (empty if it has none yet).
    /// A last line cut short by a crash is ignored; it is rewritten by the
    /// next append.
    pub fn open(reg: &Path) -> Result<Self, RegistryError> {
        let dir = reg.join(LOG_DIR);
        let mut log = RegistryLog {
            dir: dir.clone(),
            entries: Vec::new(),
            index: BTreeMap::new(),
            tree: Tree::new(),
            history: Vec::new(),
        };
        let leaves = dir.join(LEAVES_FILE);
        if leaves.is_file() {
            let text = String::from_utf8(fs_read(&leaves)?).map_err(|_| corrupt(&leaves, "not UTF-8"))?;
            let complete = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
            for (n, line) in complete.lines().enumerate() {
                let e = parse_leaf_line(line)
                    .ok_or_else(|| corrupt(&leaves, format!("line {}: {line:?}", n + 1)))?;
                log.push(e).map_err(|d| corrupt(&leaves, format!("line {}: {d}", n + 1)))?;
            }
        }
        let history = dir.join(HISTORY_FILE);
        if history.is_file() {
            let text = String::from_utf8(fs_read(&history)?).map_err(|_| corrupt(&history, "not UTF-8"))?;
            let complete = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
            for line in complete.lines() {
                log.history.push(serde_json::from_str(line).map_err(|e| corrupt(&history, e.to_string()))?);
            }
        }
        Ok(log)
    }

    fn push(&mut self, e: LogEntry) -> Result<(), String> {
        let key = (e.role.clone(), e.version);
        if self.index.contains_key(&key) {
            return Err(format!("{} version {} is logged twice", e.role, e.version));
        }
        self.tree.push(&entry_leaf(&e.role, e.version, &e.sha256));
        self.index.insert(key, self.entries.len() as u64);
        self.entries.push(e);
        Ok(())
    }

    /// The leaves, in log order.
    pub fn entries(&self) -> &[LogEntry] {
        &self.entries
    }

    /// The tree over the leaves.
    pub fn tree(&self) -> &Tree {
        &self.tree
    }

    /// The leaf index of a role version, if logged.
    pub fn index_of(&self, role: &str, version: u64) -> Option<u64> {
        self.index.get(&(role.to_owned(), version)).copied()
    }

    /// The newest checkpoint's bytes, if one was signed.
    pub fn checkpoint_bytes(&self) -> Result<Option<Vec<u8>>, RegistryError> {
        let p = self.dir.join(CHECKPOINT_FILE);
        if !p.is_file() {
            return Ok(None);
        }
        read_own(&p).map(Some)
    }

    /// The log's size when snapshot version `v` was published.
    pub fn size_at_snapshot(&self, v: u64) -> Option<u64> {
        self.history.iter().rev().find(|h| h.snapshot_version == v).map(|h| h.size)
    }

    /// The `n` most recent distinct tree sizes the registry published
    /// checkpoints at, below the current size.
    pub fn recent_sizes(&self, n: usize) -> Vec<u64> {
        let mut out: Vec<u64> = Vec::new();
        for h in self.history.iter().rev() {
            if out.len() == n {
                break;
            }
            if h.size < self.tree.size() && !out.contains(&h.size) {
                out.push(h.size);
            }
        }
        out
    }

    /// Proves the role versions `carried` ((role, version, sha256)) in the
    /// current tree, consistent with each of `since`.
    pub fn prove(&self, carried: &[(String, u64, String)], since: &[u64]) -> Result<LogProof, RegistryError> {
        let mut entries = Vec::new();
        for (role, version, sha) in carried {
            let i = self.index_of(role, *version).ok_or_else(|| {
                corrupt(
                    &self.dir,
                    format!("{role} version {version} is not in the log (run `registry refresh`)"),
                )
            })?;
            if self.entries[i as usize].sha256 != *sha {
                return Err(corrupt(
                    &self.dir,
                    format!(
                        "the log records other bytes for {role} version {version} than the repository holds"
                    ),
                ));
            }
            entries.push((i, role.clone(), *version, sha.clone()));
        }
        LogProof::build(&self.tree, &entries, since).map_err(|e| RegistryError::Internal(e.to_string()))
    }

    /// Appends every published role version the log lacks (`published`, in
    /// publication order), then signs a checkpoint if the tree grew or none
    /// covers it, and records the tree size for `snapshot_version`.
    pub(crate) fn sync(
        &mut self,
        identity: &str,
        published: Vec<LogEntry>,
        snapshot_version: u64,
        signer: &dyn Signer,
    ) -> Result<(), RegistryError> {
        fs::create_dir_all(&self.dir).map_err(|e| RegistryError::io(&self.dir, e))?;
        let mut lines = String::new();
        for e in published {
            match self.index_of(&e.role, e.version) {
                Some(i) if self.entries[i as usize].sha256 == e.sha256 => {}
                Some(_) => {
                    return Err(corrupt(
                        &self.dir,
                        format!(
                            "{} version {} on disk differs from what the log recorded",
                            e.role, e.version
                        ),
                    ))
                }
                None => {
                    lines.push_str(&format!("{} {} {}\n", e.role, e.version, e.sha256));
                    self.push(e).map_err(|d| corrupt(&self.dir, d))?;
                }
            }
        }
        let leaves = self.dir.join(LEAVES_FILE);
        if !lines.is_empty() {
            append_after_last_line(&leaves, lines.as_bytes())?;
        }
        let cp_path = self.dir.join(CHECKPOINT_FILE);
        let current = self
            .checkpoint_bytes()?
            .and_then(|b| SignedNote::parse(&b).ok())
            .and_then(|n| Checkpoint::parse(&n.text).ok());
        let root = self.tree.root();
        if current.is_none_or(|c| c.size != self.tree.size() || c.root != root) {
            let cp =
                Checkpoint { origin: origin(identity), size: self.tree.size(), root, extensions: Vec::new() };
            let note = sign_note(&cp.to_text(), &cp.origin, signer).map_err(|e| match e {
                airlock_core::log::NoteError::Signer(d) => RegistryError::LogKey(d),
                other => RegistryError::Internal(other.to_string()),
            })?;
            write_atomic(&cp_path, &note.to_bytes())?;
        }
        if self.size_at_snapshot(snapshot_version) != Some(self.tree.size()) {
            let rec = HistoryRecord { snapshot_version, size: self.tree.size() };
            let mut line = serde_json::to_vec(&rec).map_err(|e| RegistryError::Internal(e.to_string()))?;
            line.push(b'\n');
            append_after_last_line(&self.dir.join(HISTORY_FILE), &line)?;
            self.history.push(rec);
        }
        Ok(())
    }
}

fn parse_leaf_line(line: &str) -> Option<LogEntry> {
    let mut parts = line.split(' ');
    let (role, version, sha256) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some()
        || role.is_empty()
        || !role.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        || sha256.len() != 64
        || !sha256.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        || version.starts_with('0')
    {
        return None;
    }
    Some(LogEntry { role: role.to_owned(), version: version.parse().ok()?, sha256: sha256.to_owned() })
}

fn fs_read(path: &Path) -> Result<Vec<u8>, RegistryError> {
    fs::read(path).map_err(|e| RegistryError::io(path, e))
}

/// Appends `bytes` to `path`, first cutting off a last line a crash left
/// without its newline; syncs before returning.
fn append_after_last_line(path: &Path, bytes: &[u8]) -> Result<(), RegistryError> {
    let mut f = fs::OpenOptions::new()
        .create(true)
        .read(true)
        .append(true)
        .open(path)
        .map_err(|e| RegistryError::io(path, e))?;
    let old = fs::read(path).map_err(|e| RegistryError::io(path, e))?;
    let keep = old.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    if keep != old.len() {
        f.set_len(keep as u64).map_err(|e| RegistryError::io(path, e))?;
    }
    f.write_all(bytes).and_then(|_| f.sync_all()).map_err(|e| RegistryError::io(path, e))
}

/// Every role version the registry at `reg` has published, in the order
/// the log appends them: roots by version, then each targets role's
/// versions, top-level `targets` first, then publishers by name. A role's
/// versions are those with files in `metadata/` up to the version
/// `current` names (earlier versions whose files are gone are skipped).
pub(crate) fn published_entries(
    reg: &Path,
    roots: u64,
    current: &BTreeMap<String, u64>,
    log: &RegistryLog,
) -> Result<Vec<LogEntry>, RegistryError> {
    let md = reg.join(METADATA_DIR);
    let mut out = Vec::new();
    let mut add = |role: &str, version: u64, file: PathBuf| -> Result<(), RegistryError> {
        if log.index_of(role, version).is_some() && role != "root" {
            return Ok(());
        }
        match fs::read(&file) {
            Ok(bytes) => out.push(LogEntry { role: role.to_owned(), version, sha256: sha256_hex(&bytes) }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(RegistryError::io(&file, e)),
        }
        Ok(())
    };
    for v in 1..=roots {
        add("root", v, md.join(format!("{v}.root.json")))?;
    }
    let mut roles: Vec<(&String, &u64)> = current.iter().collect();
    roles.sort_by_key(|(r, _)| (r.as_str() != "targets", r.as_str()));
    for (role, newest) in roles {
        let from =
            log.entries().iter().filter(|e| e.role == **role).map(|e| e.version).max().unwrap_or(0) + 1;
        for v in from..=*newest {
            add(role, v, md.join(format!("{v}.{role}.json")))?;
        }
    }
    Ok(out)
}

#[cfg(test)]
#[path = "log_tests.rs"]
mod tests;
