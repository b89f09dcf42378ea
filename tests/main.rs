//! The integration tests: one test binary (one link on a 2-core machine instead of one per
//! file), a module per area, all sharing the harness in `tests/support/`.
//!
//! Run one area with `cargo test --test it engine::` (a module path filter), one test by its
//! name, or everything with `scripts/test`.

mod support;

mod anonymize;
mod backup;
mod cli;
mod dev_loop;
mod diff;
mod drift;
mod drift_kinds;
mod drift_stores;
mod engine;
mod erasure_scale;
mod errors;
mod exit_codes;
mod fleet;
mod fresh_clone;
mod fuzz;
mod generate;
mod health;
mod help;
mod hostile;
mod json_shapes;
mod lint;
mod lint_sarif;
mod mongo;
mod observe;
mod operations;
mod pitr;
mod redis;
mod retention;
mod schema;
mod sql_script;
mod status;
mod tls;
mod url_database;
mod verbose;
