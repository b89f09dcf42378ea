//! The expected schema: a shadow database migrated to the state the live database's history
//! describes, another database given by URL, or a committed snapshot file.
//!
//! A shadow database is created on the live server from `template0`, with a unique name, and
//! dropped when its guard goes away, on success, error or interruption alike.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio_postgres::Client;

use super::connect::PgTarget;
use super::engine;
use super::history::{HistoryRow, RowKind, RowState};
use super::migration::{Checksum, MigrationSet};
use super::plan::{self, Step, UpOptions};
use super::session::Session;
use super::snapshot::{self, Snapshot, SnapshotOptions};
use crate::config::{OutputSettings, PgSettings};
use crate::core::Format;
use crate::errors::{DbError, Detailed};
use crate::output::Printer;

/// Prefix of every shadow database's name, so a leftover one is recognisable.
pub const SHADOW_PREFIX: &str = "migrate_shadow_";

/// A database created for the duration of a command. Dropped by [`ShadowDb::drop_now`], or,
/// as a last resort, when the value is dropped.
pub struct ShadowDb {
    admin: Option<Client>,
    admin_target: PgTarget,
    name: String,
    /// Settings of the live database pointed at the shadow database.
    pub settings: PgSettings,
}

impl ShadowDb {
    /// Creates `migrate_shadow_<pid>_<random>` from `template0` on the live server.
    pub async fn create(live: &PgSettings) -> anyhow::Result<ShadowDb> {
        Self::create_from(live, "template0").await
    }

    /// Creates a shadow database as a file-level copy of database `template` of the live
    /// server (which fails while anyone else is connected to `template`).
    pub async fn create_from(live: &PgSettings, template: &str) -> anyhow::Result<ShadowDb> {
        let admin = live
            .target
            .connect(&format!("migrate {} shadow", crate::TOOL_VERSION))
            .await?;
        let name = unique_name();
        admin
            .batch_execute(&format!(
                "CREATE DATABASE \"{name}\" TEMPLATE \"{}\"",
                template.replace('"', "\"\"")
            ))
            .await
            .map_err(|err| {
                let privilege =
                    err.code() == Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE);
                let mut error = DbError::new(
                    format!("cannot create a shadow database on {}", live.target),
                    err,
                );
                if privilege {
                    error = error.hint(format!(
                        "grant CREATEDB to {}, or pass --shadow-url URL of a scratch database, or --snapshot FILE",
                        live.target.user()
                    ));
                }
                error
            })?;
        let mut settings = live.clone();
        settings.target = live.target.with_database(&name);
        Ok(ShadowDb {
            admin: Some(admin),
            admin_target: live.target.clone(),
            name,
            settings,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Drops the database now (terminating its connections), reporting failure.
    pub async fn drop_now(mut self) -> anyhow::Result<()> {
        let result = match self.admin.take() {
            Some(admin) => drop_database(&admin, &self.name).await,
            None => Ok(()),
        };
        // Dropped (or failed for a reason a retry in `Drop` would not fix): either way, done.
        self.name.clear();
        result.with_context(|| "cannot drop the shadow database".to_string())
    }
}

impl Drop for ShadowDb {
    /// Last resort after an error or an interruption: drop the database synchronously on a
    /// helper thread with its own runtime (a runtime cannot be entered from async code).
    fn drop(&mut self) {
        if self.name.is_empty() {
            return;
        }
        drop(self.admin.take());
        let target = self.admin_target.clone();
        let name = std::mem::take(&mut self.name);
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let admin = target.connect("migrate shadow cleanup").await.ok()?;
                drop_database(&admin, &name).await.ok()
            })
        })
        .join();
    }
}

async fn drop_database(admin: &Client, name: &str) -> anyhow::Result<()> {
    let forced = admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .await;
    match forced {
        Ok(()) => Ok(()),
        // Servers before 13 know no FORCE.
        Err(err) if err.code() == Some(&tokio_postgres::error::SqlState::SYNTAX_ERROR) => admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\""))
            .await
            .map_err(|err| DbError::new(format!("DROP DATABASE {name}"), err).into()),
        Err(err) => Err(DbError::new(format!("DROP DATABASE {name}"), err).into()),
    }
}

fn unique_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mut hasher = Sha256::new();
    hasher.update(nanos.to_le_bytes());
    hasher.update(COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    hasher.update(std::process::id().to_le_bytes());
    let random = hex::encode(&hasher.finalize()[..5]);
    format!("{SHADOW_PREFIX}{}_{random}", std::process::id())
}

/// What the live database has applied, according to its history: the state to reproduce.
#[derive(Debug, Clone, Default)]
pub struct AppliedState {
    versions: BTreeSet<u64>,
    baseline: Option<u64>,
    repeatables: BTreeMap<String, Option<Checksum>>,
    /// Migrations left dirty by a failed run (neither applied nor pending).
    pub dirty: Vec<String>,
}

