//! Errors as users read them: one line, then context lines, then hints.

pub mod db;

pub use db::{DbError, WAIT_HINT, Work, hints_for, sqlstate};

use crate::core::plan::{Direction, DirtyReason, Item, PlanError, Store};

/// An error that already knows how it should be shown.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Detailed {
    pub message: String,
    pub context: Vec<String>,
    pub hints: Vec<String>,
}

impl Detailed {
    pub fn new(message: impl Into<String>) -> Self {
        Detailed {
            message: message.into(),
            context: Vec::new(),
            hints: Vec::new(),
        }
    }

    pub fn context(mut self, line: impl Into<String>) -> Self {
        self.context.push(line.into());
        self
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hints.push(hint.into());
        self
    }

    /// "`what` (N problems); nothing was changed", one context line per problem: the error of
    /// a declaration checked as a whole before anything runs.
    pub fn problems(what: &str, problems: Vec<String>) -> Self {
        let count = problems.len();
        let plural = if count == 1 { "" } else { "s" };
        let mut error = Detailed::new(format!(
            "{what} ({count} problem{plural}); nothing was changed"
        ));
        error.context = problems;
        error
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
    let planned = error.downcast_ref::<PlanError>().map(plan_error);
    let detailed = error
        .downcast_ref::<Detailed>()
        .or_else(|| error.downcast_ref::<Usage>().map(|usage| &usage.0))
        .or(planned.as_ref());
    if let Some(detailed) = detailed {
        return Rendered {
            message: redact(detailed.message.clone()),
            context: detailed.context.iter().cloned().map(redact).collect(),
            hints: detailed.hints.iter().cloned().map(redact).collect(),
        };
    }
    // A database error is shown as its one line and its hints: the driver's error below it
    // is already in that line. (Only when it is the outermost error: context added above it
    // is kept by the walk below.)
    if let Some(db) = error
        .chain()
        .next()
        .and_then(|e| e.downcast_ref::<DbError>())
    {
        return Rendered {
            message: redact(db.to_string()),
            context: db.context.iter().cloned().map(redact).collect(),
            hints: db.hints().into_iter().map(redact).collect(),
        };
    }
    let mut chain = error.chain();
    let mut message = chain.next().map(|e| e.to_string()).unwrap_or_default();
    let mut context = Vec::new();
    let mut hints = Vec::new();
    for cause in chain {
        let planned = cause.downcast_ref::<PlanError>().map(plan_error);
        if let Some(detailed) = cause.downcast_ref::<Detailed>().or(planned.as_ref()) {
            message = format!("{message}: {}", detailed.message);
            context.extend(detailed.context.iter().cloned());
            hints.extend(detailed.hints.iter().cloned());
            continue;
        }
        if let Some(db) = cause.downcast_ref::<DbError>() {
            message = format!("{message}: {db}");
            context.extend(db.context.iter().cloned());
            hints.extend(db.hints());
            // The rest of the chain is the driver's error, already in the line.
            break;
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

impl From<PlanError> for Detailed {
    fn from(error: PlanError) -> Detailed {
        plan_error(&error)
    }
}

/// What users read when a plan cannot be made (the one place these texts are written).
pub fn plan_error(error: &PlanError) -> Detailed {
    let mongo = matches!(error.store(), Store::Mongo { .. });
    let store = if mongo { "mongo " } else { "" };
    let listed = |mut detailed: Detailed, items: &[Item]| {
        for item in items {
            detailed = detailed.context(match &item.file {
                Some(file) => format!("{} ({file})", item.label),
                None => item.label.clone(),
            });
        }
        detailed
    };
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    match error {
        PlanError::Dirty {
            store: Store::Mongo { history },
            rows,
            ..
        } => {
            // Mongo names the first dirty migration it cannot go past, with its own advice.
            let Some(row) = rows.first() else {
                return Detailed::new("a dirty mongo migration; nothing was changed");
            };
            let cause = row
                .cause
                .as_deref()
                .map_or_else(String::new, |e| format!(": {e}"));
            let stopped = format!("{}{cause}", row.position);
            let repair = format!(
                "undo or finish the migration's work by hand, then remove its record: db.{history}.deleteOne({{_id: {}}})",
                row.version.unwrap_or(0)
            );
            let label = &row.label;
            match &row.reason {
                DirtyReason::FileChanged {
                    recorded,
                    on_disk,
                    file,
                } => Detailed::new(format!(
                    "mongo migration {label} is dirty and its file changed since the run that stopped; nothing was changed"
                ))
                .context(stopped)
                .context(format!(
                    "checksum {recorded} in history, {on_disk} on disk ({file})"
                ))
                .hint("restore the file as it was to resume it, or:")
                .hint(repair),
                DirtyReason::HalfDone(Direction::Up) => Detailed::new(format!(
                    "mongo migration {label} is half-applied; nothing was changed"
                ))
                .context(stopped)
                .hint("run `migrate up --store mongo` to finish it first"),
                DirtyReason::HalfDone(Direction::Down) => Detailed::new(format!(
                    "mongo migration {label} is half-reverted; nothing was changed"
                ))
                .context(stopped)
                .hint("run `migrate down --store mongo` to finish reverting it first"),
                DirtyReason::FileGone => Detailed::new(format!(
                    "mongo migration {label} is dirty and its file is gone; nothing was changed"
                ))
                .context(stopped)
                .hint(repair),
                DirtyReason::Failed => Detailed::new(format!(
                    "mongo migration {label} is dirty; nothing was changed"
                ))
                .context(stopped)
                .hint(repair),
                DirtyReason::NotResumable(reason) => Detailed::new(format!(
                    "mongo migration {label} is dirty and cannot be resumed: {reason}; nothing was changed"
                ))
                .context(stopped)
                .hint(repair),
            }
        }
        PlanError::Dirty {
            store: Store::Postgres,
            command,
            rows,
        } => {
            let mut detailed = Detailed::new(format!(
                "the database has {} dirty migration{} from a failed run; nothing was changed",
                rows.len(),
                plural(rows.len())
            ));
            for row in rows {
                let cause = row
                    .cause
                    .as_deref()
                    .map_or_else(String::new, |e| format!(": {e}"));
                detailed = detailed.context(format!("{} {}{cause}", row.label, row.position));
                // `down` finishes no dirty migration: there is nothing more to say about why.
                let reason = match (&row.reason, command) {
                    (_, Direction::Down) | (DirtyReason::Failed, _) => None,
                    (DirtyReason::FileGone, _) => Some("its file is missing".to_string()),
                    (DirtyReason::HalfDone(Direction::Down), _) => {
                        Some("its down part failed; `up` does not resume a down part".to_string())
                    }
                    (DirtyReason::HalfDone(Direction::Up), _) => {
                        Some("its up part failed; `down` does not finish an up part".to_string())
                    }
                    (DirtyReason::FileChanged { .. }, _) => {
                        Some("its file changed since the run that failed".to_string())
                    }
                    (DirtyReason::NotResumable(reason), _) => Some(reason.clone()),
                };
                if let Some(reason) = reason {
                    detailed = detailed.context(format!("  not resumed: {reason}"));
                }
            }
            detailed.hint(
                "finish or undo the failed migration's work by hand, then run `migrate repair` (or `migrate repair --mark-applied` if you completed it)",
            )
        }
        PlanError::Modified { items, .. } => {
            let detailed = listed(
                Detailed::new(format!(
                    "applied {store}migrations were modified after they were applied; nothing was changed"
                )),
                items,
            );
            detailed.hint(if mongo {
                "undo the edits and write a new migration instead"
            } else {
                "undo the edits (write a new migration instead), or run `migrate repair` to accept the files as they are now"
            })
        }
        PlanError::OutOfOrder { newest, items, .. } => listed(
            Detailed::new(format!(
                "{} pending {store}migration{} older than V{newest}, which is already applied; nothing was changed",
                items.len(),
                if items.len() == 1 { " is" } else { "s are" }
            )),
            items,
        )
        .hint(
            "rename the file to a version above the newest applied one, or pass --allow-out-of-order",
        ),
        PlanError::BelowBaseline { baseline, .. } => Detailed::new(format!(
            "cannot revert below the baseline V{baseline}: migrations up to it were never run by migrate"
        ))
        .hint(format!("use --to {baseline} or higher")),
        PlanError::Irreversible { items, .. } => listed(
            Detailed::new(format!(
                "{} {store}migration{} in the plan cannot be reverted: no down {}; nothing was changed",
                items.len(),
                plural(items.len()),
                if mongo { "ops" } else { "part" }
            )),
            items,
        )
        .hint(if mongo {
            "add a `down` list with the ops that undo the `up` list"
        } else {
            "add a `-- migrate:down` section with the statements that undo the up part"
        }),
        PlanError::MissingFiles { items, .. } => listed(
            Detailed::new(format!(
                "applied {store}migrations to revert have no file; nothing was changed"
            )),
            items,
        )
        .hint("restore the files from version control"),
        PlanError::ModifiedToRevert { items, .. } => listed(
            Detailed::new(format!(
                "{}migrations to revert were modified after they were applied; nothing was changed",
                store
            )),
            items,
        )
        .hint(if mongo {
            "their down ops may not match what was applied: undo the edits"
        } else {
            "their down part may not match what was applied: undo the edits, or `migrate repair` to accept them"
        }),
    }
}

/// The process outcome of a command that ran to completion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exit 0: success or clean.
    Clean,
    /// Exit 2: a check found problems (drift, validate, lint, verify, `status --exit-code`).
    Problems,
    /// Exit 1: the command failed and its own report, printed already, says what failed (a
    /// fleet run in JSON whose document lists the failed targets: no second, error document).
    Failed,
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
            Outcome::Failed => 1,
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

#[cfg(test)]
mod plan_error_tests {
    use super::render;
    use crate::core::plan::{Direction, DirtyReason, DirtyRow, Item, PlanError, Store};

    fn item(label: &str, file: &str) -> Item {
        Item {
            label: label.into(),
            file: Some(file.into()),
        }
    }

    #[test]
    fn a_plan_error_renders_in_its_store_words_wrapped_or_not() {
        let out_of_order = |store| PlanError::OutOfOrder {
            store,
            newest: 3,
            items: vec![item("V2 b", "m/V2__b.sql")],
        };
        let pg = render(&anyhow::Error::new(out_of_order(Store::Postgres)));
        assert_eq!(
            pg.message,
            "1 pending migration is older than V3, which is already applied; nothing was changed"
        );
        assert_eq!(pg.context, ["V2 b (m/V2__b.sql)"]);
        assert_eq!(
            pg.hints,
            [
                "rename the file to a version above the newest applied one, or pass --allow-out-of-order"
            ]
        );
        let mongo = render(
            &anyhow::Error::new(out_of_order(Store::Mongo {
                history: "h".into(),
            }))
            .context("planning"),
        );
        // Like a `Detailed`, a plan error is found under a context and shown as itself.
        assert_eq!(
            mongo.message,
            "1 pending mongo migration is older than V3, which is already applied; nothing was changed"
        );
        let dirty = |store, command| PlanError::Dirty {
            store,
            command,
            rows: vec![DirtyRow {
                label: "V2 b".into(),
                version: Some(2),
                position: "failed at statement 2 of 3".into(),
                cause: Some("boom".into()),
                reason: DirtyReason::NotResumable("its progress was not recorded".into()),
            }],
        };
        let up = render(&anyhow::Error::new(dirty(Store::Postgres, Direction::Up)));
        assert_eq!(
            up.message,
            "the database has 1 dirty migration from a failed run; nothing was changed"
        );
        assert_eq!(
            up.context,
            [
                "V2 b failed at statement 2 of 3: boom",
                "  not resumed: its progress was not recorded"
            ]
        );
        // `down` finishes no dirty PostgreSQL migration: no reason line.
        let down = render(&anyhow::Error::new(dirty(Store::Postgres, Direction::Down)));
        assert_eq!(down.context, ["V2 b failed at statement 2 of 3: boom"]);
    }
}
