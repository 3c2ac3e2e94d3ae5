//! Adding and removing entries: XADD, XDEL, XTRIM and XSETID, with the trimming options that
//! XADD and XTRIM share.

use super::{invalid_id, parse_id, write_id};
use crate::cmd::args::{self, Cursor};
use crate::cmd::lookup::get;
use crate::cmd::{blocking, CmdError, CmdResult, Ctx};
use crate::db::value::{Value, NO_EXPIRE};
use crate::notify;
use crate::types::stream::{parse_id_arg, IdArg, Stream, StreamId, Trim};

/// `stream-node-max-entries` and `stream-node-max-bytes` (typed config fields: this runs on
/// every XADD).
fn node_limits(ctx: &Ctx) -> (u64, u64) {
    let cfg = ctx.server.config.read();
    (cfg.stream_node_max_entries, cfg.stream_node_max_bytes)
}

/// Trimming options shared by XADD and XTRIM.
#[derive(Default)]
struct TrimArgs {
    strategy: Option<Trim>,
    approx: bool,
    limit: Option<i64>,
    /// Where the `~` and the threshold are in the arguments (for propagation).
    approx_at: usize,
    threshold_at: usize,
}

impl TrimArgs {
    /// Parses one trimming option at the cursor (`MAXLEN|MINID [~|=] threshold`, `LIMIT n`);
    /// false, consuming nothing, if the next argument is not one.
    fn parse(&mut self, c: &mut Cursor) -> Result<bool, CmdError> {
        let is_maxlen = c.keyword_with("maxlen", 1);
        if is_maxlen || c.keyword_with("minid", 1) {
            let mut approx = false;
            if c.remaining() >= 2 && matches!(c.peek(), Some(b"~" | b"=")) {
                approx = c.next() == Some(b"~");
                self.approx_at = c.pos() - 1;
            }
            self.threshold_at = c.pos();
            if self.strategy.is_some() {
                return Err(CmdError::msg(
                    "ERR syntax error, MAXLEN and MINID options at the same time are not compatible",
                ));
            }
            let threshold = c.value()?;
            if is_maxlen {
                let n = args::int(threshold)?;
                if n < 0 {
                    return Err(CmdError::msg("ERR The MAXLEN argument must be >= 0."));
                }
                self.strategy = Some(Trim::MaxLen(n as u64));
            } else {
                self.strategy = Some(Trim::MinId(parse_id(threshold, false, 0)?));
            }
            self.approx = approx;
            return Ok(true);
        }
        if let Some(n) = c.int_of("limit")? {
            if n < 0 {
                return Err(CmdError::msg("ERR The LIMIT argument must be >= 0."));
            }
            self.limit = Some(n);
            return Ok(true);
        }
        Ok(false)
    }

    /// `loading`: the AOF is being replayed, where (as for Redis's AOF client) LIMIT is
    /// accepted with exact trimming, the form approximate trimming is propagated in.
    fn check(&self, loading: bool) -> CmdResult {
        if self.limit.is_some() {
            if self.strategy.is_none() {
                return Err(CmdError::msg(
                    "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy",
                ));
            }
            if !self.approx && !loading {
                return Err(CmdError::msg("ERR syntax error, LIMIT cannot be used without the special ~ option"));
            }
        }
        Ok(())
    }

    fn apply(&self, s: &mut Stream, max_entries: u64) -> u64 {
        let Some(strategy) = self.strategy else { return 0 };
        let limit = match self.limit {
            Some(l) => l as u64,
            // Redis's default for `~`: 100 nodes' worth of entries, or 10000 when nodes have
            // no entry limit.
            None if self.approx && max_entries == 0 => 10_000,
            None if self.approx => max_entries.saturating_mul(100),
            None => 0,
        };
        s.trim(strategy, self.approx, limit)
    }

    /// Approximate trimming is propagated as exact trimming to where it ended (Redis's form):
    /// `~` becomes `=` and the threshold the stream's length (MAXLEN) or first ID (MINID).
    fn propagated(&self, args: &mut [Vec<u8>], s: &Stream) {
        let Some(strategy) = self.strategy else { return };
        if !self.approx {
            return;
        }
        args[self.approx_at] = b"=".to_vec();
        args[self.threshold_at] = match strategy {
            Trim::MaxLen(_) => s.log.len().to_string().into_bytes(),
            Trim::MinId(_) => s.log.first_id().fmt(),
        };
    }
}

