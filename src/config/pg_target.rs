//! Where a PostgreSQL server is and how to reach it: a `postgres://` URL or a key=value string,
//! parsed with libpq's `sslmode` rules, shown without its password. Connecting is
//! `crate::postgres::connect`'s job.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use anyhow::bail;
use tokio_postgres::Config;
use tokio_postgres::config::{Host, SslMode as DriverSslMode};

/// libpq's `sslmode` values that a client can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl FromStr for SslMode {
    type Err = anyhow::Error;
    fn from_str(text: &str) -> anyhow::Result<Self> {
        Ok(match text {
            "disable" => SslMode::Disable,
            "allow" | "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            other => bail!(
                "invalid sslmode `{other}`: expected disable, prefer, require, verify-ca or verify-full"
            ),
        })
    }
}

/// Where and how to connect. `Debug` and `Display` show the server, never the password.
#[derive(Clone)]
pub struct PgTarget {
    pub(crate) config: Config,
    pub(crate) ssl_mode: SslMode,
    pub(crate) root_cert: Option<PathBuf>,
}

impl fmt::Debug for PgTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgTarget")
            .field("server", &self.to_string())
            .field("ssl_mode", &self.ssl_mode)
            .field("root_cert", &self.root_cert)
            .finish()
    }
}

impl fmt::Display for PgTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let user = self.config.get_user().unwrap_or("");
        let host = match self.config.get_hosts().first() {
            Some(Host::Tcp(host)) => host.clone(),
            Some(Host::Unix(path)) => path.display().to_string(),
            None => "localhost".to_string(),
        };
        let port = self.config.get_ports().first().copied().unwrap_or(5432);
        if user.is_empty() {
            write!(f, "{host}:{port}/{}", self.database())
        } else {
            write!(f, "{user}@{host}:{port}/{}", self.database())
        }
    }
}

impl PgTarget {
    /// Parses a `postgres://` URL or a `key=value` string. `sslmode`/`sslrootcert` may come from
    /// the string itself or from the config file (the string wins, as with libpq).
    pub fn parse(
        text: &str,
        sslmode: Option<&str>,
        sslrootcert: Option<PathBuf>,
        connect_timeout: Duration,
    ) -> anyhow::Result<PgTarget> {
        crate::redact::check_userinfo(text).map_err(|message| anyhow::anyhow!(message))?;
        let (rest, ssl_from_string, root_from_string) = extract_ssl_params(text)?;
        let mut config = Config::from_str(&rest).map_err(|err| {
            let mut error = crate::errors::Detailed::new(format!(
                "invalid PostgreSQL connection string `{}`: {err}",
                crate::redact::redact_url(text)
            ));
            if text.contains("://") {
                error = error.hint(
                    "in a URL, characters such as @ / ? # : in the user or password must be percent-encoded (%40 %2F %3F %23 %3A)",
                );
            }
            anyhow::Error::from(error)
        })?;
        let ssl_mode = match ssl_from_string.as_deref().or(sslmode) {
            Some(mode) => mode.parse()?,
            None => SslMode::Prefer,
        };
        let root_cert = root_from_string.map(PathBuf::from).or(sslrootcert);
        if config.get_user().is_none() {
            let user = std::env::var("PGUSER")
                .ok()
                .or_else(|| std::env::var("USER").ok())
                .unwrap_or_else(|| "postgres".to_string());
            config.user(&user);
        }
        if config.get_hosts().is_empty() {
            config.host("localhost");
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(connect_timeout);
        }
        config.ssl_mode(match ssl_mode {
            SslMode::Disable => DriverSslMode::Disable,
            SslMode::Prefer => DriverSslMode::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => DriverSslMode::Require,
        });
        Ok(PgTarget {
            config,
            ssl_mode,
            root_cert,
        })
    }

    pub fn database(&self) -> &str {
        self.config
            .get_dbname()
            .or_else(|| self.config.get_user())
            .unwrap_or("postgres")
    }

    pub fn user(&self) -> &str {
        self.config.get_user().unwrap_or("postgres")
    }

    pub fn ssl_mode(&self) -> SslMode {
        self.ssl_mode
    }

    /// The same server with another database (for shadow and scratch databases).
    pub fn with_database(&self, database: &str) -> PgTarget {
        let mut other = self.clone();
        other.config.dbname(database);
        other
    }

    pub fn driver_config(&self) -> &Config {
        &self.config
    }
}

