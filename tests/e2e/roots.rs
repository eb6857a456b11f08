//! `airlock root verify`: root chains (TUF specification 5.3).

use crate::support::{root_all, write_unsigned, Key, Run, Sandbox, FAR, NOW};
use airlock_core::metadata::Root;
use airlock_core::{registry_identity, Metadata};

/// A sandbox with keys `k1` and `k2` and `1.root.json` (every role k1,
/// expiring at `v1_expires`) signed by k1.
struct Chain {
    sb: Sandbox,
    k1: Key,
    k2: Key,
}

fn chain(v1_expires: &str) -> Chain {
    let sb = Sandbox::new();
    let k1 = sb.generate_key("k1");
    let k2 = sb.generate_key("k2");
    write_unsigned(&sb, "1.root.json", root_all(1, v1_expires, &[&k1]));
    sb.sign("1.root.json", &k1, "1.root.json").ok();
    Chain { sb, k1, k2 }
}

impl Chain {
    /// Writes `N.root.json` with every role held by `holder`, signed by
    /// `signers` as authorised by `previous` (a root file).
    fn add(&self, version: u64, expires: &str, holder: &Key, signers: &[&Key], previous: &str) -> String {
        let name = format!("{version}.root.json");
        write_unsigned(&self.sb, &name, root_all(version, expires, &[holder]));
        for s in signers {
            self.sb.sign(&name, s, previous).ok();
        }
        name
    }

    fn identity(&self) -> String {
        let v1 = Metadata::<Root>::from_bytes(&self.sb.read("1.root.json")).unwrap();
        registry_identity(&v1)
    }

    fn verify(&self, args: &[&str]) -> Run {
        let mut all = vec!["root", "verify"];
        all.extend_from_slice(args);
        self.sb.run(&all)
    }
}

