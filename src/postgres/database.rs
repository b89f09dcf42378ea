//! The database a URL names, as a whole: whether it exists, creating it, dropping it. These
//! statements run through a maintenance database of the same server (`postgres`, else
//! `template1`), since a database cannot be created or dropped from inside itself.

use serde::Serialize;
use tokio_postgres::Client;
use tokio_postgres::error::SqlState;

use super::connect::{ConnectFailure, PgTarget};
use crate::errors::{DbError, Work};

/// The maintenance databases tried, in order.
const MAINTENANCE: [&str; 2] = ["postgres", "template1"];

/// What the server says about the database a target names.
#[derive(Debug, Clone, Serialize)]
pub struct DatabaseState {
    /// `user@host:port/name`.
    pub database: String,
    pub name: String,
    pub exists: bool,
    /// Sessions connected to it right now (other than ours).
    pub sessions: i64,
}

/// A connection to a maintenance database of the target's server.
pub struct Admin {
    client: Client,
    target: PgTarget,
}

impl Admin {
    /// Connects to `postgres` (else `template1`) on the target's server, with its user, password
    /// and TLS settings. The target's own database is never used for this.
    pub async fn connect(target: &PgTarget) -> anyhow::Result<Admin> {
        let application_name = format!("migrate {} database", crate::TOOL_VERSION);
        let candidates: Vec<&str> = MAINTENANCE
            .into_iter()
            .filter(|name| *name != target.database())
            .collect();
        let mut last = None;
        for name in candidates {
            let maintenance = target.with_database(name);
            match maintenance.try_connect(&application_name).await? {
                Ok(client) => {
                    return Ok(Admin {
                        client,
                        target: target.clone(),
                    });
                }
                // This server has no such maintenance database: try the next one.
                Err(ConnectFailure::Driver(err))
                    if err.code() == Some(&SqlState::INVALID_CATALOG_NAME) =>
                {
                    last = Some((maintenance, ConnectFailure::Driver(err)));
                }
                Err(failure) => return Err(maintenance.connect_error(failure)),
            }
        }
        Err(match last {
            Some((maintenance, failure)) => maintenance.connect_error(failure),
            None => anyhow::anyhow!(
                "no maintenance database to connect to on {target} (tried postgres and template1)"
            ),
        })
    }

    /// Whether the database exists, and how many other sessions use it.
    pub async fn state(&self) -> anyhow::Result<DatabaseState> {
        let name = self.target.database().to_string();
        let row = self
            .client
            .query_one(
                "SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1), \
                        (SELECT count(*) FROM pg_stat_activity \
                          WHERE datname = $1 AND pid <> pg_backend_pid())",
                &[&name],
            )
            .await
            .map_err(|err| {
                DbError::new(
                    format!("cannot look up database {name} on {}", self.target),
                    err,
                )
            })?;
        Ok(DatabaseState {
            database: self.target.to_string(),
            name,
            exists: row.get(0),
            sessions: row.get(1),
        })
    }

    /// `CREATE DATABASE`, owned by the connecting user. Returns false when it already existed.
    pub async fn create(&self) -> anyhow::Result<bool> {
        let name = self.target.database();
        let result = self
            .client
            .batch_execute(&format!("CREATE DATABASE {}", quote_ident(name)))
            .await;
        match result {
            Ok(()) => Ok(true),
            Err(err) if err.code() == Some(&SqlState::DUPLICATE_DATABASE) => Ok(false),
            Err(err) => Err(DbError::new(
                format!("cannot create database {name} on {}", self.target),
                err,
            )
            .during(Work::CreateDatabase {
                role: self.target.user().to_string(),
            })
            .into()),
        }
    }

    /// `DROP DATABASE IF EXISTS`; with `force`, the sessions connected to it are ended first
    /// (`WITH (FORCE)`, PostgreSQL 13+). Returns false when it did not exist.
    pub async fn drop(&self, force: bool) -> anyhow::Result<bool> {
        let name = self.target.database();
        let existed = self.state().await?.exists;
        let statement = format!(
            "DROP DATABASE IF EXISTS {}{}",
            quote_ident(name),
            if force { " WITH (FORCE)" } else { "" }
        );
        match self.client.batch_execute(&statement).await {
            Ok(()) => Ok(existed),
            Err(err) => Err(DbError::new(
                format!("cannot drop database {name} on {}", self.target),
                err,
            )
            .during(Work::DropDatabase)
            .into()),
        }
    }
}

use super::quote::ident as quote_ident;
