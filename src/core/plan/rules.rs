//! The planning rules, written once for every store: which applied files were modified,
//! what is pending, what is out of order, which dirty migrations stop a run and which are
//! resumed, what `down` reverts, and the state of each migration in `status`. The stores'
//! planners (`postgres::plan`, `mongo::plan`) describe their files and history as [`File`]s
//! and [`Row`]s, plan here, and turn the [`Planned`] steps (indices into their files) into
//! their own steps.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use super::error::{DirtyReason, DirtyRow, Item, PlanError, Store};
use super::{DownTarget, Entry, InvalidFile, State, UpOptions, mark_invalid};
use crate::core::checksum::Checksum;
use crate::core::files::Kind;

/// Which way a migration runs (and which way a dirty one was running).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Up,
    Down,
}

/// One migration file, as planning sees it.
#[derive(Debug, Clone)]
pub struct File<'a> {
    pub kind: Kind,
    pub version: Option<u64>,
    pub name: &'a str,
    pub path: String,
    pub checksum: &'a Checksum,
    pub reversible: bool,
}

impl File<'_> {
    fn label(&self) -> String {
        label(self.kind, self.version, self.name)
    }

    fn item(&self) -> Item {
        Item {
            label: self.label(),
            file: Some(self.path.clone()),
        }
    }
}

/// What a history row records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowKind {
    Versioned,
    Repeatable,
    /// Versions up to this one were adopted, not run.
    Baseline,
}

/// One history row, as planning sees it.
#[derive(Debug, Clone)]
pub struct Row<'a> {
    pub kind: RowKind,
    pub version: Option<u64>,
    pub name: &'a str,
    pub checksum: Option<&'a Checksum>,
    pub applied_at: DateTime<Utc>,
    pub execution_ms: u64,
    /// `Some` when a run stopped in the middle of this migration.
    pub dirty: Option<Dirty>,
}

/// How a dirty migration stopped.
#[derive(Debug, Clone)]
pub struct Dirty {
    /// Which part was running, when the history says.
    pub direction: Option<Direction>,
    /// For errors: `failed at statement 2 of 3`.
    pub position: String,
    /// For errors: the error it stopped with.
    pub cause: Option<String>,
    /// For `status`: position and error as one note.
    pub note: String,
}

impl Row<'_> {
    fn label(&self) -> String {
        match self.kind {
            RowKind::Repeatable => label(Kind::Repeatable, None, self.name),
            _ => label(Kind::Versioned, self.version, self.name),
        }
    }

    fn is_applied(&self) -> bool {
        self.dirty.is_none()
    }
}

fn label(kind: Kind, version: Option<u64>, name: &str) -> String {
    match (kind, version) {
        (Kind::Versioned, Some(v)) => format!("V{v} {name}"),
        _ => format!("R {name}"),
    }
}

/// What a planned step does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Run a pending migration.
    Apply,
    /// Run a changed repeatable migration again.
    Reapply,
    /// Finish the up part of a dirty migration.
    Resume,
    /// Run the down part of an applied migration (or finish a half-done revert).
    Revert,
}

/// One planned step: the file (an index into the files planned over), what to do, and from
/// which statement or op (0 unless finishing a dirty migration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Planned {
    pub action: Action,
    pub file: usize,
    pub from: usize,
}

/// Files and history of one store.
pub struct Inputs<'a> {
    pub store: Store,
    pub files: Vec<File<'a>>,
    pub rows: Vec<Row<'a>>,
}

impl<'a> Inputs<'a> {
    /// The file a row is about.
    fn file_of(&self, row: &Row) -> Option<usize> {
        self.files.iter().position(|f| match row.kind {
            RowKind::Repeatable => f.kind == Kind::Repeatable && f.name == row.name,
            _ => f.kind == Kind::Versioned && f.version == row.version && row.version.is_some(),
        })
    }

    fn versioned_file(&self, version: u64) -> Option<usize> {
        self.files
            .iter()
            .position(|f| f.kind == Kind::Versioned && f.version == Some(version))
    }

    /// The newest baseline version recorded, if any.
    pub fn baseline(&self) -> Option<u64> {
        self.rows
            .iter()
            .filter(|r| r.kind == RowKind::Baseline)
            .filter_map(|r| r.version)
            .max()
    }

    /// Versions the history records (applied or dirty).
    fn recorded(&self) -> BTreeSet<u64> {
        self.rows
            .iter()
            .filter(|r| r.kind == RowKind::Versioned)
            .filter_map(|r| r.version)
            .collect()
    }

