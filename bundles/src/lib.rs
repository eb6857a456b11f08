//! airlock-bundles
pub mod bundle;
pub mod mirror;
pub mod registry;
