//! Planning, as pure functions of files and history: what `up` and `down` would do, and what
//! `status`/`validate` say about each migration. The executor runs exactly these plans.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::history::{self, Direction, HistoryRow, RowKind, RowState};
use super::migration::{Kind, Migration, MigrationSet};
pub use crate::core::plan::{DownTarget, Entry, InvalidFile, State, UpOptions, mark_invalid};
use crate::errors::Detailed;

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

/// The newest baseline version recorded, if any.
fn baseline(history: &[HistoryRow]) -> Option<u64> {
    history
        .iter()
        .filter(|row| row.kind == RowKind::Baseline)
        .filter_map(|row| row.version)
        .max()
}

fn dirty_error(history: &[HistoryRow]) -> Option<Detailed> {
    dirty_rows_error(history.iter().filter(|r| r.state == RowState::Dirty), &[])
}

/// The error for dirty rows `up`/`down` cannot go past; `reasons` add a line per migration
/// (label, why it cannot be resumed).
fn dirty_rows_error<'a>(
    dirty: impl Iterator<Item = &'a HistoryRow>,
    reasons: &[(String, String)],
) -> Option<Detailed> {
    let dirty: Vec<&HistoryRow> = dirty.collect();
    if dirty.is_empty() {
        return None;
    }
    let mut error = Detailed::new(format!(
        "the database has {} from a failed run; nothing was changed",
        crate::output::count(dirty.len(), "dirty migration")
    ));
    for row in dirty {
        let label = match row.version {
            Some(v) if row.kind != RowKind::Repeatable => format!("V{v} {}", row.name),
            _ => format!("R {}", row.name),
        };
        let position = row
            .progress()
            .map_or_else(|| "failed".to_string(), |p| p.failed_at());
        let cause = row
            .error
            .as_deref()
            .map(|e| e.strip_prefix(history::DOWN_PREFIX).unwrap_or(e))
            .map_or_else(String::new, |e| format!(": {e}"));
        error = error.context(format!("{label} {position}{cause}"));
        if let Some((_, reason)) = reasons.iter().find(|(l, _)| *l == label) {
            error = error.context(format!("  {reason}"));
        }
    }
    Some(error.hint(
        "finish or undo the failed migration's work by hand, then run `migrate repair` (or `migrate repair --mark-applied` if you completed it)",
    ))
}

/// Whether the dirty `row` (a statement-by-statement migration that failed in its up part) can
/// be resumed with `file`: the statements it completed must be byte for byte what the file
/// holds now. `Err` says why not.
fn resumable(row: &HistoryRow, file: Option<&Migration>) -> Result<usize, String> {
    let progress = row
        .progress()
        .ok_or("its progress was not recorded; resuming needs it")?;
    if progress.direction == Direction::Down {
        return Err("its down part failed; `up` does not resume a down part".to_string());
    }
    let file = file.ok_or("its file is missing")?;
    if !file.no_transaction {
        return Err("its file is no longer `-- migrate:no-transaction`".to_string());
    }
    let recorded = row.statements_checksum.as_deref().ok_or(
        "it was recorded by an older migrate, without the checksum of its completed statements",
    )?;
    let statements = super::splitter::split(&file.up).map_err(|err| err.to_string())?;
    let done = progress.done as usize;
    if statements.len() < done {
        return Err(format!(
            "the file now has {} but {done} had completed",
            crate::output::count(statements.len(), "statement")
        ));
    }
    if history::prefix_checksum(statements.iter().map(|s| s.sql), done) != recorded {
        return Err(format!(
            "the {} that completed {} changed in the file since: resuming could run them differently from what is in the database",
            crate::output::count(done, "statement"),
            if done == 1 { "was" } else { "were" }
        ));
    }
    Ok(done)
}

/// Applied files whose content changed since.
fn modified<'a>(set: &'a MigrationSet, history: &[HistoryRow]) -> Vec<&'a Migration> {
    history
        .iter()
        .filter(|row| row.kind == RowKind::Versioned && row.state == RowState::Applied)
        .filter_map(|row| {
            let file = set.by_version(row.version?)?;
            (row.checksum.as_ref() != Some(&file.checksum)).then_some(file)
        })
        .collect()
}

