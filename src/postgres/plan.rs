//! Planning, as pure functions of files and history: what `up` and `down` would do, and what
//! `status`/`validate` say about each migration. The executor runs exactly these plans. The
//! rules are in `core::plan::rules`; this module describes PostgreSQL files and history to them
//! and decides which dirty migrations can be resumed (statement by statement).

use serde::Serialize;

use super::history::{self, Direction, HistoryRow, RowKind, RowState};
use super::migration::{Kind, Migration, MigrationSet};
use crate::core::plan::rules::{self, Planned};
pub use crate::core::plan::{
    DirtyReason, DownTarget, Entry, InvalidFile, PlanError, State, Store, UpOptions, mark_invalid,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Run the up part of a pending migration.
    Apply,
    /// Run a repeatable migration again because it changed.
    Reapply,
    /// Run the down part of an applied migration.
    Revert,
    /// Finish a statement-by-statement migration that failed part way: from its first
    /// unfinished statement (`Step::resume_from`), the ones before it being unchanged.
    Resume,
}

/// One step of a plan: which file, what to do, how.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub action: Action,
    pub kind: Kind,
    pub version: Option<u64>,
    pub name: String,
    pub file: String,
    pub transactional: bool,
    pub checksum: String,
    /// For `resume`: the 0-based index of the first statement still to run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resume_from: Option<usize>,
}

impl Step {
    fn new(action: Action, migration: &Migration) -> Step {
        Step {
            resume_from: None,
            action,
            kind: migration.kind,
            version: migration.version,
            name: migration.name.clone(),
            file: migration.path.display().to_string(),
            transactional: !migration.no_transaction,
            checksum: migration.checksum.to_string(),
        }
    }

    pub fn label(&self) -> String {
        match self.version {
            Some(version) => format!("V{version} {}", self.name),
            None => format!("R {}", self.name),
        }
    }
}

/// The files and history as the shared planning rules see them, and the files by index.
fn inputs<'a>(
    set: &'a MigrationSet,
    history: &'a [HistoryRow],
) -> (rules::Inputs<'a>, Vec<&'a Migration>) {
    let migrations: Vec<&Migration> = set.versioned.iter().chain(&set.repeatable).collect();
    let files = migrations
        .iter()
        .map(|m| rules::File {
            kind: m.kind,
            version: m.version,
            name: &m.name,
            path: m.path.display().to_string(),
            checksum: &m.checksum,
            reversible: m.is_reversible(),
        })
        .collect();
    let inputs = rules::Inputs {
        store: Store::Postgres,
        files,
        rows: rows(history),
    };
    (inputs, migrations)
}

fn rows(history: &[HistoryRow]) -> Vec<rules::Row<'_>> {
    history.iter().map(row).collect()
}

fn row(row: &HistoryRow) -> rules::Row<'_> {
    let dirty = (row.state == RowState::Dirty).then(|| {
        let progress = row.progress();
        let position = progress.map_or_else(|| "failed".to_string(), |p| p.failed_at());
        rules::Dirty {
            direction: progress.map(|p| match p.direction {
                Direction::Up => rules::Direction::Up,
                Direction::Down => rules::Direction::Down,
            }),
            cause: row.error.as_deref().map(|e| {
                e.strip_prefix(history::DOWN_PREFIX)
                    .unwrap_or(e)
                    .to_string()
            }),
            note: match &row.error {
                Some(error) => format!("{position}: {error}"),
                None => position.clone(),
            },
            position,
        }
    });
    rules::Row {
        kind: match row.kind {
            RowKind::Versioned => rules::RowKind::Versioned,
            RowKind::Repeatable => rules::RowKind::Repeatable,
            RowKind::Baseline => rules::RowKind::Baseline,
        },
        version: row.version,
        name: &row.name,
        checksum: row.checksum.as_ref(),
        applied_at: row.applied_at,
        execution_ms: row.execution_ms,
        dirty,
    }
}

fn steps(planned: Vec<Planned>, files: &[&Migration]) -> Vec<Step> {
    planned
        .into_iter()
        .map(|p| {
            let action = match p.action {
                rules::Action::Apply => Action::Apply,
                rules::Action::Reapply => Action::Reapply,
                rules::Action::Resume => Action::Resume,
                rules::Action::Revert => Action::Revert,
            };
            let mut step = Step::new(action, files[p.file]);
            if action == Action::Resume {
                step.resume_from = Some(p.from);
            }
            step
        })
        .collect()
}

