//! What the gateway needs to log in upstream: address, database, the stored
//! credentials and the TLS policy. The password is redacted from `Debug`.

use gatehouse_store::connections::Credentials;
use gatehouse_store::resources::TlsMode;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// How the gateway protects its connection to the upstream server; the names
/// and meanings follow libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UpstreamTls {
    /// Plain TCP; never asks for TLS. Credentials (a cleartext password in
    /// particular) cross the network unprotected.
    Disable,
    /// TLS when the server offers it (certificate **not** verified), plain TCP
    /// when it declines. Protects against passive eavesdropping only.
    Prefer,
    /// TLS or fail, certificate **not** verified: an active attacker between
    /// the gateway and the server can impersonate the server and read
    /// everything, including a cleartext or md5 password (SCRAM does not reveal
    /// the password, but the session itself is exposed). Use only on networks
    /// where that is acceptable; prefer [`UpstreamTls::VerifyFull`].
    Require,
    /// TLS or fail; the certificate chain must lead to a trusted root (the
    /// `ca_file` bundle, or the bundled public roots when there is none), but
    /// the host name is not checked.
    VerifyCa,
    /// TLS or fail; chain verified as for `VerifyCa` and the certificate must
    /// name the host of `address` (DNS name or IP address). The default.
    #[default]
    VerifyFull,
}

impl UpstreamTls {
    /// Whether the gateway sends an SSLRequest at all.
    pub fn requests_tls(self) -> bool {
        !matches!(self, UpstreamTls::Disable)
    }

    /// Whether a server that declines TLS is a failure.
    pub fn requires_tls(self) -> bool {
        matches!(
            self,
            UpstreamTls::Require | UpstreamTls::VerifyCa | UpstreamTls::VerifyFull
        )
    }

    /// The libpq `sslmode` spelling (`disable`, `prefer`, `require`,
    /// `verify-ca`, `verify-full`).
    pub fn as_str(self) -> &'static str {
        match self {
            UpstreamTls::Disable => "disable",
            UpstreamTls::Prefer => "prefer",
            UpstreamTls::Require => "require",
            UpstreamTls::VerifyCa => "verify-ca",
            UpstreamTls::VerifyFull => "verify-full",
        }
    }
}

impl std::str::FromStr for UpstreamTls {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "disable" => UpstreamTls::Disable,
            "prefer" => UpstreamTls::Prefer,
            "require" => UpstreamTls::Require,
            "verify-ca" => UpstreamTls::VerifyCa,
            "verify-full" => UpstreamTls::VerifyFull,
            other => {
                return Err(format!(
                    "unknown TLS mode `{other}` (expected disable, prefer, require, verify-ca or verify-full)"
                ));
            }
        })
    }
}

impl fmt::Display for UpstreamTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything needed to open one upstream session.
///
/// `Debug` prints `password: <redacted>`; nothing in this module ever formats
/// the password itself.
#[derive(Clone)]
pub struct UpstreamConfig {
    /// `host:port`, `[v6]:port`; the host is also the TLS server name.
    pub address: String,
    /// The database to open.
    pub database: String,
    /// The upstream role the gateway logs in as.
    pub user: String,
    /// The resolved secret; `None` when the server is expected not to ask.
    pub password: Option<String>,
    /// TLS policy.
    pub tls: UpstreamTls,
    /// PEM bundle of trusted roots for `VerifyCa`/`VerifyFull` (the bundled
    /// public roots when `None`). Ignored by the unverified modes.
    pub ca_file: Option<PathBuf>,
    /// Startup parameters passed on from the client (`application_name`,
    /// `client_encoding`, `DateStyle`, `options`, …). `user`, `database`,
    /// `replication` and protocol options (`_pq_.*`) are ignored: the gateway
    /// decides those.
    pub startup_params: Vec<(String, String)>,
    /// Bound on the whole login: TCP connect, TLS handshake, authentication
    /// and startup, up to ReadyForQuery (and on a whole cancel request).
    pub connect_timeout: Duration,
}

impl UpstreamConfig {
    /// A config with no startup parameters, `VerifyFull` TLS against the
    /// bundled public roots and a 10 s timeout.
    pub fn new(
        address: impl Into<String>,
        database: impl Into<String>,
        user: impl Into<String>,
        password: Option<String>,
    ) -> Self {
        UpstreamConfig {
            address: address.into(),
            database: database.into(),
            user: user.into(),
            password,
            tls: UpstreamTls::default(),
            ca_file: None,
            startup_params: Vec::new(),
            connect_timeout: Duration::from_secs(10),
        }
    }
}

impl UpstreamConfig {
    /// How to reach a stored connection's upstream with its resolved
    /// `credentials` (PostgreSQL's own defaults, `postgres`, for a missing
    /// database or user). The one place store credentials become a login.
    pub fn from_credentials(credentials: &Credentials) -> Self {
        let mut config = UpstreamConfig::new(
            credentials.address.clone(),
            credentials.database.as_deref().unwrap_or("postgres"),
            credentials.username.as_deref().unwrap_or("postgres"),
            credentials
                .password
                .as_ref()
                .map(|secret| secret.expose().to_string()),
        );
        config.tls = credentials.tls.into();
        config.ca_file = credentials.ca_file.as_ref().map(PathBuf::from);
        config
    }
}

impl From<TlsMode> for UpstreamTls {
    fn from(mode: TlsMode) -> Self {
        match mode {
            TlsMode::Disable => UpstreamTls::Disable,
            TlsMode::Prefer => UpstreamTls::Prefer,
            TlsMode::Require => UpstreamTls::Require,
            TlsMode::VerifyCa => UpstreamTls::VerifyCa,
            TlsMode::VerifyFull => UpstreamTls::VerifyFull,
        }
    }
}

impl From<UpstreamTls> for TlsMode {
    fn from(tls: UpstreamTls) -> Self {
        match tls {
            UpstreamTls::Disable => TlsMode::Disable,
            UpstreamTls::Prefer => TlsMode::Prefer,
            UpstreamTls::Require => TlsMode::Require,
            UpstreamTls::VerifyCa => TlsMode::VerifyCa,
            UpstreamTls::VerifyFull => TlsMode::VerifyFull,
        }
    }
}

impl fmt::Debug for UpstreamConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpstreamConfig")
            .field("address", &self.address)
            .field("database", &self.database)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| Redacted))
            .field("tls", &self.tls)
            .field("ca_file", &self.ca_file)
            .field("startup_params", &self.startup_params)
            .field("connect_timeout", &self.connect_timeout)
            .finish()
    }
}

struct Redacted;

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}
