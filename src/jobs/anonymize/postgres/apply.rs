//! Anonymization on PostgreSQL: counting what a batch will touch, capturing the fingerprints
//! of the values before they change, and applying a batch in one transaction.

use super::*;

/// Rows of each rule table that belong to the subjects.
pub async fn count(
    client: &impl GenericClient,
    plan: &PgPlan,
    subjects: &[String],
) -> anyhow::Result<Vec<(String, u64)>> {
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
            .map_err(|e| db_error(&format!("cannot count rows of {}", table.table), e))?
            .get(0);
        counts.push((table.table.clone(), n as u64));
    }
    Ok(counts)
}

/// Whether the subject table has a row with this id.
pub async fn subject_exists(client: &Client, plan: &PgPlan, id: &str) -> anyhow::Result<bool> {
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
        ))
        .into()),
        Err(e) => Err(db_error("cannot look up the subject", e).into()),
    }
}

/// Adds the subjects' identifying values (from every rule table) to `needles`, each under its
/// subject; a first and a last name of one row also make a full name. Values that already are
/// what their rule makes of them (a re-run) are not original values: left out.
pub async fn capture(
    client: &Client,
    key: &Key,
    plan: &PgPlan,
    subjects: &[String],
    needles: &mut Needles,
) -> anyhow::Result<()> {
    for table in &plan.tables {
        let mut select = vec![format!("t.{}::text", table.subject.quoted())];
        select.extend(table.pk.iter().map(|c| c.select_text("t")));
        select.extend(table.identifying.iter().map(|(c, _)| c.select_text("t")));
        let json_columns: Vec<&ColumnPlan> = table
            .columns
            .iter()
            .filter(|c| c.paths.iter().any(|p| p.kind.is_identifying()))
            .collect();
        select.extend(json_columns.iter().map(|c| c.column.select_text("t")));
        if select.len() == table.pk.len() + 1 {
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
            .map_err(|e| db_error(&format!("cannot read {}", table.table), e))?;
        let n_pk = table.pk.len();
        for row in rows {
            let owner: String = row.get(0);
            let subject = needles.subject(&owner);
            let pk: Vec<String> = (0..n_pk).map(|i| row.get::<_, String>(1 + i)).collect();
            let pk = pk.join(",");
            let (mut first, mut last) = (None, None);
            for (i, (column, kind)) in table.identifying.iter().enumerate() {
                let Some(value) = row.get::<_, Option<String>>(1 + n_pk + i) else {
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
                match kind {
                    ValueKind::FirstName => first = Some(value.clone()),
                    ValueKind::LastName => last = Some(value.clone()),
                    _ => {}
                }
                needles.add_value(subject, *kind, &value);
            }
            if let (Some(first), Some(last)) = (first, last) {
                needles.add_value(subject, ValueKind::Name, &format!("{first} {last}"));
            }
            for (j, column) in json_columns.iter().enumerate() {
                let index = 1 + n_pk + table.identifying.len() + j;
                let Some(text) = row.get::<_, Option<String>>(index) else {
                    continue;
                };
                let Ok(json) = serde_json::from_str::<Value>(&text) else {
                    continue;
                };
                for path in column.paths.iter().filter(|p| p.kind.is_identifying()) {
                    collect_path(&json, &path.keys, path.kind, subject, needles);
                }
            }
        }
    }
    Ok(())
}

/// Full names of the subjects that someone else also has: a person in the subject table who
/// is not among `subjects` (nor, with `condition`, selected by it) and whose row no erasure has
/// pseudonymized. Such a name is only searched where a row is about the subject. The names are
/// compared by fingerprint, streamed from the server; nothing is sent to it.
pub async fn shared_names(
    client: &Client,
    key: &Key,
    plan: &PgPlan,
    condition: Option<&str>,
    needles: &Needles,
) -> anyhow::Result<std::collections::HashSet<u128>> {
    use std::collections::{HashMap, HashSet};
    let wanted: HashSet<u128> = needles
        .all()
        .iter()
        .filter(|n| n.words > 1)
        .map(|n| n.hash)
        .collect();
    let mut shared = HashSet::new();
    if wanted.is_empty() {
        return Ok(shared);
    }
    // The subject table's name columns, by what their names say.
    let columns: Vec<(String, ValueKind)> = client
        .query(COLUMNS_SQL, &[&subject_oid(client, plan).await?])
        .await
        .map_err(|e| db_error("cannot read the subject table's columns", e))?
        .iter()
        .filter_map(|r| {
            let name: String = r.get(0);
            let typname: String = r.get(2);
            let kind = ValueKind::infer(&name, Some(&typname));
            (matches!(typname.as_str(), "text" | "varchar" | "bpchar" | "citext")
                && matches!(
                    kind,
                    ValueKind::Name | ValueKind::FirstName | ValueKind::LastName
                ))
            .then_some((name, kind))
        })
        .collect();
    if columns.is_empty() {
        return Ok(shared);
    }
    let select: Vec<String> = columns
        .iter()
        .map(|(c, _)| format!("t.{}", quote_ident(c)))
        .collect();
    let filter = match condition {
        Some(condition) => format!("WHERE NOT coalesce(({condition}), false)"),
        None => String::new(),
    };
    let sql = format!(
        "COPY (SELECT t.{}::text, {} FROM {} t {filter}) TO STDOUT",
        plan.subject_pk.quoted(),
        select.join(", "),
        plan.subject_qualified
    );
    let stream = client
        .copy_out(&sql)
        .await
        .map_err(|e| db_error("cannot read the subject table", e))?;
    let fingerprinter = needles.fingerprinter();
    let mut holders: HashMap<String, Vec<u128>> = HashMap::new();
    let mut lines = super::super::search::CopyLines::default();
    let mut stream = std::pin::pin!(stream);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| db_error("cannot read the subject table", e))?;
        lines.push(&chunk, |line| {
            let mut fields = line.split('\t').map(super::super::search::unescape_copy);
            let Some(Some(id)) = fields.next() else {
                return;
            };
            if needles.subject_index(&id).is_some() {
                return;
            }
            let values: Vec<Option<String>> = fields.collect();
            let mut names: Vec<String> = Vec::new();
            let (mut first, mut last) = (None, None);
            for ((_, kind), value) in columns.iter().zip(&values) {
                let Some(value) = value else { continue };
                match kind {
                    ValueKind::FirstName => first = Some(value.as_str()),
                    ValueKind::LastName => last = Some(value.as_str()),
                    _ => names.push(value.clone()),
                }
            }
            if let (Some(first), Some(last)) = (first, last) {
                names.push(format!("{first} {last}"));
            }
            for name in names {
                if let Some((hash, _)) = fingerprinter.name_of(&name)
                    && wanted.contains(&hash)
                {
                    holders.entry(id.clone()).or_default().push(hash);
                }
            }
        });
    }
    if holders.is_empty() {
        return Ok(shared);
    }
    // A holder whose row an erasure pseudonymized holds a fake name, not a person's.
    let by_hmac: HashMap<String, &String> = holders
        .keys()
        .map(|id| (key.subject_hmac(id), id))
        .collect();
    let hmacs: Vec<String> = by_hmac.keys().cloned().collect();
    let erased: HashSet<String> = if plan.ledger_table {
        super::super::ledger::erased(client, &hmacs)
            .await?
            .into_iter()
            .collect()
    } else {
        HashSet::new()
    };
    for (hmac, id) in by_hmac {
        if !erased.contains(&hmac) {
            shared.extend(holders[id].iter().copied());
        }
    }
    Ok(shared)
}

