//! `migrate diff`'s databases: the schemas to compare, read from a URL, a snapshot file, a
//! `.sql` file or the migration directory (both applied to a shadow database), and the proof
//! that a written migration does what it says.
//!
//! The proof runs on a shadow database that holds the "from" schema: the up part is applied
//! and the result must equal "to" by the catalog comparison `drift` makes (`super::super::diff`);
//! then the down part is applied and the result must equal "from" again. A source that cannot
//! be replayed is copied (a small database of the same server nobody else uses, as a
//! template) or rebuilt on the shadow database by the writer itself (its schema written from
//! an empty database); either copy is compared with the source before anything else.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use super::super::connect::PgTarget;
use super::super::diff::{self, Difference, IgnoreSet};
use super::super::engine;
use super::super::migration::MigrationSet;
use super::super::plan::{self, UpOptions};
use super::super::session::Session;
use super::super::shadow::{self, ShadowDb};
use super::super::snapshot::{self, Snapshot, SnapshotOptions};
use super::super::splitter;
use crate::config::PgSettings;
use crate::errors::{DbError, Detailed};
use crate::output::Printer;

/// Where a schema comes from.
#[derive(Debug, Clone)]
pub enum Source {
    /// A database, read as it is.
    Url(Box<PgTarget>),
    /// The migration directory applied to a shadow database.
    Migrations,
    /// A SQL file applied to a shadow database.
    SqlFile(PathBuf),
    /// A snapshot file written by `schema dump`.
    Snapshot(PathBuf),
}

impl Source {
    /// How reports name it (passwords never included).
    pub fn label(&self) -> String {
        match self {
            Source::Url(target) => target.to_string(),
            Source::Migrations => "migrations".to_string(),
            Source::SqlFile(path) | Source::Snapshot(path) => path.display().to_string(),
        }
    }
}

/// A schema read from a source, with the shadow database that holds it when there is one.
pub struct Loaded {
    pub snapshot: Snapshot,
    pub shadow: Option<ProofDb>,
}

/// A shadow database holding the "from" schema, with the one connection the proof runs on.
///
/// Every snapshot of it is taken by that connection's backend: most of a snapshot's cost is
/// the server's deparsing functions filling the backend's catalog caches, and the migration
/// invalidates only the entries of what it touches, so the snapshots after the up and the
/// down part find the rest warm.
pub struct ProofDb {
    db: ShadowDb,
    client: tokio_postgres::Client,
    options: SnapshotOptions,
}

impl ProofDb {
    /// Connects to `db`; drops it when that fails.
    async fn open(live: &PgSettings, db: ShadowDb) -> anyhow::Result<ProofDb> {
        match connect(&db.settings).await {
            Ok(client) => Ok(ProofDb {
                db,
                client,
                options: options(live),
            }),
            Err(err) => {
                let _ = db.drop_now().await;
                Err(err)
            }
        }
    }

    /// The shadow database's schema now.
    async fn snapshot(&self) -> anyhow::Result<Snapshot> {
        snapshot::take(&self.client, &self.options)
            .await
            .with_context(|| format!("cannot snapshot the schema of {}", self.db.settings.target))
    }

    /// [`ProofDb::snapshot`], dropping the database when it fails.
    async fn snapshot_or_drop(self) -> anyhow::Result<(ProofDb, Snapshot)> {
        match self.snapshot().await {
            Ok(snapshot) => Ok((self, snapshot)),
            Err(err) => {
                let _ = self.drop_now().await;
                Err(err)
            }
        }
    }

    /// Applies `part` (one half of a migration's text) and compares the result with
    /// `expected`.
    pub async fn apply_and_compare(
        &self,
        part: &str,
        no_transaction: bool,
        expected: &Snapshot,
        what: &str,
        printer: &Printer,
    ) -> anyhow::Result<Check> {
        let statements = splitter::split(part).map_err(|err| {
            anyhow::anyhow!("the {what} part does not split into statements: {err}")
        })?;
        let timed = printer.timed(format!("{what} part applied to the shadow database"));
        run_statements(
            &self.client,
            statements.iter().map(|s| s.sql),
            no_transaction,
            &format!("the {what} part failed on the shadow database"),
        )
        .await?;
        timed.done(None);
        let timed = printer.timed(format!("snapshot after the {what} part"));
        let actual = self.snapshot().await?;
        timed.done(None);
        let timed = printer.timed(format!("comparison after the {what} part"));
        let differences = diff::compare(expected, &actual, &IgnoreSet::default()).differences;
        timed.done(None);
        Ok(Check { differences })
    }

