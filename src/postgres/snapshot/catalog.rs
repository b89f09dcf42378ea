//! The catalog queries behind a snapshot: one set-based query per object kind, each returning
//! normalized rows (names instead of OIDs, deparsed definitions, sorted lists).
//!
//! Every query leaves out system schemas, objects that belong to an extension (`pg_depend`
//! deptype `e`) and the excluded relations (history tables and what depends on them).

use std::collections::BTreeMap;

use tokio_postgres::{Client, Row};

use super::{Object, ObjectKind, Value};

type Result<T> = std::result::Result<T, tokio_postgres::Error>;

/// `n` is a schema that holds user objects.
pub(super) const USER_SCHEMA: &str = "n.nspname NOT IN ('pg_catalog', 'information_schema') \
     AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'";

/// The object `oid` of catalog `catalog` does not belong to an extension.
pub(super) fn not_extension_member(catalog: &str, oid: &str) -> String {
    format!(
        "NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = '{catalog}'::regclass \
         AND e.objid = {oid} AND e.deptype = 'e')"
    )
}

/// OIDs of the excluded tables and of the relations that depend on them (indexes, owned and
/// identity sequences).
pub(super) async fn excluded_relations(client: &Client, tables: &[String]) -> Result<Vec<u32>> {
    let rows = client
        .query(
            "WITH h AS (SELECT to_regclass(x)::oid AS oid FROM unnest($1::text[]) AS x)
             SELECT oid FROM h WHERE oid IS NOT NULL
             UNION
             SELECT d.objid FROM pg_depend d JOIN h ON d.refobjid = h.oid
             WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass",
            &[&tables],
        )
        .await?;
    rows.iter().map(|row| row.try_get(0)).collect()
}

/// The catalog queries, one per object kind, most expensive first (so that parallel
/// connections finish together).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Query {
    Indexes,
    Columns,
    Constraints,
    Policies,
    Sequences,
    Tables,
    Triggers,
    Grants,
    Types,
    Views,
    Functions,
    Schemas,
    Extensions,
    DefaultPrivileges,
    Extra(super::extra::Query),
}

pub(super) const QUERIES: &[Query] = &[
    Query::Indexes,
    Query::Columns,
    Query::Constraints,
    Query::Policies,
    Query::Sequences,
    Query::Tables,
    Query::Triggers,
    Query::Grants,
    Query::Types,
    Query::Views,
    Query::Functions,
    Query::Schemas,
    Query::Extensions,
    Query::DefaultPrivileges,
    Query::Extra(super::extra::Query::Owners),
    Query::Extra(super::extra::Query::OwnerPrivileges),
    Query::Extra(super::extra::Query::Rules),
    Query::Extra(super::extra::Query::Statistics),
    Query::Extra(super::extra::Query::Publications),
    Query::Extra(super::extra::Query::Operators),
    Query::Extra(super::extra::Query::TextSearchDictionaries),
    Query::Extra(super::extra::Query::TextSearchConfigs),
    Query::Extra(super::extra::Query::Collations),
    Query::Extra(super::extra::Query::Casts),
    Query::Extra(super::extra::Query::ForeignServers),
    Query::Extra(super::extra::Query::EventTriggers),
];

/// Runs one catalog query.
pub(super) async fn run(
    client: &Client,
    query: Query,
    excluded: &[u32],
    migrator: u32,
) -> Result<Vec<Object>> {
    match query {
        Query::Extra(query) => super::extra::run(client, query, excluded, migrator).await,
        Query::Schemas => schemas(client).await,
        Query::Extensions => extensions(client).await,
        Query::Types => types(client).await,
        Query::Tables => tables(client, excluded).await,
        Query::Columns => columns(client, excluded).await,
        Query::Constraints => constraints(client, excluded).await,
        Query::Indexes => indexes(client, excluded).await,
        Query::Triggers => triggers(client, excluded).await,
        Query::Policies => policies(client, excluded).await,
        Query::Views => views(client, excluded).await,
        Query::Sequences => sequences(client, excluded).await,
        Query::Functions => functions(client).await,
        Query::Grants => grants(client, excluded).await,
        Query::DefaultPrivileges => default_privileges(client).await,
    }
}

/// Builds an object's fields; absent (NULL) values are left out.
#[derive(Default)]
pub(super) struct Fields(BTreeMap<String, Value>);

impl Fields {
    pub(super) fn text(mut self, name: &str, value: Option<String>) -> Self {
        if let Some(value) = value {
            self.0.insert(name.to_string(), Value::Text(value));
        }
        self
    }

    pub(super) fn flag(mut self, name: &str, value: bool) -> Self {
        self.0.insert(name.to_string(), Value::Bool(value));
        self
    }

    pub(super) fn int(mut self, name: &str, value: i64) -> Self {
        self.0.insert(name.to_string(), Value::Int(value));
        self
    }

