//! What an admin allows a plugin on one connection: capabilities and limits.
//!
//! A capability is usable only if the plugin *declares* it in its manifest
//! and the admin *grants* it here; [`Grants::check_against`] refuses a
//! binding that grants something undeclared, so the two lists never drift
//! silently. The host's imports check the effective grant on every call.

use crate::error::BindError;
use crate::v0_1::types::Capability;
use std::path::PathBuf;
use std::time::Duration;

/// Capabilities granted on a binding. The default grants nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Grants {
    /// URL prefixes the plugin may send HTTP requests to (`http-outbound`),
    /// e.g. `https://hooks.example.com/services/`. Matched on scheme, host
    /// and port exactly and on the path as a prefix.
    #[serde(default)]
    pub http: Vec<String>,
    /// A host directory preopened for the plugin as `/data` (`files`).
    #[serde(default)]
    pub files: Option<PathBuf>,
    /// The plugin's private key-value store (`key-value`).
    #[serde(default)]
    pub key_value: bool,
}

impl Grants {
    /// Refuse grants of capabilities the plugin did not declare, and bad
    /// grant values.
    pub fn check_against(&self, plugin: &str, declared: &[Capability]) -> Result<(), BindError> {
        let undeclared = |capability: &'static str| BindError::UndeclaredCapability {
            plugin: plugin.to_string(),
            capability,
        };
        if !self.http.is_empty() && !declared.contains(&Capability::HttpOutbound) {
            return Err(undeclared("http-outbound"));
        }
        if self.files.is_some() && !declared.contains(&Capability::Files) {
            return Err(undeclared("files"));
        }
        if self.key_value && !declared.contains(&Capability::KeyValue) {
            return Err(undeclared("key-value"));
        }
        for prefix in &self.http {
            crate::http::AllowedPrefix::parse(prefix).map_err(|message| BindError::Grant {
                plugin: plugin.to_string(),
                message: format!("http allowlist entry {prefix:?}: {message}"),
            })?;
        }
        if let Some(dir) = &self.files
            && !dir.is_dir()
        {
            return Err(BindError::Grant {
                plugin: plugin.to_string(),
                message: format!("files directory {} does not exist", dir.display()),
            });
        }
        Ok(())
    }
}

/// Resource limits of one binding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock budget of one hook call. Past it the call traps and the
    /// answer is a deny.
    pub deadline: Duration,
    /// Cap on the plugin's linear memory, in bytes.
    pub memory_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            deadline: Duration::from_millis(100),
            memory_bytes: 32 << 20,
        }
    }
}
