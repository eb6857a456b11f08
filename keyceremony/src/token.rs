//! Keys held in a PKCS#11 token: an HSM, a smartcard, a YubiKey, or
//! SoftHSM2 for tests.
//!
//! A key is named by an RFC 7512 `pkcs11:` URI, for example
//! `pkcs11:token=alice;object=root-2026?module-path=/usr/lib/softhsm/libsofthsm2.so`.
//! The private key never leaves the token: airlock asks it to sign, checks
//! the signature against the token's public key, and files it under the
//! TUF key id of that public key. Two algorithms: ECDSA P-256 (every token
//! has it; the token signs our SHA-256 digest with `CKM_ECDSA`) and Ed25519
//! (`CKM_EDDSA`, where the token has it).
//!
//! The user PIN is a secret like a passphrase: it never comes from the
//! URI (`pin-value` and `pin-source` are refused) and callers read it from
//! a [`crate::PassphraseSource`].

use crate::SecretPassphrase;
use airlock_core::{PublicKey, Signer, SignerError};
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::eddsa::{EddsaParams, EddsaSignatureScheme};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use p256::pkcs8::EncodePublicKey as _;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// The environment variable naming the PKCS#11 module when the URI has no
/// `module-path`.
pub const MODULE_ENV: &str = "AIRLOCK_PKCS11_MODULE";

/// DER of the P-256 curve's OID (1.2.840.10045.3.1.7), as `CKA_EC_PARAMS` holds it.
const P256_PARAMS: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
/// DER of the Ed25519 OID (1.3.101.112).
const ED25519_OID_PARAMS: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x70];
/// DER PrintableString "edwards25519", the older spelling of the same curve.
const ED25519_NAME_PARAMS: &[u8] = b"\x13\x0cedwards25519";

/// Why a token key could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The `pkcs11:` URI is malformed or asks for something we refuse.
    #[error("pkcs11 URI: {0}")]
    Uri(String),
    /// Neither the URI nor the environment names the module.
    #[error("no PKCS#11 module: add ?module-path=/path/to/module.so to the URI or set {MODULE_ENV}")]
    NoModule,
    /// No token, or more than one, matches the URI.
    #[error("{0}")]
    Token(String),
    /// No key, or more than one, matches the URI on the token.
    #[error("{0}")]
    Object(String),
    /// The key is of a type airlock does not sign with.
    #[error("{0}")]
    Unsupported(String),
    /// The PKCS#11 module reported an error.
    #[error("PKCS#11 {what}: {}", pkcs11_reason(source))]
    Pkcs11 {
        /// What was being done.
        what: &'static str,
        /// The module's error.
        #[source]
        source: cryptoki::error::Error,
    },
    /// The token refused the PIN (or is locked after too many tries).
    #[error("the token refused the PIN for {0}")]
    WrongPin(String),
    /// The token returned a signature its own public key does not verify.
    #[error("the token's signature does not verify under its public key {0}")]
    BadSignature(String),
}

/// The module's error code alone: cryptoki's own message repeats it.
fn pkcs11_reason(e: &cryptoki::error::Error) -> String {
    match e {
        cryptoki::error::Error::Pkcs11(rv, function) => format!("{function}: {rv:?}"),
        other => other.to_string(),
    }
}

fn pkcs11(what: &'static str) -> impl FnOnce(cryptoki::error::Error) -> TokenError {
    move |source| TokenError::Pkcs11 { what, source }
}

/// The key algorithms a token key can hold for airlock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenAlgorithm {
    /// ECDSA over P-256 with SHA-256 (TUF `ecdsa-sha2-nistp256`).
    EcdsaP256,
    /// Ed25519 (TUF `ed25519`).
    Ed25519,
}

/// A parsed `pkcs11:` URI (RFC 7512), reduced to what selects a key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenUri {
    /// The token label (`token=`).
    pub token: Option<String>,
    /// The token serial number (`serial=`).
    pub serial: Option<String>,
    /// The key's label (`object=`).
    pub object: Option<String>,
    /// The key's id (`id=`), raw bytes.
    pub id: Option<Vec<u8>>,
    /// The module to load (`?module-path=`).
    pub module_path: Option<PathBuf>,
}

impl TokenUri {
    /// Whether `s` is meant as a token URI rather than a file name.
    pub fn is_uri(s: &str) -> bool {
        s.starts_with("pkcs11:")
    }

