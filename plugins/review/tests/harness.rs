//! The review plugin in the real runtime, through the SDK harness: query
//! and connect verdicts in a session, quorum and policy in a service
//! instance (`init(none)`), as the gateway runs them.

use gatehouse_sdk::{
    ConnectVerdict, ConnectionKind, Hook, Identity, QueryVerdict, Review, ReviewDecision,
    ReviewEvent, ReviewKind, ReviewRequest, ReviewState, ReviewTransition, ReviewVerdict, Role,
};

const CONFIG: &str = r#"{
    "approver_groups": ["dba"],
    "min_approvals": 2,
    "rules": [
        {"statements": ["ddl", "delete"]},
        {"statements": ["dml-write"], "tables": ["billing.invoices"]},
        {"patterns": ["(?i)\\bsalary\\b"]}
    ],
    "jit": {"max_minutes": 120, "min_approvals": 1}
}"#;

#[track_caller]
fn review_request(verdict: QueryVerdict) -> ReviewRequest {
    match verdict {
        QueryVerdict::Review(request) => request,
        other => panic!("expected a review, got {other:?}"),
    }
}

#[test]
fn declares_connect_query_and_review() {
    let plugin = gatehouse_sdk::test_plugin!();
    for hook in [Hook::OnConnect, Hook::OnQuery, Hook::OnReview] {
        assert!(plugin.implements(hook), "{hook:?}");
    }
    assert!(!plugin.implements(Hook::OnResult));
    assert!(!plugin.implements(Hook::OnAuditEvent));
    assert!(plugin.manifest().capabilities.is_empty());
}

#[test]
fn queries_are_held_by_class_table_and_pattern() {
    let plugin = gatehouse_sdk::test_plugin!();
    let mut session = plugin
        .session(CONFIG)
        .user("ada@example.com", &["dev"])
        .connection("billing.admin", ConnectionKind::Postgres)
        .open()
        .unwrap();
    assert_eq!(session.query("select * from invoices"), QueryVerdict::Allow);
    assert_eq!(session.query("select 'drop table x'"), QueryVerdict::Allow);
    let request = review_request(session.query("DROP TABLE x"));
    assert_eq!(request.approver_groups, ["dba"]);
    assert_eq!(
        request.reason,
        "review: this query needs approval from dba (statement class `ddl`, rule 1)"
    );
    assert!(
        review_request(session.query("delete from t where id = 1"))
            .reason
            .contains("`delete`")
    );
    assert_eq!(
        session.query("update t set a = 1 where id = 2"),
        QueryVerdict::Allow
    );
    assert!(
        review_request(session.query("update invoices set paid = true where id = 2"))
            .reason
            .contains("table `billing.invoices`, rule 2")
    );
    assert!(
        review_request(
            session.query_prepared("select salary from staff where id = $1", &[Some("1")])
        )
        .reason
        .contains("pattern")
    );
}

#[test]
fn mysql_connections_use_the_mysql_dialect() {
    let plugin = gatehouse_sdk::test_plugin!();
    let mut session = plugin
        .session(CONFIG)
        .connection("shop.admin", ConnectionKind::Mysql)
        .open()
        .unwrap();
    assert!(matches!(
        session.query("update `billing`.`invoices` set paid = 1 where id = 2"),
        QueryVerdict::Review(_)
    ));
    assert_eq!(session.query("select `drop` from t"), QueryVerdict::Allow);
}

