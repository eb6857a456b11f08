//! Public keys in TUF's key object form, key ids, signature verification,
//! and the signer trait that every signing backend implements.
//!
//! We sign with Ed25519 only. We verify Ed25519 (strict: no malleable or
//! small-order signatures), ECDSA P-256 with SHA-256 (DER signatures) and
//! RSASSA-PSS with SHA-256, so that repositories written by other tools work.

use crate::canonical::to_canonical_bytes;
use crate::hash::sha256;
use ed25519_dalek::pkcs8::{DecodePublicKey, EncodePublicKey};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;

/// The key id of a key: lowercase hex SHA-256 of its canonical key object.
///
/// Ids read from metadata are taken as given and matched, never recomputed:
/// other tools have computed them over other fields, and rewriting them
/// would break their signatures.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct KeyId(pub String);

impl KeyId {
    /// The id in groups of four hex digits, for people to read aloud and compare.
    pub fn grouped(&self) -> String {
        group4(&self.0)
    }

    /// The first 16 hex digits, in groups of four: enough to tell keys apart on screen.
    pub fn short(&self) -> String {
        group4(&self.0[..self.0.len().min(16)])
    }
}

/// Splits a hex string into space-separated groups of four digits.
pub fn group4(hex: &str) -> String {
    hex.as_bytes().chunks(4).map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>().join(" ")
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({})", self.0)
    }
}

/// The `keyval` member of a key object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyVal {
    /// The public key: hex for Ed25519, PEM SubjectPublicKeyInfo for ECDSA and RSA.
    pub public: String,
    /// Members we do not interpret, kept so the object writes back unchanged.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// A public key as TUF metadata writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicKey {
    /// `ed25519`, `ecdsa` (or legacy `ecdsa-sha2-nistp256`), or `rsa`.
    pub keytype: String,
    /// `ed25519`, `ecdsa-sha2-nistp256` or `rsassa-pss-sha256`.
    pub scheme: String,
    /// The key material.
    pub keyval: KeyVal,
    /// Members we do not interpret, kept so the object writes back unchanged.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// The signature algorithms we can verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// Ed25519 (RFC 8032), verified strictly.
    Ed25519,
    /// ECDSA over P-256 with SHA-256; signatures DER-encoded.
    EcdsaP256Sha256,
    /// RSASSA-PSS with SHA-256 and MGF1-SHA-256.
    RsaPssSha256,
}

/// Why a key could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The keytype/scheme pair is not one we verify.
    #[error("unsupported key type {keytype:?} with scheme {scheme:?}")]
    UnsupportedScheme {
        /// The key's `keytype`.
        keytype: String,
        /// The key's `scheme`.
        scheme: String,
    },
    /// The public key material does not parse for its scheme.
    #[error("malformed {scheme:?} public key: {detail}")]
    MalformedPublicKey {
        /// The key's `scheme`.
        scheme: String,
        /// What was wrong.
        detail: String,
    },
    /// A PEM document that is no public key we know.
    #[error("not an Ed25519, ECDSA P-256 or RSA public key in PEM SubjectPublicKeyInfo form")]
    UnrecognisedPem,
}

/// Why a signature did not verify. Kept separate from [`KeyError`] so a
/// report can say "this key is unusable" apart from "this signature is bad".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The key itself is unusable.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The `sig` member is not valid hex.
    #[error("signature is not hex")]
    NotHex,
    /// The signature bytes are not of the scheme's form.
    #[error("signature is malformed for its scheme")]
    Malformed,
    /// The signature does not verify over the payload.
    #[error("signature does not verify")]
    Invalid,
}

impl PublicKey {
    /// An Ed25519 key object from the 32-byte public key.
    pub fn ed25519(public: &[u8; 32]) -> Self {
        PublicKey {
            keytype: "ed25519".into(),
            scheme: "ed25519".into(),
            keyval: KeyVal { public: hex::encode(public), extra: BTreeMap::new() },
            extra: BTreeMap::new(),
        }
    }

