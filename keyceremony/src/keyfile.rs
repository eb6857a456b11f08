//! Encrypted private key files and plain public key files.
//!
//! A private key file is the PKCS#8 PEM of an Ed25519 key, encrypted with
//! age to a passphrase (scrypt) and ASCII-armored. The format is chosen so
//! that a custodian can recover a key without airlock:
//!
//! ```text
//! age -d root-1.key | openssl pkey -pubout
//! ```
//!
//! The plaintext PEM exists only in zeroizing memory, never on disk. Files
//! are created, never replaced: losing a key file to an overwrite is
//! unrecoverable, so an existing file is always an error.

use crate::passphrase::SecretPassphrase;
use crate::secret_io::{read_bounded, Bounded};
use age::armor::{ArmoredReadError, ArmoredReader, ArmoredWriter, Format};
use age::DecryptError;
use airlock_core::keys::{Ed25519Signer, KeyError, PublicKey};
use ed25519_dalek::pkcs8::spki::der::pem;
use ed25519_dalek::pkcs8::PrivateKeyInfo;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// The scrypt work factor (log2 of N) for new key files: about a second on
/// a current machine, which is what age itself aims for.
pub const DEFAULT_SCRYPT_LOG_N: u8 = 18;

/// The largest scrypt work factor we write or accept from a file. Each step
/// doubles time and memory: 22 already needs 4 GiB and some seconds per
/// attempt, and a hostile file asking for more could stall the machine or
/// exhaust its memory before the passphrase is even checked.
pub const MAX_SCRYPT_LOG_N: u8 = 22;

/// Environment variable that lowers the scrypt work factor of new key files.
///
/// INSECURE, for tests only: a low work factor makes a stolen key file cheap
/// to brute-force. It exists because every key file written by an
/// end-to-end test would otherwise cost about a second of CPU.
pub const INSECURE_TEST_SCRYPT_ENV: &str = "AIRLOCK_INSECURE_TEST_SCRYPT_LOG_N";

/// Largest key file we read. A real one is well under a kilobyte; anything
/// much larger is not a key file, and need not be read whole.
pub const MAX_KEY_FILE_LEN: usize = 64 * 1024;

/// Largest decrypted content we accept; an Ed25519 PKCS#8 PEM is under 200 bytes.
const MAX_PLAINTEXT_LEN: usize = 4096;

const AGE_ARMOR_BEGIN: &[u8] = b"-----BEGIN AGE ENCRYPTED FILE-----";
const AGE_ARMOR_END: &[u8] = b"-----END AGE ENCRYPTED FILE-----";
const AGE_BINARY_MAGIC: &[u8] = b"age-encryption.org/";
const PEM_PUBLIC_BEGIN: &[u8] = b"-----BEGIN PUBLIC KEY-----";
const PEM_PRIVATE_BEGIN: &[u8] = b"-----BEGIN PRIVATE KEY-----";
const PKCS8_LABEL: &str = "PRIVATE KEY";

/// RFC 8410 section 7: the DER of a version 1 Ed25519 PrivateKeyInfo,
/// followed by the 32-byte seed. Written by hand rather than through
/// `EncodePrivateKey`, whose intermediate copy of the seed is not wiped in
/// our dependency configuration, and because version 1 without the public
/// key is exactly what `openssl genpkey -algorithm ed25519` writes and what
/// every OpenSSL release reads.
const ED25519_PKCS8_V1_PREFIX: [u8; 16] =
    [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];

