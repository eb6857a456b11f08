//! Submissions: what `airlock publish` writes on the publisher's machine
//! and `airlock registry accept` reads (docs/FORMAT.md, "Submissions").
//!
//! ```text
//! SUB/<role>.json          the publisher-signed delegated targets metadata
//! SUB/targets/<path>       the bytes of each new or changed target
//! ```

use super::error::RegistryError;
use super::fsio::{copy_verified, read_capped, CappedRead, CopyError, METADATA_MAX};
use super::{check_publisher_name, sha256_of};
use airlock_core::archive::ArchivePath;
use airlock_core::attestation::{sigstore_target, SigstoreRef};
use airlock_core::metadata::{TargetFile, Targets};
use airlock_core::provenance::Provenance;
use airlock_core::{Metadata, Signer, Timestamp};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Most entries a submission may hold (a guard against hostile input).
pub const MAX_ENTRIES: usize = 100_000;

/// What a submission directory holds.
#[derive(Debug)]
pub(crate) struct Scan {
    /// The role name, from `ROLE.json`.
    pub role: String,
    /// The role file's bytes.
    pub role_bytes: Vec<u8>,
    /// Regular files under `targets/`, by target path.
    pub files: BTreeMap<String, PathBuf>,
    /// Every other entry (not a directory), relative to the submission.
    pub others: Vec<String>,
}

impl Scan {
    /// Entries the role does not account for, sorted.
    pub fn extra_entries(&self, targets: &BTreeMap<String, TargetFile>) -> Vec<String> {
        let mut out: Vec<String> = self.others.clone();
        out.extend(self.files.keys().filter(|p| !targets.contains_key(*p)).map(|p| format!("targets/{p}")));
        out.sort();
        out
    }
}

/// Reads the layout of a submission directory without trusting any of it.
pub(crate) fn scan(sub: &Path) -> Result<Scan, RegistryError> {
    let bad = |detail: &str| RegistryError::BadSubmission { path: sub.into(), detail: detail.into() };
    let meta = fs::symlink_metadata(sub).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => bad("no such directory"),
        _ => RegistryError::io(sub, e),
    })?;
    if !meta.is_dir() {
        return Err(bad("not a directory"));
    }
    let mut roles = Vec::new();
    let mut others = Vec::new();
    let mut files = BTreeMap::new();
    let mut count = 0usize;
    let rd = fs::read_dir(sub).map_err(|e| RegistryError::io(sub, e))?;
    for entry in rd {
        let entry = entry.map_err(|e| RegistryError::io(sub, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let ft = entry.file_type().map_err(|e| RegistryError::io(entry.path(), e))?;
        count += 1;
        if name == "targets" && ft.is_dir() {
            walk(&entry.path(), "", &mut files, &mut others, &mut count)?;
        } else if ft.is_file() && name.ends_with(".json") && entry.file_name().to_str().is_some() {
            roles.push((name, entry.path()));
        } else {
            others.push(name);
        }
        if count > MAX_ENTRIES {
            return Err(bad(&format!("more than {MAX_ENTRIES} entries")));
        }
    }
    let (name, path) = match roles.len() {
        0 => return Err(bad("no ROLE.json (the signed role metadata) at its top")),
        1 => roles.remove(0),
        _ => {
            roles.sort();
            let names: Vec<&str> = roles.iter().map(|(n, _)| n.as_str()).collect();
            return Err(bad(&format!("several role files at its top: {}", names.join(", "))));
        }
    };
    let role = name.trim_end_matches(".json").to_owned();
    let role_bytes = match read_capped(&path, METADATA_MAX).map_err(|e| RegistryError::io(&path, e))? {
        CappedRead::Bytes(b) => b,
        CappedRead::Missing => return Err(bad(&format!("{name} vanished while reading"))),
        CappedRead::TooLarge => return Err(bad(&format!("{name} is larger than {METADATA_MAX} bytes"))),
    };
    Ok(Scan { role, role_bytes, files, others })
}

fn walk(
    dir: &Path,
    prefix: &str,
    files: &mut BTreeMap<String, PathBuf>,
    others: &mut Vec<String>,
    count: &mut usize,
) -> Result<(), RegistryError> {
    let rd = fs::read_dir(dir).map_err(|e| RegistryError::io(dir, e))?;
    for entry in rd {
        let entry = entry.map_err(|e| RegistryError::io(dir, e))?;
        *count += 1;
        if *count > MAX_ENTRIES {
            return Err(RegistryError::BadSubmission {
                path: dir.into(),
                detail: format!("more than {MAX_ENTRIES} entries"),
            });
        }
        let ft = entry.file_type().map_err(|e| RegistryError::io(entry.path(), e))?;
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            others.push(format!("targets/{prefix}{}", entry.file_name().to_string_lossy()));
            continue;
        };
        let rel = format!("{prefix}{name}");
        if ft.is_dir() {
            walk(&entry.path(), &format!("{rel}/"), files, others, count)?;
        } else if ft.is_file() {
            files.insert(rel, entry.path());
        } else {
            others.push(format!("targets/{rel}"));
        }
    }
    Ok(())
}

