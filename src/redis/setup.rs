//! Brings a Redis server (or every primary of a cluster) to the declared keyspace, idempotently:
//! first a plan of what differs (also what `status` shows), then its execution.
//!
//! What is compared, per primary: `notify-keyspace-events` as a set of flags; each function
//! library's code (`FUNCTION LIST WITHCODE`); each ACL user's state (`ACL GETUSER`: on, password
//! hash, key and channel patterns, and the command rules recorded when migrate last set it);
//! and the schema hash `{namespace}:__schema` (version, checksum of the declaration, the
//! libraries and users migrate manages). Only what differs is touched.

use std::collections::{BTreeMap, BTreeSet};

use chrono::Utc;
use redis::Value;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::cluster::{Node, Topology, query, query_value};
use super::keyspace::{AclUser, FunctionLibrary, Keyspace, NotifyFlags};
use crate::errors::Detailed;
use crate::output::Printer;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    NotifyKeyspaceEvents,
    LoadFunction,
    DeleteFunction,
    SetAclUser,
    DeleteAclUser,
    WriteSchema,
}

/// One thing setup changes, on the nodes listed.
#[derive(Debug, Clone, Serialize)]
pub struct Action {
    pub action: ActionKind,
    /// The flag set, library, user or schema key concerned.
    pub target: String,
    pub nodes: Vec<String>,
    /// Why: `missing`, `code changed`, `Ex not in "g"`, `version 1 -> 2`, ...
    pub detail: String,
}

/// What the schema hash says.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SchemaRecord {
    pub version: Option<u32>,
    pub checksum: Option<String>,
    pub applied_at: Option<String>,
    pub tool_version: Option<String>,
    /// `acl:{user}` fields: `{declaration sha}|{commands as the server described them}`.
    #[serde(skip)]
    pub acl: BTreeMap<String, String>,
    /// `function:{library}` fields: code sha256.
    #[serde(skip)]
    pub functions: BTreeMap<String, String>,
}

/// The difference between the declaration and the server.
#[derive(Debug, Clone, Serialize)]
pub struct SetupPlan {
    pub namespace: String,
    pub schema_key: String,
    pub declared_version: u32,
    pub checksum: String,
    pub server: SchemaRecord,
    /// The server is at a newer schema version than declared: nothing is planned.
    pub newer_on_server: bool,
    pub actions: Vec<Action>,
    /// Things worth knowing that do not stop setup.
    pub notes: Vec<String>,
}

impl SetupPlan {
    pub fn is_current(&self) -> bool {
        self.actions.is_empty() && !self.newer_on_server
    }

    /// The keyspace's state on the server, as `status` reports it: `newer` (set up from a newer
    /// declaration), `current`, `pending` (never set up) or `outdated` (changes pending).
    pub fn state(&self) -> &'static str {
        if self.newer_on_server {
            "newer"
        } else if self.is_current() {
            "current"
        } else if self.server.version.is_none() {
            "pending"
        } else {
            "outdated"
        }
    }

    /// Refuses to set up a server that a newer declaration already set up.
    pub fn ensure_not_newer(&self, display: &str) -> Result<(), Detailed> {
        if !self.newer_on_server {
            return Ok(());
        }
        Err(Detailed::new(format!(
            "redis keyspace `{}` on {display} is at schema version {}, newer than the declared {}; nothing was changed",
            self.namespace,
            self.server.version.unwrap_or(0),
            self.declared_version
        ))
        .hint("run migrate with the newer configuration, or raise [redis] schema_version above the server's"))
    }
}

