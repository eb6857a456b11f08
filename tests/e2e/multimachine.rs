//! The multi-machine runbook of docs/CEREMONY.md, run as custodians would:
//! each custodian's laptop, the registry operator's machine and the
//! offline ceremony machine are separate directories, and only the files
//! on the stick (`stick/`) move between them. Custodians make their keys
//! on their own machines (one of them, in the second test, inside a
//! PKCS#11 token: SoftHSM2) and bring only the public half.
//!
//! The flow: root version 1 from the custodians' public keys, signed by
//! each at home; a rotation that adds dave and removes bob; a revocation
//! of the index key; and at the end one transcript that verifies, with
//! every signing step that happened on a laptop merged into it.

use crate::ceremony::payload_hash;
use crate::support::{softhsm_token, t, Run, Sandbox, PASSPHRASE};
use serde_json::Value;
use std::path::PathBuf;

/// When root version 1 is made.
const T0: &str = "2026-06-01T00:00:00Z";

fn day(n: i64) -> String {
    t(T0).plus_secs(n * 86_400).to_string()
}

/// A deployment: the machines as directories of one sandbox.
struct Deployment {
    sb: Sandbox,
    /// `SOFTHSM2_CONF` and carol's key URI, when carol's key is in a token.
    token: Option<(PathBuf, String)>,
}

impl Deployment {
    fn new() -> Deployment {
        let sb = Sandbox::new();
        for d in ["alice", "bob", "carol", "dave", "registry-op", "cm", "stick"] {
            std::fs::create_dir_all(sb.path(d)).unwrap();
        }
        Deployment { sb, token: None }
    }

    /// A deployment where carol's key lives in a SoftHSM2 token on her
    /// laptop, whose user PIN is the test passphrase. `None` (skipped,
    /// or failed under CI) when SoftHSM2 is not installed.
    fn with_carol_on_softhsm() -> Option<Deployment> {
        let mut d = Deployment::new();
        let (conf, module) = softhsm_token(&d.sb, "carol", "carol")?;
        d.token = Some((conf, format!("pkcs11:token=carol;object=root-key?module-path={module}")));
        Some(d)
    }

    /// Runs `airlock ARGS` on one of the machines; every key's passphrase
    /// (and the token's PIN) is the test passphrase.
    fn run(&self, args: &[&str]) -> Run {
        let mut env = vec![("AIRLOCK_PASSPHRASE", PASSPHRASE)];
        if let Some((conf, _)) = &self.token {
            env.push(("SOFTHSM2_CONF", conf.to_str().unwrap()));
        }
        self.sb.run_env(args, &env)
    }

    /// Copies a file from one machine (or the stick) to another.
    fn carry(&self, from: &str, to: &str) {
        std::fs::copy(self.sb.path(from), self.sb.path(to))
            .unwrap_or_else(|e| panic!("carry {from} to {to}: {e}"));
    }

    /// Carries `files` that exist from directory `from` to `to`.
    fn carry_all(&self, from: &str, to: &str, files: &[String]) {
        for f in files {
            if self.sb.exists(&format!("{from}/{f}")) {
                self.carry(&format!("{from}/{f}"), &format!("{to}/{f}"));
            }
        }
    }

    /// The `--key` a custodian signs with: their key file, or carol's token URI.
    fn key(&self, who: &str) -> String {
        match &self.token {
            Some((_, uri)) if who == "carol" => uri.clone(),
            _ => format!("{who}/{who}.key"),
        }
    }

    /// Each person makes a key on their own machine and puts the public
    /// half on the stick.
    fn make_key(&self, who: &str, name: &str) {
        let out = format!("{who}/{name}");
        match &self.token {
            Some((_, uri)) if who == "carol" => {
                let r = self.run(&["key", "generate", "--token", uri, "--out", &out]);
                r.ok();
                let shown = self.run(&["key", "show", uri, "--json"]);
                shown.ok();
                let pem = self.sb.read_string(&format!("{out}.pub"));
                assert_eq!(
                    shown.json()["public_pem"].as_str(),
                    Some(pem.as_str()),
                    "key show reads the token's key"
                );
                assert_eq!(shown.json()["keytype"], "ecdsa");
            }
            _ => {
                self.run(&["key", "generate", "--out", &out]).ok();
            }
        }
        self.carry(&format!("{out}.pub"), &format!("stick/{name}.pub"));
    }

    /// A custodian at home: takes `draft` (and its travelling transcript,
    /// and `root` when given) off the stick, reviews and signs it against
    /// the read-back `hash`, and puts the draft and transcript back.
    #[track_caller]
    fn sign(&self, who: &str, draft: &str, root: Option<&str>, hash: &str, at: &str) -> Run {
        self.sign_with(who, &self.key(who), draft, root, hash, at)
    }

