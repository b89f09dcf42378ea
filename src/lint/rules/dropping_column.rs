//! `dropping-column`: dropping a column of an existing table breaks clients that still read or
//! write it, and cannot be undone with the data.
//!
//! Squawk: `ban-drop-column`.

use super::{FileView, Hit, Rule};
use crate::lint::sql::Action;

pub const RULE: Rule = Rule {
    name: "dropping-column",
    summary: "column of an existing table dropped",
    squawk: &["ban-drop-column"],
    opt_in: false,
    check,
};

fn check(view: &FileView<'_>) -> Vec<Hit> {
    view.existing_table_actions()
        .into_iter()
        .filter_map(|found| match &found.action {
            Action::DropColumn { column } => Some(Hit::new(
                found.statement,
                found.token,
                format!(
                    "dropping `{}.{column}` breaks application code that still uses it, and its data is gone for good",
                    found.table
                ),
                "stop using the column in a release first; once no deployed code reads or writes it, keep this and add `-- lint:ignore dropping-column`",
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
    fn flags_dropped_columns() {
        let sql = "ALTER TABLE t DROP COLUMN a;\nALTER TABLE t DROP IF EXISTS b, DROP CONSTRAINT c;\nCREATE TABLE n (id int, x int);\nALTER TABLE n DROP COLUMN x;\n";
        assert_eq!(lines(&RULE, "", sql), vec![1, 2]);
    }
}
