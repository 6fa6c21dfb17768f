//! The audit events the gateway itself writes, built in one place so that
//! every one carries the same context: the actor (user id, email, groups,
//! role as they were), the connection, the session, the client address and
//! the time. Action names are the catalog of `docs/audit-events.md`.
//!
//! [`SessionAudit`] is a session's handle: its context plus the log, so the
//! proxy's per-query path only checks one flag and, for the verdicts that
//! are audited, awaits one group commit.

use super::journal::Journal;
use super::log::{AuditError, AuditLog, Pending};
use crate::reviews::Gate;
use gatehouse_runtime::types::{self, Query, QueryProtocol, QueryVerdict, ReviewRequest};
use gatehouse_runtime::{Decision, Fault, PluginFault};
use gatehouse_store::Role;
use gatehouse_store::actor::Identity;
use gatehouse_store::audit::{NewAuditEvent, Outcome, RowContext, RowEvent, encode_row};
use std::time::Duration;

/// The store's snapshot of a WIT identity.
pub fn actor(identity: &types::Identity) -> Identity {
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

/// `authentication/session.refused`: a database login refused before a
/// session existed (bad token, unknown connection, TLS required …). The
/// claimed user name goes in the `user` attribute; `actor` is set only once
/// the token was checked.
pub fn login_refused(
    client: &str,
    user: &str,
    connection: &str,
    reason: &str,
    actor: Option<&types::Identity>,
) -> NewAuditEvent {
    let mut event = NewAuditEvent::new("authentication", "session.refused", Outcome::Denied);
    event.actor = actor.map(self::actor);
    event.client_address = Some(client.to_string());
    event.connection = Some(connection.to_string());
    event.reason = Some(reason.to_string());
    event.attributes = vec![
        ("user".into(), user.to_string()),
        ("method".into(), "token".into()),
    ];
    event
}

/// The label of a fault (the `fault` attribute).
pub fn fault_kind(fault: &Fault) -> &'static str {
    match fault {
        Fault::Deadline(_) => "deadline",
        Fault::MemoryCap(_) => "memory-cap",
        Fault::Trap(_) => "trap",
        Fault::Malformed(_) => "malformed",
        Fault::Instantiate(_) => "instantiate",
        Fault::Init(_) => "init",
        Fault::Poisoned(_) => "poisoned",
    }
}

fn protocol_name(protocol: QueryProtocol) -> &'static str {
    match protocol {
        QueryProtocol::Simple => "simple",
        QueryProtocol::Prepared => "prepared",
        QueryProtocol::Exec => "exec",
    }
}

/// `audit.dead_letter`: a sink gave up on an event.
pub fn dead_letter(
    sink: &str,
    plugin: &str,
    event_id: &str,
    sequence: i64,
    attempts: u32,
    error: &str,
) -> NewAuditEvent {
    let mut event = NewAuditEvent::new("plugin", "audit.dead_letter", Outcome::Failure);
    event.reason = Some(error.to_string());
    event.attributes = vec![
        ("plugin".into(), plugin.to_string()),
        ("sink".into(), sink.to_string()),
        ("event.id".into(), event_id.to_string()),
        ("event.sequence".into(), sequence.to_string()),
        ("attempts".into(), attempts.to_string()),
    ];
    event
}

/// What every event of one session carries.
#[derive(Debug, Clone)]
pub struct SessionContext {
    pub actor: Identity,
    pub connection: String,
    pub session_id: String,
    pub client_address: String,
    pub verb: &'static str,
    /// The same context as the store's row columns, encoded once.
    row: RowContext,
}

impl SessionContext {
    pub fn of(session: &types::Session) -> Self {
        let actor = actor(&session.identity);
        let row = RowContext::new(
            Some(&actor),
            Some(&session.connection.name),
            Some(&session.id),
            Some(&session.client_address),
        );
        Self {
            actor,
            connection: session.connection.name.clone(),
            session_id: session.id.clone(),
            client_address: session.client_address.clone(),
            verb: match session.verb {
                types::SessionVerb::Connect => "connect",
                types::SessionVerb::Exec => "exec",
            },
            row,
        }
    }

