//! `transaction-nesting`: migrate runs each migration in its own transaction (or, for a
//! `-- migrate:no-transaction` file, statement by statement and records it afterwards). A
//! `BEGIN`, `COMMIT` or `ROLLBACK` in the file ends or nests that transaction, so part of the
//! file commits on its own and a failure leaves it half applied. The migration loader refuses
//! such files (`migrate validate`); this rule reports them in files given to `migrate lint FILE`
//! too, with the line.
//!
//! Squawk: `transaction-nesting` (the same name) and `ban-uncommitted-transaction` (a BEGIN
//! without COMMIT, which this rule reports as the BEGIN).

use super::{FileView, Hit, Rule};
use crate::postgres::tokens::transaction_control;

pub const RULE: Rule = Rule {
    name: "transaction-nesting",
    summary: "BEGIN, COMMIT or ROLLBACK in a migration (migrate manages the transaction)",
    squawk: &["ban-uncommitted-transaction"],
    opt_in: false,
    check,
};

fn check(view: &FileView<'_>) -> Vec<Hit> {
    view.file
        .statements
        .iter()
        .enumerate()
        .filter_map(|(s, statement)| {
            let command = transaction_control(&statement.tokens)?;
            Some(Hit::new(
                s,
                0,
                format!(
                    "{command} ends or nests the transaction migrate runs the migration in: the statements around it commit separately"
                ),
                "remove it: migrate wraps each migration in one transaction (mark the file `-- migrate:no-transaction` to run without one)",
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::test_support::lines;
    use super::RULE;

    #[test]
    fn flags_transaction_control() {
        let sql = "BEGIN;\nCREATE TABLE n (id int);\nSAVEPOINT a;\nROLLBACK TO SAVEPOINT a;\nCOMMIT;\n\
                   CREATE FUNCTION f() RETURNS int BEGIN ATOMIC SELECT 1; END;\n";
        assert_eq!(lines(&RULE, "", sql), vec![1, 5]);
    }
}
