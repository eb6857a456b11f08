//! Untrusted text for a terminal.
//!
//! Names, paths, reasons and provenance fields come from bundles, metadata
//! and other people's files. Printed raw, a control sequence in one of them
//! could move the cursor, recolour or erase a line, or forge an "ok" line;
//! a bidirectional override could make a path read as another. Every
//! human-readable output of airlock passes such text through [`for_terminal`];
//! JSON output carries it exactly, escaped by JSON.

use std::borrow::Cow;
use std::fmt::Write as _;

/// `text` with every character a terminal could act on written as a
/// visible escape: C0 and C1 control characters and DEL as `\xHH`
/// (`\n`, `\r`, `\t` as themselves escaped), and Unicode bidirectional
/// controls as `\u{HHHH}`; a backslash is doubled so that an escape in the
/// output always means one. Text without any of them is returned as it is.
pub fn for_terminal(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if is_control(c) => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if is_bidi(c) => {
                let _ = write!(out, "\\u{{{:04x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

fn is_control(c: char) -> bool {
    matches!(c as u32, 0x00..=0x1f | 0x7f..=0x9f)
}

/// Bidirectional embedding, override and isolate controls, and the marks.
fn is_bidi(c: char) -> bool {
    matches!(c as u32, 0x200e | 0x200f | 0x061c | 0x202a..=0x202e | 0x2066..=0x2069)
}

fn needs_escape(c: char) -> bool {
    c == '\\' || is_control(c) || is_bidi(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_unchanged_and_borrowed() {
        assert!(matches!(for_terminal("acme/tool-1.0.tar.gz ünïcode"), Cow::Borrowed(_)));
    }

    #[test]
    fn every_control_character_is_escaped() {
        for b in (0u32..=0x20).chain(0x7f..=0xa0) {
            let c = char::from_u32(b).unwrap();
            let input = format!("a{c}b");
            let out = for_terminal(&input);
            assert!(!out.chars().any(is_control), "{b:#x} -> {out:?}");
        }
        assert_eq!(for_terminal("\x1b[2K\rok  forged"), "\\x1b[2K\\rok  forged");
        assert_eq!(for_terminal("a\\x1b"), "a\\\\x1b");
        assert_eq!(for_terminal("x\u{202e}gpj.exe"), "x\\u{202e}gpj.exe");
    }
}
