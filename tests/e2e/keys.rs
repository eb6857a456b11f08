//! `airlock key generate` and `airlock key show`.

use crate::support::{Sandbox, PASSPHRASE, PASS_FILE};
use airlock_core::PublicKey;
use std::os::unix::fs::PermissionsExt;

#[test]
fn generate_writes_private_and_public_files_with_one_key_id() {
    let sb = Sandbox::new();
    let run = sb.run(&["key", "generate", "--out", "alice", "--passphrase-file", PASS_FILE]);
    run.ok();
    let id = run.stdout.trim().to_owned();
    assert_eq!(run.stdout, format!("{id}\n"), "stdout is exactly the key id");
    assert_eq!(id.len(), 64);
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()), "lowercase hex: {id}");

    let mut listing = sb.listing();
    listing.sort();
    assert_eq!(listing, ["alice.key", "alice.pub", PASS_FILE]);

    let mode = sb.path("alice.key").metadata().unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "alice.key mode is {mode:o}");
    let key_text = sb.read_string("alice.key");
    assert!(key_text.starts_with("-----BEGIN AGE ENCRYPTED FILE-----"), "{key_text}");
    assert!(!key_text.contains("PRIVATE KEY"), "the private key must not be in the clear");

    let pem = sb.read_string("alice.pub");
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"), "{pem}");
    assert!(pem.trim_end().ends_with("-----END PUBLIC KEY-----"), "{pem}");
    let public = PublicKey::from_spki_pem(&pem).expect("alice.pub is PEM SPKI");
    assert_eq!(public.keytype, "ed25519");
    assert_eq!(public.key_id().0, id);

    // The public file needs no passphrase (none is available here).
    let shown = sb.run(&["key", "show", "alice.pub", "--json"]);
    shown.ok();
    let j = shown.json();
    assert_eq!(j["keyid"], id.as_str());
    assert_eq!(j["kind"], "public key file");
    assert_eq!(j["keytype"], "ed25519");
    assert_eq!(j["public_pem"], pem.as_str());

    let shown = sb.run(&["key", "show", "alice.key", "--passphrase-file", PASS_FILE, "--json"]);
    shown.ok();
    let j = shown.json();
    assert_eq!(j["keyid"], id.as_str());
    assert_eq!(j["kind"], "encrypted private key file");
    assert_eq!(j["public"], public.keyval.public.as_str());

    // The text form shows the id grouped for reading aloud, and the PEM.
    let shown = sb.run(&["key", "show", "alice.pub"]);
    shown.ok();
    assert!(shown.stdout.contains(&airlock_core::keys::group4(&id)), "{}", shown.stdout);
    assert!(shown.stdout.contains(&pem), "{}", shown.stdout);
}

#[test]
fn generate_and_show_take_the_passphrase_from_the_environment() {
    let sb = Sandbox::empty();
    let env = [("AIRLOCK_PASSPHRASE", "from the environment")];
    let run = sb.run_env(&["key", "generate", "--out", "k"], &env);
    run.ok();
    let id = run.stdout.trim().to_owned();
    assert!(sb.exists("k.key") && sb.exists("k.pub"));

    let shown = sb.run_env(&["key", "show", "k.key", "--json"], &env);
    shown.ok();
    assert_eq!(shown.json()["keyid"], id.as_str());

    // It really was encrypted to that passphrase: the same one from a file works,
    // another one does not.
    sb.write("p", "from the environment\n");
    let shown = sb.run(&["key", "show", "k.key", "--passphrase-file", "p", "--json"]);
    shown.ok();
    assert_eq!(shown.json()["keyid"], id.as_str());
    sb.run_env(&["key", "show", "k.key"], &[("AIRLOCK_PASSPHRASE", "something else")])
        .fails(2)
        .mentions(&["k.key"]);
    // --passphrase-file wins over the environment.
    let shown = sb.run_env(
        &["key", "show", "k.key", "--passphrase-file", "p", "--json"],
        &[("AIRLOCK_PASSPHRASE", "something else")],
    );
    shown.ok();
    assert_eq!(shown.json()["keyid"], id.as_str());
}

#[test]
fn generate_refuses_an_empty_passphrase_in_the_environment() {
    let sb = Sandbox::empty();
    let before = sb.tree_hash();
    let run = sb.run_env(&["key", "generate", "--out", "k"], &[("AIRLOCK_PASSPHRASE", "")]);
    run.fails(2).mentions(&["passphrase"]);
    assert!(run.stdout.is_empty(), "{run:?}");
    assert_eq!(sb.tree_hash(), before);
}

