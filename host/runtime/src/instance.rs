//! One plugin instance and the guarded call of each hook.
//!
//! Every call runs under three guards:
//! * a **deadline**: the epoch callback traps once the binding's budget has
//!   passed (yielding to the executor every tick meanwhile), and a tokio
//!   timeout a little later catches a call stuck in a host import. Neither
//!   costs a call that ends before the epoch ticks, as most do: the budget
//!   is counted from the call's first tick ([`CallDeadline`]), and the
//!   timeout is set only once the call has yielded ([`with_backstop`]);
//! * the **memory cap** (the store's resource limiter);
//! * **answer checks** for what the types cannot express.
//!
//! A call that fails any of them returns a [`PluginFault`] and *poisons* the
//! instance: its state may be half-updated, so every later call on it fails
//! with `Poisoned` without entering the guest. The store is dropped with the
//! instance; a fault never reaches other instances or sessions.

use crate::Runtime;
use crate::error::{Fault, PluginFault};
use crate::grants::Limits;
use crate::plugin::Linked;
use crate::state::{
    BindingContext, CallDeadline, DeadlineExceeded, MemoryCapExceeded, PluginState,
};
use crate::v0_1::{self, types::*};
use std::future::Future;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;
use wasmtime::component::TypedFunc;
use wasmtime::{Store, UpdateDeadline};

/// Extra wall time after the deadline before the backstop timeout fires.
const BACKSTOP_GRACE: Duration = Duration::from_millis(250);

/// `query-filter.on-query-keywords`, typed.
type KeywordsFunc = TypedFunc<(), (Option<Vec<String>>,)>;

pub struct PluginInstance {
    store: Store<PluginState>,
    bindings: v0_1::Plugin,
    /// Set when the plugin exports the optional `query-filter` interface.
    keywords: Option<KeywordsFunc>,
    limits: Limits,
    poisoned: Option<String>,
}

/// Run one guest call with the deadline armed and map failures to faults.
macro_rules! guarded {
    ($self:ident, $hook:literal, |$guest:ident, $store:ident| $call:expr) => {{
        if let Some(reason) = &$self.poisoned {
            return Err($self.fault($hook, Fault::Poisoned(reason.clone())));
        }
        let deadline = $self.limits.deadline;
        $self.store.data_mut().deadline = CallDeadline::Armed(deadline);
        $self.store.set_epoch_deadline(1);
        let busy = crate::epoch::busy();
        let result = {
            let $guest = $self.bindings.gatehouse_plugin_guest();
            let $store = &mut $self.store;
            with_backstop(deadline + BACKSTOP_GRACE, $call).await
        };
        drop(busy);
        $self.store.data_mut().deadline = CallDeadline::Idle;
        match result {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => {
                let fault = $self.classify(error);
                Err($self.poison($hook, fault))
            }
            Err(_elapsed) => Err($self.poison($hook, Fault::Deadline(deadline))),
        }
    }};
}

