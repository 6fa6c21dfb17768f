//! Delivering the audit log to one sink plugin.
//!
//! One task per sink ([`Deliverer::run`]) follows the sink's cursor in the
//! store: it reads the events after `delivered_through` in **sequence
//! order**, hands each to the plugin's `on-audit-event` in a long-lived
//! service instance, and advances the cursor (once per batch, and before
//! recording a failure). Because delivery is in global sequence order, the
//! events of each session (and everything else) arrive in the order they
//! were committed.
//!
//! Failures: `Err` from the plugin, a fault (trap, deadline — the instance
//! is then poisoned and replaced before the next attempt), or a service
//! instance that cannot start, leave the event at the head of the queue:
//! `mark_failed` counts the attempt and sets the retry time (exponential
//! backoff: `retry_base`, doubled per attempt, capped at `retry_cap`).
//! After `max_attempts` failures the event is dead-lettered (parked in the
//! store with the last error; an `audit.dead_letter` event is recorded) and
//! delivery moves on, so one poison event never stops a sink.
//!
//! Waking: on every group commit of the gateway's [`AuditLog`], and every
//! [`POLL`] otherwise (events the store's repositories write in their own
//! transactions — admin changes, review transitions — and events written
//! by other gateway nodes sharing the store). A store error is logged and
//! retried after [`POLL`]; the cursor is only ever moved forward, so a
//! crash at any point re-delivers at most the batch in flight (at least
//! once: receivers de-duplicate on `event.id`).
//!
//! Several nodes: every gateway node sharing the store runs a deliverer
//! for each sink it configures, but only one delivers a given sink at a
//! time — the holder of the sink's **lease** in the store
//! (`Audit::acquire_sink_lease`, keyed by this process's random node id).
//! A deliverer takes the lease before its first step and renews it, before
//! every step and before every event of a batch, once a third of its
//! [`LeasePolicy::ttl`] has passed (so with the default [`LEASE_TTL`] of
//! 15 s, about every 5 s). Without it, it stands by: it neither reads nor
//! delivers, and asks for the lease again every [`POLL`] (not on the local
//! log's commits). A node that stops renewing (crashed, stalled, cut off
//! from the store) loses the sink once the lease expires, and another
//! node's next ask takes it over and resumes from the cursor; a clean
//! [`AuditPipeline::shutdown`](super::AuditPipeline::shutdown) releases
//! the lease, so the hand-over is immediate.
//!
//! Fencing: every cursor write names this node and is refused by the store
//! once another node holds the lease. A deliverer that finds its lease
//! gone — at a renewal, or at a refused write — stops the batch at once,
//! writes nothing more, and stands by. So the cursor never moves backwards
//! and is advanced only by the node that delivered; what the old holder
//! delivered after the cursor but could not record is delivered again by
//! the new one (at most the batch in flight: at least once, as above).
//! Order, retries and dead letters are the cursor's, so they carry over
//! the hand-over unchanged. One delivery outlasting the lease (a plugin
//! `deadline_ms` above the TTL) can let two nodes deliver the same batch;
//! keep the TTL well above the sink's deadline. Expiry compares Unix times
//! of different nodes: their clocks must agree to well within the TTL.

use super::events;
use super::log::AuditLog;
use crate::clock::now_ms;
use gatehouse_runtime::types::{self, AuditOutcome};
use gatehouse_runtime::{Binding, PluginInstance, Runtime};
use gatehouse_store::audit::{AuditEvent, Fenced, Outcome};
use gatehouse_store::{Role, Store, StoreError};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// How often a sink looks for events the gateway's own log did not signal,
/// and how often a node without the sink's lease asks for it.
pub const POLL: Duration = Duration::from_millis(500);
/// Most events read (and acknowledged in one cursor update) at once.
pub const BATCH: u32 = 200;
/// How long a sink's lease lasts unless renewed (the default).
pub const LEASE_TTL: Duration = Duration::from_secs(15);

