//! Shamir backups of an Ed25519 secret key, in self-describing envelopes.
//!
//! The 32-byte Ed25519 seed is split byte by byte over GF(256) with
//! `vsss-rs` (never `sharks`: RUSTSEC-2024-0398). A Shamir crate cannot
//! tell a wrong or missing share from a right one — it interpolates
//! whatever it is given and returns some secret — so each share travels in
//! a [`ShareEnvelope`] naming the key, the split it came from, `k`, `n` and
//! its index, and [`combine`] checks all of that first, then re-derives the
//! public key from the recovered seed and compares it with the envelope's
//! before handing the secret out.
//!
//! Envelopes are meant to be stored encrypted to a custodian's age X25519
//! key ([`encrypt_share`]); the JSON inside holds a share in the clear.

use age::armor::{ArmoredReader, ArmoredWriter, Format};
use airlock_core::PublicKey;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::convert::Infallible;
use std::fmt;
use std::io::Write;
use std::str::FromStr;
use vsss_rs::{Gf256, IdentifierGf256};
use zeroize::{Zeroize, Zeroizing};

use crate::secret_io::{read_bounded, Bounded};

/// The `format` member of every envelope this version writes.
pub const SHARE_FORMAT: &str = "airlock-share-v1";

/// Far more than any envelope's JSON (about 400 bytes), so the buffer that
/// holds it never has to grow and leave an unwiped copy behind.
const MAX_ENVELOPE_LEN: usize = 4096;

/// One Shamir share of a key, with what is needed to check it.
///
/// The share value is private and never appears in `Debug` output; it is
/// wiped when the envelope is dropped.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShareEnvelope {
    /// Always [`SHARE_FORMAT`].
    pub format: String,
    /// The TUF key id of the key this is a share of.
    pub key_id: String,
    /// The key's Ed25519 public key, hex: what recombination must reproduce.
    pub public_key: String,
    /// 32 hex digits, random per split: shares of two splits never combine.
    pub split_id: String,
    /// How many shares recover the key (`k`).
    pub threshold: u8,
    /// How many shares the split made (`n`).
    pub shares: u8,
    /// This share's index, 1 to `shares`: its x coordinate.
    pub index: u8,
    /// The 32 share bytes, hex.
    share: String,
}

impl fmt::Debug for ShareEnvelope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShareEnvelope")
            .field("format", &self.format)
            .field("key_id", &self.key_id)
            .field("public_key", &self.public_key)
            .field("split_id", &self.split_id)
            .field("threshold", &self.threshold)
            .field("shares", &self.shares)
            .field("index", &self.index)
            .field("share", &"<redacted>")
            .finish()
    }
}

impl Drop for ShareEnvelope {
    fn drop(&mut self) {
        self.share.zeroize();
    }
}

impl ShareEnvelope {
    /// The envelope as one line of JSON, in a buffer wiped on drop.
    pub fn to_json(&self) -> Result<Zeroizing<Vec<u8>>, ShareError> {
        let mut out = Zeroizing::new(Vec::with_capacity(MAX_ENVELOPE_LEN));
        serde_json::to_writer(&mut *out, self).map_err(|e| ShareError::Encode { reason: e.to_string() })?;
        out.push(b'\n');
        Ok(out)
    }

    /// Reads an envelope written by [`ShareEnvelope::to_json`].
    ///
    /// Unknown members and repeated members are refused, and so is any
    /// other `format`. The share itself is checked by [`combine`].
    pub fn from_json(bytes: &[u8]) -> Result<Self, ShareError> {
        let env: ShareEnvelope = serde_json::from_slice(bytes)
            .map_err(|e| ShareError::MalformedEnvelope { reason: e.to_string() })?;
        if env.format != SHARE_FORMAT {
            return Err(ShareError::UnknownFormat { index: env.index, found: env.format.clone() });
        }
        Ok(env)
    }
}

