//! The gateway's view of what exists: loaded plugins and the connections
//! built from the configuration, each with its plugin pipeline ready.
//!
//! Building a catalog loads every plugin (embedded first-party components,
//! then configured files), then binds each connection's plugins, which runs
//! their config validation. Any failure stops startup with an error naming
//! the connection and plugin: a gateway never serves a connection whose
//! plugins it could not set up (fail closed).

use crate::config::{Config, ResourceKind, SecretRef};
use anyhow::Context;
use gatehouse_runtime::{Binding, Limits, LoadedPlugin, Pipeline, Runtime, RuntimeSettings, types};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded_plugins.rs"));
}

/// A connection users can pick, ready to serve.
pub struct ConnectionEntry {
    /// What plugins are told about the connection.
    pub info: types::Connection,
    /// Upstream `host:port`.
    pub address: String,
    pub database: Option<String>,
    pub username: Option<String>,
    pub password: Option<SecretRef>,
    /// TLS policy towards the upstream and its CA bundle.
    pub tls: crate::pg::upstream::UpstreamTls,
    pub ca_file: Option<std::path::PathBuf>,
    pub pipeline: Pipeline,
}

pub struct Catalog {
    pub runtime: Arc<Runtime>,
    /// Loaded plugins by manifest name.
    pub plugins: BTreeMap<String, Arc<LoadedPlugin>>,
    /// Connections by name (`resource.role`).
    pub connections: BTreeMap<String, Arc<ConnectionEntry>>,
}

/// Settings of the runtime the configuration asks for.
pub fn runtime_settings(config: &Config) -> RuntimeSettings {
    let mut settings = RuntimeSettings::default();
    settings.engine.max_instances = config.runtime.max_instances;
    settings.engine.max_memory_bytes = (config.runtime.max_memory_mb as usize) << 20;
    settings.cache_dir = Some(
        config
            .runtime
            .cache_dir
            .clone()
            .unwrap_or_else(|| config.gateway.state_dir.join("compiled")),
    );
    settings
}

fn kind(kind: ResourceKind) -> types::ConnectionKind {
    match kind {
        ResourceKind::Postgres => types::ConnectionKind::Postgres,
        ResourceKind::Mysql => types::ConnectionKind::Mysql,
        ResourceKind::Tcp => types::ConnectionKind::Tcp,
        ResourceKind::Http => types::ConnectionKind::Http,
    }
}

impl Catalog {
    pub async fn build(config: &Config) -> anyhow::Result<Self> {
        let runtime = Arc::new(Runtime::new(runtime_settings(config))?);
        let mut plugins = BTreeMap::new();
        for (package, bytes) in embedded::EMBEDDED {
            let plugin = runtime
                .load(bytes)
                .await
                .with_context(|| format!("loading embedded plugin {package}"))?;
            plugins.insert(plugin.name().to_string(), plugin);
        }
        for source in &config.plugins {
            let plugin = runtime
                .load_file(&source.path)
                .await
                .with_context(|| format!("loading plugin {}", source.path.display()))?;
            if let Some(existing) = plugins.get(plugin.name()) {
                anyhow::bail!(
                    "plugin {} is named '{}', which is already taken by version {}",
                    source.path.display(),
                    plugin.name(),
                    existing.manifest.version
                );
            }
            plugins.insert(plugin.name().to_string(), plugin);
        }

        let mut connections = BTreeMap::new();
        for resource in &config.resources {
            for role in &resource.roles {
                let name = format!("{}.{}", resource.name, role.name);
                let mut bindings = Vec::with_capacity(role.plugins.len());
                for spec in &role.plugins {
                    let plugin = plugins.get(&spec.plugin).with_context(|| {
                        let known: Vec<&str> = plugins.keys().map(String::as_str).collect();
                        format!(
                            "connection '{name}': no plugin named '{}' (known: {})",
                            spec.plugin,
                            known.join(", ")
                        )
                    })?;
                    let config_json = serde_json::to_string(&spec.config)?;
                    let limits = Limits {
                        deadline: Duration::from_millis(spec.deadline_ms),
                        memory_bytes: (spec.memory_mb as usize) << 20,
                    };
                    let binding = Binding::new(
                        &runtime,
                        plugin.clone(),
                        &config_json,
                        spec.grants.clone(),
                        limits,
                    )
                    .await
                    .with_context(|| format!("connection '{name}'"))?;
                    bindings.push(Arc::new(binding));
                }
                let entry = ConnectionEntry {
                    info: types::Connection {
                        name: name.clone(),
                        kind: kind(resource.kind),
                        resource_name: resource.name.clone(),
                        attributes: role
                            .attributes
                            .iter()
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect(),
                    },
                    address: resource.address.clone(),
                    database: role.database.clone(),
                    username: role.username.clone(),
                    password: role.password.clone(),
                    tls: resource.tls,
                    ca_file: resource.ca_file.clone(),
                    pipeline: Pipeline::new(bindings),
                };
                connections.insert(name, Arc::new(entry));
            }
        }
        Ok(Self {
            runtime,
            plugins,
            connections,
        })
    }
}
