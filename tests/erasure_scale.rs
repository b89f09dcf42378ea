//! GDPR erasure at scale: `seed generate --tasks 200000`, plus notifications, messages,
//! comments, error logs, sessions, profiles, Mongo documents and Redis keys that name people by
//! name, e-mail address, phone number and IP address; 100 randomly chosen people erased in one
//! run (one of them with a role label for a last name, one sharing a first name with others),
//! then every table, collection and key searched independently of migrate (rows as text through
//! `grep -F -w`, every document, every key) for each one's e-mail, full name, phone and IP.

use std::collections::{HashMap, HashSet};
use std::process::Command;

use crate::support::Stores;
use crate::support::example_config;
use mongodb::bson::{Document, doc};
use serde_json::Value;

const KEY: &str = "scale-anonymization-key-0123456789abcdef";
/// People chosen: the first 100 are erased, the next 100 are the control group.
const PEOPLE: i64 = 200;
const ERASED: i64 = 100;

/// One chosen person and what the fixture wrote about them.
#[derive(Debug, Clone)]
struct Person {
    id: String,
    n: i64,
    name: String,
    email: String,
    phone: String,
    ip: String,
    org: String,
    /// Someone else of the same organization: author of the texts that name this person.
    other: String,
}

impl Person {
    fn needles(&self) -> [String; 4] {
        [
            self.email.clone(),
            self.name.clone(),
            self.phone.clone(),
            self.ip.clone(),
        ]
    }
}

fn phone(n: i64) -> String {
    format!("+1 415 555 {n:04}")
}

fn ip(n: i64) -> String {
    format!("10.77.{}.{}", n / 256, n % 256)
}

#[test]
fn a_hundred_people_are_erased_from_the_200k_task_dataset_without_residue_or_false_hits() {
    let stores = Stores::new().with_env("MIGRATE_ANON_KEY", KEY);
    std::fs::write(stores.dir.path().join("migrate.toml"), example_config()).unwrap();
    stores.migrate(&["up"]).assert_ok();
    stores
        .migrate(&[
            "seed",
            "generate",
            "--tasks",
            "200000",
            "--seed",
            "7",
            "--as-of",
            "2026-06-01",
        ])
        .assert_ok();
    let people = fixture(&stores);
    let erased: Vec<&Person> = people.iter().filter(|p| p.n <= ERASED).collect();

    // The two people the issue names: a role label for a last name, a shared first name.
    let labelled = erased[0];
    assert!(labelled.name.ends_with(" Manager"), "{labelled:?}");
    let first = erased[1].name.split(' ').next().unwrap();
    let sharing = stores
        .pg
        .scalar(&format!(
            "SELECT count(*) FROM users WHERE first_name = '{first}' AND id <> '{}'",
            erased[1].id
        ))
        .unwrap();
    assert!(
        sharing.parse::<u64>().unwrap() > 0,
        "{first} is nobody else's"
    );

    let mut args: Vec<&str> = vec!["--format", "json", "--yes", "anonymize", "user"];
    args.extend(erased.iter().map(|p| p.id.as_str()));
    let result = stores.migrate(&args);
    result.assert_ok();
    let reports: Value = serde_json::from_str(&result.stdout).unwrap();
    let reports = reports["reports"].as_array().unwrap();
    assert_eq!(reports.len(), ERASED as usize);
    for report in reports {
        // No hit at all: none left, and none in other people's data that is not theirs.
        assert_eq!(report["verification"]["hits_total"], 0, "{report}");
        assert_eq!(report["verification"]["hits"], serde_json::json!([]));
    }
    let labelled_report = reports
        .iter()
        .find(|r| r["subject"] == labelled.id.as_str())
        .unwrap();
    assert_eq!(
        labelled_report["verification"]["enum_labels"], 1,
        "{labelled_report}"
    );
    for output in [&result.stdout, &result.stderr] {
        for person in &erased {
            assert!(!output.contains(&person.email), "output shows an e-mail");
        }
    }

    // Independently of migrate: every row of every table as text, every document, every key.
    let residue = residue(&stores, &people);
    assert_eq!(
        residue,
        Vec::<String>::new(),
        "values of erased people are left"
    );
    // The control group keeps everything; the texts about the erased keep their other words.
    let count = |sql: &str| stores.pg.scalar(sql).unwrap().parse::<i64>().unwrap();
    assert_eq!(
        count(
            "SELECT count(*) FROM notifications WHERE title = '[redacted] commented on your task'"
        ),
        ERASED
    );
    assert_eq!(
        count(
            "SELECT count(*) FROM notifications WHERE title LIKE '% commented on your task' AND title NOT LIKE '[redacted]%'"
        ),
        PEOPLE - ERASED
    );
    for person in people.iter().filter(|p| p.n > ERASED) {
        let holders = places(&stores, &person.email);
        assert!(holders.len() >= 4, "{}: {holders:?}", person.n);
    }
    // The role label stays in the audit copy of the labelled person's row.
    assert_eq!(
        count(&format!(
            "SELECT count(*) FROM audit_logs WHERE record_id = '{}' AND new_values ->> 'role' = 'manager'",
            labelled.id
        )),
        1
    );
    assert_eq!(
        count("SELECT count(*) FROM users WHERE status = 'inactive' AND deleted_at IS NOT NULL"),
        ERASED
    );
}

