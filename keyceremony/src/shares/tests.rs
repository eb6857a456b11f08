use super::*;
use age::secrecy::ExposeSecret;

fn seed(byte: u8) -> [u8; 32] {
    let mut s = [byte; 32];
    s[0] = 0x42;
    s
}

fn public_hex(secret: &[u8; 32]) -> String {
    hex::encode(ed25519_dalek::SigningKey::from_bytes(secret).verifying_key().to_bytes())
}

fn pick(shares: &[ShareEnvelope], indexes: &[usize]) -> Vec<ShareEnvelope> {
    indexes.iter().map(|i| shares[*i].clone()).collect()
}

#[test]
fn three_of_five_recovers_from_any_three() {
    let secret = seed(7);
    let shares = split(&secret, 3, 5).unwrap();
    assert_eq!(shares.len(), 5);
    for (i, s) in shares.iter().enumerate() {
        assert_eq!(s.format, SHARE_FORMAT);
        assert_eq!(usize::from(s.index), i + 1);
        assert_eq!((s.threshold, s.shares), (3, 5));
        assert_eq!(s.split_id.len(), 32);
        assert_eq!(s.split_id, shares[0].split_id);
        assert_eq!(s.public_key, public_hex(&secret));
        assert_eq!(
            s.key_id,
            PublicKey::ed25519(&ed25519_dalek::SigningKey::from_bytes(&secret).verifying_key().to_bytes())
                .key_id()
                .0
        );
        assert_eq!(s.share.len(), 64);
    }
    for subset in [[0, 1, 2], [0, 2, 4], [1, 3, 4], [4, 3, 0], [2, 3, 4]] {
        let got = combine(&pick(&shares, &subset)).unwrap();
        assert_eq!(*got, secret, "{subset:?}");
        assert_eq!(public_hex(&got), shares[0].public_key);
    }
    // More than the threshold works too.
    assert_eq!(*combine(&shares).unwrap(), secret);
}

#[test]
fn each_split_is_fresh() {
    let secret = seed(1);
    let a = split(&secret, 2, 3).unwrap();
    let b = split(&secret, 2, 3).unwrap();
    assert_ne!(a[0].split_id, b[0].split_id);
    assert_ne!(a[0].share, b[0].share);
}

#[test]
fn split_parameters_are_checked() {
    let secret = seed(2);
    assert_eq!(split(&secret, 1, 5).unwrap_err(), ShareError::ThresholdTooSmall { threshold: 1 });
    assert_eq!(split(&secret, 0, 0).unwrap_err(), ShareError::ThresholdTooSmall { threshold: 0 });
    assert_eq!(
        split(&secret, 4, 3).unwrap_err(),
        ShareError::ThresholdAboveShares { threshold: 4, shares: 3 }
    );
    let all = split(&secret, 2, 255).unwrap();
    assert_eq!(all.len(), 255);
    assert_eq!(all[254].index, 255);
    assert_eq!(*combine(&pick(&all, &[17, 254])).unwrap(), secret);
    assert_eq!(*combine(&pick(&split(&secret, 2, 2).unwrap(), &[0, 1])).unwrap(), secret);
}

#[test]
fn two_of_three_needed_is_too_few() {
    let shares = split(&seed(3), 3, 5).unwrap();
    assert_eq!(combine(&pick(&shares, &[0, 4])).unwrap_err(), ShareError::TooFewShares { have: 2, need: 3 });
    assert_eq!(combine(&[]).unwrap_err(), ShareError::NoShares);
}

#[test]
fn shares_of_another_split_are_refused() {
    let secret = seed(4);
    let a = split(&secret, 2, 3).unwrap();
    let b = split(&secret, 2, 3).unwrap();
    let mixed = vec![a[0].clone(), b[1].clone()];
    assert_eq!(
        combine(&mixed).unwrap_err(),
        ShareError::MixedSplits { a: a[0].split_id.clone(), b: b[0].split_id.clone() }
    );
    let other = split(&seed(5), 2, 3).unwrap();
    let mixed = vec![a[0].clone(), other[1].clone()];
    assert_eq!(
        combine(&mixed).unwrap_err(),
        ShareError::MixedKeys { a: a[0].key_id.clone(), b: other[0].key_id.clone() }
    );
}

#[test]
fn duplicates_and_bad_indexes_are_refused() {
    let shares = split(&seed(6), 2, 3).unwrap();
    let dup = pick(&shares, &[1, 1]);
    assert_eq!(combine(&dup).unwrap_err(), ShareError::DuplicateIndex { index: 2 });
    for bad in [0, 4] {
        let mut s = pick(&shares, &[0, 1]);
        s[1].index = bad;
        assert_eq!(combine(&s).unwrap_err(), ShareError::IndexOutOfRange { index: bad, shares: 3 });
    }
}

