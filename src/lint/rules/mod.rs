//! The lint rules, one per file, and what every rule gets to look at: a file's statements plus
//! what the statements before it (in the same file or earlier pending files) created.

mod adding_constraint_without_not_valid;
mod adding_foreign_key_constraint;
mod adding_not_null_column;
mod adding_volatile_default;
mod ban_alter_domain_with_add_constraint;
mod ban_char_field;
mod ban_create_domain_with_constraint;
mod ban_drop_database;
mod ban_drop_not_null;
mod ban_truncate_cascade;
mod changing_column_type;
mod concurrently_in_transaction;
mod create_index_non_concurrently;
mod dropping_column;
mod dropping_table;
mod enum_value_used_in_transaction;
mod missing_lock_timeout;
mod prefer_bigint_over_int;
mod prefer_bigint_over_smallint;
mod prefer_identity;
mod prefer_robust_stmts;
mod prefer_text_field;
mod prefer_timestamptz;
mod renaming_column;
mod renaming_table;
mod require_concurrent_index_deletion;
mod require_enum_value_ordering;
mod require_statement_timeout;
mod require_table_schema;
mod setting_not_null_without_check;
#[cfg(test)]
mod snapshots;
mod transaction_nesting;
mod types;

use std::collections::HashMap;

use super::source::SourceFile;
use super::sql::{self, Action};

/// A rule: a name (used in reports and `-- lint:ignore`), one line about it, and its check.
pub struct Rule {
    pub name: &'static str,
    pub summary: &'static str,
    /// The names Squawk gives the same check (accepted by `-- lint:ignore` too).
    pub squawk: &'static [&'static str],
    /// Off unless `[lint] enable` names it (or `"all"`): schema style preferences, and checks
    /// whose premise this tool's defaults do not share.
    pub opt_in: bool,
    pub check: fn(&FileView<'_>) -> Vec<Hit>,
}

/// Every rule, in report order.
pub const ALL: &[&Rule] = &[
    &create_index_non_concurrently::RULE,
    &concurrently_in_transaction::RULE,
    &adding_not_null_column::RULE,
    &adding_volatile_default::RULE,
    &changing_column_type::RULE,
    &adding_constraint_without_not_valid::RULE,
    &setting_not_null_without_check::RULE,
    &renaming_column::RULE,
    &renaming_table::RULE,
    &dropping_column::RULE,
    &dropping_table::RULE,
    &enum_value_used_in_transaction::RULE,
    &missing_lock_timeout::RULE,
    &adding_foreign_key_constraint::RULE,
    &require_concurrent_index_deletion::RULE,
    &ban_drop_not_null::RULE,
    &ban_drop_database::RULE,
    &ban_truncate_cascade::RULE,
    &ban_alter_domain_with_add_constraint::RULE,
    &transaction_nesting::RULE,
    &prefer_robust_stmts::RULE,
    &require_statement_timeout::RULE,
    &prefer_bigint_over_int::RULE,
    &prefer_bigint_over_smallint::RULE,
    &prefer_identity::RULE,
    &prefer_text_field::RULE,
    &ban_char_field::RULE,
    &prefer_timestamptz::RULE,
    &ban_create_domain_with_constraint::RULE,
    &require_enum_value_ordering::RULE,
    &require_table_schema::RULE,
];

/// The rule called `name`, by its own name or one of its Squawk names.
pub fn by_name(name: &str) -> Option<&'static Rule> {
    ALL.iter()
        .copied()
        .find(|rule| rule.name == name)
        .or_else(|| ALL.iter().copied().find(|rule| rule.squawk.contains(&name)))
}

/// `[lint] enable`, each name checked and spelt as the rule spells it (Squawk names accepted):
/// an unknown name is a config error, reported before any command runs.
pub fn canonical_names(names: &[String]) -> anyhow::Result<Vec<String>> {
    names
        .iter()
        .map(|name| {
            if name == "all" {
                return Ok(name.clone());
            }
            match by_name(name) {
                Some(rule) => Ok(rule.name.to_string()),
                None => anyhow::bail!(
                    "[lint] enable: `{name}` names no lint rule (known: all, {})",
                    ALL.iter().map(|r| r.name).collect::<Vec<_>>().join(", ")
                ),
            }
        })
        .collect()
}

