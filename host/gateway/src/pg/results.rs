//! The result path of one query: rows from upstream, through the plugins
//! that asked to inspect them, to the client, in bounded batches.
//!
//! Per result (a `RowDescription` … `CommandComplete`):
//! * `on_result_start` with the columns decides whether any plugin inspects
//!   rows. If none does, rows are relayed as raw messages (no parsing, no
//!   copy beyond the output buffer).
//! * Otherwise `DataRow`s are appended to a flat [`RowBatch`] (cells copied
//!   once) and handed to the plugins every [`BATCH_ROWS`] rows or
//!   [`BATCH_BYTES`] bytes, then re-encoded. Memory stays bounded however
//!   large the result.
//! * A plugin fault aborts the result: rows not yet sent are withheld (fail
//!   closed) and the caller reports the error to the client.

use crate::pg::types::type_name;
use crate::pg::wire::backend::data_row::encode_batch;
use crate::pg::wire::backend::{DataRow, FieldDescription};
use bytes::BytesMut;
use gatehouse_runtime::SessionPlugins;
use gatehouse_runtime::types::{CellFormat, Column, RowBatch};

/// Rows per batch shown to plugins.
pub const BATCH_ROWS: u32 = 512;
/// Bytes of cell data per batch shown to plugins.
pub const BATCH_BYTES: usize = 256 << 10;

/// Columns as plugins see them.
pub fn columns(fields: &[FieldDescription]) -> Vec<Column> {
    fields
        .iter()
        .map(|f| Column {
            name: f.name.clone(),
            type_oid: f.type_oid,
            type_name: type_name(f.type_oid).to_string(),
            format: if f.format == 1 {
                CellFormat::Binary
            } else {
                CellFormat::Text
            },
        })
        .collect()
}

/// Rows of the current result waiting to be inspected.
pub struct PendingRows {
    batch: RowBatch,
}

impl PendingRows {
    pub fn new(columns: u32) -> Self {
        Self {
            batch: RowBatch {
                columns,
                rows: 0,
                data: Vec::new(),
                cell_lengths: Vec::new(),
            },
        }
    }

    /// Add a row; `Ok(true)` when the batch is full and should be flushed.
    /// A row whose width differs from the described columns is refused
    /// (the hooks were told about other columns): the result must be
    /// withheld, never passed on unseen.
    pub fn push(&mut self, row: &DataRow) -> Result<bool, String> {
        if row.columns() != self.batch.columns as usize {
            return Err(format!(
                "a row has {} columns but the result was described with {}",
                row.columns(),
                self.batch.columns
            ));
        }
        row.append_to_batch(&mut self.batch.data, &mut self.batch.cell_lengths);
        self.batch.rows += 1;
        Ok(self.batch.rows >= BATCH_ROWS || self.batch.data.len() >= BATCH_BYTES)
    }

    pub fn is_empty(&self) -> bool {
        self.batch.rows == 0
    }

    /// Show the batch to the plugins and encode the (possibly edited) rows
    /// into `out`. The batch is emptied either way. `Err` carries why the
    /// rest of the result must be withheld.
    pub async fn flush(
        &mut self,
        plugins: &mut SessionPlugins,
        out: &mut BytesMut,
    ) -> Result<(), String> {
        if self.batch.rows == 0 {
            return Ok(());
        }
        let outcome = match plugins.on_result_rows(&mut self.batch).await {
            Ok(()) => {
                let batch = &self.batch;
                encode_batch(
                    out,
                    batch.columns,
                    batch.rows,
                    &batch.data,
                    &batch.cell_lengths,
                )
                .map_err(|e| format!("edited rows could not be encoded: {e}"))
            }
            Err(fault) => Err(fault.to_string()),
        };
        self.batch.rows = 0;
        self.batch.data.clear();
        self.batch.cell_lengths.clear();
        outcome
    }
}
