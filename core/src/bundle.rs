//! The bundle manifest and volume index (docs/FORMAT.md, "Bundles").
//!
//! The manifest is the first entry of every bundle: it lists every other
//! entry in archive order with its length and SHA-256. It carries no
//! signature of its own and is never trusted for content: every entry it
//! lists is also covered by signed metadata (roots by the root chain,
//! timestamp by its signatures, snapshot and targets roles by the hashes
//! that sign them in, targets by their roles, log files by the signed
//! checkpoint), and a reader checks each entry against both. What the
//! manifest adds is the plan of the stream: a reader refuses any entry it
//! does not list, lists twice, or that differs from what it lists, before
//! reading that entry's bytes beyond its listed length.

use crate::archive::ArchivePath;
use crate::time::Timestamp;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq, SerializeStruct};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

/// Archive name of the manifest, always the first entry.
pub const MANIFEST_PATH: &str = "airlock-bundle.json";

/// The registry's checkpoint in a bundle (docs/FORMAT.md 10.3).
pub const LOG_CHECKPOINT_PATH: &str = "log/checkpoint";
/// The log proofs in a bundle (docs/FORMAT.md 10.3).
pub const LOG_PROOF_PATH: &str = "log/proof.json";

/// Archive name of the checksum list, always the last entry.
pub const SUMS_PATH: &str = "SHA256SUMS";

/// The `format` of manifests this version writes and reads.
pub const BUNDLE_FORMAT: &str = "airlock-bundle-v1";

/// What kind of file an entry is, which decides where it is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    /// TUF metadata under `metadata/`.
    Metadata,
    /// Transparency log material under `log/`.
    Log,
    /// A target file under `targets/`.
    Target,
    /// The `SHA256SUMS` file.
    Sums,
}

impl EntryKind {
    /// The name the manifest writes.
    fn name(self) -> &'static str {
        match self {
            EntryKind::Metadata => "metadata",
            EntryKind::Log => "log",
            EntryKind::Target => "target",
            EntryKind::Sums => "sums",
        }
    }
}

/// One archive entry, owned: what a manifest is built from
/// ([`ManifestEntries`] keeps its entries packed, not as these).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestEntry {
    /// Where it is in the archive.
    pub path: ArchivePath,
    /// What it is.
    pub kind: EntryKind,
    /// Exact length in bytes.
    pub length: u64,
    /// Lowercase hex SHA-256.
    pub sha256: String,
}

/// One entry of a [`ManifestEntries`], borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryRef<'a> {
    /// Where it is in the archive (a valid [`ArchivePath`]).
    pub path: &'a str,
    /// What it is.
    pub kind: EntryKind,
    /// Exact length in bytes.
    pub length: u64,
    sha256: Listed<'a>,
}

/// An entry's `sha256` as listed: the digest when the manifest lists 64
/// lowercase hex digits (as every writer does), else the text as listed
/// (which then matches no file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Listed<'a> {
    Digest([u8; 32]),
    Text(&'a str),
}

impl<'a> EntryRef<'a> {
    /// The SHA-256 as listed (lowercase hex, unless the manifest lists
    /// something else).
    pub fn sha256(&self) -> Cow<'a, str> {
        match self.sha256 {
            Listed::Digest(d) => Cow::Owned(hex::encode(d)),
            Listed::Text(t) => Cow::Borrowed(t),
        }
    }

    /// Whether the listed SHA-256 is `digest` (as hex, lowercase).
    pub fn sha256_is(&self, digest: &[u8; 32]) -> bool {
        matches!(self.sha256, Listed::Digest(d) if d == *digest)
    }

    /// An owned copy.
    pub fn to_entry(&self) -> ManifestEntry {
        ManifestEntry {
            // Every path in a `ManifestEntries` was an `ArchivePath`.
            path: ArchivePath::new(self.path).unwrap_or_else(|e| unreachable!("{e}")),
            kind: self.kind,
            length: self.length,
            sha256: self.sha256().into_owned(),
        }
    }
}

impl Serialize for EntryRef<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // As `ManifestEntry` serialises.
        let mut st = s.serialize_struct("ManifestEntry", 4)?;
        st.serialize_field("path", self.path)?;
        st.serialize_field("kind", &self.kind)?;
        st.serialize_field("length", &self.length)?;
        st.serialize_field("sha256", &self.sha256())?;
        st.end()
    }
}

