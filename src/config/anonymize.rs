//! The words of the `[anonymize]` section: strategies, value kinds, what happens to a row and
//! to a Redis key. Parsed here with the file; `jobs::anonymize::rules` checks the section as a
//! whole and makes it concrete.

use serde::{Deserialize, Deserializer, Serialize};

/// What becomes of one column, JSON path or document field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// HMAC-SHA256 of the normalized value, in a format of the value's kind.
    Hash(Option<ValueKind>),
    /// A realistic-looking value of the value's kind, derived from the same key.
    Fake(Option<ValueKind>),
    Null,
    /// The constant `[redacted]`.
    Redact,
    /// Remove it: a JSON key, a document field (not allowed on a plain column).
    Delete,
    Keep,
}

/// The text written by `redact`.
pub const REDACTED: &str = "[redacted]";

impl Strategy {
    pub fn parse(text: &str) -> Result<Strategy, String> {
        let (name, kind) = match text.split_once(':') {
            Some((name, kind)) => (name.trim(), Some(ValueKind::parse(kind.trim())?)),
            None => (text.trim(), None),
        };
        let strategy = match name {
            "hash" => Strategy::Hash(kind),
            "fake" => Strategy::Fake(kind),
            "null" => Strategy::Null,
            "redact" => Strategy::Redact,
            "delete" => Strategy::Delete,
            "keep" => Strategy::Keep,
            other => {
                return Err(format!(
                    "unknown strategy `{other}`: expected hash, fake, null, redact, delete or keep \
                     (hash and fake may name a kind: \"fake:name\")"
                ));
            }
        };
        if kind.is_some() && !matches!(strategy, Strategy::Hash(_) | Strategy::Fake(_)) {
            return Err(format!("`{text}`: only hash and fake take a kind"));
        }
        Ok(strategy)
    }

    pub fn name(self) -> &'static str {
        match self {
            Strategy::Hash(_) => "hash",
            Strategy::Fake(_) => "fake",
            Strategy::Null => "null",
            Strategy::Redact => "redact",
            Strategy::Delete => "delete",
            Strategy::Keep => "keep",
        }
    }

    pub fn explicit_kind(self) -> Option<ValueKind> {
        match self {
            Strategy::Hash(kind) | Strategy::Fake(kind) => kind,
            _ => None,
        }
    }
}

impl<'de> Deserialize<'de> for Strategy {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Strategy::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// What kind of personal data a value is: decides normalization, output format and whether
/// verification searches for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueKind {
    Email,
    Name,
    FirstName,
    LastName,
    Phone,
    Ip,
    Uuid,
    UserAgent,
    Url,
    Text,
}

impl ValueKind {
    pub fn parse(text: &str) -> Result<ValueKind, String> {
        Ok(match text {
            "email" => ValueKind::Email,
            "name" => ValueKind::Name,
            "first_name" => ValueKind::FirstName,
            "last_name" => ValueKind::LastName,
            "phone" => ValueKind::Phone,
            "ip" => ValueKind::Ip,
            "uuid" => ValueKind::Uuid,
            "user_agent" => ValueKind::UserAgent,
            "url" => ValueKind::Url,
            "text" => ValueKind::Text,
            other => {
                return Err(format!(
                    "unknown kind `{other}`: expected email, name, first_name, last_name, phone, \
                     ip, uuid, user_agent, url or text"
                ));
            }
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ValueKind::Email => "email",
            ValueKind::Name => "name",
            ValueKind::FirstName => "first_name",
            ValueKind::LastName => "last_name",
            ValueKind::Phone => "phone",
            ValueKind::Ip => "ip",
            ValueKind::Uuid => "uuid",
            ValueKind::UserAgent => "user_agent",
            ValueKind::Url => "url",
            ValueKind::Text => "text",
        }
    }

    /// The kind a column or field name suggests (`email`, `contact_email` -> email, `ip_address`
    /// -> ip, ...); `sql_type` breaks ties for uuid and inet columns.
    pub fn infer(name: &str, sql_type: Option<&str>) -> ValueKind {
        match sql_type {
            Some("uuid") => return ValueKind::Uuid,
            Some("inet") | Some("cidr") => return ValueKind::Ip,
            _ => {}
        }
        let last = name.rsplit('.').next().unwrap_or(name).to_ascii_lowercase();
        let last = last.replace('-', "_");
        let squashed = last.replace('_', "");
        if squashed.contains("email") {
            ValueKind::Email
        } else if matches!(squashed.as_str(), "firstname" | "givenname") {
            ValueKind::FirstName
        } else if matches!(squashed.as_str(), "lastname" | "familyname" | "surname") {
            ValueKind::LastName
        } else if matches!(
            squashed.as_str(),
            "name" | "displayname" | "fullname" | "username" | "authorname"
        ) {
            ValueKind::Name
        } else if squashed.contains("phone") || squashed.contains("mobile") {
            ValueKind::Phone
        } else if squashed == "ip" || squashed == "ipaddress" || last.ends_with("_ip") {
            ValueKind::Ip
        } else if squashed == "useragent" {
            ValueKind::UserAgent
        } else if squashed.contains("url") {
            ValueKind::Url
        } else if squashed == "userid" || last.ends_with("_id") && squashed.contains("user") {
            ValueKind::Uuid
        } else {
            ValueKind::Text
        }
    }

    /// Kinds that identify a person and that verification searches every store for.
    pub fn is_identifying(self) -> bool {
        matches!(
            self,
            ValueKind::Email
                | ValueKind::Name
                | ValueKind::FirstName
                | ValueKind::LastName
                | ValueKind::Phone
                | ValueKind::Ip
        )
    }
}

/// Whether a row is deleted or updated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum RowAction {
    #[default]
    Update,
    Delete,
}

/// What happens to a Redis key of a pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyAction {
    /// Delete the subject's keys: named by the subject (`{userId}` in the pattern), or holding
    /// the subject's id or one of its values.
    Delete,
    /// Remove the members (set, sorted set, list elements, hash fields) that hold the subject's
    /// id or values; delete the key when nothing else is left.
    RemoveMember,
    /// Remove the members that hold the subject's id; in the others (and in string values),
    /// replace the subject's values and keep the rest of the text.
    Replace,
    Keep,
}
