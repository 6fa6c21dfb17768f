//! Running held exec queries once approved, and the API's
//! [`QueryExecutor`].
//!
//! The review workflow queues the id of every approved one-time review that
//! holds an exec run (and the sweep re-queues those still owed); the runner
//! runs each as its requester — reloaded from the store, so a user disabled
//! meanwhile runs nothing and current groups apply — through every plugin
//! again, satisfying the `review(…)` verdict with that review only. The
//! output (or why it could not run) is stored with the review
//! (`GET /api/reviews/{id}/result`). The run is claimed by the review's
//! `approved → executed` move, so a run queued twice (or on two nodes)
//! happens once.

use super::{Executor, Job};
use crate::reviews::wit_identity;
use gatehouse_api::{
    BoxFuture, ExecFailure, ExecOutcome, ExecOutput, ExecRequest, GatewayError, QueryExecutor,
};
use gatehouse_store::reviews::ReviewState;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

impl QueryExecutor for Executor {
    fn exec<'a>(
        &'a self,
        request: ExecRequest,
    ) -> BoxFuture<'a, Result<ExecOutcome, GatewayError>> {
        Box::pin(Executor::exec(self, request))
    }
}

/// Run every review id received on `owed` (see the module docs).
pub fn spawn_runner(
    executor: Arc<Executor>,
    mut owed: mpsc::UnboundedReceiver<String>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let running: Arc<Mutex<HashSet<String>>> = Default::default();
        while let Some(id) = owed.recv().await {
            if !running.lock().unwrap().insert(id.clone()) {
                continue;
            }
            let executor = executor.clone();
            let running = running.clone();
            tokio::spawn(async move {
                executor.run_review(&id).await;
                running.lock().unwrap().remove(&id);
            });
        }
    })
}

fn failure(error: &GatewayError) -> ExecFailure {
    let code = match error {
        GatewayError::Denied(_) => "42501",
        GatewayError::Unavailable(_) => "08006",
        GatewayError::NotFound(_) => "3D000",
        _ => "XX000",
    };
    ExecFailure {
        code: code.into(),
        message: error.to_string(),
    }
}

impl Executor {
    /// Run the held query of approved review `id` and store its output.
    pub async fn run_review(&self, id: &str) {
        let reviews = self.store.reviews();
        let review = match reviews.get(id).await {
            Ok(review) if review.state == ReviewState::Approved => review,
            Ok(_) => return,
            Err(err) => {
                tracing::warn!(review = %id, error = %err, "could not read a review to run");
                return;
            }
        };
        match reviews.run(id).await {
            Ok(Some(run)) if run.finished_at.is_none() => {}
            _ => return,
        }
        let Some(sql) = review.query.clone() else {
            return;
        };
        let requester = match review.requester.user_id.parse::<i64>() {
            Ok(user_id) => self.store.users().get(user_id).await.ok(),
            Err(_) => None,
        };
        let outcome = match requester {
            Some(user) if !user.disabled => {
                self.run(Job {
                    identity: wit_identity(&user.identity()),
                    client_address: format!("gatehouse (review {id})"),
                    connection: &review.connection,
                    sql,
                    review: Some(id),
                })
                .await
            }
            _ => Err(GatewayError::Denied(format!(
                "the requester {} no longer exists or is disabled",
                review.requester.email
            ))),
        };
        let output = match outcome {
            Ok(ExecOutcome::Ran(output)) => output,
            // Someone else ran it.
            Err(GatewayError::Conflict(_)) => return,
            Ok(ExecOutcome::Held { message, .. }) => ExecOutput {
                session_id: String::new(),
                connection: review.connection.clone(),
                review_id: Some(id.to_string()),
                results: Vec::new(),
                error: Some(ExecFailure {
                    code: "42501".into(),
                    message,
                }),
                truncated: false,
            },
            Err(error) => ExecOutput {
                session_id: String::new(),
                connection: review.connection.clone(),
                review_id: Some(id.to_string()),
                results: Vec::new(),
                error: Some(failure(&error)),
                truncated: false,
            },
        };
        let session = (!output.session_id.is_empty()).then_some(output.session_id.as_str());
        let value = serde_json::to_value(&output).unwrap_or_default();
        match reviews.finish_run(id, session, &value).await {
            Ok(_) => {
                tracing::info!(review = %id, failed = output.error.is_some(), "held exec query run")
            }
            Err(err) => {
                tracing::error!(review = %id, error = %err, "the output of a held exec query could not be stored")
            }
        }
    }
}
