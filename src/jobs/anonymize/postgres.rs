//! PostgreSQL side of anonymization: the rules resolved against the live schema (types, primary
//! keys, UNIQUE columns, audited tables), one batch of subjects anonymized in a transaction, the
//! audit copies scrubbed, the `gdpr_requests` ledger, the `migrate_jobs` progress rows, and the
//! whole-database search of verification.

use std::collections::{BTreeMap, BTreeSet};

use futures_util::StreamExt;
use serde_json::Value;
use tokio_postgres::{Client, GenericClient, Row};

use super::hmac::Key;
use super::rules::{
    FieldRule, Output, RowAction, Rules, Strategy, TableRule, Target, ValueKind, transform,
};
use super::verify::{Findings, Needles};
use crate::errors::Detailed;
use crate::postgres::connect::describe_error;

/// A column as the catalog describes it.
#[derive(Debug, Clone)]
pub struct PgColumn {
    pub name: String,
    /// `format_type`: `text`, `character varying(255)`, `inet`, `jsonb`, ...
    pub sql_type: String,
    /// `pg_type.typname` of the column (of the element for arrays: `_text`).
    pub typname: String,
    pub not_null: bool,
    pub unique: bool,
}

impl PgColumn {
    fn quoted(&self) -> String {
        quote_ident(&self.name)
    }

    /// The column as text, in a form that casts back to the same value.
    fn select_text(&self, alias: &str) -> String {
        match self.typname.as_str() {
            "inet" => format!("abbrev({alias}.{})", self.quoted()),
            _ => format!("{alias}.{}::text", self.quoted()),
        }
    }

    fn is_json(&self) -> bool {
        matches!(self.typname.as_str(), "json" | "jsonb")
    }

    fn is_text(&self) -> bool {
        matches!(
            self.typname.as_str(),
            "text" | "varchar" | "bpchar" | "citext" | "name"
        )
    }

    fn is_searchable(&self) -> bool {
        self.is_text()
            || self.is_json()
            || matches!(
                self.typname.as_str(),
                "inet" | "cidr" | "xml" | "_text" | "_varchar" | "_citext" | "_jsonb" | "_json"
            )
    }
}

/// A strategy on a JSON path inside a column.
#[derive(Debug, Clone)]
pub struct PathPlan {
    pub path: String,
    pub keys: Vec<String>,
    pub strategy: Strategy,
    pub kind: ValueKind,
}

/// What happens to one column.
#[derive(Debug, Clone)]
pub struct ColumnPlan {
    pub column: PgColumn,
    /// A strategy on the whole column, with the kind of its values.
    pub whole: Option<(Strategy, ValueKind)>,
    pub paths: Vec<PathPlan>,
}

/// One rule table, resolved.
#[derive(Debug, Clone)]
pub struct TablePlan {
    /// As configured (`users`), for reports.
    pub table: String,
    /// The relation name as audit_trigger() records it (TG_TABLE_NAME).
    pub relname: String,
    pub qualified: String,
    pub action: RowAction,
    pub subject: PgColumn,
    pub pk: Vec<PgColumn>,
    pub columns: Vec<ColumnPlan>,
    /// Columns whose values verification searches for (identifying kinds).
    pub identifying: Vec<(PgColumn, ValueKind)>,
    /// Has an audit_trigger() trigger: its rows have copies in the audit table.
    pub audited: bool,
    oid: u32,
}

impl TablePlan {
    fn subject_filter(&self, param: usize) -> String {
        format!(
            "t.{} = ANY(${param}::text[]::{}[])",
            self.subject.quoted(),
            self.subject.sql_type
        )
    }
}

#[derive(Debug, Clone)]
pub struct AuditTable {
    pub qualified: String,
    oid: u32,
}

/// The rules made concrete for one database.
#[derive(Debug, Clone)]
pub struct PgPlan {
    pub tables: Vec<TablePlan>,
    pub audit: Option<AuditTable>,
    /// `public.users`.
    pub subject_qualified: String,
    pub subject_relname: String,
    pub subject_pk: PgColumn,
    /// audit_trigger() honours `migrate.anonymizing` (migration V19).
    pub trigger_flag: bool,
    /// `migrate_jobs` exists (migration V19).
    pub jobs_table: bool,
    /// `gdpr_requests` exists.
    pub ledger_table: bool,
}

pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn db_error(context: &str, err: &tokio_postgres::Error) -> Detailed {
    Detailed::new(format!("{context}: {}", describe_error(err)))
}

/// Whether the error is a lock timeout (SQLSTATE 55P03).
pub fn is_lock_timeout(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<tokio_postgres::Error>()
            .and_then(|e| e.code())
            .is_some_and(|code| code.code() == "55P03")
    })
}

const RELATION_SQL: &str = "
SELECT c.oid, format('%I.%I', n.nspname, c.relname), c.relname, c.relkind::text
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.oid = to_regclass($1)";

const COLUMNS_SQL: &str = "
SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), t.typname::text, a.attnotnull,
       EXISTS (SELECT 1 FROM pg_index i
               WHERE i.indrelid = a.attrelid AND i.indisunique
                 AND (a.attnum = ANY(i.indkey::int2[])
                      OR (i.indexprs IS NOT NULL
                          AND pg_get_expr(i.indexprs, i.indrelid) ~ ('\\m' || a.attname || '\\M'))))
FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum";

const PK_SQL: &str = "
SELECT a.attname::text
FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey::int2[])
WHERE i.indrelid = $1 AND i.indisprimary
ORDER BY array_position(i.indkey::int2[], a.attnum)";

const AUDITED_SQL: &str = "
SELECT EXISTS (SELECT 1 FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
               WHERE t.tgrelid = $1 AND NOT t.tgisinternal AND p.proname = 'audit_trigger')";

struct Relation {
    oid: u32,
    qualified: String,
    relname: String,
    columns: Vec<PgColumn>,
    pk: Vec<String>,
}

async fn relation(client: &Client, name: &str) -> Result<Option<Relation>, Detailed> {
    let Some(row) = client
        .query_opt(RELATION_SQL, &[&name])
        .await
        .map_err(|e| db_error(&format!("cannot look up table {name}"), &e))?
    else {
        return Ok(None);
    };
    let oid: u32 = row.get(0);
    let columns = client
        .query(COLUMNS_SQL, &[&oid])
        .await
        .map_err(|e| db_error(&format!("cannot read the columns of {name}"), &e))?
        .iter()
        .map(|r| PgColumn {
            name: r.get(0),
            sql_type: r.get(1),
            typname: r.get(2),
            not_null: r.get(3),
            unique: r.get(4),
        })
        .collect();
    let pk = client
        .query(PK_SQL, &[&oid])
        .await
        .map_err(|e| db_error(&format!("cannot read the primary key of {name}"), &e))?
        .iter()
        .map(|r| r.get(0))
        .collect();
    Ok(Some(Relation {
        oid,
        qualified: row.get(1),
        relname: row.get(2),
        columns,
        pk,
    }))
}

fn find_column(relation: &Relation, name: &str) -> Option<PgColumn> {
    relation.columns.iter().find(|c| c.name == name).cloned()
}

