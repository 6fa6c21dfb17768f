//! Authorization code flow with PKCE (RFC 6749 §4.1, RFC 7636 S256, OIDC
//! Core §3.1): [`OidcClient`].
//!
//! A login is two calls with the user's browser in between:
//!
//! 1. [`OidcClient::begin_login`] makes fresh `state`, `nonce` and PKCE
//!    verifier, and returns the provider URL to send the browser to plus a
//!    [`PendingLogin`] holding the secrets. The caller keeps it: the API in a
//!    [`PendingLogins`] store (in memory, single use, expiring after
//!    `login_timeout_secs`), the CLI on its stack.
//! 2. [`OidcClient::handle_callback`] (API) or [`OidcClient::complete_login`]
//!    (CLI, via [`crate::LoopbackListener`]) checks `state` (constant time),
//!    the RFC 9207 `iss` parameter when present or promised, the provider's
//!    `error`, exchanges the code with the verifier at the token endpoint,
//!    then verifies the ID token — signature, issuer, audience = client id,
//!    times and the login's nonce — and maps groups to a role.
//!
//! Why an in-memory store: the PKCE verifier and nonce never leave the
//! server, each `state` works once, and nothing needs a key to manage. A
//! restart forgets logins in progress (users click "log in" again); several
//! API replicas need sticky sessions or their own shared store built on
//! [`OidcClient::complete_login`].
//!
//! Login CSRF: the API must bind `state` to the browser — set it in an
//! `HttpOnly; Secure; SameSite=Lax` cookie at `/auth/login` and pass the
//! cookie to `handle_callback`, which refuses a callback whose `state` is
//! not the browser's.

use crate::config::{ClientAuthMethod, OidcConfig, RESERVED_AUTH_PARAMS};
use crate::discovery::{self, Endpoints, ProviderMetadata};
use crate::error::{LoginError, OidcError};
use crate::http::HttpClient;
use crate::identity::VerifiedIdentity;
use crate::random::{self, constant_time_eq};
use crate::secret::Secret;
use crate::verifier::Verifier;
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};
use url::{Host, Url};

/// The provider URL to send the browser to.
#[derive(Debug, Clone)]
pub struct AuthorizationRequest {
    /// The authorization endpoint with every parameter (no secrets: the
    /// PKCE challenge is a hash, state and nonce are public values).
    pub url: String,
    /// This login's `state`: put it in the browser-binding cookie.
    pub state: String,
}

/// Optional authorization-request parameters for one login.
#[derive(Debug, Clone, Default)]
pub struct AuthorizeOptions {
    /// `login_hint`: pre-fills (or, on some providers, selects) the account.
    pub login_hint: Option<String>,
    /// `prompt` (`login`, `consent`, `select_account`, `none`).
    pub prompt: Option<String>,
    /// Anything else the provider needs for this login. Parameters the flow
    /// sets itself (`state`, `nonce`, `code_challenge`, …) are refused.
    pub extra_params: Vec<(String, String)>,
}

/// A started login: the secrets its callback needs. Single use.
pub struct PendingLogin {
    state: String,
    nonce: String,
    code_verifier: String,
    redirect_uri: String,
    expires_at: Instant,
}

impl PendingLogin {
    /// The login's `state`, the key of [`PendingLogins`].
    pub fn state(&self) -> &str {
        &self.state
    }

    /// The redirect URI the login was started with.
    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    /// Whether the login took longer than `login_timeout_secs`.
    pub fn is_expired(&self) -> bool {
        Instant::now() >= self.expires_at
    }
}

impl std::fmt::Debug for PendingLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingLogin")
            .field("redirect_uri", &self.redirect_uri)
            .finish_non_exhaustive()
    }
}

/// The query of the redirect back from the provider.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct CallbackParams {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
    /// RFC 9207 issuer identification.
    pub iss: Option<String>,
}

impl CallbackParams {
    /// Parse a query string (without the leading `?`). Unknown parameters
    /// are ignored; a repeated one keeps its first value.
    pub fn from_query(query: &str) -> Self {
        let mut params = CallbackParams::default();
        for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
            let slot = match key.as_ref() {
                "code" => &mut params.code,
                "state" => &mut params.state,
                "error" => &mut params.error,
                "error_description" => &mut params.error_description,
                "iss" => &mut params.iss,
                _ => continue,
            };
            if slot.is_none() {
                *slot = Some(value.into_owned());
            }
        }
        params
    }
}

