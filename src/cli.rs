//! The command-line tree (clap derive) and nothing else: parsing only, no behaviour.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Versioned migrations, drift detection and DBA jobs for PostgreSQL, MongoDB and Redis.
#[derive(Debug, Parser)]
#[command(
    name = "migrate",
    version,
    about,
    max_term_width = 100,
    after_help = examples::MIGRATE
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options shared by every command (see DESIGN.md, "CLI contract"), under their own heading
/// in every command's help.
#[derive(Debug, Args, Clone, Default)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// Config file [default: ./migrate.toml if present]
    #[arg(short = 'c', long = "config", global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Environment section of the config file to use ([env.NAME])
    #[arg(
        short = 'e',
        long = "env",
        global = true,
        value_name = "NAME",
        env = "MIGRATE_ENV"
    )]
    pub env: Option<String>,
    /// PostgreSQL URL or key=value connection string
    #[arg(
        long,
        global = true,
        value_name = "URL",
        env = "DATABASE_URL",
        hide_env_values = true
    )]
    pub database_url: Option<String>,
    /// MongoDB URL
    #[arg(
        long,
        global = true,
        value_name = "URL",
        env = "MONGODB_URL",
        hide_env_values = true
    )]
    pub mongodb_url: Option<String>,
    /// Redis URL
    #[arg(
        long,
        global = true,
        value_name = "URL",
        env = "REDIS_URL",
        hide_env_values = true
    )]
    pub redis_url: Option<String>,
    /// Directory of PostgreSQL migrations [default: migrations]
    #[arg(long, global = true, value_name = "DIR")]
    pub migrations: Option<PathBuf>,
    /// Directory of MongoDB migrations [default: mongo_migrations]
    #[arg(long, global = true, value_name = "DIR")]
    pub mongo_migrations: Option<PathBuf>,
    /// Directory of seed data [default: seeds]
    #[arg(long, global = true, value_name = "DIR")]
    pub seeds: Option<PathBuf>,
    /// Output format
    #[arg(long, global = true, value_enum)]
    pub format: Option<Format>,
    /// Print only errors and the data a command was asked for
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Print more detail (statements, timings)
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// Answer "yes" to confirmations of destructive commands
    #[arg(long, global = true)]
    pub yes: bool,
    /// Use the local sandbox servers (started if needed; see `migrate sandbox`)
    #[arg(long, global = true)]
    pub sandbox: bool,
    /// Let a destructive command (down, repair, reset, database drop, anonymize, retention run,
    /// backup restore) run in an environment marked `protected = true`
    #[arg(long, global = true)]
    pub allow_protected: bool,
    /// Wait up to DURATION (e.g. 30s) for servers that refuse connections or are starting up
    /// [default: the config's wait_timeout, else 0: no waiting]
    #[arg(
        long,
        global = true,
        value_name = "DURATION",
        value_parser = parse_duration,
        env = "MIGRATE_WAIT_TIMEOUT"
    )]
    pub wait_timeout: Option<Duration>,
    /// Read environment variables from FILE instead of ./.env (a variable already set wins)
    #[arg(long, global = true, value_name = "FILE")]
    pub env_file: Option<PathBuf>,
}

impl GlobalArgs {
    /// The settings these options override, for `config::resolve`.
    pub fn overrides(&self) -> crate::config::Overrides {
        crate::config::Overrides {
            config: self.config.clone(),
            env: self.env.clone(),
            database_url: self.database_url.clone(),
            mongodb_url: self.mongodb_url.clone(),
            redis_url: self.redis_url.clone(),
            migrations: self.migrations.clone(),
            mongo_migrations: self.mongo_migrations.clone(),
            seeds: self.seeds.clone(),
            format: self.format,
            quiet: self.quiet,
            verbose: self.verbose,
            yes: self.yes,
            allow_protected: self.allow_protected,
            wait_timeout: self.wait_timeout,
        }
    }
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    crate::core::duration::parse_duration(text)
}

