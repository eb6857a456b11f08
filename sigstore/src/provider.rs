//! A verification-only [`CryptoProvider`] for `sigstore-crypto` on the RustCrypto crates.
//!
//! `sigstore-verify`'s default provider is `aws-lc-rs`, which builds C code. With its
//! default features off, a provider must be installed before the first verification;
//! this one hashes with `sha2` and verifies ECDSA P-256/P-384 (`p256`, `p384`), Ed25519
//! (`ed25519-dalek`, strict) and RSA PKCS#1 v1.5 / PSS (`rsa`). ML-DSA, key generation
//! and signing are refused: airlock never signs with Sigstore.

use p256::ecdsa::signature::hazmat::PrehashVerifier;
use rsa::pkcs1::DecodeRsaPublicKey;
use sha2::Digest as _;
use sigstore_verify::crypto::provider::{CryptoProvider, HashContext};
use sigstore_verify::crypto::{Error, SigningScheme};
use sigstore_verify::types::HashAlgorithm;

type CryptoResult<T> = std::result::Result<T, Error>;

/// The provider; installed once per process by [`install`].
#[derive(Debug)]
pub(crate) struct RustCryptoProvider;

static PROVIDER: RustCryptoProvider = RustCryptoProvider;

/// Installs [`RustCryptoProvider`] as `sigstore-crypto`'s process-wide provider, unless
/// a provider is already installed (by an earlier call, or by the embedding program).
pub(crate) fn install() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // An error means another provider was installed first; it is then used instead.
        let _ = sigstore_verify::crypto::provider::install_default_provider(&PROVIDER);
    });
}

struct Hasher<D>(D);

impl<D: sha2::Digest + Send> HashContext for Hasher<D> {
    fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    fn finalize(self: Box<Self>) -> Vec<u8> {
        self.0.finalize().to_vec()
    }
}

fn digest(algorithm: HashAlgorithm, data: &[u8]) -> CryptoResult<Vec<u8>> {
    Ok(match algorithm {
        HashAlgorithm::Sha2256 => sha2::Sha256::digest(data).to_vec(),
        HashAlgorithm::Sha2384 => sha2::Sha384::digest(data).to_vec(),
        HashAlgorithm::Sha2512 => sha2::Sha512::digest(data).to_vec(),
        other => return Err(Error::UnsupportedAlgorithm(format!("hash {other:?}"))),
    })
}

fn invalid(scheme: SigningScheme) -> Error {
    Error::Verification(format!("{} signature invalid", scheme.name()))
}

fn bad_key(scheme: SigningScheme, e: impl std::fmt::Display) -> Error {
    Error::InvalidKey(format!("{} public key: {e}", scheme.name()))
}

impl CryptoProvider for RustCryptoProvider {
    fn hash(&self, algorithm: HashAlgorithm) -> CryptoResult<Box<dyn HashContext>> {
        Ok(match algorithm {
            HashAlgorithm::Sha2256 => Box::new(Hasher(sha2::Sha256::new())),
            HashAlgorithm::Sha2384 => Box::new(Hasher(sha2::Sha384::new())),
            HashAlgorithm::Sha2512 => Box::new(Hasher(sha2::Sha512::new())),
            other => return Err(Error::UnsupportedAlgorithm(format!("hash {other:?}"))),
        })
    }

    fn sha256(&self, data: &[u8]) -> [u8; 32] {
        sha2::Sha256::digest(data).into()
    }

    fn sha384(&self, data: &[u8]) -> [u8; 48] {
        sha2::Sha384::digest(data).into()
    }

    fn sha512(&self, data: &[u8]) -> [u8; 64] {
        sha2::Sha512::digest(data).into()
    }

