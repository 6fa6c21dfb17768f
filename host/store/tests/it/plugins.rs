//! Plugins (versions, hot upgrade) and their bindings.

use crate::common::{self, admin_actor};
use gatehouse_store::bindings::{BindingUpdate, Grants, NewBinding, Pin};
use gatehouse_store::connections::NewConnection;
use gatehouse_store::plugins::{NewPlugin, digest};
use gatehouse_store::resources::{NewResource, ResourceKind};
use gatehouse_store::{Store, StoreError};
use serde_json::json;

fn plugin(name: &str, version: &str, bytes: &[u8]) -> NewPlugin {
    NewPlugin {
        name: name.into(),
        version: version.into(),
        description: format!("{name} {version}"),
        hooks: vec!["on-query".into()],
        capabilities: vec![],
        config_schema: None,
        component: bytes.to_vec(),
    }
}

fn guardrails_schema() -> serde_json::Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "properties": {"deny_statements": {"type": "array", "items": {"type": "string"}}}
    })
}

async fn connection(store: &Store, role: &str) -> i64 {
    let admin = admin_actor();
    if store.resources().by_name("db").await.is_err() {
        store
            .resources()
            .create(
                &admin,
                NewResource::new("db", ResourceKind::Postgres, "h:5432"),
            )
            .await
            .unwrap();
    }
    store
        .connections()
        .create(&admin, NewConnection::new("db", role))
        .await
        .unwrap()
        .id
}

#[tokio::test]
async fn versions_are_kept_and_latest_is_the_newest_install() {
    common::both(|t| async move {
        let admin = admin_actor();
        let plugins = t.store.plugins();
        let v1 = plugins
            .install(&admin, plugin("guardrails", "1.0.0", b"component-one"))
            .await
            .unwrap();
        assert_eq!(v1.digest, digest(b"component-one"));
        assert_eq!((v1.size, v1.created_by.as_str()), (13, "1"));
        // Same bytes again: the stored version. Other bytes under the version: conflict.
        assert_eq!(
            plugins
                .install(&admin, plugin("guardrails", "1.0.0", b"component-one"))
                .await
                .unwrap(),
            v1
        );
        assert!(matches!(
            plugins
                .install(&admin, plugin("guardrails", "1.0.0", b"other"))
                .await,
            Err(StoreError::Conflict { .. })
        ));

        let v2 = plugins
            .install(&admin, plugin("guardrails", "2.0.0", b"component-two"))
            .await
            .unwrap();
        plugins
            .install(&admin, plugin("access-control", "0.1.0", b"ac"))
            .await
            .unwrap();
        assert_eq!(plugins.latest("guardrails").await.unwrap().id, v2.id);
        assert_eq!(
            plugins
                .resolve("guardrails", &Pin::Version("1.0.0".into()))
                .await
                .unwrap()
                .id,
            v1.id
        );
        assert_eq!(
            plugins
                .resolve("guardrails", &Pin::Digest(v1.digest.clone()))
                .await
                .unwrap()
                .id,
            v1.id
        );
        assert!(matches!(
            plugins
                .resolve("guardrails", &Pin::Version("9".into()))
                .await,
            Err(StoreError::NotFound { .. })
        ));
        assert_eq!(
            plugins
                .versions("guardrails")
                .await
                .unwrap()
                .iter()
                .map(|p| p.version.as_str())
                .collect::<Vec<_>>(),
            ["2.0.0", "1.0.0"]
        );
        assert_eq!(
            plugins
                .list()
                .await
                .unwrap()
                .iter()
                .map(|p| (p.name.as_str(), p.version.as_str()))
                .collect::<Vec<_>>(),
            [("access-control", "0.1.0"), ("guardrails", "2.0.0")]
        );
        assert_eq!(plugins.component(v1.id).await.unwrap(), b"component-one");

        // Bad manifests are refused before anything is written.
        let mut bad = plugin("x", "1", b"x");
        bad.hooks = vec!["on-everything".into()];
        assert!(matches!(
            plugins.install(&admin, bad).await,
            Err(StoreError::Invalid(_))
        ));
        let mut bad = plugin("x", "1", b"x");
        bad.config_schema = Some(json!({"type": "object", "patternProperties": {}}));
        assert!(matches!(
            plugins.install(&admin, bad).await,
            Err(StoreError::Invalid(_))
        ));
        assert!(matches!(
            plugins.install(&admin, plugin("x", "1", b"")).await,
            Err(StoreError::Invalid(_))
        ));

        // Removing: not while pinned; then fine.
        let conn = connection(&t.store, "ro").await;
        let mut pinned = NewBinding::new("guardrails");
        pinned.pin = Pin::Version("1.0.0".into());
        let binding = t.store.bindings().add(&admin, conn, pinned).await.unwrap();
        assert!(matches!(
            plugins.remove(&admin, v1.id).await,
            Err(StoreError::Conflict { .. })
        ));
        t.store.bindings().remove(&admin, binding.id).await.unwrap();
        plugins.remove(&admin, v1.id).await.unwrap();
        assert_eq!(plugins.versions("guardrails").await.unwrap().len(), 1);
        let actions: Vec<String> = t
            .store
            .audit()
            .after(0, 100)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.action)
            .collect();
        assert_eq!(actions.iter().filter(|a| *a == "plugin.install").count(), 3);
        assert!(actions.contains(&"plugin.remove".to_string()));
    })
    .await;
}

