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

// ---------------------------------------------------------------------------------------------
// Layout and records

struct Layout {
    dir: PathBuf,
}

#[derive(Debug, Default)]
struct Recorded {
    pid: Option<u32>,
    port: Option<u16>,
    program: Option<String>,
}

impl Layout {
    /// The layout of an existing sandbox directory, `None` if it does not exist.
    fn existing(dir: &Path) -> Result<Option<Layout>> {
        if !dir.exists() {
            return Ok(None);
        }
        let dir = dir
            .canonicalize()
            .with_context(|| format!("cannot resolve sandbox directory {}", dir.display()))?;
        Ok(Some(Layout { dir }))
    }

    fn missing(dir: &Path) -> Layout {
        let dir = if dir.is_absolute() {
            dir.to_path_buf()
        } else {
            std::env::current_dir()
                .map(|c| c.join(dir))
                .unwrap_or_else(|_| dir.to_path_buf())
        };
        Layout { dir }
    }

    fn svc_dir(&self, s: Service) -> PathBuf {
        self.dir.join(s.name())
    }

    fn pid_file(&self, s: Service) -> PathBuf {
        self.svc_dir(s).join("pid")
    }

    fn port_file(&self, s: Service) -> PathBuf {
        self.svc_dir(s).join("port")
    }

    fn program_file(&self, s: Service) -> PathBuf {
        self.svc_dir(s).join("program")
    }

    fn pg_home_file(&self) -> PathBuf {
        self.svc_dir(Service::Postgres).join("home")
    }

    /// Where the PostgreSQL cluster, its log and its socket live (see the module docs).
    fn pg_home(&self) -> PathBuf {
        fs::read_to_string(self.pg_home_file())
            .ok()
            .map(|s| PathBuf::from(s.trim()))
            .filter(|p| p.is_absolute())
            .unwrap_or_else(|| self.svc_dir(Service::Postgres))
    }

    fn data_dir(&self, s: Service) -> PathBuf {
        match s {
            Service::Postgres => self.pg_home().join("data"),
            Service::Redis => self.svc_dir(s),
            Service::Mongo => self.svc_dir(s).join("data"),
        }
    }

    fn log_file(&self, s: Service) -> PathBuf {
        match s {
            Service::Postgres => self.pg_home().join("postgres.log"),
            Service::Redis => self.svc_dir(s).join("redis.log"),
            Service::Mongo => self.svc_dir(s).join("mongo.log"),
        }
    }

    fn recorded(&self, s: Service) -> Recorded {
        let read = |p: PathBuf| fs::read_to_string(p).ok();
        Recorded {
            pid: read(self.pid_file(s)).and_then(|t| parse_pid(&t)),
            port: read(self.port_file(s)).and_then(|t| parse_port(&t)),
            program: read(self.program_file(s))
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty()),
        }
    }

    /// The records of `s` when its process is alive, is the right program and its port answers.
    fn live(&self, s: Service) -> Option<Recorded> {
        let rec = self.recorded(s);
        let (pid, port) = (rec.pid?, rec.port?);
        (pid_is(pid, s) && port_answers(port)).then_some(rec)
    }

    /// Forgets the process of `s`; its port stays recorded, to be used again by `start`.
    fn clear_records(&self, s: Service) {
        for f in [self.pid_file(s), self.program_file(s)] {
            let _ = fs::remove_file(f);
        }
    }

    /// Records the pgBackRest repository PostgreSQL archives into (present only with `--archive`).
    fn pg_archive_file(&self) -> PathBuf {
        self.svc_dir(Service::Postgres).join("archive")
    }

    fn pg_databases_file(&self) -> PathBuf {
        self.svc_dir(Service::Postgres).join("databases")
    }

    fn write_records(&self, s: Service, pid: u32, port: u16, program: &str) -> Result<()> {
        write_atomic(&self.pid_file(s), &format!("{pid}\n"))?;
        write_atomic(&self.port_file(s), &format!("{port}\n"))?;
        write_atomic(&self.program_file(s), &format!("{program}\n"))?;
        Ok(())
    }

    fn state(&self, started_now: &[Service]) -> SandboxState {
        let services = ALL_SERVICES
            .into_iter()
            .map(|s| {
                let live = self.live(s);
                let running = live.is_some();
                let rec = live.unwrap_or_default();
                ServiceState {
                    service: s,
                    running,
                    pid: rec.pid,
                    port: rec.port,
                    url: rec.port.map(|p| s.url_for_port(p)),
                    data_dir: self.data_dir(s),
                    log_file: self.log_file(s),
                    program: rec.program,
                    started_now: running && started_now.contains(&s),
                    moved_from: None,
                }
            })
            .collect();
        let archive = fs::read_to_string(self.pg_archive_file()).ok().map(|repo| {
            let home = self.pg_home();
            ArchiveState {
                stanza: ARCHIVE_STANZA.to_string(),
                repo_path: PathBuf::from(repo.trim()),
                data_dir: home.join("data"),
                socket_dir: home.clone(),
                port: self.recorded(Service::Postgres).port,
            }
        });
        SandboxState {
            dir: self.dir.clone(),
            services,
            archive,
        }
    }
}