    pub(super) fn list(mut self, name: &str, value: Vec<String>) -> Self {
        self.0.insert(name.to_string(), Value::List(value));
        self
    }

    /// A list that is only recorded when it has items (options, settings).
    pub(super) fn list_if_any(self, name: &str, value: Vec<String>) -> Self {
        if value.is_empty() {
            self
        } else {
            self.list(name, value)
        }
    }

    pub(super) fn object(self, kind: ObjectKind, name: String, parent: Option<String>) -> Object {
        Object {
            kind,
            name,
            parent,
            fields: self.0,
        }
    }
}

pub(super) fn text(row: &Row, index: usize) -> Result<Option<String>> {
    row.try_get(index)
}

pub(super) fn required(row: &Row, index: usize) -> Result<String> {
    row.try_get(index)
}

pub(super) fn flag(row: &Row, index: usize) -> Result<bool> {
    row.try_get(index)
}

pub(super) fn list(row: &Row, index: usize) -> Result<Vec<String>> {
    Ok(row
        .try_get::<_, Option<Vec<String>>>(index)?
        .unwrap_or_default())
}

pub(super) fn int(row: &Row, index: usize) -> Result<i64> {
    row.try_get(index)
}

/// `schema.name` from a row's first two columns.
pub(super) fn qualified_name(row: &Row) -> Result<String> {
    Ok(format!("{}.{}", required(row, 0)?, required(row, 1)?))
}

/// What a trigger's, rule's or event trigger's enabled code (`tgenabled`, `ev_enabled`,
/// `evtenabled`) means: fired in `origin` sessions (the default), `replica` only, `always`, or
/// `disabled`.
pub(super) fn enabled_state(code: &str) -> &'static str {
    match code {
        "D" => "disabled",
        "R" => "replica",
        "A" => "always",
        _ => "origin",
    }
}

/// The kind of a relation's object, from `relkind`.
pub(super) fn relation_kind(relkind: &str) -> ObjectKind {
    match relkind {
        "v" => ObjectKind::View,
        "m" => ObjectKind::MaterializedView,
        "S" => ObjectKind::Sequence,
        _ => ObjectKind::Table,
    }
}

pub(super) fn key(kind: ObjectKind, name: &str) -> String {
    format!("{kind} {name}")
}

async fn schemas(client: &Client) -> Result<Vec<Object>> {
    let sql = format!(
        "SELECT n.nspname::text, dsc.description
         FROM pg_namespace n
         LEFT JOIN pg_description dsc ON dsc.objoid = n.oid AND dsc.classoid = 'pg_namespace'::regclass AND dsc.objsubid = 0
         WHERE {USER_SCHEMA} AND {}",
        not_extension_member("pg_namespace", "n.oid")
    );
    let mut objects = Vec::new();
    for row in client.query(&sql, &[]).await? {
        objects.push(Fields::default().text("comment", text(&row, 1)?).object(
            ObjectKind::Schema,
            required(&row, 0)?,
            None,
        ));
    }
    Ok(objects)
}

async fn extensions(client: &Client) -> Result<Vec<Object>> {
    let sql = "SELECT e.extname::text, e.extversion, n.nspname::text
               FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace";
    let mut objects = Vec::new();
    for row in client.query(sql, &[]).await? {
        objects.push(
            Fields::default()
                .text("version", text(&row, 1)?)
                .text("schema", text(&row, 2)?)
                .object(ObjectKind::Extension, required(&row, 0)?, None),
        );
    }
    Ok(objects)
}

/// The user-defined types a snapshot covers: enums, domains, ranges and standalone composite
/// types (not the row types of tables, nor array and multirange types).
pub(super) const TYPE_FILTER: &str = "(t.typtype IN ('e', 'd', 'r') OR (t.typtype = 'c' \
     AND (SELECT tc.relkind FROM pg_class tc WHERE tc.oid = t.typrelid) = 'c'))";

