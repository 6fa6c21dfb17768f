//! The durable audit log and its delivery to sinks.
//!
//! Every row has a `sequence`, assigned by an autoincrement (SQLite) or
//! identity (PostgreSQL) column, monotonic per store and never reused. On
//! PostgreSQL every append takes a transaction-scoped advisory lock first,
//! so rows commit in sequence order: a reader that has seen sequence N and
//! asks for "after N" can never miss a row that committed later with a
//! smaller number (SQLite serialises writers, which gives the same). Gaps
//! are possible (a rolled-back change); order is not violated. An event is
//! committed before [`Audit::append`] returns, so callers acknowledge only
//! what is durable.
//!
//! Admin changes are written by the repositories themselves, in the
//! transaction of the change (`record`), with category `admin`, an action
//! such as `connection.update`, a target (`connection:billing-db.read-only`)
//! and before/after JSON built from the public, secret-free types.
//!
//! Delivery: each sink (a SIEM forwarder, a webhook plugin) has a cursor,
//! `delivered_through`, and delivers in sequence order. [`Audit::due`] hands
//! out the events after the cursor (nothing while a retry is not yet due);
//! [`Audit::mark_delivered`] advances it; [`Audit::mark_failed`] counts an
//! attempt on the head event and sets when to retry; [`Audit::dead_letter`]
//! parks the head event and moves on. Retention
//! ([`Audit::delete_older_than`]) never deletes an event a sink has not yet
//! passed.
//!
//! Leases: gateway nodes sharing a store each run a deliverer per sink, but
//! only the holder of the sink's lease delivers it.
//! [`Audit::acquire_sink_lease`] takes the lease in one conditional
//! `UPDATE` when it is free, expired, or already the caller's (then it is
//! renewed), so of any number of contenders exactly one wins;
//! [`Audit::release_sink_lease`] gives it up. Every cursor write
//! (`mark_delivered`, `mark_failed`, `dead_letter`) names its holder and is
//! *fenced*: it is applied only while that holder is still the one recorded
//! on the sink (the row is locked for the check: `FOR UPDATE` on
//! PostgreSQL, the write lock on SQLite), and otherwise writes nothing and
//! answers [`Fenced::LeaseLost`]. A node whose lease was taken over while a
//! batch was in flight therefore can neither move the cursor back nor
//! advance it past what the new holder delivers. A lease that expired but
//! was not taken by anyone is still its holder's (its writes go through,
//! and its next acquire renews it). Expiry is judged by the clock of the
//! node asking (`lease_until` is Unix ms, like every time here), so nodes'
//! clocks must agree to well within the lease's time to live.

use crate::Store;
use crate::actor::{Actor, Identity};
use crate::audit_append::{Appended, append_all, append_encoded, encode_all};
pub use crate::audit_append::{
    ROW_COLUMNS, RowContext, RowEvent, encode_event, encode_row, is_row,
};
use crate::db::{self, Backend, Sql, Tx, get_json, get_json_opt, now_ms, random_hex, to_json};
use crate::error::{Result, StoreError};
use crate::page::{Page, PageRequest};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use sqlx::Row;
use sqlx::any::AnyRow;

/// Advisory lock key serialising audit appends on PostgreSQL ("gatehaud").
const AUDIT_LOCK: i64 = 0x6761_7465_6861_7564;

/// How an audited action ended (the WIT `audit-outcome`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Success,
    Failure,
    Denied,
    Pending,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Denied => "denied",
            Outcome::Pending => "pending",
        }
    }

    fn parse(text: &str) -> Result<Outcome> {
        Ok(match text {
            "success" => Outcome::Success,
            "failure" => Outcome::Failure,
            "denied" => Outcome::Denied,
            "pending" => Outcome::Pending,
            other => {
                return Err(StoreError::invalid(format!(
                    "unknown audit outcome {other:?}"
                )));
            }
        })
    }
}