/// Resolves every rule against the live schema; every problem is listed in one error.
pub async fn resolve(client: &Client, rules: &Rules) -> Result<PgPlan, Detailed> {
    let mut problems = Vec::new();
    let subject = relation(client, &rules.subject_table).await?;
    let (subject_qualified, subject_relname, subject_pk) = match &subject {
        Some(rel) if rel.pk.len() == 1 => {
            let pk = find_column(rel, &rel.pk[0]).ok_or_else(|| {
                Detailed::new(format!("{}: primary key column vanished", rel.qualified))
            })?;
            (rel.qualified.clone(), rel.relname.clone(), pk)
        }
        Some(rel) => {
            return Err(Detailed::new(format!(
                "subject table {} needs a one-column primary key",
                rel.qualified
            )));
        }
        None => {
            return Err(Detailed::new(format!(
                "subject table `{}` does not exist in this database",
                rules.subject_table
            ))
            .hint("run `migrate up` first, or set [anonymize] subject_table"));
        }
    };
    let mut tables = Vec::new();
    for rule in &rules.tables {
        match relation(client, &rule.table).await? {
            None => problems.push(format!("postgres table `{}` does not exist", rule.table)),
            Some(rel) => match plan_table(client, rule, &rel).await {
                Ok(plan) => tables.push(plan),
                Err(mut more) => problems.append(&mut more),
            },
        }
    }
    let audit = match &rules.audit_table {
        None => None,
        Some(name) => match relation(client, name).await? {
            None => None,
            Some(rel) => {
                let needed = [
                    "id",
                    "table_name",
                    "record_id",
                    "old_values",
                    "new_values",
                    "actor_id",
                    "ip_address",
                    "user_agent",
                ];
                let missing: Vec<&str> = needed
                    .iter()
                    .filter(|c| find_column(&rel, c).is_none())
                    .copied()
                    .collect();
                if missing.is_empty() {
                    Some(AuditTable {
                        qualified: rel.qualified,
                        oid: rel.oid,
                    })
                } else {
                    problems.push(format!(
                        "audit table {} lacks column(s) {}",
                        rel.qualified,
                        missing.join(", ")
                    ));
                    None
                }
            }
        },
    };
    if !problems.is_empty() {
        let mut error = Detailed::new(format!(
            "the [anonymize] rules do not fit this database ({} problem{}); nothing was changed",
            problems.len(),
            if problems.len() == 1 { "" } else { "s" }
        ));
        for problem in problems {
            error = error.context(problem);
        }
        return Err(error);
    }
    let flag_row = client
        .query_one(
            "SELECT coalesce(bool_or(prosrc LIKE '%migrate.anonymizing%'), false),
                    to_regclass('migrate_jobs') IS NOT NULL,
                    to_regclass('gdpr_requests') IS NOT NULL
             FROM pg_proc WHERE proname = 'audit_trigger'",
            &[],
        )
        .await
        .map_err(|e| db_error("cannot inspect audit_trigger()", &e))?;
    Ok(PgPlan {
        tables,
        audit,
        subject_qualified,
        subject_relname,
        subject_pk,
        trigger_flag: flag_row.get(0),
        jobs_table: flag_row.get(1),
        ledger_table: flag_row.get(2),
    })
}

async fn plan_table(
    client: &Client,
    rule: &TableRule,
    rel: &Relation,
) -> Result<TablePlan, Vec<String>> {
    let mut problems = Vec::new();
    let at = format!("postgres `{}`", rule.table);
    let subject = find_column(rel, &rule.subject);
    if subject.is_none() {
        problems.push(format!("{at}: no subject column `{}`", rule.subject));
    }
    if rel.pk.is_empty() {
        problems.push(format!(
            "{at}: the table has no primary key (batches need one)"
        ));
    }
    let pk: Vec<PgColumn> = rel.pk.iter().filter_map(|c| find_column(rel, c)).collect();
    let mut columns: Vec<ColumnPlan> = Vec::new();
    for field in &rule.fields {
        let Some(column) = find_column(rel, &field.column) else {
            problems.push(format!("{at}: no column `{}`", field.column));
            continue;
        };
        if let Err(problem) = check_field(field, &column) {
            problems.push(format!("{at}: `{}`: {problem}", field.path));
            continue;
        }
        let kind = field_kind(field, &column);
        let index = match columns.iter().position(|c| c.column.name == column.name) {
            Some(index) => index,
            None => {
                columns.push(ColumnPlan {
                    column: column.clone(),
                    whole: None,
                    paths: Vec::new(),
                });
                columns.len() - 1
            }
        };
        if field.json_path.is_empty() {
            columns[index].whole = Some((field.strategy, kind));
        } else {
            columns[index].paths.push(PathPlan {
                path: field.path.clone(),
                keys: field.json_path.clone(),
                strategy: field.strategy,
                kind,
            });
        }
    }
    for plan in &columns {
        if plan.whole.is_some() && !plan.paths.is_empty() {
            problems.push(format!(
                "{at}: column `{}` has a strategy and JSON path strategies: give one or the other",
                plan.column.name
            ));
        }
    }
    // What verification searches for: identifying columns the rule erases, or every
    // identifying column of a table whose rows are deleted.
    let mut identifying: Vec<(PgColumn, ValueKind)> = Vec::new();
    match rule.action {
        RowAction::Delete => {
            for column in &rel.columns {
                let kind = ValueKind::infer(&column.name, Some(&column.typname));
                if kind.is_identifying() && (column.is_text() || column.typname == "inet") {
                    identifying.push((column.clone(), kind));
                }
            }
        }
        RowAction::Update => {
            for plan in &columns {
                if let Some((_, kind)) = plan.whole
                    && kind.is_identifying()
                {
                    identifying.push((plan.column.clone(), kind));
                }
            }
        }
    }
    let audited = client
        .query_one(AUDITED_SQL, &[&rel.oid])
        .await
        .map(|row| row.get::<_, bool>(0))
        .map_err(|e| {
            vec![format!(
                "{at}: cannot read its triggers: {}",
                describe_error(&e)
            )]
        })?;
    if !problems.is_empty() {
        return Err(problems);
    }
    let Some(subject) = subject else {
        return Err(vec![format!("{at}: no subject column")]);
    };
    Ok(TablePlan {
        table: rule.table.clone(),
        relname: rel.relname.clone(),
        qualified: rel.qualified.clone(),
        action: rule.action,
        subject,
        pk,
        columns,
        identifying,
        audited,
        oid: rel.oid,
    })
}

fn field_kind(field: &FieldRule, column: &PgColumn) -> ValueKind {
    let explicit = match field.strategy {
        Strategy::Hash(kind) | Strategy::Fake(kind) => kind,
        _ => None,
    };
    explicit.unwrap_or_else(|| {
        if field.json_path.is_empty() {
            ValueKind::infer(&field.column, Some(&column.typname))
        } else {
            ValueKind::infer(&field.path, None)
        }
    })
}

/// Whether a strategy can be applied to a column of this type.
fn check_field(field: &FieldRule, column: &PgColumn) -> Result<(), String> {
    if !field.json_path.is_empty() {
        return if column.is_json() {
            Ok(())
        } else {
            Err(format!(
                "a JSON path needs a json or jsonb column, `{}` is {}",
                column.name, column.sql_type
            ))
        };
    }
    match field.strategy {
        Strategy::Null if column.not_null => Err(format!(
            "column is NOT NULL: use redact or fake instead of null ({})",
            column.sql_type
        )),
        Strategy::Null | Strategy::Keep => Ok(()),
        Strategy::Redact if column.is_text() || column.is_json() => Ok(()),
        Strategy::Redact => Err(format!(
            "redact writes text; `{}` is {}: use null or fake",
            column.name, column.sql_type
        )),
        Strategy::Hash(_) | Strategy::Fake(_)
            if column.is_text() || matches!(column.typname.as_str(), "inet" | "uuid") =>
        {
            Ok(())
        }
        Strategy::Hash(_) | Strategy::Fake(_) => Err(format!(
            "hash and fake need a text, inet or uuid column; `{}` is {}",
            column.name, column.sql_type
        )),
        Strategy::Delete => Err("delete applies to JSON keys only".to_string()),
    }
}

