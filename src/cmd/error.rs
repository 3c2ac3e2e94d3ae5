//! Command errors. Each variant's `Display` is the exact text Redis replies with (without the
//! leading `-`). Protocol errors, which close the connection, live in the `resp` crate.

use std::borrow::Cow;
use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub enum CmdError {
    WrongType,
    NotInteger,
    NotFloat,
    Syntax,
    NoSuchKey,
    Overflow,
    /// `ERR invalid expire time in '<cmd>' command`.
    InvalidExpire(String),
    /// `ERR wrong number of arguments for '<cmd>' command`.
    WrongArity(String),
    /// Any other error; the text includes its code (`ERR ...`, `NOAUTH ...`).
    Msg(Cow<'static, str>),
}

pub type CmdResult = Result<(), CmdError>;

impl CmdError {
    /// An error with full text `msg`, code included.
    pub fn msg(msg: impl Into<Cow<'static, str>>) -> CmdError {
        CmdError::Msg(msg.into())
    }
}

impl fmt::Display for CmdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CmdError::WrongType => f.write_str("WRONGTYPE Operation against a key holding the wrong kind of value"),
            CmdError::NotInteger => f.write_str("ERR value is not an integer or out of range"),
            CmdError::NotFloat => f.write_str("ERR value is not a valid float"),
            CmdError::Syntax => f.write_str("ERR syntax error"),
            CmdError::NoSuchKey => f.write_str("ERR no such key"),
            CmdError::Overflow => f.write_str("ERR increment or decrement would overflow"),
            CmdError::InvalidExpire(cmd) => write!(f, "ERR invalid expire time in '{cmd}' command"),
            CmdError::WrongArity(cmd) => write!(f, "ERR wrong number of arguments for '{cmd}' command"),
            CmdError::Msg(m) => f.write_str(m),
        }
    }
}
