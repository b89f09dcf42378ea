//! PostgreSQL health: sessions, locks, vacuum, indexes, cache, wraparound, sequences,
//! connections, replication and slow statements, from the server's statistics views. Every
//! query is read-only and runs with a short `statement_timeout`.

use tokio_postgres::{Client, Row};

use super::{Finding, Relation, Severity, Statement, StoreHealth, seconds, size};
use crate::config::PgSettings;
use crate::config::health::HealthSettings;
use crate::errors::DbError;

/// The wraparound horizon: transaction IDs are 32-bit, and half the space is the past.
const XID_HORIZON: f64 = 2_147_483_648.0;

type Check = Result<(), tokio_postgres::Error>;

pub async fn check(pg: &PgSettings, health: &HealthSettings) -> anyhow::Result<StoreHealth> {
    let client = pg
        .target
        .connect(&format!("migrate {} health", crate::TOOL_VERSION))
        .await?;
    client
        .batch_execute("SET statement_timeout = '30s'; SET lock_timeout = '1s'")
        .await
        .map_err(|err| DbError::new("cannot set timeouts", err))?;
    let mut store = StoreHealth::new("postgres", pg.target.to_string());
    let version: i32 = client
        .query_one("SELECT current_setting('server_version_num')::int", &[])
        .await
        .map_err(|err| DbError::new("cannot read the server version", err))?
        .get(0);
    macro_rules! run {
        ($name:literal, $call:expr) => {{
            store.checks.push($name);
            let result: Check = $call;
            if let Err(err) = result {
                // A finding of the report (its text is data), not an error of the command.
                store.could_not_check($name, crate::errors::db::describe(&err));
            }
        }};
    }
    run!("sessions", sessions(&client, health, &mut store).await);
    run!(
        "lock-waits",
        lock_waits(&client, health, version, &mut store).await
    );
    run!("sizes", sizes(&client, health, &mut store).await);
    run!("vacuum", vacuum(&client, health, &mut store).await);
    run!(
        "unused-indexes",
        unused_indexes(&client, health, &mut store).await
    );
    run!(
        "duplicate-indexes",
        duplicate_indexes(&client, &mut store).await
    );
    run!(
        "foreign-key-indexes",
        foreign_key_indexes(&client, health, &mut store).await
    );
    run!(
        "cache-hit-ratio",
        cache_hit_ratio(&client, health, &mut store).await
    );
    run!("sequences", sequences(&client, health, &mut store).await);
    run!("wraparound", wraparound(&client, health, &mut store).await);
    run!(
        "connections",
        connections(&client, health, &mut store).await
    );
    run!(
        "replication",
        replication(&client, health, &mut store).await
    );
    run!(
        "slow-queries",
        slow_queries(&client, health, version, &mut store).await
    );
    store.sort();
    Ok(store)
}

fn text(row: &Row, i: usize) -> String {
    row.get::<_, Option<String>>(i).unwrap_or_default()
}

