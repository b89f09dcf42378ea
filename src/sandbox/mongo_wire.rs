//! The sandbox's Mongo-wire server: `mongod` when installed, else SecantusDB from `.venv`,
//! with on-disk storage.

use super::*;

pub(super) fn start_mongo(layout: &Layout, kept: Option<u16>) -> Result<()> {
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
pub(super) fn wait_child_port(mut child: Child, port: u16) -> std::result::Result<(), String> {
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
pub(super) fn parse_mongod_version(s: &str) -> Option<String> {
    s.lines()
        .find_map(|l| l.trim().strip_prefix("db version v"))
        .map(|v| v.trim().to_string())
}
