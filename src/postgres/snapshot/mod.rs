//! Normalized, deterministic catalog snapshots: what a database's schema is, as data that can be
//! saved (`schema.snapshot.json`), loaded and compared (see `super::diff`).
//!
//! A snapshot is taken in one `REPEATABLE READ READ ONLY` transaction with pinned session
//! settings, one set-based query per object kind (`catalog`). Objects are keyed by stable
//! names (`table public.tasks`, `function public.f(integer, text)`), never by OIDs, and carry
//! no statistics or other values that change without DDL.

mod catalog;
mod extra;

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use tokio_postgres::Client;

use super::connect::PgTarget;
use super::history::HistoryTable;
use crate::errors::{DbError, Detailed};

/// Version of the snapshot file format. Bump it when keys or fields change meaning.
pub const FORMAT_VERSION: u32 = 3;

/// The conventional file name of a committed snapshot.
pub const DEFAULT_FILE: &str = "schema.snapshot.json";

/// Tables that belong to migration tools, not to the schema, besides the configured one.
const OTHER_HISTORY_TABLES: &[&str] = &["\"public\".\"refinery_schema_history\""];

/// How often a snapshot is retried when a concurrent DDL made a `pg_get_*def` call fail.
const ATTEMPTS: usize = 4;

/// A database schema as data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub format_version: u32,
    /// Major version of the server the snapshot was taken on: catalog output (deparsed
    /// definitions) is only comparable within one major version.
    pub server_major: u32,
    /// Every object, keyed by `"{kind} {name}"`.
    pub objects: BTreeMap<String, Object>,
}

/// One schema object: its kind, its stable name and its normalized properties.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Object {
    pub kind: ObjectKind,
    pub name: String,
    /// Key of the object this one belongs to (a column's table, a grant's object): when the
    /// parent is missing, its children are not reported separately.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    pub fields: BTreeMap<String, Value>,
}

/// The kinds of objects a snapshot covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectKind {
    Schema,
    Extension,
    Enum,
    Domain,
    Type,
    Range,
    Table,
    Column,
    Constraint,
    Index,
    Trigger,
    Function,
    Policy,
    View,
    MaterializedView,
    Sequence,
    Grant,
    DefaultPrivileges,
    Owner,
    OwnerPrivileges,
    Rule,
    Statistics,
    Publication,
    Operator,
    TextSearchConfig,
    TextSearchDictionary,
    Collation,
    Cast,
    ForeignServer,
    EventTrigger,
}

impl ObjectKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::Schema => "schema",
            ObjectKind::Extension => "extension",
            ObjectKind::Enum => "enum",
            ObjectKind::Domain => "domain",
            ObjectKind::Type => "type",
            ObjectKind::Range => "range",
            ObjectKind::Table => "table",
            ObjectKind::Column => "column",
            ObjectKind::Constraint => "constraint",
            ObjectKind::Index => "index",
            ObjectKind::Trigger => "trigger",
            ObjectKind::Function => "function",
            ObjectKind::Policy => "policy",
            ObjectKind::View => "view",
            ObjectKind::MaterializedView => "materialized_view",
            ObjectKind::Sequence => "sequence",
            ObjectKind::Grant => "grant",
            ObjectKind::DefaultPrivileges => "default_privileges",
            ObjectKind::Owner => "owner",
            ObjectKind::OwnerPrivileges => "owner_privileges",
            ObjectKind::Rule => "rule",
            ObjectKind::Statistics => "statistics",
            ObjectKind::Publication => "publication",
            ObjectKind::Operator => "operator",
            ObjectKind::TextSearchConfig => "text_search_config",
            ObjectKind::TextSearchDictionary => "text_search_dictionary",
            ObjectKind::Collation => "collation",
            ObjectKind::Cast => "cast",
            ObjectKind::ForeignServer => "foreign_server",
            ObjectKind::EventTrigger => "event_trigger",
        }
    }
}

