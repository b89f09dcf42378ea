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
    /// Print which files would be applied and change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Apply every file again, even unchanged ones
    #[arg(long)]
    pub force: bool,
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
    /// Leave out objects whose key (`index public.tmp_*`) or name (`public.tmp_*`) matches
    #[arg(long, value_name = "PATTERN")]
    pub ignore: Vec<String>,
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
