//! Differential tests for the geo family against redis-server: every command, option and error
//! text, replies byte for byte in RESP2 and RESP3, and seeded random searches over thousands of
//! points near the equator, the antimeridian and the poles (members just inside or outside a
//! radius or box, equal distances in Redis's order, COUNT with and without ANY).
//!
//! Redis 7.0 (the oracle) and 7.2 (the spec) agree on the geo commands themselves: both format
//! distances with `fixedpoint_d2string` (7.0.6 took it, #11552/#11631) and use the haversine
//! shortcut for equal longitudes and the latitude-first box test (#11535, #11579). They differ
//! in how ZRANGE/ZSCORE print non-integer scores (7.0: `%.17g`; 7.2: shortest round trip), so
//! STOREDIST results are compared as numbers, not as text (`same_scores`).
mod common;
use common::*;

use std::time::Duration;

/// xorshift64*: the same sequence on every platform.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    /// Uniform in [lo, hi).
    fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (self.next() >> 11) as f64 / (1u64 << 53) as f64 * (hi - lo)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len() as u64) as usize]
    }
}

fn line_args(words: &[String]) -> Vec<&[u8]> {
    words.iter().map(|w| w.as_bytes()).collect()
}

fn check_words(p: &mut Pair, words: &[String]) -> Vec<u8> {
    p.check_args(&line_args(words))
}

#[test]
fn geoadd_options_and_errors() {
    let mut p = Pair::new();
    p.check_all(&[
        "GEOADD k 13.361389 38.115556 Palermo 15.087269 37.502669 Catania",
        "ZRANGE k 0 -1 WITHSCORES",
        // The limits themselves: a field one bit wider than 26 bits (scores above 2^52).
        "GEOADD k 180 0 e180 -180 0 w180 0 85.05112878 n 0 -85.05112878 s 180 85.05112878 ne",
        "GEOADD k 180 85.05112877 ne2 179.9999999 -85.05112878 se",
        "ZRANGE k 0 -1 WITHSCORES",
        "GEOADD k 200 100 x",
        "GEOADD k 180.0000001 0 x",
        "GEOADD k 0 85.05112879 x",
        "GEOADD k 0 -90 x",
        "GEOADD k inf 0 x",
        "GEOADD k -inf 0 x",
        "GEOADD k 0 +inf x",
        "GEOADD k nan 0 x",
        "GEOADD k 0 nan x",
        "GEOADD k 1e400 0 x",
        "GEOADD k 1e-400 0 x",
        "GEOADD k 1e300 0 x",
        "GEOADD k -0 100 x",
        "GEOADD k -1e-7 -100 x",
        "GEOADD k abc 0 x",
        "GEOADD k 0 abc x",
        "GEOADD k 0x10 0 hex",
        "GEOADD k 1 2 ok 200 0 bad",
        "EXISTS ok",
        "ZSCORE k ok",
        "GEOADD k nx xx 0 0 m",
        "GEOADD k XX NX 0 0 m",
        "GEOADD k GT 1 2",
        "GEOADD k GT 1 2 m",
        "GEOADD k INCR 1 2 m",
        "GEOADD k ch ch ch",
        "GEOADD k nx ch xx",
        "GEOADD k 1 2 m 3",
        "GEOADD k 1 2 m 3 4",
        "GEOADD k 0 0",
        "GEOADD k",
        "GEOADD k CH 1 2 Palermo 3 4 new",
        "GEOADD k CH 1 2 Palermo 3 4 new",
        "GEOADD k NX CH 5 5 Palermo 6 6 new2",
        "GEOADD k XX CH 5 5 Palermo 6 6 new3",
        "GEOADD k XX 5 5 Palermo",
        "GEOADD k 7 7 dup 8 8 dup",
        "GEOPOS k dup",
        "GEOADD nokey XX 1 1 a",
        "EXISTS nokey",
        "GEOADD nokey NX 1 1 a",
        "ZRANGE nokey 0 -1 WITHSCORES",
        "ZRANGE k 0 -1 WITHSCORES",
        "ZCARD k",
        "OBJECT ENCODING k",
    ]);
    p.check_args(&[b"GEOADD", b"k", b" 1", b"2", b"sp"]);
    p.check_args(&[b"GEOADD", b"k", b"1", b"", b"empty"]);
    p.check_args(&[b"GEOADD", b"k", b"NX\0junk", b"1", b"2", b"nul"]);
    p.check_args(&[b"GEOADD", b"\xff\x00bin", b"1", b"2", b"\x00m\xff"]);
    p.check_args(&[b"GEOPOS", b"\xff\x00bin", b"\x00m\xff"]);
    // 10,000 members in one GEOADD, then the skiplist encoding.
    let mut w: Vec<String> = vec!["GEOADD".into(), "big".into()];
    let mut r = Rng::new(7);
    for i in 0..10_000 {
        w.push(format!("{}", r.uniform(-180.0, 180.0)));
        w.push(format!("{}", r.uniform(-85.0, 85.0)));
        w.push(format!("m{i}"));
    }
    check_words(&mut p, &w);
    p.check_all(&["ZCARD big", "OBJECT ENCODING big", "GEOPOS big m0 m9999 m10000", "GEOHASH big m1 m2 m3"]);
    // A new set's encoding follows its first member, as ZADD.
    let long = "x".repeat(70);
    p.check(&format!("GEOADD enc 1 1 {long} 2 2 b"));
    p.check("OBJECT ENCODING enc");
    p.check(&format!("GEOADD enc2 1 1 a 2 2 {long}"));
    p.check("OBJECT ENCODING enc2");
}