impl fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A property value. Absent properties (NULL in the catalog) are left out of `fields`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    Bool(bool),
    Int(i64),
    Text(String),
    List(Vec<String>),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(n) => write!(f, "{n}"),
            Value::Text(text) => f.write_str(text),
            Value::List(items) if items.is_empty() => f.write_str("(none)"),
            Value::List(items) => f.write_str(&items.join(", ")),
        }
    }
}

/// Properties recorded for information but not compared: columns are matched by name, so
/// their order is kept only to make the snapshot readable.
pub const UNCOMPARED_FIELDS: &[&str] = &["position"];

impl Snapshot {
    fn new(server_major: u32) -> Snapshot {
        Snapshot {
            format_version: FORMAT_VERSION,
            server_major,
            objects: BTreeMap::new(),
        }
    }

    /// The objects of one kind with their keys, in key order. Keys are `"{kind} {name}"`, so
    /// they are one range of the map: no scan of the other kinds.
    pub fn of_kind(&self, kind: ObjectKind) -> impl Iterator<Item = (&String, &Object)> {
        let prefix = format!("{kind} ");
        self.objects
            .range::<str, _>((
                std::ops::Bound::Included(prefix.as_str()),
                std::ops::Bound::Unbounded,
            ))
            .take_while(move |(k, _)| k.starts_with(&prefix))
            .filter(move |(_, o)| o.kind == kind)
    }

    /// Adds an object. Names are unique per kind in PostgreSQL except in corner cases (the
    /// catalog allows, say, two triggers of one name on different tables of one key); a
    /// colliding key gets a deterministic suffix instead of silently replacing the first.
    fn insert(&mut self, object: Object) {
        let base = format!("{} {}", object.kind, object.name);
        let object = match self.objects.entry(base) {
            std::collections::btree_map::Entry::Vacant(entry) => {
                entry.insert(object);
                return;
            }
            std::collections::btree_map::Entry::Occupied(_) => object,
        };
        let base = format!("{} {}", object.kind, object.name);
        let mut n = 2;
        let mut key = format!("{base} #{n}");
        while self.objects.contains_key(&key) {
            n += 1;
            key = format!("{base} #{n}");
        }
        self.objects.insert(key, object);
    }

    /// The snapshot as pretty JSON with a trailing newline (maps are sorted, so the text is
    /// deterministic).
    pub fn to_json(&self) -> String {
        // Serializing plain maps, strings and numbers cannot fail.
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }

    /// Reads a snapshot file written by `schema dump`.
    pub fn load(path: &Path) -> anyhow::Result<Snapshot> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read snapshot file {}", path.display()))?;
        let probe: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("snapshot file {} is not JSON", path.display()))?;
        let version = probe.get("format_version").and_then(|v| v.as_u64());
        if version != Some(u64::from(FORMAT_VERSION)) {
            return Err(Detailed::new(format!(
                "snapshot file {} has format_version {}, this migrate reads version {FORMAT_VERSION}",
                path.display(),
                version.map_or_else(|| "(none)".to_string(), |v| v.to_string())
            ))
            .hint("regenerate it with `migrate schema dump -o FILE`")
            .into());
        }
        serde_json::from_value(probe)
            .with_context(|| format!("snapshot file {} is not a valid snapshot", path.display()))
    }
}

/// What to leave out of a snapshot besides system and extension objects.
#[derive(Debug, Clone)]
pub struct SnapshotOptions {
    /// Qualified, quoted names of tables to exclude with everything that depends on them.
    pub excluded_tables: Vec<String>,
}

impl SnapshotOptions {
    /// Excludes the configured history table, the seed history beside it, and other migration
    /// tools' history tables.
    pub fn for_history_table(history_table: &str) -> SnapshotOptions {
        let history = HistoryTable::new(history_table);
        let mut excluded_tables = vec![history.qualified(), history.seeds().qualified()];
        excluded_tables.extend(OTHER_HISTORY_TABLES.iter().map(|s| s.to_string()));
        SnapshotOptions { excluded_tables }
    }
}

