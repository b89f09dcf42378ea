//! A PostgreSQL tokenizer (words, quoted identifiers, strings, dollar quotes, punctuation;
//! comments skipped) for one statement, and token helpers. Shared by the migration loader (which
//! refuses transaction control), the engine and the lint rules.

use std::ops::Range;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// A keyword or unquoted identifier; `text` is lowercased.
    Word,
    /// A `"quoted identifier"`; `text` is its value.
    QuotedIdent,
    /// A string constant (`'...'`, `E'...'`, `$tag$...$tag$`); `text` is its value.
    String,
    Number,
    /// One punctuation or operator character.
    Punct,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub kind: TokenKind,
    pub text: String,
    /// Byte offset of the token in the statement text.
    pub offset: usize,
}

impl Token {
    pub fn is_word(&self, word: &str) -> bool {
        self.kind == TokenKind::Word && self.text == word
    }

    pub fn is_punct(&self, c: char) -> bool {
        self.kind == TokenKind::Punct && self.text.len() == 1 && self.text.starts_with(c)
    }

    /// An identifier (quoted or not) or a keyword used as one.
    pub fn is_name(&self) -> bool {
        matches!(self.kind, TokenKind::Word | TokenKind::QuotedIdent)
    }
}

/// Splits one statement into tokens. Unterminated tokens end at the end of the text (the
/// splitter has already refused unterminated input).
pub fn tokenize(sql: &str) -> Vec<Token> {
    let bytes = sql.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b.is_ascii_whitespace() {
            i += 1;
        } else if b == b'-' && bytes.get(i + 1) == Some(&b'-') {
            i = bytes[i..]
                .iter()
                .position(|&c| c == b'\n')
                .map_or(bytes.len(), |n| i + n);
        } else if b == b'/' && bytes.get(i + 1) == Some(&b'*') {
            i = skip_block_comment(bytes, i);
        } else if b == b'\'' {
            let (text, end) = quoted(sql, i, b'\'', false);
            tokens.push(token(TokenKind::String, text, i));
            i = end;
        } else if (b == b'e' || b == b'E') && bytes.get(i + 1) == Some(&b'\'') {
            let (text, end) = quoted(sql, i + 1, b'\'', true);
            tokens.push(token(TokenKind::String, text, i));
            i = end;
        } else if matches!(b, b'b' | b'B' | b'x' | b'X' | b'n' | b'N')
            && bytes.get(i + 1) == Some(&b'\'')
        {
            let (text, end) = quoted(sql, i + 1, b'\'', false);
            tokens.push(token(TokenKind::String, text, i));
            i = end;
        } else if b == b'"' {
            let (text, end) = quoted(sql, i, b'"', false);
            tokens.push(token(TokenKind::QuotedIdent, text, i));
            i = end;
        } else if b == b'$'
            && let Some((text, end)) = dollar_quoted(sql, i)
        {
            tokens.push(token(TokenKind::String, text, i));
            i = end;
        } else if b.is_ascii_alphabetic() || b == b'_' || b >= 0x80 {
            let start = i;
            while i < bytes.len()
                && (bytes[i].is_ascii_alphanumeric()
                    || bytes[i] == b'_'
                    || bytes[i] == b'$'
                    || bytes[i] >= 0x80)
            {
                i += 1;
            }
            tokens.push(token(TokenKind::Word, sql[start..i].to_lowercase(), start));
        } else if b.is_ascii_digit() {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'.') {
                i += 1;
            }
            tokens.push(token(TokenKind::Number, sql[start..i].to_string(), start));
        } else {
            // Every other byte is ASCII punctuation here (non-ASCII starts a word above).
            tokens.push(token(TokenKind::Punct, (b as char).to_string(), i));
            i += 1;
        }
    }
    tokens
}

fn token(kind: TokenKind, text: String, offset: usize) -> Token {
    Token { kind, text, offset }
}

fn skip_block_comment(bytes: &[u8], start: usize) -> usize {
    let mut depth = 0usize;
    let mut i = start;
    while i < bytes.len() {
        if bytes[i] == b'/' && bytes.get(i + 1) == Some(&b'*') {
            depth += 1;
            i += 2;
        } else if bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'/') {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return i;
            }
        } else {
            i += 1;
        }
    }
    bytes.len()
}

/// A token between `quote`s starting at `start`, with doubled quotes (and, for `E'...'`,
/// backslash escapes) resolved. Returns the value and the offset after the closing quote.
fn quoted(sql: &str, start: usize, quote: u8, backslash: bool) -> (String, usize) {
    let bytes = sql.as_bytes();
    let mut value = Vec::new();
    let mut i = start + 1;
    while i < bytes.len() {
        let b = bytes[i];
        if backslash && b == b'\\' && i + 1 < bytes.len() {
            value.push(bytes[i + 1]);
            i += 2;
        } else if b == quote {
            if bytes.get(i + 1) == Some(&quote) {
                value.push(quote);
                i += 2;
            } else {
                return (String::from_utf8_lossy(&value).into_owned(), i + 1);
            }
        } else {
            value.push(b);
            i += 1;
        }
    }
    (String::from_utf8_lossy(&value).into_owned(), bytes.len())
}

