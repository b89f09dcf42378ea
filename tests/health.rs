//! `migrate health` against real servers: each finding is provoked for real, reported with the
//! right object, and gone once the cause is fixed.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{PgDb, migrate_cmd, mongo, pg, redis, redis_connection, run, workdir};

/// Runs `migrate health --format json` with `config` as migrate.toml and the given URLs.
fn health(config: &str, urls: &[(&str, &str)], extra: &[&str]) -> (crate::support::Run, Value) {
    let dir = workdir();
    std::fs::write(dir.path().join("migrate.toml"), config).unwrap();
    let mut cmd = migrate_cmd();
    cmd.current_dir(dir.path()).args(["--format", "json"]);
    for (flag, url) in urls {
        cmd.args([flag, url]);
    }
    cmd.arg("health").args(extra);
    let result = run(&mut cmd);
    let value = serde_json::from_str(&result.stdout).unwrap_or_else(|e| {
        panic!(
            "not one JSON document ({e}):\n{}\n{}",
            result.stdout, result.stderr
        )
    });
    (result, value)
}

fn pg_health(db: &PgDb, config: &str) -> (crate::support::Run, Value) {
    health(config, &[("--database-url", &db.url)], &["--store", "pg"])
}

/// The findings of `check` in the report, as (object, message).
fn findings(report: &Value, check: &str) -> Vec<(String, String)> {
    report["stores"]
        .as_array()
        .unwrap_or_else(|| panic!("no stores in {report:#}"))
        .iter()
        .flat_map(|store| store["findings"].as_array().unwrap().iter())
        .filter(|f| f["check"] == check)
        .map(|f| {
            (
                f["object"].as_str().unwrap().to_string(),
                f["message"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Polls `health` until `check` has (or, with `present = false`, no longer has) a finding on
/// `object`: the statistics views are updated asynchronously.
fn eventually(
    db: &PgDb,
    config: &str,
    check: &str,
    object: &str,
    present: bool,
) -> (crate::support::Run, Value) {
    let start = Instant::now();
    loop {
        let (result, report) = pg_health(db, config);
        let found = findings(&report, check).iter().any(|(o, _)| o == object);
        if found == present {
            return (result, report);
        }
        if start.elapsed() > Duration::from_secs(15) {
            panic!(
                "{check} on {object}: expected present={present}\n{}",
                serde_json::to_string_pretty(&report).unwrap()
            );
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn an_idle_transaction_is_reported_with_its_session_then_gone_after_commit() {
    let db = pg();
    let config = "[health]\nidle_in_transaction = \"1s\"\n";
    db.execute("BEGIN; SELECT 1");
    std::thread::sleep(Duration::from_millis(1500));
    let (result, report) = pg_health(&db, config);
    result.assert_code(2);
    let idle = findings(&report, "idle-in-transaction");
    assert_eq!(idle.len(), 1, "{report:#}");
    assert!(idle[0].0.starts_with("pid "), "{idle:?}");
    assert!(idle[0].0.contains(&db.name), "{idle:?}");
    assert!(idle[0].1.contains("threshold 1.0s"), "{idle:?}");
    assert_eq!(report["healthy"], false);
    assert!(report["counts"]["warning"].as_u64().unwrap() >= 1);
    db.execute("COMMIT");
    let (_, report) = pg_health(&db, config);
    assert!(
        findings(&report, "idle-in-transaction").is_empty(),
        "{report:#}"
    );
}

#[test]
fn a_session_waiting_for_a_lock_names_its_blocker() {
    let db = pg();
    db.execute("CREATE TABLE held (id int)");
    db.execute("BEGIN; LOCK TABLE held IN ACCESS EXCLUSIVE MODE");
    let mut waiter = Command::new("psql")
        .args(["-X", "-q", "-c", "SELECT count(*) FROM held", &db.url])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("psql must be installed");
    std::thread::sleep(Duration::from_millis(1500));
    let config = "[health]\nlock_wait = \"1s\"\n";
    let (result, report) = pg_health(&db, config);
    result.assert_code(2);
    let waits = findings(&report, "lock-wait");
    assert_eq!(waits.len(), 1, "{report:#}");
    let holder = db.scalar("SELECT pg_backend_pid()").unwrap();
    assert!(
        waits[0].1.contains(&format!("held by pid {holder}")),
        "{waits:?}"
    );
    assert!(
        waits[0].1.contains("SELECT count(*) FROM held"),
        "{waits:?}"
    );
    db.execute("COMMIT");
    assert!(waiter.wait().unwrap().success());
    let (_, report) = pg_health(&db, config);
    assert!(findings(&report, "lock-wait").is_empty(), "{report:#}");
}

#[test]
fn unused_duplicate_and_foreign_key_indexes_are_found_then_gone_when_fixed() {
    let db = pg();
    db.execute(
        "CREATE TABLE parent (id int PRIMARY KEY);
         CREATE TABLE child (id int PRIMARY KEY, parent_id int REFERENCES parent, name text, code text UNIQUE);
         INSERT INTO parent SELECT g FROM generate_series(1, 10) g;
         INSERT INTO child SELECT g, 1 + g % 10, 'n' || g, 'c' || g FROM generate_series(1, 1000) g;
         CREATE INDEX child_name_idx ON child (name);
         CREATE INDEX child_name_again_idx ON child (name);
         ANALYZE parent; ANALYZE child;",
    );
    let config = "[health]\nunused_index_min_size = \"0B\"\nfk_index_min_rows = 0\n";
    let (result, report) = pg_health(&db, config);
    result.assert_code(2);
    let unused: Vec<String> = findings(&report, "unused-index")
        .into_iter()
        .map(|f| f.0)
        .collect();
    assert_eq!(
        unused,
        ["public.child_name_again_idx", "public.child_name_idx"],
        "the indexes of the primary key and the unique constraint work without scans: {report:#}"
    );
    let duplicates = findings(&report, "duplicate-index");
    assert_eq!(duplicates.len(), 1, "{report:#}");
    assert_eq!(duplicates[0].0, "child_name_idx");
    assert!(
        duplicates[0].1.contains("child_name_again_idx"),
        "{duplicates:?}"
    );
    let fks = findings(&report, "foreign-key-without-index");
    assert_eq!(fks.len(), 1, "{report:#}");
    assert_eq!(fks[0].0, "child.child_parent_id_fkey");
    assert!(fks[0].1.contains("references parent"), "{fks:?}");

    // Fixed: one name index goes, the other is used, the foreign key gets its index.
    db.execute(
        "DROP INDEX child_name_again_idx;
         CREATE INDEX child_parent_id_idx ON child (parent_id);
         SET enable_seqscan = off;
         SELECT * FROM child WHERE name = 'n1';
         SELECT * FROM child WHERE parent_id = 1;
         RESET enable_seqscan;",
    );
    let (result, report) = eventually(&db, config, "unused-index", "public.child_name_idx", false);
    assert!(
        findings(&report, "duplicate-index").is_empty(),
        "{report:#}"
    );
    assert!(
        findings(&report, "foreign-key-without-index").is_empty(),
        "{report:#}"
    );
    assert!(findings(&report, "unused-index").is_empty(), "{report:#}");
    result.assert_ok();
    assert_eq!(report["healthy"], true);
}

#[test]
fn a_long_transaction_a_redundant_index_and_a_nearly_used_sequence_are_reported() {
    let db = pg();
    db.execute(
        "CREATE TABLE counters (id int GENERATED BY DEFAULT AS IDENTITY, a int, b int);
         CREATE INDEX counters_a_idx ON counters (a);
         CREATE INDEX counters_a_b_idx ON counters (a, b);
         SELECT setval(pg_get_serial_sequence('counters', 'id'), 2000000000);",
    );
    let mut sleeper = Command::new("psql")
        .args(["-X", "-q", "-c", "SELECT pg_sleep(4)", &db.url])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("psql must be installed");
    std::thread::sleep(Duration::from_millis(1500));
    let config = "[health]\nlong_transaction = \"1s\"\nsequence_used = 0.9\n";
    let (result, report) = pg_health(&db, config);
    result.assert_code(2);
    let long = findings(&report, "long-transaction");
    assert_eq!(long.len(), 1, "{report:#}");
    assert!(long[0].1.contains("SELECT pg_sleep(4)"), "{long:?}");
    let redundant = findings(&report, "redundant-index");
    assert_eq!(redundant.len(), 1, "{report:#}");
    assert_eq!(redundant[0].0, "counters_a_idx");
    assert!(redundant[0].1.contains("counters_a_b_idx"), "{redundant:?}");
    let sequences = findings(&report, "sequence");
    assert_eq!(sequences.len(), 1, "{report:#}");
    assert_eq!(sequences[0].0, "public.counters_id_seq");
    assert!(
        sequences[0].1.contains("of 2147483647"),
        "an int column limits its bigint-typed identity sequence: {sequences:?}"
    );
    assert!(sleeper.wait().unwrap().success());
    db.execute("DROP INDEX counters_a_idx; ALTER TABLE counters ALTER COLUMN id TYPE bigint;");
    let (_, report) = pg_health(&db, config);
    assert!(
        findings(&report, "long-transaction").is_empty(),
        "{report:#}"
    );
    assert!(
        findings(&report, "redundant-index").is_empty(),
        "{report:#}"
    );
}

#[test]
fn dead_tuples_are_reported_until_vacuum() {
    let db = pg();
    db.execute(
        "CREATE TABLE churn (id int) WITH (autovacuum_enabled = false);
         INSERT INTO churn SELECT generate_series(1, 1000);
         DELETE FROM churn WHERE id > 100;",
    );
    let config = "[health]\ndead_tuple_min = 100\ndead_tuple_ratio = 0.5\n";
    let (result, report) = eventually(&db, config, "dead-tuples", "public.churn", true);
    result.assert_code(2);
    let dead = findings(&report, "dead-tuples");
    assert!(dead[0].1.starts_with("900 dead rows, 90%"), "{dead:?}");
    assert!(dead[0].1.contains("last vacuum never"), "{dead:?}");
    db.execute("VACUUM churn");
    eventually(&db, config, "dead-tuples", "public.churn", false);
}

#[test]
fn slow_statements_come_from_pg_stat_statements_or_the_report_says_how_to_enable_it() {
    let db = pg();
    let config = "[health]\nslow_query = \"200ms\"\n";
    let (_, report) = pg_health(&db, config);
    let missing = findings(&report, "slow-queries");
    assert_eq!(missing.len(), 1, "{report:#}");
    assert!(
        missing[0].1.contains("slow queries not checked"),
        "{missing:?}"
    );
    // The harness's server is a `migrate sandbox` server: pg_stat_statements is loaded.
    db.execute("CREATE EXTENSION pg_stat_statements");
    db.execute("SELECT pg_sleep(0.3)");
    let (result, report) = pg_health(&db, config);
    result.assert_code(2);
    let slow = findings(&report, "slow-query");
    assert!(
        slow.iter().any(|(_, message)| message.contains("pg_sleep")),
        "{report:#}"
    );
    let by_mean = report["stores"][0]["slowest_by_mean"].as_array().unwrap();
    assert!(!by_mean.is_empty(), "{report:#}");
    assert!(findings(&report, "slow-queries").is_empty(), "{report:#}");
}

#[test]
fn redis_persistence_off_is_reported_then_gone_when_turned_on() {
    let db = redis();
    let mut connection = redis_connection(&db);
    let get = |connection: &mut redis::Connection, name: &str| -> String {
        let reply: Vec<String> = redis::cmd("CONFIG")
            .arg("GET")
            .arg(name)
            .query(connection)
            .unwrap();
        reply[1].clone()
    };
    let (save, appendonly) = (
        get(&mut connection, "save"),
        get(&mut connection, "appendonly"),
    );
    let set = |connection: &mut redis::Connection, name: &str, value: &str| {
        redis::cmd("CONFIG")
            .arg("SET")
            .arg(name)
            .arg(value)
            .exec(connection)
            .unwrap();
    };
    set(&mut connection, "save", "");
    set(&mut connection, "appendonly", "no");
    // A limit far above what the server uses, with a threshold of 0: reported, harmlessly.
    set(&mut connection, "maxmemory", "100gb");
    let (result, report) = health(
        "[health]\nredis_memory = 0.0\n",
        &[("--redis-url", &db.url)],
        &[],
    );
    set(&mut connection, "maxmemory", "0");
    let persistence = findings(&report, "persistence");
    let memory = findings(&report, "memory");
    // Restore before asserting: the server is shared with other tests.
    set(&mut connection, "save", "3600 1");
    set(&mut connection, "appendonly", "yes");
    let (after_result, after) = health("", &[("--redis-url", &db.url)], &[]);
    set(&mut connection, "save", &save);
    set(&mut connection, "appendonly", &appendonly);

    result.assert_code(2);
    let objects: Vec<&str> = persistence.iter().map(|f| f.0.as_str()).collect();
    assert_eq!(objects.len(), 2, "{report:#}");
    assert!(objects[0].ends_with(" appendonly"), "{objects:?}");
    assert!(objects[1].ends_with(" save"), "{objects:?}");
    assert!(findings(&after, "persistence").is_empty(), "{after:#}");
    assert_eq!(memory.len(), 1, "{report:#}");
    assert!(
        memory[0].1.contains("used of maxmemory 100.0 GB"),
        "{memory:?}"
    );
    assert!(findings(&after, "memory").is_empty(), "{after:#}");
    after_result.assert_ok();
}

#[test]
fn redis_keys_without_their_declared_ttl_are_counted() {
    let db = redis();
    let mut connection = redis_connection(&db);
    redis::cmd("HSET")
        .arg("session:abc")
        .arg("user")
        .arg("1")
        .exec(&mut connection)
        .unwrap();
    let config = "[redis]\nnamespace = \"app\"\nschema_version = 1\n\n[[redis.keys]]\npattern = \"session:{sessionId}\"\ntype = \"hash\"\nttl = \"24h\"\npii = true\n";
    let (_, report) = health(config, &[("--redis-url", &db.url)], &[]);
    let ttl = findings(&report, "key-ttl");
    assert_eq!(ttl.len(), 1, "{report:#}");
    assert_eq!(ttl[0].0, "session:{sessionId}");
    assert!(ttl[0].1.starts_with("1 key without the TTL"), "{ttl:?}");
    assert!(ttl[0].1.contains("session:abc"), "{ttl:?}");
    redis::cmd("EXPIRE")
        .arg("session:abc")
        .arg(3600)
        .exec(&mut connection)
        .unwrap();
    let (_, report) = health(config, &[("--redis-url", &db.url)], &[]);
    assert!(findings(&report, "key-ttl").is_empty(), "{report:#}");
}

#[test]
fn mongo_collections_are_sized_and_untracked_index_use_is_said() {
    let db = mongo();
    let probe = crate::support::MongoProbe::new(&db);
    probe.command(
        mongodb::bson::doc! {"insert": "notes", "documents": [{"n": 1}, {"n": 2}, {"n": 3}]},
    );
    probe.command(mongodb::bson::doc! {"createIndexes": "notes", "indexes": [{"key": {"n": 1}, "name": "n_1"}]});
    let (_, report) = health("", &[("--mongodb-url", &db.url)], &[]);
    let store = &report["stores"][0];
    assert_eq!(store["store"], "mongo");
    let notes = store["largest"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "notes")
        .unwrap_or_else(|| panic!("{report:#}"));
    assert_eq!(notes["rows"], 3);
    assert!(notes["index_bytes"].as_i64().unwrap() >= 0);
    // Either the server tracks index use (mongod: n_1 is unused) or the report says it could
    // not check; never silence.
    let unused = findings(&report, "unused-index");
    let untracked = findings(&report, "unused-indexes");
    assert!(
        unused.iter().any(|f| f.0 == "notes.n_1")
            || untracked
                .iter()
                .any(|f| f.0.contains("notes") && f.1.contains("not checked")),
        "{report:#}"
    );
}

#[test]
fn bad_thresholds_and_no_store_are_clear_errors() {
    let db = pg();
    let dir = workdir();
    std::fs::write(
        dir.path().join("migrate.toml"),
        "[health]\ncache_hit_ratio = 95\n",
    )
    .unwrap();
    let result =
        run(migrate_cmd()
            .current_dir(dir.path())
            .args(["--database-url", &db.url, "health"]));
    result.assert_code(1);
    assert!(
        result
            .stderr
            .contains("[health] cache_hit_ratio is a fraction between 0 and 1, got 95"),
        "{}",
        result.stderr
    );
    let result = run(migrate_cmd().current_dir(dir.path()).args(["health"]));
    result.assert_code(1);
    let result = run(migrate_cmd().current_dir(workdir().path()).args(["health"]));
    result.assert_code(1);
    assert!(
        result.stderr.contains("health: no store to check"),
        "{}",
        result.stderr
    );
    let result = run(migrate_cmd()
        .current_dir(workdir().path())
        .args(["health", "--top", "0"]));
    result.assert_code(64);
}
