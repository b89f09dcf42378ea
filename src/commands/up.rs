//! `migrate up`: apply pending migrations: PostgreSQL, then Mongo, then the Redis keyspace
//! setup. Every selected store's input is read and checked, and every selected store is
//! connected, before anything is written to any of them.

use serde::Serialize;

use super::Context;
use crate::cli::{Store, UpArgs};
use crate::config::{MongoSettings, PgSettings, RedisSettings, Settings};
use crate::errors::Outcome;
use crate::errors::under_lock;
use crate::mongo::engine::MongoSession;
use crate::mongo::migration::MongoSet;
use crate::output::{Report, table};
use crate::postgres::engine::{self, StepResult};
use crate::postgres::migration::MigrationSet;
use crate::postgres::plan::{self, Step, UpOptions};
use crate::postgres::session::Session;
use crate::redis::keyspace::{self, Keyspace, Passwords};
use crate::redis::setup::{self, Action};

#[derive(Debug, Serialize)]
pub struct UpReport {
    pub dry_run: bool,
    pub stores: Vec<StoreUp>,
}

/// One store's part of the report; every variant has `store` and `database`.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum StoreUp {
    Postgres(PostgresUp),
    Mongo(MongoUp),
    Redis(RedisUp),
}

#[derive(Debug, Serialize)]
pub struct PostgresUp {
    pub store: &'static str,
    pub database: String,
    /// What was (or, with --dry-run, would be) done, in order.
    pub plan: Vec<Step>,
    /// Steps completed, with their timings (empty on --dry-run).
    pub applied: Vec<StepResult>,
    /// Newest applied version after the run.
    pub version: Option<u64>,
    /// Newest applied version before the run (for fleet summaries).
    #[serde(skip)]
    pub version_before: Option<u64>,
}

#[derive(Debug, Serialize)]
pub struct MongoUp {
    pub store: &'static str,
    pub database: String,
    pub plan: Vec<crate::mongo::plan::Step>,
    pub applied: Vec<crate::mongo::engine::StepResult>,
    pub version: Option<u64>,
}

#[derive(Debug, Serialize)]
pub struct RedisUp {
    pub store: &'static str,
    pub database: String,
    pub namespace: String,
    /// Schema version on the server after the run (before it, on --dry-run).
    pub version: Option<u32>,
    pub declared_version: u32,
    /// What differed from the declaration.
    pub plan: Vec<Action>,
    /// What was changed (empty on --dry-run).
    pub applied: Vec<Action>,
    pub notes: Vec<String>,
}

impl Report for UpReport {
    fn human(&self) -> String {
        let mut out = String::new();
        for store in &self.stores {
            match store {
                StoreUp::Postgres(store) => postgres_human(store, self.dry_run, &mut out),
                StoreUp::Mongo(store) => mongo_human(store, self.dry_run, &mut out),
                StoreUp::Redis(store) => redis_human(store, self.dry_run, &mut out),
            }
        }
        out
    }
}

fn postgres_human(store: &PostgresUp, dry_run: bool, out: &mut String) {
    if dry_run {
        let rows = store.plan.iter().map(|step| {
            [
                format!("{:?}", step.action).to_lowercase(),
                step.label(),
                if step.transactional {
                    "yes".into()
                } else {
                    "no (statement by statement)".into()
                },
                step.file.clone(),
            ]
        });
        let columns = ["action", "migration", "transaction", "file"];
        dry_run_plan(store.store, &store.database, columns, rows, out);
        return;
    }
    let times: Vec<u64> = store.applied.iter().map(|s| s.execution_ms).collect();
    applied_line(store.store, &times, store.version, &store.database, out);
}

fn mongo_human(store: &MongoUp, dry_run: bool, out: &mut String) {
    if dry_run {
        let rows = store.plan.iter().map(|step| {
            [
                format!("{:?}", step.action).to_lowercase(),
                step.label(),
                if step.from_op > 0 {
                    format!("{} (from #{})", step.ops, step.from_op + 1)
                } else {
                    step.ops.to_string()
                },
                step.file.clone(),
            ]
        });
        dry_run_plan(
            store.store,
            &store.database,
            ["action", "migration", "ops", "file"],
            rows,
            out,
        );
        return;
    }
    let times: Vec<u64> = store.applied.iter().map(|s| s.execution_ms).collect();
    applied_line(store.store, &times, store.version, &store.database, out);
}

