//! The `migrate.toml` file format: typed sections, `${VAR}` interpolation and located errors.

pub use crate::core::duration::parse_duration;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// The whole file. Every key is optional; unknown keys are errors.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// How long to wait for servers that refuse connections or are starting up (`--wait-timeout`).
    pub wait_timeout: Option<DurationSetting>,
    #[serde(default)]
    pub postgres: PostgresSection,
    #[serde(default)]
    pub migrations: MigrationsSection,
    #[serde(default)]
    pub mongo: MongoSection,
    #[serde(default)]
    pub redis: RedisSection,
    #[serde(default)]
    pub seeds: SeedsSection,
    #[serde(default)]
    pub output: OutputSection,
    #[serde(default)]
    pub backup: BackupSection,
    #[serde(default)]
    pub maintain: MaintainSection,
    #[serde(default)]
    pub anonymize: AnonymizeSection,
    #[serde(default)]
    pub retention: RetentionSection,
    #[serde(default)]
    pub drift: DriftSection,
    #[serde(default)]
    pub health: super::health::HealthSection,
    #[serde(default)]
    pub targets: super::targets::TargetsSection,
    #[serde(default)]
    pub lint: LintSection,
    #[serde(default)]
    pub check: super::check::CheckSection,
    /// `[env.NAME]` sections override the top-level sections when `--env NAME` is given.
    #[serde(default)]
    pub env: BTreeMap<String, EnvSection>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvSection {
    /// A protected environment refuses `down` unless `--allow-protected` is given.
    pub protected: Option<bool>,
    pub wait_timeout: Option<DurationSetting>,
    #[serde(default)]
    pub postgres: PostgresSection,
    #[serde(default)]
    pub migrations: MigrationsSection,
    #[serde(default)]
    pub mongo: MongoSection,
    #[serde(default)]
    pub redis: RedisSection,
    #[serde(default)]
    pub seeds: SeedsSection,
    #[serde(default)]
    pub output: OutputSection,
    #[serde(default)]
    pub backup: BackupSection,
    #[serde(default)]
    pub maintain: MaintainSection,
    /// Replaces the top-level `[anonymize]` as a whole when given.
    pub anonymize: Option<AnonymizeSection>,
    /// Replaces the top-level `[retention]` as a whole when given.
    pub retention: Option<RetentionSection>,
    /// Its `ignore` patterns are added to the top-level ones.
    #[serde(default)]
    pub drift: DriftSection,
    /// Its keys override the top-level `[health]` ones.
    #[serde(default)]
    pub health: super::health::HealthSection,
    /// Its keys override the top-level `[targets]` ones.
    #[serde(default)]
    pub targets: super::targets::TargetsSection,
    /// Its keys override the top-level `[check]` ones.
    #[serde(default)]
    pub check: super::check::CheckSection,
}

/// `[lint]`: the opt-in lint rules to run (rule or Squawk names, or `"all"`).
#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct LintSection {
    #[serde(default)]
    pub enable: Vec<String>,
}

/// `[drift]`: objects `migrate drift` leaves out, merged with `--ignore`.
#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct DriftSection {
    /// Patterns as for `--ignore` (`public.activity_logs_y*`).
    #[serde(default)]
    pub ignore: Vec<String>,
}

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct PostgresSection {
    pub url: Option<ConfigString>,
    /// The server itself, when `url` goes through a pooler (PgBouncer in transaction mode):
    /// migrate connects here instead of any other PostgreSQL URL.
    pub direct_url: Option<ConfigString>,
    pub history_table: Option<ConfigString>,
    pub lock_timeout: Option<PgTimeout>,
    pub statement_timeout: Option<PgTimeout>,
    pub connect_timeout: Option<DurationSetting>,
    /// How long a runner waits for another runner's advisory lock before giving up.
    pub lock_wait: Option<DurationSetting>,
    pub sslmode: Option<ConfigString>,
    pub sslrootcert: Option<ConfigString>,
}

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct MigrationsSection {
    pub dir: Option<ConfigString>,
    pub versioning: Option<Versioning>,
    pub allow_out_of_order: Option<bool>,
}

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct MongoSection {
    pub url: Option<ConfigString>,
    pub database: Option<ConfigString>,
    pub migrations: Option<ConfigString>,
    /// Collection of applied migrations (default `migrate_history`).
    pub history_collection: Option<ConfigString>,
    /// How long the lock document stays valid without a heartbeat: a crashed runner's lock is
    /// taken over this long after its last renewal.
    pub lock_lease: Option<DurationSetting>,
    /// How long a runner waits for another runner's lock before giving up.
    pub lock_wait: Option<DurationSetting>,
    /// How long to wait for a reachable server (server selection and TCP connect).
    pub connect_timeout: Option<DurationSetting>,
}

