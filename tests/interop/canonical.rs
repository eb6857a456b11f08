//! Our canonical JSON against securesystemslib's `encode_canonical`, over the
//! corpus in `tests/data/canonical/` (see its README.md) and the documents in
//! `tests/data/canonical-refused/` that we must refuse.

use crate::support::{self, data_dir, json_files, show_bytes};
use airlock_core::canonical::{parse_strict, to_canonical_bytes};
use std::path::{Path, PathBuf};

/// Our canonical bytes for a JSON document, or why we refuse it.
fn ours(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let value = parse_strict(bytes).map_err(|e| format!("parse: {e}"))?;
    to_canonical_bytes(&value).map_err(|e| format!("encode: {e}"))
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn name(path: &Path) -> String {
    path.file_name().expect("file name").to_string_lossy().into_owned()
}

/// The corpus, discovered by listing the directory.
fn corpus() -> Vec<PathBuf> {
    json_files(&data_dir("canonical"))
}

fn refused() -> Vec<PathBuf> {
    json_files(&data_dir("canonical-refused"))
}

/// `NNN-short-name.json`: three digits, a dash, lowercase words joined by dashes.
fn well_named(name: &str) -> bool {
    let Some(stem) = name.strip_suffix(".json") else { return false };
    let (num, rest) = stem.split_at(stem.len().min(4));
    num.len() == 4
        && num[..3].bytes().all(|b| b.is_ascii_digit())
        && num.ends_with('-')
        && !rest.is_empty()
        && rest.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

#[test]
fn corpus_is_large_and_well_formed() {
    for (dir, files, min) in [("canonical", corpus(), 50), ("canonical-refused", refused(), 5)] {
        assert!(files.len() >= min, "tests/data/{dir} has {} cases, want at least {min}", files.len());
        let mut numbers = std::collections::BTreeSet::new();
        for f in &files {
            let n = name(f);
            assert!(well_named(&n), "tests/data/{dir}/{n} is not named NNN-short-name.json");
            assert!(numbers.insert(n[..3].to_owned()), "tests/data/{dir}: number {} used twice", &n[..3]);
        }
        // Nothing else in the directory but its README, so a case saved with
        // a wrong extension cannot silently drop out of the test.
        for entry in std::fs::read_dir(data_dir(dir)).expect("list corpus") {
            let n = entry.expect("entry").file_name().to_string_lossy().into_owned();
            assert!(n == "README.md" || n.ends_with(".json"), "unexpected file tests/data/{dir}/{n}");
        }
    }
}

#[test]
fn corpus_is_accepted_by_us() {
    let failures: Vec<String> =
        corpus().iter().filter_map(|f| ours(&read(f)).err().map(|e| format!("{}: {e}", name(f)))).collect();
    assert!(failures.is_empty(), "corpus cases we refuse:\n{}", failures.join("\n"));
}

#[test]
fn refused_cases_are_refused_by_us() {
    let accepted: Vec<String> = refused()
        .iter()
        .filter_map(|f| ours(&read(f)).ok().map(|b| format!("{} -> {}", name(f), show_bytes(&b))))
        .collect();
    assert!(accepted.is_empty(), "documents we should refuse but encoded:\n{}", accepted.join("\n"));
}

/// What `canonical.py` reported for one file.
enum Theirs {
    Bytes(Vec<u8>),
    Refused(String),
}

/// Runs `canonical.py` once over all `files`; one entry per file, in order.
fn securesystemslib(python: &Path, files: &[PathBuf]) -> Vec<Theirs> {
    let args: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let run = support::run_py(python, "canonical.py", &args, None);
    run.assert_success("canonical.py");
    let map: serde_json::Value = serde_json::from_slice(&run.stdout)
        .unwrap_or_else(|e| panic!("canonical.py printed no JSON ({e}):\n{}", run.stdout_str()));
    files
        .iter()
        .map(|f| {
            let key = f.to_str().expect("corpus paths are UTF-8");
            let entry = map.get(key).unwrap_or_else(|| panic!("canonical.py said nothing about {key}"));
            if entry["ok"] == serde_json::Value::Bool(true) {
                let hex = entry["hex"].as_str().expect("hex is a string");
                Theirs::Bytes(hex::decode(hex).expect("valid hex from canonical.py"))
            } else {
                Theirs::Refused(format!("{}: {}", entry["stage"], entry["error"]))
            }
        })
        .collect()
}

#[test]
fn canonical_matches_securesystemslib() {
    let Some(python) = support::python() else { return };
    let cases = corpus();
    let refused = refused();
    let all: Vec<PathBuf> = cases.iter().chain(&refused).cloned().collect();
    let theirs = securesystemslib(&python, &all);
    let (theirs_cases, theirs_refused) = theirs.split_at(cases.len());

    let mut failures = Vec::new();
    for (f, theirs) in cases.iter().zip(theirs_cases) {
        let n = name(f);
        match (ours(&read(f)), theirs) {
            (Ok(a), Theirs::Bytes(b)) if a == *b => {}
            (Ok(a), Theirs::Bytes(b)) => failures.push(format!(
                "{n}: bytes differ\n  ours:             {}\n  securesystemslib: {}",
                show_bytes(&a),
                show_bytes(b)
            )),
            (Err(e), Theirs::Bytes(_)) => {
                failures.push(format!("{n}: we refuse ({e}), securesystemslib encodes"))
            }
            (_, Theirs::Refused(e)) => failures.push(format!("{n}: securesystemslib refuses the case: {e}")),
        }
    }

    // Floats: both sides refuse. Everything else in canonical-refused is
    // something securesystemslib accepts and we refuse on purpose (see the
    // README there); checking that keeps the README honest.
    for (f, theirs) in refused.iter().zip(theirs_refused) {
        let n = name(f);
        if ours(&read(f)).is_ok() {
            failures.push(format!("{n}: we accept a document we must refuse"));
        }
        match (n.contains("-float-"), theirs) {
            (true, Theirs::Refused(_)) | (false, Theirs::Bytes(_)) => {}
            (true, Theirs::Bytes(b)) => {
                failures.push(format!("{n}: securesystemslib encodes a float: {}", show_bytes(b)))
            }
            (false, Theirs::Refused(e)) => failures.push(format!(
                "{n}: securesystemslib now refuses this ({e}); update tests/data/canonical-refused/README.md"
            )),
        }
    }
    assert!(failures.is_empty(), "{} disagreement(s):\n{}", failures.len(), failures.join("\n"));
    eprintln!("canonical JSON: {} cases identical, {} refusals as expected", cases.len(), refused.len());
}