/// Something a rule found: where (statement and token) and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub statement: usize,
    pub token: usize,
    pub message: String,
    pub fix: String,
}

impl Hit {
    pub fn new(
        statement: usize,
        token: usize,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) -> Hit {
        Hit {
            statement,
            token,
            message: message.into(),
            fix: fix.into(),
        }
    }
}

/// A statement's place in the linted set: (file index, statement index).
pub type Position = (usize, usize);

/// What the linted files create and validate, with where.
#[derive(Debug, Default)]
pub struct Facts {
    created_tables: HashMap<String, Position>,
    created_indexes: HashMap<String, Position>,
    created_domains: HashMap<String, Position>,
    not_null_checks: HashMap<(String, String), Position>,
}

impl Facts {
    /// Walks every statement of every file, in order.
    pub fn gather(files: &[SourceFile]) -> Facts {
        let mut facts = Facts::default();
        let mut unvalidated: HashMap<String, (String, String)> = HashMap::new();
        for (f, file) in files.iter().enumerate() {
            for (s, statement) in file.statements.iter().enumerate() {
                let tokens = &statement.tokens;
                if let Some(table) = sql::created_table(tokens) {
                    facts.created_tables.entry(table).or_insert((f, s));
                }
                if let Some(index) = sql::created_index_name(tokens) {
                    facts.created_indexes.entry(index).or_insert((f, s));
                }
                if tokens.words_at(0, &["create", "domain"])
                    && let Some((parts, _)) = tokens.name_at(2)
                {
                    facts
                        .created_domains
                        .entry(sql::table_key(&parts))
                        .or_insert((f, s));
                }
                let Some(alter) = sql::alter_table(tokens) else {
                    continue;
                };
                for range in &alter.actions {
                    match sql::action(tokens, range.clone()) {
                        Action::AddConstraint {
                            name,
                            not_valid,
                            not_null_column: Some(column),
                            ..
                        } => {
                            let pair = (alter.table.clone(), column);
                            match (not_valid, name) {
                                (true, Some(name)) => {
                                    unvalidated.insert(name, pair);
                                }
                                (true, None) => {}
                                (false, _) => {
                                    facts.not_null_checks.entry(pair).or_insert((f, s));
                                }
                            }
                        }
                        Action::ValidateConstraint { name } => {
                            if let Some(pair) = unvalidated.remove(&name) {
                                facts.not_null_checks.entry(pair).or_insert((f, s));
                            }
                        }
                        Action::RenameTable { to }
                            if facts.created_tables.contains_key(&alter.table) =>
                        {
                            facts.created_tables.entry(to).or_insert((f, s));
                        }
                        _ => {}
                    }
                }
            }
        }
        facts
    }
}

/// One file, as a rule sees it.
pub struct FileView<'a> {
    pub file: &'a SourceFile,
    /// Index of the file in the linted set.
    pub index: usize,
    pub facts: &'a Facts,
    /// Whether the configuration sets a default lock_timeout for every migration.
    pub lock_timeout_configured: bool,
    /// Whether the configuration sets a statement_timeout for every migration.
    pub statement_timeout_configured: bool,
}

/// An `ALTER TABLE` action on a table that existed before the linted files.
pub struct ExistingTableAction {
    pub statement: usize,
    /// The action's first token.
    pub token: usize,
    pub table: String,
    pub action: Action,
}

