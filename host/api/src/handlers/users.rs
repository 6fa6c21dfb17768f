//! Users (admins only). `{user}` in a path is a user's id or email.
//!
//! An admin cannot delete, disable or demote their own account through the
//! API (409): the last admin would otherwise lock everyone out. OIDC users
//! are kept up to date by their sign-ins (email, name, groups and role
//! follow the provider); an admin's edits to those fields last until the
//! next sign-in, except `disabled`, which sign-ins never change.

use super::{created, find_user, no_content};
use crate::authn::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Body, Path};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::response::Response;
use gatehouse_store::Role;
use gatehouse_store::users::{NewUser, User, UserUpdate};
use serde::Deserialize;

pub async fn list(State(app): State<AppState>) -> ApiResult<Json<Vec<User>>> {
    Ok(Json(app.store().users().list().await?))
}

pub async fn show(State(app): State<AppState>, Path(key): Path<String>) -> ApiResult<Json<User>> {
    Ok(Json(find_user(&app, &key).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    pub email: String,
    #[serde(default)]
    pub display_name: String,
    pub role: Role,
    #[serde(default)]
    pub groups: Vec<String>,
}

pub async fn create(
    State(app): State<AppState>,
    caller: Caller,
    Body(body): Body<CreateUser>,
) -> ApiResult<Response> {
    let new = NewUser {
        email: body.email,
        display_name: body.display_name,
        role: body.role,
        groups: body.groups,
        oidc: None,
    };
    let user = app.store().users().create(&caller.actor()?, new).await?;
    Ok(created(user))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub role: Option<Role>,
    #[serde(default)]
    pub disabled: Option<bool>,
}

fn refuse_self(caller: &Caller, target: &User, what: &str) -> ApiResult<()> {
    if caller.user()?.id == target.id {
        return Err(ApiError::conflict(format!(
            "you cannot {what} your own account; ask another admin"
        )));
    }
    Ok(())
}

pub async fn update(
    State(app): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
    Body(body): Body<UpdateUser>,
) -> ApiResult<Json<User>> {
    let user = find_user(&app, &key).await?;
    if body.disabled == Some(true) {
        refuse_self(&caller, &user, "disable")?;
    }
    if body.role.is_some_and(|r| r != Role::Admin) {
        refuse_self(&caller, &user, "demote")?;
    }
    let update = UserUpdate {
        email: body.email,
        display_name: body.display_name,
        role: body.role,
        disabled: body.disabled,
        oidc: None,
    };
    let user = app
        .store()
        .users()
        .update(&caller.actor()?, user.id, update)
        .await?;
    Ok(Json(user))
}

pub async fn delete(
    State(app): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
) -> ApiResult<Response> {
    let user = find_user(&app, &key).await?;
    refuse_self(&caller, &user, "delete")?;
    app.store()
        .users()
        .delete(&caller.actor()?, user.id)
        .await?;
    Ok(no_content())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Groups {
    /// The complete set; groups that do not exist are created.
    pub groups: Vec<String>,
}

pub async fn set_groups(
    State(app): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
    Body(body): Body<Groups>,
) -> ApiResult<Json<User>> {
    let user = find_user(&app, &key).await?;
    let user = app
        .store()
        .users()
        .set_groups(&caller.actor()?, user.id, &body.groups)
        .await?;
    Ok(Json(user))
}
