//! Exec: the gateway runs one SQL text on a user's behalf
//! (`POST /api/connections/{name}/exec`, `gatehouse exec`), through the
//! same plugin pipeline as a native session, and returns the output.
//!
//! The path of an exec, like a native session's (`pg/session.rs`):
//! 1. the connection's plugins are opened for a session with verb `exec`
//!    and asked `on-connect`: `deny` refuses; `review(…)` admits only on an
//!    approved JIT review (the review workflow's `admit`);
//! 2. the session is recorded (`Connected`, verb exec), the text goes
//!    through `on-query` (protocol `exec`): `deny` refuses, `rewrite`
//!    replaces the text, `review(…)` goes to the review workflow: an
//!    approved review of the same query runs it, otherwise the query is
//!    **stored in a one-time review** and the caller gets its id (202);
//!    once approved, the gateway runs the stored text itself
//!    ([`Executor::run_review`], through every plugin again) and keeps the
//!    output with the review (`review_runs`);
//! 3. the upstream is logged in with the connection's credentials and the
//!    text sent as one simple query; its results pass the result hooks
//!    (`collect.rs`) and are kept, up to `[exec] max_rows` rows;
//! 4. the query and the end of the session are recorded; `on-disconnect`.
//!
//! **Failure modes.** Unknown connection: not found; a connection whose
//! plugins are broken or whose upstream cannot be reached: unavailable; a
//! plugin fault is a deny (fail closed); the database's own error is part
//! of the output (`error`), with the results before it; past `[exec]
//! timeout_seconds` the upstream connection is dropped and the exec fails.
//! Only PostgreSQL connections can exec.

mod collect;
mod runner;
mod settings;

pub use runner::spawn_runner;
pub use settings::ExecSettings;

use crate::audit::{AuditLog, SessionAudit};
use crate::catalog::CatalogHandle;
use crate::pg::upstream::{self, UpstreamConfig};
use crate::pg::wire::frontend::FrontendMessage;
use crate::record::{SessionEvent, SessionRecorder, Verdict};
use crate::reviews::{Admission, Gate, QueryContext, Workflow, wit_identity};
use bytes::BytesMut;
use gatehouse_api::{ExecOutcome, ExecOutput, ExecRequest, GatewayError};
use gatehouse_runtime::types::{
    ConnectVerdict, ConnectionKind, Identity, Query, QueryProtocol, QueryVerdict, Session,
    SessionSummary, SessionVerb,
};
use gatehouse_runtime::{Runtime, SessionPlugins};
use gatehouse_store::Store;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::io::AsyncWriteExt;

/// Runs exec queries (one per process; share it in an `Arc`).
pub struct Executor {
    catalog: Arc<CatalogHandle>,
    store: Store,
    runtime: Arc<Runtime>,
    recorder: Arc<dyn SessionRecorder>,
    reviews: Arc<Workflow>,
    settings: ExecSettings,
    /// Exec sessions are audited like native ones (see `crate::audit`):
    /// refusals, `session.start` and audited verdicts are committed before
    /// the caller is answered or the query runs.
    audit: AuditLog,
    audit_allowed_queries: bool,
}

/// One exec to run.
struct Job<'a> {
    identity: Identity,
    client_address: String,
    connection: &'a str,
    sql: String,
    /// Running the held query of this approved review.
    review: Option<&'a str>,
}

fn session_id() -> String {
    let mut bytes = [0u8; 12];
    getrandom::fill(&mut bytes).expect("random source");
    hex::encode(bytes)
}

/// What the session record needs to close an exec session.
struct Recording<'a> {
    recorder: &'a dyn SessionRecorder,
    session_id: String,
    started: Instant,
    denied: u64,
    rows: u64,
}