/// An exclusive `flock` on `dir/.lock`, released on drop (the descriptor is close-on-exec, so
/// servers started while holding it do not inherit it).
struct DirLock {
    _file: File,
}

impl DirLock {
    fn acquire(dir: &Path) -> Result<DirLock> {
        let path = dir.join(".lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("cannot open lock file {}", path.display()))?;
        let deadline = Instant::now() + LOCK_TIMEOUT;
        loop {
            // SAFETY: flock on a descriptor we own.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
                return Ok(DirLock { _file: file });
            }
            let err = io::Error::last_os_error();
            match err.raw_os_error() {
                Some(libc::EWOULDBLOCK) | Some(libc::EINTR) => {}
                _ => return Err(err).with_context(|| format!("cannot lock {}", path.display())),
            }
            if Instant::now() >= deadline {
                bail!(
                    "timed out after {}s waiting for the sandbox lock {}",
                    LOCK_TIMEOUT.as_secs(),
                    path.display()
                );
            }
            sleep(Duration::from_millis(50));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

/// The OS user PostgreSQL runs as when we are root.
#[derive(Debug, Clone, Copy)]
struct OsUser {
    uid: u32,
    gid: u32,
}

fn pg_run_as() -> Result<Option<OsUser>> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(None);
    }
    match lookup_user(PG_OS_USER) {
        Some(u) => Ok(Some(u)),
        None => bail!(
            "running as root, but postgresql refuses to run as root and there is no `{PG_OS_USER}` os user \
             to run it as; create one (`useradd --system {PG_OS_USER}`) or run as a normal user"
        ),
    }
}

fn lookup_user(name: &str) -> Option<OsUser> {
    let cname = CString::new(name).ok()?;
    // SAFETY: getpwnam_r writes into `pwd` and `buf`, both live for the call; we only read
    // plain integer fields afterwards.
    unsafe {
        let mut pwd: libc::passwd = std::mem::zeroed();
        let mut buf = vec![0 as libc::c_char; 16 * 1024];
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        let rc = libc::getpwnam_r(
            cname.as_ptr(),
            &mut pwd,
            buf.as_mut_ptr(),
            buf.len(),
            &mut result,
        );
        if rc != 0 || result.is_null() {
            return None;
        }
        Some(OsUser {
            uid: pwd.pw_uid,
            gid: pwd.pw_gid,
        })
    }
}

/// Whether the server's library directory holds `pg_stat_statements` (Debian ships it with
/// the server; other builds keep it in a contrib package).
fn has_pg_stat_statements(bindir: &Path) -> bool {
    let beside = bindir.join("../lib/pg_stat_statements.so");
    if beside.exists() {
        return true;
    }
    Command::new(bindir.join("pg_config"))
        .arg("--pkglibdir")
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .is_some_and(|dir| Path::new(&dir).join("pg_stat_statements.so").exists())
}

/// Directory holding initdb, pg_ctl and postgres: PATH, `pg_config --bindir`, or the highest
/// `/usr/lib/postgresql/*/bin`.
pub fn find_pg_bindir() -> Result<PathBuf> {
    let complete = |d: &Path| {
        ["initdb", "pg_ctl", "postgres"]
            .iter()
            .all(|b| is_executable(&d.join(b)))
    };
    if let Some(initdb) = find_in_path("initdb") {
        let resolved = initdb.canonicalize().unwrap_or(initdb);
        if let Some(d) = resolved.parent().filter(|d| complete(d)) {
            return Ok(d.to_path_buf());
        }
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output()
        && out.status.success()
    {
        let d = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if complete(&d) {
            return Ok(d);
        }
    }
    let mut versions: Vec<(Vec<u32>, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let v: Option<Vec<u32>> = name.split('.').map(|p| p.parse().ok()).collect();
            let bin = e.path().join("bin");
            v.filter(|_| complete(&bin)).map(|v| (v, bin))
        })
        .collect();
    versions.sort();
    match versions.pop() {
        Some((_, d)) => Ok(d),
        None => bail!(
            "postgresql server binaries not found (initdb/pg_ctl not on PATH, not in `pg_config --bindir`, \
             no /usr/lib/postgresql/*/bin); install them (e.g. `apt-get install postgresql`)"
        ),
    }
}

/// A command that runs `program` as the PostgreSQL OS user when we are root.
fn pg_command(program: &Path, args: &[OsString], run_as: Option<OsUser>, cwd: &Path) -> Command {
    let mut cmd = match run_as {
        None => {
            let mut c = Command::new(program);
            c.args(args);
            c
        }
        Some(_) => {
            let runuser = find_in_path("runuser").or_else(|| {
                ["/usr/sbin/runuser", "/sbin/runuser"]
                    .iter()
                    .map(PathBuf::from)
                    .find(|p| is_executable(p))
            });
            match runuser {
                Some(r) => {
                    let mut c = Command::new(r);
                    c.args(["-u", PG_OS_USER, "--"]).arg(program).args(args);
                    c
                }
                None => {
                    let mut script = String::from("exec ");
                    script.push_str(&sh_quote(&program.to_string_lossy()));
                    for a in args {
                        script.push(' ');
                        script.push_str(&sh_quote(&a.to_string_lossy()));
                    }
                    let mut c = Command::new("su");
                    c.args([PG_OS_USER, "-s", "/bin/sh", "-c"]).arg(script);
                    c
                }
            }
        }
    };
    cmd.current_dir(cwd).stdin(Stdio::null());
    cmd
}

/// Create the PostgreSQL home (see module docs), owned by the PostgreSQL OS user when root.
fn prepare_pg_home(layout: &Layout, run_as: Option<OsUser>) -> Result<PathBuf> {
    let svc_dir = layout.svc_dir(Service::Postgres);
    fs::create_dir_all(&svc_dir).with_context(|| format!("cannot create {}", svc_dir.display()))?;
    let Some(user) = run_as else {
        // Not root: always in place (a `home` record left by a root run would point elsewhere).
        let _ = fs::remove_file(layout.pg_home_file());
        return Ok(svc_dir);
    };
    let recorded = layout.pg_home();
    let home = if recorded != svc_dir && recorded.is_dir() {
        recorded
    } else if first_untraversable(&svc_dir, user).is_none() {
        let _ = fs::remove_file(layout.pg_home_file());
        svc_dir.clone()
    } else {
        let tmp = std::env::temp_dir();
        if let Some(bad) = first_untraversable(&tmp.join("x"), user) {
            bail!(
                "{} is not traversable by the `{PG_OS_USER}` os user, and neither is the fallback {}; \
                 put the sandbox somewhere it can reach",
                first_untraversable(&svc_dir, user)
                    .unwrap_or_default()
                    .display(),
                bad.display()
            );
        }
        let home = tmp.join(format!(
            "migrate-sandbox-{:016x}",
            fnv1a(layout.dir.as_os_str())
        ));
        match fs::symlink_metadata(&home) {
            Ok(md) => {
                if !md.is_dir() || (md.uid() != 0 && md.uid() != user.uid) {
                    bail!(
                        "{} exists but is not a directory owned by root or `{PG_OS_USER}`; remove it",
                        home.display()
                    );
                }
            }
            Err(_) => {
                fs::create_dir(&home)
                    .with_context(|| format!("cannot create {}", home.display()))?;
            }
        }
        fs::set_permissions(&home, fs::Permissions::from_mode(0o700))
            .with_context(|| format!("cannot chmod {}", home.display()))?;
        write_atomic(&layout.pg_home_file(), &format!("{}\n", home.display()))?;
        home
    };
    chown_tree(&home, user)?;
    Ok(home)
}

/// The first ancestor of `path` (excluding `path`) that `user` cannot traverse.
fn first_untraversable(path: &Path, user: OsUser) -> Option<PathBuf> {
    path.ancestors().skip(1).find_map(|anc| {
        let md = fs::metadata(anc).ok()?;
        let mode = md.mode();
        let ok = if md.uid() == user.uid {
            mode & 0o100 != 0
        } else if md.gid() == user.gid {
            mode & 0o010 != 0
        } else {
            mode & 0o001 != 0
        };
        (!ok).then(|| anc.to_path_buf())
    })
}

fn chown_tree(path: &Path, user: OsUser) -> Result<()> {
    let md =
        fs::symlink_metadata(path).with_context(|| format!("cannot stat {}", path.display()))?;
    if md.uid() != user.uid || md.gid() != user.gid {
        std::os::unix::fs::lchown(path, Some(user.uid), Some(user.gid))
            .with_context(|| format!("cannot chown {} to `{PG_OS_USER}`", path.display()))?;
    }
    if md.is_dir() {
        for entry in
            fs::read_dir(path).with_context(|| format!("cannot read {}", path.display()))?
        {
            chown_tree(&entry?.path(), user)?;
        }
    }
    Ok(())
}

fn postgres_program(bindir: &Path) -> String {
    let version = Command::new(bindir.join("postgres"))
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| parse_postgres_version(&String::from_utf8_lossy(&o.stdout)));
    match version {
        Some(v) => format!("postgres {v}"),
        None => "postgres".to_string(),
    }
}

