//! The SQLite store's appender: one connection, on a thread of its own,
//! that writes the store's hot appends (the audit log's groups and the
//! session record's batches) through prepared multi-row inserts, binding
//! every value itself.
//!
//! Why not sqlx: an sqlx statement costs a round trip to its worker thread,
//! so these appends used to travel as one JSON array bound as a single
//! value, which SQLite took apart (`jsonb_each`, then `->>` per column,
//! each walking the row from its start). That extraction was two thirds
//! of SQLite's work. Here session events go in without JSON, and audit
//! rows (which arrive as the journal's JSON lines) are parsed once in
//! Rust, borrowing the line's text wherever it holds no escapes.
//! `cargo bench -p gatehouse-store --bench append` under callgrind, per
//! row, against the JSON statements: audit ≈ 33 000 instructions against
//! ≈ 49 000, session events ≈ 15 000 against ≈ 32 000; in wall time
//! 0.75× and 0.8× (SQLite's page writes and checkpoints do not shrink).
//!
//! Invariants:
//! * one thread owns the connection; commands run in the order they were
//!   sent, each in one `BEGIN IMMEDIATE` transaction: all of a command's
//!   rows are committed, or none is (the command's error says why);
//! * the connection is the only one that writes these tables' hot paths, so
//!   its page cache (32 MiB) keeps the tables' and indexes' last leaves;
//!   other writers (the API's changes, retention) use the sqlx pool, and
//!   each side waits for SQLite's write lock while the other holds it
//!   (`busy_timeout`, 5 s);
//! * durability is the store's: `synchronous` as configured, in WAL mode.
//!
//! Failure modes: a command whose transaction fails is rolled back and
//! answered with [`StoreError::Sqlite`]; a malformed audit row fails its
//! whole group with [`StoreError::Invalid`]; the appender goes on with the
//! next command. Once the store is closed (or the thread is gone), commands
//! fail with [`StoreError::Invalid`] ("the store's appender has stopped").

use crate::SqliteSynchronous;
use crate::error::{Result, StoreError};
use crate::sessions::{BatchOutcome, SessionEvent, Verdict, i64_of};
use rusqlite::{Connection, OpenFlags, ToSql, TransactionBehavior};
use serde::Deserialize;
use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;
use std::sync::mpsc;
use std::sync::{LazyLock, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;

/// The thread's name (15 bytes, the most Linux shows): the benchmark
/// counts threads named `*sqlite*` as the store's.
const THREAD_NAME: &str = "sqlite-appender";

/// How long a write waits for another connection's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Pages kept in the connection's cache: 32 MiB instead of SQLite's 2 MiB.
const CACHE_KIB: i64 = 32 * 1024;

enum Command {
    /// Audit rows, one JSON array per line ([`crate::audit::encode_row`]),
    /// inserted in chunks; answered with how many were stored and the
    /// highest sequence given.
    AuditRows {
        lines: Vec<u8>,
        reply: oneshot::Sender<Result<(usize, Option<i64>)>>,
    },
    /// The same, a row per statement, answered with each row's sequence.
    AuditEach {
        lines: Vec<u8>,
        reply: oneshot::Sender<Result<Vec<Option<i64>>>>,
    },
    /// Session events; those of unknown sessions, or already recorded, are
    /// skipped.
    Events {
        events: Vec<(String, SessionEvent)>,
        reply: oneshot::Sender<Result<BatchOutcome>>,
    },
}

/// A handle on the appender thread (shared by the store's clones).
pub(crate) struct Appender {
    /// `None` once closed.
    commands: Mutex<Option<mpsc::Sender<Command>>>,
    /// Answered when the thread has closed its connection.
    finished: Mutex<Option<oneshot::Receiver<()>>>,
}

impl Appender {
    /// Opens a connection to the store file at `path` (whose schema is
    /// already migrated) and starts the thread.
    pub(crate) fn open(path: &Path, synchronous: SqliteSynchronous) -> Result<Appender> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
                | OpenFlags::SQLITE_OPEN_URI,
        )?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.execute_batch(synchronous.pragma())?;
        conn.pragma_update(None, "cache_size", -CACHE_KIB)?;
        // A multi-row insert keeps a statement journal (to undo its rows
        // if it fails halfway); past 64 KiB SQLite spills it to a temp
        // file, which session events' chunks did: in memory, the events
        // part of the append benchmark takes 0.8× the CPU.
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        // Audit events have no foreign keys, and a session event's insert
        // checks its session itself (skipping orphans): SQLite's own check
        // would be a second lookup per row. Deletes, and their cascades, go
        // through the pool.
        conn.pragma_update(None, "foreign_keys", false)?;
        let (commands, received) = mpsc::channel();
        let (done, finished) = oneshot::channel();
        std::thread::Builder::new()
            .name(THREAD_NAME.into())
            .spawn(move || {
                serve(conn, received);
                let _ = done.send(());
            })
            .map_err(|e| StoreError::invalid(format!("starting the store's appender: {e}")))?;
        Ok(Appender {
            commands: Mutex::new(Some(commands)),
            finished: Mutex::new(Some(finished)),
        })
    }

    /// Inserts audit rows (one per line) in order; a row whose id is
    /// already stored is skipped. How many were stored, and the highest
    /// sequence given.
    pub(crate) async fn audit_rows(&self, lines: Vec<u8>) -> Result<(usize, Option<i64>)> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::AuditRows { lines, reply })?;
        answer.await.unwrap_or_else(|_| Err(stopped()))
    }

    /// [`Appender::audit_rows`], answering each row's sequence (`None`:
    /// its id was taken). A statement per row: for small groups.
    pub(crate) async fn audit_each(&self, lines: Vec<u8>) -> Result<Vec<Option<i64>>> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::AuditEach { lines, reply })?;
        answer.await.unwrap_or_else(|_| Err(stopped()))
    }

    /// Inserts session events in order (see [`Command::Events`]).
    pub(crate) async fn session_events(
        &self,
        events: Vec<(String, SessionEvent)>,
    ) -> Result<BatchOutcome> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Events { events, reply })?;
        answer.await.unwrap_or_else(|_| Err(stopped()))
    }

    /// Stops taking commands, lets the queued ones finish and waits until
    /// the connection is closed.
    pub(crate) async fn close(&self) {
        self.commands.lock().expect("appender lock").take();
        let finished = self.finished.lock().expect("appender lock").take();
        if let Some(finished) = finished {
            let _ = finished.await;
        }
    }

    fn send(&self, command: Command) -> Result<()> {
        let commands = self.commands.lock().expect("appender lock");
        match commands.as_ref() {
            Some(commands) => commands.send(command).map_err(|_| stopped()),
            None => Err(stopped()),
        }
    }
}

