//! `airlock completions SHELL` and `airlock man --out-dir DIR`: shell
//! completions and man pages generated from the same clap definitions that
//! parse the command line, so they cannot drift from it. Shared by
//! `airlock` and `airlock-import`.

use crate::exit::usage;
use anyhow::{Context, Result};
use clap::{Args, CommandFactory};
use std::path::PathBuf;

/// Arguments of `airlock completions`.
#[derive(Args)]
pub struct CompletionsArgs {
    /// The shell: bash, zsh, fish, elvish or powershell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Arguments of `airlock man`.
#[derive(Args)]
pub struct ManArgs {
    /// A new or empty directory for the pages: airlock.1 and one
    /// airlock-COMMAND-SUBCOMMAND.1 per command.
    #[arg(long)]
    pub out_dir: PathBuf,
}

/// Prints the completion script for `shell` on stdout.
pub fn completions<C: CommandFactory>(a: CompletionsArgs) -> Result<()> {
    let mut cmd = C::command();
    let name = cmd.get_name().to_owned();
    let mut out = Vec::new();
    clap_complete::generate(a.shell, &mut cmd, name, &mut out);
    print!("{}", String::from_utf8_lossy(&out));
    Ok(())
}

/// Writes a man page for the command and for every subcommand, at any depth.
pub fn man<C: CommandFactory>(a: ManArgs) -> Result<()> {
    if a.out_dir.exists() && std::fs::read_dir(&a.out_dir).map(|mut d| d.next().is_some()).unwrap_or(true) {
        return Err(usage(format!("{}: already exists and is not empty", a.out_dir.display())));
    }
    std::fs::create_dir_all(&a.out_dir).with_context(|| a.out_dir.display().to_string())?;
    let mut cmd = C::command();
    cmd.build();
    let mut written = 0;
    let mut stack = vec![(cmd.get_name().to_owned(), cmd)];
    while let Some((name, cmd)) = stack.pop() {
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            stack.push((format!("{name}-{}", sub.get_name()), sub.clone()));
        }
        let mut page = Vec::new();
        clap_mangen::Man::new(cmd.clone().name(name.clone())).render(&mut page)?;
        let path = a.out_dir.join(format!("{name}.1"));
        std::fs::write(&path, &page).with_context(|| path.display().to_string())?;
        written += 1;
    }
    eprintln!("wrote {written} man page(s) to {}", a.out_dir.display());
    Ok(())
}
