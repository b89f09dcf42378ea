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

use crate::errors::Detailed;

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

/// Loads the plan's data in one transaction, then analyzes the tables. The progress bar
/// counts rows over all tables.
pub async fn execute(
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
        .map_err(|err| query_error("cannot prepare the load", &err))?;
    let loaded = load_all(client, &world, plan, options.batch_rows, bar).await;
    let tables = match loaded {
        Ok(tables) => tables,
        Err(err) => {
            let _ = client.batch_execute("ROLLBACK").await;
            let rolled_back = "the transaction was rolled back: nothing was loaded";
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
        .map_err(|err| query_error("cannot commit the generated data", &err))?;
    let analyze_started = Instant::now();
    let names: Vec<&str> = plan.tables.iter().map(|t| t.table).collect();
    client
        .batch_execute(&format!("ANALYZE {}", names.join(", ")))
        .await
        .map_err(|err| query_error("cannot analyze the loaded tables", &err))?;
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
        written.map_err(|err| query_error(&format!("cannot load {}", table.table), &err))?;
        let rows = copy
            .finish()
            .await
            .map_err(|err| query_error(&format!("cannot load {}", table.table), &err))?;
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
        .map_err(|err| query_error("cannot read the current role", &err))?;
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
        .map_err(|err| query_error("cannot check for earlier generated data", &err))?
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

fn query_error(what: &str, err: &tokio_postgres::Error) -> anyhow::Error {
    Detailed::new(format!("{what}: {}", super::connect::describe_error(err))).into()
}

// ---------------------------------------------------------------------------------------------
// COPY

/// One table's COPY, split into statements of at most `batch_rows` rows.
struct CopyStream<'a> {
    client: &'a Client,
    statement: String,
    types: Vec<Type>,
    batch_rows: u64,
    writer: Option<Pin<Box<BinaryCopyInWriter>>>,
    in_batch: u64,
    /// Rows the server confirmed, over finished statements.
    confirmed: u64,
    unreported: u64,
    bar: &'a ProgressBar,
}

impl<'a> CopyStream<'a> {
    async fn open(
        client: &'a Client,
        table: &'static str,
        batch_rows: u64,
        bar: &'a ProgressBar,
    ) -> anyhow::Result<CopyStream<'a>> {
        let columns = columns(table);
        // The column types (enums, citext) are the server's: read them from a query that
        // returns no rows.
        let probe = client
            .prepare(&format!("SELECT {columns} FROM {table} LIMIT 0"))
            .await
            .map_err(|err| query_error(&format!("cannot read the columns of {table}"), &err))?;
        Ok(CopyStream {
            client,
            statement: format!("COPY {table} ({columns}) FROM STDIN (FORMAT binary)"),
            types: probe.columns().iter().map(|c| c.type_().clone()).collect(),
            batch_rows: batch_rows.max(1),
            writer: None,
            in_batch: 0,
            confirmed: 0,
            unreported: 0,
            bar,
        })
    }

    async fn row(&mut self, values: &[&(dyn ToSql + Sync)]) -> Result<(), tokio_postgres::Error> {
        let writer = match &mut self.writer {
            Some(writer) => writer,
            None => {
                let sink = self.client.copy_in(self.statement.as_str()).await?;
                self.writer
                    .insert(Box::pin(BinaryCopyInWriter::new(sink, &self.types)))
            }
        };
        writer.as_mut().write(values).await?;
        self.in_batch += 1;
        self.unreported += 1;
        if self.unreported == 4096 {
            self.bar.inc(self.unreported);
            self.unreported = 0;
        }
        if self.in_batch == self.batch_rows {
            self.end_statement().await?;
        }
        Ok(())
    }

    async fn end_statement(&mut self) -> Result<(), tokio_postgres::Error> {
        if let Some(mut writer) = self.writer.take() {
            self.confirmed += writer.as_mut().finish().await?;
        }
        self.in_batch = 0;
        Ok(())
    }

    /// Ends the last statement; returns the rows the server counted.
    async fn finish(mut self) -> Result<u64, tokio_postgres::Error> {
        self.end_statement().await?;
        self.bar.inc(self.unreported);
        Ok(self.confirmed)
    }
}

/// The columns each table is loaded with; the others get their defaults (NULL, `'{}'`, ...).
fn columns(table: &str) -> &'static str {
    match table {
        "users" => {
            "id, email, password_hash, name, first_name, last_name, role, status, email_verified, \
             email_verified_at, two_factor_enabled, last_login_at, created_at, updated_at"
        }
        "organizations" => {
            "id, name, slug, description, organization_type, industry, size, status, website_url, \
             contact_email, subscription_tier, owner_id, created_at, updated_at"
        }
        "organization_members" => {
            "id, organization_id, user_id, role, invited_by, joined_at, created_at, updated_at"
        }
        "projects" => {
            "id, organization_id, parent_id, name, slug, description, status, priority, \
             project_type, manager_id, start_date, end_date, completion_date, budget, \
             estimated_hours, actual_hours, tags, created_by, created_at, updated_at"
        }
        "project_members" => {
            "id, organization_id, project_id, user_id, is_active, joined_at, created_at, updated_at"
        }
        "tasks" => {
            "id, organization_id, project_id, parent_id, assignee_id, title, description, status, \
             priority, start_date, due_date, completed_at, estimated_hours, actual_hours, tags, \
             custom_fields, created_by, created_at, updated_at"
        }
        "comments" => {
            "id, organization_id, project_id, entity_type, entity_id, parent_id, author_id, \
             content, mentions, edited_at, created_at, updated_at"
        }
        "activity_logs" => {
            "id, organization_id, user_id, project_id, action, entity_type, entity_id, metadata, \
             ip_address, user_agent, session_id, created_at"
        }
        _ => "",
    }
}

