//! Physical backups and point-in-time recovery of PostgreSQL, driven through pgBackRest (never
//! reimplemented): `backup physical setup`, `backup create|list|verify|restore|prune --physical`.
//!
//! pgBackRest always runs with an explicit `--config FILE` that this module writes from
//! `[backup.physical]` (never `/etc/pgbackrest.conf`), with its repository, lock and log paths
//! inside the repository directory, and as the OS user that owns the server's data directory
//! (`runuser -u USER --` when migrate runs as root, like the sandbox's `pg_ctl`).
//! Each operation is planned first (a value), then executed as planned.

pub mod info;
pub mod scratch;
pub mod verify;

use std::ffi::CString;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use serde::Serialize;

use self::info::{Archiver, PhysicalBackup, StanzaInfo, Window};
use self::verify::Finding;
use crate::config::{PhysicalSettings, Settings};
use crate::errors::Detailed;
use crate::output::Printer;

/// The `repo1-retention-full` written into the config: pgBackRest then expires nothing by
/// itself after a backup (and does not warn); `backup prune --physical` applies the retention.
const RETAIN_ALL: u32 = 9_999_999;
/// pgBackRest error code of a file it needs and cannot find (config, `backup.info`).
const ERROR_FILE_MISSING: &str = "055";
/// pgBackRest error code of an option a command needs (no `pg1-path`: an unknown stanza).
const ERROR_OPTION_REQUIRED: &str = "037";
/// pgBackRest error code of WAL that did not reach the archive in time.
const ERROR_ARCHIVE_TIMEOUT: &str = "082";

/// The OS user pgBackRest runs as.
#[derive(Debug, Clone)]
pub struct OsUser {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
}

/// pgBackRest for one stanza, as `[backup.physical]` describes it.
#[derive(Debug, Clone)]
pub struct PgBackRest {
    pub settings: PhysicalSettings,
    /// `--process-max` of backup, restore and verify: `[backup] jobs` (`-j`).
    process_max: u32,
    /// `None`: run as ourselves (not root).
    pub run_as: Option<OsUser>,
}

/// `[backup.physical]` is required by every `--physical` command.
pub fn configured(settings: &Settings) -> anyhow::Result<PgBackRest> {
    let Some(physical) = &settings.backup.physical else {
        return Err(Detailed::new("physical backups are not configured: no [backup.physical] section")
            .hint("add [backup.physical] with stanza, repo_path and data_dir to migrate.toml (see docs/operations.md), then run `migrate backup physical setup`")
            .into());
    };
    which_pgbackrest()?;
    Ok(PgBackRest {
        settings: physical.clone(),
        process_max: settings.backup.jobs,
        run_as: run_as_user(physical)?,
    })
}

fn which_pgbackrest() -> anyhow::Result<PathBuf> {
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join("pgbackrest"))
                .find(|p| p.is_file())
        })
        .ok_or_else(|| {
            Detailed::new("pgbackrest is not installed (not found on PATH)")
                .hint("install it: apt-get install pgbackrest (scripts/setup does)")
                .into()
        })
}

/// When root: the owner of the data directory (else of the repository, else `postgres`).
fn run_as_user(physical: &PhysicalSettings) -> anyhow::Result<Option<OsUser>> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(None);
    }
    let owner = [&physical.data_dir, &physical.repo_path]
        .iter()
        .find_map(|path| std::fs::metadata(path).ok().map(|md| md.uid()))
        .filter(|uid| *uid != 0);
    let user = match owner {
        Some(uid) => user_by_uid(uid),
        None => user_by_name("postgres"),
    };
    match user {
        Some(user) => Ok(Some(user)),
        None => Err(Detailed::new(
            "running as root, but there is no OS user to run pgbackrest as (the data directory's owner, or `postgres`)",
        )
        .hint(format!(
            "check [backup.physical] data_dir = {}",
            physical.data_dir.display()
        ))
        .into()),
    }
}

fn user_by_name(name: &str) -> Option<OsUser> {
    let cname = CString::new(name).ok()?;
    passwd(|pwd, buf, result| {
        // SAFETY: all pointers are valid for the call (see `passwd`).
        unsafe { libc::getpwnam_r(cname.as_ptr(), pwd, buf.as_mut_ptr(), buf.len(), result) }
    })
}

fn user_by_uid(uid: u32) -> Option<OsUser> {
    passwd(|pwd, buf, result| {
        // SAFETY: all pointers are valid for the call (see `passwd`).
        unsafe { libc::getpwuid_r(uid, pwd, buf.as_mut_ptr(), buf.len(), result) }
    })
}

