//! Connecting to PostgreSQL: URL or key=value strings, libpq-style `sslmode`, timeouts, and
//! error messages that name the server but never its password.

use std::time::Duration;

use anyhow::bail;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, NoTls};

pub use crate::config::pg_target::{PgTarget, SslMode};
use crate::errors::{DbError, Detailed, WAIT_HINT};

impl PgTarget {
    /// Connects and spawns the connection task on the current runtime.
    pub async fn connect(&self, application_name: &str) -> anyhow::Result<Client> {
        match self.try_connect(application_name).await? {
            Ok(client) => Ok(client),
            Err(failure) => Err(self.connect_error(failure)),
        }
    }

    /// Whether the server answers: `Ok(Err(reason))` while it refuses connections, cannot be
    /// reached or is starting up (worth waiting for, see `--wait-timeout`); `Ok(Ok(()))` once
    /// it answers, even with an error such as a wrong password or a missing database (the
    /// command itself reports those). One attempt, of at most `attempt_timeout`.
    pub async fn probe(&self, attempt_timeout: Duration) -> anyhow::Result<Result<(), String>> {
        let mut target = self.clone();
        target.config.connect_timeout(attempt_timeout);
        Ok(match target.try_connect("migrate wait").await? {
            Ok(_) => Ok(()),
            Err(ConnectFailure::TimedOut(_)) => Err("no answer".to_string()),
            Err(ConnectFailure::Driver(err)) if is_unavailable(&err) => Err(describe_error(&err)),
            Err(ConnectFailure::Driver(_)) => Ok(()),
        })
    }

    /// One connection attempt. The outer error is a setup problem (an unreadable root
    /// certificate); the inner one what the server or the network said.
    pub(super) async fn try_connect(
        &self,
        application_name: &str,
    ) -> anyhow::Result<Result<Client, ConnectFailure>> {
        let mut config = self.config.clone();
        config.application_name(application_name);
        let timeout = config
            .get_connect_timeout()
            .copied()
            .unwrap_or(Duration::from_secs(10));
        let tls = match self.ssl_mode {
            SslMode::Disable => None,
            mode => {
                let setup = super::tls::TlsSetup {
                    mode,
                    root_cert: self.root_cert.clone(),
                };
                // Fail early on an unreadable root certificate instead of mid-handshake.
                if let Some(path) = &self.root_cert
                    && !path.is_file()
                {
                    bail!("sslrootcert {} does not exist", path.display());
                }
                Some(super::tls::LazyTls::new(setup))
            }
        };
        // The driver's timeout covers each TCP connect; this one also covers TLS and auth.
        let attempt = async {
            match tls {
                None => {
                    let (client, connection) = config.connect(NoTls).await?;
                    tokio::spawn(async move {
                        let _ = connection.await;
                    });
                    Ok::<_, tokio_postgres::Error>(client)
                }
                Some(tls) => {
                    let (client, connection) = config.connect(tls).await?;
                    tokio::spawn(async move {
                        let _ = connection.await;
                    });
                    Ok(client)
                }
            }
        };
        Ok(
            match tokio::time::timeout(timeout + Duration::from_secs(1), attempt).await {
                Err(_) => Err(ConnectFailure::TimedOut(timeout)),
                Ok(Err(err)) => Err(ConnectFailure::Driver(err)),
                Ok(Ok(client)) => Ok(client),
            },
        )
    }

    /// The error a failed connection is reported with: the driver's error kept in a
    /// [`DbError`], whose hints say what to do about it.
    pub(super) fn connect_error(&self, failure: ConnectFailure) -> anyhow::Error {
        match failure {
            ConnectFailure::TimedOut(timeout) => Detailed::new(format!(
                "could not connect to PostgreSQL at {self}: timed out after {}s",
                timeout.as_secs()
            ))
            .hint(WAIT_HINT)
            .into(),
            ConnectFailure::Driver(err) => DbError::connect(self, err).into(),
        }
    }
}

/// Why a connection attempt failed.
pub(super) enum ConnectFailure {
    TimedOut(Duration),
    Driver(tokio_postgres::Error),
}

/// Errors that say the server is not (yet) there: refused, unreachable, starting up or shutting
/// down, out of connection slots. Authentication and missing databases are answers.
fn is_unavailable(err: &tokio_postgres::Error) -> bool {
    if let Some(code) = err.code() {
        return [
            SqlState::CANNOT_CONNECT_NOW,
            SqlState::TOO_MANY_CONNECTIONS,
            SqlState::ADMIN_SHUTDOWN,
            SqlState::CRASH_SHUTDOWN,
        ]
        .contains(code);
    }
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        if cause.downcast_ref::<std::io::Error>().is_some() {
            return true;
        }
        source = cause.source();
    }
    // The server closed the connection during the handshake (it is shutting down or
    // restarting).
    err.is_closed()
}

/// The server's message (with detail and hint) or the driver's, as one readable line: the
/// reason `probe` gives while waiting. Errors keep the driver's error in a [`DbError`] instead
/// (`ddl/`, `shadow.rs` and `snapshot/` still build text with this; not yet converted).
pub use crate::errors::db::describe as describe_error;
