//! What a notice says, independent of its format: a title, a one-line
//! summary made of [`Piece`]s (so each format can emphasise names and
//! escape what users typed), and the links back to the gateway.
//!
//! Links: `<gateway-url>/reviews/<id>` opens the review;
//! `?decision=approve` / `?decision=reject` open it with that decision
//! preselected. The gateway must only *show* the review for these (a
//! GET never decides: chat apps and mail scanners prefetch links); the
//! approver signs in and confirms there.

use gatehouse_sdk::{Review, ReviewEvent, ReviewKind, ReviewTransition};

/// A part of a summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Fixed wording.
    Text(String),
    /// A person (email).
    Person(String),
    /// A connection name.
    Place(String),
}

fn text(s: impl Into<String>) -> Piece {
    Piece::Text(s.into())
}

/// Links back to the gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Links {
    pub review: String,
    pub approve: String,
    pub reject: String,
}

pub fn links(gateway_url: &str, review_id: &str) -> Links {
    let review = format!(
        "{}/reviews/{}",
        gateway_url.trim_end_matches('/'),
        percent_encode(review_id)
    );
    Links {
        approve: format!("{review}?decision=approve"),
        reject: format!("{review}?decision=reject"),
        review,
    }
}

/// Percent-encode everything but RFC 3986 unreserved characters.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

pub fn title(transition: ReviewTransition) -> &'static str {
    match transition {
        ReviewTransition::Requested => "Review requested",
        ReviewTransition::DecisionAdded => "Review decision",
        ReviewTransition::Approved => "Review approved",
        ReviewTransition::Rejected => "Review rejected",
        ReviewTransition::Revoked => "Review revoked",
        ReviewTransition::Executed => "Approved query executed",
        ReviewTransition::Expired => "Review expired",
    }
}

pub fn kind_name(kind: ReviewKind) -> &'static str {
    match kind {
        ReviewKind::OneTime => "one-time",
        ReviewKind::Jit => "jit",
    }
}

/// What is being reviewed, as the object of a sentence: "a query on X",
/// "60 minutes of access to X".
fn object(review: &Review) -> Vec<Piece> {
    let place = Piece::Place(review.connection.clone());
    match (review.kind, review.duration_minutes) {
        (ReviewKind::OneTime, _) => vec![text("a query on "), place],
        (ReviewKind::Jit, Some(minutes)) => {
            vec![text(format!("{minutes} minutes of access to ")), place]
        }
        (ReviewKind::Jit, None) => vec![text("just-in-time access to "), place],
    }
}

/// The one-line summary of `event`.
pub fn summary(event: &ReviewEvent) -> Vec<Piece> {
    let review = &event.review;
    let requester = Piece::Person(review.requester.email.clone());
    let mut pieces = Vec::new();
    match event.transition {
        ReviewTransition::Requested => {
            pieces.push(requester);
            pieces.push(text(match review.kind {
                ReviewKind::OneTime => " asks to run ",
                ReviewKind::Jit => " asks for ",
            }));
            pieces.extend(object(review));
        }
        ReviewTransition::DecisionAdded => {
            match review.decisions.last() {
                Some(decision) => {
                    pieces.push(Piece::Person(decision.approver.email.clone()));
                    pieces.push(text(if decision.approved {
                        " approved "
                    } else {
                        " rejected "
                    }));
                }
                None => pieces.push(text("A decision was added to ")),
            }
            pieces.push(requester);
            pieces.push(text("'s request for "));
            pieces.extend(object(review));
        }
        ReviewTransition::Executed => {
            pieces.push(requester);
            pieces.push(text("'s approved query ran on "));
            pieces.push(Piece::Place(review.connection.clone()));
        }
        ReviewTransition::Approved
        | ReviewTransition::Rejected
        | ReviewTransition::Revoked
        | ReviewTransition::Expired => {
            pieces.push(requester);
            pieces.push(text("'s request for "));
            pieces.extend(object(review));
            pieces.push(text(match event.transition {
                ReviewTransition::Approved => " was approved",
                ReviewTransition::Rejected => " was rejected",
                ReviewTransition::Revoked => " was revoked",
                _ => " expired",
            }));
            if event.transition == ReviewTransition::Rejected
                && let Some(decision) = review.decisions.iter().rev().find(|d| !d.approved)
            {
                pieces.push(text(" by "));
                pieces.push(Piece::Person(decision.approver.email.clone()));
            }
        }
    }
    pieces
}

/// The summary as plain text.
pub fn plain(pieces: &[Piece]) -> String {
    pieces
        .iter()
        .map(|p| match p {
            Piece::Text(s) | Piece::Person(s) | Piece::Place(s) => s.as_str(),
        })
        .collect()
}

/// `text` cut to `max` characters, with `…` when cut.
pub fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_string(),
        Some((end, _)) => format!("{}…", &text[..end]),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use gatehouse_sdk::{Identity, ReviewDecision, ReviewState, Role};

    pub fn person(email: &str) -> Identity {
        Identity {
            user_id: format!("id-{email}"),
            email: email.into(),
            groups: vec!["dba".into()],
            role: Role::User,
        }
    }

    pub fn event(kind: ReviewKind, transition: ReviewTransition) -> ReviewEvent {
        ReviewEvent {
            review: Review {
                id: "r 1".into(),
                kind,
                state: ReviewState::Pending,
                requester: person("ada@example.com"),
                connection: "billing.admin".into(),
                query: (kind == ReviewKind::OneTime).then(|| "delete from t where id = 1".into()),
                reason: "review: this query needs approval from dba".into(),
                approver_groups: vec!["dba".into()],
                decisions: vec![ReviewDecision {
                    approver: person("bob@example.com"),
                    approved: false,
                    comment: "not <today>".into(),
                    at: 1,
                }],
                duration_minutes: (kind == ReviewKind::Jit).then_some(60),
                created_at: 0,
            },
            transition,
            gateway_url: "https://gw.example.com/".into(),
        }
    }

    #[test]
    fn links_point_at_the_gateway() {
        let links = links("https://gw.example.com/", "r 1/x");
        assert_eq!(links.review, "https://gw.example.com/reviews/r%201%2Fx");
        assert_eq!(
            links.approve,
            "https://gw.example.com/reviews/r%201%2Fx?decision=approve"
        );
        assert_eq!(
            links.reject,
            "https://gw.example.com/reviews/r%201%2Fx?decision=reject"
        );
    }

    #[test]
    fn summaries() {
        let say = |kind, transition| plain(&summary(&event(kind, transition)));
        use ReviewKind::*;
        use ReviewTransition as T;
        assert_eq!(
            say(OneTime, T::Requested),
            "ada@example.com asks to run a query on billing.admin"
        );
        assert_eq!(
            say(Jit, T::Requested),
            "ada@example.com asks for 60 minutes of access to billing.admin"
        );
        assert_eq!(
            say(OneTime, T::DecisionAdded),
            "bob@example.com rejected ada@example.com's request for a query on billing.admin"
        );
        assert_eq!(
            say(OneTime, T::Rejected),
            "ada@example.com's request for a query on billing.admin was rejected by bob@example.com"
        );
        assert_eq!(
            say(Jit, T::Expired),
            "ada@example.com's request for 60 minutes of access to billing.admin expired"
        );
        assert_eq!(
            say(OneTime, T::Executed),
            "ada@example.com's approved query ran on billing.admin"
        );
    }

    #[test]
    fn truncation() {
        assert_eq!(truncate("abc", 3), "abc");
        assert_eq!(truncate("abcd", 3), "abc…");
        assert_eq!(truncate("ééé", 2), "éé…");
    }
}
