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
use gatehouse_store::bindings::merge_config;
use gatehouse_store::{Store, StoreError};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// The sink's plugin config as JSON, with `secret_config` resolved in as a
/// binding's secrets are merged: a key given in both is refused, never
/// silently replaced.
fn plugin_config(sink: &SinkConfig) -> anyhow::Result<String> {
    let config = serde_json::to_value(&sink.config).context("config")?;
    let secrets = crate::config::resolve_secrets(&sink.secret_config).context("secret_config")?;
    let merged = merge_config(&config, &secrets).context("secret_config")?;
    Ok(serde_json::to_string(merged.json())?)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn sink(text: &str) -> SinkConfig {
        let section: AuditSection = toml::from_str(text).unwrap();
        section.sinks.into_iter().next().unwrap()
    }

    #[test]
    fn secret_config_is_merged_beside_the_config_and_a_key_in_both_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let token = dir.path().join("token");
        std::fs::write(&token, "Bearer t0k3n\n").unwrap();
        let merged = plugin_config(&sink(&format!(
            "[[sinks]]\nplugin = 'audit-webhook'\nconfig = {{ url = 'http://c/' }}\n\
             secret_config = {{ headers = {{ Authorization = {{ file = '{}' }} }} }}",
            token.display()
        )))
        .unwrap();
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&merged).unwrap(),
            serde_json::json!({"url": "http://c/", "headers": {"Authorization": "Bearer t0k3n"}})
        );
        // A header table in config beside one in secret_config would lose
        // one of them: refused, naming the key.
        let clash = plugin_config(&sink(&format!(
            "[[sinks]]\nplugin = 'audit-webhook'\nconfig = {{ headers = {{ X-Source = 'gh' }} }}\n\
             secret_config = {{ headers = {{ Authorization = {{ file = '{}' }} }} }}",
            token.display()
        )))
        .unwrap_err();
        let message = format!("{clash:#}");
        assert!(message.contains("\"headers\""), "{message}");
        assert!(
            !message.contains("t0k3n"),
            "no secret in the error: {message}"
        );
    }
}
