//! `airlock log verify-checkpoint`: a real checkpoint of Go's checksum
//! database and checkpoints airlock signs (with extension lines and a
//! witness cosignature) verify; a forged signature, a key of another name,
//! a malformed file, a wrong origin and bad keys are refused with their
//! reason and exit code; `--json` prints its documented format.

use crate::support::Sandbox;
use airlock_core::log::{
    cosign, format_cosignature_verifier_key, format_verifier_key, sign_note, Checkpoint, SignedNote,
};
use airlock_core::{Ed25519Signer, Timestamp};
use std::path::Path;

const SUMDB_KEY: &str = "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8";
const SUMDB_FILE: &str = "sumdb-3784599.checkpoint";
const SUMDB_ROOT_B64: &str = "7uvxIZ67TZygcq/AehTD8iHYt81Ih+Zl2Y7vXZbfszQ=";

fn vector(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/log").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn signer(seed: u8) -> Ed25519Signer {
    Ed25519Signer::new(ed25519_dalek::SigningKey::from_bytes(&[seed; 32]))
}

fn public(seed: u8) -> [u8; 32] {
    ed25519_dalek::SigningKey::from_bytes(&[seed; 32]).verifying_key().to_bytes()
}

/// A sandbox holding the real sum.golang.org checkpoint as `sumdb.cp`.
fn sumdb() -> Sandbox {
    let sb = Sandbox::empty();
    sb.write("sumdb.cp", vector(SUMDB_FILE));
    sb
}

/// A checkpoint of log `example.org/log` (key seed 1) with two extension
/// lines, cosigned by witness `w.example` (seed 5).
fn airlock_checkpoint() -> (Vec<u8>, String, String) {
    let cp = Checkpoint {
        origin: "example.org/log".into(),
        size: 12,
        root: [0xab; 32],
        extensions: vec!["first extension".into(), "second extension".into()],
    };
    let mut note = sign_note(&cp.to_text(), "example.org/log", &signer(1)).unwrap();
    cosign(&mut note, "w.example", &signer(5), Timestamp::from_unix(1_750_000_000)).unwrap();
    (
        note.to_bytes(),
        format_verifier_key("example.org/log", &public(1)).unwrap(),
        format_cosignature_verifier_key("w.example", &public(5)).unwrap(),
    )
}

#[test]
fn real_sum_golang_org_checkpoint_verifies() {
    let sb = sumdb();
    let run = sb.run(&["log", "verify-checkpoint", "sumdb.cp", "--key", SUMDB_KEY]);
    run.ok();
    for needle in [
        "sumdb.cp: checkpoint verified",
        "go.sum database tree",
        "3784599",
        SUMDB_ROOT_B64,
        "eeebf1219ebb4d9ca072afc07a14c3f221d8b7cd4887e665d98eef5d96dfb334",
        "verified      sum.golang.org+033de0ae (the log's key)",
    ] {
        assert!(run.stdout.contains(needle), "no {needle:?} in:\n{}", run.stdout);
    }
    // The key from a file: @PATH.
    sb.write("sumdb.vkey", format!("{SUMDB_KEY}\n"));
    sb.run(&["log", "verify-checkpoint", "sumdb.cp", "--key", "@sumdb.vkey"]).ok();
    sb.run(&["log", "verify-checkpoint", "sumdb.cp", "--key", SUMDB_KEY, "--origin", "go.sum database tree"])
        .ok();
}

#[test]
fn extensions_and_witness_cosignatures_shown() {
    let sb = Sandbox::empty();
    let (bytes, log_key, witness_key) = airlock_checkpoint();
    sb.write("cp", &bytes);
    let run = sb.run(&["log", "verify-checkpoint", "cp", "--key", &log_key, "--witness", &witness_key]);
    run.ok();
    for needle in [
        "extension   first extension",
        "extension   second extension",
        "cosigned      w.example+",
        "(witness, at 2025-06-15T15:06:40Z)",
    ] {
        assert!(run.stdout.contains(needle), "no {needle:?} in:\n{}", run.stdout);
    }
    // Without the witness's key its line is shown, not checked.
    let run = sb.run(&["log", "verify-checkpoint", "cp", "--key", &log_key]);
    run.ok();
    assert!(run.stdout.contains("not checked   w.example+"), "{}", run.stdout);
    // A forged cosignature by a witness asked about refuses the checkpoint.
    let mut note = SignedNote::parse(&bytes).unwrap();
    note.signatures[1].signature[30] ^= 1;
    sb.write("bad-witness", note.to_bytes());
    sb.run(&["log", "verify-checkpoint", "bad-witness", "--key", &log_key, "--witness", &witness_key])
        .fails(1)
        .mentions(&["bad-witness", "signature by w.example does not verify"]);
}