pub use crate::core::Format;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Store {
    Pg,
    Mongo,
    Redis,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply pending migrations: PostgreSQL, then Mongo, then Redis keyspace setup
    #[command(after_help = examples::UP)]
    Up(UpArgs),
    /// Revert applied migrations, newest first, using each file's down part
    #[command(visible_alias = "rollback", after_help = examples::DOWN)]
    Down(DownArgs),
    /// Every migration of every store: applied, pending, modified, missing or dirty
    #[command(visible_alias = "info", after_help = examples::STATUS)]
    Status(StatusArgs),
    /// Check files against history without writing anything (exit 2 on problems)
    #[command(after_help = examples::VALIDATE)]
    Validate(ValidateArgs),
    /// Scaffold the next migration file
    #[command(visible_alias = "create", after_help = examples::NEW)]
    New(NewArgs),
    /// Adopt an existing database: record versions up to V as applied
    #[command(after_help = examples::BASELINE)]
    Baseline(BaselineArgs),
    /// After a human fixed a failed run: clear dirty state and re-record checksums
    #[command(after_help = examples::REPAIR)]
    Repair(RepairArgs),
    /// Load the seed data of an environment (seeds/<env>/, the environment from --env), or
    /// generate bulk synthetic data
    #[command(after_help = examples::SEED)]
    Seed(SeedArgs),
    /// Create or drop the PostgreSQL database the URL names
    #[command(after_help = examples::DATABASE)]
    Database(DatabaseArgs),
    /// Start over: drop and recreate the database, apply every migration, load the seeds of
    /// --env NAME (also Mongo and Redis when configured; refused in a protected environment)
    #[command(after_help = examples::RESET)]
    Reset(ResetArgs),
    /// Local throwaway PostgreSQL, Redis and Mongo-wire servers under .sandbox/
    #[command(after_help = examples::SANDBOX)]
    Sandbox(SandboxArgs),
    /// Compare the live schema with the one the migrations produce (exit 2 on drift)
    #[command(after_help = examples::DRIFT)]
    Drift(DriftArgs),
    /// The live schema as a normalized snapshot (JSON) or a SQL script: `schema dump [--sql]`
    #[command(after_help = examples::SCHEMA)]
    Schema(SchemaArgs),
    /// Write the migration from one PostgreSQL schema to another, with its down part, proven
    /// on a shadow database
    #[command(after_help = examples::DIFF)]
    Diff(DiffArgs),
    /// Flag unsafe operations in pending (or the given) migration files (exit 2 on findings)
    #[command(after_help = examples::LINT)]
    Lint(LintArgs),
    /// The CI gate: validate, lint, reversibility of pending migrations, drift (exit 2 on problems)
    #[command(after_help = examples::CHECK)]
    Check(CheckArgs),
    /// Verified, checksummed backups of every store: create, list, verify, restore, prune
    #[command(after_help = examples::BACKUP)]
    Backup(BackupArgs),
    /// Refresh materialized views, create upcoming partitions, VACUUM (ANALYZE) configured tables
    #[command(after_help = examples::MAINTAIN)]
    Maintain(MaintainArgs),
    /// Read-only health checks of the live stores: sessions, locks, vacuum, indexes, slow
    /// queries, wraparound, memory, persistence (exit 2 on a warning or worse)
    #[command(after_help = examples::HEALTH)]
    Health(HealthArgs),
    /// GDPR erasure by the [anonymize] rules: erase subjects, verify erasures, run bulk policies
    #[command(after_help = examples::ANONYMIZE)]
    Anonymize(AnonymizeArgs),
    /// GDPR export: everything the stores hold about one subject, as a JSON bundle
    #[command(after_help = examples::EXPORT)]
    Export(ExportArgs),
    /// Remove (or anonymize) what the [retention] policies say is too old, in batches
    #[command(after_help = examples::RETENTION)]
    Retention(RetentionArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish)
    #[command(after_help = examples::COMPLETIONS)]
    Completions(CompletionsArgs),
    /// Print the man page of migrate, or write one page per command into a directory
    #[command(after_help = examples::MAN)]
    Man(ManArgs),
}

#[derive(Debug, Args)]
pub struct UpArgs {
    /// Apply versions up to and including V
    #[arg(long, value_name = "V", value_parser = version_parser(1))]
    pub target: Option<u64>,
    /// Print the plan and change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// With --dry-run: print the PostgreSQL plan as the SQL script that would run, for
    /// `psql -v ON_ERROR_STOP=1 -f` (lock, transactions, timeouts, statements, history rows)
    #[arg(long, requires = "dry_run")]
    pub sql: bool,
    /// Only this store
    #[arg(long, value_enum)]
    pub store: Option<Store>,
    /// Apply pending versions lower than the newest applied one
    #[arg(long)]
    pub allow_out_of_order: bool,
    #[command(flatten)]
    pub fleet: FleetArgs,
}

