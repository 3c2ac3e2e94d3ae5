//! Data structure for the zset type (pure, no I/O).
