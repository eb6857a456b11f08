//! Issue 4 through the binary: the full publication path for two
//! publishers, each bad submission refused with the repository unchanged,
//! python-tuf downloading through the delegations, and `airlock demo`.

use crate::support::{change_ownership, ngclient_fetch, show, tree_hash, Sandbox, PASSPHRASE};

pub(crate) const AT: &str = "2026-11-23T12:00:00Z";

fn run(sb: &Sandbox, args: &[&str]) -> crate::support::Run {
    sb.run_env(args, &[("AIRLOCK_PASSPHRASE", PASSPHRASE)])
}

/// Ceremony, registry, publishers acme (acme/*) and beta (beta/*).
pub(crate) fn registry() -> Sandbox {
    let sb = Sandbox::new();
    run(
        &sb,
        &[
            "ceremony",
            "init",
            "--registry",
            "example",
            "--custodian",
            "alice",
            "--threshold",
            "1",
            "--out-dir",
            "c",
            "--allow-online",
            "--at",
            AT,
        ],
    )
    .ok();
    run(&sb, &["registry", "init", "reg", "--root-dir", "c", "--key", "c/keys/index.key", "--at", AT]).ok();
    for (name, ns) in [("acme", "acme/*"), ("beta", "beta/*")] {
        run(&sb, &["key", "generate", "--out", name]).ok();
        let key = format!("{name}.pub");
        let add =
            ["registry", "publisher", "add", name, "--public-key", &key, "--namespace", ns, "--repo", "reg"];
        change_ownership(&sb, &add, "c", &["alice"], "reg", AT);
    }
    sb
}

pub(crate) fn publish(
    sb: &Sandbox,
    role: &str,
    key: &str,
    target: &str,
    bytes: &[u8],
    out: &str,
    extra: &[&str],
) {
    let file = format!("{out}.bin");
    sb.write(&file, bytes);
    let spec = format!("{file}={target}");
    let mut args =
        vec!["publish", "--role", role, "--key", key, "--artifact", &spec, "--out-dir", out, "--at", AT];
    args.extend_from_slice(extra);
    run(sb, &args).ok();
}

pub(crate) fn accept(sb: &Sandbox, sub: &str) -> crate::support::Run {
    run(sb, &["registry", "accept", sub, "--repo", "reg", "--key", "c/keys/index.key", "--at", AT])
}

/// The snapshot version `reg` serves now, from `registry status --json`.
pub(crate) fn snapshot_version(sb: &Sandbox) -> String {
    let status = sb.run(&["registry", "status", "--repo", "reg", "--at", AT, "--json"]);
    let roles = status.json()["roles"].as_array().unwrap().clone();
    roles.iter().find(|r| r["role"] == "snapshot").unwrap()["version"].as_u64().unwrap().to_string()
}

/// `bundle create --since-snapshot base` of `reg` into `out`, with `--json`;
/// checked to have succeeded.
pub(crate) fn delta_since(sb: &Sandbox, base: &str, out: &str) -> crate::support::Run {
    let made = sb.run(&[
        "bundle",
        "create",
        "--repo",
        "reg",
        "--out",
        out,
        "--since-snapshot",
        base,
        "--at",
        AT,
        "--json",
    ]);
    made.ok();
    made
}

#[test]
fn two_publishers_publish_twice_and_the_registry_verifies() {
    let sb = registry();
    publish(
        &sb,
        "acme",
        "acme.key",
        "acme/tool-1.0.tar.gz",
        b"one",
        "s1",
        &["--ai-generated", "--tool", "t", "--reviewed-by", "r", "--reviewed-at", AT],
    );
    accept(&sb, "s1").ok();
    publish(&sb, "beta", "beta.key", "beta/lib.txt", b"lib", "s2", &[]);
    accept(&sb, "s2").ok();
    publish(
        &sb,
        "acme",
        "acme.key",
        "acme/tool-2.0.tar.gz",
        b"two",
        "s3",
        &["--current", "reg/metadata/1.acme.json"],
    );
    accept(&sb, "s3").ok();
    publish(
        &sb,
        "beta",
        "beta.key",
        "beta/lib2.txt",
        b"lib2",
        "s4",
        &["--current", "reg/metadata/1.beta.json"],
    );
    accept(&sb, "s4").ok();
    run(&sb, &["registry", "verify", "--repo", "reg", "--at", AT]).ok();
    let status = run(&sb, &["registry", "status", "--repo", "reg", "--json", "--at", AT]);
    status.ok();
    assert!(status.stdout.contains("acme") && status.stdout.contains("beta"));
}

/// Each bad submission: exit 1, a one-line reason naming the role, and the
/// repository byte-for-byte unchanged.
#[track_caller]
fn refused(sb: &Sandbox, sub: &str, needle: &str) {
    let before = tree_hash(&sb.path("reg"));
    accept(sb, sub).fails(1).mentions(&[needle]);
    assert_eq!(tree_hash(&sb.path("reg")), before, "the repository changed");
}

