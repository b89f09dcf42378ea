//! Which migrations `lint` (without files) and `check` lint: the pending ones, as `up` would
//! run them.

use super::SourceFile;
use crate::postgres::history::HistoryRow;
use crate::postgres::migration::{FileProblem, Migration, MigrationSet};
use crate::postgres::plan::{self, State};

/// Pending versioned migrations in version order, then new or changed repeatable ones.
pub fn pending<'a>(set: &'a MigrationSet, history: &[HistoryRow]) -> Vec<&'a Migration> {
    plan::status(set, history)
        .into_iter()
        .filter(|entry| {
            matches!(
                entry.state,
                State::Pending | State::OutOfOrder | State::Outdated
            )
        })
        .filter_map(|entry| match entry.version {
            Some(version) => set.by_version(version),
            None => set.repeatable_by_name(&entry.name),
        })
        .collect()
}

/// The pending migrations of `set` read as source files, and the files of `set` that could
/// not be parsed (problems, not linted).
pub fn files(
    set: MigrationSet,
    history: &[HistoryRow],
) -> anyhow::Result<(Vec<SourceFile>, Vec<FileProblem>)> {
    let files = pending(&set, history)
        .into_iter()
        .map(SourceFile::from_migration)
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok((files, set.problems))
}