impl AppliedState {
    pub fn from_history(history: &[HistoryRow]) -> AppliedState {
        let mut state = AppliedState::default();
        for row in history {
            if row.state == RowState::Dirty {
                state.dirty.push(match row.version {
                    Some(v) => format!("V{v} {}", row.name),
                    None => format!("R {}", row.name),
                });
                continue;
            }
            match (row.kind, row.version) {
                (RowKind::Versioned, Some(version)) => {
                    state.versions.insert(version);
                }
                (RowKind::Baseline, Some(version)) => {
                    state.baseline = state.baseline.max(Some(version));
                }
                (RowKind::Repeatable, _) => {
                    state
                        .repeatables
                        .insert(row.name.clone(), row.checksum.clone());
                }
                _ => {}
            }
        }
        state
    }

    /// The newest applied version (baseline included).
    pub fn newest(&self) -> Option<u64> {
        self.versions.iter().copied().chain(self.baseline).max()
    }

    fn includes(&self, step: &Step) -> bool {
        match step.version {
            Some(version) => {
                self.versions.contains(&version) || self.baseline.is_some_and(|b| version <= b)
            }
            None => self.repeatables.contains_key(&step.name),
        }
    }

    /// Repeatable migrations whose file changed since the live database applied them: the
    /// expected side uses the file as it is now.
    pub fn changed_repeatables(&self, set: &MigrationSet) -> Vec<String> {
        set.repeatable
            .iter()
            .filter(|m| {
                self.repeatables
                    .get(&m.name)
                    .is_some_and(|recorded| recorded.as_ref() != Some(&m.checksum))
            })
            .map(|m| m.label())
            .collect()
    }
}

/// The steps that bring a database with history `history` to `state`: the migrations the live
/// database has applied and this one has not, in the order `up` would run them.
pub fn steps_to(
    set: &MigrationSet,
    history: &[HistoryRow],
    state: &AppliedState,
) -> Result<Vec<Step>, Detailed> {
    let options = UpOptions {
        target: None,
        allow_out_of_order: true,
    };
    Ok(plan::plan_up(set, history, options)?
        .into_iter()
        .filter(|step| state.includes(step))
        .collect())
}

/// A printer for work on a shadow database: silent unless `-v`.
pub fn quiet_printer(printer: &Printer) -> Printer {
    let verbose = printer.verbose_enabled();
    Printer::new(OutputSettings {
        format: Format::Human,
        quiet: !verbose,
        verbose,
        color: false,
    })
}

/// Migrates the database of `session` to `state` under the migration lock. Returns how many
/// migrations ran.
pub async fn migrate_to(
    session: &Session,
    set: &MigrationSet,
    state: &AppliedState,
    printer: &Printer,
) -> anyhow::Result<usize> {
    let held = session.lock(printer).await?;
    let outcome = async {
        let history = session.read_history().await?;
        let steps = steps_to(set, &history, state)?;
        engine::execute(session, &held, set, &steps, printer).await?;
        anyhow::Ok(steps.len())
    }
    .await;
    let unlocked = session.unlock(held).await;
    let count = outcome?;
    unlocked?;
    Ok(count)
}

/// Where the expected schema comes from.
#[derive(Debug, Clone)]
pub enum ExpectedSource {
    /// A shadow database created on the live server (the default).
    Shadow,
    /// A database the user provides, migrated in place (not dropped).
    Url(Box<PgTarget>),
    /// A snapshot file written by `schema dump`.
    File(PathBuf),
    /// Another database, read as it is (`drift --against`): nothing is written to it.
    Reference(Box<PgTarget>),
}

/// How the expected snapshot was obtained, for reports.
#[derive(Debug, Clone, Serialize)]
pub struct ExpectedInfo {
    /// `shadow`, `url`, `snapshot` or `database` (`--against`).
    pub source: &'static str,
    /// The database or file (passwords never included).
    pub from: String,
    /// Newest migration version the expected side reflects (none for a snapshot file).
    pub version: Option<u64>,
    /// Migrations applied to build it.
    pub migrations_applied: usize,
}

/// An `--against` database that does not exist: the connection's own hint would be about
/// creating the configured database, which is not the one missing.
fn against_error(err: anyhow::Error, target: &PgTarget) -> anyhow::Error {
    if crate::errors::sqlstate(&err) == Some(tokio_postgres::error::SqlState::INVALID_CATALOG_NAME)
    {
        return Detailed::new(format!("the --against database {target} does not exist"))
            .hint("check the database name in the --against URL")
            .into();
    }
    err
}

