//! A command on a fleet of PostgreSQL databases (`--targets FILE` or `[targets]`): each target
//! runs exactly as a single run would (its own connection, lock and history), at most `-j` at
//! once, with one progress line per finished target and one summary.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use futures_util::StreamExt;
use serde::Serialize;

use super::Context;
use crate::cli::{Command, FleetArgs, Store};
use crate::errors::Outcome;
use crate::jobs::fleet::{self, Target};
use crate::output::{Report, count, human_ms, table};

/// The default of `-j`.
pub const DEFAULT_JOBS: u32 = 4;

/// The migrations of a fleet run, read and checked once for all its targets (the files do not
/// change during a run; reading them per target would cost more CPU than the run itself).
static MIGRATIONS: std::sync::Mutex<
    Option<(std::path::PathBuf, crate::postgres::migration::MigrationSet)>,
> = std::sync::Mutex::new(None);

/// The fleet's migrations when `dir` is the directory they were read from.
pub(crate) fn cached_migrations(
    dir: &std::path::Path,
) -> Option<crate::postgres::migration::MigrationSet> {
    let guard = MIGRATIONS.lock().unwrap_or_else(|p| p.into_inner());
    guard
        .as_ref()
        .filter(|(cached, _)| cached == dir)
        .map(|(_, set)| set.clone())
}

/// The fleet arguments of `command`, when it is one that runs on a fleet.
pub fn args_of(command: &Command) -> Option<&FleetArgs> {
    match command {
        Command::Up(args) if !args.sql => Some(&args.fleet),
        Command::Status(args) => Some(&args.fleet),
        Command::Validate(args) => Some(&args.fleet),
        Command::Check(args) => Some(&args.fleet),
        Command::Drift(args) => Some(&args.fleet),
        Command::Seed(args) if args.action.is_none() => Some(&args.fleet),
        _ => None,
    }
}

