//! The targets of a fleet run: parsed from a targets file, or read from a catalog database.

use std::collections::BTreeSet;
use std::path::Path;

use crate::config::targets::TargetSource;
use crate::errors::{DbError, Detailed};
use crate::redact::redact_url;

/// One database of the fleet.
#[derive(Debug, Clone)]
pub struct Target {
    /// The name used in reports: given (`name<TAB>url`), else the redacted URL.
    pub name: String,
    pub url: String,
}

/// Parses a targets file: one URL or key=value string per line, optionally `name<TAB>url`;
/// `#` starts a comment line; blank lines are ignored. Every problem is reported with its
/// `file:line`, and duplicates (same name) are refused.
pub fn parse(text: &str, origin: &str) -> Result<Vec<Target>, Detailed> {
    let mut targets = Vec::new();
    let mut problems = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let (name, url) = match line.split_once('\t') {
            Some((name, url)) => (Some(name.trim().to_string()), url.trim().to_string()),
            None => (None, trimmed.to_string()),
        };
        if url.is_empty() || name.as_deref() == Some("") {
            problems.push(format!(
                "{origin}:{}: expected `URL` or `name<TAB>URL`",
                number + 1
            ));
            continue;
        }
        targets.push(Target {
            name: name.unwrap_or_else(|| redact_url(&url)),
            url,
        });
    }
    let mut seen = BTreeSet::new();
    for target in &targets {
        if !seen.insert(target.name.clone()) {
            problems.push(format!(
                "{origin}: target `{}` is listed twice",
                target.name
            ));
        }
    }
    if !problems.is_empty() {
        let mut error = Detailed::new(format!("invalid targets in {origin}"));
        for problem in problems {
            error = error.context(problem);
        }
        return Err(error);
    }
    if targets.is_empty() {
        return Err(Detailed::new(format!("{origin} lists no target"))
            .hint("one PostgreSQL URL (or `name<TAB>URL`) per line"));
    }
    Ok(targets)
}

/// The targets of `source`.
pub async fn load(
    source: &TargetSource,
    settings: &crate::config::Settings,
) -> anyhow::Result<Vec<Target>> {
    match source {
        TargetSource::File(path) => {
            let text = read(path)?;
            Ok(parse(&text, &path.display().to_string())?)
        }
        TargetSource::Query { sql, catalog_url } => {
            let catalog = settings.pg_for(catalog_url)?;
            let client = catalog
                .target
                .connect(&format!("migrate {} targets", crate::TOOL_VERSION))
                .await?;
            let rows = client.simple_query(sql).await.map_err(|err| {
                DbError::new(
                    format!("the [targets] query failed on {}", catalog.target),
                    err,
                )
            })?;
            let mut text = String::new();
            for message in rows {
                if let tokio_postgres::SimpleQueryMessage::Row(row) = message {
                    let url = row.get(0).unwrap_or_default();
                    match row.len() {
                        1 => text.push_str(url),
                        _ => {
                            let name = row.get(1).unwrap_or_default();
                            text.push_str(&format!("{name}\t{url}"));
                        }
                    }
                    text.push('\n');
                }
            }
            Ok(parse(
                &text,
                &format!("the [targets] query on {}", catalog.target),
            )?)
        }
    }
}

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path)
        .map_err(|err| anyhow::anyhow!("cannot read targets file {}: {err}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_comments_names_and_duplicates() {
        let targets = parse(
            "# tenants\n\npostgres://u:secret@h/a\nbeta\tpostgres://h/b\nhost=h dbname=c\n",
            "t.txt",
        )
        .unwrap();
        let names: Vec<&str> = targets.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names[1], "beta");
        assert!(!names[0].contains("secret"), "{names:?}");
        assert_eq!(targets[2].url, "host=h dbname=c");
        let err = parse("a\tpostgres://h/a\na\tpostgres://h/b\n", "t.txt").unwrap_err();
        assert!(err.context[0].contains("`a` is listed twice"), "{err:?}");
        let err = parse("\tpostgres://h/a\n", "t.txt").unwrap_err();
        assert!(err.context[0].starts_with("t.txt:1:"), "{err:?}");
        assert!(parse("# nothing\n", "t.txt").is_err());
    }
}
