//! GDPR export (right of access): one JSON bundle of everything the stores hold about a subject.
//!
//! PostgreSQL rows are found through the foreign-key graph: every single-column foreign key that
//! references the subject table (read from `pg_constraint`), plus the subject columns of the
//! `[anonymize]` rules (tables such as `activity_logs` have no foreign key) and the audit rows
//! about or by the subject. Mongo documents come from the configured collections, Redis keys
//! from a `SCAN` of every key whose name or content holds the subject's id. Secrets (columns
//! ending in `_hash`) are redacted.

use std::collections::BTreeMap;

use futures_util::TryStreamExt;
use mongodb::bson::{Bson, Document, doc};
use serde::Serialize;
use serde_json::Value;

use super::anonymize::Prepared;
use super::anonymize::postgres::quote_ident;
use super::anonymize::redis::{Mentions, content, scan};
use crate::errors::DbError;

/// The bundle's format name, so a reader can tell versions apart.
pub const FORMAT: &str = "migrate-export/1";

/// Rows of one table, reached through one column.
#[derive(Debug, Clone, Serialize)]
pub struct TableRows {
    pub table: String,
    /// The column that holds the subject's id.
    pub via: String,
    pub rows: Vec<Value>,
}

#[derive(Debug, Clone, Serialize)]
pub struct KeyExport {
    pub key: String,
    pub pattern: Option<String>,
    #[serde(rename = "type")]
    pub key_type: String,
    pub value: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Bundle {
    pub format: &'static str,
    pub subject: String,
    pub generated_at: String,
    pub postgres: Vec<TableRows>,
    pub mongo: BTreeMap<String, Vec<Value>>,
    pub redis: Vec<KeyExport>,
}

impl Bundle {
    /// Rows, documents and keys per store, for the report and the ledger.
    pub fn counts(&self) -> BTreeMap<&'static str, u64> {
        BTreeMap::from([
            (
                "postgres_rows",
                self.postgres.iter().map(|t| t.rows.len() as u64).sum(),
            ),
            (
                "mongo_documents",
                self.mongo.values().map(|d| d.len() as u64).sum(),
            ),
            ("redis_keys", self.redis.len() as u64),
        ])
    }
}

const FOREIGN_KEYS_SQL: &str = "
SELECT format('%I.%I', n.nspname, c.relname), a.attname::text, format_type(a.atttypid, a.atttypmod)
FROM pg_constraint k
JOIN pg_class c ON c.oid = k.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1]
WHERE k.contype = 'f' AND k.conparentid = 0 AND k.confrelid = to_regclass($1)
  AND array_length(k.conkey, 1) = 1
ORDER BY 1, 2";

fn db_error(doing: &str, err: tokio_postgres::Error) -> DbError {
    DbError::new(doing, err)
}

/// Records a completed export of `subject` in `gdpr_requests` (the ledger names subjects by
/// their HMAC under the anonymization key); returns the request's id.
pub async fn record_request(
    prepared: &Prepared,
    subject: &str,
    counts: &BTreeMap<&'static str, u64>,
) -> anyhow::Result<String> {
    let hmac = prepared.key()?.subject_hmac(subject);
    Ok(super::anonymize::ledger::insert_request(
        &prepared.client,
        "export",
        &hmac,
        "completed",
        &serde_json::json!(counts),
    )
    .await?)
}

