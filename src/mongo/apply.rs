//! Runs one op against the server, idempotently where MongoDB allows it: creating what exists
//! identically and dropping what is gone are no-ops, so a resumed run can repeat the op that
//! was in flight when the previous run stopped.

use mongodb::Database;
use mongodb::bson::{Bson, Document, doc};

use super::connect::{error_code, short_cause};
use super::op::Op;
use crate::errors::Detailed;

const NAMESPACE_NOT_FOUND: i32 = 26;
const INDEX_NOT_FOUND: i32 = 27;
const NAMESPACE_EXISTS: i32 = 48;
const INDEX_OPTIONS_CONFLICT: i32 = 85;
const INDEX_KEY_SPECS_CONFLICT: i32 = 86;

/// What running an op did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    Done,
    /// Nothing to do: the reason (e.g. "exists with identical options").
    AlreadyDone(&'static str),
}

pub async fn apply(database: &Database, op: &Op) -> Result<Applied, Detailed> {
    match op {
        Op::CreateCollection {
            collection,
            options,
        } => create_collection(database, collection, options).await,
        Op::DropCollection { collection } => {
            let exists = find_collection(database, collection).await?.is_some();
            if !exists {
                return Ok(Applied::AlreadyDone("collection does not exist"));
            }
            match database.run_command(doc! {"drop": collection}).await {
                Ok(_) => Ok(Applied::Done),
                Err(err) if error_code(&err) == Some(NAMESPACE_NOT_FOUND) => {
                    Ok(Applied::AlreadyDone("collection does not exist"))
                }
                Err(err) => Err(server_error(op, &err)),
            }
        }
        Op::CreateIndex { collection, spec } => create_index(database, op, collection, spec).await,
        Op::DropIndex { collection, name } => {
            let command = doc! {"dropIndexes": collection, "index": name};
            match database.run_command(command).await {
                Ok(_) => Ok(Applied::Done),
                Err(err)
                    if matches!(
                        error_code(&err),
                        Some(INDEX_NOT_FOUND | NAMESPACE_NOT_FOUND)
                    ) =>
                {
                    Ok(Applied::AlreadyDone("index does not exist"))
                }
                Err(err) => Err(server_error(op, &err)),
            }
        }
        Op::CollMod {
            collection,
            changes,
        } => {
            let mut command = doc! {"collMod": collection};
            command.extend(changes.clone());
            match database.run_command(command).await {
                Ok(_) => Ok(Applied::Done),
                Err(err) if error_code(&err) == Some(NAMESPACE_NOT_FOUND) => {
                    Err(Detailed::new(format!(
                        "{}: collection `{collection}` does not exist",
                        op.describe()
                    )))
                }
                Err(err) => Err(server_error(op, &err)),
            }
        }
        Op::RunCommand { command } => match database.run_command(command.clone()).await {
            Ok(_) => Ok(Applied::Done),
            Err(err) => Err(server_error(op, &err)),
        },
    }
}

fn server_error(op: &Op, err: &mongodb::error::Error) -> Detailed {
    Detailed::new(format!("{}: {}", op.describe(), short_cause(err)))
}

/// `listCollections` entry of one collection, read raw (the driver's typed options do not
/// know every validation action).
pub async fn find_collection(
    database: &Database,
    name: &str,
) -> Result<Option<Document>, Detailed> {
    let reply = database
        .run_command(doc! {"listCollections": 1, "filter": {"name": name}})
        .await
        .map_err(|err| Detailed::new(format!("listCollections failed: {}", short_cause(&err))))?;
    let first = reply
        .get_document("cursor")
        .ok()
        .and_then(|c| c.get_array("firstBatch").ok())
        .and_then(|batch| batch.first())
        .and_then(Bson::as_document)
        .cloned();
    Ok(first)
}

/// Every index of a collection (`listIndexes`, raw); a missing collection has none. A
/// collection holds at most 64 indexes, so the first batch has them all.
pub async fn list_indexes(
    database: &Database,
    collection: &str,
) -> Result<Vec<Document>, Detailed> {
    let reply = match database.run_command(doc! {"listIndexes": collection}).await {
        Ok(reply) => reply,
        Err(err) if error_code(&err) == Some(NAMESPACE_NOT_FOUND) => return Ok(Vec::new()),
        Err(err) => {
            return Err(Detailed::new(format!(
                "listIndexes on {collection} failed: {}",
                short_cause(&err)
            )));
        }
    };
    Ok(reply
        .get_document("cursor")
        .ok()
        .and_then(|c| c.get_array("firstBatch").ok())
        .map(|batch| {
            batch
                .iter()
                .filter_map(Bson::as_document)
                .cloned()
                .collect()
        })
        .unwrap_or_default())
}

