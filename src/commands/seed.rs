//! `migrate seed`: load `seeds/<env>/` idempotently, each file once per checksum.

use serde::Serialize;

use super::Context;
use crate::cli::{GenerateArgs, GlobalArgs, SeedAction, SeedArgs};
use crate::config::Settings;
use crate::errors::under_lock;
use crate::errors::{Detailed, Outcome};
use crate::jobs::generate;
use crate::output::{Report, table};
use crate::postgres::seeds::{self, Applied};
use crate::postgres::session::Session;
use crate::postgres::{migration, plan};

#[derive(Debug, Serialize)]
pub struct SeedReport {
    pub env: String,
    pub database: String,
    pub dry_run: bool,
    /// Files applied in this run (with --dry-run: files that would be).
    pub applied: Vec<Applied>,
    /// Files already applied with the same checksum.
    pub unchanged: Vec<String>,
}

impl Report for SeedReport {
    fn human(&self) -> String {
        if self.applied.is_empty() {
            return format!(
                "seed {}: nothing to do: {} file{} already applied ({})\n",
                self.env,
                self.unchanged.len(),
                if self.unchanged.len() == 1 { "" } else { "s" },
                self.database
            );
        }
        let mut t = table::new(&["file", "format", "rows", "took"]);
        for file in &self.applied {
            t.add_row(vec![
                file.file.clone(),
                format!("{:?}", file.format).to_lowercase(),
                if self.dry_run {
                    String::new()
                } else {
                    file.rows.to_string()
                },
                if self.dry_run {
                    String::new()
                } else {
                    crate::output::human_ms(file.execution_ms)
                },
            ]);
        }
        format!(
            "seed {}: {} {} file{}, {} unchanged ({})\n{t}\n",
            self.env,
            if self.dry_run {
                "would apply"
            } else {
                "applied"
            },
            self.applied.len(),
            if self.applied.len() == 1 { "" } else { "s" },
            self.unchanged.len(),
            self.database
        )
    }
}

/// `--env NAME` picks the seed directory; it selects a config environment only if the config
/// file defines `[env.NAME]`.
pub fn detach_seed_env(global: &mut GlobalArgs) -> anyhow::Result<()> {
    let Some(name) = &global.env else {
        return Ok(());
    };
    let path = match &global.config {
        Some(path) => path.clone(),
        None => std::path::PathBuf::from(crate::config::DEFAULT_CONFIG),
    };
    let defined = path.exists() && crate::config::file::load(&path)?.env.contains_key(name);
    if !defined {
        global.env = None;
    }
    Ok(())
}

pub async fn run(
    context: &Context,
    args: &SeedArgs,
    env_arg: Option<&str>,
) -> anyhow::Result<Outcome> {
    if let Some(SeedAction::Generate(generate_args)) = &args.action {
        return run_generate(context, generate_args).await;
    }
    let settings = &context.settings;
    let env = match chosen_env(settings, env_arg) {
        Some(env) => env,
        None => {
            return Err(Detailed::new("no seed environment: pass --env NAME")
                .context(format!(
                    "environments in {}: {}",
                    settings.seeds_dir.display(),
                    list(&environments(&settings.seeds_dir))
                ))
                .into());
        }
    };
    let source = SeedSource::read(settings, env)?;
    let report = load(context, &source, args.dry_run, args.force).await?;
    context.printer.report(&report);
    Ok(Outcome::Clean)
}

/// The seed environment: `--env NAME`, else `[seeds] default_env`.
pub(crate) fn chosen_env(settings: &Settings, env_arg: Option<&str>) -> Option<String> {
    env_arg
        .map(str::to_string)
        .or_else(|| settings.default_seed_env.clone())
}

/// The seed files of one environment, found and checked (nothing connected yet).
pub(crate) struct SeedSource {
    pub env: String,
    files: Vec<seeds::SeedFile>,
}

impl SeedSource {
    /// `seeds/<env>/`, which must exist.
    pub(crate) fn read(settings: &Settings, env: String) -> anyhow::Result<SeedSource> {
        let seeds_dir = &settings.seeds_dir;
        let dir = seeds_dir.join(&env);
        if !dir.is_dir() {
            return Err(Detailed::new(format!(
                "no seed directory {} for environment `{env}`",
                dir.display()
            ))
            .context(format!(
                "environments in {}: {}",
                seeds_dir.display(),
                list(&environments(seeds_dir))
            ))
            .into());
        }
        let files = seeds::discover(&dir)?;
        Ok(SeedSource { env, files })
    }
}