    /// Closes the connection and drops the database.
    pub async fn drop_now(self) -> anyhow::Result<()> {
        drop(self.client);
        self.db.drop_now().await
    }
}

fn options(live: &PgSettings) -> SnapshotOptions {
    SnapshotOptions::for_history_table(&live.history_table)
}

/// Reads `source`. With `keep_shadow`, a replayed source's shadow database is kept (for the
/// proof); otherwise it is dropped.
pub async fn load(
    live: &PgSettings,
    source: &Source,
    set: Option<&MigrationSet>,
    keep_shadow: bool,
    printer: &Printer,
) -> anyhow::Result<Loaded> {
    match source {
        Source::Url(target) => {
            // A copy made first is what the proof needs anyway; its snapshot is the source's.
            if keep_shadow
                && same_server(live, target)
                && let Some(shadow) = copy_database(live, target, printer).await
            {
                let shadow = ProofDb::open(live, shadow).await?;
                let timed = printer.timed(format!("snapshot of the copy of {target}"));
                let (shadow, snapshot) = shadow.snapshot_or_drop().await?;
                timed.done(None);
                return Ok(Loaded {
                    snapshot,
                    shadow: Some(shadow),
                });
            }
            let timed = printer.timed(format!("snapshot of {target}"));
            let snapshot = snapshot::take_database(target, &options(live)).await?;
            timed.done(None);
            Ok(Loaded {
                snapshot,
                shadow: None,
            })
        }
        Source::Snapshot(path) => Ok(Loaded {
            snapshot: Snapshot::load(path)?,
            shadow: None,
        }),
        Source::Migrations | Source::SqlFile(_) => {
            let shadow = ShadowDb::create(live).await?;
            printer.verbose(format!(
                "created shadow database {} for {}",
                shadow.name(),
                source.label()
            ));
            let built = async {
                match source {
                    Source::SqlFile(path) => apply_file(&shadow.settings, path).await?,
                    _ => {
                        let set = set.context("the migrations were not read")?;
                        apply_migrations(&shadow.settings, set, printer).await?
                    }
                }
                anyhow::Ok(())
            }
            .await;
            if let Err(err) = built {
                let _ = shadow.drop_now().await;
                return Err(err);
            }
            let (shadow, snapshot) = ProofDb::open(live, shadow)
                .await?
                .snapshot_or_drop()
                .await?;
            if keep_shadow {
                return Ok(Loaded {
                    snapshot,
                    shadow: Some(shadow),
                });
            }
            shadow.drop_now().await?;
            Ok(Loaded {
                snapshot,
                shadow: None,
            })
        }
    }
}

/// Largest source database that is copied (`CREATE DATABASE … TEMPLATE`) for the proof;
/// bigger ones are rebuilt by the writer instead of copying their data.
const COPY_LIMIT_BYTES: i64 = 256 * 1024 * 1024;

/// A shadow database holding `schema` read from `source`: a file-level copy when the source
/// is a small database of the same server that nobody else is connected to, else rebuilt by
/// the writer ([`rebuild`]). Either way the copy is compared with `schema` first.
pub async fn copy_or_rebuild(
    live: &PgSettings,
    source: &Source,
    schema: &Snapshot,
    printer: &Printer,
) -> anyhow::Result<ProofDb> {
    if let Source::Url(target) = source
        && same_server(live, target)
        && let Some(shadow) = try_copy(live, target, schema, printer).await
    {
        return Ok(shadow);
    }
    let shadow = rebuild(live, schema, &source.label(), printer).await?;
    ProofDb::open(live, shadow).await
}

fn same_server(live: &PgSettings, target: &PgTarget) -> bool {
    let address = |config: &tokio_postgres::Config| {
        (
            format!("{:?}", config.get_hosts()),
            config.get_ports().to_vec(),
        )
    };
    address(live.target.driver_config()) == address(target.driver_config())
}

