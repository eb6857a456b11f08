use super::*;
use crate::keys::Signer;
use crate::threshold::Authorization;
use crate::time::Timestamp as T;
use serde_json::{json, Value};

use crate::keys::testing::ed25519_signer as signer;

fn root_json() -> Value {
    let pk = signer(1).public_key().clone();
    let id = pk.key_id();
    let role = json!({"keyids": [id], "threshold": 1});
    json!({
        "_type": "root", "spec_version": "1.0.31", "version": 1,
        "expires": "2030-01-01T00:00:00Z", "consistent_snapshot": true,
        "keys": {id.0.clone(): pk},
        "roles": {"root": role, "targets": role, "snapshot": role, "timestamp": role},
    })
}

fn envelope(signed: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({"signatures": [], "signed": signed})).unwrap()
}

fn parse_root(signed: Value) -> Result<Metadata<Root>, MetadataError> {
    Metadata::<Root>::from_bytes(&envelope(signed))
}

#[test]
fn valid_root_parses() {
    parse_root(root_json()).unwrap();
}

#[test]
fn wrong_type_is_refused() {
    let err = Metadata::<Targets>::from_bytes(&envelope(root_json())).unwrap_err();
    assert_eq!(err, MetadataError::WrongType { expected: "targets", found: "root".into() });
}

#[test]
fn zero_negative_and_non_integer_versions_are_refused() {
    for v in [json!(0), json!(-1), json!(1.5), json!("2")] {
        let mut r = root_json();
        r["version"] = v;
        assert!(matches!(parse_root(r), Err(MetadataError::BadVersion { .. })));
    }
}

#[test]
fn threshold_below_one_is_refused() {
    for v in [json!(0), json!(-3)] {
        let mut r = root_json();
        r["roles"]["snapshot"]["threshold"] = v;
        assert!(matches!(parse_root(r), Err(MetadataError::BadThreshold { role, .. }) if role == "snapshot"));
    }
}

#[test]
fn duplicate_signature_keyids_are_refused() {
    let id = signer(1).key_id();
    let doc = json!({"signatures": [{"keyid": id, "sig": "00"}, {"keyid": id, "sig": "01"}], "signed": root_json()});
    let err = Metadata::<Root>::from_bytes(&serde_json::to_vec(&doc).unwrap()).unwrap_err();
    assert_eq!(err, MetadataError::DuplicateSignature(id));
}

#[test]
fn duplicate_json_keys_are_refused() {
    let bytes = br#"{"signatures": [], "signatures": [], "signed": {}}"#;
    assert!(matches!(Metadata::<Root>::from_bytes(bytes), Err(MetadataError::Json(_))));
}

#[test]
fn missing_role_and_undefined_key_are_refused() {
    let mut r = root_json();
    r["roles"].as_object_mut().unwrap().remove("timestamp");
    assert_eq!(parse_root(r).unwrap_err(), MetadataError::MissingRole("timestamp".into()));
    let mut r = root_json();
    r["roles"]["targets"]["keyids"] = json!(["ff"]);
    assert!(matches!(parse_root(r), Err(MetadataError::UndefinedKey { .. })));
    let mut r = root_json();
    let id = signer(1).key_id();
    r["roles"]["targets"]["keyids"] = json!([id, id]);
    assert!(matches!(parse_root(r), Err(MetadataError::DuplicateKeyInRole { .. })));
}

#[test]
fn bad_dates_and_spec_versions_are_refused() {
    let mut r = root_json();
    r["expires"] = json!("2030-01-01T00:00:00.123Z");
    assert!(matches!(parse_root(r), Err(MetadataError::Schema(_))));
    let mut r = root_json();
    r["spec_version"] = json!("2.0.0");
    assert!(matches!(parse_root(r), Err(MetadataError::UnsupportedSpecVersion(_))));
}

#[test]
fn floats_anywhere_in_signed_are_refused() {
    let mut r = root_json();
    r["x-float"] = json!(0.5);
    assert!(matches!(parse_root(r), Err(MetadataError::Canonical(_))));
}

