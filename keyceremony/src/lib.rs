//! airlock-keyceremony
