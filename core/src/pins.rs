//! Namespace pins: a TAP 4 map file binding target path patterns to
//! repositories (registries), each with its pinned root (docs/PINS.md).
//!
//! The map file (`map.json`) is the accepted TAP 4 format:
//!
//! ```json
//! {"repositories": {"acme": [], "public": ["https://example.invalid/"]},
//!  "mapping": [
//!    {"paths": ["acme/*"], "repositories": ["acme"], "terminating": true, "threshold": 1},
//!    {"paths": ["*/*"], "repositories": ["public"], "terminating": true, "threshold": 1}]}
//! ```
//!
//! Beside it, one directory per repository name holds that repository's
//! pinned root (`<name>/root.json`). This module is pure: callers hand it the
//! bytes of the map file and of each root, and it checks them all before a
//! [`Pins`] exists.
//!
//! What is checked, each failure its own [`PinsError`] variant: strict JSON
//! (no duplicate keys), every member of the documented shape and no other
//! (a misspelt `terminating` must not quietly mean `false`), repository
//! names usable as directory names, every mapping with paths, known and
//! distinct repositories and a threshold from 1 to the number of its
//! repositories, a root for every repository and none for others, each root
//! valid root metadata meeting its own root threshold, no rehearsal root,
//! and no two repositories with one identity.
//!
//! A threshold above 1 (TAP 4's multi-repository consensus) is refused with
//! [`PinsError::UnsupportedThreshold`]: a bundle carries one registry's
//! metadata, so no single import could ever satisfy it.
//!
//! [`Pins::authorize`] runs the TAP 4 search for the repository a verified
//! target came from; see there.

use crate::canonical::parse_strict;
use crate::extension::{ExtensionError, RootExtension, ROOT_EXTENSION};
use crate::identity;
use crate::metadata::{Metadata, MetadataError, Root};
use crate::paths::glob_match;
use crate::rootchain::registry_identity;
use crate::threshold::{Authorization, ThresholdError};
use crate::time::Timestamp;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The map file's name in a pins directory.
pub const MAP_FILE: &str = "map.json";
/// The pinned root's file name in each repository's directory.
pub const ROOT_FILE: &str = "root.json";
/// Longest repository name accepted, in bytes.
pub const MAX_NAME_LEN: usize = 64;

