//! The observation part of `migrate check`: what each new migration really did on the shadow
//! database (locks, rewrites, full scans, durations; `postgres::observe`), the findings it
//! gives against `[check] lock_budget`, and where it contradicts a lint guess.

pub mod base;
mod data;
pub mod reversibility;

pub use data::fill_for;

use std::time::Duration;

use serde::Serialize;

use crate::lint::Finding;
use crate::output::{count, human_ms, table};
use crate::postgres::fill::FillReport;
use crate::postgres::migration::Migration;
use crate::postgres::observe::{
    self, MigrationObservation, Relations, StatementObservation, is_table,
};
use crate::postgres::session::Session;

/// Observes migrations on a shadow database, one after the other.
pub struct Observer {
    /// A second session on the shadow database, sampling the locks of statements that cannot
    /// run in a transaction block.
    sampler: Session,
    /// The relations present before the first observed migration.
    existing: Relations,
    pub observed: Vec<ObservedMigration>,
}

impl Observer {
    /// Starts observing on the database of `session`: what exists now existed before.
    pub async fn start(session: &Session) -> anyhow::Result<Observer> {
        Ok(Observer {
            sampler: Session::open(session.settings()).await?,
            existing: observe::relations_of(session).await?,
            observed: Vec::new(),
        })
    }

    /// Applies `migration` on `session`, observed, and records it in the shadow's history.
    pub async fn apply(&mut self, session: &Session, migration: &Migration) -> anyhow::Result<()> {
        let observed = observe::apply(session, &self.sampler, migration, &self.existing).await?;
        self.observed.push(ObservedMigration {
            migration: migration.label(),
            file: migration.path.display().to_string(),
            observed,
        });
        Ok(())
    }
}

/// The observation section of the check report.
#[derive(Debug, Default, Serialize)]
pub struct ObservationSection {
    /// Locks blocking reads or writes on a table that existed before may be held this long.
    pub lock_budget_ms: u64,
    /// Which migrations count as new, and why.
    pub scope: Option<base::Scope>,
    /// The generated rows, with `--with-data N`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub with_data: Option<FillReport>,
    /// The new migrations, as observed (in the order they ran).
    pub migrations: Vec<ObservedMigration>,
    /// Locks held over the budget.
    pub findings: Vec<LockFinding>,
    /// Lint findings the observation contradicts: the observation wins (the finding is not
    /// counted as a problem).
    pub overruled: Vec<Overruled>,
    /// Why nothing was observed, if nothing was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

/// One migration's observation.
#[derive(Debug, Serialize)]
pub struct ObservedMigration {
    pub migration: String,
    pub file: String,
    #[serde(flatten)]
    pub observed: MigrationObservation,
}

/// A lock held over the budget.
#[derive(Debug, Clone, Serialize)]
pub struct LockFinding {
    pub migration: String,
    pub file: String,
    pub line: usize,
    pub statement: usize,
    pub relation: String,
    pub mode: String,
    pub held_ms: u64,
    pub budget_ms: u64,
    pub message: String,
    /// The lint rule whose fix is the hint, when one flagged the statement.
    pub rule: Option<&'static str>,
    pub hint: String,
}

/// A lint finding that the observation contradicts.
#[derive(Debug, Clone, Serialize)]
pub struct Overruled {
    pub rule: &'static str,
    pub file: String,
    pub line: usize,
    /// What the rule assumes the statement does.
    pub lint_says: &'static str,
    /// What the statement did on the shadow database.
    pub observed: String,
}

/// What a lint rule claims a statement does, when the observation can confirm or refute it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Claim {
    Rewrite,
    FullScan,
    BlocksWrites,
}

fn claim_of(rule: &str) -> Option<Claim> {
    // Findings carry the rule's own name; Squawk's names are resolved to it first.
    let rule = crate::lint::rules::by_name(rule).map_or(rule, |r| r.name);
    match rule {
        "adding-volatile-default" | "changing-column-type" => Some(Claim::Rewrite),
        "adding-constraint-without-not-valid" | "setting-not-null-without-check" => {
            Some(Claim::FullScan)
        }
        "create-index-non-concurrently" => Some(Claim::BlocksWrites),
        _ => None,
    }
}

/// The lint findings that point into `statement` (by line) of `file`.
fn findings_on<'f>(
    lint: &'f [Finding],
    file: &str,
    statement: &StatementObservation,
    next_line: Option<usize>,
) -> Vec<&'f Finding> {
    lint.iter()
        .filter(|finding| {
            finding.file == file
                && finding.line >= statement.line
                && next_line.is_none_or(|next| finding.line < next)
        })
        .collect()
}

