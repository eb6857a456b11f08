//! Expiry for couriers: the default periods carry a bundle through a
//! monthly courier trip; `bundle create` and `bundle verify` say until
//! when it imports; `mirror status` warns ahead and marks what expired;
//! `mirror verify` tells expired-but-intact from damage; and
//! `bundle create --expires-days DAYS` re-signs for a longer trip.

use crate::exit_codes::world;
use crate::registry_cli::AT;
use crate::support::{t, Sandbox, PASSPHRASE};

fn day(n: i64) -> String {
    t(AT).plus_secs(n * 86_400).to_string()
}

/// When the default timestamp period (31 days) ends for metadata signed at AT.
fn expiry() -> String {
    day(31)
}

fn import(sb: &Sandbox, mirror: &str, bundle: &str, at: &str) -> crate::support::Run {
    if !sb.exists(mirror) {
        sb.run(&["mirror", "init", mirror, "--pins", "pins"]).ok();
    }
    sb.run(&["mirror", "import", mirror, bundle, "--at", at])
}

#[test]
fn a_bundle_imports_after_20_days_is_refused_after_40_and_the_mirror_warns_at_25() {
    let sb = world();
    let made = sb.run(&["bundle", "create", "--repo", "reg", "--out", "fresh.tar", "--at", AT]);
    made.ok();
    assert!(made.stdout.contains(&format!("importable until {}", expiry())), "{}", made.stdout);
    let v = sb.run(&["bundle", "verify", "--pins", "pins", "fresh.tar", "--at", &day(20), "--json"]);
    v.ok();
    assert_eq!(v.json()["importable_until"], expiry().as_str());
    assert_eq!(v.json()["expiring_role"], "timestamp");

    import(&sb, "m", "fresh.tar", &day(20)).ok();
    import(&sb, "late", "fresh.tar", &day(40)).fails(1).mentions(&["expired", &expiry()]);

    let status = |at: &str| {
        let r = sb.run(&["mirror", "status", "m", "--at", at, "--json"]);
        r.ok();
        r.json()["repositories"][0]["state"].as_str().unwrap().to_owned()
    };
    assert_eq!(status(&day(20)), "fresh");
    assert_eq!(status(&day(25)), "expiring");
    assert_eq!(status(&day(35)), "expired");
    let warn = sb.run(&["mirror", "status", "m", "--at", &day(25)]);
    assert!(
        warn.stdout.contains(&format!(
            "WARNING: example expires in 6.0 day(s); import a fresher bundle before {}",
            expiry()
        )),
        "{}",
        warn.stdout
    );
    // The warning window is the operator's to choose.
    let r = sb.run(&["mirror", "status", "m", "--at", &day(25), "--warn-days", "3", "--json"]);
    assert_eq!(r.json()["repositories"][0]["state"], "fresh");
    let gone = sb.run(&["mirror", "status", "m", "--at", &day(35)]);
    assert!(gone.stdout.contains(&format!("EXPIRED: example expired at {}", expiry())), "{}", gone.stdout);
}

#[test]
fn mirror_verify_tells_expired_but_intact_from_damage() {
    let sb = world();
    import(&sb, "m", "b.tar", AT).ok();
    let r = sb.run(&["mirror", "verify", "m", "--at", &day(35), "--json"]);
    r.ok();
    let j = r.json();
    assert_eq!(
        (j["intact"].as_bool(), j["expired"].as_bool(), j["verified"].as_bool()),
        (Some(true), Some(true), Some(false)),
        "{j}"
    );
    let human = sb.run(&["mirror", "verify", "m", "--at", &day(35)]);
    human.ok();
    assert!(
        human.stdout.contains(&format!("EXPIRED  example: timestamp expired at {}", expiry())),
        "{}",
        human.stdout
    );
    assert!(!human.stdout.contains("PROBLEM"), "{}", human.stdout);
    // Damage is still damage after expiry.
    let target = std::fs::read_dir(sb.path("m/served/example/targets/acme"))
        .ok()
        .and_then(|mut d| d.next())
        .map(|e| e.unwrap().path());
    let target = target.unwrap_or_else(|| panic!("no served target under m/served/example/targets/acme"));
    std::fs::write(&target, b"changed").unwrap();
    let r = sb.run(&["mirror", "verify", "m", "--at", &day(35), "--json"]);
    r.fails(1);
    assert_eq!((r.json()["intact"].as_bool(), r.json()["expired"].as_bool()), (Some(false), Some(true)));
}

#[test]
fn bundle_create_expires_re_signs_for_a_longer_trip() {
    let sb = world();
    let made = sb.run_env(
        &[
            "bundle",
            "create",
            "--repo",
            "reg",
            "--out",
            "trip.tar",
            "--expires-days",
            "60",
            "--key",
            "c/keys/index.key",
            "--at",
            AT,
        ],
        &[("AIRLOCK_PASSPHRASE", PASSPHRASE)],
    );
    made.ok();
    assert!(made.stdout.contains("refreshed for a 60-day trip"), "{}", made.stdout);
    assert!(made.stdout.contains(&format!("importable until {}", day(60))), "{}", made.stdout);
    import(&sb, "m", "trip.tar", &day(59)).ok();
    // --expires-days needs the key, and a sane trip.
    sb.run(&["bundle", "create", "--repo", "reg", "--out", "x.tar", "--expires-days", "60"])
        .fails(2)
        .mentions(&["--key"]);
    sb.run_env(
        &[
            "bundle",
            "create",
            "--repo",
            "reg",
            "--out",
            "y.tar",
            "--expires-days",
            "4000",
            "--key",
            "c/keys/index.key",
            "--at",
            AT,
        ],
        &[("AIRLOCK_PASSPHRASE", PASSPHRASE)],
    )
    .fails(2)
    .mentions(&["4000"]);
    assert!(!sb.exists("y.tar"));
}
