//! Runs plans against PostgreSQL: one transaction per migration (its history row included), or
//! statement by statement with recorded progress for `-- migrate:no-transaction` files.

use std::time::{Duration, Instant};

use serde::Serialize;
use tokio_postgres::{Client, SimpleQueryMessage};

use super::lock::{self, Held};
use super::migration::{Migration, MigrationSet, TimeoutOverride};
use super::plan::{Action, Step};
/// The session moved to `postgres::session`; this path still names it.
pub use super::session::Session;
use super::splitter;
use crate::config::PgSettings;
use crate::errors::db::describe;
use crate::errors::{DbError, Detailed, Work};
use crate::output::Printer;

/// What happened to one step.
#[derive(Debug, Clone, Serialize)]
pub struct StepResult {
    #[serde(flatten)]
    pub step: Step,
    pub execution_ms: u64,
}

/// Why a step failed: the server (the driver's error kept in a [`DbError`]) or migrate itself.
/// Both carry context lines, so the run can add what completed before the step.
#[derive(Debug)]
enum StepError {
    Db(DbError),
    Other(Detailed),
}

impl StepError {
    fn context(self, line: impl Into<String>) -> StepError {
        match self {
            StepError::Db(err) => StepError::Db(err.context(line)),
            StepError::Other(err) => StepError::Other(err.context(line)),
        }
    }
}

impl std::fmt::Display for StepError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StepError::Db(err) => err.fmt(f),
            StepError::Other(err) => err.fmt(f),
        }
    }
}

impl From<DbError> for StepError {
    fn from(err: DbError) -> StepError {
        StepError::Db(err)
    }
}

impl From<Detailed> for StepError {
    fn from(err: Detailed) -> StepError {
        StepError::Other(err)
    }
}

impl From<StepError> for anyhow::Error {
    fn from(err: StepError) -> anyhow::Error {
        match err {
            StepError::Db(err) => err.into(),
            StepError::Other(err) => err.into(),
        }
    }
}

/// Runs the steps in order, stopping at the first failure. Each finished step is reported
/// through the printer as it completes.
pub async fn execute(
    session: &Session,
    held: &Held,
    set: &MigrationSet,
    steps: &[Step],
    printer: &Printer,
) -> anyhow::Result<Vec<StepResult>> {
    let mut results = Vec::with_capacity(steps.len());
    let bar = printer.progress(steps.len() as u64, "migrating");
    for step in steps {
        let migration = match step.version {
            Some(version) => set.by_version(version),
            None => set.repeatable_by_name(&step.name),
        }
        // Plans are built from this same set, so every step has its file.
        .ok_or_else(|| anyhow::anyhow!("internal error: no file for {}", step.label()))?;
        bar.set_message(step.label());
        let started = Instant::now();
        let outcome = match (step.action, migration.no_transaction) {
            (Action::Apply | Action::Reapply, false) => {
                apply_in_transaction(session, held, migration, printer).await
            }
            (Action::Apply | Action::Reapply | Action::Resume, true) => {
                let part = Part::up(migration);
                run_statement_by_statement(session, migration, &part, step.resume_from, printer)
                    .await
            }
            (Action::Resume, false) => Err(Detailed::new(format!(
                "{} cannot be resumed: only `-- migrate:no-transaction` files run statement by statement",
                step.label()
            ))
            .into()),
            (Action::Revert, false) => {
                revert_in_transaction(session, held, migration, printer).await
            }
            (Action::Revert, true) => {
                let part = Part::down(migration);
                run_statement_by_statement(session, migration, &part, None, printer).await
            }
        };
        let execution_ms = started.elapsed().as_millis() as u64;
        if let Err(error) = outcome {
            bar.finish_and_clear();
            let before = if results.is_empty() {
                "no migration was completed in this run".to_string()
            } else {
                format!(
                    "{} migration{} completed before it in this run",
                    results.len(),
                    if results.len() == 1 { " was" } else { "s were" }
                )
            };
            return Err(error.context(before).into());
        }
        bar.inc(1);
        bar.suspend(|| {
            let verb = match step.action {
                Action::Apply => "applied",
                Action::Reapply => "re-applied",
                Action::Resume => "resumed and applied",
                Action::Revert => "reverted",
            };
            printer.step(format!(
                "{verb} {} ({})",
                step.label(),
                crate::output::human_ms(execution_ms)
            ));
        });
        results.push(StepResult {
            step: step.clone(),
            execution_ms,
        });
    }
    bar.finish_and_clear();
    Ok(results)
}