    /// [`Deployment::sign`] with a key of `who`'s other than their own.
    #[track_caller]
    fn sign_with(&self, who: &str, key: &str, draft: &str, root: Option<&str>, hash: &str, at: &str) -> Run {
        let mut files = vec![draft.to_owned(), format!("{draft}.transcript.jsonl")];
        files.extend(root.map(str::to_owned));
        self.carry_all("stick", who, &files);
        let draft_at = format!("{who}/{draft}");
        let mut args = vec!["ceremony", "sign", &draft_at, "--key", key, "--confirm", hash];
        let root_at = root.map(|r| format!("{who}/{r}"));
        if let Some(r) = &root_at {
            args.extend(["--root", r]);
        }
        args.extend(["--allow-online", "--at", at]);
        let run = self.run(&args);
        run.ok();
        self.carry_all(who, "stick", &files[..2]);
        run
    }

    /// The ceremony machine takes a draft and its transcript off the stick.
    fn collect(&self, draft: &str) {
        self.carry_all("stick", "cm/c", &[draft.to_owned(), format!("{draft}.transcript.jsonl")]);
    }

    /// The ceremony machine puts a draft (and a root) on the stick.
    fn hand_out(&self, files: &[&str]) {
        let files: Vec<String> =
            files.iter().flat_map(|f| [f.to_string(), format!("{f}.transcript.jsonl")]).collect();
        self.carry_all("cm/c", "stick", &files);
    }

    fn root_json(&self, v: u64) -> Value {
        serde_json::from_slice(&self.sb.read(&format!("cm/c/{v}.root.json"))).unwrap()
    }

    /// The custodian names root version `v` records, sorted.
    fn custodians(&self, v: u64) -> Vec<String> {
        let mut names: Vec<String> = self.root_json(v)["signed"]["x-airlock"]["custodians"]
            .as_object()
            .unwrap()
            .values()
            .map(|n| n.as_str().unwrap().to_owned())
            .collect();
        names.sort();
        names
    }
}

