//! Nothing hostile or concurrent breaks the mirror or the registry: text
//! with terminal controls in bundles, names and logs is shown escaped and
//! logged so that it reads back; a damaged audit log is reported and never
//! stops an import; imports into one mirror at once serialise on the
//! kernel lock; a registry killed at any step of an acceptance leaves the
//! old or the new repository; a closed standard output never cuts work
//! short; a full disk leaves the old mirror.
//!
//! Every test starts from a copy of the threat-table world
//! (`crate::threats::World`): ceremony `ceremony/`, registry `reg`,
//! publishers acme and beta, pins `pins/`, and a mirror `mirror` that
//! imported `b1.tar`.

use crate::support::{copy_dir, fault_injection, tree_hash, Run, PASSPHRASE};
use crate::threats::{latest_role, World};
use airlock_core::bundle::{sha256sums, BundleManifest, EntryKind, MANIFEST_PATH, SUMS_PATH};
use airlock_core::hash::sha256_hex;
use serde_json::Value;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const AT: &str = "2026-11-23T12:00:00Z";

/// Text a terminal acts on: a cursor-up-and-erase, a carriage return that
/// lets the rest overwrite the line, a bell, and a right-to-left override.
const HOSTILE: &str = "\x1b[2K\rok  forged\x07\u{202e}";

// ---------------------------------------------------------------------------
// Helpers

/// `airlock ARGS` in the world with the fixture passphrase.
fn run(w: &World, args: &[&str]) -> Run {
    w.sb.run_env(args, &[("AIRLOCK_PASSPHRASE", PASSPHRASE)])
}

/// A `Command` for `airlock ARGS` in `dir`, with the environment
/// `Sandbox::run_env` gives (no inherited `AIRLOCK_*`, the quick scrypt knob,
/// the fixture passphrase) plus `env`, for tests that spawn and wait
/// themselves.
fn airlock(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_airlock"));
    cmd.args(args).current_dir(dir).stdin(Stdio::null());
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("AIRLOCK_") {
            cmd.env_remove(&k);
        }
    }
    cmd.env("AIRLOCK_INSECURE_TEST_SCRYPT_LOG_N", "10");
    cmd.env("AIRLOCK_PASSPHRASE", PASSPHRASE);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// A finished process as a [`Run`].
