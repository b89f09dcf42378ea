//! `enum-value-used-in-transaction`: a label added by `ALTER TYPE … ADD VALUE` cannot be used
//! before the transaction that added it commits ("unsafe use of new value"), and every
//! migration runs in one transaction unless it is marked `-- migrate:no-transaction`.
//!
//! Squawk has no such rule.

use std::collections::BTreeMap;

use super::{FileView, Hit, Rule};
use crate::lint::sql::TokenKind;

pub const RULE: Rule = Rule {
    name: "enum-value-used-in-transaction",
    summary: "enum label added and used in the same transactional migration",
    squawk: &[],
    opt_in: false,
    check,
};

fn check(view: &FileView<'_>) -> Vec<Hit> {
    if !view.file.transactional {
        return Vec::new();
    }
    // Label -> (type, statement that added it).
    let mut added: BTreeMap<String, (String, usize)> = BTreeMap::new();
    let mut hits = Vec::new();
    for (s, statement) in view.file.statements.iter().enumerate() {
        let tokens = &statement.tokens;
        if tokens.words_at(0, &["alter", "type"])
            && let Some((parts, after)) = tokens.name_at(2)
            && tokens.words_at(after, &["add", "value"])
        {
            let at = tokens.skip(after + 2, &["if", "not", "exists"]);
            if let Some(label) = tokens.get(at).filter(|t| t.kind == TokenKind::String) {
                added.insert(label.text.clone(), (parts.join("."), s));
            }
            continue;
        }
        for (t, token) in tokens.tokens.iter().enumerate() {
            if token.kind != TokenKind::String {
                continue;
            }
            if let Some((type_name, added_at)) = added.remove(&token.text) {
                hits.push(Hit::new(
                    s,
                    t,
                    format!(
                        "enum label '{}' is used in the transaction that adds it to {type_name} (line {}): PostgreSQL refuses until that transaction commits",
                        token.text,
                        view.file.line(added_at, 0)
                    ),
                    "move ALTER TYPE … ADD VALUE into its own, earlier migration",
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
    fn flags_the_first_use_of_a_new_label() {
        let sql = "ALTER TYPE status ADD VALUE IF NOT EXISTS 'blocked' BEFORE 'done';\n\
                   UPDATE tasks SET status = 'blocked' WHERE stuck;\n\
                   UPDATE tasks SET status = 'blocked' WHERE x;\n\
                   ALTER TYPE status ADD VALUE 'unused';\n";
        assert_eq!(lines(&RULE, "", sql), vec![2]);
        let sql = format!("-- migrate:no-transaction\n{sql}");
        assert!(lines(&RULE, "", &sql).is_empty());
    }
}
