//! GDPR anonymization across PostgreSQL, MongoDB and Redis.
//!
//! `anonymize user ID` erases one subject: its identifying values are captured in memory, its
//! rows are transformed (or deleted) in one PostgreSQL transaction together with the copies the
//! audit trigger made of them, then its documents and keys follow, and a verification searches
//! every table, configured collection and key for the captured values. `anonymize policy NAME`
//! does the same for a set of subjects in keyset batches by primary key, each batch its own
//! transaction with `lock_timeout`, its progress recorded in `migrate_jobs` in that same
//! transaction: a killed job resumes after its last committed batch. Every output is a
//! deterministic function of the key and stable inputs, so a re-run changes nothing.
//!
//! Personal data never reaches output, logs or records: reports name places and kinds of
//! values, the ledger (`gdpr_requests`) holds a keyed hash of the subject's id.

pub mod hmac;
pub mod mongo;
pub mod postgres;
pub mod redis;
pub mod rules;
pub mod verify;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio_postgres::Client;

use self::hmac::Key;
use self::postgres::PgPlan;
use self::redis::KeyPlan;
use self::rules::{Policy, Rules, ValueKind};
use self::verify::{Findings, Hit, Needles, Searched};
use crate::config::Settings;
use crate::errors::Detailed;
use crate::output::Printer;
use crate::postgres::engine::Session;
use crate::redis::cluster::Topology;
use crate::redis::keyspace::{self, Keyspace, Passwords};

/// Test hook: pause this many milliseconds after each committed batch of a bulk job, so a test
/// can kill the process mid-way. Read only here; never set it in production.
pub const TEST_BATCH_PAUSE_ENV: &str = "MIGRATE_TEST_BATCH_PAUSE_MS";

/// Times a batch is retried after a lock timeout before the job stops (resumably).
const LOCK_RETRIES: u32 = 3;

/// Every store the rules touch, connected, with the rules resolved against each.
pub struct Prepared {
    pub rules: Rules,
    /// `None` when the job was prepared with [`KeyUse::IfSet`] and the variable is not set.
    key: Option<Key>,
    pub client: Client,
    pub plan: PgPlan,
    pub database: String,
    pub mongo: Option<(mongodb::Database, String)>,
    pub redis: Option<(Topology, Keyspace, Vec<KeyPlan>)>,
    /// For the second session of bulk jobs (opened when a job needs it).
    pg: crate::config::PgSettings,
}

impl Prepared {
    /// The HMAC key (never printed), or the error naming its variable when it is not set.
    pub fn key(&self) -> Result<&Key, Detailed> {
        self.key
            .as_ref()
            .ok_or_else(|| Key::missing(&self.rules.key_env))
    }

    /// Whether the key was given (always, for jobs prepared with [`KeyUse::Required`]).
    pub fn has_key(&self) -> bool {
        self.key.is_some()
    }
}

/// Whether a job hashes values with the anonymization key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyUse {
    /// It does (erasure, a bulk policy): a missing key fails before any connection.
    Required,
    /// It only reads (export, dry runs that count): the key is used when set, never demanded.
    IfSet,
}

/// Loads the rules and the key (a missing key that `key_use` requires fails here, before any
/// connection), connects to every store the rules name and resolves the rules against each.
pub async fn prepare(settings: &Settings, key_use: KeyUse) -> anyhow::Result<Prepared> {
    let rules = rules::load(&settings.anonymize)?;
    let key = match key_use {
        KeyUse::Required => Some(Key::from_env(&rules.key_env)?),
        KeyUse::IfSet => Key::from_env_if_set(&rules.key_env)?,
    };
    let pg = settings.require_postgres()?;
    let Session { client, .. } = Session::open(pg).await?;
    let plan = postgres::resolve(&client, &rules).await?;
    let mongo = if rules.collections.is_empty() {
        None
    } else {
        let Some(mongo_settings) = &settings.mongo else {
            return Err(Detailed::new(
                "[anonymize] has Mongo rules but no MongoDB URL is configured: the subject could not be erased everywhere; nothing was changed",
            )
            .hint("pass --mongodb-url, set MONGODB_URL or [mongo] url (or remove the [[anonymize.mongo]] rules)")
            .into());
        };
        let connection = crate::mongo::connect::connect(mongo_settings).await?;
        Some((connection.database, connection.display))
    };
    let redis = if rules.keys.is_empty() {
        None
    } else {
        let Some(redis_settings) = &settings.redis else {
            return Err(Detailed::new(
                "[anonymize] has Redis rules but no Redis URL is configured: the subject could not be erased everywhere; nothing was changed",
            )
            .hint("pass --redis-url, set REDIS_URL or [redis] url (or remove the [[anonymize.redis]] rules)")
            .into());
        };
        let Some(declaration) = &redis_settings.keyspace else {
            return Err(Detailed::new(
                "[anonymize] has Redis rules but [redis] declares no keyspace (namespace, keys)",
            )
            .into());
        };
        let keyspace = keyspace::load(declaration, Passwords::IfSet)?;
        let plans = redis::resolve(&rules, &keyspace)?;
        let topology = Topology::connect(redis_settings).await?;
        Some((topology, keyspace, plans))
    };
    Ok(Prepared {
        rules,
        key,
        client,
        plan,
        database: pg.target.to_string(),
        mongo,
        redis,
        pg: pg.clone(),
    })
}