#[derive(Debug, Args)]
pub struct DownArgs {
    /// Revert the newest N migrations [default: 1]
    #[arg(long, value_name = "N", conflicts_with = "to")]
    pub steps: Option<usize>,
    /// Revert every migration newer than V (0 reverts everything)
    #[arg(long, value_name = "V", value_parser = version_parser(0))]
    pub to: Option<u64>,
    /// Print the plan and change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// With --dry-run: print the PostgreSQL plan as the SQL script that would run, for
    /// `psql -v ON_ERROR_STOP=1 -f`
    #[arg(long, requires = "dry_run")]
    pub sql: bool,
    /// The store to revert [default: postgres when configured, else mongo]
    #[arg(long, value_enum)]
    pub store: Option<Store>,
}

/// Running a command on a fleet of PostgreSQL databases (`up`, `status`, `validate`, `check`,
/// `drift`, `seed`).
#[derive(Debug, Args, Clone, Default)]
pub struct FleetArgs {
    /// Run on every PostgreSQL database listed in FILE: one URL (or key=value string, or
    /// `name<TAB>url`) per line, `#` comments [default: [targets] in the config]
    #[arg(long, value_name = "FILE", help_heading = "Fleet")]
    pub targets: Option<PathBuf>,
    /// With targets: how many run at once [default: [targets] jobs, else 4]
    #[arg(short = 'j', long, value_name = "N", help_heading = "Fleet",
          value_parser = clap::value_parser!(u32).range(1..=256))]
    pub jobs: Option<u32>,
    /// With targets: start no new target after the first failure
    #[arg(long, help_heading = "Fleet")]
    pub fail_fast: bool,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub fleet: FleetArgs,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Exit 2 when any store has a pending, dirty, modified, missing or invalid migration (or a
    /// Redis keyspace that is not current)
    #[arg(long)]
    pub exit_code: bool,
    #[command(flatten)]
    pub fleet: FleetArgs,
}

#[derive(Debug, Args)]
pub struct NewArgs {
    /// Name of the migration: lowercase letters, digits and underscores
    pub name: String,
    /// Create a MongoDB migration (JSON) instead of SQL
    #[arg(long)]
    pub mongo: bool,
    /// Mark the file `-- migrate:no-transaction` (e.g. for CREATE INDEX CONCURRENTLY)
    #[arg(long, conflicts_with = "mongo")]
    pub no_transaction: bool,
    /// Create a repeatable migration (R__NAME.sql), re-applied whenever it changes
    #[arg(long, conflicts_with_all = ["mongo"])]
    pub repeatable: bool,
}

#[derive(Debug, Args)]
pub struct BaselineArgs {
    /// Record every migration up to and including V as applied without running it
    #[arg(
        value_name = "V",
        required_unless_present = "from_refinery",
        conflicts_with = "from_refinery",
        value_parser = version_parser(1)
    )]
    pub version: Option<u64>,
    /// Import the history of refinery (`refinery_schema_history`)
    #[arg(long)]
    pub from_refinery: bool,
}

