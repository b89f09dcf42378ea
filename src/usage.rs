//! Usage errors: what clap refuses (an unknown command or flag, a bad flag value, a missing
//! argument) exits 64 (`EX_USAGE` of sysexits.h), never 2, which is reserved for "a check
//! found problems". They are reported like every other error, so with `--format json` stdout
//! holds one `{"error": {...}}` document.

use std::ffi::OsString;

use clap::CommandFactory;
use clap::error::ErrorKind;

use crate::cli::{Cli, Format, GlobalArgs};
use crate::errors::Detailed;
use crate::output::Printer;

pub use crate::errors::EXIT_USAGE;

/// Reports a parse failure of `args` and returns the exit code: `--help` and `--version` print
/// to stdout and exit 0; everything else is a usage error.
pub fn report(error: &clap::Error, args: &[OsString]) -> i32 {
    if matches!(
        error.kind(),
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
    ) {
        // Writing help to a closed pipe is not worth an error of its own.
        let _ = error.print();
        return 0;
    }
    let global = GlobalArgs {
        format: Some(format_in_args(args)),
        ..GlobalArgs::default()
    };
    let printer = Printer::new(crate::config::early_output(&global.overrides()));
    printer.error(&anyhow::Error::new(describe(error, args)), EXIT_USAGE);
    EXIT_USAGE
}

/// The format the command line asked for, read without clap (which just refused it): the last
/// `--format VALUE` or `--format=VALUE` before a `--`. An unknown value means human.
fn format_in_args(args: &[OsString]) -> Format {
    let mut format = Format::Human;
    let mut words = args.iter().skip(1).map(|a| a.to_string_lossy());
    while let Some(word) = words.next() {
        let value = match word.as_ref() {
            "--" => break,
            "--format" => words.next().map(|v| v.into_owned()),
            other => other.strip_prefix("--format=").map(str::to_string),
        };
        match value.as_deref() {
            Some("json") => format = Format::Json,
            Some(_) => format = Format::Human,
            None => {}
        }
    }
    format
}

/// clap's message as one error line, its usage as context and its tips as hints.
fn describe(error: &clap::Error, args: &[OsString]) -> Detailed {
    let rendered = error.render().to_string();
    let path = command_path(args);
    let usage = usage_lines(&rendered);
    if error.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        return missing_subcommand(&path, &usage);
    }
    let mut lines = rendered.lines();
    let mut message = lines
        .next()
        .map(|line| line.strip_prefix("error: ").unwrap_or(line).to_string())
        .unwrap_or_else(|| error.kind().to_string());
    // Lines indented under the first one belong to it: the arguments a "the following
    // required arguments were not provided:" names, or `[possible values: ...]`.
    let mut details = Vec::new();
    for line in lines.by_ref() {
        if line.trim().is_empty() {
            break;
        }
        details.push(line.trim().to_string());
    }
    let mut detailed = if message.ends_with(':') && !details.is_empty() {
        message.push(' ');
        message.push_str(&details.join(", "));
        Detailed::new(message)
    } else {
        let mut detailed = Detailed::new(message);
        for line in details {
            let line = line.trim_start_matches('[').trim_end_matches(']');
            detailed = detailed.context(line.to_string());
        }
        detailed
    };
    for line in &usage {
        detailed = detailed.context(format!("usage: {line}"));
    }
    for line in lines {
        if let Some(tip) = line.trim().strip_prefix("tip: ") {
            detailed = detailed.hint(tip.to_string());
        }
    }
    detailed.hint(format!("see `{} --help`", path.join(" ")))
}

/// `migrate backup` without a subcommand: clap renders the whole help; name the subcommands
/// instead.
fn missing_subcommand(path: &[String], usage: &[String]) -> Detailed {
    let mut command = Cli::command();
    for name in path.iter().skip(1) {
        match command.find_subcommand(name) {
            Some(sub) => command = sub.clone(),
            None => break,
        }
    }
    let subcommands: Vec<&str> = command
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
        .map(|s| s.get_name())
        .collect();
    let joined = path.join(" ");
    let mut detailed = Detailed::new(format!("`{joined}` needs a subcommand"));
    for line in usage {
        detailed = detailed.context(format!("usage: {line}"));
    }
    if !subcommands.is_empty() {
        detailed = detailed.context(format!("subcommands: {}", subcommands.join(", ")));
    }
    detailed.hint(format!("see `{joined} --help`"))
}

/// The lines of the `Usage:` section (clap indents the second and later ones).
fn usage_lines(rendered: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut in_usage = false;
    for line in rendered.lines() {
        if let Some(first) = line.strip_prefix("Usage: ") {
            in_usage = true;
            lines.push(first.trim().to_string());
        } else if in_usage && line.starts_with(' ') && !line.trim().is_empty() {
            lines.push(line.trim().to_string());
        } else {
            in_usage = false;
        }
    }
    lines
}

