//! Redis keyspace setup through the binary, against real servers: the shared test server, a
//! private server per test where server-wide state (notify flags, ACL users, function libraries)
//! is changed, and a real three-node Redis Cluster started here.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::json;
use crate::support::{migrate_cmd, run, workdir};

// ---------------------------------------------------------------------------------------------
// Servers started by these tests

fn ratelimit_lua() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("redis/functions/ratelimit.lua")
}

/// A port that is free, with its cluster bus port (+10000) free too.
fn free_port() -> u16 {
    loop {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        if port < 55_000 && std::net::TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok() {
            return port;
        }
    }
}

/// `redis-server` processes in a temp dir, killed on drop.
struct Servers {
    dir: tempfile::TempDir,
    ports: Vec<u16>,
}

impl Servers {
    fn start(count: usize, cluster: bool) -> Servers {
        let dir = workdir();
        let mut servers = Servers {
            dir,
            ports: Vec::new(),
        };
        for _ in 0..count {
            let port = free_port();
            let base = servers.dir.path().to_path_buf();
            let mut command = Command::new("redis-server");
            command
                .arg("--port")
                .arg(port.to_string())
                .args([
                    "--bind",
                    "127.0.0.1",
                    "--daemonize",
                    "yes",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ])
                .arg("--pidfile")
                .arg(base.join(format!("{port}.pid")))
                .arg("--logfile")
                .arg(base.join(format!("{port}.log")))
                .arg("--dir")
                .arg(&base);
            if cluster {
                command
                    .args(["--cluster-enabled", "yes", "--cluster-node-timeout", "5000"])
                    .arg("--cluster-config-file")
                    .arg(base.join(format!("nodes-{port}.conf")));
            }
            let status = command.status().expect("redis-server runs");
            assert!(
                status.success(),
                "redis-server on port {port} did not start"
            );
            servers.ports.push(port);
        }
        for port in &servers.ports {
            wait_for(&format!("redis-server on {port} answers PING"), || {
                redis::Client::open(format!("redis://127.0.0.1:{port}"))
                    .and_then(|c| c.get_connection())
                    .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c))
                    .is_ok()
            });
        }
        if cluster {
            let nodes: Vec<String> = servers
                .ports
                .iter()
                .map(|p| format!("127.0.0.1:{p}"))
                .collect();
            let output = Command::new("redis-cli")
                .args(["--cluster", "create"])
                .args(&nodes)
                .args(["--cluster-replicas", "0", "--cluster-yes"])
                .output()
                .expect("redis-cli runs");
            assert!(
                output.status.success(),
                "redis-cli --cluster create failed:\n{}",
                String::from_utf8_lossy(&output.stdout)
            );
            for port in servers.ports.clone() {
                wait_for(&format!("cluster_state:ok on {port}"), || {
                    let info: String = redis::cmd("CLUSTER")
                        .arg("INFO")
                        .query(&mut servers.connection(port))
                        .unwrap_or_default();
                    info.contains("cluster_state:ok")
                });
            }
        }
        servers
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.ports[0])
    }

    /// A plain connection to one node.
    fn connection(&self, port: u16) -> redis::Connection {
        redis::Client::open(format!("redis://127.0.0.1:{port}"))
            .unwrap()
            .get_connection()
            .unwrap()
    }
}

impl Drop for Servers {
    fn drop(&mut self) {
        for port in &self.ports {
            let pid_file = self.dir.path().join(format!("{port}.pid"));
            if let Ok(pid) = std::fs::read_to_string(&pid_file)
                && let Ok(pid) = pid.trim().parse::<i32>()
            {
                // These are the servers this test started, by their pid.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                }
            }
        }
    }
}

fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers

fn migrate(dir: &Path, url: &str, args: &[&str]) -> crate::support::Run {
    run(migrate_cmd()
        .current_dir(dir)
        .arg("--redis-url")
        .arg(url)
        .args(args))
}

fn migrate_env(dir: &Path, url: &str, env: &[(&str, &str)], args: &[&str]) -> crate::support::Run {
    let mut command = migrate_cmd();
    command
        .current_dir(dir)
        .arg("--redis-url")
        .arg(url)
        .args(args);
    for (name, value) in env {
        command.env(name, value);
    }
    run(&mut command)
}

fn write_config(dir: &Path, text: &str) {
    std::fs::write(dir.join("migrate.toml"), text).unwrap();
}

