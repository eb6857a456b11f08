//! The README's "A short tour", run command for command as the README
//! prints it: the commands are read from README.md itself, so the two
//! cannot drift apart.
//!
//! What the test supplies around them, as a person following the tour would:
//! the input files the tour names but does not make (`tool.tar.gz`, the
//! pins directory, `policy.toml`, a SoftHSM2 token labelled `acme`), the
//! passphrase through `AIRLOCK_PASSPHRASE`, and three additions to
//! commands, each one the README itself calls for: `--allow-online` on
//! ceremony steps ("add --allow-online on a networked machine"),
//! `--confirm HASH` on `ceremony sign` with the hash the proposal printed
//! (what a custodian types back at the prompt), and `--at` a fixed instant
//! on every command that takes it (tests never read the clock).

use crate::support::{softhsm_token, Run, Sandbox, PASSPHRASE};
use std::path::Path;

const AT: &str = "2026-11-23T12:00:00Z";

/// The commands of the README's tour: continuation lines joined, comments
/// and blank lines dropped.
fn tour_commands() -> Vec<String> {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md")).unwrap();
    let tour = readme.split("## A short tour").nth(1).expect("README has a short tour");
    let block = tour.split("```sh\n").nth(1).and_then(|b| b.split("\n```").next()).expect("a sh block");
    let mut commands = Vec::new();
    let mut current = String::new();
    for line in block.lines() {
        let line = line.trim();
        if current.is_empty() && (line.is_empty() || line.starts_with('#')) {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(head) => current.push_str(head),
            None => {
                current.push_str(line);
                commands.push(std::mem::take(&mut current));
            }
        }
    }
    commands
}

/// Splits a command line as a POSIX shell would, for the forms the tour
/// uses: words, '...', "..." and `$(cat FILE)` inside double quotes.
fn words(line: &str, sb: &Sandbox) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' => {
                if in_word {
                    out.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    word.push(c);
                }
            }
            '"' => {
                in_word = true;
                let mut quoted = String::new();
                for c in chars.by_ref() {
                    if c == '"' {
                        break;
                    }
                    quoted.push(c);
                }
                if let Some(file) = quoted.strip_prefix("$(cat ").and_then(|r| r.strip_suffix(')')) {
                    word.push_str(sb.read_string(file).trim_end());
                } else {
                    assert!(!quoted.contains('$'), "unsupported expansion in {line}");
                    word.push_str(&quoted);
                }
            }
            _ => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        out.push(word);
    }
    out
}

/// The payload hash the last proposal printed.
fn printed_hash(run: &Run) -> Option<String> {
    run.stdout
        .lines()
        .find_map(|l| l.split_once("payload hash").map(|(_, h)| h.trim_start_matches(':').trim().to_owned()))
}

#[test]
fn the_readme_tour_runs_as_printed() {
    let commands = tour_commands();
    assert!(commands.len() > 20, "too few tour commands found: {commands:?}");
    let sb = Sandbox::new();
    let mut env = vec![("AIRLOCK_PASSPHRASE".to_owned(), PASSPHRASE.to_owned())];
    // The token the tour's `key generate --token` line names.
    let token = softhsm_token(&sb, "hsm", "acme");
    if let Some((conf, _)) = &token {
        env.push(("SOFTHSM2_CONF".to_owned(), conf.display().to_string()));
    }
    sb.write("tool.tar.gz", b"acme tool\n");
    sb.write("policy.toml", "");
    let mut hash = None;
    for line in &commands {
        let mut args = words(line, &sb);
        assert_eq!(args.remove(0), "airlock", "{line}");
        if args.iter().any(|a| a.starts_with("pkcs11:")) && token.is_none() {
            continue;
        }
        if args[0] == "mirror" && args[1] == "init" {
            // The pins the tour's comment describes (docs/PINS.md).
            std::fs::create_dir_all(sb.path("pins/example")).unwrap();
            std::fs::copy(sb.path("ceremony/1.root.json"), sb.path("pins/example/root.json")).unwrap();
            sb.write(
                "pins/map.json",
                r#"{"repositories": {"example": ["dvd://example"]}, "mapping": [{"paths": ["acme/*"], "repositories": ["example"], "terminating": true, "threshold": 1}]}"#,
            );
        }
        let help = sb.run(&[args[0].as_str(), args[1].as_str(), "--help"]);
        let takes = |flag: &str| help.stdout.contains(flag);
        if args[0] == "ceremony" {
            args.push("--allow-online".into());
        }
        if args[0] == "ceremony" && args[1] == "sign" {
            args.push("--confirm".into());
            args.push(hash.clone().unwrap_or_else(|| panic!("no payload hash printed before {line}")));
        }
        if takes("--at <AT>") {
            args.push("--at".into());
            args.push(AT.into());
        }
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let run = sb.run_env(&args, &env);
        assert_eq!(run.code, 0, "README tour: `{line}` failed:\n{}\n{}", run.stdout, run.stderr);
        if let Some(h) = printed_hash(&run).filter(|_| args[1] != "sign") {
            hash = Some(h);
        }
    }
    sb.run(&["mirror", "verify", "mirror", "--at", AT]).ok();
}