async fn types(client: &Client) -> Result<Vec<Object>> {
    let sql = format!(
        "SELECT n.nspname::text, t.typname::text, t.typtype::text,
           ARRAY(SELECT e.enumlabel::text FROM pg_enum e WHERE e.enumtypid = t.oid
                 ORDER BY e.enumsortorder),
           CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod) END,
           t.typnotnull,
           t.typdefault,
           CASE WHEN t.typtype = 'd' AND t.typcollation <> 0 AND t.typcollation <>
                     (SELECT bt.typcollation FROM pg_type bt WHERE bt.oid = t.typbasetype)
                THEN (SELECT format('%s.%s', cn.nspname, co.collname) FROM pg_collation co
                      JOIN pg_namespace cn ON cn.oid = co.collnamespace
                      WHERE co.oid = t.typcollation) END,
           ARRAY(SELECT format('%s: %s', c.conname, pg_get_constraintdef(c.oid))
                 FROM pg_constraint c WHERE c.contypid = t.oid ORDER BY c.conname),
           ARRAY(SELECT format('%s %s', a.attname, format_type(a.atttypid, a.atttypmod))
                 FROM pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0
                 AND NOT a.attisdropped ORDER BY a.attnum),
           (SELECT format_type(r.rngsubtype, NULL) FROM pg_range r WHERE r.rngtypid = t.oid),
           dsc.description
         FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
         LEFT JOIN pg_description dsc ON dsc.objoid = t.oid AND dsc.classoid = 'pg_type'::regclass AND dsc.objsubid = 0
         WHERE {TYPE_FILTER} AND {USER_SCHEMA} AND {}",
        not_extension_member("pg_type", "t.oid")
    );
    let mut objects = Vec::new();
    for row in client.query(&sql, &[]).await? {
        let name = qualified_name(&row)?;
        let comment = text(&row, 11)?;
        let object = match required(&row, 2)?.as_str() {
            "e" => Fields::default()
                .list("labels", list(&row, 3)?)
                .text("comment", comment)
                .object(ObjectKind::Enum, name, None),
            "d" => Fields::default()
                .text("type", text(&row, 4)?)
                .flag("not_null", flag(&row, 5)?)
                .text("default", text(&row, 6)?)
                .text("collation", text(&row, 7)?)
                .list("constraints", list(&row, 8)?)
                .text("comment", comment)
                .object(ObjectKind::Domain, name, None),
            "r" => Fields::default()
                .text("subtype", text(&row, 10)?)
                .text("comment", comment)
                .object(ObjectKind::Range, name, None),
            _ => Fields::default()
                .list("attributes", list(&row, 9)?)
                .text("comment", comment)
                .object(ObjectKind::Type, name, None),
        };
        objects.push(object);
    }
    Ok(objects)
}

async fn tables(client: &Client, excluded: &[u32]) -> Result<Vec<Object>> {
    let sql = format!(
        "SELECT n.nspname::text, c.relname::text, c.relkind::text, c.relpersistence::text,
           c.relrowsecurity, c.relforcerowsecurity, c.relreplident::text,
           (SELECT ic.relname::text FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
            WHERE i.indrelid = c.oid AND i.indisreplident),
           CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END,
           (SELECT format('%s.%s', pn.nspname, pc.relname) FROM pg_inherits inh
            JOIN pg_class pc ON pc.oid = inh.inhparent
            JOIN pg_namespace pn ON pn.oid = pc.relnamespace
            WHERE inh.inhrelid = c.oid AND c.relispartition),
           CASE WHEN c.relispartition THEN pg_get_expr(c.relpartbound, c.oid) END,
           ARRAY(SELECT format('%s.%s', pn.nspname, pc.relname) FROM pg_inherits inh
                 JOIN pg_class pc ON pc.oid = inh.inhparent
                 JOIN pg_namespace pn ON pn.oid = pc.relnamespace
                 WHERE inh.inhrelid = c.oid AND NOT c.relispartition ORDER BY inh.inhseqno),
           ARRAY(SELECT o FROM unnest(c.reloptions) AS o ORDER BY o),
           dsc.description
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         LEFT JOIN pg_description dsc ON dsc.objoid = c.oid AND dsc.classoid = 'pg_class'::regclass AND dsc.objsubid = 0
         WHERE c.relkind IN ('r', 'p', 'f') AND {USER_SCHEMA} AND {} AND c.oid <> ALL($1)",
        not_extension_member("pg_class", "c.oid")
    );
    let mut objects = Vec::new();
    for row in client.query(&sql, &[&excluded]).await? {
        let name = qualified_name(&row)?;
        let persistence = match required(&row, 3)?.as_str() {
            "u" => "unlogged",
            "t" => "temporary",
            _ => "permanent",
        };
        let replica_identity = match (required(&row, 6)?.as_str(), text(&row, 7)?) {
            ("n", _) => "nothing".to_string(),
            ("f", _) => "full".to_string(),
            ("i", Some(index)) => format!("index {index}"),
            _ => "default".to_string(),
        };
        // A partition belongs to its parent: a missing partitioned table is one difference.
        let partition_of = text(&row, 9)?;
        let parent = partition_of
            .as_deref()
            .map(|table| key(ObjectKind::Table, table));
        objects.push(
            Fields::default()
                .flag("foreign", required(&row, 2)? == "f")
                .text("persistence", Some(persistence.to_string()))
                .flag("rls_enabled", flag(&row, 4)?)
                .flag("rls_forced", flag(&row, 5)?)
                .text("replica_identity", Some(replica_identity))
                .text("partition_key", text(&row, 8)?)
                .text("partition_of", partition_of)
                .text("partition_bound", text(&row, 10)?)
                .list_if_any("inherits", list(&row, 11)?)
                .list_if_any("options", list(&row, 12)?)
                .text("comment", text(&row, 13)?)
                .object(ObjectKind::Table, name, parent),
        );
    }
    Ok(objects)
}

