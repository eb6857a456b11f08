//! Splitting a bundle into fixed-size volumes for fixed media, and reading
//! them back as one stream.
//!
//! Volumes are `FILE.000`, `FILE.001`, …; the index `FILE.volumes.json`
//! lists each one's length and SHA-256. The reader checks a volume in full
//! against the index before it hands out any of its bytes, so a damaged,
//! swapped or missing disc is named before anything on it is used, and
//! volumes are only ever read in place: never joined, changed or deleted.

use super::error::BundleError;
use airlock_core::bundle::{Volume, VolumeIndex, VOLUMES_FORMAT};
use airlock_core::volume_auth::{authenticate_index, IndexAuthority};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};

/// The mode of every bundle file airlock writes (a single bundle, each
/// volume, the volume index): bundles hold only public, signed material,
/// and one mode for all means a split bundle copies like a whole one.
pub const BUNDLE_FILE_MODE: u32 = 0o644;

/// Opens a new bundle file (refusing an existing one) with [`BUNDLE_FILE_MODE`].
fn create_bundle_file(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::PermissionsExt;
    let f = File::options().write(true).create_new(true).open(path)?;
    // Set after creation: the umask must not change what every reader expects.
    f.set_permissions(std::fs::Permissions::from_mode(BUNDLE_FILE_MODE))?;
    Ok(f)
}

/// A volume problem, carried through `io::Error` to the reader's caller.
#[derive(Debug)]
pub struct VolumeFault {
    /// The volume's file name.
    pub name: String,
    /// What is wrong.
    pub detail: String,
    /// The volume could not be read at all (missing or unreadable): an I/O
    /// failure, not a verification one.
    pub unreadable: bool,
}

impl std::fmt::Display for VolumeFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "volume {}: {}", self.name, self.detail)
    }
}

impl std::error::Error for VolumeFault {}

fn fault(name: &str, detail: impl Into<String>) -> io::Error {
    io::Error::other(VolumeFault { name: name.to_owned(), detail: detail.into(), unreadable: false })
}

fn unreadable(name: &str, detail: impl Into<String>) -> io::Error {
    io::Error::other(VolumeFault { name: name.to_owned(), detail: detail.into(), unreadable: true })
}

/// The path of volume `i` of `base`.
pub fn volume_path(base: &Path, i: usize) -> PathBuf {
    let mut s = base.as_os_str().to_owned();
    s.push(format!(".{i:03}"));
    PathBuf::from(s)
}

/// The path of the volume index of `base`.
pub fn index_path(base: &Path) -> PathBuf {
    let mut s = base.as_os_str().to_owned();
    s.push(".volumes.json");
    PathBuf::from(s)
}

/// The largest volume index read. A thousand volumes and, when it is
/// signed, every root version (a few KiB each) stay far below it; a bigger
/// file is refused before it is read into memory.
pub const MAX_INDEX_BYTES: u64 = 16 << 20;

/// Reads and parses the volume index at `path`, refusing one larger than
/// [`MAX_INDEX_BYTES`] without reading it whole.
pub fn read_volume_index(path: &Path) -> Result<VolumeIndex, BundleError> {
    let io_err = |e: io::Error| BundleError::Io(format!("{}: {e}", path.display()));
    let mut bytes = Vec::new();
    File::open(path).and_then(|f| f.take(MAX_INDEX_BYTES + 1).read_to_end(&mut bytes)).map_err(io_err)?;
    if bytes.len() as u64 > MAX_INDEX_BYTES {
        return Err(BundleError::Malformed(format!(
            "{}: a volume index larger than {MAX_INDEX_BYTES} bytes",
            path.display()
        )));
    }
    VolumeIndex::from_bytes(&bytes).map_err(|e| BundleError::Malformed(format!("{}: {e}", path.display())))
}

/// A writer that starts a new volume file every `size` bytes.
pub struct VolumeWriter {
    base: PathBuf,
    size: u64,
    current: Option<(File, Sha256, u64)>,
    done: Vec<Volume>,
    total: Sha256,
    total_len: u64,
}

impl VolumeWriter {
    /// Volumes of `size` bytes named after `base`; none of them may exist.
    pub fn new(base: &Path, size: u64) -> Result<Self, BundleError> {
        if size < 1024 {
            return Err(BundleError::Io("volume size must be at least 1024 bytes".into()));
        }
        Ok(VolumeWriter {
            base: base.to_path_buf(),
            size,
            current: None,
            done: Vec::new(),
            total: Sha256::new(),
            total_len: 0,
        })
    }

    fn close_current(&mut self) -> io::Result<()> {
        if let Some((f, h, len)) = self.current.take() {
            f.sync_all()?;
            let name = volume_path(&self.base, self.done.len());
            let name = name.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            self.done.push(Volume { name, length: len, sha256: hex::encode(h.finalize()) });
        }
        Ok(())
    }

    /// Closes the last volume and writes the index.
    pub fn finish(self) -> Result<VolumeIndex, BundleError> {
        self.finish_with(|_| Ok(()))
    }

