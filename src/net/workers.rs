//! The I/O workers: one thread per core, each running a single-threaded tokio runtime, and
//! where connections run.
//!
//! A connection runs on one worker at a time: no work stealing, no cross-thread wake-ups on the
//! request path, the worker that reads a request executes it and writes its reply.
//!
//! **Placement follows load.** Spreading connections over every core costs CPU when the load
//! is light: each worker then wakes for a few events at a time, and a wake-up (epoll wait,
//! context switch) costs as much as a request. Measured on 2 cores with redis-benchmark
//! (`-c 50 -P 1` GET), server CPU per request with 50 connections spread over both workers
//! against all of them on one: 11.4–12.2 µs against 7.0–8.2 in a first run (Redis 7.6–7.8),
//! 10.6 against 9.35 averaged over four interleaved rounds (Redis 9.8). So a new connection goes
//! to the lowest-numbered worker that has room (CPU use under [`ROOM`] over the last tick), and
//! load that outgrows a worker moves: a balancer measures every worker's CPU time (its thread's
//! CPU clock) each [`TICK`]; when a worker is busier than [`HOT`] while another is under
//! [`COOL`] and the machine has an idle core ([`IDLE_NEEDED`], from `/proc/stat`), for
//! [`SUSTAIN`] ticks in a row, it asks a quarter of the busy worker's connections to move
//! there. Such a spread is on probation for [`TRIAL_TICKS`]: unless the rate of commands
//! rose by [`GAIN`] (it does not when every core is busy or the clients are the limit, and
//! then a second worker only adds wake-ups and shard-lock contention), the connections move
//! back and no spread is tried for [`COOLDOWN_TICKS`]. When the whole load fits under
//! [`COOL`] again, the other workers' connections move back to the first. A connection moves
//! itself between two batches, when it has no reply pending (`conn`): it deregisters its socket
//! from its worker's reactor, and its task continues on the other worker with the same state
//! (read buffer, parser, transaction, watched keys, subscriptions and mailbox). Subscribers
//! waiting for input are woken when moves are asked for ([`shed_asked`]), so one that only
//! receives moves too: a large fan-out is then written by several threads, and a
//! subscriber stranded on a second worker by a burst comes back to the first. A server under
//! heavy load thus uses every core, and a lightly loaded one runs like Redis's single loop.
//!
//! `REDSTART_PLACEMENT` (for tests and measurements) overrides the policy: `spread` places
//! connections round robin and never moves them (the policy before this module);
//! `churn` asks every movable connection to move at every tick, which tests exercise.

use std::future::Future;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// How often the balancer measures.
pub const TICK: Duration = Duration::from_millis(100);
/// A worker busier than this (share of one core) sheds connections...
pub const HOT: f64 = 0.90;
/// ... to a worker under this.
pub const COOL: f64 = 0.50;
/// Ticks a spread is on probation, the command-rate gain it must show to stay, and the ticks
/// without spreading after one is undone.
pub const TRIAL_TICKS: usize = 5;
pub const GAIN: f64 = 1.10;
pub const COOLDOWN_TICKS: u32 = 100;
/// Ticks in a row a move must be called for before it happens.
pub const SUSTAIN: u32 = 3;
/// Connections move only while the machine has this much idle CPU (cores).
pub const IDLE_NEEDED: f64 = 0.5;
/// New connections go to the first worker under this.
pub const ROOM: f64 = 0.60;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Policy {
    Pack,
    Spread,
    Churn,
}

fn policy() -> Policy {
    static P: OnceLock<Policy> = OnceLock::new();
    *P.get_or_init(|| match std::env::var("REDSTART_PLACEMENT").as_deref() {
        Ok("spread") => Policy::Spread,
        Ok("churn") => Policy::Churn,
        _ => Policy::Pack,
    })
}