/// Applies the files of `source` that are new or changed (all of them with `force`).
pub(crate) async fn load(
    context: &Context,
    source: &SeedSource,
    dry_run: bool,
    force: bool,
) -> anyhow::Result<SeedReport> {
    let settings = &context.settings;
    let printer = &context.printer;
    let (env, files) = (&source.env, &source.files);
    let pg = settings.require_postgres()?;
    let session = Session::open(pg).await?;
    let held = session.lock(printer).await?;
    let report = under_lock(
        held,
        async |_held| {
            ensure_migrated(context, &session).await?;
            let recorded = session.recorded_seeds(env).await?;
            let (todo, unchanged): (Vec<_>, Vec<_>) = files
                .iter()
                .partition(|file| force || recorded.get(&file.file_name) != Some(&file.checksum));
            let mut applied = Vec::new();
            if dry_run {
                applied = todo
                    .iter()
                    .map(|file| Applied {
                        file: file.file_name.clone(),
                        format: file.format,
                        rows: 0,
                        execution_ms: 0,
                    })
                    .collect();
            } else if !todo.is_empty() {
                session.ensure_seed_table().await?;
                let bar = printer.progress(todo.len() as u64, "seeding");
                for file in todo {
                    bar.set_message(file.file_name.clone());
                    let result = session.apply_seed(env, file).await;
                    let result = match result {
                        Ok(result) => result,
                        Err(err) => {
                            bar.finish_and_clear();
                            return Err(err);
                        }
                    };
                    bar.suspend(|| {
                        printer.step(format!(
                            "seeded {} ({}, {})",
                            result.file,
                            crate::output::count(result.rows, "row"),
                            crate::output::human_ms(result.execution_ms)
                        ))
                    });
                    bar.inc(1);
                    applied.push(result);
                }
                bar.finish_and_clear();
            }
            anyhow::Ok(SeedReport {
                env: env.clone(),
                database: pg.target.to_string(),
                dry_run,
                applied,
                unchanged: unchanged.iter().map(|f| f.file_name.clone()).collect(),
            })
        },
        |held| session.unlock(held),
    )
    .await?;
    Ok(report)
}

/// `migrate seed generate`: what `--dry-run` prints and what a load reports.
#[derive(Debug, Serialize)]
pub struct GenerateReport {
    pub database: String,
    pub seed: u64,
    pub as_of: chrono::NaiveDate,
    pub dry_run: bool,
    /// Tables in load order; with --dry-run, the rows that would be generated.
    pub tables: Vec<generate::Loaded>,
    pub total_rows: u64,
    /// The whole load, the final ANALYZE included.
    pub seconds: f64,
    pub rows_per_second: f64,
    pub analyze_seconds: f64,
}

impl Report for GenerateReport {
    fn human(&self) -> String {
        let mut t = table::new(&["table", "rows", "seconds", "rows/s"]);
        for loaded in &self.tables {
            t.add_row(vec![
                loaded.table.to_string(),
                loaded.rows.to_string(),
                if self.dry_run {
                    String::new()
                } else {
                    format!("{:.2}", loaded.seconds)
                },
                if self.dry_run {
                    String::new()
                } else {
                    format!("{:.0}", loaded.rows_per_second)
                },
            ]);
        }
        let summary = if self.dry_run {
            format!(
                "seed generate --seed {} --as-of {}: would load {} ({})",
                self.seed,
                self.as_of,
                crate::output::count(self.total_rows, "row"),
                self.database
            )
        } else {
            format!(
                "seed generate --seed {} --as-of {}: loaded {} in {:.1} s, {:.0} rows/s, \
                 analyze {:.1} s ({})",
                self.seed,
                self.as_of,
                crate::output::count(self.total_rows, "row"),
                self.seconds,
                self.rows_per_second,
                self.analyze_seconds,
                self.database
            )
        };
        format!("{summary}\n{t}\n")
    }
}

async fn run_generate(context: &Context, args: &GenerateArgs) -> anyhow::Result<Outcome> {
    let printer = &context.printer;
    let options = generate::Options {
        tasks: args.tasks,
        seed: args.seed,
        as_of: args
            .as_of
            .unwrap_or_else(|| chrono::Utc::now().date_naive()),
        batch_rows: args.batch_rows,
    };
    let plan = generate::plan(&options);
    let pg = context.settings.require_postgres()?;
    let mut report = GenerateReport {
        database: pg.target.to_string(),
        seed: options.seed,
        as_of: options.as_of,
        dry_run: args.dry_run,
        tables: plan
            .tables
            .iter()
            .map(|t| generate::Loaded {
                table: t.table,
                rows: t.rows,
                seconds: 0.0,
                rows_per_second: 0.0,
            })
            .collect(),
        total_rows: plan.total_rows(),
        seconds: 0.0,
        rows_per_second: 0.0,
        analyze_seconds: 0.0,
    };
    if args.dry_run {
        printer.report(&report);
        return Ok(Outcome::Clean);
    }
    let session = Session::open(pg).await?;
    let held = session.lock(printer).await?;
    let outcome = under_lock(
        held,
        async |_held| {
            ensure_migrated(context, &session).await?;
            let bar = printer.progress(plan.total_rows(), "generating");
            let loaded = generate::execute(pg, &options, &plan, &bar).await;
            bar.finish_and_clear();
            loaded
        },
        |held| session.unlock(held),
    )
    .await?;
    report.tables = outcome.tables;
    report.seconds = outcome.seconds;
    report.rows_per_second = report.total_rows as f64 / outcome.seconds.max(1e-9);
    report.analyze_seconds = outcome.analyze_seconds;
    printer.report(&report);
    Ok(Outcome::Clean)
}

/// Seeds assume the schema of the migrations: refuse while migrations are pending.
async fn ensure_migrated(context: &Context, session: &Session) -> anyhow::Result<()> {
    let dir = &context.settings.migrations_dir;
    if !dir.is_dir() {
        return Ok(());
    }
    let set = migration::load_dir(dir)?;
    set.ensure_valid()?;
    let history = session.read_history().await?;
    let pending = plan::plan_up(&set, &history, plan::UpOptions::default())?;
    if !pending.is_empty() {
        return Err(Detailed::new(format!(
            "{} migration{} pending: seeds need the current schema",
            pending.len(),
            if pending.len() == 1 { " is" } else { "s are" }
        ))
        .hint("run `migrate up` first")
        .into());
    }
    Ok(())
}

fn environments(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter(|e| e.path().is_dir())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    }
}
