//! Typed errors.
//!
//! * [`OidcError`]: setting up (bad config, discovery failed, issuer
//!   mismatch). An operator's problem; safe to show them.
//! * [`VerifyError`]: a token was refused. Map every variant to HTTP 401
//!   (except [`VerifyError::KeysUnavailable`], a 503: the provider could not
//!   be reached). The `Display` text is fine for logs; send clients only a
//!   generic "invalid token" so the reason does not help an attacker.
//! * [`LoginError`]: a login could not complete.
//! * [`HttpError`]: talking to the provider failed.
//!
//! No variant carries a token, code, verifier or secret. The strings some
//! variants carry come from the provider (an error code, a URL), never from
//! the presented token.

/// A request to the provider failed.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("{0}")]
    InvalidUrl(String),
    #[error("{url}: {message}")]
    Request { url: String, message: String },
    #[error("{url}: no answer within {secs}s")]
    Timeout { url: String, secs: u64 },
    #[error("{url}: HTTP status {status}")]
    Status { url: String, status: u16 },
    #[error("{url}: response larger than {limit} bytes")]
    TooLarge { url: String, limit: usize },
    #[error("{url}: invalid JSON: {message}")]
    Json { url: String, message: String },
}

/// Setting up OIDC failed.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("invalid OIDC configuration: {0}")]
    Config(String),
    #[error("OIDC client secret: {0}")]
    Secret(String),
    #[error("OIDC TLS setup: {0}")]
    Tls(String),
    #[error("OIDC discovery: {0}")]
    Http(#[from] HttpError),
    #[error(
        "OIDC discovery: the provider says its issuer is {found:?}, the configuration says {expected:?}"
    )]
    IssuerMismatch { expected: String, found: String },
    #[error("OIDC discovery: {0}")]
    Discovery(String),
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// Not a compact JWS, bad base64url or JSON, too long.
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    /// `alg: none`.
    #[error("unsigned token (alg none)")]
    Unsigned,
    /// A symmetric (`HS*`), unknown or not-allowed algorithm.
    #[error("signature algorithm {0:?} is not accepted")]
    DisallowedAlgorithm(String),
    /// The token names a `crit` header extension; none is understood.
    #[error("token has critical header parameters this verifier does not understand")]
    UnsupportedCritical,
    /// No `kid`, and not exactly one provider key fits the algorithm.
    #[error("token has no key id and no single provider key fits it")]
    MissingKeyId,
    /// The provider has no key with this `kid`, even after a JWKS refresh.
    #[error("no provider key has the token's key id")]
    UnknownKeyId,
    /// The key exists but is not for this algorithm (wrong type or `alg`).
    #[error("the provider key is not for algorithm {0}")]
    KeyAlgorithmMismatch(&'static str),
    /// The signature does not verify.
    #[error("bad signature")]
    BadSignature,
    #[error("token expired")]
    Expired,
    #[error("token not yet valid")]
    NotYetValid,
    #[error("token issuer is not the configured issuer")]
    WrongIssuer,
    #[error("token audience is not accepted")]
    WrongAudience,
    /// The ID token's nonce is missing or not the login's.
    #[error("ID token nonce does not match the login")]
    NonceMismatch,
    #[error("token lacks the {0} claim")]
    MissingClaim(&'static str),
    #[error("token claim {0} has the wrong type")]
    InvalidClaim(&'static str),
    /// Authenticated, but the groups map to no role (`default_role = "none"`).
    #[error("no Gatehouse role for this identity's groups")]
    NoRole,
    /// The provider's keys could not be fetched (fail closed).
    #[error("provider keys unavailable: {0}")]
    KeysUnavailable(String),
}

impl VerifyError {
    /// Whether the caller should answer 503 (provider down) rather than 401.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, VerifyError::KeysUnavailable(_))
    }
}

/// A login could not complete.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// The redirect URL is neither configured nor a loopback URL.
    #[error("redirect URL {0:?} is not configured for OIDC login")]
    RedirectNotAllowed(String),
    /// An [`crate::AuthorizeOptions`] parameter the flow sets itself.
    #[error("authorization parameter {0:?} is set by the login flow")]
    ReservedParameter(String),
    /// The provider sent the user back with an error (`access_denied`, …).
    #[error("the identity provider refused the login: {error}{}", description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Provider {
        error: String,
        description: Option<String>,
    },
    /// The callback's `state` names no pending login (unknown, used or expired).
    #[error("unknown or already used login state")]
    UnknownState,
    /// The callback's `state` is not this login's (or not the browser's).
    #[error("login state mismatch")]
    StateMismatch,
    #[error("the login took too long; start again")]
    Expired,
    #[error("too many logins in progress; try again later")]
    TooManyPending,
    /// The callback has neither `code` nor `error`.
    #[error("the callback has no authorization code")]
    MissingCode,
    /// The callback's `iss` (RFC 9207) names another issuer: a mix-up attack.
    #[error("the callback comes from another issuer")]
    IssuerMismatch,
    /// The token endpoint refused the code.
    #[error("token endpoint: HTTP {status}: {error}{}", description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    TokenEndpoint {
        status: u16,
        error: String,
        description: Option<String>,
    },
    /// The token response lacks an ID token or access token.
    #[error("token response has no {0}")]
    MissingToken(&'static str),
    /// The ID token was refused.
    #[error("ID token refused: {0}")]
    IdToken(#[from] VerifyError),
    #[error("token endpoint: {0}")]
    Http(#[from] HttpError),
    /// The CLI's loopback listener failed or timed out.
    #[error("login callback listener: {0}")]
    Listener(String),
}