/// Long transactions and sessions idle inside an open transaction, in this database (those of
/// other databases hold back nothing here but shared catalogs).
async fn sessions(client: &Client, health: &HealthSettings, store: &mut StoreHealth) -> Check {
    let rows = client
        .query(
            "SELECT pid, usename::text, datname::text, application_name, client_addr::text, state,
                    extract(epoch FROM now() - xact_start)::float8,
                    extract(epoch FROM now() - state_change)::float8,
                    left(regexp_replace(query, '\\s+', ' ', 'g'), 120)
             FROM pg_stat_activity
             WHERE pid <> pg_backend_pid() AND backend_type = 'client backend'
               AND datname = current_database() AND xact_start IS NOT NULL
             ORDER BY xact_start",
            &[],
        )
        .await?;
    for row in rows {
        let pid: i32 = row.get(0);
        let who = format!(
            "pid {pid} ({}@{}{}{})",
            text(&row, 1),
            text(&row, 2),
            match text(&row, 3) {
                app if app.is_empty() => String::new(),
                app => format!(", {app}"),
            },
            match text(&row, 4) {
                addr if addr.is_empty() => String::new(),
                addr => format!(", from {addr}"),
            }
        );
        let state = text(&row, 5);
        let in_transaction: f64 = row.get::<_, Option<f64>>(6).unwrap_or(0.0);
        let in_state: f64 = row.get::<_, Option<f64>>(7).unwrap_or(0.0);
        let query = text(&row, 8);
        if state.starts_with("idle in transaction") {
            let limit = health.idle_in_transaction.as_secs_f64();
            if in_state >= limit {
                store.findings.push(Finding::new(
                    Severity::Warning,
                    "idle-in-transaction",
                    who,
                    format!(
                        "idle in an open transaction for {} (threshold {}); it holds its locks and keeps VACUUM from removing dead rows; last statement: {query}",
                        seconds(in_state),
                        seconds(limit)
                    ),
                    format!(
                        "fix the application so it commits or rolls back; end this one with SELECT pg_terminate_backend({pid}); set idle_in_transaction_session_timeout on the role"
                    ),
                ));
            }
        } else if in_transaction >= health.long_transaction.as_secs_f64() {
            store.findings.push(Finding::new(
                Severity::Warning,
                "long-transaction",
                who,
                format!(
                    "a transaction open for {} (threshold {}), now {state}: {query}",
                    seconds(in_transaction),
                    seconds(health.long_transaction.as_secs_f64())
                ),
                format!(
                    "check what it is doing; if it must go: SELECT pg_cancel_backend({pid}) (or pg_terminate_backend)"
                ),
            ));
        }
    }
    Ok(())
}

/// Sessions waiting for a lock, and who blocks them.
async fn lock_waits(
    client: &Client,
    health: &HealthSettings,
    version: i32,
    store: &mut StoreHealth,
) -> Check {
    // `pg_locks.waitstart` exists from PostgreSQL 14; before, the state change is the best
    // estimate of when the wait began.
    let since = if version >= 140_000 {
        "coalesce((SELECT min(l.waitstart) FROM pg_locks l WHERE l.pid = a.pid AND NOT l.granted), a.state_change)"
    } else {
        "a.state_change"
    };
    let rows = client
        .query(
            &format!(
                "SELECT a.pid, array_to_string(pg_blocking_pids(a.pid), ', '), a.datname::text,
                        extract(epoch FROM now() - {since})::float8,
                        left(regexp_replace(a.query, '\\s+', ' ', 'g'), 120),
                        (SELECT left(regexp_replace(b.query, '\\s+', ' ', 'g'), 120)
                         FROM pg_stat_activity b WHERE b.pid = (pg_blocking_pids(a.pid))[1])
                 FROM pg_stat_activity a
                 WHERE a.datname = current_database()
                   AND cardinality(pg_blocking_pids(a.pid)) > 0"
            ),
            &[],
        )
        .await?;
    for row in rows {
        let pid: i32 = row.get(0);
        let blockers = text(&row, 1);
        let waited: f64 = row.get::<_, Option<f64>>(3).unwrap_or(0.0);
        if waited < health.lock_wait.as_secs_f64() {
            continue;
        }
        store.findings.push(Finding::new(
            Severity::Warning,
            "lock-wait",
            format!("pid {pid} ({})", text(&row, 2)),
            format!(
                "waiting {} for a lock held by pid {blockers}; waiting: {}; blocker's last statement: {}",
                seconds(waited),
                text(&row, 4),
                text(&row, 5)
            ),
            format!(
                "find out why pid {blockers} holds its lock (often a transaction left open); SELECT pg_cancel_backend(PID) on the blocker if it must go"
            ),
        ));
    }
    Ok(())
}

