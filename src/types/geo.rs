//! Geospatial indexing as Redis does it: the 52-bit interleaved geohash that a geo set stores as
//! a member's score, decoding it back to a cell centre, the haversine distance, and the search
//! that turns a circle or a box into the sorted-set score ranges to scan. Pure arithmetic: no
//! command knowledge (the GEO* commands are `cmd::geo`).
//!
//! Every formula follows Redis's documented algorithm and, where results are printed, Redis's
//! exact sequence of floating-point operations (they decide which members fall just inside or
//! outside a radius, and the last digit of a printed coordinate):
//!
//! - **Cells.** A cell at step `s` (1..=26) holds `s` bits of longitude over [-180, 180] and `s`
//!   bits of latitude over Redis's Mercator limits [[`LAT_MIN`], [`LAT_MAX`]], interleaved:
//!   latitude in the even bits, longitude in the odd bits (so the longitude bit comes first,
//!   as in the standard geohash). Encoding scales `(x - min) / (max - min)` by `2^s` and
//!   truncates: a coordinate equal to the maximum gives `2^s`, one bit beyond the field (a
//!   member at longitude 180 has a score of 2^53 + ...), which Redis keeps.
//! - **Scores.** A member's score is its step-26 cell shifted to 52 bits. Decoding converts the
//!   score to an unsigned 64-bit integer the way x86-64 C code does (`(uint64_t)score`, see
//!   [`score_bits`]), so scores no GEOADD wrote (negative, fractional, huge, infinite) decode
//!   to the same clamped positions as in Redis. The position is the centre of the cell,
//!   clamped to the valid ranges.
//! - **Distance.** Haversine with Redis's earth radius [`EARTH_RADIUS_M`]; when the sines of
//!   the longitude difference is 0 the distance is the latitude difference times the radius
//!   (Redis's shortcut, which gives different last bits).
//! - **Search** ([`Search::areas`]): the bounding box of the shape, the step estimated from the
//!   radius (the box's half-diagonal) and the centre's latitude, the centre's cell and its 8
//!   neighbours (wrapping around in both directions), one step coarser when a neighbour does
//!   not reach the bounding box, and the neighbours beyond the box dropped; then the score
//!   range of each remaining cell in Redis's order (centre, N, S, E, W, NE, NW, SE, SW),
//!   skipping a cell equal to the last one scanned. A member is in the result when its
//!   decoded position passes [`Search::contains`].
//! - **Order** ([`sort_full`], [`sort_partial`]): results are sorted by distance with the
//!   algorithms Redis's C library and Redis use — a stable top-down merge sort (glibc's
//!   `qsort`) when every result is returned, and Bentley and McIlroy's partial quicksort
//!   (`pqsort`) when COUNT keeps fewer — so members at equal distances come in Redis's order.

use std::cmp::Ordering;

/// The finest step: 26 bits per coordinate, 52 bits in all.
pub const STEP_MAX: u8 = 26;
pub const LON_MIN: f64 = -180.0;
pub const LON_MAX: f64 = 180.0;
/// Redis's latitude limits (where Web Mercator is square).
pub const LAT_MIN: f64 = -85.05112878;
pub const LAT_MAX: f64 = 85.05112878;
/// Redis's earth radius, in metres.
pub const EARTH_RADIUS_M: f64 = 6372797.560856;
/// Half the Mercator world's width in metres (the step estimate's starting scale).
pub const MERCATOR_MAX: f64 = 20037726.37;

const D_R: f64 = std::f64::consts::PI / 180.0;

#[inline]
fn deg_rad(deg: f64) -> f64 {
    deg * D_R
}

#[inline]
fn rad_deg(rad: f64) -> f64 {
    rad / D_R
}

/// An interval of one coordinate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Range {
    pub min: f64,
    pub max: f64,
}

/// The longitude range of every geohash.
pub const LON_RANGE: Range = Range { min: LON_MIN, max: LON_MAX };
/// The latitude range Redis indexes with.
pub const LAT_RANGE: Range = Range { min: LAT_MIN, max: LAT_MAX };
/// The standard geohash latitude range (GEOHASH's strings).
pub const STD_LAT_RANGE: Range = Range { min: -90.0, max: 90.0 };

/// A geohash cell: `step` bits of each coordinate, interleaved in `bits`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cell {
    pub bits: u64,
    pub step: u8,
}

