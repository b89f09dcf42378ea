//! Commands and bad input through the binary, against a real PostgreSQL: every bad input is one
//! clear line, exit 1, and nothing written.

use std::path::Path;

use crate::support::{PgDb, migrate_cmd, pg, run, workdir};

use crate::support::{migrate_in as migrate, write_migration as write};

fn history_exists(db: &PgDb) -> bool {
    db.scalar("SELECT to_regclass('migrate_history') IS NOT NULL")
        .as_deref()
        == Some("t")
}

fn one_good_migration(dir: &Path) {
    write(
        dir,
        "V1__a.sql",
        "CREATE TABLE a (id int);\n-- migrate:down\nDROP TABLE a;\n",
    );
}

/// The first stderr line is the error; it starts with `error:`.
fn first_line(stderr: &str) -> &str {
    stderr.lines().next().unwrap_or("")
}

#[test]
fn unreachable_host_is_one_line_and_exit_1() {
    let dir = workdir();
    one_good_migration(dir.path());
    // Port 1 on loopback: nothing listens there.
    let result = run(migrate_cmd().current_dir(dir.path()).args([
        "--database-url",
        "postgres://app:s3cret@127.0.0.1:1/db",
        "up",
    ]));
    result.assert_code(1);
    let line = first_line(&result.stderr);
    assert!(
        line.starts_with("error: could not connect to PostgreSQL at app@127.0.0.1:1/db"),
        "{}",
        result.stderr
    );
    assert!(!result.stderr.contains("s3cret") && !result.stdout.contains("s3cret"));
}

#[test]
fn wrong_password_is_reported_without_the_password() {
    let db = pg();
    let dir = workdir();
    one_good_migration(dir.path());
    let url = db.url_with_password("definitely-wrong-pw");
    for format in ["human", "json"] {
        let result = run(migrate_cmd().current_dir(dir.path()).args([
            "--database-url",
            &url,
            "--format",
            format,
            "up",
        ]));
        result.assert_code(1);
        assert!(
            result.stderr.contains("password authentication failed"),
            "{}",
            result.stderr
        );
        assert!(
            !result.stderr.contains("definitely-wrong-pw"),
            "{}",
            result.stderr
        );
        assert!(
            !result.stdout.contains("definitely-wrong-pw"),
            "{}",
            result.stdout
        );
        if format == "json" {
            let value: serde_json::Value = serde_json::from_str(&result.stdout).unwrap();
            assert_eq!(value["error"]["exit_code"], 1);
        }
    }
    assert!(!history_exists(&db));
}

#[test]
fn unknown_config_key_names_file_line_and_key() {
    let db = pg();
    let dir = workdir();
    one_good_migration(dir.path());
    std::fs::write(
        dir.path().join("migrate.toml"),
        format!("[postgres]\nurl = \"{}\"\nlock_timout = \"5s\"\n", db.url),
    )
    .unwrap();
    let result = run(migrate_cmd().current_dir(dir.path()).arg("up"));
    result.assert_code(1);
    let line = first_line(&result.stderr);
    assert!(line.contains("migrate.toml:3:1"), "{line}");
    assert!(line.contains("lock_timout"), "{line}");
    assert!(!history_exists(&db));
}

#[test]
fn malformed_file_name_is_refused_before_connecting() {
    let db = pg();
    let dir = workdir();
    one_good_migration(dir.path());
    write(dir.path(), "V2-add-users.sql", "CREATE TABLE u (id int);");
    let result = migrate(&db, dir.path(), &["up"]);
    result.assert_code(1);
    assert!(
        result.stderr.contains("V2-add-users.sql"),
        "{}",
        result.stderr
    );
    assert!(
        result.stderr.contains("invalid migration file name"),
        "{}",
        result.stderr
    );
    assert!(!history_exists(&db));
    // validate lists it as a problem with exit 2.
    let validate = migrate(&db, dir.path(), &["validate"]);
    validate.assert_code(2);
    assert!(
        validate.stdout.contains("V2-add-users.sql"),
        "{}",
        validate.stdout
    );
}

#[test]
fn bad_file_is_reported_without_waiting_for_a_silent_server() {
    // Files are read while the connection is being opened; a server that accepts and never
    // answers would hold a connect for the whole connect_timeout (120 s here).
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut silent = Vec::new();
        for stream in listener.incoming() {
            silent.push(stream);
        }
    });
    let dir = workdir();
    one_good_migration(dir.path());
    write(dir.path(), "V2-add-users.sql", "CREATE TABLE u (id int);");
    let mut child = migrate_cmd()
        .current_dir(dir.path())
        .args([
            "--database-url",
            &format!("postgres://app:pw@127.0.0.1:{port}/db?connect_timeout=120"),
            "up",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("migrate waited for the silent server instead of reporting the bad file");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        first_line(&stderr).starts_with("error: 1 invalid migration file"),
        "{stderr}"
    );
    assert!(stderr.contains("V2-add-users.sql"), "{stderr}");
}

