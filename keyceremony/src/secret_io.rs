//! Bounded reads into zeroizing buffers.

use std::io::{self, Read};
use zeroize::Zeroizing;

/// What a bounded read found.
pub(crate) enum Bounded {
    /// Everything the reader had, at most `limit` bytes.
    Complete(Zeroizing<Vec<u8>>),
    /// The reader had more than `limit` bytes; what was read is already wiped.
    TooLarge,
}

/// Reads all of `reader` if it holds at most `limit` bytes.
///
/// The buffer is allocated once at full size and never grows, because a
/// growing `Vec` frees its old allocation without wiping it and so would
/// leave copies of secrets on the heap.
pub(crate) fn read_bounded(mut reader: impl Read, limit: usize) -> io::Result<Bounded> {
    let mut buf = Zeroizing::new(vec![0u8; limit.saturating_add(1)]);
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    if filled > limit {
        return Ok(Bounded::TooLarge);
    }
    // Shrinking the length keeps the allocation, so nothing is copied.
    buf.truncate(filled);
    Ok(Bounded::Complete(buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_up_to_the_limit_and_refuses_more() {
        match read_bounded(&b"abc"[..], 3).unwrap() {
            Bounded::Complete(b) => assert_eq!(&b[..], b"abc"),
            Bounded::TooLarge => panic!("three bytes fit a limit of three"),
        }
        assert!(matches!(read_bounded(&b"abcd"[..], 3).unwrap(), Bounded::TooLarge));
        match read_bounded(&b""[..], 3).unwrap() {
            Bounded::Complete(b) => assert!(b.is_empty()),
            Bounded::TooLarge => panic!("empty input fits"),
        }
    }
}
