//! `migrate repair`: after a human fixed a failed run, clear dirty state and re-record
//! checksums of edited files, printing every change.

use serde::Serialize;

use super::Context;
use crate::cli::RepairArgs;
use crate::errors::Outcome;
use crate::output::{Report, table};
use crate::postgres::engine::Session;
use crate::postgres::history::{RowKind, RowState};

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

pub async fn run(context: &Context, args: &RepairArgs) -> anyhow::Result<Outcome> {
    super::guard_protected(context, "repair", args.dry_run)?;
    let pg = context.settings.require_postgres()?;
    let set = super::load_valid_migrations(&context.settings.migrations_dir)?;
    let session = Session::open(pg).await?;
    let held = session.lock(&context.printer).await?;
    let outcome = async {
        let history = session.read_history().await?;
        let mut changes = Vec::new();
        for row in &history {
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
                if args.mark_applied {
                    if !args.dry_run {
                        session
                            .history
                            .mark_applied(&session.client, version, &row.name)
                            .await?;
                    }
                    changes.push(Change {
                        migration: label.clone(),
                        action: "marked-applied",
                        detail: format!("was dirty ({progress}); recorded as applied"),
                    });
                } else {
                    if !args.dry_run {
                        match version {
                            Some(v) => session.history.delete_version(&session.client, v).await?,
                            None => {
                                session
                                    .history
                                    .delete_repeatable(&session.client, &row.name)
                                    .await?
                            }
                        };
                    }
                    changes.push(Change {
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
                    });
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
                if !args.dry_run {
                    session
                        .history
                        .update_checksum(&session.client, version, &row.name, &file.checksum)
                        .await?;
                }
                changes.push(Change {
                    migration: label,
                    action: "checksum-updated",
                    detail: format!(
                        "{} -> {}",
                        row.checksum.as_ref().map_or("none", |c| c.short()),
                        file.checksum.short()
                    ),
                });
            }
        }
        anyhow::Ok(changes)
    }
    .await;
    let unlocked = session.unlock(held).await;
    let changes = outcome?;
    unlocked?;
    context.printer.report(&RepairReport {
        database: pg.target.to_string(),
        dry_run: args.dry_run,
        changes,
    });
    Ok(Outcome::Clean)
}
