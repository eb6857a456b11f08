//! Listing a bundle's contents without verifying anything: for a person
//! deciding what to do with a disc. Still refuses unsafe paths and entry
//! types, and caps what it reads, since the input is untrusted.

use super::error::BundleError;
use super::tarfmt::type_name;
use airlock_core::archive::ArchivePath;
use airlock_core::bundle::{BundleManifest, MANIFEST_PATH};
use airlock_core::metadata::AnyMetadata;
use serde::Serialize;
use std::io::{BufRead, BufReader, Read};

/// What an unverified look at a bundle shows.
#[derive(Debug, Serialize)]
pub struct Inspection {
    /// The manifest as written (not verified).
    pub manifest: BundleManifest,
    /// Metadata files: name, type, version, expiry.
    pub metadata: Vec<(String, String, u64, String)>,
    /// Targets listed by the carried roles: path, length, role, custom data.
    pub targets: Vec<(String, u64, String, Option<serde_json::Value>)>,
}

const MAX_METADATA: u64 = 16 << 20;

/// Reads the manifest and metadata entries of a bundle, skipping artifacts.
pub fn inspect_bundle<R: Read>(input: R) -> Result<Inspection, BundleError> {
    let mut buffered = BufReader::new(input);
    let gzip = buffered.fill_buf().map_err(|e| BundleError::Io(e.to_string()))?.starts_with(&[0x1f, 0x8b]);
    let reader: Box<dyn Read> =
        if gzip { Box::new(flate2::bufread::GzDecoder::new(buffered)) } else { Box::new(buffered) };
    let mut archive = tar::Archive::new(reader);
    let mut manifest = None;
    let mut metadata = Vec::new();
    let mut targets = Vec::new();
    let entries = archive.entries().map_err(|e| BundleError::Malformed(e.to_string()))?.raw(true);
    for entry in entries {
        let mut entry = entry.map_err(|e| BundleError::Malformed(e.to_string()))?;
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let kind = entry.header().entry_type();
        if !kind.is_file() {
            return Err(BundleError::ForbiddenEntryType { path: raw, kind: type_name(kind) });
        }
        let path =
            ArchivePath::new(&raw).map_err(|source| BundleError::UnsafePath { path: raw.clone(), source })?;
        let size = entry.size();
        if manifest.is_none() {
            if path.as_str() != MANIFEST_PATH {
                return Err(BundleError::ManifestNotFirst(raw));
            }
            let bytes = read_capped(&mut entry, size)?;
            manifest = Some(BundleManifest::from_bytes(&bytes)?);
            continue;
        }
        let Some(name) = path.as_str().strip_prefix("metadata/") else { continue };
        let bytes = read_capped(&mut entry, size)?;
        let Ok(md) = AnyMetadata::from_bytes(&bytes) else {
            metadata.push((name.to_owned(), "unreadable".into(), 0, String::new()));
            continue;
        };
        metadata.push((name.to_owned(), md.type_name().into(), md.version(), md.expires().to_string()));
        if let AnyMetadata::Targets(t) = md {
            let role = name.split_once('.').map_or(name, |(_, r)| r).trim_end_matches(".json").to_owned();
            for (p, f) in &t.signed().targets {
                targets.push((p.clone(), f.length, role.clone(), f.custom.as_deref().cloned()));
            }
        }
    }
    let manifest = manifest.ok_or_else(|| BundleError::Truncated(MANIFEST_PATH.into()))?;
    Ok(Inspection { manifest, metadata, targets })
}

fn read_capped<R: Read>(entry: &mut tar::Entry<'_, R>, size: u64) -> Result<Vec<u8>, BundleError> {
    if size > MAX_METADATA {
        return Err(BundleError::TooLarge { limit: MAX_METADATA });
    }
    let mut b = Vec::new();
    entry.take(size).read_to_end(&mut b).map_err(|e| BundleError::Io(e.to_string()))?;
    Ok(b)
}
