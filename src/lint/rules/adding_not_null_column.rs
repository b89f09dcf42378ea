//! `adding-not-null-column`: a NOT NULL column without a default cannot be added to a table
//! that has rows, and makes every existing writer fail once it is there.
//!
//! Squawk: `adding-required-field`.

use super::{FileView, Hit, Rule};
use crate::lint::sql::Action;

pub const RULE: Rule = Rule {
    name: "adding-not-null-column",
    summary: "NOT NULL column without a default added to an existing table",
    squawk: &["adding-required-field"],
    opt_in: false,
    check,
};

/// Types whose implicit default (nextval) fills every row.
pub const SERIAL_TYPES: &[&str] = &[
    "serial",
    "bigserial",
    "smallserial",
    "serial2",
    "serial4",
    "serial8",
];

fn check(view: &FileView<'_>) -> Vec<Hit> {
    view.existing_table_actions()
        .into_iter()
        .filter_map(|found| match &found.action {
            Action::AddColumn(column)
                if column.not_null
                    && column.default.is_none()
                    && !column.generated_stored
                    && !column.identity
                    && !SERIAL_TYPES.contains(&column.type_word.as_str()) =>
            {
                Some(Hit::new(
                    found.statement,
                    found.token,
                    format!(
                        "adding NOT NULL column `{}` without a default to existing table `{}` fails if the table has rows, and breaks writers that do not set it",
                        column.name, found.table
                    ),
                    "add the column with a constant DEFAULT (no rewrite since PostgreSQL 11), or add it nullable, backfill, and set NOT NULL after a validated CHECK (col IS NOT NULL)",
                ))
            }
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::test_support::lines;
    use super::RULE;

    #[test]
    fn flags_not_null_without_default() {
        let sql = "ALTER TABLE t ADD COLUMN a int NOT NULL;\n\
                   ALTER TABLE t ADD COLUMN b int NOT NULL DEFAULT 0;\n\
                   ALTER TABLE t ADD COLUMN c int;\n\
                   ALTER TABLE t ADD COLUMN d bigserial NOT NULL;\n\
                   ALTER TABLE t ADD COLUMN e int NOT NULL GENERATED ALWAYS AS IDENTITY;\n\
                   ALTER TABLE t\n  ADD COLUMN f text NOT NULL, ADD COLUMN g text;\n\
                   CREATE TABLE n (id int);\n\
                   ALTER TABLE n ADD COLUMN h int NOT NULL;\n";
        assert_eq!(lines(&RULE, "", sql), vec![1, 7]);
    }
}