/// Lock findings over `budget` and the lint findings the observation overrules.
pub fn judge(
    migrations: &[ObservedMigration],
    lint: &[Finding],
    budget: Duration,
) -> (Vec<LockFinding>, Vec<Overruled>) {
    let budget_ms = budget.as_millis() as u64;
    let mut findings = Vec::new();
    let mut overruled = Vec::new();
    for migration in migrations {
        let statements = &migration.observed.statements;
        for (index, statement) in statements.iter().enumerate() {
            let next_line = statements.get(index + 1).map(|next| next.line);
            let flagged = findings_on(lint, &migration.file, statement, next_line);
            for finding in &flagged {
                let Some(claim) = claim_of(finding.rule) else {
                    continue;
                };
                let (holds, lint_says, observed) = match claim {
                    Claim::Rewrite => (
                        statement.rewrote(),
                        "rewrites the table",
                        "no table or index was rewritten".to_string(),
                    ),
                    Claim::FullScan => (
                        statement.full_scan(),
                        "reads the whole table under a lock that blocks writes",
                        if statement.scans.is_empty() {
                            "no table was scanned".to_string()
                        } else {
                            "the scan held no lock that blocks writes".to_string()
                        },
                    ),
                    Claim::BlocksWrites => (
                        statement
                            .locks
                            .iter()
                            .any(|lock| lock.blocks_writes && lock.existed_before),
                        "blocks writes to an existing table",
                        "took no lock blocking writes on a table that existed before".to_string(),
                    ),
                };
                if !holds {
                    overruled.push(Overruled {
                        rule: finding.rule,
                        file: finding.file.clone(),
                        line: finding.line,
                        lint_says,
                        observed,
                    });
                }
            }
            for lock in &statement.locks {
                if !(lock.blocks_writes && lock.existed_before && is_table(lock.kind)) {
                    continue;
                }
                if lock.held_ms <= budget_ms {
                    continue;
                }
                let blocked = if lock.blocks_reads {
                    "reads and writes"
                } else {
                    "writes"
                };
                let rule = flagged
                    .iter()
                    .find(|finding| claim_of(finding.rule).is_some())
                    .or(flagged.first())
                    .copied();
                findings.push(LockFinding {
                    migration: migration.migration.clone(),
                    file: migration.file.clone(),
                    line: statement.line,
                    statement: statement.statement,
                    relation: lock.relation.clone(),
                    mode: lock.mode.clone(),
                    held_ms: lock.held_ms,
                    budget_ms,
                    message: format!(
                        "{} held on {} for {} (budget {}): it blocks {blocked}{}",
                        lock.mode,
                        lock.relation,
                        human_ms(lock.held_ms),
                        human_ms(budget_ms),
                        what_it_did(statement),
                    ),
                    rule: rule.map(|finding| finding.rule),
                    hint: rule.map_or_else(|| generic_hint(statement), |f| f.fix.clone()),
                });
            }
        }
    }
    (findings, overruled)
}

fn what_it_did(statement: &StatementObservation) -> String {
    let mut did = Vec::new();
    if statement.rewrote() {
        did.push(format!("rewrote {}", statement.rewrites.join(", ")));
    }
    if statement.full_scan() {
        did.push("read the whole table".to_string());
    }
    if did.is_empty() {
        String::new()
    } else {
        format!("; the statement {}", did.join(" and "))
    }
}

fn generic_hint(statement: &StatementObservation) -> String {
    let sql = statement.sql.to_ascii_uppercase();
    if sql.starts_with("CREATE INDEX") || sql.starts_with("CREATE UNIQUE INDEX") {
        "build the index with CREATE INDEX CONCURRENTLY in a `-- migrate:no-transaction` file"
            .to_string()
    } else if statement.rewrote() {
        "avoid the rewrite: add a new column, backfill it in batches, then switch over".to_string()
    } else if statement.full_scan() {
        "add the constraint NOT VALID, then VALIDATE CONSTRAINT in a later migration (it does not block writes)"
            .to_string()
    } else {
        "move slow work out of the transaction that holds the lock (a separate migration), and set lock_timeout"
            .to_string()
    }
}

