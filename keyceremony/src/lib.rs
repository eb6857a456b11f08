//! airlock-keyceremony: key generation, encrypted key files and passphrase
//! sources, the layer that ceremonies, rotation and backups build on.
//!
//! Nothing here prompts on its own or reads a passphrase from argv: callers
//! choose a [`passphrase::PassphraseSource`], so that the same code runs under
//! a custodian at a terminal, under automation, and under tests.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

/// This build: its version and the commit it was built from (keyceremony's
/// build script reads it), as `airlock --version` prints it and every
/// transcript and audit record names it.
pub const BUILD: &str = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("AIRLOCK_COMMIT"), ")");

pub mod keyfile;
pub mod passphrase;
mod secret_io;

pub use keyfile::{
    classify_key_file, decrypt_key_file, generate, read_key_file, read_public_key_file, write_key_file,
    write_public_key_file, KeyFileError, KeyFileKind, KeyFileOptions,
};
pub use passphrase::{
    EnvPassphrase, FilePassphrase, PassphraseError, PassphraseKind, PassphraseRequest, PassphraseSource,
    PromptPassphrase, ScriptedPassphrase, SecretPassphrase,
};
pub mod airgap;
pub mod rotation;
pub mod shares;
pub mod token;
pub mod transcript;
