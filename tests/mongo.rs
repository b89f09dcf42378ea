//! MongoDB migrations through the binary, against a real Mongo-wire server (mongod, or
//! SecantusDB from `MIGRATE_SECANTUSD`): collections, validators and indexes as the server
//! lists them, idempotent re-runs, down, concurrency, a killed runner's lock and resume, index
//! conflicts, and bad input that changes nothing. The last test runs all three stores at once.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::json;
use crate::support::{MongoDb, MongoProbe, migrate_cmd, mongo, pg, redis, run, workdir};
use mongodb::bson::{Bson, Document, doc};

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::create_dir_all(dir.join("mongo_migrations")).unwrap();
    std::fs::write(dir.join("mongo_migrations").join(name), text).unwrap();
}

fn migrate(db: &MongoDb, dir: &Path, args: &[&str]) -> crate::support::Run {
    run(migrate_cmd()
        .current_dir(dir)
        .arg("--mongodb-url")
        .arg(&db.url)
        .args(args))
}

/// The application's own migrations, copied into a scratch directory.
fn app_migrations(dir: &Path) {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("mongo_migrations");
    for entry in std::fs::read_dir(source).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let name = path.file_name().unwrap().to_str().unwrap().to_string();
            write(dir, &name, &std::fs::read_to_string(&path).unwrap());
        }
    }
}

fn ok_collection_count(history: &[Document], state: &str) -> usize {
    history
        .iter()
        .filter(|h| h.get_str("state") == Ok(state))
        .count()
}

const UUID_A: &str = "0b6c3d6e-6b0e-4c41-9d86-2f7f4f2b8a11";

#[test]
fn fresh_up_creates_the_application_collections_and_a_second_up_is_a_no_op() {
    let db = mongo();
    let probe = MongoProbe::new(&db);
    let dir = workdir();
    app_migrations(dir.path());

    let first = migrate(&db, dir.path(), &["up"]);
    first.assert_ok();
    assert!(
        first.stdout.contains("mongo: applied 3 migrations"),
        "{}",
        first.stdout
    );
    for collection in ["documentContent", "whiteboardData", "activityLogs"] {
        let options = probe.options(collection);
        let schema = options
            .get_document("validator")
            .and_then(|v| v.get_document("$jsonSchema"))
            .unwrap_or_else(|_| panic!("{collection} has no $jsonSchema validator: {options}"));
        assert_eq!(schema.get_str("bsonType"), Ok("object"), "{collection}");
        assert!(!schema.get_array("required").unwrap().is_empty());
        assert_eq!(options.get_str("validationLevel"), Ok("strict"));
        assert_eq!(options.get_str("validationAction"), Ok("error"));
    }
    let content = probe.indexes("documentContent");
    let unique = &content["documentId_1_version_-1"];
    assert_eq!(unique.get_bool("unique"), Ok(true));
    assert_eq!(
        unique.get_document("key").unwrap(),
        &doc! {"documentId": 1, "version": -1},
        "compound key order is kept"
    );
    assert!(content.contains_key("version_1"));
    assert_eq!(
        probe.indexes("whiteboardData")["whiteboardId_1_version_-1"].get_bool("unique"),
        Ok(true)
    );
    let logs = probe.indexes("activityLogs");
    for name in [
        "userId_1_timestamp_-1",
        "timestamp_-1",
        "entityType_1_entityId_1_timestamp_-1",
    ] {
        assert!(logs.contains_key(name), "{name} missing: {logs:?}");
    }
    let history = probe.history();
    assert_eq!(ok_collection_count(&history, "applied"), 3, "{history:?}");

    // The second run changes nothing, not even the history.
    let second = migrate(&db, dir.path(), &["--format", "json", "up"]);
    second.assert_ok();
    let report = json(&second);
    assert_eq!(report["stores"][0]["store"], "mongo");
    assert_eq!(report["stores"][0]["plan"], serde_json::json!([]));
    assert_eq!(report["stores"][0]["version"], 3);
    assert_eq!(probe.history(), history);

    let status = migrate(&db, dir.path(), &["--format", "json", "status"]);
    status.assert_ok();
    let status = json(&status);
    assert_eq!(status["stores"][0]["summary"]["applied"], 3);
    migrate(&db, dir.path(), &["validate"]).assert_ok();
}

