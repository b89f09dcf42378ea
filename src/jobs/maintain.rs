//! `migrate maintain`: refresh materialized views (concurrently, dependencies first), create
//! the upcoming `activity_logs` partitions, `VACUUM (ANALYZE)` the configured tables. Every
//! statement runs on its own, outside any transaction block (VACUUM cannot run inside one).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use serde::Serialize;
use tokio_postgres::Client;

// Names were checked to be identifiers by the config.
use crate::config::{MaintainSettings, PgSettings};
use crate::errors::{DbError, Detailed};
use crate::output::Printer;
use crate::postgres::quote::qualified as quote_qualified;

/// The partition function of migration V14.
const PARTITION_FUNCTION: &str = "public.create_activity_log_partitions(integer)";

const MATVIEWS_SQL: &str = r"
SELECT format('%I.%I', n.nspname, c.relname),
       c.relispopulated,
       EXISTS (SELECT 1 FROM pg_index i
               WHERE i.indrelid = c.oid AND i.indisunique AND i.indisvalid
                 AND i.indpred IS NULL AND i.indexprs IS NULL)
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'm'
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND NOT EXISTS (SELECT 1 FROM pg_depend d
                  WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY 1";

/// Which view (plain or materialized) reads which relation: through the view's rewrite rule.
const VIEW_EDGES_SQL: &str = r"
SELECT DISTINCT format('%I.%I', dn.nspname, dependent.relname),
                format('%I.%I', sn.nspname, source.relname)
FROM pg_depend d
JOIN pg_rewrite r ON d.classid = 'pg_rewrite'::regclass AND r.oid = d.objid
JOIN pg_class dependent ON dependent.oid = r.ev_class
JOIN pg_namespace dn ON dn.oid = dependent.relnamespace
JOIN pg_class source ON d.refclassid = 'pg_class'::regclass AND source.oid = d.refobjid
JOIN pg_namespace sn ON sn.oid = source.relnamespace
WHERE dependent.relkind IN ('m', 'v')
  AND source.relkind IN ('m', 'v')
  AND dependent.oid <> source.oid";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StepKind {
    Refresh,
    Partitions,
    Vacuum,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlannedStep {
    pub kind: StepKind,
    pub target: String,
    /// The statement that runs.
    pub sql: String,
    /// Why the statement is the way it is (e.g. why not CONCURRENTLY).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub database: String,
    pub steps: Vec<PlannedStep>,
    /// What was left out, and why.
    pub skipped: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StepResult {
    #[serde(flatten)]
    pub step: PlannedStep,
    pub duration_ms: u64,
    /// E.g. the partitions created.
    pub result: String,
}

pub async fn connect(settings: &PgSettings) -> anyhow::Result<Client> {
    let client = settings
        .target
        .connect(&format!("migrate {} maintain", crate::TOOL_VERSION))
        .await?;
    let lock_ms = settings.lock_timeout.map_or(0, |d| d.as_millis());
    client
        .batch_execute(&format!(
            "SET statement_timeout = 0; SET lock_timeout = '{lock_ms}ms'"
        ))
        .await
        .map_err(|err| DbError::new("cannot set timeouts", err))?;
    Ok(client)
}

/// Reads the catalog and builds the list of statements.
pub async fn plan(
    client: &Client,
    database: String,
    settings: &MaintainSettings,
) -> anyhow::Result<Plan> {
    let db_error = |doing: &str, err: tokio_postgres::Error| DbError::new(doing, err);
    let mut steps = Vec::new();
    let mut skipped = Vec::new();

    let matviews: Vec<(String, bool, bool)> = client
        .query(MATVIEWS_SQL, &[])
        .await
        .map_err(|err| db_error("cannot list materialized views", err))?
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2)))
        .collect();
    let edges: Vec<(String, String)> = client
        .query(VIEW_EDGES_SQL, &[])
        .await
        .map_err(|err| db_error("cannot read view dependencies", err))?
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    let names: Vec<String> = matviews.iter().map(|m| m.0.clone()).collect();
    let ordered = refresh_order(&names, &edges)?;
    for name in ordered {
        let Some((_, populated, unique)) = matviews.iter().find(|m| m.0 == name) else {
            continue;
        };
        let (sql, note) = match (populated, unique) {
            (true, true) => (
                format!("REFRESH MATERIALIZED VIEW CONCURRENTLY {name}"),
                None,
            ),
            (false, _) => (
                format!("REFRESH MATERIALIZED VIEW {name}"),
                Some("not populated yet: CONCURRENTLY needs a populated view".to_string()),
            ),
            (true, false) => (
                format!("REFRESH MATERIALIZED VIEW {name}"),
                Some(
                    "no plain unique index: refreshed without CONCURRENTLY (readers wait)"
                        .to_string(),
                ),
            ),
        };
        steps.push(PlannedStep {
            kind: StepKind::Refresh,
            target: name,
            sql,
            note,
        });
    }

    let has_function: bool = client
        .query_one(
            "SELECT to_regprocedure($1) IS NOT NULL",
            &[&PARTITION_FUNCTION],
        )
        .await
        .map_err(|err| db_error("cannot look for the partition function", err))?
        .get(0);
    if has_function {
        steps.push(PlannedStep {
            kind: StepKind::Partitions,
            target: "public.activity_logs".to_string(),
            sql: format!(
                "SELECT public.create_activity_log_partitions({})",
                settings.partition_months_ahead
            ),
            note: Some(format!(
                "current month and {} ahead",
                settings.partition_months_ahead
            )),
        });
    } else {
        skipped.push(format!(
            "partitions: no function {PARTITION_FUNCTION} in this database"
        ));
    }

    let mut missing = Vec::new();
    for table in &settings.vacuum_tables {
        let exists: bool = client
            .query_one("SELECT to_regclass($1) IS NOT NULL", &[table])
            .await
            .map_err(|err| db_error("cannot look up a table", err))?
            .get(0);
        if !exists {
            missing.push(table.clone());
            continue;
        }
        let quoted = quote_qualified(table);
        steps.push(PlannedStep {
            kind: StepKind::Vacuum,
            target: table.clone(),
            sql: format!("VACUUM (ANALYZE) {quoted}"),
            note: None,
        });
    }
    if !missing.is_empty() {
        return Err(Detailed::new(format!(
            "[maintain] vacuum_tables names {} that {} not exist in {database}",
            missing.join(", "),
            if missing.len() == 1 { "does" } else { "do" }
        ))
        .hint("fix vacuum_tables in migrate.toml; nothing was changed")
        .into());
    }
    if settings.vacuum_tables.is_empty() {
        skipped.push("vacuum: [maintain] vacuum_tables names no table".to_string());
    }
    Ok(Plan {
        database,
        steps,
        skipped,
    })
}