/// A file-level copy of `target` when it is small and nobody else is connected to it.
async fn copy_database(
    live: &PgSettings,
    target: &PgTarget,
    printer: &Printer,
) -> Option<ShadowDb> {
    let client = target.connect("migrate diff size").await.ok()?;
    let size: i64 = client
        .query_one("SELECT pg_database_size(current_database())", &[])
        .await
        .ok()?
        .get(0);
    // Sessions other than migrate's own: the server would wait for them (5 s an attempt)
    // before refusing the copy.
    let others: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_stat_activity
              WHERE datname = current_database() AND pid <> pg_backend_pid()
                AND application_name NOT LIKE 'migrate%'",
            &[],
        )
        .await
        .ok()?
        .get(0);
    drop(client);
    if others > 0 {
        in_use(target, printer);
        return None;
    }
    if size > COPY_LIMIT_BYTES {
        printer.verbose(format!(
            "{target} holds {size} bytes: rebuilt for the proof instead of copied"
        ));
        return None;
    }
    // Our own connections to it may take a moment to go away.
    let timed = printer.timed(format!("copy of {target}"));
    for attempt in 0..5u64 {
        tokio::time::sleep(std::time::Duration::from_millis(50 * attempt)).await;
        if let Ok(shadow) = ShadowDb::create_from(live, target.database()).await {
            timed.done(None);
            printer.verbose(format!(
                "copied {target} to shadow database {}",
                shadow.name()
            ));
            return Some(shadow);
        }
    }
    timed.done(None);
    in_use(target, printer);
    None
}

/// Says why a source is rebuilt instead of copied: other sessions use it.
fn in_use(target: &PgTarget, printer: &Printer) {
    printer.verbose(format!(
        "{target} could not be copied (other sessions use it): rebuilt for the proof instead"
    ));
}

/// [`copy_database`], checked against `schema` (the source may have changed since).
async fn try_copy(
    live: &PgSettings,
    target: &PgTarget,
    schema: &Snapshot,
    printer: &Printer,
) -> Option<ProofDb> {
    let shadow = copy_database(live, target, printer).await?;
    let (shadow, copy) = ProofDb::open(live, shadow)
        .await
        .ok()?
        .snapshot_or_drop()
        .await
        .ok()?;
    if diff::compare(schema, &copy, &IgnoreSet::default())
        .differences
        .is_empty()
    {
        Some(shadow)
    } else {
        let _ = shadow.drop_now().await;
        None
    }
}

/// A shadow database holding `schema`, written by the migration writer from an empty
/// database and checked against `schema` before it is used.
pub async fn rebuild(
    live: &PgSettings,
    schema: &Snapshot,
    label: &str,
    printer: &Printer,
) -> anyhow::Result<ShadowDb> {
    Ok(rebuild_with_script(live, schema, label, printer).await?.0)
}

/// [`rebuild`], also returning the statements that built the schema from an empty database
/// (`schema dump --sql`): proven, since the copy they made compared equal to `schema`.
pub async fn rebuild_with_script(
    live: &PgSettings,
    schema: &Snapshot,
    label: &str,
    printer: &Printer,
) -> anyhow::Result<(ShadowDb, super::Plan)> {
    let shadow = ShadowDb::create(live).await?;
    printer.verbose(format!(
        "created shadow database {} to rebuild {label}",
        shadow.name()
    ));
    let built = async {
        let empty = snapshot::take_database(&shadow.settings.target, &options(live)).await?;
        let script = super::plan(&empty, schema);
        if !script.refused.is_empty() {
            return Err(refused_error(
                &format!("cannot rebuild {label} on a shadow database"),
                &script.refused,
            ));
        }
        let client = connect(&shadow.settings).await?;
        run_statements(
            &client,
            script.statements.iter().map(|s| s.sql.as_str()),
            script.no_transaction,
            "a statement failed",
        )
        .await
        .map_err(|err| {
            crate::postgres::shadow::prefixed(
                err,
                &format!("cannot rebuild {label} on a shadow database"),
            )
        })?;
        drop(client);
        let copy = snapshot::take_database(&shadow.settings.target, &options(live)).await?;
        let differences = diff::compare(schema, &copy, &IgnoreSet::default()).differences;
        if !differences.is_empty() {
            return Err(differences_error(
                &format!("cannot rebuild {label} on a shadow database: the copy differs"),
                &differences,
            ));
        }
        anyhow::Ok(script)
    }
    .await;
    match built {
        Ok(script) => Ok((shadow, script)),
        Err(err) => {
            let _ = shadow.drop_now().await;
            Err(err)
        }
    }
}