// ---------------------------------------------------------------------------------------------
// Transforming rows

/// `table.path:pk`: the stable input of fake and unique outputs.
fn row_key(table: &str, path: &str, pk: &str) -> String {
    format!("{table}.{path}:{pk}")
}

fn json_text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// Applies a strategy at `keys` inside `node`; arrays apply it to each element.
fn apply_path(
    key: &Key,
    node: &mut Value,
    keys: &[String],
    strategy: Strategy,
    target: Target<'_>,
    originals: &mut Vec<(ValueKind, String)>,
) -> bool {
    let Some((first, rest)) = keys.split_first() else {
        return false;
    };
    match node {
        Value::Array(items) => {
            let mut changed = false;
            for item in items {
                changed |= apply_path(key, item, keys, strategy, target, originals);
            }
            changed
        }
        Value::Object(map) => {
            if !rest.is_empty() {
                return match map.get_mut(first) {
                    Some(child) => apply_path(key, child, rest, strategy, target, originals),
                    None => false,
                };
            }
            let Some(current) = map.get(first) else {
                return false;
            };
            let text = json_text(current);
            let output = transform(key, strategy, target, text.as_deref());
            if let (Some(text), false) = (&text, output == Output::Unchanged) {
                originals.push((target.kind, text.clone()));
            }
            match output {
                Output::Unchanged => false,
                Output::Set(new) => {
                    map.insert(first.clone(), Value::String(new));
                    true
                }
                Output::Null => {
                    map.insert(first.clone(), Value::Null);
                    true
                }
                Output::Remove => {
                    map.remove(first);
                    true
                }
            }
        }
        _ => false,
    }
}

/// The new value of one column, or `None` when it does not change. Originals of identifying
/// values are pushed to `originals`.
fn transform_column(
    key: &Key,
    table: &str,
    plan: &ColumnPlan,
    pk: &str,
    value: Option<&str>,
    originals: &mut Vec<(ValueKind, String)>,
) -> Option<Option<String>> {
    if let Some((strategy, kind)) = plan.whole {
        let row_key = row_key(table, &plan.column.name, pk);
        let target = Target {
            kind,
            unique: plan.column.unique,
            row_key: &row_key,
        };
        let output = transform(key, strategy, target, value);
        if let (Some(v), false) = (value, output == Output::Unchanged) {
            originals.push((kind, v.to_string()));
        }
        return match output {
            Output::Unchanged => None,
            Output::Null | Output::Remove => Some(None),
            Output::Set(new) if plan.column.is_json() => {
                let encoded = Value::String(new).to_string();
                (value != Some(encoded.as_str())).then_some(Some(encoded))
            }
            Output::Set(new) => Some(Some(new)),
        };
    }
    let mut json: Value = serde_json::from_str(value?).ok()?;
    let mut changed = false;
    for path in &plan.paths {
        let row_key = row_key(table, &path.path, pk);
        let target = Target {
            kind: path.kind,
            unique: false,
            row_key: &row_key,
        };
        changed |= apply_path(key, &mut json, &path.keys, path.strategy, target, originals);
    }
    changed.then(|| Some(json.to_string()))
}

// ---------------------------------------------------------------------------------------------
// Counting, capturing, applying

/// Rows of each rule table that belong to the subjects.
pub async fn count(
    client: &impl GenericClient,
    plan: &PgPlan,
    subjects: &[String],
) -> Result<Vec<(String, u64)>, Detailed> {
    let mut counts = Vec::new();
    for table in &plan.tables {
        let sql = format!(
            "SELECT count(*) FROM {} t WHERE {}",
            table.qualified,
            table.subject_filter(1)
        );
        let n: i64 = client
            .query_one(&sql, &[&subjects])
            .await
            .map_err(|e| db_error(&format!("cannot count rows of {}", table.table), &e))?
            .get(0);
        counts.push((table.table.clone(), n as u64));
    }
    Ok(counts)
}

/// Whether the subject table has a row with this id.
pub async fn subject_exists(client: &Client, plan: &PgPlan, id: &str) -> Result<bool, Detailed> {
    let sql = format!(
        "SELECT EXISTS (SELECT 1 FROM {} WHERE {} = $1::text::{})",
        plan.subject_qualified,
        plan.subject_pk.quoted(),
        plan.subject_pk.sql_type
    );
    match client.query_one(&sql, &[&id]).await {
        Ok(row) => Ok(row.get(0)),
        // 22P02: not a valid value of the key's type (a malformed uuid).
        Err(e) if e.code().is_some_and(|c| c.code() == "22P02") => Err(Detailed::new(format!(
            "`{id}` is not a valid {} id ({})",
            plan.subject_relname, plan.subject_pk.sql_type
        ))),
        Err(e) => Err(db_error("cannot look up the subject", &e)),
    }
}

/// Adds the subject's identifying values (from every rule table) to `needles`. Values that
/// already are what their rule makes of them (a re-run) are not original values: left out.
pub async fn capture(
    client: &Client,
    key: &Key,
    plan: &PgPlan,
    subject: &str,
    needles: &mut Needles,
) -> Result<(), Detailed> {
    let subjects = vec![subject.to_string()];
    for table in &plan.tables {
        let mut select: Vec<String> = table.pk.iter().map(|c| c.select_text("t")).collect();
        select.extend(table.identifying.iter().map(|(c, _)| c.select_text("t")));
        let json_columns: Vec<&ColumnPlan> = table
            .columns
            .iter()
            .filter(|c| c.paths.iter().any(|p| p.kind.is_identifying()))
            .collect();
        select.extend(json_columns.iter().map(|c| c.column.select_text("t")));
        if select.len() == table.pk.len() {
            continue;
        }
        let sql = format!(
            "SELECT {} FROM {} t WHERE {}",
            select.join(", "),
            table.qualified,
            table.subject_filter(1)
        );
        let rows = client
            .query(&sql, &[&subjects])
            .await
            .map_err(|e| db_error(&format!("cannot read {}", table.table), &e))?;
        let n_pk = table.pk.len();
        for row in rows {
            let pk: Vec<String> = (0..n_pk).map(|i| row.get::<_, String>(i)).collect();
            let pk = pk.join(",");
            for (i, (column, kind)) in table.identifying.iter().enumerate() {
                let Some(value) = row.get::<_, Option<String>>(n_pk + i) else {
                    continue;
                };
                let strategy = table
                    .columns
                    .iter()
                    .find(|c| c.column.name == column.name)
                    .and_then(|c| c.whole.map(|(s, _)| s));
                if let Some(strategy) = strategy {
                    let row_key = row_key(&table.table, &column.name, &pk);
                    let target = Target {
                        kind: *kind,
                        unique: column.unique,
                        row_key: &row_key,
                    };
                    if transform(key, strategy, target, Some(&value)) == Output::Unchanged {
                        continue;
                    }
                }
                needles.add(*kind, &value);
            }
            for (j, column) in json_columns.iter().enumerate() {
                let index = n_pk + table.identifying.len() + j;
                let Some(text) = row.get::<_, Option<String>>(index) else {
                    continue;
                };
                let Ok(json) = serde_json::from_str::<Value>(&text) else {
                    continue;
                };
                for path in column.paths.iter().filter(|p| p.kind.is_identifying()) {
                    collect_path(&json, &path.keys, path.kind, needles);
                }
            }
        }
    }
    Ok(())
}

