//! Bearer JWT verification: [`Verifier`].
//!
//! `verify` runs, in order: JWS shape and algorithm policy (`jws`), key
//! lookup by `kid` in the cached JWKS with one rate-limited refetch for an
//! unknown `kid` (`jwks`), the signature, then the claims (`claims`), then
//! groups -> role. The first failure is the answer; there is no fallback
//! and no partial identity.
//!
//! A `Verifier` is cheap to clone (an `Arc`), `Send + Sync`, and meant to
//! be shared by every request handler. Tokens are never logged: refusals
//! are logged at debug level with their reason only.

use crate::claims::{self, Claims, Expect, IdTokenExpect};
use crate::config::{Algorithm, OidcConfig};
use crate::discovery;
use crate::error::{OidcError, VerifyError};
use crate::http::HttpClient;
use crate::identity::VerifiedIdentity;
use crate::jwks::{JwksCache, KeySet, Lookup};
use crate::jws::{self, Parsed};
use crate::role::RoleMapping;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use url::Url;

/// Verifies bearer tokens (and, for [`crate::OidcClient`], ID tokens)
/// against one provider.
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<Inner>,
}

struct Inner {
    issuer: String,
    client_id: String,
    audiences: Vec<String>,
    skew: Duration,
    algorithms: Vec<Algorithm>,
    groups_claim: String,
    email_claim: String,
    roles: RoleMapping,
    jwks: JwksCache,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("issuer", &self.inner.issuer)
            .field("audiences", &self.inner.audiences)
            .finish_non_exhaustive()
    }
}

/// `Bearer xyz` or `xyz` -> `xyz`.
fn strip_bearer(value: &str) -> &str {
    let value = value.trim();
    match value.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim_start(),
        _ => value,
    }
}

impl Verifier {
    /// Validate `config`, discover the provider and load its keys. Use this
    /// when only bearer tokens are needed; [`crate::OidcClient::discover`]
    /// builds one too ([`crate::OidcClient::verifier`]).
    pub async fn discover(config: &OidcConfig) -> Result<Self, OidcError> {
        config.validate().map_err(OidcError::Config)?;
        let http = HttpClient::new(
            config.ca_file.as_deref(),
            Duration::from_secs(config.http_timeout_secs),
        )?;
        let (_, endpoints) = discovery::discover(&http, &config.issuer).await?;
        Self::load(config, http, endpoints.jwks).await
    }

    /// Build with a known `jwks_uri` and fetch the keys once.
    pub(crate) async fn load(
        config: &OidcConfig,
        http: HttpClient,
        jwks_uri: Url,
    ) -> Result<Self, OidcError> {
        let jwks = JwksCache::new(
            http,
            jwks_uri,
            Duration::from_secs(config.jwks_cache_ttl_secs),
            Duration::from_secs(config.jwks_min_refresh_interval_secs),
        );
        let keys = jwks
            .load()
            .await
            .map_err(|e| OidcError::Discovery(format!("JWKS: {e}")))?;
        if keys.keys.is_empty() {
            tracing::warn!(issuer = %config.issuer, "the OIDC provider's JWKS has no usable signing key");
        }
        Ok(Self {
            inner: Arc::new(Inner {
                issuer: config.issuer.clone(),
                client_id: config.client_id.clone(),
                audiences: config.audiences(),
                skew: config.clock_skew(),
                algorithms: config.algorithms.clone(),
                groups_claim: config.groups_claim.clone(),
                email_claim: config.email_claim.clone(),
                roles: config.roles.clone(),
                jwks,
            }),
        })
    }

    /// Verify a bearer token (an `Authorization` header value with or
    /// without its `Bearer ` scheme) now.
    pub async fn verify(&self, bearer: &str) -> Result<VerifiedIdentity, VerifyError> {
        self.verify_at(bearer, SystemTime::now()).await
    }

