//! Redis side of anonymization: the subject's keys (named by the subject's id, or holding the
//! id or one of the subject's values) deleted or stripped of the subject's members, on every
//! primary of a cluster; and every key searched during verification. Keys are found with a
//! paced `SCAN`, never `KEYS`; key names are never printed (they may hold an IP address):
//! reports name the declared pattern.

use std::collections::BTreeMap;
use std::time::Duration;

use redis::Value;

use super::needles::{Needles, redact};
use super::rules::{KeyAction, Rules};
use super::verify::{At, Column, Findings, Scanner, classify};
use crate::errors::Detailed;
use crate::redis::cluster::{Node, Topology, query};
use crate::redis::keyspace::{Keyspace, glob_match, pattern_to_glob};

/// Keys looked at per `SCAN` round trip.
const SCAN_COUNT: usize = 500;
/// Pause between two `SCAN` round trips on one node.
const SCAN_PAUSE: Duration = Duration::from_millis(1);

/// Placeholders that stand for the subject's id in a key pattern.
const SUBJECT_PLACEHOLDERS: &[&str] = &["{userId}", "{user_id}"];

/// One `[[anonymize.redis]]` rule, resolved against the declared keyspace.
#[derive(Debug, Clone)]
pub struct KeyPlan {
    pub pattern: String,
    pub action: KeyAction,
    /// The pattern as a glob (every placeholder `*`).
    pub glob: String,
    /// The pattern with the subject placeholder kept as `{subject}`, other placeholders `*`;
    /// `None` when the pattern does not name the subject.
    subject_template: Option<String>,
}

impl KeyPlan {
    /// The glob (or exact key) of one subject's keys, when the pattern names the subject.
    pub fn subject_glob(&self, subject: &str) -> Option<String> {
        self.subject_template
            .as_ref()
            .map(|t| t.replace("{subject}", &escape_glob(subject)))
    }

    /// Whether the subject's key is one exact name (no SCAN needed).
    pub fn is_exact(&self) -> bool {
        self.subject_template
            .as_ref()
            .is_some_and(|t| !t.contains(['*', '?', '[']))
    }
}

