//! The history table (`public.migrate_history` by default): schema, reads and writes.

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio_postgres::Client;

use super::migration::{Checksum, Kind, Migration};

/// What one history row says.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryRow {
    pub version: Option<u64>,
    pub name: String,
    pub kind: RowKind,
    pub checksum: Option<Checksum>,
    pub applied_at: DateTime<Utc>,
    pub execution_ms: u64,
    pub applied_by: String,
    pub tool_version: String,
    pub state: RowState,
    /// For dirty rows: statements that completed before the failure (the failing statement's
    /// 0-based index).
    pub statements_done: Option<u32>,
    pub statements_total: Option<u32>,
    pub error: Option<String>,
    /// For dirty rows of statement-by-statement migrations: sha256 of the statements that
    /// completed (see [`prefix_checksum`]), so `up` can resume when they are unchanged.
    pub statements_checksum: Option<String>,
}

/// Which part of a statement-by-statement migration a dirty row was running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Up,
    Down,
}

/// How far a dirty statement-by-statement migration got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub direction: Direction,
    /// Statements of that part that completed.
    pub done: u32,
    /// Statements in that part.
    pub total: u32,
}

/// The error text of a dirty row whose down part failed starts with this.
pub const DOWN_PREFIX: &str = "down: ";

impl HistoryRow {
    /// For dirty rows with recorded progress: which part, how far.
    pub fn progress(&self) -> Option<Progress> {
        let (done, total) = (self.statements_done?, self.statements_total?);
        let direction = if self
            .error
            .as_deref()
            .is_some_and(|e| e.starts_with(DOWN_PREFIX))
        {
            Direction::Down
        } else {
            Direction::Up
        };
        Some(Progress {
            direction,
            done,
            total,
        })
    }
}

impl Progress {
    /// `failed at statement 2 of 3`, `its down part failed at statement 1 of 2`.
    pub fn failed_at(&self) -> String {
        let part = match self.direction {
            Direction::Up => "",
            Direction::Down => "its down part ",
        };
        format!(
            "{part}failed at statement {} of {}",
            (self.done + 1).min(self.total.max(1)),
            self.total
        )
    }

    /// `1 of 3 statements had completed`, `no statement of its down part had completed`.
    pub fn completed(&self) -> String {
        let part = match self.direction {
            Direction::Up => "",
            Direction::Down => " of its down part",
        };
        match self.done {
            0 => format!("no statement{part} had completed"),
            done => format!(
                "{done} of {}{part} had completed",
                crate::output::count(self.total, "statement")
            ),
        }
    }
}

