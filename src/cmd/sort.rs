//! SORT and SORT_RO: sort the elements of a list, set or sorted set, numerically or
//! lexicographically, optionally by external keys (`BY pattern`, `->field` for hash fields),
//! returning the elements or other keys' values (`GET pattern`, `#` for the element itself),
//! with `LIMIT offset count`, `ASC`/`DESC`, `ALPHA`, and (SORT only) `STORE destination`.
//!
//! Patterns name other keys, derived from the *content* of the sorted key, so both commands
//! carry the `ALL_SHARDS` flag: they lock every shard and may read any key. COMMAND GETKEYS
//! reports the sorted key and the last `STORE` destination (Redis's `sortGetKeys`).
//!
//! Semantics follow Redis 7.2:
//! - Numeric sorting parses each element (or each `BY` value) like C's `strtod` over the whole
//!   string (leading blanks allowed, the empty string is 0, hexadecimal accepted); a value that is
//!   not a number, overflows/underflows, or is NaN fails the whole command with
//!   `ERR One or more scores can't be converted into double`. Equal scores are ordered by the
//!   elements' bytes. A missing `BY` key counts as 0 (numeric) or sorts first (`ALPHA`).
//! - `BY` with a pattern without `*` (e.g. `nosort`) skips sorting: lists and sorted sets keep
//!   their order (reversed with `DESC`, `LIMIT` taken on that order), sets keep their iteration
//!   order — except with `STORE`, where a set is sorted `ALPHA` so the stored result is
//!   deterministic.
//! - A sorted set without `BY nosort` is sorted by its *members'* values, not its scores.
//! - `GET` of a missing key, of a key of the wrong type, or of a missing hash field gives a null
//!   (an empty string when stored). `STORE` replaces the destination with a list (no TTL) and
//!   replies with the stored length; an empty result deletes the destination.
//!
//! - Sorting a sorted set converts it to the `skiplist` encoding, as Redis does.
//!
//! Differences from Redis: `ALPHA` without `STORE` compares like `strcoll` in the C/C.UTF-8
//! locale (bytes up to the first NUL); Redis uses the server's `LC_COLLATE`. Elements that
//! compare equal that way but differ after a NUL byte come out in an order of their own (in
//! Redis the order of such ties follows its hash tables' per-process random order).

use std::cmp::Ordering;

use super::args::{self, Cursor};
use super::{acl, flags::*, key, key_unknown, ks, CmdError, CmdResult, CommandSpec, Ctx, KeyRef};
use crate::db::value::{Value, NO_EXPIRE};
use crate::db::Db;
use crate::notify;
use crate::types::list::{Fill, List};

/// Redis's notes on SORT's key specs.
const BY_GET_NOTES: &str =
    "For the optional BY/GET keyword. It is marked 'unknown' because the key names derive from the content of the key we sort";
const STORE_NOTES: &str =
    "For the optional STORE keyword. It is marked 'unknown' because the keyword can appear anywhere in the argument array";

const COMPLEXITY: &str = "O(N+M*log(M)) where N is the number of elements in the list or set to sort, and M the number of returned elements. When the elements are not sorted, complexity is O(N).";

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new(
        "sort",
        -2,
        WRITE | DENYOOM | ALL_SHARDS,
        acl::SET | acl::SORTEDSET | acl::LIST | acl::DANGEROUS,
        key(1, ks::RO | ks::ACCESS)
            .and(key_unknown(ks::RO | ks::ACCESS).notes(BY_GET_NOTES))
            .and(key_unknown(ks::OW | ks::UPDATE).notes(STORE_NOTES))
            .getkeys(sort_keys),
        sort,
    )
    .doc(
        "generic",
        "1.0.0",
        COMPLEXITY,
        "Sorts the elements in a list, a set, or a sorted set, optionally storing the result.",
    ),
    CommandSpec::new(
        "sort_ro",
        -2,
        READONLY | ALL_SHARDS,
        acl::SET | acl::SORTEDSET | acl::LIST | acl::DANGEROUS,
        key(1, ks::RO | ks::ACCESS).and(key_unknown(ks::RO | ks::ACCESS).notes(BY_GET_NOTES)).getkeys(sort_ro_keys),
        sort_ro,
    )
    .doc("generic", "7.0.0", COMPLEXITY, "Returns the sorted elements of a list, a set, or a sorted set."),
];

