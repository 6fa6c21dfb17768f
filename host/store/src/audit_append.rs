//! Appending a group of audit events in one statement (the gateway's group
//! commit, [`crate::audit::Audit::append_many`]).
//!
//! The events travel as one JSON array of arrays bound as a single value,
//! which the database unpacks (`jsonb_each` on SQLite,
//! `json_array_elements` on PostgreSQL) and inserts in array order: a
//! statement, or a bound value, per event costs the driver more than the
//! insert itself once every allowed query is an audit event. `RETURNING`
//! gives each row's `sequence` by `id`, so the answer is matched by id,
//! never by position. The store draws the events' ids; one that is already
//! taken is skipped by the insert and reported as a conflict.
//!
//! **Encoded rows.** The same row, as one JSON array, can be built ahead of
//! the store ([`RowContext`], [`encode_row`]): the gateway's audit journal
//! writes allowed queries' events that way on the session thread, and
//! [`crate::audit::Audit::append_encoded`] binds the journal's lines
//! joined into one array as they are, so an event is serialised once on its
//! way from the session to the database. [`encode_event`] encodes a
//! [`NewAuditEvent`] the same way (byte for byte what `append_all` binds).
//!
//! Ordering: on PostgreSQL the caller's transaction holds the audit
//! advisory lock (sequence order is commit order); on SQLite the statement
//! is its own transaction under the database's write lock. Values are only
//! ever bound, never spliced into the SQL.

use crate::actor::Identity;
use crate::audit::{AuditEvent, NewAuditEvent, Outcome};
use crate::db::{Backend, now_ms, random_hex};
use crate::error::{Result, StoreError};
use serde::Serialize;
use serde_json::Value as Json;
use sqlx::Row;
use std::collections::HashMap;

/// One event, in the column order of the statements below. The JSON
/// columns (actor, before and after states, attributes) are nested as
/// JSON, not as strings holding JSON: the database stores their text all
/// the same (`->>` of an object or array is its JSON text), and nothing
/// has to escape or unescape them on the way.
#[derive(Serialize)]
struct EventRow<'a>(
    &'a str,
    i64,
    &'a str,
    &'a str,
    &'static str,
    Option<&'a str>,
    Option<&'a Identity>,
    Option<&'a str>,
    Option<&'a str>,
    Option<&'a str>,
    Option<&'a str>,
    Option<&'a str>,
    Option<&'a Json>,
    Option<&'a Json>,
    &'a [(String, String)],
);

/// Number of columns in a row (the array's length).
pub const ROW_COLUMNS: usize = 15;

/// The columns every event of one session shares (actor id, actor,
/// connection, session id, client address: positions 5 to 9 of a row),
/// encoded once per session.
#[derive(Debug, Clone)]
pub struct RowContext {
    /// `actor_id,actor,connection,session_id,client_address` as JSON
    /// values separated by commas.
    fragment: String,
}

impl RowContext {
    pub fn new(
        actor: Option<&Identity>,
        connection: Option<&str>,
        session_id: Option<&str>,
        client_address: Option<&str>,
    ) -> Self {
        let columns = (
            actor.map(|a| a.user_id.as_str()),
            actor,
            connection,
            session_id,
            client_address,
        );
        let array = serde_json::to_string(&columns).expect("strings serialize");
        RowContext {
            fragment: array[1..array.len() - 1].to_string(),
        }
    }
}

/// One event to encode with [`encode_row`]: the columns that vary per
/// event. `id` must be unique in the store (the journal draws it from its
/// node prefix and a counter).
#[derive(Debug, Clone, Copy)]
pub struct RowEvent<'a> {
    pub id: &'a str,
    /// Unix ms.
    pub time: i64,
    pub category: &'a str,
    pub action: &'a str,
    pub outcome: Outcome,
    pub reason: Option<&'a str>,
    pub attributes: &'a [(&'a str, &'a str)],
}

/// Append `event` of the session `context` to `out` as one row (a JSON
/// array, no newline).
pub fn encode_row(out: &mut Vec<u8>, context: &RowContext, event: &RowEvent<'_>) {
    let head = (
        event.id,
        event.time,
        event.category,
        event.action,
        event.outcome.as_str(),
    );
    serde_json::to_writer(&mut *out, &head).expect("writes to a Vec");
    out.pop(); // `]`
    out.push(b',');
    out.extend_from_slice(context.fragment.as_bytes());
    out.push(b',');
    serde_json::to_writer(&mut *out, &event.reason).expect("writes to a Vec");
    // target, before_state, after_state
    out.extend_from_slice(b",null,null,null,");
    serde_json::to_writer(&mut *out, event.attributes).expect("writes to a Vec");
    out.push(b']');
}

