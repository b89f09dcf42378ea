//! `concurrently-in-transaction`: CREATE/DROP INDEX CONCURRENTLY, REINDEX CONCURRENTLY and
//! DETACH PARTITION CONCURRENTLY cannot run inside a transaction, and every migration runs in
//! one unless it is marked `-- migrate:no-transaction`.
//!
//! Squawk: `ban-concurrent-index-creation-in-transaction` (which covers index creation only).

use super::{FileView, Hit, Rule};

pub const RULE: Rule = Rule {
    name: "concurrently-in-transaction",
    summary: "CONCURRENTLY operation in a transactional migration (fails at run time)",
    squawk: &["ban-concurrent-index-creation-in-transaction"],
    opt_in: false,
    check,
};

fn check(view: &FileView<'_>) -> Vec<Hit> {
    if !view.file.transactional {
        return Vec::new();
    }
    let mut hits = Vec::new();
    for (s, statement) in view.file.statements.iter().enumerate() {
        let tokens = &statement.tokens;
        let applies = tokens.words_at(0, &["create", "index"])
            || tokens.words_at(0, &["create", "unique", "index"])
            || tokens.words_at(0, &["drop", "index"])
            || tokens.words_at(0, &["reindex"])
            || (tokens.words_at(0, &["alter", "table"])
                && tokens.tokens.iter().any(|t| t.is_word("detach")));
        if !applies {
            continue;
        }
        if let Some(at) = tokens.tokens.iter().position(|t| t.is_word("concurrently")) {
            hits.push(Hit::new(
                s,
                at,
                "CONCURRENTLY cannot run inside a transaction block, and this migration runs in one",
                "add `-- migrate:no-transaction` at the top of the file (and keep the file to this one statement, so a failure leaves nothing half-done)",
            ));
        }
    }
    hits
}

#[cfg(test)]
mod tests {
    use super::super::test_support::lines;
    use super::RULE;

    #[test]
    fn flags_concurrently_in_transactional_files_only() {
        let sql = "CREATE INDEX CONCURRENTLY a ON t (a);\nDROP INDEX CONCURRENTLY b;\nREFRESH MATERIALIZED VIEW CONCURRENTLY mv;\n";
        assert_eq!(lines(&RULE, "", sql), vec![1, 2]);
        let sql = format!("-- migrate:no-transaction\n{sql}");
        assert!(lines(&RULE, "", &sql).is_empty());
    }
}
