//! A connection's plugins, in order, and the decisions they make together.
//!
//! [`Pipeline`] is the ordered list of [`Binding`]s configured on one
//! connection. [`Pipeline::open_session`] instantiates each for a session;
//! the resulting [`SessionPlugins`] combines their answers:
//!
//! * **connect**: plugins run in order; the first non-allow answer wins;
//! * **query**: in order; `rewrite` replaces the text that later plugins see
//!   and that runs; the first `deny` or `review` stops the chain;
//! * **results**: each plugin that asked to inspect sees every batch, after
//!   the edits of the plugins before it;
//! * a **fault** in any plugin (trap, deadline, memory, malformed answer,
//!   failed init) is a deny naming the plugin, or for rows an error that
//!   aborts the result. Nothing ever falls through to allow.
//!
//! Only hooks a plugin declared are called, and `on-query` only for texts
//! the plugin's optional query filter asks for (`crate::query_filter`): for
//! any other text the plugin is taken to allow it unchanged, as it promised.

use crate::Runtime;
use crate::error::PluginFault;
use crate::instance::PluginInstance;
use crate::plugin::Binding;
use crate::query_filter::QueryFilter;
use crate::rows::apply_edits;
use crate::v0_1::types::*;
use std::sync::Arc;

/// A connection's ordered plugins.
#[derive(Clone, Default)]
pub struct Pipeline {
    bindings: Arc<[Arc<Binding>]>,
}

/// Which plugin decided, and what.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision<V> {
    pub verdict: V,
    /// The plugin whose answer this is; `None` when every plugin allowed.
    pub decided_by: Option<String>,
    /// Set when the verdict comes from a fault rather than an answer.
    pub fault: Option<PluginFault>,
}

impl<V> Decision<V> {
    fn answered(verdict: V, decided_by: Option<String>) -> Self {
        Self {
            verdict,
            decided_by,
            fault: None,
        }
    }
}

impl Pipeline {
    pub fn new(bindings: Vec<Arc<Binding>>) -> Self {
        Self {
            bindings: bindings.into(),
        }
    }

    pub fn bindings(&self) -> &[Arc<Binding>] {
        &self.bindings
    }

    /// Instantiate and initialise every plugin for `session`. A plugin that
    /// cannot start fails the whole session closed.
    pub async fn open_session(
        &self,
        runtime: &Runtime,
        session: &Session,
    ) -> Result<SessionPlugins, PluginFault> {
        let mut instances = Vec::with_capacity(self.bindings.len());
        for binding in self.bindings.iter() {
            let mut instance = PluginInstance::start(runtime, binding, Some(session)).await?;
            let keywords = if binding.plugin.implements(Hook::OnQuery) {
                instance.on_query_keywords().await?
            } else {
                None
            };
            let query_filter = match keywords {
                Some(keywords) => Some(
                    binding
                        .query_filters
                        .get(keywords)
                        .map_err(|message| instance.malformed("on-query-keywords", message))?,
                ),
                None => None,
            };
            instances.push(SessionPlugin {
                binding: binding.clone(),
                instance,
                query_filter,
            });
        }
        Ok(SessionPlugins {
            plugins: instances,
            inspecting: Vec::new(),
        })
    }
}

struct SessionPlugin {
    binding: Arc<Binding>,
    instance: PluginInstance,
    /// Which texts `on-query` must see; `None`: all of them.
    query_filter: Option<Arc<QueryFilter>>,
}

/// One session's plugin instances.
pub struct SessionPlugins {
    plugins: Vec<SessionPlugin>,
    /// Indexes of plugins inspecting the current result.
    inspecting: Vec<usize>,
}

fn deny_for_fault<V>(fault: PluginFault, deny: impl FnOnce(String) -> V) -> Decision<V> {
    Decision {
        verdict: deny(fault.to_string()),
        decided_by: Some(fault.plugin.clone()),
        fault: Some(fault),
    }
}

impl SessionPlugins {
    /// Names of the plugins, in order.
    pub fn plugin_names(&self) -> impl Iterator<Item = &str> {
        self.plugins.iter().map(|p| p.binding.plugin_name())
    }

    /// Whether any plugin declares the result hooks. When none does, the
    /// proxy need not even decode result metadata: rows are relayed as
    /// they come.
    pub fn inspects_results(&self) -> bool {
        self.plugins
            .iter()
            .any(|p| p.binding.plugin.implements(Hook::OnResult))
    }

