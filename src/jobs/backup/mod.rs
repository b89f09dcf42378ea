//! Backups of every store, as a DBA wants them: one directory per backup (written as
//! `ID.partial`, renamed when complete), a manifest with the size and sha256 of every file and
//! the counts a restore must reproduce, verification by hashes and by test restores, restores
//! that refuse to overwrite data unasked, and retention that never loses the newest verified
//! backup.
//!
//! Each operation is planned first (a value the command prints, serializes or confirms), then
//! executed. Store-specific work lives in the sub-modules.
//!
//! Test hook: `MIGRATE_TEST_BACKUP_PAUSE_MS` makes `backup create` sleep that long after each
//! store is written, so a test can kill it mid-way. It is read here and nowhere else.

pub mod catalog;
pub mod manifest;
pub mod mongo;
pub mod physical;
pub mod postgres;
pub mod prune;
pub mod redis;
pub mod repository;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use serde::Serialize;

use self::manifest::{Manifest, Stores, Verification, VerificationKind};
use self::repository::{BackupId, Entry, PartialDir, Repository};
use crate::config::Settings;
use crate::errors::Detailed;
use crate::output::{Printer, count};
use crate::postgres::connect::PgTarget;
use crate::redact::SecretUrl;

/// See the module documentation.
pub const PAUSE_ENV: &str = "MIGRATE_TEST_BACKUP_PAUSE_MS";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    Postgres,
    Mongo,
    Redis,
}

impl StoreKind {
    pub fn name(self) -> &'static str {
        match self {
            StoreKind::Postgres => "postgres",
            StoreKind::Mongo => "mongo",
            StoreKind::Redis => "redis",
        }
    }
}

