//! What a pgBackRest stanza holds, from `pgbackrest info --output=json`: its backups, the WAL
//! range archived, and the recoverable window (pure, unit-tested).

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

/// One physical backup, as `backup list` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct PhysicalBackup {
    /// pgBackRest's label, e.g. `20261204-052653F` (a diff or incr names its base: `…F_…D`).
    pub label: String,
    /// `full`, `diff` or `incr`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The backup this one depends on (diff and incr only).
    pub prior: Option<String>,
    pub started_at: DateTime<Utc>,
    /// The earliest moment a point-in-time restore from this backup can reach.
    pub stopped_at: DateTime<Utc>,
    /// Size of the database the backup covers.
    pub size_bytes: u64,
    /// What the backup occupies in the repository (compressed, this backup's own files).
    pub repo_bytes: u64,
    pub wal_start: Option<String>,
    pub wal_stop: Option<String>,
    /// pgBackRest marked the backup as having page checksum errors.
    pub error: bool,
}

/// The earliest and latest moment a `restore --physical --to-time` can recover to.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Window {
    /// One second after the stop time of the oldest backup (pgBackRest records whole seconds
    /// and only restores from a backup that stopped strictly before the target).
    pub earliest: DateTime<Utc>,
    pub latest: DateTime<Utc>,
    /// How `latest` is known: `archived_wal` (the server's last archived WAL segment, from
    /// `pg_stat_archiver`) or `latest_backup` (the newest backup's stop time; WAL archived
    /// after it may reach further).
    pub latest_source: &'static str,
}

/// A stanza's content.
#[derive(Debug, Clone, Serialize)]
pub struct StanzaInfo {
    pub stanza: String,
    /// pgBackRest's status message (`ok`, `no valid backups`, …).
    pub status: String,
    /// Oldest first, as pgBackRest lists them.
    pub backups: Vec<PhysicalBackup>,
    /// The archived WAL range of the current database, when any WAL was archived.
    pub wal_min: Option<String>,
    pub wal_max: Option<String>,
}

/// What the live server says about archiving, used to extend the window past the last backup.
#[derive(Debug, Clone)]
pub struct Archiver {
    pub last_archived_wal: Option<String>,
    pub last_archived_time: Option<DateTime<Utc>>,
}

#[derive(Deserialize)]
struct RawStanza {
    name: String,
    status: RawStatus,
    #[serde(default)]
    backup: Vec<RawBackup>,
    #[serde(default)]
    archive: Vec<RawArchive>,
    #[serde(default)]
    db: Vec<RawDb>,
}

#[derive(Deserialize)]
struct RawStatus {
    code: i64,
    message: String,
}

#[derive(Deserialize)]
struct RawBackup {
    label: String,
    #[serde(rename = "type")]
    kind: String,
    prior: Option<String>,
    timestamp: RawTimestamps,
    info: RawSizes,
    archive: Option<RawArchiveRange>,
    #[serde(default)]
    error: Option<bool>,
}

#[derive(Deserialize)]
struct RawTimestamps {
    start: i64,
    stop: i64,
}

#[derive(Deserialize)]
struct RawSizes {
    size: u64,
    repository: RawRepoSize,
}

#[derive(Deserialize)]
struct RawRepoSize {
    delta: u64,
}

#[derive(Deserialize)]
struct RawArchiveRange {
    start: Option<String>,
    stop: Option<String>,
}

#[derive(Deserialize)]
struct RawArchive {
    database: RawDbRef,
    min: Option<String>,
    max: Option<String>,
}

#[derive(Deserialize)]
struct RawDbRef {
    id: i64,
}

#[derive(Deserialize)]
struct RawDb {
    id: i64,
}

/// pgBackRest's status code for a stanza whose repository has no stanza at all.
const STATUS_MISSING_STANZA: i64 = 1;

