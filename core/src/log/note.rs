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
    let id = note_key_id(name, public);
    let vk = VerifyingKey::from_bytes(public).map_err(|_| NoteError::BadSignature(name.to_owned()))?;
    let mut ok = false;
    for s in note.signatures.iter().filter(|s| s.name == name && s.key_id == id) {
        let sig =
            Signature::from_slice(&s.signature).map_err(|_| NoteError::BadSignature(name.to_owned()))?;
        vk.verify_strict(note.text.as_bytes(), &sig).map_err(|_| NoteError::BadSignature(name.to_owned()))?;
        ok = true;
    }
    if ok {
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

/// Counts verified cosignatures by the given witnesses and requires `required`.
/// A witness's signature that is present but does not verify fails the note.
pub fn verify_cosignatures(
    note: &SignedNote,
    witnesses: &[(String, [u8; 32])],
    required: usize,
) -> Result<usize, NoteError> {
    let mut found = 0;
    for (name, public) in witnesses {
        let id = cosignature_key_id(name, public);
        let Some(s) = note.signatures.iter().find(|s| s.name == *name && s.key_id == id) else { continue };
        if s.signature.len() != 8 + 64 {
            return Err(NoteError::BadSignature(name.clone()));
        }
        let time = u64::from_be_bytes(s.signature[..8].try_into().unwrap_or_default());
        let vk = VerifyingKey::from_bytes(public).map_err(|_| NoteError::BadSignature(name.clone()))?;
        let sig =
            Signature::from_slice(&s.signature[8..]).map_err(|_| NoteError::BadSignature(name.clone()))?;
        vk.verify_strict(cosigned_message(&note.text, time).as_bytes(), &sig)
            .map_err(|_| NoteError::BadSignature(name.clone()))?;
        found += 1;
    }
    if found < required {
        return Err(NoteError::TooFewCosignatures { required, found });
    }
    Ok(found)
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Ed25519Signer;

    fn signer(seed: u8) -> Ed25519Signer {
        Ed25519Signer::new(ed25519_dalek::SigningKey::from_bytes(&[seed; 32]))
    }

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
}
