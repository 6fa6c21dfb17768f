//! Reading the upstream's answer to one simple query into exec results,
//! through the result hooks, up to `ReadyForQuery`.
//!
//! Per result (`RowDescription` … `CommandComplete`): `on-result-start`
//! with the columns; when a plugin inspects rows they are gathered into
//! flat batches ([`BATCH_ROWS`] rows or [`BATCH_BYTES`] bytes) shown to
//! `on-result-rows` (edits applied) before they are kept; `on-result-end`
//! adds the plugins' counters. A plugin fault withholds the whole result
//! (none of its rows are kept) and is reported as the error. Rows past
//! `max_rows` (over all results) are read and dropped, never shown to
//! plugins, and mark the output truncated. `COPY … FROM STDIN` is refused
//! (`CopyFail`: exec has no data to send); `COPY … TO STDOUT` output is
//! not kept.

use crate::pg::results::{BATCH_BYTES, BATCH_ROWS, columns};
use crate::pg::upstream::UpstreamConnection;
use crate::pg::wire::backend::row_description::decode_row_description;
use crate::pg::wire::backend::{DataRow, ErrorFields};
use crate::pg::wire::framing::read_message;
use crate::pg::wire::frontend::FrontendMessage;
use crate::pg::wire::tags;
use bytes::BytesMut;
use gatehouse_api::{ExecColumn, ExecFailure, ExecResult};
use gatehouse_runtime::SessionPlugins;
use gatehouse_runtime::types::{ResultSummary, RowBatch};
use tokio::io::AsyncWriteExt;

/// Largest message accepted from the upstream.
const MAX_UPSTREAM_MESSAGE: usize = 1 << 30;

/// What one query produced.
#[derive(Debug, Default)]
pub struct Collected {
    pub results: Vec<ExecResult>,
    pub error: Option<ExecFailure>,
    pub truncated: bool,
    /// Rows the upstream sent (kept or not).
    pub rows: u64,
    /// The last command tag.
    pub command_tag: Option<String>,
    pub counters: Vec<(String, u64)>,
    /// A plugin fault withheld a result.
    pub aborted: Option<String>,
}

