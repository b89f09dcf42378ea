//! Point-in-time recovery through pgBackRest, against a real PostgreSQL that archives its WAL
//! (a sandbox started with archiving, one per test): `backup physical setup`, `backup create
//! --physical`, `backup list`, `backup verify --physical [--restore]`, `backup restore --physical
//! --to-time`, `backup prune --physical`, and the refusals and errors around them.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::json;
use crate::support::{Run, migrate_cmd, run, workdir};
use migrate::sandbox::{self, Service, StartOptions};

/// A PostgreSQL sandbox that archives into a pgBackRest repository, with a `migrate.toml`
/// holding its `[backup.physical]`; stopped when dropped.
struct Archiving {
    dir: tempfile::TempDir,
    url: String,
    repo: PathBuf,
    stanza: String,
}

impl Archiving {
    fn start(extra_config: &str) -> Archiving {
        let dir = workdir();
        // The restored data directories live here: the `postgres` OS user must reach them.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let state = sandbox::start_with(
            &dir.path().join("sb"),
            &[Service::Postgres],
            StartOptions { archive: true },
        )
        .unwrap_or_else(|e| panic!("test harness: cannot start an archiving PostgreSQL: {e:#}"));
        let url = state
            .url(Service::Postgres)
            .expect("the sandbox PostgreSQL runs")
            .to_string();
        let archive = state.archive.expect("the sandbox reports its archive");
        std::fs::write(
            dir.path().join("migrate.toml"),
            format!("{}{extra_config}", archive.config_section()),
        )
        .unwrap();
        Archiving {
            repo: archive.repo_path,
            stanza: archive.stanza,
            url,
            dir,
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn migrate(&self, args: &[&str]) -> Run {
        run(migrate_cmd()
            .current_dir(self.path())
            .env("DATABASE_URL", &self.url)
            .args(args))
    }

    fn sql(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        query(&self.url, sql)
    }
}

impl Drop for Archiving {
    fn drop(&mut self) {
        let _ = sandbox::stop(&self.dir.path().join("sb"));
    }
}

/// Every row of `sql`'s result, as text.
fn query(url: &str, sql: &str) -> Vec<Vec<Option<String>>> {
    try_query(url, sql).unwrap_or_else(|e| panic!("{url}: {sql}: {e}"))
}

/// [`query`], with the error (a server still starting up refuses connections).
fn try_query(url: &str, sql: &str) -> Result<Vec<Vec<Option<String>>>, String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let show = |e: tokio_postgres::Error| match e.as_db_error() {
            Some(db) => db.message().to_string(),
            None => e.to_string(),
        };
        let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
            .await
            .map_err(show)?;
        tokio::spawn(connection);
        let messages = client.simple_query(sql).await.map_err(show)?;
        Ok(messages
            .into_iter()
            .filter_map(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(row) => Some(
                    (0..row.len())
                        .map(|i| row.get(i).map(str::to_string))
                        .collect(),
                ),
                _ => None,
            })
            .collect())
    })
}

/// A server started on a restored data directory with the command `restore` printed; stopped
/// (as the data directory's owner) when dropped.
struct Restored {
    data_dir: PathBuf,
}

impl Drop for Restored {
    fn drop(&mut self) {
        let pg_ctl = migrate::sandbox::find_pg_bindir().unwrap().join("pg_ctl");
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(pg_ctl)
            .args(["stop", "-m", "immediate", "-w", "-D"])
            .arg(&self.data_dir)
            .output();
    }
}