/// Why a key file could not be written or read. Every variant is a distinct
/// reason, so callers and tests can tell them apart without parsing text.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// The target file exists; key files are never overwritten.
    #[error("{} already exists; refusing to overwrite a key file", path.display())]
    AlreadyExists {
        /// The file.
        path: PathBuf,
    },
    /// Reading, writing or syncing the file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The file is far larger than any key file.
    #[error("{} is larger than {limit} bytes; not a key file", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The largest size accepted.
        limit: usize,
    },
    /// The file is not age-encrypted.
    #[error("{} is not an age-encrypted key file", path.display())]
    NotAgeEncrypted {
        /// The file.
        path: PathBuf,
    },
    /// A public key file was given where a private key file is needed.
    #[error("{} holds a public key; a private key file is needed here", path.display())]
    PublicKeyGiven {
        /// The file.
        path: PathBuf,
    },
    /// The file is an unencrypted private key; we only read encrypted ones,
    /// so that plaintext keys are not left lying around as a working format.
    #[error("{} holds an UNENCRYPTED private key; encrypt it with age to a passphrase first", path.display())]
    PlaintextPrivateKey {
        /// The file.
        path: PathBuf,
    },
    /// The file is age-encrypted, but to recipient keys (a backup), not to a passphrase.
    #[error("{} is encrypted to age recipient keys, not to a passphrase", path.display())]
    NotPassphraseEncrypted {
        /// The file.
        path: PathBuf,
    },
    /// The file ends early.
    #[error("{} is truncated", path.display())]
    Truncated {
        /// The file.
        path: PathBuf,
    },
    /// The age structure (armor, header) is invalid.
    #[error("{} is not a well-formed age file: {detail}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        detail: String,
    },
    /// The passphrase was accepted, but the file then failed authentication:
    /// it was damaged or altered.
    #[error("{} is damaged or was altered: {detail}", path.display())]
    Corrupted {
        /// The file.
        path: PathBuf,
        /// What failed.
        detail: String,
    },
    /// The passphrase does not decrypt the file.
    #[error("wrong passphrase for {}", path.display())]
    WrongPassphrase {
        /// The file.
        path: PathBuf,
    },
    /// The file demands more scrypt work than we are willing to do.
    #[error("{} asks for scrypt work factor {log_n}, above our limit of {max}", path.display())]
    WorkFactorTooHigh {
        /// The file.
        path: PathBuf,
        /// The work factor the file asks for.
        log_n: u8,
        /// The largest we accept.
        max: u8,
    },
    /// The decrypted content is not an Ed25519 private key in PKCS#8 PEM.
    #[error("{} does not contain an Ed25519 PKCS#8 private key: {detail}", path.display())]
    NotEd25519Pkcs8 {
        /// The file.
        path: PathBuf,
        /// What was found instead.
        detail: String,
    },
    /// A public key file was wanted, and this is not one.
    #[error("{} is not a PEM public key file", path.display())]
    NotPublicKey {
        /// The file.
        path: PathBuf,
    },
    /// A public key (in a file, or to be written) is unusable.
    #[error("{}: {source}", path.display())]
    BadPublicKey {
        /// The file.
        path: PathBuf,
        /// Why the key is unusable.
        source: KeyError,
    },
    /// An scrypt work factor setting is out of range.
    #[error("scrypt work factor {value:?} is not a whole number from 1 to {max}")]
    InvalidWorkFactor {
        /// The setting as given.
        value: String,
        /// The largest accepted.
        max: u8,
    },
    /// The operating system's random number generator failed.
    #[error("the system random number generator failed: {0}")]
    Randomness(getrandom::Error),
    /// Encryption failed inside age.
    #[error("encrypting {} failed: {detail}", path.display())]
    Encrypt {
        /// The file being written.
        path: PathBuf,
        /// What failed.
        detail: String,
    },
}

/// How new key files are encrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyFileOptions {
    /// scrypt work factor, log2 of N: from 1 to [`MAX_SCRYPT_LOG_N`].
    pub scrypt_log_n: u8,
}

impl Default for KeyFileOptions {
    fn default() -> Self {
        KeyFileOptions { scrypt_log_n: DEFAULT_SCRYPT_LOG_N }
    }
}

impl KeyFileOptions {
    /// The defaults, unless [`INSECURE_TEST_SCRYPT_ENV`] overrides the work
    /// factor. The flag is true when it does: the binary must then warn that
    /// the key files it writes are weakly protected.
    pub fn from_env() -> Result<(Self, bool), KeyFileError> {
        Self::from_env_value(std::env::var_os(INSECURE_TEST_SCRYPT_ENV))
    }

    fn from_env_value(value: Option<std::ffi::OsString>) -> Result<(Self, bool), KeyFileError> {
        let Some(value) = value else {
            return Ok((Self::default(), false));
        };
        let text = value.to_string_lossy();
        let options = text
            .trim()
            .parse::<u8>()
            .ok()
            .map(|scrypt_log_n| KeyFileOptions { scrypt_log_n })
            .filter(|o| o.validate().is_ok())
            .ok_or_else(|| KeyFileError::InvalidWorkFactor {
                value: text.into_owned(),
                max: MAX_SCRYPT_LOG_N,
            })?;
        Ok((options, true))
    }

    /// Checks the settings, so that we never write a file we would refuse to read.
    pub fn validate(&self) -> Result<(), KeyFileError> {
        if (1..=MAX_SCRYPT_LOG_N).contains(&self.scrypt_log_n) {
            Ok(())
        } else {
            Err(KeyFileError::InvalidWorkFactor {
                value: self.scrypt_log_n.to_string(),
                max: MAX_SCRYPT_LOG_N,
            })
        }
    }
}

/// What a file looks like, judged from its first bytes without a passphrase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFileKind {
    /// age-encrypted (armored or binary): presumably a private key file.
    EncryptedPrivate,
    /// A PEM public key (SubjectPublicKeyInfo).
    PublicPem,
    /// An unencrypted PKCS#8 private key: what `age -d` recovers. Worth
    /// telling apart, so a tool can warn that a secret lies in the open.
    PlaintextPrivatePem,
    /// None of the above.
    Unknown,
}

