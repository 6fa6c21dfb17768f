//! A small HTTP client for the Gatehouse REST API (`docs/api.md`).
//!
//! * JSON in, JSON out ([`serde_json::Value`]: the CLI prints what the API
//!   answers, so it never drifts from the server's types); a plugin upload
//!   sends the `.wasm` bytes as `application/wasm`.
//! * Any status outside 2xx becomes [`ClientError::Api`] with the API's
//!   stable `code` and its message (`{"error": {"code", "message"}}`), plus a
//!   hint for the usual causes (401: log in again; 403: the role).
//! * `https://` is verified (rustls, `ring`) against the bundled Web PKI
//!   roots or a PEM bundle (`--ca-file` / `GATEHOUSE_CA_FILE`). Plain
//!   `http://` is accepted to loopback hosts only, unless the caller
//!   explicitly allows it: the bearer token is a password.
//! * Every request is bounded by a timeout; response bodies by
//!   [`MAX_BODY`]. Path segments are percent-encoded by [`Client::url`].
//! * The token never appears in an error or in `Debug` output.

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use hyper::{Method, Request, StatusCode};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use serde_json::Value;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use url::{Host, Url};

/// Largest response body read.
pub const MAX_BODY: usize = 32 << 20;

/// Timeout of ordinary requests.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// Timeout of a plugin upload (the server compiles the component).
pub const UPLOAD_TIMEOUT: Duration = Duration::from_secs(600);

const AGENT: &str = concat!("gatehouse-cli/", env!("CARGO_PKG_VERSION"));

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The API answered with an error.
    #[error("{message} ({code}, HTTP {status}){hint}", hint = hint(*status, code))]
    Api {
        status: u16,
        code: String,
        message: String,
    },
    #[error("{0}")]
    Url(String),
    #[error("TLS setup: {0}")]
    Tls(String),
    #[error(
        "cannot reach the Gatehouse API at {url}: {message} (is `gatehouse serve` running? \
         set the address with --url or GATEHOUSE_URL)"
    )]
    Connect { url: String, message: String },
    #[error("{url} did not answer within {secs} s")]
    Timeout { url: String, secs: u64 },
    #[error("{url} answered HTTP {status} with a body that is not the API's JSON: {excerpt}")]
    Unexpected {
        url: String,
        status: u16,
        excerpt: String,
    },
}

impl ClientError {
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }
}

fn hint(status: u16, code: &str) -> &'static str {
    match (status, code) {
        (401, _) => {
            "; the token is missing, wrong, expired or revoked: run `gatehouse login` or set GATEHOUSE_TOKEN"
        }
        (403, _) => "; your role may not do this (`gatehouse whoami` lists what it may)",
        (404, "route_not_found") => "; is the URL a Gatehouse API of this version?",
        _ => "",
    }
}

/// Parse the API's base URL and check a token may be sent to it.
pub fn base_url(url: &str, allow_plain_http: bool) -> Result<Url, ClientError> {
    let mut parsed = Url::parse(url).map_err(|e| {
        ClientError::Url(format!(
            "{url:?} is not a URL ({e}); e.g. http://127.0.0.1:8080"
        ))
    })?;
    let loopback = match parsed.host() {
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        Some(Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => return Err(ClientError::Url(format!("{url:?} has no host"))),
    };
    match parsed.scheme() {
        "https" => {}
        "http" if loopback || allow_plain_http => {}
        "http" => {
            return Err(ClientError::Url(format!(
                "{url} is plain http to a non-loopback host: the token would cross the network \
                 in clear; use https (or --insecure-http if you must)"
            )));
        }
        other => {
            return Err(ClientError::Url(format!(
                "{url:?} has scheme {other:?}; use https:// (or http:// to localhost)"
            )));
        }
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(ClientError::Url(format!(
            "{url:?}: the API URL takes no query or fragment"
        )));
    }
    if !parsed.path().ends_with('/') {
        let path = format!("{}/", parsed.path());
        parsed.set_path(&path);
    }
    Ok(parsed)
}

/// The API client: a base URL and (usually) a bearer token.
#[derive(Clone)]
pub struct Client {
    http: HyperClient<HttpsConnector<HttpConnector>, Full<Bytes>>,
    base: Url,
    token: Option<String>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base.as_str())
            .field("token", &self.token.as_ref().map(|_| "***"))
            .finish()
    }
}