async fn columns(client: &Client, excluded: &[u32]) -> Result<Vec<Object>> {
    let sql = format!(
        "SELECT n.nspname::text, c.relname::text, a.attname::text,
           row_number() OVER (PARTITION BY a.attrelid ORDER BY a.attnum),
           format_type(a.atttypid, a.atttypmod), a.attnotnull,
           CASE WHEN a.attgenerated::text = '' THEN pg_get_expr(d.adbin, d.adrelid) END,
           CASE WHEN a.attgenerated::text <> '' THEN pg_get_expr(d.adbin, d.adrelid) END,
           a.attidentity::text,
           CASE WHEN a.attcollation <> t.typcollation
                THEN (SELECT format('%s.%s', cn.nspname, co.collname) FROM pg_collation co
                      JOIN pg_namespace cn ON cn.oid = co.collnamespace
                      WHERE co.oid = a.attcollation) END,
           dsc.description,
           CASE WHEN a.attstorage <> t.typstorage THEN a.attstorage::text END,
           NULLIF(a.attcompression::text, '')
         FROM pg_attribute a
         JOIN pg_class c ON c.oid = a.attrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace
         JOIN pg_type t ON t.oid = a.atttypid
         LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
         LEFT JOIN pg_description dsc ON dsc.objoid = c.oid AND dsc.classoid = 'pg_class'::regclass AND dsc.objsubid = a.attnum
         WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'f')
           AND {USER_SCHEMA} AND {} AND c.oid <> ALL($1)",
        not_extension_member("pg_class", "c.oid")
    );
    let mut objects = Vec::new();
    for row in client.query(&sql, &[&excluded]).await? {
        let table = qualified_name(&row)?;
        let identity = match text(&row, 8)?.as_deref() {
            Some("a") => Some("always".to_string()),
            Some("d") => Some("by default".to_string()),
            _ => None,
        };
        objects.push(
            Fields::default()
                .int("position", int(&row, 3)?)
                .text("type", text(&row, 4)?)
                .flag("not_null", flag(&row, 5)?)
                .text("default", text(&row, 6)?)
                .text("generated", text(&row, 7)?)
                .text("identity", identity)
                .text("collation", text(&row, 9)?)
                .text("comment", text(&row, 10)?)
                .text(
                    "storage",
                    text(&row, 11)?.map(|s| storage_word(&s).to_string()),
                )
                .text(
                    "compression",
                    text(&row, 12)?.map(|c| compression_word(&c).to_string()),
                )
                .object(
                    ObjectKind::Column,
                    format!("{table}.{}", required(&row, 2)?),
                    Some(key(ObjectKind::Table, &table)),
                ),
        );
    }
    Ok(objects)
}

/// `SET STORAGE`'s word for an `attstorage` letter.
fn storage_word(letter: &str) -> &str {
    match letter {
        "p" => "plain",
        "e" => "external",
        "m" => "main",
        "x" => "extended",
        other => other,
    }
}

/// `SET COMPRESSION`'s word for an `attcompression` letter.
fn compression_word(letter: &str) -> &str {
    match letter {
        "p" => "pglz",
        "l" => "lz4",
        other => other,
    }
}

async fn constraints(client: &Client, excluded: &[u32]) -> Result<Vec<Object>> {
    // Constraints cloned onto partitions (conparentid set) follow from their parent's.
    let sql = format!(
        "SELECT n.nspname::text, c.relname::text, con.conname::text, con.contype::text,
           pg_get_constraintdef(con.oid), con.convalidated, con.condeferrable, con.condeferred,
           dsc.description
         FROM pg_constraint con
         JOIN pg_class c ON c.oid = con.conrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace
         LEFT JOIN pg_description dsc ON dsc.objoid = con.oid AND dsc.classoid = 'pg_constraint'::regclass AND dsc.objsubid = 0
         WHERE con.conparentid = 0 AND {USER_SCHEMA} AND {} AND c.oid <> ALL($1)",
        not_extension_member("pg_class", "c.oid")
    );
    let mut objects = Vec::new();
    for row in client.query(&sql, &[&excluded]).await? {
        let table = qualified_name(&row)?;
        let kind = match required(&row, 3)?.as_str() {
            "c" => "check",
            "f" => "foreign key",
            "p" => "primary key",
            "u" => "unique",
            "t" => "trigger",
            "x" => "exclusion",
            "n" => "not null",
            _ => "other",
        };
        objects.push(
            Fields::default()
                .text("type", Some(kind.to_string()))
                .text("definition", text(&row, 4)?)
                .flag("validated", flag(&row, 5)?)
                .flag("deferrable", flag(&row, 6)?)
                .flag("deferred", flag(&row, 7)?)
                .text("comment", text(&row, 8)?)
                .object(
                    ObjectKind::Constraint,
                    format!("{table}.{}", required(&row, 2)?),
                    Some(key(ObjectKind::Table, &table)),
                ),
        );
    }
    Ok(objects)
}

