//! The exit codes CI relies on, through the binary: 0 success or clean, 1 an error, 2 a check
//! found problems, 64 a usage error (never 2, so a typo is not read as drift). With
//! `--format json`, every failure still prints one JSON document on stdout.

use crate::support::json;
use crate::support::{migrate_cmd, pg, run, workdir};

use crate::support::{migrate_in as migrate, write_migration as write};

/// The usage errors a user can make: unknown subcommand, unknown flag, bad flag value, a
/// missing required argument, conflicting flags, a command group without its subcommand.
const USAGE_ERRORS: &[&[&str]] = &[
    &["statsu"],
    &["status", "--bogus"],
    &["--bogus", "status"],
    &["up", "--target", "abc"],
    &["--format", "xml", "status"],
    &["backup", "verify"],
    &["down", "--steps", "1", "--to", "2"],
    &["backup"],
    &[],
];

#[test]
fn usage_errors_exit_64_with_one_readable_error() {
    for args in USAGE_ERRORS {
        let result = run(migrate_cmd().args(*args));
        result.assert_code(64);
        assert!(result.stdout.is_empty(), "{args:?}: {}", result.stdout);
        assert!(
            result.stderr.starts_with("error: "),
            "{args:?}: {}",
            result.stderr
        );
        assert!(
            result
                .stderr
                .lines()
                .any(|l| l.starts_with("hint: see `migrate")),
            "{args:?}: {}",
            result.stderr
        );
    }
    let typo = run(migrate_cmd().arg("statsu"));
    assert!(
        typo.stderr
            .contains("hint: a similar subcommand exists: 'status'"),
        "{}",
        typo.stderr
    );
    let value = run(migrate_cmd().args(["up", "--target", "abc"]));
    assert!(
        value.stderr.contains("hint: see `migrate up --help`"),
        "{}",
        value.stderr
    );
}

#[test]
fn usage_errors_in_json_mode_print_one_error_document() {
    for args in USAGE_ERRORS
        .iter()
        .filter(|args| !args.contains(&"--format"))
    {
        for format in [&["--format", "json"][..], &["--format=json"][..]] {
            let result = run(migrate_cmd().args(format).args(*args));
            result.assert_code(64);
            let value = json(&result);
            let error = &value["error"];
            assert_eq!(error["exit_code"], 64, "{args:?}");
            assert!(
                error["message"].as_str().is_some_and(|m| !m.is_empty()),
                "{args:?}: {value}"
            );
            assert!(error["context"].is_array() && error["hints"].is_array());
        }
    }
    // The flag may come after the mistake too.
    let late = run(migrate_cmd().args(["statsu", "--format", "json"]));
    late.assert_code(64);
    assert_eq!(
        json(&late)["error"]["message"],
        "unrecognized subcommand 'statsu'"
    );
}

#[test]
fn help_and_version_exit_0_on_stdout() {
    for args in [
        &["--help"][..],
        &["-h"],
        &["help"],
        &["help", "status"],
        &["status", "--help"],
        &["--version"],
        &["-V"],
    ] {
        let result = run(migrate_cmd().args(args));
        result.assert_ok();
        assert!(result.stdout.contains("migrate"), "{args:?}");
        assert!(result.stderr.is_empty(), "{args:?}: {}", result.stderr);
    }
}

#[test]
fn errors_exit_1_and_problems_exit_2() {
    let db = pg();
    let dir = workdir();
    write(
        dir.path(),
        "V1__a.sql",
        "CREATE TABLE a (id int);\n-- migrate:down\nDROP TABLE a;\n",
    );
    // 0: success, and a clean check.
    migrate(&db, dir.path(), &["up"]).assert_ok();
    migrate(&db, dir.path(), &["validate"]).assert_ok();
    migrate(&db, dir.path(), &["status", "--exit-code"]).assert_ok();

    // 64: a flag value clap accepts but the command cannot use.
    let no_down = migrate(
        &db,
        dir.path(),
        &["--format", "json", "down", "--store", "redis"],
    );
    no_down.assert_code(64);
    assert_eq!(json(&no_down)["error"]["exit_code"], 64);
    assert!(
        no_down.stderr.contains("hint: change the declaration"),
        "{}",
        no_down.stderr
    );

    // 1: an error (nothing listens on port 1), in both formats.
    let unreachable = ["--database-url", "postgres://u:p@127.0.0.1:1/db", "status"];
    run(migrate_cmd().current_dir(dir.path()).args(unreachable)).assert_code(1);
    let failed = run(migrate_cmd()
        .current_dir(dir.path())
        .args(["--format", "json"])
        .args(unreachable));
    failed.assert_code(1);
    assert_eq!(json(&failed)["error"]["exit_code"], 1);

    // 2: a check found problems (an applied file was edited).
    write(
        dir.path(),
        "V1__a.sql",
        "CREATE TABLE a (id bigint);\n-- migrate:down\nDROP TABLE a;\n",
    );
    migrate(&db, dir.path(), &["validate"]).assert_code(2);
    migrate(&db, dir.path(), &["status", "--exit-code"]).assert_code(2);
    // Without --exit-code, status only reports.
    migrate(&db, dir.path(), &["status"]).assert_ok();
}
