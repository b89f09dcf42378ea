//! DBA jobs that span the stores: backups (with verification, restore and retention) and
//! database maintenance. Store-specific SQL and driver calls live in these modules (or in
//! `crate::postgres`), never in `commands/`.

pub mod anonymize;
pub mod backup;
pub mod export;
pub mod fleet;
pub mod health;
pub mod maintain;
pub mod retention;