fn stopped() -> StoreError {
    StoreError::invalid("the store's appender has stopped (the store is closed)")
}

fn serve(mut conn: Connection, commands: mpsc::Receiver<Command>) {
    for command in commands {
        match command {
            Command::AuditRows { lines, reply } => {
                let _ = reply.send(insert_audit_rows(&mut conn, &lines));
            }
            Command::AuditEach { lines, reply } => {
                let _ = reply.send(insert_audit_each(&mut conn, &lines));
            }
            Command::Events { events, reply } => {
                let _ = reply.send(insert_session_events(&mut conn, &events));
            }
        }
    }
}

/// Rows per statement, largest first: a group is inserted with as few
/// statements as these sizes allow (at most three of each smaller size).
/// Each statement run has a fixed cost, which a row per statement paid per
/// row: for `audit_events`, its `AUTOINCREMENT` counter read and written
/// back, and the ephemeral table SQLite builds for the `outcome IN (…)`
/// check.
const CHUNKS: [usize; 4] = [64, 16, 4, 1];

/// `INSERT INTO {table} ({columns}) VALUES (?, …), … ON CONFLICT … DO
/// NOTHING` for each of [`CHUNKS`]' sizes.
fn chunked_inserts(table: &str, columns: &[&str], conflict: &str) -> [String; CHUNKS.len()] {
    CHUNKS.map(|rows| {
        let row = format!("({})", vec!["?"; columns.len()].join(", "));
        format!(
            "INSERT INTO {table} ({}) VALUES {} ON CONFLICT {conflict} DO NOTHING",
            columns.join(", "),
            vec![row; rows].join(", ")
        )
    })
}

