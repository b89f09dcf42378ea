//! `[health]`: the thresholds of `migrate health`, as written and resolved with their defaults.

use std::time::Duration;

use anyhow::bail;
use serde::Deserialize;

use super::file::DurationSetting;

/// `[health]` as written; every key is optional.
#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct HealthSection {
    /// A transaction running (active) longer than this is a finding.
    pub long_transaction: Option<DurationSetting>,
    /// A session idle inside an open transaction longer than this is a finding.
    pub idle_in_transaction: Option<DurationSetting>,
    /// A session waiting for a lock longer than this is a finding (with who blocks it).
    pub lock_wait: Option<DurationSetting>,
    /// Statements whose mean execution time is at least this are findings.
    pub slow_query: Option<DurationSetting>,
    /// How many entries the lists (slow queries, largest tables) show.
    pub top: Option<u32>,
    /// Dead tuples as a fraction of all tuples of a table (0..1).
    pub dead_tuple_ratio: Option<f64>,
    /// ... only for tables with at least this many dead tuples.
    pub dead_tuple_min: Option<u64>,
    /// Unused indexes smaller than this are not reported (`"1MB"`, `"0B"` for all).
    pub unused_index_min_size: Option<String>,
    /// Foreign keys without an index are reported for tables with at least this many rows.
    pub fk_index_min_rows: Option<u64>,
    /// Buffer cache hit ratio below this is a finding (0..1).
    pub cache_hit_ratio: Option<f64>,
    /// Connections in use as a fraction of those available (0..1).
    pub connections: Option<f64>,
    /// A sequence that has used this fraction of its range is a finding (0..1).
    pub sequence_used: Option<f64>,
    /// Transaction-ID age as a fraction of the 2^31 wraparound horizon (0..1).
    pub wraparound: Option<f64>,
    /// Replication lag above this is a finding.
    pub replication_lag: Option<DurationSetting>,
    /// Redis memory use as a fraction of `maxmemory` (0..1).
    pub redis_memory: Option<f64>,
    /// Keys the TTL audit of Redis looks at (a sample of a big keyspace).
    pub redis_sample: Option<u64>,
}

/// `[health]`, resolved.
#[derive(Debug, Clone)]
pub struct HealthSettings {
    pub long_transaction: Duration,
    pub idle_in_transaction: Duration,
    pub lock_wait: Duration,
    pub slow_query: Duration,
    pub top: u32,
    pub dead_tuple_ratio: f64,
    pub dead_tuple_min: u64,
    pub unused_index_min_bytes: u64,
    pub fk_index_min_rows: u64,
    pub cache_hit_ratio: f64,
    pub connections: f64,
    pub sequence_used: f64,
    pub wraparound: f64,
    pub replication_lag: Duration,
    pub redis_memory: f64,
    pub redis_sample: u64,
}

impl Default for HealthSettings {
    fn default() -> Self {
        HealthSettings {
            long_transaction: Duration::from_secs(300),
            idle_in_transaction: Duration::from_secs(60),
            lock_wait: Duration::from_secs(10),
            slow_query: Duration::from_millis(500),
            top: 10,
            dead_tuple_ratio: 0.2,
            dead_tuple_min: 10_000,
            unused_index_min_bytes: 1024 * 1024,
            fk_index_min_rows: 10_000,
            cache_hit_ratio: 0.95,
            connections: 0.8,
            sequence_used: 0.75,
            wraparound: 0.5,
            replication_lag: Duration::from_secs(30),
            redis_memory: 0.9,
            redis_sample: 10_000,
        }
    }
}

/// The environment's keys win over the top level's, key by key.
pub fn merge(base: HealthSection, over: HealthSection) -> HealthSection {
    macro_rules! pick {
        ($($field:ident),+) => {
            HealthSection { $( $field: over.$field.or(base.$field), )+ }
        };
    }
    pick!(
        long_transaction,
        idle_in_transaction,
        lock_wait,
        slow_query,
        top,
        dead_tuple_ratio,
        dead_tuple_min,
        unused_index_min_size,
        fk_index_min_rows,
        cache_hit_ratio,
        connections,
        sequence_used,
        wraparound,
        replication_lag,
        redis_memory,
        redis_sample
    )
}

