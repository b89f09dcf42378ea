//! The sandbox's Redis: configuration (RDB and AOF), start and stop.

use super::*;

pub(super) fn start_redis(layout: &Layout, kept: Option<u16>) -> Result<()> {
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

    // A config file of its own, so that `CONFIG REWRITE` (which `migrate up` runs after setting
    // notify-keyspace-events or ACL users) keeps the keyspace setup across a restart, as on a
    // production server; the command-line options below override what it holds.
    let config = svc_dir.join("redis.conf");
    if !config.exists() {
        fs::write(
            &config,
            "# The sandbox's Redis: options are given on its command line; `CONFIG REWRITE`\n\
             # keeps settings made at run time (notify-keyspace-events, ACL users) here.\n",
        )
        .with_context(|| format!("cannot write {}", config.display()))?;
    }

    for attempt in 1..=PORT_ATTEMPTS {
        let port = pick_port(kept, attempt)?;
        let _ = fs::remove_file(&pid_file);
        let log_start = file_len(&log);
        let logf = open_log(&log)?;
        let mut cmd = Command::new(&bin);
        cmd.arg(&config)
            .arg("--port")
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
pub(super) fn parse_redis_version(s: &str) -> Option<String> {
    s.split_whitespace()
        .find_map(|t| t.strip_prefix("v="))
        .map(str::to_string)
}

pub(super) fn redis_ping(port: u16) -> bool {
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
