//! Sessions and their events: the durable session record.
//!
//! The gateway writes a session when it starts ([`Sessions::start`]), one
//! event per decided query ([`Sessions::record`], or a batch with
//! [`Sessions::record_many`] in one transaction), and its summary when it
//! ends ([`Sessions::end`]). These calls take no [`Actor`](crate::Actor) and
//! write no audit rows: they are the record itself. Query text is stored as
//! sent (by design); nothing else secret ever is (no tokens, no upstream
//! credentials).
//!
//! Events are keyed by `(session_id, seq)`, `seq` being the event's number
//! within its session, so a replayed event is a `Conflict` (or, in a
//! [`Sessions::record_batch`], skipped), never a duplicate. `query_id` is
//! the number of the query an event records: one prepared statement run
//! many times is one query (one decision) with many events. An event for an
//! unknown session is `NotFound` (skipped in a batch).
//!
//! Listing ([`Sessions::list`]) filters by user, connection, time and
//! verdict (sessions with at least one event of that verdict) and pages
//! newest first by `(started_at, id)`. Retention
//! ([`Sessions::delete_older_than`]) deletes sessions that ended (or, never
//! ended, started) before a cutoff, with their events.

use crate::Store;
use crate::db::{self, Sql, Tx, now_ms};
use crate::error::{OnConflict, Result, StoreError};
use crate::page::{self, Page, PageRequest};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;
use std::collections::BTreeMap;

/// How a session was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verb {
    /// A native client.
    Connect,
    /// A gateway-run one-off.
    Exec,
}

impl Verb {
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Connect => "connect",
            Verb::Exec => "exec",
        }
    }
}

/// How a query was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Allowed,
    Rewritten,
    Denied,
    Review,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Allowed => "allowed",
            Verdict::Rewritten => "rewritten",
            Verdict::Denied => "denied",
            Verdict::Review => "review",
        }
    }

    fn parse(text: &str) -> Result<Self> {
        Ok(match text {
            "allowed" => Verdict::Allowed,
            "rewritten" => Verdict::Rewritten,
            "denied" => Verdict::Denied,
            "review" => Verdict::Review,
            other => return Err(StoreError::invalid(format!("stored verdict {other:?}"))),
        })
    }
}

/// A session that just started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSession {
    /// The gateway's session id.
    pub id: String,
    /// The identity's `user_id`.
    pub user_id: String,
    pub email: String,
    /// `resource.role`.
    pub connection: String,
    pub client_address: String,
    pub verb: Verb,
    /// Unix ms.
    pub started_at: i64,
}

/// What a session did, written when it ends.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SessionSummary {
    pub queries: u64,
    pub denied: u64,
    pub rows: u64,
    pub duration_ms: u64,
}

/// A session as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Session {
    pub id: String,
    pub user_id: String,
    pub email: String,
    pub connection: String,
    pub client_address: String,
    pub verb: Verb,
    pub started_at: i64,
    /// `None` while the session is live (or if the gateway died).
    pub ended_at: Option<i64>,
    pub queries: u64,
    pub denied: u64,
    pub rows: u64,
    pub duration_ms: Option<u64>,
}

/// One event of a session (a decided query, usually).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionEvent {
    /// Order within the session, from 1.
    pub seq: u64,
    /// The query (decision) this event records: the id the plugins saw.
    /// Several events share it when a prepared statement runs repeatedly.
    pub query_id: Option<u64>,
    /// `query`, or another kind the gateway defines.
    pub kind: String,
    /// Unix ms.
    pub at: i64,
    pub query: Option<String>,
    pub verdict: Option<Verdict>,
    /// Why it was denied or held.
    pub reason: Option<String>,
    /// The plugin whose answer decided (or faulted).
    pub decided_by: Option<String>,
    pub duration_us: u64,
    pub rows: u64,
    pub command_tag: Option<String>,
    /// Plugin counters (`masked.email = 12`).
    pub counters: BTreeMap<String, u64>,
}