/// Orders materialized views so that each comes after every materialized view it reads,
/// directly or through plain views. Ties keep alphabetical order.
pub fn refresh_order(
    matviews: &[String],
    edges: &[(String, String)],
) -> anyhow::Result<Vec<String>> {
    let mut reads: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (dependent, source) in edges {
        reads.entry(dependent).or_default().insert(source);
    }
    let is_matview: BTreeSet<&str> = matviews.iter().map(String::as_str).collect();
    // The materialized views each one needs, looking through plain views.
    let mut needs: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for view in &is_matview {
        let mut found = BTreeSet::new();
        let mut seen = BTreeSet::new();
        let mut pending: Vec<&str> = reads.get(view).into_iter().flatten().copied().collect();
        while let Some(next) = pending.pop() {
            if !seen.insert(next) {
                continue;
            }
            if is_matview.contains(next) {
                found.insert(next);
            } else {
                pending.extend(reads.get(next).into_iter().flatten().copied());
            }
        }
        found.remove(view);
        needs.insert(view, found);
    }
    let mut order = Vec::new();
    let mut done: BTreeSet<&str> = BTreeSet::new();
    while done.len() < is_matview.len() {
        let ready: Vec<&str> = is_matview
            .iter()
            .filter(|v| !done.contains(*v))
            .filter(|v| needs[*v].iter().all(|n| done.contains(n)))
            .copied()
            .collect();
        if ready.is_empty() {
            let stuck: Vec<&str> = is_matview
                .iter()
                .filter(|v| !done.contains(*v))
                .copied()
                .collect();
            anyhow::bail!(
                "materialized views depend on each other in a cycle: {}",
                stuck.join(", ")
            );
        }
        for view in ready {
            done.insert(view);
            order.push(view.to_string());
        }
    }
    Ok(order)
}

