//! The index of a split bundle (`BASE.volumes.json`), read before any
//! volume is opened. The check and its invariants: `checks::volume_index`.
#![no_main]

#[allow(dead_code)]
#[path = "../checks/core.rs"]
mod checks;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| checks::volume_index(data));
