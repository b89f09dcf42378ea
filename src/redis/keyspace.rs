//! The declared Redis keyspace, checked and made concrete: Lua files read, passwords looked up
//! in the environment, ACL rules built, and a checksum of the whole declaration.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::config::RedisKeyspace;
use crate::config::file::{RedisKeyType, TtlPolicy};
use crate::core::Checksum;
pub use crate::core::drift::glob_match;
use crate::errors::Detailed;

/// The keyspace as `up` sets it up and `status` compares it.
#[derive(Debug, Clone)]
pub struct Keyspace {
    pub namespace: String,
    pub schema_version: u32,
    pub notify: Option<NotifyFlags>,
    pub keys: Vec<KeyPattern>,
    pub functions: Vec<FunctionLibrary>,
    pub acl_users: Vec<AclUser>,
    /// sha256 of the declaration (descriptions and passwords left out).
    pub checksum: Checksum,
}

impl Keyspace {
    /// `{namespace}:__schema`: the hash holding the applied schema version.
    pub fn schema_key(&self) -> String {
        format!("{}:__schema", self.namespace)
    }

    /// The declared pattern a key belongs to, if any: of the patterns that match, the most
    /// specific one (the most literal characters), so `session:user:{id}` wins over
    /// `session:{id}` for `session:user:42` whatever the order of declaration.
    pub fn pattern_of(&self, key: &str) -> Option<&KeyPattern> {
        self.keys
            .iter()
            .filter(|p| glob_match(&p.glob, key))
            .max_by_key(|p| p.glob.chars().filter(|c| !matches!(c, '*' | '?')).count())
    }
}

/// One declared key pattern.
#[derive(Debug, Clone)]
pub struct KeyPattern {
    /// As written: `presence:{user_id}`.
    pub pattern: String,
    /// The pattern as a Redis glob: `presence:*`.
    pub glob: String,
    pub key_type: RedisKeyType,
    pub ttl: TtlPolicy,
    pub max_ttl: Option<Duration>,
    pub pii: bool,
    pub description: Option<String>,
}

impl KeyPattern {
    /// The longest TTL a key of this pattern may have, if it must expire.
    pub fn ttl_limit(&self) -> Option<Duration> {
        match self.ttl {
            TtlPolicy::None => None,
            TtlPolicy::Expires(ttl) => Some(self.max_ttl.unwrap_or(ttl)),
        }
    }
}

/// A Lua library file (`#!lua name=...`).
#[derive(Debug, Clone)]
pub struct FunctionLibrary {
    pub name: String,
    pub path: PathBuf,
    pub code: String,
    /// sha256 hex of the code as sent.
    pub sha256: String,
}

/// A password from the environment; never shown.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What `ACL GETUSER` lists for it.
    pub fn sha256(&self) -> String {
        hex::encode(Sha256::digest(self.0.as_bytes()))
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

/// An ACL user with its rules.
#[derive(Debug, Clone)]
pub struct AclUser {
    pub name: String,
    pub password_env: String,
    /// `None` when the environment variable is unset and the command does not need it
    /// (`status`, `validate`).
    pub password: Option<Password>,
    /// Key rules: `~pattern`, `%R~pattern`, `allkeys`.
    pub keys: Vec<String>,
    /// Channel rules: `&pattern`, `allchannels`.
    pub channels: Vec<String>,
    /// Command rules: `+@read`, `-flushall`, ...
    pub commands: Vec<String>,
}

impl AclUser {
    /// `ACL SETUSER name <rules>`: from `reset`, so applying it twice gives the same user.
    /// The password is part of the rules: never print them.
    pub fn rules(&self) -> Result<Vec<String>, Detailed> {
        let password = self
            .password
            .as_ref()
            .ok_or_else(|| missing_password(self))?;
        let mut rules = vec![
            "reset".to_string(),
            "on".to_string(),
            format!(">{}", password.expose()),
        ];
        rules.extend(self.keys.iter().cloned());
        rules.extend(self.channels.iter().cloned());
        rules.extend(self.commands.iter().cloned());
        Ok(rules)
    }

    /// The rules with the password hidden, for plans and messages.
    pub fn shown_rules(&self) -> String {
        let mut rules = vec!["reset", "on", ">***"];
        rules.extend(self.keys.iter().map(String::as_str));
        rules.extend(self.channels.iter().map(String::as_str));
        rules.extend(self.commands.iter().map(String::as_str));
        rules.join(" ")
    }
}

fn missing_password(user: &AclUser) -> Detailed {
    Detailed::new(format!(
        "redis ACL user `{}`: environment variable {} (its password) is not set",
        user.name, user.password_env
    ))
    .hint(format!(
        "export {}=... before running migrate (the password never goes in the config file)",
        user.password_env
    ))
}

/// Whether loading must find every ACL password in the environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Passwords {
    Required,
    IfSet,
}

