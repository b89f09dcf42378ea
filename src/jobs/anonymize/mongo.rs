//! MongoDB side of anonymization: the subjects' documents counted, their identifying values
//! captured, their fields transformed (or the documents deleted), and the configured collections
//! searched during verification.

use std::collections::BTreeMap;

use futures_util::TryStreamExt;
use mongodb::Database;
use mongodb::bson::{Bson, Document, doc};

use super::hmac::Key;
use super::rules::{CollectionRule, FieldRule, Output, RowAction, Strategy, Target, ValueKind};
use super::verify::{Findings, Needles};
use crate::errors::Detailed;
use crate::mongo::connect::short_cause;

fn mongo_error(context: &str, err: &mongodb::error::Error) -> Detailed {
    Detailed::new(format!("{context}: {}", short_cause(err)))
}

fn field_kind(field: &FieldRule) -> ValueKind {
    match field.strategy {
        Strategy::Hash(Some(kind)) | Strategy::Fake(Some(kind)) => kind,
        _ => ValueKind::infer(&field.path, None),
    }
}

fn subject_filter(rule: &CollectionRule, subjects: &[String]) -> Document {
    doc! { rule.subject.as_str(): { "$in": subjects.to_vec() } }
}

/// Documents of each rule collection that belong to the subjects.
pub async fn count(
    database: &Database,
    rules: &[CollectionRule],
    subjects: &[String],
) -> Result<Vec<(String, u64)>, Detailed> {
    let mut counts = Vec::new();
    for rule in rules {
        let n = database
            .collection::<Document>(&rule.collection)
            .count_documents(subject_filter(rule, subjects))
            .await
            .map_err(|e| mongo_error(&format!("cannot count {}", rule.collection), &e))?;
        counts.push((rule.collection.clone(), n));
    }
    Ok(counts)
}

/// The values at a dotted path (every element when the path crosses an array).
fn values_at<'a>(node: &'a Bson, path: &[&str], out: &mut Vec<&'a Bson>) {
    let Some((first, rest)) = path.split_first() else {
        out.push(node);
        return;
    };
    match node {
        Bson::Document(document) => {
            if let Some(child) = document.get(*first) {
                values_at(child, rest, out);
            }
        }
        Bson::Array(items) => items.iter().for_each(|item| values_at(item, path, out)),
        _ => {}
    }
}

fn bson_text(value: &Bson) -> Option<String> {
    match value {
        Bson::Null | Bson::Undefined => None,
        Bson::String(s) => Some(s.clone()),
        Bson::ObjectId(id) => Some(id.to_hex()),
        Bson::Int32(n) => Some(n.to_string()),
        Bson::Int64(n) => Some(n.to_string()),
        Bson::Double(n) => Some(n.to_string()),
        Bson::Boolean(b) => Some(b.to_string()),
        other => Some(other.clone().into_relaxed_extjson().to_string()),
    }
}

/// Adds the subject's identifying field values to `needles`.
pub async fn capture(
    database: &Database,
    rules: &[CollectionRule],
    subject: &str,
    needles: &mut Needles,
) -> Result<(), Detailed> {
    let subjects = vec![subject.to_string()];
    for rule in rules {
        let fields: Vec<(&FieldRule, ValueKind)> = rule
            .fields
            .iter()
            .map(|f| (f, field_kind(f)))
            .filter(|(_, kind)| kind.is_identifying())
            .collect();
        let mut cursor = database
            .collection::<Document>(&rule.collection)
            .find(subject_filter(rule, &subjects))
            .await
            .map_err(|e| mongo_error(&format!("cannot read {}", rule.collection), &e))?;
        while let Some(document) = cursor
            .try_next()
            .await
            .map_err(|e| mongo_error(&format!("cannot read {}", rule.collection), &e))?
        {
            let root = Bson::Document(document);
            let mut add_all = |kind: ValueKind, path: &str| {
                let parts: Vec<&str> = path.split('.').collect();
                let mut found = Vec::new();
                values_at(&root, &parts, &mut found);
                for value in found {
                    if let Some(text) = bson_text(value) {
                        needles.add(kind, &text);
                    }
                }
            };
            if rule.action == RowAction::Delete {
                // Whole documents go: capture every field whose name says it identifies.
                if let Bson::Document(document) = &root {
                    for name in document.keys() {
                        let kind = ValueKind::infer(name, None);
                        if kind.is_identifying() {
                            add_all(kind, name);
                        }
                    }
                }
            }
            for (field, kind) in &fields {
                add_all(*kind, &field.path);
            }
        }
    }
    Ok(())
}