#[test]
fn duplicate_version_is_refused() {
    let db = pg();
    let dir = workdir();
    one_good_migration(dir.path());
    write(dir.path(), "V01__b.sql", "CREATE TABLE b (id int);");
    let result = migrate(&db, dir.path(), &["up"]);
    result.assert_code(1);
    assert!(
        result.stderr.contains("duplicate version 1"),
        "{}",
        result.stderr
    );
    assert!(!history_exists(&db));
}

#[test]
fn missing_down_part_is_refused_and_nothing_reverted() {
    let db = pg();
    let dir = workdir();
    one_good_migration(dir.path());
    write(dir.path(), "V2__b.sql", "CREATE TABLE b (id int);\n");
    migrate(&db, dir.path(), &["up"]).assert_ok();
    let result = migrate(&db, dir.path(), &["down", "--to", "0", "--yes"]);
    result.assert_code(1);
    assert!(
        result.stderr.contains("cannot be reverted: no down part"),
        "{}",
        result.stderr
    );
    assert!(result.stderr.contains("V2 b"), "{}", result.stderr);
    assert_eq!(
        db.scalar("SELECT count(*) FROM migrate_history").as_deref(),
        Some("2")
    );
    assert_eq!(
        db.scalar("SELECT to_regclass('a') IS NOT NULL").as_deref(),
        Some("t")
    );
}

#[test]
fn psql_meta_command_is_refused_with_its_line() {
    let db = pg();
    let dir = workdir();
    write(
        dir.path(),
        "V1__copy.sql",
        "CREATE TABLE a (id int);\n\\copy a FROM 'a.csv'\n",
    );
    let result = migrate(&db, dir.path(), &["up"]);
    result.assert_code(1);
    assert!(
        result.stderr.contains("V1__copy.sql:2"),
        "{}",
        result.stderr
    );
    assert!(result.stderr.contains("\\copy"), "{}", result.stderr);
    assert!(!history_exists(&db));
}

#[test]
fn no_database_url_says_how_to_give_one() {
    let dir = workdir();
    one_good_migration(dir.path());
    let result = run(migrate_cmd().current_dir(dir.path()).arg("status"));
    result.assert_code(1);
    assert!(
        result.stderr.contains("no PostgreSQL URL"),
        "{}",
        result.stderr
    );
    assert!(result.stderr.contains("DATABASE_URL"), "{}", result.stderr);
}

#[test]
fn dry_run_prints_the_plan_and_writes_nothing() {
    let db = pg();
    let dir = workdir();
    one_good_migration(dir.path());
    write(
        dir.path(),
        "V2__b.sql",
        "-- migrate:no-transaction\nCREATE TABLE b (id int);\n-- migrate:down\nDROP TABLE b;\n",
    );
    let result = migrate(&db, dir.path(), &["--format", "json", "up", "--dry-run"]);
    result.assert_ok();
    let plan: serde_json::Value = serde_json::from_str(&result.stdout).unwrap();
    let steps = plan["stores"][0]["plan"].as_array().unwrap();
    assert_eq!(steps.len(), 2);
    assert_eq!(steps[0]["action"], "apply");
    assert_eq!(steps[1]["transactional"], false);
    let human = migrate(&db, dir.path(), &["up", "--dry-run"]);
    human.assert_ok();
    assert!(
        human.stdout.contains("postgres: plan for ")
            && human.stdout.contains("(dry run, nothing changed)"),
        "{}",
        human.stdout
    );
    let rows: Vec<Vec<&str>> = human
        .stdout
        .lines()
        .map(|line| {
            line.split(['│', '┆'])
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .collect()
        })
        .filter(|cells: &Vec<&str>| cells.first().is_some_and(|c| c.parse::<u32>().is_ok()))
        .collect();
    assert_eq!(rows.len(), 2, "{}", human.stdout);
    assert_eq!(
        rows[0][..4],
        ["1", "apply", "V1 a", "yes"],
        "{}",
        human.stdout
    );
    assert_eq!(
        rows[1][..4],
        ["2", "apply", "V2 b", "no (statement by statement)"],
        "{}",
        human.stdout
    );
    assert!(!history_exists(&db));
}

