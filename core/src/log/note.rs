//! C2SP signed notes (Ed25519, type 0x01), tlog-checkpoint bodies, and
//! tlog-cosignature v1 witness cosignatures (timestamped Ed25519, type 0x04).

use super::merkle::Hash;
use crate::keys::{Signer, SignerError};
use crate::time::Timestamp;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::{Signature, VerifyingKey};
use sha2::{Digest, Sha256};

/// Why a note or checkpoint was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    /// Not a well-formed signed note.
    #[error("malformed signed note: {0}")]
    Malformed(String),
    /// Not a well-formed checkpoint body.
    #[error("malformed checkpoint: {0}")]
    MalformedCheckpoint(String),
    /// A signature by the expected key did not verify.
    #[error("signature by {0} does not verify")]
    BadSignature(String),
    /// No signature by the expected key.
    #[error("no signature by {0}")]
    Unsigned(String),
    /// The checkpoint is for another log.
    #[error("checkpoint origin {found:?} is not {expected:?}")]
    WrongOrigin {
        /// The origin expected.
        expected: String,
        /// The origin found.
        found: String,
    },
    /// Too few witnesses cosigned.
    #[error("{found} of the required {required} witness cosignatures")]
    TooFewCosignatures {
        /// How many are required.
        required: usize,
        /// How many verified.
        found: usize,
    },
    /// Signing failed.
    #[error("signing failed: {0}")]
    Signer(String),
    /// Two keys given to check a note have one name and key id.
    #[error("ambiguous key {0}: two keys given have this name and key id")]
    AmbiguousKey(String),
}

impl From<SignerError> for NoteError {
    fn from(e: SignerError) -> Self {
        NoteError::Signer(e.to_string())
    }
}

/// One signature line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    /// The key name.
    pub name: String,
    /// The 32-bit key id.
    pub key_id: u32,
    /// The signature bytes after the key id.
    pub signature: Vec<u8>,
}

/// A note: text ending in a newline, and signature lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedNote {
    /// The signed text, including its final newline.
    pub text: String,
    /// The signatures.
    pub signatures: Vec<NoteSignature>,
}

const MAX_SIGNATURES: usize = 64;

fn key_id(name: &str, kind: u8, public: &[u8; 32]) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', kind]);
    h.update(public);
    let d = h.finalize();
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

/// Key id of an Ed25519 note signer (type 0x01).
pub fn note_key_id(name: &str, public: &[u8; 32]) -> u32 {
    key_id(name, 0x01, public)
}

/// Key id of an Ed25519 cosigner (type 0x04).
pub fn cosignature_key_id(name: &str, public: &[u8; 32]) -> u32 {
    key_id(name, 0x04, public)
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(|c| c.is_whitespace() || c == '+')
}

impl SignedNote {
    /// Parses a signed note.
    pub fn parse(bytes: &[u8]) -> Result<Self, NoteError> {
        let s = std::str::from_utf8(bytes).map_err(|_| NoteError::Malformed("not UTF-8".into()))?;
        if s.chars().any(|c| c < ' ' && c != '\n') {
            return Err(NoteError::Malformed("control character".into()));
        }
        // The text ends at the last blank line.
        let split =
            s.rfind("\n\n").ok_or_else(|| NoteError::Malformed("no blank line before signatures".into()))?;
        let (text, sigs) = (&s[..split + 1], &s[split + 2..]);
        if !sigs.ends_with('\n') || sigs.is_empty() {
            return Err(NoteError::Malformed("signature lines must end in a newline".into()));
        }
        let mut signatures = Vec::new();
        for line in sigs.lines() {
            let rest = line
                .strip_prefix("\u{2014} ")
                .ok_or_else(|| NoteError::Malformed(format!("bad signature line {line:?}")))?;
            let (name, b64) = rest
                .split_once(' ')
                .ok_or_else(|| NoteError::Malformed(format!("bad signature line {line:?}")))?;
            if !valid_name(name) {
                return Err(NoteError::Malformed(format!("bad key name {name:?}")));
            }
            let raw = B64
                .decode(b64)
                .map_err(|_| NoteError::Malformed(format!("bad base64 in signature by {name}")))?;
            if raw.len() < 5 {
                return Err(NoteError::Malformed(format!("short signature by {name}")));
            }
            signatures.push(NoteSignature {
                name: name.to_owned(),
                key_id: u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]),
                signature: raw[4..].to_vec(),
            });
            if signatures.len() > MAX_SIGNATURES {
                return Err(NoteError::Malformed("too many signatures".into()));
            }
        }
        Ok(SignedNote { text: text.to_owned(), signatures })
    }

    /// Writes the note.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.text.clone();
        out.push('\n');
        for s in &self.signatures {
            let mut raw = s.key_id.to_be_bytes().to_vec();
            raw.extend_from_slice(&s.signature);
            out.push_str(&format!("\u{2014} {} {}\n", s.name, B64.encode(raw)));
        }
        out.into_bytes()
    }
}

