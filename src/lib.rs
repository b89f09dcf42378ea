//! `migrate` as a library: the command-line binary and the integration-test harness share it.

pub mod cli;
pub mod commands;
pub mod config;
pub mod core;
pub mod errors;
pub mod jobs;
pub mod lint;
pub mod mongo;
pub mod output;
pub mod postgres;
pub mod redact;
pub mod redis;
pub mod sandbox;
pub mod usage;

/// This tool's version, recorded in every history row.
pub const TOOL_VERSION: &str = env!("CARGO_PKG_VERSION");