#[test]
fn geodist_geohash_geopos() {
    let mut p = Pair::new();
    p.check_all(&[
        "GEOADD g 13.361389 38.115556 Palermo 15.087269 37.502669 Catania 13.361389 38.115556 Twin",
        "GEOADD g 0 0 o 180 0 e 0.0000001 0.0000001 near 10 10 a 10 40 b",
        "GEODIST g Palermo Catania",
        "GEODIST g Palermo Catania m",
        "GEODIST g Palermo Catania km",
        "GEODIST g Palermo Catania KM",
        "GEODIST g Palermo Catania Mi",
        "GEODIST g Palermo Catania ft",
        "GEODIST g Palermo Catania yd",
        "GEODIST g Palermo Catania km x",
        "GEODIST g Palermo Twin",
        "GEODIST g o near",
        "GEODIST g o near ft",
        "GEODIST g o e",
        "GEODIST g a b",
        "GEODIST g Palermo nosuch",
        "GEODIST g nosuch Palermo",
        "GEODIST nokey a b",
        "GEODIST nokey a b yd",
        "GEODIST g a",
        "GEOHASH g Palermo Catania o e near nosuch",
        "GEOHASH g",
        "GEOHASH nokey a b",
        "GEOPOS g Palermo Catania o e near nosuch",
        "GEOPOS g",
        "GEOPOS nokey a b",
        "GEOADD lim 180 0 e180 -180 0 w180 0 85.05112878 n 0 -85.05112878 s 180 85.05112878 ne",
        "GEOPOS lim e180 w180 n s ne",
        "GEOHASH lim e180 w180 n s ne",
        "GEODIST lim n s",
        "GEODIST lim e180 w180",
        // Scores no GEOADD writes: decoded as Redis's C conversions do.
        "ZADD z -1 neg1 1.5 f 4503599627370496 p52 9007199254740991 p53 1152921504606846976 p60",
        "ZADD z 1e19 e19 1e30 e30 inf pinf -inf ninf -1e30 ne30 -0.5 nhalf 9223372036854775808 p63",
        "ZADD z 18446744073709551616 p64 0 zero -0 nzero 4503599627370495.5 frac",
        "GEOPOS z neg1 f p52 p53 p60 e19 e30 pinf ninf ne30 nhalf p63 p64 zero nzero frac",
        "GEOHASH z neg1 f p52 p53 p60 e19 e30 pinf ninf ne30 nhalf p63 p64 zero nzero frac",
        "GEODIST z neg1 f",
        "GEODIST z pinf ninf km",
        "GEOSEARCH z FROMLONLAT 0 0 BYRADIUS 50000 km WITHHASH WITHCOORD WITHDIST",
        "GEOSEARCH z FROMMEMBER pinf BYRADIUS 50000 km WITHHASH",
        "GEOSEARCH z FROMMEMBER neg1 BYBOX 50000 50000 km WITHHASH ASC",
        "GEORADIUSBYMEMBER z ninf 30000 km WITHHASH WITHDIST DESC",
    ]);
    p.resp3();
    p.check_all(&[
        "GEOPOS g Palermo nosuch",
        "GEOPOS nokey a",
        "GEOHASH g Palermo nosuch",
        "GEODIST g Palermo nosuch",
        "GEODIST g Palermo Catania km",
        "GEODIST nokey a b",
        "GEOSEARCH g FROMMEMBER Palermo BYRADIUS 200 km WITHDIST WITHHASH WITHCOORD",
        "GEOSEARCH g FROMMEMBER Palermo BYRADIUS 200 km",
        "GEOSEARCH nokey FROMMEMBER Palermo BYRADIUS 200 km",
        "GEORADIUS g 15 37 200 km WITHCOORD",
        "GEOPOS lim e180 w180 n s ne",
    ]);
}

