//! Every `--json` output names its schema in `format`, and docs/JSON.md
//! documents each one.

use crate::exit_codes::world;
use crate::registry_cli::{publish, AT};
use crate::support::PASSPHRASE;
use std::path::Path;

#[test]
fn every_json_output_names_a_documented_format() {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/JSON.md")).unwrap();
    let sb = world();
    publish(&sb, "acme", "acme.key", "acme/two", b"two", "s2", &["--current", "reg/metadata/1.acme.json"]);
    let env = [("AIRLOCK_PASSPHRASE", PASSPHRASE)];
    sb.run(&["mirror", "init", "m", "--pins", "pins"]).ok();
    let commands: Vec<(Vec<&str>, i32)> = vec![
        (vec!["key", "generate", "--out", "k", "--json"], 0),
        (vec!["key", "show", "k.pub", "--json"], 0),
        (
            vec![
                "registry",
                "accept",
                "s2",
                "--repo",
                "reg",
                "--key",
                "c/keys/index.key",
                "--at",
                AT,
                "--json",
            ],
            0,
        ),
        (vec!["bundle", "create", "--repo", "reg", "--out", "j.tar", "--at", AT, "--json"], 0),
        (vec!["bundle", "verify", "--pins", "pins", "j.tar", "--at", AT, "--json"], 0),
        (vec!["bundle", "verify", "--pins", "pins", "b.tar", "--at", "2028-01-01T00:00:00Z", "--json"], 1),
        (vec!["bundle", "inspect", "j.tar", "--json"], 0),
        (vec!["registry", "status", "--repo", "reg", "--at", AT, "--json"], 0),
        (vec!["registry", "verify", "--repo", "reg", "--at", AT, "--json"], 0),
        (vec!["registry", "publisher", "list", "--repo", "reg", "--json"], 0),
        (vec!["ceremony", "transcript", "verify", "c/transcript.jsonl", "--json"], 0),
        (vec!["root", "verify", "c", "--trusted", "c/1.root.json", "--at", AT, "--json"], 0),
        (
            vec![
                "metadata",
                "verify",
                "reg/metadata/1.root.json",
                "--root",
                "c/1.root.json",
                "--at",
                AT,
                "--json",
            ],
            0,
        ),
        (vec!["mirror", "import", "m", "j.tar", "--at", AT, "--json"], 0),
        (vec!["mirror", "import", "m", "j.tar", "--at", AT, "--json"], 1),
        (vec!["mirror", "verify", "m", "--at", AT, "--json"], 0),
        (vec!["mirror", "status", "m", "--at", AT, "--json"], 0),
        (vec!["mirror", "log", "m", "--json"], 0),
        (vec!["log", "audit", "reg", "--at", AT, "--json"], 0),
        (vec!["witness", "init", "w", "--name", "w.example", "--json"], 0),
        (vec!["witness", "cosign", "j.tar", "--witness", "w", "--pins", "pins", "--at", AT, "--json"], 0),
        (vec!["witness", "status", "w", "--json"], 0),
    ];
    for (args, code) in commands {
        let run = sb.run_env(&args, &env);
        assert_eq!(run.code, code, "{args:?}:\n{}\n{}", run.stdout, run.stderr);
        let j: serde_json::Value = serde_json::from_str(&run.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: stdout is not one JSON value ({e}):\n{}", run.stdout));
        let format = j["format"].as_str().unwrap_or_else(|| panic!("{args:?}: no format member:\n{j}"));
        assert!(format.starts_with("airlock-") && format.contains("-v"), "{args:?}: {format}");
        assert!(doc.contains(&format!("`{format}`")), "{format} is not documented in docs/JSON.md");
    }
}

/// Each ceremony step with `--json` prints one JSON object on stdout and
/// nothing else there, with its documented `format`.
#[test]
fn every_ceremony_step_prints_one_json_object() {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/JSON.md")).unwrap();
    let sb = crate::support::Sandbox::new();
    let env = [("AIRLOCK_PASSPHRASE", PASSPHRASE)];
    let step = |args: &[&str]| -> serde_json::Value {
        let args = [args, &["--allow-online", "--at", AT, "--json"]].concat();
        let run = sb.run_env(&args, &env);
        assert_eq!(run.code, 0, "{args:?}:\n{}\n{}", run.stdout, run.stderr);
        let j: serde_json::Value = serde_json::from_str(&run.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: stdout is not one JSON value ({e}):\n{}", run.stdout));
        assert!(j.is_object(), "{args:?}: not an object: {j}");
        let format = format!("airlock-ceremony-{}-v1", args[1]);
        assert_eq!(j["format"], format.as_str(), "{args:?}");
        assert!(doc.contains(&format!("`{format}`")), "{format} is not documented in docs/JSON.md");
        j
    };
    let key = |name: &str| {
        sb.run_env(&["key", "generate", "--out", name], &env).ok();
    };

    // Root version 1, every key generated here.
    let init = step(&[
        "ceremony",
        "init",
        "--registry",
        "example",
        "--custodian",
        "alice",
        "--custodian",
        "bob",
        "--threshold",
        "1",
        "--out",
        "c",
    ]);
    assert_eq!(init["keys"], "generated");
    assert_eq!(init["identity"].as_str().unwrap(), sb.read_string("c/identity.txt").trim());
    assert_eq!(init["signed_by"].as_array().unwrap().len(), 3);
    assert_eq!(init["transcript"]["seq"], 1);
    let files: Vec<&str> =
        init["files"].as_array().unwrap().iter().map(|f| f["path"].as_str().unwrap()).collect();
    assert!(files.contains(&"c/1.root.json") && files.contains(&"c/keys/alice.key"), "{files:?}");

    // Root version 1 from keys the custodians brought: drafts to sign.
    key("carol");
    key("idx");
    let drafts = step(&[
        "ceremony",
        "init",
        "--registry",
        "other",
        "--custodian",
        "carol=carol.pub",
        "--threshold",
        "1",
        "--index-key",
        "idx.pub",
        "--out",
        "d",
    ]);
    assert_eq!(drafts["keys"], "brought");
    assert_eq!(drafts["signed_by"], serde_json::json!([]));

    // A namespace-ownership change: a targets draft signed by a custodian.
    sb.run_env(
        &["registry", "init", "reg", "--root-dir", "c", "--key", "c/keys/index.key", "--at", AT],
        &env,
    )
    .ok();
    key("acme");
    sb.run_env(
        &[
            "registry",
            "publisher",
            "add",
            "acme",
            "--key",
            "acme.pub",
            "--namespace",
            "acme/*",
            "--repo",
            "reg",
            "--out",
            "add.json",
            "--at",
            AT,
        ],
        &env,
    )
    .ok();
    let tpayload = step(&["ceremony", "payload", "add.json", "--out", "add.bin"]);
    assert_eq!(tpayload["kind"], "targets");
    let thash = tpayload["payload_sha256"].as_str().unwrap()[..32].to_owned();
    let tsign = step(&[
        "ceremony",
        "sign",
        "add.json",
        "--root",
        "c/1.root.json",
        "--key",
        "c/keys/alice.key",
        "--confirm",
        &thash,
    ]);
    assert_eq!(
        (tsign["kind"].as_str(), tsign["signer"].as_str(), tsign["complete"].as_bool()),
        (Some("targets"), Some("alice"), Some(true))
    );

    // A rotation: propose, payload, sign, add-signature, finalize, record.
    key("new-index");
    let p = step(&[
        "ceremony",
        "propose",
        "--root",
        "c/1.root.json",
        "--out",
        "c/draft-2.json",
        "--rotate-index",
        "new-index.pub",
    ]);
    assert_eq!((p["previous_version"].as_u64(), p["version"].as_u64()), (Some(1), Some(2)));
    let sha = p["payload_sha256"].as_str().unwrap().to_owned();
    let hash = &sha[..32];
    let payload = step(&["ceremony", "payload", "c/draft-2.json", "--out", "p.bin"]);
    assert_eq!(payload["payload_sha256"].as_str(), Some(sha.as_str()));
    assert_eq!(payload["length"].as_u64(), Some(sb.read("p.bin").len() as u64));
    // Bob signs a copy; his signature travels back as a detached file.
    std::fs::copy(sb.path("c/draft-2.json"), sb.path("copy.json")).unwrap();
    let bob = step(&[
        "ceremony",
        "sign",
        "copy.json",
        "--root",
        "c/1.root.json",
        "--key",
        "c/keys/bob.key",
        "--confirm",
        hash,
    ]);
    assert_eq!((bob["kind"].as_str(), bob["signer"].as_str()), (Some("root"), Some("bob")));
    let bob_id = bob["keyid"].as_str().unwrap().to_owned();
    let copy: serde_json::Value = serde_json::from_slice(&sb.read("copy.json")).unwrap();
    sb.write("bob.sig", copy["signatures"][0]["sig"].as_str().unwrap());
    let added = step(&[
        "ceremony",
        "add-signature",
        "c/draft-2.json",
        "--root",
        "c/1.root.json",
        "--keyid",
        &bob_id,
        "--signature",
        "bob.sig",
    ]);
    assert_eq!(added["thresholds"][0]["counted"], serde_json::json!([bob_id]));
    assert_eq!(added["complete"], false, "the new index key has not signed yet");
    let index = step(&[
        "ceremony",
        "sign",
        "c/draft-2.json",
        "--root",
        "c/1.root.json",
        "--key",
        "new-index.key",
        "--confirm",
        hash,
    ]);
    assert_eq!((index["signer"].as_str(), index["complete"].as_bool()), (Some("index"), Some(true)));
    let fin = step(&[
        "ceremony",
        "finalize",
        "c/draft-2.json",
        "--root",
        "c/1.root.json",
        "--out",
        "c/2.root.json",
    ]);
    assert_eq!((fin["version"].as_u64(), fin["out"].as_str()), (Some(2), Some("c/2.root.json")));
    // payload, add-signature and the index key's sign travelled with the draft.
    assert_eq!(fin["merged_records"], 3, "{fin}");
    let record = sb.run(&["ceremony", "record", "c", "--json"]);
    record.ok();
    let r = record.json();
    assert_eq!(r["format"], "airlock-ceremony-record-v1");
    assert!(doc.contains("`airlock-ceremony-record-v1`"));
    assert_eq!(
        (r["roots"].as_array().unwrap().len(), r["transcript"]["verified"].as_bool()),
        (2, Some(true))
    );
}