/// The largest tables, with index sizes.
async fn sizes(client: &Client, health: &HealthSettings, store: &mut StoreHealth) -> Check {
    let rows = client
        .query(
            "SELECT format('%I.%I', n.nspname, c.relname),
                    coalesce(s.n_live_tup, greatest(c.reltuples, 0)::int8),
                    pg_total_relation_size(c.oid), pg_relation_size(c.oid), pg_indexes_size(c.oid)
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
             WHERE c.relkind IN ('r', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
               AND n.nspname NOT LIKE 'pg_toast%'
             ORDER BY 3 DESC, 1 LIMIT $1",
            &[&i64::from(health.top)],
        )
        .await?;
    store.largest = rows
        .iter()
        .map(|row| Relation {
            name: row.get(0),
            rows: row.get::<_, i64>(1).max(0),
            total_bytes: row.get(2),
            data_bytes: row.get(3),
            index_bytes: row.get(4),
        })
        .collect();
    let total: i64 = client
        .query_one("SELECT pg_database_size(current_database())", &[])
        .await?
        .get(0);
    store.fact("database_size", size(total));
    Ok(())
}

/// Dead-tuple ratio and when tables were last vacuumed and analyzed.
async fn vacuum(client: &Client, health: &HealthSettings, store: &mut StoreHealth) -> Check {
    let rows = client
        .query(
            "SELECT format('%I.%I', schemaname, relname), n_live_tup, n_dead_tup,
                    coalesce(greatest(last_vacuum, last_autovacuum)::text, 'never'),
                    coalesce(greatest(last_analyze, last_autoanalyze)::text, 'never')
             FROM pg_stat_user_tables
             WHERE n_dead_tup >= $1 ORDER BY n_dead_tup DESC",
            &[&i64::try_from(health.dead_tuple_min).unwrap_or(i64::MAX)],
        )
        .await?;
    for row in rows {
        let table: String = row.get(0);
        let live: i64 = row.get(1);
        let dead: i64 = row.get(2);
        let ratio = dead as f64 / (live + dead).max(1) as f64;
        if ratio < health.dead_tuple_ratio {
            continue;
        }
        store.findings.push(Finding::new(
            Severity::Warning,
            "dead-tuples",
            table.clone(),
            format!(
                "{dead} dead rows, {:.0}% of the table (threshold {:.0}%); last vacuum {}, last analyze {}",
                ratio * 100.0,
                health.dead_tuple_ratio * 100.0,
                text(&row, 3),
                text(&row, 4)
            ),
            format!(
                "VACUUM (ANALYZE) {table}; if autovacuum keeps falling behind, lower autovacuum_vacuum_scale_factor for this table, and look for long transactions"
            ),
        ));
    }
    Ok(())
}

/// Indexes never scanned since the statistics were reset, that back no constraint.
async fn unused_indexes(
    client: &Client,
    health: &HealthSettings,
    store: &mut StoreHealth,
) -> Check {
    let reset: String = client
        .query_one(
            "SELECT coalesce(stats_reset::text, 'the server started')
             FROM pg_stat_database WHERE datname = current_database()",
            &[],
        )
        .await?
        .get(0);
    let rows = client
        .query(
            "SELECT format('%I.%I', s.schemaname, s.indexrelname), format('%I.%I', s.schemaname, s.relname),
                    pg_relation_size(s.indexrelid)
             FROM pg_stat_user_indexes s JOIN pg_index i ON i.indexrelid = s.indexrelid
             WHERE s.idx_scan = 0 AND NOT i.indisunique AND NOT i.indisprimary
               AND NOT i.indisexclusion AND i.indisvalid
               AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = s.indexrelid)
               AND pg_relation_size(s.indexrelid) >= $1
             ORDER BY 3 DESC, 1",
            &[&i64::try_from(health.unused_index_min_bytes).unwrap_or(i64::MAX)],
        )
        .await?;
    for row in rows {
        let index: String = row.get(0);
        let table: String = row.get(1);
        let bytes: i64 = row.get(2);
        store.findings.push(Finding::new(
            Severity::Warning,
            "unused-index",
            index.clone(),
            format!(
                "on {table}, {}, never scanned since statistics were reset ({reset}); it costs every write to the table",
                size(bytes)
            ),
            format!(
                "check it is unused on replicas too, then DROP INDEX CONCURRENTLY {index} in a migration"
            ),
        ));
    }
    Ok(())
}

/// An index as the duplicate check compares them.
struct IndexShape {
    table: String,
    name: String,
    /// Key columns (attribute numbers; 0 for an expression), without INCLUDE columns.
    keys: Vec<String>,
    classes: Vec<String>,
    exprs: String,
    predicate: String,
    method: String,
    unique: bool,
    backs_constraint: bool,
}