/// Why pins were refused, or why a target is not authorised.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PinsError {
    /// The map file is not JSON, or names one key twice in an object.
    #[error("map file is not valid JSON: {0}")]
    Json(String),
    /// The map file is JSON but not of the documented shape (a missing or
    /// unknown member, a wrong type).
    #[error("map file is malformed: {0}")]
    Malformed(String),
    /// A repository name that cannot serve as a directory name.
    #[error(
        "repository name {0:?} is not usable as a directory name (1 to {MAX_NAME_LEN} of A-Z a-z 0-9 . _ -, not starting with a dot)"
    )]
    BadRepositoryName(String),
    /// The map file has no mappings, so it would refuse every target.
    #[error("map file has no mappings; every target would be refused")]
    NoMappings,
    /// A mapping with an empty `paths` list.
    #[error("mapping {mapping} has no paths")]
    NoPaths {
        /// The mapping's index (0-based).
        mapping: usize,
    },
    /// A path pattern that is empty or starts with `/` (target paths never do).
    #[error("mapping {mapping}: path pattern {pattern:?} can never match a target path")]
    BadPattern {
        /// The mapping's index.
        mapping: usize,
        /// The pattern.
        pattern: String,
    },
    /// A mapping with an empty `repositories` list.
    #[error("mapping {mapping} names no repositories")]
    NoRepositories {
        /// The mapping's index.
        mapping: usize,
    },
    /// A mapping names a repository that `repositories` does not define.
    #[error("mapping {mapping} names repository {repository:?}, which the map file does not define")]
    UnknownRepository {
        /// The mapping's index.
        mapping: usize,
        /// The undefined name.
        repository: String,
    },
    /// A mapping names one repository twice.
    #[error("mapping {mapping} names repository {repository:?} twice")]
    DuplicateRepository {
        /// The mapping's index.
        mapping: usize,
        /// The repeated name.
        repository: String,
    },
    /// A threshold of 0, or above the number of the mapping's repositories.
    #[error("mapping {mapping} has threshold {threshold}, but names {repositories} repositor(ies)")]
    ThresholdOutOfRange {
        /// The mapping's index.
        mapping: usize,
        /// The threshold written.
        threshold: u64,
        /// How many repositories the mapping names.
        repositories: usize,
    },
    /// A threshold above 1: TAP 4 consensus of several repositories is not
    /// supported, since one bundle carries one registry's metadata and so
    /// could never satisfy it.
    #[error(
        "mapping {mapping} has threshold {threshold}: agreement of several registries is not supported (a bundle carries one registry, so it could never be met); use threshold 1"
    )]
    UnsupportedThreshold {
        /// The mapping's index.
        mapping: usize,
        /// The threshold written.
        threshold: u64,
    },
    /// A repository in the map file has no pinned root.
    #[error("repository {repository:?} has no pinned root ({repository}/{ROOT_FILE})")]
    MissingRoot {
        /// The repository.
        repository: String,
    },
    /// A pinned root was given for a repository the map file does not define.
    #[error("a root is pinned for {repository:?}, which the map file does not define")]
    UnlistedRoot {
        /// The name the root was given under.
        repository: String,
    },
    /// A pinned root is not valid root metadata.
    #[error("pinned root of {repository:?} is not valid root metadata: {source}")]
    BadRoot {
        /// The repository.
        repository: String,
        /// Why.
        source: MetadataError,
    },
    /// A pinned root is not signed by a threshold of its own root keys.
    #[error("pinned root of {repository:?} is not signed by a threshold of its own root keys: {source}")]
    RootThreshold {
        /// The repository.
        repository: String,
        /// The count.
        source: ThresholdError,
    },
    /// A pinned root's `x-airlock` member is malformed.
    #[error("pinned root of {repository:?}: {source}")]
    BadExtension {
        /// The repository.
        repository: String,
        /// Why.
        source: ExtensionError,
    },
    /// A pinned root is a rehearsal root, which may never initialise a mirror.
    #[error("pinned root of {repository:?} is a rehearsal root (throwaway keys); it can never be pinned")]
    RehearsalRoot {
        /// The repository.
        repository: String,
    },
    /// A pinned root after version 1 that does not record the registry
    /// identity, which only root version 1 defines.
    #[error(
        "pinned root of {repository:?} is version {version} but records no registry identity (x-airlock.identity); pin root version 1 instead"
    )]
    NoIdentity {
        /// The repository.
        repository: String,
        /// The root's version.
        version: u64,
    },
    /// A recorded identity that is not 64 hex digits.
    #[error("pinned root of {repository:?} records identity {identity:?}, which is not 64 hex digits")]
    BadIdentity {
        /// The repository.
        repository: String,
        /// The identity as written.
        identity: String,
    },
    /// Two repositories pin one registry.
    #[error("repositories {first:?} and {second:?} pin the same registry identity {identity}")]
    DuplicateIdentity {
        /// The identity.
        identity: String,
        /// The first repository (in name order).
        first: String,
        /// The second.
        second: String,
    },
    /// The target's namespace is bound to other repositories: the target is
    /// refused even though its own registry signed it (dependency confusion).
    #[error(
        "target {target:?} came from repository {repository:?}, but mapping {mapping} binds it to {}; refused (a registry not pinned for this namespace)",
        allowed.join(", ")
    )]
    NotAuthorized {
        /// The target path.
        target: String,
        /// The repository it came from.
        repository: String,
        /// The mapping that decided: the first terminating one that matched,
        /// or the last matching one when none of them terminates.
        mapping: usize,
        /// Every repository the matching mappings consulted would have
        /// accepted, in map order.
        allowed: Vec<String>,
    },
    /// No mapping's paths match the target.
    #[error("target {target:?} matches no mapping in the pins; refused")]
    Unmapped {
        /// The target path.
        target: String,
    },
}

/// The map file as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MapFile {
    repositories: BTreeMap<String, Vec<String>>,
    mapping: Vec<MappingFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MappingFile {
    paths: Vec<String>,
    repositories: Vec<String>,
    terminating: bool,
    threshold: u64,
}

/// One mapping: target path patterns bound to repositories.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    /// TUF glob patterns (`*` does not cross `/`).
    pub paths: Vec<String>,
    /// The repositories trusted for these paths.
    pub repositories: Vec<String>,
    /// Whether the search stops here for a matching target.
    pub terminating: bool,
    /// How many repositories must agree (always 1 in what [`Pins`] accepts).
    pub threshold: u64,
}

