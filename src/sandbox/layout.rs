//! The sandbox's layout on disk and its records: where each server's data, logs and state live.

use super::*;

pub(super) struct Layout {
    pub(super) dir: PathBuf,
}

#[derive(Debug, Default)]
pub(super) struct Recorded {
    pub(super) pid: Option<u32>,
    pub(super) port: Option<u16>,
    pub(super) program: Option<String>,
}

impl Layout {
    /// The layout of an existing sandbox directory, `None` if it does not exist.
    pub(super) fn existing(dir: &Path) -> Result<Option<Layout>> {
        if !dir.exists() {
            return Ok(None);
        }
        let dir = dir
            .canonicalize()
            .with_context(|| format!("cannot resolve sandbox directory {}", dir.display()))?;
        Ok(Some(Layout { dir }))
    }

    pub(super) fn missing(dir: &Path) -> Layout {
        let dir = if dir.is_absolute() {
            dir.to_path_buf()
        } else {
            std::env::current_dir()
                .map(|c| c.join(dir))
                .unwrap_or_else(|_| dir.to_path_buf())
        };
        Layout { dir }
    }

    pub(super) fn svc_dir(&self, s: Service) -> PathBuf {
        self.dir.join(s.name())
    }

    pub(super) fn pid_file(&self, s: Service) -> PathBuf {
        self.svc_dir(s).join("pid")
    }

    pub(super) fn port_file(&self, s: Service) -> PathBuf {
        self.svc_dir(s).join("port")
    }

    pub(super) fn program_file(&self, s: Service) -> PathBuf {
        self.svc_dir(s).join("program")
    }

    pub(super) fn pg_home_file(&self) -> PathBuf {
        self.svc_dir(Service::Postgres).join("home")
    }

    /// Where the PostgreSQL cluster, its log and its socket live (see the module docs).
    pub(super) fn pg_home(&self) -> PathBuf {
        fs::read_to_string(self.pg_home_file())
            .ok()
            .map(|s| PathBuf::from(s.trim()))
            .filter(|p| p.is_absolute())
            .unwrap_or_else(|| self.svc_dir(Service::Postgres))
    }

    pub(super) fn data_dir(&self, s: Service) -> PathBuf {
        match s {
            Service::Postgres => self.pg_home().join("data"),
            Service::Redis => self.svc_dir(s),
            Service::Mongo => self.svc_dir(s).join("data"),
        }
    }

    pub(super) fn log_file(&self, s: Service) -> PathBuf {
        match s {
            Service::Postgres => self.pg_home().join("postgres.log"),
            Service::Redis => self.svc_dir(s).join("redis.log"),
            Service::Mongo => self.svc_dir(s).join("mongo.log"),
        }
    }

    pub(super) fn recorded(&self, s: Service) -> Recorded {
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
    pub(super) fn live(&self, s: Service) -> Option<Recorded> {
        let rec = self.recorded(s);
        let (pid, port) = (rec.pid?, rec.port?);
        (pid_is(pid, s) && port_answers(port)).then_some(rec)
    }

    /// Forgets the process of `s`; its port stays recorded, to be used again by `start`.
    pub(super) fn clear_records(&self, s: Service) {
        for f in [self.pid_file(s), self.program_file(s)] {
            let _ = fs::remove_file(f);
        }
    }

    /// Records the pgBackRest repository PostgreSQL archives into (present only with `--archive`).
    pub(super) fn pg_archive_file(&self) -> PathBuf {
        self.svc_dir(Service::Postgres).join("archive")
    }

    pub(super) fn pg_databases_file(&self) -> PathBuf {
        self.svc_dir(Service::Postgres).join("databases")
    }

    pub(super) fn write_records(
        &self,
        s: Service,
        pid: u32,
        port: u16,
        program: &str,
    ) -> Result<()> {
        write_atomic(&self.pid_file(s), &format!("{pid}\n"))?;
        write_atomic(&self.port_file(s), &format!("{port}\n"))?;
        write_atomic(&self.program_file(s), &format!("{program}\n"))?;
        Ok(())
    }

    pub(super) fn state(&self, started_now: &[Service]) -> SandboxState {
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
pub(super) struct DirLock {
    pub(super) _file: File,
}

impl DirLock {
    pub(super) fn acquire(dir: &Path) -> Result<DirLock> {
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
