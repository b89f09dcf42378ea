//! `check --with-data N`: fills tables of a shadow database with N generated rows each, from
//! their column types, so observed migrations meet real volume.
//!
//! One `INSERT … SELECT … FROM generate_series(1, N)` per table, parents before children.
//! Columns with a default, identity or generated columns get their default; a single-column
//! foreign key takes values from the parent's existing rows (NULL when the parent is empty
//! and the column allows it); other columns get a value from their type (numbers offset past
//! the column's current maximum, texts with a per-run prefix so unique columns do not collide
//! with existing rows). When a CHECK constraint rejects those values, the columns it names get
//! other values (see [`insert_within_checks`]). A table the generator cannot fill (a type it
//! does not know in a NOT NULL column, a CHECK constraint no value tried meets) is skipped with
//! the reason; triggers stay on. The filled tables are analyzed afterwards (and vacuumed where
//! the probes for CHECK constraints left rolled-back rows).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use serde::Serialize;
use tokio_postgres::Client;

use super::engine;
use super::session::Session;
use super::tokens::quote_ident;

/// What `--with-data` generated.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FillReport {
    pub rows_per_table: u64,
    /// The application's own tables, loaded by `seed generate` before the generic filler ran
    /// (with this repository's schema).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generated: Option<Generated>,
    pub tables: Vec<FilledTable>,
    pub skipped: Vec<SkippedTable>,
    pub duration_ms: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct FilledTable {
    pub table: String,
    pub rows: u64,
    pub duration_ms: u64,
    /// CHECK constraints the first values broke, satisfied by other values of their columns.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub adjusted_for: Vec<String>,
}

/// What `seed generate` loaded for `--with-data`, or why it could not.
#[derive(Debug, Clone, Serialize)]
pub struct Generated {
    /// `seed generate --tasks N`: N tasks, and the users, projects, comments and activity
    /// that go with them.
    pub tasks: u64,
    pub tables: Vec<GeneratedTable>,
    pub duration_ms: u64,
    /// Set when the load failed (it was rolled back; the generic filler filled the tables).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct GeneratedTable {
    pub table: String,
    pub rows: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct SkippedTable {
    pub table: String,
    pub reason: String,
}

impl FillReport {
    /// One line for humans.
    pub fn describe(&self) -> String {
        let mut line = String::new();
        if let Some(generated) = &self.generated {
            match &generated.failed {
                None => line.push_str(&format!(
                    "with data: seed generate --tasks {} loaded {} rows into {} ({})\n  ",
                    generated.tasks,
                    generated.tables.iter().map(|t| t.rows).sum::<u64>(),
                    crate::output::count(generated.tables.len(), "table"),
                    crate::output::human_ms(generated.duration_ms)
                )),
                Some(reason) => line.push_str(&format!(
                    "with data: seed generate could not load this schema ({reason}); \
                     its tables were filled from their column types\n  "
                )),
            }
        }
        line.push_str(&format!(
            "with data: {} rows in each of {} ({})",
            self.rows_per_table,
            crate::output::count(self.tables.len(), "table"),
            crate::output::human_ms(self.duration_ms)
        ));
        for table in self.tables.iter().filter(|t| !t.adjusted_for.is_empty()) {
            line.push_str(&format!(
                "\n  values of {} chosen to pass {}",
                table.table,
                table.adjusted_for.join(", ")
            ));
        }
        for skipped in &self.skipped {
            line.push_str(&format!(
                "\n  not filled: {}: {}",
                skipped.table, skipped.reason
            ));
        }
        line
    }
}

/// A table of the database, with what the generator needs to know.
#[derive(Debug, Clone)]
struct Table {
    oid: u32,
    schema: String,
    name: String,
}

impl Table {
    fn qualified(&self) -> String {
        format!("{}.{}", quote_ident(&self.schema), quote_ident(&self.name))
    }

