//! # resp — the wire protocol of redstart
//!
//! - [`parser`]: the incremental request parser (RESP multibulk and inline commands), with
//!   Redis's protocol limits and error texts. Zero-copy: arguments are spans of the read buffer.
//! - [`writer`]: the reply encoder for RESP2 and RESP3, writing into an output buffer.
//!
//! This crate knows nothing of commands or data; the server builds on it.

pub mod parser;
pub mod writer;

pub use parser::{parse_i64, split_args, Limits, Parsed, Parser, ProtocolError};
pub use writer::{format_double, Writer};
