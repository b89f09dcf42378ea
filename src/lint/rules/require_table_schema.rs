//! `require-table-schema`: an unqualified table name resolves through `search_path`, which
//! differs between sessions, roles and tools; a migration run with another search_path
//! creates or changes a table in another schema. Opt-in (most projects keep one schema):
//! `[lint] enable`.
//!
//! Squawk: `require-table-schema` (the same name; opt-in there too).

use super::{FileView, Hit, Rule};
use crate::lint::sql;

pub const RULE: Rule = Rule {
    name: "require-table-schema",
    summary: "table named without its schema (resolved through search_path)",
    squawk: &[],
    opt_in: true,
    check,
};

fn check(view: &FileView<'_>) -> Vec<Hit> {
    let mut hits = Vec::new();
    for (s, statement) in view.file.statements.iter().enumerate() {
        let tokens = &statement.tokens;
        let (verb, start) = if tokens.words_at(0, &["alter", "table"]) {
            let i = tokens.skip(2, &["if", "exists"]);
            ("ALTER TABLE", tokens.skip(i, &["only"]))
        } else if sql::created_table(tokens).is_some() && tokens.words_at(0, &["create"]) {
            let Some(table) = (1..5).find(|&i| tokens.words_at(i, &["table"])) else {
                continue;
            };
            (
                "CREATE TABLE",
                tokens.skip(table + 1, &["if", "not", "exists"]),
            )
        } else {
            continue;
        };
        let temporary = tokens.words_at(1, &["temp"]) || tokens.words_at(1, &["temporary"]);
        if let Some((parts, _)) = tokens.name_at(start)
            && parts.len() == 1
            && !temporary
        {
            hits.push(Hit::new(
                s,
                start,
                format!(
                    "{verb} `{}` names no schema: the table is found through the session's search_path",
                    parts[0]
                ),
                "qualify the name: `public.table` (or the schema it belongs to)",
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
    fn flags_unqualified_tables() {
        let sql = "CREATE TABLE t (id bigint);\n\
                   CREATE TABLE IF NOT EXISTS app.u (id bigint);\n\
                   ALTER TABLE IF EXISTS ONLY t ADD COLUMN a text;\n\
                   ALTER TABLE app.u ADD COLUMN a text;\n\
                   CREATE TEMP TABLE scratch (id bigint);\n";
        assert_eq!(lines(&RULE, "", sql), vec![1, 3]);
    }
}
