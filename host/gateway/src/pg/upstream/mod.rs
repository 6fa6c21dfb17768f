//! # The upstream side of the PostgreSQL front door
//!
//! The gateway logs in to the real PostgreSQL server with the connection's
//! stored credentials; the user never sees them. [`connect`] opens TCP,
//! negotiates TLS per [`UpstreamTls`] (SSLRequest, then rustls on the `ring`
//! provider), sends the StartupMessage (user, database and the client's
//! parameters), authenticates and reads ParameterStatus and BackendKeyData up
//! to the first ReadyForQuery. [`cancel`] sends a CancelRequest on a fresh
//! connection.
//!
//! Wire encoding, md5 and SCRAM-SHA-256 come from `postgres-protocol`
//! (rust-postgres); none of it is hand-written here.
//!
//! ## Invariants
//! * **No secret in errors or logs.** The password is read only to build the
//!   password/SCRAM messages; no [`UpstreamError`] and no `tracing` event
//!   contains it or anything derived from it (md5 digest, SCRAM proof), and
//!   `UpstreamConfig`'s `Debug` redacts it. Server error messages are copied
//!   as sent (PostgreSQL never echoes a password). Buffers that held a
//!   password message are zeroed after sending (best effort).
//! * **The gateway chooses the login.** `user`, `database`, `replication` and
//!   `_pq_.*` in the client's startup parameters are dropped.
//! * **The server proves itself under SCRAM.** AuthenticationOk is accepted
//!   only after the SASLFinal server signature verified.
//! * **Bounded.** The whole login (and a cancel) is bounded by
//!   `connect_timeout`; login messages above 1 MiB are refused.
//! * **TLS strictness is the config's.** `VerifyFull` (the default) checks
//!   chain and host name, `VerifyCa` the chain only, `Require`/`Prefer` nothing
//!   (see [`UpstreamTls::Require`] for the risk).
//!
//! ## Failure modes (all [`UpstreamError`])
//! * `Config`: unusable address, CA file, NUL byte in a parameter; detected
//!   before any network traffic where possible.
//! * `Connect` / `Timeout` / `Io`: network.
//! * `TlsNotSupported`: TLS required, server said `N`. `Tls`: handshake or
//!   certificate verification failed (wrong CA, wrong host name).
//! * `PasswordRequired`: the server asked for a password, the config has none.
//! * `UnsupportedAuth`: GSSAPI, SSPI, Kerberos, SCM, SCRAM-SHA-256-PLUS only.
//! * `Scram`: malformed SCRAM exchange or the server's signature is wrong.
//! * `Server { code, message }`: any ErrorResponse (e.g. `28P01` wrong
//!   password, `28000` rejected by pg_hba.conf, `3D000` unknown database).
//! * `Protocol`: anything else the server got wrong.
//!
//! Not done: channel binding (SCRAM-SHA-256-PLUS), client certificates,
//! GSSAPI encryption, protocol 3.2 (longer cancel keys), caching the TLS
//! client config across logins.

mod auth;
mod config;
mod error;
mod frame;
mod stream;
mod tls;

use bytes::BytesMut;
use postgres_protocol::message::frontend;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub use config::{UpstreamConfig, UpstreamTls};
pub use error::UpstreamError;
pub use stream::UpstreamStream;

/// A logged-in upstream session, ready for queries.
#[derive(Debug)]
pub struct UpstreamConnection {
    /// The byte stream, positioned after the first ReadyForQuery (less
    /// whatever is in `read_buffer`).
    pub stream: UpstreamStream,
    /// ParameterStatus values received during startup, in arrival order, one
    /// entry per name (the last value wins).
    pub parameters: Vec<(String, String)>,
    /// BackendKeyData: the server process, for [`cancel`] (0 if not sent).
    pub process_id: i32,
    /// BackendKeyData: the cancel secret (0 if not sent). Not a credential,
    /// but it lets anyone cancel this session's queries: do not log it.
    pub secret_key: i32,
    /// Transaction status of the first ReadyForQuery (`b'I'`: idle).
    pub transaction_status: u8,
    /// Bytes read past ReadyForQuery (normally empty); process them before
    /// reading `stream` again.
    pub read_buffer: BytesMut,
}

