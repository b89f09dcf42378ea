//! The words of the `[retention]` section: what a PostgreSQL policy does with old rows, and
//! the one Redis retention there is. The job itself is `jobs::retention`.

use serde::{Deserialize, Serialize};

/// What a PostgreSQL policy does with what is older than its age.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum RetentionAction {
    /// Delete rows, in batches.
    #[default]
    Delete,
    /// Drop whole partitions older than the cutoff, then delete the remaining old rows in
    /// batches (the default partition, a partly old partition).
    DropPartitions,
    /// Anonymize the subjects (rows of the subject table), keep the rows.
    Anonymize,
    /// Anonymize the subjects, then delete their rows (those still referenced stay anonymized).
    AnonymizeThenDelete,
}

/// `redis = "ttl"`: the only Redis retention there is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RedisRetention {
    Ttl,
}