#[test]
fn forged_signature_refused() {
    let sb = sumdb();
    let text = String::from_utf8(vector(SUMDB_FILE)).unwrap();
    sb.write("forged.cp", text.replacen("\n3784599\n", "\n3784600\n", 1));
    sb.run(&["log", "verify-checkpoint", "forged.cp", "--key", SUMDB_KEY])
        .fails(1)
        .mentions(&["forged.cp", "signature by sum.golang.org does not verify"]);
    // A changed root hash as well.
    sb.write("root.cp", text.replacen("7uvx", "8uvx", 1));
    sb.run(&["log", "verify-checkpoint", "root.cp", "--key", SUMDB_KEY])
        .fails(1)
        .mentions(&["does not verify"]);
}

#[test]
fn key_of_another_log_refused() {
    let sb = sumdb();
    // Another name, and the right name with another public key.
    let other_name = format_verifier_key("sum.golang.org.example", &public(3)).unwrap();
    sb.run(&["log", "verify-checkpoint", "sumdb.cp", "--key", &other_name])
        .fails(1)
        .mentions(&["no signature by sum.golang.org.example+", "it is signed by sum.golang.org+033de0ae"]);
    let other_key = format_verifier_key("sum.golang.org", &public(3)).unwrap();
    sb.run(&["log", "verify-checkpoint", "sumdb.cp", "--key", &other_key])
        .fails(1)
        .mentions(&["no signature by sum.golang.org+"]);
    // The right key, the wrong origin.
    sb.run(&["log", "verify-checkpoint", "sumdb.cp", "--key", SUMDB_KEY, "--origin", "sum.golang.org"])
        .fails(1)
        .mentions(&["origin \"go.sum database tree\" is not \"sum.golang.org\""]);
}

#[test]
fn malformed_files_refused() {
    let sb = Sandbox::empty();
    sb.write("garbage", "not a signed note\n");
    sb.run(&["log", "verify-checkpoint", "garbage", "--key", SUMDB_KEY])
        .fails(1)
        .mentions(&["garbage", "malformed signed note"]);
    sb.write("binary", [0xffu8, 0xfe, 0, 1]);
    sb.run(&["log", "verify-checkpoint", "binary", "--key", SUMDB_KEY])
        .fails(1)
        .mentions(&["malformed signed note: not UTF-8"]);
    // A note the key did sign whose text is no checkpoint.
    let note = sign_note("just some text\n", "example.org/log", &signer(1)).unwrap();
    sb.write("text.note", note.to_bytes());
    let key = format_verifier_key("example.org/log", &public(1)).unwrap();
    sb.run(&["log", "verify-checkpoint", "text.note", "--key", &key])
        .fails(1)
        .mentions(&["malformed checkpoint"]);
    // Too large to be a checkpoint.
    sb.write("huge", vec![b'a'; (1 << 20) + 1]);
    sb.run(&["log", "verify-checkpoint", "huge", "--key", SUMDB_KEY]).fails(1).mentions(&["too large"]);
    let run = sb.run(&["log", "verify-checkpoint", "huge", "--key", SUMDB_KEY, "--json"]);
    run.fails(1).mentions(&["too large"]);
    assert_eq!(run.json()["verified"], false);
}