/// A manifest's entries, packed: the paths in one string, and per entry
/// its kind, length and SHA-256 as 32 bytes. A manifest lists every
/// artifact of the bundle, and with a `String` per path and per hex hash
/// the entries were the largest thing a reader held before the metadata.
/// A target's path names its SHA-256 (`targets/<dir>/<sha256>.<name>`), so
/// when it names the one listed, the path's hex digits are where it is kept
/// (at 100,000 artifacts the 32 bytes were 3.2 MB; docs/BENCHMARKS.md).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ManifestEntries {
    /// Every path, one after another.
    paths: String,
    items: Vec<Item>,
    /// The SHA-256 of each entry whose path does not begin its last
    /// component with it in lowercase hex.
    digests: Vec<[u8; 32]>,
    /// By entry: a `sha256` that is not 64 lowercase hex digits, as listed.
    odd: BTreeMap<usize, Box<str>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Item {
    /// Where its path ends in `paths` (it starts where the previous ends).
    end: usize,
    length: u64,
    /// Where its SHA-256 is: [`IN_PATH`], or its index in `digests`.
    sha256: u32,
    kind: EntryKind,
}

/// An entry's SHA-256 is the 64 hex digits its path's last component
/// begins with.
const IN_PATH: u32 = u32::MAX;

/// Where the last component of `path` begins.
fn last_component(path: &str) -> usize {
    path.rfind('/').map_or(0, |i| i + 1)
}

/// `s` as a SHA-256 when it is 64 lowercase hex digits.
fn digest_of(s: &str) -> Option<[u8; 32]> {
    let mut d = [0u8; 32];
    let lower = s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    (lower && hex::decode_to_slice(s, &mut d).is_ok()).then_some(d)
}

impl ManifestEntries {
    /// No entries.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many entries.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Entry `i`.
    pub fn get(&self, i: usize) -> Option<EntryRef<'_>> {
        (i < self.len()).then(|| self.at(i))
    }

    /// Entry `i`, which must exist.
    fn at(&self, i: usize) -> EntryRef<'_> {
        let item = &self.items[i];
        let path = self.path(i);
        let sha256 = match self.odd.get(&i) {
            Some(t) => Listed::Text(t),
            None if item.sha256 == IN_PATH => {
                // 64 lowercase hex digits (`push_parts` compared them).
                let mut d = [0u8; 32];
                let hex = path.get(last_component(path)..).unwrap_or_default();
                let _ = hex::decode_to_slice(hex.get(..64).unwrap_or_default(), &mut d);
                Listed::Digest(d)
            }
            None => Listed::Digest(self.digests[item.sha256 as usize]),
        };
        EntryRef { path, kind: item.kind, length: item.length, sha256 }
    }

    /// The path of entry `i`, which must exist.
    fn path(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.items[i - 1].end };
        &self.paths[start..self.items[i].end]
    }

    /// The last entry.
    pub fn last(&self) -> Option<EntryRef<'_>> {
        self.get(self.len().checked_sub(1)?)
    }

    /// The entries in order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = EntryRef<'_>> + ExactSizeIterator + '_ {
        (0..self.len()).map(move |i| self.at(i))
    }

    /// Owned copies of the entries, in order.
    pub fn to_vec(&self) -> Vec<ManifestEntry> {
        self.iter().map(|e| e.to_entry()).collect()
    }

    /// Adds an entry at the end.
    pub fn push(&mut self, e: ManifestEntry) {
        self.push_parts(e.path.as_str(), e.kind, e.length, &e.sha256);
    }

    fn push_parts(&mut self, path: &str, kind: EntryKind, length: u64, sha256: &str) {
        let i = self.items.len();
        self.paths.push_str(path);
        let sha256 = match digest_of(sha256) {
            // Lowercase hex both: equal text is an equal digest.
            Some(_) if path[last_component(path)..].starts_with(sha256) => IN_PATH,
            Some(d) => {
                // Fewer than `u32::MAX` entries fit in memory.
                let at = u32::try_from(self.digests.len())
                    .ok()
                    .filter(|&at| at != IN_PATH)
                    .unwrap_or_else(|| unreachable!("too many entries"));
                self.digests.push(d);
                at
            }
            None => {
                self.odd.insert(i, sha256.into());
                IN_PATH
            }
        };
        self.items.push(Item { end: self.paths.len(), length, sha256, kind });
    }

    /// Keeps only the entries `keep` is true of, in order.
    pub fn retain(&mut self, mut keep: impl FnMut(EntryRef<'_>) -> bool) {
        let kept: ManifestEntries = self.iter().filter(|e| keep(*e)).map(|e| e.to_entry()).collect();
        *self = kept;
    }

    /// The first entry that repeats a path listed before it (or the
    /// manifest's own path), as the order of the list finds it.
    fn first_duplicate(&self) -> Option<EntryRef<'_>> {
        let path = |i: usize| self.path(i);
        let mut order: Vec<usize> = (0..self.len()).collect();
        order.sort_unstable_by(|&a, &b| path(a).cmp(path(b)).then(a.cmp(&b)));
        let mut first = order.iter().copied().find(|&i| path(i) == MANIFEST_PATH);
        for w in order.windows(2) {
            if path(w[0]) == path(w[1]) && first.is_none_or(|f| w[1] < f) {
                first = Some(w[1]);
            }
        }
        Some(self.at(first?))
    }

    fn shrink_to_fit(&mut self) {
        self.paths.shrink_to_fit();
        self.items.shrink_to_fit();
        self.digests.shrink_to_fit();
    }
}