    /// The newest version recorded or adopted by a baseline.
    fn newest_recorded(&self) -> Option<u64> {
        self.recorded().into_iter().chain(self.baseline()).max()
    }

    /// Dirty rows: the ones finished by this command (row index, file index, from), or the
    /// error listing those it cannot go past. A dirty row is finished when its file is there,
    /// it stopped in this command's direction (or the history does not say) and the store's
    /// `resume` accepts it (it says from which statement or op).
    fn dirty(
        &self,
        command: Direction,
        mut resume: impl FnMut(usize, usize) -> Result<usize, DirtyReason>,
    ) -> Result<Vec<(usize, usize, usize)>, PlanError> {
        let mut resumed = Vec::new();
        let mut stuck = Vec::new();
        for (index, row) in self.rows.iter().enumerate() {
            let Some(dirty) = &row.dirty else { continue };
            let file = self.file_of(row);
            let verdict = match (file, dirty.direction) {
                (None, _) => Err(DirtyReason::FileGone),
                (Some(_), Some(direction)) if direction != command => {
                    Err(DirtyReason::HalfDone(direction))
                }
                (Some(file), _) => resume(index, file).map(|from| (file, from)),
            };
            match verdict {
                Ok((file, from)) => resumed.push((index, file, from)),
                Err(reason) => stuck.push(DirtyRow {
                    label: row.label(),
                    version: row.version,
                    position: dirty.position.clone(),
                    cause: dirty.cause.clone(),
                    reason,
                }),
            }
        }
        if stuck.is_empty() {
            Ok(resumed)
        } else {
            Err(PlanError::Dirty {
                store: self.store.clone(),
                command,
                rows: stuck,
            })
        }
    }

    /// Applied versioned migrations whose file changed since.
    fn modified(&self) -> Vec<usize> {
        self.rows
            .iter()
            .filter(|r| r.kind == RowKind::Versioned && r.is_applied())
            .filter_map(|r| {
                let file = self.versioned_file(r.version?)?;
                (r.checksum != Some(self.files[file].checksum)).then_some(file)
            })
            .collect()
    }

    /// Plans `up`: dirty migrations the store can resume first, then pending versioned files
    /// in order, then new and changed repeatable files (only when no versioned file is held
    /// back by `--target`).
    pub fn plan_up(
        &self,
        options: UpOptions,
        resume: impl FnMut(usize, usize) -> Result<usize, DirtyReason>,
    ) -> Result<Vec<Planned>, PlanError> {
        let resumed = self.dirty(Direction::Up, resume)?;
        let changed = self.modified();
        if !changed.is_empty() {
            return Err(PlanError::Modified {
                store: self.store.clone(),
                items: changed.iter().map(|&f| self.files[f].item()).collect(),
            });
        }
        let baseline = self.baseline();
        let recorded = self.recorded();
        let pending: Vec<usize> = (0..self.files.len())
            .filter(|&f| {
                let file = &self.files[f];
                let version = file.version.unwrap_or(0);
                file.kind == Kind::Versioned
                    && !recorded.contains(&version)
                    && baseline.is_none_or(|b| version > b)
            })
            .collect();
        if !options.allow_out_of_order
            && let Some(newest) = self.newest_recorded()
        {
            let late: Vec<Item> = pending
                .iter()
                .map(|&f| &self.files[f])
                .filter(|f| f.version.unwrap_or(0) < newest)
                .map(File::item)
                .collect();
            if !late.is_empty() {
                return Err(PlanError::OutOfOrder {
                    store: self.store.clone(),
                    newest,
                    items: late,
                });
            }
        }
        let mut steps: Vec<Planned> = resumed
            .iter()
            .map(|&(_, file, from)| Planned {
                action: Action::Resume,
                file,
                from,
            })
            .collect();
        let selected: Vec<usize> = pending
            .iter()
            .copied()
            .filter(|&f| {
                options
                    .target
                    .is_none_or(|t| self.files[f].version.unwrap_or(0) <= t)
            })
            .collect();
        let everything_applied_after = selected.len() == pending.len();
        steps.extend(selected.into_iter().map(|file| Planned {
            action: Action::Apply,
            file,
            from: 0,
        }));
        if everything_applied_after {
            let recorded: BTreeMap<&str, &Row> = self
                .rows
                .iter()
                .filter(|r| r.kind == RowKind::Repeatable)
                .map(|r| (r.name, r))
                .collect();
            for (file, migration) in self.files.iter().enumerate() {
                if migration.kind != Kind::Repeatable
                    || resumed.iter().any(|&(_, resumed, _)| resumed == file)
                {
                    continue;
                }
                let action = match recorded.get(migration.name) {
                    None => Action::Apply,
                    Some(row) if row.checksum != Some(migration.checksum) => Action::Reapply,
                    Some(_) => continue,
                };
                steps.push(Planned {
                    action,
                    file,
                    from: 0,
                });
            }
        }
        Ok(steps)
    }