async fn indexes(client: &Client, excluded: &[u32]) -> Result<Vec<Object>> {
    let sql = format!(
        "SELECT n.nspname::text, ic.relname::text, tc.relname::text, tc.relkind::text,
           pg_get_indexdef(i.indexrelid), i.indpred IS NOT NULL, i.indisvalid,
           dsc.description
         FROM pg_index i
         JOIN pg_class ic ON ic.oid = i.indexrelid
         JOIN pg_class tc ON tc.oid = i.indrelid
         JOIN pg_namespace n ON n.oid = tc.relnamespace
         LEFT JOIN pg_description dsc ON dsc.objoid = i.indexrelid AND dsc.classoid = 'pg_class'::regclass AND dsc.objsubid = 0
         WHERE tc.relkind IN ('r', 'p', 'm', 'f') AND {USER_SCHEMA} AND {}
           AND tc.oid <> ALL($1) AND ic.oid <> ALL($1)",
        not_extension_member("pg_class", "tc.oid")
    );
    let mut objects = Vec::new();
    for row in client.query(&sql, &[&excluded]).await? {
        let schema = required(&row, 0)?;
        let table = format!("{schema}.{}", required(&row, 2)?);
        let parent = key(relation_kind(&required(&row, 3)?), &table);
        let definition = text(&row, 4)?;
        // The predicate is the end of the definition: deparsing it again with pg_get_expr
        // would cost as much as a third of the query.
        let predicate = match (&definition, flag(&row, 5)?) {
            (Some(definition), true) => index_predicate(definition).map(str::to_string),
            _ => None,
        };
        objects.push(
            Fields::default()
                .text("table", Some(table))
                .text("definition", definition)
                .text("predicate", predicate)
                .flag("valid", flag(&row, 6)?)
                .text("comment", text(&row, 7)?)
                .object(
                    ObjectKind::Index,
                    format!("{schema}.{}", required(&row, 1)?),
                    Some(parent),
                ),
        );
    }
    Ok(objects)
}

