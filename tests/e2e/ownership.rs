//! Namespace ownership against an attacker who holds the registry's online
//! index key (and keys of their own), through the binaries.
//!
//! Top-level targets, which delegates namespaces to publishers and lists
//! their keys, is signed by the custodians' offline keys; the index key
//! signs only snapshot and timestamp. Each attack below is built with only
//! the keys its attacker holds: the index key (`ceremony/keys/index.key`,
//! decrypted in the test as a thief would), keys made with `airlock key
//! generate`, and, where the row says so, a retired publisher or index key.
//! The forged metadata goes into a copy of the registry, which `airlock
//! bundle create` packs like the real one.
//!
//! Each attack is tried from two starting points: a FRESH mirror (nothing
//! imported) and a TRUSTED one (the real registry's bundle imported), except
//! where a fresh mirror has nothing to defend (a rollback needs versions to
//! go back from, a damaged state needs a state). For each, `mirror import`
//! must refuse with the reason named, leave the served tree and the trusted
//! state byte-for-byte unchanged, log one "import refused" record, and
//! `mirror verify` must still pass. After every accepted import, python-tuf
//! downloads every served target.

use crate::support::{
    assert_served_targets_download, change_ownership, copy_dir, tree_hash, Run, Sandbox, PASSPHRASE,
};
use airlock_core::hash::sha256_hex;
use airlock_core::{to_canonical_bytes, Ed25519Signer, PublicKey, Signer, SignerError};
use airlock_keyceremony::{decrypt_key_file, SecretPassphrase};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// Everything is made and read at this instant.
const AT: &str = "2026-11-23T12:00:00Z";
/// The registry's online index key: the attacker's key in every row.
const INDEX_KEY: &str = "ceremony/keys/index.key";
/// The custodian's offline key (only the fixture and the controls use it).
const ALICE_KEY: &str = "ceremony/keys/alice.key";
/// What the TUF client says about top-level targets signed by no custodian.
const TARGETS_UNSIGNED: &str =
    "4.targets.json: role \"targets\" needs 1 valid signature(s) from its keys, found 0";

/// Where an attack starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Start {
    /// `mirror init` only.
    Fresh,
    /// The real registry's bundle (snapshot 5) imported.
    Trusted,
}

/// A ceremony "example" (custodian alice, threshold 1), a registry `reg`
/// with publishers acme (`acme/*`) and beta (`beta/*`), one release each,
/// pins binding both namespaces to it, and a mirror `mirror`.
struct Fixture {
    sb: Sandbox,
}

impl Fixture {
    fn new(start: Start) -> Self {
        let fx = Fixture { sb: Sandbox::new() };
        fx.ok(&[
            "ceremony",
            "init",
            "--registry",
            "example",
            "--custodian",
            "alice",
            "--threshold",
            "1",
            "--out",
            "ceremony",
            "--allow-online",
            "--at",
            AT,
        ]);
        fx.ok(&["registry", "init", "reg", "--root-dir", "ceremony", "--key", INDEX_KEY, "--at", AT]);
        for (name, ns) in [("acme", "acme/*"), ("beta", "beta/*")] {
            fx.ok(&["key", "generate", "--out", name]);
            fx.change_ownership(&[
                "registry",
                "publisher",
                "add",
                name,
                "--key",
                &format!("{name}.pub"),
                "--namespace",
                ns,
            ]);
        }
        fx.release("acme", "acme.key", "acme/tool-1.0.tar.gz", b"acme tool 1.0\n", INDEX_KEY).ok();
        fx.release("beta", "beta.key", "beta/lib.txt", b"beta lib\n", INDEX_KEY).ok();
        std::fs::create_dir_all(fx.sb.path("pins/example")).unwrap();
        fx.sb.write(
            "pins/map.json",
            r#"{"repositories": {"example": ["dvd://example"]}, "mapping": [{"paths": ["acme/*", "beta/*"], "repositories": ["example"], "terminating": true, "threshold": 1}]}"#,
        );
        std::fs::copy(fx.sb.path("ceremony/1.root.json"), fx.sb.path("pins/example/root.json")).unwrap();
        fx.ok(&["mirror", "init", "mirror", "--pins", "pins"]);
        if start == Start::Trusted {
            fx.bundle("reg", "b1.tar");
            let run = fx.import_ok("mirror", "b1.tar");
            assert!(run.stdout.contains("snapshot none -> 5"), "{}", run.stdout);
        }
        fx
    }

    fn run(&self, args: &[&str]) -> Run {
        self.sb.run_env(args, &[("AIRLOCK_PASSPHRASE", PASSPHRASE)])
    }

    #[track_caller]
    fn ok(&self, args: &[&str]) -> Run {
        let run = self.run(args);
        run.ok();
        run
    }

    /// A namespace-ownership change signed by custodian alice and published
    /// with the index key (`--repo reg` is added).
    #[track_caller]
    fn change_ownership(&self, propose: &[&str]) {
        let args = [propose, &["--repo", "reg"]].concat();
        change_ownership(&self.sb, &args, "ceremony", &["alice"], "reg", AT);
    }

    /// `publish` one artifact as `role` with `key` (carrying the role's
    /// previous release), then `registry accept` it with `index`; returns
    /// the accept run.
    fn release(&self, role: &str, key: &str, target: &str, bytes: &[u8], index: &str) -> Run {
        let file = format!("art-{}", sha256_hex(bytes));
        self.sb.write(&file, bytes);
        let sub = format!("sub-{}", &sha256_hex(format!("{role}{key}{target}").as_bytes())[..16]);
        let artifact = format!("{file}={target}");
        let mut args =
            vec!["publish", "--role", role, "--key", key, "--artifact", &artifact, "--out-dir", &sub];
        let current = latest_role(&self.sb.path("reg/metadata"), role);
        if let Some(c) = &current {
            args.extend_from_slice(&["--current", c]);
        }
        args.extend_from_slice(&["--at", AT]);
        self.ok(&args);
        self.run(&["registry", "accept", &sub, "--repo", "reg", "--key", index, "--at", AT])
    }

    fn bundle(&self, repo: &str, out: &str) {
        self.ok(&["bundle", "create", "--repo", repo, "--out", out, "--at", AT]);
    }

    /// Imports `bundle` into `mirror` expecting success; python-tuf then
    /// downloads every target the mirror serves.
    #[track_caller]
    fn import_ok(&self, mirror: &str, bundle: &str) -> Run {
        let run = self.ok(&["mirror", "import", mirror, bundle, "--at", AT]);
        assert_served_targets_download(
            &self.sb.path(&format!("{mirror}/served/example")),
            &self.sb.path("pins/example/root.json"),
            AT,
        );
        run
    }

