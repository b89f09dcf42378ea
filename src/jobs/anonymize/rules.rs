//! Anonymization rules: strategies, value kinds, the pure value transformation, and the
//! `[anonymize]` config section checked and made concrete.

use std::collections::BTreeSet;
use std::time::Duration;

use serde::Serialize;

use super::hmac::{self, Key};
pub use crate::config::anonymize::{KeyAction, REDACTED, RowAction, Strategy, ValueKind};
use crate::config::file::AnonymizeSection;
use crate::errors::Detailed;

/// Where a value sits, for the transformation.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub kind: ValueKind,
    /// Part of a UNIQUE constraint or index: outputs are derived from the row, never from the
    /// value, so that two rows can never get the same output.
    pub unique: bool,
    /// `table.column:primary key` (or `collection.field:_id`): the stable input of `fake` and of
    /// unique outputs, so a second run computes the same values and changes nothing.
    pub row_key: &'a str,
}

/// The outcome of transforming one value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    Unchanged,
    Set(String),
    Null,
    Remove,
}

/// Applies `strategy` to `value` (None: SQL NULL or an absent field). Pure and idempotent:
/// applying it to its own output gives `Unchanged`.
pub fn transform(key: &Key, strategy: Strategy, target: Target<'_>, value: Option<&str>) -> Output {
    let kind = strategy.explicit_kind().unwrap_or(target.kind);
    let changed = |new: String| match value {
        Some(old) if old == new => Output::Unchanged,
        _ => Output::Set(new),
    };
    match strategy {
        Strategy::Keep => Output::Unchanged,
        Strategy::Null => match value {
            None => Output::Unchanged,
            Some(_) => Output::Null,
        },
        Strategy::Delete => Output::Remove,
        Strategy::Redact => match value {
            None => Output::Unchanged,
            Some(_) => changed(REDACTED.to_string()),
        },
        Strategy::Hash(_) => {
            let Some(old) = value else {
                return Output::Unchanged;
            };
            if target.unique {
                let mac = key.mac(format!("unique:{}", target.row_key).as_bytes());
                return changed(hmac::hash_output(kind, &mac));
            }
            if hmac::is_hash_output(kind, old) {
                return Output::Unchanged;
            }
            let mac = key.mac(hmac::normalize(kind, old).as_bytes());
            changed(hmac::hash_output(kind, &mac))
        }
        Strategy::Fake(_) => {
            if value.is_none() {
                return Output::Unchanged;
            }
            let mac = key.mac(format!("fake:{}", target.row_key).as_bytes());
            changed(hmac::fake_output(kind, &mac, target.unique))
        }
    }
}

/// One column (or JSON path inside a column) and its strategy.
#[derive(Debug, Clone)]
pub struct FieldRule {
    /// As written: `email`, `metadata.ip`.
    pub path: String,
    /// The column (or top-level document field).
    pub column: String,
    /// Keys inside a JSON column; empty for the whole column.
    pub json_path: Vec<String>,
    pub strategy: Strategy,
}

#[derive(Debug, Clone)]
pub struct TableRule {
    pub table: String,
    /// Column holding the subject's id (`users.id`); `None` for a table with `replace` only.
    pub subject: Option<String>,
    pub action: RowAction,
    pub fields: Vec<FieldRule>,
    /// Text or JSON columns of every row in which a subject's values are replaced.
    pub replace: Vec<String>,
    /// Columns that reference subjects (uuid or uuid[]).
    pub refs: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct CollectionRule {
    pub collection: String,
    /// Field holding the subject's id; `None` for a collection with `replace` only.
    pub subject: Option<String>,
    pub action: RowAction,
    /// Fields as dotted paths; `json_path` is unused (Mongo takes dotted paths directly).
    pub fields: Vec<FieldRule>,
    /// Dotted paths of every document under which a subject's values are replaced.
    pub replace: Vec<String>,
    /// Fields that reference subjects.
    pub refs: Vec<String>,
}

/// A value the mark of an erased subject's row sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MarkValue {
    /// The current time, unless the column already holds one.
    Now,
    /// This value, cast to the column's type.
    Value(String),
}

