//! Just enough SQL for the lint rules: a tokenizer (words, quoted identifiers, strings, dollar
//! quotes, punctuation; comments skipped) and helpers that recognise the statements the rules
//! look at (`ALTER TABLE` actions, `CREATE INDEX`, qualified names).

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

/// The table key the rules compare names by: the unqualified name (schemas are rarely
/// ambiguous within one migration set, and search_path is not known offline).
pub fn table_key(parts: &[String]) -> String {
    parts.last().cloned().unwrap_or_default()
}

/// `ALTER TABLE [IF EXISTS] [ONLY] name [*] action, …`.
#[derive(Debug, Clone)]
pub struct AlterTable {
    pub table: String,
    /// Token ranges of the actions.
    pub actions: Vec<Range<usize>>,
}

pub fn alter_table(tokens: &Tokens) -> Option<AlterTable> {
    if !tokens.words_at(0, &["alter", "table"]) {
        return None;
    }
    let mut i = tokens.skip(2, &["if", "exists"]);
    i = tokens.skip(i, &["only"]);
    let (parts, mut i) = tokens.name_at(i)?;
    if tokens.get(i).is_some_and(|t| t.is_punct('*')) {
        i += 1;
    }
    Some(AlterTable {
        table: table_key(&parts),
        actions: tokens.split_commas(i..tokens.len()),
    })
}

/// The action an `ALTER TABLE` action range performs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    AddColumn(ColumnDef),
    /// `ADD [CONSTRAINT name] …`: the constraint's name, its type word (`check`, `foreign`,
    /// `unique`, `primary`, `exclude`), whether it ends with NOT VALID, whether it reuses an
    /// index (`USING INDEX`), and for `CHECK (col IS NOT NULL)` the column.
    AddConstraint {
        name: Option<String>,
        kind: String,
        not_valid: bool,
        using_index: bool,
        not_null_column: Option<String>,
    },
    AlterColumnType {
        column: String,
    },
    SetNotNull {
        column: String,
    },
    DropColumn {
        column: String,
    },
    RenameColumn {
        from: String,
        to: String,
    },
    RenameTable {
        to: String,
    },
    ValidateConstraint {
        name: String,
    },
    Other,
}

/// A column definition in `ADD COLUMN`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnDef {
    pub name: String,
    /// The type's first word (`bigserial`, `timestamptz`, …).
    pub type_word: String,
    pub not_null: bool,
    /// Tokens of the DEFAULT expression, if any.
    pub default: Option<Range<usize>>,
    /// `GENERATED ALWAYS AS (…) STORED`.
    pub generated_stored: bool,
    /// `GENERATED … AS IDENTITY`.
    pub identity: bool,
}

const COLUMN_CONSTRAINT_WORDS: &[&str] = &[
    "not",
    "null",
    "default",
    "generated",
    "constraint",
    "check",
    "references",
    "primary",
    "unique",
    "collate",
];

const CONSTRAINT_TYPE_WORDS: &[&str] = &["check", "foreign", "unique", "primary", "exclude"];