    /// Hashes of what `mirror` serves and what it trusts (not the audit log).
    fn mirror_state(&self, mirror: &str) -> (String, String) {
        let hash = |rel: String| {
            let p = self.sb.path(&rel);
            if p.exists() {
                tree_hash(&p)
            } else {
                "absent".into()
            }
        };
        (hash(format!("{mirror}/served")), hash(format!("{mirror}/state/repos")))
    }

    /// The audit log's records.
    fn audit(&self, mirror: &str) -> Vec<Value> {
        std::fs::read_to_string(self.sb.path(&format!("{mirror}/state/audit.jsonl")))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("audit record is JSON"))
            .collect()
    }

    /// Imports `bundle` into `mirror` expecting exit `code` with an error
    /// line holding every one of `needles`; asserts the served tree and the
    /// trusted state are unchanged and that one "import refused" record (with
    /// `rule`, when the admission decision refused) was logged.
    #[track_caller]
    fn refused(&self, mirror: &str, bundle: &str, code: i32, needles: &[&str], rule: Option<&str>) -> Run {
        let before = self.mirror_state(mirror);
        let logged = self.audit(mirror).len();
        let run = self.run(&["mirror", "import", mirror, bundle, "--at", AT]);
        run.fails(code).mentions(needles).mentions(&["the mirror is unchanged"]);
        assert_eq!(self.mirror_state(mirror), before, "the mirror changed:\n{run:?}");
        let audit = self.audit(mirror);
        assert_eq!(audit.len(), logged + 1, "the refusal was not logged once");
        let last = &audit[logged];
        assert_eq!(last["step"], "import refused", "{last}");
        assert_eq!(last["details"]["result"], "refused", "{last}");
        assert_eq!(last["details"]["bundle"], bundle, "{last}");
        let reason = last["details"]["reason"].as_str().unwrap_or_default();
        for n in needles {
            assert!(reason.contains(n), "the logged reason does not mention {n:?}: {last}");
        }
        assert_eq!(last["details"]["rule"].as_str(), rule, "{last}");
        run
    }

    /// `mirror verify` passes.
    #[track_caller]
    fn verified(&self, mirror: &str) {
        self.ok(&["mirror", "verify", mirror, "--at", AT]);
    }

    /// The Ed25519 signer in an encrypted key file, as someone who stole
    /// the file and its passphrase holds it.
    fn signer(&self, key_file: &str) -> Ed25519Signer {
        let bytes = self.sb.read(key_file);
        decrypt_key_file(&bytes, Path::new(key_file), &SecretPassphrase::from(PASSPHRASE))
            .unwrap_or_else(|e| panic!("{key_file}: {e}"))
    }

    /// The public key in a `.pub` file.
    fn public(&self, pub_file: &str) -> PublicKey {
        PublicKey::from_spki_pem(&self.sb.read_string(pub_file)).unwrap_or_else(|e| panic!("{pub_file}: {e}"))
    }

    /// `airlock key generate --out NAME`.
    fn generate(&self, name: &str) {
        self.ok(&["key", "generate", "--out", name]);
    }

    /// A copy of the registry directory at `dir` to forge in.
    fn forge(&self, dir: &str) -> Forgery<'_> {
        copy_dir(&self.sb.path("reg"), &self.sb.path(dir));
        Forgery { fx: self, dir: dir.to_owned() }
    }

    /// The custodians rotate the index key to `new-index` with a 14-day
    /// window (root version 2), and the registry takes root 2 in, signing
    /// snapshot and timestamp with the new key.
    fn rotate_index_key(&self) {
        self.generate("new-index");
        let out = self.ok(&[
            "ceremony",
            "propose",
            "--root",
            "ceremony/1.root.json",
            "--out",
            "ceremony/draft-2.json",
            "--rotate-index",
            "new-index.pub",
            "--window-days",
            "14",
            "--at",
            AT,
            "--allow-online",
        ]);
        let hash = out
            .stdout
            .lines()
            .find_map(|l| l.split_once("payload hash ").map(|(_, h)| h.trim().to_owned()))
            .expect("propose prints the payload hash");
        for key in [ALICE_KEY, "new-index.key"] {
            self.ok(&[
                "ceremony",
                "sign",
                "ceremony/draft-2.json",
                "--root",
                "ceremony/1.root.json",
                "--key",
                key,
                "--confirm",
                &hash,
                "--allow-online",
                "--at",
                AT,
            ]);
        }
        self.ok(&[
            "ceremony",
            "finalize",
            "ceremony/draft-2.json",
            "--root",
            "ceremony/1.root.json",
            "--out",
            "ceremony/2.root.json",
            "--allow-online",
            "--at",
            AT,
        ]);
        let out = self.ok(&[
            "registry",
            "update-root",
            "--root-dir",
            "ceremony",
            "--repo",
            "reg",
            "--key",
            "new-index.key",
            "--at",
            AT,
        ]);
        assert!(out.stdout.contains("snapshot v6"), "{}", out.stdout);
    }
}

/// Signs `doc`'s `signed` member with each of `signers`, replacing every
/// signature it had.
fn sign(doc: &mut Value, signers: &[&dyn Signer]) {
    let payload = to_canonical_bytes(&doc["signed"]).expect("canonical JSON");
    let sigs: Vec<Value> = signers
        .iter()
        .map(|s| json!({"keyid": s.key_id().0, "sig": hex::encode(s.sign(&payload).expect("sign"))}))
        .collect();
    doc["signatures"] = Value::Array(sigs);
}

/// A key object as JSON, and its id.
fn key_entry(key: &PublicKey) -> (String, Value) {
    (key.key_id().0, serde_json::to_value(key).unwrap())
}

/// A forged copy of the registry: roles are written as the attacker signs
/// them, then a new snapshot and timestamp are committed with whichever key
/// the attacker holds for them.
struct Forgery<'a> {
    fx: &'a Fixture,
    dir: String,
}