fn connect(url: &str) -> redis::Connection {
    redis::Client::open(url).unwrap().get_connection().unwrap()
}

fn flags(connection: &mut redis::Connection) -> String {
    let reply: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("notify-keyspace-events")
        .query(connection)
        .unwrap();
    reply[1].clone()
}

fn has_flags(server: &str, wanted: &str) -> bool {
    let expand = |s: &str| -> std::collections::BTreeSet<char> {
        s.chars()
            .flat_map(|c| {
                if c == 'A' {
                    "g$lshzxetd".chars().collect::<Vec<_>>()
                } else {
                    vec![c]
                }
            })
            .collect()
    };
    expand(wanted).is_subset(&expand(server))
}

fn applied(run: &crate::support::Run) -> usize {
    json(run)["stores"][0]["applied"].as_array().unwrap().len()
}

/// A declaration using the shipped rate limiter, one ACL user and two key patterns.
fn declaration(namespace: &str, version: u32, user: &str, password_env: &str) -> String {
    format!(
        r#"[redis]
namespace = "{namespace}"
schema_version = {version}
notify_keyspace_events = "Ex"

[[redis.keys]]
pattern = "{namespace}:presence:{{user_id}}"
type = "hash"
ttl = "30s"
pii = true

[[redis.keys]]
pattern = "{namespace}:rate_limit:{{ip}}:{{endpoint}}"
type = "zset"
ttl = "1min"
pii = true

[[redis.functions]]
path = "{lua}"

[[redis.acl_users]]
name = "{user}"
password_env = "{password_env}"
keys = ["{namespace}:presence:*", "{namespace}:rate_limit:*"]
commands = ["+@read", "+@write", "+fcall", "+fcall_ro", "-@dangerous", "+time"]
"#,
        lua = ratelimit_lua().display()
    )
}

// ---------------------------------------------------------------------------------------------
// Tests

#[test]
fn setup_is_idempotent_on_the_shared_server_and_status_shows_it() {
    let db = crate::support::redis();
    let dir = workdir();
    let namespace = format!("t{}", db.db);
    let user = format!("t{}_app", db.db);
    let env = [("T_SHARED_APP_PASSWORD", "first-secret")];
    write_config(
        dir.path(),
        &declaration(&namespace, 1, &user, "T_SHARED_APP_PASSWORD"),
    );
    let mut connection = connect(&db.url);
    let schema_key = format!("{namespace}:__schema");

    // Dry run: a plan, and nothing written.
    let dry = migrate_env(
        dir.path(),
        &db.url,
        &env,
        &["--format", "json", "up", "--dry-run"],
    );
    dry.assert_ok();
    let plan = json(&dry)["stores"][0]["plan"].clone();
    assert!(
        plan.as_array()
            .unwrap()
            .iter()
            .any(|a| a["action"] == "write_schema"),
        "{plan}"
    );
    let exists: bool = redis::cmd("EXISTS")
        .arg(&schema_key)
        .query(&mut connection)
        .unwrap();
    assert!(!exists, "dry run wrote the schema key");

    let first = migrate_env(dir.path(), &db.url, &env, &["up"]);
    first.assert_ok();
    assert!(
        first.stdout.contains(&format!(
            "redis: set up keyspace `{namespace}`, now at version 1"
        )),
        "{}",
        first.stdout
    );
    let schema: std::collections::HashMap<String, String> = redis::cmd("HGETALL")
        .arg(&schema_key)
        .query(&mut connection)
        .unwrap();
    assert_eq!(schema["version"], "1");
    assert_eq!(schema["checksum"].len(), 64);
    assert!(schema.contains_key("applied_at"));
    assert!(has_flags(&flags(&mut connection), "Ex"));
    let libraries: redis::Value = redis::cmd("FUNCTION")
        .arg("LIST")
        .arg("LIBRARYNAME")
        .arg("ratelimit")
        .query(&mut connection)
        .unwrap();
    assert!(matches!(libraries, redis::Value::Array(ref l) if !l.is_empty()));
    let acl: redis::Value = redis::cmd("ACL")
        .arg("GETUSER")
        .arg(&user)
        .query(&mut connection)
        .unwrap();
    assert_ne!(acl, redis::Value::Nil);

    let second = migrate_env(dir.path(), &db.url, &env, &["--format", "json", "up"]);
    second.assert_ok();
    assert_eq!(
        applied(&second),
        0,
        "second up changed something: {}",
        second.stdout
    );
    let again: std::collections::HashMap<String, String> = redis::cmd("HGETALL")
        .arg(&schema_key)
        .query(&mut connection)
        .unwrap();
    assert_eq!(
        again, schema,
        "a no-op run does not rewrite the schema hash"
    );

    let status = migrate_env(dir.path(), &db.url, &env, &["--format", "json", "status"]);
    status.assert_ok();
    let keyspace = json(&status)["stores"][0]["keyspace"].clone();
    assert_eq!(keyspace["state"], "current", "{keyspace}");
    assert_eq!(keyspace["version"], 1);

    // A new schema version: status says outdated, up brings it to version 2.
    write_config(
        dir.path(),
        &declaration(&namespace, 2, &user, "T_SHARED_APP_PASSWORD")
            .replace("ttl = \"30s\"", "ttl = \"1min\""),
    );
    let status = migrate_env(dir.path(), &db.url, &env, &["status"]);
    status.assert_ok();
    assert!(status.stdout.contains("outdated"), "{}", status.stdout);
    migrate_env(dir.path(), &db.url, &env, &["up"]).assert_ok();
    let version: String = redis::cmd("HGET")
        .arg(&schema_key)
        .arg("version")
        .query(&mut connection)
        .unwrap();
    assert_eq!(version, "2");
    let _: () = redis::cmd("ACL")
        .arg("DELUSER")
        .arg(&user)
        .query(&mut connection)
        .unwrap();
}

