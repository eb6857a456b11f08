//! The pins compiled into this binary by `bins/build.rs` from
//! `AIRLOCK_PINS_DIR` at build time. There is no way to give pins at run
//! time: whoever can run the importer cannot change what it trusts.

use airlock_core::pins::{Pins, PinsError};
use std::collections::BTreeMap;

/// The bytes the build script embedded.
pub struct CompiledPins {
    /// The directory they were read from at build time (informational).
    pub source: &'static str,
    /// `map.json`.
    pub map: &'static [u8],
    /// Each repository's `root.json`, by repository name.
    pub roots: &'static [(&'static str, &'static [u8])],
    /// `sigstore/trusted_root.json`, if the pins directory had one.
    pub sigstore_root: Option<&'static [u8]>,
}

include!(concat!(env!("OUT_DIR"), "/compiled_pins.rs"));

/// The compiled-in pins, checked in full; `None` when none were compiled in.
pub fn load() -> Option<(&'static str, Result<Pins, PinsError>)> {
    let c = COMPILED_PINS?;
    let roots: BTreeMap<String, Vec<u8>> =
        c.roots.iter().map(|(n, b)| ((*n).to_owned(), b.to_vec())).collect();
    let pins = Pins::from_parts(c.map, roots).map(|p| match c.sigstore_root {
        Some(b) => p.with_sigstore_root(b.to_vec()),
        None => p,
    });
    Some((c.source, pins))
}
