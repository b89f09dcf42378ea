//! Redis drift: the server against the `[redis]` declaration. The setup plan gives the schema
//! version, notification flags (as sets), function library hashes and ACL users that differ;
//! the paced `SCAN` audit gives the keys of no declared pattern, of the wrong type, and with a
//! missing or too long TTL (counts plus a few examples per kind of problem).

use std::collections::BTreeMap;

use serde::Serialize;

use super::audit::{self, AuditOptions, Finding, Problem};
use super::cluster::Topology;
use super::keyspace::{Keyspace, glob_match};
use super::setup::{self, ActionKind};
use crate::errors::Detailed;
use crate::output::count;

/// Examples kept per kind of key problem.
const EXAMPLES: usize = 5;

/// Something the setup plan would change: `notify-keyspace-events`, a function library, an
/// ACL user or the schema record.
#[derive(Debug, Clone, Serialize)]
pub struct RedisDifference {
    /// `notify_keyspace_events`, `function`, `acl_user`, `schema`.
    pub kind: &'static str,
    pub object: String,
    pub detail: String,
    pub nodes: Vec<String>,
}

/// One kind of key problem.
#[derive(Debug, Clone, Serialize)]
pub struct KeyProblem {
    pub problem: Problem,
    pub count: u64,
    /// Declared patterns concerned (none for keys of no pattern).
    pub patterns: Vec<String>,
    pub examples: Vec<Finding>,
}

#[derive(Debug, Clone, Serialize)]
pub struct KeysAudit {
    pub scanned: u64,
    /// Stopped at `--sample`: counts are those of a sample.
    pub sampled: bool,
    pub nodes: Vec<String>,
    pub per_pattern: BTreeMap<String, u64>,
    pub problems: Vec<KeyProblem>,
}

#[derive(Debug, Serialize)]
pub struct RedisDrift {
    /// Always `redis`.
    pub store: &'static str,
    pub database: String,
    pub namespace: String,
    pub clean: bool,
    pub declared_version: u32,
    pub version: Option<u32>,
    pub differences: Vec<RedisDifference>,
    pub keys: KeysAudit,
    /// Key findings left out by ignore patterns (matching the key or its pattern).
    pub ignored: u64,
    pub notes: Vec<String>,
}

impl RedisDrift {
    pub fn human(&self) -> String {
        let version = self.version.map_or_else(
            || "no schema record".to_string(),
            |v| format!("schema version {v}"),
        );
        let sample = if self.keys.sampled { " (a sample)" } else { "" };
        let mut out = if self.clean {
            format!(
                "redis: no drift (keyspace `{}` at {version}, {} scanned{sample}; {})\n",
                self.namespace,
                count(self.keys.scanned, "key"),
                self.database
            )
        } else {
            let problems: u64 = self.keys.problems.iter().map(|p| p.count).sum();
            format!(
                "redis: {} setup difference{} and {problems} key problem{} in keyspace `{}` ({version}, declared {}; {} scanned{sample}; {})\n",
                self.differences.len(),
                if self.differences.len() == 1 { "" } else { "s" },
                if problems == 1 { "" } else { "s" },
                self.namespace,
                self.declared_version,
                count(self.keys.scanned, "key"),
                self.database
            )
        };
        for difference in &self.differences {
            out.push_str(&format!(
                "  {:<22} {}: {}\n",
                difference.kind, difference.object, difference.detail
            ));
        }
        if !self.differences.is_empty() {
            out.push_str(
                "  (`migrate up` applies the declared setup; a Redis restarted without a config \
                 file for CONFIG REWRITE forgets notify-keyspace-events and ACL users)\n",
            );
        }
        for problem in &self.keys.problems {
            let patterns = if problem.patterns.is_empty() {
                String::new()
            } else {
                format!(" (pattern {})", problem.patterns.join(", "))
            };
            out.push_str(&format!(
                "  {:<22} {} key{}{patterns}\n",
                problem_name(problem.problem),
                problem.count,
                if problem.count == 1 { "" } else { "s" }
            ));
            for example in &problem.examples {
                out.push_str(&format!("      {}: {}\n", example.key, example.detail));
            }
        }
        if self.ignored > 0 {
            out.push_str(&format!(
                "  {} ignored\n",
                count(self.ignored, "key finding")
            ));
        }
        for note in &self.notes {
            out.push_str(&format!("  note: {note}\n"));
        }
        out
    }
}