#[test]
fn notify_keyspace_events_are_merged_as_a_set() {
    let server = Servers::start(1, false);
    let dir = workdir();
    let mut connection = connect(&server.url());
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("notify-keyspace-events")
        .arg("K$")
        .query(&mut connection)
        .unwrap();
    write_config(
        dir.path(),
        "[redis]\nnamespace = \"n\"\nschema_version = 1\nnotify_keyspace_events = \"xE\"\n",
    );
    let first = migrate(dir.path(), &server.url(), &["--format", "json", "up"]);
    first.assert_ok();
    let merged = flags(&mut connection);
    assert!(
        has_flags(&merged, "K$Ex"),
        "flags were replaced, not merged: {merged}"
    );
    // Written in another order, the same flags need nothing.
    write_config(
        dir.path(),
        "[redis]\nnamespace = \"n\"\nschema_version = 1\nnotify_keyspace_events = \"Ex\"\n",
    );
    let second = migrate(dir.path(), &server.url(), &["--format", "json", "up"]);
    second.assert_ok();
    let actions: Vec<String> = json(&second)["stores"][0]["applied"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap().to_string())
        .collect();
    assert!(
        !actions.contains(&"notify_keyspace_events".to_string()),
        "{actions:?}"
    );
    // Flags the server already has in full (`A` covers x) need nothing either.
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("notify-keyspace-events")
        .arg("AKE")
        .query(&mut connection)
        .unwrap();
    assert_eq!(flags(&mut connection), "AKE");
    let third = migrate(dir.path(), &server.url(), &["--format", "json", "up"]);
    third.assert_ok();
    assert_eq!(applied(&third), 0, "{}", third.stdout);
}