#[test]
fn validators_refuse_bad_documents_after_up() {
    let db = mongo();
    let probe = MongoProbe::new(&db);
    let dir = workdir();
    app_migrations(dir.path());
    migrate(&db, dir.path(), &["up"]).assert_ok();

    let now = mongodb::bson::DateTime::now();
    let good = doc! {"documentId": UUID_A, "content": {"type": "doc"}, "version": 1,
    "createdAt": now, "updatedAt": now};
    probe.insert("documentContent", good.clone()).unwrap();
    // 121: document failed validation.
    let mut zero = good.clone();
    zero.insert("version", 0);
    assert_eq!(probe.insert("documentContent", zero), Err(121));
    let mut not_uuid = good.clone();
    not_uuid.insert("documentId", "doc-1");
    not_uuid.insert("version", 2);
    assert_eq!(probe.insert("documentContent", not_uuid), Err(121));
    let mut missing = good.clone();
    missing.remove("content");
    missing.insert("version", 3);
    assert_eq!(probe.insert("documentContent", missing), Err(121));
    // 11000: one content document per document version.
    assert_eq!(probe.insert("documentContent", good), Err(11000));

    assert_eq!(
        probe.insert(
            "whiteboardData",
            doc! {"whiteboardId": UUID_A, "elements": ["not an object"], "version": 1,
            "createdAt": now, "updatedAt": now}
        ),
        Err(121)
    );
    probe
        .insert(
            "activityLogs",
            doc! {"userId": UUID_A, "action": "task.created", "entityType": "task",
            "entityId": UUID_A, "metadata": {}, "timestamp": now},
        )
        .unwrap();
    assert_eq!(
        probe.insert(
            "activityLogs",
            doc! {"userId": UUID_A, "action": "task.created", "entityType": "task",
            "entityId": UUID_A, "metadata": {}, "timestamp": "yesterday"}
        ),
        Err(121)
    );
}

const V1_ORDERS: &str = r#"{
  "up": [
    {"op": "create_collection", "collection": "orders",
     "validator": {"$jsonSchema": {"bsonType": "object", "required": ["sku"],
                                   "properties": {"sku": {"bsonType": "string"}}}},
     "validationLevel": "moderate", "validationAction": "error"},
    {"op": "create_index", "collection": "orders", "name": "sku_1", "keys": {"sku": 1}, "unique": true}
  ],
  "down": [{"op": "drop_collection", "collection": "orders"}]
}"#;

const V2_OPTIONS: &str = r#"{
  "up": [
    {"op": "create_index", "collection": "orders", "name": "created_ttl",
     "keys": {"createdAt": 1}, "expireAfterSeconds": {"$numberLong": "86400"}},
    {"op": "create_index", "collection": "orders", "name": "open_by_customer",
     "keys": {"customer": 1}, "partialFilterExpression": {"open": true}},
    {"op": "create_index", "collection": "orders", "name": "coupon_sparse",
     "keys": {"coupon": 1}, "sparse": true, "unique": false},
    {"op": "create_index", "collection": "orders", "name": "name_ci",
     "keys": {"name": 1}, "collation": {"locale": "en", "strength": 2}},
    {"op": "coll_mod", "collection": "orders", "validationAction": "warn"},
    {"op": "create_collection", "collection": "audit"}
  ],
  "down": [
    {"op": "drop_collection", "collection": "audit"},
    {"op": "coll_mod", "collection": "orders", "validationAction": "error"},
    {"op": "drop_index", "collection": "orders", "name": "name_ci"},
    {"op": "drop_index", "collection": "orders", "name": "coupon_sparse"},
    {"op": "drop_index", "collection": "orders", "name": "open_by_customer"},
    {"op": "drop_index", "collection": "orders", "name": "created_ttl"}
  ]
}"#;