/// How long this node's hold on a sink lasts (see the module docs).
#[derive(Debug, Clone, Copy)]
pub struct LeasePolicy {
    /// A taken or renewed lease expires this long after; another node can
    /// take the sink over that long after this one stopped renewing.
    pub ttl: Duration,
}

impl Default for LeasePolicy {
    fn default() -> Self {
        Self { ttl: LEASE_TTL }
    }
}

impl LeasePolicy {
    /// The lease is renewed once it is this old: a third of the TTL, so a
    /// renewal or two can fail (a slow store) before it lapses.
    pub fn renew_after(&self) -> Duration {
        self.ttl / 3
    }
}

/// A fresh node id: 16 hex characters, random per process start.
pub fn new_node_id() -> String {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("the operating system's random source");
    hex::encode(bytes)
}

/// Retry and dead-letter settings of one sink.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base: Duration,
    pub cap: Duration,
}

impl RetryPolicy {
    /// Delay before attempt `attempts + 1`, after `attempts` failures
    /// (`attempts` ≥ 1): base · 2^(attempts-1), at most `cap`.
    pub fn backoff(&self, attempts: u32) -> Duration {
        let factor = 1u32
            .checked_shl(attempts.saturating_sub(1).min(31))
            .unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.cap)
    }
}

/// One sink: its binding and where its cursor lives.
pub struct Deliverer {
    /// Keys the cursor in the store.
    pub name: String,
    pub binding: Arc<Binding>,
    pub runtime: Arc<Runtime>,
    pub store: Store,
    pub log: AuditLog,
    pub policy: RetryPolicy,
    /// This node's id: the holder named on the sink's lease.
    pub node: String,
    pub lease: LeasePolicy,
}

/// What one step found.
enum Step {
    /// Something was delivered or given up: look again at once.
    Progress,
    /// Nothing to do for this long (or until woken).
    Idle(Duration),
    /// Another node holds the sink's lease: ask again after [`POLL`].
    Standby,
}

/// Why a step stopped short.
enum Halt {
    Store(StoreError),
    /// The sink's lease passed to another node mid-step.
    LeaseLost,
}

impl From<StoreError> for Halt {
    fn from(err: StoreError) -> Self {
        Halt::Store(err)
    }
}

/// The state a fenced cursor write left, or [`Halt::LeaseLost`].
fn held<T>(written: Fenced<T>) -> Result<T, Halt> {
    written.held().ok_or(Halt::LeaseLost)
}

/// This task's view of the sink's lease: when it was last taken or
/// renewed (the instant *before* asking, so never later than the expiry
/// the store recorded), `None` while another node holds it.
type Lease = Option<Instant>;