// ---------------------------------------------------------------------------------------------
// Values in PostgreSQL's binary format

type EncodeResult = Result<IsNull, Box<dyn StdError + Sync + Send>>;

/// A UUID as its 16 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Uuid([u8; 16]);

impl std::fmt::Display for Uuid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, byte) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                f.write_char('-')?;
            }
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl ToSql for Uuid {
    fn to_sql(&self, _: &Type, out: &mut BytesMut) -> EncodeResult {
        out.put_slice(&self.0);
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::UUID
    }

    to_sql_checked!();
}

/// A label of a PostgreSQL enum (sent as its text, which the server checks).
#[derive(Debug, Clone, Copy)]
struct Label(&'static str);

impl ToSql for Label {
    fn to_sql(&self, _: &Type, out: &mut BytesMut) -> EncodeResult {
        out.put_slice(self.0.as_bytes());
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        matches!(ty.kind(), Kind::Enum(_))
    }

    to_sql_checked!();
}

/// A jsonb value from its JSON text.
#[derive(Debug, Clone, Copy)]
struct Jsonb<'a>(&'a str);

impl ToSql for Jsonb<'_> {
    fn to_sql(&self, _: &Type, out: &mut BytesMut) -> EncodeResult {
        out.put_u8(1);
        out.put_slice(self.0.as_bytes());
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::JSONB
    }

    to_sql_checked!();
}

/// Microseconds since 2000-01-01 00:00 UTC (PostgreSQL's epoch), as a timestamptz.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Timestamp(i64);

impl ToSql for Timestamp {
    fn to_sql(&self, _: &Type, out: &mut BytesMut) -> EncodeResult {
        out.put_i64(self.0);
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::TIMESTAMPTZ
    }

    to_sql_checked!();
}

/// Days since 2000-01-01, as a date.
#[derive(Debug, Clone, Copy)]
struct Date(i32);

impl Date {
    fn of(at: Timestamp) -> Date {
        // Timestamps are within a few years of 2000: the day count fits an i32.
        Date(at.0.div_euclid(DAY) as i32)
    }
}

impl ToSql for Date {
    fn to_sql(&self, _: &Type, out: &mut BytesMut) -> EncodeResult {
        out.put_i32(self.0);
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::DATE
    }

    to_sql_checked!();
}

/// A non-negative amount in hundredths (`1234.50` is 123450), as a numeric with two decimals.
#[derive(Debug, Clone, Copy)]
struct Hundredths(u64);

impl ToSql for Hundredths {
    fn to_sql(&self, _: &Type, out: &mut BytesMut) -> EncodeResult {
        encode_numeric(self.0, out);
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::NUMERIC
    }

    to_sql_checked!();
}

/// numeric's binary form: digit count, weight (base-10000 exponent of the first digit), sign,
/// display scale, then the base-10000 digits.
fn encode_numeric(hundredths: u64, out: &mut BytesMut) {
    let mut groups = [0u16; 6];
    let mut n_integer = 0;
    let mut integer = hundredths / 100;
    while integer > 0 {
        groups[n_integer] = (integer % 10_000) as u16;
        integer /= 10_000;
        n_integer += 1;
    }
    groups[..n_integer].reverse();
    let fraction = ((hundredths % 100) * 100) as u16;
    groups[n_integer] = fraction;
    let mut n_digits = n_integer + 1;
    // Trailing zero digits are implied by the weight: leave them out, as PostgreSQL does.
    while n_digits > 0 && groups[n_digits - 1] == 0 {
        n_digits -= 1;
    }
    out.put_i16(n_digits as i16);
    // The weight of zero (no digits) is 0, as PostgreSQL sends it.
    out.put_i16(match (n_integer, n_digits) {
        (_, 0) => 0,
        (0, _) => -1,
        _ => n_integer as i16 - 1,
    });
    out.put_u16(0); // positive
    out.put_u16(2); // two decimals
    for digit in &groups[..n_digits] {
        out.put_u16(*digit);
    }
}

// ---------------------------------------------------------------------------------------------
// Deterministic values

/// The SplitMix64 finalizer: a bijection of u64 with good avalanche.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

const GOLDEN: u64 = 0x9e37_79b9_7f4a_7c15;