#[derive(Debug, Args)]
pub struct RepairArgs {
    /// Mark dirty migrations as applied (a human completed them) instead of removing their rows
    #[arg(long)]
    pub mark_applied: bool,
    /// Print what would change and change nothing
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct SeedArgs {
    #[command(subcommand)]
    pub action: Option<SeedAction>,
    /// Print which files would be applied and change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Apply every file again, even unchanged ones
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub fleet: FleetArgs,
}

#[derive(Debug, Subcommand)]
pub enum SeedAction {
    /// Generate realistic bulk data (organizations, users, memberships, projects, tasks,
    /// comments, activity logs), deterministically from --seed, loaded with binary COPY
    Generate(GenerateArgs),
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Number of tasks; the other tables scale with it
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub tasks: u64,
    /// Seed of the generator: the same seed and --as-of give the same data, byte for byte
    #[arg(long, value_name = "S", default_value_t = 42)]
    pub seed: u64,
    /// The day the generated history ends (timestamps fall in the year before it)
    /// [default: today, UTC]
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub as_of: Option<chrono::NaiveDate>,
    /// Rows per COPY statement
    #[arg(
        long,
        value_name = "N",
        default_value_t = 100_000,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub batch_rows: u64,
    /// Print the row counts per table and change nothing
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct SandboxArgs {
    #[command(subcommand)]
    pub action: SandboxAction,
    /// Sandbox directory
    #[arg(long, global = true, default_value = ".sandbox", value_name = "DIR")]
    pub dir: PathBuf,
}

#[derive(Debug, Subcommand, Clone, Copy)]
pub enum SandboxAction {
    /// Start the servers (idempotent)
    Start {
        /// PostgreSQL archives its WAL into a local pgBackRest repository (stanza `sandbox`)
        #[arg(long)]
        archive: bool,
    },
    /// Stop the servers started by `sandbox start`
    Stop,
    /// Show which servers run, on which ports
    Status,
    /// Print `export` lines for DATABASE_URL, MONGODB_URL and REDIS_URL
    Env,
}

#[derive(Debug, Args)]
pub struct DatabaseArgs {
    #[command(subcommand)]
    pub action: DatabaseAction,
}

#[derive(Debug, Subcommand)]
pub enum DatabaseAction {
    /// Create the database the PostgreSQL URL names (nothing to do when it exists)
    Create(DatabaseCreateArgs),
    /// Drop the database the PostgreSQL URL names, after confirmation (--yes)
    Drop(DatabaseDropArgs),
}

#[derive(Debug, Args)]
pub struct DatabaseCreateArgs {
    /// Print what would be done and change nothing
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct DatabaseDropArgs {
    /// Print what would be done and change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Also end the sessions connected to it (DROP DATABASE … WITH (FORCE))
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct ResetArgs {
    /// Only this store (repeatable) [default: every configured store]
    #[arg(long, value_enum)]
    pub store: Vec<Store>,
    /// Print the plan and change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Do not load seed data after migrating
    #[arg(long)]
    pub no_seed: bool,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write migrate.1 and one page per command (migrate-up.1, …) into DIR instead of printing
    /// migrate.1
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DriftArgs {
    /// Build the expected schema in this database instead of a temporary shadow database
    #[arg(long, value_name = "URL", conflicts_with_all = ["snapshot", "against"])]
    pub shadow_url: Option<String>,
    /// Compare against a snapshot file written by `schema dump` instead of the migrations
    #[arg(long, value_name = "FILE", conflicts_with = "against")]
    pub snapshot: Option<PathBuf>,
    /// Compare against the schema of another database as it is (read only: staging, a
    /// reference copy) instead of the migrations
    #[arg(long, value_name = "URL")]
    pub against: Option<String>,
    /// Leave out objects whose key (`index public.tmp_*`) or name (`public.tmp_*`) matches;
    /// added to `[drift] ignore` (Mongo: `collection` or `collection.index`; Redis: a key or
    /// its declared pattern)
    #[arg(long, value_name = "PATTERN")]
    pub ignore: Vec<String>,
    /// Redis: stop the keyspace audit after about N keys (a sample of a big keyspace)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub sample: Option<u64>,
    #[command(flatten)]
    pub fleet: FleetArgs,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The schema to start from: a postgres:// URL, `migrations` (the migration directory on a
    /// shadow database), a .sql file (on a shadow database) or a `schema dump` snapshot file
    #[arg(long, value_name = "SOURCE")]
    pub from: Option<String>,
    /// The schema to reach (same forms as --from) [default: the configured database]
    #[arg(long, value_name = "SOURCE")]
    pub to: Option<String>,
    /// Write the next migration file V{n}__NAME.sql and print its path
    #[arg(long, value_name = "NAME", conflicts_with = "print")]
    pub name: Option<String>,
    /// Print the migration to stdout (the default without --name)
    #[arg(long)]
    pub print: bool,
    /// Skip the proof on a shadow database (the output says it is not verified)
    #[arg(long)]
    pub no_verify: bool,
    /// Allow the up part to drop tables and columns (their data is lost)
    #[arg(long)]
    pub allow_destructive: bool,
}

#[derive(Debug, Args)]
pub struct SchemaArgs {
    #[command(subcommand)]
    pub action: SchemaAction,
}

#[derive(Debug, Subcommand)]
pub enum SchemaAction {
    /// Write the normalized snapshot of the live database (JSON), or with --sql a script that
    /// rebuilds it
    Dump(SchemaDumpArgs),
}

#[derive(Debug, Args)]
pub struct SchemaDumpArgs {
    /// Write to FILE (e.g. schema.snapshot.json) instead of stdout
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Write the schema as a SQL script that rebuilds it in an empty database (written by
    /// `diff`'s writer, independent of pg_dump, proven on a shadow database)
    #[arg(long)]
    pub sql: bool,
}

#[derive(Debug, Args)]
pub struct LintArgs {
    /// Files to lint, in this order [default: the pending migrations]
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Test the pending migrations in this scratch database instead of a temporary one
    #[arg(long, value_name = "URL")]
    pub shadow_url: Option<String>,
    /// Leave objects matching PATTERN out of the drift comparison (see `drift --ignore`)
    #[arg(long, value_name = "PATTERN")]
    pub ignore: Vec<String>,
    /// The migration files present at git ref REF count as applied: only the others are new
    /// (linted and observed, after everything before them is applied to the shadow database)
    #[arg(long, value_name = "REF", conflicts_with = "since")]
    pub base: Option<String>,
    /// Versions up to and including V count as applied: only later ones are new
    #[arg(long, value_name = "V", value_parser = version_parser(1))]
    pub since: Option<u64>,
    /// Fill the tables the new migrations touch with N generated rows each before observing
    /// them [default: [check] with_data, else 0]
    #[arg(long, value_name = "N")]
    pub with_data: Option<u64>,
    /// A lock blocking reads or writes on an existing table, held longer, is a finding
    /// [default: [check] lock_budget, else 1s]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub lock_budget: Option<Duration>,
    /// Apply the new migrations on the shadow database without observing them (no locks,
    /// rewrites or scans reported)
    #[arg(long, conflicts_with_all = ["with_data", "lock_budget"])]
    pub no_observe: bool,
    #[command(flatten)]
    pub fleet: FleetArgs,
}

#[derive(Debug, Args)]
pub struct BackupArgs {
    #[command(subcommand)]
    pub action: BackupAction,
    /// Backups directory [default: [backup] dir, else ./backups]
    #[arg(long, global = true, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Parallel jobs of pg_dump/pg_restore and hashing threads [default: [backup] jobs, else 2]
    #[arg(short = 'j', long, global = true, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=64))]
    pub jobs: Option<u32>,
}

#[derive(Debug, Subcommand)]
pub enum BackupAction {
    /// Back up every configured store (or those given with --store) into a new directory
    Create(BackupCreateArgs),
    /// Backups, newest first: time, size, stores and last verification
    List,
    /// Check size and sha256 of every file (exit 2 naming a bad file); with --restore, also
    /// restore into scratch databases and compare counts
    Verify(BackupVerifyArgs),
    /// Restore a backup into the given targets (refuses a non-empty target without --clean)
    Restore(BackupRestoreArgs),
    /// Delete the backups the retention policy does not keep, and abandoned .partial directories
    Prune(BackupPruneArgs),
    /// Set up pgBackRest (`physical setup`); then create, list, verify, restore and prune take
    /// --physical
    Physical(BackupPhysicalArgs),
}

#[derive(Debug, Args)]
pub struct BackupCreateArgs {
    /// Only this store (repeatable) [default: every configured store]
    #[arg(long, value_enum, conflicts_with = "physical")]
    pub store: Vec<Store>,
    /// Print the plan and write nothing
    #[arg(long)]
    pub dry_run: bool,
    /// A physical backup of PostgreSQL through pgBackRest ([backup.physical])
    #[arg(long)]
    pub physical: bool,
    /// Physical backup type
    #[arg(
        long = "type",
        value_enum,
        default_value = "full",
        requires = "physical"
    )]
    pub kind: PhysicalType,
}

/// pgBackRest's backup types.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PhysicalType {
    /// Every file of the cluster
    Full,
    /// What changed since the last full backup
    Diff,
    /// What changed since the last backup of any type
    Incr,
}

#[derive(Debug, Args)]
pub struct BackupPhysicalArgs {
    #[command(subcommand)]
    pub action: BackupPhysicalAction,
}

#[derive(Debug, Subcommand)]
pub enum BackupPhysicalAction {
    /// Write (or check) the pgBackRest config from [backup.physical], print the server settings
    /// archiving needs and whether the server has them (exit 2 if not), run stanza-create and
    /// check; idempotent
    Setup(BackupPhysicalSetupArgs),
}

#[derive(Debug, Args)]
pub struct BackupPhysicalSetupArgs {
    /// Print the plan and change nothing
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct BackupVerifyArgs {
    /// Backup ID (see `backup list`), or `latest` for the newest complete backup
    #[arg(required_unless_present = "physical", conflicts_with = "physical")]
    pub id: Option<String>,
    /// Also restore into scratch databases (created on the configured servers, then dropped)
    /// and compare row, document and key counts; with --physical, restore into a scratch data
    /// directory, start a scratch server and check it holds the live database's tables
    #[arg(long)]
    pub restore: bool,
    /// Verify the pgBackRest repository instead ([backup.physical]; exit 2 naming a bad file)
    #[arg(long)]
    pub physical: bool,
}

#[derive(Debug, Args)]
pub struct BackupRestoreArgs {
    /// Backup ID (see `backup list`), or `latest` for the newest complete backup
    #[arg(required_unless_present = "physical", conflicts_with = "physical")]
    pub id: Option<String>,
    /// Where to restore, once per store: a PostgreSQL URL (the database is created if missing),
    /// mongodb://host/DB or redis://host/N
    #[arg(
        long,
        value_name = "URL",
        required_unless_present = "physical",
        conflicts_with = "physical"
    )]
    pub target: Vec<String>,
    /// Point-in-time recovery through pgBackRest into a new data directory ([backup.physical])
    #[arg(long, requires_all = ["to_time", "data_dir"])]
    pub physical: bool,
    /// With --physical: the moment to recover to, with its zone (`2026-12-04 05:27:26+00`)
    #[arg(long, value_name = "TIME", requires = "physical")]
    pub to_time: Option<String>,
    /// With --physical: the new data directory (created; refused unless empty)
    #[arg(long, value_name = "DIR", requires = "physical")]
    pub data_dir: Option<PathBuf>,
    /// Replace what a non-empty target holds (PostgreSQL: pg_restore --clean --if-exists;
    /// Mongo: drop the database; Redis: FLUSHDB)
    #[arg(long)]
    pub clean: bool,
    /// Check the targets, print the plan and change nothing
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct BackupPruneArgs {
    /// Print what would be deleted and delete nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Apply [backup.physical] keep_full / wal_days through pgBackRest's expire instead
    #[arg(long)]
    pub physical: bool,
    /// Keep the newest N backups [default: [backup] keep_last]
    #[arg(long, value_name = "N")]
    pub keep_last: Option<u32>,
    /// Keep the newest backup of each of the last N days [default: [backup] keep_daily]
    #[arg(long, value_name = "N")]
    pub keep_daily: Option<u32>,
    /// Keep the newest backup of each of the last N ISO weeks [default: [backup] keep_weekly]
    #[arg(long, value_name = "N")]
    pub keep_weekly: Option<u32>,
    /// Keep the newest backup of each of the last N months [default: [backup] keep_monthly]
    #[arg(long, value_name = "N")]
    pub keep_monthly: Option<u32>,
}

#[derive(Debug, Args)]
pub struct MaintainArgs {
    /// Print the statements and run none
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct HealthArgs {
    /// Only these stores (repeatable) [default: every configured store]
    #[arg(long, value_enum)]
    pub store: Vec<Store>,
    /// Entries in the lists of largest tables and slowest statements [default: [health] top, 10]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub top: Option<u32>,
}

#[derive(Debug, Args)]
pub struct AnonymizeArgs {
    #[command(subcommand)]
    pub action: AnonymizeAction,
}

#[derive(Debug, Subcommand)]
pub enum AnonymizeAction {
    /// Erase subjects (users.id) in every store: their rows anonymized and marked, their audit
    /// copies scrubbed, their values replaced in other people's text; then every store is
    /// searched for their original values (exit 2 on a hit). Each run is recorded in
    /// gdpr_requests
    User(AnonymizeUserArgs),
    /// Check that erasures still hold: every store searched for the subjects' kept fingerprints
    /// (exit 2 on a hit, recorded in gdpr_requests); nothing else is changed
    Verify(AnonymizeVerifyArgs),
    /// Run a bulk policy from [[anonymize.policies]] in keyset batches (resumes an interrupted
    /// run); without NAME, every policy in order
    Policy(AnonymizePolicyArgs),
}

#[derive(Debug, Args)]
pub struct AnonymizeUserArgs {
    /// The subjects' ids (primary key of the subject table, users.id); several are erased
    /// together, with one search of every store
    #[arg(required = true, value_name = "ID")]
    pub ids: Vec<String>,
    /// Print the plan with row, document and key counts and change nothing
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct AnonymizeVerifyArgs {
    /// The subjects' ids (users.id) whose erasure to check
    #[arg(required = true, value_name = "ID")]
    pub ids: Vec<String>,
}

#[derive(Debug, Args)]
pub struct AnonymizePolicyArgs {
    /// Name of the policy [default: every configured policy]
    pub name: Option<String>,
    /// Print the plan with row, document and key counts and change nothing
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(subcommand)]
    pub action: ExportAction,
}

#[derive(Debug, Subcommand)]
pub enum ExportAction {
    /// Everything about one subject: rows reached through the foreign keys to users, configured
    /// Mongo collections and Redis keys. Needs no anonymization key; with the key set
    /// ([anonymize] key_env), the request is also recorded in gdpr_requests (by the subject's
    /// HMAC)
    User(ExportUserArgs),
}

#[derive(Debug, Args)]
pub struct ExportUserArgs {
    /// The subject's id (users.id)
    pub id: String,
    /// Write the bundle to FILE (created with mode 0600) instead of stdout
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RetentionArgs {
    #[command(subcommand)]
    pub action: RetentionCommand,
}

#[derive(Debug, Subcommand)]
pub enum RetentionCommand {
    /// Apply the [[retention.policies]] (or one of them) and print what each removed. Policies
    /// that anonymize need the anonymization key ([anonymize] key_env), except with --dry-run
    Run(RetentionRunArgs),
}

#[derive(Debug, Args)]
pub struct RetentionRunArgs {
    /// Print what each policy would remove and change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Only the policy of this name
    #[arg(long, value_name = "NAME")]
    pub policy: Option<String>,
}

/// Migration versions are stored as `bigint` (PostgreSQL) and int64 (MongoDB): from `min` up
/// to `i64::MAX`, refused as a usage error above it.
fn version_parser(min: u64) -> clap::builder::RangedU64ValueParser<u64> {
    clap::value_parser!(u64).range(min..=i64::MAX as u64)
}

/// The examples at the end of each command's help.
mod examples {
    pub const MIGRATE: &str = "\
Examples:
  migrate --sandbox up                  local servers, every migration applied
  eval \"$(migrate sandbox env)\"         point this shell's DATABASE_URL & co. at them
  migrate status                        what is applied, pending or changed
  migrate new add_due_dates             scaffold migrations/V<next>__add_due_dates.sql";

