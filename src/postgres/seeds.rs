//! Seed data per environment: `seeds/<env>/NNN_name.sql` and `NNN_<table>.csv`, applied in
//! file-name order, each file once per checksum (a changed file is applied again).

use std::path::{Path, PathBuf};
use std::time::Instant;

use futures_util::SinkExt;
use serde::Serialize;
use tokio_postgres::{Client, SimpleQueryMessage};

use super::history::HistoryTable;
use super::migration::Checksum;
use crate::errors::{DbError, Detailed};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SeedFormat {
    Sql,
    Csv,
}

/// One seed file.
#[derive(Debug, Clone)]
pub struct SeedFile {
    pub path: PathBuf,
    pub file_name: String,
    pub format: SeedFormat,
    /// The target table of a CSV file (`090_tasks.csv` -> `tasks`).
    pub table: Option<String>,
    pub checksum: Checksum,
}

/// The seed files of one environment directory, in name order. Files of other stores (e.g.
/// `.json` for MongoDB) are returned separately by their own modules; unknown extensions are
/// errors so that a typo does not silently skip data.
pub fn discover(dir: &Path) -> anyhow::Result<Vec<SeedFile>> {
    let entries = std::fs::read_dir(dir)
        .map_err(|err| anyhow::anyhow!("cannot read seed directory {}: {err}", dir.display()))?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.is_file())
        .collect();
    paths.sort();
    let mut files = Vec::new();
    let mut problems = Vec::new();
    for path in paths {
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let extension = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        let format = match extension {
            "sql" => SeedFormat::Sql,
            "csv" => SeedFormat::Csv,
            // Mongo seed documents and notes are not PostgreSQL seeds.
            "json" | "md" | "txt" => continue,
            _ => {
                problems.push(format!(
                    "{}: unknown seed file type (expected .sql or .csv)",
                    path.display()
                ));
                continue;
            }
        };
        let table = match format {
            SeedFormat::Csv => match csv_table(&file_name) {
                Some(table) => Some(table),
                None => {
                    problems.push(format!(
                        "{}: a CSV seed must be named NNN_<table>.csv with a lowercase table name",
                        path.display()
                    ));
                    continue;
                }
            },
            SeedFormat::Sql => None,
        };
        let bytes = std::fs::read(&path)
            .map_err(|err| anyhow::anyhow!("cannot read {}: {err}", path.display()))?;
        if std::str::from_utf8(&bytes).is_err() {
            problems.push(format!("{}: file is not valid UTF-8", path.display()));
            continue;
        }
        files.push(SeedFile {
            checksum: Checksum::of(&bytes),
            path,
            file_name,
            format,
            table,
        });
    }
    if !problems.is_empty() {
        let mut error = Detailed::new("invalid seed files; nothing was changed");
        for problem in problems {
            error = error.context(problem);
        }
        return Err(error.into());
    }
    Ok(files)
}

fn csv_table(file_name: &str) -> Option<String> {
    let stem = file_name.strip_suffix(".csv")?;
    let (_, table) = stem.split_once('_')?;
    let valid = !table.is_empty()
        && table.split('.').count() <= 2
        && table.split('.').all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        });
    valid.then(|| table.to_string())
}

/// Where applied seed files are recorded: next to the migration history.
pub fn seed_table(history: &HistoryTable) -> String {
    history.seeds().qualified()
}

pub async fn ensure_table(
    client: &Client,
    history: &HistoryTable,
) -> Result<(), tokio_postgres::Error> {
    client
        .batch_execute(&format!(
            "CREATE TABLE IF NOT EXISTS {} (
                env        text NOT NULL,
                file       text NOT NULL,
                checksum   text NOT NULL,
                rows       bigint NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (env, file)
            )",
            seed_table(history)
        ))
        .await
}

/// Forgets every applied seed file: called when `down` reverted everything, since the data
/// the records describe is gone with the schema.
pub async fn drop_table(
    client: &Client,
    history: &HistoryTable,
) -> Result<(), tokio_postgres::Error> {
    client
        .batch_execute(&format!("DROP TABLE IF EXISTS {}", seed_table(history)))
        .await
}

