//! `on-review` in service instances: one long-lived instance per binding of
//! a plugin that declares the hook (`Runtime::start_service`, `init(none)`;
//! the binding's config is still what `config()` returns), fed one review
//! event at a time.
//!
//! Instances are kept per [`Binding`] (by identity: a catalog rebuild makes
//! new bindings, whose first event starts new instances; those of dropped
//! bindings are dropped with them). An instance that faults is poisoned by
//! the runtime and replaced by a fresh one on its binding's next event.
//!
//! **Combining** several plugins' answers: any `reject` rejects (the first
//! one's reason); otherwise any `approve` approves; otherwise no change. A
//! plugin that faults, or cannot start, counts as `no-change`: a review is
//! never approved by a failure (it stays pending, then expires).

use gatehouse_runtime::types::{Hook, ReviewEvent, ReviewVerdict};
use gatehouse_runtime::{Binding, PluginInstance, Runtime};
use std::sync::{Arc, Mutex, Weak};

/// What the plugins said about one event, together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Combined {
    NoChange,
    Approve { by: String },
    Reject { by: String, reason: String },
}

/// The plugins' combined answer and how many were asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answers {
    pub verdict: Combined,
    /// Bindings that declare `on-review` (asked, whether or not they
    /// answered). Zero means nobody decides for this connection.
    pub consulted: usize,
}

type Slot = Arc<tokio::sync::Mutex<Option<PluginInstance>>>;

/// Service instances by binding.
#[derive(Default)]
pub struct Services {
    slots: Mutex<Vec<(Weak<Binding>, Slot)>>,
}

impl Services {
    fn slot(&self, binding: &Arc<Binding>) -> Slot {
        let mut slots = self.slots.lock().unwrap();
        slots.retain(|(weak, _)| weak.strong_count() > 0);
        let wanted = Arc::downgrade(binding);
        if let Some((_, slot)) = slots.iter().find(|(weak, _)| weak.ptr_eq(&wanted)) {
            return slot.clone();
        }
        let slot: Slot = Default::default();
        slots.push((wanted, slot.clone()));
        slot
    }

    /// Ask every binding in `bindings` that declares `on-review`, in order.
    pub async fn on_review(
        &self,
        runtime: &Runtime,
        bindings: &[Arc<Binding>],
        event: &ReviewEvent,
    ) -> Answers {
        let mut answers = Answers {
            verdict: Combined::NoChange,
            consulted: 0,
        };
        for binding in bindings {
            if !binding.plugin.implements(Hook::OnReview) {
                continue;
            }
            answers.consulted += 1;
            let name = binding.plugin_name().to_string();
            let slot = self.slot(binding);
            let mut instance = slot.lock().await;
            if instance.is_none() {
                match runtime.start_service(binding).await {
                    Ok(started) => *instance = Some(started),
                    Err(fault) => {
                        tracing::warn!(plugin = %name, review = %event.review.id, error = %fault,
                            "review plugin could not start; counted as no change");
                        continue;
                    }
                }
            }
            let running = instance.as_mut().expect("started above");
            match running.on_review(event).await {
                Ok(ReviewVerdict::NoChange) => {}
                Ok(ReviewVerdict::Approve) => {
                    if answers.verdict == Combined::NoChange {
                        answers.verdict = Combined::Approve { by: name };
                    }
                }
                Ok(ReviewVerdict::Reject(reason)) => {
                    if !matches!(answers.verdict, Combined::Reject { .. }) {
                        answers.verdict = Combined::Reject { by: name, reason };
                    }
                }
                Err(fault) => {
                    tracing::warn!(plugin = %name, review = %event.review.id, error = %fault,
                        "review plugin faulted in on-review; counted as no change");
                    // Poisoned: the next event starts a fresh instance.
                    *instance = None;
                }
            }
        }
        answers
    }
}