/// Whether the dirty `row` (a statement-by-statement migration that failed in its up part) can
/// be resumed with `file`: the statements it completed must be byte for byte what the file
/// holds now. `Err` says why not. (That its file is there and that it failed in its up part
/// are the shared rules' checks.)
fn resumable(row: &HistoryRow, file: &Migration) -> Result<usize, DirtyReason> {
    let not = |reason: &str| DirtyReason::NotResumable(reason.to_string());
    let progress = row
        .progress()
        .ok_or_else(|| not("its progress was not recorded; resuming needs it"))?;
    if !file.no_transaction {
        return Err(not("its file is no longer `-- migrate:no-transaction`"));
    }
    let recorded = row.statements_checksum.as_deref().ok_or_else(|| {
        not("it was recorded by an older migrate, without the checksum of its completed statements")
    })?;
    let statements = super::splitter::split(&file.up)
        .map_err(|err| DirtyReason::NotResumable(err.to_string()))?;
    let done = progress.done as usize;
    if statements.len() < done {
        return Err(DirtyReason::NotResumable(format!(
            "the file now has {} but {done} had completed",
            crate::output::count(statements.len(), "statement")
        )));
    }
    if history::prefix_checksum(statements.iter().map(|s| s.sql), done) != recorded {
        return Err(DirtyReason::NotResumable(format!(
            "the {} that completed {} changed in the file since: resuming could run them differently from what is in the database",
            crate::output::count(done, "statement"),
            if done == 1 { "was" } else { "were" }
        )));
    }
    Ok(done)
}

/// Plans `up`: a statement-by-statement migration that failed part way is resumed first (at
/// its first unfinished statement, when the statements it completed are unchanged), then
/// pending versioned files in order, then changed repeatable files.
pub fn plan_up(
    set: &MigrationSet,
    history: &[HistoryRow],
    options: UpOptions,
) -> Result<Vec<Step>, PlanError> {
    let (inputs, files) = inputs(set, history);
    let planned = inputs.plan_up(options, |row, file| resumable(&history[row], files[file]))?;
    Ok(steps(planned, &files))
}

/// Plans `down`: applied migrations newest first, refusing when any of them cannot be
/// reverted. A dirty migration stops it: PostgreSQL's `down` finishes none.
pub fn plan_down(
    set: &MigrationSet,
    history: &[HistoryRow],
    target: DownTarget,
) -> Result<Vec<Step>, PlanError> {
    let (inputs, files) = inputs(set, history);
    let planned = inputs.plan_down(target, |_, _| Err(DirtyReason::Failed))?;
    Ok(steps(planned, &files))
}

/// Every migration, from files and history together, versioned in order then repeatable.
pub fn status(set: &MigrationSet, history: &[HistoryRow]) -> Vec<Entry> {
    let invalid = set.problems.iter().filter_map(|problem| {
        let file_name = std::path::Path::new(&problem.file).file_name()?;
        let parsed = super::migration::parse_file_name(&file_name.to_string_lossy()).ok()?;
        Some(InvalidFile {
            kind: parsed.kind,
            version: parsed.version,
            name: parsed.name,
            problem,
        })
    });
    inputs(set, history).0.status(invalid)
}

