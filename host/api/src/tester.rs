//! Testing a connection's upstream: the [`ConnectionTester`] trait the
//! gateway implements (a real login with the connection's credentials,
//! e.g. its PostgreSQL upstream login), and [`TcpConnectTester`], a
//! reachability-only default.
//!
//! The API resolves the connection's credentials (opening the sealed
//! password or reading its env/file reference) and hands them to the
//! tester by value; they are dropped (and the password's bytes wiped) when
//! the test ends. A tester's error text is shown to the admin and written
//! to the audit row, so it must never contain the password (name the
//! connection, the address, the server's error; not the credentials).

use gatehouse_store::connections::{Connection, Credentials};
use serde::Serialize;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// A boxed, sendable future (the trait is object safe).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a successful test found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TestReport {
    /// One line for people: `logged in as app_ro; PostgreSQL 16.4`.
    pub detail: String,
}

/// Tests that a connection's upstream accepts its credentials.
pub trait ConnectionTester: Send + Sync {
    /// Log in to `connection`'s upstream with `credentials` (and log out).
    /// `Err` says why not, without any secret. The API bounds the call with
    /// a timeout of its own.
    fn test<'a>(
        &'a self,
        connection: &'a Connection,
        credentials: Credentials,
    ) -> BoxFuture<'a, Result<TestReport, String>>;
}

/// Only checks that the upstream address accepts a TCP connection; the
/// credentials are not used.
#[derive(Debug, Clone)]
pub struct TcpConnectTester {
    pub timeout: Duration,
}

impl Default for TcpConnectTester {
    fn default() -> Self {
        TcpConnectTester {
            timeout: Duration::from_secs(5),
        }
    }
}

impl ConnectionTester for TcpConnectTester {
    fn test<'a>(
        &'a self,
        _connection: &'a Connection,
        credentials: Credentials,
    ) -> BoxFuture<'a, Result<TestReport, String>> {
        Box::pin(async move {
            let address = credentials.address.clone();
            drop(credentials);
            match tokio::time::timeout(self.timeout, tokio::net::TcpStream::connect(&address)).await
            {
                Ok(Ok(_)) => Ok(TestReport {
                    detail: format!("{address} accepts TCP connections (credentials not checked)"),
                }),
                Ok(Err(e)) => Err(format!("connecting to {address}: {e}")),
                Err(_) => Err(format!(
                    "connecting to {address}: no answer within {:?}",
                    self.timeout
                )),
            }
        })
    }
}
