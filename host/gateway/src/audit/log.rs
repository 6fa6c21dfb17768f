//! [`AuditLog`]: the one way gateway code writes audit events, with group
//! commit.
//!
//! One writer task owns the queue. It takes every event waiting (up to
//! [`MAX_GROUP`]), writes them in **one** store transaction
//! ([`gatehouse_store::audit::Audit::append_many`]), then answers each
//! producer and publishes the highest committed sequence (which wakes the
//! sink deliverers). There is no linger: while a group is being committed
//! the next one gathers, so under load a commit covers many events and when
//! idle an event is written at once.
//!
//! With the node's audit journal (`journal.rs`), the writer also moves
//! what sessions journaled into the store: [`JOURNAL_INTERVAL`] after the
//! first row journaled since the last move (nothing wakes it while nothing
//! is journaled), and before each group it commits, so an event journaled
//! before another was queued gets the lower sequence. A [`Pending`] is an event a producer
//! journals (or, without a journal, queues) and settles later.
//!
//! Invariants:
//! * **FIFO.** Events commit in the order they were queued, and an
//!   [`AuditLog::append`] answered `Ok` means that event *and every event
//!   queued or journaled before it* (by any producer, also with
//!   [`AuditLog::submit`]) is committed — unless moving the journal failed
//!   (the store is failing): journaled events then stay in the journal,
//!   retried in order, and may land after the group.
//! * **No silent loss.** If a group's transaction fails, its events are
//!   retried one by one, so one bad event fails alone; a producer waiting
//!   on a failed event gets the error (and must not acknowledge what it
//!   stands for); a failed `submit`ted event is logged with its action.
//! * The queue is unbounded, like the session record's: a store that stays
//!   down grows memory instead of stalling sessions, and every waiting
//!   producer gets an error as soon as its write fails.

use super::journal::{Journal, Segment};
use gatehouse_store::Store;
use gatehouse_store::audit::{AuditEvent, NewAuditEvent};
use std::collections::VecDeque;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

/// Most events committed in one transaction.
pub const MAX_GROUP: usize = 512;

/// Why an event was not recorded.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AuditError {
    #[error("the audit log could not be written: {0}")]
    Store(String),
    #[error("the audit log writer has stopped")]
    Stopped,
}

type Reply = oneshot::Sender<Result<AuditEvent, AuditError>>;

// Events are the traffic; a `Flush` is rare, so its smaller size is not
// worth boxing every event for.
#[allow(clippy::large_enum_variant)]
enum Message {
    Event(NewAuditEvent, Option<Reply>),
    /// Answered once everything queued before it is written.
    Flush(oneshot::Sender<()>),
}

/// An event queued with [`AuditLog::enqueue`]; [`Ticket::committed`]
/// waits for its commit (and, the log being FIFO, every event before it).
#[must_use = "what the event records must not be acknowledged before the ticket resolves"]
pub struct Ticket(oneshot::Receiver<Result<AuditEvent, AuditError>>);

impl Ticket {
    pub async fn committed(self) -> Result<(), AuditError> {
        self.0.await.map_err(|_| AuditError::Stopped)?.map(drop)
    }
}

/// An event on its way to being durable.
pub enum Pending {
    /// An encoded row (with its newline) to write to the audit journal by
    /// [`Pending::settle`].
    Journal(Arc<Journal>, Vec<u8>),
    /// Queued for the writer ([`AuditLog::enqueue`]).
    Committing(Ticket),
}

impl Pending {
    /// Make the event durable (journal) or wait until it is (queued).
    pub async fn settle(self) -> Result<(), AuditError> {
        match self {
            Pending::Journal(journal, row) => journal
                .append_row(&row)
                .map_err(|err| AuditError::Store(format!("the audit journal: {err}"))),
            Pending::Committing(ticket) => ticket.committed().await,
        }
    }
}

/// A handle on the audit writer. Cheap to clone.
#[derive(Clone)]
pub struct AuditLog {
    queue: mpsc::UnboundedSender<Message>,
    committed: watch::Receiver<i64>,
    journal: Option<Arc<Journal>>,
}

impl AuditLog {
    /// Start the writer on the current tokio runtime.
    pub fn start(store: Store) -> Self {
        Self::start_journaled(store, None)
    }

