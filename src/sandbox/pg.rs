//! The sandbox's PostgreSQL: initdb, configuration, start and stop (as the `postgres` user when
//! root), archiving into a local pgBackRest repository with `--archive`.

use super::*;

/// The OS user PostgreSQL runs as when we are root.
#[derive(Debug, Clone, Copy)]
pub(super) struct OsUser {
    pub(super) uid: u32,
    pub(super) gid: u32,
}

pub(super) fn pg_run_as() -> Result<Option<OsUser>> {
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

pub(super) fn lookup_user(name: &str) -> Option<OsUser> {
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
pub(super) fn has_pg_stat_statements(bindir: &Path) -> bool {
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
pub(super) fn pg_command(
    program: &Path,
    args: &[OsString],
    run_as: Option<OsUser>,
    cwd: &Path,
) -> Command {
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
pub(super) fn prepare_pg_home(layout: &Layout, run_as: Option<OsUser>) -> Result<PathBuf> {
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
pub(super) fn first_untraversable(path: &Path, user: OsUser) -> Option<PathBuf> {
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

pub(super) fn chown_tree(path: &Path, user: OsUser) -> Result<()> {
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

pub(super) fn postgres_program(bindir: &Path) -> String {
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
pub(super) fn parse_postgres_version(s: &str) -> Option<String> {
    let rest = s.split_once("(PostgreSQL)").map(|(_, r)| r).unwrap_or(s);
    rest.split_whitespace()
        .find(|t| t.starts_with(|c: char| c.is_ascii_digit()))
        .map(str::to_string)
}

pub(super) fn start_postgres(layout: &Layout, kept: Option<u16>, archive: bool) -> Result<()> {
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
pub(super) fn ensure_pg_database(layout: &Layout) -> Result<()> {
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

pub(super) fn initdb(
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
pub(super) fn locale_available(name: &str) -> Option<bool> {
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

pub(super) fn pg_ctl_stop(home: &Path, data: &Path) -> Result<bool> {
    let bindir = find_pg_bindir()?;
    let run_as = pg_run_as()?;
    let args = os_args(["stop", "-D"], data, ["-m", "fast", "-w", "-t", "30"]);
    let out = pg_command(&bindir.join("pg_ctl"), &args, run_as, home).output()?;
    Ok(out.status.success())
}

pub(super) fn stop_postgres(layout: &Layout, pid: u32) -> Result<()> {
    let home = layout.pg_home();
    let data = home.join("data");
    if pg_ctl_stop(&home, &data).unwrap_or(false) && wait_gone(pid, STOP_TIMEOUT) {
        return Ok(());
    }
    // pg_ctl could not do it: SIGINT is PostgreSQL's "fast shutdown".
    terminate(pid, libc::SIGINT)
}