/// One worker's shared state.
pub struct Worker {
    handle: tokio::runtime::Handle,
    /// The thread's CPU-time clock (set by the thread when it starts).
    clock: Arc<OnceLock<libc::clockid_t>>,
    /// CPU use over the last tick, in thousandths of a core.
    load: AtomicU32,
    /// Connections running here.
    conns: AtomicUsize,
    /// Connections asked to move, and where to.
    shed: AtomicUsize,
    shed_to: AtomicUsize,
    /// Wakes the worker's waiting subscribers when moves are asked for: one that only receives
    /// (written to by publishers) would otherwise never reach the point between batches where
    /// it moves.
    shed_wake: tokio::sync::Notify,
}

impl Worker {
    /// Asks `n` of this worker's connections to move to worker `to`.
    fn ask_to_shed(&self, to: usize, n: usize) {
        self.shed_to.store(to, Ordering::Relaxed);
        self.shed.store(n, Ordering::Relaxed);
        if n > 0 {
            self.shed_wake.notify_waiters();
        }
    }
}

pub struct Workers {
    list: Vec<Worker>,
    next: AtomicUsize,
}

static WORKERS: OnceLock<Workers> = OnceLock::new();

thread_local! {
    /// The index of the worker this thread is (none on other threads).
    static CURRENT: std::cell::Cell<Option<usize>> = const { std::cell::Cell::new(None) };
}

/// Starts `n` worker threads (once; later calls keep the first set) and the balancer thread.
pub fn start(n: usize) {
    let mut started = false;
    WORKERS.get_or_init(|| {
        started = true;
        let list = (0..n.max(1))
            .map(|i| {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .on_thread_park(super::conn::before_park)
                    .build()
                    .expect("worker runtime");
                let clock = Arc::new(OnceLock::new());
                let set_clock = clock.clone();
                let handle = rt.handle().clone();
                std::thread::Builder::new()
                    .name(format!("redstart-io-{i}"))
                    .spawn(move || {
                        CURRENT.with(|c| c.set(Some(i)));
                        let _ = set_clock.set(thread_cpu_clock());
                        rt.block_on(std::future::pending::<()>())
                    })
                    .expect("worker thread");
                Worker {
                    handle,
                    clock,
                    load: AtomicU32::new(0),
                    conns: AtomicUsize::new(0),
                    shed: AtomicUsize::new(0),
                    shed_to: AtomicUsize::new(0),
                    shed_wake: tokio::sync::Notify::new(),
                }
            })
            .collect();
        Workers { list, next: AtomicUsize::new(0) }
    });
    if started && n > 1 && policy() != Policy::Spread {
        std::thread::Builder::new().name("redstart-balance".into()).spawn(balancer).expect("balancer thread");
    }
}

/// The calling thread's CPU-time clock.
fn thread_cpu_clock() -> libc::clockid_t {
    let mut id: libc::clockid_t = 0;
    // SAFETY: `pthread_self` is always valid for the calling thread, and `id` is a valid place
    // for the clock id to be written.
    let rc = unsafe { libc::pthread_getcpuclockid(libc::pthread_self(), &mut id) };
    if rc == 0 {
        id
    } else {
        libc::CLOCK_THREAD_CPUTIME_ID
    }
}