impl Forgery<'_> {
    fn meta_path(&self, file: &str) -> String {
        format!("{}/metadata/{file}", self.dir)
    }

    fn read(&self, file: &str) -> Value {
        serde_json::from_slice(&self.fx.sb.read(&self.meta_path(file))).expect("metadata JSON")
    }

    fn write(&self, file: &str, doc: &Value) {
        self.fx.sb.write(&self.meta_path(file), serde_json::to_vec_pretty(doc).unwrap());
    }

    /// The snapshot version `timestamp.json` names.
    fn snapshot_version(&self) -> u64 {
        self.read("timestamp.json")["signed"]["meta"]["snapshot.json"]["version"].as_u64().unwrap()
    }

    /// The current metadata of targets role `role` (as the snapshot names it).
    fn role(&self, role: &str) -> Value {
        let snap = self.read(&format!("{}.snapshot.json", self.snapshot_version()));
        let v = snap["signed"]["meta"][format!("{role}.json")]["version"].as_u64().expect("role in snapshot");
        self.read(&format!("{v}.{role}.json"))
    }

    /// Writes `doc` as `V.role.json` (V its version), signed by `signers`.
    fn put_role(&self, role: &str, mut doc: Value, signers: &[&dyn Signer]) -> (String, u64) {
        sign(&mut doc, signers);
        let v = doc["signed"]["version"].as_u64().unwrap();
        self.write(&format!("{v}.{role}.json"), &doc);
        (role.to_owned(), v)
    }

    /// Stores `bytes` as target `target` (content-addressed, as the
    /// registry stores targets) and returns its target-file entry.
    fn put_target(&self, target: &str, bytes: &[u8]) -> Value {
        let sha = sha256_hex(bytes);
        let (dir, base) = target.rsplit_once('/').unwrap();
        let path = format!("{}/targets/{dir}", self.dir);
        std::fs::create_dir_all(self.fx.sb.path(&path)).unwrap();
        self.fx.sb.write(&format!("{path}/{sha}.{base}"), bytes);
        json!({"length": bytes.len(), "hashes": {"sha256": sha}})
    }

    /// A new snapshot (current version + 1) naming `roles` at their new
    /// versions, and a new timestamp for it, both signed by `signer`.
    fn commit(&self, roles: &[(String, u64)], signer: &dyn Signer) {
        let old = self.snapshot_version();
        let mut snap = self.read(&format!("{old}.snapshot.json"));
        let new = old + 1;
        snap["signed"]["version"] = json!(new);
        for (role, v) in roles {
            let bytes = self.fx.sb.read(&self.meta_path(&format!("{v}.{role}.json")));
            snap["signed"]["meta"][format!("{role}.json")] =
                json!({"version": v, "length": bytes.len(), "hashes": {"sha256": sha256_hex(&bytes)}});
        }
        sign(&mut snap, &[signer]);
        self.write(&format!("{new}.snapshot.json"), &snap);
        let ts_version = self.read("timestamp.json")["signed"]["version"].as_u64().unwrap() + 1;
        self.point_timestamp(new, ts_version, signer);
    }

    /// Re-signs snapshot `version` as it stands with `signer`.
    fn resign_snapshot(&self, version: u64, signer: &dyn Signer) {
        let file = format!("{version}.snapshot.json");
        let mut snap = self.read(&file);
        sign(&mut snap, &[signer]);
        self.write(&file, &snap);
    }

    /// A timestamp of version `ts_version` naming snapshot `snapshot`, signed by `signer`.
    fn point_timestamp(&self, snapshot: u64, ts_version: u64, signer: &dyn Signer) {
        let bytes = self.fx.sb.read(&self.meta_path(&format!("{snapshot}.snapshot.json")));
        let mut ts = self.read("timestamp.json");
        ts["signed"]["version"] = json!(ts_version);
        ts["signed"]["meta"]["snapshot.json"] =
            json!({"version": snapshot, "length": bytes.len(), "hashes": {"sha256": sha256_hex(&bytes)}});
        sign(&mut ts, &[signer]);
        self.write("timestamp.json", &ts);
        // The attacker holds the index key, which is also the log key: the
        // forged role versions go into the log like any others (witnesses
        // are what make that visible: transparency.rs).
        airlock_bundles::registry::Registry::open(&self.fx.sb.path(&self.dir))
            .and_then(|r| r.sync_log(signer))
            .expect("log the forged versions");
    }

    /// `airlock bundle create` over the forged copy.
    fn bundle(&self, out: &str) -> String {
        self.fx.bundle(&self.dir, out);
        out.to_owned()
    }
}

/// Runs one attack from `start`: builds it, imports it, expects the
/// refusal (exit 1 mentioning every one of `needles`) with nothing changed,
/// and `mirror verify` passing after.
fn attack(start: Start, build: impl FnOnce(&Fixture) -> String, needles: &[&str], rule: Option<&str>) {
    let fx = Fixture::new(start);
    let bundle = build(&fx);
    fx.refused("mirror", &bundle, 1, needles, rule);
    fx.verified("mirror");
}

// --- 1. A hash-prefix delegation shadowing acme --------------------------

/// sha256("acme/tool-1.0.tar.gz")'s first hex digit, as TUF's
/// `path_hash_prefixes` matches it.
fn hash_prefix_of(target: &str) -> String {
    sha256_hex(target.as_bytes())[..1].to_owned()
}

/// A new delegation "shadow" (key evil) placed first in top-level targets,
/// terminating, with `path_hash_prefixes` covering acme/tool-1.0.tar.gz;
/// the shadow role lists that path with other bytes. Top-level targets is
/// signed with `targets_key`.
fn build_shadow(fx: &Fixture, targets_key: &str) -> String {
    fx.generate("evil");
    let evil = fx.signer("evil.key");
    let index = fx.signer(INDEX_KEY);
    let f = fx.forge("forged");
    let (evil_id, evil_obj) = key_entry(&fx.public("evil.pub"));
    let mut top = f.role("targets");
    top["signed"]["version"] = json!(4);
    top["signed"]["delegations"]["keys"][&evil_id] = evil_obj;
    let roles = top["signed"]["delegations"]["roles"].as_array_mut().unwrap();
    roles.insert(
        0,
        json!({"name": "shadow", "keyids": [evil_id], "threshold": 1, "terminating": true,
               "path_hash_prefixes": [hash_prefix_of("acme/tool-1.0.tar.gz")]}),
    );
    let file = f.put_target("acme/tool-1.0.tar.gz", b"#!/bin/sh\necho owned\n");
    let shadow = json!({"signatures": [], "signed": {
        "_type": "targets", "spec_version": "1.0.31", "version": 1, "expires": "2027-01-01T00:00:00Z",
        "targets": {"acme/tool-1.0.tar.gz": file}}});
    let t = f.put_role("targets", top, &[&fx.signer(targets_key)]);
    let s = f.put_role("shadow", shadow, &[&evil]);
    f.commit(&[t, s], &index);
    f.bundle("shadow.tar")
}