/// Transforms (or deletes) the subjects' documents; returns documents changed per collection.
pub async fn apply(
    database: &Database,
    key: &Key,
    rules: &[CollectionRule],
    subjects: &[String],
) -> Result<BTreeMap<String, u64>, Detailed> {
    let mut counts = BTreeMap::new();
    if subjects.is_empty() {
        return Ok(counts);
    }
    for rule in rules {
        let collection = database.collection::<Document>(&rule.collection);
        let context = format!("cannot anonymize {}", rule.collection);
        if rule.action == RowAction::Delete {
            let deleted = collection
                .delete_many(subject_filter(rule, subjects))
                .await
                .map_err(|e| mongo_error(&context, &e))?
                .deleted_count;
            counts.insert(rule.collection.clone(), deleted);
            continue;
        }
        let mut projection = doc! {"_id": 1};
        for field in &rule.fields {
            projection.insert(field.path.clone(), 1);
        }
        let mut cursor = collection
            .find(subject_filter(rule, subjects))
            .projection(projection)
            .await
            .map_err(|e| mongo_error(&context, &e))?;
        let mut changed = 0u64;
        let mut updates: Vec<Document> = Vec::new();
        while let Some(document) = cursor
            .try_next()
            .await
            .map_err(|e| mongo_error(&context, &e))?
        {
            let Some(id) = document.get("_id").cloned() else {
                continue;
            };
            let id_text = bson_text(&id).unwrap_or_default();
            let update = document_update(key, rule, &document, &id_text);
            if update.is_empty() {
                continue;
            }
            updates.push(doc! {"q": {"_id": id}, "u": update});
            if updates.len() >= UPDATES_PER_COMMAND {
                changed += write_updates(database, &rule.collection, &mut updates).await?;
            }
        }
        changed += write_updates(database, &rule.collection, &mut updates).await?;
        counts.insert(rule.collection.clone(), changed);
    }
    counts.retain(|_, n| *n > 0);
    Ok(counts)
}

/// Update statements sent in one `update` command.
const UPDATES_PER_COMMAND: usize = 500;

/// Sends the pending per-document updates as one `update` command (a bulk write every server
/// of the wire protocol understands, unlike the newer `bulkWrite`); returns documents modified.
async fn write_updates(
    database: &Database,
    collection: &str,
    updates: &mut Vec<Document>,
) -> Result<u64, Detailed> {
    if updates.is_empty() {
        return Ok(0);
    }
    let context = format!("cannot anonymize {collection}");
    let statements: Vec<Bson> = updates.drain(..).map(Bson::Document).collect();
    let reply = database
        .run_command(doc! {"update": collection, "updates": statements, "ordered": true})
        .await
        .map_err(|e| mongo_error(&context, &e))?;
    if let Ok(errors) = reply.get_array("writeErrors")
        && let Some(Bson::Document(first)) = errors.first()
    {
        return Err(Detailed::new(format!(
            "{context}: {}",
            first.get_str("errmsg").unwrap_or("a write error")
        )));
    }
    let modified = match reply.get("nModified") {
        Some(Bson::Int32(n)) => *n as u64,
        Some(Bson::Int64(n)) => *n as u64,
        Some(Bson::Double(n)) => *n as u64,
        _ => 0,
    };
    Ok(modified)
}

