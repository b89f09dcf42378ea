//! `migrate repair`: after a human fixed a failed run, clear dirty state and re-record
//! checksums of edited files, printing every change.

use serde::Serialize;

use super::Context;
use crate::cli::RepairArgs;
use crate::errors::Outcome;
use crate::errors::under_lock;
use crate::output::{Report, table};
use crate::postgres::history::{HistoryEdit as Op, RowKind, RowState};
use crate::postgres::session::Session;

#[derive(Debug, Serialize)]
pub struct RepairReport {
    pub database: String,
    pub dry_run: bool,
    pub changes: Vec<Change>,
}

#[derive(Debug, Serialize, Clone)]
pub struct Change {
    pub migration: String,
    /// `removed-dirty`, `marked-applied` or `checksum-updated`.
    pub action: &'static str,
    pub detail: String,
}

impl Report for RepairReport {
    fn human(&self) -> String {
        if self.changes.is_empty() {
            return format!("nothing to repair ({})\n", self.database);
        }
        let mut t = table::new(&["migration", "change", "detail"]);
        for change in &self.changes {
            t.add_row(vec![
                change.migration.clone(),
                change.action.to_string(),
                change.detail.clone(),
            ]);
        }
        format!(
            "{}{t}\n",
            if self.dry_run {
                "would make these changes (dry run, nothing changed):\n"
            } else {
                ""
            }
        )
    }
}

/// What a repair would change, as a pure function of the files and the history: the plan that
/// `--dry-run` prints and the run executes as is.
fn plan(
    set: &crate::postgres::migration::MigrationSet,
    history: &[crate::postgres::history::HistoryRow],
    mark_applied: bool,
) -> Vec<(Change, Op)> {
    let mut planned = Vec::new();
    for row in history {
        let label = match row.version {
            Some(v) if row.kind != RowKind::Repeatable => format!("V{v} {}", row.name),
            _ => format!("R {}", row.name),
        };
        let version = if row.kind == RowKind::Repeatable {
            None
        } else {
            row.version
        };
        let file = match version {
            Some(v) => set.by_version(v),
            None => set.repeatable_by_name(&row.name),
        };
        if row.state == RowState::Dirty {
            let progress = row
                .progress()
                .map_or_else(|| "progress unknown".to_string(), |p| p.completed());
            if mark_applied {
                planned.push((
                    Change {
                        migration: label.clone(),
                        action: "marked-applied",
                        detail: format!("was dirty ({progress}); recorded as applied"),
                    },
                    Op::MarkApplied(version, row.name.clone()),
                ));
            } else {
                planned.push((
                    Change {
                        migration: label.clone(),
                        action: "removed-dirty",
                        detail: match row.progress().map(|p| p.direction) {
                            Some(crate::postgres::history::Direction::Down) => format!(
                                "was dirty ({progress}); it counts as not applied now: undo what is left of it by hand, or `up` runs the whole file again"
                            ),
                            _ => format!(
                                "was dirty ({progress}); `up` will run the whole file again"
                            ),
                        },
                    },
                    match version {
                        Some(v) => Op::DeleteVersion(v),
                        None => Op::DeleteRepeatable(row.name.clone()),
                    },
                ));
                continue;
            }
        }
        if row.kind == RowKind::Baseline {
            continue;
        }
        if let Some(file) = file
            && row.checksum.as_ref() != Some(&file.checksum)
            && row.kind == RowKind::Versioned
        {
            planned.push((
                Change {
                    migration: label,
                    action: "checksum-updated",
                    detail: format!(
                        "{} -> {}",
                        row.checksum.as_ref().map_or("none", |c| c.short()),
                        file.checksum.short()
                    ),
                },
                Op::UpdateChecksum(version, row.name.clone(), file.checksum.clone()),
            ));
        }
    }
    planned
}

pub async fn run(context: &Context, args: &RepairArgs) -> anyhow::Result<Outcome> {
    super::guard_protected(context, "repair", args.dry_run)?;
    let pg = context.settings.require_postgres()?;
    let set = super::load_valid_migrations(&context.settings.migrations_dir)?;
    let session = Session::open(pg).await?;
    let held = session.lock(&context.printer).await?;
    let changes = under_lock(
        held,
        async |_held| {
            let history = session.read_history().await?;
            let planned = plan(&set, &history, args.mark_applied);
            if !args.dry_run && !planned.is_empty() {
                let ops: Vec<Op> = planned.iter().map(|(_, op)| op.clone()).collect();
                session
                    .edit_history(&ops)
                    .await
                    .map_err(|err| err.context("repair failed"))?;
            }
            anyhow::Ok(planned.into_iter().map(|(change, _)| change).collect())
        },
        |held| session.unlock(held),
    )
    .await?;
    context.printer.report(&RepairReport {
        database: pg.target.to_string(),
        dry_run: args.dry_run,
        changes,
    });
    Ok(Outcome::Clean)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::postgres::history::HistoryRow;
    use crate::postgres::migration::Checksum;

    fn row(version: u64, name: &str, checksum: &str, state: RowState) -> HistoryRow {
        HistoryRow {
            version: Some(version),
            name: name.into(),
            kind: RowKind::Versioned,
            checksum: Some(Checksum::from_hex(checksum.to_string())),
            applied_at: chrono::Utc::now(),
            execution_ms: 1,
            applied_by: "test".into(),
            tool_version: "0".into(),
            state,
            statements_done: Some(1),
            statements_total: Some(3),
            error: None,
            statements_checksum: None,
        }
    }

    #[test]
    fn the_plan_names_every_change_and_the_write_that_makes_it() {
        let dir = tempfile::tempdir().unwrap();
        let migrations = dir.path().join("migrations");
        std::fs::create_dir_all(&migrations).unwrap();
        std::fs::write(migrations.join("V1__a.sql"), "CREATE TABLE a (id int);\n").unwrap();
        std::fs::write(
            migrations.join("V2__b.sql"),
            "-- migrate:no-transaction\nCREATE TABLE b (id int);\n",
        )
        .unwrap();
        let set = crate::postgres::migration::load_dir(&migrations).unwrap();
        let v1 = set.by_version(1).unwrap().checksum.to_string();
        let history = vec![
            row(1, "a", &"0".repeat(64), RowState::Applied),
            row(2, "b", &v1, RowState::Dirty),
        ];
        let removed = plan(&set, &history, false);
        let actions: Vec<&str> = removed.iter().map(|(c, _)| c.action).collect();
        assert_eq!(actions, ["checksum-updated", "removed-dirty"]);
        assert!(matches!(removed[1].1, Op::DeleteVersion(2)));
        let marked = plan(&set, &history, true);
        assert!(matches!(&marked[1].1, Op::MarkApplied(Some(2), name) if name == "b"));
        // A repaired history plans nothing.
        let clean = vec![row(1, "a", &v1, RowState::Applied)];
        assert!(plan(&set, &clean, false).is_empty());
    }
}
