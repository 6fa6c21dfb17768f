//! Appending a group of audit events in one statement (the gateway's group
//! commit, [`crate::audit::Audit::append_many`]).
//!
//! The events travel as one JSON array of arrays bound as a single value,
//! which the database unpacks (`json_each` on SQLite,
//! `json_array_elements` on PostgreSQL) and inserts in array order: a
//! statement, or a bound value, per event costs the driver more than the
//! insert itself once every allowed query is an audit event. `RETURNING`
//! gives each row's `sequence` by `id`, so the answer is matched by id,
//! never by position. An event may bring its own id (a journaled event):
//! one already stored is skipped, and the caller decides whether that is
//! a replay or a conflict.
//!
//! Ordering: on PostgreSQL the caller's transaction holds the audit
//! advisory lock (sequence order is commit order); on SQLite the statement
//! is its own transaction under the database's write lock. Values are only
//! ever bound, never spliced into the SQL.

use crate::audit::{AuditEvent, NewAuditEvent};
use crate::db::{Backend, now_ms, random_hex, to_json};
use crate::error::{Result, StoreError};
use serde::Serialize;
use sqlx::Row;
use std::collections::HashMap;

/// One event, in the column order of the statements below.
#[derive(Serialize)]
struct EventRow<'a>(
    &'a str,
    i64,
    &'a str,
    &'a str,
    &'static str,
    Option<&'a str>,
    Option<String>,
    Option<&'a str>,
    Option<&'a str>,
    Option<&'a str>,
    Option<&'a str>,
    Option<&'a str>,
    Option<String>,
    Option<String>,
    String,
);

const SQLITE: &str = "INSERT INTO audit_events (id, occurred_at, category, action, outcome, actor_id, actor, \
     connection, session_id, client_address, reason, target, before_state, after_state, attributes) \
     SELECT e.value ->> 0, e.value ->> 1, e.value ->> 2, e.value ->> 3, e.value ->> 4, e.value ->> 5, \
     e.value ->> 6, e.value ->> 7, e.value ->> 8, e.value ->> 9, e.value ->> 10, e.value ->> 11, \
     e.value ->> 12, e.value ->> 13, e.value ->> 14 FROM json_each($1) AS e WHERE true ORDER BY e.key \
     ON CONFLICT (id) DO NOTHING RETURNING sequence, id";

const POSTGRES: &str = "INSERT INTO audit_events (id, occurred_at, category, action, outcome, actor_id, actor, \
     connection, session_id, client_address, reason, target, before_state, after_state, attributes) \
     SELECT e.v ->> 0, (e.v ->> 1)::bigint, e.v ->> 2, e.v ->> 3, e.v ->> 4, e.v ->> 5, e.v ->> 6, \
     e.v ->> 7, e.v ->> 8, e.v ->> 9, e.v ->> 10, e.v ->> 11, e.v ->> 12, e.v ->> 13, e.v ->> 14 \
     FROM json_array_elements($1::json) WITH ORDINALITY AS e(v, n) ORDER BY e.n \
     ON CONFLICT (id) DO NOTHING RETURNING sequence, id";

/// What [`append_all`] stored: each event's sequence, `None` for one
/// skipped as already stored.
pub(crate) struct Appended {
    now: i64,
    /// The ids drawn for events that brought none (32 hex characters each,
    /// at the event's index).
    random: String,
    pub(crate) sequences: Vec<Option<i64>>,
}

impl Appended {
    fn id<'a>(&'a self, index: usize, event: &'a NewAuditEvent) -> &'a str {
        event
            .id
            .as_deref()
            .unwrap_or(&self.random[index * 32..(index + 1) * 32])
    }

    /// The stored events, in order; an event that was not stored is a
    /// `Conflict` (its id was taken).
    pub(crate) fn into_events(self, events: &[NewAuditEvent]) -> Result<Vec<AuditEvent>> {
        events
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let id = self.id(i, e);
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

/// Insert `events` in order with `executor`; an event whose id is already
/// stored is skipped (see [`Appended::sequences`]).
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
        .map(|(i, e)| {
            EventRow(
                appended.id(i, e),
                e.time.unwrap_or(appended.now),
                &e.category,
                &e.action,
                e.outcome.as_str(),
                e.actor.as_ref().map(|a| a.user_id.as_str()),
                e.actor.as_ref().map(to_json),
                e.connection.as_deref(),
                e.session_id.as_deref(),
                e.client_address.as_deref(),
                e.reason.as_deref(),
                e.target.as_deref(),
                e.before.as_ref().map(to_json),
                e.after.as_ref().map(to_json),
                to_json(&e.attributes),
            )
        })
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
    appended.sequences = events
        .iter()
        .enumerate()
        .map(|(i, e)| sequences.get(appended.id(i, e)).copied())
        .collect();
    Ok(appended)
}