#[test]
fn delegation_needs_exactly_one_of_paths_and_prefixes() {
    let pk = signer(2).public_key().clone();
    let mut role = json!({"name": "a", "keyids": [pk.key_id()], "threshold": 1, "terminating": true});
    let t = |role: Value| {
        json!({"_type": "targets", "spec_version": "1.0.31", "version": 1, "expires": "2030-01-01T00:00:00Z",
               "targets": {}, "delegations": {"keys": {pk.key_id().0: pk}, "roles": [role]}})
    };
    let err = Metadata::<Targets>::from_bytes(&envelope(t(role.clone()))).unwrap_err();
    assert_eq!(err, MetadataError::PathsXorPrefixes("a".into()));
    role["paths"] = json!(["a/*"]);
    Metadata::<Targets>::from_bytes(&envelope(t(role.clone()))).unwrap();
    role["path_hash_prefixes"] = json!(["ab"]);
    assert!(Metadata::<Targets>::from_bytes(&envelope(t(role))).is_err());
}

#[test]
fn unknown_members_survive_and_signatures_still_verify() {
    let mut r = root_json();
    r["x-other-tool"] = json!({"nested": [1, "two"]});
    r["roles"]["root"]["x-role-extra"] = json!(true);
    r["keys"].as_object_mut().unwrap().values_mut().next().unwrap()["x-key-extra"] = json!("k");
    let mut md = parse_root(r.clone()).unwrap();
    md.sign(&signer(1)).unwrap();
    let reread = Metadata::<Root>::from_bytes(&md.to_bytes()).unwrap();
    assert_eq!(reread.signed_value(), r);
    // The typed view writes every unknown member back too.
    assert_eq!(serde_json::to_value(reread.signed()).unwrap(), r);
    let auth = Authorization::top_level(reread.signed(), "root").unwrap();
    auth.verify(reread.signatures(), &reread.payload(), T::from_unix(0)).unwrap();
}

#[test]
fn tampering_breaks_the_signature() {
    let mut md = parse_root(root_json()).unwrap();
    md.sign(&signer(1)).unwrap();
    let text = String::from_utf8(md.to_bytes()).unwrap().replace("2030-01-01", "2031-01-01");
    let md2 = Metadata::<Root>::from_bytes(text.as_bytes()).unwrap();
    let auth = Authorization::top_level(md2.signed(), "root").unwrap();
    assert!(auth.verify(md2.signatures(), &md2.payload(), T::from_unix(0)).is_err());
}

#[test]
fn delegations_to_top_level_or_empty_role_names_are_refused() {
    let pk = signer(2).public_key().clone();
    let t = |name: &str| {
        let role = json!({"name": name, "keyids": [pk.key_id()], "threshold": 1, "terminating": false,
                          "paths": ["*"]});
        json!({"_type": "targets", "spec_version": "1.0.31", "version": 1, "expires": "2030-01-01T00:00:00Z",
               "targets": {}, "delegations": {"keys": {pk.key_id().0: pk}, "roles": [role]}})
    };
    for name in ["", "root", "targets", "snapshot", "timestamp"] {
        let err = Metadata::<Targets>::from_bytes(&envelope(t(name))).unwrap_err();
        assert!(matches!(err, MetadataError::Schema(_)), "{name:?}: {err:?}");
    }
    // Unusual names are fine for the metadata; transports decide how to fetch them.
    for name in ["?", "../x", "a/b", "Targets"] {
        Metadata::<Targets>::from_bytes(&envelope(t(name))).unwrap();
    }
}

/// `from_bytes` writes the payload as it reads, without a tree of `signed`;
/// it must be the bytes encoding the tree gives, whatever the member order.
#[test]
fn streamed_payload_is_the_canonical_encoding_of_the_tree() {
    let text = br#"{"signed":{"version":1,"_type":"targets","spec_version":"1.0.31",
        "expires":"2030-01-01T00:00:00Z","x-extra":{"k":"v","a":[]},
        "targets":{"b/\u00e9\"x":{"length":3,"hashes":{"sha256":"ab"},
                   "custom":{"z":[1,-2,{"y":null,"a":true}],"a":"q\\\n\u0001"}},
                   "a":{"hashes":{"sha512":"cd","sha256":"ef"},"length":0}}},
        "signatures":[], "x-top": 1}"#;
    let md = Metadata::<Targets>::from_bytes(text).unwrap();
    let tree = crate::canonical::parse_strict(text).unwrap();
    assert_eq!(md.payload(), crate::canonical::to_canonical_bytes(&tree["signed"]).unwrap());
    assert_eq!(md.signed_value(), tree["signed"]);
    assert_eq!(serde_json::to_value(md.signed()).unwrap(), tree["signed"]);
    // And the file it writes reads back to the same.
    let again = Metadata::<Targets>::from_bytes(&md.to_bytes()).unwrap();
    assert_eq!(again.payload(), md.payload());
}