fn millis(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

// ---------------------------------------------------------------------------------------------
// create

pub struct CreateOptions {
    /// Stores to back up; `None`: every configured store.
    pub stores: Option<Vec<StoreKind>>,
    pub jobs: u32,
}

#[derive(Debug, Serialize)]
pub struct CreatePlan {
    pub id: BackupId,
    pub created_at: DateTime<Utc>,
    /// Where the backup will be (written as `<directory>.partial` first).
    pub directory: String,
    pub jobs: u32,
    pub stores: Vec<PlannedStore>,
    /// Configured stores that are left out, and why.
    pub skipped: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct PlannedStore {
    pub store: StoreKind,
    pub source: String,
}

pub fn plan_create(
    settings: &Settings,
    repository: &Repository,
    options: &CreateOptions,
) -> anyhow::Result<CreatePlan> {
    let wanted = |store: StoreKind| options.stores.as_ref().is_none_or(|s| s.contains(&store));
    let explicit = |store: StoreKind| options.stores.as_ref().is_some_and(|s| s.contains(&store));
    let mut stores = Vec::new();
    let mut skipped = Vec::new();
    let mut consider = |store: StoreKind, source: Option<String>, flag: &str| {
        match (wanted(store), source) {
            (true, Some(source)) => stores.push(PlannedStore { store, source }),
            (true, None) if explicit(store) => {
                return Err(Detailed::new(format!(
                    "cannot back up {}: no URL configured",
                    store.name()
                ))
                .hint(format!("pass {flag} or set it in migrate.toml")));
            }
            // A store that was never configured is not news (DESIGN.md, "CLI contract").
            (true, None) => {}
            (false, Some(_)) => skipped.push(format!("{}: left out (--store)", store.name())),
            (false, None) => {}
        }
        Ok(())
    };
    consider(
        StoreKind::Postgres,
        settings.postgres.as_ref().map(|pg| pg.target.to_string()),
        "--database-url",
    )?;
    consider(
        StoreKind::Mongo,
        settings.mongo.as_ref().map(|m| m.url.redacted()),
        "--mongodb-url",
    )?;
    consider(
        StoreKind::Redis,
        settings.redis.as_ref().map(|r| r.url.redacted()),
        "--redis-url",
    )?;
    if stores.is_empty() {
        return Err(Detailed::new("nothing to back up: no store is configured")
            .hint("pass --database-url, --mongodb-url or --redis-url (or set them in migrate.toml)")
            .into());
    }
    let created_at = Utc::now();
    let id = BackupId::new(created_at);
    Ok(CreatePlan {
        directory: repository.dir.join(id.as_str()).display().to_string(),
        id,
        created_at,
        jobs: options.jobs,
        stores,
        skipped,
    })
}

/// A completed backup.
#[derive(Debug, Serialize)]
pub struct Created {
    pub id: String,
    pub directory: String,
    pub manifest: Manifest,
    pub duration_ms: u64,
    /// Whether `backup_snapshots` has a row for it.
    pub recorded: bool,
}

/// Runs the plan: each store into `ID.partial`, hashes, manifest, rename.
pub async fn create(
    settings: &Settings,
    repository: &Repository,
    plan: &CreatePlan,
    printer: &Printer,
) -> anyhow::Result<Created> {
    let started = Instant::now();
    let partial = repository.begin(&plan.id, plan.created_at)?;
    let mut recorder = Recorder::new(printer);
    let outcome = write_backup(settings, repository, plan, &partial, &mut recorder, printer).await;
    match outcome {
        Ok(manifest) => {
            let path = repository.complete(&plan.id, &manifest)?;
            let location = absolute(&path);
            if let Some(catalog) = &recorder.catalog {
                let json = serde_json::to_value(&manifest)?;
                recorder.note(
                    catalog
                        .completed(plan.id.as_str(), &location, manifest.total_bytes, &json)
                        .await,
                );
            }
            Ok(Created {
                id: plan.id.to_string(),
                directory: location,
                recorded: recorder.catalog.is_some() && !recorder.failed,
                manifest,
                duration_ms: millis(started),
            })
        }
        Err(error) => {
            if let Err(err) = std::fs::remove_dir_all(&partial) {
                printer.warn(format!("cannot remove {}: {err}", partial.display()));
            }
            if let Some(catalog) = &recorder.catalog {
                let message = crate::errors::render(&error).message;
                recorder.note(catalog.failed(plan.id.as_str(), &message).await);
            }
            Err(error.context(format!("backup {} failed; nothing was kept", plan.id)))
        }
    }
}

/// The `backup_snapshots` catalog, if the database has one; recording problems are warnings.
struct Recorder<'a> {
    catalog: Option<catalog::Catalog>,
    printer: &'a Printer,
    failed: bool,
}

impl<'a> Recorder<'a> {
    fn new(printer: &'a Printer) -> Self {
        Recorder {
            catalog: None,
            printer,
            failed: false,
        }
    }

    async fn open(&mut self, settings: &Settings) {
        if let Some(pg) = &settings.postgres {
            match catalog::open(pg).await {
                Ok(catalog) => self.catalog = catalog,
                Err(err) => self.note(Err(err)),
            }
        }
    }

    fn note(&mut self, result: anyhow::Result<()>) {
        if let Err(err) = result {
            self.failed = true;
            self.printer.warn(format!("{err:#}"));
        }
    }
}

async fn write_backup(
    settings: &Settings,
    repository: &Repository,
    plan: &CreatePlan,
    partial: &Path,
    recorder: &mut Recorder<'_>,
    printer: &Printer,
) -> anyhow::Result<Manifest> {
    let includes = |store: StoreKind| plan.stores.iter().any(|s| s.store == store);
    let names: Vec<&str> = plan.stores.iter().map(|s| s.store.name()).collect();
    let location = repository.dir.join(plan.id.as_str());
    let mut stores = Stores::default();

    // The snapshot is exported before the catalog row is written, so the dump does not hold
    // the row of the backup that is being taken.
    let pg_start = match (&settings.postgres, includes(StoreKind::Postgres)) {
        (Some(pg), true) => {
            let tools = postgres::Tools::locate(settings.backup.pg_bin_dir.as_deref());
            let (snapshot, version) = postgres::open_snapshot(pg, &tools).await?;
            Some((pg, tools, snapshot, version))
        }
        _ => None,
    };
    recorder.open(settings).await;
    if let Some(catalog) = &recorder.catalog {
        let result = catalog
            .started(plan.id.as_str(), &names, &absolute(&location))
            .await;
        recorder.note(result);
    }

    if let Some((pg, tools, snapshot, version)) = pg_start {
        let started = Instant::now();
        let bar = printer.progress(0, "postgres");
        let part = postgres::dump(
            snapshot,
            postgres::DumpOptions {
                settings: pg,
                tools: &tools,
                dump_version: version,
                jobs: plan.jobs,
                archive: partial.join(postgres::ARCHIVE_DIR),
            },
            &bar,
        )
        .await;
        bar.finish_and_clear();
        let part = part?;
        printer.step(format!(
            "postgres: {}, {} from {} ({})",
            count(part.tables.len(), "table"),
            count(part.tables.values().sum::<u64>(), "row"),
            part.source,
            crate::output::human_ms(millis(started))
        ));
        stores.postgres = Some(part);
        pause_for_tests(printer).await;
    }
    if let (Some(mongo_settings), true) = (&settings.mongo, includes(StoreKind::Mongo)) {
        let started = Instant::now();
        let connection = mongo::connect(
            &mongo_settings.url,
            mongo_settings.database.as_deref(),
            mongo_settings.connect_timeout,
        )
        .await?;
        let bar = printer.progress(0, "mongo");
        let part = mongo::dump(
            &connection,
            partial,
            &mongo_settings.history_collection,
            &bar,
        )
        .await;
        bar.finish_and_clear();
        let part = part?;
        printer.step(format!(
            "mongo: {}, {} from {} ({})",
            count(part.collections.len(), "collection"),
            count(
                part.collections.values().map(|c| c.documents).sum::<u64>(),
                "document"
            ),
            part.source,
            crate::output::human_ms(millis(started))
        ));
        stores.mongo = Some(part);
        pause_for_tests(printer).await;
    }
    if let (Some(redis_settings), true) = (&settings.redis, includes(StoreKind::Redis)) {
        let started = Instant::now();
        let mut connection =
            redis::connect(&redis_settings.url, redis_settings.connect_timeout).await?;
        let bar = printer.progress(0, "redis");
        let part = redis::dump(&mut connection, partial, &bar).await;
        bar.finish_and_clear();
        let part = part?;
        printer.step(format!(
            "redis: {} ({} with a TTL) from {} ({})",
            count(part.keys, "key"),
            part.keys_with_ttl,
            part.source,
            crate::output::human_ms(millis(started))
        ));
        stores.redis = Some(part);
        pause_for_tests(printer).await;
    }

    let started = Instant::now();
    let files = hash_tree(partial.to_path_buf(), plan.jobs).await?;
    let total_bytes = files.iter().map(|f| f.size).sum();
    printer.verbose(format!(
        "hashed {} ({}) in {}",
        count(files.len(), "file"),
        count(total_bytes, "byte"),
        crate::output::human_ms(millis(started))
    ));
    Ok(Manifest {
        format: manifest::FORMAT,
        id: plan.id.to_string(),
        created_at: plan.created_at,
        completed_at: Utc::now(),
        tool_version: crate::TOOL_VERSION.to_string(),
        host: repository::hostname(),
        stores,
        files,
        total_bytes,
        verifications: Vec::new(),
    })
}

async fn hash_tree(root: PathBuf, jobs: u32) -> anyhow::Result<Vec<manifest::FileEntry>> {
    tokio::task::spawn_blocking(move || {
        let files = manifest::list_files(&root, &[repository::WRITER_FILE])?;
        manifest::hash_files(&root, &files, jobs)
    })
    .await
    .context("hashing thread failed")?
}

async fn pause_for_tests(printer: &Printer) {
    let Some(ms) = std::env::var(PAUSE_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|ms| *ms > 0)
    else {
        return;
    };
    printer.step(format!("pausing {ms} ms ({PAUSE_ENV})"));
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

fn absolute(path: &Path) -> String {
    std::path::absolute(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .display()
        .to_string()
}

// ---------------------------------------------------------------------------------------------
// list

#[derive(Debug, Serialize)]
pub struct Listing {
    pub directory: String,
    /// Newest first.
    pub backups: Vec<Listed>,
    /// `.partial` directories: never listed as backups.
    pub partials: Vec<PartialDir>,
    pub unreadable: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct Listed {
    pub id: String,
    pub created_at: DateTime<Utc>,
    pub size_bytes: u64,
    pub stores: Vec<&'static str>,
    /// The newest restore verification that passed.
    pub verified_at: Option<DateTime<Utc>>,
    pub last_verification: Option<Verification>,
}

pub fn list(repository: &Repository) -> anyhow::Result<Listing> {
    let scan = repository.scan()?;
    Ok(Listing {
        directory: repository.dir.display().to_string(),
        backups: scan
            .backups
            .iter()
            .rev()
            .map(|entry| Listed {
                id: entry.id.to_string(),
                created_at: entry.manifest.created_at,
                size_bytes: entry.manifest.total_bytes,
                stores: entry.manifest.stores.names(),
                verified_at: entry.manifest.restore_verified_at(),
                last_verification: entry.manifest.last_verification().cloned(),
            })
            .collect(),
        partials: scan.partials,
        unreadable: scan
            .unreadable
            .into_iter()
            .map(|(name, why)| format!("{name}: {why}"))
            .collect(),
    })
}

// ---------------------------------------------------------------------------------------------
// verify

#[derive(Debug, Serialize)]
pub struct Verified {
    pub id: String,
    pub kind: VerificationKind,
    pub ok: bool,
    pub files: usize,
    pub bytes: u64,
    /// Files that do not match the manifest, then count differences after the restore.
    pub problems: Vec<String>,
    pub stores: Vec<StoreCheck>,
    pub duration_ms: u64,
}

#[derive(Debug, Serialize)]
pub struct StoreCheck {
    pub store: StoreKind,
    /// Where the scratch copy was restored (and dropped afterwards).
    pub scratch: String,
    pub ok: bool,
    pub duration_ms: u64,
}

/// Checks every file's size and sha256, then (with `restore`) restores into scratch
/// databases, compares counts and drops them. The result is written into the manifest.
pub async fn verify(
    settings: &Settings,
    entry: &Entry,
    restore: bool,
    printer: &Printer,
) -> anyhow::Result<Verified> {
    let started = Instant::now();
    let jobs = settings.backup.jobs;
    let bar = printer.progress(0, "checking hashes");
    let checked = check_hashes(entry, jobs).await;
    bar.finish_and_clear();
    let mut problems: Vec<String> = checked?.iter().map(ToString::to_string).collect();
    let mut stores = Vec::new();
    if restore && problems.is_empty() {
        let manifest = &entry.manifest;
        if manifest.stores.postgres.is_some() {
            stores.push(verify_postgres(settings, entry, &mut problems, printer).await?);
        }
        if manifest.stores.mongo.is_some() {
            stores.push(verify_mongo(settings, entry, &mut problems, printer).await?);
        }
        if manifest.stores.redis.is_some() {
            stores.push(verify_redis(settings, entry, &mut problems, printer).await?);
        }
    }
    let kind = if restore {
        VerificationKind::Restore
    } else {
        VerificationKind::Hashes
    };
    let verified = Verified {
        id: entry.id.to_string(),
        kind,
        ok: problems.is_empty(),
        files: entry.manifest.files.len(),
        bytes: entry.manifest.total_bytes,
        problems,
        stores,
        duration_ms: millis(started),
    };
    record_verification(settings, entry, &verified, printer).await?;
    Ok(verified)
}

async fn check_hashes(entry: &Entry, jobs: u32) -> anyhow::Result<Vec<manifest::Problem>> {
    let path = entry.path.clone();
    let files = entry.manifest.files.clone();
    tokio::task::spawn_blocking(move || manifest::check(&path, &files, jobs))
        .await
        .context("hashing thread failed")?
}

async fn record_verification(
    settings: &Settings,
    entry: &Entry,
    verified: &Verified,
    printer: &Printer,
) -> anyhow::Result<()> {
    // Re-read: another verification may have been recorded meanwhile.
    let mut manifest = manifest::read(&entry.path)?;
    manifest.verifications.push(Verification {
        at: Utc::now(),
        kind: verified.kind,
        ok: verified.ok,
        problems: verified.problems.clone(),
        duration_ms: verified.duration_ms,
    });
    manifest::write(&entry.path, &manifest)?;
    let mut recorder = Recorder::new(printer);
    recorder.open(settings).await;
    if let Some(catalog) = &recorder.catalog {
        let passed = verified.ok && verified.kind == VerificationKind::Restore;
        let json = serde_json::to_value(&manifest)?;
        let result = catalog.verified(entry.id.as_str(), passed, &json).await;
        recorder.note(result);
    }
    Ok(())
}

fn needs(store: &str, flag: &str) -> anyhow::Error {
    Detailed::new(format!(
        "verify --restore needs a {store} server to restore the backup's {store} part into"
    ))
    .hint(format!(
        "pass {flag} (a scratch database is created there and dropped)"
    ))
    .into()
}

async fn verify_postgres(
    settings: &Settings,
    entry: &Entry,
    problems: &mut Vec<String>,
    printer: &Printer,
) -> anyhow::Result<StoreCheck> {
    let started = Instant::now();
    let part = entry
        .manifest
        .stores
        .postgres
        .as_ref()
        .context("no postgres part")?;
    let pg = settings
        .postgres
        .as_ref()
        .ok_or_else(|| needs("PostgreSQL", "--database-url"))?;
    let scratch = crate::postgres::shadow::ShadowDb::create(pg).await?;
    let target = scratch.settings.target.clone();
    let bar = printer.progress(part.tables.len() as u64, "restoring postgres");
    let tools = postgres::Tools::locate(settings.backup.pg_bin_dir.as_deref());
    let restored = postgres::restore(
        &target,
        postgres::RestoreOptions {
            tools: &tools,
            jobs: settings.backup.jobs,
            archive: entry.path.join(&part.archive),
            clean: false,
        },
        &bar,
    )
    .await;
    bar.finish_and_clear();
    let outcome = match restored {
        Ok(()) => postgres::table_counts(&target)
            .await
            .map(|found| postgres::compare_counts(&part.tables, &found)),
        Err(err) => Ok(vec![format!(
            "postgres: the restore failed: {}",
            crate::errors::render(&err).message
        )]),
    };
    let dropped = scratch.drop_now().await;
    let found = outcome?;
    dropped?;
    let compared = count(part.tables.len(), "table");
    Ok(checked(
        StoreKind::Postgres,
        target.to_string(),
        &compared,
        found,
        started,
        problems,
        printer,
    ))
}

async fn verify_mongo(
    settings: &Settings,
    entry: &Entry,
    problems: &mut Vec<String>,
    printer: &Printer,
) -> anyhow::Result<StoreCheck> {
    let started = Instant::now();
    let part = entry
        .manifest
        .stores
        .mongo
        .as_ref()
        .context("no mongo part")?;
    let mongo_settings = settings
        .mongo
        .as_ref()
        .ok_or_else(|| needs("MongoDB", "--mongodb-url"))?;
    let name = format!("migrate_verify_{}", entry.id.as_str().replace('-', "_"));
    let connection = mongo::connect(
        &mongo_settings.url,
        Some(&name),
        mongo_settings.connect_timeout,
    )
    .await?;
    let bar = printer.progress(0, "restoring mongo");
    let outcome = async {
        mongo::restore(&connection, &entry.path, part, true, &bar).await?;
        let found = mongo::describe(&connection).await?;
        anyhow::Ok(mongo::compare(part, &found))
    }
    .await;
    bar.finish_and_clear();
    let dropped = connection.database.drop().await;
    let found = match outcome {
        Ok(found) => found,
        Err(err) => vec![format!("mongo: the restore failed: {err:#}")],
    };
    dropped.with_context(|| format!("cannot drop the scratch database {}", connection.display))?;
    let compared = count(part.collections.len(), "collection");
    Ok(checked(
        StoreKind::Mongo,
        connection.display.clone(),
        &compared,
        found,
        started,
        problems,
        printer,
    ))
}

async fn verify_redis(
    settings: &Settings,
    entry: &Entry,
    problems: &mut Vec<String>,
    printer: &Printer,
) -> anyhow::Result<StoreCheck> {
    let started = Instant::now();
    let part = entry
        .manifest
        .stores
        .redis
        .as_ref()
        .context("no redis part")?;
    let redis_settings = settings
        .redis
        .as_ref()
        .ok_or_else(|| needs("Redis", "--redis-url"))?;
    let mut source = redis::connect(&redis_settings.url, redis_settings.connect_timeout).await?;
    let mut scratch = redis::scratch_db(&mut source).await?;
    let bar = printer.progress(part.keys, "restoring redis");
    let outcome = async {
        let restored = redis::restore(&mut scratch, &entry.path, part, false, &bar).await?;
        let found = scratch.dbsize().await?;
        anyhow::Ok((restored, found))
    }
    .await;
    bar.finish_and_clear();
    let flushed = scratch.flushdb().await;
    let found = match outcome {
        Ok((restored, keys)) => {
            let expected = part.keys - restored.expired.min(part.keys);
            if keys == expected {
                Vec::new()
            } else {
                vec![format!(
                    "redis: {} after the restore, the backup recorded {} ({} expired since)",
                    count(keys, "key"),
                    part.keys,
                    restored.expired
                )]
            }
        }
        Err(err) => vec![format!("redis: the restore failed: {err:#}")],
    };
    flushed?;
    let compared = count(part.keys, "key");
    Ok(checked(
        StoreKind::Redis,
        scratch.display.clone(),
        &compared,
        found,
        started,
        problems,
        printer,
    ))
}

/// The end of one store's restore check: reports it and keeps its differences.
fn checked(
    store: StoreKind,
    scratch: String,
    compared: &str,
    found: Vec<String>,
    started: Instant,
    problems: &mut Vec<String>,
    printer: &Printer,
) -> StoreCheck {
    let ok = found.is_empty();
    printer.step(format!(
        "{}: restored into {scratch} and compared {compared}: {}",
        store.name(),
        if ok { "ok" } else { "differences" }
    ));
    problems.extend(found);
    StoreCheck {
        store,
        scratch,
        ok,
        duration_ms: millis(started),
    }
}

// ---------------------------------------------------------------------------------------------
// restore

/// Where one store of a backup goes.
#[derive(Debug, Clone)]
enum TargetUrl {
    Postgres(Box<PgTarget>),
    Mongo(SecretUrl),
    Redis(SecretUrl),
}

impl TargetUrl {
    /// The store follows from the URL's scheme; anything else is a PostgreSQL key=value string.
    fn parse(text: &str, timeout: Duration) -> anyhow::Result<TargetUrl> {
        let lower = text.trim().to_ascii_lowercase();
        if lower.starts_with("mongodb://") || lower.starts_with("mongodb+srv://") {
            Ok(TargetUrl::Mongo(SecretUrl::new(text.trim())))
        } else if lower.starts_with("redis://") || lower.starts_with("rediss://") {
            Ok(TargetUrl::Redis(SecretUrl::new(text.trim())))
        } else {
            let target = PgTarget::parse(text, None, None, timeout)?;
            Ok(TargetUrl::Postgres(Box::new(target)))
        }
    }

    fn store(&self) -> StoreKind {
        match self {
            TargetUrl::Postgres(_) => StoreKind::Postgres,
            TargetUrl::Mongo(_) => StoreKind::Mongo,
            TargetUrl::Redis(_) => StoreKind::Redis,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct RestorePlan {
    pub id: String,
    pub created_at: DateTime<Utc>,
    pub clean: bool,
    pub steps: Vec<RestoreStep>,
}

#[derive(Debug, Serialize)]
pub struct RestoreStep {
    pub store: StoreKind,
    /// The target, without its password.
    pub target: String,
    /// What the target holds now.
    pub found: String,
    /// What will happen to it.
    pub action: String,
    #[serde(skip)]
    url: TargetUrl,
    #[serde(skip)]
    create_database: bool,
}

/// Checks the targets (one per store, each store present in the backup, each empty unless
/// `clean`) without changing anything.
pub async fn plan_restore(
    entry: &Entry,
    targets: &[String],
    clean: bool,
) -> anyhow::Result<RestorePlan> {
    let timeout = crate::config::DEFAULT_CONNECT_TIMEOUT;
    let stores = &entry.manifest.stores;
    let mut steps: Vec<RestoreStep> = Vec::new();
    for text in targets {
        let url = TargetUrl::parse(text, timeout)?;
        let store = url.store();
        let present = match store {
            StoreKind::Postgres => stores.postgres.is_some(),
            StoreKind::Mongo => stores.mongo.is_some(),
            StoreKind::Redis => stores.redis.is_some(),
        };
        if !present {
            return Err(Detailed::new(format!(
                "backup {} has no {} part to restore (it holds: {})",
                entry.id,
                store.name(),
                stores.names().join(", ")
            ))
            .into());
        }
        if steps.iter().any(|s| s.store == store) {
            return Err(Detailed::new(format!("two --target URLs for {}", store.name())).into());
        }
        let (target, objects, create_database) = match &url {
            TargetUrl::Postgres(pg) => {
                let state = postgres::inspect_target(pg).await?;
                (pg.to_string(), state.relations, !state.exists)
            }
            TargetUrl::Mongo(mongo_url) => {
                let connection = mongo::connect(mongo_url, None, timeout).await?;
                let existing = mongo::existing_collections(&connection).await?;
                (connection.display.clone(), existing.len() as u64, false)
            }
            TargetUrl::Redis(redis_url) => {
                let mut connection = redis::connect(redis_url, timeout).await?;
                let keys = connection.dbsize().await?;
                (connection.display.clone(), keys, false)
            }
        };
        let unit = match store {
            StoreKind::Postgres => "relations",
            StoreKind::Mongo => "collections",
            StoreKind::Redis => "keys",
        };
        if objects > 0 && !clean {
            return Err(Detailed::new(format!(
                "refusing to restore into {target}: it is not empty ({objects} {unit})"
            ))
            .hint("restore into a new database, or pass --clean to replace what is there")
            .into());
        }
        let found = if create_database {
            "does not exist".to_string()
        } else if objects == 0 {
            "empty".to_string()
        } else {
            format!("{objects} {unit}")
        };
        let action = match (store, create_database, objects > 0) {
            (_, true, _) => "create the database, then restore".to_string(),
            (StoreKind::Postgres, _, true) => {
                "drop the backup's objects (pg_restore --clean --if-exists), then restore"
                    .to_string()
            }
            (StoreKind::Mongo, _, true) => "drop the database, then restore".to_string(),
            (StoreKind::Redis, _, true) => "FLUSHDB, then restore".to_string(),
            _ => "restore".to_string(),
        };
        steps.push(RestoreStep {
            store,
            target,
            found,
            action,
            url,
            create_database,
        });
    }
    if steps.is_empty() {
        return Err(Detailed::new("no --target given: say where to restore")
            .hint(format!(
                "e.g. --target postgres://user@host/new_db (the backup holds: {})",
                stores.names().join(", ")
            ))
            .into());
    }
    steps.sort_by_key(|s| s.store);
    Ok(RestorePlan {
        id: entry.id.to_string(),
        created_at: entry.manifest.created_at,
        clean,
        steps,
    })
}

#[derive(Debug, Serialize)]
pub struct Restored {
    pub id: String,
    pub stores: Vec<RestoredStore>,
    pub duration_ms: u64,
    /// Erasures completed since the backup was taken, per the live database's GDPR ledger.
    pub erasures_since_backup: Option<i64>,
}

#[derive(Debug, Serialize)]
pub struct RestoredStore {
    pub store: StoreKind,
    pub target: String,
    pub detail: String,
    pub duration_ms: u64,
}

/// Checks the files' hashes, then restores each store into its target.
pub async fn restore(
    settings: &Settings,
    entry: &Entry,
    plan: &RestorePlan,
    printer: &Printer,
) -> anyhow::Result<Restored> {
    let started = Instant::now();
    let jobs = settings.backup.jobs;
    let bar = printer.progress(0, "checking hashes");
    let problems = check_hashes(entry, jobs).await;
    bar.finish_and_clear();
    let problems = problems?;
    if !problems.is_empty() {
        let mut error = Detailed::new(format!(
            "backup {} does not match its manifest: nothing was restored",
            entry.id
        ));
        for problem in &problems {
            error = error.context(problem.to_string());
        }
        return Err(error
            .hint("`migrate backup verify ID` reports the same")
            .into());
    }
    let stores = &entry.manifest.stores;
    let mut done = Vec::new();
    for step in &plan.steps {
        let step_started = Instant::now();
        let detail = match (&step.url, step.store) {
            (TargetUrl::Postgres(target), _) => {
                let part = stores.postgres.as_ref().context("no postgres part")?;
                if step.create_database {
                    postgres::create_database(target).await?;
                }
                let bar = printer.progress(part.tables.len() as u64, "restoring postgres");
                let tools = postgres::Tools::locate(settings.backup.pg_bin_dir.as_deref());
                let result = postgres::restore(
                    target,
                    postgres::RestoreOptions {
                        tools: &tools,
                        jobs,
                        archive: entry.path.join(&part.archive),
                        clean: plan.clean,
                    },
                    &bar,
                )
                .await;
                bar.finish_and_clear();
                result.with_context(|| format!("restoring into {target}"))?;
                format!(
                    "{}, {}",
                    count(part.tables.len(), "table"),
                    count(part.tables.values().sum::<u64>(), "row")
                )
            }
            (TargetUrl::Mongo(url), _) => {
                let part = stores.mongo.as_ref().context("no mongo part")?;
                let connection =
                    mongo::connect(url, None, crate::config::DEFAULT_CONNECT_TIMEOUT).await?;
                let bar = printer.progress(0, "restoring mongo");
                let result = mongo::restore(&connection, &entry.path, part, plan.clean, &bar).await;
                bar.finish_and_clear();
                result.with_context(|| format!("restoring into {}", connection.display))?;
                format!(
                    "{}, {}",
                    count(part.collections.len(), "collection"),
                    count(
                        part.collections.values().map(|c| c.documents).sum::<u64>(),
                        "document"
                    )
                )
            }
            (TargetUrl::Redis(url), _) => {
                let part = stores.redis.as_ref().context("no redis part")?;
                let mut connection =
                    redis::connect(url, crate::config::DEFAULT_CONNECT_TIMEOUT).await?;
                let bar = printer.progress(part.keys, "restoring redis");
                let result =
                    redis::restore(&mut connection, &entry.path, part, plan.clean, &bar).await;
                bar.finish_and_clear();
                let restored =
                    result.with_context(|| format!("restoring into {}", connection.display))?;
                format!(
                    "{} ({} expired since the backup, not restored)",
                    count(restored.keys, "key"),
                    restored.expired
                )
            }
        };
        printer.step(format!(
            "{}: restored into {}: {detail} ({})",
            step.store.name(),
            step.target,
            crate::output::human_ms(millis(step_started))
        ));
        done.push(RestoredStore {
            store: step.store,
            target: step.target.clone(),
            detail,
            duration_ms: millis(step_started),
        });
    }
    let erasures = match &settings.postgres {
        Some(pg) => postgres::erasures_since(pg, entry.manifest.created_at)
            .await
            .unwrap_or(None),
        None => None,
    };
    Ok(Restored {
        id: entry.id.to_string(),
        stores: done,
        duration_ms: millis(started),
        erasures_since_backup: erasures,
    })
}

// ---------------------------------------------------------------------------------------------
// prune

#[derive(Debug, Serialize)]
pub struct PrunePlan {
    pub policy: prune::Policy,
    /// Newest first.
    pub keep: Vec<prune::Decision>,
    pub delete: Vec<prune::Decision>,
    /// Abandoned `.partial` directories to remove.
    pub stale_partials: Vec<PartialDir>,
    /// `.partial` directories whose writer may still be at work: left alone.
    pub active_partials: Vec<PartialDir>,
    /// Directories without a readable manifest: never touched.
    pub unreadable: Vec<String>,
    #[serde(skip)]
    paths: Vec<(String, PathBuf)>,
}

impl PrunePlan {
    pub fn is_empty(&self) -> bool {
        self.delete.is_empty() && self.stale_partials.is_empty()
    }
}

pub fn plan_prune(repository: &Repository, policy: prune::Policy) -> anyhow::Result<PrunePlan> {
    if policy.is_empty() {
        return Err(Detailed::new("no retention policy: prune would delete every backup")
            .hint("set keep_last, keep_daily, keep_weekly or keep_monthly in [backup] (or pass --keep-last N ...)")
            .into());
    }
    let scan = repository.scan()?;
    let candidates: Vec<prune::Candidate> = scan
        .backups
        .iter()
        .map(|entry| prune::Candidate {
            id: entry.id.to_string(),
            created_at: entry.manifest.created_at,
            verified: entry.manifest.restore_verified_at().is_some(),
        })
        .collect();
    let (keep, delete): (Vec<_>, Vec<_>) = prune::select(&policy, &candidates)
        .into_iter()
        .partition(prune::Decision::keep);
    let (stale_partials, active_partials): (Vec<_>, Vec<_>) =
        scan.partials.into_iter().partition(|p| p.stale.is_some());
    Ok(PrunePlan {
        policy,
        keep,
        delete,
        stale_partials,
        active_partials,
        unreadable: scan.unreadable.into_iter().map(|(name, _)| name).collect(),
        paths: scan
            .backups
            .into_iter()
            .map(|entry| (entry.id.to_string(), entry.path))
            .collect(),
    })
}

#[derive(Debug, Serialize)]
pub struct Pruned {
    pub deleted: Vec<String>,
    pub removed_partials: Vec<String>,
    pub freed_bytes: u64,
}

/// Deletes what the plan says. A backup is renamed to `ID.pruning` first, so an interrupted
/// deletion never leaves something that looks like a backup.
pub async fn prune(
    settings: &Settings,
    repository: &Repository,
    plan: &PrunePlan,
    printer: &Printer,
) -> anyhow::Result<Pruned> {
    let mut recorder = Recorder::new(printer);
    if !plan.delete.is_empty() {
        recorder.open(settings).await;
    }
    let mut pruned = Pruned {
        deleted: Vec::new(),
        removed_partials: Vec::new(),
        freed_bytes: 0,
    };
    for decision in &plan.delete {
        let Some((_, path)) = plan.paths.iter().find(|(id, _)| *id == decision.id) else {
            continue;
        };
        let bytes = manifest::read(path).map(|m| m.total_bytes).unwrap_or(0);
        let doomed = repository.dir.join(format!("{}.pruning", decision.id));
        std::fs::rename(path, &doomed)
            .with_context(|| format!("cannot rename {} for deletion", path.display()))?;
        std::fs::remove_dir_all(&doomed)
            .with_context(|| format!("cannot delete {}", doomed.display()))?;
        printer.step(format!("deleted backup {}", decision.id));
        if let Some(catalog) = &recorder.catalog {
            let result = catalog.pruned(&decision.id).await;
            recorder.note(result);
        }
        pruned.freed_bytes += bytes;
        pruned.deleted.push(decision.id.clone());
    }
    for partial in &plan.stale_partials {
        std::fs::remove_dir_all(&partial.path)
            .with_context(|| format!("cannot delete {}", partial.path.display()))?;
        printer.step(format!(
            "removed {} ({})",
            partial.name,
            partial.stale.as_deref().unwrap_or("stale")
        ));
        pruned.removed_partials.push(partial.name.clone());
    }
    // Leftovers of interrupted deletions.
    if let Ok(entries) = std::fs::read_dir(&repository.dir) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name
                .strip_suffix(".pruning")
                .is_some_and(|id| BackupId::parse(id).is_some())
            {
                std::fs::remove_dir_all(entry.path())
                    .with_context(|| format!("cannot delete {}", entry.path().display()))?;
            }
        }
    }
    Ok(pruned)
}