/// Builds the expected snapshot for a live database whose history says `state`.
pub async fn expected_snapshot(
    live: &PgSettings,
    live_major: u32,
    source: &ExpectedSource,
    set: &MigrationSet,
    state: &AppliedState,
    printer: &Printer,
) -> anyhow::Result<(Snapshot, ExpectedInfo)> {
    let options = SnapshotOptions::for_history_table(&live.history_table);
    match source {
        ExpectedSource::File(path) => {
            let snapshot = Snapshot::load(path)?;
            if snapshot.server_major != live_major {
                return Err(Detailed::new(format!(
                    "snapshot file {} was taken on PostgreSQL {}, the live server runs {live_major}",
                    path.display(),
                    snapshot.server_major
                ))
                .context("deparsed definitions differ between major versions, so they cannot be compared")
                .hint(format!(
                    "regenerate it with `migrate schema dump -o {}` against a PostgreSQL {live_major} database, or compare against a shadow database (drop --snapshot)",
                    path.display()
                ))
                .into());
            }
            Ok((
                snapshot,
                ExpectedInfo {
                    source: "snapshot",
                    from: path.display().to_string(),
                    version: None,
                    migrations_applied: 0,
                },
            ))
        }
        ExpectedSource::Reference(target) => {
            let snapshot = snapshot::take_database(target, &options)
                .await
                .map_err(|err| against_error(err, target))?;
            if snapshot.server_major != live_major {
                return Err(Detailed::new(format!(
                    "{target} runs PostgreSQL {}, the live server runs {live_major}",
                    snapshot.server_major
                ))
                .context("deparsed definitions differ between major versions, so they cannot be compared")
                .hint("compare against a database on the same major version, or against the migrations (drop --against)")
                .into());
            }
            Ok((
                snapshot,
                ExpectedInfo {
                    source: "database",
                    from: target.to_string(),
                    version: None,
                    migrations_applied: 0,
                },
            ))
        }
        ExpectedSource::Url(target) => {
            let mut settings = live.clone();
            settings.target = target.as_ref().clone();
            let session = Session::open(&settings).await?;
            check_user_shadow(live, &session).await?;
            let applied = migrate_to(&session, set, state, &quiet_printer(printer))
                .await
                .map_err(|err| {
                    prefixed(
                        err,
                        &format!("cannot build the expected schema in {target}"),
                    )
                })?;
            drop(session);
            let snapshot = snapshot::take_database(&settings.target, &options).await?;
            Ok((
                snapshot,
                ExpectedInfo {
                    source: "url",
                    from: target.to_string(),
                    version: state.newest(),
                    migrations_applied: applied,
                },
            ))
        }
        ExpectedSource::Shadow => {
            let shadow = ShadowDb::create(live).await?;
            printer.verbose(format!("created shadow database {}", shadow.name()));
            let built = async {
                let session = Session::open(&shadow.settings).await?;
                let applied = migrate_to(&session, set, state, &quiet_printer(printer))
                    .await
                    .map_err(|err| {
                        prefixed(err, "cannot build the expected schema on a shadow database")
                    })?;
                drop(session);
                let snapshot = snapshot::take_database(&shadow.settings.target, &options).await?;
                anyhow::Ok((snapshot, applied))
            }
            .await;
            let from = format!("{} (dropped)", shadow.settings.target);
            let dropped = shadow.drop_now().await;
            let (snapshot, applied) = built?;
            dropped?;
            Ok((
                snapshot,
                ExpectedInfo {
                    source: "shadow",
                    from,
                    version: state.newest(),
                    migrations_applied: applied,
                },
            ))
        }
    }
}

/// Which database a session is connected to, as the server knows it: the cluster's
/// `system_identifier` (when the role may read it) and the database's oid and name.
#[derive(Debug, PartialEq, Eq)]
struct DatabaseIdentity {
    system_identifier: Option<String>,
    oid: u32,
    name: String,
}

async fn identity(client: &tokio_postgres::Client) -> anyhow::Result<DatabaseIdentity> {
    let row = client
        .query_one(
            "SELECT d.oid, d.datname::text FROM pg_database d WHERE d.datname = current_database()",
            &[],
        )
        .await
        .map_err(|err| engine::query_error("cannot identify the database", err))?;
    // Readable by every role on current servers; when it is not, the name and address decide.
    let system_identifier = client
        .query_one(
            "SELECT system_identifier::text FROM pg_catalog.pg_control_system()",
            &[],
        )
        .await
        .ok()
        .map(|row| row.get::<_, String>(0));
    Ok(DatabaseIdentity {
        system_identifier,
        oid: row.get(0),
        name: row.get(1),
    })
}

