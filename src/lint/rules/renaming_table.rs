//! `renaming-table`: renaming an existing table breaks every client that still uses the old
//! name.
//!
//! Squawk: `renaming-table` (the same name).

use super::{FileView, Hit, Rule};
use crate::lint::sql::Action;

pub const RULE: Rule = Rule {
    name: "renaming-table",
    summary: "existing table renamed (breaks running clients)",
    squawk: &[],
    opt_in: false,
    check,
};

fn check(view: &FileView<'_>) -> Vec<Hit> {
    view.existing_table_actions()
        .into_iter()
        .filter_map(|found| match &found.action {
            Action::RenameTable { to } => Some(Hit::new(
                found.statement,
                found.token,
                format!(
                    "renaming table `{}` to `{to}` breaks application code that still uses the old name",
                    found.table
                ),
                "rename it and create a view with the old name for the transition, or deploy code that uses the new name first",
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
    fn flags_renames_of_existing_tables() {
        let sql =
            "ALTER TABLE t RENAME TO u;\nCREATE TABLE n (id int);\nALTER TABLE n RENAME TO m;\n";
        assert_eq!(lines(&RULE, "", sql), vec![1]);
    }
}
