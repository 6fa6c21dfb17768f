//! # audit-webhook
//!
//! An audit sink: every audit event the gateway delivers is POSTed as JSON
//! (the ECS document of `gatehouse-audit-ecs`, see `docs/audit-events.md`)
//! to one URL, through the host's `http` interface (capability
//! `http-outbound`; the URL must be on the binding's allowlist).
//!
//! ```json
//! { "url": "https://siem.example.com/gatehouse", "secret": "…32 random bytes…",
//!   "headers": { "Authorization": "Splunk …" } }
//! ```
//!
//! Each request carries:
//!
//! | header | value |
//! | --- | --- |
//! | `Content-Type` | `application/json` |
//! | `X-Gatehouse-Timestamp` | Unix seconds when it was sent (host clock) |
//! | `X-Gatehouse-Signature` | `sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>` |
//! | `X-Gatehouse-Event-Id` | the event's id (also `event.id` in the body) |
//! | `User-Agent` | `gatehouse-audit-webhook/<version>` |
//!
//! ## Delivery semantics
//!
//! * A 2xx answer acknowledges the event. Anything else (3xx — redirects
//!   are not followed —, 4xx, 5xx), a transport error or a timeout returns
//!   `Err`: the host keeps the event, retries it later with backoff (in
//!   order, per session), and dead-letters it after repeated failures. The
//!   plugin itself never retries within a call: that would spend the hook's
//!   deadline, which also bounds the request (give the binding a deadline
//!   of a few seconds).
//! * So delivery is *at least once*: a receiver that answered 2xx too late
//!   sees the event again; de-duplicate on `event.id`.
//! * Error messages name the event and the URL without its query (which may
//!   hold a token); the secret and header values are never logged.

mod config;
mod sign;

use gatehouse_sdk::http::{self, HttpError, Request, Response};
use gatehouse_sdk::prelude::*;
use gatehouse_sdk::{AuditEvent, Capability};

pub use config::{Config, redact};
pub use sign::{SIGNATURE_HEADER, TIMESTAMP_HEADER, signature};

/// Header carrying the event id.
pub const EVENT_ID_HEADER: &str = "x-gatehouse-event-id";

/// Bytes of a failing response's body quoted in the error.
const BODY_EXCERPT: usize = 200;

pub struct AuditWebhook {
    config: Config,
}

/// The request delivering `event`, signed at `timestamp` (Unix seconds).
pub fn request(config: &Config, event: &AuditEvent, timestamp: u64) -> Request {
    let body = gatehouse_audit_ecs::line(event).into_bytes();
    let mut headers = vec![
        ("content-type".to_string(), "application/json".to_string()),
        (
            "user-agent".to_string(),
            concat!("gatehouse-audit-webhook/", env!("CARGO_PKG_VERSION")).to_string(),
        ),
        (TIMESTAMP_HEADER.to_string(), timestamp.to_string()),
        (
            SIGNATURE_HEADER.to_string(),
            signature(config.secret.as_bytes(), timestamp, &body),
        ),
        (EVENT_ID_HEADER.to_string(), event.id.clone()),
    ];
    headers.extend(config.headers.iter().map(|(k, v)| (k.clone(), v.clone())));
    Request {
        method: "POST".into(),
        url: config.url.clone(),
        headers,
        body,
    }
}

/// Whether the answer acknowledges the event; `Err` says why not.
pub fn acknowledged(answer: Result<Response, HttpError>) -> Result<(), String> {
    match answer {
        Ok(response) if (200..300).contains(&response.status) => Ok(()),
        Ok(response) => {
            let excerpt: String = String::from_utf8_lossy(&response.body)
                .chars()
                .take(BODY_EXCERPT)
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect();
            Err(format!(
                "answered HTTP {}: {}",
                response.status,
                excerpt.trim()
            ))
        }
        // The host's text quotes the whole URL, query included: not repeated.
        Err(HttpError::NotAllowed(why)) if why.contains("not granted") => {
            Err("not allowed: http-outbound is not granted on this binding".into())
        }
        Err(HttpError::NotAllowed(_)) => {
            Err("not allowed: the URL is not on the binding's HTTP allowlist".into())
        }
        Err(HttpError::Transport(why)) => Err(format!("transport error: {why}")),
    }
}

#[gatehouse_sdk::plugin]
impl Plugin for AuditWebhook {
    type Config = Config;
    const DESCRIPTION: &'static str = "POST every audit event as JSON (ECS field names) to an allowlisted URL, HMAC-SHA256 signed; failures are retried by the host.";
    const CAPABILITIES: &'static [Capability] = &[Capability::HttpOutbound];

    fn new(config: Config) -> Result<Self, String> {
        Ok(Self { config })
    }

    fn validate(config: &Config) -> Result<(), String> {
        config.validate()
    }

    fn on_audit_event(&mut self, event: &AuditEvent) -> Result<(), String> {
        let timestamp = gatehouse_sdk::now_millis() / 1000;
        let answer = http::send(&request(&self.config, event, timestamp));
        acknowledged(answer).map_err(|why| {
            format!(
                "audit-webhook: delivering event {} to {} failed: {why}",
                event.id,
                redact(&self.config.url)
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_sdk::{AuditOutcome, parse_config};

    fn config() -> Config {
        parse_config(
            r#"{"url": "http://127.0.0.1:9/in?token=t", "secret": "0123456789abcdef",
                "headers": {"Authorization": "Bearer x"}}"#,
        )
        .unwrap()
    }

    fn event() -> AuditEvent {
        AuditEvent {
            id: "ev-9".into(),
            sequence: 9,
            time: 0,
            category: "session".into(),
            action: "session.start".into(),
            outcome: AuditOutcome::Success,
            actor: None,
            connection: None,
            session_id: None,
            client_address: None,
            reason: None,
            attributes: Vec::new(),
        }
    }

    #[test]
    fn signed_request() {
        let request = request(&config(), &event(), 1_700_000_000);
        assert_eq!(request.method, "POST");
        let header = |name: &str| {
            request
                .headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(header("x-gatehouse-timestamp"), Some("1700000000"));
        assert_eq!(header("x-gatehouse-event-id"), Some("ev-9"));
        assert_eq!(header("authorization"), Some("Bearer x"));
        assert_eq!(
            header("x-gatehouse-signature").unwrap(),
            signature(b"0123456789abcdef", 1_700_000_000, &request.body)
        );
        let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(body["event"]["id"], "ev-9");
    }

    #[test]
    fn only_2xx_acknowledges() {
        let response = |status: u16, body: &str| {
            Ok(Response {
                status,
                headers: Vec::new(),
                body: body.as_bytes().to_vec(),
            })
        };
        assert_eq!(acknowledged(response(200, "")), Ok(()));
        assert_eq!(acknowledged(response(204, "")), Ok(()));
        assert_eq!(
            acknowledged(response(503, "busy\nlater")),
            Err("answered HTTP 503: busy later".into())
        );
        assert!(acknowledged(response(302, "")).is_err());
        assert!(acknowledged(response(400, "")).is_err());
        assert!(
            acknowledged(Err(HttpError::Transport("refused".into())))
                .unwrap_err()
                .contains("refused")
        );
        assert!(
            acknowledged(Err(HttpError::NotAllowed("off list".into())))
                .unwrap_err()
                .contains("allowlist")
        );
    }
}
