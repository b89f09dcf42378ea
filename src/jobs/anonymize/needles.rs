//! A subject's original values as keyed fingerprints, and where they occur in a text.
//!
//! Values are never kept or compared in clear: each is normalized and fingerprinted with
//! SipHash-2-4 (128 bits) under a subkey of the anonymization key, and a text is searched by
//! fingerprinting its candidates (e-mail and IP tokens, runs of words, runs of digits) and
//! looking them up. The same fingerprints are stored in `gdpr_erasures`, so a later run (or
//! `anonymize verify`) searches for values it can no longer read, and a value is found and
//! replaced with nothing but the key.
//!
//! Names are fingerprinted word by word and a run of words is the fold of its words'
//! fingerprints, so one fingerprint per word of the text covers every run of up to
//! [`MAX_NAME_WORDS`] words.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::net::IpAddr;

use siphasher::sip128::SipHasher24;

use super::hmac::{Key, normalize};
use super::rules::ValueKind;

/// Names shorter than this (all words together) are too common to be searched.
pub const MIN_NAME_LEN: usize = 3;
/// Phone numbers are searched by their digits, from this many on.
pub const MIN_PHONE_DIGITS: usize = 7;
/// Longest run of words a name may have.
pub const MAX_NAME_WORDS: usize = 4;
/// Longer words are not names.
const MAX_WORD_LEN: usize = 48;
/// Longer digit runs are not phone numbers.
const MAX_PHONE_DIGITS: usize = 16;

/// What a fingerprint was made from; a tag byte keeps the families apart.
const TAG_EMAIL: u8 = b'e';
const TAG_IP: u8 = b'i';
const TAG_PHONE: u8 = b'p';
const TAG_WORD: u8 = b'w';

/// Fingerprints under a subkey of the anonymization key (never the key itself).
#[derive(Clone)]
pub struct Fingerprinter {
    hasher: SipHasher24,
}

impl fmt::Debug for Fingerprinter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Fingerprinter(***)")
    }
}

impl Fingerprinter {
    pub fn new(key: &Key) -> Fingerprinter {
        let mac = key.mac(b"migrate:verification-fingerprints:v1");
        let mut subkey = [0u8; 16];
        subkey.copy_from_slice(&mac[..16]);
        Fingerprinter {
            hasher: SipHasher24::new_with_key(&subkey),
        }
    }

    fn tagged(&self, tag: u8, bytes: &[u8]) -> u128 {
        let mut buffer = [0u8; 1 + 2 * MAX_WORD_LEN];
        if bytes.len() < buffer.len() {
            buffer[0] = tag;
            buffer[1..=bytes.len()].copy_from_slice(bytes);
            return self.hasher.hash(&buffer[..=bytes.len()]).as_u128();
        }
        let mut joined = Vec::with_capacity(bytes.len() + 1);
        joined.push(tag);
        joined.extend_from_slice(bytes);
        self.hasher.hash(&joined).as_u128()
    }

    fn word(&self, lowercase: &str) -> u128 {
        self.tagged(TAG_WORD, lowercase.as_bytes())
    }

    /// The fingerprint of a name given as its lowercase words, and the number of words; `None`
    /// when it is not searchable (no words, too many, too short, a word too long).
    pub fn name<'a>(&self, words: impl IntoIterator<Item = &'a str>) -> Option<(u128, usize)> {
        let mut hash = 0u128;
        let mut count = 0;
        let mut len = 0;
        for word in words {
            if word.len() > MAX_WORD_LEN || count == MAX_NAME_WORDS {
                return None;
            }
            let h = self.word(word);
            hash = if count == 0 { h } else { fold(hash, h) };
            count += 1;
            len += word.len();
        }
        (count > 0 && len + count > MIN_NAME_LEN).then_some((hash, count))
    }

    /// The fingerprint of a full name as written (normalized here).
    pub fn name_of(&self, value: &str) -> Option<(u128, usize)> {
        let normalized = value.to_lowercase();
        self.name(
            normalized
                .split(|c: char| !c.is_alphanumeric())
                .filter(|w| !w.is_empty()),
        )
    }
}

/// The fingerprint of a run: the run so far folded with the next word's fingerprint.
fn fold(run: u128, word: u128) -> u128 {
    (run.rotate_left(41) ^ word).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835)
}