#[test]
fn bad_submissions_are_refused_and_change_nothing() {
    let sb = registry();
    // Signed by another key than the delegation names.
    publish(&sb, "acme", "beta.key", "acme/x", b"x", "wrongkey", &[]);
    refused(&sb, "wrongkey", "acme");
    // A target outside the publisher's namespace (dependency confusion at the source).
    publish(&sb, "acme", "acme.key", "beta/lib.txt", b"x", "outside", &[]);
    refused(&sb, "outside", "beta/lib.txt");
    // A role for an unknown publisher.
    run(&sb, &["key", "generate", "--out", "nobody"]).ok();
    publish(&sb, "nobody", "nobody.key", "nobody/x", b"x", "unknown", &[]);
    refused(&sb, "unknown", "nobody");
    // Artifact bytes that differ from what the role signs.
    publish(&sb, "acme", "acme.key", "acme/y", b"yes", "changed", &[]);
    sb.write("changed/targets/acme/y", b"no!");
    refused(&sb, "changed", "acme/y");
    // Editing the provenance object breaks the publisher's signature.
    publish(
        &sb,
        "acme",
        "acme.key",
        "acme/z",
        b"z",
        "prov",
        &["--ai-generated", "--reviewed-by", "r", "--reviewed-at", AT],
    );
    let text =
        sb.read_string("prov/acme.json").replacen("\"ai_generated\": true", "\"ai_generated\": false", 1);
    assert!(text.contains("\"ai_generated\": false"));
    sb.write("prov/acme.json", text);
    refused(&sb, "prov", "acme");
    // A version not greater than the last accepted.
    publish(&sb, "acme", "acme.key", "acme/v1", b"v1", "first", &[]);
    accept(&sb, "first").ok();
    publish(&sb, "acme", "acme.key", "acme/v1b", b"v1b", "again", &[]);
    refused(&sb, "again", "version");
}

#[test]
fn a_retiring_index_key_may_not_countersign() {
    let sb = registry();
    run(&sb, &["key", "generate", "--out", "index2"]).ok();
    run(
        &sb,
        &[
            "ceremony",
            "propose",
            "--root",
            "c/1.root.json",
            "--out",
            "c/draft-2.json",
            "--rotate-index",
            "index2.pub",
            "--window-days",
            "14",
            "--allow-online",
            "--at",
            AT,
        ],
    )
    .ok();
    let hash =
        run(&sb, &["ceremony", "payload", "c/draft-2.json", "--out", "p.bin", "--allow-online", "--at", AT])
            .stdout;
    let hash = hash.rsplit("payload hash ").next().unwrap().trim().to_owned();
    for key in ["c/keys/alice.key", "index2.key"] {
        run(
            &sb,
            &[
                "ceremony",
                "sign",
                "c/draft-2.json",
                "--root",
                "c/1.root.json",
                "--key",
                key,
                "--confirm",
                &hash,
                "--allow-online",
                "--at",
                AT,
            ],
        )
        .ok();
    }
    run(
        &sb,
        &[
            "ceremony",
            "finalize",
            "c/draft-2.json",
            "--root",
            "c/1.root.json",
            "--out",
            "c/2.root.json",
            "--allow-online",
            "--at",
            AT,
        ],
    )
    .ok();
    run(
        &sb,
        &["registry", "update-root", "--root-dir", "c", "--repo", "reg", "--key", "index2.key", "--at", AT],
    )
    .ok();
    publish(&sb, "acme", "acme.key", "acme/x", b"x", "s", &[]);
    let before = tree_hash(&sb.path("reg"));
    accept(&sb, "s").fails(1).mentions(&["retiring"]);
    assert_eq!(tree_hash(&sb.path("reg")), before);
    run(&sb, &["registry", "accept", "s", "--repo", "reg", "--key", "index2.key", "--at", AT]).ok();
}

#[test]
fn python_tuf_downloads_through_the_delegations_and_refuses_changed_bytes() {
    let Some(py) = crate::support::python() else { return };
    let sb = registry();
    publish(&sb, "acme", "acme.key", "acme/tool.tar.gz", b"tool", "s1", &[]);
    accept(&sb, "s1").ok();
    publish(&sb, "beta", "beta.key", "beta/lib.txt", b"lib", "s2", &[]);
    accept(&sb, "s2").ok();
    run(&sb, &["registry", "refresh", "--repo", "reg", "--key", "c/keys/index.key", "--at", AT]).ok();
    let server = crate::http_server::Server::start(&py, &sb.path("reg"));
    let root = sb.path("c/1.root.json");
    let targets = ["acme/tool.tar.gz", "beta/lib.txt"];
    // Everything was signed at AT, so the client reads it at AT.
    let fetch = |work: &str| ngclient_fetch(&py, AT, &server.url, &root, &sb.path(work), &targets);
    let out = fetch("w1");
    assert!(out.status.success(), "{}", show(&out));
    let f = std::fs::read_dir(sb.path("reg/targets/acme")).unwrap().next().unwrap().unwrap().path();
    std::fs::write(f, b"evil").unwrap();
    assert!(!fetch("w2").status.success(), "ngclient accepted changed bytes");
}

#[test]
fn the_demo_runs() {
    let sb = Sandbox::new();
    let out = sb.run(&["demo"]);
    out.ok();
    assert!(out.stdout.contains("demo complete"));
    assert!(out.stdout.contains("ATTACK"));
}

#[test]
fn status_and_verify_are_written_for_people_with_rfc3339_times() {
    let sb = registry();
    publish(&sb, "acme", "acme.key", "acme/x", b"x", "s", &[]);
    accept(&sb, "s").ok();
    for args in [
        vec!["registry", "status", "--repo", "reg", "--at", AT],
        vec!["registry", "verify", "--repo", "reg", "--at", AT],
    ] {
        let run = run(&sb, &args);
        run.ok();
        for debug in ["Status {", "Timestamp(", "KeyId(", "Some(", "[\""] {
            assert!(!run.stdout.contains(debug), "{args:?} prints a debug struct:\n{}", run.stdout);
        }
    }
    let status = run(&sb, &["registry", "status", "--repo", "reg", "--at", AT]).stdout.clone();
    assert!(
        status.lines().any(|l| l.trim_start().starts_with("timestamp") && l.contains("expires 20")),
        "{status}"
    );
    assert!(status.contains("publisher acme: acme/*"), "{status}");
    assert!(status.contains(&format!("last accepted {AT}")), "{status}");
}
