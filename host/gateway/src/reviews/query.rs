//! A query a plugin answered `review(…)` for: run it if an approved
//! one-time review of the same query (same requester, connection and
//! normalized text) is waiting, else hold it.
//!
//! 1. The oldest **approved** review with that key, still inside its run
//!    window, moves to `executed` (optimistic: if another session took it
//!    first, the next one is tried) and the query runs ([`Gate::Run`]).
//!    One past its window is expired on the spot. One opened by exec is
//!    left to the gateway's own run of it.
//! 2. Otherwise a **pending** review with that key is reused (same kind of
//!    origin: exec or native), or a new one is opened (requester snapshot,
//!    the text as the pipeline had it, the plugin's reason and approver
//!    groups, `expires_at` = now + `pending_minutes`) and settled with
//!    `on-review(requested)`: a plugin may reject it at once, or approve
//!    it, in which case it runs now.
//! 3. The query is refused with the review's id ([`Gate::Held`]).
//!
//! Any store failure refuses the query ([`Gate::Refused`]): the gateway
//! cannot hold what it cannot store.

use super::Workflow;
use super::convert::store_identity;
use super::normalize::query_hash;
use crate::clock::now_ms;
use gatehouse_runtime::types::{Identity, ReviewRequest, ReviewTransition};
use gatehouse_store::reviews::{NewReview, Review, ReviewKind, ReviewState};
use gatehouse_store::{Actor, StoreError};
use std::sync::Arc;

/// Attempts at taking an approved review that others take first.
const ATTEMPTS: usize = 5;

/// Who asks, where, and how.
pub struct QueryContext<'a> {
    pub identity: &'a Identity,
    /// `resource.role`.
    pub connection: &'a str,
    pub session_id: &'a str,
    /// Exec: a held query is run by the gateway once approved.
    pub exec: bool,
    /// Running the held query of this approved review (the gateway's exec
    /// run): only it may satisfy the verdict, and nothing new is opened.
    pub only_review: Option<&'a str>,
}

/// What to do with the query.
#[derive(Debug)]
pub enum Gate {
    /// An approved review matched and is now `executed`: run the query.
    Run { review_id: String },
    /// Held for review: refuse with `message`.
    Held {
        review: Box<Review>,
        message: String,
    },
    /// Refused (rejected at once, or the store failed): refuse with
    /// `message`.
    Refused { message: String },
    /// `only_review` was taken (executed) by someone else meanwhile.
    Taken,
}

impl Workflow {
    /// Decide what happens to `text`, which a plugin wants reviewed.
    pub async fn hold_query(
        self: &Arc<Self>,
        ctx: &QueryContext<'_>,
        text: &str,
        request: &ReviewRequest,
    ) -> Gate {
        match self.gate(ctx, text, request).await {
            Ok(gate) => gate,
            Err(err) => {
                tracing::error!(error = %err, connection = ctx.connection, "a query held for review could not be recorded");
                Gate::Refused {
                    message: format!(
                        "query held for review, but the review could not be recorded ({err}); it was not run"
                    ),
                }
            }
        }
    }

    async fn gate(
        self: &Arc<Self>,
        ctx: &QueryContext<'_>,
        text: &str,
        request: &ReviewRequest,
    ) -> Result<Gate, StoreError> {
        let hash = query_hash(text);
        let requester = store_identity(ctx.identity);
        let actor = Actor::new(requester.clone());
        let reviews = self.store.reviews();
        for _ in 0..ATTEMPTS {
            let approved = match ctx.only_review {
                Some(id) => {
                    let review = reviews.get(id).await?;
                    let matches = review.state == ReviewState::Approved
                        && review.kind == ReviewKind::OneTime
                        && review.requester.user_id == requester.user_id
                        && review.connection == ctx.connection
                        && review.query_hash.as_deref() == Some(hash.as_str());
                    if review.state == ReviewState::Executed {
                        return Ok(Gate::Taken);
                    }
                    if !matches {
                        return Ok(Gate::Refused {
                            message: format!(
                                "review {id} is {} and does not approve this query",
                                review.state.as_str()
                            ),
                        });
                    }
                    Some(review)
                }
                None => {
                    reviews
                        .find_query(
                            &requester.user_id,
                            ctx.connection,
                            &hash,
                            ReviewState::Approved,
                        )
                        .await?
                }
            };
            let Some(review) = approved else { break };
            // An approved exec review is the gateway's to run, not a
            // re-send's to take.
            if ctx.only_review.is_none() && reviews.run(&review.id).await?.is_some() {
                break;
            }
            if review.expires_at.is_some_and(|at| at <= now_ms()) {
                // Past its run window: expire it, then look again.
                if let Ok(expired) = reviews
                    .transition(
                        &Self::system(),
                        &review.id,
                        review.version,
                        ReviewState::Expired,
                        None,
                    )
                    .await
                {
                    self.announce(&expired).await;
                }
                if ctx.only_review.is_some() {
                    return Ok(Gate::Refused {
                        message: format!("review {} expired before its query ran", review.id),
                    });
                }
                continue;
            }
            match reviews
                .transition(
                    &actor,
                    &review.id,
                    review.version,
                    ReviewState::Executed,
                    None,
                )
                .await
            {
                Ok(executed) => {
                    // The notice must not hold the query back.
                    let workflow = self.clone();
                    tokio::spawn(async move { workflow.announce(&executed).await });
                    return Ok(Gate::Run {
                        review_id: review.id,
                    });
                }
                Err(StoreError::Conflict { .. }) if ctx.only_review.is_some() => {
                    return Ok(Gate::Taken);
                }
                Err(StoreError::Conflict { .. }) => continue,
                Err(other) => return Err(other),
            }
        }
        if ctx.only_review.is_some() {
            return Ok(Gate::Taken);
        }
        self.open(ctx, text, hash, requester, actor, request).await
    }

