//! `missing-lock-timeout`: a migration that locks existing tables should give up after a
//! bounded wait instead of queueing behind a long transaction while every other query queues
//! behind it. migrate sets `lock_timeout` from the config (10s unless set to 0) or from a
//! `-- migrate:lock-timeout` directive; this rule fires when neither applies.
//!
//! Squawk: `require-lock-timeout`, the lock half of `require-timeout-settings` (whose
//! statement half is `require-statement-timeout`, opt-in here).

use super::{FileView, Hit, Rule};
use crate::lint::sql;

pub const RULE: Rule = Rule {
    name: "missing-lock-timeout",
    summary: "existing tables locked with no lock_timeout (config, directive or SET)",
    squawk: &["require-lock-timeout", "require-timeout-settings"],
    opt_in: false,
    check,
};

fn check(view: &FileView<'_>) -> Vec<Hit> {
    let covered = match view.file.lock_timeout {
        Some(directive) => directive.is_some(),
        None => view.lock_timeout_configured,
    };
    if covered {
        return Vec::new();
    }
    for (s, statement) in view.file.statements.iter().enumerate() {
        let tokens = &statement.tokens;
        if tokens.words_at(0, &["set", "lock_timeout"])
            || tokens.words_at(0, &["set", "local", "lock_timeout"])
            || tokens.words_at(0, &["set", "session", "lock_timeout"])
        {
            return Vec::new();
        }
        let locked = if let Some(alter) = sql::alter_table(tokens) {
            Some(alter.table)
        } else if let Some(index) = sql::create_index(tokens).filter(|i| !i.concurrently) {
            Some(index.table)
        } else if tokens.words_at(0, &["drop", "table"]) {
            let start = tokens.skip(2, &["if", "exists"]);
            tokens
                .name_at(start)
                .map(|(parts, _)| sql::table_key(&parts))
        } else {
            None
        };
        if let Some(table) = locked.filter(|table| view.is_existing_table(table, s)) {
            return vec![Hit::new(
                s,
                0,
                format!(
                    "this locks existing table `{table}` with no lock_timeout: behind a long transaction it waits forever, and every query on the table waits behind it"
                ),
                "add `-- migrate:lock-timeout 5s` at the top of the file, or set [postgres] lock_timeout in migrate.toml",
            )];
        }
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::super::test_support::lines_with;
    use super::RULE;

    const SQL: &str = "CREATE TABLE n (id int);\nALTER TABLE n ADD x int;\nALTER TABLE t ADD y int;\nALTER TABLE t ADD z int;\n";

    #[test]
    fn fires_once_when_nothing_sets_a_timeout() {
        assert_eq!(lines_with(&RULE, "", SQL, false), vec![3]);
    }

    #[test]
    fn configured_default_directive_or_set_satisfy_it() {
        assert!(lines_with(&RULE, "", SQL, true).is_empty());
        let directive = format!("-- migrate:lock-timeout 2s\n{SQL}");
        assert!(lines_with(&RULE, "", &directive, false).is_empty());
        let set = format!("SET LOCAL lock_timeout = '2s';\n{SQL}");
        assert!(lines_with(&RULE, "", &set, false).is_empty());
    }

    #[test]
    fn a_zero_directive_disables_the_configured_default() {
        let zero = format!("-- migrate:lock-timeout 0\n{SQL}");
        assert_eq!(lines_with(&RULE, "", &zero, true), vec![4]);
    }
}