/// `$tag$...$tag$` at `start`, if that is one (`$1` is a parameter, not a quote).
fn dollar_quoted(sql: &str, start: usize) -> Option<(String, usize)> {
    let bytes = sql.as_bytes();
    let mut i = start + 1;
    while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
        i += 1;
    }
    if bytes.get(i) != Some(&b'$') || bytes.get(start + 1).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    let tag = &sql[start..=i];
    let body_start = i + 1;
    match sql[body_start..].find(tag) {
        Some(n) => Some((
            sql[body_start..body_start + n].to_string(),
            body_start + n + tag.len(),
        )),
        None => Some((sql[body_start..].to_string(), sql.len())),
    }
}

/// A statement's tokens with matching helpers.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub tokens: Vec<Token>,
}

impl Tokens {
    pub fn new(sql: &str) -> Tokens {
        Tokens {
            tokens: tokenize(sql),
        }
    }

    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    pub fn get(&self, index: usize) -> Option<&Token> {
        self.tokens.get(index)
    }

    /// Whether the words `words` appear in order from `index`.
    pub fn words_at(&self, index: usize, words: &[&str]) -> bool {
        words
            .iter()
            .enumerate()
            .all(|(n, word)| self.get(index + n).is_some_and(|t| t.is_word(word)))
    }

    /// Skips the optional words `words` (all of them or none) at `index`.
    pub fn skip(&self, index: usize, words: &[&str]) -> usize {
        if self.words_at(index, words) {
            index + words.len()
        } else {
            index
        }
    }

    /// A possibly qualified name at `index`: its parts and the index after it.
    pub fn name_at(&self, index: usize) -> Option<(Vec<String>, usize)> {
        let mut parts = Vec::new();
        let mut i = index;
        loop {
            let token = self.get(i).filter(|t| t.is_name())?;
            parts.push(token.text.clone());
            i += 1;
            if self.get(i).is_some_and(|t| t.is_punct('.'))
                && self.get(i + 1).is_some_and(Token::is_name)
            {
                i += 1;
            } else {
                return Some((parts, i));
            }
        }
    }

    /// The index of the token closing the parenthesis opened at `open`.
    pub fn matching_paren(&self, open: usize) -> usize {
        let mut depth = 0usize;
        for (i, token) in self.tokens.iter().enumerate().skip(open) {
            if token.is_punct('(') {
                depth += 1;
            } else if token.is_punct(')') {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return i;
                }
            }
        }
        self.tokens.len()
    }

    /// Splits `range` at commas outside parentheses.
    pub fn split_commas(&self, range: Range<usize>) -> Vec<Range<usize>> {
        let mut parts = Vec::new();
        let mut depth = 0usize;
        let mut start = range.start;
        for i in range.clone() {
            let token = &self.tokens[i];
            if token.is_punct('(') {
                depth += 1;
            } else if token.is_punct(')') {
                depth = depth.saturating_sub(1);
            } else if token.is_punct(',') && depth == 0 {
                parts.push(start..i);
                start = i + 1;
            }
        }
        if start < range.end {
            parts.push(start..range.end);
        }
        parts
    }

    /// Whether `word` occurs in `range` outside parentheses.
    pub fn has_top_level_word(&self, range: Range<usize>, word: &str) -> bool {
        self.find_top_level(range, |t| t.is_word(word)).is_some()
    }

    /// The first token in `range`, outside parentheses, that satisfies `predicate`.
    pub fn find_top_level(
        &self,
        range: Range<usize>,
        predicate: impl Fn(&Token) -> bool,
    ) -> Option<usize> {
        let mut depth = 0usize;
        for i in range {
            let token = &self.tokens[i];
            if token.is_punct('(') {
                depth += 1;
            } else if token.is_punct(')') {
                depth = depth.saturating_sub(1);
            } else if depth == 0 && predicate(token) {
                return Some(i);
            }
        }
        None
    }
}

