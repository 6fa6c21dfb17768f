//! The audit journal: how a session makes an allowed query's event durable
//! without a round trip through other threads.
//!
//! A session encodes an allowed query's event as the store's row
//! (`gatehouse_store::audit::encode_row`, with an id from
//! [`Journal::next_id`]) and [`Journal::append_row`] writes it as one line
//! to the journal file with a single `write` on the calling (session)
//! thread, and returns: from then on the event survives the
//! process dying at any instant (it is in the kernel, like an SQLite
//! commit in `synchronous = normal`). The audit log's writer moves the
//! journal into the store in groups ([`Journal::take`], then
//! [`Taken::done`] once committed), before each of its own group commits
//! and every [`super::log::JOURNAL_INTERVAL`], so the store's sequence
//! keeps each producer's order: an event journaled before another was
//! queued is committed first. The lines go to the store as written
//! (`Audit::append_encoded`): an event is serialised once, by the session.
//!
//! Files: `<state_dir>/audit-journal/journal-<generation>.jsonl`. A take
//! switches writers to a fresh generation and hands over the old file,
//! which is deleted once its events are committed. Files left by a process
//! that died are replayed at the next start, before anything is served
//! ([`Journal::open`] returns them, oldest first; `AuditPipeline` replays
//! them with [`gatehouse_store::audit::Audit::append_encoded`]):
//! events already stored are skipped by id, so a crash between a commit and
//! the file's deletion stores nothing twice. A torn last line (the process
//! died inside a `write`) belongs to an event nobody was told about and is
//! skipped with a warning.
//!
//! Failure: `append_row` errors (a full disk …) reach the session, which
//! ends rather than answer unrecorded (fail closed). A write cut short
//! leaves a torn row in the file; the next row written starts with a
//! newline, so only the torn one (whose session was told nothing) is
//! skipped at a replay. The writer ingests rows from memory, where only
//! complete ones are kept.

use crate::clock::now_ms;
use gatehouse_store::audit::{NewAuditEvent, encode_event, is_row};
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// The journal's folder in the state directory.
pub const DIR: &str = "audit-journal";

/// The journal of this process.
pub struct Journal {
    dir: PathBuf,
    /// Unique per process start (16 hex characters): ids are `prefix` and
    /// a counter, so they also sort in the order they were drawn.
    prefix: String,
    counter: AtomicU64,
    active: Mutex<Active>,
}

struct Active {
    generation: u64,
    file: File,
    /// A write to `file` failed part way: it may end in a torn row, which
    /// the next write terminates with a newline first (so that row stays
    /// readable, and only the torn one is skipped at a replay).
    torn: bool,
    /// The rows written to `file` and not yet taken, as written.
    rows: Vec<u8>,
    count: usize,
}

/// Rows handed to the store writer, and the file that holds them.
pub struct Taken {
    /// Encoded rows, one per line (`Audit::append_encoded`).
    pub rows: Vec<u8>,
    pub count: usize,
    path: PathBuf,
}

impl Taken {
    /// The rows are committed: the file is no longer needed.
    pub fn done(self) {
        remove(&self.path);
    }
}

fn remove(path: &Path) {
    if let Err(err) = std::fs::remove_file(path) {
        tracing::warn!(path = %path.display(), error = %err,
            "could not delete an ingested audit journal file (it is replayed, and skipped, at the next start)");
    }
}

/// A journal file left by an earlier process: replay, then delete.
pub struct Leftover {
    pub path: PathBuf,
    /// Its well-formed rows, one per line.
    pub rows: Vec<u8>,
    pub count: usize,
}

/// An event id drawn from the journal: 32 ASCII hex characters.
#[derive(Clone, Copy)]
pub struct EventId([u8; 32]);

impl EventId {
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("hex digits")
    }
}

fn file_name(generation: u64) -> String {
    format!("journal-{generation:020}.jsonl")
}

fn generation_of(path: &Path) -> Option<u64> {
    path.file_name()?
        .to_str()?
        .strip_prefix("journal-")?
        .strip_suffix(".jsonl")?
        .parse()
        .ok()
}

fn create(dir: &Path, generation: u64) -> io::Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(file_name(generation)))
}

