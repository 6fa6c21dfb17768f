//! The session record in the store: sessions and their query events.
//! (Refused logins are audit events, written durably by the front door
//! through `crate::audit` before the client is answered; the record only
//! passes them to the other recorders.)
//!
//! [`StoreRecorder::record`] never waits: events go into a queue that one
//! writer task drains in order, writing the query events gathered in one
//! transaction: it lingers up to [`LINGER`] to gather a group, unless the
//! queue already holds a full [`BATCH`] (a backlog is written group after
//! group without pausing, so the writer keeps the store's pace, not
//! `BATCH` per `LINGER`). Order per session is kept (one writer, FIFO). A
//! store failure is logged with the event's session and kind and the
//! writer goes on; the queue is unbounded, so a store that stays down
//! grows memory rather than stalling sessions (the audit pipeline, not this
//! record, is the durable-before-acknowledged path).

use super::{SessionEvent, SessionRecorder, Verdict};
use crate::clock::{now_ms, unix_ms};
use gatehouse_store::Store;
use gatehouse_store::sessions::{self, NewSession, SessionSummary, Verb};
use std::collections::BTreeMap;
use tokio::sync::{mpsc, oneshot};

/// Most events taken off the queue at once.
const BATCH: usize = 4096;
/// How long the writer gathers events before writing them: one transaction
/// (and a few multi-row inserts) per interval instead of one per query,
/// which under load cost more CPU than proxying the queries did.
const LINGER: std::time::Duration = std::time::Duration::from_millis(100);

enum Message {
    Event(SessionEvent),
    /// Answered once every event queued before it is written.
    Flush(oneshot::Sender<()>),
}

/// Writes session events into the store from a background task.
pub struct StoreRecorder {
    queue: mpsc::UnboundedSender<Message>,
}

impl StoreRecorder {
    /// Start the writer on the current tokio runtime.
    pub fn start(store: Store) -> Self {
        Self::start_lingering(store, LINGER)
    }

    fn start_lingering(store: Store, linger: std::time::Duration) -> Self {
        let (queue, received) = mpsc::unbounded_channel();
        tokio::spawn(write_loop(store, received, linger));
        Self { queue }
    }

    /// Wait until everything recorded so far is in the store.
    pub async fn flush(&self) {
        let (done, written) = oneshot::channel();
        if self.queue.send(Message::Flush(done)).is_ok() {
            let _ = written.await;
        }
    }
}

impl SessionRecorder for StoreRecorder {
    fn record(&self, event: SessionEvent) {
        if self.queue.send(Message::Event(event)).is_err() {
            tracing::error!("the session record writer has stopped; an event was not stored");
        }
    }
}

async fn write_loop(
    store: Store,
    mut received: mpsc::UnboundedReceiver<Message>,
    linger: std::time::Duration,
) {
    let mut batch = Vec::with_capacity(BATCH);
    while received.recv_many(&mut batch, BATCH).await > 0 {
        // Gather more unless the group is full already (a backlog: write
        // it now) or someone waits for a flush.
        if batch.len() < BATCH && !batch.iter().any(|m| matches!(m, Message::Flush(_))) {
            tokio::time::sleep(linger).await;
            while batch.len() < BATCH {
                match received.try_recv() {
                    Ok(message) => batch.push(message),
                    Err(_) => break,
                }
            }
        }
        let mut queries: Vec<(String, sessions::SessionEvent)> = Vec::new();
        for message in batch.drain(..) {
            match message {
                Message::Event(SessionEvent::Query {
                    session_id,
                    seq,
                    query_id,
                    text,
                    verdict,
                    decided_by,
                    duration,
                    rows,
                    command_tag,
                    counters,
                }) => {
                    let (verdict, reason) = match verdict {
                        Verdict::Allowed => (sessions::Verdict::Allowed, None),
                        Verdict::Rewritten => (sessions::Verdict::Rewritten, None),
                        Verdict::Denied { reason } => (sessions::Verdict::Denied, Some(reason)),
                        Verdict::Review { reason } => (sessions::Verdict::Review, Some(reason)),
                    };
                    let mut event = sessions::SessionEvent::query(seq, now_ms(), text, verdict);
                    event.query_id = Some(query_id);
                    event.reason = reason;
                    event.decided_by = decided_by;
                    event.duration_us = duration.as_micros() as u64;
                    event.rows = rows;
                    event.command_tag = command_tag;
                    let mut summed = BTreeMap::new();
                    for (name, value) in counters {
                        *summed.entry(name).or_insert(0) += value;
                    }
                    event.counters = summed;
                    queries.push((session_id, event));
                }
                other => {
                    write_queries(&store, &mut queries).await;
                    match other {
                        Message::Event(event) => write_one(&store, event).await,
                        Message::Flush(done) => {
                            let _ = done.send(());
                        }
                    }
                }
            }
        }
        write_queries(&store, &mut queries).await;
    }
}