fn as_run(args: &[&str], out: std::process::Output) -> Run {
    Run {
        args: args.iter().map(|a| a.to_string()).collect(),
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A new release of `role` in the world's registry `reg` (as the world
/// makes its releases): publish, then accept.
fn release(w: &World, role: &str, target: &str, bytes: &[u8]) {
    let sub = publish(w, "reg", role, target, bytes);
    w.ok(&["registry", "accept", &sub, "--repo", "reg", "--key", "ceremony/keys/index.key", "--at", AT]);
}

/// `airlock publish` of one artifact for `role`, carrying its last release
/// in `repo`; returns the submission directory.
fn publish(w: &World, repo: &str, role: &str, target: &str, bytes: &[u8]) -> String {
    let file = format!("art-{}", sha256_hex(bytes));
    w.sb.write(&file, bytes);
    let sub = format!("sub-{}", &sha256_hex(format!("{repo}{role}{target}").as_bytes())[..16]);
    let key = format!("{role}.key");
    let artifact = format!("{file}={target}");
    let mut args = vec![
        "publish",
        "--role",
        role,
        "--key",
        &key,
        "--artifact",
        &artifact,
        "--out-dir",
        &sub,
        "--at",
        AT,
    ];
    let prev = latest_role(&w.sb.path(&format!("{repo}/metadata")), role);
    if let Some(p) = &prev {
        args.extend_from_slice(&["--current", p]);
    }
    w.ok(&args);
    sub
}

/// `airlock bundle create --repo reg --out OUT`.
fn bundle(w: &World, out: &str) {
    w.ok(&["bundle", "create", "--repo", "reg", "--out", out, "--at", AT]);
}

/// acme 2.0 and `b2.tar`, as the threat table's `new_release`.
fn new_release(w: &World) {
    release(w, "acme", "acme/tool-2.0.tar.gz", b"acme tool 2.0\n");
    bundle(w, "b2.tar");
}

/// Hash of what mirror `dir` serves and trusts (not the audit log).
fn mirror_state(w: &World, dir: &str) -> (String, String) {
    (tree_hash(&w.sb.path(&format!("{dir}/served"))), tree_hash(&w.sb.path(&format!("{dir}/state/repos"))))
}

/// The lines of mirror `dir`'s audit log.
fn audit_lines(w: &World, dir: &str) -> Vec<String> {
    std::fs::read_to_string(w.sb.path(&format!("{dir}/state/audit.jsonl")))
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The snapshot version a served (or registry) metadata directory's
/// `timestamp.json` names.
fn served_snapshot(meta: &Path) -> u64 {
    let ts: Value = serde_json::from_slice(&std::fs::read(meta.join("timestamp.json")).unwrap()).unwrap();
    ts["signed"]["meta"]["snapshot.json"]["version"].as_u64().unwrap()
}

/// Every path under `dir`, relative to it.
fn listing(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, d: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(d).unwrap().flatten() {
            out.push(e.path().strip_prefix(base).unwrap().to_string_lossy().into_owned());
            if e.file_type().unwrap().is_dir() {
                walk(base, &e.path(), out);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// A plain bundle's entries, (raw name bytes, data), in order.
fn entries_of(bytes: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut a = tar::Archive::new(bytes);
    a.entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let p = e.path_bytes().to_vec();
            let mut d = Vec::new();
            e.read_to_end(&mut d).unwrap();
            (p, d)
        })
        .collect()
}

/// A ustar archive of `entries`, each name written raw into the header's
/// name field (so it may hold any byte but NUL).
fn tar_of(entries: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in entries {
        let mut h = tar::Header::new_ustar();
        assert!(name.len() <= 100, "name too long for the ustar name field");
        h.as_ustar_mut().unwrap().name[..name.len()].copy_from_slice(name);
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append(&h, &data[..]).unwrap();
    }
    b.into_inner().unwrap()
}

/// Rewrites a plain bundle: `edit` may change any entry's data (the
/// manifest is the first, as JSON), then the manifest's lengths and hashes
/// and SHA256SUMS are made to agree with the data, unless `edit_manifest`
/// is given, which edits the manifest last (as JSON) after the fix.
fn rewrite(
    bytes: &[u8],
    mut edit: impl FnMut(&str, &mut Vec<u8>),
    edit_manifest: impl FnOnce(&mut Value),
) -> Vec<u8> {
    let mut entries = entries_of(bytes);
    for (p, d) in entries.iter_mut().skip(1) {
        let name = String::from_utf8(p.clone()).unwrap();
        if name != SUMS_PATH {
            edit(&name, d);
        }
    }
    let mut m = BundleManifest::from_bytes(&entries[0].1).unwrap();
    let mut listed = m.entries.to_vec();
    for e in listed.iter_mut() {
        if let Some((_, d)) = entries.iter().find(|(p, _)| p == e.path.as_str().as_bytes()) {
            e.length = d.len() as u64;
            e.sha256 = sha256_hex(d);
        }
    }
    m.entries = listed.iter().cloned().collect();
    let sums = sha256sums(&m.entries).into_bytes();
    if let Some(s) = listed.iter_mut().find(|e| e.kind == EntryKind::Sums) {
        s.length = sums.len() as u64;
        s.sha256 = sha256_hex(&sums);
    }
    m.entries = listed.into_iter().collect();
    let n = entries.len();
    entries[n - 1].1 = sums;
    let mut v: Value = serde_json::from_slice(&m.to_bytes()).unwrap();
    edit_manifest(&mut v);
    // serde_json escapes control characters, so the manifest stays JSON.
    entries[0].1 = serde_json::to_vec(&v).unwrap();
    assert_eq!(entries[0].0, MANIFEST_PATH.as_bytes());
    tar_of(&entries)
}

/// Characters a terminal would act on, anywhere but a line end: C0 and C1
/// controls, DEL, and bidirectional controls.
fn raw_controls(text: &str) -> Vec<char> {
    text.chars()
        .filter(|&c| {
            let u = c as u32;
            (u < 0x20 && c != '\n')
                || (0x7f..=0x9f).contains(&u)
                || matches!(u, 0x200e | 0x200f | 0x061c | 0x202a..=0x202e | 0x2066..=0x2069)
        })
        .collect()
}

/// Asserts neither stdout nor stderr of `run` carries a raw control.
#[track_caller]
fn assert_terminal_safe(run: &Run) {
    for (name, text) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
        let bad = raw_controls(text);
        assert!(
            bad.is_empty(),
            "{name} of airlock {:?} (exit {}) carries raw control characters {bad:?}:\n{text:?}",
            run.args,
            run.code
        );
    }
}

/// For `--json` runs: stdout is exact JSON, which escapes every C0 control
/// (a bidirectional control may stand in it as itself), and stderr is for
/// the terminal.
#[track_caller]
fn assert_json_safe(run: &Run) {
    let bad: Vec<char> = run.stdout.chars().filter(|&c| (c < ' ' && c != '\n') || c == '\x7f').collect();
    assert!(bad.is_empty(), "JSON stdout of airlock {:?} carries raw controls {bad:?}", run.args);
    let bad = raw_controls(&run.stderr);
    assert!(bad.is_empty(), "stderr of airlock {:?} carries raw controls {bad:?}", run.args);
}

/// Whether `text` shows an ESC as a visible escape.
fn shows_escaped_esc(text: &str) -> bool {
    text.contains("\\x1b") || text.contains("\\u{1b}") || text.contains("\\u001b")
}

// ---------------------------------------------------------------------------
// 1. Control characters in a bundle, its name and its refusal

#[test]
fn control_characters_in_a_bundle_reach_neither_the_terminal_nor_the_log() {
    let w = World::new();
    new_release(&w);
    let good = w.sb.read("b2.tar");
    // (a) An entry whose name would erase the line and print a forged "ok".
    let mut entries = entries_of(&good);
    entries.insert(1, (b"metadata/\x1b[2K\rok  forged\x07\n.json".to_vec(), b"{}".to_vec()));
    let named = format!("entry\x1b[31m\n{}.tar", '\u{202e}');
    w.sb.write(&named, tar_of(&entries));
    // (b) A manifest whose registry identity is hostile text: the refusal
    // reason (and so the audit record) carries it raw.
    let registry = format!("{HOSTILE} registry");
    let reg_bundle = "registry\x1b]0;title\x07.tar".to_owned();
    w.sb.write(&reg_bundle, rewrite(&good, |_, _| {}, |m| m["registry"] = Value::String(registry.clone())));
    // (c) A manifest listing a target path with an ESC in it.
    let path_bundle = "path\x1b[1A.tar".to_owned();
    w.sb.write(
        &path_bundle,
        rewrite(
            &good,
            |_, _| {},
            |m| {
                let entries = m["entries"].as_array_mut().unwrap();
                let t = entries.iter_mut().find(|e| e["kind"] == "target").unwrap();
                t["path"] = Value::String(format!("targets/acme/{HOSTILE}.tar.gz"));
            },
        ),
    );

    let before = mirror_state(&w, "mirror");
    let logged = audit_lines(&w, "mirror").len();
    for b in [&named, &reg_bundle, &path_bundle] {
        let r = run(&w, &["mirror", "import", "mirror", b, "--at", AT]);
        // `fails` also proves no raw newline split the error line.
        r.fails(1);
        assert_terminal_safe(&r);
        assert!(shows_escaped_esc(r.error_line()), "the error line shows no escaped ESC: {r:?}");
        assert!(r.error_line().contains("the mirror is unchanged"), "{r:?}");
        assert_eq!(mirror_state(&w, "mirror"), before, "a refused bundle changed the mirror");
    }
    // The refusal reason with raw controls is escaped on the error line...
    let r = run(&w, &["mirror", "import", "mirror", &reg_bundle, "--at", AT]);
    r.fails(1).mentions(&["no pinned repository", "\\x1b[2K\\rok  forged\\x07\\u{202e} registry"]);
    // ... and carried exactly by --json.
    let j = run(&w, &["mirror", "import", "mirror", &reg_bundle, "--json", "--at", AT]);
    assert_eq!(j.code, 1, "{j:?}");
    assert_json_safe(&j);
    let report = j.json();
    assert_eq!(report["bundle"], Value::String(reg_bundle.clone()));
    assert_eq!(report["imported"], Value::Bool(false));
    assert!(report["error"].as_str().unwrap().contains(&registry), "{report}");
    assert_eq!(audit_lines(&w, "mirror").len(), logged + 5, "every refusal is logged once");

    // The audit log holds no raw control byte, and every line reads back.
    let log = w.sb.read("mirror/state/audit.jsonl");
    let bad: Vec<u8> = log.iter().copied().filter(|&b| (b < 0x20 && b != b'\n') || b == 0x7f).collect();
    assert!(bad.is_empty(), "the audit log holds raw control bytes {bad:?}");
    let records: Vec<Value> = String::from_utf8(log)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("audit line does not read back ({e}): {l}"))
        })
        .collect();
    for b in [&named, &reg_bundle, &path_bundle] {
        assert!(
            records.iter().any(|r| r["details"]["bundle"] == Value::String(b.to_string())),
            "no audit record carries the bundle name {b:?} exactly"
        );
    }
    assert!(
        records.iter().any(|r| r["details"]["reason"].as_str().is_some_and(|s| s.contains(&registry))),
        "no audit record carries the hostile reason exactly"
    );

    // `mirror log` lists them, escaped, and the log is intact.
    let l = run(&w, &["mirror", "log", "mirror"]);
    l.ok();
    assert_terminal_safe(&l);
    assert!(!l.stdout.as_bytes().contains(&0x1b));
    assert!(l.stdout.contains("entry\\x1b[31m\\n\\u{202e}.tar"), "{}", l.stdout);
    assert!(l.stdout.contains("\\x1b[2K\\rok  forged\\x07\\u{202e} registry"), "{}", l.stdout);
    assert!(l.stdout.contains("hash chain intact"), "{}", l.stdout);
    let v = run(&w, &["mirror", "verify", "mirror", "--at", AT]);
    v.ok();
    assert_terminal_safe(&v);
    // A good bundle imports after all that.
    w.import_ok("b2.tar");
    let l = run(&w, &["mirror", "log", "mirror"]);
    l.ok();
    assert!(l.stdout.lines().rev().nth(1).is_some_and(|s| s.contains("import accepted")), "{}", l.stdout);
}