/// A store's `--dry-run` plan: a heading, then one numbered row per step.
fn dry_run_plan(
    store: &str,
    database: &str,
    columns: [&str; 4],
    rows: impl ExactSizeIterator<Item = [String; 4]>,
    out: &mut String,
) {
    if rows.len() == 0 {
        out.push_str(&format!("{store}: nothing to apply ({database})\n"));
        return;
    }
    out.push_str(&format!(
        "{store}: plan for {database} (dry run, nothing changed)\n"
    ));
    let mut header = vec!["#"];
    header.extend(columns);
    let mut t = table::new(&header);
    for (i, row) in rows.enumerate() {
        let mut cells = vec![(i + 1).to_string()];
        cells.extend(row);
        t.add_row(cells);
    }
    out.push_str(&format!("{t}\n"));
}

fn applied_line(
    store: &str,
    times: &[u64],
    version: Option<u64>,
    database: &str,
    out: &mut String,
) {
    if times.is_empty() {
        out.push_str(&format!(
            "{store}: up to date{} ({database})\n",
            version.map_or_else(String::new, |v| format!(" at V{v}"))
        ));
        return;
    }
    out.push_str(&format!(
        "{store}: applied {} migration{} in {}{} ({database})\n",
        times.len(),
        if times.len() == 1 { "" } else { "s" },
        crate::output::human_ms(times.iter().sum()),
        version.map_or_else(String::new, |v| format!(", now at V{v}")),
    ));
}

fn redis_human(store: &RedisUp, dry_run: bool, out: &mut String) {
    let version = store
        .version
        .map_or_else(|| "no version".to_string(), |v| format!("version {v}"));
    if store.plan.is_empty() {
        out.push_str(&format!(
            "{}: keyspace `{}` up to date at {version} ({})\n",
            store.store, store.namespace, store.database
        ));
        return;
    }
    if dry_run {
        out.push_str(&format!(
            "{}: setup plan for keyspace `{}` at {version}, declared {} on {} (dry run, nothing changed)\n",
            store.store, store.namespace, store.declared_version, store.database
        ));
        out.push_str(&format!("{}\n", actions_table(&store.plan)));
        return;
    }
    out.push_str(&format!(
        "{}: set up keyspace `{}`, now at {version}: {} change{} ({})\n",
        store.store,
        store.namespace,
        store.applied.len(),
        if store.applied.len() == 1 { "" } else { "s" },
        store.database
    ));
}

/// Redis setup actions as a table (also used by `status`).
pub fn actions_table(actions: &[Action]) -> table::Table {
    let mut t = table::new(&["#", "action", "target", "why", "nodes"]);
    for (i, action) in actions.iter().enumerate() {
        t.add_row(vec![
            (i + 1).to_string(),
            setup::action_verb(action.action).to_string(),
            action.target.clone(),
            action.detail.clone(),
            action.nodes.join(", "),
        ]);
    }
    t
}

/// Which stores this run works on, decided from the settings alone: nothing is read or
/// connected yet.
struct Selection<'a> {
    /// The stores left out, printed once the run succeeded.
    skipped: super::Skipped,
    postgres: Option<&'a PgSettings>,
    mongo: Option<&'a MongoSettings>,
    /// Only when `[redis]` declares a keyspace.
    redis: Option<&'a RedisSettings>,
}

/// What each selected store will work from, read and checked.
struct Inputs {
    postgres: Option<MigrationSet>,
    mongo: Option<MongoSet>,
    redis: Option<Keyspace>,
}

/// What an `up` run does (also what `reset` runs after recreating the databases).
#[derive(Debug, Clone, Default)]
pub(crate) struct UpRun {
    /// The stores to work on; empty: every configured one.
    pub stores: Vec<Store>,
    pub target: Option<u64>,
    pub dry_run: bool,
    pub allow_out_of_order: bool,
}

