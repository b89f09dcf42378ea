//! `migrate reset`: start over in development. Drop and recreate the PostgreSQL database, drop
//! the Mongo database, flush the configured Redis database (every configured store, or those
//! given with `--store`), apply every migration and load the seeds of the chosen environment
//! (seed document 004's migrate/seed/reset workflow, what `prisma migrate reset` does).
//!
//! Every input is read and checked and every store connected before anything is dropped; the
//! plan is shown and confirmed (`--yes` off a terminal); a protected environment refuses
//! unless `--allow-protected`.

use serde::Serialize;

use super::Context;
use super::seed::{self, SeedReport, SeedSource};
use super::up::{self, UpReport, UpRun};
use crate::cli::{ResetArgs, Store};
use crate::errors::{Detailed, Outcome};
use crate::output::{Report, table};
use crate::postgres::database::Admin;

#[derive(Debug, Serialize)]
pub struct ResetReport {
    pub dry_run: bool,
    pub plan: ResetPlan,
    /// What `up` did afterwards (absent on --dry-run).
    pub up: Option<UpReport>,
    /// What loading the seeds did (absent on --dry-run and without a seed environment).
    pub seed: Option<SeedReport>,
}

#[derive(Debug, Serialize)]
pub struct ResetPlan {
    /// `environment `dev` is protected: …`, when it is.
    pub protected: Option<String>,
    pub stores: Vec<ResetStore>,
    /// The seed environment loaded after migrating.
    pub seed_env: Option<String>,
    /// Why something is not done (no seed environment, `--no-seed`).
    pub notes: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct ResetStore {
    pub store: &'static str,
    /// `user@host:port/db` (never a password).
    pub database: String,
    /// What happens to it, e.g. `drop and create database app`.
    pub action: String,
}

impl ResetPlan {
    fn table(&self) -> table::Table {
        let mut t = table::new(&["#", "store", "database", "reset"]);
        for (index, store) in self.stores.iter().enumerate() {
            t.add_row(vec![
                (index + 1).to_string(),
                store.store.to_string(),
                store.database.clone(),
                store.action.clone(),
            ]);
        }
        t
    }

