//! The streaming bundle reader: one pass, constant memory beyond the
//! metadata. Order of work:
//!
//! 1. The manifest (first entry, bounded size), untrusted: it only plans the
//!    stream, so that any entry it does not list is refused before its bytes
//!    are read.
//! 2. Metadata entries, buffered (bounded), each matched to the manifest.
//! 3. Before the first artifact: the whole TUF workflow from the pinned root
//!    (root chain, timestamp, snapshot, every carried targets role), and
//!    every metadata entry accounted for by signed metadata.
//! 4. Each artifact hashed as it streams past, against the length and
//!    hashes its role signs, and handed to the sink only as verified bytes
//!    (the hashing on a second thread where that helps: `parallel_hash`).
//! 5. SHA256SUMS recomputed; the end of the archive must be zeros only; a
//!    gzip stream must end where the archive ends.

use super::error::BundleError;
use super::logcheck::BundleLog;
use super::parallel_hash::ArtifactHashing;
use super::tarfmt::type_name;
use airlock_core::archive::ArchivePath;
use airlock_core::bundle::{BundleManifest, EntryKind, LOG_CHECKPOINT_PATH, LOG_PROOF_PATH, MANIFEST_PATH};
use airlock_core::client::{Client, Limits, Transport, TransportError, Trusted, UpdateError};
use airlock_core::metadata::{Metadata, Root, TargetFile, Targets};
use airlock_core::rootchain::update_root;
use airlock_core::target::TargetVerifier;
use airlock_core::{registry_identity, Timestamp};
use serde::Serialize;
use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, BufRead, BufReader, Read};
use std::rc::Rc;

/// Bounds and the time of the check.
#[derive(Debug, Clone, Copy)]
pub struct VerifyOptions {
    /// The time every expiry is checked against.
    pub now: Timestamp,
    /// TUF size limits.
    pub limits: Limits,
    /// Largest manifest accepted.
    pub max_manifest: u64,
    /// Total bytes of metadata and log entries held in memory.
    pub max_metadata: u64,
}

impl VerifyOptions {
    /// Defaults at time `now`.
    pub fn at(now: Timestamp) -> Self {
        VerifyOptions { now, limits: Limits::default(), max_manifest: 32 << 20, max_metadata: 64 << 20 }
    }
}

/// Receives verified artifact bytes (for import into a staging area).
pub trait ArtifactSink {
    /// Sees the verified metadata before any artifact byte is read (a mirror
    /// checks its own state here). Refusing stops the bundle.
    /// `carried` lists every artifact the bundle will stream: (target path,
    /// its signed description, the signing role), borrowed from `trusted`.
    fn verified_metadata(
        &mut self,
        _manifest: &BundleManifest,
        _trusted: &Trusted,
        _carried: &CarriedArtifacts<'_>,
    ) -> Result<(), String> {
        Ok(())
    }

    /// Approves a target found in signed metadata, before any artifact byte
    /// is read (pins and policy hook in here). Refusing stops the bundle.
    fn approve(&mut self, _target: &str, _info: &TargetFile, _role: &str) -> Result<(), String> {
        Ok(())
    }
    /// An artifact begins: `target` is its TUF target path.
    fn begin(&mut self, target: &str, info: &TargetFile) -> io::Result<()>;
    /// More bytes of the current artifact (not yet checked in full).
    fn write(&mut self, chunk: &[u8]) -> io::Result<()>;
    /// The current artifact matched its signed length and hashes (but see
    /// [`ArtifactSink::finish_waits_for_verdict`]).
    fn finish(&mut self) -> io::Result<()>;

    /// Whether `finish` waits for the artifact's verdict: yes, unless the
    /// sink says otherwise. A sink that uses nothing it was given before
    /// the bundle verifies (it keeps nothing, or only stages the bytes) may
    /// say no: the reader then reads on into the next artifacts while
    /// earlier ones are still hashing on another thread, and `finish` only
    /// means the bytes ended. Every verdict is still in before the bundle
    /// verifies, and the error reported is the same either way.
    fn finish_waits_for_verdict(&self) -> bool {
        true
    }
}

/// The artifacts a bundle will stream, in archive path order: each (target
/// path, its signed description, the signing role), borrowed from the
/// trusted metadata and looked up there when asked for. (A list of them all
/// was 40 bytes an artifact at the verifier's peak; docs/BENCHMARKS.md.)
pub struct CarriedArtifacts<'a> {
    trusted: &'a Trusted,
    roles: &'a [String],
    manifest: &'a BundleManifest,
    resolved: &'a [u32],
    /// Manifest entry indexes, each found in the trusted metadata.
    order: Vec<u32>,
}

impl<'a> CarriedArtifacts<'a> {
    /// How many artifacts.
    pub fn len(&self) -> usize {
        self.order.len()
    }
    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
    /// The artifacts, in archive path order.
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, &'a TargetFile, &'a str)> + '_ {
        self.order.iter().filter_map(|&i| self.get(i as usize))
    }
    fn get(&self, entry: usize) -> Option<(&'a str, &'a TargetFile, &'a str)> {
        let path = self.manifest.entries.get(entry)?.path;
        signed_target(self.trusted, self.roles, path, *self.resolved.get(entry)?)
    }
}

/// A sink that keeps nothing: verification only.
pub struct NoSink;

impl ArtifactSink for NoSink {
    fn begin(&mut self, _: &str, _: &TargetFile) -> io::Result<()> {
        Ok(())
    }
    fn write(&mut self, _: &[u8]) -> io::Result<()> {
        Ok(())
    }
    fn finish(&mut self) -> io::Result<()> {
        Ok(())
    }
    fn finish_waits_for_verdict(&self) -> bool {
        // Nothing is kept, so nothing waits: artifact k+1 is read while a
        // second core finishes hashing artifact k.
        false
    }
}

/// One line of the verification report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// What was checked.
    pub check: String,
    /// What it showed.
    pub detail: String,
}

