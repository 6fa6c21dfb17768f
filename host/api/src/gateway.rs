//! What only the gateway process can do for the API, behind two traits the
//! gateway implements and hands over in [`ApiState`](crate::ApiState) (the
//! same pattern as [`ConnectionTester`](crate::ConnectionTester)):
//!
//! * [`ReviewDesk`]: decisions on reviews (approve, reject), revocation and
//!   just-in-time access requests. A decision is not a store write alone:
//!   the gateway checks who may decide, asks the connection's review
//!   plugins (`on-review`) whether the review is now approved or rejected,
//!   moves it, and runs a held exec query once approved.
//! * [`QueryExecutor`]: `POST /api/connections/{name}/exec`, a query run by
//!   the gateway on the caller's behalf through the connection's plugins,
//!   exactly like a native session's (connect, query and result hooks).
//!
//! The API authorizes first (role matrix, then the caller's scope: a
//! review or connection outside it is a 404); the gateway enforces the
//! rules that belong to the workflow (no self-approval, approver groups,
//! states) and the plugins' decisions. Without a gateway (the API's own
//! tests) these routes answer 501 `not_implemented`.
//!
//! Errors are [`GatewayError`]s: each maps onto one stable API code.

use crate::error::ApiError;
use crate::tester::BoxFuture;
use axum::http::StatusCode;
use gatehouse_store::reviews::Review;
use gatehouse_store::{Actor, Identity, StoreError};
use serde::{Deserialize, Serialize};

/// Why the gateway refused or failed a request.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// A plugin or a review rule refused (connect or query denied, no
    /// self-approval, not one of the review's approvers): 403 `denied`.
    #[error("{0}")]
    Denied(String),
    /// No such review or connection: 404.
    #[error("{0} not found")]
    NotFound(String),
    /// The review is not in a state that allows this: 409.
    #[error("{0}")]
    Conflict(String),
    /// Bad input: 400.
    #[error("{0}")]
    Invalid(String),
    /// The connection cannot serve now (its plugins could not be set up,
    /// its upstream is unreachable): 503 `unavailable`.
    #[error("{0}")]
    Unavailable(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Unexpected: 500, the detail is logged.
    #[error("{0}")]
    Internal(String),
}

impl From<GatewayError> for ApiError {
    fn from(error: GatewayError) -> Self {
        match error {
            GatewayError::Denied(message) => {
                ApiError::new(StatusCode::FORBIDDEN, "denied", message)
            }
            GatewayError::NotFound(what) => ApiError::not_found(what),
            GatewayError::Conflict(message) => ApiError::conflict(message),
            GatewayError::Invalid(message) => ApiError::invalid(message),
            GatewayError::Unavailable(message) => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
            }
            GatewayError::Store(error) => error.into(),
            GatewayError::Internal(detail) => ApiError::internal(detail),
        }
    }
}

/// A request for just-in-time access to a connection, for the actor.
#[derive(Debug, Clone)]
pub struct AccessRequest {
    /// `resource.role`.
    pub connection: String,
    pub duration_minutes: u32,
    /// Why (shown to approvers beside the plugin's reason).
    pub reason: String,
}

/// Decisions, revocations and access requests (see the module docs).
pub trait ReviewDesk: Send + Sync {
    /// `actor` approves or rejects review `id` (pending); the review moves
    /// if its plugins say so (one rejection wins).
    fn decide<'a>(
        &'a self,
        actor: Actor,
        id: &'a str,
        approved: bool,
        comment: String,
    ) -> BoxFuture<'a, Result<Review, GatewayError>>;

    /// Withdraw (pending) or revoke (approved) review `id`.
    fn revoke<'a>(
        &'a self,
        actor: Actor,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Review, GatewayError>>;

    /// Open a pending JIT review for `actor` on a connection whose plugins
    /// ask for one at connect.
    fn request_access<'a>(
        &'a self,
        actor: Actor,
        request: AccessRequest,
    ) -> BoxFuture<'a, Result<Review, GatewayError>>;
}

/// A query to run on a user's behalf.
#[derive(Debug, Clone)]
pub struct ExecRequest {
    pub identity: Identity,
    pub client_address: String,
    /// `resource.role`.
    pub connection: String,
    pub sql: String,
}

/// A result column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecColumn {
    pub name: String,
    /// The type's name where known (`int4`, `text`), else empty.
    #[serde(rename = "type")]
    pub type_name: String,
    pub type_oid: u32,
}

/// One statement's result: its columns and rows (cells in PostgreSQL's
/// text format, `null` for SQL NULL), and its command tag.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecResult {
    pub columns: Vec<ExecColumn>,
    pub rows: Vec<Vec<Option<String>>>,
    pub command_tag: Option<String>,
}

/// The database's (or a result plugin's) error for the statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecFailure {
    /// SQLSTATE (`42P01`), or `42501` when a plugin withheld the result.
    pub code: String,
    pub message: String,
}

/// What an exec produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecOutput {
    /// The exec session (`GET /api/sessions/{id}`).
    pub session_id: String,
    pub connection: String,
    /// The approved one-time review that let the query run, if one did.
    pub review_id: Option<String>,
    /// One entry per statement that produced a result, in order.
    pub results: Vec<ExecResult>,
    /// Set when the statement failed; the results before it are kept.
    pub error: Option<ExecFailure>,
    /// Rows past the gateway's `[exec] max_rows` were not kept.
    pub truncated: bool,
}

/// How an exec ended.
#[derive(Debug, Clone)]
pub enum ExecOutcome {
    /// It ran (successfully or not: see [`ExecOutput::error`]).
    Ran(ExecOutput),
    /// A plugin asked for a one-time review: the query is stored in
    /// `review` and runs once it is approved (output:
    /// `GET /api/reviews/{id}/result`).
    Held { review: Review, message: String },
}

/// Runs queries on users' behalf (see the module docs).
pub trait QueryExecutor: Send + Sync {
    fn exec<'a>(&'a self, request: ExecRequest)
    -> BoxFuture<'a, Result<ExecOutcome, GatewayError>>;
}