/// Signs `text` as note signer `name` (an Ed25519 signer).
pub fn sign_note(text: &str, name: &str, signer: &dyn Signer) -> Result<SignedNote, NoteError> {
    if !text.ends_with('\n') || !valid_name(name) {
        return Err(NoteError::Malformed(
            "text must end in a newline and the name must have no spaces".into(),
        ));
    }
    let public = ed25519_public(signer)?;
    let signature = signer.sign(text.as_bytes())?;
    Ok(SignedNote {
        text: text.to_owned(),
        signatures: vec![NoteSignature {
            name: name.to_owned(),
            key_id: note_key_id(name, &public),
            signature,
        }],
    })
}

fn ed25519_public(signer: &dyn Signer) -> Result<[u8; 32], NoteError> {
    let pk = signer.public_key().ed25519_verifying_key().map_err(|e| NoteError::Signer(e.to_string()))?;
    Ok(pk.to_bytes())
}

/// Verifies the signature of note signer `name` with `public`: every
/// signature matching name and key id must verify, and at least one must.
pub fn verify_note(note: &SignedNote, name: &str, public: &[u8; 32]) -> Result<(), NoteError> {
    let key = VerifierKey::new(name, VerifierKind::Ed25519, *public)
        .map_err(|_| NoteError::BadSignature(name.to_owned()))?;
    let checks = check_signatures(note, std::slice::from_ref(&key))?;
    if checks.iter().any(|c| c.status == SignatureStatus::Verified) {
        Ok(())
    } else {
        Err(NoteError::Unsigned(name.to_owned()))
    }
}

fn cosigned_message(text: &str, time: u64) -> String {
    format!("cosignature/v1\ntime {time}\n{text}")
}

/// Adds witness `name`'s cosignature at `time` to `note`.
pub fn cosign(
    note: &mut SignedNote,
    name: &str,
    signer: &dyn Signer,
    time: Timestamp,
) -> Result<(), NoteError> {
    let public = ed25519_public(signer)?;
    let t = u64::try_from(time.unix()).map_err(|_| NoteError::Malformed("time before 1970".into()))?;
    let mut signature = t.to_be_bytes().to_vec();
    signature.extend(signer.sign(cosigned_message(&note.text, t).as_bytes())?);
    note.signatures.push(NoteSignature {
        name: name.to_owned(),
        key_id: cosignature_key_id(name, &public),
        signature,
    });
    Ok(())
}

/// Counts the witnesses (name, Ed25519 key) with a verified cosignature
/// and requires `required`. A witness's cosignature that is present but
/// does not verify fails the note.
pub fn verify_cosignatures(
    note: &SignedNote,
    witnesses: &[(String, [u8; 32])],
    required: usize,
) -> Result<usize, NoteError> {
    let mut keys = Vec::with_capacity(witnesses.len());
    for (name, public) in witnesses {
        keys.push(
            VerifierKey::new(name, VerifierKind::Cosignature, *public)
                .map_err(|_| NoteError::BadSignature(name.clone()))?,
        );
    }
    let checks = check_signatures(note, &keys)?;
    let found = keys
        .iter()
        .filter(|k| {
            checks.iter().any(|c| {
                c.name == k.name
                    && c.key_id == k.key_id()
                    && matches!(c.status, SignatureStatus::Cosigned { .. })
            })
        })
        .count();
    if found < required {
        return Err(NoteError::TooFewCosignatures { required, found });
    }
    Ok(found)
}