/// The outcome of one half of the proof.
pub struct Check {
    pub differences: Vec<Difference>,
}

async fn connect(settings: &PgSettings) -> anyhow::Result<tokio_postgres::Client> {
    settings
        .target
        .connect(&format!("migrate {} diff", crate::TOOL_VERSION))
        .await
}

/// Runs statements one by one: in one transaction, or each on its own. A failure is reported
/// as `doing`, with the statement below it.
async fn run_statements<'s>(
    client: &tokio_postgres::Client,
    statements: impl Iterator<Item = &'s str>,
    no_transaction: bool,
    doing: &str,
) -> anyhow::Result<()> {
    if !no_transaction {
        client
            .batch_execute("BEGIN")
            .await
            .map_err(|err| DbError::new(doing, err))?;
    }
    for sql in statements {
        if let Err(err) = client.batch_execute(sql).await {
            if !no_transaction {
                let _ = client.batch_execute("ROLLBACK").await;
            }
            return Err(DbError::new(doing, err)
                .context(format!("statement: {}", first_lines(sql)))
                .into());
        }
    }
    if !no_transaction {
        client
            .batch_execute("COMMIT")
            .await
            .map_err(|err| DbError::new(doing, err).context("statement: COMMIT"))?;
    }
    Ok(())
}

fn first_lines(sql: &str) -> String {
    let lines: Vec<&str> = sql.lines().take(3).collect();
    let mut text = lines.join(" ");
    if sql.lines().count() > 3 {
        text.push_str(" ...");
    }
    text
}

/// A `.sql` file applied statement by statement, each in its own transaction (a file may
/// hold `CREATE INDEX CONCURRENTLY`).
async fn apply_file(settings: &PgSettings, path: &Path) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let statements =
        splitter::split(&text).map_err(|err| anyhow::anyhow!("{}: {err}", path.display()))?;
    let client = connect(settings).await?;
    for statement in statements {
        client.batch_execute(statement.sql).await.map_err(|err| {
            DbError::new(format!("{}:{}", path.display(), statement.line), err)
                .context("applying the file to a shadow database failed")
        })?;
    }
    Ok(())
}

/// Every migration of the directory applied, in the order `up` runs them.
async fn apply_migrations(
    settings: &PgSettings,
    set: &MigrationSet,
    printer: &Printer,
) -> anyhow::Result<()> {
    let quiet = shadow::quiet_printer(printer);
    let session = Session::open(settings).await?;
    let held = session.lock(&quiet).await?;
    let outcome = async {
        let history = session.read_history().await?;
        let steps = plan::plan_up(
            set,
            &history,
            UpOptions {
                target: None,
                allow_out_of_order: true,
            },
        )?;
        engine::execute(&session, &held, set, &steps, &quiet).await?;
        anyhow::Ok(())
    }
    .await;
    let unlocked = session.unlock(held).await;
    outcome
        .map_err(|err| shadow::prefixed(err, "cannot apply the migrations to a shadow database"))?;
    unlocked
}

/// An error naming every object the writer refused.
pub fn refused_error(message: &str, refused: &[super::Refusal]) -> anyhow::Error {
    let mut error = Detailed::new(message.to_string());
    for refusal in refused {
        error = error.context(format!("{}: {}", refusal.object, refusal.reason));
    }
    error
        .context("nothing was written")
        .hint("write this part of the migration by hand (`migrate new NAME`); docs/diff.md lists what diff covers")
        .into()
}

/// An error naming every object that still differs.
pub fn differences_error(message: &str, differences: &[Difference]) -> anyhow::Error {
    let mut error = Detailed::new(message.to_string());
    for difference in differences.iter().take(30) {
        let fields: Vec<&str> = difference.fields.iter().map(|f| f.field.as_str()).collect();
        let detail = if fields.is_empty() {
            String::new()
        } else {
            format!(" ({})", fields.join(", "))
        };
        error = error.context(format!(
            "{} {} {}{detail}",
            difference.status.as_str(),
            difference.kind,
            difference.object
        ));
    }
    if differences.len() > 30 {
        error = error.context(format!("... and {} more", differences.len() - 30));
    }
    error.into()
}
