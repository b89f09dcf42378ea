//! The `migrate_history` collection: one document per migration (`_id` = version) with its
//! checksum, state and per-op progress, because Mongo DDL is not transactional and a
//! stopped run must resume where it stopped.

use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use mongodb::bson::{Bson, Document, doc};
use mongodb::{Collection, Database};
use serde::Serialize;

use super::migration::MongoMigration;
use crate::core::Checksum;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordState {
    Applied,
    /// A run stopped (failed or was killed) in the middle of this migration.
    Dirty,
}

/// Which list of ops a dirty migration was running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Up,
    Down,
}

/// What one history document says.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryRecord {
    pub version: u64,
    pub name: String,
    pub checksum: Checksum,
    pub state: RecordState,
    pub direction: Direction,
    /// Ops of `direction` that completed (the next one to run is at this index).
    pub ops_done: u32,
    pub ops_total: u32,
    pub applied_at: DateTime<Utc>,
    pub execution_ms: u64,
    pub applied_by: String,
    pub tool_version: String,
    pub error: Option<String>,
}

impl HistoryRecord {
    pub fn label(&self) -> String {
        format!("V{} {}", self.version, self.name)
    }
}

/// The history collection of one database.
#[derive(Debug, Clone)]
pub struct History {
    collection: Collection<Document>,
}

impl History {
    pub fn new(database: &Database, name: &str) -> History {
        History {
            collection: database.collection(name),
        }
    }

    pub fn name(&self) -> &str {
        self.collection.name()
    }

    /// Every record, in version order. A missing collection reads as empty.
    pub async fn read(&self) -> anyhow::Result<Vec<HistoryRecord>> {
        let mut cursor = self.collection.find(doc! {}).sort(doc! {"_id": 1}).await?;
        let mut records = Vec::new();
        while let Some(document) = cursor.try_next().await? {
            records.push(parse_record(&document).map_err(|message| {
                anyhow::anyhow!(
                    "unreadable document in {}: {message} (_id {:?})",
                    self.name(),
                    document.get("_id")
                )
            })?);
        }
        Ok(records)
    }

    /// Marks a migration as running (`dirty`) before its first op, keeping the progress of a
    /// run being resumed.
    pub async fn start(
        &self,
        migration: &MongoMigration,
        direction: Direction,
        ops_total: usize,
        ops_done: usize,
    ) -> anyhow::Result<()> {
        let now = mongodb::bson::DateTime::now();
        self.collection
            .update_one(
                doc! {"_id": version_bson(migration.version)},
                doc! {"$set": {
                    "version": version_bson(migration.version),
                    "name": &migration.name,
                    "checksum": migration.checksum.as_str(),
                    "state": "dirty",
                    "direction": direction_str(direction),
                    "ops_done": ops_done as i64,
                    "ops_total": ops_total as i64,
                    "started_at": now,
                    "applied_by": applied_by(),
                    "tool_version": crate::TOOL_VERSION,
                    "error": Bson::Null,
                }, "$setOnInsert": {"applied_at": now, "execution_ms": 0_i64}},
            )
            .upsert(true)
            .await?;
        Ok(())
    }

    /// Records that the ops before `ops_done` completed.
    pub async fn progress(&self, version: u64, ops_done: usize) -> anyhow::Result<()> {
        self.collection
            .update_one(
                doc! {"_id": version_bson(version)},
                doc! {"$set": {"ops_done": ops_done as i64}},
            )
            .await?;
        Ok(())
    }

    /// Keeps the failing op's error next to the progress, for `status` and the next run.
    pub async fn fail(&self, version: u64, error: &str) -> anyhow::Result<()> {
        self.collection
            .update_one(
                doc! {"_id": version_bson(version)},
                doc! {"$set": {"error": error}},
            )
            .await?;
        Ok(())
    }

    /// An applied migration: state `applied`, every op done.
    pub async fn finish_up(
        &self,
        version: u64,
        ops_total: usize,
        execution_ms: u64,
    ) -> anyhow::Result<()> {
        self.collection
            .update_one(
                doc! {"_id": version_bson(version)},
                doc! {"$set": {
                    "state": "applied",
                    "direction": "up",
                    "ops_done": ops_total as i64,
                    "applied_at": mongodb::bson::DateTime::now(),
                    "execution_ms": execution_ms as i64,
                    "error": Bson::Null,
                }},
            )
            .await?;
        Ok(())
    }

    /// A reverted migration has no record.
    pub async fn finish_down(&self, version: u64) -> anyhow::Result<()> {
        self.collection
            .delete_one(doc! {"_id": version_bson(version)})
            .await?;
        Ok(())
    }
}

fn version_bson(version: u64) -> Bson {
    // Versions were checked to fit in an i64 when the file name was parsed.
    Bson::Int64(version as i64)
}

fn direction_str(direction: Direction) -> &'static str {
    match direction {
        Direction::Up => "up",
        Direction::Down => "down",
    }
}

/// `host pid N`: who ran a migration.
pub fn applied_by() -> String {
    format!("{} pid {}", hostname(), std::process::id())
}

pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown-host".to_string())
}

fn parse_record(document: &Document) -> Result<HistoryRecord, String> {
    let int = |key: &str| -> Result<i64, String> {
        document
            .get(key)
            .and_then(super::op::as_i64)
            .ok_or_else(|| format!("`{key}` is missing or not a number"))
    };
    let text = |key: &str| -> Result<String, String> {
        document
            .get_str(key)
            .map(str::to_string)
            .map_err(|_| format!("`{key}` is missing or not a string"))
    };
    let version = int("_id")?;
    let state = match document.get_str("state") {
        Ok("applied") => RecordState::Applied,
        Ok("dirty") => RecordState::Dirty,
        _ => return Err("`state` must be \"applied\" or \"dirty\"".to_string()),
    };
    let direction = match document.get_str("direction") {
        Ok("down") => Direction::Down,
        _ => Direction::Up,
    };
    let applied_at = document
        .get_datetime("applied_at")
        .ok()
        .and_then(|t| DateTime::<Utc>::from_timestamp_millis(t.timestamp_millis()))
        .unwrap_or_default();
    Ok(HistoryRecord {
        version: u64::try_from(version).map_err(|_| "negative version".to_string())?,
        name: text("name")?,
        checksum: Checksum::from_hex(text("checksum")?),
        state,
        direction,
        ops_done: u32::try_from(int("ops_done").unwrap_or(0)).unwrap_or(0),
        ops_total: u32::try_from(int("ops_total").unwrap_or(0)).unwrap_or(0),
        applied_at,
        execution_ms: u64::try_from(int("execution_ms").unwrap_or(0)).unwrap_or(0),
        applied_by: text("applied_by").unwrap_or_default(),
        tool_version: text("tool_version").unwrap_or_default(),
        error: document.get_str("error").ok().map(str::to_string),
    })
}
