//! Binding secrets: sealed at rest, never read back (reads, Debug, audit),
//! merged into the config a session's plugin gets, kept / replaced /
//! removed per key by updates, refused when a key is also in config, and
//! re-sealed by key rotation.

use crate::common::{self, TestContext, admin_actor};
use gatehouse_store::bindings::{
    Binding, BindingSecrets, BindingUpdate, NewBinding, SecretsUpdate,
};
use gatehouse_store::connections::NewConnection;
use gatehouse_store::plugins::NewPlugin;
use gatehouse_store::resources::{NewResource, ResourceKind};
use gatehouse_store::{Backend, SecretKeys, Store, StoreError};
use serde_json::{Value, json};
use sqlx::Row;

const SECRET: &str = "Hmac-Key-that-must-never-be-stored-in-clear";
const AUTH: &str = "Bearer Collector-Token-never-in-clear";
const NEW_SECRET: &str = "Rotated-Hmac-Key-also-never-in-clear";

fn webhook(version: &str, bytes: &[u8], schema: Option<Value>) -> NewPlugin {
    NewPlugin {
        name: "webhook".into(),
        version: version.into(),
        description: "webhook".into(),
        hooks: vec!["on-review".into()],
        capabilities: vec!["http-outbound".into()],
        config_schema: schema,
        component: bytes.to_vec(),
    }
}

/// The plugin's schema needs `secret`, so it only validates merged configs.
fn schema() -> Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["url", "secret"],
        "properties": {
            "url": {"type": "string"},
            "secret": {"type": "string", "minLength": 16},
            "headers": {"type": "object", "additionalProperties": {"type": "string"}}
        }
    })
}

fn secrets() -> BindingSecrets {
    BindingSecrets::from_json(json!({"secret": SECRET, "headers": {"Authorization": AUTH}}))
        .unwrap()
}

fn new_binding() -> NewBinding {
    let mut new = NewBinding::new("webhook");
    new.config = json!({"url": "http://collector:8088/"});
    new.secrets = secrets();
    new
}

/// A resource, a connection `db.<role>` and the webhook plugin (once).
async fn connection(store: &Store, role: &str) -> i64 {
    let admin = admin_actor();
    if store.resources().by_name("db").await.is_err() {
        let resource = NewResource::new("db", ResourceKind::Postgres, "h:5432");
        store.resources().create(&admin, resource).await.unwrap();
        let plugin = webhook("1.0.0", b"w1", Some(schema()));
        store.plugins().install(&admin, plugin).await.unwrap();
    }
    let new = NewConnection::new("db", role);
    store.connections().create(&admin, new).await.unwrap().id
}

/// `text` contains none of the secret values.
fn assert_no_value(what: &str, text: &str) {
    for value in [SECRET, AUTH, NEW_SECRET] {
        assert!(!text.contains(value), "a secret value in {what}: {text}");
    }
}

/// No secret value in any table, file (SQLite, WAL included) or row.
async fn assert_nowhere_in_the_database(t: &TestContext) {
    match t.backend {
        Backend::Sqlite => {
            for entry in std::fs::read_dir(&t.dir).unwrap() {
                let bytes = std::fs::read(entry.unwrap().path()).unwrap();
                for value in [SECRET, AUTH, NEW_SECRET] {
                    let found = bytes.windows(value.len()).any(|w| w == value.as_bytes());
                    assert!(!found, "a secret value in the SQLite files");
                }
            }
        }
        Backend::Postgres => {
            let tables: Vec<String> = sqlx::query_scalar(
                "SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema()",
            )
            .fetch_all(t.store.pool())
            .await
            .unwrap();
            for table in tables {
                for value in [SECRET, AUTH, NEW_SECRET] {
                    let sql = format!(
                        "SELECT COUNT(*) FROM {table} t WHERE position($1 in row_to_json(t)::text) > 0"
                    );
                    let hits: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                        .bind(value)
                        .fetch_one(t.store.pool())
                        .await
                        .unwrap();
                    assert_eq!(hits, 0, "a secret value in {table}");
                }
            }
        }
    }
}

/// The raw secret columns of binding `id`.
async fn raw(store: &Store, id: i64) -> (Option<Vec<u8>>, Option<String>, String, String) {
    let row = sqlx::query(
        "SELECT secrets_sealed, secrets_key_id, secret_names, config FROM plugin_bindings WHERE id = $1",
    )
    .bind(id)
    .fetch_one(store.pool())
    .await
    .unwrap();
    (row.get(0), row.get(1), row.get(2), row.get(3))
}

