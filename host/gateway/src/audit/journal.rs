//! The audit journal: how a session makes an allowed query's event durable
//! without a round trip through other threads, and without a system call.
//!
//! A session encodes an allowed query's event as the store's row
//! (`gatehouse_store::audit::encode_row`, with an id from
//! [`Journal::next_id`]) and [`Journal::append_row`] copies it, as one
//! line, into the journal's active segment: a file mapped into memory
//! (`MAP_SHARED`). From then on the event survives the process dying at
//! any instant: the pages belong to the kernel's page cache, exactly as
//! after a `write` (and like an SQLite commit in `synchronous = normal`,
//! neither is synced to the disk). The copy costs no system call; the
//! kernel is entered once per page touched, not once per row. The audit
//! log's writer moves the journal into the store in groups
//! ([`Journal::take`], then [`Journal::recycle`] once committed), before each
//! of its own group commits and within [`super::log::JOURNAL_INTERVAL`], so
//! the store's sequence keeps each producer's order: an event journaled
//! before another was queued is committed first. The lines go to the store
//! as written (`Audit::append_encoded`), read straight from the mapping: an
//! event is serialised once, by the session, and copied once, into the
//! journal.
//!
//! Files: `<state_dir>/audit-journal/journal-<generation>.jsonl`, each a
//! segment of [`SEGMENT_BYTES`] (more for a row that is larger), its
//! blocks reserved up front (`posix_fallocate`): a full disk is an error
//! when a segment is created, never a fault on a later copy. Rows fill a
//! segment from its start, one after another under a lock; the rest of the
//! file stays zeros. A take hands over the segments written so far and
//! starts a fresh one; a row that does not fit in the active segment
//! starts the next one early. A segment whose events are committed is
//! zeroed and kept as a spare (a few at most, the rest are deleted): the
//! next segment is a spare renamed, its pages already in memory, so
//! sessions do not fault them in again. Files left by a process that died are replayed at the
//! next start, before anything is served ([`Journal::open`] returns them,
//! oldest first; `AuditPipeline` replays them with
//! [`gatehouse_store::audit::Audit::append_encoded`]): events already
//! stored are skipped by id, so a crash between a commit and the file's
//! deletion stores nothing twice. A row the process died in the middle of
//! copying (partly written, perhaps with holes of zeros) belongs to an
//! event nobody was told about and is skipped with a warning; so are the
//! zeros after the last row.
//!
//! Failure: `append_row` errors when a new segment cannot be created (a
//! full disk …); nothing of the row is written, and the session ends
//! rather than answer unrecorded (fail closed).

use crate::clock::now_ms;
use gatehouse_store::audit::{NewAuditEvent, encode_event, is_row};
use memmap2::MmapMut;
use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// The journal's folder in the state directory.
pub const DIR: &str = "audit-journal";

/// The size of a journal segment: at the journal's take interval this holds
/// several times the allowed queries of a loaded node (≈ 30 000 rows a
/// second of ≈ 450 bytes is ≈ 270 KiB every 20 ms). Only the pages rows
/// touch take memory.
pub const SEGMENT_BYTES: usize = 4 << 20;

/// Committed segments kept for reuse: one being filled while another is
/// ingested, and one more.
const SPARES: usize = 2;

/// The journal of this process.
pub struct Journal {
    dir: PathBuf,
    /// Unique per process start (16 hex characters): ids are `prefix` and
    /// a counter, so they also sort in the order they were drawn.
    prefix: String,
    counter: AtomicU64,
    segment_bytes: usize,
    active: Mutex<Active>,
    /// Committed segments, zeroed, for the next ones.
    spare: Mutex<Vec<Segment>>,
    /// Signalled by the first row after a take ([`Journal::rows_written`]).
    rows_written: tokio::sync::Notify,
}

struct Active {
    /// Where rows are copied now.
    segment: Segment,
    /// Segments filled since the last take, oldest first.
    full: Vec<Segment>,
}

impl Active {
    /// Nothing written since the last take: a segment is only set aside
    /// as full for a row that then goes to the next one.
    fn is_empty(&self) -> bool {
        self.segment.count == 0
    }
}

