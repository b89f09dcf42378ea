//! `migrate retention run` through the binary against real PostgreSQL, Mongo and Redis with the
//! policies of `config.example.toml`: old rows, partitions, documents and soft-deleted users go,
//! younger ones stay, the reported counts equal what was removed, `--dry-run` changes nothing,
//! and Redis keys get their declared TTL.

use std::path::Path;

use crate::support::{Run, example_config, run};
use crate::support::{Stores, json};
use mongodb::bson::{DateTime, Document, doc};
use serde_json::Value;

const KEY: &str = "test-anonymization-key-0123456789abcdef";
const ORG: &str = "c0000000-0000-4000-8000-000000000001";
const OWNER: &str = "a5000000-0000-4000-8000-000000000001";

/// What these tests run on top of the shared [`Stores`].
trait RetentionRuns {
    /// The binary without the anonymization key in its environment.
    fn migrate_without_key(&self, args: &[&str]) -> Run;
    /// The `activityLogs` collection, with the runtime its client lives on.
    fn activity_logs(&self) -> (tokio::runtime::Runtime, mongodb::Collection<Document>);
    /// A count query's answer.
    fn count(&self, sql: &str) -> u64;
}

impl RetentionRuns for Stores {
    fn migrate_without_key(&self, args: &[&str]) -> Run {
        run(self.command().env_remove("MIGRATE_ANON_KEY").args(args))
    }

    fn activity_logs(&self) -> (tokio::runtime::Runtime, mongodb::Collection<Document>) {
        let (runtime, database) = self.mongo_database();
        (runtime, database.collection::<Document>("activityLogs"))
    }

    fn count(&self, sql: &str) -> u64 {
        self.pg.scalar(sql).unwrap().parse().unwrap()
    }
}

fn write_config(dir: &Path) {
    let text = example_config().replace(
        "[retention]\nbatch_size = 5000",
        "[retention]\nbatch_size = 7",
    );
    std::fs::write(dir.join("migrate.toml"), text).unwrap();
}

