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
//! Invariants:
//! * **FIFO.** Events commit in the order they were queued, and an
//!   [`AuditLog::append`] answered `Ok` means that event *and every event
//!   queued before it* (by any producer, also with [`AuditLog::submit`]) is
//!   committed.
//! * **No silent loss.** If a group's transaction fails, its events are
//!   retried one by one, so one bad event fails alone; a producer waiting
//!   on a failed event gets the error (and must not acknowledge what it
//!   stands for); a failed `submit`ted event is logged with its action.
//! * The queue is unbounded, like the session record's: a store that stays
//!   down grows memory instead of stalling sessions, and every waiting
//!   producer gets an error as soon as its write fails.

use gatehouse_store::Store;
use gatehouse_store::audit::{AuditEvent, NewAuditEvent};
use tokio::sync::{mpsc, oneshot, watch};

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

/// A handle on the audit writer. Cheap to clone.
#[derive(Clone)]
pub struct AuditLog {
    queue: mpsc::UnboundedSender<Message>,
    committed: watch::Receiver<i64>,
}

impl AuditLog {
    /// Start the writer on the current tokio runtime.
    pub fn start(store: Store) -> Self {
        let (queue, received) = mpsc::unbounded_channel();
        let (published, committed) = watch::channel(0);
        tokio::spawn(write_loop(store, received, published));
        Self { queue, committed }
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

async fn write_loop(
    store: Store,
    mut received: mpsc::UnboundedReceiver<Message>,
    published: watch::Sender<i64>,
) {
    let mut batch = Vec::with_capacity(MAX_GROUP);
    let mut events = Vec::with_capacity(MAX_GROUP);
    let mut replies: Vec<Option<Reply>> = Vec::with_capacity(MAX_GROUP);
    while received.recv_many(&mut batch, MAX_GROUP).await > 0 {
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
    if let Some(sequence) = highest {
        published.send_if_modified(|latest| {
            let moved = sequence > *latest;
            *latest = (*latest).max(sequence);
            moved
        });
    }
}
