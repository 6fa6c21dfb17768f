//! Starting the gateway from one [`Config`]: the store (with the file
//! applied into it), the plugin runtime, the catalog of connections, the
//! session record, the PostgreSQL listener and the REST API.
//!
//! [`Gateway::start`] binds and returns at once (tests bind port 0 and read
//! the address back); [`Gateway::wait`] serves until the listener fails.
//! Startup fails, naming the cause, if the store cannot be opened, the file
//! cannot be applied, a connection the file declares cannot set up its
//! plugins, an audit sink cannot be set up, or a listener cannot bind: a
//! gateway never half-starts.
//! Connections created through the API that are broken only log a warning
//! (clients of those are refused with the reason).
//!
//! **Reloads.** The catalog is rebuilt when [`Gateway::changed`] is bumped
//! (the API does after every change to connections, plugins or bindings)
//! and when the store's audit sequence moves (another node sharing the
//! store changed something), checked every [`POLL_INTERVAL`].

use crate::apply;
use crate::audit::AuditPipeline;
use crate::catalog::{Catalog, CatalogHandle, PluginCache};
use crate::config::Config;
use crate::exec::Executor;
use crate::pg::{self, FrontDoor};
use crate::record::{Fanout, SessionRecorder, StoreRecorder};
use crate::reviews::Workflow;
use crate::workers::SessionWorkers;
use anyhow::Context;
use gatehouse_runtime::{Runtime, RuntimeSettings};
use gatehouse_store::users::NewUser;
use gatehouse_store::{Actor, Role, Secret, Store, StoreOptions};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How often the store is checked for changes made by other nodes.
pub const POLL_INTERVAL: Duration = Duration::from_secs(2);

/// The store URL variable (used when the file sets no `gateway.store_url`).
pub const STORE_URL_ENV: &str = "GATEHOUSE_STORE_URL";

/// The administrator created on first start, with its one-time token.
pub struct BootstrapAdmin {
    pub email: String,
    pub token: Secret,
}

pub struct Gateway {
    /// Where the PostgreSQL front door listens.
    pub postgres_addr: SocketAddr,
    /// Where the REST API listens.
    pub api_addr: SocketAddr,
    pub store: Store,
    pub runtime: Arc<Runtime>,
    pub catalog: Arc<CatalogHandle>,
    /// Set on the first start of an empty store.
    pub bootstrap: Option<BootstrapAdmin>,
    /// Bump to rebuild the catalog from the store.
    pub changed: watch::Sender<u64>,
    pub recorder: Arc<StoreRecorder>,
    /// The audit log writer, its sink deliverers and retention.
    pub audit: AuditPipeline,
    /// The review workflow (held queries, JIT access, decisions, expiry).
    pub reviews: Arc<Workflow>,
    /// Runs exec queries (API) and held ones once approved.
    pub executor: Arc<Executor>,
    /// The review sweeper and the runner of approved exec queries.
    review_tasks: [JoinHandle<()>; 2],
    cache: PluginCache,
    serving: JoinHandle<anyhow::Result<()>>,
    reloading: JoinHandle<()>,
    api: JoinHandle<()>,
    /// The threads sessions run on; dropped (and so stopped) with the
    /// gateway.
    _workers: Arc<SessionWorkers>,
}

/// Settings of the runtime the configuration asks for.
pub fn runtime_settings(config: &Config) -> RuntimeSettings {
    let mut settings = RuntimeSettings::default();
    settings.engine.max_instances = config.runtime.max_instances;
    settings.engine.max_memory_bytes = (config.runtime.max_memory_mb as usize) << 20;
    settings.cache_dir = Some(
        config
            .runtime
            .cache_dir
            .clone()
            .unwrap_or_else(|| config.gateway.state_dir.join("compiled")),
    );
    settings.http_ca_file = config.runtime.http_ca_file.clone();
    settings
}

/// Open the store the configuration names (creating the state directory).
pub async fn open_store(config: &Config) -> anyhow::Result<Store> {
    let state_dir = &config.gateway.state_dir;
    std::fs::create_dir_all(state_dir)
        .with_context(|| format!("creating state directory {}", state_dir.display()))?;
    let url = config
        .gateway
        .store_url
        .clone()
        .or_else(|| std::env::var(STORE_URL_ENV).ok());
    let mut options = StoreOptions::new(url.clone().unwrap_or_default());
    options.sqlite_synchronous = config.gateway.store_synchronous;
    let store = match url {
        None => Store::open_default_with(state_dir, options).await,
        Some(_) => {
            let keys =
                gatehouse_store::SecretKeys::load(state_dir).context("loading the secret key")?;
            Store::open_with(options, keys).await
        }
    };
    store.context("opening the store")
}