#[test]
fn acl_user_touches_its_patterns_only_and_follows_its_password() {
    let server = Servers::start(1, false);
    let dir = workdir();
    write_config(
        dir.path(),
        &declaration("app", 1, "app_user", "T_APP_PASSWORD"),
    );
    migrate_env(
        dir.path(),
        &server.url(),
        &[("T_APP_PASSWORD", "pw-one")],
        &["up"],
    )
    .assert_ok();

    let port = server.ports[0];
    let as_user = |password: &str| {
        redis::Client::open(format!("redis://app_user:{password}@127.0.0.1:{port}"))
            .unwrap()
            .get_connection()
    };
    let mut user = as_user("pw-one").expect("the user logs in with its password");
    let _: () = redis::cmd("HSET")
        .arg("app:presence:u1")
        .arg("status")
        .arg("online")
        .query(&mut user)
        .unwrap();
    let status: String = redis::cmd("HGET")
        .arg("app:presence:u1")
        .arg("status")
        .query(&mut user)
        .unwrap();
    assert_eq!(status, "online");
    let refused = redis::cmd("SET")
        .arg("session:u1")
        .arg("x")
        .query::<()>(&mut user);
    let error = refused.expect_err("a key outside the user's patterns is refused");
    assert_eq!(error.code(), Some("NOPERM"), "{error}");
    let refused = redis::cmd("FLUSHALL").query::<()>(&mut user);
    assert_eq!(
        refused.expect_err("dangerous commands are refused").code(),
        Some("NOPERM")
    );
    // The user may call the rate limiter on its keys.
    let answer: Vec<i64> = redis::cmd("FCALL")
        .arg("ratelimit_hit")
        .arg(1)
        .arg("app:rate_limit:1.2.3.4:/login")
        .arg(60_000)
        .arg(5)
        .query(&mut user)
        .unwrap();
    assert_eq!(answer, vec![1, 4, 0]);

    // Same declaration, same password: nothing to do.
    let again = migrate_env(
        dir.path(),
        &server.url(),
        &[("T_APP_PASSWORD", "pw-one")],
        &["--format", "json", "up"],
    );
    assert_eq!(applied(&again), 0, "{}", again.stdout);

    // A new password in the environment: status notices, up applies it.
    let env = [("T_APP_PASSWORD", "pw-two")];
    let status = migrate_env(dir.path(), &server.url(), &env, &["status"]);
    status.assert_ok();
    assert!(
        status.stdout.contains("set ACL user app_user"),
        "{}",
        status.stdout
    );
    let up = migrate_env(dir.path(), &server.url(), &env, &["--format", "json", "up"]);
    up.assert_ok();
    assert!(!up.stdout.contains("pw-two") && !up.stderr.contains("pw-two"));
    assert!(as_user("pw-two").is_ok());
    assert!(as_user("pw-one").is_err(), "the old password still works");

    // A user no longer declared is kept until the schema version is raised (a configuration
    // of another environment must not lock the application out), then deleted.
    let mut admin = server.connection(port);
    let config = declaration("app", 1, "app_user", "T_APP_PASSWORD");
    let without_user = config.split("[[redis.acl_users]]").next().unwrap();
    write_config(dir.path(), without_user);
    let kept = migrate_env(dir.path(), &server.url(), &env, &["up"]);
    kept.assert_ok();
    assert!(
        kept.stderr
            .contains("ACL user `app_user` was set up by migrate but is no longer declared"),
        "{}",
        kept.stderr
    );
    let still: redis::Value = redis::cmd("ACL")
        .arg("GETUSER")
        .arg("app_user")
        .query(&mut admin)
        .unwrap();
    assert_ne!(still, redis::Value::Nil);
    write_config(
        dir.path(),
        &without_user.replace("schema_version = 1", "schema_version = 2"),
    );
    migrate_env(dir.path(), &server.url(), &env, &["up"]).assert_ok();
    let gone: redis::Value = redis::cmd("ACL")
        .arg("GETUSER")
        .arg("app_user")
        .query(&mut admin)
        .unwrap();
    assert_eq!(gone, redis::Value::Nil);
}

#[test]
fn rate_limiter_function_works() {
    let server = Servers::start(1, false);
    let dir = workdir();
    write_config(
        dir.path(),
        &declaration("rl", 1, "rl_user", "T_RL_PASSWORD"),
    );
    migrate_env(
        dir.path(),
        &server.url(),
        &[("T_RL_PASSWORD", "x")],
        &["up"],
    )
    .assert_ok();
    let mut connection = connect(&server.url());
    let hit = |connection: &mut redis::Connection| -> Vec<i64> {
        redis::cmd("FCALL")
            .arg("ratelimit_hit")
            .arg(1)
            .arg("rl:rate_limit:10.0.0.1:/api")
            .arg(1000)
            .arg(3)
            .query(connection)
            .unwrap()
    };
    assert_eq!(hit(&mut connection), vec![1, 2, 0]);
    assert_eq!(hit(&mut connection), vec![1, 1, 0]);
    assert_eq!(hit(&mut connection), vec![1, 0, 0]);
    let refused = hit(&mut connection);
    assert_eq!(&refused[..2], &[0, 0]);
    assert!(
        refused[2] > 0 && refused[2] <= 1000,
        "retry_after_ms {}",
        refused[2]
    );
    let peek: Vec<i64> = redis::cmd("FCALL_RO")
        .arg("ratelimit_peek")
        .arg(1)
        .arg("rl:rate_limit:10.0.0.1:/api")
        .arg(1000)
        .arg(3)
        .query(&mut connection)
        .unwrap();
    assert_eq!(peek[0], 0);
    let pttl: i64 = redis::cmd("PTTL")
        .arg("rl:rate_limit:10.0.0.1:/api")
        .query(&mut connection)
        .unwrap();
    assert!(pttl > 0 && pttl <= 1000, "the limiter key expires: {pttl}");
    // Once the window has passed, hits are allowed again.
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(hit(&mut connection), vec![1, 2, 0]);
    // Bad arguments are errors, not silent passes.
    let error = redis::cmd("FCALL")
        .arg("ratelimit_hit")
        .arg(1)
        .arg("rl:rate_limit:x:y")
        .arg(0)
        .arg(3)
        .query::<Vec<i64>>(&mut connection)
        .unwrap_err();
    assert!(error.to_string().contains("window_ms"), "{error}");
}

