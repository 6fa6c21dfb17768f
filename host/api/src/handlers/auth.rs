//! Signing in: the browser OIDC flow, logout, and minting a token for the
//! CLI.
//!
//! Browser (`GET /auth/login` → provider → `GET /auth/callback`):
//! authorization code + PKCE with state and nonce
//! ([`gatehouse_oidc::OidcClient`]); the pending login stays in memory
//! (single use, expiring) and its `state` is bound to the browser by the
//! `gh_oidc_state` cookie. On success the person is synced into the store
//! (created on first sign-in; email, name, groups and role follow the
//! provider) and gets a **store access token** valid for
//! `web_session_ttl` (12 h by default), set as the `gh_session` cookie
//! (`HttpOnly`, `SameSite=Lax`, `Secure` when the public URL is https).
//! The browser is then redirected to `return_to` (a local path given to
//! `/auth/login`) or `/api/whoami`. The session is an ordinary token: it
//! shows in `GET /api/tokens` (named `web-…`), can be revoked, and ends
//! with `POST /auth/logout`.
//!
//! CLI (`gatehouse login`): the CLI runs the loopback PKCE flow itself
//! (`OidcClient::login_with_loopback`), then calls `POST /api/auth/token`
//! with `Authorization: Bearer <the provider's access or ID token>`; the
//! answer is a store access token (`ghat_…`, 30 days by default) it keeps
//! and uses for the API and as the PostgreSQL password. Any authenticated
//! caller may mint a token for themselves this way.
//!
//! Both record an `authentication/login` audit event (`method` `oidc` or
//! `token`), committed before the answer; a failed browser callback
//! records `login` with outcome `failure` (no actor: nobody was verified).

use super::tokens::{NewToken, mint};
use super::{created, random_hex};
use crate::authn::{AuthVia, Caller, SESSION_COOKIE, STATE_COOKIE, cookie, sync_user};
use crate::error::{ApiError, ApiResult};
use crate::extract::parse_json;
use crate::state::{App, AppState, MAX_EXCHANGED_TOKEN_TTL};
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gatehouse_oidc::{AuthorizeOptions, CallbackParams, LoginError, OidcClient};
use gatehouse_store::Actor;
use gatehouse_store::audit::{NewAuditEvent, Outcome};
use serde::Deserialize;
use std::time::Duration;

/// Cookie remembering where to send the browser after the login.
const RETURN_COOKIE: &str = "gh_return_to";
/// Where the browser lands after a login without `return_to`.
const DEFAULT_RETURN: &str = "/api/whoami";

fn oidc(app: &App) -> ApiResult<&OidcClient> {
    app.api.oidc.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "oidc_not_configured",
            "OIDC login is not configured on this gateway",
        )
    })
}

fn login_failed(error: LoginError) -> ApiError {
    // LoginError carries no token, code or verifier (gatehouse-oidc).
    tracing::info!(%error, "OIDC browser login failed");
    ApiError::new(StatusCode::BAD_REQUEST, "login_failed", error.to_string())
}

/// `authentication/login`, committed before the caller answers.
async fn audit_login(
    app: &App,
    actor: Option<&Actor>,
    client_address: Option<String>,
    method: &str,
    failure: Option<String>,
) -> ApiResult<()> {
    let outcome = if failure.is_some() {
        Outcome::Failure
    } else {
        Outcome::Success
    };
    let mut event = NewAuditEvent::new("authentication", "login", outcome);
    event.actor = actor.map(|a| a.identity.clone());
    event.client_address = client_address;
    event.reason = failure;
    event.attributes = vec![("method".into(), method.into())];
    app.store().audit().append(event).await?;
    Ok(())
}

fn set_cookie(app: &App, name: &str, value: &str, path: &str, max_age: Duration) -> HeaderValue {
    let secure = if app.secure_cookies { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path={path}; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
        max_age.as_secs()
    ))
    .expect("cookie values are token characters")
}

fn clear_cookie(app: &App, name: &str, path: &str) -> HeaderValue {
    set_cookie(app, name, "", path, Duration::ZERO)
}

/// A local path that is safe to redirect to and to keep in a cookie.
fn safe_return(path: &str) -> Option<&str> {
    let ok = path.starts_with('/')
        && !path.starts_with("//")
        && path.len() <= 512
        && path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/-_.~?=&%+".contains(&b));
    ok.then_some(path)
}

fn redirect(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    response.headers_mut().insert(
        header::LOCATION,
        HeaderValue::from_str(location).unwrap_or(HeaderValue::from_static("/")),
    );
    response
}

#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    /// A local path to land on afterwards (`/ui/sessions`).
    pub return_to: Option<String>,
}