/// Collects everything about the subject.
pub async fn collect(prepared: &Prepared, subject: &str) -> anyhow::Result<Bundle> {
    let client = &prepared.client;
    let plan = &prepared.plan;
    // (table, column, type): the subject table itself, every foreign key to it, rule subjects.
    let mut sources: Vec<(String, String, String)> = vec![(
        plan.subject_qualified.clone(),
        plan.subject_pk.name.clone(),
        plan.subject_pk.sql_type.clone(),
    )];
    for row in client
        .query(FOREIGN_KEYS_SQL, &[&plan.subject_qualified])
        .await
        .map_err(|e| db_error("cannot read the foreign keys", e))?
    {
        sources.push((row.get(0), row.get(1), row.get(2)));
    }
    for table in &plan.tables {
        sources.push((
            table.qualified.clone(),
            table.subject.name.clone(),
            table.subject.sql_type.clone(),
        ));
    }
    if let Some(audit) = &plan.audit {
        sources.push((audit.qualified.clone(), "actor_id".into(), "uuid".into()));
        sources.push((audit.qualified.clone(), "record_id".into(), "uuid".into()));
    }
    sources.sort();
    sources.dedup();
    let mut postgres = Vec::new();
    for (table, column, sql_type) in sources {
        let sql = format!(
            "SELECT row_to_json(t)::text FROM {table} t WHERE t.{} = $1::text::{sql_type}",
            quote_ident(&column)
        );
        let rows = client
            .query(&sql, &[&subject])
            .await
            .map_err(|e| db_error(&format!("cannot read {table}"), e))?;
        if rows.is_empty() {
            continue;
        }
        let rows: Vec<Value> = rows
            .iter()
            .filter_map(|r| serde_json::from_str::<Value>(&r.get::<_, String>(0)).ok())
            .map(redact_secrets)
            .collect();
        postgres.push(TableRows {
            table: table.strip_prefix("public.").unwrap_or(&table).to_string(),
            via: column,
            rows,
        });
    }

    let mut mongo = BTreeMap::new();
    if let Some((database, _)) = &prepared.mongo {
        for rule in &prepared.rules.collections {
            let Some(field) = rule.subject.as_deref() else {
                continue;
            };
            let mut cursor = database
                .collection::<Document>(&rule.collection)
                .find(doc! { field: subject })
                .await
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", rule.collection))?;
            let mut documents = Vec::new();
            while let Some(document) = cursor.try_next().await? {
                documents.push(Bson::Document(document).into_relaxed_extjson());
            }
            if !documents.is_empty() {
                mongo.insert(rule.collection.clone(), documents);
            }
        }
    }

    let mut redis = Vec::new();
    if let Some((topology, keyspace, _)) = &prepared.redis {
        let ids = vec![subject.to_string()];
        let mentions = Mentions {
            ids: &ids,
            needles: None,
        };
        for (index, key) in scan(topology, "*").await? {
            if key == keyspace.schema_key() {
                continue;
            }
            let node = &topology.primaries[index];
            let (key_type, pairs) = content(node, &key).await?;
            if !mentions.in_text(&key) && !pairs.iter().any(|(_, t)| mentions.in_text(t)) {
                continue;
            }
            redis.push(KeyExport {
                pattern: keyspace.pattern_of(&key).map(|p| p.pattern.clone()),
                key,
                key_type,
                value: pairs.into_iter().map(|(_, t)| t).collect(),
            });
        }
    }
    Ok(Bundle {
        format: FORMAT,
        subject: subject.to_string(),
        generated_at: chrono::Utc::now().to_rfc3339(),
        postgres,
        mongo,
        redis,
    })
}

/// Secrets are not the subject's data to take away: `*_hash` columns become `[redacted]`, and
/// derived search vectors are dropped.
fn redact_secrets(mut row: Value) -> Value {
    if let Value::Object(map) = &mut row {
        map.remove("search_vector");
        for (name, value) in map.iter_mut() {
            if name.ends_with("_hash") && !value.is_null() {
                *value = Value::String(super::anonymize::rules::REDACTED.to_string());
            }
        }
    }
    row
}

/// Writes the bundle to `path` atomically (a `.partial` file renamed), readable by the owner
/// only: it holds the subject's personal data.
pub fn write(path: &std::path::Path, bundle: &Bundle) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let partial = path.with_extension("partial");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&partial)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", partial.display()))?;
    serde_json::to_writer_pretty(&mut file, bundle)?;
    file.write_all(b"\n")
        .and_then(|()| file.sync_all())
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", partial.display()))?;
    std::fs::rename(&partial, path).map_err(|e| {
        anyhow::anyhow!(
            "cannot rename {} to {}: {e}",
            partial.display(),
            path.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted() {
        let row = serde_json::json!({"email": "a@b.c", "password_hash": "$2a$", "search_vector": "x", "token_hash": null});
        let row = redact_secrets(row);
        assert_eq!(row["password_hash"], "[redacted]");
        assert_eq!(row["email"], "a@b.c");
        assert!(row.get("search_vector").is_none());
        assert!(row["token_hash"].is_null());
    }
}