    /// An event of `category`/`action` with this session's context.
    pub fn event(&self, category: &str, action: &str, outcome: Outcome) -> NewAuditEvent {
        let mut event = NewAuditEvent::new(category, action, outcome);
        event.actor = Some(self.actor.clone());
        event.connection = Some(self.connection.clone());
        event.session_id = Some(self.session_id.clone());
        event.client_address = Some(self.client_address.clone());
        event
    }

    /// `session.start`: the plugins allowed the connection and the upstream
    /// logged in.
    pub fn started(&self) -> NewAuditEvent {
        let mut event = self.event("session", "session.start", Outcome::Success);
        event.attributes = vec![("verb".into(), self.verb.into())];
        event
    }

    /// The session was refused after the user was known: `session.denied`
    /// (an `on-connect` deny, naming the plugin), `session.review_required`
    /// (an `on-connect` review) or `session.refused` (connection
    /// unavailable, upstream unreachable).
    pub fn refused(&self, action: &str, reason: &str, plugin: Option<&str>) -> NewAuditEvent {
        let outcome = match action {
            "session.review_required" => Outcome::Pending,
            "session.refused" => Outcome::Failure,
            _ => Outcome::Denied,
        };
        let mut event = self.event("session", action, outcome);
        event.reason = Some(reason.to_string());
        event.attributes = vec![("verb".into(), self.verb.into())];
        if let Some(plugin) = plugin {
            event.attributes.push(("plugin".into(), plugin.to_string()));
        }
        event
    }

    /// `session.end` with the summary.
    pub fn ended(&self, queries: u64, denied: u64, rows: u64, duration: Duration) -> NewAuditEvent {
        let mut event = self.event("session", "session.end", Outcome::Success);
        event.attributes = vec![
            ("verb".into(), self.verb.into()),
            ("queries".into(), queries.to_string()),
            ("denied".into(), denied.to_string()),
            ("rows".into(), rows.to_string()),
            ("duration_ms".into(), duration.as_millis().to_string()),
        ];
        event
    }

    /// `plugin.fault`: a plugin trapped, overran, answered malformed …
    pub fn fault(&self, fault: &PluginFault) -> NewAuditEvent {
        let mut event = self.event("plugin", "plugin.fault", Outcome::Failure);
        event.reason = Some(fault.to_string());
        event.attributes = vec![
            ("plugin".into(), fault.plugin.clone()),
            ("hook".into(), fault.hook.to_string()),
            ("fault".into(), fault_kind(&fault.fault).into()),
        ];
        event
    }

    /// `plugin.fault` for a result withheld after a result-hook failure
    /// (the proxy keeps only the message).
    pub fn result_withheld(&self, query_id: u64, reason: &str) -> NewAuditEvent {
        let mut event = self.event("plugin", "plugin.fault", Outcome::Failure);
        event.reason = Some(reason.to_string());
        event.attributes = vec![
            ("hook".into(), "on-result".into()),
            ("query.id".into(), query_id.to_string()),
        ];
        event
    }

    /// The verdict on a query: `query.denied`, `query.rewritten` or
    /// `query.allowed` (a `review` verdict is [`SessionContext::reviewed`]).
    pub fn verdict(
        &self,
        query: &Query,
        verdict: &QueryVerdict,
        decided_by: Option<&str>,
    ) -> NewAuditEvent {
        let (action, outcome, reason) = match verdict {
            QueryVerdict::Allow => ("query.allowed", Outcome::Success, None),
            QueryVerdict::Rewrite(_) => ("query.rewritten", Outcome::Success, None),
            QueryVerdict::Deny(reason) => ("query.denied", Outcome::Denied, Some(reason.clone())),
            QueryVerdict::Review(request) => {
                ("query.held", Outcome::Pending, Some(request.reason.clone()))
            }
        };
        self.query_event(query, action, outcome, reason, decided_by)
    }