fn collect_path(node: &Value, keys: &[String], kind: ValueKind, needles: &mut Needles) {
    let Some((first, rest)) = keys.split_first() else {
        if let Some(text) = json_text(node) {
            needles.add(kind, &text);
        }
        return;
    };
    match node {
        Value::Array(items) => items
            .iter()
            .for_each(|item| collect_path(item, keys, kind, needles)),
        Value::Object(map) => {
            if let Some(child) = map.get(first) {
                collect_path(child, rest, kind, needles);
            }
        }
        _ => {}
    }
}

/// What one batch changed, per target (`users`, `audit_logs`, ...), and the identifying values
/// that were still present after the change (verification of the batch's own rows).
#[derive(Debug, Default)]
pub struct BatchOutcome {
    pub counts: BTreeMap<String, u64>,
    /// `table.column` -> values found after the transformation (should stay empty).
    pub leftovers: BTreeMap<String, u64>,
}

/// Anonymizes the subjects' rows in every rule table and scrubs their audit copies, inside the
/// caller's transaction (which has set `lock_timeout` and `migrate.anonymizing`).
pub async fn apply_batch(
    tx: &tokio_postgres::Transaction<'_>,
    key: &Key,
    plan: &PgPlan,
    subjects: &[String],
) -> anyhow::Result<BatchOutcome> {
    let mut outcome = BatchOutcome::default();
    for table in &plan.tables {
        match table.action {
            RowAction::Delete => {
                let pk_list = table
                    .pk
                    .iter()
                    .map(|c| c.select_text("t"))
                    .collect::<Vec<_>>()
                    .join(" || ',' || ");
                let sql = format!(
                    "DELETE FROM {} t WHERE {} RETURNING {pk_list}",
                    table.qualified,
                    table.subject_filter(1)
                );
                let rows = tx
                    .query(&sql, &[&subjects])
                    .await
                    .map_err(|e| db_error(&format!("cannot delete from {}", table.table), &e))?;
                *outcome.counts.entry(table.table.clone()).or_default() += rows.len() as u64;
                if table.audited
                    && table.pk.len() == 1
                    && let Some(audit) = &plan.audit
                {
                    let ids: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
                    let n = blank_audit_copies(tx, audit, &table.relname, &ids).await?;
                    *outcome.counts.entry(audit_target(audit)).or_default() += n;
                }
            }
            RowAction::Update => {
                let (changed, record_ids) =
                    update_rows(tx, key, table, subjects, &mut outcome).await?;
                *outcome.counts.entry(table.table.clone()).or_default() += changed;
                if table.audited
                    && table.pk.len() == 1
                    && let Some(audit) = &plan.audit
                {
                    let n = scrub_audit_copies(tx, key, audit, table, &record_ids).await?;
                    *outcome.counts.entry(audit_target(audit)).or_default() += n;
                }
            }
        }
    }
    if let Some(audit) = &plan.audit {
        // The subject's own requests: client address and user agent of what they did.
        let sql = format!(
            "UPDATE {} SET ip_address = NULL, user_agent = NULL
             WHERE actor_id = ANY($1::text[]::uuid[])
               AND (ip_address IS NOT NULL OR user_agent IS NOT NULL)",
            audit.qualified
        );
        let n = tx
            .execute(&sql, &[&subjects])
            .await
            .map_err(|e| db_error("cannot scrub the subjects' audit request data", &e))?;
        *outcome.counts.entry(audit_target(audit)).or_default() += n;
    }
    outcome.counts.retain(|_, n| *n > 0);
    Ok(outcome)
}

fn audit_target(audit: &AuditTable) -> String {
    let name = audit
        .qualified
        .rsplit('.')
        .next()
        .unwrap_or(&audit.qualified);
    format!("{} (copies)", name.trim_matches('"'))
}

/// A row's primary key as text (`a,b` for composite keys) and its parts.
struct RowChange {
    pk_parts: Vec<String>,
    /// The transformed columns as read (text form of `PgColumn::select_text`).
    old: Vec<Option<String>>,
    /// Their new values (unchanged columns carry their old value).
    new: Vec<Option<String>>,
    /// Leftovers found in the new values (counted only once the row is written).
    leftovers: Vec<String>,
}

/// Transforms the subjects' rows of a table. Returns the number of changed rows and the
/// primary keys of every row of the subjects.
///
/// Concurrency: the rows are read without locks and written with a compare-and-set UPDATE
/// (every transformed column must still hold the text that was read). Under READ COMMITTED an
/// UPDATE re-checks its conditions against the newest version of a row that a concurrent
/// transaction changed (and waits, within `lock_timeout`, for one still in progress), so a row
/// changed between the read and the write is not written with values computed from its old
/// content: it is missed, and the missed rows are read again under `FOR UPDATE` and written from
/// what they hold now. Either way no row keeps personal data a concurrent writer put there
/// before our write, and no concurrent change is overwritten with stale values. Saving the
/// locking read (a tuple lock and its WAL record per row, then a second visit for the UPDATE)
/// is worth about a tenth of a batch.
async fn update_rows(
    tx: &tokio_postgres::Transaction<'_>,
    key: &Key,
    table: &TablePlan,
    subjects: &[String],
    outcome: &mut BatchOutcome,
) -> anyhow::Result<(u64, Vec<String>)> {
    let (changes, record_ids) = read_changes(tx, key, table, subjects, false).await?;
    if changes.is_empty() {
        return Ok((0, record_ids));
    }
    let written = write_changes(tx, table, &changes).await?;
    let mut n = 0u64;
    let mut missed = false;
    for change in &changes {
        if written.contains(&change.pk_parts.join(",")) {
            n += 1;
            count_leftovers(table, change, outcome);
        } else {
            missed = true;
        }
    }
    if missed {
        // Changed (or deleted) since the read: lock what the subjects hold now and write it.
        let (changes, _) = read_changes(tx, key, table, subjects, true).await?;
        if !changes.is_empty() {
            let written = write_changes(tx, table, &changes).await?;
            for change in &changes {
                if written.contains(&change.pk_parts.join(",")) {
                    n += 1;
                    count_leftovers(table, change, outcome);
                }
            }
        }
    }
    Ok((n, record_ids))
}

fn count_leftovers(table: &TablePlan, change: &RowChange, outcome: &mut BatchOutcome) {
    for column in &change.leftovers {
        *outcome
            .leftovers
            .entry(format!("{}.{column}", table.table))
            .or_default() += 1;
    }
}