    /// Plans `down`: recorded versioned migrations newest first (all repeatable ones before
    /// them when everything is reverted), refusing when any of them has no file, no down part
    /// or a file changed since it was applied. Dirty migrations the store can finish in this
    /// direction (`resume`) are reverted from where they stopped.
    pub fn plan_down(
        &self,
        target: DownTarget,
        resume: impl FnMut(usize, usize) -> Result<usize, DirtyReason>,
    ) -> Result<Vec<Planned>, PlanError> {
        let resumed = self.dirty(Direction::Down, resume)?;
        let baseline = self.baseline();
        let mut recorded: Vec<u64> = self.recorded().into_iter().collect();
        recorded.reverse();
        let chosen: Vec<u64> = match target {
            DownTarget::Steps(n) => recorded.into_iter().take(n).collect(),
            DownTarget::To(v) => recorded.into_iter().filter(|&a| a > v).collect(),
        };
        if let (DownTarget::To(v), Some(b)) = (target, baseline)
            && v < b
        {
            return Err(PlanError::BelowBaseline {
                store: self.store.clone(),
                baseline: b,
                target: v,
            });
        }
        let mut steps = Vec::new();
        let mut missing = Vec::new();
        let mut irreversible = Vec::new();
        let mut changed = Vec::new();
        // Reverting everything also reverts repeatable migrations (views, functions), first.
        if matches!(target, DownTarget::To(0)) && baseline.is_none() {
            for row in self
                .rows
                .iter()
                .rev()
                .filter(|r| r.kind == RowKind::Repeatable)
            {
                match self.file_of(row) {
                    None => missing.push(Item {
                        label: row.label(),
                        file: None,
                    }),
                    Some(f) if !self.files[f].reversible => irreversible.push(self.files[f].item()),
                    Some(file) => steps.push(Planned {
                        action: Action::Revert,
                        file,
                        from: 0,
                    }),
                }
            }
        }
        for version in chosen {
            let Some((index, row)) = self
                .rows
                .iter()
                .enumerate()
                .find(|(_, r)| r.kind == RowKind::Versioned && r.version == Some(version))
            else {
                continue;
            };
            match self.versioned_file(version) {
                None => missing.push(Item {
                    label: row.label(),
                    file: None,
                }),
                Some(f) if !self.files[f].reversible => irreversible.push(self.files[f].item()),
                Some(f) if row.is_applied() && row.checksum != Some(self.files[f].checksum) => {
                    changed.push(self.files[f].item())
                }
                Some(file) => steps.push(Planned {
                    action: Action::Revert,
                    file,
                    from: resumed
                        .iter()
                        .find(|&&(r, _, _)| r == index)
                        .map_or(0, |&(_, _, from)| from),
                }),
            }
        }
        let store = self.store.clone();
        if !irreversible.is_empty() {
            return Err(PlanError::Irreversible {
                store,
                items: irreversible,
            });
        }
        if !missing.is_empty() {
            return Err(PlanError::MissingFiles {
                store,
                items: missing,
            });
        }
        if !changed.is_empty() {
            return Err(PlanError::ModifiedToRevert {
                store,
                items: changed,
            });
        }
        Ok(steps)
    }