#[test]
fn search_options_and_errors() {
    let mut p = Pair::new();
    p.check_all(&[
        "GEOADD g 13.361389 38.115556 Palermo 15.087269 37.502669 Catania",
        "SET s x",
        "GEOSEARCH g FROMMEMBER Palermo BYRADIUS 300 km",
        "geosearch g BYRADIUS 300 km",
        "GEOSEARCH g FROMMEMBER nosuch BYRADIUS 300 km",
        "GEOSEARCH nokey FROMMEMBER nosuch BYRADIUS 300 km",
        "GEOSEARCH nokey FROMMEMBER nosuch BYRADIUS x km",
        "GEOSEARCH nokey FROMMEMBER nosuch BYRADIUS 1 yd",
        "GEOSEARCH nokey FROMLONLAT 200 0 BYRADIUS 1 km",
        "GEOSEARCH s FROMLONLAT 200 0 BYRADIUS 1 km",
        "GEOSEARCH s FROMLONLAT 0 0 BYRADIUS 1 km",
        "GEOSEARCH g FROMLONLAT 0 0 FROMMEMBER Palermo BYRADIUS 1 km",
        "GEOSEARCH g FROMMEMBER Palermo FROMLONLAT 0 0 BYRADIUS 1 km",
        "GEOSEARCH g FROMMEMBER Palermo FROMMEMBER Catania BYRADIUS 1 km",
        "GEOSEARCH g FROMLONLAT 15 37 FROMLONLAT 13 38 BYRADIUS 1 km",
        "GEOSEARCH g FROMMEMBER Palermo BYRADIUS 1 km BYBOX 1 1 km",
        "GEOSEARCH g FROMMEMBER Palermo BYBOX 1 1 km BYRADIUS 1 km",
        "GEOSEARCH g FROMMEMBER Palermo BYRADIUS 1 km BYRADIUS 200 km",
        "GEOSEARCH g FROMMEMBER Palermo BYBOX 1 1 km BYBOX 400 400 km",
        "GEOSEARCH g FROMMEMBER Palermo BYRADIUS -1 km",
        "GEOSEARCH g FROMMEMBER Palermo BYRADIUS -0 km",
        "GEOSEARCH g FROMMEMBER Palermo BYRADIUS x km",
        "GEOSEARCH g FROMMEMBER Palermo BYRADIUS nan km",
        "GEOSEARCH g FROMMEMBER Palermo BYRADIUS 1e400 km",
        "GEOSEARCH g FROMMEMBER Palermo BYRADIUS inf km",
        "GEOSEARCH g FROMMEMBER Palermo BYRADIUS 1e308 km",
        "GEOSEARCH g FROMMEMBER Palermo BYRADIUS 1 yd",
        "GEOSEARCH g FROMMEMBER Palermo BYBOX -1 1 km",
        "GEOSEARCH g FROMMEMBER Palermo BYBOX 1 -1 km",
        "GEOSEARCH g FROMMEMBER Palermo BYBOX x -1 km",
        "GEOSEARCH g FROMMEMBER Palermo BYBOX -1 x km",
        "GEOSEARCH g FROMMEMBER Palermo BYBOX 1 x km",
        "GEOSEARCH g FROMMEMBER Palermo BYBOX 1 1 yd",
        "GEOSEARCH g FROMMEMBER Palermo BYBOX inf inf km",
        "GEOSEARCH g FROMMEMBER Palermo BYBOX 0 0 km",
        "GEOSEARCH g FROMMEMBER Palermo BYBOX 1 1",
        "GEOSEARCH g FROMMEMBER Palermo BYRADIUS 1",
        "GEOSEARCH g FROMLONLAT 1 BYRADIUS 1 km",
        "GEOSEARCH g FROMLONLAT x 1 BYRADIUS 1 km",
        "GEOSEARCH g FROMLONLAT 1 nan BYRADIUS 1 km",
        "GEOSEARCH g FROMLONLAT inf 1 BYRADIUS 1 km",
        "GEOSEARCH g FROMMEMBER Palermo BYRADIUS 1 km COUNT 0",
        "GEOSEARCH g FROMMEMBER Palermo BYRADIUS 1 km COUNT -1",
        "GEOSEARCH g FROMMEMBER Palermo BYRADIUS 1 km COUNT x",
        "GEOSEARCH g FROMMEMBER Palermo BYRADIUS 1 km COUNT 1.5",
        "GEOSEARCH g FROMMEMBER Palermo BYRADIUS 1 km COUNT",
        "GEOSEARCH g FROMMEMBER Palermo BYRADIUS 300 km COUNT 9223372036854775807",
        "GEOSEARCH g FROMMEMBER Palermo BYRADIUS 300 km COUNT 9223372036854775808",
        "GEOSEARCH g FROMMEMBER Palermo BYRADIUS 300 km COUNT -9223372036854775808",
        "GEOSEARCH g FROMMEMBER Palermo BYRADIUS 1 km ANY",
        "GEOSEARCH g FROMMEMBER Palermo BYRADIUS 1 km ANY COUNT 1",
        "GEOSEARCH g FROMMEMBER Palermo BYRADIUS 300 km COUNT 1 ANY DESC",
        "GEOSEARCH g FROMMEMBER Palermo BYRADIUS 300 km COUNT 1 ANY",
        "GEOSEARCH g FROMMEMBER Palermo BYRADIUS 300 km COUNT 1 DESC",
        "GEOSEARCH g FROMMEMBER Palermo BYRADIUS 300 km COUNT 1",
        "GEOSEARCH g FROMMEMBER Palermo BYRADIUS 300 km ASC DESC",
        "GEOSEARCH g FROMMEMBER Palermo BYRADIUS 300 km DESC ASC",
        "GEOSEARCH g FROMMEMBER Palermo BYRADIUS 300 km WITHDIST WITHDIST",
        "GEOSEARCH g FROMMEMBER Palermo BYRADIUS 300 km withcoord withhash withdist",
        "GEOSEARCH g FROMMEMBER Palermo BYRADIUS 1 km STORE x",
        "GEOSEARCH g FROMMEMBER Palermo BYRADIUS 1 km STOREDIST",
        "GEOSEARCH g FROMMEMBER Palermo BYRADIUS 1 km foo",
        "GEOSEARCH g FROMMEMBER Palermo BYRADIUS 1 km FROMMEMBER x",
        "GEOSEARCH g FROMMEMBER Palermo BYRADIUS 1 km COUNT 0 WITHDIST foo",
        "GEOSEARCH g FROMMEMBER nosuch BYRADIUS x km",
        "GEOSEARCH g FROMMEMBER nosuch BYRADIUS 1 km COUNT 0",
        "GEOSEARCH g BYRADIUS 1 km COUNT 0",
        "GEOSEARCH g FROMLONLAT 200 0 BYRADIUS x km",
        "GEOSEARCH g BYRADIUS x km FROMLONLAT 200 0",
        "GEOSEARCH g FROMMEMBER Palermo WITHDIST WITHHASH",
        "GEOSEARCH g BYRADIUS 1 km WITHDIST WITHHASH",
        "geoSearch g BYRADIUS 1 km WITHDIST WITHHASH",
        "GeoSearch g FROMMEMBER Palermo WITHDIST WITHHASH WITHCOORD",
        "GEOSEARCH nokey FROMLONLAT 0 0 ASC DESC",
        "GEOSEARCH nokey BYBOX 1 1 km ASC DESC",
        "GEOSEARCH nokey BYBOX 1 1 km FROMMEMBER x ANY",
        "GEOSEARCH nokey BYBOX 1 1 km FROMMEMBER x ANY COUNT 1",
        "GEOSEARCH nokey BYBOX 1 1 km FROMLONLAT 0 0 FROMLONLAT 1 1",
        "GEOSEARCH nokey BYBOX 1 1 km FROMMEMBER a FROMMEMBER b",
        "GEOSEARCH nokey FROMMEMBER a BYBOX 1 1 km FROMLONLAT 0 0",
        "GEOSEARCH nokey FROMLONLAT 0 0 BYBOX 1 1 km FROMMEMBER a",
        "GEOSEARCHSTORE d g FROMMEMBER Palermo BYRADIUS 1 km STORE x",
        "GEOSEARCHSTORE d g FROMMEMBER Palermo BYRADIUS 1 km WITHDIST",
        "GEOSEARCHSTORE d g FROMMEMBER Palermo BYRADIUS 1 km WITHHASH STOREDIST",
        "GEOSEARCHSTORE d g FROMMEMBER Palermo BYRADIUS 1 km WITHCOORD",
        "GEOSEARCHSTORE d s FROMMEMBER Palermo BYRADIUS 1 km",
        "GEOSEARCHSTORE d g WITHDIST WITHHASH WITHCOORD",
        "GEOSEARCHSTORE d g ASC DESC ASC ANY FOO",
        "geosearchstore d g BYBOX 1 1 km",
        "geosearchstore d g FROMLONLAT 1 1",
        "GEOSEARCHSTORE s g FROMMEMBER Palermo BYRADIUS 1 km",
        "TYPE s",
        "ZRANGE s 0 -1 WITHSCORES",
        "SET s x",
        "GEOSEARCHSTORE s g FROMMEMBER Palermo BYRADIUS 1000 km STOREDIST STOREDIST",
        "TYPE s",
        "GEOSEARCHSTORE s g FROMLONLAT 100 0 BYRADIUS 1 km",
        "EXISTS s",
        "GEOSEARCHSTORE s g FROMLONLAT 100 0 BYRADIUS 1 km",
        "SET s x",
        "GEOSEARCHSTORE s nokey FROMLONLAT 100 0 BYRADIUS 1 km",
        "EXISTS s",
        "SET s x",
    ]);
}