/// The session settings every snapshot transaction pins: the deparsing functions
/// (pg_get_*def, format_type) print names relative to search_path and values in the session's
/// date and float formats.
const PINNED_SETTINGS: &str = "SET LOCAL search_path = pg_catalog;
     SET LOCAL TimeZone = 'UTC';
     SET LOCAL DateStyle = 'ISO, MDY';
     SET LOCAL IntervalStyle = 'postgres';
     SET LOCAL extra_float_digits = 3;
     SET LOCAL statement_timeout = 0;";

/// Connects to `target` and snapshots its schema, on one connection with the catalog queries
/// pipelined.
///
/// One connection is fastest: most of a catalog query's cost is the server's deparsing
/// functions (pg_get_indexdef, pg_get_constraintdef, pg_get_expr…) filling the backend's
/// catalog caches, and every extra backend fills its own again. On a 2,000-table schema a
/// whole `drift --shadow-url` (both sides at once) took 0.86 s with one connection per side,
/// 1.04 s with two, 1.45 s with four (medians of 3 on 2 cores, benches/drift.sh).
pub async fn take_database(
    target: &PgTarget,
    options: &SnapshotOptions,
) -> anyhow::Result<Snapshot> {
    let application_name = format!("migrate {} snapshot", crate::TOOL_VERSION);
    let client = target.connect(&application_name).await?;
    take_with(&[&client], options)
        .await
        .with_context(|| format!("cannot snapshot the schema of {target}"))
}

/// The server's major version (15 for 15.4).
pub async fn server_major(client: &Client) -> anyhow::Result<u32> {
    let row = client
        .query_one(
            "SELECT current_setting('server_version_num')::int / 10000",
            &[],
        )
        .await
        .map_err(|err| DbError::new("cannot read the server version", err))?;
    Ok(row.get::<_, i32>(0).max(0) as u32)
}

/// Snapshots the schema through an open connection (which must not be inside a transaction).
pub async fn take(client: &Client, options: &SnapshotOptions) -> anyhow::Result<Snapshot> {
    take_with(&[client], options).await
}

/// A concurrent DDL can make the catalog functions fail with "cache lookup failed": the whole
/// snapshot is then retried a few times.
async fn take_with(clients: &[&Client], options: &SnapshotOptions) -> anyhow::Result<Snapshot> {
    let mut attempt = 1;
    loop {
        match take_once(clients, options).await {
            Ok(snapshot) => return Ok(snapshot),
            Err(err) => {
                for client in clients {
                    let _ = client.batch_execute("ROLLBACK").await;
                }
                let cache_lookup = err
                    .as_db_error()
                    .is_some_and(|db| db.message().contains("cache lookup failed"));
                if attempt < ATTEMPTS && cache_lookup {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(100 * attempt as u64)).await;
                    continue;
                }
                return Err(DbError::new("catalog query failed", err).into());
            }
        }
    }
}

