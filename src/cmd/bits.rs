//! Bitmap commands: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD, BITFIELD_RO.
//!
//! A bitmap is a string value; bit 0 is the most significant bit of the first byte. Reads see
//! an `int`-encoded value as its decimal text, as Redis does. Every write leaves the value
//! `raw` (Redis's `dbUnshareStringValue`: an `int` or `embstr` value is converted even when no
//! bit changes), and BITOP stores its result `raw` whatever its length. A string grown by
//! SETBIT/BITFIELD is padded with zero bytes and grows as Redis's `sdsMakeRoomFor` does
//! (doubling below 1 MiB, then by 1 MiB; past glibc's mmap threshold a larger block is moved,
//! not copied), so growing a bitmap bit by bit never copies it per call.
//!
//! Offsets: a bit offset must be a non-negative integer whose byte (`offset / 8`) is below
//! `proto-max-bulk-len`, else `ERR bit offset is not an integer or out of range`; BITFIELD's
//! `#n` is `n` times the field width, multiplied in wrapping 64-bit arithmetic as Redis's C
//! does.
//!
//! Argument order (Redis 7.0 and 7.2 alike; the reordering of #11734/#12394 is Redis 8.0's):
//! BITCOUNT looks the key up before it parses its range (a missing key answers 0 whatever the
//! arguments), and answers 0 for two negative indexes `start > end` before it reads
//! `BYTE|BIT`; BITPOS parses the bit first, then looks the key up (missing: -1 for a set bit,
//! 0 for a clear one), then the range, reading `BYTE|BIT` before `end`. BITFIELD parses every
//! operation before it touches the key.
//!
//! Changes, events and propagation follow Redis: SETBIT and BITFIELD count a change only when
//! the string was created or grew, or a value really changed; nothing else is propagated or
//! raised (a BITFIELD whose writes all FAIL still creates or pads the key, silently, as in
//! Redis). Events: `setbit` (SETBIT, BITFIELD), `set` on BITOP's destination, `del` when an
//! empty result deletes it.
//!
//! Differences from Redis: none known for these commands.

use super::args;
use super::lookup;
use super::{acl, flags::*, key, key_range, ks, CmdError, CmdResult, CommandSpec, Ctx, KeyRef};
use crate::db::value::{StrValue, Value, NO_EXPIRE};
use crate::notify;
use crate::types::bits::{self, BitOp, Overflow};
use resp::Writer;

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("setbit", 4, WRITE | DENYOOM, acl::BITMAP, key(1, ks::RW | ks::ACCESS | ks::UPDATE), setbit).doc(
        "bitmap",
        "2.2.0",
        "O(1)",
        "Sets or clears the bit at offset of the string value. Creates the key if it doesn't exist.",
    ),
    CommandSpec::new("getbit", 3, READONLY | FAST, acl::BITMAP, key(1, ks::RO | ks::ACCESS), getbit).doc(
        "bitmap",
        "2.2.0",
        "O(1)",
        "Returns a bit value by offset.",
    ),
    CommandSpec::new("bitcount", -2, READONLY, acl::BITMAP, key(1, ks::RO | ks::ACCESS), bitcount).doc(
        "bitmap",
        "2.6.0",
        "O(N)",
        "Counts the number of set bits (population counting) in a string.",
    ),
    CommandSpec::new("bitpos", -3, READONLY, acl::BITMAP, key(1, ks::RO | ks::ACCESS), bitpos).doc(
        "bitmap",
        "2.8.7",
        "O(N)",
        "Finds the first set (1) or clear (0) bit in a string.",
    ),
    CommandSpec::new(
        "bitop",
        -4,
        WRITE | DENYOOM,
        acl::BITMAP,
        key(2, ks::OW | ks::UPDATE).and(key_range(3, -1, 1, ks::RO | ks::ACCESS)),
        bitop,
    )
    .doc("bitmap", "2.6.0", "O(N)", "Performs bitwise operations on multiple strings, and stores the result."),
    CommandSpec::new(
        "bitfield",
        -2,
        WRITE | DENYOOM,
        acl::BITMAP,
        key(1, ks::RW | ks::ACCESS | ks::UPDATE | ks::VARIABLE_FLAGS)
            .notes("This command allows both access and modification of the key")
            .getkeys(bitfield_getkeys),
        bitfield,
    )
    .doc(
        "bitmap",
        "3.2.0",
        "O(1) for each subcommand specified",
        "Performs arbitrary bitfield integer operations on strings.",
    ),
    CommandSpec::new("bitfield_ro", -2, READONLY | FAST, acl::BITMAP, key(1, ks::RO | ks::ACCESS), bitfield_ro).doc(
        "bitmap",
        "6.0.0",
        "O(1) for each subcommand specified",
        "Performs arbitrary read-only bitfield integer operations on strings.",
    ),
];

