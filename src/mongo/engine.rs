//! Runs Mongo plans: op by op, each recorded in the history as it completes, under the lock,
//! so that a run that stops (failure, kill, lost lease) resumes at the op it was running.

use std::time::Instant;

use serde::Serialize;

use super::apply::{self, Applied};
use super::connect::{self, Connection};
use super::history::{Direction, History, HistoryRecord};
use super::lock::{self, Acquired, Held, LockOptions};
use super::migration::MongoSet;
use super::plan::{Action, Step};
use crate::config::MongoSettings;
use crate::errors::Detailed;
use crate::output::Printer;

/// A connection plus the history collection and settings of one database.
pub struct MongoSession {
    pub(in crate::mongo) connection: Connection,
    pub(in crate::mongo) history: History,
    pub(in crate::mongo) settings: MongoSettings,
}

impl MongoSession {
    /// Connects and pings; nothing is written.
    pub async fn open(settings: &MongoSettings) -> anyhow::Result<MongoSession> {
        let connection = connect::connect(settings).await?;
        let history = History::new(&connection.database, &settings.history_collection);
        Ok(MongoSession {
            connection,
            history,
            settings: settings.clone(),
        })
    }

    /// The name of the history collection (planning names it in its steps).
    pub fn history_name(&self) -> &str {
        self.history.name()
    }

    /// `user@host:port/db`.
    pub fn display(&self) -> &str {
        &self.connection.display
    }

    pub async fn read_history(&self) -> anyhow::Result<Vec<HistoryRecord>> {
        self.history.read().await.map_err(|err| {
            anyhow::Error::from(Detailed::new(format!(
                "cannot read the mongo history collection {} on {}: {err:#}",
                self.history.name(),
                self.display()
            )))
        })
    }

    /// Takes the migration lock, telling the user whom it waits for and whose expired lock it
    /// took over.
    pub async fn lock(&self, printer: &Printer) -> anyhow::Result<Held> {
        let options = LockOptions {
            id: self.history.name().to_string(),
            lease: self.settings.lock_lease,
            max_wait: self.settings.lock_wait,
        };
        let (held, acquired) = lock::acquire(&self.connection.database, &options, |holder, now| {
            printer.step(format!(
                "mongo: waiting for the migration lock held by {}",
                holder.describe(now)
            ));
        })
        .await?;
        if let Acquired::TookOver(holder) = acquired {
            printer.warn(format!(
                "mongo: took over the migration lock of pid {} on {}, which stopped renewing it",
                holder.pid, holder.host
            ));
        }
        Ok(held)
    }

    pub async fn unlock(&self, held: Held) -> anyhow::Result<()> {
        lock::release(held).await
    }
}

/// What happened to one step.
#[derive(Debug, Clone, Serialize)]
pub struct StepResult {
    #[serde(flatten)]
    pub step: Step,
    pub execution_ms: u64,
    /// Ops that found their work already done (idempotent no-ops).
    pub ops_already_done: usize,
}

/// Runs the steps in order, stopping at the first failure.
pub async fn execute(
    session: &MongoSession,
    held: &Held,
    set: &MongoSet,
    steps: &[Step],
    printer: &Printer,
) -> anyhow::Result<Vec<StepResult>> {
    let mut results = Vec::with_capacity(steps.len());
    for step in steps {
        let started = Instant::now();
        match run_step(session, held, set, step, printer).await {
            Ok(ops_already_done) => {
                let execution_ms = started.elapsed().as_millis() as u64;
                let verb = match step.action {
                    Action::Apply => "applied",
                    Action::Resume => "resumed and applied",
                    Action::Revert => "reverted",
                };
                printer.step(format!(
                    "mongo: {verb} {} ({})",
                    step.label(),
                    crate::output::human_ms(execution_ms)
                ));
                results.push(StepResult {
                    step: step.clone(),
                    execution_ms,
                    ops_already_done,
                });
            }
            Err(error) => {
                let before = if results.is_empty() {
                    "no mongo migration was completed in this run".to_string()
                } else {
                    format!(
                        "{} mongo migration{} completed before it in this run",
                        results.len(),
                        if results.len() == 1 { " was" } else { "s were" }
                    )
                };
                return Err(error.context(before).into());
            }
        }
    }
    Ok(results)
}

