//! Just enough SQL for the lint rules: recognisers for the statements the rules look at
//! (`ALTER TABLE` actions, `CREATE INDEX`, qualified names), over the shared tokenizer.

use std::ops::Range;

pub use crate::postgres::tokens::{Token, TokenKind, Tokens, tokenize};

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
