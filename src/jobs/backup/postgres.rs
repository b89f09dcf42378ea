//! PostgreSQL backups with the machine's `pg_dump`/`pg_restore` (directory format, parallel
//! jobs). The dump runs in a snapshot this module exports, so the row counts and applied
//! migrations recorded in the manifest describe exactly what the archive holds.
//!
//! The password reaches the tools through `PGPASSWORD` only: the connection string they get
//! (on their command line, visible in `ps`) never carries it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::Context as _;
use indicatif::ProgressBar;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio_postgres::Client;
use tokio_postgres::error::SqlState;

use super::manifest::PostgresPart;
use crate::config::PgSettings;
use crate::errors::{DbError, Detailed, Work};
use crate::postgres::connect::{PgTarget, SslMode};
use crate::postgres::history::{HistoryTable, RowKind, RowState};

/// Name of the archive directory inside a backup.
pub const ARCHIVE_DIR: &str = "postgres";

/// User tables whose data `pg_dump` writes: ordinary tables (partitions included, partitioned
/// parents excluded since their rows live in the partitions), not temporary, not owned by an
/// extension.
const TABLES_SQL: &str = r"
SELECT format('%I.%I', n.nspname, c.relname)
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r'
  AND c.relpersistence <> 't'
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\_toast%'
  AND n.nspname NOT LIKE 'pg\_temp%'
  AND NOT EXISTS (
      SELECT 1 FROM pg_depend d
      WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY 1";

/// Relations that make a database "not empty" for a restore.
const USER_RELATIONS_SQL: &str = r"
SELECT count(*)
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\_toast%'
  AND n.nspname NOT LIKE 'pg\_temp%'
  AND NOT EXISTS (
      SELECT 1 FROM pg_depend d
      WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')";

// ---------------------------------------------------------------------------------------------
// Tools and versions

/// `pg_dump` and `pg_restore`, from `[backup] pg_bin_dir` or PATH.
#[derive(Debug, Clone)]
pub struct Tools {
    pub pg_dump: PathBuf,
    pub pg_restore: PathBuf,
}

impl Tools {
    pub fn locate(bin_dir: Option<&Path>) -> Tools {
        let path = |name: &str| match bin_dir {
            Some(dir) => dir.join(name),
            None => PathBuf::from(name),
        };
        Tools {
            pg_dump: path("pg_dump"),
            pg_restore: path("pg_restore"),
        }
    }
}

/// A PostgreSQL major version: `(15, 0)` for 15.x, `(9, 6)` for 9.6.x.
pub type Major = (u32, u32);

/// The version a tool prints for `--version` (`pg_dump (PostgreSQL) 15.20 (Debian ...)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolVersion {
    pub major: Major,
    pub text: String,
}

pub fn parse_tool_version(output: &str) -> Option<ToolVersion> {
    let line = output.lines().next()?;
    let number = line
        .split_whitespace()
        .find(|word| word.starts_with(|c: char| c.is_ascii_digit()))?;
    let mut parts = number
        .split(|c: char| !c.is_ascii_digit())
        .filter(|p| !p.is_empty())
        .map(|p| p.parse::<u32>());
    let first = parts.next()?.ok()?;
    let major = if first >= 10 {
        (first, 0)
    } else {
        (first, parts.next().and_then(Result::ok).unwrap_or(0))
    };
    Some(ToolVersion {
        major,
        text: number.to_string(),
    })
}

/// The major version of `server_version_num` (150020 -> (15, 0); 90624 -> (9, 6)).
pub fn server_major(version_num: u32) -> Major {
    if version_num >= 100_000 {
        (version_num / 10_000, 0)
    } else {
        (version_num / 10_000, (version_num / 100) % 100)
    }
}

fn show_major(major: Major) -> String {
    if major.0 >= 10 {
        major.0.to_string()
    } else {
        format!("{}.{}", major.0, major.1)
    }
}

/// Runs `PROGRAM --version`.
pub async fn tool_version(program: &Path) -> anyhow::Result<ToolVersion> {
    let name = program.file_name().map_or_else(
        || program.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let output = tokio::process::Command::new(program)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|err| {
            Detailed::new(format!("cannot run {}: {err}", program.display()))
                .hint(format!(
                    "install the PostgreSQL client tools (e.g. `apt-get install postgresql-client`) or set [backup] pg_bin_dir to the directory holding {name}"
                ))
        })?;
    let text = String::from_utf8_lossy(&output.stdout);
    parse_tool_version(&text).ok_or_else(|| {
        anyhow::anyhow!(
            "cannot tell the version of {} from `{}`",
            program.display(),
            text.trim()
        )
    })
}

/// `pg_dump` refuses servers newer than itself; say so before it starts, with the fix.
pub fn ensure_tool_fits_server(
    program: &Path,
    tool: &ToolVersion,
    server: Major,
    server_text: &str,
) -> anyhow::Result<()> {
    if tool.major >= server {
        return Ok(());
    }
    Err(Detailed::new(format!(
        "{} is version {} but the server runs PostgreSQL {server_text}: a {} older than the server cannot work with it",
        program.display(),
        tool.text,
        program.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned())
    ))
    .hint(format!(
        "install the PostgreSQL {} client tools and set [backup] pg_bin_dir (e.g. /usr/lib/postgresql/{}/bin)",
        show_major(server),
        show_major(server)
    ))
    .into())
}