#[test]
fn index_options_round_trip_and_down_removes_what_was_reverted() {
    let db = mongo();
    let probe = MongoProbe::new(&db);
    let dir = workdir();
    write(dir.path(), "V1__orders.json", V1_ORDERS);
    write(dir.path(), "V2__options.json", V2_OPTIONS);
    migrate(&db, dir.path(), &["up"]).assert_ok();

    let indexes = probe.indexes("orders");
    let ttl = &indexes["created_ttl"];
    assert_eq!(
        ttl.get("expireAfterSeconds")
            .and_then(Bson::as_i64)
            .or_else(|| ttl
                .get("expireAfterSeconds")
                .and_then(Bson::as_i32)
                .map(i64::from)),
        Some(86400)
    );
    assert_eq!(
        indexes["open_by_customer"]
            .get_document("partialFilterExpression")
            .unwrap(),
        &doc! {"open": true}
    );
    assert_eq!(indexes["coupon_sparse"].get_bool("sparse"), Ok(true));
    assert!(
        !indexes["coupon_sparse"].contains_key("unique"),
        "unique: false is normalized away"
    );
    let collation = indexes["name_ci"].get_document("collation").unwrap();
    assert_eq!(collation.get_str("locale"), Ok("en"));
    assert_eq!(
        probe.options("orders").get_str("validationAction"),
        Ok("warn")
    );
    assert_eq!(
        probe.options("orders").get_str("validationLevel"),
        Ok("moderate")
    );
    assert!(probe.collections().contains(&"audit".to_string()));

    // Dry run changes nothing.
    let dry = migrate(
        &db,
        dir.path(),
        &["--format", "json", "down", "--store", "mongo", "--dry-run"],
    );
    dry.assert_ok();
    assert_eq!(json(&dry)["plan"][0]["version"], 2);
    assert_eq!(probe.indexes("orders").len(), 6);

    // Without --yes and without a terminal, down refuses.
    migrate(&db, dir.path(), &["down"]).assert_code(1);
    assert_eq!(probe.indexes("orders").len(), 6);

    let down = migrate(&db, dir.path(), &["--format", "json", "down", "--yes"]);
    down.assert_ok();
    let report = json(&down);
    assert_eq!(report["store"], "mongo");
    assert_eq!(report["reverted"][0]["version"], 2);
    let left: Vec<String> = probe.indexes("orders").into_keys().collect();
    assert_eq!(left, vec!["_id_", "sku_1"]);
    assert!(!probe.collections().contains(&"audit".to_string()));
    assert_eq!(
        probe.options("orders").get_str("validationAction"),
        Ok("error")
    );
    assert_eq!(probe.history().len(), 1);

    migrate(&db, dir.path(), &["down", "--to", "0", "--yes"]).assert_ok();
    assert!(!probe.collections().contains(&"orders".to_string()));
    assert!(probe.history().is_empty());

    // And up again restores everything.
    migrate(&db, dir.path(), &["up"]).assert_ok();
    assert_eq!(probe.indexes("orders").len(), 6);
}