    /// Parses a URI. Unknown path attributes that only narrow the match
    /// (`manufacturer`, `model`, `library-*`, `slot-*`, `type`) are
    /// accepted and ignored; `pin-value` and `pin-source` are refused so a
    /// PIN never sits in a command line.
    pub fn parse(s: &str) -> Result<Self, TokenError> {
        let rest =
            s.strip_prefix("pkcs11:").ok_or_else(|| TokenError::Uri("does not start with pkcs11:".into()))?;
        let (path, query) = match rest.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (rest, None),
        };
        let mut uri = TokenUri::default();
        for attr in path.split(';').filter(|a| !a.is_empty()) {
            let (name, value) = attr
                .split_once('=')
                .ok_or_else(|| TokenError::Uri(format!("attribute {attr:?} has no value")))?;
            let bytes = decode(value)?;
            let text = || {
                String::from_utf8(bytes.clone()).map_err(|_| TokenError::Uri(format!("{name} is not UTF-8")))
            };
            match name {
                "token" => uri.token = Some(text()?),
                "serial" => uri.serial = Some(text()?),
                "object" => uri.object = Some(text()?),
                "id" => uri.id = Some(bytes),
                "type" if value != "private" => {
                    return Err(TokenError::Uri(format!("type={value}: airlock signs with a private key")))
                }
                "manufacturer"
                | "model"
                | "type"
                | "library-manufacturer"
                | "library-description"
                | "library-version"
                | "slot-description"
                | "slot-manufacturer"
                | "slot-id" => {}
                "pin-value" | "pin-source" => return Err(pin_in_uri(name)),
                other => return Err(TokenError::Uri(format!("unknown attribute {other:?}"))),
            }
        }
        for attr in query.into_iter().flat_map(|q| q.split('&')).filter(|a| !a.is_empty()) {
            let (name, value) = attr
                .split_once('=')
                .ok_or_else(|| TokenError::Uri(format!("query {attr:?} has no value")))?;
            match name {
                "module-path" => {
                    let path = String::from_utf8(decode(value)?)
                        .map_err(|_| TokenError::Uri("module-path is not UTF-8".into()))?;
                    uri.module_path = Some(PathBuf::from(path));
                }
                "pin-value" | "pin-source" => return Err(pin_in_uri(name)),
                other => return Err(TokenError::Uri(format!("unknown query attribute {other:?}"))),
            }
        }
        if uri.object.is_none() && uri.id.is_none() {
            return Err(TokenError::Uri("name the key with object=LABEL or id=%XX...".into()));
        }
        Ok(uri)
    }

    /// A short name for prompts and messages: the token and the key.
    pub fn describe(&self) -> String {
        let key = match (&self.object, &self.id) {
            (Some(label), _) => label.clone(),
            (None, Some(id)) => format!("id {}", hex::encode(id)),
            (None, None) => "?".into(),
        };
        match &self.token {
            Some(t) => format!("key {key:?} on token {t:?}"),
            None => format!("key {key:?}"),
        }
    }

    fn module(&self) -> Result<PathBuf, TokenError> {
        if let Some(p) = &self.module_path {
            return Ok(p.clone());
        }
        match std::env::var_os(MODULE_ENV) {
            Some(p) if !p.is_empty() => Ok(PathBuf::from(p)),
            _ => Err(TokenError::NoModule),
        }
    }

    fn key_template(&self, class: ObjectClass) -> Vec<Attribute> {
        let mut t = vec![Attribute::Class(class)];
        if let Some(label) = &self.object {
            t.push(Attribute::Label(label.as_bytes().to_vec()));
        }
        if let Some(id) = &self.id {
            t.push(Attribute::Id(id.clone()));
        }
        t
    }
}

fn pin_in_uri(name: &str) -> TokenError {
    TokenError::Uri(format!(
        "{name} is refused: a PIN must not appear in a command line; give it like a passphrase (--passphrase-file, AIRLOCK_PASSPHRASE or the prompt)"
    ))
}

/// Percent-decodes one URI value, refusing a malformed escape.
fn decode(value: &str) -> Result<Vec<u8>, TokenError> {
    let b = value.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let pair = value.get(i + 1..i + 3).filter(|p| p.bytes().all(|c| c.is_ascii_hexdigit()));
            let pair = pair.ok_or_else(|| TokenError::Uri(format!("bad percent escape in {value:?}")))?;
            out.push(
                u8::from_str_radix(pair, 16)
                    .map_err(|_| TokenError::Uri(format!("bad escape in {value:?}")))?,
            );
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Ok(out)
}

