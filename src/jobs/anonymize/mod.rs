//! GDPR anonymization across PostgreSQL, MongoDB and Redis.
//!
//! `anonymize user ID...` erases subjects: their original values are captured and kept as keyed
//! fingerprints (`gdpr_erasures`), their rows are transformed (or deleted) and marked in one
//! PostgreSQL transaction per subject together with the copies the audit trigger made of them,
//! their documents and keys follow, and one search of every table, collection and key replaces
//! their values in the replace columns of other people's rows and finds any other occurrence
//! (`verify` decides which count). `anonymize verify ID...` repeats that search from the kept
//! fingerprints alone. `anonymize policy NAME` does the same for a set of subjects in keyset
//! batches (`bulk`). Every output is a deterministic function of the key and stable inputs, so
//! a re-run changes nothing that is already anonymized.
//!
//! Personal data never reaches output, logs or records: reports name places and kinds of
//! values, the ledger (`gdpr_requests`) and `gdpr_erasures` hold keyed hashes only.

pub mod bulk;
pub mod erase;
pub mod hmac;
pub mod ledger;
pub mod mongo;
pub mod needles;
pub mod postgres;
pub mod redis;
pub mod rules;
pub mod search;
pub mod verify;

use std::collections::BTreeMap;

use serde::Serialize;
use tokio_postgres::Client;

pub use self::bulk::{PolicyReport, find_policy, plan_policy, run_policy};
pub use self::erase::{UserReport, VerifyReport, erase_users, verify_users};
use self::hmac::Key;
use self::needles::{Fingerprinter, Needles};
use self::postgres::PgPlan;
use self::redis::KeyPlan;
use self::rules::{Rules, ValueKind};
use self::verify::{Ambiguous, Findings, Hit, Searched};
use crate::config::Settings;
use crate::errors::Detailed;
use crate::postgres::session::Session;
use crate::redis::cluster::Topology;
use crate::redis::keyspace::{self, Keyspace, Passwords};

/// Test hook: pause this many milliseconds after each committed batch of a bulk job, so a test
/// can kill the process mid-way. Read only here; never set it in production.
pub const TEST_BATCH_PAUSE_ENV: &str = "MIGRATE_TEST_BATCH_PAUSE_MS";

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
    /// It does (erasure, verification, a bulk policy): a missing key fails before any
    /// connection.
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
    let client = Session::open(pg).await?.into_client();
    let plan = postgres::resolve(&client, &rules).await?;
    // MongoDB is searched whenever it is configured; it must be when rules name collections.
    let mongo = if rules.collections.is_empty() && settings.mongo.is_none() {
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

/// Erasure needs migration V20 (`gdpr_erasures`, the key fingerprint of jobs) besides V19.
pub(crate) fn require_erasure_tables(prepared: &Prepared) -> anyhow::Result<()> {
    if prepared.plan.jobs_table && prepared.plan.erasures_table {
        return Ok(());
    }
    Err(Detailed::new(
        "this database lacks the tables anonymization records its work in (migrate_jobs of V19, gdpr_erasures of V20)",
    )
    .hint("run `migrate up` first")
    .into())
}

/// Rows, documents or keys of one target.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TargetCount {
    pub store: String,
    pub target: String,
    pub action: String,
    pub count: u64,
}

/// What the search of every store looked for and found, for one subject (or, in a bulk job's
/// report, for all the subjects it covered).
#[derive(Debug, Clone, Serialize)]
pub struct Verification {
    /// Original values searched for, per kind (never the values).
    pub values: BTreeMap<ValueKind, u64>,
    /// Of those, fingerprints kept from earlier runs (`gdpr_erasures`).
    pub kept_from_earlier_runs: u64,
    /// Values too short to be distinctive, not searched.
    pub not_searched: BTreeMap<ValueKind, u64>,
    /// One-word names not searched on their own because they are also an enum label (a role,
    /// a status): the full name is searched instead.
    pub enum_labels: u64,
    /// Values only held against the subject where a row is about it (its own rows, rows
    /// referencing it): one-word names, and names other people have too.
    pub attributable_only: u64,
    pub searched: Searched,
    /// Where original values are still found (exit 2); at most 200 listed.
    pub hits: Vec<Hit>,
    pub hits_total: u64,
    /// Occurrences of attributable-only values in rows about nobody in particular: not held
    /// against the subject (they may be someone else's).
    pub ambiguous: Vec<Ambiguous>,
    /// Rows, documents and keys of other people whose text had the values replaced, per
    /// `store:target`.
    pub replaced: BTreeMap<String, u64>,
    /// Places where the previous run found values, and how many of them still hold one.
    pub earlier_hits: u64,
    pub earlier_hits_remaining: u64,
}

