//! Resources, connections and their sealed credentials.

use crate::common::{self, admin_actor};
use gatehouse_store::connections::{ConnectionUpdate, NewConnection, Password, PasswordSource};
use gatehouse_store::resources::{NewResource, ResourceKind, ResourceUpdate, TlsMode};
use gatehouse_store::{Backend, SecretKeys, SecretRef, Store, StoreError};
use sqlx::Row;

const PLAINTEXT: &str = "Upstream-Pa55word-that-must-never-be-stored";

async fn billing(store: &Store) -> i64 {
    let admin = admin_actor();
    let mut resource = NewResource::new("billing-db", ResourceKind::Postgres, "127.0.0.1:5432");
    resource.description = "billing".into();
    resource.tls = TlsMode::Disable;
    store.resources().create(&admin, resource).await.unwrap().id
}

fn read_only() -> NewConnection {
    let mut new = NewConnection::new("billing-db", "read-only");
    new.description = "reports and dashboards".into();
    new.database = Some("billing".into());
    new.username = Some("ro".into());
    new.password = Some(Password::Value(PLAINTEXT.into()));
    new.attributes
        .insert("environment".into(), "production".into());
    new
}

#[tokio::test]
async fn resources_are_managed_and_protected_while_in_use() {
    common::both(|t| async move {
        let admin = admin_actor();
        let resources = t.store.resources();
        let id = billing(&t.store).await;
        let again = NewResource::new("billing-db", ResourceKind::Mysql, "x:1");
        assert!(matches!(
            resources.create(&admin, again).await,
            Err(StoreError::Conflict { .. })
        ));
        let dotted = NewResource::new("billing.db", ResourceKind::Postgres, "x:1");
        assert!(matches!(
            resources.create(&admin, dotted).await,
            Err(StoreError::Invalid(_))
        ));

        let update = ResourceUpdate {
            address: Some("db.internal:5432".into()),
            tls: Some(TlsMode::VerifyFull),
            ca_file: Some(Some("/etc/ca.pem".into())),
            ..Default::default()
        };
        let updated = resources.update(&admin, id, update).await.unwrap();
        assert_eq!(
            (
                updated.address.as_str(),
                updated.tls,
                updated.ca_file.as_deref()
            ),
            ("db.internal:5432", TlsMode::VerifyFull, Some("/etc/ca.pem"))
        );
        assert_eq!(resources.by_name("billing-db").await.unwrap(), updated);
        assert_eq!(resources.list().await.unwrap().len(), 1);

        let connection = t
            .store
            .connections()
            .create(&admin, read_only())
            .await
            .unwrap();
        assert!(matches!(
            resources.delete(&admin, id).await,
            Err(StoreError::Conflict { .. })
        ));
        t.store
            .connections()
            .delete(&admin, connection.id)
            .await
            .unwrap();
        resources.delete(&admin, id).await.unwrap();
        assert!(matches!(
            resources.get(id).await,
            Err(StoreError::NotFound { .. })
        ));
    })
    .await;
}

#[tokio::test]
async fn connections_never_return_their_password() {
    common::both(|t| async move {
        let admin = admin_actor();
        let connections = t.store.connections();
        let resource_id = billing(&t.store).await;
        let created = connections.create(&admin, read_only()).await.unwrap();
        assert_eq!(created.name, "billing-db.read-only");
        assert_eq!((created.has_password, created.password_source.clone()), (true, Some(PasswordSource::Stored)));
        assert_eq!(created.attributes["environment"], "production");
        assert!(matches!(connections.create(&admin, read_only()).await, Err(StoreError::Conflict { .. })));
        assert!(matches!(connections.create(&admin, NewConnection::new("nope", "r")).await, Err(StoreError::NotFound { .. })));

        let by_name = connections.by_name("billing-db.read-only").await.unwrap();
        assert_eq!(by_name, created);
        assert_eq!(connections.list_for_resource(resource_id).await.unwrap(), vec![created.clone()]);
        // Nothing readable carries the value, Debug included.
        for text in [format!("{created:?}"), serde_json::to_string(&created).unwrap()] {
            assert!(!text.contains(PLAINTEXT), "{text}");
        }

        let credentials = connections.resolve_credentials(created.id).await.unwrap();
        assert_eq!(credentials.password.as_ref().unwrap().expose(), PLAINTEXT);
        assert_eq!((credentials.address.as_str(), credentials.username.as_deref()), ("127.0.0.1:5432", Some("ro")));
        assert!(!format!("{credentials:?}").contains(PLAINTEXT));

        // A reference is stored as is and resolved when used.
        let var = format!("GATEHOUSE_STORE_TEST_PW_{:?}", t.backend).to_uppercase();
        unsafe { std::env::set_var(&var, "from-env") };
        let update = ConnectionUpdate { password: Some(Some(Password::Ref(SecretRef::Env(var.clone())))), ..Default::default() };
        let updated = connections.update(&admin, created.id, update).await.unwrap();
        assert_eq!(updated.password_source, Some(PasswordSource::Env(var.clone())));
        assert_eq!(connections.resolve_credentials(created.id).await.unwrap().password.unwrap().expose(), "from-env");

        let clear = ConnectionUpdate { password: Some(None), description: Some("cleared".into()), ..Default::default() };
        let cleared = connections.update(&admin, created.id, clear).await.unwrap();
        assert!(!cleared.has_password && cleared.password_source.is_none());
        assert!(connections.resolve_credentials(created.id).await.unwrap().password.is_none());

        let set_again = ConnectionUpdate { password: Some(Some(Password::Value(PLAINTEXT.into()))), ..Default::default() };
        connections.update(&admin, created.id, set_again).await.unwrap();
        let empty = ConnectionUpdate { password: Some(Some(Password::Value("".into()))), ..Default::default() };
        assert!(matches!(connections.update(&admin, created.id, empty).await, Err(StoreError::Invalid(_))));

        // Audit rows say a password changed, never what it is.
        let events = t.store.audit().after(0, 100).await.unwrap();
        let updates: Vec<_> = events.iter().filter(|e| e.action == "connection.update").collect();
        assert_eq!(updates.len(), 3);
        assert_eq!(updates[0].after.as_ref().unwrap()["password_changed"], true);
        assert_eq!(updates[0].actor.as_ref().unwrap().email, "root@example.com");
        assert_eq!(updates[0].client_address.as_deref(), Some("10.0.0.1"));
        assert!(!serde_json::to_string(&events).unwrap().contains(PLAINTEXT));

        // The plaintext is nowhere in the database.
        match t.backend {
            Backend::Sqlite => {
                for entry in std::fs::read_dir(&t.dir).unwrap() {
                    let bytes = std::fs::read(entry.unwrap().path()).unwrap();
                    assert!(!bytes.windows(PLAINTEXT.len()).any(|w| w == PLAINTEXT.as_bytes()), "plaintext in the SQLite files");
                }
            }
            Backend::Postgres => {
                let tables: Vec<String> = sqlx::query_scalar("SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema()")
                    .fetch_all(t.store.pool())
                    .await
                    .unwrap();
                for table in tables {
                    let sql = format!("SELECT COUNT(*) FROM {table} t WHERE position($1 in row_to_json(t)::text) > 0");
                    let hits: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).bind(PLAINTEXT).fetch_one(t.store.pool()).await.unwrap();
                    assert_eq!(hits, 0, "plaintext in {table}");
                }
                let hits: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM connections WHERE position(convert_to($1, 'UTF8') in password_sealed) > 0")
                    .bind(PLAINTEXT)
                    .fetch_one(t.store.pool())
                    .await
                    .unwrap();
                assert_eq!(hits, 0);
            }
        }
    })
    .await;
}

