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
///
/// Passwords are often pasted unencoded, so the URL's user info is taken to end at the *last*
/// `@` after the scheme (a host never contains one), and a `/`, `?`, `#` or `@` inside the
/// password does not end it early. When in doubt this hides too much, never too little.
pub fn redact_url(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    // Every URL in the text: each ends at whitespace or a quote.
    while let Some(scheme_end) = rest.find("://") {
        let start = scheme_end + 3;
        let end = rest[start..]
            .find(|c: char| c.is_whitespace() || matches!(c, '`' | '\'' | '"'))
            .map_or(rest.len(), |n| start + n);
        out.push_str(&rest[..start]);
        let url = &rest[start..end];
        match url
            .rfind('@')
            .and_then(|at| url[..at].find(':').map(|colon| (colon, at)))
        {
            Some((colon, at)) => {
                out.push_str(&url[..=colon]);
                out.push_str("***");
                out.push_str(&url[at..]);
            }
            None => out.push_str(url),
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    redact_password_pairs(&out)
}

/// Refuses a URL whose authority (what comes between `://` and the first `/`, `?` or `#`)
/// holds more than one `@`: an unencoded `@` in a password makes drivers take the rest of the
/// password for the host, and then show it in every message. The error shows the URL redacted.
pub fn check_userinfo(url: &str) -> Result<(), String> {
    let Some(scheme_end) = url.find("://") else {
        return Ok(());
    };
    let rest = &url[scheme_end + 3..];
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    if authority.matches('@').count() > 1 {
        return Err(format!(
            "the user or password in `{}` contains an unencoded `@`: write it as %40 (characters such as / ? # : must be percent-encoded too)",
            redact_url(url)
        ));
    }
    Ok(())
}

/// `password=VALUE` pairs (libpq allows spaces around `=`, and quoted values), as in
/// `host=db password = 'a b'` or a URL query `?password=x`.
fn redact_password_pairs(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(value_at) = find_password_value(rest) {
        out.push_str(&rest[..value_at]);
        out.push_str("***");
        let value = &rest[value_at..];
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
            value
                .find(|c: char| c.is_whitespace() || c == '&')
                .unwrap_or(value.len())
        };
        rest = &value[value_len..];
    }
    out.push_str(rest);
    out
}

/// Where the value of the next `password` key (at a word boundary) starts, past the spaces
/// around `=`.
fn find_password_value(text: &str) -> Option<usize> {
    let lower = text.to_ascii_lowercase();
    let bytes = lower.as_bytes();
    let mut from = 0;
    while let Some(i) = lower[from..].find("password") {
        let at = from + i;
        from = at + 1;
        let boundary =
            at == 0 || matches!(bytes[at - 1], b' ' | b'?' | b'&' | b'\t' | b'\n' | b';');
        if !boundary {
            continue;
        }
        let mut j = at + "password".len();
        while j < bytes.len() && (bytes[j] == b' ' || bytes[j] == b'\t') {
            j += 1;
        }
        if bytes.get(j) != Some(&b'=') {
            continue;
        }
        j += 1;
        while j < bytes.len() && (bytes[j] == b' ' || bytes[j] == b'\t') {
            j += 1;
        }
        return Some(j);
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
    fn redacts_passwords_with_url_delimiters_and_spaced_pairs() {
        for (text, secret) in [
            ("postgres://app:se/cret@db:5432/x", "se/cret"),
            ("postgres://app:se#cret@db/x", "se#cret"),
            ("postgres://app:se?cret@db/x", "se?cret"),
            ("postgres://app:se@cret@db/x", "se@cret"),
            (
                "mongodb://u:a/b?c#d@h1:1,h2:2/db?authSource=admin",
                "a/b?c#d",
            ),
            ("redis://:p/w@127.0.0.1:6379/0", "p/w"),
            (
                "host=127.0.0.1 password = SecretKv4 port=notaport",
                "SecretKv4",
            ),
            ("host=127.0.0.1 PASSWORD= 'Secret Kv5' port=x", "Secret Kv5"),
            ("host=127.0.0.1 password\t=\tSecretKv6", "SecretKv6"),
        ] {
            let redacted = redact_url(text);
            assert!(!redacted.contains(secret), "{text} -> {redacted}");
            assert!(redacted.contains("***"), "{text} -> {redacted}");
        }
        assert_eq!(
            redact_url("postgres://app:se/cret@db:5432/x"),
            "postgres://app:***@db:5432/x"
        );
        assert_eq!(
            redact_url("error: `postgres://a:b@h/d` has an unencoded `@`, see mongodb://u:p@m/x"),
            "error: `postgres://a:***@h/d` has an unencoded `@`, see mongodb://u:***@m/x"
        );
        assert_eq!(
            redact_url("host=h password = SecretKv4 port=1"),
            "host=h password = *** port=1"
        );
    }

    #[test]
    fn refuses_an_unencoded_at_in_the_user_info() {
        let err = check_userinfo("postgres://app:Se@cretPw@127.0.0.1:1/db").unwrap_err();
        assert!(err.contains("%40"), "{err}");
        assert!(!err.contains("cretPw"), "{err}");
        assert!(check_userinfo("postgres://app:p%40ss@h/db?application_name=a@b").is_ok());
        assert!(check_userinfo("host=h password=a@b").is_ok());
    }

    #[test]
    fn debug_never_shows_the_password() {
        let url = SecretUrl::new("postgres://a:topsecret@h/d");
        assert!(!format!("{url:?}").contains("topsecret"));
        assert!(!format!("{url}").contains("topsecret"));
        assert_eq!(url.expose(), "postgres://a:topsecret@h/d");
    }
}
