//! The PostgreSQL side of the search every erasure ends with: every table, partition (through
//! its parent) and materialized view streamed with COPY and searched for the subjects'
//! fingerprints here, in process (no value is sent anywhere). With `replace`, the columns of
//! the replace rules (and the same keys of their audit copies) get the subjects' values
//! replaced, the rest of the text kept; every other occurrence that counts is a hit.
//!
//! Which occurrences count is decided in `verify`: a row is *about* the subjects its subject
//! column and reference columns name (an audit copy of a subject's row is about that subject),
//! and an identifying column of a rule table belongs to its row's subject. Audit copies are
//! searched key by key: a key whose column in the source table is not text or JSON (a role, a
//! status, a boolean, a number, a time) holds no personal data.

use std::collections::HashMap;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::Value;
use tokio_postgres::Client;

use super::hmac::Key;
use super::needles::Needles;
use super::postgres::{
    COLUMNS_SQL, PK_SQL, PgColumn, PgPlan, ReplacePlan, TablePlan, db_error, json_text, row_key,
};
use super::redis::uuids_in;
use super::rules::{Output, Target, transform};
use super::verify::{At, Column, Findings, Found, Scanner};

const RELATIONS_SQL: &str = "
SELECT c.oid, format('%I.%I', n.nspname, c.relname), c.relname::text, c.relispopulated
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'm') AND NOT c.relispartition
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'
ORDER BY 2";

/// Rows written per UPDATE of replaced values.
const WRITE_CHUNK: usize = 1000;

/// Lines of a COPY text stream, whatever the chunk boundaries.
#[derive(Default)]
pub struct CopyLines {
    pending: Vec<u8>,
}

impl CopyLines {
    /// Feeds a chunk; `line` gets every complete line (without its newline).
    pub fn push(&mut self, chunk: &[u8], mut line: impl FnMut(&str)) {
        let mut rest = chunk;
        if !self.pending.is_empty() {
            let Some(end) = rest.iter().position(|b| *b == b'\n') else {
                self.pending.extend_from_slice(rest);
                return;
            };
            self.pending.extend_from_slice(&rest[..end]);
            let joined = std::mem::take(&mut self.pending);
            line(&String::from_utf8_lossy(&joined));
            rest = &rest[end + 1..];
        }
        while let Some(end) = rest.iter().position(|b| *b == b'\n') {
            line(&String::from_utf8_lossy(&rest[..end]));
            rest = &rest[end + 1..];
        }
        self.pending.extend_from_slice(rest);
    }
}

/// A field of COPY's text format: `\N` is NULL, backslash escapes are undone.
pub fn unescape_copy(field: &str) -> Option<String> {
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

/// How the search runs.
pub struct Sweep<'a> {
    pub key: &'a Key,
    pub plan: &'a PgPlan,
    pub needles: &'a Needles,
    /// Replace the values in the replace rules' columns (else: a hit like any other).
    pub replace: bool,
    pub lock_timeout: Duration,
    /// Only the tables of replace rules and the audit table (a bulk job's later passes).
    pub replace_targets_only: bool,
}

/// One relation as searched.
struct Relation<'p> {
    qualified: String,
    display: String,
    pk: Vec<PgColumn>,
    columns: Vec<PgColumn>,
    rule: Option<&'p TablePlan>,
    replace: Option<&'p ReplacePlan>,
    audit: bool,
}

/// A replaced value waiting to be written: the row's key parts, the old and the new text, and
/// what was replaced (a hit if the row changed before the write).
struct Pending {
    key: Vec<String>,
    old: String,
    new: String,
    found: Vec<Found>,
    location: String,
}

