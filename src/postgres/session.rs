//! A PostgreSQL migration session: one connection, the history table it migrates and the
//! settings it was opened with. Commands and jobs go through its methods; only the store
//! (`crate::postgres`) reaches its connection and history.

use std::collections::BTreeMap;
use std::time::Duration;

use futures_util::FutureExt;
use tokio_postgres::Client;

use super::engine::{hostname, query_error};
use super::history::{HistoryEdit, HistoryRow, HistoryTable, RowKind};
use super::lock::{self, Held, LockKey};
use super::migration::Checksum;
use super::refinery;
use super::seeds::{self, SeedFile};
use super::snapshot::{self, Snapshot, SnapshotOptions};
use crate::config::PgSettings;
use crate::errors::Detailed;
use crate::output::Printer;

/// A connection plus what the engine needs to know about the database.
pub struct Session {
    pub(in crate::postgres) client: Client,
    pub(in crate::postgres) history: HistoryTable,
    pub(in crate::postgres) settings: PgSettings,
}

impl Session {
    pub async fn open(settings: &PgSettings) -> anyhow::Result<Session> {
        let application_name = format!(
            "migrate {} on {} pid {}",
            crate::TOOL_VERSION,
            hostname(),
            std::process::id()
        );
        let client = settings.target.connect(&application_name).await?;
        // If this process dies mid-migration, let the server notice within a second (PG 14+)
        // instead of finishing the statement first: the transaction rolls back and the lock
        // goes free for the next runner. Older servers do not know the setting; that is fine.
        // Sent without waiting for the answer (a request goes out when its future is first
        // polled, and requests run in that order): it travels with the session's first query
        // instead of costing a round trip of its own. Its answer, an error included, is
        // discarded.
        let _ = client
            .batch_execute("SET client_connection_check_interval = 1000")
            .now_or_never();
        Ok(Session {
            client,
            history: HistoryTable::new(&settings.history_table),
            settings: settings.clone(),
        })
    }

    /// The TCP port the URL names (`None` for a Unix socket).
    fn url_port(&self) -> Option<i32> {
        let config = self.settings.target.driver_config();
        match config.get_hosts().first() {
            Some(tokio_postgres::config::Host::Tcp(_)) => Some(i32::from(
                config.get_ports().first().copied().unwrap_or(5432),
            )),
            _ => None,
        }
    }

    /// Refuses a connection pooler in transaction mode (PgBouncer `pool_mode = transaction`)
    /// between migrate and the server, before any lock is taken or statement run: session
    /// advisory locks and `SET` do not survive from one transaction to the next there.
    ///
    /// A direct connection keeps its server session, so only a suspect connection (the
    /// server's port is not the one connected to, or the server session is older than the
    /// connection) pays for the proof: a second connection takes a server session inside a
    /// transaction, and a pooler in transaction mode then hands this connection another one
    /// (or none, until that transaction ends).
    pub async fn refuse_transaction_pooler(&self) -> anyhow::Result<()> {
        let row = self
            .client
            .query_typed(
                "SELECT inet_server_port() IS DISTINCT FROM coalesce($1, inet_server_port())
                        OR (SELECT backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid())
                           < clock_timestamp() - interval '5 seconds',
                        pg_backend_pid()",
                &[(&self.url_port(), tokio_postgres::types::Type::INT4)],
            )
            .await
            .map_err(|err| query_error("cannot read the server session", err))?;
        let Some(row) = row.first() else {
            return Ok(());
        };
        if !row.get::<_, bool>(0) {
            return Ok(());
        }
        let pid = |rows: Result<Vec<tokio_postgres::Row>, tokio_postgres::Error>| {
            rows.ok()
                .and_then(|rows| rows.first().map(|row| row.get::<_, i32>(0)))
        };
        let first: i32 = row.get(1);
        let other = self
            .settings
            .target
            .connect(&format!("migrate {} pooler check", crate::TOOL_VERSION))
            .await?;
        other
            .batch_execute("BEGIN")
            .await
            .map_err(|err| query_error("cannot check for a connection pooler", err))?;
        let held_by_other = pid(other.query("SELECT pg_backend_pid()", &[]).await);
        let again = tokio::time::timeout(
            Duration::from_secs(2),
            self.client.query("SELECT pg_backend_pid()", &[]),
        )
        .await;
        let _ = other.batch_execute("COMMIT").await;
        let transaction_pooled = match again {
            // No server session for this connection while the other held one: pooled.
            Err(_) => true,
            Ok(rows) => {
                let second = pid(rows);
                held_by_other == Some(first) || second != Some(first)
            }
        };
        if transaction_pooled {
            return Err(Detailed::new(format!(
                "{} is a connection pooler in transaction mode (PgBouncer?): refusing to migrate through it",
                self.settings.target
            ))
            .context("the migration lock and session settings (lock_timeout, SET) do not survive from one transaction to the next there; nothing was run")
            .hint("connect to PostgreSQL itself: set [postgres] direct_url in migrate.toml (e.g. direct_url = \"${DIRECT_URL}\"), pass --database-url with the server's own host and port, or list the direct URL in the targets file")
            .into());
        }
        Ok(())
    }

