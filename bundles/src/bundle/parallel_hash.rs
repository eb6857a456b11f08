//! Artifacts hashed on other threads while the reading thread reads on
//! (issue 17, item 2).
//!
//! The bundle is still read once, as one stream, on one thread: that thread
//! parses the tar, counts each artifact's bytes against its signed length
//! (the first byte past it is refused before the sink sees it), and hands
//! the bytes to the sink. Only the hashing of the artifacts' bytes (SHA-256
//! and SHA-512 through [`TargetVerifier`], two thirds of a verify's CPU)
//! moves to worker threads, "lanes": one per core, at most [`MAX_LANES`],
//! artifacts handed to them in turn, so that two artifacts are hashed at
//! once (one SHA-256 stream cannot be split, and it is slower than the
//! reading). The bytes go to a lane in chunks of [`CHUNK`] bytes through a
//! channel of [`IN_FLIGHT`], and spent chunks come back to be filled again,
//! so at most `IN_FLIGHT + 3` chunks (2.25 MiB) a lane exist at once,
//! whatever the size and number of artifacts. Each artifact's verdict comes
//! back in stream order: the reader collects them in the order it handed
//! the artifacts out.
//!
//! When a verdict is waited for is the reader's choice:
//!
//! - per artifact ([`ArtifactHashing::new`] with `wait_each`): [`end`] returns
//!   the artifact's own verdict, so the sink's `finish` still means
//!   "verified". Hashing overlaps the reading and the sink's writes of the
//!   same artifact.
//! - at the end: [`end`] only collects the verdicts already in, and the reader
//!   goes on to the next artifact while the worker finishes the previous
//!   ones; [`wait_all`] collects the rest before the bundle counts as
//!   verified. For a sink that keeps nothing of the bytes.
//!
//! Either way the error reported is the one the one-thread reader reported:
//! an artifact's failed verdict comes before any error found later in the
//! stream ([`settle`]), and the first failed verdict is the one reported.
//! Artifacts shorter than [`INLINE_BELOW`] are hashed on the reading thread
//! (a hand-off costs more than hashing them), and so is everything when no
//! thread can be started.
//!
//! [`end`]: ArtifactHashing::end
//! [`wait_all`]: ArtifactHashing::wait_all
//! [`settle`]: ArtifactHashing::settle

use super::error::BundleError;
use airlock_core::target::{TargetError, TargetVerifier};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;

/// Bytes per hand-off: large enough that the channel's cost (and a wake-up
/// of the worker) is small next to hashing them, small enough that a few
/// in flight stay a few MiB.
pub(crate) const CHUNK: usize = 256 * 1024;

/// Chunks queued for the worker; the reader blocks when it is this far
/// ahead.
const IN_FLIGHT: usize = 6;

/// Artifacts shorter than this are hashed on the reading thread.
pub(crate) const INLINE_BELOW: u64 = 128 * 1024;

/// The most hashing threads: two keep both cores of the machines airlock
/// is measured on busy beside the reading thread (docs/BENCHMARKS.md).
const MAX_LANES: usize = 2;

/// What the reading thread sends the worker; every artifact is a `Begin`,
/// its bytes, and an `End`. The verifier is boxed: its hash states are
/// 400 bytes, and every chunk's message would be that size too.
enum Job {
    Begin(Box<TargetVerifier>),
    Data(Vec<u8>),
    End,
}

type Verdict = Result<(), TargetError>;

struct Worker {
    to: SyncSender<Job>,
    verdicts: Receiver<Verdict>,
    spare: Receiver<Vec<u8>>,
    handle: JoinHandle<()>,
    /// Set when the result no longer matters: the worker skips what is queued.
    stop: Arc<AtomicBool>,
}

/// The artifact being read, from [`ArtifactHashing::begin`] to
/// [`ArtifactHashing::end`].
pub(crate) struct Current {
    path: String,
    expected: u64,
    seen: u64,
    /// The verifier, when this artifact is hashed on the reading thread.
    inline: Option<TargetVerifier>,
    /// The lane hashing it otherwise.
    lane: usize,
}

impl Current {
    /// Counts `n` more bytes read, refusing them if they go past the signed
    /// length: called before the bytes go anywhere, as the one-thread
    /// reader refused them before the sink saw them.
    pub(crate) fn admit(&mut self, n: usize) -> Result<(), BundleError> {
        self.seen += n as u64;
        if self.seen > self.expected {
            return Err(mismatch(&self.path, TargetError::TooLong { expected: self.expected }));
        }
        Ok(())
    }
}

