//! Typed errors of the runtime.
//!
//! [`LoadError`]: a component was refused at load (not a component, wrong
//! world, bad manifest). [`PluginFault`]: a hook call gave no usable answer.
//! Every fault fails closed: callers turn it into a deny (connect, query),
//! an aborted result (rows), or a retry (audit delivery); never an allow.

use std::time::Duration;

/// Why a component could not be loaded as a plugin.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("not a valid WebAssembly component: {0}")]
    Invalid(String),
    #[error(
        "component does not target the gatehouse:plugin@0.1 world (build it against gatehouse-sdk): {0}"
    )]
    WrongWorld(String),
    #[error("the plugin's describe() failed: {0}")]
    Describe(String),
    #[error("the plugin's manifest is unusable: {0}")]
    BadManifest(String),
    #[error("reading {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

/// Why a binding (plugin + config + grants on a connection) was refused.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    #[error("plugin '{plugin}' rejected its config: {message}")]
    Config { plugin: String, message: String },
    #[error(
        "plugin '{plugin}' does not declare the {capability} capability, so it cannot be granted"
    )]
    UndeclaredCapability {
        plugin: String,
        capability: &'static str,
    },
    #[error("grant for plugin '{plugin}' is invalid: {message}")]
    Grant { plugin: String, message: String },
    #[error("limits for plugin '{plugin}' are invalid: {message}")]
    Limits { plugin: String, message: String },
    #[error(transparent)]
    Fault(#[from] PluginFault),
}

/// What went wrong inside one hook call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Fault {
    #[error("ran past its {0:?} deadline")]
    Deadline(Duration),
    #[error("exceeded its memory cap of {0} bytes")]
    MemoryCap(usize),
    #[error("trapped: {0}")]
    Trap(String),
    #[error("returned a malformed answer: {0}")]
    Malformed(String),
    #[error("could not be instantiated: {0}")]
    Instantiate(String),
    #[error("failed to initialise: {0}")]
    Init(String),
    #[error("is disabled for this session after an earlier failure ({0})")]
    Poisoned(String),
}

/// A hook call of a named plugin that failed. Display reads as a sentence:
/// `plugin 'guardrails' ran past its 50ms deadline (on-query)`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("plugin '{plugin}' {fault} ({hook})")]
pub struct PluginFault {
    pub plugin: String,
    pub hook: &'static str,
    pub fault: Fault,
}