/// Searches (and with `replace`, rewrites) every relation; returns notes for the report.
pub async fn sweep(
    client: &mut Client,
    sweep: &Sweep<'_>,
    findings: &mut Findings,
) -> anyhow::Result<Vec<String>> {
    let mut notes = Vec::new();
    let relations = client
        .query(RELATIONS_SQL, &[])
        .await
        .map_err(|e| db_error("cannot list the tables", e))?;
    // Column types of every relation by name: audit copies are searched by their source's types.
    let mut types: HashMap<String, HashMap<String, String>> = HashMap::new();
    let mut plans: Vec<(u32, Relation<'_>)> = Vec::new();
    for relation in &relations {
        let oid: u32 = relation.get(0);
        let qualified: String = relation.get(1);
        let relname: String = relation.get(2);
        let populated: bool = relation.get(3);
        let all: Vec<PgColumn> = client
            .query(COLUMNS_SQL, &[&oid])
            .await
            .map_err(|e| db_error(&format!("cannot read the columns of {qualified}"), e))?
            .iter()
            .map(|r| PgColumn {
                name: r.get(0),
                sql_type: r.get(1),
                typname: r.get(2),
                not_null: r.get(3),
                unique: r.get(4),
            })
            .collect();
        types.insert(
            relname.clone(),
            all.iter()
                .map(|c| (c.name.clone(), c.typname.clone()))
                .collect(),
        );
        if !populated {
            notes.push(format!(
                "materialized view {qualified} is not populated: not searched"
            ));
            continue;
        }
        let pk_names: Vec<String> = client
            .query(PK_SQL, &[&oid])
            .await
            .map_err(|e| db_error(&format!("cannot read the primary key of {qualified}"), e))?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let pk: Vec<PgColumn> = pk_names
            .iter()
            .filter_map(|n| all.iter().find(|c| &c.name == n).cloned())
            .collect();
        let columns: Vec<PgColumn> = all.into_iter().filter(PgColumn::is_searchable).collect();
        let audit = sweep.plan.audit.as_ref().is_some_and(|a| a.oid == oid);
        let replace = sweep.plan.replace.iter().find(|t| t.oid == oid);
        if columns.is_empty() || (sweep.replace_targets_only && replace.is_none() && !audit) {
            continue;
        }
        let display = qualified
            .strip_prefix("public.")
            .unwrap_or(&qualified)
            .to_string();
        plans.push((
            oid,
            Relation {
                qualified,
                display,
                pk,
                columns,
                rule: sweep.plan.tables.iter().find(|t| t.oid == oid),
                replace,
                audit,
            },
        ));
    }
    for (_, relation) in &plans {
        sweep_relation(client, sweep, relation, &types, findings).await?;
    }
    Ok(notes)
}

async fn sweep_relation(
    client: &mut Client,
    sweep: &Sweep<'_>,
    relation: &Relation<'_>,
    types: &HashMap<String, HashMap<String, String>>,
    findings: &mut Findings,
) -> anyhow::Result<()> {
    let plan = sweep.plan;
    let key_expr = if relation.pk.is_empty() {
        "t.ctid::text".to_string()
    } else {
        relation
            .pk
            .iter()
            .map(|c| c.select_text("t"))
            .collect::<Vec<_>>()
            .join(" || ',' || ")
    };
    let owner_expr = match (relation.rule, relation.audit) {
        (Some(table), _) => format!("t.{}::text", table.subject.quoted()),
        (None, true) => format!(
            "CASE WHEN t.table_name = {} THEN t.record_id::text END",
            crate::postgres::quote::literal(&plan.subject_relname)
        ),
        (None, false) => "NULL::text".to_string(),
    };
    let source_expr = if relation.audit {
        "t.table_name::text"
    } else {
        "NULL::text"
    };
    let refs: Vec<String> = relation
        .replace
        .map(|r| {
            r.refs
                .iter()
                .map(|c| format!("t.{}::text", c.quoted()))
                .collect()
        })
        .unwrap_or_default();
    let select: Vec<String> = relation
        .columns
        .iter()
        .map(|c| match c.typname.as_str() {
            "inet" | "cidr" => format!("host(t.{})", c.quoted()),
            _ => format!("t.{}::text", c.quoted()),
        })
        .collect();
    let mut all = vec![key_expr, owner_expr, source_expr.to_string()];
    all.extend(refs.iter().cloned());
    all.extend(select);
    let sql = format!(
        "COPY (SELECT {} FROM {} t) TO STDOUT",
        all.join(", "),
        relation.qualified
    );
    let n_refs = refs.len();
    let locations: Vec<String> = relation
        .columns
        .iter()
        .map(|c| format!("{}.{}", relation.display, c.name))
        .collect();
    // Per replaced column: the rows to write.
    let mut pending: HashMap<usize, Vec<Pending>> = HashMap::new();
    {
        let stream = client
            .copy_out(&sql)
            .await
            .map_err(|e| db_error(&format!("cannot read {}", relation.qualified), e))?;
        findings.searched.tables += 1;
        let mut scanner = Scanner::new(sweep.needles);
        let mut lines = CopyLines::default();
        let mut stream = std::pin::pin!(stream);
        let mut about: Vec<u32> = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk =
                chunk.map_err(|e| db_error(&format!("cannot read {}", relation.qualified), e))?;
            lines.push(&chunk, |line| {
                findings.searched.rows += 1;
                let mut fields = line.split('\t');
                let key = fields.next().and_then(unescape_copy).unwrap_or_default();
                let owner = fields.next().and_then(unescape_copy);
                let source = fields.next().and_then(unescape_copy);
                about.clear();
                let owner_index = owner.as_deref().map(|o| sweep.needles.subject_index(o));
                if let Some(Some(i)) = owner_index {
                    about.push(i);
                }
                let mut values: Vec<Option<String>> = Vec::with_capacity(relation.columns.len());
                for (i, field) in fields.enumerate() {
                    if i < n_refs {
                        if field != "\\N" {
                            for id in uuids_in(field) {
                                if let Some(s) = sweep.needles.subject_index(&id) {
                                    about.push(s);
                                }
                            }
                        }
                        continue;
                    }
                    values.push(if field.is_empty() || field == "\\N" {
                        None
                    } else if field.contains('\\') {
                        unescape_copy(field).filter(|v| scanner.any(v))
                    } else if scanner.any(field) {
                        Some(field.to_string())
                    } else {
                        None
                    });
                }
                for (j, value) in values.into_iter().enumerate() {
                    let Some(value) = value else { continue };
                    let column = &relation.columns[j];
                    let row = Row {
                        key: &key,
                        owner: owner_index,
                        owner_text: owner.as_deref(),
                        about: &about,
                    };
                    if relation.audit
                        && matches!(column.name.as_str(), "old_values" | "new_values")
                        && let Some(source) = source.as_deref()
                    {
                        if let Some((new, found)) = audit_copy(
                            &mut scanner,
                            sweep,
                            &row,
                            source,
                            types.get(source),
                            &value,
                            &locations[j],
                            findings,
                        ) {
                            pending.entry(j).or_default().push(Pending {
                                key: vec![key.clone()],
                                old: value,
                                new,
                                found,
                                location: locations[j].clone(),
                            });
                        }
                        continue;
                    }
                    if let Some((new, found)) = plain_value(
                        &mut scanner,
                        sweep,
                        relation,
                        &row,
                        column,
                        &value,
                        &locations[j],
                        findings,
                    ) {
                        pending.entry(j).or_default().push(Pending {
                            key: key.split(',').map(str::to_string).collect(),
                            old: value,
                            new,
                            found,
                            location: locations[j].clone(),
                        });
                    }
                }
            });
        }
    }
    for (j, rows) in pending {
        write(
            client,
            sweep,
            relation,
            &relation.columns[j],
            rows,
            findings,
        )
        .await?;
    }
    Ok(())
}