fn timeout_sql(scope: &str, setting: &str, value: Option<Duration>) -> String {
    let ms = value.map_or(0, |d| d.as_millis());
    format!("SET {scope}{setting} = '{ms}ms';")
}

fn effective(override_: Option<TimeoutOverride>, default: Option<Duration>) -> Option<Duration> {
    match override_ {
        Some(value) => value,
        None => default,
    }
}

fn timeouts(session: &Session, migration: &Migration, scope: &str) -> String {
    timeouts_sql(&session.settings, migration, scope)
}

/// `SET [LOCAL] lock_timeout = '…'; SET [LOCAL] statement_timeout = '…';` for `migration`:
/// its directives, else the settings' defaults.
pub(crate) fn timeouts_sql(settings: &PgSettings, migration: &Migration, scope: &str) -> String {
    format!(
        "{} {}",
        timeout_sql(
            scope,
            "lock_timeout",
            effective(migration.lock_timeout, settings.lock_timeout)
        ),
        timeout_sql(
            scope,
            "statement_timeout",
            effective(migration.statement_timeout, settings.statement_timeout)
        )
    )
}

async fn apply_in_transaction(
    session: &Session,
    held: &Held,
    migration: &Migration,
    printer: &Printer,
) -> Result<(), StepError> {
    let record = format!(
        "{} RETURNING pg_backend_pid()",
        session.history.record_applied_sql(migration)
    );
    let part = Part::up(migration);
    run_pipelined(session, held, migration, &part, &record, printer).await
}

/// The session setting that marks the transaction a migration runs in: set at `BEGIN` to the
/// transaction's id, local to the transaction, so it reads as empty in any other transaction.
const MARKER: &str = "migrate.transaction";

/// Sent after every statement of a transactional migration, in the same query, and before its
/// history change: fails unless the session is still inside the transaction the migration
/// began. A statement that ended that transaction by any route (`COMMIT`, `ROLLBACK`, a
/// `COMMIT AND CHAIN`) makes its own guard fail, so the run stops there with the truth; a
/// statement after it runs in an implicit transaction that the guard's error rolls back, and
/// the history row is never written outside the migration's transaction. The error is a cast
/// of a text that names the guard (recognised by `is_guard_error`); the text depends on
/// `current_setting`, so the planner cannot evaluate it ahead of the `CASE`.
const GUARD: &str = "SELECT CASE WHEN pg_catalog.current_setting('migrate.transaction', true) = pg_catalog.txid_current_if_assigned()::text THEN NULL ELSE ('migrate guard: not inside the transaction of the migration ' || coalesce(pg_catalog.current_setting('migrate.transaction', true), ''))::pg_catalog.int4 END";

fn is_guard_error(err: &tokio_postgres::Error) -> bool {
    err.as_db_error().is_some_and(|db| {
        *db.code() == tokio_postgres::error::SqlState::INVALID_TEXT_REPRESENTATION
            && db.message().contains("migrate guard:")
    })
}

