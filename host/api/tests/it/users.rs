//! Users, groups and tokens: CRUD, tokens shown once and usable as bearer
//! or basic credentials, revocation, expiry, disabled users, self-lockout
//! refusals, audit rows.

use crate::common::*;
use base64::Engine;
use serde_json::json;

#[tokio::test]
async fn users_and_groups() {
    let (api, tokens) = Api::start().await;
    let created = api
        .req(
            &tokens,
            Who::Admin,
            "POST",
            "/api/users",
            Some(
                json!({ "email": "Carol@Example.com", "display_name": "Carol", "role": "approver",
                        "groups": ["approver-sec"] }),
            ),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.body["email"], "carol@example.com");
    let id = created.body["id"].as_i64().unwrap();
    let by_id = api
        .req(
            &tokens,
            Who::Admin,
            "GET",
            &format!("/api/users/{id}"),
            None,
        )
        .await;
    assert_eq!(by_id.body["email"], "carol@example.com");
    let dup = api
        .req(
            &tokens,
            Who::Admin,
            "POST",
            "/api/users",
            Some(json!({ "email": "carol@example.com", "role": "user" })),
        )
        .await;
    assert_eq!(dup.code(), "conflict");
    let groups = api
        .req(
            &tokens,
            Who::Admin,
            "PUT",
            "/api/users/carol@example.com/groups",
            Some(json!({ "groups": ["approver-sec", "approver-dba"] })),
        )
        .await;
    assert_eq!(
        groups.body["groups"],
        json!(["approver-dba", "approver-sec"])
    );
    let group = api
        .req(&tokens, Who::Admin, "GET", "/api/groups/approver-dba", None)
        .await;
    assert_eq!(group.body["members"], 2);
    assert_eq!(
        group.body["member_emails"],
        json!(["carol@example.com", "vera@example.com"])
    );
    let removed = api
        .req(
            &tokens,
            Who::Admin,
            "DELETE",
            "/api/groups/approver-dba/members/carol@example.com",
            None,
        )
        .await;
    assert_eq!(removed.status, 204);
    let again = api
        .req(
            &tokens,
            Who::Admin,
            "DELETE",
            "/api/groups/approver-dba/members/carol@example.com",
            None,
        )
        .await;
    assert_eq!(again.code(), "not_found");
    let missing = api
        .req(&tokens, Who::Admin, "GET", "/api/groups/nope", None)
        .await;
    assert_eq!(
        (missing.status.as_u16(), missing.code()),
        (404, "not_found")
    );

    // An admin cannot lock themselves out.
    for (method, body) in [
        ("DELETE", None),
        ("PATCH", Some(json!({ "disabled": true }))),
        ("PATCH", Some(json!({ "role": "user" }))),
    ] {
        let answer = api
            .req(
                &tokens,
                Who::Admin,
                method,
                "/api/users/admin@example.com",
                body,
            )
            .await;
        assert_eq!(answer.code(), "conflict", "{method}: {}", answer.text);
    }
    // Disabling someone ends their access at once.
    let disabled = api
        .req(
            &tokens,
            Who::Admin,
            "PATCH",
            "/api/users/alice@example.com",
            Some(json!({ "disabled": true })),
        )
        .await;
    assert_eq!(disabled.body["disabled"], true);
    let alice = api
        .req(&tokens, Who::User, "GET", "/api/whoami", None)
        .await;
    assert_eq!(alice.status, 401);

    let audit = api
        .req(
            &tokens,
            Who::Admin,
            "GET",
            "/api/audit?action=user.update",
            None,
        )
        .await;
    let item = &audit.body["items"][0];
    assert_eq!(item["before"]["disabled"], false);
    assert_eq!(item["after"]["disabled"], true);
    assert_eq!(item["actor"]["email"], "admin@example.com");
    let deleted = api
        .req(
            &tokens,
            Who::Admin,
            "DELETE",
            "/api/users/carol@example.com",
            None,
        )
        .await;
    assert_eq!(deleted.status, 204);
    api.cleanup().await;
}

