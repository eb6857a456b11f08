//! The ceremony transcript: a hash-chained JSON Lines log of every step.
//!
//! Each line is one [`Record`] in canonical JSON. A record's `prev` is the
//! lowercase hex SHA-256 of the previous line's bytes (without its newline),
//! or 64 zeros for the first, and `seq` counts from 1. So editing, removing
//! or reordering any record breaks the chain at the record after it, and a
//! transcript printed or photographed at the end of a ceremony pins every
//! earlier step.
//!
//! Records list the files a step wrote, with their SHA-256, as paths
//! relative to a base directory (normally the transcript's own). A later
//! step may legitimately change a file an earlier step wrote — a draft root
//! gains signatures — and then lists it again. So [`verify`] checks each
//! path only against the **last** record that lists it; earlier listings
//! are covered by the chain alone.
//!
//! What the chain cannot show is records cut off the end: a truncated
//! transcript is a valid shorter one. [`TranscriptReport::head`] is the
//! hash of the last line, for the ceremony record to carry on paper.
//!
//! Appends are not locked against a concurrent writer: one ceremony step
//! runs at a time, on one machine.

use airlock_core::canonical::{parse_strict, to_log_line};
use airlock_core::hash::sha256_hex;
use airlock_core::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};

/// The `prev` of the first record.
pub const GENESIS_PREV: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// A file a step wrote or read, as the transcript lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    /// Relative to the base directory, `/`-separated, without `.` or `..`.
    pub path: String,
    /// Lowercase hex SHA-256 of the file's content.
    pub sha256: String,
}

/// One line of the transcript.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    /// Position in the transcript, from 1.
    pub seq: u64,
    /// When the step ran.
    pub time: Timestamp,
    /// Which step, e.g. `ceremony init`.
    pub step: String,
    /// The step ran in rehearsal, with throwaway keys.
    pub rehearsal: bool,
    /// The custodian overrode the air-gap check.
    pub allow_online: bool,
    /// The keys the step involved.
    pub key_ids: Vec<String>,
    /// The files the step wrote, with their hashes at the time.
    pub files: Vec<FileEntry>,
    /// Step-specific facts.
    pub details: Map<String, Value>,
    /// SHA-256 of the previous line, or [`GENESIS_PREV`].
    pub prev: String,
    /// The airlock build that wrote the record ([`crate::BUILD`]); absent
    /// in records written before builds named themselves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub airlock: Option<String>,
}

/// A record as the caller supplies it; [`append`] fills in `seq` and `prev`.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRecord {
    /// When the step ran.
    pub time: Timestamp,
    /// Which step, e.g. `ceremony init`.
    pub step: String,
    /// The step ran in rehearsal, with throwaway keys.
    pub rehearsal: bool,
    /// The custodian overrode the air-gap check.
    pub allow_online: bool,
    /// The keys the step involved.
    pub key_ids: Vec<String>,
    /// The files the step wrote, from [`file_entry`].
    pub files: Vec<FileEntry>,
    /// Step-specific facts: a JSON object without floats (canonical JSON
    /// cannot encode them exactly).
    pub details: Value,
}

/// What a verified transcript holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TranscriptReport {
    /// How many records.
    pub records: usize,
    /// SHA-256 of the last line ([`GENESIS_PREV`] if there is none): what a
    /// paper record should carry, since the chain cannot show truncation.
    pub head: String,
    /// Each listed path with the hash it was checked against (its last listing).
    pub files: Vec<FileEntry>,
    /// Some record was a rehearsal.
    pub rehearsal: bool,
    /// Some step overrode the air-gap check.
    pub allow_online: bool,
}

