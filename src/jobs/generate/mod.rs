//! `seed generate`: realistic bulk data for the application's schema, generated
//! deterministically from a seed and streamed into PostgreSQL with binary COPY.
//!
//! Shape. From the number of tasks N: organizations max(1, N/20000), users max(N/10, 10 per
//! organization), one membership per user in its home organization plus a second one for about
//! 10% of the users, projects max(organizations, N/100) with about 15% sub-projects, 3 to 6
//! project members per project, N tasks with about 20% sub-tasks, N/2 comments (threads on
//! tasks) and N activity-log entries. Everything falls in the 365 days before `--as-of`.
//!
//! Determinism and memory. Every value comes from a keyed SplitMix64 hash of (seed, table,
//! row index, field), never from a shared stream, so a row's attributes (its id, its project,
//! its creation time) can be recomputed from its index alone. Children therefore reference
//! parents without any lookup table: task `t` belongs to project `t % projects`, a sub-task's
//! parent is an earlier task of the same project (`t - k * projects`), user `o + j * orgs` is the
//! j-th user of organization `o`. Nothing is collected: rows are generated and written one at a
//! time, so memory stays flat whatever N is. Ids are UUIDs in the version-4 layout made from
//! the hash, so the same seed gives the same ids; different seeds give disjoint ids, e-mail
//! addresses (`first.last.N@sSEED.example.org`) and slugs, so several seeds can live side by
//! side, and loading a seed twice is refused up front (its first organization exists).
//! Timestamps are relative to `--as-of` (default: today), so the same seed and the same
//! `--as-of` give the same data, byte for byte.
//!
//! Triggers. The load keeps every trigger on (`session_replication_role` stays `origin`): the
//! server checks each foreign key, fills `tasks.search_vector` and writes the `audit_logs` rows
//! of users, organizations, projects and tasks, exactly as for rows the application inserts.
//! Measured for 100,000 tasks (COPY into `tasks` alone): 23 s with triggers on, 16 s without
//! the audit trigger, 8 s in `replica` mode, but then `search_vector` is empty; filling it
//! afterwards with an UPDATE (every row and index entry written twice) brings it to 21 s, and
//! staging each batch in a temporary table to INSERT ... SELECT it with the vector computed to
//! 9 s. Replica mode was not chosen: it is reserved to superusers (an owner with BYPASSRLS
//! could not use it), it skips the foreign-key checks (validity would rest on this generator
//! alone) and the audit trail (which the anonymization and retention jobs work on). With
//! triggers on in both, the load reached 85% (1M tasks) to 136% (100k) of the rows per second
//! of `psql`'s `\copy` of the same rows from CSV files (`bench/run`, case `seed`): the server
//! does the same work for both, and generating a row costs the client about a microsecond.
//!
//! Row-level security. COPY into a table with row-level security is refused unless the role
//! bypasses it; the migrating role is the owner and a superuser (or has BYPASSRLS), which is
//! checked first. The policies are not changed.
//!
//! Partitions. `activity_logs` is partitioned by month. Before loading,
//! `create_activity_log_partitions()` is called (what `migrate maintain` does: the current
//! month and three ahead), so rows of the current month land in their partition. Generated
//! history of earlier months lands in `activity_logs_default`, like any history older than
//! the partitioning: the function only creates partitions from the current month on, and
//! creating past partitions here would be schema work that no migration or job knows about.
//!
//! Everything is loaded in one transaction (all or nothing), as COPY statements of at most
//! `batch_rows` rows each (the server queues foreign-key checks per statement), in
//! foreign-key order; an ANALYZE of the loaded tables follows the commit.

use std::error::Error as StdError;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::pin::Pin;
use std::time::Instant;

use bytes::{BufMut, BytesMut};
use chrono::{Datelike, NaiveDate};
use indicatif::ProgressBar;
use serde::Serialize;
use tokio_postgres::Client;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{IsNull, Kind, ToSql, Type, to_sql_checked};

use crate::config::PgSettings;
use crate::errors::{DbError, Detailed};
use crate::postgres::session::Session;

mod binary;
mod copy;
mod tables;
mod vocabulary;
mod world;