impl Verification {
    /// One subject's verification.
    pub(crate) fn of(
        needles: &Needles,
        findings: &Findings,
        subject: u32,
        kept: u64,
        earlier: &[ledger::Place],
    ) -> Verification {
        let own = findings.of(subject);
        let places: Vec<ledger::Place> = own.hits.iter().map(ledger::Place::from).collect();
        let remaining = earlier.iter().filter(|p| places.contains(p)).count() as u64;
        let mine = needles.all().iter().filter(|n| n.subject == subject);
        Verification {
            values: needles.per_kind(Some(subject)),
            kept_from_earlier_runs: kept,
            not_searched: BTreeMap::new(),
            enum_labels: mine.clone().filter(|n| n.label).count() as u64,
            attributable_only: mine.filter(|n| !n.label && n.is_weak()).count() as u64,
            searched: findings.searched.clone(),
            hits: own.hits,
            hits_total: own.hits_total,
            ambiguous: own.ambiguous,
            replaced: own.replaced,
            earlier_hits: earlier.len() as u64,
            earlier_hits_remaining: remaining,
        }
    }

    /// Every subject's findings together (bulk jobs).
    pub(crate) fn of_all(needles: &Needles, findings: &Findings) -> Verification {
        let mut hits: Vec<Hit> = findings.all_hits().cloned().collect();
        hits.sort();
        hits.truncate(verify::MAX_LISTED_HITS);
        let (ambiguous, replaced) = findings.summary();
        Verification {
            values: needles.per_kind(None),
            kept_from_earlier_runs: needles.len() as u64,
            not_searched: needles.skipped().clone(),
            enum_labels: needles.all().iter().filter(|n| n.label).count() as u64,
            attributable_only: needles
                .all()
                .iter()
                .filter(|n| !n.label && n.is_weak())
                .count() as u64,
            searched: findings.searched.clone(),
            hits,
            hits_total: findings.hits_total(),
            ambiguous,
            replaced,
            earlier_hits: 0,
            earlier_hits_remaining: 0,
        }
    }
}

/// "1 email, 2 names, ..." for messages.
pub(crate) fn describe_values(values: &BTreeMap<ValueKind, u64>) -> String {
    if values.is_empty() {
        return "no values".to_string();
    }
    values
        .iter()
        .map(|(kind, n)| format!("{n} {}", kind.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) fn action_of(prepared: &Prepared, store: &str, target: &str) -> String {
    if target.ends_with(" (marked)") {
        let columns: Vec<&str> = prepared
            .plan
            .mark
            .iter()
            .map(|m| m.column.name.as_str())
            .collect();
        return format!("mark as erased ({})", columns.join(", "));
    }
    if target.ends_with(" (copies)") {
        return "scrub audit copies".to_string();
    }
    if target.ends_with(" (replaced)") {
        return "replace the subject's values".to_string();
    }
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
                rules::KeyAction::Replace => "remove members, replace values".to_string(),
                rules::KeyAction::Keep => "keep".to_string(),
            }),
    }
}