impl SessionEvent {
    /// A `query` event at `at` with nothing else set (its `query_id` is
    /// `seq`, the common case of one run per decision).
    pub fn query(seq: u64, at: i64, text: impl Into<String>, verdict: Verdict) -> Self {
        SessionEvent {
            seq,
            query_id: Some(seq),
            kind: "query".into(),
            at,
            query: Some(text.into()),
            verdict: Some(verdict),
            reason: None,
            decided_by: None,
            duration_us: 0,
            rows: 0,
            command_tag: None,
            counters: BTreeMap::new(),
        }
    }
}

/// Which sessions [`Sessions::list`] returns; empty fields match all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionFilter {
    pub user_id: Option<String>,
    pub email: Option<String>,
    pub connection: Option<String>,
    /// Started at or after (Unix ms).
    pub since: Option<i64>,
    /// Started before (Unix ms).
    pub until: Option<i64>,
    /// Sessions with at least one event of this verdict.
    pub verdict: Option<Verdict>,
}

/// A count or number as the `INTEGER` column holds it (saturating).
pub(crate) fn i64_of(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// The session list's condition "has a query event with verdict `v`".
///
/// The verdict is one of four fixed words written into the SQL, not
/// bound: the `session_events_verdict` index only holds events that are
/// not allowed (migration 0006), and SQLite uses a partial index only when
/// the query repeats its condition word for word, which a bound value
/// cannot. Allowed events are found through the primary key (a session's
/// first query is almost always one).
fn verdict_filter(v: Verdict) -> &'static str {
    macro_rules! not_allowed {
        ($verdict:literal) => {
            concat!(
                " AND EXISTS (SELECT 1 FROM session_events e WHERE e.verdict = '",
                $verdict,
                "' AND e.verdict <> 'allowed' AND e.session_id = s.id)"
            )
        };
    }
    match v {
        Verdict::Allowed => {
            " AND EXISTS (SELECT 1 FROM session_events e \
             WHERE e.session_id = s.id AND e.verdict = 'allowed')"
        }
        Verdict::Rewritten => not_allowed!("rewritten"),
        Verdict::Denied => not_allowed!("denied"),
        Verdict::Review => not_allowed!("review"),
    }
}

fn session_from_row(row: &AnyRow) -> Result<Session> {
    let verb: String = row.try_get("verb")?;
    let duration: Option<i64> = row.try_get("duration_ms")?;
    Ok(Session {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        email: row.try_get("email")?,
        connection: row.try_get("connection")?,
        client_address: row.try_get("client_address")?,
        verb: if verb == "exec" {
            Verb::Exec
        } else {
            Verb::Connect
        },
        started_at: row.try_get("started_at")?,
        ended_at: row.try_get("ended_at")?,
        queries: db::get_u64(row, "queries")?,
        denied: db::get_u64(row, "denied")?,
        rows: db::get_u64(row, "row_count")?,
        duration_ms: duration.map(|d| d.max(0) as u64),
    })
}

fn event_from_row(row: &AnyRow) -> Result<SessionEvent> {
    let verdict: Option<String> = row.try_get("verdict")?;
    Ok(SessionEvent {
        seq: db::get_u64(row, "seq")?,
        query_id: row
            .try_get::<Option<i64>, _>("query_id")?
            .map(|id| id.max(0) as u64),
        kind: row.try_get("kind")?,
        at: row.try_get("at")?,
        query: row.try_get("query_text")?,
        verdict: verdict.as_deref().map(Verdict::parse).transpose()?,
        reason: row.try_get("reason")?,
        decided_by: row.try_get("decided_by")?,
        duration_us: db::get_u64(row, "duration_us")?,
        rows: db::get_u64(row, "row_count")?,
        command_tag: row.try_get("command_tag")?,
        counters: db::get_json(row, "counters")?,
    })
}

