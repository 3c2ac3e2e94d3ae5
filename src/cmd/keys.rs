//! Where a command's keys are: Redis 7's key specifications, declared once per command-table
//! row ([`Keys`]), and everything derived from them.
//!
//! A row lists its key specs as Redis declares them (`COMMAND INFO` shows them): where the
//! search begins (an argument index, or after a keyword), how the keys are found from there (a
//! range, or a `numkeys` argument), and what the command does with those keys (the key-spec
//! flags in [`ks`]: `RW`/`RO`/`OW`/`RM`, `access`/`update`/`insert`/`delete`, ...). Commands
//! whose keys the specs cannot fully describe also carry Redis's `getkeys` function
//! ([`Keys::getkeys`]). From these, as Redis does at start-up and in `COMMAND GETKEYS`:
//!
//! - the legacy `first`/`last`/`step` of `COMMAND INFO` ([`Keys::legacy_range`], Redis's
//!   `populateCommandLegacyRangeSpec`);
//! - the `movablekeys` flag ([`Keys::movable`]): some spec is not a plain index/range, or the
//!   ranges are not one consecutive run of step 1 (so the legacy range misses keys);
//! - the keys of a command line and their flags ([`Keys::get`], `COMMAND GETKEYS[ANDFLAGS]`:
//!   the specs when they can tell, else the getkeys function);
//! - the keys to lock ([`Keys::lock_positions`]): the specs read leniently (a spec the
//!   arguments do not satisfy is clamped or skipped; the handler rejects such a command before
//!   it touches the keyspace), plus whatever the getkeys function reports.

/// Key-spec flags, as Redis names them in `COMMAND INFO` and `COMMAND GETKEYSANDFLAGS`.
pub mod ks {
    /// Reads the value of the key, but doesn't necessarily return it.
    pub const RO: u32 = 1 << 0;
    /// Modifies the data stored in the value of the key or its metadata.
    pub const RW: u32 = 1 << 1;
    /// Overwrites the data stored in the value of the key.
    pub const OW: u32 = 1 << 2;
    /// Deletes the key.
    pub const RM: u32 = 1 << 3;
    /// Returns, copies or uses the user data from the value of the key.
    pub const ACCESS: u32 = 1 << 4;
    /// Updates data in the value: a new value may depend on the old one.
    pub const UPDATE: u32 = 1 << 5;
    /// Adds data to the value, with no chance of modifying or deleting existing data.
    pub const INSERT: u32 = 1 << 6;
    /// Explicitly deletes some content from the value of the key.
    pub const DELETE: u32 = 1 << 7;
    /// The argument is not a key (it is hashed like one: SPUBLISH's channel).
    pub const NOT_KEY: u32 = 1 << 8;
    /// The spec may not find every key.
    pub const INCOMPLETE: u32 = 1 << 9;
    /// Some keys may have different flags depending on the arguments (the getkeys function says).
    pub const VARIABLE_FLAGS: u32 = 1 << 10;

    /// Flag names in the order Redis lists them.
    pub const NAMES: &[(u32, &str)] = &[
        (RO, "RO"),
        (RW, "RW"),
        (OW, "OW"),
        (RM, "RM"),
        (ACCESS, "access"),
        (UPDATE, "update"),
        (INSERT, "insert"),
        (DELETE, "delete"),
        (NOT_KEY, "not_key"),
        (INCOMPLETE, "incomplete"),
        (VARIABLE_FLAGS, "variable_flags"),
    ];
}

/// Where a key spec starts looking for keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BeginSearch {
    /// At a fixed argument index.
    Index(i32),
    /// After the first occurrence of a keyword (case-insensitive), searching from `startfrom`
    /// (negative: from the end, backwards).
    Keyword(&'static str, i32),
    /// The keys cannot be found from the arguments' positions (the getkeys function finds them).
    Unknown,
}

