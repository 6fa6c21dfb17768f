//! The Slack incoming-webhook message: `text` (the notification's
//! fallback) and Block Kit `blocks` with link buttons to the gateway.
//!
//! Everything a user typed (emails, connection names, reasons, comments,
//! the query) is escaped (`&`, `<`, `>`), so it cannot become a link or a
//! mention such as `<!channel>`, and the query cannot close its code block.
//! Texts are cut to stay within Slack's block limits (3000 characters a
//! section).

use gatehouse_sdk::{ReviewEvent, ReviewState};
use serde_json::{Value, json};

use crate::config::MAX_QUERY_CHARS;
use crate::notice::{self, Links, Piece};

/// Longest user-provided text (reason, comments) in a section.
const MAX_TEXT_CHARS: usize = 1000;

/// Escape the three characters Slack treats as control characters.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

fn mrkdwn(pieces: &[Piece]) -> String {
    pieces
        .iter()
        .map(|p| match p {
            Piece::Text(s) => escape(s),
            Piece::Person(s) => format!("*{}*", escape(s)),
            Piece::Place(s) => format!("`{}`", escape(&s.replace('`', "'"))),
        })
        .collect()
}

fn section(text: String) -> Value {
    json!({ "type": "section", "text": { "type": "mrkdwn", "text": text } })
}

fn button(label: &str, url: &str, style: Option<&str>) -> Value {
    let mut button = json!({
        "type": "button",
        "text": { "type": "plain_text", "text": label },
        "url": url,
    });
    if let Some(style) = style {
        button["style"] = style.into();
    }
    button
}

/// The message for `event`.
pub fn message(event: &ReviewEvent, links: &Links, include_query: bool) -> Value {
    let review = &event.review;
    let title = notice::title(event.transition);
    let summary = notice::summary(event);
    let mut blocks = vec![json!({
        "type": "header",
        "text": { "type": "plain_text", "text": title },
    })];

    let mut lead = mrkdwn(&summary);
    if !review.reason.trim().is_empty() {
        lead.push_str("\n>");
        lead.push_str(
            &escape(&notice::truncate(review.reason.trim(), MAX_TEXT_CHARS)).replace('\n', "\n>"),
        );
    }
    blocks.push(section(lead));

    let mut fields = vec![
        json!({ "type": "mrkdwn", "text": format!("*Approvers*\n{}", escape(&review.approver_groups.join(", "))) }),
        json!({ "type": "mrkdwn", "text": format!("*Review*\n<{}|{}>", links.review, escape(&review.id)) }),
    ];
    if let Some(minutes) = review.duration_minutes {
        fields.push(json!({ "type": "mrkdwn", "text": format!("*Access*\n{minutes} minutes") }));
    }
    blocks.push(json!({ "type": "section", "fields": fields }));

    if include_query && let Some(query) = &review.query {
        let query = notice::truncate(query, MAX_QUERY_CHARS).replace("```", "``\u{200b}`");
        blocks.push(section(format!("```{}```", escape(&query))));
    }

    if !review.decisions.is_empty() {
        let lines: Vec<String> = review
            .decisions
            .iter()
            .map(|d| {
                let verb = if d.approved { "approved" } else { "rejected" };
                let comment = d.comment.trim();
                if comment.is_empty() {
                    format!("*{}* {verb}", escape(&d.approver.email))
                } else {
                    format!(
                        "*{}* {verb}: {}",
                        escape(&d.approver.email),
                        escape(&notice::truncate(comment, 200))
                    )
                }
            })
            .collect();
        blocks.push(json!({
            "type": "context",
            "elements": [{ "type": "mrkdwn", "text": notice::truncate(&lines.join("\n"), 2900) }],
        }));
    }

    let actions = if review.state == ReviewState::Pending {
        vec![
            button("Approve", &links.approve, Some("primary")),
            button("Reject", &links.reject, Some("danger")),
            button("Open in Gatehouse", &links.review, None),
        ]
    } else {
        vec![button("Open in Gatehouse", &links.review, None)]
    };
    blocks.push(json!({ "type": "actions", "elements": actions }));

    json!({
        "text": format!("{title}: {}", escape(&notice::plain(&summary))),
        "blocks": blocks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notice::tests::event;
    use gatehouse_sdk::{ReviewKind, ReviewTransition};

    #[test]
    fn requested_message_with_buttons() {
        let mut e = event(ReviewKind::OneTime, ReviewTransition::Requested);
        e.review.decisions.clear();
        e.review.reason = "needs <!channel> & review".into();
        let links = notice::links(&e.gateway_url, &e.review.id);
        let m = message(&e, &links, false);
        assert_eq!(
            m["text"],
            "Review requested: ada@example.com asks to run a query on billing.admin"
        );
        let blocks = m["blocks"].as_array().unwrap();
        assert_eq!(blocks[0]["text"]["text"], "Review requested");
        assert_eq!(
            blocks[1]["text"]["text"],
            "*ada@example.com* asks to run a query on `billing.admin`\n>needs &lt;!channel&gt; &amp; review"
        );
        let actions = &blocks.last().unwrap()["elements"];
        assert_eq!(
            actions[0]["url"],
            "https://gw.example.com/reviews/r%201?decision=approve"
        );
        assert_eq!(actions[0]["style"], "primary");
        assert_eq!(
            actions[1]["url"],
            "https://gw.example.com/reviews/r%201?decision=reject"
        );
        assert_eq!(actions[1]["style"], "danger");
        // No query unless asked for.
        assert!(!m.to_string().contains("delete from t"));
    }

    #[test]
    fn query_is_escaped_in_its_code_block() {
        let mut e = event(ReviewKind::OneTime, ReviewTransition::Requested);
        e.review.query = Some("select '<@U123>' ```".into());
        let links = notice::links(&e.gateway_url, &e.review.id);
        let m = message(&e, &links, true);
        let text = m["blocks"][3]["text"]["text"].as_str().unwrap();
        assert_eq!(text, "```select '&lt;@U123&gt;' ``\u{200b}````");
    }

    #[test]
    fn settled_reviews_only_link_to_the_gateway() {
        let mut e = event(ReviewKind::Jit, ReviewTransition::Rejected);
        e.review.state = ReviewState::Rejected;
        let links = notice::links(&e.gateway_url, &e.review.id);
        let m = message(&e, &links, true);
        let blocks = m["blocks"].as_array().unwrap();
        let actions = blocks.last().unwrap()["elements"].as_array().unwrap();
        assert_eq!(actions.len(), 1);
        assert_eq!(actions[0]["url"], "https://gw.example.com/reviews/r%201");
        assert!(
            m.to_string()
                .contains("*bob@example.com* rejected: not &lt;today&gt;")
        );
        assert!(m.to_string().contains("*Access*\\n60 minutes"));
    }
}
