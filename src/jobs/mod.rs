//! DBA jobs that span the stores: backups (with verification, restore and pruning),
//! maintenance, GDPR anonymization and export, retention, health checks and the targets of a
//! fleet run. Store-specific SQL and driver calls live in these modules (or in
//! `crate::postgres`, `crate::mongo`, `crate::redis`), never in `commands/`.

pub mod anonymize;
pub mod backup;
pub mod check;
pub mod export;
pub mod fleet;
pub mod generate;
pub mod health;
pub mod maintain;
pub mod retention;
pub mod validate;
