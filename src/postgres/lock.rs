//! One runner at a time per database: a session advisory lock, taken by polling
//! `pg_try_advisory_lock` outside any transaction so that a waiter never blocks a running
//! `CREATE INDEX CONCURRENTLY` (which waits for every open transaction, a blocked
//! `pg_advisory_lock` call included).

use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tokio_postgres::Client;
use tokio_postgres::types::Type;

/// Who holds the lock, as far as `pg_stat_activity` tells.
#[derive(Debug, Clone)]
pub struct Holder {
    pub pid: i32,
    pub application_name: String,
    pub client: String,
    pub since: String,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "pid {} ({}, from {}, connected since {})",
            self.pid,
            if self.application_name.is_empty() {
                "unknown application"
            } else {
                &self.application_name
            },
            self.client,
            self.since
        )
    }
}

/// The lock key: derived from the history table name, so every runner of one database and
/// table agrees on it.
#[derive(Debug, Clone, Copy)]
pub struct LockKey(pub i64);

impl LockKey {
    pub fn for_table(qualified_table: &str) -> LockKey {
        let digest = Sha256::digest(format!("migrate:{qualified_table}").as_bytes());
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&digest[..8]);
        LockKey(i64::from_be_bytes(bytes))
    }

    fn class_and_object(self) -> (u32, u32) {
        let value = self.0 as u64;
        ((value >> 32) as u32, value as u32)
    }
}

/// Proof that this session holds the lock.
#[derive(Debug)]
pub struct Held {
    key: LockKey,
    backend_pid: i32,
}

impl Held {
    pub fn backend_pid(&self) -> i32 {
        self.backend_pid
    }
}

/// Polls until the lock is ours; `on_wait` is called with the holder at the first wait and
/// then every 10 seconds.
pub async fn acquire(
    client: &Client,
    key: LockKey,
    max_wait: Duration,
    mut on_wait: impl FnMut(Option<&Holder>, Duration),
) -> anyhow::Result<Held> {
    let started = Instant::now();
    let mut last_report: Option<Instant> = None;
    let mut delay = Duration::from_millis(20);
    loop {
        if let Some(held) = try_acquire(client, key).await? {
            return Ok(held);
        }
        let waited = started.elapsed();
        if last_report.is_none_or(|t| t.elapsed() >= Duration::from_secs(10)) {
            let holder = holder(client, key).await.ok().flatten();
            on_wait(holder.as_ref(), waited);
            last_report = Some(Instant::now());
        }
        if waited >= max_wait {
            let holder = holder(client, key).await.ok().flatten();
            let who = holder.map_or_else(|| "another session".to_string(), |h| h.to_string());
            anyhow::bail!(
                "gave up waiting for the migration lock after {}s: held by {who}",
                waited.as_secs()
            );
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_millis(500));
    }
}

/// One attempt: the lock if it was free, `None` if another session holds it.
pub async fn try_acquire(client: &Client, key: LockKey) -> anyhow::Result<Option<Held>> {
    let row = one_row(
        client
            .query_typed(
                "SELECT pg_try_advisory_lock($1), pg_backend_pid()",
                &[(&key.0, Type::INT8)],
            )
            .await?,
    )?;
    Ok(row.get::<_, bool>(0).then(|| Held {
        key,
        backend_pid: row.get(1),
    }))
}

/// The first attempt of a session: as [`try_acquire`], but the lock is only tried when nothing
/// suggests a pooler in between (the server's port differs from the one connected to, or the
/// server session is older than this connection). `Err(Suspect)`-like `None` in the second
/// field means: not tried, check for a transaction-mode pooler first.
pub async fn try_acquire_unless_pooled(
    client: &Client,
    key: LockKey,
    url_port: Option<i32>,
) -> anyhow::Result<(Option<Held>, bool)> {
    let row = one_row(
        client
            .query_typed(
                "WITH s AS (
                     SELECT inet_server_port() IS DISTINCT FROM coalesce($2, inet_server_port())
                            OR (SELECT backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid())
                               < clock_timestamp() - interval '5 seconds' AS suspect)
                 SELECT CASE WHEN s.suspect THEN false ELSE pg_try_advisory_lock($1) END,
                        pg_backend_pid(), s.suspect
                 FROM s",
                &[(&key.0, Type::INT8), (&url_port, Type::INT4)],
            )
            .await?,
    )?;
    let suspect: bool = row.get(2);
    Ok((
        (!suspect && row.get::<_, bool>(0)).then(|| Held {
            key,
            backend_pid: row.get(1),
        }),
        suspect,
    ))
}

/// The single row of a one-row query (`query_typed` saves the prepare round trip that
/// `query_one` costs).
fn one_row(rows: Vec<tokio_postgres::Row>) -> anyhow::Result<tokio_postgres::Row> {
    rows.into_iter()
        .next()
        .ok_or_else(|| anyhow::anyhow!("the server returned no row for a lock query"))
}

/// Releases the lock. Verifies that the session is still the one that took it: behind a
/// transaction-pooling proxy it may not be, and the lock would then have protected nothing.
pub async fn release(client: &Client, held: Held) -> anyhow::Result<()> {
    let row = one_row(
        client
            .query_typed(
                "SELECT pg_advisory_unlock($1), pg_backend_pid()",
                &[(&held.key.0, Type::INT8)],
            )
            .await?,
    )?;
    let unlocked: bool = row.get(0);
    let pid: i32 = row.get(1);
    if pid != held.backend_pid || !unlocked {
        anyhow::bail!(
            "the migration lock was taken on server session {} but released on {pid}: a connection pooler in transaction mode (PgBouncer?) sits between migrate and PostgreSQL; connect to PostgreSQL directly or use session pooling",
            held.backend_pid
        );
    }
    Ok(())
}

/// Checks the session is the one holding the lock (cheap: compares a pid fetched anyway).
pub fn check_same_session(held: &Held, backend_pid: i32) -> anyhow::Result<()> {
    if held.backend_pid != backend_pid {
        anyhow::bail!(
            "server session changed from {} to {backend_pid} while holding the migration lock: a connection pooler in transaction mode (PgBouncer?) is in the way; connect to PostgreSQL directly or use session pooling",
            held.backend_pid
        );
    }
    Ok(())
}

async fn holder(client: &Client, key: LockKey) -> Result<Option<Holder>, tokio_postgres::Error> {
    let (class_id, object_id) = key.class_and_object();
    let row = client
        .query_opt(
            "SELECT a.pid, coalesce(a.application_name, ''),
                    coalesce(host(a.client_addr), 'local socket'),
                    coalesce(to_char(a.backend_start AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || ' UTC', '?')
             FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
             WHERE l.locktype = 'advisory' AND l.granted
               AND l.classid = $1::bigint::oid AND l.objid = $2::bigint::oid AND l.objsubid = 1
               AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
             LIMIT 1",
            &[&(class_id as i64), &(object_id as i64)],
        )
        .await?;
    Ok(row.map(|row| Holder {
        pid: row.get(0),
        application_name: row.get(1),
        client: row.get(2),
        since: row.get(3),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_stable_and_table_specific() {
        let a = LockKey::for_table("\"public\".\"migrate_history\"");
        assert_eq!(a.0, LockKey::for_table("\"public\".\"migrate_history\"").0);
        assert_ne!(a.0, LockKey::for_table("\"ops\".\"migrate_history\"").0);
        let (class_id, object_id) = a.class_and_object();
        assert_eq!(((class_id as u64) << 32 | object_id as u64) as i64, a.0);
    }
}
