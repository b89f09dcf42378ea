//! `backup restore`: a backup's stores restored as its manifest describes them.

use super::*;

/// Where one store of a backup goes.
#[derive(Debug, Clone)]
pub(super) enum TargetUrl {
    Postgres(Box<PgTarget>),
    Mongo(SecretUrl),
    Redis(SecretUrl),
}

impl TargetUrl {
    /// The store follows from the URL's scheme; anything else is a PostgreSQL key=value string.
    pub(super) fn parse(text: &str, timeout: Duration) -> anyhow::Result<TargetUrl> {
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

    pub(super) fn store(&self) -> StoreKind {
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
    pub(super) url: TargetUrl,
    #[serde(skip)]
    pub(super) create_database: bool,
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