// ---------------------------------------------------------------------------
// 2. Every command that prints untrusted text escapes it

/// A bundle whose manifest and acme role carry hostile text: a registry
/// identity, a namespace, a target path and a provenance tool.
fn hostile_inspection_bundle(w: &World) -> Vec<u8> {
    let good = w.sb.read("b2.tar");
    rewrite(
        &good,
        |p, d| {
            if p.ends_with(".acme.json") {
                let mut v: Value = serde_json::from_slice(d).unwrap();
                let targets = v["signed"]["targets"].as_object_mut().unwrap();
                let mut t = targets.values().next().unwrap().clone();
                t["custom"] = serde_json::json!({"airlock": {"provenance": {
                    "ai_generated": true, "tool": "\x1b[31mevil", "model": null,
                    "reviewed_by": null, "reviewed_at": null, "attributes": {}}}});
                targets.insert(format!("acme/{HOSTILE}gpj.exe"), t);
                *d = serde_json::to_vec(&v).unwrap();
            }
        },
        |m| {
            m["registry"] = Value::String(format!("\x1b]0;pwned\x07{HOSTILE}"));
            m["namespaces"] = serde_json::json!(["acme/\x1b[31m*"]);
        },
    )
}

#[test]
fn bundle_inspect_escapes_names_paths_and_provenance() {
    let w = World::new();
    new_release(&w);
    // Provenance with a terminal escape: publish may refuse it (then it is
    // carried into the bundle by hand below); either way it prints safely.
    w.sb.write("evil-art", b"evil\n");
    let p = run(
        &w,
        &[
            "publish",
            "--role",
            "acme",
            "--key",
            "acme.key",
            "--artifact",
            "evil-art=acme/evil.txt",
            "--tool",
            "\x1b[31mevil",
            "--out",
            "sub-evil",
            "--at",
            AT,
        ],
    );
    assert_terminal_safe(&p);
    if p.code != 0 {
        p.fails(2).mentions(&["provenance tool", "control characters"]);
        assert!(!w.sb.exists("sub-evil"), "a refused publish left a submission");
    }
    w.sb.write("inspect.tar", hostile_inspection_bundle(&w));
    let r = run(&w, &["bundle", "inspect", "inspect.tar"]);
    r.ok();
    assert_terminal_safe(&r);
    assert!(r.stdout.contains("NOTHING HERE IS VERIFIED"), "{}", r.stdout);
    for shown in [
        "registry \\x1b]0;pwned\\x07\\x1b[2K\\rok  forged\\x07\\u{202e}",
        "namespaces: acme/\\x1b[31m*",
        "acme/\\x1b[2K\\rok  forged\\x07\\u{202e}gpj.exe",
    ] {
        assert!(r.stdout.contains(shown), "inspect does not show {shown:?}:\n{}", r.stdout);
    }
    // The provenance is shown as JSON inside the line, its ESC escaped.
    let prov = r.stdout.lines().find(|l| l.contains("gpj.exe")).unwrap();
    assert!(prov.contains("provenance") && shows_escaped_esc(prov), "{prov}");
    // --json is exact JSON: the hostile text comes back byte for byte.
    let j = run(&w, &["bundle", "inspect", "inspect.tar", "--json"]);
    j.ok();
    assert_json_safe(&j);
    let v = j.json();
    assert_eq!(v["inspection"]["manifest"]["registry"], Value::String(format!("\x1b]0;pwned\x07{HOSTILE}")));
    let paths: Vec<&str> =
        v["inspection"]["targets"].as_array().unwrap().iter().map(|t| t[0].as_str().unwrap()).collect();
    assert!(paths.contains(&format!("acme/{HOSTILE}gpj.exe").as_str()), "{paths:?}");
}

#[test]
fn bundle_verify_escapes_its_refusal() {
    let w = World::new();
    new_release(&w);
    w.sb.write("inspect.tar", hostile_inspection_bundle(&w));
    let r = run(&w, &["bundle", "verify", "inspect.tar", "--pins", "ceremony/1.root.json", "--at", AT]);
    r.fails(1).mentions(&["\\x1b]0;pwned\\x07\\x1b[2K\\rok  forged\\x07\\u{202e}"]);
    assert_terminal_safe(&r);
    let j =
        run(&w, &["bundle", "verify", "inspect.tar", "--pins", "ceremony/1.root.json", "--json", "--at", AT]);
    assert_eq!(j.code, 1, "{j:?}");
    assert_json_safe(&j);
    let v = j.json();
    assert_eq!(v["verified"], Value::Bool(false));
    assert!(v["error"].as_str().unwrap().contains(HOSTILE), "--json does not carry the reason exactly: {v}");
    // The same bundle with only the role changed: refused for the role.
    let role_only = rewrite(
        &w.sb.read("b2.tar"),
        |p, d| {
            if p.ends_with(".acme.json") {
                let mut v: Value = serde_json::from_slice(d).unwrap();
                let targets = v["signed"]["targets"].as_object_mut().unwrap();
                let t = targets.values().next().unwrap().clone();
                targets.insert(format!("acme/{HOSTILE}"), t);
                *d = serde_json::to_vec(&v).unwrap();
            }
        },
        |_| {},
    );
    w.sb.write("role.tar", role_only);
    let r = run(&w, &["bundle", "verify", "role.tar", "--pins", "ceremony/1.root.json", "--at", AT]);
    r.fails(1);
    assert_terminal_safe(&r);
}