#[test]
fn hash_prefix_shadow_delegation_fresh() {
    attack(Start::Fresh, |fx| build_shadow(fx, INDEX_KEY), &[TARGETS_UNSIGNED], None);
}

#[test]
fn hash_prefix_shadow_delegation_trusted() {
    attack(Start::Trusted, |fx| build_shadow(fx, INDEX_KEY), &[TARGETS_UNSIGNED], None);
}

// --- 2. beta widened to acme/* and moved ahead of acme -------------------

/// beta's delegation widened to `acme/*` and `beta/*`, moved ahead of acme,
/// its key changed to evil (the attacker lacks beta's key); beta's new
/// version, signed by evil, lists acme/tool-1.0.tar.gz with other bytes.
fn build_widened(fx: &Fixture, targets_key: &str) -> String {
    fx.generate("evil");
    let evil = fx.signer("evil.key");
    let index = fx.signer(INDEX_KEY);
    let f = fx.forge("forged");
    let (evil_id, evil_obj) = key_entry(&fx.public("evil.pub"));
    let mut top = f.role("targets");
    top["signed"]["version"] = json!(4);
    top["signed"]["delegations"]["keys"][&evil_id] = evil_obj;
    let roles = top["signed"]["delegations"]["roles"].as_array_mut().unwrap();
    let at = roles.iter().position(|r| r["name"] == "beta").unwrap();
    let mut beta_del = roles.remove(at);
    beta_del["paths"] = json!(["acme/*", "beta/*"]);
    beta_del["keyids"] = json!([evil_id]);
    roles.insert(0, beta_del);
    let mut beta = f.role("beta");
    beta["signed"]["version"] = json!(2);
    beta["signed"]["targets"]["acme/tool-1.0.tar.gz"] =
        f.put_target("acme/tool-1.0.tar.gz", b"#!/bin/sh\necho owned\n");
    let t = f.put_role("targets", top, &[&fx.signer(targets_key)]);
    let b = f.put_role("beta", beta, &[&evil]);
    f.commit(&[t, b], &index);
    f.bundle("widened.tar")
}

#[test]
fn widened_and_reordered_delegation_fresh() {
    attack(Start::Fresh, |fx| build_widened(fx, INDEX_KEY), &[TARGETS_UNSIGNED], None);
}

#[test]
fn widened_and_reordered_delegation_trusted() {
    attack(Start::Trusted, |fx| build_widened(fx, INDEX_KEY), &[TARGETS_UNSIGNED], None);
}

// --- 3. Same-name nested delegation ---------------------------------------

/// Top-level acme re-keyed to evil, and a new role "evilhost" (key evil,
/// searched first, not terminating) that delegates to a role also named
/// "acme" with acme's real key, so a mirror that identified delegations by
/// name alone would still see acme's old key. acme's new version is signed
/// by evil with other bytes.
fn build_same_name(fx: &Fixture, targets_key: &str) -> String {
    fx.generate("evil");
    let evil = fx.signer("evil.key");
    let index = fx.signer(INDEX_KEY);
    let f = fx.forge("forged");
    let (evil_id, evil_obj) = key_entry(&fx.public("evil.pub"));
    let (acme_id, acme_obj) = key_entry(&fx.public("acme.pub"));
    let mut top = f.role("targets");
    top["signed"]["version"] = json!(4);
    top["signed"]["delegations"]["keys"][&evil_id] = evil_obj;
    let roles = top["signed"]["delegations"]["roles"].as_array_mut().unwrap();
    let at = roles.iter().position(|r| r["name"] == "acme").unwrap();
    roles[at]["keyids"] = json!([evil_id]);
    roles.insert(
        0,
        json!({"name": "evilhost", "keyids": [evil_id], "threshold": 1, "terminating": false,
               "paths": ["acme/*"]}),
    );
    let host = json!({"signatures": [], "signed": {
        "_type": "targets", "spec_version": "1.0.31", "version": 1, "expires": "2027-01-01T00:00:00Z",
        "targets": {},
        "delegations": {"keys": {acme_id.clone(): acme_obj},
                        "roles": [{"name": "acme", "keyids": [acme_id], "threshold": 1,
                                   "terminating": true, "paths": ["acme/*"]}]}}});
    let mut acme = f.role("acme");
    acme["signed"]["version"] = json!(2);
    acme["signed"]["targets"]["acme/tool-1.0.tar.gz"] =
        f.put_target("acme/tool-1.0.tar.gz", b"#!/bin/sh\necho owned\n");
    let t = f.put_role("targets", top, &[&fx.signer(targets_key)]);
    let h = f.put_role("evilhost", host, &[&evil]);
    let a = f.put_role("acme", acme, &[&evil]);
    f.commit(&[t, h, a], &index);
    f.bundle("samename.tar")
}

#[test]
fn same_name_nested_delegation_fresh() {
    attack(Start::Fresh, |fx| build_same_name(fx, INDEX_KEY), &[TARGETS_UNSIGNED], None);
}

#[test]
fn same_name_nested_delegation_trusted() {
    attack(Start::Trusted, |fx| build_same_name(fx, INDEX_KEY), &[TARGETS_UNSIGNED], None);
}

/// Builds a forgery, signing top-level targets with the key file given.
type Build = fn(&Fixture, &str) -> String;

/// Controls for rows 1 to 3: the same forgeries with top-level targets
/// signed by the custodian, as if the custodians had been talked into
/// signing them. That signature then holds, and the mirror still refuses:
/// the delegation search would give acme's target to the new role (rows 1
/// and 2), so acme's listing is not what clients get; and acme's new
/// version does not verify under the nested "acme" delegation that the
/// search follows first (row 3: a role gets no authority from another path).
#[test]
fn custodian_signed_forgeries_are_still_refused() {
    let cases: [(Build, &str, Option<&str>); 3] = [
        (
            build_shadow,
            "rule delegation: role acme lists acme/tool-1.0.tar.gz, but the delegation search gives that path to role shadow",
            Some("delegation"),
        ),
        (
            build_widened,
            "rule delegation: role acme lists acme/tool-1.0.tar.gz, but the delegation search gives that path to role beta",
            Some("delegation"),
        ),
        (build_same_name, "acme.json: role \"acme\" needs 1 valid signature(s) from its keys, found 0", None),
    ];
    for (build, reason, rule) in cases {
        for start in [Start::Fresh, Start::Trusted] {
            attack(start, |fx| build(fx, ALICE_KEY), &[reason], rule);
        }
    }
}