pub fn action(tokens: &Tokens, range: Range<usize>) -> Action {
    let i = range.start;
    let word = |n: usize| {
        tokens
            .get(i + n)
            .filter(|_| i + n < range.end)
            .map(|t| t.text.as_str())
            .unwrap_or("")
    };
    match word(0) {
        "add" => {
            let first = word(1);
            if first == "constraint" || CONSTRAINT_TYPE_WORDS.contains(&first) {
                add_constraint(tokens, i + 1..range.end)
            } else {
                let mut start = tokens.skip(i + 1, &["column"]);
                start = tokens.skip(start, &["if", "not", "exists"]);
                column_def(tokens, start..range.end).map_or(Action::Other, Action::AddColumn)
            }
        }
        "alter" => {
            let start = tokens.skip(i + 1, &["column"]);
            let Some(column) = tokens.get(start).filter(|t| t.is_name()) else {
                return Action::Other;
            };
            let column = column.text.clone();
            let next = start + 1;
            if tokens.words_at(next, &["type"]) || tokens.words_at(next, &["set", "data", "type"]) {
                Action::AlterColumnType { column }
            } else if tokens.words_at(next, &["set", "not", "null"]) {
                Action::SetNotNull { column }
            } else {
                Action::Other
            }
        }
        "drop" => {
            if word(1) == "constraint" {
                return Action::Other;
            }
            let mut start = tokens.skip(i + 1, &["column"]);
            start = tokens.skip(start, &["if", "exists"]);
            match tokens
                .get(start)
                .filter(|t| t.is_name() && start < range.end)
            {
                Some(column) => Action::DropColumn {
                    column: column.text.clone(),
                },
                None => Action::Other,
            }
        }
        "rename" => {
            if word(1) == "to" {
                return match tokens.name_at(i + 2) {
                    Some((parts, _)) => Action::RenameTable {
                        to: table_key(&parts),
                    },
                    None => Action::Other,
                };
            }
            if word(1) == "constraint" {
                return Action::Other;
            }
            let start = tokens.skip(i + 1, &["column"]);
            match (
                tokens.get(start),
                tokens.get(start + 1),
                tokens.get(start + 2),
            ) {
                (Some(from), Some(to_word), Some(to))
                    if to_word.is_word("to") && from.is_name() =>
                {
                    Action::RenameColumn {
                        from: from.text.clone(),
                        to: to.text.clone(),
                    }
                }
                _ => Action::Other,
            }
        }
        "validate" if word(1) == "constraint" => match tokens.get(i + 2).filter(|t| t.is_name()) {
            Some(name) => Action::ValidateConstraint {
                name: name.text.clone(),
            },
            None => Action::Other,
        },
        _ => Action::Other,
    }
}

fn add_constraint(tokens: &Tokens, range: Range<usize>) -> Action {
    let mut i = range.start;
    let mut name = None;
    if tokens.words_at(i, &["constraint"]) {
        name = tokens.get(i + 1).map(|t| t.text.clone());
        i += 2;
    }
    let kind = tokens.get(i).map(|t| t.text.clone()).unwrap_or_default();
    let last_two = range.end >= 2 && tokens.words_at(range.end - 2, &["not", "valid"]);
    let using_index = tokens.has_top_level_word(i..range.end, "using")
        && tokens
            .find_top_level(i..range.end, |t| t.is_word("using"))
            .is_some_and(|u| tokens.words_at(u, &["using", "index"]));
    let not_null_column = if kind == "check" {
        not_null_check_column(tokens, i + 1..range.end)
    } else {
        None
    };
    Action::AddConstraint {
        name,
        kind,
        not_valid: last_two || tokens.has_top_level_word(i..range.end, "valid"),
        using_index,
        not_null_column,
    }
}

/// For `( col IS NOT NULL )` (any number of parentheses) at the start of `range`: `col`.
fn not_null_check_column(tokens: &Tokens, range: Range<usize>) -> Option<String> {
    let mut i = range.start;
    let mut opened = 0;
    while tokens.get(i).is_some_and(|t| t.is_punct('(')) {
        opened += 1;
        i += 1;
    }
    let column = tokens.get(i).filter(|t| t.is_name())?;
    if !tokens.words_at(i + 1, &["is", "not", "null"]) {
        return None;
    }
    let closed = (0..opened).all(|n| tokens.get(i + 4 + n).is_some_and(|t| t.is_punct(')')));
    closed.then(|| column.text.clone())
}

fn column_def(tokens: &Tokens, range: Range<usize>) -> Option<ColumnDef> {
    let name = tokens
        .get(range.start)
        .filter(|t| t.is_name())?
        .text
        .clone();
    let type_word = tokens
        .get(range.start + 1)
        .filter(|_| range.start + 1 < range.end)?
        .text
        .clone();
    let rest = range.start + 1..range.end;
    let not_null = (rest.clone()).any(|i| tokens.words_at(i, &["not", "null"]));
    let default = tokens
        .find_top_level(rest.clone(), |t| t.is_word("default"))
        .map(|start| {
            let end = tokens
                .find_top_level(start + 1..range.end, |t| {
                    t.kind == TokenKind::Word && COLUMN_CONSTRAINT_WORDS.contains(&t.text.as_str())
                })
                .unwrap_or(range.end);
            start + 1..end
        });
    let generated = tokens.find_top_level(rest, |t| t.is_word("generated"));
    let (generated_stored, identity) = match generated {
        Some(g) => {
            let tail = g..range.end;
            (
                tokens.has_top_level_word(tail.clone(), "stored"),
                tokens.has_top_level_word(tail, "identity"),
            )
        }
        None => (false, false),
    };
    Some(ColumnDef {
        name,
        type_word,
        not_null,
        default,
        generated_stored,
        identity,
    })
}