impl PluginInstance {
    /// Instantiate without calling `init` (load-time probes).
    pub(crate) async fn instantiate_raw(
        runtime: &Runtime,
        linked: &Linked,
        binding: Arc<BindingContext>,
        session_id: Option<Arc<str>>,
        limits: Limits,
    ) -> Result<Self, PluginFault> {
        let name = binding.plugin.clone();
        let fault = |fault| PluginFault {
            plugin: name.clone(),
            hook: "instantiate",
            fault,
        };
        let state = PluginState::new(
            binding,
            runtime.services.clone(),
            session_id,
            limits.memory_bytes,
        )
        .map_err(|e| fault(Fault::Instantiate(format!("{e:#}"))))?;
        let mut store = Store::new(&runtime.engine, state);
        store.limiter(|state| &mut state.limiter);
        store.epoch_deadline_callback(|mut context| {
            if context.data_mut().deadline.passed_at_tick() {
                Err(wasmtime::Error::new(DeadlineExceeded))
            } else {
                Ok(UpdateDeadline::Yield(1))
            }
        });
        // Instantiation runs the guest's start code: it gets a deadline too.
        store.data_mut().deadline = CallDeadline::Armed(limits.deadline);
        store.set_epoch_deadline(1);
        let busy = crate::epoch::busy();
        let instantiated = async {
            let instance = linked.pre.instantiate_async(&mut store).await?;
            let bindings = linked.indices.load(&mut store, &instance)?;
            let keywords = match &linked.query_filter {
                Some(index) => {
                    Some(instance.get_typed_func(&mut store, index).map_err(|e| {
                        e.context("query-filter.on-query-keywords has the wrong type")
                    })?)
                }
                None => None,
            };
            Ok::<_, wasmtime::Error>((bindings, keywords))
        }
        .await;
        drop(busy);
        let (bindings, keywords) = match instantiated {
            Ok(instantiated) => instantiated,
            Err(error) => {
                let detail = match classify_error(&error, &store, limits) {
                    Fault::Trap(message) => Fault::Instantiate(message),
                    other => other,
                };
                return Err(fault(detail));
            }
        };
        store.data_mut().deadline = CallDeadline::Idle;
        Ok(Self {
            store,
            bindings,
            keywords,
            limits,
            poisoned: None,
        })
    }

    /// Instantiate and `init` for a session (or for a service when `None`).
    pub(crate) async fn start(
        runtime: &Runtime,
        binding: &crate::plugin::Binding,
        session: Option<&Session>,
    ) -> Result<Self, PluginFault> {
        let session_id = session.map(|s| Arc::<str>::from(s.id.as_str()));
        let mut instance = Self::instantiate_raw(
            runtime,
            &binding.plugin.linked,
            binding.context.clone(),
            session_id,
            binding.limits,
        )
        .await?;
        match instance.init(session).await? {
            Ok(()) => Ok(instance),
            Err(message) => Err(instance.poison("init", Fault::Init(message))),
        }
    }

    pub fn plugin_name(&self) -> &str {
        &self.store.data().binding.plugin
    }

    fn fault(&self, hook: &'static str, fault: Fault) -> PluginFault {
        PluginFault {
            plugin: self.plugin_name().to_string(),
            hook,
            fault,
        }
    }

    fn poison(&mut self, hook: &'static str, fault: Fault) -> PluginFault {
        let fault = self.fault(hook, fault);
        tracing::warn!(plugin = %fault.plugin, hook, error = %fault.fault, "plugin fault; failing closed");
        self.poisoned = Some(fault.fault.to_string());
        fault
    }

    fn classify(&self, error: wasmtime::Error) -> Fault {
        classify_error(&error, &self.store, self.limits)
    }

    /// Report a malformed answer and poison the instance.
    pub(crate) fn malformed(&mut self, hook: &'static str, message: String) -> PluginFault {
        self.poison(hook, Fault::Malformed(message))
    }

    pub(crate) async fn describe(&mut self) -> Result<Manifest, PluginFault> {
        guarded!(self, "describe", |guest, store| guest.call_describe(store))
    }

    pub(crate) async fn validate_config(
        &mut self,
        config: &str,
    ) -> Result<Result<(), String>, PluginFault> {
        guarded!(self, "validate-config", |guest, store| guest
            .call_validate_config(store, config))
    }

    async fn init(&mut self, session: Option<&Session>) -> Result<Result<(), String>, PluginFault> {
        guarded!(self, "init", |guest, store| guest.call_init(store, session))
    }

    pub async fn on_connect(&mut self) -> Result<ConnectVerdict, PluginFault> {
        guarded!(self, "on-connect", |guest, store| guest
            .call_on_connect(store))
    }

    /// The optional `query-filter` answer: the plugin's keywords, or `None`
    /// (every query) when it answers so or does not export the interface.
    pub(crate) async fn on_query_keywords(&mut self) -> Result<Option<Vec<String>>, PluginFault> {
        let Some(func) = self.keywords else {
            return Ok(None);
        };
        guarded!(self, "on-query-keywords", |_guest, store| async move {
            func.call_async(store, ()).await.map(|(keywords,)| keywords)
        })
    }

