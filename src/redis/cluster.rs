//! Where Redis commands go: one server, or every primary of a Redis Cluster.
//!
//! Server-wide state (`CONFIG SET`, `ACL`, `FUNCTION LOAD`, `SCAN`) lives on each node of a
//! cluster separately, so those commands are sent to every primary, discovered with
//! `CLUSTER NODES`. Commands on one key go to the primary that serves the key's slot.

use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, Cmd, ConnectionAddr, ConnectionInfo, Value};

use crate::config::RedisSettings;
use crate::errors::Detailed;

const RESPONSE_TIMEOUT: Duration = Duration::from_secs(60);

/// One server we talk to.
#[derive(Clone)]
pub struct Node {
    /// `host:port`.
    pub address: String,
    connection: MultiplexedConnection,
}

impl Node {
    /// A handle on the node's connection (multiplexed: cheap to clone).
    pub fn connection(&self) -> MultiplexedConnection {
        self.connection.clone()
    }
}

/// The servers behind a Redis URL.
pub struct Topology {
    /// `user@host:port/db`, or `host:port (cluster, 3 primaries)`.
    pub display: String,
    pub cluster: bool,
    pub primaries: Vec<Node>,
    /// Slot ranges (inclusive) and the index of the primary serving them.
    slots: Vec<(u16, u16, usize)>,
}

/// Whether the server answers: `Ok(Err(reason))` while it refuses connections, cannot be
/// reached or is loading its dataset; `Ok(Ok(()))` once it answers, even with an error such as
/// a failed authentication. One attempt, of at most `attempt_timeout`.
pub async fn probe(
    settings: &RedisSettings,
    attempt_timeout: Duration,
) -> anyhow::Result<Result<(), String>> {
    let client = Client::open(settings.url.expose()).map_err(|err| {
        Detailed::new(format!(
            "invalid Redis URL {}: {}",
            settings.url.redacted(),
            short_cause(&err)
        ))
    })?;
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(attempt_timeout))
        .set_response_timeout(Some(attempt_timeout));
    let unavailable = |err: &redis::RedisError| {
        err.is_io_error()
            || err.is_connection_refusal()
            || err.is_timeout()
            || err.is_connection_dropped()
            || err.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::BusyLoading)
    };
    let answer = match client
        .get_multiplexed_async_connection_with_config(&config)
        .await
    {
        Ok(mut connection) => redis::cmd("PING")
            .query_async::<Value>(&mut connection)
            .await
            .map(drop),
        Err(err) => Err(err),
    };
    Ok(match answer {
        Err(err) if unavailable(&err) => Err(short_cause(&err)),
        _ => Ok(()),
    })
}

