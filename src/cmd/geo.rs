//! Geospatial commands: GEOADD, GEODIST, GEOHASH, GEOPOS, GEOSEARCH, GEOSEARCHSTORE, and the
//! older GEORADIUS, GEORADIUS_RO, GEORADIUSBYMEMBER, GEORADIUSBYMEMBER_RO.
//!
//! A geo set is a sorted set ([`crate::types::zset`]) whose scores are 52-bit geohashes; the
//! geometry (encoding, decoding, distances, which cells a search scans, the order of results)
//! is [`crate::types::geo`]. What this module adds is Redis's command surface:
//!
//! - **GEOADD** parses its coordinates (errors before the key is looked up) and adds the
//!   members as ZADD would, with NX/XX/CH; it is propagated as the `zadd` Redis rewrites it
//!   into (`zadd key [options as typed] score member ...`), and only when it changed the set.
//!   Its keyspace event is `zadd`.
//! - **Searches** share one parser (Redis's `georadiusGeneric`): the source key is looked up
//!   first (WRONGTYPE before any argument error), then the options in one pass, each error as
//!   Redis words it, with its quirks (GEORADIUSBYMEMBER on a missing key does not read its
//!   radius; a repeated FROMMEMBER or STORE takes the last one; `exactly one of ... for <the
//!   command as typed>`). Results are collected cell by cell in Redis's order, stopping at
//!   COUNT with ANY, sorted as Redis sorts them (see `types::geo`), and COUNT without ANY
//!   sorts ascending.
//! - **Stores** (STORE, STOREDIST, GEOSEARCHSTORE) write the results as a sorted set encoded by
//!   its contents, raise `georadiusstore` / `geosearchstore` (or `del` when an empty result
//!   deletes the destination), and propagate as received when they changed something; a
//!   search without a store propagates nothing (GEORADIUS is a write command).
//! - **Replies**: distances with 4 decimals, rounded as `llrint(d * 10000)` (Redis 7's
//!   `fixedpoint_d2string`, also in 7.0.15), as bulk strings in both protocols; coordinates as
//!   `%.17Lf` with trailing zeros removed (`addReplyHumanLongDouble`), doubles in RESP3;
//!   WITHHASH the score as an integer.

use super::args::{self, Cursor};
use super::ks;
use super::{acl, blocking, flags::*, key, key_keyword, lookup, CmdError, CmdResult, CommandSpec, Ctx, FindKeys};
use crate::db::value::{Value, NO_EXPIRE};
use crate::notify;
use crate::types::geo::{self, Search, Shape};
use crate::types::zset::{Limits, ScoreRange, Zset};
use resp::Writer;

const G: &str = "geo";
const GEO: u64 = acl::GEO;