/// The whole runbook; `d` decides where carol's key lives.
fn runbook(d: &Deployment) {
    let at = T0;
    for who in ["alice", "bob", "carol", "dave"] {
        d.make_key(who, who);
    }
    d.make_key("registry-op", "index");

    // 1. Root version 1, drafted on the ceremony machine from public keys alone.
    let init = d.run(&[
        "ceremony",
        "init",
        "--registry",
        "example",
        "--custodian",
        "alice=stick/alice.pub",
        "--custodian",
        "bob=stick/bob.pub",
        "--custodian",
        "carol=stick/carol.pub",
        "--threshold",
        "2",
        "--index-key",
        "stick/index.pub",
        "--out",
        "cm/c",
        "--allow-online",
        "--at",
        at,
    ]);
    init.ok();
    assert!(!d.sb.exists("cm/c/keys"), "no private key may be made on the ceremony machine");
    let hash = payload_hash(&init);
    // The targets draft's hash is announced too, so each custodian compares
    // it with the one read out rather than computing it from the stick.
    let thash = init
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("first targets payload hash "))
        .expect("init announces the targets draft's payload hash")
        .to_owned();
    d.hand_out(&["draft-1.json", "draft-1.targets.json"]);

    // Each custodian at home signs root 1 and the first targets (which
    // gives namespaces their owners) against root 1's draft.
    let sign_v1 = |who: &str| {
        let r = d.sign(who, "draft-1.json", None, &hash, at);
        assert!(r.stdout.contains("root: ADD key"), "the review shows every key of root 1:\n{}", r.stdout);
        d.sign(who, "draft-1.targets.json", Some("draft-1.json"), &thash, at);
    };
    sign_v1("alice");
    sign_v1("bob");
    d.collect("draft-1.json");
    d.collect("draft-1.targets.json");
    let finalize_v1 = || {
        d.run(&[
            "ceremony",
            "finalize",
            "cm/c/draft-1.json",
            "--targets",
            "cm/c/draft-1.targets.json",
            "--out",
            "cm/c/1.root.json",
            "--allow-online",
            "--at",
            at,
        ])
    };
    // Every key root 1 brings in signs it: the index key too.
    finalize_v1().fails(1).mentions(&["carol", "the index key", "did not sign"]);
    let r = d.sign_with("registry-op", "registry-op/index.key", "draft-1.json", None, &hash, at);
    assert!(r.stdout.contains("signed by the index key"), "{}", r.stdout);
    d.collect("draft-1.json");
    // Two of three met the threshold, but carol never showed she holds her key.
    finalize_v1().fails(1).mentions(&["new key(s) of carol (", "did not sign"]);
    assert!(!finalize_v1().stderr.contains("index key"));
    assert!(!d.sb.exists("cm/c/1.root.json"));
    sign_v1("carol");
    d.collect("draft-1.json");
    d.collect("draft-1.targets.json");
    finalize_v1().ok();
    // The registry operator starts the registry with their own index key,
    // from what the stick brings.
    for f in ["1.root.json", "1.targets.json", "identity.txt"] {
        d.carry(&format!("cm/c/{f}"), &format!("stick/{f}"));
    }
    d.run(&["registry", "init", "reg", "--root-dir", "stick", "--key", "registry-op/index.key", "--at", at])
        .ok();
    d.run(&["registry", "verify", "--repo", "reg", "--at", at]).ok();

    // 2. A rotation: dave joins, bob leaves; threshold stays 2.
    let v2 = day(1);
    let propose = d.run(&[
        "ceremony",
        "propose",
        "--root",
        "cm/c/1.root.json",
        "--add-custodian",
        "dave=stick/dave.pub",
        "--remove-custodian",
        "bob",
        "--out",
        "cm/c/draft-2.json",
        "--allow-online",
        "--at",
        &v2,
    ]);
    propose.ok();
    let hash = payload_hash(&propose);
    d.hand_out(&["draft-2.json"]);
    // Two of root 1's custodians (alice, carol) and dave, who is new.
    let r = d.sign("alice", "draft-2.json", Some("1.root.json"), &hash, &v2);
    assert!(r.stdout.contains("REMOVE"), "the review shows bob leaving:\n{}", r.stdout);
    d.sign("carol", "draft-2.json", Some("1.root.json"), &hash, &v2);
    d.collect("draft-2.json");
    let finalize_v2 = || {
        d.run(&[
            "ceremony",
            "finalize",
            "cm/c/draft-2.json",
            "--root",
            "cm/c/1.root.json",
            "--out",
            "cm/c/2.root.json",
            "--allow-online",
            "--at",
            &v2,
        ])
    };
    finalize_v2().fails(1).mentions(&["new key(s) of dave (", "did not sign"]);
    d.sign("dave", "draft-2.json", Some("1.root.json"), &hash, &v2);
    d.collect("draft-2.json");
    finalize_v2().ok();
    assert_eq!(d.custodians(2), ["alice", "carol", "dave"]);

    // 3. The index key leaks: revoked at once, replaced by one the
    // registry operator makes.
    let v3 = day(2);
    d.make_key("registry-op", "index2");
    let propose = d.run(&[
        "ceremony",
        "propose",
        "--root",
        "cm/c/2.root.json",
        "--revoke-index",
        "stick/index2.pub",
        "--out",
        "cm/c/draft-3.json",
        "--allow-online",
        "--at",
        &v3,
    ]);
    propose.ok();
    let hash = payload_hash(&propose);
    d.hand_out(&["draft-3.json", "2.root.json"]);
    for who in ["carol", "dave"] {
        d.sign(who, "draft-3.json", Some("2.root.json"), &hash, &v3);
    }
    // The new index key shows it is held, on the registry operator's machine.
    d.sign_with("registry-op", "registry-op/index2.key", "draft-3.json", Some("2.root.json"), &hash, &v3);
    d.collect("draft-3.json");
    d.run(&[
        "ceremony",
        "finalize",
        "cm/c/draft-3.json",
        "--root",
        "cm/c/2.root.json",
        "--out",
        "cm/c/3.root.json",
        "--allow-online",
        "--at",
        &v3,
    ])
    .ok();

    // The chain verifies from the identity, and one transcript holds
    // every step, wherever it ran.
    let identity = d.sb.read_string("cm/c/identity.txt");
    let verify = d.run(&["root", "verify", "cm/c", "--identity", identity.trim(), "--at", &v3, "--json"]);
    verify.ok();
    assert_eq!(verify.json()["newest_version"], 3);
    d.run(&["ceremony", "transcript", "verify", "cm/c/transcript.jsonl"]).ok();
    let steps: Vec<String> =
        d.sb.read_string("cm/c/transcript.jsonl")
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap()["step"].as_str().unwrap().to_owned())
            .collect();
    let count = |s: &str| steps.iter().filter(|x| *x == s).count();
    assert_eq!(count("ceremony sign"), (3 + 1) + 3 + (2 + 1), "{steps:?}");
    assert_eq!(count("ceremony sign targets"), 3, "{steps:?}");
    assert_eq!(count("ceremony finalize"), 3, "{steps:?}");
    assert_eq!(steps.first().map(String::as_str), Some("ceremony init"));
    assert_eq!(steps.last().map(String::as_str), Some("ceremony finalize"));
}

