//! The sweep, every `[reviews] sweep_seconds`: reviews past their
//! `expires_at` (pending ones nobody decided; approved JIT windows that
//! closed; approved one-time reviews whose query was not re-sent in time)
//! move to `expired`, with `on-review(expired)`; and exec runs still owed
//! (approved, not run: the node that approved them stopped, or the run
//! queue was full) are queued again. Several nodes may sweep the same
//! store: each move is optimistic, so each review expires once, and a run
//! is claimed by its `approved → executed` move.

use super::Workflow;
use gatehouse_store::StoreError;
use gatehouse_store::reviews::ReviewKind;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio::task::JoinHandle;

impl Workflow {
    /// Expire what is due at `now` (Unix ms) and queue owed runs; returns
    /// the ids expired. The background task calls it with the clock; tests
    /// call it with a time of their choosing.
    pub async fn sweep(&self, now: i64) -> Result<Vec<String>, StoreError> {
        let reviews = self.store.reviews();
        let expired = reviews.expire_due(&Self::system(), now).await?;
        for id in &expired {
            match reviews.get(id).await {
                Ok(review) => {
                    tracing::info!(review = %id, "review expired");
                    if review.kind == ReviewKind::Jit {
                        self.jit_epoch.fetch_add(1, Ordering::Relaxed);
                    }
                    self.announce(&review).await;
                }
                Err(err) => tracing::warn!(review = %id, error = %err, "expired review unreadable"),
            }
        }
        for id in reviews.waiting_runs().await? {
            let _ = self.runs.send(id);
        }
        Ok(expired)
    }

    /// Sweep every `sweep_seconds` until the task is aborted.
    pub fn spawn_sweeper(self: &Arc<Self>) -> JoinHandle<()> {
        let workflow = self.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(workflow.settings.sweep_interval());
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                if let Err(err) = workflow.sweep(crate::clock::now_ms()).await {
                    tracing::warn!(error = %err, "sweeping reviews failed; retrying at the next tick");
                }
            }
        })
    }
}