#[tokio::test]
async fn sealed_passwords_need_their_key_and_rotate() {
    common::both(|t| async move {
        let admin = admin_actor();
        billing(&t.store).await;
        let id = t.store.connections().create(&admin, read_only()).await.unwrap().id;

        // Another key cannot open it, and says which key it needs.
        let stranger = Store::open(&t.url, SecretKeys::generate()).await.unwrap();
        let err = stranger.connections().resolve_credentials(id).await.unwrap_err();
        assert!(matches!(err, StoreError::Secret(_)) && err.to_string().contains(t.store.secret_key_id()), "{err}");
        assert!(!err.to_string().contains(PLAINTEXT));
        stranger.close().await;

        // A sealed value moved to another row does not open there.
        let mut other = read_only();
        other.role = "admin".into();
        other.password = None;
        let other_id = t.store.connections().create(&admin, other).await.unwrap().id;
        sqlx::query("UPDATE connections SET password_sealed = (SELECT password_sealed FROM connections WHERE id = $1), \
                     password_key_id = (SELECT password_key_id FROM connections WHERE id = $1) WHERE id = $2")
            .bind(id)
            .bind(other_id)
            .execute(t.store.pool())
            .await
            .unwrap();
        assert!(matches!(t.store.connections().resolve_credentials(other_id).await, Err(StoreError::Secret(_))));
        let clear = ConnectionUpdate { password: Some(None), ..Default::default() };
        t.store.connections().update(&admin, other_id, clear).await.unwrap();

        // Rotation: the new key first, the old one after; re-seal; drop the old.
        let (old_key, new_key) = ([3u8; 32], [7u8; 32]);
        let before = Store::open(&t.url, SecretKeys::from_keys(&[old_key]).unwrap()).await.unwrap();
        let set = ConnectionUpdate { password: Some(Some(Password::Value(PLAINTEXT.into()))), ..Default::default() };
        before.connections().update(&admin, id, set).await.unwrap();
        let sealed_before = sqlx::query("SELECT password_key_id, password_sealed FROM connections WHERE id = $1")
            .bind(id)
            .fetch_one(before.pool())
            .await
            .unwrap();
        let (old_id, old_bytes): (String, Vec<u8>) = (sealed_before.get(0), sealed_before.get(1));
        before.close().await;
        let rotated = Store::open(&t.url, SecretKeys::from_keys(&[new_key, old_key]).unwrap()).await.unwrap();
        assert_eq!(rotated.connections().rotate_key(&admin).await.unwrap(), 1);
        assert_eq!(rotated.connections().rotate_key(&admin).await.unwrap(), 0);
        rotated.close().await;
        let only_new = Store::open(&t.url, SecretKeys::from_keys(&[new_key]).unwrap()).await.unwrap();
        assert_eq!(only_new.connections().resolve_credentials(id).await.unwrap().password.unwrap().expose(), PLAINTEXT);
        let row = sqlx::query("SELECT password_key_id, password_sealed FROM connections WHERE id = $1").bind(id).fetch_one(only_new.pool()).await.unwrap();
        assert_ne!(row.get::<String, _>(0), old_id);
        assert_ne!(row.get::<Vec<u8>, _>(1), old_bytes);
        only_new.close().await;
    })
    .await;
}
