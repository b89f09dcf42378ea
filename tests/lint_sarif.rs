//! Lint's Squawk-parity rules and `--format sarif` through the binary: the SARIF log of `lint`
//! and `check` checked field by field, other commands refusing the format (exit 64, nothing
//! done), `[lint] enable` for the opt-in rules, Squawk names in `-- lint:ignore`, and the
//! application's own migrations.

use std::path::Path;

use crate::support::json;
use crate::support::{PgDb, migrate_cmd, pg, run, workdir};
use serde_json::Value;

/// Problems on known lines and columns, for rules that are on by default.
const RISKY: &str = "-- migrate:lock-timeout 5s
DROP INDEX tasks_title_idx;
ALTER TABLE tasks
    ALTER COLUMN title DROP NOT NULL,
    ADD COLUMN org_id bigint REFERENCES orgs (id);
TRUNCATE audit CASCADE;
";

fn migrate(db: &PgDb, dir: &Path, args: &[&str]) -> crate::support::Run {
    run(migrate_cmd()
        .current_dir(dir)
        .arg("--database-url")
        .arg(&db.url)
        .args(args))
}

/// The SARIF fields code scanning needs, asserted for every result; returns (ruleId, uri,
/// line, column) of each result.
fn sarif_results(log: &Value) -> Vec<(String, String, u64, u64)> {
    assert_eq!(log["version"], "2.1.0");
    assert_eq!(
        log["$schema"],
        "https://json.schemastore.org/sarif-2.1.0.json"
    );
    let runs = log["runs"].as_array().expect("runs is an array");
    assert_eq!(runs.len(), 1, "one run");
    let driver = &runs[0]["tool"]["driver"];
    assert_eq!(driver["name"], "migrate");
    let rules = driver["rules"]
        .as_array()
        .expect("driver.rules is an array");
    let mut ids = Vec::new();
    for rule in rules {
        let id = rule["id"].as_str().expect("rule id is a string");
        assert!(!id.is_empty());
        assert!(
            rule["shortDescription"]["text"]
                .as_str()
                .is_some_and(|t| !t.is_empty()),
            "{rule}"
        );
        assert!(rule["help"]["text"].as_str().is_some_and(|t| !t.is_empty()));
        ids.push(id.to_string());
    }
    let mut sorted = ids.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), ids.len(), "rule ids are unique");
    runs[0]["results"]
        .as_array()
        .expect("results is an array")
        .iter()
        .map(|result| {
            let rule = result["ruleId"].as_str().expect("ruleId").to_string();
            let index = result["ruleIndex"].as_u64().expect("ruleIndex") as usize;
            assert_eq!(ids[index], rule, "ruleIndex points at the rule");
            assert!(
                ["error", "warning", "note"].contains(&result["level"].as_str().unwrap()),
                "{result}"
            );
            assert!(
                result["message"]["text"]
                    .as_str()
                    .is_some_and(|t| t.contains("Fix:"))
            );
            let locations = result["locations"].as_array().unwrap();
            assert_eq!(locations.len(), 1);
            let physical = &locations[0]["physicalLocation"];
            let uri = physical["artifactLocation"]["uri"].as_str().unwrap();
            assert!(!uri.starts_with('/'), "relative URI: {uri}");
            let region = &physical["region"];
            (
                rule,
                uri.to_string(),
                region["startLine"].as_u64().unwrap(),
                region["startColumn"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn lint_format_sarif_locates_every_finding_relative_to_the_repository() {
    let dir = workdir();
    // A repository with the migrations one level down, linted from a subdirectory.
    std::fs::create_dir_all(dir.path().join(".git")).unwrap();
    let app = dir.path().join("app");
    std::fs::create_dir_all(app.join("migrations")).unwrap();
    std::fs::write(app.join("migrations/V5__risky.sql"), RISKY).unwrap();
    let result = run(migrate_cmd().current_dir(&app).args([
        "lint",
        "--format",
        "sarif",
        "migrations/V5__risky.sql",
    ]));
    result.assert_code(2);
    let log = json(&result);
    let uri = "app/migrations/V5__risky.sql".to_string();
    assert_eq!(
        sarif_results(&log),
        vec![
            (
                "require-concurrent-index-deletion".into(),
                uri.clone(),
                2,
                12
            ),
            ("ban-drop-not-null".into(), uri.clone(), 4, 5),
            ("adding-foreign-key-constraint".into(), uri.clone(), 5, 5),
            ("ban-truncate-cascade".into(), uri.clone(), 6, 16),
        ]
    );
    // The JSON report carries the same columns.
    let result = run(migrate_cmd().current_dir(&app).args([
        "lint",
        "--format",
        "json",
        "migrations/V5__risky.sql",
    ]));
    let columns: Vec<u64> = json(&result)["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["column"].as_u64().unwrap())
        .collect();
    assert_eq!(columns, vec![12, 5, 5, 16]);

    // A clean file: a valid log with no results, exit 0.
    std::fs::write(
        app.join("migrations/V6__ok.sql"),
        "CREATE TABLE t (id bigint);\n",
    )
    .unwrap();
    let result = run(migrate_cmd().current_dir(&app).args([
        "--format",
        "sarif",
        "lint",
        "migrations/V6__ok.sql",
    ]));
    result.assert_ok();
    assert!(sarif_results(&json(&result)).is_empty());
}

#[test]
fn check_format_sarif_carries_the_lint_findings_of_pending_migrations() {
    let db = pg();
    let dir = workdir();
    let migrations = dir.path().join("migrations");
    std::fs::create_dir_all(&migrations).unwrap();
    std::fs::write(
        migrations.join("V1__tasks.sql"),
        "CREATE TABLE tasks (id bigint PRIMARY KEY, title text NOT NULL);\n\
         CREATE INDEX tasks_title_idx ON tasks (title);\n\
         -- migrate:down\nDROP TABLE tasks;\n",
    )
    .unwrap();
    migrate(&db, dir.path(), &["up"]).assert_ok();
    std::fs::write(
        migrations.join("V2__relax.sql"),
        "ALTER TABLE tasks ALTER COLUMN title DROP NOT NULL;\n\
         -- migrate:down\nALTER TABLE tasks ALTER COLUMN title SET NOT NULL;\n",
    )
    .unwrap();
    let result = migrate(&db, dir.path(), &["check", "--format", "sarif"]);
    result.assert_code(2);
    let results = sarif_results(&json(&result));
    assert_eq!(results.len(), 1, "{results:?}");
    assert_eq!(results[0].0, "ban-drop-not-null");
    assert!(
        results[0].1.ends_with("migrations/V2__relax.sql"),
        "{results:?}"
    );
    assert_eq!((results[0].2, results[0].3), (1, 19));
}

#[test]
fn other_commands_refuse_format_sarif_and_do_nothing() {
    let db = pg();
    let dir = workdir();
    let migrations = dir.path().join("migrations");
    std::fs::create_dir_all(&migrations).unwrap();
    std::fs::write(
        migrations.join("V1__t.sql"),
        "CREATE TABLE t (id bigint);\n",
    )
    .unwrap();
    for args in [
        &["up", "--format", "sarif"][..],
        &["--format", "sarif", "status"][..],
        &["validate", "--format=sarif"][..],
    ] {
        let result = migrate(&db, dir.path(), args);
        result.assert_code(64);
        assert!(result.stdout.is_empty(), "{}", result.stdout);
        assert!(
            result.stderr.contains("only `lint` and `check`"),
            "{}",
            result.stderr
        );
    }
    let tables = db.scalar("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'");
    assert_eq!(
        tables.as_deref(),
        Some("0"),
        "up --format sarif applied nothing"
    );
    // A fleet run of check prints the fleet's own document: SARIF is refused before it runs.
    std::fs::write(dir.path().join("targets.txt"), format!("{}\n", db.url)).unwrap();
    let result = migrate(
        &db,
        dir.path(),
        &["check", "--targets", "targets.txt", "--format", "sarif"],
    );
    result.assert_code(64);
    assert!(result.stdout.is_empty(), "{}", result.stdout);
    assert!(result.stderr.contains("--targets"), "{}", result.stderr);
    // The config file cannot make every command print SARIF.
    std::fs::write(
        dir.path().join("migrate.toml"),
        "[output]\nformat = \"sarif\"\n",
    )
    .unwrap();
    let result = migrate(&db, dir.path(), &["lint"]);
    result.assert_code(1);
    assert!(result.stderr.contains("sarif"), "{}", result.stderr);
}

#[test]
fn opt_in_rules_run_when_the_config_enables_them_and_squawk_names_ignore_rules() {
    let dir = workdir();
    let sql = "CREATE TABLE notes (\n    id serial PRIMARY KEY,\n    title varchar(80),\n    at timestamp\n);\n";
    std::fs::write(dir.path().join("V1__notes.sql"), sql).unwrap();
    let lint = |extra: &[&str]| {
        run(migrate_cmd().current_dir(dir.path()).args(extra).args([
            "--format",
            "json",
            "lint",
            "V1__notes.sql",
        ]))
    };
    // Off by default.
    lint(&[]).assert_ok();
    std::fs::write(
        dir.path().join("migrate.toml"),
        "[lint]\nenable = [\"prefer-identity\", \"prefer-timestamp-tz\"]\n",
    )
    .unwrap();
    let result = lint(&[]);
    result.assert_code(2);
    let rules: Vec<(String, u64)> = json(&result)["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap().into(),
                f["line"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rules,
        vec![
            ("prefer-identity".to_string(), 2),
            ("prefer-timestamptz".to_string(), 4)
        ]
    );
    // Squawk's names work in ignore comments.
    std::fs::write(
        dir.path().join("V1__notes.sql"),
        format!("-- lint:ignore prefer-identity, prefer-timestamp-tz -- legacy table\n{sql}"),
    )
    .unwrap();
    let result = lint(&[]);
    result.assert_ok();
    assert_eq!(json(&result)["ignored"], 2);
    // A name that is no rule is a config error.
    std::fs::write(
        dir.path().join("migrate.toml"),
        "[lint]\nenable = [\"prefer-everything\"]\n",
    )
    .unwrap();
    let result = lint(&[]);
    result.assert_code(1);
    assert!(
        result
            .stderr
            .contains("`prefer-everything` names no lint rule"),
        "{}",
        result.stderr
    );
}

/// This repository's migrations pass the default rules; with every opt-in rule on, only
/// `prefer-bigint-over-int` (bounded counts and sizes) and `require-table-schema` (one schema)
/// fire: see docs/lint.md.
#[test]
fn application_migrations_pass_the_default_rules() {
    let migrations = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let dir = workdir();
    let lint = || {
        run(migrate_cmd().current_dir(dir.path()).args([
            "--migrations",
            migrations.to_str().unwrap(),
            "--format",
            "json",
            "lint",
        ]))
    };
    let result = lint();
    result.assert_ok();
    assert!(json(&result)["files"].as_array().unwrap().len() >= 19);
    std::fs::write(
        dir.path().join("migrate.toml"),
        "[lint]\nenable = [\"all\"]\n",
    )
    .unwrap();
    let result = lint();
    result.assert_code(2);
    let report = json(&result);
    let findings = report["findings"].as_array().unwrap();
    assert!(!findings.is_empty());
    for finding in findings {
        match finding["rule"].as_str().unwrap() {
            "prefer-bigint-over-int" => assert!(
                finding["code"].as_str().unwrap().contains("integer"),
                "{finding}"
            ),
            "require-table-schema" => assert!(
                finding["message"]
                    .as_str()
                    .unwrap()
                    .contains("names no schema"),
                "{finding}"
            ),
            other => panic!("{other} fires on the application's migrations: {finding}"),
        }
    }
}

/// The review workflow of docs/ci.md, its shell lines run as written: the base branch's
/// migrations applied from another directory, the SARIF lint of the new file, and the check
/// summary written for the pull-request comment.
#[test]
fn ci_doc_review_workflow_runs_as_written() {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/ci.md")).unwrap();
    let workflow = doc
        .split("# .github/workflows/migration-review.yml")
        .nth(1)
        .and_then(|rest| rest.split("\n```\n").next())
        .expect("docs/ci.md has the migration-review workflow");
    let lines: Vec<&str> = workflow.lines().map(str::trim).collect();
    let apply = lines
        .iter()
        .find(|l| l.starts_with("migrate --migrations"))
        .expect("the base apply line");
    let lint = lines
        .iter()
        .find_map(|l| l.strip_prefix("run: migrate lint"))
        .map(|rest| format!("migrate lint{rest}"))
        .expect("the lint line");
    let start = lines.iter().position(|l| *l == "status=0").unwrap();
    let end = lines
        .iter()
        .position(|l| l.contains("$GITHUB_OUTPUT"))
        .unwrap();
    let check = lines[start..=end].join("\n");

    let db = pg();
    let dir = workdir();
    let temp = dir.path().join("runner-temp");
    let base = temp.join("base/migrations");
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(&base).unwrap();
    std::fs::create_dir_all(repo.join("migrations")).unwrap();
    let v1 = "CREATE TABLE tasks (id bigint PRIMARY KEY, title text);\n\
              CREATE INDEX tasks_title_idx ON tasks (title);\n\
              -- migrate:down\nDROP TABLE tasks;\n";
    std::fs::write(base.join("V1__tasks.sql"), v1).unwrap();
    std::fs::write(repo.join("migrations/V1__tasks.sql"), v1).unwrap();
    std::fs::write(
        repo.join("migrations/V2__drop_index.sql"),
        "DROP INDEX tasks_title_idx;\n-- migrate:down\nCREATE INDEX tasks_title_idx ON tasks (title);\n",
    )
    .unwrap();
    let binary = Path::new(env!("CARGO_BIN_EXE_migrate"));
    let path = format!(
        "{}:{}",
        binary.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let output = temp.join("github_output");
    let script = format!("set -e\n{apply}\n{lint}\n{check}\n");
    let result = run(std::process::Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(&repo)
        .env("PATH", path)
        .env("DATABASE_URL", &db.url)
        .env("RUNNER_TEMP", &temp)
        .env("GITHUB_OUTPUT", &output)
        .env("NO_COLOR", "1"));
    result.assert_ok();

    let sarif: Value =
        serde_json::from_str(&std::fs::read_to_string(repo.join("migrate.sarif")).unwrap())
            .unwrap();
    let results = sarif_results(&sarif);
    assert_eq!(results.len(), 1, "{results:?}");
    assert_eq!(results[0].0, "require-concurrent-index-deletion");
    assert!(
        results[0].1.ends_with("migrations/V2__drop_index.sql"),
        "{results:?}"
    );
    assert_eq!(std::fs::read_to_string(&output).unwrap().trim(), "status=2");
    let comment = std::fs::read_to_string(repo.join("migrate-check.md")).unwrap();
    assert!(
        comment.starts_with("### `migrate check` (exit 2)"),
        "{comment}"
    );
    assert!(
        comment.contains("require-concurrent-index-deletion"),
        "{comment}"
    );
}
