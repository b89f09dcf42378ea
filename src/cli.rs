//! The command-line tree (clap derive) and nothing else: parsing only, no behaviour.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Versioned migrations, drift detection and DBA jobs for PostgreSQL, MongoDB and Redis.
#[derive(Debug, Parser)]
#[command(name = "migrate", version, about, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options shared by every command (see DESIGN.md, "CLI contract").
#[derive(Debug, Args, Clone, Default)]
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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    #[default]
    Human,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Store {
    Pg,
    Mongo,
    Redis,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply pending migrations: PostgreSQL, then Mongo, then Redis keyspace setup
    Up(UpArgs),
    /// Revert applied migrations, newest first, using each file's down part
    Down(DownArgs),
    /// Every migration of every store: applied, pending, modified, missing or dirty
    Status,
    /// Check files against history without writing anything (exit 2 on problems)
    Validate,
    /// Scaffold the next migration file
    New(NewArgs),
    /// Adopt an existing database: record versions up to V as applied
    Baseline(BaselineArgs),
    /// After a human fixed a failed run: clear dirty state and re-record checksums
    Repair(RepairArgs),
    /// Load the seed data of an environment (seeds/<env>/, the environment from --env), or
    /// generate bulk synthetic data
    Seed(SeedArgs),
    /// Local throwaway PostgreSQL, Redis and Mongo-wire servers under .sandbox/
    Sandbox(SandboxArgs),
    /// Compare the live schema with the one the migrations produce (exit 2 on drift)
    Drift(DriftArgs),
    /// Normalized schema snapshots: `schema dump [-o FILE]`
    Schema(SchemaArgs),
    /// Flag unsafe operations in pending (or the given) migration files (exit 2 on findings)
    Lint(LintArgs),
    /// The CI gate: validate, lint, reversibility of pending migrations, drift (exit 2 on problems)
    Check(CheckArgs),
    /// Verified, checksummed backups of every store: create, list, verify, restore, prune
    Backup(BackupArgs),
    /// Refresh materialized views, create upcoming partitions, VACUUM (ANALYZE) configured tables
    Maintain(MaintainArgs),
    /// GDPR erasure by the [anonymize] rules: erase subjects, verify erasures, run bulk policies
    Anonymize(AnonymizeArgs),
    /// GDPR export: everything the stores hold about one subject, as a JSON bundle
    Export(ExportArgs),
    /// Remove (or anonymize) what the [retention] policies say is too old, in batches
    Retention(RetentionArgs),
}

#[derive(Debug, Args)]
pub struct UpArgs {
    /// Apply versions up to and including V
    #[arg(long, value_name = "V")]
    pub target: Option<u64>,
    /// Print the plan and change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Only this store
    #[arg(long, value_enum)]
    pub store: Option<Store>,
    /// Apply pending versions lower than the newest applied one
    #[arg(long)]
    pub allow_out_of_order: bool,
}

#[derive(Debug, Args)]
pub struct DownArgs {
    /// Revert the newest N migrations [default: 1]
    #[arg(long, value_name = "N", conflicts_with = "to")]
    pub steps: Option<usize>,
    /// Revert every migration newer than V (0 reverts everything)
    #[arg(long, value_name = "V")]
    pub to: Option<u64>,
    /// Print the plan and change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Allow reverting in an environment marked `protected = true`
    #[arg(long)]
    pub allow_protected: bool,
    /// The store to revert [default: postgres when configured, else mongo]
    #[arg(long, value_enum)]
    pub store: Option<Store>,
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
        conflicts_with = "from_refinery"
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
    Start,
    /// Stop the servers started by `sandbox start`
    Stop,
    /// Show which servers run, on which ports
    Status,
    /// Print `export` lines for DATABASE_URL, MONGODB_URL and REDIS_URL
    Env,
}

#[derive(Debug, Args)]
pub struct DriftArgs {
    /// Build the expected schema in this database instead of a temporary shadow database
    #[arg(long, value_name = "URL", conflicts_with = "snapshot")]
    pub shadow_url: Option<String>,
    /// Compare against a snapshot file written by `schema dump` instead of the migrations
    #[arg(long, value_name = "FILE")]
    pub snapshot: Option<PathBuf>,
    /// Leave out objects whose key (`index public.tmp_*`) or name (`public.tmp_*`) matches;
    /// added to `[drift] ignore` (Mongo: `collection` or `collection.index`; Redis: a key or
    /// its declared pattern)
    #[arg(long, value_name = "PATTERN")]
    pub ignore: Vec<String>,
    /// Redis: stop the keyspace audit after about N keys (a sample of a big keyspace)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub sample: Option<u64>,
}

#[derive(Debug, Args)]
pub struct SchemaArgs {
    #[command(subcommand)]
    pub action: SchemaAction,
}

#[derive(Debug, Subcommand)]
pub enum SchemaAction {
    /// Write the normalized snapshot of the live database (JSON)
    Dump(SchemaDumpArgs),
}

#[derive(Debug, Args)]
pub struct SchemaDumpArgs {
    /// Write to FILE (e.g. schema.snapshot.json) instead of stdout
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
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
}

#[derive(Debug, Args)]
pub struct BackupCreateArgs {
    /// Only this store (repeatable) [default: every configured store]
    #[arg(long, value_enum)]
    pub store: Vec<Store>,
    /// Print the plan and write nothing
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct BackupVerifyArgs {
    /// Backup ID (see `backup list`)
    pub id: String,
    /// Also restore into scratch databases (created on the configured servers, then dropped)
    /// and compare row, document and key counts
    #[arg(long)]
    pub restore: bool,
}

#[derive(Debug, Args)]
pub struct BackupRestoreArgs {
    /// Backup ID (see `backup list`)
    pub id: String,
    /// Where to restore, once per store: a PostgreSQL URL (the database is created if missing),
    /// mongodb://host/DB or redis://host/N
    #[arg(long, value_name = "URL", required = true)]
    pub target: Vec<String>,
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
    /// Mongo collections and Redis keys; recorded as an export request in gdpr_requests
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
    /// Apply the [[retention.policies]] (or one of them) and print what each removed
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
