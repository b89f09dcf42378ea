//! The backups directory: one sub-directory per backup, named by its ID; a backup being written
//! is `ID.partial` (with a `writer.json` naming the process) and renamed when complete.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::manifest::{self, Manifest};
use crate::errors::Detailed;

/// The name `verify` and `restore` accept for the newest complete backup.
pub const LATEST: &str = "latest";

/// Suffix of a backup directory that is still being written (or was abandoned).
pub const PARTIAL_SUFFIX: &str = ".partial";
/// File in a partial directory naming the process writing it.
pub const WRITER_FILE: &str = "writer.json";
/// A partial directory whose writer cannot be checked (another host, no writer file) is stale
/// once nothing in it changed for this long.
pub const STALE_AFTER: Duration = Duration::from_secs(3600);

/// `20261122T024512Z-ab12`: the UTC start time, then 4 hex digits against collisions. Sorting
/// IDs is only a convenience for people; ordering uses the recorded creation time.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct BackupId(String);

impl BackupId {
    pub fn new(at: DateTime<Utc>) -> BackupId {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let seed = format!(
            "{}-{}-{}-{}",
            at.timestamp_nanos_opt().unwrap_or_default(),
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos())
        );
        let suffix = &hex::encode(Sha256::digest(seed.as_bytes()))[..4];
        BackupId(format!("{}-{suffix}", at.format("%Y%m%dT%H%M%SZ")))
    }

    /// Accepts exactly the shape [`BackupId::new`] produces.
    pub fn parse(text: &str) -> Option<BackupId> {
        let bytes = text.as_bytes();
        let shape_ok = bytes.len() == 21
            && bytes[..8].iter().all(u8::is_ascii_digit)
            && bytes[8] == b'T'
            && bytes[9..15].iter().all(u8::is_ascii_digit)
            && bytes[15] == b'Z'
            && bytes[16] == b'-'
            && bytes[17..]
                .iter()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b));
        shape_ok.then(|| BackupId(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for BackupId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Who writes a partial directory.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Writer {
    pub pid: u32,
    pub host: String,
    pub started_at: DateTime<Utc>,
    /// The process's start time in clock ticks since boot (`/proc/PID/stat`), so a recycled
    /// pid is not mistaken for the writer.
    pub process_start: Option<u64>,
}

impl Writer {
    pub fn current(started_at: DateTime<Utc>) -> Writer {
        let pid = std::process::id();
        Writer {
            pid,
            host: hostname(),
            started_at,
            process_start: process_start(pid),
        }
    }
}

/// A completed backup: its directory and manifest.
#[derive(Debug, Clone)]
pub struct Entry {
    pub id: BackupId,
    pub path: PathBuf,
    pub manifest: Manifest,
}

/// A `.partial` directory and whether it can go.
#[derive(Debug, Clone, Serialize)]
pub struct PartialDir {
    pub name: String,
    #[serde(skip)]
    pub path: PathBuf,
    pub writer: Option<Writer>,
    /// `None` while its writer may still be at work.
    pub stale: Option<String>,
}

/// What the directory holds.
#[derive(Debug, Default)]
pub struct Scan {
    /// Ordered by creation time, oldest first.
    pub backups: Vec<Entry>,
    pub partials: Vec<PartialDir>,
    /// Directories named like backups whose manifest cannot be read: never touched.
    pub unreadable: Vec<(String, String)>,
}

/// The backups directory.
#[derive(Debug, Clone)]
pub struct Repository {
    pub dir: PathBuf,
}

impl Repository {
    pub fn new(dir: PathBuf) -> Repository {
        Repository { dir }
    }

    /// Reads every entry; a missing directory holds nothing.
    pub fn scan(&self) -> anyhow::Result<Scan> {
        let mut scan = Scan::default();
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(scan),
            Err(err) => {
                return Err(anyhow::anyhow!(
                    "cannot list the backups directory {}: {err}",
                    self.dir.display()
                ));
            }
        };
        for entry in entries {
            let entry = entry.with_context(|| {
                format!("cannot list the backups directory {}", self.dir.display())
            })?;
            if !entry.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            if let Some(id) = name.strip_suffix(PARTIAL_SUFFIX) {
                if BackupId::parse(id).is_some() {
                    scan.partials.push(inspect_partial(name, path));
                }
                continue;
            }
            let Some(id) = BackupId::parse(&name) else {
                continue;
            };
            match manifest::read(&path) {
                Ok(manifest) => scan.backups.push(Entry { id, path, manifest }),
                Err(err) => scan.unreadable.push((name, format!("{err:#}"))),
            }
        }
        scan.backups.sort_by(|a, b| {
            a.manifest
                .created_at
                .cmp(&b.manifest.created_at)
                .then(a.id.cmp(&b.id))
        });
        scan.partials.sort_by(|a, b| a.name.cmp(&b.name));
        scan.unreadable.sort();
        Ok(scan)
    }

    /// The backup named `id` ([`LATEST`]: the newest complete one), or an error naming the
    /// known ones.
    pub fn open(&self, id: &str) -> anyhow::Result<Entry> {
        let mut scan = self.scan()?;
        if id == LATEST {
            return scan.backups.pop().ok_or_else(|| {
                Detailed::new(format!("no backup in {} yet", self.dir.display()))
                    .hint("create one with `migrate backup create`")
                    .into()
            });
        }
        if let Some(entry) = scan.backups.iter().find(|e| e.id.as_str() == id) {
            return Ok(entry.clone());
        }
        if let Some((_, why)) = scan.unreadable.iter().find(|(name, _)| name == id) {
            return Err(
                Detailed::new(format!("backup {id} has no readable manifest"))
                    .context(why.clone())
                    .into(),
            );
        }
        let mut error = Detailed::new(format!("no backup `{id}` in {}", self.dir.display()));
        if scan
            .partials
            .iter()
            .any(|p| p.name == format!("{id}{PARTIAL_SUFFIX}"))
        {
            error = error.context(format!(
                "{id}{PARTIAL_SUFFIX} exists: that backup never completed"
            ));
        }
        let newest: Vec<String> = scan
            .backups
            .iter()
            .rev()
            .take(5)
            .map(|e| e.id.to_string())
            .collect();
        error = if newest.is_empty() {
            error.hint("there are no backups yet: run `migrate backup create`")
        } else {
            error.hint(format!(
                "newest backups: {} (see `migrate backup list`)",
                newest.join(", ")
            ))
        };
        Err(error.into())
    }

    /// Creates `ID.partial` with its writer file. Backups hold personal data: from here on the
    /// process creates files 0600 and directories 0700 (see [`private_files`]), the backups
    /// directory included when it is new, and the backup's own directory is 0700 whatever
    /// the umask was.
    pub fn begin(&self, id: &BackupId, started_at: DateTime<Utc>) -> anyhow::Result<PathBuf> {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        private_files();
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)
            .with_context(|| {
                format!("cannot create the backups directory {}", self.dir.display())
            })?;
        let path = self.partial_path(id);
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("cannot restrict {}", path.display()))?;
        let writer = serde_json::to_string_pretty(&Writer::current(started_at))?;
        std::fs::write(path.join(WRITER_FILE), writer)
            .with_context(|| format!("cannot write {}", path.join(WRITER_FILE).display()))?;
        Ok(path)
    }

    pub fn partial_path(&self, id: &BackupId) -> PathBuf {
        self.dir.join(format!("{id}{PARTIAL_SUFFIX}"))
    }

    /// Writes the manifest into the partial directory and renames it to its final name: from
    /// here on the backup exists.
    pub fn complete(&self, id: &BackupId, manifest: &Manifest) -> anyhow::Result<PathBuf> {
        let partial = self.partial_path(id);
        let _ = std::fs::remove_file(partial.join(WRITER_FILE));
        manifest::write(&partial, manifest)?;
        let done = self.dir.join(id.as_str());
        std::fs::rename(&partial, &done).with_context(|| {
            format!("cannot rename {} to {}", partial.display(), done.display())
        })?;
        manifest::sync_dir(&self.dir)?;
        Ok(done)
    }
}

