//! The audit journal: how a session makes an allowed query's event durable
//! without a round trip through other threads.
//!
//! [`Journal::append`] gives the event its id and time, writes it as one
//! JSON line to the journal file with a single `write` on the calling
//! (session) thread, and returns: from then on the event survives the
//! process dying at any instant (it is in the kernel, like an SQLite
//! commit in `synchronous = normal`). The audit log's writer moves the
//! journal into the store in groups ([`Journal::take`], then
//! [`Taken::done`] once committed), before each of its own group commits
//! and every [`super::log::JOURNAL_INTERVAL`], so the store's sequence
//! keeps each producer's order: an event journaled before another was
//! queued is committed first.
//!
//! Files: `<state_dir>/audit-journal/journal-<generation>.jsonl`. A take
//! switches writers to a fresh generation and hands over the old file,
//! which is deleted once its events are committed. Files left by a process
//! that died are replayed at the next start, before anything is served
//! ([`Journal::open`] returns them, oldest first; `AuditPipeline` replays
//! them with [`gatehouse_store::audit::Audit::append_replayed`]):
//! events already stored are skipped by id, so a crash between a commit and
//! the file's deletion stores nothing twice. A torn last line (the process
//! died inside a `write`) belongs to an event nobody was told about and is
//! skipped with a warning.
//!
//! Failure: `append` errors (a full disk …) reach the session, which ends
//! rather than answer unrecorded (fail closed).

use gatehouse_store::audit::NewAuditEvent;
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
    /// Unique per process start: ids are `prefix` + a counter.
    prefix: String,
    counter: AtomicU64,
    active: Mutex<Active>,
}

struct Active {
    generation: u64,
    file: File,
    /// Events written to `file` and not yet taken.
    events: Vec<NewAuditEvent>,
}

/// Events handed to the store writer, and the file that holds them.
pub struct Taken {
    pub events: Vec<NewAuditEvent>,
    path: PathBuf,
}

impl Taken {
    /// The events are committed: the file is no longer needed.
    pub fn done(self) {
        if let Err(err) = std::fs::remove_file(&self.path) {
            tracing::warn!(path = %self.path.display(), error = %err,
                "could not delete an ingested audit journal file (it is replayed, and skipped, at the next start)");
        }
    }
}

/// A journal file left by an earlier process: replay, then delete.
pub struct Leftover {
    pub path: PathBuf,
    pub events: Vec<NewAuditEvent>,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
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

/// The events of a journal file; a line that does not parse (a torn last
/// write) is skipped.
fn read(path: &Path) -> io::Result<Vec<NewAuditEvent>> {
    let mut events = Vec::new();
    for (number, line) in BufReader::new(File::open(path)?).lines().enumerate() {
        let line = line?;
        if line.is_empty() {
            continue;
        }
        match serde_json::from_str::<NewAuditEvent>(&line) {
            Ok(event) if event.id.is_some() => events.push(event),
            _ => tracing::warn!(path = %path.display(), line = number + 1,
                "skipping an unreadable audit journal line (a write cut short by a crash)"),
        }
    }
    Ok(events)
}

impl Journal {
    /// Open the journal in `state_dir`; also returns the files an earlier
    /// process left, oldest first, with their events.
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
            let events = read(&path)?;
            leftovers.push(Leftover { path, events });
        }
        let journal = Journal {
            prefix: super::deliver::new_node_id(),
            counter: AtomicU64::new(0),
            active: Mutex::new(Active {
                generation,
                file: create(&dir, generation)?,
                events: Vec::new(),
            }),
            dir,
        };
        Ok((journal, leftovers))
    }

    /// Make `event` durable: one line, one `write`, on this thread.
    pub fn append(&self, mut event: NewAuditEvent) -> io::Result<()> {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        event.id = Some(format!("{}{n:016x}", self.prefix));
        if event.time.is_none() {
            event.time = Some(now_ms());
        }
        let mut line = serde_json::to_vec(&event).map_err(io::Error::other)?;
        line.push(b'\n');
        let mut active = self.active.lock().unwrap_or_else(|e| e.into_inner());
        active.file.write_all(&line)?;
        active.events.push(event);
        Ok(())
    }

    /// Hand over what was written so far (`None`: nothing), switching
    /// writers to a fresh file.
    pub fn take(&self) -> io::Result<Option<Taken>> {
        let mut active = self.active.lock().unwrap_or_else(|e| e.into_inner());
        if active.events.is_empty() {
            return Ok(None);
        }
        let next = active.generation + 1;
        let file = create(&self.dir, next)?;
        let path = self.dir.join(file_name(active.generation));
        active.generation = next;
        active.file = file;
        Ok(Some(Taken {
            events: std::mem::take(&mut active.events),
            path,
        }))
    }
}

impl Leftover {
    /// Replayed: delete the file.
    pub fn done(self) {
        Taken {
            events: Vec::new(),
            path: self.path,
        }
        .done()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_store::audit::Outcome;

    fn event(action: &str) -> NewAuditEvent {
        let mut event = NewAuditEvent::new("query", action, Outcome::Success);
        event.attributes = vec![("query.text".into(), "select 'a\nb'".into())];
        event
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
        let actions: Vec<_> = taken.events.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(actions, ["one", "two"]);
        assert!(taken.events.iter().all(|e| e.time.is_some()));
        assert_ne!(taken.events[0].id, taken.events[1].id);
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
        file.write_all(br#"{"category":"query","act"#).unwrap();
        drop(journal);

        let (again, leftovers) = Journal::open(dir.path()).unwrap();
        let replayed: Vec<Vec<&str>> = leftovers
            .iter()
            .map(|l| l.events.iter().map(|e| e.action.as_str()).collect())
            .collect();
        assert_eq!(replayed, [vec!["one"], vec!["two"]]);
        assert_eq!(leftovers[0].events[0].id, taken_later.events[0].id);
        for leftover in leftovers {
            leftover.done();
        }
        again.append(event("three")).unwrap();
        let three = again.take().unwrap().unwrap();
        assert_eq!(three.events.len(), 1);
        assert_ne!(three.events[0].id, taken_later.events[0].id);
    }
}