/// Rows, documents or keys of one target.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TargetCount {
    pub store: String,
    pub target: String,
    pub action: String,
    pub count: u64,
}

/// What verification searched and found.
#[derive(Debug, Clone, Serialize)]
pub struct Verification {
    /// Original values searched for, per kind (never the values).
    pub values: BTreeMap<ValueKind, u64>,
    /// Values too short to be distinctive, not searched.
    pub not_searched: BTreeMap<ValueKind, u64>,
    /// Values also held by other subjects (their own rows), not held against this one.
    pub shared: u64,
    pub searched: Searched,
    /// Where original values are still found: exit 2.
    pub hits: Vec<Hit>,
}

#[derive(Debug, Clone, Serialize)]
pub struct UserReport {
    pub subject: String,
    /// HMAC of the subject's id: its name in `gdpr_requests`.
    pub subject_hmac: String,
    pub database: String,
    pub dry_run: bool,
    /// What the subject has per target (with --dry-run: what would be anonymized).
    pub plan: Vec<TargetCount>,
    /// What this run changed.
    pub changed: Vec<TargetCount>,
    /// A completed erasure was recorded before and this run changed nothing.
    pub already_erased: bool,
    pub request_id: Option<String>,
    pub verification: Option<Verification>,
    pub notes: Vec<String>,
}