impl fmt::Debug for ManifestEntries {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl FromIterator<ManifestEntry> for ManifestEntries {
    fn from_iter<I: IntoIterator<Item = ManifestEntry>>(iter: I) -> Self {
        let mut entries = ManifestEntries::new();
        entries.extend(iter);
        entries
    }
}

impl Extend<ManifestEntry> for ManifestEntries {
    fn extend<I: IntoIterator<Item = ManifestEntry>>(&mut self, iter: I) {
        for e in iter {
            self.push(e);
        }
    }
}

impl Serialize for ManifestEntries {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.len()))?;
        for e in self.iter() {
            seq.serialize_element(&e)?;
        }
        seq.end()
    }
}

/// A bundle manifest.
#[derive(Debug, Clone, PartialEq)]
pub struct BundleManifest {
    /// Always [`BUNDLE_FORMAT`].
    pub format: String,
    /// The registry identity (SHA-256 of root version 1's canonical signed bytes).
    pub registry: String,
    /// When the bundle was made.
    pub created: Timestamp,
    /// The snapshot version the bundle carries.
    pub snapshot_version: u64,
    /// For a delta bundle: the snapshot version it builds on.
    pub base_snapshot_version: Option<u64>,
    /// For a selective bundle: the namespace patterns it carries.
    pub namespaces: Option<Vec<String>>,
    /// Delegated roles left out (selection or delta): not an error when absent.
    pub omitted_roles: Vec<String>,
    /// Every other entry, in archive order.
    pub entries: ManifestEntries,
    /// Members we do not interpret.
    pub extra: BTreeMap<String, Value>,
}

impl Serialize for BundleManifest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // As the derived form did: the members in this order, the optional
        // ones only when present, then `extra` flattened.
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("format", &self.format)?;
        m.serialize_entry("registry", &self.registry)?;
        m.serialize_entry("created", &self.created)?;
        m.serialize_entry("snapshot_version", &self.snapshot_version)?;
        if let Some(b) = &self.base_snapshot_version {
            m.serialize_entry("base_snapshot_version", b)?;
        }
        if let Some(n) = &self.namespaces {
            m.serialize_entry("namespaces", n)?;
        }
        m.serialize_entry("omitted_roles", &self.omitted_roles)?;
        m.serialize_entry("entries", &self.entries)?;
        for (k, v) in &self.extra {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

/// Why a manifest was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    /// Not JSON of the manifest's shape.
    #[error("malformed bundle manifest: {0}")]
    Malformed(String),
    /// A format this version does not read.
    #[error("unknown bundle format {0:?}")]
    UnknownFormat(String),
    /// One path listed twice, or the manifest listing itself.
    #[error("bundle manifest lists {0} twice")]
    DuplicateEntry(String),
}