/// `notify-keyspace-events` flags as a set (`A` expanded), so that "Ex" equals "xE".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NotifyFlags(BTreeSet<char>);

/// What the `A` flag stands for (Redis 7: every event class but `m` and `n`).
const ALL_EVENTS: &str = "g$lshzxetd";
const VALID_FLAGS: &str = "KEg$lshzxetdmnA";

impl NotifyFlags {
    pub fn parse(text: &str) -> Result<NotifyFlags, String> {
        let mut flags = BTreeSet::new();
        for c in text.chars() {
            if !VALID_FLAGS.contains(c) {
                return Err(format!(
                    "unknown notify-keyspace-events flag `{c}` in \"{text}\" (flags: {VALID_FLAGS})"
                ));
            }
            if c == 'A' {
                flags.extend(ALL_EVENTS.chars());
            } else {
                flags.insert(c);
            }
        }
        Ok(NotifyFlags(flags))
    }

    pub fn contains_all(&self, other: &NotifyFlags) -> bool {
        other.0.is_subset(&self.0)
    }

    pub fn union(&self, other: &NotifyFlags) -> NotifyFlags {
        NotifyFlags(self.0.union(&other.0).copied().collect())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for NotifyFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // K and E first, as Redis prints them.
        for c in ['K', 'E'] {
            if self.0.contains(&c) {
                write!(f, "{c}")?;
            }
        }
        for c in self.0.iter().filter(|c| !matches!(c, 'K' | 'E')) {
            write!(f, "{c}")?;
        }
        Ok(())
    }
}

/// Checks the declaration and makes it concrete. Every problem is listed in one error.
pub fn load(declaration: &RedisKeyspace, passwords: Passwords) -> Result<Keyspace, Detailed> {
    let mut problems: Vec<String> = Vec::new();
    let namespace = declaration.namespace.clone();
    if namespace.is_empty()
        || !namespace
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':'))
    {
        problems.push(format!(
            "namespace `{namespace}`: use letters, digits and _ - . : only"
        ));
    }
    if declaration.schema_version == 0 {
        problems.push("schema_version must be 1 or more".to_string());
    }
    let notify = match &declaration.notify_keyspace_events {
        None => None,
        Some(text) => match NotifyFlags::parse(text) {
            Ok(flags) if !flags.0.contains(&'K') && !flags.0.contains(&'E') => {
                problems.push(format!(
                    "notify_keyspace_events \"{text}\" enables no notification: add K (keyspace) and/or E (keyevent)"
                ));
                None
            }
            Ok(flags) if flags.0.iter().all(|c| matches!(c, 'K' | 'E')) => {
                problems.push(format!(
                    "notify_keyspace_events \"{text}\" names no event class (e.g. x for expired, g for generic, A for all)"
                ));
                None
            }
            Ok(flags) => Some(flags),
            Err(message) => {
                problems.push(message);
                None
            }
        },
    };

    let mut keys = Vec::new();
    let mut seen_patterns = BTreeSet::new();
    for (index, key) in declaration.keys.iter().enumerate() {
        let at = format!("keys[{index}] `{}`", key.pattern);
        if !seen_patterns.insert(key.pattern.clone()) {
            problems.push(format!("{at}: declared twice"));
            continue;
        }
        let glob = match pattern_to_glob(&key.pattern) {
            Ok(glob) => glob,
            Err(message) => {
                problems.push(format!("{at}: {message}"));
                continue;
            }
        };
        match (key.ttl, key.max_ttl) {
            (TtlPolicy::None, Some(_)) => {
                problems.push(format!(
                    "{at}: max_ttl given but ttl = \"none\" (keys that never expire)"
                ));
            }
            (TtlPolicy::Expires(ttl), Some(max)) if max.0 < ttl => {
                problems.push(format!("{at}: max_ttl is shorter than ttl"));
            }
            _ => {}
        }
        keys.push(KeyPattern {
            pattern: key.pattern.clone(),
            glob,
            key_type: key.key_type,
            ttl: key.ttl,
            max_ttl: key.max_ttl.map(|d| d.0),
            pii: key.pii,
            description: key.description.clone(),
        });
    }

    let mut functions: Vec<FunctionLibrary> = Vec::new();
    for path in &declaration.functions {
        match read_library(path) {
            Ok(library) => {
                if functions.iter().any(|f| f.name == library.name) {
                    problems.push(format!(
                        "functions: library `{}` is declared twice ({})",
                        library.name,
                        path.display()
                    ));
                } else {
                    functions.push(library);
                }
            }
            Err(message) => problems.push(format!("functions: {}: {message}", path.display())),
        }
    }

    let mut acl_users: Vec<AclUser> = Vec::new();
    for (index, user) in declaration.acl_users.iter().enumerate() {
        let at = format!("acl_users[{index}] `{}`", user.name);
        match acl_user(user, passwords) {
            Ok(made) => {
                if acl_users.iter().any(|u| u.name == made.name) {
                    problems.push(format!("{at}: declared twice"));
                } else {
                    acl_users.push(made);
                }
            }
            Err(message) => problems.push(format!("{at}: {message}")),
        }
    }

    if !problems.is_empty() {
        return Err(Detailed::problems(
            "invalid [redis] keyspace declaration",
            problems,
        ));
    }
    let checksum = checksum(
        &namespace,
        declaration.schema_version,
        &notify,
        &keys,
        &functions,
        &acl_users,
    );
    Ok(Keyspace {
        namespace,
        schema_version: declaration.schema_version,
        notify,
        keys,
        functions,
        acl_users,
        checksum,
    })
}

