//! `ban-char-field`: `char(n)` pads every value with spaces to its length, compares ignoring
//! them, and is no faster than text or varchar in PostgreSQL. Opt-in (a style rule):
//! `[lint] enable`.
//!
//! Squawk: `ban-char-field` (the same name).

use super::types::type_hits;
use super::{FileView, Hit, Rule};

pub const RULE: Rule = Rule {
    name: "ban-char-field",
    summary: "char(n) column (blank-padded, no faster than text)",
    squawk: &[],
    opt_in: true,
    check,
};

fn check(view: &FileView<'_>) -> Vec<Hit> {
    type_hits(
        view,
        |column| column.name == "char",
        |column| {
            format!(
                "`{}.{}` is a char(n): values are padded with spaces, and comparisons and casts ignore or keep them inconsistently",
                column.table, column.column
            )
        },
        "use text (with a `CHECK (length(col) = n)` constraint if the length is fixed)",
    )
}

#[cfg(test)]
mod tests {
    use super::super::test_support::lines;
    use super::RULE;

    #[test]
    fn flags_char_but_not_varchar() {
        let sql = "CREATE TABLE n (a char(2), b character, c character varying(3), d bpchar);\n\
                   ALTER TABLE t ADD COLUMN e char(10);\n";
        assert_eq!(lines(&RULE, "", sql), vec![1, 1, 1, 2]);
    }
}
