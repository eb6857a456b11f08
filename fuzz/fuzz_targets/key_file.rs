//! Key files: classification, PEM public keys, and the age decryption of
//! private key files.
//!
//! Invariants: no panic; a file `decrypt_key_file` accepts is classified as
//! encrypted.
//!
//! Limitation: `decrypt_key_file` runs only on inputs that do not contain
//! `scrypt`, neither in their bytes nor in their ASCII-armored body once
//! decoded. An input naming a scrypt stanza sets its own work factor (up to
//! 2^22, 4 GiB), which would make runs slow or exhaust memory, so the
//! passphrase path past the age header is not fuzzed here.
#![no_main]

use airlock_core::PublicKey;
use airlock_keyceremony::{classify_key_file, decrypt_key_file, KeyFileKind, SecretPassphrase};
use base64::engine::general_purpose::GeneralPurpose;
use base64::engine::{DecodePaddingMode, GeneralPurposeConfig};
use base64::Engine;
use libfuzzer_sys::fuzz_target;
use std::path::Path;

const SCRYPT: &[u8] = b"scrypt";

/// Lenient enough to decode anything age's armor reader decodes.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Whether the input, or what an armor reader would decode from it before
/// stopping at a bad line, names scrypt.
fn names_scrypt(data: &[u8]) -> bool {
    if contains(data, SCRYPT) {
        return true;
    }
    let mut decoded = Vec::new();
    for line in data.split(|b| *b == b'\n') {
        let line = line.trim_ascii();
        if line.is_empty() || line.starts_with(b"-----") {
            continue;
        }
        match LENIENT.decode(line) {
            Ok(bytes) => decoded.extend_from_slice(&bytes),
            // Age reads armor a line at a time and could already have
            // reached the header, so keep what was decoded and stop.
            Err(_) => break,
        }
    }
    contains(&decoded, SCRYPT)
}

fuzz_target!(|data: &[u8]| {
    let kind = classify_key_file(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = PublicKey::from_spki_pem(text);
    }
    if names_scrypt(data) {
        return;
    }
    let passphrase = SecretPassphrase::from("fuzz");
    if decrypt_key_file(data, Path::new("fuzz"), &passphrase).is_ok() {
        assert_eq!(kind, KeyFileKind::EncryptedPrivate, "decrypted a file not classified as encrypted");
    }
});
