//! # gatehouse-audit-ecs
//!
//! The JSON document Gatehouse's audit sinks deliver for one WIT
//! `audit-event`: field names from the Elastic Common Schema (ECS 8.x), so a
//! SIEM ingests it without a mapping, and Gatehouse's own values kept
//! beside them under `gatehouse.*` so nothing is lost in translation. The
//! schema, with its OCSF mapping, is documented in `docs/audit-events.md`;
//! this crate is its one implementation (used by `audit-jsonl` and
//! `audit-webhook`).
//!
//! ```json
//! {
//!   "@timestamp": "2025-01-18T09:12:00.123Z",
//!   "ecs": {"version": "8.11.0"},
//!   "event": {"id": "…", "sequence": 42, "kind": "event", "module": "gatehouse",
//!             "dataset": "gatehouse.audit", "category": ["database"],
//!             "action": "query.denied", "outcome": "failure", "reason": "…"},
//!   "user": {"id": "17", "name": "ada@example.com", "email": "ada@example.com",
//!            "roles": ["user"], "group": {"name": ["dev"]}},
//!   "source": {"address": "10.0.0.5:51234", "ip": "10.0.0.5", "port": 51234},
//!   "gatehouse": {"category": "query", "outcome": "denied",
//!                 "connection": "billing.read-only", "session_id": "s-1",
//!                 "attributes": {"plugin": "guardrails"}}
//! }
//! ```
//!
//! Invariants:
//! * Every ECS value is one ECS allows: `event.outcome` is `success`,
//!   `failure` or `unknown` (Gatehouse's `denied` is a `failure`, `pending`
//!   is `unknown`; the original is `gatehouse.outcome`), and
//!   `event.category` is from ECS's list (the original category is
//!   `gatehouse.category`).
//! * Absent optional values are left out, never `null` or `""`.
//! * `event.id` is the store's id of the event: a receiver that sees the same
//!   id twice (a delivery retried after a lost acknowledgement) drops the
//!   second.
//! * Pure: no host calls, so it is unit-tested natively.

mod time;

pub use time::{civil_from_days, day_number, day_stamp, rfc3339_millis};

use gatehouse_sdk::{AuditEvent, AuditOutcome, Identity, Role};
use serde_json::{Map, Value, json};

/// The ECS version the field names follow.
pub const ECS_VERSION: &str = "8.11.0";

/// The ECS document of `event`.
pub fn document(event: &AuditEvent) -> Value {
    let mut doc = Map::new();
    doc.insert("@timestamp".into(), rfc3339_millis(event.time).into());
    doc.insert("ecs".into(), json!({ "version": ECS_VERSION }));

    let mut ev = Map::new();
    ev.insert("id".into(), event.id.clone().into());
    ev.insert("sequence".into(), event.sequence.into());
    ev.insert("kind".into(), "event".into());
    ev.insert("module".into(), "gatehouse".into());
    ev.insert("dataset".into(), "gatehouse.audit".into());
    ev.insert(
        "category".into(),
        json!([ecs_category(&event.category, &event.action)]),
    );
    ev.insert("action".into(), event.action.clone().into());
    ev.insert("outcome".into(), ecs_outcome(event.outcome).into());
    if let Some(reason) = non_empty(&event.reason) {
        ev.insert("reason".into(), reason.into());
    }
    doc.insert("event".into(), ev.into());

    if let Some(actor) = &event.actor {
        doc.insert("user".into(), user(actor));
    }
    if let Some(address) = non_empty(&event.client_address) {
        doc.insert("source".into(), source(address));
    }

    let mut gh = Map::new();
    gh.insert("category".into(), event.category.clone().into());
    gh.insert("outcome".into(), outcome_name(event.outcome).into());
    if let Some(connection) = non_empty(&event.connection) {
        gh.insert("connection".into(), connection.into());
    }
    if let Some(session) = non_empty(&event.session_id) {
        gh.insert("session_id".into(), session.into());
    }
    if !event.attributes.is_empty() {
        let attributes: Map<String, Value> = event
            .attributes
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        gh.insert("attributes".into(), attributes.into());
    }
    doc.insert("gatehouse".into(), gh.into());
    Value::Object(doc)
}

/// The document as one line of JSON (no newline).
pub fn line(event: &AuditEvent) -> String {
    document(event).to_string()
}

fn non_empty(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|v| !v.is_empty())
}

/// The WIT outcome's name (`denied`).
pub fn outcome_name(outcome: AuditOutcome) -> &'static str {
    match outcome {
        AuditOutcome::Success => "success",
        AuditOutcome::Failure => "failure",
        AuditOutcome::Denied => "denied",
        AuditOutcome::Pending => "pending",
    }
}

/// ECS `event.outcome`: only `success`, `failure` and `unknown` exist.
pub fn ecs_outcome(outcome: AuditOutcome) -> &'static str {
    match outcome {
        AuditOutcome::Success => "success",
        AuditOutcome::Failure | AuditOutcome::Denied => "failure",
        AuditOutcome::Pending => "unknown",
    }
}