/// Append `event` to `out` as one row: the row [`append_all`] binds for it,
/// with `id` (the event's own when it has one) and `now` as its time when
/// it has none.
pub fn encode_event(out: &mut Vec<u8>, event: &NewAuditEvent, id: &str, now: i64) {
    serde_json::to_writer(out, &event_row(event, id, now)).expect("writes to a Vec");
}

fn event_row<'a>(e: &'a NewAuditEvent, id: &'a str, now: i64) -> EventRow<'a> {
    EventRow(
        id,
        e.time.unwrap_or(now),
        &e.category,
        &e.action,
        e.outcome.as_str(),
        e.actor.as_ref().map(|a| a.user_id.as_str()),
        e.actor.as_ref(),
        e.connection.as_deref(),
        e.session_id.as_deref(),
        e.client_address.as_deref(),
        e.reason.as_deref(),
        e.target.as_deref(),
        e.before.as_ref(),
        e.after.as_ref(),
        &e.attributes,
    )
}

/// Whether `line` is a well-formed row: a JSON array of [`ROW_COLUMNS`]
/// values whose first is a non-empty id (a line torn by a crash is not).
pub fn is_row(line: &[u8]) -> bool {
    match serde_json::from_slice::<Vec<serde_json::Value>>(line) {
        Ok(values) => {
            values.len() == ROW_COLUMNS
                && values[0].as_str().is_some_and(|id| !id.is_empty())
                && values[1].is_i64()
        }
        Err(_) => false,
    }
}

/// The insert of a bound JSON array of rows, without its `RETURNING`.
macro_rules! insert_sqlite {
    () => {
        "INSERT INTO audit_events (id, occurred_at, category, action, outcome, actor_id, actor, \
         connection, session_id, client_address, reason, target, before_state, after_state, attributes) \
         SELECT e.value ->> 0, e.value ->> 1, e.value ->> 2, e.value ->> 3, e.value ->> 4, e.value ->> 5, \
         e.value ->> 6, e.value ->> 7, e.value ->> 8, e.value ->> 9, e.value ->> 10, e.value ->> 11, \
         e.value ->> 12, e.value ->> 13, e.value ->> 14 FROM jsonb_each($1) AS e WHERE true ORDER BY e.key \
         ON CONFLICT (id) DO NOTHING"
    };
}
macro_rules! insert_postgres {
    () => {
        "INSERT INTO audit_events (id, occurred_at, category, action, outcome, actor_id, actor, \
         connection, session_id, client_address, reason, target, before_state, after_state, attributes) \
         SELECT e.v ->> 0, (e.v ->> 1)::bigint, e.v ->> 2, e.v ->> 3, e.v ->> 4, e.v ->> 5, e.v ->> 6, \
         e.v ->> 7, e.v ->> 8, e.v ->> 9, e.v ->> 10, e.v ->> 11, e.v ->> 12, e.v ->> 13, e.v ->> 14 \
         FROM json_array_elements($1::json) WITH ORDINALITY AS e(v, n) ORDER BY e.n \
         ON CONFLICT (id) DO NOTHING"
    };
}

const SQLITE: &str = concat!(insert_sqlite!(), " RETURNING sequence, id");
const POSTGRES: &str = concat!(insert_postgres!(), " RETURNING sequence, id");
/// Encoded rows: how many were stored and the last sequence, without a
/// row back per event (each would cross from sqlx's SQLite worker thread
/// on its own): SQLite then answers `last_insert_rowid()` (the rowid is
/// the sequence) on the same connection; PostgreSQL aggregates its
/// `RETURNING` in the statement.
const SQLITE_ENCODED: &str = insert_sqlite!();
const POSTGRES_ENCODED: &str = concat!(
    "WITH stored AS (",
    insert_postgres!(),
    " RETURNING sequence) SELECT count(*) AS stored, max(sequence) AS last_sequence FROM stored"
);

