//! `mirror verify`: re-check everything, as a TUF client and as the
//! importer, and report every problem rather than the first.

use super::error::MirrorError;
use super::layout::Mirror;
use airlock_core::client::{Client, Limits, Transport, TransportError};
use airlock_core::metadata::{Metadata, Snapshot, Targets};
use airlock_core::target::TargetVerifier;
use airlock_core::Timestamp;
use airlock_keyceremony::transcript;
use serde::Serialize;
use std::io::Read;
use std::path::{Path, PathBuf};

/// One problem found.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct MirrorProblem {
    /// The repository, or `mirror`.
    pub repo: String,
    /// What is wrong.
    pub problem: String,
}

/// Reads metadata from a served directory.
pub struct DirTransport(pub PathBuf);

impl Transport for DirTransport {
    fn fetch_metadata(&mut self, name: &str, max_len: u64) -> Result<Option<Vec<u8>>, TransportError> {
        if name.contains('/') {
            return Ok(None);
        }
        read_capped(&self.0.join(name), max_len)
    }
}

fn read_capped(path: &Path, max_len: u64) -> Result<Option<Vec<u8>>, TransportError> {
    let f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(TransportError::Io(e.to_string())),
    };
    let mut b = Vec::new();
    f.take(max_len + 1).read_to_end(&mut b).map_err(|e| TransportError::Io(e.to_string()))?;
    if b.len() as u64 > max_len {
        return Err(TransportError::TooLarge { limit: max_len });
    }
    Ok(Some(b))
}

/// Checks every repository of the mirror from its pinned root, every
/// target file, the trusted state against the served tree, and the audit
/// log's hash chain. `pinned_root` gives each repository's pinned root.
pub fn verify_mirror(
    mirror: &Mirror,
    pinned_root: &dyn Fn(&str) -> Option<Vec<u8>>,
    now: Timestamp,
) -> Result<Vec<MirrorProblem>, MirrorError> {
    super::import::recover(mirror)?;
    let mut problems = Vec::new();
    if mirror.audit_path().exists() {
        if let Err(e) = transcript::read(&mirror.audit_path()) {
            problems.push(MirrorProblem { repo: "mirror".into(), problem: format!("audit log: {e}") });
        }
    }
    for repo in mirror.repos()? {
        let mut report = |p: String| problems.push(MirrorProblem { repo: repo.clone(), problem: p });
        let state = mirror.state(&repo)?;
        if state.timestamp.is_none() {
            continue;
        }
        let Some(root) = pinned_root(&repo) else {
            report("no pinned root".into());
            continue;
        };
        let served = mirror.served(&repo);
        let mut t = DirTransport(served.join("metadata"));
        let mut client = match Client::new(&root, &mut t, now, Limits::default()) {
            Ok(c) => c,
            Err(e) => {
                report(format!("pinned root: {e}"));
                continue;
            }
        };
        if let Err(e) = client.refresh() {
            report(format!("served metadata: {e}"));
            continue;
        }
        let trusted = client.trusted().clone();
        if trusted.timestamp.as_ref().map(|t| &t.bytes) != state.timestamp.as_ref() {
            report("served timestamp.json differs from the trusted state".into());
        }
        if trusted.root.bytes != state.root.clone().unwrap_or_default() {
            report("served root chain ends at another root than the trusted state".into());
        }
        // Every role the snapshot lists and the mirror holds; every target they sign.
        let snap: Option<Metadata<Snapshot>> = trusted.snapshot.as_ref().map(|s| s.metadata.clone());
        for (file, meta) in snap.iter().flat_map(|s| s.signed().meta.clone()) {
            let role = file.trim_end_matches(".json").to_owned();
            let path = served.join(format!("metadata/{}.{file}", meta.version));
            if !path.exists() {
                continue;
            }
            let Ok(bytes) = std::fs::read(&path) else {
                report(format!("{}: unreadable", path.display()));
                continue;
            };
            let md = match Metadata::<Targets>::from_bytes(&bytes) {
                Ok(m) => m,
                Err(e) => {
                    report(format!("{}: {e}", path.display()));
                    continue;
                }
            };
            if role != "targets" {
                if let Err(e) =
                    client.target_info(md.signed().targets.keys().next().map_or("", String::as_str))
                {
                    report(format!("role {role}: {e}"));
                }
            }
            for (target, info) in &md.signed().targets {
                let sha = info.hashes.get("sha256").cloned().unwrap_or_default();
                let p = served.join(crate::registry::target_store_path(target, &sha));
                match std::fs::File::open(&p) {
                    Err(_) => {
                        // Selective bundles may leave a publisher's targets out.
                        if role == "targets" {
                            report(format!("target {target}: missing"));
                        }
                    }
                    Ok(mut f) => {
                        let check = TargetVerifier::new(info).and_then(|mut v| {
                            let mut buf = vec![0u8; 64 * 1024];
                            loop {
                                let n = f.read(&mut buf).unwrap_or(0);
                                if n == 0 {
                                    break;
                                }
                                v.update(&buf[..n])?;
                            }
                            v.finish()
                        });
                        if let Err(e) = check {
                            report(format!("target {target}: {e}"));
                        }
                    }
                }
            }
        }
    }
    Ok(problems)
}
