//! `anonymize policy NAME`: a set of subjects anonymized in keyset batches by primary key, each
//! batch its own transaction with `lock_timeout`, its progress recorded in `migrate_jobs` in
//! that same transaction (a killed job resumes after its last committed batch, under the key
//! it started with). Each batch keeps its subjects' fingerprints in `gdpr_erasures`; when the
//! batches are done, a final pass replaces the subjects' values in the replace columns of every
//! store and searches every store for the values of the first subjects.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio_postgres::Client;

use super::hmac::Key;
use super::needles::{Fingerprinter, Needles, StoredNeedle};
use super::postgres::{self, PgPlan};
use super::rules::{Policy, Rules};
use super::{Prepared, TEST_BATCH_PAUSE_ENV, TargetCount, Verification, ledger, mongo, redis};
use crate::errors::{DbError, Detailed};
use crate::output::Printer;
use crate::postgres::session::Session;

/// Times a batch is retried after a lock timeout before the job stops (resumably).
const LOCK_RETRIES: u32 = 3;

/// Subjects whose fingerprints one pass of the final phase holds in memory.
const FINAL_PASS_SUBJECTS: u32 = 20_000;

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
    /// every store at the end (exit 2).
    pub leftovers: BTreeMap<String, u64>,
    /// The search of every store for the original values of the job's first subjects (up to
    /// 20,000: all of them in most jobs).
    pub verification: Option<Verification>,
    /// How many subjects that search covered.
    pub sampled_subjects: u64,
    /// Rows, documents and keys whose text had the subjects' values replaced (replace rules).
    pub replaced: u64,
    pub notes: Vec<String>,
}

/// Batches of a bulk job in flight at once (each on its own session).
const IN_FLIGHT: usize = 2;

/// One batch of a bulk job: its subjects (in key order), the last key, the ledger HMACs, the
/// fingerprints to keep and what Mongo and Redis changed for it.
struct Batch {
    ids: Vec<String>,
    last: String,
    hmacs: Vec<String>,
    needles: Vec<(String, Vec<StoredNeedle>)>,
    counts: BTreeMap<String, u64>,
}

type BatchDone = (postgres::BatchOutcome, BTreeMap<String, u64>, Duration);

