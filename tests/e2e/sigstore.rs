//! Publisher provenance from Sigstore through the binaries (issue 16): a
//! real public Sigstore bundle (tests/data/sigstore) is attached at publish
//! time, verified by the registry, carried across, and checked by the
//! mirror against its pinned Sigstore trusted root and its policy's
//! identity; every bad input is refused by `mirror import` with its rule,
//! the mirror unchanged.

use crate::registry_cli::{registry, AT};
use crate::support::{tree_hash, Run, Sandbox, PASSPHRASE};
use serde_json::Value;
use std::path::Path;

const ISSUER: &str = "https://token.actions.githubusercontent.com";
const SAN: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";

fn data(name: &str) -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/sigstore").join(name)).unwrap()
}

fn run(sb: &Sandbox, args: &[&str]) -> Run {
    sb.run_env(args, &[("AIRLOCK_PASSPHRASE", PASSPHRASE)])
}

/// The registry of registry_cli with the Sigstore test data beside it and pins (with the
/// Sigstore trusted root) in `pins/`.
fn world() -> Sandbox {
    let sb = registry();
    for f in ["a.txt", "a.txt.sigstore.json", "trusted_root.json"] {
        sb.write(f, data(f));
    }
    std::fs::create_dir_all(sb.path("pins/example")).unwrap();
    std::fs::create_dir_all(sb.path("pins/sigstore")).unwrap();
    std::fs::copy(sb.path("c/1.root.json"), sb.path("pins/example/root.json")).unwrap();
    sb.write("pins/sigstore/trusted_root.json", data("trusted_root.json"));
    sb.write(
        "pins/map.json",
        r#"{"repositories": {"example": ["dvd://example"]}, "mapping": [{"paths": ["acme/*", "beta/*"], "repositories": ["example"], "terminating": true, "threshold": 1}]}"#,
    );
    sb
}

/// acme publishes `spec` (FILE=TARGET) as submission `sub`, with the
/// Sigstore bundle `sigstore` attached when given.
fn publish(sb: &Sandbox, spec: &str, sigstore: Option<&str>) {
    let mut args = vec!["publish", "--role", "acme", "--key", "acme.key", "--artifact", spec];
    if let Some(b) = sigstore {
        args.extend_from_slice(&["--sigstore-bundle", b]);
    }
    args.extend_from_slice(&["--out", "sub", "--at", AT]);
    run(sb, &args).ok();
}

/// The registry accepts `sub`, checking Sigstore bundles against the
/// trusted root when `registry_checks`.
fn accept(sb: &Sandbox, registry_checks: bool) -> Run {
    let mut args =
        vec!["registry", "accept", "sub", "--repo", "reg", "--key", "c/keys/index.key", "--at", AT];
    if registry_checks {
        args.extend_from_slice(&["--sigstore-trusted-root", "trusted_root.json"]);
    }
    run(sb, &args)
}

/// Publishes `artifact` as acme's `acme/a.txt` with `sigstore` attached and
/// accepts it (checking the Sigstore bundle when `registry_checks`), then bundles.
fn release(sb: &Sandbox, artifact: &str, sigstore: &str, registry_checks: bool, out: &str) {
    publish(sb, &format!("{artifact}=acme/a.txt"), Some(sigstore));
    accept(sb, registry_checks).ok();
    sb.run(&["bundle", "create", "--repo", "reg", "--out", out, "--at", AT]).ok();
}

fn policy(mode: &str, issuer: &str, san: &str) -> String {
    format!(
        "[[sigstore]]\nnamespace = \"acme/*\"\nmode = \"{mode}\"\nissuer = \"{issuer}\"\nsan = \"{san}\"\n"
    )
}

fn mirror(sb: &Sandbox, dir: &str, policy: &str) {
    let file = format!("{dir}.toml");
    sb.write(&file, policy);
    sb.run(&["mirror", "init", dir, "--pins", "pins", "--policy", &file]).ok();
}

/// Imports expecting a refusal naming `needles`; the mirror must not change.
#[track_caller]
fn refused(sb: &Sandbox, dir: &str, bundle: &str, needles: &[&str]) {
    let before = tree_hash(&sb.path(&format!("{dir}/served")));
    sb.run(&["mirror", "import", dir, bundle, "--at", AT]).fails(1).mentions(needles);
    assert_eq!(tree_hash(&sb.path(&format!("{dir}/served"))), before, "the mirror changed");
    assert!(!sb.exists(&format!("{dir}/state/repos/example/root.json")), "trusted state written");
}

fn edit(bytes: &[u8], f: impl FnOnce(&mut Value)) -> Vec<u8> {
    let mut v: Value = serde_json::from_slice(bytes).unwrap();
    f(&mut v);
    serde_json::to_vec(&v).unwrap()
}

/// One base64 digit flipped at `at`.
fn flip(s: &str, at: usize) -> String {
    let mut c: Vec<char> = s.chars().collect();
    c[at] = if c[at] == 'A' { 'B' } else { 'A' };
    c.into_iter().collect()
}

