//! `migrate anonymize` and `migrate export` through the binary against real PostgreSQL, Mongo
//! and Redis, with the application's schema and the rules of `config.example.toml`: one subject
//! erased everywhere (audit copies included) and nothing of it found afterwards, other subjects
//! untouched, a second run changing nothing; 100 e-mails that differ only in case; a bulk job
//! killed with SIGKILL and resumed, each subject anonymized once; a missing key changing
//! nothing.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::{PgDb, Run, example_config, migrate_cmd, repo, run};
use crate::support::{Stores, json};
use mongodb::bson::{Document, doc};
use serde_json::Value;

const KEY: &str = "test-anonymization-key-0123456789abcdef";

const ORG: &str = "c0000000-0000-4000-8000-000000000001";
const SUBJECT: &str = "a5000000-0000-4000-8000-000000000001";
const OTHER: &str = "b5000000-0000-4000-8000-000000000002";

const EMAIL: &str = "Zebulon.Quixote@Example.ORG";
const NAME: &str = "Zebulon Quixote";
const PHONE: &str = "+1 415 555 2671";
const IP: &str = "203.0.113.77";

/// `config.example.toml` made usable from a scratch directory: the Mongo database comes from the
/// URL, the Lua library path is absolute, and `edit` may change more.
fn write_config(dir: &Path, edit: impl Fn(String) -> String) -> PathBuf {
    let path = dir.join("migrate.toml");
    std::fs::write(&path, edit(example_config())).unwrap();
    path
}

/// What these tests run on top of the shared [`Stores`].
trait AnonymizeRuns {
    /// `anonymize policy NAME` with a JSON report, confirmed.
    fn policy_json(&self, name: &str) -> Run;
    /// The binary with `env` instead of the anonymization key.
    fn migrate_env(&self, env: &[(&str, &str)], args: &[&str]) -> Run;
}

impl AnonymizeRuns for Stores {
    fn policy_json(&self, name: &str) -> Run {
        self.migrate(&["--format", "json", "--yes", "anonymize", "policy", name])
    }

    fn migrate_env(&self, env: &[(&str, &str)], args: &[&str]) -> Run {
        let mut cmd = self.command();
        cmd.env_remove("MIGRATE_ANON_KEY");
        for (name, value) in env {
            cmd.env(name, value);
        }
        run(cmd.args(args))
    }
}

/// Every store migrated (the application's schema, Mongo collections, Redis keyspace).
fn stores(edit: impl Fn(String) -> String) -> Stores {
    let stores = Stores::new().with_env("MIGRATE_ANON_KEY", KEY);
    write_config(stores.dir.path(), edit);
    stores.migrate(&["up"]).assert_ok();
    stores
}

