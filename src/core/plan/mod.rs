//! The planning vocabulary shared by the PostgreSQL and Mongo planners: the options of `up`,
//! what `down` reverts, the states `status` shows (and which of them are problems), and the
//! rule that shows a file that failed to load as an `invalid` row. The planning rules
//! themselves (modified, pending, out-of-order, dirty, what `down` reverts, the status
//! ladder) are written once in [`rules`] over plain inputs; their failures are
//! [`PlanError`]s, rendered for users in `errors`.

mod error;
pub mod rules;
#[cfg(test)]
mod tests;

pub use error::{DirtyReason, DirtyRow, Item, PlanError, Store};
pub use rules::{Action, Direction, File, Planned, Row, RowKind};

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::files::{FileProblem, Kind};

/// Options of `up` that shape its plan.
#[derive(Debug, Clone, Copy, Default)]
pub struct UpOptions {
    pub target: Option<u64>,
    pub allow_out_of_order: bool,
}

/// What `down` reverts.
#[derive(Debug, Clone, Copy)]
pub enum DownTarget {
    Steps(usize),
    To(u64),
}

/// The state of one migration as `status` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    Applied,
    Pending,
    /// Applied, but the file changed since.
    Modified,
    /// Applied, but the file is gone.
    Missing,
    /// A failed run left it half-done.
    Dirty,
    /// Covered by a baseline: never run by migrate.
    Baseline,
    /// A repeatable migration that changed and will be re-applied.
    Outdated,
    /// Pending, but older than an applied version.
    OutOfOrder,
    /// The file cannot be used: empty, unparsable, or sharing its version with another file.
    Invalid,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Applied => "applied",
            State::Pending => "pending",
            State::Modified => "modified",
            State::Missing => "missing",
            State::Dirty => "dirty",
            State::Baseline => "baseline",
            State::Outdated => "outdated",
            State::OutOfOrder => "out-of-order",
            State::Invalid => "invalid",
        }
    }

    /// Whether `validate` counts this state as a problem.
    pub fn is_problem(self) -> bool {
        matches!(
            self,
            State::Modified | State::Missing | State::Dirty | State::OutOfOrder | State::Invalid
        )
    }

    /// Whether the database and the files agree on this migration: it is applied (or adopted
    /// by a baseline) and unchanged. Everything else makes `status --exit-code` exit 2.
    pub fn is_current(self) -> bool {
        matches!(self, State::Applied | State::Baseline)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub version: Option<u64>,
    pub name: String,
    pub kind: Kind,
    pub state: State,
    pub file: Option<String>,
    pub applied_at: Option<DateTime<Utc>>,
    pub execution_ms: Option<u64>,
    pub note: Option<String>,
}

/// A file that failed to load but whose name says which migration it is.
pub struct InvalidFile<'a> {
    pub kind: Kind,
    pub version: Option<u64>,
    pub name: String,
    pub problem: &'a FileProblem,
}

/// Shows files that failed to load as `invalid` rows (PostgreSQL and Mongo alike): in place
/// of the `missing` row of an applied migration whose file is now broken, else as a row of
/// their own, in order. A dirty migration stays `dirty`.
pub fn mark_invalid<'a>(entries: &mut Vec<Entry>, invalid: impl Iterator<Item = InvalidFile<'a>>) {
    for file in invalid {
        let note = match file.problem.line {
            Some(line) => format!("line {line}: {}", file.problem.message),
            None => file.problem.message.clone(),
        };
        let same = |e: &Entry| {
            e.kind == file.kind
                && match file.kind {
                    Kind::Versioned => e.version == file.version,
                    Kind::Repeatable => e.name == file.name,
                }
        };
        if let Some(entry) = entries.iter_mut().find(|e| same(e)) {
            if entry.state == State::Missing {
                entry.state = State::Invalid;
                entry.file = Some(file.problem.file.clone());
                entry.note = Some(format!("applied; the file is invalid: {note}"));
            }
            continue;
        }
        let at = entries
            .iter()
            .position(|e| match file.kind {
                Kind::Versioned => {
                    e.kind == Kind::Repeatable || e.version.unwrap_or(0) > file.version.unwrap_or(0)
                }
                Kind::Repeatable => e.kind == Kind::Repeatable && e.name > file.name,
            })
            .unwrap_or(entries.len());
        entries.insert(
            at,
            Entry {
                version: file.version,
                name: file.name,
                kind: file.kind,
                state: State::Invalid,
                file: Some(file.problem.file.clone()),
                applied_at: None,
                execution_ms: None,
                note: Some(note),
            },
        );
    }
}
