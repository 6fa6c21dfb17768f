//! Glue used by the code that `#[gatehouse_sdk::plugin]` generates. Not a
//! public API: names here may change in any release.
//!
//! [`State`] is the per-instance state behind the exported functions: the
//! plugin value and the session it serves. Every hook that needs a plugin
//! before `init` succeeded answers with a deny (fail closed), never a panic.

pub use crate::bindings;
pub use crate::bindings::export_guest;
pub use crate::bindings::exports::gatehouse::plugin::guest::Guest;
pub use crate::bindings::exports::gatehouse::plugin::query_filter::Guest as QueryFilterGuest;

use crate::bindings::gatehouse::plugin::{host as wit_host, types::Manifest};
use crate::{
    AuditEvent, CellEdit, Column, ConnectVerdict, Counter, Plugin, Query, QueryVerdict, ResultPlan,
    ResultSummary, ReviewEvent, ReviewVerdict, RowBatch, Rows, Session, SessionSummary,
    config::parse_config,
};

/// The instance's plugin and session, once `init` succeeded.
pub struct State<P> {
    plugin: Option<P>,
    session: Option<Session>,
}

impl<P: Plugin> Default for State<P> {
    fn default() -> Self {
        Self {
            plugin: None,
            session: None,
        }
    }
}

const NOT_INITIALISED: &str = "plugin instance was not initialised (init failed or was not called)";

pub fn describe<P: Plugin>(name: &str, version: &str) -> Manifest {
    Manifest {
        name: name.to_string(),
        version: version.to_string(),
        description: P::DESCRIPTION.to_string(),
        hooks: P::HOOKS.to_vec(),
        capabilities: P::CAPABILITIES.to_vec(),
    }
}

pub fn validate_config<P: Plugin>(config: &str) -> Result<(), String> {
    let parsed: P::Config = parse_config(config).map_err(|e| e.to_string())?;
    P::validate(&parsed)
}

impl<P: Plugin> State<P> {
    /// Parse the config and build the plugin. `validate` is not repeated
    /// here: the host ran `validate-config` on this exact config when the
    /// binding was made, and `init` runs once per session.
    pub fn init(&mut self, session: Option<Session>) -> Result<(), String> {
        let config: P::Config = parse_config(&wit_host::config()).map_err(|e| e.to_string())?;
        self.plugin = Some(P::new(config)?);
        self.session = session;
        Ok(())
    }

    fn session_plugin(&mut self) -> Result<(&mut P, &Session), &'static str> {
        match (&mut self.plugin, &self.session) {
            (Some(plugin), Some(session)) => Ok((plugin, session)),
            (None, _) => Err(NOT_INITIALISED),
            (Some(_), None) => Err("session hook called on an instance without a session"),
        }
    }

    pub fn on_connect(&mut self) -> ConnectVerdict {
        match self.session_plugin() {
            Ok((plugin, session)) => plugin.on_connect(session),
            Err(reason) => ConnectVerdict::Deny(reason.into()),
        }
    }

    pub fn on_query(&mut self, query: Query) -> QueryVerdict {
        match self.session_plugin() {
            Ok((plugin, session)) => plugin.on_query(session, &query),
            Err(reason) => QueryVerdict::Deny(reason.into()),
        }
    }

    /// Without a plugin the safe answer is `None` (every query): `on_query`
    /// then denies each one.
    pub fn on_query_keywords(&mut self) -> Option<Vec<String>> {
        match self.session_plugin() {
            Ok((plugin, session)) => plugin.on_query_keywords(session),
            Err(_) => None,
        }
    }

    /// Without a plugin the safe answer is `Inspect`: the row hook then
    /// fails, and the host aborts the result instead of passing it unseen.
    pub fn on_result_start(&mut self, query_id: u64, columns: Vec<Column>) -> ResultPlan {
        match self.session_plugin() {
            Ok((plugin, session)) => plugin.on_result_start(session, query_id, &columns),
            Err(_) => ResultPlan::Inspect,
        }
    }

    pub fn on_result_rows(&mut self, batch: RowBatch) -> Vec<CellEdit> {
        let (plugin, session) = match self.session_plugin() {
            Ok(pair) => pair,
            // Trapping is the only way a row hook can refuse; the host turns
            // it into an aborted result.
            Err(reason) => panic!("{reason}"),
        };
        let mut rows = Rows::new(&batch);
        plugin.on_result_rows(session, &mut rows);
        rows.into_edits()
    }

    pub fn on_result_end(&mut self, summary: ResultSummary) -> Vec<Counter> {
        match self.session_plugin() {
            Ok((plugin, session)) => plugin.on_result_end(session, &summary),
            Err(_) => Vec::new(),
        }
    }

    pub fn on_disconnect(&mut self, summary: SessionSummary) {
        if let Ok((plugin, session)) = self.session_plugin() {
            plugin.on_disconnect(session, &summary);
        }
    }

    pub fn on_review(&mut self, event: ReviewEvent) -> ReviewVerdict {
        match &mut self.plugin {
            Some(plugin) => plugin.on_review(&event),
            None => ReviewVerdict::Reject(NOT_INITIALISED.into()),
        }
    }

    pub fn on_audit_event(&mut self, event: AuditEvent) -> Result<(), String> {
        match &mut self.plugin {
            Some(plugin) => plugin.on_audit_event(&event),
            None => Err(NOT_INITIALISED.into()),
        }
    }
}