fn action_of(prepared: &Prepared, store: &str, target: &str) -> String {
    match store {
        "postgres" => prepared
            .plan
            .tables
            .iter()
            .find(|t| t.table == target)
            .map_or_else(String::new, |t| match t.action {
                rules::RowAction::Delete => "delete rows".to_string(),
                rules::RowAction::Update => {
                    let names: Vec<String> = t
                        .columns
                        .iter()
                        .flat_map(|c| {
                            let mut v: Vec<String> = c
                                .whole
                                .iter()
                                .map(|(s, _)| format!("{} {}", c.column.name, s.name()))
                                .collect();
                            v.extend(
                                c.paths
                                    .iter()
                                    .map(|p| format!("{} {}", p.path, p.strategy.name())),
                            );
                            v
                        })
                        .collect();
                    names.join(", ")
                }
            }),
        "mongo" => prepared
            .rules
            .collections
            .iter()
            .find(|c| c.collection == target)
            .map_or_else(String::new, |c| match c.action {
                rules::RowAction::Delete => "delete documents".to_string(),
                rules::RowAction::Update => c
                    .fields
                    .iter()
                    .map(|f| format!("{} {}", f.path, f.strategy.name()))
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        _ => prepared
            .rules
            .keys
            .iter()
            .find(|k| k.pattern == target)
            .map_or_else(String::new, |k| match k.action {
                rules::KeyAction::Delete => "delete keys".to_string(),
                rules::KeyAction::RemoveMember => "remove members".to_string(),
                rules::KeyAction::Keep => "keep".to_string(),
            }),
    }
}

fn target_counts(
    prepared: &Prepared,
    store: &str,
    counts: impl IntoIterator<Item = (String, u64)>,
) -> Vec<TargetCount> {
    counts
        .into_iter()
        .map(|(target, count)| TargetCount {
            store: store.to_string(),
            action: action_of(prepared, store, &target),
            target,
            count,
        })
        .collect()
}

/// The subject's rows, documents and keys per target: the plan `--dry-run` prints.
pub async fn plan_user(prepared: &Prepared, subject: &str) -> anyhow::Result<Vec<TargetCount>> {
    let subjects = vec![subject.to_string()];
    let mut plan = target_counts(
        prepared,
        "postgres",
        postgres::count(&prepared.client, &prepared.plan, &subjects).await?,
    );
    if let Some((database, _)) = &prepared.mongo {
        plan.extend(target_counts(
            prepared,
            "mongo",
            mongo::count(database, &prepared.rules.collections, &subjects).await?,
        ));
    }
    if let Some((topology, _, plans)) = &prepared.redis {
        let mut needles = Needles::default();
        postgres::capture(
            &prepared.client,
            prepared.key()?,
            &prepared.plan,
            subject,
            &mut needles,
        )
        .await?;
        let counts = redis::apply(topology, plans, &subjects, Some(&needles), false, true).await?;
        let mut all: Vec<(String, u64)> = plans
            .iter()
            .map(|p| {
                (
                    p.pattern.clone(),
                    counts.get(&p.pattern).copied().unwrap_or(0),
                )
            })
            .collect();
        all.sort();
        plan.extend(target_counts(prepared, "redis", all));
    }
    Ok(plan)
}

/// Checks that the id is a subject of this database; a clear error otherwise.
pub async fn ensure_subject(prepared: &Prepared, subject: &str) -> anyhow::Result<()> {
    if postgres::subject_exists(&prepared.client, &prepared.plan, subject).await? {
        return Ok(());
    }
    Err(Detailed::new(format!(
        "no row with id {subject} in {}; nothing was changed",
        prepared.plan.subject_qualified
    ))
    .into())
}

/// Adds the subject's identifying values in PostgreSQL and MongoDB to `needles`.
async fn capture_subject(
    prepared: &Prepared,
    subject: &str,
    needles: &mut Needles,
) -> anyhow::Result<()> {
    postgres::capture(
        &prepared.client,
        prepared.key()?,
        &prepared.plan,
        subject,
        needles,
    )
    .await?;
    if let Some((database, _)) = &prepared.mongo {
        mongo::capture(database, &prepared.rules.collections, subject, needles).await?;
    }
    Ok(())
}

/// Erases one subject everywhere, then verifies. The ledger row says how far it got.
pub async fn erase_user(
    prepared: &mut Prepared,
    subject: &str,
    printer: &Printer,
) -> anyhow::Result<UserReport> {
    // Cloned: the stages below borrow `prepared` mutably.
    let key = prepared.key()?.clone();
    let subject = subject.trim().to_lowercase();
    let subjects = vec![subject.clone()];
    let subject_hmac = key.subject_hmac(&subject);
    let plan = plan_user(prepared, &subject).await?;
    let mut notes = Vec::new();

    // 1. Capture the original values, in memory only.
    let mut needles = Needles::default();
    capture_subject(prepared, &subject, &mut needles).await?;
    if !prepared.plan.trigger_flag {
        notes.push(
            "audit_trigger() predates migration V19: the anonymizing UPDATE's audit rows are scrubbed after it instead of never holding values".to_string(),
        );
    }

    // 2. The ledger row: reuse an unfinished one, else open one unless a completed erasure
    //    exists (then a row is only added if this run changes anything).
    let latest = if prepared.plan.ledger_table {
        postgres::latest_request(&prepared.client, "erasure", &subject_hmac).await?
    } else {
        notes.push("no gdpr_requests table: the erasure is not recorded".to_string());
        None
    };
    let mut request_id = match &latest {
        Some((id, status)) if status != "completed" => Some(id.clone()),
        Some(_) => None,
        None if prepared.plan.ledger_table => Some(
            postgres::insert_request(
                &prepared.client,
                "erasure",
                &subject_hmac,
                "in_progress",
                &serde_json::json!({}),
            )
            .await?,
        ),
        None => None,
    };

    let mut changed: Vec<TargetCount> = Vec::new();
    let stage_result: anyhow::Result<()> = async {
        // 3. PostgreSQL: one transaction, audit copies included.
        printer.step("anonymizing postgres rows");
        let tx =
            postgres::begin_batch(&mut prepared.client, prepared.rules.lock_timeout, false).await?;
        let outcome = postgres::apply_batch(&tx, &key, &prepared.plan, &subjects).await?;
        tx.commit()
            .await
            .map_err(|e| anyhow::anyhow!("cannot commit: {e}"))?;
        changed.extend(target_counts(prepared, "postgres", outcome.counts));
        // 4. Mongo, then Redis.
        if let Some((database, _)) = &prepared.mongo {
            printer.step("anonymizing mongo documents");
            let counts = mongo::apply(database, &key, &prepared.rules.collections, &subjects)
                .await
                .map_err(|e| e.context("postgres is anonymized, mongo is not: run again"))?;
            changed.extend(target_counts(prepared, "mongo", counts));
        }
        if let Some((topology, _, plans)) = &prepared.redis {
            printer.step("removing redis keys");
            let counts = redis::apply(topology, plans, &subjects, Some(&needles), false, false)
                .await
                .map_err(|e| {
                    e.context("postgres and mongo are anonymized, redis is not: run again")
                })?;
            changed.extend(target_counts(prepared, "redis", counts));
        }
        Ok(())
    }
    .await;
    if let Err(error) = stage_result {
        if let Some(id) = &request_id {
            let counts = counts_json(&changed, None);
            let _ = postgres::finish_request(
                &prepared.client,
                id,
                "failed",
                &counts,
                Some("the erasure stopped before it completed; run it again"),
            )
            .await;
        }
        return Err(error);
    }

    // 5. Verification.
    printer.step("verifying: searching every store for the original values");
    let verification = verify_subjects(prepared, &subjects, &needles).await?;
    let total: u64 = changed.iter().map(|c| c.count).sum();
    let status = if verification.hits.is_empty() {
        "completed"
    } else {
        "failed"
    };
    let error = (!verification.hits.is_empty()).then(|| {
        let places: Vec<String> = verification
            .hits
            .iter()
            .map(|h| format!("{} {} ({})", h.store, h.location, h.kind.as_str()))
            .collect();
        format!(
            "verification found original values in {}",
            places.join(", ")
        )
    });
    let counts = counts_json(&changed, Some(&verification));
    let mut already_erased = false;
    match &request_id {
        Some(id) => {
            postgres::finish_request(&prepared.client, id, status, &counts, error.as_deref())
                .await?
        }
        None if latest.is_some() && total == 0 && verification.hits.is_empty() => {
            already_erased = true;
        }
        None if prepared.plan.ledger_table => {
            let id = postgres::insert_request(
                &prepared.client,
                "erasure",
                &subject_hmac,
                status,
                &counts,
            )
            .await?;
            if let Some(error) = &error {
                postgres::finish_request(&prepared.client, &id, status, &counts, Some(error))
                    .await?;
            }
            request_id = Some(id);
        }
        None => {}
    }
    Ok(UserReport {
        subject,
        subject_hmac,
        database: prepared.database.clone(),
        dry_run: false,
        plan,
        changed,
        already_erased,
        request_id,
        verification: Some(verification),
        notes,
    })
}

fn counts_json(changed: &[TargetCount], verification: Option<&Verification>) -> serde_json::Value {
    let mut stores: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for c in changed {
        stores
            .entry(c.store.clone())
            .or_default()
            .insert(c.target.clone(), c.count);
    }
    let mut value = serde_json::json!(stores);
    if let Some(v) = verification {
        value["verification"] = serde_json::json!({
            "values": v.values.values().sum::<u64>(),
            "hits": v.hits.len(),
            "tables": v.searched.tables,
            "documents": v.searched.documents,
            "keys": v.searched.keys,
        });
    }
    value
}

/// Searches every store for the original values of `subjects` (one pass over each store, for
/// any number of subjects).
async fn verify_subjects(
    prepared: &Prepared,
    subjects: &[String],
    needles: &Needles,
) -> anyhow::Result<Verification> {
    let mut findings = Findings::default();
    postgres::search(
        &prepared.client,
        &prepared.plan,
        subjects,
        needles,
        &mut findings,
    )
    .await?;
    if let Some((database, _)) = &prepared.mongo {
        mongo::search(
            database,
            &prepared.rules.collections,
            subjects,
            needles,
            &mut findings,
        )
        .await?;
    }
    if let Some((topology, keyspace, _)) = &prepared.redis {
        redis::search(topology, Some(keyspace), needles, &mut findings).await?;
    }
    let searched = findings.searched.clone();
    let (hits, shared) = findings.finish(needles);
    Ok(Verification {
        values: needles.per_kind(),
        not_searched: needles.skipped().clone(),
        shared,
        searched,
        hits,
    })
}

/// The report of a bulk job.
#[derive(Debug, Clone, Serialize)]
pub struct PolicyReport {
    pub policy: String,
    pub description: Option<String>,
    pub database: String,
    pub dry_run: bool,
    /// Subjects the policy selects (left to do, when resuming).
    pub subjects: u64,
    /// Subjects already done by an earlier, interrupted run that this one resumed.
    pub resumed_after: Option<u64>,
    pub subjects_done: u64,
    pub batches: u64,
    pub batch_size: u32,
    /// Rows, documents and keys per target (with --dry-run: what the subjects have).
    pub targets: Vec<TargetCount>,
    pub rows_changed: u64,
    pub seconds: f64,
    pub rows_per_second: f64,
    pub lock_timeout_ms: u64,
    /// The longest batch transaction: it held its row locks this long.
    pub max_batch_ms: u64,
    /// Batches retried after a lock timeout.
    pub lock_retries: u64,
    /// Identifying values still found in a batch's rows after its change, or by the search of
    /// the sampled subjects (exit 2).
    pub leftovers: BTreeMap<String, u64>,
    /// The search of every store for the original values of a sample of the job's subjects.
    pub verification: Option<Verification>,
    /// How many subjects that sample holds.
    pub sampled_subjects: u64,
    pub notes: Vec<String>,
}

/// Batches of a bulk job in flight at once (each on its own session).
const IN_FLIGHT: usize = 2;

/// One batch of a bulk job: its subjects (in key order), the last key, the ledger HMACs and
/// what Mongo and Redis changed for it.
struct Batch {
    ids: Vec<String>,
    last: String,
    hmacs: Vec<String>,
    counts: BTreeMap<String, u64>,
}

type BatchDone = (postgres::BatchOutcome, BTreeMap<String, u64>, Duration);

/// A batch's PostgreSQL work in its own transaction: the rows, the audit copies and the
/// ledger; not yet its progress (`advance`) nor its commit.
async fn pg_batch<'c>(
    client: &'c mut Client,
    prepared_key: &Key,
    plan: &PgPlan,
    lock_timeout: Duration,
    batch: &Batch,
) -> anyhow::Result<(
    tokio_postgres::Transaction<'c>,
    postgres::BatchOutcome,
    BTreeMap<String, u64>,
)> {
    let tx = postgres::begin_batch(client, lock_timeout, true).await?;
    let outcome = postgres::apply_batch(&tx, prepared_key, plan, &batch.ids).await?;
    let mut counts = batch.counts.clone();
    for (target, n) in &outcome.counts {
        *counts.entry(format!("postgres:{target}")).or_default() += n;
    }
    if !batch.hmacs.is_empty() {
        let n = postgres::ledger_batch(&tx, &batch.hmacs).await?;
        if n > 0 {
            *counts.entry("postgres:gdpr_requests".into()).or_default() += n;
        }
    }
    Ok((tx, outcome, counts))
}

/// Records the batch in the job's `migrate_jobs` row (position = its last key), in its
/// transaction.
async fn advance(
    tx: &tokio_postgres::Transaction<'_>,
    job: &str,
    batch: &Batch,
    counts: &BTreeMap<String, u64>,
) -> anyhow::Result<()> {
    postgres::job_advance(tx, job, &batch.last, batch.ids.len() as u64, counts).await
}

async fn commit(tx: tokio_postgres::Transaction<'_>) -> anyhow::Result<()> {
    tx.commit()
        .await
        .map_err(|e| anyhow::anyhow!("cannot commit the batch: {e}"))
}

/// Runs consecutive batches; returns what each did, in order.
///
/// Two batches run at once, the first on the main session and the second on `second`. Their
/// commits stay in key order, so the recorded position always means "every subject up to here
/// is done": the second batch records its progress (the job's `migrate_jobs` row) only after
/// the first committed, and is committed after that. (Were the second to update that row first,
/// the first would wait for its row lock while the second waits for the first's commit.) If
/// either fails, whatever is not committed is rolled back and done again one batch at a time,
/// with the lock-timeout retries.
async fn run_batches(
    prepared: &mut Prepared,
    second: Option<&mut Client>,
    job: &str,
    batches: &[Batch],
    report: &mut PolicyReport,
    bar: &indicatif::ProgressBar,
    printer: &Printer,
) -> anyhow::Result<Vec<BatchDone>> {
    let lock_timeout = prepared.rules.lock_timeout;
    // Cloned: the batches borrow `prepared` mutably.
    let key = prepared.key()?.clone();
    let mut done: Vec<BatchDone> = Vec::new();
    if let ([first, next], Some(second)) = (batches, second) {
        let started = Instant::now();
        let key = &key;
        let plan = &prepared.plan;
        let client = &mut prepared.client;
        let (committed, first_committed) = tokio::sync::oneshot::channel::<()>();
        let (a, b) = futures_util::join!(
            async {
                let (tx, outcome, counts) =
                    pg_batch(client, key, plan, lock_timeout, first).await?;
                advance(&tx, job, first, &counts).await?;
                commit(tx).await?;
                let _ = committed.send(());
                anyhow::Ok((outcome, counts, started.elapsed()))
            },
            async {
                let (tx, outcome, counts) = pg_batch(second, key, plan, lock_timeout, next).await?;
                // An error (the sender dropped) means the first did not commit: this one is
                // rolled back and both are done again.
                first_committed
                    .await
                    .map_err(|_| anyhow::anyhow!("the previous batch did not commit"))?;
                advance(&tx, job, next, &counts).await?;
                anyhow::Ok((tx, outcome, counts))
            }
        );
        match (a, b) {
            (Ok(a), Ok((tx, outcome, counts))) => {
                commit(tx).await?;
                done.push(a);
                done.push((outcome, counts, started.elapsed()));
                return Ok(done);
            }
            (Ok(a), Err(_)) => done.push(a),
            // The second's transaction (if any) is rolled back when dropped here.
            (Err(_), _) => {}
        }
    }
    for batch in &batches[done.len()..] {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let started = Instant::now();
            let result = async {
                let (tx, outcome, counts) = pg_batch(
                    &mut prepared.client,
                    &key,
                    &prepared.plan,
                    lock_timeout,
                    batch,
                )
                .await?;
                advance(&tx, job, batch, &counts).await?;
                commit(tx).await?;
                anyhow::Ok((outcome, counts))
            }
            .await;
            match result {
                Ok((outcome, counts)) => {
                    done.push((outcome, counts, started.elapsed()));
                    break;
                }
                Err(err) if postgres::is_lock_timeout(&err) && attempt <= LOCK_RETRIES => {
                    report.lock_retries += 1;
                    bar.suspend(|| {
                        printer.warn(format!(
                            "a batch waited longer than lock_timeout ({}) for row locks; retrying ({attempt}/{LOCK_RETRIES})",
                            crate::output::human_ms(report.lock_timeout_ms)
                        ))
                    });
                    tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
                }
                Err(err) => return Err(err),
            }
        }
    }
    Ok(done)
}

