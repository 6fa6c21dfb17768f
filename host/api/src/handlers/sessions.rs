//! Sessions: list with filters and keyset pages, show with events, and
//! download one whole (session and every event) as a JSON attachment.
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
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
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

/// The session `id` if the caller may see it (someone else's is a 404).
async fn visible_session(app: &AppState, caller: &Caller, id: &str) -> ApiResult<Session> {
    let what = format!("session {id}");
    let session = app
        .store()
        .sessions()
        .get(id)
        .await
        .map_err(|e| not_found_as(e, &what))?;
    if !caller.sees_all() && session.user_id != caller.user()?.id.to_string() {
        return Err(ApiError::not_found(what));
    }
    Ok(session)
}

pub async fn show(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(query): Query<ShowQuery>,
) -> ApiResult<Json<SessionDetail>> {
    let session = visible_session(&app, &caller, &id).await?;
    let sessions = app.store().sessions();
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

/// Events read per store query while a download streams.
const DOWNLOAD_PAGE: u32 = 1000;

/// `GET /api/sessions/{id}/download`: `{"session": …, "events": [all of
/// them, in order]}` as an attachment (`session-<id>.json`). The body is
/// streamed a page of events at a time, so a long session costs one page
/// of memory; a store failure mid-way aborts the body (the client sees a
/// truncated, invalid document, never a silently shortened one).
pub async fn download(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let session = visible_session(&app, &caller, &id).await?;
    // Fail before the 200 if the events cannot be read at all.
    let first = app
        .store()
        .sessions()
        .events(&session.id, 0, DOWNLOAD_PAGE)
        .await?;
    let filename: String = session
        .id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        .collect();
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let store = app.store().clone();
    tokio::spawn(async move {
        let _ = stream_session(store, session, first, &tx).await;
    });
    Ok((
        [
            (header::CONTENT_TYPE, "application/json".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"session-{filename}.json\""),
            ),
        ],
        Body::new(ChannelBody(rx)),
    )
        .into_response())
}

type Chunk = Result<Bytes, std::io::Error>;

/// Writes the document into `tx`; stops at the first failure (the body
/// then ends with an error) or when the client went away.
async fn stream_session(
    store: gatehouse_store::Store,
    session: Session,
    mut page: Vec<SessionEvent>,
    tx: &tokio::sync::mpsc::Sender<Chunk>,
) -> Result<(), ()> {
    let send = |bytes: Vec<u8>| async move { tx.send(Ok(Bytes::from(bytes))).await.map_err(drop) };
    let mut head = b"{\"session\":".to_vec();
    serde_json::to_writer(&mut head, &session).map_err(drop)?;
    head.extend_from_slice(b",\"events\":[");
    send(head).await?;
    let mut first = true;
    while let Some(last) = page.last().map(|e| e.seq) {
        let mut chunk = Vec::with_capacity(page.len() * 256);
        for event in &page {
            if !first {
                chunk.push(b',');
            }
            first = false;
            serde_json::to_writer(&mut chunk, event).map_err(drop)?;
        }
        send(chunk).await?;
        if (page.len() as u32) < DOWNLOAD_PAGE {
            break;
        }
        page = match store
            .sessions()
            .events(&session.id, last, DOWNLOAD_PAGE)
            .await
        {
            Ok(page) => page,
            Err(err) => {
                tracing::error!(session = %session.id, error = %err, "session download failed mid-way");
                let _ = tx.send(Err(std::io::Error::other("store error"))).await;
                return Err(());
            }
        };
    }
    send(b"]}".to_vec()).await
}

/// A response body fed by a channel.
struct ChannelBody(tokio::sync::mpsc::Receiver<Chunk>);

impl http_body::Body for ChannelBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        self.0
            .poll_recv(cx)
            .map(|chunk| chunk.map(|chunk| chunk.map(http_body::Frame::data)))
    }
}
