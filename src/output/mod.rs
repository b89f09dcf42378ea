//! All output goes through one [`Printer`]: data to stdout, messages and progress to stderr.
//!
//! Human mode renders reports as text and tables; JSON mode prints exactly one JSON document
//! on stdout per command (see `docs/json.md`). `-q` silences messages, `-v` adds detail,
//! `NO_COLOR` (or a non-terminal stderr) turns colour off, and progress bars only draw on a
//! terminal.

pub mod table;

use std::io::{IsTerminal, Write};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use crate::config::OutputSettings;
use crate::core::Format;
pub use crate::core::words::{count, human_ms, plural};

/// A command's result: serializable as the JSON API, renderable for people.
pub trait Report: Serialize {
    /// The text printed on stdout in human mode (tables, summaries). May be empty.
    fn human(&self) -> String;

    /// The SARIF document printed with `--format sarif`, for the reports that have one (the
    /// command line refuses the format for the others).
    fn sarif(&self) -> Option<serde_json::Value> {
        None
    }
}

#[derive(Debug, Clone)]
pub struct Printer {
    settings: OutputSettings,
    /// Prints nothing at all: the per-target runs of a fleet, whose results are summarized
    /// by the fleet's own report.
    silent: bool,
}

impl Printer {
    pub fn new(settings: OutputSettings) -> Self {
        Printer {
            settings,
            silent: false,
        }
    }

    /// A printer that prints nothing (reports, messages and warnings alike).
    pub fn silent(&self) -> Self {
        Printer {
            settings: OutputSettings {
                quiet: true,
                verbose: false,
                ..self.settings
            },
            silent: true,
        }
    }

    pub fn format(&self) -> Format {
        self.settings.format
    }

    pub fn is_json(&self) -> bool {
        self.settings.format == Format::Json
    }

    pub fn verbose_enabled(&self) -> bool {
        self.settings.verbose
    }

    /// A progress message about work being done (stderr; hidden by `-q`).
    pub fn step(&self, message: impl AsRef<str>) {
        if !self.settings.quiet {
            eprintln!("{}", message.as_ref());
        }
    }

    /// Detail shown only with `-v`.
    pub fn verbose(&self, message: impl AsRef<str>) {
        if self.settings.verbose {
            eprintln!("{}", self.paint(Style::Dim, message.as_ref()));
        }
    }