pub fn resolve(section: HealthSection) -> anyhow::Result<HealthSettings> {
    let d = HealthSettings::default();
    let fraction = |name: &str, value: Option<f64>, default: f64| -> anyhow::Result<f64> {
        match value {
            None => Ok(default),
            Some(v) if (0.0..=1.0).contains(&v) => Ok(v),
            Some(v) => bail!("[health] {name} is a fraction between 0 and 1, got {v}"),
        }
    };
    let top = section.top.unwrap_or(d.top);
    if top == 0 || top > 1000 {
        bail!("[health] top must be between 1 and 1000, got {top}");
    }
    Ok(HealthSettings {
        long_transaction: section.long_transaction.map_or(d.long_transaction, |v| v.0),
        idle_in_transaction: section
            .idle_in_transaction
            .map_or(d.idle_in_transaction, |v| v.0),
        lock_wait: section.lock_wait.map_or(d.lock_wait, |v| v.0),
        slow_query: section.slow_query.map_or(d.slow_query, |v| v.0),
        top,
        dead_tuple_ratio: fraction(
            "dead_tuple_ratio",
            section.dead_tuple_ratio,
            d.dead_tuple_ratio,
        )?,
        dead_tuple_min: section.dead_tuple_min.unwrap_or(d.dead_tuple_min),
        unused_index_min_bytes: match &section.unused_index_min_size {
            None => d.unused_index_min_bytes,
            Some(text) => parse_size(text)
                .map_err(|err| anyhow::anyhow!("[health] unused_index_min_size: {err}"))?,
        },
        fk_index_min_rows: section.fk_index_min_rows.unwrap_or(d.fk_index_min_rows),
        cache_hit_ratio: fraction(
            "cache_hit_ratio",
            section.cache_hit_ratio,
            d.cache_hit_ratio,
        )?,
        connections: fraction("connections", section.connections, d.connections)?,
        sequence_used: fraction("sequence_used", section.sequence_used, d.sequence_used)?,
        wraparound: fraction("wraparound", section.wraparound, d.wraparound)?,
        replication_lag: section.replication_lag.map_or(d.replication_lag, |v| v.0),
        redis_memory: fraction("redis_memory", section.redis_memory, d.redis_memory)?,
        redis_sample: section.redis_sample.unwrap_or(d.redis_sample).max(1),
    })
}

/// `"0B"`, `"512kB"`, `"1MB"`, `"2GB"` (powers of 1024, as PostgreSQL's `pg_size_pretty`).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("invalid size {text:?}: expected e.g. \"0B\", \"512kB\", \"1MB\""))?;
    let factor: u64 = match unit.trim() {
        "" | "B" => 1,
        "kB" | "KB" => 1 << 10,
        "MB" => 1 << 20,
        "GB" => 1 << 30,
        "TB" => 1 << 40,
        _ => {
            return Err(format!(
                "invalid size {text:?}: units are B, kB, MB, GB, TB"
            ));
        }
    };
    number
        .checked_mul(factor)
        .ok_or_else(|| format!("size {text:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_in_powers_of_1024_and_refuse_overflow() {
        assert_eq!(parse_size("0B"), Ok(0));
        assert_eq!(parse_size("512kB"), Ok(512 * 1024));
        assert_eq!(parse_size("1MB"), Ok(1 << 20));
        assert!(parse_size("1 parsec").is_err());
        assert!(parse_size("99999999999999999TB").is_err());
    }

    #[test]
    fn fractions_outside_0_to_1_are_refused() {
        let section = HealthSection {
            cache_hit_ratio: Some(95.0),
            ..HealthSection::default()
        };
        let err = resolve(section).unwrap_err().to_string();
        assert!(err.contains("cache_hit_ratio is a fraction"), "{err}");
        assert_eq!(resolve(HealthSection::default()).unwrap().top, 10);
    }
}
