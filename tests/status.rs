//! `migrate status` through the binary against real servers: `--exit-code` (exit 2 unless every
//! store is current), each store's current version at the top of its JSON entry, broken files
//! listed as `invalid`, and a baseline shown once.

use std::path::Path;

use crate::support::json;
use crate::support::{MongoDb, PgDb, RedisDb, migrate_cmd, mongo, pg, redis, run, workdir};

use crate::support::write_migration as write;

const V1: &str = "CREATE TABLE a (id int);\n-- migrate:down\nDROP TABLE a;\n";
const V2: &str = "CREATE TABLE b (id int);\n-- migrate:down\nDROP TABLE b;\n";
const MONGO_V1: &str = r#"{"up": [{"op": "create_collection", "collection": "notes"}],
"down": [{"op": "drop_collection", "collection": "notes"}]}"#;

/// A keyspace declaration at `version` (the Redis part of the config).
fn write_config(dir: &Path, version: u32) {
    std::fs::write(
        dir.join("migrate.toml"),
        format!(
            "[redis]\nnamespace = \"st\"\nschema_version = {version}\nnotify_keyspace_events = \"Ex\"\n\n\
             [[redis.keys]]\npattern = \"st:presence:{{user_id}}\"\ntype = \"hash\"\nttl = \"30s\"\npii = true\n"
        ),
    )
    .unwrap();
}

fn migrate(
    dir: &Path,
    db: &PgDb,
    mongo: &MongoDb,
    redis: &RedisDb,
    args: &[&str],
) -> crate::support::Run {
    run(migrate_cmd()
        .current_dir(dir)
        .args(["--database-url", &db.url])
        .args(["--mongodb-url", &mongo.url])
        .args(["--redis-url", &redis.url])
        .args(args))
}

/// `(store, version)` of each entry of a JSON status, in order.
fn versions(status: &serde_json::Value) -> Vec<(String, serde_json::Value)> {
    status["stores"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["store"].as_str().unwrap().to_string(),
                s["version"].clone(),
            )
        })
        .collect()
}