/// One original value of one subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Needle {
    pub hash: u128,
    /// Index of the subject in [`Needles::subjects`].
    pub subject: u32,
    pub kind: ValueKind,
    /// Words of a name (0 for other kinds).
    pub words: u8,
    /// Also held by a person who is not a subject of this run: only searched in places that
    /// belong to or reference the subject.
    pub shared: bool,
    /// A one-word name that is also an enum label of the database: not searched at all.
    pub label: bool,
}

impl Needle {
    /// Only found in places attributable to the subject: one-word names and shared values.
    pub fn is_weak(&self) -> bool {
        self.words == 1 || self.shared
    }
}

/// A needle as stored in `gdpr_erasures.needles`: kind, fingerprint (32 hex digits), words.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StoredNeedle {
    pub kind: ValueKind,
    pub hash: String,
    #[serde(default)]
    pub words: u8,
}

/// Where one needle (or several needles with the same fingerprint) occurs in a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Match {
    /// Position of the first needle with this fingerprint (see [`Needles::at`]).
    pub first: u32,
    /// Byte range in the text.
    pub start: usize,
    pub end: usize,
}

/// Keys of the index are fingerprints already: their low bits are the hash.
#[derive(Default)]
struct Identity(u64);

impl Hasher for Identity {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u128(&mut self, n: u128) {
        self.0 = n as u64;
    }
}

/// The original values of one or more subjects. `Debug` shows counts, never fingerprints.
#[derive(Clone)]
pub struct Needles {
    fingerprinter: Fingerprinter,
    subjects: Vec<String>,
    /// Lower-case id -> index into `subjects`.
    subject_ids: HashMap<String, u32>,
    needles: Vec<Needle>,
    /// Fingerprint -> position of its first needle (`needles` sorted by fingerprint).
    index: HashMap<u128, u32, BuildHasherDefault<Identity>>,
    emails: bool,
    ips: bool,
    phones: bool,
    /// Longest name, in words (0: no names).
    name_words: usize,
    /// Values not searched because they are too short to be distinctive, per kind.
    skipped: BTreeMap<ValueKind, u64>,
}

impl fmt::Debug for Needles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Needles({} values of {} subjects)",
            self.needles.len(),
            self.subjects.len()
        )
    }
}

impl Needles {
    pub fn new(fingerprinter: Fingerprinter) -> Needles {
        Needles {
            fingerprinter,
            subjects: Vec::new(),
            subject_ids: HashMap::new(),
            needles: Vec::new(),
            index: HashMap::default(),
            emails: false,
            ips: false,
            phones: false,
            name_words: 0,
            skipped: BTreeMap::new(),
        }
    }

    pub fn fingerprinter(&self) -> &Fingerprinter {
        &self.fingerprinter
    }

    /// The subject's index, registering it (ids are compared lower-cased).
    pub fn subject(&mut self, id: &str) -> u32 {
        let id = id.trim().to_lowercase();
        if let Some(i) = self.subject_ids.get(&id) {
            return *i;
        }
        let index = self.subjects.len() as u32;
        self.subject_ids.insert(id.clone(), index);
        self.subjects.push(id);
        index
    }

    pub fn subjects(&self) -> &[String] {
        &self.subjects
    }

    pub fn subject_index(&self, id: &str) -> Option<u32> {
        let id = id.trim();
        if id.bytes().any(|b| b.is_ascii_uppercase()) {
            return self.subject_ids.get(&id.to_lowercase()).copied();
        }
        self.subject_ids.get(id).copied()
    }

    fn push(&mut self, subject: u32, kind: ValueKind, hash: u128, words: u8) {
        self.needles.push(Needle {
            hash,
            subject,
            kind,
            words,
            shared: false,
            label: false,
        });
        self.index.clear();
    }