/// Why a transcript, or a record for it, was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TranscriptError {
    /// Reading or writing a file failed.
    #[error("{}: {reason}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        reason: String,
    },
    /// A line is not a well-formed canonical record.
    #[error("line {line}: {reason}")]
    Malformed {
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// A record's `seq` is not its position: a record was removed, inserted or moved.
    #[error(
        "line {line}: record number {found} where {expected} was expected (a record was removed or moved)"
    )]
    SeqGap {
        /// 1-based line number.
        line: usize,
        /// The number the line should carry.
        expected: u64,
        /// The number it carries.
        found: u64,
    },
    /// A record's `prev` does not match the previous line: something before it was edited.
    #[error("record {seq}: hash chain broken (the previous record was altered): prev is {found}, previous line hashes to {expected}")]
    ChainBroken {
        /// The record whose `prev` does not match.
        seq: u64,
        /// The hash of the previous line.
        expected: String,
        /// The `prev` it carries.
        found: String,
    },
    /// A listed path is absolute, empty or climbs out of the base directory.
    #[error("record {seq}: file path {path:?} is not a plain relative path")]
    UnsafePath {
        /// The record listing it.
        seq: u64,
        /// The path as listed.
        path: String,
    },
    /// A listed file no longer has the hash its last listing recorded.
    #[error("record {seq}: {path} changed since it was recorded (sha256 {expected}, now {found})")]
    FileChanged {
        /// The last record listing it.
        seq: u64,
        /// The path as listed.
        path: String,
        /// The recorded hash.
        expected: String,
        /// The hash of the file now.
        found: String,
    },
    /// A listed file is gone.
    #[error("record {seq}: {path} is missing")]
    FileMissing {
        /// The last record listing it.
        seq: u64,
        /// The path as listed.
        path: String,
    },
    /// A file to list is not inside the base directory.
    #[error("{} is not inside {}", path.display(), base.display())]
    OutsideBase {
        /// The file.
        path: PathBuf,
        /// The base directory.
        base: PathBuf,
    },
    /// A file to list has a name that is not UTF-8, which JSON cannot carry.
    #[error("{} is not a UTF-8 path", path.display())]
    NonUtf8Path {
        /// The file.
        path: PathBuf,
    },
    /// The record's `details` cannot be written.
    #[error("record details: {reason}")]
    BadDetails {
        /// Why not.
        reason: String,
    },
}

fn io_error(path: &Path, e: io::Error) -> TranscriptError {
    TranscriptError::Io { path: path.to_path_buf(), reason: e.to_string() }
}

/// The listing of `path` for a record: its path relative to `base_dir`
/// and its SHA-256.
///
/// `path` is as the process sees it (absolute, or relative to the current
/// directory), and must lie inside `base_dir`.
pub fn file_entry(base_dir: &Path, path: &Path) -> Result<FileEntry, TranscriptError> {
    let rel = relative_to(base_dir, path)?;
    let rel_str =
        listed_path(&rel).ok_or_else(|| TranscriptError::NonUtf8Path { path: path.to_path_buf() })?;
    let sha256 = hash_file(&base_dir.join(&rel)).map_err(|e| io_error(path, e))?;
    Ok(FileEntry { path: rel_str, sha256 })
}

/// `path` relative to `base`, lexically if possible, else after resolving
/// both (so `./out/x` and `/abs/out/x` both work with base `out`).
fn relative_to(base: &Path, path: &Path) -> Result<PathBuf, TranscriptError> {
    let lexical = path.strip_prefix(base).ok().map(Path::to_path_buf).filter(|r| is_plain(r));
    if let Some(rel) = lexical {
        return Ok(rel);
    }
    let outside = || TranscriptError::OutsideBase { path: path.to_path_buf(), base: base.to_path_buf() };
    let base_abs = base.canonicalize().map_err(|e| io_error(base, e))?;
    let path_abs = path.canonicalize().map_err(|e| io_error(path, e))?;
    let rel = path_abs.strip_prefix(&base_abs).map_err(|_| outside())?.to_path_buf();
    if is_plain(&rel) {
        Ok(rel)
    } else {
        Err(outside())
    }
}

fn is_plain(rel: &Path) -> bool {
    rel.components().next().is_some() && rel.components().all(|c| matches!(c, Component::Normal(_)))
}

/// The `/`-separated form of a plain relative path.
fn listed_path(rel: &Path) -> Option<String> {
    let parts: Option<Vec<&str>> = rel.components().map(|c| c.as_os_str().to_str()).collect();
    parts.map(|p| p.join("/"))
}

/// A listed path is safe to join onto the base directory.
fn is_safe_listed(path: &str) -> bool {
    !path.is_empty()
        && !path.contains(['\\', '\0'])
        && path.split('/').all(|seg| !seg.is_empty() && seg != "." && seg != "..")
}

fn hash_file(path: &Path) -> io::Result<String> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    io::copy(&mut file, &mut hasher)?;
    Ok(hex::encode(hasher.finalize()))
}

/// Reads the records of the transcript at `path`, checking the chain but
/// not the files. A missing transcript is an error.
pub fn read(path: &Path) -> Result<Vec<Record>, TranscriptError> {
    let bytes = fs::read(path).map_err(|e| io_error(path, e))?;
    parse(&bytes)
}

/// Parses and chain-checks transcript bytes (what [`read`] reads).
pub fn parse(bytes: &[u8]) -> Result<Vec<Record>, TranscriptError> {
    check_chain(bytes).map(|(records, _)| records)
}

