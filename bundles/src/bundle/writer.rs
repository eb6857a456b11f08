//! Writing a bundle from a registry repository's served tree
//! (`REPO/metadata/`, `REPO/targets/`). Deterministic: the same repository
//! state and options give the same bytes.

use super::error::BundleError;
use super::tarfmt::{self, MAX_USTAR_PATH};
use crate::registry::{RegistryLog, LEAVES_FILE, LOG_DIR};
use airlock_core::archive::ArchivePath;
use airlock_core::bundle::{
    sha256sums, BundleManifest, EntryKind, ManifestEntry, BUNDLE_FORMAT, LOG_CHECKPOINT_PATH, LOG_PROOF_PATH,
    MANIFEST_PATH, SUMS_PATH,
};
use airlock_core::hash::sha256_hex;
use airlock_core::metadata::{Metadata, Root, Snapshot, Targets, TimestampRole};
use airlock_core::paths::glob_match;
use airlock_core::{registry_identity, Timestamp};
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// What to put in a bundle.
#[derive(Debug, Clone)]
pub struct BundleOptions {
    /// Compress with gzip (deterministic header: no name, mtime 0).
    pub gzip: bool,
    /// Carry only targets matching these patterns (all when empty).
    pub namespaces: Vec<String>,
    /// Carry only what changed since this snapshot version (a delta).
    pub since_snapshot: Option<u64>,
    /// The creation time recorded in the manifest.
    pub created: Timestamp,
    /// Tree sizes of the registry's log to prove consistency from (the
    /// receiver's last checkpoint); a delta adds its base snapshot's.
    pub since_checkpoints: Vec<u64>,
}

/// Where an entry's bytes come from.
#[derive(Debug, Clone)]
enum Source {
    Bytes(Vec<u8>),
    File(PathBuf),
}

/// The planned content of a bundle.
#[derive(Debug, Clone)]
pub struct BundlePlan {
    /// The manifest.
    pub manifest: BundleManifest,
    sources: Vec<Source>,
    /// How many root files lead `sources` (versions 1, 2, … in order).
    root_count: usize,
    /// When the carried timestamp expires: the bundle is importable until
    /// then, and a signed volume index authenticates until then.
    pub timestamp_expires: Timestamp,
}

fn io_err(path: &Path, e: io::Error) -> BundleError {
    BundleError::Io(format!("{}: {e}", path.display()))
}

fn read(path: &Path) -> Result<Vec<u8>, BundleError> {
    std::fs::read(path).map_err(|e| io_err(path, e))
}

fn parse<R: airlock_core::metadata::Role>(path: &Path, bytes: &[u8]) -> Result<Metadata<R>, BundleError> {
    Metadata::from_bytes(bytes).map_err(|e| BundleError::Io(format!("{}: {e}", path.display())))
}

fn hash_file(path: &Path) -> Result<(u64, String), BundleError> {
    let mut f = File::open(path).map_err(|e| io_err(path, e))?;
    let mut h = Sha256::new();
    let n = io::copy(&mut f, &mut h).map_err(|e| io_err(path, e))?;
    Ok((n, hex::encode(h.finalize())))
}

/// How many of the registry's most recent checkpoint sizes a full bundle
/// proves consistency from.
pub const RECENT_CHECKPOINTS: usize = 64;

/// The checkpoint and `log/proof.json` for a bundle carrying `carried`.
fn log_entries(
    repo: &Path,
    carried: &[(String, u64, String)],
    opts: &BundleOptions,
) -> Result<(Vec<u8>, Vec<u8>), BundleError> {
    let log = RegistryLog::open(repo).map_err(|e| BundleError::Io(e.to_string()))?;
    let checkpoint =
        log.checkpoint_bytes().map_err(|e| BundleError::Io(e.to_string()))?.ok_or_else(|| {
            BundleError::Io(format!("{}: the log has no checkpoint (run `registry refresh`)", repo.display()))
        })?;
    let mut since = opts.since_checkpoints.clone();
    match opts.since_snapshot {
        Some(v) => since.extend(log.size_at_snapshot(v)),
        // A full bundle may go to any mirror: prove consistency from the
        // registry's recent checkpoints, so one that imported any of them
        // takes it without being named (older ones: --since-checkpoint).
        None => since.extend(log.recent_sizes(RECENT_CHECKPOINTS)),
    }
    let size = log.tree().size();
    if let Some(s) = since.iter().find(|s| **s > size) {
        return Err(BundleError::Io(format!("--since-checkpoint {s}: the log has only {size} entries")));
    }
    let proof = log.prove(carried, &since).map_err(|e| BundleError::Io(e.to_string()))?;
    Ok((checkpoint, proof.to_bytes()))
}

