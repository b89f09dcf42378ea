//! Redis backups through the driver: paced `SCAN` (COUNT 1000), then `DUMP` and `PTTL` of each
//! batch in one pipeline, streamed to `redis/keys.bin`; restored with
//! `RESTORE key ttl payload REPLACE`. Expiries are kept as absolute times, so a key restored
//! later expires when it would have anyway (and one already past its expiry is not restored).
//!
//! File format: the line `MIGRATE-REDIS-KEYS 1`, then per key: key length (u32, big-endian),
//! key, expiry in Unix milliseconds (i64, -1 for none), payload length (u32), `DUMP` payload.

use std::collections::HashSet;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use indicatif::ProgressBar;
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Value};

use super::manifest::RedisPart;
use crate::errors::Detailed;
use crate::redact::SecretUrl;

/// The key file inside a backup.
pub const FILE: &str = "redis/keys.bin";
const MAGIC: &[u8] = b"MIGRATE-REDIS-KEYS 1\n";
/// Keys per `SCAN` (and per `DUMP`/`RESTORE` pipeline).
const SCAN_COUNT: usize = 1000;
/// Pause between batches, so other clients get the server in between.
const PACE: Duration = Duration::from_millis(1);

pub struct Connection {
    connection: MultiplexedConnection,
    /// Every primary behind the URL (one unless it is a Redis Cluster), as every other
    /// command sees them (`crate::redis::cluster::Topology`): a backup reads them all.
    nodes: Vec<crate::redis::cluster::Node>,
    /// The URL is a Redis Cluster.
    pub cluster: bool,
    url: SecretUrl,
    pub db: u32,
    /// `host:port/db` (never a password).
    pub display: String,
    timeout: Duration,
}

pub async fn connect(url: &SecretUrl, timeout: Duration) -> anyhow::Result<Connection> {
    let redacted = url.redacted();
    crate::redact::check_userinfo(url.expose()).map_err(|message| anyhow::anyhow!(message))?;
    let client = redis::Client::open(url.expose())
        .map_err(|err| Detailed::new(format!("invalid Redis URL {redacted}: {err}")))?;
    let db = u32::try_from(client.get_connection_info().redis_settings().db()).unwrap_or(0);
    let display = match url::Url::parse(url.expose()) {
        Ok(parsed) => format!(
            "{}:{}/{db}",
            parsed.host_str().unwrap_or("localhost"),
            parsed.port().unwrap_or(6379)
        ),
        Err(_) => redacted.clone(),
    };
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(timeout))
        .set_response_timeout(Some(Duration::from_secs(300)));
    let mut connection = client
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .map_err(|err| anyhow::anyhow!("could not connect to Redis at {display}: {err}"))?;
    redis::cmd("PING")
        .query_async::<()>(&mut connection)
        .await
        .map_err(|err| anyhow::anyhow!("could not connect to Redis at {display}: {err}"))?;
    let topology = crate::redis::cluster::Topology::connect(&crate::config::RedisSettings {
        url: url.clone(),
        connect_timeout: timeout,
        keyspace: None,
    })
    .await?;
    let display = if topology.cluster {
        topology.display.clone()
    } else {
        display
    };
    Ok(Connection {
        connection,
        nodes: topology.primaries.clone(),
        cluster: topology.cluster,
        url: url.clone(),
        db,
        display,
        timeout,
    })
}

impl Connection {
    /// The same server, database `db`.
    pub async fn with_db(&self, db: u32) -> anyhow::Result<Connection> {
        let mut parsed = url::Url::parse(self.url.expose())
            .map_err(|err| anyhow::anyhow!("invalid Redis URL {}: {err}", self.url.redacted()))?;
        parsed.set_path(&format!("/{db}"));
        connect(&SecretUrl::new(parsed.to_string()), self.timeout).await
    }

    pub async fn server_version(&mut self) -> String {
        let info: String = redis::cmd("INFO")
            .arg("server")
            .query_async(&mut self.connection)
            .await
            .unwrap_or_default();
        info.lines()
            .find_map(|line| line.strip_prefix("redis_version:"))
            .map_or_else(|| "unknown".to_string(), |v| v.trim().to_string())
    }

    /// Keys of the database, on every primary.
    pub async fn dbsize(&mut self) -> anyhow::Result<u64> {
        let mut total = 0;
        for node in &self.nodes {
            total += crate::redis::cluster::query::<u64>(node, &redis::cmd("DBSIZE")).await?;
        }
        Ok(total)
    }