/// The area a cell covers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Area {
    pub lon: Range,
    pub lat: Range,
}

/// Spreads the 32 bits of `v` to the even bits of a 64-bit word.
#[inline]
fn spread(v: u32) -> u64 {
    let mut x = v as u64;
    x = (x | (x << 16)) & 0x0000_FFFF_0000_FFFF;
    x = (x | (x << 8)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x << 4)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x << 2)) & 0x3333_3333_3333_3333;
    x = (x | (x << 1)) & 0x5555_5555_5555_5555;
    x
}

/// Gathers the even bits of `x` into 32 bits (the inverse of [`spread`]).
#[inline]
fn gather(x: u64) -> u32 {
    let mut x = x & 0x5555_5555_5555_5555;
    x = (x | (x >> 1)) & 0x3333_3333_3333_3333;
    x = (x | (x >> 2)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x >> 4)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x >> 8)) & 0x0000_FFFF_0000_FFFF;
    x = (x | (x >> 16)) & 0x0000_0000_FFFF_FFFF;
    x as u32
}

/// Interleaves a latitude field (even bits) and a longitude field (odd bits).
#[inline]
pub fn interleave(lat: u32, lon: u32) -> u64 {
    spread(lat) | (spread(lon) << 1)
}

/// The (latitude, longitude) fields of interleaved bits.
#[inline]
pub fn deinterleave(bits: u64) -> (u32, u32) {
    (gather(bits), gather(bits >> 1))
}

/// x86-64's `cvttsd2si`: truncation toward zero, `i64::MIN` for NaN and out-of-range values.
#[inline]
fn cvttsd2si(x: f64) -> i64 {
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    if x.is_nan() || !(-TWO_63..TWO_63).contains(&x) {
        i64::MIN
    } else {
        x as i64
    }
}

/// `(long long)score` as compiled C code computes it on x86-64 (WITHHASH's integer).
#[inline]
pub fn score_as_i64(score: f64) -> i64 {
    cvttsd2si(score)
}

/// `(uint64_t)score` as compiled C code computes it on x86-64: below 2^63 a signed truncation
/// (so -1 is all ones and -inf or -1e30 is 2^63), from 2^63 a truncation of `score - 2^63` with
/// the top bit flipped (so 2^64 and beyond, and +inf, are 0).
#[inline]
pub fn score_bits(score: f64) -> u64 {
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    if score >= TWO_63 {
        (cvttsd2si(score - TWO_63) as u64) ^ (1 << 63)
    } else {
        cvttsd2si(score) as u64
    }
}

/// `(uint32_t)x` of a non-negative scaled coordinate (in range for every valid input).
#[inline]
fn to_u32(x: f64) -> u32 {
    cvttsd2si(x) as u32
}

/// The cell of `step` holding (`lon`, `lat`) in the given ranges; `None` outside them (or
/// outside Redis's limits, whatever the ranges).
pub fn encode(lon_range: Range, lat_range: Range, lon: f64, lat: f64, step: u8) -> Option<Cell> {
    if step == 0 || step > 32 {
        return None;
    }
    if !valid(lon, lat) {
        return None;
    }
    if lat < lat_range.min || lat > lat_range.max || lon < lon_range.min || lon > lon_range.max {
        return None;
    }
    let scale = (1u64 << step) as f64;
    let lat_offset = (lat - lat_range.min) / (lat_range.max - lat_range.min) * scale;
    let lon_offset = (lon - lon_range.min) / (lon_range.max - lon_range.min) * scale;
    Some(Cell { bits: interleave(to_u32(lat_offset), to_u32(lon_offset)), step })
}

/// [`encode`] in Redis's ranges.
pub fn encode_wgs84(lon: f64, lat: f64, step: u8) -> Option<Cell> {
    encode(LON_RANGE, LAT_RANGE, lon, lat, step)
}

/// The area of `cell` in the given ranges.
pub fn decode(lon_range: Range, lat_range: Range, cell: Cell) -> Area {
    let (ilat, ilon) = deinterleave(cell.bits);
    let cells = (1u64 << cell.step) as f64;
    let lat_scale = lat_range.max - lat_range.min;
    let lon_scale = lon_range.max - lon_range.min;
    // The field plus one wraps at 32 bits, as Redis's `uint32_t` sum.
    let edge = |i: u32, min: f64, scale: f64| min + (i as f64 * 1.0 / cells) * scale;
    Area {
        lat: Range {
            min: edge(ilat, lat_range.min, lat_scale),
            max: edge(ilat.wrapping_add(1), lat_range.min, lat_scale),
        },
        lon: Range {
            min: edge(ilon, lon_range.min, lon_scale),
            max: edge(ilon.wrapping_add(1), lon_range.min, lon_scale),
        },
    }
}