/// Runs one transactional migration as a pipeline: `BEGIN`, timeouts and the transaction
/// marker, each statement (followed by the guard) as its own query, then the guard, the history
/// change and `COMMIT`, all sent before the first answer comes back. A failing statement aborts
/// the transaction, so everything after it (the `COMMIT` included) fails or rolls back; the
/// answers say exactly which statement failed first. After any failure the transaction's fate
/// is read back from the server (`txid_status`) before the error says what remains.
async fn run_pipelined(
    session: &Session,
    held: &Held,
    migration: &Migration,
    part: &Part<'_>,
    history_sql: &str,
    printer: &Printer,
) -> Result<(), StepError> {
    use futures_util::future::{BoxFuture, FutureExt, MaybeDone, maybe_done};

    let (text, line_offset) = (part.text, part.line_offset);
    let client = &session.client;
    let statements = split_or_fail(migration, text, line_offset)?;
    refuse_nul(migration, text, line_offset, &statements)?;
    let begin = format!(
        "BEGIN; {} SELECT pg_catalog.set_config('{MARKER}', pg_catalog.txid_current()::text, true)",
        timeouts(session, migration, "LOCAL ")
    );
    let guarded: Vec<String> = statements
        .iter()
        // A newline first: the statement may end in a `--` comment.
        .map(|statement| format!("{}\n;{GUARD}", statement.sql))
        .collect();
    let finish = format!("{GUARD}; {history_sql}; COMMIT");
    type Answer = Result<Option<i64>, tokio_postgres::Error>;
    let mut requests: Vec<std::pin::Pin<Box<MaybeDone<BoxFuture<'_, Answer>>>>> =
        Vec::with_capacity(statements.len() + 2);
    requests.push(Box::pin(maybe_done(
        client
            .simple_query(&begin)
            .map(|r| r.map(|messages| first_number(&messages)))
            .boxed(),
    )));
    for query in &guarded {
        requests.push(Box::pin(maybe_done(
            client
                .batch_execute(query)
                .map(|r| r.map(|()| None))
                .boxed(),
        )));
    }
    requests.push(Box::pin(maybe_done(
        client
            .simple_query(&finish)
            .map(|r| r.map(|messages| first_number(&messages)))
            .boxed(),
    )));
    if printer.verbose_enabled() {
        // One at a time, each statement named before it runs and timed: slower than the
        // pipeline, and what `-v` is for.
        for (position, request) in requests.iter_mut().enumerate() {
            let timed = position
                .checked_sub(1)
                .and_then(|index| statements.get(index).map(|s| (index, s)))
                .map(|(index, statement)| {
                    printer.timed(describe_statement(
                        migration,
                        part,
                        &statements,
                        index,
                        statement,
                    ))
                });
            request.as_mut().await;
            if let Some(timed) = timed {
                timed.done(None);
            }
        }
    } else {
        // Poll each request once, in order, so they are queued on the connection in order;
        // then wait for all answers.
        for request in requests.iter_mut() {
            let _ = futures_util::poll!(request.as_mut());
        }
        for request in requests.iter_mut() {
            request.as_mut().await;
        }
    }
    let mut answers: Vec<Answer> = requests
        .iter_mut()
        .map(|request| {
            request
                .as_mut()
                .take_output()
                // Every request was awaited to completion just above.
                .unwrap_or(Ok(None))
        })
        .collect();
    let finish_answer = answers.pop().unwrap_or(Ok(None));
    let begin_answer = if answers.is_empty() {
        Ok(None)
    } else {
        answers.remove(0)
    };
    let xid = match begin_answer {
        Ok(Some(xid)) => xid,
        Ok(None) => {
            let _ = client.batch_execute("ROLLBACK").await;
            return Err(Detailed::new(format!(
                "cannot start a transaction for {}: the server did not return its id",
                migration.label()
            ))
            .into());
        }
        Err(err) => {
            let _ = client.batch_execute("ROLLBACK").await;
            return Err(DbError::new("cannot start a transaction", err)
                .context(format!("nothing of {} ran", migration.label()))
                .into());
        }
    };
    if let Some((index, err)) = answers
        .into_iter()
        .enumerate()
        .find_map(|(index, answer)| answer.err().map(|err| (index, err)))
    {
        let fate = settle(client, xid).await;
        let undo = if is_guard_error(&err) {
            Undo::Ended(fate)
        } else {
            Undo::Failed(fate)
        };
        return Err(failure(
            migration,
            line_offset,
            &statements,
            index,
            err,
            undo,
            lock_timeout(session, migration),
        ));
    }
    match finish_answer {
        Err(err) => {
            let fate = settle(client, xid).await;
            let last = statements.len().saturating_sub(1);
            const DEFERRED: &str = "deferred constraints are checked at COMMIT";
            if is_guard_error(&err) {
                Err(Detailed::new(format!(
                    "{} failed: the transaction it began had ended before its history row was written",
                    migration.label()
                ))
                .context(Undo::Ended(fate).remains(migration, last))
                .hint(DEFERRED)
                .into())
            } else {
                Err(DbError::new(
                    format!(
                        "{} failed when recording it or at COMMIT",
                        migration.label()
                    ),
                    err,
                )
                .during(Work::Migration)
                .context(Undo::Failed(fate).remains(migration, last))
                .hint(DEFERRED)
                .into())
            }
        }
        Ok(pid) => {
            if let Some(pid) = pid
                && let Err(err) = lock::check_same_session(held, pid as i32)
            {
                return Err(Detailed::new(err.to_string()).into());
            }
            Ok(())
        }
    }
}

