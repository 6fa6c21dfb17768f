//! The generic JSON notice: the review as data, the summary as text, and
//! the links, for receivers other than Slack (a ticketing bridge, a bot).
//!
//! ```json
//! {
//!   "type": "gatehouse.review.requested",
//!   "transition": "requested",
//!   "title": "Review requested",
//!   "summary": "ada@example.com asks to run a query on billing.admin",
//!   "review": { "id": "…", "kind": "one-time", "state": "pending",
//!               "connection": "billing.admin", "reason": "…",
//!               "requester": {"id": "17", "email": "ada@example.com", "groups": ["dev"]},
//!               "approver_groups": ["dba"], "decisions": [],
//!               "duration_minutes": null, "created_at": 1737191520000,
//!               "query": "…only with include_query…" },
//!   "links": { "review": "…/reviews/<id>", "approve": "…?decision=approve",
//!              "reject": "…?decision=reject" },
//!   "sent_at": 1737191520250
//! }
//! ```

use gatehouse_sdk::{Identity, ReviewEvent, ReviewState};
use serde_json::{Value, json};

use crate::config::{MAX_QUERY_CHARS, Transition};
use crate::notice::{self, Links};

fn state_name(state: ReviewState) -> &'static str {
    match state {
        ReviewState::Pending => "pending",
        ReviewState::Approved => "approved",
        ReviewState::Rejected => "rejected",
        ReviewState::Revoked => "revoked",
        ReviewState::Executed => "executed",
        ReviewState::Expired => "expired",
    }
}

fn person(identity: &Identity) -> Value {
    json!({ "id": identity.user_id, "email": identity.email, "groups": identity.groups })
}

/// The notice for `event`, sent at `sent_at` (Unix ms).
pub fn notice(event: &ReviewEvent, links: &Links, include_query: bool, sent_at: u64) -> Value {
    let review = &event.review;
    let transition = Transition::of(event.transition).name();
    let mut body = json!({
        "id": review.id,
        "kind": notice::kind_name(review.kind),
        "state": state_name(review.state),
        "connection": review.connection,
        "reason": review.reason,
        "requester": person(&review.requester),
        "approver_groups": review.approver_groups,
        "decisions": review.decisions.iter().map(|d| json!({
            "approver": person(&d.approver),
            "approved": d.approved,
            "comment": d.comment,
            "at": d.at,
        })).collect::<Vec<_>>(),
        "duration_minutes": review.duration_minutes,
        "created_at": review.created_at,
    });
    if include_query && let Some(query) = &review.query {
        body["query"] = notice::truncate(query, MAX_QUERY_CHARS).into();
    }
    json!({
        "type": format!("gatehouse.review.{transition}"),
        "transition": transition,
        "title": notice::title(event.transition),
        "summary": notice::plain(&notice::summary(event)),
        "review": body,
        "links": { "review": links.review, "approve": links.approve, "reject": links.reject },
        "sent_at": sent_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notice::tests::event;
    use gatehouse_sdk::{ReviewKind, ReviewTransition};

    #[test]
    fn review_as_data() {
        let e = event(ReviewKind::Jit, ReviewTransition::DecisionAdded);
        let links = notice::links(&e.gateway_url, &e.review.id);
        let n = notice(&e, &links, true, 5);
        assert_eq!(n["type"], "gatehouse.review.decision-added");
        assert_eq!(n["review"]["kind"], "jit");
        assert_eq!(n["review"]["state"], "pending");
        assert_eq!(n["review"]["duration_minutes"], 60);
        assert_eq!(
            n["review"]["decisions"][0]["approver"]["email"],
            "bob@example.com"
        );
        assert_eq!(n["review"]["decisions"][0]["comment"], "not <today>");
        assert!(
            n["review"].get("query").is_none(),
            "JIT reviews hold no query"
        );
        assert_eq!(
            n["links"]["approve"],
            "https://gw.example.com/reviews/r%201?decision=approve"
        );
        assert_eq!(n["sent_at"], 5);
    }

    #[test]
    fn query_only_when_included() {
        let e = event(ReviewKind::OneTime, ReviewTransition::Requested);
        let links = notice::links(&e.gateway_url, &e.review.id);
        assert!(
            notice(&e, &links, false, 0)["review"]
                .get("query")
                .is_none()
        );
        assert_eq!(
            notice(&e, &links, true, 0)["review"]["query"],
            "delete from t where id = 1"
        );
    }
}