// ---------------------------------------------------------------------------------------------
// XADD, XDEL, XTRIM, XSETID
// ---------------------------------------------------------------------------------------------

pub(super) fn xadd(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let key = args[1];
    let mut nomkstream = false;
    let mut trim = TrimArgs::default();
    let mut c = Cursor::new(args, 2);
    let mut id_arg = None;
    while let Some(a) = c.peek() {
        if c.keyword("nomkstream") {
            nomkstream = true;
        } else if !trim.parse(&mut c)? {
            // The ID.
            id_arg = Some(if a == b"*" {
                None
            } else {
                match parse_id_arg(a, true) {
                    Some(x) => Some(x),
                    None => return Err(invalid_id()),
                }
            });
            break;
        }
    }
    let i = c.pos();
    let nfields = args.len().saturating_sub(i + 1);
    if id_arg.is_none() || nfields < 2 || !nfields.is_multiple_of(2) {
        return Err(CmdError::WrongArity("xadd".into()));
    }
    trim.check(crate::persist::state().loading.load(std::sync::atomic::Ordering::Relaxed))?;
    let id_at = i;
    let id_arg = id_arg.unwrap();
    if let Some(IdArg::Full(id)) = id_arg {
        if id.is_zero() {
            return Err(CmdError::msg("ERR The ID specified in XADD must be greater than 0-0"));
        }
    }
    if let Some(IdArg::MsOnly(0)) = id_arg {
        return Err(CmdError::msg("ERR The ID specified in XADD must be greater than 0-0"));
    }
    let fields = &args[i + 1..];
    let (max_entries, max_bytes) = node_limits(ctx);
    let now = ctx.now;
    let propagating = ctx.propagating();
    let (mut db, out) = ctx.db_out();
    let s = match get::<Stream>(&mut db, key)? {
        Some(s) => s,
        None => {
            if nomkstream {
                out.null();
                ctx.propagate_nothing();
                return Ok(());
            }
            db.set(key, Value::Stream(Box::default()), NO_EXPIRE);
            get::<Stream>(&mut db, key)?.expect("just created")
        }
    };
    let last = s.last_id;
    let too_small =
        || CmdError::msg("ERR The ID specified in XADD is equal or smaller than the target stream top item");
    if last == StreamId::MAX {
        return Err(CmdError::msg("ERR The stream has exhausted the last possible ID, unable to add more items"));
    }
    let id = match id_arg {
        None => {
            if now > last.ms {
                StreamId::new(now, 0)
            } else {
                last.incr().unwrap()
            }
        }
        Some(IdArg::MsAuto(ms)) => {
            if ms > last.ms {
                StreamId::new(ms, 0)
            } else if ms == last.ms {
                if last.seq == u64::MAX {
                    // Redis's reply when the sequence part would overflow.
                    return Err(CmdError::msg("ERR Elements are too large to be stored"));
                }
                StreamId::new(ms, last.seq + 1)
            } else {
                return Err(too_small());
            }
        }
        Some(IdArg::MsOnly(ms)) => StreamId::new(ms, 0),
        Some(IdArg::Full(id)) => id,
    };
    if id <= last {
        return Err(too_small());
    }
    s.append(id, fields, max_entries, max_bytes);
    let trimmed = trim.apply(s, max_entries);
    write_id(out, id);
    // Propagated with the ID it generated and exact trimming (as Redis), so a replay adds the
    // same entry and keeps the same entries.
    let generated = !matches!(id_arg, Some(IdArg::Full(_)) | Some(IdArg::MsOnly(_)));
    let prop = (generated || trim.approx) && propagating;
    let mut prop_args: Vec<Vec<u8>> = Vec::new();
    if prop {
        prop_args = args.iter().map(|a| a.to_vec()).collect();
        if generated {
            prop_args[id_at] = id.fmt();
        }
        trim.propagated(&mut prop_args, s);
    }
    db.touch(key);
    // Readers blocked on the stream (XREAD / XREADGROUP BLOCK) are served after this command.
    // A waiter on this key registered while holding its shard's lock, which we hold now, so
    // the relaxed count read here sees it; with no one blocked anywhere, skip the key hashing.
    if db.ks.blocked.any() {
        blocking::signal_ready(&mut db, key);
    }
    if prop {
        ctx.propagate(&prop_args);
    }
    ctx.notify(notify::STREAM, "xadd", key);
    if trimmed > 0 {
        ctx.notify(notify::STREAM, "xtrim", key);
    }
    Ok(())
}