    fn display(&self) -> String {
        format!("{}.{}", self.schema, self.name)
    }
}

struct Column {
    name: String,
    type_name: String,
    base_type: String,
    category: String,
    type_kind: String,
    not_null: bool,
    has_default: bool,
    skip: bool,
}

struct ForeignKey {
    child: u32,
    columns: Vec<i16>,
    parent: u32,
    parent_columns: Vec<i16>,
}

const TABLES: &str = "SELECT c.oid, n.nspname, c.relname FROM pg_catalog.pg_class c \
     JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
     WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition \
       AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
       AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'";

const COLUMNS: &str = "SELECT a.attnum, a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), \
       pg_catalog.format_type(coalesce(nullif(t.typbasetype, 0), t.oid), NULL), \
       coalesce(b.typcategory, t.typcategory)::text, coalesce(b.typtype, t.typtype)::text, a.attnotnull, \
       a.atthasdef OR a.attidentity <> '', a.attgenerated <> '' \
     FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid = a.atttypid \
     LEFT JOIN pg_catalog.pg_type b ON b.oid = nullif(t.typbasetype, 0) \
     WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum";

const FOREIGN_KEYS: &str = "SELECT conrelid, conkey, confrelid, confkey FROM pg_catalog.pg_constraint \
     WHERE contype = 'f'";

/// `fill` on the database of `session`, never filling its history table.
pub async fn fill_session(
    session: &Session,
    sql_texts: &[&str],
    rows: u64,
    loaded: &[String],
) -> anyhow::Result<FillReport> {
    let history = &session.history;
    let qualified = format!("{}.{}", history.schema(), history.table());
    let exclude = [history.table(), qualified.as_str()];
    fill(&session.client, sql_texts, rows, &exclude, loaded).await
}

/// Fills the tables whose names appear in `sql_texts` (and the parents their foreign keys
/// need) with `rows` rows each. `exclude` names tables never filled (the history table);
/// `loaded` names tables another generator filled already (`schema.table`): they are not
/// filled again, but their rows serve as parents.
pub async fn fill(
    client: &Client,
    sql_texts: &[&str],
    rows: u64,
    exclude: &[&str],
    loaded: &[String],
) -> anyhow::Result<FillReport> {
    let started = Instant::now();
    let tables: BTreeMap<u32, Table> = client
        .query(TABLES, &[])
        .await
        .map_err(|err| engine::query_error("cannot list the tables", err))?
        .iter()
        .map(|row| {
            let table = Table {
                oid: row.get(0),
                schema: row.get(1),
                name: row.get(2),
            };
            (table.oid, table)
        })
        .filter(|(_, table)| {
            !exclude.iter().any(|excluded| {
                *excluded == table.name || *excluded == format!("{}.{}", table.schema, table.name)
            })
        })
        .collect();
    let words = identifiers(sql_texts);
    let touched: BTreeSet<u32> = tables
        .values()
        .filter(|table| words.contains(&table.name.to_lowercase()))
        .map(|table| table.oid)
        .collect();
    let foreign_keys: Vec<ForeignKey> = client
        .query(FOREIGN_KEYS, &[])
        .await
        .map_err(|err| engine::query_error("cannot read the foreign keys", err))?
        .iter()
        .map(|row| ForeignKey {
            child: row.get(0),
            columns: row.get(1),
            parent: row.get(2),
            parent_columns: row.get(3),
        })
        .collect();
    // The touched tables and, transitively, their parents; parents first.
    let mut wanted = touched.clone();
    loop {
        let parents: Vec<u32> = foreign_keys
            .iter()
            .filter(|fk| wanted.contains(&fk.child) && tables.contains_key(&fk.parent))
            .map(|fk| fk.parent)
            .filter(|parent| !wanted.contains(parent))
            .collect();
        if parents.is_empty() {
            break;
        }
        wanted.extend(parents);
    }
    let order = parents_first(&wanted, &foreign_keys);
    let salt = format!(
        "{:x}",
        started.elapsed().as_nanos() ^ u128::from(std::process::id())
    );
    let mut report = FillReport {
        rows_per_table: rows,
        ..FillReport::default()
    };
    let mut filled = Vec::new();
    // Tables whose probes left rolled-back rows behind: vacuumed, so that the observed
    // statements do not read those dead rows.
    let mut probed = Vec::new();
    for oid in order {
        let Some(table) = tables.get(&oid) else {
            continue;
        };
        if loaded.contains(&table.display()) {
            continue;
        }
        let table_started = Instant::now();
        let draft = match insert_sql(client, table, &tables, &foreign_keys, &salt).await? {
            Ok(draft) => draft,
            Err(reason) => {
                report.skipped.push(SkippedTable {
                    table: table.display(),
                    reason,
                });
                continue;
            }
        };
        match insert_within_checks(client, table, draft, rows, &salt).await? {
            Ok((inserted, adjusted)) => {
                if adjusted.is_empty() {
                    filled.push(table.qualified());
                } else {
                    probed.push(table.qualified());
                }
                report.tables.push(FilledTable {
                    table: table.display(),
                    rows: inserted,
                    duration_ms: table_started.elapsed().as_millis() as u64,
                    adjusted_for: adjusted,
                });
            }
            Err(reason) => report.skipped.push(SkippedTable {
                table: table.display(),
                reason,
            }),
        }
    }
    if !probed.is_empty() {
        client
            .batch_execute(&format!("VACUUM (ANALYZE) {}", probed.join(", ")))
            .await
            .map_err(|err| engine::query_error("cannot vacuum the filled tables", err))?;
    }
    if !filled.is_empty() {
        client
            .batch_execute(&format!("ANALYZE {}", filled.join(", ")))
            .await
            .map_err(|err| engine::query_error("cannot analyze the filled tables", err))?;
    }
    report.duration_ms = started.elapsed().as_millis() as u64;
    Ok(report)
}

/// Inserts the draft's rows. When a CHECK constraint rejects them, the columns it names are
/// given other values (NULL where allowed, each enum label, hex digests, later times, small
/// positive numbers), tried on a few rows in a rolled-back transaction, until one combination
/// passes; then the whole insert runs again. Gives the rows inserted and the constraints that
/// needed other values, or why the table stays empty.
async fn insert_within_checks(
    client: &Client,
    table: &Table,
    mut draft: Draft,
    rows: u64,
    salt: &str,
) -> anyhow::Result<Result<(u64, Vec<String>), String>> {
    let mut adjusted: Vec<String> = Vec::new();
    loop {
        let error = match client.execute(&draft.sql(rows), &[]).await {
            Ok(inserted) => return Ok(Ok((inserted, adjusted))),
            Err(err) => err,
        };
        let Some(db) = error.as_db_error() else {
            return Err(engine::query_error(
                &format!("cannot fill {}", table.display()),
                error,
            ));
        };
        let reason = db.message().to_string();
        let constraint = match (db.code(), db.constraint()) {
            (&tokio_postgres::error::SqlState::CHECK_VIOLATION, Some(name))
                if !adjusted.iter().any(|done| done == name) && adjusted.len() < 8 =>
            {
                name.to_string()
            }
            _ => return Ok(Err(reason)),
        };
        match satisfy(
            client,
            table,
            &mut draft,
            &constraint,
            &adjusted,
            rows,
            salt,
        )
        .await?
        {
            true => adjusted.push(constraint),
            false => return Ok(Err(reason)),
        }
    }
}

/// The most combinations of values tried for one constraint.
const MAX_PROBES: usize = 256;

/// Rows each probe inserts: enough that values cycling over `g` show their variety.
const PROBE_ROWS: u64 = 16;

/// Finds values of the columns `constraint` names that let the draft's rows pass it (and the
/// constraints satisfied before it), and puts them in the draft; false when no combination
/// tried passes. A probe stopped by another CHECK constraint not yet worked on has passed
/// this one: that constraint's turn comes next.
async fn satisfy(
    client: &Client,
    table: &Table,
    draft: &mut Draft,
    constraint: &str,
    adjusted: &[String],
    rows: u64,
    salt: &str,
) -> anyhow::Result<bool> {
    let attnums: Vec<i16> = client
        .query_opt(
            "SELECT conkey FROM pg_catalog.pg_constraint WHERE conrelid = $1 AND conname = $2",
            &[&table.oid, &constraint],
        )
        .await
        .map_err(|err| engine::query_error("cannot read a check constraint", err))?
        .and_then(|row| row.get::<_, Option<Vec<i16>>>(0))
        .unwrap_or_default();
    let mut choices: Vec<(String, Vec<Option<String>>)> = Vec::new();
    for attnum in attnums {
        let Some(column) = draft.columns.get(&attnum) else {
            continue;
        };
        if column.skip {
            continue;
        }
        let labels = if column.type_kind == "e" {
            enum_labels(client, &column.base_type).await?
        } else {
            Vec::new()
        };
        let mut options = vec![draft.expression(&column.name).cloned()];
        for option in alternatives(column, &labels, salt) {
            if !options.contains(&option) {
                options.push(option);
            }
        }
        choices.push((column.name.clone(), options));
    }
    if choices.is_empty() {
        return Ok(false);
    }
    let original: Vec<Option<String>> = choices
        .iter()
        .map(|(name, _)| draft.expression(name).cloned())
        .collect();
    // Every combination, odometer order, the current values first.
    let mut at = vec![0usize; choices.len()];
    for _ in 0..MAX_PROBES {
        for ((name, options), index) in choices.iter().zip(&at) {
            draft.set(name, options[*index].clone());
        }
        let passed = match probe(client, &draft.sql(rows.min(PROBE_ROWS))).await? {
            Ok(()) => true,
            Err(Some(other)) => other != constraint && !adjusted.contains(&other),
            Err(None) => false,
        };
        if passed {
            return Ok(true);
        }
        let mut digit = 0;
        loop {
            if digit == at.len() {
                for ((name, _), value) in choices.iter().zip(original) {
                    draft.set(name, value);
                }
                return Ok(false);
            }
            at[digit] += 1;
            if at[digit] < choices[digit].1.len() {
                break;
            }
            at[digit] = 0;
            digit += 1;
        }
    }
    for ((name, _), value) in choices.iter().zip(original) {
        draft.set(name, value);
    }
    Ok(false)
}

/// Runs `insert` in a transaction that is rolled back: does it pass? When not, the CHECK
/// constraint that stopped it, if one did.
async fn probe(client: &Client, insert: &str) -> anyhow::Result<Result<(), Option<String>>> {
    client
        .batch_execute("BEGIN")
        .await
        .map_err(|err| engine::query_error("cannot begin a probe", err))?;
    let passed = client.batch_execute(insert).await.map_err(|err| {
        err.as_db_error()
            .filter(|db| *db.code() == tokio_postgres::error::SqlState::CHECK_VIOLATION)
            .and_then(|db| db.constraint().map(str::to_string))
    });
    client
        .batch_execute("ROLLBACK")
        .await
        .map_err(|err| engine::query_error("cannot roll a probe back", err))?;
    Ok(passed)
}

async fn enum_labels(client: &Client, type_name: &str) -> anyhow::Result<Vec<String>> {
    Ok(client
        .query(
            "SELECT e.enumlabel::text FROM pg_catalog.pg_enum e \
             WHERE e.enumtypid = $1::text::regtype ORDER BY e.enumsortorder LIMIT 32",
            &[&type_name],
        )
        .await
        .map_err(|err| engine::query_error("cannot read an enum's labels", err))?
        .iter()
        .map(|row| row.get(0))
        .collect())
}

/// Other values for a column a CHECK constraint names, beyond the generator's first choice:
/// its default (`None`), NULL where allowed, each enum label, and for its type a few shapes
/// that constraints commonly ask for.
fn alternatives(column: &Column, labels: &[String], salt: &str) -> Vec<Option<String>> {
    let cast = &column.type_name;
    let mut options = Vec::new();
    if column.has_default {
        options.push(None);
    }
    if !column.not_null {
        options.push(Some(format!("NULL::{cast}")));
    }
    for label in labels {
        options.push(Some(format!("{}::{cast}", super::quote::literal(label))));
    }
    let seeded = format!("('{salt}-' || g)");
    match (column.base_type.as_str(), column.category.as_str()) {
        ("smallint" | "integer" | "bigint" | "numeric" | "real" | "double precision", _) => {
            options.push(Some(format!("((g % 1000) + 1)::{cast}")));
            options.push(Some(format!("0::{cast}")));
            options.push(Some(format!("1::{cast}")));
        }
        ("date", _)
        | ("timestamp without time zone" | "timestamp with time zone", _)
        | ("time without time zone" | "time with time zone", _) => {
            options.push(Some(format!(
                "(pg_catalog.now() + pg_catalog.make_interval(secs => g * 37))::{cast}"
            )));
            options.push(Some(format!("pg_catalog.now()::{cast}")));
        }
        (_, "S") => {
            options.push(Some(format!(
                "pg_catalog.encode(pg_catalog.sha256({seeded}::bytea), 'hex')::{cast}"
            )));
            options.push(Some(format!("pg_catalog.md5({seeded})::{cast}")));
            options.push(Some(format!(
                "pg_catalog.lower(pg_catalog.translate({seeded}, '-', '_'))::{cast}"
            )));
            options.push(Some(format!("('{salt}' || g || '@example.org')::{cast}")));
            options.push(Some(format!(
                "('https://example.org/{salt}/' || g)::{cast}"
            )));
        }
        _ => {}
    }
    options
}

/// Lower-cased words of the texts that could be table names.
pub fn identifiers(texts: &[&str]) -> BTreeSet<String> {
    texts
        .iter()
        .flat_map(|text| text.split(|ch: char| !(ch.is_alphanumeric() || ch == '_' || ch == '$')))
        .filter(|word| !word.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// `wanted` ordered so that a table comes after the tables it references (a cycle is broken
/// where it closes).
fn parents_first(wanted: &BTreeSet<u32>, foreign_keys: &[ForeignKey]) -> Vec<u32> {
    fn visit(
        oid: u32,
        wanted: &BTreeSet<u32>,
        foreign_keys: &[ForeignKey],
        visiting: &mut BTreeSet<u32>,
        done: &mut Vec<u32>,
    ) {
        if done.contains(&oid) || !visiting.insert(oid) {
            return;
        }
        for fk in foreign_keys.iter().filter(|fk| fk.child == oid) {
            if fk.parent != oid && wanted.contains(&fk.parent) {
                visit(fk.parent, wanted, foreign_keys, visiting, done);
            }
        }
        done.push(oid);
    }
    let mut done = Vec::new();
    let mut visiting = BTreeSet::new();
    for oid in wanted {
        visit(*oid, wanted, foreign_keys, &mut visiting, &mut done);
    }
    done
}

async fn columns(client: &Client, oid: u32) -> anyhow::Result<BTreeMap<i16, Column>> {
    Ok(client
        .query(COLUMNS, &[&oid])
        .await
        .map_err(|err| engine::query_error("cannot read the columns", err))?
        .iter()
        .map(|row| {
            (
                row.get::<_, i16>(0),
                Column {
                    name: row.get(1),
                    type_name: row.get(2),
                    base_type: row.get(3),
                    category: row.get(4),
                    type_kind: row.get(5),
                    not_null: row.get(6),
                    has_default: row.get(7),
                    skip: row.get(8),
                },
            )
        })
        .collect())
}

/// The INSERT for one table, or why it cannot be generated.
async fn insert_sql(
    client: &Client,
    table: &Table,
    tables: &BTreeMap<u32, Table>,
    foreign_keys: &[ForeignKey],
    salt: &str,
) -> anyhow::Result<Result<Draft, String>> {
    let columns = columns(client, table.oid).await?;
    let mut names = Vec::new();
    let mut values = Vec::new();
    let mut parents = Vec::new();
    let mut handled = BTreeSet::new();
    // Wider keys first: a row of the parent of a multi-column key (`(org_id, project_id)`)
    // also satisfies the narrower keys of those columns.
    let mut keys: Vec<&ForeignKey> = foreign_keys
        .iter()
        .filter(|fk| fk.child == table.oid)
        .collect();
    keys.sort_by_key(|fk| std::cmp::Reverse(fk.columns.len()));
    for fk in keys {
        let open: Vec<i16> = fk
            .columns
            .iter()
            .copied()
            .filter(|attnum| !handled.contains(attnum))
            .collect();
        if open.is_empty() {
            continue;
        }
        let required = open
            .iter()
            .any(|attnum| columns.get(attnum).is_some_and(|c| c.not_null));
        let parent = tables.get(&fk.parent).filter(|_| fk.parent != table.oid);
        let overlaps = open.len() < fk.columns.len();
        match parent {
            Some(parent) if !overlaps => {
                let parent_columns = self::columns(client, parent.oid).await?;
                let pairs: Option<Vec<(&Column, &Column)>> = fk
                    .columns
                    .iter()
                    .zip(&fk.parent_columns)
                    .map(|(attnum, parent_attnum)| {
                        Some((columns.get(attnum)?, parent_columns.get(parent_attnum)?))
                    })
                    .collect();
                let Some(pairs) = pairs else {
                    continue;
                };
                let alias = format!("p{}", parents.len());
                // One aggregate query: the arrays are aligned, element i of each is row i.
                let aggregates: Vec<String> = pairs
                    .iter()
                    .enumerate()
                    .map(|(i, (_, parent_column))| {
                        format!("array_agg({}) AS k{i}", quote_ident(&parent_column.name))
                    })
                    .collect();
                let selected: Vec<String> = pairs
                    .iter()
                    .map(|(_, parent_column)| quote_ident(&parent_column.name))
                    .collect();
                parents.push(format!(
                    "{alias} AS MATERIALIZED (SELECT {} FROM (SELECT {} FROM {} LIMIT 100000) s)",
                    aggregates.join(", "),
                    selected.join(", "),
                    parent.qualified(),
                ));
                for (i, (column, _)) in pairs.iter().enumerate() {
                    names.push(quote_ident(&column.name));
                    values.push(format!(
                        "{alias}.k{i}[1 + (g % greatest(pg_catalog.cardinality({alias}.k0), 1))]"
                    ));
                }
                handled.extend(fk.columns.iter().copied());
            }
            _ if required => {
                // One NULL column is enough: the key is not checked (MATCH SIMPLE), and the
                // NOT NULL columns get their values from other keys or their types.
                let nullable: Vec<i16> = open
                    .iter()
                    .copied()
                    .filter(|attnum| columns.get(attnum).is_some_and(|c| !c.not_null))
                    .collect();
                if !nullable.is_empty() {
                    handled.extend(nullable);
                    continue;
                }
                return Ok(Err(format!(
                    "a NOT NULL foreign key ({}) the generator cannot satisfy (self-referencing, or overlapping another key)",
                    fk.columns
                        .iter()
                        .filter_map(|attnum| columns.get(attnum).map(|c| c.name.clone()))
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
            _ => {
                // Nullable: left NULL, so the key is not checked (MATCH SIMPLE).
                handled.extend(open);
            }
        }
    }
    for (attnum, column) in &columns {
        if handled.contains(attnum) || column.skip || column.has_default {
            continue;
        }
        match value(table, column, salt) {
            Some(expression) => {
                names.push(quote_ident(&column.name));
                values.push(expression);
            }
            None if column.not_null => {
                return Ok(Err(format!(
                    "no generator for column {} of type {}",
                    column.name, column.type_name
                )));
            }
            None => {}
        }
    }
    Ok(Ok(Draft {
        target: table.qualified(),
        names,
        values,
        parents,
        columns,
    }))
}

/// One table's INSERT before it is rendered: the columns given values and their expressions
/// of `g` (the row number), the parents' keys it reads, and the columns as the catalog has
/// them (a CHECK constraint that rejects the rows is worked around by changing values).
struct Draft {
    target: String,
    names: Vec<String>,
    values: Vec<String>,
    parents: Vec<String>,
    columns: BTreeMap<i16, Column>,
}

impl Draft {
    /// `INSERT … SELECT` of `rows` rows. With no values (every column has its default) this
    /// inserts default rows. The parents' keys are read once (one row each, joined).
    fn sql(&self, rows: u64) -> String {
        let with = if self.parents.is_empty() {
            String::new()
        } else {
            format!("WITH {} ", self.parents.join(", "))
        };
        let target = if self.names.is_empty() {
            format!("{} ", self.target)
        } else {
            format!("{} ({}) ", self.target, self.names.join(", "))
        };
        let from: String = (0..self.parents.len()).map(|i| format!(", p{i}")).collect();
        let values = if self.values.is_empty() {
            // `SELECT FROM` yields rows without columns: DEFAULT VALUES, `rows` times.
            String::new()
        } else {
            self.values.join(", ")
        };
        format!(
            "{with}INSERT INTO {target}SELECT {values} FROM pg_catalog.generate_series(1, {rows}) g{from}"
        )
    }

    /// The expression given to `column` now (`None`: left to its default).
    fn expression(&self, column: &str) -> Option<&String> {
        let quoted = quote_ident(column);
        let at = self.names.iter().position(|name| *name == quoted)?;
        self.values.get(at)
    }

    /// Gives `column` the expression `value` (`None`: leaves it to its default).
    fn set(&mut self, column: &str, value: Option<String>) {
        let quoted = quote_ident(column);
        let at = self.names.iter().position(|name| *name == quoted);
        match (at, value) {
            (Some(at), Some(value)) => self.values[at] = value,
            (Some(at), None) => {
                self.names.remove(at);
                self.values.remove(at);
            }
            (None, Some(value)) => {
                self.names.push(quoted);
                self.values.push(value);
            }
            (None, None) => {}
        }
    }
}

/// A type-appropriate expression of `g` (the row number) for a column, cast to its type.
fn value(table: &Table, column: &Column, salt: &str) -> Option<String> {
    let cast = &column.type_name;
    let col = quote_ident(&column.name);
    let max = format!(
        "(SELECT coalesce(max({col}), 0) FROM {})",
        table.qualified()
    );
    let expression = match (column.base_type.as_str(), column.category.as_str()) {
        ("smallint", _) => format!("((g % 32000) + 1)::{cast}"),
        ("integer" | "bigint", _) => format!("(g + {max})::{cast}"),
        ("numeric" | "real" | "double precision" | "money", _) => {
            format!("((g % 100000) / 100.0)::{cast}")
        }
        ("boolean", _) => format!("(g % 2 = 0)::{cast}"),
        ("uuid", _) => format!("pg_catalog.md5('{salt}' || g)::uuid::{cast}"),
        ("json" | "jsonb", _) => format!("pg_catalog.jsonb_build_object('n', g)::{cast}"),
        ("bytea", _) => format!("pg_catalog.decode(pg_catalog.md5(g::text), 'hex')::{cast}"),
        ("inet" | "cidr", _) => format!("('10.0.0.0'::inet + g)::{cast}"),
        ("tsvector", _) => format!("pg_catalog.to_tsvector('simple', 'word' || g)::{cast}"),
        ("interval", _) => format!("pg_catalog.make_interval(secs => g)::{cast}"),
        ("date", _)
        | ("timestamp without time zone" | "timestamp with time zone", _)
        | ("time without time zone" | "time with time zone", _) => {
            format!("(pg_catalog.now() - pg_catalog.make_interval(secs => g * 37))::{cast}")
        }
        (_, "S") => format!("('{salt}-' || g)::{cast}"),
        (_, "A") => format!("'{{}}'::{cast}"),
        (_, "E") if column.type_kind == "e" => format!(
            "(pg_catalog.enum_range(NULL::{base}))[1 + (g % pg_catalog.cardinality(pg_catalog.enum_range(NULL::{base})))]::{cast}",
            base = column.base_type
        ),
        _ => return None,
    };
    Some(expression)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_of_the_migrations_name_the_tables() {
        let words = identifiers(&[
            "ALTER TABLE public.\"Big\" ALTER COLUMN a TYPE bigint;\nCREATE INDEX big_a ON big (a)",
        ]);
        assert!(words.contains("big"));
        assert!(words.contains("big_a"));
        assert!(!words.contains("alter table"));
    }

    #[test]
    fn parents_come_before_children_and_cycles_end() {
        let fk = |child, parent| ForeignKey {
            child,
            columns: vec![1],
            parent,
            parent_columns: vec![1],
        };
        let keys = [fk(3, 2), fk(2, 1), fk(1, 3), fk(4, 4)];
        let wanted: BTreeSet<u32> = [1, 2, 3, 4].into_iter().collect();
        let order = parents_first(&wanted, &keys);
        assert_eq!(order.len(), 4);
        let at = |oid| order.iter().position(|o| *o == oid).unwrap();
        assert!(at(2) < at(3));
    }
}
