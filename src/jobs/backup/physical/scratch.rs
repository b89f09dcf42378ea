//! Test restores for `backup verify --physical --restore`: restore the stanza into a scratch
//! data directory, start a scratch server on a free port (Unix socket only, trust for local
//! connections through its own `hba_file`), check that it answers and holds the tables the
//! live database has, stop it and remove the directory.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde::Serialize;

use super::{OsUser, PgBackRest, chown, ensure_dir_for, millis};
use crate::config::Settings;
use crate::errors::Detailed;
use crate::output::Printer;

/// How long the scratch server may take to replay WAL and promote.
const RECOVERY_TIMEOUT: Duration = Duration::from_secs(600);

#[derive(Debug, Clone, Serialize)]
pub struct RestoreCheck {
    pub scratch_dir: String,
    pub port: u16,
    /// The database the tables were compared in.
    pub database: String,
    pub tables_expected: usize,
    pub tables_found: usize,
    /// Tables the live database has and the restored copy lacks, and other failures.
    pub problems: Vec<String>,
    pub duration_ms: u64,
}

/// `[backup] pg_bin_dir`, else the directory the sandbox finds `pg_ctl` in.
pub fn pg_bin_dir(settings: &Settings) -> anyhow::Result<PathBuf> {
    match &settings.backup.pg_bin_dir {
        Some(dir) if dir.join("pg_ctl").is_file() => Ok(dir.clone()),
        _ => crate::sandbox::find_pg_bindir(),
    }
}

/// A data directory restored from a server whose `postgresql.conf` lives elsewhere (Debian's
/// `/etc/postgresql/…`) has none; PostgreSQL will not start without one.
pub fn ensure_config_file(data_dir: &Path, user: Option<&OsUser>) -> anyhow::Result<bool> {
    let conf = data_dir.join("postgresql.conf");
    if conf.exists() {
        return Ok(false);
    }
    std::fs::write(
        &conf,
        "# Created by migrate: the restored server's postgresql.conf was not in its data directory.\n",
    )
    .with_context(|| format!("cannot write {}", conf.display()))?;
    chown(&conf, user)?;
    Ok(true)
}

/// The compressed files of the stanza's repository that `gzip -t` rejects (absolute paths).
pub async fn damaged_gzip_files(repo: &Path, stanza: &str) -> Vec<String> {
    let mut files = Vec::new();
    for kind in ["archive", "backup"] {
        collect_gz(&repo.join(kind).join(stanza), &mut files);
    }
    let mut damaged = Vec::new();
    for file in files {
        let ok = tokio::process::Command::new("gzip")
            .arg("-t")
            .arg(&file)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await
            .map(|s| s.success())
            .unwrap_or(true);
        if !ok {
            damaged.push(file.display().to_string());
        }
    }
    damaged
}

fn collect_gz(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_gz(&path, out);
        } else if path.extension().is_some_and(|e| e == "gz") {
            out.push(path);
        }
    }
}

/// The user tables of a database, `schema.table`, sorted.
const TABLES_SQL: &str = "SELECT n.nspname || '.' || c.relname FROM pg_class c \
     JOIN pg_namespace n ON n.oid = c.relnamespace \
     WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
       AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%' \
     ORDER BY 1";

/// Restores the stanza's latest state into a scratch directory and checks a server started on it.
pub async fn restore_check(
    settings: &Settings,
    pgb: &PgBackRest,
    printer: &Printer,
) -> anyhow::Result<RestoreCheck> {
    let started = Instant::now();
    let Some(pg) = &settings.postgres else {
        return Err(Detailed::new(
            "`verify --physical --restore` compares with the live database: no PostgreSQL URL is configured",
        )
        .into());
    };
    let database = pg.target.database().to_string();
    let user = pg.target.user().to_string();
    // The tables the restore must hold, read before `check` archives the current WAL.
    let live = pg
        .target
        .connect(&format!("migrate {} backup", crate::TOOL_VERSION))
        .await?;
    let expected: Vec<String> = live
        .query(TABLES_SQL, &[])
        .await
        .context("cannot list the live database's tables")?
        .iter()
        .map(|r| r.get(0))
        .collect();
    drop(live);
    let timed = printer.timed("pgbackrest check (archives the current WAL)");
    pgb.run(&["check".into()]).await?;
    timed.done(None);

    let bindir = pg_bin_dir(settings)?;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let scratch =
        std::env::temp_dir().join(format!("migrate-pitr-{}-{nanos:x}", std::process::id()));
    let data = scratch.join("data");
    let run_as = pgb.run_as.as_ref();
    ensure_dir_for(&scratch, run_as, 0o700)?;
    ensure_dir_for(&data, run_as, 0o700)?;
    let result = async {
        let timed = printer.timed(format!("pgbackrest restore into {}", data.display()));
        pgb.run(&[
            "restore".into(),
            "--archive-mode=off".into(),
            "--recovery-option=hot_standby=off".into(),
            format!("--pg1-path={}", data.display()),
            pgb.process_max(),
        ])
        .await?;
        timed.done(None);
        ensure_config_file(&data, run_as)?;
        let hba = scratch.join("hba.conf");
        std::fs::write(&hba, "local all all trust\n")
            .with_context(|| format!("cannot write {}", hba.display()))?;
        chown(&hba, run_as)?;
        let port = crate::sandbox::free_port().context("cannot find a free port")?;
        let server = ScratchServer {
            bindir: bindir.clone(),
            data: data.clone(),
            socket_dir: scratch.clone(),
            port,
            run_as: run_as.cloned(),
        };
        let timed = printer.timed(format!("scratch server on port {port}: recovery"));
        server.start(&hba)?;
        let checked = server.check(&user, &database, &expected).await;
        server.stop();
        timed.done(None);
        let (found, problems) = checked?;
        Ok::<_, anyhow::Error>(RestoreCheck {
            scratch_dir: data.display().to_string(),
            port,
            database: database.clone(),
            tables_expected: expected.len(),
            tables_found: found,
            problems,
            duration_ms: millis(started),
        })
    }
    .await;
    let _ = std::fs::remove_dir_all(&scratch);
    result
}