#[test]
fn mirror_log_and_verify_escape_what_a_log_record_carries() {
    let w = World::new();
    // A record anyone able to write the log could append, chained properly,
    // whose step and details carry terminal controls.
    let path = w.sb.path("mirror/state/audit.jsonl");
    airlock_keyceremony::transcript::append_to_log(
        &path,
        airlock_keyceremony::transcript::NewRecord {
            time: airlock_core::Timestamp::parse(AT).unwrap(),
            step: format!("import accepted{HOSTILE}"),
            rehearsal: false,
            allow_online: false,
            key_ids: Vec::new(),
            files: Vec::new(),
            details: serde_json::json!({"bundle": format!("b9.tar{HOSTILE}"), "reason": format!("why{HOSTILE}")}),
        },
    )
    .unwrap();
    let raw = w.sb.read("mirror/state/audit.jsonl");
    assert!(!raw.contains(&0x1b), "the log line holds a raw ESC");
    let l = run(&w, &["mirror", "log", "mirror"]);
    l.ok();
    assert_terminal_safe(&l);
    let line = l.stdout.lines().find(|s| s.contains("b9.tar")).unwrap_or_else(|| panic!("{}", l.stdout));
    assert!(line.contains("import accepted\\x1b[2K\\rok  forged\\x07\\u{202e}"), "{line}");
    assert!(line.contains("b9.tar\\x1b[2K\\rok  forged\\x07\\u{202e}"), "{line}");
    assert!(line.contains("(why\\x1b[2K\\rok  forged\\x07\\u{202e})"), "{line}");
    // --json carries the text exactly.
    let j = run(&w, &["mirror", "log", "mirror", "--json"]);
    j.ok();
    assert_json_safe(&j);
    let recs = j.json()["records"].as_array().unwrap().clone();
    assert_eq!(recs.last().unwrap()["step"], Value::String(format!("import accepted{HOSTILE}")));
    // The record is chained and canonical: verify finds nothing wrong.
    let v = run(&w, &["mirror", "verify", "mirror", "--at", AT]);
    v.ok();
    assert_terminal_safe(&v);
}

#[test]
fn mirror_verify_and_log_escape_a_damaged_line() {
    let w = World::new();
    let mut log = w.sb.read("mirror/state/audit.jsonl");
    log.extend_from_slice(format!("{{\"seq\": 2, \"step\": \"{HOSTILE}\"}} \x1b[31m\n").as_bytes());
    w.sb.write("mirror/state/audit.jsonl", &log);
    let v = run(&w, &["mirror", "verify", "mirror", "--at", AT]);
    v.fails(1);
    assert_terminal_safe(&v);
    assert!(v.stdout.contains("PROBLEM") && v.stdout.contains("audit log: line 2"), "{}", v.stdout);
    let l = run(&w, &["mirror", "log", "mirror"]);
    l.fails(1);
    assert_terminal_safe(&l);
    assert!(l.stdout.contains("DAMAGED  line 2"), "{}", l.stdout);
}

/// `ceremony sign DRAFT` as alice, confirming `confirm`.
fn sign_as_alice(w: &World, draft: &str, confirm: &str) -> Run {
    run(
        w,
        &[
            "ceremony",
            "sign",
            draft,
            "--root",
            "ceremony/1.root.json",
            "--key",
            "ceremony/keys/alice.key",
            "--confirm",
            confirm,
            "--allow-online",
            "--at",
            AT,
        ],
    )
}

/// A draft `draft.json` adding publisher evil, whose namespaces were edited
/// by hand (or by whoever passed it on) to carry terminal controls, after
/// checking that proposing such a namespace is refused outright.
fn hostile_targets_draft(w: &World) {
    w.ok(&["key", "generate", "--out", "evil"]);
    let add = |ns: &str, out: &str| {
        let args = [
            "registry",
            "publisher",
            "add",
            "evil",
            "--key",
            "evil.pub",
            "--namespace",
            ns,
            "--repo",
            "reg",
            "--out",
            out,
            "--at",
            AT,
        ];
        run(w, &args)
    };
    let r = add("\x1b[31mevil/*", "refused.json");
    assert_ne!(r.code, 0, "a namespace with an ESC was proposed: {r:?}");
    r.fails(r.code);
    assert_terminal_safe(&r);
    assert!(!w.sb.exists("refused.json"));
    add("evil/*", "draft.json").ok();
    let mut d: Value = serde_json::from_slice(&w.sb.read("draft.json")).unwrap();
    let roles = d["proposed"]["signed"]["delegations"]["roles"].as_array_mut().unwrap();
    let evil = roles.iter_mut().find(|r| r["name"] == "evil").unwrap();
    evil["paths"] = serde_json::json!([format!("{HOSTILE}evil/*"), "acme/\x1b[8m*"]);
    w.sb.write("draft.json", serde_json::to_vec_pretty(&d).unwrap());
}

#[test]
fn targets_draft_review_escapes_publisher_namespaces() {
    let w = World::new();
    hostile_targets_draft(&w);
    let r = sign_as_alice(&w, "draft.json", "0000");
    // The review is shown, then the (wrong) confirmation stops the signing.
    r.fails(2).mentions(&["does not match the payload hash"]);
    assert_terminal_safe(&r);
    assert!(r.stdout.contains("changes:"), "no review was shown:\n{}", r.stdout);
    assert!(r.stdout.contains("\\x1b[2K\\rok  forged\\x07\\u{202e}evil/*"), "{}", r.stdout);
    assert!(r.stdout.contains("acme/\\x1b[8m*"), "{}", r.stdout);
}

#[test]
fn a_hostile_namespace_is_never_published_and_registry_outputs_stay_safe() {
    let w = World::new();
    hostile_targets_draft(&w);
    // A custodian signs it anyway (with the hash shown, escaped) and the
    // registry publishes it: whatever the registry makes of it, what it
    // prints stays terminal-safe.
    let review = sign_as_alice(&w, "draft.json", "0000");
    let hash = review.stdout.lines().find_map(|l| l.strip_prefix("payload hash: ")).unwrap().to_owned();
    let signed = sign_as_alice(&w, "draft.json", &hash);
    signed.ok();
    assert_terminal_safe(&signed);
    let fin = run(
        &w,
        &[
            "registry",
            "targets",
            "finalize",
            "draft.json",
            "--repo",
            "reg",
            "--key",
            "ceremony/keys/index.key",
            "--at",
            AT,
        ],
    );
    assert_terminal_safe(&fin);
    // What `publisher add` refuses, `targets finalize` refuses too, even
    // signed by the custodians: a hand-edited draft gets no further.
    fin.fails(2).mentions(&["control characters are not allowed"]);
    let mut unsafe_outputs = Vec::new();
    for args in [
        &["registry", "publisher", "list", "--repo", "reg"][..],
        &["registry", "status", "--repo", "reg", "--at", AT],
        &["registry", "verify", "--repo", "reg", "--at", AT],
        &["bundle", "create", "--repo", "reg", "--out", "b-evil.tar", "--at", AT],
    ] {
        let r = run(&w, args);
        assert!(r.code == 0 || r.code == 1, "{r:?}");
        if !raw_controls(&r.stdout).is_empty() || !raw_controls(&r.stderr).is_empty() {
            unsafe_outputs.push(format!("airlock {}: {:?} {:?}", args.join(" "), r.stdout, r.stderr));
        }
    }
    assert!(unsafe_outputs.is_empty(), "raw controls printed:\n{}", unsafe_outputs.join("\n"));
}