/// The people and their texts: profiles, sessions, notifications, messages, comments, error
/// logs and activity in PostgreSQL; activity and documents in Mongo; caches, rate limits and
/// chat rooms in Redis.
fn fixture(stores: &Stores) -> Vec<Person> {
    stores.pg.execute(&format!(
        "CREATE TABLE scale_people AS
             SELECT id, row_number() OVER (ORDER BY md5(id::text || 'erasure-scale')) AS n
             FROM users ORDER BY md5(id::text || 'erasure-scale') LIMIT {PEOPLE};
         -- The first erased person's last name is a role label (and their role that label).
         UPDATE users u SET last_name = 'Manager', name = u.first_name || ' Manager', role = 'manager'
         FROM scale_people p WHERE p.id = u.id AND p.n = 1;
         CREATE TABLE scale_context AS
             SELECT p.id, p.n, m.organization_id AS org,
                    (SELECT o.user_id FROM organization_members o
                     WHERE o.organization_id = m.organization_id AND o.user_id <> p.id
                     ORDER BY o.user_id LIMIT 1) AS other,
                    (SELECT t.id FROM tasks t WHERE t.organization_id = m.organization_id
                     ORDER BY t.id LIMIT 1) AS task,
                    (SELECT t.project_id FROM tasks t WHERE t.organization_id = m.organization_id
                     ORDER BY t.id LIMIT 1) AS project
             FROM scale_people p
             JOIN LATERAL (SELECT organization_id FROM organization_members
                           WHERE user_id = p.id ORDER BY organization_id LIMIT 1) m ON true;
         INSERT INTO user_profiles (user_id, phone, job_title)
             SELECT id, '+1 415 555 ' || lpad(n::text, 4, '0'), 'Engineer' FROM scale_people;
         INSERT INTO sessions (user_id, token_hash, ip_address, user_agent, expires_at)
             SELECT id, 'scale-' || n, ('10.77.' || n / 256 || '.' || n % 256)::inet,
                    'ScaleBrowser/1.0', now() + interval '1 day'
             FROM scale_people;
         INSERT INTO conversations (id, organization_id, created_by, type, name)
             SELECT DISTINCT ON (org) gen_random_uuid(), org, other, 'group', 'General'
             FROM scale_context ORDER BY org;
         INSERT INTO notifications (organization_id, user_id, actor_id, type, title, body)
             SELECT c.org, c.other, c.id, 'comment', u.name || ' commented on your task',
                    'reply to ' || u.email
             FROM scale_context c JOIN users u ON u.id = c.id;
         INSERT INTO messages (organization_id, conversation_id, author_id, content, mentions)
             SELECT c.org, v.id, c.other,
                    'ping ' || u.name || ' at ' || u.email || ' or call +1 415 555 '
                        || lpad(c.n::text, 4, '0'),
                    ARRAY[c.id]
             FROM scale_context c JOIN users u ON u.id = c.id
             JOIN conversations v ON v.organization_id = c.org;
         INSERT INTO comments (organization_id, project_id, entity_type, entity_id, author_id, content)
             SELECT c.org, c.project, 'task', c.task, c.other, 'cc ' || u.email || ' please'
             FROM scale_context c JOIN users u ON u.id = c.id;
         INSERT INTO error_logs (service, level, message)
             SELECT 'auth', 'warn', 'login failed for ' || u.email || ' from 10.77.' || c.n / 256 || '.' || c.n % 256
             FROM scale_context c JOIN users u ON u.id = c.id;
         INSERT INTO activity_logs (organization_id, user_id, action, entity_type, metadata, ip_address)
             SELECT c.org, c.id, 'user.login', 'user',
                    jsonb_build_object('ip', '10.77.' || c.n / 256 || '.' || c.n % 256),
                    ('10.77.' || c.n / 256 || '.' || c.n % 256)::inet
             FROM scale_context c;"
    ));
    let rows = stores.pg.query(
        "SELECT c.id::text, c.n::text, u.name, u.email::text, c.org::text, c.other::text
         FROM scale_context c JOIN users u ON u.id = c.id ORDER BY c.n",
    );
    stores.pg.execute("DROP TABLE scale_context");
    let people: Vec<Person> = rows
        .into_iter()
        .map(|r| {
            let n: i64 = r[1].as_deref().unwrap().parse().unwrap();
            Person {
                id: r[0].clone().unwrap(),
                n,
                name: r[2].clone().unwrap(),
                email: r[3].clone().unwrap(),
                phone: phone(n),
                ip: ip(n),
                org: r[4].clone().unwrap(),
                other: r[5].clone().unwrap(),
            }
        })
        .collect();
    assert_eq!(people.len() as i64, PEOPLE);

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = runtime
        .block_on(mongodb::Client::with_uri_str(&stores.mongo.url))
        .unwrap();
    let database = client.database(&stores.mongo.name);
    let now = mongodb::bson::DateTime::now();
    let activity: Vec<Document> = people
        .iter()
        .map(|p| {
            doc! {"userId": &p.id, "action": "login", "entityType": "user", "entityId": &p.id,
            "metadata": {"ip": &p.ip, "userAgent": "ScaleBrowser/1.0"}, "timestamp": now}
        })
        .collect();
    let documents: Vec<Document> = people
        .iter()
        .map(|p| {
            doc! {"documentId": uuid_like(p.n), "version": 1, "createdAt": now, "updatedAt": now,
            "content": {"blocks": [{"text": format!("Owner: <{}>", p.email)}]}}
        })
        .collect();
    runtime.block_on(async {
        database
            .collection::<Document>("activityLogs")
            .insert_many(activity)
            .await
            .unwrap();
        database
            .collection::<Document>("documentContent")
            .insert_many(documents)
            .await
            .unwrap();
    });

    let mut r = redis::Client::open(stores.redis.url.as_str())
        .unwrap()
        .get_connection()
        .unwrap();
    let mut pipe = redis::pipe();
    for p in &people {
        pipe.cmd("SET")
            .arg(format!("cache:user:{}", p.id))
            .arg(format!(
                r#"{{"id": "{}", "email": "{}", "name": "{}"}}"#,
                p.id, p.email, p.name
            ))
            .arg("EX")
            .arg(900)
            .ignore()
            .cmd("SET")
            .arg(format!("rate_limit:{}:login", p.ip))
            .arg("1")
            .arg("EX")
            .arg(60)
            .ignore()
            .cmd("RPUSH")
            .arg(format!("chat:room:{}:messages", p.org))
            .arg(format!(
                r#"{{"author": "{}", "mentions": ["{}"], "text": "thanks {}"}}"#,
                p.other, p.id, p.name
            ))
            .arg(format!(
                r#"{{"author": "{}", "text": "call me on {}"}}"#,
                p.id, p.phone
            ))
            .ignore();
    }
    pipe.query::<()>(&mut r).unwrap();
    people
}