fn escape_glob(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Checks the rules against the keyspace: every rule's pattern is declared, and every pattern
/// declared `pii = true` has a rule.
pub fn resolve(rules: &Rules, keyspace: &Keyspace) -> Result<Vec<KeyPlan>, Detailed> {
    let mut problems = Vec::new();
    let mut plans = Vec::new();
    for rule in &rules.keys {
        let Some(declared) = keyspace.keys.iter().find(|k| k.pattern == rule.pattern) else {
            problems.push(format!(
                "redis rule `{}`: no such pattern in [[redis.keys]]",
                rule.pattern
            ));
            continue;
        };
        let mut template = rule.pattern.clone();
        let names_subject = SUBJECT_PLACEHOLDERS.iter().any(|p| template.contains(p));
        for placeholder in SUBJECT_PLACEHOLDERS {
            template = template.replace(placeholder, "\u{0}");
        }
        let template = pattern_to_glob(&template).unwrap_or(template);
        plans.push(KeyPlan {
            pattern: rule.pattern.clone(),
            action: rule.action,
            glob: declared.glob.clone(),
            subject_template: names_subject.then(|| template.replace('\u{0}', "{subject}")),
        });
    }
    let missing: Vec<&str> = keyspace
        .keys
        .iter()
        .filter(|k| k.pii && !rules.keys.iter().any(|r| r.pattern == k.pattern))
        .map(|k| k.pattern.as_str())
        .collect();
    if !missing.is_empty() {
        problems.push(format!(
            "pattern(s) declared pii = true without an [[anonymize.redis]] rule: {} (use action = \"keep\" to say so)",
            missing.join(", ")
        ));
    }
    if !problems.is_empty() {
        let mut error = Detailed::new(
            "the [anonymize] Redis rules do not fit [redis] keys; nothing was changed",
        );
        for problem in problems {
            error = error.context(problem);
        }
        return Err(error);
    }
    plans.retain(|p| p.action != KeyAction::Keep);
    Ok(plans)
}

/// Every key of every primary matching `glob`, page by page.
pub async fn scan(topology: &Topology, glob: &str) -> Result<Vec<(usize, String)>, Detailed> {
    let mut keys = Vec::new();
    for (index, node) in topology.primaries.iter().enumerate() {
        let mut cursor: u64 = 0;
        loop {
            let (next, page): (u64, Vec<String>) = query(
                node,
                redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(glob)
                    .arg("COUNT")
                    .arg(SCAN_COUNT),
            )
            .await?;
            keys.extend(page.into_iter().map(|k| (index, k)));
            cursor = next;
            if cursor == 0 {
                break;
            }
            tokio::time::sleep(SCAN_PAUSE).await;
        }
    }
    keys.sort();
    keys.dedup();
    Ok(keys)
}

/// A key's content as (member, text) pairs: the value of a string, `field=value` of a hash,
/// the members of sets and sorted sets, the elements of a list, the entries of a stream.
pub async fn content(node: &Node, key: &str) -> Result<(String, Vec<(String, String)>), Detailed> {
    let key_type: String = query(node, redis::cmd("TYPE").arg(key)).await?;
    let pairs = match key_type.as_str() {
        "string" => {
            let value: Option<String> = query(node, redis::cmd("GET").arg(key)).await?;
            value.map(|v| vec![(String::new(), v)]).unwrap_or_default()
        }
        "hash" => {
            let map: BTreeMap<String, String> = query(node, redis::cmd("HGETALL").arg(key)).await?;
            map.into_iter()
                .map(|(field, value)| (field.clone(), format!("{field}={value}")))
                .collect()
        }
        "set" => {
            let members: Vec<String> = query(node, redis::cmd("SMEMBERS").arg(key)).await?;
            members.into_iter().map(|m| (m.clone(), m)).collect()
        }
        "zset" => {
            let members: Vec<String> =
                query(node, redis::cmd("ZRANGE").arg(key).arg(0).arg(-1)).await?;
            members.into_iter().map(|m| (m.clone(), m)).collect()
        }
        "list" => {
            let items: Vec<String> =
                query(node, redis::cmd("LRANGE").arg(key).arg(0).arg(-1)).await?;
            items.into_iter().map(|m| (m.clone(), m)).collect()
        }
        "stream" => {
            let value: Value = query(node, redis::cmd("XRANGE").arg(key).arg("-").arg("+")).await?;
            vec![(String::new(), format!("{value:?}"))]
        }
        _ => Vec::new(),
    };
    Ok((key_type, pairs))
}

/// What mentions the subject: its id (anywhere, any case) or one of its values that counts
/// there (see `verify`: a one-word name only next to the subject's id).
pub struct Mentions<'a> {
    pub ids: &'a [String],
    pub needles: Option<&'a Needles>,
}

impl Mentions<'_> {
    pub fn in_text(&self, text: &str) -> bool {
        let lower = text.to_lowercase();
        if self.ids.iter().any(|id| lower.contains(&id.to_lowercase())) {
            return true;
        }
        let Some(needles) = self.needles else {
            return false;
        };
        let mut matches = Vec::new();
        needles.find(text, &mut matches);
        if matches.is_empty() {
            return false;
        }
        let about: Vec<u32> = uuids_in(text)
            .iter()
            .filter_map(|id| needles.subject_index(id))
            .collect();
        let (mut hits, mut ambiguous) = (Vec::new(), Vec::new());
        classify(
            needles,
            &matches,
            &about,
            Column::Free,
            &mut hits,
            &mut ambiguous,
        );
        !hits.is_empty()
    }
}

/// Removes the members that mention the subject (deletes a string key that does); returns
/// whether the key changed.
async fn strip(
    node: &Node,
    key: &str,
    key_type: &str,
    pairs: &[(String, String)],
    mentions: &Mentions<'_>,
) -> Result<bool, Detailed> {
    let doomed: Vec<&String> = pairs
        .iter()
        .filter(|(_, text)| mentions.in_text(text))
        .map(|(member, _)| member)
        .collect();
    if doomed.is_empty() {
        return Ok(false);
    }
    match key_type {
        "set" => query::<i64>(node, redis::cmd("SREM").arg(key).arg(&doomed)).await?,
        "zset" => query::<i64>(node, redis::cmd("ZREM").arg(key).arg(&doomed)).await?,
        "hash" => query::<i64>(node, redis::cmd("HDEL").arg(key).arg(&doomed)).await?,
        "list" => {
            let mut n = 0;
            for member in doomed {
                n += query::<i64>(node, redis::cmd("LREM").arg(key).arg(0).arg(member)).await?;
            }
            n
        }
        _ => query::<i64>(node, redis::cmd("DEL").arg(key)).await?,
    };
    Ok(true)
}