// --- 4. Rollback during a planned index-key rotation ----------------------

/// The mirror trusts snapshot 6 and then 7, both signed by the new index key
/// under root 2. Replaying the older real bundle is refused; so is the older
/// snapshot 6 re-signed, with a newer timestamp, by the retiring old index
/// key, which root 2 still lists (its window runs 14 days from AT). A fresh
/// mirror takes that same forged bundle: the retiring key does verify, and
/// only the mirror's versions stop it.
#[test]
fn index_rotation_rollback_with_the_retiring_key_trusted() {
    let fx = Fixture::new(Start::Trusted);
    fx.rotate_index_key();
    fx.bundle("reg", "a.tar");
    let run = fx.import_ok("mirror", "a.tar");
    assert!(run.stdout.contains("snapshot 5 -> 6") && run.stdout.contains("new root version(s): 2"));
    fx.release("acme", "acme.key", "acme/tool-2.0.tar.gz", b"acme tool 2.0\n", "new-index.key").ok();
    fx.bundle("reg", "b.tar");
    assert!(fx.import_ok("mirror", "b.tar").stdout.contains("snapshot 6 -> 7"));
    // The older real bundle, replayed.
    fx.refused("mirror", "a.tar", 1, &["rollback of timestamp: trusted version 7, offered 6"], None);
    fx.verified("mirror");
    // Snapshot 6 re-signed by the retiring key, under a timestamp of version 8.
    let old = fx.signer(INDEX_KEY);
    let f = fx.forge("older");
    f.resign_snapshot(6, &old);
    f.point_timestamp(6, 8, &old);
    f.bundle("older.tar");
    fx.refused("mirror", "older.tar", 1, &["rollback of snapshot: trusted version 7, offered 6"], None);
    fx.verified("mirror");
    fx.ok(&["mirror", "init", "fresh", "--pins", "pins"]);
    fx.import_ok("fresh", "older.tar");
}

/// The issue's case: the mirror trusts snapshot 5 under root 1, signed by
/// the old index key. A bundle carrying root 2 (which rotates the index
/// key, so the TUF client forgets the timestamp and snapshot it trusted)
/// with the older snapshot 4 under a timestamp the retiring key signed must
/// not roll the mirror back: the retiring key is still listed, so this is
/// no fast-forward recovery.
#[test]
fn index_rotation_does_not_make_the_mirror_forget_its_versions_trusted() {
    let fx = Fixture::new(Start::Trusted);
    fx.rotate_index_key();
    let old = fx.signer(INDEX_KEY);
    let f = fx.forge("older");
    f.resign_snapshot(4, &old);
    f.point_timestamp(4, 7, &old);
    f.bundle("older.tar");
    fx.refused(
        "mirror",
        "older.tar",
        1,
        &["rule no-rollback: snapshot version 4 is older than the trusted version 5"],
        Some("no-rollback"),
    );
    fx.verified("mirror");
    // The registry's real state after the rotation still imports.
    fx.bundle("reg", "a.tar");
    assert!(fx.import_ok("mirror", "a.tar").stdout.contains("snapshot 5 -> 6"));
}

// --- 5. Witnesses the policy requires ----------------------------------------

/// A policy requiring one witness cosignature, with a well-formed witness.
fn witness_policy(fx: &Fixture) -> String {
    let key =
        serde_json::to_value(fx.public("acme.pub")).unwrap()["keyval"]["public"].as_str().unwrap().to_owned();
    format!("required_witnesses = 1\n\n[[witness]]\nname = \"witness.example\"\nkey = \"{key}\"\n")
}

#[test]
fn witness_policy_is_accepted_at_mirror_init() {
    let fx = Fixture::new(Start::Fresh);
    fx.sb.write("witness.toml", witness_policy(&fx));
    fx.ok(&["mirror", "init", "m2", "--pins", "pins", "--policy", "witness.toml"]);
    assert_eq!(fx.sb.read_string("m2/state/policy.toml"), witness_policy(&fx));
}

/// A mirror whose policy file is edited afterwards to require a witness:
/// a bundle no witness cosigned is refused by that rule, and nothing
/// changes; without the edit the same bundle imports. (Cosigned bundles:
/// transparency.rs.)
fn witness_policy_edited_in(start: Start) {
    let fx = Fixture::new(start);
    fx.release("acme", "acme.key", "acme/tool-2.0.tar.gz", b"acme tool 2.0\n", INDEX_KEY).ok();
    fx.bundle("reg", "b2.tar");
    fx.sb.write("mirror/state/policy.toml", witness_policy(&fx));
    let before = (tree_hash(&fx.sb.path("mirror/served")), tree_hash(&fx.sb.path("mirror/state/repos")));
    fx.run(&["mirror", "import", "mirror", "b2.tar", "--at", AT])
        .fails(1)
        .mentions(&["rule policy required_witnesses", "0 of the required 1 witness cosignatures"]);
    let after = (tree_hash(&fx.sb.path("mirror/served")), tree_hash(&fx.sb.path("mirror/state/repos")));
    assert_eq!(after, before, "the mirror changed");
    std::fs::remove_file(fx.sb.path("mirror/state/policy.toml")).unwrap();
    fx.verified("mirror");
    fx.import_ok("mirror", "b2.tar");
}

#[test]
fn witness_policy_edited_into_the_mirror_fresh() {
    witness_policy_edited_in(Start::Fresh);
}

#[test]
fn witness_policy_edited_into_the_mirror_trusted() {
    witness_policy_edited_in(Start::Trusted);
}

// --- 6. Selective bundles and policy-refused targets -----------------------

/// acme publishes version 2; a bundle of beta/* alone leaves acme's new
/// role out, which the mirror does not hold, so clients could not reach
/// acme's targets: refused, naming acme.
fn selective_bundle(start: Start) {
    let fx = Fixture::new(start);
    fx.release("acme", "acme.key", "acme/tool-2.0.tar.gz", b"acme tool 2.0\n", INDEX_KEY).ok();
    fx.ok(&["bundle", "create", "--repo", "reg", "--namespace", "beta/*", "--out", "sel.tar", "--at", AT]);
    fx.refused(
        "mirror",
        "sel.tar",
        1,
        &["rule complete-metadata: role acme (delegated by targets) is in the snapshot but neither carried nor held by the mirror at version 2"],
        Some("complete-metadata"),
    );
    fx.verified("mirror");
}

