//! Which backups a retention policy keeps: the newest N, the newest of each of the last D days,
//! W ISO weeks and M months, and always the newest backup a restore has verified. Backups are
//! ordered by their recorded creation time, never by name (WAL-G #636).

use chrono::{DateTime, Datelike, Utc};
use serde::Serialize;

/// How many backups each rule keeps; 0 turns a rule off.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Policy {
    pub keep_last: u32,
    pub keep_daily: u32,
    pub keep_weekly: u32,
    pub keep_monthly: u32,
}

impl Policy {
    /// A policy without any rule would delete everything: callers refuse it.
    pub fn is_empty(&self) -> bool {
        self.keep_last == 0
            && self.keep_daily == 0
            && self.keep_weekly == 0
            && self.keep_monthly == 0
    }
}

/// A completed backup as the policy sees it.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub id: String,
    pub created_at: DateTime<Utc>,
    /// A restore verification passed.
    pub verified: bool,
}

/// Why a backup is kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "rule", content = "period")]
pub enum Reason {
    /// One of the newest `keep_last`.
    Last,
    /// Newest of its UTC day (`2026-11-22`).
    Daily(String),
    /// Newest of its ISO week (`2026-W47`).
    Weekly(String),
    /// Newest of its UTC month (`2026-11`).
    Monthly(String),
    /// The newest backup whose restore was verified.
    NewestVerified,
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reason::Last => f.write_str("last"),
            Reason::Daily(day) => write!(f, "daily {day}"),
            Reason::Weekly(week) => write!(f, "weekly {week}"),
            Reason::Monthly(month) => write!(f, "monthly {month}"),
            Reason::NewestVerified => f.write_str("newest verified"),
        }
    }
}

/// The verdict on one backup.
#[derive(Debug, Clone, Serialize)]
pub struct Decision {
    pub id: String,
    pub created_at: DateTime<Utc>,
    /// Empty: the backup goes.
    pub reasons: Vec<Reason>,
}

impl Decision {
    pub fn keep(&self) -> bool {
        !self.reasons.is_empty()
    }
}

/// Applies the policy. The result is ordered newest first (ties broken by id, newest id first).
pub fn select(policy: &Policy, candidates: &[Candidate]) -> Vec<Decision> {
    let mut ordered: Vec<&Candidate> = candidates.iter().collect();
    ordered.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
    let mut decisions: Vec<Decision> = ordered
        .iter()
        .map(|c| Decision {
            id: c.id.clone(),
            created_at: c.created_at,
            reasons: Vec::new(),
        })
        .collect();
    for decision in decisions.iter_mut().take(policy.keep_last as usize) {
        decision.reasons.push(Reason::Last);
    }
    keep_newest_per_period(&mut decisions, policy.keep_daily, |t| {
        Reason::Daily(t.format("%Y-%m-%d").to_string())
    });
    keep_newest_per_period(&mut decisions, policy.keep_weekly, |t| {
        let week = t.iso_week();
        Reason::Weekly(format!("{}-W{:02}", week.year(), week.week()))
    });
    keep_newest_per_period(&mut decisions, policy.keep_monthly, |t| {
        Reason::Monthly(t.format("%Y-%m").to_string())
    });
    if let Some(index) = ordered.iter().position(|c| c.verified) {
        decisions[index].reasons.push(Reason::NewestVerified);
    }
    decisions
}