/// The STORE / STOREDIST key specs of GEORADIUS (keyword searched from `from`).
const fn store_specs(from: i32) -> super::Keys {
    let range = FindKeys::Range { lastkey: 0, keystep: 1, limit: 0 };
    key_keyword("STORE", from, range, ks::OW | ks::UPDATE).and(key_keyword(
        "STOREDIST",
        from,
        range,
        ks::OW | ks::UPDATE,
    ))
}

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("geoadd", -5, WRITE | DENYOOM, GEO, key(1, ks::RW | ks::UPDATE), geoadd).doc(
        G,
        "3.2.0",
        "O(log(N)) for each item added, where N is the number of elements in the sorted set.",
        "Adds one or more members to a geospatial index. The key is created if it doesn't exist.",
    ),
    CommandSpec::new("geodist", -4, READONLY, GEO, key(1, ks::RO | ks::ACCESS), geodist).doc(
        G,
        "3.2.0",
        "O(1)",
        "Returns the distance between two members of a geospatial index.",
    ),
    CommandSpec::new("geohash", -2, READONLY, GEO, key(1, ks::RO | ks::ACCESS), geohash).doc(
        G,
        "3.2.0",
        "O(1) for each member requested.",
        "Returns members from a geospatial index as geohash strings.",
    ),
    CommandSpec::new("geopos", -2, READONLY, GEO, key(1, ks::RO | ks::ACCESS), geopos).doc(
        G,
        "3.2.0",
        "O(1) for each member requested.",
        "Returns the longitude and latitude of members from a geospatial index.",
    ),
    CommandSpec::new("geosearch", -7, READONLY, GEO, key(1, ks::RO | ks::ACCESS), geosearch).doc(
        G,
        "6.2.0",
        "O(N+log(M)) where N is the number of elements in the grid-aligned bounding box area around the shape provided as the filter and M is the number of items inside the shape",
        "Queries a geospatial index for members inside an area of a box or a circle.",
    ),
    CommandSpec::new(
        "geosearchstore",
        -8,
        WRITE | DENYOOM,
        GEO,
        key(1, ks::OW | ks::UPDATE).and(key(2, ks::RO | ks::ACCESS)),
        geosearchstore,
    )
    .doc(
        G,
        "6.2.0",
        "O(N+log(M)) where N is the number of elements in the grid-aligned bounding box area around the shape provided as the filter and M is the number of items inside the shape",
        "Queries a geospatial index for members inside an area of a box or a circle, optionally stores the result.",
    ),
    CommandSpec::new("georadius", -6, WRITE | DENYOOM, GEO, key(1, ks::RO | ks::ACCESS).and(store_specs(6)), georadius)
        .doc(
            G,
            "3.2.0",
            "O(N+log(M)) where N is the number of elements inside the bounding box of the circular area delimited by center and radius and M is the number of items inside the index.",
            "Queries a geospatial index for members within a distance from a coordinate, optionally stores the result.",
        ),
    CommandSpec::new("georadius_ro", -6, READONLY, GEO, key(1, ks::RO | ks::ACCESS), georadius_ro).doc(
        G,
        "3.2.10",
        "O(N+log(M)) where N is the number of elements inside the bounding box of the circular area delimited by center and radius and M is the number of items inside the index.",
        "Returns members from a geospatial index that are within a distance from a coordinate.",
    ),
    CommandSpec::new(
        "georadiusbymember",
        -5,
        WRITE | DENYOOM,
        GEO,
        key(1, ks::RO | ks::ACCESS).and(store_specs(5)),
        georadiusbymember,
    )
    .doc(
        G,
        "3.2.0",
        "O(N+log(M)) where N is the number of elements inside the bounding box of the circular area delimited by center and radius and M is the number of items inside the index.",
        "Queries a geospatial index for members within a distance from a member, optionally stores the result.",
    ),
    CommandSpec::new("georadiusbymember_ro", -5, READONLY, GEO, key(1, ks::RO | ks::ACCESS), georadiusbymember_ro)
        .doc(
            G,
            "3.2.10",
            "O(N+log(M)) where N is the number of elements inside the bounding box of the circular area delimited by center and radius and M is the number of items inside the index.",
            "Returns members from a geospatial index that are within a distance from a member.",
        ),
];

// ---------------------------------------------------------------------------------------------
// Arguments
// ---------------------------------------------------------------------------------------------

/// Keyword comparison as Redis's `strcasecmp` on C strings: the argument counts up to its
/// first NUL byte.
fn is_kw(a: &[u8], word: &str) -> bool {
    let end = a.iter().position(|&b| b == 0).unwrap_or(a.len());
    args::is(&a[..end], word)
}

fn coordinate(a: &[u8]) -> Result<f64, CmdError> {
    args::double(a).ok_or(CmdError::NotFloat)
}

/// A longitude and a latitude, inside Redis's limits.
fn lon_lat(lon: &[u8], lat: &[u8]) -> Result<(f64, f64), CmdError> {
    let lon = coordinate(lon)?;
    let lat = coordinate(lat)?;
    if !geo::valid(lon, lat) {
        return Err(CmdError::msg(format!("ERR invalid longitude,latitude pair {lon:.6},{lat:.6}")));
    }
    Ok((lon, lat))
}

