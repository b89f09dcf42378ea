//! Splits PostgreSQL script text into statements, the way the server's lexer would.
//!
//! The scanner follows the token rules of PostgreSQL's `scan.l` (and, for
//! `BEGIN ATOMIC` bodies and parentheses, the heuristics of psql's
//! `psqlscan.l`) closely enough to find statement boundaries: string
//! literals, quoted identifiers, dollar quotes and comments are skipped as
//! whole tokens, so a `;` inside any of them never ends a statement.
//!
//! The scan is a single pass over the bytes of the input. Everything the
//! scanner slices at is an ASCII byte, so every slice lands on a UTF-8 char
//! boundary.

/// One statement of a script, borrowed from the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement<'a> {
    /// The statement text without the terminating `;`, trimmed of surrounding whitespace (comments inside are kept; a statement that is only comments/whitespace is not returned).
    pub sql: &'a str,
    /// Byte offset of `sql` within the input.
    pub offset: usize,
    /// 1-based line number (in the input) of the first character of `sql`.
    pub line: usize,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SplitError {
    #[error(
        "line {line}: psql meta-command `{command}` is not SQL; migrate runs plain SQL only (use COPY ... FROM STDIN in a seed CSV, or inline the file)"
    )]
    MetaCommand { line: usize, command: String },
    #[error("line {line}: unterminated {what} starting here")]
    Unterminated { line: usize, what: &'static str },
    /// PostgreSQL's grammar has no statement with unbalanced parentheses (outside strings,
    /// quoted identifiers, dollar quotes and comments): the server would refuse it.
    #[error(
        "line {line}: {}",
        if *unclosed { "this `(` is never closed (the statement runs on to the end of the script)" } else { "this `)` closes no `(`" }
    )]
    Unbalanced { line: usize, unclosed: bool },
}

/// Splits `script` into its statements.
///
/// Statements end at a `;` outside strings, quoted identifiers, dollar
/// quotes, comments, parentheses and `BEGIN ATOMIC ... END` routine bodies.
/// A final statement without a trailing `;` is returned too; statements
/// consisting only of whitespace and comments are dropped. A UTF-8 byte
/// order mark at the very start of the script is skipped.
pub fn split(script: &str) -> Result<Vec<Statement<'_>>, SplitError> {
    Splitter::new(script).run()
}

/// 1-based line number of a byte offset in `text` (offset clamped to the text length).
pub fn line_of(text: &str, byte_offset: usize) -> usize {
    let end = byte_offset.min(text.len());
    1 + count_newlines(&text.as_bytes()[..end])
}

/// Converts a server error `position` (1-based, counted in characters, not bytes) within `statement_sql` to a byte offset into `statement_sql` (clamped).
pub fn char_position_to_byte(statement_sql: &str, position: usize) -> usize {
    if position <= 1 {
        return 0;
    }
    statement_sql
        .char_indices()
        .nth(position - 1)
        .map_or(statement_sql.len(), |(byte, _)| byte)
}

const WHAT_STRING: &str = "string literal";
const WHAT_IDENT: &str = "quoted identifier";
const WHAT_DOLLAR: &str = "dollar-quoted string";
const WHAT_COMMENT: &str = "block comment";

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

fn count_newlines(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| b == b'\n').count()
}

/// Whitespace as the server's lexer defines it (`space` in scan.l).
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0B | 0x0C)
}

/// `ident_start` in scan.l: letters, `_` and any non-ASCII byte.
fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b >= 0x80
}

/// `ident_cont` in scan.l: `ident_start`, digits and `$`.
fn is_ident_cont(b: u8) -> bool {
    is_ident_start(b) || b.is_ascii_digit() || b == b'$'
}

/// `dolq_cont` in scan.l: like `ident_cont` but without `$`.
fn is_dollar_tag_cont(b: u8) -> bool {
    is_ident_start(b) || b.is_ascii_digit()
}

/// Where the first words of the current statement have led so far, for
/// recognising `CREATE [OR REPLACE] {FUNCTION | PROCEDURE}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Routine {
    Start,
    Create,
    CreateOr,
    CreateOrReplace,
    /// The statement creates a function or procedure.
    Yes,
    /// The statement is something else.
    No,
}

/// Line numbers for monotonically increasing offsets without rescanning.
struct LineCursor {
    pos: usize,
    line: usize,
}

impl LineCursor {
    fn line_at(&mut self, bytes: &[u8], offset: usize) -> usize {
        let offset = offset.min(bytes.len());
        if offset < self.pos {
            self.pos = 0;
            self.line = 1;
        }
        self.line += count_newlines(&bytes[self.pos..offset]);
        self.pos = offset;
        self.line
    }
}

struct Splitter<'a> {
    src: &'a str,
    bytes: &'a [u8],
    pos: usize,
    lines: LineCursor,
    out: Vec<Statement<'a>>,
    /// Only whitespace since the last newline outside any token.
    at_line_start: bool,
    /// Start of the current statement.
    stmt_start: usize,
    /// The current statement has a token other than whitespace/comments.
    has_content: bool,
    paren_depth: usize,
    /// Offset of the first `(` of the current statement not yet closed.
    first_open: usize,
    routine: Routine,
    /// The previous token of a routine statement was the word `BEGIN`.
    after_begin: bool,
    /// Nesting of `BEGIN ATOMIC` / `CASE` awaiting their `END`.
    begin_depth: usize,
}

