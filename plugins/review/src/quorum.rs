//! The answer to a review event: policy on `requested`, quorum on
//! `decision-added`.
//!
//! Rules, in order (only while the review is `pending`; any other state,
//! and every other transition, is `no-change`):
//!
//! 1. On `requested`: a review without approver groups is rejected; a JIT
//!    review on a connection with `jit` configured is rejected if it asks
//!    for no minutes or for more than `jit.max_minutes`; a one-time review
//!    without the held query is rejected (nothing to approve).
//! 2. **One rejection wins**: a rejecting decision by an eligible approver
//!    (a member of one of the review's approver groups) rejects the
//!    review. So does one by the requester (a withdrawal: rejecting can
//!    never grant anything).
//! 3. **No self-approval**: an approval by the requester never counts. The
//!    requester is matched by user id and, independently, by email (ASCII
//!    case aside), so one person with two ids is still one person.
//! 4. Approvals count only from eligible approvers, once per person
//!    (distinct user ids and emails); `min_approvals` of them (or
//!    `jit.min_approvals` for a JIT review) approve the review.
//!
//! The host enforces who may decide (approver groups, one decision per
//! approver, no self-approval) and is authoritative: this is defence in
//! depth, and what it ignores is reported in [`Tally::ignored`] so the
//! plugin can log it.

use gatehouse_sdk::{
    Identity, Review, ReviewEvent, ReviewKind, ReviewState, ReviewTransition, ReviewVerdict,
};

use crate::config::Config;

/// The verdict, and decisions left out of the count (for the log).
#[derive(Debug, Clone, PartialEq)]
pub struct Tally {
    pub verdict: ReviewVerdict,
    pub ignored: Vec<String>,
}

impl Tally {
    fn verdict(verdict: ReviewVerdict) -> Self {
        Self {
            verdict,
            ignored: Vec::new(),
        }
    }
}

/// Decide on one review event.
pub fn decide(config: &Config, event: &ReviewEvent) -> Tally {
    let review = &event.review;
    if review.state != ReviewState::Pending {
        return Tally::verdict(ReviewVerdict::NoChange);
    }
    match event.transition {
        ReviewTransition::Requested => match policy(config, review) {
            Err(reason) => Tally::verdict(ReviewVerdict::Reject(format!(
                "{}: {reason}",
                config.prefix()
            ))),
            // Decisions are normally empty here; count them anyway.
            Ok(()) => quorum(config, review),
        },
        ReviewTransition::DecisionAdded => quorum(config, review),
        _ => Tally::verdict(ReviewVerdict::NoChange),
    }
}

/// What a new review must satisfy before anyone decides.
fn policy(config: &Config, review: &Review) -> Result<(), String> {
    if review.approver_groups.iter().all(|g| g.trim().is_empty()) {
        return Err("the review names no approver group, so nobody could decide it".into());
    }
    match review.kind {
        ReviewKind::Jit => {
            let Some(jit) = &config.jit else {
                return Ok(());
            };
            match review.duration_minutes {
                None | Some(0) => Err(format!(
                    "say how many minutes of access you need (at most {} on {})",
                    jit.max_minutes, review.connection
                )),
                Some(asked) if asked > jit.max_minutes => Err(format!(
                    "{asked} minutes of access asked for, but at most {} are allowed on {}",
                    jit.max_minutes, review.connection
                )),
                Some(_) => Ok(()),
            }
        }
        ReviewKind::OneTime => match &review.query {
            Some(query) if !query.trim().is_empty() => Ok(()),
            _ => Err("a one-time review must hold the query to run".into()),
        },
    }
}

fn same_person(a: &Identity, b: &Identity) -> bool {
    (!a.user_id.is_empty() && a.user_id == b.user_id)
        || (!a.email.is_empty() && a.email.eq_ignore_ascii_case(&b.email))
}

fn eligible(approver: &Identity, review: &Review) -> bool {
    approver
        .groups
        .iter()
        .any(|g| review.approver_groups.iter().any(|a| a == g))
}

