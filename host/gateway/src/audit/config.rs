//! The `[audit]` and `[sessions]` sections of `gatehouse.toml`.
//!
//! ```toml
//! [audit]
//! allowed_queries = true         # every allowed query is an audit event, durable before its results reach the client (false: only in the session record)
//! retention_days = 400           # delete audit events older than this once every sink has them (default: keep)
//! forget_sinks = ["old-siem"]    # sinks no longer configured: drop their cursors (so retention stops waiting)
//!
//!   [[audit.sinks]]
//!   plugin = "audit-jsonl"
//!   config = { prefix = "audit" }
//!   grants = { files = "/var/log/gatehouse" }
//!
//!   [[audit.sinks]]
//!   name = "siem"                                   # default: the plugin's name
//!   plugin = "audit-webhook"
//!   config = { url = "http://collector:8088/gatehouse" }
//!   secret_config = { secret = { env = "SIEM_HMAC_KEY" } }   # config keys whose value is a secret reference
//!   # (or a table of them: headers = { Authorization = { file = "siem-token" } })
//!   grants = { http = ["http://collector:8088/gatehouse"] }
//!   deadline_ms = 5000
//!   max_attempts = 8                                # then the event is dead-lettered
//!   retry_base_ms = 1000                            # backoff: base, 2×base, 4×base … up to retry_cap_ms
//!   retry_cap_ms = 300000
//!
//! [sessions]
//! retention_days = 90            # delete sessions (and their events) older than this (default: keep)
//! ```
//!
//! Sinks are global (every audit event goes to every sink), not per
//! connection. A sink's *name* keys its delivery cursor in the store: rename
//! it and it starts over (from `start`); remove it and its cursor stays
//! (re-adding it resumes) until it is listed in `forget_sinks`.
//! Secrets never sit in the file: `secret_config` names an environment
//! variable or file per config key (or per key of a table, such as a
//! webhook's headers), resolved at startup into the plugin's config
//! (which, like every binding config, is never logged); a key given in
//! both `config` and `secret_config` is refused, as in a binding.

use crate::config::SecretValue;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// `[audit]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditSection {
    /// Audit every allowed query (`query.allowed`, the default): the
    /// session journals its event while the query runs upstream, and the
    /// answer reaches the client only after. `false` leaves allowed queries
    /// to the session record (written in 100 ms batches, so a crash can
    /// lose its last moments).
    #[serde(default = "yes")]
    pub allowed_queries: bool,
    /// Delete audit events older than this many days, once every sink has
    /// delivered (or dead-lettered) them. Default: keep everything.
    #[serde(default)]
    pub retention_days: Option<u32>,
    /// Sink names to remove from the store at startup.
    #[serde(default)]
    pub forget_sinks: Vec<String>,
    #[serde(default)]
    pub sinks: Vec<SinkConfig>,
}

fn yes() -> bool {
    true
}

impl Default for AuditSection {
    fn default() -> Self {
        Self {
            allowed_queries: true,
            retention_days: None,
            forget_sinks: Vec::new(),
            sinks: Vec::new(),
        }
    }
}

/// `[sessions]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionsSection {
    /// Delete sessions that ended (or, never ended, started) more than this
    /// many days ago, with their events; checked at startup and daily.
    /// Default: keep everything.
    #[serde(default)]
    pub retention_days: Option<u32>,
}

/// Where a new sink starts reading the log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SinkStart {
    /// Every event still stored (the default: nothing is missed).
    #[default]
    Beginning,
    /// Only events recorded from its first start on.
    Now,
}

/// One `[[audit.sinks]]` entry: an audit-sink plugin and how to drive it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SinkConfig {
    /// Keys the delivery cursor; default the plugin's name.
    #[serde(default)]
    pub name: Option<String>,
    /// An installed plugin declaring `on-audit-event` (latest version).
    pub plugin: String,
    #[serde(default = "empty_table")]
    pub config: toml::Value,
    /// Config keys whose values are secrets, by reference, or tables of
    /// references (`headers = { Authorization = { env = "VAR" } }`), as a
    /// binding's `secrets` are.
    #[serde(default)]
    pub secret_config: BTreeMap<String, SecretValue>,
    #[serde(default)]
    pub grants: gatehouse_runtime::Grants,
    /// Deadline of one delivery (`on-audit-event` call), in ms.
    #[serde(default = "default_deadline_ms")]
    pub deadline_ms: u64,
    #[serde(default = "default_memory_mb")]
    pub memory_mb: u32,
    #[serde(default)]
    pub start: SinkStart,
    /// Failed attempts on one event before it is dead-lettered.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// First retry delay; doubled per attempt up to `retry_cap_ms`.
    #[serde(default = "default_retry_base_ms")]
    pub retry_base_ms: u64,
    #[serde(default = "default_retry_cap_ms")]
    pub retry_cap_ms: u64,
}

fn empty_table() -> toml::Value {
    toml::Value::Table(Default::default())
}
fn default_deadline_ms() -> u64 {
    5_000
}
fn default_memory_mb() -> u32 {
    32
}
fn default_max_attempts() -> u32 {
    8
}
fn default_retry_base_ms() -> u64 {
    1_000
}
fn default_retry_cap_ms() -> u64 {
    300_000
}

impl SinkConfig {
    /// The name keying the sink's cursor.
    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.plugin)
    }
}

fn check_days(what: &str, days: Option<u32>) -> anyhow::Result<()> {
    if days == Some(0) {
        anyhow::bail!("{what}.retention_days must be at least 1 (leave it out to keep everything)");
    }
    Ok(())
}

