//! MongoDB: migration files (Extended JSON op lists), connection, history, lock, planning and
//! execution: the same roles as `crate::postgres`, for a store whose DDL is not transactional.

pub mod apply;
pub mod connect;
pub mod drift;
pub mod engine;
pub mod history;
pub mod jsonschema;
pub mod lock;
pub mod migration;
pub mod op;
pub mod plan;