/// Reads the server and plans. Plans nothing when the server is at a newer schema version
/// than the declaration (see [`SetupPlan::ensure_not_newer`]).
pub async fn plan(topology: &Topology, keyspace: &Keyspace) -> Result<SetupPlan, Detailed> {
    let schema_key = keyspace.schema_key();
    let schema_node = topology.node_for_key(&schema_key).await?;
    let server = read_schema(schema_node, &schema_key).await?;
    let checksum = keyspace.checksum.to_string();
    if server.version.is_some_and(|v| v > keyspace.schema_version) {
        return Ok(SetupPlan {
            namespace: keyspace.namespace.clone(),
            schema_key,
            declared_version: keyspace.schema_version,
            checksum,
            server,
            newer_on_server: true,
            actions: Vec::new(),
            notes: Vec::new(),
        });
    }
    let mut actions = Vec::new();
    let mut notes = Vec::new();

    if let Some(declared) = &keyspace.notify {
        let mut nodes = Vec::new();
        let mut found = Vec::new();
        for node in &topology.primaries {
            let current = read_notify_flags(node).await?;
            if !current.contains_all(declared) {
                found.push(format!("\"{current}\""));
                nodes.push(node.address.clone());
            }
        }
        if !nodes.is_empty() {
            found.dedup();
            actions.push(Action {
                action: ActionKind::NotifyKeyspaceEvents,
                target: "notify-keyspace-events".to_string(),
                nodes,
                detail: format!(
                    "flags \"{declared}\" declared, the server has {}",
                    found.join(", ")
                ),
            });
        }
    }

    for library in &keyspace.functions {
        let mut nodes = Vec::new();
        let mut reason = "";
        for node in &topology.primaries {
            match read_library_code(node, &library.name).await? {
                None => {
                    reason = "missing";
                    nodes.push(node.address.clone());
                }
                Some(code) if sha256(&code) != library.sha256 => {
                    reason = "code changed";
                    nodes.push(node.address.clone());
                }
                Some(_) => {}
            }
        }
        if !nodes.is_empty() {
            actions.push(Action {
                action: ActionKind::LoadFunction,
                target: library.name.clone(),
                nodes,
                detail: format!("{reason} ({})", library.path.display()),
            });
        }
    }
    // Removing what an older declaration set up takes a new schema version: a configuration
    // of another environment pointed at this server by mistake must not delete anything.
    let version_raised = server.version.is_some_and(|v| v < keyspace.schema_version);
    for name in server.functions.keys() {
        if keyspace.functions.iter().any(|f| &f.name == name) {
            continue;
        }
        if !version_raised {
            notes.push(format!(
                "function library `{name}` was loaded by migrate but is no longer declared: raise schema_version to delete it"
            ));
            continue;
        }
        let mut nodes = Vec::new();
        for node in &topology.primaries {
            if read_library_code(node, name).await?.is_some() {
                nodes.push(node.address.clone());
            }
        }
        if !nodes.is_empty() {
            actions.push(Action {
                action: ActionKind::DeleteFunction,
                target: name.clone(),
                nodes,
                detail: "no longer declared".to_string(),
            });
        }
    }

    for user in &keyspace.acl_users {
        let recorded = server.acl.get(&user.name).map(String::as_str);
        let mut nodes = Vec::new();
        let mut reasons = BTreeSet::new();
        for node in &topology.primaries {
            if let Some(reason) = acl_difference(node, user, recorded).await? {
                reasons.insert(reason);
                nodes.push(node.address.clone());
            }
        }
        if user.password.is_none() {
            notes.push(format!(
                "ACL user `{}`: {} is not set here, so its password was not compared",
                user.name, user.password_env
            ));
        }
        if !nodes.is_empty() {
            actions.push(Action {
                action: ActionKind::SetAclUser,
                target: user.name.clone(),
                nodes,
                detail: reasons.into_iter().collect::<Vec<_>>().join(", "),
            });
        }
    }
    for name in server.acl.keys() {
        if keyspace.acl_users.iter().any(|u| &u.name == name) {
            continue;
        }
        if !version_raised {
            notes.push(format!(
                "ACL user `{name}` was set up by migrate but is no longer declared: raise schema_version to delete it"
            ));
            continue;
        }
        let mut nodes = Vec::new();
        for node in &topology.primaries {
            if !matches!(read_acl_user(node, name).await?, Value::Nil) {
                nodes.push(node.address.clone());
            }
        }
        if !nodes.is_empty() {
            actions.push(Action {
                action: ActionKind::DeleteAclUser,
                target: name.clone(),
                nodes,
                detail: "no longer declared".to_string(),
            });
        }
    }

    let schema_differs = server.version != Some(keyspace.schema_version)
        || server.checksum.as_deref() != Some(checksum.as_str());
    if server.version == Some(keyspace.schema_version)
        && server.checksum.as_deref().is_some_and(|c| c != checksum)
    {
        notes.push(format!(
            "the [redis] declaration changed but schema_version is still {}: bump it so that every deployment can tell the two apart",
            keyspace.schema_version
        ));
    }
    if schema_differs || !actions.is_empty() {
        let detail = match server.version {
            None => format!("absent -> version {}", keyspace.schema_version),
            Some(v) if v != keyspace.schema_version => {
                format!("version {v} -> {}", keyspace.schema_version)
            }
            Some(v) if server.checksum.as_deref() != Some(checksum.as_str()) => {
                format!("version {v}, declaration changed")
            }
            Some(v) => format!("version {v}, record the changes above"),
        };
        actions.push(Action {
            action: ActionKind::WriteSchema,
            target: schema_key.clone(),
            nodes: vec![schema_node.address.clone()],
            detail,
        });
    }
    Ok(SetupPlan {
        namespace: keyspace.namespace.clone(),
        schema_key,
        declared_version: keyspace.schema_version,
        checksum,
        server,
        newer_on_server: false,
        actions,
        notes,
    })
}

