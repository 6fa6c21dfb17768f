//! A native session's side of the review workflow: who and where (for the
//! query gate), and the JIT lease it was admitted on, if any.

use super::{Gate, JitLease, QueryContext, Workflow};
use gatehouse_runtime::types::{Identity, ReviewRequest};
use std::sync::Arc;

pub struct SessionReviews {
    workflow: Arc<Workflow>,
    identity: Identity,
    connection: String,
    session_id: String,
    lease: Option<JitLease>,
}

impl SessionReviews {
    pub fn new(
        workflow: Arc<Workflow>,
        identity: Identity,
        connection: String,
        session_id: String,
        lease: Option<JitLease>,
    ) -> Self {
        Self {
            workflow,
            identity,
            connection,
            session_id,
            lease,
        }
    }

    /// Before each query: `Err(why)` once the JIT access the session was
    /// admitted on is over (expired, revoked). Sessions not admitted on a
    /// JIT review pay one branch.
    pub async fn check_access(&mut self) -> Result<(), String> {
        match &mut self.lease {
            None => Ok(()),
            Some(lease) => lease.check(&self.workflow).await,
        }
    }

    /// A plugin wants `text` reviewed: run it on an approved review, or
    /// hold it.
    pub async fn review(&self, text: &str, request: &ReviewRequest) -> Gate {
        let context = QueryContext {
            identity: &self.identity,
            connection: &self.connection,
            session_id: &self.session_id,
            exec: false,
            only_review: None,
        };
        self.workflow.hold_query(&context, text, request).await
    }
}