/// The result being read.
struct Current {
    result: ExecResult,
    /// Rows batched for the inspecting plugins (`None`: nobody inspects).
    batch: Option<RowBatch>,
    withheld: Option<String>,
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Keep the rows of `batch` (after the plugins' edits) while under the cap.
fn keep_batch(
    batch: &RowBatch,
    result: &mut ExecResult,
    kept: &mut u64,
    max_rows: u64,
    truncated: &mut bool,
) {
    let mut offset = 0usize;
    let mut lengths = batch.cell_lengths.iter();
    for _ in 0..batch.rows {
        let mut row = Vec::with_capacity(batch.columns as usize);
        for _ in 0..batch.columns {
            let length = *lengths.next().unwrap_or(&-1);
            if length < 0 {
                row.push(None);
            } else {
                let end = offset + length as usize;
                row.push(Some(text(&batch.data[offset..end.min(batch.data.len())])));
                offset = end;
            }
        }
        if *kept < max_rows {
            result.rows.push(row);
            *kept += 1;
        } else {
            *truncated = true;
        }
    }
}

async fn flush(
    current: &mut Current,
    plugins: &mut SessionPlugins,
    kept: &mut u64,
    max_rows: u64,
    truncated: &mut bool,
) {
    let Some(batch) = current.batch.as_mut() else {
        return;
    };
    if batch.rows == 0 || current.withheld.is_some() {
        return;
    }
    match plugins.on_result_rows(batch).await {
        Ok(()) => keep_batch(batch, &mut current.result, kept, max_rows, truncated),
        Err(fault) => current.withheld = Some(fault.to_string()),
    }
    batch.rows = 0;
    batch.data.clear();
    batch.cell_lengths.clear();
}

/// Read the answer to the query just sent (see the module docs).
pub async fn collect(
    upstream: &mut UpstreamConnection,
    plugins: &mut SessionPlugins,
    query_id: u64,
    max_rows: u64,
) -> anyhow::Result<Collected> {
    let mut buffer = std::mem::take(&mut upstream.read_buffer);
    let mut out = Collected::default();
    let mut kept = 0u64;
    let mut current: Option<Current> = None;
    loop {
        let Some(message) =
            read_message(&mut upstream.stream, &mut buffer, MAX_UPSTREAM_MESSAGE).await?
        else {
            anyhow::bail!("the upstream server closed the connection");
        };
        match message.tag {
            tags::backend::ROW_DESCRIPTION => {
                let fields = decode_row_description(&message.body)?;
                let described = columns(&fields);
                let mut next = Current {
                    result: ExecResult {
                        columns: described
                            .iter()
                            .map(|c| ExecColumn {
                                name: c.name.clone(),
                                type_name: c.type_name.clone(),
                                type_oid: c.type_oid,
                            })
                            .collect(),
                        ..Default::default()
                    },
                    batch: None,
                    withheld: None,
                };
                match plugins.on_result_start(query_id, &described).await {
                    Ok(true) => {
                        next.batch = Some(RowBatch {
                            columns: described.len() as u32,
                            rows: 0,
                            data: Vec::new(),
                            cell_lengths: Vec::new(),
                        })
                    }
                    Ok(false) => {}
                    Err(fault) => next.withheld = Some(fault.to_string()),
                }
                current = Some(next);
            }
            tags::backend::DATA_ROW => {
                out.rows += 1;
                let Some(cur) = current.as_mut() else {
                    anyhow::bail!("a data row arrived without a row description");
                };
                if cur.withheld.is_some() {
                    continue;
                }
                if kept >= max_rows {
                    out.truncated = true;
                    continue;
                }
                let row = DataRow::decode(message.body.clone())?;
                if row.columns() != cur.result.columns.len() {
                    cur.withheld = Some(format!(
                        "a row has {} columns but the result was described with {}",
                        row.columns(),
                        cur.result.columns.len()
                    ));
                    continue;
                }
                match cur.batch.as_mut() {
                    None => {
                        cur.result
                            .rows
                            .push(row.cell_bytes().map(|c| c.map(|b| text(&b))).collect());
                        kept += 1;
                    }
                    Some(batch) => {
                        row.append_to_batch(&mut batch.data, &mut batch.cell_lengths);
                        batch.rows += 1;
                        if batch.rows >= BATCH_ROWS || batch.data.len() >= BATCH_BYTES {
                            flush(cur, plugins, &mut kept, max_rows, &mut out.truncated).await;
                        }
                    }
                }
            }
            tags::backend::COMMAND_COMPLETE => {
                let tag = text(message.body.strip_suffix(&[0]).unwrap_or(&message.body));
                let mut cur = current.take().unwrap_or(Current {
                    result: ExecResult::default(),
                    batch: None,
                    withheld: None,
                });
                flush(&mut cur, plugins, &mut kept, max_rows, &mut out.truncated).await;
                if cur.batch.is_some() && cur.withheld.is_none() {
                    let summary = ResultSummary {
                        command_tag: tag.clone(),
                        rows: cur.result.rows.len() as u64,
                    };
                    match plugins.on_result_end(&summary).await {
                        Ok(counters) => out
                            .counters
                            .extend(counters.into_iter().map(|c| (c.name, c.value))),
                        Err(fault) => cur.withheld = Some(fault.to_string()),
                    }
                }
                out.command_tag = Some(tag.clone());
                match cur.withheld {
                    Some(reason) => {
                        out.error.get_or_insert(ExecFailure {
                            code: "42501".into(),
                            message: format!("result withheld: {reason}"),
                        });
                        out.aborted = Some(reason);
                    }
                    None => {
                        cur.result.command_tag = Some(tag);
                        out.results.push(cur.result);
                    }
                }
            }
            tags::backend::ERROR_RESPONSE => {
                // Rows produced before the error are kept (through the hooks).
                if let Some(mut cur) = current.take() {
                    flush(&mut cur, plugins, &mut kept, max_rows, &mut out.truncated).await;
                    if cur.withheld.is_none() && !cur.result.rows.is_empty() {
                        out.results.push(cur.result);
                    }
                }
                let fields = ErrorFields::decode(&message.body, "ErrorResponse")?;
                out.error = Some(ExecFailure {
                    code: fields.code().unwrap_or("XX000").to_string(),
                    message: fields.message().unwrap_or("error").to_string(),
                });
            }
            tags::backend::COPY_IN_RESPONSE => {
                let mut fail = BytesMut::new();
                FrontendMessage::CopyFail {
                    message: "exec has no data for COPY FROM STDIN".into(),
                }
                .encode(&mut fail)?;
                upstream.stream.write_all(&fail).await?;
            }
            tags::backend::COPY_OUT_RESPONSE => {
                out.error.get_or_insert(ExecFailure {
                    code: "0A000".into(),
                    message: "exec does not return COPY … TO STDOUT output".into(),
                });
            }
            tags::backend::READY_FOR_QUERY => {
                upstream.read_buffer = buffer;
                return Ok(out);
            }
            // Notices, parameter changes, COPY data, empty queries.
            _ => {}
        }
    }
}