/// Indexes with the same definition, and plain b-tree indexes that are a leading prefix of
/// another one on the same table.
async fn duplicate_indexes(client: &Client, store: &mut StoreHealth) -> Check {
    let rows = client
        .query(
            "SELECT i.indrelid::regclass::text, i.indexrelid::regclass::text, i.indkey::text,
                    i.indclass::text, i.indcollation::text, i.indnkeyatts::int,
                    coalesce(pg_get_expr(i.indexprs, i.indrelid), ''),
                    coalesce(pg_get_expr(i.indpred, i.indrelid), ''),
                    am.amname::text, i.indisunique OR i.indisprimary OR i.indisexclusion,
                    EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
             FROM pg_index i
             JOIN pg_class c ON c.oid = i.indexrelid
             JOIN pg_namespace n ON n.oid = c.relnamespace
             JOIN pg_am am ON am.oid = c.relam
             WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
               AND n.nspname NOT LIKE 'pg_toast%' AND i.indisvalid
             ORDER BY 1, 2",
            &[],
        )
        .await?;
    let shapes: Vec<IndexShape> = rows
        .iter()
        .map(|row| {
            let n = row.get::<_, i32>(5).max(0) as usize;
            let words = |s: String| -> Vec<String> {
                s.split_whitespace().take(n).map(str::to_string).collect()
            };
            let collations = words(row.get(4));
            IndexShape {
                table: row.get(0),
                name: row.get(1),
                keys: words(row.get(2)),
                classes: words(row.get::<_, String>(3))
                    .into_iter()
                    .zip(collations)
                    .map(|(class, coll)| format!("{class}/{coll}"))
                    .collect(),
                exprs: row.get(6),
                predicate: row.get(7),
                method: row.get(8),
                unique: row.get(9),
                backs_constraint: row.get(10),
            }
        })
        .collect();
    let mut reported = std::collections::BTreeSet::new();
    for a in &shapes {
        for b in &shapes {
            if a.name == b.name
                || a.table != b.table
                || a.method != b.method
                || a.exprs != b.exprs
                || a.predicate != b.predicate
            {
                continue;
            }
            let same = a.keys == b.keys && a.classes == b.classes;
            if same {
                // Report the one that can go: not the one backing a constraint or enforcing
                // uniqueness; between equals, the later name.
                let (a_keeps, b_keeps) = (
                    a.unique || a.backs_constraint,
                    b.unique || b.backs_constraint,
                );
                let droppable = if a_keeps == b_keeps {
                    a.name > b.name
                } else {
                    b_keeps
                };
                if !droppable || !reported.insert(a.name.clone()) {
                    continue;
                }
                store.findings.push(Finding::new(
                    Severity::Warning,
                    "duplicate-index",
                    a.name.clone(),
                    format!("on {}, the same definition as {}", a.table, b.name),
                    if a.backs_constraint {
                        format!(
                            "{} backs a constraint: drop that constraint in a migration (keep {})",
                            a.name, b.name
                        )
                    } else {
                        format!(
                            "DROP INDEX CONCURRENTLY {} in a migration (keep {})",
                            a.name, b.name
                        )
                    },
                ));
            } else if a.method == "btree"
                && !a.unique
                && !a.backs_constraint
                && a.exprs.is_empty()
                && a.keys.len() < b.keys.len()
                && b.keys[..a.keys.len()] == a.keys[..]
                && b.classes[..a.classes.len()] == a.classes[..]
                && reported.insert(a.name.clone())
            {
                store.findings.push(Finding::new(
                    Severity::Warning,
                    "redundant-index",
                    a.name.clone(),
                    format!(
                        "on {}, its columns are the leading columns of {}, which serves the same lookups",
                        a.table, b.name
                    ),
                    format!("DROP INDEX CONCURRENTLY {} in a migration", a.name),
                ));
            }
        }
    }
    Ok(())
}

