//! Errors from PostgreSQL that keep the driver's error: callers match on the SQLSTATE through
//! the chain ([`sqlstate`]) instead of on a message, and the hints for a database error are
//! chosen in one place ([`hints_for`]).

use std::time::Duration;

use tokio_postgres::error::SqlState;

/// A statement that failed: what was being done, and the driver's error as the `source`.
///
/// Shown as `{doing}: {the server's message}` (with detail and hint), followed by the hints
/// [`hints_for`] gives; [`crate::errors::render`] does not repeat the source below it.
#[derive(Debug, thiserror::Error)]
#[error("{doing}: {}", describe(source))]
pub struct DbError {
    /// What was being done, as the start of the message: `cannot read gdpr_requests`,
    /// `VACUUM public.t failed`.
    pub doing: String,
    #[source]
    pub source: tokio_postgres::Error,
    /// The `lock_timeout` the statement ran under, when the caller set one: named in the hint
    /// of a lock timeout.
    pub lock_timeout: Option<Duration>,
    /// Lines shown below the message: where the failure left things.
    pub context: Vec<String>,
    /// Hints about the caller's own input that failed (a policy's SQL condition), shown after
    /// those of [`hints_for`].
    pub input_hints: Vec<String>,
}

impl DbError {
    pub fn new(doing: impl Into<String>, source: tokio_postgres::Error) -> Self {
        DbError {
            doing: doing.into(),
            source,
            lock_timeout: None,
            context: Vec::new(),
            input_hints: Vec::new(),
        }
    }

    /// Records the `lock_timeout` the statement ran under (see [`DbError::lock_timeout`]).
    pub fn with_lock_timeout(mut self, lock_timeout: Duration) -> Self {
        self.lock_timeout = Some(lock_timeout);
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

    /// The hints shown below the message.
    pub fn hints(&self) -> Vec<String> {
        let mut hints = hints_for(&self.source, self.lock_timeout);
        hints.extend(self.input_hints.iter().cloned());
        hints
    }
}

/// The hints for a database error: the one place that knows what to suggest for a SQLSTATE.
/// `lock_timeout` is the one the statement ran under, if known.
pub fn hints_for(err: &tokio_postgres::Error, lock_timeout: Option<Duration>) -> Vec<String> {
    let mut hints = Vec::new();
    if err.code() == Some(&SqlState::LOCK_NOT_AVAILABLE) {
        hints.push(match lock_timeout {
            Some(limit) => format!(
                "another session held a lock longer than lock_timeout ({} ms); retry later or raise [postgres] lock_timeout",
                limit.as_millis()
            ),
            None => {
                "another session holds a lock; retry later or raise [postgres] lock_timeout"
                    .to_string()
            }
        });
    }
    hints
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
