//! Replays fuzz inputs through the checks the airlock-core fuzz targets run
//! (fuzz/checks/core.rs, included below, so the replay is exactly the code
//! that fuzzes): every input that once crashed a target, saved under
//! tests/data/fuzz/<target>/, and every committed seed in
//! fuzz/seeds/<target>/. A test fails if any input makes a parser panic or
//! breaks an invariant the target asserts. See docs/FUZZING.md.

#[path = "../../fuzz/checks/core.rs"]
mod checks;

use std::path::{Path, PathBuf};

/// The root the pins target pins under every name (the demo's).
const PINNED_ROOT: &[u8] = include_bytes!("../../fuzz/fixtures/pinned-root.json");

fn inputs(target: &str) -> Vec<PathBuf> {
    let top = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    for dir in [top.join("tests/data/fuzz").join(target), top.join("fuzz/seeds").join(target)] {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries {
            let path = entry.expect("readable directory entry").path();
            if path.is_file() {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// Feeds every input of `target` to `check`, naming each input that fails.
fn replay(target: &str, check: impl Fn(&[u8]) + std::panic::RefUnwindSafe) {
    let files = inputs(target);
    assert!(!files.is_empty(), "no inputs for fuzz target {target}: fuzz/seeds/{target}/ is missing");
    let failed: Vec<String> = files
        .iter()
        .filter(|path| {
            let data = std::fs::read(path).expect("readable input");
            std::panic::catch_unwind(|| check(&data)).is_err()
        })
        .map(|path| path.display().to_string())
        .collect();
    assert!(failed.is_empty(), "fuzz target {target} fails on: {failed:#?}");
}

#[test]
fn manifest_inputs() {
    replay("manifest", checks::manifest);
}

#[test]
fn canonical_json_inputs() {
    replay("canonical_json", checks::canonical_json);
}

#[test]
fn metadata_inputs() {
    replay("metadata", checks::metadata);
}

#[test]
fn pins_inputs() {
    replay("pins", |data| checks::pins(data, PINNED_ROOT));
}

#[test]
fn policy_inputs() {
    replay("policy", checks::policy);
}

#[test]
fn volume_index_inputs() {
    replay("volume_index", checks::volume_index);
}
