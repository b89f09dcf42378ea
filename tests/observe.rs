//! `migrate check` observing the new migrations on a shadow database filled with generated
//! rows: the locks each statement took, rewrites, whole-table scans under write-blocking locks,
//! durations, findings over the lock budget, lint guesses overruled, and which migrations are
//! new (`--since`, `--base`, the target's history). Every assertion reads the JSON report.

use std::path::Path;
use std::process::Command;

use crate::support::json;
use crate::support::{PgDb, Run, migrate_in, pg, workdir, write_migration};
use serde_json::Value;

/// The table every scenario starts from, created by an earlier (merged) migration.
const BIG: &str = "CREATE TABLE big (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    a int NOT NULL,
    b text,
    c varchar(50),
    created_at timestamptz NOT NULL DEFAULT now()
);
-- migrate:down
DROP TABLE big;
";

/// Rows generated per table: enough for a rewrite to take measurable time.
const ROWS: &str = "50000";

/// Writes V1 (the table) and V2 (`new`), runs `check --since 1 --with-data ROWS` with the
/// given budget and returns the report (after checking the exit code).
fn observe_v2(new: &str, budget: &str, code: i32) -> Value {
    let db = pg();
    let dir = workdir();
    write_migration(dir.path(), "V1__big.sql", BIG);
    write_migration(dir.path(), "V2__change.sql", new);
    let result = check(&db, dir.path(), &["--since", "1", "--lock-budget", budget]);
    result.assert_code(code);
    json(&result)
}

fn check(db: &PgDb, dir: &Path, extra: &[&str]) -> Run {
    check_with(db, dir, ROWS, extra)
}

/// `check --with-data ROWS` in JSON, with `extra` arguments.
fn check_with(db: &PgDb, dir: &Path, rows: &str, extra: &[&str]) -> Run {
    let mut args = vec!["--format", "json", "check", "--with-data", rows];
    args.extend_from_slice(extra);
    migrate_in(db, dir, &args)
}

/// The observed statements of migration `label`.
fn statements<'r>(report: &'r Value, label: &str) -> &'r Vec<Value> {
    let migrations = report["observation"]["migrations"].as_array().unwrap();
    let migration = migrations
        .iter()
        .find(|m| m["migration"] == label)
        .unwrap_or_else(|| panic!("{label} not observed: {report:#}"));
    migration["statements"].as_array().unwrap()
}

