//! One module per command group.

pub mod bundle;
pub mod ceremony;
pub mod demo;
pub mod docs;
pub mod key;
pub mod log;
pub mod metadata;
pub mod mirror;
pub mod ownership;
pub mod registry;
pub mod root;
pub mod witness;

use crate::exit::usage;
use airlock_core::Timestamp;

/// `now` for checks: `--at` when given (rehearsals, tests, machines with a
/// bad clock), the system clock otherwise.
pub fn now_or(at: Option<&str>) -> anyhow::Result<Timestamp> {
    match at {
        Some(s) => Timestamp::parse(s).map_err(|e| usage(format!("--at: {e}"))),
        None => {
            let secs = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0);
            Ok(Timestamp::from_unix(secs))
        }
    }
}
