//! Exec end to end: `POST /api/connections/{name}/exec` on a real gateway,
//! through real plugins (access-control, guardrails, review, a row-masking
//! test plugin) to the machine's PostgreSQL; JSON and CSV output; a held
//! query run by the gateway once approved, its output kept.

use gatehouse_tests::gateway::TestGateway;
use gatehouse_tests::http::{Response, request};
use serde_json::{Value, json};
use std::time::Duration;

const ACCESS: &str = r#"plugin = "access-control"
config = { allowed_groups = ["dba"] }"#;
const GUARDRAILS: &str = r#"plugin = "guardrails"
config = { deny_statements = ["drop"] }"#;
const REVIEW: &str = r#"plugin = "review"
config = { approver_groups = ["dba"], rules = [{ statements = ["delete"] }] }"#;
const MASK: &str = r#"plugin = "sandbox-guest"
config = { mode = "mask-rows" }"#;

async fn exec(gw: &TestGateway, token: &str, body: Value, headers: &[(&str, &str)]) -> Response {
    request(
        gw.gateway.api_addr,
        "POST",
        "/api/connections/pg.test/exec",
        Some(token),
        Some(&body),
        headers,
    )
    .await
}

async fn get(gw: &TestGateway, path: &str, token: &str) -> Response {
    request(gw.gateway.api_addr, "GET", path, Some(token), None, &[]).await
}