    /// The plan as people read it: what is dropped, then what is rebuilt.
    fn human(&self) -> String {
        let mut out = String::new();
        if let Some(line) = &self.protected {
            out.push_str(&format!("{line}\n"));
        }
        out.push_str(&format!("{}\n", self.table()));
        out.push_str("then apply every migration");
        match &self.seed_env {
            Some(env) => out.push_str(&format!(" and load the seeds of `{env}`\n")),
            None => out.push('\n'),
        }
        for note in &self.notes {
            out.push_str(&format!("({note})\n"));
        }
        out
    }
}

impl Report for ResetReport {
    fn human(&self) -> String {
        if self.dry_run {
            return format!(
                "reset plan (dry run, nothing changed):\n{}",
                self.plan.human()
            );
        }
        let mut out = String::new();
        if let Some(up) = &self.up {
            out.push_str(&up.human());
        }
        if let Some(seed) = &self.seed {
            out.push_str(&seed.human());
        }
        out
    }
}

pub async fn run(
    context: &Context,
    args: &ResetArgs,
    env_arg: Option<&str>,
) -> anyhow::Result<Outcome> {
    let settings = &context.settings;
    let printer = &context.printer;
    super::guard_protected(context, "reset", args.dry_run)?;
    let wants = |store: Store| args.store.is_empty() || args.store.contains(&store);
    let postgres = settings.postgres.as_ref().filter(|_| wants(Store::Pg));
    let mongo = settings.mongo.as_ref().filter(|_| wants(Store::Mongo));
    let redis = settings.redis.as_ref().filter(|_| wants(Store::Redis));
    if postgres.is_none() && mongo.is_none() && redis.is_none() {
        settings.require_postgres()?;
        return Err(Detailed::new("nothing to reset: none of the given stores is configured")
            .hint("pass --database-url, --mongodb-url or --redis-url (or set them in migrate.toml)")
            .into());
    }

    // Everything that could stop the rebuild is checked before anything is dropped: the
    // migration files (and a --store without a URL), the seed directory, the connections.
    up::check_inputs(settings, &args.store)?;
    let mut notes = Vec::new();
    let seeds = match (postgres, args.no_seed) {
        (None, _) => None,
        (Some(_), true) => {
            notes.push("no seeds: --no-seed".to_string());
            None
        }
        (Some(_), false) => match seed::chosen_env(settings, env_arg) {
            Some(env) => Some(SeedSource::read(settings, env)?),
            None => {
                notes.push(
                    "no seeds: no seed environment chosen (pass --env NAME or set [seeds] default_env)"
                        .to_string(),
                );
                None
            }
        },
    };
    let admin = match postgres {
        Some(pg) => Some(Admin::connect(&pg.target).await?),
        None => None,
    };
    let mongo_connection = match mongo {
        Some(mongo) => Some(crate::mongo::connect::connect(mongo).await?),
        None => None,
    };
    let topology = match redis {
        Some(redis) => Some(crate::redis::cluster::Topology::connect(redis).await?),
        None => None,
    };

    let mut stores = Vec::new();
    let mut pg_database = String::new();
    if let Some(admin) = &admin {
        let state = admin.state().await?;
        pg_database.clone_from(&state.database);
        let sessions = match state.sessions {
            0 => String::new(),
            1 => " (ending the 1 session connected to it)".to_string(),
            n => format!(" (ending the {n} sessions connected to it)"),
        };
        stores.push(ResetStore {
            store: "postgres",
            database: state.database.clone(),
            action: if state.exists {
                format!("drop and create database {}{sessions}", state.name)
            } else {
                format!("create database {} (it does not exist)", state.name)
            },
        });
    }
    if let Some(connection) = &mongo_connection {
        stores.push(ResetStore {
            store: "mongo",
            database: connection.display.clone(),
            action: format!("drop database {}", connection.database.name()),
        });
    }
    if let Some(topology) = &topology {
        stores.push(ResetStore {
            store: "redis",
            database: topology.display.clone(),
            action: "FLUSHDB: delete every key of this database".to_string(),
        });
    }
    let plan = ResetPlan {
        protected: super::protected_line(settings),
        stores,
        seed_env: seeds.as_ref().map(|source| source.env.clone()),
        notes,
    };
    if args.dry_run {
        printer.report(&ResetReport {
            dry_run: true,
            plan,
            up: None,
            seed: None,
        });
        return Ok(Outcome::Clean);
    }
    if !printer.is_json() || !settings.assume_yes {
        printer.step(format!("about to reset:\n{}", plan.human().trim_end()));
    }
    let databases: Vec<&str> = plan.stores.iter().map(|s| s.database.as_str()).collect();
    printer.confirm(
        settings.assume_yes,
        &format!("reset {}", databases.join(", ")),
    )?;

    if let Some(admin) = &admin {
        admin.drop(true).await?;
        admin.create().await?;
        printer.step(format!("postgres: recreated database {pg_database}"));
    }
    if let Some(connection) = &mongo_connection {
        connection.drop_database().await?;
        printer.step(format!("mongo: dropped database {}", connection.display));
    }
    if let Some(topology) = &topology {
        topology.flush_database().await?;
        printer.step(format!("redis: flushed {}", topology.display));
    }
    let up = up::apply(
        context,
        &UpRun {
            stores: args.store.clone(),
            ..UpRun::default()
        },
    )
    .await?;
    let seed = match &seeds {
        Some(source) => Some(seed::load(context, source, false, false).await?),
        None => None,
    };
    printer.report(&ResetReport {
        dry_run: false,
        plan,
        up: Some(up),
        seed,
    });
    Ok(Outcome::Clean)
}
