//! Reviews and identities between the store's types and the contract's
//! (WIT) types handed to plugins.

use crate::identity::wit_role;
use gatehouse_runtime::types;
use gatehouse_store::reviews::{Review, ReviewKind, ReviewState};
use gatehouse_store::{Identity, Role};

/// A store identity as plugins see it.
pub fn wit_identity(identity: &Identity) -> types::Identity {
    types::Identity {
        user_id: identity.user_id.clone(),
        email: identity.email.clone(),
        groups: identity.groups.clone(),
        role: wit_role(identity.role),
    }
}

/// A plugin-facing identity as the store keeps it (a snapshot).
pub fn store_identity(identity: &types::Identity) -> Identity {
    Identity {
        user_id: identity.user_id.clone(),
        email: identity.email.clone(),
        groups: identity.groups.clone(),
        role: match identity.role {
            types::Role::Admin => Role::Admin,
            types::Role::User => Role::User,
            types::Role::Approver => Role::Approver,
        },
    }
}

fn millis(at: i64) -> u64 {
    u64::try_from(at).unwrap_or(0)
}

/// A stored review as the WIT `review` record.
pub fn wit_review(review: &Review) -> types::Review {
    types::Review {
        id: review.id.clone(),
        kind: match review.kind {
            ReviewKind::OneTime => types::ReviewKind::OneTime,
            ReviewKind::Jit => types::ReviewKind::Jit,
        },
        state: match review.state {
            ReviewState::Pending => types::ReviewState::Pending,
            ReviewState::Approved => types::ReviewState::Approved,
            ReviewState::Rejected => types::ReviewState::Rejected,
            ReviewState::Revoked => types::ReviewState::Revoked,
            ReviewState::Executed => types::ReviewState::Executed,
            ReviewState::Expired => types::ReviewState::Expired,
        },
        requester: wit_identity(&review.requester),
        connection: review.connection.clone(),
        query: review.query.clone(),
        reason: review.reason.clone(),
        approver_groups: review.approver_groups.clone(),
        decisions: review
            .decisions
            .iter()
            .map(|d| types::ReviewDecision {
                approver: wit_identity(&d.approver),
                approved: d.approved,
                comment: d.comment.clone(),
                at: millis(d.at),
            })
            .collect(),
        duration_minutes: review.duration_minutes,
        created_at: millis(review.created_at),
    }
}

/// The transition that a move to `state` is.
pub fn transition_to(state: ReviewState) -> types::ReviewTransition {
    match state {
        ReviewState::Pending => types::ReviewTransition::DecisionAdded,
        ReviewState::Approved => types::ReviewTransition::Approved,
        ReviewState::Rejected => types::ReviewTransition::Rejected,
        ReviewState::Revoked => types::ReviewTransition::Revoked,
        ReviewState::Executed => types::ReviewTransition::Executed,
        ReviewState::Expired => types::ReviewTransition::Expired,
    }
}

/// Whether `who` is the review's requester (by user id, or by email).
pub fn is_requester(review: &Review, who: &Identity) -> bool {
    (!who.user_id.is_empty() && who.user_id == review.requester.user_id)
        || (!who.email.is_empty() && who.email.eq_ignore_ascii_case(&review.requester.email))
}

/// Whether `who` is in one of the review's approver groups.
pub fn is_eligible(review: &Review, who: &Identity) -> bool {
    who.groups
        .iter()
        .any(|g| review.approver_groups.iter().any(|a| a == g))
}