/// Why a split, a recombination or a share's encryption was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShareError {
    /// A threshold below 2 would make every share the key itself.
    #[error("threshold {threshold} is below 2")]
    ThresholdTooSmall {
        /// The threshold asked for or recorded.
        threshold: u8,
    },
    /// More shares needed than exist.
    #[error("threshold {threshold} is more than the {shares} shares")]
    ThresholdAboveShares {
        /// The threshold.
        threshold: u8,
        /// The number of shares.
        shares: u8,
    },
    /// The operating system's random number generator failed.
    #[error("no randomness from the operating system: {reason}")]
    Random {
        /// The underlying error.
        reason: String,
    },
    /// vsss-rs refused to split or combine.
    #[error("secret sharing failed: {reason}")]
    Sharing {
        /// vsss-rs's error.
        reason: String,
    },
    /// No shares were given.
    #[error("no shares given")]
    NoShares,
    /// An envelope of another format or version.
    #[error("share {index}: format {found:?}, expected {SHARE_FORMAT:?}")]
    UnknownFormat {
        /// The share's index as recorded.
        index: u8,
        /// The format it names.
        found: String,
    },
    /// An envelope that is not valid JSON of the expected shape.
    #[error("not a share envelope: {reason}")]
    MalformedEnvelope {
        /// What is wrong.
        reason: String,
    },
    /// Shares of different keys.
    #[error("shares of two different keys: {a} and {b}")]
    MixedKeys {
        /// One key id.
        a: String,
        /// The other.
        b: String,
    },
    /// Shares from two different splits, which never combine even for one key.
    #[error("shares from two different splits: {a} and {b}")]
    MixedSplits {
        /// One split id.
        a: String,
        /// The other.
        b: String,
    },
    /// Shares of one split that disagree about the key, `k` or `n`: an edited envelope.
    #[error("shares of split {split_id} disagree about {field}")]
    InconsistentSplit {
        /// The split.
        split_id: String,
        /// The member they disagree on.
        field: &'static str,
    },
    /// Two shares with the same index.
    #[error("share {index} given twice")]
    DuplicateIndex {
        /// The index.
        index: u8,
    },
    /// An index outside 1 to `shares`.
    #[error("share index {index} is not between 1 and {shares}")]
    IndexOutOfRange {
        /// The index.
        index: u8,
        /// The number of shares the split made.
        shares: u8,
    },
    /// Fewer shares than the threshold.
    #[error("{have} shares given, {need} needed")]
    TooFewShares {
        /// How many were given.
        have: usize,
        /// The threshold.
        need: u8,
    },
    /// The envelope's public key is not 32 bytes of hex.
    #[error("key {key_id}: public key is not 64 hex digits")]
    MalformedPublicKey {
        /// The key id.
        key_id: String,
    },
    /// The envelope's key id is not the id of its public key.
    #[error("key id {key_id} is not the id of the public key in the share (that is {computed})")]
    KeyIdMismatch {
        /// The id recorded.
        key_id: String,
        /// The id of the recorded public key.
        computed: String,
    },
    /// A share value that is not 32 bytes of hex.
    #[error("share {index}: value is not 64 hex digits")]
    MalformedShare {
        /// The share's index.
        index: u8,
    },
    /// The shares combined to a secret whose public key is not the key's:
    /// some share is damaged or from elsewhere.
    #[error("the shares do not recover key {key_id}: at least one share is damaged or not from this split")]
    WrongSecret {
        /// The key id.
        key_id: String,
    },
    /// Not an age X25519 recipient (`age1…`).
    #[error("{recipient:?} is not an age X25519 recipient: {reason}")]
    InvalidRecipient {
        /// What was given.
        recipient: String,
        /// Why it does not parse.
        reason: String,
    },
    /// A line of an identity file is not an age X25519 identity.
    #[error("identity file line {line} is not an age X25519 identity (AGE-SECRET-KEY-1…)")]
    InvalidIdentity {
        /// 1-based line number.
        line: usize,
    },
    /// An identity file without identities.
    #[error("identity file holds no identity")]
    NoIdentity,
    /// The envelope could not be written as JSON.
    #[error("cannot write share envelope: {reason}")]
    Encode {
        /// The underlying error.
        reason: String,
    },
    /// Encryption failed.
    #[error("cannot encrypt share: {reason}")]
    Encrypt {
        /// The underlying error.
        reason: String,
    },
    /// The share is not encrypted to any of the given identities.
    #[error("share is not encrypted to this identity")]
    NotForThisIdentity,
    /// Decryption failed: not age, damaged, or truncated.
    #[error("cannot decrypt share: {reason}")]
    Decrypt {
        /// The underlying error.
        reason: String,
    },
}

/// The OS generator, in the shape vsss-rs 6 takes.
///
/// vsss-rs needs an infallible `CryptoRng`; rather than panic when the OS
/// fails, we record the failure, hand out zeros, and [`split`] discards the
/// shares and reports it.
struct OsRandom {
    failed: Option<getrandom::Error>,
}

impl OsRandom {
    fn fill(&mut self, dst: &mut [u8]) {
        if let Err(e) = getrandom::getrandom(dst) {
            dst.zeroize();
            self.failed.get_or_insert(e);
        }
    }
}

impl rand_core::TryRng for OsRandom {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let mut b = [0u8; 4];
        self.fill(&mut b);
        Ok(u32::from_le_bytes(b))
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut b = [0u8; 8];
        self.fill(&mut b);
        Ok(u64::from_le_bytes(b))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        self.fill(dst);
        Ok(())
    }
}

