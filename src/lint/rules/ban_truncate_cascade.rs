//! `ban-truncate-cascade`: `TRUNCATE … CASCADE` also empties every table that references the
//! truncated ones through a foreign key, recursively, including tables the author never
//! named.
//!
//! Squawk: `ban-truncate-cascade` (the same name).

use super::{FileView, Hit, Rule};

pub const RULE: Rule = Rule {
    name: "ban-truncate-cascade",
    summary: "TRUNCATE … CASCADE (empties every referencing table too)",
    squawk: &[],
    opt_in: false,
    check,
};

fn check(view: &FileView<'_>) -> Vec<Hit> {
    let mut hits = Vec::new();
    for (s, statement) in view.file.statements.iter().enumerate() {
        let tokens = &statement.tokens;
        if !tokens.words_at(0, &["truncate"]) {
            continue;
        }
        if let Some(at) = tokens.find_top_level(1..tokens.len(), |t| t.is_word("cascade")) {
            hits.push(Hit::new(
                s,
                at,
                "TRUNCATE … CASCADE also empties every table with a foreign key to the truncated ones, recursively",
                "name every table to empty in the TRUNCATE and drop CASCADE (RESTRICT, the default, then refuses if another table still references them)",
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
    fn flags_cascade_only() {
        let sql =
            "TRUNCATE a, b;\nTRUNCATE TABLE c\n  CASCADE;\nTRUNCATE d RESTART IDENTITY RESTRICT;\n";
        assert_eq!(lines(&RULE, "", sql), vec![3]);
    }
}
