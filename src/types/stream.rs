//! Data structure for the stream type (pure, no I/O).
