//! The RDB file format (version 10, as Redis 7.0 writes it): encoder and decoder.
