//! Flags, environment variables, the config file and defaults, resolved once into [`Settings`].
//!
//! Precedence: flags > environment variables > file (`[env.NAME]` over top level) > defaults.
//! clap already folds `DATABASE_URL` & co. into the flag values, so this module only has to put
//! the file and the defaults underneath.

pub mod anonymize;
pub mod check;
pub mod dotenv;
pub mod file;
pub mod health;
pub mod pg_target;
pub mod retention;
pub mod targets;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};

use crate::core::Format;
pub use file::Versioning;
use file::{BackupSection, MaintainSection};
use file::{
    ConfigString, EnvSection, FileConfig, MigrationsSection, MongoSection, OutputSection,
    PostgresSection, RedisSection, SeedsSection,
};
pub use pg_target::PgTarget;

/// Everything a command needs to know about where and how to run.
#[derive(Debug, Clone)]
pub struct Settings {
    pub config_path: Option<PathBuf>,
    pub env_name: Option<String>,
    pub protected: bool,
    /// `--allow-protected`: destructive commands may run in a protected environment.
    pub allow_protected: bool,
    pub postgres: Option<PgSettings>,
    pub mongo: Option<MongoSettings>,
    pub redis: Option<RedisSettings>,
    pub migrations_dir: PathBuf,
    pub mongo_migrations_dir: PathBuf,
    pub seeds_dir: PathBuf,
    pub default_seed_env: Option<String>,
    pub versioning: Versioning,
    pub allow_out_of_order: bool,
    pub output: OutputSettings,
    pub assume_yes: bool,
    /// How long to wait for servers that refuse connections or are starting up; zero: no
    /// waiting (`--wait-timeout`, `wait_timeout`).
    pub wait_timeout: Duration,
    pub backup: BackupSettings,
    pub maintain: MaintainSettings,
    /// `[anonymize]` as written; checked by `crate::jobs::anonymize::rules::load`.
    pub anonymize: file::AnonymizeSection,
    /// `[retention]` as written; checked by `crate::jobs::retention`.
    pub retention: file::RetentionSection,
    /// `[drift] ignore` patterns (top level, then the environment's).
    pub drift_ignore: Vec<String>,
    /// `[health]` thresholds.
    pub health: health::HealthSettings,
    /// `[check]`: lock budget and generated data of `migrate check`.
    pub check: check::CheckSettings,
    /// `[targets]`: the fleet a command can run against.
    pub targets: targets::TargetsSettings,
    /// `[postgres]` as merged, for the connection settings of other URLs (fleet targets).
    pub postgres_section: PostgresSection,
    /// `[lint] enable`: the opt-in lint rules to run, by their own names, or `all`.
    pub lint_enable: Vec<String>,
}

/// `[backup]`, resolved.
#[derive(Debug, Clone)]
pub struct BackupSettings {
    pub dir: PathBuf,
    pub jobs: u32,
    pub pg_bin_dir: Option<PathBuf>,
    /// Retention for `backup prune`; `None` keeps nothing by that rule.
    pub keep_last: Option<u32>,
    pub keep_daily: Option<u32>,
    pub keep_weekly: Option<u32>,
    pub keep_monthly: Option<u32>,
    /// `[backup.physical]`, resolved; `None` when the section is absent.
    pub physical: Option<PhysicalSettings>,
}

/// `[backup.physical]`, resolved: every path pgBackRest is given, explicitly.
#[derive(Debug, Clone)]
pub struct PhysicalSettings {
    pub stanza: String,
    pub repo_path: PathBuf,
    pub config_file: PathBuf,
    pub data_dir: PathBuf,
    pub socket_dir: PathBuf,
    pub port: u16,
    pub keep_full: Option<u32>,
    pub wal_days: Option<u32>,
}

/// `[maintain]`, resolved.
#[derive(Debug, Clone)]
pub struct MaintainSettings {
    pub vacuum_tables: Vec<String>,
    pub partition_months_ahead: u32,
}

