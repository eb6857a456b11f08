//! airlock-bundles