/// Redis's `bitfieldGetKeys`: the key is read-only while the arguments are GETs and OVERFLOWs
/// (each with its arguments), read-write from the first SET, INCRBY or anything else.
fn bitfield_getkeys(args: &[&[u8]]) -> Vec<KeyRef> {
    let mut readonly = true;
    let mut i = 2;
    while i < args.len() {
        let rest = args.len() - i - 1;
        let a = args[i];
        if args::is_c(a, "get") && rest >= 2 {
            i += 3;
        } else if (args::is_c(a, "set") || args::is_c(a, "incrby")) && rest >= 3 {
            readonly = false;
            break;
        } else if args::is_c(a, "overflow") && rest >= 1 {
            i += 2;
        } else {
            readonly = false;
            break;
        }
    }
    let flags = if readonly { ks::RO | ks::ACCESS } else { ks::RW | ks::ACCESS | ks::UPDATE };
    vec![KeyRef { pos: 1, flags }]
}

// ---------------------------------------------------------------------------------------------
// Arguments
// ---------------------------------------------------------------------------------------------

const OFFSET_ERR: &str = "ERR bit offset is not an integer or out of range";

/// `proto-max-bulk-len`: a bit offset's byte must be below it.
fn max_bulk(ctx: &Ctx) -> i64 {
    ctx.server.config.read().proto_max_bulk_len
}

/// Redis's `getBitOffsetFromArgument`: a bit offset, or with `field_bits` (BITFIELD) also
/// `#n` for `n` fields of that width (multiplied as C does, wrapping).
fn bit_offset(arg: &[u8], field_bits: Option<u32>, max_bulk: i64) -> Result<u64, CmdError> {
    let err = || CmdError::msg(OFFSET_ERR);
    let (digits, times) = match (arg.first(), field_bits) {
        (Some(b'#'), Some(bits)) => (&arg[1..], bits as i64),
        _ => (arg, 1),
    };
    let n = resp::parse_i64(digits).ok_or_else(err)?.wrapping_mul(times);
    if n < 0 || (n >> 3) >= max_bulk {
        return Err(err());
    }
    Ok(n as u64)
}

/// A BITFIELD type, `i1`..`i64` or `u1`..`u63`: (signed, bits). The width is read as C reads
/// it, up to a NUL byte.
fn field_type(arg: &[u8]) -> Result<(bool, u32), CmdError> {
    let err = || {
        CmdError::msg(
            "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.",
        )
    };
    let signed = match arg.first() {
        Some(b'i') => true,
        Some(b'u') => false,
        _ => return Err(err()),
    };
    let width = &arg[1..];
    let width = &width[..width.iter().position(|&b| b == 0).unwrap_or(width.len())];
    match resp::parse_i64(width) {
        Some(n) if n >= 1 && n <= if signed { 64 } else { 63 } => Ok((signed, n as u32)),
        _ => Err(err()),
    }
}

/// `BYTE` (false) or `BIT` (true), else a syntax error.
fn unit_is_bit(arg: &[u8]) -> Result<bool, CmdError> {
    if args::is_c(arg, "bit") {
        Ok(true)
    } else if args::is_c(arg, "byte") {
        Ok(false)
    } else {
        Err(CmdError::Syntax)
    }
}

/// The inclusive bit range of a string of `len` bytes that BITCOUNT and BITPOS look at for
/// indexes `start..=end` (in bytes, or in bits with `in_bits`; negative ones count from the
/// end, both clamped to the string), or `None` when it is empty.
fn bit_range(start: i64, end: i64, len: usize, in_bits: bool) -> Option<(usize, usize)> {
    let total = len as i64 * if in_bits { 8 } else { 1 };
    let start = if start < 0 { total + start } else { start }.max(0);
    let end = if end < 0 { total + end } else { end }.max(0).min(total - 1);
    if start > end {
        return None;
    }
    let (start, end) = (start as usize, end as usize);
    Some(if in_bits { (start, end) } else { (start * 8, end * 8 + 7) })
}