#[test]
fn a_function_library_is_reloaded_only_when_its_code_changes() {
    let server = Servers::start(1, false);
    let dir = workdir();
    let library = dir.path().join("probe.lua");
    let code = |n: u32| {
        format!(
            "#!lua name=probe\n\nredis.register_function('probe_version', function() return {n} end)\n"
        )
    };
    std::fs::write(&library, code(1)).unwrap();
    write_config(
        dir.path(),
        "[redis]\nnamespace = \"f\"\nschema_version = 1\n\n[[redis.functions]]\npath = \"probe.lua\"\n",
    );
    migrate(dir.path(), &server.url(), &["up"]).assert_ok();
    let mut connection = connect(&server.url());
    let version = |connection: &mut redis::Connection| -> i64 {
        redis::cmd("FCALL")
            .arg("probe_version")
            .arg(0)
            .query(connection)
            .unwrap()
    };
    assert_eq!(version(&mut connection), 1);
    let again = migrate(dir.path(), &server.url(), &["--format", "json", "up"]);
    assert_eq!(applied(&again), 0, "{}", again.stdout);

    std::fs::write(&library, code(2)).unwrap();
    let status = migrate(dir.path(), &server.url(), &["--format", "json", "status"]);
    let pending = json(&status)["stores"][0]["keyspace"]["pending"].clone();
    assert_eq!(pending[0]["action"], "load_function", "{pending}");
    assert!(
        pending[0]["detail"]
            .as_str()
            .unwrap()
            .starts_with("code changed")
    );
    migrate(dir.path(), &server.url(), &["up"]).assert_ok();
    assert_eq!(version(&mut connection), 2);

    // Loaded by hand with other code: up notices and puts the declared code back.
    let _: String = redis::cmd("FUNCTION")
        .arg("LOAD")
        .arg("REPLACE")
        .arg(code(3))
        .query(&mut connection)
        .unwrap();
    migrate(dir.path(), &server.url(), &["up"]).assert_ok();
    assert_eq!(version(&mut connection), 2);

    // No longer declared: deleted.
    write_config(
        dir.path(),
        "[redis]\nnamespace = \"f\"\nschema_version = 2\n",
    );
    migrate(dir.path(), &server.url(), &["up"]).assert_ok();
    let gone = redis::cmd("FCALL")
        .arg("probe_version")
        .arg(0)
        .query::<i64>(&mut connection);
    assert!(gone.is_err(), "the library is still loaded");
}

