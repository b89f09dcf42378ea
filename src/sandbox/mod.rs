//! Throwaway local PostgreSQL, Redis and Mongo-wire servers, shared by `migrate sandbox …` and the test harness.
//!
//! Layout under the sandbox directory `dir` (for example `.sandbox/`):
//!
//! ```text
//! .lock                     flock(2) held by `start` and `stop` for their whole duration
//! postgres/pid  port  program      our records (pid of the postmaster, port, "postgres 15.20")
//! postgres/databases               the databases `start` created (`app`)
//! postgres/data  postgres.log      the cluster and its log (see "root" below for `postgres/home`)
//! redis/pid  port  program  redis.log
//! mongo/pid  port  program  mongo.log  mongo/data (mongod's dbpath; SecantusDB runs in memory)
//! ```
//!
//! Every server listens on 127.0.0.1 only. The first start picks a free port (by binding
//! 127.0.0.1:0); the port is kept in `<service>/port` across `stop` and `start`, so exported
//! URLs, `.env` files and IDE data sources stay valid. Only when the kept port is taken by
//! something else is another one picked, and the state says so (`moved_from`). `start` is
//! idempotent: a service whose pid file names a live process of the right program whose port
//! answers is reported as running and left alone; stale records are removed and the service is
//! started anew. `stop` only signals processes named in our own pid files.
//!
//! The URLs name their databases: PostgreSQL's `app` (created by `start`, recorded in
//! `postgres/databases`), Mongo's `app` and Redis's `0`, so `eval "$(migrate sandbox env)"`
//! is all a command needs.
//!
//! Running as root: PostgreSQL refuses to run as root, so `initdb` and `pg_ctl` run as the
//! `postgres` OS user (`runuser -u postgres --`, else `su postgres -s /bin/sh -c …`) and the
//! PostgreSQL directory is chowned to it. When a parent of `dir/postgres` is not traversable by
//! that user (e.g. a checkout under `/root`, mode 700), the cluster is placed in
//! `$TMPDIR/migrate-sandbox-<hash of dir>/` instead and that location is recorded in
//! `dir/postgres/home`, so `status`, `stop` and later `start`s find it.
//!
//! Archiving (`sandbox start --archive`): PostgreSQL runs with `wal_level=replica`,
//! `archive_mode=on` and an `archive_command` that pushes into a pgBackRest repository at
//! `<postgres home>/pgbackrest` (stanza `sandbox`), recorded in `postgres/archive`. The
//! repository and its config are made by `migrate backup physical setup` with the
//! `[backup.physical]` section `start` prints (until then the server keeps its WAL and retries).

use std::ffi::{CString, OsStr, OsString};
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::io::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::str::FromStr;
use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use serde::Serialize;

mod layout;
mod mongo_wire;
mod pg;
mod process;
mod redis_server;

use layout::*;
use mongo_wire::*;
pub use pg::*;
pub(crate) use process::*;
use redis_server::*;

const READY_TIMEOUT: Duration = Duration::from_secs(30);
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
const LOCK_TIMEOUT: Duration = Duration::from_secs(300);
const LOG_TAIL_LINES: usize = 20;
const PORT_ATTEMPTS: usize = 3;
const PG_PASSWORD: &str = "postgres";
const PG_OS_USER: &str = "postgres";
const ALL_SERVICES: [Service; 3] = [Service::Postgres, Service::Redis, Service::Mongo];
/// The database the sandbox's URLs name (PostgreSQL and Mongo).
pub const DATABASE: &str = "app";
const SECANTUS_INSTALL: &str = "python3 -m venv .venv && .venv/bin/pip install --pre SecantusDB";

/// One kind of server the sandbox can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Service {
    Postgres,
    Redis,
    Mongo,
}