#[test]
fn georadius_forms() {
    let mut p = Pair::new();
    p.check_all(&[
        "GEOADD g 13.361389 38.115556 Palermo 15.087269 37.502669 Catania 12.758489 38.788135 edge1",
        "GEOADD g 17.241510 38.788135 edge2",
        "SET s x",
        "GEORADIUS g 15 37 200 km",
        "GEORADIUS g 15 37 200 km WITHDIST WITHCOORD WITHHASH ASC",
        "GEORADIUS g 15 37 200 km WITHDIST WITHCOORD WITHHASH DESC",
        "GEORADIUS g 15 37 200 km WITHDIST STORE x",
        "GEORADIUS g 15 37 200 km STORE x WITHCOORD",
        "GEORADIUS g 15 37 200 km STOREDIST",
        "GEORADIUS g 15 37 200 km STORE",
        "GEORADIUS_RO g 15 37 200 km STORE x",
        "GEORADIUS_RO g 15 37 200 km STOREDIST x",
        "GEORADIUS_RO g 15 37 200 km WITHDIST",
        "GEORADIUS g 15 37 200 km FROMLONLAT 1 1",
        "GEORADIUS g 15 37 200 km FROMMEMBER Palermo",
        "GEORADIUS g 15 37 200 km BYRADIUS 1 km",
        "GEORADIUS g 15 37 200 km BYBOX 1 1 km",
        "GEORADIUS g 15 37 200 km COUNT 1 ANY",
        "GEORADIUS g 15 37 200 km COUNT 1",
        "GEORADIUS g 15 37 200 km ANY",
        "GEORADIUS g 15 37 500 km COUNT 2 DESC WITHDIST",
        "GEORADIUS g 200 37 200 km",
        "GEORADIUS g x 37 200 km",
        "GEORADIUS g 15 x 200 km",
        "GEORADIUS g 15 37 x km",
        "GEORADIUS g 15 37 -1 km",
        "GEORADIUS g 15 37 1 yd",
        "GEORADIUS s 15 37 1 yd",
        "GEORADIUS s 200 37 1 km",
        "GEORADIUS nokey 15 37 1 yd",
        "GEORADIUS nokey 200 37 1 yd",
        "GEORADIUS nokey 15 37 1 km",
        "GEORADIUS nokey 15 37 1 km STORE d",
        "GEORADIUS nokey 15 37 1 km STORE d WITHDIST",
        "GEORADIUSBYMEMBER g Palermo 200 km",
        "GEORADIUSBYMEMBER g Palermo 200 km WITHDIST WITHCOORD",
        "GEORADIUSBYMEMBER g nosuch 200 km",
        "GEORADIUSBYMEMBER g Palermo x km",
        "GEORADIUSBYMEMBER g Palermo -5 km",
        "GEORADIUSBYMEMBER g Palermo 200 yd",
        "GEORADIUSBYMEMBER nokey Palermo x yd",
        "GEORADIUSBYMEMBER nokey Palermo x yd foo",
        "GEORADIUSBYMEMBER nokey Palermo x yd WITHDIST STORE x",
        "GEORADIUSBYMEMBER nokey Palermo x yd ANY",
        "GEORADIUSBYMEMBER nokey Palermo x yd STORE d",
        "GEORADIUSBYMEMBER s Palermo x yd ANY",
        "GEORADIUSBYMEMBER_RO g Palermo 200 km STORE x",
        "GEORADIUSBYMEMBER_RO g Palermo 200 km WITHDIST",
        "GEORADIUSBYMEMBER_RO nokey Palermo 200 km STORE x",
        "GEORADIUSBYMEMBER g Palermo 200 km STORE d STOREDIST e",
        "EXISTS d",
        "ZRANGE e 0 -1",
        "GEORADIUSBYMEMBER g Palermo 200 km STOREDIST d STORE e",
        "ZRANGE e 0 -1 WITHSCORES",
        "EXISTS d",
        "GEORADIUS g 15 37 200 km STORE st",
        "ZRANGE st 0 -1 WITHSCORES",
        "GEORADIUS g 15 37 1 km STORE st",
        "EXISTS st",
        "GEORADIUS g 15 37 1 km STORE st",
        "SET st x",
        "GEORADIUS g 15 37 200 km STORE st",
        "TYPE st",
        "GEORADIUS s 15 37 200 km STORE st",
        "GEORADIUS g 15 37 200 km STORE s",
        "TYPE s",
    ]);
}