pub async fn run(context: &Context, args: &UpArgs) -> anyhow::Result<Outcome> {
    if args.sql {
        if args.store.is_some_and(|store| store != Store::Pg) {
            return Err(crate::errors::Usage(crate::errors::Detailed::new(
                "--sql writes PostgreSQL migrations only: drop --store or use --store pg",
            ))
            .into());
        }
        let options = UpOptions {
            target: args.target,
            allow_out_of_order: args.allow_out_of_order || context.settings.allow_out_of_order,
        };
        let report = sql_script(context, "up", |set, history| {
            plan::plan_up(set, history, options)
        })
        .await?;
        context.printer.report(&report);
        return Ok(Outcome::Clean);
    }
    let run = UpRun {
        stores: args.store.into_iter().collect(),
        target: args.target,
        dry_run: args.dry_run,
        allow_out_of_order: args.allow_out_of_order,
    };
    let report = apply(context, &run).await?;
    context.printer.report(&report);
    Ok(Outcome::Clean)
}

/// `up --dry-run --sql` / `down --dry-run --sql`: the PostgreSQL plan as a psql script.
#[derive(Debug, Serialize)]
pub struct SqlScript {
    pub store: &'static str,
    pub database: String,
    pub sql: String,
}

impl Report for SqlScript {
    fn human(&self) -> String {
        self.sql.clone()
    }
}

/// Plans with `plan` against the database's history (nothing is written) and renders the plan
/// as the script that would run. Only PostgreSQL speaks SQL: other stores are left out, with a
/// note when they are configured.
pub(crate) async fn sql_script(
    context: &Context,
    command: &str,
    plan: impl FnOnce(
        &MigrationSet,
        &[crate::postgres::history::HistoryRow],
    ) -> Result<Vec<plan::Step>, crate::core::plan::PlanError>,
) -> anyhow::Result<SqlScript> {
    let settings = &context.settings;
    let pg = settings.require_postgres()?;
    let set = super::load_valid_migrations(&settings.migrations_dir)?;
    let session = Session::open(pg).await?;
    let history = session.read_history().await?;
    let steps = plan(&set, &history)?;
    let sql = crate::postgres::script::render(pg, &set, &steps, command)?;
    if settings.mongo.is_some() || settings.redis.is_some() {
        context.printer.note(
            "--sql writes the PostgreSQL part only: Mongo ops and Redis setup are not SQL (see `--dry-run` without --sql)",
        );
    }
    Ok(SqlScript {
        store: "postgres",
        database: pg.target.to_string(),
        sql,
    })
}