#[test]
fn custodians_on_their_own_machines_init_rotate_and_revoke_with_one_transcript() {
    runbook(&Deployment::new());
}

#[test]
fn the_runbook_with_one_custodian_signing_on_a_softhsm2_token() {
    let Some(d) = Deployment::with_carol_on_softhsm() else { return };
    runbook(&d);
    // Carol's key in root is the token's P-256 key.
    let carol_pem = d.sb.read_string("stick/carol.pub");
    let carol = airlock_core::PublicKey::from_spki_pem(&carol_pem).unwrap();
    let root3 = d.root_json(3);
    assert_eq!(root3["signed"]["keys"][&carol.key_id().0]["keytype"], "ecdsa", "{root3}");
    let uri = d.key("carol");

    // A publisher's release key in a token too, Ed25519 this time: the
    // custodians (still root 1's for this registry) give it acme/*, and a
    // release signed in the token is accepted.
    let acme_uri = uri.replace("object=root-key", "object=acme-release");
    d.run(&["key", "generate", "--token", &acme_uri, "--algorithm", "ed25519", "--out", "carol/acme"]).ok();
    d.carry("carol/acme.pub", "stick/acme.pub");
    let add = d.run(&[
        "registry",
        "publisher",
        "add",
        "acme",
        "--key",
        "stick/acme.pub",
        "--namespace",
        "acme/*",
        "--repo",
        "reg",
        "--out",
        "stick/acme-draft.json",
        "--at",
        T0,
    ]);
    add.ok();
    let hash = payload_hash(&add);
    for who in ["alice", "bob"] {
        d.sign(who, "acme-draft.json", Some("1.root.json"), &hash, T0);
    }
    d.run(&[
        "registry",
        "targets",
        "finalize",
        "stick/acme-draft.json",
        "--repo",
        "reg",
        "--key",
        "registry-op/index.key",
        "--at",
        T0,
    ])
    .ok();
    d.sb.write("carol/tool.tar.gz", b"acme tool 1.0\n");
    d.run(&[
        "publish",
        "--role",
        "acme",
        "--key",
        &acme_uri,
        "--artifact",
        "carol/tool.tar.gz=acme/tool.tar.gz",
        "--out",
        "stick/release",
        "--at",
        T0,
    ])
    .ok();
    d.run(&[
        "registry",
        "accept",
        "stick/release",
        "--repo",
        "reg",
        "--key",
        "registry-op/index.key",
        "--at",
        T0,
    ])
    .ok();
    d.run(&["registry", "verify", "--repo", "reg", "--at", T0]).ok();
    let acme: Value = serde_json::from_slice(&d.sb.read("reg/metadata/1.acme.json")).unwrap();
    assert!(acme["signed"]["targets"]["acme/tool.tar.gz"].is_object(), "{acme}");
    // The private key never leaves the token.
    d.run(&[
        "key",
        "split",
        &uri,
        "--shares",
        "2",
        "--threshold",
        "2",
        "--recipient",
        "a",
        "--recipient",
        "b",
        "--out-dir",
        "carol/shares",
        "--allow-online",
    ])
    .fails(2)
    .mentions(&["never leaves"]);
    // A PIN never sits in a command line, and a wrong one is named.
    d.run(&["key", "show", &format!("{uri}&pin-value=1234")]).fails(2).mentions(&["pin-value"]);
    // A second key under a label the token holds is refused, and writes nothing.
    d.run(&["key", "generate", "--token", &uri, "--out", "carol/again"])
        .fails(2)
        .mentions(&["already holds"]);
    assert!(!d.sb.exists("carol/again.pub"));
    let bare = uri.split('?').next().unwrap();
    d.run(&["key", "show", bare]).fails(2).mentions(&["no PKCS#11 module", "AIRLOCK_PKCS11_MODULE"]);
    let wrong = d.sb.run_env(
        &["key", "generate", "--token", &uri.replace("root-key", "other"), "--out", "carol/other"],
        &[
            ("AIRLOCK_PASSPHRASE", "not the pin"),
            ("SOFTHSM2_CONF", d.token.as_ref().unwrap().0.to_str().unwrap()),
        ],
    );
    wrong.fails(2).mentions(&["refused the PIN"]);
    assert!(!d.sb.exists("carol/other.pub"));
}