/// CPU time of the thread whose clock is `clock`, in nanoseconds.
fn cpu_ns(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec; a clock id from `pthread_getcpuclockid` stays
    // valid while its thread lives, and worker threads live as long as the process.
    let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
    if rc != 0 {
        return 0;
    }
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Measures every worker's CPU use each tick and asks a busy worker to shed connections.
fn balancer() {
    let Some(ws) = WORKERS.get() else { return };
    let mut last: Vec<u64> = vec![0; ws.list.len()];
    let mut last_idle = None;
    let mut streak = 0;
    let mut last_calls = crate::stats::all_cmds_total(crate::stats::Cmd::Calls);
    let mut recent: std::collections::VecDeque<f64> = std::collections::VecDeque::new();
    let mut trial: Option<Trial> = None;
    let mut cooldown = 0u32;
    let mut at = std::time::Instant::now();
    loop {
        std::thread::sleep(TICK);
        let now = std::time::Instant::now();
        let wall = now.duration_since(at).as_nanos().max(1) as f64;
        at = now;
        let loads: Vec<f64> = ws
            .list
            .iter()
            .zip(last.iter_mut())
            .map(|(w, prev)| {
                let Some(&clock) = w.clock.get() else { return 0.0 };
                let t = cpu_ns(clock);
                let d = t.saturating_sub(*prev);
                *prev = t;
                let load = d as f64 / wall;
                w.load.store((load * 1000.0) as u32, Ordering::Relaxed);
                load
            })
            .collect();
        for w in &ws.list {
            w.shed.store(0, Ordering::Relaxed);
        }
        if policy() == Policy::Churn {
            for (i, w) in ws.list.iter().enumerate() {
                w.ask_to_shed((i + 1) % ws.list.len(), w.conns.load(Ordering::Relaxed));
            }
            continue;
        }
        let calls = crate::stats::all_cmds_total(crate::stats::Cmd::Calls);
        let rate = calls.saturating_sub(last_calls) as f64 / (wall / 1e9);
        last_calls = calls;
        recent.push_back(rate);
        if recent.len() > SUSTAIN as usize {
            recent.pop_front();
        }
        // A spread on probation: undone if the command rate did not rise (on a machine whose
        // cores are all busy, or a load limited by its clients, a second worker only adds
        // wake-ups and lock contention), and no spread is tried again for a while.
        if let Some(t) = trial.as_mut() {
            t.rates.push(rate);
            if t.rates.len() < TRIAL_TICKS {
                continue;
            }
            let t = trial.take().expect("trial");
            let paid = spread_paid(t.rate_before, &t.rates);
            crate::log::verbose(&format!(
                "I/O thread {} -> {}: {} connections moved, commands/s {:.0} before, {:.0} after: {}",
                t.from,
                t.to,
                t.moved,
                t.rate_before,
                mean(t.rates.iter()),
                if paid { "kept" } else { "moving them back" }
            ));
            if !paid {
                ws.list[t.to].ask_to_shed(t.from, t.moved);
                cooldown = COOLDOWN_TICKS;
                streak = 0;
                continue;
            }
        }
        cooldown = cooldown.saturating_sub(1);
        // Moving load to another worker only helps if a core is free to run it.
        // Both must hold for [`SUSTAIN`] ticks in a row, so a burst (clients connecting, a
        // benchmark starting) moves nothing.
        let idle = idle_cores(&mut last_idle, wall);
        let conns: Vec<usize> = ws.list.iter().map(|w| w.conns.load(Ordering::Relaxed)).collect();
        let spread = rebalance(&loads, &conns).filter(|_| idle >= IDLE_NEEDED && cooldown == 0);
        let decision = spread.or_else(|| consolidate(&loads, &conns));
        streak = if decision.is_some() { streak + 1 } else { 0 };
        if streak < SUSTAIN {
            continue;
        }
        streak = 0;
        if let Some((from, to, n)) = decision {
            ws.list[from].ask_to_shed(to, n);
            if spread.is_some() {
                let rate_before = mean(recent.iter());
                trial = Some(Trial { from, to, moved: n, rate_before, rates: Vec::new() });
            }
        }
    }
}

/// A spread on probation (see the balancer).
struct Trial {
    from: usize,
    to: usize,
    moved: usize,
    rate_before: f64,
    rates: Vec<f64>,
}

/// Whether a spread paid for itself: the command rate over the ticks after it is at least
/// [`GAIN`] times the rate before it.
pub fn spread_paid(rate_before: f64, rates_after: &[f64]) -> bool {
    !rates_after.is_empty() && mean(rates_after.iter()) >= rate_before * GAIN
}

/// The mean of some rates (0 for none).
fn mean<'a>(xs: impl ExactSizeIterator<Item = &'a f64>) -> f64 {
    let n = xs.len().max(1) as f64;
    xs.sum::<f64>() / n
}

/// Idle CPU of the whole machine since the last call, in cores (`/proc/stat`: idle + iowait).
/// Unknown (no `/proc`): as if plenty were idle.
fn idle_cores(last: &mut Option<u64>, wall_ns: f64) -> f64 {
    let Some(now) = proc_stat_head().and_then(|s| parse_idle(&s)) else {
        return f64::MAX;
    };
    let prev = last.replace(now);
    let Some(prev) = prev else { return 0.0 };
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    now.saturating_sub(prev) as f64 / hz / (wall_ns / 1e9)
}

