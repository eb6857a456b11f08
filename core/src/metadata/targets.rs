//! Targets metadata and delegations (specification section 4.5).

use super::validate::{check_threshold, check_unique_keyids};
use super::{MetadataError, Role};
use crate::keys::{KeyId, PublicKey};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::borrow::{Borrow, Cow};
use std::collections::{BTreeMap, BTreeSet};

/// Targets metadata: target files and delegations to other roles.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Targets {
    /// Always `targets`.
    #[serde(rename = "_type")]
    pub type_: String,
    /// The TUF specification version.
    pub spec_version: String,
    /// The metadata version.
    pub version: u64,
    /// Expiry.
    pub expires: Timestamp,
    /// Target path -> its length, hashes and custom data.
    #[serde(deserialize_with = "dense_map")]
    pub targets: BTreeMap<String, TargetFile>,
    /// Roles this one delegates to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delegations: Option<Delegations>,
    /// Members we do not interpret.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// One target file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetFile {
    /// Exact length in bytes.
    pub length: u64,
    /// Hashes by algorithm name (we write `sha256`).
    pub hashes: Hashes,
    /// Application data; airlock puts generation provenance here. Boxed:
    /// most targets have none, and a verifier holds every target of every
    /// role (24 bytes a target; docs/BENCHMARKS.md, "Memory").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom: Option<Box<Value>>,
    /// Members we do not interpret.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// A target's hashes by algorithm name, in name order: a map kept as a
/// short sorted list, the usual one hash inline, and a `sha256` of 64
/// lowercase hex digits (as every writer lists it) as its 32 bytes. A
/// `BTreeMap` spends a 544-byte node on the one hash a target usually has,
/// a hex `String` 64 bytes on the heap, and a verifier holds every target
/// of every role (docs/BENCHMARKS.md, "Memory"). Any other value is kept as
/// its text, so every hash reads and writes back as it was listed.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Hashes(List);

/// The usual `sha256` alone as its bytes, any other single hash (boxed:
/// rare, and inline it would make every target's `Hashes` 16 bytes larger),
/// or a sorted list of none or of two or more: never a list of one, nor a
/// one-hash `sha256` in lowercase hex as text, so equal contents are equal
/// values.
#[derive(Clone, PartialEq, Eq, Hash)]
enum List {
    Sha256([u8; 32]),
    One(Box<(Name, String)>),
    Many(Vec<(Name, String)>),
}

impl Default for List {
    fn default() -> Self {
        List::Many(Vec::new())
    }
}

impl List {
    fn from_vec(mut v: Vec<(Name, String)>) -> Self {
        if v.len() == 1 {
            Self::one(v.swap_remove(0))
        } else {
            v.shrink_to_fit();
            List::Many(v)
        }
    }
    fn one((name, hex): (Name, String)) -> Self {
        match (&name, lower_hex_sha256(&hex)) {
            (Name::Sha256, Some(digest)) => List::Sha256(digest),
            _ => List::One(Box::new((name, hex))),
        }
    }
}

/// `s` as a SHA-256 when it is 64 lowercase hex digits: then `hex::encode`
/// writes it back as it was.
fn lower_hex_sha256(s: &str) -> Option<[u8; 32]> {
    let mut d = [0u8; 32];
    let lower = s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    (lower && hex::decode_to_slice(s, &mut d).is_ok()).then_some(d)
}

/// An algorithm name. `sha256`, which nearly every target lists, is one
/// shared string rather than a 32-byte allocation per target.
#[derive(Clone, PartialEq, Eq, Hash)]
enum Name {
    Sha256,
    Other(String),
}

impl Name {
    fn new(name: String) -> Self {
        if name == "sha256" {
            Name::Sha256
        } else {
            Name::Other(name)
        }
    }
    fn as_string(&self) -> &String {
        match self {
            Name::Sha256 => sha256_name(),
            Name::Other(name) => name,
        }
    }
}

/// The one `sha256` name every [`Name::Sha256`] stands for.
fn sha256_name() -> &'static String {
    static SHA256: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SHA256.get_or_init(|| "sha256".to_owned())
}

fn pair((name, hex): &(Name, String)) -> (&String, Cow<'_, str>) {
    (name.as_string(), Cow::Borrowed(hex))
}

