//! `migrate check`: the CI gate. Validates the files against the history, lints the new
//! migrations (not at `--base REF`, after `--since V`, else pending on the target), proves each
//! new migration reversible on a shadow database (snapshot, up, down, the snapshot must be
//! equal again, up again) while observing its first up (`jobs::check`: locks, rewrites, scans,
//! findings over the lock budget) and, since the database given is the live one, compares it
//! with the expected schema. One report; exit 0 clean, 2 problems.

use serde::Serialize;

use super::Context;
use super::drift::{PostgresDrift, render_differences};
use super::lint::{LintReport, lint_report, render_findings};
use crate::cli::CheckArgs;
use crate::config::PgSettings;
use crate::errors::{Outcome, under_lock};
use crate::jobs::check::base::{self, Base};
use crate::jobs::check::reversibility::{
    CheckStatus, MigrationCheck, ReversibilitySection, apply_base, test_pending,
};
use crate::jobs::check::{self as observation, ObservationSection, Observer};
use crate::jobs::validate::{Problem, history_problems};
use crate::lint::SourceFile;
use crate::lint::pending::pending;
use crate::output::{Report, count};
use crate::postgres::diff::IgnoreSet;
use crate::postgres::history::HistoryRow;
use crate::postgres::migration::{self, Migration, MigrationSet};
use crate::postgres::plan;
use crate::postgres::session::Session;
use crate::postgres::shadow::{self, AppliedState, ExpectedInfo, ShadowDb};
use crate::postgres::snapshot::SnapshotOptions;

/// Version of the check report's JSON shape.
pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Serialize)]
pub struct CheckReport {
    pub format_version: u32,
    pub clean: bool,
    /// The live database, when one is configured.
    pub database: Option<String>,
    pub validate: ValidateSection,
    pub lint: LintReport,
    pub reversibility: ReversibilitySection,
    /// What the new migrations did on the shadow database: locks, rewrites, scans.
    pub observation: ObservationSection,
    /// Absent when no database is configured or the expected schema could not be built.
    pub drift: Option<PostgresDrift>,
    /// Steps that could not run, and why.
    pub notes: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct ValidateSection {
    pub ok: bool,
    pub checked_files: usize,
    pub problems: Vec<Problem>,
}

impl Report for CheckReport {
    /// `--format sarif`: the lint findings (code scanning annotates lines; the other checks
    /// have none).
    fn sarif(&self) -> Option<serde_json::Value> {
        Some(crate::lint::sarif::document(&self.lint.findings))
    }