/// SplitMix64: the stream of one row's values.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GOLDEN);
        mix(self.0)
    }

    /// Uniform in `0..n` (0 when n is 0).
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }

    fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.below(high - low + 1)
    }

    fn percent(&mut self, p: u64) -> bool {
        self.below(100) < p
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }

    /// An item by weight: `[(item, weight), ...]`.
    fn weighted<T: Copy>(&mut self, items: &[(T, u64)]) -> T {
        let total: u64 = items.iter().map(|(_, w)| w).sum();
        let mut roll = self.below(total);
        for (item, weight) in items {
            if roll < *weight {
                return *item;
            }
            roll -= weight;
        }
        items[items.len() - 1].0
    }

    /// A timestamp in `from..to` (`from` when the range is empty).
    fn time(&mut self, from: Timestamp, to: Timestamp) -> Timestamp {
        Timestamp(from.0 + self.below(to.0.saturating_sub(from.0).max(0) as u64) as i64)
    }

    /// Up to `max` distinct tags, in vocabulary order.
    fn tags<'v>(&mut self, vocabulary: &[&'v str], max: u64, into: &mut Vec<&'v str>) {
        into.clear();
        let n = self.below(max + 1);
        let start = self.below(vocabulary.len() as u64) as usize;
        let step = 1 + self.below(3) as usize;
        for i in 0..n as usize {
            let tag = vocabulary[(start + i * step) % vocabulary.len()];
            if !into.contains(&tag) {
                into.push(tag);
            }
        }
    }
}

const DAY: i64 = 86_400_000_000;
const HOUR: i64 = 3_600_000_000;

// Table tags of the keyed hash.
const USER: u64 = 1;
const ORG: u64 = 2;
const MEMBER: u64 = 3;
const PROJECT: u64 = 4;
const PROJECT_MEMBER: u64 = 5;
const TASK: u64 = 6;
const COMMENT: u64 = 7;
const ACTIVITY: u64 = 8;
const SESSION: u64 = 9;

// Field tags: values that other rows recompute.
const F_ROW: u64 = 0;
const F_ID_HIGH: u64 = 1;
const F_ID_LOW: u64 = 2;
const F_CREATED: u64 = 3;
const F_SUB: u64 = 4;
const F_TEAM: u64 = 5;
const F_SECOND: u64 = 6;
const F_NAME: u64 = 7;

/// The generated data set: its sizes and the functions that compute any row's shared
/// attributes from its index.
struct World {
    seed: u64,
    /// Midnight UTC of `--as-of`; the history is the 365 days before it.
    end: Timestamp,
    start: Timestamp,
    orgs: u64,
    users: u64,
    projects: u64,
    tasks: u64,
    comments: u64,
    activities: u64,
}

impl World {
    fn new(options: &Options) -> World {
        let epoch = NaiveDate::from_ymd_opt(2000, 1, 1).map_or(0, |d| d.num_days_from_ce());
        let end = Timestamp(i64::from(options.as_of.num_days_from_ce() - epoch) * DAY);
        let tasks = options.tasks;
        let orgs = (tasks / 20_000).max(1);
        World {
            seed: options.seed,
            end,
            start: Timestamp(end.0 - 365 * DAY),
            orgs,
            users: (tasks / 10).max(orgs * 10),
            projects: (tasks / 100).max(orgs),
            tasks,
            comments: tasks / 2,
            activities: tasks,
        }
    }

    fn key(&self, table: u64, index: u64, field: u64) -> u64 {
        let mut h = mix(self.seed ^ GOLDEN);
        h = mix(h ^ table.wrapping_mul(GOLDEN));
        h = mix(h ^ index);
        mix(h ^ field.wrapping_mul(0xd6e8_feb8_6659_fd93))
    }

    fn rng(&self, table: u64, index: u64) -> Rng {
        Rng(self.key(table, index, F_ROW))
    }

