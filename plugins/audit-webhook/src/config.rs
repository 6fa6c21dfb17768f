//! audit-webhook's configuration and its checks.
//!
//! The secret and any extra headers are part of the binding's config, which
//! admins can read back: Gatehouse plugins cannot read the environment or
//! files outside their grant, so there is nowhere else to keep them. Use a
//! secret made for this webhook alone, and rotate it by rebinding. The
//! plugin never logs the secret, the header values or the URL's query.

use std::collections::BTreeMap;

use serde::Deserialize;

/// Shortest accepted secret, in bytes.
pub const MIN_SECRET_BYTES: usize = 16;

/// Headers the plugin sets itself; a configured header may not replace them.
const RESERVED_HEADERS: &[&str] = &[
    "content-type",
    "content-length",
    "host",
    "user-agent",
    "transfer-encoding",
    "connection",
];

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

/// `http://` or `https://`, a host, no user info, no whitespace.
pub fn check_url(url: &str) -> Result<(), String> {
    let lower = url.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
        .ok_or_else(|| format!("url {:?} must start with http:// or https://", redact(url)))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() {
        return Err(format!("url {:?} has no host", redact(url)));
    }
    if authority.contains('@') {
        return Err("url must not carry user info (user:password@); use headers".into());
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("url contains whitespace or control characters".into());
    }
    Ok(())
}

fn check_header(name: &str, value: &str) -> Result<(), String> {
    let token = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if !token {
        return Err(format!("headers: {name:?} is not a valid header name"));
    }
    let lower = name.to_ascii_lowercase();
    if RESERVED_HEADERS.contains(&lower.as_str()) || lower.starts_with("x-gatehouse-") {
        return Err(format!(
            "headers: {name} is set by the plugin and cannot be configured"
        ));
    }
    if value.chars().any(|c| c == '\r' || c == '\n' || c == '\0') {
        return Err(format!(
            "headers: the value of {name} contains a line break"
        ));
    }
    Ok(())
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
