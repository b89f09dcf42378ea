//! PostgreSQL side of anonymization: the rules resolved against the live schema (types, primary
//! keys, UNIQUE columns, audited tables), one batch of subjects anonymized in a transaction, the
//! audit copies scrubbed, the `gdpr_requests` ledger, the `migrate_jobs` progress rows, and the
//! whole-database search of verification.

use std::collections::{BTreeMap, BTreeSet};

use futures_util::StreamExt;
use serde_json::Value;
use tokio_postgres::{Client, GenericClient};

use super::hmac::Key;
use super::needles::{Fingerprinter, Needles};
use super::rules::{
    FieldRule, MarkValue, Output, RowAction, Rules, Strategy, TableRule, Target, ValueKind,
    transform,
};
use crate::errors::{DbError, Detailed};
use tokio_postgres::error::SqlState;

mod apply;
mod transform;

pub use apply::*;
pub(in crate::jobs::anonymize) use transform::*;

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
    pub(super) fn quoted(&self) -> String {
        quote_ident(&self.name)
    }

    /// The column as text, in a form that casts back to the same value.
    pub(super) fn select_text(&self, alias: &str) -> String {
        match self.typname.as_str() {
            "inet" => format!("abbrev({alias}.{})", self.quoted()),
            _ => format!("{alias}.{}::text", self.quoted()),
        }
    }

    pub(super) fn is_json(&self) -> bool {
        matches!(self.typname.as_str(), "json" | "jsonb")
    }

    pub(super) fn is_text(&self) -> bool {
        matches!(
            self.typname.as_str(),
            "text" | "varchar" | "bpchar" | "citext" | "name"
        )
    }

    pub(super) fn is_searchable(&self) -> bool {
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
    pub(super) oid: u32,
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
    pub(super) oid: u32,
}

/// A table whose rows, whoever they belong to, have columns in which subjects' values are
/// replaced, or columns that reference subjects.
#[derive(Debug, Clone)]
pub struct ReplacePlan {
    pub table: String,
    pub relname: String,
    pub qualified: String,
    pub pk: Vec<PgColumn>,
    /// Text or JSON columns in which the values are replaced.
    pub replace: Vec<PgColumn>,
    /// uuid, uuid[] or text columns naming the subjects a row is about.
    pub refs: Vec<PgColumn>,
    /// Its rows have copies in the audit table: the same columns are replaced there.
    pub audited: bool,
    pub(super) oid: u32,
}

/// One column the mark of an erased subject's row sets.
#[derive(Debug, Clone)]
pub struct MarkPlan {
    pub column: PgColumn,
    pub value: MarkValue,
}

impl MarkPlan {
    /// The SET expression (`$param` holds the value of a constant mark).
    fn set(&self, param: usize) -> String {
        let column = self.column.quoted();
        match &self.value {
            MarkValue::Now => format!("{column} = coalesce(t.{column}, now())"),
            MarkValue::Value(_) => {
                format!("{column} = ${param}::text::{}", self.column.sql_type)
            }
        }
    }

    /// Whether a row still needs the mark (`$param` as in `set`).
    fn needed(&self, param: usize) -> String {
        let column = self.column.quoted();
        match &self.value {
            MarkValue::Now => format!("t.{column} IS NULL"),
            MarkValue::Value(_) => format!(
                "t.{column} IS DISTINCT FROM ${param}::text::{}",
                self.column.sql_type
            ),
        }
    }

    fn param(&self) -> Option<&str> {
        match &self.value {
            MarkValue::Now => None,
            MarkValue::Value(v) => Some(v),
        }
    }
}

/// The rules made concrete for one database.
#[derive(Debug, Clone)]
pub struct PgPlan {
    /// Tables with a subject column: the subjects' own rows.
    pub tables: Vec<TablePlan>,
    /// Tables with replace or reference columns: every row.
    pub replace: Vec<ReplacePlan>,
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
    /// `gdpr_erasures` and `migrate_jobs.key_fingerprint` exist (migration V20).
    pub erasures_table: bool,
    /// How an erased subject's row is marked.
    pub mark: Vec<MarkPlan>,
    /// Every enum label of the database, lower-case: a one-word name that is also a label is
    /// not searched alone.
    pub labels: Vec<String>,
}

impl PgPlan {
    /// The subject table's rule, if it has one.
    pub fn subject_rule(&self) -> Option<&TablePlan> {
        self.tables
            .iter()
            .find(|t| t.qualified == self.subject_qualified)
    }
}

