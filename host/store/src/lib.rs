//! The Gatehouse control plane's store: users, groups and access tokens,
//! resources and their roles (connections) with sealed credentials, plugins
//! and their bindings, sessions and their events, reviews, and the audit
//! log with its delivery state, on an SQLite file (the embedded default) or
//! PostgreSQL (several gateway nodes sharing state).
//!
//! ```no_run
//! # async fn demo() -> Result<(), gatehouse_store::StoreError> {
//! use gatehouse_store::{Actor, Store, resources::{NewResource, ResourceKind}};
//! let store = Store::open_default(".gatehouse".as_ref()).await?;
//! let admin = Actor::system("config");
//! store.resources().create(&admin, NewResource::new("billing-db", ResourceKind::Postgres, "db:5432")).await?;
//! # Ok(()) }
//! ```
//!
//! Invariants every repository keeps:
//! * **One transaction per change, audited.** Each mutating call takes an
//!   [`Actor`] and writes its audit row (action, target, before/after) in the
//!   same transaction as the change: both land or neither does. Session
//!   recording and audit delivery bookkeeping are the exceptions (they are
//!   the record, not changes to it).
//! * **Secrets are write-only.** Connection passwords are sealed
//!   (ChaCha20-Poly1305) before they reach SQL; reads report `has_password`;
//!   only [`connections::Connections::resolve_credentials`] opens them.
//!   Binding secrets (secret plugin config keys) are sealed the same way;
//!   reads report `secrets_set` (names); they are opened only to be merged
//!   into the config a plugin is instantiated with
//!   ([`bindings::Bindings::resolve`]).
//!   Tokens are stored as SHA-256 only. No public type prints a secret in
//!   `Debug`, and before/after audit JSON is built from the public
//!   (secret-free) types.
//! * **Monotonic audit sequence.** Audit rows are numbered by an
//!   autoincrement/identity column and, on PostgreSQL, appended under a
//!   transaction-scoped advisory lock, so sequence order is commit order and
//!   a reader following "events after N" never skips one.
//! * **Typed errors.** [`StoreError`] variants map to stable API codes.

pub mod actor;
mod appender;
pub mod audit;
mod audit_append;
mod binding_secrets;
pub mod bindings;
pub mod connections;
mod crypto;
mod db;
mod error;
pub mod groups;
mod migrate;
pub mod page;
pub mod plugins;
pub mod resources;
pub mod reviews;
mod schema;
pub mod sessions;
pub mod tokens;
pub mod users;

pub use actor::{Actor, Identity, Role};
pub use crypto::{SECRET_KEY_ENV, SECRET_KEY_FILE, Secret, SecretKeys, SecretRef};
pub use db::Backend;
pub use error::{Result, StoreError};
pub use page::{Page, PageRequest};

use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Executor};
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// File name of the embedded SQLite store in the state directory.
pub const SQLITE_FILE: &str = "store.db";

/// How to open a store.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// `sqlite://PATH?mode=rwc` or `postgres://user@host:port/db`.
    pub url: String,
    /// Pool size (default 8; an in-memory SQLite store always uses 1).
    pub max_connections: u32,
    /// How long a call waits for a pooled connection (default 10 s).
    pub acquire_timeout: Duration,
    /// When an SQLite file commit reaches the disk (ignored on PostgreSQL,
    /// whose server decides).
    pub sqlite_synchronous: SqliteSynchronous,
}

impl StoreOptions {
    pub fn new(url: impl Into<String>) -> Self {
        StoreOptions {
            url: url.into(),
            max_connections: 8,
            acquire_timeout: Duration::from_secs(10),
            sqlite_synchronous: SqliteSynchronous::default(),
        }
    }
}

/// SQLite's `synchronous` setting for the store file (in WAL mode).
///
/// * `Normal` (the default): a commit is written to the write-ahead log
///   before it returns, without waiting for the disk to flush it. A
///   process that dies at any instant (a crash, `kill -9`) loses no commit;
///   a power failure or kernel crash can roll back the last commits.
/// * `Full`: every commit also waits for `fsync` of the log (≈ 130 µs on
///   the reference machine, per commit group), so commits survive power
///   loss too.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SqliteSynchronous {
    #[default]
    Normal,
    Full,
}

impl SqliteSynchronous {
    pub(crate) fn pragma(self) -> &'static str {
        match self {
            SqliteSynchronous::Normal => "PRAGMA synchronous = NORMAL",
            SqliteSynchronous::Full => "PRAGMA synchronous = FULL",
        }
    }
}

/// A handle on the store. Cheap to clone (the pool and keys are shared).
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    /// The hot appends (the audit log's group commit, the session record's
    /// batches) on an SQLite file: a connection of their own, on a thread
    /// of its own ([`appender`]), so its page cache stays warm (SQLite
    /// drops a connection's cache whenever another connection wrote) and
    /// those writes never queue behind API readers for a connection.
    /// `None` on PostgreSQL and in memory: the pool's statements.
    appender: Option<Arc<appender::Appender>>,
    backend: Backend,
    keys: Arc<SecretKeys>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .field("key_id", &self.keys.current_id())
            .finish()
    }
}