async fn create_collection(
    database: &Database,
    collection: &str,
    options: &Document,
) -> Result<Applied, Detailed> {
    if let Some(existing) = find_collection(database, collection).await? {
        return compare_existing_collection(collection, options, &existing);
    }
    let mut command = doc! {"create": collection};
    command.extend(options.clone());
    match database.run_command(command).await {
        Ok(_) => Ok(Applied::Done),
        // Created meanwhile (by hand?): judge what is there now.
        Err(err) if error_code(&err) == Some(NAMESPACE_EXISTS) => {
            match find_collection(database, collection).await? {
                Some(existing) => compare_existing_collection(collection, options, &existing),
                None => Err(Detailed::new(format!(
                    "create_collection {collection}: {}",
                    short_cause(&err)
                ))),
            }
        }
        Err(err) => Err(Detailed::new(format!(
            "create_collection {collection}: {}",
            short_cause(&err)
        ))),
    }
}

/// An existing collection with the requested options is fine; with other options it is an
/// error that shows both.
fn compare_existing_collection(
    collection: &str,
    requested: &Document,
    existing: &Document,
) -> Result<Applied, Detailed> {
    if existing.get_str("type").is_ok_and(|t| t != "collection") {
        return Err(Detailed::new(format!(
            "create_collection {collection}: a {} of that name exists",
            existing.get_str("type").unwrap_or("view")
        )));
    }
    let empty = Document::new();
    let existing_options = existing.get_document("options").unwrap_or(&empty);
    if collection_options_match(requested, existing_options) {
        return Ok(Applied::AlreadyDone(
            "collection exists with identical options",
        ));
    }
    Err(Detailed::new(format!(
        "create_collection {collection}: the collection exists with other options"
    ))
    .context(format!("existing:  {}", relaxed_json(existing_options)))
    .context(format!("requested: {}", relaxed_json(requested)))
    .hint(format!(
        "to change the validator or validation settings of an existing collection, use a `coll_mod` op on `{collection}`"
    )))
}

/// Validator and validation settings (with the server's defaults), plus every other option
/// the request sets.
pub fn collection_options_match(requested: &Document, existing: &Document) -> bool {
    let empty = Bson::Document(Document::new());
    let defaults = [
        ("validator", empty.clone()),
        ("validationLevel", Bson::String("strict".into())),
        ("validationAction", Bson::String("error".into())),
    ];
    for (key, default) in &defaults {
        let wanted = requested.get(*key).unwrap_or(default);
        let found = existing.get(*key).unwrap_or(default);
        if !same(wanted, found) {
            return false;
        }
    }
    for (key, wanted) in requested {
        if defaults.iter().any(|(k, _)| k == key) {
            continue;
        }
        match (wanted, existing.get(key)) {
            (Bson::Document(wanted), Some(Bson::Document(found))) => {
                // Servers add defaults inside `timeseries`, `clusteredIndex`, `collation`.
                if !wanted
                    .iter()
                    .all(|(k, v)| found.get(k).is_some_and(|f| same(v, f)))
                {
                    return false;
                }
            }
            (wanted, Some(found)) if same(wanted, found) => {}
            _ => return false,
        }
    }
    // A capped or time-series collection is not what a plain request asked for.
    for key in ["capped", "timeseries"] {
        if existing.contains_key(key)
            && !requested.contains_key(key)
            && existing.get(key) != Some(&Bson::Boolean(false))
        {
            return false;
        }
    }
    true
}

async fn create_index(
    database: &Database,
    op: &Op,
    collection: &str,
    spec: &Document,
) -> Result<Applied, Detailed> {
    let command = doc! {"createIndexes": collection, "indexes": [spec.clone()]};
    match database.run_command(command).await {
        Ok(reply) => {
            let before = reply.get("numIndexesBefore").and_then(super::op::as_i64);
            let after = reply.get("numIndexesAfter").and_then(super::op::as_i64);
            if before.is_some() && before == after {
                Ok(Applied::AlreadyDone(
                    "index exists with an identical definition",
                ))
            } else {
                Ok(Applied::Done)
            }
        }
        Err(err)
            if matches!(
                error_code(&err),
                Some(INDEX_OPTIONS_CONFLICT | INDEX_KEY_SPECS_CONFLICT)
            ) =>
        {
            Err(index_conflict(database, op, collection, spec, &err).await)
        }
        Err(err) => Err(server_error(op, &err)),
    }
}