    /// Adds an original value if it identifies a person; returns whether it will be searched.
    pub fn add_value(&mut self, subject: u32, kind: ValueKind, value: &str) -> bool {
        if !kind.is_identifying() || value.trim().is_empty() {
            return false;
        }
        let normalized = normalize(kind, value);
        let f = &self.fingerprinter;
        let found: Vec<(u128, u8)> = match kind {
            ValueKind::Email if normalized.contains('@') && normalized.len() >= 5 => {
                vec![(f.tagged(TAG_EMAIL, normalized.as_bytes()), 0)]
            }
            ValueKind::Email => Vec::new(),
            ValueKind::Ip => normalized
                .parse::<IpAddr>()
                .ok()
                .map(|ip| vec![(f.tagged(TAG_IP, ip.to_string().as_bytes()), 0)])
                .unwrap_or_default(),
            ValueKind::Phone => {
                let digits = normalized.trim_start_matches('+');
                if digits.len() < MIN_PHONE_DIGITS || digits.len() > MAX_PHONE_DIGITS {
                    Vec::new()
                } else {
                    // A number written with its country code is also found without it.
                    let mut forms = vec![(f.tagged(TAG_PHONE, digits.as_bytes()), 0)];
                    if digits.len() > 10 {
                        forms.push((
                            f.tagged(TAG_PHONE, &digits.as_bytes()[digits.len() - 10..]),
                            0,
                        ));
                    }
                    forms
                }
            }
            _ => f
                .name_of(&normalized)
                .map(|(hash, words)| vec![(hash, words as u8)])
                .unwrap_or_default(),
        };
        if found.is_empty() {
            *self.skipped.entry(kind).or_default() += 1;
            return false;
        }
        for (hash, words) in found {
            self.push(subject, kind, hash, words);
        }
        true
    }

    /// Adds a fingerprint kept from an earlier run.
    pub fn add_stored(&mut self, subject: u32, stored: &StoredNeedle) -> bool {
        let Ok(bytes) = hex::decode(&stored.hash) else {
            return false;
        };
        let Ok(bytes) = <[u8; 16]>::try_from(bytes.as_slice()) else {
            return false;
        };
        self.push(
            subject,
            stored.kind,
            u128::from_be_bytes(bytes),
            stored.words,
        );
        true
    }

    /// The subject's needles in their stored form (deduplicated, in a stable order).
    pub fn stored(&self, subject: u32) -> Vec<StoredNeedle> {
        let mut out: Vec<StoredNeedle> = self
            .needles
            .iter()
            .filter(|n| n.subject == subject)
            .map(|n| StoredNeedle {
                kind: n.kind,
                hash: hex::encode(n.hash.to_be_bytes()),
                words: n.words,
            })
            .collect();
        out.sort_by(|a, b| (a.kind, &a.hash).cmp(&(b.kind, &b.hash)));
        out.dedup();
        out
    }

