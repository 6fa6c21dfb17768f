//! Against a real OpenID Provider: `oidc-provider` from npm
//! (tests/oidc/provider.mjs), started per test on a free port. Logins run
//! the whole authorization code + PKCE flow over HTTP, with a headless
//! "browser" following the provider's redirects; access tokens are the
//! provider's JWT access tokens for the `gatehouse-api` audience.

mod common;

use common::{Browser, Provider};
use gatehouse_oidc::{
    AuthorizeOptions, CallbackParams, ClientAuthMethod, DefaultRole, LoginError, OidcClient,
    OidcConfig, PendingLogins, Role, RoleMapping, SecretRef, Verifier, VerifyError,
};
use std::time::{Duration, SystemTime};

const WEB_CALLBACK: &str = "http://127.0.0.1:9/auth/callback";

fn roles() -> RoleMapping {
    RoleMapping {
        admin_groups: vec!["gatehouse-admins".into()],
        ..RoleMapping::default()
    }
}

/// A secret file for a confidential client, one per call (tests run in
/// parallel with different secrets for the same client).
fn secret_file(name: &str, value: &str) -> SecretRef {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let path =
        std::env::temp_dir().join(format!("gatehouse-oidc-{}-{n}-{name}", std::process::id()));
    std::fs::write(&path, format!("{value}\n")).unwrap();
    SecretRef::File(path)
}

fn web_config(provider: &Provider, client: &str, secret: &str) -> OidcConfig {
    let mut config = OidcConfig::new(provider.issuer.clone(), client);
    config.client_secret = Some(secret_file(client, secret));
    config.redirect_urls = vec![WEB_CALLBACK.into()];
    config.scopes = vec![
        "openid".into(),
        "email".into(),
        "profile".into(),
        "groups".into(),
    ];
    config.roles = roles();
    config
}

fn cli_config(provider: &Provider) -> OidcConfig {
    let mut config = OidcConfig::new(provider.issuer.clone(), "gatehouse-cli");
    config.scopes = vec!["openid".into(), "email".into(), "groups".into()];
    config.roles = roles();
    config
}

fn hint(user: &str) -> AuthorizeOptions {
    AuthorizeOptions {
        login_hint: Some(user.into()),
        ..AuthorizeOptions::default()
    }
}

/// What the API's `/auth/login` + the user's browser do: returns the
/// callback query and the browser's state cookie.
async fn browser_login(
    client: &OidcClient,
    logins: &PendingLogins,
    user: &str,
) -> (CallbackParams, String) {
    let (request, pending) = client.begin_login(WEB_CALLBACK, &hint(user)).unwrap();
    assert!(request.url.contains("code_challenge_method=S256"));
    assert!(!request.url.contains("code_verifier"));
    logins.insert(pending).unwrap();
    let landed = Browser::new().follow(&request.url, WEB_CALLBACK).await;
    let query = url::Url::parse(&landed)
        .unwrap()
        .query()
        .unwrap()
        .to_string();
    (CallbackParams::from_query(&query), request.state)
}

#[tokio::test]
async fn browser_login_with_client_secret_basic() {
    let provider = Provider::start();
    let client = OidcClient::discover(web_config(&provider, "gatehouse-web", "web-secret"))
        .await
        .unwrap();
    assert_eq!(client.auth_method(), ClientAuthMethod::ClientSecretBasic);
    let logins = PendingLogins::default();
    let (callback, cookie) = browser_login(&client, &logins, "alice").await;
    assert_eq!(callback.iss.as_deref(), Some(provider.issuer.as_str()));

    let outcome = client
        .handle_callback(&logins, &callback, &cookie)
        .await
        .unwrap();
    let id = &outcome.identity;
    assert_eq!(id.subject, "alice");
    assert_eq!(id.email.as_deref(), Some("alice@example.com"));
    assert_eq!(id.name.as_deref(), Some("Alice"));
    assert_eq!(id.groups, ["gatehouse-admins", "engineering"]);
    assert_eq!(id.role, Role::Admin);
    assert!(id.expires_at > SystemTime::now());
    assert!(logins.is_empty());
    assert_eq!(outcome.tokens.token_type, "Bearer");

    // The callback cannot be replayed: its state is used up.
    let again = client.handle_callback(&logins, &callback, &cookie).await;
    assert!(matches!(again, Err(LoginError::UnknownState)), "{again:?}");

    // The ID token also works as a bearer for the client's own audience.
    let bearer = client
        .verifier()
        .verify(&outcome.tokens.id_token)
        .await
        .unwrap();
    assert_eq!(bearer.subject, "alice");
}