// ---------------------------------------------------------------------------------------------
// Connection strings for the tools

/// What `pg_dump`/`pg_restore` get: a key=value string without the password, and the
/// password for `PGPASSWORD`.
pub struct ToolConnection {
    pub conninfo: String,
    password: Option<String>,
}

impl ToolConnection {
    pub fn new(target: &PgTarget, application_name: &str) -> ToolConnection {
        use tokio_postgres::config::Host;
        let config = target.driver_config();
        let mut pairs: Vec<(&str, String)> = Vec::new();
        match config.get_hosts().first() {
            Some(Host::Tcp(host)) => pairs.push(("host", host.clone())),
            Some(Host::Unix(path)) => pairs.push(("host", path.display().to_string())),
            None => {}
        }
        if let Some(port) = config.get_ports().first() {
            pairs.push(("port", port.to_string()));
        }
        pairs.push(("user", target.user().to_string()));
        pairs.push(("dbname", target.database().to_string()));
        pairs.push((
            "sslmode",
            match target.ssl_mode() {
                SslMode::Disable => "disable",
                SslMode::Prefer => "prefer",
                SslMode::Require => "require",
                SslMode::VerifyCa => "verify-ca",
                SslMode::VerifyFull => "verify-full",
            }
            .to_string(),
        ));
        if let Some(timeout) = config.get_connect_timeout() {
            pairs.push(("connect_timeout", timeout.as_secs().max(1).to_string()));
        }
        if let Some(options) = config.get_options() {
            pairs.push(("options", options.to_string()));
        }
        pairs.push(("application_name", application_name.to_string()));
        let conninfo = pairs
            .iter()
            .map(|(key, value)| format!("{key}={}", quote_value(value)))
            .collect::<Vec<_>>()
            .join(" ");
        ToolConnection {
            conninfo,
            password: config
                .get_password()
                .map(|p| String::from_utf8_lossy(p).into_owned()),
        }
    }

    /// A command for `program` with the password in its environment. The child dies with us
    /// (on Linux), so a killed backup leaves no `pg_dump` writing behind it.
    fn command(&self, program: &Path) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(program);
        if let Some(password) = &self.password {
            command.env("PGPASSWORD", password);
        }
        command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        #[cfg(target_os = "linux")]
        // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        command
    }
}

