//! The store-neutral vocabulary every layer shares: checksums, migration kinds and file
//! problems, plan states and their rules, drift status and globs, durations, the output
//! format. A leaf: nothing here imports from the rest of the crate (`scripts/check-layers`
//! enforces it), so every store and job can use it without depending on another store.

pub mod checksum;
pub mod drift;
pub mod duration;
pub mod files;
pub mod format;
pub mod plan;
pub mod words;

pub use checksum::Checksum;
pub use format::Format;
