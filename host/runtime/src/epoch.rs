//! The thread that advances the engine's epoch, and how it learns that
//! plugin code may be running, so that it sleeps while none can.
//!
//! Hook deadlines are enforced by epoch interruption (`engine.rs`,
//! `instance.rs`): guest code checks the epoch as it runs, and a deadline is
//! noticed at the first tick after it passes. The ticker therefore must
//! tick whenever a guest call is in flight, including one waiting on an
//! async host call (an HTTP request made by a plugin), which may return to
//! guest code that then spins. Between calls it has nothing to do: an idle
//! gateway should not wake a thousand times a second.
//!
//! **How.** Every entry into guest code holds a [`Busy`] guard for its whole
//! duration ([`busy`]). Guards count on a per-thread shard (two uncontended
//! atomic adds, no shared cache line on the per-query path): calls in
//! flight, and calls started. After [`IDLE_TICKS`] ticks in which no call was
//! in flight or started, the ticker parks; the next [`busy`] unparks it.
//!
//! **Invariant** (no lost wake-up): the ticker announces it is asleep
//! *before* its last look at the shards, and a caller counts itself in
//! *before* it looks for sleepers, both sequentially consistent; so either
//! the ticker sees the call and stays awake, or the caller sees the sleeper
//! and wakes it. A guard that moves to another thread with its future
//! (tokio work stealing) still decrements the shard it counted on.
//!
//! The shards are process-wide: a call in any runtime keeps every ticker
//! awake (tests build several runtimes; a gateway has one).

use std::cell::OnceCell;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::Thread;
use std::time::Duration;
use wasmtime::Engine;

/// Ticks without any guest call before the ticker parks (100 ms at the
/// default 1 ms tick).
pub const IDLE_TICKS: u32 = 100;

/// One thread's count of guest calls, on a cache line of its own.
#[repr(align(128))]
#[derive(Default)]
struct Shard {
    in_flight: AtomicU64,
    started: AtomicU64,
}

/// Every thread's shard (a thread's stays while a guard from it lives).
static SHARDS: Mutex<Vec<Arc<Shard>>> = Mutex::new(Vec::new());
/// The tickers that exist, and how many of them are parked.
static TICKERS: Mutex<Vec<Arc<TickerState>>> = Mutex::new(Vec::new());
static PARKED: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static LOCAL: OnceCell<Arc<Shard>> = const { OnceCell::new() };
}

/// Guest code may run while this lives.
#[must_use = "guest code may only run while the guard lives"]
pub struct Busy(Arc<Shard>);

/// Count a guest call in (wake a parked ticker); it is counted out when
/// the guard drops.
pub fn busy() -> Busy {
    // A call from a thread whose locals are being torn down counts on a
    // shard of its own.
    let shard = LOCAL
        .try_with(|local| local.get_or_init(new_shard).clone())
        .unwrap_or_else(|_| new_shard());
    shard.in_flight.fetch_add(1, SeqCst);
    shard.started.fetch_add(1, SeqCst);
    if PARKED.load(SeqCst) > 0 {
        for ticker in lock(&TICKERS).iter() {
            ticker.wake();
        }
    }
    Busy(shard)
}

/// A shard, registered.
fn new_shard() -> Arc<Shard> {
    let shard = Arc::new(Shard::default());
    lock(&SHARDS).push(shard.clone());
    shard
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, SeqCst);
    }
}

