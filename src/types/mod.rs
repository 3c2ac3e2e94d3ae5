//! Pure data structures behind the value types: compact encodings, sorted structures, streams,
//! and the C `long double` arithmetic of INCRBYFLOAT/HINCRBYFLOAT.
//! No I/O and no command parsing here; the command families in `cmd` use these.

pub mod bits;
pub mod geo;
pub mod hash;
pub mod hll;
pub mod list;
pub mod longdouble;
pub mod set;
pub mod small;
pub mod stream;
pub mod zset;