/// A loaded module and the one slot whose token the URI names.
struct Opened {
    session: Session,
    uri: TokenUri,
}

fn open(uri: &TokenUri, pin: Option<&SecretPassphrase>, read_write: bool) -> Result<Opened, TokenError> {
    let module = uri.module()?;
    let ctx = load(&module)?;
    let slot = find_slot(&ctx, uri)?;
    let session = if read_write { ctx.open_rw_session(slot) } else { ctx.open_ro_session(slot) }
        .map_err(pkcs11("opening a session"))?;
    if let Some(pin) = pin {
        let pin = AuthPin::from(pin.expose().to_owned());
        match session.login(UserType::User, Some(&pin)) {
            Ok(()) => {}
            // A session of this application may already be logged in.
            Err(cryptoki::error::Error::Pkcs11(cryptoki::error::RvError::UserAlreadyLoggedIn, _)) => {}
            Err(cryptoki::error::Error::Pkcs11(
                cryptoki::error::RvError::PinIncorrect
                | cryptoki::error::RvError::PinLocked
                | cryptoki::error::RvError::PinLenRange,
                _,
            )) => return Err(TokenError::WrongPin(uri.describe())),
            Err(e) => return Err(pkcs11("logging in")(e)),
        }
    }
    Ok(Opened { session, uri: uri.clone() })
}

fn load(module: &Path) -> Result<Pkcs11, TokenError> {
    if !module.is_file() {
        return Err(TokenError::Token(format!("PKCS#11 module {}: no such file", module.display())));
    }
    let ctx = Pkcs11::new(module).map_err(pkcs11("loading the module"))?;
    ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .map_err(pkcs11("initialising the module"))?;
    Ok(ctx)
}

fn find_slot(ctx: &Pkcs11, uri: &TokenUri) -> Result<Slot, TokenError> {
    let mut found = Vec::new();
    for slot in ctx.get_slots_with_token().map_err(pkcs11("listing tokens"))? {
        let info = ctx.get_token_info(slot).map_err(pkcs11("reading token information"))?;
        let label_ok = uri.token.as_deref().is_none_or(|t| info.label().trim_end() == t);
        let serial_ok = uri.serial.as_deref().is_none_or(|s| info.serial_number().trim_end() == s);
        if label_ok && serial_ok {
            found.push((slot, info.label().trim_end().to_owned()));
        }
    }
    match found.len() {
        1 => Ok(found[0].0),
        0 => Err(TokenError::Token(match &uri.token {
            Some(t) => format!("no token labelled {t:?} is present"),
            None => "no token is present".into(),
        })),
        _ => Err(TokenError::Token(format!(
            "{} tokens match ({}); name one with token= or serial=",
            found.len(),
            found.iter().map(|(_, l)| format!("{l:?}")).collect::<Vec<_>>().join(", ")
        ))),
    }
}

impl Opened {
    fn one_object(&self, class: ObjectClass) -> Result<Option<ObjectHandle>, TokenError> {
        let found =
            self.session.find_objects(&self.uri.key_template(class)).map_err(pkcs11("finding the key"))?;
        match found.len() {
            0 => Ok(None),
            1 => Ok(Some(found[0])),
            n => Err(TokenError::Object(format!(
                "{} matches {n} objects on the token; name it with both object= and id=",
                self.uri.describe()
            ))),
        }
    }

    fn private_key(&self) -> Result<ObjectHandle, TokenError> {
        self.one_object(ObjectClass::PRIVATE_KEY)?.ok_or_else(|| {
            TokenError::Object(format!(
                "{}: no private key found (is the PIN right, and the label?)",
                self.uri.describe()
            ))
        })
    }

