//! A database named in a URL wins over a separate `database` key (DESIGN.md, "CLI contract"):
//! with the repository's own config (`[mongo] database = "app"`), every command works on the
//! Mongo database and the Redis database the URLs name, whether the URL comes from a flag or
//! from the environment. (`anonymize`, `export` and `retention` are covered the same way by
//! their own tests, which run with the unchanged example config.)

use mongodb::bson::doc;
use serde_json::Value;

use crate::support::json;
use crate::support::{
    MongoProbe, example_config, migrate_all_stores, mongo, pg, redis, redis_connection, repo, run,
    workdir,
};

/// The `database` of the given store's entry in a report's `stores` array.
fn database_of<'a>(report: &'a Value, store: &str) -> &'a str {
    report["stores"]
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["store"] == store)
        .unwrap_or_else(|| panic!("no {store} entry in {report:#}"))["database"]
        .as_str()
        .unwrap()
}

#[test]
fn every_command_uses_the_databases_the_urls_name() {
    let (pg, mongo, redis) = (pg(), mongo(), redis());
    let dir = workdir();
    let config = example_config();
    assert!(
        config.contains("database = \"app\""),
        "the example config names `app`"
    );
    std::fs::write(dir.path().join("migrate.toml"), config).unwrap();
    let probe = MongoProbe::new(&mongo);
    let migrate = |args: &[&str]| {
        run(migrate_all_stores(dir.path(), &pg, &mongo, &redis)
            .args(["--format", "json"])
            .args(args))
    };
    let ends_with_mongo_name = |database: &str| {
        assert!(
            database.ends_with(&format!("/{}", mongo.name)),
            "{database} is not {}",
            mongo.name
        );
    };

    let up = migrate(&["up"]);
    up.assert_ok();
    ends_with_mongo_name(database_of(&json(&up), "mongo"));
    assert!(
        probe.collections().contains(&"migrate_history".to_string()),
        "{:?}",
        probe.collections()
    );
    assert!(database_of(&json(&up), "redis").ends_with(&format!("/{}", redis.db)));

    let status = migrate(&["status"]);
    status.assert_ok();
    let report = json(&status);
    ends_with_mongo_name(database_of(&report, "mongo"));
    assert!(database_of(&report, "redis").ends_with(&format!("/{}", redis.db)));

    let drift = migrate(&["drift"]);
    drift.assert_ok();
    ends_with_mongo_name(database_of(&json(&drift), "mongo"));

    probe.command(doc! {"insert": "marker", "documents": [{"n": 1}, {"n": 2}]});
    redis::cmd("SET")
        .arg("marker")
        .arg("1")
        .exec(&mut redis_connection(&redis))
        .unwrap();
    let backups = dir.path().join("backups");
    let backup = migrate(&[
        "backup",
        "create",
        "--store",
        "mongo",
        "--store",
        "redis",
        "--dir",
        backups.to_str().unwrap(),
    ]);
    backup.assert_ok();
    let manifest = &json(&backup)["backup"]["manifest"];
    assert_eq!(
        manifest["stores"]["mongo"]["collections"]["marker"]["documents"], 2,
        "{manifest:#}"
    );
    assert!(
        manifest["stores"]["redis"]["keys"].as_u64().unwrap() >= 2,
        "{manifest:#}"
    );

    // The same precedence when the URL comes from MONGODB_URL instead of a flag.
    let status = run(crate::support::migrate_cmd()
        .current_dir(dir.path())
        .env("MONGODB_URL", &mongo.url)
        .args(["--format", "json", "--database-url", &pg.url])
        .args(["--migrations", &repo("migrations")])
        .args(["--mongo-migrations", &repo("mongo_migrations"), "status"]));
    status.assert_ok();
    ends_with_mongo_name(database_of(&json(&status), "mongo"));
}
