//! The signed envelope `{"signatures": [...], "signed": {...}}`.

use super::validate::{check_spec_version, check_version};
use super::MetadataError;
use crate::canonical::{parse_canonical, parse_strict, to_canonical_bytes, CanonicalError, CanonicalSeed};
use crate::keys::{KeyId, Signer, SignerError};
use crate::time::Timestamp;
use serde::de::{self, DeserializeOwned, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

/// One signature in an envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature {
    /// The id of the key that made it.
    pub keyid: KeyId,
    /// The signature bytes, lowercase hex.
    pub sig: String,
    /// Members we do not interpret.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// What every role type shares.
pub trait Role: Serialize + DeserializeOwned + Clone {
    /// The `_type` value: `root`, `targets`, `snapshot` or `timestamp`.
    const TYPE: &'static str;
    /// The metadata version.
    fn version(&self) -> u64;
    /// When the metadata stops being trusted.
    fn expires(&self) -> Timestamp;
    /// The `spec_version` string.
    fn spec_version(&self) -> &str;
    /// The members of `signed` that [`Role::validate_raw`] looks at, besides
    /// `_type`, `version` and `spec_version`; `None` for all of them. Only
    /// these are read into a JSON tree for the raw checks.
    const RAW_MEMBERS: Option<&'static [&'static str]> = None;
    /// Checks made on the raw `signed` object before typing it.
    fn validate_raw(_signed: &Value) -> Result<(), MetadataError> {
        Ok(())
    }
    /// Checks made on the typed object (cross-references between members).
    fn validate(&self) -> Result<(), MetadataError> {
        Ok(())
    }
}

/// A signed metadata document of role type `T`.
///
/// The `signed` object is kept exactly as read, as its canonical form:
/// the bytes signatures are made and checked over. (Not as a JSON tree: a
/// `Value` costs several times the bytes, which for a targets role of many
/// thousand targets dominated a verifier's memory; see docs/BENCHMARKS.md,
/// "Memory".) Replacing the signed content through [`Metadata::set_signed`]
/// drops every signature, since none can still hold.
///
/// Metadata read with [`Metadata::from_shared_checked`] keeps the file it
/// was read from (shared, not copied) instead: the canonical bytes are
/// rebuilt from it when asked for. A verifier holding many targets roles
/// keeps their files anyway (to serve them), and the canonical bytes were
/// another two thirds of their size (docs/BENCHMARKS.md, "Memory").
#[derive(Debug, Clone)]
pub struct Metadata<T> {
    signatures: Vec<Signature>,
    signed: T,
    payload: Payload,
    extra: serde_json::Map<String, Value>,
}

/// The canonical bytes of `signed`, or the file to rebuild them from. Only
/// [`Metadata::from_shared_checked`] keeps a file, the one it read them
/// from: nothing can put other bytes here.
#[derive(Debug, Clone)]
enum Payload {
    /// Kept.
    Kept(Box<[u8]>),
    /// Rebuilt from the file when asked for, into a buffer of their
    /// length; their SHA-256 tells whether the quick way gave them.
    InFile { file: Arc<Vec<u8>>, len: usize, sha256: [u8; 32] },
}

impl<T: Role> Metadata<T> {
    /// Unsigned metadata around `signed`, after validating it.
    pub fn new(signed: T) -> Result<Self, MetadataError> {
        let signed_value = serde_json::to_value(&signed).map_err(|e| MetadataError::Schema(e.to_string()))?;
        Self::check_signed(&signed_value)?;
        signed.validate()?;
        // Refuse now what could never be signed.
        let payload = Payload::Kept(to_canonical_bytes(&signed_value)?.into_boxed_slice());
        Ok(Metadata { signatures: Vec::new(), signed, payload, extra: Default::default() })
    }

