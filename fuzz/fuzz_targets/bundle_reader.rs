//! The bundle reader: the front line of the isolated side. Arbitrary bytes
//! (plain tar, or gzip, detected by magic as the reader does) are verified
//! against a real pinned root (the demo's `ceremony/1.root.json`) at a fixed
//! time at which the seed bundles verify, and listed by `inspect_bundle`.
//!
//! Invariants: no panic; a bundle that verifies can also be inspected.
#![no_main]

use airlock_bundles::bundle::{inspect_bundle, verify_bundle, NoSink, VerifyOptions};
use airlock_core::Timestamp;
use libfuzzer_sys::fuzz_target;

/// The root that pins registry `example` (identity f4b1a604...), which made
/// the seed bundles.
const PINNED_ROOT: &[u8] = include_bytes!("../fixtures/pinned-root.json");

/// The time the demo world was made at (`airlock demo` uses a fixed clock):
/// every seed bundle verifies then.
const NOW: &str = "2026-11-23T12:00:00Z";

fuzz_target!(|data: &[u8]| {
    let now = Timestamp::parse(NOW).expect("fixed time parses");
    let verified = verify_bundle(data, PINNED_ROOT, &VerifyOptions::at(now), &mut NoSink);
    let inspected = inspect_bundle(data);
    if let (Ok(_), Err(e)) = (&verified, &inspected) {
        panic!("bundle verifies but cannot be inspected: {e}");
    }
});