/// `status --exit-code`: the exit code, and the states of the PostgreSQL migrations.
fn exit_code_and_states(
    dir: &Path,
    db: &PgDb,
    mongo: &MongoDb,
    redis: &RedisDb,
) -> (i32, Vec<String>) {
    let result = migrate(
        dir,
        db,
        mongo,
        redis,
        &["--format", "json", "status", "--exit-code"],
    );
    let value = json(&result);
    let states = value["stores"][0]["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["state"].as_str().unwrap().to_string())
        .collect();
    (result.code, states)
}

#[test]
fn exit_code_is_2_until_every_store_is_current() {
    let (db, mongo, redis) = (pg(), mongo(), redis());
    let dir = workdir();
    let dir = dir.path();
    write(dir, "V1__a.sql", V1);
    write(dir, "V2__b.sql", V2);
    std::fs::create_dir_all(dir.join("mongo_migrations")).unwrap();
    std::fs::write(dir.join("mongo_migrations/V1__notes.json"), MONGO_V1).unwrap();
    write_config(dir, 1);

    // Nothing applied: pending everywhere, no version anywhere; without the flag, exit 0.
    let before = migrate(dir, &db, &mongo, &redis, &["--format", "json", "status"]);
    before.assert_ok();
    let null = serde_json::Value::Null;
    assert_eq!(
        versions(&json(&before)),
        [
            ("postgres".to_string(), null.clone()),
            ("mongo".to_string(), null.clone()),
            ("redis".to_string(), null)
        ]
    );
    migrate(dir, &db, &mongo, &redis, &["status", "--exit-code"]).assert_code(2);

    migrate(dir, &db, &mongo, &redis, &["up"]).assert_ok();
    let current = migrate(
        dir,
        &db,
        &mongo,
        &redis,
        &["--format", "json", "status", "--exit-code"],
    );
    current.assert_ok();
    let value = json(&current);
    assert_eq!(
        versions(&value),
        [
            ("postgres".to_string(), serde_json::json!(2)),
            ("mongo".to_string(), serde_json::json!(1)),
            ("redis".to_string(), serde_json::json!(1))
        ]
    );
    // The version is the entry's third field, before the migration list.
    let keys: Vec<&String> = value["stores"][0].as_object().unwrap().keys().collect();
    assert_eq!(keys[..3], ["store", "database", "version"]);

    // Each kind of disagreement exits 2; putting things back exits 0 again.
    let a = dir.join("migrations/V1__a.sql");
    std::fs::write(&a, format!("{V1}-- edited\n")).unwrap();
    assert_eq!(
        exit_code_and_states(dir, &db, &mongo, &redis),
        (2, vec!["modified".into(), "applied".into()])
    );
    std::fs::remove_file(&a).unwrap();
    assert_eq!(
        exit_code_and_states(dir, &db, &mongo, &redis),
        (2, vec!["missing".into(), "applied".into()])
    );
    std::fs::write(&a, V1).unwrap();
    assert_eq!(
        exit_code_and_states(dir, &db, &mongo, &redis),
        (0, vec!["applied".into(), "applied".into()])
    );

    write(dir, "V3__c.sql", "CREATE TABLE c (id int);\n");
    assert_eq!(exit_code_and_states(dir, &db, &mongo, &redis).0, 2);
    migrate(dir, &db, &mongo, &redis, &["up"]).assert_ok();
    assert_eq!(exit_code_and_states(dir, &db, &mongo, &redis).0, 0);

    // A no-transaction file that fails at its second statement is left dirty.
    write(
        dir,
        "V4__d.sql",
        "-- migrate:no-transaction\nCREATE TABLE d (id int);\nSELECT no_such_column FROM d;\n",
    );
    migrate(dir, &db, &mongo, &redis, &["up"]).assert_code(1);
    let (code, states) = exit_code_and_states(dir, &db, &mongo, &redis);
    assert_eq!(
        (code, states.last().map(String::as_str)),
        (2, Some("dirty"))
    );
    std::fs::remove_file(dir.join("migrations/V4__d.sql")).unwrap();
    db.execute("DROP TABLE d; DELETE FROM migrate_history WHERE version = 4");
    assert_eq!(exit_code_and_states(dir, &db, &mongo, &redis).0, 0);

    // A pending Mongo migration.
    std::fs::write(
        dir.join("mongo_migrations/V2__more.json"),
        r#"{"up": [{"op": "create_collection", "collection": "more"}],
"down": [{"op": "drop_collection", "collection": "more"}]}"#,
    )
    .unwrap();
    migrate(dir, &db, &mongo, &redis, &["status", "--exit-code"]).assert_code(2);
    migrate(dir, &db, &mongo, &redis, &["up", "--store", "mongo"]).assert_ok();
    migrate(dir, &db, &mongo, &redis, &["status", "--exit-code"]).assert_ok();

    // A keyspace declared at a newer version than the server's.
    write_config(dir, 2);
    let outdated = migrate(
        dir,
        &db,
        &mongo,
        &redis,
        &["--format", "json", "status", "--exit-code"],
    );
    outdated.assert_code(2);
    let value = json(&outdated);
    assert_eq!(value["stores"][2]["keyspace"]["state"], "outdated");
    assert_eq!(value["stores"][2]["version"], 1);
    migrate(dir, &db, &mongo, &redis, &["up", "--store", "redis"]).assert_ok();
    migrate(dir, &db, &mongo, &redis, &["status", "--exit-code"]).assert_ok();
}

