//! `prefer-bigint-over-smallint`: a 16-bit column runs out at 32,767, and widening it later is
//! a table rewrite under an ACCESS EXCLUSIVE lock. Opt-in (a style rule): `[lint] enable`.
//!
//! Squawk: `prefer-bigint-over-smallint` (the same name).

use super::types::type_hits;
use super::{FileView, Hit, Rule};

pub const RULE: Rule = Rule {
    name: "prefer-bigint-over-smallint",
    summary: "smallint or smallserial column (16 bits run out; widening it rewrites the table)",
    squawk: &[],
    opt_in: true,
    check,
};

fn check(view: &FileView<'_>) -> Vec<Hit> {
    type_hits(
        view,
        |column| column.name == "smallint" || column.name == "smallserial",
        |column| {
            format!(
                "`{}.{}` is a 16-bit {}: it runs out at 32,767, and widening it later rewrites the table",
                column.table, column.column, column.name
            )
        },
        "use bigint (or an identity column: `bigint GENERATED ALWAYS AS IDENTITY`)",
    )
}

#[cfg(test)]
mod tests {
    use super::super::test_support::lines;
    use super::RULE;

    #[test]
    fn flags_16_bit_integers() {
        let sql = "CREATE TABLE n (a smallint, b int2, c smallserial, d int);\n\
                   ALTER TABLE t ADD COLUMN e int2;\n";
        assert_eq!(lines(&RULE, "", sql), vec![1, 1, 1, 2]);
    }
}
