//! Users, groups, memberships and access tokens.

use crate::common::{self, admin_actor};
use gatehouse_store::audit::AuditFilter;
use gatehouse_store::tokens::token_sha256;
use gatehouse_store::users::{NewUser, OidcLogin, OidcSubject, UserUpdate};
use gatehouse_store::{PageRequest, Role, StoreError};

#[tokio::test]
async fn users_are_created_read_updated_and_deleted() {
    common::both(|t| async move {
        let users = t.store.users();
        let admin = admin_actor();
        let mut new = NewUser::new("Alice@Example.com", Role::User);
        new.groups = vec!["dba".into(), "analysts".into(), "dba".into()];
        new.display_name = "Alice".into();
        let alice = users.create(&admin, new.clone()).await.unwrap();
        assert_eq!(alice.email, "alice@example.com");
        assert_eq!(alice.groups, vec!["analysts", "dba"]);
        assert_eq!(alice.identity().user_id, alice.id.to_string());
        assert!(matches!(
            users.create(&admin, new).await,
            Err(StoreError::Conflict { .. })
        ));

        assert_eq!(
            users.by_email("ALICE@example.com").await.unwrap().id,
            alice.id
        );
        assert!(matches!(
            users.by_email("bob@example.com").await,
            Err(StoreError::NotFound { .. })
        ));

        let mut bob = NewUser::new("bob@example.com", Role::Approver);
        bob.oidc = Some(OidcSubject {
            issuer: "https://idp".into(),
            subject: "b-1".into(),
        });
        let bob = users.create(&admin, bob).await.unwrap();
        assert_eq!(
            users
                .by_oidc("https://idp", "b-1")
                .await
                .unwrap()
                .unwrap()
                .id,
            bob.id
        );
        assert!(
            users
                .by_oidc("https://idp", "nobody")
                .await
                .unwrap()
                .is_none()
        );

        let listed = users.list().await.unwrap();
        assert_eq!(
            listed.iter().map(|u| u.email.as_str()).collect::<Vec<_>>(),
            ["alice@example.com", "bob@example.com"]
        );
        assert_eq!(listed[0].groups, vec!["analysts", "dba"]);

        let update = UserUpdate {
            role: Some(Role::Admin),
            disabled: Some(true),
            ..Default::default()
        };
        let updated = users.update(&admin, alice.id, update).await.unwrap();
        assert_eq!(
            (
                updated.role,
                updated.disabled,
                updated.display_name.as_str()
            ),
            (Role::Admin, true, "Alice")
        );
        let clash = UserUpdate {
            email: Some("bob@example.com".into()),
            ..Default::default()
        };
        assert!(matches!(
            users.update(&admin, alice.id, clash).await,
            Err(StoreError::Conflict { .. })
        ));

        let regrouped = users
            .set_groups(&admin, alice.id, &["ops".to_string()])
            .await
            .unwrap();
        assert_eq!(regrouped.groups, vec!["ops"]);
        // Groups named by set_groups are created; the old ones stay.
        let groups = t.store.groups().list().await.unwrap();
        assert_eq!(
            groups
                .iter()
                .map(|g| (g.name.as_str(), g.members))
                .collect::<Vec<_>>(),
            [("analysts", 0), ("dba", 0), ("ops", 1)]
        );

        users.delete(&admin, alice.id).await.unwrap();
        assert!(matches!(
            users.get(alice.id).await,
            Err(StoreError::NotFound { .. })
        ));
        assert_eq!(t.store.groups().get("ops").await.unwrap().members, 0);

        assert!(matches!(
            users.create(&admin, NewUser::new("  ", Role::User)).await,
            Err(StoreError::Invalid(_))
        ));
        assert!(matches!(
            users
                .create(&admin, NewUser::new("a b@x", Role::User))
                .await,
            Err(StoreError::Invalid(_))
        ));

        let actions: Vec<String> = t
            .store
            .audit()
            .list(
                &AuditFilter {
                    category: Some("admin".into()),
                    ..Default::default()
                },
                &PageRequest::first(100),
            )
            .await
            .unwrap()
            .items
            .into_iter()
            .rev()
            .map(|e| e.action)
            .collect();
        assert_eq!(
            actions,
            [
                "user.create",
                "user.create",
                "user.update",
                "user.set_groups",
                "user.delete"
            ]
        );
    })
    .await;
}