#[test]
fn a_release_signed_by_a_real_ci_identity_imports_under_that_identity_and_no_other() {
    let sb = world();
    publish(&sb, "a.txt=acme/a.txt", Some("a.txt.sigstore.json"));
    let accept = accept(&sb, true);
    assert!(accept.ok().stdout.contains(&format!("Sigstore: acme/a.txt signed by {SAN}")), "{accept:?}");
    // The publisher's role binds the bundle by its hash.
    let role: Value = serde_json::from_slice(&sb.read("reg/metadata/1.acme.json")).unwrap();
    let r = &role["signed"]["targets"]["acme/a.txt"]["custom"]["airlock"]["sigstore"];
    assert_eq!(r["bundle"], "acme/a.txt.sigstore.json");
    assert_eq!(r["sha256"], role["signed"]["targets"]["acme/a.txt.sigstore.json"]["hashes"]["sha256"]);
    sb.run(&["bundle", "create", "--repo", "reg", "--out", "b.tar", "--at", AT]).ok();

    mirror(&sb, "m", &policy("require", ISSUER, SAN));
    sb.run(&["mirror", "import", "m", "b.tar", "--at", AT]).ok();
    // A pattern naming the workflow on any branch takes it too.
    let glob = SAN.replace("refs/heads/main", "refs/heads/*");
    mirror(&sb, "g", &policy("require", ISSUER, &glob));
    sb.run(&["mirror", "import", "g", "b.tar", "--at", AT]).ok();
    // Another workflow, or another issuer: refused, naming both identities.
    let other = "https://github.com/acme/tool/.github/workflows/release.yml@refs/tags/*";
    mirror(&sb, "o", &policy("require", ISSUER, other));
    refused(&sb, "o", "b.tar", &["rule sigstore: target acme/a.txt", "identity mismatch", other, SAN]);
    mirror(&sb, "i", &policy("require", "https://accounts.google.com", SAN));
    refused(&sb, "i", "b.tar", &["rule sigstore", "identity mismatch", "https://accounts.google.com"]);
    // Without the pinned trusted root nothing can be checked: refused.
    mirror(&sb, "x", &policy("require", ISSUER, SAN));
    std::fs::remove_file(sb.path("x/state/pins/sigstore/trusted_root.json")).unwrap();
    refused(&sb, "x", "b.tar", &["no Sigstore trusted root is pinned"]);
}

#[test]
fn require_refuses_a_target_without_sigstore_and_verify_if_present_takes_it() {
    let sb = world();
    sb.write("plain.txt", b"no provenance\n");
    publish(&sb, "plain.txt=acme/plain.txt", None);
    accept(&sb, false).ok();
    sb.run(&["bundle", "create", "--repo", "reg", "--out", "b.tar", "--at", AT]).ok();
    mirror(&sb, "r", &policy("require", ISSUER, SAN));
    refused(&sb, "r", "b.tar", &["rule sigstore: target acme/plain.txt: carries no Sigstore bundle"]);
    mirror(&sb, "v", &policy("verify-if-present", ISSUER, SAN));
    sb.run(&["mirror", "import", "v", "b.tar", "--at", AT]).ok();
    mirror(&sb, "n", "[[sigstore]]\nnamespace = \"acme/*\"\nmode = \"ignore\"\n");
    sb.run(&["mirror", "import", "n", "b.tar", "--at", AT]).ok();
}

#[test]
fn a_sigstore_bundle_for_other_bytes_is_refused_by_the_registry_and_by_the_mirror() {
    let sb = world();
    sb.write("other.txt", b"not what CI signed\n");
    // A registry that checks refuses it at acceptance, unchanged.
    publish(&sb, "other.txt=acme/a.txt", Some("a.txt.sigstore.json"));
    let before = tree_hash(&sb.path("reg"));
    accept(&sb, true).fails(1).mentions(&["target acme/a.txt: Sigstore"]);
    assert_eq!(tree_hash(&sb.path("reg")), before, "the registry changed");
    // One that does not check (no trusted root) lets it through; the mirror refuses it.
    accept(&sb, false).ok();
    sb.run(&["bundle", "create", "--repo", "reg", "--out", "b.tar", "--at", AT]).ok();
    mirror(&sb, "m", &policy("require", ISSUER, SAN));
    refused(&sb, "m", "b.tar", &["rule sigstore: target acme/a.txt"]);
}

