//! Drift vocabulary shared by the three stores: how an object differs, and the glob matching
//! that `[drift] ignore` patterns and Redis key patterns use.

use serde::Serialize;

/// How an object differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Expected but absent.
    Missing,
    /// Present but not expected.
    Unexpected,
    /// Present on both sides with different properties.
    Changed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Missing => "missing",
            Status::Unexpected => "unexpected",
            Status::Changed => "changed",
        }
    }
}

/// Redis glob matching (`*`, `?`, `[abc]`, `[^a]`, `[a-z]`, `\x`), byte by byte.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    fn class(pattern: &[u8], c: u8) -> Option<(bool, usize)> {
        // Returns (matched, length of the class including brackets).
        let mut i = 1;
        let negate = pattern.get(i) == Some(&b'^');
        if negate {
            i += 1;
        }
        let mut matched = false;
        while i < pattern.len() && pattern[i] != b']' {
            if pattern[i] == b'\\' && i + 1 < pattern.len() {
                matched |= pattern[i + 1] == c;
                i += 2;
            } else if i + 2 < pattern.len() && pattern[i + 1] == b'-' && pattern[i + 2] != b']' {
                let (lo, hi) = (
                    pattern[i].min(pattern[i + 2]),
                    pattern[i].max(pattern[i + 2]),
                );
                matched |= (lo..=hi).contains(&c);
                i += 3;
            } else {
                matched |= pattern[i] == c;
                i += 1;
            }
        }
        if i >= pattern.len() {
            return None;
        }
        Some((matched != negate, i + 1))
    }
    fn go(p: &[u8], t: &[u8]) -> bool {
        match p.first() {
            None => t.is_empty(),
            Some(b'*') => (0..=t.len()).any(|skip| go(&p[1..], &t[skip..])),
            Some(b'?') => !t.is_empty() && go(&p[1..], &t[1..]),
            Some(b'[') => match (t.first(), class(p, *t.first().unwrap_or(&0))) {
                (Some(_), Some((true, len))) => go(&p[len..], &t[1..]),
                (Some(_), Some((false, _))) | (None, _) => false,
                (Some(c), None) => *c == b'[' && go(&p[1..], &t[1..]),
            },
            Some(b'\\') if p.len() > 1 => t.first() == Some(&p[1]) && go(&p[2..], &t[1..]),
            Some(c) => t.first() == Some(c) && go(&p[1..], &t[1..]),
        }
    }
    go(pattern.as_bytes(), text.as_bytes())
}
