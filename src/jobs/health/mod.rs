//! `migrate health`: read-only checks of the live stores against the `[health]` thresholds.
//! Each check reads the server's own statistics (`pg_stat_*`, `collStats`/`$indexStats`,
//! `INFO`/`CONFIG GET`) and turns what it sees into findings: a severity, the object it is
//! about, what was seen and what to do. A check that could not look says so as a finding of
//! its own (`not-checked`), never as silence.

pub mod mongo;
pub mod postgres;
pub mod redis;

use serde::Serialize;

/// How bad a finding is. `warning` and above make `migrate health` exit 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; nothing to page about (a check that is off, a hint).
    Info,
    /// Act soon.
    Warning,
    /// Act now: data at risk or the server about to refuse work.
    Critical,
}

impl Severity {
    pub fn label(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// One thing a check found.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub severity: Severity,
    /// The check's name (`idle-in-transaction`, `unused-index`, …).
    pub check: &'static str,
    /// What it is about: a table, an index, a session (`pid 123`), a setting.
    pub object: String,
    /// What was seen, with the figures and the threshold.
    pub message: String,
    /// What to do about it.
    pub fix: String,
}

impl Finding {
    pub fn new(
        severity: Severity,
        check: &'static str,
        object: impl Into<String>,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) -> Finding {
        Finding {
            severity,
            check,
            object: object.into(),
            message: message.into(),
            fix: fix.into(),
        }
    }
}

/// A size or usage figure worth showing beside the findings.
#[derive(Debug, Clone, Serialize)]
pub struct Relation {
    pub name: String,
    /// Rows (PostgreSQL's estimate) or documents.
    pub rows: i64,
    pub total_bytes: i64,
    pub data_bytes: i64,
    pub index_bytes: i64,
}

/// A statement from `pg_stat_statements`.
#[derive(Debug, Clone, Serialize)]
pub struct Statement {
    pub queryid: String,
    pub calls: i64,
    pub mean_ms: f64,
    pub total_ms: f64,
    pub rows: i64,
    pub query: String,
}

/// What one store's checks found.
#[derive(Debug, Clone, Serialize)]
pub struct StoreHealth {
    pub store: &'static str,
    pub database: String,
    /// Worst first.
    pub findings: Vec<Finding>,
    /// Headline figures (`cache_hit_ratio`, `connections`, `used_memory`, …) as text.
    pub facts: Vec<(String, String)>,
    /// The largest tables or collections, biggest first.
    pub largest: Vec<Relation>,
    /// Slowest statements by mean time, then by total time (PostgreSQL with
    /// `pg_stat_statements` only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub slowest_by_mean: Vec<Statement>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub slowest_by_total: Vec<Statement>,
    /// The checks that ran.
    pub checks: Vec<&'static str>,
}

impl StoreHealth {
    pub fn new(store: &'static str, database: String) -> StoreHealth {
        StoreHealth {
            store,
            database,
            findings: Vec::new(),
            facts: Vec::new(),
            largest: Vec::new(),
            slowest_by_mean: Vec::new(),
            slowest_by_total: Vec::new(),
            checks: Vec::new(),
        }
    }

    pub(crate) fn fact(&mut self, name: &str, value: impl Into<String>) {
        self.facts.push((name.to_string(), value.into()));
    }

    /// Findings worst first, then by check and object, so reports are stable.
    pub(crate) fn sort(&mut self) {
        self.findings.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then(a.check.cmp(b.check))
                .then(a.object.cmp(&b.object))
        });
    }

    /// A check that could not run: loud, as a warning, with the error.
    pub(crate) fn could_not_check(&mut self, check: &'static str, error: impl std::fmt::Display) {
        self.findings.push(Finding::new(
            Severity::Warning,
            "not-checked",
            check,
            format!("the {check} check could not run: {error}"),
            "fix the cause (often a missing privilege: grant pg_monitor to the user) and run again",
        ));
    }
}

/// Bytes as `pg_size_pretty` prints them.
pub fn size(bytes: i64) -> String {
    let mut value = bytes as f64;
    for unit in ["bytes", "kB", "MB", "GB", "TB"] {
        if value.abs() < 1024.0 || unit == "TB" {
            return if unit == "bytes" {
                format!("{bytes} bytes")
            } else {
                format!("{value:.1} {unit}")
            };
        }
        value /= 1024.0;
    }
    unreachable!()
}

/// Seconds as `1h 2m`, `3m 4s`, `5.0s`.
pub fn seconds(s: f64) -> String {
    let whole = s.max(0.0) as u64;
    if whole >= 3600 {
        format!("{}h {}m", whole / 3600, (whole % 3600) / 60)
    } else if whole >= 60 {
        format!("{}m {}s", whole / 60, whole % 60)
    } else {
        format!("{s:.1}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations_read_like_the_server_prints_them() {
        assert_eq!(size(512), "512 bytes");
        assert_eq!(size(8 * 1024 * 1024), "8.0 MB");
        assert_eq!(seconds(3.25), "3.2s");
        assert_eq!(seconds(192.0), "3m 12s");
        assert_eq!(seconds(7260.0), "2h 1m");
    }

    #[test]
    fn findings_sort_worst_first() {
        let mut store = StoreHealth::new("postgres", "db".into());
        store
            .findings
            .push(Finding::new(Severity::Info, "b", "x", "", ""));
        store
            .findings
            .push(Finding::new(Severity::Critical, "a", "y", "", ""));
        store
            .findings
            .push(Finding::new(Severity::Warning, "a", "z", "", ""));
        store.sort();
        let order: Vec<Severity> = store.findings.iter().map(|f| f.severity).collect();
        assert_eq!(
            order,
            [Severity::Critical, Severity::Warning, Severity::Info]
        );
    }
}