/// An event to append. Mirrors the WIT `audit-event` record, plus the
/// admin-change fields `target`, `before` and `after`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewAuditEvent {
    /// `authentication`, `session`, `query`, `review`, `admin`, `plugin`.
    pub category: String,
    /// What happened, e.g. `query.denied`, `session.start`.
    pub action: String,
    pub outcome: Outcome,
    pub actor: Option<Identity>,
    pub connection: Option<String>,
    pub session_id: Option<String>,
    pub client_address: Option<String>,
    pub reason: Option<String>,
    /// What was changed (`user:alice@example.com`).
    pub target: Option<String>,
    /// State before / after a change; never secrets.
    pub before: Option<Json>,
    pub after: Option<Json>,
    pub attributes: Vec<(String, String)>,
    /// Unix ms; `None` means now.
    pub time: Option<i64>,
    /// An id given before the event is stored: [`Audit::append`] keeps it,
    /// and the gateway's journal files of earlier versions carry it
    /// (replayed as encoded rows, [`encode_event`]); [`Audit::append_many`]
    /// refuses it. `None`: the store assigns one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

impl NewAuditEvent {
    pub fn new(category: impl Into<String>, action: impl Into<String>, outcome: Outcome) -> Self {
        NewAuditEvent {
            category: category.into(),
            action: action.into(),
            outcome,
            actor: None,
            connection: None,
            session_id: None,
            client_address: None,
            reason: None,
            target: None,
            before: None,
            after: None,
            attributes: Vec::new(),
            time: None,
            id: None,
        }
    }
}

/// A stored audit event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEvent {
    pub id: String,
    /// Monotonic per store: the order events were committed.
    pub sequence: i64,
    /// Unix ms.
    pub time: i64,
    pub category: String,
    pub action: String,
    pub outcome: Outcome,
    pub actor: Option<Identity>,
    pub connection: Option<String>,
    pub session_id: Option<String>,
    pub client_address: Option<String>,
    pub reason: Option<String>,
    pub target: Option<String>,
    pub before: Option<Json>,
    pub after: Option<Json>,
    pub attributes: Vec<(String, String)>,
}

/// What [`Audit::append_encoded`] stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Replayed {
    /// Events stored now (the others were stored before).
    pub stored: usize,
    /// The highest sequence given now.
    pub last_sequence: Option<i64>,
}

/// Which events [`Audit::list`] returns. Empty fields match everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub category: Option<String>,
    pub action: Option<String>,
    pub actor_id: Option<String>,
    pub connection: Option<String>,
    pub session_id: Option<String>,
    /// Unix ms, inclusive.
    pub since: Option<i64>,
    /// Unix ms, exclusive.
    pub until: Option<i64>,
}

/// Where a new sink starts reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkStart {
    /// Every event still stored.
    Beginning,
    /// Only events appended from now on.
    Now,
}

/// A sink's delivery state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SinkState {
    pub name: String,
    /// The last sequence delivered or dead-lettered.
    pub delivered_through: i64,
    /// Failed attempts on the event after `delivered_through`.
    pub attempts: u32,
    /// Unix ms before which the head event is not retried.
    pub next_attempt_at: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Who holds a sink's delivery lease (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SinkLease {
    /// The holding node's id.
    pub holder: String,
    /// Unix ms after which another node may take the lease.
    pub until: i64,
}

/// The outcome of a cursor write made on behalf of a lease holder.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum Fenced<T> {
    /// Written: the caller still held the sink's lease.
    Held(T),
    /// Another node holds the lease (or it was released): nothing was
    /// written, and the caller must stop delivering the sink.
    LeaseLost,
}

impl<T> Fenced<T> {
    /// The written state, if the caller still held the lease.
    pub fn held(self) -> Option<T> {
        match self {
            Fenced::Held(value) => Some(value),
            Fenced::LeaseLost => None,
        }
    }
}

/// An event a sink gave up on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeadLetter {
    pub sink: String,
    pub event: AuditEvent,
    pub attempts: u32,
    pub last_error: String,
    pub created_at: i64,
}

/// An admin change to audit inside its transaction.
pub(crate) struct Change {
    pub action: &'static str,
    pub target: String,
    pub before: Option<Json>,
    pub after: Option<Json>,
}

impl Change {
    pub(crate) fn new(action: &'static str, target: impl Into<String>) -> Self {
        Change {
            action,
            target: target.into(),
            before: None,
            after: None,
        }
    }

    pub(crate) fn before<T: Serialize>(mut self, value: &T) -> Self {
        self.before = Some(serde_json::to_value(value).expect("store types serialize"));
        self
    }

