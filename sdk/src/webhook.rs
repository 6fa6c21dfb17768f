//! Checks for plugins that POST to a configured URL (audit sinks,
//! notifications): validate the admin's `url` and extra `headers` in
//! `Plugin::new`, so a bad binding is refused when it is made.
//!
//! Messages never echo the URL: a webhook URL's path or query is often its
//! secret (a Slack incoming webhook *is* its URL).

/// Headers a webhook plugin sets itself; a configured header may not
/// replace them (nor any `X-Gatehouse-*` header).
pub const RESERVED_HEADERS: &[&str] = &[
    "content-type",
    "content-length",
    "host",
    "user-agent",
    "transfer-encoding",
    "connection",
];

/// `http://` or `https://`, a host, no user info, no whitespace or control
/// characters.
pub fn check_url(url: &str) -> Result<(), String> {
    let lower = url.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
        .ok_or("url must start with http:// or https://")?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() {
        return Err("url has no host".into());
    }
    if authority.contains('@') {
        return Err("url must not carry user info (user:password@); use headers".into());
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("url contains whitespace or control characters".into());
    }
    Ok(())
}

/// A configured extra header: a valid token name, not one the plugin sets
/// ([`RESERVED_HEADERS`], `X-Gatehouse-*`), no line break in the value.
pub fn check_header(name: &str, value: &str) -> Result<(), String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert!(check_url("https://hooks.example.com/T0/B0/secret").is_ok());
        assert!(check_url("HTTP://collector:8088/in?token=x").is_ok());
        for (url, expected) in [
            ("ftp://x/", "must start with http"),
            ("http:///x", "has no host"),
            ("http://u:p@x/", "user info"),
            ("http://x/a b", "whitespace"),
        ] {
            let err = check_url(url).unwrap_err();
            assert!(err.contains(expected), "{url}: {err}");
            assert!(!err.contains("x/"), "the url is not echoed: {err}");
        }
    }

    #[test]
    fn headers() {
        assert!(check_header("Authorization", "Splunk abc").is_ok());
        for (name, value, expected) in [
            ("Bad Name", "x", "not a valid header name"),
            ("Host", "x", "set by the plugin"),
            ("X-Gatehouse-Signature", "x", "set by the plugin"),
            ("X-Ok", "a\r\nInjected: yes", "line break"),
        ] {
            let err = check_header(name, value).unwrap_err();
            assert!(err.contains(expected), "{name}: {err}");
        }
    }
}
