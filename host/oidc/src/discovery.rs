//! OpenID Provider discovery (`/.well-known/openid-configuration`).
//!
//! The document is fetched once, when the client or verifier is built. Its
//! `issuer` must equal the configured issuer exactly (OIDC Discovery §4.3):
//! otherwise a document served elsewhere could name any keys. Every
//! endpoint it lists must pass the same https-or-loopback rule as the
//! issuer. A provider that lists PKCE methods without `S256` is refused.

use crate::error::OidcError;
use crate::http::{HttpClient, check_url};
use serde::Deserialize;
use url::Url;

/// The parts of the provider's metadata Gatehouse uses.
#[derive(Debug, Clone, Deserialize)]
pub struct ProviderMetadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
    #[serde(default)]
    pub userinfo_endpoint: Option<String>,
    #[serde(default)]
    pub end_session_endpoint: Option<String>,
    #[serde(default)]
    pub code_challenge_methods_supported: Option<Vec<String>>,
    #[serde(default)]
    pub token_endpoint_auth_methods_supported: Option<Vec<String>>,
    #[serde(default)]
    pub id_token_signing_alg_values_supported: Option<Vec<String>>,
    /// RFC 9207: the provider adds `iss` to authorization responses.
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
}

/// Checked endpoint URLs.
#[derive(Debug, Clone)]
pub(crate) struct Endpoints {
    pub(crate) authorization: Url,
    pub(crate) token: Url,
    pub(crate) jwks: Url,
}

/// Where the discovery document of `issuer` is.
pub(crate) fn discovery_url(issuer: &str) -> Result<Url, OidcError> {
    let url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    check_url(&url).map_err(|e| OidcError::Config(format!("oidc.issuer: {e}")))
}

/// Fetch and check the provider's metadata.
pub(crate) async fn discover(
    http: &HttpClient,
    issuer: &str,
) -> Result<(ProviderMetadata, Endpoints), OidcError> {
    let url = discovery_url(issuer)?;
    let metadata: ProviderMetadata = http.get_json(&url).await?;
    let endpoints = check(issuer, &metadata)?;
    tracing::debug!(issuer, jwks_uri = %metadata.jwks_uri, "OIDC provider discovered");
    Ok((metadata, endpoints))
}

fn check(issuer: &str, metadata: &ProviderMetadata) -> Result<Endpoints, OidcError> {
    if metadata.issuer != issuer {
        return Err(OidcError::IssuerMismatch {
            expected: issuer.to_string(),
            found: metadata.issuer.clone(),
        });
    }
    let endpoint = |name: &str, url: &str| {
        check_url(url).map_err(|e| OidcError::Discovery(format!("{name}: {e}")))
    };
    if let Some(methods) = &metadata.code_challenge_methods_supported
        && !methods.iter().any(|m| m == "S256")
    {
        return Err(OidcError::Discovery(
            "the provider does not support PKCE S256 (code_challenge_methods_supported)".into(),
        ));
    }
    Ok(Endpoints {
        authorization: endpoint("authorization_endpoint", &metadata.authorization_endpoint)?,
        token: endpoint("token_endpoint", &metadata.token_endpoint)?,
        jwks: endpoint("jwks_uri", &metadata.jwks_uri)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata(issuer: &str) -> ProviderMetadata {
        serde_json::from_value(serde_json::json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}/auth"),
            "token_endpoint": format!("{issuer}/token"),
            "jwks_uri": format!("{issuer}/jwks"),
            "code_challenge_methods_supported": ["S256"],
            "unknown_fields": "are ignored",
        }))
        .unwrap()
    }

    #[test]
    fn discovery_url_handles_trailing_slash() {
        assert_eq!(
            discovery_url("https://a.example.com/").unwrap().as_str(),
            "https://a.example.com/.well-known/openid-configuration"
        );
        assert_eq!(
            discovery_url("https://a.example.com/realms/x")
                .unwrap()
                .as_str(),
            "https://a.example.com/realms/x/.well-known/openid-configuration"
        );
    }

    #[test]
    fn issuer_must_match_exactly() {
        let m = metadata("https://a.example.com");
        assert!(check("https://a.example.com", &m).is_ok());
        assert!(matches!(
            check("https://a.example.com/", &m),
            Err(OidcError::IssuerMismatch { .. })
        ));
        assert!(matches!(
            check("https://b.example.com", &m),
            Err(OidcError::IssuerMismatch { .. })
        ));
    }

    #[test]
    fn endpoints_must_be_https_and_pkce_s256() {
        let mut m = metadata("https://a.example.com");
        m.jwks_uri = "http://evil.example.com/jwks".into();
        assert!(
            matches!(check("https://a.example.com", &m), Err(OidcError::Discovery(e)) if e.contains("jwks_uri"))
        );
        let mut m = metadata("https://a.example.com");
        m.code_challenge_methods_supported = Some(vec!["plain".into()]);
        assert!(
            matches!(check("https://a.example.com", &m), Err(OidcError::Discovery(e)) if e.contains("S256"))
        );
        m.code_challenge_methods_supported = None;
        assert!(check("https://a.example.com", &m).is_ok());
    }
}
