//! Processes, free ports and files the sandbox's servers need.

use super::*;

pub(super) enum Probe {
    Ready,
    NotYet,
    Failed(String),
}

/// Poll `probe` until ready, failed, or [`READY_TIMEOUT`]; the error says what happened.
pub(super) fn wait_ready(mut probe: impl FnMut() -> Probe) -> std::result::Result<(), String> {
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
pub(super) fn pick_port(kept: Option<u16>, attempt: usize) -> Result<u16> {
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

pub(super) fn connect(port: u16, timeout: Duration) -> io::Result<TcpStream> {
    TcpStream::connect_timeout(&SocketAddr::from(([127, 0, 0, 1], port)), timeout)
}

pub(super) fn port_answers(port: u16) -> bool {
    connect(port, Duration::from_secs(1)).is_ok()
}

/// First line of a pid file (ours or `postmaster.pid`) as a positive pid.
pub(super) fn parse_pid(text: &str) -> Option<u32> {
    let pid: u32 = text.lines().next()?.trim().parse().ok()?;
    (pid > 0 && pid <= i32::MAX as u32).then_some(pid)
}

pub(super) fn parse_port(text: &str) -> Option<u16> {
    text.trim().parse().ok().filter(|p| *p > 0)
}

/// Whether `pid` names a live (non-zombie) process.
pub(super) fn pid_alive(pid: u32) -> bool {
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
pub(super) fn pid_is(pid: u32, s: Service) -> bool {
    if !pid_alive(pid) {
        return false;
    }
    match fs::read(format!("/proc/{pid}/cmdline")) {
        Ok(bytes) => s.matches_cmdline(&String::from_utf8_lossy(&bytes).replace('\0', " ")),
        Err(_) => !Path::new("/proc/self").exists(),
    }
}

pub(super) fn wait_gone(pid: u32, timeout: Duration) -> bool {
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
pub(super) fn terminate(pid: u32, signal: libc::c_int) -> Result<()> {
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

pub(super) fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

pub(super) fn is_executable(p: &Path) -> bool {
    fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

pub(super) fn os_args<const A: usize, const B: usize>(
    before: [&str; A],
    path: &Path,
    after: [&str; B],
) -> Vec<OsString> {
    let mut v: Vec<OsString> = before.iter().map(OsString::from).collect();
    v.push(path.as_os_str().to_owned());
    v.extend(after.iter().map(OsString::from));
    v
}

pub(super) fn write_atomic(path: &Path, contents: &str) -> Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    fs::write(&tmp, contents).with_context(|| format!("cannot write {}", tmp.display()))?;
    fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}

pub(super) fn open_log(path: &Path) -> Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot open log file {}", path.display()))
}

pub(super) fn file_len(path: &Path) -> u64 {
    fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// The part of a file written after byte `offset`.
pub(super) fn read_from(path: &Path, offset: u64) -> String {
    let Ok(bytes) = fs::read(path) else {
        return String::new();
    };
    let start = usize::try_from(offset)
        .unwrap_or(usize::MAX)
        .min(bytes.len());
    String::from_utf8_lossy(&bytes[start..]).into_owned()
}

pub(super) fn mentions_port_in_use(log: &str) -> bool {
    let l = log.to_ascii_lowercase();
    l.contains("address already in use") || l.contains("could not bind")
}

pub(super) fn tail(path: &Path, lines: usize) -> String {
    let text = read_from(path, 0);
    let all: Vec<&str> = text.lines().collect();
    let start = all.len().saturating_sub(lines);
    all[start..].join("\n")
}

/// `msg; see LOG:` followed by the last lines of the log.
pub(super) fn with_log(msg: String, log: &Path) -> anyhow::Error {
    let t = tail(log, LOG_TAIL_LINES);
    if t.trim().is_empty() {
        anyhow!("{msg}; see {} (empty)", log.display())
    } else {
        anyhow!("{msg}; see {}:\n{t}", log.display())
    }
}

pub(super) fn exit_text(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(c), _) => format!("exit {c}"),
        (None, Some(s)) => format!("signal {s}"),
        _ => "unknown status".to_string(),
    }
}

pub(super) fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Quote for a POSIX shell: `it's` -> `'it'\''s'`.
pub(super) fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// FNV-1a, stable across builds (names the fallback PostgreSQL home of a sandbox directory).
pub(super) fn fnv1a(s: &OsStr) -> u64 {
    use std::os::unix::ffi::OsStrExt;
    s.as_bytes().iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}