/// Parses `pgbackrest --stanza=S info --output=json`. `Err` carries a message for people: a
/// stanza that does not exist, or output that is not pgBackRest's.
pub fn parse(json: &str, stanza: &str) -> Result<StanzaInfo, String> {
    let stanzas: Vec<RawStanza> = serde_json::from_str(json)
        .map_err(|e| format!("cannot read `pgbackrest info --output=json`: {e}"))?;
    let Some(raw) = stanzas.into_iter().find(|s| s.name == stanza) else {
        return Err(format!("pgbackrest info does not list stanza `{stanza}`"));
    };
    if raw.status.code == STATUS_MISSING_STANZA {
        return Err(format!(
            "stanza `{stanza}` does not exist in the repository ({})",
            raw.status.message
        ));
    }
    let current_db = raw.db.iter().map(|d| d.id).max();
    let archive = raw
        .archive
        .iter()
        .find(|a| Some(a.database.id) == current_db);
    let time = |secs: i64| Utc.timestamp_opt(secs, 0).single().unwrap_or_default();
    Ok(StanzaInfo {
        stanza: raw.name,
        status: raw.status.message,
        backups: raw
            .backup
            .into_iter()
            .map(|b| PhysicalBackup {
                label: b.label,
                kind: b.kind,
                prior: b.prior,
                started_at: time(b.timestamp.start),
                stopped_at: time(b.timestamp.stop),
                size_bytes: b.info.size,
                repo_bytes: b.info.repository.delta,
                wal_start: b.archive.as_ref().and_then(|a| a.start.clone()),
                wal_stop: b.archive.and_then(|a| a.stop),
                error: b.error.unwrap_or(false),
            })
            .collect(),
        wal_min: archive.and_then(|a| a.min.clone()),
        wal_max: archive.and_then(|a| a.max.clone()),
    })
}

/// The recoverable window: from just after the oldest backup's stop time to the last archived WAL (when
/// the server's archiver names the newest segment in the repository, its time), else to the
/// newest backup's stop time. `None` without backups.
pub fn window(info: &StanzaInfo, archiver: Option<&Archiver>) -> Option<Window> {
    let earliest = info.backups.iter().map(|b| b.stopped_at).min()? + chrono::Duration::seconds(1);
    let newest_backup = info.backups.iter().map(|b| b.stopped_at).max()?;
    let archived = archiver.and_then(|a| {
        let wal = a.last_archived_wal.as_deref()?;
        let max = info.wal_max.as_deref()?;
        // The archiver names the segment (24 hex digits), possibly with a suffix (`.partial`,
        // `.backup`); the repository's max is a segment name.
        (wal.get(..24) == max.get(..24)).then_some(a.last_archived_time?)
    });
    Some(match archived {
        Some(at) if at > newest_backup + chrono::Duration::seconds(1) => Window {
            earliest,
            latest: at,
            latest_source: "archived_wal",
        },
        _ => Window {
            earliest,
            latest: newest_backup + chrono::Duration::seconds(1),
            latest_source: "latest_backup",
        },
    })
}

/// The labels of the backups that `expire --repo1-retention-full=keep` removes: every full
/// backup older than the newest `keep` fulls, and the diff/incr backups that depend on them.
pub fn expired_by(info: &StanzaInfo, keep: usize) -> Vec<String> {
    let mut fulls: Vec<&PhysicalBackup> =
        info.backups.iter().filter(|b| b.kind == "full").collect();
    fulls.sort_by_key(|b| b.stopped_at);
    if fulls.len() <= keep {
        return Vec::new();
    }
    let doomed_fulls: Vec<&str> = fulls[..fulls.len() - keep]
        .iter()
        .map(|b| b.label.as_str())
        .collect();
    // A diff/incr label starts with its full's label (`<full>_<own>`).
    info.backups
        .iter()
        .filter(|b| {
            let base = b.label.split('_').next().unwrap_or(&b.label);
            doomed_fulls.contains(&base)
        })
        .map(|b| b.label.clone())
        .collect()
}