impl Topology {
    /// Connects to the URL's server and, for a cluster, to every primary. Nothing is written.
    pub async fn connect(settings: &RedisSettings) -> anyhow::Result<Topology> {
        let redacted = settings.url.redacted();
        crate::redact::check_userinfo(settings.url.expose())
            .map_err(|message| anyhow::anyhow!(message))?;
        let client = Client::open(settings.url.expose()).map_err(|err| {
            Detailed::new(format!(
                "invalid Redis URL {redacted}: {}",
                short_cause(&err)
            ))
            .hint("expected redis://[user:password@]host[:port][/db]")
        })?;
        let info = client.get_connection_info().clone();
        let display = display_of(&info);
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(settings.connect_timeout))
            .set_response_timeout(Some(RESPONSE_TIMEOUT));
        let unreachable = |err: redis::RedisError| {
            Detailed::new(format!(
                "could not connect to Redis at {display}: {}",
                short_cause(&err)
            ))
            .hint(
                "is the server running and reachable? check --redis-url, REDIS_URL or [redis] url; to wait for one that is starting, pass --wait-timeout 30s",
            )
        };
        let seed = client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .map_err(unreachable)?;
        let seed_address = address_of(&info);
        let seed = Node {
            address: seed_address.clone(),
            connection: seed,
        };
        let cluster_info: String = query(&seed, &redis::cmd("INFO").arg("cluster").clone())
            .await
            .map_err(|e| e.context(format!("on {display}")))?;
        let cluster = cluster_info
            .lines()
            .any(|line| line.trim() == "cluster_enabled:1");
        if !cluster {
            return Ok(Topology {
                display,
                cluster: false,
                primaries: vec![seed],
                slots: vec![(0, 16383, 0)],
            });
        }
        if info.redis_settings().db() != 0 {
            return Err(Detailed::new(format!(
                "{display} is a Redis Cluster, which has only database 0"
            ))
            .hint("remove the database number from the Redis URL")
            .into());
        }
        let state: String = query(&seed, &redis::cmd("CLUSTER").arg("INFO").clone()).await?;
        if !state.lines().any(|line| line.trim() == "cluster_state:ok") {
            return Err(Detailed::new(format!(
                "the Redis Cluster behind {display} is not healthy (cluster_state is not ok)"
            ))
            .hint("check `redis-cli -c cluster info` and fix the cluster before migrating")
            .into());
        }
        let nodes: String = query(&seed, &redis::cmd("CLUSTER").arg("NODES").clone()).await?;
        let seed_host = match info.addr() {
            ConnectionAddr::Tcp(host, _) => host.clone(),
            ConnectionAddr::TcpTls { host, .. } => host.clone(),
            _ => "127.0.0.1".to_string(),
        };
        let mut primaries = Vec::new();
        let mut slots = Vec::new();
        for primary in parse_cluster_nodes(&nodes, &seed_host) {
            let index = primaries.len();
            for (first, last) in &primary.slots {
                slots.push((*first, *last, index));
            }
            if primary.address == seed.address {
                primaries.push(seed.clone());
                continue;
            }
            let node_info: ConnectionInfo = info
                .clone()
                .set_addr(ConnectionAddr::Tcp(primary.host.clone(), primary.port));
            let node_client = Client::open(node_info).map_err(unreachable)?;
            let connection = node_client
                .get_multiplexed_async_connection_with_config(&config)
                .await
                .map_err(|err| {
                    Detailed::new(format!(
                        "could not connect to Redis Cluster primary {} (announced by {display}): {}",
                        primary.address,
                        short_cause(&err)
                    ))
                })?;
            primaries.push(Node {
                address: primary.address,
                connection,
            });
        }
        if primaries.is_empty() {
            return Err(Detailed::new(format!(
                "the Redis Cluster behind {display} lists no reachable primary"
            ))
            .into());
        }
        let display = format!(
            "{display} (cluster, {} primar{})",
            primaries.len(),
            if primaries.len() == 1 { "y" } else { "ies" }
        );
        Ok(Topology {
            display,
            cluster: true,
            primaries,
            slots,
        })
    }

    /// The primary serving `key`.
    pub async fn node_for_key(&self, key: &str) -> Result<&Node, Detailed> {
        if !self.cluster {
            return Ok(&self.primaries[0]);
        }
        let slot: i64 = query(
            &self.primaries[0],
            &redis::cmd("CLUSTER").arg("KEYSLOT").arg(key).clone(),
        )
        .await?;
        self.slots
            .iter()
            .find(|(first, last, _)| (i64::from(*first)..=i64::from(*last)).contains(&slot))
            .map(|(_, _, index)| &self.primaries[*index])
            .ok_or_else(|| Detailed::new(format!("no primary serves slot {slot} of key {key}")))
    }

    /// `FLUSHDB` of the URL's database, on every primary: every key is deleted (`reset`).
    pub async fn flush_database(&self) -> Result<(), Detailed> {
        for node in &self.primaries {
            query::<()>(node, &redis::cmd("FLUSHDB")).await?;
        }
        Ok(())
    }
}

/// Runs a command on one node, with the node named in errors.
pub async fn query<T: redis::FromRedisValue>(node: &Node, command: &Cmd) -> Result<T, Detailed> {
    let mut connection = node.connection.clone();
    command.query_async(&mut connection).await.map_err(|err| {
        Detailed::new(format!(
            "redis {} on {}: {}",
            command_name(command),
            node.address,
            short_cause(&err)
        ))
    })
}

/// The raw reply, for commands whose shape differs between servers.
pub async fn query_value(node: &Node, command: &Cmd) -> Result<Value, Detailed> {
    query::<Value>(node, command).await
}