pub use crate::postgres::quote::ident as quote_ident;

/// A PostgreSQL error, kept as the driver's error under what was being done.
pub(super) fn db_error(doing: &str, err: tokio_postgres::Error) -> DbError {
    DbError::new(doing, err)
}

/// Whether the error is a lock timeout (SQLSTATE 55P03) anywhere in its chain.
pub fn is_lock_timeout(err: &anyhow::Error) -> bool {
    crate::errors::sqlstate(err) == Some(SqlState::LOCK_NOT_AVAILABLE)
}

const RELATION_SQL: &str = "
SELECT c.oid, format('%I.%I', n.nspname, c.relname), c.relname, c.relkind::text
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.oid = to_regclass($1)";

pub(super) const COLUMNS_SQL: &str = "
SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), t.typname::text, a.attnotnull,
       EXISTS (SELECT 1 FROM pg_index i
               WHERE i.indrelid = a.attrelid AND i.indisunique
                 AND (a.attnum = ANY(i.indkey::int2[])
                      OR (i.indexprs IS NOT NULL
                          AND pg_get_expr(i.indexprs, i.indrelid) ~ ('\\m' || a.attname || '\\M'))))
FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum";

pub(super) const PK_SQL: &str = "
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

async fn relation(client: &Client, name: &str) -> anyhow::Result<Option<Relation>> {
    let Some(row) = client
        .query_opt(RELATION_SQL, &[&name])
        .await
        .map_err(|e| db_error(&format!("cannot look up table {name}"), e))?
    else {
        return Ok(None);
    };
    let oid: u32 = row.get(0);
    let columns = client
        .query(COLUMNS_SQL, &[&oid])
        .await
        .map_err(|e| db_error(&format!("cannot read the columns of {name}"), e))?
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
        .map_err(|e| db_error(&format!("cannot read the primary key of {name}"), e))?
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
pub async fn resolve(client: &Client, rules: &Rules) -> anyhow::Result<PgPlan> {
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
            ))
            .into());
        }
        None => {
            return Err(Detailed::new(format!(
                "subject table `{}` does not exist in this database",
                rules.subject_table
            ))
            .hint("run `migrate up` first, or set [anonymize] subject_table")
            .into());
        }
    };
    let mut tables = Vec::new();
    let mut replace = Vec::new();
    for rule in &rules.tables {
        let Some(rel) = relation(client, &rule.table).await? else {
            problems.push(format!("postgres table `{}` does not exist", rule.table));
            continue;
        };
        if rule.subject.is_some() {
            match plan_table(client, rule, &rel).await? {
                Ok(plan) => tables.push(plan),
                Err(mut more) => problems.append(&mut more),
            }
        }
        if !rule.replace.is_empty() || !rule.refs.is_empty() {
            match plan_replace(client, rule, &rel).await? {
                Ok(plan) => replace.push(plan),
                Err(mut more) => problems.append(&mut more),
            }
        }
    }
    let mark = match &subject {
        Some(rel) => plan_mark(client, rules, rel, &mut problems).await?,
        None => Vec::new(),
    };
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
        return Err(error.into());
    }
    let flag_row = client
        .query_one(
            "SELECT coalesce(bool_or(prosrc LIKE '%migrate.anonymizing%'), false),
                    to_regclass('migrate_jobs') IS NOT NULL,
                    to_regclass('gdpr_requests') IS NOT NULL,
                    to_regclass('gdpr_erasures') IS NOT NULL,
                    ARRAY(SELECT DISTINCT lower(enumlabel::text) FROM pg_enum ORDER BY 1)
             FROM pg_proc WHERE proname = 'audit_trigger'",
            &[],
        )
        .await
        .map_err(|e| db_error("cannot inspect audit_trigger()", e))?;
    Ok(PgPlan {
        tables,
        replace,
        audit,
        subject_qualified,
        subject_relname,
        subject_pk,
        trigger_flag: flag_row.get(0),
        jobs_table: flag_row.get(1),
        ledger_table: flag_row.get(2),
        erasures_table: flag_row.get(3),
        mark,
        labels: flag_row.get(4),
    })
}