/// Walking from the newest, keeps the first backup of each new period until `count` periods
/// are kept.
fn keep_newest_per_period(
    decisions: &mut [Decision],
    count: u32,
    period: impl Fn(&DateTime<Utc>) -> Reason,
) {
    let mut seen: Vec<Reason> = Vec::new();
    for decision in decisions.iter_mut() {
        if seen.len() >= count as usize {
            break;
        }
        let bucket = period(&decision.created_at);
        if !seen.contains(&bucket) {
            seen.push(bucket.clone());
            decision.reasons.push(bucket);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap()
    }

    fn candidate(id: &str, created_at: DateTime<Utc>) -> Candidate {
        Candidate {
            id: id.to_string(),
            created_at,
            verified: false,
        }
    }

    fn kept(decisions: &[Decision]) -> Vec<&str> {
        decisions
            .iter()
            .filter(|d| d.keep())
            .map(|d| d.id.as_str())
            .collect()
    }

    #[test]
    fn fewer_backups_than_keep_last_is_a_no_op() {
        let policy = Policy {
            keep_last: 5,
            ..Policy::default()
        };
        let candidates = vec![
            candidate("a", at(2026, 1, 1, 0)),
            candidate("b", at(2026, 1, 2, 0)),
        ];
        let decisions = select(&policy, &candidates);
        assert!(decisions.iter().all(Decision::keep));
    }

    #[test]
    fn keep_last_orders_by_creation_time_not_by_name() {
        // Names sort the other way round from their creation times (WAL-G #636).
        let candidates = vec![
            candidate("z-oldest", at(2026, 1, 1, 0)),
            candidate("a-newest", at(2026, 1, 3, 0)),
            candidate("m-middle", at(2026, 1, 2, 0)),
        ];
        let policy = Policy {
            keep_last: 2,
            ..Policy::default()
        };
        let decisions = select(&policy, &candidates);
        assert_eq!(kept(&decisions), vec!["a-newest", "m-middle"]);
        assert_eq!(decisions[2].id, "z-oldest");
        assert!(!decisions[2].keep());
    }

    #[test]
    fn daily_weekly_and_monthly_keep_the_newest_of_each_period() {
        let candidates = vec![
            // Two on 2026-03-10 (a Tuesday, ISO week 11): the later one is the daily pick.
            candidate("d10-late", at(2026, 3, 10, 22)),
            candidate("d10-early", at(2026, 3, 10, 1)),
            candidate("d09", at(2026, 3, 9, 12)),
            // Week 10.
            candidate("d05", at(2026, 3, 5, 12)),
            candidate("d02", at(2026, 3, 2, 12)),
            // February.
            candidate("f20", at(2026, 2, 20, 12)),
            candidate("f01", at(2026, 2, 1, 12)),
            // January.
            candidate("j15", at(2026, 1, 15, 12)),
        ];
        let policy = Policy {
            keep_last: 1,
            keep_daily: 2,
            keep_weekly: 2,
            keep_monthly: 3,
        };
        let decisions = select(&policy, &candidates);
        assert_eq!(
            kept(&decisions),
            vec!["d10-late", "d09", "d05", "f20", "j15"]
        );
        let reasons = |id: &str| {
            decisions
                .iter()
                .find(|d| d.id == id)
                .unwrap()
                .reasons
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            reasons("d10-late"),
            vec![
                "last",
                "daily 2026-03-10",
                "weekly 2026-W11",
                "monthly 2026-03"
            ]
        );
        assert_eq!(reasons("d09"), vec!["daily 2026-03-09"]);
        assert_eq!(reasons("d05"), vec!["weekly 2026-W10"]);
        assert_eq!(reasons("f20"), vec!["monthly 2026-02"]);
        assert_eq!(reasons("j15"), vec!["monthly 2026-01"]);
        assert!(reasons("d10-early").is_empty());
        assert!(reasons("f01").is_empty());
    }

    #[test]
    fn the_newest_verified_backup_is_always_kept() {
        let mut old = candidate("old-verified", at(2025, 6, 1, 0));
        old.verified = true;
        let mut older = candidate("older-verified", at(2025, 5, 1, 0));
        older.verified = true;
        let candidates = vec![
            candidate("new", at(2026, 1, 2, 0)),
            candidate("newer", at(2026, 1, 3, 0)),
            old,
            older,
        ];
        let policy = Policy {
            keep_last: 1,
            ..Policy::default()
        };
        let decisions = select(&policy, &candidates);
        assert_eq!(kept(&decisions), vec!["newer", "old-verified"]);
        assert_eq!(decisions[2].reasons, vec![Reason::NewestVerified]);
    }

    #[test]
    fn an_empty_policy_is_recognised() {
        assert!(Policy::default().is_empty());
        assert!(
            !Policy {
                keep_monthly: 1,
                ..Policy::default()
            }
            .is_empty()
        );
    }
}