fn quorum(config: &Config, review: &Review) -> Tally {
    let mut ignored = Vec::new();
    let mut approvers: Vec<&Identity> = Vec::new();
    for decision in &review.decisions {
        let who = &decision.approver;
        let is_requester = same_person(who, &review.requester);
        let may_decide = eligible(who, review);
        if !decision.approved {
            if may_decide || is_requester {
                let comment = decision.comment.trim();
                let reason = if comment.is_empty() {
                    format!("{}: rejected by {}", config.prefix(), who.email)
                } else {
                    format!("{}: rejected by {}: {comment}", config.prefix(), who.email)
                };
                return Tally {
                    verdict: ReviewVerdict::Reject(reason),
                    ignored,
                };
            }
            ignored.push(format!(
                "rejection by {} ignored: not in the review's approver groups",
                who.email
            ));
            continue;
        }
        if is_requester {
            ignored.push(format!(
                "approval by {} ignored: requesters cannot approve their own review",
                who.email
            ));
        } else if !may_decide {
            ignored.push(format!(
                "approval by {} ignored: not in the review's approver groups",
                who.email
            ));
        } else if !approvers.iter().any(|a| same_person(a, who)) {
            approvers.push(who);
        }
    }
    let needed = config.approvals_needed(review.kind == ReviewKind::Jit);
    let verdict = if approvers.len() as u64 >= u64::from(needed) {
        ReviewVerdict::Approve
    } else {
        ReviewVerdict::NoChange
    };
    Tally { verdict, ignored }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_sdk::{ReviewDecision, Role, parse_config};

    fn config(json: &str) -> Config {
        let config: Config = parse_config(json).unwrap();
        config.validate().unwrap();
        config
    }

    fn person(email: &str, groups: &[&str]) -> Identity {
        Identity {
            user_id: format!("id-{email}"),
            email: email.into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            role: Role::User,
        }
    }

    fn review(kind: ReviewKind, decisions: Vec<(Identity, bool)>) -> ReviewEvent {
        ReviewEvent {
            review: Review {
                id: "r1".into(),
                kind,
                state: ReviewState::Pending,
                requester: person("ada@example.com", &["dev", "dba"]),
                connection: "billing.admin".into(),
                query: (kind == ReviewKind::OneTime).then(|| "delete from t".to_string()),
                reason: "r".into(),
                approver_groups: vec!["dba".into()],
                decisions: decisions
                    .into_iter()
                    .map(|(approver, approved)| ReviewDecision {
                        approver,
                        approved,
                        comment: String::new(),
                        at: 0,
                    })
                    .collect(),
                duration_minutes: (kind == ReviewKind::Jit).then_some(30),
                created_at: 0,
            },
            transition: ReviewTransition::DecisionAdded,
            gateway_url: "http://gw".into(),
        }
    }

    const TWO: &str = r#"{"approver_groups": ["dba"], "min_approvals": 2,
                         "jit": {"max_minutes": 60, "min_approvals": 1}}"#;

    #[test]
    fn quorum_of_distinct_eligible_approvers() {
        let c = config(TWO);
        let bob = person("bob@example.com", &["dba"]);
        let eve = person("eve@example.com", &["dba"]);
        let one = review(ReviewKind::OneTime, vec![(bob.clone(), true)]);
        assert_eq!(decide(&c, &one).verdict, ReviewVerdict::NoChange);
        let twice = review(
            ReviewKind::OneTime,
            vec![(bob.clone(), true), (bob.clone(), true)],
        );
        assert_eq!(decide(&c, &twice).verdict, ReviewVerdict::NoChange);
        let two = review(ReviewKind::OneTime, vec![(bob.clone(), true), (eve, true)]);
        assert_eq!(decide(&c, &two).verdict, ReviewVerdict::Approve);
        // JIT needs one approval here.
        assert_eq!(
            decide(&c, &review(ReviewKind::Jit, vec![(bob, true)])).verdict,
            ReviewVerdict::Approve
        );
    }

    #[test]
    fn no_self_approval_by_id_or_email() {
        let c = config(r#"{"approver_groups": ["dba"]}"#);
        let ada = person("ada@example.com", &["dba"]);
        let ada_other_id = Identity {
            user_id: "other".into(),
            email: "ADA@example.com".into(),
            ..ada.clone()
        };
        for me in [ada, ada_other_id] {
            let tally = decide(&c, &review(ReviewKind::OneTime, vec![(me, true)]));
            assert_eq!(tally.verdict, ReviewVerdict::NoChange);
            assert!(
                tally.ignored[0].contains("cannot approve their own"),
                "{tally:?}"
            );
        }
    }

    #[test]
    fn one_rejection_wins() {
        let c = config(r#"{"approver_groups": ["dba"]}"#);
        let bob = person("bob@example.com", &["dba"]);
        let eve = person("eve@example.com", &["dba"]);
        let tally = decide(
            &c,
            &review(ReviewKind::OneTime, vec![(bob, true), (eve, false)]),
        );
        assert_eq!(
            tally.verdict,
            ReviewVerdict::Reject("review: rejected by eve@example.com".into())
        );
        // The requester may withdraw.
        let ada = person("ada@example.com", &["dev"]);
        assert!(matches!(
            decide(&c, &review(ReviewKind::OneTime, vec![(ada, false)])).verdict,
            ReviewVerdict::Reject(_)
        ));
    }

    #[test]
    fn only_the_reviews_groups_count() {
        let c = config(r#"{"approver_groups": ["dba"]}"#);
        let mallory = person("mallory@example.com", &["dev"]);
        let tally = decide(
            &c,
            &review(
                ReviewKind::OneTime,
                vec![(mallory.clone(), false), (mallory, true)],
            ),
        );
        assert_eq!(tally.verdict, ReviewVerdict::NoChange);
        assert_eq!(tally.ignored.len(), 2);
    }

    #[test]
    fn requested_policy() {
        let c = config(TWO);
        let mut event = review(ReviewKind::Jit, vec![]);
        event.transition = ReviewTransition::Requested;
        assert_eq!(decide(&c, &event).verdict, ReviewVerdict::NoChange);
        event.review.duration_minutes = Some(61);
        assert_eq!(
            decide(&c, &event).verdict,
            ReviewVerdict::Reject(
                "review: 61 minutes of access asked for, but at most 60 are allowed on billing.admin"
                    .into()
            )
        );
        event.review.duration_minutes = None;
        assert!(
            matches!(decide(&c, &event).verdict, ReviewVerdict::Reject(r) if r.contains("how many minutes"))
        );
        let mut event = review(ReviewKind::OneTime, vec![]);
        event.transition = ReviewTransition::Requested;
        event.review.approver_groups.clear();
        assert!(
            matches!(decide(&c, &event).verdict, ReviewVerdict::Reject(r) if r.contains("no approver group"))
        );
    }

    #[test]
    fn settled_reviews_and_other_transitions_change_nothing() {
        let c = config(r#"{"approver_groups": ["dba"]}"#);
        let bob = person("bob@example.com", &["dba"]);
        let mut event = review(ReviewKind::OneTime, vec![(bob, true)]);
        event.transition = ReviewTransition::Approved;
        assert_eq!(decide(&c, &event).verdict, ReviewVerdict::NoChange);
        event.transition = ReviewTransition::DecisionAdded;
        event.review.state = ReviewState::Rejected;
        assert_eq!(decide(&c, &event).verdict, ReviewVerdict::NoChange);
    }
}
