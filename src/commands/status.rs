//! `migrate status`: one table with every migration of every store.

use serde::Serialize;

use super::Context;
use crate::errors::Outcome;
use crate::output::{Report, table};
use crate::postgres::engine::Session;
use crate::postgres::plan::{self, Entry, State};

#[derive(Debug, Serialize)]
pub struct StatusReport {
    pub stores: Vec<StoreStatus>,
}

#[derive(Debug, Serialize)]
pub struct StoreStatus {
    pub store: &'static str,
    pub database: String,
    pub migrations: Vec<Entry>,
    pub summary: Summary,
}

#[derive(Debug, Serialize, Default)]
pub struct Summary {
    pub applied: usize,
    pub pending: usize,
    pub problems: usize,
}

impl Summary {
    pub fn of(entries: &[Entry]) -> Summary {
        let mut summary = Summary::default();
        for entry in entries {
            match entry.state {
                State::Applied | State::Baseline => summary.applied += 1,
                State::Pending | State::Outdated => summary.pending += 1,
                _ => {}
            }
            if entry.state.is_problem() {
                summary.problems += 1;
            }
        }
        summary
    }
}

impl Report for StatusReport {
    fn human(&self) -> String {
        let mut t = table::new(&[
            "store",
            "version",
            "name",
            "state",
            "applied at (UTC)",
            "took",
            "note",
        ]);
        for store in &self.stores {
            for entry in &store.migrations {
                t.add_row(vec![
                    store.store.to_string(),
                    entry
                        .version
                        .map_or_else(|| "R".to_string(), |v| v.to_string()),
                    entry.name.clone(),
                    entry.state.as_str().to_string(),
                    entry
                        .applied_at
                        .map_or_else(String::new, |t| t.format("%Y-%m-%d %H:%M:%S").to_string()),
                    entry
                        .execution_ms
                        .map_or_else(String::new, crate::output::human_ms),
                    entry.note.clone().unwrap_or_default(),
                ]);
            }
        }
        let mut out = format!("{t}\n");
        for store in &self.stores {
            out.push_str(&format!(
                "{}: {} applied, {} pending, {} with problems ({})\n",
                store.store,
                store.summary.applied,
                store.summary.pending,
                store.summary.problems,
                store.database
            ));
        }
        out
    }
}

pub async fn run(context: &Context) -> anyhow::Result<Outcome> {
    let pg = context.settings.require_postgres()?;
    let set = crate::postgres::migration::load_dir(&context.settings.migrations_dir)?;
    for problem in &set.problems {
        context.printer.warn(problem.to_string());
    }
    let session = Session::open(pg).await?;
    let history = session.read_history().await?;
    let migrations = plan::status(&set, &history);
    let summary = Summary::of(&migrations);
    context.printer.report(&StatusReport {
        stores: vec![StoreStatus {
            store: "postgres",
            database: pg.target.to_string(),
            migrations,
            summary,
        }],
    });
    Ok(Outcome::Clean)
}
