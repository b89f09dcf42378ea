//! `migrate new NAME`: scaffold the next migration file.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use serde::Serialize;

use super::Context;
use crate::cli::NewArgs;
use crate::config::Versioning;
use crate::errors::Outcome;
use crate::output::Report;

#[derive(Debug, Serialize)]
pub struct NewReport {
    pub path: String,
    pub version: Option<u64>,
}

impl Report for NewReport {
    fn human(&self) -> String {
        format!("{}\n", self.path)
    }
}

pub fn run(context: &Context, args: &NewArgs) -> anyhow::Result<Outcome> {
    let name = &args.name;
    check_name(name)?;
    let (dir, extension) = if args.mongo {
        (&context.settings.mongo_migrations_dir, "json")
    } else {
        (&context.settings.migrations_dir, "sql")
    };
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let (path, version) = if args.repeatable {
        (dir.join(format!("R__{name}.sql")), None)
    } else {
        let version = next_version(dir, extension, context.settings.versioning)?;
        (
            dir.join(format!("V{version}__{name}.{extension}")),
            Some(version),
        )
    };
    if path.exists() {
        bail!("{} already exists", path.display());
    }
    let body = if args.mongo {
        "{\n  \"up\": [],\n  \"down\": []\n}\n".to_string()
    } else {
        sql_template(args.no_transaction, args.repeatable)
    };
    std::fs::write(&path, body).with_context(|| format!("cannot write {}", path.display()))?;
    context.printer.report(&NewReport {
        path: path.display().to_string(),
        version,
    });
    Ok(Outcome::Clean)
}

/// Refuses a migration name that is not lowercase letters, digits and underscores.
pub(crate) fn check_name(name: &str) -> anyhow::Result<()> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        bail!(
            "invalid migration name `{name}`: use lowercase letters, digits and underscores (e.g. add_users_email_index)"
        );
    }
    Ok(())
}

/// Writes `text` as the next versioned SQL migration `V{n}__{name}.sql` (numbered as `new`
/// numbers it); returns its path and version.
pub(crate) fn write_next(
    context: &Context,
    name: &str,
    text: &str,
) -> anyhow::Result<(PathBuf, u64)> {
    let dir = &context.settings.migrations_dir;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let version = next_version(dir, "sql", context.settings.versioning)?;
    let path = dir.join(format!("V{version}__{name}.sql"));
    if path.exists() {
        bail!("{} already exists", path.display());
    }
    std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    Ok((path, version))
}

fn sql_template(no_transaction: bool, repeatable: bool) -> String {
    let mut text = String::new();
    if no_transaction {
        text.push_str("-- migrate:no-transaction\n");
        text.push_str("-- Statements run one by one outside a transaction (e.g. CREATE INDEX CONCURRENTLY).\n");
    }
    if repeatable {
        text.push_str("-- Re-applied after the versioned migrations whenever this file changes.\n");
        text.push_str("-- Write it to be re-runnable: CREATE OR REPLACE VIEW/FUNCTION ...\n\n");
    } else {
        text.push_str(
            "-- Up: the change. Optional directives at the top: -- migrate:lock-timeout 5s\n\n",
        );
    }
    text.push_str("\n-- migrate:down\n-- The statements that undo the up part (leave empty to make the migration irreversible).\n\n");
    text
}

/// The next version: one above the highest in the directory, or the current UTC timestamp.
fn next_version(dir: &Path, extension: &str, versioning: Versioning) -> anyhow::Result<u64> {
    let highest = existing_versions(dir, extension)?
        .into_iter()
        .max()
        .unwrap_or(0);
    Ok(match versioning {
        Versioning::Sequential => highest + 1,
        Versioning::Timestamp => {
            let now: u64 = chrono::Utc::now()
                .format("%Y%m%d%H%M%S")
                .to_string()
                .parse()
                .context("timestamp version")?;
            now.max(highest + 1)
        }
    })
}

fn existing_versions(dir: &Path, extension: &str) -> anyhow::Result<Vec<u64>> {
    let mut versions = Vec::new();
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))?;
    for entry in entries {
        let path: PathBuf = entry?.path();
        let Some(file_name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let Some(stem) = file_name.strip_suffix(&format!(".{extension}")) else {
            continue;
        };
        if let Some((version, _)) = stem
            .strip_prefix('V')
            .and_then(|rest| rest.split_once("__"))
            && let Ok(version) = version.parse::<u64>()
        {
            versions.push(version);
        }
    }
    Ok(versions)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequential_and_timestamp_versions() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            next_version(dir.path(), "sql", Versioning::Sequential).unwrap(),
            1
        );
        std::fs::write(dir.path().join("V7__a.sql"), "").unwrap();
        std::fs::write(dir.path().join("V3__b.sql"), "").unwrap();
        std::fs::write(dir.path().join("V9__mongo.json"), "").unwrap();
        assert_eq!(
            next_version(dir.path(), "sql", Versioning::Sequential).unwrap(),
            8
        );
        assert_eq!(
            next_version(dir.path(), "json", Versioning::Sequential).unwrap(),
            10
        );
        let stamp = next_version(dir.path(), "sql", Versioning::Timestamp).unwrap();
        assert!(stamp > 20_000_000_000_000, "{stamp}");
    }

    #[test]
    fn template_parses_as_an_irreversible_migration() {
        let text = sql_template(true, false);
        assert!(text.starts_with("-- migrate:no-transaction\n"));
        assert!(text.contains("\n-- migrate:down\n"));
    }
}
