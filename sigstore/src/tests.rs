//! Unit tests on real public Sigstore material (tests/data/sigstore/README.md).

use super::*;
use serde_json::Value;
use sha2::Digest as _;

const ARTIFACT: &[u8] = include_bytes!("../../tests/data/sigstore/a.txt");
const BUNDLE: &[u8] = include_bytes!("../../tests/data/sigstore/a.txt.sigstore.json");
const DSSE_BUNDLE: &[u8] = include_bytes!("../../tests/data/sigstore/a.txt.intoto.sigstore.json");
const TRUSTED_ROOT: &[u8] = include_bytes!("../../tests/data/sigstore/trusted_root.json");

const ISSUER: &str = "https://token.actions.githubusercontent.com";
const SAN: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/\
                   .github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";

fn policy() -> IdentityPolicy {
    IdentityPolicy::exact(ISSUER, SAN)
}

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap()
}

fn bytes(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).unwrap()
}

/// Flips one base64 character of `s` at `at` to another valid base64 character.
fn flip_base64(s: &str, at: usize) -> String {
    let mut chars: Vec<char> = s.chars().collect();
    chars[at] = if chars[at] == 'A' { 'B' } else { 'A' };
    chars.into_iter().collect()
}

fn tlog_entry(bundle: &mut Value) -> &mut Value {
    &mut bundle["verificationMaterial"]["tlogEntries"][0]
}

#[test]
fn the_real_bundle_verifies_under_its_real_identity() {
    let verified = verify(BUNDLE, ArtifactRef::Bytes(ARTIFACT), TRUSTED_ROOT, &policy()).unwrap();
    assert_eq!(verified.issuer, ISSUER);
    assert_eq!(verified.san, SAN);
    assert_eq!(verified.media_type, "application/vnd.dev.sigstore.bundle+json;version=0.3");
    assert_eq!(verified.content, SignedContent::MessageSignature);
    assert_eq!(verified.log_index, 79571823);
    assert_eq!(verified.integrated_time.unwrap().unix_timestamp(), 1710869186);
    let checks = verified.checks;
    assert!(checks.certificate_chain && checks.sct && checks.tlog && checks.signature && checks.identity);
    assert!(checks.verified_timestamps >= 1);
}

#[test]
fn the_real_bundle_verifies_against_the_artifact_digest() {
    let digest: [u8; 32] = sha2::Sha256::digest(ARTIFACT).into();
    let verified = verify(BUNDLE, ArtifactRef::Sha256(digest), TRUSTED_ROOT, &policy()).unwrap();
    assert_eq!(verified.log_index, 79571823);
}

#[test]
fn a_glob_policy_matches_the_workflow() {
    let policy = IdentityPolicy::glob(
        ISSUER,
        "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/*.yml@refs/heads/*",
    );
    verify(BUNDLE, ArtifactRef::Bytes(ARTIFACT), TRUSTED_ROOT, &policy).unwrap();
}

#[test]
fn the_real_dsse_bundle_verifies_with_its_subject() {
    let verified = verify(DSSE_BUNDLE, ArtifactRef::Bytes(ARTIFACT), TRUSTED_ROOT, &policy()).unwrap();
    assert_eq!(verified.content, SignedContent::DsseInToto);
    assert_eq!(verified.log_index, 155690850);
    assert_eq!(verified.san, SAN);
    let digest: [u8; 32] = sha2::Sha256::digest(ARTIFACT).into();
    verify(DSSE_BUNDLE, ArtifactRef::Sha256(digest), TRUSTED_ROOT, &policy()).unwrap();
}

#[test]
fn another_identity_is_refused_with_both_identities() {
    let other = "https://github.com/acme/tool/.github/workflows/release.yml@refs/tags/v1.0";
    let err =
        verify(BUNDLE, ArtifactRef::Bytes(ARTIFACT), TRUSTED_ROOT, &IdentityPolicy::exact(ISSUER, other))
            .unwrap_err();
    assert_eq!(
        err,
        SigstoreError::IdentityMismatch {
            expected_issuer: ISSUER.into(),
            expected_san: other.into(),
            found_issuer: ISSUER.into(),
            found_san: SAN.into(),
        }
    );
}

#[test]
fn another_issuer_is_refused() {
    let err = verify(
        BUNDLE,
        ArtifactRef::Bytes(ARTIFACT),
        TRUSTED_ROOT,
        &IdentityPolicy::exact("https://accounts.google.com", SAN),
    )
    .unwrap_err();
    assert_eq!(
        err,
        SigstoreError::IdentityMismatch {
            expected_issuer: "https://accounts.google.com".into(),
            expected_san: SAN.into(),
            found_issuer: ISSUER.into(),
            found_san: SAN.into(),
        }
    );
}