/// Pads `buf` with zero bytes to `len` bytes; whether it grew. Capacity grows as Redis's
/// `sdsMakeRoomFor`: to twice the new length below 1 MiB, by 1 MiB above.
fn grow_zeroed(buf: &mut Vec<u8>, len: usize) -> bool {
    if buf.len() >= len {
        return false;
    }
    if len > buf.capacity() {
        const STEP: usize = 1 << 20;
        let target = if len < STEP { len * 2 } else { len + STEP };
        buf.reserve_exact(target - buf.len());
    }
    buf.resize(len, 0);
    true
}

// ---------------------------------------------------------------------------------------------
// SETBIT, GETBIT
// ---------------------------------------------------------------------------------------------

fn setbit(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let offset = bit_offset(args[2], None, max_bulk(ctx))?;
    let on = match args::int(args[3]) {
        Ok(0) => false,
        Ok(1) => true,
        _ => return Err(CmdError::msg("ERR bit is not an integer or out of range")),
    };
    let key = args[1];
    let len = (offset >> 3) as usize + 1;
    let mut db = ctx.db();
    let (old, changed) = match lookup::get::<StrValue>(&mut db, key)? {
        None => {
            let mut buf = vec![0u8; len];
            bits::set_bit(&mut buf, offset, on);
            db.set(key, Value::Str(StrValue::Raw(Box::new(buf))), NO_EXPIRE);
            (false, true)
        }
        Some(s) => {
            let buf = s.make_raw();
            let grew = grow_zeroed(buf, len);
            let old = bits::get_bit(buf, offset);
            if grew || old != on {
                bits::set_bit(buf, offset, on);
            }
            (old, grew || old != on)
        }
    };
    if changed {
        db.touch(key);
        ctx.notify(notify::STRING, "setbit", key);
    } else {
        ctx.propagate_nothing();
    }
    ctx.out.int(old as i64);
    Ok(())
}