/// `[redis]`: the server and the declared keyspace (see DESIGN.md, "Redis keyspace").
#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct RedisSection {
    pub url: Option<ConfigString>,
    pub connect_timeout: Option<DurationSetting>,
    /// Prefix of the keys migrate itself writes: the schema version lives in `{namespace}:__schema`.
    pub namespace: Option<String>,
    /// Version of the keyspace declaration; bump it when the declaration changes.
    pub schema_version: Option<u32>,
    /// Flags merged (as a set) into the server's `notify-keyspace-events`, e.g. `"Ex"`.
    pub notify_keyspace_events: Option<String>,
    /// `[[redis.keys]]`: every key pattern the application uses.
    pub keys: Option<Vec<RedisKeySection>>,
    /// `[[redis.functions]]`: Lua function libraries to load.
    pub functions: Option<Vec<RedisFunctionSection>>,
    /// `[[redis.acl_users]]`: ACL users to create.
    pub acl_users: Option<Vec<RedisAclUserSection>>,
}

/// One `[[redis.keys]]` entry: a key pattern with its type, TTL policy and PII flag.
#[derive(Debug, Deserialize, Clone, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RedisKeySection {
    /// `presence:{user_id}` (a `{name}` placeholder stands for one variable part) or a glob.
    pub pattern: String,
    #[serde(rename = "type")]
    pub key_type: RedisKeyType,
    /// The TTL the application sets on these keys, or `"none"` for keys that never expire.
    pub ttl: TtlPolicy,
    /// The longest TTL an audit accepts (default: `ttl`).
    pub max_ttl: Option<DurationSetting>,
    /// Whether the key name or value holds personal data (a person's id counts).
    pub pii: bool,
    pub description: Option<String>,
}

/// Redis data types a key pattern can declare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RedisKeyType {
    String,
    Hash,
    Set,
    Zset,
    List,
    Stream,
}

impl RedisKeyType {
    pub fn as_str(self) -> &'static str {
        match self {
            RedisKeyType::String => "string",
            RedisKeyType::Hash => "hash",
            RedisKeyType::Set => "set",
            RedisKeyType::Zset => "zset",
            RedisKeyType::List => "list",
            RedisKeyType::Stream => "stream",
        }
    }
}

/// `ttl = "30s"` or `ttl = "none"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TtlPolicy {
    None,
    Expires(Duration),
}

impl<'de> Deserialize<'de> for TtlPolicy {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        if text.trim() == "none" {
            return Ok(TtlPolicy::None);
        }
        match parse_duration(&text) {
            Ok(duration) if !duration.is_zero() => Ok(TtlPolicy::Expires(duration)),
            Ok(_) => Err(serde::de::Error::custom(
                "a ttl of 0 is not a policy: write \"none\" for keys that never expire",
            )),
            Err(message) => Err(serde::de::Error::custom(format!(
                "{message} (or \"none\" for keys that never expire)"
            ))),
        }
    }
}

/// One `[[redis.functions]]` entry: a Lua library file (`#!lua name=...` on its first line).
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct RedisFunctionSection {
    /// Path of the `.lua` file, relative to the config file.
    pub path: ConfigString,
}