use binary::*;
use copy::*;
use tables::*;
use vocabulary::*;
use world::*;

/// What to generate.
#[derive(Debug, Clone)]
pub struct Options {
    pub tasks: u64,
    pub seed: u64,
    /// The generated history ends at this day's midnight (UTC).
    pub as_of: NaiveDate,
    /// Rows per COPY statement.
    pub batch_rows: u64,
}

/// The tables in load (foreign-key) order, with their row counts.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub seed: u64,
    pub as_of: NaiveDate,
    pub tables: Vec<TableRows>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TableRows {
    pub table: &'static str,
    pub rows: u64,
}

impl Plan {
    pub fn total_rows(&self) -> u64 {
        self.tables.iter().map(|t| t.rows).sum()
    }
}

/// What was loaded into one table.
#[derive(Debug, Clone, Serialize)]
pub struct Loaded {
    pub table: &'static str,
    pub rows: u64,
    pub seconds: f64,
    pub rows_per_second: f64,
}

/// The result of a load: per table, plus the time of the whole run (ANALYZE included).
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub tables: Vec<Loaded>,
    pub analyze_seconds: f64,
    pub seconds: f64,
}

pub fn plan(options: &Options) -> Plan {
    let world = World::new(options);
    let memberships = (0..world.users)
        .map(|u| 1 + u64::from(world.second_org(u).is_some()))
        .sum();
    let project_members = (0..world.projects).map(|p| world.team_size(p)).sum();
    Plan {
        seed: options.seed,
        as_of: options.as_of,
        tables: vec![
            TableRows {
                table: "users",
                rows: world.users,
            },
            TableRows {
                table: "organizations",
                rows: world.orgs,
            },
            TableRows {
                table: "organization_members",
                rows: memberships,
            },
            TableRows {
                table: "projects",
                rows: world.projects,
            },
            TableRows {
                table: "project_members",
                rows: project_members,
            },
            TableRows {
                table: "tasks",
                rows: world.tasks,
            },
            TableRows {
                table: "comments",
                rows: world.comments,
            },
            TableRows {
                table: "activity_logs",
                rows: world.activities,
            },
        ],
    }
}

/// `execute_on` a connection of its own to `pg`; the caller's session holds the migration
/// lock meanwhile.
pub async fn execute(
    pg: &PgSettings,
    options: &Options,
    plan: &Plan,
    bar: &ProgressBar,
) -> anyhow::Result<Outcome> {
    let client = Session::open(pg).await?.into_client();
    execute_on(&client, options, plan, bar).await
}

/// Loads the plan's data in one transaction on `client`, then analyzes the tables. The
/// progress bar counts rows over all tables.
pub async fn execute_on(
    client: &Client,
    options: &Options,
    plan: &Plan,
    bar: &ProgressBar,
) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    ensure_bypasses_rls(client).await?;
    let world = World::new(options);
    ensure_not_loaded(client, &world).await?;
    client
        .batch_execute(
            "BEGIN; SET LOCAL statement_timeout = 0; \
             SELECT count(*) FROM create_activity_log_partitions()",
        )
        .await
        .map_err(|err| query_error("cannot prepare the load", err))?;
    let loaded = load_all(client, &world, plan, options.batch_rows, bar).await;
    let tables = match loaded {
        Ok(tables) => tables,
        Err(err) => {
            let _ = client.batch_execute("ROLLBACK").await;
            let rolled_back = "the transaction was rolled back: nothing was loaded";
            let err = match err.downcast::<DbError>() {
                Ok(db) => return Err(db.context(rolled_back).into()),
                Err(other) => other,
            };
            return Err(match err.downcast::<Detailed>() {
                Ok(detailed) => detailed.context(rolled_back).into(),
                Err(other) => Detailed::new(format!("{other:#}"))
                    .context(rolled_back)
                    .into(),
            });
        }
    };
    client
        .batch_execute("COMMIT")
        .await
        .map_err(|err| query_error("cannot commit the generated data", err))?;
    let analyze_started = Instant::now();
    let names: Vec<&str> = plan.tables.iter().map(|t| t.table).collect();
    client
        .batch_execute(&format!("ANALYZE {}", names.join(", ")))
        .await
        .map_err(|err| query_error("cannot analyze the loaded tables", err))?;
    Ok(Outcome {
        tables,
        analyze_seconds: analyze_started.elapsed().as_secs_f64(),
        seconds: started.elapsed().as_secs_f64(),
    })
}

