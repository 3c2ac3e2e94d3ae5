//! Data structure for the set type (pure, no I/O).
