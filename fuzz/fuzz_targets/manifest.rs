//! The bundle manifest (`airlock-bundle.json`), read before anything in a
//! bundle is verified. The check and its invariants: `checks::manifest`.
#![no_main]

#[allow(dead_code)]
#[path = "../checks/core.rs"]
mod checks;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    checks::manifest(data)
});
