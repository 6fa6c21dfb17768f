//! The audit log (admins only): filters and keyset pages, newest first.
//! Admin changes carry `before`/`after` snapshots built from the store's
//! public, secret-free types.

use super::{not_found_as, page};
use crate::error::ApiResult;
use crate::extract::{Path, Query};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use gatehouse_store::Page;
use gatehouse_store::audit::{AuditEvent, AuditFilter};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// `admin`, `review`, `authentication`, `session`, `query`, `plugin`.
    pub category: Option<String>,
    /// `connection.update`, `plugin.install`, …
    pub action: Option<String>,
    /// The actor's user id (`whoami.id`), or `system:<component>`.
    pub actor: Option<String>,
    pub connection: Option<String>,
    pub session: Option<String>,
    /// Unix ms, inclusive.
    pub since: Option<i64>,
    /// Unix ms, exclusive.
    pub until: Option<i64>,
    pub limit: Option<u32>,
    pub next: Option<String>,
}

pub async fn list(
    State(app): State<AppState>,
    Query(query): Query<ListQuery>,
) -> ApiResult<Json<Page<AuditEvent>>> {
    let filter = AuditFilter {
        category: query.category,
        action: query.action,
        actor_id: query.actor,
        connection: query.connection,
        session_id: query.session,
        since: query.since,
        until: query.until,
    };
    Ok(Json(
        app.store()
            .audit()
            .list(&filter, &page(query.limit, query.next))
            .await?,
    ))
}

pub async fn show(
    State(app): State<AppState>,
    Path(sequence): Path<i64>,
) -> ApiResult<Json<AuditEvent>> {
    Ok(Json(app.store().audit().get(sequence).await.map_err(
        |e| not_found_as(e, format!("audit event {sequence}")),
    )?))
}
