//! Who is calling, and the middleware that applies the authorization table
//! before any handler runs.
//!
//! Credentials, first present wins (a present but bad credential is a 401;
//! it never falls back to another method or to anonymous):
//!
//! 1. `Authorization: Bearer ghat_…` — a store access token
//!    ([`gatehouse_store::tokens::Tokens::authenticate_token`]).
//! 2. `Authorization: Bearer <JWT>` — an OIDC access or ID token verified
//!    against the provider's JWKS ([`gatehouse_oidc::Verifier`]); the
//!    person is synced into the store (created on first use, updated when
//!    the token's email, name, groups or role differ) so their sessions,
//!    reviews and audit rows carry one stable user id.
//! 3. `Authorization: Basic base64(email:ghat_…)` — the same token with the
//!    email checked too (what `curl -u` sends; the PostgreSQL front door's
//!    user + password).
//! 4. Cookie `gh_session=ghat_…` — the token a browser login minted. Unsafe
//!    methods (`POST`, `PUT`, `PATCH`, `DELETE`) authenticated by the
//!    cookie alone need the header `X-Requested-With` (any value): a
//!    cross-site form cannot send it, a cross-site script cannot without a
//!    CORS preflight this API never grants (and the cookie is
//!    `SameSite=Lax` besides).
//!
//! A disabled user, an expired token and an unknown token all answer the
//! same 401. Tokens are never logged; failures log the method and the
//! reason, not the credential.

use crate::authz::{self, Access, Capability};
use crate::error::{ApiError, ApiResult};
use crate::state::{App, AppState};
use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use gatehouse_oidc::VerifiedIdentity;
use gatehouse_store::users::{OidcLogin, OidcSubject, User};
use gatehouse_store::{Actor, Role};
use std::net::SocketAddr;
use std::sync::Arc;

/// Cookie holding a browser session's access token.
pub const SESSION_COOKIE: &str = "gh_session";
/// Cookie binding a browser login's `state` to the browser.
pub const STATE_COOKIE: &str = "gh_oidc_state";
/// Header that unsafe cookie-authenticated requests must carry.
pub const CSRF_HEADER: &str = "x-requested-with";

/// How the caller authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthVia {
    /// A store access token (bearer or basic).
    Token { token_id: i64 },
    /// The browser session cookie (a store access token).
    Cookie { token_id: i64 },
    /// An OIDC JWT.
    Oidc,
}

impl AuthVia {
    pub fn as_str(&self) -> &'static str {
        match self {
            AuthVia::Token { .. } => "token",
            AuthVia::Cookie { .. } => "session",
            AuthVia::Oidc => "oidc",
        }
    }
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user: User,
    pub via: AuthVia,
}

/// What a handler knows about its caller, put in the request's extensions
/// by [`guard`].
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Option<Arc<Principal>>,
    /// What the caller's role may do with the route's capability.
    pub access: Access,
    /// The peer's IP address, when the server provides `ConnectInfo`.
    pub client_address: Option<String>,
}

impl Caller {
    /// The authenticated user (every non-public route has one).
    pub fn user(&self) -> ApiResult<&User> {
        self.principal
            .as_deref()
            .map(|p| &p.user)
            .ok_or_else(|| ApiError::unauthenticated("sign in first"))
    }

    /// Whether the caller sees everything (not just their own).
    pub fn sees_all(&self) -> bool {
        self.access == Access::All
    }

    /// The author of a change, for the audit row.
    pub fn actor(&self) -> ApiResult<Actor> {
        let actor = Actor::new(self.user()?.identity());
        Ok(match &self.client_address {
            Some(address) => actor.with_client_address(address.clone()),
            None => actor,
        })
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| ApiError::internal("route without the authorization guard"))
    }
}

/// The peer address of a request, if the server recorded it.
pub fn client_address(request: &Request) -> Option<String> {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip().to_string())
}

/// The middleware: looks the matched route up in [`authz::ROUTES`],
/// authenticates unless the route is public, applies the matrix, and hands
/// the [`Caller`] to the handler.
pub async fn guard(State(app): State<AppState>, mut request: Request, next: Next) -> Response {
    let Some(path) = request.extensions().get::<MatchedPath>().cloned() else {
        return next.run(request).await;
    };
    // A method the path does not have: let the router answer 405.
    let Some(route) = authz::route(request.method().as_str(), path.as_str()) else {
        return next.run(request).await;
    };
    let rule = authz::rule_of(route.capability);
    let client = client_address(&request);
    let caller = if rule.anonymous == Access::All {
        Caller {
            principal: None,
            access: Access::All,
            client_address: client,
        }
    } else {
        match authorize(&app, request.headers(), request.method(), route.capability).await {
            Ok((principal, access)) => Caller {
                principal: Some(Arc::new(principal)),
                access,
                client_address: client,
            },
            Err(error) => {
                tracing::debug!(
                    method = %request.method(),
                    route = path.as_str(),
                    code = error.code,
                    "request refused"
                );
                return error.into_response();
            }
        }
    };
    if let Some(principal) = &caller.principal {
        tracing::debug!(
            method = %request.method(),
            route = path.as_str(),
            user = %principal.user.email,
            via = principal.via.as_str(),
            "API request"
        );
    }
    request.extensions_mut().insert(caller);
    next.run(request).await
}

