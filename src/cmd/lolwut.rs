//! LOLWUT: computer art and the Redis version.
//!
//! `LOLWUT [VERSION v] [args...]` picks the piece the way Redis does: `v` must be an integer
//! (`ERR value is not an integer or out of range`), is cut to 32 bits as C's `(unsigned int)`,
//! and printed as `v.0.0`; 5 draws a "Schotter" (a grid of squares falling into disorder row
//! by row, after Georg Nees' 1968 plot) in Braille characters, 6 an 8-bit style city skyline
//! in ANSI colours, anything else (and LOLWUT without VERSION: redstart reports 7.2.4, which
//! has no piece of its own) only the version line. Piece 5 takes `[columns [squares-per-row
//! [squares-per-column]]]` (defaults 66, 8, 12; clamped to 1..1000, 1..200, 1..200), piece 6
//! `[columns [rows]]` (80, 20; clamped to 1..1000): only a non-integer is an error, and extra
//! arguments are ignored, as in Redis. Every reply ends with `Redis ver. 7.2.4` and a newline
//! and is a verbatim string (`txt`) in RESP3, a bulk string in RESP2.
//!
//! Differences from Redis: the pictures are redstart's own (Redis's are random too, and the
//! skyline replaces Redis 6's Plaguemon landscape); the lines that close them and the version
//! line are Redis's, with redstart's version.

use rand::Rng;

use super::args;
use super::{flags::*, CmdResult, CommandSpec, Ctx, NO_KEYS, REDIS_VERSION};

pub const COMMANDS: &[CommandSpec] = &[CommandSpec::new("lolwut", -1, READONLY | FAST, 0, NO_KEYS, lolwut).doc(
    "server",
    "5.0.0",
    "",
    "Displays computer art and the Redis version",
)];

fn lolwut(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    // Redis compares the version with a string: `%u.0.0` of the requested one, else its own.
    let mut version = REDIS_VERSION.to_string();
    let mut rest = &args[1..];
    if args.len() >= 3 && args::is_c(args[1], "version") {
        let v = args::int(args[2])?;
        version = format!("{}.0.0", v as u32);
        rest = &args[3..];
    }
    let v = version.as_bytes();
    let text = match (v[0], v[1], v[2]) {
        (b'5', b'.', c) if c != b'9' => schotter(rest)?,
        (b'4', b'.', b'9') => schotter(rest)?,
        (b'6', b'.', c) if c != b'9' => skyline(rest)?,
        (b'5', b'.', b'9') => skyline(rest)?,
        _ => String::new(),
    };
    let text = if text.is_empty() {
        format!("Redis ver. {REDIS_VERSION}\n")
    } else {
        format!("{text} Redis ver. {REDIS_VERSION}\n")
    };
    ctx.out.verbatim("txt", text.as_bytes());
    Ok(())
}

/// The piece's integer arguments with their defaults, each clamped to its range: the first
/// non-integer among those given is an error.
fn params<const N: usize>(rest: &[&[u8]], defaults: [(i64, i64, i64); N]) -> Result<[usize; N], super::CmdError> {
    let mut out = [0usize; N];
    for (i, (default, lo, hi)) in defaults.into_iter().enumerate() {
        let v = match rest.get(i) {
            Some(a) => args::int(a)?,
            None => default,
        };
        out[i] = v.clamp(lo, hi) as usize;
    }
    Ok(out)
}

/// A canvas of on/off pixels rendered as Braille characters (2×4 pixels each).
struct Canvas {
    w: usize,
    h: usize,
    px: Vec<bool>,
}

impl Canvas {
    fn new(w: usize, h: usize) -> Canvas {
        Canvas { w, h, px: vec![false; w * h] }
    }

    fn dot(&mut self, x: i64, y: i64) {
        if x >= 0 && y >= 0 && (x as usize) < self.w && (y as usize) < self.h {
            self.px[y as usize * self.w + x as usize] = true;
        }
    }

    /// A straight line (Bresenham).
    fn line(&mut self, (mut x0, mut y0): (i64, i64), (x1, y1): (i64, i64)) {
        let (dx, dy) = ((x1 - x0).abs(), -(y1 - y0).abs());
        let (sx, sy) = (if x0 < x1 { 1 } else { -1 }, if y0 < y1 { 1 } else { -1 });
        let mut err = dx + dy;
        loop {
            self.dot(x0, y0);
            if (x0, y0) == (x1, y1) {
                break;
            }
            let e2 = 2 * err;
            if e2 >= dy {
                err += dy;
                x0 += sx;
            }
            if e2 <= dx {
                err += dx;
                y0 += sy;
            }
        }
    }

