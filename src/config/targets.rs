//! `[targets]`: the fleet of PostgreSQL databases a command runs against, from a file or from a
//! query on a catalog database; and the connection settings each target gets (those of
//! `[postgres]`, with the target's URL).

use std::path::PathBuf;

use serde::Deserialize;

use super::file::ConfigString;

/// `[targets]` as written.
#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct TargetsSection {
    /// A file of targets: one URL (or `name<TAB>url`) per line.
    pub file: Option<ConfigString>,
    /// A query returning the targets' URLs (first column; a second column names them), run on
    /// `catalog_url`.
    pub query: Option<ConfigString>,
    pub catalog_url: Option<ConfigString>,
    /// How many targets run at once (`-j`).
    pub jobs: Option<u32>,
}

pub fn merge(base: TargetsSection, over: TargetsSection) -> TargetsSection {
    TargetsSection {
        file: over.file.or(base.file),
        query: over.query.or(base.query),
        catalog_url: over.catalog_url.or(base.catalog_url),
        jobs: over.jobs.or(base.jobs),
    }
}

/// Where a fleet's targets come from.
#[derive(Debug, Clone)]
pub enum TargetSource {
    File(PathBuf),
    Query { sql: String, catalog_url: String },
}

/// `[targets]`, resolved.
#[derive(Debug, Clone, Default)]
pub struct TargetsSettings {
    pub source: Option<TargetSource>,
    pub jobs: Option<u32>,
}

pub fn resolve(section: TargetsSection) -> anyhow::Result<TargetsSettings> {
    if let Some(jobs) = section.jobs
        && !(1..=256).contains(&jobs)
    {
        anyhow::bail!("[targets] jobs must be between 1 and 256, got {jobs}");
    }
    let source = match (section.file, section.query, section.catalog_url) {
        (Some(_), Some(_), _) => {
            anyhow::bail!("[targets] has both file and query: keep one")
        }
        (Some(file), None, None) => Some(TargetSource::File(file.path())),
        (Some(_), None, Some(_)) => {
            anyhow::bail!("[targets] catalog_url goes with query, not with file")
        }
        (None, Some(query), Some(url)) => Some(TargetSource::Query {
            sql: query.0,
            catalog_url: url.0,
        }),
        (None, Some(_), None) => {
            anyhow::bail!("[targets] query needs catalog_url: the database to run it on")
        }
        (None, None, Some(_)) => anyhow::bail!("[targets] catalog_url needs a query"),
        (None, None, None) => None,
    };
    Ok(TargetsSettings {
        source,
        jobs: section.jobs,
    })
}