/// One `[[redis.acl_users]]` entry.
#[derive(Debug, Deserialize, Clone, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RedisAclUserSection {
    pub name: String,
    /// Name of the environment variable holding the password (never the password itself).
    pub password_env: String,
    /// Key patterns the user may touch (`~pattern` rules); `%R~`/`%W~` forms are passed as is.
    #[serde(default)]
    pub keys: Vec<String>,
    /// Pub/sub channel patterns (`&pattern` rules).
    #[serde(default)]
    pub channels: Vec<String>,
    /// Command rules: `+@read`, `-@dangerous`, `+fcall`, ...
    #[serde(default)]
    pub commands: Vec<String>,
}

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct SeedsSection {
    pub dir: Option<ConfigString>,
    /// The seed environment used when `seed` is given no `--env`.
    pub default_env: Option<ConfigString>,
}

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct OutputSection {
    pub format: Option<crate::core::Format>,
}

/// `[backup]`: where backups live, how `pg_dump` runs and what `backup prune` keeps.
#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct BackupSection {
    /// Directory holding one sub-directory per backup.
    pub dir: Option<ConfigString>,
    /// Parallel jobs of `pg_dump`/`pg_restore` (`-j`), and hashing threads.
    #[serde(default, deserialize_with = "positive_count")]
    pub jobs: Option<u32>,
    /// Directory of `pg_dump`/`pg_restore` (default: found on PATH).
    pub pg_bin_dir: Option<ConfigString>,
    pub keep_last: Option<u32>,
    pub keep_daily: Option<u32>,
    pub keep_weekly: Option<u32>,
    pub keep_monthly: Option<u32>,
    /// `[backup.physical]`: physical backups and WAL archiving through pgBackRest.
    pub physical: Option<PhysicalSection>,
}

/// `[backup.physical]`: the pgBackRest stanza `migrate backup … --physical` drives
/// (resolved and checked by `config::physical_settings`).
#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct PhysicalSection {
    pub stanza: Option<String>,
    /// pgBackRest repository (`repo1-path`); its config, lock and log live beside it.
    pub repo_path: Option<ConfigString>,
    /// The pgBackRest config file migrate writes [default: `<repo_path>/pgbackrest.conf`].
    pub config_file: Option<ConfigString>,
    /// The server's data directory (`pg1-path`).
    pub data_dir: Option<ConfigString>,
    /// The server's Unix socket directory (`pg1-socket-path`) [default: /var/run/postgresql].
    pub socket_dir: Option<ConfigString>,
    /// The server's port (`pg1-port`) [default: the PostgreSQL URL's port, else 5432].
    pub port: Option<u16>,
    /// Full backups kept by `backup prune --physical`.
    #[serde(default, deserialize_with = "positive_count")]
    pub keep_full: Option<u32>,
    /// Days of point-in-time recovery `backup prune --physical` keeps.
    pub wal_days: Option<u32>,
}

/// `[maintain]`: what `migrate maintain` vacuums and how far ahead it creates partitions.
#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct MaintainSection {
    /// Tables to `VACUUM (ANALYZE)`, optionally schema-qualified.
    #[serde(default, deserialize_with = "table_names")]
    pub vacuum_tables: Option<Vec<String>>,
    /// Months of `activity_logs` partitions to create ahead of the current one.
    pub partition_months_ahead: Option<u32>,
}