impl Service {
    fn name(self) -> &'static str {
        match self {
            Service::Postgres => "postgres",
            Service::Redis => "redis",
            Service::Mongo => "mongo",
        }
    }

    fn env_var(self) -> &'static str {
        match self {
            Service::Postgres => "DATABASE_URL",
            Service::Redis => "REDIS_URL",
            Service::Mongo => "MONGODB_URL",
        }
    }

    fn url_for_port(self, port: u16) -> String {
        match self {
            Service::Postgres => {
                format!("postgres://postgres:{PG_PASSWORD}@127.0.0.1:{port}/{DATABASE}")
            }
            Service::Redis => format!("redis://127.0.0.1:{port}/0"),
            Service::Mongo => format!("mongodb://127.0.0.1:{port}/{DATABASE}"),
        }
    }

    /// Whether a process command line plausibly belongs to this service (guards against pid reuse).
    fn matches_cmdline(self, cmdline: &str) -> bool {
        let c = cmdline.to_ascii_lowercase();
        match self {
            Service::Postgres => c.contains("postgres"),
            Service::Redis => c.contains("redis"),
            Service::Mongo => c.contains("mongod") || c.contains("secantus"),
        }
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Service {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "postgres" | "postgresql" | "pg" => Ok(Service::Postgres),
            "redis" => Ok(Service::Redis),
            "mongo" | "mongodb" => Ok(Service::Mongo),
            other => bail!("unknown sandbox service `{other}` (expected postgres, redis or mongo)"),
        }
    }
}

/// What the sandbox knows about one service.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceState {
    pub service: Service,
    pub running: bool,
    pub pid: Option<u32>,
    pub port: Option<u16>,
    pub url: Option<String>,
    pub data_dir: PathBuf,
    pub log_file: PathBuf,
    /// e.g. "postgres 15.20", "redis-server 7.0.15", "secantusd-py" or "mongod 7.0.2".
    pub program: Option<String>,
    /// True when this call started the server (false when it was already running).
    pub started_now: bool,
    /// The port this service had before, when it was taken by something else and this call
    /// had to start the server on another one (its URL changed).
    pub moved_from: Option<u16>,
}

/// The state of every service of one sandbox directory, always in the order postgres, redis, mongo.
#[derive(Debug, Clone, Serialize)]
pub struct SandboxState {
    pub dir: PathBuf,
    pub services: Vec<ServiceState>,
    /// Where PostgreSQL archives its WAL, when started with `--archive`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archive: Option<ArchiveState>,
}

/// The pgBackRest stanza the sandbox PostgreSQL archives into: what `[backup.physical]` needs.
#[derive(Debug, Clone, Serialize)]
pub struct ArchiveState {
    pub stanza: String,
    pub repo_path: PathBuf,
    pub data_dir: PathBuf,
    pub socket_dir: PathBuf,
    pub port: Option<u16>,
}

impl ArchiveState {
    /// The `[backup.physical]` section for this sandbox.
    pub fn config_section(&self) -> String {
        let toml = |p: &Path| {
            p.display()
                .to_string()
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
        };
        format!(
            "[backup.physical]\nstanza = \"{}\"\nrepo_path = \"{}\"\ndata_dir = \"{}\"\nsocket_dir = \"{}\"\n",
            self.stanza,
            toml(&self.repo_path),
            toml(&self.data_dir),
            toml(&self.socket_dir)
        )
    }
}

/// The stanza of the sandbox's pgBackRest repository.
pub const ARCHIVE_STANZA: &str = "sandbox";

/// How `start_with` starts the servers.
#[derive(Debug, Clone, Copy, Default)]
pub struct StartOptions {
    /// PostgreSQL archives its WAL into a local pgBackRest repository (see the module docs).
    pub archive: bool,
}

impl SandboxState {
    /// The connection URL of a running service.
    pub fn url(&self, s: Service) -> Option<&str> {
        self.services
            .iter()
            .find(|st| st.service == s && st.running)
            .and_then(|st| st.url.as_deref())
    }

    /// `export DATABASE_URL='…'` (and `MONGODB_URL`, `REDIS_URL`) lines for the running services.
    pub fn env_lines(&self) -> Vec<String> {
        self.services
            .iter()
            .filter(|st| st.running)
            .filter_map(|st| {
                st.url
                    .as_deref()
                    .map(|u| format!("export {}={}", st.service.env_var(), sh_quote(u)))
            })
            .collect()
    }
}

