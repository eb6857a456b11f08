//! The README's exit-code table, row by row: 0 success, 1 refused by
//! verification or policy, 2 usage or configuration (bad flags, an
//! unreadable or wrong key, a wrong passphrase, existing output, a held
//! lock), 3 I/O. Each case is one a user reported or could hit; the
//! bundle-file cases also check what `bundle verify` accepts as input.

use crate::registry_cli::{accept, publish, registry, AT};
use crate::support::{Sandbox, PASSPHRASE};

/// A registry with one accepted release, its bundle `b.tar`, the same
/// split into three volumes `vol.000`.. with `vol.volumes.json`, and a
/// pins directory `pins/` (as `mirror init` takes it).
pub(crate) fn world() -> Sandbox {
    let sb = registry();
    publish(&sb, "acme", "acme.key", "acme/tool", &[7u8; 9000], "s", &[]);
    accept(&sb, "s").ok();
    sb.run(&["bundle", "create", "--repo", "reg", "--out", "b.tar", "--at", AT]).ok();
    sb.run(&["bundle", "create", "--repo", "reg", "--out", "vol", "--volume-size", "8K", "--at", AT]).ok();
    assert!(sb.exists("vol.002"), "expected at least three volumes");
    std::fs::create_dir_all(sb.path("pins/example")).unwrap();
    std::fs::copy(sb.path("c/1.root.json"), sb.path("pins/example/root.json")).unwrap();
    sb.write(
        "pins/map.json",
        r#"{"repositories": {"example": ["dvd://example"]}, "mapping": [{"paths": ["acme/*", "beta/*"], "repositories": ["example"], "terminating": true, "threshold": 1}]}"#,
    );
    sb
}

fn verify(sb: &Sandbox, pins: &str, bundle: &str) -> crate::support::Run {
    sb.run(&["bundle", "verify", "--pins", pins, bundle, "--at", AT])
}

#[test]
fn zero_success_for_a_file_a_volume_index_a_volume_base_name_and_a_pins_directory() {
    let sb = world();
    for bundle in ["b.tar", "vol", "vol.volumes.json"] {
        for pins in ["c/1.root.json", "pins"] {
            verify(&sb, pins, bundle).ok();
        }
    }
    // Every bundle file is written with one mode, whole or split.
    use std::os::unix::fs::PermissionsExt;
    for f in ["b.tar", "vol.000", "vol.001", "vol.002", "vol.volumes.json"] {
        let mode = sb.path(f).metadata().unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644, "{f}");
    }
}

#[test]
fn one_refused_by_verification_or_policy() {
    let sb = world();
    // A damaged volume is refused and named.
    let mut v = sb.read("vol.001");
    v[100] ^= 1;
    sb.write("vol.001", v);
    verify(&sb, "pins", "vol").fails(1).mentions(&["volume vol.001", "does not match"]);
    // A bundle of a registry that is not pinned.
    let other = registry();
    std::fs::copy(other.path("c/1.root.json"), sb.path("other-root.json")).unwrap();
    verify(&sb, "other-root.json", "b.tar").fails(1);
    // Shares that do not belong together are refused, not a usage error:
    // covered by ceremony::key_combine_refuses_too_few_mixed_or_repeated_shares.
}

#[test]
fn two_usage_or_configuration() {
    let sb = world();
    // A bad flag, and a missing argument named.
    sb.run(&["bundle", "verify", "--bogus"]).fails(2).mentions(&["--bogus"]);
    sb.run(&["bundle", "verify", "b.tar"]).fails(2).mentions(&["--pins"]);
    // A pins directory without its map.
    std::fs::create_dir_all(sb.path("empty-pins")).unwrap();
    verify(&sb, "empty-pins", "b.tar").fails(2).mentions(&["map.json"]);
    // A wrong passphrase, and a file that is not a key.
    let wrong = sb.run_env(
        &["registry", "refresh", "--repo", "reg", "--key", "c/keys/index.key", "--at", AT],
        &[("AIRLOCK_PASSPHRASE", "not the passphrase at all")],
    );
    wrong.fails(2);
    let not_a_key = sb.run_env(
        &["registry", "refresh", "--repo", "reg", "--key", "b.tar", "--at", AT],
        &[("AIRLOCK_PASSPHRASE", PASSPHRASE)],
    );
    not_a_key.fails(2).mentions(&["b.tar"]);
    // Existing output.
    sb.run(&["bundle", "create", "--repo", "reg", "--out", "b.tar", "--at", AT])
        .fails(2)
        .mentions(&["b.tar"]);
}