    pub const UP: &str = "\
Examples:
  migrate up --dry-run                  print the plan, change nothing
  migrate up                            apply everything pending, in every configured store
  migrate up --target 12 --store pg     PostgreSQL only, up to and including V12
  migrate up --dry-run --sql > plan.sql the exact SQL, for psql -v ON_ERROR_STOP=1 -f plan.sql
  migrate up --targets tenants.txt -j 4 every database listed, four at a time (docs/fleet.md)";

    pub const DOWN: &str = "\
Examples:
  migrate down --dry-run                what the newest migration's down part would do
  migrate down --yes                    revert the newest migration
  migrate down --to 10 --yes            revert everything newer than V10";

    pub const STATUS: &str = "\
Examples:
  migrate status                        one table for every store
  migrate status --format json          the same as one JSON document
  migrate -e staging status             an environment of the config file";

    pub const VALIDATE: &str = "\
Examples:
  migrate validate                      files against the history table; exit 2 on problems
  migrate validate --format json        problems as JSON";

    pub const NEW: &str = "\
Examples:
  migrate new add_due_dates             migrations/V<next>__add_due_dates.sql
  migrate new task_indexes --no-transaction
                                        for CREATE INDEX CONCURRENTLY
  migrate new profiles --mongo          mongo_migrations/V<next>__profiles.json";