fn inspect_partial(name: String, path: PathBuf) -> PartialDir {
    let writer: Option<Writer> = std::fs::read_to_string(path.join(WRITER_FILE))
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok());
    let stale = match &writer {
        Some(w) if w.host == hostname() => {
            if process_alive(w.pid, w.process_start) {
                None
            } else {
                Some(format!("its writer (pid {}) is gone", w.pid))
            }
        }
        _ => {
            let idle = newest_change(&path)
                .and_then(|t| SystemTime::now().duration_since(t).ok())
                .unwrap_or_default();
            (idle >= STALE_AFTER).then(|| {
                format!(
                    "unchanged for {} min and its writer cannot be checked from this host",
                    idle.as_secs() / 60
                )
            })
        }
    };
    PartialDir {
        name,
        path,
        writer,
        stale,
    }
}

/// The newest modification time of anything under `dir`.
fn newest_change(dir: &Path) -> Option<SystemTime> {
    let mut newest = std::fs::metadata(dir).and_then(|m| m.modified()).ok();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&current) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(meta) = entry.metadata() else {
                continue;
            };
            if meta.is_dir() {
                pending.push(entry.path());
            }
            if let Ok(modified) = meta.modified() {
                newest = newest.max(Some(modified));
            }
        }
    }
    newest
}