#[test]
fn three_io() {
    let sb = world();
    // A missing volume is an I/O failure, named.
    std::fs::remove_file(sb.path("vol.001")).unwrap();
    verify(&sb, "pins", "vol").fails(3).mentions(&["volume vol.001", "cannot open"]);
    verify(&sb, "pins", "vol.volumes.json").fails(3).mentions(&["vol.001"]);
}

#[test]
fn source_date_epoch_makes_bundles_reproducible_and_at_wins_over_it() {
    let sb = world();
    let epoch = [("SOURCE_DATE_EPOCH", "1794916800")]; // 2026-11-17T12:00:00Z
    for out in ["r1.tar", "r2.tar"] {
        sb.run_env(&["bundle", "create", "--repo", "reg", "--out", out], &epoch).ok();
    }
    assert_eq!(sb.read("r1.tar"), sb.read("r2.tar"), "two runs at one SOURCE_DATE_EPOCH differ");
    let inspect = sb.run(&["bundle", "inspect", "r1.tar", "--json"]);
    inspect.ok();
    assert_eq!(inspect.json()["inspection"]["manifest"]["created"], "2026-11-17T12:00:00Z");
    // --at is the explicit choice and wins; the result is the --at bundle.
    sb.run_env(&["bundle", "create", "--repo", "reg", "--out", "r3.tar", "--at", AT], &epoch).ok();
    assert_eq!(sb.read("r3.tar"), sb.read("b.tar"));
    sb.run_env(
        &["bundle", "create", "--repo", "reg", "--out", "r4.tar"],
        &[("SOURCE_DATE_EPOCH", "yesterday")],
    )
    .fails(2)
    .mentions(&["SOURCE_DATE_EPOCH"]);
}

#[test]
fn a_flag_and_the_ceremony_file_never_silently_override_each_other() {
    let sb = Sandbox::new();
    sb.write("c.toml", "registry = \"example\"\nthreshold = 1\ncustodians = [\"alice\"]\n");
    let before = sb.tree_hash();
    for extra in [["--threshold", "1"], ["--registry", "other"], ["--custodian", "bob"]] {
        let mut args = vec!["ceremony", "init", "--config", "c.toml", "--out", "c", "--allow-online"];
        args.extend(extra);
        sb.run_env(&args, &[("AIRLOCK_PASSPHRASE", PASSPHRASE)]).fails(2).mentions(&[extra[0], "c.toml"]);
    }
    assert_eq!(sb.tree_hash(), before);
}

