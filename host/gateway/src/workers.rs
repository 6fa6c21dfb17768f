//! Session workers: a few single-threaded async runtimes, each on its own
//! OS thread, that proxy sessions pinned to them for life.
//!
//! **Why.** A proxied query is two short hops (client → gateway → upstream
//! and back), each a socket becoming readable and a task waking. On a
//! work-stealing runtime those wakeups often cross threads (the task was
//! last polled on another worker, or a parked worker is unparked to steal
//! it), which costs a futex and a context switch per hop and dominated the
//! gateway's CPU profile under pgbench. A session pinned to one
//! current-thread runtime is woken by that thread's own `epoll_wait`: no
//! cross-thread handoff on the hot path. Sessions are independent, so
//! nothing is lost by not stealing them: the pool spreads them when they
//! start (to the worker with the fewest live sessions).
//!
//! **Pinning.** With a worker for every core the process may run on (the
//! default), worker N is pinned to the Nth of those cores: the kernel
//! never migrates it, so its sessions' sockets, buffers and plugin
//! instances stay in one core's caches, and the peers it wakes (clients,
//! database backends) are placed by the scheduler around a thread that
//! does not move. Measured with `bench/pgbench.sh` (pgbench -S, 8
//! clients, a 2-core machine also running pgbench and PostgreSQL), this
//! build against itself unpinned, side by side, interleaved, 3 rounds:
//! pinned was ahead in all six pairs, by 8–18% (simple protocol) and
//! 7–33% (prepared), and pgbench's p50 latency was lower in each
//! (42–95 µs against 48–186 µs). `gateway.pin_session_threads = false`
//! leaves placement to the kernel (for a host where the gateway shares its
//! cores with other busy work); fewer workers than cores are not pinned
//! unless asked, so the kernel can still move them off a busy core.
//!
//! **Invariants.** A session's futures run on exactly one worker thread
//! from accept to close; its sockets are registered with that worker's
//! reactor (the accepted socket is moved across as a `std` socket and
//! re-registered there). Each worker has its own timer driver, so plugin
//! deadlines and backstop timeouts work as on any runtime; blocking work
//! (DNS lookups in `connect`) goes to the worker runtime's blocking pool.
//!
//! **Failure modes.** A worker thread that cannot start fails
//! [`SessionWorkers::start`]. Dropping the pool stops every worker: their
//! runtimes are shut down and live sessions are dropped (sockets closed),
//! which is what stopping a gateway means. A panicking session task is
//! contained by its runtime like on any tokio runtime (the session ends,
//! the worker goes on).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;
use tokio::sync::oneshot;

/// The pool of session workers.
pub struct SessionWorkers {
    workers: Vec<Worker>,
}

struct Worker {
    handle: tokio::runtime::Handle,
    /// Sessions currently running on this worker.
    live: Arc<AtomicUsize>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

/// The number of workers to use when the operator does not say: one per
/// core the process may run on.
///
/// Proxying is mostly system calls; the kernel's TCP work for each hop and
/// the processes at both ends (clients, the database) need CPU too, so the
/// answer depends on how much the gateway does per query besides relaying.
/// Measured with `bench/pgbench.sh` (pgbench -S, 8 clients, a 2-core
/// machine running client, gateway and PostgreSQL), one build run twice
/// side by side, interleaved, differing only in this setting (3 rounds,
/// medians; then again with the roles swapped):
/// * prepared protocol: two threads 42985 and 42451 TPS, 1.05x and 1.07x
///   pgbouncer's; one thread 31466 and 34814 TPS (0.77x, 0.87x) — one
///   thread is the serialisation point once the session record costs
///   little;
/// * simple protocol (every query an audit event): 25170 vs 24800 and
///   25185 vs 26262 TPS, the same within the noise;
/// * gateway CPU per transaction: the same either way (20–31 µs).
///
/// An earlier build, whose session record cost several times more per
/// query, measured the opposite (one thread 0.85–0.89x pgbouncer, two
/// 0.62–0.72x): on a host of its own, or with different clients, measure
/// (`gateway.session_threads`). A single session always runs on one
/// thread, so the setting does not change one client's latency.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

impl SessionWorkers {
    /// Start `threads` workers (at least one), named `gatehouse-session-N`.
    /// Pinned (`pin`, or by default when there is a worker for every core
    /// the process may run on), worker N runs only on the Nth of those
    /// cores, modulo their number (see [`pin_to_core`]).
    pub fn start(threads: usize, pin: Option<bool>) -> std::io::Result<Self> {
        let cores = match pin {
            Some(false) => Vec::new(),
            Some(true) => allowed_cores(),
            None => {
                let allowed = allowed_cores();
                if threads.max(1) >= allowed.len() {
                    allowed
                } else {
                    Vec::new()
                }
            }
        };
        let mut workers = Vec::with_capacity(threads.max(1));
        for index in 0..threads.max(1) {
            let core = (!cores.is_empty()).then(|| cores[index % cores.len()]);
            // I/O and timers only: sessions spawn no processes and wait for
            // no signals (the main runtime does), and a process driver would
            // look for exited children at every park.
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_io()
                .enable_time()
                .thread_name(format!("gatehouse-session-{index}-blocking"))
                .build()?;
            let handle = runtime.handle().clone();
            let (stop, stopped) = oneshot::channel::<()>();
            let thread = std::thread::Builder::new()
                .name(format!("gatehouse-session-{index}"))
                .spawn(move || {
                    if let Some(core) = core {
                        pin_to_core(index, core);
                    }
                    // Drive the worker until told to stop (or the pool is
                    // dropped, which drops the sender).
                    let _ = runtime.block_on(stopped);
                    runtime.shutdown_background();
                })?;
            workers.push(Worker {
                handle,
                live: Arc::new(AtomicUsize::new(0)),
                stop: Some(stop),
                thread: Some(thread),
            });
        }
        Ok(Self { workers })
    }

