//! `ban-drop-database`: a migration that drops a database takes every table and every client's
//! connection target with it; databases are created and dropped by `migrate database`, never
//! by a migration.
//!
//! Squawk: `ban-drop-database` (the same name).

use super::{FileView, Hit, Rule};

pub const RULE: Rule = Rule {
    name: "ban-drop-database",
    summary: "DROP DATABASE in a migration",
    squawk: &[],
    opt_in: false,
    check,
};

fn check(view: &FileView<'_>) -> Vec<Hit> {
    view.file
        .statements
        .iter()
        .enumerate()
        .filter(|(_, statement)| statement.tokens.words_at(0, &["drop", "database"]))
        .map(|(s, _)| {
            Hit::new(
                s,
                0,
                "DROP DATABASE in a migration destroys a whole database and breaks every client using it",
                "remove it from the migration; drop databases deliberately with `migrate database drop`",
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::test_support::lines;
    use super::RULE;

    #[test]
    fn flags_drop_database() {
        let sql = "DROP DATABASE IF EXISTS old;\nDROP TABLE t;\nDROP DATABASE x WITH (FORCE);\n";
        assert_eq!(lines(&RULE, "", sql), vec![1, 3]);
    }
}
