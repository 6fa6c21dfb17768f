//! Binding secrets through the API, with the real notify-webhook component:
//! write-only (no response, list, show or audit event carries a value;
//! bindings name them in `secrets_set`), merged into the config the plugin
//! validates and gets, changed per key by `PATCH`, refused when a key is
//! also in `config`, and redacted from a plugin's refusal.

use crate::common::*;
use serde_json::{Value, json};

const SECRET: &str = "Webhook-Hmac-Key-never-returned";
const AUTH: &str = "Bearer Relay-Token-never-returned";
const NEW_SECRET: &str = "Webhook-Hmac-Key-rotated-never-returned";
const NOT_A_MAP: &str = "Bearer Not-A-Map-never-returned";
const URL: &str = "http://127.0.0.1:9/hook";

fn assert_no_value(what: &str, answer: &Answer) {
    for value in [SECRET, AUTH, NEW_SECRET, NOT_A_MAP] {
        assert!(
            !answer.text.contains(value),
            "{what}: a secret value in {}",
            answer.text
        );
    }
}

async fn setup(api: &Api, tokens: &Tokens) {
    let installed = api
        .call(
            tokens,
            Who::Admin,
            Call::new("POST", "/api/plugins").wasm(component("notify-webhook")),
        )
        .await;
    assert_eq!(installed.status, 201, "{}", installed.text);
    let resource = json!({ "name": "db", "kind": "postgres", "address": "127.0.0.1:5432" });
    let r = api
        .req(tokens, Who::Admin, "POST", "/api/resources", Some(resource))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    for name in ["db.ro", "db.other"] {
        let c = api
            .req(
                tokens,
                Who::Admin,
                "POST",
                "/api/connections",
                Some(json!({ "name": name })),
            )
            .await;
        assert_eq!(c.status, 201, "{}", c.text);
    }
}

fn bind(secrets: Value) -> Value {
    json!({
        "plugin": "notify-webhook",
        "config": { "url": URL, "format": "generic" },
        "secrets": secrets,
        "grants": { "http": ["http://127.0.0.1:9/"] },
    })
}