#[tokio::test]
async fn bindings_run_in_order_with_validated_config_and_grants() {
    common::both(|t| async move {
        let admin = admin_actor();
        let mut guardrails = plugin("guardrails", "1.0.0", b"g1");
        guardrails.config_schema = Some(guardrails_schema());
        t.store.plugins().install(&admin, guardrails).await.unwrap();
        let mut webhook = plugin("webhook", "1.0.0", b"w1");
        webhook.capabilities = vec!["http-outbound".into()];
        t.store.plugins().install(&admin, webhook).await.unwrap();
        t.store
            .plugins()
            .install(&admin, plugin("access-control", "1.0.0", b"a1"))
            .await
            .unwrap();
        let conn = connection(&t.store, "ro").await;
        let bindings = t.store.bindings();

        let mut g = NewBinding::new("guardrails");
        g.config = json!({"deny_statements": ["drop"]});
        let g = bindings.add(&admin, conn, g).await.unwrap();
        let mut w = NewBinding::new("webhook");
        w.grants = Grants {
            http: vec!["https://hooks.example.com/".into()],
            ..Default::default()
        };
        let w = bindings.add(&admin, conn, w).await.unwrap();
        let mut a = NewBinding::new("access-control");
        a.enabled = false;
        let a = bindings.add(&admin, conn, a).await.unwrap();
        assert_eq!((g.position, w.position, a.position), (0, 1, 2));
        assert!(matches!(
            bindings
                .add(&admin, conn, NewBinding::new("guardrails"))
                .await,
            Err(StoreError::Conflict { .. })
        ));

        // Config against the schema, grants against the declared capabilities, limits.
        let mut bad = NewBinding::new("guardrails");
        bad.config = json!({"deny_statement": ["drop"]});
        let other = connection(&t.store, "admin").await;
        let err = bindings.add(&admin, other, bad).await.unwrap_err();
        assert!(
            matches!(err, StoreError::Invalid(_))
                && err
                    .to_string()
                    .contains("config.deny_statement: unknown field"),
            "{err}"
        );
        let mut bad = NewBinding::new("access-control");
        bad.grants.key_value = true;
        assert!(
            bindings
                .add(&admin, other, bad)
                .await
                .unwrap_err()
                .to_string()
                .contains("key-value is granted")
        );
        let mut bad = NewBinding::new("access-control");
        bad.deadline_ms = 0;
        assert!(matches!(
            bindings.add(&admin, other, bad).await,
            Err(StoreError::Invalid(_))
        ));
        let mut bad = NewBinding::new("access-control");
        bad.config = json!([1]);
        assert!(matches!(
            bindings.add(&admin, other, bad).await,
            Err(StoreError::Invalid(_))
        ));
        assert!(matches!(
            bindings
                .add(&admin, other, NewBinding::new("missing"))
                .await,
            Err(StoreError::NotFound { .. })
        ));

        // Resolve: enabled only, in order, with concrete versions.
        let resolved = bindings.resolve(conn).await.unwrap();
        assert_eq!(
            resolved
                .iter()
                .map(|r| r.plugin.name.as_str())
                .collect::<Vec<_>>(),
            ["guardrails", "webhook"]
        );
        assert_eq!(
            resolved[0].binding.config,
            json!({"deny_statements": ["drop"]})
        );

        let reordered = bindings
            .reorder(&admin, conn, &[a.id, w.id, g.id])
            .await
            .unwrap();
        assert_eq!(
            reordered
                .iter()
                .map(|b| b.plugin.as_str())
                .collect::<Vec<_>>(),
            ["access-control", "webhook", "guardrails"]
        );
        assert!(matches!(
            bindings.reorder(&admin, conn, &[a.id, w.id]).await,
            Err(StoreError::Invalid(_))
        ));

        let enable = BindingUpdate {
            enabled: Some(true),
            deadline_ms: Some(250),
            ..Default::default()
        };
        let a = bindings.update(&admin, a.id, enable).await.unwrap();
        assert_eq!((a.enabled, a.deadline_ms, a.memory_mb), (true, 250, 32));
        let bad = BindingUpdate {
            config: Some(json!({"deny_statements": "drop"})),
            ..Default::default()
        };
        assert!(matches!(
            bindings.update(&admin, g.id, bad).await,
            Err(StoreError::Invalid(_))
        ));
        assert_eq!(bindings.resolve(conn).await.unwrap().len(), 3);

        // Deleting the connection deletes its bindings.
        t.store.connections().delete(&admin, conn).await.unwrap();
        assert!(matches!(
            bindings.get(g.id).await,
            Err(StoreError::NotFound { .. })
        ));
    })
    .await;
}

