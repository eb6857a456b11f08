//! Submissions: what `airlock publish` writes on the publisher's machine
//! and `airlock registry accept` reads (docs/FORMAT.md, "Submissions").
//!
//! ```text
//! SUB/<role>.json          the publisher-signed delegated targets metadata
//! SUB/targets/<path>       the bytes of each new or changed target
//! ```

use super::bins::{self, BinLayout};
use super::error::RegistryError;
use super::fsio::{copy_verified, read_capped, CappedRead, CopyError, METADATA_MAX};
use super::{check_publisher_name, sha256_of};
use airlock_core::archive::ArchivePath;
use airlock_core::attestation::{sigstore_target, SigstoreRef};
use airlock_core::metadata::{DelegatedRole, Delegations, TargetFile, Targets};
use airlock_core::paths::TargetPath;
use airlock_core::provenance::Provenance;
use airlock_core::{Metadata, Signer, Timestamp};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Most entries a submission may hold (a guard against hostile input).
pub const MAX_ENTRIES: usize = 1_000_000;

/// What a submission directory holds.
#[derive(Debug)]
pub(crate) struct Scan {
    /// The publisher: the role file's name, or the publisher its bins
    /// belong to (`acme` for `acme-bin-0f.json`).
    pub publisher: String,
    /// Each role file's bytes, by role name: the publisher's role, its hash
    /// bins, or both.
    pub roles: BTreeMap<String, Vec<u8>>,
    /// Regular files under `targets/`, by target path.
    pub files: BTreeMap<String, PathBuf>,
    /// Every other entry (not a directory), relative to the submission.
    pub others: Vec<String>,
}

