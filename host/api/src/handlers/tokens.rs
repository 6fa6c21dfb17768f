//! Access tokens: the `ghat_…` secrets clients present to the API
//! (`Authorization: Bearer`) and to the PostgreSQL front door (as the
//! password). A token is shown once, in the response that creates it; the
//! store keeps only its SHA-256, and listings show the display prefix.
//!
//! Scope: users and approvers manage their own tokens; admins anyone's
//! (`user` in the body or query, id or email; default themselves). A
//! token outside the caller's scope is a 404.

use super::{created, find_user, no_content, not_found_as};
use crate::authn::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Body, Path, Query};
use crate::state::{App, AppState};
use axum::Json;
use axum::extract::State;
use axum::response::Response;
use gatehouse_store::tokens::AccessToken;
use gatehouse_store::users::User;
use serde::{Deserialize, Serialize};

/// A new token: the secret (shown this once) and its description.
#[derive(Serialize)]
pub struct NewToken {
    /// `ghat_…`: use it as the bearer token or the PostgreSQL password.
    pub token: String,
    /// The owner's email (the PostgreSQL user name).
    pub email: String,
    #[serde(flatten)]
    pub info: AccessToken,
}

/// The user a token request is about: the caller, or (admins only)
/// someone else.
async fn subject(app: &App, caller: &Caller, user: Option<&str>) -> ApiResult<User> {
    let me = caller.user()?;
    let Some(key) = user else {
        return Ok(me.clone());
    };
    let target = find_user(app, key).await?;
    if target.id != me.id && !caller.sees_all() {
        return Err(ApiError::forbidden(
            "only admins manage other people's tokens",
        ));
    }
    Ok(target)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Whose tokens (admins); default the caller's.
    pub user: Option<String>,
}

pub async fn list(
    State(app): State<AppState>,
    caller: Caller,
    Query(query): Query<ListQuery>,
) -> ApiResult<Json<Vec<AccessToken>>> {
    let user = subject(&app, &caller, query.user.as_deref()).await?;
    Ok(Json(app.store().tokens().list(user.id).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    /// Unique per user.
    pub name: String,
    /// Unix ms; or give `expires_in_secs`; neither: never expires.
    #[serde(default)]
    pub expires_at: Option<i64>,
    #[serde(default)]
    pub expires_in_secs: Option<u64>,
    /// For whom (admins); default the caller.
    #[serde(default)]
    pub user: Option<String>,
}

/// Creates a token for `user` and shapes the one-time answer.
pub async fn mint(
    app: &App,
    caller: &Caller,
    user: &User,
    name: &str,
    expires_at: Option<i64>,
) -> ApiResult<NewToken> {
    let (info, secret) = app
        .store()
        .tokens()
        .create(&caller.actor()?, user.id, name, expires_at)
        .await?;
    Ok(NewToken {
        token: secret.expose().to_string(),
        email: user.email.clone(),
        info,
    })
}

pub async fn create(
    State(app): State<AppState>,
    caller: Caller,
    Body(body): Body<CreateToken>,
) -> ApiResult<Response> {
    let user = subject(&app, &caller, body.user.as_deref()).await?;
    let expires_at = match (body.expires_at, body.expires_in_secs) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "give expires_at or expires_in_secs, not both",
            ));
        }
        (Some(at), None) => Some(at),
        (None, Some(secs)) => Some(
            super::now_ms()
                .saturating_add(i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX)),
        ),
        (None, None) => None,
    };
    Ok(created(
        mint(&app, &caller, &user, &body.name, expires_at).await?,
    ))
}

pub async fn revoke(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<Response> {
    let what = format!("token {id}");
    let tokens = app.store().tokens();
    let token = tokens.get(id).await.map_err(|e| not_found_as(e, &what))?;
    if !caller.sees_all() && token.user_id != caller.user()?.id {
        return Err(ApiError::not_found(what));
    }
    tokens.revoke(&caller.actor()?, id).await?;
    Ok(no_content())
}