/// One pinned repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinnedRepository {
    /// The repository's name in the map file.
    pub name: String,
    /// The URLs the map file lists (informational here: bundles arrive by hand).
    pub urls: Vec<String>,
    /// The registry identity, lowercase hex (SHA-256 of root version 1's
    /// canonical `signed` bytes).
    pub identity: String,
    /// The pinned root's version.
    pub root_version: u64,
    /// The pinned root's expiry.
    pub root_expires: Timestamp,
    /// The registry's human name from `x-airlock`, when the root has one.
    pub registry_name: Option<String>,
    root: Vec<u8>,
}

impl PinnedRepository {
    /// The pinned root's bytes, exactly as given.
    pub fn root(&self) -> &[u8] {
        &self.root
    }
}

/// A checked set of pins: the map file and every repository's pinned root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pins {
    repositories: BTreeMap<String, PinnedRepository>,
    mappings: Vec<Mapping>,
    /// The Sigstore `trusted_root.json` the importer trusts (`sigstore/trusted_root.json`
    /// in a pins directory), if any: what publisher provenance is checked against.
    sigstore_root: Option<Vec<u8>>,
}

/// Whether `name` can serve as a directory name on any file system we meet.
fn name_ok(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && !name.starts_with('.')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

fn parse_map(map_json: &[u8]) -> Result<MapFile, PinsError> {
    let value = parse_strict(map_json).map_err(|e| PinsError::Json(e.0))?;
    let map: MapFile = serde_json::from_value(value).map_err(|e| PinsError::Malformed(e.to_string()))?;
    if let Some(bad) = map.repositories.keys().find(|n| !name_ok(n)) {
        return Err(PinsError::BadRepositoryName(bad.clone()));
    }
    if map.mapping.is_empty() {
        return Err(PinsError::NoMappings);
    }
    for (i, m) in map.mapping.iter().enumerate() {
        if m.paths.is_empty() {
            return Err(PinsError::NoPaths { mapping: i });
        }
        if let Some(p) = m.paths.iter().find(|p| p.is_empty() || p.starts_with('/')) {
            return Err(PinsError::BadPattern { mapping: i, pattern: p.clone() });
        }
        if m.repositories.is_empty() {
            return Err(PinsError::NoRepositories { mapping: i });
        }
        for (j, r) in m.repositories.iter().enumerate() {
            if !map.repositories.contains_key(r) {
                return Err(PinsError::UnknownRepository { mapping: i, repository: r.clone() });
            }
            if m.repositories[..j].contains(r) {
                return Err(PinsError::DuplicateRepository { mapping: i, repository: r.clone() });
            }
        }
        let n = m.repositories.len();
        if m.threshold == 0 || m.threshold > n as u64 {
            return Err(PinsError::ThresholdOutOfRange {
                mapping: i,
                threshold: m.threshold,
                repositories: n,
            });
        }
        if m.threshold > 1 {
            return Err(PinsError::UnsupportedThreshold { mapping: i, threshold: m.threshold });
        }
    }
    Ok(map)
}

/// Checks one pinned root and learns its identity.
fn pin_root(name: &str, urls: Vec<String>, bytes: Vec<u8>) -> Result<PinnedRepository, PinsError> {
    let repository = || name.to_owned();
    let md = Metadata::<Root>::from_bytes(&bytes)
        .map_err(|source| PinsError::BadRoot { repository: repository(), source })?;
    let root = md.signed();
    // A pin is checked for consistency, not currency: expiry and retiring
    // deadlines apply when a bundle is verified against it, at that time.
    let auth = Authorization::top_level(root, "root")
        .map_err(|source| PinsError::RootThreshold { repository: repository(), source })?;
    auth.verify(md.signatures(), &md.payload(), Timestamp::from_unix(i64::MIN))
        .map_err(|source| PinsError::RootThreshold { repository: repository(), source })?;
    let ext = if root.extra.contains_key(ROOT_EXTENSION) {
        Some(
            RootExtension::of(root)
                .map_err(|source| PinsError::BadExtension { repository: repository(), source })?,
        )
    } else {
        None
    };
    if ext.as_ref().is_some_and(|e| e.rehearsal) {
        return Err(PinsError::RehearsalRoot { repository: repository() });
    }
    let identity = if root.version == 1 {
        registry_identity(&md)
    } else {
        let id = ext
            .as_ref()
            .and_then(|e| e.identity.clone())
            .ok_or(PinsError::NoIdentity { repository: repository(), version: root.version })?;
        if id.len() != 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(PinsError::BadIdentity { repository: repository(), identity: id });
        }
        id.to_ascii_lowercase()
    };
    Ok(PinnedRepository {
        name: repository(),
        urls,
        identity,
        root_version: root.version,
        root_expires: root.expires,
        registry_name: ext.map(|e| e.registry),
        root: bytes,
    })
}