    /// A version-4-layout UUID from the keyed hash.
    fn id(&self, table: u64, index: u64) -> Uuid {
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&self.key(table, index, F_ID_HIGH).to_be_bytes());
        bytes[8..].copy_from_slice(&self.key(table, index, F_ID_LOW).to_be_bytes());
        bytes[6] = (bytes[6] & 0x0f) | 0x40;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        Uuid(bytes)
    }

    // Organizations: created in the first month of the history; user `o` is the owner.

    fn org_created(&self, o: u64) -> Timestamp {
        Timestamp(self.start.0 + (self.key(ORG, o, F_CREATED) % (30 * DAY as u64)) as i64)
    }

    /// Users whose home organization is `o`: `o`, `o + orgs`, `o + 2 * orgs`, ...
    fn users_in_org(&self, o: u64) -> u64 {
        (self.users - o).div_ceil(self.orgs)
    }

    fn org_user(&self, o: u64, j: u64) -> u64 {
        o + self.orgs * j
    }

    // Users: created within 90 days of their home organization.

    fn user_created(&self, u: u64) -> Timestamp {
        let org = self.org_created(u % self.orgs);
        if u < self.orgs {
            return org;
        }
        Timestamp(org.0 + (self.key(USER, u, F_CREATED) % (90 * DAY as u64)) as i64)
    }

    /// The other organization a user belongs to (about 10% of users when there are several).
    fn second_org(&self, u: u64) -> Option<u64> {
        if self.orgs < 2 || u < self.orgs {
            return None;
        }
        let key = self.key(USER, u, F_SECOND);
        key.is_multiple_of(10)
            .then(|| (u % self.orgs + 1 + (key >> 8) % (self.orgs - 1)) % self.orgs)
    }

    // Projects: about 15% are sub-projects of an earlier top-level project of the same
    // organization; created from day 120 to two weeks before the end.

    /// Parents within groups: entity `i` of `kind` is in group `i % groups` (projects by
    /// organization, tasks by project); about `percent`% of those past the first round want a
    /// parent, which is the nearest of up to four earlier members of the group that is itself
    /// top-level (none found: the entity stays top-level).
    fn parent_in_group(&self, kind: u64, i: u64, groups: u64, percent: u64) -> Option<u64> {
        let wants_parent = |j: u64| j >= groups && self.key(kind, j, F_SUB) % 100 < percent;
        if !wants_parent(i) {
            return None;
        }
        (1..=4)
            .take_while(|k| i >= k * groups)
            .map(|k| i - k * groups)
            .find(|&q| !wants_parent(q))
    }

    fn project_org(&self, p: u64) -> u64 {
        p % self.orgs
    }

    fn project_parent(&self, p: u64) -> Option<u64> {
        self.parent_in_group(PROJECT, p, self.orgs, 15)
    }

    fn project_base_created(&self, p: u64) -> Timestamp {
        let from = self.start.0 + 120 * DAY;
        let span = (self.end.0 - 14 * DAY - from) as u64;
        Timestamp(from + (self.key(PROJECT, p, F_CREATED) % span) as i64)
    }

    fn project_created(&self, p: u64) -> Timestamp {
        let base = |p| self.project_base_created(p);
        after_parent(base(p), self.project_parent(p).map(base), DAY)
    }

    /// Project members: `team_size` consecutive users (wrapping) of the organization, from a
    /// keyed start; member 0 manages the project.
    fn team_size(&self, p: u64) -> u64 {
        let available = self.users_in_org(self.project_org(p));
        (3 + self.key(PROJECT, p, F_TEAM) % 4).min(available)
    }

    fn team_member(&self, p: u64, k: u64) -> u64 {
        let o = self.project_org(p);
        let available = self.users_in_org(o);
        let first = (self.key(PROJECT, p, F_TEAM) >> 8) % available;
        self.org_user(o, (first + k) % available)
    }

    // Tasks: task `t` belongs to project `t % projects`; about 20% are sub-tasks of an earlier
    // top-level task of the same project.

    fn task_project(&self, t: u64) -> u64 {
        t % self.projects
    }

    fn task_parent(&self, t: u64) -> Option<u64> {
        self.parent_in_group(TASK, t, self.projects, 20)
    }

    fn task_base_created(&self, t: u64) -> Timestamp {
        let from = self.project_created(self.task_project(t));
        let span = (self.end.0 - from.0 - HOUR) as u64;
        Timestamp(from.0 + (self.key(TASK, t, F_CREATED) % span) as i64)
    }

    fn task_created(&self, t: u64) -> Timestamp {
        let base = |t| self.task_base_created(t);
        after_parent(base(t), self.task_parent(t).map(base), HOUR / 2)
    }
}

// ---------------------------------------------------------------------------------------------
// Vocabulary

#[rustfmt::skip]
const FIRST_NAMES: &[&str] = &[
    "Ada", "Alan", "Amara", "Ana", "Ben", "Chen", "Chloe", "Dario", "Diego", "Elena", "Emma",
    "Farah", "Felix", "Grace", "Hana", "Hugo", "Ines", "Ivan", "Jonas", "Julia", "Kai", "Kenji",
    "Lara", "Leon", "Lucia", "Maya", "Mateo", "Mila", "Nadia", "Noah", "Omar", "Priya", "Rafael",
    "Sara", "Sofia", "Tariq", "Theo", "Vera", "Yusuf", "Zoe",
];
#[rustfmt::skip]
const LAST_NAMES: &[&str] = &[
    "Adams", "Ahmed", "Bauer", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Hansen",
    "Ito", "Jensen", "Kim", "Kowalski", "Laurent", "Lopez", "Meyer", "Moreau", "Nakamura",
    "Novak", "Okafor", "Olsen", "Patel", "Petrov", "Rossi", "Santos", "Schmidt", "Silva",
    "Singh", "Tanaka", "Varga", "Weber", "Wong", "Yilmaz", "Zhang",
];
#[rustfmt::skip]
const ORG_WORDS: &[&str] = &[
    "Acme", "Aurora", "Blue", "Cedar", "Delta", "Ember", "Granite", "Harbor", "Helix", "Lumen",
    "Maple", "Nimbus", "Northwind", "Orbit", "Pine", "Quartz", "River", "Summit", "Vector",
    "Willow",
];
#[rustfmt::skip]
const ORG_KINDS: &[&str] = &[
    "Labs", "Studio", "Works", "Systems", "Analytics", "Partners", "Digital", "Group",
];
#[rustfmt::skip]
const INDUSTRIES: &[&str] = &[
    "software", "consulting", "education", "healthcare", "finance", "retail", "media",
    "manufacturing",
];
const ORG_TYPES: &[&str] = &[
    "company",
    "agency",
    "university",
    "nonprofit",
    "independent",
];
#[rustfmt::skip]
/// A child's creation time: its own, but at least `gap` after its parent's.
fn after_parent(own: Timestamp, parent: Option<Timestamp>, gap: i64) -> Timestamp {
    match parent {
        Some(parent) => own.max(Timestamp(parent.0 + gap)),
        None => own,
    }
}