impl std::fmt::Debug for CallbackParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallbackParams")
            .field("code", &self.code.as_ref().map(|_| "<redacted>"))
            .field("state", &self.state)
            .field("error", &self.error)
            .field("error_description", &self.error_description)
            .field("iss", &self.iss)
            .finish()
    }
}

/// The provider's tokens. `Debug` is redacted; never log the fields.
#[derive(Clone)]
pub struct TokenSet {
    /// For the provider's APIs, or for Gatehouse's API as a bearer when the
    /// provider issues JWT access tokens for Gatehouse's audience.
    pub access_token: String,
    /// The verified ID token (also usable as a bearer when `audience`
    /// includes the client id).
    pub id_token: String,
    pub refresh_token: Option<String>,
    pub token_type: String,
    pub expires_in: Option<Duration>,
    pub scope: Option<String>,
}

impl std::fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSet")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "<redacted>"),
            )
            .finish_non_exhaustive()
    }
}

/// A completed login.
#[derive(Debug, Clone)]
pub struct LoginOutcome {
    /// From the verified ID token.
    pub identity: VerifiedIdentity,
    pub tokens: TokenSet,
}

/// Logins in progress, keyed by `state`: in memory, single use, expiring.
pub struct PendingLogins {
    logins: Mutex<HashMap<String, PendingLogin>>,
    capacity: usize,
}

impl Default for PendingLogins {
    /// Room for 10 000 logins in progress.
    fn default() -> Self {
        Self::new(10_000)
    }
}

