//! `--help` of every command and subcommand, pinned as snapshots (tests/snapshots/help/).
//!
//! The commands are found by walking the clap tree of `migrate::cli::Cli`, so a new command
//! or subcommand gets a snapshot (and fails CI until its `.snap` is reviewed and committed);
//! each help text is the binary's own output of `migrate <command...> --help`.

use clap::CommandFactory;

use crate::support::{migrate_cmd, run};

/// Every command path under `migrate`, parents before children: `[]`, `["backup"]`,
/// `["backup", "create"]`, ...
fn command_paths() -> Vec<Vec<String>> {
    fn walk(command: &clap::Command, path: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
        out.push(path.clone());
        for sub in command.get_subcommands() {
            path.push(sub.get_name().to_string());
            walk(sub, path, out);
            path.pop();
        }
    }
    let mut out = Vec::new();
    walk(&migrate::cli::Cli::command(), &mut Vec::new(), &mut out);
    out
}

fn help_of(path: &[String]) -> String {
    let done = run(migrate_cmd()
        // The width clap wraps at when stdout is not a terminal; pinned so the snapshots do
        // not depend on the terminal of whoever runs the tests.
        .env("COLUMNS", "100")
        .args(path)
        .arg("--help"));
    done.assert_ok();
    assert!(
        done.stderr.is_empty(),
        "`migrate {} --help` wrote to stderr:\n{}",
        path.join(" "),
        done.stderr
    );
    done.stdout
}

#[test]
fn every_command_has_its_help_pinned() {
    let paths = command_paths();
    // The tree really was walked: the top level, its commands and nested subcommands.
    assert!(paths.iter().any(|p| p.is_empty()));
    assert!(paths.iter().any(|p| p == &["up"]));
    assert!(paths.iter().any(|p| p == &["backup", "physical", "setup"]));

    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("snapshots/help");
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.bind(|| {
        for path in &paths {
            let name = std::iter::once("migrate")
                .chain(path.iter().map(String::as_str))
                .collect::<Vec<_>>()
                .join("-");
            insta::with_settings!({ description => format!("migrate {} --help", path.join(" ")) }, {
                insta::assert_snapshot!(name, help_of(path));
            });
        }
    });
}
