//! Migration lint: rules that flag operations which block or rewrite busy tables, break running
//! clients, or fail at run time, each with the line and a fix.
//!
//! Rules run over the statements the splitter finds (`sql` tokenizes them), one rule per file
//! under `rules/`. Files are linted as one ordered set, so a table created by an earlier
//! pending file (or statement) counts as new, not existing. A file disables rules with a
//! comment naming them (their Squawk names work too): `-- lint:ignore dropping-column,
//! renaming-table`. Opt-in rules (style preferences) run only when `[lint] enable` names them.
//!
//! squawk (the maintained PostgreSQL migration linter) was evaluated first and not embedded:
//! its current crates need a newer compiler than stable, they depend on each other with caret
//! versions (so an older release only builds with lockfile pins that `cargo install` ignores),
//! and its rules cannot know this tool's lock_timeout default or the pending set. Its
//! PostgreSQL rule set is covered where it applies (docs/lint.md maps every Squawk rule);
//! each rule records its Squawk name(s) in `Rule::squawk`.

pub mod pending;
pub mod rules;
pub mod sarif;
pub mod source;
pub mod sql;

use serde::Serialize;

use rules::{Facts, FileView};
pub use source::SourceFile;

/// One finding, as reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub rule: &'static str,
    pub file: String,
    pub line: usize,
    /// The 1-based column (in characters) where the flagged code starts on `line`.
    pub column: usize,
    /// The line of code at `line`.
    pub code: String,
    pub message: String,
    pub fix: String,
}

/// Settings that change what the rules consider safe.
#[derive(Debug, Clone, Default)]
pub struct LintOptions {
    /// Whether migrate sets a default lock_timeout for every migration (config).
    pub lock_timeout_configured: bool,
    /// Whether migrate sets a statement_timeout for every migration (config).
    pub statement_timeout_configured: bool,
    /// Opt-in rules to run (`[lint] enable`, rule names as the rules spell them), or `all`.
    pub enable: Vec<String>,
}

impl LintOptions {
    /// Whether `rule` runs: every rule that is not opt-in, and the opt-in ones enabled.
    pub fn runs(&self, rule: &rules::Rule) -> bool {
        !rule.opt_in
            || self
                .enable
                .iter()
                .any(|name| name == "all" || name == rule.name)
    }
}

/// Everything a lint run found.
#[derive(Debug, Clone, Default)]
pub struct LintResult {
    pub findings: Vec<Finding>,
    /// Findings suppressed by `-- lint:ignore` comments.
    pub ignored: usize,
    /// Problems with the ignore comments themselves (unknown rule names).
    pub warnings: Vec<String>,
}

/// Lints `files` as one ordered set (pending migrations in version order).
pub fn lint(files: &[SourceFile], options: LintOptions) -> LintResult {
    let facts = Facts::gather(files);
    let mut result = LintResult::default();
    for (index, file) in files.iter().enumerate() {
        for (line, name) in &file.unknown_ignores {
            result.warnings.push(format!(
                "{}:{line}: `-- lint:ignore {name}` names no rule (known: {})",
                file.path,
                rules::ALL
                    .iter()
                    .map(|r| r.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        let view = FileView {
            file,
            index,
            facts: &facts,
            lock_timeout_configured: options.lock_timeout_configured,
            statement_timeout_configured: options.statement_timeout_configured,
        };
        let mut findings = Vec::new();
        for rule in rules::ALL.iter().filter(|rule| options.runs(rule)) {
            let hits = (rule.check)(&view);
            if file.ignored.contains(rule.name) {
                result.ignored += hits.len();
                continue;
            }
            findings.extend(hits.into_iter().map(|hit| {
                let (line, column) = file.position(hit.statement, hit.token);
                Finding {
                    rule: rule.name,
                    file: file.path.clone(),
                    line,
                    column,
                    code: file.code_line(line),
                    message: hit.message,
                    fix: hit.fix,
                }
            }));
        }
        findings.sort_by_key(|finding| finding.line);
        result.findings.extend(findings);
    }
    result
}