impl Recording<'_> {
    #[allow(clippy::too_many_arguments)]
    fn query(
        &mut self,
        query: &Query,
        verdict: Verdict,
        decided_by: Option<String>,
        started: Instant,
        rows: u64,
        command_tag: Option<String>,
        counters: Vec<(String, u64)>,
    ) {
        if matches!(verdict, Verdict::Denied { .. } | Verdict::Review { .. }) {
            self.denied += 1;
        }
        self.rows += rows;
        self.recorder.record(SessionEvent::Query {
            session_id: self.session_id.clone(),
            // An exec session runs one query, recorded once.
            seq: 1,
            query_id: query.id,
            text: query.text.clone(),
            verdict,
            decided_by,
            duration: started.elapsed(),
            rows,
            command_tag,
            counters,
        });
    }

    async fn end(self, plugins: &mut SessionPlugins) {
        let duration = self.started.elapsed();
        plugins
            .on_disconnect(&SessionSummary {
                queries: 1,
                denied: self.denied,
                rows: self.rows,
                duration_ms: duration.as_millis() as u64,
            })
            .await;
        self.recorder.record(SessionEvent::Disconnected {
            session_id: self.session_id,
            queries: 1,
            denied: self.denied,
            rows: self.rows,
            duration,
        });
    }
}

