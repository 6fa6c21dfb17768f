//! Starting the gateway: catalog, identities, session record and the
//! PostgreSQL listener, from one [`Config`].
//!
//! [`Gateway::start`] binds and returns at once (tests bind port 0 and read
//! the address back); [`Gateway::wait`] serves until the listener fails.
//! Startup fails, naming the cause, if any plugin, binding, certificate or
//! the listen address cannot be set up: a gateway never half-starts.

use crate::catalog::Catalog;
use crate::config::Config;
use crate::identity::Directory;
use crate::pg::{self, FrontDoor};
use crate::record::SessionRecorder;
use crate::workers::SessionWorkers;
use anyhow::Context;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub struct Gateway {
    /// Where the PostgreSQL front door listens.
    pub postgres_addr: SocketAddr,
    pub catalog: Arc<Catalog>,
    serving: JoinHandle<anyhow::Result<()>>,
    /// The threads sessions run on; dropped (and so stopped) with the
    /// gateway.
    _workers: Arc<SessionWorkers>,
}

impl Gateway {
    pub async fn start(
        config: &Config,
        recorder: Arc<dyn SessionRecorder>,
    ) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&config.gateway.state_dir).with_context(|| {
            format!(
                "creating state directory {}",
                config.gateway.state_dir.display()
            )
        })?;
        let catalog = Arc::new(Catalog::build(config).await?);
        let tls = pg::tls::server_config(
            config.postgres.tls_cert.as_deref(),
            config.postgres.tls_key.as_deref(),
            &config.gateway.state_dir,
        )?;
        let listener = TcpListener::bind(&config.postgres.listen)
            .await
            .with_context(|| format!("listening on {}", config.postgres.listen))?;
        let postgres_addr = listener.local_addr()?;
        let door = Arc::new(FrontDoor {
            catalog: catalog.clone(),
            directory: Arc::new(Directory::from_users(&config.users)),
            recorder,
            tls: Some(tls),
            allow_plaintext_off_loopback: config.postgres.allow_plaintext_password_off_loopback,
            cancels: Default::default(),
        });
        let threads = config
            .gateway
            .session_threads
            .unwrap_or_else(crate::workers::default_threads);
        let workers = Arc::new(
            SessionWorkers::start(threads).context("starting the session worker threads")?,
        );
        let serving = tokio::spawn(pg::serve(listener, door, workers.clone()));
        Ok(Self {
            postgres_addr,
            catalog,
            serving,
            _workers: workers,
        })
    }

    /// Serve until the listener fails (or the task is aborted).
    pub async fn wait(mut self) -> anyhow::Result<()> {
        (&mut self.serving)
            .await
            .context("the PostgreSQL listener stopped")?
    }

    /// Stop accepting clients.
    pub fn stop(&self) {
        self.serving.abort();
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.serving.abort();
    }
}