#[tokio::test(flavor = "multi_thread")]
async fn exec_answers_json_and_csv_through_the_plugins() {
    let gw = TestGateway::start(&[ACCESS, GUARDRAILS, MASK]).await;
    let sql = "select 1 as n, null::text as missing, 'a,b' as s, 'eve@example.com' as email";
    let answer = exec(&gw, &gw.token, json!({ "sql": sql }), &[]).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let output = answer.json();
    let result = &output["results"][0];
    let names: Vec<&str> = result["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["n", "missing", "s", "email"]);
    assert_eq!(result["columns"][0]["type"], "int4");
    // The masking plugin's on-result-rows edited the row.
    assert_eq!(result["rows"], json!([["1", null, "a,b", "***"]]));
    assert_eq!(result["command_tag"], "SELECT 1");
    assert_eq!(
        (output["error"].is_null(), output["truncated"].as_bool()),
        (true, Some(false))
    );

    // CSV, by format or by Accept.
    for (body, headers) in [
        (json!({ "sql": sql, "format": "csv" }), vec![]),
        (json!({ "sql": sql }), vec![("Accept", "text/csv")]),
    ] {
        let csv = exec(&gw, &gw.token, body, &headers).await;
        assert_eq!(csv.status, 200, "{}", csv.body);
        assert!(csv.header("content-type").unwrap().starts_with("text/csv"));
        assert_eq!(csv.body, "n,missing,s,email\r\n1,,\"a,b\",***\r\n");
    }

    // Several statements: one result each; a database error is reported
    // with the results before it (JSON) or as 422 (CSV).
    let many = exec(
        &gw,
        &gw.token,
        json!({ "sql": "select 1 as a; select 2 as b; select * from gh_no_such_table" }),
        &[],
    )
    .await;
    assert_eq!(many.status, 200, "{}", many.body);
    let many = many.json();
    assert_eq!(many["results"].as_array().unwrap().len(), 2);
    assert_eq!(many["error"]["code"], "42P01");
    let failed = exec(
        &gw,
        &gw.token,
        json!({ "sql": "select * from gh_no_such_table", "format": "csv" }),
        &[],
    )
    .await;
    assert_eq!(
        (failed.status, failed.code().as_str()),
        (422, "query_failed")
    );

    // A plugin's deny is 403 with its reason; the approver role cannot exec.
    let denied = exec(
        &gw,
        &gw.token,
        json!({ "sql": "drop table gh_whatever" }),
        &[],
    )
    .await;
    assert_eq!(
        (denied.status, denied.code().as_str()),
        (403, "denied"),
        "{}",
        denied.body
    );
    assert!(
        denied.body.contains("DROP statements are not allowed"),
        "{}",
        denied.body
    );
    let approver = exec(&gw, &gw.approver_token, json!({ "sql": "select 1" }), &[]).await;
    assert_eq!(approver.status, 403);
    let nowhere = request(
        gw.gateway.api_addr,
        "POST",
        "/api/connections/pg.nope/exec",
        Some(&gw.token),
        Some(&json!({ "sql": "select 1" })),
        &[],
    )
    .await;
    assert_eq!(nowhere.status, 404);

    // The exec session is recorded like a native one, with verb exec.
    gw.gateway.recorder.flush().await;
    let session_id = output["session_id"].as_str().unwrap();
    let session = get(&gw, &format!("/api/sessions/{session_id}"), &gw.token).await;
    assert_eq!(session.status, 200, "{}", session.body);
    let session = session.json();
    assert_eq!(session["session"]["verb"], "exec");
    assert_eq!(session["events"][0]["query"], sql);
    assert_eq!(session["events"][0]["verdict"], "allowed");
}

#[tokio::test(flavor = "multi_thread")]
async fn exec_denied_at_connect_is_refused_with_the_reason() {
    // access-control admits only group `ops` (admins included): the API's
    // access rule hides the connection from alice (404); an admin outside
    // `ops` sees it, and the plugin's on-connect refuses (403, the reason).
    const OPS_ONLY: &str = r#"plugin = "access-control"
config = { allowed_groups = ["ops"], allow_admins = false }"#;
    let gw = TestGateway::start(&[OPS_ONLY]).await;
    let hidden = exec(&gw, &gw.token, json!({ "sql": "select 1" }), &[]).await;
    assert_eq!(hidden.status, 404);
    let store = &gw.gateway.store;
    let actor = gatehouse_store::Actor::system("test");
    let admin = store
        .users()
        .create(
            &actor,
            gatehouse_store::users::NewUser::new("root@example.com", gatehouse_store::Role::Admin),
        )
        .await
        .unwrap();
    let (_, token) = store
        .tokens()
        .create(&actor, admin.id, "t", None)
        .await
        .unwrap();
    let refused = exec(&gw, token.expose(), json!({ "sql": "select 1" }), &[]).await;
    assert_eq!(
        (refused.status, refused.code().as_str()),
        (403, "denied"),
        "{}",
        refused.body
    );
    assert!(
        refused.body.contains("not in a group allowed"),
        "{}",
        refused.body
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_held_exec_runs_once_approved_and_keeps_its_output() {
    let gw = TestGateway::start(&[ACCESS, REVIEW]).await;
    let setup = exec(
        &gw,
        &gw.token,
        json!({ "sql": "drop table if exists gh_exec_held; create table gh_exec_held (id int); insert into gh_exec_held values (1), (2)" }),
        &[],
    )
    .await;
    assert_eq!(setup.status, 200, "{}", setup.body);

    let held = exec(
        &gw,
        &gw.token,
        json!({ "sql": "delete from gh_exec_held where id = 1 returning id" }),
        &[],
    )
    .await;
    assert_eq!(held.status, 202, "{}", held.body);
    let held = held.json();
    let id = held["review"]["id"].as_str().unwrap().to_string();
    assert!(
        held["message"]
            .as_str()
            .unwrap()
            .contains(&format!("held for review {id}"))
    );
    let waiting = get(&gw, &format!("/api/reviews/{id}/result"), &gw.token).await;
    assert_eq!(waiting.status, 200, "{}", waiting.body);
    assert_eq!(
        (
            waiting.json()["finished"].as_bool(),
            waiting.json()["review_state"].as_str()
        ),
        (Some(false), Some("pending"))
    );
    // Approvers decide on the query but do not read its output.
    let peek = get(
        &gw,
        &format!("/api/reviews/{id}/result"),
        &gw.approver_token,
    )
    .await;
    assert_eq!(peek.status, 403);

    let approved = request(
        gw.gateway.api_addr,
        "POST",
        &format!("/api/reviews/{id}/approve"),
        Some(&gw.approver_token),
        None,
        &[],
    )
    .await;
    assert_eq!(approved.status, 200, "{}", approved.body);

    // The gateway runs it on its own; the output is kept with the review.
    let mut result = Value::Null;
    for _ in 0..100 {
        let answer = get(&gw, &format!("/api/reviews/{id}/result"), &gw.token).await;
        result = answer.json();
        if result["finished"] == true {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(result["finished"], true, "{result}");
    assert_eq!(result["review_state"], "executed");
    let output = &result["output"];
    assert_eq!(output["review_id"], id.as_str());
    assert_eq!(output["results"][0]["rows"], json!([["1"]]));
    assert_eq!(output["results"][0]["command_tag"], "DELETE 1");
    assert!(output["error"].is_null(), "{output}");
    assert_eq!(result["session_id"], output["session_id"]);

    // Only once: the table lost one row, and a sweep does not run it again.
    gw.gateway.reviews.sweep(0).await.unwrap();
    let count = exec(
        &gw,
        &gw.token,
        json!({ "sql": "select count(*) from gh_exec_held" }),
        &[],
    )
    .await;
    assert_eq!(count.json()["results"][0]["rows"], json!([["1"]]));

    // The same exec again is held anew.
    let again = exec(
        &gw,
        &gw.token,
        json!({ "sql": "delete from gh_exec_held where id = 1 returning id" }),
        &[],
    )
    .await;
    assert_eq!(again.status, 202);
    assert_ne!(again.json()["review"]["id"].as_str().unwrap(), id);
}

#[tokio::test(flavor = "multi_thread")]
async fn exec_sessions_and_their_denials_are_audited_before_the_answer() {
    let gw = TestGateway::start(&[ACCESS, GUARDRAILS]).await;
    let ok = exec(&gw, &gw.token, json!({ "sql": "select 1" }), &[]).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    let denied = exec(&gw, &gw.token, json!({ "sql": "drop table nope" }), &[]).await;
    assert_eq!(denied.status, 403, "{}", denied.body);

    // The denial was committed before the 403: no waiting needed.
    let events = gw.gateway.store.audit().after(0, 1000).await.unwrap();
    let denial = events
        .iter()
        .find(|e| e.action == "query.denied")
        .expect("the exec denial is an audit event");
    assert_eq!(denial.connection.as_deref(), Some("pg.test"));
    assert!(denial.session_id.is_some());
    assert_eq!(
        denial.actor.as_ref().map(|a| a.email.as_str()),
        Some(gatehouse_tests::gateway::USER)
    );
    let starts = events
        .iter()
        .filter(|e| {
            e.action == "session.start"
                && e.attributes.iter().any(|(k, v)| k == "verb" && v == "exec")
        })
        .count();
    assert_eq!(starts, 2, "both exec sessions started on the record");
}