/// (calls in flight, calls started so far) over every thread; shards of
/// threads that are gone and hold no call are dropped.
fn activity() -> (u64, u64) {
    let mut shards = lock(&SHARDS);
    shards.retain(|shard| Arc::strong_count(shard) > 1 || shard.in_flight.load(SeqCst) > 0);
    shards.iter().fold((0, 0), |(in_flight, started), shard| {
        (
            in_flight + shard.in_flight.load(SeqCst),
            started + shard.started.load(SeqCst),
        )
    })
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

struct TickerState {
    parked: AtomicBool,
    stop: AtomicBool,
    thread: OnceLock<Thread>,
    /// Ticks so far (tests).
    ticks: AtomicU64,
}

impl TickerState {
    /// Unpark the ticker if it is parked.
    fn wake(&self) {
        if self.parked.swap(false, SeqCst) {
            PARKED.fetch_sub(1, SeqCst);
            if let Some(thread) = self.thread.get() {
                thread.unpark();
            }
        }
    }

    /// Park unless a call is in flight or started since `seen`; returns
    /// once woken (or at once, if there was activity).
    fn park_unless_active(&self, seen: u64) {
        PARKED.fetch_add(1, SeqCst);
        self.parked.store(true, SeqCst);
        let (in_flight, started) = activity();
        if in_flight > 0 || started != seen {
            self.wake();
            return;
        }
        while self.parked.load(SeqCst) && !self.stop.load(SeqCst) {
            std::thread::park();
        }
    }
}

/// Advances the engine's epoch every tick while guest code may run, until
/// dropped.
pub struct EpochTicker {
    state: Arc<TickerState>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl EpochTicker {
    pub fn start(engine: &Engine, tick: Duration) -> Self {
        let state = Arc::new(TickerState {
            parked: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            thread: OnceLock::new(),
            ticks: AtomicU64::new(0),
        });
        let engine = engine.weak();
        let ticking = state.clone();
        let thread = std::thread::Builder::new()
            .name("gatehouse-epoch".into())
            .spawn(move || {
                let mut quiet = 0;
                let mut seen = 0;
                while !ticking.stop.load(SeqCst) {
                    std::thread::sleep(tick);
                    match engine.upgrade() {
                        Some(engine) => engine.increment_epoch(),
                        None => break,
                    }
                    ticking.ticks.fetch_add(1, SeqCst);
                    let (in_flight, started) = activity();
                    if in_flight > 0 || started != seen {
                        quiet = 0;
                        seen = started;
                    } else if quiet < IDLE_TICKS {
                        quiet += 1;
                    } else {
                        ticking.park_unless_active(seen);
                        quiet = 0;
                    }
                }
            })
            .expect("spawning the epoch ticker thread");
        let _ = state.thread.set(thread.thread().clone());
        lock(&TICKERS).push(state.clone());
        Self {
            state,
            thread: Some(thread),
        }
    }

    /// Ticks so far.
    #[cfg(test)]
    fn ticks(&self) -> u64 {
        self.state.ticks.load(SeqCst)
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.state.stop.store(true, SeqCst);
        self.state.wake();
        lock(&TICKERS).retain(|ticker| !Arc::ptr_eq(ticker, &self.state));
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    const TICK: Duration = Duration::from_millis(1);

    /// Wait until `ticker` has not ticked for a while (it parked); false if
    /// it kept ticking for `within`.
    fn parks_within(ticker: &EpochTicker, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            let before = ticker.ticks();
            std::thread::sleep(Duration::from_millis(30));
            if ticker.ticks() == before {
                return true;
            }
        }
        false
    }

    // One test: the shards are process-wide, so tests running calls in
    // parallel would keep each other's tickers awake.
    #[test]
    fn the_ticker_parks_when_idle_ticks_through_a_call_and_wakes_for_the_next() {
        let engine = Engine::default();
        let ticker = EpochTicker::start(&engine, TICK);
        assert!(
            parks_within(&ticker, Duration::from_secs(20)),
            "an idle ticker parks"
        );

        // A call in flight (an async host call, say) wakes it and keeps
        // it ticking past the idle window.
        let call = busy();
        let before = ticker.ticks();
        let deadline = Instant::now() + Duration::from_secs(20);
        while ticker.ticks() < before + 3 * u64::from(IDLE_TICKS) {
            assert!(Instant::now() < deadline, "stopped ticking during a call");
            std::thread::sleep(Duration::from_millis(10));
        }

        // A guard dropped on another thread (a future that moved) counts out.
        std::thread::spawn(move || drop(call)).join().unwrap();
        assert!(parks_within(&ticker, Duration::from_secs(20)));
        drop(ticker);
    }
}
