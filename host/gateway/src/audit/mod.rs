//! The durable audit pipeline: every audit event is committed to the store
//! *before* what it records is acknowledged, then fanned out to the
//! audit-sink plugins asynchronously, in order, with retries and dead
//! letters. `docs/audit-events.md` ("Pipeline and guarantees") is the
//! operator's version of this page.
//!
//! * [`journal`]: the node's append-only journal that sessions write
//!   allowed queries' events to on their own thread;
//! * [`log`]: [`AuditLog`], the gateway's writer with group commit —
//!   `append(event).await` returns once the event is committed (many
//!   producers share one transaction), `submit(event)` queues without
//!   waiting; FIFO either way.
//! * [`events`]: the events the gateway writes (session start / refusal /
//!   end, query verdicts, plugin faults, dead letters), each with actor,
//!   connection, session, client address and time; [`SessionAudit`] is a
//!   session's handle.
//! * [`deliver`]: one task per sink following its cursor in the store,
//!   delivering only while this node holds the sink's lease (one node per
//!   sink when several share the store).
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
//! * answering a denied or held query (`query.denied`, `query.held`, the
//!   latter once the review holding it is stored), and before running a
//!   rewritten one (`query.rewritten`) or one on an approved review
//!   (`query.executed`) — with a fault that caused a deny, its
//!   `plugin.fault` commits in the same group or before;
//! * relaying anything of an allowed query's answer (`query.allowed`,
//!   `[audit] allowed_queries`, the default): the session writes the event
//!   to the node's audit journal ([`journal`]) after sending the query
//!   upstream and before reading its answer; the writer moves the journal
//!   into the store within [`log::JOURNAL_INTERVAL`] and before each group
//!   commit (so the log keeps each session's order), and a restart replays
//!   what a crash left there;
//! * every admin change and review transition: the store writes their rows
//!   in the change's own transaction, so the API's 2xx follows the commit.
//!
//! So a gateway killed at any instant (kill -9) loses no event of something
//! a client or admin was told about — no query whose results anyone saw. (An allowed query whose answer was never
//! relayed may have run upstream without its event: the client was told
//! nothing.) Not covered (recorded, but a crash can lose the last
//! moments): allowed queries with `allowed_queries = false` and the
//! session record's rows (written in 100 ms batches), `session.end` (the client is gone), a
//! result withheld after a result-hook fault (recorded right after the
//! client is told), and `audit.dead_letter` / `retention.run` (nobody
//! waits on them). On SQLite, "committed" means in the write-ahead log
//! (`[gateway] store_synchronous = "normal"`); `full` adds an `fsync` per
//! commit group for power-loss durability. If the store cannot be written,
//! the session whose event it was ends with a
//! FATAL error instead of being answered (fail closed).

pub mod config;
pub mod deliver;
pub mod events;
pub mod journal;
pub mod log;
pub mod retention;
pub mod sinks;

pub use config::{AuditSection, SessionsSection, SinkConfig};
pub use events::{SessionAudit, SessionContext};
pub use log::{AuditError, AuditLog, Pending, Ticket};

use anyhow::Context;
use deliver::LeasePolicy;
use gatehouse_runtime::Runtime;
use gatehouse_store::Store;
use std::sync::Arc;
use tokio::task::JoinHandle;

/// Who this node is to the other nodes sharing the store.
#[derive(Debug, Clone)]
pub struct NodeOptions {
    /// Names this node on the sinks' leases; default
    /// [`deliver::new_node_id`], random per process start.
    pub node_id: String,
    pub lease: LeasePolicy,
    /// The state directory that holds the audit journal (`journal.rs`):
    /// with it, allowed queries' events are made durable by the session
    /// thread itself; without it (tests), they take the writer's round
    /// trip.
    pub state_dir: Option<std::path::PathBuf>,
}

impl Default for NodeOptions {
    fn default() -> Self {
        Self {
            node_id: deliver::new_node_id(),
            lease: LeasePolicy::default(),
            state_dir: None,
        }
    }
}

/// The running pipeline: the writer handle, the sink deliverers and the
/// retention task (stopped when dropped).
pub struct AuditPipeline {
    pub log: AuditLog,
    /// `[audit] allowed_queries`.
    pub allowed_queries: bool,
    tasks: Vec<JoinHandle<()>>,
    store: Store,
    node_id: String,
    /// The configured sinks' names (their leases are released at shutdown).
    sinks: Vec<String>,
}

impl AuditPipeline {
    /// Start the writer, every configured sink, and retention, as a node
    /// with a fresh id and the default lease. Fails, naming the sink, if a
    /// sink cannot be set up.
    pub async fn start(
        audit: &AuditSection,
        sessions: &SessionsSection,
        store: &Store,
        runtime: &Arc<Runtime>,
    ) -> anyhow::Result<Self> {
        Self::start_with(audit, sessions, store, runtime, NodeOptions::default()).await
    }

    /// [`AuditPipeline::start`] as the node `node` says.
    pub async fn start_with(
        audit: &AuditSection,
        sessions: &SessionsSection,
        store: &Store,
        runtime: &Arc<Runtime>,
        node: NodeOptions,
    ) -> anyhow::Result<Self> {
        let journal = match &node.state_dir {
            Some(dir) => {
                let (journal, leftovers) = journal::Journal::open(dir)
                    .with_context(|| format!("opening the audit journal in {}", dir.display()))?;
                // Before anything is served: what a crash left is in the
                // log before any new event.
                for leftover in leftovers {
                    let replayed = store
                        .audit()
                        .append_encoded(&leftover.rows)
                        .await
                        .with_context(|| {
                            format!("replaying the audit journal {}", leftover.path.display())
                        })?;
                    tracing::info!(
                        replayed = replayed.stored,
                        journaled = leftover.count,
                        "replayed the audit journal an earlier process left"
                    );
                    leftover.done();
                }
                Some(Arc::new(journal))
            }
            None => None,
        };
        let log = AuditLog::start_journaled(store.clone(), journal);
        let mut tasks =
            sinks::start(audit, store, runtime, &log, &node.node_id, node.lease).await?;
        let retention = retention::Retention {
            sessions_days: sessions.retention_days,
            audit_days: audit.retention_days,
        };
        // Always: expired access tokens are purged even when sessions and
        // audit events are kept forever.
        tasks.push(tokio::spawn(retention.run(store.clone(), log.clone())));
        Ok(Self {
            log,
            allowed_queries: audit.allowed_queries,
            tasks,
            store: store.clone(),
            node_id: node.node_id,
            sinks: audit.sinks.iter().map(|s| s.name().to_string()).collect(),
        })
    }

    /// The id naming this node on the sinks' leases.
    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    /// Stop delivering (the writer stops when the last handle is dropped).
    /// The sinks' leases stay this node's until they expire, as after a
    /// crash: [`shutdown`](Self::shutdown) hands them over at once.
    pub fn stop(&self) {
        for task in &self.tasks {
            task.abort();
        }
    }

    /// Stop delivering, wait for the tasks to end, and release this node's
    /// sink leases, so another node takes the sinks over without waiting
    /// for the leases to expire. A failed release is logged (the lease
    /// then expires as after a crash).
    pub async fn shutdown(&mut self) {
        self.stop();
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
        for sink in &self.sinks {
            if let Err(err) = self
                .store
                .audit()
                .release_sink_lease(sink, &self.node_id)
                .await
            {
                tracing::warn!(sink = %sink, error = %err, "could not release the audit sink's lease; it expires on its own");
            }
        }
    }
}

impl Drop for AuditPipeline {
    fn drop(&mut self) {
        self.stop();
    }
}
