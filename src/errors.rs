//! Errors as users read them: one line, then context lines, then hints.

/// An error that already knows how it should be shown.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Detailed {
    pub message: String,
    pub context: Vec<String>,
    pub hints: Vec<String>,
    /// The server's SQLSTATE when the error came from PostgreSQL, kept so that callers can
    /// still tell a lock timeout (55P03) from other failures once the error is a message.
    pub sqlstate: Option<String>,
}

impl Detailed {
    pub fn new(message: impl Into<String>) -> Self {
        Detailed {
            message: message.into(),
            context: Vec::new(),
            hints: Vec::new(),
            sqlstate: None,
        }
    }

    /// Records the server's SQLSTATE (see [`Detailed::sqlstate`]).
    pub fn with_sqlstate(mut self, code: Option<&str>) -> Self {
        self.sqlstate = code.map(str::to_string);
        self
    }

    pub fn context(mut self, line: impl Into<String>) -> Self {
        self.context.push(line.into());
        self
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hints.push(hint.into());
        self
    }
}

/// A flag value clap accepts but the command cannot use (`down --store redis`): a usage error
/// like clap's own, exit 64 (clap's own are turned into this by `crate::usage`).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Usage(pub Detailed);

/// Runs `work` while a lock is held, then `release`s the lock whatever `work` returned: every
/// command that takes a migration lock goes through here. The work's error wins over a
/// release error; a failed release fails an otherwise good run (behind a transaction pooler
/// the lock may have protected nothing, and the release is where that shows).
pub async fn under_lock<H, T>(
    held: H,
    work: impl AsyncFnOnce(&H) -> anyhow::Result<T>,
    release: impl AsyncFnOnce(H) -> anyhow::Result<()>,
) -> anyhow::Result<T> {
    let outcome = work(&held).await;
    let released = release(held).await;
    let value = outcome?;
    released?;
    Ok(value)
}

/// The exit code of a usage error (sysexits `EX_USAGE`), clap's and ours alike.
pub const EXIT_USAGE: i32 = 64;

/// The exit code of a command that failed: 64 for a usage error, else 1.
pub fn exit_code(error: &anyhow::Error) -> i32 {
    if error.is::<Usage>() { EXIT_USAGE } else { 1 }
}

pub struct Rendered {
    pub message: String,
    pub context: Vec<String>,
    pub hints: Vec<String>,
}

/// Flattens an error chain. Passwords are redacted from every line, whatever produced it.
pub fn render(error: &anyhow::Error) -> Rendered {
    let redact = |text: String| crate::redact::redact_url(&text);
    let detailed = error
        .downcast_ref::<Detailed>()
        .or_else(|| error.downcast_ref::<Usage>().map(|usage| &usage.0));
    if let Some(detailed) = detailed {
        return Rendered {
            message: redact(detailed.message.clone()),
            context: detailed.context.iter().cloned().map(redact).collect(),
            hints: detailed.hints.iter().cloned().map(redact).collect(),
        };
    }
    let mut chain = error.chain();
    let mut message = chain.next().map(|e| e.to_string()).unwrap_or_default();
    let mut context = Vec::new();
    let mut hints = Vec::new();
    for cause in chain {
        if let Some(detailed) = cause.downcast_ref::<Detailed>() {
            message = format!("{message}: {}", detailed.message);
            context.extend(detailed.context.iter().cloned());
            hints.extend(detailed.hints.iter().cloned());
            continue;
        }
        let text = cause.to_string();
        if !message.contains(&text) {
            context.push(format!("caused by: {text}"));
        }
    }
    Rendered {
        message: redact(message),
        context: context.into_iter().map(redact).collect(),
        hints: hints.into_iter().map(redact).collect(),
    }
}

/// The process outcome of a command that ran to completion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exit 0: success or clean.
    Clean,
    /// Exit 2: a check found problems (drift, validate, lint, verify, `status --exit-code`).
    Problems,
}

impl Outcome {
    /// `Clean` when a check found nothing, else `Problems`.
    pub fn clean_if(clean: bool) -> Outcome {
        if clean {
            Outcome::Clean
        } else {
            Outcome::Problems
        }
    }

    pub fn exit_code(self) -> i32 {
        match self {
            Outcome::Clean => 0,
            Outcome::Problems => 2,
        }
    }
}

#[cfg(test)]
mod lock_tests {
    use std::cell::Cell;

    use super::under_lock;

    fn run<T>(future: impl Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(future)
    }

    #[test]
    fn releases_after_success_and_failure_and_the_work_error_wins() {
        let released = Cell::new(0);
        let release = |fail: bool| {
            let released = &released;
            async move |held: u8| {
                assert_eq!(held, 7);
                released.set(released.get() + 1);
                if fail {
                    anyhow::bail!("release failed")
                } else {
                    Ok(())
                }
            }
        };
        let ok = run(under_lock(
            7u8,
            async |held: &u8| Ok(*held * 2),
            release(false),
        ));
        assert_eq!(ok.unwrap(), 14);
        let failed = run(under_lock(
            7u8,
            async |_: &u8| -> anyhow::Result<()> { anyhow::bail!("work failed") },
            release(true),
        ));
        assert_eq!(failed.unwrap_err().to_string(), "work failed");
        let release_failed = run(under_lock(7u8, async |_: &u8| Ok(()), release(true)));
        assert_eq!(release_failed.unwrap_err().to_string(), "release failed");
        assert_eq!(released.get(), 3);
    }
}
