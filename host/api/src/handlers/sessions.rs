//! Sessions: list with filters and keyset pages, show with events.
//!
//! Users see only sessions they opened (matched by the store user id the
//! gateway records as `user_id`, i.e. `User::identity().user_id`); their
//! filters narrow within that. Someone else's session is a 404. Pages:
//! `limit` (1–1000, default 50) and `next`, the opaque cursor of the
//! previous page (`null` on the last page).

use super::{not_found_as, page};
use crate::authn::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Path, Query};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use gatehouse_store::Page;
use gatehouse_store::sessions::{Session, SessionEvent, SessionFilter, Verdict};
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// The user's email.
    pub user: Option<String>,
    /// `resource.role`.
    pub connection: Option<String>,
    /// Started at or after (Unix ms).
    pub since: Option<i64>,
    /// Started before (Unix ms).
    pub until: Option<i64>,
    /// Sessions with at least one query of this verdict.
    pub verdict: Option<Verdict>,
    pub limit: Option<u32>,
    pub next: Option<String>,
}

pub async fn list(
    State(app): State<AppState>,
    caller: Caller,
    Query(query): Query<ListQuery>,
) -> ApiResult<Json<Page<Session>>> {
    let filter = SessionFilter {
        user_id: (!caller.sees_all())
            .then(|| caller.user().map(|u| u.id.to_string()))
            .transpose()?,
        email: query.user,
        connection: query.connection,
        since: query.since,
        until: query.until,
        verdict: query.verdict,
    };
    let page = app
        .store()
        .sessions()
        .list(&filter, &page(query.limit, query.next))
        .await?;
    Ok(Json(page))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShowQuery {
    /// Events with a sequence number above this (default 0: from the first).
    pub after: Option<u64>,
    /// At most this many events (1–1000, default 100).
    pub limit: Option<u32>,
}

/// A session with a page of its events.
#[derive(Debug, Serialize)]
pub struct SessionDetail {
    pub session: Session,
    pub events: Vec<SessionEvent>,
    /// Pass as `after` for the next events; `null` when there are no more.
    pub next_after: Option<u64>,
}

pub async fn show(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(query): Query<ShowQuery>,
) -> ApiResult<Json<SessionDetail>> {
    let what = format!("session {id}");
    let sessions = app.store().sessions();
    let session = sessions
        .get(&id)
        .await
        .map_err(|e| not_found_as(e, &what))?;
    if !caller.sees_all() && session.user_id != caller.user()?.id.to_string() {
        return Err(ApiError::not_found(what));
    }
    let limit = query.limit.unwrap_or(100);
    let events = sessions
        .events(&id, query.after.unwrap_or(0), limit)
        .await?;
    let next_after = (events.len() as u32 == limit)
        .then(|| events.last().map(|e| e.seq))
        .flatten();
    Ok(Json(SessionDetail {
        session,
        events,
        next_after,
    }))
}
