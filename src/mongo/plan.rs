//! Planning Mongo runs as pure functions of files and history: what `up` and `down` would
//! do (resuming a stopped migration first), and what `status`/`validate` say about each one.
//! The rules are in `core::plan::rules`; this module describes Mongo files and history to
//! them and resumes a stopped migration from its op when its file is unchanged.

use serde::Serialize;

use super::history::{Direction, HistoryRecord, RecordState};
use super::migration::{MongoMigration, MongoSet};
use crate::core::files::Kind;
use crate::core::plan::rules::{self, Inputs, Planned};
pub use crate::core::plan::{
    DirtyReason, DownTarget, Entry, InvalidFile, PlanError, State, Store, UpOptions,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Run the up ops of a pending migration.
    Apply,
    /// Finish the up ops of a migration a stopped run left dirty, from `from_op`.
    Resume,
    /// Run the down ops of an applied migration (or finish a stopped revert, from `from_op`).
    Revert,
}

/// One step of a Mongo plan.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub action: Action,
    pub version: u64,
    pub name: String,
    pub file: String,
    pub checksum: String,
    /// Ops in the list this step runs.
    pub ops: usize,
    /// The first op to run (0 unless resuming).
    pub from_op: usize,
}

impl Step {
    fn new(action: Action, migration: &MongoMigration, from_op: usize) -> Step {
        let ops = match action {
            Action::Apply | Action::Resume => migration.up.len(),
            Action::Revert => migration.down.as_ref().map_or(0, Vec::len),
        };
        Step {
            action,
            version: migration.version,
            name: migration.name.clone(),
            file: migration.path.display().to_string(),
            checksum: migration.checksum.to_string(),
            ops,
            from_op,
        }
    }

    pub fn label(&self) -> String {
        format!("V{} {}", self.version, self.name)
    }
}

/// The files and history as the shared planning rules see them.
fn inputs<'a>(set: &'a MongoSet, history: &'a [HistoryRecord], history_name: &str) -> Inputs<'a> {
    Inputs {
        store: Store::Mongo {
            history: history_name.to_string(),
        },
        files: set
            .migrations
            .iter()
            .map(|m| rules::File {
                kind: Kind::Versioned,
                version: Some(m.version),
                name: &m.name,
                path: m.path.display().to_string(),
                checksum: &m.checksum,
                reversible: m.is_reversible(),
            })
            .collect(),
        rows: rows(history),
    }
}

fn rows(history: &[HistoryRecord]) -> Vec<rules::Row<'_>> {
    history.iter().map(row).collect()
}

fn row(record: &HistoryRecord) -> rules::Row<'_> {
    let dirty = (record.state == RecordState::Dirty).then(|| {
        let list = match record.direction {
            Direction::Up => "up",
            Direction::Down => "down",
        };
        let mut note = format!(
            "{list} stopped at op {} of {}",
            record.ops_done + 1,
            record.ops_total
        );
        if let Some(error) = &record.error {
            note.push_str(&format!(": {error}"));
        }
        rules::Dirty {
            direction: Some(match record.direction {
                Direction::Up => rules::Direction::Up,
                Direction::Down => rules::Direction::Down,
            }),
            position: format!(
                "stopped at op {} of {} of its {list} list",
                record.ops_done + 1,
                record.ops_total
            ),
            cause: record.error.clone(),
            note,
        }
    });
    rules::Row {
        kind: rules::RowKind::Versioned,
        version: Some(record.version),
        name: &record.name,
        checksum: Some(&record.checksum),
        applied_at: record.applied_at,
        execution_ms: record.execution_ms,
        dirty,
    }
}

/// A stopped migration is finished from the op it stopped at, when its file is unchanged.
fn resumable(record: &HistoryRecord, file: &MongoMigration) -> Result<usize, DirtyReason> {
    if file.checksum != record.checksum {
        return Err(DirtyReason::FileChanged {
            recorded: record.checksum.short().to_string(),
            on_disk: file.checksum.short().to_string(),
            file: file.path.display().to_string(),
        });
    }
    Ok(record.ops_done as usize)
}

fn steps(planned: Vec<Planned>, set: &MongoSet) -> Vec<Step> {
    planned
        .into_iter()
        .map(|p| {
            let action = match p.action {
                rules::Action::Resume => Action::Resume,
                rules::Action::Revert => Action::Revert,
                rules::Action::Apply | rules::Action::Reapply => Action::Apply,
            };
            Step::new(action, &set.migrations[p.file], p.from)
        })
        .collect()
}

/// Plans `up`: a dirty migration is resumed first, then pending files in version order.
pub fn plan_up(
    set: &MongoSet,
    history: &[HistoryRecord],
    options: UpOptions,
    history_name: &str,
) -> Result<Vec<Step>, PlanError> {
    let planned = inputs(set, history, history_name).plan_up(options, |row, file| {
        resumable(&history[row], &set.migrations[file])
    })?;
    Ok(steps(planned, set))
}

/// Plans `down`: a half-reverted migration is finished first, then applied ones newest first.
pub fn plan_down(
    set: &MongoSet,
    history: &[HistoryRecord],
    target: DownTarget,
    history_name: &str,
) -> Result<Vec<Step>, PlanError> {
    let planned = inputs(set, history, history_name).plan_down(target, |row, file| {
        resumable(&history[row], &set.migrations[file])
    })?;
    Ok(steps(planned, set))
}