/// The Mongo-wire server the sandbox would run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MongoProgram {
    Mongod(PathBuf),
    Secantus(PathBuf),
}

/// Start the given services (all three when `services` is empty) under `dir`; idempotent.
///
/// The returned state lists all three services; those not asked for are reported as they are.
pub fn start(dir: &Path, services: &[Service]) -> Result<SandboxState> {
    start_with(dir, services, StartOptions::default())
}

/// [`start`] with options (archiving).
pub fn start_with(dir: &Path, services: &[Service], options: StartOptions) -> Result<SandboxState> {
    fs::create_dir_all(dir)
        .with_context(|| format!("cannot create sandbox directory {}", dir.display()))?;
    let dir = dir
        .canonicalize()
        .with_context(|| format!("cannot resolve sandbox directory {}", dir.display()))?;
    let _lock = DirLock::acquire(&dir)?;
    let layout = Layout { dir };
    let wanted: Vec<Service> = if services.is_empty() {
        ALL_SERVICES.to_vec()
    } else {
        ALL_SERVICES
            .into_iter()
            .filter(|s| services.contains(s))
            .collect()
    };
    let mut started = Vec::new();
    let mut moved = Vec::new();
    for s in wanted {
        if s == Service::Postgres
            && options.archive
            && layout.live(s).is_some()
            && !layout.pg_archive_file().exists()
        {
            bail!(
                "the sandbox PostgreSQL in {} runs without archiving; stop it first (`migrate sandbox stop`), then start it with --archive",
                layout.dir.display()
            );
        }
        if layout.live(s).is_none() {
            let kept = layout.recorded(s).port;
            layout.clear_records(s);
            match s {
                Service::Postgres => start_postgres(&layout, kept, options.archive)?,
                Service::Redis => start_redis(&layout, kept)?,
                Service::Mongo => start_mongo(&layout, kept)?,
            }
            started.push(s);
            if let Some(kept) = kept.filter(|kept| layout.recorded(s).port != Some(*kept)) {
                moved.push((s, kept));
            }
        }
        if s == Service::Postgres {
            ensure_pg_database(&layout)?;
        }
    }
    let mut state = layout.state(&started);
    for service in &mut state.services {
        service.moved_from = moved
            .iter()
            .find(|(s, _)| *s == service.service)
            .map(|(_, port)| *port);
    }
    Ok(state)
}

/// Stop every service that has a pid file under `dir`; only processes named there are signalled.
pub fn stop(dir: &Path) -> Result<SandboxState> {
    let Some(layout) = Layout::existing(dir)? else {
        return Ok(Layout::missing(dir).state(&[]));
    };
    let _lock = DirLock::acquire(&layout.dir)?;
    let mut errors = Vec::new();
    for s in ALL_SERVICES {
        let rec = layout.recorded(s);
        if let Some(pid) = rec.pid
            && pid_is(pid, s)
        {
            let res = match s {
                Service::Postgres => stop_postgres(&layout, pid),
                Service::Redis | Service::Mongo => terminate(pid, libc::SIGTERM),
            };
            if let Err(e) = res {
                errors.push(format!("{s}: {e:#}"));
                continue;
            }
        }
        layout.clear_records(s);
    }
    if !errors.is_empty() {
        bail!("sandbox stop failed: {}", errors.join("; "));
    }
    Ok(layout.state(&[]))
}

/// Report the services under `dir` without changing anything.
pub fn status(dir: &Path) -> Result<SandboxState> {
    Ok(match Layout::existing(dir)? {
        Some(layout) => layout.state(&[]),
        None => Layout::missing(dir).state(&[]),
    })
}

