//! Hash bins at scale (issue 17): a publisher with 100,000 targets in 256
//! bins adds one artifact; the registry re-signs one bin; a lean delta
//! carries that bin, the new snapshot and the one artifact; a mirror that
//! holds the 100,000 imports it; python-tuf downloads the new target from
//! the mirror through targets, the publisher's role and the bin.

use crate::exit_codes::world;
use crate::registry_cli::{accept, delta_since, snapshot_version, AT};
use crate::support::{ngclient_fetch, python, show, PASSPHRASE};

const TARGETS: usize = 100_000;
const BINS: &str = "256";

#[test]
fn a_registry_of_100_000_targets_in_bins_takes_one_more_and_a_mirror_imports_the_delta() {
    let sb = world();
    let env = [("AIRLOCK_PASSPHRASE", PASSPHRASE)];
    let many = sb.path("many");
    std::fs::create_dir_all(&many).unwrap();
    for i in 0..TARGETS {
        // Empty: on a file system mounted with `discard` every freed data
        // block costs a discard when the sandbox is removed, minutes for
        // 300,000 files; the targets are still 100,000 distinct paths.
        std::fs::File::create(many.join(format!("p{i:06}"))).unwrap();
    }
    let publish = |out: &str, extra: &[&str]| {
        let mut args = vec!["publish", "--role", "acme", "--key", "acme.key", "--current", "reg/metadata"];
        args.extend_from_slice(extra);
        args.extend(["--out-dir", out, "--at", AT]);
        sb.run_env(&args, &env)
    };
    let big = publish("big", &["--bins", BINS, "--artifact-dir", "many=acme"]);
    big.ok();
    assert!(
        big.stdout.contains("256 hash bins, 100001 target(s) in all): signed acme v2 and 256 bins"),
        "{}",
        big.stdout
    );
    accept(&sb, "big").ok();
    sb.run(&["bundle", "create", "--repo", "reg", "--out", "full.tar", "--at", AT]).ok();
    let base = snapshot_version(&sb);
    sb.run(&["mirror", "init", "m", "--pins", "pins"]).ok();
    sb.run(&["mirror", "import", "m", "full.tar", "--at", AT]).ok();

    sb.write("new.bin", b"the one new artifact\n");
    let one = publish("one", &["--artifact", "new.bin=acme/new"]);
    one.ok();
    let signed: Vec<String> = std::fs::read_dir(sb.path("one"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into())
        .collect();
    assert_eq!(signed.iter().filter(|n| n.ends_with(".json")).count(), 1, "one bin signed: {signed:?}");
    let accepted = accept(&sb, "one");
    accepted.ok();
    assert!(accepted.stdout.contains("1 of 256 hash bin(s) re-signed: acme-bin-"), "{}", accepted.stdout);
    let made = delta_since(&sb, &base, "delta.tar");
    assert_eq!(made.json()["artifacts"], 1, "the delta carries only the new artifact");
    let (full, delta) = (sb.read("full.tar").len(), sb.read("delta.tar").len());
    assert!(delta * 100 < full, "delta {delta} bytes is not under 1% of the full bundle's {full}");
    eprintln!("hash bins: full bundle {full} bytes, delta {delta} bytes");
    sb.run(&["mirror", "import", "m", "delta.tar", "--at", AT]).ok();

    let Some(py) = python() else { return };
    let work = tempfile::tempdir().unwrap();
    let url = format!("file://{}", sb.path("m/served/example").display());
    let out =
        ngclient_fetch(&py, AT, &url, &sb.path("c/1.root.json"), work.path(), &["acme/new", "acme/p099999"]);
    assert!(out.status.success(), "python-tuf could not download through the bins:\n{}", show(&out));
}
