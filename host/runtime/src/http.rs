//! The plugins' outbound HTTP capability.
//!
//! A request leaves only if its URL falls under one of the binding's
//! allowlist prefixes: same scheme, same host, same port, and a path that
//! starts with the prefix's path at a segment boundary. Prefixes are parsed
//! when the binding is made, so a malformed one is refused then. Redirects
//! are not followed (a redirect could leave the allowlist). Every request has
//! a timeout no longer than what remains of the hook's deadline.
//!
//! `http://` and `https://` are supported. TLS is rustls (ring) verifying
//! the server against the bundled Mozilla roots (`webpki-roots`), or, when
//! the operator sets `RuntimeSettings::http_ca_file`, against that PEM
//! bundle instead (an internal CA); certificates are always verified.

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::time::Duration;

/// Largest response body handed back to a plugin.
pub const MAX_RESPONSE_BYTES: usize = 1 << 20;

/// One parsed allowlist entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedPrefix {
    scheme: String,
    host: String,
    port: u16,
    path: String,
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

fn split_url(url: &str) -> Result<(String, String, u16, String), String> {
    let uri: hyper::Uri = url.parse().map_err(|e| format!("not a URL: {e}"))?;
    let scheme = uri
        .scheme_str()
        .ok_or("URL has no scheme")?
        .to_ascii_lowercase();
    let port_default =
        default_port(&scheme).ok_or_else(|| format!("scheme {scheme:?} is not http or https"))?;
    let host = uri.host().ok_or("URL has no host")?.to_ascii_lowercase();
    if uri.authority().is_some_and(|a| a.as_str().contains('@')) {
        return Err("URLs with user info are not allowed".into());
    }
    let port = uri.port_u16().unwrap_or(port_default);
    let path = uri.path().to_string();
    Ok((scheme, host, port, path))
}

impl AllowedPrefix {
    pub fn parse(prefix: &str) -> Result<Self, String> {
        let (scheme, host, port, path) = split_url(prefix)?;
        Ok(Self {
            scheme,
            host,
            port,
            path,
        })
    }

    /// Whether `url` is under this prefix.
    pub fn allows(&self, url: &str) -> bool {
        let Ok((scheme, host, port, path)) = split_url(url) else {
            return false;
        };
        if scheme != self.scheme || host != self.host || port != self.port {
            return false;
        }
        if path
            .split('/')
            .any(|segment| segment == ".." || segment == ".")
        {
            return false;
        }
        let prefix = self.path.trim_end_matches('/');
        prefix.is_empty()
            || path == prefix
            || path
                .strip_prefix(prefix)
                .is_some_and(|rest| rest.starts_with('/'))
    }
}

/// Outbound request as the plugin asked for it.
pub struct OutboundRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

pub struct OutboundResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

type Connector = hyper_rustls::HttpsConnector<HttpConnector>;

/// Shared HTTP client of the runtime.
#[derive(Clone)]
pub struct HttpClient {
    client: Client<Connector, Full<Bytes>>,
}

impl Default for HttpClient {
    fn default() -> Self {
        Self::with_roots(None).expect("the bundled roots load")
    }
}

impl HttpClient {
    /// A client trusting `ca_file` (PEM) if given, else the bundled roots.
    pub fn with_roots(ca_file: Option<&std::path::Path>) -> Result<Self, String> {
        let mut roots = rustls::RootCertStore::empty();
        match ca_file {
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
            Some(path) => {
                use rustls::pki_types::CertificateDer;
                use rustls::pki_types::pem::PemObject;
                let certificates = CertificateDer::pem_file_iter(path)
                    .map_err(|e| format!("reading {}: {e}", path.display()))?;
                for certificate in certificates {
                    let certificate =
                        certificate.map_err(|e| format!("reading {}: {e}", path.display()))?;
                    roots
                        .add(certificate)
                        .map_err(|e| format!("{}: {e}", path.display()))?;
                }
            }
        }
        let tls = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
        let mut http = HttpConnector::new();
        http.set_connect_timeout(Some(Duration::from_secs(5)));
        http.enforce_http(false);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        Ok(Self {
            client: Client::builder(TokioExecutor::new()).build(connector),
        })
    }
}

impl HttpClient {
    /// Send `request` if `allowlist` permits it, within `timeout`.
    pub async fn send(
        &self,
        allowlist: &[AllowedPrefix],
        request: OutboundRequest,
        timeout: Duration,
    ) -> Result<OutboundResponse, SendError> {
        if !allowlist.iter().any(|prefix| prefix.allows(&request.url)) {
            return Err(SendError::NotAllowed(format!(
                "{} is not on this plugin's HTTP allowlist",
                request.url
            )));
        }
        let method = hyper::Method::from_bytes(request.method.as_bytes())
            .map_err(|_| SendError::Transport(format!("invalid method {:?}", request.method)))?;
        let mut builder = hyper::Request::builder().method(method).uri(&request.url);
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        let req = builder
            .body(Full::new(Bytes::from(request.body)))
            .map_err(|e| SendError::Transport(format!("invalid request: {e}")))?;
        let exchange = async {
            let response = self
                .client
                .request(req)
                .await
                .map_err(|e| SendError::Transport(e.to_string()))?;
            let status = response.status().as_u16();
            let headers = response
                .headers()
                .iter()
                .map(|(k, v)| {
                    (
                        k.to_string(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect();
            let body = Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
                .collect()
                .await
                .map_err(|e| SendError::Transport(format!("reading response: {e}")))?
                .to_bytes()
                .to_vec();
            Ok(OutboundResponse {
                status,
                headers,
                body,
            })
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .unwrap_or_else(|_| Err(SendError::Transport(format!("timed out after {timeout:?}"))))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    NotAllowed(String),
    Transport(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_operator_ca_file_must_be_readable_pem() {
        let missing = std::path::Path::new("/nonexistent/gatehouse-ca.pem");
        let err = HttpClient::with_roots(Some(missing)).err().unwrap();
        assert!(err.contains("/nonexistent/gatehouse-ca.pem"), "{err}");
        let dir = std::env::temp_dir().join(format!("gatehouse-ca-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let garbage = dir.join("ca.pem");
        std::fs::write(
            &garbage,
            "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let err = HttpClient::with_roots(Some(&garbage)).err().unwrap();
        assert!(err.contains("ca.pem"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(HttpClient::with_roots(None).is_ok());
    }

    #[test]
    fn prefixes_match_origin_exactly_and_path_by_segment() {
        let p = AllowedPrefix::parse("http://hooks.example.com/services/").unwrap();
        assert!(p.allows("http://hooks.example.com/services/T1/B2"));
        assert!(p.allows("http://HOOKS.example.com:80/services"));
        assert!(!p.allows("http://hooks.example.com/servicesX"));
        assert!(!p.allows("http://hooks.example.com.evil.org/services/x"));
        assert!(!p.allows("https://hooks.example.com/services/x"));
        assert!(!p.allows("http://hooks.example.com:8080/services/x"));
        assert!(!p.allows("http://hooks.example.com/services/../admin"));
        assert!(!p.allows("http://user@hooks.example.com/services/x"));
    }

    #[test]
    fn bad_prefixes_are_refused() {
        assert!(AllowedPrefix::parse("ftp://x/").is_err());
        assert!(AllowedPrefix::parse("not a url").is_err());
    }
}
