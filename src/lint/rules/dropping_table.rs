//! `dropping-table`: dropping an existing table breaks clients that still use it, and takes
//! its data with it.
//!
//! Squawk: `ban-drop-table`.

use super::{FileView, Hit, Rule};
use crate::lint::sql;

pub const RULE: Rule = Rule {
    name: "dropping-table",
    summary: "existing table dropped",
    squawk: &["ban-drop-table"],
    opt_in: false,
    check,
};

fn check(view: &FileView<'_>) -> Vec<Hit> {
    let mut hits = Vec::new();
    for (s, statement) in view.file.statements.iter().enumerate() {
        let tokens = &statement.tokens;
        if !tokens.words_at(0, &["drop", "table"]) {
            continue;
        }
        let start = tokens.skip(2, &["if", "exists"]);
        for range in tokens.split_commas(start..tokens.len()) {
            let Some((parts, _)) = tokens.name_at(range.start) else {
                continue;
            };
            let table = sql::table_key(&parts);
            if view.is_existing_table(&table, s) {
                hits.push(Hit::new(
                    s,
                    range.start,
                    format!("dropping existing table `{table}` breaks application code that still uses it, and its data is gone for good"),
                    "stop using the table in a release first (rename it aside for a while if in doubt); then keep this and add `-- lint:ignore dropping-table`",
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
    fn flags_dropped_existing_tables() {
        let sql =
            "DROP TABLE IF EXISTS a, public.b CASCADE;\nCREATE TABLE n (id int);\nDROP TABLE n;\n";
        assert_eq!(lines(&RULE, "", sql), vec![1, 1]);
    }
}