/// One journal file, mapped: rows in `[0, len)`, zeros after.
pub struct Segment {
    generation: u64,
    path: PathBuf,
    map: MmapMut,
    len: usize,
    count: usize,
}

impl Segment {
    /// Create generation `generation`'s file with room for `capacity`
    /// bytes reserved on the disk, and map it.
    fn create(dir: &Path, generation: u64, capacity: usize) -> io::Result<Segment> {
        let path = dir.join(file_name(generation));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)?;
        let mapped = reserve(&file, capacity).and_then(|()| {
            // SAFETY: the file was created here (`create_new`) and only this
            // process writes it, through this mapping, under the journal's
            // lock; it is never truncated while mapped. Another process
            // reading it (a replay) only runs once this one is gone.
            unsafe { MmapMut::map_mut(&file) }
        });
        match mapped {
            Ok(map) => Ok(Segment {
                generation,
                path,
                map,
                len: 0,
                count: 0,
            }),
            Err(err) => {
                remove(&path);
                Err(err)
            }
        }
    }

    /// Whether `row` fits after the rows written so far.
    fn fits(&self, row: &[u8]) -> bool {
        self.map.len() - self.len >= row.len()
    }

    fn push(&mut self, row: &[u8]) {
        self.map[self.len..self.len + row.len()].copy_from_slice(row);
        self.len += row.len();
        self.count += 1;
    }

    /// Encoded rows, one per line (`Audit::append_encoded`).
    pub fn rows(&self) -> &[u8] {
        &self.map[..self.len]
    }

    /// How many rows.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Delete the file.
    fn discard(self) {
        let Segment { path, map, .. } = self;
        drop(map);
        remove(&path);
    }
}

