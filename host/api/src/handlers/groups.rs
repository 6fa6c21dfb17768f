//! Groups and their members (admins only). Group names are free text as the
//! identity provider sends them; `access-control` bindings name them in
//! `allowed_groups`, reviews in their approver groups.

use super::{created, find_user, no_content, not_found_as};
use crate::authn::Caller;
use crate::error::ApiResult;
use crate::extract::{Body, Path};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::response::Response;
use gatehouse_store::groups::Group;
use serde::{Deserialize, Serialize};

pub async fn list(State(app): State<AppState>) -> ApiResult<Json<Vec<Group>>> {
    Ok(Json(app.store().groups().list().await?))
}

/// A group with its members' emails.
#[derive(Debug, Serialize)]
pub struct GroupDetail {
    #[serde(flatten)]
    pub group: Group,
    pub member_emails: Vec<String>,
}

pub async fn show(
    State(app): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<Json<GroupDetail>> {
    let groups = app.store().groups();
    let group = groups
        .get(&name)
        .await
        .map_err(|e| not_found_as(e, format!("group {name}")))?;
    let member_emails = groups
        .members(&name)
        .await?
        .into_iter()
        .map(|u| u.email)
        .collect();
    Ok(Json(GroupDetail {
        group,
        member_emails,
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateGroup {
    pub name: String,
    #[serde(default)]
    pub description: String,
}

pub async fn create(
    State(app): State<AppState>,
    caller: Caller,
    Body(body): Body<CreateGroup>,
) -> ApiResult<Response> {
    let group = app
        .store()
        .groups()
        .create(&caller.actor()?, &body.name, &body.description)
        .await?;
    Ok(created(group))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateGroup {
    pub description: String,
}

pub async fn update(
    State(app): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    Body(body): Body<UpdateGroup>,
) -> ApiResult<Json<Group>> {
    let group = app
        .store()
        .groups()
        .set_description(&caller.actor()?, &name, &body.description)
        .await
        .map_err(|e| not_found_as(e, format!("group {name}")))?;
    Ok(Json(group))
}

pub async fn delete(
    State(app): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    app.store()
        .groups()
        .delete(&caller.actor()?, &name)
        .await
        .map_err(|e| not_found_as(e, format!("group {name}")))?;
    Ok(no_content())
}

pub async fn add_member(
    State(app): State<AppState>,
    caller: Caller,
    Path((name, key)): Path<(String, String)>,
) -> ApiResult<Response> {
    let user = find_user(&app, &key).await?;
    app.store()
        .groups()
        .add_member(&caller.actor()?, &name, user.id)
        .await?;
    Ok(no_content())
}

pub async fn remove_member(
    State(app): State<AppState>,
    caller: Caller,
    Path((name, key)): Path<(String, String)>,
) -> ApiResult<Response> {
    let user = find_user(&app, &key).await?;
    app.store()
        .groups()
        .remove_member(&caller.actor()?, &name, user.id)
        .await?;
    Ok(no_content())
}