impl FileView<'_> {
    /// Whether `table` existed before statement `statement` of this file, i.e. no earlier
    /// statement of the linted files created it (creating it in the same statement or later
    /// does not count either).
    pub fn is_existing_table(&self, table: &str, statement: usize) -> bool {
        self.facts
            .created_tables
            .get(table)
            .is_none_or(|&created| created >= (self.index, statement))
    }

    /// Whether index `index` existed before statement `statement` of this file (as for
    /// tables: no earlier statement of the linted files created it).
    pub fn is_existing_index(&self, index: &str, statement: usize) -> bool {
        self.facts
            .created_indexes
            .get(index)
            .is_none_or(|&created| created >= (self.index, statement))
    }

    /// Whether domain `domain` existed before statement `statement` of this file.
    pub fn is_existing_domain(&self, domain: &str, statement: usize) -> bool {
        self.facts
            .created_domains
            .get(domain)
            .is_none_or(|&created| created >= (self.index, statement))
    }

    /// Whether a validated `CHECK (column IS NOT NULL)` on `table` precedes `statement`.
    pub fn has_not_null_check(&self, table: &str, column: &str, statement: usize) -> bool {
        self.facts
            .not_null_checks
            .get(&(table.to_string(), column.to_string()))
            .is_some_and(|&at| at < (self.index, statement))
    }

    /// Every `ALTER TABLE` action of this file on a table that already existed.
    pub fn existing_table_actions(&self) -> Vec<ExistingTableAction> {
        let mut found = Vec::new();
        for (s, statement) in self.file.statements.iter().enumerate() {
            let Some(alter) = sql::alter_table(&statement.tokens) else {
                continue;
            };
            if !self.is_existing_table(&alter.table, s) {
                continue;
            }
            for range in alter.actions {
                found.push(ExistingTableAction {
                    statement: s,
                    token: range.start,
                    table: alter.table.clone(),
                    action: sql::action(&statement.tokens, range),
                });
            }
        }
        found
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Running one rule over SQL text, for the rules' unit tests.

    use super::*;

    /// Lines of the rule's hits in `sql` (a transactional file), with `created_before` run as
    /// an earlier file of the same pending set.
    pub fn lines(rule: &Rule, created_before: &str, sql: &str) -> Vec<usize> {
        lines_with(rule, created_before, sql, false)
    }

    pub fn lines_with(
        rule: &Rule,
        created_before: &str,
        sql: &str,
        lock_timeout_configured: bool,
    ) -> Vec<usize> {
        let earlier = source("V1__earlier.sql", created_before);
        let file = source("V2__linted.sql", sql);
        let files = vec![earlier, file];
        let facts = Facts::gather(&files);
        let view = FileView {
            file: &files[1],
            index: 1,
            facts: &facts,
            lock_timeout_configured,
            statement_timeout_configured: false,
        };
        (rule.check)(&view)
            .iter()
            .map(|hit| files[1].line(hit.statement, hit.token))
            .collect()
    }

    pub fn source(name: &str, text: &str) -> SourceFile {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        SourceFile::read(&path).unwrap()
    }

    #[test]
    fn every_rule_has_a_unique_kebab_case_name() {
        let mut names: Vec<&str> = ALL.iter().map(|r| r.name).collect();
        assert!(
            names
                .iter()
                .all(|n| n.chars().all(|c| c.is_ascii_lowercase() || c == '-'))
        );
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ALL.len());
    }

    #[test]
    fn squawk_names_are_aliases_of_one_rule_each_and_no_rule_name() {
        let mut aliases: Vec<&str> = ALL.iter().flat_map(|r| r.squawk.iter().copied()).collect();
        let count = aliases.len();
        aliases.sort_unstable();
        aliases.dedup();
        assert_eq!(aliases.len(), count, "a Squawk name maps to two rules");
        for rule in ALL {
            for alias in rule.squawk {
                assert_eq!(by_name(alias).map(|r| r.name), Some(rule.name));
            }
        }
        assert_eq!(
            by_name("constraint-missing-not-valid").map(|r| r.name),
            Some("adding-constraint-without-not-valid")
        );
        assert!(by_name("no-such-rule").is_none());
    }

    #[test]
    fn tables_created_earlier_in_the_set_are_new() {
        let files = vec![source(
            "V1__a.sql",
            "CREATE TABLE a (id int);\nALTER TABLE b ADD c int;",
        )];
        let facts = Facts::gather(&files);
        let view = FileView {
            file: &files[0],
            index: 0,
            facts: &facts,
            lock_timeout_configured: true,
            statement_timeout_configured: true,
        };
        assert!(view.is_existing_table("a", 0), "not before its own CREATE");
        assert!(!view.is_existing_table("a", 1));
        assert!(view.is_existing_table("b", 1));
    }
}