/// `postgres (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)` -> `15.20`.
fn parse_postgres_version(s: &str) -> Option<String> {
    let rest = s.split_once("(PostgreSQL)").map(|(_, r)| r).unwrap_or(s);
    rest.split_whitespace()
        .find(|t| t.starts_with(|c: char| c.is_ascii_digit()))
        .map(str::to_string)
}

fn start_postgres(layout: &Layout, kept: Option<u16>, archive: bool) -> Result<()> {
    let bindir = find_pg_bindir()?;
    let run_as = pg_run_as()?;
    let home = prepare_pg_home(layout, run_as)?;
    let data = home.join("data");
    let log = home.join("postgres.log");
    open_log(&log)?;
    if let Some(u) = run_as {
        chown_tree(&log, u)?;
    }
    let pg_ctl = bindir.join("pg_ctl");

    // A postmaster left running on our data dir without our records (e.g. a crashed `start`).
    if let Some(pid) = fs::read_to_string(data.join("postmaster.pid"))
        .ok()
        .and_then(|t| parse_pid(&t))
        && pid_is(pid, Service::Postgres)
    {
        let args = os_args(["stop", "-D"], &data, ["-m", "fast", "-w", "-t", "30"]);
        let _ = pg_command(&pg_ctl, &args, run_as, &home)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }

    if !data.join("PG_VERSION").exists() {
        if data.exists() {
            fs::remove_dir_all(&data)
                .with_context(|| format!("cannot remove incomplete cluster {}", data.display()))?;
        }
        initdb(&bindir, &home, &data, &log, run_as)?;
        // A new cluster has none of the databases an earlier one had.
        let _ = fs::remove_file(layout.pg_databases_file());
    }

    let program = postgres_program(&bindir);
    let socket_ok = home.join(".s.PGSQL.65535").as_os_str().len() < 100;
    let archive_repo = if archive {
        if !socket_ok {
            bail!(
                "cannot archive: the sandbox's PostgreSQL home {} is too long a path for its Unix socket, which pgBackRest needs; use a shorter sandbox directory",
                home.display()
            );
        }
        let repo = home.join("pgbackrest");
        write_atomic(&layout.pg_archive_file(), &format!("{}\n", repo.display()))?;
        Some(repo)
    } else {
        let _ = fs::remove_file(layout.pg_archive_file());
        None
    };
    let socket_dirs = if socket_ok {
        sh_quote(&home.to_string_lossy())
    } else {
        "''".to_string()
    };
    for attempt in 1..=PORT_ATTEMPTS {
        let port = pick_port(kept, attempt)?;
        let log_start = file_len(&log);
        let mut opts = format!(
            "-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={socket_dirs} \
             -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        );
        // Slow queries for `migrate health`, when the server has the module.
        if has_pg_stat_statements(&bindir) {
            opts.push_str(" -c shared_preload_libraries=pg_stat_statements");
        }
        if let Some(repo) = &archive_repo {
            // The same command `migrate backup physical setup` asks for (its config file is
            // `<repo_path>/pgbackrest.conf` by default).
            let command = format!(
                "pgbackrest --config={} --stanza={ARCHIVE_STANZA} archive-push %p",
                repo.join("pgbackrest.conf").display()
            );
            opts.push_str(&format!(
                " -c wal_level=replica -c archive_mode=on -c {}",
                sh_quote(&format!("archive_command={command}"))
            ));
        }
        let mut args = os_args(["start", "-w", "-t", "30", "-D"], &data, ["-l"]);
        args.push(log.clone().into_os_string());
        args.push("-o".into());
        args.push(opts.into());
        let out = pg_command(&pg_ctl, &args, run_as, &home)
            .output()
            .with_context(|| format!("cannot run {}", pg_ctl.display()))?;
        let new_log = read_from(&log, log_start);
        if !out.status.success() {
            if attempt < PORT_ATTEMPTS && mentions_port_in_use(&new_log) {
                continue;
            }
            let stderr = one_line(&String::from_utf8_lossy(&out.stderr));
            let mut msg = format!("pg_ctl start failed ({})", exit_text(out.status));
            if !stderr.is_empty() && !stderr.contains("Examine the log output") {
                msg.push_str(&format!(": {stderr}"));
            }
            return Err(with_log(msg, &log));
        }
        let isready = bindir.join("pg_isready");
        let ready = wait_ready(|| {
            if !port_answers(port) {
                return Probe::NotYet;
            }
            if !is_executable(&isready) {
                return Probe::Ready;
            }
            let ok = Command::new(&isready)
                .args(["-q", "-h", "127.0.0.1", "-U", "postgres", "-t", "2", "-p"])
                .arg(port.to_string())
                .stdin(Stdio::null())
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if ok { Probe::Ready } else { Probe::NotYet }
        });
        if let Err(why) = ready {
            return Err(with_log(
                format!("postgresql on 127.0.0.1:{port} {why}"),
                &log,
            ));
        }
        let pid = fs::read_to_string(data.join("postmaster.pid"))
            .ok()
            .and_then(|t| parse_pid(&t))
            .ok_or_else(|| {
                anyhow!(
                    "postgresql started but {} names no pid",
                    data.join("postmaster.pid").display()
                )
            })?;
        layout.write_records(Service::Postgres, pid, port, &program)?;
        return Ok(());
    }
    unreachable!("the last attempt returns")
}

/// Creates the database the sandbox's URL names ([`DATABASE`]) in the running cluster, once:
/// `postgres/databases` records that it exists.
fn ensure_pg_database(layout: &Layout) -> Result<()> {
    let Some(port) = layout.live(Service::Postgres).and_then(|rec| rec.port) else {
        return Ok(());
    };
    let recorded = fs::read_to_string(layout.pg_databases_file())
        .is_ok_and(|text| text.lines().any(|line| line.trim() == DATABASE));
    if recorded {
        return Ok(());
    }
    let createdb = find_pg_bindir()?.join("createdb");
    let out = Command::new(&createdb)
        .args(["-w", "-h", "127.0.0.1", "-U", "postgres", "-p"])
        .arg(port.to_string())
        .arg(DATABASE)
        .env("PGPASSWORD", PG_PASSWORD)
        .env("PGCONNECT_TIMEOUT", "10")
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run {}", createdb.display()))?;
    let stderr = one_line(&String::from_utf8_lossy(&out.stderr));
    if !out.status.success() && !stderr.contains("already exists") {
        bail!("cannot create the sandbox database `{DATABASE}` on 127.0.0.1:{port}: {stderr}");
    }
    write_atomic(&layout.pg_databases_file(), &format!("{DATABASE}\n"))
}

fn initdb(
    bindir: &Path,
    home: &Path,
    data: &Path,
    log: &Path,
    run_as: Option<OsUser>,
) -> Result<()> {
    let pwfile = home.join(".pwfile");
    write_atomic(&pwfile, &format!("{PG_PASSWORD}\n"))?;
    fs::set_permissions(&pwfile, fs::Permissions::from_mode(0o600))
        .with_context(|| format!("cannot chmod {}", pwfile.display()))?;
    if let Some(u) = run_as {
        chown_tree(&pwfile, u)?;
    }
    let mut base = os_args(["-D"], data, ["-U", "postgres", "--auth-local=trust"]);
    base.push("--auth-host=scram-sha-256".into());
    let mut pw = OsString::from("--pwfile=");
    pw.push(&pwfile);
    base.push(pw);
    base.extend(["-E", "UTF8"].map(OsString::from));

    let locales: Vec<&str> = match locale_available("C.UTF-8") {
        Some(false) => vec!["--no-locale"],
        _ => vec!["--locale=C.UTF-8", "--no-locale"],
    };
    let mut result = Ok(());
    for (i, locale) in locales.iter().enumerate() {
        if i > 0 && data.exists() {
            let _ = fs::remove_dir_all(data);
        }
        let mut args = base.clone();
        args.push(OsString::from(locale));
        let logf = open_log(log)?;
        let status = pg_command(&bindir.join("initdb"), &args, run_as, home)
            .stdout(logf.try_clone()?)
            .stderr(logf)
            .status()
            .with_context(|| format!("cannot run {}", bindir.join("initdb").display()))?;
        result = if status.success() {
            Ok(())
        } else {
            Err(with_log(
                format!("initdb failed ({})", exit_text(status)),
                log,
            ))
        };
        if result.is_ok() {
            break;
        }
    }
    let _ = fs::remove_file(&pwfile);
    result
}

/// `Some(true/false)` when `locale -a` answers, `None` when it cannot be asked.
fn locale_available(name: &str) -> Option<bool> {
    let out = Command::new("locale").arg("-a").output().ok()?;
    if !out.status.success() {
        return None;
    }
    let norm = |s: &str| s.to_ascii_lowercase().replace('-', "");
    let want = norm(name);
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .any(|l| norm(l.trim()) == want),
    )
}

