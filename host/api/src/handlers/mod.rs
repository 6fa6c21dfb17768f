//! One module per resource. Handlers get a [`Caller`] the guard already
//! authorized for the route's capability; they narrow `Own` scopes and map
//! objects outside them to 404 (see `authz.rs`). Helpers shared by several
//! modules live here.

pub mod audit;
pub mod auth;
pub mod bindings;
pub mod connections;
pub mod exec;
pub mod groups;
pub mod openapi;
pub mod plugins;
pub mod resources;
pub mod reviews;
pub mod sessions;
pub mod tokens;
pub mod users;
pub mod whoami;

use crate::access;
use crate::authn::Caller;
use crate::error::{ApiError, ApiResult};
use crate::state::App;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use gatehouse_store::connections::Connection;
use gatehouse_store::users::User;
use gatehouse_store::{PageRequest, StoreError};
use serde::{Deserialize, Deserializer, Serialize};

/// Default page size of list routes.
pub const DEFAULT_LIMIT: u32 = 50;

/// `limit` and `next` query parameters as a store page request.
pub fn page(limit: Option<u32>, next: Option<String>) -> PageRequest {
    PageRequest {
        limit: limit.unwrap_or(DEFAULT_LIMIT),
        cursor: next.filter(|n| !n.is_empty()),
    }
}

/// `201 Created` with a JSON body.
pub fn created<T: Serialize>(value: T) -> Response {
    (StatusCode::CREATED, Json(value)).into_response()
}

/// `204 No Content`.
pub fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// For PATCH fields that can be cleared: absent → `None` (keep),
/// `null` → `Some(None)` (clear), a value → `Some(Some(v))`.
pub fn double_option<'de, T, D>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// A store `NotFound` as a 404 naming `what`; other errors as they are.
pub fn not_found_as(error: StoreError, what: impl std::fmt::Display) -> ApiError {
    match error {
        StoreError::NotFound { .. } => ApiError::not_found(what),
        other => other.into(),
    }
}

/// The connection `name` as the caller may see it: a user asking for a
/// connection they may not access gets the same 404 as for one that does
/// not exist.
pub async fn visible_connection(app: &App, caller: &Caller, name: &str) -> ApiResult<Connection> {
    let what = format!("connection {name}");
    let connection = app
        .store()
        .connections()
        .by_name(name)
        .await
        .map_err(|e| not_found_as(e, &what))?;
    if !caller.sees_all() && !access::may_access(app.store(), caller.user()?, &connection).await? {
        return Err(ApiError::not_found(what));
    }
    Ok(connection)
}

/// A user named by id (all digits) or email.
pub async fn find_user(app: &App, key: &str) -> ApiResult<User> {
    let users = app.store().users();
    let found = match key.parse::<i64>() {
        Ok(id) => users.get(id).await,
        Err(_) => users.by_email(key).await,
    };
    found.map_err(|e| not_found_as(e, format!("user {key}")))
}

/// Random lower-case hex (names of minted tokens).
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).expect("the operating system's random source");
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// Unix milliseconds now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
