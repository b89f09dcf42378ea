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
    /// `ALTER [COLUMN] c DROP NOT NULL`.
    DropNotNull {
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
    /// An inline `REFERENCES other (col)`: a foreign key.
    pub references: bool,
    /// An inline `PRIMARY KEY` or `UNIQUE` (`primary` / `unique`): an index is built.
    pub inline_index: Option<&'static str>,
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
            } else if tokens.words_at(next, &["drop", "not", "null"]) {
                Action::DropNotNull { column }
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
    let references = tokens.has_top_level_word(rest.clone(), "references");
    let inline_index = if tokens.has_top_level_word(rest.clone(), "primary") {
        Some("primary")
    } else if tokens.has_top_level_word(rest.clone(), "unique") {
        Some("unique")
    } else {
        None
    };
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
        references,
        inline_index,
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
    created_table_at(tokens).map(|(table, _)| table)
}

/// [`created_table`] and the index of the token after the table's name.
fn created_table_at(tokens: &Tokens) -> Option<(String, usize)> {
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
    tokens
        .name_at(i)
        .map(|(parts, next)| (table_key(&parts), next))
}

/// The name of the index a `CREATE [UNIQUE] INDEX [CONCURRENTLY] [IF NOT EXISTS] name ON …`
/// statement builds (unqualified); `None` for unnamed indexes and other statements.
pub fn created_index_name(tokens: &Tokens) -> Option<String> {
    if !tokens.words_at(0, &["create"]) {
        return None;
    }
    let mut i = tokens.skip(1, &["unique"]);
    if !tokens.words_at(i, &["index"]) {
        return None;
    }
    i = tokens.skip(i + 1, &["concurrently"]);
    i = tokens.skip(i, &["if", "not", "exists"]);
    if tokens.words_at(i, &["on"]) {
        return None;
    }
    tokens.name_at(i).map(|(parts, _)| table_key(&parts))
}

/// A column type as written in `CREATE TABLE`, `ADD COLUMN` or `ALTER COLUMN … TYPE`, for the
/// rules that judge types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnType {
    pub table: String,
    pub column: String,
    /// The type's first token.
    pub token: usize,
    /// The type, canonical: `integer` (int, int4), `smallint` (int2), `bigint` (int8),
    /// `serial` (serial4), `smallserial` (serial2), `bigserial` (serial8), `varchar`
    /// (character varying), `char` (character, bpchar), `timestamp` (without time zone),
    /// `timestamptz` (timestamp with time zone), else the written name without its schema.
    pub name: String,
    /// Whether a length or precision follows: `varchar(20)`.
    pub modifier: bool,
    /// Whether the column is defined by a `CREATE TABLE` (rather than an `ALTER TABLE`).
    pub in_create_table: bool,
}

const TABLE_ELEMENT_WORDS: &[&str] = &[
    "constraint",
    "primary",
    "unique",
    "check",
    "foreign",
    "exclude",
    "like",
];

/// Every column type a statement writes.
pub fn column_types(tokens: &Tokens) -> Vec<ColumnType> {
    let mut found = Vec::new();
    if let Some((table, next)) = created_table_at(tokens) {
        if !tokens.get(next).is_some_and(|t| t.is_punct('(')) {
            return found;
        }
        let close = tokens.matching_paren(next);
        for item in tokens.split_commas(next + 1..close) {
            let Some(first) = tokens.get(item.start).filter(|t| t.is_name()) else {
                continue;
            };
            if first.kind == TokenKind::Word && TABLE_ELEMENT_WORDS.contains(&first.text.as_str()) {
                continue;
            }
            if let Some(column_type) = type_at(tokens, item.start + 1, item.end) {
                found.push(ColumnType {
                    table: table.clone(),
                    column: first.text.clone(),
                    in_create_table: true,
                    ..column_type
                });
            }
        }
        return found;
    }
    let Some(alter) = alter_table(tokens) else {
        return found;
    };
    for range in alter.actions {
        let column_at = match action(tokens, range.clone()) {
            Action::AddColumn(_) => {
                let start = tokens.skip(range.start + 1, &["column"]);
                tokens.skip(start, &["if", "not", "exists"])
            }
            Action::AlterColumnType { .. } => tokens.skip(range.start + 1, &["column"]),
            _ => continue,
        };
        let Some(column) = tokens.get(column_at) else {
            continue;
        };
        let type_start = if tokens.words_at(column_at + 1, &["type"]) {
            column_at + 2
        } else if tokens.words_at(column_at + 1, &["set", "data", "type"]) {
            column_at + 4
        } else {
            column_at + 1
        };
        if let Some(column_type) = type_at(tokens, type_start, range.end) {
            found.push(ColumnType {
                table: alter.table.clone(),
                column: column.text.clone(),
                ..column_type
            });
        }
    }
    found
}

