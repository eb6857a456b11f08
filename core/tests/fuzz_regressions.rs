//! Replays fuzz inputs through the checks the airlock-core fuzz targets run
//! (fuzz/checks/core.rs, included below, so the replay is exactly the code
//! that fuzzes): every input that once crashed a target, saved under
//! tests/data/fuzz/<target>/, and every committed seed in
//! fuzz/seeds/<target>/. A test fails if any input makes a parser panic or
//! breaks an invariant the target asserts. See docs/FUZZING.md.

// Some of its functions serve only the fuzz targets.
#[allow(dead_code)]
#[path = "../../fuzz/checks/core.rs"]
mod checks;

use std::path::{Path, PathBuf};

/// The root the pins target pins under every name (the demo's).
const PINNED_ROOT: &[u8] = include_bytes!("../../fuzz/fixtures/pinned-root.json");

/// Saved inputs of bugs still open (docs/FUZZING.md, "Findings"): target,
/// file name under tests/data/fuzz/<target>/, and the finding. The regular
/// replay leaves them out; [`open_bugs`] replays them and fails until each
/// is fixed. Once a bug is fixed, remove its line here (the input then joins
/// the regular replay) and the matching step-around in
/// fuzz/checks/core.rs's `open_bugs`.
/// (Finding 1, `manifest-control-character.json`, is fixed and replayed
/// with the rest.)
const OPEN: &[(&str, &str, &str)] = &[];

fn check_of(target: &str) -> fn(&[u8]) {
    match target {
        "manifest" => checks::manifest,
        "canonical_json" => checks::canonical_json,
        "metadata" => checks::metadata,
        "pins" => |data| checks::pins(data, PINNED_ROOT),
        "policy" => checks::policy,
        "volume_index" => checks::volume_index,
        other => panic!("no airlock-core fuzz target {other}"),
    }
}

fn is_open(target: &str, path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    OPEN.iter().any(|(t, file, _)| *t == target && *file == name)
}

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

/// The inputs among `files` on which `check` panics.
fn failing(files: &[PathBuf], check: fn(&[u8])) -> Vec<String> {
    files
        .iter()
        .filter(|path| {
            let data = std::fs::read(path).expect("readable input");
            std::panic::catch_unwind(|| check(&data)).is_err()
        })
        .map(|path| path.display().to_string())
        .collect()
}

/// Feeds every input of `target` but the open bugs' to its check.
fn replay(target: &str) {
    let files: Vec<PathBuf> = inputs(target).into_iter().filter(|p| !is_open(target, p)).collect();
    assert!(!files.is_empty(), "no inputs for fuzz target {target}: fuzz/seeds/{target}/ is missing");
    let failed = failing(&files, check_of(target));
    assert!(failed.is_empty(), "fuzz target {target} fails on: {failed:#?}");
}

#[test]
fn manifest_inputs() {
    replay("manifest");
}

#[test]
fn canonical_json_inputs() {
    replay("canonical_json");
}

#[test]
fn metadata_inputs() {
    replay("metadata");
}

#[test]
fn pins_inputs() {
    replay("pins");
}

#[test]
fn policy_inputs() {
    replay("policy");
}

#[test]
fn volume_index_inputs() {
    replay("volume_index");
}

#[test]
#[ignore = "bugs found by fuzzing and not fixed yet (see OPEN); fails until they are"]
fn open_bugs() {
    let top = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/fuzz");
    let mut still_open = Vec::new();
    for (target, file, finding) in OPEN {
        let path = top.join(target).join(file);
        assert!(path.is_file(), "{} is missing", path.display());
        if !failing(&[path], check_of(target)).is_empty() {
            still_open.push(format!("{target}/{file}: {finding}"));
        }
    }
    assert!(still_open.is_empty(), "still open: {still_open:#?}");
}