/// `{$set: ..., $unset: ...}` for one document (empty when nothing changes).
fn document_update(key: &Key, rule: &CollectionRule, document: &Document, id: &str) -> Document {
    let mut set = Document::new();
    let mut unset = Document::new();
    let root = Bson::Document(document.clone());
    for field in &rule.fields {
        let parts: Vec<&str> = field.path.split('.').collect();
        let mut found = Vec::new();
        values_at(&root, &parts, &mut found);
        // A path through an array is rewritten as a whole array by `$set` of the first element
        // value only when it is a plain path; arrays are rare in these collections, so the
        // strategy applies to the first value found.
        let Some(current) = found.first() else {
            continue;
        };
        let text = bson_text(current);
        let row_key = format!("{}.{}:{id}", rule.collection, field.path);
        let target = Target {
            kind: field_kind(field),
            unique: false,
            row_key: &row_key,
        };
        match super::rules::transform(key, field.strategy, target, text.as_deref()) {
            Output::Unchanged => {}
            Output::Set(value) => {
                set.insert(field.path.clone(), value);
            }
            Output::Null => {
                set.insert(field.path.clone(), Bson::Null);
            }
            Output::Remove => {
                unset.insert(field.path.clone(), "");
            }
        }
    }
    let mut update = Document::new();
    if !set.is_empty() {
        update.insert("$set", set);
    }
    if !unset.is_empty() {
        update.insert("$unset", unset);
    }
    update
}

/// Searches every document of every rule collection for the needles; documents of other
/// subjects than `subjects` mark a value as shared.
pub async fn search(
    database: &Database,
    rules: &[CollectionRule],
    subjects: &[String],
    needles: &Needles,
    findings: &mut Findings,
) -> Result<(), Detailed> {
    for rule in rules {
        let context = format!("cannot search {}", rule.collection);
        let mut cursor = database
            .collection::<Document>(&rule.collection)
            .find(doc! {})
            .await
            .map_err(|e| mongo_error(&context, &e))?;
        findings.searched.collections += 1;
        while let Some(document) = cursor
            .try_next()
            .await
            .map_err(|e| mongo_error(&context, &e))?
        {
            findings.searched.documents += 1;
            let owner = document.get(&rule.subject).and_then(bson_text);
            let other = owner.is_some_and(|o| !subjects.iter().any(|s| o.eq_ignore_ascii_case(s)));
            let text = Bson::Document(document).into_relaxed_extjson().to_string();
            let found = needles.find(&text);
            if !found.is_empty() {
                findings.record("mongo", &rule.collection, &found, other);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn updates_set_unset_and_leave_absent_fields_alone() {
        let key = Key::new(b"a key for the mongo tests!".to_vec()).unwrap();
        let rule = CollectionRule {
            collection: "activityLogs".into(),
            subject: "userId".into(),
            action: RowAction::Update,
            fields: vec![
                FieldRule {
                    path: "userId".into(),
                    column: "userId".into(),
                    json_path: vec![],
                    strategy: Strategy::Hash(None),
                },
                FieldRule {
                    path: "metadata.ip".into(),
                    column: "metadata".into(),
                    json_path: vec![],
                    strategy: Strategy::Delete,
                },
                FieldRule {
                    path: "metadata.userAgent".into(),
                    column: "metadata".into(),
                    json_path: vec![],
                    strategy: Strategy::Redact,
                },
            ],
        };
        let document = doc! {
            "_id": 1,
            "userId": "a1000000-0000-4000-8000-000000000001",
            "metadata": {"ip": "10.0.0.1"},
        };
        let update = document_update(&key, &rule, &document, "1");
        let set = update.get_document("$set").unwrap();
        let user = set.get_str("userId").unwrap();
        assert_eq!(user.len(), 36);
        assert_ne!(user, "a1000000-0000-4000-8000-000000000001");
        assert!(
            update
                .get_document("$unset")
                .unwrap()
                .contains_key("metadata.ip")
        );
        assert!(
            !set.contains_key("metadata.userAgent"),
            "absent fields stay absent"
        );
    }
}
