//! The one wasmtime [`Engine`] of a gateway process, and the thread that
//! advances its epoch.
//!
//! Every plugin of every connection is compiled and run by this engine. Its
//! configuration is the sandbox's outer wall:
//!
//! * **epoch interruption** bounds CPU time: a ticker thread advances the
//!   epoch every [`EngineSettings::epoch_tick`] while guest code may run
//!   (`epoch.rs`); each hook call gets a deadline and a callback that traps
//!   once it passes (see `instance.rs`);
//! * the **pooling allocator** preallocates instance, memory, table and
//!   stack slots, so instantiating a plugin per session is a few
//!   microseconds and the total memory the sandbox can take is bounded up
//!   front;
//! * **concurrency support is off**: the component-model async ABI is not
//!   part of the 0.1 contract, and leaving it on doubles the cost of every
//!   hook call.
//!
//! Failure modes: [`build_engine`] fails if the settings are inconsistent
//! (for example a memory cap above the pool's slot size) or the host cannot
//! reserve the pool's virtual memory.

use std::time::Duration;
use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// Knobs of the engine and its pooling allocator. Defaults suit a gateway
/// serving a few hundred concurrent sessions with a handful of plugins each.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// Concurrent plugin instances the pool holds (one per plugin per live
    /// session, plus long-lived review/audit instances). Instantiating past
    /// this fails closed with a clear "pool exhausted" error.
    pub max_instances: u32,
    /// Largest linear memory any plugin may have, in bytes. Per-binding
    /// memory caps (see `Limits`) must not exceed it. Also the size of each
    /// memory slot's reservation, so the pool reserves roughly
    /// `max_instances * (max_memory_bytes + guard)` of *virtual* address
    /// space; only touched pages use real memory.
    pub max_memory_bytes: usize,
    /// How often the epoch advances: the granularity of hook deadlines, and
    /// how often a long-running hook yields to the async executor.
    pub epoch_tick: Duration,
    /// Wasm stack available to a hook call. Deep recursion beyond it traps
    /// (stack overflow), which fails closed like any trap.
    pub max_wasm_stack: usize,
    /// Bytes of each memory slot reset in place (by `memset`) when the slot
    /// is reused, instead of being returned to the kernel by `madvise`.
    /// With Linux's `PAGEMAP_SCAN` (6.7+, detected at start) only the pages
    /// the previous instance dirtied are reset, so a plugin that touches a
    /// few hundred KiB is recycled with no syscall, no page fault and no TLB
    /// shootdown. Larger values trade resident memory for speed.
    pub keep_resident_bytes: usize,
}

impl Default for EngineSettings {
    fn default() -> Self {
        Self {
            max_instances: 1_000,
            max_memory_bytes: 256 << 20,
            epoch_tick: Duration::from_millis(1),
            max_wasm_stack: 512 << 10,
            keep_resident_bytes: 1 << 20,
        }
    }
}

/// Build the engine described by `settings`.
pub fn build_engine(settings: &EngineSettings) -> anyhow::Result<Engine> {
    let mut pool = PoolingAllocationConfig::default();
    // One component instance per plugin per session; each of ours holds a
    // handful of core instances (the plugin, WASI adapter shims, lowering
    // trampolines) and exactly one linear memory.
    pool.total_component_instances(settings.max_instances)
        .total_core_instances(settings.max_instances * 4)
        .max_core_instances_per_component(16)
        .total_memories(settings.max_instances)
        .max_memories_per_component(2)
        .total_tables(settings.max_instances * 2)
        .max_tables_per_component(4)
        // Rust guests have small tables (indirect calls, vtables).
        .table_elements(20_000)
        // Fiber stacks for async calls: one per instance in a call.
        .total_stacks(settings.max_instances)
        // Hard ceiling on any memory; per-binding caps sit below it.
        .max_memory_size(settings.max_memory_bytes)
        // Instance metadata (globals, vmctx) of a component / core module.
        .max_component_instance_size(1 << 20)
        .max_core_instance_size(1 << 20)
        .linear_memory_keep_resident(settings.keep_resident_bytes)
        .table_keep_resident(64 << 10)
        // Reset only dirtied pages where the kernel can tell us which.
        .pagemap_scan(Enabled::Auto)
        // Where memory must still go back to the kernel, batch the madvise
        // calls (each can cost a TLB shootdown across cores).
        .decommit_batch_size(16);

    let mut config = Config::new();
    config
        .wasm_component_model(true)
        .concurrency_support(false)
        .epoch_interruption(true)
        .max_wasm_stack(settings.max_wasm_stack)
        // Fiber stack = wasm stack + headroom for host frames.
        .async_stack_size(settings.max_wasm_stack + (512 << 10))
        // Without this each slot reserves 4 GiB (+ guard) of address space;
        // with it, bounds checks are explicit but the pool stays modest.
        .memory_reservation(settings.max_memory_bytes as u64)
        .memory_guard_size(32 << 20)
        .memory_reservation_for_growth(0)
        // Copy-on-write images of the initial memory: cheap instantiation.
        .memory_init_cow(true)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    Engine::new(&config).map_err(|e| anyhow::anyhow!("building the wasmtime engine: {e}"))
}