/// Plans `up`: pending versioned files in order, then changed repeatable files.
pub fn plan_up(
    set: &MigrationSet,
    history: &[HistoryRow],
    options: UpOptions,
) -> Result<Vec<Step>, Detailed> {
    // A statement-by-statement migration that failed part way resumes at its first
    // unfinished statement, when the statements it completed are unchanged; any other dirty
    // row stops the run.
    let mut resumes: Vec<Step> = Vec::new();
    let mut reasons: Vec<(String, String)> = Vec::new();
    let mut stuck: Vec<&HistoryRow> = Vec::new();
    for row in history.iter().filter(|r| r.state == RowState::Dirty) {
        let file = match row.kind {
            RowKind::Repeatable => set.repeatable_by_name(&row.name),
            _ => row.version.and_then(|v| set.by_version(v)),
        };
        match resumable(row, file) {
            Ok(done) => {
                // `resumable` found the file.
                let Some(file) = file else { continue };
                let mut step = Step::new(Action::Resume, file);
                step.resume_from = Some(done);
                resumes.push(step);
            }
            Err(reason) => {
                let label = match row.version {
                    Some(v) if row.kind != RowKind::Repeatable => format!("V{v} {}", row.name),
                    _ => format!("R {}", row.name),
                };
                reasons.push((label, format!("not resumed: {reason}")));
                stuck.push(row);
            }
        }
    }
    if let Some(error) = dirty_rows_error(stuck.into_iter(), &reasons) {
        return Err(error);
    }
    let resumed: BTreeSet<(Option<u64>, String)> = resumes
        .iter()
        .map(|s| (s.version, s.name.clone()))
        .collect();
    let history_rows: Vec<HistoryRow> = history
        .iter()
        .filter(|r| r.state != RowState::Dirty || !resumed.contains(&(r.version, r.name.clone())))
        .cloned()
        .collect();
    let history = history_rows.as_slice();
    let changed = modified(set, history);
    if !changed.is_empty() {
        let mut error = Detailed::new(
            "applied migrations were modified after they were applied; nothing was changed",
        );
        for file in changed {
            error = error.context(format!("{} ({})", file.label(), file.path.display()));
        }
        return Err(error.hint(
            "undo the edits (write a new migration instead), or run `migrate repair` to accept the files as they are now",
        ));
    }
    let baseline = baseline(history);
    let applied: BTreeSet<u64> = history
        .iter()
        .filter(|row| row.kind == RowKind::Versioned)
        .filter_map(|row| row.version)
        .collect();
    let newest_applied = applied.iter().copied().chain(baseline).max();
    let pending: Vec<&Migration> = set
        .versioned
        .iter()
        .filter(|m| {
            let version = m.version.unwrap_or(0);
            !applied.contains(&version) && baseline.is_none_or(|b| version > b)
        })
        .collect();
    if !options.allow_out_of_order
        && let Some(newest) = newest_applied
    {
        let late: Vec<&&Migration> = pending
            .iter()
            .filter(|m| m.version.unwrap_or(0) < newest)
            .collect();
        if !late.is_empty() {
            let mut error = Detailed::new(format!(
                "{} pending migration{} older than V{newest}, which is already applied; nothing was changed",
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
    let selected: Vec<&Migration> = pending
        .iter()
        .copied()
        .filter(|m| options.target.is_none_or(|t| m.version.unwrap_or(0) <= t))
        .collect();
    let everything_applied_after = selected.len() == pending.len();
    let mut steps: Vec<Step> = selected
        .into_iter()
        .map(|m| Step::new(Action::Apply, m))
        .collect();
    if everything_applied_after {
        let recorded: BTreeMap<&str, &HistoryRow> = history
            .iter()
            .filter(|row| row.kind == RowKind::Repeatable)
            .map(|row| (row.name.as_str(), row))
            .collect();
        for migration in &set.repeatable {
            match recorded.get(migration.name.as_str()) {
                None => steps.push(Step::new(Action::Apply, migration)),
                Some(row) if row.checksum.as_ref() != Some(&migration.checksum) => {
                    steps.push(Step::new(Action::Reapply, migration));
                }
                Some(_) => {}
            }
        }
    }
    // Resumed migrations run first, and only as resumes.
    steps.retain(|step| !resumed.contains(&(step.version, step.name.clone())));
    resumes.extend(steps);
    Ok(resumes)
}

/// Plans `down`: applied migrations newest first, refusing when any of them cannot be reverted.
pub fn plan_down(
    set: &MigrationSet,
    history: &[HistoryRow],
    target: DownTarget,
) -> Result<Vec<Step>, Detailed> {
    if let Some(error) = dirty_error(history) {
        return Err(error);
    }
    let baseline = baseline(history);
    let mut applied: Vec<u64> = history
        .iter()
        .filter(|row| row.kind == RowKind::Versioned)
        .filter_map(|row| row.version)
        .collect();
    applied.sort_unstable_by(|a, b| b.cmp(a));
    let chosen: Vec<u64> = match target {
        DownTarget::Steps(n) => applied.iter().copied().take(n).collect(),
        DownTarget::To(v) => applied.iter().copied().filter(|&a| a > v).collect(),
    };
    if let (DownTarget::To(v), Some(b)) = (target, baseline)
        && v < b
    {
        return Err(Detailed::new(format!(
            "cannot revert below the baseline V{b}: migrations up to it were never run by migrate"
        ))
        .hint(format!("use --to {b} or higher")));
    }
    let mut steps = Vec::new();
    let mut missing = Vec::new();
    let mut irreversible = Vec::new();
    // Reverting everything also reverts repeatable migrations (views, functions), first.
    let to_zero = matches!(target, DownTarget::To(0)) && baseline.is_none();
    if to_zero {
        for row in history
            .iter()
            .rev()
            .filter(|row| row.kind == RowKind::Repeatable)
        {
            match set.repeatable_by_name(&row.name) {
                None => missing.push(format!("R {}", row.name)),
                Some(m) if !m.is_reversible() => irreversible.push(m),
                Some(m) => steps.push(Step::new(Action::Revert, m)),
            }
        }
    }
    for version in chosen {
        match set.by_version(version) {
            None => {
                let name = history
                    .iter()
                    .find(|r| r.version == Some(version) && r.kind == RowKind::Versioned)
                    .map_or("", |r| r.name.as_str());
                missing.push(format!("V{version} {name}"));
            }
            Some(m) if !m.is_reversible() => irreversible.push(m),
            Some(m) => steps.push(Step::new(Action::Revert, m)),
        }
    }
    if !irreversible.is_empty() {
        let mut error = Detailed::new(format!(
            "{} migration{} in the plan cannot be reverted: no down part; nothing was changed",
            irreversible.len(),
            if irreversible.len() == 1 { "" } else { "s" }
        ));
        for m in irreversible {
            error = error.context(format!("{} ({})", m.label(), m.path.display()));
        }
        return Err(
            error.hint("add a `-- migrate:down` section with the statements that undo the up part")
        );
    }
    if !missing.is_empty() {
        let mut error =
            Detailed::new("applied migrations to revert have no file; nothing was changed");
        for label in missing {
            error = error.context(label);
        }
        return Err(error.hint("restore the files from version control"));
    }
    let changed: Vec<&Migration> = modified(set, history);
    let changed_in_plan: Vec<&&Migration> = changed
        .iter()
        .filter(|m| {
            steps
                .iter()
                .any(|s| s.version == m.version && s.kind == Kind::Versioned)
        })
        .collect();
    if !changed_in_plan.is_empty() {
        let mut error = Detailed::new(
            "migrations to revert were modified after they were applied; nothing was changed",
        );
        for m in changed_in_plan {
            error = error.context(format!("{} ({})", m.label(), m.path.display()));
        }
        return Err(error.hint("their down part may not match what was applied: undo the edits, or `migrate repair` to accept them"));
    }
    Ok(steps)
}

/// Every migration, from files and history together, versioned in order then repeatable.
pub fn status(set: &MigrationSet, history: &[HistoryRow]) -> Vec<Entry> {
    let baseline = baseline(history);
    let mut rows_by_version: BTreeMap<u64, &HistoryRow> = BTreeMap::new();
    let mut repeatable_rows: BTreeMap<&str, &HistoryRow> = BTreeMap::new();
    for row in history {
        match (row.kind, row.version) {
            (RowKind::Repeatable, _) => {
                repeatable_rows.insert(&row.name, row);
            }
            (RowKind::Versioned, Some(v)) => {
                rows_by_version.insert(v, row);
            }
            _ => {}
        }
    }
    let newest_applied = rows_by_version.keys().copied().chain(baseline).max();
    let mut entries = Vec::new();
    let mut versions: BTreeSet<u64> = rows_by_version.keys().copied().collect();
    versions.extend(set.versioned.iter().filter_map(|m| m.version));
    for version in versions {
        let file = set.by_version(version);
        let row = rows_by_version.get(&version);
        let (state, note) = match (file, row) {
            (_, Some(row)) if row.state == RowState::Dirty => {
                let note = row
                    .progress()
                    .map_or_else(|| "failed".to_string(), |p| p.failed_at());
                let note = match &row.error {
                    Some(error) => format!("{note}: {error}"),
                    None => note,
                };
                (State::Dirty, Some(note))
            }
            (None, Some(_)) => (State::Missing, Some("file not found".to_string())),
            (Some(file), Some(row)) if row.checksum.as_ref() != Some(&file.checksum) => (
                State::Modified,
                Some(format!(
                    "checksum {} in history, {} on disk",
                    row.checksum.as_ref().map_or("none", |c| c.short()),
                    file.checksum.short()
                )),
            ),
            (Some(_), Some(_)) => (State::Applied, None),
            (Some(_), None) if baseline.is_some_and(|b| version <= b) => (State::Baseline, None),
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
                .or_else(|| row.map(|r| r.name.clone()))
                .unwrap_or_default(),
            kind: Kind::Versioned,
            state,
            file: file.map(|f| f.path.display().to_string()),
            applied_at: row.map(|r| r.applied_at),
            execution_ms: row.map(|r| r.execution_ms),
            note,
        });
    }
    let mut names: BTreeSet<&str> = repeatable_rows.keys().copied().collect();
    names.extend(set.repeatable.iter().map(|m| m.name.as_str()));
    for name in names {
        let file = set.repeatable_by_name(name);
        let row = repeatable_rows.get(name);
        let state = match (file, row) {
            (_, Some(row)) if row.state == RowState::Dirty => State::Dirty,
            (None, Some(_)) => State::Missing,
            (Some(file), Some(row)) if row.checksum.as_ref() != Some(&file.checksum) => {
                State::Outdated
            }
            (Some(_), Some(_)) => State::Applied,
            (Some(_), None) => State::Pending,
            (None, None) => continue,
        };
        entries.push(Entry {
            version: None,
            name: name.to_string(),
            kind: Kind::Repeatable,
            state,
            file: file.map(|f| f.path.display().to_string()),
            applied_at: row.map(|r| r.applied_at),
            execution_ms: row.map(|r| r.execution_ms),
            note: None,
        });
    }
    if let Some(b) = baseline {
        show_baseline(&mut entries, history, b);
    }
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
    mark_invalid(&mut entries, invalid);
    entries
}

/// The newest version the database records as applied (or adopted by a baseline).
pub fn current_version(history: &[HistoryRow]) -> Option<u64> {
    history
        .iter()
        .filter(|row| row.kind != RowKind::Repeatable && row.state == RowState::Applied)
        .filter_map(|row| row.version)
        .max()
}

/// The baseline once: on the row of the file of its version when there is one (already in
/// the `baseline` state), else as a row of its own among the versions.
fn show_baseline(entries: &mut Vec<Entry>, history: &[HistoryRow], baseline: u64) {
    let row = history
        .iter()
        .find(|r| r.kind == RowKind::Baseline && r.version == Some(baseline));
    let note = format!("versions up to {baseline} were adopted, not run");
    let own_file = entries.iter_mut().find(|e| {
        e.kind == Kind::Versioned && e.version == Some(baseline) && e.state == State::Baseline
    });
    if let Some(entry) = own_file {
        entry.applied_at = row.map(|r| r.applied_at);
        entry.note = Some(note);
        return;
    }
    let at = entries
        .iter()
        .position(|e| e.kind != Kind::Versioned || e.version.is_some_and(|v| v > baseline))
        .unwrap_or(entries.len());
    entries.insert(
        at,
        Entry {
            version: Some(baseline),
            name: row.map_or_else(|| "baseline".to_string(), |r| r.name.clone()),
            kind: Kind::Versioned,
            state: State::Baseline,
            file: None,
            applied_at: row.map(|r| r.applied_at),
            execution_ms: None,
            note: Some(note),
        },
    );
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
        let err = plan_up(&files, &history, UpOptions::default()).unwrap_err();
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
        let err = plan_up(&files, &[dirty], UpOptions::default()).unwrap_err();
        assert!(
            err.context[0].contains("statement 2 of 3"),
            "{:?}",
            err.context
        );
        let mut changed = row(&files.versioned[0]);
        changed.checksum = Some(Checksum::of(b"other"));
        let err = plan_up(&files, &[changed.clone()], UpOptions::default()).unwrap_err();
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
        let err = plan_down(&files, &history, DownTarget::To(0)).unwrap_err();
        assert!(err.message.contains("cannot be reverted"));
        assert!(err.context[0].starts_with("V2 m2"));
        let mut gone = history.clone();
        gone.push(row(&file(4, true)));
        let err = plan_down(&files, &gone, DownTarget::Steps(1)).unwrap_err();
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