/// Runs `up` and returns its report (notes about skipped stores are printed here).
pub(crate) async fn apply(context: &Context, args: &UpRun) -> anyhow::Result<UpReport> {
    let printer = &context.printer;
    let selection = select(&context.settings, &args.stores)?;
    if selection.postgres.is_none() && selection.mongo.is_none() && selection.redis.is_none() {
        let mut error = crate::errors::Detailed::new("nothing to migrate: no store was selected");
        for line in selection.skipped.lines() {
            error = error.context(line);
        }
        return Err(error
            .hint("pass --database-url URL (or set DATABASE_URL, or [postgres] url in migrate.toml), or use --sandbox")
            .into());
    }

    // Read every input and connect to every store before anything is written: a bad file or
    // an unreachable store fails the run with nothing changed. Reading overlaps connecting.
    let wanted = (
        selection.postgres.is_some(),
        selection.mongo.is_some(),
        selection.redis.is_some(),
    );
    let settings = context.settings.clone();
    let (inputs, (pg_session, mongo_session, topology)) = super::read_while_connecting(
        move || read_inputs(&settings, wanted),
        super::connect_stores(selection.postgres, selection.mongo, selection.redis),
    )
    .await?;
    let postgres = selection
        .postgres
        .zip(inputs.postgres.as_ref())
        .zip(pg_session)
        .map(|((pg, set), session)| (pg, set, session));
    let mongo = inputs.mongo.as_ref().zip(mongo_session);
    let redis = inputs.redis.as_ref().zip(topology);

    let mut report = UpReport {
        dry_run: args.dry_run,
        stores: Vec::new(),
    };
    let options = UpOptions {
        target: args.target,
        allow_out_of_order: args.allow_out_of_order || context.settings.allow_out_of_order,
    };
    if let Some((pg, set, session)) = &postgres {
        report.stores.push(StoreUp::Postgres(
            up_postgres(context, pg, set, session, options, args.dry_run).await?,
        ));
    }
    if let Some((set, session)) = &mongo {
        report.stores.push(StoreUp::Mongo(
            up_mongo(context, set, session, options, args.dry_run).await?,
        ));
    }
    if let Some((keyspace, topology)) = &redis {
        let plan = setup::plan(topology, keyspace).await?;
        plan.ensure_not_newer(&topology.display)?;
        for note in &plan.notes {
            printer.note(format!("redis: {note}"));
        }
        let applied = if args.dry_run || plan.actions.is_empty() {
            Vec::new()
        } else {
            setup::apply(topology, keyspace, &plan, printer).await?;
            plan.actions.clone()
        };
        report.stores.push(StoreUp::Redis(RedisUp {
            store: "redis",
            database: topology.display.clone(),
            namespace: keyspace.namespace.clone(),
            version: if applied.is_empty() {
                plan.server.version
            } else {
                Some(keyspace.schema_version)
            },
            declared_version: keyspace.schema_version,
            plan: plan.actions.clone(),
            applied,
            notes: plan.notes.clone(),
        }));
    }
    selection.skipped.print(printer);
    Ok(report)
}

/// Which stores run. A store without a URL is skipped (named under `-v`), unless `--store`
/// asked for it.
fn select<'a>(settings: &'a Settings, only: &[Store]) -> anyhow::Result<Selection<'a>> {
    let wants = |store: Store| only.is_empty() || only.contains(&store);
    let explicit = |store: Store| only.contains(&store);
    let mut selection = Selection {
        skipped: super::Skipped::default(),
        postgres: None,
        mongo: None,
        redis: None,
    };
    if wants(Store::Pg) {
        match &settings.postgres {
            None if explicit(Store::Pg) => {
                settings.require_postgres()?;
            }
            None => selection.skipped.unconfigured("postgres"),
            Some(pg) => selection.postgres = Some(pg),
        }
    }
    if wants(Store::Mongo) {
        match &settings.mongo {
            None if explicit(Store::Mongo) => anyhow::bail!(
                "no MongoDB URL: pass --mongodb-url, set MONGODB_URL, set [mongo] url in migrate.toml, or use --sandbox"
            ),
            None => selection.skipped.unconfigured("mongo"),
            Some(mongo) => {
                let dir = &settings.mongo_migrations_dir;
                if dir.is_dir() {
                    selection.mongo = Some(mongo);
                } else {
                    selection.skipped.note(format!(
                        "mongo: no migrations directory {}, nothing to apply",
                        dir.display()
                    ));
                }
            }
        }
    }
    if wants(Store::Redis) {
        match &settings.redis {
            None if explicit(Store::Redis) => anyhow::bail!(
                "no Redis URL: pass --redis-url, set REDIS_URL, set [redis] url in migrate.toml, or use --sandbox"
            ),
            None => selection.skipped.unconfigured("redis"),
            Some(redis) if redis.keyspace.is_none() => selection.skipped.note(
                "redis: [redis] declares no keyspace (namespace, schema_version), nothing to set up",
            ),
            Some(redis) => selection.redis = Some(redis),
        }
    }
    Ok(selection)
}

/// Reads and checks every input `apply` would use for `stores`, without connecting: `reset`
/// calls it before it drops anything.
pub(crate) fn check_inputs(settings: &Settings, stores: &[Store]) -> anyhow::Result<()> {
    let selection = select(settings, stores)?;
    let wanted = (
        selection.postgres.is_some(),
        selection.mongo.is_some(),
        selection.redis.is_some(),
    );
    read_inputs(settings, wanted).map(drop)
}

