//! TUF metadata of each top-level type, and the root's `x-airlock`
//! extension. The check and its invariants: `checks::metadata`.
#![no_main]

#[allow(dead_code)]
#[path = "../checks/core.rs"]
mod checks;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| checks::metadata(data));
