//! The transparency log through the binaries (issue 15): a registry whose
//! operator holds the index key and a publisher's key forks its log to
//! replace a past release; offline witnesses refuse to cosign the second
//! view, and mirrors refuse it whether or not they require witnesses.

use crate::registry_cli::{publish, registry, AT};
use crate::support::{copy_dir, tree_hash, Run, Sandbox, PASSPHRASE};

fn run(sb: &Sandbox, args: &[&str]) -> Run {
    sb.run_env(args, &[("AIRLOCK_PASSPHRASE", PASSPHRASE)])
}

fn accept_into(sb: &Sandbox, repo: &str, sub: &str) {
    run(sb, &["registry", "accept", sub, "--repo", repo, "--key", "c/keys/index.key", "--at", AT]).ok();
}

/// Two histories of one registry: `reg` published acme's tool 1.0 as
/// released; `fork`, a copy made before that release, published other
/// bytes as acme version 1 and then a version 2 on top (so a mirror that
/// saw version 1 sees nothing rewritten in the roles it is offered).
/// `good.tar` is reg's bundle, `evil.tar` fork's, made with a consistency
/// proof from reg's checkpoint (size `good_size`). Pins in `pins/`.
struct Forks {
    sb: Sandbox,
    good_size: u64,
}

fn checkpoint_size(sb: &Sandbox, repo: &str) -> u64 {
    let text = sb.read_string(&format!("{repo}/log/checkpoint"));
    text.lines().nth(1).unwrap().parse().unwrap()
}

fn forks() -> Forks {
    let sb = registry();
    copy_dir(&sb.path("reg"), &sb.path("fork"));
    publish(&sb, "acme", "acme.key", "acme/tool-1.0.tar.gz", b"acme tool 1.0 as released\n", "good", &[]);
    accept_into(&sb, "reg", "good");
    publish(
        &sb,
        "acme",
        "acme.key",
        "acme/tool-1.0.tar.gz",
        b"acme tool 1.0 with a backdoor\n",
        "evil1",
        &[],
    );
    accept_into(&sb, "fork", "evil1");
    publish(
        &sb,
        "acme",
        "acme.key",
        "acme/tool-1.1.tar.gz",
        b"acme tool 1.1\n",
        "evil2",
        &["--current", "fork/metadata/1.acme.json"],
    );
    accept_into(&sb, "fork", "evil2");
    let good_size = checkpoint_size(&sb, "reg");
    sb.run(&["bundle", "create", "--repo", "reg", "--out", "good.tar", "--at", AT]).ok();
    let since = good_size.to_string();
    sb.run(&[
        "bundle",
        "create",
        "--repo",
        "fork",
        "--out",
        "evil.tar",
        "--since-checkpoint",
        &since,
        "--at",
        AT,
    ])
    .ok();
    std::fs::create_dir_all(sb.path("pins/example")).unwrap();
    std::fs::copy(sb.path("c/1.root.json"), sb.path("pins/example/root.json")).unwrap();
    sb.write(
        "pins/map.json",
        r#"{"repositories": {"example": ["dvd://example"]}, "mapping": [{"paths": ["acme/*", "beta/*"], "repositories": ["example"], "terminating": true, "threshold": 1}]}"#,
    );
    Forks { sb, good_size }
}

impl Forks {
    fn witness(&self, dir: &str, name: &str) -> String {
        run(&self.sb, &["witness", "init", dir, "--name", name]).ok();
        let status = self.sb.run(&["witness", "status", dir, "--json"]);
        status.ok();
        status.json()["public"].as_str().unwrap().to_owned()
    }

    fn cosign(&self, witness: &str, bundle: &str) -> Run {
        run(&self.sb, &["witness", "cosign", bundle, "--witness", witness, "--pins", "pins", "--at", AT])
    }

    fn mirror(&self, dir: &str, policy: Option<&str>) {
        let mut args = vec!["mirror", "init", dir, "--pins", "pins"];
        let file = format!("{dir}.policy.toml");
        if let Some(p) = policy {
            self.sb.write(&file, p);
            args.extend_from_slice(&["--policy", &file]);
        }
        self.sb.run(&args).ok();
    }

    fn import(&self, mirror: &str, bundle: &str) -> Run {
        self.sb.run(&["mirror", "import", mirror, bundle, "--at", AT])
    }