    /// [`Self::verify`] as if the clock read `now` (tests, replays).
    pub async fn verify_at(
        &self,
        bearer: &str,
        now: SystemTime,
    ) -> Result<VerifiedIdentity, VerifyError> {
        let result = self
            .verify_token(strip_bearer(bearer), &self.inner.audiences, None, now)
            .await;
        if let Err(e) = &result {
            tracing::debug!(reason = %e, "bearer token refused");
        }
        result
    }

    /// Verify an ID token from a login: audience is the client id, and the
    /// nonce must be the login's.
    pub(crate) async fn verify_id_token(
        &self,
        token: &str,
        nonce: &str,
        now: SystemTime,
    ) -> Result<VerifiedIdentity, VerifyError> {
        let client = std::slice::from_ref(&self.inner.client_id);
        let id_token = IdTokenExpect {
            client_id: &self.inner.client_id,
            nonce,
        };
        self.verify_token(token, client, Some(id_token), now).await
    }

    /// The configured issuer.
    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    async fn verify_token(
        &self,
        token: &str,
        audiences: &[String],
        id_token: Option<IdTokenExpect<'_>>,
        now: SystemTime,
    ) -> Result<VerifiedIdentity, VerifyError> {
        let parsed = jws::parse(token, &self.inner.algorithms)?;
        self.check_signature(&parsed).await?;
        let claims: Claims = serde_json::from_slice(&parsed.payload)
            .map_err(|_| VerifyError::Malformed("payload is not a JSON object"))?;
        let expires_at = claims::check(
            &claims,
            &Expect {
                issuer: &self.inner.issuer,
                audiences,
                skew: self.inner.skew,
                now,
                id_token,
            },
        )?;
        let groups = claims::groups(&claims, &self.inner.groups_claim)?;
        let role = self
            .inner
            .roles
            .role_for(&groups)
            .ok_or(VerifyError::NoRole)?;
        let text = |name: &str| {
            claims
                .get(name)
                .and_then(|v| v.as_str())
                .map(str::to_string)
        };
        Ok(VerifiedIdentity {
            issuer: self.inner.issuer.clone(),
            subject: text("sub").unwrap_or_default(),
            email: claims::email(&claims, &self.inner.email_claim),
            name: text("name"),
            groups,
            role,
            expires_at,
        })
    }

    /// The signature with the provider's key, refetching the JWKS once
    /// (rate limited) when the `kid` is unknown.
    async fn check_signature(&self, parsed: &Parsed<'_>) -> Result<(), VerifyError> {
        let keys = self.inner.jwks.current().await?;
        match check_with(&keys, parsed) {
            Err(VerifyError::UnknownKeyId) => {
                match self.inner.jwks.refresh_for_unknown_kid(&keys).await? {
                    Some(newer) => check_with(&newer, parsed),
                    None => Err(VerifyError::UnknownKeyId),
                }
            }
            other => other,
        }
    }
}

fn check_with(keys: &KeySet, parsed: &Parsed<'_>) -> Result<(), VerifyError> {
    let candidates = match keys.lookup(parsed.kid.as_deref(), parsed.alg) {
        Lookup::Found(candidates) => candidates,
        Lookup::Unknown => return Err(VerifyError::UnknownKeyId),
        Lookup::Ambiguous => return Err(VerifyError::MissingKeyId),
    };
    let mut fitting = candidates
        .into_iter()
        .filter(|k| k.allows(parsed.alg))
        .peekable();
    if fitting.peek().is_none() {
        return Err(VerifyError::KeyAlgorithmMismatch(parsed.alg.as_str()));
    }
    let message = parsed.signing_input.as_bytes();
    if fitting.any(|key| jws::verify_signature(key, parsed.alg, message, &parsed.signature).is_ok())
    {
        Ok(())
    } else {
        Err(VerifyError::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_scheme_is_optional_and_case_insensitive() {
        assert_eq!(strip_bearer("Bearer abc.def.ghi"), "abc.def.ghi");
        assert_eq!(strip_bearer("bearer   abc"), "abc");
        assert_eq!(strip_bearer("  abc.def.ghi \n"), "abc.def.ghi");
        assert_eq!(strip_bearer("Basic abc"), "Basic abc");
    }
}