/// A bundle that passed every check. Only [`verify_bundle`] makes one.
#[derive(Debug)]
pub struct VerifiedBundle {
    manifest: BundleManifest,
    trusted: Trusted,
    metadata: BTreeMap<String, Held>,
    /// Each artifact streamed: (its manifest entry, its signing role in
    /// `roles`). Its description is borrowed from `trusted`, not copied:
    /// per-artifact copies were most of the reader's memory.
    targets: Vec<(u32, u32)>,
    roles: Vec<String>,
    checks: Vec<Check>,
    log: Option<BundleLog>,
}

impl VerifiedBundle {
    /// The transparency log the bundle carried, verified: checkpoint signed
    /// by the log key, every carried role version included.
    pub fn log(&self) -> Option<&BundleLog> {
        self.log.as_ref()
    }
    /// The manifest (its claims were checked against signed metadata).
    pub fn manifest(&self) -> &BundleManifest {
        &self.manifest
    }
    /// The verified metadata.
    pub fn trusted(&self) -> &Trusted {
        &self.trusted
    }
    /// Every metadata file carried, by name, as verified.
    pub fn metadata_files(&self) -> BTreeMap<&str, &[u8]> {
        files_of(&self.metadata, &self.trusted)
    }
    /// Every artifact, in stream order: target path, its signed
    /// description, the signing role.
    pub fn targets(&self) -> Vec<(&str, &TargetFile, &str)> {
        let mut all = Vec::with_capacity(self.targets.len());
        all.extend(self.each_target());
        all
    }
    /// The target path of every artifact, as [`VerifiedBundle::each_target`]
    /// gives them, consuming the bundle. The targets roles' file bytes are
    /// freed before the paths are copied (18 MB at 100,000 artifacts: an
    /// import that has staged the files needs nothing else of the bundle).
    pub fn into_target_paths(mut self) -> Vec<String> {
        // The typed roles alone: each file goes with its metadata, which shares it.
        let roles: BTreeMap<String, Targets> = std::mem::take(&mut self.trusted.targets)
            .into_iter()
            .map(|(name, role)| (name, role.metadata.into_signed()))
            .collect();
        let mut paths = Vec::with_capacity(self.targets.len());
        paths.extend(self.targets.iter().filter_map(|&(entry, role)| {
            let (target, _) = parse_target_path(self.manifest.entries.get(entry as usize)?.path).ok()?;
            roles.get(self.roles.get(role as usize)?)?.targets.contains_key(&target).then_some(target)
        }));
        paths
    }
    /// [`VerifiedBundle::targets`] one at a time, without a list of them all
    /// (at 100,000 artifacts the list is 4 MB).
    pub fn each_target(&self) -> impl Iterator<Item = (&str, &TargetFile, &str)> + '_ {
        self.targets.iter().filter_map(|&(entry, role)| {
            signed_target(&self.trusted, &self.roles, self.manifest.entries.get(entry as usize)?.path, role)
        })
    }
    /// The report, in the order the checks ran.
    pub fn checks(&self) -> &[Check] {
        &self.checks
    }
}

/// Caps how many bytes a stream may yield; the cap is raised once the
/// manifest says how long the archive is.
struct Capped<R> {
    inner: R,
    read: u64,
    cap: Rc<Cell<u64>>,
}

#[derive(Debug)]
struct OverCap;
impl std::fmt::Display for OverCap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("stream longer than allowed")
    }
}
impl std::error::Error for OverCap {}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.cap.get().saturating_sub(self.read);
        if left == 0 {
            // One byte past the cap is enough to know it is too long.
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => Err(io::Error::other(OverCap)),
            };
        }
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        self.read += n as u64;
        Ok(n)
    }
}

enum Source<R: Read> {
    Plain(BufReader<R>),
    Gzip(flate2::bufread::GzDecoder<BufReader<R>>),
}

impl<R: Read> Read for Source<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Source::Plain(r) => r.read(buf),
            Source::Gzip(r) => r.read(buf),
        }
    }
}

/// The bytes an entry of `len` bytes takes in the archive (header and
/// whole blocks), or `None` past `u64::MAX`.
fn tar_len(len: u64) -> Option<u64> {
    len.div_ceil(512).checked_mul(512)?.checked_add(512)
}

fn io_error(e: io::Error, cap: u64) -> BundleError {
    if e.get_ref().is_some_and(|i| i.is::<OverCap>()) {
        return BundleError::TooLarge { limit: cap };
    }
    if let Some(v) = e.get_ref().and_then(|i| i.downcast_ref::<super::volumes::VolumeFault>()) {
        if v.unreadable {
            return BundleError::Io(format!("volume {}: {}", v.name, v.detail));
        }
        return BundleError::Volume { name: v.name.clone(), detail: v.detail.clone() };
    }
    match e.kind() {
        io::ErrorKind::UnexpectedEof => BundleError::Truncated("the rest of the archive".into()),
        io::ErrorKind::InvalidData | io::ErrorKind::InvalidInput | io::ErrorKind::Other => {
            BundleError::Malformed(e.to_string())
        }
        _ => BundleError::Io(e.to_string()),
    }
}

/// Where verification starts: a trusted root, and optionally the timestamp
/// and snapshot trusted before (so a rollback is refused).
#[derive(Debug, Clone, Default)]
pub struct TrustedStart {
    /// The trusted root's bytes (pinned, or the newest a mirror accepted).
    pub root: Vec<u8>,
    /// The previously trusted timestamp.
    pub timestamp: Option<Vec<u8>>,
    /// The previously trusted snapshot.
    pub snapshot: Option<Vec<u8>>,
    /// Targets roles the receiver already holds, by file name
    /// (`N.ROLE.json`): a role the bundle leaves out is loaded from here and
    /// verified like a carried one, so the result covers every role the
    /// receiver will serve.
    pub held_roles: BTreeMap<String, Vec<u8>>,
}

/// Chooses the trusted start once the (untrusted) manifest names its registry.
pub type SelectStart<'s> = &'s mut dyn FnMut(&BundleManifest) -> Result<TrustedStart, BundleError>;