#[test]
fn wrongtype_everywhere() {
    let mut p = Pair::new();
    p.check_all(&["SET s x", "LPUSH l a", "GEOADD g 1 1 a"]);
    for c in [
        "GEOADD s 1 1 a",
        "GEOADD s 200 1 a",
        "GEOADD l 1 1 a",
        "GEODIST s a b",
        "GEODIST s a b yd",
        "GEOHASH s a",
        "GEOPOS s a",
        "GEOSEARCH s FROMMEMBER a BYRADIUS 1 km",
        "GEOSEARCH s FROMLONLAT 0 0 BYRADIUS 1 km",
        "GEOSEARCHSTORE d s FROMLONLAT 0 0 BYRADIUS 1 km",
        "GEORADIUS s 0 0 1 km",
        "GEORADIUS_RO l 0 0 1 km",
        "GEORADIUSBYMEMBER s a 1 km",
        "GEORADIUSBYMEMBER_RO s a 1 km",
        "GEORADIUS s 0 0 1 km STORE d",
        "EXISTS d",
    ] {
        p.check(c);
    }
}

/// Where random points come from: a centre and a spread in degrees.
const REGIONS: &[(f64, f64, f64)] = &[
    (0.0, 0.0, 5.0),
    (180.0, 0.0, 5.0),
    (-180.0, 0.0, 5.0),
    // Near the poles; some points end up on the latitude limit, whose cells Redis's
    // searches do not reach (its field overflows the step).
    (0.0, 84.2, 1.0),
    (0.0, -84.2, 1.0),
    (179.9, 84.6, 0.5),
    (-179.9, -84.6, 0.5),
    (100.0, 70.0, 10.0),
    (-60.0, -81.0, 5.0),
    (0.0, 0.0, 180.0),
];

fn point(r: &mut Rng, (lon0, lat0, spread): (f64, f64, f64)) -> (f64, f64) {
    let scale = *r.pick(&[1.0, 0.01, 0.0001]);
    let lon = lon0 + r.uniform(-spread, spread) * scale;
    let scale = *r.pick(&[1.0, 0.01, 0.0001]);
    let lat = lat0 + r.uniform(-spread, spread) * scale;
    (lon.clamp(-180.0, 180.0), lat.clamp(-85.05112878, 85.05112878))
}

/// A coordinate as a client might send it: shortest text, or rounded (unless rounding would
/// leave Redis's limits, as 85.05112878 to 6 places does).
fn coord(r: &mut Rng, v: f64) -> String {
    let s = match r.below(3) {
        0 => format!("{v}"),
        1 => format!("{v:.6}"),
        _ => format!("{v:.2}"),
    };
    let back: f64 = s.parse().unwrap();
    if back.abs() > v.abs() && (back.abs() > 180.0 || (v.abs() <= 85.05112878 && back.abs() > 85.05112878)) {
        return format!("{v}");
    }
    s
}

/// Fills `g0`, `g1`, ... with points of each region (and 20 members at one spot in each);
/// returns each region's points (as sent).
fn fill(p: &mut Pair, r: &mut Rng, sizes: &[usize]) -> Vec<Vec<(f64, f64)>> {
    let mut all = Vec::new();
    for (i, &region) in REGIONS.iter().enumerate() {
        let n = *r.pick(sizes);
        let mut w: Vec<String> = vec!["GEOADD".into(), format!("g{i}")];
        let mut points = Vec::with_capacity(n);
        for m in 0..n {
            let (lon, lat) = point(r, region);
            let (x, y) = (coord(r, lon), coord(r, lat));
            points.push((x.parse().unwrap(), y.parse().unwrap()));
            w.extend([x, y, format!("m{m}")]);
        }
        let (lon, lat) = point(r, region);
        let (lon, lat) = (coord(r, lon), coord(r, lat));
        for d in 0..20 {
            w.extend([lon.clone(), lat.clone(), format!("d{d}")]);
        }
        check_words(p, &w);
        all.push(points);
    }
    all
}

const UNITS: &[(&str, f64)] =
    &[("m", 1.0), ("km", 1000.0), ("ft", 0.3048), ("mi", 1609.34), ("KM", 1000.0), ("M", 1.0)];