/// The rows of a journal file, one per line, and how many. A line that is
/// not a well-formed row (a write torn by a crash) is skipped; a line in
/// the format of earlier versions (a JSON event object with its id) is
/// encoded as a row, so a journal left by an upgraded gateway still
/// replays.
fn read(path: &Path) -> io::Result<(Vec<u8>, usize)> {
    let mut rows = Vec::new();
    let mut count = 0;
    for (number, line) in BufReader::new(File::open(path)?).split(b'\n').enumerate() {
        let line = line?;
        if line.is_empty() {
            continue;
        }
        let legacy = line
            .starts_with(b"{")
            .then(|| serde_json::from_slice::<NewAuditEvent>(&line).ok())
            .flatten();
        match legacy {
            Some(event) if event.id.is_some() => {
                let id = event.id.clone().expect("checked");
                encode_event(&mut rows, &event, &id, now_ms());
            }
            None if is_row(&line) => rows.extend_from_slice(&line),
            _ => {
                tracing::warn!(path = %path.display(), line = number + 1,
                    "skipping an unreadable audit journal line (a write cut short by a crash)");
                continue;
            }
        }
        rows.push(b'\n');
        count += 1;
    }
    Ok((rows, count))
}

impl Journal {
    /// Open the journal in `state_dir`; also returns the files an earlier
    /// process left, oldest first, with their rows.
    pub fn open(state_dir: &Path) -> io::Result<(Journal, Vec<Leftover>)> {
        let dir = state_dir.join(DIR);
        std::fs::create_dir_all(&dir)?;
        let mut old: Vec<(u64, PathBuf)> = std::fs::read_dir(&dir)?
            .filter_map(|entry| {
                let path = entry.ok()?.path();
                Some((generation_of(&path)?, path))
            })
            .collect();
        old.sort();
        let generation = old.last().map_or(0, |(g, _)| g + 1);
        let mut leftovers = Vec::with_capacity(old.len());
        for (_, path) in old {
            let (rows, count) = read(&path)?;
            leftovers.push(Leftover { path, rows, count });
        }
        let prefix = super::deliver::new_node_id();
        debug_assert_eq!(prefix.len(), 16);
        let journal = Journal {
            prefix,
            counter: AtomicU64::new(0),
            active: Mutex::new(Active {
                generation,
                file: create(&dir, generation)?,
                torn: false,
                rows: Vec::new(),
                count: 0,
            }),
            dir,
        };
        Ok((journal, leftovers))
    }

    /// A fresh id for an event to journal: never drawn before by any
    /// process (a random per-process prefix and a counter).
    pub fn next_id(&self) -> EventId {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let mut id = [0u8; 32];
        id[..16].copy_from_slice(&self.prefix.as_bytes()[..16]);
        hex::encode_to_slice(n.to_be_bytes(), &mut id[16..]).expect("16 hex digits fit");
        EventId(id)
    }

    /// Make one encoded row durable (`gatehouse_store::audit::encode_row`,
    /// with an id from [`Journal::next_id`], ending in a newline): one
    /// `write`, on this thread.
    pub fn append_row(&self, row: &[u8]) -> io::Result<()> {
        debug_assert!(row.ends_with(b"\n"));
        let mut active = self.active.lock().unwrap_or_else(|e| e.into_inner());
        let written = if active.torn {
            let mut terminated = Vec::with_capacity(row.len() + 1);
            terminated.push(b'\n');
            terminated.extend_from_slice(row);
            active.file.write_all(&terminated)
        } else {
            active.file.write_all(row)
        };
        active.torn = written.is_err();
        written?;
        active.rows.extend_from_slice(row);
        active.count += 1;
        Ok(())
    }

    /// Hand over what was written so far (`None`: nothing), switching
    /// writers to a fresh file.
    pub fn take(&self) -> io::Result<Option<Taken>> {
        let mut active = self.active.lock().unwrap_or_else(|e| e.into_inner());
        if active.count == 0 {
            return Ok(None);
        }
        let next = active.generation + 1;
        let file = create(&self.dir, next)?;
        let path = self.dir.join(file_name(active.generation));
        active.generation = next;
        active.file = file;
        active.torn = false;
        let count = std::mem::take(&mut active.count);
        Ok(Some(Taken {
            rows: std::mem::take(&mut active.rows),
            count,
            path,
        }))
    }
}

