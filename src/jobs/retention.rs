//! Retention: remove what the application no longer needs, store by store, in batches.
//!
//! PostgreSQL policies delete rows older than an age in batches of `LIMIT n FOR UPDATE SKIP
//! LOCKED` (rows another transaction holds are left for the next batch; `lock_timeout` per
//! batch), drop whole monthly partitions that lie entirely before the cutoff, or anonymize and
//! then delete subjects (soft-deleted users past the legal hold). Mongo policies delete
//! documents older than an age. The Redis policy runs the keyspace audit of `drift`
//! (`crate::redis::audit`: paced `SCAN`, pipelined `TYPE`/`PTTL`) and gives keys with a missing
//! or too-long TTL the declared one (`PEXPIRE key ttl NX` / `LT`), one pipeline per batch.

use std::time::Duration;

use serde::Serialize;

pub use crate::config::retention::{RedisRetention, RetentionAction};
pub use crate::core::duration::{Age, MAX_AGE_DAYS};

use std::time::Instant;

use futures_util::TryStreamExt;
use mongodb::bson::{Document, doc};
use tokio_postgres::Client;

use super::anonymize::postgres::quote_ident;
use super::anonymize::rules::{Policy, valid_identifier};
use crate::config::Settings;
use crate::config::file::RetentionSection;
use crate::errors::{DbError, Detailed};
use crate::output::Printer;
use crate::postgres::session::Session;
use crate::redis::cluster::Topology;
use crate::redis::keyspace::{self, Passwords};

pub const DEFAULT_BATCH_SIZE: u32 = 5000;
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(2);

/// Where a policy applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Table {
        table: String,
        column: String,
        filter: Option<String>,
        action: RetentionAction,
    },
    Collection {
        collection: String,
        field: String,
    },
    RedisTtl {
        /// Declared patterns covered; empty for all.
        patterns: Vec<String>,
    },
}

/// One `[[retention.policies]]` entry, checked.
#[derive(Debug, Clone)]
pub struct RetentionPolicy {
    pub name: String,
    pub description: Option<String>,
    pub target: Target,
    /// `None` for the Redis policy (its limit is each pattern's declared TTL).
    pub older_than: Option<Age>,
}

/// `[retention]`, checked.
#[derive(Debug, Clone)]
pub struct Retention {
    pub batch_size: u32,
    pub lock_timeout: Duration,
    pub policies: Vec<RetentionPolicy>,
}

/// Checks `[retention]`; every problem is listed in one error.
pub fn load(section: &RetentionSection) -> Result<Retention, Detailed> {
    let mut problems = Vec::new();
    let mut policies = Vec::new();
    let mut names = std::collections::BTreeSet::new();
    for (index, p) in section.policies.iter().flatten().enumerate() {
        let at = format!("policies[{index}] `{}`", p.name);
        if !names.insert(p.name.clone()) {
            problems.push(format!("{at}: declared twice"));
        }
        let kinds = [p.table.is_some(), p.collection.is_some(), p.redis.is_some()];
        if kinds.iter().filter(|k| **k).count() != 1 {
            problems.push(format!(
                "{at}: give exactly one of table, collection or redis"
            ));
            continue;
        }
        let target = if let Some(table) = &p.table {
            let Some(column) = &p.column else {
                problems.push(format!(
                    "{at}: a table policy needs `column` (the timestamp)"
                ));
                continue;
            };
            if !valid_identifier(table) || !valid_identifier(column) {
                problems.push(format!("{at}: table and column must be plain identifiers"));
                continue;
            }
            let action = p.action.unwrap_or_default();
            if action == RetentionAction::DropPartitions && p.filter.is_some() {
                problems.push(format!(
                    "{at}: drop-partitions drops whole partitions: it cannot honour a filter"
                ));
            }
            if let Some(filter) = p.filter.as_deref()
                && let Err(why) = check_filter_shape(filter)
            {
                problems.push(format!("{at}: filter {filter:?} {why}"));
            }
            Target::Table {
                table: table.clone(),
                column: column.clone(),
                filter: p.filter.clone(),
                action,
            }
        } else if let Some(collection) = &p.collection {
            let Some(field) = &p.field else {
                problems.push(format!(
                    "{at}: a collection policy needs `field` (the date)"
                ));
                continue;
            };
            Target::Collection {
                collection: collection.clone(),
                field: field.clone(),
            }
        } else {
            Target::RedisTtl {
                patterns: p.patterns.clone().unwrap_or_default(),
            }
        };
        let is_redis = matches!(target, Target::RedisTtl { .. });
        if !is_redis && p.older_than.is_none() {
            problems.push(format!("{at}: older_than is required (e.g. \"365d\")"));
        }
        if is_redis && p.older_than.is_some() {
            problems.push(format!(
                "{at}: the Redis policy takes each pattern's declared ttl, not older_than"
            ));
        }
        if !matches!(target, Target::Table { .. }) && p.action.is_some() {
            problems.push(format!("{at}: action applies to table policies only"));
        }
        policies.push(RetentionPolicy {
            name: p.name.clone(),
            description: p.description.clone(),
            target,
            older_than: p.older_than,
        });
    }
    if !problems.is_empty() {
        return Err(Detailed::problems("invalid [retention] section", problems));
    }
    Ok(Retention {
        batch_size: section.batch_size.unwrap_or(DEFAULT_BATCH_SIZE),
        lock_timeout: section
            .lock_timeout
            .map(|d| d.0)
            .filter(|d| !d.is_zero())
            .unwrap_or(DEFAULT_LOCK_TIMEOUT),
        policies,
    })
}

