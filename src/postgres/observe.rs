//! Observed migrations: runs one migration on a shadow database statement by statement and
//! records, for every statement, the relation locks it took (`pg_locks` of the session), the
//! tables and indexes it rewrote (`relfilenode` changed), the tables it read in full (sequential
//! scans counted by the statistics system) and how long each lock was held.
//!
//! A transactional migration runs in one transaction, as `up` runs it: `BEGIN`, its timeouts,
//! each statement, its history row, `COMMIT`. After each statement the same session reads its
//! own locks (all relation locks are held until the transaction ends), so a lock taken by
//! statement k is held from the start of k to the `COMMIT`. A statement of a `no-transaction`
//! file runs in a transaction of its own when the server allows it (the same as autocommit)
//! and is observed the same way; a statement the server refuses inside a transaction block
//! (`CREATE INDEX CONCURRENTLY`, SQLSTATE 25001) runs alone while a second session samples
//! its locks every few milliseconds (such statements take and release locks as they go).
//!
//! Sequential scans are counted as the flushed statistics plus the session's pending counts
//! (`pg_stat_get_numscans` + `pg_stat_get_xact_numscans`, after `pg_stat_clear_snapshot`):
//! that sum only grows, whenever the server flushes, and PostgreSQL 15 counts the scans that
//! `ALTER TABLE` validation, rewrites and index builds make.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio_postgres::Client;
use tokio_postgres::error::SqlState;

use super::engine;
use super::migration::Migration;
use super::session::Session;
use super::splitter;

/// Relations in user schemas: oid, qualified name, kind, relfilenode.
const RELATIONS: &str = "SELECT c.oid, quote_ident(n.nspname) || '.' || quote_ident(c.relname), c.relkind::text, c.relfilenode::bigint \
     FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
     WHERE c.relkind IN ('r', 'p', 'm', 'i', 'I', 'S', 'v', 'f') \
       AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
       AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'";

/// Relation locks granted to a session (`$1`, a pid) on relations of user schemas.
const LOCKS: &str = "SELECT c.oid, quote_ident(n.nspname) || '.' || quote_ident(c.relname), c.relkind::text, l.mode \
     FROM pg_catalog.pg_locks l \
     JOIN pg_catalog.pg_class c ON c.oid = l.relation \
     JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
     WHERE l.locktype = 'relation' AND l.granted AND l.pid = $1 \
       AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database()) \
       AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
       AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'";

/// Sequential scans and rows they read per user table, flushed plus pending.
const SCANS: &str = "SELECT c.oid, \
       (pg_catalog.pg_stat_get_numscans(c.oid) + pg_catalog.pg_stat_get_xact_numscans(c.oid))::bigint, \
       (pg_catalog.pg_stat_get_tuples_returned(c.oid) + pg_catalog.pg_stat_get_xact_tuples_returned(c.oid))::bigint \
     FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
     WHERE c.relkind IN ('r', 'm', 't') \
       AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_temp%'";

/// How often a statement that cannot run in a transaction block has its locks sampled.
const SAMPLE_EVERY: Duration = Duration::from_millis(5);

/// A relation of the shadow database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relation {
    pub name: String,
    /// `pg_class.relkind`.
    pub kind: char,
    pub relfilenode: i64,
}

/// Every relation in user schemas by oid.
pub type Relations = BTreeMap<u32, Relation>;

/// Reads the relations of user schemas in the database of `session`.
pub async fn relations_of(session: &Session) -> anyhow::Result<Relations> {
    relations(&session.client).await
}

/// Reads the relations of user schemas.
pub async fn relations(client: &Client) -> anyhow::Result<Relations> {
    let rows = client
        .query(RELATIONS, &[])
        .await
        .map_err(|err| engine::query_error("cannot read pg_class", err))?;
    Ok(rows
        .iter()
        .map(|row| {
            let kind: String = row.get(2);
            (
                row.get::<_, u32>(0),
                Relation {
                    name: row.get(1),
                    kind: kind.chars().next().unwrap_or('?'),
                    relfilenode: row.get(3),
                },
            )
        })
        .collect())
}

