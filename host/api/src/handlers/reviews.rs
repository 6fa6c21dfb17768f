//! Reviews: list (filters, keyset pages) and show. Approve, reject and
//! revoke come with issue 5; their routes exist now with their
//! authorization (the matrix, then the caller's scope, then 501).
//!
//! Scope ("own"): a user or approver sees reviews they requested or that
//! name one of their groups as approver groups; admins see all. A review
//! outside the scope is a 404. Deciding is for admins and approvers whose
//! group the review names; revoking for admins and the requester.

use super::{not_found_as, page};
use crate::authn::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Path, Query};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use gatehouse_store::Page;
use gatehouse_store::reviews::{Review, ReviewFilter, ReviewKind, ReviewScope, ReviewState};
use gatehouse_store::users::User;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Comma-separated states (`pending,approved`); default all.
    pub state: Option<String>,
    /// `resource.role`.
    pub connection: Option<String>,
    /// `one-time` or `jit`.
    pub kind: Option<ReviewKind>,
    pub limit: Option<u32>,
    pub next: Option<String>,
}

fn requested_by(review: &Review, user: &User) -> bool {
    review.requester.user_id == user.id.to_string()
}

fn assigned_to(review: &Review, user: &User) -> bool {
    review
        .approver_groups
        .iter()
        .any(|g| user.groups.contains(g))
}

pub async fn list(
    State(app): State<AppState>,
    caller: Caller,
    Query(query): Query<ListQuery>,
) -> ApiResult<Json<Page<Review>>> {
    let mut states = Vec::new();
    for state in query.state.iter().flat_map(|s| s.split(',')) {
        let state = state.trim();
        if state.is_empty() {
            continue;
        }
        states.push(
            ReviewState::parse(state)
                .ok_or_else(|| ApiError::invalid(format!("unknown review state {state:?}")))?,
        );
    }
    let scope = if caller.sees_all() {
        ReviewScope::All
    } else {
        let user = caller.user()?;
        ReviewScope::RequestedByOrAssignedTo {
            user_id: user.id.to_string(),
            groups: user.groups.clone(),
        }
    };
    let filter = ReviewFilter {
        scope,
        states,
        connection: query.connection,
        kind: query.kind,
    };
    Ok(Json(
        app.store()
            .reviews()
            .list(&filter, &page(query.limit, query.next))
            .await?,
    ))
}

/// The review `id` if the caller's scope (for `Own`: `in_scope`) has it.
async fn scoped(
    app: &AppState,
    caller: &Caller,
    id: &str,
    in_scope: fn(&Review, &User) -> bool,
) -> ApiResult<Review> {
    let what = format!("review {id}");
    let review = app
        .store()
        .reviews()
        .get(id)
        .await
        .map_err(|e| not_found_as(e, &what))?;
    if !caller.sees_all() && !in_scope(&review, caller.user()?) {
        return Err(ApiError::not_found(what));
    }
    Ok(review)
}

pub async fn show(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Review>> {
    let review = scoped(&app, &caller, &id, |r, u| {
        requested_by(r, u) || assigned_to(r, u)
    })
    .await?;
    Ok(Json(review))
}

pub async fn approve(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Review>> {
    scoped(&app, &caller, &id, assigned_to).await?;
    Err(ApiError::not_implemented(
        "approving reviews arrives with the review workflow (issue 5)",
    ))
}

pub async fn reject(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Review>> {
    scoped(&app, &caller, &id, assigned_to).await?;
    Err(ApiError::not_implemented(
        "rejecting reviews arrives with the review workflow (issue 5)",
    ))
}

pub async fn revoke(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Review>> {
    scoped(&app, &caller, &id, requested_by).await?;
    Err(ApiError::not_implemented(
        "revoking reviews arrives with the review workflow (issue 5)",
    ))
}
