//! MongoDB backups through the driver: each collection's documents streamed to
//! `mongo/<name>.bson` (BSON documents one after the other, as `mongodump` writes them), its
//! options (validator, ...) and index specifications recorded in `mongo/<name>.metadata.json`
//! as canonical Extended JSON. Views are recorded by their definition only.

use std::collections::BTreeMap;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use futures_util::TryStreamExt;
use indicatif::ProgressBar;
use mongodb::bson::{Bson, Document, RawDocumentBuf, doc};
use mongodb::{Client, Database};

use super::manifest::{MongoCollection, MongoPart};
use crate::redact::SecretUrl;

/// Directory of the Mongo files inside a backup.
pub const DIR: &str = "mongo";
/// Documents per `insert_many` on restore (also capped by [`BATCH_BYTES`]).
const BATCH_DOCUMENTS: usize = 1000;
const BATCH_BYTES: usize = 8 << 20;

/// A connected client and one database.
pub struct Connection {
    pub client: Client,
    pub database: Database,
    /// `host:port/db` (never a password).
    pub display: String,
}

/// Connects to `url` and pings; the database is `database`, else the URL's. The connection
/// path (options, timeouts, messages) is the one every command uses (`crate::mongo::connect`).
pub async fn connect(
    url: &SecretUrl,
    database: Option<&str>,
    timeout: Duration,
) -> anyhow::Result<Connection> {
    let settings = crate::config::MongoSettings {
        url: url.clone(),
        database: database.map(str::to_string),
        history_collection: crate::config::DEFAULT_MONGO_HISTORY_COLLECTION.to_string(),
        lock_lease: crate::config::DEFAULT_MONGO_LOCK_LEASE,
        lock_wait: crate::config::DEFAULT_MONGO_LOCK_LEASE,
        connect_timeout: timeout,
    };
    let connection = crate::mongo::connect::connect(&settings).await?;
    Ok(Connection {
        client: connection.client,
        database: connection.database,
        display: connection.display,
    })
}

/// The server's version (`buildInfo`).
pub async fn server_version(connection: &Connection) -> String {
    connection
        .database
        .run_command(doc! {"buildInfo": 1})
        .await
        .ok()
        .and_then(|reply| reply.get_str("version").ok().map(str::to_string))
        .unwrap_or_else(|| "unknown".to_string())
}

/// `listCollections`, without `system.*`, sorted by name.
async fn collections(database: &Database) -> anyhow::Result<Vec<Document>> {
    let mut cursor = database
        .run_cursor_command(doc! {"listCollections": 1})
        .await
        .with_context(|| format!("cannot list the collections of {}", database.name()))?;
    let mut specs = Vec::new();
    while let Some(spec) = cursor.try_next().await? {
        if spec
            .get_str("name")
            .is_ok_and(|name| !name.starts_with("system."))
        {
            specs.push(spec);
        }
    }
    specs.sort_by(|a, b| a.get_str("name").ok().cmp(&b.get_str("name").ok()));
    Ok(specs)
}

/// Index specifications (`listIndexes`), `_id_` included.
async fn indexes(database: &Database, collection: &str) -> anyhow::Result<Vec<Document>> {
    let mut cursor = database
        .run_cursor_command(doc! {"listIndexes": collection})
        .await
        .with_context(|| format!("cannot list the indexes of {collection}"))?;
    let mut specs = Vec::new();
    while let Some(spec) = cursor.try_next().await? {
        specs.push(spec);
    }
    Ok(specs)
}

fn index_names(specs: &[Document]) -> Vec<String> {
    let mut names: Vec<String> = specs
        .iter()
        .filter_map(|s| s.get_str("name").ok().map(str::to_string))
        .collect();
    names.sort();
    names
}