#[test]
fn bad_keys_and_missing_files_are_usage_errors() {
    let sb = sumdb();
    // A one-character change to the key material: the key id no longer matches.
    let mangled = SUMDB_KEY.replace("Ac4z", "Ac5z");
    sb.run(&["log", "verify-checkpoint", "sumdb.cp", "--key", &mangled])
        .fails(2)
        .mentions(&["--key", "does not match the key"]);
    sb.run(&["log", "verify-checkpoint", "sumdb.cp", "--key", "sum.golang.org"])
        .fails(2)
        .mentions(&["--key", "not a verifier key"]);
    sb.run(&["log", "verify-checkpoint", "sumdb.cp", "--key", "@no-such.vkey"])
        .fails(2)
        .mentions(&["no-such.vkey", "no such file"]);
    sb.run(&["log", "verify-checkpoint", "no-such.cp", "--key", SUMDB_KEY])
        .fails(2)
        .mentions(&["no-such.cp", "no such file"]);
    // A witness key is no log key.
    let witness = format_cosignature_verifier_key("w.example", &public(5)).unwrap();
    sb.run(&["log", "verify-checkpoint", "sumdb.cp", "--key", &witness]).fails(2).mentions(&[
        "--key",
        "witness cosignature key",
        "--witness",
    ]);
    sb.run(&["log", "verify-checkpoint", "sumdb.cp", "--key", SUMDB_KEY, "--witness", "x+1+2"])
        .fails(2)
        .mentions(&["--witness"]);
    // The same key twice.
    sb.run(&["log", "verify-checkpoint", "sumdb.cp", "--key", SUMDB_KEY, "--witness", SUMDB_KEY])
        .fails(2)
        .mentions(&["--witness", "sum.golang.org+033de0ae", "given twice"]);
    sb.run(&["log", "verify-checkpoint", "sumdb.cp"]).fails(2).mentions(&["--key"]);
}

#[test]
fn json_output() {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/JSON.md")).unwrap();
    assert!(doc.contains("`airlock-log-verify-checkpoint-v1`"), "the format is not in docs/JSON.md");
    let sb = sumdb();
    let run = sb.run(&["log", "verify-checkpoint", "sumdb.cp", "--key", SUMDB_KEY, "--json"]);
    run.ok();
    let j = run.json();
    assert_eq!(j["format"], "airlock-log-verify-checkpoint-v1");
    assert_eq!(j["file"], "sumdb.cp");
    assert_eq!(j["key"], SUMDB_KEY);
    assert_eq!(j["verified"], true);
    assert_eq!(j["origin"], "go.sum database tree");
    assert_eq!(j["size"], 3_784_599);
    assert_eq!(j["root_hash"], "eeebf1219ebb4d9ca072afc07a14c3f221d8b7cd4887e665d98eef5d96dfb334");
    assert_eq!(j["root_hash_base64"], SUMDB_ROOT_B64);
    assert_eq!(j["extensions"], serde_json::json!([]));
    assert_eq!(
        j["signatures"],
        serde_json::json!([{"name": "sum.golang.org", "key_id": "033de0ae", "status": "verified", "role": "log", "time": null}])
    );

    let (bytes, log_key, witness_key) = airlock_checkpoint();
    sb.write("cp", bytes);
    let j = sb
        .run(&["log", "verify-checkpoint", "cp", "--key", &log_key, "--witness", &witness_key, "--json"])
        .json();
    assert_eq!(j["extensions"], serde_json::json!(["first extension", "second extension"]));
    assert_eq!(j["signatures"][1]["status"], "cosigned");
    assert_eq!(j["signatures"][1]["role"], "witness");
    assert_eq!(j["signatures"][1]["time"], "2025-06-15T15:06:40Z");

    // A refusal still prints its object, and exits 1.
    let text = String::from_utf8(vector(SUMDB_FILE)).unwrap();
    sb.write("forged.cp", text.replacen("\n3784599\n", "\n3784600\n", 1));
    let run = sb.run(&["log", "verify-checkpoint", "forged.cp", "--key", SUMDB_KEY, "--json"]);
    run.fails(1).mentions(&["does not verify"]);
    let j = run.json();
    assert_eq!(j["format"], "airlock-log-verify-checkpoint-v1");
    assert_eq!(j["verified"], false);
    assert_eq!(j["error"], "signature by sum.golang.org does not verify");
    assert!(j.get("origin").is_none());
}