/// Checksums recorded for an environment, by file name.
pub async fn recorded(
    client: &Client,
    history: &HistoryTable,
    env: &str,
) -> Result<std::collections::BTreeMap<String, Checksum>, tokio_postgres::Error> {
    let exists: bool = client
        .query_one(
            "SELECT to_regclass($1) IS NOT NULL",
            &[&history.seeds().qualified()],
        )
        .await?
        .get(0);
    if !exists {
        return Ok(Default::default());
    }
    let rows = client
        .query(
            &format!(
                "SELECT file, checksum FROM {} WHERE env = $1",
                seed_table(history)
            ),
            &[&env],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|row| (row.get(0), Checksum::from_hex(row.get::<_, String>(1))))
        .collect())
}

/// The result of applying one file.
#[derive(Debug, Clone, Serialize)]
pub struct Applied {
    pub file: String,
    pub format: SeedFormat,
    /// Rows inserted or updated, as the server counted them.
    pub rows: u64,
    pub execution_ms: u64,
}

/// Applies one seed file in its own transaction, together with its record.
pub async fn apply(
    client: &Client,
    history: &HistoryTable,
    env: &str,
    file: &SeedFile,
) -> anyhow::Result<Applied> {
    let started = Instant::now();
    let text = std::fs::read_to_string(&file.path)
        .map_err(|err| anyhow::anyhow!("cannot read {}: {err}", file.path.display()))?;
    client
        .batch_execute("BEGIN")
        .await
        .map_err(|err| DbError::new("cannot begin the seed transaction", err))?;
    let outcome = match file.format {
        SeedFormat::Sql => apply_sql(client, &text).await,
        SeedFormat::Csv => {
            apply_csv(client, file.table.as_deref().unwrap_or_default(), &text).await
        }
    };
    let rows = match outcome {
        Ok(rows) => rows,
        Err(failure) => {
            let _ = client.batch_execute("ROLLBACK").await;
            let failed = format!("seed file {} failed", file.path.display());
            let rolled_back = "its transaction was rolled back; files before it were applied";
            return Err(match failure {
                SeedFailure::Input(text) => Detailed::new(format!("{failed}: {text}"))
                    .context(rolled_back)
                    .into(),
                SeedFailure::Db { at: None, err } => {
                    DbError::new(failed, err).context(rolled_back).into()
                }
                SeedFailure::Db { at: Some(at), err } => {
                    DbError::new(format!("{failed}: {at}"), err)
                        .context(rolled_back)
                        .into()
                }
            });
        }
    };
    let record = client
        .execute(
            &format!(
                "INSERT INTO {} (env, file, checksum, rows) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (env, file) DO UPDATE SET checksum = EXCLUDED.checksum, rows = EXCLUDED.rows, applied_at = now()",
                seed_table(history)
            ),
            &[&env, &file.file_name, &file.checksum.as_str(), &(rows as i64)],
        )
        .await;
    if let Err(err) = record {
        let _ = client.batch_execute("ROLLBACK").await;
        return Err(
            DbError::new(format!("cannot record seed file {}", file.file_name), err).into(),
        );
    }
    client
        .batch_execute("COMMIT")
        .await
        .map_err(|err| DbError::new(format!("cannot commit seed file {}", file.file_name), err))?;
    Ok(Applied {
        file: file.file_name.clone(),
        format: file.format,
        rows,
        execution_ms: started.elapsed().as_millis() as u64,
    })
}

/// Why a seed file failed: its own text, or the server.
enum SeedFailure {
    /// The file is wrong (a psql meta-command, a bad CSV header).
    Input(String),
    /// The server refused it; `at` is where in the file, when the server said (`line 3`).
    Db {
        at: Option<String>,
        err: tokio_postgres::Error,
    },
}

impl From<tokio_postgres::Error> for SeedFailure {
    fn from(err: tokio_postgres::Error) -> Self {
        SeedFailure::Db { at: None, err }
    }
}

async fn apply_sql(client: &Client, text: &str) -> Result<u64, SeedFailure> {
    // Validate the script first (psql meta-commands, unterminated quotes) with line numbers.
    super::splitter::split(text).map_err(|err| SeedFailure::Input(err.to_string()))?;
    let messages = client
        .simple_query(text)
        .await
        .map_err(|err| SeedFailure::Db {
            at: line_of_error(text, &err),
            err,
        })?;
    Ok(messages
        .iter()
        .map(|message| match message {
            SimpleQueryMessage::CommandComplete(rows) => *rows,
            _ => 0,
        })
        .sum())
}

