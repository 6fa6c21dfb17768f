//! Resources and connections: CRUD, secrets never returned, audit rows with
//! before/after, the change signal, connection tests, JSON errors.

use crate::common::*;
use serde_json::json;

const PASSWORD: &str = "Hunter2-very-secret";

#[tokio::test]
async fn connection_crud_never_returns_the_password_and_is_audited() {
    let (mut api, tokens) = Api::start().await;
    let changes_before = *api.changes.borrow_and_update();
    let created = api
        .req(
            &tokens,
            Who::Admin,
            "POST",
            "/api/resources",
            Some(
                json!({ "name": "billing-db", "kind": "postgres", "address": "127.0.0.1:5432",
                        "description": "billing", "tls": "disable" }),
            ),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.body["roles"], json!([]));
    assert!(api.changes.has_changed().unwrap());

    let created = api
        .req(
            &tokens,
            Who::Admin,
            "POST",
            "/api/connections",
            Some(
                json!({ "resource": "billing-db", "role": "read-only", "description": "reports",
                        "database": "billing", "username": "app_ro", "password": PASSWORD,
                        "attributes": { "team": "finance" } }),
            ),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.body["name"], "billing-db.read-only");
    assert_eq!(created.body["has_password"], true);
    assert_eq!(created.body["password_source"], "stored");
    assert!(!created.text.contains(PASSWORD));

    // Reads, updates, lists: never the value.
    let shown = api
        .req(
            &tokens,
            Who::Admin,
            "GET",
            "/api/connections/billing-db.read-only",
            None,
        )
        .await;
    assert_eq!(shown.status, 200);
    assert!(!shown.text.contains(PASSWORD));
    let updated = api
        .req(
            &tokens,
            Who::Admin,
            "PATCH",
            "/api/connections/billing-db.read-only",
            Some(
                json!({ "password": { "env": "BILLING_RO_PW" }, "description": "monthly reports" }),
            ),
        )
        .await;
    assert_eq!(updated.status, 200, "{}", updated.text);
    assert_eq!(
        updated.body["password_source"],
        json!({ "env": "BILLING_RO_PW" })
    );
    assert_eq!(updated.body["description"], "monthly reports");
    let cleared = api
        .req(
            &tokens,
            Who::Admin,
            "PATCH",
            "/api/connections/billing-db.read-only",
            Some(json!({ "password": PASSWORD })),
        )
        .await;
    assert_eq!(cleared.body["password_source"], "stored");
    let cleared = api
        .req(
            &tokens,
            Who::Admin,
            "PATCH",
            "/api/connections/billing-db.read-only",
            Some(json!({ "username": null })),
        )
        .await;
    assert_eq!(cleared.body["username"], json!(null));
    assert_eq!(
        cleared.body["has_password"], true,
        "absent password keeps it"
    );
    let resource = api
        .req(
            &tokens,
            Who::Admin,
            "GET",
            "/api/resources/billing-db",
            None,
        )
        .await;
    assert_eq!(resource.body["roles"][0]["name"], "billing-db.read-only");
    assert_eq!(resource.body["roles"][0]["description"], "monthly reports");
    assert_eq!(resource.body["address"], "127.0.0.1:5432");

    // The audit log: who, from where, before/after, never the secret.
    let audit = api
        .req(
            &tokens,
            Who::Admin,
            "GET",
            "/api/audit?category=admin&limit=100",
            None,
        )
        .await;
    assert_eq!(audit.status, 200);
    assert!(!audit.text.contains(PASSWORD), "audit leaks the password");
    let items = audit.body["items"].as_array().unwrap();
    let update = items
        .iter()
        .find(|e| e["action"] == "connection.update" && e["after"]["password_changed"] == true)
        .expect("connection.update with password_changed");
    assert_eq!(update["actor"]["email"], "admin@example.com");
    assert_eq!(update["client_address"], "10.1.2.3");
    assert_eq!(update["target"], "connection:billing-db.read-only");
    assert_eq!(update["before"]["has_password"], true);
    assert!(items.iter().any(|e| e["action"] == "resource.create"));
    assert!(items.iter().any(|e| e["action"] == "connection.create"));
    let store_rows = api.store.audit().after(0, 1000).await.unwrap();
    assert!(
        !serde_json::to_string(&store_rows)
            .unwrap()
            .contains(PASSWORD)
    );

    // Delete: the resource cannot go while it has roles.
    let refused = api
        .req(
            &tokens,
            Who::Admin,
            "DELETE",
            "/api/resources/billing-db",
            None,
        )
        .await;
    assert_eq!((refused.status.as_u16(), refused.code()), (409, "conflict"));
    let count = *api.changes.borrow_and_update();
    let gone = api
        .req(
            &tokens,
            Who::Admin,
            "DELETE",
            "/api/connections/billing-db.read-only",
            None,
        )
        .await;
    assert_eq!(gone.status, 204);
    assert!(
        *api.changes.borrow() > count,
        "delete bumps the change signal"
    );
    let gone = api
        .req(
            &tokens,
            Who::Admin,
            "DELETE",
            "/api/resources/billing-db",
            None,
        )
        .await;
    assert_eq!(gone.status, 204);
    let missing = api
        .req(
            &tokens,
            Who::Admin,
            "GET",
            "/api/connections/billing-db.read-only",
            None,
        )
        .await;
    assert_eq!(
        (missing.status.as_u16(), missing.code()),
        (404, "not_found")
    );
    assert!(*api.changes.borrow() > changes_before);
    api.cleanup().await;
}