struct ScratchServer {
    bindir: PathBuf,
    data: PathBuf,
    socket_dir: PathBuf,
    port: u16,
    run_as: Option<OsUser>,
}

impl ScratchServer {
    fn pg_ctl(&self, args: &[String]) -> Command {
        let pg_ctl = self.bindir.join("pg_ctl");
        let mut command = match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", &user.name, "--"]).arg(pg_ctl);
                c
            }
            None => Command::new(pg_ctl),
        };
        command
            .args(args)
            .stdin(Stdio::null())
            .current_dir(&self.socket_dir);
        command
    }

    fn start(&self, hba: &Path) -> anyhow::Result<()> {
        let log = self.socket_dir.join("server.log");
        let options = format!(
            "-p {} -c listen_addresses='' -c unix_socket_directories='{}' -c hba_file='{}' \
             -c archive_mode=off",
            self.port,
            self.socket_dir.display(),
            hba.display()
        );
        let out = self
            .pg_ctl(&[
                "start".into(),
                "-w".into(),
                "-t".into(),
                RECOVERY_TIMEOUT.as_secs().to_string(),
                "-D".into(),
                self.data.display().to_string(),
                "-l".into(),
                log.display().to_string(),
                "-o".into(),
                options,
            ])
            .output()
            .context("cannot run pg_ctl")?;
        if !out.status.success() {
            let tail = std::fs::read_to_string(&log).unwrap_or_default();
            let tail: Vec<&str> = tail.lines().rev().take(8).collect();
            let mut error = Detailed::new(format!(
                "the scratch server on the restored data directory did not start: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
            for line in tail.into_iter().rev() {
                error = error.context(line.to_string());
            }
            return Err(error.into());
        }
        Ok(())
    }

    /// Waits for recovery to end, then lists the tables: (found, problems).
    async fn check(
        &self,
        user: &str,
        database: &str,
        expected: &[String],
    ) -> anyhow::Result<(usize, Vec<String>)> {
        let mut config = tokio_postgres::Config::new();
        config
            .host_path(&self.socket_dir)
            .port(self.port)
            .user(user)
            .dbname(database)
            .connect_timeout(Duration::from_secs(5));
        let deadline = Instant::now() + RECOVERY_TIMEOUT;
        let client = loop {
            match config.connect(tokio_postgres::NoTls).await {
                Ok((client, connection)) => {
                    tokio::spawn(connection);
                    let recovering: bool = client
                        .query_one("SELECT pg_is_in_recovery()", &[])
                        .await
                        .map(|r| r.get(0))
                        .unwrap_or(true);
                    if !recovering {
                        break client;
                    }
                }
                Err(e) if Instant::now() >= deadline => {
                    return Ok((0, vec![format!("the scratch server does not answer: {e}")]));
                }
                Err(_) => {}
            }
            if Instant::now() >= deadline {
                return Ok((0, vec!["the scratch server did not finish recovery".into()]));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        let found: Vec<String> = client
            .query(TABLES_SQL, &[])
            .await
            .context("cannot list the restored database's tables")?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let problems = expected
            .iter()
            .filter(|t| !found.contains(t))
            .map(|t| format!("table {t} is missing from the restored database {database}"))
            .collect();
        Ok((found.len(), problems))
    }

    fn stop(&self) {
        let _ = self
            .pg_ctl(&[
                "stop".into(),
                "-w".into(),
                "-m".into(),
                "fast".into(),
                "-D".into(),
                self.data.display().to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}
