//! Reviews: list (filters, keyset pages), show, request just-in-time
//! access, the output of a held exec query, and the decisions (approve,
//! reject, revoke), which the gateway's review workflow carries out
//! ([`crate::gateway::ReviewDesk`]; 501 without one).
//!
//! Scope ("own"): a user or approver sees reviews they requested or that
//! name one of their groups as approver groups; admins see all. A review
//! outside the scope is a 404. Deciding is for admins and approvers whose
//! group the review names (the workflow then refuses the requester's own
//! decision and a decider outside the approver groups: 403 `denied`);
//! revoking for admins and the requester; a held query's output only for
//! its requester (and admins): approvers decide on the query, they do not
//! read its rows.

use super::{created, not_found_as, page, visible_connection};
use crate::authn::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Body, Path, Query, parse_json};
use crate::gateway::{AccessRequest, ReviewDesk};
use crate::state::AppState;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use gatehouse_store::Page;
use gatehouse_store::reviews::{Review, ReviewFilter, ReviewKind, ReviewScope, ReviewState};
use gatehouse_store::users::User;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

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

/// The gateway's review workflow, or 501.
fn desk(app: &AppState) -> ApiResult<Arc<dyn ReviewDesk>> {
    app.api.reviews.clone().ok_or_else(|| {
        ApiError::not_implemented(
            "review decisions need the gateway's review workflow, which this API is served without",
        )
    })
}

/// An optional JSON body: none at all reads as `T::default()`.
fn optional_body<T: Default + serde::de::DeserializeOwned>(
    headers: &HeaderMap,
    bytes: &Bytes,
) -> ApiResult<T> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            let mime = v.split(';').next().unwrap_or("").trim();
            mime.eq_ignore_ascii_case("application/json")
        });
    if !json {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "the body must be JSON (Content-Type: application/json)",
        ));
    }
    parse_json(bytes)
}

/// The body of approve and reject (optional).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionBody {
    #[serde(default)]
    pub comment: Option<String>,
}

async fn decide(
    app: AppState,
    caller: Caller,
    id: String,
    headers: HeaderMap,
    body: Bytes,
    approved: bool,
) -> ApiResult<Json<Review>> {
    let body: DecisionBody = optional_body(&headers, &body)?;
    scoped(&app, &caller, &id, assigned_to).await?;
    let desk = desk(&app)?;
    let review = desk
        .decide(
            caller.actor()?,
            &id,
            approved,
            body.comment.unwrap_or_default(),
        )
        .await?;
    Ok(Json(review))
}

pub async fn approve(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Review>> {
    decide(app, caller, id, headers, body, true).await
}

pub async fn reject(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Review>> {
    decide(app, caller, id, headers, body, false).await
}

pub async fn revoke(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Review>> {
    scoped(&app, &caller, &id, requested_by).await?;
    let desk = desk(&app)?;
    Ok(Json(desk.revoke(caller.actor()?, &id).await?))
}

/// `POST /api/reviews`: a just-in-time access request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestBody {
    /// `resource.role`.
    pub connection: String,
    /// Only `jit` (one-time reviews are opened by the queries they hold).
    #[serde(default = "jit")]
    pub kind: ReviewKind,
    pub duration_minutes: u32,
    #[serde(default)]
    pub reason: Option<String>,
}

fn jit() -> ReviewKind {
    ReviewKind::Jit
}

pub async fn request(
    State(app): State<AppState>,
    caller: Caller,
    Body(body): Body<RequestBody>,
) -> ApiResult<Response> {
    if body.kind != ReviewKind::Jit {
        return Err(ApiError::invalid(
            "only just-in-time access is requested here (kind \"jit\"); one-time reviews are opened by the query they hold",
        ));
    }
    if body.duration_minutes == 0 {
        return Err(ApiError::invalid("duration_minutes must be at least 1"));
    }
    let connection = visible_connection(&app, &caller, &body.connection).await?;
    let desk = desk(&app)?;
    let review = desk
        .request_access(
            caller.actor()?,
            AccessRequest {
                connection: connection.name,
                duration_minutes: body.duration_minutes,
                reason: body.reason.unwrap_or_default(),
            },
        )
        .await?;
    Ok(created(review))
}

/// `GET /api/reviews/{id}/result`.
#[derive(Debug, Serialize)]
pub struct RunView {
    pub review_id: String,
    /// The review's state now (`pending` while it waits for approvers,
    /// `executed` once run; `rejected`, `expired` … never run).
    pub review_state: ReviewState,
    /// `false` until the gateway ran the query.
    pub finished: bool,
    pub session_id: Option<String>,
    /// The exec output (as `POST /api/connections/{name}/exec` answers).
    pub output: Option<serde_json::Value>,
    pub created_at: i64,
    pub finished_at: Option<i64>,
}

pub async fn result(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<RunView>> {
    let review = scoped(&app, &caller, &id, requested_by).await?;
    let run = app.store().reviews().run(&id).await?.ok_or_else(|| {
        ApiError::not_found(format!("a run of review {id} (only exec holds one)"))
    })?;
    Ok(Json(RunView {
        review_id: run.review_id,
        review_state: review.state,
        finished: run.finished_at.is_some(),
        session_id: run.session_id,
        output: run.output,
        created_at: run.created_at,
        finished_at: run.finished_at,
    }))
}