    fn human(&self) -> String {
        let mut out = String::new();
        let problems = self.validate.problems.len()
            + self.lint.findings.len()
            + self
                .reversibility
                .migrations
                .iter()
                .filter(|m| m.status.is_problem())
                .count()
            + self.drift.as_ref().map_or(0, |d| d.differences.len())
            + self.observation.findings.len();
        out.push_str(&format!(
            "check: {}{}\n",
            if self.clean {
                "ok".to_string()
            } else {
                count(problems, "problem")
            },
            self.database
                .as_deref()
                .map_or_else(String::new, |d| format!(" ({d})"))
        ));
        let validate = if self.validate.ok {
            format!("ok ({})", count(self.validate.checked_files, "file"))
        } else {
            count(self.validate.problems.len(), "problem")
        };
        let lint = if self.lint.clean {
            format!("ok ({})", count(self.lint.files.len(), "new file"))
        } else if self.observation.overruled.is_empty() {
            count(self.lint.findings.len(), "finding")
        } else {
            format!(
                "{} ({} overruled by the observation)",
                count(self.lint.findings.len(), "finding"),
                self.observation.overruled.len()
            )
        };
        let observed = match &self.observation.skipped {
            Some(reason) => format!("skipped: {reason}"),
            None if self.observation.findings.is_empty() => format!(
                "ok ({})",
                count(self.observation.migrations.len(), "new migration")
            ),
            None => format!(
                "{} over the budget",
                count(self.observation.findings.len(), "lock")
            ),
        };
        let tested = &self.reversibility.migrations;
        let reversibility = match &self.reversibility.skipped {
            Some(reason) => format!("skipped: {reason}"),
            None if tested.is_empty() => "ok (no pending migration)".to_string(),
            None => {
                let failed = tested.iter().filter(|m| m.status.is_problem()).count();
                if failed == 0 {
                    format!("ok ({})", count(tested.len(), "pending migration"))
                } else {
                    format!(
                        "{failed} of {} failed",
                        count(tested.len(), "pending migration")
                    )
                }
            }
        };
        let drift = match &self.drift {
            None => "skipped".to_string(),
            Some(d) if d.clean => "ok".to_string(),
            Some(d) => count(d.differences.len(), "difference"),
        };
        for (step, result) in [
            ("validate", validate),
            ("lint", lint),
            ("reversibility", reversibility),
            ("observation", observed),
            ("drift", drift),
        ] {
            out.push_str(&format!("  {step:<14} {result}\n"));
        }
        if !self.validate.ok {
            out.push_str("\nvalidate:\n");
            for problem in &self.validate.problems {
                out.push_str(&format!("  {problem}\n"));
            }
        }
        if !self.lint.clean {
            out.push_str("\nlint:\n");
            out.push_str(&render_findings(&self.lint.findings, "  "));
        }
        let failed: Vec<&MigrationCheck> =
            tested.iter().filter(|m| m.status.is_problem()).collect();
        if !failed.is_empty() {
            out.push_str("\nreversibility:\n");
            for check in failed {
                out.push_str(&format!(
                    "  {} ({}): {}\n",
                    check.migration,
                    check.file,
                    check.status.as_str()
                ));
                if let Some(error) = &check.error {
                    for line in error.lines() {
                        out.push_str(&format!("    {line}\n"));
                    }
                }
                if check.status == CheckStatus::NotReversible {
                    out.push_str(
                        "    after up and down, compared with before up (missing: not restored by down; unexpected: left behind by down):\n",
                    );
                }
                out.push_str(&render_differences(&check.differences, "    "));
            }
        }
        out.push_str(&observation::render(&self.observation));
        if let Some(drift) = self.drift.as_ref().filter(|d| !d.clean) {
            out.push('\n');
            out.push_str(&drift.human());
        }
        for note in &self.notes {
            out.push_str(&format!("note: {note}\n"));
        }
        out
    }
}

pub async fn run(context: &Context, args: &CheckArgs) -> anyhow::Result<Outcome> {
    super::compare_until_interrupted(context, check(context, args), |r| r.clean).await
}

async fn check(context: &Context, args: &CheckArgs) -> anyhow::Result<CheckReport> {
    let settings = &context.settings;
    let printer = &context.printer;
    let set = migration::load_dir(&settings.migrations_dir)?;
    let mut notes = Vec::new();

    // Validate: files, and files against the history.
    let mut problems: Vec<Problem> = set.problems.iter().map(Problem::from).collect();
    let live_history = match &settings.postgres {
        Some(pg) => {
            let history = Session::open(pg).await?.read_history().await?;
            problems.extend(history_problems("postgres", plan::status(&set, &history)));
            Some(history)
        }
        None => {
            notes.push(
                "no PostgreSQL URL: the history, reversibility and drift were not checked"
                    .to_string(),
            );
            None
        }
    };
    let validate = ValidateSection {
        ok: problems.is_empty(),
        checked_files: set.versioned.len() + set.repeatable.len() + set.problems.len(),
        problems,
    };

    // Which pending files are new: only those are linted and observed.
    let history = live_history.clone().unwrap_or_default();
    let pending_migrations = pending(&set, &history);
    let base = match (&args.base, args.since) {
        (Some(reference), _) => base::at_git_ref(&settings.migrations_dir, reference)?,
        (None, Some(version)) => Base::Since(version),
        (None, None) => Base::Database,
    };
    let (applied_first, new_migrations, scope) = base::split(&base, &set, &pending_migrations);
    let files = new_migrations
        .iter()
        .map(|m| SourceFile::from_migration(m))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let lint = lint_report(context, &files);
    for warning in &lint.warnings {
        printer.warn(warning);
    }

    // Reversibility and drift, on a shadow database.
    let mut reversibility = ReversibilitySection::default();
    let mut drift = None;
    let budget = args.lock_budget.unwrap_or(settings.check.lock_budget);
    let mut observed = ObservationSection {
        lock_budget_ms: budget.as_millis() as u64,
        scope: Some(scope),
        ..ObservationSection::default()
    };
    match (&settings.postgres, &live_history) {
        (Some(pg), Some(history)) if set.problems.is_empty() => {
            let ignore = IgnoreSet::new(&super::drift::ignore_patterns(settings, &args.ignore));
            let work = ShadowWork {
                applied_first: &applied_first,
                new: &new_migrations,
                with_data: args.with_data.unwrap_or(settings.check.with_data),
                observe: !args.no_observe,
            };
            let outcome = on_shadow(context, pg, args, &set, history, &work, &ignore).await?;
            reversibility.migrations = outcome.checks;
            drift = Some(outcome.drift);
            observed.migrations = outcome.observed;
            observed.with_data = outcome.filled;
            if args.no_observe {
                observed.skipped = Some("--no-observe".to_string());
            }
        }
        (Some(_), _) => {
            reversibility.skipped = Some("invalid migration files".to_string());
            observed.skipped = Some("invalid migration files".to_string());
            notes.push("drift was not checked: invalid migration files".to_string());
        }
        (None, _) => {
            reversibility.skipped = Some("no PostgreSQL URL".to_string());
            observed.skipped = Some("no PostgreSQL URL".to_string());
        }
    }
    let (findings, overruled) = observation::judge(&observed.migrations, &lint.findings, budget);
    observed.findings = findings;
    observed.overruled = overruled;
    // The observation wins over the lint's guess: an overruled finding is no problem.
    let lint_ok = lint.invalid_files.is_empty()
        && lint.findings.iter().all(|finding| {
            observed
                .overruled
                .iter()
                .any(|o| o.rule == finding.rule && o.file == finding.file && o.line == finding.line)
        });
    reversibility.ok = reversibility
        .migrations
        .iter()
        .all(|m| !m.status.is_problem());

    let clean = validate.ok
        && lint_ok
        && reversibility.ok
        && observed.findings.is_empty()
        && drift.as_ref().is_none_or(|d: &PostgresDrift| d.clean);
    Ok(CheckReport {
        format_version: FORMAT_VERSION,
        clean,
        database: settings.postgres.as_ref().map(|pg| pg.target.to_string()),
        validate,
        lint,
        reversibility,
        observation: observed,
        drift,
        notes,
    })
}

/// What `check` does on the shadow database after building the live database's schema.
struct ShadowWork<'a> {
    /// Pending on the target but not new: applied first, not tested.
    applied_first: &'a [&'a Migration],
    /// The new migrations: tested and observed.
    new: &'a [&'a Migration],
    /// Rows to generate in each table the new migrations touch (0: none).
    with_data: u64,
    /// Observe the new migrations (else they are applied by the engine, as `up` does).
    observe: bool,
}

