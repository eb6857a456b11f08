//! Where passphrases come from: a prompt on the terminal, a file, an
//! environment variable for automation, or a script for tests.
//!
//! Library code asks a [`PassphraseSource`] and never prompts by itself, so
//! the binary decides how a person is asked. There is deliberately no source
//! that takes a passphrase from the command line: argv is visible to every
//! user of the machine through `ps` and `/proc`, and lands in shell history.

use crate::secret_io::{read_bounded, Bounded};
use age::secrecy::{ExposeSecret, SecretString};
use std::collections::VecDeque;
use std::ffi::OsString;
use std::fmt;
use std::fs::File;
use std::io::{self, IsTerminal};
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};
use zeroize::Zeroize;

/// The environment variable [`EnvPassphrase`] reads by default.
pub const PASSPHRASE_ENV: &str = "AIRLOCK_PASSPHRASE";

/// Longest passphrase file we read. A passphrase is typed by people; a file
/// larger than this is the wrong file, and reading it whole would be wasteful.
pub const MAX_PASSPHRASE_FILE_LEN: usize = 4096;

/// A passphrase held in memory that is wiped on drop.
///
/// It has no `Display`, and its `Debug` prints no content, so that a
/// passphrase cannot end up in a log line or an error message.
pub struct SecretPassphrase(SecretString);

impl SecretPassphrase {
    /// Whether the passphrase is the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.expose_secret().is_empty()
    }

    /// The passphrase text, for handing to the encryption layer only.
    pub(crate) fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// A separate copy for age, which takes its passphrase by value.
    pub(crate) fn to_age(&self) -> SecretString {
        SecretString::from(Box::<str>::from(self.expose()))
    }

    /// Refuses a passphrase that a guessing attack would find quickly:
    /// zxcvbn's estimate must reach [`MIN_STRENGTH`] (of 4), counting
    /// `context` (the custodian's and the registry's names, say) as words
    /// an attacker knows. The estimate runs on the secret in place; only
    /// the score and zxcvbn's advice leave.
    pub fn check_strength(&self, context: &[&str]) -> Result<(), WeakPassphrase> {
        let estimate = zxcvbn::zxcvbn(self.expose(), context);
        let score = u8::from(estimate.score());
        if score >= MIN_STRENGTH {
            return Ok(());
        }
        let advice = estimate
            .feedback()
            .map(|f| {
                let mut parts: Vec<String> = f.warning().map(|w| w.to_string()).into_iter().collect();
                parts.extend(f.suggestions().iter().map(ToString::to_string));
                parts.join(" ")
            })
            .filter(|a| !a.is_empty())
            .unwrap_or_else(|| "use a longer passphrase of several unusual words".to_owned());
        Err(WeakPassphrase { score, advice })
    }
}

/// The least zxcvbn score (0 to 4) a new key's passphrase must reach: 3,
/// "safely unguessable" (about 10^10 guesses) even offline against a
/// stolen key file, with scrypt's work factor on top.
pub const MIN_STRENGTH: u8 = 3;

/// A passphrase refused as too easy to guess.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the passphrase is too weak (strength {score} of 4, at least {MIN_STRENGTH} needed): {advice}")]
pub struct WeakPassphrase {
    /// zxcvbn's score.
    pub score: u8,
    /// zxcvbn's warning and suggestions.
    pub advice: String,
}

impl From<String> for SecretPassphrase {
    fn from(mut s: String) -> Self {
        // `String::into_boxed_str` may reallocate to drop spare capacity and
        // would then free the old buffer unwiped; copy into an exact-size box
        // and wipe the original ourselves instead.
        let boxed = Box::<str>::from(s.as_str());
        s.zeroize();
        SecretPassphrase(SecretString::from(boxed))
    }
}

impl From<&str> for SecretPassphrase {
    fn from(s: &str) -> Self {
        SecretPassphrase(SecretString::from(Box::<str>::from(s)))
    }
}

impl fmt::Debug for SecretPassphrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretPassphrase([REDACTED])")
    }
}

/// Whether a passphrase unlocks something that exists or protects something new.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PassphraseKind {
    /// Unlocks an existing key file; a wrong answer is caught by decryption.
    Unlock,
    /// Protects a new key file; nothing would catch a typo, so interactive
    /// sources ask twice.
    New,
    /// The user PIN of a hardware token; the token checks it.
    TokenPin,
}

/// What a passphrase is wanted for, so that a source can tell the person
/// which key and which custodian it is asking about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PassphraseRequest {
    /// What the passphrase protects, as a person reads it: a key name or file path.
    pub subject: String,
    /// The custodian who holds the passphrase, when a ceremony knows it.
    pub custodian: Option<String>,
    /// Unlocking an existing key or protecting a new one.
    pub kind: PassphraseKind,
}