#[derive(Debug, Clone)]
pub struct KeyRule {
    pub pattern: String,
    pub action: KeyAction,
}

/// A named bulk job: which subjects it anonymizes.
#[derive(Debug, Clone, Serialize)]
pub struct Policy {
    pub name: String,
    pub description: Option<String>,
    /// SQL condition on the subject table (`deleted_at < now() - interval '30 days'`).
    pub subjects: String,
    /// Record each subject in `gdpr_requests` as an erasure (the restore ledger).
    pub ledger: bool,
}

/// `[anonymize]`, checked.
#[derive(Debug, Clone)]
pub struct Rules {
    pub key_env: String,
    pub batch_size: u32,
    pub lock_timeout: Duration,
    pub subject_table: String,
    pub audit_table: Option<String>,
    /// Columns of the subject table set on an erased subject's row.
    pub mark: Vec<(String, MarkValue)>,
    pub tables: Vec<TableRule>,
    pub collections: Vec<CollectionRule>,
    pub keys: Vec<KeyRule>,
    pub policies: Vec<Policy>,
}

pub const DEFAULT_BATCH_SIZE: u32 = 1000;
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(2);

/// A plain or schema-qualified SQL identifier (spliced into SQL, so nothing else passes).
pub fn valid_identifier(name: &str) -> bool {
    name.split('.').count() <= 2
        && name.split('.').all(|part| {
            !part.is_empty()
                && !part.starts_with(|c: char| c.is_ascii_digit())
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        })
}

