//! The command line as a whole: every command found by walking `--help`
//! (not by reading the clap definitions, so the walk checks them) has a man
//! page and appears in the bash, zsh and fish completions; a command group
//! without a subcommand prints its help; and every command given no
//! arguments ends with a usage error that names what is missing, never a
//! panic.

use crate::support::Sandbox;

/// The subcommands `airlock ARGS --help` lists under "Commands:".
fn subcommands(sb: &Sandbox, args: &[&str]) -> Vec<String> {
    let mut all = args.to_vec();
    all.push("--help");
    let run = sb.run(&all);
    run.ok();
    run.stdout
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect()
}

/// Every command path (`["bundle", "verify"]`, ...), groups included.
fn command_tree(sb: &Sandbox) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut todo = vec![Vec::<String>::new()];
    while let Some(path) = todo.pop() {
        let args: Vec<&str> = path.iter().map(String::as_str).collect();
        for sub in subcommands(sb, &args) {
            let mut p = path.clone();
            p.push(sub);
            todo.push(p.clone());
            out.push(p);
        }
    }
    out.sort();
    out
}

#[test]
fn every_command_has_a_man_page_and_completions_in_bash_zsh_and_fish() {
    let sb = Sandbox::new();
    let tree = command_tree(&sb);
    assert!(tree.len() > 40, "the walk found too few commands: {tree:?}");
    sb.run(&["man", "--out-dir", "man"]).ok();
    let mut pages: Vec<String> = std::fs::read_dir(sb.path("man"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    pages.sort();
    let mut expected: Vec<String> = tree.iter().map(|p| format!("airlock-{}.1", p.join("-"))).collect();
    expected.push("airlock.1".into());
    expected.sort();
    assert_eq!(pages, expected);
    for path in &tree {
        let page = sb.read_string(&format!("man/airlock-{}.1", path.join("-")));
        assert!(page.contains(".TH"), "{path:?}: not a man page");
    }
    // A second run into the same directory is refused, writing nothing.
    sb.run(&["man", "--out-dir", "man"]).fails(2).mentions(&["not empty"]);

    for shell in ["bash", "zsh", "fish"] {
        let run = sb.run(&["completions", shell]);
        run.ok();
        for path in &tree {
            let leaf = path.last().unwrap();
            assert!(run.stdout.contains(leaf.as_str()), "{shell} completions lack {path:?}");
        }
    }
    sb.run(&["completions", "tcsh"]).fails(2).mentions(&["tcsh"]);
}

#[test]
fn a_group_without_a_subcommand_prints_its_help() {
    let sb = Sandbox::new();
    for path in command_tree(&sb) {
        let args: Vec<&str> = path.iter().map(String::as_str).collect();
        if subcommands(&sb, &args).is_empty() {
            continue;
        }
        let run = sb.run(&args);
        assert_eq!(run.code, 2, "{path:?}");
        assert!(run.stderr.contains("Usage: airlock"), "{path:?} prints no help:\n{}", run.stderr);
        assert!(run.stderr.contains("Commands:"), "{path:?}:\n{}", run.stderr);
    }
    let run = Sandbox::new().run::<&str>(&[]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("Commands:"), "{}", run.stderr);
}

#[test]
fn every_command_given_no_arguments_names_what_is_missing_and_never_panics() {
    let sb = Sandbox::new();
    for path in command_tree(&sb) {
        let args: Vec<&str> = path.iter().map(String::as_str).collect();
        if !subcommands(&sb, &args).is_empty() {
            continue;
        }
        let run = sb.run(&args);
        assert!(!run.stderr.contains("panicked"), "{path:?} panicked:\n{}", run.stderr);
        assert!([0, 1, 2, 3].contains(&run.code), "{path:?} exited {}", run.code);
        let error = run.error_line();
        if error.contains("required arguments were not provided") {
            let named = error.split("not provided:").nth(1).unwrap_or("");
            assert!(
                named.contains("--") || named.contains('<'),
                "{path:?}: the missing argument is not named: {error}"
            );
        }
        if run.code == 2 {
            assert!(!error.is_empty(), "{path:?}: exit 2 without an error line:\n{}", run.stderr);
        }
    }
}

/// Each spelling docs/CLI.md lists as changed still does what the new one
/// does, so scripts written against an older airlock keep working.
#[test]
fn old_spellings_still_work() {
    use crate::registry_cli::AT;
    use crate::support::PASSPHRASE;
    let sb = crate::exit_codes::world();
    let env = [("AIRLOCK_PASSPHRASE", PASSPHRASE)];
    // `publish --out DIR` (now --out-dir).
    sb.write("old.bin", b"old spelling");
    let publish = ["publish", "--role", "acme", "--key", "acme.key", "--artifact", "old.bin=acme/old.bin"];
    sb.run_env(
        &[&publish[..], &["--current", "reg/metadata/1.acme.json", "--out", "sub-old", "--at", AT]].concat(),
        &env,
    )
    .ok();
    assert!(sb.exists("sub-old/acme.json"), "{:?}", sb.listing());
    // `registry publisher add --key PEM` (now --public-key).
    let add = ["registry", "publisher", "add", "gamma", "--namespace", "gamma/*", "--repo", "reg"];
    sb.run(&[&add[..], &["--key", "acme.pub", "--out", "old-add.json", "--at", AT]].concat()).ok();
    sb.run(&[&add[..], &["--public-key", "acme.pub", "--out", "new-add.json", "--at", AT]].concat()).ok();
    assert_eq!(sb.read("old-add.json"), sb.read("new-add.json"));
    // `bundle create --expires DAYS` (now --expires-days).
    let create = ["bundle", "create", "--repo", "reg", "--key", "c/keys/index.key", "--at", AT];
    let made = sb.run_env(&[&create[..], &["--out", "trip.tar", "--expires", "30"]].concat(), &env);
    made.ok();
    assert!(made.stdout.contains("refreshed for a 30-day trip"), "{}", made.stdout);
    // `bundle verify-volume --index FILE` (now --volume-index).
    sb.run(&["bundle", "verify-volume", "vol.000", "--index", "vol.volumes.json"]).ok();
    // `--allow-weak-passphrase` where a key is only opened: accepted, ignored.
    sb.run_env(&["key", "show", "c/keys/index.key", "--allow-weak-passphrase"], &env).ok();
}