/// Insert `rows` (a JSON array of encoded rows) in order on `conn`; a row
/// whose id is already stored is skipped. Returns how many were stored
/// and the highest sequence given. On SQLite nothing else may use `conn`
/// meanwhile (the caller holds it); on PostgreSQL the caller's transaction
/// holds the audit lock.
pub(crate) async fn append_encoded(
    conn: &mut sqlx::AnyConnection,
    backend: Backend,
    rows: String,
) -> Result<(usize, Option<i64>)> {
    match backend {
        Backend::Sqlite => {
            let stored = sqlx::query(SQLITE_ENCODED)
                .bind(rows)
                .execute(&mut *conn)
                .await?
                .rows_affected() as usize;
            if stored == 0 {
                // `last_insert_rowid()` would be an earlier statement's.
                return Ok((0, None));
            }
            let last: i64 = sqlx::query("SELECT last_insert_rowid()")
                .fetch_one(&mut *conn)
                .await?
                .try_get(0)?;
            Ok((stored, Some(last)))
        }
        Backend::Postgres => {
            let row = sqlx::query(POSTGRES_ENCODED)
                .bind(rows)
                .fetch_one(&mut *conn)
                .await?;
            let stored: i64 = row.try_get("stored")?;
            let last: Option<i64> = row.try_get("last_sequence")?;
            Ok((stored as usize, last))
        }
    }
}

/// What [`append_all`] stored: each event's sequence, `None` for one
/// skipped because its id was taken.
pub(crate) struct Appended {
    now: i64,
    /// The events' ids, drawn at random (32 hex characters each, at the
    /// event's index).
    random: String,
    pub(crate) sequences: Vec<Option<i64>>,
}

impl Appended {
    fn id(&self, index: usize) -> &str {
        &self.random[index * 32..(index + 1) * 32]
    }

    /// The stored events, in order; an event that was not stored is a
    /// `Conflict` (its id was taken).
    pub(crate) fn into_events(self, events: &[NewAuditEvent]) -> Result<Vec<AuditEvent>> {
        events
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let id = self.id(i);
                let sequence = self.sequences[i].ok_or_else(|| {
                    StoreError::conflict(format!("audit event {id} is already stored"))
                })?;
                Ok(AuditEvent {
                    id: id.to_string(),
                    sequence,
                    time: e.time.unwrap_or(self.now),
                    category: e.category.clone(),
                    action: e.action.clone(),
                    outcome: e.outcome,
                    actor: e.actor.clone(),
                    connection: e.connection.clone(),
                    session_id: e.session_id.clone(),
                    client_address: e.client_address.clone(),
                    reason: e.reason.clone(),
                    target: e.target.clone(),
                    before: e.before.clone(),
                    after: e.after.clone(),
                    attributes: e.attributes.clone(),
                })
            })
            .collect()
    }
}

impl Appended {
    /// What the SQLite appender answered for the rows of [`encode_all`].
    pub(crate) fn with_sequences(mut self, sequences: Vec<Option<i64>>) -> Self {
        self.sequences = sequences;
        self
    }
}

/// `events` (which bring no ids) as encoded rows, one per line, with ids
/// drawn as [`append_all`] draws them: for the SQLite appender, which takes
/// them like the journal's rows. (Encoding and parsing them again costs a
/// few microseconds per event; these are the groups of refusals, denials
/// and session starts, not of allowed queries.)
pub(crate) fn encode_all(events: &[NewAuditEvent]) -> (Vec<u8>, Appended) {
    let appended = Appended {
        now: now_ms(),
        random: random_hex(16 * events.len()),
        sequences: Vec::new(),
    };
    let mut lines = Vec::with_capacity(events.len() * 512);
    for (i, event) in events.iter().enumerate() {
        encode_event(&mut lines, event, appended.id(i), appended.now);
        lines.push(b'\n');
    }
    (lines, appended)
}

/// Insert `events` (which bring no ids: the store draws them) in order
/// with `executor`; an event whose drawn id is already taken is skipped
/// (see [`Appended::sequences`]).
pub(crate) async fn append_all<'e, E>(
    executor: E,
    backend: Backend,
    events: &[NewAuditEvent],
) -> Result<Appended>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let mut appended = Appended {
        now: now_ms(),
        // One read of the OS's random source for the whole group.
        random: random_hex(16 * events.len()),
        sequences: Vec::new(),
    };
    if events.is_empty() {
        return Ok(appended);
    }
    let rows: Vec<EventRow<'_>> = events
        .iter()
        .enumerate()
        .map(|(i, e)| event_row(e, appended.id(i), appended.now))
        .collect();
    let sql = match backend {
        Backend::Sqlite => SQLITE,
        Backend::Postgres => POSTGRES,
    };
    let returned = sqlx::query(sql)
        .bind(serde_json::to_string(&rows).expect("audit events serialize"))
        .fetch_all(executor)
        .await?;
    drop(rows);
    let mut sequences: HashMap<String, i64> = HashMap::with_capacity(returned.len());
    for row in &returned {
        sequences.insert(row.try_get("id")?, row.try_get("sequence")?);
    }
    appended.sequences = (0..events.len())
        .map(|i| sequences.get(appended.id(i)).copied())
        .collect();
    Ok(appended)
}
