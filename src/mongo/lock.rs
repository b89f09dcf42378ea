//! One runner at a time per database: a lock document with a fixed `_id` in `migrate_lock`,
//! leased until `expires_at` and renewed by a heartbeat while the runner works.
//!
//! Taking it: insert the document (a duplicate key, code 11000, means someone holds it), or take
//! over an expired lease with an update conditioned on `expires_at < now`. Both are single-
//! document atomic operations, so two live runners never both hold the lock. "Now" is the
//! server's clock (`hello.localTime`), the same for every runner.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use mongodb::bson::{DateTime, Document, doc, oid::ObjectId};
use mongodb::{Collection, Database};

use super::connect::{error_code, server_time};
use crate::errors::Detailed;

pub const LOCK_COLLECTION: &str = "migrate_lock";
const DUPLICATE_KEY: i32 = 11000;

/// Who holds the lock, as its document says.
#[derive(Debug, Clone)]
pub struct Holder {
    pub host: String,
    pub pid: i64,
    pub acquired_at: Option<DateTime>,
    pub expires_at: Option<DateTime>,
}

impl Holder {
    fn from_document(document: &Document) -> Holder {
        let owner = document.get_document("owner").ok();
        Holder {
            host: owner
                .and_then(|o| o.get_str("host").ok())
                .unwrap_or("?")
                .to_string(),
            pid: owner
                .and_then(|o| o.get("pid"))
                .and_then(super::op::as_i64)
                .unwrap_or(0),
            acquired_at: document.get_datetime("acquired_at").ok().copied(),
            expires_at: document.get_datetime("expires_at").ok().copied(),
        }
    }

    /// `pid 4711 on build-3, lease ends in 12s`, relative to the server's `now`.
    pub fn describe(&self, now: DateTime) -> String {
        let lease = match self.expires_at {
            Some(expires) if expires > now => format!(
                "lease ends in {}",
                crate::output::human_ms(
                    (expires.timestamp_millis() - now.timestamp_millis()) as u64
                )
            ),
            Some(expires) => format!(
                "lease expired {} ago",
                crate::output::human_ms(
                    (now.timestamp_millis() - expires.timestamp_millis()) as u64
                )
            ),
            None => "no lease".to_string(),
        };
        format!("pid {} on {}, {lease}", self.pid, self.host)
    }
}

/// What happened while taking the lock, for the caller to report.
pub enum Acquired {
    Free,
    /// The lock of a runner that stopped renewing it was taken over.
    TookOver(Holder),
}

/// Proof that this runner holds the lock. Dropping it stops the heartbeat; [`release`] also
/// deletes the document.
pub struct Held {
    collection: Collection<Document>,
    id: String,
    token: ObjectId,
    lease: Duration,
    lost: Arc<AtomicBool>,
    renewed: Arc<std::sync::Mutex<Instant>>,
    heartbeat: tokio::task::JoinHandle<()>,
}

impl Held {
    /// Fails when the lease may have run out: the heartbeat could not renew it in time, or
    /// another runner took it over. Checked before every op and history write.
    pub fn check(&self) -> anyhow::Result<()> {
        let renewed = *self
            .renewed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if self.lost.load(Ordering::SeqCst) || renewed.elapsed() >= self.lease {
            return Err(Detailed::new(
                "lost the mongo migration lock: its lease ran out before it could be renewed",
            )
            .context("another runner may have taken over; this run stopped before its next op")
            .hint(
                "run `migrate up` again; raise [mongo] lock_lease if the server is slow to answer",
            )
            .into());
        }
        Ok(())
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.heartbeat.abort();
    }
}

/// Options of [`acquire`].
pub struct LockOptions {
    /// The collection name of the history this lock protects: the lock document's `_id`.
    pub id: String,
    pub lease: Duration,
    pub max_wait: Duration,
}