/// Runs a `getpw*_r` lookup with buffers that live for the call and reads the entry.
fn passwd(
    lookup: impl FnOnce(&mut libc::passwd, &mut Vec<libc::c_char>, &mut *mut libc::passwd) -> i32,
) -> Option<OsUser> {
    // SAFETY: an all-zero passwd is a valid value of a plain C struct; it is only read after
    // the lookup filled it in (result non-null).
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    let rc = lookup(&mut pwd, &mut buf, &mut result);
    if rc != 0 || result.is_null() {
        return None;
    }
    // SAFETY: pw_name points into `buf`, which is alive, and is NUL-terminated by getpw*_r.
    let name = unsafe { std::ffi::CStr::from_ptr(pwd.pw_name) }
        .to_string_lossy()
        .into_owned();
    Some(OsUser {
        name,
        uid: pwd.pw_uid,
        gid: pwd.pw_gid,
    })
}

impl PgBackRest {
    /// `--process-max=N` for the commands that copy or check files.
    fn process_max(&self) -> String {
        format!("--process-max={}", self.process_max)
    }

    pub fn stanza(&self) -> &str {
        &self.settings.stanza
    }

    pub fn repo_display(&self) -> String {
        self.settings.repo_path.display().to_string()
    }

    /// The `archive_command` the server needs.
    pub fn archive_command(&self) -> String {
        format!(
            "pgbackrest --config={} --stanza={} archive-push %p",
            self.settings.config_file.display(),
            self.settings.stanza
        )
    }

    /// The pgBackRest configuration migrate writes (`setup`) and expects (every other command).
    pub fn config_text(&self) -> String {
        let s = &self.settings;
        let repo = s.repo_path.display();
        format!(
            "# Written by `migrate backup physical setup` from [backup.physical]; edit that section\n\
             # and run setup again instead of editing this file.\n\
             [global]\n\
             repo1-path={repo}\n\
             lock-path={repo}/lock\n\
             log-path={repo}/log\n\
             log-level-console=warn\n\
             log-level-file=info\n\
             # Retention is applied by `migrate backup prune --physical` ([backup.physical] keep_full, wal_days).\n\
             repo1-retention-full={RETAIN_ALL}\n\
             start-fast=y\n\
             \n\
             [{}]\n\
             pg1-path={}\n\
             pg1-port={}\n\
             pg1-socket-path={}\n",
            s.stanza,
            s.data_dir.display(),
            s.port,
            s.socket_dir.display(),
        )
    }

    /// The config file is there and says what `[backup.physical]` says.
    fn require_config(&self) -> anyhow::Result<()> {
        let path = &self.settings.config_file;
        match std::fs::read_to_string(path) {
            Ok(text) if text == self.config_text() => Ok(()),
            Ok(_) => Err(Detailed::new(format!(
                "the pgBackRest config {} does not match [backup.physical]",
                path.display()
            ))
            .hint("run `migrate backup physical setup` to rewrite it")
            .into()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Detailed::new(format!(
                "the pgBackRest config {} does not exist",
                path.display()
            ))
            .hint("run `migrate backup physical setup` first")
            .into()),
            Err(e) => Err(anyhow::Error::new(e).context(format!("cannot read {}", path.display()))),
        }
    }