/// Every migration, from files and history together, in version order.
pub fn status(set: &MongoSet, history: &[HistoryRecord]) -> Vec<Entry> {
    let invalid = set.problems.iter().filter_map(|problem| {
        let file_name = std::path::Path::new(&problem.file).file_name()?;
        let (version, name) =
            super::migration::parse_file_name(&file_name.to_string_lossy()).ok()?;
        Some(InvalidFile {
            kind: Kind::Versioned,
            version: Some(version),
            name,
            problem,
        })
    });
    inputs(set, history, "").status(invalid)
}

/// The newest version the history records as applied.
pub fn current_version(history: &[HistoryRecord]) -> Option<u64> {
    rules::current_version(&rows(history))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::Checksum;
    use std::path::PathBuf;

    fn migration(version: u64, reversible: bool) -> MongoMigration {
        let text = format!("v{version}");
        let op = super::super::op::Op::DropCollection {
            collection: format!("c{version}"),
        };
        MongoMigration {
            version,
            name: format!("m{version}"),
            path: PathBuf::from(format!("V{version}__m{version}.json")),
            checksum: Checksum::of(text.as_bytes()),
            up: vec![op.clone(), op.clone()],
            down: reversible.then(|| vec![op]),
        }
    }

    fn record(
        m: &MongoMigration,
        state: RecordState,
        direction: Direction,
        done: u32,
    ) -> HistoryRecord {
        HistoryRecord {
            version: m.version,
            name: m.name.clone(),
            checksum: m.checksum.clone(),
            state,
            direction,
            ops_done: done,
            ops_total: 2,
            applied_at: chrono::Utc::now(),
            execution_ms: 1,
            applied_by: "test".into(),
            tool_version: "0".into(),
            error: None,
        }
    }

    fn set(migrations: Vec<MongoMigration>) -> MongoSet {
        MongoSet {
            migrations,
            problems: Vec::new(),
        }
    }

    #[test]
    fn resumes_dirty_then_applies_pending() {
        let files = set(vec![
            migration(1, true),
            migration(2, true),
            migration(3, true),
        ]);
        let history = vec![
            record(&files.migrations[0], RecordState::Applied, Direction::Up, 2),
            record(&files.migrations[1], RecordState::Dirty, Direction::Up, 1),
        ];
        let steps = plan_up(&files, &history, UpOptions::default(), "h").unwrap();
        let summary: Vec<(Action, u64, usize)> = steps
            .iter()
            .map(|s| (s.action, s.version, s.from_op))
            .collect();
        assert_eq!(summary, vec![(Action::Resume, 2, 1), (Action::Apply, 3, 0)]);
        let err = crate::errors::Detailed::from(
            plan_down(&files, &history, DownTarget::Steps(1), "h").unwrap_err(),
        );
        assert!(err.message.contains("half-applied"), "{}", err.message);
    }

    #[test]
    fn dirty_with_changed_file_is_refused() {
        let files = set(vec![migration(1, true)]);
        let mut dirty = record(&files.migrations[0], RecordState::Dirty, Direction::Up, 1);
        dirty.checksum = Checksum::of(b"other");
        let err = crate::errors::Detailed::from(
            plan_up(&files, &[dirty], UpOptions::default(), "h").unwrap_err(),
        );
        assert!(err.message.contains("file changed"), "{}", err.message);
        assert!(err.hints.iter().any(|h| h.contains("deleteOne({_id: 1})")));
    }

    #[test]
    fn down_finishes_a_half_revert_and_refuses_irreversible() {
        let files = set(vec![
            migration(1, false),
            migration(2, true),
            migration(3, true),
        ]);
        let history = vec![
            record(&files.migrations[0], RecordState::Applied, Direction::Up, 2),
            record(&files.migrations[1], RecordState::Applied, Direction::Up, 2),
            record(&files.migrations[2], RecordState::Dirty, Direction::Down, 1),
        ];
        let steps = plan_down(&files, &history, DownTarget::Steps(2), "h").unwrap();
        assert_eq!(
            steps
                .iter()
                .map(|s| (s.version, s.from_op))
                .collect::<Vec<_>>(),
            vec![(3, 1), (2, 0)]
        );
        let err = crate::errors::Detailed::from(
            plan_down(&files, &history, DownTarget::To(0), "h").unwrap_err(),
        );
        assert!(
            err.message.contains("cannot be reverted"),
            "{}",
            err.message
        );
        let err = crate::errors::Detailed::from(
            plan_up(&files, &history, UpOptions::default(), "h").unwrap_err(),
        );
        assert!(err.message.contains("half-reverted"), "{}", err.message);
    }

    #[test]
    fn status_states() {
        let files = set(vec![
            migration(1, true),
            migration(2, true),
            migration(4, true),
        ]);
        let mut gone = migration(3, true);
        gone.name = "gone".into();
        let history = vec![
            record(&files.migrations[1], RecordState::Applied, Direction::Up, 2),
            record(&gone, RecordState::Applied, Direction::Up, 2),
        ];
        let states: Vec<(u64, State)> = status(&files, &history)
            .iter()
            .map(|e| (e.version.unwrap(), e.state))
            .collect();
        assert_eq!(
            states,
            vec![
                (1, State::OutOfOrder),
                (2, State::Applied),
                (3, State::Missing),
                (4, State::Pending)
            ]
        );
    }
}
