//! DataRow, the hot path of every result: one row as `count: i16`, then per
//! cell `length: i32` (-1 for NULL) and the bytes.
//!
//! Invariants:
//! * A [`DataRow`] holds the message body as a zero-copy [`Bytes`] slice of
//!   the read buffer and is validated once, at decode: the column count is
//!   non-negative, every length is -1 or fits in what remains, and nothing
//!   follows the last cell. Iterating ([`DataRow::cells`]) then neither
//!   allocates nor fails.
//! * Cells are never copied except into a plugin's row batch
//!   ([`DataRow::append_to_batch`]), whose layout is the WIT `row-batch`
//!   (`wit/v0.1/types.wit`): row-major `data` with one `cell_lengths` entry
//!   per cell, -1 for NULL. [`encode_batch`] turns a (possibly edited) batch
//!   back into DataRow messages after checking it is consistent.
//!
//! Failure modes: [`WireError::Truncated`], [`WireError::TrailingBytes`],
//! [`WireError::Invalid`] (negative count, a length below -1, an
//! inconsistent batch).

use std::ops::Range;

use bytes::{BufMut, Bytes, BytesMut};

use super::super::cursor::{Cursor, begin_message, check_count, finish_message};
use super::super::error::WireError;
use super::super::tags::backend::DATA_ROW;

/// One validated result row, borrowing nothing: the body is a shared slice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataRow {
    body: Bytes,
    columns: usize,
}

impl DataRow {
    /// Validates a DataRow body.
    pub fn decode(body: Bytes) -> Result<Self, WireError> {
        let mut c = Cursor::new(&body, "DataRow");
        let columns = c.count("column", 4)?;
        for _ in 0..columns {
            match c.i32()? {
                -1 => {}
                n if n < 0 => {
                    return Err(WireError::invalid(
                        "DataRow",
                        format!("cell length {n} is below -1"),
                    ));
                }
                n => {
                    c.bytes(n as usize)?;
                }
            }
        }
        c.finish()?;
        Ok(DataRow { body, columns })
    }

    /// A row of `cells` (`None` is NULL).
    ///
    /// # Panics
    /// With more than 32767 cells or a cell over `i32::MAX` bytes, which the
    /// protocol cannot carry (PostgreSQL's own limit is 1664 columns).
    pub fn from_cells(cells: &[Option<&[u8]>]) -> Self {
        let mut body = BytesMut::with_capacity(
            2 + cells
                .iter()
                .map(|c| 4 + c.map_or(0, <[u8]>::len))
                .sum::<usize>(),
        );
        put_cells(&mut body, cells);
        DataRow {
            body: body.freeze(),
            columns: cells.len(),
        }
    }

    /// The number of cells.
    pub fn columns(&self) -> usize {
        self.columns
    }

    /// The raw message body.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// The cells in order, `None` for NULL; no allocation, no failure.
    pub fn cells(&self) -> Cells<'_> {
        Cells {
            body: &self.body,
            pos: 2,
            left: self.columns,
        }
    }

    /// The cells as owned zero-copy slices of the body (for keeping a cell
    /// beyond the row's borrow).
    pub fn cell_bytes(&self) -> impl ExactSizeIterator<Item = Option<Bytes>> + '_ {
        let mut cells = self.cells();
        (0..self.columns).map(move |_| cells.next_range().flatten().map(|r| self.body.slice(r)))
    }

    /// Appends this row's cells to a flat row batch (WIT `row-batch`): the
    /// bytes to `data`, one length per cell (-1 for NULL) to `cell_lengths`.
    pub fn append_to_batch(&self, data: &mut Vec<u8>, cell_lengths: &mut Vec<i32>) {
        // Body minus the count and the length words: exactly the cell bytes.
        data.reserve(self.body.len().saturating_sub(2 + 4 * self.columns));
        cell_lengths.reserve(self.columns);
        for cell in self.cells() {
            match cell {
                None => cell_lengths.push(-1),
                Some(bytes) => {
                    cell_lengths.push(bytes.len() as i32);
                    data.extend_from_slice(bytes);
                }
            }
        }
    }

    /// Appends the framed message.
    pub fn encode(&self, out: &mut BytesMut) {
        super::super::framing::write_message(out, DATA_ROW, &self.body);
    }
}

