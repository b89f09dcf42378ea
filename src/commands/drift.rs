//! `migrate drift`: the live schema against the expected one. Exit 0 clean, 2 drift, 1 error.
//!
//! The report is one JSON document with a `format_version` and a `stores` array, one section
//! per store, so that MongoDB and Redis can add their own sections next to PostgreSQL's.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use super::Context;
use crate::cli::DriftArgs;
use crate::errors::Outcome;
use crate::output::Report;
use crate::postgres::connect::PgTarget;
use crate::postgres::diff::{self, Difference, IgnoreSet, Status};
use crate::postgres::session::Session;
use crate::postgres::shadow::{self, AppliedState, ExpectedInfo, ExpectedSource};
use crate::postgres::snapshot::{self, Snapshot, SnapshotOptions};

/// Version of the drift report's JSON shape.
pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Serialize)]
pub struct DriftReport {
    pub format_version: u32,
    pub clean: bool,
    pub stores: Vec<StoreDrift>,
}

/// One store's section. Every section has `store` and `clean`; the rest depends on the store.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum StoreDrift {
    Postgres(PostgresDrift),
    Mongo(crate::mongo::drift::MongoDrift),
    Redis(crate::redis::drift::RedisDrift),
}

impl StoreDrift {
    pub fn is_clean(&self) -> bool {
        match self {
            StoreDrift::Postgres(section) => section.clean,
            StoreDrift::Mongo(section) => section.clean,
            StoreDrift::Redis(section) => section.clean,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct PostgresDrift {
    /// Always `postgres`.
    pub store: &'static str,
    pub database: String,
    pub clean: bool,
    pub expected: ExpectedInfo,
    /// Objects compared (both sides together, ignored ones excluded).
    pub compared: usize,
    /// Objects left out by `--ignore` patterns.
    pub ignored: usize,
    pub summary: Summary,
    pub differences: Vec<Difference>,
    /// Things a reader should know about the comparison (dirty migrations, changed files).
    pub notes: Vec<String>,
}

#[derive(Debug, Default, Serialize)]
pub struct Summary {
    pub missing: usize,
    pub unexpected: usize,
    pub changed: usize,
}

impl Report for DriftReport {
    fn human(&self) -> String {
        self.stores
            .iter()
            .map(|store| match store {
                StoreDrift::Postgres(section) => section.human(),
                StoreDrift::Mongo(section) => section.human(),
                StoreDrift::Redis(section) => section.human(),
            })
            .collect()
    }
}

impl PostgresDrift {
    /// Compares `actual` (the live database) with `expected`.
    pub fn new(
        database: String,
        expected_info: ExpectedInfo,
        expected: &Snapshot,
        actual: &Snapshot,
        ignore: &IgnoreSet,
        notes: Vec<String>,
    ) -> PostgresDrift {
        let comparison = diff::compare(expected, actual, ignore);
        let mut summary = Summary::default();
        for difference in &comparison.differences {
            match difference.status {
                Status::Missing => summary.missing += 1,
                Status::Unexpected => summary.unexpected += 1,
                Status::Changed => summary.changed += 1,
            }
        }
        PostgresDrift {
            store: "postgres",
            database,
            clean: comparison.differences.is_empty(),
            expected: expected_info,
            compared: comparison.compared,
            ignored: comparison.ignored,
            summary,
            differences: comparison.differences,
            notes,
        }
    }

    fn expected_label(&self) -> String {
        let version = self.expected.version.map_or_else(
            || "no migration".to_string(),
            |v| format!("migrations up to V{v}"),
        );
        match self.expected.source {
            "shadow" => format!("{version} on a shadow database"),
            "url" => format!("{version} in {}", self.expected.from),
            "database" => format!("the schema of {}", self.expected.from),
            _ => format!("snapshot {}", self.expected.from),
        }
    }

    /// Differences grouped by kind, long definitions as unified diffs.
    pub fn human(&self) -> String {
        let mut out = String::new();
        let ignored = if self.ignored > 0 {
            format!(", {} ignored", self.ignored)
        } else {
            String::new()
        };
        if self.clean {
            out.push_str(&format!(
                "postgres: no drift ({} compared against {}{ignored}; {})\n",
                crate::output::count(self.compared, "object"),
                self.expected_label(),
                self.database
            ));
        } else {
            let total = self.differences.len();
            out.push_str(&format!(
                "postgres: {total} difference{} between {} and {} ({} missing, {} unexpected, {} changed{ignored})\n",
                if total == 1 { "" } else { "s" },
                self.database,
                self.expected_label(),
                self.summary.missing,
                self.summary.unexpected,
                self.summary.changed,
            ));
            out.push_str(&render_differences(&self.differences, "  "));
        }
        for note in &self.notes {
            out.push_str(&format!("  note: {note}\n"));
        }
        out
    }
}

/// Differences grouped by kind, each line indented by `indent`.
pub fn render_differences(differences: &[Difference], indent: &str) -> String {
    let mut groups: BTreeMap<_, Vec<&Difference>> = BTreeMap::new();
    for difference in differences {
        groups.entry(difference.kind).or_default().push(difference);
    }
    let mut out = String::new();
    for (kind, group) in groups {
        out.push_str(&format!("{indent}{kind}\n"));
        for difference in group {
            out.push_str(&format!(
                "{indent}  {:<10} {}\n",
                difference.status.as_str(),
                difference.object
            ));
            for field in &difference.fields {
                let show = |value: &Option<crate::postgres::snapshot::Value>| {
                    value
                        .as_ref()
                        .map_or_else(|| "(none)".to_string(), |v| v.to_string())
                };
                match &field.diff {
                    Some(unified) => {
                        out.push_str(&format!("{indent}      {}:\n", field.field));
                        for line in unified.lines() {
                            out.push_str(&format!("{indent}        {line}\n"));
                        }
                    }
                    None => out.push_str(&format!(
                        "{indent}      {}: expected {}, actual {}\n",
                        field.field,
                        show(&field.expected),
                        show(&field.actual)
                    )),
                }
            }
        }
    }
    out
}

pub async fn run(context: &Context, args: &DriftArgs) -> anyhow::Result<Outcome> {
    super::compare_until_interrupted(context, drift(context, args), |r| r.clean).await
}

/// What drift leaves out: `[drift] ignore` (top level, then the environment's), then the
/// command's `--ignore` patterns. `drift` and `check` both compare through this.
pub(crate) fn ignore_patterns(settings: &crate::config::Settings, extra: &[String]) -> Vec<String> {
    settings.drift_ignore.iter().chain(extra).cloned().collect()
}

async fn drift(context: &Context, args: &DriftArgs) -> anyhow::Result<DriftReport> {
    let settings = &context.settings;
    if settings.postgres.is_none() && settings.mongo.is_none() && settings.redis.is_none() {
        settings.require_postgres()?;
    }
    let patterns = ignore_patterns(settings, &args.ignore);
    // Printed at the end: an error must be the first line of output.
    let mut skipped = super::Skipped::default();
    let mut stores = Vec::new();
    match &settings.postgres {
        None => skipped.unconfigured("postgres"),
        Some(pg) => {
            let source = match (&args.shadow_url, &args.snapshot, &args.against) {
                (Some(url), _, _) => ExpectedSource::Url(Box::new(parse_url(url, pg)?)),
                (None, Some(path), _) => ExpectedSource::File(PathBuf::from(path)),
                (None, None, Some(url)) => ExpectedSource::Reference(Box::new(parse_url(url, pg)?)),
                (None, None, None) => ExpectedSource::Shadow,
            };
            let ignore = IgnoreSet::new(&patterns);
            let section = postgres_section(context, &source, &ignore).await?;
            stores.push(StoreDrift::Postgres(section));
        }
    }
    match &settings.mongo {
        None => skipped.unconfigured("mongo"),
        Some(mongo) => {
            let dir = &settings.mongo_migrations_dir;
            if dir.is_dir() {
                let set = crate::mongo::migration::load_dir(dir)?;
                set.ensure_valid()?;
                let session = crate::mongo::engine::MongoSession::open(mongo).await?;
                context.printer.verbose(format!(
                    "mongo: replaying the applied migrations on a shadow database of {}",
                    session.display()
                ));
                let section = crate::mongo::drift::drift(&session, &set, &patterns).await?;
                stores.push(StoreDrift::Mongo(section));
            } else {
                skipped.note(format!(
                    "mongo: no migrations directory {}, skipped",
                    dir.display()
                ));
            }
        }
    }
    match &settings.redis {
        None => skipped.unconfigured("redis"),
        Some(redis) => match &redis.keyspace {
            None => skipped.note("redis: [redis] declares no keyspace, skipped"),
            Some(declaration) => {
                use crate::redis::keyspace::{self, Passwords};
                let keyspace = keyspace::load(declaration, Passwords::IfSet)?;
                let topology = crate::redis::cluster::Topology::connect(redis).await?;
                let section =
                    crate::redis::drift::drift(&topology, &keyspace, args.sample, &patterns)
                        .await?;
                stores.push(StoreDrift::Redis(section));
            }
        },
    }
    skipped.print(&context.printer);
    Ok(DriftReport {
        format_version: FORMAT_VERSION,
        clean: stores.iter().all(StoreDrift::is_clean),
        stores,
    })
}

/// Parses a `--shadow-url` with the live database's TLS and timeout settings.
pub fn parse_url(url: &str, live: &crate::config::PgSettings) -> anyhow::Result<PgTarget> {
    let timeout = live
        .target
        .driver_config()
        .get_connect_timeout()
        .copied()
        .unwrap_or(crate::config::DEFAULT_CONNECT_TIMEOUT);
    PgTarget::parse(url, None, None, timeout)
}

async fn postgres_section(
    context: &Context,
    source: &ExpectedSource,
    ignore: &IgnoreSet,
) -> anyhow::Result<PostgresDrift> {
    let printer = &context.printer;
    let pg = context.settings.require_postgres()?;
    let session = Session::open(pg).await?;
    let history = session.read_history().await?;
    let state = AppliedState::from_history(&history);
    let mut notes = Vec::new();
    if !state.dirty.is_empty() {
        notes.push(format!(
            "dirty migrations are not part of the expected schema: {}",
            state.dirty.join(", ")
        ));
    }
    let live_major = session.server_major().await?;
    drop(session);
    let set = match source {
        ExpectedSource::File(_) | ExpectedSource::Reference(_) => Default::default(),
        _ => {
            let set = super::load_valid_migrations(&context.settings.migrations_dir)?;
            let changed = state.changed_repeatables(&set);
            if !changed.is_empty() {
                notes.push(format!(
                    "repeatable migrations changed since they were applied (compared as the files are now): {}",
                    changed.join(", ")
                ));
            }
            set
        }
    };
    // Both sides at once: the live snapshot while the shadow database is migrated.
    let options = SnapshotOptions::for_history_table(&pg.history_table);
    printer.verbose(format!(
        "taking a snapshot of {} and building the expected schema",
        pg.target
    ));
    let (actual, (expected, info)) = tokio::try_join!(
        snapshot::take_database(&pg.target, &options),
        shadow::expected_snapshot(pg, live_major, source, &set, &state, printer),
    )?;
    Ok(PostgresDrift::new(
        pg.target.to_string(),
        info,
        &expected,
        &actual,
        ignore,
        notes,
    ))
}