impl Pins {
    /// These pins with the Sigstore trusted root the importer trusts.
    pub fn with_sigstore_root(mut self, trusted_root_json: Vec<u8>) -> Self {
        self.sigstore_root = Some(trusted_root_json);
        self
    }

    /// The pinned Sigstore trusted root, if any.
    pub fn sigstore_root(&self) -> Option<&[u8]> {
        self.sigstore_root.as_deref()
    }

    /// Checks the map file and the pinned roots (by repository name) and
    /// builds the pins. See the module documentation for every check.
    pub fn from_parts(map_json: &[u8], roots: BTreeMap<String, Vec<u8>>) -> Result<Pins, PinsError> {
        let map = parse_map(map_json)?;
        if let Some(name) = map.repositories.keys().find(|n| !roots.contains_key(*n)) {
            return Err(PinsError::MissingRoot { repository: name.clone() });
        }
        if let Some(name) = roots.keys().find(|n| !map.repositories.contains_key(*n)) {
            return Err(PinsError::UnlistedRoot { repository: name.clone() });
        }
        let mut roots = roots;
        let mut repositories = BTreeMap::new();
        for (name, urls) in map.repositories {
            let bytes = roots.remove(&name).unwrap_or_default();
            let pinned = pin_root(&name, urls, bytes)?;
            if let Some(first) =
                repositories.values().find(|r: &&PinnedRepository| r.identity == pinned.identity)
            {
                return Err(PinsError::DuplicateIdentity {
                    identity: pinned.identity.clone(),
                    first: first.name.clone(),
                    second: name,
                });
            }
            repositories.insert(name, pinned);
        }
        let mappings = map
            .mapping
            .into_iter()
            .map(|m| Mapping {
                paths: m.paths,
                repositories: m.repositories,
                terminating: m.terminating,
                threshold: m.threshold,
            })
            .collect();
        Ok(Pins { repositories, mappings, sigstore_root: None })
    }

    /// The repository names a map file defines, after checking the map file
    /// alone (everything but the roots): for a caller that must learn which
    /// `<name>/root.json` files to read before calling [`Pins::from_parts`].
    pub fn repository_names(map_json: &[u8]) -> Result<Vec<String>, PinsError> {
        Ok(parse_map(map_json)?.repositories.into_keys().collect())
    }

    /// The repository pinned to registry `identity` (hex, any case), if any.
    pub fn repository_for_identity(&self, identity: &str) -> Option<&str> {
        self.repositories
            .values()
            .find(|r| r.identity.eq_ignore_ascii_case(identity))
            .map(|r| r.name.as_str())
    }

    /// The pinned root of repository `repo`, exactly as given.
    pub fn root(&self, repo: &str) -> Option<&[u8]> {
        self.repositories.get(repo).map(PinnedRepository::root)
    }

    /// The registry identity pinned for repository `repo`.
    pub fn identity(&self, repo: &str) -> Option<&str> {
        self.repositories.get(repo).map(|r| r.identity.as_str())
    }

    /// Every pinned repository, in name order.
    pub fn repositories(&self) -> impl Iterator<Item = &PinnedRepository> {
        self.repositories.values()
    }

    /// The mappings, in priority order.
    pub fn mappings(&self) -> &[Mapping] {
        &self.mappings
    }

    /// Whether `target` (a verified target path) may enter the mirror from
    /// repository `repo`, by the TAP 4 search: the mappings are consulted in
    /// order, skipping those whose paths do not match the target.
    ///
    /// - A matching mapping that names `repo` authorises the target; its
    ///   index is returned.
    /// - A matching mapping that does not name `repo` refuses the target if
    ///   it is terminating ([`PinsError::NotAuthorized`]: the namespace
    ///   belongs to another registry); otherwise the search goes on.
    /// - When every matching mapping was passed over, the target is refused
    ///   ([`PinsError::NotAuthorized`] naming the last of them), and when no
    ///   mapping matches at all, [`PinsError::Unmapped`].
    pub fn authorize(&self, target_path: &str, repo: &str) -> Result<usize, PinsError> {
        let mut allowed: Vec<String> = Vec::new();
        let mut last = None;
        for (i, m) in self.mappings.iter().enumerate() {
            if !m.paths.iter().any(|p| glob_match(p, target_path)) {
                continue;
            }
            if m.repositories.iter().any(|r| r == repo) {
                return Ok(i);
            }
            for r in &m.repositories {
                if !allowed.contains(r) {
                    allowed.push(r.clone());
                }
            }
            last = Some(i);
            if m.terminating {
                break;
            }
        }
        match last {
            Some(mapping) => Err(PinsError::NotAuthorized {
                target: target_path.to_owned(),
                repository: repo.to_owned(),
                mapping,
                allowed,
            }),
            None => Err(PinsError::Unmapped { target: target_path.to_owned() }),
        }
    }