/// A file name for a collection name: letters, digits, `.`, `_` and `-` as they are, the rest
/// percent-encoded.
fn file_stem(collection: &str) -> String {
    let mut stem = String::new();
    for byte in collection.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-') {
            stem.push(byte as char);
        } else {
            stem.push_str(&format!("%{byte:02X}"));
        }
    }
    stem
}

/// Writes every collection of the database under `backup/mongo/`.
pub async fn dump(
    connection: &Connection,
    backup: &Path,
    history_collection: &str,
    bar: &ProgressBar,
) -> anyhow::Result<MongoPart> {
    let database = &connection.database;
    let dir = backup.join(DIR);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let specs = collections(database).await?;
    bar.set_length(specs.len() as u64);
    let mut collections = BTreeMap::new();
    for spec in specs {
        let name = spec.get_str("name").unwrap_or_default().to_string();
        let kind = spec.get_str("type").unwrap_or("collection").to_string();
        bar.set_message(name.clone());
        let options = spec.get_document("options").cloned().unwrap_or_default();
        let stem = file_stem(&name);
        let index_specs = if kind == "view" {
            Vec::new()
        } else {
            indexes(database, &name).await?
        };
        let metadata_path = format!("{DIR}/{stem}.metadata.json");
        let metadata = doc! {
            "name": &name,
            "type": &kind,
            "options": options,
            "indexes": index_specs.iter().cloned().map(Bson::Document).collect::<Vec<_>>(),
        };
        let text =
            serde_json::to_string_pretty(&Bson::Document(metadata).into_canonical_extjson())?;
        std::fs::write(backup.join(&metadata_path), text)
            .with_context(|| format!("cannot write {metadata_path}"))?;
        let (data, documents) = if kind == "view" {
            (None, 0)
        } else {
            let data_path = format!("{DIR}/{stem}.bson");
            let documents = dump_documents(database, &name, &backup.join(&data_path)).await?;
            (Some(data_path), documents)
        };
        collections.insert(
            name,
            MongoCollection {
                kind,
                documents,
                indexes: index_names(&index_specs),
                data,
                metadata: metadata_path,
            },
        );
        bar.inc(1);
    }
    Ok(MongoPart {
        source: connection.display.clone(),
        database: database.name().to_string(),
        server_version: server_version(connection).await,
        collections,
        migrations: applied_migrations(database, history_collection).await,
    })
}