#[test]
fn root_draft_review_escapes_the_registry_and_custodian_names() {
    let w = World::new();
    w.ok(&["key", "generate", "--out", "bob"]);
    w.ok(&[
        "ceremony",
        "propose",
        "--root",
        "ceremony/1.root.json",
        "--out",
        "ceremony/draft-2.json",
        "--add-custodian",
        "bob=bob.pub",
        "--allow-online",
        "--at",
        AT,
    ]);
    // Whoever passed the draft on renamed the registry and the new custodian.
    let mut d: Value = serde_json::from_slice(&w.sb.read("ceremony/draft-2.json")).unwrap();
    let ext = &mut d["signed"]["x-airlock"];
    ext["registry"] = Value::String(format!("example{HOSTILE}"));
    for (_, name) in ext["custodians"].as_object_mut().unwrap().iter_mut() {
        if name == "bob" {
            *name = Value::String(format!("bob{HOSTILE}"));
        }
    }
    w.sb.write("ceremony/draft-2.json", serde_json::to_vec_pretty(&d).unwrap());
    let r = run(
        &w,
        &[
            "ceremony",
            "sign",
            "ceremony/draft-2.json",
            "--root",
            "ceremony/1.root.json",
            "--key",
            "ceremony/keys/alice.key",
            "--confirm",
            "0000",
            "--allow-online",
            "--at",
            AT,
        ],
    );
    assert!(r.stdout.contains("changes from root version 1 to 2"), "no review was shown: {r:?}");
    assert_terminal_safe(&r);
    assert!(r.stdout.contains("example\\x1b[2K\\rok  forged\\x07\\u{202e}"), "{}", r.stdout);
    assert!(r.stdout.contains("bob\\x1b[2K\\rok  forged\\x07\\u{202e}"), "{}", r.stdout);
    r.fails(2);
}

// ---------------------------------------------------------------------------
// 3. A damaged audit log is reported and never stops an import

#[test]
fn a_damaged_audit_log_is_reported_and_imports_go_on() {
    let w = World::new();
    new_release(&w);
    // The same mirror with its log intact, to compare the import against.
    copy_dir(&w.sb.path("mirror"), &w.sb.path("clean"));
    let mut log = w.sb.read("mirror/state/audit.jsonl");
    log.extend_from_slice(b"garbage, not a record\n");
    log.extend_from_slice("{\"seq\":3,\"step\":\"\x1b[2Kimport accepted\"}\n".as_bytes());
    w.sb.write("mirror/state/audit.jsonl", &log);

    let v = run(&w, &["mirror", "verify", "mirror", "--at", AT]);
    v.fails(1).mentions(&["2 problem(s) found"]);
    assert_terminal_safe(&v);
    for n in [2, 3] {
        assert!(v.stdout.contains(&format!("PROBLEM  mirror: audit log: line {n}")), "{}", v.stdout);
    }
    let l = run(&w, &["mirror", "log", "mirror"]);
    l.fails(1).mentions(&["2 damaged line(s)"]);
    assert_terminal_safe(&l);
    assert!(l.stdout.contains("DAMAGED  line 2") && l.stdout.contains("DAMAGED  line 3"), "{}", l.stdout);
    assert!(l.stdout.contains("hash chain DAMAGED"), "{}", l.stdout);

    // An import still works, and its record reads back after the damage.
    run(&w, &["mirror", "import", "mirror", "b2.tar", "--at", AT]).ok();
    let after = w.sb.read("mirror/state/audit.jsonl");
    assert!(after.starts_with(&log), "the import rewrote the damaged log instead of appending to it");
    assert!(!after[log.len()..].contains(&0x1b), "the appended record holds a raw ESC");
    let scan = airlock_keyceremony::transcript::scan(&after);
    let last = scan.records.last().unwrap();
    assert_eq!(last.step, "import accepted");
    assert_eq!(last.seq, 4, "the record is numbered after every line, damaged or not");
    assert_eq!(last.details["bundle"], "b2.tar");
    assert_eq!(scan.damage.len(), 2, "only the two damaged lines are damage: {:?}", scan.damage);
    let l = run(&w, &["mirror", "log", "mirror"]);
    l.fails(1);
    assert_terminal_safe(&l);
    let rec = l.stdout.lines().find(|s| s.contains("b2.tar")).unwrap_or_else(|| panic!("{}", l.stdout));
    assert!(rec.contains("import accepted"), "{rec}");
    // Only the damage is a problem: the imported state checks out.
    let v = run(&w, &["mirror", "verify", "mirror", "--at", AT]);
    v.fails(1).mentions(&["2 problem(s) found"]);
    assert_eq!(v.stdout.lines().filter(|l| l.starts_with("PROBLEM")).count(), 2, "{}", v.stdout);

    // The trusted state and served tree are the new import's: the same as
    // importing b2 into the mirror with an intact log.
    run(&w, &["mirror", "import", "clean", "b2.tar", "--at", AT]).ok();
    assert_eq!(mirror_state(&w, "mirror"), mirror_state(&w, "clean"));
    let b2_snapshot =
        BundleManifest::from_bytes(&entries_of(&w.sb.read("b2.tar"))[0].1).unwrap().snapshot_version;
    assert_eq!(served_snapshot(&w.sb.path("mirror/served/example/metadata")), b2_snapshot);
}

// ---------------------------------------------------------------------------
// 4. Imports at once, a held lock, a killed holder

/// Releases 2 to 5 of the registry, each bundled after it: `b2.tar` ..
/// `b5.tar`, with the snapshot version each carries.
fn four_bundles(w: &World) -> Vec<(String, u64)> {
    let releases: [(&str, &str, &[u8]); 4] = [
        ("acme", "acme/tool-2.0.tar.gz", b"acme tool 2.0\n"),
        ("beta", "beta/lib-2.txt", b"beta lib 2\n"),
        ("acme", "acme/tool-3.0.tar.gz", b"acme tool 3.0\n"),
        ("beta", "beta/lib-3.txt", b"beta lib 3\n"),
    ];
    let mut out = Vec::new();
    for (i, (role, target, bytes)) in releases.into_iter().enumerate() {
        release(w, role, target, bytes);
        let name = format!("b{}.tar", i + 2);
        bundle(w, &name);
        let m = BundleManifest::from_bytes(&entries_of(&w.sb.read(&name))[0].1).unwrap();
        out.push((name, m.snapshot_version));
    }
    out
}

