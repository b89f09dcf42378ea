//! `-v` through the binary against real servers: each Mongo op and each Redis setup action is
//! named before it runs and followed by its duration; `maintain` lists each step once (its
//! report), and under `-v` also names each statement while it runs.

use crate::support::json;
use crate::support::{
    example_config, migrate_all_stores, migrate_cmd, mongo, pg, redis, repo, run, workdir,
};

/// The stderr line right after the first line equal to `announced`, which must be there.
fn line_after<'a>(stderr: &'a str, announced: &str) -> &'a str {
    let lines: Vec<&str> = stderr.lines().collect();
    let at = lines
        .iter()
        .position(|line| *line == announced)
        .unwrap_or_else(|| panic!("no line {announced:?} in:\n{stderr}"));
    lines.get(at + 1).copied().unwrap_or("")
}

#[test]
fn verbose_up_and_down_name_each_mongo_op_and_redis_action_then_its_duration() {
    let (db, mongo_db, redis_db) = (pg(), mongo(), redis());
    let dir = workdir();
    std::fs::write(dir.path().join("migrate.toml"), example_config()).unwrap();
    let up = run(migrate_all_stores(dir.path(), &db, &mongo_db, &redis_db)
        .args(["-v", "--format", "json", "up"]));
    up.assert_ok();
    let report = json(&up);

    let mongo_store = &report["stores"][1];
    assert_eq!(mongo_store["store"], "mongo");
    let mut ops = 0;
    for step in mongo_store["plan"].as_array().unwrap() {
        let file = step["file"].as_str().unwrap();
        let text = std::fs::read_to_string(file).unwrap();
        let migration: serde_json::Value = serde_json::from_str(&text).unwrap();
        for (index, op) in migration["up"].as_array().unwrap().iter().enumerate() {
            let name = op["op"].as_str().unwrap();
            let prefix = format!("mongo: {file}:up[{index}]: {name} ");
            let announced = up
                .stderr
                .lines()
                .find(|line| line.starts_with(&prefix))
                .unwrap_or_else(|| panic!("no line {prefix:?} in:\n{}", up.stderr));
            assert_eq!(up.stderr.matches(announced).count(), 1, "{announced}");
            let after = line_after(&up.stderr, announced);
            assert!(after.starts_with("  took "), "{announced} then {after:?}");
            ops += 1;
        }
    }
    assert!(ops >= 9, "{ops} ops");

    let redis_store = &report["stores"][2];
    assert_eq!(redis_store["store"], "redis");
    let actions = redis_store["applied"].as_array().unwrap();
    assert!(!actions.is_empty());
    let verb = |kind: &str| match kind {
        "notify_keyspace_events" => "merge",
        "load_function" => "load function library",
        "delete_function" => "delete function library",
        "set_acl_user" => "set ACL user",
        "delete_acl_user" => "delete ACL user",
        "write_schema" => "write",
        other => panic!("unknown action {other}"),
    };
    for action in actions {
        let nodes: Vec<&str> = action["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_str().unwrap())
            .collect();
        let announced = format!(
            "redis: {} {} on {}",
            verb(action["action"].as_str().unwrap()),
            action["target"].as_str().unwrap(),
            nodes.join(", ")
        );
        let after = line_after(&up.stderr, &announced);
        assert!(after.starts_with("  took "), "{announced} then {after:?}");
    }

    // Reverting names the down ops the same way.
    let down = run(migrate_all_stores(dir.path(), &db, &mongo_db, &redis_db)
        .args(["-v", "--yes", "down", "--store", "mongo"]));
    down.assert_ok();
    let announced = down
        .stderr
        .lines()
        .find(|line| line.contains("V3__activity_logs.json:down[0]: "))
        .unwrap_or_else(|| panic!("no down op in:\n{}", down.stderr));
    assert!(line_after(&down.stderr, announced).starts_with("  took "));

    // Without -v, none of it.
    let quiet = run(migrate_all_stores(dir.path(), &db, &mongo_db, &redis_db).args(["up"]));
    quiet.assert_ok();
    assert!(!quiet.stderr.contains("took"), "{}", quiet.stderr);
}

#[test]
fn maintain_prints_each_step_once() {
    let db = pg();
    let dir = workdir();
    let migrate = |args: &[&str]| {
        run(migrate_cmd()
            .current_dir(dir.path())
            .args([
                "--database-url",
                &db.url,
                "--migrations",
                &repo("migrations"),
            ])
            .args(args))
    };
    migrate(&["up"]).assert_ok();

    let plain = migrate(&["maintain"]);
    plain.assert_ok();
    for target in ["public.project_stats", "public.user_dashboard_stats"] {
        assert_eq!(plain.stdout.matches(target).count(), 1, "{}", plain.stdout);
        assert!(!plain.stderr.contains(target), "{}", plain.stderr);
    }
    assert!(
        plain.stdout.starts_with("maintain: 3 steps in "),
        "{}",
        plain.stdout
    );

    let verbose = migrate(&["-v", "maintain"]);
    verbose.assert_ok();
    for statement in [
        "REFRESH MATERIALIZED VIEW CONCURRENTLY public.project_stats",
        "REFRESH MATERIALIZED VIEW CONCURRENTLY public.user_dashboard_stats",
        "SELECT public.create_activity_log_partitions(3)",
    ] {
        assert_eq!(
            verbose.stderr.matches(statement).count(),
            1,
            "{}",
            verbose.stderr
        );
        let after = line_after(&verbose.stderr, statement);
        assert!(after.starts_with("  took "), "{statement} then {after:?}");
    }
    assert!(
        line_after(
            &verbose.stderr,
            "REFRESH MATERIALIZED VIEW CONCURRENTLY public.project_stats"
        )
        .ends_with(": refreshed")
    );
}