/// Metres per unit: M, KM, FT, MI (any case).
fn unit(a: &[u8]) -> Result<f64, CmdError> {
    let u = if is_kw(a, "m") {
        1.0
    } else if is_kw(a, "km") {
        1000.0
    } else if is_kw(a, "ft") {
        0.3048
    } else if is_kw(a, "mi") {
        1609.34
    } else {
        return Err(CmdError::msg("ERR unsupported unit provided. please use M, KM, FT, MI"));
    };
    Ok(u)
}

fn number(a: &[u8], what: &'static str) -> Result<f64, CmdError> {
    args::double(a).ok_or(CmdError::msg(what))
}

/// `radius unit`: the radius and metres per unit.
fn radius(r: &[u8], u: &[u8]) -> Result<(Shape, f64), CmdError> {
    let r = number(r, "ERR need numeric radius")?;
    if r < 0.0 {
        return Err(CmdError::msg("ERR radius cannot be negative"));
    }
    Ok((Shape::Radius(r), unit(u)?))
}

/// `width height unit`.
fn boxed(w: &[u8], h: &[u8], u: &[u8]) -> Result<(Shape, f64), CmdError> {
    let w = number(w, "ERR need numeric width")?;
    let h = number(h, "ERR need numeric height")?;
    if h < 0.0 || w < 0.0 {
        return Err(CmdError::msg("ERR height or width cannot be negative"));
    }
    Ok((Shape::Box(w, h), unit(u)?))
}

fn limits(ctx: &Ctx) -> Limits {
    let c = ctx.server.config.read();
    Limits { max_entries: c.zset_max_listpack_entries, max_value: c.zset_max_listpack_value }
}

// ---------------------------------------------------------------------------------------------
// Replies
// ---------------------------------------------------------------------------------------------

/// A distance with 4 decimals, rounded as Redis's `fixedpoint_d2string`: `llrint(d * 10000)`
/// (ties to even) printed as an integer with a decimal point.
fn distance_text(d: f64) -> String {
    let scaled = d * 10000.0;
    // llrint: NaN and out-of-range values give LLONG_MIN on x86-64.
    let v =
        if scaled.is_nan() || scaled.abs() >= -(i64::MIN as f64) { i64::MIN } else { scaled.round_ties_even() as i64 };
    let (sign, v) = if v < 0 { ("-", v.unsigned_abs()) } else { ("", v as u64) };
    format!("{sign}{}.{:04}", v / 10000, v % 10000)
}

/// A coordinate as `%.17Lf` with the trailing zeros (and a bare point) removed, `-0` as `0`
/// (Redis's `addReplyHumanLongDouble`; a double widened to long double prints the same).
fn coordinate_text(v: f64) -> String {
    let mut s = format!("{v:.17}");
    if s.contains('.') {
        let keep = s.trim_end_matches('0').trim_end_matches('.').len();
        s.truncate(keep);
    }
    if s == "-0" {
        s = "0".into();
    }
    s
}

/// A coordinate: a bulk string in RESP2, a double in RESP3, with [`coordinate_text`].
fn write_coordinate(out: &mut Writer, v: f64) {
    let s = coordinate_text(v);
    if out.resp3 {
        out.raw(b",");
        out.raw(s.as_bytes());
        out.raw(b"\r\n");
    } else {
        out.bulk(s.as_bytes());
    }
}

fn write_position(out: &mut Writer, lon: f64, lat: f64) {
    out.array(2);
    write_coordinate(out, lon);
    write_coordinate(out, lat);
}

// ---------------------------------------------------------------------------------------------
// GEOADD
// ---------------------------------------------------------------------------------------------

