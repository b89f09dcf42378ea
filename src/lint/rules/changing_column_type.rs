//! `changing-column-type`: `ALTER COLUMN … TYPE` on an existing table rewrites it (and its
//! indexes) under an ACCESS EXCLUSIVE lock, except for binary-compatible changes.
//!
//! Squawk: `changing-column-type` (the same name).

use super::{FileView, Hit, Rule};
use crate::lint::sql::Action;

pub const RULE: Rule = Rule {
    name: "changing-column-type",
    summary: "column type changed on an existing table (usually rewrites it)",
    squawk: &[],
    opt_in: false,
    check,
};

fn check(view: &FileView<'_>) -> Vec<Hit> {
    view.existing_table_actions()
        .into_iter()
        .filter_map(|found| match &found.action {
            Action::AlterColumnType { column } => Some(Hit::new(
                found.statement,
                found.token,
                format!(
                    "changing the type of `{}.{column}` rewrites the table and its indexes while blocking reads and writes, and may break clients",
                    found.table
                ),
                "add a new column, backfill it in batches, switch the application over, then drop the old one (varchar(n) to text or a longer varchar needs no rewrite: then add `-- lint:ignore changing-column-type`)",
            )),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::test_support::lines;
    use super::RULE;

    #[test]
    fn flags_type_changes_on_existing_tables() {
        let sql = "ALTER TABLE t ALTER COLUMN a TYPE bigint;\n\
                   ALTER TABLE t ALTER b SET DATA TYPE text USING b::text;\n\
                   ALTER TABLE t ALTER COLUMN c SET DEFAULT 1;\n\
                   CREATE TABLE n (id int);\n\
                   ALTER TABLE n ALTER COLUMN id TYPE bigint;\n";
        assert_eq!(lines(&RULE, "", sql), vec![1, 2]);
    }
}
