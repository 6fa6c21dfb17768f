//! [`Rows`]: a zero-copy view over a [`RowBatch`] plus the edits a plugin
//! makes to it.
//!
//! A batch arrives as one byte buffer and one length per cell (-1 = NULL).
//! Reading cells in order ([`Rows::cells`]) walks the lengths once and
//! allocates nothing; random access ([`Rows::get`]) computes the cell
//! offsets on first use. Only edited cells travel back to the host.

use crate::{CellEdit, RowBatch};

/// One cell of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cell<'a> {
    pub row: u32,
    pub column: u32,
    /// The cell's bytes as sent on the wire, or `None` for SQL NULL.
    pub value: Option<&'a [u8]>,
}

impl<'a> Cell<'a> {
    /// The value as UTF-8 text, if it is non-NULL valid UTF-8 (text format).
    pub fn text(&self) -> Option<&'a str> {
        self.value.and_then(|v| std::str::from_utf8(v).ok())
    }
}

/// A batch of result rows being inspected by a plugin.
pub struct Rows<'a> {
    batch: &'a RowBatch,
    offsets: Option<Vec<u32>>,
    edits: Vec<CellEdit>,
}

impl<'a> Rows<'a> {
    /// Wrap a batch. The host guarantees `cell-lengths` has
    /// `rows * columns` entries whose lengths fit `data`; a batch that does
    /// not is reported as empty rather than read out of bounds.
    pub fn new(batch: &'a RowBatch) -> Self {
        Self {
            batch,
            offsets: None,
            edits: Vec::new(),
        }
    }

    fn is_well_formed(&self) -> bool {
        let cells = self.batch.rows as usize * self.batch.columns as usize;
        cells == self.batch.cell_lengths.len()
    }

    pub fn row_count(&self) -> u32 {
        if self.is_well_formed() {
            self.batch.rows
        } else {
            0
        }
    }

    pub fn column_count(&self) -> u32 {
        self.batch.columns
    }

    /// Every cell, row-major, without allocating.
    pub fn cells(&self) -> impl Iterator<Item = Cell<'a>> + 'a {
        let batch: &'a RowBatch = self.batch;
        let columns = batch.columns.max(1);
        let usable = if self.is_well_formed() {
            batch.cell_lengths.len()
        } else {
            0
        };
        let mut offset = 0usize;
        batch.cell_lengths[..usable]
            .iter()
            .enumerate()
            .map_while(move |(index, &len)| {
                let value = if len < 0 {
                    None
                } else {
                    let end = offset.checked_add(len as usize)?;
                    let bytes = batch.data.get(offset..end)?;
                    offset = end;
                    Some(bytes)
                };
                Some(Cell {
                    row: index as u32 / columns,
                    column: index as u32 % columns,
                    value,
                })
            })
    }

    /// The cells of one column, top to bottom.
    pub fn column(&self, column: u32) -> impl Iterator<Item = Cell<'a>> + 'a {
        self.cells().filter(move |cell| cell.column == column)
    }

    /// One cell by position (computes offsets once per batch).
    pub fn get(&mut self, row: u32, column: u32) -> Option<Cell<'a>> {
        if row >= self.row_count() || column >= self.batch.columns {
            return None;
        }
        let batch: &'a RowBatch = self.batch;
        let offsets = self.offsets.get_or_insert_with(|| {
            let mut offsets = Vec::with_capacity(batch.cell_lengths.len());
            let mut at = 0u32;
            for &len in &batch.cell_lengths {
                offsets.push(at);
                at = at.saturating_add(len.max(0) as u32);
            }
            offsets
        });
        let index = (row * batch.columns + column) as usize;
        let len = batch.cell_lengths[index];
        let value = if len < 0 {
            None
        } else {
            let start = offsets[index] as usize;
            Some(batch.data.get(start..start + len as usize)?)
        };
        Some(Cell { row, column, value })
    }

    /// Replace a cell (`None` sets SQL NULL). The last edit of a cell wins.
    pub fn set(&mut self, row: u32, column: u32, value: Option<Vec<u8>>) {
        self.edits.push(CellEdit { row, column, value });
    }

    /// Edits made so far.
    pub fn edits(&self) -> &[CellEdit] {
        &self.edits
    }

    /// Hand the edits to the host.
    pub fn into_edits(self) -> Vec<CellEdit> {
        self.edits
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch() -> RowBatch {
        // 2 rows x 2 columns: ("a", NULL), ("bc", "")
        RowBatch {
            columns: 2,
            rows: 2,
            data: b"abc".to_vec(),
            cell_lengths: vec![1, -1, 2, 0],
        }
    }

    #[test]
    fn walks_cells_in_order() {
        let batch = batch();
        let rows = Rows::new(&batch);
        let cells: Vec<_> = rows.cells().map(|c| (c.row, c.column, c.value)).collect();
        assert_eq!(
            cells,
            vec![
                (0, 0, Some(&b"a"[..])),
                (0, 1, None),
                (1, 0, Some(&b"bc"[..])),
                (1, 1, Some(&b""[..]))
            ]
        );
    }

    #[test]
    fn random_access_matches_iteration() {
        let batch = batch();
        let mut rows = Rows::new(&batch);
        assert_eq!(rows.get(1, 0).unwrap().text(), Some("bc"));
        assert_eq!(rows.get(0, 1).unwrap().value, None);
        assert!(rows.get(2, 0).is_none());
    }

    #[test]
    fn malformed_batches_read_as_empty() {
        let batch = RowBatch {
            columns: 2,
            rows: 2,
            data: b"ab".to_vec(),
            cell_lengths: vec![1, 5, 1, 1],
        };
        let rows = Rows::new(&batch);
        // Second cell claims 5 bytes of a 2-byte buffer: iteration stops there.
        assert_eq!(rows.cells().count(), 1);
        let short = RowBatch {
            columns: 2,
            rows: 3,
            data: vec![],
            cell_lengths: vec![0],
        };
        assert_eq!(Rows::new(&short).row_count(), 0);
    }
}