    /// Closes the last volume, lets `complete` add to the index (the
    /// registry's signature, docs/FORMAT.md 7.5), then writes the index.
    pub fn finish_with(
        mut self,
        complete: impl FnOnce(&mut VolumeIndex) -> Result<(), BundleError>,
    ) -> Result<VolumeIndex, BundleError> {
        self.close_current().map_err(|e| BundleError::Io(e.to_string()))?;
        let mut index = VolumeIndex {
            format: VOLUMES_FORMAT.into(),
            total_length: self.total_len,
            bundle_sha256: hex::encode(self.total.clone().finalize()),
            volumes: std::mem::take(&mut self.done),
            authentication: None,
        };
        complete(&mut index)?;
        let mut bytes = serde_json::to_vec_pretty(&index).map_err(|e| BundleError::Io(e.to_string()))?;
        bytes.push(b'\n');
        let p = index_path(&self.base);
        let mut f = create_bundle_file(&p).map_err(|e| BundleError::Io(format!("{}: {e}", p.display())))?;
        f.write_all(&bytes)
            .and_then(|_| f.sync_all())
            .map_err(|e| BundleError::Io(format!("{}: {e}", p.display())))?;
        Ok(index)
    }
}

impl Write for VolumeWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.current.as_ref().is_some_and(|c| c.2 >= self.size) {
            self.close_current()?;
        }
        if self.current.is_none() {
            let p = volume_path(&self.base, self.done.len());
            let f = create_bundle_file(&p)?;
            self.current = Some((f, Sha256::new(), 0));
        }
        let (f, h, len) = self.current.as_mut().ok_or_else(|| io::Error::other("no volume"))?;
        let room = usize::try_from(self.size - *len).unwrap_or(usize::MAX);
        let n = f.write(&buf[..buf.len().min(room)])?;
        h.update(&buf[..n]);
        self.total.update(&buf[..n]);
        *len += n as u64;
        self.total_len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.current {
            Some((f, _, _)) => f.flush(),
            None => Ok(()),
        }
    }
}

/// Reads the volumes listed in an index as one stream.
pub struct VolumeReader {
    dir: PathBuf,
    /// Where each volume is, by name, when given one by one (any order,
    /// any directory); otherwise every volume is beside the index.
    given: std::collections::BTreeMap<String, PathBuf>,
    index: VolumeIndex,
    next: usize,
    current: Option<BufReader<File>>,
}

impl VolumeReader {
    /// The volumes of the index at `index_file`, found beside it.
    pub fn open(index_file: &Path) -> Result<Self, BundleError> {
        let index = read_volume_index(index_file)?;
        let dir = index_file.parent().map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        Ok(VolumeReader { dir, given: Default::default(), index, next: 0, current: None })
    }

    /// The volumes listed by the index `index_file`, given as `volumes` in
    /// any order (from any directories, as discs are mounted): each must be
    /// listed, none twice, and every listed volume given.
    pub fn open_list(index_file: &Path, volumes: &[PathBuf]) -> Result<Self, BundleError> {
        let mut r = Self::open(index_file)?;
        for v in volumes {
            let name = v.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            if !r.index.volumes.iter().any(|l| l.name == name) {
                return Err(BundleError::Volume {
                    name,
                    detail: format!("not listed in {}", index_file.display()),
                });
            }
            if r.given.insert(name.clone(), v.clone()).is_some() {
                return Err(BundleError::Volume { name, detail: "given twice".into() });
            }
        }
        if let Some(missing) = r.index.volumes.iter().find(|l| !r.given.contains_key(&l.name)) {
            return Err(BundleError::Io(format!("volume {}: not given", missing.name)));
        }
        Ok(r)
    }

    /// The index.
    pub fn index(&self) -> &VolumeIndex {
        &self.index
    }

    /// Checks volume `i` in full, then opens it for streaming.
    fn open_volume(&mut self, i: usize) -> io::Result<()> {
        let v = &self.index.volumes[i];
        let path = self.given.get(&v.name).cloned().unwrap_or_else(|| self.dir.join(&v.name));
        if !matches_listing(&path, v).map_err(|(what, e)| unreadable(&v.name, format!("{what}: {e}")))? {
            return Err(fault(&v.name, MISMATCH));
        }
        let f = File::open(&path).map_err(|e| unreadable(&v.name, format!("cannot reopen: {e}")))?;
        self.current = Some(BufReader::with_capacity(64 * 1024, f));
        Ok(())
    }
}

impl Read for VolumeReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.current.is_none() {
                if self.next >= self.index.volumes.len() {
                    return Ok(0);
                }
                let i = self.next;
                self.open_volume(i)?;
                self.next += 1;
            }
            let n = self.current.as_mut().map_or(Ok(0), |r| r.read(buf))?;
            if n > 0 {
                return Ok(n);
            }
            self.current = None;
        }
    }
}

