//! `backup verify`: the files' hashes against the manifest, and with `--restore` a test restore.

use super::*;

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
    /// How many objects were compared with the manifest after the restore, and of what kind
    /// (`table` row counts, `collection` document counts, `key`s).
    pub compared: usize,
    pub compared_kind: &'static str,
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

pub(super) async fn check_hashes(
    entry: &Entry,
    jobs: u32,
) -> anyhow::Result<Vec<manifest::Problem>> {
    let path = entry.path.clone();
    let files = entry.manifest.files.clone();
    tokio::task::spawn_blocking(move || manifest::check(&path, &files, jobs))
        .await
        .context("hashing thread failed")?
}

pub(super) async fn record_verification(
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

pub(super) fn needs(store: &str, flag: &str) -> anyhow::Error {
    Detailed::new(format!(
        "verify --restore needs a {store} server to restore the backup's {store} part into"
    ))
    .hint(format!(
        "pass {flag} (a scratch database is created there and dropped)"
    ))
    .into()
}

pub(super) async fn verify_postgres(
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
    let compared = (part.tables.len(), "table");
    Ok(checked(
        StoreKind::Postgres,
        target.to_string(),
        compared,
        found,
        started,
        problems,
        printer,
    ))
}

pub(super) async fn verify_mongo(
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
    let compared = (part.collections.len(), "collection");
    Ok(checked(
        StoreKind::Mongo,
        connection.display.clone(),
        compared,
        found,
        started,
        problems,
        printer,
    ))
}

pub(super) async fn verify_redis(
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
    let compared = (usize::try_from(part.keys).unwrap_or(usize::MAX), "key");
    Ok(checked(
        StoreKind::Redis,
        scratch.display.clone(),
        compared,
        found,
        started,
        problems,
        printer,
    ))
}

/// The end of one store's restore check: reports it and keeps its differences.
pub(super) fn checked(
    store: StoreKind,
    scratch: String,
    (compared, compared_kind): (usize, &'static str),
    found: Vec<String>,
    started: Instant,
    problems: &mut Vec<String>,
    printer: &Printer,
) -> StoreCheck {
    let ok = found.is_empty();
    printer.step(format!(
        "{}: restored into {scratch} and compared {}: {}",
        store.name(),
        count(compared, compared_kind),
        if ok { "ok" } else { "differences" }
    ));
    problems.extend(found);
    StoreCheck {
        store,
        scratch,
        compared,
        compared_kind,
        ok,
        duration_ms: millis(started),
    }
}
