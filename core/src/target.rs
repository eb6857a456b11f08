//! Checking a target file's bytes against its signed length and hashes,
//! streaming, in constant memory.

use crate::metadata::TargetFile;
use sha2::{Digest, Sha256, Sha512};

/// Why a target's bytes were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// More bytes than the signed length.
    #[error("longer than its signed length {expected}")]
    TooLong {
        /// The signed length.
        expected: u64,
    },
    /// Fewer bytes than the signed length.
    #[error("length {found} differs from its signed length {expected}")]
    WrongLength {
        /// The signed length.
        expected: u64,
        /// The length seen.
        found: u64,
    },
    /// A hash differs.
    #[error("{algorithm} {found} differs from the signed {expected}")]
    HashMismatch {
        /// `sha256` or `sha512`.
        algorithm: String,
        /// The signed hash.
        expected: String,
        /// The hash of the bytes.
        found: String,
    },
    /// The metadata lists no hash we compute.
    #[error("no sha256 or sha512 hash is signed for it")]
    NoKnownHash,
}

/// Hashes a target as it streams past and checks it at the end.
pub struct TargetVerifier {
    expected_len: u64,
    seen: u64,
    sha256: Option<(Sha256, String)>,
    sha512: Option<(Sha512, String)>,
}

impl TargetVerifier {
    /// A verifier for the signed description `file`.
    pub fn new(file: &TargetFile) -> Result<Self, TargetError> {
        Self::from_parts(
            file.length,
            file.hashes.get("sha256").as_deref(),
            file.hashes.get("sha512").as_deref(),
        )
    }

    /// A verifier from a length and hex hashes.
    pub fn from_parts(length: u64, sha256: Option<&str>, sha512: Option<&str>) -> Result<Self, TargetError> {
        if sha256.is_none() && sha512.is_none() {
            return Err(TargetError::NoKnownHash);
        }
        Ok(TargetVerifier {
            expected_len: length,
            seen: 0,
            sha256: sha256.map(|h| (Sha256::new(), h.to_ascii_lowercase())),
            sha512: sha512.map(|h| (Sha512::new(), h.to_ascii_lowercase())),
        })
    }

    /// Feeds bytes; fails as soon as the signed length is exceeded.
    pub fn update(&mut self, chunk: &[u8]) -> Result<(), TargetError> {
        self.seen += chunk.len() as u64;
        if self.seen > self.expected_len {
            return Err(TargetError::TooLong { expected: self.expected_len });
        }
        if let Some((h, _)) = &mut self.sha256 {
            h.update(chunk);
        }
        if let Some((h, _)) = &mut self.sha512 {
            h.update(chunk);
        }
        Ok(())
    }

    /// Checks the length and every hash.
    pub fn finish(self) -> Result<(), TargetError> {
        if self.seen != self.expected_len {
            return Err(TargetError::WrongLength { expected: self.expected_len, found: self.seen });
        }
        if let Some((h, expected)) = self.sha256 {
            check("sha256", hex::encode(h.finalize()), expected)?;
        }
        if let Some((h, expected)) = self.sha512 {
            check("sha512", hex::encode(h.finalize()), expected)?;
        }
        Ok(())
    }

    /// Checks a whole buffer.
    pub fn check_bytes(file: &TargetFile, bytes: &[u8]) -> Result<(), TargetError> {
        let mut v = Self::new(file)?;
        v.update(bytes)?;
        v.finish()
    }
}

fn check(algorithm: &str, found: String, expected: String) -> Result<(), TargetError> {
    if found == expected {
        Ok(())
    } else {
        Err(TargetError::HashMismatch { algorithm: algorithm.to_owned(), expected, found })
    }
}