/// One artifact to publish: a local file and its target path.
#[derive(Debug, Clone)]
pub struct ArtifactSpec {
    /// The file to read.
    pub source: PathBuf,
    /// Its target path (`acme/tool-1.0.tar.gz`).
    pub target: String,
    /// Its Sigstore bundle (`*.sigstore.json`), if the publisher's CI made
    /// one: published as the target `TARGET.sigstore.json` beside it, and
    /// bound by its SHA-256 in the artifact's `custom` (FORMAT.md 9.5).
    pub sigstore: Option<PathBuf>,
}

/// What to publish.
#[derive(Debug, Clone)]
pub struct PublishRequest<'a> {
    /// The publisher's role name.
    pub role: &'a str,
    /// The publisher's current role metadata (its path and bytes), or none
    /// for a first release. Its targets are carried over.
    pub current: Option<(&'a Path, &'a [u8])>,
    /// The new artifacts.
    pub artifacts: &'a [ArtifactSpec],
    /// Provenance recorded on each new artifact.
    pub provenance: &'a Provenance,
    /// The role's new expiry.
    pub expires: Timestamp,
}

/// What `publish` wrote.
#[derive(Debug, Clone, Serialize)]
pub struct PublishReport {
    /// The role.
    pub role: String,
    /// Its new version.
    pub version: u64,
    /// Its expiry.
    pub expires: Timestamp,
    /// Target paths written in this release.
    pub targets_added: Vec<String>,
    /// Targets the role lists in all (carried over plus new).
    pub targets_total: usize,
    /// SHA-256 of the signed role file.
    pub sha256: String,
}

/// Builds, signs and writes a submission to `out` (which must not exist):
/// the previous role's targets plus each artifact with its length, sha256
/// and provenance, at the next version. Each artifact is copied into the
/// submission while it is hashed, so the signed hash is of the bytes
/// shipped. On failure nothing is left at `out`.
pub fn publish(
    req: &PublishRequest<'_>,
    signer: &dyn Signer,
    out: &Path,
) -> Result<PublishReport, RegistryError> {
    check_publisher_name(req.role)?;
    req.provenance.validate()?;
    let mut targets = match req.current {
        Some((path, bytes)) => {
            let md = Metadata::<Targets>::from_bytes(bytes)
                .map_err(|source| RegistryError::PreviousRole { path: path.into(), source })?;
            if md.signed().delegations.is_some() {
                return Err(RegistryError::Delegates { role: req.role.to_owned() });
            }
            let mut t = md.signed().clone();
            t.version += 1;
            t
        }
        None => Targets::new(1, req.expires),
    };
    targets.expires = req.expires;
    targets.spec_version = airlock_core::metadata::SPEC_VERSION.into();
    let mut seen = BTreeMap::new();
    for a in req.artifacts {
        ArchivePath::new(&a.target)
            .map_err(|e| RegistryError::BadArtifact { target: a.target.clone(), reason: e.to_string() })?;
        if seen.insert(a.target.as_str(), ()).is_some() {
            return Err(RegistryError::BadArtifact {
                target: a.target.clone(),
                reason: "given twice".into(),
            });
        }
        if let Some(b) = &a.sigstore {
            let bt = sigstore_target(&a.target);
            if req.artifacts.iter().any(|o| o.target == bt) {
                return Err(RegistryError::BadArtifact {
                    target: bt,
                    reason: "the Sigstore bundle's target path is also given as an artifact".into(),
                });
            }
            if !fs::metadata(b).map(|m| m.is_file()).unwrap_or(false) {
                return Err(RegistryError::BadArtifact {
                    target: a.target.clone(),
                    reason: format!("Sigstore bundle {}: not a readable regular file", b.display()),
                });
            }
        }
        let m = fs::metadata(&a.source).map_err(|e| RegistryError::BadArtifact {
            target: a.target.clone(),
            reason: format!("{}: {e}", a.source.display()),
        })?;
        if !m.is_file() {
            return Err(RegistryError::BadArtifact {
                target: a.target.clone(),
                reason: format!("{}: not a regular file", a.source.display()),
            });
        }
    }
    if req.artifacts.is_empty() {
        return Err(RegistryError::BadArtifact {
            target: String::new(),
            reason: "give at least one artifact".into(),
        });
    }
    if out.symlink_metadata().is_ok() {
        return Err(RegistryError::OutputExists { path: out.into() });
    }
    fs::create_dir(out).map_err(|e| RegistryError::io(out, e))?;
    let result = write_submission(req, signer, out, targets);
    if result.is_err() {
        let _ = fs::remove_dir_all(out);
    }
    result
}

