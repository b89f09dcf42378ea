//! `renaming-column`: renaming a column of an existing table breaks every client that still
//! uses the old name, the moment the migration commits.
//!
//! Squawk: `renaming-column` (the same name).

use super::{FileView, Hit, Rule};
use crate::lint::sql::Action;

pub const RULE: Rule = Rule {
    name: "renaming-column",
    summary: "column of an existing table renamed (breaks running clients)",
    squawk: &[],
    opt_in: false,
    check,
};

fn check(view: &FileView<'_>) -> Vec<Hit> {
    view.existing_table_actions()
        .into_iter()
        .filter_map(|found| match &found.action {
            Action::RenameColumn { from, to } => Some(Hit::new(
                found.statement,
                found.token,
                format!(
                    "renaming `{}.{from}` to `{to}` breaks application code that still uses the old name",
                    found.table
                ),
                "add the new column and write both (or expose the new name through a view), move readers over, and drop the old column in a later release",
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
    fn flags_column_renames() {
        let sql = "ALTER TABLE t RENAME COLUMN a TO b;\nALTER TABLE t RENAME c TO d;\nALTER TABLE t RENAME CONSTRAINT x TO y;\nALTER TABLE t RENAME TO u;\n";
        assert_eq!(lines(&RULE, "", sql), vec![1, 2]);
    }
}