    /// History rows; an absent table reads as empty (nothing is created). The session is
    /// never inside a transaction when this is called (migrations' transactions end in
    /// `execute`).
    pub async fn read_history(&self) -> anyhow::Result<Vec<HistoryRow>> {
        self.history
            .read_outside_transaction(&self.client)
            .await
            .map_err(|err| query_error("cannot read the history table", err))
    }

    /// Takes the migration lock (polling, reporting the holder), then makes sure the history
    /// table exists.
    pub async fn lock(&self, printer: &Printer) -> anyhow::Result<Held> {
        self.refuse_transaction_pooler().await?;
        let key = LockKey::for_table(&self.history.qualified());
        let held = lock::acquire(
            &self.client,
            key,
            self.settings.lock_wait,
            |holder, waited| {
                let who = holder.map_or_else(|| "another session".to_string(), |h| h.to_string());
                printer.step(format!(
                    "waiting for the migration lock held by {who} ({}s so far)",
                    waited.as_secs()
                ));
            },
        )
        .await?;
        self.history
            .ensure(&self.client)
            .await
            .map_err(|err| query_error("cannot create the history table", err))?;
        Ok(held)
    }

    /// `lock` followed by `read_history`. When nobody holds the lock (the usual case), the
    /// lock attempt and the history read travel in one round trip: the read is queued behind
    /// the attempt on this session, so the server runs it with the lock granted. When the lock
    /// is taken, this waits for it as `lock` does and reads afterwards.
    pub async fn lock_and_read_history(
        &self,
        printer: &Printer,
    ) -> anyhow::Result<(Held, Vec<HistoryRow>)> {
        let key = LockKey::for_table(&self.history.qualified());
        // `join` polls its first future first: the lock attempt is sent before the read.
        let (attempt, history) = futures_util::future::join(
            lock::try_acquire_unless_pooled(&self.client, key, self.url_port()),
            self.history.read_if_exists(&self.client),
        )
        .await;
        // Taken at once: the queued read ran under the lock. Otherwise wait (`lock` also
        // creates the table) and read afterwards; when a pooler may be in between, find out
        // first (`lock` does).
        let (held, first_read) = match attempt? {
            (Some(held), _) => (held, Some(history)),
            (None, _) => (self.lock(printer).await?, None),
        };
        let rows = match first_read {
            Some(Ok(Some(rows))) => Ok(rows),
            Some(Ok(None)) => self
                .history
                .ensure(&self.client)
                .await
                .map(|()| Vec::new())
                .map_err(|err| query_error("cannot create the history table", err)),
            Some(Err(err)) => Err(query_error("cannot read the history table", err)),
            None => self.read_history().await,
        };
        match rows {
            Ok(rows) => Ok((held, rows)),
            Err(error) => {
                let _ = lock::release(&self.client, held).await;
                Err(error)
            }
        }
    }