/// A batch's PostgreSQL work in its own transaction: the rows, the audit copies and the
/// ledger; not yet its progress (`advance`) nor its commit.
#[allow(clippy::too_many_arguments)]
async fn pg_batch<'c>(
    client: &'c mut Client,
    prepared_key: &Key,
    plan: &PgPlan,
    lock_timeout: Duration,
    batch: &Batch,
    job: &str,
    mark: bool,
) -> anyhow::Result<(
    tokio_postgres::Transaction<'c>,
    postgres::BatchOutcome,
    BTreeMap<String, u64>,
)> {
    let tx = postgres::begin_batch(client, lock_timeout, true).await?;
    ledger::save_needles(&tx, &prepared_key.fingerprint(), &batch.needles, Some(job)).await?;
    let outcome = postgres::apply_batch(&tx, prepared_key, plan, &batch.ids, mark).await?;
    let mut counts = batch.counts.clone();
    for (target, n) in &outcome.counts {
        *counts.entry(format!("postgres:{target}")).or_default() += n;
    }
    if !batch.hmacs.is_empty() {
        let n = ledger::ledger_batch(&tx, &batch.hmacs).await?;
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
    ledger::job_advance(tx, job, &batch.last, batch.ids.len() as u64, counts).await
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
#[allow(clippy::too_many_arguments)]
async fn run_batches(
    prepared: &mut Prepared,
    second: Option<&mut Client>,
    job: &str,
    mark: bool,
    batches: &[Batch],
    report: &mut PolicyReport,
    bar: &indicatif::ProgressBar,
    printer: &Printer,
) -> anyhow::Result<Vec<BatchDone>> {
    // Cloned: the work below borrows `prepared` mutably.
    let key = prepared.key()?.clone();
    let lock_timeout = prepared.rules.lock_timeout;
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
                    pg_batch(client, key, plan, lock_timeout, first, job, mark).await?;
                advance(&tx, job, first, &counts).await?;
                commit(tx).await?;
                let _ = committed.send(());
                anyhow::Ok((outcome, counts, started.elapsed()))
            },
            async {
                let (tx, outcome, counts) =
                    pg_batch(second, key, plan, lock_timeout, next, job, mark).await?;
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
                    job,
                    mark,
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
                Err(mut err) => {
                    // The hint of a lock timeout names the limit the batch ran under.
                    if let Some(db) = err.downcast_mut::<DbError>() {
                        db.lock_timeout = Some(lock_timeout);
                    }
                    return Err(err);
                }
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
        .flat_map(|((store, target), n)| super::target_counts(prepared, &store, [(target, n)]))
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
        replaced: 0,
        notes: Vec::new(),
    }
}

/// Runs a bulk job: resumes an interrupted run of the same policy and rules, else starts over.
pub async fn run_policy(
    prepared: &mut Prepared,
    policy: &Policy,
    printer: &Printer,
) -> anyhow::Result<PolicyReport> {
    super::require_erasure_tables(prepared)?;
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
    // Cloned: the work below borrows `prepared` mutably.
    let key = prepared.key()?.clone();
    let started = Instant::now();
    let mut report = empty_policy_report(prepared, policy, false);
    let fingerprint = fingerprint(&prepared.rules, policy);
    let key_fingerprint = key.fingerprint();
    let state = ledger::job_state(&prepared.client, job).await?;
    let mut position: Option<String> = None;
    let mut totals: BTreeMap<(String, String), u64> = BTreeMap::new();
    if let Some(state) = state.as_ref().filter(|s| s.status != "completed") {
        match &state.key_fingerprint {
            Some(theirs) if *theirs != key_fingerprint => {
                return Err(Detailed::new(format!(
                    "anonymize policy `{}` stopped after {} subject{} under another anonymization key: resuming (or starting over) under this one would leave pseudonyms of two keys; nothing was changed",
                    policy.name,
                    state.done,
                    if state.done == 1 { "" } else { "s" }
                ))
                .context(format!(
                    "the job started with the key of fingerprint {theirs}; ${} holds the key of fingerprint {key_fingerprint}",
                    prepared.rules.key_env
                ))
                .hint(format!(
                    "set {} to the key the job started with (fingerprint {theirs}) and run it again",
                    prepared.rules.key_env
                ))
                .into());
            }
            Some(_) => {}
            None => ledger::job_adopt_key(&prepared.client, job, &key_fingerprint).await?,
        }
    }
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
            ledger::job_start(&prepared.client, job, &fingerprint, &key_fingerprint).await?;
        }
        _ => ledger::job_start(&prepared.client, job, &fingerprint, &key_fingerprint).await?,
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
    let fingerprinter = Fingerprinter::new(&key);
    // Two batches in flight, on two sessions: the server works on both at once (one backend
    // each), and their commits stay in key order (see `run_batches`).
    let mut second: Option<Client> = match Session::open(&prepared.pg).await {
        Ok(session) => Some(session.into_client()),
        Err(_) => None,
    };
    let outcome = async {
        let mut exhausted = false;
        while !exhausted {
            // The next batches: subjects, their original values, then Mongo and Redis.
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
                // The subjects' original values, captured before anything changes: kept as
                // fingerprints (in the batch's transaction) for the final pass.
                let mut needles = Needles::new(fingerprinter.clone());
                super::capture(prepared, &ids, &mut needles).await?;
                let kept: Vec<(String, Vec<StoredNeedle>)> = ids
                    .iter()
                    .filter_map(|id| {
                        let index = needles.subject_index(id)?;
                        Some((key.subject_hmac(id), needles.stored(index)))
                    })
                    .filter(|(_, stored)| !stored.is_empty())
                    .collect();
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
                    needles: kept,
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
                policy.ledger,
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
        let _ = ledger::job_finish(&prepared.client, job, "failed").await;
        return Err(error.context(format!(
            "anonymize policy `{}` stopped after {} subject{} in this run; run it again to resume",
            policy.name,
            report.subjects_done,
            if report.subjects_done == 1 { "" } else { "s" }
        )));
    }
    // The final pass: the subjects' values replaced in other rows, documents and keys, and
    // every store searched for the values of the first subjects.
    if let Err(error) = final_pass(prepared, policy, job, &mut report, printer).await {
        let _ = ledger::job_finish(&prepared.client, job, "failed").await;
        return Err(error.context(format!(
            "anonymize policy `{}` anonymized its subjects but its final pass stopped; run it again to finish it",
            policy.name
        )));
    }
    if let Some(verification) = &report.verification {
        for hit in &verification.hits {
            *report
                .leftovers
                .entry(format!(
                    "{} {} ({}, found by the search of every store)",
                    hit.store,
                    hit.location,
                    hit.kind.as_str()
                ))
                .or_default() += 1;
        }
    }
    let status = if report.leftovers.is_empty() {
        "completed"
    } else {
        "failed"
    };
    ledger::job_finish(&prepared.client, job, status).await?;
    ledger::release_job(&prepared.client, job, policy.ledger).await?;
    report.targets = totals
        .into_iter()
        .flat_map(|((store, target), n)| super::target_counts(prepared, &store, [(target, n)]))
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
            "verification: each batch's original values were searched in the rows it changed; the original values of {} subject{} ({}) were searched in every store ({} tables, {} rows, {} documents, {} keys): {}",
            report.sampled_subjects,
            if report.sampled_subjects == 1 { "" } else { "s" },
            super::describe_values(&v.values),
            v.searched.tables,
            v.searched.rows,
            v.searched.documents,
            v.searched.keys,
            if v.hits_total == 0 { "none found" } else { "FOUND (see above)" }
        ),
        None => "verification: each batch's original values were searched in the rows it changed; no subject had original values left to search for (a re-run)".to_string(),
    });
    Ok(report)
}