    /// Imports expecting a refusal naming `needles`; the mirror must not change.
    #[track_caller]
    fn refused(&self, mirror: &str, bundle: &str, needles: &[&str]) {
        let before = (tree_hash(&self.sb.path(&format!("{mirror}/served"))), self.state(mirror));
        self.import(mirror, bundle).fails(1).mentions(needles);
        let after = (tree_hash(&self.sb.path(&format!("{mirror}/served"))), self.state(mirror));
        assert_eq!(before, after, "the mirror changed");
    }

    fn state(&self, mirror: &str) -> String {
        let p = self.sb.path(&format!("{mirror}/state/repos"));
        if p.exists() {
            tree_hash(&p)
        } else {
            String::new()
        }
    }
}

fn witness_policy(witnesses: &[(&str, &str)], required: usize) -> String {
    let mut p = format!("required_witnesses = {required}\n");
    for (name, key) in witnesses {
        p.push_str(&format!("\n[[witness]]\nname = \"{name}\"\nkey = \"{key}\"\n"));
    }
    p
}

#[test]
fn a_rewritten_release_is_refused_by_the_witness_that_saw_the_original_and_by_mirrors() {
    let f = forks();
    let key = f.witness("w1", "w1.example");
    // The witness sees the real history on the bundle's way to the gap.
    let out = f.cosign("w1", "good.tar");
    out.ok();
    assert!(out.stdout.contains("cosigned") && out.stdout.contains("good.tar.checkpoint"), "{out:?}");
    // Shown the rewritten history, it refuses: a split view.
    f.cosign("w1", "evil.tar").fails(1).mentions(&["refused to cosign", "split view"]);
    assert!(!f.sb.exists("evil.tar.checkpoint"), "a cosignature was written for the fork");
    let status = f.sb.run(&["witness", "status", "w1"]);
    assert!(status.ok().stdout.contains("SPLIT VIEW refused"), "{status:?}");
    let json = f.sb.run(&["witness", "status", "w1", "--json"]).json();
    assert_eq!(json["logs"][0]["split_views"].as_array().unwrap().len(), 1, "{json}");

    // A mirror that requires that witness refuses the fork and takes the original.
    f.mirror("strict", Some(&witness_policy(&[("w1.example", &key)], 1)));
    f.refused("strict", "evil.tar", &["rule policy required_witnesses", "0 of the required 1"]);
    f.import("strict", "good.tar").ok();

    // A mirror that imported the original refuses the fork, witnesses or not:
    // the fork's log does not extend the tree it stored.
    f.mirror("plain", None);
    f.import("plain", "good.tar").ok();
    f.refused("plain", "evil.tar", &["rule split-view", &format!("tree of {} entries", f.good_size)]);
    let status = f.sb.run(&["mirror", "status", "plain", "--at", AT]);
    assert!(status.ok().stdout.contains("SPLIT VIEW: 1 bundle(s)"), "{status:?}");
    let status = f.sb.run(&["mirror", "status", "plain", "--at", AT, "--json"]).json();
    assert_eq!(status["repositories"][0]["split_views_refused"], 1, "{status}");
    assert_eq!(status["repositories"][0]["log_size"], f.good_size, "{status}");
    f.sb.run(&["mirror", "verify", "plain", "--at", AT]).ok();
    let log = f.sb.run(&["mirror", "log", "plain", "--json"]).json();
    let last = log["records"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["details"]["rule"], "split-view", "{last}");
}

#[test]
fn two_mirrors_fed_from_two_forks_and_a_witness_that_sees_both() {
    let f = forks();
    f.witness("w", "w.example");
    // Each mirror alone cannot tell: both forks verify from the pinned root.
    f.mirror("m1", None);
    f.mirror("m2", None);
    f.import("m1", "good.tar").ok();
    f.import("m2", "evil.tar").ok();
    // The witness on the way to both cosigns the first it sees and refuses the second.
    f.cosign("w", "evil.tar").ok();
    f.cosign("w", "good.tar").fails(1).mentions(&["refused to cosign", "split view"]);
    // The registry's log, recomputed from its leaves, matches its checkpoint.
    let audit = f.sb.run(&["log", "audit", "reg"]);
    assert!(audit.ok().stdout.contains("log verified"), "{audit:?}");
}

