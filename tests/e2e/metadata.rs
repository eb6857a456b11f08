//! `airlock metadata sign` and `airlock metadata verify`.

use crate::support::{
    counted, edit_json, ids, root_all, root_with, signature_ids, targets, write_unsigned, Key, Sandbox, FAR,
    NOW, PASS_FILE,
};
use airlock_core::metadata::{DelegatedRole, Delegations};
use airlock_core::Timestamp;
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;

/// A sandbox with a root key and a targets key, `root.json` (root role: the
/// root key; the other roles: the targets key) signed by the root key, and
/// `targets.json` unsigned.
struct Repo {
    sb: Sandbox,
    root_key: Key,
    targets_key: Key,
}

fn repo() -> Repo {
    let sb = Sandbox::new();
    let root_key = sb.generate_key("root");
    let targets_key = sb.generate_key("targets");
    write_unsigned(&sb, "root.json", root_with(1, FAR, &[("root", &[&root_key], 1)], &[&targets_key]));
    sb.sign("root.json", &root_key, "root.json").ok();
    write_unsigned(&sb, "targets.json", targets(1, FAR));
    Repo { sb, root_key, targets_key }
}

#[test]
fn root_signed_by_its_key_verifies() {
    let sb = Sandbox::new();
    let k = sb.generate_key("root");
    write_unsigned(&sb, "root.json", root_all(1, FAR, &[&k]));

    // Unsigned, it does not verify, and says how far it got.
    let run = sb.verify_json("root.json", "root.json");
    run.fails(1).mentions(&["root.json"]);
    let j = run.json();
    assert_eq!(j["verified"], false);
    assert_eq!(counted(&j), Vec::<String>::new());

    let run = sb.sign("root.json", &k, "root.json");
    run.ok();
    assert_eq!(signature_ids(&sb, "root.json"), ids(&[&k]));

    let run = sb.verify_json("root.json", "root.json");
    run.ok();
    let j = run.json();
    assert_eq!(j["verified"], true);
    assert_eq!(j["type"], "root");
    assert_eq!(j["version"], 1);
    assert_eq!(j["expires"], FAR);
    assert_eq!(j["checked_at"], NOW);
    assert_eq!(j["expired"], false);
    assert_eq!(j["signatures"]["threshold"], 1);
    assert_eq!(counted(&j), ids(&[&k]));

    // The text form agrees.
    let run = sb.run(&["metadata", "verify", "root.json", "--root", "root.json", "--at", NOW]);
    run.ok();
    assert!(run.stdout.contains(&k.id.grouped()), "{}", run.stdout);
}

#[test]
fn signing_twice_with_one_key_keeps_one_signature() {
    let r = repo();
    r.sb.sign("targets.json", &r.targets_key, "root.json").ok();
    let once = r.sb.read("targets.json");
    r.sb.sign("targets.json", &r.targets_key, "root.json").ok();
    assert_eq!(signature_ids(&r.sb, "targets.json"), ids(&[&r.targets_key]));
    // Ed25519 is deterministic: the file is the same.
    assert_eq!(r.sb.read("targets.json"), once);
}

#[test]
fn targets_signed_by_the_targets_key_verifies() {
    let r = repo();
    r.sb.sign("targets.json", &r.targets_key, "root.json").ok();
    let run = r.sb.verify_json("targets.json", "root.json");
    run.ok();
    let j = run.json();
    assert_eq!(j["verified"], true);
    assert_eq!(j["type"], "targets");
    assert_eq!(j["signatures"]["role"], "targets");
    assert_eq!(counted(&j), ids(&[&r.targets_key]));
}

#[test]
fn sign_refuses_a_key_outside_the_role_and_leaves_the_file() {
    let r = repo();
    let before = r.sb.tree_hash();
    // The root key is not a targets key.
    r.sb.sign("targets.json", &r.root_key, "root.json").fails(2).mentions(&[
        "root.key",
        "not a targets key",
        "root.json",
    ]);
    assert_eq!(r.sb.tree_hash(), before, "a file was written or changed");

    // Nor is a key the root has never heard of.
    let stranger = r.sb.generate_key("stranger");
    let before = r.sb.tree_hash();
    r.sb.sign("targets.json", &stranger, "root.json").fails(2).mentions(&["not a targets key"]);
    assert_eq!(r.sb.tree_hash(), before);
}

#[test]
fn sign_refuses_a_retiring_key() {
    let sb = Sandbox::new();
    let old = sb.generate_key("old");
    let new = sb.generate_key("new");
    let mut root = root_with(1, FAR, &[("root", &[&old], 1), ("targets", &[&old, &new], 1)], &[&new]);
    root.roles.get_mut("targets").unwrap().retiring.insert(old.id.clone(), crate::support::t(FAR));
    write_unsigned(&sb, "root.json", root);
    sb.sign("root.json", &old, "root.json").ok();
    write_unsigned(&sb, "targets.json", targets(1, FAR));
    let before = sb.tree_hash();
    sb.sign("targets.json", &old, "root.json").fails(2).mentions(&["old.key", "retiring"]);
    assert_eq!(sb.tree_hash(), before);
    sb.sign("targets.json", &new, "root.json").ok();
}

