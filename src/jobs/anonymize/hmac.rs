//! The anonymization key and everything derived from it: HMAC-SHA256 of normalized values,
//! pseudonymous output formats and deterministic fake values.
//!
//! The key comes from an environment variable named in the config (`[anonymize] key_env`), is
//! never printed (`Debug` shows `***`) and never sent to a database: every hash is computed here.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::rules::ValueKind;
use crate::errors::Detailed;

/// Keys shorter than this are refused: a short key makes the hashes guessable.
pub const MIN_KEY_LEN: usize = 16;

/// Domain of every pseudonymous e-mail address: `.invalid` is reserved (RFC 2606), so no real
/// address can ever equal one of ours.
pub const ANON_EMAIL_DOMAIN: &str = "anon.invalid";

/// The secret HMAC key.
#[derive(Clone)]
pub struct Key(Vec<u8>);

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key(***)")
    }
}

impl Key {
    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<Key, Detailed> {
        let bytes = bytes.into();
        if bytes.len() < MIN_KEY_LEN {
            return Err(Detailed::new(format!(
                "the anonymization key is too short ({}, at least {MIN_KEY_LEN})",
                crate::output::count(bytes.len(), "byte")
            ))
            .hint("generate one with `openssl rand -hex 32` and keep it outside the database"));
        }
        Ok(Key(bytes))
    }

    /// Reads the key from the environment variable `name`; a missing or empty variable is an
    /// error that names it (and never shows a value).
    pub fn from_env(name: &str) -> Result<Key, Detailed> {
        match std::env::var(name) {
            Ok(value) if !value.trim().is_empty() => Key::new(value.trim().as_bytes().to_vec())
                .map_err(|err| {
                    Detailed::new(format!("{} (from ${name})", err.message)).hint(
                        "generate one with `openssl rand -hex 32` and keep it outside the database",
                    )
                }),
            _ => Err(Key::missing(name)),
        }
    }

    /// Like [`Key::from_env`], for jobs that only use the key when it is there: an unset (or
    /// empty) variable is `None`; a key that is set must be valid.
    pub fn from_env_if_set(name: &str) -> Result<Option<Key>, Detailed> {
        match std::env::var(name) {
            Ok(value) if !value.trim().is_empty() => Key::from_env(name).map(Some),
            _ => Ok(None),
        }
    }

    /// The error for a key that is needed but not set.
    pub fn missing(name: &str) -> Detailed {
        Detailed::new(format!(
            "no anonymization key: the environment variable {name} is not set; nothing was changed"
        ))
        .context("[anonymize] key_env names the variable holding the HMAC-SHA256 key")
        .hint(format!(
            "export {name}=$(openssl rand -hex 32) (store it safely: the same key gives the same pseudonyms)"
        ))
    }

    /// HMAC-SHA256 of `data`.
    pub fn mac(&self, data: &[u8]) -> [u8; 32] {
        // HMAC accepts keys of any length; `new_from_slice` cannot fail for it.
        let mut mac = match <Hmac<Sha256> as Mac>::new_from_slice(&self.0) {
            Ok(mac) => mac,
            Err(_) => unreachable!("HMAC takes keys of any length"),
        };
        mac.update(data);
        mac.finalize().into_bytes().into()
    }

    /// Lowercase hex of the HMAC of `data`: 64 characters.
    pub fn hex(&self, data: &str) -> String {
        hex::encode(self.mac(data.as_bytes()))
    }

    /// A public fingerprint of the key (16 hex digits of the HMAC of a constant): tells two keys
    /// apart (a job resumed or an erasure verified under another key) without revealing either.
    pub fn fingerprint(&self) -> String {
        hex::encode(&self.mac(b"migrate:key-fingerprint:v1")[..8])
    }

    /// The ledger's name for a subject (`gdpr_requests.subject_hmac`): the HMAC of the subject's
    /// id, lowercase, under its own domain so that it never equals a value pseudonym.
    pub fn subject_hmac(&self, subject_id: &str) -> String {
        self.hex(&format!("subject:{}", subject_id.trim().to_lowercase()))
    }
}