impl PassphraseRequest {
    /// A request for the passphrase of an existing key file.
    pub fn unlock(subject: impl Into<String>) -> Self {
        PassphraseRequest { subject: subject.into(), custodian: None, kind: PassphraseKind::Unlock }
    }

    /// A request for a passphrase to protect a new key file.
    pub fn new_key(subject: impl Into<String>) -> Self {
        PassphraseRequest { subject: subject.into(), custodian: None, kind: PassphraseKind::New }
    }

    /// A request for the user PIN of a token (`subject` names the token and key).
    pub fn token_pin(subject: impl Into<String>) -> Self {
        PassphraseRequest { subject: subject.into(), custodian: None, kind: PassphraseKind::TokenPin }
    }

    /// The same request, naming the custodian whose passphrase it is.
    pub fn for_custodian(mut self, custodian: impl Into<String>) -> Self {
        self.custodian = Some(custodian.into());
        self
    }

    /// Whether this protects a new key, which interactive sources confirm.
    pub fn is_new(&self) -> bool {
        self.kind == PassphraseKind::New
    }

    /// The text to show when asking a person.
    pub fn prompt(&self) -> String {
        let who = match &self.custodian {
            Some(c) => format!(" (custodian {c})"),
            None => String::new(),
        };
        match self.kind {
            PassphraseKind::Unlock => format!("Passphrase for {}{who}: ", self.subject),
            PassphraseKind::New => format!("New passphrase for {}{who}: ", self.subject),
            PassphraseKind::TokenPin => format!("PIN for {}{who}: ", self.subject),
        }
    }

    /// The text to show when asking a second time to confirm a new passphrase.
    pub fn confirm_prompt(&self) -> String {
        format!("Repeat the new passphrase for {}: ", self.subject)
    }
}

/// Why no passphrase could be had.
#[derive(Debug, thiserror::Error)]
pub enum PassphraseError {
    /// The source gave an empty passphrase, which would encrypt with no secret at all.
    #[error("empty passphrase from {origin}")]
    Empty {
        /// Where it came from, e.g. a file path or a variable name.
        origin: String,
    },
    /// The environment variable is not set.
    #[error("environment variable {var} is not set")]
    NotSet {
        /// The variable's name.
        var: String,
    },
    /// The passphrase is not valid UTF-8, which age requires of passphrases.
    #[error("passphrase from {origin} is not valid UTF-8")]
    NotUtf8 {
        /// Where it came from.
        origin: String,
    },
    /// The passphrase file is larger than any passphrase could be.
    #[error("passphrase file {} is larger than {limit} bytes; is it the right file?", path.display())]
    TooLong {
        /// The file.
        path: PathBuf,
        /// The largest size accepted.
        limit: usize,
    },
    /// The passphrase file could not be read.
    #[error("cannot read passphrase file {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The terminal could not be used to ask (none attached, or it failed).
    #[error("cannot ask for a passphrase on the terminal: {source}")]
    Terminal {
        /// The underlying error.
        source: io::Error,
    },
    /// The two entries of a new passphrase differ.
    #[error("the passphrases do not match")]
    Mismatch,
    /// A scripted source has no answers left.
    #[error("no scripted passphrase left for {subject}")]
    Exhausted {
        /// What the unanswered request was for.
        subject: String,
    },
}

/// Something that can supply a passphrase when asked.
///
/// Takes `&mut self` so that sources may keep state: a script advances, a
/// prompt may count attempts.
pub trait PassphraseSource {
    /// Supplies the passphrase for `request`.
    fn passphrase(&mut self, request: &PassphraseRequest) -> Result<SecretPassphrase, PassphraseError>;
}

impl<T: PassphraseSource + ?Sized> PassphraseSource for &mut T {
    fn passphrase(&mut self, request: &PassphraseRequest) -> Result<SecretPassphrase, PassphraseError> {
        (**self).passphrase(request)
    }
}

impl<T: PassphraseSource + ?Sized> PassphraseSource for Box<T> {
    fn passphrase(&mut self, request: &PassphraseRequest) -> Result<SecretPassphrase, PassphraseError> {
        (**self).passphrase(request)
    }
}

fn non_empty(
    p: SecretPassphrase,
    origin: impl FnOnce() -> String,
) -> Result<SecretPassphrase, PassphraseError> {
    if p.is_empty() {
        Err(PassphraseError::Empty { origin: origin() })
    } else {
        Ok(p)
    }
}

