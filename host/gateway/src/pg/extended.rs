//! The extended query protocol: Parse, Bind, Describe, Execute, Close,
//! Sync and Flush, with every statement decided by the plugins.
//!
//! * **Decision at Parse.** A statement's text goes through `on-query`
//!   (protocol `prepared`) before the `Parse` is forwarded; a rewrite
//!   replaces the text that is prepared. SQL-level `PREPARE … AS` is decided
//!   like any other text when it is sent, so neither path runs undecided SQL.
//! * **Denial.** The `Parse` is not forwarded; an `ErrorResponse` (42501) is
//!   queued in order, and every message up to `Sync` is discarded, exactly
//!   as PostgreSQL does after an error. The `Sync` is still forwarded so
//!   the upstream answers what it already received.
//! * **Reply queue.** Each forwarded message that the upstream answers
//!   pushes what it expects onto [`Expect`] queue; the gateway's own errors
//!   are queued between them, so the client sees every reply in the order
//!   it sent its messages. An upstream error empties the queue up to the
//!   pending `Sync` (the upstream discards those messages too).
//! * **Results cannot skip the hooks.** An `Execute` of a portal whose
//!   columns the gateway has not seen is preceded by a hidden
//!   `Describe` of the portal, whose reply is consumed, not forwarded.
//!
//! Known limit: after `Sync` or `Flush` the gateway answers the batch
//! before reading more from the client (no pipelining across `Sync`s).

use crate::pg::reply;
use crate::pg::results::{PendingRows, columns};
use crate::pg::session::{Decided, Proxy};
use crate::pg::stream::ClientStream;
use crate::pg::wire::backend::DataRow;
use crate::pg::wire::backend::row_description::decode_row_description;
use crate::pg::wire::framing::RawMessage;
use crate::pg::wire::frontend::{FrontendMessage, Target};
use crate::pg::wire::tags;
use crate::record::{SessionEvent, Verdict};
use bytes::BytesMut;
use gatehouse_runtime::types::{CellFormat, Column, QueryProtocol, ResultSummary};
use std::collections::{HashMap, VecDeque};
use std::time::Instant;
use tokio::io::AsyncWriteExt;

/// A prepared statement the gateway let through.
pub(super) struct Statement {
    /// The text as prepared upstream (after any rewrite).
    sql: String,
    query_id: u64,
    verdict: Verdict,
    decided_by: Option<String>,
    /// From a `Describe` of the statement (formats not yet bound).
    columns: Option<Vec<Column>>,
    /// Approved by a one-time review: it may be bound once (it runs once).
    single_use: bool,
    bound: bool,
}

pub(super) struct Portal {
    statement: String,
    columns: Option<Vec<Column>>,
}

/// What the upstream owes for a forwarded message, or a reply of the
/// gateway's own waiting for its turn.
enum Expect {
    ParseComplete,
    Bind {
        portal: String,
    },
    CloseComplete,
    Describe {
        target: Target,
        name: String,
        hidden: bool,
    },
    Execute(Box<QueuedExecute>),
    Ready,
    Local(BytesMut),
}

/// An `Execute` as it was when queued: the portal's columns and statement
/// are captured then, because a later `Close` or re-`Bind` in the same
/// batch may change the registry before the rows arrive.
struct QueuedExecute {
    portal: String,
    /// `None` until a `Describe` of the portal queued before it answers.
    columns: Option<Vec<Column>>,
    record: StatementRecord,
}

/// What the session record says about the statement an `Execute` runs.
#[derive(Clone, Default)]
struct StatementRecord {
    sql: String,
    query_id: u64,
    verdict: Option<Verdict>,
    decided_by: Option<String>,
}

impl Statement {
    fn record(&self) -> StatementRecord {
        StatementRecord {
            sql: self.sql.clone(),
            query_id: self.query_id,
            verdict: Some(self.verdict.clone()),
            decided_by: self.decided_by.clone(),
        }
    }
}

