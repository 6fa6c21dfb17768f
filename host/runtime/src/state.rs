//! What each plugin instance's `Store` holds, and the resource limiter that
//! enforces its memory cap.
//!
//! One store per plugin instance, so that each has its own memory cap,
//! deadline and WASI context (no shared ambient state between plugins or
//! sessions). The WASI context grants nothing by default: no environment,
//! no arguments, no preopened directory, no sockets or name lookups; stdout
//! is discarded and stderr is kept (bounded) so a panic message can be
//! quoted in the fault reason. The only directory is the `files` grant,
//! preopened through cap-std as `/data`.

use crate::clock::{Clock, WasiWallClock};
use crate::grants::Grants;
use crate::http::{AllowedPrefix, HttpClient};
use crate::kv::KeyValueStore;
use std::sync::Arc;
use std::time::{Duration, Instant};
use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

/// Bytes of guest stderr kept per instance (enough for a panic message).
const STDERR_CAPTURE_BYTES: usize = 4 << 10;

/// Everything a binding's instances share: who the plugin is, its config
/// and its grants. Built once per binding, shared by all its instances.
pub struct BindingContext {
    pub plugin: String,
    pub config: Arc<str>,
    pub grants: Grants,
    pub http_allowlist: Vec<AllowedPrefix>,
}

/// Host services shared by the whole runtime.
#[derive(Clone)]
pub struct HostServices {
    pub clock: Arc<dyn Clock>,
    pub kv: Arc<dyn KeyValueStore>,
    pub http: HttpClient,
}

/// The data of one plugin instance's store.
pub struct PluginState {
    pub(crate) binding: Arc<BindingContext>,
    pub(crate) services: HostServices,
    pub(crate) session_id: Option<Arc<str>>,
    pub(crate) limiter: MemoryCap,
    /// The running hook call's budget (see [`CallDeadline`]).
    pub(crate) deadline: CallDeadline,
    pub(crate) stderr: MemoryOutputPipe,
    wasi: WasiCtx,
    table: ResourceTable,
}

impl PluginState {
    pub(crate) fn new(
        binding: Arc<BindingContext>,
        services: HostServices,
        session_id: Option<Arc<str>>,
        memory_cap: usize,
    ) -> anyhow::Result<Self> {
        let stderr = MemoryOutputPipe::new(STDERR_CAPTURE_BYTES);
        let mut wasi = WasiCtxBuilder::new();
        wasi.stderr(stderr.clone())
            .wall_clock(WasiWallClock(services.clock.clone()))
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false);
        if let Some(dir) = &binding.grants.files {
            wasi.preopened_dir(dir, "/data", FsPerms::ReadWrite)
                .map_err(|e| anyhow::anyhow!("preopening {}: {e}", dir.display()))?;
        }
        Ok(Self {
            binding,
            services,
            session_id,
            limiter: MemoryCap { cap: memory_cap },
            deadline: CallDeadline::Idle,
            stderr,
            wasi: wasi.build(),
            table: ResourceTable::new(),
        })
    }

    /// What the guest wrote to stderr (a panic message, typically).
    pub(crate) fn stderr_text(&self) -> String {
        let bytes = self.stderr.contents();
        String::from_utf8_lossy(&bytes).trim().to_string()
    }
}

impl WasiView for PluginState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// The error a memory growth past the cap raises (a trap we can name).
#[derive(Debug, thiserror::Error)]
#[error("memory cap of {cap} bytes exceeded (asked for {desired})")]
pub struct MemoryCapExceeded {
    pub cap: usize,
    pub desired: usize,
}

/// A hook call's deadline, read off the clock only once the call lasts.
///
/// A call is armed with its budget, not with an end time: most calls end
/// long before the epoch ticks, and then no clock is read for them at all.
/// The budget becomes an end time the first time one is needed
/// ([`CallDeadline::fix`]): at the first epoch tick the call sees, which
/// comes at most one tick (plus the ticker's wake-up, when it slept) after
/// the call started, or at its first host call that must not outlast it
/// (an outbound HTTP request). So a call is stopped no sooner than its
/// budget and at most about two ticks after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CallDeadline {
    /// No call is running.
    Idle,
    /// A call started with this budget and has not seen a tick yet.
    Armed(Duration),
    /// A call that has seen a tick must end by then.
    At(Instant),
}

impl CallDeadline {
    /// The running call's end time, fixed now if it was only armed;
    /// `None` between calls.
    pub(crate) fn fix(&mut self) -> Option<Instant> {
        match *self {
            CallDeadline::Idle => None,
            CallDeadline::Armed(budget) => {
                let end = Instant::now() + budget;
                *self = CallDeadline::At(end);
                Some(end)
            }
            CallDeadline::At(end) => Some(end),
        }
    }

    /// At an epoch tick: whether the running call is past its deadline
    /// (an armed call's deadline is fixed now, so it is not).
    pub(crate) fn passed_at_tick(&mut self) -> bool {
        match *self {
            CallDeadline::At(end) => Instant::now() >= end,
            _ => {
                self.fix();
                false
            }
        }
    }
}

/// The error the epoch callback raises when a call's deadline passed.
#[derive(Debug, thiserror::Error)]
#[error("deadline exceeded")]
pub struct DeadlineExceeded;

/// Caps an instance's linear memories at `cap` bytes.
pub struct MemoryCap {
    pub cap: usize,
}

impl wasmtime::ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.cap {
            return Err(wasmtime::Error::new(MemoryCapExceeded {
                cap: self.cap,
                desired,
            }));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

#[cfg(test)]
mod tests {
    use super::CallDeadline;
    use std::time::{Duration, Instant};

    /// An armed call gets its end time at its first tick (or first host
    /// call that asks), from then on, and never before that moment plus
    /// its budget; between calls there is nothing to pass.
    #[test]
    fn a_call_deadline_is_fixed_when_first_needed_and_kept() {
        let mut idle = CallDeadline::Idle;
        assert!(!idle.passed_at_tick());
        assert_eq!(idle.fix(), None);
        assert_eq!(idle, CallDeadline::Idle);

        let budget = Duration::from_millis(50);
        let mut armed = CallDeadline::Armed(budget);
        let before = Instant::now();
        assert!(!armed.passed_at_tick(), "the first tick only fixes the end");
        let CallDeadline::At(end) = armed else {
            panic!("the first tick fixes the end: {armed:?}")
        };
        assert!(end >= before + budget);
        assert_eq!(armed.fix(), Some(end), "fixed once, then kept");
        assert!(!armed.passed_at_tick());

        let mut past = CallDeadline::At(Instant::now() - Duration::from_millis(1));
        assert!(past.passed_at_tick());

        let mut asked = CallDeadline::Armed(budget);
        let before = Instant::now();
        let end = asked.fix().unwrap();
        assert!(end >= before + budget);
        assert_eq!(asked, CallDeadline::At(end));
    }
}