fn write_submission(
    req: &PublishRequest<'_>,
    signer: &dyn Signer,
    out: &Path,
    mut targets: Targets,
) -> Result<PublishReport, RegistryError> {
    let mut added = Vec::new();
    for a in req.artifacts {
        let mut file = add_file(out, &a.source, &a.target)?;
        req.provenance.store_in(&mut file.custom);
        if let Some(bundle) = &a.sigstore {
            let target = sigstore_target(&a.target);
            let bundle_file = add_file(out, bundle, &target)?;
            let sha256 = sha256_of(&bundle_file).unwrap_or_default();
            SigstoreRef { bundle: target.clone(), sha256 }.store_in(&mut file.custom);
            targets.targets.insert(target.clone(), bundle_file);
            added.push(target);
        }
        targets.targets.insert(a.target.clone(), file);
        added.push(a.target.clone());
    }
    for (path, file) in &targets.targets {
        if sha256_of(file).is_none() {
            return Err(RegistryError::NoSha256 { role: req.role.to_owned(), target: path.clone() });
        }
    }
    let mut md = Metadata::new(targets)?;
    md.sign(signer)?;
    let bytes = md.to_bytes();
    let path = out.join(format!("{}.json", req.role));
    super::fsio::write_atomic(&path, &bytes)?;
    Ok(PublishReport {
        role: req.role.to_owned(),
        version: md.signed().version,
        expires: md.signed().expires,
        targets_added: added,
        targets_total: md.signed().targets.len(),
        sha256: airlock_core::hash::sha256_hex(&bytes),
    })
}

/// Copies `source` into the submission as `target`, hashing it, and
/// returns its target file entry.
fn add_file(out: &Path, source: &Path, target: &str) -> Result<TargetFile, RegistryError> {
    let dest = out.join("targets").join(target);
    if let Some(parent) = dest.parent() {
        fs::create_dir_all(parent).map_err(|e| RegistryError::io(parent, e))?;
    }
    let (length, sha256) = hash_file(source)?;
    let file = TargetFile {
        length,
        hashes: [("sha256".to_owned(), sha256)].into_iter().collect(),
        custom: None,
        extra: BTreeMap::new(),
    };
    // Copy while checking against the hash just taken: a file that
    // changes in between is refused instead of shipped unsigned.
    copy_verified(source, &dest, &file).map_err(|e| match e {
        CopyError::Mismatch(err) => RegistryError::BadArtifact {
            target: target.to_owned(),
            reason: format!("{} changed while it was read: {err}", source.display()),
        },
        CopyError::Io(e) => e,
    })?;
    Ok(file)
}

fn hash_file(path: &Path) -> Result<(u64, String), RegistryError> {
    use sha2::{Digest, Sha256};
    let mut f = fs::File::open(path).map_err(|e| RegistryError::io(path, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut len = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(|e| RegistryError::io(path, e))?;
        if n == 0 {
            break;
        }
        len += n as u64;
        h.update(&buf[..n]);
    }
    Ok((len, hex::encode(h.finalize())))
}