fn pg_ctl_stop(home: &Path, data: &Path) -> Result<bool> {
    let bindir = find_pg_bindir()?;
    let run_as = pg_run_as()?;
    let args = os_args(["stop", "-D"], data, ["-m", "fast", "-w", "-t", "30"]);
    let out = pg_command(&bindir.join("pg_ctl"), &args, run_as, home).output()?;
    Ok(out.status.success())
}

fn stop_postgres(layout: &Layout, pid: u32) -> Result<()> {
    let home = layout.pg_home();
    let data = home.join("data");
    if pg_ctl_stop(&home, &data).unwrap_or(false) && wait_gone(pid, STOP_TIMEOUT) {
        return Ok(());
    }
    // pg_ctl could not do it: SIGINT is PostgreSQL's "fast shutdown".
    terminate(pid, libc::SIGINT)
}

// ---------------------------------------------------------------------------------------------
// Redis

fn start_redis(layout: &Layout, kept: Option<u16>) -> Result<()> {
    let bin = find_in_path("redis-server")
        .or_else(|| {
            ["/usr/bin/redis-server", "/usr/local/bin/redis-server"]
                .iter()
                .map(PathBuf::from)
                .find(|p| is_executable(p))
        })
        .ok_or_else(|| {
            anyhow!(
                "redis-server not found on PATH; install it (e.g. `apt-get install redis-server`)"
            )
        })?;
    let svc_dir = layout.svc_dir(Service::Redis);
    fs::create_dir_all(&svc_dir).with_context(|| format!("cannot create {}", svc_dir.display()))?;
    let log = layout.log_file(Service::Redis);
    let pid_file = layout.pid_file(Service::Redis);
    let program = Command::new(&bin)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| parse_redis_version(&String::from_utf8_lossy(&o.stdout)))
        .map(|v| format!("redis-server {v}"))
        .unwrap_or_else(|| "redis-server".to_string());

    for attempt in 1..=PORT_ATTEMPTS {
        let port = pick_port(kept, attempt)?;
        let _ = fs::remove_file(&pid_file);
        let log_start = file_len(&log);
        let logf = open_log(&log)?;
        let mut cmd = Command::new(&bin);
        cmd.arg("--port")
            .arg(port.to_string())
            .args(["--bind", "127.0.0.1", "--daemonize", "yes", "--pidfile"])
            .arg(&pid_file)
            .arg("--logfile")
            .arg(&log)
            .arg("--dir")
            .arg(&svc_dir)
            // Persistence as seed 000 asks for it in production (RDB snapshots and the AOF),
            // so that `migrate health` finds the sandbox as it should find production.
            .args(["--save", "3600 1 300 100 60 10000", "--appendonly", "yes"])
            .args(["--databases", "10000"])
            .current_dir(&svc_dir)
            .stdin(Stdio::null())
            .stdout(logf.try_clone()?)
            .stderr(logf);
        let status = cmd
            .status()
            .with_context(|| format!("cannot run {}", bin.display()))?;
        if !status.success() {
            return Err(with_log(
                format!("redis-server failed to start ({})", exit_text(status)),
                &log,
            ));
        }
        let ready = wait_ready(|| {
            if redis_ping(port) {
                return Probe::Ready;
            }
            let pid = fs::read_to_string(&pid_file)
                .ok()
                .and_then(|t| parse_pid(&t));
            if mentions_port_in_use(&read_from(&log, log_start))
                || pid.is_some_and(|p| !pid_alive(p))
            {
                return Probe::Failed("exited during startup".into());
            }
            Probe::NotYet
        });
        if let Err(why) = ready {
            if attempt < PORT_ATTEMPTS && mentions_port_in_use(&read_from(&log, log_start)) {
                continue;
            }
            return Err(with_log(
                format!("redis-server on 127.0.0.1:{port} {why}"),
                &log,
            ));
        }
        // Redis writes its pid file right after daemonizing; give it a moment.
        let deadline = Instant::now() + Duration::from_secs(5);
        let pid = loop {
            if let Some(p) = fs::read_to_string(&pid_file)
                .ok()
                .and_then(|t| parse_pid(&t))
            {
                break p;
            }
            if Instant::now() >= deadline {
                bail!(
                    "redis-server answers on 127.0.0.1:{port} but wrote no pid file {}",
                    pid_file.display()
                );
            }
            sleep(Duration::from_millis(20));
        };
        layout.write_records(Service::Redis, pid, port, &program)?;
        return Ok(());
    }
    unreachable!("the last attempt returns")
}

