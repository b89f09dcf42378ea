//! `migrate diff` through the binary against a real PostgreSQL: every before/after pair of
//! `tests/diff_corpus/` written and proven (up reaches "after", down returns to "before"), every
//! migration of the application regenerated from the schema before it, and the command's
//! contract (sources, `--name`, no difference, refusals, `--no-verify`, JSON).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::support::{PgDb, migrate_cmd, pg, run, workdir};

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/diff_corpus")
}

/// `migrate diff ARGS` with `db` as the server for shadow databases, run in `dir`.
fn diff_in(db: &PgDb, dir: &Path, args: &[&str]) -> crate::support::Run {
    run(migrate_cmd()
        .current_dir(dir)
        .arg("--database-url")
        .arg(&db.url)
        .arg("diff")
        .args(args))
}

/// The statements of one part of a migration (text without comments and blank lines).
fn statements(part: &str) -> Vec<String> {
    part.split(";\n")
        .map(|chunk| {
            chunk
                .lines()
                .filter(|line| !line.trim_start().starts_with("--") && !line.trim().is_empty())
                .collect::<Vec<_>>()
                .join("\n")
        })
        .filter(|s| !s.is_empty())
        .collect()
}

/// Runs one corpus case; returns what went wrong, if anything.
fn run_case(db: &PgDb, case: &Path) -> Option<String> {
    let name = case.file_name().unwrap().to_string_lossy().to_string();
    let extra = std::fs::read_to_string(case.join("args")).unwrap_or_default();
    let mut args = vec!["--from", "before.sql", "--to", "after.sql", "--print"];
    args.extend(extra.split_whitespace());
    let out = diff_in(db, case, &args);
    if out.code != 0 {
        return Some(format!(
            "{name}: exit {}\n{}\n{}",
            out.code, out.stdout, out.stderr
        ));
    }
    if !out.stderr.contains("proven on a shadow database") {
        return Some(format!("{name}: no proof reported\n{}", out.stderr));
    }
    let Some((up, down)) = out.stdout.split_once("\n-- migrate:down\n") else {
        return Some(format!("{name}: no down marker\n{}", out.stdout));
    };
    if statements(up).is_empty() || statements(down).is_empty() {
        return Some(format!("{name}: an empty part\n{}", out.stdout));
    }
    let expected = std::fs::read_to_string(case.join("expect")).unwrap_or_default();
    for line in expected.lines().filter(|l| !l.trim().is_empty()) {
        if !out.stdout.contains(line) {
            return Some(format!(
                "{name}: the migration lacks `{line}`\n{}",
                out.stdout
            ));
        }
    }
    None
}