/// `line N` of `text` where the server's error points, if it does.
fn line_of_error(text: &str, err: &tokio_postgres::Error) -> Option<String> {
    match err.as_db_error().and_then(|db| db.position()) {
        Some(tokio_postgres::error::ErrorPosition::Original(position)) => {
            let byte = super::splitter::char_position_to_byte(text, *position as usize);
            Some(format!("line {}", super::splitter::line_of(text, byte)))
        }
        _ => None,
    }
}

/// COPY into a staging table shaped like the target, then merge on `id` (update changed rows,
/// insert new ones), so a re-run is a no-op and an edited row is updated.
async fn apply_csv(client: &Client, table: &str, text: &str) -> Result<u64, SeedFailure> {
    let header = text.lines().next().ok_or_else(|| {
        SeedFailure::Input("empty CSV file: the first line must name the columns".to_string())
    })?;
    let columns: Vec<String> = header
        .split(',')
        .map(|c| c.trim().trim_matches('"').to_string())
        .collect();
    if columns.iter().any(|c| {
        c.is_empty()
            || !c
                .chars()
                .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_')
    }) {
        return Err(SeedFailure::Input(format!(
            "CSV header `{header}`: column names must be lowercase identifiers"
        )));
    }
    let quoted_table = table
        .split('.')
        .map(|part| format!("\"{part}\""))
        .collect::<Vec<_>>()
        .join(".");
    let column_list = columns
        .iter()
        .map(|c| format!("\"{c}\""))
        .collect::<Vec<_>>()
        .join(", ");
    client
        .batch_execute(&format!(
            "CREATE TEMP TABLE migrate_seed_stage (LIKE {quoted_table} INCLUDING DEFAULTS) ON COMMIT DROP"
        ))
        .await
        ?;
    let sink = client
        .copy_in::<_, bytes::Bytes>(&format!(
            "COPY migrate_seed_stage ({column_list}) FROM STDIN WITH (FORMAT csv, HEADER true)"
        ))
        .await?;
    let mut sink = Box::pin(sink);
    sink.send(bytes::Bytes::from(text.to_owned())).await?;
    sink.as_mut().finish().await?;
    let merge = if columns.iter().any(|c| c == "id") {
        let updates: Vec<String> = columns
            .iter()
            .filter(|c| c.as_str() != "id")
            .map(|c| format!("\"{c}\" = EXCLUDED.\"{c}\""))
            .collect();
        let changed: Vec<String> = columns
            .iter()
            .filter(|c| c.as_str() != "id")
            .map(|c| format!("t.\"{c}\" IS DISTINCT FROM EXCLUDED.\"{c}\""))
            .collect();
        if updates.is_empty() {
            format!(
                "INSERT INTO {quoted_table} AS t ({column_list}) SELECT {column_list} FROM migrate_seed_stage ON CONFLICT (id) DO NOTHING"
            )
        } else {
            format!(
                "INSERT INTO {quoted_table} AS t ({column_list}) SELECT {column_list} FROM migrate_seed_stage
                 ON CONFLICT (id) DO UPDATE SET {} WHERE {}",
                updates.join(", "),
                changed.join(" OR ")
            )
        }
    } else {
        format!(
            "INSERT INTO {quoted_table} ({column_list}) SELECT {column_list} FROM migrate_seed_stage ON CONFLICT DO NOTHING"
        )
    };
    client.execute(&merge, &[]).await.map_err(SeedFailure::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_table_names() {
        assert_eq!(csv_table("090_tasks.csv").as_deref(), Some("tasks"));
        assert_eq!(
            csv_table("010_audit.audit_logs.csv").as_deref(),
            Some("audit.audit_logs")
        );
        assert_eq!(csv_table("tasks.csv"), None);
        assert_eq!(csv_table("1_Tasks.csv"), None);
    }

    #[test]
    fn discovery_orders_files_and_rejects_unknown_types() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("002_b.sql"), "select 1;").unwrap();
        std::fs::write(dir.path().join("001_a.sql"), "select 1;").unwrap();
        std::fs::write(dir.path().join("003_tasks.csv"), "id\n").unwrap();
        std::fs::write(dir.path().join("004_docs.json"), "{}").unwrap();
        let files = discover(dir.path()).unwrap();
        let names: Vec<&str> = files.iter().map(|f| f.file_name.as_str()).collect();
        assert_eq!(names, vec!["001_a.sql", "002_b.sql", "003_tasks.csv"]);
        std::fs::write(dir.path().join("005_x.yaml"), "").unwrap();
        let err = discover(dir.path()).unwrap_err();
        assert!(format!("{err:#}").contains("invalid seed files"), "{err:#}");
    }
}
