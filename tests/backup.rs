//! `migrate backup` and `migrate maintain` through the binary against real servers: a backup
//! of the application's schema and of Mongo and Redis restores to equal content; a flipped
//! byte fails verification; a killed backup leaves only a `.partial` that prune removes;
//! retention keeps exactly what the policy names; bad input changes nothing.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::{
    MongoProbe, PgDb, Run, migrate_cmd, mongo, pg, redis, redis_connection, run, workdir,
};
use crate::support::{json, repo};
use mongodb::bson::{Document, doc};
use serde_json::Value;

/// Runs the binary in `dir` (backups land in `dir/backups`).
fn migrate(dir: &Path, args: &[&str]) -> Run {
    run(migrate_cmd()
        .current_dir(dir)
        .args([
            "--migrations",
            &repo("migrations"),
            "--seeds",
            &repo("seeds"),
        ])
        .args(args))
}

fn migrated_with_seeds() -> PgDb {
    let db = pg();
    let dir = workdir();
    migrate(dir.path(), &["--database-url", &db.url, "up"]).assert_ok();
    migrate(
        dir.path(),
        &["--database-url", &db.url, "seed", "--env", "dev"],
    )
    .assert_ok();
    db
}

/// A small database without the application schema, for tests that do not need it.
fn small_db() -> PgDb {
    let db = pg();
    db.execute(
        "CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL);
         INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 500) g;
         CREATE TABLE notes (id serial PRIMARY KEY, body text);
         INSERT INTO notes (body) VALUES ('a'), ('b');",
    );
    db
}

fn create_backup(dir: &Path, urls: &[&str]) -> Value {
    let mut args: Vec<&str> = urls.to_vec();
    args.extend(["--format", "json", "backup", "create"]);
    let created = migrate(dir, &args);
    created.assert_ok();
    json(&created)["backup"].clone()
}

/// Every directory under `root` (itself included) is 0700 and every file 0600: backups hold
/// personal data.
fn assert_private(root: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(root).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "{} is {mode:o}", root.display());
    let mut checked = 0;
    for entry in std::fs::read_dir(root).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            assert_private(&path);
        } else {
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{} is {mode:o}", path.display());
        }
        checked += 1;
    }
    assert!(checked > 0, "{} is empty", root.display());
}