    fn braille(&self) -> String {
        // Dot bits of a Braille cell by (x, y).
        const BIT: [[u32; 4]; 2] = [[0x01, 0x02, 0x04, 0x40], [0x08, 0x10, 0x20, 0x80]];
        let mut s = String::new();
        for cy in 0..self.h.div_ceil(4) {
            for cx in 0..self.w.div_ceil(2) {
                let mut cell = 0;
                for (dx, column) in BIT.iter().enumerate() {
                    for (dy, bit) in column.iter().enumerate() {
                        let (x, y) = (cx * 2 + dx, cy * 4 + dy);
                        if x < self.w && y < self.h && self.px[y * self.w + x] {
                            cell |= bit;
                        }
                    }
                }
                s.push(char::from_u32(0x2800 + cell).unwrap_or(' '));
            }
            s.push('\n');
        }
        s
    }
}

/// Piece 5: squares in a grid, each row more rotated and displaced than the one above.
fn schotter(rest: &[&[u8]]) -> Result<String, super::CmdError> {
    let [cols, per_row, per_col] = params(rest, [(66, 1, 1000), (8, 1, 200), (12, 1, 200)])?;
    let width = cols * 2;
    let pad = if width > 4 { 2 } else { 0 };
    // Squares of at least a pixel, and a picture of at most ~4 million pixels.
    let side = ((width - 2 * pad) as f64 / per_row as f64).max(1.0);
    let rows = per_col.min((4_000_000.0 / (width as f64 * side)).max(1.0) as usize);
    let height = (side * rows as f64) as usize + pad * 2;
    let mut canvas = Canvas::new(width, height);
    let mut rng = rand::thread_rng();
    for r in 0..rows {
        let disorder = r as f64 / per_col.max(2) as f64;
        for c in 0..per_row {
            let cx = pad as f64 + side * (c as f64 + 0.5) + rng.gen_range(-1.0..=1.0) * disorder * side / 3.0;
            let cy = pad as f64 + side * (r as f64 + 0.5) + rng.gen_range(-1.0..=1.0) * disorder * side / 3.0;
            let angle = rng.gen_range(-1.0..=1.0) * disorder * std::f64::consts::FRAC_PI_4;
            let half = side / 2.0 * 0.9;
            let corner = |k: usize| {
                let a = angle + std::f64::consts::FRAC_PI_2 * k as f64 + std::f64::consts::FRAC_PI_4;
                let d = half * std::f64::consts::SQRT_2;
                ((cx + d * a.cos()).round() as i64, (cy + d * a.sin()).round() as i64)
            };
            for k in 0..4 {
                canvas.line(corner(k), corner((k + 1) % 4));
            }
        }
    }
    Ok(format!("{}\nGeorg Nees - schotter, plotter on paper, 1968.", canvas.braille()))
}

/// Piece 6: a city at night, buildings with lit windows under a starry sky, in four greys.
fn skyline(rest: &[&[u8]]) -> Result<String, super::CmdError> {
    let [cols, rows] = params(rest, [(80, 1, 1000), (20, 1, 1000)])?;
    // 0 night, 1 dark building, 2 lit window, 3 star.
    let mut px = vec![0u8; cols * rows];
    let mut rng = rand::thread_rng();
    let mut x = 0;
    while x < cols {
        let w = rng.gen_range(3..=8).min(cols - x);
        let h = rng.gen_range(rows / 4..=rows * 3 / 4 + 1).min(rows);
        for dx in 0..w {
            for y in rows - h..rows {
                let window = dx % 2 == 1 && y % 2 == 1 && dx + 1 < w && rng.gen_bool(0.4);
                px[y * cols + x + dx] = if window { 2 } else { 1 };
            }
        }
        x += w + rng.gen_range(0..=1);
    }
    for p in px.iter_mut().filter(|p| **p == 0) {
        if rng.gen_bool(0.03) {
            *p = 3;
        }
    }
    const COLOURS: [&str; 4] = ["0;30;40", "0;90;100", "0;37;47", "0;97;107"];
    let mut s = String::with_capacity(cols * rows * 16);
    for y in 0..rows {
        for x in 0..cols {
            s.push_str("\x1b[");
            s.push_str(COLOURS[px[y * cols + x] as usize]);
            s.push_str("m \x1b[0m");
        }
        s.push('\n');
    }
    Ok(format!(
        "{s}\nDedicated to the 8 bit game developers of past and present.\nA city skyline at night, in 8 bit style."
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_end_with_their_lines() {
        let a: Vec<&[u8]> = vec![b"1", b"1", b"1"];
        let s = schotter(&a).unwrap();
        assert!(s.ends_with("\nGeorg Nees - schotter, plotter on paper, 1968."));
        let s = schotter(&[]).unwrap();
        assert_eq!(s.lines().next().unwrap().chars().count(), 66);
        let big: Vec<&[u8]> = vec![b"1000", b"1", b"200"];
        assert!(schotter(&big).unwrap().len() < 40_000_000);
        let s = skyline(&[b"3", b"2"]).unwrap();
        assert_eq!(s.matches("m \x1b[0m").count(), 6);
        assert!(s.ends_with("in 8 bit style."));
        assert!(skyline(&[b"x"]).is_err());
        assert!(schotter(&[b"1", b"1.5"]).is_err());
    }
}