/// Redis's `sortGetKeys`: the sorted key, then the destination of the last `STORE` (option
/// arguments of LIMIT/GET/BY are skipped so they are never taken for keywords).
fn sort_keys(args: &[&[u8]]) -> Vec<KeyRef> {
    let mut keys = vec![KeyRef { pos: 1, flags: ks::RO | ks::ACCESS }];
    let mut store = None;
    let mut i = 2;
    while i < args.len() {
        let a = args[i];
        if args::is(a, "limit") {
            i += 2;
        } else if args::is(a, "get") || args::is(a, "by") {
            i += 1;
        } else if args::is(a, "store") && i + 1 < args.len() {
            store = Some(KeyRef { pos: i + 1, flags: ks::OW | ks::UPDATE });
        }
        i += 1;
    }
    keys.extend(store);
    keys.retain(|k| k.pos < args.len());
    keys
}

/// Redis's `sortROGetKeys`: the sorted key.
fn sort_ro_keys(args: &[&[u8]]) -> Vec<KeyRef> {
    if args.len() > 1 {
        vec![KeyRef { pos: 1, flags: ks::RO | ks::ACCESS }]
    } else {
        Vec::new()
    }
}

/// The parsed options of one SORT call.
#[derive(Debug, Default)]
struct Opts<'a> {
    desc: bool,
    alpha: bool,
    limit: Option<(i64, i64)>,
    store: Option<&'a [u8]>,
    by: Option<Pattern<'a>>,
    /// `BY` a pattern without `*`: keep the input order.
    dontsort: bool,
    gets: Vec<Pattern<'a>>,
}

fn parse<'a>(args: &[&'a [u8]], readonly: bool) -> Result<Opts<'a>, CmdError> {
    let mut o = Opts::default();
    let mut c = Cursor::new(args, 2);
    while !c.is_empty() {
        if c.keyword("asc") {
            o.desc = false;
        } else if c.keyword("desc") {
            o.desc = true;
        } else if c.keyword("alpha") {
            o.alpha = true;
        } else if let Some(limit) = c.limit()? {
            o.limit = Some(limit);
        } else if !readonly && c.keyword_with("store", 1) {
            o.store = c.next();
        } else if let Some(p) = c.value_of("by") {
            let p = Pattern::new(p);
            o.dontsort = p.star.is_none();
            o.by = Some(p);
        } else if let Some(p) = c.value_of("get") {
            o.gets.push(Pattern::new(p));
        } else {
            return Err(CmdError::Syntax);
        }
    }
    Ok(o)
}

/// A BY/GET pattern, analysed once. Redis reads patterns as C strings for the `*` and `->`
/// searches (they stop at a NUL byte) but uses the full length for the copied parts.
#[derive(Debug, Clone, Copy)]
struct Pattern<'a> {
    raw: &'a [u8],
    /// Exactly `#`: the element itself.
    hash_self: bool,
    /// Position of the first `*` (before any NUL). None: the pattern names no key.
    star: Option<usize>,
    /// Start of `->field` (the position of `->`), when a non-empty field follows the `*`.
    field: Option<usize>,
}