    /// [`AuditLog::start`] with the audit journal (`journal.rs`; replay
    /// what an earlier process left first): the writer moves it into the
    /// store before each group commit and within [`JOURNAL_INTERVAL`].
    pub fn start_journaled(store: Store, journal: Option<Arc<Journal>>) -> Self {
        let (queue, received) = mpsc::unbounded_channel();
        let (published, committed) = watch::channel(0);
        let ingest = Ingest {
            journal: journal.clone(),
            backlog: VecDeque::new(),
        };
        tokio::spawn(write_loop(store, received, published, ingest));
        Self {
            queue,
            committed,
            journal,
        }
    }

    /// The node's audit journal, if it has one: an event to make durable
    /// before an acknowledgement, later, is encoded for it and written by
    /// [`Pending::settle`] on the settling thread (nothing happens until
    /// then, so the caller can first start the work the event records);
    /// without one, it is [`enqueue`](Self::enqueue)d.
    pub fn journal(&self) -> Option<&Arc<Journal>> {
        self.journal.as_ref()
    }

    /// Record `event` and wait until it is committed. Use this before
    /// acknowledging what the event stands for (a denial answered, a
    /// session admitted, a review moved).
    pub async fn append(&self, event: NewAuditEvent) -> Result<AuditEvent, AuditError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Message::Event(event, Some(reply)))
            .map_err(|_| AuditError::Stopped)?;
        answer.await.map_err(|_| AuditError::Stopped)?
    }

    /// Queue `event` and return at once with a [`Ticket`] that resolves
    /// when it is committed: for work that can go on meanwhile but must not
    /// be acknowledged before the commit (an allowed query runs upstream
    /// while its verdict commits; its results wait for the ticket).
    pub fn enqueue(&self, event: NewAuditEvent) -> Result<Ticket, AuditError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Message::Event(event, Some(reply)))
            .map_err(|_| AuditError::Stopped)?;
        Ok(Ticket(answer))
    }

    /// Record `event` without waiting (it commits with the next group, in
    /// order). For events nobody is told about: a session's end, a
    /// delivery given up.
    pub fn submit(&self, event: NewAuditEvent) {
        let action = event.action.clone();
        if self.queue.send(Message::Event(event, None)).is_err() {
            tracing::error!(%action, "the audit log writer has stopped; an audit event was not recorded");
        }
    }

    /// Wait until everything queued so far is written (or failed).
    pub async fn flush(&self) {
        let (done, written) = oneshot::channel();
        if self.queue.send(Message::Flush(done)).is_ok() {
            let _ = written.await;
        }
    }

    /// The highest sequence this writer committed; changes after every
    /// group. (Events the store's repositories write themselves — admin
    /// changes, review transitions — do not move it: sinks poll for those.)
    pub fn committed(&self) -> watch::Receiver<i64> {
        self.committed.clone()
    }
}

/// How long after the first row journaled since the last move the writer
/// moves the journal into the store, when no group commit does it first
/// (and how soon it retries a move that failed). Nothing wakes it while
/// nothing is journaled.
pub const JOURNAL_INTERVAL: std::time::Duration = std::time::Duration::from_millis(20);

/// The writer's side of the journal: segments taken but not yet
/// committed, oldest first (a failed commit is retried, in order, next
/// time).
struct Ingest {
    journal: Option<Arc<Journal>>,
    backlog: VecDeque<Segment>,
}

impl Ingest {
    /// Commit everything journaled so far, oldest first; on a store error
    /// keep the rest for the next call (logged).
    async fn run(&mut self, store: &Store, published: &watch::Sender<i64>) {
        let Some(journal) = &self.journal else { return };
        match journal.take() {
            Ok(taken) => self.backlog.extend(taken),
            Err(err) => {
                tracing::error!(error = %err, "could not switch audit journal files; retrying")
            }
        }
        while let Some(taken) = self.backlog.front() {
            match store.audit().append_encoded(taken.rows()).await {
                Ok(replayed) => {
                    publish(published, replayed.last_sequence);
                    journal.recycle(self.backlog.pop_front().expect("front exists"));
                }
                Err(err) => {
                    tracing::error!(events = taken.count(), error = %err,
                        "moving the audit journal into the store failed; it stays journaled and is retried");
                    return;
                }
            }
        }
    }

