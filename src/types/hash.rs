//! Data structure for the hash type (pure, no I/O).