/// The predicate of a partial index's `pg_get_indexdef` text: what follows its `WHERE`, the
/// first one outside parentheses, quoted identifiers and literals (exactly what
/// `pg_get_expr(indpred, indrelid)` returns: both deparse the same tree the same way).
fn index_predicate(definition: &str) -> Option<&str> {
    let bytes = definition.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            quote @ (b'"' | b'\'') => {
                // A literal written E'...' (standard_conforming_strings off) escapes with `\`.
                let backslashes = quote == b'\'' && i > 0 && bytes[i - 1] == b'E';
                i += 1;
                while i < bytes.len() {
                    if backslashes && bytes[i] == b'\\' {
                        i += 2;
                        continue;
                    }
                    if bytes[i] == quote {
                        // A doubled quote stands for itself.
                        if bytes.get(i + 1) == Some(&quote) {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
            }
            b'(' => depth += 1,
            b')' => depth = depth.saturating_sub(1),
            b' ' if depth == 0 && definition[i..].starts_with(" WHERE ") => {
                return Some(&definition[i + " WHERE ".len()..]);
            }
            _ => {}
        }
        i += 1;
    }
    None
}

async fn triggers(client: &Client, excluded: &[u32]) -> Result<Vec<Object>> {
    // Internal triggers (foreign-key enforcement) have names that embed OIDs: left out, they
    // follow from the constraints.
    let sql = format!(
        "SELECT n.nspname::text, c.relname::text, c.relkind::text, t.tgname::text,
           pg_get_triggerdef(t.oid), t.tgenabled::text, dsc.description
         FROM pg_trigger t
         JOIN pg_class c ON c.oid = t.tgrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace
         LEFT JOIN pg_description dsc ON dsc.objoid = t.oid AND dsc.classoid = 'pg_trigger'::regclass AND dsc.objsubid = 0
         WHERE NOT t.tgisinternal AND {USER_SCHEMA} AND {} AND c.oid <> ALL($1)",
        not_extension_member("pg_class", "c.oid")
    );
    let mut objects = Vec::new();
    for row in client.query(&sql, &[&excluded]).await? {
        let table = qualified_name(&row)?;
        let enabled = enabled_state(&required(&row, 5)?);
        objects.push(
            Fields::default()
                .text("definition", text(&row, 4)?)
                .text("enabled", Some(enabled.to_string()))
                .text("comment", text(&row, 6)?)
                .object(
                    ObjectKind::Trigger,
                    format!("{table}.{}", required(&row, 3)?),
                    Some(key(relation_kind(&required(&row, 2)?), &table)),
                ),
        );
    }
    Ok(objects)
}

async fn policies(client: &Client, excluded: &[u32]) -> Result<Vec<Object>> {
    let sql = format!(
        "SELECT n.nspname::text, c.relname::text, pol.polname::text, pol.polcmd::text,
           pol.polpermissive,
           ARRAY(SELECT r FROM (SELECT CASE WHEN ro = 0 THEN 'PUBLIC'
                                            ELSE pg_get_userbyid(ro)::text END AS r
                                FROM unnest(pol.polroles) AS ro) AS roles ORDER BY r),
           pg_get_expr(pol.polqual, pol.polrelid), pg_get_expr(pol.polwithcheck, pol.polrelid),
           dsc.description
         FROM pg_policy pol
         JOIN pg_class c ON c.oid = pol.polrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace
         LEFT JOIN pg_description dsc ON dsc.objoid = pol.oid AND dsc.classoid = 'pg_policy'::regclass AND dsc.objsubid = 0
         WHERE {USER_SCHEMA} AND {} AND c.oid <> ALL($1)",
        not_extension_member("pg_class", "c.oid")
    );
    let mut objects = Vec::new();
    for row in client.query(&sql, &[&excluded]).await? {
        let table = qualified_name(&row)?;
        let command = match required(&row, 3)?.as_str() {
            "r" => "SELECT",
            "a" => "INSERT",
            "w" => "UPDATE",
            "d" => "DELETE",
            _ => "ALL",
        };
        objects.push(
            Fields::default()
                .text("command", Some(command.to_string()))
                .flag("permissive", flag(&row, 4)?)
                .list("roles", list(&row, 5)?)
                .text("using", text(&row, 6)?)
                .text("with_check", text(&row, 7)?)
                .text("comment", text(&row, 8)?)
                .object(
                    ObjectKind::Policy,
                    format!("{table}.{}", required(&row, 2)?),
                    Some(key(ObjectKind::Table, &table)),
                ),
        );
    }
    Ok(objects)
}

async fn views(client: &Client, excluded: &[u32]) -> Result<Vec<Object>> {
    // Whether a materialized view is populated changes with REFRESH ... WITH NO DATA, which is
    // maintenance, not schema: not recorded.
    let sql = format!(
        "SELECT n.nspname::text, c.relname::text, c.relkind::text, pg_get_viewdef(c.oid, true),
           ARRAY(SELECT o FROM unnest(c.reloptions) AS o ORDER BY o),
           dsc.description,
           ARRAY(SELECT format('%I IS %L', a.attname, cd.description)
                 FROM pg_attribute a
                 JOIN pg_description cd ON cd.objoid = c.oid
                   AND cd.classoid = 'pg_class'::regclass AND cd.objsubid = a.attnum
                 WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                 ORDER BY a.attname)
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         LEFT JOIN pg_description dsc ON dsc.objoid = c.oid AND dsc.classoid = 'pg_class'::regclass AND dsc.objsubid = 0
         WHERE c.relkind IN ('v', 'm') AND {USER_SCHEMA} AND {} AND c.oid <> ALL($1)",
        not_extension_member("pg_class", "c.oid")
    );
    let mut objects = Vec::new();
    for row in client.query(&sql, &[&excluded]).await? {
        let name = qualified_name(&row)?;
        objects.push(
            Fields::default()
                .text("definition", text(&row, 3)?)
                .list_if_any("options", list(&row, 4)?)
                .text("comment", text(&row, 5)?)
                .list_if_any("column_comments", list(&row, 6)?)
                .object(relation_kind(&required(&row, 2)?), name, None),
        );
    }
    Ok(objects)
}

async fn sequences(client: &Client, excluded: &[u32]) -> Result<Vec<Object>> {
    // Only the definition: last_value and is_called change with every insert.
    let sql = format!(
        "SELECT n.nspname::text, c.relname::text, format_type(s.seqtypid, NULL),
           s.seqstart, s.seqincrement, s.seqmin, s.seqmax, s.seqcache, s.seqcycle,
           owner.tbl, owner.col, dsc.description
         FROM pg_sequence s
         JOIN pg_class c ON c.oid = s.seqrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace
         LEFT JOIN LATERAL (
           SELECT format('%s.%s', tn.nspname, tc.relname) AS tbl, a.attname::text AS col
           FROM pg_depend d
           JOIN pg_class tc ON tc.oid = d.refobjid
           JOIN pg_namespace tn ON tn.oid = tc.relnamespace
           JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
           WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
             AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
           ORDER BY 1, 2 LIMIT 1
         ) AS owner ON true
         LEFT JOIN pg_description dsc ON dsc.objoid = c.oid AND dsc.classoid = 'pg_class'::regclass AND dsc.objsubid = 0
         WHERE {USER_SCHEMA} AND {} AND c.oid <> ALL($1)",
        not_extension_member("pg_class", "c.oid")
    );
    let mut objects = Vec::new();
    for row in client.query(&sql, &[&excluded]).await? {
        let name = qualified_name(&row)?;
        let owner_table = text(&row, 9)?;
        let owned_by = match (&owner_table, text(&row, 10)?) {
            (Some(table), Some(column)) => Some(format!("{table}.{column}")),
            _ => None,
        };
        objects.push(
            Fields::default()
                .text("type", text(&row, 2)?)
                .int("start", int(&row, 3)?)
                .int("increment", int(&row, 4)?)
                .int("min", int(&row, 5)?)
                .int("max", int(&row, 6)?)
                .int("cache", int(&row, 7)?)
                .flag("cycle", flag(&row, 8)?)
                .text("owned_by", owned_by)
                .text("comment", text(&row, 11)?)
                .object(
                    ObjectKind::Sequence,
                    name,
                    owner_table.map(|table| key(ObjectKind::Table, &table)),
                ),
        );
    }
    Ok(objects)
}

async fn functions(client: &Client) -> Result<Vec<Object>> {
    // Aggregates have no pg_get_functiondef: their parts are recorded instead.
    let sql = format!(
        "SELECT n.nspname::text, p.proname::text, oidvectortypes(p.proargtypes), p.prokind::text,
           CASE WHEN p.prokind <> 'a' THEN pg_get_functiondef(p.oid) END,
           ARRAY(SELECT s FROM unnest(p.proconfig) AS s ORDER BY s),
           (SELECT format('sfunc=%s stype=%s finalfunc=%s initcond=%s',
                          a.aggtransfn::regprocedure, format_type(a.aggtranstype, NULL),
                          NULLIF(a.aggfinalfn, 0)::regprocedure, a.agginitval)
            FROM pg_aggregate a WHERE a.aggfnoid = p.oid),
           dsc.description
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
         LEFT JOIN pg_description dsc ON dsc.objoid = p.oid AND dsc.classoid = 'pg_proc'::regclass AND dsc.objsubid = 0
         WHERE {USER_SCHEMA} AND {}",
        not_extension_member("pg_proc", "p.oid")
    );
    let mut objects = Vec::new();
    for row in client.query(&sql, &[]).await? {
        let name = format!(
            "{}.{}({})",
            required(&row, 0)?,
            required(&row, 1)?,
            required(&row, 2)?
        );
        let kind = match required(&row, 3)?.as_str() {
            "p" => "procedure",
            "a" => "aggregate",
            "w" => "window",
            _ => "function",
        };
        objects.push(
            Fields::default()
                .text("kind", Some(kind.to_string()))
                .text("definition", text(&row, 4)?.or(text(&row, 6)?))
                .list_if_any("settings", list(&row, 5)?)
                .text("comment", text(&row, 7)?)
                .object(ObjectKind::Function, name, None),
        );
    }
    Ok(objects)
}

/// Privileges granted to roles other than the object's owner, one object per grantee. ACLs
/// that were never changed (NULL) read as the built-in defaults, so granting and revoking the
/// same privilege leaves no trace.
async fn grants(client: &Client, excluded: &[u32]) -> Result<Vec<Object>> {
    let class_member = not_extension_member("pg_class", "c.oid");
    let sql = format!(
        "WITH acl AS (
           SELECT CASE c.relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized_view'
                                 WHEN 'S' THEN 'sequence' ELSE 'table' END AS kind,
                  format('%s.%s', n.nspname, c.relname) AS name,
                  NULL::text AS parent_kind, NULL::text AS parent_name, c.relowner AS owner,
                  x.grantee, x.privilege_type, x.is_grantable
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace,
                LATERAL aclexplode(coalesce(c.relacl, acldefault(
                  (CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END)::\"char\", c.relowner))) AS x
           WHERE c.relkind IN ('r', 'p', 'f', 'v', 'm', 'S') AND {USER_SCHEMA} AND {class_member}
             AND c.oid <> ALL($1)
           UNION ALL
           SELECT 'column', format('%s.%s.%s', n.nspname, c.relname, a.attname),
                  CASE c.relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized_view'
                                 ELSE 'table' END,
                  format('%s.%s', n.nspname, c.relname), c.relowner,
                  x.grantee, x.privilege_type, x.is_grantable
           FROM pg_attribute a
           JOIN pg_class c ON c.oid = a.attrelid
           JOIN pg_namespace n ON n.oid = c.relnamespace,
                LATERAL aclexplode(a.attacl) AS x
           WHERE a.attacl IS NOT NULL AND a.attnum > 0 AND NOT a.attisdropped
             AND {USER_SCHEMA} AND {class_member} AND c.oid <> ALL($1)
           UNION ALL
           SELECT 'function', format('%s.%s(%s)', n.nspname, p.proname,
                                     oidvectortypes(p.proargtypes)),
                  NULL, NULL, p.proowner, x.grantee, x.privilege_type, x.is_grantable
           FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace,
                LATERAL aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) AS x
           WHERE {USER_SCHEMA} AND {}
           UNION ALL
           SELECT 'schema', n.nspname::text, NULL, NULL, n.nspowner,
                  x.grantee, x.privilege_type, x.is_grantable
           FROM pg_namespace n,
                LATERAL aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) AS x
           WHERE {USER_SCHEMA} AND {}
           UNION ALL
           SELECT CASE t.typtype WHEN 'e' THEN 'enum' WHEN 'd' THEN 'domain'
                                 WHEN 'r' THEN 'range' ELSE 'type' END,
                  format('%s.%s', n.nspname, t.typname), NULL, NULL, t.typowner,
                  x.grantee, x.privilege_type, x.is_grantable
           FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace,
                LATERAL aclexplode(coalesce(t.typacl, acldefault('T', t.typowner))) AS x
           WHERE {TYPE_FILTER} AND {USER_SCHEMA} AND {}
         )
         SELECT kind, name, parent_kind, parent_name,
           CASE WHEN grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(grantee)::text END,
           array_agg(privilege_type || CASE WHEN is_grantable THEN ' WITH GRANT OPTION'
                                            ELSE '' END ORDER BY privilege_type)
         FROM acl
         WHERE grantee <> owner
         GROUP BY 1, 2, 3, 4, 5",
        not_extension_member("pg_proc", "p.oid"),
        not_extension_member("pg_namespace", "n.oid"),
        not_extension_member("pg_type", "t.oid"),
    );
    let mut objects = Vec::new();
    for row in client.query(&sql, &[&excluded]).await? {
        let kind = required(&row, 0)?;
        let name = required(&row, 1)?;
        let parent = match (text(&row, 2)?, text(&row, 3)?) {
            (Some(parent_kind), Some(parent_name)) => format!("{parent_kind} {parent_name}"),
            _ => format!("{kind} {name}"),
        };
        objects.push(Fields::default().list("privileges", list(&row, 5)?).object(
            ObjectKind::Grant,
            format!("{kind} {name} to {}", required(&row, 4)?),
            Some(parent),
        ));
    }
    Ok(objects)
}

async fn default_privileges(client: &Client) -> Result<Vec<Object>> {
    let sql = "SELECT pg_get_userbyid(d.defaclrole)::text, n.nspname::text, d.defaclobjtype::text,
                 CASE WHEN x.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(x.grantee)::text END,
                 array_agg(x.privilege_type || CASE WHEN x.is_grantable
                                                    THEN ' WITH GRANT OPTION' ELSE '' END
                           ORDER BY x.privilege_type)
               FROM pg_default_acl d
               LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace
               CROSS JOIN LATERAL aclexplode(d.defaclacl) AS x
               WHERE x.grantee <> d.defaclrole
               GROUP BY 1, 2, 3, 4";
    let mut objects = Vec::new();
    for row in client.query(sql, &[]).await? {
        let on = match required(&row, 2)?.as_str() {
            "r" => "tables",
            "S" => "sequences",
            "f" => "functions",
            "T" => "types",
            "n" => "schemas",
            _ => "other",
        };
        let scope = match text(&row, 1)? {
            Some(schema) => format!(" in schema {schema}"),
            None => String::new(),
        };
        let name = format!(
            "for role {}{scope} on {on} to {}",
            required(&row, 0)?,
            required(&row, 3)?
        );
        objects.push(Fields::default().list("privileges", list(&row, 4)?).object(
            ObjectKind::DefaultPrivileges,
            name,
            None,
        ));
    }
    Ok(objects)
}

#[cfg(test)]
mod tests {
    use super::index_predicate;

    #[test]
    fn index_predicates_are_cut_from_the_definition() {
        let cases = [
            (
                "CREATE INDEX t_open_idx ON public.t USING btree (status) WHERE (status <> 'done'::text)",
                Some("(status <> 'done'::text)"),
            ),
            ("CREATE INDEX t_idx ON public.t USING btree (status)", None),
            (
                "CREATE UNIQUE INDEX \"a WHERE b\" ON public.\"x WHERE \"\" y\" USING btree (lower(' WHERE '::text), \"c WHERE\") INCLUDE (d) WITH (fillfactor='70') WHERE ((d > 0) AND (e = 'it''s WHERE x'::text))",
                Some("((d > 0) AND (e = 'it''s WHERE x'::text))"),
            ),
            (
                "CREATE INDEX i ON public.t USING btree (a) WHERE (b = E'\\' WHERE '::text)",
                Some("(b = E'\\' WHERE '::text)"),
            ),
        ];
        for (definition, predicate) in cases {
            assert_eq!(index_predicate(definition), predicate, "{definition}");
        }
    }
}