/// Two users of one organization with data in every place the rules cover.
fn fill(stores: &Stores) {
    stores.pg.execute(&format!(
        "
        INSERT INTO users (id, email, name, first_name, last_name, password_hash)
        VALUES ('{OTHER}', 'olga.other@example.net', 'Olga Other', 'Olga', 'Other', 'y');
        SET app.client_ip = '{IP}';
        SET app.user_agent = 'ZebulonBrowser/1.0';
        SET app.current_user_id = '{SUBJECT}';
        INSERT INTO users (id, email, name, first_name, last_name, password_hash)
        VALUES ('{SUBJECT}', '{EMAIL}', 'Zeb Q', 'Zebulon', 'Quixote', 'x');
        -- A rename: the audit row keeps the old and the new name.
        UPDATE users SET name = '{NAME}' WHERE id = '{SUBJECT}';
        RESET app.current_user_id; RESET app.client_ip; RESET app.user_agent;
        INSERT INTO organizations (id, name, slug, owner_id) VALUES ('{ORG}', 'Org', 'org', '{OTHER}');
        INSERT INTO user_profiles (user_id, phone, bio) VALUES
            ('{SUBJECT}', '{PHONE}', 'I am {NAME}'), ('{OTHER}', '+44 20 7946 0958', 'hello');
        INSERT INTO sessions (user_id, token_hash, ip_address, user_agent, expires_at) VALUES
            ('{SUBJECT}', 'h1', '{IP}', 'ZebulonBrowser/1.0', now() + interval '1 day'),
            ('{OTHER}', 'h2', '198.51.100.2', 'OtherBrowser', now() + interval '1 day');
        INSERT INTO refresh_tokens (user_id, token_hash, ip_address, device_info, expires_at)
            VALUES ('{SUBJECT}', 'r1', '{IP}', '{{\"ip\": \"{IP}\"}}', now() + interval '1 day');
        INSERT INTO security_events (user_id, event_type, ip_address, metadata) VALUES
            ('{SUBJECT}', 'login_failed', '{IP}', '{{\"ip\": \"{IP}\", \"email\": \"{EMAIL}\"}}'),
            ('{OTHER}', 'login_failed', '198.51.100.2', '{{\"ip\": \"198.51.100.2\"}}');
        INSERT INTO consents (user_id, consent_type, version, granted, ip_address)
            VALUES ('{SUBJECT}', 'terms', '1', true, '{IP}');
        INSERT INTO activity_logs (organization_id, user_id, action, entity_type, metadata, ip_address)
        VALUES ('{ORG}', '{SUBJECT}', 'task.created', 'task', '{{\"ip\": \"{IP}\", \"n\": 1}}', '{IP}'),
               ('{ORG}', '{OTHER}', 'task.created', 'task', '{{\"ip\": \"198.51.100.2\"}}', '198.51.100.2');
        INSERT INTO notifications (organization_id, user_id, type, title, body)
            VALUES ('{ORG}', '{SUBJECT}', 'mention', 'Hi {NAME}', 'mail {EMAIL}');
        INSERT INTO conversations (id, organization_id, created_by)
            VALUES ('d0000000-0000-4000-8000-000000000001', '{ORG}', '{OTHER}');
        INSERT INTO messages (organization_id, conversation_id, author_id, content)
            VALUES ('{ORG}', 'd0000000-0000-4000-8000-000000000001', '{SUBJECT}', 'call me: {PHONE}'),
                   ('{ORG}', 'd0000000-0000-4000-8000-000000000001', '{OTHER}', 'sure, Olga here');
        "
    ));
    let (runtime, database) = stores.mongo_database();
    runtime
        .block_on(async {
            database
                .collection::<Document>("activityLogs")
                .insert_many(vec![
                    doc! {"userId": SUBJECT, "action": "login", "entityType": "user", "entityId": SUBJECT,
                          "metadata": {"ip": IP, "userAgent": "ZebulonBrowser/1.0"},
                          "timestamp": mongodb::bson::DateTime::now()},
                    doc! {"userId": OTHER, "action": "login", "entityType": "user", "entityId": OTHER,
                          "metadata": {"ip": "198.51.100.2"}, "timestamp": mongodb::bson::DateTime::now()},
                ])
                .await
        })
        .unwrap();
    let mut r = stores.redis_connection();
    let user_json = format!(r#"{{"id": "{SUBJECT}", "email": "{EMAIL}", "name": "{NAME}"}}"#);
    redis::pipe()
        .cmd("SET")
        .arg(format!("cache:user:{SUBJECT}"))
        .arg(&user_json)
        .arg("EX")
        .arg(600)
        .ignore()
        .cmd("SET")
        .arg(format!("cache:user:{OTHER}"))
        .arg(r#"{"name": "Olga Other"}"#)
        .arg("EX")
        .arg(600)
        .ignore()
        .cmd("HSET")
        .arg(format!("user:presence:{SUBJECT}"))
        .arg("status")
        .arg("online")
        .ignore()
        .cmd("HSET")
        .arg("session:s1")
        .arg("userId")
        .arg(SUBJECT)
        .arg("ip")
        .arg(IP)
        .ignore()
        .cmd("HSET")
        .arg("session:s2")
        .arg("userId")
        .arg(OTHER)
        .ignore()
        .cmd("SADD")
        .arg("doc:active:d1")
        .arg(SUBJECT)
        .arg(OTHER)
        .ignore()
        .cmd("SET")
        .arg(format!("rate_limit:{IP}:login"))
        .arg("1")
        .arg("EX")
        .arg(60)
        .ignore()
        .cmd("SADD")
        .arg(format!("permissions:user:{SUBJECT}:org:{ORG}"))
        .arg("task.read")
        .ignore()
        .cmd("SADD")
        .arg(format!("permissions:user:{OTHER}:org:{ORG}"))
        .arg("task.read")
        .ignore()
        .cmd("RPUSH")
        .arg("chat:room:r1:messages")
        .arg(format!(
            r#"{{"author": "{SUBJECT}", "text": "call me: {PHONE}"}}"#
        ))
        .arg(format!(r#"{{"author": "{OTHER}", "text": "sure"}}"#))
        .ignore()
        .query::<()>(&mut r)
        .unwrap();
}

/// Every place (table, collection, key) where `needle` occurs, searched independently of
/// migrate: each table's rows as text (JSON columns included), each document, each key.
fn places_holding(stores: &Stores, needle: &str) -> Vec<String> {
    let needle = needle.to_lowercase();
    let mut places = Vec::new();
    let tables = stores.pg.query(
        "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c
         JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind IN ('r', 'm') AND n.nspname = 'public' ORDER BY 1",
    );
    for table in tables {
        let table = table[0].clone().unwrap();
        let n = stores
            .pg
            .scalar(&format!(
                "SELECT count(*) FROM {table} t WHERE lower(t::text) LIKE '%' || {} || '%'",
                quote_literal(&needle)
            ))
            .unwrap();
        if n != "0" {
            places.push(format!("postgres {table} ({n})"));
        }
    }
    let (runtime, database) = stores.mongo_database();
    let names: Vec<String> = runtime
        .block_on(async { database.list_collection_names().await })
        .unwrap();
    for name in names {
        let documents: Vec<Document> = runtime.block_on(async {
            use futures_util::TryStreamExt;
            database
                .collection::<Document>(&name)
                .find(doc! {})
                .await
                .unwrap()
                .try_collect()
                .await
                .unwrap()
        });
        for document in documents {
            let text = mongodb::bson::Bson::Document(document)
                .into_relaxed_extjson()
                .to_string()
                .to_lowercase();
            if text.contains(&needle) {
                places.push(format!("mongo {name}"));
            }
        }
    }
    let mut r = stores.redis_connection();
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut r).unwrap();
    for key in keys {
        let dump: String = match redis::cmd("TYPE")
            .arg(&key)
            .query::<String>(&mut r)
            .unwrap()
            .as_str()
        {
            "string" => redis::cmd("GET").arg(&key).query(&mut r).unwrap(),
            "hash" => format!(
                "{:?}",
                redis::cmd("HGETALL")
                    .arg(&key)
                    .query::<Vec<String>>(&mut r)
                    .unwrap()
            ),
            "set" => format!(
                "{:?}",
                redis::cmd("SMEMBERS")
                    .arg(&key)
                    .query::<Vec<String>>(&mut r)
                    .unwrap()
            ),
            "list" => format!(
                "{:?}",
                redis::cmd("LRANGE")
                    .arg(&key)
                    .arg(0)
                    .arg(-1)
                    .query::<Vec<String>>(&mut r)
                    .unwrap()
            ),
            _ => String::new(),
        };
        if key.to_lowercase().contains(&needle) || dump.to_lowercase().contains(&needle) {
            places.push(format!("redis {key}"));
        }
    }
    places
}

fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// A digest of every row of every table: equal digests, equal databases.
fn pg_digest(db: &PgDb) -> Vec<Vec<Option<String>>> {
    let tables = db.query(
        "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c
         JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND n.nspname = 'public' ORDER BY 1",
    );
    let union = tables
        .iter()
        .map(|t| {
            let t = t[0].clone().unwrap();
            format!(
                "SELECT '{t}', count(*)::text, md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) FROM {t} x"
            )
        })
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    db.query(&format!("{union} ORDER BY 1"))
}

/// The other user's data, as text, in every store.
fn others_data(stores: &Stores) -> (Vec<Vec<Option<String>>>, Vec<String>, Vec<String>) {
    let rows = stores.pg.query(&format!(
        "SELECT 'users', u::text FROM users u WHERE id = '{OTHER}'
         UNION ALL SELECT 'profile', p::text FROM user_profiles p WHERE user_id = '{OTHER}'
         UNION ALL SELECT 'sessions', s::text FROM sessions s WHERE user_id = '{OTHER}'
         UNION ALL SELECT 'events', e::text FROM security_events e WHERE user_id = '{OTHER}'
         UNION ALL SELECT 'activity', a::text FROM activity_logs a WHERE user_id = '{OTHER}'
         UNION ALL SELECT 'messages', m::text FROM messages m WHERE author_id = '{OTHER}'
         UNION ALL SELECT 'audit', a::text FROM audit_logs a WHERE record_id = '{OTHER}'
         ORDER BY 1, 2"
    ));
    let (runtime, database) = stores.mongo_database();
    let documents: Vec<String> = runtime.block_on(async {
        use futures_util::TryStreamExt;
        database
            .collection::<Document>("activityLogs")
            .find(doc! {"userId": OTHER})
            .await
            .unwrap()
            .try_collect::<Vec<Document>>()
            .await
            .unwrap()
            .into_iter()
            .map(|d| d.to_string())
            .collect()
    });
    let mut r = stores.redis_connection();
    let mut keys = vec![
        redis::cmd("GET")
            .arg(format!("cache:user:{OTHER}"))
            .query::<String>(&mut r)
            .unwrap(),
        format!(
            "{:?}",
            redis::cmd("HGETALL")
                .arg("session:s2")
                .query::<Vec<String>>(&mut r)
                .unwrap()
        ),
        format!(
            "{:?}",
            redis::cmd("SISMEMBER")
                .arg("doc:active:d1")
                .arg(OTHER)
                .query::<i64>(&mut r)
                .unwrap()
        ),
        format!(
            "{:?}",
            redis::cmd("EXISTS")
                .arg(format!("permissions:user:{OTHER}:org:{ORG}"))
                .query::<i64>(&mut r)
                .unwrap()
        ),
    ];
    keys.push(format!(
        "{:?}",
        redis::cmd("LRANGE")
            .arg("chat:room:r1:messages")
            .arg(0)
            .arg(-1)
            .query::<Vec<String>>(&mut r)
            .unwrap()
            .into_iter()
            .filter(|m| m.contains(OTHER))
            .collect::<Vec<_>>()
    ));
    (rows, documents, keys)
}

#[test]
fn a_subject_is_erased_everywhere_others_are_untouched_and_a_second_run_changes_nothing() {
    let stores = stores(|t| t);
    fill(&stores);
    // The fixture really has the values everywhere.
    for needle in [EMAIL, NAME, PHONE, IP] {
        assert!(
            !places_holding(&stores, needle).is_empty(),
            "fixture lacks {needle}"
        );
    }
    let others_before = others_data(&stores);

    // --dry-run: the plan with counts, nothing changed.
    let before = pg_digest(&stores.pg);
    let dry = stores.migrate(&[
        "--format",
        "json",
        "anonymize",
        "user",
        SUBJECT,
        "--dry-run",
    ]);
    dry.assert_ok();
    let plan = json(&dry);
    let count_of = |store: &str, target: &str| {
        plan["plan"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["store"] == store && t["target"] == target)
            .map(|t| t["count"].as_u64().unwrap())
    };
    assert_eq!(count_of("postgres", "users"), Some(1));
    assert_eq!(count_of("postgres", "sessions"), Some(1));
    assert_eq!(count_of("mongo", "activityLogs"), Some(1));
    assert_eq!(count_of("redis", "cache:user:{userId}"), Some(1));
    assert_eq!(count_of("redis", "session:{sessionId}"), Some(1));
    assert_eq!(pg_digest(&stores.pg), before, "--dry-run changed something");

    // Destructive runs need --yes.
    let refused = stores.migrate(&["anonymize", "user", SUBJECT]);
    refused.assert_code(1);
    assert!(refused.stderr.contains("--yes"), "{}", refused.stderr);

    let erased = stores.migrate(&["--format", "json", "--yes", "anonymize", "user", SUBJECT]);
    erased.assert_ok();
    let report = json(&erased);
    assert_eq!(report["verification"]["hits"], serde_json::json!([]));
    assert!(
        report["verification"]["searched"]["tables"]
            .as_u64()
            .unwrap()
            > 30
    );
    // Never the values in output.
    for needle in [EMAIL, NAME, PHONE, IP, "Zebulon", "Quixote"] {
        for output in [&erased.stdout, &erased.stderr, &dry.stdout, &dry.stderr] {
            assert!(
                !output.to_lowercase().contains(&needle.to_lowercase()),
                "output shows {needle}:\n{output}"
            );
        }
    }
    // Nothing of the subject is left anywhere.
    for needle in [EMAIL, NAME, "Zebulon", "Quixote", PHONE, "415 555 2671", IP] {
        assert_eq!(
            places_holding(&stores, needle),
            Vec::<String>::new(),
            "{needle}"
        );
    }
    assert_eq!(
        others_data(&stores),
        others_before,
        "another user's data changed"
    );
    // The rows stay, pseudonymous; the audit trail says what happened without values.
    let email = stores
        .pg
        .scalar(&format!("SELECT email FROM users WHERE id = '{SUBJECT}'"))
        .unwrap();
    assert!(
        email.starts_with("anon+") && email.ends_with("@anon.invalid"),
        "{email}"
    );
    assert_eq!(
        stores.pg.scalar(&format!(
            "SELECT count(*) FROM audit_logs WHERE record_id = '{SUBJECT}' AND action = 'anonymize' AND old_values IS NULL AND new_values IS NULL"
        )).as_deref(),
        Some("1")
    );
    // The ledger: a keyed hash, counts and times, no personal data.
    let ledger = stores.pg.query(
        "SELECT request_type::text, status::text, subject_hmac, counts::text, completed_at IS NOT NULL FROM gdpr_requests",
    );
    assert_eq!(ledger.len(), 1, "{ledger:?}");
    assert_eq!(ledger[0][0].as_deref(), Some("erasure"));
    assert_eq!(ledger[0][1].as_deref(), Some("completed"));
    assert_eq!(ledger[0][2].as_deref(), report["subject_hmac"].as_str());
    assert_eq!(ledger[0][4].as_deref(), Some("t"));
    assert!(!ledger[0][3].as_deref().unwrap().contains(SUBJECT));

    // The row is marked as erased, the way seed 004's anonymize_user_data does.
    assert_eq!(
        stores
            .pg
            .scalar(&format!(
                "SELECT status::text || ' ' || (deleted_at IS NOT NULL)::text FROM users WHERE id = '{SUBJECT}'"
            ))
            .as_deref(),
        Some("inactive true")
    );

    // A second run changes nothing, in any store, but its outcome is recorded.
    let without_ledger = |d: Vec<Vec<Option<String>>>| {
        d.into_iter()
            .filter(|r| {
                !matches!(
                    r[0].as_deref(),
                    Some("public.gdpr_requests" | "public.gdpr_erasures")
                )
            })
            .collect::<Vec<_>>()
    };
    let digest = without_ledger(pg_digest(&stores.pg));
    let places_before = places_holding(&stores, "anon");
    let again = stores.migrate(&["--format", "json", "--yes", "anonymize", "user", SUBJECT]);
    again.assert_ok();
    let again = json(&again);
    assert_eq!(again["already_erased"], true, "{again}");
    assert_eq!(again["changed"], serde_json::json!([]));
    assert!(
        again["verification"]["kept_from_earlier_runs"]
            .as_u64()
            .unwrap()
            >= 4,
        "{again}"
    );
    assert_eq!(
        without_ledger(pg_digest(&stores.pg)),
        digest,
        "the second run changed the database"
    );
    assert_eq!(places_holding(&stores, "anon"), places_before);
    assert_eq!(
        stores
            .pg
            .scalar("SELECT string_agg(status::text, ' ' ORDER BY requested_at) FROM gdpr_requests")
            .as_deref(),
        Some("completed completed")
    );
}

#[test]
fn an_original_value_left_where_no_rule_reaches_fails_verification_with_exit_2() {
    let stores = stores(|t| t);
    fill(&stores);
    // A role's description quotes the subject's e-mail: no rule covers roles.
    stores.pg.execute(&format!(
        "INSERT INTO roles (id, organization_id, name, description)
             VALUES ('e1000000-0000-4000-8000-000000000001', '{ORG}', 'helpdesk', 'ask {EMAIL}')"
    ));
    let result = stores.migrate(&["--yes", "anonymize", "user", SUBJECT]);
    result.assert_code(2);
    assert!(
        result.stdout.contains("roles.description")
            && result
                .stdout
                .contains("e1000000-0000-4000-8000-000000000001"),
        "{}",
        result.stdout
    );
    assert!(result.stdout.contains("email"), "{}", result.stdout);
    assert!(!result.stdout.to_lowercase().contains(&EMAIL.to_lowercase()));
    assert_eq!(
        stores
            .pg
            .scalar("SELECT status::text FROM gdpr_requests")
            .as_deref(),
        Some("failed")
    );
    let error = stores.pg.scalar("SELECT error FROM gdpr_requests").unwrap();
    assert!(
        error.contains("roles.description") && !error.to_lowercase().contains("zebulon"),
        "{error}"
    );
}

#[test]
fn a_missing_key_is_a_clear_error_and_nothing_changes() {
    let stores = stores(|t| t);
    fill(&stores);
    let before = pg_digest(&stores.pg);
    let result = stores.migrate_env(&[], &["--yes", "anonymize", "user", SUBJECT]);
    result.assert_code(1);
    assert!(
        result.stderr.contains("MIGRATE_ANON_KEY") && result.stderr.contains("not set"),
        "{}",
        result.stderr
    );
    assert_eq!(
        result
            .stderr
            .lines()
            .filter(|l| l.starts_with("error:"))
            .count(),
        1
    );
    let policy = stores.migrate_env(&[], &["--yes", "anonymize", "policy", "staging_copy"]);
    policy.assert_code(1);
    assert_eq!(pg_digest(&stores.pg), before);
    assert!(!places_holding(&stores, EMAIL).is_empty());
}

/// Config for PostgreSQL-only bulk tests: the Mongo and Redis rules are left out.
fn postgres_only(text: String) -> String {
    let mut out = String::new();
    let mut skip = false;
    for line in text.lines() {
        if line.starts_with('[') {
            skip =
                line.starts_with("[[anonymize.mongo]]") || line.starts_with("[[anonymize.redis]]");
        }
        if !skip {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

#[test]
fn a_hundred_emails_differing_only_in_case_break_no_unique_constraint() {
    let stores = stores(postgres_only);
    // citext + a unique index among live rows: the variants can only coexist soft-deleted,
    // with one live account.
    stores.pg.execute(
        "INSERT INTO users (email, name, deleted_at)
         SELECT (SELECT string_agg(CASE WHEN (g >> (i % 7)::int) & 1 = 1 THEN upper(c) ELSE c END, '' ORDER BY i)
                 FROM regexp_split_to_table('casey.jones@example.com', '') WITH ORDINALITY AS s(c, i)),
                'Casey Jones ' || g,
                CASE WHEN g = 0 THEN NULL ELSE now() - interval '40 days' END
         FROM generate_series(0, 99) g",
    );
    assert_eq!(
        stores
            .pg
            .scalar("SELECT count(DISTINCT email::text) FROM users")
            .as_deref(),
        Some("100")
    );
    let result = stores.policy_json("staging_copy");
    result.assert_ok();
    assert_eq!(json(&result)["subjects_done"], 100);
    assert_eq!(
        stores.pg.scalar(
            "SELECT count(DISTINCT lower(email::text)) FROM users WHERE email::text LIKE 'anon+%@anon.invalid'"
        ).as_deref(),
        Some("100")
    );
    // The outputs are distinct even case-insensitively: all of them can be live at once.
    stores.pg.execute("UPDATE users SET deleted_at = NULL");
    assert_eq!(
        stores
            .pg
            .scalar("SELECT count(*) FROM users WHERE deleted_at IS NULL")
            .as_deref(),
        Some("100")
    );
}

#[test]
fn a_bulk_job_killed_mid_way_resumes_and_anonymizes_every_subject_once() {
    let stores = stores(|t| postgres_only(t).replace("batch_size = 1000", "batch_size = 20"));
    stores.pg.execute(
        "INSERT INTO users (email, name, first_name, deleted_at)
         SELECT 'gone' || g || '@example.com', 'Gone User ' || g, 'Gone', now() - interval '40 days'
         FROM generate_series(1, 400) g;
         INSERT INTO users (email, name) VALUES ('stays@example.com', 'Still Here');
         INSERT INTO user_profiles (user_id, phone)
         SELECT id, '+1 555 ' || lpad((row_number() OVER ())::text, 7, '0') FROM users;",
    );
    let mut child = migrate_cmd()
        .current_dir(stores.dir.path())
        .env("MIGRATE_ANON_KEY", KEY)
        .env("MIGRATE_TEST_BATCH_PAUSE_MS", "100")
        .args([
            "--database-url",
            &stores.pg.url,
            "--migrations",
            &repo("migrations"),
            "--yes",
            "anonymize",
            "policy",
            "deleted_users",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        let done: u64 = stores
            .pg
            .scalar("SELECT coalesce(max(done), 0) FROM migrate_jobs")
            .unwrap()
            .parse()
            .unwrap();
        if done >= 100 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the job made no progress"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the job ended before it was killed"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let done_at_kill: u64 = stores
        .pg
        .scalar("SELECT done FROM migrate_jobs")
        .unwrap()
        .parse()
        .unwrap();
    assert!(done_at_kill < 400, "killed too late to test resuming");
    assert_eq!(
        stores
            .pg
            .scalar("SELECT status FROM migrate_jobs")
            .as_deref(),
        Some("running")
    );

    let resumed = stores.policy_json("deleted_users");
    resumed.assert_ok();
    let report = json(&resumed);
    assert_eq!(report["resumed_after"].as_u64(), Some(done_at_kill));
    assert_eq!(report["subjects_done"].as_u64(), Some(400 - done_at_kill));
    // The first subject of batches 1, 2, 4, ... of this run were searched for everywhere.
    assert!(
        report["sampled_subjects"].as_u64().unwrap() >= 3,
        "{report}"
    );
    assert_eq!(report["verification"]["hits"], serde_json::json!([]));
    assert!(report["verification"]["searched"]["rows"].as_u64().unwrap() > 400);
    assert!(report["max_batch_ms"].as_u64().unwrap() < report["lock_timeout_ms"].as_u64().unwrap());

    // Every subject anonymized, each exactly once; the live user untouched.
    assert_eq!(
        stores.pg.scalar("SELECT count(*) FROM users WHERE email::text LIKE 'anon+%' AND deleted_at IS NOT NULL").as_deref(),
        Some("400")
    );
    assert_eq!(
        stores.pg.scalar("SELECT count(*) FROM users u JOIN user_profiles p ON p.user_id = u.id WHERE u.deleted_at IS NOT NULL AND p.phone IS NOT NULL").as_deref(),
        Some("0")
    );
    assert_eq!(
        stores
            .pg
            .scalar("SELECT email::text FROM users WHERE deleted_at IS NULL")
            .as_deref(),
        Some("stays@example.com")
    );
    assert_eq!(
        stores.pg.query(
            "SELECT count(*), count(DISTINCT record_id), max(n) FROM (
                 SELECT record_id, count(*) AS n FROM audit_logs
                 WHERE action = 'anonymize' AND table_name = 'users' GROUP BY record_id) x"
        ),
        vec![vec![
            Some("400".into()),
            Some("400".into()),
            Some("1".into())
        ]]
    );
    assert_eq!(
        stores.pg.query("SELECT count(*), count(DISTINCT subject_hmac) FROM gdpr_requests WHERE request_type = 'erasure'"),
        vec![vec![Some("400".into()), Some("400".into())]]
    );
    assert_eq!(
        stores.pg.scalar("SELECT count(*) FROM audit_logs WHERE old_values::text LIKE '%gone%@example.com%' OR new_values::text LIKE '%Gone User%'").as_deref(),
        Some("0")
    );

    // An idempotent re-run: a new job from the start that changes nothing.
    let digest = pg_digest(&stores.pg);
    let again = stores.policy_json("deleted_users");
    again.assert_ok();
    assert_eq!(json(&again)["rows_changed"], 0);
    let after = pg_digest(&stores.pg);
    let without_jobs = |d: &Vec<Vec<Option<String>>>| {
        d.iter()
            .filter(|r| r[0].as_deref() != Some("public.migrate_jobs"))
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(without_jobs(&after), without_jobs(&digest));
}

#[test]
fn a_row_changed_between_the_read_and_the_write_is_anonymized_from_its_new_content() {
    // The batch reads rows without locks and writes them with a compare-and-set UPDATE: a row
    // that another session changes in between is read again (locked) and written from what it
    // holds then, so the concurrent change's personal data does not survive either.
    let stores = stores(|t| t.replace("lock_timeout = \"2s\"", "lock_timeout = \"20s\""));
    fill(&stores);
    let late = "late.change@example.org";
    // Its own session (psql): the harness's client is shared behind a lock.
    let mut holder = std::process::Command::new("psql")
        .args([
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            &stores.pg.url,
            "-c",
        ])
        .arg(format!(
            "BEGIN;
             SELECT 1 FROM users WHERE id = '{SUBJECT}' FOR UPDATE;
             SELECT pg_sleep(4);
             UPDATE users SET email = '{late}', first_name = 'Latecomer' WHERE id = '{SUBJECT}';
             COMMIT;"
        ))
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while stores
        .pg
        .scalar(
            "SELECT count(*) FROM pg_stat_activity
             WHERE wait_event = 'PgSleep' AND datname = current_database()",
        )
        .as_deref()
        != Some("1")
    {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no lock holder"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let result = stores.migrate(&["--format", "json", "--yes", "anonymize", "user", SUBJECT]);
    assert!(holder.wait().unwrap().success());
    result.assert_ok();
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "the anonymizing UPDATE did not wait for the other session"
    );
    let email = stores
        .pg
        .scalar(&format!(
            "SELECT email::text FROM users WHERE id = '{SUBJECT}'"
        ))
        .unwrap();
    assert!(email.starts_with("anon+"), "{email}");
    assert!(places_holding(&stores, late).is_empty());
    assert!(places_holding(&stores, "Latecomer").is_empty());
    assert!(places_holding(&stores, EMAIL).is_empty());
    // The other session's change is the one the row was anonymized from: no lost update of
    // columns the rules keep.
    assert_eq!(
        stores
            .pg
            .scalar(
                "SELECT email::text FROM users WHERE id = 'b5000000-0000-4000-8000-000000000002'"
            )
            .as_deref(),
        Some("olga.other@example.net")
    );
}

#[test]
fn a_bulk_job_searches_every_store_for_sampled_subjects_and_fails_on_a_hit() {
    let stores = stores(postgres_only);
    // Three soft-deleted users, all searched for in every store when the job ends.
    stores.pg.execute(&format!(
        "INSERT INTO users (id, email, name, first_name, last_name, deleted_at)
         VALUES ('{SUBJECT}', '{EMAIL}', '{NAME}', 'Zebulon', 'Quixote', now() - interval '40 days'),
                ('{OTHER}', 'olga.other@example.net', 'Olga Other', 'Olga', 'Other', now() - interval '40 days'),
                ('c5000000-0000-4000-8000-000000000003', 'carl.third@example.net', 'Carl Third', 'Carl', 'Third', now() - interval '40 days');
         INSERT INTO users (id, email, name) VALUES ('d5000000-0000-4000-8000-000000000004', 'dana.live@example.net', 'Dana Live');
         INSERT INTO organizations (id, name, slug, owner_id)
             VALUES ('{ORG}', 'Org', 'org', 'd5000000-0000-4000-8000-000000000004');
         INSERT INTO roles (organization_id, name, description)
             VALUES ('{ORG}', 'helpdesk', 'ask {EMAIL}');"
    ));
    let result = stores.policy_json("deleted_users");
    result.assert_code(2);
    let report = json(&result);
    assert_eq!(report["subjects_done"], 3);
    // Every subject of the job (up to 20,000) was searched for in every store.
    assert_eq!(report["sampled_subjects"], 3);
    let leftovers = report["leftovers"].as_object().unwrap();
    assert!(
        leftovers.keys().any(|k| k.contains("roles.description")),
        "{report}"
    );
    assert!(!result.stdout.to_lowercase().contains(&EMAIL.to_lowercase()));
    assert_eq!(
        stores
            .pg
            .scalar("SELECT status FROM migrate_jobs")
            .as_deref(),
        Some("failed")
    );

    // Without the quote the same job verifies clean.
    stores.pg.execute("DELETE FROM roles");
    stores.pg.execute("DELETE FROM migrate_jobs");
    let again = stores.policy_json("deleted_users");
    again.assert_ok();
    let report = json(&again);
    assert_eq!(report["rows_changed"], 0);
    assert!(report["leftovers"].as_object().unwrap().is_empty());
}

#[test]
fn export_bundles_the_subjects_data_and_records_the_request() {
    let stores = stores(|t| t);
    fill(&stores);
    let file = stores.dir.path().join("export.json");
    let result = stores.migrate(&["export", "user", SUBJECT, "-o", file.to_str().unwrap()]);
    result.assert_ok();
    let bundle: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let tables: Vec<&str> = bundle["postgres"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["table"].as_str().unwrap())
        .collect();
    for table in [
        "users",
        "user_profiles",
        "sessions",
        "messages",
        "activity_logs",
        "audit_logs",
    ] {
        assert!(tables.contains(&table), "{table} missing from {tables:?}");
    }
    let users = bundle["postgres"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == "users")
        .unwrap();
    assert_eq!(users["rows"][0]["email"], EMAIL);
    assert_eq!(users["rows"][0]["password_hash"], "[redacted]");
    assert_eq!(bundle["mongo"]["activityLogs"].as_array().unwrap().len(), 1);
    let keys: Vec<&str> = bundle["redis"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["key"].as_str().unwrap())
        .collect();
    assert!(
        keys.contains(&format!("cache:user:{SUBJECT}").as_str()),
        "{keys:?}"
    );
    assert!(keys.contains(&"session:s1"), "{keys:?}");
    assert!(!keys.contains(&"session:s2"), "{keys:?}");
    assert!(
        !bundle.to_string().contains("Olga"),
        "another user's data in the export"
    );
    assert_eq!(
        stores
            .pg
            .scalar("SELECT request_type::text || ' ' || status::text FROM gdpr_requests")
            .as_deref(),
        Some("export completed")
    );
}

#[test]
fn export_needs_no_key_and_then_records_no_request() {
    let stores = stores(|t| t);
    fill(&stores);
    let file = stores.dir.path().join("export.json");
    let result = stores.migrate_env(
        &[],
        &["export", "user", SUBJECT, "-o", file.to_str().unwrap()],
    );
    result.assert_ok();
    assert!(
        result
            .stderr
            .contains("warning: the export was not recorded in gdpr_requests")
            && result.stderr.contains("hint: set MIGRATE_ANON_KEY"),
        "{}",
        result.stderr
    );
    // One document: singular.
    assert!(
        result.stdout.contains(", 1 document, "),
        "{}",
        result.stdout
    );
    let bundle: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let users = bundle["postgres"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == "users")
        .unwrap();
    assert_eq!(users["rows"][0]["email"], EMAIL);
    assert_eq!(
        stores
            .pg
            .scalar("SELECT count(*) FROM gdpr_requests")
            .as_deref(),
        Some("0")
    );
    // To stdout, in JSON mode: the bundle is the one document.
    let printed = stores.migrate_env(&[], &["--format", "json", "export", "user", SUBJECT]);
    printed.assert_ok();
    assert_eq!(json(&printed)["subject"], SUBJECT);
    // The anonymize policies' dry run counts without the key too; erasing needs it.
    stores
        .migrate_env(&[], &["anonymize", "policy", "--dry-run"])
        .assert_ok();
    // Every policy in one JSON document (#14: one document per policy before).
    let all = stores.migrate_env(
        &[],
        &["--format", "json", "anonymize", "policy", "--dry-run"],
    );
    all.assert_ok();
    let reports = json(&all);
    let reports = reports["reports"]
        .as_array()
        .unwrap_or_else(|| panic!("not one document: {}", all.stdout));
    assert!(!reports.is_empty());
    assert!(reports.iter().all(|r| r["dry_run"] == true), "{reports:?}");
    let erase = stores.migrate_env(&[], &["--yes", "anonymize", "user", SUBJECT]);
    erase.assert_code(1);
    assert!(
        erase.stderr.contains("MIGRATE_ANON_KEY"),
        "{}",
        erase.stderr
    );
}

// ---------------------------------------------------------------------------------------------
// Complete, precise, honest on re-run, marked (issue 18); one key per bulk job (issue 19).

/// The report of one subject among several (`{"reports": [...]}`).
fn report_of<'a>(reports: &'a Value, subject: &str) -> &'a Value {
    reports["reports"]
        .as_array()
        .unwrap_or_else(|| panic!("no reports in {reports}"))
        .iter()
        .find(|r| r["subject"] == subject)
        .unwrap_or_else(|| panic!("no report of {subject} in {reports}"))
}

fn hit_places(report: &Value) -> Vec<String> {
    report["verification"]["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            format!(
                "{} {} {} {}",
                h["store"].as_str().unwrap(),
                h["location"].as_str().unwrap(),
                h["key"].as_str().unwrap(),
                h["kind"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn the_dev_employee_is_erased_completely_precisely_and_marked() {
    let stores = stores(|t| t);
    stores
        .migrate(&["--seeds", &repo("seeds"), "seed", "--env", "dev"])
        .assert_ok();
    const EMMA: &str = "10000000-0000-4000-8000-000000000003";
    // Her name is in another user's notification (she is its actor), and her last name is a
    // role label, which her own audit copy holds as `"role": "employee"`.
    assert_eq!(places_holding(&stores, "Emma Employee").len(), 3);
    let result = stores.migrate(&["--format", "json", "--yes", "anonymize", "user", EMMA]);
    result.assert_ok();
    let report = json(&result);
    assert_eq!(
        report["verification"]["hits"],
        serde_json::json!([]),
        "{report}"
    );
    assert_eq!(report["verification"]["enum_labels"], 1, "{report}");
    assert!(
        report["changed"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["target"] == "notifications (replaced)" && c["count"] == 1)
    );
    // Complete: nothing of her is left anywhere, the rest of the text stays.
    for needle in ["Emma Employee", "employee@test-org.com"] {
        assert_eq!(
            places_holding(&stores, needle),
            Vec::<String>::new(),
            "{needle}"
        );
    }
    assert_eq!(
        stores
            .pg
            .scalar(
                "SELECT title FROM notifications WHERE id = '71000000-0000-4000-8000-000000000002'"
            )
            .as_deref(),
        Some("[redacted] replied")
    );
    // Precise: the role label of her audit copy is not personal data and stays.
    assert_eq!(
        stores
            .pg
            .scalar(&format!(
                "SELECT count(*) FROM audit_logs WHERE record_id = '{EMMA}' AND new_values ->> 'role' = 'employee'"
            ))
            .as_deref(),
        Some("1")
    );
    // Marked as seed 004's anonymize_user_data does, in the same audited UPDATE.
    assert_eq!(
        stores.pg.query(&format!(
            "SELECT status::text, (deleted_at IS NOT NULL)::text FROM users WHERE id = '{EMMA}'"
        )),
        vec![vec![Some("inactive".into()), Some("true".into())]]
    );
    assert_eq!(
        stores
            .pg
            .scalar("SELECT status::text FROM gdpr_requests")
            .as_deref(),
        Some("completed")
    );
    // The other dev users are untouched.
    assert_eq!(
        stores
            .pg
            .scalar("SELECT string_agg(name, ', ' ORDER BY id) FROM users WHERE id <> '10000000-0000-4000-8000-000000000003'")
            .as_deref(),
        Some("Ada Admin, Max Manager")
    );
}

#[test]
fn a_rerun_and_verify_never_report_clean_while_a_value_is_back() {
    let stores = stores(|t| t);
    fill(&stores);
    stores
        .migrate(&["--yes", "anonymize", "user", SUBJECT])
        .assert_ok();
    // Written back after the erasure: in a place no rule covers, and in a notification.
    stores.pg.execute(&format!(
        "INSERT INTO roles (id, organization_id, name, description)
             VALUES ('e1000000-0000-4000-8000-000000000001', '{ORG}', 'helpdesk', 'ask {EMAIL}');
         INSERT INTO notifications (id, organization_id, user_id, actor_id, type, title)
             VALUES ('e2000000-0000-4000-8000-000000000001', '{ORG}', '{OTHER}', '{SUBJECT}', 'comment', '{NAME} commented')"
    ));
    let verify = stores.migrate(&["--format", "json", "anonymize", "verify", SUBJECT]);
    verify.assert_code(2);
    let report = json(&verify);
    // The notification is about the subject (its actor): its one-word names count there too.
    assert_eq!(
        hit_places(&report),
        vec![
            "postgres notifications.title e2000000-0000-4000-8000-000000000001 name",
            "postgres notifications.title e2000000-0000-4000-8000-000000000001 first_name",
            "postgres notifications.title e2000000-0000-4000-8000-000000000001 last_name",
            "postgres roles.description e1000000-0000-4000-8000-000000000001 email",
        ]
    );
    assert!(!verify.stdout.to_lowercase().contains("zebulon"));
    // A second erasure is not clean either: it replaces what a rule covers and reports the rest.
    let again = stores.migrate(&["--format", "json", "--yes", "anonymize", "user", SUBJECT]);
    again.assert_code(2);
    let report = json(&again);
    assert_eq!(
        hit_places(&report),
        vec!["postgres roles.description e1000000-0000-4000-8000-000000000001 email"]
    );
    assert_eq!(report["verification"]["earlier_hits"], 4);
    assert_eq!(report["verification"]["earlier_hits_remaining"], 1);
    assert_eq!(
        stores
            .pg
            .scalar(
                "SELECT title FROM notifications WHERE id = 'e2000000-0000-4000-8000-000000000001'"
            )
            .as_deref(),
        Some("[redacted] commented")
    );
    stores.pg.execute("DELETE FROM roles");
    let clean = stores.migrate(&["--format", "json", "anonymize", "verify", SUBJECT]);
    clean.assert_ok();
    assert_eq!(json(&clean)["verification"]["earlier_hits_remaining"], 0);
    // Every run's outcome is in the ledger (a clean verify adds nothing to it).
    assert_eq!(
        stores
            .pg
            .scalar("SELECT string_agg(status::text, ' ' ORDER BY requested_at, created_at) FROM gdpr_requests")
            .as_deref(),
        Some("completed failed failed")
    );
    // Nothing to verify against for a subject never erased.
    let unknown = stores.migrate(&["anonymize", "verify", OTHER]);
    unknown.assert_code(1);
    assert!(
        unknown.stderr.contains("no erasure of") && unknown.stderr.contains("anonymize user"),
        "{}",
        unknown.stderr
    );
}

/// First and last names of the fake lists (src/jobs/anonymize/hmac.rs): real names drawn from
/// them can coincide with the fake names an erasure writes.
const FAKE_FIRST: &str = "Ada,Alan,Alex,Amara,Ana,Ben,Bianca,Carlos,Chen,Clara,Dana,David,Elena,Emil,Fatima,Felix,Grace,Hana,Hugo,Ines";
const FAKE_LAST: &str = "Adler,Alvarez,Bauer,Berg,Costa,Dahl,Diaz,Eriksen,Fischer,Garcia,Haas,Hansen,Ito,Jensen,Kaur,Keller,Kim,Kowalski,Lang,Larsen";

#[test]
fn shared_first_names_enum_labels_and_fake_names_are_not_hits() {
    let stores = stores(|t| t);
    const ADA: &str = "a6000000-0000-4000-8000-000000000001";
    const MIA: &str = "a6000000-0000-4000-8000-000000000002";
    const LOVELACE: &str = "b6000000-0000-4000-8000-000000000001";
    stores.pg.execute(&format!(
        "INSERT INTO users (id, email, name, first_name, last_name, role) VALUES
            ('{ADA}', 'ada.quist@example.org', 'Ada Quist', 'Ada', 'Quist', 'user'),
            ('{MIA}', 'mia.manager@example.org', 'Mia Manager', 'Mia', 'Manager', 'manager'),
            ('{LOVELACE}', 'ada.lovelace@example.org', 'Ada Lovelace', 'Ada', 'Lovelace', 'manager');
         -- Sixty people named from the lists the fake names come from.
         INSERT INTO users (id, email, name, first_name, last_name)
         SELECT ('c6000000-0000-4000-8000-' || lpad(g::text, 12, '0'))::uuid, 'fake' || g || '@example.org',
                f || ' ' || l, f, l
         FROM generate_series(1, 60) g,
              LATERAL (SELECT (string_to_array('{FAKE_FIRST}', ','))[1 + g % 20] AS f,
                              (string_to_array('{FAKE_LAST}', ','))[1 + (g * 7) % 20] AS l) n;
         INSERT INTO organizations (id, name, slug, owner_id) VALUES ('{ORG}', 'Org', 'org', '{LOVELACE}');
         INSERT INTO projects (id, organization_id, name, slug, created_by)
             VALUES ('e0000000-0000-4000-8000-000000000001', '{ORG}', 'P', 'p', '{LOVELACE}');
         INSERT INTO comments (id, organization_id, entity_type, entity_id, author_id, content, mentions) VALUES
             ('e3000000-0000-4000-8000-000000000001', '{ORG}', 'project', 'e0000000-0000-4000-8000-000000000001',
              '{LOVELACE}', 'Ada, please review', '{{}}'),
             ('e3000000-0000-4000-8000-000000000002', '{ORG}', 'project', 'e0000000-0000-4000-8000-000000000001',
              '{LOVELACE}', '@Ada can you look?', '{{{ADA}}}');
         INSERT INTO notifications (organization_id, user_id, actor_id, type, title)
             VALUES ('{ORG}', '{LOVELACE}', '{MIA}', 'assigned', 'Mia Manager assigned you')"
    ));
    let mut ids: Vec<String> = vec![ADA.into(), MIA.into()];
    ids.extend((1..=60).map(|g| format!("c6000000-0000-4000-8000-{g:012}")));
    let mut args: Vec<&str> = vec!["--format", "json", "--yes", "anonymize", "user"];
    args.extend(ids.iter().map(String::as_str));
    let result = stores.migrate(&args);
    result.assert_ok();
    let reports = json(&result);
    assert_eq!(reports["reports"].as_array().unwrap().len(), 62);
    for report in reports["reports"].as_array().unwrap() {
        assert_eq!(
            report["verification"]["hits"],
            serde_json::json!([]),
            "{report}"
        );
    }
    // "Ada" alone, in a comment that names nobody: Ada Lovelace's as much as Ada Quist's.
    let ada = report_of(&reports, ADA);
    assert_eq!(
        ada["verification"]["ambiguous"],
        serde_json::json!([{"store": "postgres", "location": "comments.content", "kind": "first_name", "count": 1}])
    );
    assert_eq!(
        stores.pg.query("SELECT content FROM comments ORDER BY id"),
        vec![
            vec![Some("Ada, please review".into())],
            vec![Some("@[redacted] can you look?".into())]
        ]
    );
    assert_eq!(
        stores
            .pg
            .scalar("SELECT title FROM notifications")
            .as_deref(),
        Some("[redacted] assigned you")
    );
    // Ada Lovelace keeps her name, her row and its audit copy.
    assert_eq!(
        stores.pg.scalar(&format!(
            "SELECT name || ' ' || email::text || ' ' || status::text FROM users WHERE id = '{LOVELACE}'"
        )).as_deref(),
        Some("Ada Lovelace ada.lovelace@example.org active")
    );
    assert_eq!(places_holding(&stores, "Ada Lovelace").len(), 2);
    for needle in [
        "Ada Quist",
        "Mia Manager",
        "ada.quist@example.org",
        "mia.manager@example.org",
    ] {
        assert_eq!(
            places_holding(&stores, needle),
            Vec::<String>::new(),
            "{needle}"
        );
    }
}

#[test]
fn values_in_other_peoples_documents_and_chat_messages_are_replaced() {
    let stores = stores(|t| t);
    fill(&stores);
    let (runtime, database) = stores.mongo_database();
    runtime
        .block_on(async {
            database
                .collection::<Document>("documentContent")
                .insert_one(doc! {
                    "documentId": "e4000000-0000-4000-8000-000000000001",
                    "content": {"blocks": [{"text": format!("Minutes: {NAME} will mail {EMAIL}.")}, {"text": "Next week."}]},
                    "version": 1,
                    "createdAt": mongodb::bson::DateTime::now(),
                    "updatedAt": mongodb::bson::DateTime::now(),
                })
                .await
        })
        .unwrap();
    let mut r = stores.redis_connection();
    redis::cmd("RPUSH")
        .arg("chat:room:r1:messages")
        .arg(format!(
            r#"{{"author": "{OTHER}", "text": "thanks {NAME}"}}"#
        ))
        .query::<()>(&mut r)
        .unwrap();
    stores
        .migrate(&["--yes", "anonymize", "user", SUBJECT])
        .assert_ok();
    let content = runtime
        .block_on(async {
            database
                .collection::<Document>("documentContent")
                .find_one(doc! {})
                .await
        })
        .unwrap()
        .unwrap();
    assert_eq!(
        content.get_document("content").unwrap().to_string(),
        r#"{ "blocks": [{ "text": "Minutes: [redacted] will mail [redacted]." }, { "text": "Next week." }] }"#
    );
    let messages: Vec<String> = redis::cmd("LRANGE")
        .arg("chat:room:r1:messages")
        .arg(0)
        .arg(-1)
        .query(&mut r)
        .unwrap();
    assert_eq!(
        messages,
        vec![
            format!(r#"{{"author": "{OTHER}", "text": "sure"}}"#),
            format!(r#"{{"author": "{OTHER}", "text": "thanks [redacted]"}}"#),
        ]
    );
    for needle in [EMAIL, NAME, PHONE, IP] {
        assert_eq!(
            places_holding(&stores, needle),
            Vec::<String>::new(),
            "{needle}"
        );
    }
}

#[test]
fn a_mark_the_subject_table_refuses_is_reported_before_anything_changes() {
    let stores = stores(|t| t.replace("status = \"inactive\"", "status = \"deleted\""));
    fill(&stores);
    let before = pg_digest(&stores.pg);
    let result = stores.migrate(&["--yes", "anonymize", "user", SUBJECT]);
    result.assert_code(1);
    assert!(
        result
            .stderr
            .contains("mark: `status` = \"deleted\" is not a value of user_status"),
        "{}",
        result.stderr
    );
    assert_eq!(pg_digest(&stores.pg), before);
}

/// A batch that waits longer than lock_timeout for a row lock is retried (#14: the retry could
/// never fire, the SQLSTATE was lost when the error became a message).
#[test]
fn a_bulk_batch_blocked_by_a_row_lock_is_retried_and_completes() {
    let stores = stores(|t| {
        postgres_only(t).replacen("lock_timeout = \"2s\"", "lock_timeout = \"200ms\"", 1)
    });
    stores.pg.execute(
        "INSERT INTO users (email, name, deleted_at)
         SELECT 'locked' || g || '@example.com', 'Locked User ' || g, now() - interval '40 days'
         FROM generate_series(1, 30) g",
    );
    // This session holds the rows until the job has waited for them at least once.
    stores
        .pg
        .execute("BEGIN; SELECT id FROM users WHERE email::text LIKE 'locked%' FOR UPDATE");
    let mut child = migrate_cmd()
        .current_dir(stores.dir.path())
        .env("MIGRATE_ANON_KEY", KEY)
        .args([
            "--database-url",
            &stores.pg.url,
            "--migrations",
            &repo("migrations"),
        ])
        .args([
            "--format",
            "json",
            "--yes",
            "anonymize",
            "policy",
            "deleted_users",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while stores
        .pg
        .scalar(
            "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
             WHERE NOT l.granted AND a.datname = current_database()",
        )
        .as_deref()
        == Some("0")
    {
        if started.elapsed() > Duration::from_secs(30) || child.try_wait().unwrap().is_some() {
            stores.pg.execute("COMMIT");
            let output = child.wait_with_output().unwrap();
            panic!(
                "the job never waited for the locked rows:\n{}\n{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    // Past the first lock_timeout (200 ms), then the rows are free.
    std::thread::sleep(Duration::from_millis(400));
    stores.pg.execute("COMMIT");
    let output = child.wait_with_output().unwrap();
    let run = Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    run.assert_ok();
    let report = json(&run);
    assert!(
        report["lock_retries"].as_u64().unwrap() >= 1,
        "the batch was retried: {report:#}"
    );
    assert!(
        run.stderr.contains("waited longer than lock_timeout"),
        "{}",
        run.stderr
    );
    assert_eq!(
        stores
            .pg
            .scalar("SELECT count(*) FROM users WHERE email::text LIKE 'locked%'")
            .as_deref(),
        Some("0"),
        "every locked subject was anonymized once the lock was gone"
    );
}

#[test]
fn a_bulk_job_stopped_under_one_key_is_not_resumed_under_another() {
    let stores = stores(|t| postgres_only(t).replace("batch_size = 1000", "batch_size = 20"));
    stores.pg.execute(
        "INSERT INTO users (email, name, deleted_at)
         SELECT 'gone' || g || '@example.com', 'Gone User ' || g, now() - interval '40 days'
         FROM generate_series(1, 300) g",
    );
    let mut child = migrate_cmd()
        .current_dir(stores.dir.path())
        .env("MIGRATE_ANON_KEY", KEY)
        .env("MIGRATE_TEST_BATCH_PAUSE_MS", "100")
        .args([
            "--database-url",
            &stores.pg.url,
            "--migrations",
            &repo("migrations"),
            "--yes",
            "anonymize",
            "policy",
            "deleted_users",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while stores
        .pg
        .scalar("SELECT coalesce(max(done), 0) >= 60 FROM migrate_jobs")
        .as_deref()
        != Some("t")
    {
        assert!(started.elapsed() < Duration::from_secs(60), "no progress");
        assert!(child.try_wait().unwrap().is_none(), "ended before the kill");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let fingerprint = stores
        .pg
        .scalar("SELECT key_fingerprint FROM migrate_jobs")
        .unwrap();
    assert_eq!(fingerprint.len(), 16, "{fingerprint}");
    assert!(!fingerprint.contains(KEY) && !KEY.contains(&fingerprint));
    let before = pg_digest(&stores.pg);
    let other_key = "another-anonymization-key-9876543210";
    let refused = stores.migrate_env(
        &[("MIGRATE_ANON_KEY", other_key)],
        &["--yes", "anonymize", "policy", "deleted_users"],
    );
    refused.assert_code(1);
    assert!(
        refused.stderr.contains("another anonymization key")
            && refused.stderr.contains(&fingerprint)
            && refused.stderr.contains("hint: set MIGRATE_ANON_KEY"),
        "{}",
        refused.stderr
    );
    assert!(!refused.stderr.contains(other_key) && !refused.stderr.contains(KEY));
    assert_eq!(
        pg_digest(&stores.pg),
        before,
        "the refused run changed something"
    );
    let resumed = stores.policy_json("deleted_users");
    resumed.assert_ok();
    let report = json(&resumed);
    assert!(report["resumed_after"].as_u64().unwrap() >= 60, "{report}");
    assert_eq!(
        stores
            .pg
            .scalar("SELECT count(*) FROM users WHERE email::text LIKE 'anon+%'")
            .as_deref(),
        Some("300")
    );
}

#[test]
fn a_pseudonymizing_job_keeps_the_records_of_earlier_erasures() {
    let stores = stores(|t| t);
    fill(&stores);
    stores
        .migrate(&["--yes", "anonymize", "user", SUBJECT])
        .assert_ok();
    let hmac = stores
        .pg
        .scalar("SELECT subject_hmac FROM gdpr_erasures")
        .unwrap();
    // New personal data of the erased subject (a session from a new address), then a staging
    // copy's job over everyone: its own fingerprints go when it ends, the erasure's stay.
    stores.pg.execute(&format!(
        "INSERT INTO sessions (user_id, token_hash, ip_address, expires_at)
             VALUES ('{SUBJECT}', 'h9', '192.0.2.99', now() + interval '1 day')"
    ));
    stores.policy_json("staging_copy").assert_ok();
    assert_eq!(
        stores
            .pg
            .query("SELECT subject_hmac, job FROM gdpr_erasures"),
        vec![vec![Some(hmac), None]]
    );
    assert!(places_holding(&stores, "192.0.2.99").is_empty());
}