impl Hashes {
    /// The hashes held as text (all but a `sha256` held as bytes).
    fn texts(&self) -> &[(Name, String)] {
        match &self.0 {
            List::Sha256(_) => &[],
            List::One(pair) => std::slice::from_ref(&**pair),
            List::Many(v) => v,
        }
    }
    fn take_vec(&mut self) -> Vec<(Name, String)> {
        match std::mem::take(&mut self.0) {
            List::Sha256(d) => vec![(Name::Sha256, hex::encode(d))],
            List::One(pair) => vec![*pair],
            List::Many(v) => v,
        }
    }
    /// The position `algorithm` has or would have in the sorted list.
    fn find<Q: Ord + ?Sized>(&self, algorithm: &Q) -> Result<usize, usize>
    where
        String: Borrow<Q>,
    {
        match &self.0 {
            List::Sha256(_) => match Borrow::<Q>::borrow(sha256_name()).cmp(algorithm) {
                std::cmp::Ordering::Equal => Ok(0),
                std::cmp::Ordering::Less => Err(1),
                std::cmp::Ordering::Greater => Err(0),
            },
            _ => self.texts().binary_search_by(|(k, _)| Borrow::<Q>::borrow(k.as_string()).cmp(algorithm)),
        }
    }
    /// The hash for `algorithm` as listed (as `BTreeMap::get`; a `sha256`
    /// held as its bytes is written out as the lowercase hex it was).
    pub fn get<Q: Ord + ?Sized>(&self, algorithm: &Q) -> Option<Cow<'_, str>>
    where
        String: Borrow<Q>,
    {
        match &self.0 {
            List::Sha256(d) => {
                (Borrow::<Q>::borrow(sha256_name()) == algorithm).then(|| Cow::Owned(hex::encode(d)))
            }
            _ => self.find(algorithm).ok().map(|i| Cow::Borrowed(self.texts()[i].1.as_str())),
        }
    }
    /// The SHA-256 as its 32 bytes, when `sha256` is listed as 64 lowercase
    /// hex digits (as writers list it); without writing it out as hex.
    pub fn sha256_digest(&self) -> Option<[u8; 32]> {
        match &self.0 {
            List::Sha256(d) => Some(*d),
            _ => lower_hex_sha256(self.texts().get(self.find("sha256").ok()?)?.1.as_str()),
        }
    }
    /// Whether a hash for `algorithm` is listed.
    pub fn contains_key<Q: Ord + ?Sized>(&self, algorithm: &Q) -> bool
    where
        String: Borrow<Q>,
    {
        self.find(algorithm).is_ok()
    }
    /// Sets the hash for `algorithm`, returning the one it replaces.
    pub fn insert(&mut self, algorithm: String, hex: String) -> Option<String> {
        let at = self.find(algorithm.as_str());
        let mut v = self.take_vec();
        let old = match at {
            Ok(i) => Some(std::mem::replace(&mut v[i].1, hex)),
            Err(i) => {
                v.insert(i, (Name::new(algorithm), hex));
                None
            }
        };
        self.0 = List::from_vec(v);
        old
    }
    /// Removes the hash for `algorithm`.
    pub fn remove(&mut self, algorithm: &str) -> Option<String> {
        let i = self.find(algorithm).ok()?;
        let mut v = self.take_vec();
        let (_, hex) = v.remove(i);
        self.0 = List::from_vec(v);
        Some(hex)
    }
    /// How many hashes are listed.
    pub fn len(&self) -> usize {
        match &self.0 {
            List::Sha256(_) => 1,
            _ => self.texts().len(),
        }
    }
    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// (algorithm, hash as listed) in algorithm order.
    pub fn iter(&self) -> HashesIter<'_> {
        let digest = match &self.0 {
            List::Sha256(d) => Some(d),
            _ => None,
        };
        HashesIter { digest, texts: self.texts().iter() }
    }
    /// The algorithm names, in order.
    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.iter().map(|(k, _)| k)
    }
    /// The hashes as listed, in algorithm order.
    pub fn values(&self) -> impl Iterator<Item = Cow<'_, str>> {
        self.iter().map(|(_, v)| v)
    }
}

impl std::fmt::Debug for Hashes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl From<BTreeMap<String, String>> for Hashes {
    fn from(m: BTreeMap<String, String>) -> Self {
        // The usual one hash goes inline without a list made and freed.
        let mut pairs = m.into_iter().map(|(k, h)| (Name::new(k), h));
        Hashes(match (pairs.next(), pairs.next()) {
            (None, _) => List::default(),
            (Some(one), None) => List::one(one),
            (Some(a), Some(b)) => List::from_vec([a, b].into_iter().chain(pairs).collect()),
        })
    }
}

/// As collecting into a `BTreeMap`: sorted, the last of equal names wins.
impl FromIterator<(String, String)> for Hashes {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(iter: I) -> Self {
        iter.into_iter().collect::<BTreeMap<_, _>>().into()
    }
}

/// The iterator of `&Hashes`: (algorithm, hash as listed) in algorithm order.
pub struct HashesIter<'a> {
    /// A `sha256` held as bytes: then the only hash.
    digest: Option<&'a [u8; 32]>,
    texts: std::slice::Iter<'a, (Name, String)>,
}

impl<'a> Iterator for HashesIter<'a> {
    type Item = (&'a String, Cow<'a, str>);
    fn next(&mut self) -> Option<Self::Item> {
        match self.digest.take() {
            Some(d) => Some((sha256_name(), Cow::Owned(hex::encode(d)))),
            None => self.texts.next().map(pair),
        }
    }
}

impl<'a> IntoIterator for &'a Hashes {
    type Item = (&'a String, Cow<'a, str>);
    type IntoIter = HashesIter<'a>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl Serialize for Hashes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.iter())
    }
}