/// Runs the plan's actions in order; the schema hash is written last, so it only ever
/// records a completed setup.
pub async fn apply(
    topology: &Topology,
    keyspace: &Keyspace,
    plan: &SetupPlan,
    printer: &Printer,
) -> Result<(), Detailed> {
    let nodes = |action: &Action| -> Vec<&Node> {
        topology
            .primaries
            .iter()
            .filter(|n| action.nodes.contains(&n.address))
            .collect()
    };
    // What the schema hash will record as managed: what it did, minus what was deleted, plus
    // what was declared.
    let mut acl_records: BTreeMap<String, String> = plan.server.acl.clone();
    let mut function_records: BTreeMap<String, String> = plan.server.functions.clone();
    for action in &plan.actions {
        let timed = printer.timed(format!(
            "redis: {} {} on {}",
            action_verb(action.action),
            action.target,
            action.nodes.join(", ")
        ));
        match action.action {
            ActionKind::NotifyKeyspaceEvents => {
                // Plans are built from this keyspace, so the flags are declared.
                let Some(declared) = &keyspace.notify else {
                    continue;
                };
                for node in nodes(action) {
                    let merged = read_notify_flags(node).await?.union(declared);
                    query::<()>(
                        node,
                        redis::cmd("CONFIG")
                            .arg("SET")
                            .arg("notify-keyspace-events")
                            .arg(merged.to_string()),
                    )
                    .await
                    .map_err(|e| {
                        e.hint("managed Redis services often refuse CONFIG SET: set notify-keyspace-events in the service's parameter group, then run `migrate up` again")
                    })?;
                    persist_config(node, printer).await;
                }
            }
            ActionKind::LoadFunction => {
                let library = library(keyspace, &action.target)?;
                for node in nodes(action) {
                    query::<String>(
                        node,
                        redis::cmd("FUNCTION")
                            .arg("LOAD")
                            .arg("REPLACE")
                            .arg(&library.code),
                    )
                    .await
                    .map_err(|e| {
                        e.context(format!("library {} ({})", library.name, library.path.display()))
                            .hint("a function name can belong to one library only: check no other library registers the same names")
                    })?;
                }
            }
            ActionKind::DeleteFunction => {
                for node in nodes(action) {
                    let result = query::<()>(
                        node,
                        redis::cmd("FUNCTION").arg("DELETE").arg(&action.target),
                    )
                    .await;
                    if let Err(error) = result
                        && !error.message.contains("not exist")
                    {
                        return Err(error);
                    }
                }
                function_records.remove(&action.target);
            }
            ActionKind::SetAclUser => {
                let user = keyspace
                    .acl_users
                    .iter()
                    .find(|u| u.name == action.target)
                    .ok_or_else(|| {
                        Detailed::new(format!("internal error: no user {}", action.target))
                    })?;
                let rules = user.rules()?;
                let mut described = None;
                for node in nodes(action) {
                    query::<()>(
                        node,
                        redis::cmd("ACL").arg("SETUSER").arg(&user.name).arg(&rules),
                    )
                    .await
                    .map_err(|e| e.context(format!("rules: {}", user.shown_rules())))?;
                    persist_acl(node, printer).await;
                    let state = acl_state(&read_acl_user(node, &user.name).await?);
                    described.get_or_insert(state.map(|s| s.commands).unwrap_or_default());
                }
                if let Some(commands) = described {
                    acl_records.insert(user.name.clone(), acl_record(user, &commands));
                }
            }
            ActionKind::DeleteAclUser => {
                for node in nodes(action) {
                    query::<i64>(node, redis::cmd("ACL").arg("DELUSER").arg(&action.target))
                        .await?;
                    persist_acl(node, printer).await;
                }
                acl_records.remove(&action.target);
            }
            ActionKind::WriteSchema => {
                let node = topology.node_for_key(&plan.schema_key).await?;
                for library in &keyspace.functions {
                    function_records.insert(library.name.clone(), library.sha256.clone());
                }
                let records = Managed {
                    acl: &acl_records,
                    functions: &function_records,
                };
                write_schema(node, keyspace, &plan.server, records).await?;
            }
        }
        timed.done(None);
    }
    Ok(())
}