/// Foreign keys whose columns lead no index of the referencing table: every delete or key
/// update on the referenced table scans it.
async fn foreign_key_indexes(
    client: &Client,
    health: &HealthSettings,
    store: &mut StoreHealth,
) -> Check {
    let rows = client
        .query(
            "SELECT c.conrelid::regclass::text, c.conname::text, c.confrelid::regclass::text,
                    (SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY k.ord)
                     FROM unnest(c.conkey) WITH ORDINALITY k(attnum, ord)
                     JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum),
                    greatest(t.reltuples, 0)::int8
             FROM pg_constraint c
             JOIN pg_class t ON t.oid = c.conrelid
             JOIN pg_namespace n ON n.oid = t.relnamespace
             WHERE c.contype = 'f' AND c.conparentid = 0
               AND n.nspname NOT IN ('pg_catalog', 'information_schema')
               AND greatest(t.reltuples, 0)::float8 >= $1
               AND NOT EXISTS (
                   SELECT 1 FROM pg_index i
                   WHERE i.indrelid = c.conrelid AND i.indpred IS NULL
                     AND (i.indkey::int2[])[0:cardinality(c.conkey) - 1] @> c.conkey
                     AND (i.indkey::int2[])[0:cardinality(c.conkey) - 1] <@ c.conkey)
             ORDER BY 1, 2",
            &[&(health.fk_index_min_rows as f64)],
        )
        .await?;
    for row in rows {
        let table: String = row.get(0);
        let columns = text(&row, 3);
        store.findings.push(Finding::new(
            Severity::Warning,
            "foreign-key-without-index",
            format!("{table}.{}", text(&row, 1)),
            format!(
                "{table} ({columns}) references {} with no index leading with those columns (about {} rows): deletes and key updates on {} scan {table}",
                text(&row, 2),
                row.get::<_, i64>(4),
                text(&row, 2)
            ),
            format!("CREATE INDEX CONCURRENTLY ON {table} ({columns}) in a -- migrate:no-transaction migration"),
        ));
    }
    Ok(())
}

async fn cache_hit_ratio(
    client: &Client,
    health: &HealthSettings,
    store: &mut StoreHealth,
) -> Check {
    let row = client
        .query_one(
            "SELECT blks_hit, blks_read FROM pg_stat_database WHERE datname = current_database()",
            &[],
        )
        .await?;
    let (hit, read): (i64, i64) = (row.get(0), row.get(1));
    if hit + read == 0 {
        store.fact("cache_hit_ratio", "no reads yet");
        return Ok(());
    }
    let ratio = hit as f64 / (hit + read) as f64;
    store.fact("cache_hit_ratio", format!("{:.2}%", ratio * 100.0));
    // A fresh server reads everything from disk once: judge only after some traffic.
    if hit + read >= 100_000 && ratio < health.cache_hit_ratio {
        store.findings.push(Finding::new(
            Severity::Warning,
            "cache-hit-ratio",
            "shared_buffers",
            format!(
                "{:.2}% of block reads were served from shared buffers (threshold {:.0}%)",
                ratio * 100.0,
                health.cache_hit_ratio * 100.0
            ),
            "raise shared_buffers (often 25% of RAM) or find the queries that read the most (pg_stat_statements shared_blks_read)",
        ));
    }
    Ok(())
}

/// Sequences close to the end of their range, or of the column they feed.
async fn sequences(client: &Client, health: &HealthSettings, store: &mut StoreHealth) -> Check {
    let rows = client
        .query(
            "SELECT format('%I.%I', s.schemaname, s.sequencename), s.last_value, s.max_value,
                    (SELECT CASE ty.typname WHEN 'int2' THEN 32767::int8 WHEN 'int4' THEN 2147483647::int8 END
                     FROM pg_depend d
                     JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
                     JOIN pg_type ty ON ty.oid = a.atttypid
                     WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
                       AND d.objid = format('%I.%I', s.schemaname, s.sequencename)::regclass
                       AND d.deptype IN ('a', 'i') LIMIT 1)
             FROM pg_sequences s
             WHERE s.last_value IS NOT NULL AND s.increment_by > 0
               AND s.schemaname NOT IN ('pg_catalog', 'information_schema')",
            &[],
        )
        .await?;
    for row in rows {
        let name: String = row.get(0);
        let last: i64 = row.get(1);
        let max: i64 = row.get(2);
        let column_max: Option<i64> = row.get(3);
        let limit = column_max.map_or(max, |c| c.min(max));
        let used = last as f64 / limit as f64;
        if used < health.sequence_used {
            continue;
        }
        store.findings.push(Finding::new(
            if used >= 0.95 {
                Severity::Critical
            } else {
                Severity::Warning
            },
            "sequence",
            name.clone(),
            format!(
                "at {last} of {limit} ({:.1}% used, threshold {:.0}%){}",
                used * 100.0,
                health.sequence_used * 100.0,
                if column_max.is_some_and(|c| c < max) {
                    "; the limit is the column's type"
                } else {
                    ""
                }
            ),
            "widen the column to bigint (ALTER TABLE ... ALTER COLUMN ... TYPE bigint rewrites the table: plan it) and the sequence with it",
        ));
    }
    Ok(())
}