#[tokio::test]
async fn tokens_are_shown_once_and_work_as_credentials() {
    let (api, tokens) = Api::start().await;
    let created = api
        .req(
            &tokens,
            Who::User,
            "POST",
            "/api/tokens",
            Some(json!({ "name": "laptop", "expires_in_secs": 3600 })),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let token = created.body["token"].as_str().unwrap().to_string();
    assert!(token.starts_with("ghat_"));
    assert_eq!(created.body["email"], "alice@example.com");
    assert!(created.body["expires_at"].as_i64().unwrap() > 0);
    let listed = api
        .req(&tokens, Who::User, "GET", "/api/tokens", None)
        .await;
    assert!(!listed.text.contains(&token), "a listing shows a token");
    let names: Vec<&str> = listed
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["laptop", "main"]);
    // Bearer, and basic with the email.
    let me = api
        .send(Call::new("GET", "/api/whoami"), Some(&token))
        .await;
    assert_eq!(me.body["email"], "alice@example.com");
    assert_eq!(me.body["auth"], "token");
    assert_eq!(me.body["capabilities"]["sessions.read"], "own");
    assert!(me.body["capabilities"].get("plugins.write").is_none());
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("alice@example.com:{token}"));
    let me = api
        .send(
            Call::new("GET", "/api/whoami").header("authorization", format!("Basic {basic}")),
            None,
        )
        .await;
    assert_eq!(me.status, 200);
    let wrong =
        base64::engine::general_purpose::STANDARD.encode(format!("bob@example.com:{token}"));
    let me = api
        .send(
            Call::new("GET", "/api/whoami").header("authorization", format!("Basic {wrong}")),
            None,
        )
        .await;
    assert_eq!(me.status, 401);
    // Users manage only their own; others' tokens are 403 to list.
    let other = api
        .req(
            &tokens,
            Who::User,
            "GET",
            "/api/tokens?user=bob@example.com",
            None,
        )
        .await;
    assert_eq!(other.code(), "forbidden");
    let other = api
        .req(
            &tokens,
            Who::User,
            "POST",
            "/api/tokens",
            Some(json!({ "name": "x", "user": "bob@example.com" })),
        )
        .await;
    assert_eq!(other.code(), "forbidden");
    // Admins manage anyone's.
    let for_bob = api
        .req(
            &tokens,
            Who::Admin,
            "POST",
            "/api/tokens",
            Some(json!({ "name": "ci", "user": "bob@example.com" })),
        )
        .await;
    assert_eq!(for_bob.status, 201);
    assert_eq!(for_bob.body["email"], "bob@example.com");
    let bobs = api
        .req(
            &tokens,
            Who::Admin,
            "GET",
            "/api/tokens?user=bob@example.com",
            None,
        )
        .await;
    assert_eq!(bobs.body.as_array().unwrap().len(), 2);
    // Revoked: refused at once.
    let id = created.body["id"].as_i64().unwrap();
    let revoked = api
        .req(
            &tokens,
            Who::User,
            "DELETE",
            &format!("/api/tokens/{id}"),
            None,
        )
        .await;
    assert_eq!(revoked.status, 204);
    let me = api
        .send(Call::new("GET", "/api/whoami"), Some(&token))
        .await;
    assert_eq!((me.status.as_u16(), me.code()), (401, "unauthenticated"));
    // Garbage credentials are 401, never anonymous.
    for header in [
        "Bearer ghat_nope",
        "Bearer not.a.jwt",
        "Digest x",
        "Basic !!!",
    ] {
        let answer = api
            .send(
                Call::new("GET", "/api/openapi.json").header("authorization", header),
                None,
            )
            .await;
        assert_eq!(answer.status, 200, "public routes ignore credentials");
        let answer = api
            .send(
                Call::new("GET", "/api/whoami").header("authorization", header),
                None,
            )
            .await;
        assert_eq!(answer.status, 401, "{header}");
    }
    // Token creation is audited without the token.
    let audit = api
        .req(
            &tokens,
            Who::Admin,
            "GET",
            "/api/audit?action=token.create",
            None,
        )
        .await;
    assert!(!audit.text.contains(&token));
    assert!(audit.text.contains("laptop"));
    api.cleanup().await;
}
