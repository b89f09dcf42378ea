//! `prefer-identity`: serial columns own a separate sequence whose grants, ownership and
//! dumps must be managed apart from the table (a role that may insert also needs USAGE on the
//! sequence; copying the table with `LIKE` shares its sequence). Identity columns are part of
//! the table and follow the SQL standard. Opt-in (a style rule): `[lint] enable`.
//!
//! Squawk: `prefer-identity` (the same name).

use super::types::type_hits;
use super::{FileView, Hit, Rule};

pub const RULE: Rule = Rule {
    name: "prefer-identity",
    summary: "serial column (an identity column has no separate sequence to manage)",
    squawk: &[],
    opt_in: true,
    check,
};

fn check(view: &FileView<'_>) -> Vec<Hit> {
    type_hits(
        view,
        |column| matches!(column.name.as_str(), "serial" | "bigserial" | "smallserial"),
        |column| {
            format!(
                "`{}.{}` is a {}: its sequence is a separate object with its own grants and ownership",
                column.table, column.column, column.name
            )
        },
        "use an identity column: `bigint GENERATED ALWAYS AS IDENTITY` (or BY DEFAULT, when rows are inserted with explicit ids)",
    )
}

#[cfg(test)]
mod tests {
    use super::super::test_support::lines;
    use super::RULE;

    #[test]
    fn flags_serial_types() {
        let sql = "CREATE TABLE n (\n  id bigserial PRIMARY KEY,\n  b serial8,\n  c bigint GENERATED ALWAYS AS IDENTITY\n);\n\
                   ALTER TABLE t ADD COLUMN d serial;\n";
        assert_eq!(lines(&RULE, "", sql), vec![2, 3, 6]);
    }
}
