//! `ban-drop-not-null`: dropping NOT NULL on a column of an existing table lets NULLs in that
//! the running application may not handle, and the constraint cannot come back cheaply
//! (`setting-not-null-without-check`): the release cannot be rolled back once a NULL is
//! written.
//!
//! Squawk: `ban-drop-not-null` (the same name).

use super::{FileView, Hit, Rule};
use crate::lint::sql::Action;

pub const RULE: Rule = Rule {
    name: "ban-drop-not-null",
    summary: "NOT NULL dropped from a column of an existing table",
    squawk: &[],
    opt_in: false,
    check,
};

fn check(view: &FileView<'_>) -> Vec<Hit> {
    view.existing_table_actions()
        .into_iter()
        .filter_map(|found| match &found.action {
            Action::DropNotNull { column } => Some(Hit::new(
                found.statement,
                found.token,
                format!(
                    "dropping NOT NULL from `{}.{column}` lets NULLs in that running code may not expect, and setting it again later scans the table",
                    found.table
                ),
                "make sure every deployed reader handles NULL first; then keep this and add `-- lint:ignore ban-drop-not-null`",
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
    fn flags_drop_not_null_on_existing_tables() {
        let sql = "ALTER TABLE t ALTER COLUMN a DROP NOT NULL;\n\
                   ALTER TABLE t ALTER b DROP DEFAULT, ALTER c DROP NOT NULL;\n\
                   CREATE TABLE n (id int NOT NULL);\n\
                   ALTER TABLE n ALTER COLUMN id DROP NOT NULL;\n";
        assert_eq!(lines(&RULE, "", sql), vec![1, 2]);
    }
}
