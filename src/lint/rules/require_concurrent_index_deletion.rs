//! `require-concurrent-index-deletion`: `DROP INDEX` without CONCURRENTLY takes an ACCESS
//! EXCLUSIVE lock on the index's table, blocking its reads and writes (and queueing behind any
//! long query on it). An index created earlier in the linted set is new and exempt.
//!
//! Squawk: `require-concurrent-index-deletion` (the same name).

use super::{FileView, Hit, Rule};
use crate::lint::sql;

pub const RULE: Rule = Rule {
    name: "require-concurrent-index-deletion",
    summary: "existing index dropped without CONCURRENTLY (blocks reads and writes)",
    squawk: &[],
    opt_in: false,
    check,
};

fn check(view: &FileView<'_>) -> Vec<Hit> {
    let mut hits = Vec::new();
    for (s, statement) in view.file.statements.iter().enumerate() {
        let tokens = &statement.tokens;
        if !tokens.words_at(0, &["drop", "index"]) || tokens.words_at(2, &["concurrently"]) {
            continue;
        }
        let start = tokens.skip(2, &["if", "exists"]);
        for range in tokens.split_commas(start..tokens.len()) {
            let Some((parts, _)) = tokens.name_at(range.start) else {
                continue;
            };
            let index = sql::table_key(&parts);
            if view.is_existing_index(&index, s) {
                hits.push(Hit::new(
                    s,
                    range.start,
                    format!(
                        "DROP INDEX `{index}` without CONCURRENTLY blocks reads and writes of its table until it is dropped"
                    ),
                    "use DROP INDEX CONCURRENTLY (one index per statement, no CASCADE) in its own migration marked `-- migrate:no-transaction`",
                ));
            }
        }
    }
    hits
}

#[cfg(test)]
mod tests {
    use super::super::test_support::lines;
    use super::RULE;

    #[test]
    fn flags_blocking_drops_of_existing_indexes() {
        let earlier = "CREATE INDEX earlier_i ON t (a);";
        let sql = "DROP INDEX IF EXISTS old_i, s.other_i;\n\
                   DROP INDEX CONCURRENTLY IF EXISTS old_j;\n\
                   CREATE INDEX fresh_i ON t (b);\n\
                   DROP INDEX fresh_i;\n\
                   DROP INDEX earlier_i;\n";
        assert_eq!(lines(&RULE, earlier, sql), vec![1, 1]);
    }
}
