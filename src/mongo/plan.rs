//! Planning Mongo runs as pure functions of files and history: what `up` and `down` would
//! do (resuming a stopped migration first), and what `status`/`validate` say about each one.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::history::{Direction, HistoryRecord, RecordState};
use super::migration::{MongoMigration, MongoSet};
use crate::core::files::Kind;
use crate::core::plan::{DownTarget, Entry, InvalidFile, State, UpOptions, mark_invalid};
use crate::errors::Detailed;

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

fn repair_hint(record: &HistoryRecord, history: &str) -> String {
    format!(
        "undo or finish the migration's work by hand, then remove its record: db.{history}.deleteOne({{_id: {}}})",
        record.version
    )
}

/// Dirty records that cannot simply be resumed in this direction.
fn blocking_dirty(
    set: &MongoSet,
    history: &[HistoryRecord],
    direction: Direction,
    history_name: &str,
) -> Option<Detailed> {
    for record in history.iter().filter(|r| r.state == RecordState::Dirty) {
        let position = format!(
            "stopped at op {} of {} of its {} list",
            record.ops_done + 1,
            record.ops_total,
            match record.direction {
                Direction::Up => "up",
                Direction::Down => "down",
            }
        );
        let cause = record
            .error
            .as_deref()
            .map_or_else(String::new, |e| format!(": {e}"));
        let Some(file) = set.by_version(record.version) else {
            return Some(
                Detailed::new(format!(
                    "mongo migration {} is dirty and its file is gone; nothing was changed",
                    record.label()
                ))
                .context(format!("{position}{cause}"))
                .hint(repair_hint(record, history_name)),
            );
        };
        if file.checksum != record.checksum {
            return Some(
                Detailed::new(format!(
                    "mongo migration {} is dirty and its file changed since the run that stopped; nothing was changed",
                    record.label()
                ))
                .context(format!("{position}{cause}"))
                .context(format!(
                    "checksum {} in history, {} on disk ({})",
                    record.checksum.short(),
                    file.checksum.short(),
                    file.path.display()
                ))
                .hint("restore the file as it was to resume it, or:")
                .hint(repair_hint(record, history_name)),
            );
        }
        if record.direction != direction {
            let (message, hint) = match record.direction {
                Direction::Up => (
                    "is half-applied",
                    "run `migrate up --store mongo` to finish it first",
                ),
                Direction::Down => (
                    "is half-reverted",
                    "run `migrate down --store mongo` to finish reverting it first",
                ),
            };
            return Some(
                Detailed::new(format!(
                    "mongo migration {} {message}; nothing was changed",
                    record.label()
                ))
                .context(format!("{position}{cause}"))
                .hint(hint),
            );
        }
    }
    None
}

/// Applied files whose content changed since.
fn modified<'a>(set: &'a MongoSet, history: &[HistoryRecord]) -> Vec<&'a MongoMigration> {
    history
        .iter()
        .filter(|r| r.state == RecordState::Applied)
        .filter_map(|r| {
            let file = set.by_version(r.version)?;
            (file.checksum != r.checksum).then_some(file)
        })
        .collect()
}

/// Plans `up`: a dirty migration is resumed first, then pending files in version order.
pub fn plan_up(
    set: &MongoSet,
    history: &[HistoryRecord],
    options: UpOptions,
    history_name: &str,
) -> Result<Vec<Step>, Detailed> {
    if let Some(error) = blocking_dirty(set, history, Direction::Up, history_name) {
        return Err(error);
    }
    let changed = modified(set, history);
    if !changed.is_empty() {
        let mut error = Detailed::new(
            "applied mongo migrations were modified after they were applied; nothing was changed",
        );
        for file in changed {
            error = error.context(format!("{} ({})", file.label(), file.path.display()));
        }
        return Err(error.hint("undo the edits and write a new migration instead"));
    }
    let mut steps = Vec::new();
    for record in history.iter().filter(|r| r.state == RecordState::Dirty) {
        // `blocking_dirty` checked that the file exists.
        if let Some(file) = set.by_version(record.version) {
            steps.push(Step::new(Action::Resume, file, record.ops_done as usize));
        }
    }
    let recorded: BTreeSet<u64> = history.iter().map(|r| r.version).collect();
    let newest_applied = recorded.iter().copied().max();
    let pending: Vec<&MongoMigration> = set
        .migrations
        .iter()
        .filter(|m| !recorded.contains(&m.version))
        .collect();
    if !options.allow_out_of_order
        && let Some(newest) = newest_applied
    {
        let late: Vec<&&MongoMigration> = pending.iter().filter(|m| m.version < newest).collect();
        if !late.is_empty() {
            let mut error = Detailed::new(format!(
                "{} pending mongo migration{} older than V{newest}, which is already applied; nothing was changed",
                late.len(),
                if late.len() == 1 { " is" } else { "s are" }
            ));
            for m in late {
                error = error.context(format!("{} ({})", m.label(), m.path.display()));
            }
            return Err(error.hint(
                "rename the file to a version above the newest applied one, or pass --allow-out-of-order",
            ));
        }
    }
    steps.extend(
        pending
            .into_iter()
            .filter(|m| options.target.is_none_or(|t| m.version <= t))
            .map(|m| Step::new(Action::Apply, m, 0)),
    );
    Ok(steps)
}

