//! The `[oidc]` table of `gatehouse.toml`.
//!
//! Everything has a safe default except `issuer` and `client_id`.
//! [`OidcConfig::validate`] (called by [`crate::OidcClient::discover`] and
//! [`crate::Verifier::discover`]) refuses what cannot work: a non-https
//! issuer off loopback, scopes without `openid`, an empty audience, a
//! zero-length cache, an empty group-claim path. Unknown keys are errors.

use crate::role::RoleMapping;
use crate::secret::SecretRef;
use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// A JWS signature algorithm the verifier can accept. Only asymmetric ones
/// exist here: there is no way to configure `none` or `HS256`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, serde::Serialize)]
pub enum Algorithm {
    RS256,
    RS384,
    RS512,
    PS256,
    PS384,
    PS512,
    ES256,
    ES384,
    /// Ed25519 (`alg: EdDSA`, or the fully specified `Ed25519` of RFC 9864).
    EdDSA,
}

impl Algorithm {
    /// Every algorithm the crate supports (the default allow-list).
    pub const ALL: [Algorithm; 9] = [
        Algorithm::RS256,
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::PS256,
        Algorithm::PS384,
        Algorithm::PS512,
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::EdDSA,
    ];

    /// The algorithm a JOSE `alg` names, if it is one we support.
    pub fn from_jose(alg: &str) -> Option<Self> {
        Some(match alg {
            "RS256" => Algorithm::RS256,
            "RS384" => Algorithm::RS384,
            "RS512" => Algorithm::RS512,
            "PS256" => Algorithm::PS256,
            "PS384" => Algorithm::PS384,
            "PS512" => Algorithm::PS512,
            "ES256" => Algorithm::ES256,
            "ES384" => Algorithm::ES384,
            "EdDSA" | "Ed25519" => Algorithm::EdDSA,
            _ => return None,
        })
    }

    /// The JOSE name.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::RS256 => "RS256",
            Algorithm::RS384 => "RS384",
            Algorithm::RS512 => "RS512",
            Algorithm::PS256 => "PS256",
            Algorithm::PS384 => "PS384",
            Algorithm::PS512 => "PS512",
            Algorithm::ES256 => "ES256",
            Algorithm::ES384 => "ES384",
            Algorithm::EdDSA => "EdDSA",
        }
    }
}

/// How the client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuthMethod {
    /// HTTP Basic with the client id and secret (the OAuth default).
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the form body.
    ClientSecretPost,
    /// A public client (the CLI): `client_id` only; PKCE protects the code.
    None,
}

/// OpenID Connect settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcConfig {
    /// The provider's issuer URL, exactly as its discovery document states
    /// it (e.g. `https://example.okta.com/oauth2/default`).
    pub issuer: String,
    /// This client's id at the provider.
    pub client_id: String,
    /// The client secret, by reference; absent for public clients.
    #[serde(default)]
    pub client_secret: Option<SecretRef>,
    /// Token endpoint authentication. Default: `client_secret_basic` with a
    /// secret (or `client_secret_post` when the provider only offers that),
    /// `none` without one.
    #[serde(default)]
    pub token_endpoint_auth: Option<ClientAuthMethod>,
    /// Accepted `aud` values of bearer tokens (a string or a list). Default:
    /// `[client_id]`. ID tokens are always checked against `client_id`.
    #[serde(default, deserialize_with = "one_or_many")]
    pub audience: Vec<String>,
    /// Scopes asked for at login; must contain `openid`.
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    /// The claim holding the groups: a top-level name, or a dotted path into
    /// nested objects (`realm_access.roles`). A top-level claim whose name
    /// contains dots (`https://example.com/groups`) is found as is first.
    #[serde(default = "default_groups_claim")]
    pub groups_claim: String,
    /// The claim holding the email address.
    #[serde(default = "default_email_claim")]
    pub email_claim: String,
    /// Redirect URLs registered for the browser login (the API's
    /// `/auth/callback`). Loopback `http://127.0.0.1:*` URLs are always
    /// accepted for the CLI's listener.
    #[serde(default)]
    pub redirect_urls: Vec<String>,
    /// Clock skew allowed on `exp`, `nbf` and `iat`, in seconds.
    #[serde(default = "default_clock_skew_secs")]
    pub clock_skew_secs: u64,
    /// Accepted signature algorithms (default: all supported).
    #[serde(default = "default_algorithms")]
    pub algorithms: Vec<Algorithm>,
    /// How long fetched JWKS keys are trusted before a refetch, in seconds.
    #[serde(default = "default_jwks_ttl_secs")]
    pub jwks_cache_ttl_secs: u64,
    /// Least time between two JWKS fetches caused by unknown `kid`s (or
    /// failed fetches), in seconds: a flood of tokens with made-up key ids
    /// cannot turn into a flood of requests to the provider.
    #[serde(default = "default_jwks_min_refresh_secs")]
    pub jwks_min_refresh_interval_secs: u64,
    /// Timeout of each request to the provider, in seconds.
    #[serde(default = "default_http_timeout_secs")]
    pub http_timeout_secs: u64,
    /// PEM CA bundle for a provider behind a private CA (default: the
    /// bundled Web PKI roots).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// How long a started login may take before its callback is refused, in
    /// seconds.
    #[serde(default = "default_login_timeout_secs")]
    pub login_timeout_secs: u64,
    /// Extra authorization-request parameters some providers need, e.g.
    /// `{ audience = "https://gatehouse.example.com" }` (Auth0) or
    /// `{ access_type = "offline" }` (Google).
    #[serde(default)]
    pub extra_auth_params: BTreeMap<String, String>,
    /// Groups -> role.
    #[serde(default)]
    pub roles: RoleMapping,
}