fn command_name(command: &Cmd) -> String {
    command
        .args_iter()
        .take(2)
        .filter_map(|arg| match arg {
            redis::Arg::Simple(bytes) => Some(String::from_utf8_lossy(bytes).to_uppercase()),
            _ => None,
        })
        .take_while(|word| word.chars().all(|c| c.is_ascii_alphabetic() || c == '-'))
        .collect::<Vec<_>>()
        .join(" ")
}

/// One line for a Redis error.
pub fn short_cause(err: &redis::RedisError) -> String {
    if err.is_connection_refusal() {
        return "connection refused".to_string();
    }
    if err.is_timeout() {
        return "timed out".to_string();
    }
    let text = match (err.code(), err.detail()) {
        (Some(code), Some(detail)) => format!("{code} {detail}"),
        _ => err.to_string(),
    };
    crate::redact::redact_url(&text)
}

fn address_of(info: &ConnectionInfo) -> String {
    match info.addr() {
        ConnectionAddr::Tcp(host, port) => format!("{host}:{port}"),
        ConnectionAddr::TcpTls { host, port, .. } => format!("{host}:{port}"),
        ConnectionAddr::Unix(path) => path.display().to_string(),
        _ => "?".to_string(),
    }
}

fn display_of(info: &ConnectionInfo) -> String {
    let user = info
        .redis_settings()
        .username()
        .map_or_else(String::new, |u| format!("{u}@"));
    format!("{user}{}/{}", address_of(info), info.redis_settings().db())
}

/// A primary as `CLUSTER NODES` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterPrimary {
    pub address: String,
    pub host: String,
    pub port: u16,
    pub slots: Vec<(u16, u16)>,
}

/// Healthy primaries from `CLUSTER NODES` output
/// (`id ip:port@bus[,hostname] flags master ping pong epoch state slot...`).
pub fn parse_cluster_nodes(text: &str, seed_host: &str) -> Vec<ClusterPrimary> {
    let mut primaries = Vec::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 8 {
            continue;
        }
        let flags: Vec<&str> = fields[2].split(',').collect();
        if !flags.contains(&"master")
            || flags
                .iter()
                .any(|f| matches!(*f, "fail" | "fail?" | "noaddr" | "handshake"))
            || fields[7] != "connected"
        {
            continue;
        }
        let address = fields[1].split(['@', ',']).next().unwrap_or("");
        let Some((host, port)) = address.rsplit_once(':') else {
            continue;
        };
        let Ok(port) = port.parse::<u16>() else {
            continue;
        };
        let host = if host.is_empty() { seed_host } else { host };
        let slots = fields[8..]
            .iter()
            .filter(|s| !s.starts_with('['))
            .filter_map(|range| match range.split_once('-') {
                Some((a, b)) => Some((a.parse().ok()?, b.parse().ok()?)),
                None => range.parse().ok().map(|s| (s, s)),
            })
            .collect();
        primaries.push(ClusterPrimary {
            address: format!("{host}:{port}"),
            host: host.to_string(),
            port,
            slots,
        });
    }
    primaries
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_nodes_primaries_and_slots() {
        let text = "\
07c3 127.0.0.1:30004@40004 slave e7d1 0 1426238317239 4 connected
67ed 127.0.0.1:30002@40002,host-b master - 0 1426238316232 2 connected 5461-10922
292f 127.0.0.1:30003@40003 master - 0 1426238318243 3 connected 10923-16383 [93-<-292f]
e7d1 :30001@40001 myself,master - 0 0 1 connected 0-5460 17
aaaa 127.0.0.1:30005@40005 master,fail - 0 0 5 disconnected
";
        let primaries = parse_cluster_nodes(text, "10.0.0.1");
        assert_eq!(
            primaries
                .iter()
                .map(|p| (p.address.as_str(), p.slots.clone()))
                .collect::<Vec<_>>(),
            vec![
                ("127.0.0.1:30002", vec![(5461, 10922)]),
                ("127.0.0.1:30003", vec![(10923, 16383)]),
                ("10.0.0.1:30001", vec![(0, 5460), (17, 17)]),
            ]
        );
    }
}
