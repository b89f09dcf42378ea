//! Redis: the declared keyspace (key patterns, notify flags, function libraries, ACL users),
//! the servers it lives on (one server or every primary of a cluster), its idempotent setup
//! and a paced audit of the keys against the declaration.

pub mod audit;
pub mod cluster;
pub mod drift;
pub mod keyspace;
pub mod setup;