#[test]
fn imports_of_different_bundles_at_once_serialise_on_the_lock() {
    let w = World::new();
    let bundles = four_bundles(&w);
    let newest = bundles.iter().map(|(_, v)| *v).max().unwrap();
    for round in 0..5 {
        let dir = format!("round{round}");
        copy_dir(&w.sb.path("mirror"), &w.sb.path(&dir));
        let logged = audit_lines(&w, &dir).len();
        // Start all four before waiting for any: the kernel lock decides
        // the order, and each waits for the one before it.
        let children: Vec<(String, std::process::Child)> = bundles
            .iter()
            .map(|(b, _)| {
                let args = ["mirror", "import", &dir, b, "--wait", "30", "--at", AT];
                let child = airlock(w.sb.root(), &args, &[])
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("spawn airlock");
                (b.clone(), child)
            })
            .collect();
        let mut accepted = Vec::new();
        for (b, child) in children {
            let args = ["mirror", "import", &dir, &b];
            let r = as_run(&args, child.wait_with_output().unwrap());
            assert!(!r.stderr.contains("panicked"), "round {round}: {r:?}");
            match r.code {
                0 => accepted.push(b),
                // Older than what another import already put in: refused.
                1 => {
                    r.fails(1).mentions(&["rollback"]);
                }
                _ => panic!("round {round}: neither imported nor refused: {r:?}"),
            }
        }
        eprintln!("round {round}: accepted {accepted:?}");
        run(&w, &["mirror", "verify", &dir, "--at", AT]).ok();
        assert!(accepted.contains(&"b5.tar".to_owned()), "round {round}: the newest bundle was refused");
        // One record per process, accepted ones as many as exited 0.
        let lines = audit_lines(&w, &dir);
        assert_eq!(lines.len(), logged + bundles.len(), "round {round}: {lines:#?}");
        let records: Vec<Value> = lines[logged..].iter().map(|l| serde_json::from_str(l).unwrap()).collect();
        let logged_accepted: Vec<&str> = records
            .iter()
            .filter(|r| r["step"] == "import accepted")
            .map(|r| r["details"]["bundle"].as_str().unwrap())
            .collect();
        let mut want: Vec<&str> = accepted.iter().map(String::as_str).collect();
        want.sort();
        let mut got = logged_accepted.clone();
        got.sort();
        assert_eq!(got, want, "round {round}: the log's acceptances are not the processes that exited 0");
        assert_eq!(records.iter().filter(|r| r["step"] == "import refused").count(), 4 - accepted.len());
        // Accepted imports went up in version, in log order.
        let versions: Vec<u64> =
            logged_accepted.iter().map(|b| bundles.iter().find(|(n, _)| n == b).unwrap().1).collect();
        assert!(
            versions.windows(2).all(|p| p[0] < p[1]),
            "round {round}: accepted out of order {versions:?}"
        );
        assert_eq!(served_snapshot(&w.sb.path(&format!("{dir}/served/example/metadata"))), newest);
        let state: Value =
            serde_json::from_slice(&w.sb.read(&format!("{dir}/state/repos/example/snapshot.json"))).unwrap();
        assert_eq!(state["signed"]["version"].as_u64(), Some(newest), "round {round}: trusted snapshot");
        assert!(!w.sb.exists(&format!("{dir}/state/journal.json")), "round {round}: a journal was left");
        let staging = std::fs::read_dir(w.sb.path(&format!("{dir}/staging"))).unwrap().count();
        assert_eq!(staging, 0, "round {round}: staging was left behind");
        std::fs::remove_dir_all(w.sb.path(&dir)).unwrap();
    }
}

/// Takes the kernel lock on `path` in this process, as another airlock
/// command would hold it.
fn hold_lock(path: &Path) -> std::fs::File {
    let f =
        std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path).unwrap();
    f.try_lock().expect("the lock is free");
    f
}

