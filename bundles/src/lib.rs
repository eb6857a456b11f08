//! airlock-bundles
pub mod bundle;
pub mod filelock;
pub mod mirror;
pub mod registry;