    /// Marks one-word names whose fingerprint is that of an enum label (`labels` lower-case):
    /// a word that is also a label is not searched alone. Returns how many were marked.
    pub fn mark_labels<'a>(&mut self, labels: impl IntoIterator<Item = &'a str>) -> u64 {
        let label_hashes: std::collections::HashSet<u128> = labels
            .into_iter()
            .filter_map(|label| self.fingerprinter.name_of(label))
            .filter(|(_, words)| *words == 1)
            .map(|(hash, _)| hash)
            .collect();
        let mut n = 0;
        for needle in &mut self.needles {
            if needle.words == 1 && label_hashes.contains(&needle.hash) && !needle.label {
                needle.label = true;
                n += 1;
            }
        }
        self.index.clear();
        n
    }

    /// Marks the needles with one of these fingerprints as shared with someone else.
    pub fn mark_shared(&mut self, hashes: &std::collections::HashSet<u128>) {
        for needle in &mut self.needles {
            if hashes.contains(&needle.hash) {
                needle.shared = true;
            }
        }
    }

    /// Makes the needles searchable (sorts, deduplicates and indexes them); called by the
    /// searches, cheap when nothing changed.
    pub fn build(&mut self) {
        if !self.index.is_empty() || self.needles.is_empty() {
            return;
        }
        self.needles.sort_by(|a, b| {
            (a.hash, a.subject, a.kind, a.words).cmp(&(b.hash, b.subject, b.kind, b.words))
        });
        self.needles
            .dedup_by(|b, a| a.hash == b.hash && a.subject == b.subject && a.kind == b.kind);
        self.emails = false;
        self.ips = false;
        self.phones = false;
        self.name_words = 0;
        for (i, needle) in self.needles.iter().enumerate() {
            self.index.entry(needle.hash).or_insert(i as u32);
            if needle.label {
                continue;
            }
            match needle.kind {
                ValueKind::Email => self.emails = true,
                ValueKind::Ip => self.ips = true,
                ValueKind::Phone => self.phones = true,
                _ => self.name_words = self.name_words.max(usize::from(needle.words)),
            }
        }
    }

    pub fn len(&self) -> usize {
        self.needles.len()
    }

    pub fn is_empty(&self) -> bool {
        self.needles.is_empty()
    }

    /// Every needle, in index order.
    pub fn all(&self) -> &[Needle] {
        &self.needles
    }

    /// The needles sharing the fingerprint of a match.
    pub fn at(&self, first: u32) -> &[Needle] {
        let start = first as usize;
        let hash = self.needles[start].hash;
        let end = self.needles[start..]
            .iter()
            .position(|n| n.hash != hash)
            .map_or(self.needles.len(), |n| start + n);
        &self.needles[start..end]
    }

    /// Searched values per kind (a phone number counts once, not per form).
    pub fn per_kind(&self, subject: Option<u32>) -> BTreeMap<ValueKind, u64> {
        let mut counts = BTreeMap::new();
        let mut seen_phone: std::collections::HashSet<u32> = std::collections::HashSet::new();
        for needle in &self.needles {
            if subject.is_some_and(|s| s != needle.subject) || needle.label {
                continue;
            }
            if needle.kind == ValueKind::Phone && !seen_phone.insert(needle.subject) {
                continue;
            }
            *counts.entry(needle.kind).or_default() += 1;
        }
        counts
    }

    pub fn skipped(&self) -> &BTreeMap<ValueKind, u64> {
        &self.skipped
    }

    fn lookup(&self, hash: u128, start: usize, end: usize, out: &mut Vec<Match>) {
        if let Some(first) = self.index.get(&hash)
            && !self.needles[*first as usize].label
        {
            out.push(Match {
                first: *first,
                start,
                end,
            });
        }
    }

    /// Every occurrence of a needle in `text` (cleared first): e-mail and IP addresses as whole
    /// tokens, names as whole words or runs of words separated by spaces, hyphens, dots or
    /// apostrophes only, phone numbers by their digits. The index must be built.
    pub fn find(&self, text: &str, out: &mut Vec<Match>) {
        out.clear();
        if self.index.is_empty() || text.is_empty() {
            return;
        }
        let bytes = text.as_bytes();
        let mut email_spans: Vec<(usize, usize)> = Vec::new();
        if self.emails || self.ips || self.name_words > 0 {
            let mut i = 0;
            while i < bytes.len() {
                if !is_token_byte(bytes[i]) {
                    i += 1;
                    continue;
                }
                let start = i;
                let mut at = false;
                let mut dotted = false;
                while i < bytes.len() && is_token_byte(bytes[i]) {
                    // An address has something before and after its `@` (not `@Ada`).
                    at |= bytes[i] == b'@'
                        && i > start
                        && bytes[i - 1].is_ascii_alphanumeric()
                        && bytes.get(i + 1).is_some_and(|b| b.is_ascii_alphanumeric());
                    dotted |= matches!(bytes[i], b'.' | b':');
                    i += 1;
                }
                if at {
                    email_spans.push((start, i));
                    if self.emails {
                        self.find_email(text, start, i, out);
                    }
                } else if dotted && self.ips {
                    self.find_ip(text, start, i, out);
                }
            }
        }
        if self.name_words > 0 {
            self.find_names(text, &email_spans, out);
        }
        if self.phones {
            self.find_phones(bytes, out);
        }
    }

    fn find_email(&self, text: &str, start: usize, end: usize, out: &mut Vec<Match>) {
        let token = &text[start..end];
        let mut offset = 0;
        for part in token.split(':') {
            let trimmed = part.trim_matches(|c: char| matches!(c, '.' | '-' | '+'));
            if trimmed.contains('@') {
                let lead = part.len() - part.trim_start_matches(['.', '-', '+']).len();
                let from = start + offset + lead;
                let lower = lowercase(trimmed);
                self.lookup(
                    self.fingerprinter.tagged(TAG_EMAIL, lower.as_bytes()),
                    from,
                    from + trimmed.len(),
                    out,
                );
            }
            offset += part.len() + 1;
        }
    }

    fn find_ip(&self, text: &str, start: usize, end: usize, out: &mut Vec<Match>) {
        let token = &text[start..end];
        let mut check = |candidate: &str, from: usize| {
            let shaped = candidate.len() >= 3
                && candidate
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() || b == b'.' || b == b':');
            if !shaped {
                return;
            }
            if let Ok(ip) = candidate.parse::<IpAddr>() {
                self.lookup(
                    self.fingerprinter.tagged(TAG_IP, ip.to_string().as_bytes()),
                    from,
                    from + candidate.len(),
                    out,
                );
            }
        };
        let trimmed = token.trim_matches(|c: char| matches!(c, '.' | ':' | '-' | '+'));
        let lead = token.len() - token.trim_start_matches(['.', ':', '-', '+']).len();
        check(trimmed, start + lead);
        // `rate_limit:203.0.113.7:login`: the parts between colons.
        if token.contains(':') && !trimmed.parse::<IpAddr>().is_ok_and(|ip| ip.is_ipv6()) {
            let mut offset = 0;
            for part in token.split(':') {
                if part.contains('.') {
                    let inner = part.trim_matches(|c: char| matches!(c, '.' | '-' | '+'));
                    let lead = part.len() - part.trim_start_matches(['.', '-', '+']).len();
                    check(inner, start + offset + lead);
                }
                offset += part.len() + 1;
            }
        }
    }

    fn find_names(&self, text: &str, email_spans: &[(usize, usize)], out: &mut Vec<Match>) {
        let bytes = text.as_bytes();
        let max = self.name_words;
        // Runs ending at the previous word: (fingerprint, start), shortest first.
        let mut runs: [(u128, usize); MAX_NAME_WORDS] = [(0, 0); MAX_NAME_WORDS];
        let mut n_runs = 0usize;
        let mut previous_end = 0usize;
        let mut email = email_spans.iter().peekable();
        let mut i = 0;
        let mut buffer = String::new();
        while i < bytes.len() {
            // The next word: a run of letters and digits.
            let (start, mut ascii) = (i, true);
            while i < bytes.len() {
                let b = bytes[i];
                if b.is_ascii_alphanumeric() {
                    i += 1;
                } else if b >= 0x80 {
                    let c = text[i..].chars().next().unwrap_or(' ');
                    if !c.is_alphanumeric() {
                        break;
                    }
                    ascii = false;
                    i += c.len_utf8();
                } else {
                    break;
                }
            }
            if i == start {
                // Not a word character: step over it (a whole character).
                i += text[i..].chars().next().map_or(1, char::len_utf8);
                continue;
            }
            let end = i;
            while email.peek().is_some_and(|(_, e)| *e <= start) {
                email.next();
            }
            let in_email = email.peek().is_some_and(|(s, e)| *s <= start && start < *e);
            let joined = n_runs > 0 && is_name_gap(&bytes[previous_end..start]);
            previous_end = end;
            if in_email || end - start > MAX_WORD_LEN {
                n_runs = 0;
                continue;
            }
            let word = &text[start..end];
            let hash = if ascii && word.bytes().all(|b| !b.is_ascii_uppercase()) {
                self.fingerprinter.word(word)
            } else {
                buffer.clear();
                if ascii {
                    buffer.extend(word.chars().map(|c| c.to_ascii_lowercase()));
                } else {
                    buffer.push_str(&word.to_lowercase());
                }
                self.fingerprinter.word(&buffer)
            };
            if !joined {
                n_runs = 0;
            }
            // Extend every run by this word (longest first, so the shorter ones are read
            // before being overwritten), then start a run with it.
            let keep = n_runs.min(max - 1);
            for k in (0..keep).rev() {
                let (run, run_start) = runs[k];
                runs[k + 1] = (fold(run, hash), run_start);
            }
            runs[0] = (hash, start);
            n_runs = keep + 1;
            for (run, run_start) in runs.iter().take(n_runs) {
                self.lookup(*run, *run_start, end, out);
            }
        }
    }

    fn find_phones(&self, bytes: &[u8], out: &mut Vec<Match>) {
        let mut i = 0;
        while i < bytes.len() {
            if !bytes[i].is_ascii_digit() || (i > 0 && bytes[i - 1].is_ascii_alphanumeric()) {
                i += 1;
                continue;
            }
            let start = if i > 0 && bytes[i - 1] == b'+' {
                i - 1
            } else {
                i
            };
            let mut digits = [0u8; MAX_PHONE_DIGITS];
            let mut n = 0usize;
            let mut too_long = false;
            let mut last = i;
            let mut j = i;
            while j < bytes.len() {
                let b = bytes[j];
                if b.is_ascii_digit() {
                    if n < MAX_PHONE_DIGITS {
                        digits[n] = b;
                        n += 1;
                    } else {
                        too_long = true;
                    }
                    last = j;
                } else if !matches!(b, b' ' | b'-' | b'(' | b')' | b'.') {
                    break;
                }
                j += 1;
            }
            let end = last + 1;
            i = end;
            let bounded = end >= bytes.len() || !bytes[end].is_ascii_alphanumeric();
            if too_long || !bounded || n < MIN_PHONE_DIGITS {
                continue;
            }
            self.lookup(
                self.fingerprinter.tagged(TAG_PHONE, &digits[..n]),
                start,
                end,
                out,
            );
            if n > 10 {
                self.lookup(
                    self.fingerprinter.tagged(TAG_PHONE, &digits[n - 10..n]),
                    start,
                    end,
                    out,
                );
            }
        }
    }
}