/// Verifies a bundle read from `input` against `pinned_root` (the bytes of a
/// trusted root file), streaming verified artifacts into `sink`.
pub fn verify_bundle<R: Read>(
    input: R,
    pinned_root: &[u8],
    opts: &VerifyOptions,
    sink: &mut dyn ArtifactSink,
) -> Result<VerifiedBundle, BundleError> {
    let start = TrustedStart { root: pinned_root.to_vec(), ..TrustedStart::default() };
    verify_bundle_from(input, &mut |_| Ok(start.clone()), opts, sink)
}

/// Verifies a bundle from the trusted state `select` returns for its
/// manifest (see [`verify_bundle`]).
pub fn verify_bundle_from<R: Read>(
    input: R,
    select: SelectStart<'_>,
    opts: &VerifyOptions,
    sink: &mut dyn ArtifactSink,
) -> Result<VerifiedBundle, BundleError> {
    let mut buffered = BufReader::with_capacity(64 * 1024, input);
    let gzip = buffered.fill_buf().map_err(|e| io_error(e, 0))?.starts_with(&[0x1f, 0x8b]);
    let source =
        if gzip { Source::Gzip(flate2::bufread::GzDecoder::new(buffered)) } else { Source::Plain(buffered) };
    // Until the manifest is read, allow only the manifest's own entry.
    let cap = Rc::new(Cell::new(tar_len(opts.max_manifest).unwrap_or(u64::MAX)));
    let capped = Capped { inner: source, read: 0, cap: cap.clone() };
    let mut archive = tar::Archive::new(capped);
    let mut state = State::new(opts, select);
    state.hashing = ArtifactHashing::new(sink.finish_waits_for_verdict());
    {
        let entries = archive.entries().map_err(|e| io_error(e, cap.get()))?.raw(true);
        // An error found while an earlier artifact is still hashing yields
        // to that artifact's failed verdict, as if it had been found first.
        for entry in entries {
            let mut entry = entry.map_err(|e| state.hashing.settle(io_error(e, cap.get())))?;
            state.entry(&mut entry, &cap, sink).map_err(|e| state.hashing.settle(e))?;
        }
    }
    state.hashing.wait_all()?;
    state.finish_entries()?;
    // Only zeros may follow the end-of-archive marker, and for gzip the
    // compressed stream must end there too.
    let capped = archive.into_inner();
    let limit = cap.get();
    let mut rest = capped;
    let mut buf = [0u8; 8192];
    loop {
        let n = rest.read(&mut buf).map_err(|e| io_error(e, limit))?;
        if n == 0 {
            break;
        }
        if buf[..n].iter().any(|&b| b != 0) {
            return Err(BundleError::TrailingData);
        }
    }
    if let Source::Gzip(gz) = rest.inner {
        let mut raw = gz.into_inner();
        if !raw.fill_buf().map_err(|e| io_error(e, limit))?.is_empty() {
            return Err(BundleError::TrailingData);
        }
    }
    state
        .checks
        .push(Check { check: "end of archive".into(), detail: "nothing after the last entry".into() });
    Ok(state.into_verified())
}

#[derive(PartialEq, Eq, Clone, Copy)]
enum Phase {
    Manifest,
    Metadata,
    Targets,
    Done,
}

struct State<'s> {
    opts: VerifyOptions,
    select: SelectStart<'s>,
    pinned: Option<Metadata<Root>>,
    start: TrustedStart,
    phase: Phase,
    manifest: Option<BundleManifest>,
    next: usize,
    metadata: BTreeMap<String, Held>,
    metadata_bytes: u64,
    trusted: Option<Trusted>,
    log: Option<BundleLog>,
    /// By manifest entry: the index in `roles` of the role that signs the
    /// artifact (`NO_ROLE` for other entries), resolved by delegation search
    /// before any artifact is read.
    resolved: Vec<u32>,
    /// Names of the roles that sign carried artifacts.
    roles: Vec<String>,
    /// (manifest entry, index in `roles`) of each artifact streamed.
    targets: Vec<(u32, u32)>,
    checks: Vec<Check>,
    /// The artifacts' hashing, on a second thread where that helps.
    hashing: ArtifactHashing,
}

impl<'s> State<'s> {
    fn new(opts: &VerifyOptions, select: SelectStart<'s>) -> Self {
        State {
            opts: *opts,
            select,
            pinned: None,
            start: TrustedStart::default(),
            phase: Phase::Manifest,
            manifest: None,
            next: 0,
            metadata: BTreeMap::new(),
            metadata_bytes: 0,
            trusted: None,
            log: None,
            resolved: Vec::new(),
            roles: Vec::new(),
            targets: Vec::new(),
            checks: Vec::new(),
            hashing: ArtifactHashing::new(true),
        }
    }

