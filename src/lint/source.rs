//! A file as the linter sees it: the statements of its up part (with their positions), its
//! directives, and the rules its `-- lint:ignore` comments disable.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;

use super::sql::Tokens;
use crate::postgres::migration::Migration;
use crate::postgres::splitter;

/// The comment that disables rules for a whole file: `-- lint:ignore rule-a, rule-b`.
pub const IGNORE_PREFIX: &str = "-- lint:ignore";

const DOWN_MARKER: &str = "-- migrate:down";
const DIRECTIVE_PREFIX: &str = "-- migrate:";

/// One statement of a file's up part.
#[derive(Debug, Clone)]
pub struct Statement {
    pub tokens: Tokens,
    /// Byte offset of the statement in the file text.
    pub offset: usize,
    /// The statement text (comments included, as written).
    pub sql: String,
}

/// A migration file prepared for linting.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: String,
    /// The file's text (BOM removed, CRLF as LF): offsets and lines refer to it.
    pub text: String,
    pub statements: Vec<Statement>,
    /// False for `-- migrate:no-transaction` files.
    pub transactional: bool,
    /// `-- migrate:lock-timeout`: absent, zero (no limit), or a duration.
    pub lock_timeout: Option<Option<Duration>>,
    /// Rules disabled by `-- lint:ignore` comments.
    pub ignored: BTreeSet<String>,
    /// `-- lint:ignore` names that are no rule, with their lines.
    pub unknown_ignores: Vec<(usize, String)>,
}

impl SourceFile {
    /// A migration loaded by `migration::load_dir` (directives already parsed).
    pub fn from_migration(migration: &Migration) -> anyhow::Result<SourceFile> {
        let mut text = migration.up.clone();
        if let Some(down) = &migration.down {
            text.push_str(DOWN_MARKER);
            text.push('\n');
            text.push_str(down);
        }
        let mut file = SourceFile::parse(&migration.path.display().to_string(), text)?;
        file.transactional = !migration.no_transaction;
        file.lock_timeout = migration.lock_timeout;
        Ok(file)
    }

    /// Any SQL file, given on the command line.
    pub fn read(path: &Path) -> anyhow::Result<SourceFile> {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let text = String::from_utf8(bytes)
            .map_err(|_| anyhow::anyhow!("{} is not valid UTF-8", path.display()))?;
        let text = text
            .strip_prefix('\u{feff}')
            .unwrap_or(&text)
            .replace("\r\n", "\n");
        SourceFile::parse(&path.display().to_string(), text)
    }

    fn parse(path: &str, text: String) -> anyhow::Result<SourceFile> {
        let up_end = up_part_end(&text);
        let (transactional, lock_timeout) = directives(&text[..up_end]);
        let statements = splitter::split(&text[..up_end])
            .map_err(|err| anyhow::anyhow!("{path}: {err}"))?
            .into_iter()
            .map(|statement| Statement {
                tokens: Tokens::new(statement.sql),
                offset: statement.offset,
                sql: statement.sql.to_string(),
            })
            .collect();
        let (ignored, unknown_ignores) = ignore_comments(&text);
        Ok(SourceFile {
            path: path.to_string(),
            statements,
            transactional,
            lock_timeout,
            ignored,
            unknown_ignores,
            text,
        })
    }

    /// The 1-based line of token `token` of statement `statement` (the statement's first token
    /// when `token` is out of range).
    pub fn line(&self, statement: usize, token: usize) -> usize {
        self.position(statement, token).0
    }

    /// The 1-based line and column (in characters) of token `token` of statement `statement`
    /// (the statement's first token when `token` is out of range).
    pub fn position(&self, statement: usize, token: usize) -> (usize, usize) {
        let Some(stmt) = self.statements.get(statement) else {
            return (1, 1);
        };
        let offset = stmt
            .tokens
            .get(token)
            .or_else(|| stmt.tokens.get(0))
            .map_or(0, |t| t.offset);
        let at = (stmt.offset + offset).min(self.text.len());
        let line_start = self.text[..at].rfind('\n').map_or(0, |n| n + 1);
        let column = self.text[line_start..at].chars().count() + 1;
        (splitter::line_of(&self.text, at), column)
    }

    /// Line `line` of the file, trimmed and shortened for reports.
    pub fn code_line(&self, line: usize) -> String {
        let text = self
            .text
            .lines()
            .nth(line.saturating_sub(1))
            .unwrap_or("")
            .trim();
        if text.chars().count() > 100 {
            format!("{}…", text.chars().take(100).collect::<String>())
        } else {
            text.to_string()
        }
    }
}

fn up_part_end(text: &str) -> usize {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if line.trim() == DOWN_MARKER {
            return offset;
        }
        offset += line.len();
    }
    text.len()
}

/// `no-transaction` and `lock-timeout` from the leading comment block. Invalid directives are
/// `validate`'s business; here they are simply not understood.
fn directives(up: &str) -> (bool, Option<Option<Duration>>) {
    let mut transactional = true;
    let mut lock_timeout = None;
    for line in up.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() {
            continue;
        }
        if !trimmed.starts_with("--") {
            break;
        }
        let Some(directive) = trimmed.strip_prefix(DIRECTIVE_PREFIX) else {
            continue;
        };
        let (word, argument) = directive
            .split_once(char::is_whitespace)
            .unwrap_or((directive, ""));
        match word {
            "no-transaction" => transactional = false,
            "lock-timeout" => {
                if let Ok(value) = crate::core::duration::parse_duration(argument.trim()) {
                    lock_timeout = Some(Some(value).filter(|d| !d.is_zero()));
                }
            }
            _ => {}
        }
    }
    (transactional, lock_timeout)
}

/// Rule names from every `-- lint:ignore` comment, and the names no rule has.
fn ignore_comments(text: &str) -> (BTreeSet<String>, Vec<(usize, String)>) {
    let mut ignored = BTreeSet::new();
    let mut unknown = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let Some(rest) = line.trim().strip_prefix(IGNORE_PREFIX) else {
            continue;
        };
        // Anything after a second `--` is an explanation.
        let names = rest.split("--").next().unwrap_or("");
        for name in names
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|n| !n.is_empty())
        {
            if let Some(rule) = super::rules::by_name(name) {
                ignored.insert(rule.name.to_string());
            } else {
                unknown.push((index + 1, name.to_string()));
            }
        }
    }
    (ignored, unknown)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_directives_statements_and_ignores() {
        let text = "-- migrate:no-transaction\n-- migrate:lock-timeout 3s\n-- lint:ignore dropping-column, nonsense, ban-drop-table -- we know\nALTER TABLE t\n  DROP COLUMN c;\n-- migrate:down\nALTER TABLE t ADD COLUMN c int;\n";
        let file = SourceFile::parse("V2__x.sql", text.to_string()).unwrap();
        assert!(!file.transactional);
        assert_eq!(file.lock_timeout, Some(Some(Duration::from_secs(3))));
        assert_eq!(file.statements.len(), 1, "only the up part is linted");
        assert_eq!(
            file.line(0, 0),
            4,
            "leading comments are not the statement's line"
        );
        assert_eq!(file.line(0, 3), 5);
        assert_eq!(
            file.position(0, 3),
            (5, 3),
            "DROP is indented by two spaces"
        );
        assert_eq!(file.code_line(5), "DROP COLUMN c;");
        assert!(file.ignored.contains("dropping-column"));
        assert!(
            file.ignored.contains("dropping-table"),
            "a Squawk name ignores the rule"
        );
        assert_eq!(file.unknown_ignores, vec![(3, "nonsense".to_string())]);
    }
}