async fn insert_event(tx: &mut Tx, session_id: &str, event: &SessionEvent) -> Result<()> {
    if event.kind.is_empty() || event.kind.len() > 64 {
        return Err(StoreError::invalid("event kind must be 1-64 bytes"));
    }
    let exists: Option<i64> = sqlx::query_scalar("SELECT 1 FROM sessions WHERE id = $1")
        .bind(session_id)
        .fetch_optional(&mut **tx)
        .await?;
    if exists.is_none() {
        return Err(StoreError::not_found(format!("session {session_id}")));
    }
    sqlx::query(
        "INSERT INTO session_events (session_id, seq, query_id, kind, at, query_text, verdict, reason, decided_by, \
         duration_us, row_count, command_tag, counters) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(session_id)
    .bind(i64_of(event.seq))
    .bind(event.query_id.map(i64_of))
    .bind(&event.kind)
    .bind(event.at)
    .bind(&event.query)
    .bind(event.verdict.map(Verdict::as_str))
    .bind(&event.reason)
    .bind(&event.decided_by)
    .bind(i64_of(event.duration_us))
    .bind(i64_of(event.rows))
    .bind(&event.command_tag)
    .bind(db::to_json(&event.counters))
    .execute(&mut **tx)
    .await
    .on_conflict(|| format!("session {session_id} already has event {}", event.seq))?;
    Ok(())
}

/// What [`Sessions::record_batch`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    pub written: u64,
    /// Events of unknown sessions, and events already recorded.
    pub skipped: u64,
}

/// The session record's bulk insert: events as one JSON array of arrays.
mod batch {
    use super::{SessionEvent, i64_of};
    use crate::db::{self, Backend};
    use serde::Serialize;

    /// One event, in the column order of [`insert_sql`]'s element access.
    #[derive(Serialize)]
    struct Row<'a>(
        &'a str,
        i64,
        Option<i64>,
        &'a str,
        i64,
        Option<&'a str>,
        Option<&'static str>,
        Option<&'a str>,
        Option<&'a str>,
        i64,
        i64,
        Option<&'a str>,
        // The counters' own JSON, as a string: both databases hand a
        // string element back as the text the column stores.
        String,
    );

    pub(super) fn encode(events: &[(String, SessionEvent)]) -> String {
        let rows: Vec<Row<'_>> = events
            .iter()
            .map(|(session_id, e)| {
                Row(
                    session_id,
                    i64_of(e.seq),
                    e.query_id.map(i64_of),
                    &e.kind,
                    e.at,
                    e.query.as_deref(),
                    e.verdict.map(|v| v.as_str()),
                    e.reason.as_deref(),
                    e.decided_by.as_deref(),
                    i64_of(e.duration_us),
                    i64_of(e.rows),
                    e.command_tag.as_deref(),
                    if e.counters.is_empty() {
                        "{}".to_string()
                    } else {
                        db::to_json(&e.counters)
                    },
                )
            })
            .collect();
        serde_json::to_string(&rows).expect("session events serialize")
    }

    const SQLITE: &str = "INSERT INTO session_events (session_id, seq, query_id, kind, at, query_text, verdict, \
         reason, decided_by, duration_us, row_count, command_tag, counters) \
         SELECT e.value ->> 0, e.value ->> 1, e.value ->> 2, e.value ->> 3, e.value ->> 4, e.value ->> 5, \
         e.value ->> 6, e.value ->> 7, e.value ->> 8, e.value ->> 9, e.value ->> 10, e.value ->> 11, \
         e.value ->> 12 FROM jsonb_each($1) AS e \
         WHERE EXISTS (SELECT 1 FROM sessions s WHERE s.id = e.value ->> 0) \
         ON CONFLICT DO NOTHING";

    const POSTGRES: &str = "INSERT INTO session_events (session_id, seq, query_id, kind, at, query_text, verdict, \
         reason, decided_by, duration_us, row_count, command_tag, counters) \
         SELECT e ->> 0, (e ->> 1)::bigint, (e ->> 2)::bigint, e ->> 3, (e ->> 4)::bigint, e ->> 5, e ->> 6, \
         e ->> 7, e ->> 8, (e ->> 9)::bigint, (e ->> 10)::bigint, e ->> 11, e ->> 12 \
         FROM json_array_elements($1::json) AS e \
         WHERE EXISTS (SELECT 1 FROM sessions s WHERE s.id = e ->> 0) \
         ON CONFLICT DO NOTHING";

    pub(super) fn insert_sql(backend: Backend) -> &'static str {
        match backend {
            Backend::Sqlite => SQLITE,
            Backend::Postgres => POSTGRES,
        }
    }
}

/// The sessions repository.
pub struct Sessions<'s> {
    store: &'s Store,
}