    /// Parses and validates a metadata file of type `T`.
    ///
    /// The checks, and the order their errors come in, are those of reading
    /// the file into a JSON tree and checking that; but no tree of `signed`
    /// is built (see docs/BENCHMARKS.md, "Memory"). The bytes are read three
    /// times instead: strictly, into the canonical bytes of `signed` and a
    /// tree of the other members; for the members the raw checks look at;
    /// and into `T`.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, MetadataError> {
        Ok(Self::read(bytes, None, |_, _| ())?.0)
    }

    /// [`Metadata::from_bytes`] of `file`, which it keeps (shared, not
    /// copied) instead of the canonical bytes of `signed`: they are given
    /// to `check` with the signatures as soon as they are made, before
    /// `signed` is typed, then freed, and rebuilt from `file` when asked
    /// for. So a large role's canonical bytes and its typed targets are
    /// never held at once. `check`'s result is returned only when the file
    /// parses: any error of parsing comes first, as when checking after.
    pub fn from_shared_checked<R>(
        file: Arc<Vec<u8>>,
        check: impl FnOnce(&[Signature], &[u8]) -> R,
    ) -> Result<(Self, R), MetadataError> {
        Self::read(&Arc::clone(&file), Some(file), check)
    }

    /// Reads `bytes`, keeping their canonical `signed` or, when given, the
    /// `shared` file they are.
    fn read<R>(
        bytes: &[u8],
        shared: Option<Arc<Vec<u8>>>,
        check: impl FnOnce(&[Signature], &[u8]) -> R,
    ) -> Result<(Self, R), MetadataError> {
        let json = |e: serde_json::Error| MetadataError::Json(e.to_string());
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let top = TopLevelSeed(bytes.len()).deserialize(&mut de).map_err(json)?;
        de.end().map_err(json)?;
        let TopLevel::Object { signed, members: mut doc } = top else {
            return Err(MetadataError::NotAnEnvelope("top level is not an object".into()));
        };
        let (payload, not_canonical) =
            signed.ok_or_else(|| MetadataError::NotAnEnvelope("no \"signed\" member".into()))?;
        // Trimmed now, not at the end: the buffer grew by doubling, and the
        // passes below are when a large role's parse takes the most memory.
        let payload = payload.into_boxed_slice();
        let sigs = doc
            .remove("signatures")
            .ok_or_else(|| MetadataError::NotAnEnvelope("no \"signatures\" member".into()))?;
        let signatures: Vec<Signature> =
            serde_json::from_value(sigs).map_err(|e| MetadataError::Schema(format!("signatures: {e}")))?;
        let mut seen = BTreeSet::new();
        for s in &signatures {
            if !seen.insert(&s.keyid) {
                return Err(MetadataError::DuplicateSignature(s.keyid.clone()));
            }
        }
        let raw = (&mut serde_json::Deserializer::from_slice(bytes))
            .deserialize_map(RawSigned(T::RAW_MEMBERS))
            .map_err(json)?;
        Self::check_signed(&raw)?;
        drop(raw);
        let checked = check(&signatures, &payload);
        let payload = match shared {
            Some(file) => {
                let (len, sha256) = (payload.len(), crate::hash::sha256(&payload));
                // Freed before the typed pass, not at the end of it.
                drop(payload);
                Payload::InFile { file, len, sha256 }
            }
            None => Payload::Kept(payload),
        };
        let signed: T = (&mut serde_json::Deserializer::from_slice(bytes))
            .deserialize_map(TypedSigned(std::marker::PhantomData))
            .map_err(|e| MetadataError::Schema(without_position(&e)))?;
        signed.validate()?;
        if not_canonical.is_some() {
            // The first unencodable number in canonical order, as encoding
            // the tree reports it (the stream only saw document order).
            let tree = parse_strict(bytes).map_err(|e| MetadataError::Json(e.0))?;
            to_canonical_bytes(tree.get("signed").unwrap_or(&Value::Null))?;
        }
        Ok((Metadata { signatures, signed, payload, extra: doc }, checked))
    }

    fn check_signed(signed: &Value) -> Result<(), MetadataError> {
        if !signed.is_object() {
            return Err(MetadataError::NotAnEnvelope("\"signed\" is not an object".into()));
        }
        match signed.get("_type").and_then(Value::as_str) {
            Some(t) if t == T::TYPE => {}
            other => {
                return Err(MetadataError::WrongType {
                    expected: T::TYPE,
                    found: other.map_or_else(|| "(none)".to_owned(), str::to_owned),
                })
            }
        }
        check_version(signed)?;
        match signed.get("spec_version").and_then(Value::as_str) {
            Some(s) => check_spec_version(s)?,
            None => return Err(MetadataError::Schema("missing member \"spec_version\"".into())),
        }
        T::validate_raw(signed)
    }

    /// The typed signed content.
    pub fn signed(&self) -> &T {
        &self.signed
    }

    /// The signed content exactly as read, rebuilt from its canonical form.
    pub fn signed_value(&self) -> Value {
        // The payload was written by `to_canonical_bytes`, so it reads back.
        parse_canonical(&self.payload_bytes()).unwrap_or(Value::Null)
    }

    /// The typed signed content, the rest given up.
    pub fn into_signed(self) -> T {
        self.signed
    }

    /// The signatures, in file order.
    pub fn signatures(&self) -> &[Signature] {
        &self.signatures
    }

    /// The exact bytes signatures cover: canonical JSON of `signed`.
    pub fn payload(&self) -> Vec<u8> {
        self.payload_bytes().into_owned()
    }

    /// [`Metadata::payload`] without a copy when they are kept; rebuilt
    /// from the file (one pass over it) when it is kept instead
    /// ([`Metadata::from_shared_checked`]).
    pub fn payload_bytes(&self) -> Cow<'_, [u8]> {
        match &self.payload {
            Payload::Kept(payload) => Cow::Borrowed(payload),
            Payload::InFile { file, len, sha256 } => Cow::Owned(canonical_signed(file, *len, sha256)),
        }
    }

    /// Replaces the signed content and drops all signatures.
    pub fn set_signed(&mut self, signed: T) -> Result<(), MetadataError> {
        *self = Self::new(signed)?;
        Ok(())
    }

    /// Signs the payload, replacing any earlier signature by the same key.
    pub fn sign(&mut self, signer: &dyn Signer) -> Result<(), SignerError> {
        let sig = signer.sign(&self.payload())?;
        self.add_signature(Signature {
            keyid: signer.key_id(),
            sig: hex::encode(sig),
            extra: BTreeMap::new(),
        });
        Ok(())
    }

    /// Adds a signature, replacing any earlier one under the same key id.
    /// It is not checked here; thresholds are checked by the verifier.
    pub fn add_signature(&mut self, signature: Signature) {
        self.signatures.retain(|s| s.keyid != signature.keyid);
        self.signatures.push(signature);
    }

    /// Removes the signature by `keyid`, if any.
    pub fn remove_signature(&mut self, keyid: &KeyId) {
        self.signatures.retain(|s| &s.keyid != keyid);
    }

    /// The file bytes: sorted keys, two-space indent, final newline.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut doc = self.extra.clone();
        doc.insert("signatures".into(), serde_json::to_value(&self.signatures).unwrap_or(Value::Null));
        doc.insert("signed".into(), self.signed_value());
        let mut out = serde_json::to_vec_pretty(&sorted(Value::Object(doc))).unwrap_or_default();
        out.push(b'\n');
        out
    }
}

