//! Integration-test harness: real servers, one fresh database per test, and helpers to run the binary.
//!
//! Servers come from `MIGRATE_TEST_PG_URL` / `MIGRATE_TEST_REDIS_URL` / `MIGRATE_TEST_MONGO_URL`
//! when set; otherwise a shared sandbox under `target/test-sandbox` is started lazily (once per
//! process and service; the sandbox's lock makes this safe across processes, e.g. two `cargo
//! test` runs) and left running. A server that cannot be provided fails the test with a clear
//! message.

use std::net::{TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use migrate::sandbox::{self, Service};

pub mod drift;
mod mongo_probe;

pub use mongo_probe::MongoProbe;

// ---------------------------------------------------------------------------------------------
// Servers

/// Where the shared test sandbox lives.
pub fn sandbox_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join("test-sandbox")
}

fn server_url(service: Service) -> String {
    static PG: OnceLock<Result<String, String>> = OnceLock::new();
    static REDIS: OnceLock<Result<String, String>> = OnceLock::new();
    static MONGO: OnceLock<Result<String, String>> = OnceLock::new();
    let (var, cell) = match service {
        Service::Postgres => ("MIGRATE_TEST_PG_URL", &PG),
        Service::Redis => ("MIGRATE_TEST_REDIS_URL", &REDIS),
        Service::Mongo => ("MIGRATE_TEST_MONGO_URL", &MONGO),
    };
    let res = cell.get_or_init(|| {
        if let Ok(url) = std::env::var(var)
            && !url.trim().is_empty()
        {
            return Ok(url.trim().to_string());
        }
        let dir = sandbox_dir();
        match sandbox::start(&dir, &[service]) {
            Ok(state) => state.url(service).map(str::to_string).ok_or_else(|| {
                format!(
                    "sandbox under {} reports {service} as not running",
                    dir.display()
                )
            }),
            Err(e) => Err(format!("{e:#}")),
        }
    });
    match res {
        Ok(url) => url.clone(),
        Err(e) => panic!(
            "test harness: cannot provide a {service} server: {e}\n\
             (set {var} to use an existing server instead of the sandbox under {})",
            sandbox_dir().display()
        ),
    }
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// `t_<test name>_<pid>_<counter>_<nanos>`: a valid, unique PostgreSQL/Mongo database name.
fn unique_name() -> String {
    let thread = std::thread::current();
    let full = thread.name().unwrap_or("test");
    let last = full.rsplit("::").next().unwrap_or(full);
    let mut name: String = last
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .take(28)
        .collect();
    if name.is_empty() {
        name.push_str("test");
    }
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos() % 100_000)
        .unwrap_or(0);
    format!("t_{name}_{}_{n}_{nanos}", std::process::id())
}

/// Replace the path (database) of a URL, keeping user info, hosts and query.
fn with_path(url: &str, path: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let after_scheme = base.find("://").map(|i| i + 3).unwrap_or(0);
    let host_end = base[after_scheme..]
        .find('/')
        .map(|i| after_scheme + i)
        .unwrap_or(base.len());
    let mut out = format!("{}/{}", &base[..host_end], path);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

/// First `host:port` of a URL (default port when none is given).
fn host_port(url: &str, default_port: u16) -> String {
    let after_scheme = url.find("://").map(|i| i + 3).unwrap_or(0);
    let rest = &url[after_scheme..];
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    let hosts = authority
        .rsplit_once('@')
        .map(|(_, h)| h)
        .unwrap_or(authority);
    let first = hosts.split(',').next().unwrap_or("");
    if first.starts_with('[') {
        if first.contains("]:") {
            first.to_string()
        } else {
            format!("{first}:{default_port}")
        }
    } else if first.contains(':') {
        first.to_string()
    } else {
        format!("{first}:{default_port}")
    }
}

fn tcp_connect(addr: &str) -> std::io::Result<TcpStream> {
    let mut last = std::io::Error::other(format!("{addr} resolves to no address"));
    for a in addr.to_socket_addrs()? {
        match TcpStream::connect_timeout(&a, Duration::from_secs(5)) {
            Ok(s) => return Ok(s),
            Err(e) => last = e,
        }
    }
    Err(last)
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

/// A fresh PostgreSQL database, dropped (WITH FORCE) when this value is dropped.
pub struct PgDb {
    pub url: String,
    pub name: String,
    admin_url: String,
    conn: Mutex<Option<PgConn>>,
}

struct PgConn {
    client: tokio_postgres::Client,
    rt: tokio::runtime::Runtime,
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("test harness: cannot build a tokio runtime")
}

fn pg_connect(
    rt: &tokio::runtime::Runtime,
    url: &str,
) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    rt.block_on(async {
        let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(client)
    })
}

fn pg_error(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut s = format!(
                "{}: {} (SQLSTATE {})",
                db.severity(),
                db.message(),
                db.code().code()
            );
            if let Some(d) = db.detail() {
                s.push_str(&format!("; detail: {d}"));
            }
            if let Some(h) = db.hint() {
                s.push_str(&format!("; hint: {h}"));
            }
            s
        }
        None => format!("{e}"),
    }
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Run one simple-query batch on a fresh connection to `url`.
fn pg_admin(url: &str, sql: &str) -> Result<(), String> {
    let rt = runtime();
    let client = pg_connect(&rt, url).map_err(|e| pg_error(&e))?;
    rt.block_on(client.batch_execute(sql))
        .map_err(|e| pg_error(&e))
}