impl BundleManifest {
    /// Parses and checks a manifest.
    ///
    /// A manifest as writers write it (each member and entry member once,
    /// entries as objects of exactly their four members) is read in one
    /// pass straight into packed entries. Anything else, and every refusal,
    /// goes the way manifests were always read: the whole document as a
    /// strict JSON tree, then typed; so what is accepted, and why anything
    /// is refused, stays exactly that.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ManifestError> {
        let m = match Self::read_packed(bytes) {
            Some(m) => m,
            None => Self::read_tree(bytes)?,
        };
        if m.format != BUNDLE_FORMAT {
            return Err(ManifestError::UnknownFormat(m.format));
        }
        if let Some(e) = m.entries.first_duplicate() {
            return Err(ManifestError::DuplicateEntry(e.path.to_owned()));
        }
        Ok(m)
    }

    /// The one-pass reading: `None` for anything it does not read.
    fn read_packed(bytes: &[u8]) -> Option<Self> {
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let mut m = de.deserialize_map(PackedManifest).ok()?;
        de.end().ok()?;
        m.entries.shrink_to_fit();
        Some(m)
    }

    /// The reading through a tree.
    fn read_tree(bytes: &[u8]) -> Result<Self, ManifestError> {
        let v = crate::canonical::parse_strict(bytes).map_err(|e| ManifestError::Malformed(e.0))?;
        let m: TreeManifest =
            serde_json::from_value(v).map_err(|e| ManifestError::Malformed(e.to_string()))?;
        Ok(BundleManifest {
            format: m.format,
            registry: m.registry,
            created: m.created,
            snapshot_version: m.snapshot_version,
            base_snapshot_version: m.base_snapshot_version,
            namespaces: m.namespaces,
            omitted_roles: m.omitted_roles,
            entries: m.entries.into_iter().collect(),
            extra: m.extra,
        })
    }

    /// The manifest's bytes: canonical JSON (control characters escaped)
    /// and a newline, so equal manifests are equal bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Canonical JSON with control characters escaped: the manifest is
        // not signed, and must read back whatever text it carries.
        let mut out = self.log_line().unwrap_or_default();
        out.push(b'\n');
        out
    }

    /// What `to_log_line` writes for the manifest serialised to a tree,
    /// with the entries written straight out rather than built as one.
    fn log_line(&self) -> Result<Vec<u8>, crate::canonical::CanonicalError> {
        use crate::canonical::{write_log_string, write_log_value};
        let mut members = serde_json::Map::new();
        members.insert("format".into(), tree_of(&self.format));
        members.insert("registry".into(), tree_of(&self.registry));
        members.insert("created".into(), tree_of(&self.created));
        members.insert("snapshot_version".into(), tree_of(&self.snapshot_version));
        if let Some(b) = &self.base_snapshot_version {
            members.insert("base_snapshot_version".into(), tree_of(b));
        }
        if let Some(n) = &self.namespaces {
            members.insert("namespaces".into(), tree_of(n));
        }
        members.insert("omitted_roles".into(), tree_of(&self.omitted_roles));
        let mut sorted: Vec<(&str, Option<&Value>)> =
            members.iter().map(|(k, v)| (k.as_str(), Some(v))).collect();
        // `extra` is flattened after the members, so its value wins a clash.
        for (k, v) in &self.extra {
            match sorted.iter_mut().find(|(n, _)| n == k) {
                Some(slot) => slot.1 = Some(v),
                None => sorted.push((k, Some(v))),
            }
        }
        if !sorted.iter().any(|(k, _)| *k == "entries") {
            sorted.push(("entries", None));
        }
        sorted.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        let mut out = Vec::with_capacity(256 + self.entries.paths.len() + self.entries.len() * 128);
        out.push(b'{');
        for (i, (k, v)) in sorted.into_iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_log_string(k, &mut out);
            out.push(b':');
            match v {
                Some(v) => write_log_value(v, &mut out)?,
                None => {
                    out.push(b'[');
                    for (j, e) in self.entries.iter().enumerate() {
                        if j > 0 {
                            out.push(b',');
                        }
                        out.extend_from_slice(b"{\"kind\":");
                        write_log_string(e.kind.name(), &mut out);
                        out.extend_from_slice(b",\"length\":");
                        out.extend_from_slice(e.length.to_string().as_bytes());
                        out.extend_from_slice(b",\"path\":");
                        write_log_string(e.path, &mut out);
                        out.extend_from_slice(b",\"sha256\":");
                        write_log_string(&e.sha256(), &mut out);
                        out.push(b'}');
                    }
                    out.push(b']');
                }
            }
        }
        out.push(b'}');
        Ok(out)
    }
}

