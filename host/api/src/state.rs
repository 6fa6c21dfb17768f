//! What the API works with ([`ApiState`], given by the gateway) and the
//! shared per-process state built from it ([`App`]).
//!
//! The change signal: [`ApiState::changes`] is a `watch` channel whose
//! value counts catalog changes. Handlers bump it after a change to
//! resources, connections, bindings or plugins has committed (never
//! before, never on failure); the gateway subscribes before handing the
//! state over and rebuilds its catalog whenever the value moves. Several
//! quick changes may coalesce into one wake-up, which is fine: the gateway
//! reads the store, not the counter.

use crate::gateway::{QueryExecutor, ReviewDesk};
use crate::tester::ConnectionTester;
use gatehouse_oidc::{OidcClient, PendingLogins};
use gatehouse_runtime::Runtime;
use gatehouse_store::Store;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Everything the API needs from the gateway.
pub struct ApiState {
    /// The control-plane store.
    pub store: Store,
    /// The plugin runtime: uploaded components are loaded (and their
    /// `describe` read) and bindings validated (`validate-config`) with it.
    pub runtime: Arc<Runtime>,
    /// OIDC, when configured: `/auth/login`, `/auth/callback` and bearer
    /// JWTs. Groups map to roles by the client's `[oidc.roles]`
    /// ([`gatehouse_oidc::RoleMapping`]). `None`: local tokens only.
    pub oidc: Option<OidcClient>,
    /// Tests a connection's upstream login (`POST /api/connections/{name}/test`).
    pub tester: Arc<dyn ConnectionTester>,
    /// Bumped after every committed change to resources, connections,
    /// bindings or plugins. Subscribe before calling [`crate::router`].
    pub changes: watch::Sender<u64>,
    /// Where browsers reach the API, without a trailing slash
    /// (`https://gatehouse.example.com`): the OIDC redirect URL is
    /// `{public_url}/auth/callback`, and cookies are `Secure` when it is
    /// `https://`.
    pub public_url: String,
    /// Lifetime of the access token a browser login mints (its cookie).
    pub web_session_ttl: Duration,
    /// Default lifetime of tokens from `POST /api/auth/token`.
    pub cli_token_ttl: Duration,
    /// Review decisions, revocations and access requests (the gateway's
    /// review workflow). `None`: those routes answer 501.
    pub reviews: Option<Arc<dyn ReviewDesk>>,
    /// Runs `POST /api/connections/{name}/exec`. `None`: 501.
    pub executor: Option<Arc<dyn QueryExecutor>>,
}

/// Longest token lifetime `POST /api/auth/token` grants.
pub const MAX_EXCHANGED_TOKEN_TTL: Duration = Duration::from_secs(366 * 24 * 3600);

impl ApiState {
    /// A state with no OIDC, a fresh change channel, 12-hour browser
    /// sessions and 30-day CLI tokens.
    pub fn new(
        store: Store,
        runtime: Arc<Runtime>,
        tester: Arc<dyn ConnectionTester>,
        public_url: impl Into<String>,
    ) -> Self {
        ApiState {
            store,
            runtime,
            oidc: None,
            tester,
            changes: watch::channel(0).0,
            public_url: public_url.into().trim_end_matches('/').to_string(),
            web_session_ttl: Duration::from_secs(12 * 3600),
            cli_token_ttl: Duration::from_secs(30 * 24 * 3600),
            reviews: None,
            executor: None,
        }
    }

    /// With OIDC login and bearer JWTs.
    pub fn with_oidc(mut self, client: OidcClient) -> Self {
        self.oidc = Some(client);
        self
    }
}

/// The router's shared state.
pub(crate) struct App {
    pub api: ApiState,
    /// Browser logins in progress (in memory, single use, expiring).
    pub logins: PendingLogins,
    /// Whether cookies carry `Secure` (the public URL is https).
    pub secure_cookies: bool,
}

pub(crate) type AppState = Arc<App>;

impl App {
    pub fn new(api: ApiState) -> Self {
        let secure_cookies = api.public_url.starts_with("https://");
        App {
            api,
            logins: PendingLogins::default(),
            secure_cookies,
        }
    }

    pub fn store(&self) -> &Store {
        &self.api.store
    }

    /// Signals a committed catalog change.
    pub fn changed(&self) {
        self.api.changes.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// `{public_url}/auth/callback`.
    pub fn redirect_url(&self) -> String {
        format!("{}/auth/callback", self.api.public_url)
    }
}