/// Why a verifier key (`<name>+<hex8 key id>+<base64 key>`) was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifierKeyError {
    /// Not three parts joined by `+`.
    #[error("a verifier key is <name>+<8 hex digits>+<base64 key>; this one has no {0}")]
    Shape(&'static str),
    /// The name is empty or has a space or a `+`.
    #[error("bad key name {0:?}: it must be non-empty, with no spaces and no '+'")]
    BadName(String),
    /// The key id is not 8 hexadecimal digits.
    #[error("key id {0:?} is not 8 hexadecimal digits")]
    BadKeyId(String),
    /// The key material is not base64.
    #[error("key material is not base64")]
    BadBase64,
    /// The key material is empty.
    #[error("key material is empty")]
    Empty,
    /// The type byte is not one this implementation verifies.
    #[error("key type 0x{0:02x} is not supported (only 0x01 Ed25519 and 0x04 Ed25519 cosignature)")]
    UnsupportedType(u8),
    /// The key after the type byte is not 32 bytes.
    #[error("Ed25519 key is {0} bytes, not 32")]
    WrongLength(usize),
    /// The bytes are not an Ed25519 public key.
    #[error("key material is not a valid Ed25519 public key")]
    NotAKey,
    /// The key id written in the key is not the one its name and key give.
    #[error("key id {stated:08x} does not match the key (its name and key give {computed:08x})")]
    KeyIdMismatch {
        /// The id written in the verifier key.
        stated: u32,
        /// The id computed from name, type and key.
        computed: u32,
    },
}

/// The signature type of a verifier key (C2SP signed-note type byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifierKind {
    /// 0x01: Ed25519 signatures over the note text (a log's key).
    Ed25519,
    /// 0x04: timestamped Ed25519 witness cosignatures (C2SP tlog-cosignature).
    Cosignature,
}

impl VerifierKind {
    /// The type byte.
    pub fn type_byte(self) -> u8 {
        match self {
            VerifierKind::Ed25519 => 0x01,
            VerifierKind::Cosignature => 0x04,
        }
    }

    /// A short word for people: `ed25519` or `cosignature`.
    pub fn as_str(self) -> &'static str {
        match self {
            VerifierKind::Ed25519 => "ed25519",
            VerifierKind::Cosignature => "cosignature",
        }
    }
}

/// A C2SP signed-note verifier key:
/// `<name>+<hex8 key id>+<base64(type byte || 32-byte Ed25519 public key)>`.
/// Parsing checks that the key id is the one the name and key give.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierKey {
    /// The key name, as signature lines carry it.
    pub name: String,
    /// What the key verifies.
    pub kind: VerifierKind,
    /// The Ed25519 public key.
    pub public: [u8; 32],
}

impl VerifierKey {
    /// A verifier key of `kind` for `name` and `public`; the name must be
    /// non-empty with no spaces and no `+`.
    pub fn new(name: &str, kind: VerifierKind, public: [u8; 32]) -> Result<Self, VerifierKeyError> {
        if !valid_name(name) {
            return Err(VerifierKeyError::BadName(name.to_owned()));
        }
        VerifyingKey::from_bytes(&public).map_err(|_| VerifierKeyError::NotAKey)?;
        Ok(VerifierKey { name: name.to_owned(), kind, public })
    }