fn default_scopes() -> Vec<String> {
    vec!["openid".into(), "email".into(), "profile".into()]
}
fn default_groups_claim() -> String {
    "groups".into()
}
fn default_email_claim() -> String {
    "email".into()
}
fn default_clock_skew_secs() -> u64 {
    60
}
fn default_algorithms() -> Vec<Algorithm> {
    Algorithm::ALL.to_vec()
}
fn default_jwks_ttl_secs() -> u64 {
    600
}
fn default_jwks_min_refresh_secs() -> u64 {
    30
}
fn default_http_timeout_secs() -> u64 {
    10
}
fn default_login_timeout_secs() -> u64 {
    600
}

fn one_or_many<'de, D: Deserializer<'de>>(de: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(de)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    })
}

/// Reserved authorization parameters `extra_auth_params` must not override.
pub(crate) const RESERVED_AUTH_PARAMS: &[&str] = &[
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
];

impl OidcConfig {
    /// A config with every default, for code that builds one itself (the
    /// CLI's public client, tests).
    pub fn new(issuer: impl Into<String>, client_id: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            client_id: client_id.into(),
            client_secret: None,
            token_endpoint_auth: None,
            audience: Vec::new(),
            scopes: default_scopes(),
            groups_claim: default_groups_claim(),
            email_claim: default_email_claim(),
            redirect_urls: Vec::new(),
            clock_skew_secs: default_clock_skew_secs(),
            algorithms: default_algorithms(),
            jwks_cache_ttl_secs: default_jwks_ttl_secs(),
            jwks_min_refresh_interval_secs: default_jwks_min_refresh_secs(),
            http_timeout_secs: default_http_timeout_secs(),
            ca_file: None,
            login_timeout_secs: default_login_timeout_secs(),
            extra_auth_params: BTreeMap::new(),
            roles: RoleMapping::default(),
        }
    }

    /// The audiences bearer tokens must carry one of.
    pub fn audiences(&self) -> Vec<String> {
        if self.audience.is_empty() {
            vec![self.client_id.clone()]
        } else {
            self.audience.clone()
        }
    }

    pub(crate) fn clock_skew(&self) -> Duration {
        Duration::from_secs(self.clock_skew_secs)
    }

    /// Check what can be checked without the network. The message names
    /// the offending key.
    pub fn validate(&self) -> Result<(), String> {
        crate::http::check_url(&self.issuer).map_err(|e| format!("oidc.issuer: {e}"))?;
        if self.client_id.is_empty() {
            return Err("oidc.client_id must not be empty".into());
        }
        if !self.scopes.iter().any(|s| s == "openid") {
            return Err("oidc.scopes must contain \"openid\"".into());
        }
        if self.scopes.iter().any(|s| s.is_empty() || s.contains(' ')) {
            return Err("oidc.scopes: each scope is one non-empty word".into());
        }
        if self.audience.iter().any(String::is_empty) {
            return Err("oidc.audience must not contain an empty string".into());
        }
        if self.groups_claim.is_empty() || self.groups_claim.split('.').any(str::is_empty) {
            return Err(format!(
                "oidc.groups_claim {:?} is not a claim name or dotted path",
                self.groups_claim
            ));
        }
        if self.email_claim.is_empty() {
            return Err("oidc.email_claim must not be empty".into());
        }
        if self.algorithms.is_empty() {
            return Err("oidc.algorithms must name at least one algorithm".into());
        }
        if self.jwks_cache_ttl_secs == 0 {
            return Err("oidc.jwks_cache_ttl_secs must be at least 1".into());
        }
        if self.clock_skew_secs > 600 {
            return Err("oidc.clock_skew_secs above 600 would accept long-expired tokens".into());
        }
        if self.http_timeout_secs == 0 || self.login_timeout_secs == 0 {
            return Err(
                "oidc.http_timeout_secs and oidc.login_timeout_secs must be at least 1".into(),
            );
        }
        for url in &self.redirect_urls {
            crate::http::check_url(url).map_err(|e| format!("oidc.redirect_urls: {e}"))?;
        }
        if let Some(key) = self
            .extra_auth_params
            .keys()
            .find(|k| RESERVED_AUTH_PARAMS.contains(&k.as_str()))
        {
            return Err(format!(
                "oidc.extra_auth_params must not set {key:?}: Gatehouse sets it"
            ));
        }
        if self
            .token_endpoint_auth
            .is_some_and(|m| m != ClientAuthMethod::None)
            && self.client_secret.is_none()
        {
            return Err("oidc.token_endpoint_auth needs oidc.client_secret".into());
        }
        self.roles.validate().map_err(|e| format!("oidc.{e}"))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::role::DefaultRole;

    #[test]
    fn minimal_config_gets_defaults() {
        let c: OidcConfig = toml::from_str(
            r#"
            issuer = "https://id.example.com"
            client_id = "gatehouse"
            "#,
        )
        .unwrap();
        c.validate().unwrap();
        assert_eq!(c.audiences(), vec!["gatehouse".to_string()]);
        assert_eq!(c.scopes, vec!["openid", "email", "profile"]);
        assert_eq!(c.groups_claim, "groups");
        assert_eq!(c.clock_skew_secs, 60);
        assert_eq!(c.algorithms.len(), 9);
        assert_eq!(c.roles, RoleMapping::default());
    }

    #[test]
    fn full_config_parses() {
        let c: OidcConfig = toml::from_str(
            r#"
            issuer = "https://keycloak.example.com/realms/acme"
            client_id = "gatehouse"
            client_secret = { env = "GATEHOUSE_OIDC_SECRET" }
            token_endpoint_auth = "client_secret_post"
            audience = ["gatehouse", "gatehouse-cli"]
            scopes = ["openid", "email", "groups"]
            groups_claim = "realm_access.roles"
            email_claim = "upn"
            redirect_urls = ["https://gatehouse.example.com/auth/callback"]
            clock_skew_secs = 30
            algorithms = ["RS256", "ES256"]
            extra_auth_params = { prompt = "select_account" }

            [roles]
            admin_groups = ["gatehouse-admins"]
            approver_prefixes = ["approver-", "reviewer-"]
            default_role = "none"
            "#,
        )
        .unwrap();
        c.validate().unwrap();
        assert_eq!(c.audiences().len(), 2);
        assert_eq!(
            c.token_endpoint_auth,
            Some(ClientAuthMethod::ClientSecretPost)
        );
        assert_eq!(c.roles.default_role, DefaultRole::None);
        assert_eq!(c.algorithms, vec![Algorithm::RS256, Algorithm::ES256]);
    }

    #[test]
    fn symmetric_and_none_algorithms_cannot_be_configured() {
        for alg in ["HS256", "none"] {
            let text = format!(
                "issuer = \"https://id.example.com\"\nclient_id = \"x\"\nalgorithms = [\"{alg}\"]"
            );
            assert!(toml::from_str::<OidcConfig>(&text).is_err(), "{alg}");
        }
    }

    #[test]
    fn validation_names_the_problem() {
        let base = OidcConfig::new("https://id.example.com", "gatehouse");
        let bad = |f: &dyn Fn(&mut OidcConfig), needle: &str| {
            let mut c = base.clone();
            f(&mut c);
            let err = c.validate().unwrap_err();
            assert!(err.contains(needle), "{err} should mention {needle}");
        };
        bad(
            &|c| c.issuer = "http://id.example.com".into(),
            "oidc.issuer",
        );
        bad(&|c| c.scopes = vec!["email".into()], "openid");
        bad(&|c| c.groups_claim = "realm_access.".into(), "groups_claim");
        bad(&|c| c.algorithms.clear(), "algorithms");
        bad(&|c| c.clock_skew_secs = 3600, "clock_skew");
        bad(
            &|c| {
                c.extra_auth_params.insert("nonce".into(), "x".into());
            },
            "nonce",
        );
        bad(
            &|c| c.token_endpoint_auth = Some(ClientAuthMethod::ClientSecretBasic),
            "client_secret",
        );
        // Loopback http is fine (local providers, tests).
        let mut local = base.clone();
        local.issuer = "http://127.0.0.1:8080".into();
        local.validate().unwrap();
    }
}
