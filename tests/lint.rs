//! `migrate lint` through the binary: findings with file, line and fix, exit 2, the ignore
//! comment, and pending files only when a database is given.

use std::path::Path;

use crate::support::{PgDb, migrate_cmd, pg, run, workdir};
use serde_json::Value;

/// One file with several problems, each on a known line.
const RISKY: &str = "-- Adds due dates and cleans up.
ALTER TABLE tasks ADD COLUMN due date NOT NULL;

CREATE INDEX tasks_due_idx ON tasks (due);
ALTER TABLE tasks
    ALTER COLUMN priority TYPE bigint,
    ADD CONSTRAINT tasks_org_fk FOREIGN KEY (org_id) REFERENCES orgs (id);
ALTER TYPE task_status ADD VALUE 'blocked';
UPDATE tasks SET status = 'blocked' WHERE priority > 5;
ALTER TABLE orgs RENAME TO organizations;
CREATE TABLE notes (id int);
CREATE INDEX notes_id_idx ON notes (id);
-- migrate:down
DROP TABLE notes;
";

fn findings(result: &crate::support::Run) -> Vec<(String, u64)> {
    let report: Value = serde_json::from_str(&result.stdout)
        .unwrap_or_else(|err| panic!("not JSON ({err}):\n{}\n{}", result.stdout, result.stderr));
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_string(),
                f["line"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn lint_file(dir: &Path, file: &str, extra: &[&str]) -> crate::support::Run {
    run(migrate_cmd()
        .current_dir(dir)
        .args(extra)
        .args(["lint", file]))
}

#[test]
fn lint_reports_each_problem_with_its_line_and_exits_2() {
    let dir = workdir();
    std::fs::write(dir.path().join("V5__risky.sql"), RISKY).unwrap();
    let result = lint_file(dir.path(), "V5__risky.sql", &["--format", "json"]);
    result.assert_code(2);
    assert_eq!(
        findings(&result),
        vec![
            ("adding-not-null-column".to_string(), 2),
            ("create-index-non-concurrently".to_string(), 4),
            ("changing-column-type".to_string(), 6),
            ("adding-constraint-without-not-valid".to_string(), 7),
            ("enum-value-used-in-transaction".to_string(), 9),
            ("renaming-table".to_string(), 10),
        ]
    );
    let report: Value = serde_json::from_str(&result.stdout).unwrap();
    assert_eq!(report["format_version"], 1);
    assert_eq!(report["clean"], false);
    let first = &report["findings"][0];
    assert_eq!(first["file"], "V5__risky.sql");
    assert_eq!(
        first["code"],
        "ALTER TABLE tasks ADD COLUMN due date NOT NULL;"
    );
    assert!(first["fix"].as_str().unwrap().contains("DEFAULT"));

    // Human output: file:line: [rule] message, the code, the fix.
    let human = lint_file(dir.path(), "V5__risky.sql", &[]);
    human.assert_code(2);
    assert!(
        human
            .stdout
            .contains("V5__risky.sql:6: [changing-column-type]"),
        "{}",
        human.stdout
    );
    assert!(
        human
            .stdout
            .contains("      6 | ALTER COLUMN priority TYPE bigint,")
    );
    assert!(human.stdout.contains("  fix: "));
    assert!(human.stdout.contains("lint: 6 findings in 1 file"));
}

#[test]
fn ignore_comment_disables_the_named_rules_for_the_file() {
    let dir = workdir();
    let text = format!(
        "-- lint:ignore renaming-table, changing-column-type -- reviewed with the DBA\n{RISKY}"
    );
    std::fs::write(dir.path().join("V5__risky.sql"), text).unwrap();
    let result = lint_file(dir.path(), "V5__risky.sql", &["--format", "json"]);
    result.assert_code(2);
    let rules: Vec<String> = findings(&result)
        .into_iter()
        .map(|(rule, _)| rule)
        .collect();
    assert!(!rules.contains(&"renaming-table".to_string()), "{rules:?}");
    assert!(
        !rules.contains(&"changing-column-type".to_string()),
        "{rules:?}"
    );
    assert_eq!(rules.len(), 4);
    let report: Value = serde_json::from_str(&result.stdout).unwrap();
    assert_eq!(report["ignored"], 2);

    // A clean file exits 0; an unknown rule name in the comment is a warning.
    std::fs::write(
        dir.path().join("V6__ok.sql"),
        "-- lint:ignore no-such-rule\nCREATE TABLE t (id int);\nCREATE INDEX t_id ON t (id);\n",
    )
    .unwrap();
    let result = lint_file(dir.path(), "V6__ok.sql", &[]);
    result.assert_ok();
    assert!(result.stderr.contains("no-such-rule"), "{}", result.stderr);
}

fn migrate(db: &PgDb, dir: &Path, args: &[&str]) -> crate::support::Run {
    run(migrate_cmd()
        .current_dir(dir)
        .arg("--database-url")
        .arg(&db.url)
        .args(args))
}

#[test]
fn lints_only_pending_migrations_and_knows_their_tables() {
    let db = pg();
    let dir = workdir();
    let migrations = dir.path().join("migrations");
    std::fs::create_dir_all(&migrations).unwrap();
    std::fs::write(
        migrations.join("V1__tasks.sql"),
        "CREATE TABLE tasks (id int, title text);\nCREATE INDEX tasks_title ON tasks (title);\n",
    )
    .unwrap();
    migrate(&db, dir.path(), &["up"]).assert_ok();
    // V1 is applied: no longer linted. V2 and V3 are pending.
    std::fs::write(
        migrations.join("V2__projects.sql"),
        "CREATE TABLE projects (id int);\n",
    )
    .unwrap();
    std::fs::write(
        migrations.join("V3__indexes.sql"),
        "CREATE INDEX projects_id ON projects (id);\nCREATE INDEX tasks_id ON tasks (id);\n",
    )
    .unwrap();
    let result = migrate(&db, dir.path(), &["--format", "json", "lint"]);
    result.assert_code(2);
    assert_eq!(
        findings(&result),
        vec![("create-index-non-concurrently".to_string(), 2)]
    );
    let report: Value = serde_json::from_str(&result.stdout).unwrap();
    assert_eq!(report["files"].as_array().unwrap().len(), 2);

    std::fs::remove_file(migrations.join("V3__indexes.sql")).unwrap();
    migrate(&db, dir.path(), &["lint"]).assert_ok();
}

#[test]
fn missing_lock_timeout_depends_on_config_and_directive() {
    let db = pg();
    let dir = workdir();
    let migrations = dir.path().join("migrations");
    std::fs::create_dir_all(&migrations).unwrap();
    std::fs::write(migrations.join("V1__t.sql"), "CREATE TABLE t (id int);\n").unwrap();
    migrate(&db, dir.path(), &["up"]).assert_ok();
    std::fs::write(
        migrations.join("V2__comment.sql"),
        "ALTER TABLE t ADD COLUMN note text;\n",
    )
    .unwrap();
    // The default lock_timeout (10s) covers it.
    migrate(&db, dir.path(), &["lint"]).assert_ok();
    // With lock_timeout disabled in the config, it does not.
    std::fs::write(
        dir.path().join("migrate.toml"),
        "[postgres]\nlock_timeout = \"0\"\n",
    )
    .unwrap();
    let result = migrate(&db, dir.path(), &["--format", "json", "lint"]);
    result.assert_code(2);
    assert_eq!(
        findings(&result),
        vec![("missing-lock-timeout".to_string(), 1)]
    );
    // A directive in the file does.
    std::fs::write(
        migrations.join("V2__comment.sql"),
        "-- migrate:lock-timeout 3s\nALTER TABLE t ADD COLUMN note text;\n",
    )
    .unwrap();
    migrate(&db, dir.path(), &["lint"]).assert_ok();
}
