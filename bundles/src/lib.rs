//! airlock-bundles
pub mod bundle;