    /// A query a plugin wanted reviewed, once the review workflow has
    /// placed it: `query.held` naming the review that holds it,
    /// `query.executed` when it runs on an approved review, or
    /// `query.denied` when it is refused all the same (rejected at once,
    /// or the review could not be stored).
    pub fn reviewed(
        &self,
        query: &Query,
        request: &ReviewRequest,
        decided_by: Option<&str>,
        gate: &Gate,
    ) -> NewAuditEvent {
        let (action, outcome, reason, review_id) = match gate {
            Gate::Held { review, .. } => (
                "query.held",
                Outcome::Pending,
                request.reason.clone(),
                Some(review.id.as_str()),
            ),
            Gate::Run { review_id } => (
                "query.executed",
                Outcome::Success,
                request.reason.clone(),
                Some(review_id.as_str()),
            ),
            Gate::Refused { message } => ("query.denied", Outcome::Denied, message.clone(), None),
            Gate::Taken => (
                "query.denied",
                Outcome::Denied,
                "the review's query was already run".to_string(),
                None,
            ),
        };
        let mut event = self.query_event(query, action, outcome, Some(reason), decided_by);
        if let Some(id) = review_id {
            event.attributes.push(("review.id".into(), id.to_string()));
        }
        event
            .attributes
            .push(("approver_groups".into(), request.approver_groups.join(",")));
        event
    }

    /// `query.allowed` for `query` as the journal's row (newline
    /// included): the event [`SessionContext::verdict`] builds for an
    /// allow, encoded straight from the query, with an id from `journal`
    /// and the time now.
    pub fn allowed_row(
        &self,
        journal: &Journal,
        query: &Query,
        decided_by: Option<&str>,
    ) -> Vec<u8> {
        let id = journal.next_id();
        let query_id = query.id.to_string();
        let protocol = protocol_name(query.protocol);
        let all = [
            ("plugin", decided_by.unwrap_or_default()),
            ("query.id", query_id.as_str()),
            ("query.text", query.text.as_str()),
            ("query.protocol", protocol),
        ];
        let attributes = if decided_by.is_some() {
            &all[..]
        } else {
            &all[1..]
        };
        let mut row = Vec::with_capacity(512 + 2 * query.text.len());
        encode_row(
            &mut row,
            &self.row,
            &RowEvent {
                id: id.as_str(),
                time: crate::clock::now_ms(),
                category: "query",
                action: "query.allowed",
                outcome: Outcome::Success,
                reason: None,
                attributes,
            },
        );
        row.push(b'\n');
        row
    }

    fn query_event(
        &self,
        query: &Query,
        action: &str,
        outcome: Outcome,
        reason: Option<String>,
        decided_by: Option<&str>,
    ) -> NewAuditEvent {
        let mut event = self.event("query", action, outcome);
        event.reason = reason;
        let mut attributes = Vec::with_capacity(6);
        if let Some(plugin) = decided_by {
            attributes.push(("plugin".into(), plugin.to_string()));
        }
        attributes.push(("query.id".into(), query.id.to_string()));
        attributes.push(("query.text".into(), query.text.clone()));
        attributes.push((
            "query.protocol".into(),
            protocol_name(query.protocol).into(),
        ));
        event.attributes = attributes;
        event
    }
}

/// A session's audit handle: its context and the log.
#[derive(Clone)]
pub struct SessionAudit {
    pub log: AuditLog,
    pub context: SessionContext,
    /// Audit allowed queries too (`[audit] allowed_queries`).
    pub allowed_queries: bool,
}

impl SessionAudit {
    pub fn new(log: AuditLog, session: &types::Session, allowed_queries: bool) -> Self {
        Self {
            log,
            context: SessionContext::of(session),
            allowed_queries,
        }
    }