async fn dump_documents(database: &Database, name: &str, path: &Path) -> anyhow::Result<u64> {
    let file =
        std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let collection = database.collection::<RawDocumentBuf>(name);
    let mut cursor = collection
        .find(doc! {})
        .await
        .with_context(|| format!("cannot read collection {name}"))?;
    let mut documents = 0u64;
    while cursor
        .advance()
        .await
        .with_context(|| format!("cannot read collection {name}"))?
    {
        out.write_all(cursor.current().as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?;
        documents += 1;
    }
    out.flush()
        .and_then(|()| out.get_ref().sync_all())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(documents)
}

/// Versions recorded as applied in the history collection (best effort: empty if unreadable).
async fn applied_migrations(database: &Database, history_collection: &str) -> Vec<u64> {
    let Ok(mut cursor) = database
        .collection::<Document>(history_collection)
        .find(doc! {"state": "applied"})
        .await
    else {
        return Vec::new();
    };
    let mut versions = Vec::new();
    while let Ok(Some(record)) = cursor.try_next().await {
        let version = match record.get("version").or_else(|| record.get("_id")) {
            Some(Bson::Int64(v)) => u64::try_from(*v).ok(),
            Some(Bson::Int32(v)) => u64::try_from(*v).ok(),
            _ => None,
        };
        versions.extend(version);
    }
    versions.sort_unstable();
    versions
}

/// Names of the collections in the target database (empty: nothing would be overwritten).
pub async fn existing_collections(connection: &Connection) -> anyhow::Result<Vec<String>> {
    Ok(collections(&connection.database)
        .await?
        .iter()
        .filter_map(|spec| spec.get_str("name").ok().map(str::to_string))
        .collect())
}

/// Restores the backup's collections, documents, indexes and views into `connection`'s
/// database, dropping it first when `clean`.
pub async fn restore(
    connection: &Connection,
    backup: &Path,
    part: &MongoPart,
    clean: bool,
    bar: &ProgressBar,
) -> anyhow::Result<()> {
    let database = &connection.database;
    if clean {
        database
            .drop()
            .await
            .with_context(|| format!("cannot drop {}", connection.display))?;
    }
    bar.set_length(part.collections.len() as u64);
    let mut views = Vec::new();
    for (name, collection) in &part.collections {
        bar.set_message(name.clone());
        let metadata = read_metadata(&backup.join(&collection.metadata))?;
        let options = metadata
            .get_document("options")
            .cloned()
            .unwrap_or_default();
        if collection.kind == "view" {
            views.push((name, options));
            continue;
        }
        let mut create = doc! {"create": name};
        create.extend(options);
        database
            .run_command(create)
            .await
            .with_context(|| format!("cannot create collection {name}"))?;
        if let Some(data) = &collection.data {
            restore_documents(database, name, &backup.join(data)).await?;
        }
        let specs: Vec<Bson> = metadata
            .get_array("indexes")
            .map(|specs| {
                specs
                    .iter()
                    .filter_map(|spec| spec.as_document())
                    .filter(|spec| spec.get_str("name").is_ok_and(|n| n != "_id_"))
                    .map(|spec| {
                        let mut spec = spec.clone();
                        spec.remove("v");
                        spec.remove("ns");
                        Bson::Document(spec)
                    })
                    .collect()
            })
            .unwrap_or_default();
        if !specs.is_empty() {
            database
                .run_command(doc! {"createIndexes": name, "indexes": specs})
                .await
                .with_context(|| format!("cannot create the indexes of {name}"))?;
        }
        bar.inc(1);
    }
    for (name, options) in views {
        let mut create = doc! {"create": name};
        create.extend(options);
        database
            .run_command(create)
            .await
            .with_context(|| format!("cannot create view {name}"))?;
        bar.inc(1);
    }
    Ok(())
}

fn read_metadata(path: &Path) -> anyhow::Result<Document> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let value: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not valid JSON", path.display()))?;
    match Bson::try_from(value) {
        Ok(Bson::Document(document)) => Ok(document),
        _ => anyhow::bail!("{} is not an Extended JSON document", path.display()),
    }
}

async fn restore_documents(database: &Database, name: &str, path: &Path) -> anyhow::Result<()> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut input = BufReader::with_capacity(1 << 20, file);
    let collection = database.collection::<RawDocumentBuf>(name);
    let mut batch: Vec<RawDocumentBuf> = Vec::with_capacity(BATCH_DOCUMENTS);
    let mut batch_bytes = 0usize;
    while let Some(document) = read_document(&mut input, path)? {
        batch_bytes += document.as_bytes().len();
        batch.push(document);
        if batch.len() >= BATCH_DOCUMENTS || batch_bytes >= BATCH_BYTES {
            insert(&collection, &mut batch, name).await?;
            batch_bytes = 0;
        }
    }
    if !batch.is_empty() {
        insert(&collection, &mut batch, name).await?;
    }
    Ok(())
}

async fn insert(
    collection: &mongodb::Collection<RawDocumentBuf>,
    batch: &mut Vec<RawDocumentBuf>,
    name: &str,
) -> anyhow::Result<()> {
    collection
        .insert_many(batch.iter())
        .bypass_document_validation(true)
        .await
        .with_context(|| format!("cannot insert documents into {name}"))?;
    batch.clear();
    Ok(())
}