pub fn action_verb(kind: ActionKind) -> &'static str {
    match kind {
        ActionKind::NotifyKeyspaceEvents => "merge",
        ActionKind::LoadFunction => "load function library",
        ActionKind::DeleteFunction => "delete function library",
        ActionKind::SetAclUser => "set ACL user",
        ActionKind::DeleteAclUser => "delete ACL user",
        ActionKind::WriteSchema => "write",
    }
}

fn library<'a>(keyspace: &'a Keyspace, name: &str) -> Result<&'a FunctionLibrary, Detailed> {
    keyspace
        .functions
        .iter()
        .find(|f| f.name == name)
        .ok_or_else(|| Detailed::new(format!("internal error: no library {name}")))
}

/// Makes `CONFIG SET` survive a restart when the server has a config file to rewrite.
async fn persist_config(node: &Node, printer: &Printer) {
    if let Err(error) = query::<()>(node, redis::cmd("CONFIG").arg("REWRITE")).await {
        printer.verbose(format!(
            "redis: {}: notify-keyspace-events not persisted ({}); `migrate up` sets it again after a restart",
            node.address,
            first_words(&error.message)
        ));
    }
}

/// Saves ACL changes: to the ACL file when the server has one, else into its config file.
async fn persist_acl(node: &Node, printer: &Printer) {
    let saved = match query::<()>(node, redis::cmd("ACL").arg("SAVE")).await {
        Ok(()) => Ok(()),
        Err(error) if error.message.contains("not configured to use an ACL file") => {
            query::<()>(node, redis::cmd("CONFIG").arg("REWRITE")).await
        }
        Err(error) => Err(error),
    };
    if let Err(error) = saved {
        printer.verbose(format!(
            "redis: {}: ACL users not persisted ({}); `migrate up` sets them again after a restart",
            node.address,
            first_words(&error.message)
        ));
    }
}

/// The server's reason, without the command prefix and advice.
fn first_words(message: &str) -> &str {
    let reason = message.rsplit(": ").next().unwrap_or(message);
    reason.split(". ").next().unwrap_or(reason)
}

async fn read_schema(node: &Node, key: &str) -> Result<SchemaRecord, Detailed> {
    let fields: BTreeMap<String, String> = query(node, redis::cmd("HGETALL").arg(key))
        .await
        .map_err(|e| e.hint(format!("{key} must be a hash written by migrate")))?;
    let mut record = SchemaRecord {
        version: fields.get("version").and_then(|v| v.parse().ok()),
        checksum: fields.get("checksum").cloned(),
        applied_at: fields.get("applied_at").cloned(),
        tool_version: fields.get("tool_version").cloned(),
        ..SchemaRecord::default()
    };
    for (field, value) in fields {
        if let Some(user) = field.strip_prefix("acl:") {
            record.acl.insert(user.to_string(), value);
        } else if let Some(library) = field.strip_prefix("function:") {
            record.functions.insert(library.to_string(), value);
        }
    }
    Ok(record)
}

/// The `acl:*` and `function:*` fields the schema hash is to hold.
#[derive(Clone, Copy)]
struct Managed<'a> {
    acl: &'a BTreeMap<String, String>,
    functions: &'a BTreeMap<String, String>,
}

