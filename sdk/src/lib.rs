//! # Gatehouse plugin SDK
//!
//! A Gatehouse plugin is a WebAssembly component that the gateway calls at
//! policy decision points: when a session connects, for every query, over
//! batches of result rows, on review transitions and on audit events. This
//! crate is everything a plugin author needs:
//!
//! * the [`Plugin`] trait, with a default for every hook, so a plugin
//!   implements only what it decides;
//! * the [`plugin`] attribute, which records which hooks the impl overrides
//!   (the host calls nothing else) and exports the component;
//! * the types of the contract ([`Session`], [`Query`], [`QueryVerdict`] …),
//!   re-exported so that authors never touch `wit-bindgen`;
//! * typed configuration: `Plugin::Config` is parsed from the admin's JSON
//!   with serde, and a bad config is reported with the path of the bad field;
//! * host services: [`log`], [`now_millis`], [`http`], [`kv`]; checks for
//!   plugins that POST to a configured URL: [`webhook`];
//! * with the `harness` feature, [`harness`]: run the plugin in the real
//!   Gatehouse runtime from `cargo test`.
//!
//! ```ignore
//! use gatehouse_sdk::prelude::*;
//!
//! #[derive(serde::Deserialize)]
//! struct Config { blocked_word: String }
//!
//! struct NoBadWords { config: Config }
//!
//! #[gatehouse_sdk::plugin]
//! impl Plugin for NoBadWords {
//!     type Config = Config;
//!     fn new(config: Config) -> Result<Self, String> { Ok(Self { config }) }
//!     fn on_query(&mut self, _session: &Session, query: &Query) -> QueryVerdict {
//!         if query.text.contains(&self.config.blocked_word) {
//!             QueryVerdict::Deny("that word is not allowed here".into())
//!         } else {
//!             QueryVerdict::Allow
//!         }
//!     }
//! }
//! ```
//!
//! Invariants the host guarantees (and the SDK relies on): one instance
//! serves one session; `init` runs before any hook; hooks of one instance are
//! never called concurrently.

#[doc(hidden)]
pub mod bindings;
mod config;
mod host;
mod plugin;
mod rows;
pub mod webhook;

#[doc(hidden)]
pub mod __private;

#[cfg(all(feature = "harness", not(target_arch = "wasm32")))]
pub mod harness;

pub use config::{ConfigError, parse_config};
pub use gatehouse_sdk_macros::plugin;
pub use host::{LogLevel, http, kv, log, now_millis};
pub use plugin::{MAX_QUERY_KEYWORDS, Plugin, is_query_keyword};
pub use rows::{Cell, Rows};

pub use bindings::gatehouse::plugin::types::{
    AuditEvent, AuditOutcome, Capability, CellEdit, CellFormat, Column, ConnectVerdict, Connection,
    ConnectionKind, Counter, Hook, Identity, ParamValue, Query, QueryProtocol, QueryVerdict,
    ResultPlan, ResultSummary, Review, ReviewDecision, ReviewEvent, ReviewKind, ReviewRequest,
    ReviewState, ReviewTransition, ReviewVerdict, Role, RowBatch, Session, SessionSummary,
    SessionVerb,
};

/// The names most plugins need, in one import.
pub mod prelude {
    pub use crate::{
        Capability, Cell, Column, ConnectVerdict, Counter, Hook, Identity, Plugin, Query,
        QueryProtocol, QueryVerdict, ResultPlan, ResultSummary, ReviewEvent, ReviewRequest,
        ReviewVerdict, Role, Rows, Session, SessionSummary, log,
    };
}