#[test]
fn every_corpus_pair_is_written_and_proven() {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.join("before.sql").is_file() && path.join("after.sql").is_file())
        .collect();
    cases.sort();
    assert!(cases.len() >= 60, "only {} corpus cases", cases.len());
    let db = pg();
    let queue = Mutex::new(cases.clone());
    let failures = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..3 {
            scope.spawn(|| {
                loop {
                    let Some(case) = queue.lock().unwrap().pop() else {
                        break;
                    };
                    if let Some(failure) = run_case(&db, &case) {
                        failures.lock().unwrap().push(failure);
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

/// For each application migration V{n}: the schema at V{n-1} (the migration directory up to
/// it, on a shadow database) to the schema at V{n} (a database migrated to it) is written and
/// proven, so up reaches V{n} exactly and down returns to V{n-1}.
#[test]
fn every_application_migration_is_regenerated() {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut versions: Vec<(u64, PathBuf)> = std::fs::read_dir(repo.join("migrations"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter_map(|path| {
            let name = path.file_name()?.to_str()?.to_string();
            let version = name.strip_prefix('V')?.split_once("__")?.0.parse().ok()?;
            Some((version, path))
        })
        .collect();
    versions.sort();
    assert!(versions.len() >= 20, "{versions:?}");
    let target = pg();
    let dir = workdir();
    let previous = dir.path().join("previous");
    std::fs::create_dir_all(&previous).unwrap();
    let mut failures = Vec::new();
    for (version, path) in &versions {
        let up = run(migrate_cmd()
            .current_dir(dir.path())
            .args(["--database-url", &target.url, "--migrations"])
            .arg(repo.join("migrations"))
            .args(["up", "--store", "pg", "--target", &version.to_string()]));
        up.assert_ok();
        let out = run(migrate_cmd()
            .current_dir(dir.path())
            .args(["--database-url", &target.url, "--migrations"])
            .arg(&previous)
            .args([
                "diff",
                "--from",
                "migrations",
                "--to",
                &target.url,
                "--print",
                "--allow-destructive",
            ]));
        if out.code != 0 || !out.stderr.contains("proven on a shadow database") {
            failures.push(format!("V{version}: exit {}\n{}", out.code, out.stderr));
        } else if statements(out.stdout.split("\n-- migrate:down\n").next().unwrap()).is_empty() {
            failures.push(format!("V{version}: empty up part\n{}", out.stdout));
        }
        std::fs::copy(path, previous.join(path.file_name().unwrap())).unwrap();
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

const BEFORE: &str =
    "CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL, legacy text);\n";
const AFTER: &str = "CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL, legacy text, qty integer NOT NULL DEFAULT 0);
CREATE INDEX items_name_idx ON items (name);
";

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

#[test]
fn name_writes_the_next_file_and_up_and_down_run_it() {
    let db = pg();
    let dir = workdir();
    crate::support::write_migration(
        dir.path(),
        "V1__items.sql",
        &format!("{BEFORE}-- migrate:down\nDROP TABLE items;\n"),
    );
    write(dir.path(), "after.sql", AFTER);
    let out = diff_in(
        &db,
        dir.path(),
        &[
            "--from",
            "migrations",
            "--to",
            "after.sql",
            "--name",
            "add_qty",
        ],
    );
    out.assert_ok();
    let file = dir.path().join("migrations/V2__add_qty.sql");
    assert_eq!(out.stdout.trim(), "migrations/V2__add_qty.sql");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.starts_with("-- migrate:no-transaction\n"), "{text}");
    assert!(text.contains("-- migrate:lock-timeout"), "{text}");
    assert!(
        text.contains("CREATE INDEX CONCURRENTLY items_name_idx"),
        "{text}"
    );
    // The engine takes the file as written: up, no drift against after.sql, down.
    crate::support::migrate_in(&db, dir.path(), &["up", "--store", "pg"]).assert_ok();
    assert_eq!(
        db.scalar("SELECT count(*) FROM pg_indexes WHERE indexname = 'items_name_idx'")
            .as_deref(),
        Some("1")
    );
    let same = diff_in(&db, dir.path(), &["--from", &db.url, "--to", "after.sql"]);
    same.assert_ok();
    assert!(same.stderr.contains("no difference"), "{}", same.stderr);
    crate::support::migrate_in(&db, dir.path(), &["down", "--store", "pg", "--yes"]).assert_ok();
    assert_eq!(
        db.scalar("SELECT count(*) FROM information_schema.columns WHERE column_name = 'qty'")
            .as_deref(),
        Some("0")
    );
}

#[test]
fn no_difference_exits_zero_and_writes_nothing() {
    let db = pg();
    let dir = workdir();
    write(dir.path(), "a.sql", BEFORE);
    write(dir.path(), "b.sql", BEFORE);
    let out = diff_in(
        &db,
        dir.path(),
        &["--from", "a.sql", "--to", "b.sql", "--name", "nothing"],
    );
    out.assert_ok();
    assert_eq!(out.stdout, "");
    assert!(out.stderr.contains("no difference"), "{}", out.stderr);
    assert!(!dir.path().join("migrations").exists());
}

#[test]
fn dropping_data_is_refused_without_allow_destructive() {
    let db = pg();
    let dir = workdir();
    write(dir.path(), "before.sql", BEFORE);
    write(
        dir.path(),
        "after.sql",
        "CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL);\n",
    );
    let out = diff_in(
        &db,
        dir.path(),
        &[
            "--from",
            "before.sql",
            "--to",
            "after.sql",
            "--name",
            "drop_legacy",
        ],
    );
    out.assert_code(1);
    assert!(
        out.stderr.contains("drops column public.items.legacy"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("--allow-destructive"), "{}", out.stderr);
    assert!(!dir.path().join("migrations").exists());
    let allowed = diff_in(
        &db,
        dir.path(),
        &[
            "--from",
            "before.sql",
            "--to",
            "after.sql",
            "--allow-destructive",
        ],
    );
    allowed.assert_ok();
    assert!(
        allowed
            .stdout
            .contains("ALTER TABLE public.items DROP COLUMN legacy"),
        "{}",
        allowed.stdout
    );
}

#[test]
fn unsupported_differences_are_refused_naming_the_object() {
    let db = pg();
    let dir = workdir();
    write(
        dir.path(),
        "before.sql",
        "CREATE DOMAIN email AS text CHECK (VALUE ~ '@');\n",
    );
    write(
        dir.path(),
        "after.sql",
        "CREATE DOMAIN email AS text CHECK (VALUE ~ '@.');\n",
    );
    let out = diff_in(
        &db,
        dir.path(),
        &["--from", "before.sql", "--to", "after.sql", "--name", "x"],
    );
    out.assert_code(1);
    assert!(out.stderr.contains("domain public.email"), "{}", out.stderr);
    assert!(out.stderr.contains("constraints"), "{}", out.stderr);
    assert!(!dir.path().join("migrations").exists());

    write(
        dir.path(),
        "agg.sql",
        "CREATE AGGREGATE total(int) (sfunc = int4pl, stype = int, initcond = '0');\n",
    );
    write(dir.path(), "empty.sql", "");
    let out = diff_in(&db, dir.path(), &["--from", "empty.sql", "--to", "agg.sql"]);
    out.assert_code(1);
    assert!(
        out.stderr.contains("function public.total(integer)"),
        "{}",
        out.stderr
    );
}

#[test]
fn bad_sources_are_clear_errors() {
    let db = pg();
    let dir = workdir();
    let out = diff_in(
        &db,
        dir.path(),
        &["--from", "nothing-like-a-source", "--print"],
    );
    out.assert_code(64);
    assert!(
        out.stderr.contains("cannot read `nothing-like-a-source`"),
        "{}",
        out.stderr
    );
    let out = diff_in(
        &db,
        dir.path(),
        &["--from", "missing.sql", "--to", "missing.sql"],
    );
    out.assert_code(1);
    assert!(
        out.stderr.contains("missing.sql: no such file"),
        "{}",
        out.stderr
    );
    write(
        dir.path(),
        "broken.sql",
        "CREATE TABLE t (id int REFERENCES nowhere(id));\n",
    );
    write(dir.path(), "ok.sql", BEFORE);
    let out = diff_in(&db, dir.path(), &["--from", "broken.sql", "--to", "ok.sql"]);
    out.assert_code(1);
    assert!(out.stderr.contains("broken.sql:1"), "{}", out.stderr);
    assert!(out.stderr.contains("nowhere"), "{}", out.stderr);
    let out = diff_in(
        &db,
        dir.path(),
        &["--from", "ok.sql", "--to", "ok.sql", "--name", "Bad Name"],
    );
    out.assert_code(1);
    assert!(
        out.stderr.contains("invalid migration name"),
        "{}",
        out.stderr
    );
}

#[test]
fn no_verify_says_the_migration_is_not_proven() {
    let db = pg();
    let dir = workdir();
    write(dir.path(), "before.sql", BEFORE);
    write(dir.path(), "after.sql", AFTER);
    let out = diff_in(
        &db,
        dir.path(),
        &["--from", "before.sql", "--to", "after.sql", "--no-verify"],
    );
    out.assert_ok();
    assert!(out.stderr.contains("not verified"), "{}", out.stderr);
    assert!(
        out.stdout.contains("-- NOT verified (--no-verify)."),
        "{}",
        out.stdout
    );
    assert!(!out.stderr.contains("proven"), "{}", out.stderr);
}

#[test]
fn json_report_carries_the_migration() {
    let db = pg();
    let dir = workdir();
    write(dir.path(), "before.sql", BEFORE);
    write(dir.path(), "after.sql", AFTER);
    let out = run(migrate_cmd()
        .current_dir(dir.path())
        .args(["--database-url", &db.url, "--format", "json", "diff"])
        .args(["--from", "before.sql", "--to", "after.sql"]));
    out.assert_ok();
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(report["changed"], true);
    assert_eq!(report["verification"], "proven");
    assert_eq!(report["up_statements"], 2);
    assert_eq!(report["down_statements"], 2);
    assert_eq!(report["no_transaction"], true);
    assert!(
        report["migration"]
            .as_str()
            .unwrap()
            .contains("ADD COLUMN qty integer DEFAULT 0 NOT NULL"),
        "{report}"
    );
}

/// Without --from/--to: the migrations to the configured database, i.e. what was changed by
/// hand on the dev database becomes the next migration.
#[test]
fn defaults_turn_a_hand_made_change_into_the_next_migration() {
    let db = pg();
    let dir = workdir();
    crate::support::write_migration(
        dir.path(),
        "V1__items.sql",
        &format!("{BEFORE}-- migrate:down\nDROP TABLE items;\n"),
    );
    crate::support::migrate_in(&db, dir.path(), &["up", "--store", "pg"]).assert_ok();
    db.execute("ALTER TABLE items ADD COLUMN note text; COMMENT ON TABLE items IS 'stock'");
    let out = diff_in(&db, dir.path(), &["--print"]);
    out.assert_ok();
    assert!(
        out.stdout
            .contains("ALTER TABLE public.items ADD COLUMN note text"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("COMMENT ON TABLE public.items IS 'stock'")
    );
}

/// A URL and a `schema dump` snapshot cannot be replayed: the writer rebuilds them on the
/// shadow database from nothing, checks the copy, then proves the migration on it.
#[test]
fn url_and_snapshot_sources_are_rebuilt_for_the_proof() {
    let from = pg();
    let dir = workdir();
    from.execute(
        "CREATE TYPE st AS ENUM ('a', 'b');
         CREATE TABLE items (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL, s st DEFAULT 'a');
         CREATE INDEX items_name_idx ON items (lower(name));
         CREATE VIEW named AS SELECT id, name FROM items;",
    );
    write(
        dir.path(),
        "after.sql",
        "CREATE TYPE st AS ENUM ('a', 'b', 'c');
         CREATE TABLE items (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL, s st DEFAULT 'c');
         CREATE INDEX items_name_idx ON items (lower(name));
         CREATE VIEW named AS SELECT id, name, s FROM items;",
    );
    let out = diff_in(
        &from,
        dir.path(),
        &["--from", &from.url, "--to", "after.sql"],
    );
    out.assert_ok();
    assert!(
        out.stdout.contains("ADD VALUE 'c' AFTER 'b'"),
        "{}",
        out.stdout
    );
    assert!(out.stderr.contains("proven"), "{}", out.stderr);
    let dump = run(migrate_cmd().current_dir(dir.path()).args([
        "--database-url",
        &from.url,
        "schema",
        "dump",
        "-o",
        "snap.json",
    ]));
    dump.assert_ok();
    let out = diff_in(
        &from,
        dir.path(),
        &["--from", "snap.json", "--to", "after.sql"],
    );
    out.assert_ok();
    assert!(out.stderr.contains("proven"), "{}", out.stderr);
    // Nothing was changed on the source database.
    assert_eq!(
        from.scalar("SELECT count(*) FROM pg_enum WHERE enumlabel = 'c'")
            .as_deref(),
        Some("0")
    );
}

/// `schema dump --sql` of the application's whole schema: a script that rebuilds it exactly
/// in an empty database (diff from that script to the database finds nothing).
#[test]
fn schema_dump_sql_rebuilds_the_application_schema() {
    let db = pg();
    let dir = workdir();
    run(migrate_cmd()
        .current_dir(dir.path())
        .args(["--database-url", &db.url, "--migrations"])
        .arg(crate::support::repo("migrations"))
        .args(["up", "--store", "pg"]))
    .assert_ok();
    let dump = run(migrate_cmd().current_dir(dir.path()).args([
        "--database-url",
        &db.url,
        "schema",
        "dump",
        "--sql",
        "-o",
        "schema.sql",
    ]));
    dump.assert_ok();
    let text = std::fs::read_to_string(dir.path().join("schema.sql")).unwrap();
    assert!(text.contains("CREATE TABLE public.tasks"), "{text}");
    assert!(!text.contains("migrate_history"), "history table left out");
    let same = diff_in(&db, dir.path(), &["--from", "schema.sql", "--to", &db.url]);
    same.assert_ok();
    assert!(same.stderr.contains("no difference"), "{}", same.stderr);
}

/// A database migrated (through the binary, so the harness keeps no connection open to it) to
/// BEFORE, with AFTER written as `after.sql` in its working directory.
fn migrated_items() -> (PgDb, tempfile::TempDir) {
    let from = pg();
    let dir = workdir();
    crate::support::write_migration(
        dir.path(),
        "V1__items.sql",
        &format!("{BEFORE}-- migrate:down\nDROP TABLE items;\n"),
    );
    crate::support::migrate_in(&from, dir.path(), &["up", "--store", "pg"]).assert_ok();
    write(dir.path(), "after.sql", AFTER);
    (from, dir)
}

/// `-v diff --from <the database> --to after.sql --print`.
fn diff_url_to_after(from: &PgDb, dir: &Path) -> crate::support::Run {
    run(migrate_cmd()
        .current_dir(dir)
        .args(["-v", "--database-url", &from.url, "diff"])
        .args(["--from", &from.url, "--to", "after.sql", "--print"]))
}

/// A source database another session is connected to cannot be a template: it is rebuilt for
/// the proof instead (`-v` says why), and the migration is proven all the same.
#[test]
fn a_url_source_in_use_is_rebuilt_for_the_proof() {
    let (from, dir) = migrated_items();
    // Another session on the source for the whole run.
    let mut other = std::process::Command::new("psql")
        .args(["-X", "-q", "-d", &from.url, "-c", "SELECT pg_sleep(600)"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("psql");
    let name = from.url.rsplit('/').next().unwrap().to_string();
    let started = std::time::Instant::now();
    while from
        .scalar(&format!(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = '{name}' AND pid <> pg_backend_pid() AND query LIKE 'SELECT pg_sleep%'"
        ))
        .as_deref()
        != Some("1")
    {
        assert!(started.elapsed().as_secs() < 30, "the other session did not start");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = diff_url_to_after(&from, dir.path());
    let _ = other.kill();
    let _ = other.wait();
    out.assert_ok();
    assert!(
        out.stderr
            .contains("could not be copied (other sessions use it)"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("copied postgres"), "{}", out.stderr);
    assert!(out.stderr.contains("proven"), "{}", out.stderr);
    assert!(out.stdout.contains("ADD COLUMN qty"), "{}", out.stdout);
}

/// A small database of the same server that nobody else is connected to is copied as a
/// template for the proof instead of being rebuilt (`-v` says which); the copy is checked
/// like a rebuilt one and the source is left as it was.
#[test]
fn an_idle_url_source_is_copied_for_the_proof() {
    let (from, dir) = migrated_items();
    let out = diff_url_to_after(&from, dir.path());
    out.assert_ok();
    assert!(out.stderr.contains("copied"), "{}", out.stderr);
    assert!(out.stderr.contains("proven"), "{}", out.stderr);
    assert!(out.stdout.contains("ADD COLUMN qty"), "{}", out.stdout);
    assert_eq!(
        from.scalar("SELECT count(*) FROM information_schema.columns WHERE column_name = 'qty'")
            .as_deref(),
        Some("0")
    );
}