/// libpq quoting: values with spaces, quotes or backslashes go in single quotes.
fn quote_value(value: &str) -> String {
    if !value.is_empty()
        && !value
            .chars()
            .any(|c| c.is_whitespace() || c == '\'' || c == '\\')
    {
        return value.to_string();
    }
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// Runs a tool with `--verbose`, advancing `bar` on each line starting with `progress`
/// (after the tool's `name: ` prefix). Fails with the tool's own error lines.
async fn run_tool(
    mut command: tokio::process::Command,
    name: &str,
    progress: &str,
    bar: &ProgressBar,
) -> anyhow::Result<()> {
    let mut child = command
        .spawn()
        .with_context(|| format!("cannot start {name}"))?;
    let prefix = format!("{name}: ");
    let mut problems: Vec<String> = Vec::new();
    if let Some(stderr) = child.stderr.take() {
        let mut lines = BufReader::new(stderr).lines();
        while let Some(line) = lines.next_line().await? {
            let text = line.strip_prefix(&prefix).unwrap_or(&line);
            if let Some(rest) = text.strip_prefix(progress) {
                bar.inc(1);
                bar.set_message(rest.trim().trim_matches('"').to_string());
            } else if (!line.starts_with(&prefix)
                || ["error:", "warning:", "detail:", "hint:", "FATAL", "ERROR"]
                    .iter()
                    .any(|marker| text.starts_with(marker)))
                && problems.len() < 40
            {
                problems.push(crate::redact::redact_url(text));
            }
        }
    }
    let status = child.wait().await?;
    if status.success() {
        return Ok(());
    }
    let first = problems
        .iter()
        .position(|p| p.starts_with("error:"))
        .unwrap_or(0);
    let message = problems.get(first).map_or_else(
        || format!("{name} failed ({status})"),
        |line| {
            format!(
                "{name} failed: {}",
                line.trim_start_matches("error:").trim()
            )
        },
    );
    let mut error = Detailed::new(message);
    for line in problems.iter().skip(first + 1).take(8) {
        error = error.context(line.clone());
    }
    Err(error.into())
}

// ---------------------------------------------------------------------------------------------
// Dump

/// A read-only transaction whose snapshot `pg_dump` shares.
pub struct Snapshot {
    client: Client,
    id: String,
    pub server_version: String,
    pub server_major: Major,
    pub tables: Vec<String>,
}

/// Connects, checks that `pg_dump` can dump this server, and exports a snapshot.
pub async fn open_snapshot(
    settings: &PgSettings,
    tools: &Tools,
) -> anyhow::Result<(Snapshot, ToolVersion)> {
    let dump_version = tool_version(&tools.pg_dump).await?;
    let client = settings
        .target
        .connect(&format!("migrate {} backup", crate::TOOL_VERSION))
        .await?;
    let db_error = |context: &str, err: tokio_postgres::Error| {
        DbError::new(format!("{context} on {}", settings.target), err)
    };
    let row = client
        .query_one(
            "SELECT current_setting('server_version'), current_setting('server_version_num')::int",
            &[],
        )
        .await
        .map_err(|err| db_error("cannot read the server version", err))?;
    let server_version: String = row.get(0);
    let version_num: i32 = row.get(1);
    let major = server_major(u32::try_from(version_num).unwrap_or_default());
    ensure_tool_fits_server(&tools.pg_dump, &dump_version, major, &server_version)?;
    client
        .batch_execute(
            "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; SET LOCAL row_security = off",
        )
        .await
        .map_err(|err| db_error("cannot start the backup transaction", err))?;
    let id: String = client
        .query_one("SELECT pg_export_snapshot()", &[])
        .await
        .map_err(|err| db_error("cannot export a snapshot", err))?
        .get(0);
    let tables = client
        .query(TABLES_SQL, &[])
        .await
        .map_err(|err| db_error("cannot list tables", err))?
        .iter()
        .map(|row| row.get(0))
        .collect();
    Ok((
        Snapshot {
            client,
            id,
            server_version,
            server_major: major,
            tables,
        },
        dump_version,
    ))
}

pub struct DumpOptions<'a> {
    pub settings: &'a PgSettings,
    pub tools: &'a Tools,
    pub dump_version: ToolVersion,
    pub jobs: u32,
    /// The archive directory to create (`<backup>/postgres`).
    pub archive: PathBuf,
}

