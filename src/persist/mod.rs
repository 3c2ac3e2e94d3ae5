//! Persistence: RDB snapshots (and, later, the append-only file).

pub mod rdb;