    fn entry<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        cap: &Rc<Cell<u64>>,
        sink: &mut dyn ArtifactSink,
    ) -> Result<(), BundleError> {
        let raw_path = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let kind = entry.header().entry_type();
        if !kind.is_file() || entry.header().as_ustar().is_none() {
            return Err(BundleError::ForbiddenEntryType { path: raw_path, kind: type_name(kind) });
        }
        let path = ArchivePath::new(&raw_path)
            .map_err(|source| BundleError::UnsafePath { path: raw_path.clone(), source })?;
        let size = entry.header().entry_size().map_err(|e| BundleError::Malformed(e.to_string()))?;
        if self.phase == Phase::Manifest {
            return self.read_manifest(entry, &path, size, cap);
        }
        let manifest =
            self.manifest.as_ref().ok_or_else(|| BundleError::ManifestNotFirst(path.to_string()))?;
        let index = self.next;
        let listed = match manifest.entries.get(self.next) {
            Some(e) if e.path == path.as_str() => e,
            // Every entry read so far is the manifest and the entries it
            // lists before this one (the manifest lists no path twice, nor
            // its own), so that is where a repeated path is found.
            _ if path.as_str() == MANIFEST_PATH
                || manifest.entries.iter().take(self.next).any(|x| x.path == path.as_str()) =>
            {
                return Err(BundleError::DuplicateEntry(path.to_string()))
            }
            Some(e) if manifest.entries.iter().any(|x| x.path == path.as_str()) => {
                return Err(BundleError::OutOfOrder { expected: e.path.to_owned(), found: path.to_string() })
            }
            _ => return Err(BundleError::NotInManifest(path.to_string())),
        };
        let (kind, length) = (listed.kind, listed.length);
        self.next += 1;
        if size != length {
            return Err(BundleError::SizeMismatch { path: path.to_string(), listed: length, found: size });
        }
        match kind {
            EntryKind::Metadata | EntryKind::Log => {
                if self.phase != Phase::Metadata {
                    return Err(BundleError::MetadataAfterTargets(path.to_string()));
                }
                self.metadata_bytes += size;
                if self.metadata_bytes > self.opts.max_metadata {
                    return Err(BundleError::TooLarge { limit: self.opts.max_metadata });
                }
                let bytes = read_exact(entry, size)?;
                if !listed.sha256_is(&airlock_core::hash::sha256(&bytes)) {
                    return Err(BundleError::HashMismatch { path: path.to_string() });
                }
                self.metadata.insert(path.to_string(), Held::Read(bytes));
            }
            EntryKind::Target => {
                if self.phase == Phase::Metadata {
                    self.verify_metadata()?;
                    self.approve_all(sink)?;
                }
                if self.phase != Phase::Targets {
                    return Err(BundleError::NotInManifest(path.to_string()));
                }
                self.stream_target(entry, index, &path, sink)?;
            }
            EntryKind::Sums => {
                if self.phase == Phase::Metadata {
                    self.verify_metadata()?;
                    self.approve_all(sink)?;
                }
                self.check_sums(entry, size)?;
                self.phase = Phase::Done;
                self.checks.push(Check { check: "SHA256SUMS".into(), detail: "matches every entry".into() });
            }
        }
        Ok(())
    }

    fn read_manifest<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        path: &ArchivePath,
        size: u64,
        cap: &Rc<Cell<u64>>,
    ) -> Result<(), BundleError> {
        if path.as_str() != MANIFEST_PATH {
            return Err(BundleError::ManifestNotFirst(path.to_string()));
        }
        if size > self.opts.max_manifest {
            return Err(BundleError::TooLarge { limit: self.opts.max_manifest });
        }
        let bytes = read_exact(entry, size)?;
        let manifest = BundleManifest::from_bytes(&bytes)?;
        // The plan itself must put every metadata entry before every
        // artifact, and SHA256SUMS last: refuse a bad plan before reading on.
        let mut seen_target = false;
        for (i, e) in manifest.entries.iter().enumerate() {
            match e.kind {
                EntryKind::Target => seen_target = true,
                EntryKind::Metadata | EntryKind::Log if seen_target => {
                    return Err(BundleError::MetadataAfterTargets(e.path.to_string()))
                }
                EntryKind::Sums if i + 1 != manifest.entries.len() => {
                    return Err(BundleError::OutOfOrder {
                        expected: "SHA256SUMS last".into(),
                        found: e.path.to_string(),
                    })
                }
                _ => {}
            }
        }
        // SHA256SUMS is not optional: a plan without it is not one the
        // writer makes (FORMAT 7.2), so it is refused, not trusted less.
        if manifest.entries.last().map(|e| e.kind) != Some(EntryKind::Sums) {
            return Err(BundleError::OutOfOrder {
                expected: "SHA256SUMS last".into(),
                found: manifest.entries.last().map_or_else(|| "no entries".into(), |e| e.path.to_string()),
            });
        }
        // From now on the stream may be exactly as long as the manifest
        // says, plus the end marker and record padding, and no longer.
        // Checked: the lengths are the sender's, and a sum that wraps would
        // set a cap that means nothing.
        let mut total = tar_len(size).and_then(|t| t.checked_add(1024));
        for e in manifest.entries.iter() {
            total = total.and_then(|t| t.checked_add(tar_len(e.length)?));
        }
        let records = total.and_then(|t| t.div_ceil(10240).checked_mul(10240)?.checked_add(10240));
        cap.set(records.ok_or_else(|| {
            BundleError::Malformed("the manifest's entry lengths add up to more than 2^64 bytes".into())
        })?);
        self.checks.push(Check {
            check: "manifest".into(),
            detail: format!(
                "{} entries, snapshot version {}",
                manifest.entries.len(),
                manifest.snapshot_version
            ),
        });
        self.start = (self.select)(&manifest)?;
        self.pinned = Some(Metadata::<Root>::from_bytes(&self.start.root).map_err(|e| {
            BundleError::Update(UpdateError::Metadata { name: "pinned root".into(), source: e })
        })?);
        self.manifest = Some(manifest);
        self.phase = Phase::Metadata;
        Ok(())
    }

    /// Runs the TUF workflow over the buffered metadata (step 3).
    fn verify_metadata(&mut self) -> Result<(), BundleError> {
        let manifest =
            self.manifest.as_ref().ok_or_else(|| BundleError::ManifestNotFirst("(none)".into()))?;
        // The client reads the metadata entries' bytes moved out of
        // `self.metadata`, not a copy; what it does not keep goes back
        // once it is done.
        let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        let mut lent: Vec<(String, String)> = Vec::new();
        for (p, b) in self.metadata.iter_mut() {
            if let (Some(n), Held::Read(b)) = (p.strip_prefix("metadata/"), b) {
                files.insert(n.to_owned(), std::mem::take(b));
                lent.push((p.clone(), n.to_owned()));
            }
        }
        // Roles the bundle leaves out come from what the receiver holds;
        // the client verifies them as it would a download.
        for (name, bytes) in &self.start.held_roles {
            files.entry(name.clone()).or_insert_with(|| bytes.clone());
        }
        let now = self.opts.now;
        let pinned = self.pinned.as_ref().ok_or_else(|| BundleError::ManifestNotFirst("(none)".into()))?;
        let pinned_version = pinned.signed().version;
        // The registry: root 1 in the bundle names it; it must be the pinned one.
        if let Some(b) = files.get("1.root.json") {
            let r1 = Metadata::<Root>::from_bytes(b).map_err(|e| {
                BundleError::Update(UpdateError::Metadata { name: "1.root.json".into(), source: e })
            })?;
            let id = registry_identity(&r1);
            if id != manifest.registry {
                return Err(BundleError::ManifestClaim {
                    claim: format!("registry {}", manifest.registry),
                    actual: id,
                });
            }
            if pinned_version == 1 && r1.payload() != pinned.payload() {
                return Err(BundleError::RegistryMismatch { expected: registry_identity(pinned), found: id });
            }
        } else if pinned_version == 1 && registry_identity(pinned) != manifest.registry {
            return Err(BundleError::RegistryMismatch {
                expected: registry_identity(pinned),
                found: manifest.registry.clone(),
            });
        }
        // Roots up to the pinned version must chain to it.
        let mut accounted: BTreeSet<String> = BTreeSet::new();
        let mut prev: Option<Metadata<Root>> = None;
        for v in 1..=pinned_version {
            let name = format!("{v}.root.json");
            let Some(b) = files.get(&name) else { continue };
            let r = Metadata::<Root>::from_bytes(b).map_err(|_| BundleError::RootNotInChain(name.clone()))?;
            if let Some(p) = &prev {
                update_root(p, &r, now).map_err(|_| BundleError::RootNotInChain(name.clone()))?;
            }
            if v == pinned_version && r.payload() != pinned.payload() {
                return Err(BundleError::RegistryMismatch {
                    expected: "the pinned root".into(),
                    found: format!("another root version {v}"),
                });
            }
            accounted.insert(name);
            prev = Some(r);
        }
        // Older roots are served with the rest: only a chain that reaches
        // the pinned root vouches for them, so it must be carried too.
        if let Some(last) = prev.as_ref().map(|r| r.signed().version).filter(|v| *v != pinned_version) {
            return Err(BundleError::RootNotInChain(format!("{last}.root.json")));
        }
        let mut transport = Lending { files: &mut files, handed: Vec::new() };
        let mut client = Client::new(&self.start.root, &mut transport, now, self.opts.limits)?
            .with_previous(self.start.timestamp.as_deref(), self.start.snapshot.as_deref());
        client.refresh()?;
        let snapshot_version = client.trusted().snapshot.as_ref().map_or(0, |s| s.signed().version);
        if snapshot_version != manifest.snapshot_version {
            return Err(BundleError::ManifestClaim {
                claim: format!("snapshot version {}", manifest.snapshot_version),
                actual: snapshot_version.to_string(),
            });
        }
        // Load every carried delegated role through its delegator.
        let snapshot_meta =
            client.trusted().snapshot.as_ref().map(|s| s.signed().meta.clone()).unwrap_or_default();
        let mut queue = vec!["targets".to_owned()];
        let mut loaded = BTreeSet::from(["targets".to_owned()]);
        while let Some(parent) = queue.pop() {
            let children: Vec<String> = client.trusted().targets[&parent]
                .signed()
                .delegations
                .iter()
                .flat_map(|d| d.roles.iter().map(|r| r.name.clone()))
                .collect();
            for child in children {
                if loaded.contains(&child) {
                    // Loaded through another delegator: it must verify
                    // through this one too.
                    client.update_targets(&child, Some(&parent))?;
                    continue;
                }
                let Some(m) = snapshot_meta.get(&format!("{child}.json")) else { continue };
                let name = format!("{}.{child}.json", m.version);
                let carried = self.metadata.contains_key(&format!("metadata/{name}"));
                if !carried && !manifest.omitted_roles.contains(&child) {
                    return Err(BundleError::RoleMissing(child));
                }
                if !carried && !self.start.held_roles.contains_key(&name) {
                    continue;
                }
                client.update_targets(&child, Some(&parent))?;
                loaded.insert(child.clone());
                queue.push(child);
            }
        }
        // Resolve every artifact the manifest lists, while the client is at
        // hand. Only the signing role is kept: the description stays in the
        // trusted role, where the stream looks it up again.
        let mut resolved = vec![NO_ROLE; manifest.entries.len()];
        let mut roles: Vec<String> = Vec::new();
        let mut role_index: BTreeMap<String, u32> = BTreeMap::new();
        for (i, e) in manifest.entries.iter().enumerate().filter(|(_, e)| e.kind == EntryKind::Target) {
            let (target, sha) = parse_target_path(e.path)?;
            let Some(m) = client.target_info(&target)? else {
                return Err(BundleError::TargetNotSigned(target));
            };
            if m.file.hashes.get("sha256").map(|h| h.to_ascii_lowercase()) != Some(sha.clone()) {
                return Err(BundleError::TargetNotSigned(format!("{target} with SHA-256 {sha}")));
            }
            let r = match role_index.get(&m.role) {
                Some(&r) => r,
                None => {
                    let r = u32::try_from(roles.len())
                        .map_err(|_| BundleError::TooLarge { limit: u32::MAX.into() })?;
                    role_index.insert(m.role.clone(), r);
                    roles.push(m.role);
                    r
                }
            };
            resolved[i] = r;
        }
        // Moved out, not cloned: with many targets the trusted roles are
        // the largest thing the reader holds.
        let trusted = client.into_trusted();
        let handed = transport.handed;
        // The files the client took are kept once, in `trusted`: found
        // there by their hash (roles, new roots and the snapshot; the
        // client keeps every file it takes or refuses the bundle).
        let mut kept: Vec<([u8; 32], Slot)> = Vec::new();
        if !handed.is_empty() {
            let mut add = |bytes: &[u8], slot| kept.push((airlock_core::hash::sha256(bytes), slot));
            add(&trusted.root.bytes, Slot::Root);
            for (i, r) in trusted.new_roots.iter().enumerate() {
                add(&r.bytes, Slot::NewRoot(i));
            }
            if let Some(s) = &trusted.snapshot {
                add(&s.bytes, Slot::Snapshot);
            }
            for (role, t) in &trusted.targets {
                add(&t.bytes, Slot::Targets(role.clone()));
            }
        }
        let snapshot_file = format!("{snapshot_version}.snapshot.json");
        for (p, n) in lent {
            let Some(slot) = self.metadata.get_mut(&p) else { continue };
            if let Some(b) = files.remove(&n) {
                // Not taken, or (timestamp.json) read and then perhaps not
                // kept: the client may keep the timestamp or snapshot it
                // trusted before, of the same version. What the reader
                // serves under these names must be what the client trusts.
                let verified = match n.as_str() {
                    "timestamp.json" => trusted.timestamp.as_ref().map(|t| &t.bytes[..]),
                    name if name == snapshot_file => trusted.snapshot.as_ref().map(|s| &s.bytes[..]),
                    _ => Some(&b[..]),
                };
                if verified != Some(&b[..]) {
                    return Err(BundleError::NotTheVerifiedCopy(p));
                }
                *slot = Held::Read(b);
            } else if let Some((_, sha)) = handed.iter().find(|(h, _)| *h == n) {
                let (_, s) = kept.iter().find(|(k, _)| k == sha).ok_or_else(|| {
                    BundleError::Malformed(format!("{p}: taken by the client and not kept"))
                })?;
                *slot = Held::Trusted(s.clone());
            }
        }
        let log = super::logcheck::verify_log(
            &files_of(&self.metadata, &trusted),
            &manifest.registry,
            trusted.root.signed(),
            now,
        )?;
        drop(files);
        for r in &trusted.new_roots {
            accounted.insert(format!("{}.root.json", r.signed().version));
        }
        accounted.insert("timestamp.json".into());
        accounted.insert(format!("{snapshot_version}.snapshot.json"));
        for (role, md) in &trusted.targets {
            accounted.insert(format!("{}.{role}.json", md.signed().version));
        }
        for p in self.metadata.keys() {
            match p.strip_prefix("metadata/") {
                Some(name) if accounted.contains(name) => {}
                None if log.is_some() && (p == LOG_CHECKPOINT_PATH || p == LOG_PROOF_PATH) => {}
                _ => return Err(BundleError::UnaccountedMetadata(p.clone())),
            }
        }
        for role in &manifest.omitted_roles {
            if !snapshot_meta.contains_key(&format!("{role}.json")) {
                return Err(BundleError::ManifestClaim {
                    claim: format!("role {role} omitted"),
                    actual: "the snapshot does not list it".into(),
                });
            }
        }
        let newest = trusted.root.signed().version;
        self.checks.push(Check {
            check: "root chain".into(),
            detail: format!("pinned version {pinned_version} to version {newest}"),
        });
        self.checks.push(Check {
            check: "timestamp and snapshot".into(),
            detail: format!(
                "snapshot version {snapshot_version}, signatures, hashes, versions and expiry at {now}"
            ),
        });
        self.checks.push(Check {
            check: "targets roles".into(),
            detail: format!("{} verified, {} omitted", trusted.targets.len(), manifest.omitted_roles.len()),
        });
        if let Some(l) = &log {
            self.checks.push(Check {
                check: "log".into(),
                detail: format!(
                    "checkpoint of {} entries signed by the log key; {} role version(s) proved included",
                    l.checkpoint.size,
                    l.proof.inclusion.len()
                ),
            });
        }
        self.log = log;
        self.trusted = Some(trusted);
        self.resolved = resolved;
        self.roles = roles;
        self.phase = Phase::Targets;
        Ok(())
    }

    fn stream_target<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        index: usize,
        path: &ArchivePath,
        sink: &mut dyn ArtifactSink,
    ) -> Result<(), BundleError> {
        let not_listed = || BundleError::NotInManifest(path.to_string());
        let role =
            self.resolved.get_mut(index).map(|r| std::mem::replace(r, NO_ROLE)).ok_or_else(not_listed)?;
        let trusted = self.trusted.as_ref().ok_or_else(not_listed)?;
        let (target, info, _) =
            signed_target(trusted, &self.roles, path.as_str(), role).ok_or_else(not_listed)?;
        let mismatch = |source| BundleError::TargetMismatch { path: path.to_string(), source };
        let verifier = TargetVerifier::new(info).map_err(mismatch)?;
        sink.begin(target, info).map_err(|e| BundleError::Io(e.to_string()))?;
        // The bytes are read into chunks the hashing thread takes over; the
        // length is counted here, so the first byte past the signed length
        // is refused before the sink sees it.
        let mut current = self.hashing.begin(path.as_str(), verifier, info.length, entry.size())?;
        loop {
            let mut chunk = self.hashing.buffer(&current);
            let mut filled = 0;
            while filled < chunk.len() {
                let n = entry.read(&mut chunk[filled..]).map_err(|e| io_error(e, 0))?;
                if n == 0 {
                    break;
                }
                current.admit(n)?;
                sink.write(&chunk[filled..filled + n]).map_err(|e| BundleError::Io(e.to_string()))?;
                filled += n;
            }
            let ended = filled < chunk.len();
            chunk.truncate(filled);
            self.hashing.hash(&mut current, chunk)?;
            if ended {
                break;
            }
        }
        // The artifact's verdict, or (for a sink that does not wait for it)
        // the verdicts already in.
        self.hashing.end(current)?;
        // The bytes match the signed SHA-256; the manifest must list that
        // same hash, so this one hash pass checks both.
        let listed = self.manifest.as_ref().and_then(|m| m.entries.get(index)).ok_or_else(not_listed)?;
        if info.hashes.get("sha256").map(|h| h.to_ascii_lowercase()).as_deref() != Some(&*listed.sha256()) {
            return Err(BundleError::HashMismatch { path: path.to_string() });
        }
        sink.finish().map_err(|e| BundleError::Io(e.to_string()))?;
        // `resolved` has one slot per manifest entry, which `read_manifest` bounds.
        self.targets.push((u32::try_from(index).unwrap_or(u32::MAX), role));
        Ok(())
    }

    /// SHA256SUMS must be exactly the lines the manifest implies
    /// (`sha256sums`), compared as the entry streams past rather than by
    /// building both texts: for many artifacts each is megabytes.
    fn check_sums<R: Read>(&self, entry: &mut tar::Entry<'_, R>, size: u64) -> Result<(), BundleError> {
        let entries = self.manifest.as_ref().map(|m| &m.entries);
        let mut lines = entries
            .into_iter()
            .flat_map(|e| e.iter())
            .filter(|e| e.kind != EntryKind::Sums)
            .map(|e| format!("{}  {}\n", e.sha256(), e.path));
        let (mut line, mut at) = (String::new(), 0usize);
        let mut same = true;
        let mut read = 0u64;
        let mut buf = vec![0u8; 64 * 1024];
        let mut body = entry.take(size);
        loop {
            let n = body.read(&mut buf).map_err(|e| io_error(e, 0))?;
            if n == 0 {
                break;
            }
            read += n as u64;
            let mut chunk = &buf[..n];
            while same && !chunk.is_empty() {
                if at == line.len() {
                    match lines.next() {
                        Some(l) => (line, at) = (l, 0),
                        None => {
                            same = false;
                            break;
                        }
                    }
                }
                let k = chunk.len().min(line.len() - at);
                same = chunk[..k] == line.as_bytes()[at..at + k];
                (chunk, at) = (&chunk[k..], at + k);
            }
        }
        if read != size {
            return Err(BundleError::Truncated(String::from_utf8_lossy(&entry.path_bytes()).into_owned()));
        }
        if !same || at != line.len() || lines.next().is_some() {
            return Err(BundleError::SumsMismatch);
        }
        Ok(())
    }

    /// Asks the sink to approve every target before the first artifact byte.
    fn approve_all(&mut self, sink: &mut dyn ArtifactSink) -> Result<(), BundleError> {
        // By reference: a copy per artifact is what made memory grow with
        // the artifact count (docs/BENCHMARKS.md, "Memory").
        let (Some(m), Some(t)) = (&self.manifest, &self.trusted) else { return Ok(()) };
        // In archive path order, as before.
        let mut order: Vec<u32> = (0..self.resolved.len())
            .filter(|&i| self.resolved[i] != NO_ROLE)
            .filter_map(|i| u32::try_from(i).ok())
            .collect();
        let path = |i: u32| m.entries.get(i as usize).map_or("", |e| e.path);
        order.sort_by(|&a, &b| path(a).cmp(path(b)));
        // Only the artifacts found in the trusted metadata, as before.
        order.retain(|&i| signed_target(t, &self.roles, path(i), self.resolved[i as usize]).is_some());
        let carried =
            CarriedArtifacts { trusted: t, roles: &self.roles, manifest: m, resolved: &self.resolved, order };
        sink.verified_metadata(m, t, &carried)
            .map_err(|reason| BundleError::Refused { target: "metadata".into(), reason })?;
        for (target, info, role) in carried.iter() {
            sink.approve(target, info, role)
                .map_err(|reason| BundleError::Refused { target: target.to_owned(), reason })?;
        }
        Ok(())
    }

    fn finish_entries(&mut self) -> Result<(), BundleError> {
        let manifest = self.manifest.as_ref().ok_or_else(|| BundleError::Truncated(MANIFEST_PATH.into()))?;
        if let Some(missing) = manifest.entries.get(self.next) {
            return Err(BundleError::Truncated(missing.path.to_owned()));
        }
        if self.phase == Phase::Metadata {
            self.verify_metadata()?;
        }
        self.checks.push(Check {
            check: "artifacts".into(),
            detail: format!("{} verified against their signed hashes", self.targets.len()),
        });
        Ok(())
    }

    fn into_verified(self) -> VerifiedBundle {
        let trusted = self.trusted.unwrap_or_else(|| unreachable!("finish_entries verified the metadata"));
        VerifiedBundle {
            manifest: self.manifest.unwrap_or_else(|| unreachable!("finish_entries checked the manifest")),
            trusted,
            metadata: self.metadata,
            targets: self.targets,
            roles: self.roles,
            checks: self.checks,
            log: self.log,
        }
    }
}