/// ECS `event.category` of a Gatehouse category (and, for `admin`, action).
pub fn ecs_category(category: &str, action: &str) -> &'static str {
    match category {
        "authentication" => "authentication",
        "session" => "session",
        "query" => "database",
        "review" => "iam",
        "admin" => {
            let object = action.split('.').next().unwrap_or_default();
            if matches!(object, "user" | "group" | "token" | "role") {
                "iam"
            } else {
                "configuration"
            }
        }
        "plugin" => "process",
        _ => "configuration",
    }
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Admin => "admin",
        Role::User => "user",
        Role::Approver => "approver",
    }
}

fn user(identity: &Identity) -> Value {
    let mut user = Map::new();
    if !identity.user_id.is_empty() {
        user.insert("id".into(), identity.user_id.clone().into());
    }
    if !identity.email.is_empty() {
        user.insert("name".into(), identity.email.clone().into());
        user.insert("email".into(), identity.email.clone().into());
    }
    user.insert("roles".into(), json!([role_name(identity.role)]));
    if !identity.groups.is_empty() {
        user.insert("group".into(), json!({ "name": identity.groups }));
    }
    user.into()
}

fn source(address: &str) -> Value {
    let mut source = Map::new();
    source.insert("address".into(), address.into());
    if let Ok(socket) = address.parse::<std::net::SocketAddr>() {
        source.insert("ip".into(), socket.ip().to_string().into());
        source.insert("port".into(), socket.port().into());
    } else if let Ok(ip) = address.parse::<std::net::IpAddr>() {
        source.insert("ip".into(), ip.to_string().into());
    }
    source.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event() -> AuditEvent {
        AuditEvent {
            id: "ev-1".into(),
            sequence: 42,
            time: 1_737_191_520_123,
            category: "query".into(),
            action: "query.denied".into(),
            outcome: AuditOutcome::Denied,
            actor: Some(Identity {
                user_id: "17".into(),
                email: "ada@example.com".into(),
                groups: vec!["dev".into(), "dba".into()],
                role: Role::User,
            }),
            connection: Some("billing.read-only".into()),
            session_id: Some("s-1".into()),
            client_address: Some("[::1]:51234".into()),
            reason: Some("guardrails: DROP statements are not allowed".into()),
            attributes: vec![("plugin".into(), "guardrails".into())],
        }
    }

    #[test]
    fn full_document() {
        let doc = document(&event());
        assert_eq!(
            doc,
            json!({
                "@timestamp": "2025-01-18T09:12:00.123Z",
                "ecs": {"version": "8.11.0"},
                "event": {
                    "id": "ev-1", "sequence": 42, "kind": "event", "module": "gatehouse",
                    "dataset": "gatehouse.audit", "category": ["database"],
                    "action": "query.denied", "outcome": "failure",
                    "reason": "guardrails: DROP statements are not allowed"
                },
                "user": {
                    "id": "17", "name": "ada@example.com", "email": "ada@example.com",
                    "roles": ["user"], "group": {"name": ["dev", "dba"]}
                },
                "source": {"address": "[::1]:51234", "ip": "::1", "port": 51234},
                "gatehouse": {
                    "category": "query", "outcome": "denied",
                    "connection": "billing.read-only", "session_id": "s-1",
                    "attributes": {"plugin": "guardrails"}
                }
            })
        );
    }

    #[test]
    fn absent_values_are_left_out() {
        let bare = AuditEvent {
            actor: None,
            connection: None,
            session_id: Some(String::new()),
            client_address: None,
            reason: None,
            attributes: Vec::new(),
            category: "admin".into(),
            action: "connection.update".into(),
            outcome: AuditOutcome::Success,
            ..event()
        };
        let doc = document(&bare);
        assert!(doc.get("user").is_none() && doc.get("source").is_none());
        assert!(doc["event"].get("reason").is_none());
        assert_eq!(doc["event"]["category"], json!(["configuration"]));
        assert_eq!(
            doc["gatehouse"],
            json!({"category": "admin", "outcome": "success"})
        );
        assert!(!line(&bare).contains('\n'));
    }

    #[test]
    fn categories_and_outcomes_are_ecs_values() {
        assert_eq!(ecs_category("admin", "user.create"), "iam");
        assert_eq!(ecs_category("admin", "binding.update"), "configuration");
        assert_eq!(ecs_category("review", "review.approved"), "iam");
        assert_eq!(ecs_category("authentication", "login"), "authentication");
        assert_eq!(ecs_category("plugin", "plugin.fault"), "process");
        assert_eq!(ecs_category("something-new", "x"), "configuration");
        assert_eq!(ecs_outcome(AuditOutcome::Pending), "unknown");
        assert_eq!(ecs_outcome(AuditOutcome::Denied), "failure");
    }

    #[test]
    fn source_without_a_port() {
        assert_eq!(
            source("10.0.0.5"),
            json!({"address": "10.0.0.5", "ip": "10.0.0.5"})
        );
        assert_eq!(source("unix:/tmp/s"), json!({"address": "unix:/tmp/s"}));
    }
}