#[test]
fn key_swap_one_of_one_verifies_from_a_trusted_file() {
    let c = chain(FAR);
    // v2 swaps k1 for k2: signed by k1 (the old root's key) and by k2 (its own).
    // `metadata sign --root 1.root.json` lets k2 sign because v2 itself lists it.
    c.add(2, FAR, &c.k2, &[&c.k1, &c.k2], "1.root.json");

    let run = c.verify(&["2.root.json", "--trusted", "1.root.json", "--at", NOW, "--json"]);
    run.ok();
    let j = run.json();
    assert_eq!(j["verified"], true);
    assert_eq!(j["newest_version"], 2);
    assert_eq!(j["newest_expires"], FAR);
    assert_eq!(j["checked_at"], NOW);
    assert_eq!(j["error"], serde_json::Value::Null);
    let steps = j["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 1);
    assert_eq!(steps[0]["step"]["version"], 2);
    assert_eq!(steps[0]["step"]["by_previous"]["counted"][0], c.k1.id.0.as_str());
    assert_eq!(steps[0]["step"]["by_self"]["counted"][0], c.k2.id.0.as_str());
    assert_eq!(j["keys"]["root"]["keyids"][0], c.k2.id.0.as_str());

    // The trusted file may also be listed in the chain, and a directory works.
    c.verify(&["1.root.json", "2.root.json", "--trusted", "1.root.json", "--at", NOW]).ok();
    c.verify(&[".", "--trusted", "1.root.json", "--at", NOW]).ok();

    let run = c.verify(&["2.root.json", "--trusted", "1.root.json", "--at", NOW]);
    run.ok();
    assert!(run.stdout.contains("root chain verified: newest version 2"), "{}", run.stdout);
}

#[test]
fn key_swap_verifies_from_the_registry_identity() {
    let c = chain(FAR);
    c.add(2, FAR, &c.k2, &[&c.k1, &c.k2], "1.root.json");
    let id = c.identity();

    let run = c.verify(&["1.root.json", "2.root.json", "--identity", &id, "--at", NOW, "--json"]);
    run.ok();
    let j = run.json();
    assert_eq!(j["verified"], true);
    assert_eq!(j["newest_version"], 2);
    let steps = j["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 2);
    assert_eq!(steps[0]["step"]["version"], 1);
    assert_eq!(steps[0]["step"]["by_previous"], serde_json::Value::Null);
    assert_eq!(steps[1]["step"]["version"], 2);

    // The same from the directory, and with the identity in upper case.
    c.verify(&[".", "--identity", &id.to_uppercase(), "--at", NOW]).ok();

    // Version 1 alone, by identity: its identity is reported.
    let run = c.verify(&["1.root.json", "--identity", &id, "--at", NOW, "--json"]);
    run.ok();
    assert_eq!(run.json()["identity"], id.as_str());
}

#[test]
fn a_wrong_identity_is_refused() {
    let c = chain(FAR);
    c.add(2, FAR, &c.k2, &[&c.k1, &c.k2], "1.root.json");
    let wrong = airlock_core::hash::sha256_hex(b"some other registry");
    let run = c.verify(&["1.root.json", "2.root.json", "--identity", &wrong, "--at", NOW]);
    run.fails(1).mentions(&["1.root.json", "identity"]);

    // Starting the chain at version 2 does not satisfy an identity of version 1.
    let id = c.identity();
    c.verify(&["2.root.json", "--identity", &id, "--at", NOW]).fails(1).mentions(&["2.root.json"]);
}

#[test]
fn an_unsigned_first_root_is_refused_by_identity() {
    let sb = Sandbox::new();
    let k1 = sb.generate_key("k1");
    write_unsigned(&sb, "1.root.json", root_all(1, FAR, &[&k1]));
    let v1 = Metadata::<Root>::from_bytes(&sb.read("1.root.json")).unwrap();
    let id = registry_identity(&v1);
    sb.run(&["root", "verify", "1.root.json", "--identity", &id, "--at", NOW])
        .fails(1)
        .mentions(&["1.root.json"]);
}

#[test]
fn new_root_without_the_old_keys_signature_is_refused() {
    let c = chain(FAR);
    // Only k2 signs v2: the trusted root's key never agreed.
    c.add(2, FAR, &c.k2, &[&c.k2], "1.root.json");
    let run = c.verify(&["2.root.json", "--trusted", "1.root.json", "--at", NOW, "--json"]);
    run.fails(1).mentions(&["2.root.json", "version 1's root keys"]);
    let j = run.json();
    assert_eq!(j["verified"], false);
    assert_eq!(j["newest_version"], 1, "the chain stops at the last good root");
    assert!(j["error"].as_str().unwrap().contains("2.root.json"), "{j}");

    let id = c.identity();
    c.verify(&[".", "--identity", &id, "--at", NOW]).fails(1).mentions(&["2.root.json"]);
}

#[test]
fn new_root_without_its_own_keys_signature_is_refused() {
    let c = chain(FAR);
    // Only k1 signs v2, which names k2 as its root key.
    c.add(2, FAR, &c.k2, &[&c.k1], "1.root.json");
    c.verify(&["2.root.json", "--trusted", "1.root.json", "--at", NOW])
        .fails(1)
        .mentions(&["2.root.json", "its own root keys"]);
}

#[test]
fn a_version_gap_is_refused() {
    let c = chain(FAR);
    // v3 right after v1, properly signed by both the old and the new key.
    c.add(3, FAR, &c.k2, &[&c.k1, &c.k2], "1.root.json");
    c.verify(&["3.root.json", "--trusted", "1.root.json", "--at", NOW])
        .fails(1)
        .mentions(&["3.root.json", "does not follow"]);
    let id = c.identity();
    c.verify(&[".", "--identity", &id, "--at", NOW]).fails(1).mentions(&["3.root.json"]);
}

#[test]
fn a_replayed_version_is_refused() {
    let c = chain(FAR);
    c.add(2, FAR, &c.k2, &[&c.k1, &c.k2], "1.root.json");
    // A different version 2 (k1 kept), also signed by k1: cannot follow the real v2.
    write_unsigned(&c.sb, "other-2.root.json", root_all(2, FAR, &[&c.k1]));
    c.sb.sign("other-2.root.json", &c.k1, "1.root.json").ok();
    c.verify(&["2.root.json", "other-2.root.json", "--trusted", "1.root.json", "--at", NOW])
        .fails(1)
        .mentions(&["other-2.root.json"]);
}

#[test]
fn expired_intermediate_is_accepted_expired_newest_is_refused() {
    let c = chain("2026-01-01T00:00:00Z");
    c.add(2, "2026-03-01T00:00:00Z", &c.k2, &[&c.k1, &c.k2], "1.root.json");
    c.add(3, "2027-01-01T00:00:00Z", &c.k1, &[&c.k2, &c.k1], "2.root.json");
    let id = c.identity();

    // At NOW (2026-06-01) versions 1 and 2 have expired; 3 has not.
    let run =
        c.verify(&["1.root.json", "2.root.json", "3.root.json", "--identity", &id, "--at", NOW, "--json"]);
    run.ok();
    assert_eq!(run.json()["newest_version"], 3);
    c.verify(&["2.root.json", "3.root.json", "--trusted", "1.root.json", "--at", NOW]).ok();

    // Stopping at 2: the newest has expired.
    let run = c.verify(&["1.root.json", "2.root.json", "--identity", &id, "--at", NOW, "--json"]);
    run.fails(1).mentions(&["2.root.json", "expired"]);
    let j = run.json();
    assert_eq!(j["verified"], false);
    assert_eq!(j["newest_version"], 2);

    // And at the instant of expiry the newest counts as expired.
    c.verify(&[".", "--identity", &id, "--at", "2027-01-01T00:00:00Z"]).fails(1).mentions(&["3.root.json"]);
    c.verify(&[".", "--identity", &id, "--at", "2026-12-31T23:59:59Z"]).ok();
}

#[test]
fn a_malformed_root_in_the_chain_is_refused() {
    let c = chain(FAR);
    c.add(2, FAR, &c.k2, &[&c.k1, &c.k2], "1.root.json");
    let good = c.sb.read("2.root.json");
    c.sb.write("2.root.json", &good[..good.len() / 2]);
    c.verify(&["2.root.json", "--trusted", "1.root.json", "--at", NOW]).fails(1).mentions(&["2.root.json"]);
}

#[test]
fn a_tampered_root_is_refused() {
    let c = chain(FAR);
    c.add(2, FAR, &c.k2, &[&c.k1, &c.k2], "1.root.json");
    let text = c.sb.read_string("2.root.json");
    c.sb.write("2.root.json", text.replacen(FAR, "2031-01-01T00:00:00Z", 1));
    c.verify(&["2.root.json", "--trusted", "1.root.json", "--at", NOW]).fails(1).mentions(&["2.root.json"]);
}

#[test]
fn trust_must_be_given() {
    let c = chain(FAR);
    c.verify(&["1.root.json", "--at", NOW]).fails(2).mentions(&["--trusted", "--identity"]);
    c.verify(&["1.root.json", "--trusted", "absent.json", "--at", NOW]).fails(2).mentions(&["absent.json"]);
    c.verify(&["absent.json", "--trusted", "1.root.json", "--at", NOW]).fails(2).mentions(&["absent.json"]);
    // Both at once is refused by argument parsing.
    let id = c.identity();
    let run = c.verify(&["1.root.json", "--trusted", "1.root.json", "--identity", &id]);
    assert_eq!(run.code, 2, "{run:?}");
}