/// Checks `[anonymize]` and makes it concrete. Every problem is listed in one error.
pub fn load(section: &AnonymizeSection) -> Result<Rules, Detailed> {
    let mut problems = Vec::new();
    let key_env = match &section.key_env {
        Some(name) if !name.is_empty() => name.clone(),
        _ => {
            problems.push(
                "key_env is missing: name the environment variable holding the HMAC key"
                    .to_string(),
            );
            String::new()
        }
    };
    let subject_table = section
        .subject_table
        .clone()
        .unwrap_or_else(|| "users".to_string());
    if !valid_identifier(&subject_table) {
        problems.push(format!(
            "subject_table `{subject_table}`: not a plain identifier"
        ));
    }
    let audit_table = match &section.audit_table {
        Some(name) if name.is_empty() => None,
        Some(name) => Some(name.clone()),
        None => Some("audit_logs".to_string()),
    };
    if let Some(name) = &audit_table
        && !valid_identifier(name)
    {
        problems.push(format!("audit_table `{name}`: not a plain identifier"));
    }

    let mut tables = Vec::new();
    let mut seen = BTreeSet::new();
    for (index, rule) in section.postgres.iter().flatten().enumerate() {
        let at = format!("postgres[{index}] `{}`", rule.table);
        if !seen.insert(rule.table.clone()) {
            problems.push(format!("{at}: declared twice"));
        }
        if !valid_identifier(&rule.table)
            || rule
                .subject
                .as_deref()
                .is_some_and(|s| !valid_identifier(s))
        {
            problems.push(format!("{at}: table and subject must be plain identifiers"));
        }
        for column in rule.replace.iter().chain(&rule.refs) {
            if !valid_identifier(column) || column.contains('.') {
                problems.push(format!("{at}: column `{column}` is not a plain identifier"));
            }
        }
        let action = rule.action.unwrap_or_default();
        let fields = fields_of(&at, &rule.columns, true, &mut problems);
        subject_problems(
            &at,
            rule.subject.is_some(),
            rule.action,
            !fields.is_empty(),
            !rule.replace.is_empty(),
            "columns",
            &mut problems,
        );
        tables.push(TableRule {
            table: rule.table.clone(),
            subject: rule.subject.clone(),
            action,
            fields,
            replace: rule.replace.clone(),
            refs: rule.refs.clone(),
        });
    }

    let mut collections = Vec::new();
    let mut seen = BTreeSet::new();
    for (index, rule) in section.mongo.iter().flatten().enumerate() {
        let at = format!("mongo[{index}] `{}`", rule.collection);
        if !seen.insert(rule.collection.clone()) {
            problems.push(format!("{at}: declared twice"));
        }
        if rule.collection.is_empty()
            || rule.collection.contains('$')
            || rule.subject.as_deref().is_some_and(str::is_empty)
        {
            problems.push(format!("{at}: collection and subject must be plain names"));
        }
        for path in rule.replace.iter().chain(&rule.refs) {
            if path.is_empty() || path.contains('$') || path.split('.').any(str::is_empty) {
                problems.push(format!("{at}: field `{path}` is not a plain dotted path"));
            }
        }
        let action = rule.action.unwrap_or_default();
        let fields = fields_of(&at, &rule.fields, false, &mut problems);
        subject_problems(
            &at,
            rule.subject.is_some(),
            rule.action,
            !fields.is_empty(),
            !rule.replace.is_empty(),
            "fields",
            &mut problems,
        );
        collections.push(CollectionRule {
            collection: rule.collection.clone(),
            subject: rule.subject.clone(),
            action,
            fields,
            replace: rule.replace.clone(),
            refs: rule.refs.clone(),
        });
    }

    let mut keys = Vec::new();
    let mut seen = BTreeSet::new();
    for (index, rule) in section.redis.iter().flatten().enumerate() {
        if !seen.insert(rule.pattern.clone()) {
            problems.push(format!("redis[{index}] `{}`: declared twice", rule.pattern));
        }
        keys.push(KeyRule {
            pattern: rule.pattern.clone(),
            action: rule.action,
        });
    }

    let mut policies = Vec::new();
    let mut seen = BTreeSet::new();
    for (index, policy) in section.policies.iter().flatten().enumerate() {
        let at = format!("policies[{index}] `{}`", policy.name);
        if policy.name.is_empty()
            || !policy
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            problems.push(format!("{at}: name with letters, digits, - and _ only"));
        }
        if !seen.insert(policy.name.clone()) {
            problems.push(format!("{at}: declared twice"));
        }
        if policy.subjects.trim().is_empty() || policy.subjects.contains(';') {
            problems.push(format!(
                "{at}: subjects must be one SQL condition on {subject_table} (\"true\" for all)"
            ));
        }
        policies.push(Policy {
            name: policy.name.clone(),
            description: policy.description.clone(),
            subjects: policy.subjects.clone(),
            ledger: policy.ledger.unwrap_or(false),
        });
    }

    let mut mark = Vec::new();
    for (column, value) in section.mark.iter().flatten() {
        if !valid_identifier(column) || column.contains('.') {
            problems.push(format!("mark: column `{column}` is not a plain identifier"));
        }
        mark.push((
            column.clone(),
            if value.trim().eq_ignore_ascii_case("now") {
                MarkValue::Now
            } else {
                MarkValue::Value(value.clone())
            },
        ));
    }

    if !problems.is_empty() {
        return Err(Detailed::problems("invalid [anonymize] section", problems));
    }
    Ok(Rules {
        key_env,
        batch_size: section.batch_size.unwrap_or(DEFAULT_BATCH_SIZE),
        lock_timeout: section
            .lock_timeout
            .map(|d| d.0)
            .filter(|d| !d.is_zero())
            .unwrap_or(DEFAULT_LOCK_TIMEOUT),
        subject_table,
        audit_table,
        mark,
        tables,
        collections,
        keys,
        policies,
    })
}

/// What a rule must have: a subject with strategies (or `action = "delete"`), replace
/// columns, or both.
fn subject_problems(
    at: &str,
    has_subject: bool,
    action: Option<RowAction>,
    has_fields: bool,
    has_replace: bool,
    fields: &str,
    problems: &mut Vec<String>,
) {
    let action = action.unwrap_or_default();
    if !has_subject {
        if has_fields || action == RowAction::Delete {
            problems.push(format!(
                "{at}: {fields} and action need `subject` (the {} holding the subject's id)",
                if fields == "columns" {
                    "column"
                } else {
                    "field"
                }
            ));
        } else if !has_replace {
            problems.push(format!(
                "{at}: give subject = \"...\" with {fields} = {{ ... }} or action = \"delete\", or replace = [...]"
            ));
        }
        return;
    }
    if action == RowAction::Update && !has_fields && !has_replace {
        problems.push(format!(
            "{at}: give {fields} = {{ ... }} or action = \"delete\""
        ));
    }
    if action == RowAction::Delete && has_fields {
        problems.push(format!(
            "{at}: action = \"delete\" removes the rows; drop the {fields}"
        ));
    }
}

