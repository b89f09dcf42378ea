//! `migrate health`: the checks of `crate::jobs::health` on every configured store (or those
//! `--store` names), one report, exit 2 when any finding is a warning or worse.

use serde::Serialize;

use super::Context;
use crate::cli::{HealthArgs, Store};
use crate::errors::Outcome;
use crate::jobs::health::{self, Severity, StoreHealth, size};
use crate::output::{Report, count, table};

#[derive(Debug, Serialize)]
struct HealthReport {
    format_version: u32,
    /// No finding at `warning` or above.
    healthy: bool,
    counts: Counts,
    stores: Vec<StoreHealth>,
}

#[derive(Debug, Default, Serialize)]
struct Counts {
    critical: usize,
    warning: usize,
    info: usize,
}

impl Report for HealthReport {
    fn human(&self) -> String {
        let mut out = String::new();
        for store in &self.stores {
            let worst = |s: Severity| store.findings.iter().filter(|f| f.severity == s).count();
            out.push_str(&format!(
                "{} {}: {}\n",
                store.store,
                store.database,
                summary(
                    worst(Severity::Critical),
                    worst(Severity::Warning),
                    worst(Severity::Info)
                )
            ));
            if !store.facts.is_empty() {
                let facts: Vec<String> = store
                    .facts
                    .iter()
                    .map(|(name, value)| format!("{name} {value}"))
                    .collect();
                out.push_str(&format!("  {}\n", facts.join(" · ")));
            }
            for finding in &store.findings {
                out.push_str(&format!(
                    "  {:<8} {}  {}\n           {}\n           fix: {}\n",
                    finding.severity.label().to_uppercase(),
                    finding.check,
                    finding.object,
                    finding.message,
                    finding.fix
                ));
            }
            if !store.largest.is_empty() {
                let mut t = table::new(&["largest", "rows", "total", "data", "indexes"]);
                for relation in &store.largest {
                    t.add_row(vec![
                        relation.name.clone(),
                        relation.rows.to_string(),
                        size(relation.total_bytes),
                        size(relation.data_bytes),
                        size(relation.index_bytes),
                    ]);
                }
                out.push_str(&format!("{t}\n"));
            }
            for (title, list) in [
                ("slowest by mean", &store.slowest_by_mean),
                ("slowest by total", &store.slowest_by_total),
            ] {
                if list.is_empty() {
                    continue;
                }
                let mut t = table::new(&[title, "calls", "mean ms", "total ms"]);
                for statement in list {
                    t.add_row(vec![
                        statement.query.clone(),
                        statement.calls.to_string(),
                        format!("{:.1}", statement.mean_ms),
                        format!("{:.0}", statement.total_ms),
                    ]);
                }
                out.push_str(&format!("{t}\n"));
            }
            out.push_str(&format!("  checked: {}\n", store.checks.join(", ")));
        }
        out.push_str(&format!(
            "health: {}\n",
            summary(self.counts.critical, self.counts.warning, self.counts.info)
        ));
        out
    }
}

fn summary(critical: usize, warning: usize, info: usize) -> String {
    if critical + warning + info == 0 {
        return "no findings".to_string();
    }
    let mut parts = Vec::new();
    if critical > 0 {
        parts.push(format!("{critical} critical"));
    }
    if warning > 0 {
        parts.push(count(warning, "warning"));
    }
    if info > 0 {
        parts.push(format!("{info} info"));
    }
    parts.join(", ")
}

pub async fn run(context: &Context, args: &HealthArgs) -> anyhow::Result<Outcome> {
    let settings = &context.settings;
    let mut thresholds = settings.health.clone();
    if let Some(top) = args.top {
        thresholds.top = top;
    }
    let wanted = |store: Store| args.store.is_empty() || args.store.contains(&store);
    let mut skipped = super::Skipped::default();
    let mut stores = Vec::new();
    if wanted(Store::Pg) {
        match &settings.postgres {
            Some(pg) => stores.push(health::postgres::check(pg, &thresholds).await?),
            None => skipped.unconfigured("postgres"),
        }
    }
    if wanted(Store::Mongo) {
        match &settings.mongo {
            Some(mongo) => stores.push(health::mongo::check(mongo, &thresholds).await?),
            None => skipped.unconfigured("mongo"),
        }
    }
    if wanted(Store::Redis) {
        match &settings.redis {
            Some(redis) => stores.push(health::redis::check(redis, &thresholds).await?),
            None => skipped.unconfigured("redis"),
        }
    }
    if stores.is_empty() {
        let mut error = crate::errors::Detailed::new("health: no store to check");
        for line in skipped.lines() {
            error = error.context(line);
        }
        return Err(error
            .hint("pass --database-url, --mongodb-url or --redis-url (or use --sandbox)")
            .into());
    }
    skipped.print(&context.printer);
    let mut counts = Counts::default();
    for finding in stores.iter().flat_map(|s| &s.findings) {
        match finding.severity {
            Severity::Critical => counts.critical += 1,
            Severity::Warning => counts.warning += 1,
            Severity::Info => counts.info += 1,
        }
    }
    let healthy = counts.critical + counts.warning == 0;
    context.printer.report(&HealthReport {
        format_version: 1,
        healthy,
        counts,
        stores,
    });
    Ok(Outcome::clean_if(healthy))
}