impl Deliverer {
    /// Deliver (while holding the sink's lease) until the task is aborted.
    pub async fn run(self) {
        let mut committed: watch::Receiver<i64> = self.log.committed();
        let mut instance: Option<PluginInstance> = None;
        let mut lease: Lease = None;
        loop {
            let wait = match self.step(&mut instance, &mut lease).await {
                Ok(Step::Progress) => continue,
                Ok(Step::Idle(wait)) => wait,
                Ok(Step::Standby) | Err(Halt::LeaseLost) => {
                    self.lost(&mut lease);
                    // A standing-by node keeps no instance (a pool slot),
                    // and commits do not wake it: only the holder has work.
                    instance = None;
                    tokio::time::sleep(POLL).await;
                    continue;
                }
                // The cursor moved under us (a hand-over): read it again.
                Err(Halt::Store(StoreError::Conflict { .. })) => Duration::from_millis(20),
                Err(Halt::Store(err)) => {
                    tracing::warn!(sink = %self.name, error = %err, "audit delivery: the store failed; retrying");
                    POLL
                }
            };
            tokio::select! {
                changed = committed.changed() => {
                    if changed.is_err() {
                        // The log is gone (shutdown): keep polling.
                        tokio::time::sleep(wait).await;
                    }
                }
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Takes the sink's lease, or renews it once [`LeasePolicy::renew_after`]
    /// has passed; `false` while another node holds it.
    async fn hold(&self, lease: &mut Lease) -> Result<bool, StoreError> {
        if lease.is_some_and(|at| at.elapsed() < self.lease.renew_after()) {
            return Ok(true);
        }
        let asked = Instant::now();
        let taken = self
            .store
            .audit()
            .acquire_sink_lease(&self.name, &self.node, self.lease.ttl)
            .await;
        match taken {
            Ok(true) => {
                if lease.is_none() {
                    tracing::info!(sink = %self.name, node = %self.node, "took the audit sink's delivery lease");
                }
                *lease = Some(asked);
                Ok(true)
            }
            Ok(false) => {
                self.lost(lease);
                Ok(false)
            }
            Err(err) => {
                // Unknown outcome: ours only while the last renewal lasts.
                if lease.is_some_and(|at| at.elapsed() >= self.lease.ttl) {
                    self.lost(lease);
                }
                Err(err)
            }
        }
    }

    /// Forget the lease (another node has it, or it may have lapsed).
    fn lost(&self, lease: &mut Lease) {
        if lease.take().is_some() {
            tracing::warn!(sink = %self.name, node = %self.node, "the audit sink's delivery lease passed to another node; standing by");
        }
    }

    async fn step(
        &self,
        instance: &mut Option<PluginInstance>,
        lease: &mut Lease,
    ) -> Result<Step, Halt> {
        if !self.hold(lease).await? {
            return Ok(Step::Standby);
        }
        let audit = self.store.audit();
        let state = audit.sink(&self.name).await?;
        let now = now_ms();
        if let Some(at) = state.next_attempt_at
            && at > now
        {
            let wait = Duration::from_millis((at - now) as u64);
            return Ok(Step::Idle(wait.min(POLL)));
        }
        let events = audit.after(state.delivered_through, BATCH).await?;
        if events.is_empty() {
            return Ok(Step::Idle(POLL));
        }
        let mut delivered: Option<i64> = None;
        for event in &events {
            // Renewed as due; lost, the batch ends here unrecorded (the new
            // holder delivers from the cursor).
            if !self.hold(lease).await? {
                return Err(Halt::LeaseLost);
            }
            let error = match self.deliver(instance, event).await {
                Ok(()) => {
                    delivered = Some(event.sequence);
                    continue;
                }
                Err(error) => error,
            };
            if let Some(through) = delivered {
                held(
                    audit
                        .mark_delivered(&self.name, &self.node, through)
                        .await?,
                )?;
            }
            // Failures so far on this event (the head now).
            let before = if delivered.is_none() {
                state.attempts
            } else {
                0
            };
            let attempts = before + 1;
            let retry_at = now_ms() + self.policy.backoff(attempts).as_millis() as i64;
            let failed = held(
                audit
                    .mark_failed(&self.name, &self.node, event.sequence, &error, retry_at)
                    .await?,
            )?;
            if failed.attempts < self.policy.max_attempts {
                tracing::warn!(sink = %self.name, sequence = event.sequence, attempts = failed.attempts, error = %error, "audit delivery failed; will retry");
                return Ok(Step::Progress);
            }
            held(
                audit
                    .dead_letter(&self.name, &self.node, event.sequence, &error)
                    .await?,
            )?;
            tracing::error!(sink = %self.name, sequence = event.sequence, attempts = failed.attempts, error = %error, "audit event dead-lettered after repeated delivery failures");
            if !self.is_own_dead_letter(event) {
                self.log.submit(events::dead_letter(
                    &self.name,
                    self.binding.plugin_name(),
                    &event.id,
                    event.sequence,
                    failed.attempts,
                    &error,
                ));
            }
            return Ok(Step::Progress);
        }
        if let Some(through) = delivered {
            held(
                audit
                    .mark_delivered(&self.name, &self.node, through)
                    .await?,
            )?;
        }
        Ok(Step::Progress)
    }

    /// A dead-letter notice about this very sink: not re-announced when it
    /// fails too (a broken sink would otherwise feed itself forever).
    fn is_own_dead_letter(&self, event: &AuditEvent) -> bool {
        event.action == "audit.dead_letter"
            && event
                .attributes
                .iter()
                .any(|(k, v)| k == "sink" && *v == self.name)
    }

    /// One attempt: a service instance (started anew after a fault), then
    /// `on-audit-event`.
    async fn deliver(
        &self,
        instance: &mut Option<PluginInstance>,
        event: &AuditEvent,
    ) -> Result<(), String> {
        if instance.is_none() {
            let started = self
                .runtime
                .start_service(&self.binding)
                .await
                .map_err(|fault| fault.to_string())?;
            *instance = Some(started);
        }
        let running = instance.as_mut().expect("started above");
        match running.on_audit_event(&to_wit(event)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(message)) => Err(message),
            Err(fault) => {
                // Poisoned: the next attempt gets a fresh instance.
                *instance = None;
                Err(fault.to_string())
            }
        }
    }
}

/// The WIT record of a stored event. The store's admin-change fields the
/// record lacks travel as attributes: `target`, and `before` / `after` as
/// JSON text.
pub fn to_wit(event: &AuditEvent) -> types::AuditEvent {
    let mut attributes = event.attributes.clone();
    if let Some(target) = &event.target {
        attributes.push(("target".into(), target.clone()));
    }
    if let Some(before) = &event.before {
        attributes.push(("before".into(), before.to_string()));
    }
    if let Some(after) = &event.after {
        attributes.push(("after".into(), after.to_string()));
    }
    types::AuditEvent {
        id: event.id.clone(),
        sequence: event.sequence.max(0) as u64,
        time: event.time.max(0) as u64,
        category: event.category.clone(),
        action: event.action.clone(),
        outcome: match event.outcome {
            Outcome::Success => AuditOutcome::Success,
            Outcome::Failure => AuditOutcome::Failure,
            Outcome::Denied => AuditOutcome::Denied,
            Outcome::Pending => AuditOutcome::Pending,
        },
        actor: event.actor.as_ref().map(|actor| types::Identity {
            user_id: actor.user_id.clone(),
            email: actor.email.clone(),
            groups: actor.groups.clone(),
            role: match actor.role {
                Role::Admin => types::Role::Admin,
                Role::User => types::Role::User,
                Role::Approver => types::Role::Approver,
            },
        }),
        connection: event.connection.clone(),
        session_id: event.session_id.clone(),
        client_address: event.client_address.clone(),
        reason: event.reason.clone(),
        attributes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let policy = RetryPolicy {
            max_attempts: 8,
            base: Duration::from_secs(1),
            cap: Duration::from_secs(300),
        };
        let delays: Vec<u64> = (1..=10).map(|a| policy.backoff(a).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300]);
        assert_eq!(policy.backoff(200), Duration::from_secs(300));
    }

    #[test]
    fn leases_renew_at_a_third_and_node_ids_are_random() {
        assert_eq!(LeasePolicy::default().renew_after(), Duration::from_secs(5));
        let (a, b) = (new_node_id(), new_node_id());
        assert_eq!(a.len(), 16);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn admin_fields_travel_as_attributes() {
        let event = AuditEvent {
            id: "e1".into(),
            sequence: 9,
            time: 5,
            category: "admin".into(),
            action: "group.create".into(),
            outcome: Outcome::Success,
            actor: None,
            connection: None,
            session_id: None,
            client_address: None,
            reason: None,
            target: Some("group:dba".into()),
            before: None,
            after: Some(serde_json::json!({"name": "dba"})),
            attributes: vec![],
        };
        let wit = to_wit(&event);
        assert_eq!((wit.sequence, wit.time), (9, 5));
        assert_eq!(
            wit.attributes,
            [
                ("target".to_string(), "group:dba".to_string()),
                ("after".to_string(), r#"{"name":"dba"}"#.to_string())
            ]
        );
    }
}