/// Opens a bundle given as a file, or as the base name of split volumes
/// (`FILE.volumes.json` beside `FILE.000`, …).
pub fn open_volumes(base: &Path) -> Result<Box<dyn Read>, BundleError> {
    let named_index = base.to_string_lossy().ends_with(".volumes.json");
    if base.is_file() && !named_index {
        let f = File::open(base).map_err(|e| BundleError::Io(format!("{}: {e}", base.display())))?;
        return Ok(Box::new(f));
    }
    let idx = if named_index { base.to_path_buf() } else { index_path(base) };
    if idx.is_file() {
        return Ok(Box::new(VolumeReader::open(&idx)?));
    }
    Err(BundleError::Io(format!("{}: no such bundle file or volume index", base.display())))
}

/// What [`check_volume`] found: the volume's place in its bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeCheck {
    /// Its position, from 1.
    pub number: usize,
    /// How many volumes the bundle has.
    pub of: usize,
    /// Its length in bytes.
    pub length: u64,
    /// The SHA-256 of the whole bundle stream the index names.
    pub bundle_sha256: String,
    /// Whether the index carries the registry's signature (checked only by
    /// [`authenticate_volume_index`], against a pinned root).
    pub index_signed: bool,
}

/// Checks one volume alone against its index (the `FILE.volumes.json`
/// that goes on every disc): it must be listed by its file name and match
/// its length and SHA-256. This finds damage from burning, carrying or
/// reading back one disc at a time; authenticity is for
/// [`authenticate_volume_index`] (a signed index) or the full verify, which
/// checks every volume and every signature.
///
/// The index is given already read (from `index_file`, named in messages):
/// what a disc is checked against must be what was authenticated, not a
/// second read of the file, which a hostile medium could answer otherwise.
pub fn check_volume(
    volume: &Path,
    index: &VolumeIndex,
    index_file: &Path,
) -> Result<VolumeCheck, BundleError> {
    let name = volume.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let (i, listed) = index.volumes.iter().enumerate().find(|(_, v)| v.name == name).ok_or_else(|| {
        BundleError::Volume { name: name.clone(), detail: format!("not listed in {}", index_file.display()) }
    })?;
    let matches = matches_listing(volume, listed)
        .map_err(|(what, e)| BundleError::Io(format!("volume {name}: {what}: {e}")))?;
    if !matches {
        let detail = format!("volume {} of {}: {MISMATCH}", i + 1, index.volumes.len());
        return Err(BundleError::Volume { name, detail });
    }
    Ok(VolumeCheck {
        number: i + 1,
        of: index.volumes.len(),
        length: listed.length,
        bundle_sha256: index.bundle_sha256.clone(),
        index_signed: index.authentication.is_some(),
    })
}

/// Authenticates a volume index against the registry's pinned root
/// (`pinned_root`, the bytes of a root file) at `now`: see
/// [`airlock_core::volume_auth::authenticate_index`]. With it, a volume
/// [`check_volume`] finds intact against the same parsed index is the
/// registry's own, checked alone.
pub fn authenticate_volume_index(
    index: &VolumeIndex,
    pinned_root: &[u8],
    now: airlock_core::Timestamp,
) -> Result<IndexAuthority, BundleError> {
    let pinned = airlock_core::Metadata::<airlock_core::metadata::Root>::from_bytes(pinned_root)
        .map_err(|e| BundleError::Malformed(format!("pinned root: {e}")))?;
    Ok(authenticate_index(index, &pinned, now)?)
}

/// What a volume that does not match its index entry is.
const MISMATCH: &str = "does not match the volume index (damaged, swapped or from another bundle)";

/// Whether the file at `path` has the length and SHA-256 its index entry
/// lists; an error says which step failed (`cannot open`, `unreadable`).
fn matches_listing(path: &Path, listed: &Volume) -> Result<bool, (&'static str, io::Error)> {
    let mut f = File::open(path).map_err(|e| ("cannot open", e))?;
    let mut h = Sha256::new();
    let n = io::copy(&mut f, &mut h).map_err(|e| ("unreadable", e))?;
    Ok(n == listed.length && hex::encode(h.finalize()) == listed.sha256)
}

/// The index file beside a volume `FILE.NNN`: `FILE.volumes.json`.
pub fn index_of_volume(volume: &Path) -> Option<PathBuf> {
    let s = volume.to_string_lossy();
    let (base, ext) = s.rsplit_once('.')?;
    (ext.len() == 3 && ext.bytes().all(|b| b.is_ascii_digit())).then(|| index_path(Path::new(base)))
}

/// Splits an existing bundle file into volumes (reading it once).
pub fn split_into_volumes(bundle: &Path, base: &Path, size: u64) -> Result<VolumeIndex, BundleError> {
    let mut f = File::open(bundle).map_err(|e| BundleError::Io(format!("{}: {e}", bundle.display())))?;
    let mut w = VolumeWriter::new(base, size)?;
    io::copy(&mut f, &mut w).map_err(|e| BundleError::Io(e.to_string()))?;
    w.finish()
}
