//! Applying a plugin's cell edits to a [`RowBatch`] in place.
//!
//! Edits are validated before anything changes: a position outside the
//! batch, or a batch whose lengths do not add up, rejects the whole edit
//! list (the caller treats that as a malformed answer and aborts the
//! result). The batch is rebuilt in one pass, copying each unchanged cell
//! once.

use crate::v0_1::types::{CellEdit, RowBatch};

/// Replace cells of `batch` by `edits` (later edits of a cell win).
pub fn apply_edits(batch: &mut RowBatch, mut edits: Vec<CellEdit>) -> Result<(), String> {
    let cells = batch.rows as usize * batch.columns as usize;
    if batch.cell_lengths.len() != cells {
        return Err(format!(
            "batch has {} cell lengths for {cells} cells",
            batch.cell_lengths.len()
        ));
    }
    for edit in &edits {
        if edit.row >= batch.rows || edit.column >= batch.columns {
            return Err(format!(
                "edit of cell ({}, {}) is outside the {}x{} batch",
                edit.row, edit.column, batch.rows, batch.columns
            ));
        }
        if edit
            .value
            .as_ref()
            .is_some_and(|v| v.len() > i32::MAX as usize)
        {
            return Err("edited value too large".into());
        }
    }
    // Stable sort keeps the last edit of a cell last.
    edits.sort_by_key(|e| (e.row, e.column));
    let mut data = Vec::with_capacity(batch.data.len());
    let mut lengths = Vec::with_capacity(cells);
    let mut offset = 0usize;
    let mut pending = edits.into_iter().peekable();
    for (index, &len) in batch.cell_lengths.iter().enumerate() {
        let original = if len < 0 {
            None
        } else {
            let end = offset + len as usize;
            let bytes = batch
                .data
                .get(offset..end)
                .ok_or("batch data shorter than its lengths")?;
            offset = end;
            Some(bytes)
        };
        let row = (index / batch.columns as usize) as u32;
        let column = (index % batch.columns as usize) as u32;
        let mut replacement: Option<Option<Vec<u8>>> = None;
        while let Some(edit) = pending.next_if(|e| e.row == row && e.column == column) {
            replacement = Some(edit.value);
        }
        let value = match &replacement {
            Some(new) => new.as_deref(),
            None => original,
        };
        match value {
            Some(bytes) => {
                data.extend_from_slice(bytes);
                lengths.push(bytes.len() as i32);
            }
            None => lengths.push(-1),
        }
    }
    batch.data = data;
    batch.cell_lengths = lengths;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch() -> RowBatch {
        RowBatch {
            columns: 2,
            rows: 2,
            data: b"abcd".to_vec(),
            cell_lengths: vec![1, -1, 2, 1],
        }
    }

    #[test]
    fn replaces_and_nulls_cells() {
        let mut b = batch();
        let edits = vec![
            CellEdit {
                row: 1,
                column: 0,
                value: Some(b"XYZ".to_vec()),
            },
            CellEdit {
                row: 0,
                column: 0,
                value: None,
            },
            CellEdit {
                row: 0,
                column: 1,
                value: Some(b"n".to_vec()),
            },
        ];
        apply_edits(&mut b, edits).unwrap();
        assert_eq!(b.cell_lengths, vec![-1, 1, 3, 1]);
        assert_eq!(b.data, b"nXYZd");
    }

    #[test]
    fn last_edit_of_a_cell_wins() {
        let mut b = batch();
        let edits = vec![
            CellEdit {
                row: 0,
                column: 0,
                value: Some(b"1".to_vec()),
            },
            CellEdit {
                row: 0,
                column: 0,
                value: Some(b"2".to_vec()),
            },
        ];
        apply_edits(&mut b, edits).unwrap();
        assert_eq!(&b.data[..1], b"2");
    }

    #[test]
    fn out_of_range_edits_change_nothing() {
        let mut b = batch();
        let err = apply_edits(
            &mut b,
            vec![CellEdit {
                row: 2,
                column: 0,
                value: None,
            }],
        )
        .unwrap_err();
        assert!(err.contains("outside"), "{err}");
        assert_eq!(b, batch());
    }
}
