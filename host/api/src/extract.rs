//! Request extractors whose failures are [`ApiError`]s (JSON, stable codes)
//! instead of axum's plain-text rejections.
//!
//! Body errors name the field at fault (`invalid request body at
//! password: …`) but never quote a submitted value: serde's messages
//! quote strings (`invalid type: string "hunter2"`), so every quoted part
//! is replaced before the message leaves, and a password sent where it does
//! not belong cannot be echoed back or logged.

use crate::error::ApiError;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;

/// A JSON body (`Content-Type: application/json`).
pub struct Body<T>(pub T);

impl<S, T> FromRequest<S> for Body<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json = request
            .headers()
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
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "payload_too_large",
                        "the body is too large",
                    )
                } else {
                    ApiError::invalid("the body could not be read")
                }
            })?;
        parse_json(&bytes).map(Body)
    }
}

/// Deserializes `bytes`, naming the failing field without quoting values.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let path = e.path().to_string();
        let message = redact_quoted(&e.into_inner().to_string());
        if path.is_empty() || path == "." {
            ApiError::invalid(format!("invalid request body: {message}"))
        } else {
            ApiError::invalid(format!("invalid request body at {path}: {message}"))
        }
    })?;
    deserializer
        .end()
        .map_err(|_| ApiError::invalid("invalid request body: trailing characters"))?;
    Ok(value)
}

/// Replaces every `"…"` in a serde message with `"…"` (values are not
/// repeated back; field and variant names are in backticks and stay).
fn redact_quoted(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut inside = false;
    for c in message.chars() {
        if c == '"' {
            if !inside {
                out.push_str("\"…\"");
            }
            inside = !inside;
        } else if !inside {
            out.push(c);
        }
    }
    out
}

/// Query parameters (query strings carry no secrets: they end up in
/// proxies' access logs anyway, so the API never asks for one there).
pub struct Query<T>(pub T);

impl<S, T> FromRequestParts<S> for Query<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| Query(value))
            .map_err(|rejection| {
                let text = rejection.body_text();
                let text = text
                    .strip_prefix("Failed to deserialize query string: ")
                    .unwrap_or(&text);
                ApiError::invalid(format!("invalid query string: {text}"))
            })
    }
}

/// Path parameters.
pub struct Path<T>(pub T);

impl<S, T> FromRequestParts<S> for Path<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| Path(value))
            .map_err(|rejection| {
                ApiError::invalid(format!(
                    "invalid path: {}",
                    redact_quoted(&rejection.body_text())
                ))
            })
    }
}