/// Whether `pid` runs and, when known, started at `start` (so it is the same process).
fn process_alive(pid: u32, start: Option<u64>) -> bool {
    let Ok(raw) = i32::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 only checks for existence and permission.
    let exists = unsafe { libc::kill(raw, 0) } == 0
        || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
    if !exists {
        return false;
    }
    let Some((state, started)) = process_stat(pid) else {
        // No /proc (not Linux): existence is all we can tell.
        return true;
    };
    // A killed process whose parent has not reaped it yet is a zombie: gone all the same.
    !matches!(state, 'Z' | 'X') && start.is_none_or(|recorded| recorded == started)
}

/// Field 22 of `/proc/PID/stat` (start time in clock ticks since boot); `None` off Linux.
fn process_start(pid: u32) -> Option<u64> {
    process_stat(pid).map(|(_, started)| started)
}

/// State (field 3) and start time (field 22) of `/proc/PID/stat`.
fn process_stat(pid: u32) -> Option<(char, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is parenthesized and may contain spaces: count fields after it.
    let (_, rest) = stat.rsplit_once(')')?;
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let started = fields.nth(18)?.parse().ok()?;
    Some((state, started))
}

pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown-host".to_string())
}

/// Sets this process's umask to 077: every file written from now on (by migrate, and by the
/// `pg_dump` it starts, which inherits the umask) is readable by its owner only. A backup is
/// the whole of a `backup create` run, so the process-wide setting is the right scope.
pub fn private_files() {
    // SAFETY: umask only changes the process's file-creation mask; it cannot fail.
    unsafe {
        libc::umask(0o077);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn ids_have_a_fixed_sortable_shape() {
        let at = Utc.with_ymd_and_hms(2026, 11, 22, 2, 45, 12).unwrap();
        let id = BackupId::new(at);
        assert!(id.as_str().starts_with("20261122T024512Z-"), "{id}");
        assert_eq!(BackupId::parse(id.as_str()), Some(id.clone()));
        assert_ne!(BackupId::new(at), id, "two IDs of the same second differ");
        assert!(BackupId::parse("20261122T024512Z-ab1").is_none());
        assert!(BackupId::parse("20261122T024512Z-AB12").is_none());
        assert!(BackupId::parse("../etc/passwd").is_none());
    }

    #[test]
    fn our_own_process_is_alive_and_a_recycled_pid_is_not() {
        let pid = std::process::id();
        let start = process_start(pid);
        assert!(process_alive(pid, start));
        if let Some(start) = start {
            assert!(!process_alive(pid, Some(start + 1)));
        }
    }

    #[test]
    fn partials_of_dead_writers_are_stale_and_live_ones_are_not() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::new(dir.path().to_path_buf());
        let id = BackupId::new(Utc::now());
        let path = repo.begin(&id, Utc::now()).unwrap();
        let scan = repo.scan().unwrap();
        assert!(scan.backups.is_empty());
        assert_eq!(scan.partials.len(), 1);
        assert_eq!(scan.partials[0].stale, None, "we are its writer");

        let mut writer = Writer::current(Utc::now());
        writer.process_start = writer.process_start.map(|s| s + 1);
        std::fs::write(
            path.join(WRITER_FILE),
            serde_json::to_string(&writer).unwrap(),
        )
        .unwrap();
        let scan = repo.scan().unwrap();
        assert!(scan.partials[0].stale.is_some());
    }
}