/// Inserts `rows` with the statements of [`chunked_inserts`] (for `N`
/// columns), binding the values `values` gives for each row. Returns how
/// many rows were inserted (the others conflicted).
fn insert_chunked<R, const N: usize>(
    tx: &rusqlite::Transaction<'_>,
    statements: &[String; CHUNKS.len()],
    rows: &[R],
    values: impl Fn(&R) -> [&dyn ToSql; N],
) -> Result<usize> {
    let mut inserted = 0;
    let mut rest = rows;
    for (size, sql) in CHUNKS.iter().zip(statements) {
        if rest.len() < *size {
            continue;
        }
        let mut insert = tx.prepare_cached(sql)?;
        while rest.len() >= *size {
            let (chunk, after) = rest.split_at(*size);
            for (i, row) in chunk.iter().enumerate() {
                bind(&mut insert, 1 + i * N, values(row))?;
            }
            inserted += insert.raw_execute()?;
            rest = after;
        }
    }
    Ok(inserted)
}

/// Binds `values` to the parameters from `first` (1-based) on.
fn bind<const N: usize>(
    insert: &mut rusqlite::Statement<'_>,
    first: usize,
    values: [&dyn ToSql; N],
) -> rusqlite::Result<()> {
    for (i, value) in values.into_iter().enumerate() {
        insert.raw_bind_parameter(first + i, value)?;
    }
    Ok(())
}

/// One audit row as [`crate::audit::encode_row`] writes it: the columns of
/// `audit_events` in [`AUDIT_COLUMNS`] order.
#[derive(Deserialize)]
struct AuditRow<'a>(
    #[serde(borrow)] Text<'a>,
    i64,
    #[serde(borrow)] Text<'a>,
    #[serde(borrow)] Text<'a>,
    #[serde(borrow)] Text<'a>,
    #[serde(borrow)] Option<Text<'a>>,
    #[serde(borrow)] Option<JsonText<'a>>,
    #[serde(borrow)] Option<Text<'a>>,
    #[serde(borrow)] Option<Text<'a>>,
    #[serde(borrow)] Option<Text<'a>>,
    #[serde(borrow)] Option<Text<'a>>,
    #[serde(borrow)] Option<Text<'a>>,
    #[serde(borrow)] Option<JsonText<'a>>,
    #[serde(borrow)] Option<JsonText<'a>>,
    #[serde(borrow)] JsonText<'a>,
);

/// A JSON column (actor, before and after states, attributes): the nested
/// value's text as the line holds it, or, in a row journaled before rows
/// nested them, the string that held it.
struct JsonText<'a>(Text<'a>);

impl<'de: 'a, 'a> Deserialize<'de> for JsonText<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw: &'de serde_json::value::RawValue = Deserialize::deserialize(deserializer)?;
        let text = raw.get();
        if text.starts_with('"') {
            serde_json::from_str(text)
                .map(JsonText)
                .map_err(serde::de::Error::custom)
        } else {
            Ok(JsonText(Text(Cow::Borrowed(text))))
        }
    }
}

/// A JSON string that borrows from the line unless it holds escapes.
/// (`Cow<str>` borrows only as a field of its own marked `borrow`; inside
/// an `Option` it is always copied.)
struct Text<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, text: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(text)))
            }
            fn visit_str<E>(self, text: &str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(text.to_owned())))
            }
            fn visit_string<E>(self, text: String) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(text)))
            }
        }
        deserializer.deserialize_str(Visit)
    }
}

impl rusqlite::ToSql for Text<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(rusqlite::types::ToSqlOutput::Borrowed(
            rusqlite::types::ValueRef::Text(self.0.as_bytes()),
        ))
    }
}

impl rusqlite::ToSql for JsonText<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        self.0.to_sql()
    }
}

const AUDIT_COLUMNS: [&str; 15] = [
    "id",
    "occurred_at",
    "category",
    "action",
    "outcome",
    "actor_id",
    "actor",
    "connection",
    "session_id",
    "client_address",
    "reason",
    "target",
    "before_state",
    "after_state",
    "attributes",
];

static INSERT_AUDIT: LazyLock<[String; CHUNKS.len()]> =
    LazyLock::new(|| chunked_inserts("audit_events", &AUDIT_COLUMNS, "(id)"));

fn audit_values<'r>(row: &'r AuditRow<'_>) -> [&'r dyn ToSql; AUDIT_COLUMNS.len()] {
    let AuditRow(id, time, category, action, outcome, c5, c6, c7, c8, c9, c10, c11, c12, c13, c14) =
        row;
    [
        id, time, category, action, outcome, c5, c6, c7, c8, c9, c10, c11, c12, c13, c14,
    ]
}

fn parse_audit_rows(lines: &[u8]) -> Result<Vec<AuditRow<'_>>> {
    lines
        .split(|b| *b == b'\n')
        .filter(|line| !line.is_empty())
        .enumerate()
        .map(|(n, line)| {
            serde_json::from_slice::<AuditRow<'_>>(line)
                .map_err(|e| StoreError::invalid(format!("audit row {} is malformed: {e}", n + 1)))
        })
        .collect()
}

