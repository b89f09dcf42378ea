//! MongoDB drift: the live database against the Mongo migrations it has applied, replayed on a
//! shadow database of the same server (unique name, dropped afterwards, also on error).
//!
//! Compared: collections (type and options), validators (with `validationLevel` and
//! `validationAction`, server defaults filled in) and indexes (key in order, options with
//! defaults such as `unique: false` and the bookkeeping fields `v`, `ns`, `background` removed).

use std::collections::{BTreeMap, BTreeSet};

use mongodb::Database;
use mongodb::bson::{Bson, Document, doc};
use serde::Serialize;

use super::apply::{self, list_indexes, relaxed_json, same};
use super::connect::short_cause;
use super::engine::MongoSession;
use super::history::{HistoryRecord, RecordState};
use super::migration::MongoSet;
use super::op::RESERVED_COLLECTIONS;
use crate::core::drift::{Status, glob_match};
use crate::errors::Detailed;

/// One difference between the shadow (expected) and the live database.
#[derive(Debug, Clone, Serialize)]
pub struct MongoDifference {
    /// `collection`, `validator` or `index`.
    pub kind: &'static str,
    /// `orders` or `orders.customer_1`.
    pub object: String,
    pub status: Status,
    pub fields: Vec<MongoField>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MongoField {
    pub field: String,
    /// Relaxed Extended JSON; absent when the side does not have it.
    pub expected: Option<String>,
    pub actual: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct MongoDrift {
    /// Always `mongo`.
    pub store: &'static str,
    pub database: String,
    pub clean: bool,
    /// The newest migration replayed on the shadow database.
    pub expected_version: Option<u64>,
    /// Objects compared (collections, validators and indexes of both sides).
    pub compared: usize,
    pub ignored: usize,
    pub differences: Vec<MongoDifference>,
    pub notes: Vec<String>,
}

impl MongoDrift {
    pub fn human(&self) -> String {
        let version = self.expected_version.map_or_else(
            || "no migration".to_string(),
            |v| format!("mongo migrations up to V{v}"),
        );
        let ignored = if self.ignored > 0 {
            format!(", {} ignored", self.ignored)
        } else {
            String::new()
        };
        let mut out = if self.clean {
            format!(
                "mongo: no drift ({} compared against {version} on a shadow database{ignored}; {})\n",
                crate::output::count(self.compared, "object"),
                self.database
            )
        } else {
            let total = self.differences.len();
            format!(
                "mongo: {total} difference{} between {} and {version} on a shadow database{ignored}\n",
                if total == 1 { "" } else { "s" },
                self.database
            )
        };
        let mut groups: BTreeMap<&str, Vec<&MongoDifference>> = BTreeMap::new();
        for difference in &self.differences {
            groups.entry(difference.kind).or_default().push(difference);
        }
        for (kind, group) in groups {
            out.push_str(&format!("  {kind}\n"));
            for difference in group {
                out.push_str(&format!(
                    "    {:<10} {}\n",
                    difference.status.as_str(),
                    difference.object
                ));
                for field in &difference.fields {
                    out.push_str(&format!(
                        "        {}: expected {}, actual {}\n",
                        field.field,
                        field.expected.as_deref().unwrap_or("(none)"),
                        field.actual.as_deref().unwrap_or("(none)")
                    ));
                }
            }
        }
        for note in &self.notes {
            out.push_str(&format!("  note: {note}\n"));
        }
        out
    }
}

/// Replays the applied migrations on a shadow database, compares, drops the shadow.
pub async fn drift(
    session: &MongoSession,
    set: &MongoSet,
    ignore: &[String],
) -> anyhow::Result<MongoDrift> {
    let history = session.read_history().await?;
    let mut notes = Vec::new();
    let dirty: Vec<String> = history
        .iter()
        .filter(|r| r.state == RecordState::Dirty)
        .map(HistoryRecord::label)
        .collect();
    if !dirty.is_empty() {
        notes.push(format!(
            "dirty mongo migrations are not part of the expected state: {}",
            dirty.join(", ")
        ));
    }
    let applied: BTreeSet<u64> = history
        .iter()
        .filter(|r| r.state == RecordState::Applied)
        .map(|r| r.version)
        .collect();
    let mut missing_files = Vec::new();
    for record in history.iter().filter(|r| r.state == RecordState::Applied) {
        match set.by_version(record.version) {
            None => missing_files.push(record.label()),
            Some(file) if file.checksum != record.checksum => notes.push(format!(
                "{} changed since it was applied (compared as the file is now)",
                record.label()
            )),
            Some(_) => {}
        }
    }
    if !missing_files.is_empty() {
        notes.push(format!(
            "applied mongo migrations without a file are not part of the expected state: {}",
            missing_files.join(", ")
        ));
    }

    let live = &session.connection.database;
    let shadow_name = shadow_name(live.name());
    let shadow = session.connection.client.database(&shadow_name);
    let built = replay(&shadow, set, &applied).await;
    let compared = match built {
        Ok(()) => {
            let excluded = excluded(&session.settings.history_collection);
            match (
                read_state(&shadow, &excluded).await,
                read_state(live, &excluded).await,
            ) {
                (Ok(expected), Ok(actual)) => Ok((expected, actual)),
                (Err(e), _) | (_, Err(e)) => Err(e),
            }
        }
        Err(e) => Err(e),
    };
    // Dropped whatever happened above.
    let dropped = shadow.drop().await;
    let (expected, actual) = compared.map_err(|e| {
        e.context(format!(
            "while building or reading the shadow database {shadow_name}"
        ))
    })?;
    if let Err(err) = dropped {
        notes.push(format!(
            "the shadow database {shadow_name} could not be dropped ({}): drop it by hand",
            short_cause(&err)
        ));
    }
    let comparison = compare(&expected, &actual, ignore);
    Ok(MongoDrift {
        store: "mongo",
        database: session.display().to_string(),
        clean: comparison.differences.is_empty(),
        expected_version: applied
            .iter()
            .copied()
            .filter(|v| set.by_version(*v).is_some())
            .max(),
        compared: comparison.compared,
        ignored: comparison.ignored,
        differences: comparison.differences,
        notes,
    })
}

fn shadow_name(live: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let prefix: String = live.chars().take(24).collect();
    format!("{prefix}_drift_{}_{nanos:08x}", std::process::id())
}

fn excluded(history_collection: &str) -> Vec<String> {
    RESERVED_COLLECTIONS
        .iter()
        .map(|s| s.to_string())
        .chain([history_collection.to_string()])
        .collect()
}

async fn replay(
    shadow: &Database,
    set: &MongoSet,
    applied: &BTreeSet<u64>,
) -> Result<(), Detailed> {
    for version in applied {
        let Some(migration) = set.by_version(*version) else {
            continue;
        };
        for (index, op) in migration.up.iter().enumerate() {
            apply::apply(shadow, op).await.map_err(|e| {
                e.context(format!(
                    "replaying {} up[{index}] on the shadow database",
                    migration.label()
                ))
            })?;
        }
    }
    Ok(())
}

/// A collection as compared: its type, options (validation split out) and indexes.
#[derive(Debug, Clone, Default)]
pub struct CollectionState {
    pub kind: String,
    pub validator: Document,
    pub validation_level: String,
    pub validation_action: String,
    pub options: Document,
    pub indexes: BTreeMap<String, Document>,
}

pub type DatabaseState = BTreeMap<String, CollectionState>;

async fn read_state(database: &Database, excluded: &[String]) -> Result<DatabaseState, Detailed> {
    let reply = database
        .run_command(doc! {"listCollections": 1})
        .await
        .map_err(|err| Detailed::new(format!("listCollections failed: {}", short_cause(&err))))?;
    let entries: Vec<Document> = reply
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
        .unwrap_or_default();
    let mut state = DatabaseState::new();
    for entry in entries {
        let Ok(name) = entry.get_str("name") else {
            continue;
        };
        if name.starts_with("system.") || excluded.iter().any(|e| e == name) {
            continue;
        }
        let kind = entry.get_str("type").unwrap_or("collection").to_string();
        let options = entry.get_document("options").cloned().unwrap_or_default();
        let mut collection = normalize_collection(kind, options);
        if collection.kind == "collection" {
            for index in list_indexes(database, name).await? {
                if let Ok(index_name) = index.get_str("name") {
                    collection
                        .indexes
                        .insert(index_name.to_string(), normalize_index(&index));
                }
            }
        }
        state.insert(name.to_string(), collection);
    }
    Ok(state)
}

/// Validation settings with the server defaults, the remaining options as given.
pub fn normalize_collection(kind: String, mut options: Document) -> CollectionState {
    let validator = match options.remove("validator") {
        Some(Bson::Document(d)) => d,
        _ => Document::new(),
    };
    let text = |value: Option<Bson>, default: &str| match value {
        Some(Bson::String(s)) => s,
        _ => default.to_string(),
    };
    let validation_level = text(options.remove("validationLevel"), "strict");
    let validation_action = text(options.remove("validationAction"), "error");
    if options.get("capped") == Some(&Bson::Boolean(false)) {
        options.remove("capped");
    }
    CollectionState {
        kind,
        validator,
        validation_level,
        validation_action,
        options,
        indexes: BTreeMap::new(),
    }
}

/// An index spec without bookkeeping fields and default-valued options.
pub fn normalize_index(index: &Document) -> Document {
    let mut spec = Document::new();
    for (key, value) in index {
        let default = match key.as_str() {
            "v" | "ns" | "background" | "name" => true,
            "unique" | "sparse" | "hidden" | "dropDups" => value == &Bson::Boolean(false),
            _ => false,
        };
        if !default {
            spec.insert(key.clone(), value.clone());
        }
    }
    spec
}

/// Equality of two normalized index specs: the key in order, the options as the server means.
fn same_index(a: &Document, b: &Document) -> bool {
    let keys_in_order = |d: &Document| -> Vec<String> {
        d.get_document("key")
            .map(|k| k.keys().cloned().collect())
            .unwrap_or_default()
    };
    keys_in_order(a) == keys_in_order(b)
        && same(&Bson::Document(a.clone()), &Bson::Document(b.clone()))
}

pub struct Comparison {
    pub compared: usize,
    pub ignored: usize,
    pub differences: Vec<MongoDifference>,
}

fn ignored(patterns: &[String], object: &str, collection: &str) -> bool {
    patterns
        .iter()
        .any(|p| glob_match(p, object) || glob_match(p, collection))
}

fn show(value: &Bson) -> String {
    match value {
        Bson::Document(d) => relaxed_json(d),
        other => other.clone().into_relaxed_extjson().to_string(),
    }
}

/// Compares `actual` (live) against `expected` (shadow).
pub fn compare(expected: &DatabaseState, actual: &DatabaseState, ignore: &[String]) -> Comparison {
    let mut out = Comparison {
        compared: 0,
        ignored: 0,
        differences: Vec::new(),
    };
    let names: BTreeSet<&String> = expected.keys().chain(actual.keys()).collect();
    for name in names {
        if ignored(ignore, name, name) {
            out.ignored += 1;
            continue;
        }
        out.compared += 1;
        let (wanted, found) = match (expected.get(name), actual.get(name)) {
            (Some(w), Some(f)) => (w, f),
            (Some(_), None) | (None, Some(_)) => {
                let status = if expected.contains_key(name) {
                    Status::Missing
                } else {
                    Status::Unexpected
                };
                out.differences.push(MongoDifference {
                    kind: "collection",
                    object: name.clone(),
                    status,
                    fields: Vec::new(),
                });
                continue;
            }
            (None, None) => continue,
        };
        let mut collection_fields = Vec::new();
        if wanted.kind != found.kind {
            collection_fields.push(field(
                "type",
                Some(&wanted.kind.as_str().into()),
                Some(&found.kind.as_str().into()),
            ));
        }
        let option_keys: BTreeSet<&String> =
            wanted.options.keys().chain(found.options.keys()).collect();
        for key in option_keys {
            let (w, f) = (wanted.options.get(key), found.options.get(key));
            let equal = match (w, f) {
                (Some(w), Some(f)) => same(w, f),
                _ => false,
            };
            if !equal {
                collection_fields.push(field(key, w, f));
            }
        }
        if !collection_fields.is_empty() {
            out.differences.push(MongoDifference {
                kind: "collection",
                object: name.clone(),
                status: Status::Changed,
                fields: collection_fields,
            });
        }

        let mut validation = Vec::new();
        let (wv, fv) = (
            Bson::Document(wanted.validator.clone()),
            Bson::Document(found.validator.clone()),
        );
        if !same(&wv, &fv) {
            validation.push(field("validator", Some(&wv), Some(&fv)));
        }
        if wanted.validation_level != found.validation_level {
            validation.push(field(
                "validationLevel",
                Some(&wanted.validation_level.as_str().into()),
                Some(&found.validation_level.as_str().into()),
            ));
        }
        if wanted.validation_action != found.validation_action {
            validation.push(field(
                "validationAction",
                Some(&wanted.validation_action.as_str().into()),
                Some(&found.validation_action.as_str().into()),
            ));
        }
        if !wanted.validator.is_empty() || !found.validator.is_empty() {
            out.compared += 1;
        }
        if !validation.is_empty() {
            out.differences.push(MongoDifference {
                kind: "validator",
                object: name.clone(),
                status: Status::Changed,
                fields: validation,
            });
        }

        let index_names: BTreeSet<&String> =
            wanted.indexes.keys().chain(found.indexes.keys()).collect();
        for index in index_names {
            let object = format!("{name}.{index}");
            if ignored(ignore, &object, name) {
                out.ignored += 1;
                continue;
            }
            out.compared += 1;
            match (wanted.indexes.get(index), found.indexes.get(index)) {
                (Some(w), Some(f)) if same_index(w, f) => {}
                (Some(w), Some(f)) => {
                    let keys: BTreeSet<&String> = w.keys().chain(f.keys()).collect();
                    let fields = keys
                        .into_iter()
                        .filter(|k| match (w.get(*k), f.get(*k)) {
                            (Some(a), Some(b)) if *k == "key" => {
                                !same(a, b)
                                    || !same_index(
                                        &doc! {"key": a.clone()},
                                        &doc! {"key": b.clone()},
                                    )
                            }
                            (Some(a), Some(b)) => !same(a, b),
                            _ => true,
                        })
                        .map(|k| field(k, w.get(k), f.get(k)))
                        .collect();
                    out.differences.push(MongoDifference {
                        kind: "index",
                        object,
                        status: Status::Changed,
                        fields,
                    });
                }
                (Some(w), None) => out.differences.push(MongoDifference {
                    kind: "index",
                    object,
                    status: Status::Missing,
                    fields: vec![field("spec", Some(&Bson::Document(w.clone())), None)],
                }),
                (None, Some(f)) => out.differences.push(MongoDifference {
                    kind: "index",
                    object,
                    status: Status::Unexpected,
                    fields: vec![field("spec", None, Some(&Bson::Document(f.clone())))],
                }),
                (None, None) => {}
            }
        }
    }
    out
}

fn field(name: &str, expected: Option<&Bson>, actual: Option<&Bson>) -> MongoField {
    MongoField {
        field: name.to_string(),
        expected: expected.map(show),
        actual: actual.map(show),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(indexes: &[(&str, Document)], options: Document) -> DatabaseState {
        let mut collection = normalize_collection("collection".into(), options);
        for (name, spec) in indexes {
            collection
                .indexes
                .insert(name.to_string(), normalize_index(spec));
        }
        BTreeMap::from([("orders".to_string(), collection)])
    }

    #[test]
    fn defaults_and_bookkeeping_fields_do_not_count() {
        let id = doc! {"v": 2, "key": {"_id": 1}, "name": "_id_"};
        let a = state(
            &[
                ("_id_", id.clone()),
                (
                    "c_1",
                    doc! {"v": 2, "key": {"c": 1}, "name": "c_1", "unique": false, "ns": "x.orders"},
                ),
            ],
            doc! {"validator": {"$jsonSchema": {"required": ["a"]}}},
        );
        let b = state(
            &[
                ("_id_", id),
                (
                    "c_1",
                    doc! {"v": 1, "key": {"c": 1.0}, "name": "c_1", "sparse": false},
                ),
            ],
            doc! {"validator": {"$jsonSchema": {"required": ["a"]}}, "validationLevel": "strict", "validationAction": "error"},
        );
        let comparison = compare(&a, &b, &[]);
        assert!(
            comparison.differences.is_empty(),
            "{:?}",
            comparison.differences
        );
        assert_eq!(comparison.compared, 4);
    }

    #[test]
    fn dropped_index_loosened_validator_and_key_order_are_found() {
        let expected = state(
            &[
                ("c_1", doc! {"key": {"c": 1}, "name": "c_1", "unique": true}),
                ("a_1_b_1", doc! {"key": {"a": 1, "b": 1}, "name": "a_1_b_1"}),
            ],
            doc! {"validator": {"$jsonSchema": {"required": ["a"]}}},
        );
        let actual = state(
            &[("a_1_b_1", doc! {"key": {"b": 1, "a": 1}, "name": "a_1_b_1"})],
            doc! {"validator": {"$jsonSchema": {"required": ["a"]}}, "validationLevel": "off"},
        );
        let comparison = compare(&expected, &actual, &[]);
        let found: Vec<(String, Status)> = comparison
            .differences
            .iter()
            .map(|d| (d.object.clone(), d.status))
            .collect();
        assert_eq!(
            found,
            vec![
                ("orders".to_string(), Status::Changed),
                ("orders.a_1_b_1".to_string(), Status::Changed),
                ("orders.c_1".to_string(), Status::Missing),
            ]
        );
        assert_eq!(comparison.differences[0].fields[0].field, "validationLevel");
        let ignored = compare(&expected, &actual, &["orders.*".to_string()]);
        assert_eq!(ignored.differences.len(), 1);
        assert_eq!(ignored.ignored, 2);
    }
}