/// The runtime, the store with the file applied, and the catalog: what both
/// `serve` and `check` need.
pub async fn prepare(
    config: &Config,
) -> anyhow::Result<(Arc<Runtime>, Store, PluginCache, Catalog)> {
    let runtime = Arc::new(Runtime::new(runtime_settings(config))?);
    let store = open_store(config).await?;
    let loaded = apply::apply(config, &store, &runtime)
        .await
        .context("applying the configuration file into the store")?;
    let cache = PluginCache::default();
    for plugin in loaded {
        cache.insert(plugin);
    }
    let catalog = Catalog::load(&store, &runtime, &cache).await?;
    for resource in &config.resources {
        for role in &resource.roles {
            let name = format!("{}.{}", resource.name, role.name);
            if let Some(Err(reason)) = catalog.connections.get(&name).map(|e| &e.pipeline) {
                anyhow::bail!("connection '{name}': {reason}");
            }
        }
    }
    for (name, reason) in catalog.unavailable() {
        tracing::warn!(connection = name, %reason, "connection unavailable until fixed");
    }
    Ok((runtime, store, cache, catalog))
}

/// Create the first administrator if the store has none.
async fn bootstrap_admin(store: &Store, email: &str) -> anyhow::Result<Option<BootstrapAdmin>> {
    let users = store.users().list().await?;
    if users.iter().any(|u| u.role == Role::Admin && !u.disabled) {
        return Ok(None);
    }
    let actor = Actor::system("bootstrap");
    let admin = match users.iter().find(|u| u.email == email.to_lowercase()) {
        Some(existing) => {
            store
                .users()
                .update(
                    &actor,
                    existing.id,
                    gatehouse_store::users::UserUpdate {
                        role: Some(Role::Admin),
                        disabled: Some(false),
                        ..Default::default()
                    },
                )
                .await?
        }
        None => {
            store
                .users()
                .create(&actor, NewUser::new(email, Role::Admin))
                .await?
        }
    };
    let name = format!("bootstrap-{}", std::process::id());
    let (_, token) = store.tokens().create(&actor, admin.id, &name, None).await?;
    Ok(Some(BootstrapAdmin {
        email: admin.email,
        token,
    }))
}

impl Gateway {
    /// Start serving. `recorder` gets every session event besides the
    /// store (tests pass a [`crate::record::MemoryRecorder`]).
    pub async fn start(
        config: &Config,
        recorder: Arc<dyn SessionRecorder>,
    ) -> anyhow::Result<Self> {
        let (runtime, store, cache, catalog) = prepare(config).await?;
        let bootstrap = bootstrap_admin(&store, &config.gateway.admin_email)
            .await
            .context("creating the first administrator")?;
        let catalog = Arc::new(CatalogHandle::new(catalog));
        let tls = pg::tls::server_config(
            config.postgres.tls_cert.as_deref(),
            config.postgres.tls_key.as_deref(),
            &config.gateway.state_dir,
        )?;
        let listener = TcpListener::bind(&config.postgres.listen)
            .await
            .with_context(|| format!("listening on {}", config.postgres.listen))?;
        let postgres_addr = listener.local_addr()?;
        let store_recorder = Arc::new(StoreRecorder::start(store.clone()));
        let node = crate::audit::NodeOptions {
            state_dir: Some(config.gateway.state_dir.clone()),
            ..Default::default()
        };
        let audit =
            AuditPipeline::start_with(&config.audit, &config.sessions, &store, &runtime, node)
                .await
                .context("starting the audit pipeline")?;
        let session_recorder: Arc<dyn SessionRecorder> =
            Arc::new(Fanout(vec![store_recorder.clone(), recorder]));
        // The API's public URL is known once it listens (set below).
        let (reviews, owed_runs) = Workflow::new(
            store.clone(),
            runtime.clone(),
            catalog.clone(),
            config.reviews.clone(),
            config.api.public_url.clone().unwrap_or_default(),
        );
        let executor = Arc::new(Executor::new(
            catalog.clone(),
            store.clone(),
            runtime.clone(),
            session_recorder.clone(),
            reviews.clone(),
            config.exec.clone(),
            audit.log.clone(),
            audit.allowed_queries,
        ));
        let door = Arc::new(FrontDoor {
            catalog: catalog.clone(),
            store: store.clone(),
            runtime: runtime.clone(),
            audit: audit.log.clone(),
            audit_allowed_queries: audit.allowed_queries,
            recorder: session_recorder,
            tls: Some(tls),
            allow_plaintext_off_loopback: config.postgres.allow_plaintext_password_off_loopback,
            cancels: Default::default(),
            reviews: reviews.clone(),
        });
        let threads = config
            .gateway
            .session_threads
            .unwrap_or_else(crate::workers::default_threads);
        let workers = Arc::new(
            SessionWorkers::start(threads, config.gateway.pin_session_threads)
                .context("starting the session worker threads")?,
        );
        let serving = tokio::spawn(pg::serve(listener, door, workers.clone()));
        let (changed, watching) = watch::channel(0u64);
        let (api_addr, api) = crate::api::serve(
            config,
            store.clone(),
            runtime.clone(),
            changed.clone(),
            crate::api::GatewayServices {
                reviews: reviews.clone(),
                executor: executor.clone(),
            },
        )
        .await?;
        reviews.set_gateway_url(
            &config
                .api
                .public_url
                .clone()
                .unwrap_or_else(|| format!("http://{api_addr}")),
        );
        let review_tasks = [
            reviews.spawn_sweeper(),
            crate::exec::spawn_runner(executor.clone(), owed_runs),
        ];
        let reloading = tokio::spawn(reload_loop(
            store.clone(),
            runtime.clone(),
            cache.clone(),
            catalog.clone(),
            watching,
        ));
        Ok(Self {
            postgres_addr,
            api_addr,
            api,
            store,
            runtime,
            catalog,
            bootstrap,
            changed,
            recorder: store_recorder,
            audit,
            reviews,
            executor,
            review_tasks,
            cache,
            serving,
            reloading,
            _workers: workers,
        })
    }