async fn authorize(
    app: &App,
    headers: &HeaderMap,
    method: &Method,
    capability: Capability,
) -> ApiResult<(Principal, Access)> {
    let principal = authenticate(app, headers)
        .await?
        .ok_or_else(|| ApiError::unauthenticated("authentication required"))?;
    let rule = authz::rule_of(capability);
    let access = rule.access(Some(principal.user.role));
    if access == Access::None {
        return Err(ApiError::forbidden(format!(
            "the {} role does not have {} ({})",
            principal.user.role.as_str(),
            rule.name,
            rule.description
        )));
    }
    let unsafe_method = !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    if unsafe_method
        && matches!(principal.via, AuthVia::Cookie { .. })
        && !headers.contains_key(CSRF_HEADER)
    {
        return Err(ApiError::forbidden(
            "changes made with the session cookie need the X-Requested-With header",
        ));
    }
    Ok((principal, access))
}

/// The caller's credentials, checked. `Ok(None)`: none were presented.
pub async fn authenticate(app: &App, headers: &HeaderMap) -> ApiResult<Option<Principal>> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let value = value
            .to_str()
            .map_err(|_| ApiError::unauthenticated("unreadable Authorization header"))?;
        let (scheme, credential) = value
            .trim()
            .split_once(' ')
            .ok_or_else(|| ApiError::unauthenticated("Authorization needs a scheme"))?;
        let credential = credential.trim();
        return if scheme.eq_ignore_ascii_case("bearer") {
            if credential.starts_with(gatehouse_store::tokens::TOKEN_PREFIX) {
                local_token(app, credential, false).await.map(Some)
            } else {
                oidc_bearer(app, credential).await.map(Some)
            }
        } else if scheme.eq_ignore_ascii_case("basic") {
            basic(app, credential).await.map(Some)
        } else {
            Err(ApiError::unauthenticated(
                "unsupported Authorization scheme (use Bearer or Basic)",
            ))
        };
    }
    if let Some(token) = cookie(headers, SESSION_COOKIE) {
        return local_token(app, &token, true).await.map(Some);
    }
    Ok(None)
}

async fn local_token(app: &App, token: &str, cookie: bool) -> ApiResult<Principal> {
    match app.store().tokens().authenticate_token(token).await? {
        Some((stored, user)) => Ok(Principal {
            user,
            via: if cookie {
                AuthVia::Cookie {
                    token_id: stored.id,
                }
            } else {
                AuthVia::Token {
                    token_id: stored.id,
                }
            },
        }),
        None if cookie => Err(ApiError::unauthenticated(
            "the browser session has ended; sign in again",
        )),
        None => Err(ApiError::unauthenticated(
            "invalid, expired or revoked access token",
        )),
    }
}

async fn basic(app: &App, credential: &str) -> ApiResult<Principal> {
    let bad = || ApiError::unauthenticated("invalid Basic credentials");
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(credential)
        .map_err(|_| bad())?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
    let (email, token) = decoded.split_once(':').ok_or_else(bad)?;
    let (stored, user) = app
        .store()
        .tokens()
        .authenticate_token(token)
        .await?
        .ok_or_else(bad)?;
    if user.email != email.trim().to_lowercase() {
        return Err(bad());
    }
    Ok(Principal {
        user,
        via: AuthVia::Token {
            token_id: stored.id,
        },
    })
}

async fn oidc_bearer(app: &App, token: &str) -> ApiResult<Principal> {
    let Some(oidc) = &app.api.oidc else {
        return Err(ApiError::unauthenticated(
            "not a Gatehouse access token, and OIDC bearer tokens are not configured",
        ));
    };
    let identity = oidc.verifier().verify(token).await.map_err(|e| {
        if e.is_unavailable() {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "oidc_unavailable",
                "the identity provider's keys are unavailable; try again later",
            )
        } else {
            ApiError::unauthenticated("invalid token")
        }
    })?;
    let user = sync_user(app, &identity, None).await?;
    Ok(Principal {
        user,
        via: AuthVia::Oidc,
    })
}

/// The store role of an OIDC role.
fn store_role(role: gatehouse_oidc::Role) -> Role {
    match role {
        gatehouse_oidc::Role::Admin => Role::Admin,
        gatehouse_oidc::Role::User => Role::User,
        gatehouse_oidc::Role::Approver => Role::Approver,
    }
}

/// The store user of a verified OIDC identity, created or brought up to
/// date (an audited change only when something differs). Refuses
/// identities without a verified email and disabled users.
pub async fn sync_user(
    app: &App,
    identity: &VerifiedIdentity,
    client_address: Option<&str>,
) -> ApiResult<User> {
    let email = identity.email.as_deref().ok_or_else(|| {
        ApiError::unauthenticated("the identity provider gave no verified email for this person")
    })?;
    let mut groups = identity.groups.clone();
    groups.sort();
    groups.dedup();
    let role = store_role(identity.role);
    let name = identity.name.clone().unwrap_or_default();
    let users = app.store().users();
    let current = users.by_oidc(&identity.issuer, &identity.subject).await?;
    let up_to_date = current.as_ref().is_some_and(|u| {
        u.email == email.trim().to_lowercase()
            && u.role == role
            && u.groups == groups
            && u.display_name == name
    });
    let user = match current {
        Some(user) if up_to_date => user,
        _ => {
            let mut actor = Actor::system("oidc");
            if let Some(address) = client_address {
                actor = actor.with_client_address(address);
            }
            let login = OidcLogin {
                subject: OidcSubject {
                    issuer: identity.issuer.clone(),
                    subject: identity.subject.clone(),
                },
                email: email.to_string(),
                display_name: name,
                groups,
                role,
            };
            users.sync_oidc(&actor, login).await?
        }
    };
    if user.disabled {
        return Err(ApiError::unauthenticated("this account is disabled"));
    }
    Ok(user)
}

/// The value of cookie `name`, if sent.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim_matches('"').to_string())
}