#[test]
fn jit_connections_need_a_review() {
    let plugin = gatehouse_sdk::test_plugin!();
    let mut session = plugin
        .session(CONFIG)
        .connection("billing.admin", ConnectionKind::Postgres)
        .open()
        .unwrap();
    match session.connect() {
        ConnectVerdict::Review(request) => {
            assert_eq!(request.approver_groups, ["dba"]);
            assert!(
                request.reason.contains("billing.admin"),
                "{}",
                request.reason
            );
            assert!(
                request.reason.contains("at most 120 minutes"),
                "{}",
                request.reason
            );
        }
        other => panic!("expected a review, got {other:?}"),
    }
    let mut plain = plugin
        .session(r#"{"approver_groups": ["dba"]}"#)
        .open()
        .unwrap();
    assert_eq!(plain.connect(), ConnectVerdict::Allow);
    assert_eq!(plain.query("drop table t"), QueryVerdict::Allow);
}

#[test]
fn bad_configs_are_refused_at_bind_time() {
    let plugin = gatehouse_sdk::test_plugin!();
    let err = plugin
        .validate_config(r#"{"approver_groups": ["dba"], "rules": [{"patterns": ["("]}]}"#)
        .unwrap_err();
    assert!(err.contains("rules[0].patterns[0]"), "{err}");
    let err = plugin.validate_config("{}").unwrap_err();
    assert!(err.contains("approver_groups"), "{err}");
}

fn person(email: &str, groups: &[&str]) -> Identity {
    Identity {
        user_id: format!("id-{email}"),
        email: email.into(),
        groups: groups.iter().map(|g| g.to_string()).collect(),
        role: Role::Approver,
    }
}

fn event(
    kind: ReviewKind,
    transition: ReviewTransition,
    decisions: &[(&Identity, bool)],
) -> ReviewEvent {
    ReviewEvent {
        review: Review {
            id: "rev-1".into(),
            kind,
            state: ReviewState::Pending,
            requester: Identity {
                role: Role::User,
                ..person("ada@example.com", &["dev", "dba"])
            },
            connection: "billing.admin".into(),
            query: (kind == ReviewKind::OneTime).then(|| "drop table x".to_string()),
            reason: "review: …".into(),
            approver_groups: vec!["dba".into()],
            decisions: decisions
                .iter()
                .map(|(who, approved)| ReviewDecision {
                    approver: (*who).clone(),
                    approved: *approved,
                    comment: if *approved {
                        String::new()
                    } else {
                        "not today".into()
                    },
                    at: 1_700_000_000_000,
                })
                .collect(),
            duration_minutes: (kind == ReviewKind::Jit).then_some(60),
            created_at: 1_700_000_000_000,
        },
        transition,
        gateway_url: "https://gatehouse.example.com".into(),
    }
}

#[test]
fn quorum_in_a_service_instance() {
    let plugin = gatehouse_sdk::test_plugin!();
    let mut service = plugin.service(CONFIG).open().unwrap();
    let ada = person("ada@example.com", &["dba"]);
    let bob = person("bob@example.com", &["dba"]);
    let eve = person("eve@example.com", &["dba"]);
    let mallory = person("mallory@example.com", &["dev"]);
    let one_time = ReviewKind::OneTime;
    let added = ReviewTransition::DecisionAdded;

    let requested = event(one_time, ReviewTransition::Requested, &[]);
    assert_eq!(service.review(&requested), Ok(ReviewVerdict::NoChange));
    // Two approvals needed; the requester's and an outsider's do not count.
    for decisions in [
        vec![(&bob, true)],
        vec![(&bob, true), (&ada, true)],
        vec![(&bob, true), (&mallory, true)],
        vec![(&bob, true), (&bob, true)],
    ] {
        assert_eq!(
            service.review(&event(one_time, added, &decisions)),
            Ok(ReviewVerdict::NoChange),
            "{decisions:?}"
        );
    }
    assert_eq!(
        service.review(&event(one_time, added, &[(&bob, true), (&eve, true)])),
        Ok(ReviewVerdict::Approve)
    );
    // One rejection wins, whatever the approvals.
    assert_eq!(
        service.review(&event(one_time, added, &[(&bob, true), (&eve, false)])),
        Ok(ReviewVerdict::Reject(
            "review: rejected by eve@example.com: not today".into()
        ))
    );
    // JIT needs one approval on this connection.
    assert_eq!(
        service.review(&event(ReviewKind::Jit, added, &[(&bob, true)])),
        Ok(ReviewVerdict::Approve)
    );
    // Settled reviews are left alone.
    let mut settled = event(
        one_time,
        ReviewTransition::Approved,
        &[(&bob, true), (&eve, true)],
    );
    settled.review.state = ReviewState::Approved;
    assert_eq!(service.review(&settled), Ok(ReviewVerdict::NoChange));
}

#[test]
fn jit_minutes_are_capped_on_request() {
    let plugin = gatehouse_sdk::test_plugin!();
    let mut service = plugin.service(CONFIG).open().unwrap();
    let mut request = event(ReviewKind::Jit, ReviewTransition::Requested, &[]);
    assert_eq!(service.review(&request), Ok(ReviewVerdict::NoChange));
    request.review.duration_minutes = Some(121);
    assert_eq!(
        service.review(&request),
        Ok(ReviewVerdict::Reject(
            "review: 121 minutes of access asked for, but at most 120 are allowed on billing.admin"
                .into()
        ))
    );
}
