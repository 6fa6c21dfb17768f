//! The active file and the append of one line.
//!
//! Invariants:
//! * **Whole lines only.** A line is written with one `write_all`; if that
//!   or the `fsync` fails, the file is cut back to its length before the
//!   write and the error is returned, so the host's retry appends the line
//!   once. A file found ending in a torn line (a crash mid-write) is cut
//!   back to its last complete line when opened.
//! * **Append only to the newest file.** The day of a line is its event's
//!   UTC day, but never earlier than the newest file's: a late event (a
//!   retry after an outage) goes to the current file rather than reopening
//!   an older one that a shipper may have finished with or retention
//!   deleted.
//! * **At most once per retry of the same event.** The id of the last event
//!   written is remembered (and recovered from the newest file's last line
//!   when the sink starts), so a retry of an event that was in fact written
//!   (the acknowledgement was lost) is not written again. Only the last
//!   event is remembered; `event.id` lets downstream de-duplicate the rest.
//! * State is per service instance; hooks are never concurrent. Two sinks
//!   must not share a directory and prefix.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::files::{self, Segment};

/// How much of the newest file's tail is read to recover the last line.
const TAIL_BYTES: u64 = 64 << 10;

/// What happened besides the append, for the log.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// The event had been written already (a retry); nothing was written.
    pub duplicate: bool,
    /// A new file was started.
    pub opened: Option<String>,
    /// Files deleted by retention.
    pub deleted: Vec<String>,
    /// Retention could not delete old files (the event was written).
    pub retention_error: Option<String>,
    /// Bytes of a torn last line cut off when the newest file was opened.
    pub repaired: u64,
}

struct Active {
    segment: Segment,
    file: File,
    size: u64,
}

pub struct Sink {
    dir: PathBuf,
    config: Config,
    /// `None` until the first event (the directory is looked at lazily).
    active: Option<Active>,
    last_id: Option<String>,
}

impl Sink {
    pub fn new(dir: impl Into<PathBuf>, config: Config) -> Self {
        Self {
            dir: dir.into(),
            config,
            active: None,
            last_id: None,
        }
    }

    fn path(&self, segment: &Segment) -> PathBuf {
        self.dir.join(segment.file_name(&self.config.prefix))
    }

    /// Append `line` (no newline) for the event `id` of UTC day `day`.
    pub fn append(&mut self, id: &str, day: &str, line: &str) -> io::Result<Report> {
        let mut report = Report::default();
        if self.active.is_none() {
            self.resume(&mut report)?;
        }
        if self.last_id.as_deref() == Some(id) {
            report.duplicate = true;
            return Ok(report);
        }
        let record_len = line.len() as u64 + 1;
        let next = match &self.active {
            None => Some(Segment::new(day, 0)),
            Some(active) if day > active.segment.day.as_str() => Some(Segment::new(day, 0)),
            Some(active) if active.size > 0 && active.size + record_len > self.config.max_bytes => {
                Some(Segment::new(
                    active.segment.day.clone(),
                    active.segment.index + 1,
                ))
            }
            Some(_) => None,
        };
        if let Some(segment) = next {
            self.open(segment, &mut report)?;
        }
        let fsync = self.config.fsync;
        let active = self.active.as_mut().expect("a file is open");
        let mut record = String::with_capacity(line.len() + 1);
        record.push_str(line);
        record.push('\n');
        let written = active.file.write_all(record.as_bytes()).and_then(|()| {
            if fsync {
                active.file.sync_data()
            } else {
                Ok(())
            }
        });
        if let Err(error) = written {
            // Leave no partial line behind; the retry writes it whole.
            let _ = active.file.set_len(active.size);
            return Err(error);
        }
        active.size += record_len;
        self.last_id = Some(id.to_string());
        Ok(report)
    }

    /// Pick up the newest existing file (if any) where it ends.
    fn resume(&mut self, report: &mut Report) -> io::Result<()> {
        let Some(newest) = files::list(&self.dir, &self.config.prefix)?.pop() else {
            return Ok(());
        };
        let path = self.path(&newest);
        let file = OpenOptions::new().append(true).open(&path)?;
        // The tail is read through a handle of its own: reads through an
        // append-mode handle can end early under WASI, and a short read
        // must never be mistaken for a torn line (that would cut lines).
        let mut reader = File::open(&path)?;
        let (size, last_line) = repair_tail(&mut reader, &file, &mut report.repaired)?;
        self.last_id = last_line.as_deref().and_then(event_id);
        self.active = Some(Active {
            segment: newest,
            file,
            size,
        });
        Ok(())
    }

    /// Start (or continue) `segment` as the active file, then apply
    /// retention.
    fn open(&mut self, segment: Segment, report: &mut Report) -> io::Result<()> {
        let path = self.path(&segment);
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        let size = file.metadata()?.len();
        report.opened = Some(segment.file_name(&self.config.prefix));
        self.active = Some(Active {
            segment,
            file,
            size,
        });
        // Retention failing must not fail the event: it is reported.
        match files::enforce_retention(&self.dir, &self.config.prefix, self.config.keep_files) {
            Ok(deleted) => report.deleted = deleted,
            Err(error) => report.retention_error = Some(error.to_string()),
        }
        Ok(())
    }
}