/// `[anonymize]`: GDPR anonymization rules and bulk policies (`crate::jobs::anonymize`).
#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct AnonymizeSection {
    /// Name of the environment variable holding the HMAC-SHA256 key (never the key itself).
    pub key_env: Option<String>,
    /// Subjects per batch of a bulk job.
    #[serde(default, deserialize_with = "positive_count")]
    pub batch_size: Option<u32>,
    /// `SET LOCAL lock_timeout` of every batch transaction.
    pub lock_timeout: Option<PgTimeout>,
    /// The table of subjects (default `users`, primary key `id`).
    pub subject_table: Option<String>,
    /// The audit table whose copies of rows are scrubbed (default `audit_logs`; "" for none).
    pub audit_table: Option<String>,
    /// How an erased subject's row is marked: column -> value (`"now"`: the current time, kept
    /// when the column is already set).
    pub mark: Option<BTreeMap<String, String>>,
    /// `[[anonymize.postgres]]`: per table, the subject column and a strategy per column.
    pub postgres: Option<Vec<AnonymizeTableSection>>,
    /// `[[anonymize.mongo]]`: per collection, the subject field and a strategy per field.
    pub mongo: Option<Vec<AnonymizeCollectionSection>>,
    /// `[[anonymize.redis]]`: per declared key pattern, what happens to the subject's keys.
    pub redis: Option<Vec<AnonymizeKeySection>>,
    /// `[[anonymize.policies]]`: named bulk jobs.
    pub policies: Option<Vec<AnonymizePolicySection>>,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct AnonymizeTableSection {
    pub table: String,
    /// Column holding the subject's id (none: the table only has `replace` columns).
    pub subject: Option<String>,
    /// `update` (default) or `delete` (the subject's rows).
    pub action: Option<super::anonymize::RowAction>,
    /// Column (or `column.json.key`) -> strategy.
    #[serde(default)]
    pub columns: BTreeMap<String, super::anonymize::Strategy>,
    /// Text or JSON columns of every row in which the subject's values are replaced.
    #[serde(default)]
    pub replace: Vec<String>,
    /// Columns referencing subjects (uuid or uuid[]): a row is about the subjects it names.
    #[serde(default)]
    pub refs: Vec<String>,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct AnonymizeCollectionSection {
    pub collection: String,
    /// Field holding the subject's id (none: the collection only has `replace` fields).
    pub subject: Option<String>,
    pub action: Option<super::anonymize::RowAction>,
    /// Dotted field path -> strategy.
    #[serde(default)]
    pub fields: BTreeMap<String, super::anonymize::Strategy>,
    /// Dotted field paths of every document in which the subject's values are replaced.
    #[serde(default)]
    pub replace: Vec<String>,
    /// Fields referencing subjects (a document is about the subjects they name).
    #[serde(default)]
    pub refs: Vec<String>,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct AnonymizeKeySection {
    /// A pattern declared in `[[redis.keys]]`; `{userId}` stands for the subject's id.
    pub pattern: String,
    pub action: super::anonymize::KeyAction,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct AnonymizePolicySection {
    pub name: String,
    pub description: Option<String>,
    /// SQL condition selecting the subjects (rows of the subject table).
    pub subjects: String,
    /// Record every subject as an erasure in `gdpr_requests`.
    pub ledger: Option<bool>,
}

/// `[retention]`: what `migrate retention run` removes.
#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct RetentionSection {
    #[serde(default, deserialize_with = "positive_count")]
    pub batch_size: Option<u32>,
    pub lock_timeout: Option<PgTimeout>,
    /// `[[retention.policies]]`.
    pub policies: Option<Vec<RetentionPolicySection>>,
}

/// One retention policy: a table, a collection, or the Redis TTL fix.
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct RetentionPolicySection {
    pub name: String,
    pub description: Option<String>,
    pub table: Option<String>,
    /// Timestamp column compared with the age.
    pub column: Option<String>,
    /// Extra SQL condition (`is_read`).
    pub filter: Option<String>,
    pub collection: Option<String>,
    /// Date field compared with the age.
    pub field: Option<String>,
    pub redis: Option<super::retention::RedisRetention>,
    /// Declared key patterns the Redis policy covers (default: all).
    pub patterns: Option<Vec<String>>,
    pub older_than: Option<crate::core::duration::Age>,
    pub action: Option<super::retention::RetentionAction>,
}

fn positive_count<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u32>, D::Error> {
    match u32::deserialize(deserializer)? {
        0 => Err(serde::de::Error::custom("must be at least 1")),
        n => Ok(Some(n)),
    }
}

fn table_names<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Vec<String>>, D::Error> {
    let names = Vec::<String>::deserialize(deserializer)?;
    for name in &names {
        let ok = name.split('.').count() <= 2
            && name.split('.').all(|part| {
                !part.is_empty()
                    && !part.starts_with(|c: char| c.is_ascii_digit())
                    && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            });
        if !ok {
            return Err(serde::de::Error::custom(format!(
                "invalid table name `{name}`: use an identifier, optionally schema-qualified"
            )));
        }
    }
    Ok(Some(names))
}

/// How `migrate new` numbers files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Versioning {
    /// 1, 2, 3, …
    #[default]
    Sequential,
    /// UTC `YYYYMMDDHHMMSS`
    Timestamp,
}

/// A string value with `${VAR}` and `${VAR:-default}` expanded from the environment.
#[derive(Clone, PartialEq, Eq)]
pub struct ConfigString(pub String);

impl fmt::Debug for ConfigString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Values may hold passwords (URLs); never print them in debug output.
        f.write_str("ConfigString(..)")
    }
}