#[test]
fn selective_bundle_behind_the_mirror_fresh() {
    selective_bundle(Start::Fresh);
}

#[test]
fn selective_bundle_behind_the_mirror_trusted() {
    selective_bundle(Start::Trusted);
}

const DENY_BETA: &str = "deny_namespaces = [\"beta/*\"]\n";
const BETA_DENIED: &str =
    "rule policy deny_namespaces: target beta/lib.txt: matches denied pattern \"beta/*\"";

#[test]
fn policy_denied_target_refuses_the_whole_bundle_fresh() {
    let fx = Fixture::new(Start::Fresh);
    fx.sb.write("deny.toml", DENY_BETA);
    fx.ok(&["mirror", "init", "denying", "--pins", "pins", "--policy", "deny.toml"]);
    fx.bundle("reg", "b1.tar");
    fx.refused("denying", "b1.tar", 1, &[BETA_DENIED], Some("policy"));
    assert!(
        std::fs::read_dir(fx.sb.path("denying/served")).unwrap().next().is_none(),
        "acme's target was served although the bundle was refused"
    );
    fx.verified("denying");
}

#[test]
fn policy_denied_target_refuses_the_whole_bundle_trusted() {
    let fx = Fixture::new(Start::Trusted);
    fx.release("acme", "acme.key", "acme/tool-2.0.tar.gz", b"acme tool 2.0\n", INDEX_KEY).ok();
    fx.bundle("reg", "b2.tar");
    fx.sb.write("mirror/state/policy.toml", DENY_BETA);
    // beta's target is in a role the mirror already serves; acme's new
    // target is not imported either.
    fx.refused("mirror", "b2.tar", 1, &[BETA_DENIED], Some("policy"));
    // Under that policy, what is served no longer passes either.
    let run = fx.run(&["mirror", "verify", "mirror", "--at", AT]);
    run.fails(1).mentions(&["1 problem(s) found"]);
    assert!(run.stdout.contains(&format!("PROBLEM  example: {BETA_DENIED}")), "{}", run.stdout);
    std::fs::remove_file(fx.sb.path("mirror/state/policy.toml")).unwrap();
    fx.verified("mirror");
    fx.import_ok("mirror", "b2.tar");
}

// --- 7. One P-256 key under two encodings ---------------------------------

/// Whether `openssl` runs; outside CI a missing one skips the test.
fn openssl_available() -> bool {
    let ok = std::process::Command::new("openssl").arg("version").output().is_ok_and(|o| o.status.success());
    if !ok {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("openssl is not installed (Debian package openssl)");
        }
        eprintln!("SKIPPED: openssl is not installed");
    }
    ok
}

