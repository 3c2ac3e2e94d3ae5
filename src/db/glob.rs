//! Redis's glob-style pattern matching (`KEYS`, `SCAN MATCH`, `PSUBSCRIBE`, `CONFIG GET`).
//!
//! Supports `*`, `?`, `[abc]`, `[^a]`, `[a-z]` (reversed ranges allowed), and `\` escapes,
//! byte-wise, optionally case-insensitive. Matching is iterative (greedy star with
//! backtracking to the last star), so hostile patterns cost O(pattern × string), never
//! exponential time or deep recursion.

#[inline]
fn fold(c: u8, nocase: bool) -> u8 {
    if nocase {
        c.to_ascii_lowercase()
    } else {
        c
    }
}

/// Matches one non-star token of `pat` at `p` against byte `c`. Returns whether it matched and
/// the position after the token.
fn token(pat: &[u8], mut p: usize, c: u8, nocase: bool) -> (bool, usize) {
    match pat[p] {
        b'?' => (true, p + 1),
        b'[' => {
            p += 1;
            let negate = p < pat.len() && pat[p] == b'^';
            if negate {
                p += 1;
            }
            let c = fold(c, nocase);
            let mut matched = false;
            loop {
                if p >= pat.len() {
                    // An unterminated set ends with the pattern.
                    break;
                }
                if pat[p] == b'\\' && p + 1 < pat.len() {
                    if fold(pat[p + 1], nocase) == c {
                        matched = true;
                    }
                    p += 2;
                } else if pat[p] == b']' {
                    p += 1;
                    break;
                } else if p + 2 < pat.len() && pat[p + 1] == b'-' {
                    let (mut lo, mut hi) = (fold(pat[p], nocase), fold(pat[p + 2], nocase));
                    if lo > hi {
                        std::mem::swap(&mut lo, &mut hi);
                    }
                    if c >= lo && c <= hi {
                        matched = true;
                    }
                    p += 3;
                } else {
                    if fold(pat[p], nocase) == c {
                        matched = true;
                    }
                    p += 1;
                }
            }
            (matched != negate, p)
        }
        b'\\' if p + 1 < pat.len() => (fold(pat[p + 1], nocase) == fold(c, nocase), p + 2),
        lit => (fold(lit, nocase) == fold(c, nocase), p + 1),
    }
}

/// True if `s` matches `pat`.
pub fn glob_match(pat: &[u8], s: &[u8], nocase: bool) -> bool {
    let (mut p, mut i) = (0, 0);
    // Position after the last star, and the string position it is currently matched up to.
    let mut star: Option<(usize, usize)> = None;
    loop {
        if p < pat.len() && pat[p] == b'*' {
            while p < pat.len() && pat[p] == b'*' {
                p += 1;
            }
            if p == pat.len() {
                return true;
            }
            star = Some((p, i));
            continue;
        }
        if i == s.len() {
            return p == pat.len();
        }
        if p < pat.len() {
            let (ok, next) = token(pat, p, s[i], nocase);
            if ok {
                p = next;
                i += 1;
                continue;
            }
        }
        match star {
            Some((sp, si)) if si < s.len() => {
                star = Some((sp, si + 1));
                p = sp;
                i = si + 1;
            }
            _ => return false,
        }
    }
}

/// True if the pattern contains no special characters (so it names exactly one key).
pub fn is_literal(pat: &[u8]) -> bool {
    !pat.iter().any(|c| matches!(c, b'*' | b'?' | b'[' | b'\\'))
}

#[cfg(test)]
mod tests {
    use super::glob_match as m;

    #[test]
    fn redis_semantics() {
        assert!(m(b"*", b"", false));
        assert!(m(b"h?llo", b"hello", false));
        assert!(m(b"h*llo", b"heeeello", false));
        assert!(m(b"h[ae]llo", b"hallo", false));
        assert!(!m(b"h[ae]llo", b"hillo", false));
        assert!(m(b"h[^e]llo", b"hallo", false));
        assert!(!m(b"h[^e]llo", b"hello", false));
        assert!(m(b"h[a-b]llo", b"hbllo", false));
        assert!(m(b"h[b-a]llo", b"hbllo", false), "reversed range");
        assert!(m(b"h\\*llo", b"h*llo", false));
        assert!(!m(b"h\\*llo", b"hello", false));
        assert!(m(b"a\\", b"a\\", false), "trailing backslash is literal");
        assert!(m(b"[abc", b"b", false), "unterminated set");
        assert!(m(b"[\\]]", b"]", false));
        assert!(m(b"HELLO", b"hello", true));
        assert!(m(b"silvasonic:status:*", b"silvasonic:status:recorder", false));
        assert!(!m(b"a*b", b"a", false));
        assert!(m(b"*a*b*c*", b"xxaxxbxxc", false));
        assert!(!m(b"*a*b*c*d", b"xxaxxbxxc", false));
        assert!(!m(b"[]a]", b"a", false), "`[]` is an empty set");
    }

    #[test]
    fn hostile_pattern_is_fast() {
        let pat = [b'a', b'*'].repeat(30).into_iter().chain([b'b']).collect::<Vec<u8>>();
        let s = vec![b'a'; 10_000];
        let t = std::time::Instant::now();
        assert!(!m(&pat, &s, false));
        assert!(t.elapsed().as_secs() < 2);
    }
}
