//! `prefer-robust-stmts`: a `-- migrate:no-transaction` migration runs statement by statement,
//! so when one fails the statements before it stay applied, and running the file again fails
//! on the first of them ("already exists"). With `IF NOT EXISTS` / `IF EXISTS` the rerun skips
//! what is done. Transactional migrations roll back as a whole and are not checked; nor are
//! single-statement files (nothing before the failure to redo: migrate drops the invalid index
//! a failed `CREATE INDEX CONCURRENTLY` leaves before it retries).
//!
//! Squawk: `prefer-robust-stmts` (the same name).

use super::{FileView, Hit, Rule};
use crate::lint::sql::{self, Action};

pub const RULE: Rule = Rule {
    name: "prefer-robust-stmts",
    summary: "statement in a multi-statement no-transaction migration that fails when run again",
    squawk: &[],
    opt_in: false,
    check,
};

fn check(view: &FileView<'_>) -> Vec<Hit> {
    if view.file.transactional || view.file.statements.len() < 2 {
        return Vec::new();
    }
    let mut hits = Vec::new();
    for (s, statement) in view.file.statements.iter().enumerate() {
        let tokens = &statement.tokens;
        let create = tokens.words_at(0, &["create"]);
        let what = if create && sql::created_table(tokens).is_some() {
            let at = (0..tokens.len()).find(|&i| tokens.words_at(i, &["if", "not", "exists"]));
            at.is_none().then_some("CREATE TABLE without IF NOT EXISTS")
        } else if create && sql::create_index(tokens).is_some() {
            let at = (0..5).find(|&i| tokens.words_at(i, &["if", "not", "exists"]));
            at.is_none().then_some("CREATE INDEX without IF NOT EXISTS")
        } else if tokens.words_at(0, &["drop", "index"]) || tokens.words_at(0, &["drop", "table"]) {
            let at = (2..4).find(|&i| tokens.words_at(i, &["if", "exists"]));
            at.is_none().then_some("DROP without IF EXISTS")
        } else if let Some(alter) = sql::alter_table(tokens) {
            alter.actions.iter().find_map(|range| {
                let guarded = |words: &[&str]| {
                    (range.start..range.end.min(range.start + 4)).any(|i| tokens.words_at(i, words))
                };
                match sql::action(tokens, range.clone()) {
                    Action::AddColumn(_) if !guarded(&["if", "not", "exists"]) => {
                        Some("ADD COLUMN without IF NOT EXISTS")
                    }
                    Action::DropColumn { .. } if !guarded(&["if", "exists"]) => {
                        Some("DROP COLUMN without IF EXISTS")
                    }
                    _ => None,
                }
            })
        } else {
            None
        };
        if let Some(what) = what {
            hits.push(Hit::new(
                s,
                0,
                format!(
                    "{what} in a no-transaction migration: if a later statement fails, running the file again fails here"
                ),
                "add IF NOT EXISTS / IF EXISTS, or split the file so each no-transaction migration has one statement",
            ));
        }
    }
    hits
}

#[cfg(test)]
mod tests {
    use super::super::test_support::lines;
    use super::RULE;

    const SQL: &str = "CREATE INDEX CONCURRENTLY a ON t (a);\n\
                       CREATE INDEX CONCURRENTLY IF NOT EXISTS b ON t (b);\n\
                       DROP INDEX CONCURRENTLY c;\n\
                       DROP INDEX CONCURRENTLY IF EXISTS d;\n\
                       ALTER TABLE t ADD COLUMN e int;\n\
                       ALTER TABLE t ADD COLUMN IF NOT EXISTS f int, DROP COLUMN IF EXISTS g;\n\
                       CREATE TABLE IF NOT EXISTS h (id int);\n\
                       CREATE TABLE i (id int);\n";

    #[test]
    fn flags_unguarded_statements_of_multi_statement_no_transaction_files() {
        let file = format!("-- migrate:no-transaction\n{SQL}");
        assert_eq!(lines(&RULE, "", &file), vec![2, 4, 6, 9]);
    }

    #[test]
    fn transactional_and_single_statement_files_are_exempt() {
        assert!(lines(&RULE, "", SQL).is_empty());
        let single = "-- migrate:no-transaction\nCREATE INDEX CONCURRENTLY a ON t (a);\n";
        assert!(lines(&RULE, "", single).is_empty());
    }
}
