//! # gatehouse-runtime
//!
//! Runs Gatehouse policy plugins: WebAssembly components built against the
//! `gatehouse:plugin` WIT world. This crate is the only place that touches
//! wasmtime; the gateway sees [`Runtime`], [`LoadedPlugin`], [`Binding`],
//! [`Pipeline`] and [`SessionPlugins`].
//!
//! ```text
//! Runtime::load(bytes)            compile (cached by digest), link, describe
//!   -> LoadedPlugin
//! Binding::new(plugin, config, grants, limits)
//!                                 validate config in the plugin, check grants
//! Pipeline::new(bindings)         a connection's plugins, in order
//!   .open_session(session)        one instance per plugin, init(session)
//!   -> SessionPlugins             on_connect / on_query / on_result_* / …
//! ```
//!
//! ## Invariants
//! * **Fail closed.** A trap, a deadline overrun, memory exhaustion, a
//!   malformed answer or a failed init never yields an allow: see
//!   `pipeline.rs` for how each hook turns a fault into a deny or an abort.
//! * **No ambient authority.** Plugins get no environment, arguments,
//!   sockets or files; the `files`, `http-outbound` and `key-value`
//!   capabilities exist only when declared by the plugin and granted on the
//!   binding (`grants.rs`).
//! * **Isolation.** One store per plugin instance, one instance per plugin
//!   per session: no state crosses sessions, and a fault poisons only its
//!   own instance.
//! * **Bounded.** The pooling allocator bounds the number and size of
//!   instances up front (`engine.rs`); each binding caps memory and time,
//!   time by epoch interruption, whose ticker runs while guest code may
//!   (`epoch.rs`).

mod cache;
mod clock;
mod engine;
mod epoch;
mod error;
mod grants;
pub mod http;
mod instance;
mod kv;
mod pipeline;
mod plugin;
mod query_filter;
mod rows;
mod state;
pub mod v0_1;

pub use cache::digest;
pub use clock::{Clock, FixedClock, SystemClock};
pub use engine::EngineSettings;
pub use error::{BindError, Fault, LoadError, PluginFault};
pub use grants::{Grants, Limits};
pub use instance::PluginInstance;
pub use kv::{KeyValueStore, KvError, MemoryKv};
pub use pipeline::{Decision, Pipeline, SessionPlugins};
pub use plugin::{Binding, HookSet, LoadedPlugin};
pub use query_filter::QueryFilter;
pub use rows::apply_edits;
/// The contract's types, in their current (0.1) version.
pub use v0_1::types;

use state::{HostServices, PluginState};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use wasmtime::Engine;
use wasmtime::component::Linker;

/// How to build a [`Runtime`].
#[derive(Clone)]
pub struct RuntimeSettings {
    pub engine: EngineSettings,
    /// Where compiled components are cached; `None` keeps them in memory.
    pub cache_dir: Option<PathBuf>,
    /// The clock plugins see.
    pub clock: Arc<dyn Clock>,
    /// Storage behind the `key-value` capability.
    pub kv: Arc<dyn KeyValueStore>,
    /// PEM roots plugins' `https` requests trust instead of the bundled
    /// public ones (an internal CA).
    pub http_ca_file: Option<PathBuf>,
}

impl Default for RuntimeSettings {
    fn default() -> Self {
        Self {
            engine: EngineSettings::default(),
            cache_dir: None,
            clock: Arc::new(SystemClock),
            kv: Arc::new(MemoryKv::default()),
            http_ca_file: None,
        }
    }
}

/// The plugin runtime of a gateway process. Cheap to share (`Arc` it).
pub struct Runtime {
    pub(crate) engine: Engine,
    pub(crate) linker: Linker<PluginState>,
    pub(crate) cache: Arc<cache::CompileCache>,
    pub(crate) services: HostServices,
    pub(crate) settings: EngineSettings,
    _ticker: epoch::EpochTicker,
}

impl Runtime {
    pub fn new(settings: RuntimeSettings) -> anyhow::Result<Self> {
        let engine = engine::build_engine(&settings.engine)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .map_err(|e| anyhow::anyhow!("linking WASI: {e}"))?;
        v0_1::add_to_linker(&mut linker)
            .map_err(|e| anyhow::anyhow!("linking gatehouse:plugin@0.1: {e}"))?;
        let cache = Arc::new(cache::CompileCache::new(
            &engine,
            settings.cache_dir.clone(),
        ));
        let ticker = epoch::EpochTicker::start(&engine, settings.engine.epoch_tick);
        Ok(Self {
            engine,
            linker,
            cache,
            services: HostServices {
                clock: settings.clock,
                kv: settings.kv,
                http: http::HttpClient::with_roots(settings.http_ca_file.as_deref())
                    .map_err(|e| anyhow::anyhow!("plugins' HTTPS roots: {e}"))?,
            },
            settings: settings.engine,
            _ticker: ticker,
        })
    }

    /// Load a plugin component from its bytes.
    pub async fn load(&self, bytes: &[u8]) -> Result<Arc<LoadedPlugin>, LoadError> {
        LoadedPlugin::load(self, bytes).await.map(Arc::new)
    }

    /// Load a plugin component from a `.wasm` file.
    pub async fn load_file(&self, path: &Path) -> Result<Arc<LoadedPlugin>, LoadError> {
        let bytes = std::fs::read(path).map_err(|source| LoadError::Io {
            path: path.display().to_string(),
            source,
        })?;
        self.load(&bytes).await
    }

    /// Start a long-lived instance of `binding` outside any session, for the
    /// review and audit-event hooks.
    pub async fn start_service(&self, binding: &Binding) -> Result<PluginInstance, PluginFault> {
        PluginInstance::start(self, binding, None).await
    }
}