/// One lock a statement took.
#[derive(Debug, Clone, Serialize)]
pub struct LockTaken {
    /// The relation, schema-qualified.
    pub relation: String,
    /// `table`, `partitioned table`, `index`, `materialized view`, `sequence`, `view`, …
    pub kind: &'static str,
    /// The lock mode as PostgreSQL documents it: `ACCESS EXCLUSIVE`, `SHARE`, …
    pub mode: String,
    /// Whether the relation existed before the observed migrations ran.
    pub existed_before: bool,
    /// The mode blocks `SELECT` (only `ACCESS EXCLUSIVE` does).
    pub blocks_reads: bool,
    /// The mode blocks `INSERT`, `UPDATE` and `DELETE`.
    pub blocks_writes: bool,
    /// From the start of the statement to the end of its transaction (to its last sample for a
    /// sampled statement).
    pub held_ms: u64,
    #[serde(skip)]
    pub oid: u32,
}

/// A whole-table read.
#[derive(Debug, Clone, Serialize)]
pub struct Scan {
    pub relation: String,
    /// Sequential scans the statement started on the table.
    pub scans: i64,
    /// Rows those scans returned.
    pub rows: i64,
    /// The statement held a lock blocking writes on the table meanwhile.
    pub under_write_lock: bool,
}

/// What one statement did.
#[derive(Debug, Clone, Serialize)]
pub struct StatementObservation {
    /// 1-based index of the statement in the up part.
    pub statement: usize,
    /// Line of the file where the statement starts.
    pub line: usize,
    /// The statement's first line of code.
    pub sql: String,
    pub duration_ms: u64,
    /// How the locks were read: `statement-end` (the session's own locks after the statement,
    /// inside its transaction) or `sampled` (another session, every few milliseconds).
    pub observed_by: &'static str,
    /// Locks taken by this statement (not already held before it).
    pub locks: Vec<LockTaken>,
    /// Tables and indexes that existed before the observed migrations whose storage was
    /// rewritten (relfilenode changed).
    pub rewrites: Vec<String>,
    /// Tables that existed before the observed migrations, read in full.
    pub scans: Vec<Scan>,
}

impl StatementObservation {
    /// A table or index was rewritten.
    pub fn rewrote(&self) -> bool {
        !self.rewrites.is_empty()
    }

    /// A whole table was read under a lock that blocks writes.
    pub fn full_scan(&self) -> bool {
        self.scans.iter().any(|scan| scan.under_write_lock)
    }
}

/// What one migration did, statement by statement.
#[derive(Debug, Clone, Serialize)]
pub struct MigrationObservation {
    pub transactional: bool,
    pub duration_ms: u64,
    pub statements: Vec<StatementObservation>,
}

/// The error of an observed run: which statement failed, and the server's message.
#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}: statement {statement} failed: {message}")]
pub struct ObserveError {
    pub file: String,
    pub line: usize,
    pub statement: usize,
    pub message: String,
}

/// `ACCESS EXCLUSIVE` from `AccessExclusiveLock`.
pub fn mode_name(mode: &str) -> String {
    let bare = mode.strip_suffix("Lock").unwrap_or(mode);
    let mut out = String::new();
    for (index, ch) in bare.char_indices() {
        if ch.is_uppercase() && index > 0 {
            out.push(' ');
        }
        out.push(ch.to_ascii_uppercase());
    }
    out
}

/// Whether a lock mode (as `pg_locks` names it) conflicts with `ROW EXCLUSIVE`, the lock of
/// `INSERT`, `UPDATE` and `DELETE`.
pub fn blocks_writes(mode: &str) -> bool {
    matches!(
        mode,
        "ShareLock" | "ShareRowExclusiveLock" | "ExclusiveLock" | "AccessExclusiveLock"
    )
}

/// Whether a lock mode conflicts with `ACCESS SHARE`, the lock of `SELECT`.
pub fn blocks_reads(mode: &str) -> bool {
    mode == "AccessExclusiveLock"
}

fn kind_name(kind: char) -> &'static str {
    match kind {
        'r' => "table",
        'p' => "partitioned table",
        'i' => "index",
        'I' => "partitioned index",
        'm' => "materialized view",
        'S' => "sequence",
        'v' => "view",
        'f' => "foreign table",
        _ => "relation",
    }
}