    /// Which algorithm this key verifies with.
    pub fn scheme(&self) -> Result<Scheme, KeyError> {
        match (self.keytype.as_str(), self.scheme.as_str()) {
            ("ed25519", "ed25519") => Ok(Scheme::Ed25519),
            ("ecdsa" | "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp256") => Ok(Scheme::EcdsaP256Sha256),
            ("rsa", "rsassa-pss-sha256") => Ok(Scheme::RsaPssSha256),
            _ => Err(KeyError::UnsupportedScheme {
                keytype: self.keytype.clone(),
                scheme: self.scheme.clone(),
            }),
        }
    }

    /// The canonical key object that the key id hashes: `keytype`, `scheme`, `keyval`.
    pub fn canonical_object(&self) -> Value {
        serde_json::json!({
            "keytype": self.keytype,
            "scheme": self.scheme,
            "keyval": self.keyval,
        })
    }

    /// The key id we assign to keys we create.
    pub fn key_id(&self) -> KeyId {
        // A key object holds only strings, which always encode.
        let bytes = to_canonical_bytes(&self.canonical_object()).unwrap_or_default();
        KeyId(hex::encode(sha256(&bytes)))
    }

    /// Identity of the key material regardless of the id it is listed under,
    /// so that one key listed under two ids counts once toward a threshold.
    ///
    /// The key is decoded exactly as [`PublicKey::verify`] decodes it, and the
    /// id is the algorithm family and a canonical encoding of the decoded key,
    /// separated by NUL:
    ///
    /// - Ed25519: `ed25519`, then the 32 key bytes in lowercase hex;
    /// - ECDSA P-256: `p256`, then the SEC1 compressed point in lowercase hex;
    /// - RSA: `rsa`, then the modulus and the public exponent, each big-endian
    ///   lowercase hex, separated by NUL.
    ///
    /// So the id does not depend on how the key is written: not on hex case,
    /// PEM line breaks, a compressed or uncompressed P-256 point, or the
    /// spelling of the keytype (`ecdsa` or `ecdsa-sha2-nistp256`); and keys of
    /// different algorithms never share an id.
    ///
    /// A key that does not decode (an unsupported keytype/scheme pair, or
    /// material `verify` cannot read, such as an ECDSA key that is not PEM)
    /// gets `undecodable`, NUL, then its keytype, scheme and public text as
    /// written, each NUL-separated. No decoded key's id begins that way, and
    /// such a key never verifies a signature, so it never counts.
    pub fn material_id(&self) -> String {
        self.decoded_material_id().unwrap_or_else(|| {
            format!("undecodable\0{}\0{}\0{}", self.keytype, self.scheme, self.keyval.public)
        })
    }

    /// The material id of a key that decodes, by the same decoders `verify` uses.
    fn decoded_material_id(&self) -> Option<String> {
        match self.scheme().ok()? {
            Scheme::Ed25519 => {
                let vk = self.ed25519_verifying_key().ok()?;
                Some(format!("ed25519\0{}", hex::encode(vk.as_bytes())))
            }
            Scheme::EcdsaP256Sha256 => {
                let vk = p256::ecdsa::VerifyingKey::from_public_key_pem(&self.keyval.public).ok()?;
                Some(format!("p256\0{}", hex::encode(vk.to_encoded_point(true).as_bytes())))
            }
            Scheme::RsaPssSha256 => {
                use rsa::pkcs8::DecodePublicKey as _;
                use rsa::traits::PublicKeyParts;
                let pk = rsa::RsaPublicKey::from_public_key_pem(&self.keyval.public).ok()?;
                Some(format!(
                    "rsa\0{}\0{}",
                    hex::encode(pk.n().to_bytes_be()),
                    hex::encode(pk.e().to_bytes_be())
                ))
            }
        }
    }

    /// The key as a reviewer compares it with a public key file: its
    /// algorithm, the SHA-256 fingerprint of its decoded material (the same
    /// for every encoding of the key, docs/FORMAT.md §3.7), and its key id.
    pub fn fingerprint(&self) -> String {
        format!(
            "{} SHA256:{} (key id {})",
            self.keytype,
            group4(&crate::hash::sha256_hex(self.material_id().as_bytes())[..32]),
            self.key_id().short()
        )
    }