/// Reads the passphrase from a file, for automation that keeps secrets in
/// files (a tmpfs, a mounted secret).
///
/// One trailing newline (`\n` or `\r\n`) is removed, because editors and
/// `echo` add one that nobody means as part of the passphrase. Every request
/// gets the same passphrase; new passphrases are not confirmed, since a file
/// has no typos to catch.
#[derive(Debug, Clone)]
pub struct FilePassphrase {
    path: PathBuf,
}

impl FilePassphrase {
    /// A source reading `path` each time it is asked.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        FilePassphrase { path: path.into() }
    }

    /// The file read.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl PassphraseSource for FilePassphrase {
    fn passphrase(&mut self, _request: &PassphraseRequest) -> Result<SecretPassphrase, PassphraseError> {
        let io_err = |source| PassphraseError::Io { path: self.path.clone(), source };
        let file = File::open(&self.path).map_err(io_err)?;
        let bytes = match read_bounded(file, MAX_PASSPHRASE_FILE_LEN).map_err(io_err)? {
            Bounded::Complete(b) => b,
            Bounded::TooLarge => {
                return Err(PassphraseError::TooLong {
                    path: self.path.clone(),
                    limit: MAX_PASSPHRASE_FILE_LEN,
                })
            }
        };
        let text = bytes.strip_suffix(b"\r\n").or_else(|| bytes.strip_suffix(b"\n")).unwrap_or(&bytes[..]);
        let text = std::str::from_utf8(text)
            .map_err(|_| PassphraseError::NotUtf8 { origin: format!("file {}", self.path.display()) })?;
        non_empty(SecretPassphrase::from(text), || format!("file {}", self.path.display()))
    }
}

/// Reads the passphrase from an environment variable, for automation only.
///
/// Nothing is stripped: the variable holds exactly the passphrase. The value
/// also stays in this process's environment, where we cannot wipe it, and
/// an `export` typed at a shell lands in its history; callers should warn
/// when [`EnvPassphrase::on_terminal`] says a person seems to be present.
#[derive(Debug, Clone)]
pub struct EnvPassphrase {
    var: String,
}

impl EnvPassphrase {
    /// A source reading [`PASSPHRASE_ENV`].
    pub fn new() -> Self {
        Self::from_var(PASSPHRASE_ENV)
    }

    /// A source reading another variable.
    pub fn from_var(var: impl Into<String>) -> Self {
        EnvPassphrase { var: var.into() }
    }

    /// The variable read.
    pub fn var(&self) -> &str {
        &self.var
    }

    /// Whether the variable is set at all, so a binary can pick this source
    /// only when automation asked for it.
    pub fn is_set(&self) -> bool {
        std::env::var_os(&self.var).is_some()
    }

    /// Whether stdin or stderr is a terminal: then a person is probably at
    /// the keyboard and a prompt would serve them better than a variable.
    pub fn on_terminal() -> bool {
        io::stdin().is_terminal() || io::stderr().is_terminal()
    }

    fn parse_value(&self, value: Option<OsString>) -> Result<SecretPassphrase, PassphraseError> {
        let value = value.ok_or_else(|| PassphraseError::NotSet { var: self.var.clone() })?;
        let passphrase = match value.into_string() {
            Ok(s) => SecretPassphrase::from(s),
            Err(raw) => {
                raw.into_vec().zeroize();
                return Err(PassphraseError::NotUtf8 {
                    origin: format!("environment variable {}", self.var),
                });
            }
        };
        non_empty(passphrase, || format!("environment variable {}", self.var))
    }
}

impl Default for EnvPassphrase {
    fn default() -> Self {
        Self::new()
    }
}

impl PassphraseSource for EnvPassphrase {
    fn passphrase(&mut self, _request: &PassphraseRequest) -> Result<SecretPassphrase, PassphraseError> {
        self.parse_value(std::env::var_os(&self.var))
    }
}

type Prompter = Box<dyn FnMut(&str) -> io::Result<String>>;

/// Asks on the controlling terminal with echo off, twice for a new passphrase.
///
/// A mismatch is returned as [`PassphraseError::Mismatch`] rather than asked
/// again, so that the binary decides how many attempts a person gets.
pub struct PromptPassphrase {
    prompter: Prompter,
}

impl PromptPassphrase {
    /// Prompts on the terminal (`/dev/tty`), not on stdin, so that it still
    /// asks a person when stdin carries data.
    pub fn new() -> Self {
        Self::with_prompter(|prompt: &str| rpassword::prompt_password(prompt))
    }