/// Runs `pg_dump -Fd -j N` in the snapshot while counting rows and reading the applied
/// migrations in the same snapshot.
pub async fn dump(
    snapshot: Snapshot,
    options: DumpOptions<'_>,
    bar: &ProgressBar,
) -> anyhow::Result<PostgresPart> {
    let connection = ToolConnection::new(
        &options.settings.target,
        &format!("migrate {} pg_dump", crate::TOOL_VERSION),
    );
    let mut command = connection.command(&options.tools.pg_dump);
    command
        .arg("--format=directory")
        .arg(format!("--jobs={}", options.jobs))
        .arg(format!("--snapshot={}", snapshot.id))
        .arg("--verbose")
        .arg("--no-password")
        .arg("--file")
        .arg(&options.archive)
        .arg("--dbname")
        .arg(&connection.conninfo);
    bar.set_length(snapshot.tables.len() as u64);
    let dumping = run_tool(command, "pg_dump", "dumping contents of table ", bar);
    let counting = async {
        let counts = count_rows(&snapshot.client, &snapshot.tables).await?;
        let history = HistoryTable::new(&options.settings.history_table)
            .read(&snapshot.client)
            .await
            .map_err(|err| DbError::new("cannot read the history table", err))?;
        let mut migrations: Vec<u64> = history
            .iter()
            .filter(|row| row.kind != RowKind::Repeatable && row.state == RowState::Applied)
            .filter_map(|row| row.version)
            .collect();
        migrations.sort_unstable();
        anyhow::Ok((counts, migrations))
    };
    let (dumped, counted) = tokio::join!(dumping, counting);
    dumped?;
    let (tables, migrations) = counted?;
    snapshot
        .client
        .batch_execute("COMMIT")
        .await
        .map_err(|err| DbError::new("cannot end the backup transaction", err))?;
    Ok(PostgresPart {
        source: options.settings.target.to_string(),
        server_version: snapshot.server_version,
        pg_dump_version: options.dump_version.text,
        jobs: options.jobs,
        archive: ARCHIVE_DIR.to_string(),
        tables,
        migrations,
    })
}

/// Exact row counts (`count(*)` of each table, partitions separately).
async fn count_rows(client: &Client, tables: &[String]) -> anyhow::Result<BTreeMap<String, u64>> {
    let mut counts = BTreeMap::new();
    for table in tables {
        // `table` comes from format('%I.%I'): quoted where needed.
        let row = client
            .query_one(&format!("SELECT count(*) FROM ONLY {table}"), &[])
            .await
            .map_err(|err| DbError::new(format!("cannot count the rows of {table}"), err))?;
        let count: i64 = row.get(0);
        counts.insert(table.clone(), u64::try_from(count).unwrap_or_default());
    }
    Ok(counts)
}

// ---------------------------------------------------------------------------------------------
// Restore

/// A restore target as found before the restore.
#[derive(Debug, Clone)]
pub struct TargetState {
    pub exists: bool,
    /// User relations in it (0: empty).
    pub relations: u64,
}

/// Whether the target database exists and holds anything.
pub async fn inspect_target(target: &PgTarget) -> anyhow::Result<TargetState> {
    let name = format!("migrate {} restore", crate::TOOL_VERSION);
    match target.connect(&name).await {
        Ok(client) => {
            let row = client
                .query_one(USER_RELATIONS_SQL, &[])
                .await
                .map_err(|err| DbError::new(format!("cannot inspect {target}"), err))?;
            let count: i64 = row.get(0);
            Ok(TargetState {
                exists: true,
                relations: u64::try_from(count).unwrap_or_default(),
            })
        }
        Err(err) if crate::errors::sqlstate(&err) == Some(SqlState::INVALID_CATALOG_NAME) => {
            Ok(TargetState {
                exists: false,
                relations: 0,
            })
        }
        Err(err) => Err(err),
    }
}

