//! End-to-end tests: drive the `airlock` binary as an operator would, in a
//! scratch directory, and check exit codes, messages, outputs and files.
//!
//! No network, no sleeps, no wall clock: checks of time pass `--at`, and a
//! program whose clock a test cannot set with `--at` (python-tuf) runs at
//! the test's instant under `faketime` (`common/fixed_clock.rs`).

mod ceremony;
mod cli;
mod clock_shift;
mod courier;
mod exit_codes;
#[path = "../common/fixed_clock.rs"]
mod fixed_clock;
mod hash_bins;
mod hostile;
#[path = "../common/http_server.rs"]
mod http_server;
mod import_pins;
mod json;
mod keys;
mod lean_delta;
mod log_checkpoint;
mod metadata;
mod multimachine;
mod ownership;
mod pinned;
mod readme_tour;
mod registry_cli;
mod roots;
mod selfcheck;
mod sigstore;
mod support;
mod threats;
mod transparency;