/// `Redis server v=7.0.15 sha=…` -> `7.0.15`.
fn parse_redis_version(s: &str) -> Option<String> {
    s.split_whitespace()
        .find_map(|t| t.strip_prefix("v="))
        .map(str::to_string)
}

fn redis_ping(port: u16) -> bool {
    let Ok(mut stream) = connect(port, Duration::from_millis(500)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
    if stream.write_all(b"*1\r\n$4\r\nPING\r\n").is_err() {
        return false;
    }
    let mut buf = [0u8; 64];
    let mut got = Vec::new();
    while !got.ends_with(b"\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return false,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    got.starts_with(b"+PONG")
}

// ---------------------------------------------------------------------------------------------
// Mongo wire

fn start_mongo(layout: &Layout, kept: Option<u16>) -> Result<()> {
    let server = find_mongo_server()?;
    let svc_dir = layout.svc_dir(Service::Mongo);
    let data = layout.data_dir(Service::Mongo);
    fs::create_dir_all(&data).with_context(|| format!("cannot create {}", data.display()))?;
    let log = layout.log_file(Service::Mongo);
    let pid_file = layout.pid_file(Service::Mongo);

    for attempt in 1..=PORT_ATTEMPTS {
        let port = pick_port(kept, attempt)?;
        let log_start = file_len(&log);
        let (pid, program) = match &server {
            MongoProgram::Mongod(bin) => {
                let _ = fs::remove_file(&pid_file);
                let logf = open_log(&log)?;
                let status = Command::new(bin)
                    .arg("--dbpath")
                    .arg(&data)
                    .arg("--port")
                    .arg(port.to_string())
                    .args([
                        "--bind_ip",
                        "127.0.0.1",
                        "--fork",
                        "--logappend",
                        "--logpath",
                    ])
                    .arg(&log)
                    .arg("--pidfilepath")
                    .arg(&pid_file)
                    .current_dir(&svc_dir)
                    .stdin(Stdio::null())
                    .stdout(logf.try_clone()?)
                    .stderr(logf)
                    .status()
                    .with_context(|| format!("cannot run {}", bin.display()))?;
                if !status.success() {
                    if attempt < PORT_ATTEMPTS && mentions_port_in_use(&read_from(&log, log_start))
                    {
                        continue;
                    }
                    return Err(with_log(
                        format!("mongod failed to start ({})", exit_text(status)),
                        &log,
                    ));
                }
                let pid = fs::read_to_string(&pid_file)
                    .ok()
                    .and_then(|t| parse_pid(&t))
                    .ok_or_else(|| {
                        anyhow!(
                            "mongod started but wrote no pid file {}",
                            pid_file.display()
                        )
                    })?;
                let program = Command::new(bin)
                    .arg("--version")
                    .output()
                    .ok()
                    .and_then(|o| parse_mongod_version(&String::from_utf8_lossy(&o.stdout)))
                    .map(|v| format!("mongod {v}"))
                    .unwrap_or_else(|| "mongod".to_string());
                (pid, program)
            }
            MongoProgram::Secantus(bin) => {
                // An empty config file disables SecantusDB's config auto-discovery.
                let config = svc_dir.join("secantusd.toml");
                if !config.exists() {
                    write_atomic(&config, "")?;
                }
                let logf = open_log(&log)?;
                let mut cmd = Command::new(bin);
                cmd.arg("--config")
                    .arg(&config)
                    .args(["--host", "127.0.0.1", "--port"])
                    .arg(port.to_string())
                    // On disk, so that `sandbox stop` and `start` keep the data, as they do
                    // for PostgreSQL and Redis.
                    .arg("--storage-path")
                    .arg(svc_dir.join("data"))
                    .current_dir(&svc_dir)
                    .stdin(Stdio::null())
                    .stdout(logf.try_clone()?)
                    .stderr(logf);
                // SAFETY: setsid is async-signal-safe; it detaches the server from our session so
                // it outlives us and ignores our terminal's signals.
                unsafe {
                    cmd.pre_exec(|| {
                        if libc::setsid() == -1 {
                            return Err(io::Error::last_os_error());
                        }
                        Ok(())
                    });
                }
                let child = cmd
                    .spawn()
                    .with_context(|| format!("cannot run {}", bin.display()))?;
                let pid = child.id();
                write_atomic(&pid_file, &format!("{pid}\n"))?;
                if let Err(why) = wait_child_port(child, port) {
                    let _ = fs::remove_file(&pid_file);
                    if attempt < PORT_ATTEMPTS && mentions_port_in_use(&read_from(&log, log_start))
                    {
                        continue;
                    }
                    return Err(with_log(
                        format!("secantusd-py on 127.0.0.1:{port} {why}"),
                        &log,
                    ));
                }
                (pid, "secantusd-py".to_string())
            }
        };
        if let Err(why) = wait_ready(|| {
            if port_answers(port) {
                Probe::Ready
            } else if !pid_alive(pid) {
                Probe::Failed("exited during startup".into())
            } else {
                Probe::NotYet
            }
        }) {
            return Err(with_log(
                format!("{program} on 127.0.0.1:{port} {why}"),
                &log,
            ));
        }
        layout.write_records(Service::Mongo, pid, port, &program)?;
        return Ok(());
    }
    unreachable!("the last attempt returns")
}

/// Wait for a spawned server to answer on `port`; kills it when it does not.
fn wait_child_port(mut child: Child, port: u16) -> std::result::Result<(), String> {
    let res = wait_ready(|| {
        if port_answers(port) {
            return Probe::Ready;
        }
        match child.try_wait() {
            Ok(Some(st)) => Probe::Failed(format!("exited during startup ({})", exit_text(st))),
            _ => Probe::NotYet,
        }
    });
    if res.is_err() {
        let _ = child.kill();
        let _ = child.wait();
    }
    // On success the child is deliberately not waited for: it keeps running after we exit.
    res
}

/// `db version v7.0.2` -> `7.0.2`.
fn parse_mongod_version(s: &str) -> Option<String> {
    s.lines()
        .find_map(|l| l.trim().strip_prefix("db version v"))
        .map(|v| v.trim().to_string())
}

// ---------------------------------------------------------------------------------------------
// Processes, ports, files

enum Probe {
    Ready,
    NotYet,
    Failed(String),
}

/// Poll `probe` until ready, failed, or [`READY_TIMEOUT`]; the error says what happened.
fn wait_ready(mut probe: impl FnMut() -> Probe) -> std::result::Result<(), String> {
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        match probe() {
            Probe::Ready => return Ok(()),
            Probe::Failed(why) => return Err(why),
            Probe::NotYet => {}
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "did not become ready within {}s",
                READY_TIMEOUT.as_secs()
            ));
        }
        sleep(Duration::from_millis(50));
    }
}

