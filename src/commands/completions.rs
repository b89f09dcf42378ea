//! `migrate completions SHELL`: the shell completion script of the whole command tree.

use clap::CommandFactory;
use serde::Serialize;

use crate::cli::{Cli, CompletionsArgs};
use crate::errors::Outcome;
use crate::output::{Printer, Report};

#[derive(Debug, Serialize)]
struct CompletionsReport {
    shell: String,
    script: String,
}

impl Report for CompletionsReport {
    fn human(&self) -> String {
        self.script.clone()
    }
}

pub fn run(printer: &Printer, args: &CompletionsArgs) -> anyhow::Result<Outcome> {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "migrate", &mut script);
    printer.report(&CompletionsReport {
        shell: args.shell.to_string(),
        script: String::from_utf8(script)?,
    });
    Ok(Outcome::Clean)
}