fn is_token_byte(b: u8) -> bool {
    b >= 0x80
        || b.is_ascii_alphanumeric()
        || matches!(b, b'@' | b'.' | b'_' | b'%' | b'+' | b'-' | b':')
}

/// What may separate two words of one name: spaces, a hyphen, a dot, an apostrophe or an
/// underscore, at most three bytes (or a typographic apostrophe).
fn is_name_gap(gap: &[u8]) -> bool {
    if gap == "’".as_bytes() {
        return true;
    }
    !gap.is_empty()
        && gap.len() <= 3
        && gap
            .iter()
            .all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'-' | b'.' | b'\'' | b'_'))
}

fn lowercase(text: &str) -> std::borrow::Cow<'_, str> {
    if text.is_ascii() && !text.bytes().any(|b| b.is_ascii_uppercase()) {
        std::borrow::Cow::Borrowed(text)
    } else if text.is_ascii() {
        std::borrow::Cow::Owned(text.to_ascii_lowercase())
    } else {
        std::borrow::Cow::Owned(text.to_lowercase())
    }
}

/// The text written in place of a value: the same as the `redact` strategy.
pub const REPLACEMENT: &str = super::rules::REDACTED;

/// `text` with the byte ranges replaced by [`REPLACEMENT`] (overlapping ranges merged).
pub fn redact(text: &str, ranges: &[(usize, usize)]) -> String {
    let mut ranges: Vec<(usize, usize)> = ranges.to_vec();
    ranges.sort();
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    let mut pending: Option<(usize, usize)> = None;
    for (start, end) in ranges {
        match &mut pending {
            Some((_, e)) if start <= *e => *e = (*e).max(end),
            _ => {
                if let Some((s, e)) = pending.take() {
                    out.push_str(&text[at..s]);
                    out.push_str(REPLACEMENT);
                    at = e;
                }
                pending = Some((start, end));
            }
        }
    }
    if let Some((s, e)) = pending {
        out.push_str(&text[at..s]);
        out.push_str(REPLACEMENT);
        at = e;
    }
    out.push_str(&text[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn needles() -> Needles {
        let key = Key::new(b"a key for the needle tests!".to_vec()).unwrap();
        let mut n = Needles::new(Fingerprinter::new(&key));
        let s = n.subject("a1000000-0000-4000-8000-000000000001");
        assert!(n.add_value(s, ValueKind::Email, " Zed.Zebra@Example.ORG "));
        assert!(n.add_value(s, ValueKind::Name, "Zed  Zebra"));
        assert!(n.add_value(s, ValueKind::LastName, "Zebra"));
        assert!(n.add_value(s, ValueKind::Phone, "+1 (415) 555-2671"));
        assert!(n.add_value(s, ValueKind::Ip, "203.0.113.77"));
        assert!(!n.add_value(s, ValueKind::FirstName, "Al"), "too short");
        assert!(
            !n.add_value(s, ValueKind::Text, "bio text"),
            "not identifying"
        );
        n.build();
        n
    }

    fn kinds(n: &Needles, text: &str) -> Vec<ValueKind> {
        let mut out = Vec::new();
        n.find(text, &mut out);
        let mut kinds: Vec<ValueKind> = out.iter().map(|m| n.at(m.first)[0].kind).collect();
        kinds.sort();
        kinds.dedup();
        kinds
    }

    fn replaced(n: &Needles, text: &str) -> String {
        let mut out = Vec::new();
        n.find(text, &mut out);
        let ranges: Vec<(usize, usize)> = out.iter().map(|m| (m.start, m.end)).collect();
        redact(text, &ranges)
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
        assert_eq!(
            kinds(&n, "mailto:zed.zebra@example.org"),
            vec![ValueKind::Email]
        );
        assert_eq!(
            kinds(&n, "Zed-Zebra, Zed_Zebra"),
            vec![ValueKind::Name, ValueKind::LastName]
        );
        assert_eq!(
            kinds(&n, "@Zed Zebra can you"),
            vec![ValueKind::Name, ValueKind::LastName]
        );
    }

    #[test]
    fn does_not_match_inside_other_words_numbers_or_across_fields() {
        let n = needles();
        let mut out = Vec::new();
        for text in [
            "zebras and zedzebra",
            "203.0.113.7",
            "203.0.113.770",
            "anon+0123@anon.invalid",
            "xzed.zebra@example.orgx",
            "a4155552671",
            "zed.zebra@example.org.uk",
        ] {
            n.find(text, &mut out);
            assert!(out.is_empty(), "{text}: {out:?}");
        }
        // Two JSON strings are not one name.
        assert_eq!(kinds(&n, r#"["Zed", "Zebra"]"#), vec![ValueKind::LastName]);
    }

    #[test]
    fn replaces_the_values_and_keeps_the_rest_of_the_text() {
        let n = needles();
        assert_eq!(replaced(&n, "Zed Zebra replied"), "[redacted] replied");
        assert_eq!(
            replaced(&n, "ask zed.zebra@example.org or call +1 415 555 2671."),
            "ask [redacted] or call [redacted]."
        );
        assert_eq!(replaced(&n, "Zoë met Zed Zebra"), "Zoë met [redacted]");
        assert_eq!(replaced(&n, "nothing here"), "nothing here");
    }

    #[test]
    fn labels_and_stored_fingerprints() {
        let mut n = needles();
        assert_eq!(n.mark_labels(["zebra", "admin"]), 1);
        n.build();
        // The one-word last name is not searched alone; the full name still is.
        assert_eq!(kinds(&n, "the zebra"), Vec::<ValueKind>::new());
        assert_eq!(kinds(&n, "Zed Zebra"), vec![ValueKind::Name]);
        // Fingerprints survive a round trip through their stored form.
        let key = Key::new(b"a key for the needle tests!".to_vec()).unwrap();
        let mut again = Needles::new(Fingerprinter::new(&key));
        let s = again.subject("A1000000-0000-4000-8000-000000000001");
        for stored in n.stored(0) {
            assert!(again.add_stored(s, &stored));
        }
        again.build();
        assert_eq!(
            kinds(&again, "zed.zebra@example.org, 203.0.113.77"),
            vec![ValueKind::Email, ValueKind::Ip]
        );
        assert_eq!(format!("{again:?}"), "Needles(6 values of 1 subjects)");
        // Another key finds nothing.
        let other = Key::new(b"another key, another world".to_vec()).unwrap();
        let mut wrong = Needles::new(Fingerprinter::new(&other));
        let s = wrong.subject("x");
        for stored in n.stored(0) {
            wrong.add_stored(s, &stored);
        }
        wrong.build();
        assert_eq!(
            kinds(&wrong, "zed.zebra@example.org"),
            Vec::<ValueKind>::new()
        );
    }

    #[test]
    fn overlapping_ranges_are_merged() {
        assert_eq!(redact("abcdef", &[(1, 3), (2, 4)]), "a[redacted]ef");
        assert_eq!(
            redact("abcdef", &[(0, 1), (5, 6)]),
            "[redacted]bcde[redacted]"
        );
    }
}