/// A member's value as the derived `Serialize` wrote it into a tree.
fn tree_of<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// The manifest's shape as serde reads it from a tree: the reading whose
/// acceptance and errors [`BundleManifest::from_bytes`] keeps.
#[derive(Deserialize)]
#[serde(expecting = "struct BundleManifest")] // as the errors always named it
struct TreeManifest {
    format: String,
    registry: String,
    created: Timestamp,
    snapshot_version: u64,
    #[serde(default)]
    base_snapshot_version: Option<u64>,
    #[serde(default)]
    namespaces: Option<Vec<String>>,
    #[serde(default)]
    omitted_roles: Vec<String>,
    entries: Vec<ManifestEntry>,
    #[serde(flatten)]
    extra: BTreeMap<String, Value>,
}

/// Reads a manifest as writers write it in one pass, without a tree;
/// refuses (for the tree reading to decide) anything else. Every value it
/// accepts, the tree reading accepts with the same result: the members are
/// typed with the same types, each named at most once, and `extra` values
/// are read strictly (no key twice).
struct PackedManifest;

fn once<T, E: de::Error>(slot: &mut Option<T>, v: T) -> Result<(), E> {
    match slot.replace(v) {
        None => Ok(()),
        Some(_) => Err(E::custom("member named twice")),
    }
}

impl<'de> Visitor<'de> for PackedManifest {
    type Value = BundleManifest;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a bundle manifest")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<BundleManifest, A::Error> {
        let (mut format, mut registry, mut created, mut snapshot_version) = (None, None, None, None);
        let (mut base, mut namespaces, mut omitted, mut entries) = (None, None, None, None);
        let mut extra = BTreeMap::new();
        while let Some(key) = access.next_key::<Cow<'de, str>>()? {
            match &*key {
                "format" => once(&mut format, access.next_value::<String>()?)?,
                "registry" => once(&mut registry, access.next_value::<String>()?)?,
                "created" => once(&mut created, access.next_value::<Timestamp>()?)?,
                "snapshot_version" => once(&mut snapshot_version, access.next_value::<u64>()?)?,
                "base_snapshot_version" => once(&mut base, access.next_value::<Option<u64>>()?)?,
                "namespaces" => once(&mut namespaces, access.next_value::<Option<Vec<String>>>()?)?,
                "omitted_roles" => once(&mut omitted, access.next_value::<Vec<String>>()?)?,
                "entries" => once(&mut entries, access.next_value_seed(PackedEntries)?)?,
                _ => {
                    let crate::canonical::StrictValue(v) = access.next_value()?;
                    if extra.insert(key.into_owned(), v).is_some() {
                        return Err(de::Error::custom("member named twice"));
                    }
                }
            }
        }
        let missing = || de::Error::custom("missing member");
        Ok(BundleManifest {
            format: format.ok_or_else(missing)?,
            registry: registry.ok_or_else(missing)?,
            created: created.ok_or_else(missing)?,
            snapshot_version: snapshot_version.ok_or_else(missing)?,
            base_snapshot_version: base.flatten(),
            namespaces: namespaces.flatten(),
            omitted_roles: omitted.unwrap_or_default(),
            entries: entries.ok_or_else(missing)?,
            extra,
        })
    }
}

struct PackedEntries;

impl<'de> DeserializeSeed<'de> for PackedEntries {
    type Value = ManifestEntries;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<ManifestEntries, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for PackedEntries {
    type Value = ManifestEntries;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of entries")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ManifestEntries, A::Error> {
        let mut entries = ManifestEntries::new();
        while seq.next_element_seed(PackedEntry(&mut entries))?.is_some() {}
        Ok(entries)
    }
}

/// One entry, appended to the entries as read.
struct PackedEntry<'e>(&'e mut ManifestEntries);