    pub async fn on_query(&mut self, query: &Query) -> Result<QueryVerdict, PluginFault> {
        guarded!(self, "on-query", |guest, store| guest
            .call_on_query(store, query))
    }

    pub async fn on_result_start(
        &mut self,
        query_id: u64,
        columns: &[Column],
    ) -> Result<ResultPlan, PluginFault> {
        guarded!(self, "on-result-start", |guest, store| guest
            .call_on_result_start(store, query_id, columns))
    }

    pub async fn on_result_rows(&mut self, batch: &RowBatch) -> Result<Vec<CellEdit>, PluginFault> {
        guarded!(self, "on-result-rows", |guest, store| guest
            .call_on_result_rows(store, batch))
    }

    pub async fn on_result_end(
        &mut self,
        summary: &ResultSummary,
    ) -> Result<Vec<Counter>, PluginFault> {
        guarded!(self, "on-result-end", |guest, store| guest
            .call_on_result_end(store, summary))
    }

    pub async fn on_disconnect(&mut self, summary: &SessionSummary) -> Result<(), PluginFault> {
        guarded!(self, "on-disconnect", |guest, store| guest
            .call_on_disconnect(store, *summary))
    }

    pub async fn on_review(&mut self, event: &ReviewEvent) -> Result<ReviewVerdict, PluginFault> {
        guarded!(self, "on-review", |guest, store| guest
            .call_on_review(store, event))
    }

    pub async fn on_audit_event(
        &mut self,
        event: &AuditEvent,
    ) -> Result<Result<(), String>, PluginFault> {
        guarded!(self, "on-audit-event", |guest, store| guest
            .call_on_audit_event(store, event))
    }
}

/// Run `call` under a tokio timeout of `limit` (the backstop for a call
/// stuck in an async host import, which the epoch cannot interrupt), set
/// only if the call does not finish on its first poll: most hook calls
/// do, and then neither the clock nor the timer wheel is touched. A call
/// that yields is polled first for at most about a tick (the epoch
/// callback yields every tick), so the backstop starts that much late.
async fn with_backstop<F: Future>(
    limit: Duration,
    call: F,
) -> Result<F::Output, tokio::time::error::Elapsed> {
    let mut call = std::pin::pin!(call);
    let first = std::future::poll_fn(|cx| Poll::Ready(call.as_mut().poll(cx))).await;
    match first {
        Poll::Ready(output) => Ok(output),
        Poll::Pending => tokio::time::timeout(limit, call).await,
    }
}

/// Name what went wrong: deadline, memory cap, panic (with its message) or
/// another trap.
fn classify_error(error: &wasmtime::Error, store: &Store<PluginState>, limits: Limits) -> Fault {
    if error.downcast_ref::<DeadlineExceeded>().is_some() {
        return Fault::Deadline(limits.deadline);
    }
    if let Some(cap) = error.downcast_ref::<MemoryCapExceeded>() {
        return Fault::MemoryCap(cap.cap);
    }
    let stderr = store.data().stderr_text();
    let trap = error
        .downcast_ref::<wasmtime::Trap>()
        .map(|t| t.to_string());
    let message = match (trap, stderr.is_empty()) {
        (_, false) => last_line(&stderr).to_string(),
        (Some(trap), true) => trap,
        (None, true) => format!("{error:#}"),
    };
    // A Rust guest whose allocator hit the cap aborts with this message.
    if message.contains("memory allocation of") {
        return Fault::MemoryCap(limits.memory_bytes);
    }
    Fault::Trap(message)
}

fn last_line(text: &str) -> &str {
    // Rust panics print "thread '…' panicked at file:line:col:\nmessage".
    let mut lines = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("note:"));
    let first = lines.next().unwrap_or(text);
    match lines.next() {
        Some(message) if first.contains("panicked at") => message,
        _ => first,
    }
}