/// Export `$plugin` (a type implementing [`Plugin`]) as this crate's
/// component. Normally emitted by `#[gatehouse_sdk::plugin]`; call it
/// yourself only if you set `Plugin::HOOKS` by hand.
///
/// The exports are compiled only for `wasm32`: a native build of a plugin
/// crate (for its unit tests) links cleanly and exports nothing.
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            use ::std::cell::RefCell;
            use $crate::__private as __gh;

            ::std::thread_local! {
                static __GATEHOUSE_STATE: RefCell<__gh::State<$plugin>> =
                    RefCell::new(::core::default::Default::default());
            }

            fn __with<R>(f: impl FnOnce(&mut __gh::State<$plugin>) -> R) -> R {
                __GATEHOUSE_STATE.with(|state| f(&mut state.borrow_mut()))
            }

            struct __GatehouseGuest;

            impl __gh::Guest for __GatehouseGuest {
                fn describe() -> __gh::bindings::gatehouse::plugin::types::Manifest {
                    __gh::describe::<$plugin>(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
                }
                fn validate_config(config: String) -> Result<(), String> {
                    __gh::validate_config::<$plugin>(&config)
                }
                fn init(session: Option<$crate::Session>) -> Result<(), String> {
                    __with(|s| s.init(session))
                }
                fn on_connect() -> $crate::ConnectVerdict {
                    __with(|s| s.on_connect())
                }
                fn on_query(query: $crate::Query) -> $crate::QueryVerdict {
                    __with(|s| s.on_query(query))
                }
                fn on_result_start(
                    query_id: u64,
                    columns: Vec<$crate::Column>,
                ) -> $crate::ResultPlan {
                    __with(|s| s.on_result_start(query_id, columns))
                }
                fn on_result_rows(batch: $crate::RowBatch) -> Vec<$crate::CellEdit> {
                    __with(|s| s.on_result_rows(batch))
                }
                fn on_result_end(summary: $crate::ResultSummary) -> Vec<$crate::Counter> {
                    __with(|s| s.on_result_end(summary))
                }
                fn on_disconnect(summary: $crate::SessionSummary) {
                    __with(|s| s.on_disconnect(summary))
                }
                fn on_review(event: $crate::ReviewEvent) -> $crate::ReviewVerdict {
                    __with(|s| s.on_review(event))
                }
                fn on_audit_event(event: $crate::AuditEvent) -> Result<(), String> {
                    __with(|s| s.on_audit_event(event))
                }
            }

            impl __gh::QueryFilterGuest for __GatehouseGuest {
                fn on_query_keywords() -> Option<Vec<String>> {
                    __with(|s| s.on_query_keywords())
                }
            }

    __gh::export_guest!(__GatehouseGuest with_types_in $crate::__private::bindings);
        };
    };
}