#[test]
fn a_glob_does_not_cross_slashes_or_match_a_prefix() {
    // `*` stops at `/`: another repository's workflow is not matched.
    let policy = IdentityPolicy::glob(ISSUER, "https://github.com/*/.github/workflows/*@refs/heads/main");
    let err = verify(BUNDLE, ArtifactRef::Bytes(ARTIFACT), TRUSTED_ROOT, &policy).unwrap_err();
    assert!(matches!(err, SigstoreError::IdentityMismatch { .. }), "{err}");
    assert!(SanPattern::Glob("a/*/c".into()).matches("a/b/c"));
    assert!(SanPattern::Glob("a/*/c".into()).matches("a//c"));
    assert!(!SanPattern::Glob("a/*/c".into()).matches("a/b/x/c"));
    assert!(!SanPattern::Glob("a/*".into()).matches("a/b/c"));
    assert!(SanPattern::Glob("refs/tags/v*".into()).matches("refs/tags/v1.2.3"));
    assert!(!SanPattern::Glob("refs/tags/v*".into()).matches("refs/tags/x1"));
    assert!(!SanPattern::Glob("abc".into()).matches("abcd"));
    assert!(!SanPattern::Exact("a*".into()).matches("ab"));
}

#[test]
fn other_bytes_are_refused() {
    let mut other = ARTIFACT.to_vec();
    other[0] ^= 1;
    let err = verify(BUNDLE, ArtifactRef::Bytes(&other), TRUSTED_ROOT, &policy()).unwrap_err();
    assert!(matches!(err, SigstoreError::ArtifactMismatch(_)), "{err}");
    let err = verify(DSSE_BUNDLE, ArtifactRef::Bytes(&other), TRUSTED_ROOT, &policy()).unwrap_err();
    assert!(matches!(err, SigstoreError::ArtifactMismatch(_)), "{err}");
}

#[test]
fn a_signature_over_other_bytes_is_refused() {
    // The bundle's message digest is rewritten to the other bytes' digest, so only the
    // signature (and the log entry, which records the original digest) can catch it.
    let mut other = ARTIFACT.to_vec();
    other.push(b'\n');
    let mut bundle = json(BUNDLE);
    let digest = sha2::Sha256::digest(&other);
    bundle["messageSignature"]["messageDigest"]["digest"] = Value::String(base64_encode(&digest));
    let err = verify(&bytes(&bundle), ArtifactRef::Bytes(&other), TRUSTED_ROOT, &policy()).unwrap_err();
    assert!(matches!(err, SigstoreError::Signature(_)), "{err}");
}

#[test]
fn a_trusted_root_missing_the_issuing_ca_is_refused() {
    // Keep only the other Fulcio CA (the 2021-2022 one), made valid at the signing time:
    // the certificate does not chain to it.
    let mut root = json(TRUSTED_ROOT);
    let mut other = root["certificateAuthorities"][0].clone();
    other["validFor"].as_object_mut().unwrap().remove("end");
    root["certificateAuthorities"] = Value::Array(vec![other]);
    let err = verify(BUNDLE, ArtifactRef::Bytes(ARTIFACT), &bytes(&root), &policy()).unwrap_err();
    assert!(matches!(err, SigstoreError::CertificateChain(_)), "{err}");
}

#[test]
fn a_trusted_root_whose_cas_were_not_valid_at_signing_time_is_refused() {
    // Keep only the first Fulcio CA (valid until the end of 2022); the bundle was signed in 2024.
    let mut root = json(TRUSTED_ROOT);
    let first = root["certificateAuthorities"][0].clone();
    root["certificateAuthorities"] = Value::Array(vec![first]);
    let err = verify(BUNDLE, ArtifactRef::Bytes(ARTIFACT), &bytes(&root), &policy()).unwrap_err();
    assert_eq!(
        err,
        SigstoreError::CertificateValidity(
            "no trusted certificate authority is valid at 2024-03-19T17:26:26Z".into()
        )
    );
    root["certificateAuthorities"] = Value::Array(vec![]);
    let err = verify(BUNDLE, ArtifactRef::Bytes(ARTIFACT), &bytes(&root), &policy()).unwrap_err();
    assert!(matches!(err, SigstoreError::CertificateValidity(_)), "{err}");
}

#[test]
fn a_trusted_root_without_the_ct_log_fails_the_sct() {
    // The CT logs keep their keys under other log ids: the SCT's log is unknown.
    let mut root = json(TRUSTED_ROOT);
    for log in root["ctlogs"].as_array_mut().unwrap() {
        let id = &mut log["logId"]["keyId"];
        *id = Value::String(flip_base64(id.as_str().unwrap(), 3));
    }
    let err = verify(BUNDLE, ArtifactRef::Bytes(ARTIFACT), &bytes(&root), &policy()).unwrap_err();
    assert!(matches!(err, SigstoreError::Sct(_)), "{err}");
    root["ctlogs"] = Value::Array(vec![]);
    let err = verify(BUNDLE, ArtifactRef::Bytes(ARTIFACT), &bytes(&root), &policy()).unwrap_err();
    assert!(matches!(err, SigstoreError::TrustedRoot(_)), "{err}");
}