#[tokio::test]
async fn bad_input_gets_json_errors_that_quote_no_value() {
    let (api, tokens) = Api::start().await;
    api.req(
        &tokens,
        Who::Admin,
        "POST",
        "/api/resources",
        Some(json!({ "name": "db", "kind": "postgres", "address": "h:1" })),
    )
    .await;
    // A password where a string list belongs: the value is not echoed.
    let answer = api
        .req(
            &tokens,
            Who::Admin,
            "POST",
            "/api/connections",
            Some(json!({ "name": "db.x", "attributes": PASSWORD })),
        )
        .await;
    assert_eq!(
        (answer.status.as_u16(), answer.code()),
        (400, "invalid"),
        "{}",
        answer.text
    );
    assert!(!answer.text.contains(PASSWORD), "{}", answer.text);
    assert!(
        answer.text.contains("attributes"),
        "names the field: {}",
        answer.text
    );
    // The same for a JSON syntax error right after the value.
    let mut call = Call::new("POST", "/api/connections");
    call.body = Some(axum::body::Body::from(format!(
        "{{\"password\": \"{PASSWORD}\" oops}}"
    )));
    call.content_type = Some("application/json");
    let answer = api.call(&tokens, Who::Admin, call).await;
    assert_eq!(answer.code(), "invalid");
    assert!(!answer.text.contains(PASSWORD), "{}", answer.text);
    // Unknown fields are refused, naming them.
    let answer = api
        .req(
            &tokens,
            Who::Admin,
            "POST",
            "/api/connections",
            Some(json!({ "name": "db.x", "pasword": "x" })),
        )
        .await;
    assert_eq!(answer.code(), "invalid");
    assert!(
        answer.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("pasword")
    );
    // Not JSON at all, or the wrong media type.
    let mut call = Call::new("POST", "/api/connections");
    call.body = Some(axum::body::Body::from("{not json"));
    call.content_type = Some("application/json");
    let answer = api.call(&tokens, Who::Admin, call).await;
    assert_eq!(answer.code(), "invalid");
    let mut call = Call::new("POST", "/api/connections");
    call.body = Some(axum::body::Body::from("name=db.x"));
    call.content_type = Some("application/x-www-form-urlencoded");
    let answer = api.call(&tokens, Who::Admin, call).await;
    assert_eq!(
        (answer.status.as_u16(), answer.code()),
        (415, "unsupported_media_type")
    );
    // Store validation: a bad name.
    let answer = api
        .req(
            &tokens,
            Who::Admin,
            "POST",
            "/api/connections",
            Some(json!({ "name": "db.bad name" })),
        )
        .await;
    assert_eq!(answer.code(), "invalid", "{}", answer.text);
    // Bad query parameters and cursors.
    let answer = api
        .req(&tokens, Who::Admin, "GET", "/api/sessions?limit=abc", None)
        .await;
    assert_eq!(answer.code(), "invalid");
    let answer = api
        .req(&tokens, Who::Admin, "GET", "/api/sessions?bogus=1", None)
        .await;
    assert_eq!(answer.code(), "invalid");
    let answer = api
        .req(
            &tokens,
            Who::Admin,
            "GET",
            "/api/sessions?next=garbage",
            None,
        )
        .await;
    assert_eq!(answer.code(), "invalid");
    let answer = api
        .req(&tokens, Who::Admin, "GET", "/api/audit?limit=0", None)
        .await;
    assert_eq!(answer.code(), "invalid");
    // Every error has the same shape.
    assert!(answer.body["error"]["message"].is_string());
    api.cleanup().await;
}