/// Whether a `pg_class.relkind` is a table (what a lock budget protects).
pub fn is_table(kind: &str) -> bool {
    matches!(kind, "table" | "partitioned table" | "materialized view")
}

type LockSet = BTreeMap<(u32, String), (String, char)>;

async fn locks_of(client: &Client, pid: i32) -> anyhow::Result<LockSet> {
    let rows = client
        .query(LOCKS, &[&pid])
        .await
        .map_err(|err| engine::query_error("cannot read pg_locks", err))?;
    Ok(rows
        .iter()
        .map(|row| {
            let kind: String = row.get(2);
            (
                (row.get::<_, u32>(0), row.get::<_, String>(3)),
                (row.get(1), kind.chars().next().unwrap_or('?')),
            )
        })
        .collect())
}

type ScanCounts = BTreeMap<u32, (i64, i64)>;

async fn scans_of(client: &Client) -> anyhow::Result<ScanCounts> {
    client
        .batch_execute("SELECT pg_catalog.pg_stat_clear_snapshot()")
        .await
        .map_err(|err| engine::query_error("cannot read the statistics", err))?;
    let rows = client
        .query(SCANS, &[])
        .await
        .map_err(|err| engine::query_error("cannot read the statistics", err))?;
    Ok(rows
        .iter()
        .map(|row| (row.get::<_, u32>(0), (row.get(1), row.get(2))))
        .collect())
}

/// Where observed state stands between two statements.
struct State {
    relations: Relations,
    scans: ScanCounts,
}

async fn state(client: &Client) -> anyhow::Result<State> {
    Ok(State {
        relations: relations(client).await?,
        scans: scans_of(client).await?,
    })
}

/// Runs the up part of `migration` on `session` (a shadow database), observing each
/// statement; records it in the history table like `up` does. `existing` is the set of
/// relations present before the observed migrations, `sampler` a second session on the same
/// database (used for statements that cannot run in a transaction block).
pub async fn apply(
    session: &Session,
    sampler: &Session,
    migration: &Migration,
    existing: &Relations,
) -> anyhow::Result<MigrationObservation> {
    let client = &session.client;
    let sampler = &sampler.client;
    let statements = splitter::split(&migration.up)
        .map_err(|err| anyhow::anyhow!("{}: {err}", migration.path.display()))?;
    let pid: i32 = client
        .query_one("SELECT pg_catalog.pg_backend_pid()", &[])
        .await
        .map_err(|err| engine::query_error("cannot read the backend pid", err))?
        .get(0);
    let started = Instant::now();
    let file = migration.path.display().to_string();
    let fail = |index: usize, statement: &splitter::Statement<'_>, err: &tokio_postgres::Error| {
        ObserveError {
            file: file.clone(),
            line: statement.line,
            statement: index + 1,
            message: err
                .as_db_error()
                .map_or_else(|| err.to_string(), |db| db.message().to_string()),
        }
    };
    let timeouts = engine::timeouts_sql(&session.settings, migration, "LOCAL ");
    let mut observed = Vec::with_capacity(statements.len());
    if !migration.no_transaction {
        begin(client, &timeouts).await?;
        let mut held = LockSet::new();
        let mut before = state(client).await?;
        let mut starts = Vec::with_capacity(statements.len());
        for (index, statement) in statements.iter().enumerate() {
            let statement_started = Instant::now();
            starts.push(statement_started);
            if let Err(err) = client.batch_execute(statement.sql).await {
                let _ = client.batch_execute("ROLLBACK").await;
                return Err(fail(index, statement, &err).into());
            }
            let duration = statement_started.elapsed();
            let locks = locks_of(client, pid).await?;
            let after = state(client).await?;
            observed.push(observation(
                index, statement, duration, &locks, &held, &before, &after, existing,
            ));
            held.extend(locks);
            before = after;
        }
        let record = session.history.record_applied_sql(migration);
        if let Err(err) = client.batch_execute(&format!("{record}; COMMIT")).await {
            let _ = client.batch_execute("ROLLBACK").await;
            return Err(engine::query_error("cannot record the migration", err));
        }
        let committed = Instant::now();
        for (statement, started) in observed.iter_mut().zip(&starts) {
            let held_ms = committed.duration_since(*started).as_millis() as u64;
            for lock in &mut statement.locks {
                lock.held_ms = held_ms;
            }
        }
    } else {
        for (index, statement) in statements.iter().enumerate() {
            let before = state(client).await?;
            begin(client, &timeouts).await?;
            let statement_started = Instant::now();
            match client.batch_execute(statement.sql).await {
                Ok(()) => {
                    let duration = statement_started.elapsed();
                    let locks = locks_of(client, pid).await?;
                    let after = state(client).await?;
                    client
                        .batch_execute("COMMIT")
                        .await
                        .map_err(|err| engine::query_error("cannot commit", err))?;
                    let held_ms = statement_started.elapsed().as_millis() as u64;
                    let mut one = observation(
                        index,
                        statement,
                        duration,
                        &locks,
                        &LockSet::new(),
                        &before,
                        &after,
                        existing,
                    );
                    for lock in &mut one.locks {
                        lock.held_ms = held_ms;
                    }
                    observed.push(one);
                }
                Err(err) if err.code() == Some(&SqlState::ACTIVE_SQL_TRANSACTION) => {
                    let _ = client.batch_execute("ROLLBACK").await;
                    let one = sampled(
                        session, sampler, pid, &timeouts, index, statement, &before, existing,
                    )
                    .await
                    .map_err(|err| match err {
                        Sampled::Statement(err) => fail(index, statement, &err).into(),
                        Sampled::Other(err) => err,
                    })?;
                    observed.push(one);
                }
                Err(err) => {
                    let _ = client.batch_execute("ROLLBACK").await;
                    return Err(fail(index, statement, &err).into());
                }
            }
        }
        let record = session.history.record_applied_sql(migration);
        client
            .batch_execute(&record)
            .await
            .map_err(|err| engine::query_error("cannot record the migration", err))?;
    }
    Ok(MigrationObservation {
        transactional: !migration.no_transaction,
        duration_ms: started.elapsed().as_millis() as u64,
        statements: observed,
    })
}