    /// Reuse a pending review of this query or open one, then settle it.
    async fn open(
        self: &Arc<Self>,
        ctx: &QueryContext<'_>,
        text: &str,
        hash: String,
        requester: gatehouse_store::Identity,
        actor: Actor,
        request: &ReviewRequest,
    ) -> Result<Gate, StoreError> {
        let reviews = self.store.reviews();
        if let Some(pending) = reviews
            .find_query(
                &requester.user_id,
                ctx.connection,
                &hash,
                ReviewState::Pending,
            )
            .await?
            && reviews.run(&pending.id).await?.is_some() == ctx.exec
        {
            let message = self.held_message(&pending, ctx.exec);
            return Ok(Gate::Held {
                review: Box::new(pending),
                message,
            });
        }
        let new = NewReview {
            kind: ReviewKind::OneTime,
            requester,
            connection: ctx.connection.to_string(),
            session_id: Some(ctx.session_id.to_string()),
            query: Some(text.to_string()),
            query_hash: Some(hash),
            reason: request.reason.clone(),
            approver_groups: request.approver_groups.clone(),
            duration_minutes: None,
            expires_at: Some(now_ms() + self.settings.pending_ms()),
        };
        let created = if ctx.exec {
            reviews.create_with_run(&actor, new).await?
        } else {
            reviews.create(&actor, new).await?
        };
        tracing::info!(review = %created.id, connection = ctx.connection, "query held for review");
        let settled = self
            .settle(&actor, created, ReviewTransition::Requested)
            .await?;
        let review = settled.review;
        Ok(match review.state {
            ReviewState::Pending => {
                let message = self.held_message(&review, ctx.exec);
                Gate::Held {
                    review: Box::new(review),
                    message,
                }
            }
            // Approved on request (a plugin's policy): a native query runs
            // now; exec's run is already queued by the approval.
            ReviewState::Approved if !ctx.exec => {
                match reviews
                    .transition(
                        &actor,
                        &review.id,
                        review.version,
                        ReviewState::Executed,
                        None,
                    )
                    .await
                {
                    Ok(executed) => {
                        self.announce(&executed).await;
                        Gate::Run {
                            review_id: review.id,
                        }
                    }
                    Err(_) => Gate::Refused {
                        message: format!(
                            "review {} was approved but taken by another session; send the query again",
                            review.id
                        ),
                    },
                }
            }
            ReviewState::Approved => {
                let message = format!(
                    "query held for review {} and approved at once; the gateway runs it (gatehouse reviews show {})",
                    review.id, review.id
                );
                Gate::Held {
                    review: Box::new(review),
                    message,
                }
            }
            state => Gate::Refused {
                message: format!(
                    "query {} by review {}: {}",
                    state.as_str(),
                    review.id,
                    settled.rejection.unwrap_or_else(|| review.reason.clone())
                ),
            },
        })
    }

    /// What a held query answers.
    fn held_message(&self, review: &Review, exec: bool) -> String {
        let groups = review.approver_groups.join(", ");
        if exec {
            format!(
                "query held for review {}: {}; approvers: {groups}. The gateway runs it once approved (gatehouse reviews show {}).",
                review.id, review.reason, review.id
            )
        } else {
            format!(
                "query held for review {}: {}; approvers: {groups}. Re-run it once approved.",
                review.id, review.reason
            )
        }
    }
}