/// The newest version the database records as applied (or adopted by a baseline).
pub fn current_version(history: &[HistoryRow]) -> Option<u64> {
    rules::current_version(&rows(history))
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::postgres::migration::Checksum;
    use chrono::Utc;

    fn file(version: u64, down: bool) -> Migration {
        let up = format!("create table t{version} ();");
        Migration {
            kind: Kind::Versioned,
            version: Some(version),
            name: format!("m{version}"),
            path: PathBuf::from(format!("V{version}__m{version}.sql")),
            checksum: Checksum::of(up.as_bytes()),
            up,
            down: down.then(|| format!("drop table t{version};")),
            down_first_line: 2,
            no_transaction: false,
            lock_timeout: None,
            statement_timeout: None,
            up_statements: 1,
        }
    }

    fn repeatable(name: &str, body: &str) -> Migration {
        Migration {
            kind: Kind::Repeatable,
            version: None,
            name: name.into(),
            path: PathBuf::from(format!("R__{name}.sql")),
            checksum: Checksum::of(body.as_bytes()),
            up: body.into(),
            down: Some("drop view v;".into()),
            down_first_line: 2,
            no_transaction: false,
            lock_timeout: None,
            statement_timeout: None,
            up_statements: 1,
        }
    }

    fn row(m: &Migration) -> HistoryRow {
        HistoryRow {
            version: m.version,
            name: m.name.clone(),
            kind: match m.kind {
                Kind::Versioned => RowKind::Versioned,
                Kind::Repeatable => RowKind::Repeatable,
            },
            checksum: Some(m.checksum.clone()),
            applied_at: Utc::now(),
            execution_ms: 1,
            applied_by: "test".into(),
            tool_version: "0".into(),
            state: RowState::Applied,
            statements_done: None,
            statements_total: None,
            error: None,
            statements_checksum: None,
        }
    }

    fn set(files: Vec<Migration>) -> MigrationSet {
        let (versioned, repeatable) = files.into_iter().partition(|m| m.kind == Kind::Versioned);
        MigrationSet {
            versioned,
            repeatable,
            problems: Vec::new(),
        }
    }

    fn versions(steps: &[Step]) -> Vec<Option<u64>> {
        steps.iter().map(|s| s.version).collect()
    }

    #[test]
    fn up_applies_pending_in_order_then_repeatables() {
        let files = set(vec![
            file(1, true),
            file(2, true),
            file(3, true),
            repeatable("views", "create view v as select 1;"),
        ]);
        let history = vec![row(&files.versioned[0])];
        let steps = plan_up(&files, &history, UpOptions::default()).unwrap();
        assert_eq!(versions(&steps), vec![Some(2), Some(3), None]);
        assert_eq!(steps[2].action, Action::Apply);
    }

    #[test]
    fn target_stops_early_and_defers_repeatables() {
        let files = set(vec![
            file(1, true),
            file(2, true),
            file(3, true),
            repeatable("views", "x;"),
        ]);
        let steps = plan_up(
            &files,
            &[],
            UpOptions {
                target: Some(2),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(versions(&steps), vec![Some(1), Some(2)]);
    }

    #[test]
    fn changed_repeatable_is_reapplied_unchanged_is_not() {
        let old = repeatable("views", "create view v as select 1;");
        let new = repeatable("views", "create view v as select 2;");
        let files = set(vec![file(1, true), new.clone()]);
        let history = vec![row(&files.versioned[0]), row(&old)];
        let steps = plan_up(&files, &history, UpOptions::default()).unwrap();
        assert_eq!(steps.len(), 1);
        assert_eq!(steps[0].action, Action::Reapply);
        let history = vec![row(&files.versioned[0]), row(&new)];
        assert!(
            plan_up(&files, &history, UpOptions::default())
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn out_of_order_is_refused_unless_allowed() {
        let files = set(vec![file(1, true), file(2, true), file(3, true)]);
        let history = vec![row(&files.versioned[0]), row(&files.versioned[2])];
        let err = crate::errors::Detailed::from(
            plan_up(&files, &history, UpOptions::default()).unwrap_err(),
        );
        assert!(err.message.contains("older than V3"), "{}", err.message);
        let steps = plan_up(
            &files,
            &history,
            UpOptions {
                allow_out_of_order: true,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(versions(&steps), vec![Some(2)]);
        let entries = status(&files, &history);
        assert_eq!(entries[1].state, State::OutOfOrder);
    }

    #[test]
    fn dirty_and_modified_block_up() {
        let files = set(vec![file(1, true), file(2, true)]);
        let mut dirty = row(&files.versioned[0]);
        dirty.state = RowState::Dirty;
        dirty.statements_done = Some(1);
        dirty.statements_total = Some(3);
        let err = crate::errors::Detailed::from(
            plan_up(&files, &[dirty], UpOptions::default()).unwrap_err(),
        );
        assert!(
            err.context[0].contains("statement 2 of 3"),
            "{:?}",
            err.context
        );
        let mut changed = row(&files.versioned[0]);
        changed.checksum = Some(Checksum::of(b"other"));
        let err = crate::errors::Detailed::from(
            plan_up(&files, &[changed.clone()], UpOptions::default()).unwrap_err(),
        );
        assert!(err.message.contains("modified"));
        assert_eq!(status(&files, &[changed])[0].state, State::Modified);
    }

    #[test]
    fn down_steps_and_to() {
        let files = set(vec![file(1, true), file(2, true), file(3, true)]);
        let history: Vec<HistoryRow> = files.versioned.iter().map(row).collect();
        assert_eq!(
            versions(&plan_down(&files, &history, DownTarget::Steps(1)).unwrap()),
            vec![Some(3)]
        );
        assert_eq!(
            versions(&plan_down(&files, &history, DownTarget::To(1)).unwrap()),
            vec![Some(3), Some(2)]
        );
        assert_eq!(
            plan_down(&files, &history, DownTarget::To(0))
                .unwrap()
                .len(),
            3
        );
    }

    #[test]
    fn down_refuses_irreversible_and_missing() {
        let files = set(vec![file(1, true), file(2, false), file(3, true)]);
        let history: Vec<HistoryRow> = files.versioned.iter().map(row).collect();
        let err = crate::errors::Detailed::from(
            plan_down(&files, &history, DownTarget::To(0)).unwrap_err(),
        );
        assert!(err.message.contains("cannot be reverted"));
        assert!(err.context[0].starts_with("V2 m2"));
        let mut gone = history.clone();
        gone.push(row(&file(4, true)));
        let err = crate::errors::Detailed::from(
            plan_down(&files, &gone, DownTarget::Steps(1)).unwrap_err(),
        );
        assert!(err.message.contains("no file"));
    }

    #[test]
    fn baseline_covers_older_files() {
        let files = set(vec![file(1, true), file(2, true), file(3, true)]);
        let mut base = row(&files.versioned[1]);
        base.kind = RowKind::Baseline;
        base.checksum = None;
        let steps = plan_up(&files, &[base.clone()], UpOptions::default()).unwrap();
        assert_eq!(versions(&steps), vec![Some(3)]);
        let entries = status(&files, &[base.clone()]);
        let states: Vec<(Option<u64>, State)> =
            entries.iter().map(|e| (e.version, e.state)).collect();
        assert_eq!(
            states,
            [
                (Some(1), State::Baseline),
                (Some(2), State::Baseline),
                (Some(3), State::Pending)
            ]
        );
        assert!(entries[1].note.as_deref().unwrap().contains("adopted"));
        assert_eq!(current_version(&[base.clone()]), Some(2));
        assert!(plan_down(&files, &[base], DownTarget::To(0)).is_err());
    }

    #[test]
    fn status_marks_missing_files() {
        let files = set(vec![file(1, true)]);
        let history = vec![row(&files.versioned[0]), row(&file(2, true))];
        let entries = status(&files, &history);
        assert_eq!(entries[1].state, State::Missing);
        assert!(entries[1].state.is_problem());
    }

    #[test]
    fn baseline_without_its_file_is_one_row_in_version_order() {
        let files = set(vec![file(1, true), file(7, true)]);
        let mut base = row(&file(5, true));
        base.kind = RowKind::Baseline;
        let entries = status(&files, &[base]);
        let states: Vec<(Option<u64>, State)> =
            entries.iter().map(|e| (e.version, e.state)).collect();
        assert_eq!(
            states,
            [
                (Some(1), State::Baseline),
                (Some(5), State::Baseline),
                (Some(7), State::Pending)
            ]
        );
    }

    #[test]
    fn broken_files_are_invalid_rows() {
        let mut files = set(vec![file(1, true), file(3, true)]);
        for (name, line) in [
            ("V2__empty.sql", None),
            ("V3__dup.sql", None),
            ("V4__oops.sql", Some(2)),
        ] {
            files
                .problems
                .push(crate::postgres::migration::FileProblem {
                    file: format!("migrations/{name}"),
                    line,
                    message: "the up part has no SQL statement".into(),
                });
        }
        files
            .problems
            .push(crate::postgres::migration::FileProblem {
                file: "migrations/notes.sql".into(),
                line: None,
                message: "invalid migration file name".into(),
            });
        // V4 was applied before its file broke.
        let history = vec![row(&files.versioned[0]), row(&file(4, true))];
        let entries = status(&files, &history);
        let states: Vec<(Option<u64>, State)> =
            entries.iter().map(|e| (e.version, e.state)).collect();
        assert_eq!(
            states,
            [
                (Some(1), State::Applied),
                (Some(2), State::Invalid),
                (Some(3), State::OutOfOrder),
                (Some(4), State::Invalid)
            ]
        );
        assert_eq!(entries[1].name, "empty");
        assert_eq!(entries[1].file.as_deref(), Some("migrations/V2__empty.sql"));
        assert!(
            entries[3]
                .note
                .as_deref()
                .unwrap()
                .starts_with("applied; the file is invalid: line 2:")
        );
        assert!(entries[3].applied_at.is_some());
    }
}
