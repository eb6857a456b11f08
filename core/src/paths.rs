//! Which delegated role may sign for which target path (specification
//! section 4.5, `paths` and `path_hash_prefixes`).
//!
//! Patterns match like python-tuf: the path and the pattern are split on
//! `/`, must have the same number of segments, and each segment matches by
//! shell-style `fnmatch` (`*`, `?`, `[seq]`, `[!seq]`), so `*` never crosses
//! a `/`.

use crate::hash::sha256_hex;
use crate::metadata::DelegatedRole;

/// Whether `path` matches the TUF glob `pattern`.
pub fn glob_match(pattern: &str, path: &str) -> bool {
    let p: Vec<&str> = pattern.split('/').collect();
    let t: Vec<&str> = path.split('/').collect();
    p.len() == t.len() && p.iter().zip(&t).all(|(p, t)| fnmatch(p, t))
}

/// Whether `role` is trusted for `path` by its patterns or hash prefixes.
pub fn role_covers(role: &DelegatedRole, path: &str) -> bool {
    TargetPath::new(path).covered_by(role)
}

/// A target path being searched for, which hashes itself once: a search
/// through hash bins asks every bin of a publisher whether it covers the
/// path, and hashing the path for each would cost one SHA-256 per bin per
/// target.
#[derive(Debug)]
pub struct TargetPath<'a> {
    path: &'a str,
    hash: std::cell::OnceCell<String>,
}

impl<'a> TargetPath<'a> {
    /// The path, not hashed yet.
    pub fn new(path: &'a str) -> Self {
        TargetPath { path, hash: std::cell::OnceCell::new() }
    }

    /// The path itself.
    pub fn as_str(&self) -> &'a str {
        self.path
    }

    /// Lowercase hex SHA-256 of the path's bytes (TUF `path_hash_prefixes`).
    pub fn hash(&self) -> &str {
        self.hash.get_or_init(|| sha256_hex(self.path.as_bytes()))
    }

    /// Whether `role` is trusted for this path by its patterns or hash prefixes.
    pub fn covered_by(&self, role: &DelegatedRole) -> bool {
        if let Some(patterns) = &role.paths {
            return patterns.iter().any(|p| glob_match(p, self.path));
        }
        if let Some(prefixes) = &role.path_hash_prefixes {
            let h = self.hash();
            return prefixes.iter().any(|p| h.starts_with(p.as_str()));
        }
        false
    }
}

/// Whether two glob patterns could both match some path (used to keep
/// namespaces of different publishers apart).
pub fn patterns_overlap(a: &str, b: &str) -> bool {
    let pa: Vec<&str> = a.split('/').collect();
    let pb: Vec<&str> = b.split('/').collect();
    pa.len() == pb.len() && pa.iter().zip(&pb).all(|(x, y)| segments_overlap(x, y))
}

fn segments_overlap(a: &str, b: &str) -> bool {
    let has_meta = |s: &str| s.contains(['*', '?', '[']);
    match (has_meta(a), has_meta(b)) {
        (false, false) => a == b,
        (false, true) => fnmatch(b, a),
        (true, false) => fnmatch(a, b),
        // Two wildcard segments: conservatively assume they overlap unless
        // their literal prefixes differ.
        (true, true) => {
            let lit = |s: &str| s.chars().take_while(|c| !matches!(c, '*' | '?' | '[')).collect::<String>();
            let (la, lb) = (lit(a), lit(b));
            la.starts_with(&lb) || lb.starts_with(&la)
        }
    }
}

