//! Archive entry paths that cannot escape: a newtype that refuses absolute
//! paths, `..`, `.`, empty components, backslashes and control characters
//! at construction, so code holding one never needs to check again.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Longest path accepted (ustar with PAX allows more; we need no more).
pub const MAX_PATH_LEN: usize = 1024;

/// A safe, relative, `/`-separated archive path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct ArchivePath(String);

/// Why a path was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// Empty.
    #[error("empty path")]
    Empty,
    /// Longer than [`MAX_PATH_LEN`].
    #[error("path longer than {MAX_PATH_LEN} bytes")]
    TooLong,
    /// Starts with `/`.
    #[error("absolute path {0:?}")]
    Absolute(String),
    /// Has a `..` component.
    #[error("path {0:?} climbs out with ..")]
    Traversal(String),
    /// Has an empty or `.` component, a backslash, or a control character.
    #[error("path {0:?} is not in canonical form")]
    NotCanonical(String),
}

impl ArchivePath {
    /// Validates `s`.
    pub fn new(s: &str) -> Result<Self, PathError> {
        if s.is_empty() {
            return Err(PathError::Empty);
        }
        if s.len() > MAX_PATH_LEN {
            return Err(PathError::TooLong);
        }
        if s.starts_with('/') {
            return Err(PathError::Absolute(s.to_owned()));
        }
        for part in s.split('/') {
            if part == ".." {
                return Err(PathError::Traversal(s.to_owned()));
            }
            if part.is_empty() || part == "." {
                return Err(PathError::NotCanonical(s.to_owned()));
            }
        }
        if s.chars().any(|c| c == '\\' || c.is_control()) {
            return Err(PathError::NotCanonical(s.to_owned()));
        }
        Ok(ArchivePath(s.to_owned()))
    }

    /// The path.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ArchivePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ArchivePath {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        ArchivePath::new(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_escapes() {
        assert!(ArchivePath::new("metadata/1.root.json").is_ok());
        assert_eq!(ArchivePath::new(""), Err(PathError::Empty));
        assert!(matches!(ArchivePath::new("/etc/passwd"), Err(PathError::Absolute(_))));
        assert!(matches!(ArchivePath::new("a/../../b"), Err(PathError::Traversal(_))));
        assert!(matches!(ArchivePath::new(".."), Err(PathError::Traversal(_))));
        for bad in ["a//b", "./a", "a/", "a\\b", "a\nb", "a/./b"] {
            assert!(matches!(ArchivePath::new(bad), Err(PathError::NotCanonical(_))), "{bad}");
        }
        assert!(serde_json::from_str::<ArchivePath>("\"../x\"").is_err());
    }

    proptest::proptest! {
        #[test]
        fn accepted_paths_never_escape(s in "[a-z./\\\\]{0,12}") {
            if let Ok(p) = ArchivePath::new(&s) {
                let path = std::path::Path::new(p.as_str());
                proptest::prop_assert!(path.is_relative());
                proptest::prop_assert!(path.components().all(|c| matches!(c, std::path::Component::Normal(_))));
            }
        }
    }
}