#[tokio::test]
async fn testing_a_connection_reports_and_audits() {
    let (api, tokens) = Api::start().await;
    api.req(
        &tokens,
        Who::Admin,
        "POST",
        "/api/resources",
        Some(json!({ "name": "pg", "kind": "postgres", "address": "127.0.0.1:5432" })),
    )
    .await;
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = closed.local_addr().unwrap().to_string();
    drop(closed);
    api.req(
        &tokens,
        Who::Admin,
        "POST",
        "/api/resources",
        Some(json!({ "name": "dead", "kind": "tcp", "address": dead })),
    )
    .await;
    for name in ["pg.admin", "dead.any"] {
        let answer = api
            .req(
                &tokens,
                Who::Admin,
                "POST",
                "/api/connections",
                Some(json!({ "name": name, "password": PASSWORD })),
            )
            .await;
        assert_eq!(answer.status, 201);
    }
    let ok = api
        .req(
            &tokens,
            Who::Admin,
            "POST",
            "/api/connections/pg.admin/test",
            None,
        )
        .await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.body["ok"], true, "{}", ok.text);
    let failed = api
        .req(
            &tokens,
            Who::Admin,
            "POST",
            "/api/connections/dead.any/test",
            None,
        )
        .await;
    assert_eq!(failed.status, 200);
    assert_eq!(failed.body["ok"], false);
    assert!(failed.body["error"].as_str().unwrap().contains(&dead));
    assert!(!failed.text.contains(PASSWORD));
    // An env reference that is not set: the test fails, naming the variable.
    api.req(
        &tokens,
        Who::Admin,
        "PATCH",
        "/api/connections/pg.admin",
        Some(json!({ "password": { "env": "GH_API_TEST_UNSET_VARIABLE" } })),
    )
    .await;
    let unset = api
        .req(
            &tokens,
            Who::Admin,
            "POST",
            "/api/connections/pg.admin/test",
            None,
        )
        .await;
    assert_eq!(unset.body["ok"], false);
    assert!(
        unset.body["error"]
            .as_str()
            .unwrap()
            .contains("GH_API_TEST_UNSET_VARIABLE")
    );
    let audit = api
        .req(
            &tokens,
            Who::Admin,
            "GET",
            "/api/audit?action=connection.test",
            None,
        )
        .await;
    let items = audit.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert_eq!(items[2]["outcome"], "success");
    assert_eq!(items[1]["outcome"], "failure");
    assert_eq!(items[1]["connection"], "dead.any");
    api.cleanup().await;
}