fn check_sink_name(name: &str) -> anyhow::Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !ok {
        anyhow::bail!(
            "audit sink name {name:?} must be 1-63 ASCII letters, digits, '-', '_' or '.'"
        );
    }
    Ok(())
}

impl AuditSection {
    /// Relative grant directories and secret files are relative to the
    /// configuration file.
    pub fn rebase(&mut self, base: &Path) {
        for sink in &mut self.sinks {
            if let Some(dir) = &mut sink.grants.files
                && dir.is_relative()
            {
                *dir = base.join(&*dir);
            }
            for secret in sink.secret_config.values_mut() {
                secret.rebase(base);
            }
        }
    }

    /// Structural checks: names, ranges, uniqueness.
    pub fn check(&self, sessions: &SessionsSection) -> anyhow::Result<()> {
        check_days("audit", self.retention_days)?;
        check_days("sessions", sessions.retention_days)?;
        let mut names = std::collections::HashSet::new();
        for sink in &self.sinks {
            let name = sink.name();
            check_sink_name(name)?;
            if !names.insert(name) {
                anyhow::bail!(
                    "audit sink '{name}' is declared twice (give one of them another `name`)"
                );
            }
            let at = |what: &str| format!("audit sink '{name}': {what}");
            if sink.deadline_ms == 0 || sink.deadline_ms > 60_000 {
                anyhow::bail!(at("deadline_ms must be 1..=60000"));
            }
            if sink.memory_mb == 0 {
                anyhow::bail!(at("memory_mb must be at least 1"));
            }
            if sink.max_attempts == 0 {
                anyhow::bail!(at("max_attempts must be at least 1"));
            }
            if sink.retry_base_ms == 0 || sink.retry_cap_ms < sink.retry_base_ms {
                anyhow::bail!(at(
                    "retry_base_ms must be positive and at most retry_cap_ms"
                ));
            }
            if !sink.config.is_table() {
                anyhow::bail!(at("config must be a table"));
            }
            if let Some(key) = sink
                .secret_config
                .keys()
                .find(|key| sink.config.get(key.as_str()).is_some())
            {
                anyhow::bail!(at(&format!(
                    "'{key}' is set in both config and secret_config"
                )));
            }
        }
        for name in &self.forget_sinks {
            if names.contains(name.as_str()) {
                anyhow::bail!("audit sink '{name}' is both configured and in forget_sinks");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SecretRef;

    fn parse(text: &str) -> anyhow::Result<AuditSection> {
        let section: AuditSection = toml::from_str(text)?;
        section.check(&SessionsSection::default())?;
        Ok(section)
    }

    #[test]
    fn sinks_parse_with_defaults() {
        let section = parse(
            r#"
            [[sinks]]
            plugin = "audit-jsonl"
            grants = { files = "logs" }
            [[sinks]]
            name = "siem"
            plugin = "audit-webhook"
            config = { url = "http://127.0.0.1:9/x" }
            secret_config = { secret = { env = "HMAC" } }
            "#,
        )
        .unwrap();
        let jsonl = &section.sinks[0];
        assert_eq!(jsonl.name(), "audit-jsonl");
        assert_eq!(
            (jsonl.max_attempts, jsonl.retry_base_ms, jsonl.retry_cap_ms),
            (8, 1_000, 300_000)
        );
        assert_eq!(jsonl.start, SinkStart::Beginning);
        assert_eq!(section.sinks[1].name(), "siem");
        assert!(section.allowed_queries, "every query is audited by default");
    }

    #[test]
    fn secret_config_takes_tables_of_references_relative_to_the_file() {
        let mut section = parse(
            r#"
            [[sinks]]
            plugin = "audit-webhook"
            secret_config = { secret = { env = "HMAC" }, headers = { Authorization = { file = "token" } } }
            "#,
        )
        .unwrap();
        section.rebase(Path::new("/etc/gatehouse"));
        let secrets = &section.sinks[0].secret_config;
        assert_eq!(
            secrets["secret"],
            SecretValue::Ref(SecretRef::Env("HMAC".into()))
        );
        let SecretValue::Table(headers) = &secrets["headers"] else {
            panic!("headers is a table of references: {secrets:?}");
        };
        assert_eq!(
            headers["Authorization"],
            SecretValue::Ref(SecretRef::File("/etc/gatehouse/token".into()))
        );
        // A value written in clear is refused, as in a binding's secrets.
        let clear =
            "[[sinks]]\nplugin = 'w'\nsecret_config = { headers = { Authorization = 'Bearer x' } }";
        assert!(
            parse(clear)
                .unwrap_err()
                .to_string()
                .contains("never written in the file")
        );
    }

    #[test]
    fn bad_sinks_are_refused() {
        let twice = "[[sinks]]\nplugin = 'audit-jsonl'\n[[sinks]]\nplugin = 'audit-jsonl'";
        assert!(
            parse(twice)
                .unwrap_err()
                .to_string()
                .contains("declared twice")
        );
        let both = "[[sinks]]\nplugin = 'w'\nconfig = { secret = 'x' }\nsecret_config = { secret = { env = 'S' } }";
        assert!(parse(both).unwrap_err().to_string().contains("both config"));
        let attempts = "[[sinks]]\nplugin = 'w'\nmax_attempts = 0";
        assert!(
            parse(attempts)
                .unwrap_err()
                .to_string()
                .contains("max_attempts")
        );
        let days = "retention_days = 0";
        assert!(parse(days).unwrap_err().to_string().contains("at least 1"));
    }
}