impl Store {
    /// The default URL: an SQLite file in `state_dir`.
    pub fn default_url(state_dir: &Path) -> String {
        let path = std::path::absolute(state_dir.join(SQLITE_FILE))
            .unwrap_or_else(|_| state_dir.join(SQLITE_FILE));
        // SQLite URLs are percent-decoded: escape what would be misread.
        let path = path
            .to_string_lossy()
            .replace('%', "%25")
            .replace('?', "%3F")
            .replace('#', "%23");
        format!("sqlite://{path}?mode=rwc")
    }

    /// The embedded default: `state_dir/store.db` (created with the
    /// directory when missing), keys from `GATEHOUSE_SECRET_KEY` or
    /// `state_dir/secret.key` (generated on first start).
    pub async fn open_default(state_dir: &Path) -> Result<Store> {
        Store::open_default_with(state_dir, StoreOptions::new("")).await
    }

    /// [`Store::open_default`] with options (its URL is replaced).
    pub async fn open_default_with(state_dir: &Path, mut options: StoreOptions) -> Result<Store> {
        std::fs::create_dir_all(state_dir).map_err(|e| {
            StoreError::invalid(format!(
                "creating state directory {}: {e}",
                state_dir.display()
            ))
        })?;
        let keys = SecretKeys::load(state_dir)?;
        options.url = Store::default_url(state_dir);
        Store::open_with(options, keys).await
    }

    /// Opens the store at `url` and brings its schema up to date.
    pub async fn open(url: &str, keys: SecretKeys) -> Result<Store> {
        Store::open_with(StoreOptions::new(url), keys).await
    }

    /// [`Store::open`] with pool settings.
    pub async fn open_with(options: StoreOptions, keys: SecretKeys) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(&options.url).ok_or_else(|| {
            StoreError::invalid("store URL must start with sqlite: or postgres: (postgresql:)")
        })?;
        let in_memory = backend == Backend::Sqlite
            && (options.url.contains(":memory:") || options.url.contains("mode=memory"));
        let pool_options = |max_connections: u32| {
            let mut pool = AnyPoolOptions::new()
                .max_connections(max_connections)
                .acquire_timeout(options.acquire_timeout);
            if backend == Backend::Sqlite {
                // Per connection, so on every one the pool opens.
                let pragma = options.sqlite_synchronous.pragma();
                pool = pool.after_connect(move |conn, _| {
                    Box::pin(async move {
                        conn.execute(pragma).await?;
                        Ok(())
                    })
                });
            }
            pool
        };
        let mut pool = pool_options(if in_memory {
            1
        } else {
            options.max_connections.max(1)
        });
        if in_memory {
            // The database lives as long as its one connection.
            pool = pool
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None);
        }
        let pool = pool
            .connect(&options.url)
            .await
            .map_err(StoreError::Database)?;
        if backend == Backend::Sqlite && !in_memory {
            // Readers never wait for the writer; persistent for the file.
            pool.execute("PRAGMA journal_mode = WAL").await?;
        }
        migrate::migrator(backend).run(&pool).await?;
        let appender = if backend == Backend::Sqlite && !in_memory {
            let path = sqlx::sqlite::SqliteConnectOptions::from_str(&options.url)
                .map_err(StoreError::Database)?
                .get_filename()
                .to_owned();
            Some(Arc::new(appender::Appender::open(
                &path,
                options.sqlite_synchronous,
            )?))
        } else {
            None
        };
        tracing::debug!(?backend, schema = migrate::latest_version(), "store opened");
        Ok(Store {
            pool,
            appender,
            backend,
            keys: Arc::new(keys),
        })
    }

    /// Which database this store is on.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Id of the key that seals new secrets.
    pub fn secret_key_id(&self) -> &str {
        self.keys.current_id()
    }

    /// Closes every pooled connection (waits for checked-out ones) and the
    /// appender's (after the appends queued before).
    pub async fn close(&self) {
        if let Some(appender) = &self.appender {
            appender.close().await;
        }
        self.pool.close().await
    }

    /// The underlying pool, for the crate's tests and tooling.
    #[doc(hidden)]
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn users(&self) -> users::Users<'_> {
        users::Users::new(self)
    }
    pub fn groups(&self) -> groups::Groups<'_> {
        groups::Groups::new(self)
    }
    pub fn tokens(&self) -> tokens::Tokens<'_> {
        tokens::Tokens::new(self)
    }
    pub fn resources(&self) -> resources::Resources<'_> {
        resources::Resources::new(self)
    }
    pub fn connections(&self) -> connections::Connections<'_> {
        connections::Connections::new(self)
    }
    pub fn plugins(&self) -> plugins::Plugins<'_> {
        plugins::Plugins::new(self)
    }
    pub fn bindings(&self) -> bindings::Bindings<'_> {
        bindings::Bindings::new(self)
    }
    pub fn sessions(&self) -> sessions::Sessions<'_> {
        sessions::Sessions::new(self)
    }
    pub fn reviews(&self) -> reviews::Reviews<'_> {
        reviews::Reviews::new(self)
    }
    pub fn audit(&self) -> audit::Audit<'_> {
        audit::Audit::new(self)
    }

    /// Begins a write transaction (`BEGIN IMMEDIATE` on SQLite).
    pub(crate) async fn begin(&self) -> Result<db::Tx> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }
}
