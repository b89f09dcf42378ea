//! The reversibility part of `migrate check`: each new migration applied (observed or by the
//! engine), reverted and applied again on the shadow database, the schema compared after each
//! step.

use serde::Serialize;

use super::Observer;
use crate::output::Printer;
use crate::postgres::diff::{self, Difference, IgnoreSet};
use crate::postgres::engine;
use crate::postgres::lock::Held;
use crate::postgres::migration::{Migration, MigrationSet};
use crate::postgres::plan::{self, DownTarget, UpOptions};
use crate::postgres::session::Session;
use crate::postgres::snapshot::{Snapshot, SnapshotOptions};

#[derive(Debug, Default, Serialize)]
pub struct ReversibilitySection {
    pub ok: bool,
    /// Why the test did not run, if it did not.
    pub skipped: Option<String>,
    pub migrations: Vec<MigrationCheck>,
}

/// The reversibility test of one pending migration.
#[derive(Debug, Serialize)]
pub struct MigrationCheck {
    pub migration: String,
    pub file: String,
    pub status: CheckStatus,
    /// The error, when a step failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// For `not-reversible`: the schema after up and down, compared with the schema before
    /// up (`missing` = not restored by down, `unexpected` = left behind by down). For
    /// `reapply-differs`: the second up compared with the first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub differences: Vec<Difference>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckStatus {
    /// up, down and up again worked, and down restored the schema exactly.
    Reversible,
    /// No down part: applied once, not reverted (not a problem by itself).
    Irreversible,
    /// A repeatable migration: applied, not reverted.
    Applied,
    /// The up part failed.
    UpFailed,
    /// The down part failed.
    DownFailed,
    /// Down ran, but the schema differs from the one before up.
    NotReversible,
    /// Up failed when applied again after down.
    ReapplyFailed,
    /// Up again produced another schema than the first time.
    ReapplyDiffers,
    /// Not tested because an earlier migration failed.
    NotRun,
}

impl CheckStatus {
    pub fn is_problem(self) -> bool {
        !matches!(
            self,
            CheckStatus::Reversible | CheckStatus::Irreversible | CheckStatus::Applied
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CheckStatus::Reversible => "reversible",
            CheckStatus::Irreversible => "irreversible (no down part)",
            CheckStatus::Applied => "applied",
            CheckStatus::UpFailed => "up failed",
            CheckStatus::DownFailed => "down failed",
            CheckStatus::NotReversible => "not reversible",
            CheckStatus::ReapplyFailed => "up failed after down",
            CheckStatus::ReapplyDiffers => "up after down differs",
            CheckStatus::NotRun => "not run",
        }
    }
}

/// Applies the pending migrations that are not new, in the order `up` runs them.
pub async fn apply_base(
    session: &Session,
    held: &Held,
    set: &MigrationSet,
    migrations: &[&Migration],
    printer: &Printer,
) -> anyhow::Result<()> {
    for migration in migrations {
        apply(session, held, set, migration, printer).await?;
    }
    Ok(())
}

/// Up (observed), down, up again for each new migration, comparing snapshots. Stops testing
/// after a failure that leaves the shadow database in an unknown state.
#[allow(clippy::too_many_arguments)]
pub async fn test_pending(
    session: &Session,
    held: &Held,
    set: &MigrationSet,
    pending_migrations: &[&Migration],
    base: &Snapshot,
    options: &SnapshotOptions,
    printer: &Printer,
    mut observer: Option<&mut Observer>,
) -> anyhow::Result<Vec<MigrationCheck>> {
    let mut checks = Vec::new();
    let mut before = base.clone();
    let mut stopped = false;
    let nothing_ignored = IgnoreSet::default();
    for migration in pending_migrations {
        let mut check = MigrationCheck {
            migration: migration.label(),
            file: migration.path.display().to_string(),
            status: CheckStatus::NotRun,
            error: None,
            differences: Vec::new(),
        };
        if stopped {
            checks.push(check);
            continue;
        }
        let applied = match observer.as_deref_mut() {
            Some(observer) => observer.apply(session, migration).await,
            None => apply(session, held, set, migration, printer).await,
        };
        if let Err(error) = applied {
            check.status = CheckStatus::UpFailed;
            check.error = Some(render_error(&error));
            checks.push(check);
            stopped = true;
            continue;
        }
        let after_up = session.snapshot(options).await?;
        if migration.version.is_none() || !migration.is_reversible() {
            check.status = if migration.version.is_none() {
                CheckStatus::Applied
            } else {
                CheckStatus::Irreversible
            };
            before = after_up;
            checks.push(check);
            continue;
        }
        if let Err(error) = revert(session, held, set, printer).await {
            check.status = CheckStatus::DownFailed;
            check.error = Some(render_error(&error));
            checks.push(check);
            stopped = true;
            continue;
        }
        let after_down = session.snapshot(options).await?;
        let restored = diff::compare(&before, &after_down, &nothing_ignored);
        if !restored.differences.is_empty() {
            check.status = CheckStatus::NotReversible;
            check.differences = restored.differences;
        }
        if let Err(error) = apply(session, held, set, migration, printer).await {
            if check.status == CheckStatus::NotRun {
                check.status = CheckStatus::ReapplyFailed;
            }
            check.error = Some(format!(
                "applying it again after down failed: {}",
                render_error(&error)
            ));
            checks.push(check);
            stopped = true;
            continue;
        }
        let after_reapply = session.snapshot(options).await?;
        if check.status == CheckStatus::NotRun {
            let again = diff::compare(&after_up, &after_reapply, &nothing_ignored);
            if again.differences.is_empty() {
                check.status = CheckStatus::Reversible;
            } else {
                check.status = CheckStatus::ReapplyDiffers;
                check.differences = again.differences;
            }
        }
        before = after_reapply;
        checks.push(check);
    }
    Ok(checks)
}

/// Applies one migration (and only that one) to the shadow database.
pub async fn apply(
    session: &Session,
    held: &Held,
    set: &MigrationSet,
    migration: &Migration,
    printer: &Printer,
) -> anyhow::Result<()> {
    let history = session.read_history().await?;
    let options = UpOptions {
        target: migration.version,
        allow_out_of_order: true,
    };
    let steps: Vec<_> = plan::plan_up(set, &history, options)?
        .into_iter()
        .filter(|step| step.version == migration.version && step.name == migration.name)
        .collect();
    engine::execute(session, held, set, &steps, printer).await?;
    Ok(())
}

/// Reverts the newest applied migration of the shadow database.
async fn revert(
    session: &Session,
    held: &Held,
    set: &MigrationSet,
    printer: &Printer,
) -> anyhow::Result<()> {
    let history = session.read_history().await?;
    let steps = plan::plan_down(set, &history, DownTarget::Steps(1))?;
    engine::execute(session, held, set, &steps, printer).await?;
    Ok(())
}

/// An error as its message and context lines.
fn render_error(error: &anyhow::Error) -> String {
    let rendered = crate::errors::render(error);
    let mut text = rendered.message;
    for line in rendered.context {
        text.push('\n');
        text.push_str(&line);
    }
    text
}