    pub(crate) fn after<T: Serialize>(mut self, value: &T) -> Self {
        self.after = Some(serde_json::to_value(value).expect("store types serialize"));
        self
    }
}

/// Writes the audit row of an admin change in `tx` (category from the
/// action's prefix: `review.*` is `review`, everything else `admin`).
pub(crate) async fn record(
    tx: &mut Tx,
    backend: Backend,
    actor: &Actor,
    change: Change,
) -> Result<i64> {
    let category = if change.action.starts_with("review.") {
        "review"
    } else {
        "admin"
    };
    let mut event = NewAuditEvent::new(category, change.action, Outcome::Success);
    event.actor = Some(actor.identity.clone());
    event.client_address = actor.client_address.clone();
    event.target = Some(change.target);
    event.before = change.before;
    event.after = change.after;
    Ok(insert(tx, backend, &event).await?.sequence)
}

async fn insert(tx: &mut Tx, backend: Backend, event: &NewAuditEvent) -> Result<AuditEvent> {
    if backend == Backend::Postgres {
        // Held to commit: sequence order is commit order (see module docs).
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(AUDIT_LOCK)
            .execute(&mut **tx)
            .await?;
    }
    let id = event.id.clone().unwrap_or_else(|| random_hex(16));
    let time = event.time.unwrap_or_else(now_ms);
    let sequence: i64 = sqlx::query_scalar(
        "INSERT INTO audit_events (id, occurred_at, category, action, outcome, actor_id, actor, connection, \
         session_id, client_address, reason, target, before_state, after_state, attributes) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING sequence",
    )
    .bind(&id)
    .bind(time)
    .bind(&event.category)
    .bind(&event.action)
    .bind(event.outcome.as_str())
    .bind(event.actor.as_ref().map(|a| a.user_id.clone()))
    .bind(event.actor.as_ref().map(to_json))
    .bind(&event.connection)
    .bind(&event.session_id)
    .bind(&event.client_address)
    .bind(&event.reason)
    .bind(&event.target)
    .bind(event.before.as_ref().map(to_json))
    .bind(event.after.as_ref().map(to_json))
    .bind(to_json(&event.attributes))
    .fetch_one(&mut **tx)
    .await?;
    Ok(AuditEvent {
        id,
        sequence,
        time,
        category: event.category.clone(),
        action: event.action.clone(),
        outcome: event.outcome,
        actor: event.actor.clone(),
        connection: event.connection.clone(),
        session_id: event.session_id.clone(),
        client_address: event.client_address.clone(),
        reason: event.reason.clone(),
        target: event.target.clone(),
        before: event.before.clone(),
        after: event.after.clone(),
        attributes: event.attributes.clone(),
    })
}

const EVENT_COLUMNS: &str = "sequence, id, occurred_at, category, action, outcome, actor, connection, session_id, \
     client_address, reason, target, before_state, after_state, attributes";

fn event_from_row(row: &AnyRow) -> Result<AuditEvent> {
    Ok(AuditEvent {
        id: row.try_get("id")?,
        sequence: row.try_get("sequence")?,
        time: row.try_get("occurred_at")?,
        category: row.try_get("category")?,
        action: row.try_get("action")?,
        outcome: Outcome::parse(&row.try_get::<String, _>("outcome")?)?,
        actor: get_json_opt(row, "actor")?,
        connection: row.try_get("connection")?,
        session_id: row.try_get("session_id")?,
        client_address: row.try_get("client_address")?,
        reason: row.try_get("reason")?,
        target: row.try_get("target")?,
        before: get_json_opt(row, "before_state")?,
        after: get_json_opt(row, "after_state")?,
        attributes: get_json(row, "attributes")?,
    })
}