/// Reserve `capacity` bytes of disk for `file` (and size it so): writes
/// through the mapping then never need a block the disk does not have,
/// which would kill the process (`SIGBUS`) instead of failing a call.
fn reserve(file: &File, capacity: usize) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let len = libc::off_t::try_from(capacity)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "journal segment too large"))?;
    // SAFETY: a plain system call on an open descriptor.
    match unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, len) } {
        0 => Ok(()),
        code => Err(io::Error::from_raw_os_error(code)),
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

impl Leftover {
    /// Replayed: delete the file.
    pub fn done(self) {
        remove(&self.path);
    }
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

/// The rows of a journal file, one per line, and how many. The zeros after
/// the last row are not read. A line that is not a well-formed row (a copy
/// cut short by a crash: JSON never holds a zero byte, so a hole makes it
/// ill-formed) is skipped; a line in the format of earlier versions (a
/// JSON event object with its id) is encoded as a row, so a journal left by
/// an upgraded gateway still replays.
fn read(path: &Path) -> io::Result<(Vec<u8>, usize)> {
    let contents = std::fs::read(path)?;
    let end = contents
        .iter()
        .rposition(|b| *b != 0)
        .map_or(0, |last| last + 1);
    let mut rows = Vec::with_capacity(end);
    let mut count = 0;
    for (number, line) in contents[..end].split(|b| *b == b'\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        let legacy = line
            .starts_with(b"{")
            .then(|| serde_json::from_slice::<NewAuditEvent>(line).ok())
            .flatten();
        match legacy {
            Some(event) if event.id.is_some() => {
                let id = event.id.clone().expect("checked");
                encode_event(&mut rows, &event, &id, now_ms());
            }
            None if is_row(line) => rows.extend_from_slice(line),
            _ => {
                tracing::warn!(path = %path.display(), line = number + 1,
                    "skipping an unreadable audit journal line (a row cut short by a crash)");
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
    /// process left with rows in them, oldest first (files without any are
    /// deleted here).
    pub fn open(state_dir: &Path) -> io::Result<(Journal, Vec<Leftover>)> {
        Self::open_with(state_dir, SEGMENT_BYTES)
    }

    /// [`Journal::open`] with segments of `segment_bytes`.
    pub fn open_with(
        state_dir: &Path,
        segment_bytes: usize,
    ) -> io::Result<(Journal, Vec<Leftover>)> {
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
            if count == 0 {
                // A spare, an unused segment, or only torn rows: nothing
                // to replay.
                remove(&path);
                continue;
            }
            leftovers.push(Leftover { path, rows, count });
        }
        let prefix = super::deliver::new_node_id();
        debug_assert_eq!(prefix.len(), 16);
        let journal = Journal {
            prefix,
            counter: AtomicU64::new(0),
            segment_bytes,
            active: Mutex::new(Active {
                segment: Segment::create(&dir, generation, segment_bytes)?,
                full: Vec::new(),
            }),
            spare: Mutex::new(Vec::new()),
            rows_written: tokio::sync::Notify::new(),
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
    /// with an id from [`Journal::next_id`], ending in a newline): a copy
    /// into the active segment, on this thread. `Err` (nothing written)
    /// only when the row needs a new segment that cannot be created.
    pub fn append_row(&self, row: &[u8]) -> io::Result<()> {
        debug_assert!(row.ends_with(b"\n"));
        let mut active = self.active.lock().unwrap_or_else(|e| e.into_inner());
        let first = active.is_empty();
        if !active.segment.fits(row) {
            let next = self.next_segment(active.segment.generation + 1, row.len())?;
            let full = std::mem::replace(&mut active.segment, next);
            active.full.push(full);
        }
        active.segment.push(row);
        drop(active);
        if first {
            self.rows_written.notify_one();
        }
        Ok(())
    }

    /// Whether rows wait to be taken.
    pub fn is_empty(&self) -> bool {
        self.active
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty()
    }

    /// Returns once a row was written since the last take (at once if one
    /// was written before this was called and nobody has waited since): the
    /// writer sleeps while nothing is journaled.
    pub async fn rows_written(&self) {
        self.rows_written.notified().await
    }

    /// Hand over the segments written so far, oldest first (empty:
    /// nothing), switching writers to a fresh segment.
    pub fn take(&self) -> io::Result<Vec<Segment>> {
        let mut active = self.active.lock().unwrap_or_else(|e| e.into_inner());
        if active.is_empty() {
            return Ok(Vec::new());
        }
        let next = self.next_segment(active.segment.generation + 1, 0)?;
        let written = std::mem::replace(&mut active.segment, next);
        let mut taken = std::mem::take(&mut active.full);
        taken.push(written);
        Ok(taken)
    }

    /// A taken segment's events are committed: zero it and keep it for a
    /// next segment (or, with enough spares already, delete it).
    pub fn recycle(&self, mut segment: Segment) {
        if segment.map.len() != self.segment_bytes {
            return segment.discard();
        }
        segment.map[..segment.len].fill(0);
        segment.len = 0;
        segment.count = 0;
        let mut spare = self.spare.lock().unwrap_or_else(|e| e.into_inner());
        if spare.len() < SPARES {
            spare.push(segment);
        } else {
            drop(spare);
            segment.discard();
        }
    }

    /// Generation `generation`'s segment, with room for at least `row`
    /// bytes: a spare renamed when one is big enough, else a new file.
    fn next_segment(&self, generation: u64, row: usize) -> io::Result<Segment> {
        if row <= self.segment_bytes {
            let spare = self.spare.lock().unwrap_or_else(|e| e.into_inner()).pop();
            if let Some(mut segment) = spare {
                let path = self.dir.join(file_name(generation));
                match std::fs::rename(&segment.path, &path) {
                    Ok(()) => {
                        segment.path = path;
                        segment.generation = generation;
                        return Ok(segment);
                    }
                    Err(err) => {
                        tracing::warn!(path = %segment.path.display(), error = %err,
                            "could not reuse an audit journal segment; creating a new one");
                        segment.discard();
                    }
                }
            }
        }
        Segment::create(&self.dir, generation, self.segment_bytes.max(row))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_store::audit::Outcome;
    use serde_json::Value;
    use std::time::Duration;

    fn event(action: &str) -> NewAuditEvent {
        let mut event = NewAuditEvent::new("query", action, Outcome::Success);
        event.attributes = vec![("query.text".into(), "select 'a\nb'".into())];
        event
    }

    fn encoded(journal: &Journal, action: &str) -> Vec<u8> {
        let mut row = Vec::new();
        encode_event(
            &mut row,
            &event(action),
            journal.next_id().as_str(),
            now_ms(),
        );
        row.push(b'\n');
        row
    }

    impl Journal {
        /// [`Journal::append_row`] for an event built as a
        /// [`NewAuditEvent`], with an id drawn here and the time now.
        fn append(&self, action: &str) -> io::Result<()> {
            self.append_row(&encoded(self, action))
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

    fn taken_actions(taken: &[Segment]) -> Vec<Vec<String>> {
        taken
            .iter()
            .map(|segment| actions(segment.rows()))
            .collect()
    }

    fn files(dir: &Path) -> usize {
        std::fs::read_dir(dir.join(DIR)).unwrap().count()
    }

    #[test]
    fn appended_events_are_taken_once_in_order_with_ids_and_times() {
        let dir = tempfile::tempdir().unwrap();
        let (journal, leftovers) = Journal::open(dir.path()).unwrap();
        assert!(leftovers.is_empty());
        assert!(journal.take().unwrap().is_empty());
        journal.append("one").unwrap();
        journal.append("two").unwrap();
        let mut taken = journal.take().unwrap();
        assert_eq!(taken.len(), 1);
        let taken = taken.pop().unwrap();
        assert_eq!(taken.count(), 2);
        let rows = rows(taken.rows());
        assert_eq!(actions(taken.rows()), ["one", "two"]);
        assert!(rows.iter().all(|(id, time, _)| id.len() == 32 && *time > 0));
        assert!(
            rows[0].0 < rows[1].0,
            "ids sort in the order they were drawn"
        );
        assert!(journal.take().unwrap().is_empty(), "taken once");
        journal.append("three").unwrap();
        journal.recycle(taken);
        assert_eq!(files(dir.path()), 2, "the active file and a spare");
        let taken = journal.take().unwrap();
        assert_eq!(taken_actions(&taken), [vec!["three"]]);
        journal.append("four").unwrap();
        assert_eq!(
            files(dir.path()),
            2,
            "the spare holds the next rows, renamed"
        );
        let four = journal.take().unwrap();
        assert_eq!(taken_actions(&four), [vec!["four"]], "zeroed before reuse");
        assert_eq!(
            std::fs::read(&four[0].path).unwrap().len(),
            SEGMENT_BYTES,
            "reused, not created"
        );
    }

    #[test]
    fn spares_are_few_and_a_crash_replays_no_row_twice_from_them() {
        let dir = tempfile::tempdir().unwrap();
        let (journal, _) = Journal::open(dir.path()).unwrap();
        let mut committed = Vec::new();
        for round in 0..5 {
            journal.append(&format!("round {round}")).unwrap();
            committed.extend(journal.take().unwrap());
        }
        for segment in committed {
            journal.recycle(segment);
        }
        assert_eq!(files(dir.path()), 1 + SPARES);
        journal.append("after").unwrap();
        let taken = journal.take().unwrap();
        journal.append("unfinished").unwrap();
        drop(taken); // a crash before the commit
        drop(journal);
        let (_again, leftovers) = Journal::open(dir.path()).unwrap();
        let replayed: Vec<String> = leftovers.iter().flat_map(|l| actions(&l.rows)).collect();
        assert_eq!(replayed, ["after", "unfinished"]);
        assert_eq!(leftovers.len(), 2, "only files with rows are replayed");
        assert_eq!(
            files(dir.path()),
            leftovers.len() + 1,
            "the empty spares are deleted; the new active segment is created"
        );
    }

    /// Whether the writer would be woken within 50 ms.
    async fn woken(journal: &Journal) -> bool {
        tokio::time::timeout(Duration::from_millis(50), journal.rows_written())
            .await
            .is_ok()
    }

    #[tokio::test]
    async fn the_first_row_after_a_take_wakes_the_writer_and_nothing_else_does() {
        let dir = tempfile::tempdir().unwrap();
        let (journal, _) = Journal::open(dir.path()).unwrap();
        assert!(!woken(&journal).await, "nothing journaled");
        assert!(journal.is_empty());
        journal.append("one").unwrap();
        journal.append("two").unwrap();
        assert!(!journal.is_empty());
        assert!(woken(&journal).await, "the first row signals");
        assert!(!woken(&journal).await, "once, not per row");
        assert_eq!(
            taken_actions(&journal.take().unwrap()),
            [vec!["one", "two"]]
        );
        journal.append("three").unwrap();
        assert!(
            woken(&journal).await,
            "the first row after a take signals again"
        );
    }

    #[test]
    fn a_row_that_does_not_fit_starts_the_next_segment() {
        let dir = tempfile::tempdir().unwrap();
        let row_len = encoded(&Journal::open(dir.path()).unwrap().0, "one").len();
        let dir = tempfile::tempdir().unwrap();
        // Room for two rows and a half.
        let (journal, _) = Journal::open_with(dir.path(), row_len * 5 / 2).unwrap();
        for action in ["one", "two", "three", "four", "five"] {
            journal.append(action).unwrap();
        }
        let mut large = encoded(&journal, "large");
        let text = "x".repeat(row_len * 4);
        large = String::from_utf8(large)
            .unwrap()
            .replacen("select", &text, 1)
            .into_bytes();
        journal.append_row(&large).unwrap();
        journal.append("six").unwrap();
        let taken = journal.take().unwrap();
        assert_eq!(
            taken_actions(&taken),
            [
                vec!["one", "two"],
                vec!["three", "four"],
                vec!["five"],
                vec!["large"],
                vec!["six"],
            ]
        );
        for segment in taken {
            journal.recycle(segment);
        }
        assert_eq!(
            files(dir.path()),
            1 + SPARES,
            "the active one and spares; the larger one is not kept"
        );
    }

    #[test]
    fn a_new_process_replays_what_the_last_one_left_and_skips_a_torn_row() {
        let dir = tempfile::tempdir().unwrap();
        let (journal, _) = Journal::open(dir.path()).unwrap();
        journal.append("one").unwrap();
        let taken_later = journal.take().unwrap(); // not done: crash
        journal.append("two").unwrap();
        {
            // A copy cut short by the crash: the start of a row, a hole,
            // its end.
            let row = encoded(&journal, "torn");
            let mut active = journal.active.lock().unwrap();
            let segment = &mut active.segment;
            let at = segment.len;
            segment.map[at..at + 10].copy_from_slice(&row[..10]);
            let end = at + row.len();
            segment.map[end - 10..end].copy_from_slice(&row[row.len() - 10..]);
        }
        drop(journal);

        let (again, leftovers) = Journal::open(dir.path()).unwrap();
        let replayed: Vec<Vec<String>> = leftovers.iter().map(|l| actions(&l.rows)).collect();
        assert_eq!(replayed, [vec!["one"], vec!["two"]]);
        assert_eq!(leftovers[1].count, 1);
        assert_eq!(
            leftovers[0].rows,
            taken_later[0].rows(),
            "replayed as written"
        );
        for leftover in leftovers {
            leftover.done();
        }
        again.append("three").unwrap();
        let three = again.take().unwrap();
        assert_eq!(three[0].count(), 1);
        assert_ne!(rows(three[0].rows())[0].0, rows(taken_later[0].rows())[0].0);
    }

    #[test]
    fn a_journal_written_by_earlier_versions_replays_as_rows() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(DIR)).unwrap();
        // Appended lines without the zeros after them, and one in the
        // earlier event format.
        let mut old = event("query.allowed");
        old.id = Some("legacy-1".into());
        old.time = Some(1234);
        let mut lines = serde_json::to_vec(&old).unwrap();
        lines.push(b'\n');
        encode_event(
            &mut lines,
            &event("row"),
            "0123456789abcdef0123456789abcdef",
            99,
        );
        lines.push(b'\n');
        std::fs::write(dir.path().join(DIR).join(file_name(7)), lines).unwrap();
        let (_journal, leftovers) = Journal::open(dir.path()).unwrap();
        assert_eq!(
            rows(&leftovers[0].rows),
            [
                ("legacy-1".to_string(), 1234, "query.allowed".to_string()),
                (
                    "0123456789abcdef0123456789abcdef".to_string(),
                    99,
                    "row".to_string()
                )
            ]
        );
    }
}