/// Audit rows in order, in chunks: how many were stored, and the last
/// sequence.
fn insert_audit_rows(conn: &mut Connection, lines: &[u8]) -> Result<(usize, Option<i64>)> {
    let rows = parse_audit_rows(lines)?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let stored = insert_chunked(&tx, &INSERT_AUDIT, &rows, audit_values)?;
    // The rowid is the sequence, and a skipped row leaves it as it was: it
    // is the last stored row's, the highest.
    let last = (stored > 0).then(|| tx.last_insert_rowid());
    tx.commit()?;
    Ok((stored, last))
}

/// Audit rows in order, a row per statement: each row's sequence.
fn insert_audit_each(conn: &mut Connection, lines: &[u8]) -> Result<Vec<Option<i64>>> {
    let rows = parse_audit_rows(lines)?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut sequences = Vec::with_capacity(rows.len());
    {
        let mut insert = tx.prepare_cached(&INSERT_AUDIT[CHUNKS.len() - 1])?;
        for row in &rows {
            bind(&mut insert, 1, audit_values(row))?;
            let stored = insert.raw_execute()? == 1;
            sequences.push(stored.then(|| tx.last_insert_rowid()));
        }
    }
    tx.commit()?;
    Ok(sequences)
}

const EVENT_COLUMNS: [&str; 13] = [
    "session_id",
    "seq",
    "query_id",
    "kind",
    "at",
    "query_text",
    "verdict",
    "reason",
    "decided_by",
    "duration_us",
    "row_count",
    "command_tag",
    "counters",
];

static INSERT_EVENT: LazyLock<[String; CHUNKS.len()]> =
    LazyLock::new(|| chunked_inserts("session_events", &EVENT_COLUMNS, ""));

const SESSION_EXISTS: &str = "SELECT EXISTS (SELECT 1 FROM sessions WHERE id = ?1)";

/// A session event as its columns' values.
struct EventRow<'e> {
    session_id: &'e str,
    event: &'e SessionEvent,
    seq: i64,
    query_id: Option<i64>,
    verdict: Option<&'static str>,
    duration_us: i64,
    rows: i64,
    /// `{}` for none.
    counters: Cow<'e, str>,
}

impl<'e> EventRow<'e> {
    fn new(session_id: &'e str, event: &'e SessionEvent) -> Self {
        EventRow {
            session_id,
            event,
            seq: i64_of(event.seq),
            query_id: event.query_id.map(i64_of),
            verdict: event.verdict.map(Verdict::as_str),
            duration_us: i64_of(event.duration_us),
            rows: i64_of(event.rows),
            counters: if event.counters.is_empty() {
                Cow::Borrowed("{}")
            } else {
                Cow::Owned(crate::db::to_json(&event.counters))
            },
        }
    }

    /// In [`EVENT_COLUMNS`] order.
    fn values(&self) -> [&dyn ToSql; EVENT_COLUMNS.len()] {
        let e = self.event;
        [
            &self.session_id,
            &self.seq,
            &self.query_id,
            &e.kind,
            &e.at,
            &e.query,
            &self.verdict,
            &e.reason,
            &e.decided_by,
            &self.duration_us,
            &self.rows,
            &e.command_tag,
            &self.counters,
        ]
    }
}

fn insert_session_events(
    conn: &mut Connection,
    events: &[(String, SessionEvent)],
) -> Result<BatchOutcome> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let written = {
        // A batch holds the events of a few sessions: each is looked up
        // once, and the events of unknown ones are left out.
        let mut known: HashMap<&str, bool> = HashMap::new();
        let mut exists = tx.prepare_cached(SESSION_EXISTS)?;
        let mut rows = Vec::with_capacity(events.len());
        for (session_id, event) in events {
            let found = match known.get(session_id.as_str()) {
                Some(found) => *found,
                None => {
                    let found: bool = exists.query_row([session_id], |row| row.get(0))?;
                    known.insert(session_id, found);
                    found
                }
            };
            if found {
                rows.push(EventRow::new(session_id, event));
            }
        }
        insert_chunked(&tx, &INSERT_EVENT, &rows, EventRow::values)?
    };
    tx.commit()?;
    Ok(BatchOutcome {
        written: written as u64,
        skipped: (events.len() - written) as u64,
    })
}