#[test]
fn two_concurrent_runners_apply_each_migration_once() {
    let db = mongo();
    let probe = MongoProbe::new(&db);
    let dir = workdir();
    for version in 1..=15 {
        write(
            dir.path(),
            &format!("V{version}__step_{version}.json"),
            &format!(
                r#"{{"up": [
                    {{"op": "create_index", "collection": "c{version}", "name": "a_1", "keys": {{"a": 1}}}},
                    {{"op": "run_command", "command": {{"insert": "applied_log", "documents": [{{"version": {version}}}]}}}}
                ]}}"#
            ),
        );
    }
    let runners: Vec<_> = (0..3)
        .map(|_| {
            migrate_cmd()
                .current_dir(dir.path())
                .args(["--mongodb-url", &db.url, "up"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut outputs = Vec::new();
    for runner in runners {
        let output = runner.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(output.status.success(), "a runner failed:\n{stderr}");
        outputs.push(stderr);
    }
    let log = probe.find("applied_log", doc! {});
    let mut versions: Vec<i32> = log.iter().map(|d| d.get_i32("version").unwrap()).collect();
    versions.sort_unstable();
    assert_eq!(
        versions,
        (1..=15).collect::<Vec<_>>(),
        "every migration ran exactly once\n{}",
        outputs.join("\n---\n")
    );
    assert_eq!(ok_collection_count(&probe.history(), "applied"), 15);
    assert!(
        probe.find("migrate_lock", doc! {}).is_empty(),
        "the lock is released"
    );
}

#[test]
fn a_killed_runner_leaves_a_lock_that_is_taken_over_after_expiry_and_resumed() {
    let db = mongo();
    let probe = MongoProbe::new(&db);
    let dir = workdir();
    std::fs::write(
        dir.path().join("migrate.toml"),
        "[mongo]\nlock_lease = \"2s\"\n",
    )
    .unwrap();
    // Enough ops that the runner is surely in the middle when it is killed.
    let ops: Vec<String> = (0..400)
        .map(|i| format!(r#"{{"op": "create_collection", "collection": "part_{i}"}}"#))
        .collect();
    write(
        dir.path(),
        "V1__many.json",
        &format!(r#"{{"up": [{}]}}"#, ops.join(",\n")),
    );
    let mut child = migrate_cmd()
        .current_dir(dir.path())
        .args(["--mongodb-url", &db.url, "up"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let done = probe
            .find("migrate_history", doc! {"_id": 1_i64})
            .first()
            .and_then(|h| h.get_i64("ops_done").ok())
            .unwrap_or(0);
        if done >= 10 {
            break;
        }
        assert!(Instant::now() < deadline, "the migration never got going");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();

    let record = probe.find("migrate_history", doc! {"_id": 1_i64}).remove(0);
    assert_eq!(record.get_str("state"), Ok("dirty"));
    let recorded = record.get_i64("ops_done").unwrap();
    assert!(recorded < 400, "the runner finished before it was killed");
    let lock = probe.find("migrate_lock", doc! {});
    assert_eq!(lock.len(), 1, "the killed runner's lock is left behind");

    // status and validate see the dirty migration.
    let status = migrate(&db, dir.path(), &["--format", "json", "status"]);
    status.assert_ok();
    assert_eq!(
        json(&status)["stores"][0]["migrations"][0]["state"],
        "dirty"
    );
    migrate(&db, dir.path(), &["validate"]).assert_code(2);

    // The takeover is timed from the moment `up` starts to the moment it says so (not to the
    // end of the run, whose 390 remaining ops take as long as the machine's load makes them).
    let started = Instant::now();
    let mut resuming = migrate_cmd()
        .current_dir(dir.path())
        .args(["--mongodb-url", &db.url, "up"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = String::new();
    let mut took_over_after = None;
    for line in std::io::BufRead::lines(std::io::BufReader::new(resuming.stderr.take().unwrap())) {
        let line = line.unwrap();
        if took_over_after.is_none() && line.contains("took over the migration lock") {
            took_over_after = Some(started.elapsed());
        }
        stderr.push_str(&line);
        stderr.push('\n');
    }
    assert!(resuming.wait().unwrap().success(), "{stderr}");
    assert!(
        stderr.contains("waiting for the migration lock held by pid"),
        "{stderr}"
    );
    let took_over_after = took_over_after.unwrap_or_else(|| panic!("no takeover: {stderr}"));
    assert!(
        stderr.contains(&format!("resuming V1 many at up[{recorded}] of 400")),
        "{stderr}"
    );
    assert!(
        took_over_after < Duration::from_secs(20),
        "took over after {took_over_after:?}: the 2s lease was not used (the default is 30s)"
    );
    let collections = probe.collections();
    assert_eq!(
        collections
            .iter()
            .filter(|c| c.starts_with("part_"))
            .count(),
        400
    );
    let history = probe.history();
    assert_eq!(history[0].get_str("state"), Ok("applied"));
    assert_eq!(history[0].get_i64("ops_done"), Ok(400));
    assert!(probe.find("migrate_lock", doc! {}).is_empty());
}

#[test]
fn index_conflict_reports_both_definitions_then_resumes_once_fixed() {
    let db = mongo();
    let probe = MongoProbe::new(&db);
    let dir = workdir();
    write(
        dir.path(),
        "V1__events.json",
        r#"{"up": [
            {"op": "create_collection", "collection": "events"},
            {"op": "create_index", "collection": "events", "name": "at_1", "keys": {"at": 1},
             "expireAfterSeconds": 3600}
        ]}"#,
    );
    // Someone created an index of that name by hand, with other options.
    probe
        .command(doc! {"createIndexes": "events", "indexes": [{"key": {"at": 1}, "name": "at_1", "sparse": true}]});
    let failed = migrate(&db, dir.path(), &["up"]);
    failed.assert_code(1);
    let first = failed.stderr.lines().next().unwrap();
    assert!(
        first.contains("failed at up[1]")
            && first.contains("an index named `at_1` already exists with another definition"),
        "{}",
        failed.stderr
    );
    assert!(failed.stderr.contains("existing:  {"), "{}", failed.stderr);
    assert!(
        failed.stderr.contains("\"sparse\":true"),
        "{}",
        failed.stderr
    );
    assert!(failed.stderr.contains("requested: {"), "{}", failed.stderr);
    assert!(
        failed.stderr.contains("\"expireAfterSeconds\":3600"),
        "{}",
        failed.stderr
    );
    assert!(
        failed.stderr.contains("\"op\": \"drop_index\""),
        "{}",
        failed.stderr
    );
    let record = probe.history().remove(0);
    assert_eq!(record.get_str("state"), Ok("dirty"));
    assert_eq!(record.get_i64("ops_done"), Ok(1));
    assert!(
        probe.find("migrate_lock", doc! {}).is_empty(),
        "a failed run releases the lock"
    );

    // The human fixes it; the next run resumes at the failed op.
    probe.command(doc! {"dropIndexes": "events", "index": "at_1"});
    let resumed = migrate(&db, dir.path(), &["up"]);
    resumed.assert_ok();
    assert!(
        resumed.stderr.contains("resuming V1 events at up[1] of 2"),
        "{}",
        resumed.stderr
    );
    assert!(probe.indexes("events")["at_1"].contains_key("expireAfterSeconds"));

    // Same keys under another name (code 85): the existing index is named.
    write(
        dir.path(),
        "V2__kind.json",
        r#"{"up": [{"op": "create_index", "collection": "events", "name": "kind_1", "keys": {"kind": 1}}]}"#,
    );
    probe.command(
        doc! {"createIndexes": "events", "indexes": [{"key": {"kind": 1}, "name": "by_kind"}]},
    );
    let failed = migrate(&db, dir.path(), &["up"]);
    failed.assert_code(1);
    assert!(
        failed
            .stderr
            .lines()
            .next()
            .unwrap()
            .contains("an index on the same keys already exists under the name `by_kind`"),
        "{}",
        failed.stderr
    );
    assert!(
        failed.stderr.contains("\"name\": \"by_kind\"}"),
        "the way out drops the existing index: {}",
        failed.stderr
    );
}

#[test]
fn modified_and_missing_files_are_reported_by_validate_and_status() {
    let db = mongo();
    let _probe = MongoProbe::new(&db);
    let dir = workdir();
    write(dir.path(), "V1__orders.json", V1_ORDERS);
    write(dir.path(), "V2__options.json", V2_OPTIONS);
    migrate(&db, dir.path(), &["up"]).assert_ok();
    write(
        dir.path(),
        "V1__orders.json",
        &V1_ORDERS.replace("sku_1", "sku_idx"),
    );
    std::fs::remove_file(dir.path().join("mongo_migrations/V2__options.json")).unwrap();

    let validate = migrate(&db, dir.path(), &["--format", "json", "validate"]);
    validate.assert_code(2);
    let report = json(&validate);
    let kinds: Vec<(&str, &str)> = report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["store"].as_str().unwrap(), p["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(kinds, vec![("mongo", "modified"), ("mongo", "missing")]);

    let up = migrate(&db, dir.path(), &["up"]);
    up.assert_code(1);
    assert!(
        up.stderr
            .starts_with("error: applied mongo migrations were modified"),
        "{}",
        up.stderr
    );
}

#[test]
fn new_mongo_scaffolds_the_next_json_file() {
    let dir = workdir();
    write(dir.path(), "V4__orders.json", V1_ORDERS);
    let created =
        run(migrate_cmd()
            .current_dir(dir.path())
            .args(["new", "--mongo", "add_customers"]));
    created.assert_ok();
    assert_eq!(
        created.stdout.trim(),
        "mongo_migrations/V5__add_customers.json"
    );
    let text = std::fs::read_to_string(dir.path().join("mongo_migrations/V5__add_customers.json"))
        .unwrap();
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert!(value["up"].is_array() && value["down"].is_array());
}

#[test]
fn bad_files_are_one_clear_line_exit_1_and_nothing_is_written() {
    let db = mongo();
    let probe = MongoProbe::new(&db);
    let pg_db = pg();
    let cases: [(&str, &str, &str); 5] = [
        (
            "V1__broken.json",
            "{\"up\": [\n  {\"op\": \"drop_collection\", \"collection\": \"x\"},\n]}\n",
            "V1__broken.json:3: malformed JSON",
        ),
        (
            "V1__integer.json",
            r#"{"up": [{"op": "create_collection", "collection": "x",
                "validator": {"$jsonSchema": {"properties": {"n": {"bsonType": "integer"}}}}}]}"#,
            "up[0] (create_collection): validator.$jsonSchema.properties.n.bsonType: MongoDB's $jsonSchema has no `integer` type",
        ),
        (
            "V1__format.json",
            r#"{"up": [{"op": "coll_mod", "collection": "x",
                "validator": {"$jsonSchema": {"properties": {"email": {"bsonType": "string", "format": "email"}}}}}]}"#,
            "does not support `format`",
        ),
        (
            "V1__noname.json",
            r#"{"up": [{"op": "create_collection", "collection": "x"},
                       {"op": "create_index", "collection": "x", "keys": {"a": 1}}]}"#,
            "up[1] (create_index): index `name` is required",
        ),
        (
            "V1__unknown.json",
            r#"{"up": [{"op": "create_view", "collection": "x"}]}"#,
            "up[0] (create_view): unknown op `create_view`",
        ),
    ];
    for (file, text, expected) in cases {
        let dir = workdir();
        // A good PostgreSQL migration beside the bad Mongo file: it must not run either.
        std::fs::create_dir_all(dir.path().join("migrations")).unwrap();
        std::fs::write(
            dir.path().join("migrations/V1__a.sql"),
            "CREATE TABLE a (id int);\n",
        )
        .unwrap();
        write(dir.path(), file, text);
        let result = run(migrate_cmd().current_dir(dir.path()).args([
            "--database-url",
            &pg_db.url,
            "--mongodb-url",
            &db.url,
            "up",
        ]));
        result.assert_code(1);
        assert!(
            result
                .stderr
                .starts_with("error: 1 invalid mongo migration file; nothing was changed"),
            "{file}: {}",
            result.stderr
        );
        assert!(
            result.stderr.contains(expected),
            "{file}: {}",
            result.stderr
        );
        assert!(!result.stderr.contains("panicked"), "{}", result.stderr);
        assert!(
            probe.collections().is_empty(),
            "{file}: something was written to Mongo"
        );
        assert_eq!(
            pg_db
                .scalar("SELECT to_regclass('migrate_history') IS NULL")
                .as_deref(),
            Some("t"),
            "{file}: PostgreSQL was migrated"
        );
        // validate lists the same problem with exit 2.
        let validate = migrate(&db, dir.path(), &["validate"]);
        validate.assert_code(2);
        assert!(validate.stdout.contains(expected), "{}", validate.stdout);
    }
}

#[test]
fn unreachable_mongo_is_one_line_exit_1_and_postgres_is_untouched() {
    let pg_db = pg();
    let dir = workdir();
    std::fs::create_dir_all(dir.path().join("migrations")).unwrap();
    std::fs::write(
        dir.path().join("migrations/V1__a.sql"),
        "CREATE TABLE a (id int);\n",
    )
    .unwrap();
    write(dir.path(), "V1__orders.json", V1_ORDERS);
    std::fs::write(
        dir.path().join("migrate.toml"),
        "[mongo]\nconnect_timeout = \"1s\"\n",
    )
    .unwrap();
    for format in ["human", "json"] {
        let result = run(migrate_cmd().current_dir(dir.path()).args([
            "--format",
            format,
            "--database-url",
            &pg_db.url,
            "--mongodb-url",
            "mongodb://app:s3cret@127.0.0.1:1/appdb",
            "up",
        ]));
        result.assert_code(1);
        let line = result.stderr.lines().next().unwrap();
        assert_eq!(
            line,
            "error: could not connect to MongoDB at app@127.0.0.1:1/appdb: connection refused"
        );
        assert!(!result.stderr.contains("s3cret") && !result.stdout.contains("s3cret"));
        assert_eq!(
            pg_db
                .scalar("SELECT to_regclass('migrate_history') IS NULL")
                .as_deref(),
            Some("t"),
            "PostgreSQL was migrated before Mongo was found unreachable"
        );
    }
}

#[test]
fn up_sets_up_postgres_mongo_and_redis_together_and_a_second_up_is_a_no_op() {
    let pg_db = pg();
    let db = mongo();
    let probe = MongoProbe::new(&db);
    let redis_db = redis();
    let dir = workdir();
    std::fs::create_dir_all(dir.path().join("migrations")).unwrap();
    std::fs::write(
        dir.path().join("migrations/V1__projects.sql"),
        "CREATE TABLE projects (id uuid PRIMARY KEY);\n-- migrate:down\nDROP TABLE projects;\n",
    )
    .unwrap();
    app_migrations(dir.path());
    let namespace = format!("all{}", redis_db.db);
    std::fs::write(
        dir.path().join("migrate.toml"),
        format!(
            "[redis]\nnamespace = \"{namespace}\"\nschema_version = 1\nnotify_keyspace_events = \"Ex\"\n\
             [[redis.keys]]\npattern = \"{namespace}:presence:{{user_id}}\"\ntype = \"hash\"\nttl = \"30s\"\npii = true\n"
        ),
    )
    .unwrap();
    let up = |format: &str| {
        run(migrate_cmd().current_dir(dir.path()).args([
            "--format",
            format,
            "--database-url",
            &pg_db.url,
            "--mongodb-url",
            &db.url,
            "--redis-url",
            &redis_db.url,
            "up",
        ]))
    };
    let first = up("json");
    first.assert_ok();
    let report = json(&first);
    let stores: Vec<&str> = report["stores"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["store"].as_str().unwrap())
        .collect();
    assert_eq!(stores, vec!["postgres", "mongo", "redis"]);
    assert_eq!(report["stores"][0]["applied"].as_array().unwrap().len(), 1);
    assert_eq!(report["stores"][1]["applied"].as_array().unwrap().len(), 3);
    assert!(
        !report["stores"][2]["applied"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(report["stores"][2]["version"], 1);
    assert_eq!(
        pg_db
            .scalar("SELECT to_regclass('projects') IS NOT NULL")
            .as_deref(),
        Some("t")
    );
    assert_eq!(
        probe.collections(),
        vec![
            "activityLogs",
            "documentContent",
            "migrate_history",
            "migrate_lock",
            "whiteboardData"
        ]
    );

    let second = up("human");
    second.assert_ok();
    assert!(
        second.stdout.contains("postgres: up to date at V1"),
        "{}",
        second.stdout
    );
    assert!(
        second.stdout.contains("mongo: up to date at V3"),
        "{}",
        second.stdout
    );
    assert!(
        second.stdout.contains(&format!(
            "redis: keyspace `{namespace}` up to date at version 1"
        )),
        "{}",
        second.stdout
    );

    let status = run(migrate_cmd().current_dir(dir.path()).args([
        "--database-url",
        &pg_db.url,
        "--mongodb-url",
        &db.url,
        "--redis-url",
        &redis_db.url,
        "status",
    ]));
    status.assert_ok();
    for line in [
        "postgres: 1 applied, 0 pending",
        "mongo: 3 applied, 0 pending",
        &format!("redis: keyspace `{namespace}` current at version 1"),
    ] {
        assert!(status.stdout.contains(line), "{line}\n{}", status.stdout);
    }

    // `--store` selects one store.
    let only = run(migrate_cmd().current_dir(dir.path()).args([
        "--format",
        "json",
        "--mongodb-url",
        &db.url,
        "up",
        "--store",
        "mongo",
    ]));
    only.assert_ok();
    assert_eq!(json(&only)["stores"].as_array().unwrap().len(), 1);
    assert!(
        only.stderr.is_empty(),
        "no notes about stores that were not asked for: {}",
        only.stderr
    );
}