impl<'a> Splitter<'a> {
    fn new(src: &'a str) -> Self {
        let bytes = src.as_bytes();
        let start = if bytes.starts_with(UTF8_BOM) {
            UTF8_BOM.len()
        } else {
            0
        };
        Splitter {
            src,
            bytes,
            pos: start,
            lines: LineCursor { pos: 0, line: 1 },
            out: Vec::new(),
            at_line_start: true,
            stmt_start: start,
            has_content: false,
            paren_depth: 0,
            first_open: 0,
            routine: Routine::Start,
            after_begin: false,
            begin_depth: 0,
        }
    }

    fn peek(&self, ahead: usize) -> Option<u8> {
        self.bytes.get(self.pos + ahead).copied()
    }

    fn run(mut self) -> Result<Vec<Statement<'a>>, SplitError> {
        while let Some(&b) = self.bytes.get(self.pos) {
            if b == b'\n' {
                self.at_line_start = true;
                self.pos += 1;
                continue;
            }
            if is_space(b) {
                self.pos += 1;
                continue;
            }
            if b == b'-' && self.peek(1) == Some(b'-') {
                self.skip_line_comment();
                continue;
            }
            if b == b'\\' && self.at_line_start {
                return Err(self.meta_command());
            }
            self.at_line_start = false;
            if b == b'/' && self.peek(1) == Some(b'*') {
                self.skip_block_comment()?;
                continue;
            }

            if b == b';' && self.paren_depth == 0 && self.begin_depth == 0 {
                self.finish_statement(self.pos)?;
                self.pos += 1;
                self.stmt_start = self.pos;
                continue;
            }

            // Every other token counts as statement content.
            self.has_content = true;
            match b {
                b'\'' => {
                    self.after_begin = false;
                    self.skip_quoted(self.pos, b'\'', WHAT_STRING)?;
                }
                b'"' => {
                    self.after_begin = false;
                    self.skip_quoted(self.pos, b'"', WHAT_IDENT)?;
                }
                b'$' => {
                    self.after_begin = false;
                    self.skip_dollar()?;
                }
                _ if is_ident_start(b) => self.word()?,
                _ => {
                    self.after_begin = false;
                    match b {
                        b'(' => {
                            if self.paren_depth == 0 {
                                self.first_open = self.pos;
                            }
                            self.paren_depth += 1;
                        }
                        b')' if self.paren_depth == 0 => {
                            return Err(SplitError::Unbalanced {
                                line: line_of(self.src, self.pos),
                                unclosed: false,
                            });
                        }
                        b')' => self.paren_depth -= 1,
                        _ => {}
                    }
                    self.pos += 1;
                }
            }
        }
        self.finish_statement(self.bytes.len())?;
        Ok(self.out)
    }

    /// Records the statement from `stmt_start` to `end` (exclusive) if it
    /// has content, and resets the per-statement state. A `(` left open is an error: the
    /// statement ran on to the end of the script looking for it.
    fn finish_statement(&mut self, end: usize) -> Result<(), SplitError> {
        if self.paren_depth > 0 {
            return Err(SplitError::Unbalanced {
                line: line_of(self.src, self.first_open),
                unclosed: true,
            });
        }
        if self.has_content {
            let mut start = self.stmt_start;
            let mut stop = end;
            while start < stop && is_space(self.bytes[start]) {
                start += 1;
            }
            while stop > start && is_space(self.bytes[stop - 1]) {
                stop -= 1;
            }
            let line = self.lines.line_at(self.bytes, start);
            self.out.push(Statement {
                sql: &self.src[start..stop],
                offset: start,
                line,
            });
        }
        self.has_content = false;
        self.routine = Routine::Start;
        self.after_begin = false;
        self.begin_depth = 0;
        Ok(())
    }

    fn unterminated(&self, start: usize, what: &'static str) -> SplitError {
        SplitError::Unterminated {
            line: line_of(self.src, start),
            what,
        }
    }

    fn meta_command(&self) -> SplitError {
        let start = self.pos;
        let len = self.bytes[start + 1..]
            .iter()
            .position(|&b| is_space(b))
            .unwrap_or(self.bytes.len() - start - 1);
        SplitError::MetaCommand {
            line: line_of(self.src, start),
            command: self.src[start..start + 1 + len].to_owned(),
        }
    }

    /// `--` up to (not including) the end of the line.
    fn skip_line_comment(&mut self) {
        self.pos = self.bytes[self.pos..]
            .iter()
            .position(|&b| b == b'\n' || b == b'\r')
            .map_or(self.bytes.len(), |n| self.pos + n);
    }

    /// `/* ... */`, which nests.
    fn skip_block_comment(&mut self) -> Result<(), SplitError> {
        let start = self.pos;
        let mut depth = 1usize;
        let mut i = start + 2;
        while i < self.bytes.len() {
            match (self.bytes[i], self.bytes.get(i + 1)) {
                (b'/', Some(b'*')) => {
                    depth += 1;
                    i += 2;
                }
                (b'*', Some(b'/')) => {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        self.pos = i;
                        return Ok(());
                    }
                }
                _ => i += 1,
            }
        }
        Err(self.unterminated(start, WHAT_COMMENT))
    }

    /// A token delimited by `quote` in which a doubled quote stands for
    /// itself: `'...'` (standard_conforming_strings = on, so a backslash is
    /// an ordinary character), `"..."`, and the bodies of `B'...'`,
    /// `X'...'`, `N'...'`, `U&'...'` and `U&"..."`. `token_start` is where
    /// the token (including any prefix) began; `self.pos` is at the opening
    /// quote.
    fn skip_quoted(
        &mut self,
        token_start: usize,
        quote: u8,
        what: &'static str,
    ) -> Result<(), SplitError> {
        let mut i = self.pos + 1;
        loop {
            match self.bytes[i..].iter().position(|&b| b == quote) {
                None => return Err(self.unterminated(token_start, what)),
                Some(n) => {
                    i += n + 1;
                    if self.bytes.get(i) != Some(&quote) {
                        self.pos = i;
                        return Ok(());
                    }
                    i += 1;
                }
            }
        }
    }

    /// `E'...'`: a backslash escapes the next byte; `''` also stands for a
    /// quote. `self.pos` is at the opening quote.
    fn skip_escape_string(&mut self, token_start: usize) -> Result<(), SplitError> {
        let mut i = self.pos + 1;
        loop {
            match self.bytes[i..]
                .iter()
                .position(|&b| b == b'\'' || b == b'\\')
            {
                None => return Err(self.unterminated(token_start, WHAT_STRING)),
                Some(n) => {
                    i += n;
                    if self.bytes[i] == b'\\' {
                        // Escaped byte; continuation bytes of a multi-byte
                        // character are never `'` or `\`, so skipping a
                        // single byte is enough.
                        i += 2;
                        if i >= self.bytes.len() {
                            return Err(self.unterminated(token_start, WHAT_STRING));
                        }
                    } else if self.bytes.get(i + 1) == Some(&b'\'') {
                        i += 2;
                    } else {
                        self.pos = i + 1;
                        return Ok(());
                    }
                }
            }
        }
    }

    /// At a `$` that does not continue an identifier: either a dollar-quote
    /// opening delimiter (`$$` or `$tag$`) or just a `$` (as in `$1`).
    fn skip_dollar(&mut self) -> Result<(), SplitError> {
        let start = self.pos;
        let mut i = start + 1;
        if self.bytes.get(i).is_some_and(|&b| is_ident_start(b)) {
            i += 1;
            while self.bytes.get(i).is_some_and(|&b| is_dollar_tag_cont(b)) {
                i += 1;
            }
        }
        if self.bytes.get(i) != Some(&b'$') {
            // Not a delimiter: `$` is a token of its own (like scan.l's
            // `dolqfailed`), and whatever follows is scanned normally.
            self.pos = start + 1;
            return Ok(());
        }
        let delimiter = &self.src[start..=i];
        let body = i + 1;
        match self.src[body..].find(delimiter) {
            Some(n) => {
                self.pos = body + n + delimiter.len();
                Ok(())
            }
            None => Err(self.unterminated(start, WHAT_DOLLAR)),
        }
    }

    /// An identifier or keyword, or the prefix of a prefixed string literal
    /// (`E'`, `B'`, `X'`, `N'`, `U&'`) or quoted identifier (`U&"`).
    fn word(&mut self) -> Result<(), SplitError> {
        let start = self.pos;
        let mut end = start + 1;
        while self.bytes.get(end).is_some_and(|&b| is_ident_cont(b)) {
            end += 1;
        }
        if end == start + 1 {
            let next = self.bytes.get(end).copied();
            let after = self.bytes.get(end + 1).copied();
            match (self.bytes[start].to_ascii_lowercase(), next, after) {
                (b'e', Some(b'\''), _) => {
                    self.after_begin = false;
                    self.pos = end;
                    return self.skip_escape_string(start);
                }
                (b'b' | b'x' | b'n', Some(b'\''), _) => {
                    self.after_begin = false;
                    self.pos = end;
                    return self.skip_quoted(start, b'\'', WHAT_STRING);
                }
                (b'u', Some(b'&'), Some(b'\'')) => {
                    self.after_begin = false;
                    self.pos = end + 1;
                    return self.skip_quoted(start, b'\'', WHAT_STRING);
                }
                (b'u', Some(b'&'), Some(b'"')) => {
                    self.after_begin = false;
                    self.pos = end + 1;
                    return self.skip_quoted(start, b'"', WHAT_IDENT);
                }
                _ => {}
            }
        }
        self.pos = end;
        self.keyword(&self.bytes[start..end]);
        Ok(())
    }

    /// Tracks `CREATE [OR REPLACE] {FUNCTION | PROCEDURE}` and, in such a
    /// statement, `BEGIN ATOMIC ... END` bodies (with `CASE ... END` nested
    /// inside), like psql does, so that the semicolons of the body do not
    /// end the statement.
    fn keyword(&mut self, word: &[u8]) {
        let is = |kw: &str| word.eq_ignore_ascii_case(kw.as_bytes());
        self.routine = match self.routine {
            Routine::Start if is("create") => Routine::Create,
            Routine::Create if is("or") => Routine::CreateOr,
            Routine::CreateOr if is("replace") => Routine::CreateOrReplace,
            Routine::Create | Routine::CreateOrReplace if is("function") || is("procedure") => {
                Routine::Yes
            }
            Routine::Yes => Routine::Yes,
            _ => Routine::No,
        };
        if self.routine != Routine::Yes || self.paren_depth > 0 {
            self.after_begin = false;
            return;
        }
        if self.after_begin && is("atomic") {
            self.begin_depth += 1;
        } else if self.begin_depth > 0 {
            if is("case") {
                self.begin_depth += 1;
            } else if is("end") {
                self.begin_depth -= 1;
            }
        }
        self.after_begin = is("begin");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sqls(script: &str) -> Vec<&str> {
        split(script)
            .unwrap_or_else(|e| panic!("split failed: {e}"))
            .into_iter()
            .map(|s| s.sql)
            .collect()
    }

    fn unterminated(line: usize, what: &'static str) -> SplitError {
        SplitError::Unterminated { line, what }
    }

    fn meta(line: usize, command: &str) -> SplitError {
        SplitError::MetaCommand {
            line,
            command: command.to_owned(),
        }
    }

    // ----- basics -----

    #[test]
    fn empty_and_blank_scripts_have_no_statements() {
        assert_eq!(split("").unwrap(), vec![]);
        assert_eq!(split("  \n\t\r\n").unwrap(), vec![]);
        assert_eq!(split(";;\n ; ;").unwrap(), vec![]);
    }

    #[test]
    fn splits_on_semicolons_and_trims() {
        assert_eq!(
            sqls("SELECT 1;\n  SELECT 2 ;\n\nSELECT 3;"),
            vec!["SELECT 1", "SELECT 2", "SELECT 3"]
        );
    }

    #[test]
    fn final_statement_without_semicolon_is_returned() {
        assert_eq!(sqls("SELECT 1; SELECT 2"), vec!["SELECT 1", "SELECT 2"]);
        assert_eq!(sqls("SELECT 1\n\n"), vec!["SELECT 1"]);
    }

    #[test]
    fn empty_statements_are_dropped() {
        assert_eq!(
            sqls(";;SELECT 1;;;SELECT 2;;"),
            vec!["SELECT 1", "SELECT 2"]
        );
    }

    #[test]
    fn offsets_and_lines() {
        let script = "SELECT 1;\n\n  SELECT\n  2;\r\nSELECT 3";
        let got = split(script).unwrap();
        assert_eq!(
            got,
            vec![
                Statement {
                    sql: "SELECT 1",
                    offset: 0,
                    line: 1
                },
                Statement {
                    sql: "SELECT\n  2",
                    offset: 13,
                    line: 3
                },
                Statement {
                    sql: "SELECT 3",
                    offset: 26,
                    line: 5
                },
            ]
        );
        for s in &got {
            assert_eq!(&script[s.offset..s.offset + s.sql.len()], s.sql);
            assert_eq!(line_of(script, s.offset), s.line);
        }
    }

    #[test]
    fn offsets_after_multibyte_text() {
        let script = "SELECT 'é';\nSELECT 'ü' AS \"ñ\";";
        let got = split(script).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].sql, "SELECT 'é'");
        assert_eq!(got[1].sql, "SELECT 'ü' AS \"ñ\"");
        assert_eq!(got[1].offset, "SELECT 'é';\n".len());
        assert_eq!(got[1].line, 2);
    }

    #[test]
    fn non_ascii_identifiers_are_words() {
        assert_eq!(
            sqls("CREATE TABLE größe (ñ int);SELECT 1"),
            vec!["CREATE TABLE größe (ñ int)", "SELECT 1"]
        );
    }

    #[test]
    fn leading_bom_is_skipped() {
        let script = "\u{FEFF}SELECT 1;\nSELECT 2;";
        let got = split(script).unwrap();
        assert_eq!(got[0].sql, "SELECT 1");
        assert_eq!(got[0].offset, 3);
        assert_eq!(got[0].line, 1);
        assert_eq!(got[1].sql, "SELECT 2");
        assert_eq!(got[1].line, 2);
    }

    #[test]
    fn vertical_tab_and_form_feed_are_whitespace() {
        assert_eq!(sqls("\x0b\x0cSELECT 1\x0c;\x0b"), vec!["SELECT 1"]);
    }

    // ----- string literals -----

    #[test]
    fn semicolon_in_plain_string() {
        assert_eq!(
            sqls("SELECT 'a;b'; SELECT 2"),
            vec!["SELECT 'a;b'", "SELECT 2"]
        );
    }

    #[test]
    fn doubled_quotes_in_plain_string() {
        assert_eq!(
            sqls("SELECT 'it''s; fine'; SELECT ''';'''"),
            vec!["SELECT 'it''s; fine'", "SELECT ''';'''"]
        );
    }

    #[test]
    fn backslash_is_not_an_escape_in_plain_string() {
        // standard_conforming_strings = on: 'a\' is a complete literal.
        assert_eq!(
            sqls("SELECT 'a\\'; SELECT 'b'"),
            vec!["SELECT 'a\\'", "SELECT 'b'"]
        );
    }

    #[test]
    fn escape_string_backslash_quote() {
        assert_eq!(
            sqls("SELECT E'a\\';b'; SELECT 2"),
            vec!["SELECT E'a\\';b'", "SELECT 2"]
        );
        assert_eq!(
            sqls("SELECT e'x\\'y;'; SELECT 2"),
            vec!["SELECT e'x\\'y;'", "SELECT 2"]
        );
    }

    #[test]
    fn escape_string_double_backslash_ends_before_quote() {
        assert_eq!(
            sqls("SELECT E'a\\\\'; SELECT 2"),
            vec!["SELECT E'a\\\\'", "SELECT 2"]
        );
    }

    #[test]
    fn escape_string_doubled_quote_and_multibyte_escape() {
        assert_eq!(
            sqls("SELECT E'it''s;'; SELECT E'\\é;'; SELECT 3"),
            vec!["SELECT E'it''s;'", "SELECT E'\\é;'", "SELECT 3"]
        );
    }

    #[test]
    fn identifier_ending_in_e_is_not_escape_prefix() {
        // `somee` is an identifier; the following '...' is a plain string in
        // which a backslash is ordinary.
        assert_eq!(
            sqls("SELECT somee'a\\'; SELECT 2"),
            vec!["SELECT somee'a\\'", "SELECT 2"]
        );
    }

    #[test]
    fn prefixed_strings_use_plain_quote_rules() {
        assert_eq!(
            sqls("SELECT B'10;1', X'1F;', N'n;''x', U&'d\\0061t;a' UESCAPE '!'; SELECT 2"),
            vec![
                "SELECT B'10;1', X'1F;', N'n;''x', U&'d\\0061t;a' UESCAPE '!'",
                "SELECT 2"
            ]
        );
        // Backslash is ordinary in U&'...': the literal ends at the quote.
        assert_eq!(
            sqls("SELECT u&'\\'; SELECT b'0'"),
            vec!["SELECT u&'\\'", "SELECT b'0'"]
        );
    }

    #[test]
    fn unicode_quoted_identifier() {
        assert_eq!(
            sqls("SELECT 1 AS U&\"a;\"\"b\"; SELECT 2"),
            vec!["SELECT 1 AS U&\"a;\"\"b\"", "SELECT 2"]
        );
    }

    #[test]
    fn string_spanning_lines() {
        let got = split("SELECT 'a\n;\nb';\nSELECT 2;").unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].sql, "SELECT 'a\n;\nb'");
        assert_eq!(got[1].line, 4);
    }

    // ----- quoted identifiers -----

    #[test]
    fn quoted_identifiers() {
        assert_eq!(
            sqls("CREATE TABLE \"a;b\" (\"x\"\";\" int); SELECT 1"),
            vec!["CREATE TABLE \"a;b\" (\"x\"\";\" int)", "SELECT 1"]
        );
    }

    #[test]
    fn quote_chars_inside_other_quotes() {
        assert_eq!(
            sqls("SELECT '\";', \"';\"; SELECT 2"),
            vec!["SELECT '\";', \"';\"", "SELECT 2"]
        );
    }

    // ----- dollar quoting -----

    #[test]
    fn empty_tag_dollar_quote() {
        let script = "CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$\nBEGIN\n  PERFORM 1;\n  RETURN 1;\nEND;\n$$;\nSELECT f();";
        let got = split(script).unwrap();
        assert_eq!(got.len(), 2);
        assert!(got[0].sql.ends_with("END;\n$$"));
        assert_eq!(got[1].sql, "SELECT f()");
        assert_eq!(got[1].line, 7);
    }

    #[test]
    fn tagged_dollar_quote_with_inner_dollars() {
        assert_eq!(
            sqls("SELECT $fn$ a; $$ b; $x$ c; $fn$; SELECT 2"),
            vec!["SELECT $fn$ a; $$ b; $x$ c; $fn$", "SELECT 2"]
        );
    }

    #[test]
    fn dollar_tags_are_case_sensitive() {
        assert_eq!(
            sqls("SELECT $a$ x; $A$ y; $a$; SELECT 2"),
            vec!["SELECT $a$ x; $A$ y; $a$", "SELECT 2"]
        );
    }

    #[test]
    fn dollar_tag_may_contain_digits_and_non_ascii() {
        assert_eq!(
            sqls("SELECT $t_1$;$t_1$; SELECT $é$;$é$; SELECT 3"),
            vec!["SELECT $t_1$;$t_1$", "SELECT $é$;$é$", "SELECT 3"]
        );
    }

    #[test]
    fn closing_delimiter_must_match_exactly() {
        // `$xa$` and `$ab$` do not close `$a$`.
        assert_eq!(
            sqls("SELECT $a$ $xa$; $ab$; $a$; SELECT 2"),
            vec!["SELECT $a$ $xa$; $ab$; $a$", "SELECT 2"]
        );
    }

    #[test]
    fn positional_parameters_are_not_dollar_quotes() {
        assert_eq!(
            sqls("PREPARE p AS SELECT $1, $2; SELECT 3"),
            vec!["PREPARE p AS SELECT $1, $2", "SELECT 3"]
        );
        assert_eq!(sqls("SELECT $1;SELECT $2"), vec!["SELECT $1", "SELECT $2"]);
    }

    #[test]
    fn dollar_inside_identifier_is_not_a_quote() {
        assert_eq!(
            sqls("SELECT a$b; SELECT c$d$; SELECT x$$y; SELECT 4"),
            vec!["SELECT a$b", "SELECT c$d$", "SELECT x$$y", "SELECT 4"]
        );
    }

    #[test]
    fn dollar_without_closing_dollar_is_a_plain_token() {
        assert_eq!(
            sqls("SELECT $abc; SELECT 2"),
            vec!["SELECT $abc", "SELECT 2"]
        );
    }

    #[test]
    fn dollar_after_number_starts_a_quote() {
        // As in scan.l, a number does not continue into `$`.
        assert_eq!(
            sqls("SELECT 1$$;$$; SELECT 2"),
            vec!["SELECT 1$$;$$", "SELECT 2"]
        );
    }

    #[test]
    fn quotes_inside_dollar_body_are_ignored() {
        assert_eq!(
            sqls("SELECT $$ it's \"; /* -- $$; SELECT 2"),
            vec!["SELECT $$ it's \"; /* -- $$", "SELECT 2"]
        );
    }

    // ----- comments -----

    #[test]
    fn line_comments() {
        assert_eq!(
            sqls("SELECT 1 -- not; a split\n, 2; -- trailing; comment\nSELECT 3 -- end"),
            vec![
                "SELECT 1 -- not; a split\n, 2",
                "-- trailing; comment\nSELECT 3 -- end"
            ]
        );
    }

    #[test]
    fn line_comment_ends_at_carriage_return() {
        assert_eq!(
            sqls("SELECT 1 --c\r; SELECT 2"),
            vec!["SELECT 1 --c", "SELECT 2"]
        );
    }

    #[test]
    fn leading_comments_are_kept_in_the_statement() {
        let script = "SELECT 1;\n-- about two\nSELECT 2;";
        let got = split(script).unwrap();
        assert_eq!(got[1].sql, "-- about two\nSELECT 2");
        assert_eq!(got[1].offset, 10);
        assert_eq!(got[1].line, 2);
    }

    #[test]
    fn comment_only_statements_are_dropped() {
        assert_eq!(
            sqls("-- header\n/* block; */\n;\nSELECT 1;\n-- footer; here\n/* x */"),
            vec!["SELECT 1"]
        );
    }

    #[test]
    fn block_comments_nest() {
        assert_eq!(
            sqls("SELECT /* a; /* b; */ c; */ 1; SELECT 2"),
            vec!["SELECT /* a; /* b; */ c; */ 1", "SELECT 2"]
        );
    }

    #[test]
    fn block_comment_edge_delimiters() {
        assert_eq!(
            sqls("SELECT /**/ 1; SELECT 2"),
            vec!["SELECT /**/ 1", "SELECT 2"]
        );
        assert_eq!(
            sqls("SELECT /*/ ; */ 1; SELECT 2"),
            vec!["SELECT /*/ ; */ 1", "SELECT 2"]
        );
        assert_eq!(
            sqls("SELECT /* ** ; **/ 1; SELECT 2"),
            vec!["SELECT /* ** ; **/ 1", "SELECT 2"]
        );
    }

    #[test]
    fn comment_markers_inside_strings_are_text() {
        assert_eq!(
            sqls("SELECT '--', '/*', \"--;\"; SELECT 2"),
            vec!["SELECT '--', '/*', \"--;\"", "SELECT 2"]
        );
    }

    #[test]
    fn quotes_inside_comments_are_ignored() {
        assert_eq!(
            sqls("SELECT 1 /* it's \"$$ */; -- don't $$\nSELECT 2"),
            vec!["SELECT 1 /* it's \"$$ */", "-- don't $$\nSELECT 2"]
        );
    }

    #[test]
    fn comment_start_inside_operator() {
        assert_eq!(
            sqls("SELECT 1 +-- c;\n 2; SELECT 3"),
            vec!["SELECT 1 +-- c;\n 2", "SELECT 3"]
        );
    }

    // ----- parentheses -----

    #[test]
    fn semicolons_inside_parentheses_do_not_split() {
        let script = "CREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO a VALUES (1); INSERT INTO b VALUES (2));\nSELECT 1;";
        assert_eq!(
            sqls(script),
            vec![
                "CREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO a VALUES (1); INSERT INTO b VALUES (2))",
                "SELECT 1"
            ]
        );
    }

    #[test]
    fn a_stray_close_paren_is_an_error_at_its_line() {
        assert_eq!(
            split("SELECT (2);\nSELECT 1); SELECT 3"),
            Err(SplitError::Unbalanced {
                line: 2,
                unclosed: false
            })
        );
    }

    #[test]
    fn an_unclosed_paren_is_an_error_at_its_line() {
        let err = split("SELECT 1;\nCREATE TABLE t (id int;\nSELECT 2;").unwrap_err();
        assert!(
            matches!(err, SplitError::Unbalanced { line: 2, .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("never closed"), "{err}");
    }

    #[test]
    fn parens_in_strings_identifiers_dollar_quotes_and_comments_are_not_counted() {
        let script = "SELECT '(' , \"a)\", E'\\')', $$ ( $$ /* ) */ -- (\n;\nSELECT $t$)$t$;";
        assert_eq!(split(script).unwrap().len(), 2);
    }

    // ----- BEGIN ATOMIC -----

    #[test]
    fn begin_atomic_body_is_one_statement() {
        let script = "CREATE FUNCTION add(a int, b int) RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n  SELECT a + b;\n  SELECT 1;\nEND;\nSELECT add(1, 2);";
        let got = split(script).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(
            got[0].sql,
            "CREATE FUNCTION add(a int, b int) RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n  SELECT a + b;\n  SELECT 1;\nEND"
        );
        assert_eq!(got[1].sql, "SELECT add(1, 2)");
        assert_eq!(got[1].line, 6);
    }

    #[test]
    fn begin_atomic_case_insensitive_with_or_replace_procedure() {
        let script = "create or replace procedure p()\nbegin atomic\n  insert into t values (1);\n  insert into t values (2);\nend;\ncall p();";
        assert_eq!(
            sqls(script),
            vec![
                "create or replace procedure p()\nbegin atomic\n  insert into t values (1);\n  insert into t values (2);\nend",
                "call p()"
            ]
        );
        let script =
            "Create Or Replace Function f() returns int Begin Atomic select 1; End; select 2";
        assert_eq!(
            sqls(script),
            vec![
                "Create Or Replace Function f() returns int Begin Atomic select 1; End",
                "select 2"
            ]
        );
    }

    #[test]
    fn begin_atomic_with_nested_case() {
        let script = "CREATE FUNCTION f(x int) RETURNS text BEGIN ATOMIC\n  SELECT CASE WHEN x > 0 THEN 'pos;' ELSE CASE WHEN x = 0 THEN 'zero' END END;\n  SELECT 'end';\nEND;\nSELECT 2;";
        let got = split(script).unwrap();
        assert_eq!(got.len(), 2);
        assert!(got[0].sql.ends_with("SELECT 'end';\nEND"));
        assert_eq!(got[1].sql, "SELECT 2");
    }

    #[test]
    fn begin_atomic_comments_between_begin_and_atomic() {
        let script =
            "CREATE FUNCTION f() RETURNS int BEGIN /* c; */ -- d\n ATOMIC SELECT 1; END; SELECT 2";
        assert_eq!(
            sqls(script),
            vec![
                "CREATE FUNCTION f() RETURNS int BEGIN /* c; */ -- d\n ATOMIC SELECT 1; END",
                "SELECT 2"
            ]
        );
    }

    #[test]
    fn begin_atomic_keywords_in_strings_comments_identifiers_do_not_count() {
        // `end` inside a string, a comment, a quoted identifier, and as part
        // of identifiers must not close the body.
        let script = "CREATE FUNCTION f() RETURNS int BEGIN ATOMIC\n  SELECT 'end' AS \"end\", backend, end_ts, endx FROM t; -- end\n  /* END */ SELECT 1;\nEND;\nSELECT 2;";
        let got = split(script).unwrap();
        assert_eq!(got.len(), 2);
        assert!(got[0].sql.ends_with("/* END */ SELECT 1;\nEND"));
        assert_eq!(got[1].sql, "SELECT 2");
    }

    #[test]
    fn atomic_inside_identifiers_does_not_open_a_body() {
        let script =
            "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT begin_atomic'; SELECT 2";
        assert_eq!(
            sqls(script),
            vec![
                "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT begin_atomic'",
                "SELECT 2"
            ]
        );
    }

    #[test]
    fn begin_atomic_outside_routine_is_not_special() {
        // Not a CREATE FUNCTION/PROCEDURE: the `;` splits as usual.
        assert_eq!(
            sqls("SELECT begin atomic; SELECT 2; END;"),
            vec!["SELECT begin atomic", "SELECT 2", "END"]
        );
        assert_eq!(
            sqls("CREATE TABLE t (x int) begin atomic; SELECT 1"),
            vec!["CREATE TABLE t (x int) begin atomic", "SELECT 1"]
        );
    }

    #[test]
    fn begin_without_atomic_in_routine_is_not_a_body() {
        let script = "CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN 1; END $$; SELECT 2";
        assert_eq!(
            sqls(script),
            vec![
                "CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN 1; END $$",
                "SELECT 2"
            ]
        );
    }

    #[test]
    fn begin_atomic_state_resets_between_statements() {
        let script = "CREATE FUNCTION f() RETURNS int BEGIN ATOMIC SELECT 1; END;\nBEGIN;\nSELECT 1;\nCOMMIT;";
        assert_eq!(
            sqls(script),
            vec![
                "CREATE FUNCTION f() RETURNS int BEGIN ATOMIC SELECT 1; END",
                "BEGIN",
                "SELECT 1",
                "COMMIT"
            ]
        );
    }

    #[test]
    fn plain_begin_transaction_is_a_statement() {
        assert_eq!(
            sqls(
                "BEGIN;\nCREATE TABLE t (x int);\nCOMMIT;\nbegin transaction isolation level serializable; end;"
            ),
            vec![
                "BEGIN",
                "CREATE TABLE t (x int)",
                "COMMIT",
                "begin transaction isolation level serializable",
                "end"
            ]
        );
    }

    #[test]
    fn unfinished_begin_atomic_runs_to_end_of_input() {
        assert_eq!(
            sqls("CREATE FUNCTION f() RETURNS int BEGIN ATOMIC SELECT 1; SELECT 2;"),
            vec!["CREATE FUNCTION f() RETURNS int BEGIN ATOMIC SELECT 1; SELECT 2;"]
        );
    }

    // ----- psql meta-commands -----

    #[test]
    fn meta_command_at_line_start() {
        assert_eq!(
            split("SELECT 1;\n\\copy t FROM 'x.csv' CSV\n"),
            Err(meta(2, "\\copy"))
        );
        assert_eq!(split("\\i other.sql"), Err(meta(1, "\\i")));
        assert_eq!(split("SELECT 1;\n  \t\\set x 1\n"), Err(meta(2, "\\set")));
        assert_eq!(split("\n\n\\connect db"), Err(meta(3, "\\connect")));
        assert_eq!(split("SELECT 1;\r\n\\gexec"), Err(meta(2, "\\gexec")));
    }

    #[test]
    fn meta_command_inside_a_statement_line_start() {
        assert_eq!(split("SELECT 1\n\\gset\n"), Err(meta(2, "\\gset")));
    }

    #[test]
    fn meta_command_error_message() {
        let err = split("\\copy t from 'f'").unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 1: psql meta-command `\\copy` is not SQL; migrate runs plain SQL only (use COPY ... FROM STDIN in a seed CSV, or inline the file)"
        );
    }

    #[test]
    fn backslash_lines_inside_tokens_are_not_meta_commands() {
        let script = "SELECT 'a\n\\copy';\nSELECT E'\n\\i x';\nSELECT $$\n\\set$$;\n/*\n\\connect */\n-- \\copy\nSELECT \"\n\\x\";";
        assert_eq!(
            sqls(script),
            vec![
                "SELECT 'a\n\\copy'",
                "SELECT E'\n\\i x'",
                "SELECT $$\n\\set$$",
                "/*\n\\connect */\n-- \\copy\nSELECT \"\n\\x\""
            ]
        );
    }

    #[test]
    fn backslash_not_at_line_start_is_left_to_the_server() {
        assert_eq!(
            sqls("SELECT 1 \\x; SELECT 2"),
            vec!["SELECT 1 \\x", "SELECT 2"]
        );
        assert_eq!(sqls("/* c */ \\x"), vec!["/* c */ \\x"]);
    }

    // ----- unterminated tokens -----

    #[test]
    fn unterminated_string() {
        assert_eq!(
            split("SELECT 1;\nSELECT 'abc;\n\n"),
            Err(unterminated(2, "string literal"))
        );
        assert_eq!(
            split("SELECT 'it''s"),
            Err(unterminated(1, "string literal"))
        );
        assert_eq!(split("SELECT '"), Err(unterminated(1, "string literal")));
    }

    #[test]
    fn unterminated_escape_string() {
        assert_eq!(
            split("SELECT 1;\n\nSELECT E'abc\\'"),
            Err(unterminated(3, "string literal"))
        );
        assert_eq!(split("SELECT E'\\"), Err(unterminated(1, "string literal")));
        assert_eq!(split("SELECT E'"), Err(unterminated(1, "string literal")));
    }

    #[test]
    fn unterminated_prefixed_strings() {
        assert_eq!(split("SELECT B'01"), Err(unterminated(1, "string literal")));
        assert_eq!(split("SELECT X'0"), Err(unterminated(1, "string literal")));
        assert_eq!(split("SELECT U&'a"), Err(unterminated(1, "string literal")));
        assert_eq!(
            split("SELECT U&\"a"),
            Err(unterminated(1, "quoted identifier"))
        );
    }

    #[test]
    fn unterminated_quoted_identifier() {
        assert_eq!(
            split("SELECT 1;\nSELECT \"a\"\"b;"),
            Err(unterminated(2, "quoted identifier"))
        );
    }

    #[test]
    fn unterminated_dollar_quote() {
        assert_eq!(
            split("SELECT 1;\nCREATE FUNCTION f() AS $body$\nSELECT 1;\n$$;"),
            Err(unterminated(2, "dollar-quoted string"))
        );
        assert_eq!(
            split("SELECT $$"),
            Err(unterminated(1, "dollar-quoted string"))
        );
    }

    #[test]
    fn unterminated_block_comment() {
        assert_eq!(
            split("SELECT 1;\n/* outer\n/* inner */\nSELECT 2;"),
            Err(unterminated(2, "block comment"))
        );
        assert_eq!(split("/*"), Err(unterminated(1, "block comment")));
        assert_eq!(split("SELECT 1 /*/"), Err(unterminated(1, "block comment")));
    }

    #[test]
    fn unterminated_error_message() {
        assert_eq!(
            split("\nSELECT 'x").unwrap_err().to_string(),
            "line 2: unterminated string literal starting here"
        );
    }

    #[test]
    fn unterminated_line_comment_at_eof_is_fine() {
        assert_eq!(sqls("SELECT 1; --"), vec!["SELECT 1"]);
        assert_eq!(sqls("SELECT 1 --"), vec!["SELECT 1 --"]);
    }

    // ----- line_of -----

    #[test]
    fn line_of_counts_newlines() {
        let text = "a\nbc\r\n\nd";
        assert_eq!(line_of(text, 0), 1);
        assert_eq!(line_of(text, 1), 1);
        assert_eq!(line_of(text, 2), 2);
        assert_eq!(line_of(text, 5), 2);
        assert_eq!(line_of(text, 6), 3);
        assert_eq!(line_of(text, 7), 4);
        assert_eq!(line_of(text, 8), 4);
        assert_eq!(line_of(text, 1000), 4);
        assert_eq!(line_of("", 5), 1);
    }

    // ----- char_position_to_byte -----

    #[test]
    fn char_position_ascii() {
        let sql = "SELECT x";
        assert_eq!(char_position_to_byte(sql, 1), 0);
        assert_eq!(char_position_to_byte(sql, 8), 7);
        assert_eq!(char_position_to_byte(sql, 9), 8);
        assert_eq!(char_position_to_byte(sql, 100), 8);
        assert_eq!(char_position_to_byte(sql, 0), 0);
    }

    #[test]
    fn char_position_multibyte() {
        // 'é' is 2 bytes, '€' is 3, '😀' is 4.
        let sql = "SELECT 'é', '€😀', bad";
        let bad = sql.find("bad").unwrap();
        let position = sql[..bad].chars().count() + 1;
        assert_eq!(position, 19);
        assert_eq!(char_position_to_byte(sql, position), bad);
        assert_eq!(&sql[char_position_to_byte(sql, position)..], "bad");
        // Position of the 'é' itself and of the character after it.
        assert_eq!(char_position_to_byte(sql, 9), 8);
        assert_eq!(char_position_to_byte(sql, 10), 10);
        // Clamped past the end.
        assert_eq!(char_position_to_byte(sql, 1000), sql.len());
    }

    #[test]
    fn server_position_maps_back_to_file_line() {
        let script = "SELECT 1;\n-- é comment\nSELECT 'é',\n  nosuchcol;\n";
        let stmts = split(script).unwrap();
        let stmt = &stmts[1];
        // The server reports a character position within the statement text.
        let position = stmt.sql[..stmt.sql.find("nosuchcol").unwrap()]
            .chars()
            .count()
            + 1;
        let byte = char_position_to_byte(stmt.sql, position);
        assert!(stmt.sql[byte..].starts_with("nosuchcol"));
        assert_eq!(line_of(script, stmt.offset + byte), 4);
    }

    // ----- scale -----

    #[test]
    fn large_script() {
        let mut script = String::new();
        for i in 0..5000 {
            script.push_str(&format!(
                "-- statement {i}\nINSERT INTO t VALUES ({i}, 'a;b''c', E'\\';', $q$;$q$, \"x;y\"); /* ; */\n"
            ));
        }
        assert!(script.len() > 400_000);
        let got = split(&script).unwrap();
        assert_eq!(got.len(), 5000);
        assert_eq!(got[4999].line, 2 * 4999);
        assert!(
            got[4999]
                .sql
                .starts_with("/* ; */\n-- statement 4999\nINSERT")
        );
        assert_eq!(line_of(&script, got[4999].offset), got[4999].line);
    }
}