impl Leftover {
    /// Replayed: delete the file.
    pub fn done(self) {
        remove(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_store::audit::Outcome;
    use serde_json::Value;

    fn event(action: &str) -> NewAuditEvent {
        let mut event = NewAuditEvent::new("query", action, Outcome::Success);
        event.attributes = vec![("query.text".into(), "select 'a\nb'".into())];
        event
    }

    impl Journal {
        /// [`Journal::append_row`] for an event built as a
        /// [`NewAuditEvent`], with an id drawn here and the time now.
        fn append(&self, event: NewAuditEvent) -> io::Result<()> {
            let id = self.next_id();
            let mut row = Vec::new();
            encode_event(&mut row, &event, id.as_str(), now_ms());
            row.push(b'\n');
            self.append_row(&row)
        }
    }

    /// (id, time, action) of each row.
    fn rows(rows: &[u8]) -> Vec<(String, i64, String)> {
        rows.split(|b| *b == b'\n')
            .filter(|line| !line.is_empty())
            .map(|line| {
                let row: Vec<Value> = serde_json::from_slice(line).unwrap();
                assert_eq!(row.len(), gatehouse_store::audit::ROW_COLUMNS);
                (
                    row[0].as_str().unwrap().to_string(),
                    row[1].as_i64().unwrap(),
                    row[3].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    fn actions(taken: &[u8]) -> Vec<String> {
        rows(taken)
            .into_iter()
            .map(|(_, _, action)| action)
            .collect()
    }

    #[test]
    fn appended_events_are_taken_once_in_order_with_ids_and_times() {
        let dir = tempfile::tempdir().unwrap();
        let (journal, leftovers) = Journal::open(dir.path()).unwrap();
        assert!(leftovers.is_empty());
        assert!(journal.take().unwrap().is_none());
        journal.append(event("one")).unwrap();
        journal.append(event("two")).unwrap();
        let taken = journal.take().unwrap().unwrap();
        assert_eq!(taken.count, 2);
        let rows = rows(&taken.rows);
        assert_eq!(actions(&taken.rows), ["one", "two"]);
        assert!(rows.iter().all(|(id, time, _)| id.len() == 32 && *time > 0));
        assert!(
            rows[0].0 < rows[1].0,
            "ids sort in the order they were drawn"
        );
        assert!(journal.take().unwrap().is_none(), "taken once");
        journal.append(event("three")).unwrap();
        taken.done();
        let files = std::fs::read_dir(dir.path().join(DIR)).unwrap().count();
        assert_eq!(files, 1, "the ingested file is gone, the active one stays");
    }

    #[test]
    fn a_new_process_replays_what_the_last_one_left_and_skips_a_torn_line() {
        let dir = tempfile::tempdir().unwrap();
        let (journal, _) = Journal::open(dir.path()).unwrap();
        journal.append(event("one")).unwrap();
        let taken_later = journal.take().unwrap().unwrap(); // not done: crash
        journal.append(event("two")).unwrap();
        // A write cut short by the crash.
        let active = dir.path().join(DIR).join(file_name(1));
        let mut file = OpenOptions::new().append(true).open(&active).unwrap();
        file.write_all(br#"["0123","act"#).unwrap();
        drop(journal);

        let (again, leftovers) = Journal::open(dir.path()).unwrap();
        let replayed: Vec<Vec<String>> = leftovers.iter().map(|l| actions(&l.rows)).collect();
        assert_eq!(replayed, [vec!["one"], vec!["two"]]);
        assert_eq!(leftovers[1].count, 1);
        assert_eq!(leftovers[0].rows, taken_later.rows, "replayed as written");
        for leftover in leftovers {
            leftover.done();
        }
        again.append(event("three")).unwrap();
        let three = again.take().unwrap().unwrap();
        assert_eq!(three.count, 1);
        assert_ne!(rows(&three.rows)[0].0, rows(&taken_later.rows)[0].0);
    }

    #[test]
    fn a_row_after_a_failed_write_starts_on_its_own_line() {
        let dir = tempfile::tempdir().unwrap();
        let (journal, _) = Journal::open(dir.path()).unwrap();
        journal.append(event("one")).unwrap();
        {
            // What a write cut short by a full disk leaves.
            let mut active = journal.active.lock().unwrap();
            active.file.write_all(br#"["torn","#).unwrap();
            active.torn = true;
        }
        journal.append(event("two")).unwrap();
        drop(journal);
        let (_again, leftovers) = Journal::open(dir.path()).unwrap();
        assert_eq!(actions(&leftovers[0].rows), ["one", "two"]);
    }

    #[test]
    fn a_journal_in_the_earlier_event_format_replays_as_rows() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(DIR)).unwrap();
        let mut old = event("query.allowed");
        old.id = Some("legacy-1".into());
        old.time = Some(1234);
        let mut line = serde_json::to_vec(&old).unwrap();
        line.push(b'\n');
        std::fs::write(dir.path().join(DIR).join(file_name(7)), line).unwrap();
        let (_journal, leftovers) = Journal::open(dir.path()).unwrap();
        assert_eq!(
            rows(&leftovers[0].rows),
            [("legacy-1".to_string(), 1234, "query.allowed".to_string())]
        );
    }
}
