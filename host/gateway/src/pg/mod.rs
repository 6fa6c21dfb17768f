//! The PostgreSQL front door: clients connect with the tools they already
//! use (psql, drivers, ORMs); the gateway decides with the connection's
//! plugins and relays to the real server with credentials the user never
//! sees.
//!
//! * [`wire`]: the protocol v3 message codec (frontend, backend, startup).
//! * [`upstream`]: logging in to the real server (SCRAM, md5, cleartext,
//!   trust; TCP or TLS).
//! * [`handshake`]: TLS negotiation, authentication, connection choice.
//! * [`session`]: one session's query loop and result path ([`results`]);
//!   the extended protocol's statement registry and reply queue: [`extended`].
//! * [`cancel`]: gateway-issued cancel keys mapped to upstream ones.
//! * [`serve`]: the accept loop; one task and one tracing span per client,
//!   pinned to one session worker thread ([`crate::workers`]).

mod audited;
pub mod cancel;
pub mod extended;
pub mod handshake;
pub mod reply;
pub mod results;
pub mod session;
pub mod stream;
pub mod tls;
pub mod types;
pub mod upstream;
pub mod wire;

use crate::catalog::CatalogHandle;
use crate::record::SessionRecorder;
use crate::workers::SessionWorkers;
use std::sync::Arc;
use tokio::net::TcpListener;
use tracing::Instrument;

/// What every PostgreSQL session shares.
pub struct FrontDoor {
    pub catalog: Arc<CatalogHandle>,
    pub store: gatehouse_store::Store,
    pub runtime: Arc<gatehouse_runtime::Runtime>,
    /// Audit events, durable before what they record is acknowledged
    /// (`audited.rs`).
    pub audit: crate::audit::AuditLog,
    /// `[audit] allowed_queries`.
    pub audit_allowed_queries: bool,
    pub recorder: Arc<dyn SessionRecorder>,
    /// TLS for clients that ask for it; `None` answers `N` to SSLRequest.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    pub allow_plaintext_off_loopback: bool,
    pub cancels: cancel::CancelRegistry,
    /// The review workflow: held queries, JIT admission.
    pub reviews: Arc<crate::reviews::Workflow>,
}

/// Accept clients until the listener fails. Each session runs on one of
/// `workers` for its whole life (see [`crate::workers`]).
pub async fn serve(
    listener: TcpListener,
    door: Arc<FrontDoor>,
    workers: Arc<SessionWorkers>,
) -> anyhow::Result<()> {
    loop {
        let (socket, peer) = listener.accept().await?;
        let _ = socket.set_nodelay(true);
        // Moved across threads as a plain socket and registered again with
        // the chosen worker's reactor when its task first runs.
        let socket = match socket.into_std() {
            Ok(socket) => socket,
            Err(err) => {
                tracing::debug!(client = %peer, error = %err, "could not hand over the socket");
                continue;
            }
        };
        let door = door.clone();
        let span = tracing::info_span!("pg", client = %peer, session = tracing::field::Empty);
        workers.spawn(
            async move {
                let socket = match tokio::net::TcpStream::from_std(socket) {
                    Ok(socket) => socket,
                    Err(err) => {
                        tracing::debug!(error = %err, "could not adopt the socket");
                        return;
                    }
                };
                let outcome = tokio::time::timeout(
                    handshake::HANDSHAKE_TIMEOUT,
                    handshake::handshake(socket, peer, &door),
                )
                .await;
                let admitted = match outcome {
                    Ok(Ok(handshake::Outcome::Admitted(admitted))) => *admitted,
                    Ok(Ok(handshake::Outcome::Done)) => return,
                    Ok(Err(err)) => {
                        tracing::debug!(error = %err, "handshake ended");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!("handshake timed out");
                        return;
                    }
                };
                if let Err(err) = session::run(admitted, peer, &door).await {
                    tracing::debug!(error = %err, "session ended with an error");
                }
            }
            .instrument(span),
        );
    }
}
