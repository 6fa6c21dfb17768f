//! The session record: every connection attempt, every query with its
//! verdict, and every disconnect, written through one trait.
//!
//! The proxy only knows [`SessionRecorder`]; the control plane's store
//! implements it durably, [`TracingRecorder`] writes structured log lines,
//! and [`MemoryRecorder`] keeps events for tests. Recording never blocks
//! the session on I/O it does not need: implementations queue or write
//! quickly. Records never contain secrets: no tokens, no upstream
//! credentials (query text is recorded as sent, by design).

pub mod store;

pub use store::StoreRecorder;

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// How a query was decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    Rewritten,
    Denied { reason: String },
    Review { reason: String },
}

#[derive(Debug, Clone, PartialEq)]
pub enum SessionEvent {
    /// A client was refused before a session started (bad credentials,
    /// unknown connection, connect denied by a plugin).
    Refused {
        client: String,
        user: String,
        connection: String,
        reason: String,
        at: SystemTime,
    },
    /// A session started.
    Connected {
        session_id: String,
        client: String,
        user_id: String,
        email: String,
        connection: String,
        /// A native client (`connect`) or a gateway-run one-off (`exec`).
        verb: gatehouse_runtime::types::SessionVerb,
        at: SystemTime,
    },
    /// A query was decided (and, unless denied, run): one event per run,
    /// so a prepared statement executed ten times is one `query_id` (one
    /// decision) in ten events.
    Query {
        session_id: String,
        /// The event's number in its session, from 1.
        seq: u64,
        /// The query's number in its session: the id the plugins saw.
        query_id: u64,
        text: String,
        verdict: Verdict,
        /// The plugin whose answer decided (or faulted).
        decided_by: Option<String>,
        duration: Duration,
        rows: u64,
        command_tag: Option<String>,
        counters: Vec<(String, u64)>,
    },
    /// The session ended.
    Disconnected {
        session_id: String,
        queries: u64,
        denied: u64,
        rows: u64,
        duration: Duration,
    },
}

/// Where session events go.
pub trait SessionRecorder: Send + Sync + 'static {
    fn record(&self, event: SessionEvent);

    /// Record an event someone else keeps (see [`Fanout`]): recorders that
    /// only look at it override this to spare the copy.
    fn record_ref(&self, event: &SessionEvent) {
        self.record(event.clone());
    }
}

/// Writes events as structured `tracing` lines (target `gatehouse::session`).
pub struct TracingRecorder;

impl SessionRecorder for TracingRecorder {
    fn record(&self, event: SessionEvent) {
        self.record_ref(&event)
    }

    fn record_ref(&self, event: &SessionEvent) {
        match event {
            SessionEvent::Refused {
                client,
                user,
                connection,
                reason,
                ..
            } => {
                tracing::warn!(target: "gatehouse::session", %client, %user, %connection, %reason, "refused")
            }
            SessionEvent::Connected {
                session_id,
                client,
                email,
                connection,
                ..
            } => {
                tracing::info!(target: "gatehouse::session", %session_id, %client, %email, %connection, "connected")
            }
            SessionEvent::Query {
                session_id,
                query_id,
                verdict,
                decided_by,
                duration,
                rows,
                ..
            } => {
                // The store has every query; the log line is for debugging.
                tracing::debug!(target: "gatehouse::session", %session_id, query_id, ?verdict, ?decided_by, ?duration, rows, "query")
            }
            SessionEvent::Disconnected {
                session_id,
                queries,
                denied,
                rows,
                duration,
            } => {
                tracing::info!(target: "gatehouse::session", %session_id, queries, denied, rows, ?duration, "disconnected")
            }
        }
    }
}

/// Hands every event to each of several recorders: the first keeps it,
/// the others see it by reference first (put the recorder that stores
/// events first, so the per-query path copies nothing).
pub struct Fanout(pub Vec<Arc<dyn SessionRecorder>>);

impl SessionRecorder for Fanout {
    fn record(&self, event: SessionEvent) {
        if let Some((first, rest)) = self.0.split_first() {
            for recorder in rest {
                recorder.record_ref(&event);
            }
            first.record(event);
        }
    }
}

/// Keeps events in memory (tests, and the embedded default's recent view).
#[derive(Default)]
pub struct MemoryRecorder {
    events: Mutex<Vec<SessionEvent>>,
}

impl MemoryRecorder {
    pub fn events(&self) -> Vec<SessionEvent> {
        self.events.lock().unwrap().clone()
    }
}

impl SessionRecorder for MemoryRecorder {
    fn record(&self, event: SessionEvent) {
        self.events.lock().unwrap().push(event);
    }
}
