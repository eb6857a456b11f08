//! Crash points for tests of crash safety, compiled only with the
//! `fault-injection` feature (which `scripts/test` turns on; release builds
//! never have it). With `AIRLOCK_TEST_KILL_AT=<point>` in its environment, a
//! test build kills itself with `SIGKILL` at that point: no destructor, no
//! flush, exactly as a power cut or an OOM kill would stop it.

/// A named point in a write sequence (see each caller for the names).
#[cfg(feature = "fault-injection")]
pub(crate) fn point(name: &str) {
    if std::env::var("AIRLOCK_TEST_KILL_AT").is_ok_and(|v| v == name) {
        let pid = std::process::id().to_string();
        // `kill` rather than a signal call: no unsafe code for a test hook.
        let _ = std::process::Command::new("kill").args(["-KILL", &pid]).status();
        // SIGKILL is delivered before `kill` returns to us; never go on.
        loop {
            std::thread::park();
        }
    }
}

/// Without the feature, crash points are nothing.
#[cfg(not(feature = "fault-injection"))]
#[inline(always)]
pub(crate) fn point(_name: &str) {}