async fn write_schema(
    node: &Node,
    keyspace: &Keyspace,
    previous: &SchemaRecord,
    records: Managed<'_>,
) -> Result<(), Detailed> {
    let key = keyspace.schema_key();
    let mut fields: Vec<(String, String)> = vec![
        ("version".into(), keyspace.schema_version.to_string()),
        ("checksum".into(), keyspace.checksum.to_string()),
        (
            "applied_at".into(),
            Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        ),
        ("tool_version".into(), crate::TOOL_VERSION.to_string()),
    ];
    for (name, sha) in records.functions {
        fields.push((format!("function:{name}"), sha.clone()));
    }
    for (name, record) in records.acl {
        fields.push((format!("acl:{name}"), record.clone()));
    }
    let stale: Vec<String> = previous
        .functions
        .keys()
        .filter(|name| !records.functions.contains_key(*name))
        .map(|name| format!("function:{name}"))
        .chain(
            previous
                .acl
                .keys()
                .filter(|name| !records.acl.contains_key(*name))
                .map(|name| format!("acl:{name}")),
        )
        .collect();
    let mut pipeline = redis::pipe();
    pipeline.atomic();
    if !stale.is_empty() {
        pipeline.cmd("HDEL").arg(&key).arg(&stale).ignore();
    }
    pipeline.cmd("HSET").arg(&key).arg(&fields).ignore();
    let mut connection = node.connection();
    pipeline
        .query_async::<()>(&mut connection)
        .await
        .map_err(|err| {
            Detailed::new(format!(
                "redis HSET {key} on {}: {}",
                node.address,
                super::cluster::short_cause(&err)
            ))
        })
}

async fn read_notify_flags(node: &Node) -> Result<NotifyFlags, Detailed> {
    let reply = query_value(
        node,
        redis::cmd("CONFIG")
            .arg("GET")
            .arg("notify-keyspace-events"),
    )
    .await?;
    let text = pairs(&reply)
        .into_iter()
        .find(|(name, _)| name == "notify-keyspace-events")
        .and_then(|(_, value)| text(value))
        .unwrap_or_default();
    NotifyFlags::parse(&text).map_err(|message| {
        Detailed::new(format!(
            "{}: cannot read notify-keyspace-events: {message}",
            node.address
        ))
    })
}

/// The code of a library, if loaded.
async fn read_library_code(node: &Node, name: &str) -> Result<Option<String>, Detailed> {
    let reply = query_value(
        node,
        redis::cmd("FUNCTION")
            .arg("LIST")
            .arg("LIBRARYNAME")
            .arg(name)
            .arg("WITHCODE"),
    )
    .await
    .map_err(|e| e.hint("Redis functions need Redis 7.0 or later"))?;
    let Value::Array(libraries) = reply else {
        return Ok(None);
    };
    for library in &libraries {
        let fields = pairs(library);
        let found = fields
            .iter()
            .any(|(key, value)| key == "library_name" && text(value).as_deref() == Some(name));
        if found {
            return Ok(fields
                .iter()
                .find(|(key, _)| key == "library_code")
                .and_then(|(_, value)| text(value)));
        }
    }
    Ok(None)
}

async fn read_acl_user(node: &Node, name: &str) -> Result<Value, Detailed> {
    query_value(node, redis::cmd("ACL").arg("GETUSER").arg(name)).await
}

/// An ACL user as `ACL GETUSER` describes it.
struct AclState {
    flags: Vec<String>,
    passwords: Vec<String>,
    commands: String,
    keys: BTreeSet<String>,
    channels: BTreeSet<String>,
}

fn acl_state(reply: &Value) -> Option<AclState> {
    if matches!(reply, Value::Nil) {
        return None;
    }
    let fields = pairs(reply);
    let list = |name: &str| -> Vec<String> {
        fields
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| match value {
                Value::Array(items) | Value::Set(items) => items.iter().filter_map(text).collect(),
                other => text(other)
                    .map(|t| t.split_whitespace().map(str::to_string).collect())
                    .unwrap_or_default(),
            })
            .unwrap_or_default()
    };
    Some(AclState {
        flags: list("flags"),
        passwords: list("passwords"),
        commands: list("commands").join(" "),
        keys: list("keys").into_iter().collect(),
        channels: list("channels").into_iter().collect(),
    })
}

