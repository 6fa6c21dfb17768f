//! The gateway on its store: sessions and queries recorded there, the
//! configuration file applied idempotently, the first administrator
//! bootstrapped, and bindings changed in the store applying to new
//! sessions only (hot reload).

use gatehouse_store::bindings::NewBinding;
use gatehouse_store::sessions::{SessionFilter, Verdict};
use gatehouse_store::{Actor, PageRequest};
use gatehouse_tests::gateway::TestGateway;

const GUARDRAILS: &str = r#"plugin = "guardrails"
config = { deny_statements = ["drop", "truncate"] }"#;

#[tokio::test(flavor = "multi_thread")]
async fn sessions_and_their_queries_are_recorded_in_the_store() {
    let gw = TestGateway::start_with(
        "127.0.0.1:0",
        "",
        "[audit]\nallowed_queries = true",
        &[GUARDRAILS],
    )
    .await;
    {
        let client = gw.client().await;
        client.simple_query("select 1").await.unwrap();
        client.simple_query("drop table nope").await.unwrap_err();
        client.query("select $1::int", &[&7i32]).await.unwrap();
        // One prepared statement run three times: one decision, three runs.
        let statement = client.prepare("select $1::int + 1").await.unwrap();
        for n in 0..3i32 {
            client.query(&statement, &[&n]).await.unwrap();
        }
    }
    // The session ends when the client is dropped; wait for the record.
    let store = &gw.gateway.store;
    let mut sessions = Vec::new();
    for _ in 0..100 {
        gw.gateway.recorder.flush().await;
        sessions = store
            .sessions()
            .list(&SessionFilter::default(), &PageRequest::first(10))
            .await
            .unwrap()
            .items;
        if sessions.first().is_some_and(|s| s.ended_at.is_some()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(sessions.len(), 1);
    let session = &sessions[0];
    assert_eq!(session.email, gatehouse_tests::gateway::USER);
    assert_eq!(session.connection, "pg.test");
    assert!(session.ended_at.is_some(), "the end is recorded");
    assert_eq!((session.queries, session.denied), (4, 1));

    let events = store.sessions().events(&session.id, 0, 100).await.unwrap();
    let verdicts: Vec<_> = events.iter().map(|e| e.verdict.unwrap()).collect();
    assert_eq!(
        verdicts,
        [
            Verdict::Allowed,
            Verdict::Denied,
            Verdict::Allowed,
            Verdict::Allowed,
            Verdict::Allowed,
            Verdict::Allowed
        ]
    );
    let seqs: Vec<_> = events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5, 6], "every run is its own event");
    let reruns: Vec<_> = events[3..].iter().map(|e| e.query_id).collect();
    assert_eq!(
        reruns,
        [Some(4); 3],
        "the prepared statement's runs share its decision"
    );
    assert!(
        events[3..]
            .iter()
            .all(|e| e.query.as_deref() == Some("select $1::int + 1") && e.rows == 1)
    );
    let denied = &events[1];
    assert_eq!(denied.query.as_deref(), Some("drop table nope"));
    assert_eq!(denied.decided_by.as_deref(), Some("guardrails"));
    assert!(denied.reason.as_deref().unwrap().contains("DROP"));
    assert_eq!(events[0].rows, 1);

    // Every decision is an audit event, allowed ones too (`[audit]
    // allowed_queries`): one per decision, not per run of a prepared
    // statement.
    let audited = store.audit().after(0, 1000).await.unwrap();
    let texts = |action: &str| {
        audited
            .iter()
            .filter(|e| e.action == action && e.session_id.as_deref() == Some(session.id.as_str()))
            .filter_map(|e| e.attributes.iter().find(|(k, _)| k == "query.text"))
            .map(|(_, text)| text.as_str())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        texts("query.allowed"),
        ["select 1", "select $1::int", "select $1::int + 1"]
    );
    assert_eq!(texts("query.denied"), ["drop table nope"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_logins_are_audited_in_the_store() {
    let gw = TestGateway::start(&[]).await;
    let conninfo = gw
        .conninfo(gatehouse_tests::gateway::USER, "pg.test", "disable")
        .replace(&gw.token, "ghat_wrong");
    tokio_postgres::connect(&conninfo, tokio_postgres::NoTls)
        .await
        .err()
        .expect("refused");
    let store = &gw.gateway.store;
    let mut found = false;
    for _ in 0..100 {
        gw.gateway.recorder.flush().await;
        let events = store.audit().after(0, 1000).await.unwrap();
        found = events.iter().any(|e| {
            e.category == "authentication"
                && e.action == "session.refused"
                && e.reason.as_deref() == Some("bad credentials")
        });
        if found {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(found, "the refusal is an authentication audit event");
}

#[tokio::test(flavor = "multi_thread")]
async fn applying_the_same_file_again_changes_nothing() {
    let gw = TestGateway::start(&[GUARDRAILS]).await;
    let store = &gw.gateway.store;
    let before = store.audit().latest_sequence().await.unwrap();
    gatehouse::apply::apply(&gw.config, store, &gw.gateway.runtime)
        .await
        .unwrap();
    assert_eq!(store.audit().latest_sequence().await.unwrap(), before);
    let connection = store.connections().by_name("pg.test").await.unwrap();
    assert_eq!(store.bindings().list(connection.id).await.unwrap().len(), 1);
    assert!(
        !connection.has_password,
        "the test connection logs in by trust"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_first_start_creates_an_administrator_with_a_one_time_token() {
    let gw = TestGateway::start(&[]).await;
    let admin = gw
        .gateway
        .bootstrap
        .as_ref()
        .expect("an empty store gets an admin");
    assert_eq!(admin.email, "admin@localhost");
    let user = gw
        .gateway
        .store
        .tokens()
        .authenticate(&admin.email, admin.token.expose())
        .await
        .unwrap()
        .expect("the printed token works");
    assert_eq!(user.role, gatehouse_store::Role::Admin);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plugin_bound_in_the_store_applies_to_new_sessions_and_not_to_running_ones() {
    let gw = TestGateway::start(&[]).await;
    let before = gw.client().await;
    let store = &gw.gateway.store;
    let connection = store.connections().by_name("pg.test").await.unwrap();
    let mut binding = NewBinding::new("guardrails");
    binding.config = serde_json::json!({ "deny_statements": ["drop"] });
    store
        .bindings()
        .add(&Actor::system("test"), connection.id, binding)
        .await
        .unwrap();
    gw.gateway.reload().await.unwrap();

    let after = gw.client().await;
    let denied = after
        .simple_query("drop table if exists gatehouse_hot_reload_probe")
        .await
        .unwrap_err();
    assert_eq!(denied.code().unwrap().code(), "42501", "{denied}");
    before
        .simple_query("drop table if exists gatehouse_hot_reload_probe")
        .await
        .expect("the running session keeps the plugins it started with");
}

/// One HTTP/1.1 request to the gateway's API; returns (status, body).
async fn api(
    gw: &TestGateway,
    method: &str,
    path: &str,
    token: &str,
    body: Option<&str>,
) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut socket = tokio::net::TcpStream::connect(gw.gateway.api_addr)
        .await
        .unwrap();
    let body = body.unwrap_or("");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: gatehouse\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    socket.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    socket.read_to_string(&mut response).await.unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
        .unwrap_or_default();
    (status, body)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plugin_bound_through_the_api_applies_to_the_next_session_without_a_restart() {
    let gw = TestGateway::start(&[]).await;
    let admin = gw
        .gateway
        .bootstrap
        .as_ref()
        .unwrap()
        .token
        .expose()
        .to_string();
    let (status, body) = api(&gw, "GET", "/api/whoami", &admin, None).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("admin@localhost"), "{body}");

    // A user may not bind plugins.
    let (status, _) = api(
        &gw,
        "POST",
        "/api/connections/pg.test/plugins",
        &gw.token,
        Some(r#"{"plugin": "guardrails", "config": {"deny_statements": ["drop"]}}"#),
    )
    .await;
    assert_eq!(status, 403);

    let (status, body) = api(
        &gw,
        "POST",
        "/api/connections/pg.test/plugins",
        &admin,
        Some(r#"{"plugin": "guardrails", "config": {"deny_statements": ["drop"]}}"#),
    )
    .await;
    assert!(status == 200 || status == 201, "{status} {body}");

    // The API signals the change; the next session has the plugin.
    let mut denied = None;
    for _ in 0..100 {
        let client = gw.client().await;
        match client
            .simple_query("drop table if exists gatehouse_api_probe")
            .await
        {
            Err(err) => {
                denied = Some(err);
                break;
            }
            Ok(_) => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
        }
    }
    let denied = denied.expect("new sessions get the plugin bound through the API");
    assert_eq!(denied.code().unwrap().code(), "42501");
}

#[tokio::test(flavor = "multi_thread")]
async fn review_links_open_a_page_that_reads_the_review_through_the_api() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let gw = TestGateway::start(&[]).await;
    let get = |path: &'static str| async move {
        let mut socket = tokio::net::TcpStream::connect(gw.gateway.api_addr)
            .await
            .unwrap();
        socket
            .write_all(
                format!("GET {path} HTTP/1.1\r\nHost: g\r\nConnection: close\r\n\r\n").as_bytes(),
            )
            .await
            .unwrap();
        let mut response = String::new();
        socket.read_to_string(&mut response).await.unwrap();
        response
    };
    let page = get("/reviews/abc-123").await;
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(
        page.to_ascii_lowercase()
            .contains("content-type: text/html")
    );
    assert!(page.contains(r#"const id = "abc-123";"#));
    assert!(
        page.contains("X-Requested-With"),
        "changes go through the API's CSRF rule"
    );
    let refused = get("/reviews/%3Cscript%3E").await;
    assert!(refused.starts_with("HTTP/1.1 404"), "{refused}");
}

#[tokio::test(flavor = "multi_thread")]
async fn binding_secrets_from_the_file_reach_the_plugin_merged_into_its_config() {
    use gatehouse_store::bindings::{BindingUpdate, SecretsUpdate};
    // The sandbox's one config key, `mode`, comes from a secret file: the
    // plugin rewriting every query shows it got the merged config.
    let dir = tempfile::tempdir().unwrap();
    let mode = dir.path().join("sandbox-mode");
    std::fs::write(&mode, "rewrite\n").unwrap();
    let binding = format!(
        "plugin = \"sandbox-guest\"\nsecrets = {{ mode = {{ file = \"{}\" }} }}",
        mode.display()
    );
    let gw = TestGateway::start(&[&binding]).await;
    let client = gw.client().await;
    let messages = client.simple_query("select 2").await.unwrap();
    let value = messages.iter().find_map(|m| match m {
        tokio_postgres::SimpleQueryMessage::Row(row) => Some(row.get(0).unwrap().to_string()),
        _ => None,
    });
    assert_eq!(value.as_deref(), Some("1"), "the plugin rewrote the query");
    drop(client);

    // Stored sealed: the clear config has no `mode`, the binding names it.
    let store = &gw.gateway.store;
    let connection = store.connections().by_name("pg.test").await.unwrap();
    let stored = store.bindings().list(connection.id).await.unwrap();
    assert_eq!(stored[0].config, serde_json::json!({}));
    assert_eq!(stored[0].secrets_set, ["mode"]);
    let created = store
        .audit()
        .list(
            &gatehouse_store::audit::AuditFilter {
                action: Some("binding.create".into()),
                ..Default::default()
            },
            &PageRequest::first(10),
        )
        .await
        .unwrap()
        .items;
    let after = created[0].after.as_ref().unwrap();
    assert_eq!(after["secrets_set"], serde_json::json!(["mode"]));
    assert_eq!(after["config"], serde_json::json!({}));

    // Applying the same file again changes nothing (the values compare equal):
    // no admin event follows. The session above may still be recording its
    // end, so the latest sequence of all events can move meanwhile.
    let before = store.audit().latest_sequence().await.unwrap();
    gatehouse::apply::apply(&gw.config, store, &gw.gateway.runtime)
        .await
        .unwrap();
    let (changed, _) = store.audit().admin_changed_after(before).await.unwrap();
    assert!(!changed, "applying the same file again stored a change");

    // A secret the plugin refuses: the connection is unavailable, and the
    // reason (logged, and told to clients) does not quote the value.
    let refused = BindingUpdate {
        secrets: SecretsUpdate::new().set("mode", serde_json::json!("Not-A-Mode-Value")),
        ..Default::default()
    };
    store
        .bindings()
        .update(&Actor::system("test"), stored[0].id, refused)
        .await
        .unwrap();
    gw.gateway.reload().await.unwrap();
    let catalog = gw.gateway.catalog.current();
    let reasons: Vec<(&str, &str)> = catalog.unavailable().collect();
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert!(reasons[0].1.contains("sandbox-guest"), "{reasons:?}");
    assert!(!reasons[0].1.contains("Not-A-Mode-Value"), "{reasons:?}");
    assert!(reasons[0].1.contains("***"), "{reasons:?}");
    let refused = tokio_postgres::connect(
        &gw.conninfo(gatehouse_tests::gateway::USER, "pg.test", "disable"),
        tokio_postgres::NoTls,
    )
    .await
    .err()
    .expect("an unavailable connection refuses clients");
    let told = format!("{refused:?}");
    assert!(told.contains("sandbox-guest"), "{told}");
    assert!(!told.contains("Not-A-Mode-Value"), "{told}");
}
