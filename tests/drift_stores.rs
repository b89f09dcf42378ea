//! `migrate drift` for MongoDB and Redis through the binary, against real servers: a fresh
//! `up` is clean (exit 0); a dropped index, a loosened validator, a key without its required
//! TTL and a key of no declared pattern are each reported by name (exit 2).

use std::path::Path;

use crate::support::json;
use crate::support::{MongoDb, RedisDb, migrate_cmd, mongo, redis, redis_connection, run, workdir};
use mongodb::bson::{Document, doc};

/// The application's Mongo migrations, copied into `dir/mongo_migrations`.
fn app_migrations(dir: &Path) {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("mongo_migrations");
    let target = dir.join("mongo_migrations");
    std::fs::create_dir_all(&target).unwrap();
    for entry in std::fs::read_dir(source).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            std::fs::copy(&path, target.join(path.file_name().unwrap())).unwrap();
        }
    }
}

/// A small keyspace: one pattern that must expire, one that never does.
fn write_config(dir: &Path, namespace: &str) {
    std::fs::write(
        dir.join("migrate.toml"),
        format!(
            "[redis]\nnamespace = \"{namespace}\"\nschema_version = 1\nnotify_keyspace_events = \"Ex\"\n\n\
             [[redis.keys]]\npattern = \"{namespace}:presence:{{user_id}}\"\ntype = \"hash\"\nttl = \"30s\"\npii = true\n\n\
             [[redis.keys]]\npattern = \"{namespace}:settings:{{user_id}}\"\ntype = \"string\"\nttl = \"none\"\npii = false\n"
        ),
    )
    .unwrap();
}

fn migrate(dir: &Path, mongo: &MongoDb, redis: &RedisDb, args: &[&str]) -> crate::support::Run {
    run(migrate_cmd()
        .current_dir(dir)
        .arg("--mongodb-url")
        .arg(&mongo.url)
        .arg("--redis-url")
        .arg(&redis.url)
        .args(args))
}

fn mongo_command(db: &MongoDb, command: Document) -> Document {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client = mongodb::Client::with_uri_str(&db.url).await.unwrap();
        client
            .database(&db.name)
            .run_command(command)
            .await
            .unwrap()
    })
}

fn database_names(db: &MongoDb) -> Vec<String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client = mongodb::Client::with_uri_str(&db.url).await.unwrap();
        client.list_database_names().await.unwrap()
    })
}

fn store<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["stores"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["store"] == name)
        .unwrap_or_else(|| panic!("no {name} section in {report}"))
}