    /// Prompts through `prompter`, which shows its argument and returns the
    /// answer without its line ending: for other front ends, and for tests.
    pub fn with_prompter(prompter: impl FnMut(&str) -> io::Result<String> + 'static) -> Self {
        PromptPassphrase { prompter: Box::new(prompter) }
    }

    fn ask(&mut self, prompt: &str) -> Result<SecretPassphrase, PassphraseError> {
        (self.prompter)(prompt)
            .map(SecretPassphrase::from)
            .map_err(|source| PassphraseError::Terminal { source })
    }
}

impl Default for PromptPassphrase {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for PromptPassphrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PromptPassphrase")
    }
}

impl PassphraseSource for PromptPassphrase {
    fn passphrase(&mut self, request: &PassphraseRequest) -> Result<SecretPassphrase, PassphraseError> {
        let first = non_empty(self.ask(&request.prompt())?, || "the terminal".to_string())?;
        if request.is_new() {
            let second = self.ask(&request.confirm_prompt())?;
            if first.expose() != second.expose() {
                return Err(PassphraseError::Mismatch);
            }
        }
        Ok(first)
    }
}

/// Answers requests from a fixed list, in order, and records what was asked:
/// for tests of code that takes a [`PassphraseSource`].
///
/// Each request consumes one answer, new passphrases included; empty answers
/// are refused as by the other sources.
#[derive(Debug, Default)]
pub struct ScriptedPassphrase {
    answers: VecDeque<SecretPassphrase>,
    requests: Vec<PassphraseRequest>,
}

impl ScriptedPassphrase {
    /// A source that gives `answers` one per request.
    pub fn new<S: Into<String>>(answers: impl IntoIterator<Item = S>) -> Self {
        ScriptedPassphrase {
            answers: answers.into_iter().map(|a| SecretPassphrase::from(a.into())).collect(),
            requests: Vec::new(),
        }
    }

    /// Every request received so far, answered or not.
    pub fn requests(&self) -> &[PassphraseRequest] {
        &self.requests
    }

    /// How many answers are left.
    pub fn remaining(&self) -> usize {
        self.answers.len()
    }
}

