//! `POST /api/connections/{name}/exec`: a query run by the gateway on the
//! caller's behalf, through the connection's plugins like a native session
//! (on-connect, on-query, the result hooks; session verb `exec`).
//!
//! Body `{"sql": "…", "format": "json" | "csv"}` (format optional;
//! `Accept: text/csv` also asks for CSV). Answers:
//! * 200 JSON [`ExecOutput`] (columns and rows per statement; a statement
//!   the database refused is `error`, with the results before it), or 200
//!   `text/csv` (a header line of column names, then the rows; several
//!   results are separated by an empty line; NULL is an empty field, an
//!   empty string `""`). A database error in CSV is 422 `query_failed`.
//! * 202 `{"review": …, "message": …}` when a plugin holds the query for a
//!   one-time review: the gateway runs it once approved and keeps the
//!   output (`GET /api/reviews/{id}/result`).
//! * 403 `denied` when a plugin denies the connection or the query (the
//!   reason says which), 404 for a connection the caller may not access
//!   (the API's access rule: same as a missing one), 503 `unavailable`.

use super::visible_connection;
use crate::authn::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Body, Path};
use crate::gateway::{ExecOutcome, ExecOutput, ExecRequest};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

/// Longest SQL text accepted.
const MAX_SQL: usize = 1 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Json,
    Csv,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecBody {
    pub sql: String,
    #[serde(default)]
    pub format: Option<Format>,
}

fn wants_csv(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case("text/csv")
        })
}

pub async fn exec(
    State(app): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    headers: HeaderMap,
    Body(body): Body<ExecBody>,
) -> ApiResult<Response> {
    if body.sql.trim().is_empty() {
        return Err(ApiError::invalid("sql is empty"));
    }
    if body.sql.len() > MAX_SQL {
        return Err(ApiError::invalid(format!(
            "sql is longer than {MAX_SQL} bytes"
        )));
    }
    let format = body.format.unwrap_or(if wants_csv(&headers) {
        Format::Csv
    } else {
        Format::Json
    });
    let connection = visible_connection(&app, &caller, &name).await?;
    let executor = app.api.executor.clone().ok_or_else(|| {
        ApiError::not_implemented("exec needs the gateway, which this API is served without")
    })?;
    let actor = caller.actor()?;
    let outcome = executor
        .exec(ExecRequest {
            identity: actor.identity,
            client_address: actor.client_address.unwrap_or_else(|| "api".into()),
            connection: connection.name,
            sql: body.sql,
        })
        .await?;
    match outcome {
        ExecOutcome::Held { review, message } => Ok((
            StatusCode::ACCEPTED,
            Json(serde_json::json!({ "review": review, "message": message })),
        )
            .into_response()),
        ExecOutcome::Ran(output) => match format {
            Format::Json => Ok(Json(output).into_response()),
            Format::Csv => {
                if let Some(error) = &output.error {
                    return Err(ApiError::new(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "query_failed",
                        format!("{}: {}", error.code, error.message),
                    ));
                }
                let mut response = csv(&output).into_response();
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/csv; charset=utf-8"),
                );
                Ok(response)
            }
        },
    }
}

/// RFC 4180 CSV of every result (see the module docs).
pub fn csv(output: &ExecOutput) -> String {
    let mut out = String::new();
    for (index, result) in output.results.iter().enumerate() {
        if index > 0 {
            out.push_str("\r\n");
        }
        let header = result.columns.iter().map(|c| Some(c.name.as_str()));
        line(&mut out, header);
        for row in &result.rows {
            line(&mut out, row.iter().map(|cell| cell.as_deref()));
        }
    }
    out
}

fn line<'a>(out: &mut String, cells: impl Iterator<Item = Option<&'a str>>) {
    for (index, cell) in cells.enumerate() {
        if index > 0 {
            out.push(',');
        }
        match cell {
            None => {}
            Some(text) => {
                let quote = text.is_empty()
                    || text.chars().any(|c| matches!(c, ',' | '"' | '\n' | '\r'))
                    || text.starts_with(' ')
                    || text.ends_with(' ');
                if quote {
                    out.push('"');
                    out.push_str(&text.replace('"', "\"\""));
                    out.push('"');
                } else {
                    out.push_str(text);
                }
            }
        }
    }
    out.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::{ExecColumn, ExecResult};

    #[test]
    fn csv_quotes_what_needs_it_and_leaves_null_empty() {
        let column = |name: &str| ExecColumn {
            name: name.into(),
            type_name: "text".into(),
            type_oid: 25,
        };
        let output = ExecOutput {
            session_id: "s".into(),
            connection: "db.ro".into(),
            review_id: None,
            results: vec![
                ExecResult {
                    columns: vec![column("a"), column("b,c")],
                    rows: vec![
                        vec![Some("1".into()), None],
                        vec![Some("say \"hi\"".into()), Some("".into())],
                        vec![Some("two\nlines".into()), Some(" pad".into())],
                    ],
                    command_tag: Some("SELECT 3".into()),
                },
                ExecResult {
                    columns: vec![column("n")],
                    rows: vec![vec![Some("7".into())]],
                    command_tag: Some("SELECT 1".into()),
                },
            ],
            error: None,
            truncated: false,
        };
        assert_eq!(
            csv(&output),
            "a,\"b,c\"\r\n1,\r\n\"say \"\"hi\"\"\",\"\"\r\n\"two\nlines\",\" pad\"\r\n\r\nn\r\n7\r\n"
        );
    }
}
