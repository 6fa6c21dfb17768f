//! The HTTP client that talks to the provider (discovery, JWKS, token
//! endpoint).
//!
//! * Every URL passes [`check_url`] first: `https://`, or plain `http://`
//!   only to a loopback host (`127.0.0.0/8`, `::1`, `localhost`) — a local
//!   provider in tests or development. Tokens never cross a network in
//!   clear.
//! * TLS is rustls with the `ring` provider, verified against the bundled
//!   Web PKI roots or the configured CA file.
//! * Each request is bounded: one timeout covers connect, headers and body;
//!   bodies over 1 MiB are refused. Redirects are not followed.
//! * Error messages carry the URL without its query, never a request body
//!   (which may hold a code, verifier or client secret).

use crate::error::{HttpError, OidcError};
use base64::Engine;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use hyper::{Request, StatusCode};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use url::{Host, Url};

/// Largest response body accepted from the provider.
const MAX_BODY: usize = 1 << 20;

const AGENT: &str = concat!("gatehouse-oidc/", env!("CARGO_PKG_VERSION"));

/// Parse `url` and check it may carry tokens: https, or http to loopback.
pub(crate) fn check_url(url: &str) -> Result<Url, HttpError> {
    let parsed =
        Url::parse(url).map_err(|e| HttpError::InvalidUrl(format!("{url:?} is not a URL: {e}")))?;
    let loopback = match parsed.host() {
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        Some(Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => return Err(HttpError::InvalidUrl(format!("{url:?} has no host"))),
    };
    match parsed.scheme() {
        "https" => Ok(parsed),
        "http" if loopback => Ok(parsed),
        "http" => Err(HttpError::InvalidUrl(format!(
            "{url:?} is plain http to a non-loopback host; use https"
        ))),
        other => Err(HttpError::InvalidUrl(format!(
            "{url:?} has scheme {other:?}; use https"
        ))),
    }
}

/// The URL as shown in errors: no query, no fragment, no user info.
pub(crate) fn shown(url: &Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    shown.set_fragment(None);
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.to_string()
}

/// A pooled HTTP/1.1 client with rustls (ring).
#[derive(Clone)]
pub(crate) struct HttpClient {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    timeout: Duration,
}

impl HttpClient {
    pub(crate) fn new(ca_file: Option<&Path>, timeout: Duration) -> Result<Self, OidcError> {
        let mut roots = rustls::RootCertStore::empty();
        match ca_file {
            Some(path) => {
                let certs = CertificateDer::pem_file_iter(path)
                    .map_err(|e| OidcError::Tls(format!("reading {}: {e}", path.display())))?;
                for cert in certs {
                    let cert = cert
                        .map_err(|e| OidcError::Tls(format!("reading {}: {e}", path.display())))?;
                    roots
                        .add(cert)
                        .map_err(|e| OidcError::Tls(format!("{}: {e}", path.display())))?;
                }
                if roots.is_empty() {
                    return Err(OidcError::Tls(format!(
                        "{} holds no certificate",
                        path.display()
                    )));
                }
            }
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        }
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| OidcError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(timeout));
        http.set_nodelay(true);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(https);
        Ok(Self { client, timeout })
    }

    /// Send and read the whole (bounded) body.
    async fn send(
        &self,
        url: &Url,
        request: Request<Full<Bytes>>,
    ) -> Result<(StatusCode, Bytes), HttpError> {
        let work = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| HttpError::Request {
                    url: shown(url),
                    message: error_chain(&e),
                })?;
            let status = response.status();
            let body = Limited::new(response.into_body(), MAX_BODY)
                .collect()
                .await
                .map_err(|e| {
                    if e.is::<http_body_util::LengthLimitError>() {
                        HttpError::TooLarge {
                            url: shown(url),
                            limit: MAX_BODY,
                        }
                    } else {
                        HttpError::Request {
                            url: shown(url),
                            message: error_chain(&*e),
                        }
                    }
                })?
                .to_bytes();
            Ok((status, body))
        };
        tokio::time::timeout(self.timeout, work)
            .await
            .map_err(|_| HttpError::Timeout {
                url: shown(url),
                secs: self.timeout.as_secs(),
            })?
    }

    /// GET a JSON document; anything but 200 is an error.
    pub(crate) async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        url: &Url,
    ) -> Result<T, HttpError> {
        let request = Request::get(url.as_str())
            .header(ACCEPT, "application/json")
            .header(USER_AGENT, AGENT)
            .body(Full::new(Bytes::new()))
            .map_err(|e| HttpError::InvalidUrl(format!("{}: {e}", shown(url))))?;
        let (status, body) = self.send(url, request).await?;
        if status != StatusCode::OK {
            return Err(HttpError::Status {
                url: shown(url),
                status: status.as_u16(),
            });
        }
        serde_json::from_slice(&body).map_err(|e| HttpError::Json {
            url: shown(url),
            message: e.to_string(),
        })
    }

    /// POST `application/x-www-form-urlencoded`, optionally with HTTP Basic
    /// client authentication (RFC 6749 §2.3.1: both parts form-encoded).
    /// Returns the status and body whatever the status.
    pub(crate) async fn post_form(
        &self,
        url: &Url,
        form: &[(&str, &str)],
        basic: Option<(&str, &str)>,
    ) -> Result<(StatusCode, Bytes), HttpError> {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let mut request = Request::post(url.as_str())
            .header(ACCEPT, "application/json")
            .header(USER_AGENT, AGENT)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some((user, password)) = basic {
            let encode =
                |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            let credentials = format!("{}:{}", encode(user), encode(password));
            let value = format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(credentials)
            );
            request = request.header(AUTHORIZATION, value);
        }
        let request = request
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| HttpError::InvalidUrl(format!("{}: {e}", shown(url))))?;
        self.send(url, request).await
    }
}

/// An error and its sources, `: `-joined (hyper's top-level messages alone
/// say little, e.g. "client error (Connect)").
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        message.push_str(": ");
        message.push_str(&inner.to_string());
        source = inner.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_loopback_http() {
        assert!(check_url("https://id.example.com/realms/x").is_ok());
        assert!(check_url("http://127.0.0.1:8080").is_ok());
        assert!(check_url("http://127.1.2.3:8080").is_ok());
        assert!(check_url("http://[::1]:8080/").is_ok());
        assert!(check_url("http://localhost:8080/").is_ok());
        assert!(check_url("http://id.example.com").is_err());
        assert!(check_url("http://10.0.0.1").is_err());
        assert!(check_url("http://localhost.example.com").is_err());
        assert!(check_url("ftp://id.example.com").is_err());
        assert!(check_url("not a url").is_err());
    }

    #[test]
    fn shown_urls_drop_query_and_credentials() {
        let url = Url::parse("https://user:pw@id.example.com/token?code=abc#frag").unwrap();
        assert_eq!(shown(&url), "https://id.example.com/token");
    }
}