    pub const BASELINE: &str = "\
Examples:
  migrate baseline 18                   record V1..V18 as applied without running them
  migrate baseline --from-refinery      take over refinery's history";

    pub const REPAIR: &str = "\
Examples:
  migrate repair --dry-run              what would change
  migrate repair                        remove dirty rows, re-record edited checksums
  migrate repair --mark-applied         a human finished the failed migration";

    pub const SEED: &str = "\
Examples:
  migrate seed --env dev                load seeds/dev/ (files already loaded are skipped)
  migrate seed --env dev --force        load every file again
  migrate seed generate --tasks 100000  bulk synthetic data";

    pub const DATABASE: &str = "\
Examples:
  migrate database create               create the database DATABASE_URL names
  migrate database drop --yes           drop it (refused in a protected environment)
  migrate database drop --force --yes   also end the sessions connected to it";

    pub const RESET: &str = "\
Examples:
  migrate reset --dry-run               what would be dropped, applied and seeded
  migrate reset --env dev --yes         drop, create, migrate, load seeds/dev/
  migrate reset --store pg --no-seed --yes
                                        PostgreSQL only, no seeds";

    pub const SANDBOX: &str = "\
Examples:
  migrate sandbox start                 start PostgreSQL, Redis and a Mongo-wire server
  eval \"$(migrate sandbox env)\"         export DATABASE_URL, MONGODB_URL, REDIS_URL
  migrate sandbox stop                  stop them (the next start keeps the ports)";

