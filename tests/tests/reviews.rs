//! Reviews end to end: a real gateway with the real `review` and
//! `access-control` plugins, the machine's PostgreSQL, native clients
//! (tokio-postgres) and the REST API over HTTP.
//!
//! One-time reviews: a held query names its review; approvers decide
//! through the API (no self-approval, only the review's approver groups,
//! one rejection wins, quorum by the plugin); the same query re-sent runs
//! once. JIT: connecting needs an approved, unexpired access request;
//! revocation and expiry end it.

use gatehouse_store::users::NewUser;
use gatehouse_store::{Actor, Role};
use gatehouse_tests::gateway::{TestGateway, USER};
use gatehouse_tests::http::{Response, request};
use serde_json::{Value, json};

const ACCESS: &str = r#"plugin = "access-control"
config = { allowed_groups = ["dba"] }"#;

fn review(min_approvals: u32, jit: bool) -> String {
    let jit = if jit {
        ", jit = { max_minutes = 60 }"
    } else {
        ""
    };
    format!(
        r#"plugin = "review"
config = {{ approver_groups = ["dba"], min_approvals = {min_approvals}, rules = [{{ statements = ["delete"] }}]{jit} }}"#
    )
}

/// A user made for one test: its email and API/database token.
struct Person {
    email: String,
    token: String,
}

async fn person(gw: &TestGateway, email: &str, role: Role, groups: &[&str]) -> Person {
    let store = &gw.gateway.store;
    let actor = Actor::system("test");
    let user = store
        .users()
        .create(
            &actor,
            NewUser {
                groups: groups.iter().map(|g| g.to_string()).collect(),
                ..NewUser::new(email, role)
            },
        )
        .await
        .unwrap();
    let (_, secret) = store
        .tokens()
        .create(&actor, user.id, "test", None)
        .await
        .unwrap();
    Person {
        email: email.into(),
        token: secret.expose().to_string(),
    }
}