/// A `--shadow-url` must name a scratch database: not the live database itself (comparing it
/// with itself would always say "no drift"), and an empty one (what is already there would
/// be taken for what the migrations produce). Refuses either with what it found.
pub async fn check_user_shadow(live: &PgSettings, shadow: &Session) -> anyhow::Result<()> {
    let live_session = Session::open(live).await?;
    let live_identity = identity(&live_session.client).await?;
    drop(live_session);
    let shadow_identity = identity(&shadow.client).await?;
    let same_cluster = match (
        &live_identity.system_identifier,
        &shadow_identity.system_identifier,
    ) {
        (Some(a), Some(b)) => a == b,
        // Unknown: fall back on the address the URLs name.
        _ => {
            let address = |settings: &PgSettings| {
                let config = settings.target.driver_config();
                (
                    format!("{:?}", config.get_hosts()),
                    config.get_ports().to_vec(),
                )
            };
            address(live) == address(&shadow.settings)
        }
    };
    let same_database = if live_identity.system_identifier.is_some()
        && shadow_identity.system_identifier.is_some()
    {
        live_identity.oid == shadow_identity.oid
    } else {
        live_identity.name == shadow_identity.name
    };
    if same_cluster && same_database {
        return Err(Detailed::new(format!(
            "--shadow-url names the live database itself ({}): comparing it with itself would always find no drift",
            shadow.settings.target
        ))
        .context("nothing was changed")
        .hint("give the URL of an empty scratch database, or omit --shadow-url to let migrate create (and drop) a shadow database")
        .into());
    }
    let history = &shadow.history;
    let objects: Vec<String> = shadow
        .client
        .query(
            "WITH user_ns AS (
                 SELECT oid, nspname FROM pg_namespace
                  WHERE nspname NOT IN ('pg_catalog', 'information_schema')
                    AND nspname NOT LIKE 'pg\\_toast%' AND nspname NOT LIKE 'pg\\_temp\\_%'
             )
             SELECT what FROM (
                 SELECT 'schema ' || nspname AS what FROM user_ns WHERE nspname <> 'public'
                 UNION ALL
                 SELECT 'relation ' || n.nspname || '.' || c.relname FROM pg_class c
                   JOIN user_ns n ON n.oid = c.relnamespace
                  WHERE NOT (n.nspname = $1 AND c.relname = ANY($2))
                    AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
                 UNION ALL
                 SELECT 'type ' || n.nspname || '.' || t.typname FROM pg_type t
                   JOIN user_ns n ON n.oid = t.typnamespace
                  WHERE t.typtype IN ('e', 'd', 'r', 'm')
                 UNION ALL
                 SELECT 'function ' || n.nspname || '.' || p.proname FROM pg_proc p
                   JOIN user_ns n ON n.oid = p.pronamespace
                 UNION ALL
                 SELECT 'extension ' || extname FROM pg_extension WHERE extname <> 'plpgsql'
             ) found ORDER BY what LIMIT 6",
            &[
                &history.schema(),
                &vec![
                    history.table().to_string(),
                    history.seeds().table().to_string(),
                ],
            ],
        )
        .await
        .map_err(|err| engine::query_error("cannot look into the shadow database", err))?
        .iter()
        .map(|row| row.get(0))
        .collect();
    let history_rows = shadow.read_history().await?;
    if !objects.is_empty() || !history_rows.is_empty() {
        let mut error = Detailed::new(format!(
            "--shadow-url names a database that is not empty ({}): what is there would be taken for what the migrations produce",
            shadow.settings.target
        ));
        for object in objects.iter().take(5) {
            error = error.context(format!("found {object}"));
        }
        if !history_rows.is_empty() {
            error = error.context(format!(
                "found {} migration history row{}",
                history_rows.len(),
                if history_rows.len() == 1 { "" } else { "s" }
            ));
        }
        return Err(error
            .context("nothing was changed")
            .hint("drop and recreate it (DROP DATABASE ...; CREATE DATABASE ...), or omit --shadow-url to let migrate create (and drop) a shadow database")
            .into());
    }
    Ok(())
}

/// `prefix: message` with the error's context lines and hints kept, and a hint about the
/// other ways to get an expected schema.
pub fn prefixed(error: anyhow::Error, prefix: &str) -> anyhow::Error {
    let rendered = crate::errors::render(&error);
    let mut detailed = Detailed::new(format!("{prefix}: {}", rendered.message));
    detailed.context = rendered.context;
    detailed.hints = rendered.hints;
    detailed
        .hint("the migrations the live database has applied must run cleanly on an empty database; fix them, or compare against a committed snapshot with --snapshot FILE")
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shadow_names_are_unique_and_valid_identifiers() {
        let a = unique_name();
        let b = unique_name();
        assert_ne!(a, b);
        assert!(a.starts_with(SHADOW_PREFIX));
        assert!(a.len() < 63, "{a}");
        assert!(
            a.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        );
    }
}