const PROJECT_ADJECTIVES: &[&str] = &[
    "Customer",
    "Internal",
    "Mobile",
    "Web",
    "Data",
    "Cloud",
    "Billing",
    "Partner",
    "Analytics",
    "Security",
    "Onboarding",
    "Search",
];
#[rustfmt::skip]
const PROJECT_NOUNS: &[&str] = &[
    "Portal", "Platform", "Migration", "Redesign", "Dashboard", "API", "Rollout", "Pipeline",
    "Integration", "Audit", "Launch", "Upgrade",
];
const PROJECT_TYPES: &[&str] = &["internal", "client", "research", "maintenance"];
#[rustfmt::skip]
const VERBS: &[&str] = &[
    "Implement", "Fix", "Refactor", "Design", "Review", "Document", "Test", "Migrate", "Optimize",
    "Update", "Investigate", "Deploy", "Remove", "Add", "Improve", "Automate",
];
#[rustfmt::skip]
const ADJECTIVES: &[&str] = &[
    "login", "billing", "search", "export", "notification", "payment", "reporting", "onboarding",
    "caching", "upload", "permission", "audit", "sync", "import", "checkout", "profile",
];
#[rustfmt::skip]
const NOUNS: &[&str] = &[
    "page", "service", "endpoint", "workflow", "form", "dashboard", "job", "query", "schema",
    "module", "widget", "email template", "validation", "integration", "report", "API client",
];
const SENTENCES: &[&str] = &[
    "The current behaviour confuses users and generates support tickets.",
    "Acceptance criteria are listed in the linked specification.",
    "Coordinate with the design team before starting.",
    "This blocks the next release and needs a fix this sprint.",
    "Performance degrades noticeably with large accounts.",
    "Add tests that cover the edge cases found in review.",
    "The old implementation should be removed once this ships.",
    "Customers asked for this in the last quarterly review.",
    "Check the logs from last week for the failing requests.",
    "Keep the change backwards compatible for existing clients.",
    "Measure before and after to confirm the improvement.",
    "Update the documentation and the changelog.",
];
const COMMENT_TEXTS: &[&str] = &[
    "Looks good to me.",
    "I can take this one.",
    "Could you add a screenshot?",
    "Blocked on the API change, see the linked task.",
    "Pushed a first version, feedback welcome.",
    "This is more work than estimated.",
    "Moved to the next sprint.",
    "Tested on staging, works as expected.",
    "Can we split this into smaller tasks?",
    "Done, please review.",
    "The customer confirmed the fix.",
    "Let's discuss this in the stand-up.",
];
#[rustfmt::skip]
const TAGS: &[&str] = &[
    "backend", "frontend", "bug", "feature", "ux", "performance", "security", "docs", "infra",
    "mobile", "api", "database", "tech-debt", "customer", "release", "research",
];
const USER_AGENTS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/124.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 Version/17.4 Safari/605",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "ProjectApp/3.2 (Android 14)",
];
/// The bcrypt hash (cost 10) of `generated-password`, shared by every generated user.
const PASSWORD_HASH: &str = "$2a$10$g0r0FLIOWYsMemtzhmryre9Wga0V.nk5dfSiHU5vE2WFMv.HVENmy";

fn slug_into(text: &str, out: &mut String) {
    for word in text.split(|c: char| !c.is_ascii_alphanumeric()) {
        if word.is_empty() {
            continue;
        }
        if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
        out.extend(word.chars().map(|c| c.to_ascii_lowercase()));
    }
}

fn sentences_into(rng: &mut Rng, min: u64, max: u64, out: &mut String) {
    out.clear();
    for i in 0..rng.between(min, max) {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(rng.pick(SENTENCES));
    }
}

// ---------------------------------------------------------------------------------------------
// Tables, in load order

// Distributions: (value, weight).
#[rustfmt::skip]
const USER_ROLES: &[(&str, u64)] = &[("user", 55), ("employee", 33), ("manager", 10), ("admin", 2)];
#[rustfmt::skip]
const USER_STATUSES: &[(&str, u64)] = &[
    ("active", 90), ("inactive", 5), ("pending", 3), ("suspended", 2),
];
#[rustfmt::skip]
const ORG_SIZES: &[(&str, u64)] = &[
    ("startup", 20), ("small", 35), ("medium", 25), ("large", 15), ("enterprise", 5),
];
#[rustfmt::skip]
const ORG_STATUSES: &[(&str, u64)] = &[("active", 95), ("inactive", 3), ("suspended", 2)];
#[rustfmt::skip]
const SUBSCRIPTION_TIERS: &[(&str, u64)] = &[("free", 40), ("pro", 45), ("enterprise", 15)];
#[rustfmt::skip]
const MEMBER_ROLES: &[(&str, u64)] = &[("admin", 3), ("manager", 12), ("member", 85)];
#[rustfmt::skip]
const PROJECT_STATUSES: &[(&str, u64)] = &[
    ("active", 55), ("planning", 10), ("completed", 18), ("on_hold", 6), ("draft", 4),
    ("archived", 5), ("cancelled", 2),
];
#[rustfmt::skip]
const PROJECT_PRIORITIES: &[(&str, u64)] = &[
    ("low", 20), ("medium", 45), ("high", 25), ("urgent", 7), ("critical", 3),
];
#[rustfmt::skip]
const TASK_STATUSES: &[(&str, u64)] = &[
    ("todo", 30), ("in_progress", 20), ("review", 10), ("done", 35), ("cancelled", 5),
];
#[rustfmt::skip]
const TASK_PRIORITIES: &[(&str, u64)] = &[("low", 25), ("medium", 45), ("high", 22), ("urgent", 8)];
#[rustfmt::skip]
const TASK_ACTIONS: &[(&str, u64)] = &[
    ("task.created", 20), ("task.updated", 35), ("task.status_changed", 25), ("task.assigned", 10),
    ("task.commented", 10),
];
const PROJECT_ACTIONS: &[&str] = &["project.updated", "project.member_added", "project.viewed"];

