//! `require-statement-timeout`: `lock_timeout` bounds the wait for a lock, not how long a
//! statement then holds it; a rewrite or scan that takes minutes blocks the table for
//! minutes. A `statement_timeout` makes such a migration fail (and roll back) instead.
//! Opt-in: migrate sets a lock_timeout by default but no statement_timeout, since a legitimate
//! long backfill would need it raised; enable it with `[lint] enable` when the team sets
//! `[postgres] statement_timeout`, so that a file that turns it off or lacks it is reported.
//!
//! Squawk: `require-statement-timeout`, the statement half of `require-timeout-settings`
//! (whose lock half is `missing-lock-timeout`).

use super::{FileView, Hit, Rule};
use crate::lint::sql;

pub const RULE: Rule = Rule {
    name: "require-statement-timeout",
    summary: "existing tables locked with no statement_timeout (config or SET)",
    squawk: &[],
    opt_in: true,
    check,
};

fn check(view: &FileView<'_>) -> Vec<Hit> {
    if view.statement_timeout_configured {
        return Vec::new();
    }
    for (s, statement) in view.file.statements.iter().enumerate() {
        let tokens = &statement.tokens;
        let set = tokens.skip(tokens.skip(1, &["local"]), &["session"]);
        if tokens.words_at(0, &["set"]) && tokens.words_at(set, &["statement_timeout"]) {
            return Vec::new();
        }
        let locked = if let Some(alter) = sql::alter_table(tokens) {
            Some(alter.table)
        } else {
            sql::create_index(tokens)
                .filter(|i| !i.concurrently)
                .map(|i| i.table)
        };
        if let Some(table) = locked.filter(|table| view.is_existing_table(table, s)) {
            return vec![Hit::new(
                s,
                0,
                format!(
                    "this locks existing table `{table}` with no statement_timeout: a slow rewrite or scan keeps the table blocked for as long as it runs"
                ),
                "set [postgres] statement_timeout in migrate.toml, or start the file with `SET statement_timeout = '…';`",
            )];
        }
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::super::test_support::lines;
    use super::RULE;

    #[test]
    fn fires_once_unless_a_statement_timeout_is_set() {
        let sql = "CREATE TABLE n (id int);\nALTER TABLE n ADD x int;\nALTER TABLE t ADD y int;\nCREATE INDEX t_y ON t (y);\n";
        assert_eq!(lines(&RULE, "", sql), vec![3]);
        let set = format!("SET LOCAL statement_timeout = '30s';\n{sql}");
        assert!(lines(&RULE, "", &set).is_empty());
    }
}
