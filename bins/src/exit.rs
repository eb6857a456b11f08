//! Exit codes and the one-line error every failure prints.
//!
//! 0 success; 1 verification or policy refused; 2 usage or configuration
//! error (bad flags, unreadable key, wrong passphrase, existing output);
//! 3 I/O or internal error. Anything not marked otherwise is 3.

/// `println!` and `print!` through `exit::out`: a closed standard output
/// (a pipe whose reader has gone) never panics or cuts the work short.
macro_rules! println {
    () => { $crate::exit::out(format_args!(""), true) };
    ($($arg:tt)*) => { $crate::exit::out(format_args!($($arg)*), true) };
}

/// See `println!` above.
#[allow(unused_macros)]
macro_rules! print {
    ($($arg:tt)*) => { $crate::exit::out(format_args!($($arg)*), false) };
}

use std::fmt;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

/// Whether standard output was closed by its reader (a pipe into `head`).
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// Writes to standard output for `println!`/`print!` (the macros above,
/// which every module declared after `exit` uses). When the reader has gone (`| head -1`), the rest of the
/// output is dropped and the work goes on to its end, so a ceremony or an
/// import is never cut off half way by a closed pipe; the exit code is the
/// work's own. Other write errors are reported on stderr once.
pub fn out(args: fmt::Arguments<'_>, newline: bool) {
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let mut stdout = std::io::stdout().lock();
    let written =
        stdout.write_fmt(args).and_then(|()| if newline { stdout.write_all(b"\n") } else { Ok(()) });
    if let Err(e) = written {
        STDOUT_CLOSED.store(true, Ordering::Relaxed);
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("airlock: warning: standard output: {e}; the rest of the output is dropped");
        }
    }
}

/// The documented exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// A check failed: the input is not what it claims to be.
    Refused = 1,
    /// The operator's input or configuration is wrong.
    Usage = 2,
    /// Reading or writing failed, or a bug.
    Internal = 3,
}

/// An error carrying its exit code, attached to an `anyhow` chain.
#[derive(Debug)]
pub struct Failure {
    /// The exit code.
    pub code: Code,
    /// The one-line message.
    pub message: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// A verification or policy refusal (exit 1).
pub fn refused(message: impl Into<String>) -> anyhow::Error {
    Failure { code: Code::Refused, message: message.into() }.into()
}

/// A usage or configuration error (exit 2).
pub fn usage(message: impl Into<String>) -> anyhow::Error {
    Failure { code: Code::Usage, message: message.into() }.into()
}

/// The exit code of an error chain: the first `Failure` in it decides.
pub fn code_of(err: &anyhow::Error) -> Code {
    err.chain().find_map(|e| e.downcast_ref::<Failure>()).map_or(Code::Internal, |f| f.code)
}

/// The error chain on one line, outermost context first.
pub fn one_line(err: &anyhow::Error) -> String {
    let parts: Vec<String> = err.chain().map(|e| e.to_string().replace('\n', " ")).collect();
    parts.join(": ")
}

/// Parses the command line; a usage error prints one line and exits 2,
/// `--help` and `--version` print and exit 0.
pub fn parse_args<T: clap::Parser>(prog: &str) -> Result<T, std::process::ExitCode> {
    match T::try_parse() {
        Ok(cli) => Ok(cli),
        Err(e) if !e.use_stderr() => {
            let _ = e.print();
            Err(std::process::ExitCode::SUCCESS)
        }
        // A command group given no subcommand: its help, as git and cargo do.
        Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            eprint!("{}", e.render());
            Err(std::process::ExitCode::from(2))
        }
        Err(e) => {
            eprintln!("{prog}: error: {} (see --help)", usage_line(&e.render().to_string()));
            Err(std::process::ExitCode::from(2))
        }
    }
}

/// clap's message as one line: its first paragraph (which names what is
/// missing or wrong, such as each required argument not given) joined, and
/// nothing of the usage and tips after it.
fn usage_line(rendered: &str) -> String {
    let words: Vec<&str> = rendered
        .lines()
        .take_while(|l| !l.trim().is_empty() && !l.starts_with("Usage:"))
        .map(str::trim)
        .collect();
    let line = words.join(" ");
    let line = line.trim_start_matches("error: ");
    if line.is_empty() {
        "invalid arguments".to_owned()
    } else {
        line.to_owned()
    }
}

/// Ends a run: the one-line error on stderr and its exit code.
pub fn finish(prog: &str, result: anyhow::Result<()>) -> std::process::ExitCode {
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // Error text carries names and paths from untrusted input.
            eprintln!("{prog}: error: {}", airlock_core::text::for_terminal(&one_line(&e)));
            std::process::ExitCode::from(code_of(&e) as u8)
        }
    }
}