/// Shell-style matching of one segment, as Python's `fnmatch.fnmatchcase`.
fn fnmatch(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() {
            match p[pi] {
                '*' => {
                    star = Some((pi, ti));
                    pi += 1;
                    continue;
                }
                '?' => {
                    pi += 1;
                    ti += 1;
                    continue;
                }
                '[' => {
                    if let Some((matched, next)) = class(&p, pi, t[ti]) {
                        if matched {
                            pi = next;
                            ti += 1;
                            continue;
                        }
                    } else if t[ti] == '[' {
                        // An unclosed `[` is a literal, as in Python.
                        pi += 1;
                        ti += 1;
                        continue;
                    }
                }
                c if c == t[ti] => {
                    pi += 1;
                    ti += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some((sp, st)) => {
                pi = sp + 1;
                ti = st + 1;
                star = Some((sp, st + 1));
            }
            None => return false,
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Matches `c` against the class starting at `p[start] == '['`; returns
/// whether it matched and the index after the class, or None if unclosed.
fn class(p: &[char], start: usize, c: char) -> Option<(bool, usize)> {
    let mut i = start + 1;
    let negate = i < p.len() && p[i] == '!';
    if negate {
        i += 1;
    }
    let first = i;
    let mut matched = false;
    while i < p.len() && (p[i] != ']' || i == first) {
        if i + 2 < p.len() && p[i + 1] == '-' && p[i + 2] != ']' {
            if p[i] <= c && c <= p[i + 2] {
                matched = true;
            }
            i += 3;
        } else {
            if p[i] == c {
                matched = true;
            }
            i += 1;
        }
    }
    if i >= p.len() {
        return None;
    }
    Some((matched != negate, i + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn star_does_not_cross_slash() {
        assert!(glob_match("acme/*", "acme/tool-1.0.tar.gz"));
        assert!(!glob_match("acme/*", "acme/sub/tool.tar.gz"));
        assert!(!glob_match("acme/*", "acmeX/tool"));
        assert!(glob_match("*/*", "a/b"));
        assert!(!glob_match("*", "a/b"));
        assert!(glob_match("acme/*/*.tgz", "acme/x/y.tgz"));
    }

    #[test]
    fn fnmatch_features() {
        assert!(fnmatch("a?c", "abc"));
        assert!(fnmatch("[a-c]x", "bx"));
        assert!(!fnmatch("[!a-c]x", "bx"));
        assert!(fnmatch("*.tar.gz", "x.tar.gz"));
        assert!(fnmatch("*", ""));
        assert!(!fnmatch("a*b", "ac"));
        assert!(fnmatch("a*b*c", "aXbYbZc"));
        assert!(fnmatch("[", "["));
    }

    #[test]
    fn overlap() {
        assert!(patterns_overlap("acme/*", "acme/tool"));
        assert!(patterns_overlap("acme/*", "acme/t*"));
        assert!(!patterns_overlap("acme/*", "other/*"));
        assert!(!patterns_overlap("acme/*", "acme/*/*"));
    }

    #[test]
    fn a_class_matches_any_of_its_literal_members() {
        assert!(["ax", "bx", "cx"].iter().all(|t| fnmatch("[abc]x", t)));
    }

    #[test]
    fn a_class_refuses_characters_it_does_not_list() {
        assert!(!fnmatch("[abc]x", "dx") && !fnmatch("[ab]x", "cx"));
        assert!(fnmatch("[a]x", "ax") && !fnmatch("[a]x", "bx"));
    }

    #[test]
    fn a_range_refuses_characters_outside_it() {
        assert!(!fnmatch("[b-d]x", "ax") && !fnmatch("[b-d]x", "ex"));
    }

    #[test]
    fn a_negated_class_accepts_what_it_does_not_list_including_a_bang() {
        assert!(fnmatch("[!a-c]x", "dx") && fnmatch("[!a-c]x", "!x"));
    }

    #[test]
    fn a_dash_before_the_closing_bracket_is_a_literal_member() {
        assert!(fnmatch("[a-]", "-") && fnmatch("[a-]", "a"));
    }

    #[test]
    fn a_range_after_several_literal_members_is_still_a_range() {
        assert!(fnmatch("[xyza-c]", "b"));
    }

    #[test]
    fn three_members_without_a_dash_are_not_read_as_a_range() {
        assert!(fnmatch("[azb]", "z"));
    }

    #[test]
    fn an_unclosed_class_ending_in_a_dash_is_literal_text() {
        assert!(fnmatch("[a-", "[a-"));
    }

    #[test]
    fn wildcard_segments_with_different_literal_prefixes_do_not_overlap() {
        assert!(!patterns_overlap("acme/a*", "acme/b*"));
    }
}
