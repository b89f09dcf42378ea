//! The records the anonymization jobs keep in PostgreSQL: the GDPR ledger (`gdpr_requests`),
//! the verification state of erasures (`gdpr_erasures`: keyed fingerprints of original values
//! and where the last run found one) and the progress of bulk jobs (`migrate_jobs`). None of
//! them holds readable personal data.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;
use tokio_postgres::{Client, GenericClient, Row};

use super::needles::StoredNeedle;
use super::verify::Hit;
use crate::errors::DbError;

fn db_error(doing: &str, err: tokio_postgres::Error) -> DbError {
    DbError::new(doing, err)
}

// ---------------------------------------------------------------------------------------------
// Ledger (gdpr_requests)

/// The latest request of a type for a subject: (id, status).
pub async fn latest_request(
    client: &impl GenericClient,
    request_type: &str,
    subject_hmac: &str,
) -> Result<Option<(String, String)>, DbError> {
    client
        .query_opt(
            "SELECT id::text, status::text FROM gdpr_requests
             WHERE subject_hmac = $1 AND request_type = $2::text::gdpr_request_type
             ORDER BY requested_at DESC, created_at DESC LIMIT 1",
            &[&subject_hmac, &request_type],
        )
        .await
        .map(|row| row.map(|r| (r.get(0), r.get(1))))
        .map_err(|e| db_error("cannot read gdpr_requests", e))
}

/// Inserts a request row; returns its id.
pub async fn insert_request(
    client: &impl GenericClient,
    request_type: &str,
    subject_hmac: &str,
    status: &str,
    counts: &Value,
) -> Result<String, DbError> {
    client
        .query_one(
            "INSERT INTO gdpr_requests (request_type, subject_hmac, status, counts, completed_at)
             VALUES ($1::text::gdpr_request_type, $2, $3::text::gdpr_request_status, $4::text::jsonb,
                     CASE WHEN $3 IN ('completed', 'failed') THEN now() END)
             RETURNING id::text",
            &[&request_type, &subject_hmac, &status, &counts.to_string()],
        )
        .await
        .map(|row| row.get(0))
        .map_err(|e| db_error("cannot record the request in gdpr_requests", e))
}

/// Closes a request row: status, counts, error (never personal data), completion time.
pub async fn finish_request(
    client: &impl GenericClient,
    id: &str,
    status: &str,
    counts: &Value,
    error: Option<&str>,
) -> Result<(), DbError> {
    client
        .execute(
            "UPDATE gdpr_requests SET status = $2::text::gdpr_request_status,
                    counts = $3::text::jsonb, error = $4, completed_at = now()
             WHERE id = $1::text::uuid",
            &[&id, &status, &counts.to_string(), &error],
        )
        .await
        .map(|_| ())
        .map_err(|e| db_error("cannot update gdpr_requests", e))
}

/// Records an erasure for every subject of a bulk batch that has no completed one yet.
pub async fn ledger_batch(
    tx: &tokio_postgres::Transaction<'_>,
    hmacs: &[String],
) -> anyhow::Result<u64> {
    tx.execute(
        "INSERT INTO gdpr_requests (request_type, subject_hmac, status, counts, completed_at)
         SELECT 'erasure', h, 'completed', '{\"job\": \"anonymize policy\"}', now()
         FROM unnest($1::text[]) AS h
         WHERE NOT EXISTS (SELECT 1 FROM gdpr_requests g
                           WHERE g.subject_hmac = h AND g.request_type = 'erasure'
                             AND g.status = 'completed')",
        &[&hmacs],
    )
    .await
    .map_err(|e| db_error("cannot record the erasures in gdpr_requests", e).into())
}

// ---------------------------------------------------------------------------------------------
// Verification state (gdpr_erasures)

/// A place where a run found an original value, as kept for the next run (no value).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct Place {
    pub store: String,
    pub location: String,
    pub key: String,
    pub kind: super::rules::ValueKind,
}

impl From<&Hit> for Place {
    fn from(hit: &Hit) -> Place {
        Place {
            store: hit.store.clone(),
            location: hit.location.clone(),
            key: hit.key.clone(),
            kind: hit.kind,
        }
    }
}

/// What is kept about one erased subject.
#[derive(Debug, Clone)]
pub struct Erasure {
    pub key_fingerprint: String,
    pub needles: Vec<StoredNeedle>,
    pub hits: Vec<Place>,
}

