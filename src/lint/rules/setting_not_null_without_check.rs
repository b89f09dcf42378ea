//! `setting-not-null-without-check`: `SET NOT NULL` scans the whole table under an ACCESS
//! EXCLUSIVE lock, unless a validated `CHECK (col IS NOT NULL)` already proves it (PostgreSQL
//! 12+ then skips the scan).
//!
//! Squawk: `adding-not-nullable-field`.

use super::{FileView, Hit, Rule};
use crate::lint::sql::Action;

pub const RULE: Rule = Rule {
    name: "setting-not-null-without-check",
    summary: "SET NOT NULL on an existing table without a validated CHECK (col IS NOT NULL)",
    squawk: &["adding-not-nullable-field"],
    opt_in: false,
    check,
};

fn check(view: &FileView<'_>) -> Vec<Hit> {
    view.existing_table_actions()
        .into_iter()
        .filter_map(|found| match &found.action {
            Action::SetNotNull { column }
                if !view.has_not_null_check(&found.table, column, found.statement) =>
            {
                Some(Hit::new(
                    found.statement,
                    found.token,
                    format!(
                        "SET NOT NULL on `{}.{column}` scans the whole table while blocking reads and writes",
                        found.table
                    ),
                    "first add `CONSTRAINT … CHECK (col IS NOT NULL) NOT VALID`, VALIDATE it in a later migration, then SET NOT NULL (no scan) and drop the check",
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
    fn accepts_set_not_null_after_a_validated_check() {
        let earlier = "ALTER TABLE t ADD CONSTRAINT t_b_nn CHECK (b IS NOT NULL) NOT VALID;";
        let sql = "ALTER TABLE t ALTER COLUMN a SET NOT NULL;\n\
                   ALTER TABLE t VALIDATE CONSTRAINT t_b_nn;\n\
                   ALTER TABLE t ALTER COLUMN b SET NOT NULL;\n\
                   ALTER TABLE t ALTER COLUMN c SET NOT NULL;\n";
        assert_eq!(lines(&RULE, earlier, sql), vec![1, 4]);
    }
}