    /// Rebuild the catalog from the store now (the next session sees the
    /// result; live sessions keep theirs).
    pub async fn reload(&self) -> anyhow::Result<()> {
        let rebuilt = Catalog::load(&self.store, &self.runtime, &self.cache).await?;
        self.catalog.replace(rebuilt);
        Ok(())
    }

    /// Serve until the listener fails (or the task is aborted).
    pub async fn wait(&mut self) -> anyhow::Result<()> {
        (&mut self.serving)
            .await
            .context("the PostgreSQL listener stopped")?
    }

    /// Stop accepting clients.
    pub fn stop(&self) {
        self.serving.abort();
        self.reloading.abort();
        self.api.abort();
        self.review_tasks.iter().for_each(JoinHandle::abort);
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.serving.abort();
        self.reloading.abort();
        self.api.abort();
        self.review_tasks.iter().for_each(JoinHandle::abort);
    }
}

/// Whether an admin change was committed after audit sequence `seen`
/// (sessions, queries and logins also write audit events; they change
/// nothing the catalog holds). Moves `seen` forward.
async fn admin_changed_since(store: &Store, seen: &mut i64) -> bool {
    match store.audit().admin_changed_after(*seen).await {
        Ok((changed, latest)) => {
            *seen = latest;
            changed
        }
        Err(err) => {
            tracing::warn!(error = %err, "polling the store for changes failed");
            false
        }
    }
}

/// Rebuild the catalog on every signalled change and whenever another node
/// sharing the store changed something.
async fn reload_loop(
    store: Store,
    runtime: Arc<Runtime>,
    cache: PluginCache,
    catalog: Arc<CatalogHandle>,
    mut changes: watch::Receiver<u64>,
) {
    let mut seen = store.audit().latest_sequence().await.unwrap_or(0);
    loop {
        tokio::select! {
            changed = changes.changed() => {
                if changed.is_err() {
                    return;
                }
                // Our own change: skip past its audit rows.
                let _ = admin_changed_since(&store, &mut seen).await;
            }
            _ = tokio::time::sleep(POLL_INTERVAL) => {
                if !admin_changed_since(&store, &mut seen).await {
                    continue;
                }
            }
        }
        match Catalog::load(&store, &runtime, &cache).await {
            Ok(rebuilt) => {
                for (name, reason) in rebuilt.unavailable() {
                    tracing::warn!(connection = name, %reason, "connection unavailable until fixed");
                }
                catalog.replace(rebuilt);
                tracing::info!("catalog reloaded from the store");
            }
            Err(err) => {
                tracing::error!(error = %format!("{err:#}"), "reloading the catalog failed; keeping the previous one")
            }
        }
    }
}