    pub const DRIFT: &str = "\
Examples:
  migrate drift                         live schema against a shadow database; exit 2 on drift
  migrate drift --snapshot schema.snapshot.json
  migrate drift --ignore 'public.tmp_*'";

    pub const SCHEMA: &str = "\
Examples:
  migrate schema dump -o schema.snapshot.json";

    pub const DIFF: &str = "\
Examples:
  migrate diff --name add_invoices                the dev database's changes as the next migration
  migrate diff --from before.sql --to after.sql --print
  migrate diff --from migrations --to postgres://localhost/staging --print";

    pub const LINT: &str = "\
Examples:
  migrate lint                          the pending migrations
  migrate lint migrations/V31__x.sql    given files

Lint matches statements against its rules without running them; a file it cannot split into
statements (an unclosed string or parenthesis) is reported invalid. `migrate check` runs the
files on a shadow database, which is where a statement PostgreSQL rejects is found.";

    pub const CHECK: &str = "\
Examples:
  migrate check                         the CI gate on the pending migrations
  migrate check --format json           for CI annotations (see docs/ci.md)";

    pub const BACKUP: &str = "\
Examples:
  migrate backup create                 every configured store into ./backups/<id>
  migrate backup verify <id> --restore  restore into scratch databases and compare counts
  migrate backup prune --keep-last 7 --dry-run";