    /// Whether anything journaled is not in the store yet (a move to
    /// retry).
    fn pending(&self) -> bool {
        !self.backlog.is_empty() || self.journal.as_ref().is_some_and(|j| !j.is_empty())
    }

    /// Returns once something was journaled (never without a journal).
    async fn rows_written(&self) {
        match &self.journal {
            Some(journal) => journal.rows_written().await,
            None => std::future::pending().await,
        }
    }
}

async fn write_loop(
    store: Store,
    mut received: mpsc::UnboundedReceiver<Message>,
    published: watch::Sender<i64>,
    mut ingest: Ingest,
) {
    let mut batch = Vec::with_capacity(MAX_GROUP);
    let mut events = Vec::with_capacity(MAX_GROUP);
    let mut replies: Vec<Option<Reply>> = Vec::with_capacity(MAX_GROUP);
    // When to move the journal next: set by the first row journaled after
    // a move (or a move that failed), not by a clock that ticks while idle.
    let mut move_at: Option<Instant> = None;
    loop {
        tokio::select! {
            got = received.recv_many(&mut batch, MAX_GROUP) => {
                if got == 0 {
                    break;
                }
            }
            () = ingest.rows_written(), if move_at.is_none() => {
                move_at = Some(Instant::now() + JOURNAL_INTERVAL);
                continue;
            }
            () = tokio::time::sleep_until(move_at.unwrap_or_else(Instant::now)), if move_at.is_some() => {
                ingest.run(&store, &published).await;
                move_at = ingest.pending().then(|| Instant::now() + JOURNAL_INTERVAL);
                continue;
            }
        }
        // What was journaled before these events were queued commits
        // first: each producer's order is the log's.
        ingest.run(&store, &published).await;
        if move_at.is_none() && ingest.pending() {
            move_at = Some(Instant::now() + JOURNAL_INTERVAL);
        }
        for message in batch.drain(..) {
            match message {
                Message::Event(event, reply) => {
                    events.push(event);
                    replies.push(reply);
                }
                Message::Flush(done) => {
                    write_group(&store, &mut events, &mut replies, &published).await;
                    let _ = done.send(());
                }
            }
        }
        write_group(&store, &mut events, &mut replies, &published).await;
    }
    ingest.run(&store, &published).await;
}

/// Raise the published committed sequence to `sequence`.
fn publish(published: &watch::Sender<i64>, sequence: Option<i64>) {
    if let Some(sequence) = sequence {
        published.send_if_modified(|latest| {
            let moved = sequence > *latest;
            *latest = (*latest).max(sequence);
            moved
        });
    }
}

/// Write `events` in one transaction (one by one if that fails) and answer
/// their producers.
async fn write_group(
    store: &Store,
    events: &mut Vec<NewAuditEvent>,
    replies: &mut Vec<Option<Reply>>,
    published: &watch::Sender<i64>,
) {
    if events.is_empty() {
        return;
    }
    let outcomes: Vec<Result<AuditEvent, AuditError>> = match store
        .audit()
        .append_many(events)
        .await
    {
        Ok(stored) => stored.into_iter().map(Ok).collect(),
        Err(group_error) => {
            tracing::warn!(events = events.len(), error = %group_error, "an audit group commit failed; writing its events one by one");
            let mut outcomes = Vec::with_capacity(events.len());
            for event in events.iter() {
                outcomes.push(
                    store
                        .audit()
                        .append(event.clone())
                        .await
                        .map_err(|err| AuditError::Store(err.to_string())),
                );
            }
            outcomes
        }
    };
    let mut highest = None;
    for ((event, reply), outcome) in events.drain(..).zip(replies.drain(..)).zip(outcomes) {
        match &outcome {
            Ok(stored) => highest = Some(stored.sequence),
            Err(err) if reply.is_none() => {
                tracing::error!(action = %event.action, session = ?event.session_id, error = %err, "an audit event was not recorded");
            }
            Err(_) => {}
        }
        if let Some(reply) = reply {
            let _ = reply.send(outcome);
        }
    }
    publish(published, highest);
}