impl rand_core::TryCryptoRng for OsRandom {}

fn random_error(e: getrandom::Error) -> ShareError {
    ShareError::Random { reason: e.to_string() }
}

fn check_parameters(threshold: u8, shares: u8) -> Result<(), ShareError> {
    if threshold < 2 {
        return Err(ShareError::ThresholdTooSmall { threshold });
    }
    if threshold > shares {
        return Err(ShareError::ThresholdAboveShares { threshold, shares });
    }
    Ok(())
}

/// Splits an Ed25519 seed into `shares` envelopes, any `threshold` of
/// which recover it (2 <= threshold <= shares <= 255).
///
/// The key id and public key recorded are derived from `secret`, so an
/// envelope can never name a key its shares do not recover.
pub fn split(secret: &[u8; 32], threshold: u8, shares: u8) -> Result<Vec<ShareEnvelope>, ShareError> {
    check_parameters(threshold, shares)?;
    let public = ed25519_dalek::SigningKey::from_bytes(secret).verifying_key().to_bytes();
    let public_key = PublicKey::ed25519(&public);
    let key_id = public_key.key_id().0;

    let mut split_id = [0u8; 16];
    getrandom::getrandom(&mut split_id).map_err(random_error)?;
    let split_id = hex::encode(split_id);

    let mut rng = OsRandom { failed: None };
    // Explicit x coordinates 1..=n, so that index i is share i.
    let ids = (1..=shares).map(|i| IdentifierGf256(Gf256(i)));
    let raw = Zeroizing::new(
        Gf256::split_bytes_with_participant_ids_iter(
            usize::from(threshold),
            usize::from(shares),
            secret,
            &mut rng,
            ids,
        )
        .map_err(|e| ShareError::Sharing { reason: e.to_string() })?,
    );
    if let Some(e) = rng.failed {
        return Err(random_error(e));
    }

    let mut out = Vec::with_capacity(raw.len());
    for share in raw.iter() {
        // vsss-rs writes each share as its x coordinate, then one byte per secret byte.
        let (index, value) = match share.split_first() {
            Some((&index, value)) if value.len() == secret.len() => (index, value),
            _ => return Err(ShareError::Sharing { reason: "unexpected share layout".into() }),
        };
        out.push(ShareEnvelope {
            format: SHARE_FORMAT.to_owned(),
            key_id: key_id.clone(),
            public_key: public_key.keyval.public.clone(),
            split_id: split_id.clone(),
            threshold,
            shares,
            index,
            share: hex::encode(value),
        });
    }
    Ok(out)
}

/// Recovers the seed from `threshold` or more envelopes of one split.
///
/// Every check that can be made before combining is made first (one key,
/// one split, consistent headers, distinct indexes in range, enough
/// shares), and the recovered seed is returned only if it yields the
/// envelopes' public key.
pub fn combine(envelopes: &[ShareEnvelope]) -> Result<Zeroizing<[u8; 32]>, ShareError> {
    let first = envelopes.first().ok_or(ShareError::NoShares)?;
    for env in envelopes {
        if env.format != SHARE_FORMAT {
            return Err(ShareError::UnknownFormat { index: env.index, found: env.format.clone() });
        }
    }
    for env in envelopes {
        if env.key_id != first.key_id {
            return Err(ShareError::MixedKeys { a: first.key_id.clone(), b: env.key_id.clone() });
        }
        if env.split_id != first.split_id {
            return Err(ShareError::MixedSplits { a: first.split_id.clone(), b: env.split_id.clone() });
        }
        let field = if env.public_key != first.public_key {
            Some("the public key")
        } else if env.threshold != first.threshold {
            Some("the threshold")
        } else if env.shares != first.shares {
            Some("the number of shares")
        } else {
            None
        };
        if let Some(field) = field {
            return Err(ShareError::InconsistentSplit { split_id: first.split_id.clone(), field });
        }
    }
    check_parameters(first.threshold, first.shares)?;
    let mut seen = BTreeSet::new();
    for env in envelopes {
        if env.index == 0 || env.index > first.shares {
            return Err(ShareError::IndexOutOfRange { index: env.index, shares: first.shares });
        }
        if !seen.insert(env.index) {
            return Err(ShareError::DuplicateIndex { index: env.index });
        }
    }
    if envelopes.len() < usize::from(first.threshold) {
        return Err(ShareError::TooFewShares { have: envelopes.len(), need: first.threshold });
    }

    let key_id = &first.key_id;
    let mut public = [0u8; 32];
    hex::decode_to_slice(&first.public_key, &mut public)
        .map_err(|_| ShareError::MalformedPublicKey { key_id: key_id.clone() })?;
    let computed = PublicKey::ed25519(&public).key_id().0;
    if &computed != key_id {
        return Err(ShareError::KeyIdMismatch { key_id: key_id.clone(), computed });
    }

    // Each buffer is allocated at its final size, so nothing is left
    // behind unwiped by a reallocation.
    let mut raw: Zeroizing<Vec<Vec<u8>>> = Zeroizing::new(Vec::with_capacity(envelopes.len()));
    for env in envelopes {
        let mut share = vec![0u8; 33];
        share[0] = env.index;
        let decoded = hex::decode_to_slice(&env.share, &mut share[1..]);
        raw.push(share);
        decoded.map_err(|_| ShareError::MalformedShare { index: env.index })?;
    }
    let recovered = Zeroizing::new(
        Gf256::combine_bytes(&raw[..]).map_err(|e| ShareError::Sharing { reason: e.to_string() })?,
    );
    let mut secret = Zeroizing::new([0u8; 32]);
    if recovered.len() != secret.len() {
        return Err(ShareError::Sharing { reason: format!("recovered {} bytes, not 32", recovered.len()) });
    }
    secret.copy_from_slice(&recovered);

    let derived = ed25519_dalek::SigningKey::from_bytes(&secret).verifying_key().to_bytes();
    if derived != public {
        return Err(ShareError::WrongSecret { key_id: key_id.clone() });
    }
    Ok(secret)
}

