//! `require-enum-value-ordering`: `ALTER TYPE … ADD VALUE` without `BEFORE` or `AFTER` appends
//! the label, and enum labels compare in declaration order: a query such as `status <
//! 'approved'` silently changes meaning when the new label belongs in the middle. Opt-in
//! (appending is often what is meant): `[lint] enable`.
//!
//! Squawk: `require-enum-value-ordering` (the same name).

use super::{FileView, Hit, Rule};

pub const RULE: Rule = Rule {
    name: "require-enum-value-ordering",
    summary: "enum label added without BEFORE or AFTER (appended to the sort order)",
    squawk: &[],
    opt_in: true,
    check,
};

fn check(view: &FileView<'_>) -> Vec<Hit> {
    let mut hits = Vec::new();
    for (s, statement) in view.file.statements.iter().enumerate() {
        let tokens = &statement.tokens;
        if !tokens.words_at(0, &["alter", "type"]) {
            continue;
        }
        let Some((parts, after)) = tokens.name_at(2) else {
            continue;
        };
        if !tokens.words_at(after, &["add", "value"]) {
            continue;
        }
        let placed = (after + 2..tokens.len())
            .any(|i| tokens.words_at(i, &["before"]) || tokens.words_at(i, &["after"]));
        if !placed {
            hits.push(Hit::new(
                s,
                after,
                format!(
                    "the new label of `{}` goes last in its sort order: comparisons such as `< 'label'` change meaning if it belongs elsewhere",
                    parts.join(".")
                ),
                "say where it goes: `ADD VALUE 'x' BEFORE 'y'` or `AFTER 'y'` (or keep it last deliberately and add `-- lint:ignore require-enum-value-ordering`)",
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
    fn flags_labels_added_without_a_place() {
        let sql = "ALTER TYPE status ADD VALUE 'blocked';\n\
                   ALTER TYPE status ADD VALUE IF NOT EXISTS 'review' BEFORE 'done';\n\
                   ALTER TYPE status RENAME VALUE 'x' TO 'y';\n";
        assert_eq!(lines(&RULE, "", sql), vec![1]);
    }
}