pub const DEFAULT_BACKUP_DIR: &str = "backups";
pub const DEFAULT_BACKUP_JOBS: u32 = 2;
pub const DEFAULT_PARTITION_MONTHS_AHEAD: u32 = 3;

#[derive(Debug, Clone)]
pub struct PgSettings {
    pub target: PgTarget,
    pub history_table: String,
    pub lock_timeout: Option<Duration>,
    pub statement_timeout: Option<Duration>,
    pub lock_wait: Duration,
}

#[derive(Debug, Clone)]
pub struct MongoSettings {
    pub url: crate::redact::SecretUrl,
    pub database: Option<String>,
    pub history_collection: String,
    pub lock_lease: Duration,
    pub lock_wait: Duration,
    pub connect_timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct RedisSettings {
    pub url: crate::redact::SecretUrl,
    pub connect_timeout: Duration,
    /// The declared keyspace; `None` when `[redis]` declares no namespace.
    pub keyspace: Option<RedisKeyspace>,
}

/// The keyspace declaration of `[redis]`, as written (files are read and passwords looked up
/// when a command needs them: see `crate::redis::keyspace`).
#[derive(Debug, Clone)]
pub struct RedisKeyspace {
    pub namespace: String,
    pub schema_version: u32,
    pub notify_keyspace_events: Option<String>,
    pub keys: Vec<file::RedisKeySection>,
    /// Library files, resolved against the config file's directory.
    pub functions: Vec<PathBuf>,
    pub acl_users: Vec<file::RedisAclUserSection>,
}

#[derive(Debug, Clone, Copy)]
pub struct OutputSettings {
    pub format: Format,
    pub quiet: bool,
    pub verbose: bool,
    pub color: bool,
}

pub const DEFAULT_CONFIG: &str = "migrate.toml";
pub const DEFAULT_HISTORY_TABLE: &str = "migrate_history";
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_LOCK_WAIT: Duration = Duration::from_secs(600);
pub const DEFAULT_MONGO_HISTORY_COLLECTION: &str = "migrate_history";
pub const DEFAULT_MONGO_LOCK_LEASE: Duration = Duration::from_secs(30);

/// URLs of the sandbox servers, when `--sandbox` is given.
#[derive(Debug, Default, Clone)]
pub struct SandboxUrls {
    pub postgres: Option<String>,
    pub mongo: Option<String>,
    pub redis: Option<String>,
}

/// What the command line sets, above the environment and the config file (`--config`,
/// `--env`, the URLs and directories, output flags). The CLI fills it from its global
/// options; config knows nothing of clap.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub config: Option<PathBuf>,
    pub env: Option<String>,
    pub database_url: Option<String>,
    pub mongodb_url: Option<String>,
    pub redis_url: Option<String>,
    pub migrations: Option<PathBuf>,
    pub mongo_migrations: Option<PathBuf>,
    pub seeds: Option<PathBuf>,
    pub format: Option<Format>,
    pub quiet: bool,
    pub verbose: bool,
    pub yes: bool,
    pub allow_protected: bool,
    pub wait_timeout: Option<Duration>,
}

/// Output settings from flags alone, for reporting errors that happen before the config loads.
pub fn early_output(global: &Overrides) -> OutputSettings {
    OutputSettings {
        format: global.format.unwrap_or_default(),
        quiet: global.quiet,
        verbose: global.verbose,
        color: color_enabled(),
    }
}

fn color_enabled() -> bool {
    use std::io::IsTerminal;
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal()
}

/// Reads the config file (if any) and resolves every setting.
pub fn resolve(global: &Overrides, sandbox: Option<SandboxUrls>) -> anyhow::Result<Settings> {
    let config_path = match &global.config {
        Some(path) => {
            if !path.exists() {
                bail!("config file {} does not exist", path.display());
            }
            Some(path.clone())
        }
        None => Some(PathBuf::from(DEFAULT_CONFIG)).filter(|p| p.exists()),
    };
    let file = match &config_path {
        Some(path) => file::load(path)?,
        None => FileConfig::default(),
    };
    resolve_with(global, file, config_path, sandbox)
}