/// sha256 (hex) of the first `n` statements' text: what a resumed migration must find unchanged.
pub fn prefix_checksum<'a>(statements: impl IntoIterator<Item = &'a str>, n: usize) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    for sql in statements.into_iter().take(n) {
        hasher.update(sql.as_bytes());
        // Statements hold no NUL byte (the loader refuses them): an unambiguous separator.
        hasher.update([0u8]);
    }
    hex::encode(hasher.finalize())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RowKind {
    Versioned,
    Repeatable,
    Baseline,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RowState {
    Applied,
    Dirty,
}

/// A history table name, split and quoted for splicing into SQL.
#[derive(Debug, Clone)]
pub struct HistoryTable {
    schema: String,
    table: String,
}

impl HistoryTable {
    /// `name` was validated by the config (lowercase identifiers only).
    pub fn new(name: &str) -> HistoryTable {
        match name.split_once('.') {
            Some((schema, table)) => HistoryTable {
                schema: schema.to_string(),
                table: table.to_string(),
            },
            None => HistoryTable {
                schema: "public".to_string(),
                table: name.to_string(),
            },
        }
    }

    pub fn qualified(&self) -> String {
        format!("\"{}\".\"{}\"", self.schema, self.table)
    }

    pub fn schema(&self) -> &str {
        &self.schema
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// The table next to this one where applied seed files are recorded (`{table}_seeds`).
    pub fn seeds(&self) -> HistoryTable {
        HistoryTable {
            schema: self.schema.clone(),
            table: format!("{}_seeds", self.table),
        }
    }

    pub fn create_sql(&self) -> String {
        let table = self.qualified();
        let index_prefix = &self.table;
        format!(
            "CREATE SCHEMA IF NOT EXISTS \"{schema}\";
CREATE TABLE IF NOT EXISTS {table} (
    installed_rank   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    version          bigint,
    name             text NOT NULL,
    kind             text NOT NULL CHECK (kind IN ('versioned', 'repeatable', 'baseline')),
    checksum         text,
    applied_at       timestamptz NOT NULL DEFAULT now(),
    execution_ms     bigint NOT NULL DEFAULT 0,
    applied_by       text NOT NULL DEFAULT current_user,
    tool_version     text NOT NULL,
    state            text NOT NULL DEFAULT 'applied' CHECK (state IN ('applied', 'dirty')),
    statements_done  integer,
    statements_total integer,
    error            text,
    statements_checksum text
);
CREATE UNIQUE INDEX IF NOT EXISTS \"{index_prefix}_version_key\" ON {table} (version) WHERE kind <> 'repeatable';
CREATE UNIQUE INDEX IF NOT EXISTS \"{index_prefix}_repeatable_key\" ON {table} (name) WHERE kind = 'repeatable';
COMMENT ON TABLE {table} IS 'migrate: applied migrations (do not edit by hand; use migrate repair)';",
            schema = self.schema,
        )
    }

    /// Whether the table exists (without creating it).
    pub async fn exists(&self, client: &Client) -> Result<bool, tokio_postgres::Error> {
        // query_typed: one round trip (no separate prepare), as for every query of the
        // no-op `up` and `status` paths.
        let name = format!("{}.{}", self.schema, self.table);
        let rows = client
            .query_typed(
                "SELECT to_regclass($1) IS NOT NULL",
                &[(&name, tokio_postgres::types::Type::TEXT)],
            )
            .await?;
        Ok(rows.first().is_some_and(|row| row.get(0)))
    }

    /// Creates the table if needed. Call while holding the migration lock: concurrent
    /// `CREATE TABLE IF NOT EXISTS` can still collide in the catalog.
    pub async fn ensure(&self, client: &Client) -> Result<(), tokio_postgres::Error> {
        if self.exists(client).await? {
            return Ok(());
        }
        client.batch_execute(&self.create_sql()).await
    }

    /// All rows, oldest first. An absent table reads as empty.
    pub async fn read(&self, client: &Client) -> Result<Vec<HistoryRow>, tokio_postgres::Error> {
        if !self.exists(client).await? {
            return Ok(Vec::new());
        }
        self.select(client).await
    }

    /// As `read`, in one round trip: the table is read, and "does not exist" means empty. Only
    /// outside a transaction, which that error would abort.
    pub async fn read_outside_transaction(
        &self,
        client: &Client,
    ) -> Result<Vec<HistoryRow>, tokio_postgres::Error> {
        Ok(self.read_if_exists(client).await?.unwrap_or_default())
    }

    /// All rows, oldest first, or `None` when the table (or its schema) does not exist; in one
    /// round trip, so only outside a transaction, which that error would abort.
    pub async fn read_if_exists(
        &self,
        client: &Client,
    ) -> Result<Option<Vec<HistoryRow>>, tokio_postgres::Error> {
        use tokio_postgres::error::SqlState;
        match self.select(client).await {
            Err(err)
                if err.code() == Some(&SqlState::UNDEFINED_TABLE)
                    || err.code() == Some(&SqlState::INVALID_SCHEMA_NAME) =>
            {
                Ok(None)
            }
            other => other.map(Some),
        }
    }

    async fn select(&self, client: &Client) -> Result<Vec<HistoryRow>, tokio_postgres::Error> {
        let rows = client
            .query_typed(
                &format!(
                    "SELECT version, name, kind, checksum, applied_at, execution_ms, applied_by, tool_version,
                            state, statements_done, statements_total, error,
                            CASE WHEN state = 'dirty' THEN to_jsonb(h) ->> 'statements_checksum' END
                     FROM {} h ORDER BY installed_rank",
                    self.qualified()
                ),
                &[],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|row| HistoryRow {
                version: row.get::<_, Option<i64>>(0).map(|v| v as u64),
                name: row.get(1),
                kind: match row.get::<_, &str>(2) {
                    "repeatable" => RowKind::Repeatable,
                    "baseline" => RowKind::Baseline,
                    _ => RowKind::Versioned,
                },
                checksum: row.get::<_, Option<String>>(3).map(Checksum::from_hex),
                applied_at: row.get(4),
                execution_ms: row.get::<_, i64>(5).max(0) as u64,
                applied_by: row.get(6),
                tool_version: row.get(7),
                state: if row.get::<_, &str>(8) == "dirty" {
                    RowState::Dirty
                } else {
                    RowState::Applied
                },
                statements_done: row.get::<_, Option<i32>>(9).map(|v| v.max(0) as u32),
                statements_total: row.get::<_, Option<i32>>(10).map(|v| v.max(0) as u32),
                error: row.get(11),
                statements_checksum: row.get(12),
            })
            .collect())
    }

    /// SQL that records a successful transactional migration, sent inside its transaction (the
    /// execution time is measured from the transaction's start). Every spliced value is an
    /// integer, a `[a-z0-9_]` name or a hex checksum.
    pub fn record_applied_sql(&self, migration: &Migration) -> String {
        let execution_ms = "(extract(epoch FROM clock_timestamp() - now()) * 1000)::bigint";
        let table = self.qualified();
        let version = migration
            .version
            .map_or_else(|| "NULL".to_string(), |v| v.to_string());
        let kind = kind_text(migration.kind);
        let tool = crate::TOOL_VERSION;
        let insert = format!(
            "INSERT INTO {table} (version, name, kind, checksum, execution_ms, tool_version, state) \
             VALUES ({version}, '{name}', '{kind}', '{checksum}', {execution_ms}, '{tool}', 'applied')",
            name = migration.name,
            checksum = migration.checksum,
        );
        match migration.kind {
            Kind::Versioned => insert,
            // A repeatable migration has one row, updated on every re-apply.
            Kind::Repeatable => format!(
                "DELETE FROM {table} WHERE kind = 'repeatable' AND name = '{name}'; {insert}",
                name = migration.name
            ),
        }
    }

    /// Starts the record of a statement-by-statement migration: dirty until it completes.
    /// Tables made by older versions get the `statements_checksum` column here.
    pub fn begin_progress_sql(&self, migration: &Migration, statements_total: usize) -> String {
        format!(
            "ALTER TABLE {table} ADD COLUMN IF NOT EXISTS statements_checksum text;
{delete}INSERT INTO {table} (version, name, kind, checksum, tool_version, state, statements_done, statements_total, statements_checksum)
VALUES ({version}, '{name}', '{kind}', '{checksum}', '{tool}', 'dirty', 0, {statements_total}, '{empty}')",
            delete = match migration.kind {
                Kind::Repeatable => format!(
                    "DELETE FROM {} WHERE kind = 'repeatable' AND name = '{}';\n",
                    self.qualified(),
                    migration.name
                ),
                Kind::Versioned => String::new(),
            },
            table = self.qualified(),
            version = migration.version.map_or_else(|| "NULL".to_string(), |v| v.to_string()),
            name = migration.name,
            kind = kind_text(migration.kind),
            checksum = migration.checksum,
            tool = crate::TOOL_VERSION,
            empty = prefix_checksum([], 0),
        )
    }

    pub async fn begin_progress(
        &self,
        client: &Client,
        migration: &Migration,
        statements_total: usize,
    ) -> Result<(), tokio_postgres::Error> {
        client
            .batch_execute(&self.begin_progress_sql(migration, statements_total))
            .await
    }

    /// Takes a dirty row up again to resume it: the file's checksum and statement count as
    /// they are now (the statements it completed were checked unchanged).
    pub fn resume_progress_sql(&self, migration: &Migration, statements_total: usize) -> String {
        format!(
            "UPDATE {} SET checksum = '{}', statements_total = {statements_total}, tool_version = '{}' WHERE {}",
            self.qualified(),
            migration.checksum,
            crate::TOOL_VERSION,
            row_filter(migration)
        )
    }

    pub async fn resume_progress(
        &self,
        client: &Client,
        migration: &Migration,
        statements_total: usize,
    ) -> Result<(), tokio_postgres::Error> {
        client
            .batch_execute(&self.resume_progress_sql(migration, statements_total))
            .await
    }

    /// Records that `statements_done` statements completed; `prefix` is their
    /// [`prefix_checksum`].
    pub fn record_progress_sql(
        &self,
        migration: &Migration,
        statements_done: usize,
        prefix: &str,
    ) -> String {
        format!(
            "UPDATE {} SET statements_done = {statements_done}, statements_checksum = '{prefix}' WHERE {}",
            self.qualified(),
            row_filter(migration)
        )
    }

    pub async fn record_progress(
        &self,
        client: &Client,
        migration: &Migration,
        statements_done: usize,
        prefix: &str,
    ) -> Result<(), tokio_postgres::Error> {
        client
            .batch_execute(&self.record_progress_sql(migration, statements_done, prefix))
            .await
    }

    /// `execution_ms` of `None` measures from the statement's transaction start (for scripts).
    pub fn finish_progress_sql(&self, migration: &Migration, execution_ms: Option<u64>) -> String {
        format!(
            "UPDATE {} SET state = 'applied', error = NULL, statements_checksum = NULL, execution_ms = {}, applied_at = now() WHERE {}",
            self.qualified(),
            execution_ms.map_or_else(|| "execution_ms".to_string(), |ms| ms.to_string()),
            row_filter(migration)
        )
    }

    pub async fn finish_progress(
        &self,
        client: &Client,
        migration: &Migration,
        execution_ms: u64,
    ) -> Result<(), tokio_postgres::Error> {
        client
            .batch_execute(&self.finish_progress_sql(migration, Some(execution_ms)))
            .await
    }

    /// Starts reverting a statement-by-statement migration: its row is dirty, with the down
    /// part's progress, until the last down statement completes and the row is deleted.
    pub fn begin_down_progress_sql(
        &self,
        migration: &Migration,
        statements_total: usize,
    ) -> String {
        format!(
            "UPDATE {} SET state = 'dirty', statements_done = 0, statements_total = {statements_total}, error = '{DOWN_PREFIX}started, not finished' WHERE {}",
            self.qualified(),
            row_filter(migration)
        )
    }

    pub fn record_down_progress_sql(
        &self,
        migration: &Migration,
        statements_done: usize,
    ) -> String {
        format!(
            "UPDATE {} SET statements_done = {statements_done} WHERE {}",
            self.qualified(),
            row_filter(migration)
        )
    }

    pub async fn mark_dirty(
        &self,
        client: &Client,
        migration: &Migration,
        error: &str,
    ) -> Result<(), tokio_postgres::Error> {
        client
            .execute(
                &format!(
                    "UPDATE {} SET state = 'dirty', error = $1 WHERE {}",
                    self.qualified(),
                    row_filter(migration)
                ),
                &[&error],
            )
            .await
            .map(|_| ())
    }

    /// SQL that forgets a reverted migration, sent inside the revert's transaction.
    pub fn delete_sql(&self, migration: &Migration) -> String {
        format!(
            "DELETE FROM {} WHERE {}",
            self.qualified(),
            row_filter(migration)
        )
    }

    pub async fn delete_version(
        &self,
        client: &Client,
        version: u64,
    ) -> Result<u64, tokio_postgres::Error> {
        client
            .execute(
                &format!(
                    "DELETE FROM {} WHERE version = $1 AND kind <> 'repeatable'",
                    self.qualified()
                ),
                &[&(version as i64)],
            )
            .await
    }

    pub async fn delete_repeatable(
        &self,
        client: &Client,
        name: &str,
    ) -> Result<u64, tokio_postgres::Error> {
        client
            .execute(
                &format!(
                    "DELETE FROM {} WHERE kind = 'repeatable' AND name = $1",
                    self.qualified()
                ),
                &[&name],
            )
            .await
    }

    pub async fn mark_applied(
        &self,
        client: &Client,
        version: Option<u64>,
        name: &str,
    ) -> Result<u64, tokio_postgres::Error> {
        let (filter, version_param) = filter_for(version);
        client
            .execute(
                &format!(
                    "UPDATE {} SET state = 'applied', error = NULL WHERE {filter}",
                    self.qualified()
                ),
                &[&version_param, &name],
            )
            .await
    }

    pub async fn update_checksum(
        &self,
        client: &Client,
        version: Option<u64>,
        name: &str,
        checksum: &Checksum,
    ) -> Result<u64, tokio_postgres::Error> {
        let (filter, version_param) = filter_for(version);
        client
            .execute(
                &format!(
                    "UPDATE {} SET checksum = $3 WHERE {filter}",
                    self.qualified()
                ),
                &[&version_param, &name, &checksum.as_str()],
            )
            .await
    }

    /// Records a row without running anything (baseline, imports).
    #[allow(clippy::too_many_arguments)]
    pub async fn insert_recorded(
        &self,
        client: &Client,
        version: u64,
        name: &str,
        kind: RowKind,
        checksum: Option<&Checksum>,
        applied_at: Option<DateTime<Utc>>,
        applied_by: &str,
    ) -> Result<(), tokio_postgres::Error> {
        let kind = match kind {
            RowKind::Versioned => "versioned",
            RowKind::Repeatable => "repeatable",
            RowKind::Baseline => "baseline",
        };
        client
            .execute(
                &format!(
                    "INSERT INTO {} (version, name, kind, checksum, applied_at, applied_by, tool_version, state)
                     VALUES ($1, $2, $3, $4, coalesce($5, now()), $6, $7, 'applied')",
                    self.qualified()
                ),
                &[
                    &(version as i64),
                    &name,
                    &kind,
                    &checksum.map(Checksum::as_str),
                    &applied_at,
                    &applied_by,
                    &crate::TOOL_VERSION,
                ],
            )
            .await
            .map(|_| ())
    }
}

fn kind_text(kind: Kind) -> &'static str {
    match kind {
        Kind::Versioned => "versioned",
        Kind::Repeatable => "repeatable",
    }
}