#[test]
fn a_tampered_inclusion_proof_or_checkpoint_in_the_sigstore_bundle_is_refused() {
    for (name, tamper, needle) in
        [("proof", "inclusionProof/hashes", "inclusion proof"), ("checkpoint", "checkpoint", "checkpoint")]
    {
        let sb = world();
        let bad = edit(&data("a.txt.sigstore.json"), |v| {
            let proof = &mut v["verificationMaterial"]["tlogEntries"][0]["inclusionProof"];
            if tamper == "checkpoint" {
                let env = proof["checkpoint"]["envelope"].as_str().unwrap().to_owned();
                let at = env.trim_end().len() - 10;
                proof["checkpoint"]["envelope"] = Value::String(flip(&env, at));
            } else {
                let h = proof["hashes"][3].as_str().unwrap().to_owned();
                proof["hashes"][3] = Value::String(flip(&h, 5));
            }
        });
        sb.write("bad.sigstore.json", bad);
        release(&sb, "a.txt", "bad.sigstore.json", false, "b.tar");
        mirror(&sb, "m", &policy("require", ISSUER, SAN));
        refused(&sb, "m", "b.tar", &["rule sigstore: target acme/a.txt", needle]);
        let _ = name;
    }
}

#[test]
fn a_certificate_from_an_unlisted_ca_outside_its_validity_or_with_a_forged_sct_is_refused() {
    let sb = world();
    release(&sb, "a.txt", "a.txt.sigstore.json", true, "b.tar");
    let root = data("trusted_root.json");
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "unlisted CA",
            edit(&root, |v| {
                let mut other = v["certificateAuthorities"][0].clone();
                other["validFor"].as_object_mut().unwrap().remove("end");
                v["certificateAuthorities"] = Value::Array(vec![other]);
            }),
            "certificate chain",
        ),
        (
            "CA outside its validity at signing time",
            edit(&root, |v| {
                let first = v["certificateAuthorities"][0].clone();
                v["certificateAuthorities"] = Value::Array(vec![first]);
            }),
            "certificate validity",
        ),
        (
            "SCT by no listed CT log",
            edit(&root, |v| {
                for log in v["ctlogs"].as_array_mut().unwrap() {
                    let id = log["logId"]["keyId"].as_str().unwrap().to_owned();
                    log["logId"]["keyId"] = Value::String(flip(&id, 3));
                }
            }),
            "signed certificate timestamp",
        ),
    ];
    for (i, (what, pinned, needle)) in cases.into_iter().enumerate() {
        let dir = format!("m{i}");
        mirror(&sb, &dir, &policy("require", ISSUER, SAN));
        sb.write(&format!("{dir}/state/pins/sigstore/trusted_root.json"), pinned);
        let before = tree_hash(&sb.path(&format!("{dir}/served")));
        let r = sb.run(&["mirror", "import", &dir, "b.tar", "--at", AT]);
        assert_eq!(r.code, 1, "{what}: {r:?}");
        r.mentions(&["rule sigstore: target acme/a.txt", needle]);
        assert_eq!(tree_hash(&sb.path(&format!("{dir}/served"))), before, "{what}: the mirror changed");
    }
}

#[test]
fn a_sigstore_bundle_swapped_after_the_publisher_signed_is_refused() {
    let sb = world();
    release(&sb, "a.txt", "a.txt.sigstore.json", true, "b.tar");
    // The bundle's bytes replaced in transit (manifest and SHA256SUMS fixed
    // up): the publisher's role signs the original's hash.
    let other = data("a.txt.intoto.sigstore.json");
    let b = crate::threats::rewrite(&sb.read("b.tar"), |p, d| {
        if p.ends_with(".a.txt.sigstore.json") {
            *d = other.clone();
        }
    });
    sb.write("swapped.tar", b);
    mirror(&sb, "m", &policy("require", ISSUER, SAN));
    refused(&sb, "m", "swapped.tar", &["a.txt.sigstore.json", "signed length"]);
}

#[test]
fn a_publisher_with_hash_bins_binds_its_sigstore_bundle_from_a_sibling_bin() {
    let sb = world();
    let args = [
        "publish",
        "--role",
        "acme",
        "--key",
        "acme.key",
        "--bins",
        "16",
        "--artifact",
        "a.txt=acme/a.txt",
        "--sigstore-bundle",
        "a.txt.sigstore.json",
        "--out-dir",
        "sub",
        "--at",
        AT,
    ];
    run(&sb, &args).ok();
    let bin_of = |sub: &str, target: &str| {
        std::fs::read_dir(sb.path(sub))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .find(|n| {
                n.contains("-bin-")
                    && sb.read_string(&format!("{sub}/{n}")).contains(&format!("\"{target}\""))
            })
            .unwrap()
    };
    // The artifact and its bundle hash to different bins (a fact of these
    // two paths), so the binding crosses bins.
    assert_ne!(bin_of("sub", "acme/a.txt"), bin_of("sub", "acme/a.txt.sigstore.json"));
    accept(&sb, true).ok();
    sb.run(&["bundle", "create", "--repo", "reg", "--out", "b.tar", "--at", AT]).ok();
    mirror(&sb, "m", &policy("require", ISSUER, SAN));
    sb.run(&["mirror", "import", "m", "b.tar", "--at", AT]).ok();
    mirror(&sb, "o", &policy("require", ISSUER, "https://github.com/acme/other"));
    refused(&sb, "o", "b.tar", &["rule sigstore: target acme/a.txt", "identity mismatch"]);
}