/// The merged config the session's plugin would get on `connection`.
async fn resolved_config(store: &Store, connection: i64) -> Value {
    let resolved = store.bindings().resolve(connection).await.unwrap();
    assert_eq!(resolved.len(), 1);
    resolved[0].config.json().clone()
}

fn merged(secret: &str, headers: Option<Value>) -> Value {
    let mut config = json!({"url": "http://collector:8088/", "secret": secret});
    if let Some(headers) = headers {
        config["headers"] = headers;
    }
    config
}

async fn audit_of(store: &Store, action: &str) -> Vec<gatehouse_store::audit::AuditEvent> {
    let events = store.audit().after(0, 1000).await.unwrap();
    events.into_iter().filter(|e| e.action == action).collect()
}

#[tokio::test]
async fn binding_secrets_are_sealed_at_rest_and_merged_only_for_the_plugin() {
    common::both(|t| async move {
        let admin = admin_actor();
        let conn = connection(&t.store, "ro").await;
        let binding = t
            .store
            .bindings()
            .add(&admin, conn, new_binding())
            .await
            .unwrap();

        // Reads carry the names, never a value; Debug neither.
        assert_eq!(binding.secrets_set, ["headers", "secret"]);
        assert_eq!(binding.config, json!({"url": "http://collector:8088/"}));
        let listed: Vec<Binding> = t.store.bindings().list(conn).await.unwrap();
        assert_eq!(listed, vec![binding.clone()]);
        assert_eq!(t.store.bindings().get(binding.id).await.unwrap(), binding);
        for text in [
            format!("{binding:?}"),
            serde_json::to_string(&binding).unwrap(),
            format!("{:?}", new_binding()),
        ] {
            assert_no_value("a binding", &text);
        }

        // At rest: sealed with the store's key, names in clear, no value anywhere.
        let (sealed, key_id, names, config) = raw(&t.store, binding.id).await;
        let sealed = sealed.expect("sealed secrets");
        for value in [SECRET, AUTH] {
            assert!(!sealed.windows(value.len()).any(|w| w == value.as_bytes()));
        }
        assert_eq!(key_id.as_deref(), Some(t.store.secret_key_id()));
        assert_eq!(names, r#"["headers","secret"]"#);
        assert_no_value("the config column", &config);
        assert_nowhere_in_the_database(&t).await;

        // The instantiation path gets the merged config.
        let resolved = t.store.bindings().resolve(conn).await.unwrap();
        let expected = merged(SECRET, Some(json!({"Authorization": AUTH})));
        assert_eq!(resolved[0].config.json(), &expected);
        assert_eq!(resolved[0].config.secret_names(), ["headers", "secret"]);
        assert_no_value("a resolved binding's Debug", &format!("{resolved:?}"));
        assert_no_value(
            "a resolved binding",
            &serde_json::to_string(&resolved).unwrap(),
        );
        let config = t.store.bindings().plugin_config(binding.id).await.unwrap();
        assert_eq!(config.json(), &expected);

        // The audit row has the names only.
        let created = audit_of(&t.store, "binding.create").await;
        assert_eq!(created.len(), 1);
        let after = created[0].after.as_ref().unwrap();
        assert_eq!(after["secrets_set"], json!(["headers", "secret"]));
        assert_no_value("audit events", &serde_json::to_string(&created).unwrap());
    })
    .await;
}

#[tokio::test]
async fn binding_secret_updates_keep_replace_and_remove_per_key() {
    common::both(|t| async move {
        let admin = admin_actor();
        let bindings = t.store.bindings();
        let conn = connection(&t.store, "ro").await;
        let id = bindings.add(&admin, conn, new_binding()).await.unwrap().id;
        let auth = || Some(json!({"Authorization": AUTH}));

        // An update without secrets keeps them (config, limits, enabled).
        let limits = BindingUpdate {
            deadline_ms: Some(5000),
            config: Some(json!({"url": "http://collector:8088/"})),
            ..Default::default()
        };
        let updated = bindings.update(&admin, id, limits).await.unwrap();
        assert_eq!(updated.secrets_set, ["headers", "secret"]);
        assert_eq!(
            resolved_config(&t.store, conn).await,
            merged(SECRET, auth())
        );

        // A value replaces its key only; the preview says what the plugin would get.
        let replace = BindingUpdate {
            secrets: SecretsUpdate::new().set("secret", json!(NEW_SECRET)),
            ..Default::default()
        };
        let preview = bindings.config_after(id, &replace).await.unwrap();
        assert_eq!(preview.json(), &merged(NEW_SECRET, auth()));
        assert_eq!(
            resolved_config(&t.store, conn).await,
            merged(SECRET, auth()),
            "a preview stores nothing"
        );
        let sealed_before = raw(&t.store, id).await.0;
        let updated = bindings.update(&admin, id, replace).await.unwrap();
        assert_eq!(updated.secrets_set, ["headers", "secret"]);
        assert_ne!(raw(&t.store, id).await.0, sealed_before, "sealed again");
        assert_eq!(
            resolved_config(&t.store, conn).await,
            merged(NEW_SECRET, auth())
        );

        // null removes a key.
        let remove = BindingUpdate {
            secrets: SecretsUpdate::from_json(json!({"headers": null})).unwrap(),
            ..Default::default()
        };
        let updated = bindings.update(&admin, id, remove).await.unwrap();
        assert_eq!(updated.secrets_set, ["secret"]);
        assert_eq!(
            resolved_config(&t.store, conn).await,
            merged(NEW_SECRET, None)
        );

        // Removing the last one leaves no sealed value; the schema still sees
        // the merged config, so removing a required secret is refused.
        let remove_all = BindingUpdate {
            secrets: SecretsUpdate::new().remove("secret"),
            ..Default::default()
        };
        let err = bindings.update(&admin, id, remove_all).await.unwrap_err();
        assert!(
            matches!(err, StoreError::Invalid(_)) && err.to_string().contains("secret is required"),
            "{err}"
        );
        let move_to_config = BindingUpdate {
            config: Some(json!({"url": "http://collector:8088/", "secret": "a-clear-secret-now"})),
            secrets: SecretsUpdate::new().remove("secret"),
            ..Default::default()
        };
        let updated = bindings.update(&admin, id, move_to_config).await.unwrap();
        assert!(updated.secrets_set.is_empty());
        assert_eq!(raw(&t.store, id).await.0, None);
        assert_eq!(raw(&t.store, id).await.1, None);
        assert_eq!(
            resolved_config(&t.store, conn).await,
            merged("a-clear-secret-now", None)
        );

        // Audit rows say secrets changed (and which names are set), never a value.
        let updates = audit_of(&t.store, "binding.update").await;
        assert_eq!(updates.len(), 4);
        let changed: Vec<bool> = updates
            .iter()
            .map(|e| e.after.as_ref().unwrap().get("secrets_changed") == Some(&json!(true)))
            .collect();
        assert_eq!(changed, [false, true, true, true]);
        assert_eq!(
            updates[2].before.as_ref().unwrap()["secrets_set"],
            json!(["headers", "secret"])
        );
        assert_eq!(
            updates[2].after.as_ref().unwrap()["secrets_set"],
            json!(["secret"])
        );
        assert_no_value("audit events", &serde_json::to_string(&updates).unwrap());
        assert_nowhere_in_the_database(&t).await;
    })
    .await;
}

#[tokio::test]
async fn a_key_in_both_config_and_secrets_is_refused() {
    common::both(|t| async move {
        let admin = admin_actor();
        let bindings = t.store.bindings();
        let conn = connection(&t.store, "ro").await;

        let mut clash = new_binding();
        clash.config = json!({"url": "http://collector:8088/", "secret": "in-the-clear-config"});
        let err = bindings.add(&admin, conn, clash).await.unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{err}");
        assert_eq!(
            err.to_string(),
            "plugin webhook on db.ro: key \"secret\" is given both in config and in secrets; put each key in one place only"
        );
        assert!(bindings.list(conn).await.unwrap().is_empty(), "nothing written");

        let id = bindings.add(&admin, conn, new_binding()).await.unwrap().id;
        let config_clash = BindingUpdate {
            config: Some(json!({"url": "http://x/", "headers": {}})),
            ..Default::default()
        };
        let err = bindings.update(&admin, id, config_clash.clone()).await.unwrap_err();
        assert!(err.to_string().contains("key \"headers\" is given both"), "{err}");
        let err = bindings.config_after(id, &config_clash).await.unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{err}");
        let secrets_clash = BindingUpdate {
            secrets: SecretsUpdate::new().set("url", json!("http://elsewhere/")),
            ..Default::default()
        };
        let err = bindings.update(&admin, id, secrets_clash).await.unwrap_err();
        assert!(err.to_string().contains("key \"url\" is given both"), "{err}");

        // The schema sees the merged config: a short secret is refused, naming
        // the key, not the value.
        let mut short = new_binding();
        short.secrets = BindingSecrets::from_json(json!({"secret": "short-one"})).unwrap();
        let other = connection(&t.store, "admin").await;
        let err = bindings.add(&admin, other, short).await.unwrap_err();
        assert!(err.to_string().contains("config.secret: is too short"), "{err}");
        assert!(!err.to_string().contains("short-one"), "{err}");

        // A new version following latest is checked against the merged config too.
        let plugin = webhook("2.0.0", b"w2", Some(schema()));
        t.store.plugins().install(&admin, plugin).await.unwrap();
        assert_eq!(bindings.resolve(conn).await.unwrap()[0].plugin.version, "2.0.0");
        let updates = audit_of(&t.store, "binding.update").await;
        assert!(updates.is_empty(), "refused updates wrote nothing");
    })
    .await;
}

#[tokio::test]
async fn binding_secrets_need_their_key_and_rotate_with_the_passwords() {
    common::both(|t| async move {
        let admin = admin_actor();
        let conn = connection(&t.store, "ro").await;
        let id = t.store.bindings().add(&admin, conn, new_binding()).await.unwrap().id;

        // Another key cannot open them, and says which key it needs.
        let stranger = Store::open(&t.url, SecretKeys::generate()).await.unwrap();
        let err = stranger.bindings().resolve(conn).await.unwrap_err();
        assert!(matches!(err, StoreError::Secret(_)), "{err}");
        assert!(err.to_string().contains(t.store.secret_key_id()), "{err}");
        assert_no_value("the error", &err.to_string());
        assert_eq!(stranger.bindings().list(conn).await.unwrap()[0].secrets_set, ["headers", "secret"]);
        stranger.close().await;

        // Sealed secrets copied to another binding do not open there.
        let other = connection(&t.store, "admin").await;
        let mut plain = NewBinding::new("webhook");
        plain.config = json!({"url": "http://x/", "secret": "0123456789abcdef"});
        let other_id = t.store.bindings().add(&admin, other, plain).await.unwrap().id;
        sqlx::query(
            "UPDATE plugin_bindings SET secrets_sealed = (SELECT secrets_sealed FROM plugin_bindings WHERE id = $1), \
             secrets_key_id = (SELECT secrets_key_id FROM plugin_bindings WHERE id = $1), secret_names = '[\"x\"]' WHERE id = $2",
        )
        .bind(id)
        .bind(other_id)
        .execute(t.store.pool())
        .await
        .unwrap();
        let err = t.store.bindings().resolve(other).await.unwrap_err();
        assert!(matches!(err, StoreError::Secret(_)), "{err}");
        t.store.bindings().remove(&admin, other_id).await.unwrap();

        // Rotation re-seals binding secrets with the connection passwords.
        let (old_key, new_key) = ([5u8; 32], [9u8; 32]);
        let before = Store::open(&t.url, SecretKeys::from_keys(&[old_key]).unwrap()).await.unwrap();
        before.bindings().remove(&admin, id).await.unwrap();
        let id = before.bindings().add(&admin, conn, new_binding()).await.unwrap().id;
        let old_sealed = raw(&before, id).await.0;
        before.close().await;
        let rotated = Store::open(&t.url, SecretKeys::from_keys(&[new_key, old_key]).unwrap()).await.unwrap();
        assert_eq!(rotated.connections().rotate_key(&admin).await.unwrap(), 1);
        assert_eq!(rotated.connections().rotate_key(&admin).await.unwrap(), 0);
        rotated.close().await;
        let only_new = Store::open(&t.url, SecretKeys::from_keys(&[new_key]).unwrap()).await.unwrap();
        let expected = merged(SECRET, Some(json!({"Authorization": AUTH})));
        assert_eq!(resolved_config(&only_new, conn).await, expected);
        let (sealed, key_id, _, _) = raw(&only_new, id).await;
        assert_ne!(sealed, old_sealed);
        assert_eq!(key_id.as_deref(), Some(only_new.secret_key_id()));
        only_new.close().await;
    })
    .await;
}
