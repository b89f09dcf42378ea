//! `migrate validate`: files against history, no writes. Exit 2 when anything is wrong.

use serde::Serialize;

use super::Context;
use crate::errors::Outcome;
use crate::output::Report;
use crate::postgres::engine::Session;
use crate::postgres::migration::FileProblem;
use crate::postgres::plan;

#[derive(Debug, Serialize)]
pub struct ValidateReport {
    pub ok: bool,
    pub checked_files: usize,
    pub checked_history: bool,
    pub problems: Vec<Problem>,
}

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

impl Report for ValidateReport {
    fn human(&self) -> String {
        if self.ok {
            return format!(
                "ok: {} migration file{} valid{}\n",
                self.checked_files,
                if self.checked_files == 1 { "" } else { "s" },
                if self.checked_history {
                    " and consistent with the history"
                } else {
                    " (no database: history not checked)"
                }
            );
        }
        let mut out = format!(
            "{} problem{} found:\n",
            self.problems.len(),
            if self.problems.len() == 1 { "" } else { "s" }
        );
        for problem in &self.problems {
            let location = match (&problem.file, problem.line) {
                (Some(file), Some(line)) => format!("{file}:{line}: "),
                (Some(file), None) => format!("{file}: "),
                _ => String::new(),
            };
            let migration = problem
                .migration
                .as_deref()
                .map_or_else(String::new, |m| format!("{m}: "));
            out.push_str(&format!(
                "  [{}] {location}{migration}{}\n",
                problem.kind, problem.message
            ));
        }
        out
    }
}

pub async fn run(context: &Context) -> anyhow::Result<Outcome> {
    let set = crate::postgres::migration::load_dir(&context.settings.migrations_dir)?;
    let mut problems: Vec<Problem> = set.problems.iter().map(Problem::from).collect();
    let checked_history = match &context.settings.postgres {
        None => {
            context
                .printer
                .note("postgres: no URL configured; checking files only");
            false
        }
        Some(pg) => {
            let session = Session::open(pg).await?;
            let history = session.read_history().await?;
            for entry in plan::status(&set, &history) {
                if entry.state.is_problem() {
                    let label = match entry.version {
                        Some(v) => format!("V{v} {}", entry.name),
                        None => format!("R {}", entry.name),
                    };
                    problems.push(Problem {
                        store: "postgres",
                        kind: entry.state.as_str().to_string(),
                        migration: Some(label),
                        file: entry.file.clone(),
                        line: None,
                        message: entry
                            .note
                            .clone()
                            .unwrap_or_else(|| entry.state.as_str().to_string()),
                    });
                }
            }
            true
        }
    };
    let report = ValidateReport {
        ok: problems.is_empty(),
        checked_files: set.versioned.len() + set.repeatable.len() + set.problems.len(),
        checked_history,
        problems,
    };
    context.printer.report(&report);
    Ok(if report.ok {
        Outcome::Clean
    } else {
        Outcome::Problems
    })
}