async fn begin(client: &Client, timeouts: &str) -> anyhow::Result<()> {
    client
        .batch_execute(&format!("BEGIN; {timeouts}"))
        .await
        .map_err(|err| engine::query_error("cannot begin a transaction", err))
}

enum Sampled {
    Statement(tokio_postgres::Error),
    Other(anyhow::Error),
}

/// Runs a statement outside any transaction block while `sampler` reads its locks.
#[allow(clippy::too_many_arguments)]
async fn sampled(
    session: &Session,
    sampler: &Client,
    pid: i32,
    timeouts: &str,
    index: usize,
    statement: &splitter::Statement<'_>,
    before: &State,
    existing: &Relations,
) -> Result<StatementObservation, Sampled> {
    let client = &session.client;
    let session_timeouts = timeouts.replace("SET LOCAL ", "SET ");
    client
        .batch_execute(&session_timeouts)
        .await
        .map_err(|err| Sampled::Other(engine::query_error("cannot set the timeouts", err)))?;
    let started = Instant::now();
    let mut seen: BTreeMap<(u32, String), ((String, char), Instant)> = BTreeMap::new();
    let run = client.batch_execute(statement.sql);
    tokio::pin!(run);
    let outcome = loop {
        tokio::select! {
            outcome = &mut run => break outcome,
            sample = locks_of(sampler, pid) => {
                let sample = sample.map_err(Sampled::Other)?;
                let now = Instant::now();
                for (key, relation) in sample {
                    seen.entry(key).and_modify(|entry| entry.1 = now).or_insert((relation, now));
                }
                tokio::time::sleep(SAMPLE_EVERY).await;
            }
        }
    };
    let duration = started.elapsed();
    let reset = client
        .batch_execute("RESET lock_timeout; RESET statement_timeout")
        .await;
    outcome.map_err(Sampled::Statement)?;
    reset.map_err(|err| Sampled::Other(engine::query_error("cannot reset the timeouts", err)))?;
    let after = state(client).await.map_err(Sampled::Other)?;
    let locks: LockSet = seen
        .iter()
        .map(|(key, (relation, _))| (key.clone(), relation.clone()))
        .collect();
    let mut one = observation(
        index,
        statement,
        duration,
        &locks,
        &LockSet::new(),
        before,
        &after,
        existing,
    );
    one.observed_by = "sampled";
    for lock in &mut one.locks {
        if let Some((_, last)) = seen.get(&(lock.oid, pg_mode(&lock.mode))) {
            lock.held_ms = last.duration_since(started).as_millis() as u64;
        }
    }
    Ok(one)
}