#[tokio::test]
async fn hot_upgrade_moves_latest_bindings_and_keeps_them_valid() {
    common::both(|t| async move {
        let admin = admin_actor();
        let plugins = t.store.plugins();
        let mut v1 = plugin("guardrails", "1.0.0", b"g1");
        v1.config_schema = Some(guardrails_schema());
        let v1 = plugins.install(&admin, v1).await.unwrap();
        let conn = connection(&t.store, "ro").await;
        let pinned_conn = connection(&t.store, "pinned").await;
        let mut latest = NewBinding::new("guardrails");
        latest.config = json!({"deny_statements": ["drop"]});
        t.store
            .bindings()
            .add(&admin, conn, latest.clone())
            .await
            .unwrap();
        latest.pin = Pin::Digest(v1.digest.clone());
        t.store
            .bindings()
            .add(&admin, pinned_conn, latest)
            .await
            .unwrap();

        // A new version whose schema rejects a latest-binding is refused.
        let mut strict = plugin("guardrails", "2.0.0", b"g2-strict");
        strict.config_schema = Some(json!({"type": "object", "additionalProperties": false}));
        let err = plugins.install(&admin, strict).await.unwrap_err();
        assert!(
            matches!(err, StoreError::Conflict { .. }) && err.to_string().contains("db.ro"),
            "{err}"
        );

        // A compatible one becomes what new sessions of latest-bindings get.
        let mut v2 = plugin("guardrails", "2.0.0", b"g2");
        v2.config_schema = Some(guardrails_schema());
        let v2 = plugins.install(&admin, v2).await.unwrap();
        assert_eq!(
            t.store.bindings().resolve(conn).await.unwrap()[0].plugin.id,
            v2.id
        );
        assert_eq!(
            t.store.bindings().resolve(pinned_conn).await.unwrap()[0]
                .plugin
                .id,
            v1.id
        );

        // Removing v2 rolls latest back to v1; removing v1 is refused (pinned, and last).
        plugins.remove(&admin, v2.id).await.unwrap();
        assert_eq!(
            t.store.bindings().resolve(conn).await.unwrap()[0].plugin.id,
            v1.id
        );
        assert!(matches!(
            plugins.remove(&admin, v1.id).await,
            Err(StoreError::Conflict { .. })
        ));
    })
    .await;
}
