//! Verification: which occurrences of a subject's original values count, and the findings of a
//! search of every store.
//!
//! An occurrence is a hit when it really is the subject's personal data:
//! - anywhere, for a value that identifies on its own (an e-mail or IP address, a phone number,
//!   a full name nobody else has);
//! - only in places that belong to the subject or reference it (its own rows, rows whose
//!   reference columns name it, the audit copies of its row, its documents and keys), for a
//!   one-word name or a value another living person also has: elsewhere such an occurrence is
//!   counted as *ambiguous* (it may be the other person's) and reported, but does not fail;
//! - never in another person's own identifying column (their e-mail, name or IP address).
//!
//! Hits name the store, the table or collection or key pattern, the column or field and the
//! row's key (a primary key, an `_id`, or a key name with the subject's values masked); never a
//! value.

use std::collections::BTreeMap;

use serde::Serialize;

use super::needles::{Match, Needle, Needles};
use super::rules::ValueKind;

/// Hits listed one by one in a report; more are counted.
pub const MAX_LISTED_HITS: usize = 200;

/// Whose column a value sits in, for the rule "never a hit in another person's own column".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    /// Any other column or field.
    Free,
    /// An identifying column of a row that belongs to this subject (index), or to a person who
    /// is not a subject of the run (`None`).
    OwnedBy(Option<u32>),
}

/// One occurrence that counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Found {
    pub subject: u32,
    pub kind: ValueKind,
    pub start: usize,
    pub end: usize,
}

/// Sorts the matches of one value into hits and ambiguous occurrences. `about` lists the
/// subjects (indexes) the row, document or key belongs to or references.
pub fn classify(
    needles: &Needles,
    matches: &[Match],
    about: &[u32],
    column: Column,
    hits: &mut Vec<Found>,
    ambiguous: &mut Vec<(u32, ValueKind)>,
) {
    hits.clear();
    ambiguous.clear();
    for m in matches {
        for needle in needles.at(m.first) {
            match class(needle, about, column) {
                Class::Hit => hits.push(Found {
                    subject: needle.subject,
                    kind: needle.kind,
                    start: m.start,
                    end: m.end,
                }),
                Class::Ambiguous => ambiguous.push((needle.subject, needle.kind)),
                Class::Ignore => {}
            }
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Class {
    Hit,
    Ambiguous,
    Ignore,
}

fn class(needle: &Needle, about: &[u32], column: Column) -> Class {
    if needle.label {
        return Class::Ignore;
    }
    if about.contains(&needle.subject) {
        return Class::Hit;
    }
    if matches!(column, Column::OwnedBy(owner) if owner != Some(needle.subject)) {
        return Class::Ignore;
    }
    if needle.is_weak() {
        Class::Ambiguous
    } else {
        Class::Hit
    }
}

/// One place where an original value was found.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Hit {
    /// The subject whose value it is.
    pub subject: String,
    pub store: String,
    /// `table.column`, `collection.field`, or a declared key pattern.
    pub location: String,
    /// The row's primary key (`a,b` for composite keys), the document's `_id`, or the key's
    /// name with the subject's values masked.
    pub key: String,
    pub kind: ValueKind,
}

/// Occurrences that do not count against the subject (see the module documentation).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Ambiguous {
    pub store: String,
    pub location: String,
    pub kind: ValueKind,
    pub count: u64,
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

/// Hits gathered during a search of every store, per subject.
#[derive(Debug, Default)]
pub struct Findings {
    hits: BTreeMap<u32, Vec<Hit>>,
    totals: BTreeMap<u32, u64>,
    ambiguous: BTreeMap<(u32, String, String, ValueKind), u64>,
    /// Rows, documents and keys rewritten by replace rules, per target.
    pub replaced: BTreeMap<(u32, String, String), u64>,
    pub searched: Searched,
}

impl Findings {
    pub fn hit(
        &mut self,
        needles: &Needles,
        found: &Found,
        store: &str,
        location: &str,
        key: &str,
    ) {
        *self.totals.entry(found.subject).or_default() += 1;
        let list = self.hits.entry(found.subject).or_default();
        let hit = Hit {
            subject: needles.subjects()[found.subject as usize].clone(),
            store: store.to_string(),
            location: location.to_string(),
            key: key.to_string(),
            kind: found.kind,
        };
        if list.len() < MAX_LISTED_HITS && !list.contains(&hit) {
            list.push(hit);
        }
    }

    pub fn ambiguous(&mut self, subject: u32, kind: ValueKind, store: &str, location: &str) {
        *self
            .ambiguous
            .entry((subject, store.to_string(), location.to_string(), kind))
            .or_default() += 1;
    }

    /// Records a row, document or key rewritten for the subjects of `found`.
    pub fn replaced(&mut self, found: &[Found], store: &str, target: &str) {
        let mut subjects: Vec<u32> = found.iter().map(|f| f.subject).collect();
        subjects.sort();
        subjects.dedup();
        for subject in subjects {
            *self
                .replaced
                .entry((subject, store.to_string(), target.to_string()))
                .or_default() += 1;
        }
    }

    /// Everything about one subject.
    pub fn of(&self, subject: u32) -> SubjectFindings {
        let mut hits = self.hits.get(&subject).cloned().unwrap_or_default();
        hits.sort();
        SubjectFindings {
            hits,
            hits_total: self.totals.get(&subject).copied().unwrap_or(0),
            ambiguous: self
                .ambiguous
                .iter()
                .filter(|((s, ..), _)| *s == subject)
                .map(|((_, store, location, kind), count)| Ambiguous {
                    store: store.clone(),
                    location: location.clone(),
                    kind: *kind,
                    count: *count,
                })
                .collect(),
            replaced: self
                .replaced
                .iter()
                .filter(|((s, ..), _)| *s == subject)
                .map(|((_, store, target), n)| (format!("{store}:{target}"), *n))
                .collect(),
        }
    }

    /// Every subject's ambiguous occurrences and replacements together, for bulk reports.
    pub fn summary(&self) -> (Vec<Ambiguous>, BTreeMap<String, u64>) {
        let mut ambiguous: BTreeMap<(String, String, ValueKind), u64> = BTreeMap::new();
        for ((_, store, location, kind), n) in &self.ambiguous {
            *ambiguous
                .entry((store.clone(), location.clone(), *kind))
                .or_default() += n;
        }
        let mut replaced: BTreeMap<String, u64> = BTreeMap::new();
        for ((_, store, target), n) in &self.replaced {
            *replaced.entry(format!("{store}:{target}")).or_default() += n;
        }
        let ambiguous = ambiguous
            .into_iter()
            .map(|((store, location, kind), count)| Ambiguous {
                store,
                location,
                kind,
                count,
            })
            .collect();
        (ambiguous, replaced)
    }

    /// Every subject's hits, for bulk reports.
    pub fn all_hits(&self) -> impl Iterator<Item = &Hit> {
        self.hits.values().flatten()
    }

    pub fn hits_total(&self) -> u64 {
        self.totals.values().sum()
    }
}

/// Finds and sorts the needles in values, with reusable buffers.
pub struct Scanner<'n> {
    pub needles: &'n Needles,
    matches: Vec<Match>,
    hits: Vec<Found>,
    ambiguous: Vec<(u32, ValueKind)>,
}

/// Where a value sits, for the findings.
#[derive(Debug, Clone, Copy)]
pub struct At<'a> {
    pub store: &'a str,
    pub location: &'a str,
    pub about: &'a [u32],
    pub column: Column,
}