/// Reads the subjects' rows of a table (in primary-key order, so writes lock rows in that
/// order) and computes their new values. Returns the rows that change and the primary keys of
/// every row of the subjects.
async fn read_changes(
    tx: &tokio_postgres::Transaction<'_>,
    key: &Key,
    table: &TablePlan,
    subjects: &[String],
    lock: bool,
) -> anyhow::Result<(Vec<RowChange>, Vec<String>)> {
    let mut select: Vec<String> = table.pk.iter().map(|c| c.select_text("t")).collect();
    select.extend(table.columns.iter().map(|c| c.column.select_text("t")));
    let order: Vec<String> = table
        .pk
        .iter()
        .map(|c| format!("t.{}", c.quoted()))
        .collect();
    let sql = format!(
        "SELECT {} FROM {} t WHERE {} ORDER BY {}{}",
        select.join(", "),
        table.qualified,
        table.subject_filter(1),
        order.join(", "),
        if lock { " FOR UPDATE" } else { "" }
    );
    let rows = tx
        .query(&sql, &[&subjects])
        .await
        .map_err(|e| db_error(&format!("cannot read {}", table.table), &e))?;
    let n_pk = table.pk.len();
    let mut changes = Vec::new();
    let mut record_ids = Vec::with_capacity(rows.len());
    for row in &rows {
        let pk_parts: Vec<String> = (0..n_pk).map(|i| row.get::<_, String>(i)).collect();
        let pk = pk_parts.join(",");
        let mut originals = Vec::new();
        let mut old = Vec::with_capacity(table.columns.len());
        let mut new = Vec::with_capacity(table.columns.len());
        let mut changed = false;
        for (j, column) in table.columns.iter().enumerate() {
            let current: Option<String> = row.get(n_pk + j);
            match transform_column(
                key,
                &table.table,
                column,
                &pk,
                current.as_deref(),
                &mut originals,
            ) {
                Some(value) => {
                    changed = true;
                    new.push(value);
                }
                None => new.push(current.clone()),
            }
            old.push(current);
        }
        if changed {
            let leftovers = leftovers(table, &originals, &new);
            changes.push(RowChange {
                pk_parts,
                old,
                new,
                leftovers,
            });
        }
        record_ids.push(pk);
    }
    Ok((changes, record_ids))
}

/// Writes computed rows with one compare-and-set UPDATE; returns the keys of the rows written.
async fn write_changes(
    tx: &tokio_postgres::Transaction<'_>,
    table: &TablePlan,
    changes: &[RowChange],
) -> anyhow::Result<BTreeSet<String>> {
    let n_pk = table.pk.len();
    let n_col = table.columns.len();
    let mut unnest = Vec::new();
    let mut names = Vec::new();
    for i in 0..n_pk {
        unnest.push(format!("${}::text[]", i + 1));
        names.push(format!("k{i}"));
    }
    for j in 0..n_col {
        unnest.push(format!("${}::text[]", n_pk + j + 1));
        names.push(format!("c{j}"));
    }
    for j in 0..n_col {
        unnest.push(format!("${}::text[]", n_pk + n_col + j + 1));
        names.push(format!("o{j}"));
    }
    let set: Vec<String> = table
        .columns
        .iter()
        .enumerate()
        .map(|(j, c)| format!("{} = v.c{j}::{}", c.column.quoted(), c.column.sql_type))
        .collect();
    let mut conditions: Vec<String> = table
        .pk
        .iter()
        .enumerate()
        .map(|(i, c)| format!("t.{} = v.k{i}::{}", c.quoted(), c.sql_type))
        .collect();
    conditions.extend(
        table
            .columns
            .iter()
            .enumerate()
            .map(|(j, c)| format!("{} IS NOT DISTINCT FROM v.o{j}", c.column.select_text("t"))),
    );
    let returning: Vec<String> = table.pk.iter().map(|c| c.select_text("t")).collect();
    let sql = format!(
        "UPDATE {} t SET {} FROM unnest({}) AS v({}) WHERE {} RETURNING {}",
        table.qualified,
        set.join(", "),
        unnest.join(", "),
        names.join(", "),
        conditions.join(" AND "),
        returning.join(" || ',' || ")
    );
    let keys: Vec<Vec<&str>> = (0..n_pk)
        .map(|i| changes.iter().map(|c| c.pk_parts[i].as_str()).collect())
        .collect();
    let news: Vec<Vec<Option<&str>>> = (0..n_col)
        .map(|j| changes.iter().map(|c| c.new[j].as_deref()).collect())
        .collect();
    let olds: Vec<Vec<Option<&str>>> = (0..n_col)
        .map(|j| changes.iter().map(|c| c.old[j].as_deref()).collect())
        .collect();
    let mut params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = Vec::new();
    for k in &keys {
        params.push(k);
    }
    for v in &news {
        params.push(v);
    }
    for o in &olds {
        params.push(o);
    }
    let rows = tx
        .query(&sql, &params)
        .await
        .map_err(|e| db_error(&format!("cannot update {}", table.table), &e))?;
    Ok(rows.iter().map(|r| r.get::<_, String>(0)).collect())
}

/// Verification of a row's own transformation: none of its identifying originals may remain.
/// Returns the columns whose new value still holds one.
fn leftovers(
    table: &TablePlan,
    originals: &[(ValueKind, String)],
    new_values: &[Option<String>],
) -> Vec<String> {
    let mut needles = Needles::default();
    for (kind, value) in originals {
        needles.add(*kind, value);
    }
    if needles.is_empty() {
        return Vec::new();
    }
    table
        .columns
        .iter()
        .zip(new_values)
        .filter(|(_, value)| {
            value
                .as_deref()
                .is_some_and(|value| !needles.find(value).is_empty())
        })
        .map(|(column, _)| column.column.name.clone())
        .collect()
}

/// Applies the table's column strategies to the copies of its rows in the audit table. Read
/// without locks and written with a compare-and-set UPDATE, as rows are (see `update_rows`):
/// copies changed in between are read again under `FOR UPDATE`.
async fn scrub_audit_copies(
    tx: &tokio_postgres::Transaction<'_>,
    key: &Key,
    audit: &AuditTable,
    table: &TablePlan,
    record_ids: &[String],
) -> anyhow::Result<u64> {
    if record_ids.is_empty() {
        return Ok(0);
    }
    let copies = read_audit_copies(tx, key, audit, table, record_ids, false).await?;
    if copies.is_empty() {
        return Ok(0);
    }
    let written = write_audit_copies(tx, audit, &copies).await?;
    let mut n = written.len() as u64;
    if written.len() < copies.len() {
        let missed: Vec<String> = copies
            .iter()
            .filter(|c| !written.contains(&c.id))
            .map(|c| c.record.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let copies = read_audit_copies(tx, key, audit, table, &missed, true).await?;
        n += write_audit_copies(tx, audit, &copies).await?.len() as u64;
    }
    Ok(n)
}

/// An audit copy whose values change: its id, record, old and new values before and after.
struct AuditChange {
    id: String,
    record: String,
    before: [Option<String>; 2],
    after: [Option<String>; 2],
}

async fn read_audit_copies(
    tx: &tokio_postgres::Transaction<'_>,
    key: &Key,
    audit: &AuditTable,
    table: &TablePlan,
    record_ids: &[String],
    lock: bool,
) -> anyhow::Result<Vec<AuditChange>> {
    let sql = format!(
        "SELECT id::text, record_id::text, old_values::text, new_values::text FROM {}
         WHERE table_name = $1 AND record_id = ANY($2::text[]::uuid[])
           AND (old_values IS NOT NULL OR new_values IS NOT NULL){}",
        audit.qualified,
        if lock { " FOR UPDATE" } else { "" }
    );
    let rows = tx
        .query(&sql, &[&table.relname, &record_ids])
        .await
        .map_err(|e| db_error("cannot read the audit copies", &e))?;
    let mut changes = Vec::new();
    for row in &rows {
        let record: String = row.get(1);
        let before: [Option<String>; 2] = [row.get(2), row.get(3)];
        let mut changed = false;
        let after = before.clone().map(|text| {
            let text = text?;
            let Ok(mut json) = serde_json::from_str::<Value>(&text) else {
                return Some(text);
            };
            if scrub_audit_json(key, table, &record, &mut json) {
                changed = true;
                Some(json.to_string())
            } else {
                Some(text)
            }
        });
        if changed {
            changes.push(AuditChange {
                id: row.get(0),
                record,
                before,
                after,
            });
        }
    }
    Ok(changes)
}

async fn write_audit_copies(
    tx: &tokio_postgres::Transaction<'_>,
    audit: &AuditTable,
    changes: &[AuditChange],
) -> anyhow::Result<BTreeSet<String>> {
    if changes.is_empty() {
        return Ok(BTreeSet::new());
    }
    let sql = format!(
        "UPDATE {} a SET old_values = v.o::jsonb, new_values = v.n::jsonb
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])
              AS v(id, o, n, bo, bn)
         WHERE a.id = v.id::uuid
           AND a.old_values::text IS NOT DISTINCT FROM v.bo
           AND a.new_values::text IS NOT DISTINCT FROM v.bn
         RETURNING a.id::text",
        audit.qualified
    );
    let ids: Vec<&str> = changes.iter().map(|c| c.id.as_str()).collect();
    let column = |f: fn(&AuditChange) -> &Option<String>| -> Vec<Option<&str>> {
        changes.iter().map(|c| f(c).as_deref()).collect()
    };
    let olds = column(|c| &c.after[0]);
    let news = column(|c| &c.after[1]);
    let before_olds = column(|c| &c.before[0]);
    let before_news = column(|c| &c.before[1]);
    tx.query(&sql, &[&ids, &olds, &news, &before_olds, &before_news])
        .await
        .map(|rows| rows.iter().map(|r| r.get::<_, String>(0)).collect())
        .map_err(|e| db_error("cannot scrub the audit copies", &e).into())
}