/// The row a value belongs to.
struct Row<'a> {
    key: &'a str,
    /// The row's subject column: `Some(Some(i))` a subject of this run, `Some(None)` someone
    /// else, `None` no owner.
    owner: Option<Option<u32>>,
    /// The owner's id as read (for audit copies: the record they are a copy of).
    owner_text: Option<&'a str>,
    about: &'a [u32],
}

impl Row<'_> {
    fn column(&self, owned: bool) -> Column {
        match (owned, self.owner) {
            (true, Some(owner)) => Column::OwnedBy(owner),
            _ => Column::Free,
        }
    }
}

/// Searches a column value; returns its new text (and what was replaced) when it is replaced.
#[allow(clippy::too_many_arguments)]
fn plain_value(
    scanner: &mut Scanner<'_>,
    sweep: &Sweep<'_>,
    relation: &Relation<'_>,
    row: &Row<'_>,
    column: &PgColumn,
    value: &str,
    location: &str,
    findings: &mut Findings,
) -> Option<(String, Vec<Found>)> {
    let owned = relation
        .rule
        .is_some_and(|t| t.identifying.iter().any(|(c, _)| c.name == column.name));
    // The subject's own value, already what its rule makes of it (a fake name that happens to
    // equal an original one): the rule's output, not personal data left behind.
    if let (Some(table), Some(Some(_))) = (relation.rule, row.owner)
        && is_rule_output(sweep.key, table, &column.name, row.key, Some(value))
    {
        return None;
    }
    let at = At {
        store: "postgres",
        location,
        about: row.about,
        column: row.column(owned),
    };
    let replaced = sweep.replace
        && relation
            .replace
            .is_some_and(|r| r.replace.iter().any(|c| c.name == column.name));
    if !replaced {
        let found = scanner.scan(value, at, findings).to_vec();
        record(scanner, findings, &found, location, row.key);
        return None;
    }
    let (new, found) = if column.is_json() {
        let mut json: Value = serde_json::from_str(value).ok()?;
        let mut found = Vec::new();
        scanner.redact_json(&mut json, at, findings, &mut found);
        if found.is_empty() {
            return None;
        }
        (json.to_string(), found)
    } else {
        scanner.redact_text(value, at, findings)?
    };
    findings.replaced(&found, "postgres", &relation.display);
    // What the replacement left (nothing, unless a value hides inside another one).
    let left = scanner.scan(&new, at, findings).to_vec();
    record(scanner, findings, &left, location, row.key);
    Some((new, found))
}