impl<'de> Deserialize<'de> for Hashes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        BTreeMap::<String, String>::deserialize(d).map(Hashes::from)
    }
}

/// Entries read before they are added to the map in one go.
const DENSE_CHUNK: usize = 2048;

/// A map read into full B-tree nodes: collected, then built in one go,
/// rather than inserted one by one (which leaves nodes about half full; for
/// the targets of a large role that is megabytes).
fn dense_map<'de, D: serde::Deserializer<'de>>(d: D) -> Result<BTreeMap<String, TargetFile>, D::Error> {
    struct Dense;
    impl<'de> serde::de::Visitor<'de> for Dense {
        type Value = BTreeMap<String, TargetFile>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a map")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
            // In chunks, each built dense and appended (which rebuilds the
            // map dense, freeing the old nodes as it goes): a list of every
            // entry, grown by doubling and sorted with a scratch half its
            // size, was the largest allocation while a large role was read.
            let mut map = BTreeMap::new();
            let mut chunk = Vec::with_capacity(access.size_hint().unwrap_or(0).min(DENSE_CHUNK));
            while let Some(pair) = access.next_entry::<String, TargetFile>()? {
                chunk.push(pair);
                if chunk.len() == DENSE_CHUNK {
                    map.append(&mut chunk.drain(..).collect());
                }
            }
            // As inserting one by one: the last of equal keys wins (in a
            // chunk as collecting keeps it, across chunks as `append` does).
            map.append(&mut chunk.into_iter().collect());
            Ok(map)
        }
    }
    d.deserialize_map(Dense)
}

/// Keys and ordered roles a targets role delegates to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delegations {
    /// Keys of the delegated roles, by id.
    pub keys: BTreeMap<KeyId, PublicKey>,
    /// Delegated roles in priority order.
    pub roles: Vec<DelegatedRole>,
    /// Members we do not interpret.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// One delegation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DelegatedRole {
    /// The role name; its metadata is `NAME.json`.
    pub name: String,
    /// Keys that may sign for it.
    pub keyids: Vec<KeyId>,
    /// How many distinct keys must sign.
    pub threshold: u64,
    /// Whether the search stops at this role when its patterns match.
    pub terminating: bool,
    /// Glob patterns of target paths it may sign for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paths: Option<Vec<String>>,
    /// Hex prefixes of SHA-256(target path) it may sign for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_hash_prefixes: Option<Vec<String>>,
    /// Members we do not interpret.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

impl Role for Targets {
    const TYPE: &'static str = "targets";
    const RAW_MEMBERS: Option<&'static [&'static str]> = Some(&["delegations"]);
    fn version(&self) -> u64 {
        self.version
    }
    fn expires(&self) -> Timestamp {
        self.expires
    }
    fn spec_version(&self) -> &str {
        &self.spec_version
    }

    fn validate_raw(signed: &Value) -> Result<(), MetadataError> {
        let roles = signed.get("delegations").and_then(|d| d.get("roles")).and_then(Value::as_array);
        for role in roles.into_iter().flatten() {
            let name = role.get("name").and_then(Value::as_str).unwrap_or("(unnamed)");
            check_threshold(name, role)?;
        }
        Ok(())
    }

    fn validate(&self) -> Result<(), MetadataError> {
        let Some(d) = &self.delegations else { return Ok(()) };
        let mut names = BTreeSet::new();
        for role in &d.roles {
            // As python-tuf: a delegated role may not be called like a
            // top-level role, whose metadata it would then stand in for.
            if role.name.is_empty() || super::TOP_LEVEL_ROLES.contains(&role.name.as_str()) {
                return Err(MetadataError::Schema(format!(
                    "delegated role name {:?} is empty or a top-level role name",
                    role.name
                )));
            }
            if !names.insert(role.name.as_str()) {
                return Err(MetadataError::DuplicateDelegatedRole(role.name.clone()));
            }
            if role.paths.is_some() == role.path_hash_prefixes.is_some() {
                return Err(MetadataError::PathsXorPrefixes(role.name.clone()));
            }
            check_unique_keyids(&role.name, &role.keyids)?;
            for k in &role.keyids {
                if !d.keys.contains_key(k) {
                    return Err(MetadataError::UndefinedKey { role: role.name.clone(), keyid: k.clone() });
                }
            }
        }
        Ok(())
    }
}

impl Delegations {
    /// The delegated role called `name`.
    pub fn role(&self, name: &str) -> Option<&DelegatedRole> {
        self.roles.iter().find(|r| r.name == name)
    }
}

impl Targets {
    /// Empty targets metadata with no delegations.
    pub fn new(version: u64, expires: Timestamp) -> Self {
        Targets {
            type_: "targets".into(),
            spec_version: super::SPEC_VERSION.into(),
            version,
            expires,
            targets: BTreeMap::new(),
            delegations: None,
            extra: BTreeMap::new(),
        }
    }
}
