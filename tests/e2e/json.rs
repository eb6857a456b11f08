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