/// The policy of that name, or an error listing the configured ones.
pub fn find_policy<'a>(rules: &'a Rules, name: &str) -> anyhow::Result<&'a Policy> {
    rules
        .policies
        .iter()
        .find(|p| p.name == name)
        .ok_or_else(|| {
            let known: Vec<&str> = rules.policies.iter().map(|p| p.name.as_str()).collect();
            Detailed::new(format!("no anonymize policy `{name}`"))
                .context(if known.is_empty() {
                    "[anonymize] defines no [[anonymize.policies]]".to_string()
                } else {
                    format!("policies: {}", known.join(", "))
                })
                .into()
        })
}

fn fingerprint(rules: &Rules, policy: &Policy) -> String {
    let text = format!(
        "{policy:?}|{:?}|{:?}|{:?}|{:?}",
        rules.tables, rules.collections, rules.keys, rules.subject_table
    );
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Counts what a policy would anonymize (batch by batch, nothing changed).
pub async fn plan_policy(prepared: &Prepared, policy: &Policy) -> anyhow::Result<PolicyReport> {
    let started = Instant::now();
    let mut report = empty_policy_report(prepared, policy, true);
    report.subjects =
        postgres::count_subjects(&prepared.client, &prepared.plan, &policy.subjects, None).await?;
    let mut totals: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut position: Option<String> = None;
    loop {
        let ids = postgres::next_subjects(
            &prepared.client,
            &prepared.plan,
            &policy.subjects,
            position.as_deref(),
            prepared.rules.batch_size,
        )
        .await?;
        let Some(last) = ids.last().cloned() else {
            break;
        };
        for (target, n) in postgres::count(&prepared.client, &prepared.plan, &ids).await? {
            *totals.entry(("postgres".into(), target)).or_default() += n;
        }
        if let Some((database, _)) = &prepared.mongo {
            for (target, n) in mongo::count(database, &prepared.rules.collections, &ids).await? {
                *totals.entry(("mongo".into(), target)).or_default() += n;
            }
        }
        if let Some((topology, _, plans)) = &prepared.redis {
            for (target, n) in redis::apply(topology, plans, &ids, None, true, true).await? {
                *totals.entry(("redis".into(), target)).or_default() += n;
            }
        }
        report.batches += 1;
        position = Some(last);
    }
    if let Some((_, _, plans)) = &prepared.redis
        && plans.iter().any(|p| !p.is_exact())
    {
        report.notes.push(
            "keys of patterns that do not name the subject are matched when the job ends (not counted here)"
                .to_string(),
        );
    }
    report.targets = totals
        .into_iter()
        .flat_map(|((store, target), n)| target_counts(prepared, &store, [(target, n)]))
        .collect();
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

fn empty_policy_report(prepared: &Prepared, policy: &Policy, dry_run: bool) -> PolicyReport {
    PolicyReport {
        policy: policy.name.clone(),
        description: policy.description.clone(),
        database: prepared.database.clone(),
        dry_run,
        subjects: 0,
        resumed_after: None,
        subjects_done: 0,
        batches: 0,
        batch_size: prepared.rules.batch_size,
        targets: Vec::new(),
        rows_changed: 0,
        seconds: 0.0,
        rows_per_second: 0.0,
        lock_timeout_ms: prepared.rules.lock_timeout.as_millis() as u64,
        max_batch_ms: 0,
        lock_retries: 0,
        leftovers: BTreeMap::new(),
        verification: None,
        sampled_subjects: 0,
        notes: Vec::new(),
    }
}

/// Runs a bulk job: resumes an interrupted run of the same policy and rules, else starts over.
pub async fn run_policy(
    prepared: &mut Prepared,
    policy: &Policy,
    printer: &Printer,
) -> anyhow::Result<PolicyReport> {
    if !prepared.plan.jobs_table {
        return Err(
            Detailed::new("this database has no migrate_jobs table (migration V19)")
                .hint("run `migrate up` first")
                .into(),
        );
    }
    let job = format!("anonymize:{}", policy.name);
    let locked: bool = prepared
        .client
        .query_one(
            "SELECT pg_try_advisory_lock(hashtextextended($1, 0))",
            &[&job],
        )
        .await
        .map(|row| row.get(0))
        .map_err(|e| anyhow::anyhow!("cannot take the job lock: {e}"))?;
    if !locked {
        return Err(Detailed::new(format!(
            "anonymize policy `{}` is already running in another session",
            policy.name
        ))
        .into());
    }
    let result = run_policy_locked(prepared, policy, &job, printer).await;
    let _ = prepared
        .client
        .execute(
            "SELECT pg_advisory_unlock(hashtextextended($1, 0))",
            &[&job],
        )
        .await;
    result
}

async fn run_policy_locked(
    prepared: &mut Prepared,
    policy: &Policy,
    job: &str,
    printer: &Printer,
) -> anyhow::Result<PolicyReport> {
    let started = Instant::now();
    // Cloned: the batches borrow `prepared` mutably.
    let key = prepared.key()?.clone();
    let mut report = empty_policy_report(prepared, policy, false);
    let fingerprint = fingerprint(&prepared.rules, policy);
    let state = postgres::job_state(&prepared.client, job).await?;
    let mut position: Option<String> = None;
    let mut totals: BTreeMap<(String, String), u64> = BTreeMap::new();
    match state {
        Some(state) if state.status != "completed" && state.fingerprint == fingerprint => {
            printer.note(format!(
                "resuming `{}` after {} subject{} (an earlier run stopped)",
                policy.name,
                state.done,
                if state.done == 1 { "" } else { "s" }
            ));
            report.resumed_after = Some(state.done);
            position = state.position;
            for (target, n) in state.counts {
                if let Some((store, target)) = target.split_once(':') {
                    *totals
                        .entry((store.to_string(), target.to_string()))
                        .or_default() += n;
                }
            }
        }
        Some(state) if state.status != "completed" => {
            printer.note(format!(
                "the rules or the policy changed since `{}` was interrupted: starting over (re-runs change only what is not anonymized yet)",
                policy.name
            ));
            postgres::job_start(&prepared.client, job, &fingerprint).await?;
        }
        _ => postgres::job_start(&prepared.client, job, &fingerprint).await?,
    }
    report.subjects = postgres::count_subjects(
        &prepared.client,
        &prepared.plan,
        &policy.subjects,
        position.as_deref(),
    )
    .await?;
    let pause = std::env::var(TEST_BATCH_PAUSE_ENV)
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .map(Duration::from_millis);
    let bar = printer.progress(report.subjects, &format!("anonymizing {}", policy.name));
    let mut sample: Vec<String> = Vec::new();
    let mut sample_needles = Needles::default();
    // Two batches in flight, on two sessions: the server works on both at once (one backend
    // each), and their commits stay in key order (see `run_batches`).
    let mut second: Option<Client> = match Session::open(&prepared.pg).await {
        Ok(session) => Some(session.client),
        Err(_) => None,
    };
    let outcome = async {
        let mut exhausted = false;
        while !exhausted {
            // The next batches: subjects, samples, then Mongo and Redis.
            let mut batches: Vec<Batch> = Vec::new();
            let mut next = position.clone();
            while batches.len() < IN_FLIGHT {
                let ids = postgres::next_subjects(
                    &prepared.client,
                    &prepared.plan,
                    &policy.subjects,
                    next.as_deref(),
                    prepared.rules.batch_size,
                )
                .await?;
                let Some(last) = ids.last().cloned() else {
                    exhausted = true;
                    break;
                };
                // The first subject of batches 1, 2, 4, 8, ...: its original values are
                // captured before anything changes, and searched for in every store when the
                // job ends.
                if (report.batches + batches.len() as u64 + 1).is_power_of_two() {
                    capture_subject(prepared, &ids[0], &mut sample_needles).await?;
                    sample.push(ids[0].clone());
                }
                let mut counts: BTreeMap<String, u64> = BTreeMap::new();
                // Mongo and Redis first: idempotent, and no PostgreSQL lock is held meanwhile.
                // A kill before the batch commits redoes them (changing nothing) on resume.
                if let Some((database, _)) = &prepared.mongo {
                    for (target, n) in
                        mongo::apply(database, &key, &prepared.rules.collections, &ids).await?
                    {
                        *counts.entry(format!("mongo:{target}")).or_default() += n;
                    }
                }
                if let Some((topology, _, plans)) = &prepared.redis {
                    for (target, n) in
                        redis::apply(topology, plans, &ids, None, true, false).await?
                    {
                        *counts.entry(format!("redis:{target}")).or_default() += n;
                    }
                }
                let hmacs: Vec<String> = if policy.ledger {
                    ids.iter().map(|id| key.subject_hmac(id)).collect()
                } else {
                    Vec::new()
                };
                next = Some(last.clone());
                batches.push(Batch {
                    ids,
                    last,
                    hmacs,
                    counts,
                });
            }
            if batches.is_empty() {
                break;
            }
            let done = run_batches(
                prepared,
                second.as_mut(),
                job,
                &batches,
                &mut report,
                &bar,
                printer,
            )
            .await?;
            for (batch, (outcome, counts, took)) in batches.iter().zip(done) {
                report.max_batch_ms = report.max_batch_ms.max(took.as_millis() as u64);
                for (target, n) in counts {
                    if let Some((store, target)) = target.split_once(':') {
                        *totals
                            .entry((store.to_string(), target.to_string()))
                            .or_default() += n;
                    }
                }
                for (place, n) in outcome.leftovers {
                    *report.leftovers.entry(place).or_default() += n;
                }
                report.subjects_done += batch.ids.len() as u64;
                report.batches += 1;
                bar.inc(batch.ids.len() as u64);
                position = Some(batch.last.clone());
            }
            if let Some(pause) = pause {
                tokio::time::sleep(pause).await;
            }
        }
        // Keys that do not name their subject: one sweep over their patterns.
        if let Some((topology, _, plans)) = &prepared.redis {
            for plan in plans.iter().filter(|p| !p.is_exact()) {
                let swept = redis::sweep_keys(topology, plan).await?;
                let mut n = 0u64;
                for chunk in swept.chunks(500) {
                    let ids: Vec<String> = chunk
                        .iter()
                        .flat_map(|(_, ids)| ids.iter().cloned())
                        .collect();
                    let subjects = postgres::which_subjects(
                        &prepared.client,
                        &prepared.plan,
                        &policy.subjects,
                        &ids,
                    )
                    .await?;
                    for (key, ids) in chunk {
                        let mine: Vec<String> = ids
                            .iter()
                            .filter(|id| subjects.contains(*id))
                            .cloned()
                            .collect();
                        if !mine.is_empty() && redis::sweep_one(topology, plan, key, &mine).await? {
                            n += 1;
                        }
                    }
                }
                if n > 0 {
                    *totals
                        .entry(("redis".to_string(), plan.pattern.clone()))
                        .or_default() += n;
                }
            }
        }
        anyhow::Ok(())
    }
    .await;
    bar.finish_and_clear();
    if let Err(error) = outcome {
        let _ = postgres::job_finish(&prepared.client, job, "failed").await;
        return Err(error.context(format!(
            "anonymize policy `{}` stopped after {} subject{} in this run; run it again to resume",
            policy.name,
            report.subjects_done,
            if report.subjects_done == 1 { "" } else { "s" }
        )));
    }
    report.sampled_subjects = sample.len() as u64;
    if !sample_needles.is_empty() {
        printer.step(format!(
            "verifying: searching every store for the original values of {} sampled subject{}",
            sample.len(),
            if sample.len() == 1 { "" } else { "s" }
        ));
        let verification = verify_subjects(prepared, &sample, &sample_needles).await?;
        for hit in &verification.hits {
            *report
                .leftovers
                .entry(format!(
                    "{} {} ({}, sampled subjects)",
                    hit.store,
                    hit.location,
                    hit.kind.as_str()
                ))
                .or_default() += hit.count;
        }
        report.verification = Some(verification);
    }
    let status = if report.leftovers.is_empty() {
        "completed"
    } else {
        "failed"
    };
    postgres::job_finish(&prepared.client, job, status).await?;
    report.targets = totals
        .into_iter()
        .flat_map(|((store, target), n)| target_counts(prepared, &store, [(target, n)]))
        .collect();
    report.rows_changed = report
        .targets
        .iter()
        .filter(|t| t.store == "postgres")
        .map(|t| t.count)
        .sum();
    report.seconds = started.elapsed().as_secs_f64();
    report.rows_per_second = report.rows_changed as f64 / report.seconds.max(1e-9);
    if report.max_batch_ms > report.lock_timeout_ms {
        report.notes.push(format!(
            "the longest batch held its locks {} (lock_timeout {}): lower [anonymize] batch_size",
            crate::output::human_ms(report.max_batch_ms),
            crate::output::human_ms(report.lock_timeout_ms)
        ));
    }
    report.notes.push(match &report.verification {
        Some(v) => format!(
            "verification: each batch's original values were searched in the rows it changed; the original values of {} sampled subject{} (the first of batches 1, 2, 4, 8, ...) were searched in every store ({}, {}, {}, {}): {}",
            report.sampled_subjects,
            if report.sampled_subjects == 1 { "" } else { "s" },
            crate::output::count(v.searched.tables, "table"),
            crate::output::count(v.searched.rows, "row"),
            crate::output::count(v.searched.documents, "document"),
            crate::output::count(v.searched.keys, "key"),
            if v.hits.is_empty() { "none found" } else { "FOUND (see above)" }
        ),
        None => "verification: each batch's original values were searched in the rows it changed; no subject had original values left to sample (a re-run)".to_string(),
    });
    Ok(report)
}
