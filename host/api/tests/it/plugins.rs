//! Plugins and bindings with real components: install, idempotent
//! re-upload, refusal of non-components and wrong worlds, upgrade under
//! bindings (validated by the new version's `validate-config`), removal,
//! and bindings validated by the plugin before they are stored.

use crate::common::*;
use gatehouse_store::Actor;
use gatehouse_store::bindings::NewBinding;
use serde_json::json;

async fn resource_and_connection(api: &Api, tokens: &Tokens) {
    let r = api
        .req(
            tokens,
            Who::Admin,
            "POST",
            "/api/resources",
            Some(json!({ "name": "db", "kind": "postgres", "address": "127.0.0.1:5432" })),
        )
        .await;
    assert_eq!(r.status, 201);
    let c = api
        .req(
            tokens,
            Who::Admin,
            "POST",
            "/api/connections",
            Some(json!({ "name": "db.ro" })),
        )
        .await;
    assert_eq!(c.status, 201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn install_upgrade_and_remove() {
    let (mut api, tokens) = Api::start().await;
    let wasm = component("access-control");

    // Not a component; a component of another world; no body; wrong type.
    for (bytes, what) in [
        (b"\0asm not really".to_vec(), "garbage"),
        (component("wrong-world-guest"), "wrong world"),
        (Vec::new(), "empty"),
    ] {
        let answer = api
            .call(
                &tokens,
                Who::Admin,
                Call::new("POST", "/api/plugins").wasm(bytes),
            )
            .await;
        assert_eq!(
            (answer.status.as_u16(), answer.code()),
            (400, "invalid_plugin"),
            "{what}: {}",
            answer.text
        );
    }
    let mut call = Call::new("POST", "/api/plugins").wasm(wasm.clone());
    call.content_type = Some("application/json");
    let answer = api.call(&tokens, Who::Admin, call).await;
    assert_eq!(answer.code(), "unsupported_media_type");
    assert!(api.store.plugins().list().await.unwrap().is_empty());
    assert!(
        !api.changes.has_changed().unwrap(),
        "refusals signal nothing"
    );

    // Install: the manifest names it.
    let first = api
        .call(
            &tokens,
            Who::Admin,
            Call::new("POST", "/api/plugins").wasm(wasm.clone()),
        )
        .await;
    assert_eq!(first.status, 201, "{}", first.text);
    assert_eq!(first.body["plugin"]["name"], "access-control");
    assert_eq!(first.body["plugin"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(first.body["plugin"]["hooks"], json!(["on-connect"]));
    assert_eq!(first.body["created"], true);
    assert_eq!(first.body["previous_latest"], json!(null));
    assert!(api.changes.has_changed().unwrap());
    api.changes.borrow_and_update();
    // Again: a no-op.
    let again = api
        .call(
            &tokens,
            Who::Admin,
            Call::new("POST", "/api/plugins").wasm(wasm.clone()),
        )
        .await;
    assert_eq!(again.status, 200);
    assert_eq!(again.body["created"], false);

    // Bind it, following latest; the plugin validates the config itself.
    resource_and_connection(&api, &tokens).await;
    let refused = api
        .req(
            &tokens,
            Who::Admin,
            "POST",
            "/api/connections/db.ro/plugins",
            Some(json!({ "plugin": "access-control", "config": { "allowed_groups": [" "] } })),
        )
        .await;
    assert_eq!(
        (refused.status.as_u16(), refused.code()),
        (400, "invalid_config"),
        "{}",
        refused.text
    );
    assert!(
        refused.text.contains("blank group name"),
        "{}",
        refused.text
    );
    let refused = api
        .req(
            &tokens,
            Who::Admin,
            "POST",
            "/api/connections/db.ro/plugins",
            Some(
                json!({ "plugin": "access-control", "config": { "allowed_groups": ["dev"] },
                        "grants": { "key_value": true } }),
            ),
        )
        .await;
    assert_eq!(
        refused.code(),
        "invalid_config",
        "undeclared capability: {}",
        refused.text
    );
    let refused = api
        .req(
            &tokens,
            Who::Admin,
            "POST",
            "/api/connections/db.ro/plugins",
            Some(json!({ "plugin": "no-such-plugin" })),
        )
        .await;
    assert_eq!(refused.code(), "invalid");
    assert!(api.store.bindings().list(1).await.unwrap().is_empty());
    let bound = api
        .req(
            &tokens,
            Who::Admin,
            "POST",
            "/api/connections/db.ro/plugins",
            Some(json!({ "plugin": "access-control", "config": { "allowed_groups": ["dev"] } })),
        )
        .await;
    assert_eq!(bound.status, 201, "{}", bound.text);
    assert_eq!(bound.body["pin"], "latest");
    let patched = api
        .req(
            &tokens,
            Who::Admin,
            "PATCH",
            "/api/connections/db.ro/plugins/access-control",
            Some(json!({ "config": { "allowed_groups": ["dev", "ops"] }, "deadline_ms": 50 })),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.text);
    assert_eq!(patched.body["deadline_ms"], 50);
    let refused = api
        .req(
            &tokens,
            Who::Admin,
            "PATCH",
            "/api/connections/db.ro/plugins/access-control",
            Some(json!({ "config": { "allowed_groups": ["dev"], "surprise": 1 } })),
        )
        .await;
    assert_eq!(refused.code(), "invalid_config", "{}", refused.text);

    // Upgrade: a new version becomes latest for new sessions.
    api.changes.borrow_and_update();
    let upgraded = api
        .call(
            &tokens,
            Who::Admin,
            Call::new("POST", "/api/plugins").wasm(with_version(&wasm, "0.1.7")),
        )
        .await;
    assert_eq!(upgraded.status, 201, "{}", upgraded.text);
    assert_eq!(upgraded.body["previous_latest"], env!("CARGO_PKG_VERSION"));
    assert!(api.changes.has_changed().unwrap());
    let resolved = api.store.bindings().resolve(1).await.unwrap();
    assert_eq!(resolved[0].plugin.version, "0.1.7");
    let shown = api
        .req(
            &tokens,
            Who::Admin,
            "GET",
            "/api/plugins/access-control",
            None,
        )
        .await;
    assert_eq!(shown.body["latest"], "0.1.7");
    assert_eq!(shown.body["versions"].as_array().unwrap().len(), 2);
    let listed = api
        .req(&tokens, Who::Admin, "GET", "/api/plugins", None)
        .await;
    assert_eq!(listed.body.as_array().unwrap().len(), 1);
    assert_eq!(listed.body[0]["version"], "0.1.7");

    // Other bytes under a taken version: a conflict.
    let tampered = replace_bytes(
        &with_version(&wasm, "0.1.7"),
        b"Allow sessions",
        b"allow sessions",
    );
    let clash = api
        .call(
            &tokens,
            Who::Admin,
            Call::new("POST", "/api/plugins").wasm(tampered),
        )
        .await;
    assert_eq!(
        (clash.status.as_u16(), clash.code()),
        (409, "conflict"),
        "{}",
        clash.text
    );

    // A binding following latest that the next version would refuse
    // (written behind the API's back) blocks the upgrade, naming it.
    let conn = api.store.connections().by_name("db.ro").await.unwrap();
    let other = api
        .req(
            &tokens,
            Who::Admin,
            "POST",
            "/api/connections",
            Some(json!({ "name": "db.other" })),
        )
        .await;
    assert_eq!(other.status, 201);
    let other_id = other.body["id"].as_i64().unwrap();
    api.store
        .bindings()
        .add(
            &Actor::system("test"),
            other_id,
            NewBinding {
                config: json!({ "allowed_groups": ["x"], "unknown_key": true }),
                ..NewBinding::new("access-control")
            },
        )
        .await
        .unwrap();
    let blocked = api
        .call(
            &tokens,
            Who::Admin,
            Call::new("POST", "/api/plugins").wasm(with_version(&wasm, "0.1.8")),
        )
        .await;
    assert_eq!(
        (blocked.status.as_u16(), blocked.code()),
        (409, "conflict"),
        "{}",
        blocked.text
    );
    assert!(blocked.text.contains("db.other"), "{}", blocked.text);
    assert!(
        !blocked.text.contains("db.ro ("),
        "valid bindings are not named: {}",
        blocked.text
    );
    let remove_binding = api
        .req(
            &tokens,
            Who::Admin,
            "DELETE",
            "/api/connections/db.other/plugins/access-control",
            None,
        )
        .await;
    assert_eq!(remove_binding.status, 204);

    // Remove the newest version: latest falls back.
    let removed = api
        .req(
            &tokens,
            Who::Admin,
            "DELETE",
            "/api/plugins/access-control/versions/0.1.7",
            None,
        )
        .await;
    assert_eq!(removed.status, 204, "{}", removed.text);
    let resolved = api.store.bindings().resolve(conn.id).await.unwrap();
    assert_eq!(resolved[0].plugin.version, env!("CARGO_PKG_VERSION"));
    // The last version cannot go while bound.
    let refused = api
        .req(
            &tokens,
            Who::Admin,
            "DELETE",
            &format!(
                "/api/plugins/access-control/versions/{}",
                env!("CARGO_PKG_VERSION")
            ),
            None,
        )
        .await;
    assert_eq!(refused.code(), "conflict");
    let missing = api
        .req(
            &tokens,
            Who::Admin,
            "DELETE",
            "/api/plugins/access-control/versions/9.9.9",
            None,
        )
        .await;
    assert_eq!(missing.code(), "not_found");

    // Audited with the installer.
    let audit = api
        .req(
            &tokens,
            Who::Admin,
            "GET",
            "/api/audit?action=plugin.install",
            None,
        )
        .await;
    let items = audit.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["actor"]["email"], "admin@example.com");
    assert_eq!(items[0]["client_address"], "10.1.2.3");
    api.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binding_order_and_access_rule() {
    let (api, tokens) = Api::start().await;
    let wasm = component("access-control");
    assert_eq!(
        api.call(
            &tokens,
            Who::Admin,
            Call::new("POST", "/api/plugins").wasm(wasm)
        )
        .await
        .status,
        201
    );
    resource_and_connection(&api, &tokens).await;
    // Without an access-control binding no user sees the connection.
    let alice = api
        .req(&tokens, Who::User, "GET", "/api/connections", None)
        .await;
    assert_eq!(alice.body, json!([]));
    let bound = api
        .req(
            &tokens,
            Who::Admin,
            "POST",
            "/api/connections/db.ro/plugins",
            Some(json!({ "plugin": "access-control", "config": { "allowed_groups": ["dev"] } })),
        )
        .await;
    assert_eq!(bound.status, 201);
    let alice = api
        .req(&tokens, Who::User, "GET", "/api/connections", None)
        .await;
    assert_eq!(alice.body[0]["name"], "db.ro");
    // Disabled: gone again (fail closed).
    api.req(
        &tokens,
        Who::Admin,
        "PATCH",
        "/api/connections/db.ro/plugins/access-control",
        Some(json!({ "enabled": false })),
    )
    .await;
    let alice = api
        .req(&tokens, Who::User, "GET", "/api/connections/db.ro", None)
        .await;
    assert_eq!(alice.status, 404);
    // Order: names every bound plugin once.
    let order = api
        .req(
            &tokens,
            Who::Admin,
            "PUT",
            "/api/connections/db.ro/plugin-order",
            Some(json!({ "order": ["guardrails"] })),
        )
        .await;
    assert_eq!(order.code(), "invalid");
    let order = api
        .req(
            &tokens,
            Who::Admin,
            "PUT",
            "/api/connections/db.ro/plugin-order",
            Some(json!({ "order": ["access-control"] })),
        )
        .await;
    assert_eq!(order.status, 200);
    assert_eq!(order.body[0]["position"], 0);
    api.cleanup().await;
}