fn resolve_with(
    global: &Overrides,
    mut file: FileConfig,
    config_path: Option<PathBuf>,
    sandbox: Option<SandboxUrls>,
) -> anyhow::Result<Settings> {
    let env_section = match &global.env {
        None => EnvSection::default(),
        Some(name) => match file.env.remove(name) {
            Some(section) => section,
            None => {
                let known: Vec<&str> = file.env.keys().map(String::as_str).collect();
                match &config_path {
                    None => bail!(
                        "environment `{name}` requested but no config file was found (looked for ./{DEFAULT_CONFIG}; pass -c FILE)"
                    ),
                    Some(path) if known.is_empty() => {
                        bail!(
                            "environment `{name}` is not defined in {}: it has no [env.*] sections",
                            path.display()
                        )
                    }
                    Some(path) => bail!(
                        "environment `{name}` is not defined in {} (defined: {})",
                        path.display(),
                        known.join(", ")
                    ),
                }
            }
        },
    };
    let postgres = merge_postgres(file.postgres, env_section.postgres);
    let migrations = merge_migrations(file.migrations, env_section.migrations);
    let mongo = merge_mongo(file.mongo, env_section.mongo);
    let redis = merge_redis(file.redis, env_section.redis);
    let seeds = merge_seeds(file.seeds, env_section.seeds);
    let backup = merge_backup(file.backup, env_section.backup);
    let maintain = merge_maintain(file.maintain, env_section.maintain);
    let health = health::merge(file.health, env_section.health);
    let anonymize = env_section.anonymize.unwrap_or(file.anonymize);
    let retention = env_section.retention.unwrap_or(file.retention);
    let output = OutputSection {
        format: env_section.output.format.or(file.output.format),
    };
    let sandbox = sandbox.unwrap_or_default();

    let pg_url = sandbox
        .postgres
        .clone()
        .or_else(|| {
            postgres
                .direct_url
                .clone()
                .map(|s| s.0)
                .filter(|u| !u.is_empty())
        })
        .or_else(|| global.database_url.clone().filter(|u| !u.is_empty()))
        .or_else(|| postgres.url.clone().map(|s| s.0).filter(|u| !u.is_empty()));
    let postgres_settings = pg_url.map(|url| pg_settings(&url, &postgres)).transpose()?;
    let physical = backup
        .physical
        .clone()
        .map(|section| physical_settings(section, postgres_settings.as_ref()))
        .transpose()?;

    let mongo_url = sandbox
        .mongo
        .clone()
        .or_else(|| global.mongodb_url.clone().filter(|u| !u.is_empty()))
        .or_else(|| mongo.url.clone().map(|s| s.0).filter(|u| !u.is_empty()));
    let redis_url = sandbox
        .redis
        .clone()
        .or_else(|| global.redis_url.clone().filter(|u| !u.is_empty()))
        .or_else(|| redis.url.clone().map(|s| s.0).filter(|u| !u.is_empty()));
    let mongo_settings = match mongo_url {
        None => None,
        Some(url) => Some(mongo_settings(url, &mongo)?),
    };
    let redis_settings = match redis_url {
        None => None,
        Some(url) => Some(RedisSettings {
            url: crate::redact::SecretUrl::new(url),
            connect_timeout: nonzero(redis.connect_timeout).unwrap_or(DEFAULT_CONNECT_TIMEOUT),
            keyspace: redis_keyspace(&redis, config_path.as_deref())?,
        }),
    };

    Ok(Settings {
        config_path,
        env_name: global.env.clone(),
        protected: env_section.protected.unwrap_or(false),
        allow_protected: global.allow_protected,
        postgres: postgres_settings,
        mongo: mongo_settings,
        redis: redis_settings,
        migrations_dir: global
            .migrations
            .clone()
            .or_else(|| migrations.dir.map(|d| d.path()))
            .unwrap_or_else(|| PathBuf::from("migrations")),
        mongo_migrations_dir: global
            .mongo_migrations
            .clone()
            .or_else(|| mongo.migrations.map(|d| d.path()))
            .unwrap_or_else(|| PathBuf::from("mongo_migrations")),
        seeds_dir: global
            .seeds
            .clone()
            .or_else(|| seeds.dir.map(|d| d.path()))
            .unwrap_or_else(|| PathBuf::from("seeds")),
        default_seed_env: seeds.default_env.map(|s| s.0),
        versioning: migrations.versioning.unwrap_or_default(),
        allow_out_of_order: migrations.allow_out_of_order.unwrap_or(false),
        output: OutputSettings {
            format: global.format.or(output.format).unwrap_or_default(),
            quiet: global.quiet,
            verbose: global.verbose,
            color: color_enabled(),
        },
        assume_yes: global.yes,
        wait_timeout: global
            .wait_timeout
            .or(env_section.wait_timeout.map(|d| d.0))
            .or(file.wait_timeout.map(|d| d.0))
            .unwrap_or(Duration::ZERO),
        backup: BackupSettings {
            dir: backup
                .dir
                .map_or_else(|| PathBuf::from(DEFAULT_BACKUP_DIR), |d| d.path()),
            jobs: backup.jobs.unwrap_or(DEFAULT_BACKUP_JOBS),
            pg_bin_dir: backup.pg_bin_dir.map(|d| d.path()),
            keep_last: backup.keep_last,
            keep_daily: backup.keep_daily,
            keep_weekly: backup.keep_weekly,
            keep_monthly: backup.keep_monthly,
            physical,
        },
        maintain: maintain_settings(maintain)?,
        health: health::resolve(health)?,
        check: check::resolve(check::merge(file.check, env_section.check)),
        targets: targets::resolve(targets::merge(file.targets, env_section.targets))?,
        postgres_section: postgres.clone(),
        anonymize,
        retention,
        drift_ignore: file
            .drift
            .ignore
            .into_iter()
            .chain(env_section.drift.ignore)
            .collect(),
        lint_enable: file.lint.enable.clone(),
    })
}