#[test]
fn a_tampered_inclusion_proof_is_refused() {
    let mut bundle = json(BUNDLE);
    let hash = &mut tlog_entry(&mut bundle)["inclusionProof"]["hashes"][3];
    *hash = Value::String(flip_base64(hash.as_str().unwrap(), 5));
    let err = verify(&bytes(&bundle), ArtifactRef::Bytes(ARTIFACT), TRUSTED_ROOT, &policy()).unwrap_err();
    assert!(matches!(err, SigstoreError::InclusionProof(_)), "{err}");
}

#[test]
fn a_root_hash_other_than_the_checkpoints_is_refused() {
    let mut bundle = json(BUNDLE);
    let root = &mut tlog_entry(&mut bundle)["inclusionProof"]["rootHash"];
    *root = Value::String(flip_base64(root.as_str().unwrap(), 5));
    let err = verify(&bytes(&bundle), ArtifactRef::Bytes(ARTIFACT), TRUSTED_ROOT, &policy()).unwrap_err();
    assert!(matches!(err, SigstoreError::InclusionProof(_)), "{err}");
}

#[test]
fn a_tampered_checkpoint_signature_is_refused() {
    let mut bundle = json(BUNDLE);
    let envelope = &mut tlog_entry(&mut bundle)["inclusionProof"]["checkpoint"]["envelope"];
    let text = envelope.as_str().unwrap().to_string();
    // The signature line is `— rekor.sigstore.dev <base64(key hint || signature)>`; flip a
    // character well inside the signature.
    let at = text.trim_end().len() - 10;
    *envelope = Value::String(flip_base64(&text, at));
    let err = verify(&bytes(&bundle), ArtifactRef::Bytes(ARTIFACT), TRUSTED_ROOT, &policy()).unwrap_err();
    assert!(matches!(err, SigstoreError::Checkpoint(_)), "{err}");
}

#[test]
fn a_checkpoint_for_another_tree_is_refused() {
    // The proof's root hash and the checkpoint's body both name another tree: the proof
    // does not lead there.
    let mut bundle = json(BUNDLE);
    let proof = &mut tlog_entry(&mut bundle)["inclusionProof"];
    let old_root = proof["rootHash"].as_str().unwrap().to_string();
    let new_root = flip_base64(&old_root, 5);
    proof["rootHash"] = Value::String(new_root.clone());
    let envelope = proof["checkpoint"]["envelope"].as_str().unwrap().replace(&old_root, &new_root);
    proof["checkpoint"]["envelope"] = Value::String(envelope);
    let err = verify(&bytes(&bundle), ArtifactRef::Bytes(ARTIFACT), TRUSTED_ROOT, &policy()).unwrap_err();
    assert!(matches!(err, SigstoreError::InclusionProof(_)), "{err}");
}

#[test]
fn an_unsigned_checkpoint_body_is_refused() {
    // The checkpoint's origin line is changed: its signature no longer covers its body.
    let mut bundle = json(BUNDLE);
    let envelope = &mut tlog_entry(&mut bundle)["inclusionProof"]["checkpoint"]["envelope"];
    let text = envelope.as_str().unwrap().replacen("2605736670972794746", "2605736670972794747", 1);
    *envelope = Value::String(text);
    let err = verify(&bytes(&bundle), ArtifactRef::Bytes(ARTIFACT), TRUSTED_ROOT, &policy()).unwrap_err();
    assert!(matches!(err, SigstoreError::Checkpoint(_)), "{err}");
}

#[test]
fn a_trusted_root_without_the_rekor_key_is_refused() {
    let mut root = json(TRUSTED_ROOT);
    root["tlogs"] = Value::Array(vec![]);
    let err = verify(BUNDLE, ArtifactRef::Bytes(ARTIFACT), &bytes(&root), &policy()).unwrap_err();
    // The inclusion promise (SET) is checked first, with the same missing key.
    assert!(matches!(err, SigstoreError::TlogEntry(_)), "{err}");
}

#[test]
fn unknown_media_types_and_malformed_bundles_are_refused() {
    let mut bundle = json(BUNDLE);
    bundle["mediaType"] = Value::String("application/vnd.dev.sigstore.bundle+json;version=99.9".into());
    let err = verify(&bytes(&bundle), ArtifactRef::Bytes(ARTIFACT), TRUSTED_ROOT, &policy()).unwrap_err();
    assert_eq!(
        err,
        SigstoreError::UnsupportedMediaType("application/vnd.dev.sigstore.bundle+json;version=99.9".into())
    );
    let err = verify(&BUNDLE[..100], ArtifactRef::Bytes(ARTIFACT), TRUSTED_ROOT, &policy()).unwrap_err();
    assert!(matches!(err, SigstoreError::BundleMalformed(_)), "{err}");
    let err = verify(BUNDLE, ArtifactRef::Bytes(ARTIFACT), b"{}", &policy()).unwrap_err();
    assert!(matches!(err, SigstoreError::TrustedRoot(_)), "{err}");
}

fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &b)| n | (b as u32) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
        for _ in chunk.len()..3 {
            out.push('=');
        }
    }
    out
}