/// Searches an audit copy key by key; returns its new text when keys of a replaced column of
/// the source table changed.
#[allow(clippy::too_many_arguments)]
fn audit_copy(
    scanner: &mut Scanner<'_>,
    sweep: &Sweep<'_>,
    row: &Row<'_>,
    source: &str,
    source_types: Option<&HashMap<String, String>>,
    value: &str,
    location: &str,
    findings: &mut Findings,
) -> Option<(String, Vec<Found>)> {
    let mut json: Value = serde_json::from_str(value).ok()?;
    let Value::Object(map) = &mut json else {
        return None;
    };
    let mut replaced_found = Vec::new();
    let rule = sweep.plan.tables.iter().find(|t| t.relname == source);
    let replace = sweep
        .plan
        .replace
        .iter()
        .find(|t| t.relname == source && t.audited);
    let subject_copy = source == sweep.plan.subject_relname;
    let mut changed = false;
    for (name, item) in map.iter_mut() {
        let typname = source_types.and_then(|t| t.get(name)).map(String::as_str);
        if typname.is_some_and(|t| !is_personal_type(t)) {
            continue;
        }
        let text = match json_text(item) {
            Some(text) => text,
            None => continue,
        };
        if !scanner.any(&text) {
            continue;
        }
        if let (Some(table), true, Some(Some(_))) = (rule, subject_copy, row.owner)
            && is_rule_output(
                sweep.key,
                table,
                name,
                row.owner_text.unwrap_or(""),
                Some(&text),
            )
        {
            continue;
        }
        let owned = subject_copy
            && rule.is_some_and(|t| t.identifying.iter().any(|(c, _)| &c.name == name));
        let at = At {
            store: "postgres",
            location: &format!("{location}.{name}"),
            about: row.about,
            column: row.column(owned),
        };
        let replaced =
            sweep.replace && replace.is_some_and(|r| r.replace.iter().any(|c| &c.name == name));
        if replaced {
            let mut found = Vec::new();
            scanner.redact_json(item, at, findings, &mut found);
            if !found.is_empty() {
                changed = true;
                findings.replaced(&found, "postgres", "audit_logs (copies)");
                replaced_found.append(&mut found);
            }
        } else {
            let found = scanner.scan(&text, at, findings).to_vec();
            record(scanner, findings, &found, at.location, row.key);
        }
    }
    changed.then(|| (json.to_string(), replaced_found))
}

/// Column types whose values can hold personal data as text.
fn is_personal_type(typname: &str) -> bool {
    matches!(
        typname,
        "text"
            | "varchar"
            | "bpchar"
            | "citext"
            | "name"
            | "json"
            | "jsonb"
            | "inet"
            | "cidr"
            | "xml"
            | "_text"
            | "_varchar"
            | "_citext"
            | "_json"
            | "_jsonb"
    )
}

/// Whether `value` already is what the table's rule makes of that column of that row.
fn is_rule_output(
    key: &Key,
    table: &TablePlan,
    column: &str,
    pk: &str,
    value: Option<&str>,
) -> bool {
    let Some(plan) = table.columns.iter().find(|c| c.column.name == column) else {
        return false;
    };
    let Some((strategy, kind)) = plan.whole else {
        return false;
    };
    if pk.is_empty() {
        return false;
    }
    let row_key = row_key(&table.table, column, pk);
    let target = Target {
        kind,
        unique: plan.column.unique,
        row_key: &row_key,
    };
    transform(key, strategy, target, value) == Output::Unchanged
}

fn record(
    scanner: &Scanner<'_>,
    findings: &mut Findings,
    found: &[Found],
    location: &str,
    key: &str,
) {
    let mut seen: Vec<(u32, super::rules::ValueKind)> = Vec::new();
    for f in found {
        if seen.contains(&(f.subject, f.kind)) {
            continue;
        }
        seen.push((f.subject, f.kind));
        findings.hit(scanner.needles, f, "postgres", location, key);
    }
}

