//! Interoperability tests: airlock against the reference TUF implementation
//! (python-tuf and securesystemslib, pinned in `tests/interop/requirements.txt`).
//!
//! The Python side runs in the interpreter named by `AIRLOCK_INTEROP_PYTHON`
//! (`scripts/test` builds a venv and sets it). Without it these tests print
//! `SKIPPED: ...` and pass, except under `CI=true`, where a missing tool is a
//! failure: an interop test is never skipped in CI. See `support.rs`.

mod airlock_keys;
mod canonical;
mod ceremony;
#[path = "../common/fixed_clock.rs"]
mod fixed_clock;
#[path = "../common/http_server.rs"]
mod http_server;
mod log_note;
mod pyhelpers;
mod support;
mod tuf_client;
