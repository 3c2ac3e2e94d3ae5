//! The RDB file format (version 10, as Redis 7.0 writes it): encoder and decoder.
//!
//! Written from the public description of the format (opcodes, length encoding, listpack,
//! intset, ziplist, LZF and CRC-64/Jones); no Redis code.
//!
//! Submodules: `codec` (the primitives: CRC-64/Jones, LZF, the length, integer and string
//! encodings and the [`Reader`] over them), `encode` (values to bytes), `decode` (bytes to
//! values, under [`LoadLimits`], with every check) and `file` (header, aux fields, keys,
//! footer, DUMP payloads, and the whole-file parse/check entry points). This file holds the
//! format's constants and re-exports the public API.
//!
//! - **Writing** produces what Redis 7.0 can read: strings (int-encoded when the value is a
//!   32-bit integer, LZF-compressed when `rdbcompression yes` and it saves space), lists as
//!   `QUICKLIST_2` of listpacks, sets as `INTSET` or plain `SET` (never the 7.2-only
//!   `SET_LISTPACK`), sorted sets as `ZSET_LISTPACK` or `ZSET_2` (binary doubles), hashes as
//!   `HASH_LISTPACK` or plain `HASH`, expiry times in ms, `SELECTDB`, `RESIZEDB`, aux fields,
//!   `EOF` and the CRC-64 checksum (zero when `rdbchecksum no`, as Redis).
//! - **Reading** also accepts the older and newer encodings: ziplists (hash, zset, list and
//!   quicklist of ziplists), plain lists, `ZSET` with string scores, `SET_LISTPACK` (7.2),
//!   second-resolution expiry, `IDLE`/`FREQ`. Files up to version 11 are accepted.
//! - **Streams** are written as `STREAM_LISTPACKS_2` (type 19, what Redis 7.0 writes and reads;
//!   7.2's type 21 only adds each consumer's active time, which 7.0 cannot read, so that time
//!   is not saved and reloads as "never"). Node boundaries and deleted entries are kept as
//!   they are, so XINFO's radix-tree counts survive a round trip. Types 15, 19 and 21 are
//!   read; the IDs, counts and PEL links inside are checked (entries in order, node counts,
//!   every consumer PEL entry in the group's PEL and every group PEL entry owned once).
//! - **Not supported:** modules and functions are refused.
//! - [`check_file`] backs `redstart check-rdb`: it decodes a whole file and reports its
//!   contents or the byte offset where it is damaged.
//!
//! Every length read from a file is checked against the bytes left before anything is
//! allocated, so a hostile file or `RESTORE` payload yields an error, never a panic or an
//! unbounded allocation.

mod codec;
mod decode;
mod encode;
mod file;

pub use codec::{crc64, lzf_compress, lzf_decompress, put_len, put_string, EncodeOpts, Reader};
pub use decode::{listpack_items, read_value, ziplist_items, LoadLimits};
pub use encode::{put_value, ListpackBuilder};
pub use file::{
    check_file, dump_payload, parse_file, parse_file_at, parse_payload, parse_prefix, put_entry, put_footer,
    put_header, put_select_db, FileInfo, Loaded,
};

pub const RDB_VERSION: u16 = 10;
/// Newest version this decoder reads (Redis 7.2 writes 11).
pub const RDB_MAX_READ_VERSION: u16 = 11;

// Opcodes.
const OP_FUNCTION2: u8 = 245;
const OP_FUNCTION: u8 = 246;
const OP_MODULE_AUX: u8 = 247;
const OP_IDLE: u8 = 248;
const OP_FREQ: u8 = 249;
const OP_AUX: u8 = 250;
const OP_RESIZEDB: u8 = 251;
const OP_EXPIRETIME_MS: u8 = 252;
const OP_EXPIRETIME: u8 = 253;
const OP_SELECTDB: u8 = 254;
const OP_EOF: u8 = 255;

// Value types.
pub const T_STRING: u8 = 0;
pub const T_LIST: u8 = 1;
pub const T_SET: u8 = 2;
pub const T_ZSET: u8 = 3;
pub const T_HASH: u8 = 4;
pub const T_ZSET_2: u8 = 5;
pub const T_HASH_ZIPMAP: u8 = 9;
pub const T_LIST_ZIPLIST: u8 = 10;
pub const T_SET_INTSET: u8 = 11;
pub const T_ZSET_ZIPLIST: u8 = 12;
pub const T_HASH_ZIPLIST: u8 = 13;
pub const T_LIST_QUICKLIST: u8 = 14;
pub const T_HASH_LISTPACK: u8 = 16;
pub const T_ZSET_LISTPACK: u8 = 17;
pub const T_LIST_QUICKLIST_2: u8 = 18;
pub const T_SET_LISTPACK: u8 = 20;
pub const T_STREAM_LISTPACKS: u8 = 15;
pub const T_STREAM_LISTPACKS_2: u8 = 19;
pub const T_STREAM_LISTPACKS_3: u8 = 21;

const SF_DELETED: i64 = 1;
const SF_SAMEFIELDS: i64 = 2;