/// The canonical bytes of `signed` in `file`, which is known to hold them
/// (it was read when they were first made): `len` bytes of SHA-256 `digest`.
fn canonical_signed(file: &[u8], len: usize, digest: &[u8; 32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    // First written through in document order, which keeps no list of each
    // object's members (for a large role, megabytes beside the bytes):
    // when the file's objects are sorted, as every sorting writer leaves
    // them, that is all it takes, and the digest says whether it was.
    let read = |out: &mut Vec<u8>, in_order| {
        let mut de = serde_json::Deserializer::from_slice(file);
        (&mut de).deserialize_map(SignedOnly { out, in_order })
    };
    if read(&mut out, true).is_ok() && crate::hash::sha256(&out) == *digest {
        return out;
    }
    out.clear();
    // Cannot fail: these bytes read before. Were it to, an empty payload
    // is one no signature verifies over, not some other bytes.
    if read(&mut out, false).is_err() {
        out.clear();
    }
    out
}

/// Writes the canonical bytes of `signed` of a metadata document read
/// strictly before, skipping the other members: in document order, or
/// (`in_order` false) as the strict reading wrote them.
struct SignedOnly<'o> {
    out: &'o mut Vec<u8>,
    in_order: bool,
}

impl<'de> Visitor<'de> for SignedOnly<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a metadata envelope")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<(), A::Error> {
        while let Some(key) = access.next_key::<String>()? {
            if key == "signed" && self.in_order {
                access.next_value_seed(InOrder(&mut *self.out))?;
            } else if key == "signed" {
                let mut err = None;
                access.next_value_seed(CanonicalSeed { out: &mut *self.out, err: &mut err })?;
            } else {
                access.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

/// A JSON value written as canonical JSON in document order: the canonical
/// form when every object's members come sorted (and the value reads as
/// canonical JSON at all: a number that is not an integer is an error).
struct InOrder<'o>(&'o mut Vec<u8>);

impl<'de> DeserializeSeed<'de> for InOrder<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for InOrder<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<(), E> {
        self.0.extend_from_slice(if v { b"true" } else { b"false" });
        Ok(())
    }
    fn visit_i64<E>(self, v: i64) -> Result<(), E> {
        self.0.extend_from_slice(v.to_string().as_bytes());
        Ok(())
    }
    fn visit_u64<E>(self, v: u64) -> Result<(), E> {
        self.0.extend_from_slice(v.to_string().as_bytes());
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Err(E::custom("not an integer"))
    }
    fn visit_str<E>(self, v: &str) -> Result<(), E> {
        crate::canonical::write_string(v, self.0, false);
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        self.0.extend_from_slice(b"null");
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.0.push(b'[');
        let mut first = true;
        loop {
            let mark = self.0.len();
            if !first {
                self.0.push(b',');
            }
            if seq.next_element_seed(InOrder(&mut *self.0))?.is_none() {
                self.0.truncate(mark);
                break;
            }
            first = false;
        }
        self.0.push(b']');
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<(), A::Error> {
        self.0.push(b'{');
        let mut first = true;
        while let Some(key) = access.next_key::<String>()? {
            if !first {
                self.0.push(b',');
            }
            crate::canonical::write_string(&key, self.0, false);
            self.0.push(b':');
            access.next_value_seed(InOrder(&mut *self.0))?;
            first = false;
        }
        self.0.push(b'}');
        Ok(())
    }
}

/// A metadata document read strictly: the canonical bytes of `signed` (and
/// the first number they could not encode), every other member as a tree.
enum TopLevel {
    Object { signed: Option<(Vec<u8>, Option<CanonicalError>)>, members: serde_json::Map<String, Value> },
    Other,
}

/// Reads a [`TopLevel`] from a document of the given length in bytes, the
/// most the canonical bytes of `signed` can take (canonical JSON drops
/// whitespace and escapes no more than JSON text must): reserved at once,
/// because a buffer grown by doubling to a large role's size was copied at
/// each step and left its smaller copies as holes in the heap
/// (docs/BENCHMARKS.md, "Memory").
struct TopLevelSeed(usize);

impl<'de> DeserializeSeed<'de> for TopLevelSeed {
    type Value = TopLevel;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<TopLevel, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for TopLevelSeed {
    type Value = TopLevel;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<TopLevel, E> {
        Ok(TopLevel::Other)
    }
    fn visit_i64<E>(self, _: i64) -> Result<TopLevel, E> {
        Ok(TopLevel::Other)
    }
    fn visit_u64<E>(self, _: u64) -> Result<TopLevel, E> {
        Ok(TopLevel::Other)
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<TopLevel, E> {
        serde_json::Number::from_f64(v).map(|_| TopLevel::Other).ok_or_else(|| E::custom("non-finite number"))
    }
    fn visit_str<E>(self, _: &str) -> Result<TopLevel, E> {
        Ok(TopLevel::Other)
    }
    fn visit_unit<E>(self) -> Result<TopLevel, E> {
        Ok(TopLevel::Other)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<TopLevel, A::Error> {
        let (mut sink, mut err) = (Vec::new(), None);
        while seq.next_element_seed(CanonicalSeed { out: &mut sink, err: &mut err })?.is_some() {
            sink.clear();
        }
        Ok(TopLevel::Other)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<TopLevel, A::Error> {
        let mut signed = None;
        let mut members = serde_json::Map::new();
        while let Some(key) = access.next_key::<String>()? {
            let duplicate = if key == "signed" {
                let (mut out, mut err) = (Vec::with_capacity(self.0), None);
                access.next_value_seed(CanonicalSeed { out: &mut out, err: &mut err })?;
                signed.replace((out, err)).is_some()
            } else {
                let v = access.next_value::<crate::canonical::StrictValue>()?;
                members.insert(key.clone(), v.0).is_some()
            };
            if duplicate {
                return Err(de::Error::custom(format!("duplicate key {key:?}")));
            }
        }
        Ok(TopLevel::Object { signed, members })
    }
}

/// The members of `signed` the raw checks need, as a tree (`Null` when
/// `signed` is not an object). The bytes were read strictly before.
struct RawSigned(Option<&'static [&'static str]>);

impl<'de> Visitor<'de> for RawSigned {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a metadata envelope")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut raw = Value::Null;
        while let Some(key) = access.next_key::<String>()? {
            if key == "signed" {
                raw = access.next_value_seed(RawMembers(self.0))?;
            } else {
                access.next_value::<IgnoredAny>()?;
            }
        }
        Ok(raw)
    }
}

struct RawMembers(Option<&'static [&'static str]>);

impl<'de> DeserializeSeed<'de> for RawMembers {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for RawMembers {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_str<E>(self, _: &str) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Value::Null)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        const ALWAYS: [&str; 3] = ["_type", "version", "spec_version"];
        let mut map = serde_json::Map::new();
        while let Some(key) = access.next_key::<String>()? {
            if ALWAYS.contains(&key.as_str()) || self.0.is_none_or(|keep| keep.contains(&key.as_str())) {
                let v = access.next_value::<Value>()?;
                map.insert(key, v);
            } else {
                access.next_value::<IgnoredAny>()?;
            }
        }
        Ok(Value::Object(map))
    }
}

/// `signed`, typed, straight from the bytes.
struct TypedSigned<T>(std::marker::PhantomData<T>);

impl<'de, T: Role> Visitor<'de> for TypedSigned<T> {
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a metadata envelope")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<T, A::Error> {
        let mut signed = None;
        while let Some(key) = access.next_key::<String>()? {
            if key == "signed" {
                signed = Some(access.next_value::<T>()?);
            } else {
                access.next_value::<IgnoredAny>()?;
            }
        }
        signed.ok_or_else(|| de::Error::missing_field("signed"))
    }
}

/// A typing error as reading a tree reports it: without the position in
/// the bytes, which a tree does not have.
fn without_position(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let at = format!(" at line {} column {}", e.line(), e.column());
    match text.strip_suffix(&at) {
        Some(t) if e.line() > 0 => t.to_owned(),
        _ => text,
    }
}

/// Rebuilds objects with sorted keys, whatever map order serde_json was built with.
fn sorted(v: Value) -> Value {
    match v {
        Value::Object(m) => {
            let sorted: BTreeMap<String, Value> = m.into_iter().map(|(k, v)| (k, sorted(v))).collect();
            Value::Object(sorted.into_iter().collect())
        }
        Value::Array(a) => Value::Array(a.into_iter().map(sorted).collect()),
        other => other,
    }
}
