//! Backups of every store, as a DBA wants them: one directory per backup (written as
//! `ID.partial`, renamed when complete), a manifest with the size and sha256 of every file and
//! the counts a restore must reproduce, verification by hashes and by test restores, restores
//! that refuse to overwrite data unasked, and retention that never loses the newest verified
//! backup.
//!
//! Each operation is planned first (a value the command prints, serializes or confirms), then
//! executed. Store-specific work lives in the sub-modules.
//!
//! Test hook: `MIGRATE_TEST_BACKUP_PAUSE_MS` makes `backup create` sleep that long after each
//! store is written, so a test can kill it mid-way. It is read here and nowhere else.

pub mod catalog;
pub mod manifest;
pub mod mongo;
pub mod physical;
pub mod postgres;
pub mod prune;
pub mod redis;
pub mod repository;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use serde::Serialize;

use self::manifest::{Manifest, Stores, Verification, VerificationKind};
use self::repository::{BackupId, Entry, PartialDir, Repository};
use crate::config::Settings;
use crate::errors::Detailed;
use crate::output::{Printer, count};
use crate::postgres::connect::PgTarget;
use crate::redact::SecretUrl;

mod create;
mod list;
mod pruning;
mod restore;
mod verify;

pub use create::*;
pub use list::*;
pub use pruning::*;
pub use restore::*;
pub use verify::*;

/// See the module documentation.
pub const PAUSE_ENV: &str = "MIGRATE_TEST_BACKUP_PAUSE_MS";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    Postgres,
    Mongo,
    Redis,
}

impl StoreKind {
    pub fn name(self) -> &'static str {
        match self {
            StoreKind::Postgres => "postgres",
            StoreKind::Mongo => "mongo",
            StoreKind::Redis => "redis",
        }
    }
}

fn millis(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}