/// Whether this run is a fleet run; `-j`/`--fail-fast` without targets are usage errors.
pub fn requested(context: &Context, args: &FleetArgs) -> anyhow::Result<bool> {
    let fleet = args.targets.is_some() || context.settings.targets.source.is_some();
    if !fleet && (args.jobs.is_some() || args.fail_fast) {
        return Err(crate::errors::Usage(crate::errors::Detailed::new(
            "-j/--jobs and --fail-fast work with targets: pass --targets FILE or set [targets] in the config",
        ))
        .into());
    }
    Ok(fleet)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
enum TargetOutcome {
    /// Could not do its work (connection, a failed migration, …).
    Failed,
    /// A check found problems (or, for `status --exit-code`, something is not current).
    Problems,
    /// Not started: `--fail-fast` after an earlier failure.
    NotStarted,
    Ok,
}

#[derive(Debug, Serialize)]
struct TargetResult {
    target: String,
    outcome: TargetOutcome,
    /// Newest applied version before and after (up, status).
    version_before: Option<u64>,
    version_after: Option<u64>,
    /// Migrations applied (up) or pending (status).
    #[serde(skip_serializing_if = "Option::is_none")]
    applied: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pending: Option<usize>,
    ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

#[derive(Debug, Serialize)]
struct FleetReport {
    command: &'static str,
    jobs: u32,
    totals: Totals,
    /// Failed targets first, then those with problems, then the rest, each by name.
    targets: Vec<TargetResult>,
    ms: u64,
}

#[derive(Debug, Default, Serialize)]
struct Totals {
    targets: usize,
    ok: usize,
    problems: usize,
    failed: usize,
    not_started: usize,
    applied: usize,
}

fn version(v: Option<u64>) -> String {
    v.map_or_else(|| "-".to_string(), |v| format!("V{v}"))
}

impl Report for FleetReport {
    fn human(&self) -> String {
        let mut t = table::new(&["target", "version", "migrations", "time", "outcome"]);
        for result in &self.targets {
            let versions = match (result.version_before, result.version_after) {
                (None, None) => String::new(),
                (before, after) if before == after => version(after),
                (before, after) => format!("{} → {}", version(before), version(after)),
            };
            let migrations = match (result.applied, result.pending) {
                (Some(n), _) => format!("{n} applied"),
                (None, Some(0)) => "current".to_string(),
                (None, Some(n)) => format!("{n} pending"),
                (None, None) => String::new(),
            };
            let outcome = match result.outcome {
                TargetOutcome::Ok => "ok".to_string(),
                TargetOutcome::Problems => "problems".to_string(),
                TargetOutcome::NotStarted => "not started".to_string(),
                TargetOutcome::Failed => format!(
                    "FAILED: {}",
                    result.error.as_deref().unwrap_or("unknown error")
                ),
            };
            t.add_row(vec![
                result.target.clone(),
                versions,
                migrations,
                human_ms(result.ms),
                outcome,
            ]);
        }
        let totals = &self.totals;
        let mut parts = vec![format!("{} ok", totals.ok)];
        if totals.problems > 0 {
            parts.push(format!("{} with problems", totals.problems));
        }
        if totals.failed > 0 {
            parts.push(format!("{} failed", totals.failed));
        }
        if totals.not_started > 0 {
            parts.push(format!("{} not started", totals.not_started));
        }
        if self.command == "up" {
            parts.push(format!("{} applied", count(totals.applied, "migration")));
        }
        format!(
            "{t}\n{} {}: {} in {} (-j {})\n",
            self.command,
            count(totals.targets, "target"),
            parts.join(", "),
            human_ms(self.ms),
            self.jobs
        )
    }
}

fn name_of(command: &Command) -> &'static str {
    match command {
        Command::Up(_) => "up",
        Command::Status(_) => "status",
        Command::Validate(_) => "validate",
        Command::Check(_) => "check",
        Command::Drift(_) => "drift",
        Command::Seed(_) => "seed",
        _ => "?",
    }
}

pub async fn run(
    context: &Context,
    command: &Command,
    args: &FleetArgs,
    env_arg: Option<&str>,
) -> anyhow::Result<Outcome> {
    let settings = &context.settings;
    let printer = &context.printer;
    let source = match &args.targets {
        Some(path) => crate::config::targets::TargetSource::File(path.clone()),
        None => settings
            .targets
            .source
            .clone()
            .expect("requested() checked that there are targets"),
    };
    let targets = fleet::load(&source, settings).await?;
    // Every target's URL is checked before any target runs: bad input changes nothing.
    let mut prepared = Vec::with_capacity(targets.len());
    for target in targets {
        let pg = settings.pg_for(&target.url).map_err(|err| {
            crate::errors::Detailed::new(format!("target `{}`: {err:#}", target.name))
        })?;
        prepared.push((target, pg));
    }
    if settings.mongo.is_some() || settings.redis.is_some() {
        printer
            .note("targets are PostgreSQL databases: Mongo and Redis are left out of a fleet run");
    }
    // Read and checked once, before any target runs: a bad file fails the whole run.
    if settings.migrations_dir.is_dir() {
        let set = super::load_valid_migrations(&settings.migrations_dir)?;
        *MIGRATIONS.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((settings.migrations_dir.clone(), set));
    }
    let jobs = args.jobs.or(settings.targets.jobs).unwrap_or(DEFAULT_JOBS);
    let total = prepared.len();
    let name = name_of(command);
    printer.step(format!(
        "{name}: {} (-j {jobs}{})",
        count(total, "target"),
        if args.fail_fast { ", --fail-fast" } else { "" }
    ));
    let bar = printer.progress(total as u64, name);
    let stop = AtomicBool::new(false);
    let started = Instant::now();
    let done = std::sync::atomic::AtomicUsize::new(0);
    let mut results: Vec<TargetResult> = futures_util::stream::iter(prepared)
        .map(|(target, pg)| {
            let stop = &stop;
            let bar = &bar;
            let done = &done;
            async move {
                if stop.load(Ordering::SeqCst) {
                    return not_started(&target);
                }
                let result = run_one(context, command, &target, pg, env_arg).await;
                if result.outcome == TargetOutcome::Failed && args.fail_fast {
                    stop.store(true, Ordering::SeqCst);
                }
                let n = done.fetch_add(1, Ordering::SeqCst) + 1;
                let line = format!(
                    "[{n}/{total}] {}: {}{} ({})",
                    target.name,
                    match result.outcome {
                        TargetOutcome::Ok => "ok",
                        TargetOutcome::Problems => "problems",
                        TargetOutcome::Failed => "FAILED",
                        TargetOutcome::NotStarted => "not started",
                    },
                    result
                        .applied
                        .filter(|n| *n > 0)
                        .map(|n| format!(", {}", count(n, "migration")))
                        .unwrap_or_default(),
                    human_ms(result.ms)
                );
                if bar.is_hidden() {
                    printer.step(line);
                } else {
                    bar.println(line);
                }
                bar.inc(1);
                result
            }
        })
        .buffer_unordered(jobs as usize)
        .collect()
        .await;
    bar.finish_and_clear();
    results.sort_by(|a, b| a.outcome.cmp(&b.outcome).then(a.target.cmp(&b.target)));
    let mut totals = Totals {
        targets: total,
        ..Totals::default()
    };
    for result in &results {
        match result.outcome {
            TargetOutcome::Ok => totals.ok += 1,
            TargetOutcome::Problems => totals.problems += 1,
            TargetOutcome::Failed => totals.failed += 1,
            TargetOutcome::NotStarted => totals.not_started += 1,
        }
        totals.applied += result.applied.unwrap_or(0);
    }
    let report = FleetReport {
        command: name,
        jobs,
        ms: started.elapsed().as_millis() as u64,
        totals,
        targets: results,
    };
    let failed = report.totals.failed;
    let problems = report.totals.problems;
    context.printer.report(&report);
    if failed > 0 {
        let message = format!(
            "{name}: {} of {total} failed (listed first above)",
            count(failed, "target")
        );
        if context.printer.is_json() {
            // The fleet document above is the one document on stdout and lists the failures.
            context.printer.error_line(&message);
            return Ok(Outcome::Failed);
        }
        return Err(crate::errors::Detailed::new(message).into());
    }
    Ok(if problems > 0 {
        Outcome::Problems
    } else {
        Outcome::Clean
    })
}

fn not_started(target: &Target) -> TargetResult {
    TargetResult {
        target: target.name.clone(),
        outcome: TargetOutcome::NotStarted,
        version_before: None,
        version_after: None,
        applied: None,
        pending: None,
        ms: 0,
        error: None,
    }
}

/// Runs the command on one target, silently, with that target as the only store.
async fn run_one(
    context: &Context,
    command: &Command,
    target: &Target,
    pg: crate::config::PgSettings,
    env_arg: Option<&str>,
) -> TargetResult {
    let mut settings = context.settings.clone();
    settings.postgres = Some(pg);
    settings.mongo = None;
    settings.redis = None;
    settings.targets = Default::default();
    let one = Context {
        settings,
        printer: context.printer.silent(),
    };
    let started = Instant::now();
    let mut result = not_started(target);
    let outcome: anyhow::Result<Outcome> = match command {
        Command::Up(args) => {
            let run = super::up::UpRun {
                stores: vec![Store::Pg],
                target: args.target,
                dry_run: args.dry_run,
                allow_out_of_order: args.allow_out_of_order,
            };
            match super::up::apply(&one, &run).await {
                Ok(report) => {
                    for store in &report.stores {
                        if let super::up::StoreUp::Postgres(pg) = store {
                            result.version_before = pg.version_before;
                            result.version_after = pg.version;
                            result.applied = Some(pg.applied.len());
                            if args.dry_run {
                                result.applied = None;
                                result.pending = Some(pg.plan.len());
                            }
                        }
                    }
                    Ok(Outcome::Clean)
                }
                Err(err) => {
                    // Files before the failing one are applied (each in its own transaction):
                    // the summary says how far the target got.
                    if let Some(pg) = &one.settings.postgres
                        && let Ok(session) = crate::postgres::session::Session::open(pg).await
                        && let Ok(history) = session.read_history().await
                        && let Ok(now) = session.server_now().await
                    {
                        result.version_after = crate::postgres::plan::current_version(&history);
                        // Those recorded since this target started (server time; the target's
                        // elapsed time bounds the run from above).
                        let since = now
                            - chrono::Duration::from_std(started.elapsed()).unwrap_or_default()
                            - chrono::Duration::milliseconds(100);
                        result.applied = Some(
                            history
                                .iter()
                                .filter(|row| {
                                    row.applied_at >= since
                                        && row.state == crate::postgres::history::RowState::Applied
                                })
                                .count(),
                        );
                    }
                    Err(err)
                }
            }
        }
        Command::Status(args) => status_one(&one, args.exit_code, &mut result).await,
        Command::Validate(_) => super::validate::run(&one).await,
        Command::Check(args) => super::check::run(&one, args).await,
        Command::Drift(args) => super::drift::run(&one, args).await,
        Command::Seed(args) => super::seed::run(&one, args, env_arg).await,
        _ => Err(anyhow::anyhow!("this command does not run on targets")),
    };
    result.ms = started.elapsed().as_millis() as u64;
    match outcome {
        Ok(Outcome::Clean) => result.outcome = TargetOutcome::Ok,
        Ok(Outcome::Problems) => result.outcome = TargetOutcome::Problems,
        // No per-target command returns it (only a fleet run does); its report is not printed.
        Ok(Outcome::Failed) => {
            result.outcome = TargetOutcome::Failed;
            result.error = Some("failed".to_string());
        }
        Err(err) => {
            let rendered = crate::errors::render(&err);
            let mut text = rendered.message;
            if let Some(first) = rendered.context.first() {
                text.push_str(&format!(" ({})", first.trim()));
            }
            result.outcome = TargetOutcome::Failed;
            result.error = Some(text);
        }
    }
    result
}

/// `status` of one target: its version and how many migrations are pending; with
/// `--exit-code`, anything not current is a problem.
async fn status_one(
    context: &Context,
    exit_code: bool,
    result: &mut TargetResult,
) -> anyhow::Result<Outcome> {
    use crate::postgres::plan;
    let settings = &context.settings;
    let pg = settings.require_postgres()?;
    let set = super::load_valid_migrations(&settings.migrations_dir)?;
    let session = crate::postgres::session::Session::open(pg).await?;
    let history = session.read_history().await?;
    let entries = plan::status(&set, &history);
    let version = plan::current_version(&history);
    result.version_before = version;
    result.version_after = version;
    result.pending = Some(entries.iter().filter(|e| !e.state.is_current()).count());
    // As a single `status`: only `--exit-code` turns "not current" into exit 2.
    let not_current = entries.iter().any(|e| !e.state.is_current());
    Ok(if exit_code && not_current {
        Outcome::Problems
    } else {
        Outcome::Clean
    })
}
