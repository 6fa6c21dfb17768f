//! Keyset pagination: a page of items and an opaque cursor for the next.
//!
//! Lists are ordered by a unique key (for sessions `started_at` then `id`,
//! newest first), and the cursor is the key of the last item returned, so a
//! page never repeats or skips an item when rows are added meanwhile (new
//! rows land before the first page, not in the middle). Cursors are opaque
//! strings to callers; a malformed one is [`StoreError::Invalid`].

use crate::error::{Result, StoreError};
use serde::Serialize;

/// What page to fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    /// At most this many items, 1..=1000.
    pub limit: u32,
    /// `Page::next` of the previous page; `None` for the first.
    pub cursor: Option<String>,
}

impl PageRequest {
    pub fn first(limit: u32) -> Self {
        PageRequest {
            limit,
            cursor: None,
        }
    }

    pub fn after(limit: u32, cursor: impl Into<String>) -> Self {
        PageRequest {
            limit,
            cursor: Some(cursor.into()),
        }
    }
}

impl Default for PageRequest {
    fn default() -> Self {
        PageRequest::first(100)
    }
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Cursor for the next page; `None` when this is the last.
    pub next: Option<String>,
}

/// `(time, id)` cursors: `"<time>.<id>"`.
pub(crate) fn encode(time: i64, id: &str) -> String {
    format!("{time}.{id}")
}

pub(crate) fn decode(cursor: &str) -> Result<(i64, String)> {
    cursor
        .split_once('.')
        .and_then(|(time, id)| Some((time.parse().ok()?, id.to_string())))
        .ok_or_else(|| StoreError::invalid("malformed page cursor"))
}