impl Client {
    pub fn new(
        base: Url,
        token: Option<String>,
        ca_file: Option<&Path>,
    ) -> Result<Self, ClientError> {
        let mut roots = rustls::RootCertStore::empty();
        match ca_file {
            Some(path) => {
                let certs = CertificateDer::pem_file_iter(path)
                    .map_err(|e| ClientError::Tls(format!("reading {}: {e}", path.display())))?;
                for cert in certs {
                    let cert = cert.map_err(|e| {
                        ClientError::Tls(format!("reading {}: {e}", path.display()))
                    })?;
                    roots
                        .add(cert)
                        .map_err(|e| ClientError::Tls(format!("{}: {e}", path.display())))?;
                }
                if roots.is_empty() {
                    return Err(ClientError::Tls(format!(
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
        .map_err(|e| ClientError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(Duration::from_secs(10)));
        http.set_nodelay(true);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let http = HyperClient::builder(TokioExecutor::new()).build(https);
        Ok(Client { http, base, token })
    }

    /// The API's base URL (ends with `/`).
    pub fn base(&self) -> &Url {
        &self.base
    }

    /// `base` + the percent-encoded `segments` + the query `pairs`
    /// (`None` values are left out).
    pub fn url(&self, segments: &[&str], query: &[(&str, Option<String>)]) -> Url {
        let mut url = self.base.clone();
        {
            let mut path = url.path_segments_mut().expect("http(s) URLs have paths");
            path.pop_if_empty();
            path.extend(segments);
        }
        let pairs: Vec<(&str, &str)> = query
            .iter()
            .filter_map(|(k, v)| v.as_deref().map(|v| (*k, v)))
            .collect();
        if !pairs.is_empty() {
            url.query_pairs_mut().extend_pairs(pairs);
        }
        url
    }

    pub async fn get(&self, segments: &[&str]) -> Result<Value, ClientError> {
        self.get_query(segments, &[]).await
    }

    pub async fn get_query(
        &self,
        segments: &[&str],
        query: &[(&str, Option<String>)],
    ) -> Result<Value, ClientError> {
        let url = self.url(segments, query);
        self.send(Method::GET, url, None, TIMEOUT).await
    }

    /// A paged list (`{"items", "next"}`): the page `query` asks for, or
    /// with `all` every page from there on, merged into one page whose
    /// `next` is `null`.
    pub async fn pages(
        &self,
        segments: &[&str],
        mut query: Vec<(&str, Option<String>)>,
        all: bool,
    ) -> Result<Value, ClientError> {
        let mut page = self.get_query(segments, &query).await?;
        if !all {
            return Ok(page);
        }
        let mut items: Vec<Value> = Vec::new();
        loop {
            let next = page["next"].as_str().map(str::to_string);
            if let Some(Value::Array(batch)) = page.get_mut("items") {
                items.append(batch);
            }
            let Some(next) = next else { break };
            query.retain(|(k, _)| *k != "next");
            query.push(("next", Some(next)));
            page = self.get_query(segments, &query).await?;
        }
        Ok(serde_json::json!({ "items": items, "next": null }))
    }

    pub async fn post(&self, segments: &[&str], body: &Value) -> Result<Value, ClientError> {
        self.json(Method::POST, segments, body).await
    }

    pub async fn patch(&self, segments: &[&str], body: &Value) -> Result<Value, ClientError> {
        self.json(Method::PATCH, segments, body).await
    }

    pub async fn put(&self, segments: &[&str], body: &Value) -> Result<Value, ClientError> {
        self.json(Method::PUT, segments, body).await
    }

    /// DELETE; `Value::Null` for the usual 204.
    pub async fn delete(&self, segments: &[&str]) -> Result<Value, ClientError> {
        let url = self.url(segments, &[]);
        self.send(Method::DELETE, url, None, TIMEOUT).await
    }

    /// POST without a body (`connections test`, `/auth/logout`).
    pub async fn post_empty(&self, segments: &[&str]) -> Result<Value, ClientError> {
        let url = self.url(segments, &[]);
        self.send(Method::POST, url, None, TIMEOUT).await
    }

    /// PUT without a body (adding a group member).
    pub async fn put_empty(&self, segments: &[&str]) -> Result<Value, ClientError> {
        let url = self.url(segments, &[]);
        self.send(Method::PUT, url, None, TIMEOUT).await
    }

    /// Upload a plugin component.
    pub async fn upload_wasm(
        &self,
        segments: &[&str],
        bytes: Vec<u8>,
    ) -> Result<Value, ClientError> {
        let url = self.url(segments, &[]);
        self.send(
            Method::POST,
            url,
            Some(("application/wasm", Bytes::from(bytes))),
            UPLOAD_TIMEOUT,
        )
        .await
    }

    async fn json(
        &self,
        method: Method,
        segments: &[&str],
        body: &Value,
    ) -> Result<Value, ClientError> {
        let url = self.url(segments, &[]);
        let bytes = Bytes::from(serde_json::to_vec(body).expect("a JSON value serializes"));
        self.send(method, url, Some(("application/json", bytes)), TIMEOUT)
            .await
    }

    async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<(&str, Bytes)>,
        timeout: Duration,
    ) -> Result<Value, ClientError> {
        let shown = shown(&url);
        let mut request = Request::builder()
            .method(method)
            .uri(url.as_str())
            .header(ACCEPT, "application/json")
            .header(USER_AGENT, AGENT);
        if let Some(token) = &self.token {
            request = request.header(AUTHORIZATION, format!("Bearer {token}"));
        }
        let body = match body {
            Some((content_type, bytes)) => {
                request = request.header(CONTENT_TYPE, content_type);
                bytes
            }
            None => Bytes::new(),
        };
        let request = request
            .body(Full::new(body))
            .map_err(|e| ClientError::Url(format!("{shown}: {e}")))?;
        let work = async {
            let response = self
                .http
                .request(request)
                .await
                .map_err(|e| ClientError::Connect {
                    url: shown.clone(),
                    message: error_chain(&e),
                })?;
            let status = response.status();
            let bytes = Limited::new(response.into_body(), MAX_BODY)
                .collect()
                .await
                .map_err(|e| ClientError::Connect {
                    url: shown.clone(),
                    message: error_chain(&*e),
                })?
                .to_bytes();
            Ok::<_, ClientError>((status, bytes))
        };
        let (status, bytes) =
            tokio::time::timeout(timeout, work)
                .await
                .map_err(|_| ClientError::Timeout {
                    url: shown.clone(),
                    secs: timeout.as_secs(),
                })??;
        interpret(&shown, status, &bytes)
    }
}

/// Turn a response into the JSON answer or the API's error.
fn interpret(url: &str, status: StatusCode, body: &[u8]) -> Result<Value, ClientError> {
    let parsed: Option<Value> = if body.is_empty() {
        Some(Value::Null)
    } else {
        serde_json::from_slice(body).ok()
    };
    if status.is_success() {
        return parsed.ok_or_else(|| ClientError::Unexpected {
            url: url.into(),
            status: status.as_u16(),
            excerpt: excerpt(body),
        });
    }
    let error = parsed.as_ref().and_then(|v| v.get("error"));
    match error {
        Some(error) => Err(ClientError::Api {
            status: status.as_u16(),
            code: error["code"].as_str().unwrap_or("unknown").to_string(),
            message: error["message"]
                .as_str()
                .unwrap_or("(no message)")
                .to_string(),
        }),
        None => Err(ClientError::Unexpected {
            url: url.into(),
            status: status.as_u16(),
            excerpt: excerpt(body),
        }),
    }
}

/// The start of a body that is not JSON, for an error message.
fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(200)]);
    let text = text.trim();
    if text.is_empty() {
        "(empty)".into()
    } else {
        text.replace(['\n', '\r'], " ")
    }
}

/// The URL as shown in errors: no query, no user info.
fn shown(url: &Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    shown.set_fragment(None);
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.to_string()
}

/// An error and its sources, `: `-joined (hyper's own message alone says
/// little, e.g. "client error (Connect)").
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        let text = inner.to_string();
        if !message.ends_with(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = inner.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls() {
        assert_eq!(
            base_url("http://127.0.0.1:8080", false).unwrap().as_str(),
            "http://127.0.0.1:8080/"
        );
        assert_eq!(
            base_url("https://gh.example.com/prefix", false)
                .unwrap()
                .as_str(),
            "https://gh.example.com/prefix/"
        );
        assert!(base_url("http://localhost:8080/", false).is_ok());
        assert!(base_url("http://[::1]:8080/", false).is_ok());
        assert!(base_url("http://gh.example.com", false).is_err());
        assert!(base_url("http://gh.example.com", true).is_ok());
        assert!(base_url("ftp://gh.example.com", true).is_err());
        assert!(base_url("gh.example.com", false).is_err());
        assert!(base_url("https://gh.example.com/?x=1", false).is_err());
    }

    #[test]
    fn urls_encode_segments_and_queries() {
        let client = Client::new(
            base_url("https://gh.example.com/p", false).unwrap(),
            None,
            None,
        )
        .unwrap();
        let url = client.url(
            &["api", "users", "a b/c@example.com"],
            &[("user", Some("x&y".into())), ("next", None)],
        );
        assert_eq!(
            url.as_str(),
            "https://gh.example.com/p/api/users/a%20b%2Fc@example.com?user=x%26y"
        );
    }

    #[test]
    fn errors_carry_the_api_code_and_message() {
        let body = br#"{"error":{"code":"forbidden","message":"admins only"}}"#;
        let err = interpret("u", StatusCode::FORBIDDEN, body).unwrap_err();
        assert!(matches!(&err, ClientError::Api { code, .. } if code == "forbidden"));
        let text = err.to_string();
        assert!(
            text.starts_with("admins only (forbidden, HTTP 403)"),
            "{text}"
        );
        let err = interpret("u", StatusCode::BAD_GATEWAY, b"<html>bad gateway</html>").unwrap_err();
        assert!(err.to_string().contains("<html>bad gateway"), "{err}");
        assert_eq!(
            interpret("u", StatusCode::NO_CONTENT, b"").unwrap(),
            Value::Null
        );
    }

    #[test]
    fn debug_hides_the_token() {
        let client = Client::new(
            base_url("http://127.0.0.1:1", false).unwrap(),
            Some("ghat_secret".into()),
            None,
        )
        .unwrap();
        assert!(!format!("{client:?}").contains("ghat_secret"));
    }
}