fn sink_from_row(row: &AnyRow) -> Result<SinkState> {
    Ok(SinkState {
        name: row.try_get("name")?,
        delivered_through: row.try_get("delivered_through")?,
        attempts: db::get_u64(row, "attempts")? as u32,
        next_attempt_at: row.try_get("next_attempt_at")?,
        last_error: row.try_get("last_error")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// The audit log (see the module docs).
pub struct Audit<'s> {
    store: &'s Store,
}

impl<'s> Audit<'s> {
    pub(crate) fn new(store: &'s Store) -> Self {
        Audit { store }
    }

    /// Appends an event; it is committed when this returns.
    pub async fn append(&self, event: NewAuditEvent) -> Result<AuditEvent> {
        let mut tx = self.store.begin().await?;
        let stored = insert(&mut tx, self.store.backend, &event).await?;
        tx.commit().await?;
        Ok(stored)
    }

    /// Appends several events in one transaction (all or none), in order:
    /// the audit pipeline's group commit, where one commit (and, on SQLite,
    /// one WAL sync) covers every event gathered while the previous group
    /// was being written. Committed when this returns.
    /// Events may not carry ids (journaled events, which do, are appended
    /// as encoded rows: [`Audit::append_encoded`]).
    pub async fn append_many(&self, events: &[NewAuditEvent]) -> Result<Vec<AuditEvent>> {
        if events.iter().any(|e| e.id.is_some()) {
            return Err(StoreError::invalid(
                "an appended audit event gets its id from the store (journaled events are appended as encoded rows)",
            ));
        }
        self.append_group(events).await?.into_events(events)
    }

    /// Appends encoded rows ([`encode_row`], [`encode_event`]), one per
    /// line, in order, in one transaction: the gateway's audit journal as
    /// written, never serialised again (on an SQLite file the appender
    /// parses each line once and binds its values; elsewhere the lines are
    /// bound as one JSON array). A row whose id is already stored is
    /// skipped, so replaying a journal twice stores each event once. A
    /// malformed row fails the whole group and stores nothing (`invalid`
    /// for lines that are not UTF-8 or, on an SQLite file, not a row).
    pub async fn append_encoded(&self, lines: &[u8]) -> Result<Replayed> {
        if lines.iter().all(|b| *b == b'\n') {
            return Ok(Replayed::default());
        }
        if let Some(appender) = &self.store.appender {
            // Parsed by the appender, which reports a malformed row (or
            // one that is not UTF-8) as `invalid`.
            let (stored, last_sequence) = appender.audit_rows(lines.to_vec()).await?;
            return Ok(Replayed {
                stored,
                last_sequence,
            });
        }
        let mut array = Vec::with_capacity(lines.len() + 2);
        array.push(b'[');
        for row in lines.split(|b| *b == b'\n').filter(|row| !row.is_empty()) {
            if array.len() > 1 {
                array.push(b',');
            }
            array.extend_from_slice(row);
        }
        array.push(b']');
        let array = String::from_utf8(array)
            .map_err(|_| StoreError::invalid("encoded audit rows must be UTF-8"))?;
        let backend = self.store.backend;
        let (stored, last_sequence) = if backend == Backend::Sqlite {
            // One statement is one transaction; the connection is held
            // for the last rowid after it.
            let mut conn = self.store.pool.acquire().await?;
            append_encoded(&mut conn, backend, array).await?
        } else {
            let mut tx = self.store.begin().await?;
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(AUDIT_LOCK)
                .execute(&mut *tx)
                .await?;
            let appended = append_encoded(&mut tx, backend, array).await?;
            tx.commit().await?;
            appended
        };
        Ok(Replayed {
            stored,
            last_sequence,
        })
    }

    async fn append_group(&self, events: &[NewAuditEvent]) -> Result<Appended> {
        let backend = self.store.backend;
        if let Some(appender) = &self.store.appender
            && !events.is_empty()
        {
            let (lines, appended) = encode_all(events);
            let sequences = appender.audit_each(lines).await?;
            return Ok(appended.with_sequences(sequences));
        }
        if events.is_empty() || backend == Backend::Sqlite {
            // One statement is one transaction: no BEGIN/COMMIT round trips.
            return append_all(&self.store.pool, backend, events).await;
        }
        let mut tx = self.store.begin().await?;
        // Held to commit: sequence order is commit order.
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(AUDIT_LOCK)
            .execute(&mut *tx)
            .await?;
        let appended = append_all(&mut *tx, backend, events).await?;
        tx.commit().await?;
        Ok(appended)
    }

    /// The event with `sequence`.
    pub async fn get(&self, sequence: i64) -> Result<AuditEvent> {
        let mut sql = Sql::new("SELECT ");
        sql.push(EVENT_COLUMNS)
            .push(" FROM audit_events WHERE sequence = ")
            .bind(sequence);
        let row = sql
            .query()
            .fetch_optional(&self.store.pool)
            .await?
            .ok_or_else(|| StoreError::not_found(format!("audit event {sequence}")))?;
        event_from_row(&row)
    }

    /// Up to `limit` events with a sequence above `after`, in order.
    pub async fn after(&self, after: i64, limit: u32) -> Result<Vec<AuditEvent>> {
        let limit = db::check_limit(limit)?;
        let mut sql = Sql::new("SELECT ");
        sql.push(EVENT_COLUMNS)
            .push(" FROM audit_events WHERE sequence > ")
            .bind(after)
            .push(" ORDER BY sequence LIMIT ")
            .bind(limit);
        let rows = sql.query().fetch_all(&self.store.pool).await?;
        rows.iter().map(event_from_row).collect()
    }

    /// Events matching `filter`, newest first.
    pub async fn list(&self, filter: &AuditFilter, page: &PageRequest) -> Result<Page<AuditEvent>> {
        let limit = db::check_limit(page.limit)?;
        let mut sql = Sql::new("SELECT ");
        sql.push(EVENT_COLUMNS)
            .push(" FROM audit_events WHERE 1 = 1");
        if let Some(cursor) = &page.cursor {
            let before: i64 = cursor
                .parse()
                .map_err(|_| StoreError::invalid("malformed page cursor"))?;
            sql.push(" AND sequence < ").bind(before);
        }
        if let Some(v) = &filter.category {
            sql.push(" AND category = ").bind(v.as_str());
        }
        if let Some(v) = &filter.action {
            sql.push(" AND action = ").bind(v.as_str());
        }
        if let Some(v) = &filter.actor_id {
            sql.push(" AND actor_id = ").bind(v.as_str());
        }
        if let Some(v) = &filter.connection {
            sql.push(" AND connection = ").bind(v.as_str());
        }
        if let Some(v) = &filter.session_id {
            sql.push(" AND session_id = ").bind(v.as_str());
        }
        if let Some(v) = filter.since {
            sql.push(" AND occurred_at >= ").bind(v);
        }
        if let Some(v) = filter.until {
            sql.push(" AND occurred_at < ").bind(v);
        }
        sql.push(" ORDER BY sequence DESC LIMIT ").bind(limit + 1);
        let rows = sql.query().fetch_all(&self.store.pool).await?;
        let mut items = rows
            .iter()
            .map(event_from_row)
            .collect::<Result<Vec<_>>>()?;
        let next = if items.len() as i64 > limit {
            items.truncate(limit as usize);
            items.last().map(|e| e.sequence.to_string())
        } else {
            None
        };
        Ok(Page { items, next })
    }

    /// The highest sequence stored (0 when empty). Gateway nodes sharing a
    /// store can poll it to notice admin changes made elsewhere.
    pub async fn latest_sequence(&self) -> Result<i64> {
        let latest: Option<i64> = sqlx::query_scalar("SELECT MAX(sequence) FROM audit_events")
            .fetch_one(&self.store.pool)
            .await?;
        Ok(latest.unwrap_or(0))
    }

    /// Whether an `admin` event was stored after sequence `after`, and the
    /// highest sequence now (to pass as `after` next time): how gateway
    /// nodes sharing a store notice each other's changes without reading
    /// every query's event.
    pub async fn admin_changed_after(&self, after: i64) -> Result<(bool, i64)> {
        let row = sqlx::query(
            "SELECT (SELECT MAX(sequence) FROM audit_events) AS latest, \
             (SELECT MIN(sequence) FROM audit_events WHERE sequence > $1 AND category = 'admin') AS admin",
        )
        .bind(after)
        .fetch_one(&self.store.pool)
        .await?;
        let latest: Option<i64> = row.try_get("latest")?;
        let admin: Option<i64> = row.try_get("admin")?;
        Ok((admin.is_some(), latest.unwrap_or(0).max(after)))
    }

    /// Deletes events older than `cutoff` (Unix ms) that every sink has
    /// passed; returns how many.
    pub async fn delete_older_than(&self, cutoff: i64) -> Result<u64> {
        let mut tx = self.store.begin().await?;
        let horizon: Option<i64> =
            sqlx::query_scalar("SELECT MIN(delivered_through) FROM audit_sinks")
                .fetch_one(&mut *tx)
                .await?;
        let deleted =
            sqlx::query("DELETE FROM audit_events WHERE occurred_at < $1 AND sequence <= $2")
                .bind(cutoff)
                .bind(horizon.unwrap_or(i64::MAX))
                .execute(&mut *tx)
                .await?
                .rows_affected();
        tx.commit().await?;
        Ok(deleted)
    }

    /// Registers a sink (idempotent: an existing sink keeps its state).
    pub async fn register_sink(&self, name: &str, start: SinkStart) -> Result<SinkState> {
        if name.is_empty() || name.len() > 200 {
            return Err(StoreError::invalid("sink name must be 1-200 characters"));
        }
        let now = now_ms();
        let mut tx = self.store.begin().await?;
        let start_at = match start {
            SinkStart::Beginning => 0,
            SinkStart::Now => {
                sqlx::query_scalar::<_, Option<i64>>("SELECT MAX(sequence) FROM audit_events")
                    .fetch_one(&mut *tx)
                    .await?
                    .unwrap_or(0)
            }
        };
        sqlx::query(
            "INSERT INTO audit_sinks (name, delivered_through, created_at, updated_at) VALUES ($1, $2, $3, $3) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(start_at)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.sink(name).await
    }

    pub async fn sink(&self, name: &str) -> Result<SinkState> {
        let row = sqlx::query("SELECT * FROM audit_sinks WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.store.pool)
            .await?
            .ok_or_else(|| StoreError::not_found(format!("audit sink {name}")))?;
        sink_from_row(&row)
    }

    pub async fn sinks(&self) -> Result<Vec<SinkState>> {
        let rows = sqlx::query("SELECT * FROM audit_sinks ORDER BY name")
            .fetch_all(&self.store.pool)
            .await?;
        rows.iter().map(sink_from_row).collect()
    }

    /// Forgets a sink and its dead letters (retention no longer waits for it).
    pub async fn remove_sink(&self, name: &str) -> Result<()> {
        let deleted = sqlx::query("DELETE FROM audit_sinks WHERE name = $1")
            .bind(name)
            .execute(&self.store.pool)
            .await?
            .rows_affected();
        if deleted == 0 {
            return Err(StoreError::not_found(format!("audit sink {name}")));
        }
        Ok(())
    }

    /// The next events `sink` should deliver, in order: none while a retry
    /// is not yet due at `now` (Unix ms).
    pub async fn due(&self, sink: &str, now: i64, limit: u32) -> Result<Vec<AuditEvent>> {
        let state = self.sink(sink).await?;
        if state.next_attempt_at.is_some_and(|at| at > now) {
            return Ok(Vec::new());
        }
        self.after(state.delivered_through, limit).await
    }

    /// Records that `sink` delivered every event up to `through`, if
    /// `holder` still holds its lease (fenced, see the module docs).
    pub async fn mark_delivered(
        &self,
        sink: &str,
        holder: &str,
        through: i64,
    ) -> Result<Fenced<SinkState>> {
        let mut tx = self.store.begin().await?;
        let Some(state) = held_in(&mut tx, self.store.backend, sink, holder).await? else {
            return Ok(Fenced::LeaseLost);
        };
        if through < state.delivered_through {
            return Err(StoreError::conflict(format!(
                "audit sink {sink} already delivered through {}",
                state.delivered_through
            )));
        }
        let latest: Option<i64> = sqlx::query_scalar("SELECT MAX(sequence) FROM audit_events")
            .fetch_one(&mut *tx)
            .await?;
        if through > latest.unwrap_or(0) {
            return Err(StoreError::invalid(format!("no audit event {through} yet")));
        }
        let written = sqlx::query(
            "UPDATE audit_sinks SET delivered_through = $1, attempts = 0, next_attempt_at = NULL, \
             last_error = NULL, updated_at = $2 WHERE name = $3 AND lease_holder = $4",
        )
        .bind(through)
        .bind(now_ms())
        .bind(sink)
        .bind(holder)
        .execute(&mut *tx)
        .await?;
        self.finish_fenced(tx, sink, written.rows_affected()).await
    }

    /// Records a failed attempt to deliver `sequence` (the sink's head
    /// event) and when to retry, if `holder` still holds the sink's lease;
    /// returns the state with its attempt count, so the caller can decide
    /// to [`dead_letter`](Self::dead_letter).
    pub async fn mark_failed(
        &self,
        sink: &str,
        holder: &str,
        sequence: i64,
        error: &str,
        next_attempt_at: i64,
    ) -> Result<Fenced<SinkState>> {
        let mut tx = self.store.begin().await?;
        let Some(state) = held_in(&mut tx, self.store.backend, sink, holder).await? else {
            return Ok(Fenced::LeaseLost);
        };
        check_head(&mut tx, &state, sequence).await?;
        let written = sqlx::query(
            "UPDATE audit_sinks SET attempts = attempts + 1, next_attempt_at = $1, last_error = $2, \
             updated_at = $3 WHERE name = $4 AND lease_holder = $5",
        )
        .bind(next_attempt_at)
        .bind(error)
        .bind(now_ms())
        .bind(sink)
        .bind(holder)
        .execute(&mut *tx)
        .await?;
        self.finish_fenced(tx, sink, written.rows_affected()).await
    }

    /// Gives up on `sequence` (the sink's head event), if `holder` still
    /// holds the sink's lease: parks it as a dead letter and moves the sink
    /// past it.
    pub async fn dead_letter(
        &self,
        sink: &str,
        holder: &str,
        sequence: i64,
        error: &str,
    ) -> Result<Fenced<SinkState>> {
        let now = now_ms();
        let mut tx = self.store.begin().await?;
        let Some(state) = held_in(&mut tx, self.store.backend, sink, holder).await? else {
            return Ok(Fenced::LeaseLost);
        };
        check_head(&mut tx, &state, sequence).await?;
        let written = sqlx::query(
            "UPDATE audit_sinks SET delivered_through = $1, attempts = 0, next_attempt_at = NULL, \
             last_error = NULL, updated_at = $2 WHERE name = $3 AND lease_holder = $4",
        )
        .bind(sequence)
        .bind(now)
        .bind(sink)
        .bind(holder)
        .execute(&mut *tx)
        .await?;
        if written.rows_affected() == 0 {
            return Ok(Fenced::LeaseLost);
        }
        sqlx::query(
            "INSERT INTO audit_dead_letters (sink, sequence, attempts, last_error, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(sink)
        .bind(sequence)
        .bind(state.attempts as i64)
        .bind(error)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        self.finish_fenced(tx, sink, 1).await
    }

    /// Commits a fenced write whose `UPDATE` touched `written` rows (none:
    /// the lease was lost, and the transaction is rolled back), then reads
    /// the sink's state.
    async fn finish_fenced(&self, tx: Tx, sink: &str, written: u64) -> Result<Fenced<SinkState>> {
        if written == 0 {
            tx.rollback().await?;
            return Ok(Fenced::LeaseLost);
        }
        tx.commit().await?;
        Ok(Fenced::Held(self.sink(sink).await?))
    }

    /// Takes `sink`'s delivery lease for `holder` for `ttl` if it is free,
    /// expired, or already `holder`'s (then it is renewed); `false` if
    /// another holder has it. Atomic: of several holders asking at once,
    /// exactly one gets it. `NotFound` if the sink is not registered (where
    /// a new cursor starts is [`register_sink`](Self::register_sink)'s
    /// choice, not a lease's).
    pub async fn acquire_sink_lease(
        &self,
        sink: &str,
        holder: &str,
        ttl: std::time::Duration,
    ) -> Result<bool> {
        check_holder(holder)?;
        let now = now_ms();
        let ttl = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
        let taken = sqlx::query(
            "UPDATE audit_sinks SET lease_holder = $1, lease_until = $2 WHERE name = $3 \
             AND (lease_holder IS NULL OR lease_holder = $1 OR lease_until IS NULL OR lease_until < $4)",
        )
        .bind(holder)
        .bind(now.saturating_add(ttl))
        .bind(sink)
        .bind(now)
        .execute(&self.store.pool)
        .await?
        .rows_affected();
        if taken == 0 {
            // Held by another, or no such sink.
            self.sink(sink).await?;
            return Ok(false);
        }
        Ok(true)
    }

    /// Gives up `sink`'s lease if `holder` has it (another node may take it
    /// at once); `false` if it was not `holder`'s.
    pub async fn release_sink_lease(&self, sink: &str, holder: &str) -> Result<bool> {
        let released = sqlx::query(
            "UPDATE audit_sinks SET lease_holder = NULL, lease_until = NULL \
             WHERE name = $1 AND lease_holder = $2",
        )
        .bind(sink)
        .bind(holder)
        .execute(&self.store.pool)
        .await?
        .rows_affected();
        Ok(released > 0)
    }

    /// Who holds `sink`'s lease, as recorded (an expired lease stays
    /// recorded until another holder takes it or it is released).
    pub async fn sink_lease(&self, sink: &str) -> Result<Option<SinkLease>> {
        let row = sqlx::query("SELECT lease_holder, lease_until FROM audit_sinks WHERE name = $1")
            .bind(sink)
            .fetch_optional(&self.store.pool)
            .await?
            .ok_or_else(|| StoreError::not_found(format!("audit sink {sink}")))?;
        let holder: Option<String> = row.try_get("lease_holder")?;
        let until: Option<i64> = row.try_get("lease_until")?;
        Ok(holder.map(|holder| SinkLease {
            holder,
            until: until.unwrap_or(0),
        }))
    }

    /// Dead letters of `sink`, oldest first.
    pub async fn dead_letters(&self, sink: &str, limit: u32) -> Result<Vec<DeadLetter>> {
        let limit = db::check_limit(limit)?;
        let rows = sqlx::query(
            "SELECT d.sink AS dl_sink, d.attempts AS dl_attempts, d.last_error AS dl_last_error, \
             d.created_at AS dl_created_at, e.* FROM audit_dead_letters d \
             JOIN audit_events e ON e.sequence = d.sequence WHERE d.sink = $1 ORDER BY d.sequence LIMIT $2",
        )
        .bind(sink)
        .bind(limit)
        .fetch_all(&self.store.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(DeadLetter {
                    sink: row.try_get("dl_sink")?,
                    attempts: db::get_u64(row, "dl_attempts")? as u32,
                    last_error: row.try_get("dl_last_error")?,
                    created_at: row.try_get("dl_created_at")?,
                    event: event_from_row(row)?,
                })
            })
            .collect()
    }
}

fn check_holder(holder: &str) -> Result<()> {
    if holder.is_empty() || holder.len() > 200 {
        return Err(StoreError::invalid(
            "a lease holder's id must be 1-200 characters",
        ));
    }
    Ok(())
}

/// The sink's state, locked until `tx` ends, if `holder` holds its lease;
/// `None` if another does (or nobody).
async fn held_in(
    tx: &mut Tx,
    backend: Backend,
    sink: &str,
    holder: &str,
) -> Result<Option<SinkState>> {
    let mut sql = Sql::new("SELECT * FROM audit_sinks WHERE name = ");
    sql.bind(sink);
    if backend == Backend::Postgres {
        // SQLite's write transactions hold the database's write lock already.
        sql.push(" FOR UPDATE");
    }
    let row = sql
        .query()
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| StoreError::not_found(format!("audit sink {sink}")))?;
    let current: Option<String> = row.try_get("lease_holder")?;
    if current.as_deref() != Some(holder) {
        return Ok(None);
    }
    Ok(Some(sink_from_row(&row)?))
}

/// Whether `sequence` is the sink's head (the first event after its
/// cursor); otherwise a conflict.
async fn check_head(tx: &mut Tx, state: &SinkState, sequence: i64) -> Result<()> {
    let sink = &state.name;
    let head: Option<i64> =
        sqlx::query_scalar("SELECT MIN(sequence) FROM audit_events WHERE sequence > $1")
            .bind(state.delivered_through)
            .fetch_one(&mut **tx)
            .await?;
    if head != Some(sequence) {
        return Err(StoreError::conflict(format!(
            "audit event {sequence} is not the next for sink {sink} (next: {})",
            head.map_or("none".to_string(), |h| h.to_string())
        )));
    }
    Ok(())
}