/// Old and young data in every place a policy covers.
fn filled() -> Stores {
    let stores = Stores::new().with_env("MIGRATE_ANON_KEY", KEY);
    write_config(stores.dir.path());
    stores.migrate(&["up"]).assert_ok();
    stores.pg.execute(&format!(
        "
        INSERT INTO users (id, email, name) VALUES ('{OWNER}', 'owner@example.com', 'Owner');
        INSERT INTO organizations (id, name, slug, owner_id) VALUES ('{ORG}', 'Org', 'org', '{OWNER}');
        -- Two whole old months as partitions (3 + 2 rows), 20 old rows in the default partition,
        -- 6 young rows (one 300 days old: younger than 365 days).
        CREATE TABLE activity_logs_y2020m01 PARTITION OF activity_logs
            FOR VALUES FROM ('2020-01-01 00:00:00+00') TO ('2020-02-01 00:00:00+00');
        CREATE TABLE activity_logs_y2020m02 PARTITION OF activity_logs
            FOR VALUES FROM ('2020-02-01 00:00:00+00') TO ('2020-03-01 00:00:00+00');
        INSERT INTO activity_logs (organization_id, action, entity_type, created_at)
        SELECT '{ORG}'::uuid, 'old', 'task', '2020-01-10'::timestamptz + g * interval '1 day' FROM generate_series(1, 3) g
        UNION ALL SELECT '{ORG}', 'old', 'task', '2020-02-10'::timestamptz + g * interval '1 day' FROM generate_series(1, 2) g
        UNION ALL SELECT '{ORG}', 'old', 'task', now() - interval '400 days' - g * interval '1 hour' FROM generate_series(1, 20) g
        UNION ALL SELECT '{ORG}', 'young', 'task', now() - g * interval '1 day' FROM generate_series(1, 5) g
        UNION ALL SELECT '{ORG}', 'young', 'task', now() - interval '300 days';
        -- Notifications: read long ago (go), read recently, unread old (stay).
        INSERT INTO notifications (organization_id, user_id, type, title, is_read, read_at, created_at)
        SELECT '{ORG}'::uuid, '{OWNER}'::uuid, 't', 'old read', true, now() - interval '100 days', now() - interval '120 days' FROM generate_series(1, 9)
        UNION ALL SELECT '{ORG}', '{OWNER}', 't', 'new read', true, now() - interval '10 days', now() - interval '120 days' FROM generate_series(1, 4)
        UNION ALL SELECT '{ORG}', '{OWNER}', 't', 'unread', false, NULL, now() - interval '200 days' FROM generate_series(1, 3);
        -- Unread notifications that expired two days ago (go) or expire tomorrow (stay).
        INSERT INTO notifications (organization_id, user_id, type, title, is_read, expires_at, created_at)
        SELECT '{ORG}'::uuid, '{OWNER}'::uuid, 't', 'expired', false, now() - interval '2 days', now() - interval '9 days' FROM generate_series(1, 5)
        UNION ALL SELECT '{ORG}', '{OWNER}', 't', 'expiring', false, now() + interval '1 day', now() - interval '9 days' FROM generate_series(1, 2);
        -- Sessions: expired 10 days ago (go), 1 day ago and active (stay).
        INSERT INTO sessions (user_id, token_hash, expires_at)
        SELECT '{OWNER}'::uuid, 'old' || g, now() - interval '10 days' FROM generate_series(1, 11) g
        UNION ALL SELECT '{OWNER}', 'recent' || g, now() - interval '1 day' FROM generate_series(1, 2) g
        UNION ALL SELECT '{OWNER}', 'active' || g, now() + interval '1 day' FROM generate_series(1, 2) g;
        INSERT INTO refresh_tokens (user_id, token_hash, expires_at)
        SELECT '{OWNER}'::uuid, 'rt' || g, now() - interval '30 days' FROM generate_series(1, 3) g
        UNION ALL SELECT '{OWNER}', 'rt-live', now() + interval '1 day';
        -- Users soft-deleted past the legal hold (90 days): one referenced by a project (stays,
        -- anonymized), two not; one deleted recently (untouched).
        INSERT INTO users (id, email, name, deleted_at) VALUES
            ('d1000000-0000-4000-8000-000000000001', 'gone1@example.com', 'Gone One', now() - interval '2600 days'),
            ('d1000000-0000-4000-8000-000000000002', 'gone2@example.com', 'Gone Two', now() - interval '2600 days'),
            ('d1000000-0000-4000-8000-000000000003', 'kept@example.com', 'Kept Three', now() - interval '2600 days'),
            ('d1000000-0000-4000-8000-000000000004', 'recent@example.com', 'Recent Four', now() - interval '5 days');
        INSERT INTO projects (organization_id, name, slug, created_by)
            VALUES ('{ORG}', 'P', 'p', 'd1000000-0000-4000-8000-000000000003');
        "
    ));
    let (runtime, collection) = stores.activity_logs();
    let day = 86_400_000i64;
    let now = DateTime::now().timestamp_millis();
    let mut documents = Vec::new();
    for (age_days, n) in [(400i64, 6), (30, 4)] {
        for i in 0..n {
            documents.push(doc! {
                "userId": OWNER, "action": "a", "entityType": "task", "entityId": format!("e{i}"),
                "metadata": {}, "timestamp": DateTime::from_millis(now - age_days * day),
            });
        }
    }
    runtime
        .block_on(async { collection.insert_many(documents).await })
        .unwrap();
    let mut r = stores.redis_connection();
    redis::pipe()
        // cache:user ttl 15min: one without a TTL, one with 2 h, one fine.
        .cmd("SET")
        .arg("cache:user:u1")
        .arg("{}")
        .ignore()
        .cmd("SET")
        .arg("cache:user:u2")
        .arg("{}")
        .arg("EX")
        .arg(7200)
        .ignore()
        .cmd("SET")
        .arg("cache:user:u3")
        .arg("{}")
        .arg("EX")
        .arg(60)
        .ignore()
        // chat unread sets never expire by declaration: left alone.
        .cmd("SADD")
        .arg("chat:user:u1:unread")
        .arg("m1")
        .ignore()
        .query::<()>(&mut r)
        .unwrap();
    stores
}

fn policy<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["policies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["policy"] == name)
        .unwrap_or_else(|| panic!("no policy {name} in {report}"))
}