/// Plans `down`: a half-reverted migration is finished first, then applied ones newest first.
pub fn plan_down(
    set: &MongoSet,
    history: &[HistoryRecord],
    target: DownTarget,
    history_name: &str,
) -> Result<Vec<Step>, Detailed> {
    if let Some(error) = blocking_dirty(set, history, Direction::Down, history_name) {
        return Err(error);
    }
    let mut versions: Vec<u64> = history.iter().map(|r| r.version).collect();
    versions.sort_unstable_by(|a, b| b.cmp(a));
    let chosen: Vec<u64> = match target {
        DownTarget::Steps(n) => versions.into_iter().take(n).collect(),
        DownTarget::To(v) => versions.into_iter().filter(|&a| a > v).collect(),
    };
    let by_version: BTreeMap<u64, &HistoryRecord> =
        history.iter().map(|r| (r.version, r)).collect();
    let mut steps = Vec::new();
    let mut missing = Vec::new();
    let mut irreversible = Vec::new();
    let mut changed = Vec::new();
    for version in chosen {
        let record = by_version[&version];
        match set.by_version(version) {
            None => missing.push(record.label()),
            Some(m) if !m.is_reversible() => irreversible.push(m),
            Some(m) if m.checksum != record.checksum => changed.push(m),
            Some(m) => {
                let from_op = match record.state {
                    RecordState::Dirty => record.ops_done as usize,
                    RecordState::Applied => 0,
                };
                steps.push(Step::new(Action::Revert, m, from_op));
            }
        }
    }
    if !irreversible.is_empty() {
        let mut error = Detailed::new(format!(
            "{} mongo migration{} in the plan cannot be reverted: no down ops; nothing was changed",
            irreversible.len(),
            if irreversible.len() == 1 { "" } else { "s" }
        ));
        for m in irreversible {
            error = error.context(format!("{} ({})", m.label(), m.path.display()));
        }
        return Err(error.hint("add a `down` list with the ops that undo the `up` list"));
    }
    if !missing.is_empty() {
        let mut error =
            Detailed::new("applied mongo migrations to revert have no file; nothing was changed");
        for label in missing {
            error = error.context(label);
        }
        return Err(error.hint("restore the files from version control"));
    }
    if !changed.is_empty() {
        let mut error = Detailed::new(
            "mongo migrations to revert were modified after they were applied; nothing was changed",
        );
        for m in changed {
            error = error.context(format!("{} ({})", m.label(), m.path.display()));
        }
        return Err(error.hint("their down ops may not match what was applied: undo the edits"));
    }
    Ok(steps)
}

/// Every migration, from files and history together, in version order.
pub fn status(set: &MongoSet, history: &[HistoryRecord]) -> Vec<Entry> {
    let records: BTreeMap<u64, &HistoryRecord> = history.iter().map(|r| (r.version, r)).collect();
    let newest_applied = records.keys().copied().max();
    let mut versions: BTreeSet<u64> = records.keys().copied().collect();
    versions.extend(set.migrations.iter().map(|m| m.version));
    let mut entries = Vec::new();
    for version in versions {
        let file = set.by_version(version);
        let record = records.get(&version).copied();
        let (state, note) = match (file, record) {
            (_, Some(r)) if r.state == RecordState::Dirty => {
                let list = match r.direction {
                    Direction::Up => "up",
                    Direction::Down => "down",
                };
                let mut note =
                    format!("{list} stopped at op {} of {}", r.ops_done + 1, r.ops_total);
                if let Some(error) = &r.error {
                    note.push_str(&format!(": {error}"));
                }
                (State::Dirty, Some(note))
            }
            (None, Some(_)) => (State::Missing, Some("file not found".to_string())),
            (Some(f), Some(r)) if f.checksum != r.checksum => (
                State::Modified,
                Some(format!(
                    "checksum {} in history, {} on disk",
                    r.checksum.short(),
                    f.checksum.short()
                )),
            ),
            (Some(_), Some(_)) => (State::Applied, None),
            (Some(_), None) if newest_applied.is_some_and(|n| version < n) => (
                State::OutOfOrder,
                Some(format!(
                    "older than applied V{}",
                    newest_applied.unwrap_or(0)
                )),
            ),
            (Some(_), None) => (State::Pending, None),
            (None, None) => continue,
        };
        entries.push(Entry {
            version: Some(version),
            name: file
                .map(|f| f.name.clone())
                .or_else(|| record.map(|r| r.name.clone()))
                .unwrap_or_default(),
            kind: Kind::Versioned,
            state,
            file: file.map(|f| f.path.display().to_string()),
            applied_at: record
                .filter(|r| r.state == RecordState::Applied)
                .map(|r| r.applied_at),
            execution_ms: record
                .filter(|r| r.state == RecordState::Applied)
                .map(|r| r.execution_ms),
            note,
        });
    }
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
    mark_invalid(&mut entries, invalid);
    entries
}

/// The newest version the history records as applied.
pub fn current_version(history: &[HistoryRecord]) -> Option<u64> {
    history
        .iter()
        .filter(|r| r.state == RecordState::Applied)
        .map(|r| r.version)
        .max()
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
        let err = plan_down(&files, &history, DownTarget::Steps(1), "h").unwrap_err();
        assert!(err.message.contains("half-applied"), "{}", err.message);
    }

    #[test]
    fn dirty_with_changed_file_is_refused() {
        let files = set(vec![migration(1, true)]);
        let mut dirty = record(&files.migrations[0], RecordState::Dirty, Direction::Up, 1);
        dirty.checksum = Checksum::of(b"other");
        let err = plan_up(&files, &[dirty], UpOptions::default(), "h").unwrap_err();
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
        let err = plan_down(&files, &history, DownTarget::To(0), "h").unwrap_err();
        assert!(
            err.message.contains("cannot be reverted"),
            "{}",
            err.message
        );
        let err = plan_up(&files, &history, UpOptions::default(), "h").unwrap_err();
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
