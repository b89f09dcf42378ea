//! Verification: the subject's original values (captured in memory before erasure) searched for
//! in every table, every configured collection and every key. A hit names the place and the
//! kind of value, never the value.
//!
//! Matching is token based, so one pass over a text checks every needle: e-mail addresses and
//! IP addresses as whole tokens, names as whole words (or runs of words), phone numbers by
//! their digits. It never sends the values anywhere: rows, documents and keys are streamed here.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use serde::Serialize;

use super::hmac::normalize;
use super::rules::ValueKind;

/// Names shorter than this are too common to be searched as words.
const MIN_NAME_LEN: usize = 3;
/// Phone numbers are searched by their digits, from this many on.
const MIN_PHONE_DIGITS: usize = 7;
/// Longest run of words a name needle may have.
const MAX_NAME_WORDS: usize = 4;

/// The original values of one or more subjects. `Debug` shows counts, never values.
#[derive(Default, Clone)]
pub struct Needles {
    kinds: Vec<ValueKind>,
    /// Normalized needle -> index into `kinds`.
    index: HashMap<String, usize>,
    /// Values not searched because they are too short to be distinctive, per kind.
    skipped: BTreeMap<ValueKind, u64>,
}

impl fmt::Debug for Needles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Needles({} values)", self.kinds.len())
    }
}

impl Needles {
    /// Adds a value if it identifies a person; returns whether it will be searched.
    pub fn add(&mut self, kind: ValueKind, value: &str) -> bool {
        if !kind.is_identifying() {
            return false;
        }
        let Some(needle) = needle_form(kind, value) else {
            if !value.trim().is_empty() {
                *self.skipped.entry(kind).or_default() += 1;
            }
            return false;
        };
        if self.index.contains_key(&needle) {
            return true;
        }
        // A number written with its country code is also found without it.
        if kind == ValueKind::Phone && needle.len() > 10 {
            self.index
                .insert(needle[needle.len() - 10..].to_string(), self.kinds.len());
        }
        self.index.insert(needle, self.kinds.len());
        self.kinds.push(kind);
        true
    }

    pub fn len(&self) -> usize {
        self.kinds.len()
    }

    pub fn is_empty(&self) -> bool {
        self.kinds.is_empty()
    }

    pub fn kind(&self, needle: usize) -> ValueKind {
        self.kinds[needle]
    }

    /// Searched values per kind.
    pub fn per_kind(&self) -> BTreeMap<ValueKind, u64> {
        let mut counts = BTreeMap::new();
        for kind in &self.kinds {
            *counts.entry(*kind).or_default() += 1;
        }
        counts
    }

    pub fn skipped(&self) -> &BTreeMap<ValueKind, u64> {
        &self.skipped
    }

    /// The needles found in `text` (indexes, deduplicated).
    pub fn find(&self, text: &str) -> BTreeSet<usize> {
        let mut found = BTreeSet::new();
        if self.index.is_empty() || text.is_empty() {
            return found;
        }
        let lower = text.to_lowercase();
        let mut check = |candidate: &str| {
            if let Some(i) = self.index.get(candidate) {
                found.insert(*i);
            }
        };
        // Whole tokens: e-mail addresses, IP addresses (v4 and v6).
        for token in lower.split(|c: char| !is_token_char(c)) {
            if token.is_empty() {
                continue;
            }
            check(token);
            let trimmed = token.trim_matches(|c: char| matches!(c, '.' | ':' | '-' | '+'));
            if trimmed != token {
                check(trimmed);
            }
            // `rate_limit:203.0.113.7:login`, `mailto:a@b.c`: the parts between colons.
            if token.contains(':') {
                for part in token.split(':') {
                    check(part.trim_matches(|c: char| matches!(c, '.' | '-' | '+')));
                }
            }
        }
        // Words and runs of words: names (not the parts of an e-mail address).
        let words: Vec<&str> = lower
            .split(|c: char| !is_token_char(c))
            .filter(|token| !token.contains('@'))
            .flat_map(|token| token.split(|c: char| !c.is_alphanumeric()))
            .filter(|w| !w.is_empty())
            .collect();
        let mut run = String::new();
        for start in 0..words.len() {
            run.clear();
            for (n, word) in words[start..].iter().take(MAX_NAME_WORDS).enumerate() {
                if n > 0 {
                    run.push(' ');
                }
                run.push_str(word);
                check(&run);
            }
        }
        // Digit runs with the usual separators: phone numbers.
        let mut digits = String::new();
        let mut plus = false;
        let flush = |digits: &mut String, plus: &mut bool, check: &mut dyn FnMut(&str)| {
            if digits.len() >= MIN_PHONE_DIGITS {
                check(digits);
                if *plus {
                    check(&format!("+{digits}"));
                }
            }
            digits.clear();
            *plus = false;
        };
        for c in lower.chars() {
            if c.is_ascii_digit() {
                digits.push(c);
            } else if c == '+' && digits.is_empty() {
                plus = true;
            } else if matches!(c, ' ' | '-' | '(' | ')' | '.') {
                continue;
            } else {
                flush(&mut digits, &mut plus, &mut check);
            }
        }
        flush(&mut digits, &mut plus, &mut check);
        found
    }
}

fn is_token_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '@' | '.' | '_' | '%' | '+' | '-' | ':')
}

