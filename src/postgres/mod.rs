//! PostgreSQL: connection, migration files, history, lock, planning and execution.

pub mod connect;
pub mod database;
pub mod ddl;
pub mod diff;
pub mod engine;
pub mod fill;
pub mod history;
pub mod lock;
pub mod migration;
pub mod observe;
pub mod plan;
pub mod quote;
pub mod refinery;
pub mod script;
pub mod seeds;
pub mod session;
pub mod shadow;
pub mod snapshot;
pub mod splitter;
pub mod tls;
pub mod tokens;