#[test]
fn sign_refuses_a_public_key_file_given_as_the_key() {
    let r = repo();
    let before = r.sb.tree_hash();
    r.sb.run(&[
        "metadata",
        "sign",
        "targets.json",
        "--key",
        "targets.pub",
        "--root",
        "root.json",
        "--passphrase-file",
        PASS_FILE,
    ])
    .fails(2)
    .mentions(&["targets.pub", "public key"]);
    assert_eq!(r.sb.tree_hash(), before);
}

#[test]
fn sign_with_the_wrong_passphrase_leaves_the_file() {
    let r = repo();
    r.sb.write("wrong", "not it\n");
    let before = r.sb.tree_hash();
    r.sb.run(&[
        "metadata",
        "sign",
        "targets.json",
        "--key",
        "targets.key",
        "--root",
        "root.json",
        "--passphrase-file",
        "wrong",
    ])
    .fails(2)
    .mentions(&["targets.key", "passphrase"]);
    assert_eq!(r.sb.tree_hash(), before);
}

#[test]
fn sign_of_a_missing_file_writes_nothing() {
    let r = repo();
    let before = r.sb.tree_hash();
    r.sb.sign("absent.json", &r.targets_key, "root.json").fails(2).mentions(&["absent.json"]);
    assert_eq!(r.sb.tree_hash(), before);
    r.sb.sign("targets.json", &r.targets_key, "absent-root.json").fails(2).mentions(&["absent-root.json"]);
    assert_eq!(r.sb.tree_hash(), before);
}

#[test]
fn tampered_content_is_refused() {
    let r = repo();
    r.sb.sign("targets.json", &r.targets_key, "root.json").ok();
    let good = r.sb.read_string("targets.json");
    r.sb.verify_json("targets.json", "root.json").ok();

    for (what, from, to) in [
        ("version", "\"version\": 1", "\"version\": 2"),
        ("expiry", FAR, "2031-01-01T00:00:00Z"),
        ("target length", "\"length\": 5", "\"length\": 6"),
    ] {
        assert_eq!(good.matches(from).count(), 1, "{what}: {from:?} in\n{good}");
        r.sb.write("targets.json", good.replace(from, to));
        let run = r.sb.verify_json("targets.json", "root.json");
        run.fails(1).mentions(&["targets.json"]);
        let j = run.json();
        assert_eq!(j["verified"], false, "{what}");
        assert_eq!(counted(&j), Vec::<String>::new(), "{what}");
        let invalid = j["signatures"]["invalid"].as_array().unwrap();
        assert_eq!(invalid.len(), 1, "{what}: {j}");
        assert_eq!(invalid[0][0], r.targets_key.id.0.as_str(), "{what}");
    }

    // A changed signature is refused too.
    let v: serde_json::Value = serde_json::from_str(&good).unwrap();
    let sig = v["signatures"][0]["sig"].as_str().unwrap().to_owned();
    let flipped = format!("{}{}", if sig.starts_with('0') { "1" } else { "0" }, &sig[1..]);
    r.sb.write("targets.json", good.replace(&sig, &flipped));
    r.sb.verify_json("targets.json", "root.json").fails(1);
}

#[test]
fn expiry_is_checked_at_the_given_instant() {
    let r = repo();
    let expires = "2026-07-01T00:00:00Z";
    write_unsigned(&r.sb, "targets.json", targets(1, expires));
    r.sb.sign("targets.json", &r.targets_key, "root.json").ok();

    let verify_at = |at: &str| {
        r.sb.run(&["metadata", "verify", "targets.json", "--root", "root.json", "--at", at, "--json"])
    };
    let run = verify_at("2026-06-30T23:59:59Z");
    run.ok();
    assert_eq!(run.json()["expired"], false);

    for at in [expires, "2026-07-01T00:00:01Z", "2040-01-01T00:00:00Z"] {
        let run = verify_at(at);
        run.fails(1).mentions(&["targets.json", "expired"]);
        let j = run.json();
        assert_eq!(j["expired"], true, "at {at}");
        assert_eq!(j["verified"], false, "at {at}");
        // The signatures themselves were fine.
        assert_eq!(counted(&j), ids(&[&r.targets_key]));
    }
    let run = r.sb.run(&[
        "metadata",
        "verify",
        "targets.json",
        "--root",
        "root.json",
        "--at",
        "2040-01-01T00:00:00Z",
    ]);
    run.fails(1);
    assert!(run.stdout.contains("EXPIRED"), "{}", run.stdout);
}