    /// The public key, read from the token's public key object.
    fn public_key(&self) -> Result<(PublicKey, TokenAlgorithm), TokenError> {
        let object = self.one_object(ObjectClass::PUBLIC_KEY)?.ok_or_else(|| {
            TokenError::Object(format!("{}: no public key object on the token", self.uri.describe()))
        })?;
        let attrs = self
            .session
            .get_attributes(
                object,
                &[AttributeType::KeyType, AttributeType::EcParams, AttributeType::EcPoint],
            )
            .map_err(pkcs11("reading the public key"))?;
        let (mut key_type, mut params, mut point) = (None, None, None);
        for a in attrs {
            match a {
                Attribute::KeyType(t) => key_type = Some(t),
                Attribute::EcParams(p) => params = Some(p),
                Attribute::EcPoint(p) => point = Some(p),
                _ => {}
            }
        }
        let (Some(params), Some(point)) = (params, point) else {
            return Err(TokenError::Unsupported(format!(
                "{}: not an elliptic-curve key (airlock signs with P-256 or Ed25519 token keys)",
                self.uri.describe()
            )));
        };
        // CKA_EC_POINT is a DER OCTET STRING around the point; some tokens
        // give the bare point.
        let point = unwrap_octet_string(&point).unwrap_or(&point);
        if key_type == Some(KeyType::EC) && params == P256_PARAMS {
            let key = p256::PublicKey::from_sec1_bytes(point).map_err(|_| {
                TokenError::Unsupported(format!(
                    "{}: the token's P-256 point is invalid",
                    self.uri.describe()
                ))
            })?;
            let pem = key
                .to_public_key_pem(p256::pkcs8::LineEnding::LF)
                .map_err(|_| TokenError::Unsupported("cannot encode the P-256 public key".into()))?;
            let public =
                PublicKey::from_spki_pem(&pem).map_err(|e| TokenError::Unsupported(e.to_string()))?;
            return Ok((public, TokenAlgorithm::EcdsaP256));
        }
        if key_type == Some(KeyType::EC_EDWARDS)
            && (params == ED25519_OID_PARAMS || params == ED25519_NAME_PARAMS)
        {
            let raw: [u8; 32] = point.try_into().map_err(|_| {
                TokenError::Unsupported(format!(
                    "{}: the token's Ed25519 key is not 32 bytes",
                    self.uri.describe()
                ))
            })?;
            return Ok((PublicKey::ed25519(&raw), TokenAlgorithm::Ed25519));
        }
        Err(TokenError::Unsupported(format!(
            "{}: unsupported curve (airlock signs with P-256 or Ed25519 token keys)",
            self.uri.describe()
        )))
    }
}

/// The content of a short-form DER OCTET STRING, if `der` is exactly one.
fn unwrap_octet_string(der: &[u8]) -> Option<&[u8]> {
    match der {
        [0x04, len, rest @ ..] if usize::from(*len) == rest.len() && *len < 0x80 => Some(rest),
        [0x04, 0x81, len, rest @ ..] if usize::from(*len) == rest.len() => Some(rest),
        _ => None,
    }
}

/// A signer whose private key stays in a PKCS#11 token.
pub struct TokenSigner {
    opened: Opened,
    key: ObjectHandle,
    public: PublicKey,
    algorithm: TokenAlgorithm,
}

impl TokenSigner {
    /// Opens the key `uri` names, logging in with `pin`.
    pub fn open(uri: &TokenUri, pin: &SecretPassphrase) -> Result<Self, TokenError> {
        let opened = open(uri, Some(pin), false)?;
        let key = opened.private_key()?;
        let (public, algorithm) = opened.public_key()?;
        Ok(TokenSigner { opened, key, public, algorithm })
    }
}

impl Signer for TokenSigner {
    fn public_key(&self) -> &PublicKey {
        &self.public
    }

    fn sign(&self, payload: &[u8]) -> Result<Vec<u8>, SignerError> {
        let backend = |e: TokenError| SignerError::Backend(e.to_string());
        let sig = match self.algorithm {
            TokenAlgorithm::EcdsaP256 => {
                let digest = Sha256::digest(payload);
                let raw = self
                    .opened
                    .session
                    .sign(&Mechanism::Ecdsa, self.key, &digest)
                    .map_err(|e| backend(pkcs11("signing")(e)))?;
                let sig = p256::ecdsa::Signature::from_slice(&raw)
                    .map_err(|_| backend(TokenError::BadSignature(self.public.key_id().0.clone())))?;
                // TUF ECDSA signatures are DER; low-S keeps them canonical.
                sig.normalize_s().unwrap_or(sig).to_der().as_bytes().to_vec()
            }
            TokenAlgorithm::Ed25519 => self
                .opened
                .session
                .sign(&Mechanism::Eddsa(EddsaParams::new(EddsaSignatureScheme::Pure)), self.key, payload)
                .map_err(|e| backend(pkcs11("signing")(e)))?,
        };
        // A token holding a different private key under the same label
        // would otherwise go unnoticed until a verifier refused it.
        self.public
            .verify(payload, &hex::encode(&sig))
            .map_err(|_| backend(TokenError::BadSignature(self.public.key_id().0.clone())))?;
        Ok(sig)
    }
}

