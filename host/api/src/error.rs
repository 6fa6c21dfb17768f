//! API errors: an HTTP status, a stable machine-readable code, and a
//! message for people, answered as
//! `{"error":{"code":"not_found","message":"connection billing-db.admin not found"}}`.
//!
//! Codes are stable (clients branch on them; [`CODES`] lists them all and
//! `docs/api.md` carries the same table). Store errors map through
//! [`gatehouse_store::StoreError::code`]. Messages never carry a secret:
//! store and runtime messages name things, not values; body errors quote
//! no submitted value (see `extract.rs`); 5xx details go to the log, the
//! client gets a generic sentence.
//!
//! Semantics: 401 = no or bad credentials; 403 = authenticated, but the
//! role lacks the capability (a statement about the role, never about an
//! object); 404 = no such object *or* an object outside the caller's scope
//! (a user's view of a connection they may not use), so existence does not
//! leak.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gatehouse_store::StoreError;

/// Every error code: (code, HTTP status, meaning).
pub const CODES: &[(&str, u16, &str)] = &[
    (
        "unauthenticated",
        401,
        "no credentials, or credentials that are invalid, expired or revoked",
    ),
    (
        "forbidden",
        403,
        "the caller's role lacks the capability (see the role matrix)",
    ),
    (
        "denied",
        403,
        "refused by policy: a plugin denied the connection or the query, or a review rule (no self-approval, approver groups) refused the decision; the message says why",
    ),
    (
        "not_found",
        404,
        "no such object, or one outside the caller's scope",
    ),
    (
        "route_not_found",
        404,
        "no route has this path (see `GET /api/openapi.json`)",
    ),
    (
        "method_not_allowed",
        405,
        "the path exists but not with this method",
    ),
    (
        "conflict",
        409,
        "the change clashes with what is stored (duplicate name, still in use, stale version)",
    ),
    (
        "invalid",
        400,
        "malformed input: body, query parameter, path, name, limit or cursor",
    ),
    (
        "invalid_plugin",
        400,
        "the uploaded file is not a Gatehouse plugin component (not a component, wrong WIT world, bad manifest)",
    ),
    (
        "invalid_config",
        400,
        "the plugin refused the binding: its `validate-config` rejected the config, or grants/limits are invalid",
    ),
    (
        "payload_too_large",
        413,
        "the body is larger than the route accepts",
    ),
    (
        "unsupported_media_type",
        415,
        "wrong `Content-Type` (JSON routes take `application/json`, plugin upload `application/wasm`)",
    ),
    (
        "login_failed",
        400,
        "an OIDC browser login could not complete (state, provider error, token exchange)",
    ),
    (
        "oidc_not_configured",
        404,
        "a browser login was started but no `[oidc]` is configured",
    ),
    (
        "query_failed",
        422,
        "the database refused the statement exec ran (CSV output; JSON output carries it as `error`)",
    ),
    (
        "not_implemented",
        501,
        "the route is reserved and its authorization is in place, but it does nothing yet",
    ),
    (
        "secret",
        500,
        "a stored secret could not be sealed or opened (missing key, unreadable reference)",
    ),
    (
        "oidc_unavailable",
        503,
        "the identity provider's keys could not be fetched; JWTs are refused meanwhile",
    ),
    ("database", 503, "the store could not be reached or failed"),
    (
        "unavailable",
        503,
        "the connection cannot serve now: its plugins could not be set up, or its upstream is unreachable",
    ),
    ("migration", 500, "the store's schema is not usable"),
    (
        "internal",
        500,
        "an unexpected failure (details are in the gateway's log)",
    ),
];

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        debug_assert!(
            CODES
                .iter()
                .any(|(c, s, _)| *c == code && *s == status.as_u16())
        );
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthenticated", message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// `what` is the thing: "connection billing-db.admin".
    pub fn not_found(what: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid", message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }

    pub fn not_implemented(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_IMPLEMENTED, "not_implemented", message)
    }

    /// A 500 whose detail is logged, not sent.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(%detail, "API internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; see the gateway's log",
        )
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        let message = error.to_string();
        match error {
            StoreError::NotFound { .. } => {
                ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
            }
            StoreError::Conflict { .. } => ApiError::conflict(message),
            StoreError::Invalid(_) => ApiError::invalid(message),
            StoreError::Secret(_) => {
                // Names a key id or a reference, never a value.
                tracing::warn!(error = %message, "store secret error");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "secret", message)
            }
            StoreError::Database(_) | StoreError::Sqlite(_) => {
                tracing::error!(error = %message, "store database error");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "database",
                    "the store failed; see the gateway's log",
                )
            }
            StoreError::Migrate(_) => {
                tracing::error!(error = %message, "store migration error");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "migration",
                    "the store's schema is not usable; see the gateway's log",
                )
            }
            _ => ApiError::internal(message),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "error": { "code": self.code, "message": self.message }
        });
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"gatehouse\""),
            );
        }
        response
    }
}

/// The errors table of `docs/api.md`, generated from [`CODES`] (a test
/// checks the document contains it).
pub fn markdown_table() -> String {
    let mut out = String::from("| code | status | meaning |\n| --- | --- | --- |\n");
    for (code, status, meaning) in CODES {
        out.push_str(&format!("| `{code}` | {status} | {meaning} |\n"));
    }
    out
}

pub type ApiResult<T> = Result<T, ApiError>;