impl<'n> Scanner<'n> {
    pub fn new(needles: &'n Needles) -> Scanner<'n> {
        Scanner {
            needles,
            matches: Vec::new(),
            hits: Vec::new(),
            ambiguous: Vec::new(),
        }
    }

    /// Whether the text holds a needle at all (before any classification).
    pub fn any(&mut self, text: &str) -> bool {
        self.needles.find(text, &mut self.matches);
        !self.matches.is_empty()
    }

    /// The occurrences in `text` that count; the ambiguous ones are recorded in `findings`.
    pub fn scan(&mut self, text: &str, at: At<'_>, findings: &mut Findings) -> &[Found] {
        self.needles.find(text, &mut self.matches);
        if self.matches.is_empty() {
            self.hits.clear();
            return &self.hits;
        }
        classify(
            self.needles,
            &self.matches,
            at.about,
            at.column,
            &mut self.hits,
            &mut self.ambiguous,
        );
        for (subject, kind) in &self.ambiguous {
            findings.ambiguous(*subject, *kind, at.store, at.location);
        }
        &self.hits
    }

    /// `text` with the occurrences that count replaced, and those occurrences; `None` when
    /// there are none.
    pub fn redact_text(
        &mut self,
        text: &str,
        at: At<'_>,
        findings: &mut Findings,
    ) -> Option<(String, Vec<Found>)> {
        let found = self.scan(text, at, findings).to_vec();
        if found.is_empty() {
            return None;
        }
        let ranges: Vec<(usize, usize)> = found.iter().map(|f| (f.start, f.end)).collect();
        Some((super::needles::redact(text, &ranges), found))
    }

    /// The same inside every string of a JSON value (keys and structure kept).
    pub fn redact_json(
        &mut self,
        value: &mut serde_json::Value,
        at: At<'_>,
        findings: &mut Findings,
        found: &mut Vec<Found>,
    ) {
        match value {
            serde_json::Value::String(text) => {
                if let Some((new, mut more)) = self.redact_text(text, at, findings) {
                    *text = new;
                    found.append(&mut more);
                }
            }
            serde_json::Value::Array(items) => {
                for item in items {
                    self.redact_json(item, at, findings, found);
                }
            }
            serde_json::Value::Object(map) => {
                for (_, item) in map.iter_mut() {
                    self.redact_json(item, at, findings, found);
                }
            }
            // Numbers: a phone number stored as one.
            serde_json::Value::Number(n) => {
                let text = n.to_string();
                if let Some((_, mut more)) = self.redact_text(&text, at, findings) {
                    *value = serde_json::Value::String(super::needles::REPLACEMENT.to_string());
                    found.append(&mut more);
                }
            }
            _ => {}
        }
    }
}

/// The findings of one subject.
#[derive(Debug, Clone, Default)]
pub struct SubjectFindings {
    pub hits: Vec<Hit>,
    pub hits_total: u64,
    pub ambiguous: Vec<Ambiguous>,
    /// `store:target` -> rows, documents or keys rewritten.
    pub replaced: BTreeMap<String, u64>,
}

#[cfg(test)]
mod tests {
    use super::super::hmac::Key;
    use super::super::needles::Fingerprinter;
    use super::*;

