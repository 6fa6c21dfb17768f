//! Just-in-time access: a connection whose plugins answer `review(…)` at
//! connect admits a user only on an approved, unexpired JIT review of
//! theirs for it.
//!
//! * [`Workflow::admit`]: at connect. No such review: refused, with how to
//!   ask (the gateway never opens a review on a refused connect: a retry
//!   loop would flood approvers).
//! * [`JitLease`]: what an admitted session holds. Checked before each of
//!   its queries: past `expires_at` the query is refused; the review's
//!   state is re-read from the store every [`RECHECK`] (another node may
//!   have revoked it) and at once after a revocation or expiry in this
//!   process. The per-query cost is a clock read and an atomic load.
//! * [`Workflow::request_access`]: the user asks (API/CLI). The
//!   connection's plugins are asked `on-connect` for the user (no session
//!   opens): `allow` needs no review, `deny` is refused, `review(…)` opens
//!   a pending JIT review with the minutes asked, settled with
//!   `on-review(requested)` (a plugin may reject too many minutes).

use super::Workflow;
use super::convert::wit_identity;
use crate::clock::now_ms;
use gatehouse_api::{AccessRequest, GatewayError};
use gatehouse_runtime::types::{
    ConnectVerdict, Identity, ReviewRequest, ReviewTransition, Session, SessionVerb,
};
use gatehouse_store::Actor;
use gatehouse_store::reviews::{
    NewReview, Review, ReviewFilter, ReviewKind, ReviewScope, ReviewState,
};
use gatehouse_store::{PageRequest, StoreError};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// How often a live JIT session re-reads its review.
pub const RECHECK: Duration = Duration::from_secs(10);

/// Whether a session may open.
#[derive(Debug)]
pub enum Admission {
    /// On this approved JIT review.
    Allowed(JitLease),
    /// Refused; the message says how to ask for access.
    Refused(String),
}

/// An admitted JIT session's hold on its review.
#[derive(Debug)]
pub struct JitLease {
    pub review_id: String,
    expires_at: i64,
    checked: Instant,
    epoch: u64,
}

impl Workflow {
    /// Admit `identity` to `connection`, whose plugins asked for a review
    /// with `request`.
    pub async fn admit(
        &self,
        identity: &Identity,
        connection: &str,
        request: &ReviewRequest,
    ) -> Admission {
        let reviews = self.store.reviews();
        match reviews
            .active_jit(&identity.user_id, connection, now_ms())
            .await
        {
            Ok(Some(review)) => {
                return Admission::Allowed(JitLease {
                    expires_at: review.expires_at.unwrap_or(0),
                    review_id: review.id,
                    checked: Instant::now(),
                    epoch: self.jit_epoch.load(Ordering::Relaxed),
                });
            }
            Ok(None) => {}
            Err(err) => {
                tracing::error!(error = %err, "JIT approvals could not be read; refusing");
                return Admission::Refused(format!(
                    "{}. The gateway could not check your access approvals; try again later",
                    request.reason
                ));
            }
        }
        let pending = reviews
            .list(
                &ReviewFilter {
                    scope: ReviewScope::RequestedBy(identity.user_id.clone()),
                    states: vec![ReviewState::Pending],
                    connection: Some(connection.to_string()),
                    kind: Some(ReviewKind::Jit),
                },
                &PageRequest::first(1),
            )
            .await
            .ok()
            .and_then(|page| page.items.into_iter().next());
        let waiting = match pending {
            Some(review) => format!(
                " Your request {} is waiting for {}.",
                review.id,
                review.approver_groups.join(", ")
            ),
            None => format!(
                " Request it with `gatehouse reviews request {connection} --minutes N --reason \"…\"` \
                 (or POST {}/api/reviews {{\"kind\": \"jit\", \"connection\": \"{connection}\", \"duration_minutes\": N}}), \
                 then connect again once approved.",
                self.gateway_url()
            ),
        };
        Admission::Refused(format!(
            "{}. You hold no approved just-in-time access to {connection}.{waiting}",
            request.reason
        ))
    }