fn geoadd(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let (mut nx, mut xx, mut ch) = (false, false, false);
    let mut first = 2;
    while first < a.len() {
        let o = a[first];
        if is_kw(o, "nx") {
            nx = true;
        } else if is_kw(o, "xx") {
            xx = true;
        } else if is_kw(o, "ch") {
            ch = true;
        } else {
            break;
        }
        first += 1;
    }
    let rest = &a[first..];
    // No triplet at all is ZADD's syntax error too.
    if rest.is_empty() || !rest.len().is_multiple_of(3) || (xx && nx) {
        return Err(CmdError::Syntax);
    }
    let mut points = Vec::with_capacity(rest.len() / 3);
    for t in rest.chunks(3) {
        let (lon, lat) = lon_lat(t[0], t[1])?;
        let score = geo::score_of(lon, lat).ok_or(CmdError::Syntax)?;
        points.push((score, t[2]));
    }
    let lim = limits(ctx);
    let key = a[1];
    let mut db = ctx.db();
    let mut fresh = None;
    let z = match lookup::get::<Zset>(&mut db, key)? {
        Some(z) => z,
        None if xx => {
            ctx.propagate_nothing();
            ctx.out.int(0);
            return Ok(());
        }
        // As ZADD: a new set's encoding depends on its first member.
        None => fresh.insert(Zset::with_hint(1, points[0].1.len(), lim)),
    };
    let (mut added, mut updated) = (0i64, 0i64);
    for &(score, member) in &points {
        // Scores beyond 2^53 (longitude 180) round as ZADD's parse of their text does.
        let score = score as f64;
        match z.score(member) {
            Some(cur) if !nx && cur != score => {
                z.insert(member, score, lim);
                updated += 1;
            }
            Some(_) => {}
            None if !xx => {
                z.insert(member, score, lim);
                added += 1;
            }
            None => {}
        }
    }
    match fresh {
        Some(z) if !z.is_empty() => {
            db.set(key, Value::Zset(Box::new(z)), NO_EXPIRE);
        }
        Some(_) => {}
        None if added + updated > 0 => {
            db.touch(key);
            // New members for clients blocked in BZPOP*/BZMPOP (a new key signals itself).
            blocking::signal_ready(&mut db, key);
        }
        None => {}
    }
    if added + updated > 0 {
        ctx.notify(notify::ZSET, "zadd", key);
        if ctx.propagating() {
            // Redis runs GEOADD as the ZADD it rewrites it into, and propagates that.
            let mut zadd: Vec<Vec<u8>> = Vec::with_capacity(first + 2 * points.len());
            zadd.push(b"zadd".to_vec());
            zadd.extend(a[1..first].iter().map(|x| x.to_vec()));
            for (score, member) in &points {
                zadd.push(score.to_string().into_bytes());
                zadd.push(member.to_vec());
            }
            ctx.propagate(&zadd);
        }
    } else {
        ctx.propagate_nothing();
    }
    ctx.out.int(if ch { added + updated } else { added });
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// GEODIST, GEOHASH, GEOPOS
// ---------------------------------------------------------------------------------------------

fn geodist(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let to_metres = match a.len() {
        4 => 1.0,
        5 => unit(a[4])?,
        _ => return Err(CmdError::Syntax),
    };
    let (mut db, out) = ctx.db_out();
    let Some(z) = lookup::read::<Zset>(&mut db, a[1])? else {
        out.null();
        return Ok(());
    };
    match (z.score(a[2]), z.score(a[3])) {
        (Some(s1), Some(s2)) => {
            let (p1, p2) = (geo::position(s1), geo::position(s2));
            let d = geo::distance(p1.0, p1.1, p2.0, p2.1) / to_metres;
            out.bulk(distance_text(d).as_bytes());
        }
        _ => out.null(),
    }
    Ok(())
}

fn geohash(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let (mut db, out) = ctx.db_out();
    let z = lookup::read::<Zset>(&mut db, a[1])?;
    out.array(a.len() - 2);
    for m in &a[2..] {
        match z.and_then(|z| z.score(m)) {
            Some(s) => out.bulk(&geo::geohash_string(s)),
            None => out.null(),
        }
    }
    Ok(())
}

fn geopos(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let (mut db, out) = ctx.db_out();
    let z = lookup::read::<Zset>(&mut db, a[1])?;
    out.array(a.len() - 2);
    for m in &a[2..] {
        match z.and_then(|z| z.score(m)) {
            Some(s) => {
                let (lon, lat) = geo::position(s);
                write_position(out, lon, lat);
            }
            None => out.null_array(),
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Searches
// ---------------------------------------------------------------------------------------------

/// Which search command runs.
#[derive(Clone, Copy, PartialEq)]
enum Form {
    /// GEORADIUS[_RO] key lon lat radius unit ...
    Radius,
    /// GEORADIUSBYMEMBER[_RO] key member radius unit ...
    RadiusByMember,
    /// GEOSEARCH key ...
    Search,
    /// GEOSEARCHSTORE dst key ...
    SearchStore,
}

fn georadius(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    search(ctx, a, Form::Radius, true)
}

fn georadius_ro(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    search(ctx, a, Form::Radius, false)
}

fn georadiusbymember(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    search(ctx, a, Form::RadiusByMember, true)
}

fn georadiusbymember_ro(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    search(ctx, a, Form::RadiusByMember, false)
}

fn geosearch(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    search(ctx, a, Form::Search, false)
}

fn geosearchstore(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    search(ctx, a, Form::SearchStore, false)
}

#[derive(Clone, Copy, PartialEq)]
enum Order {
    None,
    Asc,
    Desc,
}

/// A parsed search.
struct Request<'a> {
    search: Option<Search>,
    store: Option<&'a [u8]>,
    store_dist: bool,
    with_dist: bool,
    with_hash: bool,
    with_coord: bool,
    order: Order,
    count: usize,
    any: bool,
}

/// One result: the member, its position, distance and score.
#[derive(Clone, Copy)]
struct Found<'z> {
    member: &'z [u8],
    lon: f64,
    lat: f64,
    dist: f64,
    score: f64,
}

/// The position of `member` of `z`, or Redis's error.
fn member_position(z: &Zset, member: &[u8]) -> Result<(f64, f64), CmdError> {
    match z.score(member) {
        Some(s) => Ok(geo::position(s)),
        None => Err(CmdError::msg("ERR could not decode requested zset member")),
    }
}

/// Parses a search's arguments as Redis's `georadiusGeneric` does (`z`: the source set, `None`
/// when missing; `may_store`: STORE/STOREDIST are options of this command).
fn parse<'a>(a: &[&'a [u8]], form: Form, may_store: bool, z: Option<&Zset>) -> Result<Request<'a>, CmdError> {
    let mut r = Request {
        search: None,
        store: None,
        store_dist: false,
        with_dist: false,
        with_hash: false,
        with_coord: false,
        order: Order::None,
        count: 0,
        any: false,
    };
    let mut centre = None;
    let mut shape = None;
    let base = match form {
        Form::Radius => {
            centre = Some(lon_lat(a[2], a[3])?);
            shape = Some(radius(a[4], a[5])?);
            6
        }
        // No source: the radius is not even read; the options are, for the reply's kind.
        Form::RadiusByMember if z.is_none() => 5,
        Form::RadiusByMember => {
            centre = Some(member_position(z.expect("checked"), a[2])?);
            shape = Some(radius(a[3], a[4])?);
            5
        }
        Form::Search => 2,
        Form::SearchStore => {
            r.store = Some(a[1]);
            3
        }
    };
    let searching = matches!(form, Form::Search | Form::SearchStore);
    let (mut from_member, mut from_lonlat, mut by_radius, mut by_box) = (false, false, false, false);
    let mut c = Cursor::new(a, base);
    while let Some(arg) = c.next() {
        let left = c.remaining();
        if is_kw(arg, "withdist") {
            r.with_dist = true;
        } else if is_kw(arg, "withhash") {
            r.with_hash = true;
        } else if is_kw(arg, "withcoord") {
            r.with_coord = true;
        } else if is_kw(arg, "any") {
            r.any = true;
        } else if is_kw(arg, "asc") {
            r.order = Order::Asc;
        } else if is_kw(arg, "desc") {
            r.order = Order::Desc;
        } else if is_kw(arg, "count") && left >= 1 {
            let n = args::int(c.value()?)?;
            if n <= 0 {
                return Err(CmdError::msg("ERR COUNT must be > 0"));
            }
            r.count = n as usize;
        } else if (is_kw(arg, "store") || is_kw(arg, "storedist")) && left >= 1 && may_store && !searching {
            r.store = Some(c.value()?);
            r.store_dist = is_kw(arg, "storedist");
        } else if is_kw(arg, "storedist") && form == Form::SearchStore {
            r.store_dist = true;
        } else if is_kw(arg, "frommember") && left >= 1 && searching && !from_lonlat {
            let m = c.value()?;
            if let Some(z) = z {
                centre = Some(member_position(z, m)?);
            }
            from_member = true;
        } else if is_kw(arg, "fromlonlat") && left >= 2 && searching && !from_member {
            let (lon, lat) = (c.value()?, c.value()?);
            centre = Some(lon_lat(lon, lat)?);
            from_lonlat = true;
        } else if is_kw(arg, "byradius") && left >= 2 && searching && !by_box {
            let (rad, u) = (c.value()?, c.value()?);
            shape = Some(radius(rad, u)?);
            by_radius = true;
        } else if is_kw(arg, "bybox") && left >= 3 && searching && !by_radius {
            let (w, h, u) = (c.value()?, c.value()?, c.value()?);
            shape = Some(boxed(w, h, u)?);
            by_box = true;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    if r.store.is_some() && (r.with_dist || r.with_hash || r.with_coord) {
        let what = if form == Form::SearchStore { "GEOSEARCHSTORE" } else { "STORE option in GEORADIUS" };
        return Err(CmdError::msg(format!(
            "ERR {what} is not compatible with WITHDIST, WITHHASH and WITHCOORD options"
        )));
    }
    let name = || String::from_utf8_lossy(a[0]).into_owned();
    if searching && !(from_member || from_lonlat) {
        return Err(CmdError::msg(format!(
            "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for {}",
            name()
        )));
    }
    if searching && !(by_radius || by_box) {
        return Err(CmdError::msg(format!("ERR exactly one of BYRADIUS and BYBOX can be specified for {}", name())));
    }
    if r.any && r.count == 0 {
        return Err(CmdError::msg("ERR the ANY argument requires COUNT argument"));
    }
    if let (Some((lon, lat)), Some((shape, conversion))) = (centre, shape) {
        r.search = Some(Search { lon, lat, conversion, shape });
    }
    Ok(r)
}

/// The members of `z` inside `search`, cell by cell in Redis's order, at most `limit` (0: all).
fn collect<'z>(z: &'z Zset, search: &Search, limit: usize) -> Vec<Found<'z>> {
    let mut found = Vec::new();
    for (min, max) in search.score_ranges() {
        if limit > 0 && found.len() >= limit {
            break;
        }
        let range = ScoreRange { min: min as f64, minex: false, max: max as f64, maxex: true };
        let (lo, hi) = z.score_interval(&range);
        for (member, score) in z.range(lo, hi) {
            if let Some((lon, lat, dist)) = search.contains(score) {
                found.push(Found { member, lon, lat, dist, score });
                if limit > 0 && found.len() >= limit {
                    break;
                }
            }
        }
    }
    found
}