    /// Verifies `sig_hex` over `payload`.
    pub fn verify(&self, payload: &[u8], sig_hex: &str) -> Result<(), SignatureError> {
        let sig = hex::decode(sig_hex).map_err(|_| SignatureError::NotHex)?;
        match self.scheme()? {
            Scheme::Ed25519 => {
                let vk = self.ed25519_verifying_key()?;
                let sig =
                    ed25519_dalek::Signature::from_slice(&sig).map_err(|_| SignatureError::Malformed)?;
                vk.verify_strict(payload, &sig).map_err(|_| SignatureError::Invalid)
            }
            Scheme::EcdsaP256Sha256 => {
                use p256::ecdsa::signature::Verifier;
                let vk = p256::ecdsa::VerifyingKey::from_public_key_pem(&self.keyval.public)
                    .map_err(|e| self.malformed(e))?;
                let sig = p256::ecdsa::Signature::from_der(&sig).map_err(|_| SignatureError::Malformed)?;
                vk.verify(payload, &sig).map_err(|_| SignatureError::Invalid)
            }
            Scheme::RsaPssSha256 => {
                use rsa::pkcs8::DecodePublicKey as _;
                use rsa::traits::PublicKeyParts;
                let pk = rsa::RsaPublicKey::from_public_key_pem(&self.keyval.public)
                    .map_err(|e| self.malformed(e))?;
                let digest = sha256(payload);
                // securesystemslib signs with a digest-length salt and verifies
                // with any salt length; accept the two lengths signers use.
                let em_len = (pk.n().bits() - 1).div_ceil(8);
                let max_salt = em_len.saturating_sub(32 + 2);
                for salt in [32, max_salt] {
                    if pk.verify(rsa::Pss::new_with_salt::<sha2::Sha256>(salt), &digest, &sig).is_ok() {
                        return Ok(());
                    }
                }
                Err(SignatureError::Invalid)
            }
        }
    }

    /// The Ed25519 verifying key, for keys of that scheme.
    pub fn ed25519_verifying_key(&self) -> Result<ed25519_dalek::VerifyingKey, KeyError> {
        let bytes: [u8; 32] = hex::decode(&self.keyval.public)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| self.malformed("not 32 bytes of hex"))?;
        ed25519_dalek::VerifyingKey::from_bytes(&bytes).map_err(|e| self.malformed(e))
    }

    /// Reads a PEM SubjectPublicKeyInfo (Ed25519, P-256 or RSA) into a key object.
    pub fn from_spki_pem(pem: &str) -> Result<Self, KeyError> {
        if let Ok(vk) = ed25519_dalek::VerifyingKey::from_public_key_pem(pem) {
            return Ok(Self::ed25519(vk.as_bytes()));
        }
        if let Ok(vk) = p256::ecdsa::VerifyingKey::from_public_key_pem(pem) {
            let pem =
                vk.to_public_key_pem(p256::pkcs8::LineEnding::LF).map_err(|_| KeyError::UnrecognisedPem)?;
            return Ok(Self::pem_key("ecdsa", "ecdsa-sha2-nistp256", pem));
        }
        {
            use rsa::pkcs8::{DecodePublicKey as _, EncodePublicKey as _};
            if let Ok(pk) = rsa::RsaPublicKey::from_public_key_pem(pem) {
                let pem = pk
                    .to_public_key_pem(rsa::pkcs8::LineEnding::LF)
                    .map_err(|_| KeyError::UnrecognisedPem)?;
                return Ok(Self::pem_key("rsa", "rsassa-pss-sha256", pem));
            }
        }
        Err(KeyError::UnrecognisedPem)
    }

    /// The key as PEM SubjectPublicKeyInfo, which `openssl pkey -pubin` reads.
    pub fn to_spki_pem(&self) -> Result<String, KeyError> {
        match self.scheme()? {
            Scheme::Ed25519 => self
                .ed25519_verifying_key()?
                .to_public_key_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
                .map_err(|e| self.malformed(e)),
            Scheme::EcdsaP256Sha256 | Scheme::RsaPssSha256 => Ok(self.keyval.public.clone()),
        }
    }

    fn pem_key(keytype: &str, scheme: &str, pem: String) -> Self {
        PublicKey {
            keytype: keytype.into(),
            scheme: scheme.into(),
            keyval: KeyVal { public: pem, extra: BTreeMap::new() },
            extra: BTreeMap::new(),
        }
    }

    fn malformed(&self, detail: impl fmt::Display) -> KeyError {
        KeyError::MalformedPublicKey { scheme: self.scheme.clone(), detail: detail.to_string() }
    }
}