#[test]
fn restore_to_a_time_holds_exactly_the_rows_before_it_and_the_dropped_table() {
    let server = Archiving::start("");
    server.migrate(&["backup", "physical", "setup"]).assert_ok();
    server.sql("CREATE TABLE items (id int PRIMARY KEY, note text)");
    server.sql("INSERT INTO items SELECT g, 'before backup' FROM generate_series(1, 100) g");
    let created = server.migrate(&["backup", "create", "--physical", "--format", "json"]);
    created.assert_ok();
    assert_eq!(json(&created)["backup"]["backup"]["type"], "full");

    server.sql("INSERT INTO items SELECT g, 'after backup' FROM generate_series(101, 150) g");
    // pgBackRest records backup times in whole seconds: keep the target clear of the backup.
    std::thread::sleep(Duration::from_millis(1500));
    let noted = server.sql("SELECT now()::text")[0][0].clone().unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    server.sql("INSERT INTO items SELECT g, 'too late' FROM generate_series(151, 200) g");
    server.sql("DROP TABLE items");
    // No WAL switch here: the restore itself gets the WAL reaching the target archived.

    let target = server.path().join("restored");
    let target_text = target.display().to_string();
    let restored = server.migrate(&[
        "backup",
        "restore",
        "--physical",
        "--to-time",
        &noted,
        "--data-dir",
        &target_text,
        "--yes",
        "--format",
        "json",
    ]);
    restored.assert_ok();

    // The restore had the WAL through the noted time archived: the listing shows the backup
    // and a window that reaches past it.
    let listed = server.migrate(&["backup", "list", "--format", "json"]);
    listed.assert_ok();
    let listing = json(&listed);
    let physical = &listing["physical"];
    assert_eq!(physical["backups"].as_array().unwrap().len(), 1);
    let latest = physical["window"]["latest"].as_str().unwrap();
    let noted_at = migrate::jobs::backup::physical::parse_target_time(&noted).unwrap();
    let latest_at = chrono::DateTime::parse_from_rfc3339(latest).unwrap();
    assert!(
        latest_at >= noted_at,
        "window ends {latest}, before {noted}"
    );
    assert_eq!(physical["window"]["latest_source"], "archived_wal");

    let report = json(&restored);
    let start_command = report["restored"]["start_command"].as_str().unwrap();
    let port = report["restored"]["port"].as_u64().unwrap();

    // A second restore into the same (now non-empty) directory is refused and changes nothing.
    let before = std::fs::read_dir(&target).unwrap().count();
    let again = server.migrate(&[
        "backup",
        "restore",
        "--physical",
        "--to-time",
        &noted,
        "--data-dir",
        &target_text,
        "--yes",
    ]);
    again.assert_code(1);
    assert!(again.stderr.contains("is not empty"), "{}", again.stderr);
    assert_eq!(std::fs::read_dir(&target).unwrap().count(), before);

    // Start it exactly as `restore` said, and look inside.
    let _running = Restored {
        data_dir: target.clone(),
    };
    let started = run(Command::new("sh").args(["-c", start_command]));
    started.assert_ok();
    let restored_url = format!("postgres://postgres:postgres@127.0.0.1:{port}/app");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let state = try_query(&restored_url, "SELECT pg_is_in_recovery()::text");
        if state
            .as_ref()
            .is_ok_and(|rows| rows[0][0].as_deref() == Some("false"))
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the restored server never promoted: {state:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let rows = query(
        &restored_url,
        "SELECT count(*)::text, min(id)::text, max(id)::text, \
                count(*) FILTER (WHERE note = 'too late')::text FROM items",
    );
    assert_eq!(
        rows[0],
        vec![
            Some("150".to_string()),
            Some("1".to_string()),
            Some("150".to_string()),
            Some("0".to_string())
        ]
    );
}

#[test]
fn verify_passes_a_test_restore_then_names_a_corrupted_repository_file_with_exit_2() {
    let server = Archiving::start("keep_full = 1\n");
    let first = server.migrate(&["backup", "physical", "setup", "--format", "json"]);
    first.assert_ok();
    assert_eq!(json(&first)["plan"]["config_action"], "create");
    let config = server.repo.join("pgbackrest.conf");
    let written = std::fs::read_to_string(&config).unwrap();
    // Idempotent: the second run finds everything in place and changes nothing.
    let second = server.migrate(&["backup", "physical", "setup", "--format", "json"]);
    second.assert_ok();
    let second = json(&second);
    assert_eq!(second["plan"]["config_action"], "unchanged");
    assert_eq!(second["done"]["checked"], true);
    assert_eq!(std::fs::read_to_string(&config).unwrap(), written);

    server.sql("CREATE TABLE projects (id int); INSERT INTO projects VALUES (1)");
    server
        .migrate(&["backup", "create", "--physical"])
        .assert_ok();
    server.sql("CREATE TABLE tasks (id int)");
    let verified = server.migrate(&[
        "backup",
        "verify",
        "--physical",
        "--restore",
        "--format",
        "json",
    ]);
    verified.assert_ok();
    let report = json(&verified);
    assert_eq!(report["ok"], true);
    // `tasks` came after the backup: the test restore replays the archived WAL up to now.
    assert_eq!(report["restore"]["tables_expected"], 2);
    assert_eq!(report["restore"]["tables_found"], 2);
    assert_eq!(report["restore"]["problems"].as_array().unwrap().len(), 0);

    // Prune: a second full backup makes the first one expire with keep_full = 1.
    server
        .migrate(&["backup", "create", "--physical"])
        .assert_ok();
    let pruned = server.migrate(&["backup", "prune", "--physical", "--yes", "--format", "json"]);
    pruned.assert_ok();
    let pruned = json(&pruned);
    assert_eq!(pruned["pruned"]["expired"].as_array().unwrap().len(), 1);
    assert_eq!(pruned["plan"]["keep"].as_array().unwrap().len(), 1);

    // Corrupt one file of the remaining backup.
    let backup_dir = server.repo.join("backup").join(&server.stanza);
    let label = std::fs::read_dir(&backup_dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|name| name.ends_with('F'))
        .expect("a full backup directory");
    let victim = backup_dir.join(&label).join("pg_data/PG_VERSION.gz");
    let mut bytes = std::fs::read(&victim).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    bytes[middle + 1] ^= 0xff;
    std::fs::write(&victim, bytes).unwrap();

    let bad = server.migrate(&["backup", "verify", "--physical"]);
    bad.assert_code(2);
    assert!(
        bad.stdout.contains(&victim.display().to_string()),
        "verify does not name {}:\n{}\n{}",
        victim.display(),
        bad.stdout,
        bad.stderr
    );
    let bad_json = server.migrate(&[
        "backup",
        "verify",
        "--physical",
        "--restore",
        "--format",
        "json",
    ]);
    bad_json.assert_code(2);
    let report = json(&bad_json);
    assert_eq!(report["ok"], false);
    assert!(
        report.get("restore").is_none(),
        "no test restore from a damaged repository"
    );
    let files: Vec<&str> = report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["file"].as_str())
        .collect();
    assert!(
        files.contains(&victim.display().to_string().as_str()),
        "{files:?}"
    );

    // A repository that lost its stanza: a clear error, pointing at setup.
    std::fs::remove_dir_all(server.repo.join("backup")).unwrap();
    std::fs::remove_dir_all(server.repo.join("archive")).unwrap();
    let gone = server.migrate(&["backup", "list"]);
    gone.assert_code(1);
    assert!(
        gone.stderr.contains("stanza `sandbox` does not exist")
            && gone.stderr.contains("physical setup"),
        "{}",
        gone.stderr
    );
}