fn getbit(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let offset = bit_offset(args[2], None, max_bulk(ctx))?;
    let (mut db, out) = ctx.db_out();
    let bit = match lookup::read::<StrValue>(&mut db, args[1])? {
        None => false,
        Some(s) => bits::get_bit(s.as_bytes(&mut itoa::Buffer::new()), offset),
    };
    out.int(bit as i64);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// BITCOUNT, BITPOS
// ---------------------------------------------------------------------------------------------

fn bitcount(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (mut db, out) = ctx.db_out();
    let Some(s) = lookup::read::<StrValue>(&mut db, args[1])? else {
        out.int(0);
        return Ok(());
    };
    let mut nb = itoa::Buffer::new();
    let bytes = s.as_bytes(&mut nb);
    let range = match args.len() {
        2 => bit_range(0, -1, bytes.len(), false),
        4 | 5 => {
            let start = args::int(args[2])?;
            let end = args::int(args[3])?;
            if start < 0 && end < 0 && start > end {
                out.int(0);
                return Ok(());
            }
            let in_bits = if args.len() == 5 { unit_is_bit(args[4])? } else { false };
            bit_range(start, end, bytes.len(), in_bits)
        }
        _ => return Err(CmdError::Syntax),
    };
    out.int(range.map_or(0, |(first, last)| bits::count_range(bytes, first, last) as i64));
    Ok(())
}

fn bitpos(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let bit = match args::int(args[2])? {
        0 => false,
        1 => true,
        _ => return Err(CmdError::msg("ERR The bit argument must be 1 or 0.")),
    };
    let (mut db, out) = ctx.db_out();
    // A missing key is an endless run of clear bits.
    let Some(s) = lookup::read::<StrValue>(&mut db, args[1])? else {
        out.int(if bit { -1 } else { 0 });
        return Ok(());
    };
    let mut nb = itoa::Buffer::new();
    let bytes = s.as_bytes(&mut nb);
    let (range, end_given) = match args.len() {
        3 => (bit_range(0, -1, bytes.len(), false), false),
        4..=6 => {
            let start = args::int(args[3])?;
            let in_bits = if args.len() == 6 { unit_is_bit(args[5])? } else { false };
            match args.get(4) {
                Some(end) => (bit_range(start, args::int(end)?, bytes.len(), in_bits), true),
                None => (bit_range(start, -1, bytes.len(), in_bits), false),
            }
        }
        _ => return Err(CmdError::Syntax),
    };
    let pos = match range {
        // An empty range holds neither bit.
        None => -1,
        Some((first, last)) => match bits::find_bit(bytes, bit, first, last) {
            Some(p) => p as i64,
            // No clear bit in the range: without an explicit end the string is seen as padded
            // with clear bits, so the answer is the first bit after it.
            None if !bit && !end_given => last as i64 + 1,
            None => -1,
        },
    };
    out.int(pos);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// BITOP
// ---------------------------------------------------------------------------------------------

fn bitop(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let op = match args[1] {
        a if args::is_c(a, "and") => BitOp::And,
        a if args::is_c(a, "or") => BitOp::Or,
        a if args::is_c(a, "xor") => BitOp::Xor,
        a if args::is_c(a, "not") => BitOp::Not,
        _ => return Err(CmdError::Syntax),
    };
    if op == BitOp::Not && args.len() != 4 {
        return Err(CmdError::msg("ERR BITOP NOT must be called with a single source key."));
    }
    let (dest, sources) = (args[2], &args[3..]);
    let mut db = ctx.db();
    // Every source is looked up once, in order (missing ones count as empty strings), stopping
    // at the first of another type, as Redis: this finds the result's length.
    let mut len = 0;
    for k in sources {
        if let Some(s) = lookup::read::<StrValue>(&mut db, k)? {
            len = len.max(s.len());
        }
    }
    // The result goes into the destination's old buffer when it has one (and is not a
    // source): no fresh allocation, whose pages the kernel would have to fault in and zero
    // for every large BITOP. Looking the destination up here, after the sources, is where
    // Redis's `setKey` looks it up.
    let mut res = match len > 0 && !sources.contains(&dest) {
        true => match db.peek(dest) {
            Some(e) => match e.value {
                Value::Str(StrValue::Raw(v)) => std::mem::take(&mut **v),
                _ => Vec::new(),
            },
            None => Vec::new(),
        },
        false => Vec::new(),
    };
    res.clear();
    res.reserve_exact(len);
    // The sources folded into the result one at a time (read again, without counting: they
    // were just found live).
    let mut nb = itoa::Buffer::new();
    for (i, k) in sources.iter().enumerate() {
        let src: &[u8] = match db.peek(k) {
            Some(e) => match e.value {
                Value::Str(s) => s.as_bytes(&mut nb),
                _ => &[],
            },
            None => &[],
        };
        if i == 0 && op != BitOp::Not {
            res.extend_from_slice(src);
        } else {
            bits::fold(&mut res, src, op);
        }
    }
    debug_assert_eq!(res.len(), len);
    if res.capacity() > 2 * len {
        res.shrink_to_fit();
    }
    if len > 0 {
        db.set(dest, Value::Str(StrValue::Raw(Box::new(res))), NO_EXPIRE);
        ctx.notify(notify::STRING, "set", dest);
    } else if db.remove(dest).is_some() {
        ctx.notify(notify::GENERIC, "del", dest);
    } else {
        ctx.propagate_nothing();
    }
    ctx.out.int(len as i64);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// BITFIELD, BITFIELD_RO
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq)]
enum FieldOp {
    Get,
    Set,
    IncrBy,
}

/// One parsed BITFIELD operation.
struct Field {
    op: FieldOp,
    signed: bool,
    bits: u32,
    offset: u64,
    /// SET's value or INCRBY's increment.
    value: i64,
    overflow: Overflow,
}

/// The operations of one BITFIELD (a few, usually: kept on the stack).
type Fields = smallvec::SmallVec<[Field; 4]>;

/// Parses every operation (Redis's order of checks: the operation and its argument count,
/// OVERFLOW's mode, then per operation its type, offset and value). Returns the operations
/// and, when some write, the highest bit they write.
fn parse_fields(args: &[&[u8]], max_bulk: i64) -> Result<(Fields, Option<u64>), CmdError> {
    let mut fields = Fields::new();
    let mut overflow = Overflow::Wrap;
    let mut highest: Option<u64> = None;
    let mut j = 2;
    while j < args.len() {
        let rest = args.len() - j - 1;
        let sub = args[j];
        let op = if args::is_c(sub, "get") && rest >= 2 {
            FieldOp::Get
        } else if args::is_c(sub, "set") && rest >= 3 {
            FieldOp::Set
        } else if args::is_c(sub, "incrby") && rest >= 3 {
            FieldOp::IncrBy
        } else if args::is_c(sub, "overflow") && rest >= 1 {
            overflow = match args[j + 1] {
                m if args::is_c(m, "wrap") => Overflow::Wrap,
                m if args::is_c(m, "sat") => Overflow::Sat,
                m if args::is_c(m, "fail") => Overflow::Fail,
                _ => return Err(CmdError::msg("ERR Invalid OVERFLOW type specified")),
            };
            j += 2;
            continue;
        } else {
            return Err(CmdError::Syntax);
        };
        let (signed, bits) = field_type(args[j + 1])?;
        let offset = bit_offset(args[j + 2], Some(bits), max_bulk)?;
        let mut value = 0;
        if op != FieldOp::Get {
            let last = offset + bits as u64 - 1;
            highest = Some(highest.map_or(last, |h| h.max(last)));
            value = args::int(args[j + 3])?;
        }
        fields.push(Field { op, signed, bits, offset, value, overflow });
        j += if op == FieldOp::Get { 3 } else { 4 };
    }
    Ok((fields, highest))
}

/// A GET's reply: the field read from `bytes`, zero-padded past its end.
fn field_get(f: &Field, bytes: &[u8], out: &mut Writer) {
    if f.signed {
        out.int(bits::get_signed(bytes, f.offset, f.bits));
    } else {
        out.int(bits::get_unsigned(bytes, f.offset, f.bits) as i64);
    }
}

/// Runs the operations on `buf` (already long enough for every write) and writes the reply.
/// Returns the number of changes: writes that stored a different value, or any write when the
/// string was created or grew (`grew`), as Redis counts them.
fn run_fields(fields: &[Field], buf: &mut [u8], grew: bool, out: &mut Writer) -> u64 {
    out.array(fields.len());
    let mut changes = 0;
    for f in fields {
        if f.op == FieldOp::Get {
            field_get(f, buf, out);
            continue;
        }
        // (stored, replied, changed), or None when OVERFLOW FAIL stops the write.
        let done = if f.signed {
            let old = bits::get_signed(buf, f.offset, f.bits);
            let (new, reply, ovf) = if f.op == FieldOp::IncrBy {
                let (o, limit) = bits::signed_overflow(old, f.value, f.bits, f.overflow);
                let new = limit.unwrap_or_else(|| old.wrapping_add(f.value));
                (new, new, o)
            } else {
                let (o, limit) = bits::signed_overflow(f.value, 0, f.bits, f.overflow);
                (limit.unwrap_or(f.value), old, o)
            };
            (ovf == 0 || f.overflow != Overflow::Fail).then_some((new as u64, reply, old != new))
        } else {
            let old = bits::get_unsigned(buf, f.offset, f.bits);
            let (new, reply, ovf) = if f.op == FieldOp::IncrBy {
                let (o, limit) = bits::unsigned_overflow(old, f.value, f.bits, f.overflow);
                let new = limit.unwrap_or_else(|| old.wrapping_add(f.value as u64));
                (new, new as i64, o)
            } else {
                let (o, limit) = bits::unsigned_overflow(f.value as u64, 0, f.bits, f.overflow);
                (limit.unwrap_or(f.value as u64), old as i64, o)
            };
            (ovf == 0 || f.overflow != Overflow::Fail).then_some((new, reply, old != new))
        };
        match done {
            Some((new, reply, changed)) => {
                out.int(reply);
                bits::set_unsigned(buf, f.offset, f.bits, new);
                if grew || changed {
                    changes += 1;
                }
            }
            None => out.null(),
        }
    }
    changes
}

fn bitfield_generic(ctx: &mut Ctx, args: &[&[u8]], read_only_cmd: bool) -> CmdResult {
    let (fields, highest) = parse_fields(args, max_bulk(ctx))?;
    let key = args[1];
    let Some(highest) = highest else {
        // Only GETs: a read (a missing key reads as zeros).
        let (mut db, out) = ctx.db_out();
        let mut nb = itoa::Buffer::new();
        let bytes: &[u8] = match lookup::read::<StrValue>(&mut db, key)? {
            Some(s) => s.as_bytes(&mut nb),
            None => &[],
        };
        out.array(fields.len());
        for f in &fields {
            field_get(f, bytes, out);
        }
        ctx.propagate_nothing();
        return Ok(());
    };
    if read_only_cmd {
        return Err(CmdError::msg("ERR BITFIELD_RO only supports the GET subcommand"));
    }
    // The string is created or padded once, up to the highest bit written.
    let len = (highest >> 3) as usize + 1;
    let (mut db, out) = ctx.db_out();
    let changes = match lookup::get::<StrValue>(&mut db, key)? {
        None => {
            let mut buf = vec![0u8; len];
            let changes = run_fields(&fields, &mut buf, true, out);
            db.set(key, Value::Str(StrValue::Raw(Box::new(buf))), NO_EXPIRE);
            changes
        }
        Some(s) => {
            let buf = s.make_raw();
            let grew = grow_zeroed(buf, len);
            run_fields(&fields, buf, grew, out)
        }
    };
    if changes > 0 {
        db.touch(key);
        ctx.notify(notify::STRING, "setbit", key);
    } else {
        ctx.propagate_nothing();
    }
    Ok(())
}

fn bitfield(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    bitfield_generic(ctx, args, false)
}

fn bitfield_ro(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    bitfield_generic(ctx, args, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_like_redis() {
        let max = 512 << 20;
        assert_eq!(bit_offset(b"0", None, max), Ok(0));
        assert_eq!(bit_offset(b"4294967295", None, max), Ok(4294967295));
        assert!(bit_offset(b"4294967296", None, max).is_err());
        for bad in [&b"-1"[..], b"01", b" 1", b"", b"#1", b"1.0"] {
            assert!(bit_offset(bad, None, max).is_err(), "{bad:?}");
        }
        assert_eq!(bit_offset(b"#3", Some(8), max), Ok(24));
        assert!(bit_offset(b"#", Some(8), max).is_err());
        assert!(bit_offset(b"#-1", Some(8), max).is_err());
        // `n * bits` wraps as in C: 2^58 + 1 fields of 64 bits land at bit 64.
        assert_eq!(bit_offset(b"#288230376151711745", Some(64), max), Ok(64));
        assert!(bit_offset(b"#9223372036854775807", Some(64), max).is_err());
        assert!(bit_offset(b"8", None, 1).is_err(), "byte 1 with proto-max-bulk-len 1");
    }

    #[test]
    fn field_types_like_redis() {
        assert_eq!(field_type(b"i64"), Ok((true, 64)));
        assert_eq!(field_type(b"u63"), Ok((false, 63)));
        assert_eq!(field_type(b"u1"), Ok((false, 1)));
        assert_eq!(field_type(b"i8\0x"), Ok((true, 8)));
        for bad in [&b"u64"[..], b"i65", b"i0", b"U8", b"I8", b"u", b"", b"u08", b"u-1", b"x8", b"i 8"] {
            assert!(field_type(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn ranges_like_redis() {
        assert_eq!(bit_range(0, -1, 3, false), Some((0, 23)));
        assert_eq!(bit_range(1, 1, 3, false), Some((8, 15)));
        assert_eq!(bit_range(-2, -1, 3, false), Some((8, 23)));
        assert_eq!(bit_range(5, 100, 3, true), Some((5, 23)));
        assert_eq!(bit_range(-100, 100, 3, false), Some((0, 23)));
        assert_eq!(bit_range(2, 1, 3, false), None);
        assert_eq!(bit_range(0, -1, 0, false), None);
        assert_eq!(bit_range(i64::MIN, i64::MAX, 2, true), Some((0, 15)));
        assert_eq!(bit_range(i64::MAX, i64::MAX, 2, false), None);
    }

    #[test]
    fn growth_is_amortised() {
        let mut v = Vec::new();
        let mut reallocs = 0;
        for len in 1..=3_000_000usize {
            let cap = v.capacity();
            assert!(grow_zeroed(&mut v, len));
            reallocs += (v.capacity() != cap) as usize;
        }
        // Doubling to 1 MiB (about 20 steps), then 1 MiB steps.
        assert!(reallocs < 30, "{reallocs}");
        assert!(!grow_zeroed(&mut v, 10));
        assert_eq!(v.len(), 3_000_000);
    }

    #[test]
    fn bitfield_getkeys_like_redis() {
        let flags = |line: &str| {
            let a: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
            bitfield_getkeys(&a)[0].flags
        };
        assert_eq!(flags("bitfield k"), ks::RO | ks::ACCESS);
        assert_eq!(flags("bitfield k get u8 0 overflow sat get i8 1"), ks::RO | ks::ACCESS);
        assert_eq!(flags("bitfield k get u8 0 set u8 0 1"), ks::RW | ks::ACCESS | ks::UPDATE);
        assert_eq!(flags("bitfield k get u8"), ks::RW | ks::ACCESS | ks::UPDATE);
        assert_eq!(flags("bitfield k overflow"), ks::RW | ks::ACCESS | ks::UPDATE);
    }
}