    /// Parses `<name>+<hex8>+<base64>` and checks the key id.
    pub fn parse(s: &str) -> Result<Self, VerifierKeyError> {
        let (name, rest) = s.split_once('+').ok_or(VerifierKeyError::Shape("'+' after the name"))?;
        let (id_hex, b64) = rest.split_once('+').ok_or(VerifierKeyError::Shape("'+' after the key id"))?;
        if !valid_name(name) {
            return Err(VerifierKeyError::BadName(name.to_owned()));
        }
        if id_hex.len() != 8 || !id_hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(VerifierKeyError::BadKeyId(id_hex.to_owned()));
        }
        let stated =
            u32::from_str_radix(id_hex, 16).map_err(|_| VerifierKeyError::BadKeyId(id_hex.to_owned()))?;
        let raw = B64.decode(b64).map_err(|_| VerifierKeyError::BadBase64)?;
        let (&type_byte, key) = raw.split_first().ok_or(VerifierKeyError::Empty)?;
        let kind = match type_byte {
            0x01 => VerifierKind::Ed25519,
            0x04 => VerifierKind::Cosignature,
            other => return Err(VerifierKeyError::UnsupportedType(other)),
        };
        let public: [u8; 32] = key.try_into().map_err(|_| VerifierKeyError::WrongLength(key.len()))?;
        let computed = key_id(name, type_byte, &public);
        if computed != stated {
            return Err(VerifierKeyError::KeyIdMismatch { stated, computed });
        }
        VerifierKey::new(name, kind, public)
    }

    /// The 32-bit key id: `SHA-256(name || 0x0A || type || public)[:4]`.
    pub fn key_id(&self) -> u32 {
        key_id(&self.name, self.kind.type_byte(), &self.public)
    }

    /// Whether signature line `s` claims to be by this key (name and id both match).
    pub fn matches(&self, s: &NoteSignature) -> bool {
        s.name == self.name && s.key_id == self.key_id()
    }
}

impl std::fmt::Display for VerifierKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut raw = Vec::with_capacity(33);
        raw.push(self.kind.type_byte());
        raw.extend_from_slice(&self.public);
        write!(f, "{}+{:08x}+{}", self.name, self.key_id(), B64.encode(raw))
    }
}

impl std::str::FromStr for VerifierKey {
    type Err = VerifierKeyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        VerifierKey::parse(s)
    }
}

/// The verifier key string of an Ed25519 note signer (type 0x01) `name`
/// with `public`, as `golang.org/x/mod/sumdb/note` writes it.
pub fn format_verifier_key(name: &str, public: &[u8; 32]) -> Result<String, VerifierKeyError> {
    Ok(VerifierKey::new(name, VerifierKind::Ed25519, *public)?.to_string())
}

/// The verifier key string of a witness cosigner (type 0x04) `name` with `public`.
pub fn format_cosignature_verifier_key(name: &str, public: &[u8; 32]) -> Result<String, VerifierKeyError> {
    Ok(VerifierKey::new(name, VerifierKind::Cosignature, *public)?.to_string())
}

/// What became of one signature line when a note was checked against keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureStatus {
    /// By a given Ed25519 (0x01) key, and it verified.
    Verified,
    /// By a given cosignature (0x04) key, and it verified; signed at `time`
    /// (seconds since 1970).
    Cosigned {
        /// The cosignature's timestamp.
        time: u64,
    },
    /// By no key given (name or id differ): ignored, as C2SP requires.
    UnknownKey,
}

/// One signature line of a note and what became of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureCheck {
    /// The key name on the line.
    pub name: String,
    /// The key id on the line.
    pub key_id: u32,
    /// The outcome.
    pub status: SignatureStatus,
}