/// The centre of `area`, clamped to the valid longitudes and Redis's latitude limits.
pub fn centre(area: &Area) -> (f64, f64) {
    let lon = ((area.lon.min + area.lon.max) / 2.0).clamp(LON_MIN, LON_MAX);
    let lat = ((area.lat.min + area.lat.max) / 2.0).clamp(LAT_MIN, LAT_MAX);
    (lon, lat)
}

/// A step-26 cell's bits as a 52-bit score.
#[inline]
pub fn align52(cell: Cell) -> u64 {
    cell.bits << (52 - 2 * cell.step as u32)
}

/// The score GEOADD stores for (`lon`, `lat`); `None` outside Redis's limits.
pub fn score_of(lon: f64, lat: f64) -> Option<u64> {
    encode_wgs84(lon, lat, STEP_MAX).map(align52)
}

/// The (longitude, latitude) a score stands for: the centre of its step-26 cell.
pub fn position(score: f64) -> (f64, f64) {
    let cell = Cell { bits: score_bits(score), step: STEP_MAX };
    centre(&decode(LON_RANGE, LAT_RANGE, cell))
}

/// Whether (`lon`, `lat`) may be indexed (NaN may not; it never gets this far in Redis, whose
/// argument parser rejects it).
pub fn valid(lon: f64, lat: f64) -> bool {
    (LON_MIN..=LON_MAX).contains(&lon) && (LAT_MIN..=LAT_MAX).contains(&lat)
}

const BASE32: &[u8; 32] = b"0123456789bcdefghjkmnpqrstuvwxyz";

/// The standard 11-character geohash of the position a score stands for: re-encoded over the
/// standard [-90, 90] latitudes (Redis's cells use its Mercator limits), 52 bits and a final
/// character for zero bits.
pub fn geohash_string(score: f64) -> [u8; 11] {
    let (lon, lat) = position(score);
    let bits = encode(LON_RANGE, STD_LAT_RANGE, lon, lat, STEP_MAX).map_or(0, |c| c.bits);
    let mut out = [BASE32[0]; 11];
    for (i, c) in out.iter_mut().take(10).enumerate() {
        *c = BASE32[((bits >> (52 - (i + 1) * 5)) & 0x1f) as usize];
    }
    out
}

/// `cell` moved by one cell in longitude (`dlon`) and latitude (`dlat`), each wrapping around
/// within the step's grid; a field moved is reduced to the step's bits, the other kept whole.
pub fn moved(cell: Cell, dlon: i8, dlat: i8) -> Cell {
    let (mut lat, mut lon) = deinterleave(cell.bits);
    let mask = if cell.step >= 32 { u32::MAX } else { (1u32 << cell.step) - 1 };
    let step = |v: u32, d: i8| match d.cmp(&0) {
        Ordering::Greater => v.wrapping_add(1) & mask,
        Ordering::Less => v.wrapping_sub(1) & mask,
        Ordering::Equal => v,
    };
    lon = step(lon, dlon);
    lat = step(lat, dlat);
    Cell { bits: interleave(lat, lon), step: cell.step }
}

/// Redis's order of a cell's neighbours: north, south, east, west, north-east, north-west,
/// south-east, south-west, as (longitude, latitude) moves.
pub const NEIGHBOURS: [(i8, i8); 8] = [(0, 1), (0, -1), (1, 0), (-1, 0), (1, 1), (-1, 1), (1, -1), (-1, -1)];

/// Great-circle distance in metres between two points (haversine, Redis's radius), with
/// Redis's shortcut when the longitudes' half-difference has a zero sine.
pub fn distance(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    let lon1r = deg_rad(lon1);
    let lon2r = deg_rad(lon2);
    let v = ((lon2r - lon1r) / 2.0).sin();
    if v == 0.0 {
        return lat_distance(lat1, lat2);
    }
    let lat1r = deg_rad(lat1);
    let lat2r = deg_rad(lat2);
    let u = ((lat2r - lat1r) / 2.0).sin();
    let a = u * u + lat1r.cos() * lat2r.cos() * v * v;
    2.0 * EARTH_RADIUS_M * a.sqrt().asin()
}

