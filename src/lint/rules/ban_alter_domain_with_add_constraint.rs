//! `ban-alter-domain-with-add-constraint`: `ALTER DOMAIN … ADD CONSTRAINT` checks every column
//! of every table that uses the domain, while holding a lock that blocks their writes. With
//! `NOT VALID` the check applies to new values only, and `VALIDATE CONSTRAINT` later scans
//! under a weaker lock. A domain created earlier in the linted set is new and exempt.
//!
//! Squawk: `ban-alter-domain-with-add-constraint` (the same name; Squawk flags `NOT VALID` too,
//! this rule does not).

use super::{FileView, Hit, Rule};
use crate::lint::sql;

pub const RULE: Rule = Rule {
    name: "ban-alter-domain-with-add-constraint",
    summary: "constraint added to a domain without NOT VALID (checks every table using it)",
    squawk: &[],
    opt_in: false,
    check,
};

fn check(view: &FileView<'_>) -> Vec<Hit> {
    let mut hits = Vec::new();
    for (s, statement) in view.file.statements.iter().enumerate() {
        let tokens = &statement.tokens;
        if !tokens.words_at(0, &["alter", "domain"]) {
            continue;
        }
        let Some((parts, after)) = tokens.name_at(2) else {
            continue;
        };
        let not_valid = tokens.len() >= 2 && tokens.words_at(tokens.len() - 2, &["not", "valid"]);
        if tokens.words_at(after, &["add"])
            && !not_valid
            && view.is_existing_domain(&sql::table_key(&parts), s)
        {
            hits.push(Hit::new(
                s,
                after,
                format!(
                    "adding a constraint to domain `{}` checks every column that uses it, in every table, while blocking their writes",
                    parts.join(".")
                ),
                "add it with NOT VALID (new values are checked at once), then `ALTER DOMAIN … VALIDATE CONSTRAINT …` in a later migration",
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
    fn flags_validated_domain_constraints() {
        let sql = "ALTER DOMAIN email ADD CONSTRAINT email_at CHECK (VALUE ~ '@');\n\
                   ALTER DOMAIN email ADD CONSTRAINT email_len CHECK (length(VALUE) < 300) NOT VALID;\n\
                   ALTER DOMAIN email VALIDATE CONSTRAINT email_len;\n\
                   CREATE DOMAIN fresh AS text;\n\
                   ALTER DOMAIN fresh ADD CONSTRAINT fresh_ck CHECK (VALUE <> '');\n";
        assert_eq!(lines(&RULE, "", sql), vec![1]);
    }
}
