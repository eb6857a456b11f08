//! `airlock ceremony ...`: key ceremonies, versioned root rotation, the
//! transition window, revocation, signing outside airlock, transcripts,
//! rehearsals, the air-gap check, and `airlock key split|combine` backups.
//!
//! Every ceremony runs in a sandbox: custodians' passphrases live in
//! `pp/NAME`, the ceremony directory is `c/` (`c/N.root.json`,
//! `c/keys/NAME.key`, `c/transcript.jsonl`), drafts are `c/draft-N.json`, and
//! keys made later with `airlock key generate` sit at the sandbox top as
//! `NAME.key`/`NAME.pub`. Each step passes `--at`, so no check depends on the
//! wall clock, and `--allow-online`, since the machines tests run on are
//! on a network (the air-gap check has its own test).

use crate::support::{edit_json, require_tool, t, write_unsigned, Run, Sandbox, FAR, PASS_FILE};
use airlock_core::metadata::{Root, Snapshot};
use airlock_core::{Metadata, PublicKey};
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Stdio};

/// When root version 1 is made.
const T0: &str = "2026-06-01T00:00:00Z";
/// The ceremony directory.
const C: &str = "c";
const DAY: i64 = 86_400;

/// `T0` plus `n` days.
fn day(n: i64) -> String {
    t(T0).plus_secs(n * DAY).to_string()
}

/// `at` plus `secs` seconds.
fn plus(at: &str, secs: i64) -> String {
    t(at).plus_secs(secs).to_string()
}

/// The payload hash a command printed ("... payload hash XXXX XXXX ..."):
/// 128 bits, eight groups of four hex digits.
#[track_caller]
pub(crate) fn payload_hash(run: &Run) -> String {
    let line = run
        .stdout
        .lines()
        .find(|l| l.contains("payload hash"))
        .unwrap_or_else(|| panic!("no payload hash printed:\n{}", run.stdout));
    let hash = line.rsplit("payload hash").next().unwrap().trim_start_matches(':').trim().to_owned();
    assert_eq!(hash.len(), 39, "payload hash is not eight groups of four: {hash:?}");
    assert!(
        hash.split(' ').all(|g| g.len() == 4 && g.bytes().all(|b| b.is_ascii_hexdigit())),
        "payload hash is not eight groups of four hex digits: {hash:?}"
    );
    hash
}

/// A key id in groups of four hex digits.
fn grouped(id: &str) -> String {
    id.as_bytes().chunks(4).map(|c| std::str::from_utf8(c).unwrap()).collect::<Vec<_>>().join(" ")
}

/// A sandbox holding key ceremonies.
struct Ceremony {
    sb: Sandbox,
}

impl Ceremony {
    /// An empty sandbox with `pass.txt` and an empty `pp/`.
    fn empty() -> Ceremony {
        let sb = Sandbox::new();
        std::fs::create_dir(sb.path("pp")).unwrap();
        Ceremony { sb }
    }

    /// `ceremony init` of `names` with threshold `m` into `c/` at `T0`.
    fn init(names: &[&str], m: u64) -> Ceremony {
        let c = Ceremony::empty();
        c.passes(names);
        c.passes(&["index"]);
        c.init_in(C, names, m, &[]).ok();
        c
    }

    /// The passphrase file of `name` (written on first use).
    fn pass(&self, name: &str) -> String {
        let rel = format!("pp/{name}");
        if !self.sb.exists(&rel) {
            self.sb.write(&rel, format!("passphrase of {name}\n"));
        }
        rel
    }

    /// Writes the passphrase files of `names`.
    fn passes(&self, names: &[&str]) {
        for n in names {
            self.pass(n);
        }
    }

    /// Runs `airlock ceremony ARGS --allow-online`.
    fn step(&self, args: &[&str]) -> Run {
        let mut all = vec!["ceremony"];
        all.extend_from_slice(args);
        all.push("--allow-online");
        self.sb.run(&all)
    }

    /// Runs `ceremony init --registry example --custodian ... --threshold M
    /// --out DIR --passphrase-dir pp --at T0` plus `extra` (the passphrase
    /// files must exist: see [`Ceremony::passes`]).
    fn init_in(&self, dir: &str, names: &[&str], m: u64, extra: &[&str]) -> Run {
        let m = m.to_string();
        let mut args = vec!["init", "--registry", "example"];
        for n in names {
            args.extend(["--custodian", n]);
        }
        args.extend(["--threshold", &m, "--out", dir, "--passphrase-dir", "pp", "--at", T0]);
        args.extend_from_slice(extra);
        self.step(&args)
    }

    /// `airlock key generate --out NAME` with its own passphrase file.
    fn new_key(&self, name: &str) {
        let pass = self.pass(name);
        self.sb.run(&["key", "generate", "--out", name, "--passphrase-file", &pass]).ok();
    }

    /// `NAME.key`: from the ceremony directory if init made it, else from the top.
    fn key_file(&self, name: &str) -> String {
        let in_dir = format!("{C}/keys/{name}.key");
        if self.sb.exists(&in_dir) {
            in_dir
        } else {
            format!("{name}.key")
        }
    }

    fn pub_file(&self, name: &str) -> String {
        let in_dir = format!("{C}/keys/{name}.pub");
        if self.sb.exists(&in_dir) {
            in_dir
        } else {
            format!("{name}.pub")
        }
    }

    /// The key id of `name`'s key, from its public key file.
    fn id(&self, name: &str) -> String {
        let pem = self.sb.read_string(&self.pub_file(name));
        PublicKey::from_spki_pem(&pem).unwrap().key_id().0
    }

    fn ids(&self, names: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = names.iter().map(|n| self.id(n)).collect();
        v.sort();
        v
    }

    /// `c/N.root.json`.
    fn root(&self, v: u64) -> String {
        format!("{C}/{v}.root.json")
    }

    fn root_json(&self, v: u64) -> Value {
        serde_json::from_slice(&self.sb.read(&self.root(v))).unwrap()
    }