/// `AccessExclusiveLock` from `ACCESS EXCLUSIVE`.
fn pg_mode(name: &str) -> String {
    let mut out: String = name
        .split(' ')
        .map(|word| {
            let lower = word.to_ascii_lowercase();
            let mut chars = lower.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect();
    out.push_str("Lock");
    out
}

#[allow(clippy::too_many_arguments)]
fn observation(
    index: usize,
    statement: &splitter::Statement<'_>,
    duration: Duration,
    locks: &LockSet,
    held: &LockSet,
    before: &State,
    after: &State,
    existing: &Relations,
) -> StatementObservation {
    let taken: Vec<LockTaken> = locks
        .iter()
        .filter(|(key, _)| !held.contains_key(*key))
        .map(|((oid, mode), (name, kind))| LockTaken {
            relation: name.clone(),
            kind: kind_name(*kind),
            mode: mode_name(mode),
            existed_before: existing.contains_key(oid),
            blocks_reads: blocks_reads(mode),
            blocks_writes: blocks_writes(mode),
            held_ms: 0,
            oid: *oid,
        })
        .collect();
    let rewrites = after
        .relations
        .iter()
        .filter_map(|(oid, now)| {
            let then = before.relations.get(oid)?;
            // Relations created by the new migrations hold no production data.
            (existing.contains_key(oid)
                && then.relfilenode != 0
                && now.relfilenode != then.relfilenode)
                .then(|| now.name.clone())
        })
        .collect();
    let write_locked: BTreeSet<u32> = locks
        .iter()
        .filter(|((_, mode), _)| blocks_writes(mode))
        .map(|((oid, _), _)| *oid)
        .collect();
    let scans = after
        .scans
        .iter()
        .filter_map(|(oid, (count, rows))| {
            let (count_before, rows_before) = before.scans.get(oid).copied().unwrap_or((0, 0));
            // Only tables that existed before the new migrations hold production data.
            existing.get(oid)?;
            let name = before.relations.get(oid)?.name.clone();
            (count > &count_before).then(|| Scan {
                relation: name,
                scans: count - count_before,
                rows: rows - rows_before,
                under_write_lock: write_locked.contains(oid),
            })
        })
        .collect();
    let (skipped_lines, sql) = first_code_line(statement.sql);
    StatementObservation {
        statement: index + 1,
        line: statement.line + skipped_lines,
        sql,
        duration_ms: duration.as_millis() as u64,
        observed_by: "statement-end",
        locks: taken,
        rewrites,
        scans,
    }
}

/// The statement's first line that is not a comment (shortened), and how many lines come
/// before it.
fn first_code_line(sql: &str) -> (usize, String) {
    let (skipped, line) = sql
        .lines()
        .map(str::trim)
        .enumerate()
        .find(|(_, line)| !line.is_empty() && !line.starts_with("--"))
        .unwrap_or((0, ""));
    let line = if line.chars().count() > 80 {
        let cut: String = line.chars().take(77).collect();
        format!("{cut}...")
    } else {
        line.to_string()
    };
    (skipped, line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_modes_read_as_documented() {
        assert_eq!(mode_name("AccessExclusiveLock"), "ACCESS EXCLUSIVE");
        assert_eq!(mode_name("ShareLock"), "SHARE");
        assert_eq!(
            mode_name("ShareUpdateExclusiveLock"),
            "SHARE UPDATE EXCLUSIVE"
        );
        assert_eq!(
            pg_mode("SHARE UPDATE EXCLUSIVE"),
            "ShareUpdateExclusiveLock"
        );
        assert_eq!(pg_mode("ACCESS EXCLUSIVE"), "AccessExclusiveLock");
        assert!(blocks_writes("ShareLock"));
        assert!(!blocks_writes("ShareUpdateExclusiveLock"));
        assert!(!blocks_reads("ShareLock"));
        assert!(blocks_reads("AccessExclusiveLock"));
    }
}
