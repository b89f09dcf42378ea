//! `adding-constraint-without-not-valid`: a FOREIGN KEY or CHECK added to an existing table is
//! validated against every row while writes are blocked. `NOT VALID` then `VALIDATE
//! CONSTRAINT` splits that into a quick change and a scan under a weaker lock.
//!
//! Squawk: `constraint-missing-not-valid` (and `adding-foreign-key-constraint` for `ADD
//! CONSTRAINT … FOREIGN KEY`; its inline `REFERENCES` case is our `adding-foreign-key-constraint`).

use super::{FileView, Hit, Rule};
use crate::lint::sql::Action;

pub const RULE: Rule = Rule {
    name: "adding-constraint-without-not-valid",
    summary: "FOREIGN KEY or CHECK added to an existing table without NOT VALID",
    squawk: &["constraint-missing-not-valid"],
    opt_in: false,
    check,
};

fn check(view: &FileView<'_>) -> Vec<Hit> {
    view.existing_table_actions()
        .into_iter()
        .filter_map(|found| match &found.action {
            Action::AddConstraint {
                name,
                kind,
                not_valid: false,
                ..
            } if kind == "foreign" || kind == "check" => {
                let what = if kind == "foreign" { "FOREIGN KEY" } else { "CHECK" };
                let name = name
                    .as_deref()
                    .map_or_else(String::new, |n| format!(" `{n}`"));
                Some(Hit::new(
                    found.statement,
                    found.token,
                    format!(
                        "adding {what} constraint{name} to existing table `{}` scans every row while blocking writes{}",
                        found.table,
                        if kind == "foreign" { " (on the referenced table too)" } else { "" }
                    ),
                    "add it with NOT VALID, then run `ALTER TABLE … VALIDATE CONSTRAINT …` in a later migration",
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
    fn flags_constraints_validated_on_the_spot() {
        let sql = "ALTER TABLE t ADD CONSTRAINT t_fk FOREIGN KEY (o) REFERENCES o (id);\n\
                   ALTER TABLE t ADD CONSTRAINT t_ck CHECK (a > 0) NOT VALID;\n\
                   ALTER TABLE t ADD CHECK (b > 0);\n\
                   ALTER TABLE t VALIDATE CONSTRAINT t_ck;\n\
                   CREATE TABLE n (id int, o int);\n\
                   ALTER TABLE n ADD FOREIGN KEY (o) REFERENCES o (id);\n";
        assert_eq!(lines(&RULE, "", sql), vec![1, 3]);
    }
}
