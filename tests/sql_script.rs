//! `up --dry-run --sql` and `down --dry-run --sql`: the printed script, applied with
//! `psql -v ON_ERROR_STOP=1 -X -f`, leaves the same schema and the same history rows (times
//! aside) as `migrate up` / `migrate down` on a twin database.

use std::process::Command;

use crate::support::{PgDb, migrate_in, newest_app_version, pg, repo, workdir, write_migration};

/// The history rows that must match, in order; times, user and rank left out.
fn history(db: &PgDb) -> Vec<Vec<Option<String>>> {
    db.query(
        "SELECT version::text, name, kind, checksum, state, statements_done::text,
                statements_total::text, statements_checksum, tool_version
         FROM migrate_history ORDER BY installed_rank",
    )
}

/// Runs `script` with psql against `db`, as the script's header says.
fn psql(db: &PgDb, script: &str) -> crate::support::Run {
    let dir = workdir();
    let file = dir.path().join("plan.sql");
    std::fs::write(&file, script).unwrap();
    crate::support::run(Command::new("psql").args([
        "-v",
        "ON_ERROR_STOP=1",
        "-X",
        "-q",
        "-f",
        file.to_str().unwrap(),
        &db.url,
    ]))
}

fn app(db: &PgDb, args: &[&str]) -> crate::support::Run {
    let dir = workdir();
    let mut all = vec![
        "--migrations",
        &*Box::leak(repo("migrations").into_boxed_str()),
    ];
    all.extend_from_slice(args);
    migrate_in(db, dir.path(), &all)
}

#[test]
fn the_applications_migrations_through_psql_match_migrate_up_and_down() {
    let newest = newest_app_version();
    let by_psql = pg();
    let by_migrate = pg();

    // Up: the whole plan on an empty database.
    let script = app(&by_psql, &["up", "--dry-run", "--sql"]);
    script.assert_ok();
    assert!(script.stdout.contains("BEGIN;"), "{}", script.stdout);
    assert!(
        script.stdout.contains("SET LOCAL lock_timeout"),
        "{}",
        script.stdout
    );
    assert!(
        script.stdout.contains(&format!("-- apply V{newest} ")),
        "the script names each file: {}",
        script.stdout
    );
    // Nothing was written by the dry run.
    assert_eq!(
        by_psql.scalar("SELECT to_regclass('migrate_history') IS NULL"),
        Some("t".into())
    );
    psql(&by_psql, &script.stdout).assert_ok();
    app(&by_migrate, &["up"]).assert_ok();
    assert_eq!(by_psql.schema_dump(), by_migrate.schema_dump());
    let rows = history(&by_psql);
    assert_eq!(rows.len() as u64, newest);
    assert_eq!(rows, history(&by_migrate));

    // migrate reads what psql wrote as its own: nothing pending, checksums valid.
    app(&by_psql, &["status", "--exit-code"]).assert_ok();
    app(&by_psql, &["validate"]).assert_ok();

    // Down three steps: the script and the command agree as well.
    let script = app(&by_psql, &["down", "--steps", "3", "--dry-run", "--sql"]);
    script.assert_ok();
    assert!(
        script.stdout.contains(&format!("-- revert V{newest} ")),
        "{}",
        script.stdout
    );
    psql(&by_psql, &script.stdout).assert_ok();
    app(&by_migrate, &["--yes", "down", "--steps", "3"]).assert_ok();
    assert_eq!(by_psql.schema_dump(), by_migrate.schema_dump());
    assert_eq!(history(&by_psql), history(&by_migrate));
    assert_eq!(history(&by_psql).len() as u64, newest - 3);

    // Only what is pending: up again from the fourth newest.
    let script = app(&by_psql, &["up", "--dry-run", "--sql"]);
    assert!(
        !script
            .stdout
            .contains(&format!("-- apply V{} ", newest - 3)),
        "{}",
        script.stdout
    );
    assert!(
        script
            .stdout
            .contains(&format!("-- apply V{} ", newest - 2)),
        "{}",
        script.stdout
    );
    psql(&by_psql, &script.stdout).assert_ok();
    app(&by_migrate, &["up"]).assert_ok();
    assert_eq!(by_psql.schema_dump(), by_migrate.schema_dump());
    assert_eq!(history(&by_psql), history(&by_migrate));
}

const NO_TX: &str = "-- migrate:no-transaction\n\
CREATE INDEX CONCURRENTLY items_name_idx ON items (name);\n\
INSERT INTO items (name) VALUES ('after the index'); -- a trailing comment\n\
-- migrate:down\n\
DROP INDEX CONCURRENTLY items_name_idx;\n\
DELETE FROM items WHERE name = 'after the index';\n";