/// Runs `openssl ARGS` in the sandbox.
fn openssl(sb: &Sandbox, args: &[&str]) -> Vec<u8> {
    let out = std::process::Command::new("openssl").args(args).current_dir(sb.root()).output().unwrap();
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// A P-256 key made by openssl, and its public key as two key objects: the
/// point compressed and uncompressed, which have different key ids.
struct P256 {
    key_file: PathBuf,
    compressed: PublicKey,
    uncompressed: PublicKey,
}

impl P256 {
    fn generate(sb: &Sandbox, name: &str) -> P256 {
        let key = format!("{name}.p256.pem");
        openssl(sb, &["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", &key]);
        let object = |form: &str| -> PublicKey {
            let pem = openssl(sb, &["ec", "-in", &key, "-pubout", "-conv_form", form]);
            let pem = String::from_utf8(pem).unwrap();
            serde_json::from_value(
                json!({"keytype": "ecdsa", "scheme": "ecdsa-sha2-nistp256", "keyval": {"public": pem}}),
            )
            .unwrap()
        };
        let p = P256 {
            key_file: sb.path(&key),
            compressed: object("compressed"),
            uncompressed: object("uncompressed"),
        };
        assert_ne!(p.compressed.key_id(), p.uncompressed.key_id());
        assert_eq!(p.compressed.material_id(), p.uncompressed.material_id());
        p
    }

    /// A signer filing its signatures under `public`'s key id.
    fn signer(&self, public: &PublicKey) -> OpensslSigner {
        OpensslSigner { key_file: self.key_file.clone(), public: public.clone() }
    }
}

/// Signs with `openssl dgst -sha256 -sign` (DER ECDSA signatures).
struct OpensslSigner {
    key_file: PathBuf,
    public: PublicKey,
}

impl Signer for OpensslSigner {
    fn public_key(&self) -> &PublicKey {
        &self.public
    }

    fn sign(&self, payload: &[u8]) -> Result<Vec<u8>, SignerError> {
        let dir = tempfile::tempdir().unwrap();
        let (data, sig) = (dir.path().join("payload"), dir.path().join("sig"));
        std::fs::write(&data, payload).unwrap();
        let out = std::process::Command::new("openssl")
            .args(["dgst", "-sha256", "-sign"])
            .arg(&self.key_file)
            .arg("-out")
            .arg(&sig)
            .arg(&data)
            .output()
            .unwrap();
        assert!(out.status.success(), "openssl dgst: {}", String::from_utf8_lossy(&out.stderr));
        Ok(std::fs::read(&sig).unwrap())
    }
}

fn support_key(name: &str, public: &PublicKey) -> crate::support::Key {
    crate::support::Key { name: name.into(), id: public.key_id(), public: public.clone() }
}

/// A root whose every role is `keys` with threshold 2, signed by `signers`.
fn p256_root(sb: &Sandbox, rel: &str, keys: &[&crate::support::Key], signers: &[&dyn Signer]) {
    let roles: Vec<(&str, &[&crate::support::Key], u64)> =
        ["root", "targets", "snapshot", "timestamp"].iter().map(|r| (*r, keys, 2)).collect();
    crate::support::write_unsigned(
        sb,
        rel,
        crate::support::root_with(1, "2030-01-01T00:00:00Z", &roles, &[]),
    );
    crate::support::edit_json(sb, rel, |doc| sign(doc, signers));
}

/// `metadata verify`: a root (and a delegation) listing one P-256 key twice,
/// compressed and uncompressed under two key ids, with threshold 2, does not
/// verify with that key's two signatures: they count once. Two distinct
/// P-256 keys do meet it. The registry will not write such a delegation.
#[test]
fn p256_key_under_two_encodings_counts_once() {
    if !openssl_available() {
        return;
    }
    let fx = Fixture::new(Start::Fresh);
    let sb = &fx.sb;
    let k = P256::generate(sb, "one");
    let (c, u) = (support_key("c", &k.compressed), support_key("u", &k.uncompressed));
    let (sc, su) = (k.signer(&k.compressed), k.signer(&k.uncompressed));
    p256_root(sb, "dup.root.json", &[&c, &u], &[&sc, &su]);
    let run =
        fx.run(&["metadata", "verify", "dup.root.json", "--root", "dup.root.json", "--at", AT, "--json"]);
    run.fails(1)
        .mentions(&["dup.root.json: role \"root\" needs 2 valid signature(s) from its keys, found 1"]);
    let report = run.json();
    assert_eq!(report["verified"], false);
    assert_eq!(report["signatures"]["counted"].as_array().unwrap().len(), 1, "{report}");
    assert_eq!(report["signatures"]["duplicate"].as_array().unwrap().len(), 1, "{report}");

    // Control: two distinct P-256 keys, each signing once.
    let k2 = P256::generate(sb, "two");
    let d = support_key("d", &k2.uncompressed);
    let sd = k2.signer(&k2.uncompressed);
    p256_root(sb, "two.root.json", &[&u, &d], &[&su, &sd]);
    let run =
        fx.ok(&["metadata", "verify", "two.root.json", "--root", "two.root.json", "--at", AT, "--json"]);
    assert_eq!(run.json()["signatures"]["counted"].as_array().unwrap().len(), 2);

    // A delegation listing the key twice, threshold 2.
    let (cid, cobj) = key_entry(&k.compressed);
    let (uid, uobj) = key_entry(&k.uncompressed);
    let mut delegator = json!({"signatures": [], "signed": {
        "_type": "targets", "spec_version": "1.0.31", "version": 1, "expires": "2030-01-01T00:00:00Z",
        "targets": {},
        "delegations": {"keys": {cid.clone(): cobj, uid.clone(): uobj},
                        "roles": [{"name": "curve", "keyids": [cid, uid], "threshold": 2,
                                   "terminating": true, "paths": ["acme/*"]}]}}});
    sign(&mut delegator, &[&sc, &su]);
    sb.write("delegator.json", serde_json::to_vec_pretty(&delegator).unwrap());
    let mut role = json!({"signatures": [], "signed": {
        "_type": "targets", "spec_version": "1.0.31", "version": 1, "expires": "2030-01-01T00:00:00Z",
        "targets": {}}});
    sign(&mut role, &[&sc, &su]);
    sb.write("curve.json", serde_json::to_vec_pretty(&role).unwrap());
    let run = fx.run(&[
        "metadata",
        "verify",
        "curve.json",
        "--root",
        "dup.root.json",
        "--delegator",
        "delegator.json",
        "--role",
        "curve",
        "--at",
        AT,
        "--json",
    ]);
    run.fails(1).mentions(&["curve.json: role \"curve\" needs 2 valid signature(s) from its keys, found 1"]);
    assert_eq!(run.json()["signatures"]["duplicate"].as_array().unwrap().len(), 1);

    // The registry reads both encodings as one key and refuses a 2-of-1.
    sb.write("c.pem", k.compressed.keyval.public.as_bytes());
    sb.write("u.pem", k.uncompressed.keyval.public.as_bytes());
    let before = tree_hash(&sb.path("reg"));
    fx.run(&[
        "registry",
        "publisher",
        "rekey",
        "acme",
        "--key",
        "c.pem",
        "--key",
        "u.pem",
        "--threshold",
        "2",
        "--repo",
        "reg",
        "--out",
        "dup-draft.json",
        "--at",
        AT,
    ])
    .fails(2)
    .mentions(&["threshold 2 is impossible with 1 key(s)"]);
    assert!(!sb.exists("dup-draft.json"));
    assert_eq!(tree_hash(&sb.path("reg")), before);
}

/// The custodians sign a 2-of-2 for acme whose two entries are one P-256
/// key (compressed and uncompressed); that key's holder signs acme's next
/// version under both ids, and the index key publishes it. Refused: one
/// key counts once.
fn p256_duplicate_in_a_bundle(start: Start) {
    if !openssl_available() {
        return;
    }
    let fx = Fixture::new(start);
    let k = P256::generate(&fx.sb, "acme-p256");
    let index = fx.signer(INDEX_KEY);
    let f = fx.forge("forged");
    let (cid, cobj) = key_entry(&k.compressed);
    let (uid, uobj) = key_entry(&k.uncompressed);
    let mut top = f.role("targets");
    top["signed"]["version"] = json!(4);
    top["signed"]["delegations"]["keys"][&cid] = cobj;
    top["signed"]["delegations"]["keys"][&uid] = uobj;
    let roles = top["signed"]["delegations"]["roles"].as_array_mut().unwrap();
    let at = roles.iter().position(|r| r["name"] == "acme").unwrap();
    roles[at]["keyids"] = json!([cid, uid]);
    roles[at]["threshold"] = json!(2);
    let mut acme = f.role("acme");
    acme["signed"]["version"] = json!(2);
    acme["signed"]["targets"]["acme/tool-2.0.tar.gz"] =
        f.put_target("acme/tool-2.0.tar.gz", b"acme tool 2.0\n");
    let t = f.put_role("targets", top, &[&fx.signer(ALICE_KEY)]);
    let a = f.put_role("acme", acme, &[&k.signer(&k.compressed), &k.signer(&k.uncompressed)]);
    f.commit(&[t, a], &index);
    f.bundle("dup.tar");
    fx.refused(
        "mirror",
        "dup.tar",
        1,
        &["2.acme.json: role \"acme\" needs 2 valid signature(s) from its keys, found 1"],
        None,
    );
    fx.verified("mirror");
}

#[test]
fn p256_duplicate_encodings_in_a_bundle_fresh() {
    p256_duplicate_in_a_bundle(Start::Fresh);
}

#[test]
fn p256_duplicate_encodings_in_a_bundle_trusted() {
    p256_duplicate_in_a_bundle(Start::Trusted);
}

// --- 8. Unreadable trusted state -------------------------------------------

/// With a state file damaged, a good newer bundle is refused with exit 3
/// naming the file, nothing is imported, the attempt is logged, and `mirror
/// verify` fails the same way; once the file is restored the bundle imports.
fn damaged_state(damage: impl FnOnce(&Path), names: &str) {
    let fx = Fixture::new(Start::Trusted);
    fx.release("acme", "acme.key", "acme/tool-2.0.tar.gz", b"acme tool 2.0\n", INDEX_KEY).ok();
    fx.bundle("reg", "b2.tar");
    let state = fx.sb.path("mirror/state/repos/example");
    copy_dir(&state, &fx.sb.path("state-backup"));
    damage(&state);
    let msg = format!("mirror/state/repos/example: {names}");
    fx.refused("mirror", "b2.tar", 3, &[&msg], None);
    fx.run(&["mirror", "verify", "mirror", "--at", AT]).fails(3).mentions(&[&msg]);
    std::fs::remove_dir_all(&state).unwrap();
    copy_dir(&fx.sb.path("state-backup"), &state);
    fx.verified("mirror");
    fx.import_ok("mirror", "b2.tar");
}

#[test]
fn corrupt_delegations_state_trusted() {
    damaged_state(
        |s| std::fs::write(s.join("delegations.json"), b"{\"acme\": ").unwrap(),
        "trusted state delegations.json: ",
    );
}

#[test]
fn missing_snapshot_state_trusted() {
    damaged_state(
        |s| std::fs::remove_file(s.join("snapshot.json")).unwrap(),
        "incomplete trusted state: snapshot.json is missing",
    );
}

/// The repository's whole trusted state lost (all four files) while the
/// mirror still serves what it imported (snapshot 6) and its audit log
/// records the imports: that is no fresh mirror. Deciding on "no state"
/// would turn off the rollback and history rules, so the older real bundle
/// (snapshot 5) must be refused with exit 3 like any unreadable state, the
/// served tree must stay at snapshot 6, and `mirror verify` must fail.
#[test]
fn lost_trusted_state_is_not_a_fresh_mirror_trusted() {
    let fx = Fixture::new(Start::Trusted);
    fx.release("acme", "acme.key", "acme/tool-2.0.tar.gz", b"acme tool 2.0\n", INDEX_KEY).ok();
    fx.bundle("reg", "b2.tar");
    assert!(fx.import_ok("mirror", "b2.tar").stdout.contains("snapshot 5 -> 6"));
    for file in ["root.json", "timestamp.json", "snapshot.json", "delegations.json"] {
        std::fs::remove_file(fx.sb.path(&format!("mirror/state/repos/example/{file}"))).unwrap();
    }
    let served = tree_hash(&fx.sb.path("mirror/served"));
    let run = fx.run(&["mirror", "import", "mirror", "b1.tar", "--at", AT]);
    assert_eq!(
        tree_hash(&fx.sb.path("mirror/served")),
        served,
        "the served tree changed (rolled back to snapshot 5?):\n{run:?}"
    );
    run.fails(3).mentions(&["mirror/state/repos/example", "trusted state"]);
    fx.run(&["mirror", "verify", "mirror", "--at", AT]).fails(3).mentions(&["mirror/state/repos/example"]);
}

// --- 9. A publisher key rotation, end to end --------------------------------

/// acme's key is rotated by the custodians (top-level targets version 4);
/// acme publishes version 2 with the new key; the registry's state is
/// bundled as `rekeyed.tar` (snapshot 7).
fn rekeyed(start: Start) -> Fixture {
    let fx = Fixture::new(start);
    fx.generate("acme2");
    fx.change_ownership(&["registry", "publisher", "rekey", "acme", "--public-key", "acme2.pub"]);
    fx.release("acme", "acme2.key", "acme/tool-2.0.tar.gz", b"acme tool 2.0\n", INDEX_KEY).ok();
    fx.bundle("reg", "rekeyed.tar");
    fx
}

/// The thief of acme's old key (with the index key) publishes acme version
/// 3 signed by the old key into a copy of the registry.
fn build_old_key_release(fx: &Fixture) -> String {
    let index = fx.signer(INDEX_KEY);
    let f = fx.forge("forged");
    let mut acme = f.role("acme");
    assert_eq!(acme["signed"]["version"], 2);
    acme["signed"]["version"] = json!(3);
    acme["signed"]["targets"]["acme/tool-3.0.tar.gz"] =
        f.put_target("acme/tool-3.0.tar.gz", b"#!/bin/sh\necho owned\n");
    let a = f.put_role("acme", acme, &[&fx.signer("acme.key")]);
    f.commit(&[a], &index);
    f.bundle("old-key.tar")
}

const OLD_ACME_KEY: &str = "3.acme.json: role \"acme\" needs 1 valid signature(s) from its keys, found 0";

#[test]
fn publisher_key_rotation_end_to_end_trusted() {
    let fx = rekeyed(Start::Trusted);
    let run = fx.import_ok("mirror", "rekeyed.tar");
    assert!(run.stdout.contains("snapshot 5 -> 7"), "{}", run.stdout);
    assert!(
        run.stdout.contains("delegation targets -> acme changed (signed in targets version 4)"),
        "{}",
        run.stdout
    );
    // The registry refuses a new release signed by the old key.
    let before = tree_hash(&fx.sb.path("reg"));
    fx.release("acme", "acme.key", "acme/tool-3.0.tar.gz", b"acme tool 3.0\n", INDEX_KEY)
        .fails(1)
        .mentions(&["role acme: publisher signature refused: role \"acme\" needs 1 valid signature(s) from its keys, found 0"]);
    assert_eq!(tree_hash(&fx.sb.path("reg")), before, "the registry changed");
    // And the mirror refuses one forged into a bundle.
    let bundle = build_old_key_release(&fx);
    fx.refused("mirror", &bundle, 1, &[OLD_ACME_KEY], None);
    fx.verified("mirror");
}

#[test]
fn publisher_key_rotation_old_key_release_fresh() {
    let fx = rekeyed(Start::Fresh);
    let bundle = build_old_key_release(&fx);
    fx.refused("mirror", &bundle, 1, &[OLD_ACME_KEY], None);
    fx.verified("mirror");
    let run = fx.import_ok("mirror", "rekeyed.tar");
    assert!(run.stdout.contains("snapshot none -> 7"), "{}", run.stdout);
}

// --- Helpers ---------------------------------------------------------------

/// The newest `N.role.json` in a metadata directory.
fn latest_role(meta: &Path, role: &str) -> Option<String> {
    let mut best: Option<(u64, String)> = None;
    for e in std::fs::read_dir(meta).ok()?.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(v) = name.strip_suffix(&format!(".{role}.json")).and_then(|v| v.parse::<u64>().ok()) {
            if best.as_ref().is_none_or(|(b, _)| v > *b) {
                best = Some((v, e.path().display().to_string()));
            }
        }
    }
    best.map(|(_, p)| p)
}