/// The locks of a statement as (mode, relation).
fn locks(statement: &Value) -> Vec<(String, String)> {
    statement["locks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|lock| {
            (
                lock["mode"].as_str().unwrap().to_string(),
                lock["relation"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn lock_on<'s>(statement: &'s Value, mode: &str, relation: &str) -> &'s Value {
    statement["locks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|lock| lock["mode"] == mode && lock["relation"] == relation)
        .unwrap_or_else(|| panic!("no {mode} lock on {relation}: {statement:#}"))
}

fn rules(report: &Value) -> Vec<String> {
    report["lint"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn alter_column_type_rewrites_the_table_and_is_reported_with_its_duration() {
    let report = observe_v2(
        "ALTER TABLE big ALTER COLUMN a TYPE bigint;\n-- migrate:down\nALTER TABLE big ALTER COLUMN a TYPE int;\n",
        "1ms",
        2,
    );
    let filled = &report["observation"]["with_data"]["tables"][0];
    assert_eq!(filled["table"], "public.big");
    assert_eq!(filled["rows"], 50000);
    let statement = &statements(&report, "V2 change")[0];
    let lock = lock_on(statement, "ACCESS EXCLUSIVE", "public.big");
    assert_eq!(lock["existed_before"], true);
    assert_eq!(lock["blocks_reads"], true);
    let rewrites: Vec<&str> = statement["rewrites"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert!(rewrites.contains(&"public.big"), "{statement:#}");
    let duration = statement["duration_ms"].as_u64().unwrap();
    assert!(
        duration > 0,
        "a rewrite of 50,000 rows takes time: {statement:#}"
    );
    assert!(lock["held_ms"].as_u64().unwrap() >= duration);
    // Over the 1 ms budget: a finding with the lint rule's fix as the hint.
    let findings = report["observation"]["findings"].as_array().unwrap();
    let finding = findings
        .iter()
        .find(|f| f["relation"] == "public.big" && f["mode"] == "ACCESS EXCLUSIVE")
        .unwrap_or_else(|| panic!("no finding: {report:#}"));
    assert_eq!(finding["rule"], "changing-column-type");
    assert_eq!(finding["line"], 1);
    assert!(
        finding["hint"]
            .as_str()
            .unwrap()
            .contains("add a new column, backfill it in batches")
    );
    assert_eq!(report["clean"], false);
}

#[test]
fn create_index_without_concurrently_blocks_writes_with_a_share_lock() {
    let report = observe_v2(
        "CREATE INDEX big_a ON big (a);\n-- migrate:down\nDROP INDEX big_a;\n",
        "1ms",
        2,
    );
    let statement = &statements(&report, "V2 change")[0];
    let lock = lock_on(statement, "SHARE", "public.big");
    assert_eq!(lock["blocks_writes"], true);
    assert_eq!(lock["blocks_reads"], false);
    assert_eq!(lock["existed_before"], true);
    // The index build reads the whole table while writes wait.
    let scan = &statement["scans"][0];
    assert_eq!(scan["relation"], "public.big");
    assert_eq!(scan["under_write_lock"], true);
    assert!(scan["rows"].as_u64().unwrap() > 0, "{scan:#}");
    assert_eq!(statement["rewrites"].as_array().unwrap().len(), 0);
    let finding = &report["observation"]["findings"][0];
    assert_eq!(finding["mode"], "SHARE");
    assert_eq!(finding["rule"], "create-index-non-concurrently");
}

#[test]
fn add_constraint_not_valid_then_validate_does_not_block_writes() {
    let db = pg();
    let dir = workdir();
    write_migration(dir.path(), "V1__big.sql", BIG);
    write_migration(
        dir.path(),
        "V2__positive.sql",
        "ALTER TABLE big ADD CONSTRAINT a_positive CHECK (a > 0) NOT VALID;\n-- migrate:down\nALTER TABLE big DROP CONSTRAINT a_positive;\n",
    );
    write_migration(
        dir.path(),
        "V3__validate.sql",
        "ALTER TABLE big VALIDATE CONSTRAINT a_positive;\n",
    );
    let result = check(&db, dir.path(), &["--since", "1", "--lock-budget", "5s"]);
    result.assert_ok();
    let report = json(&result);
    // Adding it NOT VALID takes ACCESS EXCLUSIVE briefly and reads nothing.
    let add = &statements(&report, "V2 positive")[0];
    lock_on(add, "ACCESS EXCLUSIVE", "public.big");
    assert_eq!(add["scans"].as_array().unwrap().len(), 0, "{add:#}");
    // VALIDATE reads the table under SHARE UPDATE EXCLUSIVE, which lets writes through.
    let validate = &statements(&report, "V3 validate")[0];
    assert_eq!(
        locks(validate),
        vec![(
            "SHARE UPDATE EXCLUSIVE".to_string(),
            "public.big".to_string()
        )]
    );
    assert_eq!(validate["locks"][0]["blocks_writes"], false);
    let scan = &validate["scans"][0];
    assert_eq!(scan["relation"], "public.big");
    assert_eq!(scan["rows"], 50000);
    assert_eq!(scan["under_write_lock"], false);
    // No finding on VALIDATE, even with a zero budget.
    let result = check(&db, dir.path(), &["--since", "1", "--lock-budget", "0"]);
    let report = json(&result);
    let findings = report["observation"]["findings"].as_array().unwrap();
    assert!(
        findings.iter().all(|f| f["migration"] != "V3 validate"),
        "{findings:#?}"
    );
}

#[test]
fn set_not_null_reads_the_whole_table_under_access_exclusive() {
    let report = observe_v2(
        "ALTER TABLE big ALTER COLUMN b SET NOT NULL;\n-- migrate:down\nALTER TABLE big ALTER COLUMN b DROP NOT NULL;\n",
        "1ms",
        2,
    );
    let statement = &statements(&report, "V2 change")[0];
    let lock = lock_on(statement, "ACCESS EXCLUSIVE", "public.big");
    assert_eq!(lock["blocks_writes"], true);
    let scan = &statement["scans"][0];
    assert_eq!(scan["relation"], "public.big");
    assert_eq!(scan["rows"], 50000);
    assert_eq!(scan["under_write_lock"], true);
    assert_eq!(statement["rewrites"].as_array().unwrap().len(), 0);
    assert!(rules(&report).contains(&"setting-not-null-without-check".to_string()));
    // The lint guess and the observation agree: nothing overruled.
    assert_eq!(
        report["observation"]["overruled"].as_array().unwrap().len(),
        0
    );
}

#[test]
fn add_column_with_default_now_does_not_rewrite() {
    let report = observe_v2(
        "ALTER TABLE big ADD COLUMN seen_at timestamptz DEFAULT now();\n-- migrate:down\nALTER TABLE big DROP COLUMN seen_at;\n",
        "5s",
        0,
    );
    let statement = &statements(&report, "V2 change")[0];
    lock_on(statement, "ACCESS EXCLUSIVE", "public.big");
    assert_eq!(
        statement["rewrites"].as_array().unwrap().len(),
        0,
        "PostgreSQL 11+ stores the default: {statement:#}"
    );
    assert_eq!(statement["scans"].as_array().unwrap().len(), 0);
    assert_eq!(report["clean"], true, "{report:#}");
}

#[test]
fn an_observation_that_contradicts_the_lint_overrules_it() {
    // A longer varchar: the lint guesses a rewrite, PostgreSQL only changes the catalog.
    let report = observe_v2(
        "ALTER TABLE big ALTER COLUMN c TYPE varchar(100);\n-- migrate:down\nALTER TABLE big ALTER COLUMN c TYPE varchar(50);\n",
        "5s",
        0,
    );
    let statement = &statements(&report, "V2 change")[0];
    assert_eq!(
        statement["rewrites"].as_array().unwrap().len(),
        0,
        "{statement:#}"
    );
    assert!(rules(&report).contains(&"changing-column-type".to_string()));
    let overruled = &report["observation"]["overruled"][0];
    assert_eq!(overruled["rule"], "changing-column-type");
    assert_eq!(overruled["line"], 1);
    assert_eq!(overruled["observed"], "no table or index was rewritten");
    // The observation wins: the run is clean.
    assert_eq!(report["clean"], true, "{report:#}");
}

/// The case of the issue: a pull request adds an index and a type change on a table created by
/// an earlier, merged migration; CI runs `check` against an empty database.
const PR: &str = "CREATE INDEX big_a ON big (a);
ALTER TABLE big ALTER COLUMN a TYPE bigint;
-- migrate:down
ALTER TABLE big ALTER COLUMN a TYPE int;
DROP INDEX big_a;
";

fn assert_reports_the_pr(report: &Value) {
    let rules = rules(report);
    assert!(
        rules.contains(&"create-index-non-concurrently".to_string()),
        "{rules:?}"
    );
    assert!(
        rules.contains(&"changing-column-type".to_string()),
        "{rules:?}"
    );
    let linted = report["lint"]["files"].as_array().unwrap();
    assert_eq!(linted.len(), 1, "only the new file is linted: {linted:?}");
    let observed = statements(report, "V2 pr");
    lock_on(&observed[0], "SHARE", "public.big");
    lock_on(&observed[1], "ACCESS EXCLUSIVE", "public.big");
    assert!(
        observed[1]["rewrites"]
            .as_array()
            .unwrap()
            .contains(&Value::from("public.big"))
    );
    let findings = report["observation"]["findings"].as_array().unwrap();
    let modes: Vec<&str> = findings
        .iter()
        .map(|f| f["mode"].as_str().unwrap())
        .collect();
    assert_eq!(modes, ["SHARE", "ACCESS EXCLUSIVE"], "{findings:#?}");
    assert_eq!(
        report["reversibility"]["migrations"][0]["status"],
        "reversible"
    );
}

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .current_dir(dir)
        .args(["-c", "user.email=ci@example.org", "-c", "user.name=ci"])
        .args(args)
        .status()
        .expect("git");
    assert!(status.success(), "git {args:?}");
}

#[test]
fn check_knows_which_migrations_are_new_against_an_empty_database() {
    let db = pg();
    let dir = workdir();
    write_migration(dir.path(), "V1__big.sql", BIG);
    git(dir.path(), &["init", "-q", "."]);
    git(dir.path(), &["add", "migrations/V1__big.sql"]);
    git(dir.path(), &["commit", "-q", "-m", "merged"]);
    write_migration(dir.path(), "V2__pr.sql", PR);

    // Without a base, every file is new: the table counts as created here, so nothing is found.
    let result = check(&db, dir.path(), &["--lock-budget", "1ms"]);
    result.assert_ok();
    let report = json(&result);
    assert_eq!(report["lint"]["clean"], true);
    assert_eq!(report["observation"]["scope"]["base"], "database");
    assert_eq!(
        report["observation"]["findings"].as_array().unwrap().len(),
        0
    );

    // --base: the files at the git ref are the base.
    let result = check(&db, dir.path(), &["--base", "HEAD", "--lock-budget", "1ms"]);
    result.assert_code(2);
    let report = json(&result);
    assert_eq!(report["observation"]["scope"]["base"], "git");
    assert_eq!(report["observation"]["scope"]["new"][0], "V2 pr");
    assert_eq!(report["observation"]["scope"]["applied_first"][0], "V1 big");
    assert_reports_the_pr(&report);

    // --since: the same.
    let result = check(&db, dir.path(), &["--since", "1", "--lock-budget", "1ms"]);
    result.assert_code(2);
    assert_reports_the_pr(&json(&result));

    // The default base is what the target database applied.
    migrate_in(&db, dir.path(), &["up", "--target", "1"]).assert_ok();
    let result = check(&db, dir.path(), &["--lock-budget", "1ms"]);
    result.assert_code(2);
    assert_reports_the_pr(&json(&result));

    // Human output: the table of statements and the findings.
    let human = migrate_in(
        &db,
        dir.path(),
        &["check", "--with-data", "1000", "--lock-budget", "0"],
    );
    human.assert_code(2);
    for expected in [
        "observation",
        "CREATE INDEX big_a ON big (a)",
        "SHARE public.big",
        "yes: public.big",
        "locks over the budget:",
    ] {
        assert!(
            human.stdout.contains(expected),
            "{expected}:\n{}",
            human.stdout
        );
    }
}

#[test]
fn a_bad_base_is_refused_and_changes_nothing() {
    let db = pg();
    let dir = workdir();
    write_migration(dir.path(), "V1__big.sql", BIG);
    // Not a git work tree.
    let result = check(&db, dir.path(), &["--base", "main"]);
    result.assert_code(1);
    assert!(result.stderr.contains("cannot list"), "{}", result.stderr);
    git(dir.path(), &["init", "-q", "."]);
    git(dir.path(), &["add", "."]);
    git(dir.path(), &["commit", "-q", "-m", "one"]);
    let result = check(&db, dir.path(), &["--base", "no-such-ref"]);
    result.assert_code(1);
    assert!(result.stderr.contains("no-such-ref"), "{}", result.stderr);
    let result = check(&db, dir.path(), &["--base", "--upload-pack=x"]);
    assert_ne!(result.code, 0);
    // --base and --since together, and --since 0, are usage errors.
    check(&db, dir.path(), &["--base", "HEAD", "--since", "1"]).assert_code(64);
    check(&db, dir.path(), &["--since", "0"]).assert_code(64);
    // Nothing was written: no history table.
    assert_eq!(
        db.scalar("SELECT count(*) FROM pg_class WHERE relname = 'migrate_history'")
            .as_deref(),
        Some("0")
    );
}

#[test]
fn a_bad_lock_budget_in_the_config_is_refused() {
    let db = pg();
    let dir = workdir();
    write_migration(dir.path(), "V1__big.sql", BIG);
    std::fs::write(
        dir.path().join("migrate.toml"),
        "[check]\nlock_budget = \"soon\"\n",
    )
    .unwrap();
    let result = migrate_in(&db, dir.path(), &["check"]);
    result.assert_code(1);
    assert!(
        result.stderr.contains("migrate.toml:2"),
        "{}",
        result.stderr
    );
    // A good one is used: `with_data` and `lock_budget` from the file.
    std::fs::write(
        dir.path().join("migrate.toml"),
        "[check]\nlock_budget = \"1ms\"\nwith_data = 2000\n",
    )
    .unwrap();
    write_migration(dir.path(), "V2__pr.sql", PR);
    let result = migrate_in(
        &db,
        dir.path(),
        &["--format", "json", "check", "--since", "1"],
    );
    result.assert_code(2);
    let report = json(&result);
    assert_eq!(report["observation"]["lock_budget_ms"], 1);
    assert_eq!(report["observation"]["with_data"]["rows_per_table"], 2000);
}

#[test]
fn generated_data_follows_types_defaults_and_foreign_keys() {
    let db = pg();
    let dir = workdir();
    write_migration(
        dir.path(),
        "V1__schema.sql",
        "CREATE TYPE mood AS ENUM ('ok', 'meh');
CREATE TABLE orgs (id uuid PRIMARY KEY, name text NOT NULL UNIQUE, created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE people (
    id bigserial PRIMARY KEY,
    org_id uuid NOT NULL REFERENCES orgs (id),
    email varchar(200) NOT NULL UNIQUE,
    mood mood NOT NULL,
    score numeric(6, 2),
    active boolean NOT NULL,
    born date,
    profile jsonb NOT NULL,
    tags text[] NOT NULL,
    manager_id bigint REFERENCES people (id)
);
CREATE TABLE places (id int PRIMARY KEY, spot point NOT NULL);
",
    );
    write_migration(
        dir.path(),
        "V2__touch.sql",
        "CREATE INDEX people_org ON people (org_id);\nALTER TABLE places ADD COLUMN note text;\n",
    );
    let result = check_with(&db, dir.path(), "300", &["--since", "1"]);
    // The index on an existing table is a lint finding.
    result.assert_code(2);
    let report = json(&result);
    let fill = &report["observation"]["with_data"];
    let tables: Vec<(&str, u64)> = fill["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["table"].as_str().unwrap(), t["rows"].as_u64().unwrap()))
        .collect();
    // The parent first, then the table that references it.
    assert_eq!(tables, [("public.orgs", 300), ("public.people", 300)]);
    let skipped = &fill["skipped"][0];
    assert_eq!(skipped["table"], "public.places");
    assert!(
        skipped["reason"].as_str().unwrap().contains("spot"),
        "{skipped:#}"
    );
    // The index build read the generated rows.
    let statement = &statements(&report, "V2 touch")[0];
    assert_eq!(statement["scans"][0]["rows"], 300);
}

/// CHECK constraints that the first generated values break (an enum tied to a nullable
/// time, a hex digest, an ordering of two times, a positive amount) are satisfied by other
/// values of their columns, and the report names them; a constraint no value of the tried
/// shapes can meet leaves its table skipped with the server's reason.
#[test]
fn generated_data_is_adjusted_to_pass_check_constraints() {
    let db = pg();
    let dir = workdir();
    write_migration(
        dir.path(),
        "V1__schema.sql",
        "CREATE TYPE decision AS ENUM ('pending', 'approved', 'rejected');
CREATE TABLE approvals (
    id bigserial PRIMARY KEY,
    decision decision NOT NULL DEFAULT 'pending',
    decided_at timestamptz,
    CONSTRAINT decided_when_decided CHECK ((decision = 'pending') = (decided_at IS NULL))
);
CREATE TABLE files (
    id bigserial PRIMARY KEY,
    sha256 text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    size bigint NOT NULL CHECK (size > 0),
    started_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    CONSTRAINT finished_after_start CHECK (finished_at IS NULL OR finished_at >= started_at)
);
CREATE TABLE odd (id int PRIMARY KEY, code text NOT NULL CHECK (code = 'exactly-this-and-nothing-else'));
",
    );
    write_migration(
        dir.path(),
        "V2__touch.sql",
        "CREATE INDEX approvals_decided ON approvals (decided_at);\nCREATE INDEX files_size ON files (size);\nCREATE INDEX odd_code ON odd (code);\n",
    );
    let result = check_with(&db, dir.path(), "500", &["--since", "1"]);
    result.assert_code(2);
    let report = json(&result);
    let fill = &report["observation"]["with_data"];
    let filled = |name: &str| {
        fill["tables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["table"] == name)
            .unwrap_or_else(|| panic!("{name} not filled: {fill:#}"))
            .clone()
    };
    let approvals = filled("public.approvals");
    assert_eq!(approvals["rows"], 500);
    assert_eq!(
        approvals["adjusted_for"][0], "decided_when_decided",
        "{approvals:#}"
    );
    let files = filled("public.files");
    assert_eq!(files["rows"], 500);
    let adjusted: Vec<&str> = files["adjusted_for"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert!(adjusted.contains(&"files_sha256_check"), "{files:#}");
    let skipped: Vec<&Value> = fill["skipped"].as_array().unwrap().iter().collect();
    assert_eq!(skipped.len(), 1, "{fill:#}");
    assert_eq!(skipped[0]["table"], "public.odd");
    assert!(
        skipped[0]["reason"]
            .as_str()
            .unwrap()
            .contains("odd_code_check"),
        "{fill:#}"
    );
    // The index builds read the generated rows.
    let scanned: Vec<u64> = statements(&report, "V2 touch")
        .iter()
        .take(2)
        .map(|s| s["scans"][0]["rows"].as_u64().unwrap())
        .collect();
    assert_eq!(scanned, [500, 500]);
}

#[test]
fn create_index_concurrently_is_sampled_and_lets_writes_through() {
    let report = observe_v2(
        "-- migrate:no-transaction\nCREATE INDEX CONCURRENTLY big_a ON big (a);\n-- migrate:down\nDROP INDEX CONCURRENTLY big_a;\n",
        "0",
        0,
    );
    let migration = &report["observation"]["migrations"][0];
    assert_eq!(migration["transactional"], false);
    let statement = &statements(&report, "V2 change")[0];
    // It cannot run in a transaction block: another session sampled its locks.
    assert_eq!(statement["observed_by"], "sampled");
    assert_eq!(statement["line"], 2);
    let lock = lock_on(statement, "SHARE UPDATE EXCLUSIVE", "public.big");
    assert_eq!(lock["blocks_writes"], false);
    assert!(
        statement["locks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|lock| lock["blocks_writes"] == false),
        "{statement:#}"
    );
    assert_eq!(
        report["observation"]["findings"].as_array().unwrap().len(),
        0
    );
}
