//! Decisions and revocation, and *settling*: after a review is requested or
//! decided on, what its plugins say moves it (approved or rejected).
//!
//! Rules, in order, when settling a pending review:
//! 1. **One rejection wins**: a stored rejection rejects it. (Only eligible
//!    deciders' decisions are ever stored: [`Workflow::decide`] refuses the
//!    requester and anyone outside the approver groups.)
//! 2. The connection's plugins that declare `on-review` answer (combined:
//!    any reject, else any approve, else no change).
//! 3. If **none** declares `on-review`, the gateway's default quorum
//!    applies: the first approval approves.
//!
//! An approved JIT review is open until now + its minutes (capped by
//! `[reviews] max_jit_minutes`); an approved one-time review waits
//! `rerun_window_minutes` for its query. A concurrent change (another
//! approver, another node) makes the move a conflict: the review is
//! reloaded and, still pending, settled again with the new decisions.

use super::Workflow;
use super::convert::{is_eligible, is_requester};
use super::service::Combined;
use crate::clock::now_ms;
use gatehouse_api::GatewayError;
use gatehouse_runtime::types::ReviewTransition;
use gatehouse_store::reviews::{Review, ReviewKind, ReviewState};
use gatehouse_store::{Actor, StoreError};
use std::sync::atomic::Ordering;

/// Attempts at moving a review that others keep changing.
const SETTLE_ATTEMPTS: usize = 5;

/// A review after settling, and why it was rejected if it was.
pub struct Settled {
    pub review: Review,
    pub rejection: Option<String>,
}

fn not_found(id: &str) -> impl FnOnce(StoreError) -> GatewayError + '_ {
    move |error| match error {
        StoreError::NotFound { .. } => GatewayError::NotFound(format!("review {id}")),
        other => other.into(),
    }
}

impl Workflow {
    /// Until when an approval of `review` made now holds.
    fn approved_until(&self, review: &Review) -> i64 {
        let now = now_ms();
        match review.kind {
            ReviewKind::Jit => {
                let minutes = review
                    .duration_minutes
                    .unwrap_or(0)
                    .min(self.settings.max_jit_minutes);
                now + i64::from(minutes) * 60_000
            }
            ReviewKind::OneTime => now + self.settings.rerun_window_ms(),
        }
    }

    /// What the rules say about pending `review` after `transition`. The
    /// plugins are always asked: the call is also their notice of the
    /// transition.
    async fn verdict(&self, review: &Review, transition: ReviewTransition) -> Combined {
        let answers = self.ask(review, transition).await;
        if let Some(rejection) = review.decisions.iter().find(|d| !d.approved) {
            let comment = rejection.comment.trim();
            return Combined::Reject {
                by: rejection.approver.email.clone(),
                reason: if comment.is_empty() {
                    format!("rejected by {}", rejection.approver.email)
                } else {
                    format!("rejected by {}: {comment}", rejection.approver.email)
                },
            };
        }
        if answers.consulted > 0 {
            return answers.verdict;
        }
        // Nobody decides for this connection: the first approval does.
        match review.decisions.iter().find(|d| {
            d.approved && is_eligible(review, &d.approver) && !is_requester(review, &d.approver)
        }) {
            Some(approval) => Combined::Approve {
                by: format!("gateway (approved by {})", approval.approver.email),
            },
            None => Combined::NoChange,
        }
    }