/// Transaction-ID age of every database against the wraparound horizon.
async fn wraparound(client: &Client, health: &HealthSettings, store: &mut StoreHealth) -> Check {
    let rows = client
        .query(
            "SELECT datname::text, age(datfrozenxid)::int8 FROM pg_database WHERE datallowconn ORDER BY 2 DESC",
            &[],
        )
        .await?;
    if let Some(oldest) = rows.first() {
        let age: i64 = oldest.get(1);
        store.fact(
            "xid_age",
            format!(
                "{age} ({:.1}% of the wraparound horizon, {})",
                age as f64 / XID_HORIZON * 100.0,
                text(oldest, 0)
            ),
        );
    }
    for row in rows {
        let database = text(&row, 0);
        let age: i64 = row.get(1);
        let used = age as f64 / XID_HORIZON;
        if used < health.wraparound {
            continue;
        }
        store.findings.push(Finding::new(
            if used >= 0.75 {
                Severity::Critical
            } else {
                Severity::Warning
            },
            "wraparound",
            database.clone(),
            format!(
                "transaction-ID age {age}, {:.1}% of the way to wraparound (threshold {:.0}%)",
                used * 100.0,
                health.wraparound * 100.0
            ),
            format!(
                "VACUUM (FREEZE) the oldest tables of {database} (pg_class.relfrozenxid); look for long transactions and stale replication slots holding the horizon back"
            ),
        ));
    }
    Ok(())
}

async fn connections(client: &Client, health: &HealthSettings, store: &mut StoreHealth) -> Check {
    let row = client
        .query_one(
            "SELECT (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'),
                    current_setting('max_connections')::int8,
                    current_setting('superuser_reserved_connections')::int8",
            &[],
        )
        .await?;
    let (used, max, reserved): (i64, i64, i64) = (row.get(0), row.get(1), row.get(2));
    let available = (max - reserved).max(1);
    let ratio = used as f64 / available as f64;
    store.fact("connections", format!("{used} of {available}"));
    if ratio >= health.connections {
        store.findings.push(Finding::new(
            if ratio >= 0.95 {
                Severity::Critical
            } else {
                Severity::Warning
            },
            "connections",
            "max_connections",
            format!(
                "{used} of {available} connections in use ({:.0}%, threshold {:.0}%)",
                ratio * 100.0,
                health.connections * 100.0
            ),
            "put a pooler (PgBouncer) in front of the application, or lower its pool sizes; raising max_connections costs memory",
        ));
    }
    Ok(())
}

