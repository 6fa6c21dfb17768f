//! audit-webhook in the real runtime, POSTing through the host's `http`
//! capability to a real local HTTP receiver.

use std::time::Duration;

use gatehouse_sdk::harness::receiver::Receiver;
use gatehouse_sdk::harness::{Grants, TestPlugin, TestService};
use gatehouse_sdk::{AuditEvent, AuditOutcome, Hook, Identity, Role};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

const SECRET: &str = "s3cr3t-for-this-test-only";
/// 2025-01-18T09:12:00.250Z
const NOW: u64 = 1_737_191_520_250;

fn event(id: &str) -> AuditEvent {
    AuditEvent {
        id: id.into(),
        sequence: 7,
        time: NOW - 250,
        category: "authentication".into(),
        action: "login".into(),
        outcome: AuditOutcome::Success,
        actor: Some(Identity {
            user_id: "17".into(),
            email: "ada@example.com".into(),
            groups: vec!["dev".into()],
            role: Role::User,
        }),
        connection: None,
        session_id: None,
        client_address: Some("10.0.0.5:51234".into()),
        reason: None,
        attributes: vec![("method".into(), "oidc".into())],
    }
}

fn config(url: &str) -> String {
    format!(
        r#"{{"url": "{url}", "secret": "{SECRET}", "headers": {{"Authorization": "Bearer collector"}}}}"#
    )
}

fn open<'a>(plugin: &'a TestPlugin, config: &str, allow: &[&str]) -> TestService<'a> {
    plugin
        .service(config)
        .grants(Grants {
            http: allow.iter().map(|s| s.to_string()).collect(),
            ..Grants::default()
        })
        .deadline(Duration::from_secs(3))
        .clock_millis(NOW)
        .open()
        .expect("service starts")
}

fn hmac_hex(key: &str, text: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(text);
    hex::encode(mac.finalize().into_bytes())
}

#[test]
fn declares_the_audit_hook_and_http() {
    let plugin = gatehouse_sdk::test_plugin!();
    assert!(plugin.implements(Hook::OnAuditEvent));
    assert!(!plugin.implements(Hook::OnReview));
    let capabilities = &plugin.manifest().capabilities;
    assert_eq!(capabilities.len(), 1);
    assert_eq!(capabilities[0].wit_name(), "http-outbound");
}

#[test]
fn posts_a_signed_ecs_document() {
    let receiver = Receiver::start();
    let plugin = gatehouse_sdk::test_plugin!();
    let url = format!("{}/audit/in", receiver.base);
    let mut service = open(
        &plugin,
        &config(&url),
        &[&format!("{}/audit/", receiver.base)],
    );
    service.audit_event(&event("ev-1")).unwrap();

    let requests = receiver.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/audit/in");
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(request.header("authorization"), Some("Bearer collector"));
    assert_eq!(request.header("x-gatehouse-event-id"), Some("ev-1"));
    let timestamp = request.header("x-gatehouse-timestamp").unwrap();
    assert_eq!(timestamp, "1737191520");
    // The receiver's check: HMAC-SHA256(secret, "<timestamp>.<body>").
    let mut signed = format!("{timestamp}.").into_bytes();
    signed.extend_from_slice(&request.body);
    assert_eq!(
        request.header("x-gatehouse-signature").unwrap(),
        format!("sha256={}", hmac_hex(SECRET, &signed))
    );
    // A tampered body would not verify.
    let mut tampered = signed.clone();
    tampered.push(b' ');
    assert_ne!(
        request.header("x-gatehouse-signature").unwrap(),
        format!("sha256={}", hmac_hex(SECRET, &tampered))
    );

    let body = request.json();
    assert_eq!(body["@timestamp"], "2025-01-18T09:12:00.000Z");
    assert_eq!(body["event"]["id"], "ev-1");
    assert_eq!(body["event"]["sequence"], 7);
    assert_eq!(body["event"]["category"][0], "authentication");
    assert_eq!(body["event"]["outcome"], "success");
    assert_eq!(body["user"]["id"], "17");
    assert_eq!(body["gatehouse"]["attributes"]["method"], "oidc");
}

#[test]
fn non_2xx_is_an_error_and_the_retry_delivers() {
    let receiver = Receiver::start();
    let plugin = gatehouse_sdk::test_plugin!();
    let url = format!("{}/in", receiver.base);
    let mut service = open(&plugin, &config(&url), &[&receiver.base]);

    receiver.set_status(500);
    let err = service.audit_event(&event("ev-2")).unwrap_err();
    assert!(err.contains("event ev-2"), "{err}");
    assert!(err.contains("HTTP 500"), "{err}");
    assert!(err.contains("receiver says hello"), "{err}");
    assert!(!err.contains(SECRET), "{err}");

    receiver.set_status(429);
    assert!(service.audit_event(&event("ev-2")).is_err());

    // The host retries later; now the receiver accepts.
    receiver.set_status(202);
    service.audit_event(&event("ev-2")).unwrap();
    let ids: Vec<_> = receiver
        .requests()
        .iter()
        .map(|r| r.header("x-gatehouse-event-id").unwrap().to_string())
        .collect();
    assert_eq!(ids, ["ev-2", "ev-2", "ev-2"]);
}

#[test]
fn transport_errors_and_the_allowlist_are_errors() {
    let plugin = gatehouse_sdk::test_plugin!();
    // A port nobody listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let mut service = open(
        &plugin,
        &config(&format!("{base}/in?token=hidden")),
        &[&base],
    );
    let err = service.audit_event(&event("ev-3")).unwrap_err();
    assert!(err.contains("transport error"), "{err}");
    assert!(!err.contains("hidden"), "the URL's query leaked: {err}");

    let receiver = Receiver::start();
    let url = format!("{}/in", receiver.base);
    let mut off_list = open(
        &plugin,
        &config(&format!("{url}?token=hidden")),
        &["http://127.0.0.1:1/other/"],
    );
    let err = off_list.audit_event(&event("ev-4")).unwrap_err();
    assert!(err.contains("allowlist"), "{err}");
    assert!(!err.contains("hidden"), "the URL's query leaked: {err}");

    let mut ungranted = open(&plugin, &config(&url), &[]);
    let err = ungranted.audit_event(&event("ev-5")).unwrap_err();
    assert!(err.contains("not allowed"), "{err}");
    assert!(receiver.requests().is_empty());
}

#[test]
fn bad_configs_are_refused_at_bind_time() {
    let plugin = gatehouse_sdk::test_plugin!();
    let err = plugin
        .validate_config(r#"{"url": "http://x/", "secret": "short"}"#)
        .unwrap_err();
    assert!(err.contains("at least 16 bytes"), "{err}");
    assert!(!err.contains("short"), "{err}");
}
