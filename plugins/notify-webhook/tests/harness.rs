//! notify-webhook in the real runtime, POSTing notices through the host's
//! `http` capability to a real local HTTP receiver.

use std::time::Duration;

use gatehouse_sdk::harness::receiver::Receiver;
use gatehouse_sdk::harness::{Grants, TestPlugin, TestService};
use gatehouse_sdk::{
    Hook, Identity, Review, ReviewDecision, ReviewEvent, ReviewKind, ReviewState, ReviewTransition,
    ReviewVerdict, Role,
};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

const NOW: u64 = 1_737_191_520_250;

fn person(email: &str, groups: &[&str]) -> Identity {
    Identity {
        user_id: format!("id-{email}"),
        email: email.into(),
        groups: groups.iter().map(|g| g.to_string()).collect(),
        role: Role::User,
    }
}

fn event(kind: ReviewKind, transition: ReviewTransition, state: ReviewState) -> ReviewEvent {
    ReviewEvent {
        review: Review {
            id: "3f9a".into(),
            kind,
            state,
            requester: person("ada@example.com", &["dev"]),
            connection: "billing.admin".into(),
            query: (kind == ReviewKind::OneTime).then(|| "drop table invoices_old".to_string()),
            reason: "review: this query needs approval from dba (statement class `ddl`, rule 1)"
                .into(),
            approver_groups: vec!["dba".into()],
            decisions: match state {
                ReviewState::Approved => vec![ReviewDecision {
                    approver: person("bob@example.com", &["dba"]),
                    approved: true,
                    comment: "ok".into(),
                    at: NOW,
                }],
                _ => Vec::new(),
            },
            duration_minutes: (kind == ReviewKind::Jit).then_some(45),
            created_at: NOW - 60_000,
        },
        transition,
        gateway_url: "https://gatehouse.example.com/".into(),
    }
}

fn open<'a>(plugin: &'a TestPlugin, config: &str, receiver: &Receiver) -> TestService<'a> {
    plugin
        .service(config)
        .grants(Grants {
            http: vec![format!("{}/hooks/", receiver.base)],
            ..Grants::default()
        })
        .deadline(Duration::from_secs(3))
        .clock_millis(NOW)
        .open()
        .expect("service starts")
}

#[test]
fn declares_only_on_review_and_http() {
    let plugin = gatehouse_sdk::test_plugin!();
    assert!(plugin.implements(Hook::OnReview));
    assert!(!plugin.implements(Hook::OnQuery));
    assert!(!plugin.implements(Hook::OnAuditEvent));
    let capabilities = &plugin.manifest().capabilities;
    assert_eq!(capabilities.len(), 1);
    assert_eq!(capabilities[0].wit_name(), "http-outbound");
}

#[test]
fn slack_message_for_a_requested_review() {
    let receiver = Receiver::start();
    let plugin = gatehouse_sdk::test_plugin!();
    let config = format!(
        r#"{{"url": "{}/hooks/slack", "include_query": true}}"#,
        receiver.base
    );
    let mut service = open(&plugin, &config, &receiver);
    let requested = event(
        ReviewKind::OneTime,
        ReviewTransition::Requested,
        ReviewState::Pending,
    );
    assert_eq!(service.review(&requested), Ok(ReviewVerdict::NoChange));

    let requests = receiver.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/hooks/slack");
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(request.header("x-gatehouse-signature"), None);
    let message = request.json();
    assert_eq!(
        message["text"],
        "Review requested: ada@example.com asks to run a query on billing.admin"
    );
    let blocks = message["blocks"].as_array().unwrap();
    assert_eq!(blocks[0]["type"], "header");
    assert_eq!(blocks[0]["text"]["type"], "plain_text");
    assert_eq!(blocks[1]["text"]["type"], "mrkdwn");
    assert!(
        blocks[1]["text"]["text"]
            .as_str()
            .unwrap()
            .starts_with("*ada@example.com* asks to run a query on `billing.admin`\n>review:")
    );
    assert_eq!(blocks[3]["text"]["text"], "```drop table invoices_old```");
    let actions = blocks.last().unwrap();
    assert_eq!(actions["type"], "actions");
    let buttons = actions["elements"].as_array().unwrap();
    let urls: Vec<&str> = buttons.iter().map(|b| b["url"].as_str().unwrap()).collect();
    assert_eq!(
        urls,
        [
            "https://gatehouse.example.com/reviews/3f9a?decision=approve",
            "https://gatehouse.example.com/reviews/3f9a?decision=reject",
            "https://gatehouse.example.com/reviews/3f9a",
        ]
    );
    assert_eq!(buttons[0]["style"], "primary");
    assert_eq!(buttons[1]["style"], "danger");
    for button in buttons {
        assert_eq!(button["type"], "button");
        assert_eq!(button["text"]["type"], "plain_text");
    }
}