impl<'de> DeserializeSeed<'de> for PackedEntry<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for PackedEntry<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an entry")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<(), A::Error> {
        let (mut path, mut kind, mut length, mut sha256) = (None, None, None, None);
        while let Some(key) = access.next_key::<Cow<'de, str>>()? {
            match &*key {
                "path" => once(&mut path, access.next_value::<Cow<'de, str>>()?)?,
                "kind" => {
                    let k = match &*access.next_value::<Cow<'de, str>>()? {
                        "metadata" => EntryKind::Metadata,
                        "log" => EntryKind::Log,
                        "target" => EntryKind::Target,
                        "sums" => EntryKind::Sums,
                        _ => return Err(de::Error::custom("unknown kind")),
                    };
                    once(&mut kind, k)?
                }
                "length" => once(&mut length, access.next_value::<u64>()?)?,
                "sha256" => once(&mut sha256, access.next_value::<Cow<'de, str>>()?)?,
                _ => return Err(de::Error::custom("unknown member")),
            }
        }
        let (Some(path), Some(kind), Some(length), Some(sha256)) = (path, kind, length, sha256) else {
            return Err(de::Error::custom("missing member"));
        };
        ArchivePath::new(&path).map_err(de::Error::custom)?;
        self.0.push_parts(&path, kind, length, &sha256);
        Ok(())
    }
}

/// The `SHA256SUMS` text for `entries`, in the format `sha256sum -c` reads:
/// `<hex>  <path>`, one per line, in archive order. It lists every entry but
/// itself and the manifest (which lists it: one of the two must be left out
/// of the other, and the manifest is never trusted for content anyway).
pub fn sha256sums(entries: &ManifestEntries) -> String {
    let mut s = String::new();
    for e in entries.iter().filter(|e| e.kind != EntryKind::Sums) {
        s.push_str(&format!("{}  {}\n", e.sha256(), e.path));
    }
    s
}

/// One volume of a split bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Volume {
    /// File name, e.g. `bundle.tar.000`.
    pub name: String,
    /// Length in bytes.
    pub length: u64,
    /// Lowercase hex SHA-256 of the volume.
    pub sha256: String,
}

/// The index of a split bundle, written beside the volumes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VolumeIndex {
    /// Always `airlock-volumes-v1`.
    pub format: String,
    /// Length of the whole bundle.
    pub total_length: u64,
    /// SHA-256 of the whole bundle.
    pub bundle_sha256: String,
    /// The volumes in order.
    pub volumes: Vec<Volume>,
    /// The registry's signature over the index, with what a lone disc
    /// needs to check it (docs/FORMAT.md 7.5); absent when unsigned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication: Option<crate::volume_auth::VolumeAuth>,
}

/// The `format` of volume indexes.
pub const VOLUMES_FORMAT: &str = "airlock-volumes-v1";

