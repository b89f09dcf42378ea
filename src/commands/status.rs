//! `migrate status [--exit-code]`: one table with every migration of every store, and the
//! state of the Redis keyspace setup. With `--exit-code`, exit 2 unless every store is current.

use serde::Serialize;

use super::Context;
use crate::cli::StatusArgs;
use crate::config::Settings;
use crate::errors::Outcome;
use crate::mongo::migration::MongoSet;
use crate::output::{Report, table};
use crate::postgres::migration::MigrationSet;
use crate::postgres::plan::{self, Entry, State};
use crate::redis::keyspace::{self, Keyspace, Passwords};
use crate::redis::setup::{self, Action};

#[derive(Debug, Serialize)]
pub struct StatusReport {
    pub stores: Vec<StoreStatus>,
}

#[derive(Debug, Serialize)]
pub struct StoreStatus {
    pub store: &'static str,
    pub database: String,
    /// The newest version applied (or adopted by a baseline); for Redis, the keyspace schema
    /// version on the server. `None`: nothing applied yet.
    pub version: Option<u64>,
    pub migrations: Vec<Entry>,
    pub summary: Summary,
    /// The Redis keyspace setup (Redis only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keyspace: Option<KeyspaceStatus>,
}

#[derive(Debug, Serialize, Default)]
pub struct Summary {
    pub applied: usize,
    /// Migrations adopted by `baseline`: recorded as done, never run by migrate.
    pub baseline: usize,
    pub pending: usize,
    pub problems: usize,
}

impl Summary {
    pub fn of(entries: &[Entry]) -> Summary {
        let mut summary = Summary::default();
        for entry in entries {
            match entry.state {
                State::Applied => summary.applied += 1,
                State::Baseline => summary.baseline += 1,
                State::Pending | State::Outdated => summary.pending += 1,
                _ => {}
            }
            if entry.state.is_problem() {
                summary.problems += 1;
            }
        }
        summary
    }
}

/// Whether the server's keyspace matches the declaration.
#[derive(Debug, Serialize)]
pub struct KeyspaceStatus {
    pub namespace: String,
    pub declared_version: u32,
    /// Schema version recorded on the server (`None`: never set up).
    pub version: Option<u32>,
    pub applied_at: Option<String>,
    /// `current`, `pending` (never set up), `outdated` (changes pending) or `newer` (the
    /// server was set up from a newer declaration).
    pub state: &'static str,
    /// What `up` would change.
    pub pending: Vec<Action>,
    pub notes: Vec<String>,
}

impl StoreStatus {
    /// Every migration applied and unchanged, and the Redis keyspace set up as declared.
    fn is_current(&self) -> bool {
        self.migrations.iter().all(|entry| entry.state.is_current())
            && self.keyspace.as_ref().is_none_or(|k| k.state == "current")
    }
}

impl Report for StatusReport {
    fn human(&self) -> String {
        let mut t = table::new(&[
            "store",
            "version",
            "name",
            "state",
            "applied at (UTC)",
            "took",
            "note",
        ]);
        for store in &self.stores {
            for entry in &store.migrations {
                t.add_row(vec![
                    store.store.to_string(),
                    entry
                        .version
                        .map_or_else(|| "R".to_string(), |v| v.to_string()),
                    entry.name.clone(),
                    entry.state.as_str().to_string(),
                    entry.applied_at.map_or_else(String::new, utc_seconds),
                    entry
                        .execution_ms
                        .map_or_else(String::new, crate::output::human_ms),
                    entry.note.clone().unwrap_or_default(),
                ]);
            }
            if let Some(keyspace) = &store.keyspace {
                let pending: Vec<String> = keyspace
                    .pending
                    .iter()
                    .map(|a| format!("{} {}", setup::action_verb(a.action), a.target))
                    .collect();
                let note = match keyspace.state {
                    "newer" => format!(
                        "declared version {} is older than the server's",
                        keyspace.declared_version
                    ),
                    "current" => String::new(),
                    _ => format!(
                        "declared version {}; up would: {}",
                        keyspace.declared_version,
                        pending.join(", ")
                    ),
                };
                t.add_row(vec![
                    store.store.to_string(),
                    keyspace
                        .version
                        .map_or_else(|| "-".to_string(), |v| v.to_string()),
                    format!("keyspace {}", keyspace.namespace),
                    keyspace.state.to_string(),
                    keyspace
                        .applied_at
                        .as_deref()
                        .map(|at| at.replace('T', " ").chars().take(19).collect())
                        .unwrap_or_default(),
                    String::new(),
                    note,
                ]);
            }
        }
        let mut out = format!("{t}\n");
        for store in &self.stores {
            match &store.keyspace {
                Some(keyspace) => out.push_str(&format!(
                    "{}: keyspace `{}` {}{} ({})\n",
                    store.store,
                    keyspace.namespace,
                    keyspace.state,
                    match keyspace.state {
                        "current" => format!(" at version {}", keyspace.declared_version),
                        "newer" => String::new(),
                        _ => format!(
                            ", {} change{} pending",
                            keyspace.pending.len(),
                            if keyspace.pending.len() == 1 { "" } else { "s" }
                        ),
                    },
                    store.database
                )),
                None => out.push_str(&format!(
                    "{}: {} applied, {}{} pending, {} with problems ({})\n",
                    store.store,
                    store.summary.applied,
                    match store.summary.baseline {
                        0 => String::new(),
                        n => format!("{n} adopted by baseline, "),
                    },
                    store.summary.pending,
                    store.summary.problems,
                    store.database
                )),
            }
        }
        out
    }
}