/// A filter is pasted into the policy's `WHERE` as `AND (filter)`: it must be one boolean
/// expression that cannot close that parenthesis or end the statement. Checked here on the
/// text (balanced parentheses outside strings and comments, no `;`, every string and comment
/// closed); the server then parses it in a read-only `EXPLAIN` before anything is deleted
/// (`check_filter_on_server`).
fn check_filter_shape(filter: &str) -> Result<(), String> {
    use crate::postgres::{splitter, tokens};
    let statements = splitter::split(filter).map_err(|err| match err {
        splitter::SplitError::Unbalanced {
            unclosed: false, ..
        } => "closes a parenthesis it did not open: it must be one boolean expression".to_string(),
        splitter::SplitError::Unbalanced { .. } => {
            "leaves a parenthesis open: it must be one boolean expression".to_string()
        }
        err => format!("is not well formed: {err}"),
    })?;
    if statements.is_empty() {
        return Err("is empty".to_string());
    }
    // The splitter has checked the parentheses; a `;` inside them did not end a statement.
    if tokens::Tokens::new(filter)
        .tokens
        .iter()
        .any(|token| token.is_punct(';'))
    {
        return Err("must be one boolean expression: `;` is not allowed".to_string());
    }
    Ok(())
}

/// The server's parser on a filter, before any row is touched: `EXPLAIN` (which plans but
/// does not run) of a `SELECT` with the condition, in a read-only transaction.
async fn check_filter_on_server(
    client: &mut Client,
    policy: &RetentionPolicy,
    qualified: &str,
    condition: &str,
    cutoff: &chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<()> {
    let tx = client
        .build_transaction()
        .read_only(true)
        .start()
        .await
        .map_err(|e| db_error("cannot begin", e))?;
    let explained = tx
        .query(
            &format!("EXPLAIN SELECT 1 FROM {qualified} t WHERE {condition}"),
            &[cutoff],
        )
        .await;
    let _ = tx.rollback().await;
    explained.map(|_| ()).map_err(|err| {
        DbError::new(
            format!(
                "retention {}: the filter is not a valid condition on {qualified}",
                policy.name
            ),
            err,
        )
        .context("nothing was deleted")
        .into()
    })
}

/// What one policy did (or, with --dry-run, would do).
#[derive(Debug, Clone, Serialize)]
pub struct PolicyResult {
    pub policy: String,
    pub store: &'static str,
    pub target: String,
    pub action: String,
    pub older_than: Option<String>,
    /// The policy's extra condition, when it has one: only rows matching it are removed.
    pub filter: Option<String>,
    /// Everything older than this goes (RFC 3339, UTC).
    pub cutoff: Option<String>,
    /// Rows, documents removed; for Redis, keys whose TTL was set or shortened.
    pub removed: u64,
    pub partitions_dropped: Vec<String>,
    pub anonymized: u64,
    /// Subjects anonymized but not deleted because rows still reference them.
    pub kept: u64,
    pub batches: u64,
    pub seconds: f64,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct RetentionReport {
    pub dry_run: bool,
    pub policies: Vec<PolicyResult>,
}

fn db_error(doing: &str, err: tokio_postgres::Error) -> DbError {
    DbError::new(doing, err)
}

/// Runs (or with `dry_run`, counts) the policies in order.
pub async fn run(
    settings: &Settings,
    retention: &Retention,
    only: Option<&str>,
    dry_run: bool,
    printer: &Printer,
) -> anyhow::Result<RetentionReport> {
    let policies: Vec<&RetentionPolicy> = retention
        .policies
        .iter()
        .filter(|p| only.is_none_or(|name| p.name == name))
        .collect();
    if let Some(name) = only
        && policies.is_empty()
    {
        let known: Vec<&str> = retention.policies.iter().map(|p| p.name.as_str()).collect();
        return Err(Detailed::new(format!("no retention policy `{name}`"))
            .context(format!("policies: {}", known.join(", ")))
            .into());
    }
    // A run that anonymizes hashes with the key: a missing key fails before any policy has
    // changed anything. Counting (a dry run) needs no key.
    let anonymizes = policies.iter().any(|p| {
        matches!(
            p.target,
            Target::Table {
                action: RetentionAction::Anonymize | RetentionAction::AnonymizeThenDelete,
                ..
            }
        )
    });
    if anonymizes && !dry_run {
        let rules = super::anonymize::rules::load(&settings.anonymize)?;
        super::anonymize::hmac::Key::from_env(&rules.key_env)?;
    }
    let mut results = Vec::new();
    for policy in policies {
        let started = Instant::now();
        printer.step(format!(
            "retention {}: {}",
            policy.name,
            if dry_run { "counting" } else { "running" }
        ));
        let mut result = match &policy.target {
            Target::Table { .. } => {
                run_table(settings, retention, policy, dry_run, printer).await?
            }
            Target::Collection { collection, field } => {
                run_collection(settings, retention, policy, collection, field, dry_run).await?
            }
            Target::RedisTtl { patterns } => run_redis(settings, policy, patterns, dry_run).await?,
        };
        result.seconds = started.elapsed().as_secs_f64();
        results.push(result);
    }
    Ok(RetentionReport {
        dry_run,
        policies: results,
    })
}

fn empty_result(
    policy: &RetentionPolicy,
    store: &'static str,
    target: &str,
    action: &str,
) -> PolicyResult {
    PolicyResult {
        policy: policy.name.clone(),
        store,
        target: target.to_string(),
        action: action.to_string(),
        older_than: policy.older_than.map(Age::human),
        filter: None,
        cutoff: None,
        removed: 0,
        partitions_dropped: Vec::new(),
        anonymized: 0,
        kept: 0,
        batches: 0,
        seconds: 0.0,
        detail: String::new(),
    }
}

fn cutoff_of(policy: &RetentionPolicy) -> chrono::DateTime<chrono::Utc> {
    let age = policy.older_than.map_or(Duration::ZERO, |a| a.0);
    chrono::Utc::now() - chrono::Duration::from_std(age).unwrap_or(chrono::TimeDelta::MAX)
}

async fn run_table(
    settings: &Settings,
    retention: &Retention,
    policy: &RetentionPolicy,
    dry_run: bool,
    printer: &Printer,
) -> anyhow::Result<PolicyResult> {
    let Target::Table {
        table,
        column,
        filter,
        action,
    } = &policy.target
    else {
        unreachable!("run_table is called for table policies only");
    };
    let action_name = serde_json::to_value(action)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let mut result = empty_result(policy, "postgres", table, &action_name);
    let cutoff = cutoff_of(policy);
    result.cutoff = Some(cutoff.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    result.filter = filter.clone();
    // Newlines around the filter: a `--` comment at its end cannot swallow the parenthesis.
    let condition = format!(
        "t.{} < $1{}",
        quote_ident(column),
        filter
            .as_ref()
            .map_or_else(String::new, |f| format!(" AND (\n{f}\n)"))
    );
    if matches!(
        action,
        RetentionAction::Anonymize | RetentionAction::AnonymizeThenDelete
    ) {
        return run_anonymize(settings, policy, *action, cutoff, dry_run, printer, result).await;
    }
    let pg = settings.require_postgres()?;
    let mut client = Session::open(pg).await?.into_client();
    let qualified: String = client
        .query_opt("SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass($1)", &[table])
        .await
        .map_err(|e| db_error("cannot look up the table", e))?
        .map(|r| r.get(0))
        .ok_or_else(|| Detailed::new(format!("retention {}: table `{table}` does not exist", policy.name)))?;
    if filter.is_some() {
        check_filter_on_server(&mut client, policy, &qualified, &condition, &cutoff).await?;
    }
    if *action == RetentionAction::DropPartitions {
        drop_partitions(
            &mut client,
            retention,
            policy,
            &qualified,
            column,
            cutoff,
            dry_run,
            &mut result,
        )
        .await?;
    }
    if dry_run {
        // Rows of the partitions that would be dropped are counted there already.
        let sql = format!(
            "SELECT count(*) FROM {qualified} t WHERE {condition}
               AND t.tableoid <> ALL($2::text[]::regclass[]::oid[])"
        );
        let n: i64 = client
            .query_one(&sql, &[&cutoff, &result.partitions_dropped])
            .await
            .map_err(|e| db_error(&format!("cannot count {table}"), e))?
            .get(0);
        result.removed += n as u64;
        return Ok(result);
    }
    let pk: Vec<String> = client
        .query(
            "SELECT a.attname::text FROM pg_index i
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey::int2[])
             WHERE i.indrelid = to_regclass($1) AND i.indisprimary
             ORDER BY array_position(i.indkey::int2[], a.attnum)",
            &[&qualified],
        )
        .await
        .map_err(|e| db_error("cannot read the primary key", e))?
        .iter()
        .map(|r| quote_ident(&r.get::<_, String>(0)))
        .collect();
    if pk.is_empty() {
        return Err(Detailed::new(format!(
            "retention {}: {table} has no primary key (batches need one)",
            policy.name
        ))
        .into());
    }
    let keys = pk
        .iter()
        .map(|c| format!("t.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    let join = pk
        .iter()
        .map(|c| format!("t.{c} = d.{c}"))
        .collect::<Vec<_>>()
        .join(" AND ");
    let sql = format!(
        "WITH d AS (SELECT {keys} FROM {qualified} t WHERE {condition} LIMIT $2 FOR UPDATE SKIP LOCKED)
         DELETE FROM {qualified} t USING d WHERE {join}"
    );
    loop {
        let tx = client
            .transaction()
            .await
            .map_err(|e| db_error("cannot begin", e))?;
        tx.batch_execute(&format!(
            "SET LOCAL lock_timeout = '{}ms'",
            retention.lock_timeout.as_millis().max(1)
        ))
        .await
        .map_err(|e| db_error("cannot set lock_timeout", e))?;
        let n = tx
            .execute(&sql, &[&cutoff, &i64::from(retention.batch_size)])
            .await
            .map_err(|e| db_error(&format!("cannot delete from {table}"), e))?;
        tx.commit()
            .await
            .map_err(|e| db_error("cannot commit", e))?;
        if n == 0 {
            break;
        }
        result.removed += n;
        result.batches += 1;
    }
    Ok(result)
}

/// Drops every partition whose upper bound is at or before the cutoff (its rows are counted
/// first), each in its own transaction with `lock_timeout`.
#[allow(clippy::too_many_arguments)]
async fn drop_partitions(
    client: &mut Client,
    retention: &Retention,
    policy: &RetentionPolicy,
    qualified: &str,
    column: &str,
    cutoff: chrono::DateTime<chrono::Utc>,
    dry_run: bool,
    result: &mut PolicyResult,
) -> anyhow::Result<()> {
    let key: Option<String> = client
        .query_opt(
            "SELECT a.attname::text FROM pg_partitioned_table p
             JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0]
             WHERE p.partrelid = to_regclass($1) AND p.partnatts = 1",
            &[&qualified],
        )
        .await
        .map_err(|e| db_error("cannot read the partition key", e))?
        .map(|r| r.get(0));
    if key.as_deref() != Some(column) {
        result.detail =
            format!("{qualified} is not partitioned by {column}: rows deleted in batches");
        return Ok(());
    }
    let partitions = client
        .query(
            "SELECT format('%I.%I', n.nspname, c.relname)
             FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
             JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE i.inhparent = to_regclass($1)
               AND (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \\(''([^'']*)''\\)'))[1]::timestamptz <= $2
             ORDER BY 1",
            &[&qualified, &cutoff],
        )
        .await
        .map_err(|e| db_error("cannot list the partitions", e))?;
    for row in partitions {
        let partition: String = row.get(0);
        let tx = client
            .transaction()
            .await
            .map_err(|e| db_error("cannot begin", e))?;
        tx.batch_execute(&format!(
            "SET LOCAL lock_timeout = '{}ms'",
            retention.lock_timeout.as_millis().max(1)
        ))
        .await
        .map_err(|e| db_error("cannot set lock_timeout", e))?;
        let n: i64 = tx
            .query_one(&format!("SELECT count(*) FROM {partition}"), &[])
            .await
            .map_err(|e| db_error(&format!("cannot count {partition}"), e))?
            .get(0);
        if !dry_run {
            tx.batch_execute(&format!(
                "ALTER TABLE {qualified} DETACH PARTITION {partition}; DROP TABLE {partition};"
            ))
            .await
            .map_err(|e| {
                db_error(
                    &format!("retention {}: cannot drop {partition}", policy.name),
                    e,
                )
                .hint("another session holds a lock on the table: run again later")
            })?;
        }
        tx.commit()
            .await
            .map_err(|e| db_error("cannot commit", e))?;
        result.removed += n as u64;
        result.partitions_dropped.push(partition);
    }
    if !result.partitions_dropped.is_empty() {
        result.detail = format!(
            "{} partition{} {}",
            result.partitions_dropped.len(),
            if result.partitions_dropped.len() == 1 {
                ""
            } else {
                "s"
            },
            if dry_run { "to drop" } else { "dropped" }
        );
    }
    Ok(())
}

/// Soft-deleted subjects past the legal hold: anonymized by the `[anonymize]` rules (their
/// documents and keys too), then, with `anonymize-then-delete`, deleted where nothing else
/// references them any more.
#[allow(clippy::too_many_arguments)]
async fn run_anonymize(
    settings: &Settings,
    policy: &RetentionPolicy,
    action: RetentionAction,
    cutoff: chrono::DateTime<chrono::Utc>,
    dry_run: bool,
    printer: &Printer,
    mut result: PolicyResult,
) -> anyhow::Result<PolicyResult> {
    // Counting subjects hashes nothing: a dry run does not need the anonymization key.
    let key_use = if dry_run {
        super::anonymize::KeyUse::IfSet
    } else {
        super::anonymize::KeyUse::Required
    };
    let mut prepared = super::anonymize::prepare(settings, key_use).await?;
    let Target::Table {
        table,
        column,
        filter,
        ..
    } = &policy.target
    else {
        unreachable!("run_anonymize is called for table policies only");
    };
    let subject_name = prepared
        .plan
        .subject_qualified
        .rsplit('.')
        .next()
        .unwrap_or("")
        .trim_matches('"')
        .to_string();
    if table.rsplit('.').next() != Some(subject_name.as_str()) {
        return Err(Detailed::new(format!(
            "retention {}: anonymize applies to the subject table ({subject_name}), not {table}",
            policy.name
        ))
        .into());
    }
    // The anonymize job's condition is plain SQL on the subject table, without parameters.
    let subjects = format!(
        "{} < '{}'::timestamptz{}",
        quote_ident(column),
        cutoff.to_rfc3339(),
        filter
            .as_ref()
            .map_or_else(String::new, |f| format!(" AND (\n{f}\n)"))
    );
    let anonymize_policy = Policy {
        name: format!("retention-{}", policy.name),
        description: policy.description.clone(),
        subjects: subjects.clone(),
        ledger: true,
    };
    if dry_run {
        let report = super::anonymize::plan_policy(&prepared, &anonymize_policy).await?;
        result.anonymized = report.subjects;
        if action == RetentionAction::AnonymizeThenDelete {
            result.removed = report.subjects;
            result.detail = "subjects still referenced will be kept, anonymized".to_string();
        }
        return Ok(result);
    }
    let report = super::anonymize::run_policy(&mut prepared, &anonymize_policy, printer).await?;
    if !report.leftovers.is_empty() {
        return Err(Detailed::new(format!(
            "retention {}: anonymization left original values in {}; nothing was deleted",
            policy.name,
            report
                .leftovers
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .into());
    }
    result.anonymized = report.subjects_done + report.resumed_after.unwrap_or(0);
    if action == RetentionAction::Anonymize {
        result.detail = format!(
            "{} anonymized, rows kept",
            crate::output::count(result.anonymized, "subject")
        );
        return Ok(result);
    }
    let plan = prepared.plan.clone();
    let mut position: Option<String> = None;
    loop {
        let ids = super::anonymize::postgres::next_subjects(
            &prepared.client,
            &plan,
            &subjects,
            position.as_deref(),
            1000,
        )
        .await?;
        let Some(last) = ids.last().cloned() else {
            break;
        };
        let pk = quote_ident(&plan.subject_pk.name);
        let tx = prepared
            .client
            .transaction()
            .await
            .map_err(|e| db_error("cannot begin", e))?;
        tx.batch_execute("SET LOCAL lock_timeout = '2000ms'")
            .await
            .map_err(|e| db_error("cannot set lock_timeout", e))?;
        for id in &ids {
            tx.batch_execute("SAVEPOINT one")
                .await
                .map_err(|e| db_error("savepoint", e))?;
            let deleted = tx
                .execute(
                    &format!(
                        "DELETE FROM {} WHERE {pk}::text = $1",
                        plan.subject_qualified
                    ),
                    &[id],
                )
                .await;
            match deleted {
                Ok(n) => {
                    result.removed += n;
                    tx.batch_execute("RELEASE SAVEPOINT one")
                        .await
                        .map_err(|e| db_error("savepoint", e))?;
                }
                Err(err) if err.code().is_some_and(|c| c.code() == "23503") => {
                    result.kept += 1;
                    tx.batch_execute("ROLLBACK TO SAVEPOINT one")
                        .await
                        .map_err(|e| db_error("savepoint", e))?;
                }
                Err(err) => return Err(db_error("cannot delete a subject", err).into()),
            }
        }
        tx.commit()
            .await
            .map_err(|e| db_error("cannot commit", e))?;
        result.batches += 1;
        position = Some(last);
    }
    result.detail = format!(
        "{} anonymized, {} deleted, {} kept (still referenced)",
        result.anonymized, result.removed, result.kept
    );
    Ok(result)
}

async fn run_collection(
    settings: &Settings,
    retention: &Retention,
    policy: &RetentionPolicy,
    collection: &str,
    field: &str,
    dry_run: bool,
) -> anyhow::Result<PolicyResult> {
    let mut result = empty_result(policy, "mongo", collection, "delete");
    let Some(mongo) = &settings.mongo else {
        return Err(Detailed::new(format!(
            "retention {}: no MongoDB URL configured",
            policy.name
        ))
        .hint("pass --mongodb-url, set MONGODB_URL or [mongo] url")
        .into());
    };
    let connection = crate::mongo::connect::connect(mongo).await?;
    let cutoff = cutoff_of(policy);
    result.cutoff = Some(cutoff.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    let filter =
        doc! { field: { "$lt": mongodb::bson::DateTime::from_millis(cutoff.timestamp_millis()) } };
    let documents = connection.database.collection::<Document>(collection);
    if dry_run {
        result.removed = documents.count_documents(filter).await?;
        return Ok(result);
    }
    loop {
        let ids: Vec<mongodb::bson::Bson> = documents
            .find(filter.clone())
            .projection(doc! {"_id": 1})
            .limit(i64::from(retention.batch_size))
            .await?
            .try_collect::<Vec<Document>>()
            .await?
            .into_iter()
            .filter_map(|d| d.get("_id").cloned())
            .collect();
        if ids.is_empty() {
            break;
        }
        let deleted = documents
            .delete_many(doc! {"_id": {"$in": ids}})
            .await?
            .deleted_count;
        result.removed += deleted;
        result.batches += 1;
        if deleted == 0 {
            break;
        }
    }
    Ok(result)
}

async fn run_redis(
    settings: &Settings,
    policy: &RetentionPolicy,
    patterns: &[String],
    dry_run: bool,
) -> anyhow::Result<PolicyResult> {
    let mut result = empty_result(policy, "redis", "", "expire");
    let Some(redis) = &settings.redis else {
        return Err(Detailed::new(format!(
            "retention {}: no Redis URL configured",
            policy.name
        ))
        .hint("pass --redis-url, set REDIS_URL or [redis] url")
        .into());
    };
    let Some(declaration) = &redis.keyspace else {
        return Err(Detailed::new(format!(
            "retention {}: [redis] declares no key patterns (their ttl is the limit)",
            policy.name
        ))
        .into());
    };
    let keyspace = keyspace::load(declaration, Passwords::IfSet)?;
    for pattern in patterns {
        if !keyspace.keys.iter().any(|k| &k.pattern == pattern) {
            return Err(Detailed::new(format!(
                "retention {}: pattern `{pattern}` is not declared in [[redis.keys]]",
                policy.name
            ))
            .into());
        }
    }
    result.target = if patterns.is_empty() {
        "every declared pattern".to_string()
    } else {
        patterns.join(", ")
    };
    let topology = Topology::connect(redis).await?;
    // The keyspace audit of `drift` does the work: a paced SCAN of every primary, TYPE and
    // PTTL pipelined per batch, and (not in a dry run) the batch's fixes in one more pipeline;
    // memory stays that of one batch.
    let options = crate::redis::audit::AuditOptions {
        examples: 0,
        fix_ttls: !dry_run,
        ..Default::default()
    };
    let outside = |_: &str, pattern: Option<&str>| {
        !patterns.is_empty() && !pattern.is_some_and(|p| patterns.iter().any(|q| q == p))
    };
    let report = crate::redis::audit::audit(&topology, &keyspace, options, &outside).await?;
    let count = |problem| report.problems.get(&problem).map_or(0, |t| t.count);
    let missing = count(crate::redis::audit::Problem::MissingTtl);
    let too_long = count(crate::redis::audit::Problem::TtlTooLong);
    // A key may expire or change between the check and its fix: a real run counts the fixes.
    result.removed = if dry_run {
        missing + too_long
    } else {
        report.fixed
    };
    result.detail = format!(
        "{missing} key{} without a TTL, {too_long} with a TTL longer than declared{}",
        if missing == 1 { "" } else { "s" },
        if dry_run {
            ""
        } else {
            ": given the declared TTL"
        }
    );
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_parse_days_and_durations() {
        assert_eq!(
            Age::parse("365d").unwrap().0,
            Duration::from_secs(365 * 86_400)
        );
        assert_eq!(Age::parse("12h").unwrap().0, Duration::from_secs(12 * 3600));
        assert_eq!(Age::parse("30min").unwrap().0, Duration::from_secs(1800));
        assert!(Age::parse("a year").is_err());
        for (text, expected) in [
            ("0d", "at least 1s"),
            ("0", "at least 1s"),
            ("100000000d", "too large"),
            ("213503982334602d", "too large"),
            ("99999999999999999999999d", "too large"),
            ("99999999999999h", "too large"),
        ] {
            let err = Age::parse(text).unwrap_err();
            assert!(err.contains(expected), "{text}: {err}");
        }
        assert_eq!(
            Age::parse("36500d").unwrap().0,
            Duration::from_secs(36_500 * 86_400)
        );
        assert_eq!(Age::parse("90d").unwrap().human(), "90 days");
    }

    #[test]
    fn policies_are_checked() {
        let text = r#"
            [[retention.policies]]
            name = "both"
            table = "t"
            collection = "c"
            [[retention.policies]]
            name = "no-age"
            table = "t"
            column = "created_at"
            [[retention.policies]]
            name = "parts"
            table = "t"
            column = "created_at"
            older_than = "1d"
            action = "drop-partitions"
            filter = "x"
        "#;
        let config = crate::config::file::parse(text, std::path::Path::new("m.toml")).unwrap();
        let err = load(&config.retention).unwrap_err();
        let all = err.context.join("\n");
        assert!(all.contains("exactly one of"), "{all}");
        assert!(all.contains("older_than is required"), "{all}");
        assert!(all.contains("cannot honour a filter"), "{all}");
    }

    #[test]
    fn the_example_config_has_the_application_policies() {
        let text = include_str!("../../config.example.toml");
        let config =
            crate::config::file::parse(text, std::path::Path::new("config.example.toml")).unwrap();
        let retention = load(&config.retention).unwrap();
        let names: Vec<&str> = retention.policies.iter().map(|p| p.name.as_str()).collect();
        for expected in [
            "activity-logs",
            "read-notifications",
            "expired-sessions",
            "redis-ttl",
        ] {
            assert!(names.contains(&expected), "{names:?}");
        }
    }
}
