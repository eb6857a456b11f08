//! Ceremony transcripts and hash-chained logs: the strict reader and the
//! lenient scanner used to report damage.
//!
//! Invariants: no panic; `scan` counts every line (a final line without a
//! newline included); what `parse` accepts, `scan` reads as the same records
//! with no damage.
#![no_main]

use airlock_keyceremony::transcript::{parse, scan};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let strict = parse(data);
    let lenient = scan(data);
    let expected_lines = if data.is_empty() {
        0
    } else {
        data.strip_suffix(b"\n").unwrap_or(data).split(|b| *b == b'\n').count()
    };
    assert_eq!(lenient.lines, expected_lines, "scan miscounted the lines");
    assert!(lenient.records.len() <= lenient.lines, "more records than lines");
    if let Ok(records) = strict {
        assert!(
            lenient.damage.is_empty(),
            "scan reports damage in a log parse accepts: {:?}",
            lenient.damage
        );
        assert_eq!(records, lenient.records, "parse and scan read different records");
    }
});
