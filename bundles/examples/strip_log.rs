//! Copies a plain (not gzip) bundle without its transparency log, for the
//! log benchmark (docs/BENCHMARKS.md, "Transparency log"):
//!
//! ```text
//! cargo run --release -p airlock-bundles --example strip_log -- IN.tar OUT.tar
//! ```
//!
//! Drops the entries `log/checkpoint` and `log/proof.json`, removes them
//! from the manifest, and rewrites `SHA256SUMS` and its manifest entry, as
//! the e2e test `a_bundle_without_a_log_is_refused_by_a_mirror_that_has_one`
//! does. Everything else keeps its bytes. The reader accepts a bundle with
//! no log (docs/FORMAT.md 10.3); a mirror that requires one refuses it.

use airlock_core::bundle::{sha256sums, BundleManifest, EntryKind};
use airlock_core::hash::sha256_hex;
use std::io::Read;
use std::process::ExitCode;

/// Errors of this program.
type Error = Box<dyn std::error::Error>;

/// Reads `input`, writes the bundle without its log to `output`, and
/// returns how many bytes the stripped entries held.
fn strip(input: &str, output: &str) -> Result<u64, Error> {
    let bytes = std::fs::read(input)?;
    let mut archive = tar::Archive::new(&bytes[..]);
    let mut kept: Vec<(String, Vec<u8>)> = Vec::new();
    let mut dropped = 0u64;
    for e in archive.entries()? {
        let mut e = e?;
        let path = String::from_utf8(e.path_bytes().to_vec())?;
        let mut data = Vec::new();
        e.read_to_end(&mut data)?;
        if path.starts_with("log/") {
            dropped += data.len() as u64;
        } else {
            kept.push((path, data));
        }
    }
    let first = kept.first_mut().ok_or("empty bundle")?;
    let mut manifest = BundleManifest::from_bytes(&first.1)?;
    manifest.entries.retain(|e| !e.path.starts_with("log/"));
    let sums = sha256sums(&manifest.entries).into_bytes();
    let mut entries = manifest.entries.to_vec();
    let entry = entries.iter_mut().find(|e| e.kind == EntryKind::Sums).ok_or("no SHA256SUMS entry")?;
    entry.length = sums.len() as u64;
    entry.sha256 = sha256_hex(&sums);
    manifest.entries = entries.into_iter().collect();
    first.1 = manifest.to_bytes();
    let last = kept.last_mut().ok_or("empty bundle")?;
    last.1 = sums;
    let mut builder = tar::Builder::new(Vec::new());
    for (path, data) in &kept {
        let mut h = tar::Header::new_ustar();
        h.set_path(path)?;
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        builder.append(&h, &data[..])?;
    }
    std::fs::write(output, builder.into_inner()?)?;
    Ok(dropped)
}

/// Parses the arguments and strips the log.
fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, output] = args.as_slice() else {
        eprintln!("usage: strip_log IN.tar OUT.tar");
        return ExitCode::from(2);
    };
    match strip(input, output) {
        Ok(n) => {
            println!("{output}: the bundle without its log ({n} bytes of log entries dropped)");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("strip_log: {e}");
            ExitCode::FAILURE
        }
    }
}