/// Normalizes a value before hashing, so that one person gets one pseudonym: trimmed;
/// e-mail addresses, names and ids lower-cased; phone numbers reduced to digits (and a
/// leading `+`); IP addresses in canonical form.
pub fn normalize(kind: ValueKind, value: &str) -> String {
    let trimmed = value.trim();
    match kind {
        ValueKind::Email | ValueKind::Uuid => trimmed.to_lowercase(),
        ValueKind::Name | ValueKind::FirstName | ValueKind::LastName => trimmed
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase(),
        ValueKind::Phone => {
            let digits: String = trimmed.chars().filter(char::is_ascii_digit).collect();
            if trimmed.starts_with('+') {
                format!("+{digits}")
            } else {
                digits
            }
        }
        ValueKind::Ip => {
            let host = trimmed.split('/').next().unwrap_or(trimmed);
            host.parse::<IpAddr>()
                .map_or_else(|_| host.to_lowercase(), |ip| ip.to_string())
        }
        ValueKind::UserAgent | ValueKind::Url | ValueKind::Text => trimmed.to_string(),
    }
}

/// The `hash` strategy's output for a value of `kind`, from the 32 bytes of an HMAC. E-mail
/// addresses become `anon+<64 hex>@anon.invalid`, IP addresses an address of the
/// documentation prefix 2001:db8::/32, ids a UUID; everything else `anon:<64 hex>`.
pub fn hash_output(kind: ValueKind, mac: &[u8; 32]) -> String {
    match kind {
        ValueKind::Email => format!("anon+{}@{ANON_EMAIL_DOMAIN}", hex::encode(mac)),
        ValueKind::Ip => doc_ipv6(mac).to_string(),
        ValueKind::Uuid => uuid_of(mac),
        _ => format!("anon:{}", hex::encode(mac)),
    }
}

/// Whether `value` already is an output of [`hash_output`] for `kind` (re-runs leave it alone).
pub fn is_hash_output(kind: ValueKind, value: &str) -> bool {
    let is_hex64 = |s: &str| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit());
    match kind {
        ValueKind::Email => value
            .strip_prefix("anon+")
            .and_then(|rest| rest.strip_suffix(&format!("@{ANON_EMAIL_DOMAIN}")))
            .is_some_and(is_hex64),
        ValueKind::Ip => value
            .split('/')
            .next()
            .and_then(|host| host.parse::<Ipv6Addr>().ok())
            .is_some_and(|ip| ip.segments()[0] == 0x2001 && ip.segments()[1] == 0x0db8),
        ValueKind::Uuid => value.len() == 36 && value.as_bytes().get(14) == Some(&b'8'),
        _ => value.strip_prefix("anon:").is_some_and(is_hex64),
    }
}

/// An address of 2001:db8::/32 (documentation only, never routed) built from the HMAC.
fn doc_ipv6(mac: &[u8; 32]) -> Ipv6Addr {
    let mut bytes = [0u8; 16];
    bytes[0] = 0x20;
    bytes[1] = 0x01;
    bytes[2] = 0x0d;
    bytes[3] = 0xb8;
    bytes[4..].copy_from_slice(&mac[..12]);
    Ipv6Addr::from(bytes)
}