    /// The state of every migration, versioned in order then repeatable, with the files
    /// that failed to load (`invalid`) among them.
    pub fn status<'i>(&self, invalid: impl Iterator<Item = InvalidFile<'i>>) -> Vec<Entry> {
        let baseline = self.baseline();
        let mut by_version: BTreeMap<u64, &Row> = BTreeMap::new();
        let mut repeatable: BTreeMap<&str, &Row> = BTreeMap::new();
        for row in &self.rows {
            match (row.kind, row.version) {
                (RowKind::Repeatable, _) => {
                    repeatable.insert(row.name, row);
                }
                (RowKind::Versioned, Some(v)) => {
                    by_version.insert(v, row);
                }
                _ => {}
            }
        }
        let newest = self.newest_recorded();
        let mut entries = Vec::new();
        let mut versions: BTreeSet<u64> = by_version.keys().copied().collect();
        versions.extend(
            self.files
                .iter()
                .filter(|f| f.kind == Kind::Versioned)
                .filter_map(|f| f.version),
        );
        for version in versions {
            let file = self.versioned_file(version).map(|f| &self.files[f]);
            let row = by_version.get(&version).copied();
            let (state, note) = match (file, row) {
                (
                    _,
                    Some(Row {
                        dirty: Some(dirty), ..
                    }),
                ) => (State::Dirty, Some(dirty.note.clone())),
                (None, Some(_)) => (State::Missing, Some("file not found".to_string())),
                (Some(file), Some(row)) if row.checksum != Some(file.checksum) => (
                    State::Modified,
                    Some(format!(
                        "checksum {} in history, {} on disk",
                        row.checksum.map_or("none", |c| c.short()),
                        file.checksum.short()
                    )),
                ),
                (Some(_), Some(_)) => (State::Applied, None),
                (Some(_), None) if baseline.is_some_and(|b| version <= b) => {
                    (State::Baseline, None)
                }
                (Some(_), None) if newest.is_some_and(|n| version < n) => (
                    State::OutOfOrder,
                    Some(format!("older than applied V{}", newest.unwrap_or(0))),
                ),
                (Some(_), None) => (State::Pending, None),
                (None, None) => continue,
            };
            entries.push(entry(
                Kind::Versioned,
                Some(version),
                file.map_or_else(|| row.map_or("", |r| r.name), |f| f.name),
                state,
                file,
                row,
                note,
            ));
        }
        let mut names: BTreeSet<&str> = repeatable.keys().copied().collect();
        names.extend(
            self.files
                .iter()
                .filter(|f| f.kind == Kind::Repeatable)
                .map(|f| f.name),
        );
        for name in names {
            let file = self
                .files
                .iter()
                .find(|f| f.kind == Kind::Repeatable && f.name == name);
            let row = repeatable.get(name).copied();
            let (state, note) = match (file, row) {
                (
                    _,
                    Some(Row {
                        dirty: Some(dirty), ..
                    }),
                ) => (State::Dirty, Some(dirty.note.clone())),
                (None, Some(_)) => (State::Missing, Some("file not found".to_string())),
                (Some(file), Some(row)) if row.checksum != Some(file.checksum) => {
                    (State::Outdated, None)
                }
                (Some(_), Some(_)) => (State::Applied, None),
                (Some(_), None) => (State::Pending, None),
                (None, None) => continue,
            };
            entries.push(entry(Kind::Repeatable, None, name, state, file, row, note));
        }
        if let Some(b) = baseline {
            self.show_baseline(&mut entries, b);
        }
        mark_invalid(&mut entries, invalid);
        entries
    }

    /// The baseline once: on the row of the file of its version when there is one (already
    /// in the `baseline` state), else as a row of its own among the versions.
    fn show_baseline(&self, entries: &mut Vec<Entry>, baseline: u64) {
        let row = self
            .rows
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
                name: row.map_or_else(|| "baseline".to_string(), |r| r.name.to_string()),
                kind: Kind::Versioned,
                state: State::Baseline,
                file: None,
                applied_at: row.map(|r| r.applied_at),
                execution_ms: None,
                note: Some(note),
            },
        );
    }

    /// The newest version the history records as applied (or adopted by a baseline).
    pub fn current_version(&self) -> Option<u64> {
        current_version(&self.rows)
    }
}

/// The newest version the history records as applied (or adopted by a baseline).
pub fn current_version(rows: &[Row]) -> Option<u64> {
    rows.iter()
        .filter(|r| r.kind != RowKind::Repeatable && r.is_applied())
        .filter_map(|r| r.version)
        .max()
}

/// A status row. When the migration ran, its time and duration (a dirty one's run did
/// not finish: it has neither).
fn entry(
    kind: Kind,
    version: Option<u64>,
    name: &str,
    state: State,
    file: Option<&File>,
    row: Option<&Row>,
    note: Option<String>,
) -> Entry {
    let applied = row.filter(|r| r.is_applied());
    Entry {
        version,
        name: name.to_string(),
        kind,
        state,
        file: file.map(|f| f.path.clone()),
        applied_at: applied.map(|r| r.applied_at),
        execution_ms: applied.map(|r| r.execution_ms),
        note,
    }
}