/// `CREATE [UNIQUE] INDEX [CONCURRENTLY] [IF NOT EXISTS] [name] ON [ONLY] table …`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateIndex {
    pub concurrently: bool,
    pub table: String,
}

pub fn create_index(tokens: &Tokens) -> Option<CreateIndex> {
    if !tokens.words_at(0, &["create"]) {
        return None;
    }
    let mut i = tokens.skip(1, &["unique"]);
    if !tokens.words_at(i, &["index"]) {
        return None;
    }
    i += 1;
    let concurrently = tokens.words_at(i, &["concurrently"]);
    let on = (i..tokens.len()).find(|&n| tokens.get(n).is_some_and(|t| t.is_word("on")))?;
    let start = tokens.skip(on + 1, &["only"]);
    let (parts, _) = tokens.name_at(start)?;
    Some(CreateIndex {
        concurrently,
        table: table_key(&parts),
    })
}

/// The table a `CREATE [UNLOGGED|TEMP] TABLE [IF NOT EXISTS] name` or `CREATE TABLE … AS`
/// statement creates.
pub fn created_table(tokens: &Tokens) -> Option<String> {
    if !tokens.words_at(0, &["create"]) {
        return None;
    }
    let mut i = 1;
    while tokens.get(i).is_some_and(|t| {
        [
            "unlogged",
            "temp",
            "temporary",
            "global",
            "local",
            "or",
            "replace",
        ]
        .contains(&t.text.as_str())
    }) {
        i += 1;
    }
    if !tokens.words_at(i, &["table"]) && !tokens.words_at(i, &["materialized", "view"]) {
        return None;
    }
    i += if tokens.words_at(i, &["table"]) { 1 } else { 2 };
    i = tokens.skip(i, &["if", "not", "exists"]);
    tokens.name_at(i).map(|(parts, _)| table_key(&parts))
}

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
    fn parses_alter_table_actions() {
        let tokens = Tokens::new(
            "ALTER TABLE IF EXISTS ONLY public.tasks ADD COLUMN IF NOT EXISTS c int NOT NULL DEFAULT f(1, 2), ALTER COLUMN d TYPE bigint, DROP COLUMN e, ADD CONSTRAINT ck CHECK ((x IS NOT NULL)) NOT VALID",
        );
        let alter = alter_table(&tokens).unwrap();
        assert_eq!(alter.table, "tasks");
        let actions: Vec<Action> = alter
            .actions
            .iter()
            .map(|r| action(&tokens, r.clone()))
            .collect();
        match &actions[0] {
            Action::AddColumn(def) => {
                assert_eq!(def.name, "c");
                assert!(def.not_null);
                assert!(def.default.is_some());
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(actions[1], Action::AlterColumnType { column: "d".into() });
        assert_eq!(actions[2], Action::DropColumn { column: "e".into() });
        assert_eq!(
            actions[3],
            Action::AddConstraint {
                name: Some("ck".into()),
                kind: "check".into(),
                not_valid: true,
                using_index: false,
                not_null_column: Some("x".into()),
            }
        );
    }

    #[test]
    fn recognises_index_and_table_creation() {
        assert_eq!(
            create_index(&Tokens::new(
                "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS i ON ONLY s.t (a)"
            )),
            Some(CreateIndex {
                concurrently: true,
                table: "t".into()
            })
        );
        assert_eq!(
            create_index(&Tokens::new("create index on t using gin (a)")).map(|c| c.table),
            Some("t".into())
        );
        assert_eq!(
            created_table(&Tokens::new(
                "CREATE UNLOGGED TABLE IF NOT EXISTS app.t (a int)"
            )),
            Some("t".into())
        );
        assert_eq!(
            created_table(&Tokens::new("CREATE TYPE t AS ENUM ()")),
            None
        );
    }
}