/// After the batches: for the job's subjects, `FINAL_PASS_SUBJECTS` at a time, their kept
/// fingerprints are replaced in the replace columns of every store; the first pass also
/// searches every store (its findings are the job's verification).
async fn final_pass(
    prepared: &mut Prepared,
    policy: &Policy,
    job: &str,
    report: &mut PolicyReport,
    printer: &Printer,
) -> anyhow::Result<()> {
    // Cloned: the work below borrows `prepared` mutably.
    let key = prepared.key()?.clone();
    let mut position: Option<String> = None;
    let mut first = true;
    let has_replace = !prepared.plan.replace.is_empty()
        || prepared
            .rules
            .collections
            .iter()
            .any(|c| !c.replace.is_empty())
        || prepared
            .rules
            .keys
            .iter()
            .any(|k| k.action == super::rules::KeyAction::Replace);
    loop {
        let ids = postgres::next_subjects(
            &prepared.client,
            &prepared.plan,
            &policy.subjects,
            position.as_deref(),
            FINAL_PASS_SUBJECTS,
        )
        .await?;
        let Some(last) = ids.last().cloned() else {
            break;
        };
        position = Some(last);
        if !first && !has_replace {
            break;
        }
        let hmacs: Vec<String> = ids.iter().map(|id| key.subject_hmac(id)).collect();
        let kept = ledger::job_needles(&prepared.client, job, &hmacs).await?;
        let mut needles = Needles::new(Fingerprinter::new(&key));
        let mut covered = 0u64;
        for (id, hmac) in ids.iter().zip(&hmacs) {
            if let Some(stored) = kept.get(hmac) {
                let subject = needles.subject(id);
                for needle in stored {
                    needles.add_stored(subject, needle);
                }
                covered += 1;
            }
        }
        if needles.is_empty() {
            continue;
        }
        super::finish_needles(prepared, Some(&policy.subjects), &mut needles).await?;
        printer.step(if first {
            format!(
                "searching every store for the original values of {covered} subject{}{}",
                if covered == 1 { "" } else { "s" },
                if has_replace {
                    ", replacing them in the replace columns"
                } else {
                    ""
                }
            )
        } else {
            format!("replacing the values of {covered} more subjects in the replace columns")
        });
        let (findings, notes) = super::sweep_all(prepared, &needles, true, !first).await?;
        report.replaced += findings.replaced.values().sum::<u64>();
        if first {
            let verification = Verification::of_all(&needles, &findings);
            report.sampled_subjects = covered;
            report.verification = Some(verification);
            report.notes.extend(notes);
            first = false;
        } else {
            for hit in findings.all_hits() {
                *report
                    .leftovers
                    .entry(format!(
                        "{} {} ({}, found by the final pass)",
                        hit.store,
                        hit.location,
                        hit.kind.as_str()
                    ))
                    .or_default() += 1;
            }
        }
    }
    Ok(())
}