/// The observation for humans: a table per migration, then the findings.
pub fn render(section: &ObservationSection) -> String {
    let mut out = String::new();
    if let Some(scope) = &section.scope {
        out.push_str(&format!("  new migrations: {}\n", scope.describe()));
    }
    if let Some(fill) = &section.with_data {
        out.push_str(&format!("  {}\n", fill.describe()));
    }
    for migration in &section.migrations {
        out.push_str(&format!(
            "\n{} ({}, {}{}):\n",
            migration.migration,
            migration.file,
            human_ms(migration.observed.duration_ms),
            if migration.observed.transactional {
                ""
            } else {
                ", no transaction"
            }
        ));
        let mut rows = table::new(&[
            "line",
            "statement",
            "locks",
            "rewrite",
            "full scan",
            "duration",
        ]);
        // Statements that only touched objects they created are counted, not listed.
        let (shown, quiet): (Vec<&StatementObservation>, Vec<&StatementObservation>) =
            migration.observed.statements.iter().partition(|statement| {
                statement.rewrote()
                    || !statement.scans.is_empty()
                    || statement.locks.iter().any(|lock| lock.existed_before)
            });
        if shown.is_empty() {
            out.push_str(&format!(
                "  {}: no lock on an existing relation, no rewrite, no scan\n",
                count(quiet.len(), "statement")
            ));
            continue;
        }
        for statement in shown {
            let locks = statement
                .locks
                .iter()
                .map(|lock| {
                    format!(
                        "{} {}{} {}",
                        lock.mode,
                        lock.relation,
                        if lock.existed_before { "" } else { " (new)" },
                        human_ms(lock.held_ms)
                    )
                })
                .collect::<Vec<_>>()
                .join("\n");
            rows.add_row([
                statement.line.to_string(),
                statement.sql.clone(),
                if locks.is_empty() {
                    "-".to_string()
                } else {
                    locks
                },
                if statement.rewrote() {
                    format!("yes: {}", statement.rewrites.join(", "))
                } else {
                    "no".to_string()
                },
                if statement.full_scan() {
                    let scanned = statement
                        .scans
                        .iter()
                        .filter(|scan| scan.under_write_lock)
                        .map(|scan| {
                            format!("{} ({})", scan.relation, count(scan.rows as usize, "row"))
                        })
                        .collect::<Vec<_>>()
                        .join(", ");
                    format!("yes: {scanned}")
                } else {
                    "no".to_string()
                },
                human_ms(statement.duration_ms),
            ]);
        }
        out.push_str(&rows.to_string());
        if !out.ends_with('\n') {
            out.push('\n');
        }
        if !quiet.is_empty() {
            out.push_str(&format!(
                "  and {} on new objects only (listed in the JSON report)\n",
                count(quiet.len(), "statement")
            ));
        }
    }
    if !section.findings.is_empty() {
        out.push_str("\nlocks over the budget:\n");
        for finding in &section.findings {
            out.push_str(&format!(
                "  {}:{}: {}: {}\n    hint{}: {}\n",
                finding.file,
                finding.line,
                finding.migration,
                finding.message,
                finding
                    .rule
                    .map_or_else(String::new, |rule| format!(" ({rule})")),
                finding.hint
            ));
        }
    }
    if !section.overruled.is_empty() {
        out.push_str("\nlint findings overruled by the observation:\n");
        for overruled in &section.overruled {
            out.push_str(&format!(
                "  {}:{}: [{}] lint says it {}; observed: {}\n",
                overruled.file,
                overruled.line,
                overruled.rule,
                overruled.lint_says,
                overruled.observed
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::postgres::observe::LockTaken;

    fn statement(
        line: usize,
        sql: &str,
        mode: &str,
        held_ms: u64,
        rewrites: &[&str],
    ) -> StatementObservation {
        StatementObservation {
            statement: 1,
            line,
            sql: sql.to_string(),
            duration_ms: held_ms,
            observed_by: "statement-end",
            locks: vec![LockTaken {
                relation: "public.big".to_string(),
                kind: "table",
                mode: crate::postgres::observe::mode_name(mode),
                existed_before: true,
                blocks_reads: crate::postgres::observe::blocks_reads(mode),
                blocks_writes: crate::postgres::observe::blocks_writes(mode),
                held_ms,
                oid: 1,
            }],
            rewrites: rewrites.iter().map(|r| r.to_string()).collect(),
            scans: Vec::new(),
        }
    }

    fn lint_finding(rule: &'static str, line: usize) -> Finding {
        Finding {
            rule,
            file: "V2__x.sql".to_string(),
            line,
            column: 1,
            code: String::new(),
            message: String::new(),
            fix: format!("fix of {rule}"),
        }
    }

    fn migration(statements: Vec<StatementObservation>) -> ObservedMigration {
        ObservedMigration {
            migration: "V2 x".to_string(),
            file: "V2__x.sql".to_string(),
            observed: MigrationObservation {
                transactional: true,
                duration_ms: 0,
                statements,
            },
        }
    }

    #[test]
    fn a_lock_over_the_budget_is_a_finding_with_the_rules_fix() {
        let observed = [migration(vec![statement(
            1,
            "ALTER TABLE big ALTER COLUMN a TYPE bigint",
            "AccessExclusiveLock",
            1500,
            &["public.big"],
        )])];
        let lint = [lint_finding("changing-column-type", 1)];
        let (findings, overruled) = judge(&observed, &lint, Duration::from_secs(1));
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].hint, "fix of changing-column-type");
        assert!(
            findings[0].message.contains("reads and writes"),
            "{}",
            findings[0].message
        );
        assert!(overruled.is_empty());
        let (findings, _) = judge(&observed, &lint, Duration::from_secs(2));
        assert!(findings.is_empty());
    }

    #[test]
    fn an_observation_contradicting_the_lint_overrules_it() {
        let observed = [migration(vec![
            statement(
                1,
                "ALTER TABLE big ALTER COLUMN b TYPE varchar(20)",
                "AccessExclusiveLock",
                5,
                &[],
            ),
            statement(3, "SELECT 1", "AccessShareLock", 5, &[]),
        ])];
        let lint = [
            lint_finding("changing-column-type", 2),
            lint_finding("changing-column-type", 3),
        ];
        let (findings, overruled) = judge(&observed, &lint, Duration::from_secs(1));
        assert!(findings.is_empty());
        assert_eq!(overruled.len(), 2);
        assert_eq!(overruled[0].line, 2);
        assert_eq!(overruled[0].observed, "no table or index was rewritten");
    }
}
