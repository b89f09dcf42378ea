//! Adopting a database migrated by refinery: read `refinery_schema_history`.

use chrono::{DateTime, Utc};
use tokio_postgres::Client;

/// One row of refinery's history.
#[derive(Debug, Clone)]
pub struct RefineryRow {
    pub version: u64,
    pub name: String,
    pub applied_on: Option<DateTime<Utc>>,
}

/// Reads refinery's history table, or explains that there is none.
pub async fn read(client: &Client) -> anyhow::Result<Vec<RefineryRow>> {
    let exists: bool = client
        .query_one(
            "SELECT to_regclass('refinery_schema_history') IS NOT NULL",
            &[],
        )
        .await?
        .get(0);
    if !exists {
        anyhow::bail!("no table refinery_schema_history in this database: nothing to import");
    }
    let rows = client
        .query(
            "SELECT version::bigint, name::text, applied_on::text FROM refinery_schema_history ORDER BY version",
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|row| RefineryRow {
            version: row.get::<_, i64>(0).max(0) as u64,
            name: row.get(1),
            applied_on: row
                .get::<_, Option<String>>(2)
                .and_then(|text| DateTime::parse_from_rfc3339(&text).ok())
                .map(|t| t.with_timezone(&Utc)),
        })
        .collect())
}