fn problem_name(problem: Problem) -> &'static str {
    match problem {
        Problem::UnknownPattern => "unknown-pattern",
        Problem::WrongType => "wrong-type",
        Problem::MissingTtl => "missing-ttl",
        Problem::TtlTooLong => "ttl-too-long",
        Problem::UnexpectedTtl => "unexpected-ttl",
    }
}

fn difference_kind(kind: ActionKind) -> &'static str {
    match kind {
        ActionKind::NotifyKeyspaceEvents => "notify_keyspace_events",
        ActionKind::LoadFunction | ActionKind::DeleteFunction => "function",
        ActionKind::SetAclUser | ActionKind::DeleteAclUser => "acl_user",
        ActionKind::WriteSchema => "schema",
    }
}

/// Compares the server with the declaration; `sample` caps the keys scanned.
pub async fn drift(
    topology: &Topology,
    keyspace: &Keyspace,
    sample: Option<u64>,
    ignore: &[String],
) -> Result<RedisDrift, Detailed> {
    let plan = setup::plan(topology, keyspace).await?;
    let mut differences = Vec::new();
    if plan.newer_on_server {
        differences.push(RedisDifference {
            kind: "schema",
            object: plan.schema_key.clone(),
            detail: format!(
                "schema version {} on the server, newer than the declared {}",
                plan.server.version.unwrap_or(0),
                keyspace.schema_version
            ),
            nodes: Vec::new(),
        });
    }
    for action in &plan.actions {
        // The schema record is rewritten after any other change: that alone is not drift.
        if action.action == ActionKind::WriteSchema
            && action.detail.ends_with("record the changes above")
        {
            continue;
        }
        differences.push(RedisDifference {
            kind: difference_kind(action.action),
            object: action.target.clone(),
            detail: action.detail.clone(),
            nodes: action.nodes.clone(),
        });
    }

    let mut options = AuditOptions {
        examples: EXAMPLES,
        max_keys: sample,
        ..AuditOptions::default()
    };
    if let Some(max) = sample {
        options.batch = options
            .batch
            .min(usize::try_from(max.max(1)).unwrap_or(usize::MAX));
    }
    let matches = |text: &str| ignore.iter().any(|p| glob_match(p, text));
    let is_ignored =
        |key: &str, pattern: Option<&str>| matches(key) || pattern.is_some_and(matches);
    let report = audit::audit(topology, keyspace, options, &is_ignored).await?;
    let notes = plan.notes.clone();
    let ignored = report.ignored;
    let mut problems: Vec<KeyProblem> = report
        .problems
        .into_iter()
        .map(|(problem, tally)| KeyProblem {
            problem,
            count: tally.count,
            patterns: tally.patterns,
            examples: tally.examples,
        })
        .collect();
    // By name, as in the JSON shape's documentation.
    problems.sort_by_key(|p| problem_name(p.problem));
    Ok(RedisDrift {
        store: "redis",
        database: topology.display.clone(),
        namespace: keyspace.namespace.clone(),
        clean: differences.is_empty() && problems.is_empty(),
        declared_version: keyspace.schema_version,
        version: plan.server.version,
        differences,
        keys: KeysAudit {
            scanned: report.scanned,
            sampled: report.sampled,
            nodes: report.nodes,
            per_pattern: report.per_pattern,
            problems,
        },
        ignored,
        notes,
    })
}