#[test]
fn an_empty_scaffold_is_an_invalid_row_not_only_a_warning() {
    let db = pg();
    let dir = workdir();
    let dir = dir.path();
    write(dir, "V1__a.sql", V1);
    crate::support::migrate_in(&db, dir, &["up"]).assert_ok();
    // `new` writes a file with no statement yet; another file does not parse.
    crate::support::migrate_in(&db, dir, &["new", "add_tasks"]).assert_ok();
    write(
        dir,
        "V3__broken.sql",
        "CREATE TABLE x (id int);\n-- migrate:bogus\n",
    );

    let human = crate::support::migrate_in(&db, dir, &["status"]);
    human.assert_ok();
    let rows: Vec<Vec<&str>> = human
        .stdout
        .lines()
        .filter(|line| line.contains("postgres") && line.contains('│'))
        .map(|line| {
            line.split(['│', '┆'])
                .map(str::trim)
                .filter(|cell| !cell.is_empty())
                .collect()
        })
        .collect();
    assert_eq!(rows.len(), 3, "{}", human.stdout);
    assert_eq!(rows[1][..4], ["postgres", "2", "add_tasks", "invalid"]);
    assert_eq!(rows[1][4], "the up part has no SQL statement");
    assert_eq!(rows[2][..4], ["postgres", "3", "broken", "invalid"]);
    assert!(
        rows[2][4].starts_with("line 2: directive `-- migrate:bogus`"),
        "{:?}",
        rows[2]
    );
    assert!(
        human
            .stdout
            .contains("1 applied, 0 pending, 2 with problems"),
        "{}",
        human.stdout
    );
    // The warnings stay on stderr.
    assert!(
        human.stderr.contains("V2__add_tasks.sql"),
        "{}",
        human.stderr
    );

    let json_status =
        crate::support::migrate_in(&db, dir, &["--format", "json", "status", "--exit-code"]);
    json_status.assert_code(2);
    let value = json(&json_status);
    let entry = &value["stores"][0]["migrations"][1];
    assert_eq!(entry["state"], "invalid");
    assert_eq!(entry["file"], "migrations/V2__add_tasks.sql");
    assert_eq!(value["stores"][0]["summary"]["problems"], 2);

    // `validate` names each broken file once (as a file problem).
    let validate = crate::support::migrate_in(&db, dir, &["--format", "json", "validate"]);
    validate.assert_code(2);
    assert_eq!(json(&validate)["problems"].as_array().unwrap().len(), 2);
}

#[test]
fn an_applied_file_that_no_longer_parses_is_invalid_not_missing() {
    let db = pg();
    let dir = workdir();
    let dir = dir.path();
    write(dir, "V1__a.sql", V1);
    crate::support::migrate_in(&db, dir, &["up"]).assert_ok();
    write(dir, "V1__a.sql", "");
    let result =
        crate::support::migrate_in(&db, dir, &["--format", "json", "status", "--exit-code"]);
    result.assert_code(2);
    let entry = &json(&result)["stores"][0]["migrations"][0];
    assert_eq!(entry["state"], "invalid");
    assert!(entry["applied_at"].is_string());
    assert_eq!(
        entry["note"],
        "applied; the file is invalid: the up part has no SQL statement"
    );
}

#[test]
fn a_baseline_is_one_row_counted_as_baseline() {
    let db = pg();
    let dir = workdir();
    let dir = dir.path();
    write(dir, "V1__a.sql", V1);
    write(dir, "V2__b.sql", V2);
    crate::support::migrate_in(&db, dir, &["baseline", "1"]).assert_ok();

    let human = crate::support::migrate_in(&db, dir, &["status"]);
    human.assert_ok();
    let version_1_rows = human
        .stdout
        .lines()
        .filter(|line| line.starts_with("│ postgres ┆ 1 "))
        .count();
    assert_eq!(version_1_rows, 1, "{}", human.stdout);
    assert!(
        human
            .stdout
            .contains("0 applied, 1 adopted by baseline, 1 pending, 0 with problems"),
        "{}",
        human.stdout
    );

    let value = json(&crate::support::migrate_in(
        &db,
        dir,
        &["--format", "json", "status"],
    ));
    let store = &value["stores"][0];
    assert_eq!(store["version"], 1);
    let states: Vec<(u64, &str)> = store["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["version"].as_u64().unwrap(), m["state"].as_str().unwrap()))
        .collect();
    assert_eq!(states, [(1, "baseline"), (2, "pending")]);
    assert_eq!(
        store["summary"],
        serde_json::json!({"applied": 0, "baseline": 1, "pending": 1, "problems": 0})
    );
    crate::support::migrate_in(&db, dir, &["up"]).assert_ok();
    crate::support::migrate_in(&db, dir, &["status", "--exit-code"]).assert_ok();
}
