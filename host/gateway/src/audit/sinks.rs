//! Setting up the `[[audit.sinks]]` of the configuration file: each one's
//! plugin bound (config validated by the plugin, grants checked against
//! what it declares), its cursor registered in the store, and a
//! [`Deliverer`] task started, holding the sink's lease as this node
//! (`deliver.rs`: one node delivers a sink at a time).
//!
//! The plugin is the latest installed version of that name (the file's
//! `[[plugins]]` and the embedded first-party ones are installed before
//! this runs). Startup fails, naming the sink, if the plugin is missing,
//! does not declare `on-audit-event`, refuses its config, or a secret
//! reference cannot be resolved: a configured sink never silently drops
//! events. The sink's config is not stored (it may hold secrets); only
//! its cursor is.

use super::config::{AuditSection, SinkConfig, SinkStart};
use super::deliver::{Deliverer, LeasePolicy, RetryPolicy};
use super::log::AuditLog;
use anyhow::Context;
use gatehouse_runtime::types::Hook;
use gatehouse_runtime::{Binding, Limits, Runtime};
use gatehouse_store::audit::SinkStart as StoreStart;
use gatehouse_store::{Store, StoreError};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// The sink's plugin config as JSON, with `secret_config` resolved in.
fn plugin_config(sink: &SinkConfig) -> anyhow::Result<String> {
    let mut config = serde_json::to_value(&sink.config).context("config")?;
    let object = config.as_object_mut().context("config must be a table")?;
    for (key, secret) in &sink.secret_config {
        let value = secret
            .resolve()
            .with_context(|| format!("secret_config.{key}"))?;
        object.insert(key.clone(), value);
    }
    Ok(serde_json::to_string(&config)?)
}

/// Bind one sink's plugin.
async fn bind(sink: &SinkConfig, store: &Store, runtime: &Runtime) -> anyhow::Result<Binding> {
    let stored = match store.plugins().latest(&sink.plugin).await {
        Ok(plugin) => plugin,
        Err(StoreError::NotFound { .. }) => {
            anyhow::bail!("plugin '{}' is not installed", sink.plugin)
        }
        Err(err) => return Err(err.into()),
    };
    let bytes = store.plugins().component(stored.id).await?;
    let plugin = runtime
        .load(&bytes)
        .await
        .with_context(|| format!("loading plugin {} {}", stored.name, stored.version))?;
    anyhow::ensure!(
        plugin.implements(Hook::OnAuditEvent),
        "plugin '{}' does not declare on-audit-event, so it cannot be an audit sink",
        sink.plugin
    );
    let limits = Limits {
        deadline: Duration::from_millis(sink.deadline_ms),
        memory_bytes: (sink.memory_mb as usize) << 20,
    };
    let config = plugin_config(sink)?;
    Ok(Binding::new(runtime, plugin, &config, sink.grants.clone(), limits).await?)
}

/// Bind every configured sink without starting it (for `gatehouse check`):
/// the same errors startup would give, nothing written to the store.
pub async fn check(section: &AuditSection, store: &Store, runtime: &Runtime) -> anyhow::Result<()> {
    for sink in &section.sinks {
        bind(sink, store, runtime)
            .await
            .with_context(|| format!("audit sink '{}'", sink.name()))?;
    }
    Ok(())
}

/// Bind every configured sink, register its cursor, forget the sinks the
/// file says to, and start one delivery task per sink, delivering as
/// `node` while it holds the sink's lease.
pub async fn start(
    section: &AuditSection,
    store: &Store,
    runtime: &Arc<Runtime>,
    log: &AuditLog,
    node: &str,
    lease: LeasePolicy,
) -> anyhow::Result<Vec<JoinHandle<()>>> {
    for name in &section.forget_sinks {
        match store.audit().remove_sink(name).await {
            Ok(()) => tracing::info!(sink = %name, "forgot audit sink (forget_sinks)"),
            Err(StoreError::NotFound { .. }) => {}
            Err(err) => return Err(err).with_context(|| format!("forgetting audit sink '{name}'")),
        }
    }
    let mut deliverers = Vec::with_capacity(section.sinks.len());
    for sink in &section.sinks {
        let name = sink.name();
        let binding = bind(sink, store, runtime)
            .await
            .with_context(|| format!("audit sink '{name}'"))?;
        let start = match sink.start {
            SinkStart::Beginning => StoreStart::Beginning,
            SinkStart::Now => StoreStart::Now,
        };
        store
            .audit()
            .register_sink(name, start)
            .await
            .with_context(|| format!("registering audit sink '{name}'"))?;
        deliverers.push(Deliverer {
            name: name.to_string(),
            binding: Arc::new(binding),
            runtime: runtime.clone(),
            store: store.clone(),
            log: log.clone(),
            policy: RetryPolicy {
                max_attempts: sink.max_attempts,
                base: Duration::from_millis(sink.retry_base_ms),
                cap: Duration::from_millis(sink.retry_cap_ms),
            },
            node: node.to_string(),
            lease,
        });
    }
    let configured: Vec<&str> = section.sinks.iter().map(SinkConfig::name).collect();
    for other in store.audit().sinks().await? {
        if !configured.contains(&other.name.as_str()) {
            tracing::warn!(
                sink = %other.name,
                delivered_through = other.delivered_through,
                "an audit sink in the store is not configured here: its cursor holds back audit retention \
                 (list it in [audit] forget_sinks if it is gone for good)"
            );
        }
    }
    Ok(deliverers
        .into_iter()
        .map(|deliverer| {
            let name = deliverer.name.clone();
            tracing::info!(sink = %name, plugin = %deliverer.binding.plugin_name(), node = %deliverer.node, "audit sink delivering (while this node holds its lease)");
            tokio::spawn(deliverer.run())
        })
        .collect())
}
