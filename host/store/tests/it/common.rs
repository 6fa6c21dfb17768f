//! Runs one test body against both backends: SQLite in a temporary
//! directory and PostgreSQL in a database of its own, created for the test
//! and dropped after it (even when the body panics).
//!
//! PostgreSQL is `GATEHOUSE_STORE_TEST_PG` or
//! `postgres://postgres@127.0.0.1:5432/postgres` (trust auth); the test
//! fails if it is unreachable: the store is tested against real servers.

use gatehouse_store::{Actor, Backend, Identity, Role, SecretKeys, Store};
use sqlx::{Connection, Executor};
use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};

pub fn pg_admin_url() -> String {
    std::env::var("GATEHOUSE_STORE_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A store for one test and what it takes to clean up after it.
pub struct TestStore {
    pub store: Store,
    pub url: String,
    pub dir: tempfile::TempDir,
    pg_database: Option<String>,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

pub async fn sqlite() -> TestStore {
    let dir = tempfile::tempdir().unwrap();
    let url = Store::default_url(dir.path());
    let store = Store::open(&url, SecretKeys::generate())
        .await
        .expect("opening SQLite store");
    TestStore {
        store,
        url,
        dir,
        pg_database: None,
    }
}

async fn admin() -> sqlx::PgConnection {
    sqlx::PgConnection::connect(&pg_admin_url()).await.expect(
        "PostgreSQL at GATEHOUSE_STORE_TEST_PG (default 127.0.0.1:5432, user postgres) is needed",
    )
}

pub async fn postgres() -> TestStore {
    let name = format!(
        "gh_store_test_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
    );
    let mut admin = admin().await;
    admin
        .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .await
        .expect("creating the test database");
    admin.close().await.ok();
    let base = pg_admin_url();
    let host_start = base.find("://").map_or(0, |i| i + 3);
    let url = match base[host_start..].find('/') {
        Some(slash) => format!("{}/{name}", &base[..host_start + slash]),
        None => format!("{base}/{name}"),
    };
    let store = Store::open(&url, SecretKeys::generate())
        .await
        .expect("opening PostgreSQL store");
    TestStore {
        store,
        url,
        dir: tempfile::tempdir().unwrap(),
        pg_database: Some(name),
    }
}

impl TestStore {
    pub async fn cleanup(self) {
        self.store.close().await;
        if let Some(name) = self.pg_database {
            let mut admin = admin().await;
            admin
                .execute(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .await
                .expect("dropping the test database");
        }
    }
}

/// Runs `body` on SQLite, then on PostgreSQL, cleaning up each.
pub async fn both<F, Fut>(body: F)
where
    F: Fn(TestContext) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let test = match backend {
            Backend::Sqlite => sqlite().await,
            Backend::Postgres => postgres().await,
        };
        let context = TestContext {
            store: test.store.clone(),
            backend,
            url: test.url.clone(),
            dir: test.dir.path().to_path_buf(),
        };
        let outcome = tokio::spawn(body(context)).await;
        test.cleanup().await;
        if let Err(error) = outcome {
            match error.try_into_panic() {
                Ok(panic) => {
                    eprintln!("failed on {backend:?}");
                    std::panic::resume_unwind(panic)
                }
                Err(error) => panic!("{backend:?}: {error}"),
            }
        }
    }
}

/// What a test body gets.
#[derive(Clone)]
pub struct TestContext {
    pub store: Store,
    pub backend: Backend,
    pub url: String,
    /// A scratch directory (for SQLite, also where the database file is).
    pub dir: std::path::PathBuf,
}

pub fn admin_actor() -> Actor {
    Actor::new(Identity {
        user_id: "1".into(),
        email: "root@example.com".into(),
        groups: vec!["admins".into()],
        role: Role::Admin,
    })
    .with_client_address("10.0.0.1")
}

pub fn identity(user_id: &str, email: &str, groups: &[&str], role: Role) -> Identity {
    Identity {
        user_id: user_id.into(),
        email: email.into(),
        groups: groups.iter().map(|g| g.to_string()).collect(),
        role,
    }
}