/// Why a signer could not sign.
#[derive(Debug, thiserror::Error)]
pub enum SignerError {
    /// The backend failed (a token unplugged, a key file unreadable).
    #[error("signer failed: {0}")]
    Backend(String),
    /// The key is marked retiring: only the one active key may sign.
    #[error("key {0} is retiring and may no longer sign")]
    Retiring(KeyId),
}

/// Something that holds a private key and signs with it: a decrypted key
/// file today, a hardware token later. Implementations never expose the key.
pub trait Signer {
    /// The public key object, whose id goes into the signature.
    fn public_key(&self) -> &PublicKey;

    /// The key id signatures are filed under.
    fn key_id(&self) -> KeyId {
        self.public_key().key_id()
    }

    /// Signs `payload`, returning the raw signature bytes.
    fn sign(&self, payload: &[u8]) -> Result<Vec<u8>, SignerError>;
}

/// An Ed25519 signer over an in-memory key, which zeroizes itself on drop.
///
/// Deliberately no `Debug`: a secret must not be printable.
pub struct Ed25519Signer {
    key: ed25519_dalek::SigningKey,
    public: PublicKey,
}

impl Ed25519Signer {
    /// Wraps a signing key.
    pub fn new(key: ed25519_dalek::SigningKey) -> Self {
        let public = PublicKey::ed25519(key.verifying_key().as_bytes());
        Ed25519Signer { key, public }
    }

    /// The wrapped signing key, for writing it to an encrypted key file.
    pub fn signing_key(&self) -> &ed25519_dalek::SigningKey {
        &self.key
    }
}

impl Signer for Ed25519Signer {
    fn public_key(&self) -> &PublicKey {
        &self.public
    }

    fn sign(&self, payload: &[u8]) -> Result<Vec<u8>, SignerError> {
        use ed25519_dalek::Signer as _;
        Ok(self.key.sign(payload).to_bytes().to_vec())
    }
}