#[tokio::test]
async fn groups_and_memberships() {
    common::both(|t| async move {
        let admin = admin_actor();
        let groups = t.store.groups();
        let user = t
            .store
            .users()
            .create(&admin, NewUser::new("carol@example.com", Role::User))
            .await
            .unwrap();
        groups
            .create(&admin, "Data Engineers", "people who ship pipelines")
            .await
            .unwrap();
        assert!(matches!(
            groups.create(&admin, "Data Engineers", "").await,
            Err(StoreError::Conflict { .. })
        ));
        assert!(matches!(
            groups.create(&admin, "bad\nname", "").await,
            Err(StoreError::Invalid(_))
        ));

        groups
            .add_member(&admin, "Data Engineers", user.id)
            .await
            .unwrap();
        groups
            .add_member(&admin, "Data Engineers", user.id)
            .await
            .unwrap(); // no change
        assert_eq!(groups.get("Data Engineers").await.unwrap().members, 1);
        let members = groups.members("Data Engineers").await.unwrap();
        assert_eq!(members[0].email, "carol@example.com");
        assert_eq!(
            t.store.users().get(user.id).await.unwrap().groups,
            vec!["Data Engineers"]
        );

        let group = groups
            .set_description(&admin, "Data Engineers", "pipelines")
            .await
            .unwrap();
        assert_eq!(group.description, "pipelines");
        groups
            .remove_member(&admin, "Data Engineers", user.id)
            .await
            .unwrap();
        assert!(matches!(
            groups
                .remove_member(&admin, "Data Engineers", user.id)
                .await,
            Err(StoreError::NotFound { .. })
        ));
        groups.delete(&admin, "Data Engineers").await.unwrap();
        assert!(matches!(
            groups.get("Data Engineers").await,
            Err(StoreError::NotFound { .. })
        ));
    })
    .await;
}

#[tokio::test]
async fn tokens_are_stored_as_hashes_and_authenticate() {
    common::both(|t| async move {
        let admin = admin_actor();
        let tokens = t.store.tokens();
        let user = t
            .store
            .users()
            .create(&admin, NewUser::new("dave@example.com", Role::User))
            .await
            .unwrap();
        let (info, token) = tokens
            .create(&admin, user.id, "laptop", None)
            .await
            .unwrap();
        assert!(token.expose().starts_with("ghat_") && token.expose().len() == 53);
        assert!(token.expose().starts_with(&info.prefix) && info.prefix.len() == 9);
        assert_eq!(format!("{token:?}"), "Secret(***)");
        assert!(info.last_used_at.is_none());

        // Only the digest is stored.
        let stored: Vec<String> = sqlx::query_scalar("SELECT sha256 FROM access_tokens")
            .fetch_all(t.store.pool())
            .await
            .unwrap();
        assert_eq!(stored, vec![token_sha256(token.expose())]);

        let found = tokens
            .authenticate("DAVE@example.com", token.expose())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found.id, user.id);
        assert!(tokens.get(info.id).await.unwrap().last_used_at.is_some());
        assert!(
            tokens
                .authenticate("dave@example.com", "ghat_wrong")
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            tokens
                .authenticate("eve@example.com", token.expose())
                .await
                .unwrap()
                .is_none()
        );

        assert!(matches!(
            tokens.create(&admin, user.id, "laptop", None).await,
            Err(StoreError::Conflict { .. })
        ));
        assert!(matches!(
            tokens.create(&admin, user.id, "old", Some(1)).await,
            Err(StoreError::Invalid(_))
        ));

        // A disabled user's tokens stop working.
        let disable = UserUpdate {
            disabled: Some(true),
            ..Default::default()
        };
        t.store
            .users()
            .update(&admin, user.id, disable)
            .await
            .unwrap();
        assert!(
            tokens
                .authenticate("dave@example.com", token.expose())
                .await
                .unwrap()
                .is_none()
        );
        let enable = UserUpdate {
            disabled: Some(false),
            ..Default::default()
        };
        t.store
            .users()
            .update(&admin, user.id, enable)
            .await
            .unwrap();

        // Imported digests (from the config file) work the same way.
        let imported = tokens
            .import(
                &admin,
                user.id,
                "ci",
                &token_sha256("ghat_fromconfig"),
                None,
            )
            .await
            .unwrap();
        assert_eq!(imported.prefix, "ghat_");
        assert!(
            tokens
                .authenticate("dave@example.com", "ghat_fromconfig")
                .await
                .unwrap()
                .is_some()
        );
        assert!(matches!(
            tokens.import(&admin, user.id, "x", "abc", None).await,
            Err(StoreError::Invalid(_))
        ));

        assert_eq!(
            tokens
                .list(user.id)
                .await
                .unwrap()
                .iter()
                .map(|t| t.name.as_str())
                .collect::<Vec<_>>(),
            ["ci", "laptop"]
        );
        tokens.revoke(&admin, info.id).await.unwrap();
        assert!(
            tokens
                .authenticate("dave@example.com", token.expose())
                .await
                .unwrap()
                .is_none()
        );

        // Audit rows name the token but never carry it or its digest.
        let events = t.store.audit().after(0, 100).await.unwrap();
        let text = serde_json::to_string(&events).unwrap();
        assert!(!text.contains(token.expose()) && !text.contains(&token_sha256(token.expose())));
        assert!(events.iter().any(|e| e.action == "token.revoke"));
    })
    .await;
}

