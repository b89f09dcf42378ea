//! `migrate lint [FILE…]`: unsafe-migration rules over the pending migrations (or the given
//! files). Exit 2 when anything is found.

use serde::Serialize;

use super::Context;
use crate::cli::LintArgs;
use crate::errors::Outcome;
use crate::lint::{self, Finding, LintOptions, SourceFile};
use crate::output::Report;
use crate::postgres::migration::{self, FileProblem};
use crate::postgres::session::Session;

/// Version of the lint report's JSON shape.
pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Serialize)]
pub struct LintReport {
    pub format_version: u32,
    pub clean: bool,
    /// The files linted, in order.
    pub files: Vec<String>,
    pub findings: Vec<Finding>,
    /// Pending files that could not be read or parsed, so were not linted: each is a problem.
    pub invalid_files: Vec<FileProblem>,
    /// Findings suppressed by `-- lint:ignore` comments.
    pub ignored: usize,
    pub warnings: Vec<String>,
}

impl Report for LintReport {
    fn sarif(&self) -> Option<serde_json::Value> {
        Some(lint::sarif::document(&self.findings))
    }

    fn human(&self) -> String {
        let mut out = String::new();
        for problem in &self.invalid_files {
            out.push_str(&format!(
                "{problem}\n  not linted: fix the file (see `migrate validate`)\n"
            ));
        }
        out.push_str(&render_findings(&self.findings, ""));
        let ignored = if self.ignored > 0 {
            format!(" ({} suppressed by lint:ignore comments)", self.ignored)
        } else {
            String::new()
        };
        let files = format!(
            "{} file{}",
            self.files.len(),
            if self.files.len() == 1 { "" } else { "s" }
        );
        let invalid = match self.invalid_files.len() {
            0 => String::new(),
            1 => ", and 1 invalid file not linted".to_string(),
            n => format!(", and {n} invalid files not linted"),
        };
        if self.clean {
            out.push_str(&format!("lint: no findings in {files}{ignored}\n"));
        } else if self.findings.is_empty() {
            out.push_str(&format!("lint: no findings in {files}{ignored}{invalid}\n"));
        } else {
            out.push_str(&format!(
                "lint: {} finding{} in {files}{ignored}{invalid}\n",
                self.findings.len(),
                if self.findings.len() == 1 { "" } else { "s" }
            ));
        }
        out
    }
}

/// Findings as `file:line: [rule] message`, the statement, and the fix.
pub fn render_findings(findings: &[Finding], indent: &str) -> String {
    let mut out = String::new();
    for finding in findings {
        out.push_str(&format!(
            "{indent}{}:{}: [{}] {}\n{indent}  {:>5} | {}\n{indent}  fix: {}\n",
            finding.file,
            finding.line,
            finding.rule,
            finding.message,
            finding.line,
            finding.code,
            finding.fix
        ));
    }
    out
}

pub async fn run(context: &Context, args: &LintArgs) -> anyhow::Result<Outcome> {
    let (files, invalid_files) = if args.files.is_empty() {
        pending_files(context).await?
    } else {
        let files = args
            .files
            .iter()
            .map(|path| SourceFile::read(path))
            .collect::<anyhow::Result<Vec<_>>>()?;
        (files, Vec::new())
    };
    let mut report = lint_report(context, &files);
    report.clean &= invalid_files.is_empty();
    report.invalid_files = invalid_files;
    for warning in &report.warnings {
        context.printer.warn(warning);
    }
    context.printer.report(&report);
    Ok(Outcome::clean_if(report.clean))
}

/// Lints `files` with the settings' lock_timeout default.
pub fn lint_report(context: &Context, files: &[SourceFile]) -> LintReport {
    // Without a database the config's lock_timeout is not resolved; migrate's default (10s)
    // applies to every run unless the config sets it to 0.
    let options = LintOptions {
        lock_timeout_configured: context
            .settings
            .postgres
            .as_ref()
            .is_none_or(|pg| pg.lock_timeout.is_some()),
        statement_timeout_configured: context
            .settings
            .postgres
            .as_ref()
            .is_some_and(|pg| pg.statement_timeout.is_some()),
        enable: context.settings.lint_enable.clone(),
    };
    let result = lint::lint(files, options);
    LintReport {
        format_version: FORMAT_VERSION,
        clean: result.findings.is_empty(),
        files: files.iter().map(|f| f.path.clone()).collect(),
        findings: result.findings,
        invalid_files: Vec::new(),
        ignored: result.ignored,
        warnings: result.warnings,
    }
}

/// The migrations `up` would run: pending against the database's history, or every file when
/// no database is configured; and the files that could not be parsed (problems, not linted).
async fn pending_files(context: &Context) -> anyhow::Result<(Vec<SourceFile>, Vec<FileProblem>)> {
    let set = migration::load_dir(&context.settings.migrations_dir)?;
    let history = match &context.settings.postgres {
        Some(pg) => Session::open(pg).await?.read_history().await?,
        None => {
            context
                .printer
                .note("postgres: no URL configured; linting every migration file");
            Vec::new()
        }
    };
    lint::pending::files(set, &history)
}
