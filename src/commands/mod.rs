//! One file per command: arguments -> plan -> execute -> report. No SQL here: the store
//! modules do the talking.

pub mod anonymize;
pub mod backup;
pub mod baseline;
pub mod check;
pub mod down;
pub mod drift;
pub mod export;
pub mod lint;
pub mod maintain;
pub mod new;
pub mod repair;
pub mod retention;
pub mod sandbox;
pub mod schema;
pub mod seed;
pub mod status;
pub mod up;
pub mod validate;

use std::path::Path;

use crate::cli::{Cli, Command};
use crate::config::{self, SandboxUrls, Settings};
use crate::errors::Outcome;
use crate::output::Printer;

/// What every command gets: resolved settings and the one printer.
pub struct Context {
    pub settings: Settings,
    pub printer: Printer,
}

/// An error together with the printer that should report it (its format may come from the
/// config file).
pub struct Failure {
    pub printer: Printer,
    pub error: anyhow::Error,
}

pub const SANDBOX_DIR: &str = ".sandbox";

pub async fn run(cli: Cli) -> Result<Outcome, Failure> {
    let early = Printer::new(config::early_output(&cli.global));
    // Sandbox management needs no config and no database.
    if let Command::Sandbox(args) = &cli.command {
        return sandbox::run(&early, args.action, &args.dir).map_err(|error| Failure {
            printer: early,
            error,
        });
    }
    let sandbox_urls = if cli.global.sandbox {
        match sandbox::ensure_running(&early, Path::new(SANDBOX_DIR)) {
            Ok(urls) => Some(urls),
            Err(error) => {
                return Err(Failure {
                    printer: early,
                    error,
                });
            }
        }
    } else {
        None
    };
    // `seed --env NAME` names a seed directory; it need not be a config environment too.
    let mut global = cli.global.clone();
    if matches!(cli.command, Command::Seed(_)) {
        seed::detach_seed_env(&mut global).map_err(|error| Failure {
            printer: early.clone(),
            error,
        })?;
    }
    let settings = config::resolve(&global, sandbox_urls).map_err(|error| Failure {
        printer: early.clone(),
        error,
    })?;
    let printer = Printer::new(settings.output);
    let context = Context { settings, printer };
    let result = match &cli.command {
        Command::Up(args) => up::run(&context, args).await,
        Command::Down(args) => down::run(&context, args).await,
        Command::Status => status::run(&context).await,
        Command::Validate => validate::run(&context).await,
        Command::New(args) => new::run(&context, args),
        Command::Baseline(args) => baseline::run(&context, args).await,
        Command::Repair(args) => repair::run(&context, args).await,
        Command::Seed(args) => seed::run(&context, args, cli.global.env.as_deref()).await,
        Command::Sandbox(args) => sandbox::run(&context.printer, args.action, &args.dir),
        Command::Drift(args) => drift::run(&context, args).await,
        Command::Schema(args) => schema::run(&context, args).await,
        Command::Lint(args) => lint::run(&context, args).await,
        Command::Check(args) => check::run(&context, args).await,
        Command::Backup(args) => backup::run(&context, args).await,
        Command::Maintain(args) => maintain::run(&context, args).await,
        Command::Anonymize(args) => anonymize::run(&context, args).await,
        Command::Export(args) => export::run(&context, args).await,
        Command::Retention(args) => retention::run(&context, args).await,
    };
    result.map_err(|error| Failure {
        printer: context.printer.clone(),
        error,
    })
}

/// Unused sandbox URLs are simply absent.
pub(crate) fn sandbox_urls(state: &crate::sandbox::SandboxState) -> SandboxUrls {
    use crate::sandbox::Service;
    SandboxUrls {
        postgres: state.url(Service::Postgres).map(str::to_string),
        mongo: state.url(Service::Mongo).map(str::to_string),
        redis: state.url(Service::Redis).map(str::to_string),
    }
}

/// Reads the migration files and refuses to go on if any of them is invalid.
pub(crate) fn load_valid_migrations(
    context: &Context,
) -> anyhow::Result<crate::postgres::migration::MigrationSet> {
    let set = crate::postgres::migration::load_dir(&context.settings.migrations_dir)?;
    set.ensure_valid()?;
    Ok(set)
}

/// Runs a read-only comparison (`drift`, `check`) that may hold a shadow database, prints its
/// report, and maps `clean` to the exit code. On Ctrl-C the work future is dropped, and with it
/// the shadow database's guard.
pub(crate) async fn compare_until_interrupted<R, F>(
    context: &Context,
    work: F,
    clean: impl Fn(&R) -> bool,
) -> anyhow::Result<Outcome>
where
    R: crate::output::Report,
    F: std::future::Future<Output = anyhow::Result<R>>,
{
    let report = tokio::select! {
        report = work => report?,
        _ = tokio::signal::ctrl_c() => anyhow::bail!("interrupted: nothing was changed on the live database"),
    };
    context.printer.report(&report);
    Ok(if clean(&report) {
        Outcome::Clean
    } else {
        Outcome::Problems
    })
}
