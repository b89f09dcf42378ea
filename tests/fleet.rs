//! Fleets: one command on many PostgreSQL databases (`--targets FILE`, `[targets]`), against
//! the harness's real server, and a real PgBouncer in transaction mode for the refusal.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{PgDb, migrate_cmd, pg, repo, run, workdir};

fn app_migrations() -> String {
    repo("migrations")
}

fn newest() -> i64 {
    std::fs::read_dir(app_migrations())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with('V')
        })
        .count() as i64
}

/// `migrate ARGS` in `dir` with the application's migrations.
fn migrate(dir: &Path, args: &[&str]) -> crate::support::Run {
    run(migrate_cmd()
        .current_dir(dir)
        .args(["--migrations", &app_migrations()])
        .args(args))
}

fn write_targets(dir: &Path, dbs: &[PgDb]) {
    let text: String = dbs
        .iter()
        .enumerate()
        .map(|(i, db)| format!("tenant{i:02}\t{}\n", db.url))
        .collect();
    std::fs::write(dir.join("targets.txt"), format!("# the fleet\n\n{text}")).unwrap();
}

fn applied(db: &PgDb) -> i64 {
    if history_rows(db) == 0 {
        return 0;
    }
    db.scalar("SELECT count(*) FROM migrate_history WHERE state = 'applied' AND kind = 'versioned'")
        .unwrap_or_else(|| "0".into())
        .parse()
        .unwrap()
}