fn write_set(dir: &std::path::Path) {
    write_migration(
        dir,
        "V1__items.sql",
        "CREATE TABLE items (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text);\n\
         CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$\n\
         BEGIN\n  NEW.name := coalesce(NEW.name, 'unnamed'); -- ; inside a body\n  RETURN NEW;\nEND $$;\n\
         -- migrate:down\nDROP TABLE items;\nDROP FUNCTION touch();\n",
    );
    write_migration(dir, "V2__items_name_idx.sql", NO_TX);
    write_migration(
        dir,
        "R__items_view.sql",
        "CREATE OR REPLACE VIEW item_names AS SELECT name FROM items;\n",
    );
}

#[test]
fn no_transaction_and_repeatable_files_match_through_psql() {
    let by_psql = pg();
    let by_migrate = pg();
    let dir = workdir();
    write_set(dir.path());
    let script = migrate_in(&by_psql, dir.path(), &["up", "--dry-run", "--sql"]);
    script.assert_ok();
    let sql = &script.stdout;
    assert!(
        sql.contains("(no transaction: statement by statement)"),
        "{sql}"
    );
    assert!(sql.contains("CREATE INDEX CONCURRENTLY"), "{sql}");
    assert!(sql.contains("-- apply R items_view"), "{sql}");
    psql(&by_psql, sql).assert_ok();
    migrate_in(&by_migrate, dir.path(), &["up"]).assert_ok();
    assert_eq!(by_psql.schema_dump(), by_migrate.schema_dump());
    assert_eq!(history(&by_psql), history(&by_migrate));
    migrate_in(&by_psql, dir.path(), &["status", "--exit-code"]).assert_ok();

    // Down the no-transaction file.
    let script = migrate_in(
        &by_psql,
        dir.path(),
        &["down", "--to", "1", "--dry-run", "--sql"],
    );
    script.assert_ok();
    psql(&by_psql, &script.stdout).assert_ok();
    migrate_in(&by_migrate, dir.path(), &["--yes", "down", "--to", "1"]).assert_ok();
    assert_eq!(by_psql.schema_dump(), by_migrate.schema_dump());
    assert_eq!(history(&by_psql), history(&by_migrate));
}

#[test]
fn a_failed_no_transaction_file_is_resumed_by_the_script_as_by_up() {
    let by_psql = pg();
    let by_migrate = pg();
    let dir = workdir();
    write_migration(
        dir.path(),
        "V1__items.sql",
        "CREATE TABLE items (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text);\n",
    );
    // The second statement fails until the table it needs exists.
    write_migration(
        dir.path(),
        "V2__two_steps.sql",
        "-- migrate:no-transaction\n\
         CREATE INDEX CONCURRENTLY items_name_idx ON items (name);\n\
         INSERT INTO later (note) VALUES ('second');\n",
    );
    for db in [&by_psql, &by_migrate] {
        migrate_in(db, dir.path(), &["up"]).assert_code(1);
        db.execute("CREATE TABLE later (note text)");
    }
    let script = migrate_in(&by_psql, dir.path(), &["up", "--dry-run", "--sql"]);
    script.assert_ok();
    let sql = &script.stdout;
    assert!(sql.contains("-- resume V2"), "{sql}");
    // The finished statement is not in the script again.
    assert!(!sql.contains("CREATE INDEX CONCURRENTLY"), "{sql}");
    psql(&by_psql, sql).assert_ok();
    migrate_in(&by_migrate, dir.path(), &["up"]).assert_ok();
    assert_eq!(by_psql.schema_dump(), by_migrate.schema_dump());
    assert_eq!(history(&by_psql), history(&by_migrate));
    assert_eq!(
        by_psql.scalar("SELECT count(*) FROM later"),
        Some("1".into())
    );
}

#[test]
fn sql_needs_dry_run_and_speaks_postgres_only() {
    let db = pg();
    let dir = workdir();
    write_set(dir.path());
    let run = migrate_in(&db, dir.path(), &["up", "--sql"]);
    run.assert_code(64);
    assert!(run.stderr.contains("--dry-run"), "{}", run.stderr);
    let run = migrate_in(
        &db,
        dir.path(),
        &["down", "--dry-run", "--sql", "--store", "mongo"],
    );
    run.assert_code(64);
    assert!(run.stderr.contains("PostgreSQL"), "{}", run.stderr);
    let run = migrate_in(
        &db,
        dir.path(),
        &["up", "--dry-run", "--sql", "--store", "redis"],
    );
    run.assert_code(64);
    assert!(run.stderr.contains("PostgreSQL"), "{}", run.stderr);
    // JSON: one document with the script.
    let run = migrate_in(
        &db,
        dir.path(),
        &["--format", "json", "up", "--dry-run", "--sql"],
    );
    run.assert_ok();
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(doc["store"], "postgres");
    assert!(doc["sql"].as_str().unwrap().contains("BEGIN;"));
    assert_eq!(
        db.scalar("SELECT to_regclass('migrate_history') IS NULL"),
        Some("t".into())
    );
}