/// How a key spec finds its keys once it started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FindKeys {
    /// Keys up to `lastkey` relative to the start (negative: from the end), every `keystep`;
    /// with a negative `lastkey`, a non-zero `limit` takes only 1/`limit` of what remains.
    Range { lastkey: i32, keystep: i32, limit: i32 },
    /// A `numkeys` argument at `keynumidx` (relative to the start), the keys from `firstkey`
    /// (relative to the start), every `keystep`.
    Keynum { keynumidx: i32, firstkey: i32, keystep: i32 },
    /// See [`BeginSearch::Unknown`].
    Unknown,
}

/// One Redis key specification.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeySpec {
    /// Redis's `notes` (empty: none).
    pub notes: &'static str,
    /// [`ks`] flags.
    pub flags: u32,
    pub begin: BeginSearch,
    pub find: FindKeys,
}

const NO_SPEC: KeySpec = KeySpec { notes: "", flags: 0, begin: BeginSearch::Unknown, find: FindKeys::Unknown };

/// The most key specs a command has (SORT: the sorted key, BY/GET patterns, STORE).
pub const MAX_KEY_SPECS: usize = 3;

/// A key argument of a command line and what the command does with it (`COMMAND GETKEYS`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyRef {
    pub pos: usize,
    /// [`ks`] flags.
    pub flags: u32,
}

/// Redis's `getkeys` function of a command whose key specs cannot describe every key: the keys
/// of a command line with their flags, empty when the arguments are invalid.
pub type GetKeys = fn(&[&[u8]]) -> Vec<KeyRef>;

/// A command's keys: its key specs (in Redis's order) and, for some commands, Redis's getkeys
/// function. Built with [`key`], [`key_range`], [`key_num`], [`key_keyword`], [`key_unknown`],
/// combined with [`Keys::and`].
#[derive(Clone, Copy, Debug)]
pub struct Keys {
    specs: [KeySpec; MAX_KEY_SPECS],
    n: usize,
    getkeys: Option<GetKeys>,
}

/// A command without keys.
pub const NO_KEYS: Keys = Keys { specs: [NO_SPEC; MAX_KEY_SPECS], n: 0, getkeys: None };

const fn one(spec: KeySpec) -> Keys {
    let mut k = NO_KEYS;
    k.specs[0] = spec;
    k.n = 1;
    k
}

/// One key at argument `index`.
pub const fn key(index: i32, flags: u32) -> Keys {
    key_range(index, 0, 1, flags)
}

/// Keys from argument `index` to `lastkey` (relative to `index`; negative: counted from the
/// end, -1 being the last argument), every `step`.
pub const fn key_range(index: i32, lastkey: i32, step: i32, flags: u32) -> Keys {
    one(KeySpec {
        notes: "",
        flags,
        begin: BeginSearch::Index(index),
        find: FindKeys::Range { lastkey, keystep: step, limit: 0 },
    })
}

/// A `numkeys` argument at `index`, followed by that many keys.
pub const fn key_num(index: i32, flags: u32) -> Keys {
    one(KeySpec {
        notes: "",
        flags,
        begin: BeginSearch::Index(index),
        find: FindKeys::Keynum { keynumidx: 0, firstkey: 1, keystep: 1 },
    })
}

/// Keys after `keyword` (searched from `startfrom`), found by `find`.
pub const fn key_keyword(keyword: &'static str, startfrom: i32, find: FindKeys, flags: u32) -> Keys {
    one(KeySpec { notes: "", flags, begin: BeginSearch::Keyword(keyword, startfrom), find })
}

/// Keys the specs cannot locate (the getkeys function does).
pub const fn key_unknown(flags: u32) -> Keys {
    one(KeySpec { notes: "", flags, begin: BeginSearch::Unknown, find: FindKeys::Unknown })
}

impl Keys {
    /// These specs followed by `other`'s.
    pub const fn and(mut self, other: Keys) -> Keys {
        let mut i = 0;
        while i < other.n {
            assert!(self.n < MAX_KEY_SPECS, "too many key specs: raise MAX_KEY_SPECS");
            self.specs[self.n] = other.specs[i];
            self.n += 1;
            i += 1;
        }
        if other.getkeys.is_some() {
            self.getkeys = other.getkeys;
        }
        self
    }

    /// Redis's notes for the last spec.
    pub const fn notes(mut self, notes: &'static str) -> Keys {
        assert!(self.n > 0, "notes need a key spec");
        self.specs[self.n - 1].notes = notes;
        self
    }

