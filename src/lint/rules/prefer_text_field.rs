//! `prefer-text-field`: a `varchar(n)` limit is a schema change away from every longer value,
//! and raising it takes an ACCESS EXCLUSIVE lock (lowering it rewrites the table). `text` with
//! a `CHECK (length(col) <= n)` constraint has the same storage and can change its limit with
//! `NOT VALID` + `VALIDATE`. Opt-in (a style rule): `[lint] enable`.
//!
//! Squawk: `prefer-text-field` (the same name).

use super::types::type_hits;
use super::{FileView, Hit, Rule};

pub const RULE: Rule = Rule {
    name: "prefer-text-field",
    summary: "varchar(n) column (changing the limit locks the table)",
    squawk: &[],
    opt_in: true,
    check,
};

fn check(view: &FileView<'_>) -> Vec<Hit> {
    type_hits(
        view,
        |column| column.name == "varchar" && column.modifier,
        |column| {
            format!(
                "`{}.{}` is a varchar with a length limit: changing the limit later takes an ACCESS EXCLUSIVE lock",
                column.table, column.column
            )
        },
        "use text with a `CHECK (length(col) <= n)` constraint (a new limit is then added NOT VALID and validated without blocking)",
    )
}

#[cfg(test)]
mod tests {
    use super::super::test_support::lines;
    use super::RULE;

    #[test]
    fn flags_varchar_with_a_limit() {
        let sql = "CREATE TABLE n (a varchar(20), b character varying (5), c varchar, d text);\n\
                   ALTER TABLE t ALTER COLUMN e TYPE varchar(100);\n";
        assert_eq!(lines(&RULE, "", sql), vec![1, 1, 2]);
    }
}