/// Checks every signature line of `note` against `keys` the C2SP way:
/// lines by keys not given (name or id differ) are ignored; every line by a
/// given key must verify, or the whole note is refused
/// ([`NoteError::BadSignature`]). Two given keys with one name and id are
/// refused as ambiguous. Returns one entry per signature line, in order.
/// Whether enough keys signed is the caller's rule.
pub fn check_signatures(note: &SignedNote, keys: &[VerifierKey]) -> Result<Vec<SignatureCheck>, NoteError> {
    for (i, a) in keys.iter().enumerate() {
        if keys[..i].iter().any(|b| b.name == a.name && b.key_id() == a.key_id()) {
            return Err(NoteError::AmbiguousKey(format!("{}+{:08x}", a.name, a.key_id())));
        }
    }
    let mut out = Vec::with_capacity(note.signatures.len());
    for s in &note.signatures {
        let status = match keys.iter().find(|k| k.matches(s)) {
            None => SignatureStatus::UnknownKey,
            Some(k) => {
                let bad = || NoteError::BadSignature(k.name.clone());
                let vk = VerifyingKey::from_bytes(&k.public).map_err(|_| bad())?;
                match k.kind {
                    VerifierKind::Ed25519 => {
                        let sig = Signature::from_slice(&s.signature).map_err(|_| bad())?;
                        vk.verify_strict(note.text.as_bytes(), &sig).map_err(|_| bad())?;
                        SignatureStatus::Verified
                    }
                    VerifierKind::Cosignature => {
                        if s.signature.len() != 8 + 64 {
                            return Err(bad());
                        }
                        let mut t = [0u8; 8];
                        t.copy_from_slice(&s.signature[..8]);
                        let time = u64::from_be_bytes(t);
                        let sig = Signature::from_slice(&s.signature[8..]).map_err(|_| bad())?;
                        vk.verify_strict(cosigned_message(&note.text, time).as_bytes(), &sig)
                            .map_err(|_| bad())?;
                        SignatureStatus::Cosigned { time }
                    }
                }
            }
        };
        out.push(SignatureCheck { name: s.name.clone(), key_id: s.key_id, status });
    }
    Ok(out)
}

/// A tlog-checkpoint body: origin, tree size, root hash, extension lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's origin line.
    pub origin: String,
    /// The number of leaves.
    pub size: u64,
    /// The root hash.
    pub root: Hash,
    /// Extension lines, without newlines.
    pub extensions: Vec<String>,
}

impl Checkpoint {
    /// The note text.
    pub fn to_text(&self) -> String {
        let mut s = format!("{}\n{}\n{}\n", self.origin, self.size, B64.encode(self.root));
        for e in &self.extensions {
            s.push_str(e);
            s.push('\n');
        }
        s
    }

