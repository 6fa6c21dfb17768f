//! OIDC: bearer JWTs verified against a local provider's JWKS (users
//! synced into the store, roles from groups), the CLI's token exchange,
//! and the browser login with its session cookie.

use crate::common::*;
use serde_json::json;

fn query_param(url: &str, name: &str) -> String {
    url.split_once('?')
        .unwrap()
        .1
        .split('&')
        .find_map(|pair| pair.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("{name} not in {url}"))
        .to_string()
}

fn set_cookies(answer: &Answer) -> Vec<String> {
    answer
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect()
}

fn cookie_value(cookies: &[String], name: &str) -> Option<String> {
    cookies.iter().find_map(|c| {
        c.strip_prefix(&format!("{name}="))
            .map(|rest| rest.split(';').next().unwrap().to_string())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bearer_jwts_sync_users_and_map_roles() {
    let (api, tokens) = Api::start_with(Options {
        oidc: true,
        ..Default::default()
    })
    .await;
    let idp = api.idp.as_ref().unwrap();
    let jwt = idp.token(json!({}));
    let me = api.send(Call::new("GET", "/api/whoami"), Some(&jwt)).await;
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(me.body["email"], "sso@example.com");
    assert_eq!(me.body["role"], "user");
    assert_eq!(me.body["auth"], "oidc");
    let user = api
        .store
        .users()
        .by_oidc(&idp.issuer, "sub-1")
        .await
        .unwrap()
        .expect("synced into the store");
    assert_eq!(user.groups, ["dev"]);
    // Same person, new groups: updated (admin by `gh-admins`), audited.
    let jwt = idp.token(json!({ "groups": ["gh-admins", "dev"] }));
    let me = api.send(Call::new("GET", "/api/whoami"), Some(&jwt)).await;
    assert_eq!(me.body["role"], "admin");
    assert_eq!(me.body["id"], user.id);
    let synced = api
        .req(
            &tokens,
            Who::Admin,
            "GET",
            "/api/audit?action=user.oidc_sync",
            None,
        )
        .await;
    assert_eq!(synced.body["items"].as_array().unwrap().len(), 1);
    // An `approver-` group makes an approver, who sees no connections.
    let jwt =
        idp.token(json!({ "sub": "sub-2", "email": "ap@example.com", "groups": ["approver-x"] }));
    let answer = api
        .send(Call::new("GET", "/api/connections"), Some(&jwt))
        .await;
    assert_eq!((answer.status.as_u16(), answer.code()), (403, "forbidden"));

    // Refused tokens: 401 with a generic message.
    let foreign = SigningKey::generate("k1");
    let mut claims = json!({ "iss": idp.issuer, "aud": CLIENT_ID, "sub": "x", "iat": now(), "exp": now() + 60,
                             "email": "x@example.com" });
    let bad = [
        foreign.sign(claims.clone()),
        idp.token(json!({ "exp": now() - 3600, "iat": now() - 7200 })),
        idp.token(json!({ "aud": "someone-else" })),
        idp.token(json!({ "iss": "http://127.0.0.1:1" })),
    ];
    for (i, token) in bad.iter().enumerate() {
        let answer = api.send(Call::new("GET", "/api/whoami"), Some(token)).await;
        assert_eq!(
            (answer.status.as_u16(), answer.code()),
            (401, "unauthenticated"),
            "token {i}"
        );
        assert_eq!(answer.body["error"]["message"], "invalid token");
    }
    // No verified email: cannot be a store user.
    claims["email_verified"] = json!(false);
    let unverified = idp.key.sign(claims);
    let answer = api
        .send(Call::new("GET", "/api/whoami"), Some(&unverified))
        .await;
    assert_eq!(answer.status, 401);
    assert!(answer.text.contains("email"), "{}", answer.text);
    api.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_exchanges_a_jwt_for_an_access_token() {
    let (api, _) = Api::start_with(Options {
        oidc: true,
        ..Default::default()
    })
    .await;
    let idp = api.idp.as_ref().unwrap();
    let jwt = idp.token(json!({ "sub": "cli-person", "email": "cli@example.com" }));
    let minted = api
        .send(Call::new("POST", "/api/auth/token"), Some(&jwt))
        .await;
    assert_eq!(minted.status, 201, "{}", minted.text);
    let token = minted.body["token"].as_str().unwrap().to_string();
    assert!(minted.body["name"].as_str().unwrap().starts_with("cli-"));
    assert_eq!(minted.body["email"], "cli@example.com");
    // 30 days from the request; the store stamps `created_at` a moment
    // after the expiry was computed.
    let lifetime =
        minted.body["expires_at"].as_i64().unwrap() - minted.body["created_at"].as_i64().unwrap();
    let thirty_days = 30 * 86_400_000;
    assert!(
        (thirty_days - 60_000..=thirty_days).contains(&lifetime),
        "{lifetime} ms"
    );
    let login = api.store.audit().after(0, 1000).await.unwrap();
    let login = login.iter().find(|e| e.action == "login").expect("audited");
    assert_eq!(login.actor.as_ref().unwrap().email, "cli@example.com");
    assert_eq!(
        login.attributes,
        [("method".to_string(), "oidc".to_string())]
    );
    let me = api
        .send(Call::new("GET", "/api/whoami"), Some(&token))
        .await;
    assert_eq!(me.body["email"], "cli@example.com");
    assert_eq!(me.body["auth"], "token");
    let named = api
        .send(
            Call::new("POST", "/api/auth/token")
                .json(json!({ "name": "laptop", "expires_in_secs": 60 })),
            Some(&jwt),
        )
        .await;
    assert_eq!(named.body["name"], "laptop");
    let too_long = api
        .send(
            Call::new("POST", "/api/auth/token").json(json!({ "expires_in_secs": 100_000_000 })),
            Some(&jwt),
        )
        .await;
    assert_eq!(too_long.code(), "invalid");
    // The CLI logs out by revoking its token.
    let out = api
        .send(Call::new("POST", "/auth/logout"), Some(&token))
        .await;
    assert_eq!(out.status, 204);
    let me = api
        .send(Call::new("GET", "/api/whoami"), Some(&token))
        .await;
    assert_eq!(me.status, 401);
    api.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_login_sets_a_session_cookie() {
    let (api, _) = Api::start_with(Options {
        oidc: true,
        ..Default::default()
    })
    .await;
    let idp = api.idp.as_ref().unwrap();
    let login = api
        .send(Call::new("GET", "/auth/login?return_to=/api/tokens"), None)
        .await;
    assert_eq!(login.status, 303, "{}", login.text);
    let location = login.headers["location"].to_str().unwrap().to_string();
    assert!(
        location.starts_with(&format!("{}/auth?", idp.issuer)),
        "{location}"
    );
    assert_eq!(query_param(&location, "code_challenge_method"), "S256");
    let state = query_param(&location, "state");
    let nonce = query_param(&location, "nonce");
    let cookies = set_cookies(&login);
    assert_eq!(
        cookie_value(&cookies, STATE_COOKIE).as_deref(),
        Some(state.as_str())
    );
    assert!(
        cookies
            .iter()
            .all(|c| c.contains("HttpOnly") && c.contains("SameSite=Lax"))
    );
    let browser = format!("{STATE_COOKIE}={state}; gh_return_to=/api/tokens");

    // A callback from another browser (no or another state cookie) fails.
    let stranger = api
        .send(
            Call::new("GET", format!("/auth/callback?code=c&state={state}"))
                .header("cookie", format!("{STATE_COOKIE}=other")),
            None,
        )
        .await;
    assert_eq!(
        (stranger.status.as_u16(), stranger.code()),
        (400, "login_failed")
    );

    idp.state.lock().unwrap().token_response = Some(json!({
        "access_token": "opaque-access-token",
        "token_type": "Bearer",
        "id_token": idp.token(json!({ "nonce": nonce, "sub": "web-1", "email": "web@example.com" })),
    }));
    let callback = api
        .send(
            Call::new("GET", format!("/auth/callback?code=the-code&state={state}"))
                .header("cookie", browser.clone()),
            None,
        )
        .await;
    assert_eq!(callback.status, 303, "{}", callback.text);
    assert_eq!(callback.headers["location"], "/api/tokens");
    let cookies = set_cookies(&callback);
    let session = cookie_value(&cookies, SESSION_COOKIE).expect("session cookie");
    assert!(session.starts_with("ghat_"));
    let session_cookie = cookies
        .iter()
        .find(|c| c.starts_with(SESSION_COOKIE))
        .unwrap();
    assert!(session_cookie.contains("HttpOnly") && session_cookie.contains("Max-Age=43200"));
    assert!(
        !session_cookie.contains("Secure"),
        "the test's public URL is plain http"
    );
    // The state is single use.
    let replay = api
        .send(
            Call::new("GET", format!("/auth/callback?code=the-code&state={state}"))
                .header("cookie", browser),
            None,
        )
        .await;
    assert_eq!(replay.code(), "login_failed");
    // Every sign-in is audited: the success with who, the failures without.
    let logins: Vec<_> = api
        .store
        .audit()
        .after(0, 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.category == "authentication" && e.action == "login")
        .collect();
    let outcomes: Vec<_> = logins.iter().map(|e| e.outcome.as_str()).collect();
    assert_eq!(outcomes, ["failure", "success", "failure"]);
    assert_eq!(logins[1].actor.as_ref().unwrap().email, "web@example.com");
    assert!(logins[0].actor.is_none() && logins[0].reason.is_some());
    assert!(
        logins
            .iter()
            .all(|e| e.attributes == [("method".to_string(), "oidc".to_string())])
    );

    let with_cookie = |call: Call| call.header("cookie", format!("{SESSION_COOKIE}={session}"));
    let me = api
        .send(with_cookie(Call::new("GET", "/api/whoami")), None)
        .await;
    assert_eq!(me.body["email"], "web@example.com");
    assert_eq!(me.body["auth"], "session");
    // Changes with the cookie alone need X-Requested-With.
    let body = json!({ "name": "from-browser" });
    let csrf = api
        .send(
            with_cookie(Call::new("POST", "/api/tokens").json(body.clone())),
            None,
        )
        .await;
    assert_eq!((csrf.status.as_u16(), csrf.code()), (403, "forbidden"));
    let ok = api
        .send(
            with_cookie(Call::new("POST", "/api/tokens").json(body))
                .header("x-requested-with", "fetch"),
            None,
        )
        .await;
    assert_eq!(ok.status, 201);
    // The session is a token named web-…, ended by logout.
    let listed = api
        .send(with_cookie(Call::new("GET", "/api/tokens")), None)
        .await;
    assert!(listed.text.contains("\"web-"));
    let out = api
        .send(
            with_cookie(Call::new("POST", "/auth/logout")).header("x-requested-with", "fetch"),
            None,
        )
        .await;
    assert_eq!(out.status, 204);
    assert!(
        set_cookies(&out)
            .iter()
            .any(|c| c.starts_with(&format!("{SESSION_COOKIE}=;")) && c.contains("Max-Age=0"))
    );
    let me = api
        .send(with_cookie(Call::new("GET", "/api/whoami")), None)
        .await;
    assert_eq!(me.status, 401);
    api.cleanup().await;
}

#[tokio::test]
async fn without_oidc_only_local_tokens() {
    let (api, _) = Api::start().await;
    let login = api.send(Call::new("GET", "/auth/login"), None).await;
    assert_eq!(
        (login.status.as_u16(), login.code()),
        (404, "oidc_not_configured")
    );
    let idp = LocalIdp::start().await;
    let jwt = idp.token(json!({}));
    let me = api.send(Call::new("GET", "/api/whoami"), Some(&jwt)).await;
    assert_eq!(me.status, 401);
    api.cleanup().await;
}