/// The start of `/proc/stat`, which holds the `cpu` line, in one `read` (reading the whole file
/// would take a dozen, every tick).
fn proc_stat_head() -> Option<String> {
    use std::io::Read;
    let mut buf = [0u8; 1024];
    let n = std::fs::File::open("/proc/stat").ok()?.read(&mut buf).ok()?;
    Some(String::from_utf8_lossy(&buf[..n]).into_owned())
}

/// Idle + iowait ticks from the `cpu` line of `/proc/stat`.
fn parse_idle(stat: &str) -> Option<u64> {
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let f: Vec<u64> = line.split_whitespace().skip(1).filter_map(|x| x.parse().ok()).collect();
    Some(f.get(3)? + f.get(4).copied().unwrap_or(0))
}

/// The balancer's decision from each worker's CPU use (share of a core) and connection count:
/// move `n` connections from worker `from` to worker `to`, or nothing. The busiest worker
/// sheds a quarter of its connections when it is over [`HOT`] and the least busy is under
/// [`COOL`].
pub fn rebalance(loads: &[f64], conns: &[usize]) -> Option<(usize, usize, usize)> {
    let hot = (0..loads.len()).max_by(|&a, &b| loads[a].total_cmp(&loads[b]))?;
    let cool = (0..loads.len()).min_by(|&a, &b| loads[a].total_cmp(&loads[b]))?;
    let n = conns.get(hot).copied().unwrap_or(0);
    (hot != cool && loads[hot] > HOT && loads[cool] < COOL && n >= 2).then_some((hot, cool, (n / 4).max(1)))
}

/// Runs a new connection's future on the worker the policy picks (or on the current runtime
/// if no workers were started, as in unit tests).
pub fn spawn_new<F>(fut: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    let Some(ws) = WORKERS.get() else {
        tokio::spawn(fut);
        return;
    };
    let n = ws.list.len();
    let i = match policy() {
        Policy::Spread | Policy::Churn => ws.next.fetch_add(1, Ordering::Relaxed) % n,
        Policy::Pack => {
            let room = (ROOM * 1000.0) as u32;
            ws.list
                .iter()
                .position(|w| w.load.load(Ordering::Relaxed) < room)
                .unwrap_or_else(|| (0..n).min_by_key(|&i| ws.list[i].load.load(Ordering::Relaxed)).unwrap_or(0))
        }
    };
    ws.list[i].conns.fetch_add(1, Ordering::Relaxed);
    ws.list[i].handle.spawn(fut);
}

/// The index of the worker the calling thread is, if it is one.
pub fn current() -> Option<usize> {
    CURRENT.with(|c| c.get())
}

/// The worker a connection running on this thread should move to, if its worker is shedding
/// load; claims one of the moves asked for. One relaxed load when nothing is asked.
pub fn should_move() -> Option<usize> {
    let i = current()?;
    let w = WORKERS.get()?.list.get(i)?;
    if w.shed.load(Ordering::Relaxed) == 0 {
        return None;
    }
    w.shed.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1)).ok()?;
    let to = w.shed_to.load(Ordering::Relaxed);
    (to != i).then_some(to)
}

/// Resolves when the calling thread's worker is asked to shed connections (never, on a thread
/// that is not a worker): a subscriber waiting for input awaits it too, and goes back to the
/// point where [`should_move`] is checked. A request made between that check and the wait is
/// missed by that connection; the balancer asks again on a later tick if it still needs to.
pub async fn shed_asked() {
    match current().and_then(|i| WORKERS.get()?.list.get(i)) {
        Some(w) => w.shed_wake.notified().await,
        None => std::future::pending().await,
    }
}

static MOVES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Connections moved between workers since start (INFO `redstart_client_moves`).
pub fn moves() -> u64 {
    MOVES.load(Ordering::Relaxed)
}