/// Removes `sslmode`, `sslrootcert` (and the client-certificate keys, which this tool does not
/// support yet) from a URL query or key=value string, returning them separately.
fn extract_ssl_params(text: &str) -> anyhow::Result<(String, Option<String>, Option<String>)> {
    let text = text.trim();
    let mut sslmode = None;
    let mut sslrootcert = None;
    if text.starts_with("postgres://") || text.starts_with("postgresql://") {
        let Some((base, query)) = text.split_once('?') else {
            return Ok((text.to_string(), None, None));
        };
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let decoded = url::form_urlencoded::parse(value.as_bytes())
                .next()
                .map(|(k, v)| {
                    if v.is_empty() {
                        k.into_owned()
                    } else {
                        format!("{k}={v}")
                    }
                })
                .unwrap_or_default();
            match key {
                "sslmode" => sslmode = Some(decoded),
                "sslrootcert" => sslrootcert = Some(decoded),
                "sslcert" | "sslkey" => bail!("client certificates (`{key}`) are not supported"),
                _ => kept.push(pair),
            }
        }
        let rest = if kept.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        return Ok((rest, sslmode, sslrootcert));
    }
    let mut kept = Vec::new();
    for (key, raw) in key_value_pairs(text)? {
        match key.as_str() {
            "sslmode" => sslmode = Some(unquote(&raw)),
            "sslrootcert" => sslrootcert = Some(unquote(&raw)),
            "sslcert" | "sslkey" => bail!("client certificates (`{key}`) are not supported"),
            _ => kept.push(format!("{key}={raw}")),
        }
    }
    Ok((kept.join(" "), sslmode, sslrootcert))
}

/// Splits `a=1 b='x y'` into pairs, keeping each raw value (quotes included).
fn key_value_pairs(text: &str) -> anyhow::Result<Vec<(String, String)>> {
    let mut pairs = Vec::new();
    let mut chars = text.char_indices().peekable();
    loop {
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        let Some(&(start, _)) = chars.peek() else {
            break;
        };
        let mut key_end = start;
        while let Some(&(i, c)) = chars.peek() {
            if c == '=' || c.is_whitespace() {
                break;
            }
            key_end = i + c.len_utf8();
            chars.next();
        }
        let key = text[start..key_end].to_string();
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        if chars.next_if(|(_, c)| *c == '=').is_none() {
            bail!("invalid connection string: `{key}` has no value (expected key=value)");
        }
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        let value_start = chars.peek().map_or(text.len(), |&(i, _)| i);
        let mut value_end = value_start;
        if chars.next_if(|(_, c)| *c == '\'').is_some() {
            let mut escaped = false;
            let mut closed = false;
            for (i, c) in chars.by_ref() {
                value_end = i + c.len_utf8();
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == '\'' {
                    closed = true;
                    break;
                }
            }
            if !closed {
                bail!("invalid connection string: unterminated quoted value for `{key}`");
            }
        } else {
            while let Some(&(i, c)) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                value_end = i + c.len_utf8();
                chars.next();
            }
        }
        pairs.push((key, text[value_start..value_end].to_string()));
    }
    Ok(pairs)
}

fn unquote(raw: &str) -> String {
    match raw.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')) {
        Some(inner) => inner.replace("\\'", "'").replace("\\\\", "\\"),
        None => raw.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(text: &str) -> PgTarget {
        PgTarget::parse(text, None, None, Duration::from_secs(5)).unwrap()
    }

    #[test]
    fn parses_urls_and_strips_ssl_params() {
        let t =
            target("postgres://app:pw@db.example:6543/shop?sslmode=verify-full&application_name=x");
        assert_eq!(t.ssl_mode(), SslMode::VerifyFull);
        assert_eq!(t.to_string(), "app@db.example:6543/shop");
        assert_eq!(t.database(), "shop");
        let t = target("postgresql://app@db/shop?sslmode=verify-ca&sslrootcert=%2Fetc%2Fca.pem");
        assert_eq!(t.ssl_mode(), SslMode::VerifyCa);
        assert_eq!(
            t.root_cert.as_deref(),
            Some(std::path::Path::new("/etc/ca.pem"))
        );
    }

    #[test]
    fn parses_key_value_strings() {
        let t = target("host=db port=5433 user=app password='p w' dbname=shop sslmode=disable");
        assert_eq!(t.ssl_mode(), SslMode::Disable);
        assert_eq!(t.to_string(), "app@db:5433/shop");
        assert_eq!(t.driver_config().get_password(), Some(&b"p w"[..]));
    }

    #[test]
    fn config_sslmode_is_the_fallback() {
        let t = PgTarget::parse(
            "postgres://h/d",
            Some("require"),
            None,
            Duration::from_secs(1),
        )
        .unwrap();
        assert_eq!(t.ssl_mode(), SslMode::Require);
        let t = PgTarget::parse(
            "postgres://h/d?sslmode=disable",
            Some("require"),
            None,
            Duration::from_secs(1),
        )
        .unwrap();
        assert_eq!(t.ssl_mode(), SslMode::Disable);
    }

    #[test]
    fn rejects_bad_input_without_leaking_the_password() {
        let err = PgTarget::parse(
            "postgres://u:hunter2@h/d?sslmode=sometimes",
            None,
            None,
            Duration::from_secs(1),
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("invalid sslmode `sometimes`"),
            "{err}"
        );
        let err = PgTarget::parse(
            "postgres://u:hunter2@h:notaport/d",
            None,
            None,
            Duration::from_secs(1),
        )
        .unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
        assert!(PgTarget::parse("host=db user", None, None, Duration::from_secs(1)).is_err());
    }

    #[test]
    fn debug_hides_the_password() {
        let t = target("postgres://app:hunter2@db/shop");
        assert!(!format!("{t:?}").contains("hunter2"));
    }
}