#[test]
fn generate_does_not_follow_a_symlink_in_the_way() {
    let sb = Sandbox::new();
    std::fs::create_dir(sb.path("elsewhere")).unwrap();
    std::os::unix::fs::symlink("elsewhere/stolen.key", sb.path("k.key")).unwrap();
    let before = sb.tree_hash();
    sb.run(&["key", "generate", "--out", "k", "--passphrase-file", PASS_FILE])
        .fails(2)
        .mentions(&["k.key", "exists"]);
    assert_eq!(sb.tree_hash(), before);
    assert!(!sb.exists("elsewhere/stolen.key"));
}

#[test]
fn generate_refuses_an_existing_private_key_file() {
    let sb = Sandbox::new();
    sb.write("k.key", "precious old key\n");
    let before = sb.tree_hash();
    let run = sb.run(&["key", "generate", "--out", "k", "--passphrase-file", PASS_FILE]);
    run.fails(2).mentions(&["k.key", "exists"]);
    assert!(run.stdout.is_empty(), "no key id for a key not made: {run:?}");
    assert_eq!(sb.tree_hash(), before, "a file was written or changed");
    assert!(!sb.exists("k.pub"));
}

#[test]
fn generate_refuses_an_existing_public_key_file() {
    let sb = Sandbox::new();
    sb.write("k.pub", "precious old public key\n");
    let before = sb.tree_hash();
    sb.run(&["key", "generate", "--out", "k", "--passphrase-file", PASS_FILE])
        .fails(2)
        .mentions(&["k.pub", "exists"]);
    assert_eq!(sb.tree_hash(), before, "a file was written or changed");
    assert!(!sb.exists("k.key"), "a private key was left behind");
}

#[test]
fn generate_refuses_when_both_files_exist() {
    let sb = Sandbox::new();
    sb.generate_key("k");
    let before = sb.tree_hash();
    sb.run(&["key", "generate", "--out", "k", "--passphrase-file", PASS_FILE]).fails(2);
    assert_eq!(sb.tree_hash(), before);
}

#[test]
fn generate_without_a_passphrase_source_writes_nothing() {
    let sb = Sandbox::empty();
    let before = sb.tree_hash();
    sb.run(&["key", "generate", "--out", "k"]).fails(2).mentions(&["passphrase"]);
    assert_eq!(sb.tree_hash(), before);
    assert!(sb.listing().is_empty(), "{:?}", sb.listing());
}

#[test]
fn generate_refuses_an_empty_passphrase_file() {
    for content in ["", "\n", "\r\n"] {
        let sb = Sandbox::empty();
        sb.write("empty", content);
        let before = sb.tree_hash();
        sb.run(&["key", "generate", "--out", "k", "--passphrase-file", "empty"])
            .fails(2)
            .mentions(&["empty passphrase"]);
        assert_eq!(sb.tree_hash(), before, "passphrase file {content:?}");
    }
}

#[test]
fn generate_refuses_a_missing_passphrase_file() {
    let sb = Sandbox::empty();
    let before = sb.tree_hash();
    sb.run(&["key", "generate", "--out", "k", "--passphrase-file", "nope"]).fails(2).mentions(&["nope"]);
    assert_eq!(sb.tree_hash(), before);
}

#[test]
fn generate_in_a_missing_directory_fails_without_leaving_files() {
    let sb = Sandbox::new();
    let before = sb.tree_hash();
    let run = sb.run(&["key", "generate", "--out", "no/such/dir/k", "--passphrase-file", PASS_FILE]);
    assert_ne!(run.code, 0, "{run:?}");
    run.fails(run.code);
    assert_eq!(sb.tree_hash(), before);
}

#[test]
fn show_with_the_wrong_passphrase_names_the_file() {
    let sb = Sandbox::new();
    sb.generate_key("k");
    sb.write("wrong", "not the passphrase\n");
    let before = sb.tree_hash();
    sb.run(&["key", "show", "k.key", "--passphrase-file", "wrong"])
        .fails(2)
        .mentions(&["k.key", "passphrase"]);
    assert_eq!(sb.tree_hash(), before);
}

#[test]
fn show_of_a_private_key_without_a_passphrase_source_is_a_usage_error() {
    let sb = Sandbox::new();
    sb.generate_key("k");
    sb.run(&["key", "show", "k.key"]).fails(2).mentions(&["passphrase"]);
}