impl BundlePlan {
    /// Plans a bundle of the repository at `repo`.
    pub fn new(repo: &Path, opts: &BundleOptions) -> Result<Self, BundleError> {
        let meta = repo.join("metadata");
        let mut roots: Vec<(u64, PathBuf)> = std::fs::read_dir(&meta)
            .map_err(|e| io_err(&meta, e))?
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let n: u64 = e.file_name().to_str()?.strip_suffix(".root.json")?.parse().ok()?;
                Some((n, e.path()))
            })
            .collect();
        roots.sort();
        if roots.first().map(|r| r.0) != Some(1) {
            return Err(BundleError::Io(format!("{}: no 1.root.json", meta.display())));
        }
        let root1: Metadata<Root> = parse(&roots[0].1, &read(&roots[0].1)?)?;
        let ts_path = meta.join("timestamp.json");
        let ts_bytes = read(&ts_path)?;
        let ts: Metadata<TimestampRole> = parse(&ts_path, &ts_bytes)?;
        let snap_version = ts.signed().snapshot_meta().map(|m| m.version).unwrap_or(0);
        let snap_path = meta.join(format!("{snap_version}.snapshot.json"));
        let snap_bytes = read(&snap_path)?;
        let snap: Metadata<Snapshot> = parse(&snap_path, &snap_bytes)?;

        // A delta carries roles whose version changed since the base snapshot.
        let base_roles: Option<BTreeMap<String, u64>> = match opts.since_snapshot {
            None => None,
            Some(v) => {
                let p = meta.join(format!("{v}.snapshot.json"));
                let base: Metadata<Snapshot> = parse(&p, &read(&p)?)?;
                Some(base.signed().meta.iter().map(|(k, m)| (k.clone(), m.version)).collect())
            }
        };

        let mut entries: Vec<(ManifestEntry, Source)> = Vec::new();
        let mut add = |path: String, kind: EntryKind, source: Source| -> Result<(u64, String), BundleError> {
            let (length, sha256) = match &source {
                Source::Bytes(b) => (b.len() as u64, sha256_hex(b)),
                Source::File(p) => hash_file(p)?,
            };
            if path.len() > MAX_USTAR_PATH {
                return Err(BundleError::Io(format!("{path}: longer than {MAX_USTAR_PATH} bytes")));
            }
            let path = ArchivePath::new(&path)
                .map_err(|source| BundleError::UnsafePath { path: path.clone(), source })?;
            entries.push((ManifestEntry { path, kind, length, sha256: sha256.clone() }, source));
            Ok((length, sha256))
        };
        let mut carried_roles: Vec<(String, u64, String)> = Vec::new();
        for (n, p) in &roots {
            let bytes = read(p)?;
            carried_roles.push(("root".into(), *n, sha256_hex(&bytes)));
            add(format!("metadata/{n}.root.json"), EntryKind::Metadata, Source::Bytes(bytes))?;
        }
        add("metadata/timestamp.json".into(), EntryKind::Metadata, Source::Bytes(ts_bytes))?;
        add(
            format!("metadata/{snap_version}.snapshot.json"),
            EntryKind::Metadata,
            Source::Bytes(snap_bytes),
        )?;

        let mut omitted = Vec::new();
        let mut targets: BTreeMap<String, (String, u64)> = BTreeMap::new();
        for (file, m) in &snap.signed().meta {
            let role = file.strip_suffix(".json").unwrap_or(file);
            let p = meta.join(format!("{}.{file}", m.version));
            let bytes = read(&p)?;
            let md: Metadata<Targets> = parse(&p, &bytes)?;
            let unchanged = base_roles.as_ref().and_then(|b| b.get(file)) == Some(&m.version);
            let wanted: Vec<(&String, &airlock_core::metadata::TargetFile)> = md
                .signed()
                .targets
                .iter()
                .filter(|(t, _)| {
                    opts.namespaces.is_empty() || opts.namespaces.iter().any(|ns| glob_match(ns, t))
                })
                .collect();
            // Top-level targets is always carried: every delegation starts there.
            let keep =
                role == "targets" || (!unchanged && (opts.namespaces.is_empty() || !wanted.is_empty()));
            if !keep {
                omitted.push(role.to_owned());
                continue;
            }
            carried_roles.push((role.to_owned(), m.version, sha256_hex(&bytes)));
            add(format!("metadata/{}.{file}", m.version), EntryKind::Metadata, Source::Bytes(bytes.clone()))?;
            // A lean delta: artifacts the base version of this role already
            // listed, with the same hash, are in the receiving mirror.
            let in_base: BTreeMap<String, Option<String>> =
                match base_roles.as_ref().and_then(|b| b.get(file)) {
                    Some(v) => {
                        let p = meta.join(format!("{v}.{file}"));
                        let base: Metadata<Targets> = parse(&p, &read(&p)?)?;
                        base.signed()
                            .targets
                            .iter()
                            .map(|(t, i)| (t.clone(), i.hashes.get("sha256").map(Cow::into_owned)))
                            .collect()
                    }
                    None => BTreeMap::new(),
                };
            for (t, info) in wanted {
                if in_base
                    .get(t)
                    .is_some_and(|h| h.is_some() && *h == info.hashes.get("sha256").map(Cow::into_owned))
                {
                    continue;
                }
                let sha = info
                    .hashes
                    .get("sha256")
                    .map(Cow::into_owned)
                    .ok_or_else(|| BundleError::Io(format!("{role}: target {t} has no sha256 hash")))?;
                targets.insert(t.clone(), (sha, info.length));
            }
        }
        // The log: the registry's checkpoint and the proof of every role
        // version carried (docs/FORMAT.md 10.3). A repository that is not
        // a registry (no log/) has none to carry.
        if repo.join(LOG_DIR).join(LEAVES_FILE).is_file() {
            let (checkpoint, proof) = log_entries(repo, &carried_roles, opts)?;
            add(LOG_CHECKPOINT_PATH.into(), EntryKind::Log, Source::Bytes(checkpoint))?;
            add(LOG_PROOF_PATH.into(), EntryKind::Log, Source::Bytes(proof))?;
        }
        let targets_dir = repo.join("targets");
        let mut seen = BTreeSet::new();
        for (t, (sha, len)) in &targets {
            let path = crate::registry::target_store_path(t, sha);
            let file = targets_dir.join(path.strip_prefix("targets/").unwrap_or(&path));
            if seen.insert(path.clone()) {
                // Refuse to carry a damaged repository file: the importer would refuse it anyway.
                let (found_len, found_sha) = add(path, EntryKind::Target, Source::File(file))?;
                if found_len != *len || found_sha != *sha {
                    return Err(BundleError::Io(format!(
                        "target {t}: the repository's file differs from what its role signs"
                    )));
                }
            }
        }
        let mut manifest = BundleManifest {
            format: BUNDLE_FORMAT.into(),
            registry: registry_identity(&root1),
            created: opts.created,
            snapshot_version: snap_version,
            base_snapshot_version: opts.since_snapshot,
            namespaces: (!opts.namespaces.is_empty()).then(|| opts.namespaces.clone()),
            omitted_roles: omitted,
            entries: entries.iter().map(|(e, _)| e.clone()).collect(),
            extra: BTreeMap::new(),
        };
        let sums = sha256sums(&manifest.entries).into_bytes();
        manifest.entries.push(ManifestEntry {
            path: ArchivePath::new(SUMS_PATH)
                .map_err(|source| BundleError::UnsafePath { path: SUMS_PATH.into(), source })?,
            kind: EntryKind::Sums,
            length: sums.len() as u64,
            sha256: sha256_hex(&sums),
        });
        let mut sources: Vec<Source> = entries.into_iter().map(|(_, s)| s).collect();
        sources.push(Source::Bytes(sums));
        let timestamp_expires = ts.signed().expires;
        Ok(BundlePlan { manifest, sources, root_count: roots.len(), timestamp_expires })
    }

    /// The registry's root files the bundle carries, version 1 first:
    /// what a signed volume index carries (docs/FORMAT.md 7.5).
    pub fn root_files(&self) -> Vec<&[u8]> {
        self.sources[..self.root_count]
            .iter()
            .filter_map(|s| match s {
                Source::Bytes(b) => Some(&b[..]),
                Source::File(_) => None,
            })
            .collect()
    }

    /// Writes the bundle to `out`.
    pub fn write<W: Write>(&self, out: W, gzip: bool) -> Result<W, BundleError> {
        let w = if gzip {
            let gz = flate2::GzBuilder::new()
                .mtime(0)
                .operating_system(255)
                .write(out, flate2::Compression::default());
            Box::new(GzOut(Some(gz))) as Box<dyn FinishWrite<W>>
        } else {
            Box::new(PlainOut(Some(out)))
        };
        let mut builder = tar::Builder::new(w);
        builder.mode(tar::HeaderMode::Deterministic);
        let manifest_bytes = self.manifest.to_bytes();
        let werr = |e: io::Error| BundleError::Io(format!("writing bundle: {e}"));
        tarfmt::append(&mut builder, MANIFEST_PATH, &mut &manifest_bytes[..], manifest_bytes.len() as u64)
            .map_err(werr)?;
        for (entry, source) in self.manifest.entries.iter().zip(&self.sources) {
            match source {
                Source::Bytes(b) => tarfmt::append(&mut builder, entry.path, &mut &b[..], entry.length),
                Source::File(p) => {
                    let mut f = File::open(p).map_err(|e| io_err(p, e))?;
                    tarfmt::append(&mut builder, entry.path, &mut f, entry.length)
                }
            }
            .map_err(werr)?;
        }
        let mut inner = builder.into_inner().map_err(werr)?;
        inner.finish().map_err(werr)
    }
}

