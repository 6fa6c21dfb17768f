//! The audit log (admins only): filters and keyset pages, newest first.
//! Admin changes carry `before`/`after` snapshots built from the store's
//! public, secret-free types. Also the delivery state of each audit sink
//! and the events sinks gave up on (dead letters).

use super::{not_found_as, page};
use crate::error::ApiResult;
use crate::extract::{Path, Query};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use gatehouse_store::Page;
use gatehouse_store::audit::{AuditEvent, AuditFilter, DeadLetter, SinkState};
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

/// `GET /api/audit/sinks`: every registered sink's cursor, retry state and
/// last error.
pub async fn sinks(State(app): State<AppState>) -> ApiResult<Json<Vec<SinkState>>> {
    Ok(Json(app.store().audit().sinks().await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeadLetterQuery {
    /// One sink's (default: every sink's).
    pub sink: Option<String>,
    /// At most this many per sink, 1–1000 (default 100).
    pub limit: Option<u32>,
}

/// `GET /api/audit/dead-letters`: events sinks gave up on, oldest first
/// per sink, with the attempts and last error.
pub async fn dead_letters(
    State(app): State<AppState>,
    Query(query): Query<DeadLetterQuery>,
) -> ApiResult<Json<Vec<DeadLetter>>> {
    let audit = app.store().audit();
    let limit = query.limit.unwrap_or(100);
    let names = match query.sink {
        Some(name) => {
            audit
                .sink(&name)
                .await
                .map_err(|e| not_found_as(e, format!("audit sink {name}")))?;
            vec![name]
        }
        None => audit.sinks().await?.into_iter().map(|s| s.name).collect(),
    };
    let mut letters = Vec::new();
    for name in names {
        letters.extend(audit.dead_letters(&name, limit).await?);
    }
    Ok(Json(letters))
}