impl<'de> Deserialize<'de> for ConfigString {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        interpolate(&raw, &|name| std::env::var(name).ok())
            .map(ConfigString)
            .map_err(serde::de::Error::custom)
    }
}

/// Expands `${VAR}` and `${VAR:-default}`; `$$` is a literal `$`.
pub fn interpolate(raw: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(index) = rest.find('$') {
        out.push_str(&rest[..index]);
        let after = &rest[index + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(body_and_tail) = after.strip_prefix('{') {
            let Some(end) = body_and_tail.find('}') else {
                return Err(format!("unterminated `${{` in {raw:?}"));
            };
            let body = &body_and_tail[..end];
            let (name, default) = match body.split_once(":-") {
                Some((name, default)) => (name, Some(default)),
                None => (body, None),
            };
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!("invalid variable name `{name}` in `${{{body}}}`"));
            }
            match (lookup(name).filter(|value| !value.is_empty()), default) {
                (Some(value), _) => out.push_str(&value),
                (None, Some(default)) => out.push_str(default),
                (None, None) => {
                    return Err(format!(
                        "environment variable `{name}` is not set (write `${{{name}:-default}}` to give a default)"
                    ));
                }
            }
            rest = &body_and_tail[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// A duration written as `"5s"`, `"250ms"`, `"2min"`, `"1h"`, `"0"` (none), or an integer of milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DurationSetting(pub Duration);

impl<'de> Deserialize<'de> for DurationSetting {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Millis(u64),
            Text(String),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Millis(ms) => Ok(DurationSetting(Duration::from_millis(ms))),
            Raw::Text(text) => parse_duration(&text)
                .map(DurationSetting)
                .map_err(serde::de::Error::custom),
        }
    }
}

/// A PostgreSQL timeout setting (`lock_timeout`, `statement_timeout`): a duration as
/// [`DurationSetting`], at most [`MAX_PG_TIMEOUT_MS`] (the server keeps them in an int32 of
/// milliseconds and refuses more).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PgTimeout(pub Duration);

impl From<PgTimeout> for Duration {
    fn from(setting: PgTimeout) -> Duration {
        setting.0
    }
}

impl From<DurationSetting> for Duration {
    fn from(setting: DurationSetting) -> Duration {
        setting.0
    }
}

/// The largest `lock_timeout`/`statement_timeout` PostgreSQL accepts, in milliseconds.
pub const MAX_PG_TIMEOUT_MS: u64 = i32::MAX as u64;

impl<'de> Deserialize<'de> for PgTimeout {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let DurationSetting(duration) = DurationSetting::deserialize(deserializer)?;
        check_pg_timeout(duration)
            .map(PgTimeout)
            .map_err(serde::de::Error::custom)
    }
}

/// Parses a PostgreSQL timeout: [`parse_duration`] within [`MAX_PG_TIMEOUT_MS`].
pub fn parse_pg_timeout(text: &str) -> Result<Duration, String> {
    parse_duration(text).and_then(check_pg_timeout)
}

fn check_pg_timeout(duration: Duration) -> Result<Duration, String> {
    if duration.as_millis() > u128::from(MAX_PG_TIMEOUT_MS) {
        return Err(format!(
            "timeout of {}ms is too large: PostgreSQL takes at most {MAX_PG_TIMEOUT_MS}ms (about 24 days); write \"0\" for no limit",
            duration.as_millis()
        ));
    }
    Ok(duration)
}