/// The `lock_timeout` a statement of `migration` runs under, when there is one (0: no limit).
fn lock_timeout(session: &Session, migration: &Migration) -> Option<Duration> {
    effective(migration.lock_timeout, session.settings.lock_timeout).filter(|d| !d.is_zero())
}

/// What became of a migration's transaction after a failure, as the server tells it. When the
/// server could not be asked, the reason is text: it is a clause of the sentence that says what
/// remains, below the error of the statement that failed (which keeps the driver's error).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Fate {
    /// Rolled back, whether by the file or by the engine's `ROLLBACK`; `in_transaction` says
    /// the session was still inside it when the failure was seen.
    RolledBack { in_transaction: bool },
    /// Committed (by a statement of the file).
    Committed,
    /// The server could not be asked (connection lost): nobody knows.
    Unknown(String),
}

/// Ends the migration's transaction if it is still open and asks the server what became of it
/// (`txid_status`), so the error never claims a rollback that was not checked.
async fn settle(client: &Client, xid: i64) -> Fate {
    let status = |messages: Vec<SimpleQueryMessage>| {
        messages.iter().find_map(|message| match message {
            SimpleQueryMessage::Row(row) => Some(row.get(0).unwrap_or("").to_string()),
            _ => None,
        })
    };
    let query = format!("SELECT pg_catalog.txid_status({xid})");
    // Inside the aborted transaction this query fails: that itself says where the session is.
    let in_transaction = match client.simple_query(&query).await {
        Ok(_) => false,
        Err(err) if err.as_db_error().is_some() => true,
        Err(err) => return Fate::Unknown(describe(&err)),
    };
    if let Err(err) = client.batch_execute("ROLLBACK").await {
        return Fate::Unknown(describe(&err));
    }
    match client.simple_query(&query).await.map(status) {
        Ok(Some(state)) if state == "aborted" => Fate::RolledBack { in_transaction },
        Ok(Some(state)) if state == "committed" => Fate::Committed,
        Ok(other) => Fate::Unknown(format!(
            "the server reports transaction {xid} as {}",
            other
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "unknown".to_string())
        )),
        Err(err) => Fate::Unknown(describe(&err)),
    }
}

/// A NUL byte cannot be sent to the server: the client would refuse that one statement and the
/// pipeline would go on without it. The loader refuses such files; this guards the engine.
fn refuse_nul(
    migration: &Migration,
    text: &str,
    line_offset: usize,
    statements: &[splitter::Statement<'_>],
) -> Result<(), Detailed> {
    match statements
        .iter()
        .find_map(|s| s.sql.find('\0').map(|n| s.offset + n))
    {
        Some(byte) => Err(Detailed::new(format!(
            "{}:{}: statement contains a NUL byte; nothing of {} ran",
            migration.path.display(),
            splitter::line_of(text, byte) + line_offset,
            migration.label()
        ))),
        None => Ok(()),
    }
}

async fn revert_in_transaction(
    session: &Session,
    held: &Held,
    migration: &Migration,
    printer: &Printer,
) -> Result<(), StepError> {
    let forget = format!(
        "{}; SELECT pg_backend_pid()",
        session.history.delete_sql(migration)
    );
    let part = Part::down(migration);
    run_pipelined(session, held, migration, &part, &forget, printer).await
}

/// The part of a file a run executes: its up part, or its down part (which starts
/// `line_offset` lines into the file).
pub(crate) struct Part<'a> {
    pub text: &'a str,
    pub line_offset: usize,
    pub down: bool,
}