    pub const MAINTAIN: &str = "\
Examples:
  migrate maintain --dry-run            the statements it would run
  migrate maintain";

    pub const HEALTH: &str = "\
Examples:
  migrate health                        every configured store; exit 2 on a warning or worse
  migrate health --store pg --top 20
  migrate health --format json          the same findings for monitoring
Thresholds: [health] in migrate.toml (long_transaction, idle_in_transaction, slow_query, …).";

    pub const ANONYMIZE: &str = "\
Examples:
  migrate anonymize user 42 --dry-run   what would be erased, store by store
  migrate anonymize user 42 --yes
  migrate anonymize policy --yes        every [[anonymize.policies]] entry";

    pub const EXPORT: &str = "\
Examples:
  migrate export user 42 -o user-42.json";

    pub const RETENTION: &str = "\
Examples:
  migrate retention run --dry-run       what each policy would remove
  migrate retention run --yes";

    pub const COMPLETIONS: &str = "\
Examples:
  migrate completions bash > ~/.local/share/bash-completion/completions/migrate
  migrate completions zsh > ~/.zfunc/_migrate
  migrate completions fish > ~/.config/fish/completions/migrate.fish";

    pub const MAN: &str = "\
Examples:
  migrate man | man -l -                read it now
  migrate man --out ~/.local/share/man/man1";
}