    /// Settle pending `review` after `transition` (see the module docs).
    pub(crate) async fn settle(
        &self,
        actor: &Actor,
        mut review: Review,
        mut transition: ReviewTransition,
    ) -> Result<Settled, StoreError> {
        for _ in 0..SETTLE_ATTEMPTS {
            if review.state != ReviewState::Pending {
                break;
            }
            let (to, expires_at, rejection) = match self.verdict(&review, transition).await {
                Combined::NoChange => break,
                Combined::Approve { by } => {
                    tracing::info!(review = %review.id, %by, "review approved");
                    (
                        ReviewState::Approved,
                        Some(self.approved_until(&review)),
                        None,
                    )
                }
                Combined::Reject { by, reason } => {
                    tracing::info!(review = %review.id, %by, %reason, "review rejected");
                    (ReviewState::Rejected, None, Some(reason))
                }
            };
            match self
                .store
                .reviews()
                .transition(actor, &review.id, review.version, to, expires_at)
                .await
            {
                Ok(moved) => {
                    self.announce(&moved).await;
                    if moved.state == ReviewState::Approved {
                        self.approved(&moved).await;
                    }
                    return Ok(Settled {
                        review: moved,
                        rejection,
                    });
                }
                Err(StoreError::Conflict { .. }) => {
                    review = self.store.reviews().get(&review.id).await?;
                    transition = ReviewTransition::DecisionAdded;
                }
                Err(other) => return Err(other),
            }
        }
        Ok(Settled {
            review,
            rejection: None,
        })
    }

    /// A one-time review opened by exec was approved: the gateway owes its
    /// run.
    async fn approved(&self, review: &Review) {
        if review.kind != ReviewKind::OneTime {
            return;
        }
        match self.store.reviews().run(&review.id).await {
            Ok(Some(run)) if run.finished_at.is_none() => {
                if self.runs.send(review.id.clone()).is_err() {
                    tracing::warn!(review = %review.id, "no exec runner; the sweep will retry the run");
                }
            }
            Ok(_) => {}
            Err(err) => {
                tracing::warn!(review = %review.id, error = %err, "could not read the review's run; the sweep will retry")
            }
        }
    }

    /// `actor` approves or rejects pending review `id` (the API has checked
    /// the actor may see it).
    pub async fn decide(
        &self,
        actor: Actor,
        id: &str,
        approved: bool,
        comment: String,
    ) -> Result<Review, GatewayError> {
        let review = self.store.reviews().get(id).await.map_err(not_found(id))?;
        if review.state != ReviewState::Pending {
            return Err(GatewayError::Conflict(format!(
                "review {id} is {}; only pending reviews are decided",
                review.state.as_str()
            )));
        }
        let groups = review.approver_groups.join(", ");
        if is_requester(&review, &actor.identity) {
            return Err(GatewayError::Denied(format!(
                "you requested review {id}: someone else in {groups} must decide it (withdraw it with revoke)"
            )));
        }
        if !is_eligible(&review, &actor.identity) {
            return Err(GatewayError::Denied(format!(
                "only members of {groups} decide review {id}"
            )));
        }
        let decided = self
            .store
            .reviews()
            .decide(&actor, id, approved, &comment)
            .await
            .map_err(not_found(id))?;
        let settled = self
            .settle(&actor, decided, ReviewTransition::DecisionAdded)
            .await?;
        Ok(settled.review)
    }

    /// `actor` withdraws (pending) or revokes (approved) review `id`.
    pub async fn revoke(&self, actor: Actor, id: &str) -> Result<Review, GatewayError> {
        for _ in 0..SETTLE_ATTEMPTS {
            let review = self.store.reviews().get(id).await.map_err(not_found(id))?;
            if !matches!(review.state, ReviewState::Pending | ReviewState::Approved) {
                return Err(GatewayError::Conflict(format!(
                    "review {id} is {}; only pending or approved reviews are revoked",
                    review.state.as_str()
                )));
            }
            match self
                .store
                .reviews()
                .transition(&actor, id, review.version, ReviewState::Revoked, None)
                .await
            {
                Ok(moved) => {
                    if moved.kind == ReviewKind::Jit {
                        self.jit_epoch.fetch_add(1, Ordering::Relaxed);
                    }
                    tracing::info!(review = %id, by = %actor.identity.email, "review revoked");
                    self.announce(&moved).await;
                    return Ok(moved);
                }
                Err(StoreError::Conflict { .. }) => continue,
                Err(other) => return Err(other.into()),
            }
        }
        Err(GatewayError::Conflict(format!(
            "review {id} keeps changing; try again"
        )))
    }
}