impl PassphraseSource for ScriptedPassphrase {
    fn passphrase(&mut self, request: &PassphraseRequest) -> Result<SecretPassphrase, PassphraseError> {
        self.requests.push(request.clone());
        let answer = self
            .answers
            .pop_front()
            .ok_or_else(|| PassphraseError::Exhausted { subject: request.subject.clone() })?;
        non_empty(answer, || "the script".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::io::Write;
    use std::rc::Rc;

    fn unlock() -> PassphraseRequest {
        PassphraseRequest::unlock("root-1.key")
    }

    fn file_with(contents: &[u8]) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(contents).unwrap();
        f
    }

    #[test]
    fn file_strips_exactly_one_trailing_newline() {
        for (contents, expected) in [
            (&b"correct horse\n"[..], "correct horse"),
            (b"correct horse\r\n", "correct horse"),
            (b"correct horse", "correct horse"),
            (b"correct horse\n\n", "correct horse\n"),
            (b" spaced \n", " spaced "),
        ] {
            let f = file_with(contents);
            let p = FilePassphrase::new(f.path()).passphrase(&unlock()).unwrap();
            assert_eq!(p.expose(), expected, "from {contents:?}");
        }
    }

    #[test]
    fn file_refuses_empty_missing_oversized_and_non_utf8() {
        for contents in [&b""[..], b"\n", b"\r\n"] {
            let f = file_with(contents);
            let err = FilePassphrase::new(f.path()).passphrase(&unlock()).unwrap_err();
            assert!(matches!(err, PassphraseError::Empty { .. }), "{contents:?}: {err}");
        }
        let f = file_with(&vec![b'a'; MAX_PASSPHRASE_FILE_LEN + 1]);
        let err = FilePassphrase::new(f.path()).passphrase(&unlock()).unwrap_err();
        assert!(matches!(err, PassphraseError::TooLong { .. }));
        let f = file_with(b"\xff\xfe\n");
        let err = FilePassphrase::new(f.path()).passphrase(&unlock()).unwrap_err();
        assert!(matches!(err, PassphraseError::NotUtf8 { .. }));
        let dir = tempfile::tempdir().unwrap();
        let err = FilePassphrase::new(dir.path().join("absent")).passphrase(&unlock()).unwrap_err();
        assert!(matches!(err, PassphraseError::Io { .. }));
    }

    #[test]
    fn env_refuses_missing_and_empty_and_keeps_the_value_verbatim() {
        let src = EnvPassphrase::from_var("AIRLOCK_TEST_UNUSED_VARIABLE");
        assert!(matches!(src.parse_value(None), Err(PassphraseError::NotSet { .. })));
        assert!(matches!(src.parse_value(Some("".into())), Err(PassphraseError::Empty { .. })));
        let p = src.parse_value(Some("pass word\n".into())).unwrap();
        assert_eq!(p.expose(), "pass word\n");
        let raw = OsString::from_vec(vec![0xff, 0x61]);
        assert!(matches!(src.parse_value(Some(raw)), Err(PassphraseError::NotUtf8 { .. })));
    }

    #[test]
    fn env_reads_the_named_variable() {
        // A variable no other test touches, since tests share one environment.
        let var = "AIRLOCK_TEST_PASSPHRASE_ENV_READS_THE_NAMED_VARIABLE";
        let mut src = EnvPassphrase::from_var(var);
        assert!(!src.is_set());
        assert!(matches!(src.passphrase(&unlock()), Err(PassphraseError::NotSet { .. })));
        std::env::set_var(var, "from env");
        assert_eq!(src.passphrase(&unlock()).unwrap().expose(), "from env");
        std::env::remove_var(var);
        assert_eq!(EnvPassphrase::new().var(), PASSPHRASE_ENV);
    }

    fn scripted_prompter(answers: &[&str]) -> (PromptPassphrase, Rc<RefCell<Vec<String>>>) {
        let prompts = Rc::new(RefCell::new(Vec::new()));
        let seen = prompts.clone();
        let mut answers: VecDeque<String> = answers.iter().map(|s| s.to_string()).collect();
        let p = PromptPassphrase::with_prompter(move |prompt: &str| {
            seen.borrow_mut().push(prompt.to_string());
            answers.pop_front().ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "no tty"))
        });
        (p, prompts)
    }

    #[test]
    fn prompt_confirms_new_passphrases() {
        let req = PassphraseRequest::new_key("root-2.key").for_custodian("Alice");
        let (mut p, prompts) = scripted_prompter(&["s3cret", "s3cret"]);
        assert_eq!(p.passphrase(&req).unwrap().expose(), "s3cret");
        assert_eq!(
            *prompts.borrow(),
            [
                "New passphrase for root-2.key (custodian Alice): ",
                "Repeat the new passphrase for root-2.key: "
            ]
        );

        let (mut p, _) = scripted_prompter(&["s3cret", "s3cre7"]);
        assert!(matches!(p.passphrase(&req), Err(PassphraseError::Mismatch)));

        let (mut p, prompts) = scripted_prompter(&["", ""]);
        assert!(matches!(p.passphrase(&req), Err(PassphraseError::Empty { .. })));
        assert_eq!(prompts.borrow().len(), 1, "an empty first entry is refused before confirming");
    }

    #[test]
    fn prompt_asks_once_to_unlock_and_reports_terminal_failure() {
        let (mut p, prompts) = scripted_prompter(&["s3cret"]);
        assert_eq!(p.passphrase(&unlock()).unwrap().expose(), "s3cret");
        assert_eq!(*prompts.borrow(), ["Passphrase for root-1.key: "]);
        assert!(matches!(p.passphrase(&unlock()), Err(PassphraseError::Terminal { .. })));
    }

    #[test]
    fn scripted_answers_in_order_and_records_requests() {
        let mut s = ScriptedPassphrase::new(["one", "", "three"]);
        assert_eq!(s.passphrase(&unlock()).unwrap().expose(), "one");
        assert!(matches!(s.passphrase(&unlock()), Err(PassphraseError::Empty { .. })));
        let req = PassphraseRequest::new_key("k").for_custodian("Bob");
        assert_eq!(s.passphrase(&req).unwrap().expose(), "three");
        assert_eq!(s.remaining(), 0);
        assert!(matches!(s.passphrase(&unlock()), Err(PassphraseError::Exhausted { .. })));
        assert_eq!(s.requests().len(), 4);
        assert_eq!(s.requests()[2], req);
    }

    #[test]
    fn works_through_trait_objects() {
        let mut boxed: Box<dyn PassphraseSource> = Box::new(ScriptedPassphrase::new(["x"]));
        let by_ref: &mut dyn PassphraseSource = &mut boxed;
        assert_eq!(by_ref.passphrase(&unlock()).unwrap().expose(), "x");
    }

    #[test]
    fn debug_never_shows_the_passphrase() {
        let p = SecretPassphrase::from("hunter2".to_string());
        assert!(!format!("{p:?}").contains("hunter2"));
        let s = ScriptedPassphrase::new(["hunter2"]);
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
