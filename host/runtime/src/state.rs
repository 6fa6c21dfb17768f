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
use std::time::Instant;
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
    /// End of the running hook call's budget; `None` between calls.
    pub(crate) deadline: Option<Instant>,
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
            deadline: None,
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