#[test]
fn a_held_mirror_lock_refuses_or_makes_an_import_wait() {
    let w = World::new();
    new_release(&w);
    let before = mirror_state(&w, "mirror");
    let logged = audit_lines(&w, "mirror").len();
    let lock = hold_lock(&w.sb.path("mirror/state/lock"));
    let r = run(&w, &["mirror", "import", "mirror", "b2.tar", "--at", AT]);
    r.fails(2).mentions(&["another airlock command is writing this mirror", "--wait SECONDS"]);
    let r = run(&w, &["mirror", "import", "mirror", "b2.tar", "--wait", "1", "--at", AT]);
    r.fails(2).mentions(&["another airlock command is writing this mirror", "waited 1s"]);
    assert_eq!(mirror_state(&w, "mirror"), before, "an import that never got the lock changed the mirror");
    assert_eq!(audit_lines(&w, "mirror").len(), logged, "an import that never got the lock logged");
    // Verifying needs the lock too (it finishes an interrupted import
    // first): it says so rather than report the mirror as broken.
    let v = run(&w, &["mirror", "verify", "mirror", "--at", AT]);
    assert!(v.code == 0 || v.code == 2, "verify under a held lock: {v:?}");
    eprintln!("mirror verify under a held lock: exit {}, {}", v.code, v.error_line());
    // A waiting import goes on once the holder lets go, whenever that is.
    let args = ["mirror", "import", "mirror", "b2.tar", "--wait", "30", "--at", AT];
    let child =
        airlock(w.sb.root(), &args, &[]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    drop(lock);
    as_run(&args, child.wait_with_output().unwrap()).ok();
    run(&w, &["mirror", "verify", "mirror", "--at", AT]).ok();
    assert_eq!(served_snapshot(&w.sb.path("mirror/served/example/metadata")), {
        BundleManifest::from_bytes(&entries_of(&w.sb.read("b2.tar"))[0].1).unwrap().snapshot_version
    });
}

#[test]
fn a_held_registry_lock_refuses_a_second_writer() {
    let w = World::new();
    let sub = publish(&w, "reg", "acme", "acme/tool-2.0.tar.gz", b"acme tool 2.0\n");
    let before = tree_hash(&w.sb.path("reg"));
    let lock = hold_lock(&w.sb.path("reg/registry/lock"));
    let accept =
        ["registry", "accept", &sub, "--repo", "reg", "--key", "ceremony/keys/index.key", "--at", AT];
    let r = run(&w, &accept);
    r.fails(2).mentions(&["lock"]);
    assert_terminal_safe(&r);
    assert_eq!(tree_hash(&w.sb.path("reg")), before, "a writer without the lock changed the registry");
    // Readers do not need it.
    run(&w, &["registry", "verify", "--repo", "reg", "--at", AT]).ok();
    drop(lock);
    run(&w, &accept).ok();
}

#[test]
fn an_import_killed_holding_the_lock_leaves_it_to_the_next() {
    if !fault_injection() {
        return;
    }
    let w = World::new();
    let bundles = four_bundles(&w);
    let (b2, b3) = (&bundles[0], &bundles[1]);
    let logged = audit_lines(&w, "mirror").len();
    let r = w
        .sb
        .run_env(&["mirror", "import", "mirror", &b2.0, "--at", AT], &[("AIRLOCK_TEST_KILL_AT", "journal")]);
    assert_eq!(r.code, -1, "the import was not killed at its journal: {r:?}");
    assert!(w.sb.exists("mirror/state/journal.json"), "no journal after a kill at the journal");
    // The dead holder's lock went with it: no --wait needed.
    run(&w, &["mirror", "import", "mirror", &b3.0, "--at", AT]).ok();
    assert!(!w.sb.exists("mirror/state/journal.json"), "the journal was not rolled forward");
    run(&w, &["mirror", "verify", "mirror", "--at", AT]).ok();
    assert_eq!(served_snapshot(&w.sb.path("mirror/served/example/metadata")), b3.1);
    // The rolled-forward import is logged once, then the next.
    let records: Vec<Value> =
        audit_lines(&w, "mirror")[logged..].iter().map(|l| serde_json::from_str(l).unwrap()).collect();
    let steps: Vec<(&str, &str)> = records
        .iter()
        .map(|r| (r["step"].as_str().unwrap(), r["details"]["bundle"].as_str().unwrap()))
        .collect();
    assert_eq!(steps, [("import accepted", b2.0.as_str()), ("import accepted", b3.0.as_str())]);
    assert_eq!(std::fs::read_dir(w.sb.path("mirror/staging")).unwrap().count(), 0, "staging was left");
}

// ---------------------------------------------------------------------------
// 5. A registry killed at any step of an acceptance

/// acme's role version in `registry status --json` of `repo`.
fn acme_version(w: &World, repo: &str) -> u64 {
    let s = run(w, &["registry", "status", "--repo", repo, "--json", "--at", AT]);
    s.ok();
    let v = s.json();
    let acme = v["publishers"].as_array().unwrap().iter().find(|p| p["name"] == "acme").unwrap().clone();
    acme["role"]["version"].as_u64().unwrap()
}

/// Checks that every file under `repo/metadata` is whole signed metadata,
/// that the timestamp names a snapshot present with its hash, and that the
/// snapshot names role files present with theirs.
#[track_caller]
fn assert_served_registry_whole(w: &World, repo: &str) {
    let meta = w.sb.path(&format!("{repo}/metadata"));
    for e in std::fs::read_dir(&meta).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        assert!(
            !name.starts_with('.') && !name.contains(".tmp"),
            "{repo}: a temporary file is served: {name}"
        );
        let v: Value = serde_json::from_slice(&std::fs::read(e.path()).unwrap())
            .unwrap_or_else(|err| panic!("{repo}/metadata/{name} is not JSON: {err}"));
        assert!(v["signed"]["_type"].is_string() && v["signatures"].is_array(), "{name} is not metadata");
    }
    let read = |name: &str| std::fs::read(meta.join(name)).unwrap_or_else(|e| panic!("{repo}: {name}: {e}"));
    let ts: Value = serde_json::from_slice(&read("timestamp.json")).unwrap();
    let snap_meta = &ts["signed"]["meta"]["snapshot.json"];
    let sv = snap_meta["version"].as_u64().unwrap();
    let snap_bytes = read(&format!("{sv}.snapshot.json"));
    if let Some(h) = snap_meta["hashes"]["sha256"].as_str() {
        assert_eq!(sha256_hex(&snap_bytes), h, "{repo}: the timestamp's snapshot hash");
    }
    let snap: Value = serde_json::from_slice(&snap_bytes).unwrap();
    for (file, m) in snap["signed"]["meta"].as_object().unwrap() {
        let bytes = read(&format!("{}.{file}", m["version"]));
        if let Some(h) = m["hashes"]["sha256"].as_str() {
            assert_eq!(sha256_hex(&bytes), h, "{repo}: the snapshot's hash of {file}");
        }
    }
}

#[test]
fn a_registry_killed_at_any_step_of_an_acceptance_is_old_or_new() {
    if !fault_injection() {
        return;
    }
    let w = World::new();
    let sub = publish(&w, "reg", "acme", "acme/tool-2.0.tar.gz", b"acme tool 2.0\n");
    let old = acme_version(&w, "reg");
    let new = old + 1;
    let snapshot = served_snapshot(&w.sb.path("reg/metadata")) + 1;
    let points = [
        "registry-artifact".to_owned(),
        format!("registry-{new}.acme.json"),
        format!("registry-{snapshot}.snapshot.json"),
        "registry-timestamp.json".to_owned(),
        "registry-published".to_owned(),
        "registry-logged".to_owned(),
    ];
    let mut reached = 0;
    let mut unverified = Vec::new();
    for (i, point) in points.iter().enumerate() {
        let repo = format!("reg{i}");
        copy_dir(&w.sb.path("reg"), &w.sb.path(&repo));
        let accept =
            ["registry", "accept", &sub, "--repo", &repo, "--key", "ceremony/keys/index.key", "--at", AT];
        let r = w.sb.run_env(&accept, &[("AIRLOCK_PASSPHRASE", PASSPHRASE), ("AIRLOCK_TEST_KILL_AT", point)]);
        assert!(r.code == -1 || r.code == 0, "at {point}: neither killed nor accepted: {r:?}");
        if r.code == -1 {
            reached += 1;
        }
        // Whatever happened, the registry verifies as the old or the new one
        // (collected, so that every point is tried before the test fails).
        let v = run(&w, &["registry", "verify", "--repo", &repo, "--at", AT]);
        if v.code != 0 {
            unverified.push(format!("after a kill at {point}: exit {}\n{}{}", v.code, v.stdout, v.stderr));
        }
        assert_served_registry_whole(&w, &repo);
        let after_kill = acme_version(&w, &repo);
        assert!(after_kill == old || after_kill == new, "at {point}: acme version {after_kill}");
        // Accepting again finishes the job, or says it is done.
        let again = run(&w, &accept);
        if after_kill == old {
            again.ok();
        } else {
            again.fails(1).mentions(&["acme"]);
        }
        run(&w, &["registry", "verify", "--repo", &repo, "--at", AT]).ok();
        assert_served_registry_whole(&w, &repo);
        assert_eq!(acme_version(&w, &repo), new, "at {point}: the release is not published");
        // Recorded exactly once.
        let log = std::fs::read_to_string(w.sb.path(&format!("{repo}/registry/accepted.jsonl"))).unwrap();
        let recs = log
            .lines()
            .filter(|l| {
                let v: Value = serde_json::from_str(l).unwrap();
                v["role"] == "acme" && v["version"].as_u64() == Some(new)
            })
            .count();
        assert_eq!(recs, 1, "at {point}: acme version {new} recorded {recs} times:\n{log}");
        std::fs::remove_dir_all(w.sb.path(&repo)).unwrap();
    }
    assert!(reached >= 5, "only {reached} registry crash points were reached");
    assert!(unverified.is_empty(), "registry verify failed right after a crash:\n{}", unverified.join("\n"));
}

