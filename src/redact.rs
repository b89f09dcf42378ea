//! Secrets out of sight: URLs whose passwords never reach output, logs or `Debug`.

use std::fmt;

/// A connection URL that keeps its password but only ever shows it as `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretUrl(String);

impl SecretUrl {
    pub fn new(url: impl Into<String>) -> Self {
        SecretUrl(url.into())
    }

    /// The real URL, password included: hand it to a driver, never to a printer.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn redacted(&self) -> String {
        redact_url(&self.0)
    }
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretUrl({})", self.redacted())
    }
}

impl fmt::Display for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// Replaces the password of a `scheme://user:password@host` URL and of `password=` pairs in a
/// key=value connection string (or URL query) with `***`.
pub fn redact_url(text: &str) -> String {
    let mut out = text.to_string();
    if let Some(scheme_end) = out.find("://") {
        let authority_start = scheme_end + 3;
        let authority_end = out[authority_start..]
            .find(['/', '?', '#'])
            .map_or(out.len(), |i| authority_start + i);
        if let Some(at) = out[authority_start..authority_end].rfind('@') {
            let userinfo_end = authority_start + at;
            if let Some(colon) = out[authority_start..userinfo_end].find(':') {
                out.replace_range(authority_start + colon + 1..userinfo_end, "***");
            }
        }
    }
    redact_password_pairs(&out)
}

fn redact_password_pairs(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(index) = find_password_key(rest) {
        let value_start = index + "password=".len();
        out.push_str(&rest[..value_start]);
        out.push_str("***");
        let value = &rest[value_start..];
        let value_len = if let Some(quoted) = value.strip_prefix('\'') {
            let mut end = quoted.len();
            let mut escaped = false;
            for (i, c) in quoted.char_indices() {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == '\'' {
                    end = i + 1;
                    break;
                }
            }
            (end + 1).min(value.len())
        } else {
            value.find([' ', '&', '\t', '\n']).unwrap_or(value.len())
        };
        rest = &value[value_len..];
    }
    out.push_str(rest);
    out
}

fn find_password_key(text: &str) -> Option<usize> {
    let lower = text.to_ascii_lowercase();
    let mut from = 0;
    while let Some(i) = lower[from..].find("password=") {
        let at = from + i;
        let boundary = at == 0 || matches!(lower.as_bytes()[at - 1], b' ' | b'?' | b'&' | b'\t');
        if boundary {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_url_passwords() {
        assert_eq!(
            redact_url("postgres://app:s3cr3t@db:5432/x?sslmode=require"),
            "postgres://app:***@db:5432/x?sslmode=require"
        );
        assert_eq!(
            redact_url("redis://:pw@127.0.0.1:6379/0"),
            "redis://:***@127.0.0.1:6379/0"
        );
        assert_eq!(redact_url("postgres://app@db/x"), "postgres://app@db/x");
        assert_eq!(
            redact_url("mongodb://u:p%40ss@h1:1,h2:2/db"),
            "mongodb://u:***@h1:1,h2:2/db"
        );
    }

    #[test]
    fn redacts_key_value_passwords() {
        assert_eq!(
            redact_url("host=db password=hunter2 dbname=x"),
            "host=db password=*** dbname=x"
        );
        assert_eq!(
            redact_url("host=db password='with space' user=u"),
            "host=db password=*** user=u"
        );
        assert_eq!(
            redact_url("postgres://db/x?user=u&password=pw&sslmode=disable"),
            "postgres://db/x?user=u&password=***&sslmode=disable"
        );
        assert_eq!(
            redact_url("host=db old_password=x"),
            "host=db old_password=x"
        );
    }

    #[test]
    fn debug_never_shows_the_password() {
        let url = SecretUrl::new("postgres://a:topsecret@h/d");
        assert!(!format!("{url:?}").contains("topsecret"));
        assert!(!format!("{url}").contains("topsecret"));
        assert_eq!(url.expose(), "postgres://a:topsecret@h/d");
    }
}