impl World {
    /// A user's first and last name, from a stream of their own so mentions can recompute it.
    fn user_name(&self, u: u64) -> (&'static str, &'static str) {
        let mut rng = Rng(self.key(USER, u, F_NAME));
        (rng.pick(FIRST_NAMES), rng.pick(LAST_NAMES))
    }
}

async fn load_users(world: &World, copy: &mut CopyStream<'_>) -> Result<(), tokio_postgres::Error> {
    let mut email = String::new();
    let mut name = String::new();
    for u in 0..world.users {
        let mut rng = world.rng(USER, u);
        let (first, last) = world.user_name(u);
        name.clear();
        let _ = write!(name, "{first} {last}");
        email.clear();
        let _ = write!(
            email,
            "{}.{}.{u}@s{}.example.org",
            first.to_ascii_lowercase(),
            last.to_ascii_lowercase(),
            world.seed
        );
        let created = world.user_created(u);
        // Organization owners are administrators.
        let role = if u < world.orgs {
            "admin"
        } else {
            rng.weighted(USER_ROLES)
        };
        let status = rng.weighted(USER_STATUSES);
        let verified = status != "pending" && rng.percent(92);
        let verified_at = verified.then(|| rng.time(created, Timestamp(created.0 + 2 * DAY)));
        let last_login =
            (status == "active" && rng.percent(85)).then(|| rng.time(created, world.end));
        copy.row(&[
            &world.id(USER, u),
            &email.as_str(),
            &PASSWORD_HASH,
            &name.as_str(),
            &first,
            &last,
            &Label(role),
            &Label(status),
            &verified,
            &verified_at,
            &rng.percent(15),
            &last_login,
            &created,
            &last_login.unwrap_or(created),
        ])
        .await?;
    }
    Ok(())
}

async fn load_organizations(
    world: &World,
    copy: &mut CopyStream<'_>,
) -> Result<(), tokio_postgres::Error> {
    let mut name = String::new();
    let mut slug = String::new();
    let mut description = String::new();
    let mut website = String::new();
    let mut contact = String::new();
    for o in 0..world.orgs {
        let mut rng = world.rng(ORG, o);
        name.clear();
        let _ = write!(name, "{} {}", rng.pick(ORG_WORDS), rng.pick(ORG_KINDS));
        slug.clear();
        slug_into(&name, &mut slug);
        let _ = write!(slug, "-s{}-{o}", world.seed);
        let industry = rng.pick(INDUSTRIES);
        description.clear();
        let _ = write!(description, "{name} works in {industry}.");
        website.clear();
        let _ = write!(website, "https://{slug}.example.org");
        contact.clear();
        let _ = write!(contact, "contact@{slug}.example.org");
        let created = world.org_created(o);
        copy.row(&[
            &world.id(ORG, o),
            &name.as_str(),
            &slug.as_str(),
            &description.as_str(),
            &rng.pick(ORG_TYPES),
            &industry,
            &Label(rng.weighted(ORG_SIZES)),
            &Label(rng.weighted(ORG_STATUSES)),
            &website.as_str(),
            &contact.as_str(),
            &rng.weighted(SUBSCRIPTION_TIERS),
            &world.id(USER, o),
            &created,
            &rng.time(created, world.end),
        ])
        .await?;
    }
    Ok(())
}

/// Every user in its home organization (user `o` owns organization `o`), some in a second one.
async fn load_memberships(
    world: &World,
    copy: &mut CopyStream<'_>,
) -> Result<(), tokio_postgres::Error> {
    for u in 0..world.users {
        let mut rng = world.rng(MEMBER, u);
        let user_created = world.user_created(u);
        let orgs = [Some(u % world.orgs), world.second_org(u)];
        for (k, org) in orgs.into_iter().enumerate() {
            let Some(o) = org else { continue };
            let role = match (u == o, k) {
                (true, _) => "owner",
                (false, 0) => rng.weighted(MEMBER_ROLES),
                (false, _) => "member",
            };
            let joined = rng.time(user_created.max(world.org_created(o)), world.end);
            copy.row(&[
                &world.id(MEMBER, u * 2 + k as u64),
                &world.id(ORG, o),
                &world.id(USER, u),
                &Label(role),
                &(u != o).then(|| world.id(USER, o)),
                &joined,
                &joined,
                &joined,
            ])
            .await?;
        }
    }
    Ok(())
}