/// What `check` found on the shadow database.
struct ShadowOutcome {
    checks: Vec<MigrationCheck>,
    drift: PostgresDrift,
    observed: Vec<observation::ObservedMigration>,
    filled: Option<crate::postgres::fill::FillReport>,
}

/// Builds the live database's expected schema on a shadow database (for drift), then tests
/// every pending migration there.
async fn on_shadow(
    context: &Context,
    pg: &PgSettings,
    args: &CheckArgs,
    set: &MigrationSet,
    live_history: &[HistoryRow],
    work: &ShadowWork<'_>,
    ignore: &IgnoreSet,
) -> anyhow::Result<ShadowOutcome> {
    let printer = &context.printer;
    let options = SnapshotOptions::for_history_table(&pg.history_table);
    let live = Session::open(pg).await?;
    let actual = live
        .snapshot(&options)
        .await
        .map_err(|err| err.context(format!("cannot snapshot the schema of {}", pg.target)))?;
    drop(live);

    let (shadow_db, shadow_settings, source) = match &args.shadow_url {
        Some(url) => {
            let mut settings = pg.clone();
            settings.target = super::drift::parse_url(url, pg)?;
            (None, settings, "url")
        }
        None => {
            let created = ShadowDb::create(pg).await?;
            let settings = created.settings.clone();
            (Some(created), settings, "shadow")
        }
    };
    let state = AppliedState::from_history(live_history);
    let quiet = shadow::quiet_printer(printer);
    let tested = async {
        let session = Session::open(&shadow_settings).await?;
        if shadow_db.is_none() {
            shadow::check_user_shadow(pg, &session).await?;
        }
        let applied = shadow::migrate_to(&session, set, &state, &quiet)
            .await
            .map_err(|err| {
                shadow::prefixed(
                    err,
                    "cannot build the live database's schema on a shadow database",
                )
            })?;
        let expected = session.snapshot(&options).await?;
        let held = session.lock(&quiet).await?;
        let checks = under_lock(
            held,
            async |held| {
                let mut base = expected.clone();
                if !work.applied_first.is_empty() {
                    apply_base(&session, held, set, work.applied_first, &quiet)
                        .await
                        .map_err(|err| {
                            shadow::prefixed(
                                err,
                                "cannot apply the migrations before the new ones on the shadow database",
                            )
                        })?;
                }
                let filled = match work.with_data {
                    0 => None,
                    rows => Some(observation::fill_for(&session, work.new, rows).await?),
                };
                // The schema the new migrations start from: loading data can add objects
                // (`seed generate` creates the current month's partitions).
                if !work.applied_first.is_empty() || filled.is_some() {
                    base = session.snapshot(&options).await?;
                }
                let mut observer = if work.observe {
                    Some(Observer::start(&session).await?)
                } else {
                    None
                };
                let checks = test_pending(
                    &session,
                    held,
                    set,
                    work.new,
                    &base,
                    &options,
                    &quiet,
                    observer.as_mut(),
                )
                .await?;
                let observed = observer.map(|o| o.observed).unwrap_or_default();
                anyhow::Ok((checks, observed, filled))
            },
            |held| session.unlock(held),
        )
        .await?;
        anyhow::Ok((expected, applied, checks))
    }
    .await;
    if let Some(created) = shadow_db {
        let dropped = created.drop_now().await;
        if let Err(err) = dropped {
            printer.warn(format!("{err:#}"));
        }
    }
    let (expected, applied, (checks, observed, filled)) = tested?;
    let info = ExpectedInfo {
        source,
        from: shadow_settings.target.to_string(),
        version: state.newest(),
        migrations_applied: applied,
    };
    let drift = PostgresDrift::new(
        pg.target.to_string(),
        info,
        &expected,
        &actual,
        ignore,
        Vec::new(),
    );
    Ok(ShadowOutcome {
        checks,
        drift,
        observed,
        filled,
    })
}
