//! `up --dry-run --sql` and `down --dry-run --sql`: a plan written out as the SQL script that
//! would run, for `psql -v ON_ERROR_STOP=1 -f`. It does what the engine does, in the same
//! order: the migration lock, the history table, each file's transaction (or, for a
//! `-- migrate:no-transaction` file, each statement with its recorded progress) and the
//! history rows. Applied with psql it leaves the same schema and history rows as `migrate up`.

use std::fmt::Write as _;

use super::engine::timeouts_sql;
use super::history::{HistoryTable, prefix_checksum};
use super::lock::LockKey;
use super::migration::{Migration, MigrationSet};
use super::plan::{Action, Step};
use super::splitter;
use crate::config::PgSettings;
use crate::errors::Detailed;

/// The script of `steps` (a plan of `up` or `down`) for the database of `settings`.
pub fn render(
    settings: &PgSettings,
    set: &MigrationSet,
    steps: &[Step],
    command: &str,
) -> Result<String, Detailed> {
    let history = HistoryTable::new(&settings.history_table);
    let key = LockKey::for_table(&history.qualified());
    let mut out = String::new();
    let _ = writeln!(
        out,
        "-- The SQL `migrate {command}` would run on {} (migrate {}).",
        settings.target,
        crate::TOOL_VERSION
    );
    out.push_str(
        "-- Run it with: psql -v ON_ERROR_STOP=1 -X -f FILE URL\n\
         -- It takes migrate's migration lock, so it never runs beside migrate or another copy.\n\
         \\set ON_ERROR_STOP on\n\n",
    );
    let _ = writeln!(out, "SELECT pg_advisory_lock({});", key.0);
    out.push_str(&history.create_sql());
    out.push_str(";\n");
    let _ = writeln!(
        out,
        "ALTER TABLE {} ADD COLUMN IF NOT EXISTS statements_checksum text;",
        history.qualified()
    );
    if steps.is_empty() {
        out.push_str("\n-- Nothing to do: the plan is empty.\n");
    }
    for step in steps {
        let migration = match step.version {
            Some(version) => set.by_version(version),
            None => set.repeatable_by_name(&step.name),
        }
        .ok_or_else(|| Detailed::new(format!("internal error: no file for {}", step.label())))?;
        let down = step.action == Action::Revert;
        let (text, what) = if down {
            (
                migration.down.as_deref().unwrap_or_default(),
                "down part of",
            )
        } else {
            (migration.up.as_str(), "up part of")
        };
        let statements = splitter::split(text)
            .map_err(|err| Detailed::new(format!("{}: {err}", migration.path.display())))?;
        let _ = writeln!(
            out,
            "\n-- {} {}: {} {}{}",
            match step.action {
                Action::Apply => "apply",
                Action::Reapply => "re-apply",
                Action::Revert => "revert",
                Action::Resume => "resume",
            },
            step.label(),
            what,
            migration.path.display(),
            if migration.no_transaction {
                " (no transaction: statement by statement)"
            } else {
                ""
            }
        );
        if migration.no_transaction {
            no_transaction(
                &mut out,
                settings,
                &history,
                migration,
                &statements,
                step,
                down,
            );
        } else {
            in_transaction(&mut out, settings, &history, migration, &statements, down);
        }
    }
    let _ = writeln!(out, "\nSELECT pg_advisory_unlock({});", key.0);
    Ok(out)
}

fn in_transaction(
    out: &mut String,
    settings: &PgSettings,
    history: &HistoryTable,
    migration: &Migration,
    statements: &[splitter::Statement<'_>],
    down: bool,
) {
    out.push_str("BEGIN;\n");
    out.push_str(&timeouts_sql(settings, migration, "LOCAL "));
    out.push('\n');
    for statement in statements {
        push_statement(out, statement.sql);
    }
    if down {
        let _ = writeln!(out, "{};", history.delete_sql(migration));
    } else {
        let _ = writeln!(out, "{};", history.record_applied_sql(migration));
    }
    out.push_str("COMMIT;\n");
}

fn no_transaction(
    out: &mut String,
    settings: &PgSettings,
    history: &HistoryTable,
    migration: &Migration,
    statements: &[splitter::Statement<'_>],
    step: &Step,
    down: bool,
) {
    let start = step.resume_from.unwrap_or(0);
    let _ = writeln!(
        out,
        "{};",
        if down {
            history.begin_down_progress_sql(migration, statements.len())
        } else if step.resume_from.is_some() {
            history.resume_progress_sql(migration, statements.len())
        } else {
            history.begin_progress_sql(migration, statements.len())
        }
    );
    out.push_str(&timeouts_sql(settings, migration, ""));
    out.push('\n');
    for (index, statement) in statements.iter().enumerate().skip(start) {
        push_statement(out, statement.sql);
        let progress = if down {
            history.record_down_progress_sql(migration, index + 1)
        } else {
            let prefix = prefix_checksum(statements.iter().map(|s| s.sql), index + 1);
            history.record_progress_sql(migration, index + 1, &prefix)
        };
        let _ = writeln!(out, "{progress};");
    }
    out.push_str("RESET lock_timeout; RESET statement_timeout;\n");
    if down {
        let _ = writeln!(out, "{};", history.delete_sql(migration));
    } else {
        let _ = writeln!(out, "{};", history.finish_progress_sql(migration, None));
    }
}

/// A statement and its `;`, on a line of its own when the statement ends in a `--` comment.
fn push_statement(out: &mut String, sql: &str) {
    out.push_str(sql);
    if sql.lines().last().is_some_and(|line| line.contains("--")) {
        out.push('\n');
    }
    out.push_str(";\n");
}
