//! One admitted client's session: plugins opened and asked `on-connect`,
//! the upstream logged in with the connection's own credentials, then
//! every query decided by the plugins before it reaches the database.
//!
//! **Protocol coverage.** The simple query protocol is proxied here in
//! full: multi-statement texts, rewrites, result hooks, `COPY … FROM STDIN`
//! and `TO STDOUT`. The extended protocol (Parse, Bind, Describe, Execute,
//! Close, Sync, Flush) goes to `extended.rs`, whose statement registry
//! decides every text at `Parse`. Function calls (fast-path) are refused
//! with a clear error: they run a function by its id, with no SQL text a
//! plugin could decide.
//!
//! **Denials** answer `ErrorResponse` (SQLSTATE 42501, the plugin's reason)
//! followed by `ReadyForQuery` with the transaction status the upstream
//! last reported: a denied statement never reached the database, so an open
//! transaction stays usable.
//!
//! **Reviews.** A `review(…)` verdict goes to the review workflow
//! (`crate::reviews`): an approved one-time review of the same query lets
//! it run once (its text as decided, not as the client framed it);
//! otherwise the query is held and refused naming the review. A session
//! admitted on just-in-time access is refused from its next query once
//! that access expires or is revoked.
//!
//! **Failure modes.** The client going away ends the session and drops the
//! upstream connection (the server aborts whatever was running). The
//! upstream going away ends the session with a FATAL error to the client.
//! A plugin fault while rows stream aborts the result: the rest is withheld
//! and the client gets an error, then the session continues.

use crate::audit::SessionAudit;
use crate::pg::FrontDoor;
use crate::pg::audited;
use crate::pg::extended::Extended;
use crate::pg::handshake::Admitted;
use crate::pg::reply;
use crate::pg::results::{PendingRows, columns};
use crate::pg::stream::ClientStream;
use crate::pg::upstream::{self, UpstreamConfig, UpstreamConnection};
use crate::pg::wire::backend::DataRow;
use crate::pg::wire::backend::encode;
use crate::pg::wire::backend::row_description::decode_row_description;
use crate::pg::wire::framing::{RawMessage, read_message};
use crate::pg::wire::frontend::FrontendMessage;
use crate::pg::wire::tags;
use crate::record::{SessionEvent, Verdict};
use crate::reviews::{Admission, Gate, SessionReviews};
use bytes::BytesMut;
use gatehouse_runtime::types::{
    ConnectVerdict, Query, QueryProtocol, QueryVerdict, ResultSummary, Session, SessionSummary,
    SessionVerb,
};
use gatehouse_runtime::{Decision, SessionPlugins};
use std::net::SocketAddr;
use std::time::{Instant, SystemTime, UNIX_EPOCH};
use tokio::io::AsyncWriteExt;

/// Largest message accepted from a client (a `COPY` chunk or a query text).
const MAX_CLIENT_MESSAGE: usize = 64 << 20;
/// Largest message accepted from the upstream.
const MAX_UPSTREAM_MESSAGE: usize = 1 << 30;
/// A scratch buffer that grew past this (a huge query) is not kept.
const SCRATCH_KEEP: usize = 1 << 20;
/// Output is flushed to the client when this much is buffered.
pub(super) const FLUSH_BYTES: usize = 64 << 10;

fn session_id() -> String {
    let mut bytes = [0u8; 12];
    getrandom::fill(&mut bytes).expect("random source");
    hex::encode(bytes)
}

pub(super) struct Counters {
    pub(super) queries: u64,
    pub(super) denied: u64,
    pub(super) rows: u64,
}