/// A metadata or log file of the bundle: as read, or (once verified) the
/// same bytes kept in the trusted metadata, which then hold the only copy.
#[derive(Debug)]
enum Held {
    Read(Vec<u8>),
    Trusted(Slot),
}

/// Where in [`Trusted`] a file is kept.
#[derive(Debug, Clone)]
enum Slot {
    Root,
    NewRoot(usize),
    Snapshot,
    Targets(String),
}

/// The files by archive path, with the bytes of each.
fn files_of<'a>(metadata: &'a BTreeMap<String, Held>, trusted: &'a Trusted) -> BTreeMap<&'a str, &'a [u8]> {
    let kept = |s: &Slot| -> Option<&'a [u8]> {
        Some(match s {
            Slot::Root => &trusted.root.bytes,
            Slot::NewRoot(i) => &trusted.new_roots.get(*i)?.bytes,
            Slot::Snapshot => &trusted.snapshot.as_ref()?.bytes,
            Slot::Targets(role) => &trusted.targets.get(role)?.bytes,
        })
    };
    metadata
        .iter()
        .filter_map(|(p, h)| {
            let bytes = match h {
                Held::Read(b) => b,
                Held::Trusted(s) => kept(s)?,
            };
            Some((p.as_str(), bytes))
        })
        .collect()
}

