//! `check --with-data N`: the rows the shadow database holds before the new migrations run.
//!
//! When the shadow has this application's schema (the tables `seed generate` loads, and the
//! partition function it calls) and the new migrations touch one of those tables, `seed
//! generate --tasks N` loads them first: realistic rows that pass every constraint and
//! trigger, in the proportions of the real application. Every other table the migrations
//! touch (and the parents their foreign keys need) is then filled from its column types by
//! `postgres::fill`. A load `seed generate` cannot do (an older schema lacks a column it
//! writes) is rolled back, said in the report, and left to the generic filler.

use std::time::Instant;

use indicatif::ProgressBar;

use crate::jobs::generate;
use crate::postgres::fill::{self, FillReport, Generated, GeneratedTable};
use crate::postgres::migration::Migration;
use crate::postgres::session::Session;

/// The seed `check` generates with: fixed, so that two checks see the same rows.
const SEED: u64 = 1;

/// Fills the tables `migrations` touch with `rows` generated rows each (never the history
/// table); this application's tables through `seed generate` where the schema allows.
pub async fn fill_for(
    session: &Session,
    migrations: &[&Migration],
    rows: u64,
) -> anyhow::Result<FillReport> {
    let texts: Vec<&str> = migrations.iter().map(|m| m.up.as_str()).collect();
    let generated = generate_known(session, &texts, rows).await?;
    let loaded: Vec<String> = match &generated {
        Some(Generated {
            failed: None,
            tables,
            ..
        }) => tables
            .iter()
            .map(|t| format!("public.{}", t.table))
            .collect(),
        _ => Vec::new(),
    };
    let mut report = fill::fill_session(session, &texts, rows, &loaded).await?;
    report.generated = generated;
    Ok(report)
}

/// Loads this application's tables with `seed generate --tasks rows`, when the migrations
/// touch one of them and the shadow has them all; `None` when it does not apply.
async fn generate_known(
    session: &Session,
    texts: &[&str],
    rows: u64,
) -> anyhow::Result<Option<Generated>> {
    let options = generate::Options {
        tasks: rows,
        seed: SEED,
        as_of: chrono::Utc::now().date_naive(),
        batch_rows: 100_000,
    };
    let plan = generate::plan(&options);
    let words = fill::identifiers(texts);
    if !plan.tables.iter().any(|t| words.contains(t.table)) {
        return Ok(None);
    }
    let names: Vec<String> = plan.tables.iter().map(|t| t.table.to_string()).collect();
    // A connection of its own: `seed generate` loads through one (see `generate::execute_on`).
    let client = Session::open(session.settings()).await?.into_client();
    let present: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_catalog.pg_class c \
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND c.relname = ANY($1) \
             AND EXISTS (SELECT 1 FROM pg_catalog.pg_proc p \
                         WHERE p.proname = 'create_activity_log_partitions')",
            &[&names],
        )
        .await
        .map_err(|err| crate::postgres::engine::query_error("cannot read the tables", err))?
        .get(0);
    if present != names.len() as i64 {
        return Ok(None);
    }
    let started = Instant::now();
    let outcome = generate::execute_on(&client, &options, &plan, &ProgressBar::hidden()).await;
    let duration_ms = started.elapsed().as_millis() as u64;
    Ok(Some(match outcome {
        Ok(outcome) => Generated {
            tasks: rows,
            tables: outcome
                .tables
                .iter()
                .map(|t| GeneratedTable {
                    table: t.table.to_string(),
                    rows: t.rows,
                })
                .collect(),
            duration_ms,
            failed: None,
        },
        Err(err) => Generated {
            tasks: rows,
            tables: Vec::new(),
            duration_ms,
            failed: Some(crate::errors::render(&err).message),
        },
    }))
}