/// Run the session to its end.
pub async fn run(admitted: Admitted, peer: SocketAddr, door: &FrontDoor) -> anyhow::Result<()> {
    let Admitted {
        mut stream,
        mut buffer,
        identity,
        connection,
        params,
    } = admitted;
    let started = Instant::now();
    let session = Session {
        id: session_id(),
        client_address: peer.to_string(),
        verb: SessionVerb::Connect,
        identity: identity.clone(),
        connection: connection.info.clone(),
        started_at: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0),
    };
    tracing::Span::current().record("session", session.id.as_str());
    let audit = SessionAudit::new(door.audit.clone(), &session, door.audit_allowed_queries);
    let mut out = BytesMut::with_capacity(16 << 10);
    let refused = |reason: &str| SessionEvent::Refused {
        client: peer.to_string(),
        user: identity.email.clone(),
        connection: connection.info.name.clone(),
        reason: reason.to_string(),
        at: SystemTime::now(),
    };

    let pipeline = match &connection.pipeline {
        Ok(pipeline) => pipeline,
        Err(reason) => {
            let reason = format!(
                "connection \"{}\" is unavailable: {reason}",
                connection.info.name
            );
            reply::fatal(&mut out, "08004", &reason);
            door.refuse_session(refused(&reason), &audit, "session.refused", None, None)
                .await;
            stream.write_all(&out).await?;
            return Ok(());
        }
    };
    let mut plugins = match pipeline.open_session(&door.runtime, &session).await {
        Ok(plugins) => plugins,
        Err(fault) => {
            reply::fatal(&mut out, "28000", &format!("access denied: {fault}"));
            door.refuse_session(
                refused(&fault.to_string()),
                &audit,
                "session.denied",
                None,
                Some(&fault),
            )
            .await;
            stream.write_all(&out).await?;
            return Ok(());
        }
    };
    let decision = plugins.on_connect().await;
    let held = matches!(decision.verdict, ConnectVerdict::Review(_));
    // Review: admitted only on an approved, unexpired JIT review.
    let mut jit_lease = None;
    let denial = match decision.verdict {
        ConnectVerdict::Allow => None,
        ConnectVerdict::Deny(reason) => Some(reason),
        ConnectVerdict::Review(request) => match door
            .reviews
            .admit(&identity, &connection.info.name, &request)
            .await
        {
            Admission::Allowed(lease) => {
                jit_lease = Some(lease);
                None
            }
            Admission::Refused(reason) => Some(reason),
        },
    };
    if let Some(reason) = denial {
        reply::fatal(&mut out, "28000", &reason);
        let action = if held {
            "session.review_required"
        } else {
            "session.denied"
        };
        door.refuse_session(
            refused(&reason),
            &audit,
            action,
            decision.decided_by.as_deref(),
            decision.fault.as_ref(),
        )
        .await;
        stream.write_all(&out).await?;
        return Ok(());
    }

    let upstream_config = upstream_config(door, &connection, &params).await;
    let connected = match &upstream_config {
        Ok(config) => upstream::connect(config).await.map_err(anyhow::Error::from),
        Err(err) => Err(anyhow::anyhow!("{err:#}")),
    };
    let mut upstream = match connected {
        Ok(upstream) => upstream,
        Err(err) => {
            tracing::warn!(error = %err, "upstream connection failed");
            reply::fatal(
                &mut out,
                "08001",
                &format!(
                    "could not connect to connection \"{}\": {err}",
                    connection.info.name
                ),
            );
            door.refuse_session(
                refused(&format!("upstream: {err}")),
                &audit,
                "session.refused",
                None,
                None,
            )
            .await;
            stream.write_all(&out).await?;
            return Ok(());
        }
    };
    // Admitted only once `session.start` is durable.
    audited::admit(&audit, &mut stream, &mut out).await?;
    let cancel_key = door.cancels.register(
        upstream_config.as_ref().expect("connected"),
        upstream.process_id,
        upstream.secret_key,
    );
    drop(upstream_config);
    encode::authentication_ok(&mut out);
    for (name, value) in &upstream.parameters {
        encode::parameter_status(&mut out, name, value);
    }
    encode::backend_key_data(&mut out, cancel_key.process_id(), cancel_key.secret_key());
    reply::ready_for_query(&mut out, b'I');
    stream.write_all(&out).await?;
    out.clear();
    door.recorder.record(SessionEvent::Connected {
        session_id: session.id.clone(),
        client: peer.to_string(),
        user_id: identity.user_id.clone(),
        email: identity.email.clone(),
        connection: connection.info.name.clone(),
        verb: SessionVerb::Connect,
        at: SystemTime::now(),
    });

    let inspects_results = plugins.inspects_results();
    let mut proxy = Proxy {
        door,
        session_id: session.id.clone(),
        audit: audit.clone(),
        reviews: SessionReviews::new(
            door.reviews.clone(),
            identity.clone(),
            connection.info.name.clone(),
            session.id.clone(),
            jit_lease,
        ),
        plugins: &mut plugins,
        upstream: &mut upstream,
        upstream_buffer: BytesMut::with_capacity(64 << 10),
        transaction_status: b'I',
        counters: Counters {
            queries: 0,
            denied: 0,
            rows: 0,
        },
        next_query_id: 1,
        recorded: 0,
        audit_barrier: None,
        extended: Extended::default(),
        inspects_results,
        scratch: BytesMut::with_capacity(1024),
    };
    proxy.upstream_buffer = std::mem::take(&mut proxy.upstream.read_buffer);
    let result = proxy.serve(&mut stream, &mut buffer, &mut out).await;
    audited::tell_if_unaudited(&result, &mut stream, &mut out).await;
    let Counters {
        queries,
        denied,
        rows,
    } = proxy.counters;
    let duration = started.elapsed();
    plugins
        .on_disconnect(&SessionSummary {
            queries,
            denied,
            rows,
            duration_ms: duration.as_millis() as u64,
        })
        .await;
    door.recorder.record(SessionEvent::Disconnected {
        session_id: session.id,
        queries,
        denied,
        rows,
        duration,
    });
    audit
        .log
        .submit(audit.context.ended(queries, denied, rows, duration));
    result
}

