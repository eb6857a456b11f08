//! The import policy (`policy.toml`). The check and its invariants:
//! `checks::policy`.
#![no_main]

#[allow(dead_code)]
#[path = "../checks/core.rs"]
mod checks;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| checks::policy(data));