fn history_rows(db: &PgDb) -> i64 {
    if db
        .scalar("SELECT to_regclass('migrate_history') IS NULL")
        .as_deref()
        == Some("t")
    {
        return 0;
    }
    db.scalar("SELECT count(*) FROM migrate_history")
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn fifty_databases_with_eight_jobs_and_one_broken_target_failing_alone() {
    let dbs: Vec<PgDb> = (0..50).map(|_| pg()).collect();
    dbs[7].execute("CREATE TABLE users (id int)");
    let dir = workdir();
    write_targets(dir.path(), &dbs);
    let up = migrate(dir.path(), &["up", "--targets", "targets.txt", "-j", "8"]);
    up.assert_code(1);
    assert!(
        up.stderr.contains("up: 1 target of 50 failed"),
        "{}",
        up.stderr
    );
    // The summary lists the failure first, with its error.
    let first_row = up
        .stdout
        .lines()
        .find(|line| line.contains("tenant"))
        .unwrap();
    assert!(first_row.contains("tenant07"), "{}", up.stdout);
    assert!(
        first_row.contains("relation \"users\" already exists"),
        "{}",
        up.stdout
    );
    assert!(
        up.stdout
            .contains(&format!("{} migrations applied", 49 * newest() + 2)),
        "{}",
        up.stdout
    );
    for (i, db) in dbs.iter().enumerate() {
        if i == 7 {
            // V1 and V2 committed before V3 failed, each in its own transaction.
            assert_eq!(applied(db), 2);
        } else {
            assert_eq!(applied(db), newest(), "tenant{i:02}");
        }
    }
    // Fixed and rerun: only the broken target has work left.
    dbs[7].execute("DROP TABLE users");
    let up = migrate(
        dir.path(),
        &[
            "--format",
            "json",
            "up",
            "--targets",
            "targets.txt",
            "-j",
            "8",
        ],
    );
    up.assert_ok();
    let report: Value = serde_json::from_str(&up.stdout).unwrap();
    assert_eq!(report["totals"]["ok"], 50);
    assert_eq!(report["totals"]["applied"], newest() - 2);
    let fixed = report["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["target"] == "tenant07")
        .unwrap();
    assert_eq!(fixed["version_before"], 2);
    assert_eq!(fixed["version_after"], newest());
    for db in &dbs {
        assert_eq!(applied(db), newest());
    }
    // status --exit-code over the fleet: all current.
    let status = migrate(
        dir.path(),
        &["status", "--targets", "targets.txt", "--exit-code"],
    );
    status.assert_ok();
    assert!(
        status.stdout.contains("status 50 targets: 50 ok"),
        "{}",
        status.stdout
    );
}

#[test]
fn a_run_killed_half_way_is_finished_by_a_rerun_exactly_once() {
    let dbs: Vec<PgDb> = (0..16).map(|_| pg()).collect();
    let dir = workdir();
    write_targets(dir.path(), &dbs);
    let mut child = migrate_cmd()
        .current_dir(dir.path())
        .args(["--migrations", &app_migrations()])
        .args(["up", "--targets", "targets.txt", "-j", "2"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill it once some targets are done and others are not.
    let start = Instant::now();
    loop {
        let done = dbs.iter().filter(|db| applied(db) == newest()).count();
        if done >= 2 || start.elapsed() > Duration::from_secs(60) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let unfinished = dbs.iter().filter(|db| applied(db) < newest()).count();
    assert!(unfinished > 0, "the run finished before it could be killed");
    let up = migrate(dir.path(), &["up", "--targets", "targets.txt", "-j", "4"]);
    up.assert_ok();
    for db in &dbs {
        assert_eq!(applied(db), newest());
        assert_eq!(
            history_rows(db),
            newest(),
            "every migration recorded exactly once"
        );
        assert_eq!(
            db.scalar("SELECT count(*) FROM migrate_history WHERE state <> 'applied'"),
            Some("0".into())
        );
    }
}

#[test]
fn status_and_drift_over_a_fleet_report_each_target() {
    let dbs: Vec<PgDb> = (0..3).map(|_| pg()).collect();
    let dir = workdir();
    write_targets(dir.path(), &dbs);
    migrate(dir.path(), &["up", "--targets", "targets.txt"]).assert_ok();
    dbs[1].execute(
        "DELETE FROM migrate_history WHERE version = (SELECT max(version) FROM migrate_history)",
    );
    dbs[2].execute("CREATE TABLE not_in_migrations (id int)");

    let status = migrate(
        dir.path(),
        &[
            "--format",
            "json",
            "status",
            "--targets",
            "targets.txt",
            "--exit-code",
        ],
    );
    status.assert_code(2);
    let report: Value = serde_json::from_str(&status.stdout).unwrap();
    let targets = report["targets"].as_array().unwrap();
    assert_eq!(targets[0]["target"], "tenant01");
    assert_eq!(targets[0]["outcome"], "problems");
    assert_eq!(targets[0]["pending"], 1);

    let drift = migrate(
        dir.path(),
        &["drift", "--targets", "targets.txt", "-j", "3"],
    );
    drift.assert_code(2);
    let rows: Vec<&str> = drift
        .stdout
        .lines()
        .filter(|l| l.contains("tenant"))
        .collect();
    assert!(
        rows[0].contains("tenant") && rows[0].contains("problems"),
        "{}",
        drift.stdout
    );
    assert!(
        drift.stdout.contains("3 targets: 1 ok, 2 with problems"),
        "{}",
        drift.stdout
    );
}

#[test]
fn validate_check_and_seed_run_on_every_target() {
    let dbs: Vec<PgDb> = (0..2).map(|_| pg()).collect();
    let dir = workdir();
    write_targets(dir.path(), &dbs);
    migrate(dir.path(), &["up", "--targets", "targets.txt"]).assert_ok();
    let validate = migrate(dir.path(), &["validate", "--targets", "targets.txt"]);
    validate.assert_ok();
    assert!(
        validate.stdout.contains("validate 2 targets: 2 ok"),
        "{}",
        validate.stdout
    );
    let check = migrate(
        dir.path(),
        &["check", "--targets", "targets.txt", "-j", "2"],
    );
    check.assert_ok();
    assert!(
        check.stdout.contains("check 2 targets: 2 ok"),
        "{}",
        check.stdout
    );
    let seed = run(migrate_cmd()
        .current_dir(dir.path())
        .args(["--migrations", &app_migrations(), "--seeds", &repo("seeds")])
        .args(["seed", "--env", "dev", "--targets", "targets.txt"]));
    seed.assert_ok();
    for db in &dbs {
        assert_eq!(
            db.scalar("SELECT count(*) > 0 FROM users").as_deref(),
            Some("t"),
            "seeded"
        );
    }
    // A target whose history was edited: validate finds it, the other stays ok.
    dbs[0].execute("UPDATE migrate_history SET checksum = 'edited' WHERE version = 1");
    let validate = migrate(dir.path(), &["validate", "--targets", "targets.txt"]);
    validate.assert_code(2);
    assert!(
        validate.stdout.contains("1 ok, 1 with problems"),
        "{}",
        validate.stdout
    );
}

#[test]
fn targets_come_from_a_query_on_a_catalog_database() {
    let catalog = pg();
    let (a, b, inactive) = (pg(), pg(), pg());
    catalog.execute(&format!(
        "CREATE TABLE tenants (url text, name text, active bool);
         INSERT INTO tenants VALUES ('{}', 'alpha', true), ('{}', 'beta', true), ('{}', 'gamma', false);",
        a.url, b.url, inactive.url
    ));
    let dir = workdir();
    std::fs::write(
        dir.path().join("migrate.toml"),
        format!(
            "[targets]\nquery = \"SELECT url, name FROM tenants WHERE active ORDER BY name\"\ncatalog_url = \"{}\"\njobs = 2\n",
            catalog.url
        ),
    )
    .unwrap();
    let up = migrate(dir.path(), &["up"]);
    up.assert_ok();
    assert!(
        up.stdout.contains("alpha") && up.stdout.contains("beta"),
        "{}",
        up.stdout
    );
    assert!(up.stdout.contains("(-j 2)"), "{}", up.stdout);
    assert_eq!(applied(&a), newest());
    assert_eq!(applied(&b), newest());
    assert_eq!(history_rows(&inactive), 0);
}

#[test]
fn bad_targets_are_clear_errors_and_change_nothing() {
    let db = pg();
    let dir = workdir();
    // A malformed line and a duplicate: nothing runs.
    std::fs::write(
        dir.path().join("targets.txt"),
        format!("a\t{}\n\t{}\na\t{}\n", db.url, db.url, db.url),
    )
    .unwrap();
    let up = migrate(dir.path(), &["up", "--targets", "targets.txt"]);
    up.assert_code(1);
    assert!(
        up.stderr.contains("invalid targets in targets.txt"),
        "{}",
        up.stderr
    );
    assert!(
        up.stderr.contains("targets.txt:2: expected"),
        "{}",
        up.stderr
    );
    assert!(up.stderr.contains("`a` is listed twice"), "{}", up.stderr);
    assert_eq!(history_rows(&db), 0);
    let missing = migrate(dir.path(), &["up", "--targets", "nowhere.txt"]);
    missing.assert_code(1);
    assert!(
        missing
            .stderr
            .contains("cannot read targets file nowhere.txt"),
        "{}",
        missing.stderr
    );
    // -j without targets is a usage error.
    let usage = run(migrate_cmd().current_dir(dir.path()).args([
        "--database-url",
        &db.url,
        "up",
        "-j",
        "2",
    ]));
    usage.assert_code(64);
    assert!(
        usage
            .stderr
            .contains("--jobs and --fail-fast work with targets"),
        "{}",
        usage.stderr
    );
    // An unreachable target fails alone; with --fail-fast, nothing after it starts.
    std::fs::write(
        dir.path().join("targets.txt"),
        format!("down\tpostgres://nobody@127.0.0.1:1/none\nup\t{}\n", db.url),
    )
    .unwrap();
    let up = migrate(
        dir.path(),
        &["up", "--targets", "targets.txt", "-j", "1", "--fail-fast"],
    );
    up.assert_code(1);
    assert!(up.stdout.contains("not started"), "{}", up.stdout);
    assert_eq!(history_rows(&db), 0);
}

/// A PgBouncer in transaction mode in front of the harness's server, run as `postgres`
/// (PgBouncer refuses root); stopped when dropped.
struct Bouncer {
    dir: tempfile::TempDir,
    port: u16,
}

impl Drop for Bouncer {
    fn drop(&mut self) {
        if let Ok(pid) = std::fs::read_to_string(self.dir.path().join("pgbouncer.pid")) {
            let _ = Command::new("kill").arg(pid.trim()).status();
        }
    }
}

fn pgbouncer(db: &PgDb, mode: &str) -> Bouncer {
    let binary = ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect(
            "pgbouncer is not installed: scripts/setup installs it (apt-get install pgbouncer)",
        );
    // postgres://user:password@host:port/db
    let rest = db.url.split_once("://").unwrap().1;
    let (userinfo, hostpart) = rest.rsplit_once('@').unwrap();
    let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    let hostport = hostpart.split('/').next().unwrap();
    let (host, server_port) = hostport.rsplit_once(':').unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::Builder::new()
        .prefix("pgbouncer")
        .tempdir()
        .unwrap();
    let path = dir.path();
    std::fs::write(
        path.join("pgbouncer.ini"),
        format!(
            "[databases]\n* = host={host} port={server_port} user={user} password={password}\n\
             [pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\nauth_type = trust\n\
             auth_file = {users}\npool_mode = {mode}\nunix_socket_dir =\n\
             pidfile = {pid}\nlogfile = {log}\n",
            users = path.join("users.txt").display(),
            pid = path.join("pgbouncer.pid").display(),
            log = path.join("pgbouncer.log").display(),
        ),
    )
    .unwrap();
    std::fs::write(path.join("users.txt"), format!("\"{user}\" \"\"\n")).unwrap();
    let mut command = Command::new(binary);
    command.arg("-d");
    if unsafe { libc::geteuid() } == 0 {
        let status = Command::new("chown")
            .args(["-R", "postgres"])
            .arg(path)
            .status()
            .unwrap();
        assert!(
            status.success(),
            "cannot hand {} to postgres",
            path.display()
        );
        command.args(["-u", "postgres"]);
    }
    let status = command.arg(path.join("pgbouncer.ini")).status().unwrap();
    let log = std::fs::read_to_string(path.join("pgbouncer.log")).unwrap_or_default();
    assert!(status.success(), "pgbouncer did not start: {log}");
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "pgbouncer does not listen on {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Bouncer { dir, port }
}

#[test]
fn a_transaction_mode_pooler_is_refused_before_anything_runs_and_session_mode_is_not() {
    let db = pg();
    let bouncer = pgbouncer(&db, "transaction");
    let through = format!("postgres://postgres@127.0.0.1:{}/{}", bouncer.port, db.name);
    let dir = workdir();
    std::fs::write(
        dir.path().join("targets.txt"),
        format!("pooled\t{through}\n"),
    )
    .unwrap();
    for args in [
        vec!["--database-url", &through, "up"],
        vec!["up", "--targets", "targets.txt"],
    ] {
        let up = migrate(dir.path(), &args);
        up.assert_code(1);
        let all = format!("{}{}", up.stdout, up.stderr);
        assert!(
            all.contains("is a connection pooler in transaction mode"),
            "{all}"
        );
        assert!(
            all.contains("nothing was run") || all.contains("FAILED"),
            "{all}"
        );
        assert_eq!(history_rows(&db), 0, "nothing was written");
    }
    let up = migrate(dir.path(), &["--database-url", &through, "up"]);
    assert!(up.stderr.contains("[postgres] direct_url"), "{}", up.stderr);
    // `[postgres] direct_url` is what migrate uses then.
    std::fs::write(
        dir.path().join("migrate.toml"),
        format!(
            "[postgres]\nurl = \"{through}\"\ndirect_url = \"{}\"\n",
            db.url
        ),
    )
    .unwrap();
    migrate(dir.path(), &["up"]).assert_ok();
    assert_eq!(applied(&db), newest());
    drop(bouncer);

    // Session pooling keeps the server session: migrate works through it.
    let other = pg();
    let bouncer = pgbouncer(&other, "session");
    let through = format!(
        "postgres://postgres@127.0.0.1:{}/{}",
        bouncer.port, other.name
    );
    migrate(workdir().path(), &["--database-url", &through, "up"]).assert_ok();
    assert_eq!(applied(&other), newest());
}