/// Deletes or strips one key whose name or content mentions the subject; returns whether it
/// changed.
async fn act_on_key(
    topology: &Topology,
    plan: &KeyPlan,
    key: &str,
    named_by_subject: bool,
    mentions: &Mentions<'_>,
) -> Result<bool, Detailed> {
    let node = topology.node_for_key(key).await?;
    if named_by_subject || mentions.in_text(key) {
        let n: i64 = query(node, redis::cmd("DEL").arg(key)).await?;
        return Ok(n > 0);
    }
    let (key_type, pairs) = content(node, key).await?;
    if !pairs.iter().any(|(_, text)| mentions.in_text(text)) {
        return Ok(false);
    }
    match plan.action {
        KeyAction::Delete => {
            let n: i64 = query(node, redis::cmd("DEL").arg(key)).await?;
            Ok(n > 0)
        }
        KeyAction::RemoveMember => strip(node, key, &key_type, &pairs, mentions).await,
        // The subject's own members go; its values in the others are replaced by the sweep.
        KeyAction::Replace => {
            let own = Mentions {
                ids: mentions.ids,
                needles: None,
            };
            strip(node, key, &key_type, &pairs, &own).await
        }
        KeyAction::Keep => Ok(false),
    }
}

/// Anonymizes the subjects' keys. With `exact_only`, only keys named exactly by a subject are
/// handled (the bulk path; the rest is swept once at the end); `count_only` counts instead.
pub async fn apply(
    topology: &Topology,
    plans: &[KeyPlan],
    subjects: &[String],
    needles: Option<&Needles>,
    exact_only: bool,
    count_only: bool,
) -> Result<BTreeMap<String, u64>, Detailed> {
    let mut counts = BTreeMap::new();
    let mentions = Mentions {
        ids: subjects,
        needles,
    };
    for plan in plans {
        let mut touched = 0u64;
        if plan.is_exact() {
            for subject in subjects {
                let Some(key) = plan.subject_glob(subject) else {
                    continue;
                };
                let key = key.replace('\\', "");
                let node = topology.node_for_key(&key).await?;
                let n: i64 = if count_only {
                    query(node, redis::cmd("EXISTS").arg(&key)).await?
                } else {
                    query(node, redis::cmd("DEL").arg(&key)).await?
                };
                touched += n as u64;
            }
        } else if !exact_only {
            let globs: Vec<(String, bool)> = match subjects {
                [one] if plan.subject_template.is_some() => {
                    vec![(plan.subject_glob(one).unwrap_or_default(), true)]
                }
                _ => vec![(plan.glob.clone(), false)],
            };
            for (glob, named) in globs {
                for (_, key) in scan(topology, &glob).await? {
                    if !glob_match(&plan.glob, &key) {
                        continue;
                    }
                    if count_only {
                        let node = topology.node_for_key(&key).await?;
                        let (_, pairs) = content(node, &key).await?;
                        if named
                            || mentions.in_text(&key)
                            || pairs.iter().any(|(_, t)| mentions.in_text(t))
                        {
                            touched += 1;
                        }
                    } else if act_on_key(topology, plan, &key, named, &mentions).await? {
                        touched += 1;
                    }
                }
            }
        }
        if touched > 0 {
            counts.insert(plan.pattern.clone(), touched);
        }
    }
    Ok(counts)
}

/// The UUIDs a text mentions (lower-cased), for matching keys to a bulk job's subjects.
pub fn uuids_in(text: &str) -> Vec<String> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i + 36 <= bytes.len() {
        let candidate = &bytes[i..i + 36];
        let shaped = candidate.iter().enumerate().all(|(j, b)| match j {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => b.is_ascii_hexdigit(),
        });
        if shaped {
            found.push(String::from_utf8_lossy(candidate).to_lowercase());
            i += 36;
        } else {
            i += 1;
        }
    }
    found
}

