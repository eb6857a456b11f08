//! The client's local state: trusted metadata in the metadata directory
//! under unversioned names, and verified targets in the target directory.
//!
//! Role names and target paths are percent-encoded into single file names
//! (as python-tuf's ngclient does), so no name can reach outside its
//! directory. Files are replaced atomically: a temporary file in the same
//! directory, fsynced, renamed over the old one.

use crate::http::{quote, unquote};
use airlock_core::metadata::TargetFile;
use airlock_core::target::TargetVerifier;
use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// Roles whose files are not targets metadata.
const NOT_TARGETS: [&str; 3] = ["root", "timestamp", "snapshot"];

/// The directory of trusted metadata: `root.json`, `timestamp.json`,
/// `snapshot.json`, `targets.json` and `<role>.json` for delegated roles,
/// each holding exactly the bytes that were received and verified.
pub struct MetadataDir {
    dir: PathBuf,
}

impl MetadataDir {
    /// The metadata directory `dir`.
    pub fn new(dir: &Path) -> Self {
        MetadataDir { dir: dir.to_path_buf() }
    }

    /// The file name of `role`'s metadata.
    pub fn file_name(role: &str) -> String {
        format!("{}.json", quote(role, b""))
    }

    fn path(&self, role: &str) -> PathBuf {
        self.dir.join(Self::file_name(role))
    }

    /// The stored metadata of `role` (at most `max_len` bytes are read),
    /// `None` if there is none.
    pub fn read(&self, role: &str, max_len: u64) -> io::Result<Option<Vec<u8>>> {
        read_capped(&self.path(role), max_len)
    }

    /// Stores `bytes` as `role`'s metadata unless it already holds exactly
    /// them. Returns whether the file changed.
    pub fn write(&self, role: &str, bytes: &[u8]) -> io::Result<bool> {
        let path = self.path(role);
        if fs::read(&path).is_ok_and(|old| old == bytes) {
            return Ok(false);
        }
        write_atomic(&self.dir, &path, bytes)?;
        Ok(true)
    }

    /// Removes `role`'s metadata if there is any. Returns whether it existed.
    pub fn remove(&self, role: &str) -> io::Result<bool> {
        match fs::remove_file(self.path(role)) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Every stored targets role (top-level and delegated) by role name;
    /// files whose names do not decode are skipped.
    pub fn targets_roles(&self, max_len: u64) -> io::Result<BTreeMap<String, Vec<u8>>> {
        let mut out = BTreeMap::new();
        let entries = match fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name();
            let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(".json")) else { continue };
            let Some(role) = unquote(stem) else { continue };
            if NOT_TARGETS.contains(&role.as_str()) || Self::file_name(&role) != name.to_str().unwrap_or("") {
                continue;
            }
            if let Some(bytes) = read_capped(&entry.path(), max_len)? {
                out.insert(role, bytes);
            }
        }
        Ok(out)
    }
}

/// The directory of downloaded targets, one file per target path.
pub struct TargetDir {
    dir: PathBuf,
}

impl TargetDir {
    /// The target directory `dir`.
    pub fn new(dir: &Path) -> Self {
        TargetDir { dir: dir.to_path_buf() }
    }

    /// Where target `path` is stored: the whole path percent-encoded into
    /// one file name, so a target downloaded again lands in the same file.
    pub fn path_of(&self, target: &str) -> PathBuf {
        self.dir.join(quote(target, b""))
    }