/// The port of a start attempt: the kept one first, when it is free; any free one otherwise.
fn pick_port(kept: Option<u16>, attempt: usize) -> Result<u16> {
    if attempt == 1
        && let Some(port) = kept
        && TcpListener::bind(("127.0.0.1", port)).is_ok()
    {
        return Ok(port);
    }
    free_port().context("cannot pick a free port")
}

pub(crate) fn free_port() -> io::Result<u16> {
    let listener = TcpListener::bind(("127.0.0.1", 0))?;
    Ok(listener.local_addr()?.port())
}

fn connect(port: u16, timeout: Duration) -> io::Result<TcpStream> {
    TcpStream::connect_timeout(&SocketAddr::from(([127, 0, 0, 1], port)), timeout)
}

fn port_answers(port: u16) -> bool {
    connect(port, Duration::from_secs(1)).is_ok()
}

/// First line of a pid file (ours or `postmaster.pid`) as a positive pid.
fn parse_pid(text: &str) -> Option<u32> {
    let pid: u32 = text.lines().next()?.trim().parse().ok()?;
    (pid > 0 && pid <= i32::MAX as u32).then_some(pid)
}

fn parse_port(text: &str) -> Option<u16> {
    text.trim().parse().ok().filter(|p| *p > 0)
}

/// Whether `pid` names a live (non-zombie) process.
fn pid_alive(pid: u32) -> bool {
    let Ok(p) = i32::try_from(pid) else {
        return false;
    };
    if p <= 0 {
        return false;
    }
    // SAFETY: reaps `p` only if it is our own exited child (a server we spawned); otherwise a no-op.
    unsafe {
        libc::waitpid(p, std::ptr::null_mut(), libc::WNOHANG);
    }
    // SAFETY: signal 0 only checks for existence and permission.
    let alive = unsafe { libc::kill(p, 0) } == 0
        || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
    if !alive {
        return false;
    }
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesized command name.
        Ok(stat) => !stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with(['Z', 'X'])),
        Err(_) => true,
    }
}

