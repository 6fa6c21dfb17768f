//! Why an upstream login or cancel failed. No variant carries the password or
//! anything derived from it (md5 digest, SCRAM proof); server messages are
//! copied as the server sent them (PostgreSQL never echoes a password).

use std::io;
use std::time::Duration;

/// A failed upstream login or cancel request.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UpstreamError {
    /// The configuration cannot be used (bad address, unreadable CA file, a
    /// NUL byte in a startup parameter, …).
    #[error("invalid upstream configuration: {0}")]
    Config(String),
    /// TCP connect failed (refused, unreachable, name not resolved).
    #[error("cannot connect to upstream {address}: {source}")]
    Connect {
        address: String,
        #[source]
        source: io::Error,
    },
    /// The whole login (or cancel) did not finish within `connect_timeout`.
    #[error("upstream {address} did not complete the login within {timeout:?}")]
    Timeout { address: String, timeout: Duration },
    /// The connection broke after it was established.
    #[error("upstream connection failed: {0}")]
    Io(#[source] io::Error),
    /// TLS is required but the server answered the SSLRequest with `N`.
    #[error("upstream server does not accept TLS, but the connection requires it (tls = {mode})")]
    TlsNotSupported { mode: &'static str },
    /// The TLS handshake failed: certificate not trusted, wrong host name,
    /// protocol mismatch.
    #[error("TLS handshake with upstream failed: {0}")]
    Tls(#[source] io::Error),
    /// The server asked for a password and the connection has none.
    #[error("upstream asked for a password but the connection has none configured")]
    PasswordRequired,
    /// The server asked for an authentication method the gateway cannot do
    /// (GSSAPI, SSPI, Kerberos, SCM credentials, SCRAM with channel binding
    /// only, an unknown SASL mechanism).
    #[error("upstream requested an unsupported authentication method: {0}")]
    UnsupportedAuth(String),
    /// SCRAM failed on the client side: a malformed server message, or the
    /// server failed to prove it knows the password (possible impersonation).
    #[error("upstream SCRAM-SHA-256 authentication failed: {0}")]
    Scram(String),
    /// The server sent an ErrorResponse (bad password, unknown database,
    /// pg_hba.conf rejection, too many connections, …).
    #[error("upstream server error {code}: {message}")]
    Server {
        /// SQLSTATE, e.g. `28P01` for a failed password.
        code: String,
        /// The server's primary message.
        message: String,
    },
    /// The server broke the protocol (unexpected or malformed message,
    /// connection closed mid-login).
    #[error("upstream protocol violation: {0}")]
    Protocol(String),
}

impl UpstreamError {
    /// The SQLSTATE of a server error.
    pub fn sqlstate(&self) -> Option<&str> {
        match self {
            UpstreamError::Server { code, .. } => Some(code),
            _ => None,
        }
    }
}
