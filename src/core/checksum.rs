//! Checksums of migration files and declarations: sha256 (hex), CRLF read as LF.

use std::fmt;

use serde::Serialize;
use sha2::{Digest, Sha256};

/// sha256 (hex) of a file's bytes with CRLF normalized to LF.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
#[serde(transparent)]
pub struct Checksum(String);

impl Checksum {
    pub fn of(bytes: &[u8]) -> Checksum {
        let mut hasher = Sha256::new();
        let mut rest = bytes;
        // Hash in runs between CR LF pairs, dropping each CR of a pair, without copying.
        while let Some(index) = rest.windows(2).position(|w| w == b"\r\n") {
            hasher.update(&rest[..index]);
            rest = &rest[index + 1..];
        }
        hasher.update(rest);
        Checksum(hex::encode(hasher.finalize()))
    }

    pub fn from_hex(hex: impl Into<String>) -> Checksum {
        Checksum(hex.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn short(&self) -> &str {
        &self.0[..self.0.len().min(12)]
    }
}

impl fmt::Display for Checksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