/// The transaction-control command a statement is, if it ends or starts a transaction:
/// `BEGIN`, `START TRANSACTION`, `COMMIT` (also `AND CHAIN`, `PREPARED`), `END`, `ROLLBACK`
/// (not `ROLLBACK TO SAVEPOINT`, which keeps the transaction), `ABORT`, `PREPARE
/// TRANSACTION`. Comments, case and spacing do not matter: the tokenizer skips comments.
/// `SAVEPOINT` and `RELEASE` stay inside the transaction and are not reported.
pub fn transaction_control(tokens: &Tokens) -> Option<&'static str> {
    let first = tokens.get(0).filter(|t| t.kind == TokenKind::Word)?;
    let second = tokens.get(1);
    let next_is = |word: &str| second.is_some_and(|t| t.is_word(word));
    match first.text.as_str() {
        "begin" => Some("BEGIN"),
        "start" if next_is("transaction") => Some("START TRANSACTION"),
        "commit" => Some("COMMIT"),
        "end" => Some("END"),
        "abort" => Some("ABORT"),
        "rollback" if next_is("to") => None,
        "rollback" => Some("ROLLBACK"),
        "prepare" if next_is("transaction") => Some("PREPARE TRANSACTION"),
        _ => None,
    }
}

/// The index a `CREATE [UNIQUE] INDEX CONCURRENTLY [IF NOT EXISTS] name ON ...` statement
/// builds, as its name parts (schema-qualified when the statement qualifies it). `None` for
/// other statements and for unnamed indexes.
pub fn concurrent_index_name(tokens: &Tokens) -> Option<Vec<String>> {
    if !tokens.words_at(0, &["create"]) {
        return None;
    }
    let mut i = tokens.skip(1, &["unique"]);
    if !tokens.words_at(i, &["index", "concurrently"]) {
        return None;
    }
    i = tokens.skip(i + 2, &["if", "not", "exists"]);
    if tokens.words_at(i, &["on"]) {
        return None;
    }
    tokens.name_at(i).map(|(parts, _)| parts)
}

pub use super::quote::ident as quote_ident;

#[cfg(test)]
mod tests {
    use super::*;

    fn words(sql: &str) -> Vec<String> {
        tokenize(sql).into_iter().map(|t| t.text).collect()
    }

    #[test]
    fn tokenizes_strings_identifiers_and_comments() {
        assert_eq!(
            words("ALTER TABLE \"My\"\"T\" -- c\n ADD x text DEFAULT 'it''s' /* a /* b */ */;"),
            vec![
                "alter", "table", "My\"T", "add", "x", "text", "default", "it's", ";"
            ]
        );
        assert_eq!(
            words("select E'a\\'b', $f$ x ; y $f$, $1"),
            vec!["select", "a'b", ",", " x ; y ", ",", "$", "1"]
        );
        let tokens = tokenize("a  bc");
        assert_eq!(tokens[1].offset, 3);
    }

    #[test]
    fn finds_transaction_control_whatever_the_comments_case_or_spacing() {
        let control = |sql: &str| transaction_control(&Tokens::new(sql));
        for (sql, expected) in [
            ("ABORT", Some("ABORT")),
            ("/* c */ COMMIT", Some("COMMIT")),
            ("commit/*x*/", Some("COMMIT")),
            ("-- done\ncommit and chain", Some("COMMIT")),
            ("COMMIT PREPARED 'x'", Some("COMMIT")),
            (
                "start\n  transaction isolation level serializable",
                Some("START TRANSACTION"),
            ),
            ("Begin Work", Some("BEGIN")),
            ("END", Some("END")),
            ("rollback", Some("ROLLBACK")),
            ("ROLLBACK PREPARED 'x'", Some("ROLLBACK")),
            ("prepare transaction 'x'", Some("PREPARE TRANSACTION")),
            ("ROLLBACK TO SAVEPOINT s", None),
            ("rollback to s", None),
            ("SAVEPOINT s", None),
            ("RELEASE SAVEPOINT s", None),
            ("prepare q as select 1", None),
            ("start_date_check()", None),
            ("\"commit\"", None),
            ("select 'commit'", None),
            (
                "create function f() returns int language sql begin atomic select 1; end",
                None,
            ),
        ] {
            assert_eq!(control(sql), expected, "{sql}");
        }
    }

    #[test]
    fn finds_concurrent_index_names_quoted_qualified_and_commented() {
        let name = |sql: &str| concurrent_index_name(&Tokens::new(sql));
        assert_eq!(
            name("CREATE INDEX CONCURRENTLY idx_a ON t (a)"),
            Some(vec!["idx_a".to_string()])
        );
        assert_eq!(
            name("create unique index concurrently if not exists s.idx_b on t(b)"),
            Some(vec!["s".to_string(), "idx_b".to_string()])
        );
        assert_eq!(
            name("CREATE INDEX /* x */ CONCURRENTLY \"My Index\"ON t (a)"),
            Some(vec!["My Index".to_string()])
        );
        assert_eq!(
            name("-- build it\nCREATE INDEX CONCURRENTLY idx_c -- why\n ON t (c)"),
            Some(vec!["idx_c".to_string()])
        );
        assert_eq!(name("CREATE INDEX CONCURRENTLY ON t (a)"), None);
        assert_eq!(name("CREATE INDEX idx ON t (a)"), None);
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    }
}
