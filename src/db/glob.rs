//! Redis's glob-style pattern matching (`KEYS`, `SCAN MATCH`, `PSUBSCRIBE`, `CONFIG GET`).
//!
//! Supports `*`, `?`, `[abc]`, `[^a]`, `[a-z]` (reversed ranges allowed), and `\` escapes,
//! byte-wise, optionally case-insensitive. Matching is iterative (greedy star with
//! backtracking to the last star), so hostile patterns cost O(pattern × string), never
//! exponential time or deep recursion.
//!
//! Redis's matcher recurses at each `*` and gives up past a nesting of 1000 (its protection
//! against abusive patterns): a pattern whose 1001st run of stars is followed by anything never
//! matches. That limit is Redis's observable behaviour, so it is kept here ([`MAX_NESTING`]).

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

/// Redis's `stringmatchlen` nesting limit: a match attempt through more runs of `*` fails.
pub const MAX_NESTING: usize = 1000;

/// Whether Redis's matcher would give up on `pat` before its end: its run of stars number
/// `MAX_NESTING + 1` is not the last thing in the pattern.
fn too_deep(pat: &[u8]) -> bool {
    let (mut p, mut runs) = (0, 0);
    while p < pat.len() {
        if pat[p] == b'*' {
            while p < pat.len() && pat[p] == b'*' {
                p += 1;
            }
            runs += 1;
            if runs > MAX_NESTING {
                return p < pat.len();
            }
        } else {
            p = token(pat, p, 0, false).1;
        }
    }
    false
}

/// True if `s` matches `pat`.
pub fn glob_match(pat: &[u8], s: &[u8], nocase: bool) -> bool {
    if pat.len() > 2 * MAX_NESTING && too_deep(pat) {
        return false;
    }
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
    fn nesting_limit_as_redis() {
        let runs =
            |n: usize, tail: &[u8]| [b'*', b'?'].repeat(n).into_iter().chain(tail.iter().copied()).collect::<Vec<u8>>();
        let key = vec![b'x'; 50_000];
        // 1000 runs of stars followed by more pattern still match; the 1001st run gives up
        // unless it ends the pattern.
        assert!(m(&runs(1000, b""), &key, false));
        assert!(!m(&runs(1001, b""), &key, false));
        assert!(m(&runs(1000, b"*"), &key, false));
        assert!(!m(&runs(50_000, b""), &key, false), "the issue's case: 100,000-byte pattern");
        // Stars inside sets and escaped stars are no runs.
        let literal = b"[*]\\*".repeat(1500);
        assert!(!super::too_deep(&literal));
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