/// Tells what kind of file `bytes` is, so that `key show` can display a
/// public key file without asking for a passphrase.
pub fn classify_key_file(bytes: &[u8]) -> KeyFileKind {
    let start = bytes.trim_ascii_start();
    if start.starts_with(AGE_ARMOR_BEGIN) || bytes.starts_with(AGE_BINARY_MAGIC) {
        KeyFileKind::EncryptedPrivate
    } else if start.starts_with(PEM_PUBLIC_BEGIN) {
        KeyFileKind::PublicPem
    } else if start.starts_with(PEM_PRIVATE_BEGIN) {
        KeyFileKind::PlaintextPrivatePem
    } else {
        KeyFileKind::Unknown
    }
}

/// A new Ed25519 key from the operating system's random number generator.
pub fn generate() -> Result<Ed25519Signer, KeyFileError> {
    let mut seed = Zeroizing::new([0u8; 32]);
    getrandom::getrandom(&mut seed[..]).map_err(KeyFileError::Randomness)?;
    Ok(Ed25519Signer::new(ed25519_dalek::SigningKey::from_bytes(&seed)))
}

/// The key as an unencrypted PKCS#8 PEM, in memory that is wiped on drop.
fn pkcs8_pem(signer: &Ed25519Signer) -> Result<Zeroizing<Vec<u8>>, pem::Error> {
    let mut der = Zeroizing::new([0u8; 48]);
    der[..16].copy_from_slice(&ED25519_PKCS8_V1_PREFIX);
    der[16..].copy_from_slice(signer.signing_key().as_bytes());
    let len = pem::encoded_len(PKCS8_LABEL, pem::LineEnding::LF, &der[..])?;
    let mut out = Zeroizing::new(vec![0u8; len]);
    let written = pem::encode(PKCS8_LABEL, pem::LineEnding::LF, &der[..], &mut out)?.len();
    out.truncate(written);
    Ok(out)
}

/// The armored age ciphertext of `plaintext` under `passphrase`.
fn encrypt_armored(
    plaintext: &[u8],
    passphrase: &SecretPassphrase,
    log_n: u8,
) -> Result<Vec<u8>, age::EncryptError> {
    let mut recipient = age::scrypt::Recipient::new(passphrase.to_age());
    // Validated by the caller to be in 1..=MAX_SCRYPT_LOG_N, as age requires.
    recipient.set_work_factor(log_n);
    let encryptor = age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))?;
    let mut out = Vec::with_capacity(1024);
    let armor = ArmoredWriter::wrap_output(&mut out, Format::AsciiArmor)?;
    let mut writer = encryptor.wrap_output(armor)?;
    writer.write_all(plaintext)?;
    writer.finish()?.finish()?;
    Ok(out)
}

/// Writes `signer`'s key to a new file at `path`, encrypted to `passphrase`.
///
/// The file is created with mode 0600 and never replaces an existing one.
/// It is complete and synced to disk when this returns `Ok`; on any error
/// after creating it, the partial file is removed.
pub fn write_key_file(
    path: &Path,
    signer: &Ed25519Signer,
    passphrase: &SecretPassphrase,
    options: &KeyFileOptions,
) -> Result<(), KeyFileError> {
    options.validate()?;
    let encrypt_err = |detail: String| KeyFileError::Encrypt { path: path.to_path_buf(), detail };
    let plaintext = pkcs8_pem(signer).map_err(|e| encrypt_err(e.to_string()))?;
    // Encrypt before creating the file, so that a failure leaves nothing behind.
    let ciphertext = encrypt_armored(&plaintext, passphrase, options.scrypt_log_n)
        .map_err(|e| encrypt_err(e.to_string()))?;
    drop(plaintext);
    create_new_file(path, 0o600, &ciphertext)
}

/// Writes `key` as a PEM SubjectPublicKeyInfo to a new file at `path`
/// (mode 0644), never replacing an existing file.
pub fn write_public_key_file(path: &Path, key: &PublicKey) -> Result<(), KeyFileError> {
    let pem = key
        .to_spki_pem()
        .map_err(|source| KeyFileError::BadPublicKey { path: path.to_path_buf(), source })?;
    create_new_file(path, 0o644, pem.as_bytes())
}

/// Creates `path` exclusively with `mode`, writes `contents`, and syncs the
/// file and its directory, removing the file again if anything fails.
fn create_new_file(path: &Path, mode: u32, contents: &[u8]) -> Result<(), KeyFileError> {
    // create_new is O_CREAT|O_EXCL: it also refuses to follow a symlink
    // planted at `path`, so we cannot be tricked into writing elsewhere.
    let mut file = OpenOptions::new().write(true).create_new(true).mode(mode).open(path).map_err(|e| {
        if e.kind() == io::ErrorKind::AlreadyExists {
            KeyFileError::AlreadyExists { path: path.to_path_buf() }
        } else {
            KeyFileError::Io { path: path.to_path_buf(), source: e }
        }
    })?;
    let written = file.write_all(contents).and_then(|()| file.sync_all());
    drop(file);
    // The directory entry must be durable too, or a crash can lose a key
    // file whose contents were synced.
    let result = written.and_then(|()| sync_parent_dir(path));
    if let Err(source) = result {
        // Best effort: the write error is what the caller needs to see.
        let _ = fs::remove_file(path);
        return Err(KeyFileError::Io { path: path.to_path_buf(), source });
    }
    Ok(())
}