/// Artifact hashing for one bundle read (see the module's documentation).
pub(crate) struct ArtifactHashing {
    wait_each: bool,
    inline_below: u64,
    /// The lanes, each started on first use (`None` before, and after it
    /// was stopped); as many as there may be.
    workers: Vec<Option<Worker>>,
    /// The lane the next artifact goes to.
    next_lane: usize,
    /// Set once a thread could not be started: hash inline from then on.
    no_thread: bool,
    /// Archive paths, and lanes, of the artifacts handed out whose verdict
    /// is not collected yet, oldest first (bounded by the chunks in flight:
    /// every artifact handed over is at least a `Begin` and an `End`).
    pending: VecDeque<(String, usize)>,
    /// The buffer inline hashing reads into, kept between artifacts.
    own: Vec<u8>,
}

impl ArtifactHashing {
    /// Hashing for a read in which the sink's `finish` waits for each
    /// artifact's verdict (`wait_each`) or does not.
    pub(crate) fn new(wait_each: bool) -> Self {
        let lanes = std::thread::available_parallelism().map_or(1, |n| n.get().min(MAX_LANES));
        ArtifactHashing {
            wait_each,
            inline_below: INLINE_BELOW,
            workers: (0..lanes).map(|_| None).collect(),
            next_lane: 0,
            no_thread: false,
            pending: VecDeque::new(),
            own: Vec::new(),
        }
    }

    /// Starts an artifact at archive `path` of `size` bytes in the
    /// archive, checked by `verifier` against its signed length `expected`.
    pub(crate) fn begin(
        &mut self,
        path: &str,
        verifier: TargetVerifier,
        expected: u64,
        size: u64,
    ) -> Result<Current, BundleError> {
        let lane = self.next_lane;
        let mut current = Current { path: path.to_owned(), expected, seen: 0, inline: None, lane };
        if size < self.inline_below || self.worker(lane).is_none() {
            current.inline = Some(verifier);
            return Ok(current);
        }
        self.next_lane = (lane + 1) % self.workers.len();
        self.send(lane, Job::Begin(Box::new(verifier)))?;
        Ok(current)
    }

    /// A buffer of [`CHUNK`] bytes to read the current artifact's next
    /// bytes into; give it to [`ArtifactHashing::hash`] with what was read.
    pub(crate) fn buffer(&mut self, current: &Current) -> Vec<u8> {
        let mut b = match (&current.inline, self.workers.get(current.lane)) {
            (None, Some(Some(w))) if self.own.capacity() == 0 => w.spare.try_recv().unwrap_or_default(),
            _ => std::mem::take(&mut self.own),
        };
        // Spent chunks come back truncated to what they held.
        b.resize(CHUNK, 0);
        b
    }

    /// Hashes `chunk` (all of it: truncate it to the bytes read first),
    /// counted already by [`Current::admit`].
    pub(crate) fn hash(&mut self, current: &mut Current, chunk: Vec<u8>) -> Result<(), BundleError> {
        match &mut current.inline {
            Some(v) => {
                v.update(&chunk).map_err(|e| mismatch(&current.path, e))?;
                self.own = chunk;
                Ok(())
            }
            // The read that found the end: nothing to hand over.
            None if chunk.is_empty() => {
                self.own = chunk;
                Ok(())
            }
            None => self.send(current.lane, Job::Data(chunk)),
        }
    }

    /// The current artifact's bytes have ended. Waiting for each verdict:
    /// its verdict. Otherwise: the first failed verdict among those already
    /// in, if any.
    pub(crate) fn end(&mut self, current: Current) -> Result<(), BundleError> {
        let Current { path, inline, lane, .. } = current;
        let result = match inline {
            Some(v) => v.finish().map_err(|e| mismatch(&path, e)),
            None => {
                self.send(lane, Job::End)?;
                self.pending.push_back((path, lane));
                if self.wait_each {
                    self.wait_all()
                } else {
                    self.collect_ready()
                }
            }
        };
        result.map_err(|e| self.settle(e))
    }