/// Keys and signers for tests: Ed25519 by seed, and ECDSA P-256 in either
/// SEC1 point form.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;
    use p256::pkcs8::der::asn1::BitStringRef;
    use p256::pkcs8::der::EncodePem;
    use p256::pkcs8::spki::{AssociatedAlgorithmIdentifier, SubjectPublicKeyInfo};
    use p256::pkcs8::LineEnding;

    pub use p256::elliptic_curve::sec1::ToEncodedPoint;

    /// The Ed25519 signer whose secret key is 32 bytes of `seed`: a fixed,
    /// distinct key per seed, so tests can name keys by number.
    pub fn ed25519_signer(seed: u8) -> Ed25519Signer {
        Ed25519Signer::new(ed25519_dalek::SigningKey::from_bytes(&[seed; 32]))
    }

    /// The P-256 secret key with every scalar byte `seed` (seed 1 to 255 is in range).
    pub fn p256_secret(seed: u8) -> p256::SecretKey {
        p256::SecretKey::from_slice(&[seed; 32]).unwrap()
    }

    /// The public key of `secret` as PEM SubjectPublicKeyInfo, its point
    /// compressed (33 bytes) or uncompressed (65 bytes).
    pub fn p256_spki_pem(secret: &p256::SecretKey, compressed: bool) -> String {
        let point = secret.public_key().to_encoded_point(compressed);
        let spki = SubjectPublicKeyInfo {
            algorithm: p256::PublicKey::ALGORITHM_IDENTIFIER,
            subject_public_key: BitStringRef::new(0, point.as_bytes()).unwrap(),
        };
        spki.to_pem(LineEnding::LF).unwrap()
    }

    /// A P-256 key object under `keytype` (`ecdsa` or `ecdsa-sha2-nistp256`).
    pub fn p256_key(secret: &p256::SecretKey, keytype: &str, compressed: bool) -> PublicKey {
        PublicKey::pem_key(keytype, "ecdsa-sha2-nistp256", p256_spki_pem(secret, compressed))
    }

    /// Signs with a P-256 key (DER signatures), filing them under the id of
    /// the key object given, whichever way that object writes the key.
    pub struct P256Signer {
        key: p256::ecdsa::SigningKey,
        public: PublicKey,
    }

    impl P256Signer {
        /// A signer for `secret` whose key object is `public`.
        pub fn new(secret: &p256::SecretKey, public: PublicKey) -> Self {
            P256Signer { key: secret.into(), public }
        }
    }

    impl Signer for P256Signer {
        fn public_key(&self) -> &PublicKey {
            &self.public
        }

        fn sign(&self, payload: &[u8]) -> Result<Vec<u8>, SignerError> {
            use p256::ecdsa::signature::Signer as _;
            let sig: p256::ecdsa::Signature = self.key.sign(payload);
            Ok(sig.to_der().as_bytes().to_vec())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{ed25519_signer as signer, p256_key, p256_secret, P256Signer, ToEncodedPoint};
    use super::*;

    /// A counter, not randomness: salts for test signatures only.
    struct Counter(u64);
    impl rsa::rand_core::RngCore for Counter {
        fn next_u32(&mut self) -> u32 {
            self.next_u64() as u32
        }
        fn next_u64(&mut self) -> u64 {
            self.0 += 1;
            self.0
        }
        fn fill_bytes(&mut self, dest: &mut [u8]) {
            for b in dest {
                *b = self.next_u64() as u8;
            }
        }
        fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rsa::rand_core::Error> {
            self.fill_bytes(dest);
            Ok(())
        }
    }
    impl rsa::rand_core::CryptoRng for Counter {}

    /// RSA-PSS signatures verify with both salt lengths signers use: the
    /// digest's length (securesystemslib) and the largest the key allows.
    #[test]
    fn rsa_pss_verifies_both_salt_lengths_signers_use() {
        use rsa::pkcs8::{DecodePrivateKey, EncodePublicKey};
        use rsa::traits::PublicKeyParts;
        let pem = include_str!("../../tests/data/rsa-test-key.pem");
        let private = rsa::RsaPrivateKey::from_pkcs8_pem(pem).unwrap();
        let public = private.to_public_key();
        let key = PublicKey {
            keytype: "rsa".into(),
            scheme: "rsassa-pss-sha256".into(),
            keyval: KeyVal {
                public: public.to_public_key_pem(rsa::pkcs8::LineEnding::LF).unwrap(),
                extra: Default::default(),
            },
            extra: Default::default(),
        };
        let digest = sha256(b"payload");
        let em_len = (public.n().bits() - 1).div_ceil(8);
        for salt in [32, em_len - 32 - 2] {
            let sig = private
                .sign_with_rng(
                    &mut Counter(salt as u64),
                    rsa::Pss::new_with_salt::<sha2::Sha256>(salt),
                    &digest,
                )
                .unwrap();
            key.verify(b"payload", &hex::encode(&sig)).unwrap_or_else(|e| panic!("salt {salt}: {e}"));
            assert_eq!(key.verify(b"payloaD", &hex::encode(&sig)), Err(SignatureError::Invalid));
        }
        // Any other salt length is not one airlock accepts.
        let sig = private
            .sign_with_rng(&mut Counter(1), rsa::Pss::new_with_salt::<sha2::Sha256>(20), &digest)
            .unwrap();
        assert_eq!(key.verify(b"payload", &hex::encode(&sig)), Err(SignatureError::Invalid));
    }

    #[test]
    fn key_ids_print_whole_grouped_and_short() {
        let id = KeyId("0123456789abcdef".repeat(4));
        assert_eq!(id.to_string(), id.0);
        assert_eq!(format!("{id:?}"), format!("KeyId({})", id.0));
        assert_eq!(id.grouped(), "0123 4567 89ab cdef ".repeat(4).trim_end());
        assert_eq!(id.short(), "0123 4567 89ab cdef");
        assert_eq!(KeyId("abc".into()).short(), "abc");
    }

    #[test]
    fn ed25519_sign_verify_and_tamper() {
        let s = signer(7);
        let sig = hex::encode(s.sign(b"payload").unwrap());
        s.public_key().verify(b"payload", &sig).unwrap();
        assert_eq!(s.public_key().verify(b"payloaD", &sig), Err(SignatureError::Invalid));
        assert_eq!(s.public_key().verify(b"payload", "zz"), Err(SignatureError::NotHex));
        assert_eq!(s.public_key().verify(b"payload", "abcd"), Err(SignatureError::Malformed));
    }

    #[test]
    fn ed25519_strict_refuses_non_canonical_s() {
        let s = signer(9);
        let mut sig = s.sign(b"m").unwrap();
        // Add the group order L to S: still verifies under lax rules, not strict ones.
        let l: [u8; 32] = [
            0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
        ];
        let mut carry = 0u16;
        for i in 0..32 {
            let v = sig[32 + i] as u16 + l[i] as u16 + carry;
            sig[32 + i] = v as u8;
            carry = v >> 8;
        }
        assert!(s.public_key().verify(b"m", &hex::encode(sig)).is_err());
    }

    #[test]
    fn key_id_is_hash_of_canonical_object() {
        let k = PublicKey::ed25519(&[1; 32]);
        let expected = format!(
            "{{\"keytype\":\"ed25519\",\"keyval\":{{\"public\":\"{}\"}},\"scheme\":\"ed25519\"}}",
            "01".repeat(32)
        );
        assert_eq!(k.key_id().0, hex::encode(sha256(expected.as_bytes())));
    }

    #[test]
    fn pem_round_trip() {
        let k = signer(3).public_key().clone();
        let pem = k.to_spki_pem().unwrap();
        assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----"));
        assert_eq!(PublicKey::from_spki_pem(&pem).unwrap(), k);
        assert_eq!(PublicKey::from_spki_pem("junk"), Err(KeyError::UnrecognisedPem));
    }

    #[test]
    fn unknown_scheme_is_refused() {
        let mut k = PublicKey::ed25519(&[1; 32]);
        k.scheme = "ed448".into();
        assert!(matches!(k.verify(b"", "00"), Err(SignatureError::Key(KeyError::UnsupportedScheme { .. }))));
    }

    #[test]
    fn material_id_of_p256_ignores_point_compression() {
        let secret = p256_secret(5);
        let compressed = p256_key(&secret, "ecdsa", true);
        let uncompressed = p256_key(&secret, "ecdsa", false);
        // The two really are different encodings, of different lengths.
        assert_ne!(compressed.keyval.public, uncompressed.keyval.public);
        assert!(compressed.keyval.public.len() < uncompressed.keyval.public.len());
        assert_ne!(compressed.key_id(), uncompressed.key_id());
        // Both verify the same signature, so they must be one key.
        let sig = hex::encode(P256Signer::new(&secret, compressed.clone()).sign(b"m").unwrap());
        compressed.verify(b"m", &sig).unwrap();
        uncompressed.verify(b"m", &sig).unwrap();
        assert_eq!(compressed.material_id(), uncompressed.material_id());
        let point = hex::encode(secret.public_key().to_encoded_point(true).as_bytes());
        assert_eq!(compressed.material_id(), format!("p256\0{point}"));
    }

    #[test]
    fn material_id_of_p256_ignores_keytype_spelling_and_pem_layout() {
        let secret = p256_secret(5);
        let expected = p256_key(&secret, "ecdsa", true).material_id();
        for keytype in ["ecdsa", "ecdsa-sha2-nistp256"] {
            for compressed in [true, false] {
                let k = p256_key(&secret, keytype, compressed);
                assert_eq!(k.material_id(), expected, "{keytype} compressed={compressed}");
                // CRLF line endings are the same key.
                let crlf = PublicKey {
                    keyval: KeyVal { public: k.keyval.public.replace('\n', "\r\n"), extra: BTreeMap::new() },
                    ..k.clone()
                };
                assert_eq!(crlf.material_id(), expected, "{keytype} compressed={compressed} CRLF");
            }
        }
    }

    #[test]
    fn material_id_of_different_keys_differs() {
        let a = p256_key(&p256_secret(5), "ecdsa", true);
        let b = p256_key(&p256_secret(6), "ecdsa", true);
        assert_ne!(a.material_id(), b.material_id());
        let b = p256_key(&p256_secret(6), "ecdsa-sha2-nistp256", false);
        assert_ne!(a.material_id(), b.material_id());
        assert_ne!(signer(1).public_key().material_id(), signer(2).public_key().material_id());
        assert_ne!(rsa_key(0xc5, 3).material_id(), rsa_key(0xc5, 5).material_id());
        assert_ne!(rsa_key(0xc5, 65537).material_id(), rsa_key(0xc7, 65537).material_id());
    }

    #[test]
    fn material_id_of_ed25519_is_the_decoded_bytes() {
        let k = signer(1).public_key().clone();
        let hex = hex::encode(k.ed25519_verifying_key().unwrap().as_bytes());
        assert_eq!(k.material_id(), format!("ed25519\0{hex}"));
        let upper = PublicKey {
            keyval: KeyVal { public: k.keyval.public.to_uppercase(), extra: BTreeMap::new() },
            ..k.clone()
        };
        assert_eq!(upper.material_id(), k.material_id());
    }

    /// An RSA key object with the 2048-bit modulus of 256 `fill` bytes (odd
    /// `fill`) and exponent `e`. The modulus is no product of two primes,
    /// which a public key cannot tell.
    fn rsa_key(fill: u8, e: u32) -> PublicKey {
        use rsa::pkcs8::EncodePublicKey as _;
        let n = rsa::BigUint::from_bytes_be(&[fill; 256]);
        let pk = rsa::RsaPublicKey::new(n, rsa::BigUint::from(e)).unwrap();
        let pem = pk.to_public_key_pem(rsa::pkcs8::LineEnding::LF).unwrap();
        PublicKey::pem_key("rsa", "rsassa-pss-sha256", pem)
    }

    #[test]
    fn material_id_of_rsa_is_modulus_and_exponent() {
        let k = rsa_key(0xc5, 65537);
        assert_eq!(k.material_id(), format!("rsa\0{}\0{}", "c5".repeat(256), "010001"));
        // CRLF line endings do not make another key.
        let crlf = PublicKey::pem_key("rsa", "rsassa-pss-sha256", k.keyval.public.replace('\n', "\r\n"));
        assert_ne!(crlf.keyval.public, k.keyval.public);
        assert_eq!(crlf.material_id(), k.material_id());
        assert_eq!(rsa_key(0xc5, 3).material_id(), format!("rsa\0{}\0{}", "c5".repeat(256), "03"));
    }

    #[test]
    fn material_id_never_collides_across_algorithms_or_with_undecodable_keys() {
        let ids = [
            signer(1).public_key().material_id(),
            p256_key(&p256_secret(1), "ecdsa", true).material_id(),
            rsa_key(0xc5, 65537).material_id(),
        ];
        let prefixes: Vec<&str> = ids.iter().map(|id| id.split('\0').next().unwrap()).collect();
        assert_eq!(prefixes, ["ed25519", "p256", "rsa"]);
        // A key verify() cannot read gets an id no decodable key can have.
        let ecdsa_hex_point = PublicKey {
            keyval: KeyVal {
                public: hex::encode(p256_secret(1).public_key().to_encoded_point(true).as_bytes()),
                extra: BTreeMap::new(),
            },
            ..p256_key(&p256_secret(1), "ecdsa", true)
        };
        let mut wrong_scheme = signer(1).public_key().clone();
        wrong_scheme.scheme = "ed448".into();
        let mut not_a_point = signer(1).public_key().clone();
        not_a_point.keyval.public = "zz".repeat(32);
        for k in [&ecdsa_hex_point, &wrong_scheme, &not_a_point] {
            assert!(k.verify(b"m", "00").is_err());
            let id = k.material_id();
            assert!(id.starts_with("undecodable\0"), "{id:?}");
            assert!(!ids.contains(&id));
        }
        assert_ne!(wrong_scheme.material_id(), not_a_point.material_id());
        // An RSA PEM listed as an ECDSA key is not that RSA key.
        let rsa_as_ecdsa =
            PublicKey { keyval: rsa_key(0xc5, 65537).keyval, ..p256_key(&p256_secret(1), "ecdsa", true) };
        assert!(rsa_as_ecdsa.material_id().starts_with("undecodable\0"));
    }

    #[test]
    fn grouping() {
        assert_eq!(group4("abcdef012"), "abcd ef01 2");
    }
}
