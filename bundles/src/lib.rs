//! airlock-bundles
pub mod bundle;
mod fault;
pub mod filelock;
pub mod mirror;
pub mod registry;
pub mod witness;