/// `2026-11-22 07:35:02`: what `format("%Y-%m-%d %H:%M:%S")` prints, without parsing the
/// format string again for every row of a long table.
fn utc_seconds(at: chrono::DateTime<chrono::Utc>) -> String {
    use chrono::{Datelike, Timelike};
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        at.year(),
        at.month(),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

/// The files `status` compares the stores against.
struct Inputs {
    postgres: Option<MigrationSet>,
    mongo: Option<MongoSet>,
    redis: Option<Keyspace>,
}

/// Reads what each configured store's status is compared against. File problems do not stop
/// `status`: they are shown as warnings.
fn read_inputs(settings: &Settings) -> anyhow::Result<Inputs> {
    let postgres = match &settings.postgres {
        Some(_) => Some(crate::postgres::migration::load_dir(
            &settings.migrations_dir,
        )?),
        None => None,
    };
    let dir = &settings.mongo_migrations_dir;
    let mongo = match &settings.mongo {
        Some(_) if dir.is_dir() => Some(crate::mongo::migration::load_dir(dir)?),
        _ => None,
    };
    let redis = match settings.redis.as_ref().and_then(|r| r.keyspace.as_ref()) {
        Some(declaration) => Some(keyspace::load(declaration, Passwords::IfSet)?),
        None => None,
    };
    Ok(Inputs {
        postgres,
        mongo,
        redis,
    })
}

pub async fn run(context: &Context, args: &StatusArgs) -> anyhow::Result<Outcome> {
    let settings = &context.settings;
    let printer = &context.printer;
    if settings.postgres.is_none() && settings.mongo.is_none() && settings.redis.is_none() {
        settings.require_postgres()?;
    }
    let owned = settings.clone();
    let redis_settings = settings.redis.as_ref().filter(|r| r.keyspace.is_some());
    let (inputs, (pg_session, mongo_session, topology)) = super::read_while_connecting(
        move || read_inputs(&owned),
        super::connect_stores(
            settings.postgres.as_ref(),
            settings.mongo.as_ref(),
            redis_settings,
        ),
    )
    .await?;
    let mut stores = Vec::new();
    // Printed at the end: an error must be the first line of output.
    let mut skipped = super::Skipped::default();
    match (&settings.postgres, inputs.postgres, pg_session) {
        (Some(pg), Some(set), Some(session)) => {
            for problem in &set.problems {
                printer.warn(problem.to_string());
            }
            let history = session.read_history().await?;
            let migrations = plan::status(&set, &history);
            let summary = Summary::of(&migrations);
            stores.push(StoreStatus {
                store: "postgres",
                database: pg.target.to_string(),
                version: plan::current_version(&history),
                migrations,
                summary,
                keyspace: None,
            });
        }
        _ => skipped.unconfigured("postgres"),
    }
    match mongo_session {
        None => skipped.unconfigured("mongo"),
        Some(session) => {
            let set = inputs.mongo.unwrap_or_else(|| {
                skipped.note(format!(
                    "mongo: no migrations directory {}",
                    settings.mongo_migrations_dir.display()
                ));
                MongoSet::default()
            });
            for problem in &set.problems {
                printer.warn(problem.to_string());
            }
            let history = session.read_history().await?;
            let migrations = crate::mongo::plan::status(&set, &history);
            let summary = Summary::of(&migrations);
            stores.push(StoreStatus {
                store: "mongo",
                database: session.display().to_string(),
                version: crate::mongo::plan::current_version(&history),
                migrations,
                summary,
                keyspace: None,
            });
        }
    }
    match &settings.redis {
        None => skipped.unconfigured("redis"),
        Some(_) => match (inputs.redis, topology) {
            (Some(keyspace), Some(topology)) => {
                let plan = setup::plan(&topology, &keyspace).await?;
                let state = plan.state();
                stores.push(StoreStatus {
                    store: "redis",
                    database: topology.display.clone(),
                    version: plan.server.version.map(u64::from),
                    migrations: Vec::new(),
                    summary: Summary {
                        applied: usize::from(state == "current"),
                        baseline: 0,
                        pending: plan.actions.len(),
                        problems: usize::from(state == "newer"),
                    },
                    keyspace: Some(KeyspaceStatus {
                        namespace: keyspace.namespace.clone(),
                        declared_version: keyspace.schema_version,
                        version: plan.server.version,
                        applied_at: plan.server.applied_at.clone(),
                        state,
                        pending: plan.actions.clone(),
                        notes: plan.notes.clone(),
                    }),
                });
            }
            _ => skipped.note("redis: [redis] declares no keyspace, skipped"),
        },
    }
    skipped.print(printer);
    let current = stores.iter().all(StoreStatus::is_current);
    printer.report(&StatusReport { stores });
    Ok(if args.exit_code && !current {
        Outcome::Problems
    } else {
        Outcome::Clean
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn utc_seconds_matches_chrono_format() {
        for text in ["2026-11-22T07:35:02.999Z", "0999-01-02T03:04:05Z"] {
            let at: chrono::DateTime<chrono::Utc> = text.parse().unwrap();
            assert_eq!(
                super::utc_seconds(at),
                at.format("%Y-%m-%d %H:%M:%S").to_string()
            );
        }
    }
}