/// A UUID (version 8, "custom", RFC 9562) from the first 16 bytes of the HMAC.
fn uuid_of(mac: &[u8; 32]) -> String {
    let mut b = [0u8; 16];
    b.copy_from_slice(&mac[..16]);
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

const FIRST_NAMES: &[&str] = &[
    "Ada", "Alan", "Alex", "Amara", "Ana", "Ben", "Bianca", "Carlos", "Chen", "Clara", "Dana",
    "David", "Elena", "Emil", "Fatima", "Felix", "Grace", "Hana", "Hugo", "Ines", "Ivan", "Jamal",
    "Jana", "Jonas", "Kai", "Kenji", "Lara", "Leo", "Lina", "Luca", "Maya", "Mateo", "Mia", "Nia",
    "Noah", "Nora", "Omar", "Oskar", "Priya", "Quinn", "Rafael", "Rosa", "Sami", "Sara", "Theo",
    "Uma", "Vera", "Wen", "Yara", "Zoe",
];

const LAST_NAMES: &[&str] = &[
    "Adler", "Alvarez", "Bauer", "Berg", "Costa", "Dahl", "Diaz", "Eriksen", "Fischer", "Garcia",
    "Haas", "Hansen", "Ito", "Jensen", "Kaur", "Keller", "Kim", "Kowalski", "Lang", "Larsen",
    "Lopez", "Meyer", "Moreau", "Nagy", "Novak", "Okafor", "Olsen", "Park", "Petrov", "Quist",
    "Rossi", "Sato", "Schmidt", "Silva", "Singh", "Stone", "Tanaka", "Torres", "Urban", "Vogel",
    "Wagner", "Weber", "Wong", "Xu", "Yilmaz", "Young", "Zhang", "Ziegler", "Moss", "Reed",
];

const WORDS: &[&str] = &[
    "lorem",
    "ipsum",
    "dolor",
    "sit",
    "amet",
    "consectetur",
    "adipiscing",
    "elit",
    "sed",
    "do",
    "eiusmod",
    "tempor",
    "incididunt",
    "ut",
    "labore",
    "et",
    "dolore",
    "magna",
    "aliqua",
    "enim",
];

fn pick<'a>(list: &[&'a str], byte_a: u8, byte_b: u8) -> &'a str {
    list[(usize::from(byte_a) << 8 | usize::from(byte_b)) % list.len()]
}

