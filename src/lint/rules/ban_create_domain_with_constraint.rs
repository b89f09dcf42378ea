//! `ban-create-domain-with-constraint`: a domain's constraints are checked against every
//! column using it, so changing them later (`ALTER DOMAIN … ADD CONSTRAINT`) scans every such
//! table at once, and they cannot be dropped or relaxed per table. A CHECK on each column (or
//! table) can be changed table by table with `NOT VALID`. Opt-in (a schema-design preference):
//! `[lint] enable`.
//!
//! Squawk: `ban-create-domain-with-constraint` (the same name).

use super::{FileView, Hit, Rule};

pub const RULE: Rule = Rule {
    name: "ban-create-domain-with-constraint",
    summary: "domain created with a constraint (changing it later scans every table using it)",
    squawk: &[],
    opt_in: true,
    check,
};

fn check(view: &FileView<'_>) -> Vec<Hit> {
    let mut hits = Vec::new();
    for (s, statement) in view.file.statements.iter().enumerate() {
        let tokens = &statement.tokens;
        if !tokens.words_at(0, &["create", "domain"]) {
            continue;
        }
        let constraint = tokens.find_top_level(2..tokens.len(), |t| {
            t.is_word("check") || t.is_word("constraint")
        });
        if let Some(at) = constraint {
            hits.push(Hit::new(
                s,
                at,
                "a domain's constraint applies to every column using it: changing it later checks all of them at once, under locks that block writes",
                "create the domain without the constraint and put a CHECK on each column that uses it",
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
    fn flags_domains_with_checks() {
        let sql = "CREATE DOMAIN email AS text CHECK (VALUE ~ '@');\n\
                   CREATE DOMAIN positive AS int\n  CONSTRAINT positive_ck CHECK (VALUE > 0);\n\
                   CREATE DOMAIN note AS text NOT NULL;\n";
        assert_eq!(lines(&RULE, "", sql), vec![1, 3]);
    }
}