/// A config error located in its file.
#[derive(Debug, thiserror::Error)]
#[error("{path}:{line}:{column}: {message}")]
pub struct LocatedError {
    pub path: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// Reads and parses a config file, mapping TOML and value errors to `file:line:col: message`.
pub fn load(path: &Path) -> anyhow::Result<FileConfig> {
    let text = std::fs::read_to_string(path)
        .map_err(|err| anyhow::anyhow!("cannot read config file {}: {err}", path.display()))?;
    parse(&text, path).map_err(anyhow::Error::from)
}

pub fn parse(text: &str, path: &Path) -> Result<FileConfig, LocatedError> {
    toml::from_str::<FileConfig>(text).map_err(|err| {
        let (line, column) = err
            .span()
            .map(|span| line_column(text, span.start))
            .unwrap_or((1, 1));
        LocatedError {
            path: path.display().to_string(),
            line,
            column,
            message: err.message().trim().to_string(),
        }
    })
}

fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

impl ConfigString {
    pub fn path(&self) -> PathBuf {
        PathBuf::from(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(name: &str) -> Option<String> {
        match name {
            "HOST" => Some("db.internal".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn interpolates_variables_and_defaults() {
        assert_eq!(
            interpolate("pg://${HOST}/x", &lookup).unwrap(),
            "pg://db.internal/x"
        );
        assert_eq!(
            interpolate("${NOPE:-fallback}", &lookup).unwrap(),
            "fallback"
        );
        assert_eq!(
            interpolate("${EMPTY:-fallback}", &lookup).unwrap(),
            "fallback"
        );
        assert_eq!(
            interpolate("cost $$5 and $x", &lookup).unwrap(),
            "cost $5 and $x"
        );
        let err = interpolate("${NOPE}", &lookup).unwrap_err();
        assert!(err.contains("`NOPE` is not set"), "{err}");
        assert!(interpolate("${bad-name}", &lookup).is_err());
        assert!(interpolate("${HOST", &lookup).is_err());
    }

    #[test]
    fn parses_durations() {
        assert_eq!(parse_duration("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("2min").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("s").is_err());
        for huge in [
            "99999999999999h",
            "5124095576030432h",
            "99999999999999999999s",
        ] {
            let err = parse_duration(huge).unwrap_err();
            assert!(err.contains("too large"), "{huge}: {err}");
        }
        assert_eq!(
            parse_pg_timeout("2147483647ms").unwrap(),
            Duration::from_millis(2_147_483_647)
        );
        let err = parse_pg_timeout("2147484s").unwrap_err();
        assert!(err.contains("at most 2147483647ms"), "{err}");
        assert!(parse_pg_timeout("5124095576030432h").is_err());
    }

    #[test]
    fn unknown_key_is_located_and_named() {
        let text = "[postgres]\nurl = \"postgres://x\"\nlock_timout = \"5s\"\n";
        let err = parse(text, Path::new("migrate.toml")).unwrap_err();
        assert_eq!((err.line, err.column), (3, 1));
        assert!(err.message.contains("lock_timout"), "{}", err.message);
        assert!(err.to_string().starts_with("migrate.toml:3:1: "), "{err}");
    }

    #[test]
    fn bad_value_is_located() {
        let text = "[postgres]\nlock_timeout = \"5 parsecs\"\n";
        let err = parse(text, Path::new("m.toml")).unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.message.contains("invalid duration"), "{}", err.message);
        let text = "[migrations]\nversioning = \"weekly\"\n";
        let err = parse(text, Path::new("m.toml")).unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.message.contains("weekly"), "{}", err.message);
    }

    #[test]
    fn the_example_config_parses() {
        let text = include_str!("../../config.example.toml");
        parse(text, Path::new("config.example.toml")).unwrap();
    }

    #[test]
    fn env_sections_parse() {
        let text = "[env.prod]\nprotected = true\n[env.prod.postgres]\nurl = \"postgres://prod\"\n";
        let config = parse(text, Path::new("m.toml")).unwrap();
        let prod = &config.env["prod"];
        assert_eq!(prod.protected, Some(true));
        assert_eq!(prod.postgres.url.as_ref().unwrap().0, "postgres://prod");
    }
}