/// A fresh, empty PostgreSQL database for the calling test.
pub fn pg() -> PgDb {
    let admin_url = server_url(Service::Postgres);
    let name = unique_name();
    let create = format!("CREATE DATABASE {}", quote_ident(&name));
    let mut attempt = 0;
    loop {
        attempt += 1;
        match pg_admin(&admin_url, &create) {
            Ok(()) => break,
            // "source database is being accessed by other users": retry shortly.
            Err(e) if attempt < 20 && e.contains("55006") => {
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => panic!(
                "test harness: cannot create database {name} on {}: {e}",
                redact(&admin_url)
            ),
        }
    }
    let url = with_path(&admin_url, &name);
    PgDb {
        url,
        name,
        admin_url,
        conn: Mutex::new(None),
    }
}

impl PgDb {
    /// The schema as `pg_dump --schema-only --no-owner` prints it, without the history table
    /// and without pg_dump's random `\restrict` key lines (15.14+).
    pub fn schema_dump(&self) -> String {
        let output = std::process::Command::new("pg_dump")
            .args([
                "--schema-only",
                "--no-owner",
                "--exclude-table=migrate_history",
                "-d",
                &self.url,
            ])
            .output()
            .expect("pg_dump must be installed");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter(|line| !line.starts_with("\\restrict") && !line.starts_with("\\unrestrict"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn with_client<T>(
        &self,
        f: impl FnOnce(&tokio::runtime::Runtime, &tokio_postgres::Client) -> T,
    ) -> T {
        let mut guard = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        if guard.as_ref().is_none_or(|c| c.client.is_closed()) {
            let rt = runtime();
            let client = pg_connect(&rt, &self.url).unwrap_or_else(|e| {
                panic!(
                    "test harness: cannot connect to {}: {}",
                    redact(&self.url),
                    pg_error(&e)
                )
            });
            *guard = Some(PgConn { client, rt });
        }
        let c = guard.as_ref().expect("connection was just set");
        f(&c.rt, &c.client)
    }

    /// Closes the harness's own connection, so that the next query opens a new one (after a
    /// command dropped and recreated the database, for example).
    pub fn reconnect(&self) {
        let mut guard = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        *guard = None;
    }

    /// Run a batch of statements; panics with the server's message on error.
    pub fn execute(&self, sql: &str) {
        let res = self.with_client(|rt, client| rt.block_on(client.batch_execute(sql)));
        if let Err(e) = res {
            panic!(
                "sql failed on {}: {}\n--- sql ---\n{sql}",
                self.name,
                pg_error(&e)
            );
        }
    }

    /// Rows of every statement in `sql` (simple-query protocol), values as text.
    pub fn query(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        let res = self.with_client(|rt, client| rt.block_on(client.simple_query(sql)));
        match res {
            Ok(msgs) => msgs
                .into_iter()
                .filter_map(|m| match m {
                    tokio_postgres::SimpleQueryMessage::Row(row) => Some(
                        (0..row.len())
                            .map(|i| row.get(i).map(str::to_string))
                            .collect(),
                    ),
                    _ => None,
                })
                .collect(),
            Err(e) => panic!(
                "query failed on {}: {}\n--- sql ---\n{sql}",
                self.name,
                pg_error(&e)
            ),
        }
    }

    /// First column of the first row (`None` for no rows or NULL).
    pub fn scalar(&self, sql: &str) -> Option<String> {
        self.query(sql)
            .into_iter()
            .next()
            .and_then(|row| row.into_iter().next())
            .flatten()
    }

    /// The same URL with another password (for wrong-password tests).
    pub fn url_with_password(&self, pw: &str) -> String {
        let mut u = url::Url::parse(&self.url).expect("test harness: database url parses");
        u.set_password(Some(pw))
            .expect("test harness: url accepts a password");
        u.to_string()
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        let conn = self
            .conn
            .get_mut()
            .map(Option::take)
            .unwrap_or_else(|p| p.into_inner().take());
        drop(conn);
        let _ = pg_admin(
            &self.admin_url,
            &format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                quote_ident(&self.name)
            ),
        );
    }
}

fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// MongoDB

/// A fresh Mongo database name (created on first use) and a URL whose path names it.
pub struct MongoDb {
    pub url: String,
    pub name: String,
}

/// A unique Mongo database for the calling test; the server is checked to accept TCP connections.
pub fn mongo() -> MongoDb {
    let server = server_url(Service::Mongo);
    if !server.starts_with("mongodb+srv://") {
        let addr = host_port(&server, 27017);
        if let Err(e) = tcp_connect(&addr) {
            panic!("test harness: mongo server {addr} does not accept connections: {e}");
        }
    }
    let name = unique_name();
    MongoDb {
        url: with_path(&server, &name),
        name,
    }
}

// ---------------------------------------------------------------------------------------------
// Redis

/// A Redis database index of its own (flushed) and a URL selecting it.
pub struct RedisDb {
    pub url: String,
    pub db: u32,
}

/// A connection to the test's Redis database, for setting up data and checking results.
pub fn redis_connection(db: &RedisDb) -> redis::Connection {
    redis::Client::open(db.url.as_str())
        .and_then(|client| client.get_connection())
        .unwrap_or_else(|e| panic!("test harness: cannot connect to redis: {e}"))
}

/// A distinct, empty Redis database index for the calling test.
///
/// Indexes come from `INCR migrate_test:next_db` in db 0 (atomic across threads and processes),
/// mapped onto 1..databases-1; the sandbox server has 10000 databases.
pub fn redis() -> RedisDb {
    let server = server_url(Service::Redis);
    let fail = |step: &str, e: redis::RedisError| -> ! {
        panic!(
            "test harness: redis {step} on {} failed: {e}",
            redact(&server)
        )
    };
    let client = redis::Client::open(server.as_str()).unwrap_or_else(|e| fail("URL", e));
    let mut conn = client
        .get_connection_with_timeout(Duration::from_secs(30))
        .unwrap_or_else(|e| fail("connect", e));
    let databases: u64 = redis::cmd("CONFIG")
        .arg("GET")
        .arg("databases")
        .query::<Vec<String>>(&mut conn)
        .ok()
        .and_then(|pair| pair.get(1).and_then(|n| n.parse().ok()))
        .unwrap_or(16);
    let n: u64 = redis::cmd("INCR")
        .arg("migrate_test:next_db")
        .query(&mut conn)
        .unwrap_or_else(|e| fail("INCR migrate_test:next_db", e));
    let db = if databases > 1 {
        u32::try_from(n % (databases - 1) + 1).expect("database index fits u32")
    } else {
        0
    };
    redis::cmd("SELECT")
        .arg(db)
        .exec(&mut conn)
        .and_then(|()| redis::cmd("FLUSHDB").exec(&mut conn))
        .unwrap_or_else(|e| fail(&format!("SELECT {db} + FLUSHDB"), e));
    RedisDb {
        url: with_path(&server, &db.to_string()),
        db,
    }
}

// ---------------------------------------------------------------------------------------------
// Running the binary

/// The `migrate` binary with `NO_COLOR=1`, no store URLs inherited from the environment and
/// no `.env` file read (a developer's `./.env` must not change what a test sees; the tests of
/// `.env` itself use [`migrate_cmd_reading_dotenv`]).
pub fn migrate_cmd() -> Command {
    let mut cmd = migrate_cmd_reading_dotenv();
    cmd.args(["--env-file", "/dev/null"]);
    cmd
}

/// [`migrate_cmd`] that reads `./.env` of its working directory as a user's run would.
pub fn migrate_cmd_reading_dotenv() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_migrate"));
    cmd.env("NO_COLOR", "1")
        .env_remove("DATABASE_URL")
        .env_remove("MONGODB_URL")
        .env_remove("REDIS_URL")
        .env_remove("MIGRATE_ENV")
        .env_remove("MIGRATE_WAIT_TIMEOUT");
    cmd
}

/// A fresh, empty working directory (removed when dropped).
pub fn workdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("test harness: cannot create a temp dir")
}

/// The outcome of running a command.
#[derive(Debug, Clone)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Run `cmd` to completion, capturing its output.
pub fn run(cmd: &mut Command) -> Run {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("test harness: cannot run {cmd:?}: {e}"));
    let code = out.status.code().unwrap_or_else(|| {
        use std::os::unix::process::ExitStatusExt;
        128 + out.status.signal().unwrap_or(0)
    });
    Run {
        code,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

impl Run {
    /// Panics with stdout and stderr unless the exit code is 0.
    pub fn assert_ok(&self) -> &Self {
        self.assert_code(0)
    }

    /// Panics with stdout and stderr unless the exit code is `code`.
    pub fn assert_code(&self, code: i32) -> &Self {
        if self.code != code {
            panic!(
                "expected exit code {code}, got {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
                self.code, self.stdout, self.stderr
            );
        }
        self
    }
}

/// Writes `migrations/NAME` under `dir` (creating the directory).
pub fn write_migration(dir: &std::path::Path, name: &str, text: &str) {
    std::fs::create_dir_all(dir.join("migrations")).unwrap();
    std::fs::write(dir.join("migrations").join(name), text).unwrap();
}

/// Runs the binary in `dir` against `db` with the given arguments.
pub fn migrate_in(db: &PgDb, dir: &std::path::Path, args: &[&str]) -> Run {
    run(migrate_cmd()
        .current_dir(dir)
        .arg("--database-url")
        .arg(&db.url)
        .args(args))
}

/// The newest version in the repository's migrations (they are numbered 1..=N without gaps).
pub fn newest_app_version() -> u64 {
    let mut versions: Vec<u64> = std::fs::read_dir(repo("migrations"))
        .unwrap()
        .filter_map(|entry| {
            let name = entry.unwrap().file_name().into_string().unwrap();
            name.strip_prefix('V')?.split_once("__")?.0.parse().ok()
        })
        .collect();
    versions.sort_unstable();
    assert_eq!(versions, (1..=versions.len() as u64).collect::<Vec<_>>());
    *versions.last().unwrap()
}

/// A path inside the repository, as a string.
pub fn repo(path: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(path)
        .display()
        .to_string()
}

/// `config.example.toml` made usable from a scratch directory: the Lua library path is
/// absolute. Its `[mongo] database = "app"` stays: the database named in each test's Mongo
/// URL must win over it.
pub fn example_config() -> String {
    std::fs::read_to_string(repo("config.example.toml"))
        .unwrap()
        .replace(
            "path = \"redis/functions/ratelimit.lua\"",
            &format!("path = \"{}\"", repo("redis/functions/ratelimit.lua")),
        )
}

/// The binary in `dir` against all three stores, with the repository's migrations.
pub fn migrate_all_stores(
    dir: &std::path::Path,
    pg: &PgDb,
    mongo: &MongoDb,
    redis: &RedisDb,
) -> Command {
    let mut cmd = migrate_cmd();
    cmd.current_dir(dir).args([
        "--database-url",
        &pg.url,
        "--mongodb-url",
        &mongo.url,
        "--redis-url",
        &redis.url,
        "--migrations",
        &repo("migrations"),
        "--mongo-migrations",
        &repo("mongo_migrations"),
    ]);
    cmd
}

/// stdout of a `--format json` run as one JSON document; panics with both streams otherwise.
pub fn json(run: &Run) -> serde_json::Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON document ({e})\n--- stdout ---\n{}\n--- stderr ---\n{}",
            run.stdout, run.stderr
        )
    })
}