fn sync_parent_dir(path: &Path) -> io::Result<()> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    File::open(parent)?.sync_all()
}

/// Reads at most [`MAX_KEY_FILE_LEN`] bytes of `path`.
fn read_small_file(path: &Path) -> Result<Zeroizing<Vec<u8>>, KeyFileError> {
    let io_err = |source| KeyFileError::Io { path: path.to_path_buf(), source };
    let file = File::open(path).map_err(io_err)?;
    match read_bounded(file, MAX_KEY_FILE_LEN).map_err(io_err)? {
        Bounded::Complete(bytes) => Ok(bytes),
        Bounded::TooLarge => {
            Err(KeyFileError::TooLarge { path: path.to_path_buf(), limit: MAX_KEY_FILE_LEN })
        }
    }
}

/// Reads and decrypts the private key file at `path`.
pub fn read_key_file(path: &Path, passphrase: &SecretPassphrase) -> Result<Ed25519Signer, KeyFileError> {
    let bytes = read_small_file(path)?;
    decrypt_key_file(&bytes, path, passphrase)
}

/// Decrypts a private key file already in memory; `origin` names where the
/// bytes came from, for error messages (a path, or `-` for stdin).
pub fn decrypt_key_file(
    bytes: &[u8],
    origin: &Path,
    passphrase: &SecretPassphrase,
) -> Result<Ed25519Signer, KeyFileError> {
    let path = || origin.to_path_buf();
    if bytes.len() > MAX_KEY_FILE_LEN {
        return Err(KeyFileError::TooLarge { path: path(), limit: MAX_KEY_FILE_LEN });
    }
    match classify_key_file(bytes) {
        KeyFileKind::EncryptedPrivate => {}
        KeyFileKind::PublicPem => return Err(KeyFileError::PublicKeyGiven { path: path() }),
        KeyFileKind::PlaintextPrivatePem => return Err(KeyFileError::PlaintextPrivateKey { path: path() }),
        KeyFileKind::Unknown => return Err(KeyFileError::NotAgeEncrypted { path: path() }),
    }
    let bytes = bytes.trim_ascii_start();
    // age reports a missing end line as a generic armor error; a cut-off
    // file is common enough (a copy interrupted, a paste too short) to name.
    if bytes.starts_with(AGE_ARMOR_BEGIN) && !contains(bytes, AGE_ARMOR_END) {
        return Err(KeyFileError::Truncated { path: path() });
    }

    let decryptor =
        age::Decryptor::new_buffered(ArmoredReader::new(bytes)).map_err(|e| map_decrypt_error(e, origin))?;
    if !decryptor.is_scrypt() {
        return Err(KeyFileError::NotPassphraseEncrypted { path: path() });
    }
    let mut identity = age::scrypt::Identity::new(passphrase.to_age());
    identity.set_max_work_factor(MAX_SCRYPT_LOG_N);
    let reader = decryptor
        .decrypt(std::iter::once(&identity as &dyn age::Identity))
        .map_err(|e| map_decrypt_error(e, origin))?;
    let plaintext = match read_bounded(reader, MAX_PLAINTEXT_LEN) {
        Ok(Bounded::Complete(p)) => p,
        Ok(Bounded::TooLarge) => {
            return Err(KeyFileError::NotEd25519Pkcs8 {
                path: path(),
                detail: format!("content is larger than {MAX_PLAINTEXT_LEN} bytes"),
            })
        }
        Err(e) => return Err(map_payload_error(e, origin)),
    };
    parse_pkcs8_pem(&plaintext).map_err(|detail| KeyFileError::NotEd25519Pkcs8 { path: path(), detail })
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn is_armor_error(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<ArmoredReadError>())
}