    /// Redis's getkeys function for this command.
    pub const fn getkeys(mut self, f: GetKeys) -> Keys {
        self.getkeys = Some(f);
        self
    }

    pub fn specs(&self) -> &[KeySpec] {
        &self.specs[..self.n]
    }

    pub fn getkeys_fn(&self) -> Option<GetKeys> {
        self.getkeys
    }

    /// Redis's `doesCommandHaveKeys`: a getkeys function, or a spec for real keys.
    pub fn has_keys(&self) -> bool {
        self.getkeys.is_some() || self.specs().iter().any(|s| s.flags & ks::NOT_KEY == 0)
    }

    /// The one key position of a command whose keys are exactly one argument, if so (the
    /// dispatcher's fast path).
    #[inline]
    pub fn single(&self) -> Option<usize> {
        match (self.n, self.specs[0]) {
            (1, KeySpec { begin: BeginSearch::Index(i), find: FindKeys::Range { lastkey: 0, .. }, flags, .. })
                if flags & ks::NOT_KEY == 0 =>
            {
                Some(i as usize)
            }
            _ => None,
        }
    }

    /// The legacy `(first, last, step)` of `COMMAND INFO` and whether the command has movable
    /// keys, derived as Redis's `populateCommandLegacyRangeSpec` does: one index/range spec is
    /// taken as it is; otherwise the index/range specs of step 1 that follow each other make one
    /// range, and any other spec (or an incomplete one) makes the keys movable.
    pub fn legacy(&self) -> ((i32, i32, i32), bool) {
        let specs = self.specs();
        if specs.is_empty() {
            return ((0, 0, 0), false);
        }
        if let [KeySpec {
            begin: BeginSearch::Index(first), find: FindKeys::Range { lastkey, keystep, .. }, flags, ..
        }] = specs
        {
            let last = if *lastkey >= 0 { first + lastkey } else { *lastkey };
            return ((*first, last, *keystep), flags & ks::INCOMPLETE != 0);
        }
        let mut movable = false;
        let (mut first, mut last): (i32, i32) = (i32::MAX, 0);
        let mut prev_last = 0;
        for s in specs {
            let (BeginSearch::Index(pos), FindKeys::Range { lastkey, keystep, .. }) = (s.begin, s.find) else {
                movable = true;
                continue;
            };
            if keystep != 1 || (prev_last != 0 && prev_last != pos - 1) {
                movable = true;
                continue;
            }
            if s.flags & ks::INCOMPLETE != 0 {
                movable = true;
            }
            first = first.min(pos);
            let abs_last = if lastkey >= 0 { lastkey + pos } else { lastkey };
            // Redis compares as unsigned, so a count from the end beats any index.
            last = (last as u32).max(abs_last as u32) as i32;
            prev_last = last;
        }
        if first == i32::MAX {
            return ((0, 0, 0), true);
        }
        ((first, last, 1), movable)
    }

    /// `COMMAND INFO`'s `first`, `last`, `step`.
    pub fn legacy_range(&self) -> (i32, i32, i32) {
        self.legacy().0
    }

    /// `movablekeys`: the legacy range does not find every key.
    pub fn movable(&self) -> bool {
        self.legacy().1
    }

    /// The keys of a command line (`args[0]` is the command, or the container and `args[1]` the
    /// subcommand) with their flags, as Redis's `getKeysFromCommandWithSpecs`: the key specs
    /// when none has variable flags and they all apply to these arguments, else the getkeys
    /// function. Empty: no keys (invalid arguments).
    pub fn get(&self, args: &[&[u8]]) -> Vec<KeyRef> {
        let has_keyspec = self.specs().iter().any(|s| s.flags & ks::NOT_KEY == 0);
        let has_varflags = self.specs().iter().any(|s| s.flags & ks::VARIABLE_FLAGS != 0);
        if has_keyspec && !has_varflags {
            let mut keys = Vec::new();
            if self.by_specs(args, false, |k| keys.push(k)) {
                return keys;
            }
        }
        match self.getkeys {
            Some(f) => f(args),
            None => Vec::new(),
        }
    }

