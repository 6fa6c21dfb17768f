//! `gatehouse:plugin@0.1.0`: host bindings of the 0.1 world and the host's
//! side of its imports.
//!
//! One module per WIT version: when a 0.2 world arrives it gets a `v0_2`
//! module beside this one, the newest version's types become the runtime's
//! own, and older modules convert to and from them. Until then the 0.1
//! types *are* the runtime's types (re-exported from the crate root), so the
//! per-query path converts nothing.
//!
//! Import semantics: `log` and `now` are always available; `config` returns
//! the binding's JSON (with the binding's secrets merged in, so it is the
//! one import whose calls are not traced); `http.send` and the `kv`
//! functions answer `not-allowed` unless the capability is granted on the
//! binding.

use crate::http::{OutboundRequest, SendError};
use crate::kv::KvError as HostKvError;
use crate::state::PluginState;
use std::time::{Duration, Instant};

wasmtime::component::bindgen!({
    path: "../../wit/v0.1",
    // What every 0.1 plugin exports; the optional interfaces (the SDK's
    // `plugin` world) are looked up by name (`crate::query_filter`).
    world: "plugin-core",
    imports: {
        "gatehouse:plugin/http.send": async,
        // Not traced: its result is the binding's config, secrets merged in
        // (`tracing` would log the returned string at trace level).
        "gatehouse:plugin/host.config": exact,
        default: tracing,
    },
    exports: { default: async },
    additional_derives: [PartialEq],
});

pub use exports::gatehouse::plugin::guest;
/// The host's names for the required world's bindings.
pub type Plugin = PluginCore;
pub type PluginIndices = PluginCoreIndices;
pub use gatehouse::plugin::{host, http, kv, types};

/// Register the 0.1 imports on a linker.
pub fn add_to_linker(
    linker: &mut wasmtime::component::Linker<PluginState>,
) -> wasmtime::Result<()> {
    Plugin::add_to_linker::<PluginState, wasmtime::component::HasSelf<PluginState>>(
        linker,
        |state| state,
    )
}

impl types::Host for PluginState {}

impl host::Host for PluginState {
    fn log(&mut self, level: host::LogLevel, message: String, fields: Vec<(String, String)>) {
        let plugin = self.binding.plugin.as_str();
        let session = self.session_id.as_deref().unwrap_or("-");
        macro_rules! emit {
            ($level:expr) => {
                tracing::event!(target: "gatehouse::plugin", $level, plugin, session, ?fields, "{message}")
            };
        }
        match level {
            host::LogLevel::Trace => emit!(tracing::Level::TRACE),
            host::LogLevel::Debug => emit!(tracing::Level::DEBUG),
            host::LogLevel::Info => emit!(tracing::Level::INFO),
            host::LogLevel::Warn => emit!(tracing::Level::WARN),
            host::LogLevel::Error => emit!(tracing::Level::ERROR),
        }
    }

    fn config(&mut self) -> String {
        self.binding.config.to_string()
    }

    fn now(&mut self) -> u64 {
        self.services.clock.now().as_millis() as u64
    }
}

impl http::Host for PluginState {
    async fn send(&mut self, request: http::Request) -> Result<http::Response, http::HttpError> {
        if self.binding.http_allowlist.is_empty() {
            return Err(http::HttpError::NotAllowed(
                "the http-outbound capability is not granted".into(),
            ));
        }
        // Never wait past the hook's own deadline.
        let remaining = self
            .deadline
            .fix()
            .map(|deadline| deadline.saturating_duration_since(Instant::now()))
            .unwrap_or(Duration::from_secs(10));
        let outbound = OutboundRequest {
            method: request.method,
            url: request.url,
            headers: request.headers,
            body: request.body,
        };
        match self
            .services
            .http
            .send(&self.binding.http_allowlist, outbound, remaining)
            .await
        {
            Ok(response) => Ok(http::Response {
                status: response.status,
                headers: response.headers,
                body: response.body,
            }),
            Err(SendError::NotAllowed(message)) => Err(http::HttpError::NotAllowed(message)),
            Err(SendError::Transport(message)) => Err(http::HttpError::Transport(message)),
        }
    }
}

fn kv_error(err: HostKvError) -> kv::KvError {
    match err {
        HostKvError::TooLarge => kv::KvError::TooLarge,
        HostKvError::Backend(message) => kv::KvError::Other(message),
    }
}

impl kv::Host for PluginState {
    fn get(&mut self, key: String) -> Result<Option<Vec<u8>>, kv::KvError> {
        if !self.binding.grants.key_value {
            return Err(kv::KvError::NotAllowed);
        }
        self.services
            .kv
            .get(&self.binding.plugin, &key)
            .map_err(kv_error)
    }

    fn set(&mut self, key: String, value: Vec<u8>) -> Result<(), kv::KvError> {
        if !self.binding.grants.key_value {
            return Err(kv::KvError::NotAllowed);
        }
        self.services
            .kv
            .set(&self.binding.plugin, &key, &value)
            .map_err(kv_error)
    }

    fn delete(&mut self, key: String) -> Result<(), kv::KvError> {
        if !self.binding.grants.key_value {
            return Err(kv::KvError::NotAllowed);
        }
        self.services
            .kv
            .delete(&self.binding.plugin, &key)
            .map_err(kv_error)
    }
}

impl types::Hook {
    /// The hook's WIT name (`on-query`).
    pub fn wit_name(self) -> &'static str {
        match self {
            types::Hook::OnConnect => "on-connect",
            types::Hook::OnQuery => "on-query",
            types::Hook::OnResult => "on-result",
            types::Hook::OnDisconnect => "on-disconnect",
            types::Hook::OnReview => "on-review",
            types::Hook::OnAuditEvent => "on-audit-event",
        }
    }
}

impl types::Capability {
    /// The capability's WIT name (`http-outbound`).
    pub fn wit_name(self) -> &'static str {
        match self {
            types::Capability::HttpOutbound => "http-outbound",
            types::Capability::Files => "files",
            types::Capability::KeyValue => "key-value",
        }
    }
}