impl UpstreamConnection {
    /// The value of a ParameterStatus received at startup.
    pub fn parameter(&self, name: &str) -> Option<&str> {
        self.parameters
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Logs in to the upstream server described by `config`.
pub async fn connect(config: &UpstreamConfig) -> Result<UpstreamConnection, UpstreamError> {
    let mut startup = BytesMut::new();
    auth::startup_message(config, &mut startup)?;
    let tls = tls::prepare(config)?;
    tracing::debug!(
        address = %config.address,
        database = %config.database,
        user = %config.user,
        tls = %config.tls,
        "logging in upstream"
    );
    let login = async {
        let tcp = open_tcp(&config.address).await?;
        let stream = tls::negotiate(tcp, config.tls, tls.as_ref()).await?;
        auth::login(stream, config).await
    };
    let connection = tokio::time::timeout(config.connect_timeout, login)
        .await
        .map_err(|_| UpstreamError::Timeout {
            address: config.address.clone(),
            timeout: config.connect_timeout,
        })??;
    tracing::debug!(
        address = %config.address,
        tls = connection.stream.is_tls(),
        "upstream login complete"
    );
    Ok(connection)
}

/// Asks the server to cancel the query running in session
/// (`process_id`, `secret_key`), over a new connection with the same address
/// and TLS policy as `config` (no login). Success means the request was
/// delivered; PostgreSQL never says whether anything was cancelled.
pub async fn cancel(
    config: &UpstreamConfig,
    process_id: i32,
    secret_key: i32,
) -> Result<(), UpstreamError> {
    let tls = tls::prepare(config)?;
    let request = async {
        let tcp = open_tcp(&config.address).await?;
        let mut stream = tls::negotiate(tcp, config.tls, tls.as_ref()).await?;
        let mut out = BytesMut::with_capacity(16);
        frontend::cancel_request(process_id, secret_key, &mut out);
        frame::send(&mut stream, &mut out).await?;
        // The server reads the request and closes without answering; wait for
        // that so the request is known to have been read. A TLS close without
        // close_notify shows up as an error, which is just as final.
        let mut scratch = [0u8; 64];
        while let Ok(n) = stream.read(&mut scratch).await {
            if n == 0 {
                break;
            }
        }
        let _ = stream.shutdown().await;
        Ok(())
    };
    tokio::time::timeout(config.connect_timeout, request)
        .await
        .map_err(|_| UpstreamError::Timeout {
            address: config.address.clone(),
            timeout: config.connect_timeout,
        })?
}

async fn open_tcp(address: &str) -> Result<TcpStream, UpstreamError> {
    let tcp = TcpStream::connect(address)
        .await
        .map_err(|source| UpstreamError::Connect {
            address: address.to_owned(),
            source,
        })?;
    // Protocol messages are small and latency-bound.
    let _ = tcp.set_nodelay(true);
    Ok(tcp)
}

/// The host part of `host:port` or `[v6]:port`.
fn host_of(address: &str) -> Result<&str, UpstreamError> {
    let bad = || UpstreamError::Config(format!("address `{address}` is not host:port"));
    if let Some(rest) = address.strip_prefix('[') {
        let (host, tail) = rest.split_once(']').ok_or_else(bad)?;
        if !tail.starts_with(':') || host.is_empty() {
            return Err(bad());
        }
        return Ok(host);
    }
    match address.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && !port.is_empty() => Ok(host),
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_of_forms() {
        assert_eq!(host_of("db.example:5432").unwrap(), "db.example");
        assert_eq!(host_of("127.0.0.1:5432").unwrap(), "127.0.0.1");
        assert_eq!(host_of("[::1]:5432").unwrap(), "::1");
        assert!(host_of("nohost").is_err());
        assert!(host_of(":5432").is_err());
        assert!(host_of("[::1]").is_err());
    }

    #[test]
    fn reserved_params_are_dropped() {
        let mut config = UpstreamConfig::new("h:1", "db", "gate", None);
        config.startup_params = vec![
            ("user".into(), "mallory".into()),
            ("DATABASE".into(), "other".into()),
            ("replication".into(), "database".into()),
            ("_pq_.x".into(), "1".into()),
            ("application_name".into(), "psql".into()),
        ];
        let mut buf = BytesMut::new();
        auth::startup_message(&config, &mut buf).unwrap();
        let text = String::from_utf8_lossy(&buf);
        assert!(text.contains("gate") && text.contains("application_name"));
        assert!(!text.contains("mallory") && !text.contains("other"));
        assert!(!text.contains("replication") && !text.contains("_pq_"));
    }

    #[test]
    fn debug_redacts_password() {
        let config = UpstreamConfig::new("h:1", "db", "gate", Some("hunter2".into()));
        let shown = format!("{config:?}");
        assert!(!shown.contains("hunter2"));
        assert!(shown.contains("<redacted>"));
    }
}