/// A random search of `g<i>` (GEOSEARCH form), as words after the key: from a member, from a
/// point near a member (at about the search's size, so members fall on both sides of the
/// edge), or from anywhere in the region.
fn search_words(r: &mut Rng, region: usize, points: &[(f64, f64)]) -> Vec<String> {
    let mut w: Vec<String> = Vec::new();
    let (unit, scale) = *r.pick(UNITS);
    let size = 10f64.powf(r.uniform(0.0, 7.3)) / scale;
    let near = r.below(10);
    if near < 3 {
        w.extend(["FROMMEMBER".into(), format!("m{}", r.below(60))]);
    } else if near < 7 && !points.is_empty() {
        let (lon, lat) = points[r.below(points.len() as u64) as usize];
        let degrees = size * scale / 111_000.0;
        let lon = (lon + r.uniform(-degrees, degrees)).clamp(-180.0, 180.0);
        let lat = (lat + r.uniform(-degrees, degrees)).clamp(-85.05112878, 85.05112878);
        w.extend(["FROMLONLAT".into(), coord(r, lon), coord(r, lat)]);
    } else {
        let (lon, lat) = point(r, REGIONS[region]);
        w.extend(["FROMLONLAT".into(), coord(r, lon), coord(r, lat)]);
    }
    if r.chance(50) {
        w.extend(["BYRADIUS".into(), coord(r, size), unit.into()]);
    } else {
        let (wd, ht) = (size * r.uniform(0.2, 2.0), size * r.uniform(0.2, 2.0));
        w.extend(["BYBOX".into(), coord(r, wd), coord(r, ht), unit.into()]);
    }
    if r.chance(50) {
        w.push(r.pick(&["ASC", "DESC"]).to_string());
    }
    if r.chance(40) {
        w.extend(["COUNT".into(), r.pick(&[1, 2, 3, 5, 10, 30, 100, 1000]).to_string()]);
        if r.chance(30) {
            w.push("ANY".into());
        }
    }
    w
}

fn random_searches(seed: u64, regions: &[usize], searches: usize) {
    let mut p = Pair::new();
    let mut r = Rng::new(seed);
    let points = fill(&mut p, &mut r, &[50, 300, 2000]);
    let mut nonempty = 0;
    for _ in 0..searches {
        let region = *r.pick(regions);
        let key = format!("g{region}");
        let mut w = vec!["GEOSEARCH".to_string(), key.clone()];
        w.extend(search_words(&mut r, region, &points[region]));
        for opt in ["WITHDIST", "WITHCOORD", "WITHHASH"] {
            if r.chance(40) {
                w.push(opt.into());
            }
        }
        let got = check_words(&mut p, &w);
        if std::env::var("GEO_DEBUG").is_ok() {
            eprintln!("{} => {}", w.join(" "), text(&got[..got.len().min(60)]));
        }
        if got.len() > 4 {
            nonempty += 1;
        }
        // The same search through the older commands, when it has their shape.
        if r.chance(15) && w[2] == "FROMLONLAT" && w[5] == "BYRADIUS" {
            let mut old = vec!["GEORADIUS".to_string(), key.clone(), w[3].clone(), w[4].clone(), w[6].clone()];
            old.push(w[7].clone());
            old.extend(w[8..].iter().cloned());
            check_words(&mut p, &old);
        }
        if r.chance(10) {
            let mut st = vec!["GEOSEARCHSTORE".to_string(), "dst".into(), key.clone()];
            st.extend(w[2..].iter().filter(|x| !x.starts_with("WITH")).cloned());
            let dist = r.chance(50);
            if dist {
                st.push("STOREDIST".into());
            }
            check_words(&mut p, &st);
            same_scores(&mut p, "dst");
        }
    }
    // Not a vacuous comparison: most searches find members.
    assert!(nonempty > searches / 2, "{nonempty} of {searches} searches found members");
    if std::env::var("GEO_DEBUG").is_ok() {
        eprintln!("{nonempty} of {searches} searches found members");
    }
    for _ in 0..searches / 5 {
        let key = format!("g{}", r.pick(regions));
        let m = |r: &mut Rng| format!("{}{}", r.pick(&["m", "m", "d", "x"]), r.below(60));
        let (m1, m2, m3) = (m(&mut r), m(&mut r), m(&mut r));
        let unit = r.pick(UNITS).0;
        p.check(&format!("GEODIST {key} {m1} {m2} {unit}"));
        p.check(&format!("GEOPOS {key} {m1} {m2} {m3}"));
        p.check(&format!("GEOHASH {key} {m1} {m2} {m3}"));
    }
}

/// Compares a sorted set on both servers: members in order, scores as numbers (7.0 prints
/// non-integers with `%.17g`, 7.2 the shortest text that reads back the same).
fn same_scores(p: &mut Pair, key: &str) {
    let line = format!("ZRANGE {key} 0 -1 WITHSCORES");
    let (x, y) = p.both(&line);
    let (x, y) = (reply_items(&x), reply_items(&y));
    assert_eq!(x.len(), y.len(), "{line}");
    for (i, (a, b)) in x.iter().zip(&y).enumerate() {
        if i % 2 == 0 {
            assert_eq!(text(a), text(b), "{line}: member {i}");
        } else {
            let (fa, fb): (f64, f64) = (text(a).parse().unwrap(), text(b).parse().unwrap());
            assert_eq!(fa.to_bits(), fb.to_bits(), "{line}: score of {} ({} vs {})", text(&x[i - 1]), text(a), text(b));
        }
    }
}

#[test]
fn random_searches_equator_and_antimeridian() {
    random_searches(1, &[0, 1, 2, 9], 1500);
}

#[test]
fn random_searches_near_the_poles() {
    random_searches(2, &[3, 4, 5, 6], 1500);
}

#[test]
fn random_searches_high_latitudes_and_mixed() {
    random_searches(3, &[7, 8, 9, 0], 1500);
}

