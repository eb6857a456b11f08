//! The shifted-clock pass of `scripts/test` catches tests that read metadata
//! made at a fixed instant with a clock they do not control, but only if the
//! clock really moved. `scripts/test` sets `AIRLOCK_TEST_REAL_CLOCK` (the
//! real Unix time) and `AIRLOCK_TEST_CLOCK_SHIFT_DAYS` for that pass; this
//! checks that the test process and the binary it drives both see the shift.
//! On the real-clock pass there is nothing to check.

use crate::support::{root_all, write_unsigned, Sandbox, FAR};
use airlock_core::Timestamp;

fn env_i64(name: &str) -> Option<i64> {
    let v = std::env::var(name).ok()?;
    Some(v.parse().unwrap_or_else(|e| panic!("{name}={v:?}: {e}")))
}

#[test]
fn the_shifted_clock_pass_runs_on_a_shifted_clock() {
    let (Some(real), Some(days)) =
        (env_i64("AIRLOCK_TEST_REAL_CLOCK"), env_i64("AIRLOCK_TEST_CLOCK_SHIFT_DAYS"))
    else {
        return;
    };
    // `real` was read just before the pass started, so every shifted clock
    // is at least this far on.
    let earliest = real + days * 86_400;

    let here = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    assert!(here >= earliest, "the test process's clock is not shifted: {here} < {earliest}");

    // `metadata verify` without --at checks at the binary's own clock and says when.
    let sb = Sandbox::new();
    let k = sb.generate_key("root");
    write_unsigned(&sb, "root.json", root_all(1, FAR, &[&k]));
    sb.sign("root.json", &k, "root.json").ok();
    let run = sb.run(&["metadata", "verify", "root.json", "--root", "root.json", "--json"]);
    run.ok();
    let checked = run.json()["checked_at"].as_str().expect("checked_at").to_owned();
    let at = Timestamp::parse(&checked).expect("checked_at is a date").unix();
    assert!(at >= earliest, "the airlock binary's clock is not shifted: checked at {checked}");
}