/// Runs a moving connection's future on worker `to`, and moves its count.
pub fn spawn_moved<F>(to: usize, fut: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    let Some(ws) = WORKERS.get() else {
        tokio::spawn(fut);
        return;
    };
    if let Some(i) = current() {
        ws.list[i].conns.fetch_sub(1, Ordering::Relaxed);
    }
    ws.list[to].conns.fetch_add(1, Ordering::Relaxed);
    MOVES.fetch_add(1, Ordering::Relaxed);
    ws.list[to].handle.spawn(fut);
}

/// A connection on this thread ended.
pub fn conn_closed() {
    if let (Some(i), Some(ws)) = (current(), WORKERS.get()) {
        ws.list[i].conns.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Per worker: (connections, CPU use in thousandths of a core), for tests and INFO.
pub fn snapshot() -> Vec<(usize, u32)> {
    WORKERS
        .get()
        .map(|ws| ws.list.iter().map(|w| (w.conns.load(Ordering::Relaxed), w.load.load(Ordering::Relaxed))).collect())
        .unwrap_or_default()
}

/// The other half of the balancer: when the whole load would fit in one worker with room to
/// spare (together under [`COOL`]), the connections of the highest-numbered worker that has
/// any go back to worker 0, so a server whose burst has passed runs on one thread again.
pub fn consolidate(loads: &[f64], conns: &[usize]) -> Option<(usize, usize, usize)> {
    let from = (1..conns.len()).rev().find(|&i| conns[i] > 0)?;
    (loads.iter().sum::<f64>() < COOL).then_some((from, 0, conns[from]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spread_stays_only_if_the_command_rate_rose() {
        assert!(spread_paid(100_000.0, &[120_000.0, 115_000.0, 118_000.0]));
        assert!(!spread_paid(100_000.0, &[101_000.0, 99_000.0, 104_000.0]));
        assert!(!spread_paid(100_000.0, &[]));
    }

    #[test]
    fn a_light_load_goes_back_to_the_first_worker() {
        assert_eq!(consolidate(&[0.2, 0.1, 0.05], &[10, 4, 2]), Some((2, 0, 2)));
        assert_eq!(consolidate(&[0.2, 0.1, 0.0], &[10, 4, 0]), Some((1, 0, 4)));
        // Already on one worker, or too busy to fit on one.
        assert_eq!(consolidate(&[0.3, 0.0], &[10, 0]), None);
        assert_eq!(consolidate(&[0.4, 0.3], &[10, 10]), None);
        assert_eq!(consolidate(&[0.1], &[3]), None);
    }

    #[test]
    fn a_saturated_worker_sheds_a_quarter_to_the_least_busy() {
        assert_eq!(rebalance(&[0.95, 0.1, 0.3], &[40, 3, 5]), Some((0, 1, 10)));
        assert_eq!(rebalance(&[0.2, 0.97], &[1, 3]), Some((1, 0, 1)));
    }

    #[test]
    fn idle_ticks_from_proc_stat() {
        let stat = "cpu  100 5 50 1000 20 0 3 0 0 0\ncpu0 50 2 25 500 10 0 1 0 0 0\n";
        assert_eq!(parse_idle(stat), Some(1020));
        assert_eq!(parse_idle("intr 1 2 3"), None);
        // The one-read head of the real file holds the line.
        assert!(proc_stat_head().and_then(|s| parse_idle(&s)).is_some());
    }

    #[test]
    fn nothing_moves_without_a_saturated_worker_and_a_cool_one() {
        // Busy but not saturated: one worker serves it (fewer wake-ups per request).
        assert_eq!(rebalance(&[0.85, 0.0], &[50, 0]), None);
        // Every worker busy: moving would not help.
        assert_eq!(rebalance(&[0.95, 0.9], &[25, 25]), None);
        // A single connection cannot be split.
        assert_eq!(rebalance(&[0.99, 0.0], &[1, 0]), None);
        assert_eq!(rebalance(&[0.99], &[10]), None);
        assert_eq!(rebalance(&[], &[]), None);
    }
}
