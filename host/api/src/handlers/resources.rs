//! Resources (databases and services) with their roles grouped under them.
//!
//! Admins see every field and every role. Users see a resource only when
//! they may access at least one of its roles, and then only those roles,
//! without the upstream address or TLS settings. A resource's name and kind
//! cannot change; deleting one that still has roles is a 409.

use super::{created, double_option, no_content, not_found_as};
use crate::access;
use crate::authn::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Body, Path};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::response::Response;
use gatehouse_store::connections::Connection;
use gatehouse_store::resources::{NewResource, Resource, ResourceKind, ResourceUpdate, TlsMode};
use serde::{Deserialize, Serialize};

/// A role as listed under its resource.
#[derive(Debug, Serialize)]
pub struct RoleSummary {
    /// `resource.role`: what users connect to.
    pub name: String,
    pub role: String,
    /// The role's purpose.
    pub description: String,
}

impl From<&Connection> for RoleSummary {
    fn from(c: &Connection) -> Self {
        RoleSummary {
            name: c.name.clone(),
            role: c.role.clone(),
            description: c.description.clone(),
        }
    }
}

/// What admins see.
#[derive(Debug, Serialize)]
pub struct AdminResource {
    #[serde(flatten)]
    pub resource: Resource,
    pub roles: Vec<RoleSummary>,
}

/// What users see.
#[derive(Debug, Serialize)]
pub struct UserResource {
    pub name: String,
    pub kind: ResourceKind,
    pub description: String,
    pub roles: Vec<RoleSummary>,
}

#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum ResourceView {
    Admin(AdminResource),
    User(UserResource),
}

fn view(caller: &Caller, resource: Resource, roles: &[Connection]) -> ResourceView {
    let roles = roles
        .iter()
        .filter(|c| c.resource_id == resource.id)
        .map(RoleSummary::from)
        .collect();
    if caller.sees_all() {
        ResourceView::Admin(AdminResource { resource, roles })
    } else {
        ResourceView::User(UserResource {
            name: resource.name,
            kind: resource.kind,
            description: resource.description,
            roles,
        })
    }
}

pub async fn list(
    State(app): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Vec<ResourceView>>> {
    let store = app.store();
    let connections = access::accessible(store, caller.user()?).await?;
    let mut out = Vec::new();
    for resource in store.resources().list().await? {
        let has_roles = connections.iter().any(|c| c.resource_id == resource.id);
        if caller.sees_all() || has_roles {
            out.push(view(&caller, resource, &connections));
        }
    }
    Ok(Json(out))
}

pub async fn show(
    State(app): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<ResourceView>> {
    let store = app.store();
    let what = format!("resource {name}");
    let resource = store
        .resources()
        .by_name(&name)
        .await
        .map_err(|e| not_found_as(e, &what))?;
    let mut roles = store.connections().list_for_resource(resource.id).await?;
    if !caller.sees_all() {
        let user = caller.user()?;
        let mut visible = Vec::new();
        for role in roles {
            if access::may_access(store, user, &role).await? {
                visible.push(role);
            }
        }
        if visible.is_empty() {
            return Err(ApiError::not_found(what));
        }
        roles = visible;
    }
    Ok(Json(view(&caller, resource, &roles)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateResource {
    pub name: String,
    pub kind: ResourceKind,
    /// `host:port`.
    pub address: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub tls: TlsMode,
    #[serde(default)]
    pub ca_file: Option<String>,
}

pub async fn create(
    State(app): State<AppState>,
    caller: Caller,
    Body(body): Body<CreateResource>,
) -> ApiResult<Response> {
    let new = NewResource {
        name: body.name,
        kind: body.kind,
        address: body.address,
        description: body.description,
        tls: body.tls,
        ca_file: body.ca_file,
    };
    let resource = app
        .store()
        .resources()
        .create(&caller.actor()?, new)
        .await?;
    app.changed();
    Ok(created(AdminResource {
        resource,
        roles: Vec::new(),
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateResource {
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub tls: Option<TlsMode>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "double_option")]
    pub ca_file: Option<Option<String>>,
}

pub async fn update(
    State(app): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    Body(body): Body<UpdateResource>,
) -> ApiResult<Json<ResourceView>> {
    let store = app.store();
    let resource = store
        .resources()
        .by_name(&name)
        .await
        .map_err(|e| not_found_as(e, format!("resource {name}")))?;
    let update = ResourceUpdate {
        address: body.address,
        description: body.description,
        tls: body.tls,
        ca_file: body.ca_file,
    };
    let resource = store
        .resources()
        .update(&caller.actor()?, resource.id, update)
        .await?;
    app.changed();
    let roles = store.connections().list_for_resource(resource.id).await?;
    Ok(Json(view(&caller, resource, &roles)))
}

pub async fn delete(
    State(app): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    let store = app.store();
    let resource = store
        .resources()
        .by_name(&name)
        .await
        .map_err(|e| not_found_as(e, format!("resource {name}")))?;
    store
        .resources()
        .delete(&caller.actor()?, resource.id)
        .await?;
    app.changed();
    Ok(no_content())
}
