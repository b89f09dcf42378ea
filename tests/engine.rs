//! The PostgreSQL engine through the binary, against a real server: concurrency, crashes,
//! dirty state, checksums and reversibility.

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::{PgDb, migrate_cmd, pg, workdir};

use crate::support::{migrate_in as migrate, write_migration as write};

fn history_count(db: &PgDb) -> i64 {
    db.scalar("SELECT count(*) FROM migrate_history")
        .unwrap()
        .parse()
        .unwrap()
}

fn table_exists(db: &PgDb, name: &str) -> bool {
    db.scalar(&format!("SELECT to_regclass('{name}') IS NOT NULL"))
        .as_deref()
        == Some("t")
}

#[test]
fn eight_concurrent_runners_apply_each_migration_once() {
    let db = pg();
    let dir = workdir();
    write(
        dir.path(),
        "V1__log.sql",
        "CREATE TABLE applied_log (version int NOT NULL);\nINSERT INTO applied_log VALUES (1);\n-- migrate:down\nDROP TABLE applied_log;\n",
    );
    for version in 2..=40 {
        let text = if version == 20 {
            "-- migrate:no-transaction\nCREATE INDEX CONCURRENTLY t10_name_idx ON t10 (name);\nINSERT INTO applied_log VALUES (20);\n-- migrate:down\nDROP INDEX CONCURRENTLY t10_name_idx;\nDELETE FROM applied_log WHERE version = 20;\n".to_string()
        } else {
            format!(
                "CREATE TABLE t{version} (id bigint PRIMARY KEY, name text);\nINSERT INTO t{version} SELECT g, 'n' || g FROM generate_series(1, 200) g;\nINSERT INTO applied_log VALUES ({version});\n-- migrate:down\nDROP TABLE t{version};\nDELETE FROM applied_log WHERE version = {version};\n"
            )
        };
        write(
            dir.path(),
            &format!("V{version}__step_{version}.sql"),
            &text,
        );
    }
    let children: Vec<_> = (0..8)
        .map(|_| {
            migrate_cmd()
                .current_dir(dir.path())
                .args(["--database-url", &db.url, "up"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let started = Instant::now();
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "a runner failed: {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(120),
        "runners took too long: deadlock?"
    );
    assert_eq!(history_count(&db), 40);
    let rows =
        db.query("SELECT version, count(*) FROM applied_log GROUP BY version HAVING count(*) <> 1");
    assert!(
        rows.is_empty(),
        "migrations applied more than once: {rows:?}"
    );
    assert_eq!(
        db.scalar("SELECT count(DISTINCT version) FROM applied_log")
            .as_deref(),
        Some("40")
    );
    assert_eq!(
        db.scalar("SELECT indisvalid FROM pg_index WHERE indexrelid = 't10_name_idx'::regclass")
            .as_deref(),
        Some("t")
    );
}

#[test]
fn killed_runner_leaves_nothing_and_next_up_applies_cleanly() {
    let db = pg();
    let dir = workdir();
    write(
        dir.path(),
        "V1__base.sql",
        "CREATE TABLE base (id int);\n-- migrate:down\nDROP TABLE base;\n",
    );
    write(
        dir.path(),
        "V2__slow.sql",
        "CREATE TABLE slow_a (id int);\nSELECT pg_sleep(30);\nCREATE TABLE slow_b (id int);\n-- migrate:down\nDROP TABLE slow_b;\nDROP TABLE slow_a;\n",
    );
    let mut child = migrate_cmd()
        .current_dir(dir.path())
        .args(["--database-url", &db.url, "up"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let sleeping = db.scalar(&format!(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = '{}' AND query LIKE '%pg_sleep(30)%' AND pid <> pg_backend_pid()",
            db.name
        ));
        if sleeping.as_deref() == Some("1") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the slow migration never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // SIGKILL: no chance to clean up.
    unsafe { libc_kill(child.id() as i32, 9) };
    child.wait().unwrap();

    // The server notices the dead client and rolls back (client_connection_check_interval).
    let deadline = Instant::now() + Duration::from_secs(20);
    while db
        .scalar(&format!(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = '{}' AND application_name LIKE 'migrate %'",
            db.name
        ))
        .as_deref()
        != Some("0")
    {
        assert!(Instant::now() < deadline, "the killed runner's session did not end");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(table_exists(&db, "base"), "V1 committed before the kill");
    assert!(
        !table_exists(&db, "slow_a"),
        "partial schema of V2 left behind"
    );
    assert_eq!(
        db.scalar("SELECT count(*) FROM migrate_history WHERE version = 2")
            .as_deref(),
        Some("0")
    );

    // V2 was never applied, so its file may change: make the sleep short this time.
    write(
        dir.path(),
        "V2__slow.sql",
        "CREATE TABLE slow_a (id int);\nSELECT pg_sleep(0.1);\nCREATE TABLE slow_b (id int);\n-- migrate:down\nDROP TABLE slow_b;\nDROP TABLE slow_a;\n",
    );
    migrate(&db, dir.path(), &["up"]).assert_ok();
    assert!(table_exists(&db, "slow_a") && table_exists(&db, "slow_b"));
    assert_eq!(history_count(&db), 2);
}

unsafe fn libc_kill(pid: i32, signal: i32) {
    unsafe extern "C" {
        fn kill(pid: i32, sig: i32) -> i32;
    }
    unsafe {
        kill(pid, signal);
    }
}

#[test]
fn failing_no_transaction_statement_leaves_dirty_until_repair() {
    let db = pg();
    let dir = workdir();
    write(
        dir.path(),
        "V1__t.sql",
        "CREATE TABLE t (id int, name text);\n-- migrate:down\nDROP TABLE t;\n",
    );
    write(
        dir.path(),
        "V2__idx.sql",
        "-- migrate:no-transaction\nCREATE INDEX CONCURRENTLY IF NOT EXISTS t_id_idx ON t (id);\nCREATE INDEX CONCURRENTLY IF NOT EXISTS t_name_idx ON t (nme);\n-- migrate:down\nDROP INDEX CONCURRENTLY IF EXISTS t_name_idx;\nDROP INDEX CONCURRENTLY IF EXISTS t_id_idx;\n",
    );
    let failed = migrate(&db, dir.path(), &["up"]);
    failed.assert_code(1);
    assert!(failed.stderr.contains("V2 idx failed"), "{}", failed.stderr);
    assert!(
        failed.stderr.contains("V2__idx.sql:3 (statement 2 of 2)"),
        "{}",
        failed.stderr
    );
    assert!(
        failed.stderr.contains("column \"nme\" does not exist"),
        "{}",
        failed.stderr
    );

    let status = migrate(&db, dir.path(), &["status"]);
    status.assert_ok();
    assert!(status.stdout.contains("dirty"), "{}", status.stdout);
    assert!(
        status.stdout.contains("statement 2 of 2"),
        "{}",
        status.stdout
    );
    let json = migrate(&db, dir.path(), &["--format", "json", "status"]);
    let value: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(value["stores"][0]["migrations"][1]["state"], "dirty");

    let refused = migrate(&db, dir.path(), &["up"]);
    refused.assert_code(1);
    assert!(refused.stderr.contains("dirty"), "{}", refused.stderr);
    assert!(
        refused.stderr.contains("migrate repair"),
        "{}",
        refused.stderr
    );
    migrate(&db, dir.path(), &["validate"]).assert_code(2);

    // The human fixes the file; repair forgets the dirty record; up runs it again.
    write(
        dir.path(),
        "V2__idx.sql",
        "-- migrate:no-transaction\nCREATE INDEX CONCURRENTLY IF NOT EXISTS t_id_idx ON t (id);\nCREATE INDEX CONCURRENTLY IF NOT EXISTS t_name_idx ON t (name);\n-- migrate:down\nDROP INDEX CONCURRENTLY IF EXISTS t_name_idx;\nDROP INDEX CONCURRENTLY IF EXISTS t_id_idx;\n",
    );
    let repaired = migrate(&db, dir.path(), &["repair"]);
    repaired.assert_ok();
    assert!(
        repaired.stdout.contains("removed-dirty"),
        "{}",
        repaired.stdout
    );
    migrate(&db, dir.path(), &["up"]).assert_ok();
    assert_eq!(
        db.scalar("SELECT count(*) FROM migrate_history WHERE state = 'applied'")
            .as_deref(),
        Some("2")
    );
    assert!(table_exists(&db, "t_name_idx"));
    migrate(&db, dir.path(), &["validate"]).assert_ok();
}

#[test]
fn invalid_index_from_failed_concurrent_build_is_rebuilt() {
    let db = pg();
    let dir = workdir();
    write(
        dir.path(),
        "V1__t.sql",
        "CREATE TABLE t (id int);\nINSERT INTO t VALUES (1), (1);\n-- migrate:down\nDROP TABLE t;\n",
    );
    write(
        dir.path(),
        "V2__uniq.sql",
        "-- migrate:no-transaction\nCREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS t_id_key ON t (id);\n-- migrate:down\nDROP INDEX CONCURRENTLY IF EXISTS t_id_key;\n",
    );
    migrate(&db, dir.path(), &["up"]).assert_code(1);
    assert_eq!(
        db.scalar("SELECT indisvalid FROM pg_index WHERE indexrelid = 't_id_key'::regclass")
            .as_deref(),
        Some("f"),
        "PostgreSQL leaves an INVALID index behind"
    );
    db.execute("DELETE FROM t WHERE ctid = (SELECT max(ctid) FROM t)");
    migrate(&db, dir.path(), &["repair"]).assert_ok();
    let rerun = migrate(&db, dir.path(), &["up"]);
    rerun.assert_ok();
    assert!(
        rerun.stderr.contains("dropping INVALID index"),
        "{}",
        rerun.stderr
    );
    assert_eq!(
        db.scalar("SELECT indisvalid FROM pg_index WHERE indexrelid = 't_id_key'::regclass")
            .as_deref(),
        Some("t")
    );
}

#[test]
fn editing_an_applied_file_fails_validate_but_line_endings_do_not() {
    let db = pg();
    let dir = workdir();
    let text = "CREATE TABLE a (id int);\nCREATE TABLE b (id int);\n-- migrate:down\nDROP TABLE b;\nDROP TABLE a;\n";
    write(dir.path(), "V1__ab.sql", text);
    migrate(&db, dir.path(), &["up"]).assert_ok();
    migrate(&db, dir.path(), &["validate"]).assert_ok();

    write(dir.path(), "V1__ab.sql", &text.replace('\n', "\r\n"));
    let crlf = migrate(&db, dir.path(), &["validate"]);
    crlf.assert_ok();

    write(
        dir.path(),
        "V1__ab.sql",
        &text.replace("b (id int)", "b (id bigint)"),
    );
    let edited = migrate(&db, dir.path(), &["validate"]);
    edited.assert_code(2);
    assert!(edited.stdout.contains("V1__ab.sql"), "{}", edited.stdout);
    assert!(edited.stdout.contains("modified"), "{}", edited.stdout);
    let up = migrate(&db, dir.path(), &["up"]);
    up.assert_code(1);
    assert!(up.stderr.contains("modified"), "{}", up.stderr);

    let repaired = migrate(&db, dir.path(), &["repair"]);
    repaired.assert_ok();
    assert!(
        repaired.stdout.contains("checksum-updated"),
        "{}",
        repaired.stdout
    );
    migrate(&db, dir.path(), &["validate"]).assert_ok();
}

#[test]
fn down_then_up_restores_the_same_schema() {
    let db = pg();
    let dir = workdir();
    write(
        dir.path(),
        "V1__types.sql",
        "CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');\nCREATE TABLE person (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL, mood mood DEFAULT 'ok', tags text[] NOT NULL DEFAULT '{}', updated_at timestamptz NOT NULL DEFAULT now());\nCREATE INDEX person_tags_idx ON person USING gin (tags);\n-- migrate:down\nDROP TABLE person;\nDROP TYPE mood;\n",
    );
    write(
        dir.path(),
        "V2__trigger.sql",
        "CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n  NEW.updated_at := now();\n  RETURN NEW;\nEND;\n$$;\nCREATE TRIGGER person_touch BEFORE UPDATE ON person FOR EACH ROW EXECUTE FUNCTION touch();\nALTER TABLE person ENABLE ROW LEVEL SECURITY;\nALTER TABLE person FORCE ROW LEVEL SECURITY;\nCREATE POLICY person_self ON person USING (name = current_user) WITH CHECK (name = current_user);\n-- migrate:down\nDROP POLICY person_self ON person;\nALTER TABLE person NO FORCE ROW LEVEL SECURITY;\nALTER TABLE person DISABLE ROW LEVEL SECURITY;\nDROP TRIGGER person_touch ON person;\nDROP FUNCTION touch();\n",
    );
    write(
        dir.path(),
        "V3__mv.sql",
        "CREATE MATERIALIZED VIEW mood_counts AS SELECT mood, count(*) AS n FROM person GROUP BY mood;\nCREATE UNIQUE INDEX mood_counts_key ON mood_counts (mood);\nCREATE FUNCTION add(a int, b int) RETURNS int LANGUAGE sql IMMUTABLE BEGIN ATOMIC SELECT a + b; END;\n-- migrate:down\nDROP FUNCTION add(int, int);\nDROP MATERIALIZED VIEW mood_counts;\n",
    );
    write(
        dir.path(),
        "V4__idx.sql",
        "-- migrate:no-transaction\nCREATE INDEX CONCURRENTLY person_name_idx ON person (lower(name)) WHERE mood <> 'sad';\n-- migrate:down\nDROP INDEX CONCURRENTLY person_name_idx;\n",
    );
    migrate(&db, dir.path(), &["up"]).assert_ok();
    let before = db.schema_dump();
    let down = migrate(&db, dir.path(), &["down", "--to", "0", "--yes"]);
    down.assert_ok();
    assert_eq!(history_count(&db), 0);
    assert!(!table_exists(&db, "person"));
    migrate(&db, dir.path(), &["up"]).assert_ok();
    assert_eq!(db.schema_dump(), before);

    migrate(&db, dir.path(), &["down", "--steps", "2", "--yes"]).assert_ok();
    assert_eq!(history_count(&db), 2);
    migrate(&db, dir.path(), &["up"]).assert_ok();
    assert_eq!(db.schema_dump(), before);
}

#[test]
fn waiting_runner_reports_the_lock_holder() {
    let db = pg();
    let dir = workdir();
    write(
        dir.path(),
        "V1__slow.sql",
        "SELECT pg_sleep(3);\nCREATE TABLE done (id int);\n-- migrate:down\nDROP TABLE done;\n",
    );
    let first = migrate_cmd()
        .current_dir(dir.path())
        .args(["--database-url", &db.url, "up"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while db
        .scalar(&format!(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = '{}' AND query LIKE '%pg_sleep(3)%' AND pid <> pg_backend_pid()",
            db.name
        ))
        .as_deref()
        != Some("1")
    {
        assert!(Instant::now() < deadline, "first runner never started its migration");
        std::thread::sleep(Duration::from_millis(50));
    }
    let second = migrate(&db, dir.path(), &["up"]);
    second.assert_ok();
    assert!(
        second
            .stderr
            .contains("waiting for the migration lock held by pid"),
        "{}",
        second.stderr
    );
    assert!(
        second.stderr.contains("migrate "),
        "the holder's application name names the tool: {}",
        second.stderr
    );
    assert!(first.wait_with_output().unwrap().status.success());
    assert_eq!(history_count(&db), 1);
}

/// Runs `up` (a transactional file with the given text) through the library's engine directly,
/// bypassing the loader's transaction-control check, so the engine's own guard is what is
/// tested. Returns the rendered error, if any.
fn run_engine_bypassing_the_loader(db: &PgDb, up: &str) -> Option<String> {
    use migrate::postgres::{engine, migration, plan};
    let target = migrate::postgres::connect::PgTarget::parse(
        &db.url,
        Some("disable"),
        None,
        Duration::from_secs(10),
    )
    .unwrap();
    let settings = migrate::config::PgSettings {
        target,
        history_table: "migrate_history".into(),
        lock_timeout: Some(Duration::from_secs(10)),
        statement_timeout: None,
        lock_wait: Duration::from_secs(10),
    };
    let file = migration::Migration {
        kind: migration::Kind::Versioned,
        version: Some(1),
        name: "hostile".into(),
        path: "migrations/V1__hostile.sql".into(),
        checksum: migration::Checksum::of(up.as_bytes()),
        up: up.into(),
        down: None,
        down_first_line: 0,
        no_transaction: false,
        lock_timeout: None,
        statement_timeout: None,
        up_statements: 3,
    };
    let step = plan::Step {
        action: plan::Action::Apply,
        kind: migration::Kind::Versioned,
        version: Some(1),
        name: "hostile".into(),
        file: "migrations/V1__hostile.sql".into(),
        transactional: true,
        checksum: file.checksum.to_string(),
        resume_from: None,
    };
    let set = migration::MigrationSet {
        versioned: vec![file],
        ..Default::default()
    };
    let printer = migrate::output::Printer::new(migrate::config::OutputSettings {
        format: migrate::cli::Format::Human,
        quiet: true,
        verbose: false,
        color: false,
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let session = migrate::postgres::session::Session::open(&settings)
            .await
            .unwrap();
        let (held, _) = session.lock_and_read_history(&printer).await.unwrap();
        let outcome = engine::execute(&session, &held, &set, &[step], &printer).await;
        session.unlock(held).await.unwrap();
        outcome.err().map(|error| {
            let rendered = migrate::errors::render(&error);
            format!("{}\n{}", rendered.message, rendered.context.join("\n"))
        })
    })
}

#[test]
fn a_statement_that_ends_the_transaction_is_caught_by_the_engine_itself() {
    // ABORT rolls back what ran before it; the guard rolls back what runs after it.
    let db = pg();
    let error = run_engine_bypassing_the_loader(
        &db,
        "CREATE TABLE a1 (id int);\nABORT;\nCREATE TABLE a2 (id int);\n",
    )
    .expect("the run must fail");
    assert!(
        error.contains("statement 2 ended the transaction"),
        "{error}"
    );
    assert!(error.contains("V1__hostile.sql:2"), "{error}");
    assert!(error.contains("nothing of V1 hostile remains"), "{error}");
    assert!(!table_exists(&db, "a1") && !table_exists(&db, "a2"));
    assert_eq!(history_count(&db), 0, "the history must not say applied");

    // COMMIT (hidden behind a comment) keeps what ran before it: the error says so.
    let db = pg();
    let error = run_engine_bypassing_the_loader(
        &db,
        "CREATE TABLE c1 (id int);\n/* c */ COMMIT;\nCREATE TABLE c2 (id int);\nSELECT 1/0;\n",
    )
    .expect("the run must fail");
    assert!(
        error.contains("statement 2 ended the transaction"),
        "{error}"
    );
    assert!(
        error.contains("it committed what statement 1 did: that remains in the database"),
        "{error}"
    );
    assert!(!error.contains("nothing of"), "{error}");
    assert!(table_exists(&db, "c1"));
    assert!(!table_exists(&db, "c2"));
    assert_eq!(history_count(&db), 0, "the history must not say applied");

    // COMMIT AND CHAIN as the last statement: the history row is not written either.
    let db = pg();
    let error =
        run_engine_bypassing_the_loader(&db, "CREATE TABLE d1 (id int);\nCOMMIT AND CHAIN;\n")
            .expect("the run must fail");
    assert!(error.contains("statement 2 ended"), "{error}");
    assert!(table_exists(&db, "d1"));
    assert_eq!(history_count(&db), 0, "the history must not say applied");
}

#[test]
fn a_failed_statement_reports_a_rollback_the_server_confirmed() {
    let db = pg();
    let error = run_engine_bypassing_the_loader(
        &db,
        "CREATE TABLE f1 (id int);\nSELECT 1/0;\nCREATE TABLE f2 (id int);\n",
    )
    .expect("the run must fail");
    assert!(error.contains("division by zero"), "{error}");
    assert!(
        error.contains("rolled back (confirmed by the server): nothing of V1 hostile remains"),
        "{error}"
    );
    assert!(!table_exists(&db, "f1"));
    assert_eq!(history_count(&db), 0);
}

#[test]
fn a_nul_byte_is_refused_before_anything_runs() {
    let db = pg();
    let error = run_engine_bypassing_the_loader(
        &db,
        "CREATE TABLE n1 (id int);\nSELECT 'a\0b';\nCREATE TABLE n2 (id int);\n",
    )
    .expect("the run must fail");
    assert!(error.contains("NUL byte"), "{error}");
    assert!(error.contains("V1__hostile.sql:2"), "{error}");
    assert!(!table_exists(&db, "n1") && !table_exists(&db, "n2"));
    assert_eq!(history_count(&db), 0);

    // Through the binary, the loader refuses the file with its line.
    let dir = workdir();
    write(
        dir.path(),
        "V1__nul.sql",
        "CREATE TABLE n1 (id int);\nSELECT 'a\0b';\n",
    );
    let refused = migrate(&db, dir.path(), &["up"]);
    refused.assert_code(1);
    assert!(
        refused.stderr.contains("V1__nul.sql:2"),
        "{}",
        refused.stderr
    );
    assert!(refused.stderr.contains("NUL byte"), "{}", refused.stderr);
    assert!(!table_exists(&db, "n1"));
}

#[test]
fn a_failed_no_transaction_migration_resumes_at_its_first_unfinished_statement() {
    let db = pg();
    let dir = workdir();
    write(
        dir.path(),
        "V1__t.sql",
        "CREATE TABLE t (id int, name text);\nINSERT INTO t VALUES (1, 'a');\n",
    );
    // Statement 2 names a column that does not exist; statement 1 has no IF NOT EXISTS, so
    // running the whole file again would fail on it.
    let broken = "-- migrate:no-transaction\nCREATE INDEX CONCURRENTLY t_id_idx ON t (id);\nCREATE INDEX CONCURRENTLY t_name_idx ON t (nme);\nCREATE TABLE after_indexes (id int);\n";
    write(dir.path(), "V2__idx.sql", broken);
    let failed = migrate(&db, dir.path(), &["up"]);
    failed.assert_code(1);
    assert!(
        failed
            .stderr
            .contains("statement 1 completed and it is now recorded as dirty"),
        "{}",
        failed.stderr
    );
    let status = migrate(&db, dir.path(), &["status"]);
    assert!(
        status.stdout.contains("failed at statement 2 of 3"),
        "{}",
        status.stdout
    );

    // Editing a statement that completed makes resuming unsafe: refused, and says why.
    write(
        dir.path(),
        "V2__idx.sql",
        &broken
            .replace("t_id_idx ON t (id)", "t_id_idx ON t (id, name)")
            .replace("(nme)", "(name)"),
    );
    let refused = migrate(&db, dir.path(), &["up"]);
    refused.assert_code(1);
    assert!(
        refused
            .stderr
            .contains("not resumed: the 1 statement that completed was changed in the file"),
        "{}",
        refused.stderr
    );

    // Fixing only the failing statement: `up` runs statements 2 and 3, not 1 again.
    write(
        dir.path(),
        "V2__idx.sql",
        &broken.replace("(nme)", "(name)"),
    );
    let resumed = migrate(&db, dir.path(), &["-v", "up"]);
    resumed.assert_ok();
    assert!(
        resumed
            .stderr
            .contains("resuming V2 idx at statement 2 of 3: the 1 statement that completed in an earlier run is unchanged"),
        "{}",
        resumed.stderr
    );
    assert!(
        !resumed
            .stderr
            .contains("(1/3): CREATE INDEX CONCURRENTLY t_id_idx"),
        "statement 1 must not run again:\n{}",
        resumed.stderr
    );
    assert!(
        resumed
            .stderr
            .contains("(2/3): CREATE INDEX CONCURRENTLY t_name_idx"),
        "{}",
        resumed.stderr
    );
    assert!(
        resumed.stderr.contains("(3/3): CREATE TABLE after_indexes"),
        "{}",
        resumed.stderr
    );
    assert!(table_exists(&db, "t_name_idx") && table_exists(&db, "after_indexes"));
    assert_eq!(
        db.query("SELECT state, checksum IS NOT NULL FROM migrate_history WHERE version = 2"),
        vec![vec![Some("applied".into()), Some("t".into())]]
    );
    migrate(&db, dir.path(), &["validate"]).assert_ok();
}

#[test]
fn a_failed_no_transaction_down_part_is_counted_in_its_own_statements() {
    let db = pg();
    let dir = workdir();
    write(
        dir.path(),
        "V1__idx.sql",
        "-- migrate:no-transaction\nCREATE TABLE t (id int);\nCREATE INDEX CONCURRENTLY t_id_idx ON t (id);\n-- migrate:down\nDROP INDEX CONCURRENTLY t_missing_idx;\nDROP TABLE t;\n",
    );
    migrate(&db, dir.path(), &["up"]).assert_ok();
    let failed = migrate(&db, dir.path(), &["--yes", "down"]);
    failed.assert_code(1);
    assert!(
        failed.stderr.contains(
            "the down part of V1 idx ran outside a transaction: no statement had completed"
        ),
        "{}",
        failed.stderr
    );
    assert!(!failed.stderr.contains("1..0"), "{}", failed.stderr);
    let validate = migrate(&db, dir.path(), &["validate"]);
    validate.assert_code(2);
    assert!(
        validate
            .stdout
            .contains("its down part failed at statement 1 of 2"),
        "{}",
        validate.stdout
    );
    let up = migrate(&db, dir.path(), &["up"]);
    up.assert_code(1);
    assert!(
        up.stderr
            .contains("its down part failed at statement 1 of 2"),
        "{}",
        up.stderr
    );
    let repair = migrate(&db, dir.path(), &["repair", "--dry-run"]);
    repair.assert_ok();
    assert!(
        repair
            .stdout
            .contains("no statement of its down part had completed"),
        "{}",
        repair.stdout
    );
}

#[test]
fn the_error_excerpt_shows_the_failing_line_with_a_caret() {
    let db = pg();
    let dir = workdir();
    write(
        dir.path(),
        "V1__long.sql",
        "-- A comment block\n-- that explains\n-- the table below.\nCREATE TABLE report AS\nSELECT\n  1 AS a,\n  2 AS b,\n  3 AS c,\n  4 AS d,\n  5 AS e +,\n  6 AS f,\n  7 AS g,\n  8 AS h;\n",
    );
    let failed = migrate(&db, dir.path(), &["up"]);
    failed.assert_code(1);
    let stderr = &failed.stderr;
    assert!(
        stderr.contains("V1__long.sql:10 (statement 1 of 1)"),
        "{stderr}"
    );
    assert!(stderr.contains("   10 |   5 AS e +,"), "{stderr}");
    assert!(stderr.contains("    8 |   3 AS c,"), "{stderr}");
    assert!(stderr.contains("   12 |   7 AS g,"), "{stderr}");
    assert!(!stderr.contains("    1 | -- A comment block"), "{stderr}");
    // The caret points at the server's position on the failing line: the alias `e` ends the
    // column, so the server stops at the `+`.
    let lines: Vec<&str> = stderr.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.contains("   10 |   5 AS e +,"))
        .unwrap();
    let caret = lines[at + 1];
    assert!(
        caret.trim_start().starts_with("| ") && caret.ends_with('^'),
        "{stderr}"
    );
    assert_eq!(
        caret.find('^').unwrap(),
        lines[at].find('+').unwrap(),
        "{stderr}"
    );
    assert!(stderr.contains("syntax error at or near \"+\""), "{stderr}");
}

#[test]
fn verbose_up_names_each_statement_with_its_line_and_time() {
    let db = pg();
    let dir = workdir();
    write(
        dir.path(),
        "V1__t.sql",
        "-- the table\nCREATE TABLE t (id int);\n\nINSERT INTO t\nVALUES (1);\n",
    );
    let run = migrate(&db, dir.path(), &["-v", "up"]);
    run.assert_ok();
    let stderr = &run.stderr;
    let first = stderr
        .find("V1 t: migrations/V1__t.sql:2 (1/2): CREATE TABLE t (id int)")
        .unwrap_or_else(|| panic!("{stderr}"));
    let second = stderr
        .find("V1 t: migrations/V1__t.sql:4 (2/2): INSERT INTO t")
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!(first < second, "{stderr}");
    assert!(stderr[first..second].contains("  took "), "{stderr}");
    assert!(stderr[second..].contains("  took "), "{stderr}");
    // Without -v, none of it.
    let db = pg();
    let quiet = migrate(&db, dir.path(), &["up"]);
    assert!(!quiet.stderr.contains("(1/2)"), "{}", quiet.stderr);
}