/// Resolves `[anonymize] mark` against the subject table; a value the column's type refuses is
/// reported here, before anything runs.
async fn plan_mark(
    client: &Client,
    rules: &Rules,
    subject: &Relation,
    problems: &mut Vec<String>,
) -> anyhow::Result<Vec<MarkPlan>> {
    let mut mark = Vec::new();
    for (name, value) in &rules.mark {
        let Some(column) = find_column(subject, name) else {
            problems.push(format!(
                "mark: the subject table {} has no column `{name}`",
                subject.qualified
            ));
            continue;
        };
        match value {
            MarkValue::Now
                if !matches!(
                    column.typname.as_str(),
                    "timestamptz" | "timestamp" | "date"
                ) =>
            {
                problems.push(format!(
                    "mark: `{name}` = \"now\" needs a timestamp or date column, `{name}` is {}",
                    column.sql_type
                ));
                continue;
            }
            MarkValue::Value(text) => {
                let sql = format!("SELECT $1::text::{}", column.sql_type);
                match client.query_one(&sql, &[text]).await {
                    Ok(_) => {}
                    // The type refused the value (a data exception, class 22, or a domain's
                    // constraint, class 23): a problem of the rules, listed with the others.
                    // Any other failure is the database's.
                    Err(e)
                        if e.code().is_some_and(|code| {
                            code.code().starts_with("22") || code.code().starts_with("23")
                        }) =>
                    {
                        problems.push(format!(
                            "mark: `{name}` = {text:?} is not a value of {}: {}",
                            column.sql_type,
                            crate::errors::db::describe(&e)
                        ));
                        continue;
                    }
                    Err(e) => {
                        return Err(db_error(
                            &format!("mark: cannot check `{name}` = {text:?}"),
                            e,
                        )
                        .into());
                    }
                }
            }
            MarkValue::Now => {}
        }
        mark.push(MarkPlan {
            column,
            value: value.clone(),
        });
    }
    Ok(mark)
}

/// Resolves a rule's replace and reference columns: the rule's problems (`Ok(Err)`), or an
/// error of the database.
async fn plan_replace(
    client: &Client,
    rule: &TableRule,
    rel: &Relation,
) -> anyhow::Result<Result<ReplacePlan, Vec<String>>> {
    let at = format!("postgres `{}`", rule.table);
    let mut problems = Vec::new();
    let mut replace = Vec::new();
    for name in &rule.replace {
        match find_column(rel, name) {
            None => problems.push(format!("{at}: no column `{name}` (replace)")),
            Some(column) if column.is_text() || column.is_json() => replace.push(column),
            Some(column) => problems.push(format!(
                "{at}: replace needs text or JSON columns; `{name}` is {}",
                column.sql_type
            )),
        }
    }
    let mut refs = Vec::new();
    for name in &rule.refs {
        match find_column(rel, name) {
            None => problems.push(format!("{at}: no column `{name}` (refs)")),
            Some(column)
                if matches!(column.typname.as_str(), "uuid" | "_uuid") || column.is_text() =>
            {
                refs.push(column)
            }
            Some(column) => problems.push(format!(
                "{at}: refs needs uuid, uuid[] or text columns; `{name}` is {}",
                column.sql_type
            )),
        }
    }
    if rel.pk.is_empty() {
        problems.push(format!(
            "{at}: the table has no primary key (replace needs one)"
        ));
    }
    let audited = client
        .query_one(AUDITED_SQL, &[&rel.oid])
        .await
        .map(|row| row.get::<_, bool>(0))
        .map_err(|e| db_error(&format!("{at}: cannot read its triggers"), e))?;
    if !problems.is_empty() {
        return Ok(Err(problems));
    }
    Ok(Ok(ReplacePlan {
        table: rule.table.clone(),
        relname: rel.relname.clone(),
        qualified: rel.qualified.clone(),
        pk: rel.pk.iter().filter_map(|c| find_column(rel, c)).collect(),
        replace,
        refs,
        audited,
        oid: rel.oid,
    }))
}

/// Like [`plan_replace`]: the problems of the rule, or an error of the database.
async fn plan_table(
    client: &Client,
    rule: &TableRule,
    rel: &Relation,
) -> anyhow::Result<Result<TablePlan, Vec<String>>> {
    let mut problems = Vec::new();
    let at = format!("postgres `{}`", rule.table);
    let subject_name = rule.subject.as_deref().unwrap_or_default();
    let subject = find_column(rel, subject_name);
    if subject.is_none() {
        problems.push(format!("{at}: no subject column `{subject_name}`"));
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
        .map_err(|e| db_error(&format!("{at}: cannot read its triggers"), e))?;
    if !problems.is_empty() {
        return Ok(Err(problems));
    }
    let Some(subject) = subject else {
        return Ok(Err(vec![format!("{at}: no subject column")]));
    };
    Ok(Ok(TablePlan {
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
    }))
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