    fn verify_raw(
        &self,
        scheme: SigningScheme,
        spki_pubkey_bytes: &[u8],
        data: &[u8],
        signature: &[u8],
    ) -> CryptoResult<()> {
        if scheme == SigningScheme::Ed25519 {
            let key: [u8; 32] = spki_pubkey_bytes.try_into().map_err(|_| bad_key(scheme, "not 32 bytes"))?;
            let key = ed25519_dalek::VerifyingKey::from_bytes(&key).map_err(|e| bad_key(scheme, e))?;
            let sig = ed25519_dalek::Signature::from_slice(signature).map_err(|_| invalid(scheme))?;
            // Strict verification, as everywhere else in airlock (DESIGN.md).
            return key.verify_strict(data, &sig).map_err(|_| invalid(scheme));
        }
        let algorithm = scheme
            .hash_algorithm()
            .ok_or_else(|| Error::UnsupportedAlgorithm(format!("{} is not supported", scheme.name())))?;
        self.verify_prehashed(scheme, spki_pubkey_bytes, &digest(algorithm, data)?, signature)
    }

    fn verify_prehashed(
        &self,
        scheme: SigningScheme,
        spki_pubkey_bytes: &[u8],
        digest: &[u8],
        signature: &[u8],
    ) -> CryptoResult<()> {
        let expected_len = match scheme.hash_algorithm() {
            Some(HashAlgorithm::Sha2256) => 32,
            Some(HashAlgorithm::Sha2384) => 48,
            Some(HashAlgorithm::Sha2512) => 64,
            _ => {
                return Err(Error::UnsupportedAlgorithm(format!(
                    "{} does not support prehashed verification",
                    scheme.name()
                )))
            }
        };
        if digest.len() != expected_len {
            return Err(Error::Verification(format!(
                "digest is {} bytes, {} needs {expected_len}",
                digest.len(),
                scheme.name()
            )));
        }
        match scheme {
            SigningScheme::EcdsaP256Sha256 | SigningScheme::EcdsaP256Sha384 => {
                let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(spki_pubkey_bytes)
                    .map_err(|e| bad_key(scheme, e))?;
                let sig = p256::ecdsa::Signature::from_der(signature).map_err(|_| invalid(scheme))?;
                key.verify_prehash(digest, &sig).map_err(|_| invalid(scheme))
            }
            SigningScheme::EcdsaP384Sha256 | SigningScheme::EcdsaP384Sha384 => {
                let key = p384::ecdsa::VerifyingKey::from_sec1_bytes(spki_pubkey_bytes)
                    .map_err(|e| bad_key(scheme, e))?;
                let sig = p384::ecdsa::Signature::from_der(signature).map_err(|_| invalid(scheme))?;
                key.verify_prehash(digest, &sig).map_err(|_| invalid(scheme))
            }
            SigningScheme::RsaPkcs1Sha256
            | SigningScheme::RsaPkcs1Sha384
            | SigningScheme::RsaPkcs1Sha512
            | SigningScheme::RsaPssSha256
            | SigningScheme::RsaPssSha384
            | SigningScheme::RsaPssSha512 => verify_rsa(scheme, spki_pubkey_bytes, digest, signature),
            _ => Err(Error::UnsupportedAlgorithm(format!("{} is not supported", scheme.name()))),
        }
    }
}

fn verify_rsa(scheme: SigningScheme, pkcs1_der: &[u8], digest: &[u8], signature: &[u8]) -> CryptoResult<()> {
    use rsa::{pkcs1v15, pss};
    let key = rsa::RsaPublicKey::from_pkcs1_der(pkcs1_der).map_err(|e| bad_key(scheme, e))?;
    let sig_bytes = signature;
    macro_rules! check {
        ($module:ident, $digest:ty) => {{
            let sig = $module::Signature::try_from(sig_bytes).map_err(|_| invalid(scheme))?;
            $module::VerifyingKey::<$digest>::new(key)
                .verify_prehash(digest, &sig)
                .map_err(|_| invalid(scheme))
        }};
    }
    match scheme {
        SigningScheme::RsaPkcs1Sha256 => check!(pkcs1v15, sha2::Sha256),
        SigningScheme::RsaPkcs1Sha384 => check!(pkcs1v15, sha2::Sha384),
        SigningScheme::RsaPkcs1Sha512 => check!(pkcs1v15, sha2::Sha512),
        SigningScheme::RsaPssSha256 => check!(pss, sha2::Sha256),
        SigningScheme::RsaPssSha384 => check!(pss, sha2::Sha384),
        SigningScheme::RsaPssSha512 => check!(pss, sha2::Sha512),
        _ => Err(Error::UnsupportedAlgorithm(format!("{} is not RSA", scheme.name()))),
    }
}
