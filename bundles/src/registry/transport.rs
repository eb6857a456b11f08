//! A TUF [`Transport`] over a metadata directory on disk, for checking a
//! repository as a client would.

use super::fsio::{read_capped, CappedRead};
use airlock_core::client::{safe_role_name, Transport, TransportError};
use std::path::PathBuf;

/// Reads metadata file `NAME` from `DIR/NAME`, never more than the cap the
/// client passes. Names that are not plain file names are refused.
#[derive(Debug, Clone)]
pub struct DirTransport {
    dir: PathBuf,
}

impl DirTransport {
    /// A transport over `dir` (a repository's `metadata/`).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        DirTransport { dir: dir.into() }
    }
}

impl Transport for DirTransport {
    fn fetch_metadata(&mut self, name: &str, max_len: u64) -> Result<Option<Vec<u8>>, TransportError> {
        if !safe_role_name(name) || name.starts_with('.') {
            return Err(TransportError::Io(format!("{name:?} is not a plain file name")));
        }
        match read_capped(&self.dir.join(name), max_len) {
            Ok(CappedRead::Bytes(b)) => Ok(Some(b)),
            Ok(CappedRead::Missing) => Ok(None),
            Ok(CappedRead::TooLarge) => Err(TransportError::TooLarge { limit: max_len }),
            Err(e) => Err(TransportError::Io(e.to_string())),
        }
    }
}