/// The bulk job's last phase: every key of the non-exact patterns, matched to the subjects by
/// the ids it mentions; `is_subject` says which ids belong to the job.
pub async fn sweep_keys(
    topology: &Topology,
    plan: &KeyPlan,
) -> Result<Vec<(String, Vec<String>)>, Detailed> {
    let mut out = Vec::new();
    for (_, key) in scan(topology, &plan.glob).await? {
        let node = topology.node_for_key(&key).await?;
        let (_, pairs) = content(node, &key).await?;
        let mut ids = uuids_in(&key);
        for (_, text) in &pairs {
            ids.extend(uuids_in(text));
        }
        ids.sort();
        ids.dedup();
        if !ids.is_empty() {
            out.push((key, ids));
        }
    }
    Ok(out)
}

/// Acts on one swept key for the given subjects.
pub async fn sweep_one(
    topology: &Topology,
    plan: &KeyPlan,
    key: &str,
    subjects: &[String],
) -> Result<bool, Detailed> {
    let mentions = Mentions {
        ids: subjects,
        needles: None,
    };
    let named = plan
        .subject_template
        .as_ref()
        .is_some_and(|_| subjects.iter().any(|s| key.to_lowercase().contains(s)));
    act_on_key(topology, plan, key, named, &mentions).await
}

/// Searches every key of every primary (name and content) for the needles. With `replace`,
/// in the keys of `replace` patterns, the members that name a subject are removed and the
/// subjects' values in the others (and in string values) are replaced. Key names are shown with
/// the values masked.
pub async fn sweep(
    topology: &Topology,
    keyspace: Option<&Keyspace>,
    plans: &[KeyPlan],
    needles: &Needles,
    replace: bool,
    findings: &mut Findings,
) -> Result<(), Detailed> {
    let mut scanner = Scanner::new(needles);
    let mut matches = Vec::new();
    for (index, key) in scan(topology, "*").await? {
        let node = &topology.primaries[index];
        findings.searched.keys += 1;
        let pattern = keyspace.and_then(|k| k.pattern_of(&key));
        let location = pattern.map_or_else(
            || "a key of no declared pattern".to_string(),
            |p| p.pattern.clone(),
        );
        let plan = pattern.and_then(|p| plans.iter().find(|plan| plan.pattern == p.pattern));
        let about: Vec<u32> = uuids_in(&key)
            .iter()
            .filter_map(|id| needles.subject_index(id))
            .collect();
        needles.find(&key, &mut matches);
        let shown = if matches.is_empty() {
            key.clone()
        } else {
            let ranges: Vec<(usize, usize)> = matches.iter().map(|m| (m.start, m.end)).collect();
            redact(&key, &ranges)
        };
        let name_hits = scanner
            .scan(
                &key,
                At {
                    store: "redis",
                    location: &location,
                    about: &about,
                    column: Column::Free,
                },
                findings,
            )
            .to_vec();
        record(&scanner, findings, &name_hits, &location, &shown);
        let (key_type, pairs) = content(node, &key).await?;
        let rewrite = replace && plan.is_some_and(|p| p.action == KeyAction::Replace);
        let mut doomed: Vec<String> = Vec::new();
        let mut rewritten: Vec<(String, String, String)> = Vec::new();
        for (member, text) in &pairs {
            if !scanner.any(text) {
                continue;
            }
            let mut member_about = about.clone();
            member_about.extend(
                uuids_in(text)
                    .iter()
                    .filter_map(|id| needles.subject_index(id)),
            );
            let at = At {
                store: "redis",
                location: &location,
                about: &member_about,
                column: Column::Free,
            };
            if rewrite {
                if let Some((new, found)) = scanner.redact_text(text, at, findings) {
                    findings.replaced(&found, "redis", &location);
                    if found.iter().any(|f| member_about.contains(&f.subject))
                        && key_type != "string"
                    {
                        doomed.push(member.clone());
                    } else {
                        rewritten.push((member.clone(), text.clone(), new));
                    }
                }
                continue;
            }
            let hits = scanner.scan(text, at, findings).to_vec();
            record(&scanner, findings, &hits, &location, &shown);
        }
        if !doomed.is_empty() || !rewritten.is_empty() {
            rewrite_members(node, &key, &key_type, &doomed, &rewritten).await?;
        }
    }
    Ok(())
}

fn record(
    scanner: &Scanner<'_>,
    findings: &mut Findings,
    found: &[super::verify::Found],
    location: &str,
    key: &str,
) {
    let mut seen = Vec::new();
    for f in found {
        if !seen.contains(&(f.subject, f.kind)) {
            seen.push((f.subject, f.kind));
            findings.hit(scanner.needles, f, "redis", location, key);
        }
    }
}