#[derive(Default)]
pub(super) struct Extended {
    statements: HashMap<String, Statement>,
    portals: HashMap<String, Portal>,
    queue: VecDeque<Expect>,
    /// After an error in this batch, until `Sync`.
    discarding: bool,
    to_upstream: BytesMut,
}

impl Extended {
    /// Whether a `Describe` of `portal` is queued after its latest `Bind`
    /// (its answer will give the next `Execute` of the portal its columns).
    fn describe_pending(&self, portal: &str) -> bool {
        for expect in self.queue.iter().rev() {
            match expect {
                Expect::Describe {
                    target: Target::Portal,
                    name,
                    ..
                } if name == portal => return true,
                Expect::Bind { portal: bound } if bound == portal => return false,
                _ => {}
            }
        }
        false
    }

    /// Give the first queued `Execute` of `portal` still without columns
    /// the columns a `Describe` just returned.
    fn fill_execute_columns(&mut self, portal: &str, columns: &[Column]) {
        let target = self
            .queue
            .iter_mut()
            .skip(1)
            .find_map(|expect| match expect {
                Expect::Execute(queued) if queued.portal == portal && queued.columns.is_none() => {
                    Some(queued)
                }
                _ => None,
            });
        if let Some(queued) = target {
            queued.columns = Some(columns.to_vec());
        }
    }
}

/// Apply Bind's result format codes to a statement's columns.
fn bind_formats(columns: &[Column], formats: &[i16]) -> Vec<Column> {
    columns
        .iter()
        .enumerate()
        .map(|(i, column)| {
            let code = match formats.len() {
                0 => 0,
                1 => formats[0],
                _ => formats.get(i).copied().unwrap_or(0),
            };
            Column {
                format: if code == 1 {
                    CellFormat::Binary
                } else {
                    CellFormat::Text
                },
                ..column.clone()
            }
        })
        .collect()
}

/// The state of the `Execute` at the head of the queue.
struct Running {
    record: StatementRecord,
    started: Instant,
    rows: u64,
    pending: Option<PendingRows>,
    withheld: Option<String>,
    counters: Vec<(String, u64)>,
}