async fn load_projects(
    world: &World,
    copy: &mut CopyStream<'_>,
) -> Result<(), tokio_postgres::Error> {
    let mut name = String::new();
    let mut slug = String::new();
    let mut description = String::new();
    let mut tags = Vec::new();
    for p in 0..world.projects {
        let mut rng = world.rng(PROJECT, p);
        let parent = world.project_parent(p);
        name.clear();
        let _ = write!(
            name,
            "{} {}",
            rng.pick(PROJECT_ADJECTIVES),
            rng.pick(PROJECT_NOUNS)
        );
        if parent.is_some() {
            let _ = write!(name, " Phase {}", rng.between(1, 4));
        }
        slug.clear();
        slug_into(&name, &mut slug);
        let _ = write!(slug, "-{p}");
        sentences_into(&mut rng, 1, 3, &mut description);
        let status = rng.weighted(PROJECT_STATUSES);
        let created = world.project_created(p);
        let start = Date::of(rng.time(created, Timestamp(created.0 + 14 * DAY)));
        let end = Date(start.0 + rng.between(30, 270) as i32);
        let completion = (status == "completed").then(|| Date(end.0 - rng.below(20) as i32));
        let hours = rng.between(40, 5_000);
        let actual_percent = match status {
            "draft" | "planning" => 0,
            "completed" => rng.between(70, 130),
            _ => rng.below(90),
        };
        let budget = rng
            .percent(70)
            .then(|| Hundredths(rng.between(50, 5_000) * 10_000));
        rng.tags(TAGS, 3, &mut tags);
        let creator = world.team_member(p, rng.below(world.team_size(p)));
        copy.row(&[
            &world.id(PROJECT, p),
            &world.id(ORG, world.project_org(p)),
            &parent.map(|q| world.id(PROJECT, q)),
            &name.as_str(),
            &slug.as_str(),
            &description.as_str(),
            &Label(status),
            &Label(rng.weighted(PROJECT_PRIORITIES)),
            &rng.pick(PROJECT_TYPES),
            &world.id(USER, world.team_member(p, 0)),
            &start,
            &end,
            &completion,
            &budget,
            &Hundredths(hours * 100),
            &Hundredths(hours * actual_percent),
            &tags.as_slice(),
            &world.id(USER, creator),
            &created,
            &rng.time(created, world.end),
        ])
        .await?;
    }
    Ok(())
}

async fn load_project_members(
    world: &World,
    copy: &mut CopyStream<'_>,
) -> Result<(), tokio_postgres::Error> {
    let mut index = 0;
    for p in 0..world.projects {
        let org = world.id(ORG, world.project_org(p));
        let project = world.id(PROJECT, p);
        let created = world.project_created(p);
        for k in 0..world.team_size(p) {
            let mut rng = world.rng(PROJECT_MEMBER, index);
            // The manager (member 0) is there from the start.
            let joined = if k == 0 {
                created
            } else {
                rng.time(created, world.end)
            };
            copy.row(&[
                &world.id(PROJECT_MEMBER, index),
                &org,
                &project,
                &world.id(USER, world.team_member(p, k)),
                &(k == 0 || rng.percent(95)),
                &joined,
                &joined,
                &joined,
            ])
            .await?;
            index += 1;
        }
    }
    Ok(())
}

async fn load_tasks(world: &World, copy: &mut CopyStream<'_>) -> Result<(), tokio_postgres::Error> {
    let mut title = String::new();
    let mut description = String::new();
    let mut custom = String::new();
    let mut tags = Vec::new();
    for t in 0..world.tasks {
        let mut rng = world.rng(TASK, t);
        let p = world.task_project(t);
        let team = world.team_size(p);
        title.clear();
        let _ = write!(
            title,
            "{} {} {}",
            rng.pick(VERBS),
            rng.pick(ADJECTIVES),
            rng.pick(NOUNS)
        );
        let has_description = rng.percent(75);
        if has_description {
            sentences_into(&mut rng, 1, 4, &mut description);
        }
        let status = rng.weighted(TASK_STATUSES);
        let created = world.task_created(t);
        let start = rng
            .percent(60)
            .then(|| rng.time(created, Timestamp(created.0 + 7 * DAY)));
        let due = rng.percent(70).then(|| {
            let from = start.unwrap_or(created);
            Timestamp(from.0 + rng.between(1, 30) as i64 * DAY)
        });
        let completed = (status == "done").then(|| rng.time(created, world.end));
        // Quarter hours, from 0.5 to 40.
        let estimated = rng.percent(65).then(|| rng.between(2, 160) * 25);
        let actual = match (status, estimated) {
            ("done" | "review", Some(hours)) => Some(hours * rng.between(50, 150) / 100),
            ("in_progress", Some(hours)) => Some(hours * rng.below(90) / 100),
            _ => None,
        };
        rng.tags(TAGS, 4, &mut tags);
        custom.clear();
        if rng.percent(40) {
            let points = rng.pick(&[1, 2, 3, 5, 8, 13]);
            let _ = write!(custom, "{{\"story_points\": {points}}}");
        } else {
            custom.push_str("{}");
        }
        let assignee = rng
            .percent(88)
            .then(|| world.id(USER, world.team_member(p, rng.below(team))));
        let creator = world.team_member(p, rng.below(team));
        let updated = completed.unwrap_or_else(|| rng.time(created, world.end));
        copy.row(&[
            &world.id(TASK, t),
            &world.id(ORG, world.project_org(p)),
            &world.id(PROJECT, p),
            &world.task_parent(t).map(|q| world.id(TASK, q)),
            &assignee,
            &title.as_str(),
            &has_description.then_some(description.as_str()),
            &Label(status),
            &Label(rng.weighted(TASK_PRIORITIES)),
            &start,
            &due,
            &completed,
            &estimated.map(Hundredths),
            &actual.map(Hundredths),
            &tags.as_slice(),
            &Jsonb(&custom),
            &world.id(USER, creator),
            &created,
            &updated,
        ])
        .await?;
    }
    Ok(())
}