// ---------------------------------------------------------------------------
// 6. A closed standard output

/// Runs `airlock ARGS` with stdout a pipe whose read end is already
/// closed: every write to it fails with EPIPE.
fn run_closed_stdout(w: &World, args: &[&str]) -> Run {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = airlock(w.sb.root(), args, &[]).stdout(writer).stderr(Stdio::piped()).output().unwrap();
    as_run(args, out)
}

#[test]
fn a_closed_stdout_never_cuts_the_work_short() {
    let w = World::new();
    new_release(&w);
    let commands: &[&[&str]] = &[
        &["registry", "status", "--repo", "reg", "--json", "--at", AT],
        &["registry", "status", "--repo", "reg", "--at", AT],
        &["bundle", "inspect", "b1.tar"],
        &["bundle", "verify", "b1.tar", "--pins", "ceremony/1.root.json", "--at", AT],
        &["mirror", "log", "mirror"],
        &["mirror", "status", "mirror"],
        &["key", "show", "acme.pub"],
        &["root", "verify", "ceremony", "--trusted", "ceremony/1.root.json", "--at", AT],
        &["mirror", "import", "mirror", "b2.tar", "--at", AT],
        &["mirror", "verify", "mirror", "--at", AT],
        &[
            "ceremony",
            "init",
            "--registry",
            "second",
            "--custodian",
            "carol",
            "--threshold",
            "1",
            "--out",
            "c2",
            "--allow-online",
            "--at",
            AT,
        ],
    ];
    for args in commands {
        let r = run_closed_stdout(&w, args);
        assert!(!r.stderr.contains("panicked"), "{r:?}");
        assert!(!r.stderr.to_lowercase().contains("broken pipe"), "{r:?}");
        r.ok();
    }
    // The import went through to its end.
    run(&w, &["mirror", "verify", "mirror", "--at", AT]).ok();
    let log = audit_lines(&w, "mirror");
    assert!(log.last().unwrap().contains("\"bundle\":\"b2.tar\""), "the import was not logged");
    // The ceremony is complete and its transcript checks out.
    for f in
        ["c2/1.root.json", "c2/1.targets.json", "c2/identity.txt", "c2/keys/carol.key", "c2/keys/index.key"]
    {
        assert!(w.sb.exists(f), "ceremony init with a closed stdout left no {f}");
    }
    run(&w, &["ceremony", "transcript", "verify", "c2/transcript.jsonl"]).ok();
    run(&w, &["root", "verify", "c2", "--trusted", "c2/1.root.json", "--at", AT]).ok();
}

// ---------------------------------------------------------------------------
// 7. A full disk

/// A small tmpfs mounted at a directory; unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(dir).ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Tmpfs(dir.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// Fills the file system holding `dir` with `dir/filler`, then gives back
/// `free` bytes of it.
fn fill_leaving(dir: &Path, free: u64) {
    use std::io::Write;
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).unwrap();
    let chunk = vec![0xa5u8; 4096];
    let mut len = 0u64;
    loop {
        match f.write(&chunk) {
            Ok(0) => break,
            Ok(n) => len += n as u64,
            Err(_) => break,
        }
    }
    f.sync_all().ok();
    f.set_len(len.saturating_sub(free)).unwrap();
}

#[test]
fn a_full_disk_leaves_the_old_mirror() {
    let w = World::new();
    new_release(&w);
    let Some(fs) = Tmpfs::mount(&w.sb.path("small"), "4m") else {
        eprintln!("SKIPPED: cannot mount a tmpfs here");
        return;
    };
    let old = mirror_state(&w, "mirror");
    let mut failed = 0;
    let mut imported = 0;
    let mut outcomes = Vec::new();
    let mut left_behind = Vec::new();
    for free in [0u64, 8 << 10, 16 << 10, 32 << 10, 48 << 10, 52 << 10, 56 << 10, 60 << 10, 64 << 10, 1 << 20]
    {
        let dir = "small/m";
        copy_dir(&w.sb.path("mirror"), &w.sb.path(dir));
        fill_leaving(&fs.0, free);
        let r = run(&w, &["mirror", "import", dir, "b2.tar", "--at", AT]);
        assert!(!r.stderr.contains("panicked"), "{r:?}");
        let state = mirror_state(&w, dir);
        outcomes.push((free, r.code, r.error_line().to_owned()));
        match r.code {
            0 => {
                imported += 1;
                assert_ne!(state, old);
            }
            3 => {
                failed += 1;
                r.fails(3).mentions(&["the mirror is unchanged"]);
                assert_eq!(state, old, "with {free} bytes free: a failed import changed the mirror");
            }
            _ => panic!("with {free} bytes free: {r:?}"),
        }
        // With room again, the mirror verifies, and b2 is in or goes in.
        std::fs::remove_file(fs.0.join("filler")).unwrap();
        run(&w, &["mirror", "verify", dir, "--at", AT]).ok();
        let again = run(&w, &["mirror", "import", dir, "b2.tar", "--at", AT]);
        if r.code == 0 {
            again.fails(1);
        } else {
            again.ok();
        }
        run(&w, &["mirror", "verify", dir, "--at", AT]).ok();
        let leftovers: Vec<String> = listing(&w.sb.path(dir))
            .into_iter()
            .filter(|p| p.contains(".tmp") || p.starts_with("staging/"))
            .collect();
        if !leftovers.is_empty() {
            left_behind.push(format!("with {free} bytes free (exit {}): {leftovers:?}", r.code));
        }
        std::fs::remove_dir_all(w.sb.path(dir)).unwrap();
    }
    eprintln!("free bytes, exit code, error: {outcomes:#?}");
    assert!(failed >= 1, "the disk never filled up");
    assert!(imported >= 1, "no import succeeded even with room");
    assert!(left_behind.is_empty(), "failed imports left files behind for good: {left_behind:#?}");
}