/// Runs one migration's ops from `step.from_op`, recording progress after each.
async fn run_step(
    session: &MongoSession,
    held: &Held,
    set: &MongoSet,
    step: &Step,
    printer: &Printer,
) -> Result<usize, Detailed> {
    // Plans are built from this same set, so every step has its file.
    let migration = set
        .by_version(step.version)
        .ok_or_else(|| Detailed::new(format!("internal error: no file for {}", step.label())))?;
    let (ops, direction, list) = match step.action {
        Action::Apply | Action::Resume => (&migration.up, Direction::Up, "up"),
        Action::Revert => (
            migration
                .down
                .as_ref()
                .ok_or_else(|| Detailed::new(format!("{} has no down ops", step.label())))?,
            Direction::Down,
            "down",
        ),
    };
    let history = &session.history;
    let database = &session.connection.database;
    let started = Instant::now();
    let bookkeeping = |err: anyhow::Error| {
        Detailed::new(format!(
            "mongo migration {}: cannot record progress in {}: {err:#}",
            step.label(),
            history.name()
        ))
    };
    held.check().map_err(lock_error)?;
    history
        .start(migration, direction, ops.len(), step.from_op)
        .await
        .map_err(bookkeeping)?;
    if step.from_op > 0 {
        printer.step(format!(
            "mongo: resuming {} at {list}[{}] of {} (a previous run stopped there)",
            step.label(),
            step.from_op,
            ops.len()
        ));
    }
    let mut already_done = 0;
    for (index, op) in ops.iter().enumerate().skip(step.from_op) {
        held.check().map_err(lock_error)?;
        let timed = printer.timed(format!(
            "mongo: {}:{list}[{index}]: {}",
            step.file,
            op.describe()
        ));
        match apply::apply(database, op).await {
            Ok(Applied::Done) => timed.done(None),
            Ok(Applied::AlreadyDone(reason)) => {
                already_done += 1;
                timed.done(Some(&format!("nothing to do, {reason}")));
            }
            Err(error) => {
                timed.done(Some("failed"));
                // Best effort: the failure itself is what the user must see.
                let _ = history.fail(step.version, &error.message).await;
                let resume = match direction {
                    Direction::Up => "`migrate up`",
                    Direction::Down => "`migrate down --store mongo`",
                };
                let mut failed = Detailed::new(format!(
                    "mongo migration {} failed at {list}[{index}]: {}",
                    step.label(),
                    error.message
                ));
                for line in error.context {
                    failed = failed.context(line);
                }
                failed = failed.context(format!(
                    "{index} op{} before it completed and {} recorded; {resume} resumes at this op",
                    if index == 1 { "" } else { "s" },
                    if index == 1 { "is" } else { "are" }
                ));
                for hint in error.hints {
                    failed = failed.hint(hint);
                }
                return Err(failed);
            }
        }
        held.check().map_err(lock_error)?;
        history
            .progress(step.version, index + 1)
            .await
            .map_err(bookkeeping)?;
    }
    let execution_ms = started.elapsed().as_millis() as u64;
    match direction {
        Direction::Up => history
            .finish_up(step.version, ops.len(), execution_ms)
            .await
            .map_err(bookkeeping)?,
        Direction::Down => history
            .finish_down(step.version)
            .await
            .map_err(bookkeeping)?,
    }
    Ok(already_done)
}

fn lock_error(err: anyhow::Error) -> Detailed {
    match err.downcast::<Detailed>() {
        Ok(detailed) => detailed,
        Err(err) => Detailed::new(format!("{err:#}")),
    }
}