#[test]
fn stores_match_zrange() {
    let mut p = Pair::new();
    let mut r = Rng::new(11);
    let points = fill(&mut p, &mut r, &[100, 1000]);
    for i in 0..150 {
        let region = r.below(REGIONS.len() as u64) as usize;
        let key = format!("g{region}");
        let words = search_words(&mut r, region, &points[region]);
        let dst = format!("dst{}", i % 3);
        let dist = r.chance(50);
        // GEOSEARCHSTORE, and GEORADIUS / GEORADIUSBYMEMBER with STORE or STOREDIST.
        let mut st = vec!["GEOSEARCHSTORE".to_string(), dst.clone(), key.clone()];
        st.extend(words.iter().cloned());
        if dist {
            st.push("STOREDIST".into());
        }
        check_words(&mut p, &st);
        same_scores(&mut p, &dst);
        p.check(&format!("OBJECT ENCODING {dst}"));
        if words[0] == "FROMLONLAT" && words[3] == "BYRADIUS" {
            let mut old = vec!["GEORADIUS".to_string(), key.clone(), words[1].clone(), words[2].clone()];
            old.extend(words[4..6].iter().cloned());
            old.extend(words[6..].iter().cloned());
            old.extend([if dist { "STOREDIST" } else { "STORE" }.to_string(), dst.clone()]);
            check_words(&mut p, &old);
            same_scores(&mut p, &dst);
        }
        if words[0] == "FROMMEMBER" && words[2] == "BYRADIUS" {
            let mut old = vec!["GEORADIUSBYMEMBER".to_string(), key.clone(), words[1].clone()];
            old.extend(words[3..].iter().cloned());
            old.extend([if dist { "STOREDIST" } else { "STORE" }.to_string(), dst.clone()]);
            check_words(&mut p, &old);
            same_scores(&mut p, &dst);
        }
    }
    // Encodings of stores follow their contents and the thresholds.
    p.check_all(&[
        "CONFIG SET zset-max-listpack-entries 5",
        "GEOSEARCHSTORE e g9 FROMLONLAT 0 0 BYRADIUS 20000 km COUNT 5",
    ]);
    p.check_all(&[
        "OBJECT ENCODING e",
        "GEOSEARCHSTORE e g9 FROMLONLAT 0 0 BYRADIUS 20000 km COUNT 6",
        "OBJECT ENCODING e",
    ]);
    p.check_all(&["GEOADD e 1 1 new", "OBJECT ENCODING e", "CONFIG SET zset-max-listpack-entries 128"]);
}

#[test]
fn equal_distances_in_redis_order() {
    let mut p = Pair::new();
    // 60 members at the centre, 20 at another point, 5 farther: ties everywhere.
    let mut w: Vec<String> = vec!["GEOADD".into(), "t".into()];
    for i in 0..60 {
        w.extend(["10".into(), "10".into(), format!("m{i:02}")]);
    }
    for i in 0..20 {
        w.extend(["10.001".into(), "10".into(), format!("n{i:02}")]);
    }
    for i in 0..5 {
        w.extend(["10.01".into(), "10".into(), format!("o{i}")]);
    }
    check_words(&mut p, &w);
    for order in ["", "ASC", "DESC"] {
        for count in ["", "COUNT 1", "COUNT 7", "COUNT 10", "COUNT 41", "COUNT 70", "COUNT 84", "COUNT 85", "COUNT 200"]
        {
            for any in ["", "ANY"] {
                if any == "ANY" && count.is_empty() {
                    continue;
                }
                p.check(&format!("GEOSEARCH t FROMLONLAT 10 10 BYRADIUS 10 km {order} {count} {any} WITHDIST"));
                p.check(&format!("GEORADIUS t 10.001 10 10 km {order} {count} {any}"));
            }
        }
    }
    // Symmetric points: equal distances from different cells.
    p.check("GEOADD sym 9.99 10 w 10.01 10 e 10 10.01 n 10 9.99 s");
    for order in ["ASC", "DESC"] {
        for count in ["COUNT 1", "COUNT 2", "COUNT 3", ""] {
            p.check(&format!("GEOSEARCH sym FROMLONLAT 10 10 BYBOX 10 10 km {order} {count} WITHDIST"));
        }
    }
}

