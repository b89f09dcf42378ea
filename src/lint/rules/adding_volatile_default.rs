//! `adding-volatile-default`: a column added with a volatile default (random(),
//! clock_timestamp(), gen_random_uuid(), a serial or identity column, a stored generated
//! column) makes PostgreSQL rewrite the whole table under an ACCESS EXCLUSIVE lock. Constant
//! and stable defaults such as now() do not.
//!
//! Squawk: `adding-field-with-default`.

use super::adding_not_null_column::SERIAL_TYPES;
use super::{FileView, Hit, Rule};
use crate::lint::sql::{Action, TokenKind};

pub const RULE: Rule = Rule {
    name: "adding-volatile-default",
    summary: "column added with a volatile default or generated value (rewrites the table)",
    squawk: &["adding-field-with-default"],
    opt_in: false,
    check,
};

/// Built-in functions that are VOLATILE (a default calling them is evaluated per row).
const VOLATILE_FUNCTIONS: &[&str] = &[
    "random",
    "random_normal",
    "clock_timestamp",
    "timeofday",
    "gen_random_uuid",
    "gen_random_bytes",
    "uuid_generate_v1",
    "uuid_generate_v1mc",
    "uuid_generate_v4",
    "uuidv4",
    "uuidv7",
    "nextval",
    "txid_current",
    "pg_current_xact_id",
];

const FIX: &str = "add the column without a default, then `ALTER COLUMN … SET DEFAULT …` (applies to new rows only) and backfill existing rows in batches";

fn check(view: &FileView<'_>) -> Vec<Hit> {
    let mut hits = Vec::new();
    for found in view.existing_table_actions() {
        let Action::AddColumn(column) = &found.action else {
            continue;
        };
        let tokens = &view.file.statements[found.statement].tokens;
        let volatile_call = column.default.clone().and_then(|range| {
            range.clone().find_map(|i| {
                let token = tokens.get(i)?;
                let called = token.kind == TokenKind::Word
                    && VOLATILE_FUNCTIONS.contains(&token.text.as_str())
                    && tokens.get(i + 1).is_some_and(|t| t.is_punct('('));
                called.then(|| format!("{}()", token.text))
            })
        });
        let why = if let Some(call) = volatile_call {
            format!("its default calls the volatile function {call}")
        } else if SERIAL_TYPES.contains(&column.type_word.as_str()) {
            format!(
                "a {} column's default is nextval(), which is volatile",
                column.type_word
            )
        } else if column.identity {
            "an identity column is filled with a value per row".to_string()
        } else if column.generated_stored {
            "a stored generated column is computed for every row".to_string()
        } else {
            continue;
        };
        hits.push(Hit::new(
            found.statement,
            found.token,
            format!(
                "adding column `{}` to existing table `{}` rewrites the table under an ACCESS EXCLUSIVE lock: {why}",
                column.name, found.table
            ),
            FIX,
        ));
    }
    hits
}

#[cfg(test)]
mod tests {
    use super::super::test_support::lines;
    use super::RULE;

    #[test]
    fn flags_defaults_that_rewrite() {
        let sql = "ALTER TABLE t ADD COLUMN a uuid DEFAULT gen_random_uuid();\n\
                   ALTER TABLE t ADD COLUMN b timestamptz NOT NULL DEFAULT now();\n\
                   ALTER TABLE t ADD COLUMN c bigserial;\n\
                   ALTER TABLE t ADD COLUMN d text GENERATED ALWAYS AS (upper(x)) STORED;\n\
                   ALTER TABLE t ADD COLUMN e int DEFAULT 0;\n\
                   ALTER TABLE t ADD COLUMN f double precision DEFAULT (random() * 10);\n\
                   CREATE TABLE n (id int);\n\
                   ALTER TABLE n ADD COLUMN g uuid DEFAULT gen_random_uuid();\n";
        assert_eq!(lines(&RULE, "", sql), vec![1, 3, 4, 6]);
    }
}
