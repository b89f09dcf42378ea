//! `--format sarif` is for the commands whose reports are lint findings (`lint`, `check`); any
//! other command refuses it as a usage error before it does anything.

use crate::cli::{Cli, Command, Format};
use crate::errors::{Detailed, Usage};

/// A usage error when `--format sarif` is given to a command other than `lint` or `check`.
pub fn refuse_elsewhere(cli: &Cli) -> anyhow::Result<()> {
    if cli.global.format != Some(Format::Sarif)
        || matches!(cli.command, Command::Lint(_) | Command::Check(_))
    {
        return Ok(());
    }
    Err(refusal(&format!("`{}`", command_name(cli))))
}

/// The usage error for `what` (a command, or a fleet run).
pub fn refusal(what: &str) -> anyhow::Error {
    anyhow::Error::new(Usage(
        Detailed::new(format!(
            "--format sarif is not available for {what}: only `lint` and `check` report findings as SARIF"
        ))
        .hint("use --format json for a machine-readable report"),
    ))
}

fn command_name(cli: &Cli) -> String {
    let debug = format!("{:?}", cli.command);
    debug
        .split(|c: char| !c.is_alphanumeric())
        .next()
        .unwrap_or("")
        .to_lowercase()
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    fn parse(args: &str) -> Cli {
        Cli::try_parse_from(args.split_whitespace()).unwrap()
    }

    #[test]
    fn only_lint_and_check_accept_sarif() {
        assert!(refuse_elsewhere(&parse("migrate --format sarif lint")).is_ok());
        assert!(refuse_elsewhere(&parse("migrate check --format sarif")).is_ok());
        assert!(refuse_elsewhere(&parse("migrate status --format json")).is_ok());
        let error = refuse_elsewhere(&parse("migrate up --format sarif")).unwrap_err();
        assert!(error.is::<Usage>());
        assert!(error.to_string().contains("`up`"), "{error}");
    }
}
