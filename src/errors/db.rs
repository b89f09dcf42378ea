//! Errors from PostgreSQL that keep the driver's error: callers match on the SQLSTATE through
//! the chain ([`sqlstate`]) instead of on a message, and the hints for a database error are
//! chosen in one place ([`hints_for`]).

use std::time::Duration;

use tokio_postgres::error::SqlState;

/// What was being done when a database error happened, as far as the hints care: they name
/// what to change, and that depends on where the statement came from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Work {
    /// A statement of migrate's own (the default): its timeouts are the `[postgres]` settings.
    #[default]
    Statement,
    /// Connecting (TCP, TLS, authentication, the database's name).
    Connect,
    /// A statement of a migration file: its `-- migrate:` directives set its timeouts and say
    /// whether it runs in a transaction.
    Migration,
    /// `CREATE DATABASE` as `role`.
    CreateDatabase { role: String },
    /// `DROP DATABASE` (without `--force`, the sessions connected to it block it).
    DropDatabase,
}

/// A statement that failed: what was being done, and the driver's error as the `source`.
///
/// Shown as `{doing}: {the server's message}` (with detail and hint), followed by the hints
/// [`hints_for`] gives; [`crate::errors::render`] does not repeat the source below it. With
/// [`DbError::server_text_below`], the message carries the server's message alone: its hint is
/// the first hint, and its detail is left to the caller's context lines (a migration's error
/// shows it below the statement).
#[derive(Debug, thiserror::Error)]
pub struct DbError {
    /// What was being done, as the start of the message: `cannot read gdpr_requests`,
    /// `VACUUM public.t failed`.
    pub doing: String,
    #[source]
    pub source: tokio_postgres::Error,
    /// The kind of work that failed, for the hints (see [`Work`]).
    pub work: Work,
    /// The `lock_timeout` the statement ran under, when the caller set one: named in the hint
    /// of a lock timeout.
    pub lock_timeout: Option<Duration>,
    /// Lines shown below the message: where the failure left things.
    pub context: Vec<String>,
    /// Hints about the caller's own input that failed (a policy's SQL condition), shown after
    /// those of [`hints_for`].
    pub input_hints: Vec<String>,
    /// The server's detail and hint are not part of the message (see [`DbError`]).
    pub server_text_below: bool,
}

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.source.as_db_error() {
            Some(db) if self.server_text_below => write!(f, "{}: {}", self.doing, db.message()),
            _ => write!(f, "{}: {}", self.doing, describe(&self.source)),
        }
    }
}

impl DbError {
    pub fn new(doing: impl Into<String>, source: tokio_postgres::Error) -> Self {
        DbError {
            doing: doing.into(),
            source,
            work: Work::Statement,
            lock_timeout: None,
            context: Vec::new(),
            input_hints: Vec::new(),
            server_text_below: false,
        }
    }

    /// A failed connection attempt to `target` (shown without its password).
    pub fn connect(target: impl std::fmt::Display, source: tokio_postgres::Error) -> Self {
        DbError::new(
            format!("could not connect to PostgreSQL at {target}"),
            source,
        )
        .during(Work::Connect)
    }

    /// Records the kind of work that failed (see [`Work`]).
    pub fn during(mut self, work: Work) -> Self {
        self.work = work;
        self
    }

    /// Records the `lock_timeout` the statement ran under (see [`DbError::lock_timeout`]).
    pub fn with_lock_timeout(mut self, lock_timeout: Duration) -> Self {
        self.lock_timeout = Some(lock_timeout);
        self
    }

    /// The message carries the server's message alone (see [`DbError`]).
    pub fn server_text_below(mut self) -> Self {
        self.server_text_below = true;
        self
    }

    /// A line shown below the message (see [`DbError::context`]).
    pub fn context(mut self, line: impl Into<String>) -> Self {
        self.context.push(line.into());
        self
    }

    /// A hint about the caller's input that the statement carried (see
    /// [`DbError::input_hints`]); hints about the error itself come from [`hints_for`].
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.input_hints.push(hint.into());
        self
    }

    /// The server's SQLSTATE, if the server answered.
    pub fn code(&self) -> Option<&SqlState> {
        self.source.code()
    }

    /// The hints shown below the message: the server's own when it is not in the message,
    /// those of [`hints_for`], then those about the caller's input.
    pub fn hints(&self) -> Vec<String> {
        let mut hints = Vec::new();
        if self.server_text_below
            && let Some(hint) = self.source.as_db_error().and_then(|db| db.hint())
        {
            hints.push(hint.to_string());
        }
        hints.extend(hints_for(&self.source, &self.work, self.lock_timeout));
        hints.extend(self.input_hints.iter().cloned());
        hints
    }
}

/// What to do about a server that is not (yet) there.
pub const WAIT_HINT: &str = "is the server running and reachable? to wait for one that is starting, pass --wait-timeout 30s";