/// The distance in metres along a meridian between two latitudes.
pub fn lat_distance(lat1: f64, lat2: f64) -> f64 {
    EARTH_RADIUS_M * (deg_rad(lat2) - deg_rad(lat1)).abs()
}

/// The step whose cells are about the size of a `range_m` search at latitude `lat`.
pub fn estimate_steps(range_m: f64, lat: f64) -> u8 {
    if range_m == 0.0 {
        return STEP_MAX;
    }
    let mut range = range_m;
    let mut step: i32 = 1;
    while range < MERCATOR_MAX {
        range *= 2.0;
        step += 1;
    }
    // Two steps coarser, so that the nine cells cover the range in most cases.
    step -= 2;
    // Cells narrow towards the poles.
    if !(-66.0..=66.0).contains(&lat) {
        step -= 1;
        if !(-80.0..=80.0).contains(&lat) {
            step -= 1;
        }
    }
    step.clamp(1, STEP_MAX as i32) as u8
}

/// A search shape.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Shape {
    /// BYRADIUS: a radius in the unit.
    Radius(f64),
    /// BYBOX: width and height in the unit.
    Box(f64, f64),
}

/// A search: a shape around a centre, its sizes in the unit `conversion` metres.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Search {
    pub lon: f64,
    pub lat: f64,
    /// Metres per unit.
    pub conversion: f64,
    pub shape: Shape,
}

/// The cells a search scans: the centre's cell, its neighbours (`None`: dropped), and the
/// centre cell's area.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Areas {
    pub cell: Cell,
    /// In [`NEIGHBOURS`] order.
    pub neighbours: [Option<Cell>; 8],
    pub area: Area,
}

impl Search {
    /// The bounding box in degrees: (min lon, min lat, max lon, max lat). The longitude span
    /// is taken at the box's edge nearer the pole.
    pub fn bounds(&self) -> [f64; 4] {
        let (h, w) = match self.shape {
            Shape::Radius(r) => (r, r),
            Shape::Box(w, h) => (h / 2.0, w / 2.0),
        };
        let height = self.conversion * h;
        let width = self.conversion * w;
        let lat_delta = rad_deg(height / EARTH_RADIUS_M);
        let lon_delta_top = rad_deg(width / EARTH_RADIUS_M / deg_rad(self.lat + lat_delta).cos());
        let lon_delta_bottom = rad_deg(width / EARTH_RADIUS_M / deg_rad(self.lat - lat_delta).cos());
        let lon_delta = if self.lat < 0.0 { lon_delta_bottom } else { lon_delta_top };
        [self.lon - lon_delta, self.lat - lat_delta, self.lon + lon_delta, self.lat + lat_delta]
    }

    /// The radius the step is estimated from, in metres (a box's half-diagonal).
    fn radius_m(&self) -> f64 {
        let r = match self.shape {
            Shape::Radius(r) => r,
            Shape::Box(w, h) => ((w / 2.0) * (w / 2.0) + (h / 2.0) * (h / 2.0)).sqrt(),
        };
        r * self.conversion
    }

    /// The cells to scan (see the module comment).
    pub fn areas(&self) -> Areas {
        let [min_lon, min_lat, max_lon, max_lat] = self.bounds();
        let mut steps = estimate_steps(self.radius_m(), self.lat);
        let at = |steps: u8| {
            // The centre is valid (checked by the caller, or a decoded member).
            let cell = encode_wgs84(self.lon, self.lat, steps).unwrap_or(Cell { bits: 0, step: steps });
            (cell, NEIGHBOURS.map(|(x, y)| moved(cell, x, y)))
        };
        let (mut cell, mut neighbours) = at(steps);
        // One step coarser when a side neighbour does not reach the bounding box.
        let side = |i: usize| decode(LON_RANGE, LAT_RANGE, neighbours[i]);
        let (north, south, east, west) = (side(0), side(1), side(2), side(3));
        let short =
            north.lat.max < max_lat || south.lat.min > min_lat || east.lon.max < max_lon || west.lon.min > min_lon;
        if steps > 1 && short {
            steps -= 1;
            (cell, neighbours) = at(steps);
        }
        let area = decode(LON_RANGE, LAT_RANGE, cell);
        let mut kept: [Option<Cell>; 8] = neighbours.map(Some);
        if steps >= 2 {
            let mut drop = |dirs: [usize; 3]| dirs.iter().for_each(|&i| kept[i] = None);
            if area.lat.min < min_lat {
                drop([1, 7, 6]); // south, south-west, south-east
            }
            if area.lat.max > max_lat {
                drop([0, 4, 5]); // north, north-east, north-west
            }
            if area.lon.min < min_lon {
                drop([3, 7, 5]); // west, south-west, north-west
            }
            if area.lon.max > max_lon {
                drop([2, 6, 4]); // east, south-east, north-east
            }
        }
        Areas { cell, neighbours: kept, area }
    }

