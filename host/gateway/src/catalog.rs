//! The gateway's view of what exists, read from the store: every
//! connection with its plugin pipeline ready to open sessions.
//!
//! A catalog is immutable; a change in the store (an admin binding a
//! plugin, installing a new version) builds a new one and swaps it in
//! ([`CatalogHandle`]). Sessions hold the `Arc<ConnectionEntry>` they started
//! with, so **running sessions keep their plugin versions and new sessions
//! get the new ones** — hot install without a restart.
//!
//! Components are loaded (compiled, or read from the compile cache) once per
//! digest and kept in a [`PluginCache`] across rebuilds.
//!
//! **Secrets.** Each plugin is bound with the config the store resolved for
//! it: the binding's config with its sealed secrets opened and merged in
//! ([`gatehouse_store::bindings::PluginConfig`]). That merged config goes
//! to the runtime and nowhere else: it is not logged, and a plugin's refusal
//! of it is redacted of the secrets' values before it becomes the
//! connection's *unavailable* reason (which clients and logs see).
//!
//! **Failure modes.** A connection whose plugins cannot be set up (a
//! component that does not load, a config its plugin refuses, a grant it
//! does not declare, secrets that do not open) is kept in the catalog as
//! *unavailable* with the reason: clients are refused with that reason
//! (fail closed), and the other connections are unaffected.

use anyhow::Context;
use gatehouse_runtime::{Binding, Grants, Limits, LoadedPlugin, Pipeline, Runtime, types};
use gatehouse_store::Store;
use gatehouse_store::bindings::ResolvedBinding;
use gatehouse_store::connections::Connection;
use gatehouse_store::resources::ResourceKind;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

/// A connection users can pick.
pub struct ConnectionEntry {
    /// The store's id (credentials are resolved by it at connect time).
    pub id: i64,
    /// What plugins are told about the connection.
    pub info: types::Connection,
    /// The connection's plugins, or why they could not be set up.
    pub pipeline: Result<Pipeline, String>,
}

/// Loaded components by digest, shared by successive catalogs.
#[derive(Default, Clone)]
pub struct PluginCache {
    by_digest: Arc<Mutex<HashMap<String, Arc<LoadedPlugin>>>>,
}

impl PluginCache {
    pub fn insert(&self, plugin: Arc<LoadedPlugin>) {
        self.by_digest
            .lock()
            .unwrap()
            .insert(plugin.digest.clone(), plugin);
    }

    fn get(&self, digest: &str) -> Option<Arc<LoadedPlugin>> {
        self.by_digest.lock().unwrap().get(digest).cloned()
    }

    /// The plugin a binding resolved to: from the cache, or loaded from the
    /// store's copy of the component.
    async fn load(
        &self,
        store: &Store,
        runtime: &Runtime,
        resolved: &ResolvedBinding,
    ) -> anyhow::Result<Arc<LoadedPlugin>> {
        if let Some(plugin) = self.get(&resolved.plugin.digest) {
            return Ok(plugin);
        }
        let bytes = store.plugins().component(resolved.plugin.id).await?;
        let plugin = runtime.load(&bytes).await.with_context(|| {
            format!(
                "loading plugin {} {}",
                resolved.plugin.name, resolved.plugin.version
            )
        })?;
        self.insert(plugin.clone());
        Ok(plugin)
    }
}

pub struct Catalog {
    /// Connections by name (`resource.role`).
    pub connections: BTreeMap<String, Arc<ConnectionEntry>>,
}

fn wit_kind(kind: ResourceKind) -> types::ConnectionKind {
    match kind {
        ResourceKind::Postgres => types::ConnectionKind::Postgres,
        ResourceKind::Mysql => types::ConnectionKind::Mysql,
        ResourceKind::Tcp => types::ConnectionKind::Tcp,
        ResourceKind::Http => types::ConnectionKind::Http,
    }
}

impl Catalog {
    /// Read every connection and set up its pipeline.
    pub async fn load(
        store: &Store,
        runtime: &Runtime,
        cache: &PluginCache,
    ) -> anyhow::Result<Self> {
        let mut connections = BTreeMap::new();
        for connection in store.connections().list().await? {
            let pipeline = pipeline(store, runtime, cache, &connection)
                .await
                .map_err(|err| format!("{err:#}"));
            let entry = ConnectionEntry {
                id: connection.id,
                info: types::Connection {
                    name: connection.name.clone(),
                    kind: wit_kind(connection.kind),
                    resource_name: connection.resource.clone(),
                    attributes: connection.attributes.clone().into_iter().collect(),
                },
                pipeline,
            };
            connections.insert(connection.name.clone(), Arc::new(entry));
        }
        Ok(Self { connections })
    }

    /// Connections that cannot serve, with the reason.
    pub fn unavailable(&self) -> impl Iterator<Item = (&str, &str)> {
        self.connections
            .iter()
            .filter_map(|(name, entry)| match &entry.pipeline {
                Ok(_) => None,
                Err(reason) => Some((name.as_str(), reason.as_str())),
            })
    }
}

async fn pipeline(
    store: &Store,
    runtime: &Runtime,
    cache: &PluginCache,
    connection: &Connection,
) -> anyhow::Result<Pipeline> {
    let mut bindings = Vec::new();
    for resolved in store.bindings().resolve(connection.id).await? {
        let plugin = cache.load(store, runtime, &resolved).await?;
        let binding = &resolved.binding;
        let grants: Grants =
            serde_json::from_value(serde_json::to_value(&binding.grants)?).context("grants")?;
        let limits = Limits {
            deadline: Duration::from_millis(u64::from(binding.deadline_ms)),
            memory_bytes: (binding.memory_mb as usize) << 20,
        };
        let bound = Binding::new(runtime, plugin, &resolved.config.to_text(), grants, limits)
            .await
            .map_err(|err| {
                // A plugin may quote the config value it refused.
                let reason = resolved
                    .config
                    .redact(&format!("{:#}", anyhow::Error::from(err)));
                anyhow::anyhow!("plugin '{}': {reason}", binding.plugin)
            })?;
        bindings.push(Arc::new(bound));
    }
    Ok(Pipeline::new(bindings))
}

/// The current catalog, swapped whole when the store changes.
pub struct CatalogHandle {
    current: RwLock<Arc<Catalog>>,
}

impl CatalogHandle {
    pub fn new(catalog: Catalog) -> Self {
        Self {
            current: RwLock::new(Arc::new(catalog)),
        }
    }

    pub fn current(&self) -> Arc<Catalog> {
        self.current.read().unwrap().clone()
    }

    pub fn replace(&self, catalog: Catalog) {
        *self.current.write().unwrap() = Arc::new(catalog);
    }

    /// The connection named `name`, as of now.
    pub fn connection(&self, name: &str) -> Option<Arc<ConnectionEntry>> {
        self.current.read().unwrap().connections.get(name).cloned()
    }
}