impl<'a> Part<'a> {
    pub(crate) fn up(migration: &'a Migration) -> Part<'a> {
        Part {
            text: &migration.up,
            line_offset: 0,
            down: false,
        }
    }

    pub(crate) fn down(migration: &'a Migration) -> Part<'a> {
        Part {
            text: migration.down.as_deref().unwrap_or_default(),
            line_offset: migration.down_first_line.saturating_sub(1),
            down: true,
        }
    }
}

/// `V2 idx: migrations/V2__idx.sql:3 (2/3): CREATE INDEX CONCURRENTLY …`: the statement's first
/// line of SQL (past the comments above it), for `-v`.
fn describe_statement(
    migration: &Migration,
    part: &Part<'_>,
    statements: &[splitter::Statement<'_>],
    index: usize,
    statement: &splitter::Statement<'_>,
) -> String {
    let (line, first) = first_code_line(statement);
    let first: String = if first.chars().count() > 100 {
        format!("{}…", first.chars().take(99).collect::<String>())
    } else {
        first.to_string()
    };
    format!(
        "{}{}: {}:{} ({}/{}): {first}",
        migration.label(),
        if part.down { " (down)" } else { "" },
        migration.path.display(),
        statement.line + part.line_offset + line,
        index + 1,
        statements.len()
    )
}

/// The first line of a statement that holds code (comments above it skipped), and how many
/// lines below the statement's first it is.
fn first_code_line<'s>(statement: &splitter::Statement<'s>) -> (usize, &'s str) {
    let tokens = super::tokens::Tokens::new(statement.sql);
    let offset = tokens.get(0).map_or(0, |token| token.offset);
    let line = splitter::line_of(statement.sql, offset) - 1;
    let text = statement.sql.lines().nth(line).unwrap_or("").trim();
    (line, text)
}

/// Runs one part of a `-- migrate:no-transaction` file statement by statement, recording its
/// progress in the history row after each statement, so a failure (or a crash) leaves the row
/// dirty at the exact statement. The up part records a checksum of the statements that
/// completed, so a later `up` can resume at `resume_from` when they are unchanged; the down
/// part records its own progress and deletes the row when it completes.
async fn run_statement_by_statement(
    session: &Session,
    migration: &Migration,
    part: &Part<'_>,
    resume_from: Option<usize>,
    printer: &Printer,
) -> Result<(), StepError> {
    let client = &session.client;
    let history = &session.history;
    let statements = split_or_fail(migration, part.text, part.line_offset)?;
    refuse_nul(migration, part.text, part.line_offset, &statements)?;
    let db_error = |doing: &str, err: tokio_postgres::Error| DbError::new(doing, err);
    let start = resume_from.unwrap_or(0);
    if start > statements.len() {
        return Err(Detailed::new(format!(
            "{} cannot be resumed at statement {}: the file has {}",
            migration.label(),
            start + 1,
            crate::output::count(statements.len(), "statement")
        ))
        .into());
    }
    if part.down || resume_from.is_none() {
        let begin = if part.down {
            history.begin_down_progress_sql(migration, statements.len())
        } else {
            history.begin_progress_sql(migration, statements.len())
        };
        client
            .batch_execute(&begin)
            .await
            .map_err(|err| db_error("cannot record progress in the history table", err))?;
    } else {
        history
            .resume_progress(client, migration, statements.len())
            .await
            .map_err(|err| db_error("cannot record progress in the history table", err))?;
        printer.note(format!(
            "resuming {} at statement {} of {}: the {} that completed in an earlier run {} unchanged",
            migration.label(),
            start + 1,
            statements.len(),
            crate::output::count(start, "statement"),
            if start == 1 { "is" } else { "are" }
        ));
    }
    client
        .batch_execute(&timeouts(session, migration, ""))
        .await
        .map_err(|err| db_error("cannot set timeouts", err))?;
    let started = Instant::now();
    let reset = "RESET lock_timeout; RESET statement_timeout;";
    for (index, statement) in statements.iter().enumerate().skip(start) {
        if !part.down
            && let Some(index_name) = concurrent_index_name(statement.sql)
        {
            drop_invalid_index(client, &index_name, printer).await?;
        }
        let timed = printer.timed(describe_statement(
            migration,
            part,
            &statements,
            index,
            statement,
        ));
        if let Err(err) = client.batch_execute(statement.sql).await {
            timed.done(Some("failed"));
            let undo = Undo::Dirty { down: part.down };
            let failure = failure(
                migration,
                part.line_offset,
                &statements,
                index,
                err,
                undo,
                lock_timeout(session, migration),
            );
            let recorded = if part.down {
                format!("{}{failure}", super::history::DOWN_PREFIX)
            } else {
                failure.to_string()
            };
            let _ = history.mark_dirty(client, migration, &recorded).await;
            let _ = client.batch_execute(reset).await;
            return Err(failure);
        }
        timed.done(None);
        let progress = if part.down {
            history.record_down_progress_sql(migration, index + 1)
        } else {
            let prefix =
                super::history::prefix_checksum(statements.iter().map(|s| s.sql), index + 1);
            history.record_progress_sql(migration, index + 1, &prefix)
        };
        client
            .batch_execute(&progress)
            .await
            .map_err(|err| db_error("cannot record progress in the history table", err))?;
    }
    let execution_ms = started.elapsed().as_millis() as u64;
    client
        .batch_execute(reset)
        .await
        .map_err(|err| db_error("cannot reset timeouts", err))?;
    let finish = if part.down {
        history.delete_sql(migration)
    } else {
        history.finish_progress_sql(migration, Some(execution_ms))
    };
    client
        .batch_execute(&finish)
        .await
        .map_err(|err| db_error("cannot record completion in the history table", err).into())
}

fn split_or_fail<'a>(
    migration: &Migration,
    text: &'a str,
    line_offset: usize,
) -> Result<Vec<splitter::Statement<'a>>, Detailed> {
    splitter::split(text).map_err(|err| {
        Detailed::new(format!("{}: {err}", migration.path.display())).context(format!(
            "(lines counted from line {} of the file)",
            line_offset + 1
        ))
    })
}

