//! `mirror verify`: re-check everything, as a TUF client and as the
//! importer, and report every problem rather than the first.

use super::error::MirrorError;
use super::import::{trusted_state, Importer, Served};
use super::layout::Mirror;
use airlock_core::admission::{admit, Purpose, Rules, Update};
use airlock_core::client::{Client, Limits, Transport, TransportError, UpdateError};
use airlock_core::metadata::TargetFile;
use airlock_core::target::{TargetError, TargetVerifier};
use airlock_core::Timestamp;
use airlock_keyceremony::transcript;
use serde::Serialize;
use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};

/// One problem found.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct MirrorProblem {
    /// The repository, or `mirror`.
    pub repo: String,
    /// What is wrong.
    pub problem: String,
    /// The repository's metadata has expired and is otherwise intact: not
    /// damage, but clients inside refuse it until a fresher bundle comes.
    pub expired: bool,
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

/// The stored log checkpoint of `repo`, if any, re-checked: signed by the
/// log key of the trusted root, for this registry's log, and carrying the
/// policy's witness cosignatures.
fn check_stored_checkpoint(
    mirror: &Mirror,
    repo: &str,
    served: &Path,
    root: &airlock_core::client::Verified<airlock_core::metadata::Root>,
    importer: &Importer,
    now: Timestamp,
) -> Result<Option<String>, MirrorError> {
    let Some(bytes) = mirror.state(repo)?.checkpoint else { return Ok(None) };
    let first = served.join("metadata/1.root.json");
    let identity = match std::fs::read(&first)
        .ok()
        .and_then(|b| airlock_core::Metadata::<airlock_core::metadata::Root>::from_bytes(&b).ok())
    {
        Some(r1) => airlock_core::registry_identity(&r1),
        None => return Ok(Some(format!("{}: unreadable, so the log's origin is unknown", first.display()))),
    };
    let checked = airlock_core::log::verify_checkpoint(&bytes, &identity, root.signed(), now)
        .map_err(|e| e.to_string())
        .and_then(|(_, note)| importer.policy.check_witnesses(&note).map(|_| ()).map_err(|e| e.to_string()));
    Ok(checked.err().map(|e| format!("stored log checkpoint: {e}")))
}

/// Checks every repository of the mirror from its pinned root: the served
/// metadata as a TUF client reads it, every role reachable from top-level
/// targets, the admission rules over everything served (as for an import,
/// without freshness), every target file's bytes, the trusted state against
/// the served tree, and the audit log's hash chain. A trusted state that
/// does not read is an error, not a problem to list.
pub fn verify_mirror(
    mirror: &Mirror,
    importer: &Importer,
    now: Timestamp,
) -> Result<Vec<MirrorProblem>, MirrorError> {
    super::import::recover(mirror)?;
    let mut problems = Vec::new();
    if let Ok(bytes) = std::fs::read(mirror.audit_path()) {
        for e in transcript::scan(&bytes).damage {
            problems.push(MirrorProblem {
                repo: "mirror".into(),
                problem: format!("audit log: {e}"),
                expired: false,
            });
        }
    }
    for repo in mirror.repos()? {
        let Some(prior) = trusted_state(mirror, &repo)? else { continue };
        // Expiry is reported apart from damage: past it, everything else is
        // checked as of the last instant the metadata was valid.
        let (expires, role) = prior.earliest_expiry();
        let now = if now >= expires {
            problems.push(MirrorProblem {
                repo: repo.clone(),
                problem: format!("{role} expired at {expires}; import a fresher bundle"),
                expired: true,
            });
            expires.plus_secs(-1)
        } else {
            now
        };
        let mut report =
            |p: String| problems.push(MirrorProblem { repo: repo.clone(), problem: p, expired: false });
        let Some(root) = importer.pins.root(&repo) else {
            report("no pinned root".into());
            continue;
        };
        let served = mirror.served(&repo);
        let mut t = DirTransport(served.join("metadata"));
        let mut client = match Client::new(root, &mut t, now, Limits::default()) {
            Ok(c) => c,
            Err(e) => {
                report(format!("pinned root: {e}"));
                continue;
            }
        };
        if let Err(e) = client.refresh().and_then(|()| load_reachable(&mut client).map(drop)) {
            report(format!("served metadata: {e}"));
            continue;
        }
        let trusted = client.into_trusted();
        if let Some(p) = check_stored_checkpoint(mirror, &repo, &served, &trusted.root, importer, now)? {
            report(p);
        }
        if trusted.timestamp.as_ref().map(|t| &t.bytes) != Some(&prior.timestamp.bytes) {
            report("served timestamp.json differs from the trusted state".into());
        }
        if trusted.root.bytes != prior.root.bytes {
            report("served root chain ends at another root than the trusted state".into());
        }
        let carried = BTreeSet::new();
        let update = Update { verified: &trusted, carried: &carried, base_snapshot_version: None };
        let rules = Rules { repo: &repo, pins: &importer.pins, policy: &importer.policy, now };
        if let Err(e) = admit(&update, Some(&prior), &Served(served.clone()), &rules, Purpose::Reverify) {
            report(e.to_string());
        }
        for (role, md) in &trusted.targets {
            for (target, info) in &md.signed().targets {
                match check_served_target(&served, target, info) {
                    Ok(()) => {}
                    Err(ServedTarget::Missing) => report(format!("target {target} (role {role}): missing")),
                    Err(ServedTarget::Unreadable(p, e)) => {
                        report(format!("target {target}: {}: unreadable: {e}", p.display()))
                    }
                    Err(ServedTarget::Differs(e)) => report(format!("target {target}: {e}")),
                }
            }
        }
    }
    Ok(problems)
}

