//! `migrate man [--out DIR]`: roff man pages generated from the command tree, so they always
//! match `--help`.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::CommandFactory;
use serde::Serialize;

use crate::cli::{Cli, ManArgs};
use crate::errors::Outcome;
use crate::output::{Printer, Report};

#[derive(Debug, Serialize)]
struct ManReport {
    /// The page of `migrate` itself, when printed.
    #[serde(skip_serializing_if = "Option::is_none")]
    page: Option<String>,
    /// The files written with `--out`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    written: Vec<PathBuf>,
}

impl Report for ManReport {
    fn human(&self) -> String {
        match &self.page {
            Some(page) => page.clone(),
            None => self
                .written
                .iter()
                .map(|path| format!("{}\n", path.display()))
                .collect(),
        }
    }
}

pub fn run(printer: &Printer, args: &ManArgs) -> anyhow::Result<Outcome> {
    let mut command = Cli::command().disable_help_subcommand(true);
    command.build();
    let report = match &args.out {
        None => {
            let mut page = Vec::new();
            clap_mangen::Man::new(command).render(&mut page)?;
            ManReport {
                page: Some(String::from_utf8(page)?),
                written: Vec::new(),
            }
        }
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            let mut written = Vec::new();
            write_pages(command, dir, &mut written)?;
            written.sort();
            ManReport {
                page: None,
                written,
            }
        }
    };
    printer.report(&report);
    Ok(Outcome::Clean)
}

/// `migrate.1`, then `migrate-up.1` and so on for every (nested) command.
fn write_pages(
    command: clap::Command,
    dir: &Path,
    written: &mut Vec<PathBuf>,
) -> anyhow::Result<()> {
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_pages(sub.clone(), dir, written)?;
    }
    let page = clap_mangen::Man::new(command);
    let path = page
        .generate_to(dir)
        .with_context(|| format!("cannot write {}", dir.join(page.get_filename()).display()))?;
    written.push(path);
    Ok(())
}