/// A directory with a server-less `[backup.physical]` (nothing here is ever started).
fn configured_dir(section: &str) -> tempfile::TempDir {
    let dir = workdir();
    std::fs::write(dir.path().join("migrate.toml"), section).unwrap();
    dir
}

fn migrate_in(dir: &Path, args: &[&str]) -> Run {
    run(migrate_cmd().current_dir(dir).args(args))
}

#[test]
fn restore_refuses_a_non_empty_directory_before_doing_anything() {
    let dir = configured_dir(
        "[backup.physical]\nstanza = \"main\"\nrepo_path = \"repo\"\ndata_dir = \"data\"\n",
    );
    let target = dir.path().join("occupied");
    std::fs::create_dir(&target).unwrap();
    std::fs::write(target.join("keep.txt"), "mine").unwrap();
    let refused = migrate_in(
        dir.path(),
        &[
            "backup",
            "restore",
            "--physical",
            "--to-time",
            "2026-01-01 00:00:00+00",
            "--data-dir",
            "occupied",
            "--yes",
        ],
    );
    refused.assert_code(1);
    assert!(
        refused.stderr.contains("is not empty"),
        "{}",
        refused.stderr
    );
    assert_eq!(
        std::fs::read_to_string(target.join("keep.txt")).unwrap(),
        "mine"
    );
    assert_eq!(std::fs::read_dir(&target).unwrap().count(), 1);
    assert!(!dir.path().join("repo").exists(), "nothing written");
}

