//! Keys against the declaration: a paced `SCAN` of every primary (never `KEYS`) that finds
//! keys of no declared pattern, keys of the wrong type, and missing or too-long TTLs.

use std::collections::BTreeMap;
use std::time::Duration;

use redis::Value;
use serde::Serialize;

use super::cluster::{Node, Topology, query};
use super::keyspace::Keyspace;
use crate::config::file::TtlPolicy;
use crate::errors::Detailed;

/// How hard the scan may press on the server.
#[derive(Debug, Clone, Copy)]
pub struct AuditOptions {
    /// `SCAN ... COUNT n`: keys looked at per round trip.
    pub batch: usize,
    /// Pause between two batches on the same node.
    pub pause: Duration,
    /// At most this many findings are kept (all are counted).
    pub max_findings: usize,
    /// Stop after looking at about this many keys (whole batches): a sample of a big keyspace.
    pub max_keys: Option<u64>,
}

impl Default for AuditOptions {
    fn default() -> Self {
        AuditOptions {
            batch: 500,
            pause: Duration::from_millis(2),
            max_findings: 100,
            max_keys: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Problem {
    UnknownPattern,
    WrongType,
    MissingTtl,
    TtlTooLong,
    UnexpectedTtl,
}

#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub key: String,
    pub node: String,
    pub pattern: Option<String>,
    pub problem: Problem,
    pub detail: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct AuditReport {
    /// Keys looked at (a key may be counted twice if the keyspace was rehashed meanwhile).
    pub scanned: u64,
    pub nodes: Vec<String>,
    /// Keys per declared pattern.
    pub per_pattern: BTreeMap<String, u64>,
    pub findings_total: u64,
    pub findings: Vec<Finding>,
    /// The scan stopped at `max_keys`: the counts are those of a sample.
    pub sampled: bool,
}

/// Scans every primary and checks each key against the declared patterns.
pub async fn audit(
    topology: &Topology,
    keyspace: &Keyspace,
    options: AuditOptions,
) -> Result<AuditReport, Detailed> {
    let mut report = AuditReport {
        nodes: topology
            .primaries
            .iter()
            .map(|n| n.address.clone())
            .collect(),
        ..AuditReport::default()
    };
    let schema_key = keyspace.schema_key();
    'nodes: for node in &topology.primaries {
        let mut cursor: u64 = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = query(
                node,
                redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("COUNT")
                    .arg(options.batch.max(1)),
            )
            .await?;
            let keys: Vec<String> = keys.into_iter().filter(|k| *k != schema_key).collect();
            if !keys.is_empty() {
                check_batch(node, keyspace, &keys, options, &mut report).await?;
            }
            cursor = next;
            if cursor == 0 {
                break;
            }
            if options.max_keys.is_some_and(|max| report.scanned >= max) {
                report.sampled = true;
                break 'nodes;
            }
            tokio::time::sleep(options.pause).await;
        }
    }
    Ok(report)
}

async fn check_batch(
    node: &Node,
    keyspace: &Keyspace,
    keys: &[String],
    options: AuditOptions,
    report: &mut AuditReport,
) -> Result<(), Detailed> {
    let mut pipeline = redis::pipe();
    for key in keys {
        pipeline.cmd("TYPE").arg(key).cmd("PTTL").arg(key);
    }
    let mut connection = node.connection();
    let replies: Vec<Value> = pipeline.query_async(&mut connection).await.map_err(|err| {
        Detailed::new(format!(
            "redis TYPE/PTTL on {}: {}",
            node.address,
            super::cluster::short_cause(&err)
        ))
    })?;
    for (key, pair) in keys.iter().zip(replies.chunks(2)) {
        report.scanned += 1;
        let (key_type, pttl) = match pair {
            [Value::SimpleString(t), Value::Int(ms)] => (t.clone(), *ms),
            [Value::BulkString(t), Value::Int(ms)] => {
                (String::from_utf8_lossy(t).into_owned(), *ms)
            }
            _ => continue,
        };
        // Expired or deleted between SCAN and TYPE.
        if key_type == "none" || pttl == -2 {
            continue;
        }
        let mut finding = |pattern: Option<String>, problem: Problem, detail: String| {
            report.findings_total += 1;
            if report.findings.len() < options.max_findings {
                report.findings.push(Finding {
                    key: key.clone(),
                    node: node.address.clone(),
                    pattern,
                    problem,
                    detail,
                });
            }
        };
        let Some(pattern) = keyspace.pattern_of(key) else {
            finding(
                None,
                Problem::UnknownPattern,
                format!("a {key_type} matching no declared pattern"),
            );
            continue;
        };
        *report
            .per_pattern
            .entry(pattern.pattern.clone())
            .or_default() += 1;
        let declared = Some(pattern.pattern.clone());
        if key_type != pattern.key_type.as_str() {
            finding(
                declared.clone(),
                Problem::WrongType,
                format!("a {key_type}, declared {}", pattern.key_type.as_str()),
            );
        }
        match (pattern.ttl, pttl) {
            (TtlPolicy::Expires(_), -1) => {
                finding(declared, Problem::MissingTtl, "no TTL".to_string());
            }
            (TtlPolicy::Expires(_), ms) => {
                if let Some(limit) = pattern.ttl_limit()
                    && u128::from(ms.unsigned_abs()) > limit.as_millis()
                {
                    finding(
                        declared,
                        Problem::TtlTooLong,
                        format!(
                            "TTL {}, at most {}",
                            crate::output::human_ms(ms.unsigned_abs()),
                            crate::output::human_ms(limit.as_millis() as u64)
                        ),
                    );
                }
            }
            (TtlPolicy::None, ms) if ms >= 0 => {
                finding(
                    declared,
                    Problem::UnexpectedTtl,
                    format!(
                        "TTL {}, declared never to expire",
                        crate::output::human_ms(ms.unsigned_abs())
                    ),
                );
            }
            (TtlPolicy::None, _) => {}
        }
    }
    Ok(())
}
