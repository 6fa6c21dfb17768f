//! The review workflow: one-time reviews (a query held until approved, then
//! run once) and just-in-time access (a connection opened for N minutes
//! after approval). `docs/reviews.md` describes the flow; this module is
//! the host's side of it, used by the PostgreSQL sessions, by exec and by
//! the API (through [`gatehouse_api::ReviewDesk`]).
//!
//! | file | job |
//! | --- | --- |
//! | `normalize.rs` | "the same query": normalized text and its hash |
//! | `query.rs` | a query a plugin wants reviewed: run it if an approved review matches, else hold it |
//! | `access.rs` | JIT: admit a session on an approved review, lease checks, access requests |
//! | `session.rs` | a native session's view: identity, connection, JIT lease |
//! | `decide.rs` | decisions, revocation, and settling a review with its plugins' verdicts |
//! | `service.rs` | `on-review` in service instances, verdicts combined |
//! | `expiry.rs` | the sweep: due reviews expire, owed exec runs are retried |
//! | `desk.rs` | the API's [`gatehouse_api::ReviewDesk`] |
//! | `convert.rs`, `settings.rs` | store ↔ WIT types; the `[reviews]` section |
//!
//! ## Invariants
//! * **The host is authoritative** for who decides (a member of one of the
//!   review's approver groups, never its requester), states, expiry and
//!   execute-once; plugins decide quorum and policy (`on-review`). One
//!   rejection wins, whatever the plugins say.
//! * **Once.** An approved one-time review runs one query: the move
//!   `approved → executed` is optimistic (the review's `version`), so of two
//!   sessions re-sending it at once, one runs it and the other gets a new
//!   review.
//! * **An approval never overrides a deny.** A re-sent query goes through
//!   every plugin again; only a `review` verdict can be satisfied.
//! * **`on-review` fires on every transition** (service instances of the
//!   connection's bindings that declare it) with `gateway-url` set to the
//!   API's public URL.
//! * **Fail closed.** A store that cannot record a review refuses the
//!   query or connection; a plugin fault in `on-review` changes nothing.

mod access;
mod convert;
mod decide;
mod desk;
mod expiry;
pub mod normalize;
mod query;
mod service;
mod session;
mod settings;

pub use access::{Admission, JitLease};
pub use convert::{store_identity, wit_identity};
pub use query::{Gate, QueryContext};
pub use session::SessionReviews;
pub use settings::ReviewSettings;

use crate::catalog::CatalogHandle;
use convert::{transition_to, wit_review};
use gatehouse_runtime::Runtime;
use gatehouse_runtime::types::{ReviewEvent, ReviewTransition};
use gatehouse_store::reviews::Review;
use gatehouse_store::{Actor, Store};
use service::{Answers, Services};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, RwLock};
use tokio::sync::mpsc;

/// The gateway's review workflow (one per process; share it in an `Arc`).
pub struct Workflow {
    store: Store,
    runtime: Arc<Runtime>,
    catalog: Arc<CatalogHandle>,
    settings: ReviewSettings,
    /// The API's public base URL (`review-event.gateway-url`), known once
    /// the API listens.
    gateway_url: RwLock<String>,
    services: Services,
    /// Approved exec reviews whose held query the gateway owes a run.
    runs: mpsc::UnboundedSender<String>,
    /// Bumped when a JIT review is revoked or expires here, so live
    /// sessions re-check their lease at their next query.
    jit_epoch: AtomicU64,
}

impl Workflow {
    /// The workflow, and the queue of review ids whose exec run is owed
    /// (hand it to [`crate::exec::spawn_runner`]).
    pub fn new(
        store: Store,
        runtime: Arc<Runtime>,
        catalog: Arc<CatalogHandle>,
        settings: ReviewSettings,
        gateway_url: impl Into<String>,
    ) -> (Arc<Self>, mpsc::UnboundedReceiver<String>) {
        let (runs, owed) = mpsc::unbounded_channel();
        let workflow = Arc::new(Self {
            store,
            runtime,
            catalog,
            settings,
            gateway_url: RwLock::new(gateway_url.into().trim_end_matches('/').to_string()),
            services: Services::default(),
            runs,
            jit_epoch: AtomicU64::new(0),
        });
        (workflow, owed)
    }

    pub fn settings(&self) -> &ReviewSettings {
        &self.settings
    }

    /// The API's public base URL, without a trailing slash.
    pub fn gateway_url(&self) -> String {
        self.gateway_url.read().unwrap().clone()
    }

    /// Set once the API listens (its address may be chosen by the OS).
    pub fn set_gateway_url(&self, url: &str) {
        *self.gateway_url.write().unwrap() = url.trim_end_matches('/').to_string();
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The gateway acting on its own (expiry).
    fn system() -> Actor {
        Actor::system("reviews")
    }

    /// Ask the review's connection's plugins about `transition`.
    async fn ask(&self, review: &Review, transition: ReviewTransition) -> Answers {
        let bindings = self
            .catalog
            .connection(&review.connection)
            .and_then(|entry| entry.pipeline.as_ref().ok().map(|p| p.bindings().to_vec()))
            .unwrap_or_default();
        let event = ReviewEvent {
            review: wit_review(review),
            transition,
            gateway_url: self.gateway_url(),
        };
        self.services
            .on_review(&self.runtime, &bindings, &event)
            .await
    }

    /// Tell the plugins about the state `review` just reached (their
    /// verdicts on a final or approved review change nothing).
    async fn announce(&self, review: &Review) {
        let answers = self.ask(review, transition_to(review.state)).await;
        if answers.verdict != service::Combined::NoChange {
            tracing::debug!(review = %review.id, verdict = ?answers.verdict,
                "verdict on a review that is no longer pending ignored");
        }
    }
}