/// Find a Mongo-wire server: `mongod` on PATH, else `secantusd-py` from `$MIGRATE_SECANTUSD`,
/// PATH, or `.venv/bin/secantusd-py` in the current directory or any of its parents.
pub fn find_mongo_server() -> Result<MongoProgram> {
    if let Some(p) = find_in_path("mongod") {
        return Ok(MongoProgram::Mongod(p));
    }
    if let Some(v) = std::env::var_os("MIGRATE_SECANTUSD").filter(|v| !v.is_empty()) {
        let p = PathBuf::from(&v);
        if is_executable(&p) {
            return Ok(MongoProgram::Secantus(p));
        }
        bail!(
            "MIGRATE_SECANTUSD={} is not an executable file; install SecantusDB with `{SECANTUS_INSTALL}`",
            p.display()
        );
    }
    if let Some(p) = find_in_path("secantusd-py") {
        return Ok(MongoProgram::Secantus(p));
    }
    if let Ok(cwd) = std::env::current_dir() {
        for anc in cwd.ancestors() {
            let p = anc.join(".venv/bin/secantusd-py");
            if is_executable(&p) {
                return Ok(MongoProgram::Secantus(p));
            }
        }
    }
    bail!(
        "no mongo-wire server found: neither `mongod` nor `secantusd-py` is on PATH, $MIGRATE_SECANTUSD \
         is unset and no .venv/bin/secantusd-py exists in the current directory or its parents; \
         install SecantusDB with `{SECANTUS_INSTALL}`"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_port_is_bindable_and_nonzero() {
        let p = free_port().unwrap();
        assert_ne!(p, 0);
        // Free right after we released it.
        let l = TcpListener::bind(("127.0.0.1", p)).unwrap();
        assert_eq!(l.local_addr().unwrap().port(), p);
        assert!(port_answers(p));
        drop(l);
    }

    #[test]
    fn pid_file_parsing() {
        assert_eq!(parse_pid("1234\n"), Some(1234));
        assert_eq!(parse_pid("  42  "), Some(42));
        // postmaster.pid: the pid is the first of several lines.
        assert_eq!(
            parse_pid("777\n/var/lib/pg/data\n1700000000\n5432\n"),
            Some(777)
        );
        assert_eq!(parse_pid(""), None);
        assert_eq!(parse_pid("0\n"), None);
        assert_eq!(parse_pid("-5\n"), None);
        assert_eq!(parse_pid("abc\n"), None);
        assert_eq!(parse_pid("4294967295\n"), None);
        assert_eq!(parse_port("5433\n"), Some(5433));
        assert_eq!(parse_port("0"), None);
        assert_eq!(parse_port("70000"), None);
    }

    #[test]
    fn versions_are_parsed() {
        assert_eq!(
            parse_postgres_version("postgres (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)\n"),
            Some("15.20".into())
        );
        assert_eq!(
            parse_redis_version("Redis server v=7.0.15 sha=00000000:0 malloc=jemalloc-5.3.0"),
            Some("7.0.15".into())
        );
        assert_eq!(
            parse_mongod_version("db version v7.0.2\nBuild Info: {}\n"),
            Some("7.0.2".into())
        );
    }

    fn state_with(services: Vec<ServiceState>) -> SandboxState {
        SandboxState {
            dir: PathBuf::from("/x"),
            services,
            archive: None,
        }
    }

    fn svc(service: Service, running: bool, url: &str) -> ServiceState {
        ServiceState {
            service,
            running,
            pid: running.then_some(1),
            port: running.then_some(1),
            url: running.then(|| url.to_string()),
            data_dir: PathBuf::from("/x/d"),
            log_file: PathBuf::from("/x/l"),
            program: None,
            started_now: false,
            moved_from: None,
        }
    }

    #[test]
    fn env_lines_quote_and_skip_stopped_services() {
        let st = state_with(vec![
            svc(
                Service::Postgres,
                true,
                "postgres://postgres:postgres@127.0.0.1:1/postgres",
            ),
            svc(Service::Redis, false, "redis://127.0.0.1:2/"),
            svc(Service::Mongo, true, "mongodb://127.0.0.1:3/it's"),
        ]);
        assert_eq!(
            st.env_lines(),
            vec![
                "export DATABASE_URL='postgres://postgres:postgres@127.0.0.1:1/postgres'"
                    .to_string(),
                r"export MONGODB_URL='mongodb://127.0.0.1:3/it'\''s'".to_string(),
            ]
        );
        assert_eq!(st.url(Service::Redis), None);
        assert_eq!(st.url(Service::Mongo), Some("mongodb://127.0.0.1:3/it's"));
    }

    #[test]
    fn shell_quoting() {
        assert_eq!(sh_quote("plain"), "'plain'");
        assert_eq!(sh_quote(""), "''");
        assert_eq!(sh_quote("a'b"), r"'a'\''b'");
    }

    #[test]
    fn service_names_round_trip() {
        for s in ALL_SERVICES {
            assert_eq!(s.to_string().parse::<Service>().unwrap(), s);
        }
        assert_eq!("PostgreSQL".parse::<Service>().unwrap(), Service::Postgres);
        assert!("mysql".parse::<Service>().is_err());
        assert_eq!(serde_json::to_string(&Service::Mongo).unwrap(), "\"mongo\"");
    }

    #[test]
    fn cmdline_matching_guards_pid_reuse() {
        assert!(Service::Redis.matches_cmdline("redis-server 127.0.0.1:6380"));
        assert!(Service::Mongo.matches_cmdline("/v/bin/python3 /v/bin/secantusd-py --port 1"));
        assert!(Service::Postgres.matches_cmdline("/usr/lib/postgresql/15/bin/postgres -D d"));
        assert!(!Service::Redis.matches_cmdline("/bin/bash"));
    }

    #[test]
    fn untraversable_parent_is_found() {
        let tmp = tempfile::tempdir().unwrap();
        let closed = tmp.path().join("closed");
        fs::create_dir(&closed).unwrap();
        fs::set_permissions(&closed, fs::Permissions::from_mode(0o700)).unwrap();
        let nobody = OsUser {
            uid: 65534,
            gid: 65534,
        };
        let inside = closed.join("sandbox/postgres");
        assert_eq!(
            first_untraversable(&inside, nobody).as_deref(),
            Some(closed.as_path())
        );
        fs::set_permissions(&closed, fs::Permissions::from_mode(0o755)).unwrap();
        fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o755)).unwrap();
        if first_untraversable(tmp.path(), nobody).is_none() {
            assert_eq!(first_untraversable(&inside, nobody), None);
        }
    }

    #[test]
    fn status_of_missing_dir_reports_nothing_running() {
        let tmp = tempfile::tempdir().unwrap();
        let st = status(&tmp.path().join("nope")).unwrap();
        assert_eq!(st.services.len(), 3);
        assert!(st.services.iter().all(|s| !s.running && s.pid.is_none()));
        assert!(st.env_lines().is_empty());
    }

    #[test]
    fn stale_records_are_not_live() {
        let tmp = tempfile::tempdir().unwrap();
        let layout = Layout {
            dir: tmp.path().to_path_buf(),
        };
        fs::create_dir_all(layout.svc_dir(Service::Redis)).unwrap();
        // Our own pid is alive, but it is not redis-server and the port is closed.
        layout
            .write_records(
                Service::Redis,
                std::process::id(),
                free_port().unwrap(),
                "redis-server",
            )
            .unwrap();
        assert!(layout.recorded(Service::Redis).pid.is_some());
        assert!(layout.live(Service::Redis).is_none());
        layout.clear_records(Service::Redis);
        assert!(layout.recorded(Service::Redis).pid.is_none());
        // The port is kept for the next start.
        assert!(layout.recorded(Service::Redis).port.is_some());
    }

    #[test]
    fn a_kept_port_is_used_again_unless_it_is_taken() {
        let free = free_port().unwrap();
        assert_eq!(pick_port(Some(free), 1).unwrap(), free);
        let taken = TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let taken_port = taken.local_addr().unwrap().port();
        assert_ne!(pick_port(Some(taken_port), 1).unwrap(), taken_port);
        // A retry after a bind race never insists on the kept port.
        assert_ne!(pick_port(Some(taken_port), 2).unwrap(), taken_port);
    }
}
