//! `migrate down`: revert applied migrations of one store, newest first, after confirmation.

use serde::Serialize;

use super::Context;
use crate::cli::{DownArgs, Store};
use crate::config::{MongoSettings, PgSettings};
use crate::errors::under_lock;
use crate::errors::{Detailed, Outcome};
use crate::mongo::engine::MongoSession;
use crate::output::{Report, table};
use crate::postgres::engine::{self, StepResult};
use crate::postgres::plan::{self, DownTarget, Step};
use crate::postgres::session::Session;

/// The report of one store's revert: `{store, database, dry_run, plan, reverted}`. The steps
/// are those of the store (PostgreSQL or Mongo).
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum DownReport {
    Postgres(StoreDown<Step, StepResult>),
    Mongo(StoreDown<crate::mongo::plan::Step, crate::mongo::engine::StepResult>),
}

#[derive(Debug, Serialize)]
pub struct StoreDown<S, R> {
    pub store: &'static str,
    pub database: String,
    pub dry_run: bool,
    pub plan: Vec<S>,
    pub reverted: Vec<R>,
}

impl Report for DownReport {
    fn human(&self) -> String {
        match self {
            DownReport::Postgres(down) => {
                let times: Vec<u64> = down.reverted.iter().map(|s| s.execution_ms).collect();
                human(down, &times, &plan_table(&down.plan))
            }
            DownReport::Mongo(down) => {
                let times: Vec<u64> = down.reverted.iter().map(|s| s.execution_ms).collect();
                human(down, &times, &mongo_plan_table(&down.plan))
            }
        }
    }
}

fn human<S, R>(down: &StoreDown<S, R>, times: &[u64], plan: &table::Table) -> String {
    if down.plan.is_empty() {
        return format!("{}: nothing to revert ({})\n", down.store, down.database);
    }
    if down.dry_run {
        return format!(
            "{}: would revert, in this order (dry run, nothing changed):\n{plan}\n",
            down.store
        );
    }
    format!(
        "{}: reverted {} migration{} in {} ({})\n",
        down.store,
        times.len(),
        if times.len() == 1 { "" } else { "s" },
        crate::output::human_ms(times.iter().sum()),
        down.database
    )
}

fn plan_table(steps: &[Step]) -> table::Table {
    let mut t = table::new(&["#", "revert", "transaction", "file"]);
    for (i, step) in steps.iter().enumerate() {
        t.add_row(vec![
            (i + 1).to_string(),
            step.label(),
            if step.transactional {
                "yes".into()
            } else {
                "no".into()
            },
            step.file.clone(),
        ]);
    }
    t
}

fn mongo_plan_table(steps: &[crate::mongo::plan::Step]) -> table::Table {
    let mut t = table::new(&["#", "revert", "ops", "file"]);
    for (i, step) in steps.iter().enumerate() {
        t.add_row(vec![
            (i + 1).to_string(),
            step.label(),
            if step.from_op > 0 {
                format!("{} (from #{})", step.ops, step.from_op + 1)
            } else {
                step.ops.to_string()
            },
            step.file.clone(),
        ]);
    }
    t
}

pub async fn run(context: &Context, args: &DownArgs) -> anyhow::Result<Outcome> {
    let settings = &context.settings;
    super::guard_protected(context, "down", args.dry_run)?;
    let target = match (args.steps, args.to) {
        (_, Some(to)) => DownTarget::To(to),
        (Some(steps), None) => DownTarget::Steps(steps),
        (None, None) => DownTarget::Steps(1),
    };
    if args.sql {
        if args.store.is_some_and(|store| store != Store::Pg) {
            return Err(crate::errors::Usage(Detailed::new(
                "--sql writes PostgreSQL migrations only: drop --store or use --store pg",
            ))
            .into());
        }
        let report = super::up::sql_script(context, "down", |set, history| {
            plan::plan_down(set, history, target)
        })
        .await?;
        context.printer.report(&report);
        return Ok(Outcome::Clean);
    }
    let store = match args.store {
        Some(store) => store,
        None if settings.postgres.is_none() && settings.mongo.is_some() => Store::Mongo,
        None => Store::Pg,
    };
    match store {
        Store::Pg => down_postgres(context, settings.require_postgres()?, args, target).await,
        Store::Mongo => {
            let mongo = settings.mongo.as_ref().ok_or_else(|| {
                anyhow::anyhow!(
                    "no MongoDB URL: pass --mongodb-url, set MONGODB_URL, set [mongo] url in migrate.toml, or use --sandbox"
                )
            })?;
            down_mongo(context, mongo, args, target).await
        }
        Store::Redis => Err(crate::errors::Usage(
            Detailed::new("`down --store redis`: the redis keyspace has no down migrations")
                .hint("change the declaration in [redis] (and bump schema_version), then run `migrate up`"),
        )
        .into()),
    }
}