/// One test's three stores and the scratch directory the binary runs in, with the
/// environment every run gets (the anonymization key, say).
pub struct Stores {
    pub pg: PgDb,
    pub mongo: MongoDb,
    pub redis: RedisDb,
    pub dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl Stores {
    /// A fresh database in each store and an empty scratch directory.
    pub fn new() -> Self {
        Stores {
            pg: pg(),
            mongo: mongo(),
            redis: redis(),
            dir: workdir(),
            env: Vec::new(),
        }
    }

    /// Sets `name=value` for every later run of the binary.
    pub fn with_env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.to_string(), value.to_string()));
        self
    }

    /// The binary against the three stores ([`migrate_all_stores`]) with this test's environment.
    pub fn command(&self) -> Command {
        let mut cmd = migrate_all_stores(self.dir.path(), &self.pg, &self.mongo, &self.redis);
        for (name, value) in &self.env {
            cmd.env(name, value);
        }
        cmd
    }

    /// Runs the binary with `args` to completion.
    pub fn migrate(&self, args: &[&str]) -> Run {
        run(self.command().args(args))
    }

    /// The test's Mongo database, with the runtime its client lives on.
    pub fn mongo_database(&self) -> (tokio::runtime::Runtime, mongodb::Database) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let client = runtime
            .block_on(mongodb::Client::with_uri_str(&self.mongo.url))
            .unwrap();
        let database = client.database(&self.mongo.name);
        (runtime, database)
    }

    /// A connection to the test's Redis database.
    pub fn redis_connection(&self) -> redis::Connection {
        redis_connection(&self.redis)
    }
}