/// The merged config a new session's notify-webhook gets on `db.ro`.
async fn plugin_config(api: &Api) -> Value {
    let connection = api.store.connections().by_name("db.ro").await.unwrap();
    let resolved = api.store.bindings().resolve(connection.id).await.unwrap();
    resolved[0].config.json().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binding_secrets_are_write_only_and_merged_for_the_plugin() {
    let (api, tokens) = Api::start().await;
    setup(&api, &tokens).await;
    let path = "/api/connections/db.ro/plugins/notify-webhook";

    // Bind with secrets: the answer names them, never shows them.
    let secrets = json!({ "secret": SECRET, "headers": { "Authorization": AUTH } });
    let bound = api
        .req(
            &tokens,
            Who::Admin,
            "POST",
            "/api/connections/db.ro/plugins",
            Some(bind(secrets)),
        )
        .await;
    assert_eq!(bound.status, 201, "{}", bound.text);
    assert_eq!(bound.body["secrets_set"], json!(["headers", "secret"]));
    assert_eq!(
        bound.body["config"],
        json!({ "url": URL, "format": "generic" })
    );
    assert_no_value("POST", &bound);
    let listed = api
        .req(
            &tokens,
            Who::Admin,
            "GET",
            "/api/connections/db.ro/plugins",
            None,
        )
        .await;
    assert_eq!(listed.body[0]["secrets_set"], json!(["headers", "secret"]));
    assert_no_value("GET list", &listed);
    let shown = api.req(&tokens, Who::Admin, "GET", path, None).await;
    assert_eq!(shown.body, bound.body);
    assert_no_value("GET", &shown);

    // The instantiation path gets them merged in.
    let merged = json!({ "url": URL, "format": "generic", "secret": SECRET, "headers": { "Authorization": AUTH } });
    assert_eq!(plugin_config(&api).await, merged);

    // A PATCH without secrets keeps them.
    let patched = api
        .req(
            &tokens,
            Who::Admin,
            "PATCH",
            path,
            Some(json!({ "deadline_ms": 2000, "config": { "url": URL } })),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.text);
    assert_eq!(patched.body["secrets_set"], json!(["headers", "secret"]));
    let merged = json!({ "url": URL, "secret": SECRET, "headers": { "Authorization": AUTH } });
    assert_eq!(plugin_config(&api).await, merged);

    // Per key: a value replaces, null removes, the rest stays.
    let patched = api
        .req(
            &tokens,
            Who::Admin,
            "PATCH",
            path,
            Some(json!({ "secrets": { "secret": NEW_SECRET, "headers": null } })),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.text);
    assert_eq!(patched.body["secrets_set"], json!(["secret"]));
    assert_no_value("PATCH", &patched);
    assert_eq!(
        plugin_config(&api).await,
        json!({ "url": URL, "secret": NEW_SECRET })
    );

    // The plugin validates the merged config; its refusal is redacted.
    let refused = api
        .req(
            &tokens,
            Who::Admin,
            "PATCH",
            path,
            Some(json!({ "secrets": { "headers": NOT_A_MAP } })),
        )
        .await;
    assert_eq!(
        (refused.status.as_u16(), refused.code()),
        (400, "invalid_config"),
        "{}",
        refused.text
    );
    assert!(refused.text.contains("***"), "{}", refused.text);
    assert_no_value("a refusal", &refused);
    let refused = api
        .req(
            &tokens,
            Who::Admin,
            "PATCH",
            path,
            Some(json!({ "secrets": { "secret": "too-short" } })),
        )
        .await;
    assert_eq!(refused.code(), "invalid_config", "{}", refused.text);

    // A key in both config and secrets: 400, naming the key only.
    let clash = api
        .req(
            &tokens,
            Who::Admin,
            "PATCH",
            path,
            Some(json!({ "config": { "url": URL, "secret": SECRET } })),
        )
        .await;
    assert_eq!(
        (clash.status.as_u16(), clash.code()),
        (400, "invalid"),
        "{}",
        clash.text
    );
    assert!(
        message(&clash).contains("key \"secret\" is given both in config and in secrets"),
        "{}",
        clash.text
    );
    assert_no_value("a clash", &clash);
    let mut body = bind(json!({ "url": "http://127.0.0.1:9/other" }));
    body["config"]["url"] = json!(URL);
    let clash = api
        .req(
            &tokens,
            Who::Admin,
            "POST",
            "/api/connections/db.other/plugins",
            Some(body),
        )
        .await;
    assert_eq!(clash.code(), "invalid", "{}", clash.text);
    assert!(
        message(&clash).contains("key \"url\" is given both"),
        "{}",
        clash.text
    );
    assert_eq!(
        plugin_config(&api).await,
        json!({ "url": URL, "secret": NEW_SECRET }),
        "refusals change nothing"
    );

    // An upgrade binds the new version with the merged config.
    let upgraded = api
        .call(
            &tokens,
            Who::Admin,
            Call::new("POST", "/api/plugins")
                .wasm(with_version(&component("notify-webhook"), "0.1.7")),
        )
        .await;
    assert_eq!(upgraded.status, 201, "{}", upgraded.text);

    // Audit events name the secrets and say they changed; no value.
    let audit = api
        .req(&tokens, Who::Admin, "GET", "/api/audit?limit=100", None)
        .await;
    assert_eq!(audit.status, 200, "{}", audit.text);
    assert_no_value("the audit log", &audit);
    let items = audit.body["items"].as_array().unwrap();
    let of = |action: &str| -> Vec<&Value> {
        items
            .iter()
            .filter(|e| e["action"] == action)
            .collect::<Vec<_>>()
    };
    let created = of("binding.create");
    assert_eq!(created.len(), 1);
    let after: Value = as_json(&created[0]["after"]);
    assert_eq!(after["secrets_set"], json!(["headers", "secret"]));
    let updates = of("binding.update");
    assert_eq!(updates.len(), 2, "refused changes are not audited");
    // Newest first: the secrets change, then the limits change.
    let (before, after) = (
        as_json(&updates[0]["before"]),
        as_json(&updates[0]["after"]),
    );
    assert_eq!(before["secrets_set"], json!(["headers", "secret"]));
    assert_eq!(after["secrets_set"], json!(["secret"]));
    assert_eq!(after["secrets_changed"], true);
    assert!(
        as_json(&updates[1]["after"])
            .get("secrets_changed")
            .is_none()
    );
    api.cleanup().await;
}

fn message(answer: &Answer) -> &str {
    answer.body["error"]["message"].as_str().unwrap_or("")
}

/// An audit event's before/after: JSON, or JSON text.
fn as_json(value: &Value) -> Value {
    match value {
        Value::String(text) => serde_json::from_str(text).unwrap(),
        other => other.clone(),
    }
}