    /// Waits for every verdict still to come: the first that failed, if any.
    pub(crate) fn wait_all(&mut self) -> Result<(), BundleError> {
        while let Some((path, lane)) = self.pending.pop_front() {
            let verdict = match self.workers.get(lane) {
                Some(Some(w)) => w.verdicts.recv().map_err(|_| stopped())?,
                _ => return Err(stopped()),
            };
            if let Err(e) = verdict {
                return Err(self.failed(&path, e));
            }
        }
        Ok(())
    }

    /// The error to report when the reader found `later`: the first failed
    /// verdict of an artifact that ended before it, if there is one (the
    /// one-thread reader would have stopped there), else `later`.
    pub(crate) fn settle(&mut self, later: BundleError) -> BundleError {
        match self.wait_all() {
            Err(earlier) => earlier,
            Ok(()) => later,
        }
    }

    /// Collects the verdicts already in without waiting.
    fn collect_ready(&mut self) -> Result<(), BundleError> {
        while let Some(&(_, lane)) = self.pending.front() {
            // The oldest first: a later artifact's verdict, even if in, waits.
            let Some(Some(w)) = self.workers.get(lane) else { return Err(stopped()) };
            let verdict = match w.verdicts.try_recv() {
                Ok(v) => v,
                Err(std::sync::mpsc::TryRecvError::Empty) => break,
                Err(std::sync::mpsc::TryRecvError::Disconnected) => return Err(stopped()),
            };
            let (path, _) = self.pending.pop_front().unwrap_or_default();
            if let Err(e) = verdict {
                return Err(self.failed(&path, e));
            }
        }
        Ok(())
    }

    /// A verdict failed: that is the result. The verdicts after it no
    /// longer matter, so the lanes are stopped (a later artifact would get
    /// new ones).
    fn failed(&mut self, path: &str, e: TargetError) -> BundleError {
        self.shut_down();
        mismatch(path, e)
    }

    fn send(&mut self, lane: usize, job: Job) -> Result<(), BundleError> {
        let Some(Some(w)) = self.workers.get(lane) else { return Err(stopped()) };
        w.to.send(job).map_err(|_| stopped())
    }

    /// Lane `lane`'s worker, started on first use; `None` if no thread can
    /// be started (then no lane is used again, and what was handed out
    /// before still gets its verdict).
    fn worker(&mut self, lane: usize) -> Option<&Worker> {
        if self.no_thread {
            return None;
        }
        let slot = self.workers.get_mut(lane)?;
        if slot.is_none() {
            match spawn() {
                Ok(w) => *slot = Some(w),
                Err(_) => {
                    self.no_thread = true;
                    return None;
                }
            }
        }
        slot.as_ref()
    }

    /// Stops every lane and waits for its thread to end: it skips whatever
    /// is still queued, so this takes at most one chunk's hashing.
    fn shut_down(&mut self) {
        for slot in &mut self.workers {
            if let Some(Worker { to, verdicts, spare, handle, stop }) = slot.take() {
                stop.store(true, Ordering::Relaxed);
                // Closing the channels ends the worker's loop.
                drop((to, verdicts, spare));
                let _ = handle.join();
            }
        }
        self.next_lane = 0;
        self.pending.clear();
    }
}

impl Drop for ArtifactHashing {
    fn drop(&mut self) {
        // An error anywhere ends the read: no thread outlives it.
        self.shut_down();
    }
}

fn mismatch(path: &str, source: TargetError) -> BundleError {
    BundleError::TargetMismatch { path: path.to_owned(), source }
}

/// The worker ended without a verdict: only a panic in it does that.
fn stopped() -> BundleError {
    BundleError::Io("the artifact hashing thread stopped".into())
}

fn spawn() -> std::io::Result<Worker> {
    let (to, jobs) = sync_channel::<Job>(IN_FLIGHT);
    // Unbounded, so that the worker never waits on the reader to take a
    // verdict while the reader waits on the worker to take a chunk; it
    // holds at most one verdict per artifact in flight.
    let (give_verdict, verdicts) = channel::<Verdict>();
    let (give_back, spare) = sync_channel::<Vec<u8>>(IN_FLIGHT + 2);
    let stop = Arc::new(AtomicBool::new(false));
    let stopping = stop.clone();
    let handle = std::thread::Builder::new()
        .name("artifact-hash".into())
        .spawn(move || work(&jobs, &give_verdict, &give_back, &stopping))?;
    Ok(Worker { to, verdicts, spare, handle, stop })
}