#[tokio::test]
async fn oidc_sign_ins_create_then_follow_the_provider() {
    common::both(|t| async move {
        let users = t.store.users();
        let oidc = gatehouse_store::Actor::system("oidc");
        let login = |email: &str, groups: &[&str], role: Role| OidcLogin {
            subject: OidcSubject {
                issuer: "https://sso.example.com".into(),
                subject: "00u1".into(),
            },
            email: email.into(),
            display_name: "Fay".into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            role,
        };
        let first = users
            .sync_oidc(&oidc, login("fay@example.com", &["dev"], Role::User))
            .await
            .unwrap();
        assert_eq!(
            (first.groups.clone(), first.role),
            (vec!["dev".to_string()], Role::User)
        );
        let same = users
            .sync_oidc(&oidc, login("fay@example.com", &["dev"], Role::User))
            .await
            .unwrap();
        assert_eq!(same, first, "an unchanged sign-in writes nothing");
        let moved = users
            .sync_oidc(
                &oidc,
                login("fay@corp.example.com", &["dba", "dev"], Role::Approver),
            )
            .await
            .unwrap();
        assert_eq!(moved.id, first.id);
        assert_eq!(
            (moved.email.as_str(), moved.groups.clone(), moved.role),
            (
                "fay@corp.example.com",
                vec!["dba".to_string(), "dev".to_string()],
                Role::Approver
            )
        );
        let actions: Vec<String> = t
            .store
            .audit()
            .after(0, 100)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.action)
            .collect();
        assert_eq!(actions, ["user.create", "user.oidc_sync"]);

        // Another subject cannot take over a local account by its email.
        users
            .create(&admin_actor(), NewUser::new("gus@example.com", Role::Admin))
            .await
            .unwrap();
        let mut takeover = login("gus@example.com", &[], Role::User);
        takeover.subject.subject = "00u2".into();
        assert!(matches!(
            users.sync_oidc(&oidc, takeover).await,
            Err(StoreError::Conflict { .. })
        ));
    })
    .await;
}

#[tokio::test]
async fn expired_tokens_stop_working() {
    common::both(|t| async move {
        let admin = admin_actor();
        let user = t
            .store
            .users()
            .create(&admin, NewUser::new("hal@example.com", Role::User))
            .await
            .unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64;
        let (info, token) = t
            .store
            .tokens()
            .create(&admin, user.id, "short", Some(now + 400))
            .await
            .unwrap();
        assert_eq!(info.expires_at, Some(now + 400));
        assert!(
            t.store
                .tokens()
                .authenticate("hal@example.com", token.expose())
                .await
                .unwrap()
                .is_some()
        );
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        assert!(
            t.store
                .tokens()
                .authenticate("hal@example.com", token.expose())
                .await
                .unwrap()
                .is_none()
        );
    })
    .await;
}

#[tokio::test]
async fn expired_tokens_are_deleted_after_the_cutoff_and_others_kept() {
    common::both(|t| async move {
        let admin = admin_actor();
        let user = t
            .store
            .users()
            .create(&admin, NewUser::new("ida@example.com", Role::User))
            .await
            .unwrap();
        let tokens = t.store.tokens();
        // Expiries must be in the future when created; the cutoffs below
        // play "later".
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64;
        let (first, second) = (now + 60_000, now + 120_000);
        for (name, expires_at) in [
            ("long-dead", Some(first)),
            ("just-dead", Some(second)),
            ("live", Some(i64::MAX)),
            ("forever", None),
        ] {
            tokens
                .create(&admin, user.id, name, expires_at)
                .await
                .unwrap();
        }
        let before = t.store.audit().latest_sequence().await.unwrap();
        // Expired before the cutoff: only the first.
        assert_eq!(tokens.delete_expired(second).await.unwrap(), 1);
        let names = |list: Vec<gatehouse_store::tokens::AccessToken>| {
            list.into_iter().map(|t| t.name).collect::<Vec<_>>()
        };
        assert_eq!(
            names(tokens.list(user.id).await.unwrap()),
            ["forever", "just-dead", "live"]
        );
        assert_eq!(tokens.delete_expired(second + 1).await.unwrap(), 1);
        assert_eq!(tokens.delete_expired(second + 1).await.unwrap(), 0);
        assert_eq!(
            names(tokens.list(user.id).await.unwrap()),
            ["forever", "live"]
        );
        // Housekeeping is audited by its caller (retention), once per run.
        assert_eq!(t.store.audit().latest_sequence().await.unwrap(), before);
    })
    .await;
}