impl Scan {
    /// Entries no role of the submission accounts for (`listed` says
    /// whether some role lists a target path), sorted.
    pub fn extra_entries(&self, listed: impl Fn(&str) -> bool) -> Vec<String> {
        let mut out: Vec<String> = self.others.clone();
        out.extend(self.files.keys().filter(|p| !listed(p)).map(|p| format!("targets/{p}")));
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
    if roles.is_empty() {
        return Err(bad("no ROLE.json (the signed role metadata) at its top"));
    }
    roles.sort();
    let owner = |name: &str| {
        let role = name.trim_end_matches(".json").to_owned();
        bins::bin_publisher(&role).map(str::to_owned).unwrap_or(role)
    };
    let publisher = owner(&roles[0].0);
    if let Some((other, _)) = roles.iter().find(|(n, _)| owner(n) != publisher) {
        return Err(bad(&format!(
            "role files of two publishers at its top: {} and {other} (one publisher's role and its bins only)",
            roles[0].0
        )));
    }
    let mut role_bytes = BTreeMap::new();
    for (name, path) in roles {
        let bytes = match read_capped(&path, METADATA_MAX).map_err(|e| RegistryError::io(&path, e))? {
            CappedRead::Bytes(b) => b,
            CappedRead::Missing => return Err(bad(&format!("{name} vanished while reading"))),
            CappedRead::TooLarge => return Err(bad(&format!("{name} is larger than {METADATA_MAX} bytes"))),
        };
        role_bytes.insert(name.trim_end_matches(".json").to_owned(), bytes);
    }
    Ok(Scan { publisher, roles: role_bytes, files, others })
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
    /// The current hash-bin roles (path and bytes, by bin name) when
    /// `current` delegates to bins: every bin it names. Their targets are
    /// carried over.
    pub current_bins: &'a BTreeMap<String, (PathBuf, Vec<u8>)>,
    /// Split the role into this many hash bins (FORMAT.md 5.6); `None`
    /// keeps the current layout, bins or none.
    pub bins: Option<u32>,
    /// The new artifacts.
    pub artifacts: &'a [ArtifactSpec],
    /// Provenance recorded on each new artifact.
    pub provenance: &'a Provenance,
    /// The role's new expiry.
    pub expires: Timestamp,
    /// The time of signing: a bin, or a role with bins, that gets no new
    /// artifact is re-signed anyway when it would expire within half of
    /// the new period, so that a publisher with bins stays fresh.
    pub now: Timestamp,
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
    /// Targets the role lists in all (carried over plus new), its bins included.
    pub targets_total: usize,
    /// SHA-256 of the signed role file (of the current one when only bins
    /// were signed).
    pub sha256: String,
    /// How many hash bins the role publishes in (0: none).
    pub bins: u32,
    /// Every role file this submission holds: the role, its bins, or both.
    pub signed: Vec<SignedRole>,
}

/// One role file a submission holds.
#[derive(Debug, Clone, Serialize)]
pub struct SignedRole {
    /// The role (the publisher's, or one of its bins).
    pub role: String,
    /// Its new version.
    pub version: u64,
    /// Targets it lists.
    pub targets: usize,
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
    let current = match req.current {
        Some((path, bytes)) => Some(
            Metadata::<Targets>::from_bytes(bytes)
                .map_err(|source| RegistryError::PreviousRole { path: path.into(), source })?,
        ),
        None => None,
    };
    let current_layout = match current.as_ref().and_then(|c| c.signed().delegations.as_ref()) {
        Some(d) => Some(own_layout(req.role, d)?),
        None => None,
    };
    let layout = match (current_layout, req.bins) {
        (None, None) => None,
        (None, Some(n)) => Some(
            BinLayout::new(n)
                .map_err(|detail| RegistryError::BinLayout { role: req.role.to_owned(), detail })?,
        ),
        (Some(l), None) => Some(l),
        (Some(l), Some(n)) if n == l.count() => Some(l),
        (Some(l), Some(n)) => {
            return Err(RegistryError::BinLayoutChanged { role: req.role.to_owned(), from: l.count(), to: n })
        }
    };
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
    let result = match layout {
        None => write_submission(req, signer, out, current),
        Some(l) => write_binned(req, signer, out, current, l),
    }
    .and_then(|report| super::fsio::sync_filesystem(out).map(|()| report));
    if result.is_err() {
        let _ = fs::remove_dir_all(out);
    }
    result
}

/// The layout of a publisher's own current role, whose delegations must be
/// exactly a bin layout signed by the keys its first bin names.
fn own_layout(role: &str, d: &Delegations) -> Result<BinLayout, RegistryError> {
    let bad = |detail: String| RegistryError::BinLayout { role: role.to_owned(), detail };
    let first = d.roles.first().ok_or_else(|| bad("it delegates to no role".into()))?;
    BinLayout::of(role, d, d, first).map_err(bad)
}

/// Adds every artifact (and its Sigstore bundle) to the submission, handing
/// each target entry to `insert`; returns the target paths added.
fn add_artifacts(
    req: &PublishRequest<'_>,
    out: &Path,
    mut insert: impl FnMut(String, TargetFile),
) -> Result<Vec<String>, RegistryError> {
    let mut added = Vec::new();
    for a in req.artifacts {
        let mut file = add_file(out, &a.source, &a.target)?;
        // Without the object a target counts as not AI-generated and not
        // reviewed (FORMAT.md 9.4): an all-empty one would only add about
        // 300 bytes per target to every role a client verifies.
        if *req.provenance != Provenance::default() {
            req.provenance.store_in(&mut file.custom);
        }
        if let Some(bundle) = &a.sigstore {
            let target = sigstore_target(&a.target);
            let bundle_file = add_file(out, bundle, &target)?;
            let sha256 = sha256_of(&bundle_file).unwrap_or_default();
            SigstoreRef { bundle: target.clone(), sha256 }.store_in(&mut file.custom);
            insert(target.clone(), bundle_file);
            added.push(target);
        }
        insert(a.target.clone(), file);
        added.push(a.target.clone());
    }
    Ok(added)
}

/// Signs `targets` as `name` and writes it into the submission.
fn sign_into(
    out: &Path,
    name: &str,
    targets: Targets,
    signer: &dyn Signer,
) -> Result<(Metadata<Targets>, Vec<u8>), RegistryError> {
    for (path, file) in &targets.targets {
        if sha256_of(file).is_none() {
            return Err(RegistryError::NoSha256 { role: name.to_owned(), target: path.clone() });
        }
    }
    let mut md = Metadata::new(targets)?;
    md.sign(signer)?;
    let bytes = md.to_bytes();
    super::fsio::write_atomic(&out.join(format!("{name}.json")), &bytes)?;
    Ok((md, bytes))
}

/// The next version of `current` (or version 1), expiring at `expires`.
fn next_version(current: Option<&Metadata<Targets>>, expires: Timestamp) -> Targets {
    let mut t = match current {
        Some(md) => {
            let mut t = md.signed().clone();
            t.version += 1;
            t
        }
        None => Targets::new(1, expires),
    };
    t.expires = expires;
    t.spec_version = airlock_core::metadata::SPEC_VERSION.into();
    t
}

fn write_submission(
    req: &PublishRequest<'_>,
    signer: &dyn Signer,
    out: &Path,
    current: Option<Metadata<Targets>>,
) -> Result<PublishReport, RegistryError> {
    let mut targets = next_version(current.as_ref(), req.expires);
    let added = add_artifacts(req, out, |path, file| {
        targets.targets.insert(path, file);
    })?;
    let (md, bytes) = sign_into(out, req.role, targets, signer)?;
    Ok(PublishReport {
        role: req.role.to_owned(),
        version: md.signed().version,
        expires: md.signed().expires,
        targets_added: added,
        targets_total: md.signed().targets.len(),
        sha256: airlock_core::hash::sha256_hex(&bytes),
        bins: 0,
        signed: vec![SignedRole {
            role: req.role.to_owned(),
            version: md.signed().version,
            targets: md.signed().targets.len(),
        }],
    })
}

/// A release of a publisher with hash bins: each new artifact goes to its
/// bin, and only the bins that change (or would soon expire) are signed.
/// The first release with bins moves every current target into them and
/// signs every bin, empty ones too: a bin the role names but nobody
/// published would break every client's search.
fn write_binned(
    req: &PublishRequest<'_>,
    signer: &dyn Signer,
    out: &Path,
    current: Option<Metadata<Targets>>,
    layout: BinLayout,
) -> Result<PublishReport, RegistryError> {
    let role = req.role;
    let first = current.as_ref().is_none_or(|c| c.signed().delegations.is_none());
    // A current layout the signer's key is not in was made before the
    // custodians rekeyed the publisher: lay it out anew for this key and
    // re-sign every bin, since each was signed by the old one.
    let signer_id = signer.public_key().key_id();
    let reused = current
        .as_ref()
        .and_then(|c| c.signed().delegations.clone())
        .filter(|d| d.keys.contains_key(&signer_id));
    let rekeyed = !first && reused.is_none();
    let delegations = match reused {
        Some(d) => d,
        None => {
            let key = signer.public_key().clone();
            let id = key.key_id();
            let own =
                Delegations { keys: [(id.clone(), key)].into(), roles: Vec::new(), extra: BTreeMap::new() };
            let me = DelegatedRole {
                name: role.to_owned(),
                keyids: vec![id],
                threshold: 1,
                terminating: true,
                paths: None,
                path_hash_prefixes: None,
                extra: BTreeMap::new(),
            };
            layout.delegations(role, &own, &me)
        }
    };
    let mut bins: Vec<(Option<Metadata<Targets>>, Targets, bool)> = Vec::new();
    for r in &delegations.roles {
        let bin = match req.current_bins.get(&r.name) {
            Some((path, bytes)) => Some(
                Metadata::<Targets>::from_bytes(bytes)
                    .map_err(|source| RegistryError::PreviousRole { path: path.clone(), source })?,
            ),
            None if first => None,
            None => {
                return Err(RegistryError::BinMissing {
                    role: role.to_owned(),
                    bin: r.name.clone(),
                    detail: "is not among the current bins given".into(),
                })
            }
        };
        let next = next_version(bin.as_ref(), req.expires);
        bins.push((bin, next, first || rekeyed));
    }
    if let Some(c) = current.as_ref().filter(|_| first) {
        for (path, file) in &c.signed().targets {
            let i = layout.index_of(TargetPath::new(path).hash()) as usize;
            bins[i].1.targets.insert(path.clone(), file.clone());
        }
    }
    let added = add_artifacts(req, out, |path, file| {
        let i = layout.index_of(TargetPath::new(&path).hash()) as usize;
        bins[i].1.targets.insert(path, file);
        bins[i].2 = true;
    })?;
    // Re-signed to stay fresh: whatever expires before half the new period.
    let fresh_until = req.now.plus_secs(req.expires.unix().saturating_sub(req.now.unix()) / 2);
    let mut signed = Vec::new();
    let mut total = 0;
    for (name, (bin, next, changed)) in delegations.roles.iter().map(|r| &r.name).zip(bins) {
        total += next.targets.len();
        if changed || bin.is_some_and(|b| b.signed().expires < fresh_until) {
            let targets = next.targets.len();
            let (md, _) = sign_into(out, name, next, signer)?;
            signed.push(SignedRole { role: name.clone(), version: md.signed().version, targets });
        }
    }
    let stale = current.as_ref().is_none_or(|c| c.signed().expires < fresh_until);
    let (version, expires, sha256) = if first || stale || rekeyed {
        let mut top = next_version(current.as_ref(), req.expires);
        top.targets.clear();
        top.delegations = Some(delegations);
        let (md, bytes) = sign_into(out, role, top, signer)?;
        signed.insert(0, SignedRole { role: role.to_owned(), version: md.signed().version, targets: 0 });
        (md.signed().version, md.signed().expires, airlock_core::hash::sha256_hex(&bytes))
    } else {
        let c =
            current.as_ref().map(|c| (c.signed().version, c.signed().expires)).unwrap_or((0, req.expires));
        (c.0, c.1, airlock_core::hash::sha256_hex(req.current.map(|(_, b)| b).unwrap_or_default()))
    };
    Ok(PublishReport {
        role: role.to_owned(),
        version,
        expires,
        targets_added: added,
        targets_total: total,
        sha256,
        bins: layout.count(),
        signed,
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