/// Why a user on a node differs from its declaration, if it does.
async fn acl_difference(
    node: &Node,
    user: &AclUser,
    recorded: Option<&str>,
) -> Result<Option<String>, Detailed> {
    let Some(state) = acl_state(&read_acl_user(node, &user.name).await?) else {
        return Ok(Some("missing".to_string()));
    };
    if !state.flags.iter().any(|f| f == "on") {
        return Ok(Some("disabled".to_string()));
    }
    if let Some(password) = &user.password
        && state.passwords != [password.sha256()]
    {
        return Ok(Some("password differs".to_string()));
    }
    let keys: BTreeSet<String> = user.keys.iter().map(|k| normalize_key_rule(k)).collect();
    if state.keys != keys {
        return Ok(Some("key patterns differ".to_string()));
    }
    let channels: BTreeSet<String> = user
        .channels
        .iter()
        .map(|c| {
            if c == "allchannels" {
                "&*".to_string()
            } else {
                c.clone()
            }
        })
        .collect();
    if state.channels != channels {
        return Ok(Some("channel patterns differ".to_string()));
    }
    match recorded {
        Some(record) if record == acl_record(user, &state.commands) => Ok(None),
        Some(_) => Ok(Some("command rules differ".to_string())),
        None => Ok(Some("not recorded as set up by migrate".to_string())),
    }
}

/// `ACL GETUSER` shows `allkeys` as `~*` and `%RW~p` as `~p`.
fn normalize_key_rule(rule: &str) -> String {
    match rule {
        "allkeys" => "~*".to_string(),
        _ => match rule
            .strip_prefix("%RW~")
            .or_else(|| rule.strip_prefix("%WR~"))
        {
            Some(pattern) => format!("~{pattern}"),
            None => rule.to_string(),
        },
    }
}

/// What the schema hash keeps for a user: the declaration it was set from and the command
/// rules as the server described them right after. Redis lists the rules it derives in hash
/// table order, which changes between calls and nodes, so they are kept sorted.
fn acl_record(user: &AclUser, described_commands: &str) -> String {
    let declaration = serde_json::json!({
        "keys": user.keys, "channels": user.channels, "commands": user.commands,
    });
    let mut rules: Vec<&str> = described_commands.split_whitespace().collect();
    rules.sort_unstable();
    format!(
        "{}|{}",
        &sha256(&declaration.to_string())[..16],
        rules.join(" ")
    )
}

fn sha256(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// A reply as `(field, value)` pairs: RESP2 flat arrays and RESP3 maps alike.
fn pairs(value: &Value) -> Vec<(String, &Value)> {
    match value {
        Value::Map(entries) => entries
            .iter()
            .filter_map(|(k, v)| text(k).map(|k| (k, v)))
            .collect(),
        Value::Array(items) => items
            .chunks(2)
            .filter_map(|pair| match pair {
                [k, v] => text(k).map(|k| (k, v)),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::BulkString(bytes) => Some(String::from_utf8_lossy(bytes).into_owned()),
        Value::SimpleString(s) => Some(s.clone()),
        Value::VerbatimString { text, .. } => Some(text.clone()),
        Value::Okay => Some("OK".to_string()),
        Value::Int(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acl_getuser_replies_parse() {
        let reply = Value::Array(vec![
            Value::BulkString(b"flags".to_vec()),
            Value::Array(vec![Value::BulkString(b"on".to_vec())]),
            Value::BulkString(b"passwords".to_vec()),
            Value::Array(vec![Value::BulkString(b"ab12".to_vec())]),
            Value::BulkString(b"commands".to_vec()),
            Value::BulkString(b"-@all +@read".to_vec()),
            Value::BulkString(b"keys".to_vec()),
            Value::BulkString(b"~b:* ~a:*".to_vec()),
            Value::BulkString(b"channels".to_vec()),
            Value::BulkString(b"".to_vec()),
        ]);
        let state = acl_state(&reply).unwrap();
        assert_eq!(state.flags, vec!["on"]);
        assert_eq!(state.passwords, vec!["ab12"]);
        assert_eq!(state.commands, "-@all +@read");
        assert_eq!(
            state.keys.into_iter().collect::<Vec<_>>(),
            vec!["~a:*", "~b:*"]
        );
        assert!(state.channels.is_empty());
        assert!(acl_state(&Value::Nil).is_none());
        let user = AclUser {
            name: "u".into(),
            password_env: "P".into(),
            password: None,
            keys: vec![],
            channels: vec![],
            commands: vec!["+@read".into()],
        };
        assert_eq!(
            acl_record(&user, "-@all +get +function|load"),
            acl_record(&user, "-@all +function|load +get"),
            "the server's rule order does not matter"
        );
        assert_eq!(normalize_key_rule("allkeys"), "~*");
        assert_eq!(normalize_key_rule("%RW~x:*"), "~x:*");
        assert_eq!(normalize_key_rule("%R~x:*"), "%R~x:*");
    }
}