/// How to reach `connection`'s upstream, with its credentials resolved
/// from the store now (a rotated password or reference applies to the next
/// session).
async fn upstream_config(
    door: &FrontDoor,
    connection: &crate::catalog::ConnectionEntry,
    params: &[(String, String)],
) -> anyhow::Result<UpstreamConfig> {
    let credentials = door
        .store
        .connections()
        .resolve_credentials(connection.id)
        .await
        .map_err(|err| anyhow::anyhow!("{err}"))?;
    let mut config = UpstreamConfig::from_credentials(&credentials);
    config.startup_params = params.to_vec();
    Ok(config)
}

/// The live proxying state of a session (simple protocol here, extended
/// protocol in `extended.rs`).
pub(super) struct Proxy<'a> {
    pub(super) door: &'a FrontDoor,
    pub(super) session_id: String,
    /// Verdicts that are audited are committed before they are acted on.
    pub(super) audit: SessionAudit,
    /// Held queries and the JIT lease (`crate::reviews`).
    pub(super) reviews: SessionReviews,
    pub(super) plugins: &'a mut SessionPlugins,
    pub(super) upstream: &'a mut UpstreamConnection,
    upstream_buffer: BytesMut,
    /// As last reported by the upstream's `ReadyForQuery`.
    pub(super) transaction_status: u8,
    pub(super) counters: Counters,
    pub(super) next_query_id: u64,
    /// Query events recorded so far (the next one's `seq` is one more).
    recorded: u64,
    /// The latest allowed verdict's audit event, made durable (journaled)
    /// after the query went upstream and before anything more from the
    /// upstream is relayed.
    audit_barrier: Option<crate::audit::Pending>,
    pub(super) extended: Extended,
    /// Whether any plugin has result hooks (fixed for the session); if not,
    /// result metadata is relayed without being decoded.
    pub(super) inspects_results: bool,
    /// Reused for messages the gateway writes upstream itself.
    scratch: BytesMut,
}

/// What the upstream said about one query.
#[derive(Default)]
struct QueryOutcome {
    rows: u64,
    command_tag: Option<String>,
    counters: Vec<(String, u64)>,
    /// A plugin fault aborted a result.
    aborted: Option<String>,
}

/// A query as the plugins decided it.
pub(super) struct Decided {
    pub(super) started: Instant,
    /// The query, its text rewritten if a plugin rewrote it.
    pub(super) query: Query,
    pub(super) decided_by: Option<String>,
    pub(super) verdict: Verdict,
    /// What a refused query answers with; `None` when it runs.
    pub(super) refusal: Option<String>,
    /// The approved one-time review this query runs on (once): the text
    /// to send is `query.text`, whatever the client framed.
    pub(super) approved_review: Option<String>,
}