/// The cells of a [`DataRow`].
#[derive(Debug, Clone)]
pub struct Cells<'a> {
    body: &'a [u8],
    pos: usize,
    left: usize,
}

impl Cells<'_> {
    /// The next cell's byte range in the body (`Some(None)` for NULL).
    ///
    /// The row was validated at decode; the checks here only keep this
    /// panic-free should that ever be bypassed (iteration then just ends).
    fn next_range(&mut self) -> Option<Option<Range<usize>>> {
        if self.left == 0 {
            return None;
        }
        let header = self.body.get(self.pos..self.pos + 4)?;
        let len = i32::from_be_bytes([header[0], header[1], header[2], header[3]]);
        self.pos += 4;
        self.left -= 1;
        if len < 0 {
            return Some(None);
        }
        let end = self.pos + len as usize;
        if end > self.body.len() {
            self.left = 0;
            return None;
        }
        let range = self.pos..end;
        self.pos = end;
        Some(Some(range))
    }
}

impl<'a> Iterator for Cells<'a> {
    type Item = Option<&'a [u8]>;

    fn next(&mut self) -> Option<Self::Item> {
        let body = self.body;
        self.next_range().map(|cell| cell.map(|r| &body[r]))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for Cells<'_> {}

/// Writes the count and the cells of a DataRow body.
fn put_cells(out: &mut BytesMut, cells: &[Option<&[u8]>]) {
    let count =
        check_count("DataRow", "cells", cells.len()).expect("a DataRow has at most 32767 cells");
    out.put_i16(count);
    for cell in cells {
        match cell {
            None => out.put_i32(-1),
            Some(bytes) => {
                out.put_i32(i32::try_from(bytes.len()).expect("a cell is at most i32::MAX bytes"));
                out.put_slice(bytes);
            }
        }
    }
}

/// Appends a DataRow message of `cells` (`None` is NULL).
///
/// # Panics
/// As [`DataRow::from_cells`].
pub fn encode_data_row(out: &mut BytesMut, cells: &[Option<&[u8]>]) {
    let at = begin_message(out, DATA_ROW);
    put_cells(out, cells);
    finish_message(out, at);
}

/// Appends one DataRow message per row of a flat row batch (WIT
/// `row-batch`), after checking the batch is consistent: `rows * columns`
/// lengths, each -1 or more, adding up to `data.len()`. On error nothing is
/// written.
pub fn encode_batch(
    out: &mut BytesMut,
    columns: u32,
    rows: u32,
    data: &[u8],
    cell_lengths: &[i32],
) -> Result<(), WireError> {
    const MESSAGE: &str = "row batch";
    let columns_n = check_count(MESSAGE, "columns", columns as usize)? as usize;
    let cells = columns_n as u64 * u64::from(rows);
    if cell_lengths.len() as u64 != cells {
        return Err(WireError::invalid(
            MESSAGE,
            format!(
                "{} cell lengths for {rows} rows of {columns} columns",
                cell_lengths.len()
            ),
        ));
    }
    let mut total: u64 = 0;
    for &len in cell_lengths {
        if len < -1 {
            return Err(WireError::invalid(
                MESSAGE,
                format!("cell length {len} is below -1"),
            ));
        }
        total += len.max(0) as u64;
    }
    if total != data.len() as u64 {
        return Err(WireError::invalid(
            MESSAGE,
            format!(
                "cell lengths add up to {total} bytes but the batch holds {}",
                data.len()
            ),
        ));
    }
    out.reserve(data.len() + rows as usize * (7 + 4 * columns_n));
    let mut offset = 0;
    for row in cell_lengths.chunks(columns_n.max(1)).take(rows as usize) {
        let at = begin_message(out, DATA_ROW);
        out.put_i16(columns_n as i16);
        for &len in row {
            out.put_i32(len);
            if len > 0 {
                let end = offset + len as usize;
                out.put_slice(&data[offset..end]);
                offset = end;
            }
        }
        finish_message(out, at);
    }
    if columns_n == 0 {
        // Rows of no columns: `chunks` yields nothing for an empty slice.
        for _ in 0..rows {
            let at = begin_message(out, DATA_ROW);
            out.put_i16(0);
            finish_message(out, at);
        }
    }
    Ok(())
}