pub(super) fn xdel(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut db = ctx.db();
    let mut n = 0;
    // As Redis: a missing key deletes nothing (0) and the type is checked before the IDs are
    // parsed (all of them before anything is deleted).
    if let Some(s) = get::<Stream>(&mut db, args[1])? {
        let ids = args[2..].iter().map(|a| parse_id(a, true, 0)).collect::<Result<Vec<_>, _>>()?;
        for id in ids {
            n += s.delete(id) as i64;
        }
        if n > 0 {
            db.touch(args[1]);
        }
    }
    ctx.out.int(n);
    if n > 0 {
        ctx.notify(notify::STREAM, "xdel", args[1]);
    } else {
        ctx.propagate_nothing();
    }
    Ok(())
}

pub(super) fn xtrim(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut trim = TrimArgs::default();
    let mut c = Cursor::new(args, 2);
    while !c.is_empty() {
        if !trim.parse(&mut c)? {
            return Err(CmdError::Syntax);
        }
    }
    trim.check(crate::persist::state().loading.load(std::sync::atomic::Ordering::Relaxed))?;
    if trim.strategy.is_none() {
        return Err(CmdError::Syntax);
    }
    let (max_entries, _) = node_limits(ctx);
    let mut db = ctx.db();
    let mut n = 0;
    let mut prop_args: Option<Vec<Vec<u8>>> = None;
    if let Some(s) = get::<Stream>(&mut db, args[1])? {
        n = trim.apply(s, max_entries);
        if n > 0 && trim.approx {
            let mut v: Vec<Vec<u8>> = args.iter().map(|a| a.to_vec()).collect();
            trim.propagated(&mut v, s);
            prop_args = Some(v);
        }
        if n > 0 {
            db.touch(args[1]);
        }
    }
    match prop_args {
        Some(v) => ctx.propagate(&v),
        None if n == 0 => ctx.propagate_nothing(),
        None => {}
    }
    ctx.out.int(n as i64);
    if n > 0 {
        ctx.notify(notify::STREAM, "xtrim", args[1]);
    }
    Ok(())
}

pub(super) fn xsetid(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let id = parse_id(args[2], true, 0)?;
    let mut entries_added: Option<u64> = None;
    let mut max_deleted: Option<StreamId> = None;
    let mut c = Cursor::new(args, 3);
    while !c.is_empty() {
        if let Some(n) = c.int_of("entriesadded")? {
            if n < 0 {
                return Err(CmdError::msg("ERR entries_added must be positive"));
            }
            entries_added = Some(n as u64);
        } else if let Some(m) = c.value_of("maxdeletedid") {
            let m = parse_id(m, true, 0)?;
            if id < m {
                return Err(CmdError::msg(
                    "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id",
                ));
            }
            max_deleted = Some(m);
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let mut db = ctx.db();
    let Some(s) = get::<Stream>(&mut db, args[1])? else { return Err(CmdError::NoSuchKey) };
    if let Some(n) = entries_added {
        if s.len() > n {
            return Err(CmdError::msg(
                "ERR The entries_added specified in XSETID is smaller than the target stream length",
            ));
        }
    }
    if !s.is_empty() {
        let top = s.last_entry().map(|e| e.0).unwrap_or_default();
        if id < top {
            return Err(CmdError::msg("ERR The ID specified in XSETID is smaller than the target stream top item"));
        }
    }
    s.last_id = id;
    if let Some(n) = entries_added {
        s.entries_added = n;
    }
    if let Some(m) = max_deleted {
        s.max_deleted_id = m;
    }
    db.touch(args[1]);
    ctx.out.ok();
    ctx.notify(notify::STREAM, "xsetid", args[1]);
    Ok(())
}