#[test]
fn retention_removes_what_is_old_keeps_the_rest_and_reports_exact_counts() {
    let stores = filled();
    let activity = |s: &Stores| s.count("SELECT count(*) FROM activity_logs");
    assert_eq!(activity(&stores), 31);

    // --dry-run: the counts, nothing changed.
    let dry = stores.migrate(&["--format", "json", "retention", "run", "--dry-run"]);
    dry.assert_ok();
    let planned = json(&dry);
    assert_eq!(policy(&planned, "activity-logs")["removed"], 25);
    assert_eq!(policy(&planned, "read-notifications")["removed"], 9);
    assert_eq!(policy(&planned, "expired-notifications")["removed"], 5);
    assert_eq!(policy(&planned, "expired-sessions")["removed"], 11);
    assert_eq!(policy(&planned, "mongo-activity-logs")["removed"], 6);
    assert_eq!(policy(&planned, "redis-ttl")["removed"], 2);
    assert_eq!(activity(&stores), 31);
    assert_eq!(stores.count("SELECT count(*) FROM sessions"), 15);
    assert_eq!(
        stores.count("SELECT count(*) FROM users WHERE email::text LIKE 'anon+%'"),
        0
    );

    // Destructive without --yes: refused, after showing what it would remove (#14: it asked
    // before it had computed anything).
    let refused = stores.migrate(&["retention", "run"]);
    refused.assert_code(1);
    assert!(
        refused
            .stderr
            .contains("about to apply the retention policies"),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("read-notifications"),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("pass --yes to delete or expire"),
        "{}",
        refused.stderr
    );
    assert_eq!(activity(&stores), 31, "nothing was removed");

    let done = stores.migrate(&["--format", "json", "--yes", "retention", "run"]);
    done.assert_ok();
    let report = json(&done);
    let logs = policy(&report, "activity-logs");
    assert_eq!(logs["removed"], 25);
    assert_eq!(
        logs["partitions_dropped"],
        serde_json::json!([
            "public.activity_logs_y2020m01",
            "public.activity_logs_y2020m02"
        ])
    );
    assert_eq!(activity(&stores), 6);
    assert_eq!(
        stores.count("SELECT count(*) FROM activity_logs WHERE action = 'young'"),
        6
    );
    assert_eq!(
        stores.count("SELECT count(*) FROM pg_class WHERE relname LIKE 'activity_logs_y2020%'"),
        0
    );

    assert_eq!(policy(&report, "read-notifications")["removed"], 9);
    assert_eq!(policy(&report, "expired-notifications")["removed"], 5);
    assert_eq!(stores.count("SELECT count(*) FROM notifications"), 9);
    assert_eq!(
        stores.count("SELECT count(*) FROM notifications WHERE title = 'expired'"),
        0
    );
    assert_eq!(policy(&report, "expired-sessions")["removed"], 11);
    assert_eq!(stores.count("SELECT count(*) FROM sessions"), 4);
    assert_eq!(policy(&report, "expired-refresh-tokens")["removed"], 3);
    assert_eq!(stores.count("SELECT count(*) FROM refresh_tokens"), 1);

    // Soft-deleted users past the hold: anonymized, then deleted unless still referenced.
    let users = policy(&report, "deleted-users");
    assert_eq!(users["anonymized"], 3, "{users}");
    assert_eq!(users["removed"], 2, "{users}");
    assert_eq!(users["kept"], 1, "{users}");
    assert_eq!(
        stores.count("SELECT count(*) FROM users WHERE id::text LIKE 'd1000000%'"),
        2
    );
    assert_eq!(
        stores
            .pg
            .scalar(
                "SELECT email::text FROM users WHERE id = 'd1000000-0000-4000-8000-000000000004'"
            )
            .as_deref(),
        Some("recent@example.com")
    );
    let kept = stores
        .pg
        .scalar("SELECT email::text || ' ' || name FROM users WHERE id = 'd1000000-0000-4000-8000-000000000003'")
        .unwrap();
    assert!(
        kept.starts_with("anon+") && !kept.contains("Kept"),
        "{kept}"
    );

    assert_eq!(policy(&report, "mongo-activity-logs")["removed"], 6);
    let (runtime, collection) = stores.activity_logs();
    assert_eq!(
        runtime
            .block_on(async { collection.count_documents(doc! {}).await })
            .unwrap(),
        4
    );

    assert_eq!(policy(&report, "redis-ttl")["removed"], 2);
    let mut r = stores.redis_connection();
    let ttl = |r: &mut redis::Connection, key: &str| -> i64 {
        redis::cmd("TTL").arg(key).query(r).unwrap()
    };
    assert!((1..=900).contains(&ttl(&mut r, "cache:user:u1")));
    assert!((1..=900).contains(&ttl(&mut r, "cache:user:u2")));
    assert!((1..=60).contains(&ttl(&mut r, "cache:user:u3")));
    assert_eq!(ttl(&mut r, "chat:user:u1:unread"), -1);

    // Nothing is left to remove: a second run removes nothing.
    let again = json(&stores.migrate(&["--format", "json", "--yes", "retention", "run"]));
    for p in again["policies"].as_array().unwrap() {
        assert_eq!(p["removed"], 0, "{p}");
    }
}