    fn needles() -> Needles {
        let key = Key::new(b"a key for the verify tests!!".to_vec()).unwrap();
        let mut n = Needles::new(Fingerprinter::new(&key));
        let a = n.subject("a");
        let b = n.subject("b");
        n.add_value(a, ValueKind::Email, "zed@example.org");
        n.add_value(a, ValueKind::Name, "Zed Zebra");
        n.add_value(a, ValueKind::FirstName, "Zed");
        n.add_value(b, ValueKind::Name, "Olga Other");
        n.build();
        n
    }

    fn sort(
        needles: &Needles,
        text: &str,
        about: &[u32],
        column: Column,
    ) -> (Vec<ValueKind>, Vec<ValueKind>) {
        let mut matches = Vec::new();
        needles.find(text, &mut matches);
        let (mut hits, mut ambiguous) = (Vec::new(), Vec::new());
        classify(needles, &matches, about, column, &mut hits, &mut ambiguous);
        (
            hits.iter().map(|f| f.kind).collect(),
            ambiguous.iter().map(|(_, k)| *k).collect(),
        )
    }

    #[test]
    fn a_first_name_counts_only_where_the_row_is_about_the_subject() {
        let n = needles();
        assert_eq!(
            sort(&n, "Zed said hi", &[], Column::Free),
            (vec![], vec![ValueKind::FirstName])
        );
        assert_eq!(
            sort(&n, "Zed said hi", &[0], Column::Free),
            (vec![ValueKind::FirstName], vec![])
        );
        // The other subject's row does not make it theirs.
        assert_eq!(sort(&n, "Zed said hi", &[1], Column::Free).0, vec![]);
    }

    #[test]
    fn distinctive_values_count_anywhere_but_in_another_persons_own_column() {
        let n = needles();
        assert_eq!(
            sort(&n, "mail zed@example.org", &[], Column::Free).0,
            vec![ValueKind::Email]
        );
        assert_eq!(
            sort(&n, "zed@example.org", &[], Column::OwnedBy(None)).0,
            vec![]
        );
        assert_eq!(
            sort(&n, "zed@example.org", &[], Column::OwnedBy(Some(1))).0,
            vec![]
        );
        assert_eq!(
            sort(&n, "zed@example.org", &[0], Column::OwnedBy(Some(0))).0,
            vec![ValueKind::Email]
        );
    }

    #[test]
    fn findings_are_kept_per_subject_and_capped() {
        let n = needles();
        let mut findings = Findings::default();
        let found = Found {
            subject: 0,
            kind: ValueKind::Email,
            start: 0,
            end: 1,
        };
        for i in 0..(MAX_LISTED_HITS + 5) {
            findings.hit(&n, &found, "postgres", "comments.content", &i.to_string());
        }
        findings.ambiguous(1, ValueKind::Name, "postgres", "tasks.title");
        let a = findings.of(0);
        assert_eq!(a.hits.len(), MAX_LISTED_HITS);
        assert_eq!(a.hits_total, MAX_LISTED_HITS as u64 + 5);
        assert_eq!(a.hits[0].subject, "a");
        assert!(a.ambiguous.is_empty());
        assert_eq!(findings.of(1).ambiguous[0].location, "tasks.title");
    }
}