#[test]
fn show_refuses_a_truncated_key_file() {
    let sb = Sandbox::new();
    sb.generate_key("k");
    let bytes = sb.read("k.key");
    sb.write("half.key", &bytes[..bytes.len() / 2]);
    sb.run(&["key", "show", "half.key", "--passphrase-file", PASS_FILE]).fails(2).mentions(&["half.key"]);
}

#[test]
fn show_refuses_a_key_file_with_one_byte_changed() {
    let sb = Sandbox::new();
    sb.generate_key("k");
    let text = sb.read_string("k.key");
    // Flip one base64 character in the last body line (the ciphertext and its tag).
    let lines: Vec<&str> = text.lines().collect();
    let target = lines.len() - 2;
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        if i == target {
            let mut b = l.as_bytes().to_vec();
            b[0] = if b[0] == b'A' { b'B' } else { b'A' };
            out.push(String::from_utf8(b).unwrap());
        } else {
            out.push((*l).to_owned());
        }
    }
    sb.write("bent.key", out.join("\n") + "\n");
    sb.run(&["key", "show", "bent.key", "--passphrase-file", PASS_FILE]).fails(2).mentions(&["bent.key"]);
}

#[test]
fn show_refuses_a_text_file_that_is_no_key() {
    let sb = Sandbox::new();
    sb.write("notes.txt", "shopping list: eggs, milk\n");
    sb.run(&["key", "show", "notes.txt", "--passphrase-file", PASS_FILE]).fails(2).mentions(&["notes.txt"]);
    sb.write("garbage.pub", "-----BEGIN PUBLIC KEY-----\nnot base64 at all!\n-----END PUBLIC KEY-----\n");
    sb.run(&["key", "show", "garbage.pub"]).fails(2).mentions(&["garbage.pub"]);
}

#[test]
fn show_refuses_an_unencrypted_private_key() {
    let sb = Sandbox::new();
    // A PKCS#8 Ed25519 private key in the clear (RFC 8410 example).
    sb.write(
        "plain.pem",
        "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n-----END PRIVATE KEY-----\n",
    );
    sb.run(&["key", "show", "plain.pem"]).fails(2).mentions(&["plain.pem", "UNENCRYPTED"]);
}

#[test]
fn show_of_a_missing_file_is_a_usage_error() {
    let sb = Sandbox::new();
    sb.run(&["key", "show", "absent.key", "--passphrase-file", PASS_FILE])
        .fails(2)
        .mentions(&["absent.key", "no such file"]);
    sb.run(&["key", "show", "absent.pub"]).fails(2).mentions(&["absent.pub"]);
}

#[test]
fn passphrase_is_never_printed() {
    let sb = Sandbox::new();
    let run = sb.run(&["key", "generate", "--out", "k", "--passphrase-file", PASS_FILE]);
    run.ok();
    assert!(!run.stdout.contains(PASSPHRASE) && !run.stderr.contains(PASSPHRASE));
    let run = sb.run(&["key", "show", "k.key", "--passphrase-file", PASS_FILE, "--json"]);
    run.ok();
    assert!(!run.stdout.contains(PASSPHRASE) && !run.stderr.contains(PASSPHRASE));
}

#[test]
fn a_weak_passphrase_is_refused_for_a_new_key_unless_allowed_for_a_rehearsal() {
    let sb = Sandbox::new();
    let weak = [("AIRLOCK_PASSPHRASE", "abc")];
    let before = sb.tree_hash();
    sb.run_env(&["key", "generate", "--out", "k"], &weak).fails(2).mentions(&["too weak", "strength"]);
    assert_eq!(sb.tree_hash(), before, "nothing may be written");
    // Explicitly allowed (rehearsals, tests): a warning, and the key.
    let run = sb.run_env(&["key", "generate", "--out", "k", "--allow-weak-passphrase"], &weak);
    run.ok();
    assert!(
        run.stderr.contains("too weak") && run.stderr.contains("--allow-weak-passphrase"),
        "{}",
        run.stderr
    );
    // A custodian's passphrase at a ceremony: the same, and a rehearsal may be weak.
    let init = |out: &str, extra: &[&str]| {
        let mut args =
            vec!["ceremony", "init", "--registry", "r", "--custodian", "alice", "--threshold", "1"];
        args.extend(["--out", out, "--allow-online", "--at", "2026-11-23T12:00:00Z"]);
        args.extend_from_slice(extra);
        sb.run_env(&args, &weak)
    };
    init("c1", &[]).fails(2).mentions(&["alice's passphrase", "too weak"]);
    assert!(!sb.exists("c1"));
    init("c2", &["--rehearsal"]).ok();
}