fn backup_dirs(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir.join("backups"))
        .map(|entries| {
            entries
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Row count and a hash of the content of every user table (partitions separately).
fn table_contents(db: &PgDb) -> BTreeMap<String, (String, String)> {
    let tables: Vec<String> = db
        .query(
            "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c
             JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
               AND n.nspname NOT LIKE 'pg\\_toast%' ORDER BY 1",
        )
        .into_iter()
        .map(|row| row[0].clone().unwrap())
        .collect();
    tables
        .into_iter()
        .map(|table| {
            let row = db.query(&format!(
                "SELECT count(*), md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) FROM ONLY {table} t"
            ));
            let count = row[0][0].clone().unwrap();
            let hash = row[0][1].clone().unwrap();
            (table, (count, hash))
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------

#[test]
fn create_then_restore_gives_back_every_store() {
    let source = migrated_with_seeds();
    let mongo_source = mongo();
    let probe = MongoProbe::new(&mongo_source);
    probe.command(doc! {
        "create": "profiles",
        "validator": {"$jsonSchema": {"bsonType": "object", "required": ["email"]}},
        "validationLevel": "moderate",
    });
    let documents: Vec<Document> = (0..250)
        .map(|i| doc! {"email": format!("user{i}@example.com"), "n": i, "tags": ["a", "b"], "nested": {"x": f64::from(i) / 2.0}})
        .collect();
    probe.command(doc! {"insert": "profiles", "documents": documents});
    probe.command(doc! {"createIndexes": "profiles", "indexes": [
        {"key": {"email": 1}, "name": "email_unique", "unique": true},
        {"key": {"n": -1}, "name": "n_desc"},
    ]});
    probe.command(doc! {"insert": "events", "documents": [{"kind": "login"}, {"kind": "logout"}]});
    let redis_source = redis();
    let mut conn = redis_connection(&redis_source);
    for i in 0..1500 {
        redis::cmd("SET")
            .arg(format!("cache:{i}"))
            .arg(format!("value {i}"))
            .exec(&mut conn)
            .unwrap();
    }
    redis::cmd("SET")
        .arg("session:42")
        .arg("token")
        .arg("EX")
        .arg(3600)
        .exec(&mut conn)
        .unwrap();
    redis::cmd("HSET")
        .arg("user:1")
        .arg("name")
        .arg("Ada")
        .arg("email")
        .arg("ada@example.com")
        .exec(&mut conn)
        .unwrap();
    redis::cmd("ZADD")
        .arg("leaderboard")
        .arg(10)
        .arg("ada")
        .arg(20)
        .arg("bob")
        .exec(&mut conn)
        .unwrap();

    let dir = workdir();
    let urls = [
        "--database-url",
        &source.url,
        "--mongodb-url",
        &mongo_source.url,
        "--redis-url",
        &redis_source.url,
    ];
    let backup = create_backup(dir.path(), &urls);
    let id = backup["id"].as_str().unwrap().to_string();
    assert_eq!(backup_dirs(dir.path()), vec![id.clone()]);
    assert_private(&dir.path().join("backups"));
    let manifest = &backup["manifest"];
    assert_eq!(manifest["stores"]["redis"]["keys"], 1503);
    assert_eq!(manifest["stores"]["redis"]["keys_with_ttl"], 1);
    assert_eq!(
        manifest["stores"]["mongo"]["collections"]["profiles"]["documents"],
        250
    );
    let migrations = manifest["stores"]["postgres"]["migrations"]
        .as_array()
        .unwrap();
    let files = std::fs::read_dir(repo("migrations"))
        .unwrap()
        .filter(|e| {
            let name = e
                .as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .into_owned();
            name.starts_with('V') && name.ends_with(".sql")
        })
        .count();
    assert_eq!(migrations.len(), files, "applied versions are recorded");
    assert!(
        manifest["files"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["sha256"].as_str().unwrap().len() == 64)
    );
    // Recorded in backup_snapshots, which the dump itself does not contain.
    assert_eq!(
        source
            .scalar(&format!(
                "SELECT status || ' ' || array_to_string(stores, ',') FROM backup_snapshots WHERE backup_id = '{id}'"
            ))
            .as_deref(),
        Some("completed postgres,mongo,redis")
    );

    let target = pg();
    let mongo_target = mongo();
    let redis_target = redis();
    let restored = migrate(
        dir.path(),
        &[
            "--database-url",
            &source.url,
            "--yes",
            "backup",
            "restore",
            &id,
            "--target",
            &target.url,
            "--target",
            &mongo_target.url,
            "--target",
            &redis_target.url,
        ],
    );
    restored.assert_ok();
    assert!(
        restored.stderr.contains("warning:") && restored.stderr.contains("gdpr_requests"),
        "a restore warns about re-applying erasures: {}",
        restored.stderr
    );

    // PostgreSQL: the same rows in every table.
    let mut before = table_contents(&source);
    let mut after = table_contents(&target);
    let snapshots = "public.backup_snapshots";
    assert_eq!(
        after[snapshots].0,
        manifest["stores"]["postgres"]["tables"][snapshots].to_string(),
        "backup_snapshots as of the snapshot"
    );
    before.remove(snapshots);
    after.remove(snapshots);
    assert!(before.len() > 40, "{before:?}");
    assert_eq!(before, after);

    // Mongo: documents, indexes and the validator.
    let restored_probe = MongoProbe::new(&mongo_target);
    for collection in ["profiles", "events"] {
        assert_eq!(
            probe.documents(collection),
            restored_probe.documents(collection),
            "{collection}"
        );
        assert_eq!(
            probe.index_names(collection),
            restored_probe.index_names(collection)
        );
    }
    assert_eq!(
        restored_probe.index_names("profiles"),
        vec!["_id_", "email_unique", "n_desc"]
    );
    let options = restored_probe.options("profiles");
    assert_eq!(options.get_str("validationLevel").unwrap(), "moderate");
    assert!(options.get_document("validator").is_ok());

    // Redis: every key, its value and its TTL.
    let mut restored_conn = redis_connection(&redis_target);
    let size: u64 = redis::cmd("DBSIZE").query(&mut restored_conn).unwrap();
    assert_eq!(size, 1503);
    let value: String = redis::cmd("GET")
        .arg("cache:777")
        .query(&mut restored_conn)
        .unwrap();
    assert_eq!(value, "value 777");
    let name: String = redis::cmd("HGET")
        .arg("user:1")
        .arg("name")
        .query(&mut restored_conn)
        .unwrap();
    assert_eq!(name, "Ada");
    let score: f64 = redis::cmd("ZSCORE")
        .arg("leaderboard")
        .arg("bob")
        .query(&mut restored_conn)
        .unwrap();
    assert_eq!(score, 20.0);
    let ttl: i64 = redis::cmd("TTL")
        .arg("session:42")
        .query(&mut restored_conn)
        .unwrap();
    assert!((3000..=3600).contains(&ttl), "TTL kept, got {ttl}");
    let no_ttl: i64 = redis::cmd("TTL")
        .arg("cache:1")
        .query(&mut restored_conn)
        .unwrap();
    assert_eq!(no_ttl, -1);
}

#[test]
fn verify_checks_hashes_restores_and_names_a_flipped_byte() {
    let source = small_db();
    let dir = workdir();
    let backup = create_backup(dir.path(), &["--database-url", &source.url]);
    let id = backup["id"].as_str().unwrap();

    let verified = migrate(
        dir.path(),
        &[
            "--database-url",
            &source.url,
            "--format",
            "json",
            "backup",
            "verify",
            id,
            "--restore",
        ],
    );
    verified.assert_ok();
    let report = json(&verified);
    assert_eq!(report["ok"], true);
    assert_eq!(report["kind"], "restore");
    let manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("backups").join(id).join("manifest.json"))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(manifest["verifications"][0]["kind"], "restore");
    assert_eq!(manifest["verifications"][0]["ok"], true);
    let listed = migrate(dir.path(), &["backup", "list"]);
    listed.assert_ok();
    assert!(listed.stdout.contains("restore 20"), "{}", listed.stdout);
    // Flip one byte of the largest data file.
    let archive = dir.path().join("backups").join(id).join("postgres");
    let victim = std::fs::read_dir(&archive)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".dat.gz"))
        .max_by_key(|p| std::fs::metadata(p).unwrap().len())
        .unwrap();
    let mut bytes = std::fs::read(&victim).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&victim, bytes).unwrap();
    let name = format!("postgres/{}", victim.file_name().unwrap().to_string_lossy());
    let bad = migrate(dir.path(), &["backup", "verify", id]);
    bad.assert_code(2);
    assert!(bad.stdout.contains(&name), "{}", bad.stdout);
    assert!(bad.stdout.contains("sha256 mismatch"), "{}", bad.stdout);
    // A restore refuses the damaged backup.
    let target = pg();
    let refused = migrate(
        dir.path(),
        &["--yes", "backup", "restore", id, "--target", &target.url],
    );
    refused.assert_code(1);
    assert!(refused.stderr.contains(&name), "{}", refused.stderr);
    assert_eq!(
        target
            .scalar("SELECT count(*) FROM pg_class WHERE relname = 'items'")
            .as_deref(),
        Some("0")
    );
}

#[test]
fn latest_names_the_newest_backup_for_verify_and_restore() {
    let source = small_db();
    let dir = workdir();
    let url = ["--database-url", source.url.as_str()];
    let none = migrate(
        dir.path(),
        &[&url[..], &["backup", "verify", "latest"]].concat(),
    );
    none.assert_code(1);
    assert!(
        none.stderr.starts_with("error: no backup in"),
        "{}",
        none.stderr
    );
    assert!(
        none.stderr.contains("migrate backup create"),
        "{}",
        none.stderr
    );

    let first = create_backup(dir.path(), &url);
    source.execute("INSERT INTO items VALUES (10000, 'after the first backup')");
    let second = create_backup(dir.path(), &url);
    assert_ne!(first["id"], second["id"]);

    let verified = migrate(
        dir.path(),
        &[
            &url[..],
            &["--format", "json", "backup", "verify", "latest"],
        ]
        .concat(),
    );
    verified.assert_ok();
    assert_eq!(json(&verified)["id"], second["id"]);
    assert!(
        verified.stderr.contains(&format!(
            "latest backup: {}",
            second["id"].as_str().unwrap()
        )),
        "{}",
        verified.stderr
    );

    let target = pg();
    let restored = migrate(
        dir.path(),
        &[
            "--yes",
            "--format",
            "json",
            "backup",
            "restore",
            "latest",
            "--target",
            &target.url,
        ],
    );
    restored.assert_ok();
    assert_eq!(json(&restored)["plan"]["id"], second["id"]);
    assert_eq!(
        target.scalar("SELECT count(*) FROM items").as_deref(),
        Some("501")
    );
}

#[test]
fn a_killed_backup_leaves_a_partial_that_list_ignores_and_prune_removes() {
    let source = small_db();
    let dir = workdir();
    let mut child = migrate_cmd()
        .current_dir(dir.path())
        .env("MIGRATE_TEST_BACKUP_PAUSE_MS", "60000")
        .args(["--database-url", &source.url, "backup", "create"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the PostgreSQL part is written and the process pauses.
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let started = Instant::now();
    loop {
        let line = lines
            .next()
            .expect("backup create ended before pausing")
            .unwrap();
        if line.contains("pausing") {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "no pause");
    }
    child.kill().unwrap();
    child.wait().unwrap();

    let names = backup_dirs(dir.path());
    assert_eq!(names.len(), 1, "{names:?}");
    assert!(names[0].ends_with(".partial"), "{names:?}");
    assert!(
        dir.path()
            .join("backups")
            .join(&names[0])
            .join("postgres/toc.dat")
            .exists()
    );

    let listed = migrate(dir.path(), &["--format", "json", "backup", "list"]);
    listed.assert_ok();
    assert_eq!(json(&listed)["backups"].as_array().unwrap().len(), 0);
    assert!(listed.stderr.contains("ignored"), "{}", listed.stderr);

    // Prune without --yes changes nothing.
    let refused = migrate(dir.path(), &["backup", "prune", "--keep-last", "3"]);
    refused.assert_code(1);
    assert_eq!(refused.stderr.lines().count(), 1, "{}", refused.stderr);
    assert!(refused.stderr.contains("--yes"), "{}", refused.stderr);
    assert_eq!(backup_dirs(dir.path()), names);

    let dry = migrate(
        dir.path(),
        &["backup", "prune", "--keep-last", "3", "--dry-run"],
    );
    dry.assert_ok();
    assert!(dry.stdout.contains("would remove"), "{}", dry.stdout);
    assert_eq!(backup_dirs(dir.path()), names);

    migrate(
        dir.path(),
        &["--yes", "backup", "prune", "--keep-last", "3"],
    )
    .assert_ok();
    assert!(backup_dirs(dir.path()).is_empty());
}

/// Sets a backup's recorded creation time (and, optionally, a passed restore verification).
fn rewrite_manifest(dir: &Path, id: &str, created_at: &str, verified: bool) {
    let path = dir.join("backups").join(id).join("manifest.json");
    let mut manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    manifest["created_at"] = Value::from(created_at);
    if verified {
        manifest["verifications"] = serde_json::json!([{
            "at": created_at, "kind": "restore", "ok": true, "problems": [], "duration_ms": 1
        }]);
    }
    std::fs::write(&path, serde_json::to_string_pretty(&manifest).unwrap()).unwrap();
}

#[test]
fn prune_keeps_exactly_the_backups_the_policy_names() {
    let source = redis();
    let dir = workdir();
    let mut ids = Vec::new();
    for _ in 0..7 {
        let backup = create_backup(dir.path(), &["--redis-url", &source.url]);
        ids.push(backup["id"].as_str().unwrap().to_string());
    }
    // Creation times in the reverse order of the names (WAL-G #636): ids[0] is the newest.
    let times = [
        "2026-03-10T22:00:00Z", // newest: last, daily, weekly (W11), monthly (03)
        "2026-03-10T01:00:00Z", // same day: goes
        "2026-03-09T12:00:00Z", // daily
        "2026-03-05T12:00:00Z", // weekly (W10)
        "2026-02-20T12:00:00Z", // monthly (02)
        "2026-02-01T12:00:00Z", // goes
        "2025-06-01T12:00:00Z", // the newest verified one: kept
    ];
    for (id, at) in ids.iter().zip(times) {
        rewrite_manifest(dir.path(), id, at, at.starts_with("2025"));
    }
    std::fs::write(
        dir.path().join("migrate.toml"),
        "[backup]\nkeep_last = 1\nkeep_daily = 2\nkeep_weekly = 2\nkeep_monthly = 2\n",
    )
    .unwrap();

    let dry = migrate(
        dir.path(),
        &["--format", "json", "backup", "prune", "--dry-run"],
    );
    dry.assert_ok();
    let plan = json(&dry);
    let deleted: Vec<&str> = plan["plan"]["delete"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert_eq!(deleted, vec![ids[1].as_str(), ids[5].as_str()]);
    assert_eq!(
        backup_dirs(dir.path()).len(),
        7,
        "a dry run deletes nothing"
    );

    let pruned = migrate(dir.path(), &["--yes", "backup", "prune"]);
    pruned.assert_ok();
    let mut expected = vec![
        ids[0].clone(),
        ids[2].clone(),
        ids[3].clone(),
        ids[4].clone(),
        ids[6].clone(),
    ];
    expected.sort();
    assert_eq!(backup_dirs(dir.path()), expected);

    // A policy with more room than there are backups is a no-op.
    let noop = migrate(
        dir.path(),
        &["--yes", "backup", "prune", "--keep-last", "10"],
    );
    noop.assert_ok();
    assert_eq!(backup_dirs(dir.path()), expected);

    // No policy at all is refused.
    std::fs::write(dir.path().join("migrate.toml"), "[backup]\n").unwrap();
    let refused = migrate(dir.path(), &["--yes", "backup", "prune"]);
    refused.assert_code(1);
    assert!(
        refused.stderr.contains("no retention policy"),
        "{}",
        refused.stderr
    );
    assert_eq!(backup_dirs(dir.path()), expected);
}

#[test]
fn bad_input_is_one_line_exit_1_and_changes_nothing() {
    let source = small_db();
    let dir = workdir();
    let backup = create_backup(dir.path(), &["--database-url", &source.url]);
    let id = backup["id"].as_str().unwrap();

    for args in [
        vec!["backup", "verify", "20200101T000000Z-abcd"],
        vec![
            "--yes",
            "backup",
            "restore",
            "nope",
            "--target",
            &source.url,
        ],
    ] {
        let unknown = migrate(dir.path(), &args);
        unknown.assert_code(1);
        assert!(
            unknown.stderr.starts_with("error: no backup"),
            "{}",
            unknown.stderr
        );
    }

    // The source is not empty: refused without --clean, before any change.
    source.execute("INSERT INTO items VALUES (10000, 'after the backup')");
    let refused = migrate(
        dir.path(),
        &["--yes", "backup", "restore", id, "--target", &source.url],
    );
    refused.assert_code(1);
    let first = refused.stderr.lines().next().unwrap();
    assert!(first.contains("not empty"), "{}", refused.stderr);
    assert_eq!(
        source.scalar("SELECT count(*) FROM items").as_deref(),
        Some("501")
    );

    // Without --yes (and without a terminal) nothing happens either.
    let target = pg();
    let unconfirmed = migrate(
        dir.path(),
        &["backup", "restore", id, "--target", &target.url],
    );
    unconfirmed.assert_code(1);
    assert!(
        unconfirmed.stderr.contains("pass --yes"),
        "{}",
        unconfirmed.stderr
    );
    assert_eq!(
        target
            .scalar("SELECT count(*) FROM pg_class WHERE relname = 'items'")
            .as_deref(),
        Some("0")
    );

    // With --clean and --yes the source goes back to the backup's content.
    migrate(
        dir.path(),
        &[
            "--yes",
            "backup",
            "restore",
            id,
            "--target",
            &source.url,
            "--clean",
        ],
    )
    .assert_ok();
    assert_eq!(
        source.scalar("SELECT count(*) FROM items").as_deref(),
        Some("500")
    );

    // A store the backup does not have.
    let mongo_target = mongo();
    let missing = migrate(
        dir.path(),
        &[
            "--yes",
            "backup",
            "restore",
            id,
            "--target",
            &mongo_target.url,
        ],
    );
    missing.assert_code(1);
    assert!(
        missing.stderr.contains("no mongo part"),
        "{}",
        missing.stderr
    );
}

#[test]
fn a_pg_dump_older_than_the_server_is_refused() {
    let source = small_db();
    let dir = workdir();
    let bin = dir.path().join("old-bin");
    std::fs::create_dir(&bin).unwrap();
    let fake = bin.join("pg_dump");
    std::fs::write(&fake, "#!/bin/sh\necho 'pg_dump (PostgreSQL) 9.6.24'\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(
        dir.path().join("migrate.toml"),
        format!("[backup]\npg_bin_dir = \"{}\"\n", bin.display()),
    )
    .unwrap();
    let refused = migrate(
        dir.path(),
        &["--database-url", &source.url, "backup", "create"],
    );
    refused.assert_code(1);
    assert!(refused.stderr.contains("9.6.24"), "{}", refused.stderr);
    assert!(
        refused.stderr.contains("older than the server"),
        "{}",
        refused.stderr
    );
    assert!(refused.stderr.contains("pg_bin_dir"), "{}", refused.stderr);
    assert!(backup_dirs(dir.path()).is_empty(), "nothing is left behind");
}

#[test]
fn maintain_refreshes_views_creates_partitions_and_vacuums() {
    let db = migrated_with_seeds();
    let dir = workdir();
    std::fs::write(
        dir.path().join("migrate.toml"),
        "[maintain]\nvacuum_tables = [\"tasks\", \"public.notifications\"]\npartition_months_ahead = 2\n",
    )
    .unwrap();
    // The views were filled when the migrations ran, before the seeds.
    assert_eq!(
        db.scalar("SELECT count(*) FROM project_stats").as_deref(),
        Some("0")
    );

    let dry = migrate(
        dir.path(),
        &["--database-url", &db.url, "maintain", "--dry-run"],
    );
    dry.assert_ok();
    assert!(
        dry.stdout
            .contains("REFRESH MATERIALIZED VIEW CONCURRENTLY"),
        "{}",
        dry.stdout
    );
    assert_eq!(
        db.scalar(
            "SELECT count(*) FROM pg_class WHERE relkind = 'r' AND relname LIKE 'activity_logs_y%'"
        )
        .as_deref(),
        Some("0"),
        "a dry run creates nothing"
    );

    let ran = migrate(
        dir.path(),
        &["--database-url", &db.url, "--format", "json", "maintain"],
    );
    ran.assert_ok();
    let report = json(&ran);
    let steps = report["steps"].as_array().unwrap();
    let summary: Vec<(String, String)> = steps
        .iter()
        .map(|s| {
            (
                s["kind"].as_str().unwrap().to_string(),
                s["target"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            ("refresh".to_string(), "public.project_stats".to_string()),
            (
                "refresh".to_string(),
                "public.user_dashboard_stats".to_string()
            ),
            ("partitions".to_string(), "public.activity_logs".to_string()),
            ("vacuum".to_string(), "tasks".to_string()),
            ("vacuum".to_string(), "public.notifications".to_string()),
        ]
    );
    assert!(steps.iter().all(|s| s["duration_ms"].is_u64()));
    assert!(steps[0]["sql"].as_str().unwrap().contains("CONCURRENTLY"));
    assert!(
        steps[2]["result"]
            .as_str()
            .unwrap()
            .starts_with("created activity_logs_y")
    );
    assert_eq!(
        db.scalar(
            "SELECT count(*) FROM pg_class WHERE relkind = 'r' AND relname LIKE 'activity_logs_y%'"
        )
        .as_deref(),
        Some("3"),
        "this month and two ahead"
    );
    assert_ne!(
        db.scalar("SELECT count(*) FROM project_stats").as_deref(),
        Some("0"),
        "project_stats was refreshed"
    );
    assert_eq!(
        db.scalar("SELECT last_vacuum IS NOT NULL AND last_analyze IS NOT NULL FROM pg_stat_user_tables WHERE relname = 'tasks'").as_deref(),
        Some("t")
    );

    let again = migrate(dir.path(), &["--database-url", &db.url, "maintain"]);
    again.assert_ok();
    assert!(
        again.stdout.contains("all partitions already exist"),
        "{}",
        again.stdout
    );

    std::fs::write(
        dir.path().join("migrate.toml"),
        "[maintain]\nvacuum_tables = [\"no_such_table\"]\n",
    )
    .unwrap();
    let refused = migrate(dir.path(), &["--database-url", &db.url, "maintain"]);
    refused.assert_code(1);
    assert!(
        refused.stderr.contains("no_such_table"),
        "{}",
        refused.stderr
    );
}

/// Backups connect to Mongo exactly as every other command does (#14: backups had their own
/// copy of the connection code, with other messages).
#[test]
fn backup_reports_an_unreachable_mongo_as_up_does() {
    let dir = workdir();
    std::fs::create_dir(dir.path().join("mongo_migrations")).unwrap();
    let url = "mongodb://127.0.0.1:1/app?serverSelectionTimeoutMS=300&connectTimeoutMS=300";
    let first_line = |args: &[&str]| -> String {
        let result = run(migrate_cmd()
            .current_dir(dir.path())
            .args(["--mongodb-url", url])
            .args(args));
        result.assert_code(1);
        result
            .stderr
            .lines()
            .find(|line| line.starts_with("error:"))
            .unwrap_or_default()
            .to_string()
    };
    let up = first_line(&["up", "--store", "mongo"]);
    let backup = first_line(&["backup", "create", "--store", "mongo", "--dir", "b"]);
    assert!(
        up.starts_with("error: could not connect to MongoDB at 127.0.0.1:1/app"),
        "{up}"
    );
    assert_eq!(backup, up);
}