/// A realistic-looking fake value of `kind`, fully determined by the 32 bytes of an HMAC. When
/// `unique` is set (the column is part of a UNIQUE constraint) the whole HMAC is embedded, so two
/// different inputs cannot produce the same output.
pub fn fake_output(kind: ValueKind, mac: &[u8; 32], unique: bool) -> String {
    let first = pick(FIRST_NAMES, mac[0], mac[1]);
    let last = pick(LAST_NAMES, mac[2], mac[3]);
    let tag = |n: usize| hex::encode(&mac[4..4 + n]);
    let value = match kind {
        ValueKind::FirstName => first.to_string(),
        ValueKind::LastName => last.to_string(),
        ValueKind::Name => format!("{first} {last}"),
        ValueKind::Email if unique => {
            return format!(
                "{}.{}+{}@{ANON_EMAIL_DOMAIN}",
                first.to_lowercase(),
                last.to_lowercase(),
                hex::encode(mac)
            );
        }
        ValueKind::Email => format!(
            "{}.{}.{}@{ANON_EMAIL_DOMAIN}",
            first.to_lowercase(),
            last.to_lowercase(),
            tag(3)
        ),
        // The fictional 555-01xx range of the North American numbering plan.
        ValueKind::Phone => format!("+1 555 01{:02}", mac[4] % 100),
        // 198.18.0.0/15 is reserved for benchmarking: never a real client's address.
        ValueKind::Ip => Ipv4Addr::new(198, 18 + (mac[4] & 1), mac[5], mac[6]).to_string(),
        ValueKind::Uuid => return uuid_of(mac),
        ValueKind::UserAgent => "Mozilla/5.0 (anonymized)".to_string(),
        ValueKind::Url => format!("https://{ANON_EMAIL_DOMAIN}/{}", tag(8)),
        ValueKind::Text => {
            let words: Vec<&str> = (0..4)
                .map(|i| pick(WORDS, mac[4 + 2 * i], mac[5 + 2 * i]))
                .collect();
            let mut text = words.join(" ");
            if let Some(first) = text.get_mut(0..1) {
                first.make_ascii_uppercase();
            }
            text
        }
    };
    if unique {
        format!("{value} {}", hex::encode(mac))
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> Key {
        Key::new(b"0123456789abcdef0123456789abcdef".to_vec()).unwrap()
    }

    #[test]
    fn hmac_matches_rfc_4231_test_case_2() {
        // RFC 4231 test case 2 uses a 4-byte key, below our minimum; build it directly.
        let key = Key(b"Jefe".to_vec());
        assert_eq!(
            hex::encode(key.mac(b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn short_or_missing_keys_are_refused_without_showing_them() {
        assert!(Key::new(b"short".to_vec()).is_err());
        let err = Key::from_env("MIGRATE_TEST_SURELY_UNSET_KEY_VAR").unwrap_err();
        assert!(err.message.contains("MIGRATE_TEST_SURELY_UNSET_KEY_VAR"));
        assert_eq!(format!("{:?}", key()), "Key(***)");
    }

    #[test]
    fn normalization_gives_one_pseudonym_per_person() {
        assert_eq!(
            normalize(ValueKind::Email, "  Alice@Example.COM "),
            "alice@example.com"
        );
        assert_eq!(
            normalize(ValueKind::Name, " Alice   van  Dijk"),
            "alice van dijk"
        );
        assert_eq!(
            normalize(ValueKind::Phone, "+1 (555) 010-0199"),
            "+15550100199"
        );
        assert_eq!(normalize(ValueKind::Ip, "10.0.0.7/32"), "10.0.0.7");
        assert_eq!(normalize(ValueKind::Ip, "2001:DB8::1"), "2001:db8::1");
    }

    #[test]
    fn hash_outputs_have_recognizable_collision_free_formats() {
        let mac = key().mac(b"alice@example.com");
        let email = hash_output(ValueKind::Email, &mac);
        assert!(email.starts_with("anon+") && email.ends_with("@anon.invalid"));
        assert_eq!(email.len(), "anon+".len() + 64 + "@anon.invalid".len());
        assert!(is_hash_output(ValueKind::Email, &email));
        assert!(!is_hash_output(ValueKind::Email, "alice@example.com"));
        let ip = hash_output(ValueKind::Ip, &mac);
        assert!(ip.starts_with("2001:db8:"), "{ip}");
        assert!(is_hash_output(ValueKind::Ip, &ip));
        assert!(!is_hash_output(ValueKind::Ip, "10.0.0.1"));
        let uuid = hash_output(ValueKind::Uuid, &mac);
        assert_eq!(uuid.len(), 36);
        assert!(is_hash_output(ValueKind::Uuid, &uuid));
        let text = hash_output(ValueKind::Phone, &mac);
        assert!(is_hash_output(ValueKind::Phone, &text));
    }

    #[test]
    fn fakes_are_deterministic_and_realistic() {
        let a = key().mac(b"row:1");
        let b = key().mac(b"row:2");
        assert_eq!(
            fake_output(ValueKind::Name, &a, false),
            fake_output(ValueKind::Name, &a, false)
        );
        let name = fake_output(ValueKind::Name, &a, false);
        assert_eq!(name.split(' ').count(), 2, "{name}");
        let phone = fake_output(ValueKind::Phone, &b, false);
        assert!(phone.starts_with("+1 555 01"), "{phone}");
        let ip = fake_output(ValueKind::Ip, &b, false);
        assert!(
            ip.starts_with("198.18.") || ip.starts_with("198.19."),
            "{ip}"
        );
        assert!(ip.parse::<IpAddr>().is_ok());
        let unique_a = fake_output(ValueKind::Email, &a, true);
        let unique_b = fake_output(ValueKind::Email, &b, true);
        assert_ne!(unique_a, unique_b);
        assert!(unique_a.ends_with("@anon.invalid"));
    }

    #[test]
    fn subject_hmac_is_64_lowercase_hex_and_case_insensitive() {
        let k = key();
        let h = k.subject_hmac("A1000000-0000-4000-8000-000000000001");
        assert_eq!(h, k.subject_hmac("a1000000-0000-4000-8000-000000000001"));
        assert_eq!(h.len(), 64);
        assert!(
            h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
    }
}