/// Why a served target file does not stand for its signed description.
#[derive(Debug)]
pub(crate) enum ServedTarget {
    /// No such file in the served tree.
    Missing,
    /// The file could not be read.
    Unreadable(PathBuf, std::io::Error),
    /// Its bytes are not the signed length and hashes.
    Differs(TargetError),
}

/// Hashes the served copy of `target` (under `served`, a repository's
/// served tree) against `info`, its signed description, streaming.
pub(crate) fn check_served_target(
    served: &Path,
    target: &str,
    info: &TargetFile,
) -> Result<(), ServedTarget> {
    let sha = info.hashes.get("sha256").unwrap_or_default();
    let path = served.join(crate::registry::target_store_path(target, &sha));
    let Ok(mut f) = std::fs::File::open(&path) else { return Err(ServedTarget::Missing) };
    let mut v = TargetVerifier::new(info).map_err(ServedTarget::Differs)?;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = f.read(&mut buf).map_err(|e| ServedTarget::Unreadable(path.clone(), e))?;
        if n == 0 {
            break;
        }
        v.update(&buf[..n]).map_err(ServedTarget::Differs)?;
    }
    v.finish().map_err(ServedTarget::Differs)
}

/// Loads every targets role reachable from top-level targets that the
/// snapshot lists, each through every delegator that reaches it. Returns
/// the roles loaded, top-level targets included.
pub fn load_reachable<T: Transport + ?Sized>(
    client: &mut Client<'_, T>,
) -> Result<BTreeSet<String>, UpdateError> {
    let mut queue = vec!["targets".to_owned()];
    let mut seen = BTreeSet::from(["targets".to_owned()]);
    while let Some(parent) = queue.pop() {
        let children: Vec<String> = client.trusted().targets[&parent]
            .signed()
            .delegations
            .iter()
            .flat_map(|d| d.roles.iter().map(|r| r.name.clone()))
            .collect();
        for child in children {
            let listed = client
                .trusted()
                .snapshot
                .as_ref()
                .is_some_and(|s| s.signed().meta.contains_key(&format!("{child}.json")));
            if !listed {
                continue;
            }
            // Through every delegator: a role loaded once is checked again
            // against each delegation that reaches it.
            client.update_targets(&child, Some(&parent))?;
            if seen.insert(child.clone()) {
                queue.push(child);
            }
        }
    }
    Ok(seen)
}
