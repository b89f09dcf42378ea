//! MongoDB health: collection and index sizes (`collStats`), unused indexes (`$indexStats`).

use futures_util::TryStreamExt;
use mongodb::bson::{Bson, Document, doc};

use super::{Finding, Relation, Severity, StoreHealth, size};
use crate::config::MongoSettings;
use crate::config::health::HealthSettings;

fn number(document: &Document, key: &str) -> i64 {
    match document.get(key) {
        Some(Bson::Int32(n)) => i64::from(*n),
        Some(Bson::Int64(n)) => *n,
        Some(Bson::Double(n)) => *n as i64,
        _ => 0,
    }
}

pub async fn check(mongo: &MongoSettings, health: &HealthSettings) -> anyhow::Result<StoreHealth> {
    let connection = crate::mongo::connect::connect(mongo).await?;
    let database = &connection.database;
    let mut store = StoreHealth::new("mongo", connection.display.clone());
    let mut names = database
        .list_collection_names()
        .await
        .map_err(|err| anyhow::anyhow!("cannot list the collections: {err}"))?;
    names.retain(|name| !name.starts_with("system."));
    names.sort();

    store.checks.push("sizes");
    let mut relations = Vec::new();
    for name in &names {
        match database.run_command(doc! {"collStats": name}).await {
            Ok(stats) => relations.push(Relation {
                name: name.clone(),
                rows: number(&stats, "count"),
                total_bytes: number(&stats, "storageSize") + number(&stats, "totalIndexSize"),
                data_bytes: number(&stats, "size"),
                index_bytes: number(&stats, "totalIndexSize"),
            }),
            Err(err) => {
                store.could_not_check("sizes", format!("collStats on {name}: {err}"));
                break;
            }
        }
    }
    relations.sort_by(|a, b| b.total_bytes.cmp(&a.total_bytes).then(a.name.cmp(&b.name)));
    let total: i64 = relations.iter().map(|r| r.total_bytes).sum();
    store.fact("database_size", size(total));
    store.fact("collections", names.len().to_string());
    relations.truncate(health.top as usize);
    store.largest = relations;

    store.checks.push("unused-indexes");
    let mut untracked = Vec::new();
    for name in &names {
        if let Err(err) = unused_indexes(database, name, &mut store, &mut untracked).await {
            store.could_not_check("unused-indexes", format!("$indexStats on {name}: {err}"));
            break;
        }
    }
    if !untracked.is_empty() {
        store.findings.push(Finding::new(
            Severity::Info,
            "unused-indexes",
            untracked.join(", "),
            "this server does not record when its indexes were last used ($indexStats gives no `since`): unused indexes not checked",
            "run `migrate health` against a mongod (replica set member) to check index use",
        ));
    }
    store.sort();
    Ok(store)
}

/// Indexes with no recorded use, leaving out `_id_`, unique and TTL indexes (they work
/// without being used by queries).
async fn unused_indexes(
    database: &mongodb::Database,
    name: &str,
    store: &mut StoreHealth,
    untracked: &mut Vec<String>,
) -> Result<(), mongodb::error::Error> {
    let collection = database.collection::<Document>(name);
    let listed = database.run_command(doc! {"listIndexes": name}).await?;
    let specs: Vec<Document> = listed
        .get_document("cursor")
        .ok()
        .and_then(|cursor| cursor.get_array("firstBatch").ok())
        .map(|batch| {
            batch
                .iter()
                .filter_map(|b| b.as_document().cloned())
                .collect()
        })
        .unwrap_or_default();
    let stats: Vec<Document> = collection
        .aggregate([doc! {"$indexStats": {}}])
        .await?
        .try_collect()
        .await?;
    for stat in stats {
        let index = stat.get_str("name").unwrap_or_default().to_string();
        if index == "_id_" {
            continue;
        }
        let accesses = stat.get_document("accesses").cloned().unwrap_or_default();
        let since = accesses.get("since").cloned().unwrap_or(Bson::Null);
        if since == Bson::Null {
            untracked.push(name.to_string());
            return Ok(());
        }
        let spec = specs
            .iter()
            .find(|s| s.get_str("name").ok() == Some(index.as_str()));
        let unique = spec.is_some_and(|s| s.get_bool("unique").unwrap_or(false));
        let ttl = spec.is_some_and(|s| s.contains_key("expireAfterSeconds"));
        if unique || ttl || number(&accesses, "ops") > 0 {
            continue;
        }
        store.findings.push(Finding::new(
            Severity::Warning,
            "unused-index",
            format!("{name}.{index}"),
            format!("no query has used it since {since}"),
            format!(
                "check other members of the replica set too, then drop it in a Mongo migration ({{\"dropIndexes\": \"{name}\", \"index\": \"{index}\"}})"
            ),
        ));
    }
    Ok(())
}