/// Cut a torn last line off the file (read through `reader`, cut through
/// `writer`); return its length and last line. The whole tail window is
/// read (`read_exact`), so only bytes actually seen after the last newline
/// are ever cut.
fn repair_tail(
    reader: &mut File,
    writer: &File,
    repaired: &mut u64,
) -> io::Result<(u64, Option<String>)> {
    let size = reader.metadata()?.len();
    if size == 0 {
        return Ok((0, None));
    }
    let start = size.saturating_sub(TAIL_BYTES);
    reader.seek(SeekFrom::Start(start))?;
    let mut tail = vec![0; (size - start) as usize];
    reader.read_exact(&mut tail)?;
    let complete = match tail.iter().rposition(|b| *b == b'\n') {
        Some(i) => i + 1,
        // No newline in the tail: a torn line longer than the tail, or a
        // tail inside one huge line. Cut only a file that is all torn line.
        None if start == 0 => 0,
        None => return Ok((size, None)),
    };
    let good = start + complete as u64;
    if good < size {
        writer.set_len(good)?;
        *repaired = size - good;
    }
    let body = &tail[..complete];
    let last = body
        .strip_suffix(b"\n")
        .map(|b| b.rsplit(|c| *c == b'\n').next().unwrap_or(b))
        .map(|b| String::from_utf8_lossy(b).into_owned());
    Ok((good, last))
}

/// `event.id` of a line this sink wrote.
fn event_id(line: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(line).ok()?;
    value["event"]["id"].as_str().map(str::to_string)
}

/// The directory the `files` grant is preopened at.
pub fn granted_dir() -> &'static Path {
    Path::new("/data")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(max_bytes: u64, keep_files: u32) -> Config {
        Config {
            prefix: "audit".into(),
            max_bytes,
            keep_files,
            fsync: true,
        }
    }

    /// 84 bytes for a two-letter id: three lines (with newlines) fill 255
    /// of a 256-byte file.
    fn line(id: &str) -> String {
        format!(r#"{{"event":{{"id":"{id}"}},"pad":"{}"}}"#, "x".repeat(54))
    }

    fn names(dir: &Path) -> Vec<String> {
        files::list(dir, "audit")
            .unwrap()
            .iter()
            .map(|s| s.file_name("audit"))
            .collect()
    }

    #[test]
    fn rotates_by_day_and_size_and_keeps_n() {
        let dir = tempfile::tempdir().unwrap();
        let mut sink = Sink::new(dir.path(), config(256, 3));
        for i in 0..4 {
            sink.append(&format!("a{i}"), "2025-01-18", &line(&format!("a{i}")))
                .unwrap();
        }
        assert_eq!(line("a0").len(), 84);
        // Three lines a file, then a new one.
        assert_eq!(
            names(dir.path()),
            ["audit-2025-01-18.jsonl", "audit-2025-01-18.1.jsonl"]
        );
        let report = sink.append("b0", "2025-01-19", &line("b0")).unwrap();
        assert_eq!(report.opened.as_deref(), Some("audit-2025-01-19.jsonl"));
        // A late event stays in the newest file.
        sink.append("la", "2025-01-17", &line("la")).unwrap();
        for i in 0..6 {
            sink.append(&format!("c{i}"), "2025-01-19", &line(&format!("c{i}")))
                .unwrap();
        }
        assert_eq!(
            names(dir.path()),
            [
                "audit-2025-01-19.jsonl",
                "audit-2025-01-19.1.jsonl",
                "audit-2025-01-19.2.jsonl"
            ]
        );
        let day = std::fs::read_to_string(dir.path().join("audit-2025-01-19.jsonl")).unwrap();
        assert!(day.lines().next().unwrap().contains("\"b0\""));
        assert!(day.lines().nth(1).unwrap().contains("\"la\""));
    }

    #[test]
    fn retries_of_the_last_event_are_written_once_even_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let mut sink = Sink::new(dir.path(), config(1 << 20, 0));
        sink.append("e1", "2025-01-18", &line("e1")).unwrap();
        assert!(
            sink.append("e1", "2025-01-18", &line("e1"))
                .unwrap()
                .duplicate
        );
        let mut restarted = Sink::new(dir.path(), config(1 << 20, 0));
        assert!(
            restarted
                .append("e1", "2025-01-18", &line("e1"))
                .unwrap()
                .duplicate
        );
        restarted.append("e2", "2025-01-18", &line("e2")).unwrap();
        let text = std::fs::read_to_string(dir.path().join("audit-2025-01-18.jsonl")).unwrap();
        assert_eq!(text.lines().count(), 2);
    }

    #[test]
    fn a_torn_last_line_is_cut_off() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit-2025-01-18.jsonl");
        std::fs::write(&path, format!("{}\n{{\"event\":{{\"id\":\"to", line("e1"))).unwrap();
        let mut sink = Sink::new(dir.path(), config(1 << 20, 0));
        let report = sink.append("e2", "2025-01-18", &line("e2")).unwrap();
        assert_eq!(report.repaired, 18);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, format!("{}\n{}\n", line("e1"), line("e2")));
    }

    #[test]
    fn other_files_are_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("README"), "keep me").unwrap();
        std::fs::write(dir.path().join("other-2020-01-01.jsonl"), "x\n").unwrap();
        let mut sink = Sink::new(dir.path(), config(256, 1));
        for i in 0..10 {
            sink.append(&format!("e{i}"), "2025-01-18", &line(&format!("e{i}")))
                .unwrap();
        }
        assert_eq!(names(dir.path()).len(), 1);
        assert!(dir.path().join("README").exists());
        assert!(dir.path().join("other-2020-01-01.jsonl").exists());
    }
}