/// The kept state of these subjects (by HMAC), where there is one.
pub async fn load_erasures(
    client: &impl GenericClient,
    hmacs: &[String],
) -> Result<HashMap<String, Erasure>, DbError> {
    let rows = client
        .query(
            "SELECT subject_hmac, key_fingerprint, needles::text, hits::text FROM gdpr_erasures
             WHERE subject_hmac = ANY($1)",
            &[&hmacs],
        )
        .await
        .map_err(|e| db_error("cannot read gdpr_erasures", e))?;
    Ok(rows
        .iter()
        .map(|row| {
            (
                row.get::<_, String>(0),
                Erasure {
                    key_fingerprint: row.get(1),
                    needles: serde_json::from_str(&row.get::<_, String>(2)).unwrap_or_default(),
                    hits: serde_json::from_str(&row.get::<_, String>(3)).unwrap_or_default(),
                },
            )
        })
        .collect())
}

/// Keeps the fingerprints of subjects (merged with what is kept already, under the same key);
/// `job` marks new records as awaiting that bulk job's final pass.
pub async fn save_needles(
    client: &impl GenericClient,
    key_fingerprint: &str,
    subjects: &[(String, Vec<StoredNeedle>)],
    job: Option<&str>,
) -> Result<(), DbError> {
    if subjects.is_empty() {
        return Ok(());
    }
    let hmacs: Vec<&str> = subjects.iter().map(|(h, _)| h.as_str()).collect();
    let needles: Vec<String> = subjects
        .iter()
        .map(|(_, n)| serde_json::to_string(n).unwrap_or_else(|_| "[]".into()))
        .collect();
    client
        .execute(
            "INSERT INTO gdpr_erasures (subject_hmac, key_fingerprint, needles, job)
             SELECT h, $3, n::jsonb, $4 FROM unnest($1::text[], $2::text[]) AS v(h, n)
             ON CONFLICT (subject_hmac) DO UPDATE SET
                 needles = (SELECT coalesce(jsonb_agg(DISTINCT e), '[]')
                            FROM jsonb_array_elements(gdpr_erasures.needles || EXCLUDED.needles) e),
                 -- An erasure's record (no job) never becomes a job's: a pseudonymizing job
                 -- drops its own records when it ends.
                 job = CASE WHEN EXCLUDED.job IS NULL OR gdpr_erasures.job IS NULL THEN NULL
                            ELSE EXCLUDED.job END
             WHERE gdpr_erasures.key_fingerprint = EXCLUDED.key_fingerprint",
            &[&hmacs, &needles, &key_fingerprint, &job],
        )
        .await
        .map(|_| ())
        .map_err(|e| db_error("cannot record the fingerprints in gdpr_erasures", e))
}

/// Records where this run found values of a subject (replacing the earlier list).
pub async fn save_hits(
    client: &impl GenericClient,
    hmac: &str,
    hits: &[Place],
) -> Result<(), DbError> {
    client
        .execute(
            "UPDATE gdpr_erasures SET hits = $2::text::jsonb, verified_at = now()
             WHERE subject_hmac = $1",
            &[
                &hmac,
                &serde_json::to_string(hits).unwrap_or_else(|_| "[]".into()),
            ],
        )
        .await
        .map(|_| ())
        .map_err(|e| db_error("cannot update gdpr_erasures", e))
}

/// The fingerprints kept for these subjects (by HMAC) by this bulk job or by finished runs
/// (a re-run of a job verifies what earlier runs erased).
pub async fn job_needles(
    client: &Client,
    job: &str,
    hmacs: &[String],
) -> Result<HashMap<String, Vec<StoredNeedle>>, DbError> {
    let rows = client
        .query(
            "SELECT subject_hmac, needles::text FROM gdpr_erasures
             WHERE (job = $1 OR job IS NULL) AND subject_hmac = ANY($2)",
            &[&job, &hmacs],
        )
        .await
        .map_err(|e| db_error("cannot read gdpr_erasures", e))?;
    Ok(rows
        .iter()
        .map(|row| {
            (
                row.get::<_, String>(0),
                serde_json::from_str(&row.get::<_, String>(1)).unwrap_or_default(),
            )
        })
        .collect())
}

/// A bulk job's final pass is done: erasures (`keep`) stay without the job's mark, the
/// fingerprints of other jobs (pseudonymization, not erasure) are dropped.
pub async fn release_job(client: &Client, job: &str, keep: bool) -> Result<(), DbError> {
    let sql = if keep {
        "UPDATE gdpr_erasures SET job = NULL WHERE job = $1"
    } else {
        "DELETE FROM gdpr_erasures WHERE job = $1"
    };
    client
        .execute(sql, &[&job])
        .await
        .map(|_| ())
        .map_err(|e| db_error("cannot update gdpr_erasures", e))
}