trait FinishWrite<W>: Write {
    fn finish(&mut self) -> io::Result<W>;
}

struct PlainOut<W>(Option<W>);
impl<W: Write> Write for PlainOut<W> {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.0.as_mut().ok_or_else(|| io::Error::other("finished"))?.write(b)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.as_mut().ok_or_else(|| io::Error::other("finished"))?.flush()
    }
}
impl<W: Write> FinishWrite<W> for PlainOut<W> {
    fn finish(&mut self) -> io::Result<W> {
        let mut w = self.0.take().ok_or_else(|| io::Error::other("finished twice"))?;
        w.flush()?;
        Ok(w)
    }
}

struct GzOut<W: Write>(Option<flate2::write::GzEncoder<W>>);
impl<W: Write> Write for GzOut<W> {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.0.as_mut().ok_or_else(|| io::Error::other("finished"))?.write(b)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.as_mut().ok_or_else(|| io::Error::other("finished"))?.flush()
    }
}
impl<W: Write> FinishWrite<W> for GzOut<W> {
    fn finish(&mut self) -> io::Result<W> {
        let mut w = self.0.take().ok_or_else(|| io::Error::other("finished twice"))?.finish()?;
        w.flush()?;
        Ok(w)
    }
}

/// Plans and writes a bundle of `repo` to `out`.
pub fn create_bundle<W: Write>(
    repo: &Path,
    opts: &BundleOptions,
    out: W,
) -> Result<(BundlePlan, W), BundleError> {
    let plan = BundlePlan::new(repo, opts)?;
    let w = plan.write(out, opts.gzip)?;
    Ok((plan, w))
}