fn acl_user(
    user: &crate::config::file::RedisAclUserSection,
    passwords: Passwords,
) -> Result<AclUser, String> {
    if user.name.is_empty()
        || user
            .name
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
    {
        return Err("a user name must be non-empty, without spaces".to_string());
    }
    if user.name == "default" {
        return Err("migrate does not manage the `default` user".to_string());
    }
    if user.password_env.is_empty()
        || !user
            .password_env
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return Err(format!(
            "password_env `{}` must name an environment variable",
            user.password_env
        ));
    }
    let password = std::env::var(&user.password_env)
        .ok()
        .filter(|p| !p.is_empty())
        .map(Password);
    if password.is_none() && passwords == Passwords::Required {
        return Err(format!(
            "environment variable {} (its password) is not set",
            user.password_env
        ));
    }
    let no_space = |rule: &str| -> Result<(), String> {
        if rule.is_empty() || rule.chars().any(char::is_whitespace) {
            Err(format!("rule `{rule}` must be one word"))
        } else {
            Ok(())
        }
    };
    let mut keys = Vec::new();
    for key in &user.keys {
        no_space(key)?;
        keys.push(
            if key == "allkeys" || key.starts_with('~') || key.starts_with('%') {
                key.clone()
            } else {
                format!("~{key}")
            },
        );
    }
    let mut channels = Vec::new();
    for channel in &user.channels {
        no_space(channel)?;
        channels.push(if channel == "allchannels" || channel.starts_with('&') {
            channel.clone()
        } else {
            format!("&{channel}")
        });
    }
    for command in &user.commands {
        no_space(command)?;
        if !(command.starts_with('+')
            || command.starts_with('-')
            || matches!(command.as_str(), "allcommands" | "nocommands"))
        {
            return Err(format!(
                "command rule `{command}` must start with + or - (e.g. +@read, -flushall)"
            ));
        }
    }
    if user.commands.is_empty() {
        return Err(
            "no `commands`: the user could not run anything (e.g. [\"+@read\", \"+@write\"])"
                .to_string(),
        );
    }
    Ok(AclUser {
        name: user.name.clone(),
        password_env: user.password_env.clone(),
        password,
        keys,
        channels,
        commands: user.commands.clone(),
    })
}

