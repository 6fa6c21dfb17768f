//! Gatehouse's control-plane REST API, as an [`axum::Router`] the gateway
//! serves on its own listener.
//!
//! ```ignore
//! let state = ApiState::new(store, runtime, Arc::new(MyPgTester), "https://gatehouse.example.com");
//! let mut catalog_changes = state.changes.subscribe();   // rebuild the catalog on change
//! let app = gatehouse_api::router(state);
//! axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await?;
//! ```
//!
//! Invariants every route keeps:
//! * **One authorization table.** [`authz::ROUTES`] names each route's
//!   capability and [`authz::MATRIX`] what each role may do with it (all,
//!   own, nothing). A middleware consults both before any handler runs:
//!   anonymous → 401, a role without the capability → 403. Handlers only
//!   narrow "own" scopes; an object outside the caller's scope is a 404,
//!   exactly like one that does not exist, so existence never leaks. The
//!   router refuses to build with a route missing from the table.
//! * **Secrets are write-only.** Connection passwords are accepted (value
//!   or env/file reference) and never returned (`has_password` only);
//!   access tokens are shown once, when created. No request body is logged,
//!   and body errors quote no submitted value.
//! * **Every admin change is audited** by the store, with the caller's
//!   identity and client address ([`gatehouse_store::Actor`]).
//! * **Errors are JSON** with stable codes ([`error::CODES`]).
//! * **Catalog changes are signalled.** Every successful change to
//!   resources, connections, bindings or plugins bumps
//!   [`ApiState::changes`]; the gateway rebuilds its catalog on it (new
//!   sessions get the new plugin versions, running sessions keep theirs).
//!
//! The routes, the role matrix, error codes and authentication are
//! documented for clients in `docs/api.md`; the OpenAPI 3.1 document is
//! served at `GET /api/openapi.json` ([`openapi::document`]).

mod access;
mod authn;
pub mod authz;
pub mod error;
mod extract;
pub mod gateway;
mod handlers;
pub mod openapi;
mod routes;
mod state;
pub mod tester;

pub use authn::{SESSION_COOKIE, STATE_COOKIE};
pub use error::ApiError;
pub use gateway::{
    AccessRequest, ExecColumn, ExecFailure, ExecOutcome, ExecOutput, ExecRequest, ExecResult,
    GatewayError, QueryExecutor, ReviewDesk,
};
pub use routes::{registered_routes, router};
pub use state::ApiState;
pub use tester::{BoxFuture, ConnectionTester, TcpConnectTester, TestReport};