/// How many full backups retention keeps: the newest `keep_full`, and enough older ones that a
/// restore can reach `wal_days` back from `now` (the newest full that stopped at or before that
/// moment, and every full after it). At least one.
pub fn fulls_to_keep(
    info: &StanzaInfo,
    keep_full: Option<u32>,
    wal_days: Option<u32>,
    now: DateTime<Utc>,
) -> usize {
    let mut fulls: Vec<DateTime<Utc>> = info
        .backups
        .iter()
        .filter(|b| b.kind == "full")
        .map(|b| b.stopped_at)
        .collect();
    fulls.sort();
    let by_count = keep_full.map_or(0, |n| n as usize);
    let by_days = wal_days.map_or(0, |days| {
        let since = now - chrono::Duration::days(i64::from(days));
        // Newest first: keep fulls until one stopped at or before `since` (it covers `since`).
        let mut n = 0;
        for stopped in fulls.iter().rev() {
            n += 1;
            if *stopped <= since {
                break;
            }
        }
        n
    });
    by_count.max(by_days).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const INFO: &str = r#"[{"archive":[{"database":{"id":1,"repo-key":1},"id":"15-1",
        "max":"000000010000000000000009","min":"000000010000000000000001"}],
        "backup":[
         {"archive":{"start":"000000010000000000000002","stop":"000000010000000000000003"},
          "backrest":{"format":5,"version":"2.45"},"database":{"id":1,"repo-key":1},"error":false,
          "info":{"delta":100,"repository":{"delta":30,"size":30},"size":100},
          "label":"20261201-010000F","lsn":{"start":"0/2000028","stop":"0/3000050"},
          "prior":null,"reference":null,"timestamp":{"start":1796086800,"stop":1796086810},"type":"full"},
         {"archive":{"start":"000000010000000000000005","stop":"000000010000000000000005"},
          "backrest":{"format":5,"version":"2.45"},"database":{"id":1,"repo-key":1},"error":false,
          "info":{"delta":10,"repository":{"delta":3,"size":33},"size":100},
          "label":"20261201-010000F_20261202-010000I","lsn":{"start":"0/5000028","stop":"0/5000100"},
          "prior":"20261201-010000F","reference":["20261201-010000F"],
          "timestamp":{"start":1796173200,"stop":1796173205},"type":"incr"},
         {"archive":{"start":"000000010000000000000007","stop":"000000010000000000000007"},
          "backrest":{"format":5,"version":"2.45"},"database":{"id":1,"repo-key":1},"error":false,
          "info":{"delta":100,"repository":{"delta":30,"size":30},"size":100},
          "label":"20261203-010000F","lsn":{"start":"0/7000028","stop":"0/7000100"},
          "prior":null,"reference":null,"timestamp":{"start":1796259600,"stop":1796259620},"type":"full"}],
        "cipher":"none","db":[{"id":1,"repo-key":1,"system-id":1,"version":"15"}],
        "name":"main","repo":[{"cipher":"none","key":1,"status":{"code":0,"message":"ok"}}],
        "status":{"code":0,"lock":{"backup":{"held":false}},"message":"ok"}}]"#;

    fn at(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(secs, 0).unwrap()
    }

    #[test]
    fn parses_backups_and_archive_range() {
        let info = parse(INFO, "main").unwrap();
        assert_eq!(info.backups.len(), 3);
        assert_eq!(info.backups[1].kind, "incr");
        assert_eq!(info.backups[1].prior.as_deref(), Some("20261201-010000F"));
        assert_eq!(info.backups[0].stopped_at, at(1796086810));
        assert_eq!(info.backups[0].repo_bytes, 30);
        assert_eq!(info.wal_max.as_deref(), Some("000000010000000000000009"));
    }

    #[test]
    fn unknown_or_missing_stanza_is_an_error() {
        assert!(parse(INFO, "other").unwrap_err().contains("`other`"));
        let missing = r#"[{"archive":[],"backup":[],"cipher":"none","db":[],"name":"x","repo":[],
            "status":{"code":1,"lock":{"backup":{"held":false}},"message":"missing stanza path"}}]"#;
        assert!(parse(missing, "x").unwrap_err().contains("does not exist"));
        assert!(parse("not json", "x").is_err());
    }

    #[test]
    fn window_runs_from_oldest_backup_to_last_archived_wal() {
        let info = parse(INFO, "main").unwrap();
        let plain = window(&info, None).unwrap();
        assert_eq!(plain.earliest, at(1796086811));
        assert_eq!(plain.latest, at(1796259621));
        assert_eq!(plain.latest_source, "latest_backup");
        let archiver = Archiver {
            last_archived_wal: Some("000000010000000000000009".into()),
            last_archived_time: Some(at(1796300000)),
        };
        let extended = window(&info, Some(&archiver)).unwrap();
        assert_eq!(extended.latest, at(1796300000));
        assert_eq!(extended.latest_source, "archived_wal");
        // The archiver's segment is not the repository's newest: not trusted.
        let other = Archiver {
            last_archived_wal: Some("000000010000000000000004".into()),
            ..archiver
        };
        assert_eq!(window(&info, Some(&other)).unwrap().latest, at(1796259621));
    }

    #[test]
    fn retention_keeps_the_union_of_count_and_days() {
        let info = parse(INFO, "main").unwrap();
        let now = at(1796259620 + 3600);
        assert_eq!(fulls_to_keep(&info, Some(1), None, now), 1);
        // One day back from `now` is before the newest full: the older full is needed too.
        assert_eq!(fulls_to_keep(&info, Some(1), Some(1), now), 2);
        assert_eq!(fulls_to_keep(&info, None, Some(0), now), 1);
        assert_eq!(fulls_to_keep(&info, Some(5), None, now), 5);
        // The old full goes with the incr built on it; fewer backups than N: nothing goes.
        assert_eq!(
            expired_by(&info, 1),
            vec!["20261201-010000F", "20261201-010000F_20261202-010000I"]
        );
        assert!(expired_by(&info, 2).is_empty());
        assert!(expired_by(&info, 5).is_empty());
    }
}