async fn take_once(
    clients: &[&Client],
    options: &SnapshotOptions,
) -> Result<Snapshot, tokio_postgres::Error> {
    let main = clients[0];
    main.batch_execute(&format!(
        "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; {PINNED_SETTINGS}"
    ))
    .await?;
    if clients.len() > 1 {
        let exported: String = main
            .query_one("SELECT pg_export_snapshot()", &[])
            .await?
            .get(0);
        for helper in &clients[1..] {
            // The id is a server-generated token of hex digits and dashes.
            helper
                .batch_execute(&format!(
                    "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;
                     SET TRANSACTION SNAPSHOT '{exported}'; {PINNED_SETTINGS}"
                ))
                .await?;
        }
    }
    let server_major: i32 = main
        .query_one(
            "SELECT current_setting('server_version_num')::int / 10000",
            &[],
        )
        .await?
        .get(0);
    let excluded = catalog::excluded_relations(main, &options.excluded_tables).await?;
    // The role that ran the migrations: the owner of the history table, or the role taking
    // the snapshot when there is none (a shadow built from SQL files).
    let migrator: u32 = main
        .query_one(
            "SELECT coalesce((SELECT c.relowner FROM pg_class c
                              WHERE c.oid = to_regclass($1::text)),
                             (SELECT r.oid FROM pg_roles r WHERE r.rolname = current_user))",
            &[&options.excluded_tables.first().cloned().unwrap_or_default()],
        )
        .await?
        .get(0);

    // The queries are dealt out to the connections and pipelined on each: the server runs
    // one after the other without waiting for the client to read the previous answer.
    let queries = (0..catalog::QUERIES.len()).map(|index| {
        let client = clients[index % clients.len()];
        let excluded = &excluded;
        async move {
            let objects = catalog::run(client, catalog::QUERIES[index], excluded, migrator).await?;
            Ok::<_, tokio_postgres::Error>((index, objects))
        }
    });
    let mut results: Vec<(usize, Vec<Object>)> = Vec::new();
    for result in futures_util::future::join_all(queries).await {
        results.push(result?);
    }
    for client in clients {
        client.batch_execute("COMMIT").await?;
    }

    // Insert in a fixed order, so that colliding keys get the same suffixes every time.
    results.sort_by_key(|(index, _)| *index);
    let mut snapshot = Snapshot::new(server_major.max(0) as u32);
    for (_, mut objects) in results {
        objects.sort_by(|a, b| {
            (a.kind, &a.name).cmp(&(b.kind, &b.name)).then_with(|| {
                serde_json::to_string(&a.fields)
                    .unwrap_or_default()
                    .cmp(&serde_json::to_string(&b.fields).unwrap_or_default())
            })
        });
        for object in objects {
            snapshot.insert(object);
        }
    }
    Ok(snapshot)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(kind: ObjectKind, name: &str) -> Object {
        Object {
            kind,
            name: name.to_string(),
            parent: None,
            fields: BTreeMap::from([
                ("definition".to_string(), Value::Text("x".into())),
                ("valid".to_string(), Value::Bool(true)),
                ("labels".to_string(), Value::List(vec!["a".into()])),
                ("start".to_string(), Value::Int(1)),
            ]),
        }
    }

    #[test]
    fn json_round_trip_keeps_every_value_type() {
        let mut snapshot = Snapshot::new(15);
        snapshot.insert(object(ObjectKind::Index, "public.a_idx"));
        snapshot.insert(object(ObjectKind::MaterializedView, "public.mv"));
        let text = snapshot.to_json();
        assert!(text.contains("\"materialized_view public.mv\""), "{text}");
        assert!(
            text.contains(&format!("\"format_version\": {FORMAT_VERSION}")),
            "{text}"
        );
        let back: Snapshot = serde_json::from_str(&text).unwrap();
        assert_eq!(back, snapshot);
        assert_eq!(back.to_json(), text, "serialization is deterministic");
    }

    #[test]
    fn colliding_keys_get_a_suffix() {
        let mut snapshot = Snapshot::new(15);
        snapshot.insert(object(ObjectKind::Trigger, "public.t.x"));
        snapshot.insert(object(ObjectKind::Trigger, "public.t.x"));
        assert!(snapshot.objects.contains_key("trigger public.t.x"));
        assert!(snapshot.objects.contains_key("trigger public.t.x #2"));
    }

    #[test]
    fn load_refuses_other_format_versions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        std::fs::write(
            &path,
            r#"{"format_version": 99, "server_major": 15, "objects": {}}"#,
        )
        .unwrap();
        let err = Snapshot::load(&path).unwrap_err();
        assert!(format!("{err:#}").contains("format_version 99"), "{err:#}");
        std::fs::write(&path, Snapshot::new(15).to_json()).unwrap();
        assert_eq!(Snapshot::load(&path).unwrap().server_major, 15);
    }
}