    /// Positions of the keys to lock: the specs read leniently, plus what the getkeys function
    /// finds (see the module doc).
    pub fn lock_positions(&self, args: &[&[u8]]) -> Vec<usize> {
        let mut pos = Vec::new();
        self.by_specs(args, true, |k| pos.push(k.pos));
        if let Some(f) = self.getkeys {
            pos.extend(f(args).into_iter().map(|k| k.pos).filter(|p| !pos.contains(p)).collect::<Vec<_>>());
        }
        pos
    }

    /// Redis's `getKeysUsingKeySpecs`: gives each key to `found`. Strict: false when a spec does
    /// not apply to `args` (the caller drops what was found and falls back to the getkeys
    /// function). Lenient: such a spec is skipped, or clamped to the arguments present.
    fn by_specs(&self, args: &[&[u8]], lenient: bool, mut found: impl FnMut(KeyRef)) -> bool {
        let argc = args.len() as i64;
        for spec in self.specs() {
            if spec.flags & ks::NOT_KEY != 0 {
                continue;
            }
            let Some((first, last, step)) = spec_bounds(spec, args) else {
                if lenient {
                    continue;
                }
                return false;
            };
            let Some((first, last)) = (match (first, last) {
                (0, _) => continue, // keyword not found
                (f, l) if l < argc && l >= f && f < argc => Some((f, l)),
                (f, l) if lenient && f < argc && l >= f => Some((f, argc - 1)),
                _ => None,
            }) else {
                if lenient {
                    continue;
                }
                return false;
            };
            if spec.flags & ks::INCOMPLETE != 0 && !lenient {
                return false;
            }
            let mut i = first;
            while i <= last {
                found(KeyRef { pos: i as usize, flags: spec.flags });
                i += step.max(1);
            }
        }
        true
    }
}

/// Where `spec` finds keys in `args`: `(first, last, step)`, `first` 0 when its keyword is
/// absent; `None` when the spec cannot tell (unknown, or an unusable `numkeys`).
fn spec_bounds(spec: &KeySpec, args: &[&[u8]]) -> Option<(i64, i64, i64)> {
    let argc = args.len() as i64;
    let first = match spec.begin {
        BeginSearch::Index(i) => i as i64,
        BeginSearch::Keyword(kw, startfrom) => {
            let startfrom = startfrom as i64;
            let (start, end) = if startfrom > 0 { (startfrom, argc - 1) } else { (argc + startfrom, 1) };
            let mut found = 0;
            let mut i = start;
            // Redis's loop stops before `end`: a keyword cannot be the last argument.
            while i != end {
                if i >= argc || i < 1 {
                    break;
                }
                if args[i as usize].eq_ignore_ascii_case(kw.as_bytes()) {
                    found = i + 1;
                    break;
                }
                i = if start <= end { i + 1 } else { i - 1 };
            }
            if found == 0 {
                return Some((0, 0, 1));
            }
            found
        }
        BeginSearch::Unknown => return None,
    };
    match spec.find {
        FindKeys::Range { lastkey, keystep, limit } => {
            let (lastkey, limit) = (lastkey as i64, limit as i64);
            let last = if lastkey >= 0 {
                first + lastkey
            } else if limit == 0 {
                argc + lastkey
            } else {
                first + ((argc - first) / limit + lastkey)
            };
            Some((first, last, keystep as i64))
        }
        FindKeys::Keynum { keynumidx, firstkey, keystep } => {
            if keynumidx as i64 >= argc - first {
                return None;
            }
            let n = resp::parse_i64(args[(first + keynumidx as i64) as usize]).filter(|&n| n >= 0)?;
            let first = first + firstkey as i64;
            Some((first, first.saturating_add(n) - 1, keystep as i64))
        }
        FindKeys::Unknown => None,
    }
}

/// Redis's `genericGetKeys`, the getkeys function of the `numkeys` commands: `numkeys` (read as
/// Redis's getkeys function of ZUNION, ZINTER, ZDIFF, ZINTERCARD, SINTERCARD, LMPOP and ZMPOP:
/// `numkeys` at 1, the keys after it.
pub fn getkeys_numkeys(args: &[&[u8]]) -> Vec<KeyRef> {
    numkeys_getkeys(args, None, 1, 2)
}