/// The settings of a PostgreSQL URL under `[postgres]`: TLS, timeouts, history table.
fn pg_settings(url: &str, postgres: &PostgresSection) -> anyhow::Result<PgSettings> {
    let connect_timeout = postgres
        .connect_timeout
        .map_or(DEFAULT_CONNECT_TIMEOUT, |d| d.0);
    let target = PgTarget::parse(
        url,
        postgres.sslmode.as_ref().map(|s| s.0.as_str()),
        postgres.sslrootcert.as_ref().map(ConfigString::path),
        connect_timeout,
    )?;
    let history_table = postgres
        .history_table
        .clone()
        .map_or_else(|| DEFAULT_HISTORY_TABLE.to_string(), |s| s.0);
    validate_table_name(&history_table)?;
    Ok(PgSettings {
        target,
        history_table,
        // A lock_timeout of "0" means "no limit": no default comes back in that case.
        lock_timeout: match postgres.lock_timeout {
            Some(d) if d.0.is_zero() => None,
            other => nonzero(other).or(Some(DEFAULT_LOCK_TIMEOUT)),
        },
        statement_timeout: nonzero(postgres.statement_timeout),
        lock_wait: postgres.lock_wait.map_or(DEFAULT_LOCK_WAIT, |d| d.0),
    })
}