/// Reads the public key `uri` names from the token (no PIN needed: public
/// key objects are public).
pub fn public_key(uri: &TokenUri) -> Result<PublicKey, TokenError> {
    open(uri, None, false)?.public_key().map(|(k, _)| k)
}

/// Generates a key pair inside the token, under the URI's `object=` label
/// (and `id=`, else an id derived from the label): the private key is
/// sensitive and never extractable. Refuses if a key with that label or
/// id already exists. Returns the public key.
pub fn generate(
    uri: &TokenUri,
    pin: &SecretPassphrase,
    algorithm: TokenAlgorithm,
) -> Result<PublicKey, TokenError> {
    let label = uri
        .object
        .clone()
        .ok_or_else(|| TokenError::Uri("a new token key needs a label: object=NAME".into()))?;
    let opened = open(uri, Some(pin), true)?;
    let id = uri.id.clone().unwrap_or_else(|| Sha256::digest(label.as_bytes())[..8].to_vec());
    for template in [vec![Attribute::Label(label.as_bytes().to_vec())], vec![Attribute::Id(id.clone())]] {
        let existing = opened.session.find_objects(&template).map_err(pkcs11("finding existing keys"))?;
        if !existing.is_empty() {
            return Err(TokenError::Object(format!(
                "the token already holds an object with label {label:?} or id {}; choose another",
                hex::encode(&id)
            )));
        }
    }
    let (mechanism, params) = match algorithm {
        TokenAlgorithm::EcdsaP256 => (Mechanism::EccKeyPairGen, P256_PARAMS),
        TokenAlgorithm::Ed25519 => (Mechanism::EccEdwardsKeyPairGen, ED25519_NAME_PARAMS),
    };
    let common =
        [Attribute::Token(true), Attribute::Label(label.as_bytes().to_vec()), Attribute::Id(id.clone())];
    let mut public = common.to_vec();
    public.extend([Attribute::EcParams(params.to_vec()), Attribute::Verify(true), Attribute::Private(false)]);
    let mut private = common.to_vec();
    private.extend([
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Sign(true),
    ]);
    opened
        .session
        .generate_key_pair(&mechanism, &public, &private)
        .map_err(pkcs11("generating the key pair"))?;
    let mut named = uri.clone();
    named.id = Some(id);
    Opened { session: opened.session, uri: named }.public_key().map(|(k, _)| k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rfc7512_uris() {
        let uri = TokenUri::parse(
            "pkcs11:token=My%20Token;object=root-2026;id=%01%02;manufacturer=x?module-path=/usr/lib/softhsm/libsofthsm2.so",
        )
        .unwrap();
        assert_eq!(uri.token.as_deref(), Some("My Token"));
        assert_eq!(uri.object.as_deref(), Some("root-2026"));
        assert_eq!(uri.id, Some(vec![1, 2]));
        assert_eq!(uri.module_path, Some(PathBuf::from("/usr/lib/softhsm/libsofthsm2.so")));
    }

    #[test]
    fn refuses_pins_and_unknown_attributes_in_uris() {
        for bad in [
            "pkcs11:object=a;pin-value=1234",
            "pkcs11:object=a?pin-value=1234",
            "pkcs11:object=a?pin-source=file:/tmp/pin",
            "pkcs11:object=a;colour=red",
            "pkcs11:object=a;type=public",
            "pkcs11:token=t",
            "pkcs11:object=%zz",
            "pkcs11:object=%4",
            "pkcs11:object",
            "file:object=a",
        ] {
            assert!(matches!(TokenUri::parse(bad), Err(TokenError::Uri(_))), "{bad} was accepted");
        }
        let e = TokenUri::parse("pkcs11:object=a;pin-value=1234").unwrap_err().to_string();
        assert!(!e.contains("1234"), "{e}");
    }

    #[test]
    fn unwraps_der_octet_strings() {
        let point = [7u8; 65];
        let mut der = vec![0x04, 65];
        der.extend_from_slice(&point);
        assert_eq!(unwrap_octet_string(&der), Some(&point[..]));
        let mut long = vec![0x04, 0x81, 200];
        long.extend_from_slice(&[1u8; 200]);
        assert_eq!(unwrap_octet_string(&long).map(<[u8]>::len), Some(200));
        assert_eq!(unwrap_octet_string(&point), None);
        assert_eq!(unwrap_octet_string(&[0x04, 3, 1]), None);
    }
}
