//! What `validate` and `check` report as problems of the migration files and of the history
//! against them, for the PostgreSQL and Mongo migrations alike.

use serde::Serialize;

use crate::core::files::FileProblem;
use crate::core::plan::{Entry, State};

#[derive(Debug, Serialize)]
pub struct Problem {
    pub store: &'static str,
    /// `file` (naming, parsing, duplicates) or a migration state (`modified`, `missing`, …).
    pub kind: String,
    pub migration: Option<String>,
    pub file: Option<String>,
    pub line: Option<usize>,
    pub message: String,
}

/// One line of the human report: `[kind] file:line: migration: message`.
impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "[{}] ", self.kind)?;
        match (&self.file, self.line) {
            (Some(file), Some(line)) => write!(f, "{file}:{line}: ")?,
            (Some(file), None) => write!(f, "{file}: ")?,
            _ => {}
        }
        if let Some(migration) = &self.migration {
            write!(f, "{migration}: ")?;
        }
        f.write_str(&self.message)
    }
}

impl From<&FileProblem> for Problem {
    fn from(problem: &FileProblem) -> Problem {
        Problem {
            store: "postgres",
            kind: "file".to_string(),
            migration: None,
            file: Some(problem.file.clone()),
            line: problem.line,
            message: problem.message.clone(),
        }
    }
}

/// Migrations whose state is a problem (`modified`, `missing`, `dirty`, `out-of-order`);
/// `invalid` files are already listed as file problems.
pub fn history_problems(store: &'static str, entries: Vec<Entry>) -> Vec<Problem> {
    entries
        .into_iter()
        .filter(|entry| entry.state.is_problem() && entry.state != State::Invalid)
        .map(|entry| {
            let label = match entry.version {
                Some(v) => format!("V{v} {}", entry.name),
                None => format!("R {}", entry.name),
            };
            Problem {
                store,
                kind: entry.state.as_str().to_string(),
                migration: Some(label),
                file: entry.file.clone(),
                line: None,
                message: entry
                    .note
                    .clone()
                    .unwrap_or_else(|| entry.state.as_str().to_string()),
            }
        })
        .collect()
}
