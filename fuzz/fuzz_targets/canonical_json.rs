//! The strict JSON reader and the two canonical writers every signature,
//! log line and manifest goes through. The check and its invariants:
//! `checks::canonical_json`.
#![no_main]

#[allow(dead_code)]
#[path = "../checks/core.rs"]
mod checks;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| checks::canonical_json(data));