fn work(jobs: &Receiver<Job>, verdicts: &Sender<Verdict>, spare: &SyncSender<Vec<u8>>, stop: &AtomicBool) {
    // The artifact being hashed, and its first failure.
    let mut current: Option<(Box<TargetVerifier>, Verdict)> = None;
    for job in jobs {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        match job {
            Job::Begin(v) => current = Some((v, Ok(()))),
            Job::Data(chunk) => {
                if let Some((v, verdict @ Ok(()))) = &mut current {
                    if let Err(e) = v.update(&chunk) {
                        *verdict = Err(e);
                    }
                }
                // Kept for reuse if there is room; dropped otherwise.
                let _ = spare.try_send(chunk);
            }
            Job::End => {
                let verdict = match current.take() {
                    Some((v, Ok(()))) => v.finish(),
                    Some((_, Err(e))) => Err(e),
                    // The reader sends a `Begin` first; never a pass for
                    // bytes that were not hashed.
                    None => Err(TargetError::NoKnownHash),
                };
                if verdicts.send(verdict).is_err() {
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    fn bytes(seed: u8, len: usize) -> Vec<u8> {
        (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect()
    }

    fn verifier_for(data: &[u8]) -> TargetVerifier {
        TargetVerifier::from_parts(data.len() as u64, Some(&hex::encode(Sha256::digest(data))), None).unwrap()
    }

    /// Every artifact through `lanes` lanes, whatever its size.
    fn lanes(wait_each: bool, lanes: usize) -> ArtifactHashing {
        let mut h = ArtifactHashing::new(wait_each);
        h.inline_below = 0;
        h.workers = (0..lanes).map(|_| None).collect();
        h
    }

    /// Every artifact through two lanes, whatever its size.
    fn threaded(wait_each: bool) -> ArtifactHashing {
        lanes(wait_each, 2)
    }

    fn no_worker(h: &ArtifactHashing) -> bool {
        h.workers.iter().all(Option::is_none)
    }

    fn inline_only(wait_each: bool) -> ArtifactHashing {
        let mut h = ArtifactHashing::new(wait_each);
        h.no_thread = true;
        h
    }

    /// Streams `data` as the artifact `path` in reads of at most `step`
    /// bytes, checked against `verifier`, as the reader does.
    fn stream(
        h: &mut ArtifactHashing,
        path: &str,
        data: &[u8],
        verifier: TargetVerifier,
        expected: u64,
    ) -> Result<(), BundleError> {
        let mut cur = h.begin(path, verifier, expected, data.len() as u64)?;
        let mut rest = data;
        loop {
            let mut chunk = h.buffer(&cur);
            assert_eq!(chunk.len(), CHUNK);
            let mut filled = 0;
            let mut ended = false;
            while filled < chunk.len() {
                let n = rest.len().min(chunk.len() - filled).min(100_000);
                if n == 0 {
                    ended = true;
                    break;
                }
                cur.admit(n).map_err(|e| h.settle(e))?;
                chunk[filled..filled + n].copy_from_slice(&rest[..n]);
                (rest, filled) = (&rest[n..], filled + n);
            }
            chunk.truncate(filled);
            h.hash(&mut cur, chunk)?;
            if ended {
                break;
            }
        }
        h.end(cur)
    }

    /// The artifacts: sizes around the chunk size, and zero-length ones.
    fn artifacts() -> Vec<Vec<u8>> {
        [0, 1, CHUNK - 1, CHUNK, 0, CHUNK + 1, 3 * CHUNK + 17, 0]
            .iter()
            .enumerate()
            .map(|(i, &n)| bytes(i as u8, n))
            .collect()
    }

    fn all_ways() -> Vec<(&'static str, ArtifactHashing)> {
        vec![
            ("two lanes, each", threaded(true)),
            ("two lanes, at the end", threaded(false)),
            ("one lane, each", lanes(true, 1)),
            ("one lane, at the end", lanes(false, 1)),
            ("default, each", ArtifactHashing::new(true)),
            ("default, at the end", ArtifactHashing::new(false)),
            ("inline", inline_only(false)),
        ]
    }

    /// Runs every artifact, one of them (`bad`) with the wrong bytes, and
    /// returns the first error, as the reader would report it.
    fn run(h: &mut ArtifactHashing, bad: Option<usize>) -> Result<(), BundleError> {
        for (i, a) in artifacts().iter().enumerate() {
            let v = verifier_for(a);
            let mut data = a.clone();
            if bad == Some(i) {
                match data.last_mut() {
                    Some(b) => *b ^= 1,
                    None => data.push(0),
                }
            }
            stream(h, &format!("targets/a{i}"), &data, v, a.len() as u64)?;
        }
        h.wait_all()
    }

    #[test]
    fn good_artifacts_pass_in_every_mode() {
        for (how, mut h) in all_ways() {
            run(&mut h, None).unwrap_or_else(|e| panic!("{how}: {e}"));
            assert!(h.pending.is_empty(), "{how}");
        }
    }

    #[test]
    fn a_bad_artifact_is_named_whichever_it_is() {
        for bad in 0..artifacts().len() {
            for (how, mut h) in all_ways() {
                let e = run(&mut h, Some(bad)).unwrap_err();
                let want = format!("targets/a{bad}");
                match &e {
                    BundleError::TargetMismatch { path, source } if *path == want => {
                        let len = artifacts()[bad].len() as u64;
                        // A zero-length artifact given a byte is too long;
                        // otherwise the hash differs.
                        if len == 0 {
                            assert_eq!(*source, TargetError::TooLong { expected: 0 }, "{how}");
                        } else {
                            assert!(matches!(source, TargetError::HashMismatch { .. }), "{how}: {e}");
                        }
                    }
                    _ => panic!("{how}, artifact {bad}: {e:?}"),
                }
            }
        }
    }

    #[test]
    fn waiting_for_each_gives_the_verdict_at_the_artifacts_end() {
        let mut h = threaded(true);
        let a = bytes(1, 2 * CHUNK + 3);
        stream(&mut h, "targets/ok", &a, verifier_for(&a), a.len() as u64).unwrap();
        let e = stream(&mut h, "targets/bad", &a, verifier_for(&a[1..]), a.len() as u64 - 1).unwrap_err();
        assert!(
            matches!(&e, BundleError::TargetMismatch { path, source: TargetError::TooLong { .. } } if path == "targets/bad"),
            "{e:?}"
        );
        let e = stream(&mut h, "targets/worse", &a, verifier_for(&bytes(2, a.len())), a.len() as u64)
            .unwrap_err();
        assert!(
            matches!(&e, BundleError::TargetMismatch { path, source: TargetError::HashMismatch { .. } } if path == "targets/worse"),
            "{e:?}"
        );
    }

    #[test]
    fn a_short_artifact_has_the_wrong_length() {
        for (how, mut h) in all_ways() {
            let a = bytes(3, CHUNK + 5);
            let signed = a.len() as u64 + 1;
            let v = TargetVerifier::from_parts(signed, Some(&hex::encode(Sha256::digest(&a))), None).unwrap();
            let e = stream(&mut h, "targets/short", &a, v, signed).and_then(|()| h.wait_all()).unwrap_err();
            let want = TargetError::WrongLength { expected: a.len() as u64 + 1, found: a.len() as u64 };
            assert!(
                matches!(&e, BundleError::TargetMismatch { path, source } if path == "targets/short" && *source == want),
                "{how}: {e:?}"
            );
        }
    }

    #[test]
    fn an_earlier_failed_verdict_comes_before_a_later_error() {
        for (how, mut h) in all_ways() {
            let a = bytes(4, 2 * CHUNK);
            let first = stream(&mut h, "targets/bad", &a, verifier_for(&bytes(5, a.len())), a.len() as u64);
            // Not waiting for each, the verdict may or may not be in yet.
            let e = match first {
                Err(e) => e,
                Ok(()) => h.settle(BundleError::Truncated("the rest of the archive".into())),
            };
            assert!(
                matches!(&e, BundleError::TargetMismatch { path, .. } if path == "targets/bad"),
                "{how}: {e:?}"
            );
        }
        // With nothing failed, the later error stands.
        let mut h = threaded(false);
        let a = bytes(6, 2 * CHUNK);
        stream(&mut h, "targets/ok", &a, verifier_for(&a), a.len() as u64).unwrap();
        let e = h.settle(BundleError::Truncated("x".into()));
        assert!(matches!(&e, BundleError::Truncated(m) if m == "x"), "{e:?}");
    }

    #[test]
    fn dropped_mid_artifact_the_thread_ends() {
        let mut h = threaded(false);
        let a = bytes(7, 5 * CHUNK);
        // One artifact ended (its verdict perhaps not collected), one begun.
        stream(&mut h, "targets/one", &a, verifier_for(&a), a.len() as u64).unwrap();
        let mut cur = h.begin("targets/two", verifier_for(&a), a.len() as u64, a.len() as u64).unwrap();
        for _ in 0..3 {
            let mut chunk = h.buffer(&cur);
            cur.admit(chunk.len()).unwrap();
            chunk.copy_from_slice(&a[..CHUNK]);
            h.hash(&mut cur, chunk).unwrap();
        }
        // "one" went to the first lane, "two" to the second.
        let stops: Vec<_> = h.workers.iter().map(|w| w.as_ref().map(|w| w.stop.clone()).unwrap()).collect();
        for stop in &stops {
            assert_eq!(Arc::strong_count(stop), 3, "this, the worker's, and the worker thread's");
        }
        drop(h);
        // Both threads have ended and freed their state.
        for stop in &stops {
            assert_eq!(Arc::strong_count(stop), 1);
        }
    }

    #[test]
    fn after_a_failure_the_thread_is_stopped_and_a_new_one_serves_later_artifacts() {
        let mut h = threaded(true);
        let a = bytes(8, CHUNK + 1);
        let stop = h.worker(0).map(|w| w.stop.clone()).unwrap();
        stream(&mut h, "targets/bad", &a, verifier_for(&bytes(9, a.len())), a.len() as u64).unwrap_err();
        assert!(no_worker(&h) && h.pending.is_empty());
        assert_eq!(Arc::strong_count(&stop), 1, "the stopped worker's thread ended");
        stream(&mut h, "targets/ok", &a, verifier_for(&a), a.len() as u64).unwrap();
        h.wait_all().unwrap();
    }

    #[test]
    fn artifacts_alternate_between_lanes_and_verdicts_keep_stream_order() {
        let mut h = threaded(false);
        let a = bytes(11, 2 * CHUNK);
        let mut used = Vec::new();
        for k in 0..4 {
            used.push(h.next_lane);
            stream(&mut h, &format!("targets/{k}"), &a, verifier_for(&a), a.len() as u64).unwrap();
        }
        assert_eq!(used, [0, 1, 0, 1]);
        // A bad artifact on the second lane is named even when the first
        // lane's later artifact is bad too: the stream's first failure.
        let bad = || verifier_for(&bytes(12, a.len()));
        let e = [(4, verifier_for(&a)), (5, bad()), (6, bad())]
            .into_iter()
            .try_for_each(|(k, v)| stream(&mut h, &format!("targets/{k}"), &a, v, a.len() as u64))
            .and_then(|()| h.wait_all())
            .unwrap_err();
        assert!(matches!(&e, BundleError::TargetMismatch { path, .. } if path == "targets/5"), "{e:?}");
    }

    #[test]
    fn without_a_thread_everything_is_hashed_inline() {
        let mut h = inline_only(true);
        run(&mut h, None).unwrap();
        assert!(no_worker(&h));
    }

    #[test]
    fn chunks_are_recycled_and_bounded() {
        let mut h = threaded(false);
        let a = bytes(10, 4 * CHUNK);
        let mut seen = std::collections::BTreeSet::new();
        // Sixty chunks through, as the reader hands them over.
        for k in 0..15 {
            let mut cur =
                h.begin(&format!("targets/{k}"), verifier_for(&a), a.len() as u64, a.len() as u64).unwrap();
            for part in a.chunks(CHUNK) {
                let mut chunk = h.buffer(&cur);
                seen.insert(chunk.as_ptr() as usize);
                cur.admit(part.len()).unwrap();
                chunk.copy_from_slice(part);
                h.hash(&mut cur, chunk).unwrap();
            }
            h.end(cur).unwrap();
        }
        h.wait_all().unwrap();
        // Never more than a lane's queue, its worker's and the reader's two
        // at once, and none dropped and made again: as many buffers at most
        // for each of the two lanes.
        assert!(seen.len() <= 2 * (IN_FLIGHT + 3), "{} buffers", seen.len());
    }
}