impl PendingLogins {
    /// A store that refuses new logins beyond `capacity` unexpired ones (a
    /// flood of `/auth/login` cannot exhaust memory).
    pub fn new(capacity: usize) -> Self {
        Self {
            logins: Mutex::new(HashMap::new()),
            capacity: capacity.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, PendingLogin>> {
        self.logins.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Keep `login` until its callback (or expiry).
    pub fn insert(&self, login: PendingLogin) -> Result<(), LoginError> {
        let mut logins = self.lock();
        if logins.len() >= self.capacity {
            logins.retain(|_, l| !l.is_expired());
            if logins.len() >= self.capacity {
                return Err(LoginError::TooManyPending);
            }
        }
        logins.insert(login.state.clone(), login);
        Ok(())
    }

    /// Remove and return the login of `state`: [`LoginError::UnknownState`]
    /// if there is none (never started, already used), [`LoginError::Expired`]
    /// if it timed out.
    pub fn take(&self, state: &str) -> Result<PendingLogin, LoginError> {
        let login = self.lock().remove(state).ok_or(LoginError::UnknownState)?;
        if login.is_expired() {
            return Err(LoginError::Expired);
        }
        Ok(login)
    }

    /// Logins held (including expired ones not yet pruned).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What a token endpoint answers.
#[derive(Deserialize)]
struct TokenResponse {
    access_token: Option<String>,
    id_token: Option<String>,
    refresh_token: Option<String>,
    #[serde(default)]
    token_type: String,
    expires_in: Option<u64>,
    scope: Option<String>,
}

#[derive(Deserialize)]
struct TokenError {
    error: String,
    error_description: Option<String>,
}

/// Provider-supplied text as safe to show: bounded, no control characters.
fn provider_text(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(200).collect()
}

/// Whether `url` is an RFC 8252 loopback redirect (`http://127.0.0.1:…`,
/// `http://[::1]:…`), which native apps (the CLI) may use with any port.
fn is_loopback_redirect(url: &Url) -> bool {
    url.scheme() == "http"
        && match url.host() {
            Some(Host::Ipv4(ip)) => ip.is_loopback(),
            Some(Host::Ipv6(ip)) => ip.is_loopback(),
            _ => false,
        }
}

/// A client of one OpenID Provider: login flows plus a [`Verifier`].
/// Cheap to clone; share one per provider.
#[derive(Clone)]
pub struct OidcClient {
    inner: Arc<ClientInner>,
}

struct ClientInner {
    config: OidcConfig,
    metadata: ProviderMetadata,
    endpoints: Endpoints,
    http: HttpClient,
    verifier: Verifier,
    secret: Option<Secret>,
    auth_method: ClientAuthMethod,
}

impl std::fmt::Debug for OidcClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcClient")
            .field("issuer", &self.inner.config.issuer)
            .field("client_id", &self.inner.config.client_id)
            .field("auth_method", &self.inner.auth_method)
            .finish_non_exhaustive()
    }
}

impl OidcClient {
    /// Validate `config`, resolve the client secret, discover the provider
    /// and load its keys. Fails on anything that would make logins fail.
    pub async fn discover(config: OidcConfig) -> Result<Self, OidcError> {
        config.validate().map_err(OidcError::Config)?;
        let secret = config
            .client_secret
            .as_ref()
            .map(|r| r.resolve())
            .transpose()
            .map_err(OidcError::Secret)?;
        let http = HttpClient::new(
            config.ca_file.as_deref(),
            Duration::from_secs(config.http_timeout_secs),
        )?;
        let (metadata, endpoints) = discovery::discover(&http, &config.issuer).await?;
        let auth_method = match (config.token_endpoint_auth, &secret) {
            (Some(method), _) => method,
            (None, None) => ClientAuthMethod::None,
            (None, Some(_)) => {
                let offered = metadata.token_endpoint_auth_methods_supported.as_deref();
                let post_only = offered.is_some_and(|m| {
                    m.iter().any(|x| x == "client_secret_post")
                        && !m.iter().any(|x| x == "client_secret_basic")
                });
                if post_only {
                    ClientAuthMethod::ClientSecretPost
                } else {
                    ClientAuthMethod::ClientSecretBasic
                }
            }
        };
        let verifier = Verifier::load(&config, http.clone(), endpoints.jwks.clone()).await?;
        Ok(Self {
            inner: Arc::new(ClientInner {
                config,
                metadata,
                endpoints,
                http,
                verifier,
                secret,
                auth_method,
            }),
        })
    }

    /// The bearer-token verifier for this provider.
    pub fn verifier(&self) -> &Verifier {
        &self.inner.verifier
    }

    /// The provider's discovered metadata (e.g. `end_session_endpoint`).
    pub fn metadata(&self) -> &ProviderMetadata {
        &self.inner.metadata
    }

    /// The configuration this client was built from.
    pub fn config(&self) -> &OidcConfig {
        &self.inner.config
    }

    /// How this client authenticates at the token endpoint.
    pub fn auth_method(&self) -> ClientAuthMethod {
        self.inner.auth_method
    }

    /// Step 1: the provider URL for a new login, and its [`PendingLogin`].
    /// `redirect_uri` must be one of `redirect_urls` or a loopback URL.
    pub fn begin_login(
        &self,
        redirect_uri: &str,
        options: &AuthorizeOptions,
    ) -> Result<(AuthorizationRequest, PendingLogin), LoginError> {
        let config = &self.inner.config;
        let parsed = Url::parse(redirect_uri)
            .map_err(|_| LoginError::RedirectNotAllowed(redirect_uri.to_string()))?;
        if !config.redirect_urls.iter().any(|r| r == redirect_uri) && !is_loopback_redirect(&parsed)
        {
            return Err(LoginError::RedirectNotAllowed(redirect_uri.to_string()));
        }
        if let Some((key, _)) = options
            .extra_params
            .iter()
            .find(|(k, _)| RESERVED_AUTH_PARAMS.contains(&k.as_str()))
        {
            return Err(LoginError::ReservedParameter(key.clone()));
        }

        let state = random::token();
        let nonce = random::token();
        let code_verifier = random::token();
        let challenge = random::pkce_challenge(&code_verifier);

        let mut url = self.inner.endpoints.authorization.clone();
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("response_type", "code")
                .append_pair("client_id", &config.client_id)
                .append_pair("redirect_uri", redirect_uri)
                .append_pair("scope", &config.scopes.join(" "))
                .append_pair("state", &state)
                .append_pair("nonce", &nonce)
                .append_pair("code_challenge", &challenge)
                .append_pair("code_challenge_method", "S256");
            for (key, value) in &config.extra_auth_params {
                query.append_pair(key, value);
            }
            if let Some(hint) = &options.login_hint {
                query.append_pair("login_hint", hint);
            }
            if let Some(prompt) = &options.prompt {
                query.append_pair("prompt", prompt);
            }
            for (key, value) in &options.extra_params {
                query.append_pair(key, value);
            }
        }
        let pending = PendingLogin {
            state: state.clone(),
            nonce,
            code_verifier,
            redirect_uri: redirect_uri.to_string(),
            expires_at: Instant::now() + Duration::from_secs(config.login_timeout_secs),
        };
        Ok((
            AuthorizationRequest {
                url: url.into(),
                state,
            },
            pending,
        ))
    }

    /// Step 2 for the API's `/auth/callback`: find the pending login of the
    /// callback's `state` in `logins` (using it up) and complete it.
    /// `browser_state` is the state the browser carries (its cookie); a
    /// callback whose `state` differs is refused before the store is
    /// touched.
    pub async fn handle_callback(
        &self,
        logins: &PendingLogins,
        callback: &CallbackParams,
        browser_state: &str,
    ) -> Result<LoginOutcome, LoginError> {
        let state = callback.state.as_deref().ok_or(LoginError::UnknownState)?;
        if !constant_time_eq(state.as_bytes(), browser_state.as_bytes()) {
            return Err(LoginError::StateMismatch);
        }
        let pending = logins.take(state)?;
        self.complete_login(pending, callback).await
    }

    /// Step 2 with the pending login in hand: check the callback, exchange
    /// the code, verify the ID token.
    pub async fn complete_login(
        &self,
        pending: PendingLogin,
        callback: &CallbackParams,
    ) -> Result<LoginOutcome, LoginError> {
        let state_ok = callback
            .state
            .as_deref()
            .is_some_and(|s| constant_time_eq(s.as_bytes(), pending.state.as_bytes()));
        if !state_ok {
            return Err(LoginError::StateMismatch);
        }
        match callback.iss.as_deref() {
            Some(iss) if iss != self.inner.config.issuer => return Err(LoginError::IssuerMismatch),
            None if self
                .inner
                .metadata
                .authorization_response_iss_parameter_supported =>
            {
                return Err(LoginError::IssuerMismatch);
            }
            _ => {}
        }
        if let Some(error) = &callback.error {
            return Err(LoginError::Provider {
                error: provider_text(error),
                description: callback.error_description.as_deref().map(provider_text),
            });
        }
        if pending.is_expired() {
            return Err(LoginError::Expired);
        }
        let code = callback.code.as_deref().ok_or(LoginError::MissingCode)?;
        let tokens = self.exchange_code(&pending, code).await?;
        let identity = self
            .inner
            .verifier
            .verify_id_token(&tokens.id_token, &pending.nonce, SystemTime::now())
            .await?;
        tracing::info!(subject = %identity.subject, role = %identity.role, "OIDC login");
        Ok(LoginOutcome { identity, tokens })
    }

    /// The token request (RFC 6749 §4.1.3 + RFC 7636 §4.5).
    async fn exchange_code(
        &self,
        pending: &PendingLogin,
        code: &str,
    ) -> Result<TokenSet, LoginError> {
        let client_id = self.inner.config.client_id.as_str();
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", pending.redirect_uri.as_str()),
            ("code_verifier", pending.code_verifier.as_str()),
        ];
        let secret = self.inner.secret.as_ref().map(Secret::expose);
        let mut basic = None;
        match (self.inner.auth_method, secret) {
            (ClientAuthMethod::ClientSecretBasic, Some(secret)) => {
                basic = Some((client_id, secret))
            }
            (ClientAuthMethod::ClientSecretPost, Some(secret)) => {
                form.push(("client_id", client_id));
                form.push(("client_secret", secret));
            }
            _ => form.push(("client_id", client_id)),
        }
        let (status, body) = self
            .inner
            .http
            .post_form(&self.inner.endpoints.token, &form, basic)
            .await?;
        if !status.is_success() {
            let (error, description) = match serde_json::from_slice::<TokenError>(&body) {
                Ok(e) => (
                    provider_text(&e.error),
                    e.error_description.as_deref().map(provider_text),
                ),
                Err(_) => ("invalid_response".to_string(), None),
            };
            return Err(LoginError::TokenEndpoint {
                status: status.as_u16(),
                error,
                description,
            });
        }
        let response: TokenResponse =
            serde_json::from_slice(&body).map_err(|_| LoginError::TokenEndpoint {
                status: status.as_u16(),
                error: "invalid_response".into(),
                description: Some("the token response is not the expected JSON".into()),
            })?;
        Ok(TokenSet {
            access_token: response
                .access_token
                .ok_or(LoginError::MissingToken("access_token"))?,
            id_token: response
                .id_token
                .ok_or(LoginError::MissingToken("id_token"))?,
            refresh_token: response.refresh_token,
            token_type: response.token_type,
            expires_in: response.expires_in.map(Duration::from_secs),
            scope: response.scope,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(state: &str, ttl: Duration) -> PendingLogin {
        PendingLogin {
            state: state.into(),
            nonce: "n".into(),
            code_verifier: "v".into(),
            redirect_uri: "http://127.0.0.1:1/callback".into(),
            expires_at: Instant::now() + ttl,
        }
    }

    #[test]
    fn pending_logins_are_single_use_and_expire() {
        let logins = PendingLogins::new(10);
        logins
            .insert(pending("a", Duration::from_secs(60)))
            .unwrap();
        logins.insert(pending("b", Duration::ZERO)).unwrap();
        assert_eq!(logins.take("a").unwrap().state(), "a");
        assert!(matches!(logins.take("a"), Err(LoginError::UnknownState)));
        assert!(matches!(logins.take("b"), Err(LoginError::Expired)));
        assert!(matches!(
            logins.take("never"),
            Err(LoginError::UnknownState)
        ));
        assert!(logins.is_empty());
    }

    #[test]
    fn pending_logins_are_bounded_but_expired_ones_make_room() {
        let logins = PendingLogins::new(2);
        logins.insert(pending("a", Duration::ZERO)).unwrap();
        logins
            .insert(pending("b", Duration::from_secs(60)))
            .unwrap();
        // Full, but "a" expired: pruned.
        logins
            .insert(pending("c", Duration::from_secs(60)))
            .unwrap();
        assert!(matches!(
            logins.insert(pending("d", Duration::from_secs(60))),
            Err(LoginError::TooManyPending)
        ));
        assert_eq!(logins.len(), 2);
    }

    #[test]
    fn callback_query_parsing() {
        let p = CallbackParams::from_query(
            "code=abc%2Fdef&state=s1&iss=http%3A%2F%2F127.0.0.1%3A1&x=y&state=s2",
        );
        assert_eq!(p.code.as_deref(), Some("abc/def"));
        assert_eq!(p.state.as_deref(), Some("s1"));
        assert_eq!(p.iss.as_deref(), Some("http://127.0.0.1:1"));
        assert!(!format!("{p:?}").contains("abc"));
        let e = CallbackParams::from_query("error=access_denied&error_description=no+way&state=s");
        assert_eq!(e.error.as_deref(), Some("access_denied"));
        assert_eq!(e.error_description.as_deref(), Some("no way"));
    }

    #[test]
    fn loopback_redirects() {
        let ok = |u: &str| is_loopback_redirect(&Url::parse(u).unwrap());
        assert!(ok("http://127.0.0.1:53123/callback"));
        assert!(ok("http://[::1]:80/cb"));
        assert!(!ok("https://127.0.0.1/cb"));
        assert!(!ok("http://localhost:1/cb"));
        assert!(!ok("http://example.com/cb"));
    }

    #[test]
    fn secrets_are_redacted_in_debug() {
        let p = pending("st", Duration::from_secs(1));
        let shown = format!("{p:?}");
        assert!(!shown.contains("st\"") && !shown.contains("nonce"));
        let t = TokenSet {
            access_token: "AT-secret".into(),
            id_token: "IDT-secret".into(),
            refresh_token: Some("RT-secret".into()),
            token_type: "Bearer".into(),
            expires_in: None,
            scope: None,
        };
        assert!(!format!("{t:?}").contains("secret"));
        assert_eq!(provider_text("bad\r\nthing"), "badthing");
    }
}