/// A log read without stopping at damage: every record that parses, and
/// what is wrong, line by line.
#[derive(Debug, Default)]
pub struct Scan {
    /// The records that parse, in order.
    pub records: Vec<Record>,
    /// Every problem found: unparseable lines, numbering gaps, broken links.
    pub damage: Vec<TranscriptError>,
    /// How many lines the log has (a final line without newline included).
    pub lines: usize,
    /// The hash of the last line's bytes (the next record's `prev`).
    pub last_hash: String,
}

/// Reads log bytes line by line, keeping every record that parses and
/// reporting each damaged line instead of stopping at the first. The chain
/// is followed over the raw bytes of each line, damaged or not, as
/// [`append_to_log`] extends it.
pub fn scan(bytes: &[u8]) -> Scan {
    let mut out = Scan { last_hash: GENESIS_PREV.to_owned(), ..Scan::default() };
    if bytes.is_empty() {
        return out;
    }
    let body = match bytes.strip_suffix(b"\n") {
        Some(b) => b,
        None => {
            let line = bytes.split(|b| *b == b'\n').count();
            out.damage.push(TranscriptError::Malformed {
                line,
                reason: "last line has no newline (an interrupted write?)".into(),
            });
            bytes
        }
    };
    for (i, line) in body.split(|b| *b == b'\n').enumerate() {
        let n = i + 1;
        out.lines = n;
        match parse_line(n, line) {
            Ok(record) => {
                if record.seq != n as u64 {
                    out.damage.push(TranscriptError::SeqGap {
                        line: n,
                        expected: n as u64,
                        found: record.seq,
                    });
                }
                if record.prev != out.last_hash {
                    out.damage.push(TranscriptError::ChainBroken {
                        seq: record.seq,
                        expected: out.last_hash.clone(),
                        found: record.prev.clone(),
                    });
                }
                out.records.push(record);
            }
            Err(e) => out.damage.push(e),
        }
        out.last_hash = sha256_hex(line);
    }
    out
}

/// Parses and chain-checks transcript bytes; returns the records and the
/// hash of the last line.
fn check_chain(bytes: &[u8]) -> Result<(Vec<Record>, String), TranscriptError> {
    let mut records = Vec::new();
    let mut prev = GENESIS_PREV.to_owned();
    if bytes.is_empty() {
        return Ok((records, prev));
    }
    let Some(body) = bytes.strip_suffix(b"\n") else {
        let line = bytes.split(|b| *b == b'\n').count();
        return Err(TranscriptError::Malformed {
            line,
            reason: "last line has no newline (an interrupted write?)".into(),
        });
    };
    for (i, line) in body.split(|b| *b == b'\n').enumerate() {
        let n = i + 1;
        let record = parse_line(n, line)?;
        let expected_seq = n as u64;
        if record.seq != expected_seq {
            return Err(TranscriptError::SeqGap { line: n, expected: expected_seq, found: record.seq });
        }
        if record.prev != prev {
            return Err(TranscriptError::ChainBroken { seq: record.seq, expected: prev, found: record.prev });
        }
        if let Some(f) = record.files.iter().find(|f| !is_safe_listed(&f.path)) {
            return Err(TranscriptError::UnsafePath { seq: record.seq, path: f.path.clone() });
        }
        prev = sha256_hex(line);
        records.push(record);
    }
    Ok((records, prev))
}

fn parse_line(n: usize, line: &[u8]) -> Result<Record, TranscriptError> {
    let malformed = |reason: String| TranscriptError::Malformed { line: n, reason };
    let value = parse_strict(line).map_err(|e| malformed(e.to_string()))?;
    let record: Record = serde_json::from_value(value).map_err(|e| malformed(e.to_string()))?;
    // Only the canonical form is hashed, so any other spelling of the same
    // record would be a second valid transcript; refuse it.
    if encode(&record).map_err(|e| malformed(e.to_string()))? != line {
        return Err(malformed("record is not in canonical JSON".into()));
    }
    Ok(record)
}

fn encode(record: &Record) -> Result<Vec<u8>, TranscriptError> {
    let value =
        serde_json::to_value(record).map_err(|e| TranscriptError::BadDetails { reason: e.to_string() })?;
    to_log_line(&value).map_err(|e| TranscriptError::BadDetails { reason: e.to_string() })
}

/// Appends `entry` to the transcript at `path`, creating it if absent.
///
/// Refuses to extend a transcript whose chain is broken, so that a
/// tampered transcript is never made to look continued. The line is
/// written with one append and synced to disk before this returns.
pub fn append(path: &Path, entry: NewRecord) -> Result<Record, TranscriptError> {
    append_inner(path, entry, false)
}