/// The next BSON document of a dump file, `None` at its end.
fn read_document(input: &mut impl Read, path: &Path) -> anyhow::Result<Option<RawDocumentBuf>> {
    let mut length = [0u8; 4];
    match input.read_exact(&mut length) {
        Ok(()) => {}
        Err(err) if err.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(err) => return Err(err).with_context(|| format!("cannot read {}", path.display())),
    }
    let size = u32::from_le_bytes(length) as usize;
    if !(5..=48 << 20).contains(&size) {
        anyhow::bail!(
            "{} is corrupt: a document claims {}",
            path.display(),
            crate::output::count(size, "byte")
        );
    }
    let mut bytes = vec![0u8; size];
    bytes[..4].copy_from_slice(&length);
    input
        .read_exact(&mut bytes[4..])
        .with_context(|| format!("{} ends in the middle of a document", path.display()))?;
    RawDocumentBuf::from_bytes(bytes)
        .map(Some)
        .with_context(|| format!("{} holds an invalid document", path.display()))
}

/// Documents and index names per collection of the database, to compare with a manifest.
pub async fn describe(
    connection: &Connection,
) -> anyhow::Result<BTreeMap<String, (u64, Vec<String>)>> {
    let database = &connection.database;
    let mut found = BTreeMap::new();
    for spec in collections(database).await? {
        let name = spec.get_str("name").unwrap_or_default().to_string();
        if spec.get_str("type").unwrap_or("collection") == "view" {
            found.insert(name, (0, Vec::new()));
            continue;
        }
        let documents = database
            .collection::<Document>(&name)
            .count_documents(doc! {})
            .await
            .with_context(|| format!("cannot count the documents of {name}"))?;
        let names = index_names(&indexes(database, &name).await?);
        found.insert(name, (documents, names));
    }
    Ok(found)
}

/// Differences between the manifest and a restored database, one line each.
pub fn compare(part: &MongoPart, found: &BTreeMap<String, (u64, Vec<String>)>) -> Vec<String> {
    let mut problems = Vec::new();
    for (name, expected) in &part.collections {
        match found.get(name) {
            None => problems.push(format!(
                "mongo: collection {name} is missing after the restore"
            )),
            Some((documents, indexes)) => {
                if expected.kind != "view" && *documents != expected.documents {
                    problems.push(format!(
                        "mongo: {name} has {} after the restore, the backup recorded {}",
                        crate::output::count(*documents, "document"),
                        expected.documents
                    ));
                }
                if expected.kind != "view" && *indexes != expected.indexes {
                    problems.push(format!(
                        "mongo: {name} has indexes [{}] after the restore, the backup recorded [{}]",
                        indexes.join(", "),
                        expected.indexes.join(", ")
                    ));
                }
            }
        }
    }
    for name in found.keys().filter(|n| !part.collections.contains_key(*n)) {
        problems.push(format!(
            "mongo: collection {name} is not in the backup's manifest"
        ));
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_stems_are_safe() {
        assert_eq!(file_stem("users"), "users");
        assert_eq!(file_stem("audit.events-2026"), "audit.events-2026");
        assert_eq!(file_stem("a/b c"), "a%2Fb%20c");
    }

    #[test]
    fn reads_concatenated_documents() {
        let mut bytes = Vec::new();
        for n in 0..3 {
            let document = RawDocumentBuf::from_document(&doc! {"n": n}).unwrap();
            bytes.extend_from_slice(document.as_bytes());
        }
        let path = Path::new("t.bson");
        let mut input = &bytes[..];
        let mut seen = Vec::new();
        while let Some(document) = read_document(&mut input, path).unwrap() {
            seen.push(document.get_i32("n").unwrap());
        }
        assert_eq!(seen, vec![0, 1, 2]);
        let mut truncated = &bytes[..bytes.len() - 2];
        let mut error = None;
        for _ in 0..3 {
            match read_document(&mut truncated, path) {
                Err(err) => {
                    error = Some(err);
                    break;
                }
                Ok(_) => continue,
            }
        }
        assert!(error.unwrap().to_string().contains("ends in the middle"));
    }
}