pub(super) async fn subject_oid(client: &Client, plan: &PgPlan) -> anyhow::Result<u32> {
    client
        .query_one("SELECT to_regclass($1)::oid", &[&plan.subject_qualified])
        .await
        .map(|row| row.get(0))
        .map_err(|e| db_error("cannot look up the subject table", e).into())
}

pub(super) fn collect_path(
    node: &Value,
    keys: &[String],
    kind: ValueKind,
    subject: u32,
    needles: &mut Needles,
) {
    let Some((first, rest)) = keys.split_first() else {
        if let Some(text) = json_text(node) {
            needles.add_value(subject, kind, &text);
        }
        return;
    };
    match node {
        Value::Array(items) => items
            .iter()
            .for_each(|item| collect_path(item, keys, kind, subject, needles)),
        Value::Object(map) => {
            if let Some(child) = map.get(first) {
                collect_path(child, rest, kind, subject, needles);
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
    mark: bool,
) -> anyhow::Result<BatchOutcome> {
    let mut outcome = BatchOutcome::default();
    let fingerprinter = Fingerprinter::new(key);
    let mark_plans: &[MarkPlan] = if mark { &plan.mark } else { &[] };
    let mut marked = false;
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
                    .map_err(|e| db_error(&format!("cannot delete from {}", table.table), e))?;
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
                let mark = if table.qualified == plan.subject_qualified {
                    marked = true;
                    mark_plans
                } else {
                    &[]
                };
                let (changed, record_ids) =
                    update_rows(tx, key, &fingerprinter, table, subjects, mark, &mut outcome)
                        .await?;
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
    if !marked && !mark_plans.is_empty() {
        let n = mark_rows(tx, plan, mark_plans, subjects).await?;
        *outcome
            .counts
            .entry(format!("{} (marked)", plan.subject_relname))
            .or_default() += n;
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
            .map_err(|e| db_error("cannot scrub the subjects' audit request data", e))?;
        *outcome.counts.entry(audit_target(audit)).or_default() += n;
    }
    outcome.counts.retain(|_, n| *n > 0);
    Ok(outcome)
}

/// Marks the subjects' rows when the subject table has no rule of its own (otherwise the mark
/// is part of that rule's UPDATE, so each row is written, and audited, once).
pub(super) async fn mark_rows(
    tx: &tokio_postgres::Transaction<'_>,
    plan: &PgPlan,
    mark: &[MarkPlan],
    subjects: &[String],
) -> anyhow::Result<u64> {
    let values: Vec<&str> = mark.iter().filter_map(MarkPlan::param).collect();
    let mut params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = vec![&subjects];
    for value in &values {
        params.push(value);
    }
    let mut sets = Vec::new();
    let mut needed = Vec::new();
    let mut n = 2;
    for column in mark {
        sets.push(column.set(n));
        needed.push(column.needed(n));
        if column.param().is_some() {
            n += 1;
        }
    }
    let sql = format!(
        "UPDATE {} t SET {} WHERE t.{} = ANY($1::text[]::{}[]) AND ({})",
        plan.subject_qualified,
        sets.join(", "),
        plan.subject_pk.quoted(),
        plan.subject_pk.sql_type,
        needed.join(" OR ")
    );
    tx.execute(&sql, &params)
        .await
        .map_err(|e| db_error("cannot mark the erased subjects", e).into())
}

pub(super) fn audit_target(audit: &AuditTable) -> String {
    let name = audit
        .qualified
        .rsplit('.')
        .next()
        .unwrap_or(&audit.qualified);
    format!("{} (copies)", name.trim_matches('"'))
}

/// A row's primary key as text (`a,b` for composite keys) and its parts.
pub(super) struct RowChange {
    pub(super) pk_parts: Vec<String>,
    /// The transformed columns as read (text form of `PgColumn::select_text`).
    pub(super) old: Vec<Option<String>>,
    /// Their new values (unchanged columns carry their old value).
    pub(super) new: Vec<Option<String>>,
    /// Leftovers found in the new values (counted only once the row is written).
    pub(super) leftovers: Vec<String>,
    /// The row gets the erasure mark.
    pub(super) marked: bool,
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
#[allow(clippy::too_many_arguments)]
pub(super) async fn update_rows(
    tx: &tokio_postgres::Transaction<'_>,
    key: &Key,
    fingerprinter: &Fingerprinter,
    table: &TablePlan,
    subjects: &[String],
    mark: &[MarkPlan],
    outcome: &mut BatchOutcome,
) -> anyhow::Result<(u64, Vec<String>)> {
    let (changes, record_ids) =
        read_changes(tx, key, fingerprinter, table, subjects, mark, false).await?;
    if changes.is_empty() {
        return Ok((0, record_ids));
    }
    let written = write_changes(tx, table, mark, &changes).await?;
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
        let (changes, _) =
            read_changes(tx, key, fingerprinter, table, subjects, mark, true).await?;
        if !changes.is_empty() {
            let written = write_changes(tx, table, mark, &changes).await?;
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

pub(super) fn count_leftovers(table: &TablePlan, change: &RowChange, outcome: &mut BatchOutcome) {
    if change.marked {
        *outcome
            .counts
            .entry(format!("{} (marked)", table.table))
            .or_default() += 1;
    }
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
pub(super) async fn read_changes(
    tx: &tokio_postgres::Transaction<'_>,
    key: &Key,
    fingerprinter: &Fingerprinter,
    table: &TablePlan,
    subjects: &[String],
    mark: &[MarkPlan],
    lock: bool,
) -> anyhow::Result<(Vec<RowChange>, Vec<String>)> {
    let mut select: Vec<String> = table.pk.iter().map(|c| c.select_text("t")).collect();
    select.extend(table.columns.iter().map(|c| c.column.select_text("t")));
    let mut mark_params: Vec<&str> = Vec::new();
    if !mark.is_empty() {
        let mut needed = Vec::new();
        for plan in mark {
            needed.push(plan.needed(2 + mark_params.len()));
            if let Some(value) = plan.param() {
                mark_params.push(value);
            }
        }
        select.push(format!("({})", needed.join(" OR ")));
    }
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
    let mut params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = vec![&subjects];
    for value in &mark_params {
        params.push(value);
    }
    let rows = tx
        .query(&sql, &params)
        .await
        .map_err(|e| db_error(&format!("cannot read {}", table.table), e))?;
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
        let marked = !mark.is_empty() && row.get::<_, bool>(n_pk + table.columns.len());
        if changed || marked {
            let leftovers = leftovers(fingerprinter, table, &originals, &new);
            changes.push(RowChange {
                pk_parts,
                old,
                new,
                leftovers,
                marked,
            });
        }
        record_ids.push(pk);
    }
    Ok((changes, record_ids))
}

/// Writes computed rows with one compare-and-set UPDATE; returns the keys of the rows written.
pub(super) async fn write_changes(
    tx: &tokio_postgres::Transaction<'_>,
    table: &TablePlan,
    mark: &[MarkPlan],
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
    let mut set: Vec<String> = table
        .columns
        .iter()
        .enumerate()
        .map(|(j, c)| format!("{} = v.c{j}::{}", c.column.quoted(), c.column.sql_type))
        .collect();
    let mut mark_params: Vec<&str> = Vec::new();
    for plan in mark {
        set.push(plan.set(n_pk + 2 * n_col + 1 + mark_params.len()));
        if let Some(value) = plan.param() {
            mark_params.push(value);
        }
    }
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
    for value in &mark_params {
        params.push(value);
    }
    let rows = tx
        .query(&sql, &params)
        .await
        .map_err(|e| db_error(&format!("cannot update {}", table.table), e))?;
    Ok(rows.iter().map(|r| r.get::<_, String>(0)).collect())
}

/// Verification of a row's own transformation: none of its identifying originals may remain.
/// Returns the columns whose new value still holds one.
pub(super) fn leftovers(
    fingerprinter: &Fingerprinter,
    table: &TablePlan,
    originals: &[(ValueKind, String)],
    new_values: &[Option<String>],
) -> Vec<String> {
    if originals.is_empty() {
        return Vec::new();
    }
    let mut needles = Needles::new(fingerprinter.clone());
    let subject = needles.subject("row");
    for (kind, value) in originals {
        needles.add_value(subject, *kind, value);
    }
    if needles.is_empty() {
        return Vec::new();
    }
    needles.build();
    let mut matches = Vec::new();
    table
        .columns
        .iter()
        .zip(new_values)
        // A fake value is made from the key and the row: one that happens to equal an original
        // (a first name drawn from the same list) is not a leftover.
        .filter(|(column, _)| !matches!(column.whole, Some((Strategy::Fake(_), _))))
        .filter(|(_, value)| {
            value.as_deref().is_some_and(|value| {
                needles.find(value, &mut matches);
                !matches.is_empty()
            })
        })
        .map(|(column, _)| column.column.name.clone())
        .collect()
}

/// Applies the table's column strategies to the copies of its rows in the audit table. Read
/// without locks and written with a compare-and-set UPDATE, as rows are (see `update_rows`):
/// copies changed in between are read again under `FOR UPDATE`.
pub(super) async fn scrub_audit_copies(
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
pub(super) struct AuditChange {
    pub(super) id: String,
    pub(super) record: String,
    pub(super) before: [Option<String>; 2],
    pub(super) after: [Option<String>; 2],
}

pub(super) async fn read_audit_copies(
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
        .map_err(|e| db_error("cannot read the audit copies", e))?;
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

pub(super) async fn write_audit_copies(
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
        .map_err(|e| db_error("cannot scrub the audit copies", e).into())
}

/// The audit copy of a row is the row as JSON: the same strategies apply to its keys, with the
/// same inputs, so the copy ends up with exactly the values the row got.
pub(super) fn scrub_audit_json(
    key: &Key,
    table: &TablePlan,
    record: &str,
    json: &mut Value,
) -> bool {
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
pub(super) async fn blank_audit_copies(
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
        .map_err(|e| db_error("cannot blank the audit copies", e).into())
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
        .map_err(|e| db_error("cannot begin a transaction", e))?;
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
    .map_err(|e| db_error("cannot set the batch's lock_timeout", e))?;
    Ok(tx)
}

/// The next batch of subject ids after `position`, in primary-key order.
pub async fn next_subjects(
    client: &Client,
    plan: &PgPlan,
    condition: &str,
    position: Option<&str>,
    limit: u32,
) -> anyhow::Result<Vec<String>> {
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
            db_error("cannot select the policy's subjects", e)
                .hint("check the policy's `subjects` condition: it is SQL on the subject table")
                .into()
        })
}

/// Subjects of the policy left after `position`.
pub async fn count_subjects(
    client: &Client,
    plan: &PgPlan,
    condition: &str,
    position: Option<&str>,
) -> anyhow::Result<u64> {
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
            db_error("cannot count the policy's subjects", e)
                .hint("check the policy's `subjects` condition: it is SQL on the subject table")
                .into()
        })
}

/// Which of `ids` are subjects of the policy (for sweeping Redis keys).
pub async fn which_subjects(
    client: &Client,
    plan: &PgPlan,
    condition: &str,
    ids: &[String],
) -> anyhow::Result<BTreeSet<String>> {
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
        .map_err(|e| db_error("cannot match ids to the policy's subjects", e).into())
}
