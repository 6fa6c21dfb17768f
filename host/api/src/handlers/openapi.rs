//! `GET /api/openapi.json`: the OpenAPI 3.1 document (public).

use axum::Json;
use axum::response::IntoResponse;

pub async fn document() -> impl IntoResponse {
    Json(crate::openapi::document().clone())
}