/// Creates the target database (from `template0`) through the server's `postgres` database.
pub async fn create_database(target: &PgTarget) -> anyhow::Result<()> {
    let admin = target
        .with_database("postgres")
        .connect(&format!("migrate {} restore", crate::TOOL_VERSION))
        .await?;
    let name = crate::postgres::quote::ident(target.database());
    admin
        .batch_execute(&format!("CREATE DATABASE {name} TEMPLATE template0"))
        .await
        .map_err(|err| {
            DbError::new(format!("cannot create database {}", target.database()), err)
                .during(Work::CreateDatabase {
                    role: target.user().to_string(),
                })
                .into()
        })
}

pub struct RestoreOptions<'a> {
    pub tools: &'a Tools,
    pub jobs: u32,
    pub archive: PathBuf,
    /// Drop the archive's objects before recreating them (`--clean --if-exists`).
    pub clean: bool,
}

/// Runs `pg_restore -j N --exit-on-error` into `target`, then `ANALYZE`s it.
pub async fn restore(
    target: &PgTarget,
    options: RestoreOptions<'_>,
    bar: &ProgressBar,
) -> anyhow::Result<()> {
    let version = tool_version(&options.tools.pg_restore).await?;
    let client = target
        .connect(&format!("migrate {} restore", crate::TOOL_VERSION))
        .await?;
    let row = client
        .query_one(
            "SELECT current_setting('server_version'), current_setting('server_version_num')::int",
            &[],
        )
        .await
        .map_err(|err| DbError::new(format!("cannot read the server version of {target}"), err))?;
    let server_text: String = row.get(0);
    let version_num: i32 = row.get(1);
    ensure_tool_fits_server(
        &options.tools.pg_restore,
        &version,
        server_major(u32::try_from(version_num).unwrap_or_default()),
        &server_text,
    )?;
    let connection = ToolConnection::new(
        target,
        &format!("migrate {} pg_restore", crate::TOOL_VERSION),
    );
    let mut command = connection.command(&options.tools.pg_restore);
    command
        .arg(format!("--jobs={}", options.jobs))
        .arg("--verbose")
        .arg("--exit-on-error")
        .arg("--no-password");
    if options.clean {
        command.arg("--clean").arg("--if-exists");
    }
    command
        .arg("--dbname")
        .arg(&connection.conninfo)
        .arg(&options.archive);
    run_tool(command, "pg_restore", "processing data for table ", bar).await?;
    bar.set_message("ANALYZE");
    client
        .batch_execute("ANALYZE")
        .await
        .map_err(|err| DbError::new(format!("cannot analyze {target}"), err))?;
    Ok(())
}

/// Row counts of every user table of `target`, as [`dump`] records them.
pub async fn table_counts(target: &PgTarget) -> anyhow::Result<BTreeMap<String, u64>> {
    let client = target
        .connect(&format!("migrate {} verify", crate::TOOL_VERSION))
        .await?;
    client
        .batch_execute(
            "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; SET LOCAL row_security = off",
        )
        .await
        .map_err(|err| DbError::new(format!("cannot start a transaction on {target}"), err))?;
    let tables: Vec<String> = client
        .query(TABLES_SQL, &[])
        .await
        .map_err(|err| DbError::new(format!("cannot list the tables of {target}"), err))?
        .iter()
        .map(|row| row.get(0))
        .collect();
    let counts = count_rows(&client, &tables).await?;
    let _ = client.batch_execute("COMMIT").await;
    Ok(counts)
}

/// Differences between recorded and restored row counts, one line each.
pub fn compare_counts(
    expected: &BTreeMap<String, u64>,
    found: &BTreeMap<String, u64>,
) -> Vec<String> {
    let mut problems = Vec::new();
    for (table, rows) in expected {
        match found.get(table) {
            None => problems.push(format!(
                "postgres: table {table} is missing after the restore"
            )),
            Some(n) if n != rows => problems.push(format!(
                "postgres: {table} has {} after the restore, the backup recorded {rows}",
                crate::output::count(*n, "row")
            )),
            Some(_) => {}
        }
    }
    for table in found.keys().filter(|t| !expected.contains_key(*t)) {
        problems.push(format!(
            "postgres: table {table} is not in the backup's manifest"
        ));
    }
    problems
}

