//! `prefer-timestamptz`: `timestamp` (without time zone) stores a wall-clock time with no zone,
//! so the same instant reads differently by session TimeZone and comparisons across zones are
//! wrong; `timestamptz` stores an instant. Changing the type later rewrites the table. Opt-in (a
//! style rule): `[lint] enable`.
//!
//! Squawk: `prefer-timestamptz` (also spelt `prefer-timestamp-tz` there).

use super::types::type_hits;
use super::{FileView, Hit, Rule};

pub const RULE: Rule = Rule {
    name: "prefer-timestamptz",
    summary: "timestamp without time zone column",
    squawk: &["prefer-timestamp-tz"],
    opt_in: true,
    check,
};

fn check(view: &FileView<'_>) -> Vec<Hit> {
    type_hits(
        view,
        |column| column.name == "timestamp",
        |column| {
            format!(
                "`{}.{}` is a timestamp without time zone: it stores no instant, and reads differently by session time zone",
                column.table, column.column
            )
        },
        "use timestamptz (timestamp with time zone)",
    )
}

#[cfg(test)]
mod tests {
    use super::super::test_support::lines;
    use super::RULE;

    #[test]
    fn flags_timestamps_without_zone() {
        let sql = "CREATE TABLE n (a timestamp, b timestamp(3) without time zone, c timestamp with time zone, d timestamptz, e time);\n\
                   ALTER TABLE t ADD COLUMN f timestamp;\n";
        assert_eq!(lines(&RULE, "", sql), vec![1, 1, 2]);
    }
}
