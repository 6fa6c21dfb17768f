//! File names, listing and retention.
//!
//! A day's events go to `<prefix>-YYYY-MM-DD.jsonl`; when it reaches
//! `max_bytes` the next file of the day is `<prefix>-YYYY-MM-DD.1.jsonl`,
//! then `.2.jsonl` and so on. Files are never renamed: a shipper tailing the
//! directory sees each file grow and then a new one appear, and the order
//! of files is the order of their names' `(day, index)`, which
//! [`Segment`]'s ordering follows (`YYYY-MM-DD` sorts as text).
//!
//! Only names this module produces are listed or deleted; anything else in
//! the directory is left alone.

use std::io;
use std::path::Path;

/// One file of the log: its day and its index within the day.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Segment {
    /// `YYYY-MM-DD` (UTC).
    pub day: String,
    pub index: u32,
}

impl Segment {
    pub fn new(day: impl Into<String>, index: u32) -> Self {
        Self {
            day: day.into(),
            index,
        }
    }

    /// The file name under `prefix`.
    pub fn file_name(&self, prefix: &str) -> String {
        match self.index {
            0 => format!("{prefix}-{}.jsonl", self.day),
            n => format!("{prefix}-{}.{n}.jsonl", self.day),
        }
    }

    /// The segment a file name under `prefix` stands for, if it is one.
    pub fn parse(prefix: &str, name: &str) -> Option<Self> {
        let rest = name.strip_prefix(prefix)?.strip_prefix('-')?;
        let rest = rest.strip_suffix(".jsonl")?;
        let (day, index) = match rest.split_once('.') {
            None => (rest, 0),
            Some((day, index)) => {
                let valid = !index.is_empty()
                    && !index.starts_with('0')
                    && index.bytes().all(|b| b.is_ascii_digit());
                if !valid {
                    return None;
                }
                (day, index.parse().ok()?)
            }
        };
        is_day_stamp(day).then(|| Self::new(day, index))
    }
}

fn is_day_stamp(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

/// Every segment under `prefix` in `dir`, oldest first.
pub fn list(dir: &Path, prefix: &str) -> io::Result<Vec<Segment>> {
    let mut segments = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if let Some(segment) = entry
            .file_name()
            .to_str()
            .and_then(|name| Segment::parse(prefix, name))
        {
            segments.push(segment);
        }
    }
    segments.sort();
    Ok(segments)
}

/// Delete the oldest segments until `keep` remain (`0` keeps all). The
/// newest is never deleted. Returns the names deleted; the first failure
/// stops and is returned (the event itself was already written).
pub fn enforce_retention(dir: &Path, prefix: &str, keep: u32) -> io::Result<Vec<String>> {
    if keep == 0 {
        return Ok(Vec::new());
    }
    let segments = list(dir, prefix)?;
    let excess = segments.len().saturating_sub(keep as usize);
    let mut deleted = Vec::new();
    for segment in &segments[..excess] {
        let name = segment.file_name(prefix);
        std::fs::remove_file(dir.join(&name))?;
        deleted.push(name);
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for segment in [
            Segment::new("2025-01-18", 0),
            Segment::new("2025-01-18", 12),
        ] {
            let name = segment.file_name("audit");
            assert_eq!(Segment::parse("audit", &name), Some(segment));
        }
        assert_eq!(
            Segment::new("2025-01-18", 2).file_name("gh"),
            "gh-2025-01-18.2.jsonl"
        );
        for other in [
            "audit-2025-01-18.jsonl.bak",
            "audit-2025-1-18.jsonl",
            "audit-2025-01-18.01.jsonl",
            "audit-2025-01-18..jsonl",
            "audits-2025-01-18.jsonl",
            "audit-x025-01-18.jsonl",
            "notes.txt",
        ] {
            assert_eq!(Segment::parse("audit", other), None, "{other}");
        }
    }

    #[test]
    fn order_is_day_then_index() {
        let mut segments = [
            Segment::new("2025-01-19", 0),
            Segment::new("2025-01-18", 10),
            Segment::new("2025-01-18", 2),
            Segment::new("2025-01-18", 0),
        ];
        segments.sort();
        let names: Vec<_> = segments.iter().map(|s| s.file_name("a")).collect();
        assert_eq!(
            names,
            [
                "a-2025-01-18.jsonl",
                "a-2025-01-18.2.jsonl",
                "a-2025-01-18.10.jsonl",
                "a-2025-01-19.jsonl"
            ]
        );
    }
}
