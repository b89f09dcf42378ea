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
    /// Examples kept per kind of problem (all findings are counted).
    pub examples: usize,
    /// Stop after looking at about this many keys (whole batches): a sample of a big keyspace.
    pub max_keys: Option<u64>,
    /// Give keys found without their TTL (or with a longer one) the declared TTL, batch by
    /// batch in the same pipelined, paced pass (`PEXPIRE key ttl NX|LT`): retention's fix.
    pub fix_ttls: bool,
}

impl Default for AuditOptions {
    fn default() -> Self {
        // One round trip of 2,000 TYPE/PTTL replies and the next SCAN keeps the (single-
        // threaded) server busy for well under a millisecond; the pause then leaves it to the
        // application for at least as long.
        AuditOptions {
            batch: 1000,
            pause: Duration::from_millis(1),
            examples: 5,
            max_keys: None,
            fix_ttls: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
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

/// Every finding of one kind of problem: counted, with the patterns concerned and a few
/// examples (memory stays flat whatever the keyspace holds).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Tally {
    pub count: u64,
    pub patterns: Vec<String>,
    pub examples: Vec<Finding>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct AuditReport {
    /// Keys looked at (a key may be counted twice if the keyspace was rehashed meanwhile).
    pub scanned: u64,
    pub nodes: Vec<String>,
    /// Keys per declared pattern.
    pub per_pattern: BTreeMap<String, u64>,
    pub problems: BTreeMap<Problem, Tally>,
    /// Findings left out because the key or its pattern is ignored.
    pub ignored: u64,
    /// The scan stopped at `max_keys`: the counts are those of a sample.
    pub sampled: bool,
    /// With `fix_ttls`: keys given their declared TTL.
    pub fixed: u64,
}

impl AuditReport {
    pub fn findings_total(&self) -> u64 {
        self.problems.values().map(|t| t.count).sum()
    }
}

/// Whether a finding on `key` (of `pattern`) is left out.
pub type Ignored<'a> = &'a dyn Fn(&str, Option<&str>) -> bool;

/// Scans every primary and checks each key against the declared patterns. Each round trip
/// carries the `TYPE`/`PTTL` checks of one batch and the `SCAN` for the next.
pub async fn audit(
    topology: &Topology,
    keyspace: &Keyspace,
    options: AuditOptions,
    ignored: Ignored<'_>,
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
    let batch = options.batch.max(1);
    let scan = |cursor: u64| {
        let mut command = redis::cmd("SCAN");
        command.arg(cursor).arg("COUNT").arg(batch);
        command
    };
    'nodes: for node in &topology.primaries {
        let (mut cursor, mut keys): (u64, Vec<String>) = query(node, &scan(0)).await?;
        loop {
            keys.retain(|k| *k != schema_key);
            let sample_full = options
                .max_keys
                .is_some_and(|max| report.scanned + keys.len() as u64 >= max);
            let next = (cursor != 0 && !sample_full).then(|| scan(cursor));
            let mut fixes = Vec::new();
            let scanned = check_batch(
                node,
                keyspace,
                &keys,
                next,
                options,
                ignored,
                &mut report,
                &mut fixes,
            )
            .await?;
            if !fixes.is_empty() {
                report.fixed += fix_batch(node, &fixes).await?;
            }
            if cursor != 0 && sample_full {
                report.sampled = true;
                break 'nodes;
            }
            match scanned {
                Some((next_cursor, next_keys)) => {
                    cursor = next_cursor;
                    keys = next_keys;
                }
                None => break,
            }
            if !options.pause.is_zero() {
                tokio::time::sleep(options.pause).await;
            }
        }
    }
    Ok(report)
}

/// `PEXPIRE key ms NX|LT` for one batch's keys, in one pipeline; how many were changed.
async fn fix_batch(node: &Node, fixes: &[(String, u64, &'static str)]) -> Result<u64, Detailed> {
    let mut pipeline = redis::pipe();
    for (key, ms, flag) in fixes {
        pipeline.cmd("PEXPIRE").arg(key).arg(*ms).arg(*flag);
    }
    let replies: Vec<i64> = pipeline
        .query_async(&mut node.connection())
        .await
        .map_err(|err| {
            Detailed::new(format!(
                "redis PEXPIRE on {}: {}",
                node.address,
                super::cluster::short_cause(&err)
            ))
        })?;
    Ok(replies.iter().filter(|r| **r == 1).count() as u64)
}

/// Checks one batch of keys; with `next`, the same round trip also runs that `SCAN`, whose
/// cursor and keys are returned. With `options.fix_ttls`, the keys whose TTL to set are added
/// to `fixes`.
#[allow(clippy::too_many_arguments)]
async fn check_batch(
    node: &Node,
    keyspace: &Keyspace,
    keys: &[String],
    next: Option<redis::Cmd>,
    options: AuditOptions,
    ignored: Ignored<'_>,
    report: &mut AuditReport,
    fixes: &mut Vec<(String, u64, &'static str)>,
) -> Result<Option<(u64, Vec<String>)>, Detailed> {
    let mut pipeline = redis::pipe();
    for key in keys {
        pipeline.cmd("TYPE").arg(key).cmd("PTTL").arg(key);
    }
    let scanning = next.is_some();
    if let Some(command) = next {
        pipeline.add_command(command);
    }
    if keys.is_empty() && !scanning {
        return Ok(None);
    }
    let mut connection = node.connection();
    let failed =
        |what: String| Detailed::new(format!("redis TYPE/PTTL/SCAN on {}: {what}", node.address));
    let mut replies: Vec<Value> = pipeline
        .query_async(&mut connection)
        .await
        .map_err(|err| failed(super::cluster::short_cause(&err)))?;
    let scanned = if scanning {
        let reply = replies
            .pop()
            .ok_or_else(|| failed("no reply to SCAN".to_string()))?;
        Some(
            redis::from_redis_value::<(u64, Vec<String>)>(reply)
                .map_err(|err| failed(format!("unexpected SCAN reply: {err}")))?,
        )
    } else {
        None
    };
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
        let mut finding = |pattern: Option<String>, problem: Problem, detail: String| -> bool {
            if ignored(key, pattern.as_deref()) {
                report.ignored += 1;
                return false;
            }
            let tally = report.problems.entry(problem).or_default();
            tally.count += 1;
            if let Some(pattern) = &pattern
                && !tally.patterns.contains(pattern)
            {
                tally.patterns.push(pattern.clone());
            }
            if tally.examples.len() < options.examples {
                tally.examples.push(Finding {
                    key: key.clone(),
                    node: node.address.clone(),
                    pattern,
                    problem,
                    detail,
                });
            }
            true
        };
        let Some(pattern) = keyspace.pattern_of(key) else {
            let _ = finding(
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
            let _ = finding(
                declared.clone(),
                Problem::WrongType,
                format!("a {key_type}, declared {}", pattern.key_type.as_str()),
            );
        }
        match (pattern.ttl, pttl) {
            (TtlPolicy::Expires(ttl), -1) => {
                if finding(declared, Problem::MissingTtl, "no TTL".to_string()) && options.fix_ttls
                {
                    fixes.push((key.clone(), ttl.as_millis() as u64, "NX"));
                }
            }
            (TtlPolicy::Expires(ttl), ms) => {
                if let Some(limit) = pattern.ttl_limit()
                    && u128::from(ms.unsigned_abs()) > limit.as_millis()
                    && finding(
                        declared,
                        Problem::TtlTooLong,
                        format!(
                            "TTL {}, at most {}",
                            crate::output::human_ms(ms.unsigned_abs()),
                            crate::output::human_ms(limit.as_millis() as u64)
                        ),
                    )
                    && options.fix_ttls
                {
                    fixes.push((key.clone(), ttl.as_millis() as u64, "LT"));
                }
            }
            (TtlPolicy::None, ms) if ms >= 0 => {
                let _ = finding(
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
    Ok(scanned)
}