/// The audit copy of a row is the row as JSON: the same strategies apply to its keys, with the
/// same inputs, so the copy ends up with exactly the values the row got.
fn scrub_audit_json(key: &Key, table: &TablePlan, record: &str, json: &mut Value) -> bool {
    let Value::Object(map) = json else {
        return false;
    };
    let mut changed = false;
    let mut ignored = Vec::new();
    for plan in &table.columns {
        let Some(current) = map.get_mut(&plan.column.name) else {
            continue;
        };
        if let Some((strategy, kind)) = plan.whole {
            let text = json_text(current);
            let row_key = row_key(&table.table, &plan.column.name, record);
            let target = Target {
                kind,
                unique: plan.column.unique,
                row_key: &row_key,
            };
            match transform(key, strategy, target, text.as_deref()) {
                Output::Unchanged => {}
                Output::Set(new) => {
                    *current = Value::String(new);
                    changed = true;
                }
                Output::Null | Output::Remove => {
                    *current = Value::Null;
                    changed = true;
                }
            }
        }
        for path in &plan.paths {
            let row_key = row_key(&table.table, &path.path, record);
            let target = Target {
                kind: path.kind,
                unique: false,
                row_key: &row_key,
            };
            changed |= apply_path(
                key,
                current,
                &path.keys,
                path.strategy,
                target,
                &mut ignored,
            );
        }
    }
    changed
}

/// Rows deleted by a rule leave their audit copies: blank them entirely.
async fn blank_audit_copies(
    tx: &tokio_postgres::Transaction<'_>,
    audit: &AuditTable,
    relname: &str,
    ids: &[String],
) -> anyhow::Result<u64> {
    if ids.is_empty() {
        return Ok(0);
    }
    let sql = format!(
        "UPDATE {} SET old_values = NULL, new_values = NULL
         WHERE table_name = $1 AND record_id = ANY($2::text[]::uuid[])
           AND (old_values IS NOT NULL OR new_values IS NOT NULL)",
        audit.qualified
    );
    tx.execute(&sql, &[&relname, &ids])
        .await
        .map_err(|e| db_error("cannot blank the audit copies", &e).into())
}

/// Starts a batch transaction: `lock_timeout`, and the flag that makes audit_trigger() record
/// the anonymizing UPDATE without values.
///
/// Bulk batches (`asynchronous_commit`) also set `synchronous_commit = off`: their commit does
/// not wait for the WAL flush. That is safe here because the job's progress (`migrate_jobs`) is
/// written in the same transaction: a commit lost to a server crash loses the batch and its
/// progress together, and the resumed job simply does that batch again (every output is a
/// deterministic function of the key and the row, so redoing it changes nothing else). Later
/// synchronous commits (the job's end) flush the WAL of every earlier batch.
pub async fn begin_batch<'a>(
    client: &'a mut Client,
    lock_timeout: std::time::Duration,
    asynchronous_commit: bool,
) -> anyhow::Result<tokio_postgres::Transaction<'a>> {
    let tx = client
        .transaction()
        .await
        .map_err(|e| db_error("cannot begin a transaction", &e))?;
    tx.batch_execute(&format!(
        "SET LOCAL lock_timeout = '{}ms'; SET LOCAL migrate.anonymizing = 'on';{}",
        lock_timeout.as_millis().max(1),
        if asynchronous_commit {
            " SET LOCAL synchronous_commit = off;"
        } else {
            ""
        }
    ))
    .await
    .map_err(|e| db_error("cannot set the batch's lock_timeout", &e))?;
    Ok(tx)
}

// ---------------------------------------------------------------------------------------------
// Ledger (gdpr_requests)

/// The latest request of a type for a subject: (id, status).
pub async fn latest_request(
    client: &impl GenericClient,
    request_type: &str,
    subject_hmac: &str,
) -> Result<Option<(String, String)>, Detailed> {
    client
        .query_opt(
            "SELECT id::text, status::text FROM gdpr_requests
             WHERE subject_hmac = $1 AND request_type = $2::text::gdpr_request_type
             ORDER BY requested_at DESC, created_at DESC LIMIT 1",
            &[&subject_hmac, &request_type],
        )
        .await
        .map(|row| row.map(|r| (r.get(0), r.get(1))))
        .map_err(|e| db_error("cannot read gdpr_requests", &e))
}

/// Inserts a request row; returns its id.
pub async fn insert_request(
    client: &impl GenericClient,
    request_type: &str,
    subject_hmac: &str,
    status: &str,
    counts: &Value,
) -> Result<String, Detailed> {
    client
        .query_one(
            "INSERT INTO gdpr_requests (request_type, subject_hmac, status, counts, completed_at)
             VALUES ($1::text::gdpr_request_type, $2, $3::text::gdpr_request_status, $4::text::jsonb,
                     CASE WHEN $3 IN ('completed', 'failed') THEN now() END)
             RETURNING id::text",
            &[&request_type, &subject_hmac, &status, &counts.to_string()],
        )
        .await
        .map(|row| row.get(0))
        .map_err(|e| db_error("cannot record the request in gdpr_requests", &e))
}

/// Closes a request row: status, counts, error (never personal data), completion time.
pub async fn finish_request(
    client: &impl GenericClient,
    id: &str,
    status: &str,
    counts: &Value,
    error: Option<&str>,
) -> Result<(), Detailed> {
    client
        .execute(
            "UPDATE gdpr_requests SET status = $2::text::gdpr_request_status,
                    counts = $3::text::jsonb, error = $4, completed_at = now()
             WHERE id = $1::text::uuid",
            &[&id, &status, &counts.to_string(), &error],
        )
        .await
        .map(|_| ())
        .map_err(|e| db_error("cannot update gdpr_requests", &e))
}