/// Comments come in threads on tasks, written by members of the task's project: a thread
/// starts at every comment that is not a reply (at least every 8th); replies point at the
/// thread's first comment. The generator remembers only the current thread.
async fn load_comments(
    world: &World,
    copy: &mut CopyStream<'_>,
) -> Result<(), tokio_postgres::Error> {
    struct Thread {
        id: Uuid,
        task: u64,
        created: Timestamp,
    }
    let mut thread = Thread {
        id: Uuid([0; 16]),
        task: 0,
        created: world.start,
    };
    let mut content = String::new();
    for c in 0..world.comments {
        let mut rng = world.rng(COMMENT, c);
        let id = world.id(COMMENT, c);
        let reply = !c.is_multiple_of(8) && rng.percent(35);
        let parent = if reply {
            Some(thread.id)
        } else {
            let task = rng.below(world.tasks);
            thread = Thread {
                id,
                task,
                created: rng.time(world.task_created(task), world.end),
            };
            None
        };
        let created = if reply {
            rng.time(thread.created, world.end)
        } else {
            thread.created
        };
        let p = world.task_project(thread.task);
        let team = world.team_size(p);
        let author = world.team_member(p, rng.below(team));
        let mentioned = rng
            .percent(10)
            .then(|| world.team_member(p, rng.below(team)));
        content.clear();
        if let Some(user) = mentioned {
            let (first, last) = world.user_name(user);
            let _ = write!(content, "@{first} {last} ");
        }
        content.push_str(rng.pick(COMMENT_TEXTS));
        let mentions = mentioned.map(|user| world.id(USER, user));
        let edited = rng.percent(5).then(|| rng.time(created, world.end));
        copy.row(&[
            &id,
            &world.id(ORG, world.project_org(p)),
            &world.id(PROJECT, p),
            &"task",
            &world.id(TASK, thread.task),
            &parent,
            &world.id(USER, author),
            &content.as_str(),
            &mentions.as_slice(),
            &edited,
            &created,
            &edited.unwrap_or(created),
        ])
        .await?;
    }
    Ok(())
}

/// The activity feed: mostly task events (a task's `task.created` entry has the task's creation
/// time), some project events, by members of the project, from private-network addresses.
async fn load_activities(
    world: &World,
    copy: &mut CopyStream<'_>,
) -> Result<(), tokio_postgres::Error> {
    let mut metadata = String::new();
    for a in 0..world.activities {
        let mut rng = world.rng(ACTIVITY, a);
        metadata.clear();
        let (p, entity_type, entity, action, created) = if rng.percent(85) {
            let t = rng.below(world.tasks);
            let task_created = world.task_created(t);
            let action = rng.weighted(TASK_ACTIONS);
            let at = if action == "task.created" {
                task_created
            } else {
                rng.time(task_created, world.end)
            };
            if action == "task.status_changed" {
                let from = rng.pick(&["todo", "in_progress", "review"]);
                let to = rng.pick(&["in_progress", "review", "done"]);
                let _ = write!(metadata, "{{\"from\": \"{from}\", \"to\": \"{to}\"}}");
            } else {
                metadata.push_str("{}");
            }
            (world.task_project(t), "task", world.id(TASK, t), action, at)
        } else {
            let p = rng.below(world.projects);
            let at = rng.time(world.project_created(p), world.end);
            metadata.push_str("{}");
            let action = rng.pick(PROJECT_ACTIONS);
            (p, "project", world.id(PROJECT, p), action, at)
        };
        let user = world.team_member(p, rng.below(world.team_size(p)));
        let ip = IpAddr::V4(Ipv4Addr::new(
            10,
            rng.below(256) as u8,
            rng.below(256) as u8,
            rng.between(1, 254) as u8,
        ));
        copy.row(&[
            &world.id(ACTIVITY, a),
            &world.id(ORG, world.project_org(p)),
            &world.id(USER, user),
            &world.id(PROJECT, p),
            &action,
            &entity_type,
            &entity,
            &Jsonb(&metadata),
            &ip,
            &rng.pick(USER_AGENTS),
            &rng.percent(80).then(|| world.id(SESSION, a)),
            &created,
        ])
        .await?;
    }
    Ok(())
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
