//! One file per command: arguments -> plan -> execute -> report. No SQL here: the store
//! modules do the talking.

pub mod anonymize;
pub mod backup;
pub mod backup_physical;
pub mod baseline;
pub mod check;
pub mod completions;
pub mod database;
pub mod diff;
pub mod down;
pub mod drift;
pub mod export;
pub mod fleet;
pub mod health;
pub mod lint;
pub mod maintain;
pub mod man;
pub mod new;
pub mod repair;
pub mod reset;
pub mod retention;
pub mod sandbox;
mod sarif;
pub mod schema;
pub mod seed;
pub mod status;
pub mod up;
pub mod validate;
pub mod wait;

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
    let early = Printer::new(config::early_output(&cli.global.overrides()));
    if let Some(loaded) = config::dotenv::loaded()
        && let Some(file) = &loaded.file
    {
        early.verbose(format!(
            "read {}: set {}",
            file.display(),
            if loaded.set.is_empty() {
                "nothing (every variable in it was already set)".to_string()
            } else {
                loaded.set.join(", ")
            }
        ));
    }
    if let Err(error) = sarif::refuse_elsewhere(&cli) {
        return Err(Failure {
            printer: early,
            error,
        });
    }
    // Sandbox management, completions and man pages need no config and no database.
    let standalone = match &cli.command {
        Command::Sandbox(args) => Some(sandbox::run(&early, args.action, &args.dir)),
        Command::Completions(args) => Some(completions::run(&early, args)),
        Command::Man(args) => Some(man::run(&early, args)),
        _ => None,
    };
    if let Some(result) = standalone {
        return result.map_err(|error| Failure {
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
    if matches!(cli.command, Command::Seed(_) | Command::Reset(_)) {
        seed::detach_seed_env(&mut global).map_err(|error| Failure {
            printer: early.clone(),
            error,
        })?;
    }
    let mut settings =
        config::resolve(&global.overrides(), sandbox_urls).map_err(|error| Failure {
            printer: early.clone(),
            error,
        })?;
    settings.lint_enable =
        crate::lint::rules::canonical_names(&settings.lint_enable).map_err(|error| Failure {
            printer: early.clone(),
            error,
        })?;
    let printer = Printer::new(settings.output);
    if let Err(error) = wait::for_servers(&settings, &printer, wait::Uses::of(&cli.command)).await {
        return Err(Failure { printer, error });
    }
    let context = Context { settings, printer };
    if let Some(fleet_args) = fleet::args_of(&cli.command) {
        let fleet_run = match fleet::requested(&context, fleet_args) {
            Ok(true) if context.printer.format() == crate::cli::Format::Sarif => {
                Some(Err(sarif::refusal("a run on --targets")))
            }
            Ok(true) => Some(
                fleet::run(
                    &context,
                    &cli.command,
                    fleet_args,
                    cli.global.env.as_deref(),
                )
                .await,
            ),
            Ok(false) => None,
            Err(error) => Some(Err(error)),
        };
        if let Some(result) = fleet_run {
            return result.map_err(|error| Failure {
                printer: context.printer.clone(),
                error,
            });
        }
    }
    let result = match &cli.command {
        Command::Up(args) => up::run(&context, args).await,
        Command::Down(args) => down::run(&context, args).await,
        Command::Status(args) => status::run(&context, args).await,
        Command::Validate(_) => validate::run(&context).await,
        Command::New(args) => new::run(&context, args),
        Command::Baseline(args) => baseline::run(&context, args).await,
        Command::Repair(args) => repair::run(&context, args).await,
        Command::Seed(args) => seed::run(&context, args, cli.global.env.as_deref()).await,
        Command::Database(args) => database::run(&context, args).await,
        Command::Reset(args) => reset::run(&context, args, cli.global.env.as_deref()).await,
        Command::Sandbox(args) => sandbox::run(&context.printer, args.action, &args.dir),
        Command::Completions(args) => completions::run(&context.printer, args),
        Command::Man(args) => man::run(&context.printer, args),
        Command::Drift(args) => drift::run(&context, args).await,
        Command::Schema(args) => schema::run(&context, args).await,
        Command::Diff(args) => diff::run(&context, args).await,
        Command::Lint(args) => lint::run(&context, args).await,
        Command::Check(args) => check::run(&context, args).await,
        Command::Backup(args) => backup::run(&context, args).await,
        Command::Maintain(args) => maintain::run(&context, args).await,
        Command::Health(args) => health::run(&context, args).await,
        Command::Anonymize(args) => anonymize::run(&context, args).await,
        Command::Export(args) => export::run(&context, args).await,
        Command::Retention(args) => retention::run(&context, args).await,
    };
    result.map_err(|error| Failure {
        printer: context.printer.clone(),
        error,
    })
}

/// Why a command leaves stores out, collected while it runs and printed once it succeeded (an
/// error must be the first line of output). A store that was never configured is not news: it
/// is named under `-v` only (DESIGN.md, "CLI contract"); anything else is a note.
#[derive(Debug, Default)]
pub(crate) struct Skipped {
    unconfigured: Vec<&'static str>,
    notes: Vec<String>,
}

impl Skipped {
    /// `store` has no URL.
    pub(crate) fn unconfigured(&mut self, store: &'static str) {
        self.unconfigured.push(store);
    }

    /// A configured store left out, and why (`mongo: no migrations directory …`).
    pub(crate) fn note(&mut self, text: impl Into<String>) {
        self.notes.push(text.into());
    }

    /// Every reason, unconfigured stores included (for an error that nothing was selected).
    pub(crate) fn lines(&self) -> Vec<String> {
        self.unconfigured
            .iter()
            .map(|store| format!("{store}: no URL configured"))
            .chain(self.notes.iter().cloned())
            .collect()
    }

    pub(crate) fn print(&self, printer: &Printer) {
        for store in &self.unconfigured {
            printer.verbose(format!("{store}: no URL configured, skipped"));
        }
        for note in &self.notes {
            printer.note(note);
        }
    }
}

/// The guard of every destructive command (`down`, `repair`, `anonymize`, `retention run`,
/// `backup restore`, `reset`, `database drop`): in an environment marked `protected = true` it
/// refuses unless `--allow-protected`. A dry run is allowed and says what the real run needs;
/// an allowed run says why it goes ahead. `what` names the command (`anonymize policy`).
pub(crate) fn guard_protected(context: &Context, what: &str, dry_run: bool) -> anyhow::Result<()> {
    let settings = &context.settings;
    if !settings.protected {
        return Ok(());
    }
    let env = settings.env_name.as_deref().unwrap_or("?");
    if dry_run {
        context.printer.note(format!(
            "environment `{env}` is protected: the real `{what}` will need --allow-protected"
        ));
        return Ok(());
    }
    if settings.allow_protected {
        context.printer.warn(format!(
            "environment `{env}` is protected: `{what}` goes ahead because of --allow-protected"
        ));
        return Ok(());
    }
    Err(crate::errors::Detailed::new(format!(
        "environment `{env}` is protected: `{what}` is refused"
    ))
    .context("nothing was changed")
    .hint(format!(
        "pass --allow-protected if you really mean to run `{what}` there"
    ))
    .into())
}

/// The line a destructive plan (`reset`, `database drop`) shows about a protected
/// environment, if it is one.
pub(crate) fn protected_line(settings: &Settings) -> Option<String> {
    settings.protected.then(|| {
        let name = settings.env_name.as_deref().unwrap_or("?");
        if settings.allow_protected {
            format!("environment `{name}` is protected: allowed by --allow-protected")
        } else {
            format!("environment `{name}` is protected: refused without --allow-protected")
        }
    })
}

/// How to call this binary in a hint the user can paste: the path it was started by when that
/// was a path (`target/release/migrate`), else `migrate`.
pub(crate) fn invoked_as() -> String {
    std::env::args()
        .next()
        .filter(|arg0| arg0.contains('/'))
        .unwrap_or_else(|| "migrate".to_string())
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
    dir: &Path,
) -> anyhow::Result<crate::postgres::migration::MigrationSet> {
    if let Some(set) = fleet::cached_migrations(dir) {
        return Ok(set);
    }
    let set = crate::postgres::migration::load_dir(dir)?;
    set.ensure_valid()?;
    Ok(set)
}

/// Reads a command's input files (`read`, on a blocking thread) while `connect` opens its
/// connections, so that reading hundreds of migration files and the servers' handshakes
/// overlap. Input errors win: one is returned as soon as it is known, and connections still
/// being opened are dropped unused. `connect` must only connect (and may set session
/// settings): nothing may be written before the input is known to be good.
pub(crate) async fn read_while_connecting<T, C>(
    read: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
    connect: impl std::future::Future<Output = anyhow::Result<C>>,
) -> anyhow::Result<(T, C)>
where
    T: Send + 'static,
{
    let mut reading = tokio::task::spawn_blocking(read);
    let connecting = connect;
    tokio::pin!(connecting);
    let mut connected = None;
    let input = loop {
        tokio::select! {
            biased;
            input = &mut reading => break input,
            result = &mut connecting, if connected.is_none() => connected = Some(result),
        }
    };
    let input = match input {
        Ok(input) => input?,
        Err(err) if err.is_panic() => std::panic::resume_unwind(err.into_panic()),
        Err(err) => anyhow::bail!("reading the input was cancelled: {err}"),
    };
    let connections = match connected {
        Some(result) => result?,
        None => connecting.await?,
    };
    Ok((input, connections))
}

/// Opens the given stores' connections at once (nothing is written); an error names the first
/// store, in the order postgres, mongo, redis, that failed.
pub(crate) async fn connect_stores(
    postgres: Option<&crate::config::PgSettings>,
    mongo: Option<&crate::config::MongoSettings>,
    redis: Option<&crate::config::RedisSettings>,
) -> anyhow::Result<(
    Option<crate::postgres::session::Session>,
    Option<crate::mongo::engine::MongoSession>,
    Option<crate::redis::cluster::Topology>,
)> {
    let (postgres, mongo, redis) = tokio::join!(
        open_if(postgres, crate::postgres::session::Session::open),
        open_if(mongo, crate::mongo::engine::MongoSession::open),
        open_if(redis, crate::redis::cluster::Topology::connect),
    );
    Ok((postgres?, mongo?, redis?))
}

/// `open(settings)` for a configured store, nothing for the others.
async fn open_if<S, T, F>(
    settings: Option<S>,
    open: impl FnOnce(S) -> F,
) -> anyhow::Result<Option<T>>
where
    F: std::future::Future<Output = anyhow::Result<T>>,
{
    match settings {
        Some(settings) => open(settings).await.map(Some),
        None => Ok(None),
    }
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
    Ok(Outcome::clean_if(clean(&report)))
}