/// Sorts `found` as Redis does and returns how many are returned.
fn order(found: &mut [Found], req: &Request) -> usize {
    let mut order = req.order;
    if req.count != 0 && order == Order::None && !req.any {
        order = Order::Asc;
    }
    let n = found.len();
    let returned = if req.count == 0 || n < req.count { n } else { req.count };
    if order != Order::None {
        let desc = order == Order::Desc;
        let cmp = |x: &Found, y: &Found| geo::compare_distances(x.dist, y.dist, desc);
        if returned == n {
            geo::sort_full(found, &cmp);
        } else {
            geo::sort_partial(found, returned, &cmp);
        }
    }
    returned
}

fn search(ctx: &mut Ctx, a: &[&[u8]], form: Form, may_store: bool) -> CmdResult {
    let src = if form == Form::SearchStore { a[2] } else { a[1] };
    let (mut db, out) = ctx.db_out();
    let z = lookup::read::<Zset>(&mut db, src)?;
    let req = parse(a, form, may_store, z)?;
    let Some(store) = req.store else {
        // A search without a store changes nothing (GEORADIUS is a write command).
        let (Some(z), Some(search)) = (z, req.search.as_ref()) else {
            out.array(0);
            ctx.propagate_nothing();
            return Ok(());
        };
        let mut found = collect(z, search, if req.any { req.count } else { 0 });
        let returned = order(&mut found, &req);
        reply(out, &found[..returned], &req, search.conversion);
        ctx.propagate_nothing();
        return Ok(());
    };
    let items: Vec<(Box<[u8]>, f64)> = match (z, req.search.as_ref()) {
        (Some(z), Some(search)) => {
            let mut found = collect(z, search, if req.any { req.count } else { 0 });
            let returned = order(&mut found, &req);
            found[..returned]
                .iter()
                .map(|f| (Box::from(f.member), if req.store_dist { f.dist / search.conversion } else { f.score }))
                .collect()
        }
        _ => Vec::new(),
    };
    let n = items.len();
    let lim = limits(ctx);
    let mut db = ctx.db();
    if n > 0 {
        db.set(store, Value::Zset(Box::new(Zset::from_items(items, lim))), NO_EXPIRE);
        let event = if form == Form::SearchStore { "geosearchstore" } else { "georadiusstore" };
        ctx.notify(notify::ZSET, event, store);
    } else if db.remove(store).is_some() {
        ctx.notify(notify::GENERIC, "del", store);
    } else {
        ctx.propagate_nothing();
    }
    ctx.out.int(n as i64);
    Ok(())
}