impl Proxy<'_> {
    /// Handle one extended-protocol message from the client.
    pub(super) async fn extended_message(
        &mut self,
        message: FrontendMessage,
        raw: &RawMessage,
        client: &mut ClientStream,
        out: &mut BytesMut,
    ) -> anyhow::Result<()> {
        let is_sync = matches!(message, FrontendMessage::Sync);
        if self.extended.discarding && !is_sync {
            return Ok(());
        }
        match message {
            FrontendMessage::Parse {
                statement,
                sql,
                param_types,
            } => {
                self.parse(statement, sql, param_types).await?;
            }
            FrontendMessage::Bind {
                portal,
                statement,
                result_formats,
                ..
            } => {
                if let Some(prepared) = self.extended.statements.get_mut(&statement)
                    && prepared.single_use
                {
                    if prepared.bound {
                        let mut error = BytesMut::new();
                        reply::error(
                            &mut error,
                            "42501",
                            "this statement ran the query its review approved once; send the query again",
                        );
                        self.extended.queue.push_back(Expect::Local(error));
                        self.extended.discarding = true;
                        return Ok(());
                    }
                    prepared.bound = true;
                }
                raw.encode(&mut self.extended.to_upstream);
                let columns = self
                    .extended
                    .statements
                    .get(&statement)
                    .and_then(|s| s.columns.as_ref())
                    .map(|c| bind_formats(c, &result_formats));
                self.extended.queue.push_back(Expect::Bind {
                    portal: portal.clone(),
                });
                self.extended
                    .portals
                    .insert(portal, Portal { statement, columns });
            }
            FrontendMessage::Describe { target, name } => {
                raw.encode(&mut self.extended.to_upstream);
                self.extended.queue.push_back(Expect::Describe {
                    target,
                    name,
                    hidden: false,
                });
            }
            FrontendMessage::Execute { portal, .. } => {
                let columns = self
                    .extended
                    .portals
                    .get(&portal)
                    .and_then(|p| p.columns.clone());
                let record = self
                    .statement_of(&portal)
                    .map(Statement::record)
                    .unwrap_or_default();
                if self.inspects_results
                    && columns.is_none()
                    && !self.extended.describe_pending(&portal)
                {
                    FrontendMessage::Describe {
                        target: Target::Portal,
                        name: portal.clone(),
                    }
                    .encode(&mut self.extended.to_upstream)?;
                    self.extended.queue.push_back(Expect::Describe {
                        target: Target::Portal,
                        name: portal.clone(),
                        hidden: true,
                    });
                }
                raw.encode(&mut self.extended.to_upstream);
                self.extended
                    .queue
                    .push_back(Expect::Execute(Box::new(QueuedExecute {
                        portal,
                        columns,
                        record,
                    })));
            }
            FrontendMessage::Close { target, name } => {
                raw.encode(&mut self.extended.to_upstream);
                match target {
                    Target::Statement => drop(self.extended.statements.remove(&name)),
                    Target::Portal => drop(self.extended.portals.remove(&name)),
                }
                self.extended.queue.push_back(Expect::CloseComplete);
            }
            FrontendMessage::Flush => {
                raw.encode(&mut self.extended.to_upstream);
                self.drain(client, out, false).await?;
            }
            FrontendMessage::Sync => {
                raw.encode(&mut self.extended.to_upstream);
                self.extended.queue.push_back(Expect::Ready);
                self.extended.discarding = false;
                self.drain(client, out, true).await?;
            }
            other => anyhow::bail!("{} is not an extended-protocol message", other.name()),
        }
        Ok(())
    }

    async fn parse(
        &mut self,
        statement: String,
        sql: String,
        param_types: Vec<u32>,
    ) -> anyhow::Result<()> {
        let Decided {
            started,
            query,
            decided_by,
            verdict,
            refusal,
            approved_review,
        } = self.decide(sql, QueryProtocol::Prepared).await?;
        let query_id = query.id;
        if let Some(message) = refusal {
            self.counters.denied += 1;
            let mut error = BytesMut::new();
            reply::error(&mut error, "42501", &message);
            self.extended.queue.push_back(Expect::Local(error));
            self.extended.discarding = true;
            let seq = self.next_event_seq();
            self.door.recorder.record(SessionEvent::Query {
                session_id: self.session_id.clone(),
                seq,
                query_id,
                text: query.text,
                verdict,
                decided_by: decided_by.clone(),
                duration: started.elapsed(),
                rows: 0,
                command_tag: None,
                counters: Vec::new(),
            });
            return Ok(());
        }
        FrontendMessage::Parse {
            statement: statement.clone(),
            sql: query.text.clone(),
            param_types,
        }
        .encode(&mut self.extended.to_upstream)?;
        self.extended.statements.insert(
            statement,
            Statement {
                sql: query.text,
                query_id,
                verdict,
                decided_by,
                columns: None,
                single_use: approved_review.is_some(),
                bound: false,
            },
        );
        self.extended.queue.push_back(Expect::ParseComplete);
        Ok(())
    }

    /// Send what was queued for the upstream, then relay replies in queue
    /// order: until `ReadyForQuery` (`until_ready`) or until nothing more is
    /// owed (after `Flush`).
    async fn drain(
        &mut self,
        client: &mut ClientStream,
        out: &mut BytesMut,
        until_ready: bool,
    ) -> anyhow::Result<()> {
        if !self.extended.to_upstream.is_empty() {
            self.upstream
                .stream
                .write_all(&self.extended.to_upstream)
                .await?;
            self.extended.to_upstream.clear();
        }
        let mut running: Option<Running> = None;
        loop {
            match self.extended.queue.front_mut() {
                None => break,
                Some(Expect::Local(bytes)) => {
                    out.extend_from_slice(bytes);
                    self.extended.queue.pop_front();
                    continue;
                }
                Some(_) => {}
            }
            let message = self.read_upstream().await?;
            match message.tag {
                // Asynchronous messages can arrive at any time.
                tags::backend::NOTICE_RESPONSE
                | tags::backend::PARAMETER_STATUS
                | tags::backend::NOTIFICATION_RESPONSE => {
                    message.encode(out);
                    continue;
                }
                tags::backend::ERROR_RESPONSE => {
                    if let Some(mut run) = running.take() {
                        // Rows produced before the error still go out first.
                        if run.withheld.is_none()
                            && let Some(rows) = &mut run.pending
                            && let Err(fault) = rows.flush(self.plugins, out).await
                        {
                            run.withheld = Some(fault);
                        }
                        self.finish_execute(run, None, false).await;
                    }
                    message.encode(out);
                    // The upstream skips everything up to Sync.
                    while let Some(front) = self.extended.queue.front() {
                        if matches!(front, Expect::Ready) {
                            break;
                        }
                        self.extended.queue.pop_front();
                    }
                    continue;
                }
                _ => {}
            }
            let head = self.extended.queue.front().expect("checked above");
            match head {
                Expect::ParseComplete | Expect::Bind { .. } | Expect::CloseComplete => {
                    message.encode(out);
                    self.extended.queue.pop_front();
                }
                Expect::Describe {
                    target,
                    name,
                    hidden,
                } => {
                    let (target, hidden) = (*target, *hidden);
                    let name = name.clone();
                    match message.tag {
                        tags::backend::PARAMETER_DESCRIPTION => message.encode(out),
                        tags::backend::ROW_DESCRIPTION | tags::backend::NO_DATA => {
                            if !self.inspects_results {
                                // Nobody inspects results: nothing to learn.
                                if !hidden {
                                    message.encode(out);
                                }
                                self.extended.queue.pop_front();
                                continue;
                            }
                            let described = if message.tag == tags::backend::ROW_DESCRIPTION {
                                columns(&decode_row_description(&message.body)?)
                            } else {
                                Vec::new()
                            };
                            match target {
                                Target::Statement => {
                                    if let Some(statement) = self.extended.statements.get_mut(&name)
                                    {
                                        statement.columns = Some(described);
                                    }
                                }
                                Target::Portal => {
                                    self.extended.fill_execute_columns(&name, &described);
                                    if let Some(portal) = self.extended.portals.get_mut(&name) {
                                        portal.columns = Some(described);
                                    }
                                }
                            }
                            if !hidden {
                                message.encode(out);
                            }
                            self.extended.queue.pop_front();
                        }
                        _ => anyhow::bail!(
                            "unexpected {} from upstream while describing",
                            message.tag as char
                        ),
                    }
                }
                Expect::Execute(queued) => {
                    if running.is_none() {
                        let columns = queued.columns.clone().unwrap_or_default();
                        let record = queued.record.clone();
                        running = Some(self.start_execute(columns, record).await);
                    }
                    let run = running.as_mut().expect("just set");
                    match message.tag {
                        tags::backend::DATA_ROW => {
                            run.rows += 1;
                            if run.withheld.is_some() {
                                continue;
                            }
                            match &mut run.pending {
                                None => message.encode(out),
                                Some(rows) => {
                                    let row = DataRow::decode(message.body.clone())?;
                                    match rows.push(&row) {
                                        Ok(false) => {}
                                        Ok(true) => {
                                            if let Err(reason) = rows.flush(self.plugins, out).await
                                            {
                                                run.withheld = Some(reason);
                                            }
                                        }
                                        Err(reason) => run.withheld = Some(reason),
                                    }
                                }
                            }
                        }
                        tags::backend::COMMAND_COMPLETE
                        | tags::backend::PORTAL_SUSPENDED
                        | tags::backend::EMPTY_QUERY_RESPONSE => {
                            let mut run = running.take().expect("running");
                            if run.withheld.is_none()
                                && let Some(rows) = &mut run.pending
                                && let Err(fault) = rows.flush(self.plugins, out).await
                            {
                                run.withheld = Some(fault.to_string());
                            }
                            let tag = (message.tag == tags::backend::COMMAND_COMPLETE).then(|| {
                                String::from_utf8_lossy(
                                    message.body.strip_suffix(&[0]).unwrap_or(&message.body),
                                )
                                .into_owned()
                            });
                            let withheld = run.withheld.clone();
                            self.finish_execute(
                                run,
                                tag,
                                message.tag != tags::backend::PORTAL_SUSPENDED,
                            )
                            .await;
                            match withheld {
                                Some(reason) => reply::error(
                                    out,
                                    "42501",
                                    &format!("result withheld: {reason}"),
                                ),
                                None => message.encode(out),
                            }
                            self.extended.queue.pop_front();
                        }
                        tags::backend::COPY_IN_RESPONSE
                        | tags::backend::COPY_OUT_RESPONSE
                        | tags::backend::COPY_DATA
                        | tags::backend::COPY_DONE => {
                            // COPY through the extended protocol: the statement
                            // was decided at Parse; relay the data.
                            message.encode(out);
                            if message.tag == tags::backend::COPY_IN_RESPONSE {
                                client.write_all(out).await?;
                                out.clear();
                                let mut buffer = BytesMut::new();
                                self.relay_copy_in(client, &mut buffer).await?;
                            }
                        }
                        other => anyhow::bail!(
                            "unexpected {} from upstream during Execute",
                            other as char
                        ),
                    }
                }
                Expect::Ready => {
                    if message.tag != tags::backend::READY_FOR_QUERY {
                        anyhow::bail!(
                            "unexpected {} from upstream before ReadyForQuery",
                            message.tag as char
                        );
                    }
                    self.transaction_status = message.body.first().copied().unwrap_or(b'I');
                    message.encode(out);
                    self.extended.queue.pop_front();
                    if until_ready {
                        break;
                    }
                }
                Expect::Local(_) => unreachable!("handled above"),
            }
            if out.len() >= super::session::FLUSH_BYTES {
                client.write_all(out).await?;
                out.clear();
            }
        }
        if !out.is_empty() {
            client.write_all(out).await?;
            out.clear();
        }
        Ok(())
    }

    async fn start_execute(&mut self, columns: Vec<Column>, record: StatementRecord) -> Running {
        let mut run = Running {
            started: Instant::now(),
            rows: 0,
            pending: None,
            withheld: None,
            counters: Vec::new(),
            record,
        };
        if !columns.is_empty() {
            match self
                .plugins
                .on_result_start(run.record.query_id, &columns)
                .await
            {
                Ok(true) => run.pending = Some(PendingRows::new(columns.len() as u32)),
                Ok(false) => {}
                Err(fault) => run.withheld = Some(fault.to_string()),
            }
        }
        run
    }

    fn statement_of(&self, portal: &str) -> Option<&Statement> {
        let statement = &self.extended.portals.get(portal)?.statement;
        self.extended.statements.get(statement)
    }

    /// Close the result of an `Execute`: counters, then the session record.
    async fn finish_execute(&mut self, mut run: Running, tag: Option<String>, complete: bool) {
        if run.pending.is_some() && run.withheld.is_none() && complete {
            let summary = ResultSummary {
                command_tag: tag.clone().unwrap_or_default(),
                rows: run.rows,
            };
            match self.plugins.on_result_end(&summary).await {
                Ok(counters) => run
                    .counters
                    .extend(counters.into_iter().map(|c| (c.name, c.value))),
                Err(fault) => run.withheld = Some(fault.to_string()),
            }
        }
        self.counters.rows += run.rows;
        let StatementRecord {
            sql: text,
            query_id,
            verdict,
            decided_by,
        } = run.record.clone();
        let verdict = verdict.unwrap_or(Verdict::Allowed);
        if let Some(reason) = &run.withheld {
            let event = self.audit.context.result_withheld(query_id, reason);
            self.audit.log.submit(event);
        }
        let verdict = match &run.withheld {
            Some(reason) => Verdict::Denied {
                reason: reason.clone(),
            },
            None => verdict,
        };
        let seq = self.next_event_seq();
        self.door.recorder.record(SessionEvent::Query {
            session_id: self.session_id.clone(),
            seq,
            query_id,
            text,
            verdict,
            decided_by,
            duration: run.started.elapsed(),
            rows: run.rows,
            command_tag: tag,
            counters: run.counters,
        });
    }
}