#[test]
fn without_the_key_a_dry_run_counts_and_a_run_changes_nothing() {
    let stores = filled();
    let dry = stores.migrate_without_key(&["--format", "json", "retention", "run", "--dry-run"]);
    dry.assert_ok();
    let planned = json(&dry);
    assert_eq!(policy(&planned, "deleted-users")["anonymized"], 3);
    assert_eq!(policy(&planned, "activity-logs")["removed"], 25);

    // The anonymizing policy needs the key: refused before the policies ahead of it ran.
    let refused = stores.migrate_without_key(&["--yes", "retention", "run"]);
    refused.assert_code(1);
    assert!(
        refused.stderr.starts_with("error: no anonymization key")
            && refused.stderr.contains("MIGRATE_ANON_KEY"),
        "{}",
        refused.stderr
    );
    assert_eq!(stores.count("SELECT count(*) FROM activity_logs"), 31);
    assert_eq!(stores.count("SELECT count(*) FROM sessions"), 15);
    // A policy that only deletes needs no key.
    stores
        .migrate_without_key(&["--yes", "retention", "run", "--policy", "expired-sessions"])
        .assert_ok();
    assert_eq!(stores.count("SELECT count(*) FROM sessions"), 4);
}

#[test]
fn one_policy_can_be_run_alone_and_an_unknown_one_is_named() {
    let stores = filled();
    let result = stores.migrate(&["--yes", "retention", "run", "--policy", "expired-sessions"]);
    result.assert_ok();
    assert!(
        result.stdout.contains("expired-sessions"),
        "{}",
        result.stdout
    );
    assert_eq!(stores.count("SELECT count(*) FROM sessions"), 4);
    assert_eq!(stores.count("SELECT count(*) FROM activity_logs"), 31);
    let unknown = stores.migrate(&["--yes", "retention", "run", "--policy", "nope"]);
    unknown.assert_code(1);
    assert!(
        unknown.stderr.contains("no retention policy `nope`"),
        "{}",
        unknown.stderr
    );
}

/// The Redis policy runs through the keyspace audit's paced, pipelined scan (#14: it read
/// every key into memory and sent one PTTL round trip per key): 20,000 keys, a quarter without
/// their TTL and a quarter with a longer one, are fixed exactly, with one PEXPIRE per fix.
#[test]
fn the_redis_policy_fixes_a_large_keyspace_through_the_audit_scan() {
    let stores = Stores::new().with_env("MIGRATE_ANON_KEY", KEY);
    write_config(stores.dir.path());
    stores.migrate(&["up"]).assert_ok();
    let mut r = stores.redis_connection();
    let mut pipe = redis::pipe();
    for i in 0..20_000 {
        // session:{sessionId} is a hash with a 24 h TTL in config.example.toml.
        let key = format!("session:s{i}");
        pipe.cmd("HSET").arg(&key).arg("user").arg(i).ignore();
        match i % 4 {
            0 => {} // no TTL
            1 => {
                pipe.cmd("EXPIRE").arg(&key).arg(86_400 * 30).ignore();
            } // too long
            _ => {
                pipe.cmd("EXPIRE").arg(&key).arg(3_600).ignore();
            } // fine
        }
    }
    pipe.exec(&mut r).unwrap();
    let calls = |r: &mut redis::Connection, command: &str| -> u64 {
        let info: String = redis::cmd("INFO").arg("commandstats").query(r).unwrap();
        info.lines()
            .find_map(|l| l.strip_prefix(&format!("cmdstat_{command}:calls=")))
            .and_then(|rest| rest.split(',').next())
            .map_or(0, |n| n.parse().unwrap())
    };
    let pexpire_before = calls(&mut r, "pexpire");
    let dry = stores.migrate(&[
        "--format",
        "json",
        "retention",
        "run",
        "--dry-run",
        "--policy",
        "redis-ttl",
    ]);
    dry.assert_ok();
    assert_eq!(policy(&json(&dry), "redis-ttl")["removed"], 10_000);
    let no_ttl: i64 = redis::cmd("TTL").arg("session:s0").query(&mut r).unwrap();
    assert_eq!(no_ttl, -1, "a dry run changes nothing");
    let done = stores.migrate(&[
        "--format",
        "json",
        "--yes",
        "retention",
        "run",
        "--policy",
        "redis-ttl",
    ]);
    done.assert_ok();
    assert_eq!(policy(&json(&done), "redis-ttl")["removed"], 10_000);
    // One PEXPIRE per fix (the server's counters are shared with tests running beside this
    // one, whose retention runs fix a few keys of their own).
    let pexpires = calls(&mut r, "pexpire") - pexpire_before;
    assert!(
        (10_000..10_050).contains(&pexpires),
        "{pexpires} PEXPIRE calls"
    );
    for i in [0, 1, 2, 4, 5, 19_999] {
        let ttl: i64 = redis::cmd("TTL")
            .arg(format!("session:s{i}"))
            .query(&mut r)
            .unwrap();
        assert!(ttl > 0 && ttl <= 86_400, "session:s{i} has TTL {ttl}");
    }
}