/// The type name starting at `start` (table and column left empty).
fn type_at(tokens: &Tokens, start: usize, end: usize) -> Option<ColumnType> {
    if start >= end {
        return None;
    }
    let (parts, mut i) = tokens.name_at(start)?;
    let mut name = parts.last()?.clone();
    let is = |i: usize, words: &[&str]| i < end && tokens.words_at(i, words);
    if (name == "character" || name == "char" || name == "bit") && is(i, &["varying"]) {
        name = if name == "bit" {
            "varbit".into()
        } else {
            "varchar".into()
        };
        i += 1;
    } else if name == "double" && is(i, &["precision"]) {
        name = "double precision".into();
        i += 1;
    }
    let modifier = i < end && tokens.get(i).is_some_and(|t| t.is_punct('('));
    if modifier {
        i = tokens.matching_paren(i) + 1;
    }
    let name = match name.as_str() {
        "int" | "integer" | "int4" => "integer".to_string(),
        "int2" | "smallint" => "smallint".to_string(),
        "int8" | "bigint" => "bigint".to_string(),
        "serial" | "serial4" => "serial".to_string(),
        "serial2" | "smallserial" => "smallserial".to_string(),
        "serial8" | "bigserial" => "bigserial".to_string(),
        "character" | "char" | "bpchar" => "char".to_string(),
        "timestamp" if is(i, &["with", "time", "zone"]) => "timestamptz".to_string(),
        other => other.to_string(),
    };
    Some(ColumnType {
        table: String::new(),
        column: String::new(),
        token: start,
        name,
        modifier,
        in_create_table: false,
    })
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
        assert_eq!(
            created_index_name(&Tokens::new(
                "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS s.i ON t (a)"
            )),
            Some("i".into())
        );
        assert_eq!(
            created_index_name(&Tokens::new("CREATE INDEX ON t (a)")),
            None
        );
    }

    #[test]
    fn reads_column_types_where_they_are_written() {
        let types = |sql: &str| -> Vec<(String, String, bool, bool)> {
            column_types(&Tokens::new(sql))
                .into_iter()
                .map(|t| (t.column, t.name, t.modifier, t.in_create_table))
                .collect()
        };
        let own = |c: &str, n: &str, m: bool, new: bool| (c.to_string(), n.to_string(), m, new);
        assert_eq!(
            types(
                "CREATE TABLE IF NOT EXISTS s.t (id serial PRIMARY KEY, a character varying(20), \
                 b pg_catalog.int4, c timestamp(3) with time zone, d timestamp without time zone, \
                 e numeric(10, 2), CONSTRAINT k UNIQUE (a), \"F\" char(2), LIKE other)"
            ),
            vec![
                own("id", "serial", false, true),
                own("a", "varchar", true, true),
                own("b", "integer", false, true),
                own("c", "timestamptz", true, true),
                own("d", "timestamp", false, true),
                own("e", "numeric", true, true),
                own("F", "char", true, true),
            ]
        );
        assert_eq!(
            types(
                "ALTER TABLE t ADD COLUMN IF NOT EXISTS a int2, ALTER COLUMN b TYPE varchar(5), \
                 ALTER c SET DATA TYPE timestamp, ADD CONSTRAINT x CHECK (a > 0), DROP COLUMN z"
            ),
            vec![
                own("a", "smallint", false, false),
                own("b", "varchar", true, false),
                own("c", "timestamp", false, false),
            ]
        );
        assert!(types("CREATE TABLE t AS SELECT 1 AS a").is_empty());
        assert!(types("CREATE TABLE p1 PARTITION OF p FOR VALUES IN (1)").is_empty());
    }
}