/// The reply of a search without a store.
fn reply(out: &mut Writer, found: &[Found], req: &Request, conversion: f64) {
    let options = req.with_dist as usize + req.with_hash as usize + req.with_coord as usize;
    out.array(found.len());
    for f in found {
        if options > 0 {
            out.array(options + 1);
        }
        out.bulk(f.member);
        if req.with_dist {
            out.bulk(distance_text(f.dist / conversion).as_bytes());
        }
        if req.with_hash {
            out.int(geo::score_as_i64(f.score));
        }
        if req.with_coord {
            write_position(out, f.lon, f.lat);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_print_as_redis() {
        assert_eq!(distance_text(166274.15156960033), "166274.1516");
        assert_eq!(distance_text(0.0), "0.0000");
        assert_eq!(distance_text(0.00004), "0.0000");
        assert_eq!(distance_text(0.00005), "0.0000", "llrint of 0.5 rounds to even");
        assert_eq!(distance_text(0.00015), "0.0001", "0.00015 * 10000 is 1.4999999999999998");
        assert_eq!(distance_text(0.00016), "0.0002");
        assert_eq!(distance_text(4203.422), "4203.4220");
        assert_eq!(distance_text(f64::NAN), "-922337203685477.5808");
    }

    #[test]
    fn coordinates_print_as_redis() {
        assert_eq!(coordinate_text(180.0), "180");
        assert_eq!(coordinate_text(13.361389338970184), "13.36138933897018433");
        assert_eq!(coordinate_text(85.05112878), "85.0511287799999991");
        assert_eq!(coordinate_text(1.26736058093e-06), "0.00000126736058093");
        assert_eq!(coordinate_text(-0.0), "0");
        assert_eq!(coordinate_text(-1e-20), "0");
    }
}