async fn api(
    gw: &TestGateway,
    method: &str,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> Response {
    request(
        gw.gateway.api_addr,
        method,
        path,
        Some(token),
        body.as_ref(),
        &[],
    )
    .await
}

async fn connect(
    gw: &TestGateway,
    email: &str,
    token: &str,
) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let conninfo = format!(
        "host=127.0.0.1 port={} user={email} dbname=pg.test password={token} sslmode=disable",
        gw.port()
    );
    let (client, connection) = tokio_postgres::connect(&conninfo, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}

fn db_error(err: &tokio_postgres::Error) -> (String, String) {
    let db = err
        .as_db_error()
        .unwrap_or_else(|| panic!("expected a server error, got {err}"));
    (db.code().code().to_string(), db.message().to_string())
}

/// The review id named by a "query held for review <id>: …" refusal.
fn held_id(message: &str) -> String {
    let rest = message
        .split("held for review ")
        .nth(1)
        .unwrap_or_else(|| panic!("not a held query: {message}"));
    rest.split(':').next().unwrap().to_string()
}

async fn state(gw: &TestGateway, id: &str) -> String {
    let shown = api(gw, "GET", &format!("/api/reviews/{id}"), &gw.token, None).await;
    assert_eq!(shown.status, 200, "{}", shown.body);
    shown.json()["state"].as_str().unwrap().to_string()
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

async fn table(client: &tokio_postgres::Client, name: &str) {
    client
        .batch_execute(&format!(
            "drop table if exists {name}; create table {name} (id int); insert into {name} values (1), (2), (3)"
        ))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_held_query_runs_once_after_approval() {
    let gw = TestGateway::start(&[ACCESS, &review(1, false)]).await;
    let client = gw.client().await;
    table(&client, "gh_review_once").await;

    let err = client
        .simple_query("delete from gh_review_once where id = 1")
        .await
        .unwrap_err();
    let (code, message) = db_error(&err);
    assert_eq!(code, "42501");
    assert!(
        message.contains("statement class `delete`")
            && message.contains("approvers: dba. Re-run it once approved."),
        "{message}"
    );
    let id = held_id(&message);
    let shown = api(&gw, "GET", &format!("/api/reviews/{id}"), &gw.token, None).await;
    let review = shown.json();
    assert_eq!(review["state"], "pending");
    assert_eq!(review["kind"], "one-time");
    assert_eq!(review["query"], "delete from gh_review_once where id = 1");
    assert_eq!(review["requester"]["email"], USER);
    assert_eq!(review["approver_groups"], json!(["dba"]));

    // Sent again while pending: the same review, not a second one.
    let err = client
        .query("delete from gh_review_once where id = 1", &[])
        .await
        .unwrap_err();
    assert_eq!(held_id(&db_error(&err).1), id);

    // The approver approves through the API.
    let approved = api(
        &gw,
        "POST",
        &format!("/api/reviews/{id}/approve"),
        &gw.approver_token,
        Some(json!({ "comment": "fine" })),
    )
    .await;
    assert_eq!(approved.status, 200, "{}", approved.body);
    let approved = approved.json();
    assert_eq!(approved["state"], "approved");
    assert_eq!(approved["decisions"][0]["comment"], "fine");
    assert!(approved["expires_at"].as_i64().unwrap() > now_ms() + 50 * 60_000);

    // The same query (other spacing and case) runs once...
    let ran = client
        .simple_query("DELETE   FROM gh_review_once\n WHERE id = 1")
        .await
        .unwrap();
    assert!(
        ran.iter()
            .any(|m| matches!(m, tokio_postgres::SimpleQueryMessage::CommandComplete(1)))
    );
    assert_eq!(state(&gw, &id).await, "executed");
    let left: i64 = client
        .query_one("select count(*) from gh_review_once", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(left, 2);

    // The audit trail names the review: `query.held` (committed after the
    // review exists) and `query.executed` for the run it approved.
    let events = gw.gateway.store.audit().after(0, 1000).await.unwrap();
    let naming = |action: &str| {
        events
            .iter()
            .filter(|e| e.action == action)
            .map(|e| {
                let review = e.attributes.iter().find(|(k, _)| k == "review.id");
                (review.map(|(_, v)| v.clone()), e.sequence)
            })
            .collect::<Vec<_>>()
    };
    let held = naming("query.held");
    assert_eq!(held.len(), 2, "held twice: {held:?}");
    assert!(
        held.iter()
            .all(|(review, _)| review.as_deref() == Some(id.as_str()))
    );
    let requested = events
        .iter()
        .find(|e| {
            e.action == "review.requested"
                && e.target.as_deref() == Some(format!("review:{id}").as_str())
        })
        .expect("the review's own event");
    assert!(
        held[0].1 > requested.sequence,
        "held after the review exists"
    );
    let executed = naming("query.executed");
    assert_eq!(executed.len(), 1);
    assert_eq!(executed[0].0.as_deref(), Some(id.as_str()));

    // ...and a third time it is held again, under a new review.
    let err = client
        .simple_query("delete from gh_review_once where id = 1")
        .await
        .unwrap_err();
    let again = held_id(&db_error(&err).1);
    assert_ne!(again, id);
    assert_eq!(state(&gw, &again).await, "pending");

    // Approved, then re-sent through the extended protocol: it runs once
    // there too.
    let approved = api(
        &gw,
        "POST",
        &format!("/api/reviews/{again}/approve"),
        &gw.approver_token,
        None,
    )
    .await;
    assert_eq!(approved.status, 200, "{}", approved.body);
    let deleted = client
        .execute("delete from gh_review_once where id = 1", &[])
        .await
        .unwrap();
    assert_eq!(deleted, 0);
    assert_eq!(state(&gw, &again).await, "executed");
    // A different query is a different review, and other queries run.
    let err = client
        .simple_query("delete from gh_review_once where id = 2")
        .await
        .unwrap_err();
    assert_ne!(held_id(&db_error(&err).1), again);
    client.simple_query("select 1").await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn who_may_decide_and_one_rejection_wins() {
    let gw = TestGateway::start(&[ACCESS, &review(2, false)]).await;
    let adam = person(&gw, "adam@example.com", Role::Admin, &["dba"]).await;
    let walt = person(&gw, "walt@example.com", Role::Approver, &["dba"]).await;
    let oscar = person(&gw, "oscar@example.com", Role::Approver, &["ops"]).await;
    let olga = person(&gw, "olga@example.com", Role::Admin, &["ops"]).await;
    let client = gw.client().await;
    table(&client, "gh_review_who").await;

    // An admin in the approver group holds a query and may not approve it.
    let admin = connect(&gw, &adam.email, &adam.token).await.unwrap();
    let err = admin
        .simple_query("delete from gh_review_who where id = 3")
        .await
        .unwrap_err();
    let mine = held_id(&db_error(&err).1);
    let own = api(
        &gw,
        "POST",
        &format!("/api/reviews/{mine}/approve"),
        &adam.token,
        None,
    )
    .await;
    assert_eq!(
        (own.status, own.code().as_str()),
        (403, "denied"),
        "{}",
        own.body
    );
    assert!(
        own.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("someone else")
    );

    // An approver outside the review's groups does not even see it; an
    // admin outside them sees it but may not decide.
    let outside = api(
        &gw,
        "POST",
        &format!("/api/reviews/{mine}/approve"),
        &oscar.token,
        None,
    )
    .await;
    assert_eq!(
        (outside.status, outside.code().as_str()),
        (404, "not_found")
    );
    let hidden = api(
        &gw,
        "GET",
        &format!("/api/reviews/{mine}"),
        &oscar.token,
        None,
    )
    .await;
    assert_eq!(hidden.status, 404);
    let foreign = api(
        &gw,
        "POST",
        &format!("/api/reviews/{mine}/reject"),
        &olga.token,
        None,
    )
    .await;
    assert_eq!((foreign.status, foreign.code().as_str()), (403, "denied"));
    // The requester (a user) has no decide capability at all.
    let user = api(
        &gw,
        "POST",
        &format!("/api/reviews/{mine}/approve"),
        &gw.token,
        None,
    )
    .await;
    assert_eq!(user.status, 403);

    // Quorum 2: one approval leaves it pending, a rejection then wins.
    let err = client
        .simple_query("delete from gh_review_who where id = 1")
        .await
        .unwrap_err();
    let id = held_id(&db_error(&err).1);
    let first = api(
        &gw,
        "POST",
        &format!("/api/reviews/{id}/approve"),
        &gw.approver_token,
        None,
    )
    .await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.json()["state"], "pending");
    let twice = api(
        &gw,
        "POST",
        &format!("/api/reviews/{id}/approve"),
        &gw.approver_token,
        None,
    )
    .await;
    assert_eq!(twice.status, 409, "{}", twice.body);
    let rejected = api(
        &gw,
        "POST",
        &format!("/api/reviews/{id}/reject"),
        &walt.token,
        Some(json!({ "comment": "not during the freeze" })),
    )
    .await;
    assert_eq!(rejected.status, 200, "{}", rejected.body);
    assert_eq!(rejected.json()["state"], "rejected");
    let late = api(
        &gw,
        "POST",
        &format!("/api/reviews/{id}/approve"),
        &adam.token,
        None,
    )
    .await;
    assert_eq!(late.status, 409, "{}", late.body);
    // A rejected review lets nothing run: the query is held anew.
    let err = client
        .simple_query("delete from gh_review_who where id = 1")
        .await
        .unwrap_err();
    assert_ne!(held_id(&db_error(&err).1), id);

    // Two approvals from distinct approvers approve (quorum by the plugin).
    let err = client
        .simple_query("delete from gh_review_who where id = 2")
        .await
        .unwrap_err();
    let id = held_id(&db_error(&err).1);
    for token in [&gw.approver_token, &walt.token] {
        let answer = api(
            &gw,
            "POST",
            &format!("/api/reviews/{id}/approve"),
            token,
            None,
        )
        .await;
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
    assert_eq!(state(&gw, &id).await, "approved");
    client
        .simple_query("delete from gh_review_who where id = 2")
        .await
        .unwrap();

    // The requester withdraws a pending review.
    let revoked = api(
        &gw,
        "POST",
        &format!("/api/reviews/{mine}/revoke"),
        &adam.token,
        None,
    )
    .await;
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    assert_eq!(revoked.json()["state"], "revoked");

    // Every transition is in the audit log.
    let audit = api(
        &gw,
        "GET",
        "/api/audit?category=review&limit=100",
        &adam.token,
        None,
    )
    .await;
    let actions: Vec<String> = audit.json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_string())
        .collect();
    for action in [
        "review.requested",
        "review.decision",
        "review.approved",
        "review.rejected",
        "review.executed",
        "review.revoked",
    ] {
        assert!(
            actions.iter().any(|a| a == action),
            "{action} missing from {actions:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_approved_query_expires_unrun_after_its_window() {
    let gw = TestGateway::start(&[ACCESS, &review(1, false)]).await;
    let client = gw.client().await;
    table(&client, "gh_review_expiry").await;
    let err = client
        .simple_query("delete from gh_review_expiry where id = 1")
        .await
        .unwrap_err();
    let id = held_id(&db_error(&err).1);
    let pending_deadline = gw
        .gateway
        .store
        .reviews()
        .get(&id)
        .await
        .unwrap()
        .expires_at
        .unwrap();
    assert!(pending_deadline > now_ms() + 23 * 3600 * 1000);
    api(
        &gw,
        "POST",
        &format!("/api/reviews/{id}/approve"),
        &gw.approver_token,
        None,
    )
    .await;
    assert!(gw.gateway.reviews.sweep(now_ms()).await.unwrap().is_empty());
    // Two hours later the run window (60 minutes) is over.
    let expired = gw
        .gateway
        .reviews
        .sweep(now_ms() + 2 * 3600 * 1000)
        .await
        .unwrap();
    assert_eq!(expired, vec![id.clone()]);
    assert_eq!(state(&gw, &id).await, "expired");
    let err = client
        .simple_query("delete from gh_review_expiry where id = 1")
        .await
        .unwrap_err();
    assert_ne!(held_id(&db_error(&err).1), id);
    // Undecided reviews expire after `pending_minutes` (a day).
    let undecided = gw
        .gateway
        .reviews
        .sweep(now_ms() + 25 * 3600 * 1000)
        .await
        .unwrap();
    assert_eq!(undecided.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn just_in_time_access_is_requested_approved_revoked_and_expires() {
    let gw = TestGateway::start(&[ACCESS, &review(1, true)]).await;

    // Without approved access the connection is refused, saying how to ask.
    let err = connect(&gw, USER, &gw.token).await.unwrap_err();
    let (code, message) = db_error(&err);
    assert_eq!(code, "28000");
    assert!(
        message.contains("just-in-time access")
            && message.contains("gatehouse reviews request pg.test --minutes N"),
        "{message}"
    );

    // More minutes than the plugin allows: rejected on request.
    let greedy = api(
        &gw,
        "POST",
        "/api/reviews",
        &gw.token,
        Some(json!({ "connection": "pg.test", "kind": "jit", "duration_minutes": 120 })),
    )
    .await;
    assert_eq!(greedy.status, 201, "{}", greedy.body);
    assert_eq!(greedy.json()["state"], "rejected");
    // Approvers cannot request; unknown connections are 404.
    let approver = api(
        &gw,
        "POST",
        "/api/reviews",
        &gw.approver_token,
        Some(json!({ "connection": "pg.test", "duration_minutes": 5 })),
    )
    .await;
    assert_eq!(approver.status, 403);
    let nowhere = api(
        &gw,
        "POST",
        "/api/reviews",
        &gw.token,
        Some(json!({ "connection": "pg.nope", "duration_minutes": 5 })),
    )
    .await;
    assert_eq!(nowhere.status, 404);

    let asked = api(
        &gw,
        "POST",
        "/api/reviews",
        &gw.token,
        Some(json!({ "connection": "pg.test", "kind": "jit", "duration_minutes": 30, "reason": "INC-42" })),
    )
    .await;
    assert_eq!(asked.status, 201, "{}", asked.body);
    let asked = asked.json();
    let id = asked["id"].as_str().unwrap().to_string();
    assert_eq!(
        (asked["state"].as_str(), asked["duration_minutes"].as_u64()),
        (Some("pending"), Some(30))
    );
    assert!(asked["reason"].as_str().unwrap().contains("INC-42"));
    let again = api(
        &gw,
        "POST",
        "/api/reviews",
        &gw.token,
        Some(json!({ "connection": "pg.test", "duration_minutes": 30 })),
    )
    .await;
    assert_eq!(again.status, 409, "{}", again.body);
    // Still refused while pending, naming the request.
    let err = connect(&gw, USER, &gw.token).await.unwrap_err();
    assert!(db_error(&err).1.contains(&id));

    let approved = api(
        &gw,
        "POST",
        &format!("/api/reviews/{id}/approve"),
        &gw.approver_token,
        None,
    )
    .await;
    assert_eq!(approved.status, 200, "{}", approved.body);
    let until = approved.json()["expires_at"].as_i64().unwrap();
    assert!((until - now_ms() - 30 * 60_000).abs() < 60_000, "{until}");

    // Connected now; revoking ends it at the next query and refuses anew.
    let client = connect(&gw, USER, &gw.token).await.unwrap();
    client.simple_query("select 1").await.unwrap();
    let revoked = api(
        &gw,
        "POST",
        &format!("/api/reviews/{id}/revoke"),
        &gw.token,
        None,
    )
    .await;
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    let err = client.simple_query("select 1").await.unwrap_err();
    let (code, message) = db_error(&err);
    assert_eq!(code, "42501");
    assert!(message.contains("was revoked"), "{message}");
    assert!(connect(&gw, USER, &gw.token).await.is_err());

    // A new grant, then expiry: the sweep closes it.
    let asked = api(
        &gw,
        "POST",
        "/api/reviews",
        &gw.token,
        Some(json!({ "connection": "pg.test", "duration_minutes": 10 })),
    )
    .await;
    let id = asked.json()["id"].as_str().unwrap().to_string();
    api(
        &gw,
        "POST",
        &format!("/api/reviews/{id}/approve"),
        &gw.approver_token,
        None,
    )
    .await;
    let client = connect(&gw, USER, &gw.token).await.unwrap();
    client.simple_query("select 1").await.unwrap();
    let expired = gw
        .gateway
        .reviews
        .sweep(now_ms() + 11 * 60_000)
        .await
        .unwrap();
    assert_eq!(expired, vec![id.clone()]);
    assert_eq!(state(&gw, &id).await, "expired");
    let err = client.simple_query("select 1").await.unwrap_err();
    assert!(db_error(&err).1.contains("expired"), "{err}");
    assert!(connect(&gw, USER, &gw.token).await.is_err());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_approved_query_runs_once_however_it_is_resent() {
    let gw = TestGateway::start(&[ACCESS, &review(1, false)]).await;
    let one = gw.client().await;
    let two = gw.client().await;
    table(&one, "gh_review_race").await;
    let sql = "delete from gh_review_race where id > 0";
    let err = one.simple_query(sql).await.unwrap_err();
    let id = held_id(&db_error(&err).1);
    let approved = api(
        &gw,
        "POST",
        &format!("/api/reviews/{id}/approve"),
        &gw.approver_token,
        None,
    )
    .await;
    assert_eq!(approved.status, 200, "{}", approved.body);

    // Two sessions re-send it at once: one runs it, the other is held anew.
    let (a, b) = tokio::join!(one.simple_query(sql), two.simple_query(sql));
    let ran = [a.is_ok(), b.is_ok()];
    assert_eq!(ran.iter().filter(|ok| **ok).count(), 1, "{a:?} {b:?}");
    let refused = a.err().or(b.err()).unwrap();
    assert_ne!(held_id(&db_error(&refused).1), id);
    assert_eq!(state(&gw, &id).await, "executed");

    // A prepared statement approved once binds once.
    let err = one
        .simple_query("delete from gh_review_race where id = 9")
        .await
        .unwrap_err();
    let id = held_id(&db_error(&err).1);
    api(
        &gw,
        "POST",
        &format!("/api/reviews/{id}/approve"),
        &gw.approver_token,
        None,
    )
    .await;
    let statement = one
        .prepare("delete from gh_review_race where id = 9")
        .await
        .unwrap();
    assert_eq!(one.execute(&statement, &[]).await.unwrap(), 0);
    let err = one.execute(&statement, &[]).await.unwrap_err();
    let (code, message) = db_error(&err);
    assert_eq!(code, "42501");
    assert!(
        message.contains("ran the query its review approved once"),
        "{message}"
    );
    one.simple_query("select 1").await.unwrap();
}