    /// The sorted root key ids of root version `v`.
    fn root_keyids(&self, v: u64) -> Vec<String> {
        let mut ids: Vec<String> = self.root_json(v)["signed"]["roles"]["root"]["keyids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k.as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        ids
    }

    /// The sorted custodian names root version `v` records.
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

    fn identity(&self) -> String {
        self.sb.read_string(&format!("{C}/identity.txt")).trim().to_owned()
    }

    /// `ceremony propose --root ROOT --out OUT --at AT EXTRA...`.
    fn propose_raw(&self, root: &str, out: &str, at: &str, extra: &[&str]) -> Run {
        let mut args = vec!["propose", "--root", root, "--out", out, "--at", at];
        args.extend_from_slice(extra);
        self.step(&args)
    }

    /// Proposes version `from + 1` as `c/draft-N.json`; returns the draft
    /// and the payload hash it printed.
    #[track_caller]
    fn propose(&self, from: u64, at: &str, extra: &[&str]) -> (String, String) {
        let draft = format!("{C}/draft-{}.json", from + 1);
        let run = self.propose_raw(&self.root(from), &draft, at, extra);
        run.ok();
        (draft, payload_hash(&run))
    }

    /// `ceremony sign DRAFT --root ROOT --key NAME.key --passphrase-file
    /// pp/NAME --confirm HASH --at AT`.
    fn sign_raw(&self, draft: &str, root: &str, name: &str, hash: &str, at: &str) -> Run {
        let (key, pass) = (self.key_file(name), self.pass(name));
        self.step(&[
            "sign",
            draft,
            "--root",
            root,
            "--key",
            &key,
            "--passphrase-file",
            &pass,
            "--confirm",
            hash,
            "--at",
            at,
        ])
    }

    fn sign(&self, draft: &str, from: u64, name: &str, hash: &str, at: &str) -> Run {
        self.sign_raw(draft, &self.root(from), name, hash, at)
    }

    #[track_caller]
    fn sign_all(&self, draft: &str, from: u64, names: &[&str], hash: &str, at: &str) {
        for n in names {
            self.sign(draft, from, n, hash, at).ok();
        }
    }

    /// `ceremony finalize DRAFT --root ROOT --out OUT --at AT`.
    fn finalize_raw(&self, draft: &str, root: &str, out: &str, at: &str) -> Run {
        self.step(&["finalize", draft, "--root", root, "--out", out, "--at", at])
    }

    /// Finalizes `draft` after `c/FROM.root.json` as `c/FROM+1.root.json`.
    fn finalize(&self, draft: &str, from: u64, at: &str) -> Run {
        self.finalize_raw(draft, &self.root(from), &self.root(from + 1), at)
    }

    /// Propose, sign by `signers`, finalize: root version `from + 1`.
    #[track_caller]
    fn rotate(&self, from: u64, at: &str, extra: &[&str], signers: &[&str]) {
        let (draft, hash) = self.propose(from, at, extra);
        self.sign_all(&draft, from, signers, &hash, at);
        self.finalize(&draft, from, at).ok();
        assert_eq!(self.sb.read(&self.root(from + 1)), self.sb.read(&draft), "finalize changed the draft");
    }

    /// `root verify c --identity $(cat c/identity.txt) --at AT --json`,
    /// which must pass with `newest` as the newest version; and the
    /// transcript must verify too.
    #[track_caller]
    fn chain_ok(&self, at: &str, newest: u64) -> Value {
        let id = self.identity();
        let run = self.sb.run(&["root", "verify", C, "--identity", &id, "--at", at, "--json"]);
        run.ok();
        let j = run.json();
        assert_eq!(j["verified"], true, "{j}");
        assert_eq!(j["newest_version"], newest, "{j}");
        assert_eq!(j["identity"], id.as_str());
        assert_eq!(j["steps"].as_array().unwrap().len() as u64, newest, "{j}");
        self.transcript_ok();
        j
    }

    #[track_caller]
    fn transcript_ok(&self) -> Run {
        let run = self.sb.run(&["ceremony", "transcript", "verify", &format!("{C}/transcript.jsonl")]);
        run.ok();
        run
    }

    /// The `counted` key ids of step `i` of a `root verify --json` report, sorted.
    fn counted(j: &Value, i: usize, by: &str) -> Vec<String> {
        let mut v: Vec<String> = j["steps"][i]["step"][by]["counted"]
            .as_array()
            .unwrap_or_else(|| panic!("no {by} in step {i}: {j}"))
            .iter()
            .map(|k| k.as_str().unwrap().to_owned())
            .collect();
        v.sort();
        v
    }

    /// The transcript's records.
    fn records(&self) -> Vec<Value> {
        self.sb
            .read_string(&format!("{C}/transcript.jsonl"))
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

// ---------------------------------------------------------------------------
// Rotation sequences

#[test]
fn one_of_one_key_swap() {
    let c = Ceremony::init(&["alice"], 1);
    assert_eq!(c.root_keyids(1), c.ids(&["alice"]));
    c.chain_ok(T0, 1);
    c.new_key("bob");
    let at = day(1);
    let (draft, hash) = c.propose(1, &at, &["--add-custodian", "bob=bob.pub", "--remove-custodian", "alice"]);

    // Alice (the old root) agrees; bob (the new root) has not yet.
    let run = c.sign(&draft, 1, "alice", &hash, &at);
    run.ok();
    assert!(run.stdout.contains(&format!("ADD key {} (bob)", grouped(&c.id("bob")))), "{}", run.stdout);
    assert!(
        run.stdout.contains(&format!("REMOVE key {} (alice)", grouped(&c.id("alice")))),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains(&format!("payload hash: {hash}")), "{}", run.stdout);
    let before = c.sb.tree_hash();
    c.finalize(&draft, 1, &at).fails(1).mentions(&["draft-2.json", "its own root keys"]);
    assert_eq!(c.sb.tree_hash(), before, "a refused finalize wrote something");

    c.sign(&draft, 1, "bob", &hash, &at).ok();
    let run = c.finalize(&draft, 1, &at);
    run.ok();
    assert!(run.stdout.contains("root version 2 accepted"), "{}", run.stdout);
    assert_eq!(c.sb.read(&c.root(2)), c.sb.read(&draft));
    assert_eq!(c.root_keyids(2), c.ids(&["bob"]));
    assert_eq!(c.custodians(2), ["bob"]);
    assert_eq!(c.root_json(2)["signed"]["roles"]["root"]["threshold"], 1);
    assert!(!c.root_json(2)["signed"]["keys"].as_object().unwrap().contains_key(&c.id("alice")));

    let j = c.chain_ok(&at, 2);
    assert_eq!(Ceremony::counted(&j, 1, "by_previous"), c.ids(&["alice"]));
    assert_eq!(Ceremony::counted(&j, 1, "by_self"), c.ids(&["bob"]));
    // Version 2 names the registry it belongs to.
    assert_eq!(c.root_json(2)["signed"]["x-airlock"]["identity"], c.identity().as_str());
}

#[test]
fn three_of_five_partial_rotations_through_intermediate_versions() {
    let c = Ceremony::init(&["alice", "bob", "carol", "dave", "erin"], 3);
    for n in ["frank", "grace", "heidi", "ivan"] {
        c.new_key(n);
    }

    // v2: dave and erin leave, frank and grace join. Old threshold from
    // alice, dave, erin; new from alice, frank, grace.
    let at2 = day(10);
    let (draft, hash) = c.propose(
        1,
        &at2,
        &[
            "--remove-custodian",
            "dave",
            "--remove-custodian",
            "erin",
            "--add-custodian",
            "frank=frank.pub",
            "--add-custodian",
            "grace=grace.pub",
        ],
    );
    c.sign_all(&draft, 1, &["alice", "dave", "erin"], &hash, &at2);
    // Only alice of the new root has signed.
    c.finalize(&draft, 1, &at2).fails(1).mentions(&["its own root keys", "found 1"]);
    let run = c.sign(&draft, 1, "frank", &hash, &at2);
    run.ok();
    assert!(run.stdout.contains("(frank)") && run.stdout.contains("(dave)"), "{}", run.stdout);
    c.sign(&draft, 1, "grace", &hash, &at2).ok();
    c.finalize(&draft, 1, &at2).ok();
    assert_eq!(c.root_keyids(2), c.ids(&["alice", "bob", "carol", "frank", "grace"]));
    assert_eq!(c.custodians(2), ["alice", "bob", "carol", "frank", "grace"]);
    c.chain_ok(&at2, 2);

    // v3: bob and carol leave, heidi and ivan join. Old threshold from
    // bob, carol, frank; new from frank, heidi, ivan.
    let at3 = day(20);
    c.rotate(
        2,
        &at3,
        &[
            "--remove-custodian",
            "bob",
            "--remove-custodian",
            "carol",
            "--add-custodian",
            "heidi=heidi.pub",
            "--add-custodian",
            "ivan=ivan.pub",
        ],
        &["bob", "carol", "frank", "heidi", "ivan"],
    );
    assert_eq!(c.root_keyids(3), c.ids(&["alice", "frank", "grace", "heidi", "ivan"]));
    assert_eq!(c.root_json(3)["signed"]["roles"]["root"]["threshold"], 3);

    let j = c.chain_ok(&at3, 3);
    assert_eq!(Ceremony::counted(&j, 1, "by_previous"), c.ids(&["alice", "dave", "erin"]));
    assert_eq!(Ceremony::counted(&j, 1, "by_self"), c.ids(&["alice", "frank", "grace"]));
    assert_eq!(Ceremony::counted(&j, 2, "by_previous"), c.ids(&["bob", "carol", "frank"]));
    assert_eq!(Ceremony::counted(&j, 2, "by_self"), c.ids(&["frank", "heidi", "ivan"]));
}

#[test]
fn three_of_five_full_rotation_through_intermediate_versions() {
    let c = Ceremony::init(&["alice", "bob", "carol", "dave", "erin"], 3);
    for n in ["frank", "grace", "heidi", "ivan", "judy"] {
        c.new_key(n);
    }
    // v2 replaces two custodians, v3 the other three: no key of v1 is left.
    c.rotate(
        1,
        &day(1),
        &[
            "--remove-custodian",
            "alice",
            "--remove-custodian",
            "bob",
            "--add-custodian",
            "frank=frank.pub",
            "--add-custodian",
            "grace=grace.pub",
        ],
        &["alice", "bob", "carol", "frank", "grace"],
    );
    c.rotate(
        2,
        &day(2),
        &[
            "--remove-custodian",
            "carol",
            "--remove-custodian",
            "dave",
            "--remove-custodian",
            "erin",
            "--add-custodian",
            "heidi=heidi.pub",
            "--add-custodian",
            "ivan=ivan.pub",
            "--add-custodian",
            "judy=judy.pub",
        ],
        &["carol", "dave", "erin", "heidi", "ivan", "judy"],
    );
    let v3 = c.ids(&["frank", "grace", "heidi", "ivan", "judy"]);
    assert_eq!(c.root_keyids(3), v3);
    let signed = c.root_json(3)["signed"].to_string();
    for old in c.ids(&["alice", "bob", "carol", "dave", "erin"]) {
        assert!(!signed.contains(&old), "v3 still lists {old}");
    }
    c.chain_ok(&day(2), 3);

    // A v1 custodian's key is a root key of neither v3 nor its draft.
    let (draft, hash) = c.propose(3, &day(3), &[]);
    let before = c.sb.tree_hash();
    c.sign(&draft, 3, "alice", &hash, &day(3)).fails(2).mentions(&["alice.key", "not a root key"]);
    assert_eq!(c.sb.tree_hash(), before);
}

#[test]
fn threshold_raised_then_lowered() {
    let c = Ceremony::init(&["alice", "bob", "carol"], 2);

    // 2 of 3 -> 3 of 3: the new root needs all three.
    let (draft, hash) = c.propose(1, &day(1), &["--threshold", "3"]);
    let run = c.sign(&draft, 1, "alice", &hash, &day(1));
    run.ok();
    assert!(run.stdout.contains("root: threshold 2 -> 3"), "{}", run.stdout);
    c.sign(&draft, 1, "bob", &hash, &day(1)).ok();
    c.finalize(&draft, 1, &day(1)).fails(1).mentions(&["its own root keys", "needs 3", "found 2"]);
    assert!(!c.sb.exists(&c.root(2)));
    c.sign(&draft, 1, "carol", &hash, &day(1)).ok();
    c.finalize(&draft, 1, &day(1)).ok();
    assert_eq!(c.chain_ok(&day(1), 2)["keys"]["root"]["threshold"], 3);

    // 3 of 3 -> 1 of 3: version 2 still wants three signatures.
    let (draft, hash) = c.propose(2, &day(2), &["--threshold", "1"]);
    c.sign(&draft, 2, "alice", &hash, &day(2)).ok();
    c.finalize(&draft, 2, &day(2)).fails(1).mentions(&["version 2's root keys", "needs 3", "found 1"]);
    c.sign_all(&draft, 2, &["bob", "carol"], &hash, &day(2));
    c.finalize(&draft, 2, &day(2)).ok();
    assert_eq!(c.chain_ok(&day(2), 3)["keys"]["root"]["threshold"], 1);

    // Now one custodian is enough.
    c.rotate(3, &day(3), &["--expires", FAR], &["bob"]);
    c.chain_ok(&day(3), 4);

    // Thresholds that cannot be met are refused before a draft exists.
    for bad in ["0", "4"] {
        let before = c.sb.tree_hash();
        c.propose_raw(&c.root(4), "c/draft-5.json", &day(4), &["--threshold", bad])
            .fails(2)
            .mentions(&["threshold", "impossible"]);
        assert_eq!(c.sb.tree_hash(), before);
    }
}

#[test]
fn refused_when_the_old_threshold_is_missing() {
    let c = Ceremony::init(&["alice", "bob", "carol", "dave", "erin"], 3);
    c.new_key("frank");
    c.new_key("grace");
    let at = day(1);
    let (draft, hash) = c.propose(
        1,
        &at,
        &[
            "--remove-custodian",
            "dave",
            "--remove-custodian",
            "erin",
            "--add-custodian",
            "frank=frank.pub",
            "--add-custodian",
            "grace=grace.pub",
        ],
    );
    // Four of the new root sign, but only two of the old one.
    c.sign_all(&draft, 1, &["alice", "bob", "frank", "grace"], &hash, &at);
    let before = c.sb.tree_hash();
    c.finalize(&draft, 1, &at).fails(1).mentions(&[
        "draft-2.json",
        "version 1's root keys",
        "needs 3",
        "found 2",
    ]);
    assert_eq!(c.sb.tree_hash(), before);
    assert!(!c.sb.exists(&c.root(2)));

    c.sign(&draft, 1, "carol", &hash, &at).ok();
    c.finalize(&draft, 1, &at).ok();
    c.chain_ok(&at, 2);
}

#[test]
fn refused_when_the_new_threshold_is_missing() {
    let c = Ceremony::init(&["alice", "bob", "carol", "dave", "erin"], 3);
    let new = ["frank", "grace", "heidi", "ivan", "judy"];
    let mut changes = Vec::new();
    for n in new {
        c.new_key(n);
        changes.push("--add-custodian".to_owned());
        changes.push(format!("{n}={n}.pub"));
    }
    for n in ["alice", "bob", "carol", "dave", "erin"] {
        changes.push("--remove-custodian".to_owned());
        changes.push(n.to_owned());
    }
    let changes: Vec<&str> = changes.iter().map(String::as_str).collect();
    let at = day(1);
    let (draft, hash) = c.propose(1, &at, &changes);

    // Every old custodian signs; none of the new ones.
    c.sign_all(&draft, 1, &["alice", "bob", "carol", "dave", "erin"], &hash, &at);
    let before = c.sb.tree_hash();
    c.finalize(&draft, 1, &at).fails(1).mentions(&["draft-2.json", "its own root keys", "found 0"]);
    assert_eq!(c.sb.tree_hash(), before);
    c.sign_all(&draft, 1, &["frank", "grace"], &hash, &at);
    c.finalize(&draft, 1, &at).fails(1).mentions(&["its own root keys", "needs 3", "found 2"]);
    assert!(!c.sb.exists(&c.root(2)));

    c.sign(&draft, 1, "heidi", &hash, &at).ok();
    // The thresholds are met, but ivan and judy never showed they hold
    // their keys: every key a root brings in signs the version that adds it.
    c.finalize(&draft, 1, &at).fails(1).mentions(&["new key(s) of", "ivan", "judy", "did not sign"]);
    assert!(!c.sb.exists(&c.root(2)));
    c.sign_all(&draft, 1, &["ivan", "judy"], &hash, &at);
    c.finalize(&draft, 1, &at).ok();
    assert_eq!(c.root_keyids(2), c.ids(&new));
    let j = c.chain_ok(&at, 2);
    assert_eq!(Ceremony::counted(&j, 1, "by_self"), c.ids(&["frank", "grace", "heidi", "ivan", "judy"]));
}

#[test]
fn a_version_gap_or_a_repeated_version_is_refused() {
    let c = Ceremony::init(&["alice", "bob"], 1);
    // A draft of version 2, made and signed while version 1 was current...
    let (stale, stale_hash) = c.propose(1, &day(1), &["--expires", FAR]);
    std::fs::rename(c.sb.path(&stale), c.sb.path("c/stale-2.json")).unwrap();
    let stale = "c/stale-2.json";
    c.sign(stale, 1, "alice", &stale_hash, &day(1)).ok();
    // ... while another version 2 is accepted.
    c.rotate(1, &day(2), &[], &["bob"]);

    // The stale draft repeats version 2: refused against version 2.
    let before = c.sb.tree_hash();
    c.finalize(stale, 2, &day(3)).fails(1).mentions(&["stale-2.json", "root version 2", "is 3"]);
    c.sign(stale, 2, "bob", &stale_hash, &day(3)).fails(1).mentions(&["stale-2.json", "root version 2"]);
    assert_eq!(c.sb.tree_hash(), before);

    // A draft of version 3 skips a version after version 1.
    let (draft, hash) = c.propose(2, &day(3), &[]);
    c.sign(&draft, 2, "alice", &hash, &day(3)).ok();
    let before = c.sb.tree_hash();
    c.finalize_raw(&draft, &c.root(1), "c/gap.root.json", &day(3)).fails(1).mentions(&[
        "draft-3.json",
        "root version 3",
        "is 2",
    ]);
    c.sign_raw(&draft, &c.root(1), "bob", &hash, &day(3)).fails(1).mentions(&["root version 3"]);
    assert_eq!(c.sb.tree_hash(), before);

    // A draft whose version was edited to skip one is refused before signing.
    let good = c.sb.read(&draft);
    edit_json(&c.sb, &draft, |v| v["signed"]["version"] = 4.into());
    let before = c.sb.tree_hash();
    c.sign(&draft, 2, "bob", &hash, &day(3)).fails(1).mentions(&["root version 4", "is 3"]);
    c.finalize(&draft, 2, &day(3)).fails(1).mentions(&["root version 4", "is 3"]);
    assert_eq!(c.sb.tree_hash(), before);

    // The real version 3 still goes through.
    c.sb.write(&draft, good);
    c.finalize(&draft, 2, &day(3)).ok();
    c.chain_ok(&day(3), 3);
}

#[test]
fn root_verify_ignores_an_expired_intermediate_but_not_an_expired_newest() {
    let c = Ceremony::empty();
    c.passes(&["alice", "bob", "index"]);
    // Root period of 30 days, from a ceremony file.
    c.sb.write(
        "ceremony.toml",
        "registry = \"example\"\nthreshold = 1\ncustodians = [\"alice\", \"bob\"]\n\
         [expiry_days]\nroot = 30\ntargets = 20\nsnapshot = 5\ntimestamp = 1\n",
    );
    c.step(&["init", "--config", "ceremony.toml", "--out", C, "--passphrase-dir", "pp", "--at", T0]).ok();
    assert_eq!(c.root_json(1)["signed"]["expires"], day(30).as_str());
    assert_eq!(c.root_json(1)["signed"]["x-airlock"]["expiry_days"]["root"], 30);
    assert_eq!(c.custodians(1), ["alice", "bob"]);

    // v1 expires at day 30, v2 at day 60, v3 (made on day 50) at day 80.
    c.rotate(1, &day(10), &["--expires", &day(60)], &["alice"]);
    c.rotate(2, &day(50), &[], &["alice"]);
    assert_eq!(c.root_json(3)["signed"]["expires"], day(80).as_str());

    // At day 70, versions 1 and 2 have expired: only the newest counts.
    c.chain_ok(&day(70), 3);
    let last_second = plus(&day(80), -1);
    c.chain_ok(&last_second, 3);

    let id = c.identity();
    for at in [day(80), plus(&day(80), 1), day(400)] {
        let run = c.sb.run(&["root", "verify", C, "--identity", &id, "--at", &at, "--json"]);
        run.fails(1).mentions(&["3.root.json", "expired"]);
        assert_eq!(run.json()["verified"], false);
    }
    // Stopping at version 2, which has expired by day 70.
    let run =
        c.sb.run(&["root", "verify", "c/1.root.json", "c/2.root.json", "--identity", &id, "--at", &day(70)]);
    run.fails(1).mentions(&["2.root.json", "expired"]);

    // finalize refuses a draft that has already expired.
    let (draft, hash) = c.propose(3, &day(75), &["--expires", &day(76)]);
    c.sign(&draft, 3, "alice", &hash, &day(75)).ok();
    let before = c.sb.tree_hash();
    c.finalize(&draft, 3, &day(77)).fails(1).mentions(&["draft-4.json", "expires"]);
    assert_eq!(c.sb.tree_hash(), before);
}

// ---------------------------------------------------------------------------
// The transition window and revocation

/// Writes `FILE`, unsigned snapshot metadata expiring at `FAR` (a role the
/// index key signs; top-level targets is the custodians').
fn write_targets(c: &Ceremony, file: &str) {
    write_unsigned(&c.sb, file, Snapshot::new(1, t(FAR), Default::default()));
}

/// `metadata sign FILE --key KEY --root ROOT --passphrase-file PASS`.
fn metadata_sign(c: &Ceremony, file: &str, name: &str, root: &str) -> Run {
    let (key, pass) = (c.key_file(name), c.pass(name));
    c.sb.run(&["metadata", "sign", file, "--key", &key, "--root", root, "--passphrase-file", &pass])
}

fn metadata_verify(c: &Ceremony, file: &str, root: &str, at: &str) -> Run {
    c.sb.run(&["metadata", "verify", file, "--root", root, "--at", at, "--json"])
}

#[test]
fn transition_window_old_index_key_verifies_until_the_deadline() {
    let c = Ceremony::init(&["alice"], 1);
    let old = c.id("index");
    c.new_key("index2");
    let new = c.id("index2");
    // Targets signed by the index key while it was the one active key.
    write_targets(&c, "t.json");
    metadata_sign(&c, "t.json", "index", &c.root(1)).ok();

    let at = "2026-06-10T12:34:56Z";
    let deadline = plus(at, 14 * DAY);
    let (draft, hash) = c.propose(1, at, &["--rotate-index", "index2.pub", "--window-days", "14"]);
    let run = c.sign(&draft, 1, "alice", &hash, at);
    run.ok();
    assert!(
        run.stdout
            .contains(&format!("timestamp: key {} RETIRING, stops verifying at {deadline}", grouped(&old))),
        "{}",
        run.stdout
    );
    // Every key a version brings in signs it, the new index key too.
    c.finalize(&draft, 1, at).fails(1).mentions(&["the index key", "did not sign"]);
    let run = c.sign(&draft, 1, "index2", &hash, at);
    run.ok();
    assert!(run.stdout.contains("signed by the index key"), "{}", run.stdout);
    c.finalize(&draft, 1, at).ok();
    c.chain_ok(at, 2);

    // Root 2 lists both keys for every index role, the old one retiring.
    let r2 = c.root_json(2);
    assert_eq!(r2["signed"]["roles"]["targets"]["keyids"], serde_json::json!([c.id("alice")]));
    for role in ["snapshot", "timestamp"] {
        let r = &r2["signed"]["roles"][role];
        let mut ids: Vec<&str> =
            r["keyids"].as_array().unwrap().iter().map(|k| k.as_str().unwrap()).collect();
        ids.sort();
        let mut want = vec![old.as_str(), new.as_str()];
        want.sort();
        assert_eq!(ids, want, "{role}");
        assert_eq!(r["x-airlock-retiring"][&old], deadline.as_str(), "{role}");
    }

    // One second before the deadline the old key's signature counts...
    let run = metadata_verify(&c, "t.json", &c.root(2), &plus(&deadline, -1));
    run.ok();
    assert_eq!(crate::support::counted(&run.json()), std::slice::from_ref(&old));
    // ... from the deadline on it does not.
    for at in [deadline.clone(), plus(&deadline, 1), day(300)] {
        let run = metadata_verify(&c, "t.json", &c.root(2), &at);
        run.fails(1).mentions(&["t.json"]);
        let j = run.json();
        assert_eq!(j["verified"], false, "at {at}");
        assert_eq!(j["signatures"]["retired"][0], old.as_str(), "at {at}: {j}");
    }
    // Root 1 knows nothing of the window.
    metadata_verify(&c, "t.json", &c.root(1), &plus(&deadline, 1)).ok();

    // Nobody can sign with the retiring key under root 2, before or after.
    write_targets(&c, "t2.json");
    let before = c.sb.tree_hash();
    metadata_sign(&c, "t2.json", "index", &c.root(2)).fails(2).mentions(&["index.key", "retiring"]);
    assert_eq!(c.sb.tree_hash(), before);
    // The new key signs, and verifies past the deadline.
    metadata_sign(&c, "t2.json", "index2", &c.root(2)).ok();
    metadata_verify(&c, "t2.json", &c.root(2), &plus(at, 1)).ok();
    metadata_verify(&c, "t2.json", &c.root(2), &plus(&deadline, 1)).ok();

    // Another rotation during the window is refused.
    c.new_key("index3");
    let before = c.sb.tree_hash();
    c.propose_raw(&c.root(2), "c/draft-3.json", &plus(at, DAY), &["--rotate-index", "index3.pub"])
        .fails(2)
        .mentions(&["still retiring"]);
    assert_eq!(c.sb.tree_hash(), before);

    // The next root proposed after the deadline drops the old key.
    let later = plus(&deadline, DAY);
    c.rotate(2, &later, &[], &["alice"]);
    let r3 = c.root_json(3);
    assert!(!r3["signed"]["keys"].as_object().unwrap().contains_key(&old));
    for role in ["snapshot", "timestamp"] {
        assert_eq!(r3["signed"]["roles"][role]["keyids"], serde_json::json!([new]), "{role}");
        assert!(r3["signed"]["roles"][role]
            .get("x-airlock-retiring")
            .is_none_or(|r| r.as_object().unwrap().is_empty()));
    }
    c.chain_ok(&later, 3);
    metadata_verify(&c, "t.json", &c.root(3), &plus(&deadline, -1)).fails(1);
}

#[test]
fn revocation_removes_the_old_index_key_at_once() {
    let c = Ceremony::init(&["alice", "bob"], 2);
    let old = c.id("index");
    c.new_key("index2");
    write_targets(&c, "t.json");
    metadata_sign(&c, "t.json", "index", &c.root(1)).ok();
    metadata_verify(&c, "t.json", &c.root(1), &day(1)).ok();

    let (draft, hash) = c.propose(1, &day(1), &["--revoke-index", "index2.pub"]);
    let run = c.sign(&draft, 1, "alice", &hash, &day(1));
    run.ok();
    assert!(run.stdout.contains(&format!("snapshot: REMOVE key {}", grouped(&old))), "{}", run.stdout);
    c.sign(&draft, 1, "bob", &hash, &day(1)).ok();
    c.sign(&draft, 1, "index2", &hash, &day(1)).ok();
    c.finalize(&draft, 1, &day(1)).ok();
    c.chain_ok(&day(1), 2);
    assert!(!c.sb.read_string(&c.root(2)).contains(&old), "root 2 still mentions the revoked key");

    // Signed by the revoked key: good under root 1, never under root 2.
    for at in [T0.to_owned(), day(1), plus(&day(1), 1), day(200)] {
        metadata_verify(&c, "t.json", &c.root(1), &at).ok();
        let run = metadata_verify(&c, "t.json", &c.root(2), &at);
        run.fails(1).mentions(&["t.json"]);
        assert_eq!(run.json()["signatures"]["unauthorised"][0], old.as_str(), "at {at}");
    }
    write_targets(&c, "t2.json");
    metadata_sign(&c, "t2.json", "index", &c.root(2)).fails(2).mentions(&["not a snapshot key"]);
    metadata_sign(&c, "t2.json", "index2", &c.root(2)).ok();
    metadata_verify(&c, "t2.json", &c.root(2), &day(1)).ok();
}

#[test]
fn emergency_revocation_during_a_transition_window() {
    // docs/CEREMONY.md: a planned rotation (section 2) with a 14-day window
    // makes root 2; then the index key leaks and is revoked from root 2
    // with no window (section 3), well before the window closes.
    let c = Ceremony::init(&["alice", "bob"], 1);
    c.new_key("index2");
    c.new_key("index3");
    c.rotate(1, &day(1), &["--rotate-index", "index2.pub", "--window-days", "14"], &["alice", "index2"]);
    write_targets(&c, "t.json");
    metadata_sign(&c, "t.json", "index2", &c.root(2)).ok();
    metadata_verify(&c, "t.json", &c.root(2), &day(2)).ok();

    let run = c.propose_raw(&c.root(2), "c/draft-3.json", &day(2), &["--revoke-index", "index3.pub"]);
    run.ok();
    let hash = payload_hash(&run);
    c.sign("c/draft-3.json", 2, "alice", &hash, &day(2)).ok();
    c.sign("c/draft-3.json", 2, "index3", &hash, &day(2)).ok();
    c.finalize("c/draft-3.json", 2, &day(2)).ok();
    c.chain_ok(&day(2), 3);
    // From version 3 on only the replacement signs for the registry.
    let r3 = c.root_json(3);
    let index3 = c.id("index3");
    for role in ["snapshot", "timestamp"] {
        assert_eq!(r3["signed"]["roles"][role]["keyids"], serde_json::json!([index3]), "{role}: {r3}");
    }
    assert!(!r3["signed"].to_string().contains(&c.id("index2")), "the revoked key is still in root 3");
    metadata_verify(&c, "t.json", &c.root(3), &day(2)).fails(1);
}

// ---------------------------------------------------------------------------
// Bad input

#[test]
fn a_draft_signed_by_too_few_keys_is_refused() {
    let c = Ceremony::init(&["alice", "bob", "carol"], 2);
    let (draft, hash) = c.propose(1, &day(1), &["--expires", FAR]);
    let before = c.sb.tree_hash();
    c.finalize(&draft, 1, &day(1)).fails(1).mentions(&["draft-2.json", "needs 2", "found 0"]);
    assert_eq!(c.sb.tree_hash(), before);

    c.sign(&draft, 1, "alice", &hash, &day(1)).ok();
    // Signing again with the same key adds nothing.
    let run = c.sign(&draft, 1, "alice", &hash, &day(1));
    run.ok();
    assert!(run.stdout.contains("signatures now: 1"), "{}", run.stdout);
    let before = c.sb.tree_hash();
    c.finalize(&draft, 1, &day(1)).fails(1).mentions(&["draft-2.json", "needs 2", "found 1"]);
    assert_eq!(c.sb.tree_hash(), before);
    assert!(!c.sb.exists(&c.root(2)));

    c.sign(&draft, 1, "carol", &hash, &day(1)).ok();
    c.finalize(&draft, 1, &day(1)).ok();
    c.chain_ok(&day(1), 2);
}

#[test]
fn a_draft_for_another_registry_is_refused() {
    let c = Ceremony::init(&["alice", "bob"], 1);
    // A second registry with custodians of the same names (and passphrases).
    c.init_in("d", &["alice", "bob"], 1, &[]).ok();
    let d_alice = ("d/keys/alice.key", "pp/alice");

    // A draft for registry d, fully signed there.
    let run = c.propose_raw("d/1.root.json", "d/draft-2.json", &day(1), &[]);
    run.ok();
    let hash = payload_hash(&run);
    c.step(&[
        "sign",
        "d/draft-2.json",
        "--root",
        "d/1.root.json",
        "--key",
        d_alice.0,
        "--passphrase-file",
        d_alice.1,
        "--confirm",
        &hash,
        "--at",
        &day(1),
    ])
    .ok();

    // Against registry c it is refused, naming the registry.
    let before = c.sb.tree_hash();
    c.finalize_raw("d/draft-2.json", &c.root(1), &c.root(2), &day(1))
        .fails(1)
        .mentions(&["d/draft-2.json", "registry"]);
    c.sign_raw("d/draft-2.json", &c.root(1), "alice", &hash, &day(1))
        .fails(1)
        .mentions(&["d/draft-2.json", "registry"]);
    c.step(&[
        "add-signature",
        "d/draft-2.json",
        "--root",
        &c.root(1),
        "--keyid",
        &c.id("alice"),
        "--signature",
        "pass.txt",
        "--at",
        &day(1),
    ])
    .fails(1)
    .mentions(&["registry"]);
    assert_eq!(c.sb.tree_hash(), before);

    // And where it belongs it is accepted.
    c.finalize_raw("d/draft-2.json", "d/1.root.json", "d/2.root.json", &day(1)).ok();
}

#[test]
fn a_tampered_draft_is_refused() {
    let c = Ceremony::init(&["alice", "bob", "carol"], 2);
    let (draft, hash) = c.propose(1, &day(1), &["--expires", "2027-01-01T00:00:00Z"]);
    c.sign_all(&draft, 1, &["alice", "bob"], &hash, &day(1));
    let good = c.sb.read_string(&draft);

    // The custodians' threshold appears twice: for root and for targets.
    for (what, from, to, n) in [
        ("expiry", "2027-01-01T00:00:00Z", "2037-01-01T00:00:00Z", 1),
        ("custodian name", "\"carol\"", "\"mallory\"", 1),
        ("threshold", "\"threshold\": 2", "\"threshold\": 1", 2),
    ] {
        assert_eq!(good.matches(from).count(), n, "{what}: {from:?} in\n{good}");
        c.sb.write(&draft, good.replace(from, to));
        let before = c.sb.tree_hash();
        c.finalize(&draft, 1, &day(1)).fails(1).mentions(&["draft-2.json", "found 0"]);
        assert_eq!(c.sb.tree_hash(), before, "{what}");
        assert!(!c.sb.exists(&c.root(2)), "{what}");
        // The next custodian is told at once that the signatures on it are
        // stale, before anything is asked or signed.
        c.sign(&draft, 1, "carol", &hash, &day(1)).fails(1).mentions(&["stale signature", "alice", "bob"]);
        assert_eq!(c.sb.tree_hash(), before, "{what}");
    }
    c.sb.write(&draft, &good);
    c.finalize(&draft, 1, &day(1)).ok();
}

#[test]
fn a_wrong_passphrase_leaves_the_draft_unchanged() {
    let c = Ceremony::init(&["alice", "bob"], 1);
    let (draft, hash) = c.propose(1, &day(1), &[]);
    c.sb.write("wrong", "not alice's passphrase\n");
    let before = c.sb.tree_hash();
    let key = c.key_file("alice");
    c.step(&[
        "sign",
        &draft,
        "--root",
        &c.root(1),
        "--key",
        &key,
        "--passphrase-file",
        "wrong",
        "--confirm",
        &hash,
        "--at",
        &day(1),
    ])
    .fails(2)
    .mentions(&["alice.key", "passphrase"]);
    assert_eq!(c.sb.tree_hash(), before);
    // Bob's passphrase does not open alice's key either.
    c.step(&[
        "sign",
        &draft,
        "--root",
        &c.root(1),
        "--key",
        &key,
        "--passphrase-file",
        "pp/bob",
        "--confirm",
        &hash,
        "--at",
        &day(1),
    ])
    .fails(2)
    .mentions(&["passphrase"]);
    assert_eq!(c.sb.tree_hash(), before);
}

#[test]
fn a_wrong_confirmation_hash_leaves_the_draft_unchanged() {
    let c = Ceremony::init(&["alice", "bob"], 1);
    let (draft, hash) = c.propose(1, &day(1), &[]);
    let v1_hash = {
        let v1 = Metadata::<Root>::from_bytes(&c.sb.read(&c.root(1))).unwrap();
        grouped(&airlock_core::hash::sha256_hex(&v1.payload())[..16])
    };
    assert_ne!(v1_hash, hash);
    let before = c.sb.tree_hash();
    // The first 64 bits alone (what the read-back used to be) are not enough.
    for wrong in ["0000 0000 0000 0000", v1_hash.as_str(), &hash[..14], &hash[..19], ""] {
        c.sign(&draft, 1, "alice", wrong, &day(1))
            .fails(2)
            .mentions(&["does not match the payload hash", &hash]);
        assert_eq!(c.sb.tree_hash(), before, "confirmed with {wrong:?}");
    }
    // Without --confirm and with no terminal to ask at: refused.
    c.step(&[
        "sign",
        &draft,
        "--root",
        &c.root(1),
        "--key",
        &c.key_file("alice"),
        "--passphrase-file",
        "pp/alice",
        "--at",
        &day(1),
    ])
    .fails(2)
    .mentions(&["--confirm"]);
    assert_eq!(c.sb.tree_hash(), before);
    // Case and spacing do not matter.
    c.sign(&draft, 1, "alice", &hash.replace(' ', "").to_uppercase(), &day(1)).ok();
}

#[test]
fn the_read_back_is_128_bits_shown_as_hex_and_words_and_either_confirms() {
    let c = Ceremony::init(&["alice", "bob"], 2);
    let (draft, hash) = c.propose(1, &day(1), &[]);
    let payload = Metadata::<Root>::from_bytes(&c.sb.read(&draft)).unwrap().payload();
    let sha = airlock_core::hash::sha256_hex(&payload);
    assert_eq!(hash, grouped(&sha[..32]));
    let words = airlock_core::identity::words(&sha).unwrap();
    assert_eq!(words.split(' ').count(), 12);
    // The words are shown, and typed back (in any case and spacing) they confirm.
    let run = c.sign(&draft, 1, "alice", &words.to_uppercase().replace(' ', "  "), &day(1));
    run.ok();
    assert!(run.stdout.contains(&format!("read aloud:   {words}")), "{}", run.stdout);
    // Eleven of the twelve words do not.
    let eleven: Vec<&str> = words.split(' ').take(11).collect();
    c.sign(&draft, 1, "bob", &eleven.join(" "), &day(1)).fails(2).mentions(&["does not match"]);
}

#[test]
fn a_key_outside_both_roots_cannot_sign() {
    let c = Ceremony::init(&["alice", "bob"], 1);
    c.new_key("stranger");
    let (draft, hash) = c.propose(1, &day(1), &[]);
    let before = c.sb.tree_hash();
    c.sign(&draft, 1, "stranger", &hash, &day(1)).fails(2).mentions(&["stranger.key", "not a root key"]);
    // The index key is in the root, but not a root key.
    c.sign(&draft, 1, "index", &hash, &day(1)).fails(2).mentions(&["index.key", "not a root key"]);
    c.step(&[
        "add-signature",
        &draft,
        "--root",
        &c.root(1),
        "--keyid",
        &c.id("stranger"),
        "--signature",
        "pass.txt",
        "--at",
        &day(1),
    ])
    .fails(2)
    .mentions(&["not a root key"]);
    assert_eq!(c.sb.tree_hash(), before);
}

#[test]
fn init_refuses_a_non_empty_directory() {
    let c = Ceremony::empty();
    c.passes(&["alice", "bob", "index"]);
    std::fs::create_dir(c.sb.path(C)).unwrap();
    c.sb.write("c/notes.txt", "mine\n");
    let before = c.sb.tree_hash();
    c.init_in(C, &["alice", "bob"], 1, &[]).fails(2).mentions(&["c", "not empty"]);
    assert_eq!(c.sb.tree_hash(), before, "init wrote into a non-empty directory");

    // Nor over an earlier ceremony.
    c.init_in("c2", &["alice"], 1, &[]).ok();
    let before = c.sb.tree_hash();
    c.init_in("c2", &["alice"], 1, &[]).fails(2).mentions(&["c2", "not empty"]);
    assert_eq!(c.sb.tree_hash(), before);
}

#[test]
fn init_refuses_impossible_custodian_lists_and_writes_nothing() {
    let c = Ceremony::empty();
    c.passes(&["alice", "bob", "index"]);
    let before = c.sb.tree_hash();
    c.init_in(C, &["alice", "bob"], 3, &[]).fails(2).mentions(&["threshold 3", "2 custodian"]);
    c.init_in(C, &["alice", "bob"], 0, &[]).fails(2).mentions(&["threshold 0"]);
    c.init_in(C, &["alice", "index"], 1, &[]).fails(2).mentions(&["index"]);
    c.init_in(C, &["alice", "../bob"], 1, &[]).fails(2).mentions(&["../bob"]);
    c.step(&["init", "--custodian", "alice", "--threshold", "1", "--out", C, "--passphrase-dir", "pp"])
        .fails(2)
        .mentions(&["registry"]);
    assert_eq!(c.sb.tree_hash(), before, "a refused init wrote something");
    assert!(!c.sb.exists(C));
}

#[test]
fn init_refuses_a_custodian_named_twice_and_writes_nothing() {
    let c = Ceremony::empty();
    c.passes(&["alice", "bob", "index"]);
    let before = c.sb.tree_hash();
    let run = c.init_in(C, &["alice", "bob", "alice"], 2, &[]);
    run.fails(2).mentions(&["alice"]);
    assert!(!c.sb.exists(C), "a refused init left {:?}", c.sb.listing());
    assert_eq!(c.sb.tree_hash(), before);
}

// ---------------------------------------------------------------------------
// Signing outside airlock

/// Finds `name` on `PATH`. When it is missing: a failure under `CI=true`,
/// otherwise a `SKIPPED:` line and `None` (the rule of tests/interop/support.rs).
/// Runs a tool in the sandbox; it must succeed.
#[track_caller]
fn tool(sb: &Sandbox, prog: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new(prog)
        .args(args)
        .current_dir(sb.root())
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", prog.display()));
    assert!(
        out.status.success(),
        "{} {}: {}\n{}",
        prog.display(),
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn a_signature_made_by_openssl_is_added_and_checked() {
    let Some(openssl) = require_tool("openssl") else { return };
    let c = Ceremony::init(&["alice", "bob"], 2);
    // A custodian whose key lives outside airlock.
    tool(&c.sb, &openssl, &["genpkey", "-algorithm", "ed25519", "-out", "token.pem"]);
    tool(&c.sb, &openssl, &["pkey", "-in", "token.pem", "-pubout", "-out", "token.pub"]);
    let show = c.sb.run(&["key", "show", "token.pub", "--json"]);
    show.ok();
    let token_id = show.json()["keyid"].as_str().unwrap().to_owned();

    let (draft, hash) = c.propose(1, &day(1), &["--add-custodian", "token=token.pub", "--threshold", "3"]);
    c.sign_all(&draft, 1, &["alice", "bob"], &hash, &day(1));
    c.finalize(&draft, 1, &day(1)).fails(1).mentions(&["its own root keys", "found 2"]);

    // The payload is exactly the canonical JSON of the draft's signed object.
    let run = c.sb.run(&["ceremony", "payload", &draft, "--out", "payload.bin", "--allow-online"]);
    run.ok();
    assert_eq!(payload_hash(&run), hash);
    let d = Metadata::<Root>::from_bytes(&c.sb.read(&draft)).unwrap();
    assert_eq!(c.sb.read("payload.bin"), d.payload());
    let signed: Value = serde_json::from_slice(&c.sb.read(&draft)).unwrap();
    assert_eq!(c.sb.read("payload.bin"), airlock_core::to_canonical_bytes(&signed["signed"]).unwrap());

    // A signature over other bytes is refused, and changes nothing.
    c.sb.write("other.bin", b"not the payload");
    tool(
        &c.sb,
        &openssl,
        &["pkeyutl", "-sign", "-rawin", "-inkey", "token.pem", "-in", "other.bin", "-out", "bad.sig"],
    );
    let add = |sig: &str, keyid: &str| {
        c.step(&[
            "add-signature",
            &draft,
            "--root",
            &c.root(1),
            "--keyid",
            keyid,
            "--signature",
            sig,
            "--at",
            &day(1),
        ])
    };
    tool(
        &c.sb,
        &openssl,
        &["pkeyutl", "-sign", "-rawin", "-inkey", "token.pem", "-in", "payload.bin", "-out", "sig.bin"],
    );
    assert_eq!(c.sb.read("sig.bin").len(), 64);
    let before = c.sb.tree_hash();
    add("bad.sig", &token_id).fails(1).mentions(&["bad.sig", "does not verify"]);
    assert_eq!(c.sb.tree_hash(), before);

    // The real signature, claimed for another key, is refused.
    add("sig.bin", &c.id("alice")).fails(1).mentions(&["sig.bin"]);
    assert_eq!(c.sb.tree_hash(), before);

    // Under its own key it is accepted, raw or as hex.
    let run = add("sig.bin", &token_id);
    run.ok();
    assert!(run.stdout.contains(&grouped(&token_id)), "{}", run.stdout);
    let hex: String = c.sb.read("sig.bin").iter().map(|b| format!("{b:02x}")).collect();
    c.sb.write("sig.hex", format!("{hex}\n"));
    // --keyid takes every form airlock prints: grouped, and the short form.
    add("sig.hex", &grouped(&token_id)).ok();
    add("sig.hex", &grouped(&token_id[..16])).ok();
    add("sig.hex", &token_id[..8]).fails(2).mentions(&["at least the 16 hex digits"]);
    let sigs = crate::support::signature_ids(&c.sb, &draft);
    assert_eq!(sigs.iter().filter(|k| **k == token_id).count(), 1, "{sigs:?}");

    c.finalize(&draft, 1, &day(1)).ok();
    let j = c.chain_ok(&day(1), 2);
    assert!(Ceremony::counted(&j, 1, "by_self").contains(&token_id));
    assert_eq!(c.root_json(2)["signed"]["x-airlock"]["custodians"][&token_id], "token");
}

// ---------------------------------------------------------------------------
// Transcripts and the paper record

#[test]
fn transcript_detects_an_edited_record_and_a_changed_file() {
    let c = Ceremony::init(&["alice", "bob"], 1);
    c.new_key("carol");
    c.rotate(1, &day(1), &["--add-custodian", "carol=carol.pub"], &["alice", "carol"]);
    let records = c.records();
    let steps: Vec<&str> = records.iter().map(|r| r["step"].as_str().unwrap()).collect();
    assert_eq!(
        steps,
        ["ceremony init", "ceremony propose", "ceremony sign", "ceremony sign", "ceremony finalize"]
    );
    for (i, r) in records.iter().enumerate() {
        assert_eq!(r["seq"], i as u64 + 1);
        assert_eq!(r["allow_online"], true, "--allow-online is recorded");
        assert_eq!(r["rehearsal"], false);
    }
    assert_eq!(records[0]["time"], T0);
    assert_eq!(records[2]["key_ids"], serde_json::json!([c.id("alice")]));
    assert_eq!(records[3]["key_ids"], serde_json::json!([c.id("carol")]));
    let listed: Vec<&str> =
        records[0]["files"].as_array().unwrap().iter().map(|f| f["path"].as_str().unwrap()).collect();
    for f in ["1.root.json", "identity.txt", "keys/alice.pub", "keys/bob.pub", "keys/index.pub"] {
        assert!(listed.contains(&f), "{f} not in {listed:?}");
    }
    let run = c.transcript_ok();
    assert!(run.stdout.contains("5 record(s)"), "{}", run.stdout);

    let path = "c/transcript.jsonl";
    let good = c.sb.read_string(path);
    let verify = || c.sb.run(&["ceremony", "transcript", "verify", path]);

    // One detail of the first record edited: the chain breaks at the second.
    let edited = good.replacen("\"threshold\":1", "\"threshold\":2", 1);
    assert_ne!(edited, good);
    c.sb.write(path, &edited);
    verify().fails(1).mentions(&["transcript.jsonl", "record 2", "hash chain"]);
    // A record removed from the middle.
    let mut lines: Vec<&str> = good.lines().collect();
    lines.remove(2);
    c.sb.write(path, lines.join("\n") + "\n");
    verify().fails(1).mentions(&["transcript.jsonl"]);
    c.sb.write(path, &good);
    verify().ok();

    // A listed file changed after the ceremony.
    let root1 = c.sb.read(&c.root(1));
    let mut spaced = root1.clone();
    spaced.push(b' ');
    c.sb.write(&c.root(1), &spaced);
    verify().fails(1).mentions(&["1.root.json", "changed"]);
    c.sb.write(&c.root(1), &root1);
    let pubkey = c.sb.read("c/keys/bob.pub");
    c.sb.write("c/keys/bob.pub", c.sb.read("carol.pub"));
    verify().fails(1).mentions(&["keys/bob.pub", "changed"]);
    c.sb.write("c/keys/bob.pub", pubkey);
    let root2 = c.sb.read(&c.root(2));
    std::fs::remove_file(c.sb.path(&c.root(2))).unwrap();
    verify().fails(1).mentions(&["2.root.json", "missing"]);
    c.sb.write(&c.root(2), root2);
    verify().ok();

    // --base: the files relative to another directory.
    std::fs::rename(c.sb.path(C), c.sb.path("moved")).unwrap();
    c.sb.write("elsewhere.jsonl", c.sb.read("moved/transcript.jsonl"));
    c.sb.run(&["ceremony", "transcript", "verify", "elsewhere.jsonl", "--base", "moved"]).ok();
    c.sb.run(&["ceremony", "transcript", "verify", "elsewhere.jsonl"]).fails(1);
}

#[test]
fn the_first_ceremony_checks_pass_after_custodians_take_their_keys_away() {
    // docs/CEREMONY.md, section 1: every custodian takes their NAME.key away
    // and the directory keeps public material and the transcript; then
    // `root verify` and `ceremony transcript verify` are run on it.
    let c = Ceremony::init(&["alice", "bob"], 2);
    std::fs::create_dir(c.sb.path("sticks")).unwrap();
    for n in ["alice", "bob", "index"] {
        std::fs::rename(c.sb.path(&format!("c/keys/{n}.key")), c.sb.path(&format!("sticks/{n}.key")))
            .unwrap();
    }
    c.chain_ok(T0, 1);
}

#[test]
fn record_prints_identity_custodians_and_signers_in_markdown() {
    let c = Ceremony::init(&["alice", "bob", "carol"], 2);
    c.new_key("dave");
    // carol leaves, and signs version 2 as one of version 1's custodians.
    c.rotate(
        1,
        &day(1),
        &["--add-custodian", "dave=dave.pub", "--remove-custodian", "carol"],
        &["alice", "carol", "dave"],
    );
    let run = c.sb.run(&["ceremony", "record", C]);
    run.ok();
    let md = &run.stdout;
    assert!(md.starts_with("# "), "not Markdown:\n{md}");
    assert!(md.contains("example"), "{md}");
    let id = c.identity();
    assert_eq!(id.len(), 64);
    assert_eq!(grouped(&id).split(' ').count(), 16);
    assert!(md.contains(&grouped(&id)), "identity not in groups of four:\n{md}");
    for n in ["alice", "bob", "carol", "dave"] {
        assert!(md.contains(n), "{n} missing:\n{md}");
        assert!(md.contains(&grouped(&c.id(n))), "{n}'s key id missing:\n{md}");
    }
    assert!(md.contains(&grouped(&c.id("index"))), "{md}");
    assert!(md.contains("Root version 1") && md.contains("Root version 2"), "{md}");
    assert!(md.contains("threshold 2 of 3"), "{md}");
    // The words to read aloud, as root verify prints them.
    let verify = c.sb.run(&["root", "verify", C, "--identity", &id, "--at", &day(1)]);
    verify.ok();
    // root verify lists every version's keys by role, with names and thresholds.
    for v in [
        "  root: threshold 2 of 3 key(s)",
        "  targets: threshold 2 of 3 key(s)",
        "  timestamp: threshold 1 of 1",
    ] {
        assert_eq!(verify.stdout.matches(v).count(), 2, "{v:?} once per version:\n{}", verify.stdout);
    }
    assert!(verify.stdout.contains(&format!("    {} (dave)", grouped(&c.id("dave")))), "{}", verify.stdout);
    let line = verify.stdout.lines().find(|l| l.starts_with("read aloud:")).unwrap();
    let words = line.trim_start_matches("read aloud:").trim();
    assert_eq!(words.split(' ').count(), 12);
    assert!(md.contains(words), "{md}");
    assert!(!md.to_lowercase().contains("rehearsal"), "{md}");
    // The transcript head goes on paper, so a truncated transcript shows.
    let transcript = c.sb.read_string("c/transcript.jsonl");
    let last = transcript.lines().last().unwrap();
    let head = grouped(&airlock_core::hash::sha256_hex(last.as_bytes()));
    assert!(md.contains(&format!("Transcript: 6 record(s), head `{head}`")), "{md}");
    // A transcript that does not verify is said loudly, and the command fails.
    let edited = transcript.replacen("\"alice\"", "\"mallory\"", 1);
    assert_ne!(edited, transcript);
    c.sb.write("c/transcript.jsonl", edited);
    let run = c.sb.run(&["ceremony", "record", C]);
    run.fails(1).mentions(&["the transcript does not verify"]);
    assert!(run.stdout.contains("**TRANSCRIPT DOES NOT VERIFY:"), "{}", run.stdout);
}

#[test]
fn custodians_who_left_are_still_named_as_signers() {
    let c = Ceremony::init(&["alice", "bob", "carol"], 2);
    c.new_key("dave");
    // carol leaves, and signs version 2 as one of version 1's custodians.
    c.rotate(
        1,
        &day(1),
        &["--add-custodian", "dave=dave.pub", "--remove-custodian", "carol"],
        &["alice", "carol", "dave"],
    );
    // root verify names every counted key of every version by its custodian.
    let verify = c.sb.run(&["root", "verify", C, "--identity", &c.identity(), "--at", &day(1)]);
    verify.ok();
    assert!(verify.stdout.contains(&format!("{} (carol)", grouped(&c.id("carol")))), "{}", verify.stdout);
    assert!(!verify.stdout.contains("unnamed"), "{}", verify.stdout);

    // The paper record lists who signed version 2 by name: carol too,
    // though version 2 no longer lists her.
    let run = c.sb.run(&["ceremony", "record", C]);
    run.ok();
    let md = &run.stdout;
    let v2 = &md[md.find("Root version 2").unwrap()..];
    let signed_by = &v2[v2.find("Signed by").expect("a Signed by section")..];
    for n in ["alice", "carol", "dave"] {
        let entry = format!("`{}` — {n}", grouped(&c.id(n)));
        assert!(signed_by.contains(&entry), "{entry:?} not under version 2's signers:\n{md}");
    }
    assert!(!md.contains("unnamed"), "a custodian is unnamed on paper:\n{md}");
}

// ---------------------------------------------------------------------------
// Rehearsals and the air gap

#[test]
fn a_rehearsal_says_so_everywhere() {
    let c = Ceremony::empty();
    c.passes(&["alice", "bob", "index"]);
    let run = c.init_in(C, &["alice", "bob"], 1, &["--rehearsal"]);
    run.ok();
    assert!(run.stdout.contains("REHEARSAL"), "{}", run.stdout);
    assert_eq!(c.root_json(1)["signed"]["x-airlock"]["rehearsal"], true);
    let line = c.sb.read_string("c/transcript.jsonl");
    assert!(line.contains("\"rehearsal\":true"), "{line}");

    let (draft, hash) = c.propose(1, &day(1), &[]);
    let run = c.sign(&draft, 1, "alice", &hash, &day(1));
    run.ok();
    assert!(run.stdout.contains("REHEARSAL"), "{}", run.stdout);
    let run = c.finalize(&draft, 1, &day(1));
    run.ok();
    assert!(run.stdout.contains("REHEARSAL"), "{}", run.stdout);
    assert_eq!(c.root_json(2)["signed"]["x-airlock"]["rehearsal"], true);
    for r in c.records() {
        assert_eq!(r["rehearsal"], true, "{r}");
    }
    let j = c.chain_ok(&day(1), 2);
    assert_eq!(j["rehearsal"], true);
    let run = c.sb.run(&["root", "verify", C, "--identity", &c.identity(), "--at", &day(1)]);
    assert!(run.stdout.contains("REHEARSAL"), "{}", run.stdout);
    let run = c.sb.run(&["ceremony", "record", C]);
    run.ok();
    assert!(run.stdout.contains("REHEARSAL"), "{}", run.stdout);

    // A real ceremony says nothing of the sort.
    let run = c.init_in("real", &["alice"], 1, &[]);
    run.ok();
    assert!(!run.stdout.contains("REHEARSAL"), "{}", run.stdout);
}

/// The non-loopback interfaces that are up, read as airlock documents it
/// (operstate `up`, or `unknown`/absent with IFF_UP set).
fn interfaces_up() -> Vec<String> {
    let Ok(entries) = std::fs::read_dir("/sys/class/net") else { return Vec::new() };
    let mut up = Vec::new();
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let dir = e.path();
        let flags = std::fs::read_to_string(dir.join("flags"))
            .ok()
            .and_then(|f| u32::from_str_radix(f.trim().trim_start_matches("0x"), 16).ok())
            .unwrap_or(0);
        if name == "lo" || flags & 0x8 != 0 || !dir.is_dir() {
            continue;
        }
        let state = std::fs::read_to_string(dir.join("operstate")).unwrap_or_else(|_| "unknown".into());
        if state.trim() == "up" || (state.trim() == "unknown" && flags & 0x1 != 0) {
            up.push(name);
        }
    }
    up
}

#[test]
fn ceremony_steps_refuse_to_run_online() {
    let up = interfaces_up();
    if up.is_empty() {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: ceremony_steps_refuse_to_run_online: no network interface is up on this machine"
        );
        return;
    }
    let c = Ceremony::empty();
    c.passes(&["alice", "bob", "index"]);
    let offline_init = [
        "ceremony",
        "init",
        "--registry",
        "example",
        "--custodian",
        "alice",
        "--threshold",
        "1",
        "--out",
        C,
        "--passphrase-dir",
        "pp",
        "--at",
        T0,
    ];
    let before = c.sb.tree_hash();
    let run = c.sb.run(&offline_init);
    run.fails(2).mentions(&["network interfaces", &up[0], "--allow-online"]);
    assert_eq!(c.sb.tree_hash(), before);
    assert!(!c.sb.exists(C));

    // Every other step that writes refuses as well.
    c.init_in(C, &["alice", "bob"], 1, &[]).ok();
    let (draft, hash) = c.propose(1, &day(1), &[]);
    // A good signature by alice over the draft, made on a copy of it.
    std::fs::copy(c.sb.path(&draft), c.sb.path("c/copy.json")).unwrap();
    c.sign("c/copy.json", 1, "alice", &hash, &day(1)).ok();
    let sig = serde_json::from_slice::<Value>(&c.sb.read("c/copy.json")).unwrap()["signatures"][0]["sig"]
        .as_str()
        .unwrap()
        .to_owned();
    c.sb.write("alice.sig", sig);
    let before = c.sb.tree_hash();
    let root = c.root(1);
    let cases: Vec<Vec<&str>> = vec![
        vec!["ceremony", "propose", "--root", &root, "--out", "c/other.json", "--at", T0],
        vec![
            "ceremony",
            "sign",
            &draft,
            "--root",
            &root,
            "--key",
            "c/keys/alice.key",
            "--passphrase-file",
            "pp/alice",
            "--confirm",
            &hash,
        ],
        vec!["ceremony", "finalize", &draft, "--root", &root, "--out", "c/2.root.json"],
        // Taking the bytes out, and cutting a key into shares or putting it
        // back together, are ceremony steps too.
        vec!["ceremony", "payload", &draft, "--out", "p.bin"],
        vec![
            "key",
            "split",
            "c/keys/alice.key",
            "--shares",
            "2",
            "--threshold",
            "2",
            "--recipient",
            "x",
            "--recipient",
            "y",
            "--out-dir",
            "shares",
            "--passphrase-file",
            "pp/alice",
        ],
        vec!["key", "combine", "s1.json", "s2.json", "--out", "restored", "--passphrase-file", "pp/alice"],
    ];
    for args in &cases {
        c.sb.run(args).fails(2).mentions(&["network interfaces"]);
        assert_eq!(c.sb.tree_hash(), before, "{args:?} wrote something");
    }
    // add-signature changes the draft and the transcript: it is a ceremony step too.
    let alice_id = c.id("alice");
    let run = c.sb.run(&[
        "ceremony",
        "add-signature",
        &draft,
        "--root",
        &root,
        "--keyid",
        &alice_id,
        "--signature",
        "alice.sig",
    ]);
    run.fails(2).mentions(&["network interfaces"]);
    assert_eq!(c.sb.tree_hash(), before, "add-signature wrote something");
}

// ---------------------------------------------------------------------------
// Key backups: Shamir shares encrypted to age recipients

/// Five age identities `idN.txt` in the sandbox, and their recipients.
fn age_identities(sb: &Sandbox, keygen: &Path) -> Vec<String> {
    (1..=5)
        .map(|i| {
            tool(sb, keygen, &["-o", &format!("id{i}.txt")]);
            String::from_utf8(tool(sb, keygen, &["-y", &format!("id{i}.txt")])).unwrap().trim().to_owned()
        })
        .collect()
}

/// `key split KEY --shares 5 --threshold 3 --recipient ... --out-dir DIR`.
fn split(sb: &Sandbox, key: &str, recipients: &[String], dir: &str) -> Run {
    let mut args = vec!["key", "split", key, "--shares", "5", "--threshold", "3"];
    for r in recipients {
        args.extend(["--recipient", r.as_str()]);
    }
    args.extend(["--out-dir", dir, "--passphrase-file", PASS_FILE, "--allow-online"]);
    sb.run(&args)
}

/// `key combine SHARES... --identity idN.txt ... --out OUT`.
fn combine(sb: &Sandbox, shares: &[String], identities: &[usize], out: &str) -> Run {
    let ids: Vec<String> = identities.iter().map(|i| format!("id{i}.txt")).collect();
    let mut args: Vec<&str> = vec!["key", "combine"];
    args.extend(shares.iter().map(String::as_str));
    for id in &ids {
        args.extend(["--identity", id.as_str()]);
    }
    args.extend(["--out", out, "--passphrase-file", PASS_FILE, "--allow-online"]);
    sb.run(&args)
}

fn share(dir: &str, i: usize) -> String {
    format!("{dir}/share-{i}.age")
}

#[test]
fn key_split_three_of_five_and_any_three_shares_restore_the_key() {
    let Some(keygen) = require_tool("age-keygen") else { return };
    let sb = Sandbox::new();
    let key = sb.generate_key("alice");
    let recipients = age_identities(&sb, &keygen);
    let run = split(&sb, "alice.key", &recipients, "shares");
    run.ok();
    assert!(run.stdout.contains(&key.id.grouped()), "{}", run.stdout);
    let mut listing: Vec<String> = std::fs::read_dir(sb.path("shares"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    listing.sort();
    assert_eq!(listing, (1..=5).map(|i| format!("share-{i}.age")).collect::<Vec<_>>());
    for i in 1..=5 {
        let text = sb.read_string(&share("shares", i));
        assert!(text.starts_with("-----BEGIN AGE ENCRYPTED FILE-----"), "share {i}:\n{text}");
    }

    let mut n = 0;
    for a in 1..=5 {
        for b in a + 1..=5 {
            for c in b + 1..=5 {
                n += 1;
                let out = format!("restored-{a}{b}{c}");
                let run = combine(
                    &sb,
                    &[share("shares", a), share("shares", b), share("shares", c)],
                    &[a, b, c],
                    &out,
                );
                run.ok();
                assert_eq!(run.stdout.trim(), key.id.0, "shares {a} {b} {c}");
                assert_eq!(sb.read(&format!("{out}.pub")), sb.read("alice.pub"), "shares {a} {b} {c}");
            }
        }
    }
    assert_eq!(n, 10);
    // The restored key file opens with its new passphrase and is the same key.
    let show = sb.run(&["key", "show", "restored-135.key", "--passphrase-file", PASS_FILE, "--json"]);
    show.ok();
    assert_eq!(show.json()["keyid"], key.id.0.as_str());
    // More than k shares work too, with every identity given.
    let all: Vec<String> = (1..=5).map(|i| share("shares", i)).collect();
    combine(&sb, &all, &[1, 2, 3, 4, 5], "restored-all").ok();
    assert_eq!(sb.read("restored-all.pub"), sb.read("alice.pub"));
}

#[test]
fn key_combine_refuses_too_few_mixed_or_repeated_shares() {
    let Some(keygen) = require_tool("age-keygen") else { return };
    let sb = Sandbox::new();
    sb.generate_key("alice");
    sb.generate_key("bob");
    let recipients = age_identities(&sb, &keygen);
    split(&sb, "alice.key", &recipients, "s1").ok();
    split(&sb, "alice.key", &recipients, "s2").ok();
    split(&sb, "bob.key", &recipients, "s3").ok();

    let before = sb.tree_hash();
    combine(&sb, &[share("s1", 1), share("s1", 2)], &[1, 2], "restored")
        .fails(2)
        .mentions(&["2 shares", "3 needed"]);

    assert_eq!(sb.tree_hash(), before);

    // Two splits of the same key.
    combine(&sb, &[share("s1", 1), share("s2", 2), share("s1", 3)], &[1, 2, 3], "restored")
        .fails(1)
        .mentions(&["different splits"]);
    assert_eq!(sb.tree_hash(), before);
    // Splits of two different keys.
    combine(&sb, &[share("s1", 1), share("s3", 2), share("s1", 3)], &[1, 2, 3], "restored").fails(1);
    assert_eq!(sb.tree_hash(), before);
    // One share given twice is not two shares.
    combine(&sb, &[share("s1", 1), share("s1", 1), share("s1", 3)], &[1, 3], "restored")
        .fails(1)
        .mentions(&["twice"]);
    assert_eq!(sb.tree_hash(), before);
    // A share nobody here can decrypt.
    combine(&sb, &[share("s1", 1), share("s1", 2), share("s1", 3)], &[1, 2], "restored")
        .fails(1)
        .mentions(&["share-3.age"]);
    assert_eq!(sb.tree_hash(), before);

    // Splitting needs exactly one recipient per share.
    split(&sb, "alice.key", &recipients[..4], "s4").fails(2).mentions(&["recipient"]);
    assert_eq!(sb.tree_hash(), before);
}

#[test]
fn a_stale_signature_is_named_at_once_and_never_counted_silently() {
    let c = Ceremony::init(&["alice", "bob", "carol"], 2);
    let (draft, _) = c.propose(1, &day(1), &["--expires", "2027-01-01T00:00:00Z"]);
    let hash = payload_hash(&c.step(&["payload", &draft, "--out", "p1.bin"]));
    c.sign(&draft, 1, "alice", &hash, &day(1)).ok();
    // The draft changes after alice signed: her signature is now stale.
    let edited = c.sb.read_string(&draft).replace("2027-01-01T00:00:00Z", "2027-02-01T00:00:00Z");
    c.sb.write(&draft, edited);
    let new_hash = payload_hash(&c.step(&["payload", &draft, "--out", "p2.bin"]));
    assert_ne!(hash, new_hash);
    let before = c.sb.tree_hash();
    let run = c.sign(&draft, 1, "bob", &new_hash, &day(1));
    run.fails(1).mentions(&["stale signature", "alice", "--remove-stale"]);
    assert!(run.stdout.contains("STALE signature by alice"), "{}", run.stdout);
    assert_eq!(c.sb.tree_hash(), before, "nothing may be written");
    // Removing it knowingly, bob signs; the draft then carries his signature only.
    let (key, pass) = (c.key_file("bob"), c.pass("bob"));
    let root = c.root(1);
    let at = day(1);
    let run = c.step(&[
        "sign",
        &draft,
        "--root",
        &root,
        "--key",
        &key,
        "--passphrase-file",
        &pass,
        "--confirm",
        &new_hash,
        "--remove-stale",
        "--at",
        &at,
    ]);
    run.ok();
    assert!(run.stdout.contains("removed the stale signature by alice"), "{}", run.stdout);
    assert!(run.stdout.contains("signatures now: 1"), "{}", run.stdout);
}

#[test]
fn a_key_swapped_behind_an_unchanged_key_id_is_shown_and_never_finalized() {
    let c = Ceremony::init(&["alice", "bob"], 1);
    c.new_key("mallory");
    let mallory = PublicKey::from_spki_pem(&c.sb.read_string(&c.pub_file("mallory"))).unwrap();
    let (draft, _) = c.propose(1, &day(1), &["--expires", "2027-01-01T00:00:00Z"]);
    // The proposer puts mallory's key material under alice's key id.
    let alice = c.id("alice");
    edit_json(&c.sb, &draft, |v| {
        v["signed"]["keys"][&alice]["keyval"]["public"] = serde_json::json!(mallory.keyval.public);
    });
    let hash = payload_hash(&c.step(&["payload", &draft, "--out", "p.bin"]));
    let run = c.sign(&draft, 1, "bob", &hash, &day(1));
    run.ok();
    let a = grouped(&alice);
    assert!(run.stdout.contains(&format!("!! key id {a}: the KEY MATERIAL CHANGED")), "{}", run.stdout);
    assert!(run.stdout.contains(&format!("!! key id {a} is NOT the hash of its key")), "{}", run.stdout);
    // Signed by a threshold, it is still never accepted.
    let before = c.sb.tree_hash();
    c.finalize(&draft, 1, &day(1)).fails(1).mentions(&["KEY MATERIAL CHANGED", &a]);
    assert_eq!(c.sb.tree_hash(), before);
    assert!(!c.sb.exists(&c.root(2)));
}