#[test]
fn each_volume_of_a_five_volume_bundle_checks_alone_and_a_swapped_byte_is_named() {
    let sb = world();
    publish(
        &sb,
        "acme",
        "acme.key",
        "acme/big",
        &[9u8; 30_000],
        "s2",
        &["--current", "reg/metadata/1.acme.json"],
    );
    accept(&sb, "s2").ok();
    sb.run(&["bundle", "create", "--repo", "reg", "--out", "five", "--volume-size", "10K", "--at", AT]).ok();
    let volumes: Vec<String> = (0..).map(|i| format!("five.{i:03}")).take_while(|v| sb.exists(v)).collect();
    assert!(volumes.len() >= 5, "{volumes:?}");
    // Each disc alone: only the volume and the index, in a directory of its own.
    for (i, v) in volumes.iter().enumerate() {
        let disc = format!("disc{i}");
        std::fs::create_dir_all(sb.path(&disc)).unwrap();
        std::fs::copy(sb.path(v), sb.path(&format!("{disc}/{v}"))).unwrap();
        std::fs::copy(sb.path("five.volumes.json"), sb.path(&format!("{disc}/five.volumes.json"))).unwrap();
        let run = sb.run(&["bundle", "verify-volume", &format!("{disc}/{v}")]);
        run.ok();
        assert!(run.stdout.contains(&format!("volume {} of {}", i + 1, volumes.len())), "{}", run.stdout);
    }
    // The full verify takes the discs as mounted: every volume, any order.
    let mut discs: Vec<String> = volumes.iter().enumerate().map(|(i, v)| format!("disc{i}/{v}")).collect();
    discs.reverse();
    let mut args = vec!["bundle", "verify", "--pins", "pins", "--at", AT];
    args.extend(discs.iter().map(String::as_str));
    sb.run(&args).ok();
    args.pop();
    sb.run(&args).fails(3).mentions(&["five.000", "not given"]);
    // So does the import: the discs as mounted, in any order, are one bundle.
    sb.run(&["mirror", "init", "m", "--pins", "pins"]).ok();
    let mut import = vec!["mirror", "import", "m", "--at", AT];
    import.extend(discs.iter().map(String::as_str));
    sb.run(&import).ok();
    sb.run(&["mirror", "verify", "m", "--at", AT]).ok();
    // A swapped byte in volume 3 is named as volume 3, alone and in the full verify.
    let mut bytes = sb.read("disc2/five.002");
    bytes[1234] ^= 0x40;
    sb.write("disc2/five.002", &bytes);
    sb.write("five.002", &bytes);
    let run = sb.run(&["bundle", "verify-volume", "disc2/five.002", "--json"]);
    run.fails(1).mentions(&["five.002", "volume 3 of"]);
    assert_eq!(run.json()["intact"], false);
    sb.run(&["bundle", "verify", "--pins", "pins", "five", "--at", AT])
        .fails(1)
        .mentions(&["volume five.002"]);
    // A volume the index does not list, and a missing one.
    sb.write("disc0/other.000", b"x");
    sb.run(&["bundle", "verify-volume", "disc0/other.000", "--volume-index", "disc0/five.volumes.json"])
        .fails(1)
        .mentions(&["not listed"]);
    std::fs::remove_file(sb.path("disc1/five.001")).unwrap();
    sb.run(&["bundle", "verify-volume", "disc1/five.001"]).fails(3).mentions(&["five.001", "cannot open"]);
}