async fn load_all(
    client: &Client,
    world: &World,
    plan: &Plan,
    batch_rows: u64,
    bar: &ProgressBar,
) -> anyhow::Result<Vec<Loaded>> {
    let mut results = Vec::new();
    for table in &plan.tables {
        bar.set_message(table.table);
        let started = Instant::now();
        let mut copy = CopyStream::open(client, table.table, batch_rows, bar).await?;
        let written = match table.table {
            "users" => load_users(world, &mut copy).await,
            "organizations" => load_organizations(world, &mut copy).await,
            "organization_members" => load_memberships(world, &mut copy).await,
            "projects" => load_projects(world, &mut copy).await,
            "project_members" => load_project_members(world, &mut copy).await,
            "tasks" => load_tasks(world, &mut copy).await,
            "comments" => load_comments(world, &mut copy).await,
            "activity_logs" => load_activities(world, &mut copy).await,
            other => anyhow::bail!("internal error: no generator for table {other}"),
        };
        written.map_err(|err| query_error(&format!("cannot load {}", table.table), err))?;
        let rows = copy
            .finish()
            .await
            .map_err(|err| query_error(&format!("cannot load {}", table.table), err))?;
        if rows != table.rows {
            anyhow::bail!(
                "internal error: {} rows planned for {} but {rows} loaded",
                table.rows,
                table.table
            );
        }
        let seconds = started.elapsed().as_secs_f64();
        results.push(Loaded {
            table: table.table,
            rows,
            seconds,
            rows_per_second: rows as f64 / seconds.max(1e-9),
        });
    }
    Ok(results)
}

/// COPY into a table with row-level security needs a role that bypasses it.
async fn ensure_bypasses_rls(client: &Client) -> anyhow::Result<()> {
    let row = client
        .query_one(
            "SELECT current_user::text, rolsuper OR rolbypassrls
             FROM pg_roles WHERE rolname = current_user",
            &[],
        )
        .await
        .map_err(|err| query_error("cannot read the current role", err))?;
    let (role, bypasses): (String, bool) = (row.get(0), row.get(1));
    if !bypasses {
        return Err(Detailed::new(format!(
            "role {role} is subject to row-level security: generated data is loaded as the \
             schema owner"
        ))
        .hint("connect as the migrating role (a superuser, or a role with BYPASSRLS)")
        .into());
    }
    Ok(())
}

/// Ids are derived from the seed: if the seed's first organization or user exists, this seed
/// was loaded already and every row would collide.
async fn ensure_not_loaded(client: &Client, world: &World) -> anyhow::Result<()> {
    let org = world.id(ORG, 0);
    let user = world.id(USER, 0);
    let loaded: bool = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM organizations WHERE id = $1)
                 OR EXISTS (SELECT 1 FROM users WHERE id = $2)",
            &[&org, &user],
        )
        .await
        .map_err(|err| query_error("cannot check for earlier generated data", err))?
        .get(0);
    if loaded {
        return Err(Detailed::new(format!(
            "data generated with --seed {} is already loaded",
            world.seed
        ))
        .context(format!(
            "organization {} or user {} exists: loading again would duplicate every id",
            org, user
        ))
        .hint("pass another --seed to add more data, or load into a fresh database")
        .into());
    }
    Ok(())
}