/// The hints for a database error: the one place that knows what to suggest for a SQLSTATE.
/// `work` is what was being done; `lock_timeout` the one the statement ran under, if known.
pub fn hints_for(
    err: &tokio_postgres::Error,
    work: &Work,
    lock_timeout: Option<Duration>,
) -> Vec<String> {
    let migration = *work == Work::Migration;
    let Some(code) = err.code() else {
        // No answer from the server: refused, unreachable, or closed during the handshake.
        return if *work == Work::Connect && (has_io_error(err) || err.is_closed()) {
            vec![WAIT_HINT.to_string()]
        } else {
            Vec::new()
        };
    };
    let hint = |text: &str| vec![text.to_string()];
    match code {
        c if *c == SqlState::INVALID_PASSWORD => hint(
            "check the password in the database URL (--database-url, DATABASE_URL or [postgres] url); the server's log says which pg_hba.conf line asked for it",
        ),
        c if *c == SqlState::INVALID_AUTHORIZATION_SPECIFICATION => hint(
            "the server refused this role, host or database: check that the role exists and that pg_hba.conf has a line for this connection (one that names SSL may need sslmode=require in the URL)",
        ),
        c if *c == SqlState::INVALID_CATALOG_NAME && *work == Work::Connect => hint(
            "create it with `migrate database create` (same options as this command), or `migrate reset` to also migrate and seed it",
        ),
        c if *c == SqlState::INSUFFICIENT_PRIVILEGE => match work {
            Work::CreateDatabase { role } => vec![format!(
                "the role {role} needs CREATEDB (ALTER ROLE {role} CREATEDB), or ask an administrator to create it"
            )],
            _ => hint(
                "the role in the URL lacks a privilege: GRANT it (the owner or a superuser can), or connect as a role that has it",
            ),
        },
        c if *c == SqlState::TOO_MANY_CONNECTIONS => hint(
            "the server has no free connection slot: close idle sessions (see pg_stat_activity), run fewer jobs at once, or connect through a pooler; to wait for a slot, pass --wait-timeout 30s",
        ),
        c if *c == SqlState::QUERY_CANCELED => hint(if migration {
            "the statement ran longer than statement_timeout, or another session canceled it: raise `-- migrate:statement-timeout` for this file (or [postgres] statement_timeout), or find who canceled it"
        } else {
            "the statement ran longer than statement_timeout, or another session canceled it: raise [postgres] statement_timeout, or find who canceled it"
        }),
        c if *c == SqlState::LOCK_NOT_AVAILABLE => {
            let held = match lock_timeout {
                Some(limit) => format!(
                    "another session held a lock longer than lock_timeout ({} ms)",
                    limit.as_millis()
                ),
                None => "another session holds a lock".to_string(),
            };
            if migration {
                vec![format!(
                    "{held}; retry later, or raise `-- migrate:lock-timeout` for this file"
                )]
            } else {
                vec![format!(
                    "{held}; retry later or raise [postgres] lock_timeout"
                )]
            }
        }
        c if *c == SqlState::T_R_DEADLOCK_DETECTED => hint(
            "a deadlock with another session (its detail names the other process): the server canceled this statement; run it again once that work is done",
        ),
        c if *c == SqlState::READ_ONLY_SQL_TRANSACTION => hint(
            "the server only reads: the URL points at a standby (replica) or default_transaction_read_only is on; use the primary's URL",
        ),
        // The next two name what a migration file can do; migrate's own statements, seeds and
        // jobs cannot act on them.
        c if *c == SqlState::ACTIVE_SQL_TRANSACTION && migration => hint(NO_TRANSACTION_HINT),
        // Feature-not-supported is wider than transactions: only the transaction-block case.
        c if *c == SqlState::FEATURE_NOT_SUPPORTED
            && migration
            && err
                .as_db_error()
                .is_some_and(|db| db.message().contains("transaction block")) =>
        {
            hint(NO_TRANSACTION_HINT)
        }
        c if (*c == SqlState::DUPLICATE_TABLE || *c == SqlState::DUPLICATE_OBJECT) && migration => {
            hint(
                "it already exists: if this schema was made before migrate managed it, record its migrations with `migrate baseline V`; otherwise write the migration with IF NOT EXISTS",
            )
        }
        c if *c == SqlState::OBJECT_IN_USE && *work == Work::DropDatabase => {
            hint("close the sessions that use it, or pass --force to end them (PostgreSQL 13+)")
        }
        c if *c == SqlState::ADMIN_SHUTDOWN || *c == SqlState::CRASH_SHUTDOWN => hint(
            "the server ended the session: it is shutting down or restarting, or an administrator ended it (pg_terminate_backend); run again once it is back (pass --wait-timeout 30s to wait for it)",
        ),
        c if *c == SqlState::CANNOT_CONNECT_NOW => hint(
            "the server is starting up or recovering: pass --wait-timeout 30s to wait until it accepts connections",
        ),
        _ => Vec::new(),
    }
}

const NO_TRANSACTION_HINT: &str = "this statement cannot run in a transaction: add `-- migrate:no-transaction` at the top of the migration file to run it statement by statement";

/// Whether the driver's error came from the network (refused, reset, unreachable).
fn has_io_error(err: &tokio_postgres::Error) -> bool {
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        if cause.downcast_ref::<std::io::Error>().is_some() {
            return true;
        }
        source = cause.source();
    }
    false
}

/// The server's SQLSTATE of the first PostgreSQL error in the chain, under any number of
/// context layers: a [`DbError`] or the driver's error itself.
pub fn sqlstate(error: &anyhow::Error) -> Option<SqlState> {
    error.chain().find_map(|cause| {
        if let Some(db) = cause.downcast_ref::<DbError>() {
            return db.code().cloned();
        }
        cause
            .downcast_ref::<tokio_postgres::Error>()
            .and_then(|e| e.code().cloned())
    })
}

/// The server's message (with detail and hint) or the driver's, as one readable line.
pub fn describe(err: &tokio_postgres::Error) -> String {
    if let Some(db) = err.as_db_error() {
        let mut text = db.message().to_string();
        if let Some(detail) = db.detail() {
            text.push_str(&format!(" (detail: {detail})"));
        }
        if let Some(hint) = db.hint() {
            text.push_str(&format!(" (hint: {hint})"));
        }
        return text;
    }
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