fn map_decrypt_error(e: DecryptError, origin: &Path) -> KeyFileError {
    let path = origin.to_path_buf();
    match e {
        DecryptError::DecryptionFailed => KeyFileError::WrongPassphrase { path },
        DecryptError::ExcessiveWork { required, .. } => {
            KeyFileError::WorkFactorTooHigh { path, log_n: required, max: MAX_SCRYPT_LOG_N }
        }
        // Only reached once the passphrase has unwrapped the file key, so
        // the header was altered after encryption.
        DecryptError::InvalidMac => {
            KeyFileError::Corrupted { path, detail: "header MAC does not verify".into() }
        }
        DecryptError::NoMatchingKeys => KeyFileError::NotPassphraseEncrypted { path },
        DecryptError::Io(io) if io.kind() == io::ErrorKind::UnexpectedEof => KeyFileError::Truncated { path },
        DecryptError::Io(io) => KeyFileError::Malformed { path, detail: io.to_string() },
        DecryptError::InvalidHeader => KeyFileError::Malformed { path, detail: "invalid age header".into() },
        DecryptError::UnknownFormat => {
            KeyFileError::Malformed { path, detail: "unknown age format version".into() }
        }
        other => KeyFileError::Malformed { path, detail: other.to_string() },
    }
}

fn map_payload_error(e: io::Error, origin: &Path) -> KeyFileError {
    let path = origin.to_path_buf();
    if e.kind() == io::ErrorKind::UnexpectedEof {
        KeyFileError::Truncated { path }
    } else if is_armor_error(&e) {
        KeyFileError::Malformed { path, detail: e.to_string() }
    } else if e.kind() == io::ErrorKind::InvalidData {
        KeyFileError::Corrupted { path, detail: e.to_string() }
    } else {
        KeyFileError::Io { path, source: e }
    }
}

/// Parses an Ed25519 PKCS#8 PEM (version 1, or version 2 with a public key
/// that must match), copying the seed only into wiped memory.
fn parse_pkcs8_pem(pem_bytes: &[u8]) -> Result<Ed25519Signer, String> {
    // Decoded DER is never longer than its PEM; sized once so it never reallocates.
    let mut der_buf = Zeroizing::new(vec![0u8; pem_bytes.len()]);
    let (label, der) =
        pem::decode(pem_bytes, &mut der_buf).map_err(|e| format!("not a PEM document ({e})"))?;
    if label != PKCS8_LABEL {
        return Err(format!("PEM label is {label:?}, expected {PKCS8_LABEL:?}"));
    }
    let info = PrivateKeyInfo::try_from(der).map_err(|e| format!("malformed PKCS#8 ({e})"))?;
    if info.algorithm.oid != ed25519_dalek::pkcs8::ALGORITHM_OID {
        return Err(format!("key algorithm is {}, not Ed25519 (1.3.101.112)", info.algorithm.oid));
    }
    if info.algorithm.parameters.is_some() {
        return Err("Ed25519 algorithm identifier has parameters".into());
    }
    // RFC 8410: the private key is an OCTET STRING wrapping the 32-byte seed.
    let seed_bytes = match info.private_key {
        [0x04, 0x20, rest @ ..] if rest.len() == 32 => rest,
        _ => return Err("private key is not a 32-byte Ed25519 seed".into()),
    };
    let mut seed = Zeroizing::new([0u8; 32]);
    seed.copy_from_slice(seed_bytes);
    let signer = Ed25519Signer::new(ed25519_dalek::SigningKey::from_bytes(&seed));
    if let Some(public) = info.public_key {
        if public != signer.signing_key().verifying_key().as_bytes() {
            return Err("embedded public key does not match the private key".into());
        }
    }
    Ok(signer)
}

/// Reads a PEM public key file, refusing private key files, so that
/// showing a public key never needs a passphrase.
pub fn read_public_key_file(path: &Path) -> Result<PublicKey, KeyFileError> {
    let bytes = read_small_file(path)?;
    if classify_key_file(&bytes) != KeyFileKind::PublicPem {
        return Err(KeyFileError::NotPublicKey { path: path.to_path_buf() });
    }
    let text =
        std::str::from_utf8(&bytes).map_err(|_| KeyFileError::NotPublicKey { path: path.to_path_buf() })?;
    PublicKey::from_spki_pem(text)
        .map_err(|source| KeyFileError::BadPublicKey { path: path.to_path_buf(), source })
}

#[cfg(test)]
mod tests {
    use super::*;
    use airlock_core::keys::Signer;
    use std::os::unix::fs::PermissionsExt;

    const FAST: KeyFileOptions = KeyFileOptions { scrypt_log_n: 10 };

    fn pass(s: &str) -> SecretPassphrase {
        SecretPassphrase::from(s)
    }

    fn signer(seed: u8) -> Ed25519Signer {
        Ed25519Signer::new(ed25519_dalek::SigningKey::from_bytes(&[seed; 32]))
    }