fn row_filter(migration: &Migration) -> String {
    match migration.version {
        Some(version) => format!("version = {version} AND kind <> 'repeatable'"),
        None => format!("kind = 'repeatable' AND name = '{}'", migration.name),
    }
}

/// A filter on ($1 version, $2 name) matching one row of either kind.
fn filter_for(version: Option<u64>) -> (&'static str, Option<i64>) {
    match version {
        Some(version) => (
            "version = $1 AND kind <> 'repeatable' AND $2::text IS NOT NULL",
            Some(version as i64),
        ),
        None => (
            "$1::bigint IS NULL AND kind = 'repeatable' AND name = $2",
            None,
        ),
    }
}

/// One write to the history table that is not a migration run: what `repair` and `baseline
/// --from-refinery` plan, executed as planned by `Session::edit_history`.
#[derive(Debug, Clone)]
pub enum HistoryEdit {
    /// Mark a dirty row applied (`repair --mark-applied`).
    MarkApplied(Option<u64>, String),
    DeleteVersion(u64),
    DeleteRepeatable(String),
    /// Record the file's current checksum for an applied migration.
    UpdateChecksum(Option<u64>, String, Checksum),
    /// A row for a migration applied elsewhere (a baseline, an imported history).
    Record(RecordedRow),
}

/// A history row written without running its migration.
#[derive(Debug, Clone)]
pub struct RecordedRow {
    pub version: u64,
    pub name: String,
    pub kind: RowKind,
    pub checksum: Option<Checksum>,
    pub applied_at: Option<DateTime<Utc>>,
    pub applied_by: String,
}