/// Fresh up, clean drift, then every hand-made change is reported and the exit code is 2.
#[test]
fn mongo_and_redis_drift_is_clean_after_up_and_names_each_hand_made_change() {
    let mongo_db = mongo();
    let redis_db = redis();
    let dir = workdir();
    app_migrations(dir.path());
    let namespace = format!("ds{}", redis_db.db);
    write_config(dir.path(), &namespace);
    migrate(dir.path(), &mongo_db, &redis_db, &["up"]).assert_ok();
    let mut connection = redis_connection(&redis_db);
    let _: () = redis::cmd("SET")
        .arg(format!("{namespace}:settings:1"))
        .arg("x")
        .query(&mut connection)
        .unwrap();
    let _: () = redis::cmd("HSET")
        .arg(format!("{namespace}:presence:1"))
        .arg("at")
        .arg("1")
        .query(&mut connection)
        .unwrap();
    let _: () = redis::cmd("EXPIRE")
        .arg(format!("{namespace}:presence:1"))
        .arg(20)
        .query(&mut connection)
        .unwrap();

    let before = database_names(&mongo_db);
    let clean = migrate(dir.path(), &mongo_db, &redis_db, &["drift"]);
    clean.assert_ok();
    assert!(clean.stdout.contains("mongo: no drift"), "{}", clean.stdout);
    assert!(clean.stdout.contains("redis: no drift"), "{}", clean.stdout);
    // PostgreSQL was never configured: not news (named under -v only).
    assert!(!clean.stderr.contains("postgres"), "{}", clean.stderr);
    let clean_json = migrate(
        dir.path(),
        &mongo_db,
        &redis_db,
        &["--format", "json", "drift"],
    );
    clean_json.assert_ok();
    let report = json(&clean_json);
    assert_eq!(report["format_version"], 1);
    assert_eq!(report["clean"], true);
    assert_eq!(store(&report, "mongo")["clean"], true);
    assert_eq!(store(&report, "redis")["keys"]["scanned"], 2);
    let mut after = database_names(&mongo_db);
    // This test's shadows only (named after its database's first 24 characters): another
    // test of this binary may have one of its own open at this moment.
    let own: String = mongo_db.name.chars().take(24).collect();
    after.retain(|name| !before.contains(name) && name.starts_with(&format!("{own}_drift_")));
    assert!(after.is_empty(), "shadow databases left behind: {after:?}");

    // A Mongo index dropped and a validator loosened by hand.
    mongo_command(
        &mongo_db,
        doc! {"dropIndexes": "activityLogs", "index": "timestamp_-1"},
    );
    mongo_command(
        &mongo_db,
        doc! {"collMod": "documentContent", "validationLevel": "off"},
    );
    // A Redis key without its required TTL, and one of no declared pattern.
    let _: () = redis::cmd("PERSIST")
        .arg(format!("{namespace}:presence:1"))
        .query(&mut connection)
        .unwrap();
    let _: () = redis::cmd("SET")
        .arg("stray:key")
        .arg("1")
        .query(&mut connection)
        .unwrap();

    let drifted = migrate(dir.path(), &mongo_db, &redis_db, &["drift"]);
    drifted.assert_code(2);
    let out = &drifted.stdout;
    for wanted in [
        "missing    activityLogs.timestamp_-1",
        "changed    documentContent",
        "validationLevel: expected \"strict\", actual \"off\"",
        "missing-ttl",
        &format!("{namespace}:presence:{{user_id}}"),
        &format!("{namespace}:presence:1: no TTL"),
        "unknown-pattern",
        "stray:key",
    ] {
        assert!(out.contains(wanted), "`{wanted}` not in:\n{out}");
    }

    let drifted_json = migrate(
        dir.path(),
        &mongo_db,
        &redis_db,
        &["--format", "json", "drift"],
    );
    drifted_json.assert_code(2);
    let report = json(&drifted_json);
    assert_eq!(report["clean"], false);
    let mongo_section = store(&report, "mongo");
    let objects: Vec<(&str, &str)> = mongo_section["differences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["object"].as_str().unwrap(), d["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        objects,
        vec![
            ("activityLogs.timestamp_-1", "missing"),
            ("documentContent", "changed"),
        ]
    );
    let redis_section = store(&report, "redis");
    let problems: Vec<(&str, u64)> = redis_section["keys"]["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["problem"].as_str().unwrap(), p["count"].as_u64().unwrap()))
        .collect();
    assert_eq!(problems, vec![("missing-ttl", 1), ("unknown-pattern", 1)]);

    // Ignore patterns from the config and the command line leave them out.
    let text = std::fs::read_to_string(dir.path().join("migrate.toml")).unwrap();
    std::fs::write(
        dir.path().join("migrate.toml"),
        format!("{text}\n[drift]\nignore = [\"activityLogs.*\", \"stray:*\"]\n"),
    )
    .unwrap();
    let ignored = migrate(
        dir.path(),
        &mongo_db,
        &redis_db,
        &[
            "drift",
            "--ignore",
            "documentContent",
            "--ignore",
            &format!("{namespace}:presence:*"),
        ],
    );
    ignored.assert_ok();
    assert!(
        ignored.stdout.contains("mongo: no drift"),
        "{}",
        ignored.stdout
    );
}

/// A loosened `$jsonSchema` is named; `--sample` caps the keys scanned.
#[test]
fn a_smaller_json_schema_is_drift_and_sample_caps_the_scan() {
    let mongo_db = mongo();
    let redis_db = redis();
    let dir = workdir();
    app_migrations(dir.path());
    let namespace = format!("ds{}", redis_db.db);
    write_config(dir.path(), &namespace);
    migrate(dir.path(), &mongo_db, &redis_db, &["up"]).assert_ok();
    let mut connection = redis_connection(&redis_db);
    for n in 0..50 {
        let _: () = redis::cmd("SET")
            .arg(format!("{namespace}:settings:{n}"))
            .arg("x")
            .query(&mut connection)
            .unwrap();
    }
    mongo_command(
        &mongo_db,
        doc! {"collMod": "whiteboardData", "validator": {"$jsonSchema": {"bsonType": "object"}}},
    );
    let run = migrate(
        dir.path(),
        &mongo_db,
        &redis_db,
        &["--format", "json", "drift", "--sample", "10"],
    );
    run.assert_code(2);
    let report = json(&run);
    let mongo_section = store(&report, "mongo");
    let differences = mongo_section["differences"].as_array().unwrap();
    assert_eq!(differences.len(), 1, "{mongo_section}");
    assert_eq!(differences[0]["kind"], "validator");
    assert_eq!(differences[0]["object"], "whiteboardData");
    let redis_section = store(&report, "redis");
    assert_eq!(redis_section["clean"], true, "{redis_section}");
    assert_eq!(redis_section["keys"]["sampled"], true);
    assert!(
        redis_section["keys"]["scanned"].as_u64().unwrap() < 50,
        "{redis_section}"
    );
}