    fn written(seed: u8) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("root-1.key");
        write_key_file(&path, &signer(seed), &pass("correct horse"), &FAST).unwrap();
        (dir, path)
    }

    #[test]
    fn round_trip() {
        let (_dir, path) = written(7);
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("-----BEGIN AGE ENCRYPTED FILE-----\n"), "{text}");
        assert!(text.trim_end().ends_with("-----END AGE ENCRYPTED FILE-----"));
        assert!(!text.contains("PRIVATE KEY"));
        assert_eq!(classify_key_file(text.as_bytes()), KeyFileKind::EncryptedPrivate);

        let back = read_key_file(&path, &pass("correct horse")).unwrap();
        assert_eq!(back.public_key(), signer(7).public_key());
        assert_eq!(back.sign(b"m").unwrap(), signer(7).sign(b"m").unwrap());
    }

    #[test]
    fn generated_keys_differ_and_round_trip() {
        let a = generate().unwrap();
        let b = generate().unwrap();
        assert_ne!(a.public_key(), b.public_key());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        write_key_file(&path, &a, &pass("p"), &FAST).unwrap();
        assert_eq!(read_key_file(&path, &pass("p")).unwrap().public_key(), a.public_key());
    }

    #[test]
    fn plaintext_is_rfc8410_v1_pkcs8() {
        // The RFC 8410 section 10.3 example key.
        let seed = hex::decode("d4ee72dbf913584ad5b6d8f1f769f8ad3afe7c28cbf1d4fbe097a88f44755842").unwrap();
        let s = Ed25519Signer::new(ed25519_dalek::SigningKey::from_bytes(&seed.try_into().unwrap()));
        let pem = pkcs8_pem(&s).unwrap();
        assert_eq!(
            std::str::from_utf8(&pem).unwrap(),
            "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n-----END PRIVATE KEY-----\n"
        );
        assert_eq!(parse_pkcs8_pem(&pem).unwrap().public_key(), s.public_key());
    }

    #[test]
    fn wrong_passphrase() {
        let (_dir, path) = written(1);
        let err = read_key_file(&path, &pass("Correct horse")).err().unwrap();
        assert!(
            matches!(err, KeyFileError::WrongPassphrase { ref path } if path.ends_with("root-1.key")),
            "{err}"
        );
    }

    #[test]
    fn existing_file_is_never_overwritten() {
        let (_dir, path) = written(1);
        let before = fs::read(&path).unwrap();
        let err = write_key_file(&path, &signer(2), &pass("other"), &FAST).unwrap_err();
        assert!(matches!(err, KeyFileError::AlreadyExists { .. }), "{err}");
        assert_eq!(fs::read(&path).unwrap(), before);
        assert_eq!(
            read_key_file(&path, &pass("correct horse")).unwrap().public_key(),
            signer(1).public_key()
        );

        let pub_path = path.with_extension("pub");
        write_public_key_file(&pub_path, signer(1).public_key()).unwrap();
        let err = write_public_key_file(&pub_path, signer(2).public_key()).unwrap_err();
        assert!(matches!(err, KeyFileError::AlreadyExists { .. }));
    }

    #[test]
    fn does_not_follow_a_planted_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("elsewhere");
        let link = dir.path().join("root-1.key");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let err = write_key_file(&link, &signer(1), &pass("p"), &FAST).unwrap_err();
        assert!(matches!(err, KeyFileError::AlreadyExists { .. }), "{err}");
        assert!(!target.exists());
    }

    #[test]
    fn modes_are_0600_and_0644() {
        let (_dir, path) = written(1);
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let pub_path = path.with_extension("pub");
        write_public_key_file(&pub_path, signer(1).public_key()).unwrap();
        // umask can only remove bits, so 0644 is the most we can see.
        let mode = fs::metadata(&pub_path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode & !0o644, 0, "{mode:o}");
    }

    #[test]
    fn failed_write_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing-dir").join("k");
        let err = write_key_file(&path, &signer(1), &pass("p"), &FAST).unwrap_err();
        assert!(matches!(err, KeyFileError::Io { .. }));
        let bad = KeyFileOptions { scrypt_log_n: 0 };
        let path = dir.path().join("k");
        let err = write_key_file(&path, &signer(1), &pass("p"), &bad).unwrap_err();
        assert!(matches!(err, KeyFileError::InvalidWorkFactor { .. }));
        let too_slow = KeyFileOptions { scrypt_log_n: MAX_SCRYPT_LOG_N + 1 };
        assert!(matches!(
            write_key_file(&path, &signer(1), &pass("p"), &too_slow),
            Err(KeyFileError::InvalidWorkFactor { .. })
        ));
        assert!(!path.exists());
    }

    #[test]
    fn truncated_files_are_named_as_such() {
        let (_dir, path) = written(1);
        let full = fs::read(&path).unwrap();
        let p = pass("correct horse");
        // Cut inside the armor, and cut right before the end line.
        for cut in [full.len() / 2, full.len() - 40, 60] {
            let err = decrypt_key_file(&full[..cut], &path, &p).err().unwrap();
            assert!(matches!(err, KeyFileError::Truncated { .. }), "cut at {cut}: {err}");
        }
        // An armored file whose last data lines are gone but whose end line remains.
        let text = String::from_utf8(full.clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let shortened = [&lines[..2], &lines[lines.len() - 1..]].concat().join("\n");
        let err = decrypt_key_file(shortened.as_bytes(), &path, &p).err().unwrap();
        assert!(matches!(err, KeyFileError::Truncated { .. }), "{err}");
    }

    #[test]
    fn binary_age_truncated_payload() {
        let mut recipient = age::scrypt::Recipient::new(pass("p").to_age());
        recipient.set_work_factor(10);
        let full = age::encrypt(&recipient, b"payload that is not a key").unwrap();
        let err = decrypt_key_file(&full[..full.len() - 17], Path::new("-"), &pass("p")).err().unwrap();
        assert!(matches!(err, KeyFileError::Truncated { .. } | KeyFileError::Corrupted { .. }), "{err}");
        let err = decrypt_key_file(&full, Path::new("-"), &pass("p")).err().unwrap();
        assert!(matches!(err, KeyFileError::NotEd25519Pkcs8 { .. }), "{err}");
    }

    #[test]
    fn altered_payload_is_corrupted_not_wrong_passphrase() {
        let mut recipient = age::scrypt::Recipient::new(pass("p").to_age());
        recipient.set_work_factor(10);
        let mut bin = age::encrypt(&recipient, b"x").unwrap();
        let last = bin.len() - 1;
        bin[last] ^= 1;
        let err = decrypt_key_file(&bin, Path::new("-"), &pass("p")).err().unwrap();
        assert!(matches!(err, KeyFileError::Corrupted { .. }), "{err}");
    }

    #[test]
    fn non_age_input_is_refused() {
        let p = pass("p");
        for junk in [&b""[..], b"hello", b"\x00\x01\x02", b"-----BEGIN CERTIFICATE-----\nMIIB\n"] {
            let err = decrypt_key_file(junk, Path::new("x"), &p).err().unwrap();
            assert!(matches!(err, KeyFileError::NotAgeEncrypted { .. }), "{junk:?}: {err}");
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notes.txt");
        fs::write(&path, "not a key\n").unwrap();
        assert!(matches!(read_key_file(&path, &p), Err(KeyFileError::NotAgeEncrypted { .. })));
        assert!(matches!(read_key_file(&dir.path().join("absent"), &p), Err(KeyFileError::Io { .. })));
        let big = dir.path().join("big");
        fs::write(&big, vec![b'a'; MAX_KEY_FILE_LEN + 1]).unwrap();
        assert!(matches!(read_key_file(&big, &p), Err(KeyFileError::TooLarge { .. })));
    }

    #[test]
    fn malformed_armor_is_refused() {
        let (_dir, path) = written(1);
        let text = fs::read_to_string(&path).unwrap();
        // A damaged character in the base64 body.
        let mut lines: Vec<String> = text.lines().map(String::from).collect();
        lines[1].replace_range(3..4, "!");
        let damaged = lines.join("\n");
        let err = decrypt_key_file(damaged.as_bytes(), &path, &pass("correct horse")).err().unwrap();
        assert!(matches!(err, KeyFileError::Malformed { .. }), "{err}");
    }

    #[test]
    fn public_key_given_where_private_needed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("root-1.pub");
        write_public_key_file(&path, signer(1).public_key()).unwrap();
        let err = read_key_file(&path, &pass("p")).err().unwrap();
        assert!(matches!(err, KeyFileError::PublicKeyGiven { .. }), "{err}");
        assert_eq!(read_public_key_file(&path).unwrap(), *signer(1).public_key());
        assert_eq!(classify_key_file(&fs::read(&path).unwrap()), KeyFileKind::PublicPem);
    }

    #[test]
    fn read_public_key_file_refuses_private_files() {
        let (_dir, path) = written(1);
        assert!(matches!(read_public_key_file(&path), Err(KeyFileError::NotPublicKey { .. })));
    }

    #[test]
    fn plaintext_private_key_is_refused() {
        let pem = pkcs8_pem(&signer(1)).unwrap();
        assert_eq!(classify_key_file(&pem), KeyFileKind::PlaintextPrivatePem);
        let err = decrypt_key_file(&pem, Path::new("k"), &pass("p")).err().unwrap();
        assert!(matches!(err, KeyFileError::PlaintextPrivateKey { .. }), "{err}");
    }

    fn armored_to_passphrase(plaintext: &[u8], passphrase: &str, log_n: u8) -> Vec<u8> {
        encrypt_armored(plaintext, &pass(passphrase), log_n).unwrap()
    }

    #[test]
    fn non_ed25519_or_malformed_pkcs8_is_refused() {
        // A P-256 PKCS#8 key (from `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256`).
        let p256 = "-----BEGIN PRIVATE KEY-----\n\
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgZ+d2cVwAkDxcocgY\n\
l63TVEDC2L8xrrUxkgkkSmclY2WhRANCAAR6WLVBwJZO+057/5M0E5B2NHx/Prwx\n\
QHUlggxG/hch9yY9rY7WPwzCliROW3vdqPEI/btt0Vp5/V+3jIFb/Ip8\n\
-----END PRIVATE KEY-----\n";
        let public_pem = signer(1).public_key().to_spki_pem().unwrap();
        let v2_mismatch = {
            // Version 2 with the public key of another seed.
            let mut der = vec![0x30, 0x51, 0x02, 0x01, 0x01];
            der.extend_from_slice(&ED25519_PKCS8_V1_PREFIX[5..]);
            der.extend_from_slice(&[1u8; 32]);
            der.extend_from_slice(&[0x81, 0x21, 0x00]);
            der.extend_from_slice(signer(2).signing_key().verifying_key().as_bytes());
            pem::encode_string(PKCS8_LABEL, pem::LineEnding::LF, &der).unwrap()
        };
        for content in [p256, "hello", public_pem.as_str(), v2_mismatch.as_str()] {
            let file = armored_to_passphrase(content.as_bytes(), "p", 10);
            let err = decrypt_key_file(&file, Path::new("k"), &pass("p")).err().unwrap();
            assert!(matches!(err, KeyFileError::NotEd25519Pkcs8 { .. }), "{content}: {err}");
        }
    }

    #[test]
    fn accepts_v2_pkcs8_with_matching_public_key() {
        use ed25519_dalek::pkcs8::EncodePrivateKey;
        let s = signer(5);
        let pem = s.signing_key().to_pkcs8_pem(pem::LineEnding::LF).unwrap();
        let file = armored_to_passphrase(pem.as_bytes(), "p", 10);
        assert_eq!(decrypt_key_file(&file, Path::new("k"), &pass("p")).unwrap().public_key(), s.public_key());
    }

    #[test]
    fn excessive_work_factor_is_refused_before_any_work() {
        // Rewrite the header of a log_n 10 file to ask for 30: the header
        // MAC would no longer verify, but the cap must trigger first.
        let mut recipient = age::scrypt::Recipient::new(pass("p").to_age());
        recipient.set_work_factor(10);
        let bin = age::encrypt(&recipient, b"x").unwrap();
        let text = String::from_utf8_lossy(&bin).into_owned();
        let at = text.find(" 10\n").unwrap();
        let mut hostile = bin.clone();
        hostile[at + 1..at + 3].copy_from_slice(b"30");
        let start = std::time::Instant::now();
        let err = decrypt_key_file(&hostile, Path::new("k"), &pass("p")).err().unwrap();
        assert!(
            matches!(err, KeyFileError::WorkFactorTooHigh { log_n: 30, max: MAX_SCRYPT_LOG_N, .. }),
            "{err}"
        );
        assert!(start.elapsed() < std::time::Duration::from_secs(5));
    }

    #[test]
    fn backup_encrypted_to_recipients_is_not_a_passphrase_file() {
        let id = age::x25519::Identity::generate();
        let bin = age::encrypt(&id.to_public(), b"x").unwrap();
        let err = decrypt_key_file(&bin, Path::new("k"), &pass("p")).err().unwrap();
        assert!(matches!(err, KeyFileError::NotPassphraseEncrypted { .. }), "{err}");
    }

    #[test]
    fn options_from_env_value() {
        assert_eq!(KeyFileOptions::from_env_value(None).unwrap(), (KeyFileOptions::default(), false));
        assert_eq!(KeyFileOptions::default().scrypt_log_n, 18);
        assert_eq!(
            KeyFileOptions::from_env_value(Some("10".into())).unwrap(),
            (KeyFileOptions { scrypt_log_n: 10 }, true)
        );
        for bad in ["", "0", "23", "x", "-1", "300"] {
            assert!(
                matches!(
                    KeyFileOptions::from_env_value(Some(bad.into())),
                    Err(KeyFileError::InvalidWorkFactor { .. })
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn classify() {
        assert_eq!(classify_key_file(b"age-encryption.org/v1\n-> scrypt"), KeyFileKind::EncryptedPrivate);
        assert_eq!(
            classify_key_file(b"\n-----BEGIN AGE ENCRYPTED FILE-----\n"),
            KeyFileKind::EncryptedPrivate
        );
        assert_eq!(classify_key_file(b"-----BEGIN PUBLIC KEY-----\n"), KeyFileKind::PublicPem);
        assert_eq!(classify_key_file(b"-----BEGIN PRIVATE KEY-----\n"), KeyFileKind::PlaintextPrivatePem);
        assert_eq!(classify_key_file(b"-----BEGIN ENCRYPTED PRIVATE KEY-----\n"), KeyFileKind::Unknown);
        assert_eq!(classify_key_file(b""), KeyFileKind::Unknown);
    }
}