/// Metadata that keeps its file instead of its canonical bytes gives the
/// same bytes, the same signed value and the same file, whether the file's
/// objects come sorted (rebuilt in document order) or not (rebuilt sorted);
/// `check` sees them, and its outcome comes back only when the file parses.
#[test]
fn a_kept_file_gives_the_payload_the_kept_bytes_gave() {
    let unsorted = br#"{"signed":{"version":1,"_type":"targets","spec_version":"1.0.31",
        "expires":"2030-01-01T00:00:00Z","x-extra":{"k":"v","a":[]},
        "targets":{"b/\u00e9\"x":{"length":3,"hashes":{"sha256":"ab"},
                   "custom":{"z":[1,-2,{"y":null,"a":true}],"a":"q\\\n\u0001"}},
                   "a":{"hashes":{"sha512":"cd","sha256":"ef"},"length":0}}},
        "signatures":[], "x-top": 1}"#;
    let sorted = Metadata::<Targets>::from_bytes(unsorted).unwrap().to_bytes();
    for text in [&unsorted[..], &sorted[..]] {
        let md = Metadata::<Targets>::from_bytes(text).unwrap();
        let mut seen = Vec::new();
        let (kept, n) =
            Metadata::<Targets>::from_shared_checked(std::sync::Arc::new(text.to_vec()), |sigs, p| {
                seen = p.to_vec();
                sigs.len() + 7
            })
            .unwrap();
        assert_eq!((n, &seen), (7, &md.payload()));
        assert!(matches!(kept.payload_bytes(), std::borrow::Cow::Owned(_)));
        assert_eq!(kept.payload(), md.payload());
        assert_eq!(kept.signed_value(), md.signed_value());
        assert_eq!(kept.to_bytes(), md.to_bytes());
    }
    let bad = br#"{"signed":{"_type":"targets","version":0},"signatures":[]}"#;
    let err =
        Metadata::<Targets>::from_shared_checked(std::sync::Arc::new(bad.to_vec()), |_, _| ()).unwrap_err();
    assert_eq!(err, Metadata::<Targets>::from_bytes(bad).unwrap_err());
}