#[test]
fn a_bad_at_is_a_usage_error() {
    let r = repo();
    for at in ["tomorrow", "2026-06-01", "2026-06-01T00:00:00+00:00", ""] {
        r.sb.run(&["metadata", "verify", "root.json", "--root", "root.json", "--at", at])
            .fails(2)
            .mentions(&["--at"]);
    }
}

#[test]
fn malformed_json_is_refused_naming_the_file() {
    let r = repo();
    r.sb.sign("targets.json", &r.targets_key, "root.json").ok();
    let good = r.sb.read("targets.json");
    let cases: [(&str, Vec<u8>); 5] = [
        ("not json", b"{ this is not json".to_vec()),
        ("cut in half", good[..good.len() / 2].to_vec()),
        ("empty", Vec::new()),
        ("array", b"[1, 2, 3]".to_vec()),
        ("no signatures member", br#"{"signed": {"_type": "targets"}}"#.to_vec()),
    ];
    for (what, bytes) in cases {
        r.sb.write("bad.json", &bytes);
        let run = r.sb.verify_json("bad.json", "root.json");
        assert_eq!(run.code, 1, "{what}: {run:?}");
        run.fails(1).mentions(&["bad.json"]);
        assert!(run.stdout.is_empty(), "{what}: a report for an unreadable file: {}", run.stdout);
    }
    // A duplicate member name inside "signed" is malformed, not "last one wins".
    let text = String::from_utf8(good).unwrap();
    r.sb.write("bad.json", text.replacen("\"version\": 1", "\"version\": 1,\n    \"version\": 1", 1));
    r.sb.verify_json("bad.json", "root.json").fails(1).mentions(&["bad.json"]);
}

#[test]
fn an_unknown_type_is_refused() {
    let r = repo();
    r.sb.write(
        "odd.json",
        format!(
            r#"{{"signatures": [], "signed": {{"_type": "nonsense", "spec_version": "1.0.31", "version": 1, "expires": "{FAR}"}}}}"#
        ),
    );
    r.sb.verify_json("odd.json", "root.json").fails(1).mentions(&["odd.json", "nonsense"]);
    // Signing it is refused too, and leaves it alone.
    let before = r.sb.tree_hash();
    r.sb.sign("odd.json", &r.targets_key, "root.json").fails(1).mentions(&["odd.json"]);
    assert_eq!(r.sb.tree_hash(), before);
}

#[test]
fn a_root_given_as_root_must_be_a_root() {
    let r = repo();
    r.sb.sign("targets.json", &r.targets_key, "root.json").ok();
    // targets.json is no root: a configuration error, not a verdict on the file.
    r.sb.verify_json("targets.json", "targets.json").fails(2).mentions(&["targets.json"]);
}

#[test]
fn duplicate_signatures_are_refused() {
    let r = repo();
    r.sb.sign("targets.json", &r.targets_key, "root.json").ok();
    edit_json(&r.sb, "targets.json", |v| {
        let sigs = v["signatures"].as_array_mut().unwrap();
        let first = sigs[0].clone();
        sigs.push(first);
    });
    r.sb.verify_json("targets.json", "root.json").fails(1).mentions(&["targets.json", "twice"]);
}

#[test]
fn threshold_two_needs_two_signatures() {
    let sb = Sandbox::new();
    let root_key = sb.generate_key("root");
    let a = sb.generate_key("a");
    let b = sb.generate_key("b");
    write_unsigned(
        &sb,
        "root.json",
        root_with(1, FAR, &[("root", &[&root_key], 1), ("targets", &[&a, &b], 2)], &[&root_key]),
    );
    sb.sign("root.json", &root_key, "root.json").ok();
    write_unsigned(&sb, "targets.json", targets(1, FAR));

    sb.sign("targets.json", &a, "root.json").ok();
    let run = sb.verify_json("targets.json", "root.json");
    run.fails(1).mentions(&["targets.json"]);
    let j = run.json();
    assert_eq!(j["verified"], false);
    assert_eq!(j["signatures"]["threshold"], 2);
    assert_eq!(counted(&j), ids(&[&a]));

    sb.sign("targets.json", &b, "root.json").ok();
    let run = sb.verify_json("targets.json", "root.json");
    run.ok();
    let mut got = counted(&run.json());
    got.sort();
    let mut want = vec![a.id.0.clone(), b.id.0.clone()];
    want.sort();
    assert_eq!(got, want);
}

#[test]
fn one_key_under_two_ids_counts_once() {
    let sb = Sandbox::new();
    let root_key = sb.generate_key("root");
    let a = sb.generate_key("a");
    let b = sb.generate_key("b");
    write_unsigned(
        &sb,
        "root.json",
        root_with(1, FAR, &[("root", &[&root_key], 1), ("targets", &[&a, &b], 2)], &[&root_key]),
    );
    sb.sign("root.json", &root_key, "root.json").ok();
    write_unsigned(&sb, "targets.json", targets(1, FAR));
    sb.sign("targets.json", &a, "root.json").ok();
    // Copy a's signature under b's id: b's key does not verify it.
    edit_json(&sb, "targets.json", |v| {
        let sigs = v["signatures"].as_array_mut().unwrap();
        let mut copy = sigs[0].clone();
        copy["keyid"] = serde_json::Value::String(b.id.0.clone());
        sigs.push(copy);
    });
    let run = sb.verify_json("targets.json", "root.json");
    run.fails(1);
    let j = run.json();
    assert_eq!(counted(&j), ids(&[&a]));
    assert_eq!(j["signatures"]["invalid"][0][0], b.id.0.as_str());
}

#[test]
fn a_signature_by_a_key_outside_the_role_does_not_count() {
    let r = repo();
    // `metadata sign` will not sign with a key outside the role, so file a
    // signature under the root key's id, which root.json knows but not for targets.
    r.sb.sign("targets.json", &r.targets_key, "root.json").ok();
    edit_json(&r.sb, "targets.json", |v| {
        v["signatures"][0]["keyid"] = serde_json::Value::String(r.root_key.id.0.clone());
    });
    let run = r.sb.verify_json("targets.json", "root.json");
    run.fails(1);
    let j = run.json();
    assert_eq!(counted(&j), Vec::<String>::new());
    assert_eq!(j["signatures"]["unauthorised"][0], r.root_key.id.0.as_str());
}

#[test]
fn delegated_role_verifies_against_its_delegator() {
    let r = repo();
    let dev = &r.targets_key;
    // targets.json delegates "projects" to the targets key (so that
    // `metadata sign`, which checks top-level roles, lets that key sign it).
    let mut t = targets(1, FAR);
    t.delegations = Some(Delegations {
        keys: [(dev.id.clone(), dev.public.clone())].into_iter().collect(),
        roles: vec![DelegatedRole {
            name: "projects".into(),
            keyids: vec![dev.id.clone()],
            threshold: 1,
            terminating: true,
            paths: Some(vec!["projects/*".into()]),
            path_hash_prefixes: None,
            extra: BTreeMap::new(),
        }],
        extra: BTreeMap::new(),
    });
    write_unsigned(&r.sb, "targets.json", t);
    r.sb.sign("targets.json", dev, "root.json").ok();
    write_unsigned(&r.sb, "projects.json", targets(1, FAR));
    r.sb.sign("projects.json", dev, "root.json").ok();

    let verify = |role: &str| {
        r.sb.run(&[
            "metadata",
            "verify",
            "projects.json",
            "--root",
            "root.json",
            "--delegator",
            "targets.json",
            "--role",
            role,
            "--at",
            NOW,
            "--json",
        ])
    };
    let run = verify("projects");
    run.ok();
    let j = run.json();
    assert_eq!(j["verified"], true);
    assert_eq!(j["signatures"]["role"], "projects");

    verify("nobody").fails(2).mentions(&["targets.json", "nobody"]);
    // --delegator without --role is a usage error (from argument parsing).
    let run = r.sb.run(&[
        "metadata",
        "verify",
        "projects.json",
        "--root",
        "root.json",
        "--delegator",
        "targets.json",
    ]);
    assert_eq!(run.code, 2, "{run:?}");
}

#[test]
fn sign_replaces_the_file_atomically_and_keeps_nothing_else() {
    let r = repo();
    let mut before = r.sb.listing();
    before.sort();
    r.sb.sign("targets.json", &r.targets_key, "root.json").ok();
    let mut after = r.sb.listing();
    after.sort();
    assert_eq!(before, after, "no temporary or backup file is left");
    // The signed file still parses as the same targets metadata.
    let md = airlock_core::metadata::AnyMetadata::from_bytes(&r.sb.read("targets.json")).unwrap();
    assert_eq!(md.type_name(), "targets");
    assert_eq!(md.expires(), Timestamp::parse(FAR).unwrap());
}

#[test]
fn sign_keeps_the_file_mode() {
    let r = repo();
    let mode = |sb: &Sandbox| sb.path("targets.json").metadata().unwrap().permissions().mode() & 0o7777;
    std::fs::set_permissions(r.sb.path("targets.json"), std::fs::Permissions::from_mode(0o644)).unwrap();
    r.sb.sign("targets.json", &r.targets_key, "root.json").ok();
    // Metadata is public: signing in place must keep the file readable as it was.
    assert_eq!(mode(&r.sb), 0o644, "mode after signing is {:o}", mode(&r.sb));
}
