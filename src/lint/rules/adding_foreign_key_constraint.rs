//! `adding-foreign-key-constraint`: a column added to an existing table with an inline
//! `REFERENCES` creates its foreign key validated on the spot: it takes a SHARE ROW EXCLUSIVE
//! lock on the referenced table (blocking its writes) and checks the rows, and an inline
//! reference cannot be `NOT VALID`.
//!
//! Squawk: `adding-foreign-key-constraint` (the same name). Squawk's rule also covers `ADD
//! CONSTRAINT … FOREIGN KEY` without `NOT VALID`, which is our
//! `adding-constraint-without-not-valid`.

use super::{FileView, Hit, Rule};
use crate::lint::sql::Action;

pub const RULE: Rule = Rule {
    name: "adding-foreign-key-constraint",
    summary: "column with an inline REFERENCES added to an existing table",
    squawk: &[],
    opt_in: false,
    check,
};

fn check(view: &FileView<'_>) -> Vec<Hit> {
    view.existing_table_actions()
        .into_iter()
        .filter_map(|found| match &found.action {
            Action::AddColumn(column) if column.references => Some(Hit::new(
                found.statement,
                found.token,
                format!(
                    "adding column `{}` with REFERENCES to existing table `{}` validates the foreign key at once, blocking writes to the referenced table while it does",
                    column.name, found.table
                ),
                "add the column without REFERENCES, then `ADD CONSTRAINT … FOREIGN KEY (…) REFERENCES … NOT VALID`, and VALIDATE CONSTRAINT in a later migration",
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
    fn flags_inline_references_on_existing_tables() {
        let sql = "ALTER TABLE t ADD COLUMN o bigint REFERENCES o (id);\n\
                   ALTER TABLE t ADD COLUMN p bigint, ADD q bigint REFERENCES q ON DELETE CASCADE;\n\
                   CREATE TABLE n (id int);\n\
                   ALTER TABLE n ADD COLUMN o bigint REFERENCES o (id);\n";
        assert_eq!(lines(&RULE, "", sql), vec![1, 2]);
    }
}
