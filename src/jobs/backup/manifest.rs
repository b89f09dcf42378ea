//! `manifest.json`: what a backup holds (files with size and sha256, counts per store, server
//! and tool versions, applied migrations) and how its verifications went. Hashing and checking
//! the files against it live here too.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// File name of the manifest inside a backup directory.
pub const MANIFEST: &str = "manifest.json";
/// Version of the manifest format; readers refuse newer ones.
pub const FORMAT: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub id: String,
    /// When the backup started (UTC). Backups are ordered by this, never by their names.
    pub created_at: DateTime<Utc>,
    pub completed_at: DateTime<Utc>,
    pub tool_version: String,
    pub host: String,
    pub stores: Stores,
    /// Every file of the backup but the manifest, sorted by path.
    pub files: Vec<FileEntry>,
    pub total_bytes: u64,
    /// Oldest first.
    #[serde(default)]
    pub verifications: Vec<Verification>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Stores {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postgres: Option<PostgresPart>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mongo: Option<MongoPart>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis: Option<RedisPart>,
}

impl Stores {
    pub fn names(&self) -> Vec<&'static str> {
        let mut names = Vec::new();
        if self.postgres.is_some() {
            names.push("postgres");
        }
        if self.mongo.is_some() {
            names.push("mongo");
        }
        if self.redis.is_some() {
            names.push("redis");
        }
        names
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PostgresPart {
    /// `user@host:port/db` (never a password).
    pub source: String,
    pub server_version: String,
    pub pg_dump_version: String,
    pub jobs: u32,
    /// Directory of the `pg_dump -Fd` archive, relative to the backup.
    pub archive: String,
    /// Rows per table (`schema.table`), counted in the snapshot `pg_dump` used.
    pub tables: BTreeMap<String, u64>,
    /// Applied versioned migrations, from the history table in the same snapshot.
    pub migrations: Vec<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MongoPart {
    pub source: String,
    pub database: String,
    pub server_version: String,
    pub collections: BTreeMap<String, MongoCollection>,
    /// Applied Mongo migrations (from the history collection, when there is one).
    #[serde(default)]
    pub migrations: Vec<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MongoCollection {
    /// `collection`, `view` or `timeseries`.
    pub kind: String,
    pub documents: u64,
    /// Index names, `_id_` included.
    pub indexes: Vec<String>,
    /// The documents (BSON, one after the other), relative to the backup; views have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// Options (validator, ...) and index specifications, as canonical Extended JSON.
    pub metadata: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RedisPart {
    pub source: String,
    pub db: u32,
    pub server_version: String,
    /// The key file, relative to the backup.
    pub data: String,
    pub keys: u64,
    /// Keys that had an expiry when they were read.
    pub keys_with_ttl: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Relative to the backup directory, `/`-separated.
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VerificationKind {
    /// Sizes and sha256 of every file.
    Hashes,
    /// Hashes, then a restore into scratch databases whose counts were compared.
    Restore,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Verification {
    pub at: DateTime<Utc>,
    pub kind: VerificationKind,
    pub ok: bool,
    pub problems: Vec<String>,
    pub duration_ms: u64,
}

impl Manifest {
    /// The newest successful verification that restored the backup.
    pub fn restore_verified_at(&self) -> Option<DateTime<Utc>> {
        self.verifications
            .iter()
            .filter(|v| v.ok && v.kind == VerificationKind::Restore)
            .map(|v| v.at)
            .max()
    }

    /// The newest verification of any kind.
    pub fn last_verification(&self) -> Option<&Verification> {
        self.verifications.iter().max_by_key(|v| v.at)
    }
}

/// Reads and checks the format of `dir/manifest.json`.
pub fn read(dir: &Path) -> anyhow::Result<Manifest> {
    let path = dir.join(MANIFEST);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let manifest: Manifest = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a valid manifest", path.display()))?;
    if manifest.format > FORMAT {
        anyhow::bail!(
            "{} has format {}, newer than this tool understands ({FORMAT}): upgrade migrate",
            path.display(),
            manifest.format
        );
    }
    Ok(manifest)
}

/// Writes `dir/manifest.json` atomically (temporary file, fsync, rename, fsync of the directory).
pub fn write(dir: &Path, manifest: &Manifest) -> anyhow::Result<()> {
    let path = dir.join(MANIFEST);
    let temporary = dir.join(format!("{MANIFEST}.tmp"));
    let mut text = serde_json::to_string_pretty(manifest)?;
    text.push('\n');
    let mut file = File::create(&temporary)
        .with_context(|| format!("cannot create {}", temporary.display()))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", temporary.display()))?;
    drop(file);
    std::fs::rename(&temporary, &path)
        .with_context(|| format!("cannot rename {} to {MANIFEST}", temporary.display()))?;
    sync_dir(dir)
}

/// Makes a directory's entries (new files, renames) durable.
pub fn sync_dir(dir: &Path) -> anyhow::Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("cannot sync directory {}", dir.display()))
}

/// Size and sha256 (hex) of one file.
pub fn hash_file(path: &Path) -> std::io::Result<(u64, String)> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        size += n as u64;
    }
    Ok((size, hex::encode(hasher.finalize())))
}

/// Every regular file under `root` (relative, `/`-separated, sorted) except those named in
/// `skip` at the top level.
pub fn list_files(root: &Path, skip: &[&str]) -> anyhow::Result<Vec<String>> {
    let mut files = Vec::new();
    let mut pending = vec![PathBuf::new()];
    while let Some(relative) = pending.pop() {
        let dir = root.join(&relative);
        let entries =
            std::fs::read_dir(&dir).with_context(|| format!("cannot list {}", dir.display()))?;
        for entry in entries {
            let entry = entry.with_context(|| format!("cannot list {}", dir.display()))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let child = relative.join(&name);
            let kind = entry
                .file_type()
                .with_context(|| format!("cannot stat {}", entry.path().display()))?;
            if kind.is_dir() {
                pending.push(child);
            } else if !(relative.as_os_str().is_empty() && skip.contains(&name.as_str())) {
                let parts: Vec<String> = child
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                files.push(parts.join("/"));
            }
        }
    }
    files.sort();
    Ok(files)
}

/// What one hashing thread found for one file (`None`: not hashed yet).
type Hashed = Option<std::io::Result<(u64, String)>>;

/// Hashes the given files with `threads` threads; the result is in the same order.
pub fn hash_files(root: &Path, paths: &[String], threads: u32) -> anyhow::Result<Vec<FileEntry>> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Hashed>> = Mutex::new((0..paths.len()).map(|_| None).collect());
    let threads = (threads.max(1) as usize).min(paths.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(path) = paths.get(index) else {
                        break;
                    };
                    let result = hash_file(&root.join(path));
                    results.lock().unwrap_or_else(|p| p.into_inner())[index] = Some(result);
                }
            });
        }
    });
    let results = results.into_inner().unwrap_or_else(|p| p.into_inner());
    paths
        .iter()
        .zip(results)
        .map(|(path, result)| {
            // Every index below paths.len() was taken by exactly one thread.
            let (size, sha256) = result
                .unwrap_or_else(|| Err(std::io::Error::other("not hashed")))
                .with_context(|| format!("cannot read {}", root.join(path).display()))?;
            Ok(FileEntry {
                path: path.clone(),
                size,
                sha256,
            })
        })
        .collect()
}

