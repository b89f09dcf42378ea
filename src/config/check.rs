//! `[check]`: what `migrate check` observes on the shadow database, as written and resolved.

use std::time::Duration;

use serde::Deserialize;

use super::file::DurationSetting;

/// The default of `lock_budget`: a lock blocking reads or writes on an existing table may be
/// held this long.
pub const DEFAULT_LOCK_BUDGET: Duration = Duration::from_secs(1);

/// `[check]` as written; every key is optional.
#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct CheckSection {
    /// A lock blocking reads or writes on a table that existed before, held longer, is a finding.
    pub lock_budget: Option<DurationSetting>,
    /// Rows generated in each table the new migrations touch before they run (`--with-data`).
    pub with_data: Option<u64>,
}

/// `[check]`, resolved.
#[derive(Debug, Clone)]
pub struct CheckSettings {
    pub lock_budget: Duration,
    /// Zero: no generated data.
    pub with_data: u64,
}

/// The environment's keys over the top level's.
pub fn merge(base: CheckSection, over: CheckSection) -> CheckSection {
    CheckSection {
        lock_budget: over.lock_budget.or(base.lock_budget),
        with_data: over.with_data.or(base.with_data),
    }
}

pub fn resolve(section: CheckSection) -> CheckSettings {
    CheckSettings {
        lock_budget: section.lock_budget.map_or(DEFAULT_LOCK_BUDGET, |d| d.0),
        with_data: section.with_data.unwrap_or(0),
    }
}