fn mongo_settings(url: String, mongo: &MongoSection) -> anyhow::Result<MongoSettings> {
    let history_collection = mongo.history_collection.as_ref().map_or_else(
        || DEFAULT_MONGO_HISTORY_COLLECTION.to_string(),
        |s| s.0.clone(),
    );
    if history_collection.is_empty()
        || !history_collection
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        bail!(
            "invalid mongo.history_collection `{history_collection}`: use letters, digits and underscores"
        );
    }
    let lock_lease = mongo.lock_lease.map_or(DEFAULT_MONGO_LOCK_LEASE, |d| d.0);
    if lock_lease < Duration::from_secs(1) {
        bail!("mongo.lock_lease must be at least 1s (the lock is renewed every third of it)");
    }
    // A database named in the URL wins over `[mongo] database` (DESIGN.md, "CLI contract"):
    // a command must never write to a database other than the one the user named.
    let database = mongo_url_database(&url)
        .or_else(|| mongo.database.as_ref().map(|s| s.0.clone()))
        .filter(|name| !name.is_empty());
    Ok(MongoSettings {
        url: crate::redact::SecretUrl::new(url),
        database,
        history_collection,
        lock_lease,
        lock_wait: mongo.lock_wait.map_or(DEFAULT_LOCK_WAIT, |d| d.0),
        connect_timeout: nonzero(mongo.connect_timeout).unwrap_or(DEFAULT_CONNECT_TIMEOUT),
    })
}

/// The database named in the path of a `mongodb://` or `mongodb+srv://` URL, if any
/// (`mongodb://u:p@h1:1,h2:2/app?replicaSet=rs` names `app`).
pub fn mongo_url_database(url: &str) -> Option<String> {
    let rest = url
        .trim()
        .strip_prefix("mongodb://")
        .or_else(|| url.trim().strip_prefix("mongodb+srv://"))?;
    let before_query = rest.split('?').next().unwrap_or(rest);
    // User info may not contain `/` unencoded, but hosts start after the last `@`.
    let hosts_start = before_query.rfind('@').map_or(0, |at| at + 1);
    let (_, path) = before_query[hosts_start..].split_once('/')?;
    let name = percent_decode(path);
    (!name.is_empty()).then_some(name)
}

/// `%2F`-style escapes decoded; anything malformed is kept as written.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let escaped = (bytes[index] == b'%')
            .then(|| text.get(index + 1..index + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                out.push(byte);
                index += 3;
            }
            None => {
                out.push(bytes[index]);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The keyspace declaration, when `[redis]` has one. Namespace and schema version are required
/// as soon as anything else is declared.
fn redis_keyspace(
    redis: &RedisSection,
    config_path: Option<&Path>,
) -> anyhow::Result<Option<RedisKeyspace>> {
    let declares_something = redis.notify_keyspace_events.is_some()
        || redis.keys.is_some()
        || redis.functions.is_some()
        || redis.acl_users.is_some();
    let (namespace, schema_version) = match (&redis.namespace, redis.schema_version) {
        (Some(namespace), Some(version)) => (namespace.clone(), version),
        (None, None) if !declares_something => return Ok(None),
        (None, _) => bail!("[redis] declares a keyspace but no `namespace`"),
        (Some(_), None) => bail!("[redis] declares a keyspace but no `schema_version`"),
    };
    let base = config_path
        .and_then(Path::parent)
        .unwrap_or_else(|| Path::new("."));
    Ok(Some(RedisKeyspace {
        namespace,
        schema_version,
        notify_keyspace_events: redis.notify_keyspace_events.clone(),
        keys: redis.keys.clone().unwrap_or_default(),
        functions: redis
            .functions
            .iter()
            .flatten()
            .map(|f| base.join(f.path.path()))
            .collect(),
        acl_users: redis.acl_users.clone().unwrap_or_default(),
    }))
}

fn nonzero(setting: Option<impl Into<Duration>>) -> Option<Duration> {
    setting.map(Into::into).filter(|d| !d.is_zero())
}

/// History table names are spliced into SQL, so only plain (optionally schema-qualified)
/// identifiers are accepted.
fn validate_table_name(name: &str) -> anyhow::Result<()> {
    let ok = !name.is_empty()
        && name.split('.').count() <= 2
        && name.split('.').all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                && !part.starts_with(|c: char| c.is_ascii_digit())
        });
    if !ok {
        bail!(
            "invalid postgres.history_table `{name}`: use a lowercase identifier, optionally schema-qualified"
        )
    }
    // PostgreSQL truncates identifiers to 63 bytes: the names derived from the table's (its
    // unique indexes, the seed table and their keys) must fit, or they would collide.
    let (schema, table) = name.split_once('.').unwrap_or(("public", name));
    if table.len() > MAX_HISTORY_TABLE_LEN || schema.len() > 63 {
        bail!(
            "postgres.history_table `{name}` is too long: the table name may have at most {MAX_HISTORY_TABLE_LEN} characters, so that the names derived from it (`{table}_repeatable_key`, `{table}_seeds`) fit PostgreSQL's 63-byte identifiers"
        )
    }
    Ok(())
}

