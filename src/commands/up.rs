//! `migrate up`: apply pending migrations (PostgreSQL, then the other stores).

use serde::Serialize;

use super::Context;
use crate::cli::{Store, UpArgs};
use crate::errors::Outcome;
use crate::output::{Report, table};
use crate::postgres::engine::{self, Session, StepResult};
use crate::postgres::plan::{self, Step, UpOptions};

#[derive(Debug, Serialize)]
pub struct UpReport {
    pub dry_run: bool,
    pub stores: Vec<StoreUp>,
}

#[derive(Debug, Serialize)]
pub struct StoreUp {
    pub store: &'static str,
    pub database: String,
    /// What was (or, with --dry-run, would be) done, in order.
    pub plan: Vec<Step>,
    /// Steps completed, with their timings (empty on --dry-run).
    pub applied: Vec<StepResult>,
    /// Newest applied version after the run.
    pub version: Option<u64>,
}

impl Report for UpReport {
    fn human(&self) -> String {
        let mut out = String::new();
        for store in &self.stores {
            if self.dry_run {
                if store.plan.is_empty() {
                    out.push_str(&format!(
                        "{}: nothing to apply ({})\n",
                        store.store, store.database
                    ));
                    continue;
                }
                out.push_str(&format!(
                    "{}: plan for {} (dry run, nothing changed)\n",
                    store.store, store.database
                ));
                let mut t = table::new(&["#", "action", "migration", "transaction", "file"]);
                for (i, step) in store.plan.iter().enumerate() {
                    t.add_row(vec![
                        (i + 1).to_string(),
                        format!("{:?}", step.action).to_lowercase(),
                        step.label(),
                        if step.transactional {
                            "yes".into()
                        } else {
                            "no (statement by statement)".into()
                        },
                        step.file.clone(),
                    ]);
                }
                out.push_str(&format!("{t}\n"));
            } else if store.applied.is_empty() {
                out.push_str(&format!(
                    "{}: up to date{} ({})\n",
                    store.store,
                    store
                        .version
                        .map_or_else(String::new, |v| format!(" at V{v}")),
                    store.database
                ));
            } else {
                let total: u64 = store.applied.iter().map(|s| s.execution_ms).sum();
                out.push_str(&format!(
                    "{}: applied {} migration{} in {}{} ({})\n",
                    store.store,
                    store.applied.len(),
                    if store.applied.len() == 1 { "" } else { "s" },
                    crate::output::human_ms(total),
                    store
                        .version
                        .map_or_else(String::new, |v| format!(", now at V{v}")),
                    store.database
                ));
            }
        }
        out
    }
}

pub async fn run(context: &Context, args: &UpArgs) -> anyhow::Result<Outcome> {
    let settings = &context.settings;
    let printer = &context.printer;
    let mut report = UpReport {
        dry_run: args.dry_run,
        stores: Vec::new(),
    };
    let wants = |store: Store| args.store.is_none_or(|s| s == store);

    if wants(Store::Pg) {
        match &settings.postgres {
            None if args.store == Some(Store::Pg) => {
                settings.require_postgres()?;
            }
            None => printer.note("postgres: no URL configured, skipped"),
            Some(pg) => {
                let set = super::load_valid_migrations(context)?;
                let options = UpOptions {
                    target: args.target,
                    allow_out_of_order: args.allow_out_of_order || settings.allow_out_of_order,
                };
                let session = Session::open(pg).await?;
                let store = if args.dry_run {
                    let history = session.read_history().await?;
                    let steps = plan::plan_up(&set, &history, options)?;
                    StoreUp {
                        store: "postgres",
                        database: pg.target.to_string(),
                        version: newest(&history),
                        plan: steps,
                        applied: Vec::new(),
                    }
                } else {
                    let held = session.lock(printer).await?;
                    let outcome = async {
                        let history = session.read_history().await?;
                        let steps = plan::plan_up(&set, &history, options)?;
                        let applied =
                            engine::execute(&session, &held, &set, &steps, printer).await?;
                        let history = session.read_history().await?;
                        anyhow::Ok((steps, applied, newest(&history)))
                    }
                    .await;
                    let unlocked = session.unlock(held).await;
                    let (steps, applied, version) = outcome?;
                    unlocked?;
                    StoreUp {
                        store: "postgres",
                        database: pg.target.to_string(),
                        plan: steps,
                        applied,
                        version,
                    }
                };
                report.stores.push(store);
            }
        }
    }
    printer.report(&report);
    Ok(Outcome::Clean)
}

fn newest(history: &[crate::postgres::history::HistoryRow]) -> Option<u64> {
    history
        .iter()
        .filter(|row| row.kind != crate::postgres::history::RowKind::Repeatable)
        .filter_map(|row| row.version)
        .max()
}
