//! Serving the control plane's REST API (`gatehouse-api`) from the gateway
//! process, and what only the gateway can offer it: testing a connection
//! by logging in to its upstream with the connection's own credentials.
//!
//! The API shares the gateway's store and runtime, and bumps the gateway's
//! change signal after every change to resources, connections, bindings or
//! plugins, which rebuilds the catalog (new sessions see the change at once).
//!
//! **Failure modes.** A listen address that cannot be bound, or an OIDC
//! provider that cannot be discovered at startup, fails startup with the
//! cause. A connection test never returns or logs the password: errors
//! name the address and the server's message only.

use crate::config::Config;
use crate::exec::Executor;
use crate::pg::upstream::{self, UpstreamConfig};
use crate::reviews::Workflow;
use anyhow::Context;
use gatehouse_api::{ApiState, BoxFuture, ConnectionTester, TestReport};
use gatehouse_runtime::Runtime;
use gatehouse_store::Store;
use gatehouse_store::connections::{Connection, Credentials};
use gatehouse_store::resources::ResourceKind;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Tests PostgreSQL connections with a real login; other kinds by TCP.
pub struct UpstreamTester;

impl ConnectionTester for UpstreamTester {
    fn test<'a>(
        &'a self,
        connection: &'a Connection,
        credentials: Credentials,
    ) -> BoxFuture<'a, Result<TestReport, String>> {
        Box::pin(async move {
            if connection.kind != ResourceKind::Postgres {
                return gatehouse_api::TcpConnectTester::default()
                    .test(connection, credentials)
                    .await;
            }
            let config = UpstreamConfig::from_credentials(&credentials);
            let user = config.user.clone();
            drop(credentials);
            let upstream = upstream::connect(&config)
                .await
                .map_err(|err| format!("{}: {err}", config.address))?;
            let version = upstream
                .parameters
                .iter()
                .find(|(name, _)| name == "server_version")
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
            let tls = if upstream.stream.is_tls() {
                "TLS"
            } else {
                "plain TCP"
            };
            Ok(TestReport {
                detail: format!("logged in as {user} over {tls}; PostgreSQL {version}"),
            })
        })
    }
}

/// What the gateway does for the API beyond the store: review decisions
/// and access requests, and exec.
pub struct GatewayServices {
    pub reviews: Arc<Workflow>,
    pub executor: Arc<Executor>,
}

/// Bind the API listener and serve the router until the task is aborted.
pub async fn serve(
    config: &Config,
    store: Store,
    runtime: Arc<Runtime>,
    changes: watch::Sender<u64>,
    services: GatewayServices,
) -> anyhow::Result<(SocketAddr, JoinHandle<()>)> {
    let listener = TcpListener::bind(&config.api.listen)
        .await
        .with_context(|| format!("listening for the API on {}", config.api.listen))?;
    let address = listener.local_addr()?;
    let public_url = config
        .api
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{address}"));
    let mut state = ApiState::new(store, runtime, Arc::new(UpstreamTester), public_url);
    state.changes = changes;
    state.reviews = Some(services.reviews);
    state.executor = Some(services.executor);
    if let Some(oidc) = &config.oidc {
        let client = gatehouse_oidc::OidcClient::discover(oidc.clone())
            .await
            .with_context(|| format!("discovering the OIDC provider {}", oidc.issuer))?;
        state = state.with_oidc(client);
    }
    let app = gatehouse_api::router(state)
        .merge(crate::review_page::routes())
        .into_make_service_with_connect_info::<SocketAddr>();
    let serving = tokio::spawn(async move {
        if let Err(err) = axum::serve(listener, app).await {
            tracing::error!(error = %err, "the API listener stopped");
        }
    });
    Ok((address, serving))
}