#[test]
fn setup_reaches_every_primary_of_a_cluster_and_is_idempotent_there() {
    let cluster = Servers::start(3, true);
    let dir = workdir();
    let env = [("T_CLUSTER_PASSWORD", "cluster-pw")];
    // A cluster client also needs to ping the nodes and read the slot map.
    write_config(
        dir.path(),
        &declaration("cl", 1, "cl_app", "T_CLUSTER_PASSWORD").replace(
            "\"+time\"]",
            "\"+time\", \"+ping\", \"+cluster|slots\", \"+cluster|shards\", \"+cluster|nodes\"]",
        ),
    );
    let first = migrate_env(
        dir.path(),
        &cluster.url(),
        &env,
        &["--format", "json", "up"],
    );
    first.assert_ok();
    let report = json(&first);
    assert!(
        report["stores"][0]["database"]
            .as_str()
            .unwrap()
            .ends_with("(cluster, 3 primaries)"),
        "{report}"
    );
    let load = report["stores"][0]["applied"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["action"] == "load_function")
        .cloned()
        .unwrap();
    assert_eq!(load["nodes"].as_array().unwrap().len(), 3, "{load}");

    for port in &cluster.ports {
        let mut node = cluster.connection(*port);
        assert!(
            has_flags(&flags(&mut node), "Ex"),
            "notify flags missing on {port}"
        );
        let libraries: redis::Value = redis::cmd("FUNCTION")
            .arg("LIST")
            .arg("LIBRARYNAME")
            .arg("ratelimit")
            .query(&mut node)
            .unwrap();
        assert!(
            matches!(libraries, redis::Value::Array(ref l) if !l.is_empty()),
            "ratelimit missing on {port}"
        );
        let user: redis::Value = redis::cmd("ACL")
            .arg("GETUSER")
            .arg("cl_app")
            .query(&mut node)
            .unwrap();
        assert_ne!(user, redis::Value::Nil, "ACL user missing on {port}");
    }

    let nodes: Vec<String> = cluster
        .ports
        .iter()
        .map(|p| format!("redis://127.0.0.1:{p}"))
        .collect();
    let mut cluster_connection = redis::cluster::ClusterClient::new(nodes)
        .unwrap()
        .get_connection()
        .unwrap();
    let version: String = redis::cmd("HGET")
        .arg("cl:__schema")
        .arg("version")
        .query(&mut cluster_connection)
        .unwrap();
    assert_eq!(version, "1");

    let second = migrate_env(
        dir.path(),
        &cluster.url(),
        &env,
        &["--format", "json", "up"],
    );
    second.assert_ok();
    assert_eq!(applied(&second), 0, "{}", second.stdout);

    // The rate limiter and the ACL user work for keys on every node.
    let user_nodes: Vec<String> = cluster
        .ports
        .iter()
        .map(|p| format!("redis://cl_app:cluster-pw@127.0.0.1:{p}"))
        .collect();
    let mut as_user = redis::cluster::ClusterClient::new(user_nodes)
        .unwrap()
        .get_connection()
        .unwrap();
    let mut slots_seen = std::collections::BTreeSet::new();
    for i in 0..30 {
        let key = format!("cl:rate_limit:10.0.0.{i}:/api");
        let answer: Vec<i64> = redis::cmd("FCALL")
            .arg("ratelimit_hit")
            .arg(1)
            .arg(&key)
            .arg(60_000)
            .arg(2)
            .query(&mut as_user)
            .unwrap();
        assert_eq!(answer, vec![1, 1, 0]);
        let slot: i64 = redis::cmd("CLUSTER")
            .arg("KEYSLOT")
            .arg(&key)
            .query(&mut cluster.connection(cluster.ports[0]))
            .unwrap();
        slots_seen.insert(slot / 5462);
        let _: () = redis::cmd("HSET")
            .arg(format!("cl:presence:user{i}"))
            .arg("status")
            .arg("online")
            .query(&mut as_user)
            .unwrap();
    }
    assert_eq!(
        slots_seen.len(),
        3,
        "the keys should spread over the three primaries"
    );
    let refused = redis::cmd("SET")
        .arg("other:key")
        .arg("1")
        .query::<()>(&mut as_user);
    assert_eq!(refused.unwrap_err().code(), Some("NOPERM"));

    // A node that lost its setting is found and fixed alone.
    let lone = cluster.ports[2];
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("notify-keyspace-events")
        .arg("")
        .query(&mut cluster.connection(lone))
        .unwrap();
    let status = migrate_env(
        dir.path(),
        &cluster.url(),
        &env,
        &["--format", "json", "status"],
    );
    let pending = json(&status)["stores"][0]["keyspace"]["pending"].clone();
    assert_eq!(pending[0]["action"], "notify_keyspace_events", "{pending}");
    assert_eq!(
        pending[0]["nodes"],
        serde_json::json!([format!("127.0.0.1:{lone}")])
    );
    migrate_env(dir.path(), &cluster.url(), &env, &["up"]).assert_ok();
    assert!(has_flags(&flags(&mut cluster.connection(lone)), "Ex"));

    // The audit scans every primary: 30 presence hashes without a TTL (declared 30s), 30
    // limiter sorted sets, and 3 keys of no declared pattern.
    for i in 0..3 {
        let _: () = redis::cmd("SET")
            .arg(format!("stray:{i}"))
            .arg("x")
            .query(&mut cluster_connection)
            .unwrap();
    }
    let audit = audit(&cluster.url(), dir.path(), &env);
    assert_eq!(audit.scanned, 63, "{audit:?}");
    assert_eq!(audit.nodes.len(), 3);
    let count = |problem: migrate::redis::audit::Problem| audit.problems[&problem].count;
    assert_eq!(count(migrate::redis::audit::Problem::UnknownPattern), 3);
    assert_eq!(count(migrate::redis::audit::Problem::MissingTtl), 30);
    assert_eq!(audit.findings_total(), 33);
    let finding_nodes: std::collections::BTreeSet<&str> = audit
        .problems
        .values()
        .flat_map(|tally| tally.examples.iter().map(|f| f.node.as_str()))
        .collect();
    assert_eq!(finding_nodes.len(), 3, "findings come from every primary");
}

