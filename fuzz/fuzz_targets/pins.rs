//! The pins map file (`pins/map.json`): which registries the isolated side
//! trusts, and for which paths. The check and its invariants: `checks::pins`.
#![no_main]

#[allow(dead_code)]
#[path = "../checks/core.rs"]
mod checks;

use libfuzzer_sys::fuzz_target;

/// One valid root (the demo's), pinned under every name the map defines.
const ROOT: &[u8] = include_bytes!("../fixtures/pinned-root.json");

fuzz_target!(|data: &[u8]| checks::pins(data, ROOT));