/// Writes replaced values with compare-and-set UPDATEs (a row changed since it was read keeps
/// its new content and is searched by the next run), each chunk in a transaction that marks
/// the change as an anonymization for the audit trigger.
async fn write(
    client: &mut Client,
    sweep: &Sweep<'_>,
    relation: &Relation<'_>,
    column: &PgColumn,
    rows: Vec<Pending>,
    findings: &mut Findings,
) -> anyhow::Result<()> {
    let pk: Vec<PgColumn> = if relation.audit {
        relation
            .pk
            .iter()
            .filter(|c| c.name == "id")
            .cloned()
            .collect()
    } else {
        relation.pk.clone()
    };
    if pk.is_empty() {
        return Ok(());
    }
    let n_pk = pk.len();
    let mut unnest = Vec::new();
    let mut names = Vec::new();
    let mut conditions = Vec::new();
    for (i, c) in pk.iter().enumerate() {
        unnest.push(format!("${}::text[]", i + 1));
        names.push(format!("k{i}"));
        conditions.push(format!("t.{} = v.k{i}::{}", c.quoted(), c.sql_type));
    }
    unnest.push(format!("${}::text[]", n_pk + 1));
    unnest.push(format!("${}::text[]", n_pk + 2));
    names.push("o".into());
    names.push("n".into());
    conditions.push(format!("t.{}::text = v.o", column.quoted()));
    let returning: Vec<String> = pk.iter().map(|c| c.select_text("t")).collect();
    let sql = format!(
        "UPDATE {} t SET {} = v.n::{} FROM unnest({}) AS v({}) WHERE {} RETURNING {}",
        relation.qualified,
        column.quoted(),
        column.sql_type,
        unnest.join(", "),
        names.join(", "),
        conditions.join(" AND "),
        returning.join(" || ',' || ")
    );
    for chunk in rows.chunks(WRITE_CHUNK) {
        let keys: Vec<Vec<&str>> = (0..n_pk)
            .map(|i| {
                chunk
                    .iter()
                    .map(|p| p.key.get(i).map_or("", String::as_str))
                    .collect()
            })
            .collect();
        let olds: Vec<&str> = chunk.iter().map(|p| p.old.as_str()).collect();
        let news: Vec<&str> = chunk.iter().map(|p| p.new.as_str()).collect();
        let mut params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = Vec::new();
        for k in &keys {
            params.push(k);
        }
        params.push(&olds);
        params.push(&news);
        let tx = client
            .transaction()
            .await
            .map_err(|e| db_error("cannot begin a transaction", e))?;
        tx.batch_execute(&format!(
            "SET LOCAL lock_timeout = '{}ms'; SET LOCAL migrate.anonymizing = 'on';",
            sweep.lock_timeout.as_millis().max(1)
        ))
        .await
        .map_err(|e| db_error("cannot set the lock_timeout", e))?;
        let written: std::collections::HashSet<String> = tx
            .query(&sql, &params)
            .await
            .map_err(|e| db_error(&format!("cannot replace values in {}", relation.display), e))?
            .iter()
            .map(|r| r.get(0))
            .collect();
        tx.commit()
            .await
            .map_err(|e| db_error("cannot commit", e))?;
        // A row changed between the read and the write keeps its new content: what was found
        // in it stays a hit (the next run searches it again).
        for missed in chunk.iter().filter(|p| !written.contains(&p.key.join(","))) {
            let key = missed.key.join(",");
            record(
                &Scanner::new(sweep.needles),
                findings,
                &missed.found,
                &missed.location,
                &key,
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_fields_are_unescaped() {
        assert_eq!(unescape_copy("\\N"), None);
        assert_eq!(unescape_copy("a\\tb\\nc\\\\d").unwrap(), "a\tb\nc\\d");
    }

    #[test]
    fn copy_lines_survive_any_chunking() {
        let text = b"one\ttwo\nthree\n\nfour\n";
        for size in 1..text.len() {
            let mut lines = CopyLines::default();
            let mut got = Vec::new();
            for chunk in text.chunks(size) {
                lines.push(chunk, |l| got.push(l.to_string()));
            }
            assert_eq!(
                got,
                vec!["one\ttwo", "three", "", "four"],
                "chunks of {size}"
            );
        }
    }
}