#[tokio::test]
async fn browser_login_with_client_secret_post_maps_an_approver() {
    let provider = Provider::start();
    let mut config = web_config(&provider, "gatehouse-web-post", "web-post-secret");
    config.token_endpoint_auth = Some(ClientAuthMethod::ClientSecretPost);
    let client = OidcClient::discover(config).await.unwrap();
    let logins = PendingLogins::default();
    let (callback, cookie) = browser_login(&client, &logins, "bob").await;
    let outcome = client
        .handle_callback(&logins, &callback, &cookie)
        .await
        .unwrap();
    assert_eq!(outcome.identity.groups, ["approver-prod"]);
    assert_eq!(outcome.identity.role, Role::Approver);
}

#[tokio::test]
async fn a_wrong_client_secret_is_refused_by_the_token_endpoint() {
    let provider = Provider::start();
    let client = OidcClient::discover(web_config(&provider, "gatehouse-web", "not-the-secret"))
        .await
        .unwrap();
    let logins = PendingLogins::default();
    let (callback, cookie) = browser_login(&client, &logins, "alice").await;
    let err = client
        .handle_callback(&logins, &callback, &cookie)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, LoginError::TokenEndpoint { status: 401, error, .. } if error == "invalid_client"),
        "{err:?}"
    );
    assert!(!err.to_string().contains("not-the-secret"));
}

#[tokio::test]
async fn the_callback_must_come_from_the_browser_that_started_the_login() {
    let provider = Provider::start();
    let client = OidcClient::discover(web_config(&provider, "gatehouse-web", "web-secret"))
        .await
        .unwrap();
    let logins = PendingLogins::default();
    // Login CSRF: the attacker's callback in the victim's browser, whose
    // cookie holds another (or no) state.
    let (callback, _attacker_cookie) = browser_login(&client, &logins, "alice").await;
    let err = client
        .handle_callback(&logins, &callback, "the-victims-own-state")
        .await
        .unwrap_err();
    assert!(matches!(err, LoginError::StateMismatch), "{err:?}");
    // Refused before the store was touched.
    assert_eq!(logins.len(), 1);
}

#[tokio::test]
async fn a_code_from_another_login_fails_pkce_at_the_provider() {
    // Code injection: a code obtained in login A, presented with the state
    // and PKCE verifier of login B. The provider refuses the verifier.
    let provider = Provider::start();
    let client = OidcClient::discover(web_config(&provider, "gatehouse-web", "web-secret"))
        .await
        .unwrap();
    let (request_a, _pending_a) = client.begin_login(WEB_CALLBACK, &hint("alice")).unwrap();
    let (request_b, pending_b) = client.begin_login(WEB_CALLBACK, &hint("alice")).unwrap();
    let landed = Browser::new().follow(&request_a.url, WEB_CALLBACK).await;
    let mut callback =
        CallbackParams::from_query(url::Url::parse(&landed).unwrap().query().unwrap());
    callback.state = Some(request_b.state.clone());
    let err = client
        .complete_login(pending_b, &callback)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, LoginError::TokenEndpoint { error, .. } if error == "invalid_grant"),
        "{err:?}"
    );
}

#[tokio::test]
async fn the_providers_refusal_is_reported() {
    let provider = Provider::start();
    let client = OidcClient::discover(web_config(&provider, "gatehouse-web", "web-secret"))
        .await
        .unwrap();
    let logins = PendingLogins::default();
    let (callback, cookie) = browser_login(&client, &logins, "deny").await;
    let err = client
        .handle_callback(&logins, &callback, &cookie)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, LoginError::Provider { error, .. } if error == "access_denied"),
        "{err:?}"
    );
}

#[tokio::test]
async fn groups_mapping_to_no_role_refuse_the_login() {
    let provider = Provider::start();
    let mut config = web_config(&provider, "gatehouse-web", "web-secret");
    config.roles.default_role = DefaultRole::None;
    let client = OidcClient::discover(config).await.unwrap();
    let logins = PendingLogins::default();
    let (callback, cookie) = browser_login(&client, &logins, "dave").await;
    let err = client
        .handle_callback(&logins, &callback, &cookie)
        .await
        .unwrap_err();
    assert!(
        matches!(err, LoginError::IdToken(VerifyError::NoRole)),
        "{err:?}"
    );
}