pub(crate) fn target_counts(
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
        let mut needles = Needles::new(Fingerprinter::new(prepared.key()?));
        postgres::capture(
            &prepared.client,
            prepared.key()?,
            &prepared.plan,
            &subjects,
            &mut needles,
        )
        .await?;
        needles.mark_labels(prepared.plan.labels.iter().map(String::as_str));
        needles.build();
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

/// What an erasure also does besides the plan's targets (for `--dry-run`).
pub fn plan_notes(prepared: &Prepared) -> Vec<String> {
    let mut notes = Vec::new();
    if !prepared.plan.mark.is_empty() {
        let columns: Vec<&str> = prepared
            .plan
            .mark
            .iter()
            .map(|m| m.column.name.as_str())
            .collect();
        notes.push(format!(
            "the subject's row is marked as erased ({})",
            columns.join(", ")
        ));
    }
    let tables: Vec<&str> = prepared
        .plan
        .replace
        .iter()
        .filter(|t| !t.replace.is_empty())
        .map(|t| t.table.as_str())
        .collect();
    let collections: Vec<&str> = prepared
        .rules
        .collections
        .iter()
        .filter(|c| !c.replace.is_empty())
        .map(|c| c.collection.as_str())
        .collect();
    let patterns: Vec<&str> = prepared
        .rules
        .keys
        .iter()
        .filter(|k| k.action == rules::KeyAction::Replace)
        .map(|k| k.pattern.as_str())
        .collect();
    if !tables.is_empty() || !collections.is_empty() || !patterns.is_empty() {
        notes.push(format!(
            "the subject's values are replaced in other people's text wherever the search that ends the run finds them: {} table{}, {} collection{}, {} key pattern{} (counted then, not here)",
            tables.len(),
            if tables.len() == 1 { "" } else { "s" },
            collections.len(),
            if collections.len() == 1 { "" } else { "s" },
            patterns.len(),
            if patterns.len() == 1 { "" } else { "s" },
        ));
    }
    notes
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

/// Adds the subjects' identifying values in PostgreSQL and MongoDB to `needles`.
pub(crate) async fn capture(
    prepared: &Prepared,
    subjects: &[String],
    needles: &mut Needles,
) -> anyhow::Result<()> {
    postgres::capture(
        &prepared.client,
        prepared.key()?,
        &prepared.plan,
        subjects,
        needles,
    )
    .await?;
    if let Some((database, _)) = &prepared.mongo {
        mongo::capture(database, &prepared.rules.collections, subjects, needles).await?;
    }
    Ok(())
}

/// Makes gathered needles searchable: one-word names that are enum labels set aside, names
/// someone outside the run also has (with `condition`: someone the policy does not select)
/// marked as attributable only.
pub(crate) async fn finish_needles(
    prepared: &Prepared,
    condition: Option<&str>,
    needles: &mut Needles,
) -> anyhow::Result<()> {
    needles.mark_labels(prepared.plan.labels.iter().map(String::as_str));
    needles.build();
    let shared = postgres::shared_names(
        &prepared.client,
        prepared.key()?,
        &prepared.plan,
        condition,
        needles,
    )
    .await?;
    needles.mark_shared(&shared);
    needles.build();
    Ok(())
}

/// Searches every store for the needles: one pass over each, for any number of subjects. With
/// `replace`, the replace rules' columns, fields and keys get the values replaced;
/// `targets_only` limits PostgreSQL to the replace tables and the audit table.
pub(crate) async fn sweep_all(
    prepared: &mut Prepared,
    needles: &Needles,
    replace: bool,
    targets_only: bool,
) -> anyhow::Result<(Findings, Vec<String>)> {
    let mut findings = Findings::default();
    // Cloned: the sweep borrows `prepared.client` mutably.
    let key = prepared.key()?.clone();
    let sweep = search::Sweep {
        key: &key,
        plan: &prepared.plan,
        needles,
        replace,
        lock_timeout: prepared.rules.lock_timeout,
        replace_targets_only: targets_only,
    };
    let notes = search::sweep(&mut prepared.client, &sweep, &mut findings).await?;
    if let Some((database, _)) = &prepared.mongo {
        mongo::sweep(
            database,
            &prepared.rules.collections,
            needles,
            replace,
            &mut findings,
        )
        .await?;
    }
    if let Some((topology, keyspace, plans)) = &prepared.redis {
        redis::sweep(
            topology,
            Some(keyspace),
            plans,
            needles,
            replace,
            &mut findings,
        )
        .await?;
    }
    Ok((findings, notes))
}