/// Reads and checks the input of the selected stores (postgres, mongo, redis), in that order.
fn read_inputs(
    settings: &Settings,
    (pg, mongo, redis): (bool, bool, bool),
) -> anyhow::Result<Inputs> {
    let postgres = if pg {
        Some(super::load_valid_migrations(&settings.migrations_dir)?)
    } else {
        None
    };
    let mongo = if mongo {
        let set = crate::mongo::migration::load_dir(&settings.mongo_migrations_dir)?;
        set.ensure_valid()?;
        Some(set)
    } else {
        None
    };
    let redis = match settings.redis.as_ref().and_then(|r| r.keyspace.as_ref()) {
        Some(declaration) if redis => Some(keyspace::load(declaration, Passwords::Required)?),
        _ => None,
    };
    Ok(Inputs {
        postgres,
        mongo,
        redis,
    })
}

async fn up_postgres(
    context: &Context,
    pg: &PgSettings,
    set: &MigrationSet,
    session: &Session,
    options: UpOptions,
    dry_run: bool,
) -> anyhow::Result<PostgresUp> {
    let printer = &context.printer;
    if dry_run {
        let history = session.read_history().await?;
        let steps = plan::plan_up(set, &history, options)?;
        return Ok(PostgresUp {
            store: "postgres",
            database: pg.target.to_string(),
            version: plan::current_version(&history),
            version_before: plan::current_version(&history),
            plan: steps,
            applied: Vec::new(),
        });
    }
    // Up to date is the usual case of a rerun (and of every target of a fleet): one read,
    // without the lock. An empty plan from committed history stays true whatever another
    // runner is doing; anything else (work to do, a dirty row another runner may be finishing,
    // an error) is decided again under the lock.
    let unlocked_history = session.read_history().await?;
    if plan::plan_up(set, &unlocked_history, options).is_ok_and(|steps| steps.is_empty()) {
        let version = plan::current_version(&unlocked_history);
        return Ok(PostgresUp {
            store: "postgres",
            database: pg.target.to_string(),
            plan: Vec::new(),
            applied: Vec::new(),
            version,
            version_before: version,
        });
    }
    let (held, history) = session.lock_and_read_history(printer).await?;
    let version_before = plan::current_version(&history);
    let (steps, applied, version) = under_lock(
        held,
        async |held| {
            let steps = plan::plan_up(set, &history, options)?;
            let applied = engine::execute(session, held, set, &steps, printer).await?;
            // Nothing ran: the history just read is still current.
            let history = if applied.is_empty() {
                history
            } else {
                session.read_history().await?
            };
            anyhow::Ok((steps, applied, plan::current_version(&history)))
        },
        |held| session.unlock(held),
    )
    .await?;
    Ok(PostgresUp {
        store: "postgres",
        database: pg.target.to_string(),
        plan: steps,
        applied,
        version,
        version_before,
    })
}

async fn up_mongo(
    context: &Context,
    set: &MongoSet,
    session: &MongoSession,
    options: UpOptions,
    dry_run: bool,
) -> anyhow::Result<MongoUp> {
    let printer = &context.printer;
    let history_name = session.history_name().to_string();
    if dry_run {
        let history = session.read_history().await?;
        let steps = crate::mongo::plan::plan_up(set, &history, options, &history_name)?;
        return Ok(MongoUp {
            store: "mongo",
            database: session.display().to_string(),
            version: crate::mongo::plan::current_version(&history),
            plan: steps,
            applied: Vec::new(),
        });
    }
    let held = session.lock(printer).await?;
    let (steps, applied, version) = under_lock(
        held,
        async |held| {
            let history = session.read_history().await?;
            let steps = crate::mongo::plan::plan_up(set, &history, options, &history_name)?;
            let applied =
                crate::mongo::engine::execute(session, held, set, &steps, printer).await?;
            let history = session.read_history().await?;
            anyhow::Ok((
                steps,
                applied,
                crate::mongo::plan::current_version(&history),
            ))
        },
        |held| session.unlock(held),
    )
    .await?;
    Ok(MongoUp {
        store: "mongo",
        database: session.display().to_string(),
        plan: steps,
        applied,
        version,
    })
}
