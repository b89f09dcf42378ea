//! `backup create`: a backup of every configured store into a `.partial` directory, made
//! whole by its manifest and a rename.

use super::*;

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
pub(super) struct Recorder<'a> {
    pub(super) catalog: Option<catalog::Catalog>,
    pub(super) printer: &'a Printer,
    pub(super) failed: bool,
}

impl<'a> Recorder<'a> {
    pub(super) fn new(printer: &'a Printer) -> Self {
        Recorder {
            catalog: None,
            printer,
            failed: false,
        }
    }

    pub(super) async fn open(&mut self, settings: &Settings) {
        if let Some(pg) = &settings.postgres {
            match catalog::open(pg).await {
                Ok(catalog) => self.catalog = catalog,
                Err(err) => self.note(Err(err)),
            }
        }
    }

    pub(super) fn note(&mut self, result: anyhow::Result<()>) {
        if let Err(err) = result {
            self.failed = true;
            // Rendered, so a database error is one line (not repeated by its source).
            self.printer.warn(crate::errors::render(&err).message);
        }
    }
}

pub(super) async fn write_backup(
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

pub(super) async fn hash_tree(
    root: PathBuf,
    jobs: u32,
) -> anyhow::Result<Vec<manifest::FileEntry>> {
    tokio::task::spawn_blocking(move || {
        let files = manifest::list_files(&root, &[repository::WRITER_FILE])?;
        manifest::hash_files(&root, &files, jobs)
    })
    .await
    .context("hashing thread failed")?
}

pub(super) async fn pause_for_tests(printer: &Printer) {
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

pub(super) fn absolute(path: &Path) -> String {
    std::path::absolute(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .display()
        .to_string()
}