/// Of these subjects (HMACs), those whose rows an erasure already pseudonymized.
pub async fn erased(client: &Client, hmacs: &[String]) -> Result<Vec<String>, DbError> {
    if hmacs.is_empty() {
        return Ok(Vec::new());
    }
    client
        .query(
            "SELECT DISTINCT subject_hmac FROM gdpr_requests
             WHERE request_type = 'erasure' AND status IN ('completed', 'failed')
               AND subject_hmac = ANY($1)",
            &[&hmacs],
        )
        .await
        .map(|rows| rows.iter().map(|r| r.get(0)).collect())
        .map_err(|e| db_error("cannot read gdpr_requests", e))
}

// ---------------------------------------------------------------------------------------------
// Job state (migrate_jobs)

/// A job's recorded state.
#[derive(Debug, Clone)]
pub struct JobState {
    pub status: String,
    pub fingerprint: String,
    /// Fingerprint of the anonymization key the job started with (`None`: started before
    /// migration V20 recorded it).
    pub key_fingerprint: Option<String>,
    pub position: Option<String>,
    pub done: u64,
    pub counts: BTreeMap<String, u64>,
}

pub async fn job_state(client: &Client, job: &str) -> Result<Option<JobState>, DbError> {
    let row = client
        .query_opt(
            "SELECT status, fingerprint, position, done, counts::text, key_fingerprint
             FROM migrate_jobs WHERE job = $1",
            &[&job],
        )
        .await
        .map_err(|e| db_error("cannot read migrate_jobs", e))?;
    Ok(row.map(|r: Row| JobState {
        status: r.get(0),
        fingerprint: r.get(1),
        position: r.get(2),
        done: r.get::<_, i64>(3) as u64,
        counts: serde_json::from_str(&r.get::<_, String>(4)).unwrap_or_default(),
        key_fingerprint: r.get(5),
    }))
}

/// Starts (or restarts) a job from the beginning, under the key with this fingerprint.
pub async fn job_start(
    client: &Client,
    job: &str,
    fingerprint: &str,
    key_fingerprint: &str,
) -> Result<(), DbError> {
    client
        .execute(
            "INSERT INTO migrate_jobs (job, status, fingerprint, key_fingerprint)
             VALUES ($1, 'running', $2, $3)
             ON CONFLICT (job) DO UPDATE SET status = 'running', fingerprint = $2, position = NULL,
                 done = 0, batches = 0, counts = '{}', started_at = now(), updated_at = now(),
                 completed_at = NULL, key_fingerprint = $3",
            &[&job, &fingerprint, &key_fingerprint],
        )
        .await
        .map(|_| ())
        .map_err(|e| db_error("cannot record the job in migrate_jobs", e))
}

/// Records a committed batch, in the batch's own transaction.
pub async fn job_advance(
    tx: &tokio_postgres::Transaction<'_>,
    job: &str,
    position: &str,
    subjects: u64,
    counts: &BTreeMap<String, u64>,
) -> anyhow::Result<()> {
    tx.execute(
        "UPDATE migrate_jobs SET position = $2, done = done + $3, batches = batches + 1,
             counts = (SELECT coalesce(jsonb_object_agg(k, coalesce((counts ->> k)::bigint, 0)
                                                          + coalesce((d ->> k)::bigint, 0)), '{}')
                       FROM jsonb_object_keys(counts || d) AS k),
             updated_at = now()
         FROM (SELECT $4::text::jsonb AS d) AS delta
         WHERE job = $1",
        &[
            &job,
            &position,
            &(subjects as i64),
            &serde_json::to_string(counts).unwrap_or_else(|_| "{}".into()),
        ],
    )
    .await
    .map(|_| ())
    .map_err(|e| db_error("cannot record the batch in migrate_jobs", e).into())
}

/// Records the key of a job started before its fingerprint was kept (migration V20).
pub async fn job_adopt_key(
    client: &Client,
    job: &str,
    key_fingerprint: &str,
) -> Result<(), DbError> {
    client
        .execute(
            "UPDATE migrate_jobs SET key_fingerprint = $2 WHERE job = $1 AND key_fingerprint IS NULL",
            &[&job, &key_fingerprint],
        )
        .await
        .map(|_| ())
        .map_err(|e| db_error("cannot update migrate_jobs", e))
}

pub async fn job_finish(client: &Client, job: &str, status: &str) -> Result<(), DbError> {
    client
        .execute(
            "UPDATE migrate_jobs SET status = $2, updated_at = now(),
                 completed_at = CASE WHEN $2 = 'completed' THEN now() END
             WHERE job = $1",
            &[&job, &status],
        )
        .await
        .map(|_| ())
        .map_err(|e| db_error("cannot update migrate_jobs", e))
}
