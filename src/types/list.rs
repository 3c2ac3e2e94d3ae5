//! Data structure for the list type (pure, no I/O).
