//! Progress on stderr for work that can take more than a second: reading
//! a bundle (verify, import) and writing one. Shown only when stderr is a
//! terminal and `--quiet` was not given, so logs and pipes never see it.

use airlock_bundles::bundle::{open_volumes, BundleError};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::{IsTerminal, Read, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

static QUIET: AtomicBool = AtomicBool::new(false);

/// Turns progress off for this run (`--quiet`).
pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

/// Whether to draw progress: stderr is a terminal and `--quiet` is off.
fn wanted() -> bool {
    !QUIET.load(Ordering::Relaxed) && std::io::stderr().is_terminal()
}

/// A bar for `total` bytes (a spinner when unknown), labelled `what`;
/// hidden unless [`wanted`].
fn bar(what: &str, total: Option<u64>) -> ProgressBar {
    if !wanted() {
        return ProgressBar::hidden();
    }
    let bar = match total {
        Some(n) => ProgressBar::new(n).with_style(
            ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        ),
        None => ProgressBar::new_spinner().with_style(
            ProgressStyle::with_template("{msg} {spinner} {bytes} {bytes_per_sec}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        ),
    };
    bar.set_draw_target(ProgressDrawTarget::stderr());
    bar.set_message(airlock_core::text::for_terminal(what).into_owned());
    bar
}

/// A reader that advances a bar by what passes through it, and clears the
/// bar when dropped.
pub struct ProgressRead<R> {
    inner: R,
    bar: ProgressBar,
}

impl<R: Read> Read for ProgressRead<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bar.inc(n as u64);
        Ok(n)
    }
}

impl<R> Drop for ProgressRead<R> {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

/// A writer that advances a spinner by what passes through it.
pub struct ProgressWrite<W> {
    inner: W,
    bar: ProgressBar,
}

impl<W: Write> ProgressWrite<W> {
    /// Wraps `inner`, labelled `what`.
    pub fn new(inner: W, what: &str) -> Self {
        ProgressWrite { inner, bar: bar(what, None) }
    }

    /// The wrapped writer, the bar cleared.
    pub fn into_inner(self) -> W {
        self.bar.finish_and_clear();
        self.inner
    }
}

impl<W: Write> Write for ProgressWrite<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bar.inc(n as u64);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Opens a bundle (a file, or split volumes) like [`open_volumes`], with a
/// progress bar over its length.
pub fn open_bundle(path: &Path, what: &str) -> Result<ProgressRead<Box<dyn Read>>, BundleError> {
    let inner = open_volumes(path)?;
    let total = if path.is_file() && !path.to_string_lossy().ends_with(".volumes.json") {
        path.metadata().ok().map(|m| m.len())
    } else {
        None
    };
    Ok(ProgressRead { inner, bar: bar(&format!("{what} {}", path.display()), total) })
}

/// Wraps an already open bundle stream of unknown length in a progress spinner.
pub fn reading(inner: Box<dyn Read>, what: &str) -> ProgressRead<Box<dyn Read>> {
    ProgressRead { inner, bar: bar(what, None) }
}