/// Runs the steps in order (under `-v`, each statement as it starts and its duration when it
/// ends); stops at the first failure.
pub async fn execute(
    client: &Client,
    plan: &Plan,
    printer: &Printer,
) -> anyhow::Result<Vec<StepResult>> {
    let mut results = Vec::new();
    let bar = printer.progress(plan.steps.len() as u64, "maintain");
    for step in &plan.steps {
        bar.set_message(step.sql.clone());
        // The report lists each step once; `-v` shows each statement while it runs.
        let timed = bar.suspend(|| printer.timed(&step.sql));
        let started = Instant::now();
        let outcome = match step.kind {
            StepKind::Partitions => client.simple_query(&step.sql).await.map(|messages| {
                let created: Vec<String> = messages
                    .iter()
                    .filter_map(|m| match m {
                        tokio_postgres::SimpleQueryMessage::Row(row) => {
                            row.get(0).map(str::to_string)
                        }
                        _ => None,
                    })
                    .collect();
                if created.is_empty() {
                    "all partitions already exist".to_string()
                } else {
                    format!("created {}", created.join(", "))
                }
            }),
            StepKind::Refresh => client
                .batch_execute(&step.sql)
                .await
                .map(|()| "refreshed".to_string()),
            StepKind::Vacuum => client
                .batch_execute(&step.sql)
                .await
                .map(|()| "vacuumed and analyzed".to_string()),
        };
        let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let result = match outcome {
            Ok(result) => result,
            Err(err) => {
                bar.finish_and_clear();
                timed.done(Some("failed"));
                return Err(DbError::new(format!("{} failed", step.sql), err)
                    .context(format!(
                        "{} of {} completed before it",
                        results.len(),
                        crate::output::count(plan.steps.len(), "step")
                    ))
                    .into());
            }
        };
        bar.inc(1);
        bar.suspend(|| timed.done(Some(&result)));
        results.push(StepResult {
            step: step.clone(),
            duration_ms,
            result,
        });
    }
    bar.finish_and_clear();
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(ToString::to_string).collect()
    }

    fn e(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn independent_views_keep_alphabetical_order() {
        let order = refresh_order(&s(&["public.b", "public.a"]), &[]).unwrap();
        assert_eq!(order, s(&["public.a", "public.b"]));
    }

    #[test]
    fn dependencies_come_first_even_through_plain_views() {
        // a reads plain view v, which reads matview z; z reads table-free matview y.
        let edges = e(&[
            ("public.a", "public.v"),
            ("public.v", "public.z"),
            ("public.z", "public.y"),
            ("public.unrelated_view", "public.a"),
        ]);
        let order = refresh_order(&s(&["public.a", "public.y", "public.z"]), &edges).unwrap();
        assert_eq!(order, s(&["public.y", "public.z", "public.a"]));
    }

    #[test]
    fn cycles_are_reported() {
        let edges = e(&[("public.a", "public.b"), ("public.b", "public.a")]);
        let err = refresh_order(&s(&["public.a", "public.b"]), &edges).unwrap_err();
        assert!(err.to_string().contains("cycle"), "{err}");
    }

    #[test]
    fn quotes_qualified_names() {
        assert_eq!(quote_qualified("tasks"), "\"tasks\"");
        assert_eq!(quote_qualified("public.tasks"), "\"public\".\"tasks\"");
    }
}