impl Proxy<'_> {
    /// Number the query, ask the plugins, and judge their answer. A
    /// denied, held, rewritten or review-run verdict (and a fault) is
    /// committed before this returns; an allowed one (`[audit]
    /// allowed_queries`) is queued, and its commit awaited before the
    /// upstream's answer is relayed (`read_upstream`). `Err` when the audit
    /// log cannot be written: the session must end unanswered.
    pub(super) async fn decide(
        &mut self,
        sql: String,
        protocol: QueryProtocol,
    ) -> Result<Decided, crate::audit::AuditError> {
        let started = Instant::now();
        let id = self.next_query_id;
        self.next_query_id += 1;
        self.counters.queries += 1;
        let mut query = Query {
            id,
            text: sql,
            protocol,
            parameters: Vec::new(),
        };
        // A session admitted on JIT access is refused once it is over.
        let decision = match self.reviews.check_access().await {
            Ok(()) => self.plugins.on_query(&mut query).await,
            Err(reason) => Decision {
                verdict: QueryVerdict::Deny(reason),
                decided_by: Some("gatehouse".into()),
                fault: None,
            },
        };
        // A query to review is placed first (held on a review, or run on an
        // approved one), so that its audit event names the review.
        let gate = match &decision.verdict {
            QueryVerdict::Review(request) => Some(self.reviews.review(&query.text, request).await),
            _ => None,
        };
        if !matches!(decision.verdict, QueryVerdict::Allow)
            && let Some(earlier) = self.audit_barrier.take()
        {
            // An earlier allowed query's event goes first (log order).
            earlier.settle().await?;
        }
        if let Some(pending) = self.audit.decided(&query, &decision, gate.as_ref()).await? {
            // Settled (in order) before the upstream's next answer is read.
            if let Some(earlier) = self.audit_barrier.replace(pending) {
                earlier.settle().await?;
            }
        }
        let (mut verdict, mut refusal) = reply::judge(&decision.verdict);
        let mut decided_by = decision.decided_by;
        let mut approved_review = None;
        if let Some(gate) = gate {
            match gate {
                Gate::Run { review_id } => {
                    verdict = Verdict::Allowed;
                    refusal = None;
                    decided_by = Some(match decided_by {
                        Some(plugin) => format!("{plugin}; approved review {review_id}"),
                        None => format!("approved review {review_id}"),
                    });
                    approved_review = Some(review_id);
                }
                Gate::Held { message, .. } => refusal = Some(message),
                Gate::Refused { message } => {
                    verdict = Verdict::Denied {
                        reason: message.clone(),
                    };
                    refusal = Some(message);
                }
                // Only exec's runs of one given review are ever taken.
                Gate::Taken => {}
            }
        }
        Ok(Decided {
            started,
            query,
            decided_by,
            verdict,
            refusal,
            approved_review,
        })
    }

    async fn serve(
        &mut self,
        client: &mut ClientStream,
        buffer: &mut BytesMut,
        out: &mut BytesMut,
    ) -> anyhow::Result<()> {
        loop {
            let Some(message) = read_message(client, buffer, MAX_CLIENT_MESSAGE).await? else {
                return Ok(());
            };
            let decoded = match FrontendMessage::decode(&message) {
                Ok(decoded) => decoded,
                Err(err) => {
                    reply::fatal(out, "08P01", &format!("protocol violation: {err}"));
                    client.write_all(out).await?;
                    return Ok(());
                }
            };
            match decoded {
                FrontendMessage::Query { sql } => {
                    self.simple_query(sql, &message, client, buffer, out)
                        .await?
                }
                FrontendMessage::Terminate => {
                    let mut bye = BytesMut::new();
                    message.encode(&mut bye);
                    let _ = self.upstream.stream.write_all(&bye).await;
                    return Ok(());
                }
                FrontendMessage::FunctionCall(_) => {
                    reply::error(
                        out,
                        "0A000",
                        "function calls (fast-path) are not allowed through Gatehouse; use SQL",
                    );
                    reply::ready_for_query(out, self.transaction_status);
                    client.write_all(out).await?;
                    out.clear();
                }
                decoded_message @ (FrontendMessage::Parse { .. }
                | FrontendMessage::Bind { .. }
                | FrontendMessage::Describe { .. }
                | FrontendMessage::Execute { .. }
                | FrontendMessage::Close { .. }
                | FrontendMessage::Sync
                | FrontendMessage::Flush) => {
                    self.extended_message(decoded_message, &message, client, out)
                        .await?;
                }
                other => {
                    // Copy messages outside COPY, a password after login …
                    reply::fatal(
                        out,
                        "08P01",
                        &format!("unexpected {} message", other.name()),
                    );
                    client.write_all(out).await?;
                    return Ok(());
                }
            }
        }
    }

    async fn simple_query(
        &mut self,
        sql: String,
        raw: &RawMessage,
        client: &mut ClientStream,
        buffer: &mut BytesMut,
        out: &mut BytesMut,
    ) -> anyhow::Result<()> {
        let Decided {
            started,
            query,
            decided_by,
            verdict,
            refusal,
            approved_review,
        } = self.decide(sql, QueryProtocol::Simple).await?;
        let query_id = query.id;
        let outcome = match refusal {
            Some(message) => {
                self.counters.denied += 1;
                reply::error(out, "42501", &message);
                reply::ready_for_query(out, self.transaction_status);
                client.write_all(out).await?;
                out.clear();
                QueryOutcome::default()
            }
            None => {
                // Unchanged text goes upstream as the client framed it.
                let to_upstream = &mut self.scratch;
                to_upstream.clear();
                if verdict == Verdict::Rewritten || approved_review.is_some() {
                    FrontendMessage::Query {
                        sql: query.text.clone(),
                    }
                    .encode(to_upstream)?;
                } else {
                    raw.encode(to_upstream);
                }
                self.upstream.stream.write_all(to_upstream).await?;
                to_upstream.clear();
                if to_upstream.capacity() > SCRATCH_KEEP {
                    *to_upstream = BytesMut::new();
                }
                self.relay_until_ready(query_id, client, buffer, out)
                    .await?
            }
        };
        self.counters.rows += outcome.rows;
        if let Some(reason) = &outcome.aborted {
            let event = self.audit.context.result_withheld(query_id, reason);
            self.audit.log.submit(event);
        }
        let verdict = match (verdict, &outcome.aborted) {
            (_, Some(reason)) => Verdict::Denied {
                reason: reason.clone(),
            },
            (verdict, None) => verdict,
        };
        let seq = self.next_event_seq();
        self.door.recorder.record(SessionEvent::Query {
            session_id: self.session_id.clone(),
            seq,
            query_id,
            text: query.text,
            verdict,
            decided_by,
            duration: started.elapsed(),
            rows: outcome.rows,
            command_tag: outcome.command_tag,
            counters: outcome.counters,
        });
        Ok(())
    }

    /// The `seq` of the next query event in the session record.
    pub(super) fn next_event_seq(&mut self) -> u64 {
        self.recorded += 1;
        self.recorded
    }

    /// The upstream's next message. Nothing the upstream says reaches the
    /// client before the allowed verdicts so far are durable: the query is
    /// already upstream when its `query.allowed` event is journaled here,
    /// before its answer is awaited, so the journal write overlaps the
    /// query's run instead of adding to its latency (an `Err` ends the
    /// session).
    pub(super) async fn read_upstream(&mut self) -> anyhow::Result<RawMessage> {
        if let Some(pending) = self.audit_barrier.take() {
            pending.settle().await?;
        }
        match read_message(
            &mut self.upstream.stream,
            &mut self.upstream_buffer,
            MAX_UPSTREAM_MESSAGE,
        )
        .await?
        {
            Some(message) => Ok(message),
            None => anyhow::bail!("the upstream server closed the connection"),
        }
    }

    /// Relay the upstream's answer to one simple query, through the result
    /// hooks, up to and including `ReadyForQuery`.
    async fn relay_until_ready(
        &mut self,
        query_id: u64,
        client: &mut ClientStream,
        client_buffer: &mut BytesMut,
        out: &mut BytesMut,
    ) -> anyhow::Result<QueryOutcome> {
        let mut outcome = QueryOutcome::default();
        let mut pending: Option<PendingRows> = None;
        // After a plugin fault, rows of the current result are dropped.
        let mut withholding = false;
        loop {
            let message = match self.read_upstream().await {
                Ok(message) => message,
                Err(err) => {
                    reply::fatal(out, "08006", &format!("{err}"));
                    let _ = client.write_all(out).await;
                    return Err(err);
                }
            };
            match message.tag {
                tags::backend::ROW_DESCRIPTION if !self.inspects_results => {
                    withholding = false;
                    pending = None;
                    message.encode(out);
                }
                tags::backend::ROW_DESCRIPTION => {
                    withholding = false;
                    let fields = decode_row_description(&message.body)?;
                    let columns = columns(&fields);
                    pending = match self.plugins.on_result_start(query_id, &columns).await {
                        Ok(true) => Some(PendingRows::new(columns.len() as u32)),
                        Ok(false) => None,
                        Err(fault) => {
                            withholding = true;
                            outcome.aborted = Some(fault.to_string());
                            None
                        }
                    };
                    if !withholding {
                        message.encode(out);
                    }
                }
                tags::backend::DATA_ROW => {
                    outcome.rows += 1;
                    if withholding {
                        continue;
                    }
                    match &mut pending {
                        None => message.encode(out),
                        Some(rows) => {
                            let row = DataRow::decode(message.body.clone())?;
                            let full = match rows.push(&row) {
                                Ok(full) => full,
                                Err(reason) => {
                                    withholding = true;
                                    outcome.aborted = Some(reason);
                                    continue;
                                }
                            };
                            if full && let Err(reason) = rows.flush(self.plugins, out).await {
                                withholding = true;
                                outcome.aborted = Some(reason);
                            }
                        }
                    }
                }
                tags::backend::COMMAND_COMPLETE
                | tags::backend::PORTAL_SUSPENDED
                | tags::backend::EMPTY_QUERY_RESPONSE => {
                    if let Some(rows) = &mut pending
                        && !withholding
                        && let Err(fault) = rows.flush(self.plugins, out).await
                    {
                        withholding = true;
                        outcome.aborted = Some(fault.to_string());
                    }
                    if message.tag == tags::backend::COMMAND_COMPLETE {
                        let tag = String::from_utf8_lossy(
                            message.body.strip_suffix(&[0]).unwrap_or(&message.body),
                        )
                        .into_owned();
                        if pending.take().is_some() && !withholding {
                            let summary = ResultSummary {
                                command_tag: tag.clone(),
                                rows: outcome.rows,
                            };
                            match self.plugins.on_result_end(&summary).await {
                                Ok(counters) => outcome
                                    .counters
                                    .extend(counters.into_iter().map(|c| (c.name, c.value))),
                                Err(fault) => outcome.aborted = Some(fault.to_string()),
                            }
                        }
                        outcome.command_tag = Some(tag);
                    }
                    if withholding {
                        let reason = outcome.aborted.clone().unwrap_or_default();
                        reply::error(out, "42501", &format!("result withheld: {reason}"));
                        withholding = false;
                    } else {
                        message.encode(out);
                    }
                }
                tags::backend::ERROR_RESPONSE => {
                    // The statement failed mid-result: rows already produced
                    // still reach the client (through the hooks) before the
                    // error, as they would without the gateway.
                    if let Some(mut rows) = pending.take()
                        && !withholding
                        && let Err(fault) = rows.flush(self.plugins, out).await
                    {
                        outcome.aborted = Some(fault.to_string());
                    }
                    withholding = false;
                    message.encode(out);
                }
                tags::backend::READY_FOR_QUERY => {
                    self.transaction_status = message.body.first().copied().unwrap_or(b'I');
                    message.encode(out);
                    client.write_all(out).await?;
                    out.clear();
                    return Ok(outcome);
                }
                tags::backend::COPY_IN_RESPONSE => {
                    message.encode(out);
                    client.write_all(out).await?;
                    out.clear();
                    self.relay_copy_in(client, client_buffer).await?;
                }
                _ => message.encode(out),
            }
            if out.len() >= FLUSH_BYTES {
                client.write_all(out).await?;
                out.clear();
            }
        }
    }

    /// `COPY … FROM STDIN`: relay the client's data until it finishes.
    pub(super) async fn relay_copy_in(
        &mut self,
        client: &mut ClientStream,
        buffer: &mut BytesMut,
    ) -> anyhow::Result<()> {
        let mut chunk = BytesMut::new();
        loop {
            let Some(message) = read_message(client, buffer, MAX_CLIENT_MESSAGE).await? else {
                anyhow::bail!("client went away during COPY");
            };
            message.encode(&mut chunk);
            let done = matches!(
                message.tag,
                tags::frontend::COPY_DONE | tags::frontend::COPY_FAIL
            );
            if done || chunk.len() >= FLUSH_BYTES {
                self.upstream.stream.write_all(&chunk).await?;
                chunk.clear();
            }
            if done {
                return Ok(());
            }
        }
    }
}
