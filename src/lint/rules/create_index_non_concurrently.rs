//! `create-index-non-concurrently`: building an index on an existing table without
//! CONCURRENTLY blocks every write to the table for the whole build. Adding a UNIQUE or
//! PRIMARY KEY constraint without `USING INDEX` builds one the same way.
//!
//! Squawk: `require-concurrent-index-creation`, `disallowed-unique-constraint` (UNIQUE added as a
//! constraint or inline on a new column) and `adding-serial-primary-key-field` (PRIMARY KEY
//! added as a constraint or inline on a new column).

use super::{FileView, Hit, Rule};
use crate::lint::sql::{self, Action};

pub const RULE: Rule = Rule {
    name: "create-index-non-concurrently",
    summary: "index built on an existing table without CONCURRENTLY (blocks writes)",
    squawk: &[
        "require-concurrent-index-creation",
        "disallowed-unique-constraint",
        "adding-serial-primary-key-field",
    ],
    opt_in: false,
    check,
};

const FIX: &str = "use CREATE INDEX CONCURRENTLY in its own migration marked `-- migrate:no-transaction` (on a partitioned table: CREATE INDEX ON ONLY the parent, build each partition's index concurrently, then ATTACH them)";

fn check(view: &FileView<'_>) -> Vec<Hit> {
    let mut hits = Vec::new();
    for (s, statement) in view.file.statements.iter().enumerate() {
        if let Some(index) = sql::create_index(&statement.tokens)
            && !index.concurrently
            && view.is_existing_table(&index.table, s)
        {
            hits.push(Hit::new(
                s,
                0,
                format!(
                    "CREATE INDEX on existing table `{}` without CONCURRENTLY blocks writes to it until the index is built",
                    index.table
                ),
                FIX,
            ));
        }
    }
    for found in view.existing_table_actions() {
        if let Action::AddConstraint {
            kind,
            using_index: false,
            ..
        } = &found.action
            && (kind == "unique" || kind == "primary")
        {
            hits.push(Hit::new(
                found.statement,
                found.token,
                format!(
                    "adding a {} constraint to existing table `{}` builds its index while blocking reads and writes",
                    if kind == "unique" { "UNIQUE" } else { "PRIMARY KEY" },
                    found.table
                ),
                "CREATE UNIQUE INDEX CONCURRENTLY first (in a `-- migrate:no-transaction` migration), then ADD CONSTRAINT … USING INDEX",
            ));
        }
        if let Action::AddColumn(column) = &found.action
            && let Some(kind) = column.inline_index
        {
            hits.push(Hit::new(
                found.statement,
                found.token,
                format!(
                    "adding column `{}` with an inline {} to existing table `{}` builds its index while blocking reads and writes",
                    column.name,
                    if kind == "unique" { "UNIQUE" } else { "PRIMARY KEY" },
                    found.table
                ),
                "add the column without it, CREATE UNIQUE INDEX CONCURRENTLY (in a `-- migrate:no-transaction` migration), then ADD CONSTRAINT … USING INDEX",
            ));
        }
    }
    hits.sort_by_key(|hit| (hit.statement, hit.token));
    hits
}

#[cfg(test)]
mod tests {
    use super::super::test_support::lines;
    use super::RULE;

    #[test]
    fn flags_blocking_index_builds_on_existing_tables_only() {
        let sql = "CREATE INDEX tasks_a ON tasks (a);\n\
                   CREATE TABLE fresh (id int);\n\
                   CREATE INDEX fresh_id ON fresh (id);\n\
                   CREATE INDEX CONCURRENTLY tasks_b ON tasks (b);\n\
                   ALTER TABLE tasks ADD CONSTRAINT tasks_u UNIQUE (c);\n\
                   ALTER TABLE tasks ADD CONSTRAINT tasks_u2 UNIQUE USING INDEX tasks_b;\n\
                   CREATE INDEX early_x ON early (x);\n\
                   ALTER TABLE tasks ADD COLUMN k bigint UNIQUE, ADD COLUMN l int;\n\
                   ALTER TABLE fresh ADD COLUMN m bigserial PRIMARY KEY;\n";
        assert_eq!(
            lines(&RULE, "CREATE TABLE early (x int);", sql),
            vec![1, 5, 8]
        );
    }
}