/// The client's transport over the bundle's metadata files: it hands each
/// file over moved, not copied (with many artifacts the targets roles are
/// the largest thing verified, and the client keeps what it takes), and
/// notes its name and SHA-256. The exception is `timestamp.json`, which
/// the client may read and then keep the timestamp trusted before instead.
struct Lending<'f> {
    files: &'f mut BTreeMap<String, Vec<u8>>,
    /// Name and SHA-256 of each file handed over.
    handed: Vec<(String, [u8; 32])>,
}

impl Transport for Lending<'_> {
    fn fetch_metadata(&mut self, name: &str, max_len: u64) -> Result<Option<Vec<u8>>, TransportError> {
        // As the transport over a map of files, which this was.
        match self.files.get(name) {
            Some(b) if b.len() as u64 > max_len => Err(TransportError::TooLarge { limit: max_len }),
            Some(b) if name == "timestamp.json" => Ok(Some(b.clone())),
            Some(_) => {
                let b = self.files.remove(name).unwrap_or_default();
                self.handed.push((name.to_owned(), airlock_core::hash::sha256(&b)));
                Ok(Some(b))
            }
            None => Ok(None),
        }
    }
}

/// `resolved` for a manifest entry that is not an artifact.
const NO_ROLE: u32 = u32::MAX;

