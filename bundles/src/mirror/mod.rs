//! The offline mirror: per pinned registry, a consistent-snapshot TUF
//! repository under `served/` that any static web server can serve; beside
//! it, under `state/`, the importer's trusted state, pins, policy, journal
//! and hash-chained audit log. See docs/FORMAT.md, "Mirror".
//!
//! An import verifies the whole bundle into a staging directory on the
//! mirror's own file system, writes a journal naming every rename, then
//! publishes by rename (targets first, `timestamp.json` last), updates the
//! trusted state, appends to the audit log and removes the journal. A crash
//! at any point leaves either the old state (no journal yet: the staging
//! directory is discarded) or a journal that the next command rolls forward
//! to the new state.

mod bundle_hash;
mod error;
mod import;
mod layout;
mod lock;
mod sigstore;
mod verify;

pub use error::MirrorError;
pub use import::{check_bundle, import_bundle, recover, trusted_state, Checked, ImportReport, Importer};
pub use layout::{Mirror, RepoState};
pub use verify::{load_reachable, verify_mirror, DirTransport, MirrorProblem};

#[cfg(test)]
mod tests;