/// Redis's getkeys function of BLMPOP and BZMPOP: the timeout at 1, `numkeys` at 2, the keys
/// after it.
pub fn getkeys_timeout_numkeys(args: &[&[u8]]) -> Vec<KeyRef> {
    numkeys_getkeys(args, None, 2, 3)
}

/// Redis's getkeys function of ZUNIONSTORE, ZINTERSTORE and ZDIFFSTORE: the destination at 1,
/// `numkeys` at 2, the sources after it (listed before the destination, as Redis does).
pub fn getkeys_store_numkeys(args: &[&[u8]]) -> Vec<KeyRef> {
    numkeys_getkeys(args, Some(1), 2, 3)
}

/// C's `atoi`) at `count_at`, the keys from `first_at`, then the destination at `store_at` if
/// any. No flags, as Redis. Empty when the count is below 1 or above the arguments present.
pub fn numkeys_getkeys(args: &[&[u8]], store_at: Option<usize>, count_at: usize, first_at: usize) -> Vec<KeyRef> {
    let Some(count) = args.get(count_at) else { return Vec::new() };
    let n = atoi(count);
    let available = args.len().saturating_sub(first_at) as i64;
    if n < 1 || n > available {
        return Vec::new();
    }
    let mut keys: Vec<KeyRef> = (first_at..first_at + n as usize).map(|pos| KeyRef { pos, flags: 0 }).collect();
    keys.extend(store_at.map(|pos| KeyRef { pos, flags: 0 }));
    keys
}