/// Records an erasure for every subject of a bulk batch that has no completed one yet.
pub async fn ledger_batch(
    tx: &tokio_postgres::Transaction<'_>,
    hmacs: &[String],
) -> anyhow::Result<u64> {
    tx.execute(
        "INSERT INTO gdpr_requests (request_type, subject_hmac, status, counts, completed_at)
         SELECT 'erasure', h, 'completed', '{\"job\": \"anonymize policy\"}', now()
         FROM unnest($1::text[]) AS h
         WHERE NOT EXISTS (SELECT 1 FROM gdpr_requests g
                           WHERE g.subject_hmac = h AND g.request_type = 'erasure'
                             AND g.status = 'completed')",
        &[&hmacs],
    )
    .await
    .map_err(|e| db_error("cannot record the erasures in gdpr_requests", &e).into())
}

// ---------------------------------------------------------------------------------------------
// Job state (migrate_jobs)

/// A job's recorded state.
#[derive(Debug, Clone)]
pub struct JobState {
    pub status: String,
    pub fingerprint: String,
    pub position: Option<String>,
    pub done: u64,
    pub counts: BTreeMap<String, u64>,
}

pub async fn job_state(client: &Client, job: &str) -> Result<Option<JobState>, Detailed> {
    let row = client
        .query_opt(
            "SELECT status, fingerprint, position, done, counts::text FROM migrate_jobs WHERE job = $1",
            &[&job],
        )
        .await
        .map_err(|e| db_error("cannot read migrate_jobs", &e))?;
    Ok(row.map(|r: Row| JobState {
        status: r.get(0),
        fingerprint: r.get(1),
        position: r.get(2),
        done: r.get::<_, i64>(3) as u64,
        counts: serde_json::from_str(&r.get::<_, String>(4)).unwrap_or_default(),
    }))
}

/// Starts (or restarts) a job from the beginning.
pub async fn job_start(client: &Client, job: &str, fingerprint: &str) -> Result<(), Detailed> {
    client
        .execute(
            "INSERT INTO migrate_jobs (job, status, fingerprint)
             VALUES ($1, 'running', $2)
             ON CONFLICT (job) DO UPDATE SET status = 'running', fingerprint = $2, position = NULL,
                 done = 0, batches = 0, counts = '{}', started_at = now(), updated_at = now(),
                 completed_at = NULL",
            &[&job, &fingerprint],
        )
        .await
        .map(|_| ())
        .map_err(|e| db_error("cannot record the job in migrate_jobs", &e))
}

/// Records a committed batch, in the batch's own transaction.
pub async fn job_advance(
    tx: &tokio_postgres::Transaction<'_>,
    job: &str,
    position: &str,
    subjects: u64,
    counts: &BTreeMap<String, u64>,
) -> anyhow::Result<()> {
    tx.execute(
        "UPDATE migrate_jobs SET position = $2, done = done + $3, batches = batches + 1,
             counts = (SELECT coalesce(jsonb_object_agg(k, coalesce((counts ->> k)::bigint, 0)
                                                          + coalesce((d ->> k)::bigint, 0)), '{}')
                       FROM jsonb_object_keys(counts || d) AS k),
             updated_at = now()
         FROM (SELECT $4::text::jsonb AS d) AS delta
         WHERE job = $1",
        &[
            &job,
            &position,
            &(subjects as i64),
            &serde_json::to_string(counts).unwrap_or_else(|_| "{}".into()),
        ],
    )
    .await
    .map(|_| ())
    .map_err(|e| db_error("cannot record the batch in migrate_jobs", &e).into())
}

pub async fn job_finish(client: &Client, job: &str, status: &str) -> Result<(), Detailed> {
    client
        .execute(
            "UPDATE migrate_jobs SET status = $2, updated_at = now(),
                 completed_at = CASE WHEN $2 = 'completed' THEN now() END
             WHERE job = $1",
            &[&job, &status],
        )
        .await
        .map(|_| ())
        .map_err(|e| db_error("cannot update migrate_jobs", &e))
}

/// The next batch of subject ids after `position`, in primary-key order.
pub async fn next_subjects(
    client: &Client,
    plan: &PgPlan,
    condition: &str,
    position: Option<&str>,
    limit: u32,
) -> Result<Vec<String>, Detailed> {
    let pk = plan.subject_pk.quoted();
    // `ORDER BY` names the table's column: an unqualified `{pk}` would be the output column
    // (the key as text), a sort of every remaining row on each batch instead of an index scan.
    let sql = format!(
        "SELECT {pk}::text AS subject_key FROM {} WHERE ({condition})
           AND ($1::text IS NULL OR {pk} > $1::text::{})
         ORDER BY {}.{pk} LIMIT $2",
        plan.subject_qualified, plan.subject_pk.sql_type, plan.subject_qualified
    );
    client
        .query(&sql, &[&position, &i64::from(limit)])
        .await
        .map(|rows| rows.iter().map(|r| r.get(0)).collect())
        .map_err(|e| {
            db_error("cannot select the policy's subjects", &e)
                .hint("check the policy's `subjects` condition: it is SQL on the subject table")
        })
}

/// Subjects of the policy left after `position`.
pub async fn count_subjects(
    client: &Client,
    plan: &PgPlan,
    condition: &str,
    position: Option<&str>,
) -> Result<u64, Detailed> {
    let pk = plan.subject_pk.quoted();
    let sql = format!(
        "SELECT count(*) FROM {} WHERE ({condition})
           AND ($1::text IS NULL OR {pk} > $1::text::{})",
        plan.subject_qualified, plan.subject_pk.sql_type
    );
    client
        .query_one(&sql, &[&position])
        .await
        .map(|row| row.get::<_, i64>(0) as u64)
        .map_err(|e| {
            db_error("cannot count the policy's subjects", &e)
                .hint("check the policy's `subjects` condition: it is SQL on the subject table")
        })
}

/// Which of `ids` are subjects of the policy (for sweeping Redis keys).
pub async fn which_subjects(
    client: &Client,
    plan: &PgPlan,
    condition: &str,
    ids: &[String],
) -> Result<BTreeSet<String>, Detailed> {
    if ids.is_empty() {
        return Ok(BTreeSet::new());
    }
    let pk = plan.subject_pk.quoted();
    let sql = if plan.subject_pk.sql_type == "uuid" {
        format!(
            "SELECT {pk}::text FROM {} WHERE ({condition}) AND {pk} = ANY($1::text[]::uuid[])",
            plan.subject_qualified
        )
    } else {
        format!(
            "SELECT {pk}::text FROM {} WHERE ({condition}) AND {pk}::text = ANY($1::text[])",
            plan.subject_qualified
        )
    };
    client
        .query(&sql, &[&ids])
        .await
        .map(|rows| rows.iter().map(|r| r.get(0)).collect())
        .map_err(|e| db_error("cannot match ids to the policy's subjects", &e))
}

// ---------------------------------------------------------------------------------------------
// Verification: the whole database

const RELATIONS_SQL: &str = "
SELECT c.oid, format('%I.%I', n.nspname, c.relname), c.relkind::text, c.relispopulated
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'm') AND NOT c.relispartition
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'
ORDER BY 2";