/// Codes 85/86: show the index that is in the way next to the requested one, and the way out.
async fn index_conflict(
    database: &Database,
    op: &Op,
    collection: &str,
    spec: &Document,
    err: &mongodb::error::Error,
) -> Detailed {
    let name = spec.get_str("name").unwrap_or("?");
    let keys = spec.get_document("key").ok();
    let indexes = list_indexes(database, collection).await.unwrap_or_default();
    let existing = indexes
        .iter()
        .find(|i| i.get_str("name") == Ok(name))
        .or_else(|| indexes.iter().find(|i| i.get_document("key").ok() == keys));
    let mut error = match existing {
        Some(existing) if existing.get_str("name") == Ok(name) => Detailed::new(format!(
            "{}: an index named `{name}` already exists with another definition",
            op.describe()
        )),
        Some(existing) => Detailed::new(format!(
            "{}: an index on the same keys already exists under the name `{}`",
            op.describe(),
            existing.get_str("name").unwrap_or("?")
        )),
        None => Detailed::new(format!("{}: index conflict", op.describe())),
    };
    error = error.context(format!("server: {}", short_cause(err)));
    if let Some(existing) = existing {
        let mut shown = existing.clone();
        shown.remove("v");
        shown.remove("ns");
        error = error.context(format!("existing:  {}", relaxed_json(&shown)));
    }
    error = error.context(format!("requested: {}", relaxed_json(spec)));
    let existing_name = existing
        .and_then(|e| e.get_str("name").ok())
        .unwrap_or(name);
    error
        .hint("if the existing index is the right one, make this op's definition match it")
        .hint(format!(
            "if the requested one is right, drop the existing index first: add {{\"op\": \"drop_index\", \"collection\": \"{collection}\", \"name\": \"{existing_name}\"}} before this op (in a new migration if this one ran elsewhere), then run `migrate up` again to resume here"
        ))
}

/// Relaxed Extended JSON on one line.
pub fn relaxed_json(document: &Document) -> String {
    Bson::Document(document.clone())
        .into_relaxed_extjson()
        .to_string()
}

/// Equality as the server means it: documents compare as maps, numbers by value.
pub fn same(a: &Bson, b: &Bson) -> bool {
    match (a, b) {
        (Bson::Document(a), Bson::Document(b)) => {
            a.len() == b.len()
                && a.iter()
                    .all(|(key, value)| b.get(key).is_some_and(|other| same(value, other)))
        }
        (Bson::Array(a), Bson::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(x, y))
        }
        _ => match (number(a), number(b)) {
            (Some(x), Some(y)) => x == y,
            _ => a == b,
        },
    }
}

fn number(value: &Bson) -> Option<f64> {
    match value {
        Bson::Int32(n) => Some(f64::from(*n)),
        Bson::Int64(n) => Some(*n as f64),
        Bson::Double(n) => Some(*n),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_key_order_do_not_matter_for_options() {
        let requested = doc! {"validator": {"$jsonSchema": {"required": ["a"], "bsonType": "object",
        "properties": {"n": {"minimum": 1}}}}};
        let existing = doc! {"validator": {"$jsonSchema": {"bsonType": "object", "required": ["a"],
        "properties": {"n": {"minimum": 1.0}}}}, "validationLevel": "strict", "validationAction": "error"};
        assert!(collection_options_match(&requested, &existing));
        let other = doc! {"validator": {"$jsonSchema": {"bsonType": "object"}}};
        assert!(!collection_options_match(&requested, &other));
        let warn = doc! {"validator": requested.get_document("validator").unwrap().clone(), "validationAction": "warn"};
        assert!(!collection_options_match(&requested, &warn));
        assert!(!collection_options_match(
            &doc! {},
            &doc! {"capped": true, "size": 4096}
        ));
        assert!(collection_options_match(
            &doc! {"timeseries": {"timeField": "t"}},
            &doc! {"timeseries": {"timeField": "t", "granularity": "seconds"}}
        ));
    }
}