    /// `pgbackrest --config=F --stanza=S <args>` as the data directory's owner.
    fn command(&self, args: &[String]) -> tokio::process::Command {
        let mut full = vec![
            format!("--config={}", self.settings.config_file.display()),
            format!("--stanza={}", self.settings.stanza),
        ];
        full.extend(args.iter().cloned());
        let mut command = match &self.run_as {
            Some(user) => {
                let mut c = tokio::process::Command::new("runuser");
                c.args(["-u", &user.name, "--", "pgbackrest"]);
                c
            }
            None => tokio::process::Command::new("pgbackrest"),
        };
        command
            .args(&full)
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true);
        command
    }

    /// The command line people can run themselves (shown in plans).
    pub fn command_line(&self, args: &[&str]) -> String {
        let mut words = Vec::new();
        if let Some(user) = &self.run_as {
            words.extend(["runuser", "-u", &user.name, "--"].map(str::to_string));
        }
        words.push("pgbackrest".into());
        words.push(format!("--config={}", self.settings.config_file.display()));
        words.push(format!("--stanza={}", self.settings.stanza));
        words.extend(args.iter().map(|a| {
            if a.contains(' ') {
                format!("'{a}'")
            } else {
                a.to_string()
            }
        }));
        words.join(" ")
    }

    /// Runs pgBackRest; its stdout on success, a readable error (message, hints) otherwise.
    async fn run(&self, args: &[String]) -> anyhow::Result<Output> {
        let name = args
            .iter()
            .find(|a| !a.starts_with("--"))
            .cloned()
            .unwrap_or_default();
        let out = self
            .command(args)
            .output()
            .await
            .with_context(|| format!("cannot run pgbackrest {name}"))?;
        let output = Output {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        if out.status.success() {
            Ok(output)
        } else {
            Err(self.failure(&name, &output).into())
        }
    }

    fn failure(&self, command: &str, output: &Output) -> Detailed {
        let text = format!("{}\n{}", output.stderr, output.stdout);
        let error_line = text
            .lines()
            .map(str::trim)
            .find(|l| l.starts_with("ERROR:") || l.contains(" ERROR: "));
        let code = error_line
            .and_then(|l| l.split_once('['))
            .and_then(|(_, rest)| rest.split_once(']'))
            .map(|(code, _)| code.to_string());
        let message = error_line
            .map(|l| l.rsplit_once("]: ").map_or(l, |(_, m)| m).to_string())
            .unwrap_or_else(|| {
                text.lines()
                    .map(str::trim)
                    .rfind(|l| !l.is_empty())
                    .unwrap_or("no output")
                    .to_string()
            });
        let status = output
            .code
            .map_or_else(|| "killed".to_string(), |c| format!("exit {c}"));
        let mut error = Detailed::new(format!("pgbackrest {command} failed ({status}): {message}"));
        for hint in text
            .lines()
            .map(str::trim)
            .filter_map(|l| l.strip_prefix("HINT: "))
        {
            error = error.context(format!("pgBackRest: {hint}"));
        }
        error = match code.as_deref() {
            Some(ERROR_OPTION_REQUIRED) | Some(ERROR_FILE_MISSING)
                if message.contains("pg1-path") || message.contains("backup.info") || message.contains("archive.info") =>
            {
                error.hint(format!(
                    "stanza `{}` does not exist in {}: run `migrate backup physical setup`",
                    self.settings.stanza,
                    self.repo_display()
                ))
            }
            Some(ERROR_ARCHIVE_TIMEOUT) => error.hint(format!(
                "the server does not archive its WAL into this repository: set archive_mode = on and archive_command = '{}', then restart it (`migrate backup physical setup` checks)",
                self.archive_command()
            )),
            _ => error,
        };
        error
    }

    /// The stanza's backups and archive range.
    pub async fn info(&self) -> anyhow::Result<StanzaInfo> {
        self.require_config()?;
        let out = self
            .run(&[
                "--log-level-console=off".into(),
                "info".into(),
                "--output=json".into(),
            ])
            .await?;
        info::parse(&out.stdout, &self.settings.stanza).map_err(|message| {
            Detailed::new(message)
                .hint("run `migrate backup physical setup` to create it")
                .into()
        })
    }
}