/// Searches every table, partition (through its parent, detached ones on their own) and
/// materialized view for the needles, streaming rows with COPY: the values never leave this
/// process. Hits in another subject's own identifying columns mark a value as shared.
pub async fn search(
    client: &Client,
    plan: &PgPlan,
    subjects: &[String],
    needles: &Needles,
    findings: &mut Findings,
) -> Result<Vec<String>, Detailed> {
    let mut notes = Vec::new();
    let relations = client
        .query(RELATIONS_SQL, &[])
        .await
        .map_err(|e| db_error("cannot list the tables", &e))?;
    for relation in relations {
        let oid: u32 = relation.get(0);
        let qualified: String = relation.get(1);
        let populated: bool = relation.get(3);
        if !populated {
            notes.push(format!(
                "materialized view {qualified} is not populated: not searched"
            ));
            continue;
        }
        let columns: Vec<PgColumn> = client
            .query(COLUMNS_SQL, &[&oid])
            .await
            .map_err(|e| db_error(&format!("cannot read the columns of {qualified}"), &e))?
            .iter()
            .map(|r| PgColumn {
                name: r.get(0),
                sql_type: r.get(1),
                typname: r.get(2),
                not_null: r.get(3),
                unique: r.get(4),
            })
            .filter(PgColumn::is_searchable)
            .collect();
        if columns.is_empty() {
            continue;
        }
        let rule = plan.tables.iter().find(|t| t.oid == oid);
        let is_audit = plan.audit.as_ref().is_some_and(|a| a.oid == oid);
        let owner = match (rule, is_audit) {
            (Some(table), _) => format!("t.{}::text", table.subject.quoted()),
            (None, true) => format!(
                "CASE WHEN t.table_name = '{}' THEN t.record_id::text END",
                plan.subject_relname.replace('\'', "''")
            ),
            (None, false) => "NULL::text".to_string(),
        };
        // Columns in which another subject's hit means "their value", not "our leftover".
        let owned: Vec<bool> = columns
            .iter()
            .map(|c| match (rule, is_audit) {
                (Some(table), _) => table.identifying.iter().any(|(i, _)| i.name == c.name),
                (None, true) => matches!(c.name.as_str(), "old_values" | "new_values"),
                _ => false,
            })
            .collect();
        let select: Vec<String> = columns
            .iter()
            .map(|c| match c.typname.as_str() {
                "inet" | "cidr" => format!("host(t.{})", c.quoted()),
                _ => format!("t.{}::text", c.quoted()),
            })
            .collect();
        let sql = format!(
            "COPY (SELECT {owner}, {} FROM {qualified} t) TO STDOUT",
            select.join(", ")
        );
        let stream = client
            .copy_out(&sql)
            .await
            .map_err(|e| db_error(&format!("cannot read {qualified}"), &e))?;
        findings.searched.tables += 1;
        let display = qualified
            .strip_prefix("public.")
            .unwrap_or(&qualified)
            .to_string();
        let mut stream = std::pin::pin!(stream);
        let mut pending: Vec<u8> = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| db_error(&format!("cannot read {qualified}"), &e))?;
            pending.extend_from_slice(&chunk);
            while let Some(end) = pending.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = pending.drain(..=end).collect();
                let line = String::from_utf8_lossy(&line[..line.len() - 1]).into_owned();
                scan_line(
                    &line, &columns, &owned, &display, subjects, needles, findings,
                );
            }
        }
    }
    Ok(notes)
}

fn scan_line(
    line: &str,
    columns: &[PgColumn],
    owned: &[bool],
    table: &str,
    subjects: &[String],
    needles: &Needles,
    findings: &mut Findings,
) {
    findings.searched.rows += 1;
    let mut fields = line.split('\t');
    let owner = fields.next().map(unescape_copy);
    let other_subject = owner
        .flatten()
        .is_some_and(|o| !subjects.iter().any(|s| o.eq_ignore_ascii_case(s)));
    for ((field, column), owned) in fields.zip(columns).zip(owned) {
        let Some(text) = unescape_copy(field) else {
            continue;
        };
        let found = needles.find(&text);
        if !found.is_empty() {
            let location = format!("{table}.{}", column.name);
            findings.record("postgres", &location, &found, other_subject && *owned);
        }
    }
}

/// A field of COPY's text format: `\N` is NULL, backslash escapes are undone.
fn unescape_copy(field: &str) -> Option<String> {
    if field == "\\N" {
        return None;
    }
    if !field.contains('\\') {
        return Some(field.to_string());
    }
    let mut out = String::with_capacity(field.len());
    let mut chars = field.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('b') | Some('f') | Some('v') => out.push(' '),
            Some(other) => out.push(other),
            None => {}
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> Key {
        Key::new(b"a key for the postgres tests".to_vec()).unwrap()
    }

    fn column(name: &str, typname: &str, unique: bool) -> PgColumn {
        PgColumn {
            name: name.into(),
            sql_type: typname.into(),
            typname: typname.into(),
            not_null: false,
            unique,
        }
    }

    #[test]
    fn copy_fields_are_unescaped() {
        assert_eq!(unescape_copy("\\N"), None);
        assert_eq!(unescape_copy("a\\tb\\nc\\\\d").unwrap(), "a\tb\nc\\d");
    }

    #[test]
    fn json_paths_are_applied_in_objects_and_arrays() {
        let key = key();
        let plan = ColumnPlan {
            column: column("metadata", "jsonb", false),
            whole: None,
            paths: vec![
                PathPlan {
                    path: "metadata.ip".into(),
                    keys: vec!["ip".into()],
                    strategy: Strategy::Delete,
                    kind: ValueKind::Ip,
                },
                PathPlan {
                    path: "metadata.who.email".into(),
                    keys: vec!["who".into(), "email".into()],
                    strategy: Strategy::Hash(None),
                    kind: ValueKind::Email,
                },
            ],
        };
        let mut originals = Vec::new();
        let text = r#"{"ip": "10.0.0.1", "who": [{"email": "A@b.org"}, {"x": 1}], "keep": 2}"#;
        let new = transform_column(&key, "t", &plan, "1", Some(text), &mut originals)
            .unwrap()
            .unwrap();
        let json: Value = serde_json::from_str(&new).unwrap();
        assert!(json.get("ip").is_none());
        let email = json["who"][0]["email"].as_str().unwrap();
        assert!(email.starts_with("anon+"), "{email}");
        assert_eq!(json["keep"], 2);
        assert_eq!(originals.len(), 2);
        // A second pass changes nothing.
        assert!(transform_column(&key, "t", &plan, "1", Some(&new), &mut originals).is_none());
    }

    #[test]
    fn audit_copies_get_the_values_their_row_got() {
        let key = key();
        let table = TablePlan {
            table: "users".into(),
            relname: "users".into(),
            qualified: "public.users".into(),
            action: RowAction::Update,
            subject: column("id", "uuid", true),
            pk: vec![column("id", "uuid", true)],
            columns: vec![
                ColumnPlan {
                    column: column("email", "citext", true),
                    whole: Some((Strategy::Hash(None), ValueKind::Email)),
                    paths: vec![],
                },
                ColumnPlan {
                    column: column("name", "text", false),
                    whole: Some((Strategy::Fake(None), ValueKind::Name)),
                    paths: vec![],
                },
            ],
            identifying: vec![],
            audited: true,
            oid: 0,
        };
        let mut originals = Vec::new();
        let row_email = transform_column(
            &key,
            "users",
            &table.columns[0],
            "u1",
            Some("z@x.org"),
            &mut originals,
        )
        .unwrap()
        .unwrap();
        let mut copy: Value =
            serde_json::from_str(r#"{"id": "u1", "email": "z@x.org", "name": "Zed"}"#).unwrap();
        assert!(scrub_audit_json(&key, &table, "u1", &mut copy));
        assert_eq!(copy["email"].as_str().unwrap(), row_email);
        assert_ne!(copy["name"].as_str().unwrap(), "Zed");
        assert!(!scrub_audit_json(&key, &table, "u1", &mut copy));
    }
}