#[test]
fn bad_physical_settings_are_clear_errors() {
    // No [backup.physical] at all.
    let none = configured_dir("");
    let run_none = migrate_in(none.path(), &["backup", "create", "--physical"]);
    run_none.assert_code(1);
    assert!(
        run_none.stderr.contains("no [backup.physical]"),
        "{}",
        run_none.stderr
    );

    for (section, expected) in [
        (
            "[backup.physical]\nrepo_path = \"r\"\ndata_dir = \"d\"\n",
            "needs `stanza`",
        ),
        (
            "[backup.physical]\nstanza = \"a b\"\nrepo_path = \"r\"\ndata_dir = \"d\"\n",
            "stanza `a b`",
        ),
        (
            "[backup.physical]\nstanza = \"main\"\ndata_dir = \"d\"\n",
            "needs `repo_path`",
        ),
        (
            "[backup.physical]\nstanza = \"main\"\nrepo_path = \"r\"\ndata_dir = \"d\"\nretention = 3\n",
            "unknown field `retention`",
        ),
    ] {
        let dir = configured_dir(section);
        let failed = migrate_in(dir.path(), &["backup", "list"]);
        failed.assert_code(1);
        assert!(
            failed.stderr.contains(expected),
            "{section}: {}",
            failed.stderr
        );
    }

    // A stanza whose config was never written: every command points at setup.
    let unset = configured_dir(
        "[backup.physical]\nstanza = \"main\"\nrepo_path = \"repo\"\ndata_dir = \"data\"\n",
    );
    for args in [
        &["backup", "list"][..],
        &["backup", "create", "--physical"][..],
        &["backup", "verify", "--physical"][..],
    ] {
        let failed = migrate_in(unset.path(), args);
        failed.assert_code(1);
        assert!(
            failed.stderr.contains("does not exist") && failed.stderr.contains("physical setup"),
            "{args:?}: {}",
            failed.stderr
        );
    }
    // Prune without any retention configured.
    let pruned = migrate_in(
        unset.path(),
        &["backup", "prune", "--physical", "--dry-run"],
    );
    pruned.assert_code(1);
    assert!(pruned.stderr.contains("no retention"), "{}", pruned.stderr);

    // A time without a zone is a usage error (64), as are --physical options without it.
    let zoneless = migrate_in(
        unset.path(),
        &[
            "backup",
            "restore",
            "--physical",
            "--to-time",
            "2026-01-01 10:00",
            "--data-dir",
            "x",
        ],
    );
    zoneless.assert_code(64);
    assert!(
        zoneless.stderr.contains("with a zone"),
        "{}",
        zoneless.stderr
    );
    migrate_in(
        unset.path(),
        &["backup", "restore", "--to-time", "2026-01-01 10:00:00Z"],
    )
    .assert_code(64);
    migrate_in(unset.path(), &["backup", "create", "--type", "incr"]).assert_code(64);
    assert!(!unset.path().join("repo").exists(), "nothing written");
    assert!(!unset.path().join("x").exists(), "nothing written");
}
