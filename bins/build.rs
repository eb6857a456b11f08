//! Compiles the importer's pins into `airlock-import` (docs/PINS.md).
//!
//! With `AIRLOCK_PINS_DIR=DIR` set at `cargo build`, this reads
//! `DIR/map.json` and `DIR/<repository>/root.json` for every repository the
//! map file names, checks that each is there and is JSON, copies exactly
//! the bytes it checked into `OUT_DIR`, and writes `OUT_DIR/compiled_pins.rs`
//! embedding them. `airlock-import` checks them in full (signatures,
//! thresholds, identities) with `airlock_core::pins::Pins` when it starts.
//! Without the variable, the generated file says that no pins are compiled
//! in, and `airlock-import` refuses to verify or import anything.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

const VAR: &str = "AIRLOCK_PINS_DIR";

fn main() {
    println!("cargo:rerun-if-env-changed={VAR}");
    println!("cargo:rerun-if-changed=build.rs");
    let Some(out) = std::env::var_os("OUT_DIR").map(PathBuf::from) else {
        fail("OUT_DIR is not set (this script runs under cargo)".into());
    };
    let code = match std::env::var_os(VAR) {
        None => empty(),
        Some(dir) => compile(Path::new(&dir), &out).unwrap_or_else(|e| fail(e)),
    };
    if let Err(e) = std::fs::write(out.join("compiled_pins.rs"), code) {
        fail(format!("cannot write {}: {e}", out.join("compiled_pins.rs").display()));
    }
}

fn fail(message: String) -> ! {
    eprintln!("error: {VAR}: {message}");
    std::process::exit(1);
}

fn empty() -> String {
    "/// No pins were compiled in (AIRLOCK_PINS_DIR was not set at build time).\n\
     pub const COMPILED_PINS: Option<CompiledPins> = None;\n"
        .to_owned()
}

/// The name rule of `airlock_core::pins` (repeated here so the build script
/// needs no part of airlock): a name is also a directory name.
fn name_ok(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

fn read_json(path: &Path) -> Result<(Vec<u8>, serde_json::Value), String> {
    println!("cargo:rerun-if-changed={}", path.display());
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let value =
        serde_json::from_slice(&bytes).map_err(|e| format!("{} is not valid JSON: {e}", path.display()))?;
    Ok((bytes, value))
}

fn literal(path: &Path) -> Result<String, String> {
    path.to_str().map(|s| format!("{s:?}")).ok_or_else(|| format!("{} is not UTF-8", path.display()))
}

fn compile(dir: &Path, out: &Path) -> Result<String, String> {
    if !dir.is_absolute() {
        return Err(format!(
            "{} must be an absolute path (cargo runs build scripts in the package directory); for example {VAR}=\"$PWD/{}\"",
            dir.display(),
            dir.display()
        ));
    }
    if !dir.is_dir() {
        return Err(format!("{} is not a directory", dir.display()));
    }
    // Noticed when a repository directory is added or removed.
    println!("cargo:rerun-if-changed={}", dir.display());
    let (map_bytes, map) = read_json(&dir.join("map.json"))?;
    let names: Vec<String> = map
        .get("repositories")
        .and_then(|r| r.as_object())
        .ok_or_else(|| format!("{}: no \"repositories\" object", dir.join("map.json").display()))?
        .keys()
        .cloned()
        .collect();
    if names.is_empty() {
        return Err(format!("{}: \"repositories\" is empty", dir.join("map.json").display()));
    }
    let copies = out.join("pins");
    let _ = std::fs::remove_dir_all(&copies);
    std::fs::create_dir_all(&copies).map_err(|e| format!("cannot create {}: {e}", copies.display()))?;
    let write = |name: &str, bytes: &[u8]| -> Result<PathBuf, String> {
        let p = copies.join(name);
        std::fs::write(&p, bytes).map_err(|e| format!("cannot write {}: {e}", p.display()))?;
        Ok(p)
    };
    let map_copy = write("map.json", &map_bytes)?;
    let mut roots = String::new();
    for (i, name) in names.iter().enumerate() {
        if !name_ok(name) {
            return Err(format!(
                "repository name {name:?} in map.json is not usable as a directory name (A-Z a-z 0-9 . _ -, not starting with a dot)"
            ));
        }
        let root_path = dir.join(name).join("root.json");
        if !root_path.is_file() {
            return Err(format!(
                "repository {name:?} is named in map.json but {} is missing",
                root_path.display()
            ));
        }
        let (bytes, _) = read_json(&root_path)?;
        let copy = write(&format!("{i}.root.json"), &bytes)?;
        let _ = writeln!(roots, "        ({name:?}, include_bytes!({})),", literal(&copy)?);
    }
    // The Sigstore trusted root publisher provenance is checked against
    // (docs/PINS.md §4.2), when the pins directory has one.
    let sigstore_path = dir.join("sigstore").join("trusted_root.json");
    println!("cargo:rerun-if-changed={}", sigstore_path.display());
    let sigstore = if sigstore_path.is_file() {
        let (bytes, _) = read_json(&sigstore_path)?;
        format!("Some(include_bytes!({}))", literal(&write("sigstore-trusted-root.json", &bytes)?)?)
    } else {
        "None".to_owned()
    };
    let source = dir.to_str().ok_or_else(|| format!("{} is not UTF-8", dir.display()))?;
    Ok(format!(
        "/// The pins compiled in from {VAR} at build time.\n\
         pub const COMPILED_PINS: Option<CompiledPins> = Some(CompiledPins {{\n    \
             source: {source:?},\n    \
             map: include_bytes!({map}),\n    \
             roots: &[\n{roots}    ],\n    \
             sigstore_root: {sigstore},\n\
         }});\n",
        map = literal(&map_copy)?,
    ))
}