    /// Parses the note text of a checkpoint.
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let bad = |m: &str| NoteError::MalformedCheckpoint(m.to_owned());
        let mut lines = text.strip_suffix('\n').ok_or_else(|| bad("no final newline"))?.split('\n');
        let origin = lines.next().filter(|o| !o.is_empty()).ok_or_else(|| bad("no origin"))?.to_owned();
        let size_s = lines.next().ok_or_else(|| bad("no tree size"))?;
        if size_s.is_empty()
            || (size_s.len() > 1 && size_s.starts_with('0'))
            || !size_s.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(bad("tree size is not a decimal without leading zeros"));
        }
        let size = size_s.parse().map_err(|_| bad("tree size too large"))?;
        let root: Hash = B64
            .decode(lines.next().ok_or_else(|| bad("no root hash"))?)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| bad("root hash is not 32 bytes of base64"))?;
        let extensions: Vec<String> = lines.map(str::to_owned).collect();
        if extensions.iter().any(String::is_empty) {
            return Err(bad("empty extension line"));
        }
        Ok(Checkpoint { origin, size, root, extensions })
    }

    /// Parses a signed checkpoint, checks the log's signature and origin.
    pub fn verify(
        bytes: &[u8],
        origin: &str,
        log_name: &str,
        log_key: &[u8; 32],
    ) -> Result<(Self, SignedNote), NoteError> {
        let note = SignedNote::parse(bytes)?;
        verify_note(&note, log_name, log_key)?;
        let cp = Checkpoint::parse(&note.text)?;
        if cp.origin != origin {
            return Err(NoteError::WrongOrigin { expected: origin.to_owned(), found: cp.origin });
        }
        Ok((cp, note))
    }

    /// Parses a signed checkpoint and checks it against verifier keys: the
    /// log's `log_key` (type 0x01) must have signed it, and every signature
    /// by `log_key` or one of `witnesses` (any type) must verify; signatures
    /// by other keys are ignored. The body is parsed only once the log's
    /// signature verified. Returns the checkpoint, the note and what became
    /// of each signature line.
    pub fn open(
        bytes: &[u8],
        log_key: &VerifierKey,
        witnesses: &[VerifierKey],
    ) -> Result<(Self, SignedNote, Vec<SignatureCheck>), NoteError> {
        let note = SignedNote::parse(bytes)?;
        let mut keys = Vec::with_capacity(witnesses.len() + 1);
        keys.push(log_key.clone());
        keys.extend_from_slice(witnesses);
        let checks = check_signatures(&note, &keys)?;
        let signed_by_log =
            log_key.kind == VerifierKind::Ed25519 && note.signatures.iter().any(|s| log_key.matches(s));
        if !signed_by_log {
            return Err(NoteError::Unsigned(format!("{}+{:08x}", log_key.name, log_key.key_id())));
        }
        let cp = Checkpoint::parse(&note.text)?;
        Ok((cp, note, checks))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::keys::testing::ed25519_signer as signer;

    fn public(seed: u8) -> [u8; 32] {
        signer(seed).signing_key().verifying_key().to_bytes()
    }

    fn checkpoint() -> Checkpoint {
        Checkpoint { origin: "airlock.example/log".into(), size: 7, root: [9; 32], extensions: vec![] }
    }

    #[test]
    fn checkpoint_round_trip_and_verify() {
        let note = sign_note(&checkpoint().to_text(), "airlock.example/log", &signer(1)).unwrap();
        let bytes = note.to_bytes();
        let (cp, _) =
            Checkpoint::verify(&bytes, "airlock.example/log", "airlock.example/log", &public(1)).unwrap();
        assert_eq!(cp, checkpoint());
        assert!(matches!(
            Checkpoint::verify(&bytes, "other/log", "airlock.example/log", &public(1)),
            Err(NoteError::WrongOrigin { .. })
        ));
        assert!(matches!(
            Checkpoint::verify(&bytes, "airlock.example/log", "airlock.example/log", &public(2)),
            Err(NoteError::Unsigned(_))
        ));
        let tampered = String::from_utf8(bytes).unwrap().replacen("\n7\n", "\n8\n", 1);
        assert!(matches!(
            Checkpoint::verify(tampered.as_bytes(), "airlock.example/log", "airlock.example/log", &public(1)),
            Err(NoteError::BadSignature(_))
        ));
    }

    #[test]
    fn cosignatures_counted() {
        let mut note = sign_note(&checkpoint().to_text(), "log", &signer(1)).unwrap();
        cosign(&mut note, "w1", &signer(5), Timestamp::from_unix(1_700_000_000)).unwrap();
        let reparsed = SignedNote::parse(&note.to_bytes()).unwrap();
        let witnesses = vec![("w1".to_owned(), public(5)), ("w2".to_owned(), public(6))];
        assert_eq!(verify_cosignatures(&reparsed, &witnesses, 1).unwrap(), 1);
        assert_eq!(
            verify_cosignatures(&reparsed, &witnesses, 2).unwrap_err(),
            NoteError::TooFewCosignatures { required: 2, found: 1 }
        );
        // A cosignature is not a log signature: type bytes differ.
        assert!(verify_note(&reparsed, "w1", &public(5)).is_err());
    }

    #[test]
    fn malformed_notes_refused() {
        for bad in [
            &b"no blank line\n\xe2\x80\x94 x AAAA\n"[..],
            b"text\n\nnot a signature\n",
            b"text\n\n\xe2\x80\x94 name !!!!\n",
            b"te\x01xt\n\n\xe2\x80\x94 n AAAAAAA=\n",
        ] {
            assert!(SignedNote::parse(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        assert!(Checkpoint::parse("o\n07\nAAAA\n").is_err());
        assert!(Checkpoint::parse("o\n7\nAAAA\n").is_err());
    }

    #[test]
    fn verifier_key_round_trip_and_key_id() {
        let vk = format_verifier_key("airlock.example/log", &public(1)).unwrap();
        let parsed = VerifierKey::parse(&vk).unwrap();
        assert_eq!(parsed.name, "airlock.example/log");
        assert_eq!(parsed.kind, VerifierKind::Ed25519);
        assert_eq!(parsed.public, public(1));
        assert_eq!(parsed.key_id(), note_key_id("airlock.example/log", &public(1)));
        assert_eq!(parsed.to_string(), vk);
        let cvk = format_cosignature_verifier_key("w1", &public(5)).unwrap();
        let c = VerifierKey::parse(&cvk).unwrap();
        assert_eq!((c.kind, c.key_id()), (VerifierKind::Cosignature, cosignature_key_id("w1", &public(5))));
        assert!(matches!(format_verifier_key("a b", &public(1)), Err(VerifierKeyError::BadName(_))));
        assert!(matches!(format_verifier_key("a+b", &public(1)), Err(VerifierKeyError::BadName(_))));
    }

    #[test]
    fn verifier_key_manglings_refused() {
        let vk = format_verifier_key("airlock.example/log", &public(3)).unwrap();
        // Every proper substring, and every one-byte change, is refused.
        let b = vk.as_bytes();
        for i in 0..=b.len() {
            for j in i + 1..=b.len() {
                if (i, j) != (0, b.len()) {
                    let s = String::from_utf8_lossy(&b[i..j]);
                    assert!(VerifierKey::parse(&s).is_err(), "{s}");
                }
            }
        }
        for i in 0..b.len() {
            let mut m = b.to_vec();
            m[i] = m[i].wrapping_add(1);
            let s = String::from_utf8_lossy(&m);
            assert!(VerifierKey::parse(&s).is_err(), "{s}");
        }
        // Type bytes: unknown types are refused even with a matching id.
        let mut raw = vec![0x02];
        raw.extend_from_slice(&public(3));
        let id = key_id("n", 0x02, &public(3));
        assert_eq!(
            VerifierKey::parse(&format!("n+{id:08x}+{}", B64.encode(&raw))),
            Err(VerifierKeyError::UnsupportedType(0x02))
        );
        raw[0] = 0x01;
        raw.push(0);
        assert_eq!(
            VerifierKey::parse(&format!("n+{:08x}+{}", key_id("n", 0x01, &public(3)), B64.encode(&raw))),
            Err(VerifierKeyError::WrongLength(33))
        );
    }

    #[test]
    fn check_signatures_c2sp_rules() {
        let log = VerifierKey::new("log", VerifierKind::Ed25519, public(1)).unwrap();
        let w1 = VerifierKey::new("w1", VerifierKind::Cosignature, public(5)).unwrap();
        let mut note = sign_note(&checkpoint().to_text(), "log", &signer(1)).unwrap();
        cosign(&mut note, "w1", &signer(5), Timestamp::from_unix(1_700_000_000)).unwrap();
        cosign(&mut note, "w2", &signer(6), Timestamp::from_unix(1_700_000_001)).unwrap();
        let bytes = note.to_bytes();
        let (cp, _, checks) = Checkpoint::open(&bytes, &log, std::slice::from_ref(&w1)).unwrap();
        assert_eq!(cp, checkpoint());
        let statuses: Vec<_> = checks.iter().map(|c| c.status.clone()).collect();
        assert_eq!(
            statuses,
            vec![
                SignatureStatus::Verified,
                SignatureStatus::Cosigned { time: 1_700_000_000 },
                SignatureStatus::UnknownKey
            ]
        );
        // A witness key given as the log key does not make a log signature.
        assert!(matches!(Checkpoint::open(&bytes, &w1, &[]), Err(NoteError::Unsigned(_))));
        // Another log's key: unsigned.
        let other = VerifierKey::new("log", VerifierKind::Ed25519, public(2)).unwrap();
        assert!(matches!(Checkpoint::open(&bytes, &other, &[]), Err(NoteError::Unsigned(_))));
        // A forged cosignature by a known witness fails the whole note.
        let mut forged = SignedNote::parse(&bytes).unwrap();
        forged.signatures[1].signature[20] ^= 1;
        assert_eq!(
            Checkpoint::open(&forged.to_bytes(), &log, std::slice::from_ref(&w1)).unwrap_err(),
            NoteError::BadSignature("w1".into())
        );
        // ...but is ignored when that witness is not asked about.
        Checkpoint::open(&forged.to_bytes(), &log, &[]).unwrap();
        assert!(matches!(
            check_signatures(&note, &[log.clone(), log.clone()]),
            Err(NoteError::AmbiguousKey(_))
        ));
    }
}