/// Erasure requests of the GDPR ledger completed after `since` in `settings`' database (`None`
/// when there is no ledger).
pub async fn erasures_since(
    settings: &PgSettings,
    since: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<Option<i64>> {
    let client = settings
        .target
        .connect(&format!("migrate {} restore", crate::TOOL_VERSION))
        .await?;
    let exists: bool = client
        .query_one(
            "SELECT to_regclass('public.gdpr_requests') IS NOT NULL",
            &[],
        )
        .await?
        .get(0);
    if !exists {
        return Ok(None);
    }
    let row = client
        .query_one(
            "SELECT count(DISTINCT subject_hmac) FROM public.gdpr_requests
             WHERE request_type = 'erasure' AND status = 'completed' AND completed_at > $1",
            &[&since],
        )
        .await?;
    Ok(Some(row.get(0)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn parses_tool_versions() {
        let v =
            parse_tool_version("pg_dump (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)\n").unwrap();
        assert_eq!(v.major, (15, 0));
        assert_eq!(v.text, "15.20");
        let v = parse_tool_version("pg_restore (PostgreSQL) 9.6.24\n").unwrap();
        assert_eq!(v.major, (9, 6));
        let v = parse_tool_version("pg_dump (PostgreSQL) 17beta2").unwrap();
        assert_eq!(v.major, (17, 0));
        assert!(parse_tool_version("nothing here").is_none());
    }

    #[test]
    fn server_majors() {
        assert_eq!(server_major(150_020), (15, 0));
        assert_eq!(server_major(170_000), (17, 0));
        assert_eq!(server_major(90_624), (9, 6));
    }

    #[test]
    fn an_older_pg_dump_is_refused_with_a_hint() {
        let tool = parse_tool_version("pg_dump (PostgreSQL) 15.20").unwrap();
        let program = Path::new("/usr/bin/pg_dump");
        assert!(ensure_tool_fits_server(program, &tool, (15, 0), "15.4").is_ok());
        assert!(ensure_tool_fits_server(program, &tool, (9, 6), "9.6.1").is_ok());
        let err = ensure_tool_fits_server(program, &tool, (16, 0), "16.2").unwrap_err();
        let rendered = crate::errors::render(&err);
        assert!(rendered.message.contains("15.20"), "{}", rendered.message);
        assert!(rendered.message.contains("16.2"), "{}", rendered.message);
        assert!(rendered.hints[0].contains("/usr/lib/postgresql/16/bin"));
    }

    #[test]
    fn tool_connection_strings_never_hold_the_password() {
        let target = PgTarget::parse(
            "postgres://app:s3cr%20t@db.example:6543/shop?sslmode=require",
            None,
            None,
            Duration::from_secs(5),
        )
        .unwrap();
        let connection = ToolConnection::new(&target, "migrate backup");
        assert!(
            !connection.conninfo.contains("s3cr"),
            "{}",
            connection.conninfo
        );
        assert!(
            connection
                .conninfo
                .contains("host=db.example port=6543 user=app dbname=shop sslmode=require")
        );
        assert!(
            connection
                .conninfo
                .ends_with("application_name='migrate backup'")
        );
        assert_eq!(connection.password.as_deref(), Some("s3cr t"));
    }

    #[test]
    fn quotes_libpq_values() {
        assert_eq!(quote_value("plain"), "plain");
        assert_eq!(quote_value("a b"), "'a b'");
        assert_eq!(quote_value("it's"), "'it\\'s'");
        assert_eq!(quote_value(""), "''");
    }

    #[test]
    fn compares_counts() {
        let expected = BTreeMap::from([("public.a".to_string(), 3), ("public.b".to_string(), 1)]);
        let found = BTreeMap::from([("public.a".to_string(), 2), ("public.c".to_string(), 0)]);
        let problems = compare_counts(&expected, &found);
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(compare_counts(&expected, &expected).is_empty());
    }
}