    /// Open a pending JIT review for `actor` (see the module docs).
    pub async fn request_access(
        &self,
        actor: Actor,
        request: AccessRequest,
    ) -> Result<Review, GatewayError> {
        let connection = &request.connection;
        if request.duration_minutes == 0 {
            return Err(GatewayError::Invalid(
                "duration_minutes must be at least 1".into(),
            ));
        }
        if request.duration_minutes > self.settings.max_jit_minutes {
            return Err(GatewayError::Invalid(format!(
                "at most {} minutes of access can be asked for",
                self.settings.max_jit_minutes
            )));
        }
        let entry = self
            .catalog
            .connection(connection)
            .ok_or_else(|| GatewayError::NotFound(format!("connection {connection}")))?;
        let pipeline = entry.pipeline.as_ref().map_err(|reason| {
            GatewayError::Unavailable(format!("connection {connection} is unavailable: {reason}"))
        })?;
        let identity = wit_identity(&actor.identity);
        let session = Session {
            id: format!("access-request-{}", now_ms()),
            client_address: actor.client_address.clone().unwrap_or_else(|| "api".into()),
            verb: SessionVerb::Connect,
            identity,
            connection: entry.info.clone(),
            started_at: u64::try_from(now_ms()).unwrap_or(0),
        };
        let mut plugins = pipeline
            .open_session(&self.runtime, &session)
            .await
            .map_err(|fault| GatewayError::Denied(format!("access denied: {fault}")))?;
        let wanted = match plugins.on_connect().await.verdict {
            ConnectVerdict::Allow => {
                return Err(GatewayError::Invalid(format!(
                    "connecting to {connection} needs no approval: connect directly"
                )));
            }
            ConnectVerdict::Deny(reason) => return Err(GatewayError::Denied(reason)),
            ConnectVerdict::Review(wanted) => wanted,
        };
        let reviews = self.store.reviews();
        let pending = reviews
            .list(
                &ReviewFilter {
                    scope: ReviewScope::RequestedBy(actor.identity.user_id.clone()),
                    states: vec![ReviewState::Pending],
                    connection: Some(connection.clone()),
                    kind: Some(ReviewKind::Jit),
                },
                &PageRequest::first(1),
            )
            .await?;
        if let Some(existing) = pending.items.into_iter().next() {
            return Err(GatewayError::Conflict(format!(
                "your request {} for {connection} is still pending; revoke it to ask again",
                existing.id
            )));
        }
        let why = request.reason.trim();
        let reason = if why.is_empty() {
            wanted.reason.clone()
        } else {
            format!("{} (requester: {why})", wanted.reason)
        };
        let created = reviews
            .create(
                &actor,
                NewReview {
                    kind: ReviewKind::Jit,
                    requester: actor.identity.clone(),
                    connection: connection.clone(),
                    session_id: None,
                    query: None,
                    query_hash: None,
                    reason,
                    approver_groups: wanted.approver_groups,
                    duration_minutes: Some(request.duration_minutes),
                    expires_at: Some(now_ms() + self.settings.pending_ms()),
                },
            )
            .await?;
        tracing::info!(review = %created.id, %connection, minutes = request.duration_minutes, "JIT access requested");
        Ok(self
            .settle(&actor, created, ReviewTransition::Requested)
            .await?
            .review)
    }
}

impl JitLease {
    /// `Err(why)` when the access this session was admitted on is over.
    pub async fn check(&mut self, workflow: &Workflow) -> Result<(), String> {
        if now_ms() >= self.expires_at {
            return Err(format!(
                "just-in-time access (review {}) has expired; request it again",
                self.review_id
            ));
        }
        let epoch = workflow.jit_epoch.load(Ordering::Relaxed);
        if epoch == self.epoch && self.checked.elapsed() < RECHECK {
            return Ok(());
        }
        match workflow.store.reviews().get(&self.review_id).await {
            Ok(review) if review.state == ReviewState::Approved => {
                self.expires_at = review.expires_at.unwrap_or(0);
                self.checked = Instant::now();
                self.epoch = epoch;
                if now_ms() >= self.expires_at {
                    return Err(format!(
                        "just-in-time access (review {}) has expired; request it again",
                        self.review_id
                    ));
                }
                Ok(())
            }
            Ok(review) => Err(format!(
                "just-in-time access (review {}) was {}",
                self.review_id,
                review.state.as_str()
            )),
            Err(StoreError::NotFound { .. }) => Err(format!(
                "just-in-time access (review {}) no longer exists",
                self.review_id
            )),
            // A store hiccup does not end a session on its own; the window
            // (`expires_at`) still does.
            Err(err) => {
                tracing::warn!(review = %self.review_id, error = %err, "could not re-check a JIT review");
                Ok(())
            }
        }
    }
}