/// Runs the keyspace audit (paced SCAN on every primary) as a library call.
fn audit(url: &str, dir: &Path, env: &[(&str, &str)]) -> migrate::redis::audit::AuditReport {
    let text = std::fs::read_to_string(dir.join("migrate.toml")).unwrap();
    let file = migrate::config::file::parse(&text, &dir.join("migrate.toml")).unwrap();
    let section = file.redis;
    let declaration = migrate::config::RedisKeyspace {
        namespace: section.namespace.unwrap(),
        schema_version: section.schema_version.unwrap(),
        notify_keyspace_events: section.notify_keyspace_events,
        keys: section.keys.unwrap_or_default(),
        functions: Vec::new(),
        acl_users: Vec::new(),
    };
    let _ = env;
    let keyspace =
        migrate::redis::keyspace::load(&declaration, migrate::redis::keyspace::Passwords::IfSet)
            .unwrap();
    let settings = migrate::config::RedisSettings {
        url: migrate::redact::SecretUrl::new(url),
        connect_timeout: Duration::from_secs(5),
        keyspace: None,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let topology = migrate::redis::cluster::Topology::connect(&settings)
            .await
            .unwrap();
        migrate::redis::audit::audit(
            &topology,
            &keyspace,
            migrate::redis::audit::AuditOptions {
                batch: 10,
                examples: 100,
                ..Default::default()
            },
            &|_, _| false,
        )
        .await
        .unwrap()
    })
}

#[test]
fn bad_declarations_and_unreachable_redis_are_one_line_exit_1_and_nothing_is_written() {
    let db = crate::support::redis();
    let mut connection = connect(&db.url);
    let cases = [
        (
            "[redis]\nnamespace = \"b\"\nschema_version = 1\nnotify_keyspace_events = \"Eq\"\n".to_string(),
            "error: invalid [redis] keyspace declaration (1 problem); nothing was changed",
            "unknown notify-keyspace-events flag `q`",
        ),
        (
            declaration("b", 1, "b_user", "T_SURELY_UNSET_PASSWORD_VAR"),
            "error: invalid [redis] keyspace declaration (1 problem); nothing was changed",
            "environment variable T_SURELY_UNSET_PASSWORD_VAR (its password) is not set",
        ),
        (
            "[redis]\nnamespace = \"b\"\nschema_version = 1\n[[redis.functions]]\npath = \"missing.lua\"\n".to_string(),
            "error: invalid [redis] keyspace declaration (1 problem); nothing was changed",
            "missing.lua: cannot read",
        ),
        (
            "[redis]\nnamespace = \"b\"\nschema_version = 1\n[[redis.keys]]\npattern = \"b:{id\"\ntype = \"hash\"\nttl = \"none\"\npii = false\n".to_string(),
            "error: invalid [redis] keyspace declaration (1 problem); nothing was changed",
            "`{` without `}`",
        ),
        (
            "[redis]\nschema_version = 1\n[[redis.keys]]\npattern = \"b:x\"\ntype = \"hash\"\nttl = \"none\"\npii = false\n".to_string(),
            "error: [redis] declares a keyspace but no `namespace`",
            "",
        ),
        (
            "[redis]\nnamespace = \"b\"\nschema_version = 1\n[[redis.keys]]\npattern = \"b:x\"\ntype = \"hash\"\nttl = \"forever\"\npii = false\n".to_string(),
            "error: migrate.toml:",
            "or \"none\" for keys that never expire",
        ),
        (
            "[redis]\nnamespace = \"b\"\nschema_version = 1\n[[redis.keys]]\npattern = \"b:x\"\ntype = \"tree\"\nttl = \"none\"\npii = false\n".to_string(),
            "error: migrate.toml:",
            "tree",
        ),
    ];
    for (config, first_line, detail) in cases {
        let dir = workdir();
        write_config(dir.path(), &config);
        let result = migrate(dir.path(), &db.url, &["up"]);
        result.assert_code(1);
        let first = result.stderr.lines().next().unwrap_or("");
        assert!(first.starts_with(first_line), "{config}\n{}", result.stderr);
        assert!(
            result.stderr.contains(detail),
            "{config}\n{}",
            result.stderr
        );
        let exists: bool = redis::cmd("EXISTS")
            .arg("b:__schema")
            .query(&mut connection)
            .unwrap();
        assert!(!exists, "something was written");
    }

    let dir = workdir();
    write_config(
        dir.path(),
        "[redis]\nnamespace = \"b\"\nschema_version = 1\nconnect_timeout = \"1s\"\n",
    );
    for format in ["human", "json"] {
        let result = migrate(
            dir.path(),
            "redis://admin:t0ps3cret@127.0.0.1:1/2",
            &["--format", format, "up"],
        );
        result.assert_code(1);
        assert_eq!(
            result.stderr.lines().next().unwrap(),
            "error: could not connect to Redis at admin@127.0.0.1:1/2: connection refused"
        );
        assert!(!result.stderr.contains("t0ps3cret") && !result.stdout.contains("t0ps3cret"));
    }
}