#[test]
fn hostile_inputs_never_panic() {
    let mut p = Pair::new();
    p.check("GEOADD g 0 0 o 179.999 85 a -179.999 -85 b 90 0 c -90 45 d");
    for line in [
        "GEOSEARCH g FROMLONLAT 0 0 BYRADIUS 1e308 m ASC",
        "GEOSEARCH g FROMLONLAT 0 0 BYRADIUS 1e308 mi",
        "GEOSEARCH g FROMLONLAT 0 0 BYRADIUS inf km WITHDIST",
        "GEOSEARCH g FROMLONLAT 0 0 BYRADIUS 0 m WITHDIST",
        "GEOSEARCH g FROMLONLAT 0 0 BYRADIUS 5e-324 m WITHDIST",
        "GEOSEARCH g FROMLONLAT 0 0 BYBOX 1e308 1e308 ft WITHDIST",
        "GEOSEARCH g FROMLONLAT 0 0 BYBOX inf 1 m",
        "GEOSEARCH g FROMLONLAT 0 0 BYBOX 1 inf m",
        "GEOSEARCH g FROMLONLAT 0 0 BYBOX 0 0 m",
        "GEOSEARCH g FROMLONLAT 180 85.05112878 BYRADIUS 100 km",
        "GEOSEARCH g FROMLONLAT -180 -85.05112878 BYBOX 100 100 km",
        "GEOSEARCH g FROMMEMBER a BYRADIUS 20000 km DESC WITHDIST",
        "GEOSEARCH g FROMMEMBER b BYBOX 40000 40000 km COUNT 2",
        "GEOSEARCH g FROMLONLAT 0 0 BYRADIUS 1 km COUNT 0",
        "GEOSEARCH g FROMLONLAT 0 0 BYRADIUS 1 km COUNT -5",
        "GEOSEARCH g FROMLONLAT 0 0 BYRADIUS 1 km COUNT 99999999999999999999",
        "GEORADIUS g 0 0 1e308 km COUNT 9223372036854775807 ANY",
        "GEORADIUS g 0 0 nan km",
        "GEORADIUS g nan 0 1 km",
        "GEORADIUS g 0 0 -inf km",
        "GEODIST g o a ft",
        "GEOADD g 0 0",
    ] {
        p.check(line);
    }
    // Near-antipodal members: the haversine's argument can round above 1.
    let mut r = Rng::new(5);
    let mut w: Vec<String> = vec!["GEOADD".into(), "anti".into()];
    for i in 0..300 {
        w.extend([format!("{}", r.uniform(-179.0, 179.0)), format!("{}", r.uniform(-80.0, 80.0)), format!("a{i}")]);
    }
    check_words(&mut p, &w);
    for i in 0..60 {
        let pos = p.a.run(&format!("GEOPOS anti a{i}"));
        let items = reply_items(&pos);
        let lon: f64 = text(&items[0]).parse().unwrap();
        let lat: f64 = text(&items[1]).parse().unwrap();
        let (clon, clat) = (if lon > 0.0 { lon - 180.0 } else { lon + 180.0 }, -lat);
        for radius in ["20015 km", "21000 km", "19000 km"] {
            p.check(&format!("GEOSEARCH anti FROMLONLAT {clon} {clat} BYRADIUS {radius} DESC COUNT 3 WITHDIST"));
        }
    }
}

/// A subscriber to every keyevent of database 0 on each server.
fn subscribers(p: &Pair) -> (Conn, Conn) {
    let (mut a, mut b) = p.conns();
    for c in [&mut a, &mut b] {
        c.run("PSUBSCRIBE __keyevent@0__:*");
    }
    (a, b)
}

fn events(c: &mut Conn) -> Vec<String> {
    let mut v = Vec::new();
    while let Some(f) = c.try_read_reply(Duration::from_millis(200)) {
        v.push(text(&f));
    }
    v
}

#[test]
fn notifications_transactions_and_blocked_clients() {
    let mut p = Pair::new();
    p.check("CONFIG SET notify-keyspace-events KEA");
    let (mut sa, mut sb) = subscribers(&p);
    p.check_all(&[
        "GEOADD g 13.361389 38.115556 Palermo 15.087269 37.502669 Catania",
        "GEOADD g XX 1 1 nosuch",
        "GEOADD g NX 13.361389 38.115556 Palermo",
        "GEOADD g 13.361389 38.115556 Palermo",
        "GEOADD g 13.4 38.1 Palermo",
        "GEORADIUS g 15 37 200 km",
        "GEORADIUS g 15 37 200 km STORE dst",
        "GEORADIUS g 15 37 200 km STOREDIST dst2",
        "GEORADIUSBYMEMBER g Palermo 200 km STORE dst3",
        "GEOSEARCHSTORE dst4 g FROMLONLAT 15 37 BYRADIUS 200 km",
        "GEOSEARCHSTORE dst4 g FROMLONLAT 100 37 BYRADIUS 200 km",
        "GEOSEARCHSTORE dst4 g FROMLONLAT 100 37 BYRADIUS 200 km",
        "GEOSEARCHSTORE dst nokey FROMLONLAT 100 37 BYRADIUS 200 km",
        "GEOSEARCH nokey FROMLONLAT 100 37 BYRADIUS 200 km",
        "GEOPOS nokey a",
        "MULTI",
        "GEOADD g 1 1 a",
        "GEOSEARCHSTORE dst5 g FROMMEMBER a BYRADIUS 10 km",
        "GEODIST g a Palermo",
        "EXEC",
    ]);
    assert_eq!(events(&mut sa), events(&mut sb), "keyspace events (left: redstart)");
    // GEOADD serves a client blocked on the key, as ZADD.
    let (mut wa, mut wb) = p.conns();
    send(&mut wa, "BZPOPMIN bz 0");
    send(&mut wb, "BZPOPMIN bz 0");
    settle();
    p.check("GEOADD bz 1 1 m");
    assert_eq!(text(&wa.read_reply()), text(&wb.read_reply()));
    p.check("EXISTS bz");
    // Hits and misses: geo reads count like ZSCORE, GEOADD like ZADD.
    p.check("CONFIG RESETSTAT");
    p.check_all(&[
        "GEOPOS g a nosuch",
        "GEOPOS nokey a",
        "GEODIST nokey a b",
        "GEOHASH g a",
        "GEOSEARCH g FROMMEMBER a BYRADIUS 1 km",
        "GEOSEARCHSTORE d g FROMMEMBER a BYRADIUS 1 km",
        "GEORADIUS nokey 0 0 1 km STORE d",
        "GEOADD newkey 1 1 a",
        "GEOADD g 1 1 a",
    ]);
    let stats = |c: &mut Conn| {
        let info = text(&c.run("INFO stats"));
        info.lines().filter(|l| l.starts_with("keyspace_")).map(str::to_string).collect::<Vec<_>>()
    };
    assert_eq!(stats(&mut p.a), stats(&mut p.b));
}
