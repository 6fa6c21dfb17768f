//! audit-webhook's configuration and its checks.
//!
//! Put the `secret` and any `headers` under the binding's `secrets` (as an
//! audit sink: `secret_config` in `gatehouse.toml`), not in its clear
//! config: the gateway seals binding secrets at rest, never returns them
//! (the API lists their names only) and merges them into the config this
//! plugin receives, so they are read here like any other field. Use a
//! secret made for this webhook alone; rotate it by replacing that one
//! secret. The plugin never logs the secret, the header values or the
//! URL's query.

use std::collections::BTreeMap;

use gatehouse_sdk::webhook::{check_header, check_url};
use serde::Deserialize;

/// Shortest accepted secret, in bytes.
pub const MIN_SECRET_BYTES: usize = 16;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where events are POSTed. Must also be on the binding's HTTP
    /// allowlist (the host enforces it).
    pub url: String,
    /// HMAC-SHA256 key of `X-Gatehouse-Signature`.
    pub secret: String,
    /// Extra request headers (e.g. `Authorization` for a collector).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

impl Config {
    pub fn validate(&self) -> Result<(), String> {
        check_url(&self.url)?;
        if self.secret.len() < MIN_SECRET_BYTES {
            return Err(format!(
                "secret must be at least {MIN_SECRET_BYTES} bytes (use a random string made \
                 for this webhook)"
            ));
        }
        for (name, value) in &self.headers {
            check_header(name, value)?;
        }
        Ok(())
    }
}

/// `url` without its query and fragment (which may carry tokens), for
/// messages and logs.
pub fn redact(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or(url)
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
    fn good_config() {
        let config = parse(
            r#"{"url": "https://siem.example.com/in?token=x", "secret": "0123456789abcdef",
                "headers": {"Authorization": "Splunk abc"}}"#,
        )
        .unwrap();
        assert_eq!(config.headers["Authorization"], "Splunk abc");
        assert_eq!(redact(&config.url), "https://siem.example.com/in");
    }

    #[test]
    fn mistakes() {
        let secret = r#""secret": "0123456789abcdef""#;
        for (json, expected) in [
            (
                format!(r#"{{"url": "ftp://x/", {secret}}}"#),
                "must start with http",
            ),
            (
                format!(r#"{{"url": "http:///x", {secret}}}"#),
                "has no host",
            ),
            (
                format!(r#"{{"url": "http://u:p@x/", {secret}}}"#),
                "user info",
            ),
            (
                r#"{"url": "http://x/", "secret": "short"}"#.to_string(),
                "at least 16 bytes",
            ),
            (
                format!(
                    r#"{{"url": "http://x/", {secret}, "headers": {{"X-Gatehouse-Signature": "x"}}}}"#
                ),
                "set by the plugin",
            ),
            (
                format!(r#"{{"url": "http://x/", {secret}, "headers": {{"A": "b\r\nEvil: 1"}}}}"#),
                "line break",
            ),
            (
                format!(r#"{{"url": "http://x/", {secret}, "headers": {{"A B": "c"}}}}"#),
                "not a valid header name",
            ),
            (
                r#"{"url": "http://x/"}"#.to_string(),
                "missing field `secret`",
            ),
        ] {
            let err = parse(&json).unwrap_err();
            assert!(err.contains(expected), "{json}: {err}");
            assert!(!err.contains("0123456789abcdef"), "secret leaked: {err}");
        }
    }
}