/// The longest history table name: `{name}_repeatable_key` must fit in 63 bytes.
const MAX_HISTORY_TABLE_LEN: usize = 63 - "_repeatable_key".len();

macro_rules! overlay {
    ($base:expr, $over:expr; $($field:ident),+) => {{
        let (base, over) = ($base, $over);
        let mut merged = base;
        $( if over.$field.is_some() { merged.$field = over.$field; } )+
        merged
    }};
}

fn merge_postgres(base: PostgresSection, over: PostgresSection) -> PostgresSection {
    overlay!(base, over; url, direct_url, history_table, lock_timeout, statement_timeout, connect_timeout, lock_wait, sslmode, sslrootcert)
}

fn merge_migrations(base: MigrationsSection, over: MigrationsSection) -> MigrationsSection {
    overlay!(base, over; dir, versioning, allow_out_of_order)
}

fn merge_mongo(base: MongoSection, over: MongoSection) -> MongoSection {
    overlay!(base, over; url, database, migrations, history_collection, lock_lease, lock_wait, connect_timeout)
}

fn merge_redis(base: RedisSection, over: RedisSection) -> RedisSection {
    overlay!(base, over; url, connect_timeout, namespace, schema_version, notify_keyspace_events, keys, functions, acl_users)
}

fn merge_seeds(base: SeedsSection, over: SeedsSection) -> SeedsSection {
    overlay!(base, over; dir, default_env)
}

fn merge_backup(base: BackupSection, over: BackupSection) -> BackupSection {
    overlay!(base, over; dir, jobs, pg_bin_dir, keep_last, keep_daily, keep_weekly, keep_monthly, physical)
}

/// `[backup.physical]` checked: a stanza pgBackRest accepts, the paths it needs, the port
/// from the PostgreSQL URL unless given.
fn physical_settings(
    section: file::PhysicalSection,
    postgres: Option<&PgSettings>,
) -> anyhow::Result<PhysicalSettings> {
    let Some(stanza) = section.stanza.filter(|s| !s.is_empty()) else {
        bail!(
            "[backup.physical] needs `stanza`, the pgBackRest stanza name (e.g. stanza = \"main\")"
        );
    };
    if !stanza
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        bail!("[backup.physical] stanza `{stanza}`: use letters, digits, `-` and `_` only");
    }
    let Some(repo_path) = section.repo_path.map(|p| p.path()) else {
        bail!("[backup.physical] needs `repo_path`, the pgBackRest repository directory");
    };
    let Some(data_dir) = section.data_dir.map(|p| p.path()) else {
        bail!(
            "[backup.physical] needs `data_dir`, the server's data directory (pgBackRest's pg1-path)"
        );
    };
    let absolute = |key: &str, path: PathBuf| -> anyhow::Result<PathBuf> {
        if path.is_absolute() {
            Ok(path)
        } else {
            std::path::absolute(&path).with_context(|| {
                format!("[backup.physical] {key}: cannot resolve {}", path.display())
            })
        }
    };
    let repo_path = absolute("repo_path", repo_path)?;
    let config_file = match section.config_file {
        Some(path) => absolute("config_file", path.path())?,
        None => repo_path.join("pgbackrest.conf"),
    };
    let port = section.port.unwrap_or_else(|| {
        postgres
            .and_then(|pg| pg.target.driver_config().get_ports().first().copied())
            .unwrap_or(5432)
    });
    Ok(PhysicalSettings {
        stanza,
        repo_path,
        config_file,
        data_dir: absolute("data_dir", data_dir)?,
        socket_dir: absolute(
            "socket_dir",
            section
                .socket_dir
                .map_or_else(|| PathBuf::from("/var/run/postgresql"), |p| p.path()),
        )?,
        port,
        keep_full: section.keep_full,
        wal_days: section.wal_days,
    })
}