pub async fn login(
    State(app): State<AppState>,
    crate::extract::Query(query): crate::extract::Query<LoginQuery>,
) -> ApiResult<Response> {
    let client = oidc(&app)?;
    let (request, pending) = client
        .begin_login(&app.redirect_url(), &AuthorizeOptions::default())
        .map_err(login_failed)?;
    app.logins.insert(pending).map_err(login_failed)?;
    let ttl = Duration::from_secs(client.config().login_timeout_secs);
    let mut response = redirect(&request.url);
    let headers = response.headers_mut();
    headers.append(
        header::SET_COOKIE,
        set_cookie(&app, STATE_COOKIE, &request.state, "/auth", ttl),
    );
    if let Some(path) = query.return_to.as_deref().and_then(safe_return) {
        headers.append(
            header::SET_COOKIE,
            set_cookie(&app, RETURN_COOKIE, path, "/auth", ttl),
        );
    }
    Ok(response)
}

pub async fn callback(
    State(app): State<AppState>,
    caller: Caller,
    request: Request,
) -> ApiResult<Response> {
    let client = oidc(&app)?;
    let params = CallbackParams::from_query(request.uri().query().unwrap_or(""));
    let browser_state = cookie(request.headers(), STATE_COOKIE).ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "login_failed",
            "no login in progress in this browser (cookies disabled, or the login took too long); start again",
        )
    })?;
    let client_address = caller.client_address.clone();
    let outcome = match client
        .handle_callback(&app.logins, &params, &browser_state)
        .await
    {
        Ok(outcome) => outcome,
        Err(error) => {
            let reason = Some(error.to_string());
            audit_login(&app, None, client_address, "oidc", reason).await?;
            return Err(login_failed(error));
        }
    };
    let user = sync_user(&app, &outcome.identity, client_address.as_deref()).await?;
    drop(outcome);

    let ttl = app.api.web_session_ttl;
    let expires_at = super::now_ms() + ttl.as_millis() as i64;
    let mut actor = Actor::new(user.identity());
    if let Some(address) = client_address {
        actor = actor.with_client_address(address);
    }
    let (_, secret) = app
        .store()
        .tokens()
        .create(
            &actor,
            user.id,
            &format!("web-{}", random_hex(6)),
            Some(expires_at),
        )
        .await?;
    audit_login(
        &app,
        Some(&actor),
        actor.client_address.clone(),
        "oidc",
        None,
    )
    .await?;
    tracing::info!(user = %user.email, "browser login");

    let return_to = cookie(request.headers(), RETURN_COOKIE);
    let target = return_to
        .as_deref()
        .and_then(safe_return)
        .unwrap_or(DEFAULT_RETURN);
    let mut response = redirect(target);
    let headers = response.headers_mut();
    headers.append(
        header::SET_COOKIE,
        set_cookie(&app, SESSION_COOKIE, secret.expose(), "/", ttl),
    );
    headers.append(
        header::SET_COOKIE,
        clear_cookie(&app, STATE_COOKIE, "/auth"),
    );
    headers.append(
        header::SET_COOKIE,
        clear_cookie(&app, RETURN_COOKIE, "/auth"),
    );
    Ok(response)
}

pub async fn logout(State(app): State<AppState>, caller: Caller) -> ApiResult<Response> {
    let token_id = caller.principal.as_ref().and_then(|p| match p.via {
        AuthVia::Token { token_id } | AuthVia::Cookie { token_id } => Some(token_id),
        AuthVia::Oidc => None,
    });
    if let Some(id) = token_id {
        app.store().tokens().revoke(&caller.actor()?, id).await?;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .append(header::SET_COOKIE, clear_cookie(&app, SESSION_COOKIE, "/"));
    Ok(response)
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExchangeRequest {
    /// Token name, unique per user (default `cli-<random>`).
    #[serde(default)]
    pub name: Option<String>,
    /// Lifetime (default 30 days, at most 366 days).
    #[serde(default)]
    pub expires_in_secs: Option<u64>,
}

pub async fn exchange(
    State(app): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> ApiResult<Response> {
    let request: ExchangeRequest = if body.iter().all(u8::is_ascii_whitespace) {
        ExchangeRequest::default()
    } else {
        parse_json(&body)?
    };
    let ttl = request
        .expires_in_secs
        .map(Duration::from_secs)
        .unwrap_or(app.api.cli_token_ttl);
    if ttl.is_zero() || ttl > MAX_EXCHANGED_TOKEN_TTL {
        return Err(ApiError::invalid(format!(
            "expires_in_secs must be 1..={}",
            MAX_EXCHANGED_TOKEN_TTL.as_secs()
        )));
    }
    let name = request
        .name
        .unwrap_or_else(|| format!("cli-{}", random_hex(4)));
    let user = caller.user()?.clone();
    let expires_at = super::now_ms() + ttl.as_millis() as i64;
    let token: NewToken = mint(&app, &caller, &user, &name, Some(expires_at)).await?;
    let method = match caller.principal.as_ref().map(|p| &p.via) {
        Some(AuthVia::Oidc) => "oidc",
        _ => "token",
    };
    audit_login(
        &app,
        Some(&caller.actor()?),
        caller.client_address.clone(),
        method,
        None,
    )
    .await?;
    Ok(created(token))
}