#[test]
fn a_server_set_up_by_a_newer_declaration_is_left_alone() {
    let db = crate::support::redis();
    let dir = workdir();
    let mut connection = connect(&db.url);
    let _: () = redis::cmd("HSET")
        .arg("nw:__schema")
        .arg("version")
        .arg("5")
        .query(&mut connection)
        .unwrap();
    write_config(
        dir.path(),
        "[redis]\nnamespace = \"nw\"\nschema_version = 3\nnotify_keyspace_events = \"Ex\"\n",
    );
    let up = migrate(dir.path(), &db.url, &["up"]);
    up.assert_code(1);
    assert!(
        up.stderr.starts_with("error: redis keyspace `nw` on ")
            && up
                .stderr
                .contains("is at schema version 5, newer than the declared 3"),
        "{}",
        up.stderr
    );
    let status = migrate(dir.path(), &db.url, &["--format", "json", "status"]);
    status.assert_ok();
    assert_eq!(json(&status)["stores"][0]["keyspace"]["state"], "newer");
    let version: String = redis::cmd("HGET")
        .arg("nw:__schema")
        .arg("version")
        .query(&mut connection)
        .unwrap();
    assert_eq!(version, "5");
}

/// `backup create` reads every primary of a Redis Cluster, as `up` and `drift` do (#14: it
/// dumped the seed node only), and a restore into a cluster is refused with what to do.
#[test]
fn a_backup_of_a_cluster_holds_the_keys_of_every_primary() {
    let cluster = Servers::start(3, true);
    // 90 keys spread over the slots: each written on the node that serves it.
    let mut nodes: Vec<redis::Connection> = cluster
        .ports
        .iter()
        .map(|p| cluster.connection(*p))
        .collect();
    let mut per_node = vec![0; nodes.len()];
    for i in 0..90 {
        let key = format!("k{i}");
        let node = (0..nodes.len())
            .find(|n| {
                redis::cmd("SET")
                    .arg(&key)
                    .arg(i)
                    .exec(&mut nodes[*n])
                    .is_ok()
            })
            .expect("some node serves the key");
        per_node[node] += 1;
    }
    assert!(per_node.iter().all(|n| *n > 0), "{per_node:?}");
    let dir = workdir();
    let backups = dir.path().join("backups");
    let created = run(migrate_cmd()
        .current_dir(dir.path())
        .args(["--redis-url", &cluster.url(), "--format", "json"])
        .args(["backup", "create", "--store", "redis", "--dir"])
        .arg(&backups));
    created.assert_ok();
    let report = json(&created);
    let part = &report["backup"]["manifest"]["stores"]["redis"];
    assert_eq!(part["keys"], 90, "{report:#}");
    assert!(
        part["source"]
            .as_str()
            .unwrap()
            .ends_with("(cluster, 3 primaries)"),
        "{part}"
    );
    let id = report["backup"]["id"].as_str().unwrap().to_string();
    let restore = run(migrate_cmd()
        .current_dir(dir.path())
        .args(["--yes", "backup", "restore", &id, "--clean"])
        .args(["--target", &cluster.url(), "--dir"])
        .arg(&backups));
    restore.assert_code(1);
    assert!(
        restore.stderr.contains("into a Redis Cluster")
            && restore.stderr.contains("is not supported"),
        "{}",
        restore.stderr
    );
}