/// Appends `entry` to the log at `path` even when earlier lines are
/// damaged: the record continues the chain from the raw bytes of the last
/// line and numbers itself after every line, so a damaged line stays
/// visible to [`scan`] (and to whoever checks the log) and never stops the
/// work the log records. For logs of routine work (the mirror's audit
/// log); a ceremony transcript uses [`append`].
pub fn append_to_log(path: &Path, entry: NewRecord) -> Result<Record, TranscriptError> {
    append_inner(path, entry, true)
}

fn append_inner(path: &Path, entry: NewRecord, after_damage: bool) -> Result<Record, TranscriptError> {
    let details = match entry.details {
        Value::Object(m) => m,
        other => {
            return Err(TranscriptError::BadDetails {
                reason: format!("must be a JSON object, not {}", json_kind(&other)),
            })
        }
    };
    let existed = path.exists();
    let mut file =
        OpenOptions::new().read(true).append(true).create(true).open(path).map_err(|e| io_error(path, e))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).map_err(|e| io_error(path, e))?;
    let (count, prev) = if after_damage {
        let s = scan(&bytes);
        (s.lines, s.last_hash)
    } else {
        let (records, prev) = check_chain(&bytes)?;
        (records.len(), prev)
    };
    // An interrupted write left a line without its newline: end it first.
    let lead: &[u8] = if bytes.is_empty() || bytes.ends_with(b"\n") { b"" } else { b"\n" };

    let record = Record {
        seq: count as u64 + 1,
        time: entry.time,
        step: entry.step,
        rehearsal: entry.rehearsal,
        allow_online: entry.allow_online,
        key_ids: entry.key_ids,
        files: entry.files,
        details,
        prev,
        airlock: Some(crate::BUILD.to_owned()),
    };
    if let Some(f) = record.files.iter().find(|f| !is_safe_listed(&f.path)) {
        return Err(TranscriptError::UnsafePath { seq: record.seq, path: f.path.clone() });
    }
    let mut line = lead.to_vec();
    line.extend(encode(&record)?);
    line.push(b'\n');
    if let Err(e) = file.write_all(&line).and_then(|()| file.sync_all()) {
        // Leave no half line behind: it would make the transcript unreadable.
        let _ = file.set_len(bytes.len() as u64);
        return Err(io_error(path, e));
    }
    if !existed {
        sync_parent(path).map_err(|e| io_error(path, e))?;
    }
    Ok(record)
}

/// Syncs the directory holding `path`, so a new file's name is durable too.
fn sync_parent(path: &Path) -> io::Result<()> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    File::open(parent)?.sync_all()
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Verifies the transcript at `path`: every line a canonical record, `seq`
/// consecutive, the hash chain intact, and every listed file under
/// `base_dir` matching its last listing (see the module documentation).
pub fn verify(path: &Path, base_dir: &Path) -> Result<TranscriptReport, TranscriptError> {
    let bytes = fs::read(path).map_err(|e| io_error(path, e))?;
    let (records, head) = check_chain(&bytes)?;

    // path -> (seq of its last listing, hash there, order of first listing)
    let mut last: BTreeMap<&str, (u64, &str, usize)> = BTreeMap::new();
    let mut order = 0;
    for r in &records {
        for f in &r.files {
            let first = last.get(f.path.as_str()).map_or(order, |e| e.2);
            last.insert(&f.path, (r.seq, &f.sha256, first));
            order += 1;
        }
    }
    let mut checks: Vec<_> = last.into_iter().collect();
    checks.sort_by_key(|(_, (seq, _, first))| (*seq, *first));

    let mut files = Vec::with_capacity(checks.len());
    for (rel, (seq, expected, _)) in checks {
        let full = base_dir.join(rel);
        let found = match hash_file(&full) {
            Ok(h) => h,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(TranscriptError::FileMissing { seq, path: rel.to_owned() })
            }
            Err(e) => return Err(io_error(&full, e)),
        };
        if found != expected {
            return Err(TranscriptError::FileChanged {
                seq,
                path: rel.to_owned(),
                expected: expected.to_owned(),
                found,
            });
        }
        files.push(FileEntry { path: rel.to_owned(), sha256: found });
    }
    Ok(TranscriptReport {
        records: records.len(),
        head,
        files,
        rehearsal: records.iter().any(|r| r.rehearsal),
        allow_online: records.iter().any(|r| r.allow_online),
    })
}

#[cfg(test)]
mod tests;
