//! Shamir share envelopes (the plaintext inside a `share-N.age`).
//!
//! Invariants: no panic; an envelope that parses writes JSON that parses to
//! an equal envelope.
#![no_main]

use airlock_keyceremony::shares::ShareEnvelope;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(envelope) = ShareEnvelope::from_json(data) else { return };
    let _ = format!("{envelope:?}");
    let json = envelope.to_json().expect("a parsed envelope serialises");
    let again =
        ShareEnvelope::from_json(&json).unwrap_or_else(|e| panic!("written envelope does not parse: {e}"));
    assert!(envelope == again, "envelope changed in a round trip");
});