/// A signed volume index (docs/FORMAT.md 7.5) lets one disc be
/// authenticated alone, against the pins, before any other disc is read:
/// a disc and index entry both rewritten in transit check "intact" against
/// the rewritten index, but the index no longer authenticates, and the
/// import refuses it before reading a volume.
#[test]
fn a_signed_volume_index_authenticates_each_disc_alone() {
    let sb = world();
    let env = [("AIRLOCK_PASSPHRASE", PASSPHRASE)];
    let create = ["bundle", "create", "--repo", "reg", "--volume-size", "8K", "--at", AT, "--json"];
    let made = sb.run_env(&[&create[..], &["--out", "sv", "--key", "c/keys/index.key"]].concat(), &env);
    made.ok();
    assert_eq!(made.json()["index_signed"], true);
    let volumes: Vec<String> = (0..).map(|i| format!("sv.{i:03}")).take_while(|v| sb.exists(v)).collect();
    assert!(volumes.len() >= 3, "{volumes:?}");
    let identity = made.json()["registry"].as_str().unwrap().to_owned();
    for (i, v) in volumes.iter().enumerate() {
        let disc = format!("disc{i}");
        std::fs::create_dir_all(sb.path(&disc)).unwrap();
        std::fs::copy(sb.path(v), sb.path(&format!("{disc}/{v}"))).unwrap();
        std::fs::copy(sb.path("sv.volumes.json"), sb.path(&format!("{disc}/sv.volumes.json"))).unwrap();
        for pins in ["pins", "c/1.root.json"] {
            let run = sb.run(&[
                "bundle",
                "verify-volume",
                &format!("{disc}/{v}"),
                "--pins",
                pins,
                "--at",
                AT,
                "--json",
            ]);
            run.ok();
            let j = run.json();
            assert_eq!((j["intact"].clone(), j["authenticated"].clone()), (true.into(), true.into()), "{j}");
            assert_eq!((j["registry"].as_str(), j["root_version"].as_u64()), (Some(&identity[..]), Some(1)));
            assert_eq!(j["number"], i + 1);
        }
    }
    let alone = sb.run(&["bundle", "verify-volume", "disc1/sv.001", "--pins", "pins", "--at", AT]);
    alone.ok();
    assert!(alone.stdout.contains("authenticated alone"), "{}", alone.stdout);
    // Only until the bundle's timestamp expires: an old disc is not the
    // registry's for ever.
    let json =
        sb.run(&["bundle", "verify-volume", "disc1/sv.001", "--pins", "pins", "--at", AT, "--json"]).json();
    let until = json["index_expires"].as_str().unwrap().to_owned();
    sb.run(&["bundle", "verify-volume", "disc1/sv.001", "--pins", "pins", "--at", &until])
        .fails(1)
        .mentions(&["volume index: the index expired at", &until]);
    // Without pins a signed index is only said to be signed; an unsigned
    // index cannot authenticate anything.
    let plain = sb.run(&["bundle", "verify-volume", "disc1/sv.001"]);
    plain.ok();
    assert!(plain.stdout.contains("give --pins"), "{}", plain.stdout);
    sb.run(&["bundle", "verify-volume", "vol.001", "--pins", "pins", "--at", AT])
        .fails(1)
        .mentions(&["vol.volumes.json", "not signed"]);
    // Disc 2 replaced in transit, its index entry rewritten to match.
    let forged = vec![0x5au8; sb.read("disc1/sv.001").len()];
    sb.write("disc1/sv.001", &forged);
    let mut index: serde_json::Value = serde_json::from_slice(&sb.read("disc1/sv.volumes.json")).unwrap();
    index["volumes"][1]["sha256"] = airlock_core::hash::sha256_hex(&forged).into();
    sb.write("disc1/sv.volumes.json", serde_json::to_vec_pretty(&index).unwrap());
    sb.run(&["bundle", "verify-volume", "disc1/sv.001"]).ok();
    let run = sb.run(&["bundle", "verify-volume", "disc1/sv.001", "--pins", "pins", "--at", AT, "--json"]);
    run.fails(1).mentions(&["volume index: signature"]);
    assert_eq!(
        (run.json()["authenticated"].clone(), run.json()["intact"].clone()),
        (false.into(), serde_json::Value::Null)
    );
    // The full verify and the import refuse it before reading a volume,
    // with the forged disc given first, as mounted; the mirror is unchanged.
    let discs: Vec<String> = volumes.iter().enumerate().map(|(i, v)| format!("disc{i}/{v}")).collect();
    let mut order = discs.clone();
    order.swap(0, 1);
    let mut verify = vec!["bundle", "verify", "--pins", "pins", "--at", AT];
    verify.extend(order.iter().map(String::as_str));
    sb.run(&verify).fails(1).mentions(&["volume index: signature"]);
    sb.run(&["mirror", "init", "m", "--pins", "pins"]).ok();
    let before = crate::support::tree_hash(&sb.path("m"));
    let mut import = vec!["mirror", "import", "m", "--at", AT];
    import.extend(order.iter().map(String::as_str));
    sb.run(&import).fails(1).mentions(&[
        "sv.volumes.json",
        "volume index: signature",
        "the mirror is unchanged",
    ]);
    assert_eq!(crate::support::tree_hash(&sb.path("m")), before);
    // The intact discs import; the next signed bundle is authenticated
    // against the root the mirror now trusts.
    sb.run(&["mirror", "import", "m", "sv", "--at", AT]).ok();
    publish(&sb, "acme", "acme.key", "acme/next", b"next", "s2", &["--current", "reg/metadata/1.acme.json"]);
    accept(&sb, "s2").ok();
    sb.run_env(&[&create[..], &["--out", "sv2", "--key", "c/keys/index.key"]].concat(), &env).ok();
    sb.run(&["mirror", "import", "m", "sv2", "--at", AT]).ok();
    // --key signs the refreshed metadata or the volume index: alone it is a
    // usage error, and only the active index key signs; nothing is written.
    let before = sb.tree_hash();
    sb.run_env(
        &["bundle", "create", "--repo", "reg", "--out", "x.tar", "--key", "c/keys/index.key", "--at", AT],
        &env,
    )
    .fails(2)
    .mentions(&["--key", "--expires-days", "--volume-size"]);
    sb.run_env(&[&create[..], &["--out", "wrong", "--key", "acme.key"]].concat(), &env)
        .fails(1)
        .mentions(&["index key"]);
    sb.run_env(
        &[&create[..], &["--out", "wrong", "--key", "acme.key", "--expires-days", "30"]].concat(),
        &env,
    )
    .fails(1)
    .mentions(&["index key"]);
    assert_eq!(sb.tree_hash(), before);
}
