//! The durable audit pipeline: every audit event is committed to the store
//! *before* what it records is acknowledged, then fanned out to the
//! audit-sink plugins asynchronously, in order, with retries and dead
//! letters. `docs/audit-events.md` ("Pipeline and guarantees") is the
//! operator's version of this page.
//!
//! * [`log`]: [`AuditLog`], the gateway's writer with group commit —
//!   `append(event).await` returns once the event is committed (many
//!   producers share one transaction), `submit(event)` queues without
//!   waiting; FIFO either way.
//! * [`events`]: the events the gateway writes (session start / refusal /
//!   end, query verdicts, plugin faults, dead letters), each with actor,
//!   connection, session, client address and time; [`SessionAudit`] is a
//!   session's handle.
//! * [`deliver`]: one task per sink following its cursor in the store.
//! * [`sinks`]: `[[audit.sinks]]` bound and started at startup.
//! * [`retention`]: `[sessions] retention_days` / `[audit] retention_days`.
//! * [`config`]: the `[audit]` and `[sessions]` sections.
//!
//! **What "acknowledged" means, and the guarantee.** An event is
//! acknowledged when the gateway tells someone the thing it records
//! happened. The gateway awaits the event's commit before:
//! * answering a refused database login (`session.refused`), an `on-connect`
//!   deny or review, or a failed session setup — before the FATAL is sent;
//! * admitting a session (`session.start`) — before `AuthenticationOk`;
//! * answering a denied or held query (`query.denied`, `query.held`), and
//!   before running a rewritten one (`query.rewritten`) — with a fault that
//!   caused a deny, its `plugin.fault` commits in the same group or before;
//! * every admin change and review transition: the store writes their rows
//!   in the change's own transaction, so the API's 2xx follows the commit.
//!
//! So a gateway killed at any instant (kill -9) loses no event of something
//! a client or admin was told about. Not covered (recorded, but a crash can
//! lose the last moments): allowed queries' session-record rows (written
//! in 100 ms batches; audit them durably with `[audit] allowed_queries`),
//! `session.end` (the client is gone), a result withheld after a
//! result-hook fault (recorded right after the client is told), and
//! `audit.dead_letter` / `retention.run` (nobody waits on them). If the
//! store cannot be written, the session whose event it was ends with a
//! FATAL error instead of being answered (fail closed).

pub mod config;
pub mod deliver;
pub mod events;
pub mod log;
pub mod retention;
pub mod sinks;

pub use config::{AuditSection, SessionsSection, SinkConfig};
pub use events::{SessionAudit, SessionContext};
pub use log::{AuditError, AuditLog};

use gatehouse_runtime::Runtime;
use gatehouse_store::Store;
use std::sync::Arc;
use tokio::task::JoinHandle;

/// The running pipeline: the writer handle, the sink deliverers and the
/// retention task (stopped when dropped).
pub struct AuditPipeline {
    pub log: AuditLog,
    /// `[audit] allowed_queries`.
    pub allowed_queries: bool,
    tasks: Vec<JoinHandle<()>>,
}

impl AuditPipeline {
    /// Start the writer, every configured sink, and retention. Fails,
    /// naming the sink, if a sink cannot be set up.
    pub async fn start(
        audit: &AuditSection,
        sessions: &SessionsSection,
        store: &Store,
        runtime: &Arc<Runtime>,
    ) -> anyhow::Result<Self> {
        let log = AuditLog::start(store.clone());
        let mut tasks = sinks::start(audit, store, runtime, &log).await?;
        let retention = retention::Retention {
            sessions_days: sessions.retention_days,
            audit_days: audit.retention_days,
        };
        if !retention.is_off() {
            tasks.push(tokio::spawn(retention.run(store.clone(), log.clone())));
        }
        Ok(Self {
            log,
            allowed_queries: audit.allowed_queries,
            tasks,
        })
    }

    /// Stop delivering (the writer stops when the last handle is dropped).
    pub fn stop(&self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Drop for AuditPipeline {
    fn drop(&mut self) {
        self.stop();
    }
}