/// Polls until the lock is ours. `on_wait` gets the holder (and the server time) at the
/// first wait and then every 10 seconds.
pub async fn acquire(
    database: &Database,
    options: &LockOptions,
    mut on_wait: impl FnMut(&Holder, DateTime),
) -> anyhow::Result<(Held, Acquired)> {
    let collection: Collection<Document> = database.collection(LOCK_COLLECTION);
    let token = ObjectId::new();
    let started = Instant::now();
    let mut last_report: Option<Instant> = None;
    let mut delay = Duration::from_millis(20);
    let lease_ms = options.lease.as_millis() as i64;
    loop {
        let now = server_time(database).await?;
        let expires = DateTime::from_millis(now.timestamp_millis() + lease_ms);
        let fields = doc! {
            "owner": {
                "host": super::history::hostname(),
                "pid": i64::from(std::process::id()),
                "tool_version": crate::TOOL_VERSION,
            },
            "token": token,
            "acquired_at": now,
            "renewed_at": now,
            "expires_at": expires,
        };
        let mut document = doc! {"_id": &options.id};
        document.extend(fields.clone());
        match collection.insert_one(document).await {
            Ok(_) => return Ok((start(collection, options, token), Acquired::Free)),
            Err(err) if error_code(&err) == Some(DUPLICATE_KEY) => {}
            Err(err) => return Err(err.into()),
        }
        // Held: take it over if its lease ran out.
        let previous = collection.find_one(doc! {"_id": &options.id}).await?;
        let taken = collection
            .update_one(
                doc! {"_id": &options.id, "expires_at": {"$lt": now}},
                doc! {"$set": fields},
            )
            .await?;
        if taken.matched_count == 1 {
            let holder = previous.as_ref().map_or(
                Holder {
                    host: "?".into(),
                    pid: 0,
                    acquired_at: None,
                    expires_at: None,
                },
                Holder::from_document,
            );
            return Ok((
                start(collection, options, token),
                Acquired::TookOver(holder),
            ));
        }
        let waited = started.elapsed();
        if let Some(previous) = &previous
            && last_report.is_none_or(|t| t.elapsed() >= Duration::from_secs(10))
        {
            on_wait(&Holder::from_document(previous), now);
            last_report = Some(Instant::now());
        }
        if waited >= options.max_wait {
            let who = previous.as_ref().map_or_else(
                || "another runner".to_string(),
                |d| Holder::from_document(d).describe(now),
            );
            return Err(Detailed::new(format!(
                "gave up waiting for the mongo migration lock after {}s: held by {who}",
                waited.as_secs()
            ))
            .hint("raise [mongo] lock_wait, or wait for the other runner to finish")
            .into());
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_millis(500));
    }
}

/// Starts the heartbeat: every third of the lease, push `expires_at` one lease ahead, as long
/// as the document still carries our token.
fn start(collection: Collection<Document>, options: &LockOptions, token: ObjectId) -> Held {
    let lost = Arc::new(AtomicBool::new(false));
    let renewed = Arc::new(std::sync::Mutex::new(Instant::now()));
    let heartbeat = {
        let collection = collection.clone();
        let id = options.id.clone();
        let lease = options.lease;
        let lost = lost.clone();
        let renewed = renewed.clone();
        tokio::spawn(async move {
            let database = collection.client().database(&collection.namespace().db);
            loop {
                tokio::time::sleep(lease / 3).await;
                let asked = Instant::now();
                let Ok(now) = server_time(&database).await else {
                    continue;
                };
                let expires =
                    DateTime::from_millis(now.timestamp_millis() + lease.as_millis() as i64);
                match collection
                    .update_one(
                        doc! {"_id": &id, "token": token},
                        doc! {"$set": {"expires_at": expires, "renewed_at": now}},
                    )
                    .await
                {
                    Ok(result) if result.matched_count == 1 => {
                        *renewed
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner) = asked;
                    }
                    Ok(_) => {
                        lost.store(true, Ordering::SeqCst);
                        return;
                    }
                    // A transient error: try again at the next beat; `check` notices if the
                    // lease runs out meanwhile.
                    Err(_) => {}
                }
            }
        })
    };
    Held {
        collection,
        id: options.id.clone(),
        token,
        lease: options.lease,
        lost,
        renewed,
        heartbeat,
    }
}

/// Stops the heartbeat and deletes the lock document (only if it is still ours).
pub async fn release(held: Held) -> anyhow::Result<()> {
    held.heartbeat.abort();
    held.collection
        .delete_one(doc! {"_id": &held.id, "token": held.token})
        .await?;
    Ok(())
}