/// Whether `pid` is alive and (where /proc exists) runs the program of `s`.
fn pid_is(pid: u32, s: Service) -> bool {
    if !pid_alive(pid) {
        return false;
    }
    match fs::read(format!("/proc/{pid}/cmdline")) {
        Ok(bytes) => s.matches_cmdline(&String::from_utf8_lossy(&bytes).replace('\0', " ")),
        Err(_) => !Path::new("/proc/self").exists(),
    }
}

fn wait_gone(pid: u32, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while pid_alive(pid) {
        if Instant::now() >= deadline {
            return false;
        }
        sleep(Duration::from_millis(50));
    }
    true
}

/// Send `signal`, wait up to [`STOP_TIMEOUT`], then SIGKILL.
fn terminate(pid: u32, signal: libc::c_int) -> Result<()> {
    let p = i32::try_from(pid).map_err(|_| anyhow!("invalid pid {pid}"))?;
    // SAFETY: plain kill(2) on a pid taken from our own pid file and checked by `pid_is`.
    unsafe { libc::kill(p, signal) };
    if wait_gone(pid, STOP_TIMEOUT) {
        return Ok(());
    }
    // SAFETY: as above.
    unsafe { libc::kill(p, libc::SIGKILL) };
    if wait_gone(pid, Duration::from_secs(5)) {
        Ok(())
    } else {
        bail!("process {pid} did not exit after SIGKILL")
    }
}

fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn os_args<const A: usize, const B: usize>(
    before: [&str; A],
    path: &Path,
    after: [&str; B],
) -> Vec<OsString> {
    let mut v: Vec<OsString> = before.iter().map(OsString::from).collect();
    v.push(path.as_os_str().to_owned());
    v.extend(after.iter().map(OsString::from));
    v
}

fn write_atomic(path: &Path, contents: &str) -> Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    fs::write(&tmp, contents).with_context(|| format!("cannot write {}", tmp.display()))?;
    fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}

fn open_log(path: &Path) -> Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot open log file {}", path.display()))
}

fn file_len(path: &Path) -> u64 {
    fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// The part of a file written after byte `offset`.
fn read_from(path: &Path, offset: u64) -> String {
    let Ok(bytes) = fs::read(path) else {
        return String::new();
    };
    let start = usize::try_from(offset)
        .unwrap_or(usize::MAX)
        .min(bytes.len());
    String::from_utf8_lossy(&bytes[start..]).into_owned()
}

fn mentions_port_in_use(log: &str) -> bool {
    let l = log.to_ascii_lowercase();
    l.contains("address already in use") || l.contains("could not bind")
}

fn tail(path: &Path, lines: usize) -> String {
    let text = read_from(path, 0);
    let all: Vec<&str> = text.lines().collect();
    let start = all.len().saturating_sub(lines);
    all[start..].join("\n")
}

/// `msg; see LOG:` followed by the last lines of the log.
fn with_log(msg: String, log: &Path) -> anyhow::Error {
    let t = tail(log, LOG_TAIL_LINES);
    if t.trim().is_empty() {
        anyhow!("{msg}; see {} (empty)", log.display())
    } else {
        anyhow!("{msg}; see {}:\n{t}", log.display())
    }
}

fn exit_text(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(c), _) => format!("exit {c}"),
        (None, Some(s)) => format!("signal {s}"),
        _ => "unknown status".to_string(),
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Quote for a POSIX shell: `it's` -> `'it'\''s'`.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// FNV-1a, stable across builds (names the fallback PostgreSQL home of a sandbox directory).
fn fnv1a(s: &OsStr) -> u64 {
    use std::os::unix::ffi::OsStrExt;
    s.as_bytes().iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
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