/// A file that does not match the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub path: String,
    pub problem: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.problem)
    }
}

/// Compares the files under `root` with the manifest: missing, unexpected, wrong size, wrong
/// sha256. An empty result means every byte is as recorded.
pub fn check(root: &Path, expected: &[FileEntry], threads: u32) -> anyhow::Result<Vec<Problem>> {
    let present = list_files(root, &[MANIFEST, &format!("{MANIFEST}.tmp")])?;
    let mut problems = Vec::new();
    let expected_paths: std::collections::BTreeSet<&str> =
        expected.iter().map(|f| f.path.as_str()).collect();
    for path in &present {
        if !expected_paths.contains(path.as_str()) {
            problems.push(Problem {
                path: path.clone(),
                problem: "not in the manifest".to_string(),
            });
        }
    }
    let present_set: std::collections::BTreeSet<&str> =
        present.iter().map(String::as_str).collect();
    let mut to_hash = Vec::new();
    for entry in expected {
        if present_set.contains(entry.path.as_str()) {
            to_hash.push(entry.path.clone());
        } else {
            problems.push(Problem {
                path: entry.path.clone(),
                problem: "missing".to_string(),
            });
        }
    }
    let actual = hash_files(root, &to_hash, threads)?;
    let by_path: BTreeMap<&str, &FileEntry> =
        expected.iter().map(|f| (f.path.as_str(), f)).collect();
    for found in &actual {
        let Some(wanted) = by_path.get(found.path.as_str()) else {
            continue;
        };
        if found.size != wanted.size {
            problems.push(Problem {
                path: found.path.clone(),
                problem: format!(
                    "size {}, the manifest says {}",
                    crate::output::count(found.size, "byte"),
                    wanted.size
                ),
            });
        } else if found.sha256 != wanted.sha256 {
            problems.push(Problem {
                path: found.path.clone(),
                problem: format!(
                    "sha256 mismatch (manifest {}…, file {}…)",
                    &wanted.sha256[..12.min(wanted.sha256.len())],
                    &found.sha256[..12]
                ),
            });
        }
    }
    problems.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("postgres")).unwrap();
        std::fs::write(dir.path().join("postgres/toc.dat"), b"toc").unwrap();
        std::fs::write(dir.path().join("postgres/3001.dat.gz"), b"rows").unwrap();
        std::fs::write(dir.path().join("redis.keys"), b"").unwrap();
        dir
    }

    fn entries(root: &Path) -> Vec<FileEntry> {
        let files = list_files(root, &[MANIFEST]).unwrap();
        hash_files(root, &files, 3).unwrap()
    }

    #[test]
    fn hashes_are_sha256_of_the_content() {
        let dir = tree();
        let (size, sha) = hash_file(&dir.path().join("postgres/toc.dat")).unwrap();
        assert_eq!(size, 3);
        assert_eq!(sha, hex::encode(Sha256::digest(b"toc")));
        let (size, sha) = hash_file(&dir.path().join("redis.keys")).unwrap();
        assert_eq!(size, 0);
        assert_eq!(
            sha,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn lists_files_sorted_and_skips_the_manifest() {
        let dir = tree();
        std::fs::write(dir.path().join(MANIFEST), b"{}").unwrap();
        let files = list_files(dir.path(), &[MANIFEST]).unwrap();
        assert_eq!(
            files,
            vec!["postgres/3001.dat.gz", "postgres/toc.dat", "redis.keys"]
        );
        let hashed = entries(dir.path());
        assert_eq!(hashed.len(), 3);
        assert_eq!(hashed[0].path, "postgres/3001.dat.gz");
        assert_eq!(hashed[0].size, 4);
    }

    #[test]
    fn check_finds_a_flipped_byte_a_missing_file_and_an_extra_one() {
        let dir = tree();
        let expected = entries(dir.path());
        assert!(check(dir.path(), &expected, 2).unwrap().is_empty());

        std::fs::write(dir.path().join("postgres/3001.dat.gz"), b"rowz").unwrap();
        let problems = check(dir.path(), &expected, 2).unwrap();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].path, "postgres/3001.dat.gz");
        assert!(problems[0].problem.contains("sha256 mismatch"));

        std::fs::remove_file(dir.path().join("postgres/toc.dat")).unwrap();
        std::fs::write(dir.path().join("stray.txt"), b"x").unwrap();
        let problems = check(dir.path(), &expected, 2).unwrap();
        let described: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            described,
            vec![
                "postgres/3001.dat.gz: sha256 mismatch (manifest ".to_string()
                    + &expected[0].sha256[..12]
                    + "…, file "
                    + &hex::encode(Sha256::digest(b"rowz"))[..12]
                    + "…)",
                "postgres/toc.dat: missing".to_string(),
                "stray.txt: not in the manifest".to_string(),
            ]
        );
    }

    #[test]
    fn manifest_round_trips_and_reports_verification() {
        let dir = tree();
        let now = Utc::now();
        let mut manifest = Manifest {
            format: FORMAT,
            id: "20260101T000000Z-abcd".into(),
            created_at: now,
            completed_at: now,
            tool_version: "0.1.0".into(),
            host: "h".into(),
            stores: Stores::default(),
            files: entries(dir.path()),
            total_bytes: 7,
            verifications: Vec::new(),
        };
        assert_eq!(manifest.restore_verified_at(), None);
        manifest.verifications.push(Verification {
            at: now,
            kind: VerificationKind::Hashes,
            ok: true,
            problems: Vec::new(),
            duration_ms: 1,
        });
        assert_eq!(manifest.restore_verified_at(), None);
        manifest.verifications.push(Verification {
            at: now,
            kind: VerificationKind::Restore,
            ok: true,
            problems: Vec::new(),
            duration_ms: 1,
        });
        write(dir.path(), &manifest).unwrap();
        let back = read(dir.path()).unwrap();
        assert_eq!(back.files, manifest.files);
        assert_eq!(back.restore_verified_at(), Some(now));
        assert!(
            check(dir.path(), &back.files, 1).unwrap().is_empty(),
            "the manifest itself is not one of the checked files"
        );
    }
}