/// The first value of the answer's rows that reads as a number (guards answer NULL).
fn first_number(messages: &[SimpleQueryMessage]) -> Option<i64> {
    messages.iter().find_map(|message| match message {
        SimpleQueryMessage::Row(row) => row.get(0).and_then(|v| v.parse().ok()),
        _ => None,
    })
}

/// What a failure left behind, for the line of the error that says so.
enum Undo {
    /// A statement failed inside the migration's transaction.
    Failed(Fate),
    /// A statement ended the migration's transaction (the guard after it failed).
    Ended(Fate),
    /// A no-transaction file (its down part when `down`): the statements before the failing
    /// one completed.
    Dirty { down: bool },
}

impl Undo {
    /// The sentence that says what remains of `migration` after statement `index` (0-based)
    /// of `total` failed or ended its transaction.
    fn remains(&self, migration: &Migration, index: usize) -> String {
        let label = migration.label();
        let unknown = |why: &str| {
            format!(
                "whether anything of {label} remains is unknown ({why}); it is not recorded as applied unless `migrate status` says so: check the database before retrying"
            )
        };
        match self {
            Undo::Failed(Fate::RolledBack { .. }) => format!(
                "the transaction was rolled back (confirmed by the server): nothing of {label} remains"
            ),
            Undo::Failed(Fate::Committed) => format!(
                "the server reports the transaction as committed although a statement failed: part of {label} may remain, and it is not recorded as applied; check the database before retrying"
            ),
            Undo::Failed(Fate::Unknown(why)) | Undo::Ended(Fate::Unknown(why)) => unknown(why),
            Undo::Ended(Fate::RolledBack {
                in_transaction: false,
            }) => format!(
                "it rolled back the statements before it, and each statement after it was rolled back by migrate's transaction guard: nothing of {label} remains (confirmed by the server), and it is not recorded as applied"
            ),
            Undo::Ended(Fate::RolledBack {
                in_transaction: true,
            }) => format!(
                "it cleared the setting `{MARKER}` that marks the migration's transaction; the transaction was rolled back (confirmed by the server): nothing of {label} remains"
            ),
            Undo::Ended(Fate::Committed) => format!(
                "it committed {}: that remains in the database; each statement after it was rolled back by migrate's transaction guard, and {label} is not recorded as applied",
                match index {
                    0 => "the migration's transaction (nothing had run before it)".to_string(),
                    1 => "what statement 1 did".to_string(),
                    n => format!("what statements 1..{n} did"),
                }
            ),
            Undo::Dirty { down } => format!(
                "{}{label} ran outside a transaction: {} and it is now recorded as dirty",
                if *down { "the down part of " } else { "" },
                match index {
                    0 => "no statement had completed".to_string(),
                    1 => "statement 1 completed".to_string(),
                    n => format!("statements 1..{n} completed"),
                }
            ),
        }
    }
}