/// The signed description of the artifact at archive `path`, signed by
/// `roles[role]`, borrowed from the trusted role: (target path, description,
/// role name).
fn signed_target<'t>(
    trusted: &'t Trusted,
    roles: &'t [String],
    path: &str,
    role: u32,
) -> Option<(&'t str, &'t TargetFile, &'t str)> {
    let role = roles.get(role as usize)?;
    let (target, _) = parse_target_path(path).ok()?;
    let (target, info) = trusted.targets.get(role)?.signed().targets.get_key_value(&target)?;
    Some((target.as_str(), info, role.as_str()))
}

fn read_exact<R: Read>(entry: &mut tar::Entry<'_, R>, size: u64) -> Result<Vec<u8>, BundleError> {
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    entry.take(size).read_to_end(&mut bytes).map_err(|e| io_error(e, 0))?;
    if bytes.len() as u64 != size {
        return Err(BundleError::Truncated(String::from_utf8_lossy(&entry.path_bytes()).into_owned()));
    }
    Ok(bytes)
}

/// `targets/<dir>/<sha256>.<name>` -> (`<dir>/<name>`, sha256).
fn parse_target_path(path: &str) -> Result<(String, String), BundleError> {
    let bad = || BundleError::BadTargetName(path.to_owned());
    let rest = path.strip_prefix("targets/").ok_or_else(bad)?;
    let (dir, file) = match rest.rsplit_once('/') {
        Some((d, f)) => (Some(d), f),
        None => (None, rest),
    };
    let (sha, name) = file.split_once('.').ok_or_else(bad)?;
    if sha.len() != 64
        || !sha.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        || name.is_empty()
    {
        return Err(bad());
    }
    let target = match dir {
        Some(d) => format!("{d}/{name}"),
        None => name.to_owned(),
    };
    Ok((target, sha.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tar_len_is_a_header_and_whole_blocks() {
        assert_eq!(tar_len(0), Some(512));
        assert_eq!(tar_len(1), Some(1024));
        assert_eq!(tar_len(512), Some(1024));
        assert_eq!(tar_len(513), Some(1536));
        assert_eq!(tar_len(5000), Some(512 + 10 * 512));
        assert_eq!(tar_len(u64::MAX), None);
    }

    #[test]
    fn over_cap_says_what_happened() {
        assert_eq!(OverCap.to_string(), "stream longer than allowed");
        assert_eq!(io::Error::other(OverCap).to_string(), "stream longer than allowed");
    }

    fn capped(data: &[u8], cap: u64) -> Capped<&[u8]> {
        Capped { inner: data, read: 0, cap: Rc::new(Cell::new(cap)) }
    }

    #[test]
    fn a_stream_exactly_at_its_cap_ends_cleanly() {
        let mut c = capped(b"0123456789", 10);
        let mut out = Vec::new();
        assert_eq!(c.read_to_end(&mut out).unwrap(), 10);
        assert_eq!(out, b"0123456789");
        // At the cap and at the end: still a clean end, as often as asked.
        assert_eq!(c.read(&mut [0u8; 4]).unwrap(), 0);
    }

    #[test]
    fn one_byte_past_the_cap_is_over_cap() {
        let mut c = capped(b"0123456789", 9);
        let mut out = Vec::new();
        let e = c.read_to_end(&mut out).unwrap_err();
        assert!(e.get_ref().is_some_and(|i| i.is::<OverCap>()), "{e:?}");
        assert_eq!(out, b"012345678");
        // Raising the cap lets the rest through.
        let mut c = capped(b"0123456789", 9);
        let mut first = [0u8; 9];
        c.read_exact(&mut first).unwrap();
        c.cap.set(10);
        let mut rest = Vec::new();
        assert_eq!(c.read_to_end(&mut rest).unwrap(), 1);
        assert_eq!(rest, b"9");
    }

    #[test]
    fn io_errors_map_to_their_reasons() {
        let r = io_error(io::Error::other(OverCap), 7);
        assert!(matches!(r, BundleError::TooLarge { limit: 7 }), "{r:?}");
        let r = io_error(io::Error::new(io::ErrorKind::UnexpectedEof, "cut"), 0);
        assert!(matches!(&r, BundleError::Truncated(m) if m == "the rest of the archive"), "{r:?}");
        for kind in [io::ErrorKind::InvalidData, io::ErrorKind::InvalidInput, io::ErrorKind::Other] {
            let r = io_error(io::Error::new(kind, "bad block"), 0);
            assert!(matches!(&r, BundleError::Malformed(m) if m == "bad block"), "{kind:?}: {r:?}");
        }
        let r = io_error(io::Error::new(io::ErrorKind::PermissionDenied, "denied"), 0);
        assert!(matches!(&r, BundleError::Io(m) if m == "denied"), "{r:?}");
        let fault = |unreadable| {
            io::Error::other(super::super::volumes::VolumeFault {
                name: "b.tar.001".into(),
                detail: "swapped".into(),
                unreadable,
            })
        };
        let r = io_error(fault(false), 0);
        assert!(
            matches!(&r, BundleError::Volume { name, detail } if name == "b.tar.001" && detail == "swapped"),
            "{r:?}"
        );
        let r = io_error(fault(true), 0);
        assert!(matches!(&r, BundleError::Io(m) if m == "volume b.tar.001: swapped"), "{r:?}");
    }
}