    /// Under `-v`: names the work about to start (`what`, one line); [`Timed::done`] then
    /// prints how long it took, so a statement that hangs is on screen while it runs.
    pub fn timed(&self, what: impl AsRef<str>) -> Timed<'_> {
        self.verbose(what);
        Timed {
            printer: self,
            started: std::time::Instant::now(),
        }
    }

    pub fn note(&self, message: impl AsRef<str>) {
        if !self.settings.quiet {
            eprintln!("{} {}", self.paint(Style::Dim, "note:"), message.as_ref());
        }
    }

    pub fn warn(&self, message: impl AsRef<str>) {
        if self.silent {
            return;
        }
        eprintln!(
            "{} {}",
            self.paint(Style::Yellow, "warning:"),
            message.as_ref()
        );
    }

    pub fn hint(&self, message: impl AsRef<str>) {
        if !self.settings.quiet {
            eprintln!("{} {}", self.paint(Style::Cyan, "hint:"), message.as_ref());
        }
    }

    /// Prints an error: one line, then its context lines, then hints. In JSON mode stdout also
    /// gets `{"error": {...}}` so a script always finds one document there.
    /// An error line on stderr only, never a JSON document: for a command whose report, printed
    /// already, is the one document and says what failed.
    pub fn error_line(&self, message: impl AsRef<str>) {
        if self.silent {
            return;
        }
        eprintln!("{} {}", self.paint(Style::Red, "error:"), message.as_ref());
    }

    pub fn error(&self, error: &anyhow::Error, exit_code: i32) {
        if self.silent {
            return;
        }
        let rendered = crate::errors::render(error);
        eprintln!("{} {}", self.paint(Style::Red, "error:"), rendered.message);
        for line in &rendered.context {
            eprintln!("  {line}");
        }
        for hint in &rendered.hints {
            eprintln!("{} {hint}", self.paint(Style::Cyan, "hint:"));
        }
        if self.is_json() {
            let document = serde_json::json!({
                "error": {
                    "message": rendered.message,
                    "context": rendered.context,
                    "hints": rendered.hints,
                    "exit_code": exit_code,
                }
            });
            let mut stdout = std::io::stdout().lock();
            let _ = serde_json::to_writer_pretty(&mut stdout, &document);
            let _ = writeln!(stdout);
        }
    }

    /// Prints a command's report on stdout in the chosen format.
    pub fn report<R: Report>(&self, report: &R) {
        if self.silent {
            return;
        }
        let mut stdout = std::io::stdout().lock();
        match self.settings.format {
            Format::Json => {
                let _ = serde_json::to_writer_pretty(&mut stdout, report);
                let _ = writeln!(stdout);
            }
            Format::Sarif => {
                match report.sarif() {
                    Some(document) => serde_json::to_writer_pretty(&mut stdout, &document),
                    None => serde_json::to_writer_pretty(&mut stdout, report),
                }
                .ok();
                let _ = writeln!(stdout);
            }
            Format::Human => {
                let text = report.human();
                if !text.is_empty() {
                    let _ = write!(stdout, "{text}");
                    if !text.ends_with('\n') {
                        let _ = writeln!(stdout);
                    }
                }
            }
        }
        let _ = stdout.flush();
    }

    /// A progress bar on stderr, drawn only on a terminal in human mode without `-q`.
    pub fn progress(&self, length: u64, message: &str) -> ProgressBar {
        let visible = !self.settings.quiet
            && self.settings.format == Format::Human
            && std::io::stderr().is_terminal();
        let bar = ProgressBar::with_draw_target(
            Some(length),
            if visible {
                ProgressDrawTarget::stderr()
            } else {
                ProgressDrawTarget::hidden()
            },
        );
        // The template is a constant known to be valid.
        if let Ok(style) =
            ProgressStyle::with_template("{spinner} {msg} [{bar:30}] {pos}/{len} ({elapsed})")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(message.to_string());
        if visible {
            bar.enable_steady_tick(Duration::from_millis(120));
        }
        bar
    }

    /// Asks for confirmation of destructive work. `--yes` answers for the user; without a
    /// terminal the answer is no.
    pub fn confirm(&self, assume_yes: bool, question: &str) -> anyhow::Result<()> {
        if assume_yes {
            return Ok(());
        }
        if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
            anyhow::bail!("refusing without confirmation: pass --yes to {question}");
        }
        eprint!("{question}? type \"yes\" to continue: ");
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer)?;
        if answer.trim().eq_ignore_ascii_case("yes") {
            Ok(())
        } else {
            anyhow::bail!("cancelled: nothing was changed")
        }
    }

    fn paint(&self, style: Style, text: &str) -> String {
        if !self.settings.color {
            return text.to_string();
        }
        let code = match style {
            Style::Red => "1;31",
            Style::Yellow => "1;33",
            Style::Cyan => "36",
            Style::Dim => "2",
        };
        format!("\x1b[{code}m{text}\x1b[0m")
    }
}

/// Work announced by [`Printer::timed`].
#[must_use = "call done() once the work is over"]
pub struct Timed<'a> {
    printer: &'a Printer,
    started: std::time::Instant,
}

impl Timed<'_> {
    /// `  took 12 ms` under `-v`, then `: outcome` when there is one worth saying.
    pub fn done(self, outcome: Option<&str>) {
        let took = human_ms(u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX));
        self.printer.verbose(match outcome {
            Some(outcome) => format!("  took {took}: {outcome}"),
            None => format!("  took {took}"),
        });
    }
}

#[derive(Clone, Copy)]
enum Style {
    Red,
    Yellow,
    Cyan,
    Dim,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_singular_for_one_only() {
        assert_eq!(count(1u64, "key"), "1 key");
        assert_eq!(count(0usize, "key"), "0 keys");
        assert_eq!(count(2u32, "batch"), "2 batches");
        assert_eq!(count(3i64, "index"), "3 indexes");
        assert_eq!(count(2u64, "policy"), "2 policies");
        assert_eq!(count(2u64, "day"), "2 days");
        assert_eq!(count(5usize, "pending migration"), "5 pending migrations");
    }

    #[test]
    fn human_durations() {
        assert_eq!(human_ms(12), "12 ms");
        assert_eq!(human_ms(2400), "2.4 s");
        assert_eq!(human_ms(185_000), "3 min 5 s");
    }
}