    /// Record the decision on `query` durably: a fault first
    /// (`plugin.fault`), then the verdict. `query` holds the text as it
    /// will run (rewritten). A `review` verdict needs `gate`, what the
    /// review workflow made of it (so `query.held` names its review, which
    /// exists by then).
    ///
    /// A deny, hold, rewrite or review run is committed before this returns
    /// (the caller acts on it after). A plain allow comes back
    /// [`Pending`]: the caller sends the query upstream, then settles it
    /// (a write to the audit journal on its own thread, overlapping the
    /// query's run) before any of the answer reaches the client. With `[audit]
    /// allowed_queries = false`, a plain allow writes nothing (one
    /// comparison) and is in the session record only.
    pub async fn decided(
        &self,
        query: &Query,
        decision: &Decision<QueryVerdict>,
        gate: Option<&Gate>,
    ) -> Result<Option<Pending>, AuditError> {
        let allowed = matches!(decision.verdict, QueryVerdict::Allow);
        if allowed && !self.allowed_queries {
            return Ok(None);
        }
        if let Some(fault) = &decision.fault {
            // Committed with (or before) the verdict: the log is FIFO.
            self.log.submit(self.context.fault(fault));
        }
        let decided_by = decision.decided_by.as_deref();
        if allowed {
            return Ok(Some(match self.log.journal() {
                Some(journal) => Pending::Journal(
                    journal.clone(),
                    self.context.allowed_row(journal, query, decided_by),
                ),
                None => Pending::Committing(self.log.enqueue(self.context.verdict(
                    query,
                    &decision.verdict,
                    decided_by,
                ))?),
            }));
        }
        let event = match (&decision.verdict, gate) {
            (QueryVerdict::Review(request), Some(gate)) => {
                self.context.reviewed(query, request, decided_by, gate)
            }
            (verdict, _) => self.context.verdict(query, verdict, decided_by),
        };
        self.log.append(event).await.map(|_| None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> types::Session {
        types::Session {
            id: "s1".into(),
            client_address: "127.0.0.1:5000".into(),
            verb: types::SessionVerb::Connect,
            identity: types::Identity {
                user_id: "7".into(),
                email: "ada@example.com".into(),
                groups: vec!["dev".into()],
                role: types::Role::User,
            },
            connection: types::Connection {
                name: "billing.ro".into(),
                kind: types::ConnectionKind::Postgres,
                resource_name: "billing".into(),
                attributes: vec![],
            },
            started_at: 1,
        }
    }

    /// The journal's row of an allow is byte for byte the row of the
    /// event `verdict` builds for it (same columns, same attribute order).
    #[test]
    fn an_allowed_row_is_the_allowed_event_encoded() {
        let context = SessionContext::of(&session());
        let dir = tempfile::tempdir().unwrap();
        let (journal, _) = Journal::open(dir.path()).unwrap();
        let query = Query {
            id: 12,
            text: "select '\"x\"\n'".into(),
            protocol: QueryProtocol::Prepared,
            parameters: vec![],
        };
        for decided_by in [Some("access-control"), None] {
            let row = context.allowed_row(&journal, &query, decided_by);
            let values: Vec<serde_json::Value> = serde_json::from_slice(&row).unwrap();
            let id = values[0].as_str().unwrap();
            let mut event = context.verdict(&query, &QueryVerdict::Allow, decided_by);
            event.time = values[1].as_i64();
            let mut expected = Vec::new();
            gatehouse_store::audit::encode_event(&mut expected, &event, id, 0);
            expected.push(b'\n');
            assert_eq!(
                String::from_utf8(row).unwrap(),
                String::from_utf8(expected).unwrap()
            );
        }
    }

    #[test]
    fn every_session_event_carries_who_where_and_which_session() {
        let context = SessionContext::of(&session());
        let query = Query {
            id: 3,
            text: "drop table t".into(),
            protocol: QueryProtocol::Simple,
            parameters: vec![],
        };
        let denied = context.verdict(&query, &QueryVerdict::Deny("no".into()), Some("guardrails"));
        for event in [
            denied.clone(),
            context.started(),
            context.ended(1, 1, 0, Duration::ZERO),
        ] {
            let actor = event.actor.as_ref().unwrap();
            assert_eq!(
                (actor.user_id.as_str(), actor.email.as_str()),
                ("7", "ada@example.com")
            );
            assert_eq!(actor.groups, ["dev"]);
            assert_eq!(event.connection.as_deref(), Some("billing.ro"));
            assert_eq!(event.session_id.as_deref(), Some("s1"));
            assert_eq!(event.client_address.as_deref(), Some("127.0.0.1:5000"));
        }
        assert_eq!(
            (denied.category.as_str(), denied.action.as_str()),
            ("query", "query.denied")
        );
        assert_eq!(denied.outcome, Outcome::Denied);
        assert_eq!(denied.reason.as_deref(), Some("no"));
        assert!(
            denied
                .attributes
                .contains(&("query.text".into(), "drop table t".into()))
        );
        assert!(
            denied
                .attributes
                .contains(&("plugin".into(), "guardrails".into()))
        );
    }
}
