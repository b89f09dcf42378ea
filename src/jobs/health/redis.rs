//! Redis health, on every primary: memory against `maxmemory`, evictions, persistence (RDB
//! snapshots and AOF, as seed 000 asks), and keys without the TTL their pattern declares (the
//! keyspace audit of `drift`, on a sample).

use std::collections::BTreeMap;

use super::{Finding, Severity, StoreHealth, size};
use crate::config::RedisSettings;
use crate::config::health::HealthSettings;
use crate::redis::audit::{self, AuditOptions, Problem};
use crate::redis::cluster::{Node, Topology, query};
use crate::redis::keyspace::{self, Passwords};

/// `INFO` as `field → value`.
fn parse_info(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.trim().split_once(':'))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

pub async fn check(redis: &RedisSettings, health: &HealthSettings) -> anyhow::Result<StoreHealth> {
    let topology = Topology::connect(redis).await?;
    let mut store = StoreHealth::new("redis", topology.display.clone());
    store.checks.extend(["memory", "evictions", "persistence"]);
    for node in &topology.primaries {
        match query::<String>(node, redis::cmd("INFO").arg("everything")).await {
            Ok(text) => {
                let info = parse_info(&text);
                memory(node, &info, health, &mut store);
                evictions(node, &info, &mut store);
                persistence(node, &info, &mut store).await;
            }
            Err(err) => store.could_not_check("memory", err),
        }
    }
    if let Some(declaration) = &redis.keyspace {
        store.checks.push("key-ttls");
        let keyspace = keyspace::load(declaration, Passwords::IfSet)?;
        let options = AuditOptions {
            max_keys: Some(health.redis_sample),
            batch: AuditOptions::default()
                .batch
                .min(usize::try_from(health.redis_sample).unwrap_or(usize::MAX)),
            ..AuditOptions::default()
        };
        match audit::audit(&topology, &keyspace, options, &|_, _| false).await {
            Ok(report) => {
                store.fact(
                    "keys_audited",
                    format!(
                        "{}{}",
                        report.scanned,
                        if report.sampled { " (a sample)" } else { "" }
                    ),
                );
                for (problem, tally) in &report.problems {
                    let (what, fix) = match problem {
                        Problem::MissingTtl => (
                            "without the TTL their pattern declares",
                            "find the code path that writes them without EXPIRE (SET ... EX, or EXPIRE after writing); `migrate retention run` can set the TTLs of the existing keys",
                        ),
                        Problem::TtlTooLong => (
                            "with a TTL longer than their pattern allows",
                            "fix the writer's TTL; `migrate retention run` shortens the existing ones",
                        ),
                        _ => continue,
                    };
                    let examples: Vec<&str> =
                        tally.examples.iter().map(|f| f.key.as_str()).collect();
                    store.findings.push(Finding::new(
                        Severity::Warning,
                        "key-ttl",
                        tally.patterns.join(", "),
                        format!(
                            "{} {what}{} (e.g. {})",
                            crate::output::count(tally.count, "key"),
                            if report.sampled {
                                format!(" in a sample of {} keys", report.scanned)
                            } else {
                                String::new()
                            },
                            examples.join(", ")
                        ),
                        fix,
                    ));
                }
            }
            Err(err) => store.could_not_check("key-ttls", err),
        }
    }
    store.sort();
    Ok(store)
}

fn memory(
    node: &Node,
    info: &BTreeMap<String, String>,
    health: &HealthSettings,
    store: &mut StoreHealth,
) {
    let used: i64 = info
        .get("used_memory")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let max: i64 = info
        .get("maxmemory")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let policy = info.get("maxmemory_policy").cloned().unwrap_or_default();
    store.fact(
        &format!("used_memory {}", node.address),
        if max > 0 {
            format!("{} of {} ({policy})", size(used), size(max))
        } else {
            format!("{} (no maxmemory)", size(used))
        },
    );
    if max > 0 && used as f64 / max as f64 >= health.redis_memory {
        store.findings.push(Finding::new(
            Severity::Warning,
            "memory",
            node.address.clone(),
            format!(
                "{} used of maxmemory {} ({:.0}%, threshold {:.0}%), policy {policy}",
                size(used),
                size(max),
                used as f64 / max as f64 * 100.0,
                health.redis_memory * 100.0
            ),
            if policy == "noeviction" {
                "writes will fail at the limit: raise maxmemory, or let keys with a TTL be evicted (volatile-lru)"
            } else {
                "keys will be evicted at the limit: raise maxmemory, or check that every pattern has its TTL"
            },
        ));
    }
}

fn evictions(node: &Node, info: &BTreeMap<String, String>, store: &mut StoreHealth) {
    let evicted: u64 = info
        .get("evicted_keys")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    if evicted > 0 {
        store.findings.push(Finding::new(
            Severity::Warning,
            "evictions",
            node.address.clone(),
            format!(
                "{evicted} keys evicted since the server started (policy {}): data the application wrote is gone before its TTL",
                info.get("maxmemory_policy").map_or("?", String::as_str)
            ),
            "raise maxmemory or reduce what is kept (shorter TTLs); CONFIG RESETSTAT clears the counter once fixed",
        ));
    }
}

/// RDB snapshots and the AOF: both on, and their last writes succeeded.
async fn persistence(node: &Node, info: &BTreeMap<String, String>, store: &mut StoreHealth) {
    if info
        .get("rdb_last_bgsave_status")
        .is_some_and(|s| s != "ok")
    {
        store.findings.push(Finding::new(
            Severity::Critical,
            "persistence",
            node.address.clone(),
            "the last RDB snapshot failed",
            "read the Redis log (disk full? permissions on dir?)",
        ));
    }
    if info.get("aof_last_write_status").is_some_and(|s| s != "ok") {
        store.findings.push(Finding::new(
            Severity::Critical,
            "persistence",
            node.address.clone(),
            "the last AOF write failed",
            "read the Redis log (disk full? permissions on dir?)",
        ));
    }
    let aof = info.get("aof_enabled").map(String::as_str) == Some("1");
    if !aof {
        store.findings.push(Finding::new(
            Severity::Warning,
            "persistence",
            format!("{} appendonly", node.address),
            "the append-only file is off: a crash loses every write since the last snapshot",
            "CONFIG SET appendonly yes, and appendonly yes in redis.conf (CONFIG REWRITE)",
        ));
    }
    // The snapshot schedule is only in the configuration; managed servers may refuse CONFIG.
    match query::<Vec<String>>(node, redis::cmd("CONFIG").arg("GET").arg("save")).await {
        Ok(reply) => {
            let save = reply.get(1).cloned().unwrap_or_default();
            store.fact(&format!("save {}", node.address), format!("{save:?}"));
            if save.trim().is_empty() {
                store.findings.push(Finding::new(
                    Severity::Warning,
                    "persistence",
                    format!("{} save", node.address),
                    "RDB snapshots are off (save \"\"): no point-in-time file to restore from",
                    "CONFIG SET save \"3600 1 300 100 60 10000\", and the same in redis.conf (CONFIG REWRITE)",
                ));
            }
        }
        Err(err) => store.findings.push(Finding::new(
            Severity::Warning,
            "not-checked",
            format!("{} save", node.address),
            format!("the RDB snapshot schedule could not be read: {err}"),
            "allow CONFIG GET for this user, or check the provider's persistence settings",
        )),
    }
}