struct Output {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn millis(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Creates `path` (and parents) when missing, owned by the user pgBackRest runs as.
fn ensure_dir_for(path: &Path, user: Option<&OsUser>, mode: u32) -> anyhow::Result<()> {
    std::fs::create_dir_all(path).with_context(|| format!("cannot create {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("cannot chmod {}", path.display()))?;
    chown(path, user)
}

fn chown(path: &Path, user: Option<&OsUser>) -> anyhow::Result<()> {
    if let Some(user) = user {
        std::os::unix::fs::chown(path, Some(user.uid), Some(user.gid))
            .with_context(|| format!("cannot chown {} to `{}`", path.display(), user.name))?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// setup

/// One server setting `setup` needs, and what the server has.
#[derive(Debug, Clone, Serialize)]
pub struct ServerSetting {
    pub name: &'static str,
    pub required: String,
    /// `None`: the server was not asked (not configured) or would not say.
    pub current: Option<String>,
    pub ok: bool,
}

/// What `backup physical setup` will do.
#[derive(Debug, Clone, Serialize)]
pub struct SetupPlan {
    pub stanza: String,
    pub repo_path: String,
    pub config_file: String,
    /// `create`, `update` or `unchanged`.
    pub config_action: &'static str,
    pub run_as: Option<String>,
    pub server_settings: Vec<ServerSetting>,
    #[serde(skip)]
    config_text: String,
}

impl SetupPlan {
    /// The server archives into this stanza as it should.
    pub fn server_ready(&self) -> bool {
        self.server_settings.iter().all(|s| s.ok)
    }

    /// `ALTER SYSTEM` statements for the settings the server lacks.
    pub fn fixes(&self) -> Vec<String> {
        self.server_settings
            .iter()
            .filter(|s| !s.ok)
            .map(|s| {
                format!(
                    "ALTER SYSTEM SET {} = '{}';",
                    s.name,
                    s.required.replace('\'', "''")
                )
            })
            .collect()
    }
}

/// What setup did.
#[derive(Debug, Clone, Serialize)]
pub struct SetupDone {
    pub config_written: bool,
    pub stanza_created: bool,
    /// `pgbackrest check` passed (only run when the server has the settings).
    pub checked: bool,
}

pub async fn plan_setup(settings: &Settings, pgb: &PgBackRest) -> anyhow::Result<SetupPlan> {
    let text = pgb.config_text();
    let config_action = match std::fs::read_to_string(&pgb.settings.config_file) {
        Ok(existing) if existing == text => "unchanged",
        Ok(_) => "update",
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => "create",
        Err(e) => {
            return Err(anyhow::Error::new(e).context(format!(
                "cannot read {}",
                pgb.settings.config_file.display()
            )));
        }
    };
    let Some(pg) = &settings.postgres else {
        return Err(Detailed::new(
            "`backup physical setup` checks the server: no PostgreSQL URL is configured",
        )
        .hint("set DATABASE_URL, --database-url or [postgres] url")
        .into());
    };
    let client = pg
        .target
        .connect(&format!("migrate {} backup", crate::TOOL_VERSION))
        .await?;
    let rows = client
        .query(
            "SELECT name, setting FROM pg_settings \
             WHERE name IN ('archive_mode', 'archive_command', 'wal_level', 'data_directory')",
            &[],
        )
        .await
        .context("cannot read the server's settings")?;
    let current = |name: &str| -> Option<String> {
        rows.iter()
            .find(|r| r.get::<_, String>(0) == name)
            .and_then(|r| r.get::<_, Option<String>>(1))
    };
    if let Some(data_directory) = current("data_directory") {
        let configured = std::fs::canonicalize(&pgb.settings.data_dir)
            .unwrap_or_else(|_| pgb.settings.data_dir.clone());
        let live = std::fs::canonicalize(&data_directory)
            .unwrap_or_else(|_| PathBuf::from(&data_directory));
        if configured != live {
            return Err(Detailed::new(format!(
                "[backup.physical] data_dir is {}, but the server at {} runs on {data_directory}",
                pgb.settings.data_dir.display(),
                pg.target
            ))
            .hint(format!("set data_dir = \"{data_directory}\""))
            .into());
        }
    }
    let archive_command = pgb.archive_command();
    let mut server_settings = Vec::new();
    for (name, required, accepted) in [
        ("wal_level", "replica", &["replica", "logical"][..]),
        ("archive_mode", "on", &["on", "always"][..]),
    ] {
        let value = current(name);
        server_settings.push(ServerSetting {
            name,
            required: required.to_string(),
            ok: value.as_deref().is_some_and(|v| accepted.contains(&v)),
            current: value,
        });
    }
    let value = current("archive_command");
    server_settings.push(ServerSetting {
        name: "archive_command",
        ok: value.as_deref().map(str::trim) == Some(archive_command.as_str()),
        required: archive_command,
        current: value,
    });
    Ok(SetupPlan {
        stanza: pgb.settings.stanza.clone(),
        repo_path: pgb.repo_display(),
        config_file: pgb.settings.config_file.display().to_string(),
        config_action,
        run_as: pgb.run_as.as_ref().map(|u| u.name.clone()),
        server_settings,
        config_text: text,
    })
}

/// Writes the config (when it changed), creates the repository, runs `stanza-create` (a no-op
/// for an existing, matching stanza) and, when the server archives, `check`.
pub async fn setup(
    pgb: &PgBackRest,
    plan: &SetupPlan,
    printer: &Printer,
) -> anyhow::Result<SetupDone> {
    let user = pgb.run_as.as_ref();
    let repo = &pgb.settings.repo_path;
    ensure_dir_for(repo, user, 0o750)?;
    ensure_dir_for(&repo.join("lock"), user, 0o750)?;
    ensure_dir_for(&repo.join("log"), user, 0o750)?;
    let config_file = &pgb.settings.config_file;
    let config_written = plan.config_action != "unchanged";
    if config_written {
        if let Some(parent) = config_file.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        let tmp = config_file.with_extension("conf.tmp");
        std::fs::write(&tmp, &plan.config_text)
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o640))
            .with_context(|| format!("cannot chmod {}", tmp.display()))?;
        chown(&tmp, user)?;
        std::fs::rename(&tmp, config_file)
            .with_context(|| format!("cannot write {}", config_file.display()))?;
    }
    let timed = printer.timed(format!("pgbackrest stanza-create (stanza {})", plan.stanza));
    pgb.run(&["stanza-create".into()]).await?;
    timed.done(None);
    let checked = if plan.server_ready() {
        let timed = printer.timed("pgbackrest check (a WAL switch, archived)");
        pgb.run(&["check".into()]).await?;
        timed.done(None);
        true
    } else {
        false
    };
    Ok(SetupDone {
        config_written,
        stanza_created: true,
        checked,
    })
}

// ---------------------------------------------------------------------------------------------
// create

/// `full`, `diff` or `incr`, as pgBackRest names them.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum BackupType {
    Full,
    Diff,
    Incr,
}

impl BackupType {
    pub fn name(self) -> &'static str {
        match self {
            BackupType::Full => "full",
            BackupType::Diff => "diff",
            BackupType::Incr => "incr",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct PhysicalCreatePlan {
    pub stanza: String,
    pub repo_path: String,
    #[serde(rename = "type")]
    pub kind: BackupType,
    pub command: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PhysicalCreated {
    pub backup: PhysicalBackup,
    pub duration_ms: u64,
}

pub fn plan_create(pgb: &PgBackRest, kind: BackupType) -> anyhow::Result<PhysicalCreatePlan> {
    pgb.require_config()?;
    let type_arg = format!("--type={}", kind.name());
    Ok(PhysicalCreatePlan {
        stanza: pgb.settings.stanza.clone(),
        repo_path: pgb.repo_display(),
        kind,
        command: pgb.command_line(&["backup", &type_arg, &pgb.process_max()]),
    })
}

pub async fn create(
    pgb: &PgBackRest,
    plan: &PhysicalCreatePlan,
) -> anyhow::Result<PhysicalCreated> {
    let started = Instant::now();
    let before: Vec<String> = pgb
        .info()
        .await?
        .backups
        .into_iter()
        .map(|b| b.label)
        .collect();
    pgb.run(&[
        "backup".into(),
        format!("--type={}", plan.kind.name()),
        pgb.process_max(),
    ])
    .await?;
    let duration_ms = millis(started);
    let backup = pgb
        .info()
        .await?
        .backups
        .into_iter()
        .filter(|b| !before.contains(&b.label))
        .max_by_key(|b| b.stopped_at)
        .ok_or_else(|| anyhow::anyhow!("pgbackrest backup succeeded but lists no new backup"))?;
    Ok(PhysicalCreated {
        backup,
        duration_ms,
    })
}

// ---------------------------------------------------------------------------------------------
// list

#[derive(Debug, Clone, Serialize)]
pub struct PhysicalListing {
    pub stanza: String,
    pub repo_path: String,
    /// Newest first.
    pub backups: Vec<PhysicalBackup>,
    /// `None` without backups.
    pub window: Option<Window>,
    pub wal_min: Option<String>,
    pub wal_max: Option<String>,
}

/// The server's archiver state, when the server is configured and answers (else `None`).
pub async fn archiver(settings: &Settings) -> Option<Archiver> {
    let pg = settings.postgres.as_ref()?;
    let client = pg
        .target
        .connect(&format!("migrate {} backup", crate::TOOL_VERSION))
        .await
        .ok()?;
    let row = client
        .query_one(
            "SELECT last_archived_wal, last_archived_time FROM pg_stat_archiver",
            &[],
        )
        .await
        .ok()?;
    Some(Archiver {
        last_archived_wal: row.get(0),
        last_archived_time: row.get(1),
    })
}

/// Before a restore to `to_time`: when the configured server answers and has not yet archived
/// the WAL that reaches `to_time` (a moment in the past whose segment is still being written),
/// switches to a new WAL segment and waits up to `wait` for the archiver to push the old one, so
/// the restored server can replay up to the target. `Ok(false)`: the server could not be asked
/// or did not archive in time (the restore then says what may be missing).
pub async fn archive_through(
    settings: &Settings,
    to_time: DateTime<Utc>,
    wait: std::time::Duration,
) -> bool {
    let Some(pg) = settings.postgres.as_ref() else {
        return false;
    };
    let Ok(client) = pg
        .target
        .connect(&format!("migrate {} backup", crate::TOOL_VERSION))
        .await
    else {
        return false;
    };
    let archived_past = |row: &tokio_postgres::Row| {
        row.get::<_, Option<DateTime<Utc>>>(0)
            .is_some_and(|at| at > to_time)
    };
    let Ok(row) = client
        .query_one("SELECT last_archived_time FROM pg_stat_archiver", &[])
        .await
    else {
        return false;
    };
    if archived_past(&row) {
        return true;
    }
    let Ok(switched) = client
        .query_one("SELECT pg_walfile_name(pg_switch_wal())", &[])
        .await
    else {
        return false;
    };
    let segment: String = switched.get(0);
    let deadline = std::time::Instant::now() + wait;
    while std::time::Instant::now() < deadline {
        let Ok(row) = client
            .query_one("SELECT last_archived_wal FROM pg_stat_archiver", &[])
            .await
        else {
            return false;
        };
        // Segment names of one timeline order as text.
        if row
            .get::<_, Option<String>>(0)
            .is_some_and(|last| last.get(8..) >= segment.get(8..))
        {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    false
}

pub async fn list(settings: &Settings, pgb: &PgBackRest) -> anyhow::Result<PhysicalListing> {
    let info = pgb.info().await?;
    let archiver = archiver(settings).await;
    let window = info::window(&info, archiver.as_ref());
    let mut backups = info.backups;
    backups.sort_by_key(|b| std::cmp::Reverse(b.stopped_at));
    Ok(PhysicalListing {
        stanza: info.stanza,
        repo_path: pgb.repo_display(),
        backups,
        window,
        wal_min: info.wal_min,
        wal_max: info.wal_max,
    })
}

// ---------------------------------------------------------------------------------------------
// restore

/// `2026-12-04 05:27:26.508042+00`, `2026-12-04T05:27:26Z`, `…+02:00`: a moment with its zone.
pub fn parse_target_time(text: &str) -> Result<DateTime<Utc>, String> {
    let mut s = text.trim().replacen(' ', "T", 1);
    if s.ends_with(" UTC") || s.ends_with("TUTC") {
        s.truncate(s.len() - 4);
        s.push('Z');
    }
    // PostgreSQL prints `+00` / `+05:30`; RFC 3339 wants `+00:00`.
    if let Some(pos) = s.rfind(['+', '-']).filter(|p| *p > 10) {
        let zone = &s[pos + 1..];
        if zone.len() == 2 && zone.chars().all(|c| c.is_ascii_digit()) {
            s.push_str(":00");
        } else if zone.len() == 4 && zone.chars().all(|c| c.is_ascii_digit()) {
            s.insert(pos + 3, ':');
        }
    }
    DateTime::parse_from_rfc3339(&s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            format!(
                "`{text}` is not a time with a zone: write e.g. `2026-12-04 05:27:26+00` or `2026-12-04T05:27:26Z`"
            )
        })
}

/// The time as pgBackRest and PostgreSQL read it (`recovery_target_time`).
fn target_text(at: &DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S%.6f+00").to_string()
}

#[derive(Debug, Clone, Serialize)]
pub struct PhysicalRestorePlan {
    pub stanza: String,
    pub to_time: DateTime<Utc>,
    /// The new data directory.
    pub data_dir: String,
    /// The backup pgBackRest starts from: the newest that stopped before `to_time`.
    pub backup: String,
    pub window: Window,
    pub command: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PhysicalRestored {
    pub duration_ms: u64,
    /// How to start the restored server (it recovers to `to_time`, then promotes).
    pub start_command: String,
    pub port: u16,
}

/// Checks the directory (absent or empty) and the time (inside the recoverable window).
pub async fn plan_restore(
    settings: &Settings,
    pgb: &PgBackRest,
    to_time: DateTime<Utc>,
    data_dir: &Path,
) -> anyhow::Result<PhysicalRestorePlan> {
    let data_dir = std::path::absolute(data_dir)
        .with_context(|| format!("cannot resolve {}", data_dir.display()))?;
    match std::fs::read_dir(&data_dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(Detailed::new(format!(
                    "{} is not empty: a point-in-time restore goes into a new, empty directory",
                    data_dir.display()
                ))
                .hint("name a directory that does not exist yet (it is created); never a running server's")
                .into());
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(
                anyhow::Error::new(e).context(format!("cannot read {}", data_dir.display()))
            );
        }
    }
    let info = pgb.info().await?;
    let archiver = archiver(settings).await;
    let Some(window) = info::window(&info, archiver.as_ref()) else {
        return Err(Detailed::new(format!(
            "stanza `{}` has no backups: nothing to restore from",
            pgb.settings.stanza
        ))
        .hint("take one: `migrate backup create --physical`")
        .into());
    };
    if to_time < window.earliest {
        return Err(Detailed::new(format!(
            "{} is before the recoverable window (earliest: {}, the oldest backup's end)",
            to_time.to_rfc3339(),
            window.earliest.to_rfc3339()
        ))
        .into());
    }
    if to_time > Utc::now() {
        return Err(Detailed::new(format!("{} is in the future", to_time.to_rfc3339())).into());
    }
    let backup = info
        .backups
        .iter()
        .filter(|b| b.stopped_at + chrono::Duration::seconds(1) <= to_time)
        .max_by_key(|b| b.stopped_at)
        .map(|b| b.label.clone())
        .unwrap_or_default();
    let target = format!("--target={}", target_text(&to_time));
    let pg1_path = format!("--pg1-path={}", data_dir.display());
    Ok(PhysicalRestorePlan {
        stanza: pgb.settings.stanza.clone(),
        to_time,
        data_dir: data_dir.display().to_string(),
        backup,
        window,
        command: pgb.command_line(&[
            "restore",
            "--type=time",
            &target,
            "--target-action=promote",
            "--archive-mode=off",
            "--recovery-option=hot_standby=off",
            &pg1_path,
        ]),
    })
}

pub async fn restore(
    settings: &Settings,
    pgb: &PgBackRest,
    plan: &PhysicalRestorePlan,
) -> anyhow::Result<PhysicalRestored> {
    let started = Instant::now();
    let data_dir = PathBuf::from(&plan.data_dir);
    ensure_dir_for(&data_dir, pgb.run_as.as_ref(), 0o700)?;
    pgb.run(&[
        "restore".into(),
        "--type=time".into(),
        format!("--target={}", target_text(&plan.to_time)),
        "--target-action=promote".into(),
        "--archive-mode=off".into(),
        // A hot standby must have max_connections & co. at least as high as the server it
        // came from (which may be gone); without it, recovery needs no such settings.
        "--recovery-option=hot_standby=off".into(),
        format!("--pg1-path={}", data_dir.display()),
        pgb.process_max(),
    ])
    .await?;
    scratch::ensure_config_file(&data_dir, pgb.run_as.as_ref())?;
    let port = crate::sandbox::free_port().unwrap_or(pgb.settings.port.wrapping_add(1));
    let pg_ctl = scratch::pg_bin_dir(settings)
        .map(|d| d.join("pg_ctl").display().to_string())
        .unwrap_or_else(|_| "pg_ctl".to_string());
    let as_user = pgb
        .run_as
        .as_ref()
        .map(|u| format!("runuser -u {} -- ", u.name))
        .unwrap_or_default();
    Ok(PhysicalRestored {
        duration_ms: millis(started),
        start_command: format!(
            "{as_user}{pg_ctl} -D {dir} -l {dir}/recovery.log -o '-p {port}' start",
            dir = data_dir.display()
        ),
        port,
    })
}

// ---------------------------------------------------------------------------------------------
// verify

#[derive(Debug, Clone, Serialize)]
pub struct PhysicalVerified {
    pub stanza: String,
    pub ok: bool,
    /// Problems pgBackRest's verify reported, each naming its file where it can.
    pub problems: Vec<Finding>,
    pub backups: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restore: Option<scratch::RestoreCheck>,
    pub duration_ms: u64,
}

pub async fn verify(
    settings: &Settings,
    pgb: &PgBackRest,
    with_restore: bool,
    printer: &Printer,
) -> anyhow::Result<PhysicalVerified> {
    let started = Instant::now();
    let info = pgb.info().await?;
    let timed = printer.timed("pgbackrest verify");
    let args = [
        "verify".to_string(),
        "--log-level-console=info".to_string(),
        "--output=text".to_string(),
        pgb.process_max(),
    ];
    let problems = match pgb.run(&args).await {
        Ok(out) => verify::findings(
            &format!("{}\n{}", out.stdout, out.stderr),
            &pgb.repo_display(),
            &pgb.settings.stanza,
        ),
        Err(error) => {
            // pgBackRest 2.45 aborts on a compressed file it cannot decompress (without naming
            // it): test every compressed file of the repository to name the damaged ones.
            let damaged =
                scratch::damaged_gzip_files(&pgb.settings.repo_path, &pgb.settings.stanza).await;
            if damaged.is_empty() {
                return Err(error);
            }
            let mut problems = vec![Finding {
                problem: format!("pgbackrest verify aborted: {error}"),
                file: None,
            }];
            problems.extend(damaged.into_iter().map(|file| Finding {
                problem: "cannot be decompressed".into(),
                file: Some(file),
            }));
            problems
        }
    };
    timed.done(None);
    let restore = if with_restore && problems.is_empty() {
        Some(scratch::restore_check(settings, pgb, printer).await?)
    } else {
        None
    };
    let ok = problems.is_empty() && restore.as_ref().is_none_or(|r| r.problems.is_empty());
    Ok(PhysicalVerified {
        stanza: pgb.settings.stanza.clone(),
        ok,
        problems,
        backups: info.backups.len(),
        restore,
        duration_ms: millis(started),
    })
}

// ---------------------------------------------------------------------------------------------
// prune

#[derive(Debug, Clone, Serialize)]
pub struct PhysicalPrunePlan {
    pub stanza: String,
    pub keep_full: Option<u32>,
    pub wal_days: Option<u32>,
    /// Full backups kept: the union of both rules.
    pub fulls_kept: usize,
    /// Labels `expire` removes (with the WAL only they needed).
    pub expire: Vec<String>,
    pub keep: Vec<String>,
    pub command: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PhysicalPruned {
    pub expired: Vec<String>,
    pub duration_ms: u64,
}

pub async fn plan_prune(pgb: &PgBackRest) -> anyhow::Result<PhysicalPrunePlan> {
    let s = &pgb.settings;
    if s.keep_full.is_none() && s.wal_days.is_none() {
        return Err(Detailed::new(
            "[backup.physical] sets no retention: nothing tells prune what to keep",
        )
        .hint("set keep_full (full backups kept) and/or wal_days (days of point-in-time recovery)")
        .into());
    }
    let info = pgb.info().await?;
    let fulls_kept = info::fulls_to_keep(&info, s.keep_full, s.wal_days, Utc::now());
    let expire = info::expired_by(&info, fulls_kept);
    let keep = info
        .backups
        .iter()
        .filter(|b| !expire.contains(&b.label))
        .map(|b| b.label.clone())
        .collect();
    let retention = format!("--repo1-retention-full={fulls_kept}");
    Ok(PhysicalPrunePlan {
        stanza: s.stanza.clone(),
        keep_full: s.keep_full,
        wal_days: s.wal_days,
        fulls_kept,
        expire,
        keep,
        command: pgb.command_line(&["expire", &retention]),
    })
}

pub async fn prune(pgb: &PgBackRest, plan: &PhysicalPrunePlan) -> anyhow::Result<PhysicalPruned> {
    let started = Instant::now();
    pgb.run(&[
        "expire".into(),
        format!("--repo1-retention-full={}", plan.fulls_kept),
    ])
    .await?;
    let remaining: Vec<String> = pgb
        .info()
        .await?
        .backups
        .into_iter()
        .map(|b| b.label)
        .collect();
    Ok(PhysicalPruned {
        expired: plan
            .expire
            .iter()
            .filter(|label| !remaining.contains(label))
            .cloned()
            .collect(),
        duration_ms: millis(started),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_times_need_a_zone() {
        let expected = DateTime::parse_from_rfc3339("2026-12-04T05:27:26.508042Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            parse_target_time("2026-12-04 05:27:26.508042+00").unwrap(),
            expected
        );
        assert_eq!(
            parse_target_time("2026-12-04T05:27:26.508042Z").unwrap(),
            expected
        );
        assert_eq!(
            parse_target_time("2026-12-04 07:27:26.508042+02:00").unwrap(),
            expected
        );
        assert_eq!(
            parse_target_time("2026-12-04 05:27:26.508042 UTC").unwrap(),
            expected
        );
        assert!(parse_target_time("2026-12-04 05:27:26").is_err());
        assert!(parse_target_time("yesterday").is_err());
        assert_eq!(target_text(&expected), "2026-12-04 05:27:26.508042+00");
    }
}