/// C's `atoi`: leading whitespace, an optional sign, digits up to the first non-digit; 0 when
/// there are none (values beyond `i32` saturate, where C's is undefined).
fn atoi(s: &[u8]) -> i64 {
    let s = match s.iter().position(|c| !matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')) {
        Some(p) => &s[p..],
        None => return 0,
    };
    let (neg, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let mut v: i64 = 0;
    for &c in digits.iter().take_while(|c| c.is_ascii_digit()) {
        v = (v * 10 + (c - b'0') as i64).min(i32::MAX as i64 + 1);
    }
    if neg {
        -v
    } else {
        v.min(i32::MAX as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::ks::*;
    use super::*;

    fn a(line: &str) -> Vec<&[u8]> {
        line.split(' ').map(|w| w.as_bytes()).collect()
    }

    fn positions(k: &Keys, line: &str) -> Vec<usize> {
        k.get(&a(line)).into_iter().map(|r| r.pos).collect()
    }

    #[test]
    fn legacy_range_and_movable_follow_redis() {
        // One range: as declared.
        assert_eq!(key(1, RO).legacy(), ((1, 1, 1), false));
        assert_eq!(key_range(1, -1, 2, OW | UPDATE).legacy(), ((1, -1, 2), false));
        // Consecutive ranges merge (LMOVE, SINTERSTORE).
        assert_eq!(key(1, RW).and(key(2, RW)).legacy(), ((1, 2, 1), false));
        assert_eq!(key(1, RW).and(key_range(2, -1, 1, RO)).legacy(), ((1, -1, 1), false));
        // A numkeys spec is movable (ZUNIONSTORE, LMPOP).
        assert_eq!(key(1, OW).and(key_num(2, RO)).legacy(), ((1, 1, 1), true));
        assert_eq!(key_num(1, RW).legacy(), ((0, 0, 0), true));
        // A keyword (XREAD) or unknown spec (SORT) too.
        let streams = key_keyword("STREAMS", 1, FindKeys::Range { lastkey: -1, keystep: 1, limit: 2 }, RO);
        assert_eq!(streams.legacy(), ((0, 0, 0), true));
        assert_eq!(key(1, RO).and(key_unknown(RO)).legacy(), ((1, 1, 1), true));
        assert_eq!(NO_KEYS.legacy(), ((0, 0, 0), false));
    }

    #[test]
    fn getkeys_reads_the_specs() {
        let lmove = key(1, RW | ACCESS | DELETE).and(key(2, RW | INSERT));
        assert_eq!(
            lmove.get(&a("lmove a b left right")),
            vec![KeyRef { pos: 1, flags: RW | ACCESS | DELETE }, KeyRef { pos: 2, flags: RW | INSERT }]
        );
        let mset = key_range(1, -1, 2, OW | UPDATE);
        assert_eq!(positions(&mset, "mset a 1 b 2"), vec![1, 3]);
        let store = key(1, OW).and(key_num(2, RO));
        assert_eq!(positions(&store, "zunionstore d 2 a b"), vec![1, 3, 4]);
        assert_eq!(positions(&store, "zunionstore d 3 a b"), Vec::<usize>::new());
        assert_eq!(positions(&store, "zunionstore d 0 a"), Vec::<usize>::new());
        let streams = key_keyword("STREAMS", 1, FindKeys::Range { lastkey: -1, keystep: 1, limit: 2 }, RO);
        assert_eq!(positions(&streams, "xread count 1 streams a b 0 0"), vec![4, 5]);
        assert_eq!(positions(&streams, "xread streams a b 0"), vec![2]);
        assert_eq!(positions(&streams, "xread count 1"), Vec::<usize>::new());
        // A keyword in last position starts nothing.
        assert_eq!(positions(&streams, "xread a streams"), Vec::<usize>::new());
        let back = key_keyword("KEYS", -2, FindKeys::Range { lastkey: -1, keystep: 1, limit: 0 }, RW);
        assert_eq!(positions(&back, "migrate h p x 0 5 keys a b"), vec![7, 8]);
    }

    #[test]
    fn getkeys_falls_back_to_the_function() {
        fn gk(args: &[&[u8]]) -> Vec<KeyRef> {
            numkeys_getkeys(args, Some(1), 2, 3)
        }
        let store = key(1, OW).and(key_num(2, RO)).getkeys(gk);
        // `01` is not a count for the spec, but is one for `atoi`: Redis's answer.
        assert_eq!(store.get(&a("zunionstore d 01 a")), vec![KeyRef { pos: 3, flags: 0 }, KeyRef { pos: 1, flags: 0 }]);
        assert!(store.get(&a("zunionstore d x a")).is_empty());
        // Variable flags: always the function.
        fn set_gk(_: &[&[u8]]) -> Vec<KeyRef> {
            vec![KeyRef { pos: 1, flags: OW }]
        }
        let set = key(1, RW | VARIABLE_FLAGS).getkeys(set_gk);
        assert_eq!(set.get(&a("set k v")), vec![KeyRef { pos: 1, flags: OW }]);
    }

    #[test]
    fn lock_positions_are_lenient() {
        let store = key(1, OW).and(key_num(2, RO));
        assert_eq!(store.lock_positions(&a("zunionstore d 5 a b")), vec![1, 3, 4]);
        assert_eq!(store.lock_positions(&a("zunionstore d x a b")), vec![1]);
        let mpop = key_num(2, RW);
        assert_eq!(mpop.lock_positions(&a("blmpop 0 2 a b left")), vec![3, 4]);
        assert_eq!(key(1, RO).and(key_unknown(OW)).lock_positions(&a("sort k store d")), vec![1]);
    }

    #[test]
    fn atoi_is_c_like() {
        for (s, v) in [
            ("12", 12),
            (" 7x", 7),
            ("+3", 3),
            ("-2", -2),
            ("x", 0),
            ("", 0),
            ("01", 1),
            ("99999999999", i32::MAX as i64),
        ] {
            assert_eq!(atoi(s.as_bytes()), v, "{s}");
        }
    }

    #[test]
    fn more_than_256_keys() {
        let del = key_range(1, -1, 1, RM | DELETE);
        let line: Vec<Vec<u8>> =
            std::iter::once(b"del".to_vec()).chain((0..1000).map(|i| format!("k{i}").into_bytes())).collect();
        let args: Vec<&[u8]> = line.iter().map(|a| a.as_slice()).collect();
        assert_eq!(del.get(&args).len(), 1000);
    }
}