/// The form a needle is stored and looked up in; `None` when not distinctive enough.
fn needle_form(kind: ValueKind, value: &str) -> Option<String> {
    let normalized = normalize(kind, value);
    match kind {
        ValueKind::Email => {
            (normalized.contains('@') && normalized.len() >= 5).then_some(normalized)
        }
        ValueKind::Name | ValueKind::FirstName | ValueKind::LastName => {
            let words: Vec<String> = normalized
                .split(|c: char| !c.is_alphanumeric())
                .filter(|w| !w.is_empty())
                .map(str::to_string)
                .collect();
            let joined = words.join(" ");
            (!words.is_empty() && words.len() <= MAX_NAME_WORDS && joined.len() >= MIN_NAME_LEN)
                .then_some(joined)
        }
        ValueKind::Phone => {
            let digits = normalized.trim_start_matches('+');
            (digits.len() >= MIN_PHONE_DIGITS).then(|| digits.to_string())
        }
        ValueKind::Ip => (normalized.len() >= 3).then_some(normalized.to_lowercase()),
        _ => None,
    }
}

/// One place where an original value was found.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Hit {
    pub store: String,
    /// `table.column`, `collection`, or a declared key pattern: never a value or a key name.
    pub location: String,
    pub kind: ValueKind,
    /// Rows, documents or keys.
    pub count: u64,
}

/// Hits gathered during a search, with the values that turned out to be held by other subjects
/// too (those cannot tell this subject's data from theirs, so they are not held against it).
#[derive(Debug, Default)]
pub struct Findings {
    hits: BTreeMap<(String, String, usize), u64>,
    shared: BTreeSet<usize>,
    pub searched: Searched,
}

/// What a search looked at.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Searched {
    pub tables: u64,
    pub rows: u64,
    pub collections: u64,
    pub documents: u64,
    pub keys: u64,
}

impl Findings {
    /// Records the needles found in a row, document or key. `other_subject` marks a place that
    /// belongs to another subject (its own row in a rule table).
    pub fn record(
        &mut self,
        store: &str,
        location: &str,
        found: &BTreeSet<usize>,
        other_subject: bool,
    ) {
        for needle in found {
            if other_subject {
                self.shared.insert(*needle);
            } else {
                *self
                    .hits
                    .entry((store.to_string(), location.to_string(), *needle))
                    .or_default() += 1;
            }
        }
    }

    /// The hits that count, merged per place and kind; and how many values were shared.
    pub fn finish(self, needles: &Needles) -> (Vec<Hit>, u64) {
        let mut merged: BTreeMap<(String, String, ValueKind), u64> = BTreeMap::new();
        for ((store, location, needle), count) in self.hits {
            if self.shared.contains(&needle) {
                continue;
            }
            *merged
                .entry((store, location, needles.kind(needle)))
                .or_default() += count;
        }
        let hits = merged
            .into_iter()
            .map(|((store, location, kind), count)| Hit {
                store,
                location,
                kind,
                count,
            })
            .collect();
        (hits, self.shared.len() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn needles() -> Needles {
        let mut n = Needles::default();
        assert!(n.add(ValueKind::Email, " Zed.Zebra@Example.ORG "));
        assert!(n.add(ValueKind::Name, "Zed  Zebra"));
        assert!(n.add(ValueKind::LastName, "Zebra"));
        assert!(n.add(ValueKind::Phone, "+1 (415) 555-2671"));
        assert!(n.add(ValueKind::Ip, "203.0.113.77"));
        assert!(!n.add(ValueKind::FirstName, "Al"), "too short");
        assert!(!n.add(ValueKind::Text, "bio text"), "not identifying");
        n
    }

    fn kinds(n: &Needles, text: &str) -> Vec<ValueKind> {
        n.find(text).into_iter().map(|i| n.kind(i)).collect()
    }

    #[test]
    fn finds_values_in_text_json_and_key_names() {
        let n = needles();
        assert_eq!(
            kinds(&n, r#"{"email": "zed.zebra@example.org", "x": 1}"#),
            vec![ValueKind::Email]
        );
        assert_eq!(
            kinds(&n, "Mail ZED.ZEBRA@example.org."),
            vec![ValueKind::Email]
        );
        assert_eq!(
            kinds(&n, "assigned to Zed Zebra yesterday"),
            vec![ValueKind::Name, ValueKind::LastName]
        );
        assert_eq!(kinds(&n, "call 415-555-2671 now"), vec![ValueKind::Phone]);
        assert_eq!(kinds(&n, "+14155552671"), vec![ValueKind::Phone]);
        assert_eq!(
            kinds(&n, "rate_limit:203.0.113.77:/api/login"),
            vec![ValueKind::Ip]
        );
    }

    #[test]
    fn does_not_match_inside_other_words_or_numbers() {
        let n = needles();
        assert!(n.find("zebras and zedzebra").is_empty());
        assert!(n.find("203.0.113.7").is_empty());
        assert!(n.find("203.0.113.770").is_empty());
        assert!(n.find("anon+0123@anon.invalid").is_empty());
        assert!(n.find("xzed.zebrax@example.orgx").is_empty());
    }

    #[test]
    fn debug_shows_no_values_and_shared_needles_are_dropped() {
        let n = needles();
        assert_eq!(format!("{n:?}"), "Needles(5 values)");
        let mut findings = Findings::default();
        let email = n.find("zed.zebra@example.org");
        let name = n.find("Zebra");
        findings.record("postgres", "users.email", &email, false);
        findings.record("postgres", "comments.content", &name, false);
        findings.record("postgres", "users.last_name", &name, true);
        let (hits, shared) = findings.finish(&n);
        assert_eq!(shared, 1);
        assert_eq!(
            hits,
            vec![Hit {
                store: "postgres".into(),
                location: "users.email".into(),
                kind: ValueKind::Email,
                count: 1
            }]
        );
    }
}