#[test]
fn target_out_of_order_and_json_status() {
    let db = pg();
    let dir = workdir();
    one_good_migration(dir.path());
    write(
        dir.path(),
        "V3__c.sql",
        "CREATE TABLE c (id int);\n-- migrate:down\nDROP TABLE c;\n",
    );
    migrate(&db, dir.path(), &["up", "--target", "1"]).assert_ok();
    assert_eq!(
        db.scalar("SELECT max(version) FROM migrate_history")
            .as_deref(),
        Some("1")
    );
    migrate(&db, dir.path(), &["up"]).assert_ok();
    // A file older than the newest applied one appears later (a merged branch).
    write(
        dir.path(),
        "V2__b.sql",
        "CREATE TABLE b (id int);\n-- migrate:down\nDROP TABLE b;\n",
    );
    let refused = migrate(&db, dir.path(), &["up"]);
    refused.assert_code(1);
    assert!(
        refused.stderr.contains("--allow-out-of-order"),
        "{}",
        refused.stderr
    );
    let status = migrate(&db, dir.path(), &["--format", "json", "status"]);
    let value: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    let states: Vec<&str> = value["stores"][0]["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, vec!["applied", "out-of-order", "applied"]);
    migrate(&db, dir.path(), &["up", "--allow-out-of-order"]).assert_ok();
    assert_eq!(
        db.scalar("SELECT count(*) FROM migrate_history").as_deref(),
        Some("3")
    );
}

#[test]
fn protected_environment_refuses_down() {
    let db = pg();
    let dir = workdir();
    one_good_migration(dir.path());
    std::fs::write(
        dir.path().join("migrate.toml"),
        format!(
            "[env.prod]\nprotected = true\n[env.prod.postgres]\nurl = \"{}\"\n",
            db.url
        ),
    )
    .unwrap();
    run(migrate_cmd()
        .current_dir(dir.path())
        .args(["-e", "prod", "up"]))
    .assert_ok();
    let refused = run(migrate_cmd()
        .current_dir(dir.path())
        .args(["-e", "prod", "down", "--yes"]));
    refused.assert_code(1);
    assert!(refused.stderr.contains("protected"), "{}", refused.stderr);
    // Without a terminal and without --yes, down refuses too.
    let unconfirmed = run(migrate_cmd().current_dir(dir.path()).args([
        "-e",
        "prod",
        "down",
        "--allow-protected",
    ]));
    unconfirmed.assert_code(1);
    assert!(
        unconfirmed.stderr.contains("--yes"),
        "{}",
        unconfirmed.stderr
    );
    assert_eq!(
        db.scalar("SELECT count(*) FROM migrate_history").as_deref(),
        Some("1")
    );
    run(migrate_cmd().current_dir(dir.path()).args([
        "-e",
        "prod",
        "down",
        "--allow-protected",
        "--yes",
    ]))
    .assert_ok();
    assert_eq!(
        db.scalar("SELECT count(*) FROM migrate_history").as_deref(),
        Some("0")
    );
}

#[test]
fn config_interpolation_and_env_var_precedence() {
    let db = pg();
    let dir = workdir();
    one_good_migration(dir.path());
    std::fs::write(
        dir.path().join("migrate.toml"),
        "[postgres]\nurl = \"${MIGRATE_TEST_URL_FOR_CONFIG}\"\n[migrations]\ndir = \"${MIGRATIONS_DIR:-migrations}\"\n",
    )
    .unwrap();
    let missing = run(migrate_cmd().current_dir(dir.path()).arg("status"));
    missing.assert_code(1);
    assert!(
        missing.stderr.contains("MIGRATE_TEST_URL_FOR_CONFIG"),
        "{}",
        missing.stderr
    );
    assert!(
        missing.stderr.contains("migrate.toml:2:"),
        "{}",
        missing.stderr
    );
    run(migrate_cmd()
        .current_dir(dir.path())
        .env("MIGRATE_TEST_URL_FOR_CONFIG", &db.url)
        .arg("up"))
    .assert_ok();
    // DATABASE_URL beats the file: pointing it at a dead port makes the same command fail.
    let env_wins = run(migrate_cmd()
        .current_dir(dir.path())
        .env("MIGRATE_TEST_URL_FOR_CONFIG", &db.url)
        .env("DATABASE_URL", "postgres://x@127.0.0.1:1/none")
        .arg("status"));
    env_wins.assert_code(1);
    assert!(
        env_wins.stderr.contains("127.0.0.1:1/none"),
        "{}",
        env_wins.stderr
    );
}

#[test]
fn new_scaffolds_sequential_and_timestamp_versions() {
    let dir = workdir();
    one_good_migration(dir.path());
    let created =
        run(migrate_cmd()
            .current_dir(dir.path())
            .args(["new", "add_index", "--no-transaction"]));
    created.assert_ok();
    assert_eq!(created.stdout.trim(), "migrations/V2__add_index.sql");
    let text = std::fs::read_to_string(dir.path().join("migrations/V2__add_index.sql")).unwrap();
    assert!(text.starts_with("-- migrate:no-transaction"));
    std::fs::write(
        dir.path().join("migrate.toml"),
        "[migrations]\nversioning = \"timestamp\"\n",
    )
    .unwrap();
    let stamped = run(migrate_cmd().current_dir(dir.path()).args(["new", "later"]));
    stamped.assert_ok();
    let name = stamped.stdout.trim().to_string();
    assert!(
        name.starts_with("migrations/V20") && name.ends_with("__later.sql"),
        "{name}"
    );
    let bad = run(migrate_cmd()
        .current_dir(dir.path())
        .args(["new", "Bad-Name"]));
    bad.assert_code(1);
    assert!(
        bad.stderr.contains("invalid migration name"),
        "{}",
        bad.stderr
    );
}

#[test]
fn baseline_adopts_an_existing_database() {
    let db = pg();
    let dir = workdir();
    one_good_migration(dir.path());
    write(
        dir.path(),
        "V2__b.sql",
        "CREATE TABLE b (id int);\n-- migrate:down\nDROP TABLE b;\n",
    );
    write(
        dir.path(),
        "V3__c.sql",
        "CREATE TABLE c (id int);\n-- migrate:down\nDROP TABLE c;\n",
    );
    db.execute("CREATE TABLE a (id int); CREATE TABLE b (id int);");
    migrate(&db, dir.path(), &["baseline", "2"]).assert_ok();
    let up = migrate(&db, dir.path(), &["up"]);
    up.assert_ok();
    assert!(up.stderr.contains("applied V3 c"), "{}", up.stderr);
    let again = migrate(&db, dir.path(), &["baseline", "2"]);
    again.assert_code(1);
    assert!(again.stderr.contains("already has"), "{}", again.stderr);
    let below = migrate(&db, dir.path(), &["down", "--to", "1", "--yes"]);
    below.assert_code(1);
    assert!(below.stderr.contains("baseline"), "{}", below.stderr);
}

#[test]
fn baseline_imports_refinery_history() {
    let db = pg();
    let dir = workdir();
    one_good_migration(dir.path());
    write(
        dir.path(),
        "V2__b.sql",
        "CREATE TABLE b (id int);\n-- migrate:down\nDROP TABLE b;\n",
    );
    write(
        dir.path(),
        "V3__c.sql",
        "CREATE TABLE c (id int);\n-- migrate:down\nDROP TABLE c;\n",
    );
    db.execute(
        "CREATE TABLE a (id int); CREATE TABLE b (id int);
         CREATE TABLE refinery_schema_history (version int4 PRIMARY KEY, name varchar(255), applied_on varchar(255), checksum varchar(255));
         INSERT INTO refinery_schema_history VALUES (1, 'a', '2024-01-02T03:04:05.000000000+00:00', '123'), (2, 'b', '2024-01-03T03:04:05.000000000+00:00', '456');",
    );
    let imported = migrate(&db, dir.path(), &["baseline", "--from-refinery"]);
    imported.assert_ok();
    assert!(
        imported.stdout.contains("imported 2 migrations"),
        "{}",
        imported.stdout
    );
    assert_eq!(
        db.scalar("SELECT applied_at::date::text FROM migrate_history WHERE version = 1")
            .as_deref(),
        Some("2024-01-02")
    );
    migrate(&db, dir.path(), &["validate"]).assert_ok();
    migrate(&db, dir.path(), &["up"]).assert_ok();
    assert_eq!(
        db.scalar("SELECT count(*) FROM migrate_history").as_deref(),
        Some("3")
    );
}

#[test]
fn failing_transactional_statement_shows_file_line_and_hint() {
    let db = pg();
    let dir = workdir();
    write(
        dir.path(),
        "V1__idx.sql",
        "CREATE TABLE t (id int);\n\nCREATE INDEX CONCURRENTLY t_id ON t (id);\n-- migrate:down\nDROP TABLE t;\n",
    );
    let result = migrate(&db, dir.path(), &["up"]);
    result.assert_code(1);
    assert!(result.stderr.contains("V1__idx.sql:3"), "{}", result.stderr);
    assert!(
        result
            .stderr
            .contains("cannot run inside a transaction block"),
        "{}",
        result.stderr
    );
    assert!(
        result.stderr.contains("-- migrate:no-transaction"),
        "{}",
        result.stderr
    );
    assert!(result.stderr.contains("rolled back"), "{}", result.stderr);
    assert_eq!(
        db.scalar("SELECT to_regclass('t') IS NULL").as_deref(),
        Some("t")
    );
    assert_eq!(
        db.scalar("SELECT count(*) FROM migrate_history").as_deref(),
        Some("0")
    );
}