#[tokio::test]
async fn nested_groups_claim_and_unverified_email() {
    let provider = Provider::start();
    let mut config = web_config(&provider, "gatehouse-web", "web-secret");
    config.groups_claim = "realm_access.roles".into();
    let client = OidcClient::discover(config).await.unwrap();
    let logins = PendingLogins::default();
    let (callback, cookie) = browser_login(&client, &logins, "bob").await;
    let bob = client
        .handle_callback(&logins, &callback, &cookie)
        .await
        .unwrap();
    assert_eq!(bob.identity.groups, ["approver-prod"]);
    assert_eq!(bob.identity.role, Role::Approver);
    // dave's provider says email_verified: false.
    let (callback, cookie) = browser_login(&client, &logins, "dave").await;
    let dave = client
        .handle_callback(&logins, &callback, &cookie)
        .await
        .unwrap();
    assert_eq!(dave.identity.email, None);
    assert_eq!(dave.identity.role, Role::User);
}

/// The CLI: public client, loopback redirect, then the JWT access token as a
/// bearer for Gatehouse's API.
#[tokio::test]
async fn cli_login_over_loopback_then_bearer_access_token() {
    let provider = Provider::start();
    let client = OidcClient::discover(cli_config(&provider)).await.unwrap();
    assert_eq!(client.auth_method(), ClientAuthMethod::None);

    let browser = tokio::sync::oneshot::channel::<tokio::task::JoinHandle<()>>();
    let (tx, rx) = browser;
    let outcome = client
        .login_with_loopback(&hint("carol"), Duration::from_secs(30), |url| {
            // What `gatehouse login` does: show the URL, open a browser.
            let redirect_uri = url::Url::parse(url)
                .unwrap()
                .query_pairs()
                .find(|(k, _)| k == "redirect_uri")
                .map(|(_, v)| v.into_owned())
                .unwrap();
            assert!(redirect_uri.starts_with("http://127.0.0.1:"));
            let url = url.to_string();
            let task = tokio::spawn(async move {
                let mut browser = Browser::new();
                let callback = browser.follow(&url, &redirect_uri).await;
                // The browser lands on the CLI's listener.
                assert_eq!(browser.get_status(&callback).await, 200);
            });
            tx.send(task).unwrap();
        })
        .await
        .unwrap();
    rx.await.unwrap().await.unwrap();
    assert_eq!(outcome.identity.subject, "carol");
    assert_eq!(outcome.identity.role, Role::User);

    // The access token is a JWT (ES256, typ at+jwt) for `gatehouse-api`.
    let mut api = OidcConfig::new(provider.issuer.clone(), "gatehouse-web");
    api.audience = vec!["gatehouse-api".into()];
    api.roles = roles();
    let verifier = Verifier::discover(&api).await.unwrap();
    let id = verifier
        .verify(&format!("Bearer {}", outcome.tokens.access_token))
        .await
        .unwrap();
    assert_eq!(id.subject, "carol");
    assert_eq!(id.email.as_deref(), Some("carol@example.com"));
    assert_eq!(id.groups, ["engineering"]);
    assert_eq!(id.role, Role::User);

    // The same token, refused for what is wrong with it:
    let later = SystemTime::now() + Duration::from_secs(3600);
    assert_eq!(
        verifier
            .verify_at(&outcome.tokens.access_token, later)
            .await
            .unwrap_err(),
        VerifyError::Expired
    );
    let mut elsewhere = api.clone();
    elsewhere.audience = vec!["another-api".into()];
    let other_api = Verifier::discover(&elsewhere).await.unwrap();
    assert_eq!(
        other_api
            .verify(&outcome.tokens.access_token)
            .await
            .unwrap_err(),
        VerifyError::WrongAudience
    );
    // The ID token is for the CLI client, not the API.
    assert_eq!(
        verifier.verify(&outcome.tokens.id_token).await.unwrap_err(),
        VerifyError::WrongAudience
    );

    // Another provider (same key ids, different keys) did not sign it.
    let impostor = Provider::start();
    let mut impostor_api = api.clone();
    impostor_api.issuer = impostor.issuer.clone();
    let impostor_verifier = Verifier::discover(&impostor_api).await.unwrap();
    assert_eq!(
        impostor_verifier
            .verify(&outcome.tokens.access_token)
            .await
            .unwrap_err(),
        VerifyError::BadSignature
    );
}