    /// Writes `edits` to the history table in one transaction: all of them or none (a failed
    /// edit rolls the others back and says so). `repair` and `baseline --from-refinery` write
    /// through here; no command runs BEGIN/COMMIT itself.
    pub async fn edit_history(&self, edits: &[HistoryEdit]) -> anyhow::Result<()> {
        let (client, history) = (&self.client, &self.history);
        client.batch_execute("BEGIN").await?;
        let writes = async {
            for edit in edits {
                match edit {
                    HistoryEdit::MarkApplied(version, name) => {
                        history.mark_applied(client, *version, name).await?
                    }
                    HistoryEdit::DeleteVersion(version) => {
                        history.delete_version(client, *version).await?
                    }
                    HistoryEdit::DeleteRepeatable(name) => {
                        history.delete_repeatable(client, name).await?
                    }
                    HistoryEdit::UpdateChecksum(version, name, checksum) => {
                        history
                            .update_checksum(client, *version, name, checksum)
                            .await?
                    }
                    HistoryEdit::Record(record) => {
                        history
                            .insert_recorded(
                                client,
                                record.version,
                                &record.name,
                                record.kind,
                                record.checksum.as_ref(),
                                record.applied_at,
                                &record.applied_by,
                            )
                            .await?;
                        1 // one row inserted, as the other arms count theirs
                    }
                };
            }
            anyhow::Ok(())
        }
        .await;
        match writes {
            Ok(()) => {
                client.batch_execute("COMMIT").await?;
                Ok(())
            }
            Err(err) => {
                let _ = client.batch_execute("ROLLBACK").await;
                Err(err.context("nothing was changed (the history writes were rolled back)"))
            }
        }
    }

    pub async fn unlock(&self, held: Held) -> anyhow::Result<()> {
        lock::release(&self.client, held).await
    }

    /// The server's clock (history timestamps are the server's, not this machine's).
    pub async fn server_now(&self) -> anyhow::Result<chrono::DateTime<chrono::Utc>> {
        let row = self.client.query_one("SELECT now()", &[]).await?;
        Ok(row.get(0))
    }

    pub async fn server_version(&self) -> anyhow::Result<String> {
        let row = self.client.query_one("SHOW server_version", &[]).await?;
        Ok(row.get(0))
    }
}

/// What commands and jobs do with a session beyond migrating: each runs on the session's own
/// connection and, where it matters, against the session's history table.
impl Session {
    /// The settings the session was opened with.
    pub fn settings(&self) -> &PgSettings {
        &self.settings
    }

    /// The connection alone, for a job that runs its own statements (anonymization, retention,
    /// bulk loads): the session's history and lock are not used any more.
    pub fn into_client(self) -> Client {
        self.client
    }

    /// Records `version` as the baseline (`migrate baseline`): the first row of an empty
    /// history.
    pub async fn record_baseline(&self, version: u64) -> anyhow::Result<()> {
        self.history
            .insert_recorded(
                &self.client,
                version,
                "baseline",
                RowKind::Baseline,
                None,
                None,
                "baseline",
            )
            .await?;
        Ok(())
    }

    /// The rows of refinery's `refinery_schema_history` (`baseline --from-refinery`).
    pub async fn read_refinery(&self) -> anyhow::Result<Vec<refinery::RefineryRow>> {
        refinery::read(&self.client).await
    }

    /// A catalog snapshot of the session's database.
    pub async fn snapshot(&self, options: &SnapshotOptions) -> anyhow::Result<Snapshot> {
        snapshot::take(&self.client, options).await
    }

    /// The server's major version (`server_version_num / 10000`).
    pub async fn server_major(&self) -> anyhow::Result<u32> {
        snapshot::server_major(&self.client).await
    }

    /// The seed files recorded for `env`, with their checksums (empty before the first seed).
    pub async fn recorded_seeds(
        &self,
        env: &str,
    ) -> Result<BTreeMap<String, Checksum>, tokio_postgres::Error> {
        seeds::recorded(&self.client, &self.history, env).await
    }

    /// Creates the table recording applied seed files, next to the history table.
    pub async fn ensure_seed_table(&self) -> Result<(), tokio_postgres::Error> {
        seeds::ensure_table(&self.client, &self.history).await
    }

    /// Loads one seed file and records it for `env`.
    pub async fn apply_seed(&self, env: &str, file: &SeedFile) -> anyhow::Result<seeds::Applied> {
        seeds::apply(&self.client, &self.history, env, file).await
    }

    /// Drops the record of applied seed files (every migration was reverted).
    pub async fn drop_seed_table(&self) -> Result<(), tokio_postgres::Error> {
        seeds::drop_table(&self.client, &self.history).await
    }
}
