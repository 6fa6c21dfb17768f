//! notify-webhook's configuration and its checks.
//!
//! Put the optional `secret`, any `headers` and (for Slack, whose webhook
//! URL *is* its secret) the `url` under the binding's `secrets`, not its
//! `config`: the gateway seals them at rest, never returns them (the API
//! lists their names only) and merges them into the config this plugin
//! receives, so it reads them here like any other field. The plugin never
//! logs them, nor the URL's path beyond its origin.

use std::collections::BTreeMap;

use gatehouse_sdk::webhook::{check_header, check_url};
use serde::Deserialize;

/// Shortest accepted signing secret, in bytes.
pub const MIN_SECRET_BYTES: usize = 16;

/// Longest query text put in a notice, in characters.
pub const MAX_QUERY_CHARS: usize = 2000;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where notices are POSTed. Must also be on the binding's HTTP
    /// allowlist (the host enforces it).
    pub url: String,
    /// `slack` (incoming-webhook message) or `generic` (JSON).
    #[serde(default)]
    pub format: Format,
    /// Which review transitions send a notice.
    #[serde(default = "default_transitions")]
    pub transitions: Vec<Transition>,
    /// Put the held query's text in notices (off: query text often holds
    /// personal data, and the review page shows it to approvers anyway).
    #[serde(default)]
    pub include_query: bool,
    /// Sign requests like audit-webhook (`X-Gatehouse-Signature`).
    #[serde(default)]
    pub secret: Option<String>,
    /// Extra request headers (e.g. `Authorization`).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    #[default]
    Slack,
    Generic,
}

/// The WIT `review-transition`s, by their WIT names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Transition {
    Requested,
    DecisionAdded,
    Approved,
    Rejected,
    Revoked,
    Executed,
    Expired,
}

impl Transition {
    pub fn of(transition: gatehouse_sdk::ReviewTransition) -> Self {
        use gatehouse_sdk::ReviewTransition as T;
        match transition {
            T::Requested => Transition::Requested,
            T::DecisionAdded => Transition::DecisionAdded,
            T::Approved => Transition::Approved,
            T::Rejected => Transition::Rejected,
            T::Revoked => Transition::Revoked,
            T::Executed => Transition::Executed,
            T::Expired => Transition::Expired,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Transition::Requested => "requested",
            Transition::DecisionAdded => "decision-added",
            Transition::Approved => "approved",
            Transition::Rejected => "rejected",
            Transition::Revoked => "revoked",
            Transition::Executed => "executed",
            Transition::Expired => "expired",
        }
    }
}

fn default_transitions() -> Vec<Transition> {
    vec![
        Transition::Requested,
        Transition::Approved,
        Transition::Rejected,
    ]
}

impl Config {
    pub fn validate(&self) -> Result<(), String> {
        check_url(&self.url)?;
        if let Some(secret) = &self.secret
            && secret.len() < MIN_SECRET_BYTES
        {
            return Err(format!(
                "secret must be at least {MIN_SECRET_BYTES} bytes (or leave it out)"
            ));
        }
        for (name, value) in &self.headers {
            check_header(name, value)?;
        }
        Ok(())
    }

    pub fn notifies(&self, transition: gatehouse_sdk::ReviewTransition) -> bool {
        self.transitions.contains(&Transition::of(transition))
    }
}

/// The URL's origin (`https://hooks.slack.com`), for logs: a webhook
/// URL's path is often its secret.
pub fn origin(url: &str) -> &str {
    let after_scheme = url.find("://").map(|i| i + 3).unwrap_or(0);
    match url[after_scheme..].find(['/', '?', '#']) {
        Some(end) => &url[..after_scheme + end],
        None => url,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_sdk::parse_config;

    fn parse(json: &str) -> Result<Config, String> {
        let config: Config = parse_config(json).map_err(|e| e.to_string())?;
        config.validate()?;
        Ok(config)
    }

    #[test]
    fn defaults() {
        let config = parse(r#"{"url": "https://hooks.slack.com/services/T/B/X"}"#).unwrap();
        assert_eq!(config.format, Format::Slack);
        assert_eq!(config.transitions, default_transitions());
        assert!(!config.include_query && config.secret.is_none());
        assert_eq!(origin(&config.url), "https://hooks.slack.com");
    }

    #[test]
    fn mistakes() {
        for (json, expected) in [
            (r#"{"url": "hooks.slack.com"}"#, "must start with http"),
            (
                r#"{"url": "http://x/", "format": "teams"}"#,
                "unknown variant `teams`",
            ),
            (
                r#"{"url": "http://x/", "transitions": ["approve"]}"#,
                "unknown variant `approve`",
            ),
            (
                r#"{"url": "http://x/", "secret": "short"}"#,
                "at least 16 bytes",
            ),
            (
                r#"{"url": "http://x/", "headers": {"Host": "y"}}"#,
                "set by the plugin",
            ),
        ] {
            let err = parse(json).unwrap_err();
            assert!(err.contains(expected), "{json}: {err}");
        }
    }
}