#[test]
fn streamed_reading_refuses_what_the_tree_refused() {
    let t = |targets: &str, extra: &str| {
        format!(
            r#"{{"signatures":[],"signed":{{"_type":"targets","spec_version":"1.0.31","version":1,
               "expires":"2030-01-01T00:00:00Z","targets":{targets}{extra}}}}}"#
        )
    };
    // A duplicate anywhere, sorted or not, with serde_json's position.
    for (targets, extra) in [
        (r#"{"a":{"length":1,"hashes":{"sha256":"ab"}},"a":{"length":1,"hashes":{"sha256":"ab"}}}"#, ""),
        (
            r#"{"b":{"length":1,"hashes":{"sha256":"ab"}},"a":{"length":1,"hashes":{"sha256":"ab"},"length":2}}"#,
            "",
        ),
        ("{}", r#","version":1"#),
    ] {
        let text = t(targets, extra);
        let err = Metadata::<Targets>::from_bytes(text.as_bytes()).unwrap_err();
        let want = crate::canonical::parse_strict(text.as_bytes()).unwrap_err();
        assert_eq!(err, MetadataError::Json(want.0), "{text}");
    }
    let dup_top = br#"{"signatures":[],"signed":{},"signed":{}}"#;
    let err = Metadata::<Targets>::from_bytes(dup_top).unwrap_err();
    assert!(matches!(&err, MetadataError::Json(m) if m.contains("duplicate key \"signed\"")), "{err:?}");
    // Floats: the first in canonical order is named, as encoding the tree does.
    let text = t(r#"{"a":{"length":1,"hashes":{"sha256":"ab"},"custom":{"b":1.5,"a":2.5}}}"#, "");
    let err = Metadata::<Targets>::from_bytes(text.as_bytes()).unwrap_err();
    assert_eq!(err, MetadataError::Canonical(crate::canonical::CanonicalError::NotAnInteger("2.5".into())));
    // A schema error comes before a float, and reads as it did from a tree.
    let text = t(r#"{"a":{"length":"1","hashes":{"sha256":"ab"},"custom":1.5}}"#, "");
    let err = Metadata::<Targets>::from_bytes(text.as_bytes()).unwrap_err();
    let tree = crate::canonical::parse_strict(text.as_bytes()).unwrap();
    let want = serde_json::from_value::<Targets>(tree["signed"].clone()).unwrap_err().to_string();
    assert_eq!(err, MetadataError::Schema(want));
    // Not an envelope.
    for (text, want) in [
        (&b"[{\"a\":1}]"[..], "top level is not an object"),
        (br#"{"signatures":[]}"#, "no \"signed\" member"),
        (br#"{"signed":{}}"#, "no \"signatures\" member"),
        (br#"{"signed":[1],"signatures":[]}"#, "\"signed\" is not an object"),
    ] {
        assert_eq!(
            Metadata::<Targets>::from_bytes(text).unwrap_err(),
            MetadataError::NotAnEnvelope(want.into())
        );
    }
    assert!(matches!(Metadata::<Targets>::from_bytes(b"[{\"a\":1,\"a\":1}]"), Err(MetadataError::Json(_))));
    assert!(matches!(Metadata::<Targets>::from_bytes(b"{} x"), Err(MetadataError::Json(_))));
}

/// `Hashes` stands in for the `BTreeMap` it replaced: same lookups, same
/// JSON, same `Debug`, and collecting keeps the last of equal names.
#[test]
fn hashes_behave_as_the_map_they_replace() {
    let pairs = [("sha512", "cd"), ("sha256", "ab"), ("md5", "00"), ("sha256", "ef")];
    let map: std::collections::BTreeMap<String, String> =
        pairs.iter().map(|(a, h)| (a.to_string(), h.to_string())).collect();
    let h: Hashes = pairs.iter().map(|(a, h)| (a.to_string(), h.to_string())).collect();
    assert_eq!(h.get("sha256").as_deref(), Some("ef"));
    assert_eq!(h.get("sha512").unwrap(), "cd");
    assert!(h.contains_key("md5") && !h.contains_key("sha1"));
    assert_eq!(h.len(), 3);
    let owned = |(k, v): (&String, std::borrow::Cow<'_, str>)| (k.clone(), v.into_owned());
    assert_eq!(h.iter().map(owned).collect::<Vec<_>>(), map.clone().into_iter().collect::<Vec<_>>());
    assert_eq!(h.values().collect::<Vec<_>>(), map.values().map(|v| v.as_str()).collect::<Vec<_>>());
    assert_eq!(serde_json::to_string(&h).unwrap(), serde_json::to_string(&map).unwrap());
    assert_eq!(format!("{h:?}"), format!("{map:?}"));
    let back: Hashes = serde_json::from_str(r#"{"sha512":"cd","sha256":"ab"}"#).unwrap();
    assert_eq!(back.keys().collect::<Vec<_>>(), ["sha256", "sha512"]);
    let mut m = Hashes::default();
    assert_eq!(m.insert("b".into(), "1".into()), None);
    assert_eq!(m.insert("a".into(), "2".into()), None);
    assert_eq!(m.insert("b".into(), "3".into()), Some("1".into()));
    assert_eq!(m.remove("a"), Some("2".into()));
    assert_eq!(Hashes::from(map.clone()), h);
    let err = serde_json::from_str::<Hashes>("[1]").unwrap_err().to_string();
    let want =
        serde_json::from_str::<std::collections::BTreeMap<String, String>>("[1]").unwrap_err().to_string();
    assert_eq!(err, want);
    // Removing down to one hash, or inserting into none, gives the value
    // reading that one hash gives (one inline), and back.
    let mut two: Hashes = serde_json::from_str(r#"{"sha256":"ab","sha512":"cd"}"#).unwrap();
    assert_eq!(two.remove("sha512"), Some("cd".into()));
    let one: Hashes = serde_json::from_str(r#"{"sha256":"ab"}"#).unwrap();
    assert_eq!((&two, two.len(), two.iter().collect::<Vec<_>>()), (&one, 1, one.iter().collect()));
    let mut built = Hashes::default();
    built.insert("sha256".into(), "ab".into());
    assert_eq!(built, one);
    assert_eq!(two.remove("sha256"), Some("ab".into()));
    assert!(two.is_empty() && two == Hashes::default() && two.get("sha256").is_none());
    // The usual one hash inline: a target's hashes take no allocation of
    // their own, and its 32 bytes less room than a name and a hex `String`.
    assert!(std::mem::size_of::<Hashes>() <= 40, "{}", std::mem::size_of::<Hashes>());
    // The name `sha256` is one shared string, not one per target.
    let (a, b) = (Hashes::from(map), serde_json::from_str::<Hashes>(r#"{"sha256":"ab"}"#).unwrap());
    assert!(std::ptr::eq(a.keys().nth(1).unwrap(), b.keys().next().unwrap()));
    assert_eq!(b, [("sha256".to_owned(), "ab".to_owned())].into_iter().collect());
}

/// A `sha256` of 64 lowercase hex digits alone is held as its 32 bytes;
/// every other value (upper case, too short, not hex, beside another hash)
/// as its text: each reads, compares and writes back exactly as listed.
#[test]
fn hashes_hold_a_lowercase_sha256_as_bytes_and_anything_else_as_listed() {
    let lower = "ab".repeat(32);
    let cases = [
        format!(r#"{{"sha256":"{lower}"}}"#),
        format!(r#"{{"sha256":"{}"}}"#, lower.to_ascii_uppercase()),
        format!(r#"{{"sha256":"{}"}}"#, &lower[..62]),
        format!(r#"{{"sha256":"{}zz"}}"#, &lower[..62]),
        format!(r#"{{"sha512":"{lower}"}}"#),
        format!(r#"{{"sha256":"{lower}","sha512":"cd"}}"#),
        r#"{"sha256":""}"#.to_owned(),
        "{}".to_owned(),
    ];
    for text in &cases {
        let map: std::collections::BTreeMap<String, String> = serde_json::from_str(text).unwrap();
        let h: Hashes = serde_json::from_str(text).unwrap();
        assert_eq!(serde_json::to_string(&h).unwrap(), *text);
        assert_eq!(format!("{h:?}"), format!("{map:?}"));
        assert_eq!(h.len(), map.len());
        for (k, v) in &map {
            assert_eq!(h.get(k.as_str()).as_deref(), Some(v.as_str()), "{text}");
        }
        assert_eq!(h.get("sha1"), None);
        assert_eq!(h.values().collect::<Vec<_>>(), map.values().map(|v| v.as_str()).collect::<Vec<_>>());
        assert_eq!(Hashes::from(map.clone()), h);
        // Built one insert at a time, or taken apart, it is the same value.
        let mut built = Hashes::default();
        for (k, v) in &map {
            built.insert(k.clone(), v.clone());
        }
        assert_eq!(built, h, "{text}");
        let want = map.get("sha256").and_then(|v| (*v == lower).then_some([0xab; 32]));
        assert_eq!(h.sha256_digest(), want, "{text}");
    }
    let mut h: Hashes = serde_json::from_str(&cases[0]).unwrap();
    assert_eq!(h.insert("sha256".into(), "AB".into()), Some(lower.clone()));
    assert_eq!(h.remove("sha256").as_deref(), Some("AB"));
    assert!(h.is_empty());
}

/// `Targets::targets` is read in chunks appended to the map: the result is
/// the map inserting entries one by one gives, the last of equal keys
/// winning within a chunk and across chunks, in any order.
#[test]
fn targets_read_in_chunks_are_the_map_inserting_gives() {
    let n = 5000;
    let mut entries: Vec<(String, u64)> =
        (0..n).map(|i| (format!("acme/{:05}", (i * 7919) % n), i)).collect();
    // Equal keys within the first chunk, across chunks, and in the last one.
    entries.push(("acme/00003".into(), 90_001));
    entries.insert(10, ("acme/04999".into(), 90_002));
    entries.push(("acme/00003".into(), 90_003));
    entries.insert(2100, ("acme/00010".into(), 90_004));
    let body: Vec<String> = entries
        .iter()
        .map(|(t, len)| format!(r#""{t}":{{"length":{len},"hashes":{{"sha256":"ab"}}}}"#))
        .collect();
    let text = format!(
        r#"{{"_type":"targets","spec_version":"1.0.31","version":1,"expires":"2030-01-01T00:00:00Z","targets":{{{}}}}}"#,
        body.join(",")
    );
    let read: Targets = serde_json::from_str(&text).unwrap();
    let mut want = std::collections::BTreeMap::new();
    for (t, len) in &entries {
        want.insert(t.clone(), *len);
    }
    let got: std::collections::BTreeMap<String, u64> =
        read.targets.iter().map(|(t, f)| (t.clone(), f.length)).collect();
    assert_eq!(got, want);
    assert_eq!((got.len(), got["acme/00003"]), (n as usize, 90_003));
}
