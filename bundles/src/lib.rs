//! airlock-bundles
pub mod bundle;
pub mod mirror;
