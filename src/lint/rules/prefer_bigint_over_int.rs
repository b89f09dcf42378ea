//! `prefer-bigint-over-int`: a 32-bit key or counter runs out at 2,147,483,647, and widening it
//! later is a table rewrite under an ACCESS EXCLUSIVE lock (`changing-column-type`). bigint
//! costs four bytes more per row. Opt-in (a style rule): `[lint] enable`.
//!
//! Squawk: `prefer-bigint-over-int` (the same name; Squawk's older `prefer-big-int` also covers
//! smallint, our `prefer-bigint-over-smallint`).

use super::types::type_hits;
use super::{FileView, Hit, Rule};

pub const RULE: Rule = Rule {
    name: "prefer-bigint-over-int",
    summary: "integer or serial column (32 bits run out; widening it rewrites the table)",
    squawk: &["prefer-big-int"],
    opt_in: true,
    check,
};

fn check(view: &FileView<'_>) -> Vec<Hit> {
    type_hits(
        view,
        |column| column.name == "integer" || column.name == "serial",
        |column| {
            format!(
                "`{}.{}` is a 32-bit {}: it runs out at 2,147,483,647, and widening it later rewrites the table",
                column.table, column.column, column.name
            )
        },
        "use bigint (or bigserial, better an identity column: `bigint GENERATED ALWAYS AS IDENTITY`)",
    )
}

#[cfg(test)]
mod tests {
    use super::super::test_support::lines;
    use super::RULE;

    #[test]
    fn flags_32_bit_integers_on_new_and_existing_tables() {
        let sql = "CREATE TABLE n (\n  id serial PRIMARY KEY,\n  a int4,\n  b bigint,\n  c integer[]\n);\n\
                   ALTER TABLE t ADD COLUMN d int, ALTER COLUMN e TYPE bigint;\n\
                   ALTER TABLE t ALTER COLUMN f TYPE integer;\n";
        assert_eq!(lines(&RULE, "", sql), vec![2, 3, 5, 7, 8]);
    }
}