fn fields_of(
    at: &str,
    entries: &std::collections::BTreeMap<String, Strategy>,
    sql: bool,
    problems: &mut Vec<String>,
) -> Vec<FieldRule> {
    let mut fields = Vec::new();
    for (path, strategy) in entries {
        let mut parts = path.split('.');
        let column = parts.next().unwrap_or("").to_string();
        let json_path: Vec<String> = parts.map(str::to_string).collect();
        if column.is_empty() || json_path.iter().any(String::is_empty) {
            problems.push(format!("{at}: field `{path}`: empty path segment"));
            continue;
        }
        if sql && !valid_identifier(&column) {
            problems.push(format!("{at}: column `{column}` is not a plain identifier"));
            continue;
        }
        if sql && *strategy == Strategy::Delete && json_path.is_empty() {
            problems.push(format!(
                "{at}: `{path}` = \"delete\": a column cannot be deleted (use null, redact, or \
                 action = \"delete\" for the whole row); delete applies to JSON keys (`{path}.key`)"
            ));
            continue;
        }
        if *strategy == Strategy::Keep {
            continue;
        }
        fields.push(FieldRule {
            path: path.clone(),
            column,
            json_path: if sql { json_path } else { Vec::new() },
            strategy: *strategy,
        });
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> Key {
        Key::new(b"an anonymization key for tests!".to_vec()).unwrap()
    }

    fn target(kind: ValueKind, unique: bool, row_key: &str) -> Target<'_> {
        Target {
            kind,
            unique,
            row_key,
        }
    }

    #[test]
    fn strategies_parse_with_optional_kinds() {
        assert_eq!(Strategy::parse("hash").unwrap(), Strategy::Hash(None));
        assert_eq!(
            Strategy::parse("fake:name").unwrap(),
            Strategy::Fake(Some(ValueKind::Name))
        );
        assert_eq!(Strategy::parse("delete").unwrap(), Strategy::Delete);
        assert!(Strategy::parse("null:email").is_err());
        assert!(
            Strategy::parse("scramble")
                .unwrap_err()
                .contains("unknown strategy")
        );
        assert!(Strategy::parse("fake:shoe_size").is_err());
    }

    #[test]
    fn kinds_are_inferred_from_names_and_types() {
        assert_eq!(ValueKind::infer("email", None), ValueKind::Email);
        assert_eq!(ValueKind::infer("contact_email", None), ValueKind::Email);
        assert_eq!(ValueKind::infer("first_name", None), ValueKind::FirstName);
        assert_eq!(ValueKind::infer("name", None), ValueKind::Name);
        assert_eq!(ValueKind::infer("metadata.ip", None), ValueKind::Ip);
        assert_eq!(ValueKind::infer("ip_address", Some("inet")), ValueKind::Ip);
        assert_eq!(ValueKind::infer("user_agent", None), ValueKind::UserAgent);
        assert_eq!(
            ValueKind::infer("metadata.userAgent", None),
            ValueKind::UserAgent
        );
        assert_eq!(ValueKind::infer("userId", None), ValueKind::Uuid);
        assert_eq!(ValueKind::infer("phone", None), ValueKind::Phone);
        assert_eq!(ValueKind::infer("avatar_url", None), ValueKind::Url);
        assert_eq!(ValueKind::infer("bio", None), ValueKind::Text);
        assert_eq!(ValueKind::infer("original_name", None), ValueKind::Text);
    }

    #[test]
    fn every_strategy_is_idempotent() {
        let key = key();
        for strategy in [
            Strategy::Hash(None),
            Strategy::Fake(None),
            Strategy::Null,
            Strategy::Redact,
            Strategy::Keep,
        ] {
            for unique in [false, true] {
                for kind in [
                    ValueKind::Email,
                    ValueKind::Name,
                    ValueKind::Ip,
                    ValueKind::Phone,
                ] {
                    let original = match kind {
                        ValueKind::Ip => "10.1.2.3",
                        ValueKind::Email => "Zed@Example.org",
                        _ => "Zed Zebra",
                    };
                    let t = target(kind, unique, "users.x:1");
                    let first = transform(&key, strategy, t, Some(original));
                    let after = match &first {
                        Output::Unchanged => Some(original.to_string()),
                        Output::Set(v) => Some(v.clone()),
                        Output::Null => None,
                        Output::Remove => continue,
                    };
                    let second = transform(&key, strategy, t, after.as_deref());
                    assert_eq!(
                        second,
                        Output::Unchanged,
                        "{strategy:?} unique={unique} {kind:?} is not idempotent"
                    );
                }
            }
        }
    }

    #[test]
    fn hash_is_normalized_for_plain_columns_and_per_row_for_unique_ones() {
        let key = key();
        let a = transform(
            &key,
            Strategy::Hash(None),
            target(ValueKind::Email, false, "t.email:1"),
            Some("Ann@X.org"),
        );
        let b = transform(
            &key,
            Strategy::Hash(None),
            target(ValueKind::Email, false, "t.email:2"),
            Some(" ann@x.org"),
        );
        assert_eq!(a, b, "one person, one pseudonym");
        // On a UNIQUE column, addresses that differ only in case still get distinct outputs.
        let c = transform(
            &key,
            Strategy::Hash(None),
            target(ValueKind::Email, true, "users.email:1"),
            Some("Ann@X.org"),
        );
        let d = transform(
            &key,
            Strategy::Hash(None),
            target(ValueKind::Email, true, "users.email:2"),
            Some("ann@x.org"),
        );
        assert_ne!(c, d);
        let Output::Set(c) = c else { panic!() };
        assert!(
            c.starts_with("anon+") && c.ends_with("@anon.invalid"),
            "{c}"
        );
    }

    #[test]
    fn null_redact_and_delete() {
        let key = key();
        let t = target(ValueKind::Text, false, "t.c:1");
        assert_eq!(transform(&key, Strategy::Null, t, Some("x")), Output::Null);
        assert_eq!(transform(&key, Strategy::Null, t, None), Output::Unchanged);
        assert_eq!(
            transform(&key, Strategy::Redact, t, Some("x")),
            Output::Set(REDACTED.into())
        );
        assert_eq!(
            transform(&key, Strategy::Redact, t, None),
            Output::Unchanged
        );
        assert_eq!(
            transform(&key, Strategy::Delete, t, Some("x")),
            Output::Remove
        );
    }

    #[test]
    fn config_problems_are_listed_together() {
        let text = r#"
            [anonymize]
            [[anonymize.postgres]]
            table = "users"
            subject = "id"
            columns = { email = "delete" }
            [[anonymize.postgres]]
            table = "sessions"
            subject = "user_id"
            [[anonymize.policies]]
            name = "bad name"
            subjects = ""
        "#;
        let config =
            crate::config::file::parse(text, std::path::Path::new("migrate.toml")).unwrap();
        let err = load(&config.anonymize).unwrap_err();
        let all = err.context.join("\n");
        assert!(all.contains("key_env is missing"), "{all}");
        assert!(all.contains("a column cannot be deleted"), "{all}");
        assert!(all.contains("action = \\\"delete\\\"") || all.contains("action = \"delete\""));
        assert!(all.contains("bad name"), "{all}");
    }

    #[test]
    fn the_example_config_loads() {
        let text = include_str!("../../../config.example.toml");
        let config =
            crate::config::file::parse(text, std::path::Path::new("config.example.toml")).unwrap();
        let rules = load(&config.anonymize).unwrap();
        assert!(rules.tables.iter().any(|t| t.table == "users"));
        assert!(rules.policies.iter().any(|p| p.name == "deleted_users"));
        assert!(rules.policies.iter().any(|p| p.name == "staging_copy"));
    }
}