#[test]
fn required_witnesses_two_with_one_cosignature_is_refused_and_with_two_imports() {
    let f = forks();
    let k1 = f.witness("w1", "w1.example");
    let k2 = f.witness("w2", "w2.example");
    f.mirror("m", Some(&witness_policy(&[("w1.example", &k1), ("w2.example", &k2)], 2)));
    f.cosign("w1", "good.tar").ok();
    f.refused("m", "good.tar", &["rule policy required_witnesses", "1 of the required 2"]);
    // The second witness adds its cosignature to the same companion file.
    f.cosign("w2", "good.tar").ok();
    let note = f.sb.read_string("good.tar.checkpoint");
    assert!(note.contains("\u{2014} w1.example ") && note.contains("\u{2014} w2.example "), "{note}");
    f.import("m", "good.tar").ok();
    // The stored checkpoint keeps both cosignatures.
    let stored = f.sb.read_string("m/state/repos/example/checkpoint");
    assert!(stored.contains("w1.example") && stored.contains("w2.example"), "{stored}");
}

#[test]
fn a_cosignature_by_an_unlisted_witness_or_a_bad_one_does_not_count() {
    let f = forks();
    let k1 = f.witness("w1", "w1.example");
    f.witness("w2", "w2.example");
    f.mirror("m", Some(&witness_policy(&[("w1.example", &k1)], 1)));
    // Unlisted: w2's cosignature is valid but not the policy's.
    f.cosign("w2", "good.tar").ok();
    f.refused("m", "good.tar", &["0 of the required 1"]);
    // A listed witness's cosignature that does not verify refuses the checkpoint.
    f.cosign("w1", "good.tar").ok();
    let note = f.sb.read_string("good.tar.checkpoint");
    let forged: String = note
        .lines()
        .map(|l| {
            if l.starts_with("\u{2014} w1.example ") {
                // One base64 digit in the middle of the signature: still
                // well-formed, no longer valid.
                let mut b: Vec<char> = l.chars().collect();
                let i = b.len() - 20;
                b[i] = if b[i] == 'A' { 'B' } else { 'A' };
                b.into_iter().collect()
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n";
    f.sb.write("good.tar.checkpoint", forged);
    f.refused("m", "good.tar", &["rule policy required_witnesses", "w1.example does not verify"]);
    // A companion file for another checkpoint is refused as such.
    let other = f.sb.read_string("good.tar.checkpoint").replacen('\n', "x\n", 1);
    f.sb.write("good.tar.checkpoint", other);
    f.import("m", "good.tar").fails(1);
}

#[test]
fn a_witness_beside_the_registry_cosigns_its_checkpoint_and_bundles_carry_the_cosignature() {
    let f = forks();
    let key = f.witness("w", "w.example");
    // The witness first learns the log (and its keys) from a bundle.
    f.cosign("w", "good.tar").ok();
    // The registry moves on; the witness cosigns its new checkpoint from
    // the consistency proof the registry gives.
    publish(&f.sb, "beta", "beta.key", "beta/lib.txt", b"beta lib\n", "beta1", &[]);
    accept_into(&f.sb, "reg", "beta1");
    let since = f.good_size.to_string();
    f.sb.run(&["log", "prove", "reg", "--since-checkpoint", &since, "--out", "p.json"]).ok();
    // Without the proof the witness cannot tell a fork from growth.
    run(&f.sb, &["witness", "cosign", "reg/log/checkpoint", "--witness", "w", "--at", AT])
        .fails(1)
        .mentions(&["no consistency proof", &since]);
    run(
        &f.sb,
        &["witness", "cosign", "reg/log/checkpoint", "--witness", "w", "--proof", "p.json", "--at", AT],
    )
    .ok();
    assert!(f.sb.read_string("reg/log/checkpoint").contains("\u{2014} w.example "));
    // A bundle made now carries the cosignature: a mirror requiring the
    // witness takes it with no companion file.
    f.sb.run(&["bundle", "create", "--repo", "reg", "--out", "b2.tar", "--at", AT]).ok();
    f.mirror("strict", Some(&witness_policy(&[("w.example", &key)], 1)));
    f.import("strict", "b2.tar").ok();
    // A checkpoint of a log the witness never saw is not cosigned.
    run(&f.sb, &["witness", "init", "w2", "--name", "w2.example"]).ok();
    run(&f.sb, &["witness", "cosign", "reg/log/checkpoint", "--witness", "w2", "--at", AT])
        .fails(1)
        .mentions(&["has not seen it"]);
}

// --- Bad log material in a bundle: each refused, the mirror unchanged ------

/// The threats world (mirror holding `b1.tar`'s checkpoint) plus a new
/// release and its bundle `b2.tar` proving consistency from that checkpoint.
fn world_with_release() -> (crate::threats::World, String) {
    let w = crate::threats::World::new();
    let size = checkpoint_size(&w.sb, "reg").to_string();
    w.release("reg", "ceremony", "acme", "acme/tool-2.0.tar.gz", b"acme tool 2.0\n");
    w.ok(&["bundle", "create", "--repo", "reg", "--out", "b2.tar", "--since-checkpoint", &size, "--at", AT]);
    (w, size)
}

fn edit_proof(w: &crate::threats::World, out: &str, edit: impl Fn(&mut serde_json::Value)) {
    let b = crate::threats::rewrite(&w.sb.read("b2.tar"), |p, d| {
        if p == "log/proof.json" {
            let mut v: serde_json::Value = serde_json::from_slice(d).unwrap();
            edit(&mut v);
            *d = serde_json::to_vec(&v).unwrap();
        }
    });
    w.sb.write(out, b);
}

/// Flips one hex digit of a proof hash.
fn flip(h: &mut serde_json::Value) {
    let s = h.as_str().unwrap();
    let first = if s.starts_with('0') { "1" } else { "0" };
    *h = serde_json::Value::String(format!("{first}{}", &s[1..]));
}

#[test]
fn the_bundle_with_a_good_log_imports_and_the_mirror_keeps_its_checkpoint() {
    let (w, _) = world_with_release();
    w.import_ok("b2.tar");
    let stored = w.sb.read_string("mirror/state/repos/example/checkpoint");
    assert_eq!(stored.lines().nth(1).unwrap(), checkpoint_size(&w.sb, "reg").to_string());
    w.ok(&["mirror", "verify", "mirror", "--at", AT]);
}

#[test]
fn a_forged_checkpoint_signature_is_refused() {
    let (w, _) = world_with_release();
    let b = crate::threats::rewrite(&w.sb.read("b2.tar"), |p, d| {
        if p == "log/checkpoint" {
            // Six from the end is a whole base64 digit of the signature: the
            // last digit before the `=` also carries padding bits, which must
            // be zero, so changing it can make the text not base64 at all.
            let i = d.len() - 6;
            d[i] = if d[i] == b'A' { b'B' } else { b'A' };
        }
    });
    w.sb.write("bad.tar", b);
    w.refused("bad.tar", "does not verify", &[]);
}

#[test]
fn a_wrong_inclusion_proof_is_refused() {
    let (w, _) = world_with_release();
    edit_proof(&w, "bad.tar", |v| flip(&mut v["inclusion"][0]["path"][0]));
    w.refused("bad.tar", "inclusion proof of root version 1 does not verify", &[]);
}

#[test]
fn a_bundle_missing_the_proof_for_one_role_is_refused() {
    let (w, _) = world_with_release();
    edit_proof(&w, "bad.tar", |v| {
        let inc = v["inclusion"].as_array_mut().unwrap();
        let i = inc.iter().position(|e| e["role"] == "acme").unwrap();
        inc.remove(i);
    });
    w.refused("bad.tar", "no inclusion proof for acme version 2", &[]);
}

#[test]
fn a_consistency_proof_that_does_not_connect_is_refused_as_a_split_view() {
    let (w, size) = world_with_release();
    edit_proof(&w, "bad.tar", |v| {
        for c in v["consistency"].as_array_mut().unwrap() {
            flip(&mut c["path"][0]);
        }
    });
    w.refused("bad.tar", "rule split-view", &[]);
    // Without any proof from the mirror's checkpoint the rule says what to do.
    edit_proof(&w, "none.tar", |v| v["consistency"] = serde_json::json!([]));
    w.refused("none.tar", &format!("--since-checkpoint {size}"), &[]);
}

#[test]
fn a_bundle_without_a_log_is_refused_by_a_mirror_that_has_one() {
    let (w, _) = world_with_release();
    // Both log entries dropped from the archive and the manifest.
    let stripped =
        crate::threats::rewrite_keeping(&w.sb.read("b2.tar"), |p| !p.starts_with("log/"), |_, _| {});
    w.sb.write("nolog.tar", stripped);
    w.refused("nolog.tar", "rule log: the bundle carries no transparency log", &[]);
}