fn query_error(what: &str, err: tokio_postgres::Error) -> anyhow::Error {
    DbError::new(what, err).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(tasks: u64, seed: u64) -> Options {
        Options {
            tasks,
            seed,
            as_of: NaiveDate::from_ymd_opt(2025, 6, 1).unwrap(),
            batch_rows: 1000,
        }
    }

    #[test]
    fn ids_are_deterministic_version_4_uuids() {
        let world = World::new(&options(1000, 42));
        let id = world.id(TASK, 7);
        assert_eq!(id, World::new(&options(5000, 42)).id(TASK, 7));
        assert_ne!(id, World::new(&options(1000, 43)).id(TASK, 7));
        assert_ne!(id, world.id(TASK, 8));
        assert_ne!(id, world.id(PROJECT, 7));
        let text = id.to_string();
        assert_eq!(text.len(), 36);
        assert_eq!(&text[14..15], "4", "{text}");
        assert!(matches!(&text[19..20], "8" | "9" | "a" | "b"), "{text}");
    }

    #[test]
    fn sizes_scale_with_tasks() {
        let plan = plan(&options(1_000_000, 42));
        let rows = |table: &str| plan.tables.iter().find(|t| t.table == table).unwrap().rows;
        assert_eq!(rows("organizations"), 50);
        assert_eq!(rows("users"), 100_000);
        assert_eq!(rows("projects"), 10_000);
        assert_eq!(rows("tasks"), 1_000_000);
        assert_eq!(rows("comments"), 500_000);
        assert_eq!(rows("activity_logs"), 1_000_000);
        let members = rows("organization_members");
        assert!((105_000..115_000).contains(&members), "{members}");
        let small = super::plan(&options(0, 42));
        assert_eq!(small.total_rows() - small.tables[4].rows, 10 + 1 + 10 + 1);
    }

    #[test]
    fn parents_are_earlier_top_level_rows_of_the_same_group() {
        let world = World::new(&options(100_000, 7));
        let mut sub_tasks = 0;
        for t in 0..world.tasks {
            if let Some(parent) = world.task_parent(t) {
                sub_tasks += 1;
                assert!(parent < t);
                assert_eq!(world.task_project(parent), world.task_project(t));
                assert_eq!(world.task_parent(parent), None);
                assert!(world.task_created(parent) < world.task_created(t));
            }
            assert!(world.task_created(t) < world.end);
        }
        assert!((17_000..21_000).contains(&sub_tasks), "{sub_tasks}");
        for p in 0..world.projects {
            if let Some(parent) = world.project_parent(p) {
                assert!(parent < p);
                assert_eq!(world.project_org(parent), world.project_org(p));
                assert_eq!(world.project_parent(parent), None);
            }
            let members: Vec<u64> = (0..world.team_size(p))
                .map(|k| world.team_member(p, k))
                .collect();
            let mut distinct = members.clone();
            distinct.sort();
            distinct.dedup();
            assert_eq!(distinct.len(), members.len());
            assert!(
                members
                    .iter()
                    .all(|u| u % world.orgs == world.project_org(p))
            );
        }
    }

    #[test]
    fn second_memberships_are_in_another_organization() {
        let world = World::new(&options(200_000, 1));
        let mut seconds = 0;
        for u in 0..world.users {
            if let Some(o) = world.second_org(u) {
                seconds += 1;
                assert_ne!(o, u % world.orgs);
                assert!(o < world.orgs);
            }
        }
        assert!(seconds > world.users / 20, "{seconds}");
    }

    #[test]
    fn numeric_encoding() {
        let encode = |hundredths| {
            let mut out = BytesMut::new();
            encode_numeric(hundredths, &mut out);
            out.to_vec()
        };
        // 1234.50: 2 digits, weight 0, positive, scale 2, [1234, 5000].
        assert_eq!(
            encode(123_450),
            [0, 2, 0, 0, 0, 0, 0, 2, 0x04, 0xd2, 0x13, 0x88]
        );
        // 0.25: 1 digit, weight -1.
        assert_eq!(encode(25), [0, 1, 0xff, 0xff, 0, 0, 0, 2, 0x09, 0xc4]);
        // 10000.00: 1 digit, weight 1.
        assert_eq!(encode(1_000_000), [0, 1, 0, 1, 0, 0, 0, 2, 0, 1]);
        // 0.
        assert_eq!(encode(0), [0, 0, 0, 0, 0, 0, 0, 2]);
    }

    #[test]
    fn slugs_match_the_schema_format() {
        let mut slug = String::new();
        slug_into("Northwind  API Client", &mut slug);
        assert_eq!(slug, "northwind-api-client");
    }
}