/// Encrypts `envelope` to an age X25519 recipient (`age1…`), ASCII-armored,
/// so that `age -d -i key.txt` recovers its JSON.
pub fn encrypt_share(envelope: &ShareEnvelope, recipient: &str) -> Result<Vec<u8>, ShareError> {
    let parsed = age::x25519::Recipient::from_str(recipient.trim()).map_err(|reason| {
        ShareError::InvalidRecipient { recipient: recipient.to_owned(), reason: reason.to_owned() }
    })?;
    let plaintext = envelope.to_json()?;
    let encrypt = |e: &dyn fmt::Display| ShareError::Encrypt { reason: e.to_string() };
    let encryptor = age::Encryptor::with_recipients(std::iter::once(&parsed as &dyn age::Recipient))
        .map_err(|e| encrypt(&e))?;
    let mut out = Vec::with_capacity(2048);
    let armor = ArmoredWriter::wrap_output(&mut out, Format::AsciiArmor).map_err(|e| encrypt(&e))?;
    let mut writer = encryptor.wrap_output(armor).map_err(|e| encrypt(&e))?;
    writer.write_all(&plaintext).map_err(|e| encrypt(&e))?;
    writer.finish().and_then(|armor| armor.finish()).map_err(|e| encrypt(&e))?;
    Ok(out)
}

/// Decrypts a share written by [`encrypt_share`] with an age X25519 identity.
pub fn decrypt_share(bytes: &[u8], identity: &age::x25519::Identity) -> Result<ShareEnvelope, ShareError> {
    decrypt_with(bytes, &[identity])
}

/// Decrypts a share with the identities in an age identity file
/// (`AGE-SECRET-KEY-1…` lines; blank lines and `#` comments are skipped).
pub fn decrypt_share_with_identity_file(
    bytes: &[u8],
    identity_file: &str,
) -> Result<ShareEnvelope, ShareError> {
    let mut identities = Vec::new();
    for (i, line) in identity_file.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let id =
            age::x25519::Identity::from_str(line).map_err(|_| ShareError::InvalidIdentity { line: i + 1 })?;
        identities.push(id);
    }
    if identities.is_empty() {
        return Err(ShareError::NoIdentity);
    }
    let refs: Vec<&age::x25519::Identity> = identities.iter().collect();
    decrypt_with(bytes, &refs)
}

fn decrypt_with(bytes: &[u8], identities: &[&age::x25519::Identity]) -> Result<ShareEnvelope, ShareError> {
    let decrypt = |e: &dyn fmt::Display| ShareError::Decrypt { reason: e.to_string() };
    let decryptor = age::Decryptor::new_buffered(ArmoredReader::new(bytes)).map_err(|e| decrypt(&e))?;
    let reader =
        decryptor.decrypt(identities.iter().map(|i| *i as &dyn age::Identity)).map_err(|e| match e {
            age::DecryptError::NoMatchingKeys => ShareError::NotForThisIdentity,
            e => decrypt(&e),
        })?;
    match read_bounded(reader, MAX_ENVELOPE_LEN).map_err(|e| decrypt(&e))? {
        Bounded::Complete(plaintext) => ShareEnvelope::from_json(&plaintext),
        Bounded::TooLarge => {
            Err(ShareError::MalformedEnvelope { reason: format!("more than {MAX_ENVELOPE_LEN} bytes") })
        }
    }
}

#[cfg(test)]
mod tests;