    /// Whether the stored copy of `target` matches its signed length and hashes.
    pub fn is_current(&self, target: &str, file: &TargetFile) -> bool {
        let Ok(mut verifier) = TargetVerifier::new(file) else { return false };
        let Ok(f) = fs::File::open(self.path_of(target)) else { return false };
        let mut reader = f.take(file.length.saturating_add(1));
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match reader.read(&mut buf) {
                Ok(0) => return verifier.finish().is_ok(),
                Ok(n) => {
                    if verifier.update(&buf[..n]).is_err() {
                        return false;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return false,
            }
        }
    }

    /// Writes `target` through `fill`, which must return `Ok` only for
    /// verified bytes; the file appears (atomically) only then.
    pub fn store<E: From<io::Error>>(
        &self,
        target: &str,
        fill: impl FnOnce(&mut dyn Write) -> Result<(), E>,
    ) -> Result<PathBuf, E> {
        fs::create_dir_all(&self.dir)?;
        let path = self.path_of(target);
        let mut tmp = tempfile::Builder::new().prefix(".airlock-download-").tempfile_in(&self.dir)?;
        fill(tmp.as_file_mut())?;
        tmp.as_file().sync_all()?;
        tmp.persist(&path).map_err(|e| e.error)?;
        sync_dir(&self.dir)?;
        Ok(path)
    }
}

fn read_capped(path: &Path, max_len: u64) -> io::Result<Option<Vec<u8>>> {
    let f = match fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    f.take(max_len.saturating_add(1)).read_to_end(&mut out)?;
    if out.len() as u64 > max_len {
        return Err(io::Error::other(format!("{}: larger than {max_len} bytes", path.display())));
    }
    Ok(Some(out))
}

/// Replaces `path` (in `dir`) with `bytes` atomically.
pub fn write_atomic(dir: &Path, path: &Path, bytes: &[u8]) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    let mut tmp = tempfile::Builder::new().prefix(".airlock-tmp-").tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    sync_dir(dir)
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use airlock_core::hash::sha256_hex;

    #[test]
    fn metadata_names_are_single_escaped_files() {
        let tmp = tempfile::tempdir().unwrap();
        let md = MetadataDir::new(tmp.path());
        for role in ["targets", "../delegatedrole", "/abs", "?", "#", "a b"] {
            assert!(md.write(role, role.as_bytes()).unwrap());
            assert!(!md.write(role, role.as_bytes()).unwrap(), "unchanged bytes are not rewritten");
        }
        md.write("root", b"r").unwrap();
        md.write("timestamp", b"t").unwrap();
        let names: Vec<String> = fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names.len(), 8, "{names:?}");
        assert!(names.iter().all(|n| !n.contains('/') && n.ends_with(".json")));
        let roles = md.targets_roles(1000).unwrap();
        assert_eq!(
            roles.keys().map(String::as_str).collect::<Vec<_>>(),
            ["#", "../delegatedrole", "/abs", "?", "a b", "targets"]
        );
        assert_eq!(roles["../delegatedrole"], b"../delegatedrole");
        assert_eq!(md.read("root", 10).unwrap().unwrap(), b"r");
        assert!(md.read("root", 0).is_err(), "reads are capped");
        assert!(md.remove("timestamp").unwrap());
        assert!(!md.remove("timestamp").unwrap());
        assert_eq!(md.read("timestamp", 10).unwrap(), None);
    }

    #[test]
    fn targets_are_stored_only_when_verified_and_found_again() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = TargetDir::new(&tmp.path().join("t"));
        let file = TargetFile {
            length: 5,
            hashes: [("sha256".to_owned(), sha256_hex(b"hello"))].into_iter().collect(),
            custom: None,
            extra: Default::default(),
        };
        assert!(!dir.is_current("a/b.txt", &file));
        let failed: Result<PathBuf, io::Error> = dir.store("a/b.txt", |w| {
            w.write_all(b"evil")?;
            Err(io::Error::other("refused"))
        });
        assert!(failed.is_err());
        assert_eq!(fs::read_dir(tmp.path().join("t")).unwrap().count(), 0, "no partial file is left");
        let path = dir.store::<io::Error>("a/b.txt", |w| w.write_all(b"hello")).unwrap();
        assert_eq!(path.file_name().unwrap(), "a%2Fb.txt");
        assert!(dir.is_current("a/b.txt", &file));
        fs::write(&path, b"hellO").unwrap();
        assert!(!dir.is_current("a/b.txt", &file));
    }
}
