//! `airlock`: key ceremonies, metadata signing and verification.
//!
//! Thin by design: parsing arguments, prompting and printing live here; all
//! checks live in the libraries.

#![forbid(unsafe_code)]

// First, so that its `println!` and `print!` reach every module below.
#[macro_use]
mod exit;
mod cmd;
mod io;
mod progress;
mod rules;
mod secrets;
mod steps;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Offline signing and bundle toolkit for air-gapped networks.
#[derive(Parser)]
#[command(name = "airlock", version = airlock_keyceremony::BUILD, about, disable_help_subcommand = true)]
struct Cli {
    /// No progress bars (they are shown only when stderr is a terminal).
    #[arg(long, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate and inspect keys.
    #[command(subcommand)]
    Key(cmd::key::KeyCommand),
    /// Sign and verify single TUF metadata files by hand.
    #[command(subcommand)]
    Metadata(cmd::metadata::MetadataCommand),
    /// Key ceremonies: first root, rotations, transcripts.
    #[command(subcommand)]
    Ceremony(cmd::ceremony::CeremonyCommand),
    /// Air-gap bundles: create, verify, inspect.
    #[command(subcommand)]
    Bundle(cmd::bundle::BundleCommand),
    /// The offline mirror: init, import, verify, status, log.
    #[command(subcommand)]
    Mirror(cmd::mirror::MirrorCommand),
    /// Run the whole path in a temporary directory: ceremony, registry,
    /// publication, bundle, pinned import, and one attack refused.
    Demo(cmd::demo::DemoArgs),
    /// The registry: init, publishers, accept, refresh, verify, status.
    #[command(subcommand)]
    Registry(cmd::registry::RegistryCommand),
    /// Sign a release as a publisher, writing a submission for the registry.
    Publish(cmd::registry::PublishArgs),
    /// Verify root chains.
    #[command(subcommand)]
    Root(cmd::root::RootCommand),
    /// The transparency log: verify checkpoints, audit a registry's log.
    #[command(subcommand)]
    Log(cmd::log::LogCommand),
    /// Offline witnesses: cosign registry log checkpoints, refuse split views.
    #[command(subcommand)]
    Witness(cmd::witness::WitnessCommand),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(cmd::docs::CompletionsArgs),
    /// Write man pages for every command.
    Man(cmd::docs::ManArgs),
}

fn main() -> ExitCode {
    let cli: Cli = match exit::parse_args("airlock") {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    progress::set_quiet(cli.quiet);
    let result = match cli.command {
        Command::Key(c) => cmd::key::run(c),
        Command::Metadata(c) => cmd::metadata::run(c),
        Command::Root(c) => cmd::root::run(c),
        Command::Registry(c) => cmd::registry::run(c),
        Command::Publish(a) => cmd::registry::publish(a),
        Command::Demo(a) => cmd::demo::run(a),
        Command::Mirror(c) => cmd::mirror::run(c),
        Command::Bundle(c) => cmd::bundle::run(c),
        Command::Witness(c) => cmd::witness::run(c),
        Command::Ceremony(c) => cmd::ceremony::run(c),
        Command::Log(c) => cmd::log::run(c),
        Command::Completions(a) => cmd::docs::completions::<Cli>(a),
        Command::Man(a) => cmd::docs::man::<Cli>(a),
    };
    exit::finish("airlock", result)
}
