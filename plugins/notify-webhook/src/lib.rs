//! # notify-webhook
//!
//! Tells people about reviews: on the configured review transitions
//! (default `requested`, `approved`, `rejected`) it POSTs a notice to one
//! URL through the host's `http` interface (capability `http-outbound`; the
//! URL must be on the binding's allowlist), as a Slack incoming-webhook
//! message (`format: "slack"`, the default) or generic JSON
//! (`format: "generic"`). Notices link to the review in the gateway
//! (`<gateway-url>/reviews/<id>`, with approve/reject variants).
//!
//! ```json
//! { "url": "https://hooks.slack.com/services/T000/B000/XXXX",
//!   "format": "slack",
//!   "transitions": ["requested", "approved", "rejected", "revoked", "expired"],
//!   "include_query": false,
//!   "secret": "…optional, signs like audit-webhook…" }
//! ```
//!
//! ## Semantics
//!
//! * It never decides: `on-review` always answers `no-change`.
//! * Notices are **best effort**. `on-review` cannot return an error, so a
//!   failed delivery (non-2xx, transport error, not allowlisted) is logged
//!   through the host (`warn`, with the URL's origin only: a Slack webhook
//!   URL's path is its secret) and not retried. The review itself, and its
//!   audit trail, are durable in the gateway.
//! * The request is bounded by the hook's deadline: give the binding a few
//!   seconds.
//! * With `secret`, requests carry `X-Gatehouse-Timestamp` and
//!   `X-Gatehouse-Signature: sha256=<hex HMAC-SHA256(secret, "<ts>.<body>")>`,
//!   exactly as audit-webhook's.

mod config;
mod generic;
mod notice;
mod slack;

use gatehouse_sdk::Capability;
use gatehouse_sdk::http::{self, HttpError, Request};
use gatehouse_sdk::prelude::*;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

pub use config::{Config, Format, Transition, origin};
pub use notice::{Links, links};

pub struct NotifyWebhook {
    config: Config,
}

/// The notice body for `event` in the configured format.
pub fn body(config: &Config, event: &ReviewEvent, now_millis: u64) -> Vec<u8> {
    let links = links(&event.gateway_url, &event.review.id);
    let value = match config.format {
        Format::Slack => slack::message(event, &links, config.include_query),
        Format::Generic => generic::notice(event, &links, config.include_query, now_millis),
    };
    value.to_string().into_bytes()
}

/// `sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>` (as audit-webhook).
pub fn signature(secret: &[u8], timestamp: u64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The request carrying the notice of `event`, or `None` when the
/// configuration does not notify this transition.
pub fn request(config: &Config, event: &ReviewEvent, now_millis: u64) -> Option<Request> {
    if !config.notifies(event.transition) {
        return None;
    }
    let body = body(config, event, now_millis);
    let mut headers = vec![
        ("content-type".to_string(), "application/json".to_string()),
        (
            "user-agent".to_string(),
            concat!("gatehouse-notify-webhook/", env!("CARGO_PKG_VERSION")).to_string(),
        ),
    ];
    if let Some(secret) = &config.secret {
        let timestamp = now_millis / 1000;
        headers.push(("x-gatehouse-timestamp".into(), timestamp.to_string()));
        headers.push((
            "x-gatehouse-signature".into(),
            signature(secret.as_bytes(), timestamp, &body),
        ));
    }
    headers.extend(config.headers.iter().map(|(k, v)| (k.clone(), v.clone())));
    Some(Request {
        method: "POST".into(),
        url: config.url.clone(),
        headers,
        body,
    })
}

/// The host's refusal, without the URL it quotes (its path may be a secret).
fn not_allowed(why: &str) -> &'static str {
    if why.contains("not granted") {
        "not allowed: http-outbound is not granted on this binding"
    } else {
        "not allowed: the URL is not on the binding's HTTP allowlist"
    }
}

#[gatehouse_sdk::plugin]
impl Plugin for NotifyWebhook {
    type Config = Config;
    const DESCRIPTION: &'static str = "Send review requested/decided notices to a webhook (Slack message or generic JSON) with links back to the gateway.";
    const CAPABILITIES: &'static [Capability] = &[Capability::HttpOutbound];

    fn new(config: Config) -> Result<Self, String> {
        Ok(Self { config })
    }

    fn validate(config: &Config) -> Result<(), String> {
        config.validate()
    }

    fn on_review(&mut self, event: &ReviewEvent) -> ReviewVerdict {
        let Some(request) = request(&self.config, event, gatehouse_sdk::now_millis()) else {
            return ReviewVerdict::NoChange;
        };
        let review = event.review.id.as_str();
        let transition = Transition::of(event.transition).name();
        let to = origin(&self.config.url);
        let failure = match http::send(&request) {
            Ok(response) if (200..300).contains(&response.status) => None,
            Ok(response) => Some(format!("HTTP {}", response.status)),
            Err(HttpError::NotAllowed(why)) => Some(not_allowed(&why).to_string()),
            Err(HttpError::Transport(why)) => Some(format!("transport error: {why}")),
        };
        match failure {
            None => log::debug(
                "review notice sent",
                &[("review", review), ("transition", transition), ("to", to)],
            ),
            Some(error) => log::warn(
                "review notice not delivered",
                &[
                    ("review", review),
                    ("transition", transition),
                    ("to", to),
                    ("error", error.as_str()),
                ],
            ),
        }
        ReviewVerdict::NoChange
    }
}