fn uuid_like(n: i64) -> String {
    format!("d7000000-0000-4000-8000-{n:012}")
}

/// Every occurrence of an erased person's e-mail, full name, phone number or IP address, found
/// without migrate: PostgreSQL rows as text through `grep -F -i -w`, every Mongo document, every
/// Redis key. A full name someone else bears (a namesake, or an erased person's fake name) is
/// theirs in a row, document or key that names them by id.
fn residue(stores: &Stores, people: &[Person]) -> Vec<String> {
    let erased: Vec<&Person> = people.iter().filter(|p| p.n <= ERASED).collect();
    let mut needles: HashMap<String, Vec<&Person>> = HashMap::new();
    for person in &erased {
        for needle in person.needles() {
            needles
                .entry(needle.to_lowercase())
                .or_default()
                .push(person);
        }
    }
    // People whose name (now, after the erasure: real names and fake ones) is an erased
    // person's full name. Their rows name them by id.
    let names: Vec<String> = erased
        .iter()
        .map(|p| format!("'{}'", p.name.to_lowercase()))
        .collect();
    let mut holders: HashMap<String, HashSet<String>> = HashMap::new();
    for row in stores.pg.query(&format!(
        "SELECT lower(name), id::text FROM users WHERE lower(name) IN ({})",
        names.join(", ")
    )) {
        holders
            .entry(row[0].clone().unwrap())
            .or_default()
            .insert(row[1].clone().unwrap());
    }
    let theirs = |needle: &str, text: &str| {
        let owners = &needles[needle];
        holders.get(needle).is_some_and(|ids| {
            ids.iter()
                .filter(|id| !owners.iter().any(|o| &o.id == *id))
                .any(|id| text.contains(id.as_str()))
        })
    };
    let mut found = Vec::new();
    let list = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        list.path(),
        needles.keys().cloned().collect::<Vec<_>>().join("\n"),
    )
    .unwrap();
    let tables = stores.pg.query(
        "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c
         JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind IN ('r', 'p', 'm') AND NOT c.relispartition AND n.nspname = 'public'
         ORDER BY 1",
    );
    for table in tables {
        let table = table[0].clone().unwrap();
        let script = format!(
            "psql -X -q -d '{}' -c \"COPY (SELECT t::text FROM {table} t) TO STDOUT\" | grep -F -i -w -f '{}' || true",
            stores.pg.url,
            list.path().display()
        );
        let output = Command::new("bash")
            .arg("-c")
            .arg(&script)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        for line in String::from_utf8_lossy(&output.stdout).lines() {
            let lower = line.to_lowercase();
            for needle in needles.keys() {
                if contains_word(&lower, needle) && !theirs(needle, &lower) {
                    found.push(format!("postgres {table}: {needle}"));
                }
            }
        }
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = runtime
        .block_on(mongodb::Client::with_uri_str(&stores.mongo.url))
        .unwrap();
    let database = client.database(&stores.mongo.name);
    let collections: Vec<String> = runtime
        .block_on(async { database.list_collection_names().await })
        .unwrap();
    for name in collections {
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
            for needle in needles.keys() {
                if contains_word(&text, needle) && !theirs(needle, &text) {
                    found.push(format!("mongo {name}: {needle}"));
                }
            }
        }
    }
    let mut r = redis::Client::open(stores.redis.url.as_str())
        .unwrap()
        .get_connection()
        .unwrap();
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut r).unwrap();
    for key in keys {
        let kind: String = redis::cmd("TYPE").arg(&key).query(&mut r).unwrap();
        let dump: Vec<String> = match kind.as_str() {
            "string" => vec![redis::cmd("GET").arg(&key).query(&mut r).unwrap()],
            "hash" => redis::cmd("HGETALL").arg(&key).query(&mut r).unwrap(),
            "set" => redis::cmd("SMEMBERS").arg(&key).query(&mut r).unwrap(),
            "zset" => redis::cmd("ZRANGE")
                .arg(&key)
                .arg(0)
                .arg(-1)
                .query(&mut r)
                .unwrap(),
            "list" => redis::cmd("LRANGE")
                .arg(&key)
                .arg(0)
                .arg(-1)
                .query(&mut r)
                .unwrap(),
            _ => Vec::new(),
        };
        let text = format!("{key} {}", dump.join(" ")).to_lowercase();
        for needle in needles.keys() {
            if contains_word(&text, needle) && !theirs(needle, &text) {
                found.push(format!("redis {key}: {needle}"));
            }
        }
    }
    found.sort();
    found.dedup();
    found
}

/// `needle` in `text`, not inside a longer word or number (what `grep -w` matches).
fn contains_word(text: &str, needle: &str) -> bool {
    let word = |c: char| c.is_alphanumeric() || c == '_';
    text.match_indices(needle).any(|(at, _)| {
        !text[..at].chars().next_back().is_some_and(word)
            && !text[at + needle.len()..].chars().next().is_some_and(word)
    })
}

/// Places (table or collection or key) holding `needle`, for the control group.
fn places(stores: &Stores, needle: &str) -> Vec<String> {
    let mut out = Vec::new();
    for table in [
        "users",
        "notifications",
        "messages",
        "comments",
        "error_logs",
    ] {
        let n = stores
            .pg
            .scalar(&format!(
                "SELECT count(*) FROM {table} t WHERE t::text LIKE '%{}%'",
                needle.replace('\'', "''")
            ))
            .unwrap();
        if n != "0" {
            out.push(format!("{table} ({n})"));
        }
    }
    out
}