/// Reads a library and its name from the `#!lua name=...` first line.
fn read_library(path: &std::path::Path) -> Result<FunctionLibrary, String> {
    let code = std::fs::read_to_string(path).map_err(|err| format!("cannot read: {err}"))?;
    let code = code.replace("\r\n", "\n");
    let first = code.lines().next().unwrap_or("");
    let name = first
        .strip_prefix("#!lua")
        .and_then(|rest| {
            rest.split_whitespace()
                .find_map(|part| part.strip_prefix("name="))
        })
        .ok_or_else(|| "the first line must be `#!lua name=<library>`".to_string())?;
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!(
            "library name `{name}`: use letters, digits and underscores"
        ));
    }
    Ok(FunctionLibrary {
        name: name.to_string(),
        path: path.to_path_buf(),
        sha256: hex::encode(Sha256::digest(code.as_bytes())),
        code,
    })
}

/// `presence:{user_id}` -> `presence:*`. Glob characters pass through; braces must pair up
/// around a placeholder name.
pub fn pattern_to_glob(pattern: &str) -> Result<String, String> {
    if pattern.is_empty() {
        return Err("empty pattern".to_string());
    }
    if pattern.chars().any(char::is_whitespace) {
        return Err("a pattern has no spaces".to_string());
    }
    let mut glob = String::new();
    let mut rest = pattern;
    while let Some(open) = rest.find(['{', '}']) {
        if rest[open..].starts_with('}') {
            return Err("`}` without `{`".to_string());
        }
        glob.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let close = after
            .find('}')
            .ok_or_else(|| "`{` without `}`".to_string())?;
        let name = &after[..close];
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!(
                "placeholder `{{{name}}}`: use a name of letters, digits and underscores"
            ));
        }
        glob.push('*');
        rest = &after[close + 1..];
    }
    glob.push_str(rest);
    Ok(glob)
}