fn confirm_question(count: usize) -> String {
    format!(
        "revert {count} migration{}",
        if count == 1 { "" } else { "s" }
    )
}

async fn down_postgres(
    context: &Context,
    pg: &PgSettings,
    args: &DownArgs,
    target: DownTarget,
) -> anyhow::Result<Outcome> {
    let settings = &context.settings;
    let printer = &context.printer;
    let set = super::load_valid_migrations(&context.settings.migrations_dir)?;
    let session = Session::open(pg).await?;
    if args.dry_run {
        let history = session.read_history().await?;
        let steps = plan::plan_down(&set, &history, target)?;
        printer.report(&DownReport::Postgres(StoreDown {
            store: "postgres",
            database: pg.target.to_string(),
            dry_run: true,
            plan: steps,
            reverted: Vec::new(),
        }));
        return Ok(Outcome::Clean);
    }
    let held = session.lock(printer).await?;
    let (steps, reverted) = under_lock(
        held,
        async |held| {
            let history = session.read_history().await?;
            let steps = plan::plan_down(&set, &history, target)?;
            if steps.is_empty() {
                return anyhow::Ok((steps, Vec::new()));
            }
            if !printer.is_json() || !settings.assume_yes {
                printer.step(format!(
                    "about to revert on {}:\n{}",
                    pg.target,
                    plan_table(&steps)
                ));
            }
            printer.confirm(settings.assume_yes, &confirm_question(steps.len()))?;
            let reverted = engine::execute(&session, held, &set, &steps, printer).await?;
            if session.read_history().await?.is_empty() {
                session.drop_seed_table().await?;
                printer.note(
                    "every migration was reverted: the record of applied seed files was dropped too",
                );
            }
            Ok((steps, reverted))
        },
        |held| session.unlock(held),
    )
    .await?;
    printer.report(&DownReport::Postgres(StoreDown {
        store: "postgres",
        database: pg.target.to_string(),
        dry_run: false,
        plan: steps,
        reverted,
    }));
    Ok(Outcome::Clean)
}

async fn down_mongo(
    context: &Context,
    mongo: &MongoSettings,
    args: &DownArgs,
    target: DownTarget,
) -> anyhow::Result<Outcome> {
    let settings = &context.settings;
    let printer = &context.printer;
    let set = crate::mongo::migration::load_dir(&settings.mongo_migrations_dir)?;
    set.ensure_valid()?;
    let session = MongoSession::open(mongo).await?;
    let history_name = session.history_name().to_string();
    if args.dry_run {
        let history = session.read_history().await?;
        let steps = crate::mongo::plan::plan_down(&set, &history, target, &history_name)?;
        printer.report(&DownReport::Mongo(StoreDown {
            store: "mongo",
            database: session.display().to_string(),
            dry_run: true,
            plan: steps,
            reverted: Vec::new(),
        }));
        return Ok(Outcome::Clean);
    }
    let held = session.lock(printer).await?;
    let (steps, reverted) = under_lock(
        held,
        async |held| {
            let history = session.read_history().await?;
            let steps = crate::mongo::plan::plan_down(&set, &history, target, &history_name)?;
            if steps.is_empty() {
                return anyhow::Ok((steps, Vec::new()));
            }
            if !printer.is_json() || !settings.assume_yes {
                printer.step(format!(
                    "about to revert on {}:\n{}",
                    session.display(),
                    mongo_plan_table(&steps)
                ));
            }
            printer.confirm(settings.assume_yes, &confirm_question(steps.len()))?;
            let reverted =
                crate::mongo::engine::execute(&session, held, &set, &steps, printer).await?;
            Ok((steps, reverted))
        },
        |held| session.unlock(held),
    )
    .await?;
    printer.report(&DownReport::Mongo(StoreDown {
        store: "mongo",
        database: session.display().to_string(),
        dry_run: false,
        plan: steps,
        reverted,
    }));
    Ok(Outcome::Clean)
}