#[test]
fn generic_json_signed_with_the_secret() {
    let receiver = Receiver::start();
    let plugin = gatehouse_sdk::test_plugin!();
    let secret = "a-notify-secret-of-length";
    let config = format!(
        r#"{{"url": "{}/hooks/generic", "format": "generic", "secret": "{secret}",
            "transitions": ["requested", "approved", "expired"]}}"#,
        receiver.base
    );
    let mut service = open(&plugin, &config, &receiver);
    let approved = event(
        ReviewKind::Jit,
        ReviewTransition::Approved,
        ReviewState::Approved,
    );
    assert_eq!(service.review(&approved), Ok(ReviewVerdict::NoChange));
    // Not a configured transition: nothing sent.
    let added = event(
        ReviewKind::Jit,
        ReviewTransition::DecisionAdded,
        ReviewState::Pending,
    );
    assert_eq!(service.review(&added), Ok(ReviewVerdict::NoChange));

    let requests = receiver.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    let timestamp = request.header("x-gatehouse-timestamp").unwrap();
    assert_eq!(timestamp, "1737191520");
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(&request.body);
    assert_eq!(
        request.header("x-gatehouse-signature").unwrap(),
        format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
    );
    let notice = request.json();
    assert_eq!(notice["type"], "gatehouse.review.approved");
    assert_eq!(
        notice["summary"],
        "ada@example.com's request for 45 minutes of access to billing.admin was approved"
    );
    assert_eq!(notice["review"]["id"], "3f9a");
    assert_eq!(notice["review"]["kind"], "jit");
    assert_eq!(notice["review"]["state"], "approved");
    assert_eq!(notice["review"]["duration_minutes"], 45);
    assert_eq!(
        notice["review"]["decisions"][0]["approver"]["email"],
        "bob@example.com"
    );
    assert_eq!(
        notice["links"]["review"],
        "https://gatehouse.example.com/reviews/3f9a"
    );
    assert_eq!(notice["sent_at"], NOW);
}

#[test]
fn failed_deliveries_never_change_the_review() {
    let receiver = Receiver::start();
    let plugin = gatehouse_sdk::test_plugin!();
    let config = format!(r#"{{"url": "{}/hooks/slack"}}"#, receiver.base);
    let mut service = open(&plugin, &config, &receiver);
    let requested = event(
        ReviewKind::OneTime,
        ReviewTransition::Requested,
        ReviewState::Pending,
    );
    receiver.set_status(500);
    assert_eq!(service.review(&requested), Ok(ReviewVerdict::NoChange));
    assert_eq!(receiver.requests().len(), 1);
    // The query is not sent unless include_query is set.
    assert!(!String::from_utf8_lossy(&receiver.requests()[0].body).contains("invoices_old"));

    // Nobody listening, or off the allowlist: still no change, no fault.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let mut unreachable = plugin
        .service(&format!(r#"{{"url": "{base}/hooks/x"}}"#))
        .grants(Grants {
            http: vec![base.clone()],
            ..Grants::default()
        })
        .deadline(Duration::from_secs(3))
        .open()
        .unwrap();
    assert_eq!(unreachable.review(&requested), Ok(ReviewVerdict::NoChange));
    let mut ungranted = plugin
        .service(&format!(r#"{{"url": "{base}/hooks/x"}}"#))
        .open()
        .unwrap();
    assert_eq!(ungranted.review(&requested), Ok(ReviewVerdict::NoChange));
}

#[test]
fn bad_configs_are_refused_at_bind_time() {
    let plugin = gatehouse_sdk::test_plugin!();
    let err = plugin
        .validate_config(r#"{"url": "http://x/", "format": "teams"}"#)
        .unwrap_err();
    assert!(err.contains("unknown variant `teams`"), "{err}");
}