/// Write queued query events in one transaction (and empty the queue).
async fn write_queries(store: &Store, queries: &mut Vec<(String, sessions::SessionEvent)>) {
    if queries.is_empty() {
        return;
    }
    let events = queries.len();
    match store.sessions().record_batch(std::mem::take(queries)).await {
        Ok(outcome) if outcome.skipped > 0 => {
            tracing::warn!(
                skipped = outcome.skipped,
                written = outcome.written,
                "query events of unknown sessions, or already recorded, were skipped"
            )
        }
        Ok(_) => {}
        Err(err) => {
            tracing::error!(events, error = %err, "storing query events failed")
        }
    }
}

async fn write_one(store: &Store, event: SessionEvent) {
    let outcome = match event {
        SessionEvent::Connected {
            session_id,
            client,
            user_id,
            email,
            connection,
            verb,
            at,
        } => store
            .sessions()
            .start(NewSession {
                id: session_id,
                user_id,
                email,
                connection,
                client_address: client,
                verb: match verb {
                    gatehouse_runtime::types::SessionVerb::Connect => Verb::Connect,
                    gatehouse_runtime::types::SessionVerb::Exec => Verb::Exec,
                },
                started_at: unix_ms(at),
            })
            .await
            .map(drop),
        SessionEvent::Disconnected {
            session_id,
            queries,
            denied,
            rows,
            duration,
        } => store
            .sessions()
            .end(
                &session_id,
                SessionSummary {
                    queries,
                    denied,
                    rows,
                    duration_ms: duration.as_millis() as u64,
                },
                now_ms(),
            )
            .await
            .map(drop),
        // Audited by the front door (`pg/audited.rs`).
        SessionEvent::Refused { .. } => Ok(()),
        SessionEvent::Query { .. } => unreachable!("batched by the caller"),
    };
    if let Err(err) = outcome {
        tracing::error!(error = %err, "storing a session event failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_store::sessions::{NewSession, Verb};
    use std::time::{Duration, SystemTime};

    /// A queue longer than a group is written group after group: the
    /// writer lingers only to gather a group that is not full. (Before, it
    /// slept after every group, so beyond `BATCH` events per `LINGER` the
    /// queue grew without bound and the record fell behind.)
    #[tokio::test]
    async fn a_backlog_is_written_without_lingering_between_full_groups() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_default(dir.path()).await.unwrap();
        store
            .sessions()
            .start(NewSession {
                id: "s".into(),
                user_id: "1".into(),
                email: "a@example.com".into(),
                connection: "pg.open".into(),
                client_address: "127.0.0.1:5000".into(),
                verb: Verb::Connect,
                started_at: unix_ms(SystemTime::now()),
            })
            .await
            .unwrap();
        // Lingering would take an hour: only full groups can be written.
        let recorder = StoreRecorder::start_lingering(store.clone(), Duration::from_secs(3600));
        let events = 2 * BATCH as u64;
        for seq in 1..=events {
            recorder.record(SessionEvent::Query {
                session_id: "s".into(),
                seq,
                query_id: seq,
                text: "select 1".into(),
                verdict: Verdict::Allowed,
                decided_by: None,
                duration: Duration::from_micros(5),
                rows: 1,
                command_tag: Some("SELECT 1".into()),
                counters: Vec::new(),
            });
        }
        tokio::time::timeout(Duration::from_secs(120), recorder.flush())
            .await
            .expect("the full groups are written without lingering");
        let stored = store.sessions().events("s", 0, 1000).await.unwrap();
        assert_eq!(stored.len(), 1000);
        let last = store
            .sessions()
            .events("s", events - 1, 1000)
            .await
            .unwrap();
        assert_eq!(last.iter().map(|e| e.seq).collect::<Vec<_>>(), [events]);
    }
}