/// The (sub)commands named on the command line, `["migrate", "backup", "verify"]`, found by
/// walking the clap tree over the arguments and skipping option values.
fn command_path(args: &[OsString]) -> Vec<String> {
    let root = Cli::command();
    let mut command = root.clone();
    let mut path = vec![command.get_name().to_string()];
    let mut words = args
        .iter()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned());
    while let Some(word) = words.next() {
        if word == "--" {
            break;
        }
        if !word.starts_with('-') {
            if let Some(sub) = command.find_subcommand(&word) {
                path.push(sub.get_name().to_string());
                command = sub.clone();
            }
            continue;
        }
        // `--name VALUE` and `-n VALUE` take the next word; `--name=VALUE` does not.
        // Global options are declared on the root command only.
        let known = command.get_arguments().chain(root.get_arguments());
        let option = match word.strip_prefix("--") {
            Some(long) => known.into_iter().find(|a| a.get_long() == Some(long)),
            None => {
                let short = word.chars().nth(1).filter(|_| word.chars().count() == 2);
                known
                    .into_iter()
                    .find(|a| short.is_some() && a.get_short() == short)
            }
        };
        if option.is_some_and(|arg| arg.get_action().takes_values()) {
            words.next();
        }
    }
    path
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    fn args(line: &str) -> Vec<OsString> {
        line.split_whitespace().map(OsString::from).collect()
    }

    /// What `line` is reported as.
    fn described(line: &str) -> Detailed {
        match Cli::try_parse_from(args(line)) {
            Ok(cli) => panic!("`{line}` parsed: {cli:?}"),
            Err(error) => describe(&error, &args(line)),
        }
    }

    #[test]
    fn unknown_subcommand_keeps_the_suggestion_as_a_hint() {
        let detailed = described("migrate statu");
        assert_eq!(detailed.message, "unrecognized subcommand 'statu'");
        assert_eq!(detailed.context, ["usage: migrate [OPTIONS] <COMMAND>"]);
        assert_eq!(
            detailed.hints,
            [
                "a similar subcommand exists: 'status'",
                "see `migrate --help`"
            ]
        );
    }

    #[test]
    fn bad_value_names_the_flag() {
        let detailed = described("migrate up --target abc");
        assert!(
            detailed
                .message
                .starts_with("invalid value 'abc' for '--target <V>'"),
            "{}",
            detailed.message
        );
        assert!(!detailed.message.contains('\x1b'));
        assert_eq!(detailed.hints, ["see `migrate up --help`"]);
    }

    #[test]
    fn possible_values_and_missing_arguments_are_kept() {
        let detailed = described("migrate --format xml status");
        assert_eq!(detailed.context, ["possible values: human, json, sarif"]);
        assert_eq!(detailed.hints, ["see `migrate status --help`"]);
        let detailed = described("migrate backup verify");
        assert_eq!(
            detailed.message,
            "the following required arguments were not provided: <ID>"
        );
        assert_eq!(detailed.context, ["usage: migrate backup verify <ID>"]);
        assert_eq!(detailed.hints, ["see `migrate backup verify --help`"]);
    }

    #[test]
    fn option_values_are_not_taken_for_subcommands() {
        assert_eq!(
            command_path(&args(
                "migrate --env up -c status backup --dir down verify --format=json -e create"
            )),
            ["migrate", "backup", "verify"]
        );
    }

    #[test]
    fn conflicting_flags_show_the_subcommand_usage() {
        let detailed = described("migrate down --steps 1 --to 2");
        assert_eq!(detailed.context, ["usage: migrate down --steps <N>"]);
        assert_eq!(detailed.hints, ["see `migrate down --help`"]);
    }

    #[test]
    fn missing_subcommand_lists_the_subcommands() {
        let detailed = described("migrate backup");
        assert_eq!(detailed.message, "`migrate backup` needs a subcommand");
        assert_eq!(
            detailed.context,
            [
                "usage: migrate backup [OPTIONS] <COMMAND>",
                "subcommands: create, list, verify, restore, prune, physical"
            ]
        );
    }

    #[test]
    fn format_is_read_from_the_raw_arguments() {
        assert_eq!(
            format_in_args(&args("migrate --format json statu")),
            Format::Json
        );
        assert_eq!(
            format_in_args(&args("migrate status --format=json --bogus")),
            Format::Json
        );
        assert_eq!(
            format_in_args(&args("migrate --format xml status")),
            Format::Human
        );
        assert_eq!(
            format_in_args(&args("migrate lint -- --format json")),
            Format::Human
        );
    }
}
