//! The SHA-256 of a whole bundle as an import reads it (for the audit
//! record), computed on a second thread.
//!
//! The import already hashes every artifact on the reading thread to
//! verify it; hashing the whole stream there too doubled the SHA-256 work
//! of the thread every byte waits on. A second core hashes the stream
//! beside it instead (docs/BENCHMARKS.md, "Both cores"). Memory stays
//! bounded: chunks go through a channel of [`IN_FLIGHT`] and are recycled.

use sha2::{Digest, Sha256};
use std::io::{self, Read};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::thread::JoinHandle;

/// Bytes gathered before a chunk is handed to the hashing thread: reads of
/// a tar header (512 bytes) are too small to send one by one.
const CHUNK: usize = 256 * 1024;

/// Chunks waiting for the hashing thread; the reader blocks when it is this
/// far ahead, so at most about `IN_FLIGHT + 3` chunks exist at once.
const IN_FLIGHT: usize = 4;

enum Hasher {
    /// The hashing thread, fed through a bounded channel; spent chunks come
    /// back to be filled again.
    Thread { to: SyncSender<Vec<u8>>, spare: Receiver<Vec<u8>>, handle: JoinHandle<Sha256> },
    /// No thread could be started: hash on the reading thread.
    Inline(Sha256),
}

/// A reader that hashes everything read through it.
pub(crate) struct BundleHash<'a> {
    inner: &'a mut dyn Read,
    len: u64,
    pending: Vec<u8>,
    hasher: Hasher,
}

impl<'a> BundleHash<'a> {
    /// Hashes what is read from `inner`.
    pub(crate) fn new(inner: &'a mut dyn Read) -> Self {
        let (to, from) = sync_channel::<Vec<u8>>(IN_FLIGHT);
        let (give_back, spare) = sync_channel::<Vec<u8>>(IN_FLIGHT + 1);
        let spawned = std::thread::Builder::new().name("bundle-hash".into()).spawn(move || {
            let mut h = Sha256::new();
            for chunk in from {
                h.update(&chunk);
                // Kept for reuse if there is room; dropped otherwise.
                let _ = give_back.try_send(chunk);
            }
            h
        });
        let hasher = match spawned {
            Ok(handle) => Hasher::Thread { to, spare, handle },
            Err(_) => Hasher::Inline(Sha256::new()),
        };
        BundleHash { inner, len: 0, pending: Vec::with_capacity(CHUNK), hasher }
    }

    fn send_pending(&mut self) -> io::Result<()> {
        if let Hasher::Thread { to, spare, .. } = &self.hasher {
            let mut next = spare.try_recv().unwrap_or_else(|_| Vec::with_capacity(CHUNK));
            next.clear();
            let full = std::mem::replace(&mut self.pending, next);
            to.send(full).map_err(|_| io::Error::other("the bundle hashing thread stopped"))?;
        }
        Ok(())
    }

    /// The SHA-256 (lowercase hex) and length of everything read.
    pub(crate) fn finish(mut self) -> io::Result<(String, u64)> {
        if !self.pending.is_empty() {
            self.send_pending()?;
        }
        let digest = match self.hasher {
            Hasher::Inline(h) => h.finalize(),
            Hasher::Thread { to, handle, .. } => {
                // Closing the channel ends the thread's loop.
                drop(to);
                handle.join().map_err(|_| io::Error::other("the bundle hashing thread panicked"))?.finalize()
            }
        };
        Ok((hex::encode(digest), self.len))
    }
}

impl Read for BundleHash<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.len += n as u64;
        match &mut self.hasher {
            Hasher::Inline(h) => h.update(&buf[..n]),
            Hasher::Thread { .. } => {
                // A chunk at a time: a large read (a metadata file is read
                // whole) would otherwise grow the chunk to its size, and
                // grown chunks come back to be reused, so several such
                // buffers stayed allocated to the end of the import (21 MB
                // at 100,000 artifacts; docs/BENCHMARKS.md).
                let mut rest = &buf[..n];
                while !rest.is_empty() {
                    let take = rest.len().min(CHUNK - self.pending.len());
                    self.pending.extend_from_slice(&rest[..take]);
                    rest = &rest[take..];
                    if self.pending.len() >= CHUNK {
                        self.send_pending()?;
                    }
                }
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads `data` through a [`BundleHash`] in reads of `step` bytes.
    fn hash_in_steps(data: &[u8], step: usize) -> (String, u64) {
        let mut src: &[u8] = data;
        let mut h = BundleHash::new(&mut src);
        let mut buf = vec![0u8; step];
        while h.read(&mut buf).unwrap() > 0 {}
        h.finish().unwrap()
    }

    #[test]
    fn the_hash_is_the_streams_whatever_the_reads() {
        let data: Vec<u8> = (0..3 * CHUNK + 12_345).map(|i| (i * 7 % 251) as u8).collect();
        let want = (hex::encode(Sha256::digest(&data)), data.len() as u64);
        for step in [1, 511, 512, 4096, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK + 3, 8 * CHUNK] {
            if step == 1 && data.len() > CHUNK {
                // One byte at a time over a short prefix is enough for the smallest reads.
                let short = &data[..CHUNK + 3];
                assert_eq!(hash_in_steps(short, 1), (hex::encode(Sha256::digest(short)), short.len() as u64));
                continue;
            }
            assert_eq!(hash_in_steps(&data, step), want, "reads of {step}");
        }
    }

    /// A read of many chunks' worth is sent a chunk at a time: no chunk
    /// grows past its size (grown chunks were reused, and stayed allocated).
    #[test]
    fn a_large_read_grows_no_chunk() {
        let data: Vec<u8> = (0..5 * CHUNK + 3).map(|i| (i % 253) as u8).collect();
        let mut src: &[u8] = &data;
        let mut h = BundleHash::new(&mut src);
        let mut buf = vec![0u8; data.len()];
        assert_eq!(h.read(&mut buf).unwrap(), data.len());
        assert!(h.pending.capacity() <= CHUNK, "{}", h.pending.capacity());
        assert_eq!(h.finish().unwrap(), (hex::encode(Sha256::digest(&data)), data.len() as u64));
    }

    #[test]
    fn an_empty_stream_hashes_as_empty() {
        assert_eq!(hash_in_steps(&[], 4096), (hex::encode(Sha256::digest([])), 0));
    }

    #[test]
    fn the_inline_fallback_hashes_the_same() {
        let data = vec![42u8; CHUNK + 7];
        let mut src: &[u8] = &data;
        let mut h = BundleHash {
            inner: &mut src,
            len: 0,
            pending: Vec::new(),
            hasher: Hasher::Inline(Sha256::new()),
        };
        let mut buf = vec![0u8; 1000];
        while h.read(&mut buf).unwrap() > 0 {}
        assert_eq!(h.finish().unwrap(), (hex::encode(Sha256::digest(&data)), data.len() as u64));
    }
}