    /// A description for people: each repository with its identity in
    /// groups of four hex digits and as words to read aloud, then each
    /// mapping in order.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        for r in self.repositories.values() {
            let _ = writeln!(out, "repository {}", r.name);
            if let Some(n) = &r.registry_name {
                let _ = writeln!(out, "  registry   {n}");
            }
            let _ = writeln!(out, "  identity   {}", identity::grouped(&r.identity));
            if let Some(w) = identity::words(&r.identity) {
                let _ = writeln!(out, "  words      {w}");
            }
            let _ = writeln!(out, "  root       version {}, expires {}", r.root_version, r.root_expires);
            if !r.urls.is_empty() {
                let _ = writeln!(out, "  urls       {}", r.urls.join(" "));
            }
        }
        for (i, m) in self.mappings.iter().enumerate() {
            let _ = writeln!(
                out,
                "mapping {i}: {} -> {} ({}, threshold {})",
                m.paths.join(", "),
                m.repositories.join(", "),
                if m.terminating {
                    "terminating"
                } else {
                    "not terminating: later mappings may also supply these paths"
                },
                m.threshold
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extension::ExpiryDays;
    use crate::keys::Signer;
    use crate::metadata::{RoleKeys, TOP_LEVEL_ROLES};
    use serde_json::{json, Value};

    use crate::keys::testing::ed25519_signer as signer;

    /// A root `version` whose roles are key `seed`, signed by `signers`,
    /// with an `x-airlock` member when `ext` is given.
    fn root_with(version: u64, seed: u8, signers: &[u8], ext: Option<RootExtension>) -> Vec<u8> {
        let pk = signer(seed).public_key().clone();
        let role = RoleKeys {
            keyids: vec![pk.key_id()],
            threshold: 1,
            retiring: Default::default(),
            extra: Default::default(),
        };
        let mut r = Root {
            type_: "root".into(),
            spec_version: "1.0.31".into(),
            consistent_snapshot: Some(true),
            version,
            expires: Timestamp::parse("2030-01-01T00:00:00Z").unwrap(),
            keys: [(pk.key_id(), pk)].into_iter().collect(),
            roles: TOP_LEVEL_ROLES.iter().map(|n| (n.to_string(), role.clone())).collect(),
            extra: Default::default(),
        };
        if let Some(e) = ext {
            e.store(&mut r);
        }
        let mut md = Metadata::new(r).unwrap();
        for &s in signers {
            md.sign(&signer(s)).unwrap();
        }
        md.to_bytes()
    }

    fn root(seed: u8) -> Vec<u8> {
        root_with(1, seed, &[seed], None)
    }

    fn ext(identity: Option<&str>, rehearsal: bool) -> RootExtension {
        RootExtension {
            registry: "Acme registry".into(),
            identity: identity.map(str::to_owned),
            custodians: Default::default(),
            rehearsal,
            expiry_days: ExpiryDays::default(),
            extra: Default::default(),
        }
    }

    fn id_of(root: &[u8]) -> String {
        registry_identity(&Metadata::<Root>::from_bytes(root).unwrap())
    }

    fn mapping(paths: &[&str], repos: &[&str], terminating: bool) -> Value {
        json!({"paths": paths, "repositories": repos, "terminating": terminating, "threshold": 1})
    }

    fn map(repos: &[&str], mappings: Vec<Value>) -> Vec<u8> {
        let r: serde_json::Map<String, Value> = repos.iter().map(|n| (n.to_string(), json!([]))).collect();
        serde_json::to_vec(&json!({"repositories": r, "mapping": mappings})).unwrap()
    }

    fn roots(repos: &[&str]) -> BTreeMap<String, Vec<u8>> {
        repos.iter().enumerate().map(|(i, n)| (n.to_string(), root(10 + i as u8))).collect()
    }

    fn pins(repos: &[&str], mappings: Vec<Value>) -> Result<Pins, PinsError> {
        Pins::from_parts(&map(repos, mappings), roots(repos))
    }

    fn standard() -> Pins {
        pins(
            &["acme", "public", "mirror"],
            vec![
                mapping(&["acme/*"], &["acme"], true),
                mapping(&["shared/*"], &["acme"], false),
                mapping(&["shared/*", "tools/*"], &["mirror"], false),
                mapping(&["*/*"], &["public"], true),
            ],
        )
        .unwrap()
    }

    #[test]
    fn builds_and_reports() {
        let p = standard();
        let acme = root(10);
        assert_eq!(p.root("acme"), Some(acme.as_slice()));
        assert_eq!(p.root("nobody"), None);
        assert_eq!(p.identity("acme"), Some(id_of(&acme).as_str()));
        assert_eq!(p.repository_for_identity(&id_of(&acme)), Some("acme"));
        assert_eq!(p.repository_for_identity(&id_of(&acme).to_uppercase()), Some("acme"));
        assert_eq!(p.repository_for_identity(&id_of(&root(99))), None);
        assert_eq!(p.mappings().len(), 4);
        assert_eq!(p.repositories().count(), 3);
        let names = Pins::repository_names(&map(&["b", "a"], vec![mapping(&["*"], &["a"], true)])).unwrap();
        assert_eq!(names, ["a", "b"]);
    }

    #[test]
    fn describe_shows_identity_grouped_and_words() {
        let p = standard();
        let d = p.describe();
        let id = id_of(&root(10));
        assert!(d.contains("repository acme"), "{d}");
        assert!(d.contains(&identity::grouped(&id)), "{d}");
        assert!(d.contains(&identity::words(&id).unwrap()), "{d}");
        assert!(d.contains("mapping 0: acme/* -> acme (terminating, threshold 1)"), "{d}");
        assert!(d.contains("mapping 2: shared/*, tools/* -> mirror (not terminating"), "{d}");
    }

    #[test]
    fn first_terminating_match_decides() {
        let p = standard();
        assert_eq!(p.authorize("acme/tool.tgz", "acme"), Ok(0));
        // Dependency confusion: the same name from another pinned registry.
        assert_eq!(
            p.authorize("acme/tool.tgz", "public"),
            Err(PinsError::NotAuthorized {
                target: "acme/tool.tgz".into(),
                repository: "public".into(),
                mapping: 0,
                allowed: vec!["acme".into()],
            })
        );
        // A later mapping that would have matched is never consulted.
        assert!(p.authorize("acme/tool.tgz", "mirror").is_err());
        assert_eq!(p.authorize("other/x", "public"), Ok(3));
    }

    #[test]
    fn non_terminating_match_lets_the_search_continue() {
        let p = standard();
        assert_eq!(p.authorize("shared/lib", "acme"), Ok(1));
        assert_eq!(p.authorize("shared/lib", "mirror"), Ok(2));
        assert_eq!(p.authorize("shared/lib", "public"), Ok(3));
        assert_eq!(p.authorize("tools/x", "mirror"), Ok(2));
    }

    #[test]
    fn exhausted_non_terminating_matches_refuse() {
        let p = pins(
            &["a", "b", "c"],
            vec![mapping(&["x/*"], &["a"], false), mapping(&["x/*", "y/*"], &["b"], false)],
        )
        .unwrap();
        assert_eq!(
            p.authorize("x/1", "c"),
            Err(PinsError::NotAuthorized {
                target: "x/1".into(),
                repository: "c".into(),
                mapping: 1,
                allowed: vec!["a".into(), "b".into()],
            })
        );
        let e = p.authorize("x/1", "c").unwrap_err().to_string();
        assert!(e.contains("\"x/1\"") && e.contains("a, b"), "{e}");
    }

    #[test]
    fn unmapped_is_refused_and_star_does_not_cross_slash() {
        let p = standard();
        assert_eq!(
            p.authorize("top-level-file", "public"),
            Err(PinsError::Unmapped { target: "top-level-file".into() })
        );
        assert_eq!(p.authorize("a/b/c", "public"), Err(PinsError::Unmapped { target: "a/b/c".into() }));
        // acme/* does not cover acme/sub/x, so public may supply it via nothing: unmapped.
        assert!(matches!(p.authorize("acme/sub/x", "acme"), Err(PinsError::Unmapped { .. })));
        // An unknown repository is simply never authorised.
        assert!(matches!(p.authorize("acme/x", "nobody"), Err(PinsError::NotAuthorized { .. })));
    }

    #[test]
    fn refuses_bad_json() {
        let r = roots(&["a"]);
        assert!(matches!(Pins::from_parts(b"{", r.clone()), Err(PinsError::Json(_))));
        let dup = br#"{"repositories": {"a": []}, "repositories": {"a": []}, "mapping": []}"#;
        assert!(matches!(Pins::from_parts(dup, r), Err(PinsError::Json(_))));
    }

    #[test]
    fn refuses_malformed_map() {
        let r = roots(&["a"]);
        for bad in [
            json!([]),
            json!({"repositories": {"a": []}}),
            json!({"repositories": {"a": []}, "mapping": [], "extra": 1}),
            json!({"repositories": {"a": "url"}, "mapping": []}),
            json!({"repositories": {"a": []}, "mapping": [{"paths": ["*"], "repositories": ["a"], "threshold": 1}]}),
            json!({"repositories": {"a": []}, "mapping": [{"paths": ["*"], "repositories": ["a"], "terminatng": true, "terminating": true, "threshold": 1}]}),
            json!({"repositories": {"a": []}, "mapping": [{"paths": ["*"], "repositories": ["a"], "terminating": true, "threshold": -1}]}),
            json!({"repositories": {"a": []}, "mapping": [{"paths": ["*"], "repositories": ["a"], "terminating": "yes", "threshold": 1}]}),
        ] {
            let bytes = serde_json::to_vec(&bad).unwrap();
            assert!(matches!(Pins::from_parts(&bytes, r.clone()), Err(PinsError::Malformed(_))), "{bad}");
        }
    }

    #[test]
    fn refuses_bad_repository_names() {
        for name in ["", ".hidden", "a/b", "..", "a b", &"x".repeat(65)] {
            let m = map(&[name], vec![mapping(&["*"], &[name], true)]);
            assert_eq!(
                Pins::repository_names(&m),
                Err(PinsError::BadRepositoryName(name.to_owned())),
                "{name:?}"
            );
        }
    }

    #[test]
    fn refuses_bad_mappings() {
        assert_eq!(pins(&["a"], vec![]).unwrap_err(), PinsError::NoMappings);
        assert_eq!(
            pins(&["a"], vec![mapping(&[], &["a"], true)]).unwrap_err(),
            PinsError::NoPaths { mapping: 0 }
        );
        assert_eq!(
            pins(&["a"], vec![mapping(&["*"], &["a"], true), mapping(&[""], &["a"], true)]).unwrap_err(),
            PinsError::BadPattern { mapping: 1, pattern: String::new() }
        );
        assert_eq!(
            pins(&["a"], vec![mapping(&["/abs/*"], &["a"], true)]).unwrap_err(),
            PinsError::BadPattern { mapping: 0, pattern: "/abs/*".into() }
        );
        assert_eq!(
            pins(&["a"], vec![mapping(&["*"], &[], true)]).unwrap_err(),
            PinsError::NoRepositories { mapping: 0 }
        );
        assert_eq!(
            pins(&["a"], vec![mapping(&["*"], &["b"], true)]).unwrap_err(),
            PinsError::UnknownRepository { mapping: 0, repository: "b".into() }
        );
        assert_eq!(
            pins(&["a"], vec![mapping(&["*"], &["a", "a"], true)]).unwrap_err(),
            PinsError::DuplicateRepository { mapping: 0, repository: "a".into() }
        );
    }

    #[test]
    fn refuses_thresholds() {
        let with = |threshold: u64, repos: &[&str]| {
            pins(
                &["a", "b"],
                vec![json!({"paths": ["*"], "repositories": repos, "terminating": true, "threshold": threshold})],
            )
            .unwrap_err()
        };
        assert_eq!(
            with(0, &["a"]),
            PinsError::ThresholdOutOfRange { mapping: 0, threshold: 0, repositories: 1 }
        );
        assert_eq!(
            with(2, &["a"]),
            PinsError::ThresholdOutOfRange { mapping: 0, threshold: 2, repositories: 1 }
        );
        assert_eq!(with(2, &["a", "b"]), PinsError::UnsupportedThreshold { mapping: 0, threshold: 2 });
        // Threshold 1 of two repositories: either may supply the target.
        let p = pins(
            &["a", "b"],
            vec![json!({"paths": ["*"], "repositories": ["a", "b"], "terminating": true, "threshold": 1})],
        )
        .unwrap();
        assert_eq!(p.authorize("x", "b"), Ok(0));
    }

    #[test]
    fn refuses_missing_and_unlisted_roots() {
        let m = map(&["a", "b"], vec![mapping(&["*"], &["a"], true)]);
        let mut r = roots(&["a"]);
        assert_eq!(
            Pins::from_parts(&m, r.clone()).unwrap_err(),
            PinsError::MissingRoot { repository: "b".into() }
        );
        r.insert("b".into(), root(20));
        r.insert("c".into(), root(21));
        assert_eq!(Pins::from_parts(&m, r).unwrap_err(), PinsError::UnlistedRoot { repository: "c".into() });
    }

    fn with_root(bytes: Vec<u8>) -> Result<Pins, PinsError> {
        let m = map(&["a"], vec![mapping(&["*"], &["a"], true)]);
        Pins::from_parts(&m, [("a".to_owned(), bytes)].into_iter().collect())
    }

    #[test]
    fn refuses_bad_roots() {
        assert!(matches!(with_root(b"not json".to_vec()), Err(PinsError::BadRoot { .. })));
        // Valid metadata of another type.
        let mut targets = crate::metadata::Targets::new(1, Timestamp::parse("2030-01-01T00:00:00Z").unwrap());
        targets.targets.clear();
        let t = Metadata::new(targets).unwrap().to_bytes();
        assert!(matches!(
            with_root(t),
            Err(PinsError::BadRoot { source: MetadataError::WrongType { .. }, .. })
        ));
        // Unsigned, or signed by a key outside its root role.
        assert!(matches!(with_root(root_with(1, 1, &[], None)), Err(PinsError::RootThreshold { .. })));
        assert!(matches!(with_root(root_with(1, 1, &[2], None)), Err(PinsError::RootThreshold { .. })));
    }

    #[test]
    fn identity_of_later_roots_comes_from_the_extension() {
        let id = id_of(&root(1));
        let v3 = root_with(3, 7, &[7], Some(ext(Some(&id.to_uppercase()), false)));
        let p = with_root(v3).unwrap();
        assert_eq!(p.identity("a"), Some(id.as_str()));
        assert_eq!(p.repositories().next().unwrap().root_version, 3);
        assert_eq!(p.repositories().next().unwrap().registry_name.as_deref(), Some("Acme registry"));
        assert_eq!(
            with_root(root_with(2, 7, &[7], None)).unwrap_err(),
            PinsError::NoIdentity { repository: "a".into(), version: 2 }
        );
        assert_eq!(
            with_root(root_with(2, 7, &[7], Some(ext(None, false)))).unwrap_err(),
            PinsError::NoIdentity { repository: "a".into(), version: 2 }
        );
        assert_eq!(
            with_root(root_with(2, 7, &[7], Some(ext(Some("abc"), false)))).unwrap_err(),
            PinsError::BadIdentity { repository: "a".into(), identity: "abc".into() }
        );
        // Version 1 defines the identity; its extension is optional.
        let v1 = root_with(1, 7, &[7], Some(ext(None, false)));
        assert_eq!(with_root(v1.clone()).unwrap().identity("a"), Some(id_of(&v1).as_str()));
    }

    #[test]
    fn refuses_rehearsal_and_malformed_extension() {
        assert_eq!(
            with_root(root_with(1, 7, &[7], Some(ext(None, true)))).unwrap_err(),
            PinsError::RehearsalRoot { repository: "a".into() }
        );
        let mut r: Value = serde_json::from_slice(&root(7)).unwrap();
        r["signed"][ROOT_EXTENSION] = json!({"registry": 5});
        let mut md = Metadata::<Root>::from_bytes(&serde_json::to_vec(&r).unwrap()).unwrap();
        md.sign(&signer(7)).unwrap();
        assert!(matches!(with_root(md.to_bytes()), Err(PinsError::BadExtension { .. })));
    }

    #[test]
    fn refuses_two_repositories_with_one_identity() {
        let m = map(&["a", "b"], vec![mapping(&["*"], &["a", "b"], true)]);
        let later = root_with(2, 8, &[8], Some(ext(Some(&id_of(&root(5))), false)));
        let r = [("a".to_owned(), root(5)), ("b".to_owned(), later)].into_iter().collect();
        assert_eq!(
            Pins::from_parts(&m, r).unwrap_err(),
            PinsError::DuplicateIdentity { identity: id_of(&root(5)), first: "a".into(), second: "b".into() }
        );
    }
}