/// Removes `doomed` members and rewrites the others: a list element in place (`LSET` at its
/// index), a set or sorted-set member replaced (keeping its score), a hash field's value, a
/// string value (keeping its TTL).
async fn rewrite_members(
    node: &Node,
    key: &str,
    key_type: &str,
    doomed: &[String],
    rewritten: &[(String, String, String)],
) -> Result<(), Detailed> {
    match key_type {
        "string" => {
            if let Some((_, _, new)) = rewritten.first() {
                query::<()>(node, redis::cmd("SET").arg(key).arg(new).arg("KEEPTTL")).await?;
            }
        }
        "hash" => {
            if !doomed.is_empty() {
                query::<i64>(node, redis::cmd("HDEL").arg(key).arg(doomed)).await?;
            }
            for (field, _, new) in rewritten {
                let value = new
                    .strip_prefix(&format!("{field}="))
                    .unwrap_or(new.as_str());
                query::<i64>(node, redis::cmd("HSET").arg(key).arg(field).arg(value)).await?;
            }
        }
        "set" => {
            if !doomed.is_empty() {
                query::<i64>(node, redis::cmd("SREM").arg(key).arg(doomed)).await?;
            }
            for (member, _, new) in rewritten {
                query::<i64>(node, redis::cmd("SREM").arg(key).arg(member)).await?;
                query::<i64>(node, redis::cmd("SADD").arg(key).arg(new)).await?;
            }
        }
        "zset" => {
            if !doomed.is_empty() {
                query::<i64>(node, redis::cmd("ZREM").arg(key).arg(doomed)).await?;
            }
            for (member, _, new) in rewritten {
                let score: Option<f64> =
                    query(node, redis::cmd("ZSCORE").arg(key).arg(member)).await?;
                query::<i64>(node, redis::cmd("ZREM").arg(key).arg(member)).await?;
                if let Some(score) = score {
                    query::<i64>(node, redis::cmd("ZADD").arg(key).arg(score).arg(new)).await?;
                }
            }
        }
        "list" => {
            // In place, by position (found again by value: the list may have moved since).
            let items: Vec<String> =
                query(node, redis::cmd("LRANGE").arg(key).arg(0).arg(-1)).await?;
            for (index, item) in items.iter().enumerate() {
                if let Some((_, _, new)) = rewritten.iter().find(|(_, old, _)| old == item) {
                    query::<()>(node, redis::cmd("LSET").arg(key).arg(index).arg(new)).await?;
                }
            }
            for member in doomed {
                query::<i64>(node, redis::cmd("LREM").arg(key).arg(0).arg(member)).await?;
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_found_in_names_and_values() {
        let text = "permissions:user:A1000000-0000-4000-8000-000000000001:org:b2000000-0000-4000-8000-000000000001";
        assert_eq!(
            uuids_in(text),
            vec![
                "a1000000-0000-4000-8000-000000000001".to_string(),
                "b2000000-0000-4000-8000-000000000001".to_string()
            ]
        );
        assert!(uuids_in("no ids here").is_empty());
    }

    #[test]
    fn subject_globs() {
        let plan = |pattern: &str| {
            let mut template = pattern.to_string();
            for p in SUBJECT_PLACEHOLDERS {
                template = template.replace(p, "\u{0}");
            }
            let template = pattern_to_glob(&template).unwrap();
            KeyPlan {
                pattern: pattern.into(),
                action: KeyAction::Delete,
                glob: pattern_to_glob(pattern).unwrap(),
                subject_template: pattern
                    .contains("{userId}")
                    .then(|| template.replace('\u{0}', "{subject}")),
            }
        };
        let exact = plan("session:user:{userId}");
        assert!(exact.is_exact());
        assert_eq!(exact.subject_glob("u1").unwrap(), "session:user:u1");
        let scoped = plan("permissions:user:{userId}:org:{orgId}");
        assert!(!scoped.is_exact());
        assert_eq!(
            scoped.subject_glob("u1").unwrap(),
            "permissions:user:u1:org:*"
        );
        let other = plan("doc:active:{docId}");
        assert!(other.subject_glob("u1").is_none());
    }
}