    pub async fn flushdb(&mut self) -> anyhow::Result<()> {
        redis::cmd("FLUSHDB")
            .query_async::<()>(&mut self.connection)
            .await
            .with_context(|| format!("FLUSHDB failed on {}", self.display))
    }

    /// The server's number of databases (16 when `CONFIG` is not allowed).
    async fn databases(&mut self) -> u32 {
        let reply: Result<Vec<String>, _> = redis::cmd("CONFIG")
            .arg("GET")
            .arg("databases")
            .query_async(&mut self.connection)
            .await;
        reply
            .ok()
            .and_then(|pair| pair.get(1).and_then(|n| n.parse().ok()))
            .unwrap_or(16)
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Writes every key of the connection's database to `backup/redis/keys.bin`.
pub async fn dump(
    connection: &mut Connection,
    backup: &Path,
    bar: &ProgressBar,
) -> anyhow::Result<RedisPart> {
    let path = backup.join(FILE);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let file = std::fs::File::create(&path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    out.write_all(MAGIC)?;
    bar.set_length(connection.dbsize().await?);
    let server_version = connection.server_version().await;
    let mut seen: HashSet<Vec<u8>> = HashSet::new();
    let (mut keys, mut keys_with_ttl) = (0u64, 0u64);
    // Every primary: a cluster's keys are spread over them.
    for node in connection.nodes.clone() {
        let mut node_connection = node.connection();
        let mut cursor: u64 = 0;
        loop {
            let (next, batch): (u64, Vec<Vec<u8>>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("COUNT")
                .arg(SCAN_COUNT)
                .query_async(&mut node_connection)
                .await
                .with_context(|| format!("SCAN failed on {}", node.address))?;
            // SCAN may return a key more than once.
            let fresh: Vec<Vec<u8>> = batch
                .into_iter()
                .filter(|k| seen.insert(k.clone()))
                .collect();
            if !fresh.is_empty() {
                let mut pipe = redis::pipe();
                for key in &fresh {
                    pipe.cmd("DUMP").arg(key).cmd("PTTL").arg(key);
                }
                let replies: Vec<Value> = pipe
                    .query_async(&mut node_connection)
                    .await
                    .with_context(|| format!("DUMP failed on {}", node.address))?;
                let read_at = now_ms();
                for (key, pair) in fresh.iter().zip(replies.chunks(2)) {
                    let (Value::BulkString(payload), Value::Int(pttl)) = (&pair[0], &pair[1])
                    else {
                        // The key expired or was deleted between SCAN and DUMP.
                        continue;
                    };
                    let expires_at = match *pttl {
                        -2 => continue,
                        ttl if ttl < 0 => -1,
                        ttl => {
                            keys_with_ttl += 1;
                            read_at + ttl
                        }
                    };
                    write_record(&mut out, key, expires_at, payload)
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    keys += 1;
                }
                bar.inc(fresh.len() as u64);
            }
            if next == 0 {
                break;
            }
            cursor = next;
            tokio::time::sleep(PACE).await;
        }
    }
    out.flush()
        .and_then(|()| out.get_ref().sync_all())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(RedisPart {
        source: connection.display.clone(),
        db: connection.db,
        server_version,
        data: FILE.to_string(),
        keys,
        keys_with_ttl,
    })
}

fn write_record(
    out: &mut impl Write,
    key: &[u8],
    expires_at: i64,
    payload: &[u8],
) -> std::io::Result<()> {
    let length = |n: usize| {
        u32::try_from(n)
            .map(u32::to_be_bytes)
            .map_err(|_| std::io::Error::other("a key or value larger than 4 GiB"))
    };
    out.write_all(&length(key.len())?)?;
    out.write_all(key)?;
    out.write_all(&expires_at.to_be_bytes())?;
    out.write_all(&length(payload.len())?)?;
    out.write_all(payload)
}

struct Record {
    key: Vec<u8>,
    expires_at: i64,
    payload: Vec<u8>,
}

fn read_record(input: &mut impl Read) -> std::io::Result<Option<Record>> {
    let mut word = [0u8; 4];
    match input.read_exact(&mut word) {
        Ok(()) => {}
        Err(err) if err.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(err) => return Err(err),
    }
    let mut key = vec![0u8; u32::from_be_bytes(word) as usize];
    input.read_exact(&mut key)?;
    let mut expiry = [0u8; 8];
    input.read_exact(&mut expiry)?;
    input.read_exact(&mut word)?;
    let mut payload = vec![0u8; u32::from_be_bytes(word) as usize];
    input.read_exact(&mut payload)?;
    Ok(Some(Record {
        key,
        expires_at: i64::from_be_bytes(expiry),
        payload,
    }))
}

/// What a restore did.
#[derive(Debug, Clone, Copy, Default)]
pub struct Restored {
    pub keys: u64,
    /// Keys whose expiry passed since the backup: not restored.
    pub expired: u64,
}

/// Restores the key file into the connection's database, flushing it first when `clean`.
pub async fn restore(
    connection: &mut Connection,
    backup: &Path,
    part: &RedisPart,
    clean: bool,
    bar: &ProgressBar,
) -> anyhow::Result<Restored> {
    if connection.cluster {
        return Err(Detailed::new(format!(
            "restoring a Redis backup into a Redis Cluster ({}) is not supported",
            connection.display
        ))
        .hint("restore into a single Redis server (then migrate the keys into the cluster, e.g. with redis-cli --cluster import)")
        .into());
    }
    if clean {
        connection.flushdb().await?;
    }
    let path = backup.join(&part.data);
    let file =
        std::fs::File::open(&path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut input = BufReader::with_capacity(1 << 20, file);
    let mut magic = vec![0u8; MAGIC.len()];
    input
        .read_exact(&mut magic)
        .ok()
        .filter(|()| magic == MAGIC)
        .with_context(|| format!("{} is not a migrate Redis key file", path.display()))?;
    bar.set_length(part.keys);
    let mut restored = Restored::default();
    loop {
        let mut pipe = redis::pipe();
        let mut queued = 0;
        let now = now_ms();
        while queued < SCAN_COUNT {
            let Some(record) = read_record(&mut input)
                .with_context(|| format!("{} is truncated or corrupt", path.display()))?
            else {
                break;
            };
            let ttl = match record.expires_at {
                -1 => 0,
                at if at <= now => {
                    restored.expired += 1;
                    continue;
                }
                at => at - now,
            };
            pipe.cmd("RESTORE")
                .arg(&record.key)
                .arg(ttl)
                .arg(&record.payload)
                .arg("REPLACE")
                .ignore();
            queued += 1;
        }
        if queued == 0 {
            break;
        }
        pipe.query_async::<()>(&mut connection.connection)
            .await
            .map_err(|err| {
                let mut error = Detailed::new(format!(
                    "RESTORE failed on {}: {err}",
                    connection.display
                ));
                if err.to_string().contains("payload version") {
                    error = error.hint(
                        "the backup comes from a newer Redis than the target: restore into a server at least as new",
                    );
                }
                error
            })?;
        restored.keys += queued as u64;
        bar.inc(queued as u64);
        tokio::time::sleep(PACE).await;
    }
    Ok(restored)
}

/// An empty database index on the same server for a verification restore: the highest one
/// that holds no key, other than the source's own.
pub async fn scratch_db(connection: &mut Connection) -> anyhow::Result<Connection> {
    let databases = connection.databases().await;
    for db in (1..databases).rev() {
        if db == connection.db {
            continue;
        }
        let mut candidate = connection.with_db(db).await?;
        if candidate.dbsize().await? == 0 {
            return Ok(candidate);
        }
    }
    Err(Detailed::new(format!(
        "no empty database index on {} to restore into for verification",
        connection.display
    ))
    .into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip() {
        let mut bytes = Vec::new();
        write_record(&mut bytes, b"session:1", -1, b"payload").unwrap();
        write_record(&mut bytes, b"", 1_700_000_000_000, b"").unwrap();
        let mut input = &bytes[..];
        let first = read_record(&mut input).unwrap().unwrap();
        assert_eq!(first.key, b"session:1");
        assert_eq!(first.expires_at, -1);
        assert_eq!(first.payload, b"payload");
        let second = read_record(&mut input).unwrap().unwrap();
        assert_eq!(second.expires_at, 1_700_000_000_000);
        assert!(read_record(&mut input).unwrap().is_none());
        let mut truncated = &bytes[..5];
        assert!(read_record(&mut truncated).is_err());
    }
}