    pub async fn on_connect(&mut self) -> Decision<ConnectVerdict> {
        for plugin in &mut self.plugins {
            if !plugin.binding.plugin.implements(Hook::OnConnect) {
                continue;
            }
            match plugin.instance.on_connect().await {
                Ok(ConnectVerdict::Allow) => {}
                Ok(ConnectVerdict::Review(request)) if request.approver_groups.is_empty() => {
                    let fault = plugin
                        .instance
                        .malformed("on-connect", "review with no approver groups".into());
                    return deny_for_fault(fault, ConnectVerdict::Deny);
                }
                Ok(verdict) => {
                    return Decision::answered(verdict, Some(plugin.binding.plugin_name().into()));
                }
                Err(fault) => return deny_for_fault(fault, ConnectVerdict::Deny),
            }
        }
        Decision::answered(ConnectVerdict::Allow, None)
    }

    /// Decide `query`. On `Rewrite`, `query.text` already holds the final
    /// text (so the caller runs `query.text` whenever the verdict is not a
    /// deny or review).
    pub async fn on_query(&mut self, query: &mut Query) -> Decision<QueryVerdict> {
        let mut rewritten_by: Option<String> = None;
        for plugin in &mut self.plugins {
            if !plugin.binding.plugin.implements(Hook::OnQuery) {
                continue;
            }
            if let Some(filter) = &plugin.query_filter
                && !filter.needs_call(&query.text)
            {
                continue;
            }
            match plugin.instance.on_query(query).await {
                Ok(QueryVerdict::Allow) => {}
                Ok(QueryVerdict::Rewrite(text)) => {
                    if text.trim().is_empty() {
                        let fault = plugin
                            .instance
                            .malformed("on-query", "rewrite to an empty query".into());
                        return deny_for_fault(fault, QueryVerdict::Deny);
                    }
                    query.text = text;
                    rewritten_by = Some(plugin.binding.plugin_name().into());
                }
                Ok(QueryVerdict::Review(request)) if request.approver_groups.is_empty() => {
                    let fault = plugin
                        .instance
                        .malformed("on-query", "review with no approver groups".into());
                    return deny_for_fault(fault, QueryVerdict::Deny);
                }
                Ok(verdict) => {
                    return Decision::answered(verdict, Some(plugin.binding.plugin_name().into()));
                }
                Err(fault) => return deny_for_fault(fault, QueryVerdict::Deny),
            }
        }
        match rewritten_by {
            Some(plugin) => {
                Decision::answered(QueryVerdict::Rewrite(query.text.clone()), Some(plugin))
            }
            None => Decision::answered(QueryVerdict::Allow, None),
        }
    }

    /// A result with `columns` starts. Returns whether any plugin inspects
    /// its rows (if not, rows need not be batched for plugins at all).
    pub async fn on_result_start(
        &mut self,
        query_id: u64,
        columns: &[Column],
    ) -> Result<bool, PluginFault> {
        self.inspecting.clear();
        for (index, plugin) in self.plugins.iter_mut().enumerate() {
            if !plugin.binding.plugin.implements(Hook::OnResult) {
                continue;
            }
            if plugin.instance.on_result_start(query_id, columns).await? == ResultPlan::Inspect {
                self.inspecting.push(index);
            }
        }
        Ok(!self.inspecting.is_empty())
    }

    /// Show `batch` to every inspecting plugin, applying their edits in
    /// place. An error means the result must be aborted, not sent.
    pub async fn on_result_rows(&mut self, batch: &mut RowBatch) -> Result<(), PluginFault> {
        for &index in &self.inspecting {
            let plugin = &mut self.plugins[index];
            let edits = plugin.instance.on_result_rows(batch).await?;
            if edits.is_empty() {
                continue;
            }
            if let Err(message) = apply_edits(batch, edits) {
                return Err(plugin.instance.malformed("on-result-rows", message));
            }
        }
        Ok(())
    }

    /// The result ended: collect counters of the inspecting plugins.
    pub async fn on_result_end(
        &mut self,
        summary: &ResultSummary,
    ) -> Result<Vec<Counter>, PluginFault> {
        let mut counters = Vec::new();
        for index in std::mem::take(&mut self.inspecting) {
            let plugin = &mut self.plugins[index];
            for counter in plugin.instance.on_result_end(summary).await? {
                counters.push(Counter {
                    name: format!("{}.{}", plugin.binding.plugin_name(), counter.name),
                    value: counter.value,
                });
            }
        }
        Ok(counters)
    }

    /// The session ended. Faults are logged (nothing is left to deny).
    pub async fn on_disconnect(&mut self, summary: &SessionSummary) {
        for plugin in &mut self.plugins {
            if plugin.binding.plugin.implements(Hook::OnDisconnect) {
                let _ = plugin.instance.on_disconnect(summary).await;
            }
        }
    }
}