    /// The score ranges `[min, max)` to scan, in Redis's order: the centre cell and the kept
    /// neighbours, skipping a cell equal to the last one scanned (small steps wrap around).
    pub fn score_ranges(&self) -> Vec<(u64, u64)> {
        let areas = self.areas();
        let mut out = Vec::with_capacity(9);
        let mut last: Option<Cell> = None;
        for cell in std::iter::once(Some(areas.cell)).chain(areas.neighbours).flatten() {
            if last == Some(cell) {
                continue;
            }
            let min = align52(cell);
            let max = align52(Cell { bits: cell.bits.wrapping_add(1), step: cell.step });
            out.push((min, max));
            last = Some(cell);
        }
        out
    }

    /// Whether the member at `score` is inside the shape: its position and distance from the
    /// centre in metres when it is.
    pub fn contains(&self, score: f64) -> Option<(f64, f64, f64)> {
        let (lon, lat) = position(score);
        match self.shape {
            Shape::Radius(r) => {
                let d = distance(self.lon, self.lat, lon, lat);
                if d > r * self.conversion {
                    return None;
                }
                Some((lon, lat, d))
            }
            Shape::Box(w, h) => {
                let (width_m, height_m) = (w * self.conversion, h * self.conversion);
                if lat_distance(lat, self.lat) > height_m / 2.0 {
                    return None;
                }
                if distance(lon, lat, self.lon, lat) > width_m / 2.0 {
                    return None;
                }
                Some((lon, lat, distance(self.lon, self.lat, lon, lat)))
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Ordering results as Redis does
// ---------------------------------------------------------------------------------------------

/// Redis's distance comparator: 1 when `a` is farther, 0 when equal, -1 otherwise (also when
/// either is NaN), negated for descending order.
#[inline]
pub fn compare_distances(a: f64, b: f64, desc: bool) -> i32 {
    let c = if a > b {
        1
    } else if a == b {
        0
    } else {
        -1
    };
    if desc {
        -c
    } else {
        c
    }
}

/// Sorts `v` as glibc's `qsort` does (a top-down merge sort: halves of `n / 2` and the rest,
/// the left element first on a tie), with the C comparator `cmp`.
pub fn sort_full<T: Clone>(v: &mut [T], cmp: &impl Fn(&T, &T) -> i32) {
    if v.len() <= 1 {
        return;
    }
    let mut tmp = Vec::with_capacity(v.len());
    merge_sort(v, &mut tmp, cmp);
}

fn merge_sort<T: Clone>(v: &mut [T], tmp: &mut Vec<T>, cmp: &impl Fn(&T, &T) -> i32) {
    let n = v.len();
    if n <= 1 {
        return;
    }
    let n1 = n / 2;
    merge_sort(&mut v[..n1], tmp, cmp);
    merge_sort(&mut v[n1..], tmp, cmp);
    tmp.clear();
    let (mut i, mut j) = (0, n1);
    while i < n1 && j < n {
        if cmp(&v[i], &v[j]) <= 0 {
            tmp.push(v[i].clone());
            i += 1;
        } else {
            tmp.push(v[j].clone());
            j += 1;
        }
    }
    tmp.extend_from_slice(&v[i..n1]);
    // What is left of the right half is already in place.
    let done = tmp.len();
    v[..done].clone_from_slice(tmp);
}

/// Orders `v` so that its first `keep` elements are the smallest, in order, as Redis's
/// `pqsort` does (Bentley and McIlroy's quicksort: median of three, or Tukey's ninther above
/// 40 elements, three-way partitioning with the pivot's equals swapped to the ends, insertion
/// sort below 7 elements, and no descent into a part that lies wholly beyond the first `keep`;
/// the NetBSD variant Redis carries, without FreeBSD's switch to insertion sort after a
/// partition that moved nothing). Equal elements end up in that algorithm's order.
pub fn sort_partial<T>(v: &mut [T], keep: usize, cmp: &impl Fn(&T, &T) -> i32) {
    if keep == 0 || v.is_empty() {
        return;
    }
    partial_quicksort(v, 0, keep - 1, cmp);
}

fn median_of_three<T>(v: &[T], a: usize, b: usize, c: usize, cmp: &impl Fn(&T, &T) -> i32) -> usize {
    if cmp(&v[a], &v[b]) < 0 {
        if cmp(&v[b], &v[c]) < 0 {
            b
        } else if cmp(&v[a], &v[c]) < 0 {
            c
        } else {
            a
        }
    } else if cmp(&v[b], &v[c]) > 0 {
        b
    } else if cmp(&v[a], &v[c]) < 0 {
        a
    } else {
        c
    }
}

fn insertion_sort<T>(v: &mut [T], cmp: &impl Fn(&T, &T) -> i32) {
    for m in 1..v.len() {
        let mut l = m;
        while l > 0 && cmp(&v[l - 1], &v[l]) > 0 {
            v.swap(l, l - 1);
            l -= 1;
        }
    }
}

/// Swaps `v[a..a + n]` with `v[b..b + n]` element by element.
fn swap_runs<T>(v: &mut [T], a: usize, b: usize, n: usize) {
    for k in 0..n {
        v.swap(a + k, b + k);
    }
}

/// Sorts the part of `v` (which starts at `base` in the whole array) needed for the whole
/// array's positions up to `last` to be in order.
fn partial_quicksort<T>(mut v: &mut [T], mut base: usize, last: usize, cmp: &impl Fn(&T, &T) -> i32) {
    loop {
        let n = v.len();
        if n < 7 {
            insertion_sort(v, cmp);
            return;
        }
        let mut pm = n / 2;
        if n > 7 {
            let mut pl = 0;
            let mut pn = n - 1;
            if n > 40 {
                let d = n / 8;
                pl = median_of_three(v, pl, pl + d, pl + 2 * d, cmp);
                pm = median_of_three(v, pm - d, pm, pm + d, cmp);
                pn = median_of_three(v, pn - 2 * d, pn - d, pn, cmp);
            }
            pm = median_of_three(v, pl, pm, pn, cmp);
        }
        v.swap(0, pm);
        // v[0] is the pivot; equals gather at [1, pa) and (pd, n), smaller ones at [pa, pb),
        // larger ones at (pc, pd].
        let (mut pa, mut pb) = (1usize, 1usize);
        let (mut pc, mut pd) = (n as isize - 1, n as isize - 1);
        loop {
            while pb as isize <= pc {
                let r = cmp(&v[pb], &v[0]);
                if r > 0 {
                    break;
                }
                if r == 0 {
                    v.swap(pa, pb);
                    pa += 1;
                }
                pb += 1;
            }
            while pb as isize <= pc {
                let r = cmp(&v[pc as usize], &v[0]);
                if r < 0 {
                    break;
                }
                if r == 0 {
                    v.swap(pc as usize, pd as usize);
                    pd -= 1;
                }
                pc -= 1;
            }
            if pb as isize > pc {
                break;
            }
            v.swap(pb, pc as usize);
            pb += 1;
            pc -= 1;
        }
        let (pc, pd) = (pc as usize, pd as usize);
        let r = pa.min(pb - pa);
        swap_runs(v, 0, pb - r, r);
        let r = (pd - pc).min(n - pd - 1);
        swap_runs(v, pb, n - r, r);
        let left = pb - pa;
        if left > 1 && base <= last {
            partial_quicksort(&mut v[..left], base, last, cmp);
        }
        let right = pd - pc;
        if right <= 1 {
            return;
        }
        let start = n - right;
        if base + start > last {
            return;
        }
        v = &mut v[start..];
        base += start;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_match_redis() {
        // Scores redis-server 7.0 stores for these GEOADDs.
        assert_eq!(score_of(13.361389, 38.115556), Some(3479099956230698));
        assert_eq!(score_of(15.087269, 37.502669), Some(3479447370796909));
        // The maxima give a field one bit wider than the step.
        assert_eq!(score_of(180.0, 0.0), Some(10133099161583616));
        assert_eq!(score_of(-180.0, 0.0), Some(1125899906842624));
        assert_eq!(score_of(0.0, LAT_MAX), Some(6755399441055744));
        assert_eq!(score_of(0.0, LAT_MIN), Some(2251799813685248));
        assert_eq!(score_of(180.0, LAT_MAX), Some(13510798882111488));
        assert_eq!(score_of(180.000001, 0.0), None);
        assert_eq!(score_of(0.0, 85.06), None);
        assert_eq!(score_of(f64::NAN, 0.0), None);
    }

    #[test]
    fn positions_are_cell_centres() {
        let (lon, lat) = position(3479099956230698.0);
        assert_eq!(format!("{lon:.17} {lat:.17}"), "13.36138933897018433 38.11555639549629859");
        // Beyond the range: clamped.
        assert_eq!(position(10133099161583616.0).0, 180.0);
        assert_eq!(position(13510798882111488.0), (180.0, LAT_MAX));
        // Scores no GEOADD writes decode as the C conversion does.
        assert_eq!(position(-1.0), (180.0, LAT_MAX));
        assert_eq!(position(f64::INFINITY), position(0.0));
        assert_eq!(position(f64::NEG_INFINITY).0, 180.0);
        assert_eq!(position(1e19), (180.0, LAT_MAX));
        assert_eq!(position(-0.5), position(0.0));
    }

    #[test]
    fn score_conversions_follow_x86_c() {
        assert_eq!(score_bits(-1.0), u64::MAX);
        assert_eq!(score_bits(1.5), 1);
        assert_eq!(score_bits(f64::INFINITY), 0);
        assert_eq!(score_bits(f64::NEG_INFINITY), 1 << 63);
        assert_eq!(score_bits(9223372036854775808.0), 1 << 63);
        assert_eq!(score_bits(18446744073709551616.0), 0);
        assert_eq!(score_bits(1e19), 10_000_000_000_000_000_000);
        assert_eq!(score_as_i64(1.9), 1);
        assert_eq!(score_as_i64(-1.9), -1);
        assert_eq!(score_as_i64(1e19), i64::MIN);
    }

    #[test]
    fn geohash_strings() {
        assert_eq!(&geohash_string(3479099956230698.0), b"sqc8b49rny0");
        assert_eq!(&geohash_string(10133099161583616.0), b"80000000000");
        assert_eq!(&geohash_string(6755399441055744.0), b"up05b5048p0");
        assert_eq!(&geohash_string(2251799813685248.0), b"h0bh0hbj200");
        assert_eq!(&geohash_string(-1.0), b"bp05b5048p0");
    }

    #[test]
    fn interleaving_round_trips() {
        for (lat, lon) in [(0u32, 0u32), (1, 0), (0, 1), (u32::MAX, 0), (0x1234_5678, 0x9abc_def0), (1 << 26, 3)] {
            assert_eq!(deinterleave(interleave(lat, lon)), (lat, lon));
        }
        assert_eq!(interleave(1, 0), 1);
        assert_eq!(interleave(0, 1), 2);
    }

    #[test]
    fn neighbours_wrap_around() {
        let c = Cell { bits: interleave(0, 0), step: 2 };
        assert_eq!(moved(c, -1, 0), Cell { bits: interleave(0, 3), step: 2 });
        assert_eq!(moved(c, 0, -1), Cell { bits: interleave(3, 0), step: 2 });
        assert_eq!(moved(c, 1, 1), Cell { bits: interleave(1, 1), step: 2 });
        // A field one bit wider than the step is reduced when moved, kept otherwise.
        let wide = Cell { bits: interleave(4, 1), step: 2 };
        assert_eq!(moved(wide, 1, 0), Cell { bits: interleave(4, 2), step: 2 });
        assert_eq!(moved(wide, 0, 1), Cell { bits: interleave(1, 1), step: 2 });
    }

    #[test]
    fn distances() {
        let (a, b) = (position(3479099956230698.0), position(3479447370796909.0));
        assert_eq!(format!("{:.4}", distance(a.0, a.1, b.0, b.1)), "166274.1516");
        // Same longitude: the meridian shortcut.
        assert_eq!(distance(10.0, 0.0, 10.0, 1.0), lat_distance(0.0, 1.0));
        assert_eq!(distance(0.0, 0.0, 0.0, 0.0), 0.0);
        // Antipodes: the haversine's argument may round above 1; its square root rounds to 1.
        assert!(distance(0.0, 0.0, 180.0, 0.0).is_finite());
    }

    #[test]
    fn step_estimates() {
        assert_eq!(estimate_steps(0.0, 0.0), 26);
        assert_eq!(estimate_steps(1.0, 0.0), 24);
        assert_eq!(estimate_steps(1.0, 70.0), 23);
        assert_eq!(estimate_steps(1.0, -81.0), 22);
        assert_eq!(estimate_steps(5_000_000.0, 0.0), 2);
        assert_eq!(estimate_steps(f64::INFINITY, 0.0), 1);
        assert_eq!(estimate_steps(1e-300, 0.0), 26);
        assert_eq!(estimate_steps(f64::MIN_POSITIVE / 4.0, 0.0), 26);
    }

    #[test]
    fn searches_scan_nine_cells_at_most() {
        let s = Search { lon: 15.0, lat: 37.0, conversion: 1000.0, shape: Shape::Radius(200.0) };
        let ranges = s.score_ranges();
        assert!(!ranges.is_empty() && ranges.len() <= 9);
        assert!(ranges.iter().any(|&(lo, hi)| (lo..hi).contains(&3479447370796909)));
        // The whole world: one step, four distinct cells.
        let s = Search { lon: 0.0, lat: 0.0, conversion: 1.0, shape: Shape::Radius(f64::INFINITY) };
        assert_eq!(s.score_ranges().len(), 4);
        let s = Search { lon: 0.0, lat: 0.0, conversion: 1.0, shape: Shape::Box(f64::MAX, f64::MAX) };
        assert_eq!(s.score_ranges().len(), 4);
        let p = position(3479447370796909.0);
        let s = Search { lon: 15.0, lat: 37.0, conversion: 1000.0, shape: Shape::Box(400.0, 400.0) };
        assert_eq!(s.contains(3479447370796909.0).map(|c| (c.0, c.1)), Some(p));
        let s = Search { lon: 15.0, lat: 37.0, conversion: 1000.0, shape: Shape::Box(1.0, 1.0) };
        assert_eq!(s.contains(3479447370796909.0), None);
    }

    fn asc(a: &(f64, u32), b: &(f64, u32)) -> i32 {
        compare_distances(a.0, b.0, false)
    }

    #[test]
    fn full_sort_is_stable() {
        let mut v: Vec<(f64, u32)> = (0..100).map(|i| (((i * 7) % 5) as f64, i)).collect();
        let mut expected = v.clone();
        expected.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap());
        sort_full(&mut v, &asc);
        assert_eq!(v, expected);
    }

    #[test]
    fn partial_sort_orders_the_prefix() {
        for n in [1usize, 5, 7, 8, 40, 41, 100, 1000] {
            for keep in [1usize, 3, 10, n] {
                let keep = keep.min(n);
                let mut v: Vec<(f64, u32)> =
                    (0..n as u32).map(|i| (((i as u64 * 2654435761) % 97) as f64, i)).collect();
                let mut sorted: Vec<f64> = v.iter().map(|x| x.0).collect();
                sorted.sort_by(|a, b| a.partial_cmp(b).unwrap());
                sort_partial(&mut v, keep, &asc);
                let got: Vec<f64> = v[..keep].iter().map(|x| x.0).collect();
                assert_eq!(got, sorted[..keep], "n={n} keep={keep}");
                let mut ids: Vec<u32> = v.iter().map(|x| x.1).collect();
                ids.sort();
                assert_eq!(ids, (0..n as u32).collect::<Vec<_>>(), "a permutation");
            }
        }
    }

    #[test]
    fn partial_sort_ties_follow_pqsort() {
        // 60 members at one point then 20 slightly farther, COUNT 10 (redis-server 7.0's order
        // for GEOSEARCH ... COUNT 10 over such a set: m20 first, then m01..m09).
        let mut v: Vec<(f64, u32)> = (0..80).map(|i| (if i < 60 { 0.0 } else { 1.0 }, i)).collect();
        sort_partial(&mut v, 10, &asc);
        let ids: Vec<u32> = v[..10].iter().map(|x| x.1).collect();
        assert_eq!(ids, vec![20, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    }
}