fn merge_maintain(base: MaintainSection, over: MaintainSection) -> MaintainSection {
    overlay!(base, over; vacuum_tables, partition_months_ahead)
}

fn maintain_settings(maintain: MaintainSection) -> anyhow::Result<MaintainSettings> {
    let months = maintain
        .partition_months_ahead
        .unwrap_or(DEFAULT_PARTITION_MONTHS_AHEAD);
    if months > 120 {
        bail!("[maintain] partition_months_ahead must be between 0 and 120, got {months}");
    }
    Ok(MaintainSettings {
        vacuum_tables: maintain.vacuum_tables.unwrap_or_default(),
        partition_months_ahead: months,
    })
}

impl Settings {
    /// The settings of another PostgreSQL URL (a fleet target) under this `[postgres]`.
    pub fn pg_for(&self, url: &str) -> anyhow::Result<PgSettings> {
        pg_settings(url, &self.postgres_section)
    }

    /// The PostgreSQL settings, or a clear error naming the ways to give a URL.
    pub fn require_postgres(&self) -> anyhow::Result<&PgSettings> {
        self.postgres.as_ref().context(
            "no PostgreSQL URL: pass --database-url, set DATABASE_URL, set [postgres] url in migrate.toml, or use --sandbox",
        )
    }

    pub fn config_dir(&self) -> &Path {
        self.config_path
            .as_deref()
            .and_then(Path::parent)
            .unwrap_or_else(|| Path::new("."))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn global() -> Overrides {
        Overrides::default()
    }

    fn file(text: &str) -> FileConfig {
        file::parse(text, Path::new("migrate.toml")).unwrap()
    }

    #[test]
    fn flags_beat_env_section_beat_file_beat_defaults() {
        let text = r#"
            [postgres]
            url = "postgres://base@localhost/base"
            lock_timeout = "3s"
            [migrations]
            dir = "db/migrations"
            [env.ci]
            protected = true
            [env.ci.postgres]
            url = "postgres://ci@localhost/ci"
        "#;
        let settings = resolve_with(&global(), file(text), None, None).unwrap();
        let pg = settings.postgres.as_ref().unwrap();
        assert_eq!(pg.target.database(), "base");
        assert_eq!(pg.lock_timeout, Some(Duration::from_secs(3)));
        assert_eq!(settings.migrations_dir, PathBuf::from("db/migrations"));
        assert!(!settings.protected);

        let mut args = global();
        args.env = Some("ci".into());
        let settings = resolve_with(&args, file(text), None, None).unwrap();
        assert_eq!(settings.postgres.as_ref().unwrap().target.database(), "ci");
        assert!(settings.protected);

        args.database_url = Some("postgres://flag@localhost/flag".into());
        args.migrations = Some(PathBuf::from("other"));
        let settings = resolve_with(&args, file(text), None, None).unwrap();
        assert_eq!(
            settings.postgres.as_ref().unwrap().target.database(),
            "flag"
        );
        assert_eq!(settings.migrations_dir, PathBuf::from("other"));
    }

    #[test]
    fn defaults_without_a_file() {
        let settings = resolve_with(&global(), FileConfig::default(), None, None).unwrap();
        assert!(settings.postgres.is_none());
        assert_eq!(settings.migrations_dir, PathBuf::from("migrations"));
        assert_eq!(settings.versioning, Versioning::Sequential);
        assert!(settings.require_postgres().is_err());
    }

    #[test]
    fn unknown_env_is_an_error_naming_the_known_ones() {
        let mut args = global();
        args.env = Some("prod".into());
        let err = resolve_with(
            &args,
            file("[env.dev]\n[env.ci]\n"),
            Some(PathBuf::from("migrate.toml")),
            None,
        )
        .unwrap_err();
        assert!(err.to_string().contains("defined: ci, dev"), "{err}");
    }

    #[test]
    fn wait_timeout_follows_the_precedence_rules() {
        let text = "wait_timeout = \"5s\"\n[env.ci]\nwait_timeout = \"1min\"\n";
        let settings = resolve_with(&global(), FileConfig::default(), None, None).unwrap();
        assert_eq!(settings.wait_timeout, Duration::ZERO);
        let settings = resolve_with(&global(), file(text), None, None).unwrap();
        assert_eq!(settings.wait_timeout, Duration::from_secs(5));
        let mut args = global();
        args.env = Some("ci".into());
        let settings = resolve_with(&args, file(text), None, None).unwrap();
        assert_eq!(settings.wait_timeout, Duration::from_secs(60));
        args.wait_timeout = Some(Duration::from_secs(2));
        let settings = resolve_with(&args, file(text), None, None).unwrap();
        assert_eq!(settings.wait_timeout, Duration::from_secs(2));
    }

    #[test]
    fn zero_lock_timeout_means_none() {
        let mut args = global();
        args.database_url = Some("postgres://localhost/x".into());
        let settings = resolve_with(
            &args,
            file("[postgres]\nlock_timeout = \"0\"\n"),
            None,
            None,
        )
        .unwrap();
        assert_eq!(settings.postgres.unwrap().lock_timeout, None);
    }

    #[test]
    fn a_database_in_the_mongo_url_wins_over_the_database_key() {
        let text = "[mongo]\ndatabase = \"app\"\n";
        let mut args = global();
        for (url, expected) in [
            ("mongodb://127.0.0.1:27017/staging", "staging"),
            (
                "mongodb://u:p%40ss@h1:1,h2:2/staging?replicaSet=rs",
                "staging",
            ),
            ("mongodb+srv://cluster.example.com/staging", "staging"),
            ("mongodb://127.0.0.1:27017/", "app"),
            ("mongodb://127.0.0.1:27017", "app"),
            ("mongodb://127.0.0.1:27017/?tls=true", "app"),
        ] {
            args.mongodb_url = Some(url.to_string());
            let settings = resolve_with(&args, file(text), None, None).unwrap();
            assert_eq!(
                settings.mongo.unwrap().database.as_deref(),
                Some(expected),
                "{url}"
            );
        }
        // The same rule when the URL comes from the file, and from an environment section.
        let text = "[mongo]\nurl = \"mongodb://h/fromfile\"\ndatabase = \"app\"\n\
                    [env.ci.mongo]\nurl = \"mongodb://h/ci\"\n";
        let settings = resolve_with(&global(), file(text), None, None).unwrap();
        assert_eq!(
            settings.mongo.unwrap().database.as_deref(),
            Some("fromfile")
        );
        let mut args = global();
        args.env = Some("ci".into());
        let settings = resolve_with(&args, file(text), None, None).unwrap();
        assert_eq!(settings.mongo.unwrap().database.as_deref(), Some("ci"));
        assert_eq!(mongo_url_database("mongodb://h/a%2Db"), Some("a-b".into()));
    }

    #[test]
    fn history_table_names_are_checked() {
        assert!(validate_table_name("migrate_history").is_ok());
        assert!(validate_table_name("ops.migrate_history").is_ok());
        assert!(validate_table_name("x; drop table y").is_err());
        assert!(validate_table_name("a.b.c").is_err());
        assert!(validate_table_name(&"h".repeat(48)).is_ok());
        let err = validate_table_name(&"h".repeat(49))
            .unwrap_err()
            .to_string();
        assert!(err.contains("at most 48 characters"), "{err}");
        assert!(validate_table_name(&format!("ops.{}", "h".repeat(63))).is_err());
    }
}