impl VolumeIndex {
    /// Parses a volume index (`BASE.volumes.json`): its format must be
    /// [`VOLUMES_FORMAT`] and every volume name a plain file name.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ManifestError> {
        let value = crate::canonical::parse_strict(bytes).map_err(|e| ManifestError::Malformed(e.0))?;
        let index: VolumeIndex =
            serde_json::from_value(value).map_err(|e| ManifestError::Malformed(e.to_string()))?;
        if index.format != VOLUMES_FORMAT {
            return Err(ManifestError::UnknownFormat(index.format));
        }
        let plain = |n: &str| !n.is_empty() && !n.contains(['/', '\\', '\0']) && !n.starts_with('.');
        if let Some(v) = index.volumes.iter().find(|v| !plain(&v.name)) {
            return Err(ManifestError::Malformed(format!(
                "volume name {:?} is not a plain file name",
                v.name
            )));
        }
        Ok(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The manifest type before its entries were packed, as it was read
    /// and written: what `from_bytes` and `to_bytes` must still do.
    #[derive(Serialize, Deserialize)]
    #[serde(expecting = "struct BundleManifest")]
    struct Before {
        format: String,
        registry: String,
        created: Timestamp,
        snapshot_version: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        base_snapshot_version: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        namespaces: Option<Vec<String>>,
        #[serde(default)]
        omitted_roles: Vec<String>,
        entries: Vec<ManifestEntry>,
        #[serde(flatten)]
        extra: BTreeMap<String, Value>,
    }

    /// What reading `bytes` gave before: the manifest as a tree and its bytes.
    fn before(bytes: &[u8]) -> Result<(Value, Vec<u8>), ManifestError> {
        let v = crate::canonical::parse_strict(bytes).map_err(|e| ManifestError::Malformed(e.0))?;
        let m: Before = serde_json::from_value(v).map_err(|e| ManifestError::Malformed(e.to_string()))?;
        if m.format != BUNDLE_FORMAT {
            return Err(ManifestError::UnknownFormat(m.format));
        }
        let mut seen = std::collections::BTreeSet::new();
        seen.insert(MANIFEST_PATH);
        for e in &m.entries {
            if !seen.insert(e.path.as_str()) {
                return Err(ManifestError::DuplicateEntry(e.path.to_string()));
            }
        }
        let v = serde_json::to_value(&m).unwrap_or(Value::Null);
        let mut out = crate::canonical::to_log_line(&v).unwrap_or_default();
        out.push(b'\n');
        Ok((v, out))
    }

    fn now(bytes: &[u8]) -> Result<(Value, Vec<u8>), ManifestError> {
        let m = BundleManifest::from_bytes(bytes)?;
        let again = BundleManifest::from_bytes(&m.to_bytes());
        if let Ok(a) = again {
            assert_eq!(a, m, "round trip");
        }
        Ok((serde_json::to_value(&m).unwrap_or(Value::Null), m.to_bytes()))
    }

    fn same(text: &str) {
        assert_eq!(now(text.as_bytes()), before(text.as_bytes()), "{text}");
    }

    const SHA: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn doc(entries: &str, rest: &str) -> String {
        format!(
            r#"{{"created":"2026-06-01T00:00:00Z","entries":[{entries}],"format":"airlock-bundle-v1","registry":"r","snapshot_version":3{rest}}}"#
        )
    }

    fn entry(path: &str, kind: &str, sha: &str) -> String {
        format!(r#"{{"kind":"{kind}","length":1,"path":"{path}","sha256":"{sha}"}}"#)
    }

    #[test]
    fn reads_and_refuses_as_before() {
        let m = entry("metadata/1.root.json", "metadata", SHA);
        let t = entry(&format!("targets/a/{SHA}.x"), "target", SHA);
        let s = entry("SHA256SUMS", "sums", SHA);
        let plain = format!("{m},{t},{s}");
        let cases = [
            doc(&plain, ""),
            doc("", ""),
            doc(&plain, r#","base_snapshot_version":2,"namespaces":["a/*"],"omitted_roles":["b"]"#),
            doc(&plain, r#","base_snapshot_version":null,"namespaces":null"#),
            doc(&plain, r#","zzz":{"a":[1,-2,1.5,"\u0001"]},"aaa":null"#),
            doc(&plain, r#","zzz":{"a":1,"a":2}"#),
            doc(&plain, r#","zzz":1e400"#),
            doc(&plain, r#","zzz":123456789012345678901234567890"#),
            doc(&plain, r#","format":"airlock-bundle-v1""#),
            doc(&plain, r#","entries":[]"#),
            doc(&plain, r#","snapshot_version":"3""#),
            doc(&plain, r#","created":"yesterday""#),
            doc(&plain, r#","omitted_roles":null"#),
            doc(&plain, r#","namespaces":[1]"#),
            doc(&plain, r#","base_snapshot_version":-1"#),
            doc(&format!("{m},{m}"), ""),
            doc(&entry(MANIFEST_PATH, "metadata", SHA), ""),
            doc(&format!("{t},{m},{t}"), ""),
            doc(&entry("a\u{1}b", "metadata", SHA), ""),
            doc(&entry("a\\u0001b", "metadata", SHA), ""),
            doc(&entry("../x", "metadata", SHA), ""),
            doc(&entry("x", "Metadata", SHA), ""),
            doc(&entry("x", "log", &SHA.to_uppercase()), ""),
            doc(&entry("x", "log", "abc"), ""),
            doc(&entry("x", "log", ""), ""),
            doc(&entry("x", "log", &format!("{}g", &SHA[1..])), ""),
            doc(r#"{"kind":"log","length":1,"path":"x","sha256":"s","more":[1]}"#, ""),
            doc(r#"{"kind":"log","length":1,"path":"x","sha256":"s","kind":"log"}"#, ""),
            doc(r#"{"kind":"log","length":1,"path":"x"}"#, ""),
            doc(r#"{"sha256":5,"path":"../x","kind":"log","length":1}"#, ""),
            doc(r#"{"length":-1,"path":"x","kind":"nope","sha256":"s"}"#, ""),
            doc(r#"{"kind":{"log":null},"length":1,"path":"x","sha256":"s"}"#, ""),
            doc(r#"["x","log",1,"s"]"#, ""),
            doc(r#"["x","log",1]"#, ""),
            doc(r#"["x","log",1,"s",5]"#, ""),
            doc(r#"{"kind":"log","length":1.0,"path":"x","sha256":"s"}"#, ""),
            doc(r#"{"kind":"log","length":1,"path":"x","sha256":"s"},null"#, ""),
            r#"{"format":"other","entries":[],"created":"2026-06-01T00:00:00Z","registry":"r","snapshot_version":1}"#.into(),
            r#"{"entries":[],"created":"2026-06-01T00:00:00Z","registry":"r","snapshot_version":1}"#.into(),
            r#"{"snapshot_version":"x","registry":5,"format":"airlock-bundle-v1"}"#.into(),
            format!("{} \n\t", doc(&plain, "")),
            format!("{} x", doc(&plain, "")),
            format!("[{}]", doc(&plain, "")),
            "null".into(),
            "".into(),
            "{".into(),
        ];
        for c in &cases {
            same(c);
        }
        // What writers write takes the one-pass reading.
        assert!(BundleManifest::read_packed(cases[0].as_bytes()).is_some());
        assert!(BundleManifest::read_packed(cases[2].as_bytes()).is_some());
        assert!(BundleManifest::read_packed(cases[4].as_bytes()).is_some());
        assert!(BundleManifest::read_packed(cases[22].as_bytes()).is_some());
        assert!(BundleManifest::read_packed(cases[26].as_bytes()).is_none());
    }

    fn member() -> impl Strategy<Value = String> {
        let sha = prop_oneof![Just(SHA.to_owned()), "[0-9a-fA-F]{63,65}", "[a-z]{0,3}"];
        let path = prop_oneof![
            Just("metadata/1.root.json".to_owned()),
            "[a-z./]{1,6}",
            Just(MANIFEST_PATH.to_owned())
        ];
        let kind = prop_oneof![Just("metadata"), Just("log"), Just("target"), Just("sums"), Just("x")];
        let value = prop_oneof![
            sha.prop_map(|s| format!("{s:?}")),
            path.prop_map(|p| format!("{p:?}")),
            kind.prop_map(|k| format!("{k:?}")),
            Just("1".to_owned()),
            Just("null".to_owned()),
            Just("[1]".to_owned()),
        ];
        let key = prop_oneof![Just("kind"), Just("length"), Just("path"), Just("sha256"), Just("other")];
        (key, value).prop_map(|(k, v)| format!("{k:?}:{v}"))
    }

    fn entry_text() -> impl Strategy<Value = String> {
        let good = (
            prop_oneof![Just("metadata/1.root.json".to_owned()), "[a-z]{1,2}(/[a-z]{1,2})?"],
            prop_oneof![Just("metadata"), Just("log"), Just("target"), Just("sums")],
            prop_oneof![Just(SHA.to_owned()), "[0-9a-f]{64}", "[0-9a-fA-F]{64}", "[a-z]{0,2}"],
        )
            .prop_map(|(p, k, s)| entry(&p, k, &s));
        let odd = proptest::collection::vec(member(), 0..6).prop_map(|m| format!("{{{}}}", m.join(",")));
        prop_oneof![4 => good, 1 => odd]
    }

    proptest! {
        #[test]
        fn any_manifest_reads_as_before(
            entries in proptest::collection::vec(entry_text(), 0..6),
            rest in proptest::collection::vec(
                prop_oneof![
                    Just(r#","omitted_roles":["a"]"#),
                    Just(r#","base_snapshot_version":1"#),
                    Just(r#","namespaces":null"#),
                    Just(r#","x":{"b":1,"a":[2.5]}"#),
                    Just(r#","x":{"b":1,"b":1}"#),
                    Just(r#","y":"\u001b""#),
                    Just(r#","created":5"#),
                ],
                0..3,
            ),
        ) {
            let text = doc(&entries.join(","), &rest.concat());
            prop_assert_eq!(now(text.as_bytes()), before(text.as_bytes()), "{}", text);
        }
    }
}
