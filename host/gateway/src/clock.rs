//! Wall-clock time as the store keeps it: Unix milliseconds in an `i64`.
//! A clock set before 1970 reads as 0 rather than failing: the times are
//! records and deadlines, never security decisions on their own.

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, in Unix milliseconds.
pub fn now_ms() -> i64 {
    unix_ms(SystemTime::now())
}

/// `at` in Unix milliseconds.
pub fn unix_ms(at: SystemTime) -> i64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
