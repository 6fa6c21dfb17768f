//! `GET /api/whoami`: the caller, how they authenticated, and what their
//! role may do (the matrix row by row), so a CLI or UI can hide what the
//! caller cannot do.

use crate::authn::Caller;
use crate::authz::{Access, Capability, MATRIX};
use crate::error::ApiResult;
use axum::Json;
use gatehouse_store::Role;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Serialize)]
pub struct Whoami {
    pub id: i64,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub groups: Vec<String>,
    /// `token`, `session` (browser cookie) or `oidc` (bearer JWT).
    pub auth: &'static str,
    /// Capability name → `all` or `own` (capabilities the role lacks are
    /// left out).
    pub capabilities: BTreeMap<&'static str, &'static str>,
}

pub async fn show(caller: Caller) -> ApiResult<Json<Whoami>> {
    let user = caller.user()?;
    let via = caller
        .principal
        .as_ref()
        .map_or("token", |p| p.via.as_str());
    let capabilities = MATRIX
        .iter()
        .filter(|rule| rule.capability != Capability::Public)
        .filter_map(|rule| match rule.access(Some(user.role)) {
            Access::None => None,
            access => Some((rule.name, access.as_str())),
        })
        .collect();
    Ok(Json(Whoami {
        id: user.id,
        email: user.email.clone(),
        display_name: user.display_name.clone(),
        role: user.role,
        groups: user.groups.clone(),
        auth: via,
        capabilities,
    }))
}