impl Executor {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        catalog: Arc<CatalogHandle>,
        store: Store,
        runtime: Arc<Runtime>,
        recorder: Arc<dyn SessionRecorder>,
        reviews: Arc<Workflow>,
        settings: ExecSettings,
        audit: AuditLog,
        audit_allowed_queries: bool,
    ) -> Self {
        Self {
            catalog,
            store,
            runtime,
            recorder,
            reviews,
            settings,
            audit,
            audit_allowed_queries,
        }
    }

    /// Record a refused exec session (session record and, committed before
    /// the caller hears of it, the audit event).
    async fn refused(
        &self,
        audit: &SessionAudit,
        job: &Job<'_>,
        action: &str,
        reason: String,
    ) -> GatewayError {
        self.recorder.record(SessionEvent::Refused {
            client: job.client_address.clone(),
            user: job.identity.email.clone(),
            connection: job.connection.to_string(),
            reason: reason.clone(),
            at: SystemTime::now(),
        });
        if let Err(err) = audit
            .log
            .append(audit.context.refused(action, &reason, None))
            .await
        {
            tracing::error!(error = %err, "an exec refusal could not be audited");
        }
        GatewayError::Denied(reason)
    }

    /// Run `request` (see the module docs).
    pub async fn exec(&self, request: ExecRequest) -> Result<ExecOutcome, GatewayError> {
        self.run(Job {
            identity: wit_identity(&request.identity),
            client_address: request.client_address,
            connection: &request.connection,
            sql: request.sql,
            review: None,
        })
        .await
    }

    async fn run(&self, job: Job<'_>) -> Result<ExecOutcome, GatewayError> {
        let name = job.connection;
        let entry = self
            .catalog
            .connection(name)
            .ok_or_else(|| GatewayError::NotFound(format!("connection {name}")))?;
        if entry.info.kind != ConnectionKind::Postgres {
            return Err(GatewayError::Invalid(format!(
                "exec runs on PostgreSQL connections; {name} is not one"
            )));
        }
        let pipeline = entry.pipeline.as_ref().map_err(|reason| {
            GatewayError::Unavailable(format!("connection {name} is unavailable: {reason}"))
        })?;
        let session = Session {
            id: session_id(),
            client_address: job.client_address.clone(),
            verb: SessionVerb::Exec,
            identity: job.identity.clone(),
            connection: entry.info.clone(),
            started_at: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
        };
        let audit = SessionAudit::new(self.audit.clone(), &session, self.audit_allowed_queries);
        let mut plugins = match pipeline.open_session(&self.runtime, &session).await {
            Ok(plugins) => plugins,
            Err(fault) => {
                audit.log.submit(audit.context.fault(&fault));
                let reason = format!("access denied: {fault}");
                return Err(self.refused(&audit, &job, "session.refused", reason).await);
            }
        };
        let decision = plugins.on_connect().await;
        if let Some(fault) = &decision.fault {
            audit.log.submit(audit.context.fault(fault));
        }
        match decision.verdict {
            ConnectVerdict::Allow => {}
            ConnectVerdict::Deny(reason) => {
                return Err(self.refused(&audit, &job, "session.denied", reason).await);
            }
            ConnectVerdict::Review(request) => {
                match self.reviews.admit(&job.identity, name, &request).await {
                    Admission::Allowed(_) => {}
                    Admission::Refused(reason) => {
                        return Err(self
                            .refused(&audit, &job, "session.review_required", reason)
                            .await);
                    }
                }
            }
        }
        audit
            .log
            .append(audit.context.started())
            .await
            .map_err(|err| {
                GatewayError::Unavailable(format!("the audit log is unavailable: {err}"))
            })?;
        self.recorder.record(SessionEvent::Connected {
            session_id: session.id.clone(),
            client: job.client_address.clone(),
            user_id: job.identity.user_id.clone(),
            email: job.identity.email.clone(),
            connection: name.to_string(),
            verb: SessionVerb::Exec,
            at: SystemTime::now(),
        });
        let mut recording = Recording {
            recorder: self.recorder.as_ref(),
            session_id: session.id.clone(),
            started: Instant::now(),
            denied: 0,
            rows: 0,
        };
        let outcome = self
            .decide_and_run(&job, &session, &audit, &mut plugins, &mut recording)
            .await;
        let (denied, rows, duration) = (
            recording.denied,
            recording.rows,
            recording.started.elapsed(),
        );
        recording.end(&mut plugins).await;
        audit
            .log
            .submit(audit.context.ended(1, denied, rows, duration));
        outcome
    }

    async fn decide_and_run(
        &self,
        job: &Job<'_>,
        session: &Session,
        audit: &SessionAudit,
        plugins: &mut SessionPlugins,
        recording: &mut Recording<'_>,
    ) -> Result<ExecOutcome, GatewayError> {
        let started = Instant::now();
        let mut query = Query {
            id: 1,
            text: job.sql.clone(),
            protocol: QueryProtocol::Exec,
            parameters: Vec::new(),
        };
        let decision = plugins.on_query(&mut query).await;
        // A query to review is placed first (held on a review, or run on an
        // approved one), so that its audit event names the review.
        let gate = match &decision.verdict {
            QueryVerdict::Review(request) => {
                let context = QueryContext {
                    identity: &job.identity,
                    connection: job.connection,
                    session_id: &session.id,
                    exec: true,
                    only_review: job.review,
                };
                Some(
                    self.reviews
                        .hold_query(&context, &query.text, request)
                        .await,
                )
            }
            _ => None,
        };
        // Audited verdicts are committed before they are acted on.
        // (exec is not latency-bound: an allowed verdict commits before the
        // query runs, too.)
        let unavailable =
            |err| GatewayError::Unavailable(format!("the audit log is unavailable: {err}"));
        if let Some(pending) = audit
            .decided(&query, &decision, gate.as_ref())
            .await
            .map_err(unavailable)?
        {
            pending.settle().await.map_err(unavailable)?;
        }
        let decided_by = decision.decided_by;
        let mut review_id = None;
        let verdict = match (decision.verdict, gate) {
            (QueryVerdict::Allow, _) => Verdict::Allowed,
            (QueryVerdict::Rewrite(_), _) => Verdict::Rewritten,
            (QueryVerdict::Deny(reason), _) => {
                recording.query(
                    &query,
                    Verdict::Denied {
                        reason: reason.clone(),
                    },
                    decided_by,
                    started,
                    0,
                    None,
                    Vec::new(),
                );
                return Err(GatewayError::Denied(reason));
            }
            (QueryVerdict::Review(_), gate) => {
                match gate.expect("a review verdict is placed above") {
                    Gate::Run { review_id: id } => {
                        review_id = Some(id);
                        Verdict::Allowed
                    }
                    Gate::Held { review, message } => {
                        recording.query(
                            &query,
                            Verdict::Review {
                                reason: message.clone(),
                            },
                            decided_by,
                            started,
                            0,
                            None,
                            Vec::new(),
                        );
                        return Ok(ExecOutcome::Held {
                            review: *review,
                            message,
                        });
                    }
                    Gate::Refused { message } => {
                        recording.query(
                            &query,
                            Verdict::Denied {
                                reason: message.clone(),
                            },
                            decided_by,
                            started,
                            0,
                            None,
                            Vec::new(),
                        );
                        return Err(GatewayError::Denied(message));
                    }
                    Gate::Taken => {
                        return Err(GatewayError::Conflict(
                            "the review's query was already run".into(),
                        ));
                    }
                }
            }
        };
        let decided_by = match (&review_id, decided_by) {
            (Some(id), Some(plugin)) => Some(format!("{plugin}; approved review {id}")),
            (Some(id), None) => Some(format!("approved review {id}")),
            (None, plugin) => plugin,
        };
        let ran = tokio::time::timeout(
            self.settings.timeout(),
            self.upstream(job.connection, plugins, &query),
        )
        .await
        .unwrap_or_else(|_| {
            Err(GatewayError::Unavailable(format!(
                "the query ran past the exec timeout ({}s)",
                self.settings.timeout_seconds
            )))
        });
        let collected = match ran {
            Ok(collected) => collected,
            Err(error) => {
                recording.query(
                    &query,
                    Verdict::Denied {
                        reason: error.to_string(),
                    },
                    decided_by,
                    started,
                    0,
                    None,
                    Vec::new(),
                );
                return Err(error);
            }
        };
        let verdict = match &collected.aborted {
            Some(reason) => Verdict::Denied {
                reason: reason.clone(),
            },
            None => verdict,
        };
        recording.query(
            &query,
            verdict,
            decided_by,
            started,
            collected.rows,
            collected.command_tag.clone(),
            collected.counters.clone(),
        );
        Ok(ExecOutcome::Ran(ExecOutput {
            session_id: session.id.clone(),
            connection: job.connection.to_string(),
            review_id,
            results: collected.results,
            error: collected.error,
            truncated: collected.truncated,
        }))
    }

    /// Log in upstream, send the query, collect its answer, log out.
    async fn upstream(
        &self,
        connection: &str,
        plugins: &mut SessionPlugins,
        query: &Query,
    ) -> Result<collect::Collected, GatewayError> {
        let unavailable =
            |err: &dyn std::fmt::Display| GatewayError::Unavailable(format!("{connection}: {err}"));
        let entry = self
            .catalog
            .connection(connection)
            .ok_or_else(|| GatewayError::NotFound(format!("connection {connection}")))?;
        let config = self
            .upstream_config(entry.id)
            .await
            .map_err(|e| unavailable(&e))?;
        let mut upstream = upstream::connect(&config)
            .await
            .map_err(|e| unavailable(&format!("could not connect: {e}")))?;
        drop(config);
        let mut message = BytesMut::new();
        FrontendMessage::Query {
            sql: query.text.clone(),
        }
        .encode(&mut message)
        .map_err(|e| GatewayError::Invalid(format!("the query cannot be sent: {e}")))?;
        upstream
            .stream
            .write_all(&message)
            .await
            .map_err(|e| unavailable(&e))?;
        let collected = collect::collect(&mut upstream, plugins, query.id, self.settings.max_rows)
            .await
            .map_err(|e| unavailable(&e))?;
        message.clear();
        if FrontendMessage::Terminate.encode(&mut message).is_ok() {
            let _ = upstream.stream.write_all(&message).await;
        }
        Ok(collected)
    }

    /// How to reach connection `id`'s upstream, credentials resolved now.
    async fn upstream_config(&self, id: i64) -> anyhow::Result<UpstreamConfig> {
        let credentials = self
            .store
            .connections()
            .resolve_credentials(id)
            .await
            .map_err(|err| anyhow::anyhow!("{err}"))?;
        let mut config = UpstreamConfig::from_credentials(&credentials);
        config.startup_params = vec![("application_name".into(), "gatehouse exec".into())];
        Ok(config)
    }
}

/// How long to wait for an exec's upstream before giving up.
impl ExecSettings {
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(u64::from(self.timeout_seconds))
    }
}
