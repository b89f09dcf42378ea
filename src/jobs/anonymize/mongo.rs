//! MongoDB side of anonymization: the subjects' documents counted, their identifying values
//! captured, their fields transformed (or the documents deleted), and every collection of the
//! database searched during verification, string by string, with the subjects' values replaced
//! in the `replace` fields of the rules.

use std::collections::BTreeMap;

use futures_util::TryStreamExt;
use mongodb::Database;
use mongodb::bson::{Bson, Document, doc};

use super::hmac::Key;
use super::needles::Needles;
use super::redis::uuids_in;
use super::rules::{CollectionRule, FieldRule, Output, RowAction, Strategy, Target, ValueKind};
use super::verify::{At, Column, Findings, Found, Scanner};
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
    doc! { rule.subject.as_deref().unwrap_or_default(): { "$in": subjects.to_vec() } }
}

/// The rules that name a subject field (the others only replace values).
fn with_subject(rules: &[CollectionRule]) -> impl Iterator<Item = &CollectionRule> {
    rules.iter().filter(|r| r.subject.is_some())
}

/// Documents of each rule collection that belong to the subjects.
pub async fn count(
    database: &Database,
    rules: &[CollectionRule],
    subjects: &[String],
) -> Result<Vec<(String, u64)>, Detailed> {
    let mut counts = Vec::new();
    for rule in with_subject(rules) {
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

/// Adds the subjects' identifying field values to `needles`, each under its subject.
pub async fn capture(
    database: &Database,
    rules: &[CollectionRule],
    subjects: &[String],
    needles: &mut Needles,
) -> Result<(), Detailed> {
    for rule in with_subject(rules) {
        let fields: Vec<(&FieldRule, ValueKind)> = rule
            .fields
            .iter()
            .map(|f| (f, field_kind(f)))
            .filter(|(_, kind)| kind.is_identifying())
            .collect();
        let mut cursor = database
            .collection::<Document>(&rule.collection)
            .find(subject_filter(rule, subjects))
            .await
            .map_err(|e| mongo_error(&format!("cannot read {}", rule.collection), &e))?;
        while let Some(document) = cursor
            .try_next()
            .await
            .map_err(|e| mongo_error(&format!("cannot read {}", rule.collection), &e))?
        {
            let Some(owner) = rule
                .subject
                .as_deref()
                .and_then(|f| document.get(f))
                .and_then(bson_text)
            else {
                continue;
            };
            let subject = needles.subject(&owner);
            let root = Bson::Document(document);
            let mut add_all = |kind: ValueKind, path: &str| {
                let parts: Vec<&str> = path.split('.').collect();
                let mut found = Vec::new();
                values_at(&root, &parts, &mut found);
                for value in found {
                    if let Some(text) = bson_text(value) {
                        needles.add_value(subject, kind, &text);
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
    for rule in with_subject(rules) {
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

/// Searches every document of every collection for the needles, string by string; with
/// `replace`, the subjects' values under the rules' `replace` paths are replaced (a
/// compare-and-set update of the top-level field).
pub async fn sweep(
    database: &Database,
    rules: &[CollectionRule],
    needles: &Needles,
    replace: bool,
    findings: &mut Findings,
) -> Result<(), Detailed> {
    let mut names = database
        .list_collection_names()
        .await
        .map_err(|e| mongo_error("cannot list the collections", &e))?;
    names.sort();
    let mut scanner = Scanner::new(needles);
    for name in names.iter().filter(|n| !n.starts_with("system.")) {
        let rule = rules.iter().find(|r| &r.collection == name);
        let context = format!("cannot search {name}");
        let collection = database.collection::<Document>(name);
        let mut cursor = collection
            .find(doc! {})
            .await
            .map_err(|e| mongo_error(&context, &e))?;
        findings.searched.collections += 1;
        let mut updates: Vec<Document> = Vec::new();
        let mut about: Vec<u32> = Vec::new();
        while let Some(document) = cursor
            .try_next()
            .await
            .map_err(|e| mongo_error(&context, &e))?
        {
            findings.searched.documents += 1;
            let id_text = document.get("_id").and_then(bson_text).unwrap_or_default();
            about.clear();
            let owner = rule
                .and_then(|r| r.subject.as_deref())
                .and_then(|f| document.get(f))
                .and_then(bson_text);
            let owner_index = owner.as_deref().map(|o| needles.subject_index(o));
            if let Some(Some(i)) = owner_index {
                about.push(i);
            }
            for field in rule.map(|r| r.refs.as_slice()).unwrap_or_default() {
                let mut values = Vec::new();
                let root = Bson::Document(document.clone());
                let parts: Vec<&str> = field.split('.').collect();
                values_at(&root, &parts, &mut values);
                for value in values {
                    for id in uuids_in(&bson_text(value).unwrap_or_default()) {
                        if let Some(i) = needles.subject_index(&id) {
                            about.push(i);
                        }
                    }
                }
            }
            let doc_context = DocContext {
                collection: name,
                rule,
                about: &about,
                owner: owner_index,
                id: &id_text,
                replace,
            };
            let mut set = Document::new();
            let mut filter = doc! {};
            for (field, value) in document.iter() {
                if field == "_id" {
                    continue;
                }
                let mut value = value.clone();
                let mut found = Vec::new();
                walk(
                    &mut scanner,
                    &doc_context,
                    field,
                    &mut value,
                    findings,
                    &mut found,
                );
                if !found.is_empty() {
                    findings.replaced(&found, "mongo", name);
                    set.insert(field, value);
                    if let Some(old) = document.get(field) {
                        filter.insert(field, old.clone());
                    }
                }
            }
            if !set.is_empty() {
                if let Some(id) = document.get("_id") {
                    filter.insert("_id", id.clone());
                }
                updates.push(doc! {"q": filter, "u": {"$set": set}});
                if updates.len() >= UPDATES_PER_COMMAND {
                    write_updates(database, name, &mut updates).await?;
                }
            }
        }
        write_updates(database, name, &mut updates).await?;
    }
    Ok(())
}

/// The document a value belongs to.
struct DocContext<'a> {
    collection: &'a str,
    rule: Option<&'a CollectionRule>,
    about: &'a [u32],
    owner: Option<Option<u32>>,
    id: &'a str,
    replace: bool,
}

/// Searches the strings under `path`; replaces what counts under a replace path (collected in
/// `found`), records the rest as hits.
fn walk(
    scanner: &mut Scanner<'_>,
    context: &DocContext<'_>,
    path: &str,
    value: &mut Bson,
    findings: &mut Findings,
    found: &mut Vec<Found>,
) {
    match value {
        Bson::Document(inner) => {
            for (key, item) in inner.iter_mut() {
                walk(
                    scanner,
                    context,
                    &format!("{path}.{key}"),
                    item,
                    findings,
                    found,
                );
            }
        }
        Bson::Array(items) => {
            for item in items.iter_mut() {
                walk(scanner, context, path, item, findings, found);
            }
        }
        Bson::String(text) => {
            if !scanner.any(text) {
                return;
            }
            let owned = context.rule.is_some_and(|r| {
                r.fields
                    .iter()
                    .any(|f| f.path == path && field_kind(f).is_identifying())
            });
            let location = format!("{}.{path}", context.collection);
            let at = At {
                store: "mongo",
                location: &location,
                about: context.about,
                column: match (owned, context.owner) {
                    (true, Some(owner)) => Column::OwnedBy(owner),
                    _ => Column::Free,
                },
            };
            let replaced = context.replace
                && context.rule.is_some_and(|r| {
                    r.replace
                        .iter()
                        .any(|p| path == p || path.starts_with(&format!("{p}.")))
                });
            if replaced {
                if let Some((new, mut more)) = scanner.redact_text(text, at, findings) {
                    *text = new;
                    found.append(&mut more);
                }
                return;
            }
            let hits = scanner.scan(text, at, findings).to_vec();
            let mut seen: Vec<(u32, ValueKind)> = Vec::new();
            for hit in &hits {
                if !seen.contains(&(hit.subject, hit.kind)) {
                    seen.push((hit.subject, hit.kind));
                    findings.hit(scanner.needles, hit, "mongo", &location, context.id);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn updates_set_unset_and_leave_absent_fields_alone() {
        let key = Key::new(b"a key for the mongo tests!".to_vec()).unwrap();
        let rule = CollectionRule {
            collection: "activityLogs".into(),
            subject: Some("userId".into()),
            replace: vec![],
            refs: vec![],
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