fn checksum(
    namespace: &str,
    schema_version: u32,
    notify: &Option<NotifyFlags>,
    keys: &[KeyPattern],
    functions: &[FunctionLibrary],
    acl_users: &[AclUser],
) -> Checksum {
    let ttl_ms = |ttl: TtlPolicy| match ttl {
        TtlPolicy::None => None,
        TtlPolicy::Expires(d) => Some(d.as_millis() as u64),
    };
    let keys: BTreeMap<&str, serde_json::Value> = keys
        .iter()
        .map(|k| {
            (
                k.pattern.as_str(),
                serde_json::json!({
                    "type": k.key_type.as_str(),
                    "ttl_ms": ttl_ms(k.ttl),
                    "max_ttl_ms": k.max_ttl.map(|d| d.as_millis() as u64),
                    "pii": k.pii,
                }),
            )
        })
        .collect();
    let functions: BTreeMap<&str, &str> = functions
        .iter()
        .map(|f| (f.name.as_str(), f.sha256.as_str()))
        .collect();
    let users: BTreeMap<&str, serde_json::Value> = acl_users
        .iter()
        .map(|u| {
            (
                u.name.as_str(),
                serde_json::json!({"keys": u.keys, "channels": u.channels, "commands": u.commands,
                                   "password_env": u.password_env}),
            )
        })
        .collect();
    let canonical = serde_json::json!({
        "namespace": namespace,
        "schema_version": schema_version,
        "notify_keyspace_events": notify.as_ref().map(ToString::to_string),
        "keys": keys,
        "functions": functions,
        "acl_users": users,
    });
    Checksum::of(canonical.to_string().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::file::RedisKeySection;

    fn declaration() -> RedisKeyspace {
        RedisKeyspace {
            namespace: "app".into(),
            schema_version: 1,
            notify_keyspace_events: Some("Ex".into()),
            keys: vec![RedisKeySection {
                pattern: "presence:{user_id}".into(),
                key_type: RedisKeyType::Hash,
                ttl: TtlPolicy::Expires(Duration::from_secs(30)),
                max_ttl: None,
                pii: true,
                description: Some("who is online".into()),
            }],
            functions: Vec::new(),
            acl_users: Vec::new(),
        }
    }

    #[test]
    fn notify_flags_compare_as_sets() {
        let ex = NotifyFlags::parse("Ex").unwrap();
        let xe = NotifyFlags::parse("xE").unwrap();
        assert_eq!(ex, xe);
        assert_eq!(ex.to_string(), "Ex");
        let all = NotifyFlags::parse("AKE").unwrap();
        assert!(all.contains_all(&ex));
        assert!(!ex.contains_all(&all));
        assert!(!all.contains_all(&NotifyFlags::parse("Em").unwrap()));
        assert_eq!(
            ex.union(&NotifyFlags::parse("Kg").unwrap()).to_string(),
            "KEgx"
        );
        assert!(NotifyFlags::parse("Exq").is_err());
    }

    #[test]
    fn patterns_become_globs_and_match() {
        assert_eq!(pattern_to_glob("presence:{user_id}").unwrap(), "presence:*");
        assert_eq!(
            pattern_to_glob("permissions:user:{userId}:org:{orgId}").unwrap(),
            "permissions:user:*:org:*"
        );
        assert!(pattern_to_glob("a:{b").is_err());
        assert!(pattern_to_glob("a:}").is_err());
        assert!(pattern_to_glob("a:{b-c}").is_err());
        assert!(glob_match("chat:room:*:messages", "chat:room:42:messages"));
        assert!(!glob_match("chat:room:*:messages", "chat:room:42:unread"));
        assert!(glob_match("h?llo", "hello"));
        assert!(glob_match("h[ae]llo", "hallo"));
        assert!(!glob_match("h[^e]llo", "hello"));
        assert!(glob_match("h[a-c]llo", "hbllo"));
        assert!(glob_match("a\\*b", "a*b"));
        assert!(!glob_match("a\\*b", "axb"));
    }

    #[test]
    fn checksum_ignores_descriptions_but_not_ttls() {
        let base = load(&declaration(), Passwords::Required).unwrap();
        let mut described = declaration();
        described.keys[0].description = Some("changed".into());
        assert_eq!(
            load(&described, Passwords::Required).unwrap().checksum,
            base.checksum
        );
        let mut ttl = declaration();
        ttl.keys[0].ttl = TtlPolicy::Expires(Duration::from_secs(60));
        assert_ne!(
            load(&ttl, Passwords::Required).unwrap().checksum,
            base.checksum
        );
        assert_eq!(base.schema_key(), "app:__schema");
        assert_eq!(
            base.pattern_of("presence:u1").unwrap().pattern,
            "presence:{user_id}"
        );
        let mut two = declaration();
        two.keys[0].pattern = "session:{session_id}".into();
        let mut specific = two.keys[0].clone();
        specific.pattern = "session:user:{user_id}".into();
        two.keys.push(specific);
        let loaded = load(&two, Passwords::Required).unwrap();
        assert_eq!(
            loaded.pattern_of("session:user:42").unwrap().pattern,
            "session:user:{user_id}"
        );
        assert_eq!(
            loaded.pattern_of("session:abc").unwrap().pattern,
            "session:{session_id}"
        );
        assert!(loaded.pattern_of("other:1").is_none());
    }

    #[test]
    fn problems_are_listed_together() {
        let mut bad = declaration();
        bad.notify_keyspace_events = Some("x".into());
        bad.keys.push(bad.keys[0].clone());
        bad.acl_users
            .push(crate::config::file::RedisAclUserSection {
                name: "worker".into(),
                password_env: "MIGRATE_TEST_SURELY_UNSET_PASSWORD".into(),
                keys: vec!["presence:*".into()],
                channels: vec![],
                commands: vec!["+@read".into()],
            });
        let err = load(&bad, Passwords::Required).unwrap_err();
        assert!(err.message.contains("3 problems"), "{}", err.message);
        let text = err.context.join("\n");
        assert!(text.contains("enables no notification"), "{text}");
        assert!(text.contains("declared twice"), "{text}");
        assert!(
            text.contains("MIGRATE_TEST_SURELY_UNSET_PASSWORD"),
            "{text}"
        );
        // Without the password requirement the user loads, passwordless.
        let mut fine = declaration();
        fine.acl_users = bad.acl_users.clone();
        let loaded = load(&fine, Passwords::IfSet).unwrap();
        assert!(loaded.acl_users[0].password.is_none());
        assert!(loaded.acl_users[0].rules().is_err());
        assert_eq!(
            loaded.acl_users[0].shown_rules(),
            "reset on >*** ~presence:* +@read"
        );
    }
}