impl<'a> Pattern<'a> {
    fn new(raw: &'a [u8]) -> Pattern<'a> {
        let cstr = &raw[..raw.iter().position(|&b| b == 0).unwrap_or(raw.len())];
        let hash_self = cstr == b"#";
        let star = cstr.iter().position(|&b| b == b'*');
        let field = star.and_then(|s| {
            let f = s + 1 + cstr[s + 1..].windows(2).position(|w| w == b"->")?;
            (f + 2 < cstr.len()).then_some(f)
        });
        Pattern { raw, hash_self, star, field }
    }

    /// The value this pattern names for `elem`: the element itself for `#`, the string at the
    /// substituted key, or the hash field at it. None for a missing key or field, or a key of
    /// another type.
    fn lookup(&self, db: &mut Db, elem: &[u8]) -> Option<Vec<u8>> {
        if self.hash_self {
            return Some(elem.to_vec());
        }
        let star = self.star?;
        let key_end = self.field.unwrap_or(self.raw.len());
        let mut key = Vec::with_capacity(key_end - 1 + elem.len());
        key.extend_from_slice(&self.raw[..star]);
        key.extend_from_slice(elem);
        key.extend_from_slice(&self.raw[star + 1..key_end]);
        let entry = db.get_counted(&key)?;
        match (self.field, &entry.value) {
            (None, Value::Str(s)) => Some(s.to_vec()),
            (Some(f), Value::Hash(h)) => h.get(&self.raw[f + 2..]).map(|v| v.to_vec()),
            _ => None,
        }
    }
}

/// A score as Redis's SORT reads one: C `strtod` over the string up to its first NUL, which
/// must consume everything; overflow, underflow and NaN are errors. Note that `strtod` on an
/// empty string converts nothing and stops at the terminator, so "" is accepted as 0.
fn strtod_score(b: &[u8]) -> Option<f64> {
    let s = &b[..b.iter().position(|&c| c == 0).unwrap_or(b.len())];
    if s.is_empty() {
        return Some(0.0);
    }
    let t = {
        let ws = s.iter().take_while(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')).count();
        &s[ws..]
    };
    let (neg, t) = match t.first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let v = if t.eq_ignore_ascii_case(b"inf") || t.eq_ignore_ascii_case(b"infinity") {
        f64::INFINITY
    } else if t.len() > 2 && t[0] == b'0' && (t[1] | 0x20) == b'x' {
        parse_hex(&t[2..])?
    } else {
        parse_dec(t)?
    };
    Some(if neg { -v } else { v })
}

/// A decimal float (`digits[.digits][e[sign]digits]` or `.digits[...]`), rejecting results
/// out of range as `strtod` reports them with ERANGE.
fn parse_dec(t: &[u8]) -> Option<f64> {
    let mut i = 0;
    let digits = |i: &mut usize| {
        let s = *i;
        while *i < t.len() && t[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - s
    };
    let mut mant = digits(&mut i);
    if i < t.len() && t[i] == b'.' {
        i += 1;
        mant += digits(&mut i);
    }
    if mant == 0 {
        return None;
    }
    if i < t.len() && (t[i] | 0x20) == b'e' {
        i += 1;
        if i < t.len() && matches!(t[i], b'+' | b'-') {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return None;
        }
    }
    if i != t.len() {
        return None;
    }
    let v: f64 = std::str::from_utf8(t).ok()?.parse().ok()?;
    let nonzero = t.iter().take_while(|c| (**c | 0x20) != b'e').any(|c| matches!(c, b'1'..=b'9'));
    range_checked(v, nonzero)
}

/// A hexadecimal float after `0x`: `hexdigits[.hexdigits][p[sign]digits]`.
fn parse_hex(t: &[u8]) -> Option<f64> {
    let mut i = 0;
    let mut mant = 0f64;
    let mut exp: i64 = 0;
    let mut ndigits = 0;
    let mut nonzero = false;
    while i < t.len() && t[i].is_ascii_hexdigit() {
        let d = (t[i] as char).to_digit(16)?;
        nonzero |= d != 0;
        mant = mant * 16.0 + d as f64;
        ndigits += 1;
        i += 1;
    }
    if i < t.len() && t[i] == b'.' {
        i += 1;
        while i < t.len() && t[i].is_ascii_hexdigit() {
            let d = (t[i] as char).to_digit(16)?;
            nonzero |= d != 0;
            mant = mant * 16.0 + d as f64;
            exp -= 4;
            ndigits += 1;
            i += 1;
        }
    }
    if ndigits == 0 {
        return None;
    }
    if i < t.len() && (t[i] | 0x20) == b'p' {
        i += 1;
        let neg = match t.get(i) {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let s = i;
        let mut e: i64 = 0;
        while i < t.len() && t[i].is_ascii_digit() {
            e = (e * 10 + (t[i] - b'0') as i64).min(1 << 20);
            i += 1;
        }
        if i == s {
            return None;
        }
        exp += if neg { -e } else { e };
    }
    if i != t.len() {
        return None;
    }
    let v = mant * 2f64.powi(exp.clamp(-4000, 4000) as i32);
    range_checked(v, nonzero)
}

/// strtod's ERANGE: an infinite result, or a zero/subnormal one from a non-zero input.
fn range_checked(v: f64, nonzero: bool) -> Option<f64> {
    if v.is_infinite() || v.is_nan() || (nonzero && (v == 0.0 || v.is_subnormal())) {
        None
    } else {
        Some(v)
    }
}

/// `strcmp` order (what `strcoll` is in the C locales): bytes up to the first NUL.
fn cmp_cstr(a: &[u8], b: &[u8]) -> Ordering {
    let cut = |s: &[u8]| s.iter().position(|&c| c == 0).unwrap_or(s.len());
    a[..cut(a)].cmp(&b[..cut(b)])
}

/// One element to sort, with what it is compared by.
struct Item {
    elem: Vec<u8>,
    score: f64,
    /// The BY value for ALPHA sorting by pattern (None: the key was missing: sorts first).
    by: Option<Vec<u8>>,
}

fn sort(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    sort_generic(ctx, args, false)
}

fn sort_ro(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    sort_generic(ctx, args, true)
}

fn sort_generic(ctx: &mut Ctx, args: &[&[u8]], readonly: bool) -> CmdResult {
    let mut o = parse(args, readonly)?;
    let fill = Fill::from_config(ctx.server.config.read().list_max_listpack_size);
    let mut db = ctx.db();
    let kind = match db.get_counted(args[1]).map(|e| e.value) {
        None => Kind::List,
        Some(Value::List(_)) => Kind::List,
        Some(Value::Set(_)) => Kind::Set,
        Some(Value::Zset(z)) => {
            // As Redis, sorting converts a listpack-encoded sorted set to a skiplist (visible
            // to OBJECT ENCODING; the contents do not change).
            z.convert();
            Kind::Zset
        }
        Some(_) => return Err(CmdError::WrongType),
    };
    if o.dontsort && kind == Kind::Set && o.store.is_some() {
        // A stored result must not depend on a set's iteration order: sort it ALPHA instead.
        o.dontsort = false;
        o.alpha = true;
        o.by = None;
    }
    let len = match db.peek(args[1]).map(|e| &*e.value) {
        Some(Value::List(l)) => l.len(),
        Some(Value::Set(s)) => s.len(),
        Some(Value::Zset(z)) => z.len(),
        _ => 0,
    } as i128;

    // LIMIT, clamped as Redis does; `start..=end` may be empty (end < start).
    let (lstart, lcount) = o.limit.unwrap_or((0, -1));
    let mut start = (lstart as i128).max(0);
    let mut end = if lcount < 0 { len - 1 } else { start + lcount as i128 - 1 };
    if start >= len {
        start = len - 1;
        end = len - 2;
    }
    end = end.min(len - 1);

    // Load the elements. Lists and sorted sets that are not sorted load only the LIMIT range,
    // in their own order (reversed for DESC).
    let elems: Vec<Vec<u8>> = match db.peek(args[1]).map(|e| &*e.value) {
        None => Vec::new(),
        Some(Value::List(l)) if o.dontsort => {
            let n = if end >= start { (end - start + 1) as usize } else { 0 };
            let v = if o.desc {
                l.iter_rev().skip(start as usize).take(n).map(|e| e.to_vec()).collect()
            } else {
                l.iter_from(start as usize).take(n).map(|e| e.to_vec()).collect()
            };
            end -= start;
            start = 0;
            v
        }
        Some(Value::Zset(z)) if o.dontsort => {
            let v = if end >= start {
                let (s, e) = (start as usize, end as usize);
                let zl = z.len();
                let (lo, hi) = if o.desc { (zl - 1 - e, zl - s) } else { (s, e + 1) };
                let mut v: Vec<Vec<u8>> = z.range(lo, hi).into_iter().map(|(m, _)| m.to_vec()).collect();
                if o.desc {
                    v.reverse();
                }
                v
            } else {
                Vec::new()
            };
            end -= start;
            start = 0;
            v
        }
        Some(Value::List(l)) => l.iter().map(|e| e.to_vec()).collect(),
        Some(Value::Set(s)) => s.iter().map(|e| e.to_vec()).collect(),
        Some(Value::Zset(z)) => z.entries().into_iter().map(|(m, _)| m.to_vec()).collect(),
        Some(_) => unreachable!("type checked above"),
    };

    let mut items: Vec<Item> = elems.into_iter().map(|elem| Item { elem, score: 0.0, by: None }).collect();
    if !o.dontsort {
        let mut bad_score = false;
        for it in items.iter_mut() {
            let by = match &o.by {
                Some(p) => match p.lookup(&mut db, &it.elem) {
                    Some(v) => Some(v),
                    None => continue,
                },
                None => None,
            };
            if o.alpha {
                it.by = by;
            } else {
                match strtod_score(by.as_deref().unwrap_or(&it.elem)) {
                    Some(s) => it.score = s,
                    None => bad_score = true,
                }
            }
        }
        if bad_score {
            return Err(CmdError::msg("ERR One or more scores can't be converted into double"));
        }
        let (alpha, by_pattern, binary) = (o.alpha, o.by.is_some(), o.store.is_some());
        let strcmp = |a: &[u8], b: &[u8]| if binary { a.cmp(b) } else { cmp_cstr(a, b) };
        items.sort_by(|a, b| {
            let c = if !alpha {
                a.score.partial_cmp(&b.score).unwrap_or(Ordering::Equal).then_with(|| a.elem.cmp(&b.elem))
            } else if by_pattern {
                match (&a.by, &b.by) {
                    (Some(x), Some(y)) => strcmp(x, y),
                    (x, y) => x.is_some().cmp(&y.is_some()),
                }
            } else {
                strcmp(&a.elem, &b.elem)
            };
            if o.desc {
                c.reverse()
            } else {
                c
            }
        });
    }

    // The output: each selected element, or the values of the GET patterns for it.
    let selected = if end >= start { items.get(start as usize..=end as usize).unwrap_or(&[]) } else { &[] };
    let mut out: Vec<Option<Vec<u8>>> = Vec::with_capacity(selected.len() * o.gets.len().max(1));
    for it in selected {
        if o.gets.is_empty() {
            out.push(Some(it.elem.clone()));
        }
        for g in &o.gets {
            out.push(g.lookup(&mut db, &it.elem));
        }
    }

    match o.store {
        None => {
            ctx.out.array(out.len());
            for v in &out {
                match v {
                    Some(v) => ctx.out.bulk(v),
                    None => ctx.out.null(),
                }
            }
        }
        Some(dest) => {
            let n = out.len();
            if n > 0 {
                let mut l = List::new();
                for v in &out {
                    l.push_back(v.as_deref().unwrap_or(b""), fill);
                }
                db.set(dest, Value::List(Box::new(l)), NO_EXPIRE);
                ctx.notify(notify::LIST, "sortstore", dest);
            } else if db.remove(dest).is_some() {
                ctx.notify(notify::GENERIC, "del", dest);
            }
            ctx.out.int(n as i64);
        }
    }
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    List,
    Set,
    Zset,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_parse_like_strtod() {
        assert_eq!(strtod_score(b"1.5"), Some(1.5));
        assert_eq!(strtod_score(b""), Some(0.0), "empty string converts nothing and stops at NUL");
        assert_eq!(strtod_score(b"  -3"), Some(-3.0));
        assert_eq!(strtod_score(b"3 "), None);
        assert_eq!(strtod_score(b" "), None);
        assert_eq!(strtod_score(b"0x10"), Some(16.0));
        assert_eq!(strtod_score(b"0x1p3"), Some(8.0));
        assert_eq!(strtod_score(b"0x"), None);
        assert_eq!(strtod_score(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(strtod_score(b"Infinity"), Some(f64::INFINITY));
        assert_eq!(strtod_score(b"nan"), None);
        assert_eq!(strtod_score(b"1e400"), None);
        assert_eq!(strtod_score(b"1e-400"), None);
        assert_eq!(strtod_score(b"0e-400"), Some(0.0));
        assert_eq!(strtod_score(b"1."), Some(1.0));
        assert_eq!(strtod_score(b".5e1"), Some(5.0));
        assert_eq!(strtod_score(b"."), None);
        assert_eq!(strtod_score(b"1e"), None);
        assert_eq!(strtod_score(b"7\0junk"), Some(7.0));
        assert_eq!(strtod_score(b"abc"), None);
    }

    #[test]
    fn patterns() {
        let p = Pattern::new(b"w_*->f");
        assert_eq!((p.star, p.field, p.hash_self), (Some(2), Some(3), false));
        let p = Pattern::new(b"w_*->");
        assert_eq!(p.field, None, "an empty field is no field");
        let p = Pattern::new(b"a->b*");
        assert_eq!((p.star, p.field), (Some(4), None), "-> only counts after the *");
        let p = Pattern::new(b"nosort");
        assert_eq!(p.star, None);
        assert!(Pattern::new(b"#").hash_self);
        assert!(!Pattern::new(b"##").hash_self);
        assert_eq!(Pattern::new(b"a\0*").star, None, "searches stop at NUL");
    }

    #[test]
    fn getkeys_takes_the_last_store() {
        let a: Vec<&[u8]> = vec![b"sort", b"k", b"store", b"d1", b"by", b"store", b"store", b"d2"];
        let pos = |a: &[&[u8]]| sort_keys(a).iter().map(|k| k.pos).collect::<Vec<_>>();
        assert_eq!(pos(&a), vec![1, 7]);
        assert_eq!(sort_keys(&a)[1].flags, ks::OW | ks::UPDATE);
        let a: Vec<&[u8]> = vec![b"sort", b"k", b"limit", b"store", b"x", b"get", b"store"];
        assert_eq!(pos(&a), vec![1]);
        let a: Vec<&[u8]> = vec![b"sort", b"k", b"store"];
        assert_eq!(pos(&a), vec![1]);
    }

    #[test]
    fn cstr_order() {
        assert_eq!(cmp_cstr(b"a\0b", b"a\0c"), Ordering::Equal);
        assert_eq!(cmp_cstr(b"a", b"ab"), Ordering::Less);
        assert_eq!(cmp_cstr(b"b", b"ab"), Ordering::Greater);
    }
}