    pub fn threads(&self) -> usize {
        self.workers.len()
    }

    /// Run a session on the worker with the fewest live sessions, to its
    /// end. The future is first polled on that worker's thread, so sockets
    /// it creates or adopts (`TcpStream::from_std`) register with that
    /// worker's reactor.
    pub fn spawn<F>(&self, session: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let worker = self
            .workers
            .iter()
            .min_by_key(|w| w.live.load(Ordering::Relaxed))
            .expect("at least one worker");
        let live = worker.live.clone();
        live.fetch_add(1, Ordering::Relaxed);
        let guard = LiveGuard(live);
        worker.handle.spawn(async move {
            let _guard = guard;
            session.await
        });
    }
}

/// The cores the calling thread may run on (its affinity mask, inherited
/// from the thread that created it: at startup, the process's), in order;
/// empty when the mask cannot be read (then nothing is pinned).
fn allowed_cores() -> Vec<usize> {
    // SAFETY: `set` is a plain bitmask owned here; `sched_getaffinity`
    // writes at most `size_of::<cpu_set_t>()` bytes into it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            tracing::warn!(error = %std::io::Error::last_os_error(),
                "could not read the process's CPU affinity; session threads are not pinned");
            return Vec::new();
        }
        (0..libc::CPU_SETSIZE as usize)
            .filter(|&core| libc::CPU_ISSET(core, &set))
            .collect()
    }
}

/// Restrict the calling thread (session worker `index`) to `core`. A
/// failure is logged and the worker runs unpinned: pinning is a
/// performance setting, never a reason not to serve.
fn pin_to_core(index: usize, core: usize) {
    // SAFETY: as in `allowed_cores`; pid 0 is the calling thread.
    let pinned = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(core, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) == 0
    };
    if pinned {
        tracing::debug!(worker = index, core, "session thread pinned");
    } else {
        tracing::warn!(worker = index, core, error = %std::io::Error::last_os_error(),
            "could not pin a session thread; it runs unpinned");
    }
}

/// Decrements a worker's live count when its session ends (or is dropped
/// because the worker stopped).
struct LiveGuard(Arc<AtomicUsize>);

impl Drop for LiveGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Drop for SessionWorkers {
    fn drop(&mut self) {
        for worker in &mut self.workers {
            if let Some(stop) = worker.stop.take() {
                let _ = stop.send(());
            }
        }
        for worker in &mut self.workers {
            if let Some(thread) = worker.thread.take()
                && thread.thread().id() != std::thread::current().id()
            {
                let _ = thread.join();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cores this test may run on; never empty, so no assertion below
    /// holds for want of a mask.
    fn cores() -> Vec<usize> {
        let allowed = allowed_cores();
        assert!(!allowed.is_empty(), "the affinity mask could not be read");
        allowed
    }

    /// The affinity each worker's thread has, by spawning a session on
    /// every worker: sessions go to the least busy one, and each stays live
    /// (pending) until the pool is dropped.
    fn worker_affinities(workers: &SessionWorkers) -> Vec<Vec<usize>> {
        let (report, reports) = std::sync::mpsc::channel();
        for _ in 0..workers.threads() {
            let report = report.clone();
            workers.spawn(async move {
                report.send(allowed_cores()).unwrap();
                std::future::pending::<()>().await
            });
        }
        let mut seen: Vec<Vec<usize>> = (0..workers.threads())
            .map(|_| {
                reports
                    .recv_timeout(std::time::Duration::from_secs(10))
                    .unwrap()
            })
            .collect();
        seen.sort();
        seen
    }

    #[test]
    fn a_worker_per_core_is_pinned_to_its_own_core_by_default() {
        let allowed = cores();
        let workers = SessionWorkers::start(allowed.len(), None).unwrap();
        let mut expected: Vec<Vec<usize>> = allowed.iter().map(|&core| vec![core]).collect();
        expected.sort();
        assert_eq!(worker_affinities(&workers), expected);
    }

    #[test]
    fn unpinned_workers_keep_the_process_affinity() {
        let allowed = cores();
        let workers = SessionWorkers::start(allowed.len(), Some(false)).unwrap();
        assert!(
            worker_affinities(&workers)
                .iter()
                .all(|cores| *cores == allowed)
        );
        if allowed.len() > 1 {
            // Fewer workers than cores: not pinned unless asked.
            let one = SessionWorkers::start(1, None).unwrap();
            assert_eq!(worker_affinities(&one), vec![allowed.clone()]);
            let pinned = SessionWorkers::start(1, Some(true)).unwrap();
            assert_eq!(worker_affinities(&pinned), vec![vec![allowed[0]]]);
        }
    }
}