/// The lines of `sql` around its line `at` (0-based; from the first line of code, two before
/// and two after), numbered as in the file (`first_line` is the statement's), with a caret
/// under `column` of the failing line when the server gave a position.
fn excerpt(
    sql: &str,
    first_line: usize,
    code_line: usize,
    at: usize,
    column: Option<usize>,
) -> Vec<String> {
    let mut excerpt = Vec::new();
    let lines: Vec<&str> = sql.lines().collect();
    let from = at.saturating_sub(2).max(code_line.min(at));
    let to = (at + 2).min(lines.len().saturating_sub(1));
    if from > code_line {
        excerpt.push("      | …".to_string());
    }
    for (n, source_line) in lines.iter().enumerate().take(to + 1).skip(from) {
        excerpt.push(format!("{:>5} | {source_line}", first_line + n));
        if n == at
            && let Some(column) = column
        {
            excerpt.push(format!("      | {}^", " ".repeat(column)));
        }
    }
    if to + 1 < lines.len() {
        excerpt.push("      | …".to_string());
    }
    excerpt
}

/// Builds the error a user sees when a statement fails: which file and line, the statement,
/// the server's message, detail and hint, and what state the database is left in. The
/// driver's error is kept ([`DbError`], its hints from `errors::hints_for`), unless the
/// statement ended migrate's transaction: then the failure is the guard's, and the message
/// says what happened instead.
fn failure(
    migration: &Migration,
    line_offset: usize,
    statements: &[splitter::Statement<'_>],
    index: usize,
    err: tokio_postgres::Error,
    undo: Undo,
    lock_timeout: Option<Duration>,
) -> StepError {
    let statement = &statements[index];
    let ended = matches!(undo, Undo::Ended(_));
    let server = err.as_db_error().filter(|_| !ended);
    let position = server.and_then(|db| match db.position() {
        Some(tokio_postgres::error::ErrorPosition::Original(p)) => Some(*p as usize),
        _ => None,
    });
    let detail = server.and_then(|db| db.detail()).map(str::to_string);
    // The failing line: where the server points, else the statement's first line of code.
    let (code_line, _) = first_code_line(statement);
    let (line_in_statement, column) = match position {
        Some(p) => {
            let byte = splitter::char_position_to_byte(statement.sql, p);
            let line = splitter::line_of(statement.sql, byte) - 1;
            let line_start = statement.sql[..byte].rfind('\n').map_or(0, |n| n + 1);
            let column = statement.sql[line_start..byte].chars().count();
            (line, Some(column))
        }
        None => (code_line, None),
    };
    let first_line = statement.line + line_offset;
    let line = first_line + line_in_statement;
    let mut context = vec![format!(
        "at {}:{line} (statement {} of {})",
        migration.path.display(),
        index + 1,
        statements.len()
    )];
    context.extend(excerpt(
        statement.sql,
        first_line,
        code_line,
        line_in_statement,
        column,
    ));
    if let Some(detail) = detail {
        context.push(format!("detail: {detail}"));
    }
    context.push(undo.remains(migration, index));
    if ended {
        let mut error = Detailed::new(format!(
            "{} failed: statement {} ended the transaction that migrate runs the file in",
            migration.label(),
            index + 1
        ));
        error.context = context;
        return error
            .hint("remove transaction control (BEGIN, COMMIT, ROLLBACK, END, ABORT) from the file: migrate runs it in one transaction together with its history row")
            .into();
    }
    let mut error = DbError::new(format!("{} failed", migration.label()), err)
        .during(Work::Migration)
        .server_text_below();
    error.context = context;
    if let Some(lock_timeout) = lock_timeout {
        error = error.with_lock_timeout(lock_timeout);
    }
    if matches!(undo, Undo::Dirty { .. }) {
        error = error.hint("fix the cause, undo or finish the completed statements by hand, then run `migrate repair`");
    }
    error.into()
}

/// The index a `CREATE INDEX CONCURRENTLY name` statement builds, quoted for `to_regclass`.
fn concurrent_index_name(sql: &str) -> Option<String> {
    let parts = super::tokens::concurrent_index_name(&super::tokens::Tokens::new(sql))?;
    Some(
        parts
            .iter()
            .map(|part| super::tokens::quote_ident(part))
            .collect::<Vec<_>>()
            .join("."),
    )
}

/// A failed `CREATE INDEX CONCURRENTLY` leaves an INVALID index behind; drop it so the rerun
/// builds a valid one instead of failing on "already exists" or keeping the broken one.
async fn drop_invalid_index(client: &Client, name: &str, printer: &Printer) -> Result<(), DbError> {
    let row = client
        .query_opt(
            "SELECT c.oid::regclass::text FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
             WHERE NOT i.indisvalid AND c.oid = to_regclass($1)",
            &[&name],
        )
        .await
        .map_err(|err| DbError::new(format!("cannot inspect index {name}"), err))?;
    if let Some(row) = row {
        let qualified: String = row.get(0);
        printer.warn(format!(
            "dropping INVALID index {qualified} left by an earlier failed CREATE INDEX CONCURRENTLY"
        ));
        client
            .batch_execute(&format!("DROP INDEX CONCURRENTLY IF EXISTS {qualified}"))
            .await
            .map_err(|err| DbError::new(format!("cannot drop invalid index {qualified}"), err))?;
    }
    Ok(())
}

/// A database error under what was being done, the driver's error kept as its source.
pub fn query_error(doing: &str, err: tokio_postgres::Error) -> anyhow::Error {
    DbError::new(doing, err).into()
}

pub(super) fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown-host".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_concurrent_index_names() {
        assert_eq!(
            concurrent_index_name("CREATE INDEX CONCURRENTLY idx_a ON t (a)").as_deref(),
            Some("\"idx_a\"")
        );
        assert_eq!(
            concurrent_index_name("create unique index concurrently if not exists s.idx_b on t(b)")
                .as_deref(),
            Some("\"s\".\"idx_b\"")
        );
        assert_eq!(
            concurrent_index_name("CREATE INDEX CONCURRENTLY \"Odd \"\"Name\" ON t (a)").as_deref(),
            Some("\"Odd \"\"Name\"")
        );
        assert_eq!(
            concurrent_index_name("CREATE INDEX CONCURRENTLY ON t (a)"),
            None
        );
        assert_eq!(concurrent_index_name("CREATE INDEX idx ON t (a)"), None);
        assert_eq!(
            concurrent_index_name("-- build it\nCREATE /* a */ INDEX CONCURRENTLY idx_c ON t (c)")
                .as_deref(),
            Some("\"idx_c\""),
            "leading and inner comments must not hide the statement"
        );
    }
}
