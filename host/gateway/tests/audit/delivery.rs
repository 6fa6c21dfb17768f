//! Events reach the sink plugins: audit-jsonl into a granted directory,
//! audit-webhook to a local receiver that fails N times (retried, order
//! kept) or always (dead letters, delivery moves on); and the events a
//! session produces are committed before the client hears the answer.

use crate::common::*;
use std::collections::BTreeSet;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

/// Every line of every file audit-jsonl wrote in `dir`, in file order.
fn jsonl_lines(dir: &std::path::Path) -> Vec<serde_json::Value> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    files
        .iter()
        .flat_map(|f| {
            std::fs::read_to_string(f)
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect::<Vec<serde_json::Value>>()
        })
        .collect()
}

async fn caught_up(gw: &TestGateway, sink: &str) -> bool {
    let latest = gw.store().audit().latest_sequence().await.unwrap();
    let state = gw.store().audit().sink(sink).await.unwrap();
    latest > 0 && state.delivered_through == latest
}

#[tokio::test(flavor = "multi_thread")]
async fn a_session_is_audited_before_the_client_hears_and_reaches_audit_jsonl() {
    let dir = tempfile::tempdir().unwrap();
    let gw = TestGateway::start(&format!(
        r#"
[[audit.sinks]]
plugin = "audit-jsonl"
config = {{ fsync = false }}
grants = {{ files = "{}" }}
"#,
        dir.path().display()
    ))
    .await;
    let store = gw.store().clone();
    let session_id;
    {
        let client = gw.client().await;
        // Admitted only after session.start committed.
        let started: Vec<_> = all_events(&store)
            .await
            .into_iter()
            .filter(|e| e.action == "session.start")
            .collect();
        assert_eq!(
            started.len(),
            1,
            "session.start is committed before the client is admitted"
        );
        session_id = started[0].session_id.clone().unwrap();
        client.simple_query("select 1").await.unwrap();
        let err = client.simple_query("drop table nope").await.unwrap_err();
        assert_eq!(
            err.code(),
            Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE)
        );
        // No flush, no wait: the denial was committed before the client got it.
        let events = all_events(&store).await;
        let denied = events
            .iter()
            .find(|e| e.action == "query.denied")
            .expect("query.denied is committed before the client hears");
        assert_eq!(denied.session_id.as_deref(), Some(session_id.as_str()));
        assert_eq!(denied.connection.as_deref(), Some("pg.test"));
        let actor = denied.actor.as_ref().unwrap();
        assert_eq!(actor.email, USER);
        assert_eq!(actor.groups, ["dba", "dev"]);
        assert_eq!(attribute(denied, "query.text"), Some("drop table nope"));
        assert_eq!(attribute(denied, "plugin"), Some("guardrails"));
        // The allowed query was journaled before its answer, and the
        // journal is in the store before the next group commits: in order.
        let allowed = events
            .iter()
            .find(|e| e.action == "query.allowed")
            .expect("allowed queries are audit events by default");
        assert_eq!(attribute(allowed, "query.text"), Some("select 1"));
        assert_eq!(allowed.session_id.as_deref(), Some(session_id.as_str()));
        assert!(allowed.sequence < denied.sequence, "in the session's order");
    }
    // A refused login is committed before the refusal is sent, too.
    let refused = connect(gw.gateway.postgres_addr.port(), "ghat_wrong").await;
    assert!(refused.is_err(), "refused");
    let events = all_events(&store).await;
    let refused = events
        .iter()
        .find(|e| e.action == "session.refused")
        .expect("session.refused is committed before the client hears");
    assert_eq!(attribute(refused, "user"), Some(USER));
    assert!(refused.actor.is_none());

    eventually(LIMIT, "session.end delivered to audit-jsonl", || async {
        caught_up(&gw, "audit-jsonl").await
            && jsonl_lines(dir.path())
                .iter()
                .any(|l| l["event"]["action"] == "session.end")
    })
    .await;
    let lines = jsonl_lines(dir.path());
    let sequences: Vec<i64> = lines
        .iter()
        .map(|l| l["event"]["sequence"].as_i64().unwrap())
        .collect();
    assert!(
        sequences.windows(2).all(|w| w[0] < w[1]),
        "in sequence order: {sequences:?}"
    );
    let stored = all_events(&store).await;
    let stored_ids: Vec<&str> = stored.iter().map(|e| e.id.as_str()).collect();
    let delivered_ids: Vec<&str> = lines
        .iter()
        .map(|l| l["event"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(delivered_ids, stored_ids, "every event, once, in order");
    let actions: BTreeSet<&str> = lines
        .iter()
        .map(|l| l["event"]["action"].as_str().unwrap())
        .collect();
    for action in [
        "user.create",
        "session.start",
        "query.denied",
        "session.end",
        "session.refused",
    ] {
        assert!(
            actions.contains(action),
            "{action} delivered; got {actions:?}"
        );
    }
    let denied = lines
        .iter()
        .find(|l| l["event"]["action"] == "query.denied")
        .unwrap();
    assert_eq!(denied["user"]["email"], USER);
    assert_eq!(denied["gatehouse"]["session_id"], session_id.as_str());
}

fn webhook_sink(name: &str, url: &str, secret_file: &std::path::Path, attempts: u32) -> String {
    format!(
        r#"
[[audit.sinks]]
name = "{name}"
plugin = "audit-webhook"
config = {{ url = "{url}" }}
secret_config = {{ secret = {{ file = "{secret}" }}, headers = {{ Authorization = {{ file = "{token}" }} }} }}
grants = {{ http = ["{url}"] }}
max_attempts = {attempts}
retry_base_ms = 10
retry_cap_ms = 40
"#,
        secret = secret_file.display(),
        token = secret_file.with_file_name("collector.token").display()
    )
}

fn secret_file(dir: &tempfile::TempDir) -> std::path::PathBuf {
    let path = dir.path().join("hmac.key");
    std::fs::write(&path, "0123456789abcdef0123456789abcdef\n").unwrap();
    // The collector's token, a header given by reference (`webhook_sink`).
    std::fs::write(
        dir.path().join("collector.token"),
        "Splunk collector-token\n",
    )
    .unwrap();
    path
}

#[tokio::test(flavor = "multi_thread")]
async fn a_webhook_that_fails_is_retried_in_order() {
    let keys = tempfile::tempdir().unwrap();
    let receiver = Receiver::start(3).await;
    let gw = TestGateway::start(&webhook_sink("siem", &receiver.url, &secret_file(&keys), 5)).await;
    eventually(LIMIT, "the webhook caught up", || caught_up(&gw, "siem")).await;
    let received = receiver.received();
    // The head event was tried four times (three 500s, then 200) …
    let first_id = received[0].body["event"]["id"].clone();
    assert!(
        received[..4]
            .iter()
            .all(|r| r.body["event"]["id"] == first_id)
    );
    assert_eq!(
        received[..4].iter().map(|r| r.status).collect::<Vec<_>>(),
        [500, 500, 500, 200]
    );
    // … and every event was delivered once after that, in sequence order.
    let delivered: Vec<i64> = received
        .iter()
        .filter(|r| r.status == 200)
        .map(|r| r.body["event"]["sequence"].as_i64().unwrap())
        .collect();
    let stored: Vec<i64> = all_events(gw.store())
        .await
        .iter()
        .map(|e| e.sequence)
        .collect();
    assert_eq!(delivered, stored);
    assert!(
        received[0]
            .headers
            .to_ascii_lowercase()
            .contains("x-gatehouse-signature: sha256=")
    );
    assert!(
        received[0].headers.contains("Splunk collector-token"),
        "the header given by reference in secret_config reached the collector"
    );
    assert!(
        gw.store()
            .audit()
            .dead_letters("siem", 10)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_webhook_that_always_fails_dead_letters_and_moves_on() {
    let keys = tempfile::tempdir().unwrap();
    let receiver = Receiver::start(usize::MAX).await;
    let gw = TestGateway::start(&webhook_sink(
        "broken",
        &receiver.url,
        &secret_file(&keys),
        2,
    ))
    .await;
    // Caught up = every event delivered or dead-lettered, including the
    // dead-letter notices themselves (which are not announced again).
    eventually(LIMIT, "the broken sink went through the log", || async {
        let events = all_events(gw.store()).await;
        let originals = events
            .iter()
            .filter(|e| e.action != "audit.dead_letter")
            .count();
        let notices = events.len() - originals;
        caught_up(&gw, "broken").await && notices == originals
    })
    .await;
    let events = all_events(gw.store()).await;
    let letters = gw
        .store()
        .audit()
        .dead_letters("broken", 1000)
        .await
        .unwrap();
    assert_eq!(
        letters.len(),
        events.len(),
        "every event was given up on, none blocked the rest"
    );
    assert!(
        letters
            .iter()
            .all(|l| l.attempts == 2 && l.last_error.contains("500"))
    );
    let notice = events
        .iter()
        .find(|e| e.action == "audit.dead_letter")
        .unwrap();
    assert_eq!(notice.category, "plugin");
    assert_eq!(attribute(notice, "sink"), Some("broken"));
    assert_eq!(attribute(notice, "plugin"), Some("audit-webhook"));
    assert_eq!(
        attribute(notice, "event.sequence"),
        Some(events[0].sequence.to_string().as_str())
    );
    // Each event was attempted exactly twice.
    assert_eq!(receiver.received().len(), 2 * events.len());

    // The API shows the sink and its dead letters (admins only).
    let sinks = gw
        .api("GET", "/api/audit/sinks", &gw.tokens.admin, None)
        .await;
    assert_eq!(sinks.status, 200, "{}", sinks.body);
    assert_eq!(sinks.json()[0]["name"], "broken");
    let dead = gw
        .api(
            "GET",
            "/api/audit/dead-letters?sink=broken&limit=5",
            &gw.tokens.admin,
            None,
        )
        .await;
    assert_eq!(dead.status, 200, "{}", dead.body);
    assert_eq!(dead.json().as_array().unwrap().len(), 5);
    assert_eq!(dead.json()[0]["event"]["sequence"], events[0].sequence);
    let forbidden = gw
        .api("GET", "/api/audit/dead-letters", &gw.tokens.user, None)
        .await;
    assert_eq!(forbidden.status, 403);
    let unknown = gw
        .api(
            "GET",
            "/api/audit/dead-letters?sink=nope",
            &gw.tokens.admin,
            None,
        )
        .await;
    assert_eq!(unknown.status, 404);
}