/// Lag of each replica (on a primary), or of this server (on a standby).
async fn replication(client: &Client, health: &HealthSettings, store: &mut StoreHealth) -> Check {
    let standby: bool = client
        .query_one("SELECT pg_is_in_recovery()", &[])
        .await?
        .get(0);
    let limit = health.replication_lag.as_secs_f64();
    if standby {
        let lag: Option<f64> = client
            .query_one(
                "SELECT extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8",
                &[],
            )
            .await?
            .get(0);
        store.fact("role", "standby");
        if let Some(lag) = lag.filter(|lag| *lag >= limit) {
            store.findings.push(Finding::new(
                Severity::Warning,
                "replication-lag",
                "this standby",
                format!(
                    "last replayed transaction is {} old (threshold {}); on an idle primary this grows without harm",
                    seconds(lag),
                    seconds(limit)
                ),
                "check the primary's WAL sender and the network; long queries here with hot_standby_feedback can also hold replay back",
            ));
        }
        return Ok(());
    }
    let rows = client
        .query(
            "SELECT coalesce(application_name, ''), coalesce(client_addr::text, 'local'), state,
                    extract(epoch FROM replay_lag)::float8,
                    pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::int8
             FROM pg_stat_replication ORDER BY 1",
            &[],
        )
        .await?;
    store.fact("replicas", rows.len().to_string());
    for row in rows {
        let lag: Option<f64> = row.get(3);
        let bytes: Option<i64> = row.get(4);
        if lag.is_none_or(|lag| lag < limit) {
            continue;
        }
        store.findings.push(Finding::new(
            Severity::Warning,
            "replication-lag",
            format!("replica {} ({})", text(&row, 0), text(&row, 1)),
            format!(
                "replay lag {} (threshold {}), {} of WAL behind, state {}",
                seconds(lag.unwrap_or(0.0)),
                seconds(limit),
                size(bytes.unwrap_or(0)),
                text(&row, 2)
            ),
            "check the replica's load, disk and network",
        ));
    }
    Ok(())
}

/// The slowest statements, from `pg_stat_statements` when it is there.
async fn slow_queries(
    client: &Client,
    health: &HealthSettings,
    version: i32,
    store: &mut StoreHealth,
) -> Check {
    let row = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'),
                    current_setting('shared_preload_libraries') LIKE '%pg_stat_statements%'",
            &[],
        )
        .await?;
    let (installed, preloaded): (bool, bool) = (row.get(0), row.get(1));
    if !installed || !preloaded {
        store.findings.push(Finding::new(
            Severity::Info,
            "slow-queries",
            "pg_stat_statements",
            if preloaded {
                "not installed in this database: slow queries not checked"
            } else {
                "not loaded by the server: slow queries not checked"
            },
            if preloaded {
                "CREATE EXTENSION pg_stat_statements; (in this database, as a superuser)".to_string()
            } else {
                "add pg_stat_statements to shared_preload_libraries in postgresql.conf, restart the server, then CREATE EXTENSION pg_stat_statements; (`migrate sandbox` servers have it loaded)".to_string()
            },
        ));
        return Ok(());
    }
    let (total, mean) = if version >= 130_000 {
        ("total_exec_time", "mean_exec_time")
    } else {
        ("total_time", "mean_time")
    };
    let query = |order: &str| {
        format!(
            "SELECT coalesce(s.queryid::text, ''), s.calls, s.{mean}, s.{total}, s.rows,
                    left(regexp_replace(s.query, '\\s+', ' ', 'g'), 200)
             FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
             WHERE d.datname = current_database()
               AND s.query NOT LIKE '%pg_stat_statements%'
             ORDER BY s.{order} DESC LIMIT $1"
        )
    };
    let read = |rows: Vec<Row>| -> Vec<Statement> {
        rows.iter()
            .map(|row| Statement {
                queryid: row.get(0),
                calls: row.get(1),
                mean_ms: row.get(2),
                total_ms: row.get(3),
                rows: row.get(4),
                query: row.get(5),
            })
            .collect()
    };
    let top = i64::from(health.top);
    store.slowest_by_mean = read(client.query(&query(mean), &[&top]).await?);
    store.slowest_by_total = read(client.query(&query(total), &[&top]).await?);
    let limit_ms = health.slow_query.as_secs_f64() * 1000.0;
    for statement in &store.slowest_by_mean {
        if statement.mean_ms < limit_ms {
            continue;
        }
        store.findings.push(Finding::new(
            Severity::Warning,
            "slow-query",
            format!("queryid {}", statement.queryid),
            format!(
                "{:.0} ms on average over {} calls (threshold {:.0} ms): {}",
                statement.mean_ms, statement.calls, limit_ms, statement.query
            ),
            "EXPLAIN (ANALYZE, BUFFERS) it with typical parameters; look for sequential scans that an index would avoid",
        ));
    }
    Ok(())
}