impl<'s> Sessions<'s> {
    pub(crate) fn new(store: &'s Store) -> Self {
        Sessions { store }
    }

    pub async fn start(&self, new: NewSession) -> Result<Session> {
        if new.id.is_empty() || new.id.len() > 128 {
            return Err(StoreError::invalid("session id must be 1-128 bytes"));
        }
        sqlx::query(
            "INSERT INTO sessions (id, user_id, email, connection, client_address, verb, started_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&new.id)
        .bind(&new.user_id)
        .bind(new.email.to_lowercase())
        .bind(&new.connection)
        .bind(&new.client_address)
        .bind(new.verb.as_str())
        .bind(new.started_at)
        .execute(&self.store.pool)
        .await
        .on_conflict(|| format!("session {} already exists", new.id))?;
        self.get(&new.id).await
    }

    /// Records one event.
    pub async fn record(&self, session_id: &str, event: &SessionEvent) -> Result<()> {
        self.record_many(session_id, std::slice::from_ref(event))
            .await
    }

    /// Records several events of one session in one transaction (all or
    /// none).
    pub async fn record_many(&self, session_id: &str, events: &[SessionEvent]) -> Result<()> {
        let mut tx = self.store.begin().await?;
        for event in events {
            insert_event(&mut tx, session_id, event).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Records events of several sessions at once: the session record's
    /// batch writer, where a statement per event through the driver would
    /// cost more than the query it records. On an SQLite file the store's
    /// appender inserts them with multi-row prepared statements, in one
    /// transaction (`crate::appender`); elsewhere they travel as one JSON
    /// array that the database unpacks (`jsonb_each` on SQLite in memory,
    /// `json_array_elements` on PostgreSQL) in one statement.
    ///
    /// Best effort per event, unlike [`Sessions::record_many`]: an event of
    /// an unknown session, or one already recorded (a replay), is skipped
    /// and counted in [`BatchOutcome::skipped`]; the others are written.
    pub async fn record_batch(&self, events: Vec<(String, SessionEvent)>) -> Result<BatchOutcome> {
        if events.is_empty() {
            return Ok(BatchOutcome::default());
        }
        for (_, event) in &events {
            if event.kind.is_empty() || event.kind.len() > 64 {
                return Err(StoreError::invalid("event kind must be 1-64 bytes"));
            }
        }
        if let Some(appender) = &self.store.appender {
            return appender.session_events(events).await;
        }
        let rows = batch::encode(&events);
        let written = sqlx::query(batch::insert_sql(self.store.backend))
            .bind(rows)
            .execute(&self.store.pool)
            .await?
            .rows_affected();
        Ok(BatchOutcome {
            written,
            skipped: events.len() as u64 - written.min(events.len() as u64),
        })
    }

    /// Writes the session's summary and end time.
    pub async fn end(
        &self,
        session_id: &str,
        summary: SessionSummary,
        ended_at: i64,
    ) -> Result<Session> {
        let updated = sqlx::query(
            "UPDATE sessions SET ended_at = $1, queries = $2, denied = $3, row_count = $4, duration_ms = $5 WHERE id = $6",
        )
        .bind(ended_at)
        .bind(i64_of(summary.queries))
        .bind(i64_of(summary.denied))
        .bind(i64_of(summary.rows))
        .bind(i64_of(summary.duration_ms))
        .bind(session_id)
        .execute(&self.store.pool)
        .await?
        .rows_affected();
        if updated == 0 {
            return Err(StoreError::not_found(format!("session {session_id}")));
        }
        self.get(session_id).await
    }

    pub async fn get(&self, id: &str) -> Result<Session> {
        let row = sqlx::query("SELECT * FROM sessions WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.store.pool)
            .await?
            .ok_or_else(|| StoreError::not_found(format!("session {id}")))?;
        session_from_row(&row)
    }

    /// Sessions matching `filter`, newest first.
    pub async fn list(&self, filter: &SessionFilter, page: &PageRequest) -> Result<Page<Session>> {
        let limit = db::check_limit(page.limit)?;
        let mut sql = Sql::new("SELECT * FROM sessions s WHERE 1 = 1");
        if let Some(cursor) = &page.cursor {
            let (started_at, id) = page::decode(cursor)?;
            sql.push(" AND (s.started_at < ")
                .bind(started_at)
                .push(" OR (s.started_at = ")
                .bind(started_at)
                .push(" AND s.id < ")
                .bind(id)
                .push("))");
        }
        if let Some(v) = &filter.user_id {
            sql.push(" AND s.user_id = ").bind(v.as_str());
        }
        if let Some(v) = &filter.email {
            sql.push(" AND s.email = ").bind(v.to_lowercase());
        }
        if let Some(v) = &filter.connection {
            sql.push(" AND s.connection = ").bind(v.as_str());
        }
        if let Some(v) = filter.since {
            sql.push(" AND s.started_at >= ").bind(v);
        }
        if let Some(v) = filter.until {
            sql.push(" AND s.started_at < ").bind(v);
        }
        if let Some(v) = filter.verdict {
            sql.push(verdict_filter(v));
        }
        sql.push(" ORDER BY s.started_at DESC, s.id DESC LIMIT ")
            .bind(limit + 1);
        let rows = sql.query().fetch_all(&self.store.pool).await?;
        let mut items = rows
            .iter()
            .map(session_from_row)
            .collect::<Result<Vec<_>>>()?;
        let next = if items.len() as i64 > limit {
            items.truncate(limit as usize);
            items.last().map(|s| page::encode(s.started_at, &s.id))
        } else {
            None
        };
        Ok(Page { items, next })
    }

    /// Up to `limit` events of a session with `seq` above `after`, in order.
    pub async fn events(
        &self,
        session_id: &str,
        after: u64,
        limit: u32,
    ) -> Result<Vec<SessionEvent>> {
        let limit = db::check_limit(limit)?;
        let rows = sqlx::query(
            "SELECT * FROM session_events WHERE session_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        )
        .bind(session_id)
        .bind(i64_of(after))
        .bind(limit)
        .fetch_all(&self.store.pool)
        .await?;
        rows.iter().map(event_from_row).collect()
    }

    /// Deletes sessions (and their events) that ended, or never ended but
    /// started, before `cutoff` (Unix ms); returns how many sessions.
    pub async fn delete_older_than(&self, cutoff: i64) -> Result<u64> {
        let mut tx = self.store.begin().await?;
        // Explicit, so retention does not depend on cascade settings.
        sqlx::query(
            "DELETE FROM session_events WHERE session_id IN \
             (SELECT id FROM sessions WHERE COALESCE(ended_at, started_at) < $1)",
        )
        .bind(cutoff)
        .execute(&mut *tx)
        .await?;
        let deleted = sqlx::query("DELETE FROM sessions WHERE COALESCE(ended_at, started_at) < $1")
            .bind(cutoff)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        tracing::debug!(deleted, cutoff, now = now_ms(), "session retention");
        Ok(deleted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SecretKeys;
    use sqlx::Row;

    /// SQLite answers the "not allowed" verdict filters from the partial
    /// index, which it only does while [`verdict_filter`] repeats the
    /// index's condition literally.
    #[tokio::test]
    async fn verdict_filters_use_the_partial_index_on_sqlite() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("s.db").display());
        let store = Store::open(&url, SecretKeys::generate()).await.unwrap();
        for verdict in [Verdict::Denied, Verdict::Review, Verdict::Rewritten] {
            let sql = format!(
                "EXPLAIN QUERY PLAN SELECT s.id FROM sessions s WHERE true{}",
                verdict_filter(verdict)
            );
            let plan: Vec<String> = sqlx::query(sqlx::AssertSqlSafe(sql))
                .fetch_all(&store.pool)
                .await
                .unwrap()
                .iter()
                .map(|row| row.get::<String, _>("detail"))
                .collect();
            assert!(
                plan.iter()
                    .any(|step| step.contains("INDEX session_events_verdict")),
                "{verdict:?}: {plan:?}"
            );
        }
        let partial: i64 = sqlx::query_scalar(
            "SELECT partial FROM pragma_index_list('session_events') \
             WHERE name = 'session_events_verdict'",
        )
        .fetch_one(&store.pool)
        .await
        .unwrap();
        assert_eq!(partial, 1);
    }
}