#[test]
fn a_tampered_share_never_yields_a_wrong_key() {
    let shares = split(&seed(8), 3, 5).unwrap();
    let mut s = pick(&shares, &[0, 2, 3]);
    let mut bytes = hex::decode(&s[1].share).unwrap();
    bytes[9] ^= 0x01;
    s[1].share = hex::encode(bytes);
    assert_eq!(combine(&s).unwrap_err(), ShareError::WrongSecret { key_id: shares[0].key_id.clone() });

    // A share relabelled with another index is wrong in the same way.
    let mut s = pick(&shares, &[0, 2, 3]);
    s[2].index = 5;
    assert_eq!(combine(&s).unwrap_err(), ShareError::WrongSecret { key_id: shares[0].key_id.clone() });

    let mut s = pick(&shares, &[0, 2, 3]);
    s[0].share = "zz".repeat(32);
    assert_eq!(combine(&s).unwrap_err(), ShareError::MalformedShare { index: 1 });
    s[0].share = "00".repeat(31);
    assert_eq!(combine(&s).unwrap_err(), ShareError::MalformedShare { index: 1 });
}

#[test]
fn edited_headers_are_refused() {
    let shares = split(&seed(9), 2, 3).unwrap();

    let mut s = pick(&shares, &[0, 1]);
    s[1].format = "airlock-share-v2".into();
    assert_eq!(
        combine(&s).unwrap_err(),
        ShareError::UnknownFormat { index: 2, found: "airlock-share-v2".into() }
    );

    let mut s = pick(&shares, &[0, 1]);
    s[1].threshold = 3;
    assert!(matches!(combine(&s).unwrap_err(), ShareError::InconsistentSplit { field: "the threshold", .. }));

    let other = public_hex(&seed(10));
    let mut s = pick(&shares, &[0, 1]);
    for e in &mut s {
        e.public_key = other.clone();
    }
    assert!(matches!(combine(&s).unwrap_err(), ShareError::KeyIdMismatch { .. }));

    let mut s = pick(&shares, &[0, 1]);
    for e in &mut s {
        e.threshold = 1;
    }
    assert_eq!(combine(&s).unwrap_err(), ShareError::ThresholdTooSmall { threshold: 1 });
}

#[test]
fn the_share_value_stays_out_of_debug_output() {
    let shares = split(&seed(11), 2, 3).unwrap();
    let debug = format!("{:?}", shares[0]);
    assert!(debug.contains("<redacted>"));
    assert!(!debug.contains(&shares[0].share));
    assert!(debug.contains(&shares[0].key_id));
}

#[test]
fn json_round_trip_is_strict() {
    let shares = split(&seed(12), 2, 3).unwrap();
    let json = shares[0].to_json().unwrap();
    let text = std::str::from_utf8(&json).unwrap();
    for member in ["format", "key_id", "public_key", "split_id", "threshold", "shares", "index", "share"] {
        assert!(text.contains(&format!("\"{member}\":")), "{member}");
    }
    assert_eq!(ShareEnvelope::from_json(&json).unwrap(), shares[0]);

    let extra = text.replacen('{', r#"{"note":"x","#, 1);
    assert!(matches!(ShareEnvelope::from_json(extra.as_bytes()), Err(ShareError::MalformedEnvelope { .. })));
    let dup = text.replacen('{', r#"{"index":3,"#, 1);
    assert!(matches!(ShareEnvelope::from_json(dup.as_bytes()), Err(ShareError::MalformedEnvelope { .. })));
    let v2 = text.replace(SHARE_FORMAT, "airlock-share-v2");
    assert!(matches!(ShareEnvelope::from_json(v2.as_bytes()), Err(ShareError::UnknownFormat { .. })));
}

#[test]
fn age_round_trip() {
    let secret = seed(13);
    let shares = split(&secret, 2, 3).unwrap();
    let identity = age::x25519::Identity::generate();
    let recipient = identity.to_public().to_string();

    let encrypted: Vec<Vec<u8>> = shares.iter().map(|s| encrypt_share(s, &recipient).unwrap()).collect();
    let text = std::str::from_utf8(&encrypted[0]).unwrap();
    assert!(text.starts_with("-----BEGIN AGE ENCRYPTED FILE-----"));
    assert!(!text.contains(&shares[0].share));

    let back = decrypt_share(&encrypted[0], &identity).unwrap();
    assert_eq!(back, shares[0]);
    let file =
        format!("# created: today\n# public key: {recipient}\n{}\n", identity.to_string().expose_secret());
    let back2 = decrypt_share_with_identity_file(&encrypted[2], &file).unwrap();
    assert_eq!(*combine(&[back, back2]).unwrap(), secret);

    let stranger = age::x25519::Identity::generate();
    assert_eq!(decrypt_share(&encrypted[0], &stranger).unwrap_err(), ShareError::NotForThisIdentity);
    assert!(matches!(decrypt_share(b"not age", &identity), Err(ShareError::Decrypt { .. })));
    assert_eq!(
        decrypt_share_with_identity_file(&encrypted[0], "# nothing\n\n").unwrap_err(),
        ShareError::NoIdentity
    );
    assert_eq!(
        decrypt_share_with_identity_file(&encrypted[0], "# x\nAGE-SECRET-KEY-1NOPE\n").unwrap_err(),
        ShareError::InvalidIdentity { line: 2 }
    );
    assert!(matches!(encrypt_share(&shares[0], "age1nope"), Err(ShareError::InvalidRecipient { .. })));
}
